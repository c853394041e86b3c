/* A private redis-server for tests: see redis_rig.h. */
#include "redis_rig.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

const char *nb_redis_rig_unavailable(void) {
#ifndef NB_HAVE_REDIS
  return "this build has no Redis backend (NB_WITH_REDIS=OFF, or libhiredis-dev was not found:"
         " scripts/install-deps)";
#else
  if (!nb_test_have_program("redis-server"))
    return "redis-server is not installed (scripts/install-deps installs it)";
  return NULL;
#endif
}

static bool launch(nb_redis_rig *r) {
  char port[8];
  snprintf(port, sizeof(port), "%u", r->port);
  char *argv[] = {"redis-server", "--port", port,    "--bind", "127.0.0.1",        "--save", "",
                  "--appendonly", "no",     "--dir", r->dir,   "--protected-mode", "yes",    NULL};
  if (!nb_test_proc_start(&r->proc, argv)) return false;
  r->running = nb_test_proc_wait_output(&r->proc, false, "Ready to accept connections", 10000);
  if (!r->running) {
    char *err = nb_test_proc_stdout(&r->proc);
    fprintf(stderr, "redis-server did not start on port %u:\n%s\n", r->port, err ? err : "");
    free(err);
    nb_test_proc_stop(&r->proc);
    nb_test_proc_cleanup(&r->proc);
  }
  return r->running;
}

bool nb_redis_rig_start(nb_redis_rig *r) {
  memset(r, 0, sizeof(*r));
  snprintf(r->dir, sizeof(r->dir), "/tmp/nb-redis-XXXXXX");
  if (!mkdtemp(r->dir)) return false;
  for (int tries = 0; tries < 3; tries++) {
    r->port = nb_test_free_port(SOCK_STREAM);
    snprintf(r->uri, sizeof(r->uri), "redis://127.0.0.1:%u", r->port);
    if (r->port && launch(r)) return true;
  }
  rmdir(r->dir);
  return false;
}

void nb_redis_rig_kill(nb_redis_rig *r) {
  if (!r->running) return;
  kill(r->proc.pid, SIGKILL);
  waitpid(r->proc.pid, NULL, 0);
  r->proc.pid = 0;
  nb_test_proc_cleanup(&r->proc);
  r->running = false;
}

bool nb_redis_rig_resume(nb_redis_rig *r) { return !r->running && launch(r); }

void nb_redis_rig_stop(nb_redis_rig *r) {
  if (r->running) {
    nb_test_proc_stop(&r->proc);
    nb_test_proc_cleanup(&r->proc);
    r->running = false;
  }
  if (r->dir[0]) {
    char p[128];
    snprintf(p, sizeof(p), "%s/dump.rdb", r->dir);
    unlink(p);
    rmdir(r->dir);
  }
}
