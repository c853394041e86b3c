/* `niobium server --store redis://...` with real binaries on 127.0.0.1 and a private
 * redis-server (skipped, saying why, when there is none): a `niobium client` registers, the
 * server is restarted and lists the registration again from Redis; then redis-server is
 * killed while the server runs: the server keeps running, the API answers the store's failure
 * with its error shape, a device registering is told 5.03 (not acknowledged), GET /api/health
 * answers 503, and all works again (health 200) once redis-server is back. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_test.h"
#include "redis_rig.h"

typedef struct {
  char base[64];
  char coap[32], http[32], coap_uri[64];
} env;

static void expect(const env *e, const char *method, const char *path, const char *body,
                   const char *status, const char *needle) {
  char *out = nb_test_http(e->base, method, path, body);
  assert_non_null(out);
  if (!strstr(out, status) || (needle && !strstr(out, needle)))
    fail_msg("%s %s: got '%s', wanted %s and '%s'", method, path, out, status,
             needle ? needle : "");
  free(out);
}

/* Polls until method path answers with status (and needle); false after ms. */
static bool wait_answer(const env *e, const char *method, const char *path, const char *body,
                        const char *status, const char *needle, int ms) {
  for (int t = 0; t < ms; t += 200) {
    char *out = nb_test_http(e->base, method, path, body);
    bool ok = out && strstr(out, status) && (!needle || strstr(out, needle));
    free(out);
    if (ok) return true;
    usleep(200 * 1000);
  }
  return false;
}

static bool start_server(nb_test_proc *srv, const env *e, const char *store) {
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "server",
                  "--coap",
                  (char *)e->coap,
                  "--http",
                  (char *)e->http,
                  "--store",
                  (char *)store,
                  NULL};
  return nb_test_proc_start(srv, argv) && nb_test_proc_wait_output(srv, true, "proto=http", 15000);
}

static void new_http_port(env *e) {
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(e->http, sizeof(e->http), "127.0.0.1:%u", hp);
  snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%u", hp);
}

/* A Register sent with `niobium coap`: the response code line of its -v output. */
static char *coap_register(const env *e, const char *ep) {
  char uri[128];
  snprintf(uri, sizeof(uri), "%s/rd?ep=%s&lt=300", e->coap_uri, ep);
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "coap",
                  "post",
                  "-v",
                  "--content-format",
                  "link",
                  "--payload",
                  "</3/0>",
                  "--timeout",
                  "10",
                  uri,
                  NULL};
  char *out = NULL, *err = NULL;
  nb_test_run_capture(argv, 30000, &out, &err);
  free(out);
  return err;
}

/* Stopped in teardown, which cmocka runs when an assertion failed too: no process outlives the
 * test. */
static nb_redis_rig redis;
static nb_test_proc srv, cl, other;
static char tmpdir[64];

static int stop_all(void **state) {
  (void)state;
  nb_test_proc_cleanup(&cl);
  nb_test_proc_cleanup(&srv);
  nb_test_proc_cleanup(&other);
  if (tmpdir[0]) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) print_message("could not remove %s\n", tmpdir);
    tmpdir[0] = '\0';
  }
  nb_redis_rig_stop(&redis);
  return 0;
}

