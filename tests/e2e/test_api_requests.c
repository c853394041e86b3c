/* REST routes for what a device request leaves behind, with the real binaries (`niobium
 * server`, `niobium client` with commands through --prompt from a FIFO), driven with curl:
 *  - an Observe-Composite is cancelled by its path set (DELETE .../composite/observe?paths=,
 *    in any order) and any observation by its ID (DELETE .../observations/{id});
 *  - a request to a sleeping queue-mode device answers 202 QUEUED with a requestId whose
 *    state (GET /api/requests/{id}: QUEUED, then DONE with the very answer a direct request
 *    gets) and REQUEST_RESULT event follow it when the device wakes; a queued request is
 *    cancelled with DELETE (then CANCELLED; a finished one gets 409);
 *  - answers name their status as docs/openapi.yaml and Leshan do ("CONTENT", "CHANGED"), a
 *    whole float is a JSON real (30.0), and the client's `send` names a path it lacks. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_test.h"

typedef struct {
  char dir[64], db[128], fifo[128], base[64], server_uri[64];
  nb_test_proc srv, cl, sse;
  int fd; /* the client's stdin */
} env;

static char *req(const env *e, const char *method, const char *path, const char *body) {
  char *out = nb_test_http(e->base, method, path, body);
  if (!out) fail_msg("curl: %s %s got no answer", method, path);
  return out;
}

/* The answer (heap) after checking its status and, when given, a needle in it. */
static char *expect(const env *e, const char *method, const char *path, const char *body,
                    const char *status, const char *needle) {
  char *out = req(e, method, path, body);
  if (!strstr(out, status) || (needle && !strstr(out, needle)))
    fail_msg("%s %s: got '%s', wanted %s and '%s'", method, path, out, status,
             needle ? needle : "");
  return out;
}

static void check(const env *e, const char *method, const char *path, const char *body,
                  const char *status, const char *needle) {
  free(expect(e, method, path, body, status, needle));
}

/* Polls GET path until its answer holds needle (or, with present false, no longer does). */
static bool wait_until(const env *e, const char *path, const char *needle, bool present, int ms) {
  for (int t = 0; t < ms; t += 100) {
    char *out = req(e, "GET", path, NULL);
    bool ok = (strstr(out, needle) != NULL) == present;
    free(out);
    if (ok) return true;
    usleep(100 * 1000);
  }
  return false;
}

static bool wait_for(const env *e, const char *path, const char *needle, int ms) {
  return wait_until(e, path, needle, true, ms);
}

static void say(const env *e, const char *line) {
  size_t n = strlen(line);
  assert_int_equal(write(e->fd, line, n), (ssize_t)n);
}

/* Server (queue-mode devices asleep 2 s after they spoke), an event stream of dev1, and
 * `niobium client` dev1 with extra options. */
static void start(env *e, const char *client_opts) {
  memset(e, 0, sizeof *e);
  snprintf(e->dir, sizeof e->dir, "/tmp/nb-e2e-apireq-XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  snprintf(e->db, sizeof e->db, "%s/server.db", e->dir);
  snprintf(e->fifo, sizeof e->fifo, "%s/stdin", e->dir);
  assert_int_equal(mkfifo(e->fifo, 0600), 0);
  uint16_t cp = nb_test_free_port(SOCK_DGRAM), hp = nb_test_free_port(SOCK_STREAM);
  char coap[32], http[32], sse_url[160], cmd[1024];
  snprintf(coap, sizeof coap, "127.0.0.1:%u", cp);
  snprintf(http, sizeof http, "127.0.0.1:%u", hp);
  snprintf(e->base, sizeof e->base, "http://127.0.0.1:%u", hp);
  snprintf(e->server_uri, sizeof e->server_uri, "coap://127.0.0.1:%u", cp);
  char *sargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "server",
                   "--coap",
                   coap,
                   "--http",
                   http,
                   "--db",
                   e->db,
                   "--queue-timeout",
                   "2",
                   NULL};
  assert_true(nb_test_proc_start(&e->srv, sargv));
  assert_true(nb_test_proc_wait_output(&e->srv, true, "proto=http", 10000));
  snprintf(sse_url, sizeof sse_url, "%s/api/events?ep=dev1", e->base);
  char *cargv[] = {"curl", "-s", "-N", sse_url, NULL};
  assert_true(nb_test_proc_start(&e->sse, cargv));
  assert_true(nb_test_proc_wait_output(&e->sse, false, ": connected", 10000));
  snprintf(cmd, sizeof cmd,
           "exec '%s' client --server %s --endpoint dev1 --lifetime 300 --objects ipso "
           "--sensor-interval 3600 %s --prompt < '%s'",
           nb_test_env("NB_BINARY"), e->server_uri, client_opts, e->fifo);
  char *clargv[] = {"sh", "-c", cmd, NULL};
  assert_true(nb_test_proc_start(&e->cl, clargv));
  e->fd = open(e->fifo, O_WRONLY); /* blocks until the shell opens the reading end */
  assert_true(e->fd >= 0);
  assert_true(nb_test_proc_wait_output(&e->cl, false, "registered ssid=1", 10000));
}

