/* A fleet running in a libuv loop: the fleet (src/sim/fleet.h) on the simulator's sockets
 * (src/sim/net.h), one timer at the fleet's next deadline, datagrams flushed before the loop
 * waits, the live progress (redrawn on a terminal, periodic lines otherwise), a stop after a
 * duration or on request that de-registers the fleet, and a callback once it is done. What
 * `niobium sim` and `niobium demo` run. Owns the fleet, the sockets and its uv handles. */
#ifndef NB_SIM_RUNNER_H
#define NB_SIM_RUNNER_H

#include <stdbool.h>
#include <stdio.h>

#include "base/err.h"
#include "io/loop.h"
#include "sim/fleet.h"
#include "sim/net.h"

typedef struct nb_sim_runner nb_sim_runner;

typedef struct {
  nb_sim_config fleet;       /* send/send_user are the runner's own */
  nb_sim_net_config net;     /* devices is taken from fleet */
  nb_time_ms duration;       /* stop this long after the start; 0 = on request only */
  nb_time_ms grace;          /* de-registration time at stop; 0 = 30 s */
  FILE *progress;            /* NULL: no progress */
  bool progress_redraw;      /* a terminal: one line redrawn twice a second */
  nb_time_ms progress_every; /* plain lines this often; 0 = 5 s */
  /* Once the fleet is stopped and done (de-registered or out of time). */
  void (*finished)(void *user, nb_sim_runner *r);
  void *user;
} nb_sim_runner_config;

nb_err nb_sim_runner_new(nb_io_loop *loop, const nb_sim_runner_config *cfg, nb_sim_runner **out,
                         char *why, size_t cap);
nb_sim_fleet *nb_sim_runner_fleet(nb_sim_runner *r);
nb_sim_net *nb_sim_runner_net(nb_sim_runner *r);
nb_time_ms nb_sim_runner_started(const nb_sim_runner *r);
/* De-registers the fleet (a second call gives up waiting). */
void nb_sim_runner_stop(nb_sim_runner *r);
/* Closes DTLS sessions (close_notify) and the handles; the fleet is freed once libuv has
 * closed them, so call nb_io_loop_free (or run the loop) after. */
void nb_sim_runner_free(nb_sim_runner *r);

#endif
