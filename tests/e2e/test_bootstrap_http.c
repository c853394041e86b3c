/* The standalone `niobium bootstrap --http` end to end with the real binaries: its REST API
 * (/api/bootstrap configs, pending, approve/reject, expected secure IDs) and event stream behind
 * an API token, a `niobium client --bootstrap` pending until approved over REST, bootstrapped,
 * then registered with a `niobium server` running apart on the same database; the token rules
 * of `niobium server` (401 without it, required off loopback). */
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

#define TOKEN "t0ken-for-the-bootstrap-api"

typedef struct {
  char dir[64], db[128], coap[32], bs[32], http[32], base[64], srv_http[32], srv_base[64];
  nb_test_proc bsp, srv;
} env;

static char *req(const char *base, const char *token, const char *method, const char *path,
                 const char *body) {
  char *out = nb_test_http_auth(base, token, method, path, body);
  assert_non_null(out);
  return out;
}

static void expect(const env *e, const char *token, const char *method, const char *path,
                   const char *body, const char *status, const char *needle) {
  char *out = req(e->base, token, method, path, body);
  if (!strstr(out, status) || (needle && !strstr(out, needle)))
    fail_msg("%s %s: got '%s', wanted %s and '%s'", method, path, out, status,
             needle ? needle : "");
  free(out);
}

static bool wait_for(const char *base, const char *token, const char *path, const char *needle,
                     int ms) {
  for (int t = 0; t < ms; t += 100) {
    char *out = req(base, token, "GET", path, NULL);
    bool ok = strstr(out, needle) != NULL;
    free(out);
    if (ok) return true;
    usleep(100 * 1000);
  }
  return false;
}

