/* Alerts on the management server: the real `niobium server` with an API token accepts
 * monitor alerts at POST /api/alerts (one or an array), refuses malformed, incomplete, too
 * large and unauthenticated posts with JSON errors, lists them newest first and streams each
 * as an ALERT event on /api/events. Then `niobium monitor -i lo --server-api` posts the alerts
 * of live attack traffic while it captures, and a monitor reading a crafted pcap counts the
 * alerts it could not deliver (wrong token, no server) and exits 1. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_test.h"
#include "pcap_craft.h"

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
  char *out = nb_test_http_auth(e->base, token, method, path, body);
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

static void start_server(env *e, nb_test_proc *srv) {
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
  assert_true(nb_test_proc_start(srv, argv));
  assert_true(nb_test_proc_wait_output(srv, true, "proto=http", 10000));
}

static void start_sse(const env *e, nb_test_proc *sse) {
  static char sse_url[160];
  snprintf(sse_url, sizeof(sse_url), "%s/api/events", e->base);
  char *cargv[] = {"curl", "-s", "-N", "-H", "Authorization: Bearer " TOKEN, sse_url, NULL};
  assert_true(nb_test_proc_start(sse, cargv));
  assert_true(nb_test_proc_wait_output(sse, false, ": connected", 10000));
}

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
  char *out = nb_test_http_auth(e.base, TOKEN, "GET", "/api/alerts", NULL);
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
  out = nb_test_http_auth(e.base, TOKEN, "GET", "/api/alerts?limit=1", NULL);
  assert_null(strstr(out, "scanning"));
  free(out);
  out = nb_test_http_auth(e.base, TOKEN, "GET", "/api/alerts", NULL);
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

static bool alerts_contain(const env *e, const char *needle, int ms) {
  for (int t = 0; t < ms; t += 100) {
    char *out = nb_test_http_auth(e->base, TOKEN, "GET", "/api/alerts", NULL);
    bool ok = out && strstr(out, needle);
    free(out);
    if (ok) return true;
    usleep(100 * 1000);
  }
  return false;
}

/* A datagram too short to be CoAP: the malformed-coap rule fires at the first one. */
static void send_garbage(int fd, uint16_t port) {
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  static const uint8_t junk[3] = {0x40, 0x01, 0x00};
  sendto(fd, junk, sizeof junk, 0, (struct sockaddr *)&to, sizeof to);
}

static void test_monitor_live_posts(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  env_init(&e);
  nb_test_proc srv, sse, mon;
  start_server(&e, &srv);
  start_sse(&e, &sse);
  uint16_t port = nb_test_free_port(SOCK_DGRAM);
  char filter[64], ports[16];
  snprintf(filter, sizeof filter, "udp dst port %u", port);
  snprintf(ports, sizeof ports, "%u", port);
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "monitor",
                  "--interface",
                  "lo",
                  "--filter",
                  filter,
                  "--coap-ports",
                  ports,
                  "--alerts-only",
                  "--server-api",
                  e.base,
                  "--api-token",
                  TOKEN,
                  NULL};
  assert_true(nb_test_proc_start(&mon, argv));
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  /* The capture starts some time after the process: send until the server has the alert,
   * which the monitor posts while it keeps capturing. */
  bool posted = false;
  for (int i = 0; i < 100 && !posted; i++) {
    send_garbage(fd, port);
    posted = alerts_contain(&e, "\"rule\":\"malformed-coap\"", 200);
    siginfo_t info = {0};
    if (!posted && waitid(P_PID, (id_t)mon.pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid) {
      char *err = nb_test_proc_stderr(&mon);
      bool no_rights = strstr(err, "cannot capture") != NULL;
      free(err);
      if (no_rights) skip(); /* no capture rights here */
      fail_msg("the monitor exited early");
    }
  }
  close(fd);
  assert_true(posted);
  assert_true(nb_test_proc_wait_output(&sse, false, "event: ALERT", 5000));
  assert_true(nb_test_proc_wait_output(&sse, false, "\"rule\":\"malformed-coap\"", 5000));
  char *list = nb_test_http_auth(e.base, TOKEN, "GET", "/api/alerts", NULL);
  assert_non_null(strstr(list, "\"severity\":\"low\""));
  assert_non_null(strstr(list, "\"evidence\":["));
  free(list);
  kill(mon.pid, SIGTERM);
  assert_int_equal(nb_test_proc_wait(&mon, 15000), 0);
  char *out = nb_test_proc_stdout(&mon);
  assert_non_null(strstr(out, "\"event\":\"alert\""));
  assert_non_null(strstr(out, "\"server_api\":{\"alerts\":1,\"delivered\":1,\"pending\":0"));
  free(out);
  nb_test_proc_cleanup(&mon);
  nb_test_proc_cleanup(&sse);
  nb_test_proc_cleanup(&srv);
  env_cleanup(&e);
}