static void test_registration_survives_restart_and_redis_outage(void **state) {
  (void)state;
  const char *why = nb_redis_rig_unavailable();
  if (!why && !nb_test_have_program("curl")) why = "curl is not installed";
  if (why) {
    print_message("[  SKIP    ] %s\n", why);
    skip();
  }
  assert_true(nb_redis_rig_start(&redis));
  env e;
  uint16_t cp = nb_test_free_port(SOCK_DGRAM);
  snprintf(e.coap, sizeof(e.coap), "127.0.0.1:%u", cp);
  snprintf(e.coap_uri, sizeof(e.coap_uri), "coap://127.0.0.1:%u", cp);
  new_http_port(&e);
  assert_true(start_server(&srv, &e, redis.uri));

  /* A client registers; a credential goes in through the API. */
  char *cargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "client",
                   "--server",
                   e.coap_uri,
                   "--endpoint",
                   "e2e-redis",
                   "--lifetime",
                   "300",
                   NULL};
  assert_true(nb_test_proc_start(&cl, cargv));
  assert_true(nb_test_proc_wait_output(&cl, false, "registered ssid=1", 15000));
  assert_true(
      wait_answer(&e, "GET", "/api/clients", NULL, "|200", "\"endpoint\":\"e2e-redis\"", 10000));
  expect(&e, "PUT", "/api/security/clients/e2e-psk",
         "{\"mode\":\"psk\",\"identity\":\"id:*1\",\"key\":\"00112233445566778899aabbccddeeff\"}",
         "|201", "\"identity\":\"id:*1\"");
  kill(cl.pid, SIGKILL); /* gone without de-registering: its registration stays */
  nb_test_proc_wait(&cl, 5000);
  nb_test_proc_cleanup(&cl);

  /* Restarted, the server lists it again: it came from Redis. */
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
  new_http_port(&e);
  assert_true(start_server(&srv, &e, redis.uri));
  expect(&e, "GET", "/api/clients", NULL, "|200", "\"endpoint\":\"e2e-redis\"");
  expect(&e, "GET", "/api/security/clients/e2e-psk", NULL, "|200", "\"identity\":\"id:*1\"");
  expect(&e, "GET", "/api/health", NULL, "|200", "\"status\":\"ok\"");

  /* redis-server killed: the server stays up; what needs the store fails with its error
   * shape, a Register is not acknowledged, and the health answer says so (503, in fixed
   * words: no key of Redis's). */
  nb_redis_rig_kill(&redis);
  expect(&e, "GET", "/api/security/clients", NULL, "|500", "\"the store could not list");
  expect(&e, "GET", "/api/security/clients/e2e-psk", NULL, "|500", "could not read");
  expect(&e, "GET", "/api/audit", NULL, "|500", "could not read the audit log");
  char *err = coap_register(&e, "e2e-later");
  assert_non_null(err);
  if (!strstr(err, "5.03")) fail_msg("Register during the outage: %s", err);
  free(err);
  expect(&e, "GET", "/api/clients", NULL, "|200", "\"endpoint\":\"e2e-redis\"");
  expect(&e, "GET", "/api/health", NULL, "|503", "\"error\":\"Redis does not answer\"");
  char *health = nb_test_http(e.base, "GET", "/api/health", NULL);
  assert_non_null(health);
  if (!strstr(health, "\"status\":\"unhealthy\"") || strstr(health, "nb:"))
    fail_msg("health during the outage: %s", health);
  free(health);
  assert_int_equal(kill(srv.pid, 0), 0); /* still running */
  char *log = nb_test_proc_stderr(&srv);
  assert_non_null(strstr(log, "event=redis_unreachable"));
  assert_non_null(strstr(log, "event=store_unhealthy"));
  assert_null(strstr(log, "AddressSanitizer"));
  free(log);

  /* redis-server back (empty: the test runs it without persistence): with nothing else
   * writing, the server's probe finds it within its back-off and the probe's period, and the
   * health answer is 200 again; then it stores again. */
  assert_true(nb_redis_rig_resume(&redis));
  assert_true(wait_answer(&e, "GET", "/api/health", NULL, "|200", "\"status\":\"ok\"", 20000));
  assert_true(wait_answer(&e, "PUT", "/api/security/clients/e2e-psk",
                          "{\"mode\":\"psk\",\"identity\":\"id-2\",\"key\":\"0011\"}", "|201",
                          "id-2", 15000));
  err = coap_register(&e, "e2e-later");
  assert_non_null(err);
  if (!strstr(err, "2.01")) fail_msg("Register after the outage: %s", err);
  free(err);
  expect(&e, "GET", "/api/clients", NULL, "|200", "\"endpoint\":\"e2e-later\"");
  log = nb_test_proc_stderr(&srv);
  assert_non_null(strstr(log, "event=redis_connected"));
  assert_non_null(strstr(log, "event=store_recovered"));
  free(log);
}

/* A server role and a bootstrap role `niobium server --store ... --with-bootstrap`. */
static char **server_argv(char *argv[16], const env *e, const char *store, const char *db,
                          const char *bs_coap) {
  int n = 0;
  argv[n++] = (char *)nb_test_env("NB_BINARY");
  argv[n++] = "server";
  argv[n++] = "--coap";
  argv[n++] = (char *)e->coap;
  argv[n++] = "--http";
  argv[n++] = (char *)e->http;
  argv[n++] = "--db";
  argv[n++] = (char *)db;
  if (store) {
    argv[n++] = "--store";
    argv[n++] = (char *)store;
  }
  if (bs_coap) {
    argv[n++] = "--with-bootstrap";
    argv[n++] = "--bs-coap";
    argv[n++] = (char *)bs_coap;
  }
  argv[n] = NULL;
  return argv;
}

static void new_ports(env *e, char *bs_coap, size_t cap) {
  snprintf(e->coap, sizeof(e->coap), "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  snprintf(bs_coap, cap, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  new_http_port(e);
}

/* With --store, --db holds only the bootstrap role's state: a second --with-bootstrap on that
 * database is refused (one bootstrap server per database), while a SQLite `niobium server`
 * on it starts (the Redis server holds no server-role lock on a file it does not use). */
static void test_db_locked_for_the_bootstrap_role_only(void **state) {
  (void)state;
  const char *why = nb_redis_rig_unavailable();
  if (why) {
    print_message("[  SKIP    ] %s\n", why);
    skip();
  }
  assert_true(nb_redis_rig_start(&redis));
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/nb-e2e-redis-XXXXXX");
  assert_non_null(mkdtemp(tmpdir));
  char db[128], uri1[96], uri2[96], bs[32], *argv[16];
  snprintf(db, sizeof(db), "%s/bs.db", tmpdir);
  snprintf(uri1, sizeof(uri1), "%s/1", redis.uri);
  snprintf(uri2, sizeof(uri2), "%s/2", redis.uri);
  env e;
  new_ports(&e, bs, sizeof(bs));
  assert_true(nb_test_proc_start(&srv, server_argv(argv, &e, uri1, db, bs)));
  assert_true(nb_test_proc_wait_output(&srv, true, "proto=http", 15000));

  new_ports(&e, bs, sizeof(bs));
  char *out = NULL, *err = NULL;
  int rc = nb_test_run_capture(server_argv(argv, &e, uri2, db, bs), 10000, &out, &err);
  assert_int_not_equal(rc, 0);
  assert_non_null(err);
  if (!strstr(err, "is in use by another"))
    fail_msg("a second bootstrap role on %s was not refused: %s", db, err);
  free(out);
  free(err);

  new_ports(&e, bs, sizeof(bs));
  assert_true(nb_test_proc_start(&other, server_argv(argv, &e, NULL, db, NULL)));
  assert_true(nb_test_proc_wait_output(&other, true, "proto=http", 15000));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_registration_survives_restart_and_redis_outage, stop_all),
      cmocka_unit_test_teardown(test_db_locked_for_the_bootstrap_role_only, stop_all),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