static int start(void **state) {
  static env e;
  memset(&e, 0, sizeof e);
  snprintf(e.dir, sizeof e.dir, "/tmp/nb-e2e-bshttp-XXXXXX");
  if (!mkdtemp(e.dir)) return -1;
  snprintf(e.db, sizeof e.db, "%s/nb.db", e.dir);
  snprintf(e.coap, sizeof e.coap, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  snprintf(e.bs, sizeof e.bs, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  uint16_t hp = nb_test_free_port(SOCK_STREAM), sp = nb_test_free_port(SOCK_STREAM);
  snprintf(e.http, sizeof e.http, "127.0.0.1:%u", hp);
  snprintf(e.base, sizeof e.base, "http://127.0.0.1:%u", hp);
  snprintf(e.srv_http, sizeof e.srv_http, "127.0.0.1:%u", sp);
  snprintf(e.srv_base, sizeof e.srv_base, "http://127.0.0.1:%u", sp);
  char *bin = (char *)nb_test_env("NB_BINARY");
  char *bargv[] = {bin,   "bootstrap", "--coap", e.bs,       "--http",  e.http, "--api-token",
                   TOKEN, "--db",      e.db,     "--policy", "approve", NULL};
  char *sargv[] = {bin, "server", "--coap", e.coap, "--http", e.srv_http, "--db", e.db, NULL};
  if (!nb_test_proc_start(&e.bsp, bargv)) return -1;
  if (!nb_test_proc_wait_output(&e.bsp, true, "proto=http", 10000)) return -1;
  if (!nb_test_proc_start(&e.srv, sargv)) return -1;
  if (!nb_test_proc_wait_output(&e.srv, true, "proto=http", 10000)) return -1;
  *state = &e;
  return 0;
}

static int stop(void **state) {
  env *e = *state;
  nb_test_proc_stop(&e->bsp);
  nb_test_proc_cleanup(&e->bsp);
  nb_test_proc_stop(&e->srv);
  nb_test_proc_cleanup(&e->srv);
  char p[200];
  const char *suffix[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s%s", e->db, suffix[i]);
    unlink(p);
  }
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

static nb_test_proc start_events(const env *e, const char *ep) {
  char url[160];
  snprintf(url, sizeof url, "%s/api/events?ep=%s", e->base, ep);
  char *argv[] = {"curl", "-s", "-N", "-H", "Authorization: Bearer " TOKEN, url, NULL};
  nb_test_proc sse;
  assert_true(nb_test_proc_start(&sse, argv));
  assert_true(nb_test_proc_wait_output(&sse, false, ": connected", 10000));
  return sse;
}

/* Without the token nothing is served; the routes a bootstrap server has not are 404. */
static void test_token_and_routes(void **state) {
  env *e = *state;
  if (!nb_test_have_program("curl")) skip();
  expect(e, NULL, "GET", "/api/bootstrap/configs", NULL, "|401", "\"code\":\"4.01\"");
  expect(e, "wrong", "GET", "/api/bootstrap/configs", NULL, "|401", NULL);
  expect(e, TOKEN, "GET", "/api/bootstrap/configs", NULL, "|200", "[]");
  expect(e, TOKEN, "GET", "/api/clients", NULL, "|404", "bootstrap server only");
  char body[512];
  snprintf(body, sizeof body,
           "{\"servers\":[{\"uri\":\"coap://%s\",\"ssid\":101,\"lifetime\":300,"
           "\"security\":\"nosec\"}]}",
           e->coap);
  expect(e, TOKEN, "PUT", "/api/bootstrap/configs/dev-x", body, "|201", "\"endpoint\":\"dev-x\"");
  expect(e, TOKEN, "GET", "/api/bootstrap/configs/dev-x", NULL, "|200", "\"lifetime\":300");
  expect(e, TOKEN, "DELETE", "/api/bootstrap/configs/dev-x", NULL, "|200", NULL);
  expect(e, TOKEN, "GET", "/api/bootstrap/configs/dev-x", NULL, "|404", NULL);
  expect(e, TOKEN, "PUT", "/api/bootstrap/expected/dev-r",
         "{\"secureId\":\"0123456789abcdef0123456789abcd\"}", "|200", NULL);
  expect(e, TOKEN, "DELETE", "/api/bootstrap/expected/dev-r", NULL, "|200", NULL);
  expect(e, TOKEN, "POST", "/api/bootstrap/pending/nobody/approve", NULL, "|404", NULL);
}

/* The thesis flow against the standalone process: pending over REST, approved over REST,
 * events in protocol order, registration with the server that runs apart. */
static void test_approve_over_rest(void **state) {
  env *e = *state;
  if (!nb_test_have_program("curl")) skip();
  char body[512];
  snprintf(body, sizeof body,
           "{\"servers\":[{\"uri\":\"coap://%s\",\"ssid\":101,\"lifetime\":300,"
           "\"security\":\"nosec\"}]}",
           e->coap);
  expect(e, TOKEN, "PUT", "/api/bootstrap/configs/default", body, "|201", NULL);
  nb_test_proc sse = start_events(e, "dev-a"), cli;
  start_client(e, &cli, "dev-a");
  assert_true(wait_for(e->base, TOKEN, "/api/bootstrap/pending", "\"endpoint\":\"dev-a\"", 10000));
  expect(e, NULL, "POST", "/api/bootstrap/pending/dev-a/approve", NULL, "|401", NULL);
  assert_true(wait_for(e->srv_base, NULL, "/api/clients", "[]", 1000)); /* not before approval */
  expect(e, TOKEN, "POST", "/api/bootstrap/pending/dev-a/approve", NULL, "|200",
         "\"decision\":\"approved\"");
  assert_true(wait_for(e->srv_base, NULL, "/api/clients", "\"endpoint\":\"dev-a\"", 15000));
  static const char *const frames[] = {"event: BOOTSTRAP_REQUEST", "\"status\":\"2.03\"",
                                       "event: BOOTSTRAP_PENDING", "event: BOOTSTRAP_APPROVED",
                                       "event: BOOTSTRAP_FINISHED"};
  for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++)
    if (!nb_test_proc_wait_output(&sse, false, frames[i], 5000)) fail_msg("no '%s'", frames[i]);
  char *out = nb_test_proc_stdout(&sse);
  const char *req_at = strstr(out, "event: BOOTSTRAP_REQUEST");
  const char *pend_at = strstr(out, "event: BOOTSTRAP_PENDING");
  const char *appr_at = strstr(out, "event: BOOTSTRAP_APPROVED");
  const char *fin_at = strstr(out, "event: BOOTSTRAP_FINISHED");
  bool ordered = req_at < pend_at && pend_at < appr_at && appr_at < fin_at;
  if (!ordered) fprintf(stderr, "stream: %s\n", out);
  free(out);
  assert_true(ordered);
  expect(e, TOKEN, "GET", "/api/bootstrap/pending", NULL, "|200", "[]");
  nb_test_proc_stop(&cli);
  nb_test_proc_cleanup(&cli);
  nb_test_proc_stop(&sse);
  nb_test_proc_cleanup(&sse);
}

/* Rejection over REST answers the device (logged, on the stream); it never registers. */
static void test_reject_over_rest(void **state) {
  env *e = *state;
  if (!nb_test_have_program("curl")) skip();
  char body[256];
  snprintf(body, sizeof body,
           "{\"servers\":[{\"uri\":\"coap://%s\",\"ssid\":101,\"security\":\"nosec\"}]}", e->coap);
  expect(e, TOKEN, "PUT", "/api/bootstrap/configs/dev-b", body, "|201", NULL);
  nb_test_proc sse = start_events(e, "dev-b"), cli;
  start_client(e, &cli, "dev-b");
  assert_true(wait_for(e->base, TOKEN, "/api/bootstrap/pending", "\"endpoint\":\"dev-b\"", 10000));
  expect(e, TOKEN, "POST", "/api/bootstrap/pending/dev-b/reject", NULL, "|200",
         "\"decision\":\"rejected\"");
  assert_true(nb_test_proc_wait_output(&sse, false, "event: BOOTSTRAP_REJECTED", 5000));
  assert_true(nb_test_proc_wait_output(&e->bsp, true, "event=BOOTSTRAP_REJECTED ep=dev-b", 5000));
  char *out = req(e->srv_base, NULL, "GET", "/api/clients/dev-b", NULL);
  assert_non_null(strstr(out, "|404"));
  free(out);
  nb_test_proc_stop(&cli);
  nb_test_proc_cleanup(&cli);
  nb_test_proc_stop(&sse);
  nb_test_proc_cleanup(&sse);
}

static int cli(const env *e, char **out, const char *a1, const char *a2, const char *a3,
               const char *a4, const char *a5, const char *a6, const char *a7, const char *a8) {
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "bootstrap",
                  "--api",
                  (char *)e->base,
                  "--api-token",
                  TOKEN,
                  (char *)a1,
                  (char *)a2,
                  (char *)a3,
                  (char *)a4,
                  (char *)a5,
                  (char *)a6,
                  (char *)a7,
                  (char *)a8,
                  NULL};
  return nb_test_run(argv, 20000, out);
}

/* The operator commands through the running process's API (--api), no database opened. */
static void test_cli_over_api(void **state) {
  env *e = *state;
  char *out = NULL, uri[64];
  snprintf(uri, sizeof uri, "coap://%s", e->coap);
  assert_int_equal(cli(e, &out, "config", "add", "--endpoint", "dev-cli", "--server-uri", uri,
                       "--security", "nosec"),
                   0);
  assert_non_null(strstr(out, "dev-cli"));
  free(out);
  expect(e, TOKEN, "GET", "/api/bootstrap/configs/dev-cli", NULL, "|200", "\"nosec\"");
  assert_int_equal(cli(e, &out, "config", "list", NULL, NULL, NULL, NULL, NULL, NULL), 0);
  assert_non_null(strstr(out, "dev-cli"));
  free(out);
  assert_int_equal(cli(e, &out, "expect", "--endpoint", "dev-cli", "--secure-id",
                       "0123456789abcdef0123456789abcd", NULL, NULL, NULL),
                   0);
  free(out);
  /* Nothing pending: an empty table, as with --db; --json gives the API's JSON. */
  assert_int_equal(cli(e, &out, "pending", NULL, NULL, NULL, NULL, NULL, NULL, NULL), 0);
  assert_string_equal(out, "");
  free(out);
  assert_int_equal(cli(e, &out, "pending", "--json", NULL, NULL, NULL, NULL, NULL, NULL), 0);
  assert_non_null(strstr(out, "[]"));
  free(out);
  assert_int_equal(cli(e, &out, "approve", "nobody", NULL, NULL, NULL, NULL, NULL, NULL), 1);
  free(out);
  assert_int_equal(cli(e, &out, "config", "rm", "--endpoint", "dev-cli", NULL, NULL, NULL, NULL),
                   0);
  free(out);
  expect(e, TOKEN, "GET", "/api/bootstrap/configs/dev-cli", NULL, "|404", NULL);
  /* import: every config of the file goes in through the API (the default one too) */
  char file[128], json[512];
  snprintf(file, sizeof file, "%s/import.json", e->dir);
  snprintf(json, sizeof json,
           "[{\"endpoint\":\"dev-imp\",\"servers\":[{\"uri\":\"%s\",\"ssid\":7,"
           "\"security\":\"nosec\"}]},{\"endpoint\":\"\",\"servers\":[{\"uri\":\"%s\","
           "\"ssid\":8,\"security\":\"nosec\"}]}]",
           uri, uri);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fputs(json, f);
  fclose(f);
  assert_int_equal(cli(e, &out, "config", "import", file, NULL, NULL, NULL, NULL, NULL), 0);
  assert_non_null(strstr(out, "2 configs imported"));
  free(out);
  expect(e, TOKEN, "GET", "/api/bootstrap/configs/dev-imp", NULL, "|200", "\"ssid\":7");
  expect(e, TOKEN, "GET", "/api/bootstrap/configs/default", NULL, "|200", "\"ssid\":8");
  assert_int_equal(cli(e, &out, "config", "export", NULL, NULL, NULL, NULL, NULL, NULL), 2);
  free(out);
  /* a wrong token is a runtime failure that says so */
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "bootstrap",
                  "--api",
                  e->base,
                  "--api-token",
                  "wrong",
                  "pending",
                  NULL};
  assert_int_equal(nb_test_run(argv, 20000, &out), 1);
  free(out);
}

/* The token is mandatory off loopback, and --api-token means nothing without --http. */
static void test_usage(void **state) {
  (void)state;
  char *bin = (char *)nb_test_env("NB_BINARY"), *out = NULL, *err = NULL;
  char *a1[] = {bin, "bootstrap", "--http", "0.0.0.0:1", "--db", "/nonexistent/x.db", NULL};
  assert_int_equal(nb_test_run_capture(a1, 10000, &out, &err), 2);
  assert_non_null(strstr(err, "--api-token"));
  free(out);
  free(err);
  char *a2[] = {bin, "bootstrap", "--api-token", "x", NULL};
  assert_int_equal(nb_test_run(a2, 10000, &out), 2);
  free(out);
  char *a3[] = {bin, "bootstrap", "--http", "not-an-address", NULL};
  assert_int_equal(nb_test_run(a3, 10000, &out), 2);
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_token_and_routes, start, stop),
      cmocka_unit_test_setup_teardown(test_approve_over_rest, start, stop),
      cmocka_unit_test_setup_teardown(test_reject_over_rest, start, stop),
      cmocka_unit_test_setup_teardown(test_cli_over_api, start, stop),
      cmocka_unit_test(test_usage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
