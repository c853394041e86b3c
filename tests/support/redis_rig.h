/* A private redis-server for the tests of the Redis store: started on a free loopback port in
 * a temporary directory, with persistence off (--save '' --appendonly no), stopped (or killed
 * and started again on the same port) by the test. */
#ifndef NB_TEST_REDIS_RIG_H
#define NB_TEST_REDIS_RIG_H

#include <stdbool.h>
#include <stdint.h>

#include "nb_test.h"

typedef struct {
  nb_test_proc proc;
  bool running;
  uint16_t port;
  char dir[64];
  char uri[64]; /* "redis://127.0.0.1:PORT" */
} nb_redis_rig;

/* Why the Redis tests cannot run here (this build has no Redis backend, or redis-server is not
 * installed), or NULL when they can. */
const char *nb_redis_rig_unavailable(void);
/* Starts redis-server and waits until it accepts connections; false when it does not. */
bool nb_redis_rig_start(nb_redis_rig *r);
/* Kills it (SIGKILL: as a crash would), keeping the port for nb_redis_rig_resume. */
void nb_redis_rig_kill(nb_redis_rig *r);
/* Starts it again on the same port (empty: nothing was saved). */
bool nb_redis_rig_resume(nb_redis_rig *r);
/* Stops it and removes the directory. */
void nb_redis_rig_stop(nb_redis_rig *r);

#endif
