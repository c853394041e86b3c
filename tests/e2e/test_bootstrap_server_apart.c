/* `niobium bootstrap --server-api URL` end to end: the bootstrap server and the management
 * server run as separate processes with separate databases; the fresh PSK of each bootstrap is
 * installed in the server through its REST API (behind its API token) before Finish, and a real
 * `niobium client` then registers with it over DTLS with that PSK. When the server's API cannot
 * be reached the bootstrap fails cleanly (BOOTSTRAP_FAILED before Finish, nothing registered). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_test.h"

#define TOKEN "server-token-for-the-bootstrap-server"

typedef struct {
  char dir[64], bs_db[128], dm_db[128], coaps[32], bs[32], http[32], base[64], api_url[64];
  nb_test_proc bsp, srv;
} env;

static void rm_db(const char *db) {
  char p[200];
  const char *suffix[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s%s", db, suffix[i]);
    unlink(p);
  }
}

static bool wait_for(const env *e, const char *path, const char *needle, int ms) {
  for (int t = 0; t < ms; t += 100) {
    char *out = nb_test_http_auth(e->base, TOKEN, "GET", path, NULL);
    bool ok = out && strstr(out, needle) != NULL;
    free(out);
    if (ok) return true;
    usleep(100 * 1000);
  }
  return false;
}

static int start(void **state) {
  static env e;
  memset(&e, 0, sizeof e);
  snprintf(e.dir, sizeof e.dir, "/tmp/nb-e2e-bsapart-XXXXXX");
  if (!mkdtemp(e.dir)) return -1;
  snprintf(e.bs_db, sizeof e.bs_db, "%s/bs.db", e.dir);
  snprintf(e.dm_db, sizeof e.dm_db, "%s/dm.db", e.dir);
  snprintf(e.coaps, sizeof e.coaps, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  snprintf(e.bs, sizeof e.bs, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(e.http, sizeof e.http, "127.0.0.1:%u", hp);
  snprintf(e.base, sizeof e.base, "http://127.0.0.1:%u", hp);
  snprintf(e.api_url, sizeof e.api_url, "http://127.0.0.1:%u/", hp);
  char *bin = (char *)nb_test_env("NB_BINARY");
  char *sargv[] = {bin,    "server", "--coaps",     e.coaps, "--http", e.http,
                   "--db", e.dm_db,  "--api-token", TOKEN,   NULL};
  char *bargv[] = {bin,       "bootstrap",          "--coap", e.bs, "--db", e.bs_db, "--server-api",
                   e.api_url, "--server-api-token", TOKEN,    NULL};
  if (!nb_test_proc_start(&e.srv, sargv)) return -1;
  if (!nb_test_proc_wait_output(&e.srv, true, "proto=http", 10000)) return -1;
  if (!nb_test_proc_start(&e.bsp, bargv)) return -1;
  if (!nb_test_proc_wait_output(&e.bsp, true, "event=listening", 10000)) return -1;
  char uri[64];
  snprintf(uri, sizeof uri, "coaps://%s", e.coaps);
  char *cargv[] = {bin,   "bootstrap",  "--db",         e.bs_db, "config",
                   "add", "--default",  "--server-uri", uri,     "--security",
                   "psk", "--lifetime", "300",          NULL};
  char *out = NULL;
  if (nb_test_run(cargv, 10000, &out) != 0) return -1;
  free(out);
  *state = &e;
  return 0;
}

static int stop(void **state) {
  env *e = *state;
  nb_test_proc_stop(&e->bsp);
  nb_test_proc_cleanup(&e->bsp);
  nb_test_proc_stop(&e->srv);
  nb_test_proc_cleanup(&e->srv);
  rm_db(e->bs_db);
  rm_db(e->dm_db);
  rmdir(e->dir);
  return 0;
}

static void start_client(const env *e, nb_test_proc *p, const char *ep) {
  char uri[64];
  snprintf(uri, sizeof uri, "coap://%s", e->bs);
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "client",
                  "--bootstrap",
                  uri,
                  "--endpoint",
                  (char *)ep,
                  NULL};
  assert_true(nb_test_proc_start(p, argv));
}

/* The PSK reaches the server through its API; the device registers with it over DTLS. */
static void test_install_through_server_api(void **state) {
  env *e = *state;
  if (!nb_test_have_program("curl")) skip();
  nb_test_proc cli;
  start_client(e, &cli, "dev-apart");
  assert_true(wait_for(e, "/api/clients", "\"endpoint\":\"dev-apart\"", 20000));
  assert_true(wait_for(e, "/api/security/clients/dev-apart", "\"mode\":\"psk\"", 1000));
  assert_true(wait_for(e, "/api/clients/dev-apart", "|200", 1000));
  assert_true(
      nb_test_proc_wait_output(&e->bsp, true, "event=BOOTSTRAP_FINISHED ep=dev-apart", 5000));
  /* the server's audit log shows the install came over its API */
  assert_true(wait_for(e, "/api/audit", "security-put", 1000));
  nb_test_proc_stop(&cli);
  nb_test_proc_cleanup(&cli);
}

