/* The fleet simulator's output: the live progress (one line redrawn on a terminal, plain
 * periodic lines otherwise) and the final report, as text and as JSON: device counts, rates,
 * latency percentiles per request type, errors by kind, resident memory per device, and the
 * datagrams and bytes on the wire per LwM2M message type in both directions. Reads the fleet's
 * counters; owns only the previous progress sample. */
#ifndef NB_SIM_REPORT_H
#define NB_SIM_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "base/time.h"
#include "sim/fleet.h"
#include "sim/net.h"
#include "sim/rest.h"

/* What the report says about the run besides the fleet's counters. */
typedef struct {
  const char *scenario; /* "smart meter (...)" */
  const char *security; /* "nosec", "psk"... */
  const char *target;   /* the server or bootstrap URI */
  nb_time_ms started, now;
  uint64_t rss, hwm;       /* bytes: resident now and at most (VmRSS, VmHWM) */
  uint64_t rss_base;       /* resident before the first device was made */
  uint64_t rss_registered; /* resident when every device was registered (0: never) */
  double loss;
  uint64_t seed;
  bool have_net;
  nb_sim_net_stats net;
  bool have_api; /* the REST API was used (--api, or the simulator's own servers) */
  nb_sim_rest_stats api;
  bool thesis;       /* the thesis scenario: its tables beside ours (src/sim/thesis.h) */
  bool thesis_dtls;  /* the run used DTLS */
  unsigned thesis_k; /* notifications of the session */
} nb_sim_report_info;

/* VmRSS and VmHWM of this process in bytes (0 when /proc cannot tell). */
void nb_sim_rss(uint64_t *rss, uint64_t *hwm);

void nb_sim_report_text(FILE *out, const nb_sim_fleet *f, const nb_sim_report_info *info);
/* The same as a JSON document written to path (0644; NB_ERR_IO with errno kept). */
nb_err nb_sim_report_json(const char *path, const nb_sim_fleet *f, const nb_sim_report_info *info);

/* Progress between two samples. */
typedef struct {
  nb_time_ms at;
  uint64_t notifications;
  nb_sim_hist latency;
} nb_sim_progress;

void nb_sim_progress_init(nb_sim_progress *p, nb_time_ms now);
/* One progress line (no newline) about what changed since the last call; updates p. */
void nb_sim_progress_line(nb_sim_progress *p, const nb_sim_fleet *f, nb_time_ms started,
                          nb_time_ms now, char *buf, size_t cap);

#endif
