/* Storage faults end to end (issue 19, item 6): the real `niobium server` loses the right to
 * grow its files (RLIMIT_FSIZE lowered to 1 byte from outside with prlimit(2), as a full disk
 * would refuse writes) while devices register over CoAP (libcoap's coap-client-notls). It keeps
 * running, refuses the Registers it cannot store (5.03, never listed), answers 503 on
 * GET /api/health (no token needed), answers 200 again once the limit is lifted (its probe),
 * registers again, and after kill -9 and a restart lists exactly what it acknowledged. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_test.h"

#define TOKEN "store-full-token-0123"

typedef struct {
  char dir[64], db[128];
  char coap[32], http[32], base[64];
} env;

static void env_init(env *e) {
  snprintf(e->dir, sizeof(e->dir), "/tmp/nb-e2e-full-XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  snprintf(e->db, sizeof(e->db), "%s/server.db", e->dir);
  snprintf(e->coap, sizeof(e->coap), "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(e->http, sizeof(e->http), "127.0.0.1:%u", hp);
  snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%u", hp);
}

static void start_server(nb_test_proc *p, env *e) {
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "server",
                  "--coap",
                  e->coap,
                  "--http",
                  e->http,
                  "--db",
                  e->db,
                  "--api-token",
                  TOKEN,
                  NULL};
  assert_true(nb_test_proc_start(p, argv));
  assert_true(nb_test_proc_wait_output(p, true, "proto=http", 10000));
}

/* The server's file-size limit (soft; the hard one stays). */
static void set_fsize(pid_t pid, rlim_t soft) {
  struct rlimit now;
  assert_int_equal(prlimit(pid, RLIMIT_FSIZE, NULL, &now), 0);
  struct rlimit want = {soft, now.rlim_max};
  assert_int_equal(prlimit(pid, RLIMIT_FSIZE, &want, NULL), 0);
}

/* A Register of ep; what coap-client printed (the code of an error answer, "" for 2.01). */
static char *register_ep(const env *e, const char *ep) {
  char uri[160];
  snprintf(uri, sizeof(uri), "coap://%s/rd?ep=%s&lt=600&lwm2m=1.1&b=U", e->coap, ep);
  char *argv[] = {"coap-client-notls", "-m", "post", "-t", "40", "-e", "</1/0>,</3/0>", uri, NULL};
  char *out = NULL, *err = NULL;
  nb_test_run_capture(argv, 20000, &out, &err);
  size_t n = strlen(out) + strlen(err) + 2;
  char *both = malloc(n);
  assert_non_null(both);
  snprintf(both, n, "%s %s", out, err);
  free(out);
  free(err);
  return both;
}

static bool alive(pid_t pid) { return kill(pid, 0) == 0 && waitpid(pid, NULL, WNOHANG) == 0; }

/* GET path's "BODY|STATUS" (token NULL: none). */
static char *get(const env *e, const char *path, const char *token) {
  char *r = nb_test_http_auth(e->base, token, "GET", path, NULL);
  assert_non_null(r);
  return r;
}

static bool status_is(const char *answer, const char *status) {
  const char *bar = strrchr(answer, '|');
  return bar && strcmp(bar + 1, status) == 0;
}

static void test_full_disk_refuses_and_recovers(void **state) {
  (void)state;
  if (!nb_test_have_program("coap-client-notls") || !nb_test_have_program("curl"))
    skip(); /* needs libcoap3-bin and curl */
  env e;
  env_init(&e);
  nb_test_proc srv;
  start_server(&srv, &e);
  const char *before[] = {"before-1", "before-2", "before-3"};
  for (size_t i = 0; i < 3; i++) {
    char *out = register_ep(&e, before[i]);
    assert_null(strstr(out, "5.0"));
    free(out);
  }
  char *h = get(&e, "/api/health", NULL); /* public: no token */
  assert_true(status_is(h, "200"));
  assert_non_null(strstr(h, "\"status\":\"ok\""));
  free(h);

  /* No file of the server may grow now. */
  set_fsize(srv.pid, 1);
  for (int i = 0; i < 3; i++) {
    char ep[32];
    snprintf(ep, sizeof ep, "during-%d", i);
    char *out = register_ep(&e, ep);
    assert_non_null(strstr(out, "5.03"));
    free(out);
  }
  assert_true(alive(srv.pid));
  h = get(&e, "/api/health", NULL);
  assert_true(status_is(h, "503"));
  assert_non_null(strstr(h, "\"status\":\"unhealthy\""));
  assert_non_null(strstr(h, "\"operation\":"));
  assert_non_null(strstr(h, "\"since\":"));
  assert_null(strstr(h, TOKEN));
  free(h);
  char *list = get(&e, "/api/clients", TOKEN);
  assert_true(status_is(list, "200"));
  assert_non_null(strstr(list, "before-3"));
  assert_null(strstr(list, "during-"));
  free(list);

  /* Space returns: the probe (every 5 s) or the next write finds out. */
  set_fsize(srv.pid, RLIM_INFINITY);
  bool healthy = false;
  for (int i = 0; i < 30 && !healthy; i++) {
    h = get(&e, "/api/health", NULL);
    healthy = status_is(h, "200");
    free(h);
    if (!healthy) usleep(500 * 1000);
  }
  assert_true(healthy);
  char *out = register_ep(&e, "after-1");
  assert_null(strstr(out, "5.0"));
  free(out);

  /* kill -9 and a restart: what was acknowledged, and nothing else. */
  kill(srv.pid, SIGKILL);
  waitpid(srv.pid, NULL, 0);
  nb_test_proc_cleanup(&srv);
  nb_test_proc srv2;
  start_server(&srv2, &e);
  list = get(&e, "/api/clients", TOKEN);
  assert_true(status_is(list, "200"));
  for (size_t i = 0; i < 3; i++) assert_non_null(strstr(list, before[i]));
  assert_non_null(strstr(list, "after-1"));
  assert_null(strstr(list, "during-"));
  free(list);
  nb_test_proc_stop(&srv2);
  nb_test_proc_cleanup(&srv2);
  nb_test_remove_db(e.db);
  rmdir(e.dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_disk_refuses_and_recovers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
