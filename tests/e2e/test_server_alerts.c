/* Alerts on the management server: the real `niobium server` with an API token accepts
 * monitor alerts at POST /api/alerts (one or an array), refuses malformed, incomplete, too
 * large and unauthenticated posts with JSON errors, lists them newest first and streams each
 * as an ALERT event on /api/events. */
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

#define TOKEN "alert-test-token-1"

typedef struct {
  char dir[64], db[128], coap[32], http[32], base[64];
} env;

static void env_init(env *e) {
  snprintf(e->dir, sizeof(e->dir), "/tmp/nb-e2e-alerts-XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  snprintf(e->db, sizeof(e->db), "%s/server.db", e->dir);
  snprintf(e->coap, sizeof(e->coap), "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(e->http, sizeof(e->http), "127.0.0.1:%u", hp);
  snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%u", hp);
}

static void env_cleanup(env *e) {
  char p[160];
  const char *sfx[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof(p), "%s%s", e->db, sfx[i]);
    unlink(p);
  }
  rmdir(e->dir);
}

static void expect(const env *e, const char *method, const char *path, const char *body,
                   const char *token, const char *status, const char *needle) {
  char *out = nb_test_http_auth(e->base, method, path, body, token);
  assert_non_null(out);
  const char *bar = strrchr(out, '|');
  if (!bar || strcmp(bar + 1, status) != 0 || (needle && !strstr(out, needle)))
    fail_msg("%s %s: got '%.300s', wanted %s and '%s'", method, path, out, status,
             needle ? needle : "");
  free(out);
}

static const char alert1[] =
    "{\"ts\":1700000000.5,\"event\":\"alert\",\"packet\":7,\"src\":\"10.0.0.5\","
    "\"sport\":40000,\"dst\":\"10.0.0.1\",\"dport\":5683,\"transport\":\"coap\","
    "\"endpoint\":\"dev-a\",\"rule\":\"cleartext-credentials\",\"severity\":\"high\","
    "\"message\":\"Security object written over NoSec\",\"evidence\":[5,7],\"path\":\"/0/1/5\"}";

static void test_alerts_route(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  env_init(&e);
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "server",
                  "--coap",
                  e.coap,
                  "--http",
                  e.http,
                  "--db",
                  e.db,
                  "--api-token",
                  TOKEN,
                  NULL};
  nb_test_proc srv;
  assert_true(nb_test_proc_start(&srv, argv));
  assert_true(nb_test_proc_wait_output(&srv, true, "proto=http", 10000));

  char sse_url[160];
  snprintf(sse_url, sizeof(sse_url), "%s/api/events", e.base);
  char *cargv[] = {"curl", "-s", "-N", "-H", "Authorization: Bearer " TOKEN, sse_url, NULL};
  nb_test_proc sse;
  assert_true(nb_test_proc_start(&sse, cargv));
  assert_true(nb_test_proc_wait_output(&sse, false, ": connected", 10000));

  /* The token is required, as on every route. */
  expect(&e, "POST", "/api/alerts", alert1, NULL, "401", "\"code\":\"4.01\"");
  expect(&e, "GET", "/api/alerts", NULL, "wrong", "401", "\"code\":\"4.01\"");
  /* Malformed JSON, missing rule or severity, empty array: 400. */
  expect(&e, "POST", "/api/alerts", "{\"rule\":", TOKEN, "400", "bad JSON");
  expect(&e, "POST", "/api/alerts", "{\"severity\":\"high\"}", TOKEN, "400", "\\\"rule\\\"");
  expect(&e, "POST", "/api/alerts", "{\"rule\":\"scanning\"}", TOKEN, "400", "\\\"severity\\\"");
  expect(&e, "POST", "/api/alerts", "[]", TOKEN, "400", "\"code\":\"4.00\"");
  /* Too large: one alert beyond 8 KiB, and a body beyond the API's 64 KiB. */
  size_t big_len = 70000;
  char *big = malloc(big_len + 64);
  assert_non_null(big);
  int n = snprintf(big, 64, "{\"rule\":\"x\",\"severity\":\"low\",\"pad\":\"");
  memset(big + n, 'p', 9000);
  strcpy(big + n + 9000, "\"}");
  expect(&e, "POST", "/api/alerts", big, TOKEN, "413", "\"code\":\"4.13\"");
  memset(big + n, 'p', big_len - (size_t)n);
  strcpy(big + big_len, "\"}");
  expect(&e, "POST", "/api/alerts", big, TOKEN, "413", "\"code\":\"4.13\"");
  free(big);
  expect(&e, "GET", "/api/alerts", NULL, TOKEN, "200", NULL);
  char *out = nb_test_http_auth(e.base, "GET", "/api/alerts", NULL, TOKEN);
  assert_string_equal(out, "[]|200"); /* nothing refused was stored */
  free(out);

  /* One alert, then an array of two. */
  expect(&e, "POST", "/api/alerts", alert1, TOKEN, "201", "\"ids\":[1]");
  assert_true(nb_test_proc_wait_output(&sse, false, "event: ALERT", 5000));
  assert_true(nb_test_proc_wait_output(&sse, false, "\"rule\":\"cleartext-credentials\"", 5000));
  expect(&e, "POST", "/api/alerts",
         "[{\"rule\":\"scanning\",\"severity\":\"medium\",\"src\":\"10.0.0.9\"},"
         "{\"rule\":\"dtls-alert-burst\",\"severity\":\"high\",\"endpoint\":\"dev-b\"}]",
         TOKEN, "201", "\"accepted\":2");
  assert_true(nb_test_proc_wait_output(&sse, false, "\"rule\":\"dtls-alert-burst\"", 5000));
  /* Newest first, bounded by ?limit. */
  expect(&e, "GET", "/api/alerts?limit=1", NULL, TOKEN, "200", "\"rule\":\"dtls-alert-burst\"");
  out = nb_test_http_auth(e.base, "GET", "/api/alerts?limit=1", NULL, TOKEN);
  assert_null(strstr(out, "scanning"));
  free(out);
  out = nb_test_http_auth(e.base, "GET", "/api/alerts", NULL, TOKEN);
  char *third = strstr(out, "dtls-alert-burst"), *second = strstr(out, "scanning"),
       *first = strstr(out, "cleartext-credentials");
  assert_true(third && second && first && third < second && second < first);
  assert_non_null(strstr(out, "\"receivedAt\":"));
  assert_non_null(strstr(out, "\"reporter\":\"api@127.0.0.1"));
  assert_non_null(strstr(out, "\"evidence\":[5,7]"));
  free(out);
  expect(&e, "GET", "/api/alerts?limit=0", NULL, TOKEN, "400", "limit");
  expect(&e, "DELETE", "/api/alerts", NULL, TOKEN, "405", "\"code\":\"4.05\"");

  nb_test_proc_cleanup(&sse);
  nb_test_proc_cleanup(&srv);
  env_cleanup(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_alerts_route)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
