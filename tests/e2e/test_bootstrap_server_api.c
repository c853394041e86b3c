/* `niobium server --with-bootstrap` end to end: both roles in one process with the real binary,
 * driven over the REST API with curl. A `niobium client --bootstrap` in NoSec waits as pending,
 * is approved over REST, gets its config, registers with the same process (GET /api/clients),
 * and the event stream shows BOOTSTRAP_REQUEST (MONITOR 2.03), _PENDING, _APPROVED, _FINISHED
 * and REGISTRATION. Also config CRUD, out-of-band secure IDs, rejection and the 4xx errors. */
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

typedef struct {
  char dir[64], db[128], coap[32], bs[32], http[32], base[64];
  nb_test_proc srv;
} env;

/* curl with method and optional body; returns "body|status" (heap). */
static char *req(const env *e, const char *method, const char *path, const char *body) {
  char *out = nb_test_http(e->base, method, path, body);
  assert_non_null(out);
  return out;
}

static void expect(const env *e, const char *method, const char *path, const char *body,
                   const char *status, const char *needle) {
  char *out = req(e, method, path, body);
  if (!strstr(out, status) || (needle && !strstr(out, needle)))
    fail_msg("%s %s: got '%s', wanted %s and '%s'", method, path, out, status,
             needle ? needle : "");
  free(out);
}

static bool wait_for(const env *e, const char *path, const char *needle, int ms) {
  for (int t = 0; t < ms; t += 100) {
    char *out = req(e, "GET", path, NULL);
    bool ok = strstr(out, needle) != NULL;
    free(out);
    if (ok) return true;
    usleep(100 * 1000);
  }
  return false;
}

static const char *start_queue_timeout; /* --queue-timeout for the next start, or NULL */

