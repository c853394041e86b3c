/* The health of a server store, whatever its backend: a store (nb_server_store) that forwards
 * every operation to another and watches the answers. A backend failure (NB_ERR_IO) makes the
 * store unhealthy from that moment; the next write the backend takes (a real one, or the
 * backend's probe, which the shell runs periodically while unhealthy) makes it healthy again.
 * Failures are counted (audit entries and evidence lost to them apart) and logged rate-limited:
 * one error line when a fault starts, one summary line a minute while it lasts, one line when
 * it ends. Owns its own state only; the inner store is borrowed. */
#ifndef NB_SERVER_STORE_HEALTH_H
#define NB_SERVER_STORE_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "server/store.h"

typedef struct nb_store_health nb_store_health;

/* Unix ms now (the shell's wall clock, a test's virtual one). */
typedef int64_t (*nb_store_health_clock_fn)(void *user);

#define NB_STORE_HEALTH_LOG_EVERY 60000 /* ms between summary lines of one fault */

typedef struct {
  bool healthy;
  int64_t since;          /* unhealthy: Unix ms of the fault's first failure; 0 when healthy */
  char operation[16];     /* unhealthy: the operation that failed last ("reg_put", ...) */
  char error[96];         /* unhealthy: the backend's description of that failure */
  uint64_t failures;      /* unhealthy: failures since `since` */
  uint64_t total;         /* failures since start */
  uint64_t audit_lost;    /* audit entries the store did not take, since start */
  uint64_t evidence_lost; /* signed payloads not kept as evidence, since start */
} nb_store_health_state;

/* A tracker around `inner` (its ops must stay valid); clock NULL: the wall clock
 * (nb_time_unix_ms). NB_ERR_NOMEM. */
nb_err nb_store_health_new(nb_server_store inner, nb_store_health_clock_fn clock, void *clock_user,
                           nb_store_health **out);
void nb_store_health_free(nb_store_health *h);
/* The store to hand to the engine and the API in place of `inner` (valid until free). */
nb_server_store nb_store_health_store(nb_store_health *h);
void nb_store_health_get(const nb_store_health *h, nb_store_health_state *out);
/* While unhealthy, one probe write (the backend's probe op; nothing without one): its success
 * ends the fault. Returns whether the store is healthy afterwards. */
bool nb_store_health_probe(nb_store_health *h);

#endif
