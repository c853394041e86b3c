/* Learned traffic baseline of the monitor (after the CoAP flow-profiling approach of the seed
 * report's authors): packets and octets per fixed time window for each flow, a flow being
 * (endpoint, CoAP code, CoAP type, path). Learning keeps each flow's largest window; detection
 * compares the running window with that profile. Saved and loaded as JSON. Owns its flows. */
#ifndef NB_MONITOR_BASELINE_H
#define NB_MONITOR_BASELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct nb_mon_baseline nb_mon_baseline;

/* Per-flow figures. */
typedef struct {
  uint64_t windows;     /* windows in which the flow had traffic */
  uint64_t max_packets; /* largest window */
  uint64_t max_octets;
  uint64_t packets; /* running window (detection) or total (learning) */
  uint64_t octets;
} nb_mon_flow_stats;

/* What nb_mon_baseline_count found against a reference profile. */
typedef enum {
  NB_BASELINE_OK,
  NB_BASELINE_NEW_FLOW, /* first packet of a flow the reference never saw */
  NB_BASELINE_EXCEEDED  /* the running window just went past factor x the learned maximum */
} nb_baseline_verdict;

nb_mon_baseline *nb_mon_baseline_new(uint32_t window_s);
void nb_mon_baseline_free(nb_mon_baseline *b);
uint32_t nb_mon_baseline_window(const nb_mon_baseline *b);
size_t nb_mon_baseline_flows(const nb_mon_baseline *b);

/* Counts one message of `octets` bytes at ts_us into flow `key`. With a reference, returns
 * a verdict once per flow and window (NEW_FLOW only once per flow); *stats (may be NULL)
 * receives the running window and the reference figures' maxima. factor and slack: a window
 * exceeds when packets > factor * max_packets + slack (same for octets with slack * 64). */
nb_baseline_verdict nb_mon_baseline_count(nb_mon_baseline *b, const nb_mon_baseline *reference,
                                          int64_t ts_us, const char *key, size_t octets,
                                          uint32_t factor, uint32_t slack,
                                          nb_mon_flow_stats *stats);

/* Closes every running window (end of capture) so the last one counts in the profile. */
void nb_mon_baseline_flush(nb_mon_baseline *b);

nb_err nb_mon_baseline_save(const nb_mon_baseline *b, const char *path);
/* NB_ERR_IO when unreadable, NB_ERR_SYNTAX when not a profile. */
nb_err nb_mon_baseline_load(const char *path, nb_mon_baseline **out);

#endif