static int start(void **state, const char *policy) {
  static env e;
  memset(&e, 0, sizeof e);
  snprintf(e.dir, sizeof e.dir, "/tmp/nb-e2e-bsapi-XXXXXX");
  if (!mkdtemp(e.dir)) return -1;
  snprintf(e.db, sizeof e.db, "%s/nb.db", e.dir);
  snprintf(e.coap, sizeof e.coap, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  snprintf(e.bs, sizeof e.bs, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(e.http, sizeof e.http, "127.0.0.1:%u", hp);
  snprintf(e.base, sizeof e.base, "http://127.0.0.1:%u", hp);
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "server",
                  "--coap",
                  e.coap,
                  "--http",
                  e.http,
                  "--db",
                  e.db,
                  "--with-bootstrap",
                  "--bs-coap",
                  e.bs,
                  "--bs-policy",
                  (char *)policy,
                  NULL,
                  NULL,
                  NULL};
  if (start_queue_timeout) {
    argv[13] = "--queue-timeout";
    argv[14] = (char *)start_queue_timeout;
  }
  if (!nb_test_proc_start(&e.srv, argv)) return -1;
  if (!nb_test_proc_wait_output(&e.srv, true, "proto=http", 10000)) return -1;
  *state = &e;
  return 0;
}

static int start_approve(void **state) { return start(state, "approve"); }
/* Auto policy; a queue-mode client counts as asleep 2 s after it spoke. */
static int start_auto_queue(void **state) {
  start_queue_timeout = "2";
  int rc = start(state, "auto");
  start_queue_timeout = NULL;
  return rc;
}

static int stop(void **state) {
  env *e = *state;
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

/* The configs under /api/bootstrap/configs, then the thesis flow with approval over REST. */
static void test_approve_over_rest(void **state) {
  env *e = *state;
  if (!nb_test_have_program("curl")) skip();
  char body[512];
  snprintf(body, sizeof body,
           "{\"servers\":[{\"uri\":\"coap://%s\",\"ssid\":101,\"lifetime\":300,"
           "\"binding\":\"U\",\"security\":\"nosec\"}]}",
           e->coap);
  expect(e, "GET", "/api/bootstrap/configs/default", NULL, "|404", NULL);
  expect(e, "PUT", "/api/bootstrap/configs/default", body, "|201", "\"endpoint\":null");
  expect(e, "PUT", "/api/bootstrap/configs/default", body, "|200", "\"lifetime\":300");
  expect(e, "PUT", "/api/bootstrap/configs/dev-x", body, "|201", "\"endpoint\":\"dev-x\"");
  expect(e, "GET", "/api/bootstrap/configs", NULL, "|200", "\"endpoint\":\"dev-x\"");
  expect(e, "DELETE", "/api/bootstrap/configs/dev-x", NULL, "|200", "\"deleted\":\"dev-x\"");
  expect(e, "GET", "/api/bootstrap/configs/dev-x", NULL, "|404", NULL);
  expect(e, "PUT", "/api/bootstrap/configs/dev-x",
         "{\"servers\":[{\"uri\":\"coap://h:1\","
         "\"security\":\"psk\"}]}",
         "|400", NULL); /* coap:// with psk */
  /* An explicit PSK is stored but never shown. */
  char psk_body[512];
  snprintf(psk_body, sizeof psk_body,
           "{\"servers\":[{\"uri\":\"coaps://%s\",\"ssid\":102,\"security\":\"psk\","
           "\"psk_identity\":\"dev-k\",\"psk_key\":\"00112233445566778899aabbccddeeff\"}]}",
           e->coap);
  char *put = req(e, "PUT", "/api/bootstrap/configs/dev-k", psk_body);
  char *got = req(e, "GET", "/api/bootstrap/configs/dev-k", NULL);
  char *all = req(e, "GET", "/api/bootstrap/configs", NULL);
  assert_non_null(strstr(put, "|201"));
  assert_non_null(strstr(got, "\"psk_key_set\":true"));
  assert_null(strstr(put, "00112233445566778899aabbccddeeff"));
  assert_null(strstr(got, "00112233445566778899aabbccddeeff"));
  assert_null(strstr(all, "00112233445566778899aabbccddeeff"));
  free(put);
  free(got);
  free(all);
  expect(e, "DELETE", "/api/bootstrap/configs/dev-k", NULL, "|200", NULL);
  expect(e, "PUT", "/api/bootstrap/configs/dev-x", "not json", "|400", NULL);
  expect(e, "POST", "/api/bootstrap/configs/default", body, "|405", NULL);
  expect(e, "GET", "/api/bootstrap/nothing", NULL, "|404", NULL);
  /* Out-of-band secure IDs. */
  expect(e, "PUT", "/api/bootstrap/expected/dev-r",
         "{\"secureId\":\"0123456789abcdef0123456789abcd\"}", "|200",
         "\"secureId\":\"0123456789abcdef0123456789abcd\"");
  expect(e, "PUT", "/api/bootstrap/expected/dev-r", "{\"secureId\":\"XYZ\"}", "|400", NULL);
  expect(e, "DELETE", "/api/bootstrap/expected/dev-r", NULL, "|200", NULL);
  expect(e, "DELETE", "/api/bootstrap/expected/dev-r", NULL, "|404", NULL);
  expect(e, "POST", "/api/bootstrap/pending/nobody/approve", NULL, "|404", NULL);

  char sse_url[160];
  snprintf(sse_url, sizeof sse_url, "%s/api/events?ep=dev-a", e->base);
  char *cargv[] = {"curl", "-s", "-N", sse_url, NULL};
  nb_test_proc sse, cli;
  assert_true(nb_test_proc_start(&sse, cargv));
  assert_true(nb_test_proc_wait_output(&sse, false, ": connected", 10000));
  start_client(e, &cli, "dev-a");
  assert_true(wait_for(e, "/api/bootstrap/pending", "\"endpoint\":\"dev-a\"", 10000));
  expect(e, "GET", "/api/clients", NULL, "|200", "[]"); /* not before approval */
  expect(e, "GET", "/api/bootstrap/pending/dev-a/approve", NULL, "|405", NULL);
  expect(e, "POST", "/api/bootstrap/pending/dev-a/approve", NULL, "|200",
         "\"decision\":\"approved\"");
  assert_true(wait_for(e, "/api/clients", "\"endpoint\":\"dev-a\"", 15000));
  expect(e, "GET", "/api/clients/dev-a", NULL, "|200", "\"lifetime\":300");
  expect(e, "GET", "/api/bootstrap/pending", NULL, "|200", "[]");
  static const char *const frames[] = {"event: BOOTSTRAP_REQUEST",  "\"status\":\"2.03\"",
                                       "event: BOOTSTRAP_PENDING",  "event: BOOTSTRAP_APPROVED",
                                       "event: BOOTSTRAP_FINISHED", "event: REGISTRATION"};
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
  assert_true(ordered); /* in protocol order */
  nb_test_proc_stop(&cli);
  nb_test_proc_cleanup(&cli);
  nb_test_proc_stop(&sse);
  nb_test_proc_cleanup(&sse);
}

/* Rejection over REST answers the device and shows on the stream; it never registers. */
static void test_reject_over_rest(void **state) {
  env *e = *state;
  if (!nb_test_have_program("curl")) skip();
  char body[256];
  snprintf(body, sizeof body,
           "{\"servers\":[{\"uri\":\"coap://%s\",\"ssid\":101,\"security\":\"nosec\"}]}", e->coap);
  expect(e, "PUT", "/api/bootstrap/configs/dev-b", body, "|201", NULL);
  char sse_url[160];
  snprintf(sse_url, sizeof sse_url, "%s/api/events?ep=dev-b", e->base);
  char *cargv[] = {"curl", "-s", "-N", sse_url, NULL};
  nb_test_proc sse, cli;
  assert_true(nb_test_proc_start(&sse, cargv));
  assert_true(nb_test_proc_wait_output(&sse, false, ": connected", 10000));
  start_client(e, &cli, "dev-b");
  assert_true(wait_for(e, "/api/bootstrap/pending", "\"endpoint\":\"dev-b\"", 10000));
  expect(e, "POST", "/api/bootstrap/pending/dev-b/reject", NULL, "|200",
         "\"decision\":\"rejected\"");
  assert_true(nb_test_proc_wait_output(&sse, false, "event: BOOTSTRAP_REJECTED", 5000));
  expect(e, "POST", "/api/bootstrap/pending/dev-b/reject", NULL, "|404", NULL);
  assert_true(nb_test_proc_wait_output(&e->srv, true, "event=BOOTSTRAP_REJECTED ep=dev-b", 5000));
  expect(e, "GET", "/api/clients/dev-b", NULL, "|404", NULL);
  nb_test_proc_stop(&cli);
  nb_test_proc_cleanup(&cli);
  nb_test_proc_stop(&sse);
  nb_test_proc_cleanup(&sse);
}

static size_t count_of(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

/* Polls the captured event stream until needle occurs `times` times. */
static bool wait_count(const nb_test_proc *sse, const char *needle, size_t times, int ms) {
  for (int t = 0; t < ms; t += 100) {
    char *out = nb_test_proc_stdout(sse);
    bool ok = count_of(out, needle) >= times;
    free(out);
    if (ok) return true;
    usleep(100 * 1000);
  }
  return false;
}

/* F7 end to end: a LwM2M 1.1 `niobium client` bootstrapped into queue mode (binding UQ, 8 s
 * lifetime, asleep after 1 idle second) is asleep when the operator executes the
 * Bootstrap-Request Trigger (/1/0/9) over REST: the request answers 202 queued and nothing
 * happens until the device's Update; then the Execute goes out, the device bootstraps again
 * and registers anew. */
static void test_trigger_sleeping_client_over_rest(void **state) {
  env *e = *state;
  if (!nb_test_have_program("curl")) skip();
  char body[256];
  snprintf(body, sizeof body,
           "{\"servers\":[{\"uri\":\"coap://%s\",\"ssid\":101,\"lifetime\":8,"
           "\"binding\":\"UQ\",\"security\":\"nosec\"}]}",
           e->coap);
  expect(e, "PUT", "/api/bootstrap/configs/dev-q", body, "|201", NULL);
  char sse_url[160];
  snprintf(sse_url, sizeof sse_url, "%s/api/events?ep=dev-q", e->base);
  char *cargv[] = {"curl", "-s", "-N", sse_url, NULL};
  nb_test_proc sse, cli;
  assert_true(nb_test_proc_start(&sse, cargv));
  assert_true(nb_test_proc_wait_output(&sse, false, ": connected", 10000));
  char uri[64];
  snprintf(uri, sizeof uri, "coap://%s", e->bs);
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "client",
                  "--bootstrap",
                  uri,
                  "--endpoint",
                  "dev-q",
                  "--version",
                  "1.1",
                  "--queue-timeout",
                  "1",
                  NULL};
  assert_true(nb_test_proc_start(&cli, argv));
  assert_true(wait_count(&sse, "event: REGISTRATION", 1, 15000));
  expect(e, "GET", "/api/clients/dev-q", NULL, "|200", "\"queueMode\":true");
  /* Asleep for the server: the Execute waits in its queue. */
  assert_true(wait_count(&sse, "event: SLEEPING", 1, 10000));
  expect(e, "POST", "/api/clients/dev-q/1/0/9", NULL, "|202", "\"status\":\"QUEUED\"");
  char *now = nb_test_proc_stdout(&sse);
  size_t updates_before = count_of(now, "event: UPDATED");
  free(now);
  assert_true(wait_count(&sse, "event: BOOTSTRAP_FINISHED", 2, 30000));
  assert_true(wait_count(&sse, "event: REGISTRATION", 2, 15000));
  assert_true(nb_test_proc_wait_output(&e->srv, true, "event=BOOTSTRAP_FINISHED ep=dev-q", 5000));
  char *out = nb_test_proc_stdout(&sse);
  /* In order: asleep, woken by its own Update, then the second bootstrap. */
  const char *sleep_at = strstr(out, "event: SLEEPING");
  const char *fin1 = strstr(out, "event: BOOTSTRAP_FINISHED");
  const char *fin2 = fin1 ? strstr(fin1 + 1, "event: BOOTSTRAP_FINISHED") : NULL;
  const char *upd = sleep_at ? strstr(sleep_at, "event: UPDATED") : NULL;
  bool ok = fin2 && upd && fin1 < sleep_at && upd < fin2 &&
            count_of(out, "event: UPDATED") > updates_before &&
            count_of(out, "event: BOOTSTRAP_REQUEST") == 2 &&
            count_of(out, "event: BOOTSTRAP_FAILED") == 0;
  if (!ok) fprintf(stderr, "stream: %s\n", out);
  free(out);
  assert_true(ok);
  expect(e, "GET", "/api/clients/dev-q", NULL, "|200", "\"endpoint\":\"dev-q\"");
  nb_test_proc_stop(&cli);
  nb_test_proc_cleanup(&cli);
  nb_test_proc_stop(&sse);
  nb_test_proc_cleanup(&sse);
}

/* Without --with-bootstrap the routes do not exist, and --bs-* alone is a usage error. */
static void test_without_bootstrap(void **state) {
  (void)state;
  char *out = NULL;
  char *argv[] = {(char *)nb_test_env("NB_BINARY"), "server", "--bs-coap", "127.0.0.1:1", NULL};
  assert_int_equal(nb_test_run(argv, 10000, &out), 2);
  free(out);
  char *argv2[] = {
      (char *)nb_test_env("NB_BINARY"), "server", "--with-bootstrap", "--bs-policy", "maybe", NULL};
  assert_int_equal(nb_test_run(argv2, 10000, &out), 2);
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_approve_over_rest, start_approve, stop),
      cmocka_unit_test_setup_teardown(test_reject_over_rest, start_approve, stop),
      cmocka_unit_test_setup_teardown(test_trigger_sleeping_client_over_rest, start_auto_queue,
                                      stop),
      cmocka_unit_test(test_without_bootstrap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