/* With the server down the install fails: the bootstrap stops before Finish, with an event. */
static void test_install_failure_fails_bootstrap(void **state) {
  env *e = *state;
  nb_test_proc_stop(&e->srv);
  nb_test_proc cli;
  start_client(e, &cli, "dev-orphan");
  assert_true(nb_test_proc_wait_output(&e->bsp, true, "event=server-api-failed", 20000));
  assert_true(
      nb_test_proc_wait_output(&e->bsp, true, "event=BOOTSTRAP_FAILED ep=dev-orphan", 5000));
  char *log = nb_test_proc_stderr(&e->bsp);
  assert_null(strstr(log, "event=BOOTSTRAP_FINISHED ep=dev-orphan"));
  assert_null(strstr(log, TOKEN)); /* the token is never logged */
  free(log);
  nb_test_proc_stop(&cli);
  nb_test_proc_cleanup(&cli);
}

/* A token the server refuses: said at start, and each bootstrap fails saying so (not as an
 * I/O error). */
static void test_wrong_token_said(void **state) {
  env *e = *state;
  char *bin = (char *)nb_test_env("NB_BINARY"), db[160], coap[32], uri[64];
  snprintf(db, sizeof db, "%s/bs2.db", e->dir);
  snprintf(coap, sizeof coap, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  char *cargv[] = {bin,          "bootstrap",    "--db",
                   db,           "config",       "add",
                   "--default",  "--server-uri", "coap://127.0.0.1:5683",
                   "--security", "nosec",        NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(cargv, 10000, &out), 0);
  free(out);
  char *bargv[] = {bin,
                   "bootstrap",
                   "--coap",
                   coap,
                   "--db",
                   db,
                   "--server-api",
                   e->api_url,
                   "--server-api-token",
                   "not-the-server-token",
                   NULL};
  nb_test_proc bsp;
  assert_true(nb_test_proc_start(&bsp, bargv));
  assert_true(nb_test_proc_wait_output(&bsp, true, "refused the token (HTTP 401)", 10000));
  snprintf(uri, sizeof uri, "coap://%s", coap);
  char *dargv[] = {bin, "client", "--bootstrap", uri, "--endpoint", "dev-badtoken", NULL};
  nb_test_proc cli;
  assert_true(nb_test_proc_start(&cli, dargv));
  assert_true(
      nb_test_proc_wait_output(&bsp, true, "event=BOOTSTRAP_FAILED ep=dev-badtoken", 20000));
  char *log = nb_test_proc_stderr(&bsp);
  const char *failed = strstr(log, "event=BOOTSTRAP_FAILED ep=dev-badtoken");
  assert_non_null(strstr(failed, "err=NB_ERR_DENIED"));
  assert_non_null(strstr(failed, "reason=\"the peer refused our credentials"));
  assert_non_null(strstr(log, "event=server-api-refused"));
  assert_null(strstr(log, "not-the-server-token")); /* never logged */
  free(log);
  nb_test_proc_stop(&cli);
  nb_test_proc_cleanup(&cli);
  nb_test_proc_stop(&bsp);
  nb_test_proc_cleanup(&bsp);
  rm_db(db);
}

static void test_usage(void **state) {
  (void)state;
  char *bin = (char *)nb_test_env("NB_BINARY"), *out = NULL;
  char *a1[] = {bin, "bootstrap", "--server-api", "ftp://x", "--coap", "127.0.0.1:0", NULL};
  assert_int_equal(nb_test_run(a1, 10000, &out), 2);
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_install_through_server_api, start, stop),
      cmocka_unit_test_setup_teardown(test_install_failure_fails_bootstrap, start, stop),
      cmocka_unit_test_setup_teardown(test_wrong_token_said, start, stop),
      cmocka_unit_test(test_usage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