/* A crafted capture with three malformed datagrams from three sources: three alerts. */
static void craft_attack(const char *path) {
  nb_pcap_craft *c = nb_craft_open(path, 1, false);
  assert_non_null(c);
  static const uint8_t junk[3] = {0x40, 0x01, 0x00};
  const char *src[] = {"10.9.0.1:40000", "10.9.0.2:40000", "10.9.0.3:40000"};
  for (int i = 0; i < 3; i++)
    assert_int_equal(nb_craft_udp(c, 1700000000000000LL + i * 1000, src[i], "10.9.0.9:5683", junk,
                                  sizeof junk, NULL),
                     NB_OK);
  assert_true(nb_craft_close(c));
}

static int run_monitor(const char *pcap, const char *api, const char *token, char **out,
                       char **err) {
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "monitor",
                  "--read",
                  (char *)pcap,
                  "--alerts-only",
                  "--server-api",
                  (char *)api,
                  "--api-token",
                  (char *)token,
                  NULL};
  return nb_test_run_capture(argv, 60000, out, err);
}

static void test_monitor_file_delivery(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  env_init(&e);
  char pcap[160];
  snprintf(pcap, sizeof pcap, "%s/attack.pcap", e.dir);
  craft_attack(pcap);
  nb_test_proc srv;
  start_server(&e, &srv);
  char *out = NULL, *err = NULL;
  /* Delivered: all three, in one batch. */
  assert_int_equal(run_monitor(pcap, e.base, TOKEN, &out, &err), 0);
  assert_non_null(strstr(out,
                         "\"server_api\":{\"alerts\":3,\"delivered\":3,\"pending\":0,"
                         "\"rejected\":0,\"dropped\":0"));
  free(out);
  free(err);
  assert_true(alerts_contain(&e, "10.9.0.3", 1000));
  /* A wrong token: refused, counted, exit status 1. */
  assert_int_equal(run_monitor(pcap, e.base, "not-the-token", &out, &err), 1);
  assert_non_null(strstr(out, "\"rejected\":3"));
  assert_non_null(strstr(err, "3 of 3 alerts could not be delivered"));
  assert_non_null(strstr(err, "HTTP 401"));
  assert_null(strstr(err, "not-the-token")); /* the token is never printed */
  free(out);
  free(err);
  nb_test_proc_cleanup(&srv);
  /* No server: the alerts stay pending, are retried until the end, then reported. */
  assert_int_equal(run_monitor(pcap, e.base, TOKEN, &out, &err), 1);
  assert_non_null(strstr(out, "\"pending\":3"));
  assert_non_null(strstr(err, "3 undelivered"));
  free(out);
  free(err);
  /* Usage: a token without a URL, a URL that is not HTTP. */
  char *bad1[] = {
      (char *)nb_test_env("NB_BINARY"), "monitor", "--read", pcap, "--api-token", "x", NULL};
  assert_int_equal(nb_test_run_capture(bad1, 10000, NULL, NULL), 2);
  assert_int_equal(run_monitor(pcap, "ftp://x", TOKEN, NULL, &err), 1);
  assert_non_null(strstr(err, "http://"));
  free(err);
  unlink(pcap);
  env_cleanup(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_alerts_route),
                                     cmocka_unit_test(test_monitor_live_posts),
                                     cmocka_unit_test(test_monitor_file_delivery)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
