/* The "done when" cycle with real binaries on 127.0.0.1: `niobium client` (NoSec, IPSO
 * objects, commands through --prompt from a FIFO) against `niobium server` (free ports, a
 * temporary database), driven with curl over the REST API: registration listed, a read of the
 * manufacturer, a write read back, an observation whose notification a `set` on the client
 * triggers (event stream and history), and SIGTERM on the client ending in a DEREGISTRATION. */
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
  char dir[64], db[128], fifo[128], base[64];
} env;

/* curl with method and optional JSON body; returns "body|status" (heap). */
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

/* Polls GET path until the answer contains (present) or lacks (!present) needle. */
static bool wait_for(const env *e, const char *path, const char *needle, bool present, int ms) {
  for (int t = 0; t < ms; t += 100) {
    char *out = req(e, "GET", path, NULL);
    bool ok = (strstr(out, needle) != NULL) == present && strstr(out, "|200");
    free(out);
    if (ok) return true;
    usleep(100 * 1000);
  }
  return false;
}

static void say(int fd, const char *line) {
  size_t n = strlen(line);
  assert_int_equal(write(fd, line, n), (ssize_t)n);
}

static void test_client_server_cycle(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) {
    fprintf(stderr, "skipped: curl missing\n");
    skip();
  }
  env e;
  snprintf(e.dir, sizeof(e.dir), "/tmp/nb-e2e-cs-XXXXXX");
  assert_non_null(mkdtemp(e.dir));
  snprintf(e.db, sizeof(e.db), "%s/server.db", e.dir);
  snprintf(e.fifo, sizeof(e.fifo), "%s/stdin", e.dir);
  assert_int_equal(mkfifo(e.fifo, 0600), 0);
  uint16_t cp = nb_test_free_port(SOCK_DGRAM), hp = nb_test_free_port(SOCK_STREAM);
  char coap[32], http[32], server_uri[64];
  snprintf(coap, sizeof(coap), "127.0.0.1:%u", cp);
  snprintf(http, sizeof(http), "127.0.0.1:%u", hp);
  snprintf(e.base, sizeof(e.base), "http://127.0.0.1:%u", hp);
  snprintf(server_uri, sizeof(server_uri), "coap://127.0.0.1:%u", cp);

  char *sargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "server",
                   "--coap",
                   coap,
                   "--http",
                   http,
                   "--db",
                   e.db,
                   NULL};
  nb_test_proc srv;
  assert_true(nb_test_proc_start(&srv, sargv));
  assert_true(nb_test_proc_wait_output(&srv, true, "proto=http", 10000));

  char sse_url[160];
  snprintf(sse_url, sizeof(sse_url), "%s/api/events?ep=e2e-cs", e.base);
  char *cargv[] = {"curl", "-s", "-N", sse_url, NULL};
  nb_test_proc sse;
  assert_true(nb_test_proc_start(&sse, cargv));
  assert_true(nb_test_proc_wait_output(&sse, false, ": connected", 10000));

  /* The client reads its commands from the FIFO (sh redirects stdin, then execs it so the
   * signal reaches the client itself). A long sensor interval: only `set` moves 5700. */
  char cmd[1024];
  snprintf(cmd, sizeof(cmd),
           "exec '%s' client --server %s --endpoint e2e-cs --lifetime 300 --objects ipso "
           "--sensor-interval 3600 --prompt < '%s'",
           nb_test_env("NB_BINARY"), server_uri, e.fifo);
  char *clargv[] = {"sh", "-c", cmd, NULL};
  nb_test_proc cl;
  assert_true(nb_test_proc_start(&cl, clargv));
  int fd = open(e.fifo, O_WRONLY); /* blocks until the shell opens the reading end */
  assert_true(fd >= 0);

  /* Registered: listed, with the IPSO temperature object. */
  assert_true(nb_test_proc_wait_output(&cl, false, "registered ssid=1", 10000));
  assert_true(wait_for(&e, "/api/clients", "\"endpoint\":\"e2e-cs\"", true, 10000));
  expect(&e, "GET", "/api/clients/e2e-cs", NULL, "|200", "3303");
  assert_true(nb_test_proc_wait_output(&sse, false, "event: REGISTRATION", 5000));

  /* Read, write and read back. */
  expect(&e, "GET", "/api/clients/e2e-cs/3/0/0", NULL, "|200", "\"value\":\"Niobium\"");
  expect(&e, "PUT", "/api/clients/e2e-cs/1/0/1", "{\"value\": 240}", "|200", "\"2.04\"");
  expect(&e, "GET", "/api/clients/e2e-cs/1/0/1", NULL, "|200", "\"value\":240");
  expect(&e, "GET", "/api/clients/e2e-cs/3/0/99", NULL, "|404", "4.04");

  /* Observe the temperature, then change it on the client: a notification with 30 arrives. */
  expect(&e, "POST", "/api/clients/e2e-cs/3303/0/5700/observe", NULL, "|200", "\"observationId\":");
  say(fd, "set /3303/0/5700 30\n");
  assert_true(nb_test_proc_wait_output(&sse, false, "event: NOTIFICATION", 10000));
  assert_true(wait_for(&e, "/api/clients/e2e-cs/3303/0/5700/history", "\"value\":30", true, 10000));

  /* SIGTERM: the client de-registers and leaves with 0; the server forgets it. */
  kill(cl.pid, SIGTERM);
  assert_int_equal(nb_test_proc_wait(&cl, 15000), 0);
  assert_true(nb_test_proc_wait_output(&sse, false, "event: DEREGISTRATION", 10000));
  assert_true(wait_for(&e, "/api/clients", "\"endpoint\":\"e2e-cs\"", false, 10000));
  expect(&e, "GET", "/api/clients/e2e-cs", NULL, "|404", "4.04");
  close(fd);

  nb_test_proc_cleanup(&cl);
  nb_test_proc_stop(&sse);
  nb_test_proc_cleanup(&sse);
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
  unlink(e.fifo);
  char p[160];
  const char *sfx[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof(p), "%s%s", e.db, sfx[i]);
    unlink(p);
  }
  rmdir(e.dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_client_server_cycle)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