static void stop(env *e) {
  close(e->fd);
  nb_test_proc_stop(&e->cl);
  nb_test_proc_cleanup(&e->cl);
  nb_test_proc_stop(&e->sse);
  nb_test_proc_cleanup(&e->sse);
  kill(e->srv.pid, SIGTERM); /* it ran cleanly all along: it exits 0 */
  assert_int_equal(nb_test_proc_wait(&e->srv, 20000), 0);
  nb_test_proc_cleanup(&e->srv);
  char rm[128];
  snprintf(rm, sizeof rm, "rm -rf '%s'", e->dir);
  assert_int_equal(system(rm), 0);
}

/* The decimal number after key in text. */
static unsigned long long number_after(const char *text, const char *key) {
  const char *at = strstr(text, key);
  assert_non_null(at);
  return strtoull(at + strlen(key), NULL, 10);
}

static void test_observation_cancels(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  start(&e, "");
  char *out = expect(&e, "POST", "/api/clients/dev1/composite",
                     "{\"paths\":[\"/3303/0/5700\",\"/3/0/0\"],\"observe\":true}", "|200",
                     "\"observationId\":");
  unsigned long long composite = number_after(out, "\"observationId\":");
  free(out);
  out = expect(&e, "POST", "/api/clients/dev1/3303/0/5700/observe", NULL, "|200",
               "\"observationId\":");
  unsigned long long single = number_after(out, "\"observationId\":");
  free(out);
  check(&e, "GET", "/api/clients/dev1/observations", NULL, "|200", "\"composite\":true");
  /* The composite one by its path set, given in another order. */
  check(&e, "DELETE", "/api/clients/dev1/composite/observe?paths=/3/0/0,/3303/0/5700", NULL, "|200",
        "\"cancelled\":1");
  /* Gone once the device answered the cancelling GET. */
  char id[64];
  snprintf(id, sizeof id, "\"observationId\":%llu", composite);
  if (!wait_until(&e, "/api/clients/dev1/observations", id, false, 10000)) {
    char *o = req(&e, "GET", "/api/clients/dev1/observations", NULL);
    fail_msg("still observed: %s (%s)", o, id);
  }
  check(&e, "GET", "/api/clients/dev1/observations", NULL, "|200", "\"composite\":false");
  check(&e, "DELETE", "/api/clients/dev1/composite/observe?paths=/3/0/0,/3303/0/5700", NULL, "|404",
        NULL);
  check(&e, "DELETE", "/api/clients/dev1/composite/observe", NULL, "|400", "?paths=");
  /* The single one by its ID. */
  char path[96];
  snprintf(path, sizeof path, "/api/clients/dev1/observations/%llu", single);
  check(&e, "DELETE", path, NULL, "|200", "\"cancelled\":1");
  assert_true(wait_until(&e, "/api/clients/dev1/observations", "[]|200", true, 10000));
  check(&e, "DELETE", path, NULL, "|404", NULL);
  stop(&e);
}

