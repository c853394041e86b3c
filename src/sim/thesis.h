/* The seed thesis's packet-size experiment set beside ours: its Table 5.4 (bytes and packets
 * per LwM2M message of a bootstrap and a device-management session with k notifications, NoSec
 * and DTLS) and Tables 5.5/5.6 (the totals for k = 10 and 100; other k by its own formulas),
 * each row with what the fleet simulator measured at its socket for one device of the thesis
 * scenario (src/sim/wire.h: the bootstrap phase is the traffic with the bootstrap server, the
 * management phase the rest). Messages we send that the thesis did not list (Bootstrap-Discover,
 * -Finish, the first value in the Observe answer, close_notify...) get rows of their own with
 * no thesis figure. Text and JSON; no state. */
#ifndef NB_SIM_THESIS_H
#define NB_SIM_THESIS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "sim/wire.h"

/* Our totals of one phase. */
typedef struct {
  uint64_t bytes, packets;
} nb_sim_thesis_sum;

typedef struct {
  nb_sim_thesis_sum bootstrap, management, handshake, total;
  double thesis_bootstrap, thesis_management, thesis_total; /* bytes, the run's mode */
  double thesis_bootstrap_packets, thesis_management_packets;
} nb_sim_thesis_totals;

/* Our totals and the thesis's for a run in mode dtls with k notifications. */
void nb_sim_thesis_totals_of(const nb_sim_wire *w, bool dtls, unsigned k, nb_sim_thesis_totals *t);
void nb_sim_thesis_text(FILE *out, const nb_sim_wire *w, bool dtls, unsigned k);
/* The same rows and totals as a JSON object (a new reference; NULL when out of memory). */
json_t *nb_sim_thesis_json(const nb_sim_wire *w, bool dtls, unsigned k);

#endif