/* Status names as docs/openapi.yaml and Leshan give them; a float as a JSON real; the client's
 * stdin `send` says which path it cannot find. */
static void test_status_names(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  start(&e, "");
  check(&e, "GET", "/api/clients/dev1/3/0/0", NULL, "|200", "\"status\":\"CONTENT\"");
  check(&e, "PUT", "/api/clients/dev1/1/0/1", "{\"value\": 240}", "|200", "\"status\":\"CHANGED\"");
  say(&e, "set /3303/0/5700 30\n"); /* a whole temperature: still a JSON real */
  assert_true(wait_for(&e, "/api/clients/dev1/3303/0/5700", "\"value\":30.0}", 10000));
  /* The client's `send` names the path it cannot find. */
  say(&e, "send /3303/0/5700 /3/0/99\n");
  assert_true(nb_test_proc_wait_output(&e.cl, false,
                                       "error: send: /3/0/99 not found on this device", 10000));
  say(&e, "send /3303/0/5700\n");
  assert_true(nb_test_proc_wait_output(&e.sse, false, "event: SEND", 10000));
  stop(&e);
}

static void test_queued_request_result(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  start(&e, "--binding UQ --queue-timeout 1");
  assert_true(wait_for(&e, "/api/clients/dev1", "\"awake\":false", 15000));
  /* Asleep: queued, with an ID whose record says so. */
  char *out = expect(&e, "GET", "/api/clients/dev1/3/0/0", NULL, "|202", "\"status\":\"QUEUED\"");
  unsigned long long id = number_after(out, "\"requestId\":");
  free(out);
  char path[64];
  snprintf(path, sizeof path, "/api/requests/%llu", id);
  check(&e, "GET", path, NULL, "|200", "\"state\":\"QUEUED\"");
  check(&e, "GET", path, NULL, "|200", "\"operation\":\"read\"");
  /* The device wakes (an Update): the request goes out, its answer is kept and streamed. */
  say(&e, "update\n");
  assert_true(wait_for(&e, path, "\"state\":\"DONE\"", 15000));
  out = expect(&e, "GET", path, NULL, "|200", "\"httpStatus\":200");
  assert_non_null(strstr(out, "\"result\":{\"status\":\"CONTENT\",\"code\":\"2.05\""));
  assert_non_null(strstr(out, "\"value\":\"Niobium\""));
  assert_non_null(strstr(out, "\"path\":\"/3/0/0\""));
  free(out);
  assert_true(nb_test_proc_wait_output(&e.sse, false, "event: REQUEST_RESULT", 10000));
  char *frames = nb_test_proc_stdout(&e.sse);
  char want[64];
  snprintf(want, sizeof want, "\"requestId\":%llu", id);
  assert_non_null(strstr(strstr(frames, "event: REQUEST_RESULT"), want));
  free(frames);
  /* A finished request cannot be cancelled any more. */
  check(&e, "DELETE", path, NULL, "|409", "already ended");
  /* Asleep again: a second one, cancelled while queued. */
  assert_true(wait_for(&e, "/api/clients/dev1", "\"awake\":false", 15000));
  out = expect(&e, "PUT", "/api/clients/dev1/1/0/1", "{\"value\": 120}", "|202", "QUEUED");
  unsigned long long id2 = number_after(out, "\"requestId\":");
  free(out);
  assert_true(id2 > id);
  snprintf(path, sizeof path, "/api/requests/%llu", id2);
  check(&e, "DELETE", path, NULL, "|200", "\"state\":\"CANCELLED\"");
  check(&e, "GET", path, NULL, "|200", "\"state\":\"CANCELLED\"");
  check(&e, "DELETE", path, NULL, "|409", NULL);
  check(&e, "GET", "/api/requests/1", NULL, "|404", "only requests answered 202");
  check(&e, "GET", "/api/requests/x", NULL, "|404", NULL);
  stop(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_observation_cancels),
      cmocka_unit_test(test_status_names),
      cmocka_unit_test(test_queued_request_result),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
