/* `niobium demo` end to end: the real binary on loopback with its own ports, driven with curl and
 * `niobium bootstrap`: the auto-approved devices (a simulated smart-meter fleet) bootstrap over
 * DTLS and register with their fresh PSK, a meter's power is read through the REST API and
 * observed by the demo's server, the last device is pending until approved
 * through the database, and the process de-registers and exits 0 on its own after --duration.
 * Also NoSec mode with the temporary database removed at exit (its banner without DTLS lines,
 * an event-stream client leaving without a word in the output), and usage errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_test.h"

static char *curl(const char *url) {
  char *argv[] = {"curl", "-s", "-m", "5", (char *)url, NULL}, *out = NULL;
  if (nb_test_run(argv, 8000, &out) != 0) {
    free(out);
    return NULL;
  }
  return out;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Polls GET /api/clients until every endpoint in eps is listed; returns the last listing. */
static char *wait_clients(const char *base, const char *const *eps, size_t n, int timeout_ms) {
  char url[160];
  snprintf(url, sizeof url, "%s/api/clients", base);
  for (int waited = 0;; waited += 300) {
    char *out = curl(url);
    size_t found = 0;
    for (size_t i = 0; out && i < n; i++) {
      char needle[64];
      snprintf(needle, sizeof needle, "\"endpoint\":\"%s\"", eps[i]);
      found += strstr(out, needle) != NULL;
    }
    if (found == n || waited >= timeout_ms) return out;
    free(out);
    sleep_ms(300);
  }
}

static void rm_db(const char *db) {
  static const char *const suffix[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < 3; i++) {
    char p[256];
    snprintf(p, sizeof p, "%s%s", db, suffix[i]);
    unlink(p);
  }
}

static void test_demo_dtls(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  const char *bin = nb_test_env("NB_BINARY");
  char db[128], http[64], base[96];
  snprintf(db, sizeof db, "/tmp/nb_demo_e2e_%d.db", (int)getpid());
  rm_db(db);
  uint16_t port = nb_test_free_port(SOCK_STREAM);
  snprintf(http, sizeof http, "127.0.0.1:%u", port);
  snprintf(base, sizeof base, "http://127.0.0.1:%u", port);
  char *argv[] = {(char *)bin, "demo", "--duration", "20", "--http", http, "--db", db, NULL};
  nb_test_proc p;
  assert_true(nb_test_proc_start(&p, argv));
  assert_true(nb_test_proc_wait_output(&p, false, "REST API", 10000));

  /* demo-1..3 bootstrap (RPK) and register with the PSK the bootstrap server made. */
  static const char *const autos[] = {"demo-1", "demo-2", "demo-3"};
  char *list = wait_clients(base, autos, 3, 15000);
  assert_non_null(list);
  for (size_t i = 0; i < 3; i++) {
    char needle[64];
    snprintf(needle, sizeof needle, "\"endpoint\":\"%s\"", autos[i]);
    assert_non_null(strstr(list, needle));
  }
  assert_null(strstr(list, "\"endpoint\":\"demo-4\""));
  assert_non_null(strstr(list, "\"securityMode\":\"psk\""));
  assert_null(strstr(list, "\"securityMode\":\"none\""));
  free(list);

  /* A value read from the device through the API: a smart meter's active power, which the
   * demo's server also observes. */
  char url[160];
  snprintf(url, sizeof url, "%s/api/clients/demo-2/3305/0/5800", base);
  char *val = curl(url);
  assert_non_null(val);
  assert_non_null(strstr(val, "\"code\":\"2.05\""));
  char *v = strstr(val, "\"value\":");
  assert_non_null(v);
  double w = strtod(v + 8, NULL);
  assert_true(w > 0 && w < 20000);
  free(val);
  snprintf(url, sizeof url, "%s/api/clients/demo-1/observations", base);
  val = curl(url);
  assert_non_null(val);
  assert_non_null(strstr(val, "/3305/0/5800"));
  free(val);

  /* demo-4 waits for the operator, who approves it through the shared database. */
  char *pa[] = {(char *)bin, "bootstrap", "pending", "--db", db, NULL}, *out = NULL;
  assert_int_equal(nb_test_run(pa, 10000, &out), 0);
  assert_non_null(strstr(out, "demo-4"));
  assert_null(strstr(out, "demo-1"));
  free(out);
  char *ap[] = {(char *)bin, "bootstrap", "approve", "demo-4", "--db", db, NULL};
  assert_int_equal(nb_test_run(ap, 10000, &out), 0);
  free(out);
  static const char *const all[] = {"demo-1", "demo-2", "demo-3", "demo-4"};
  list = wait_clients(base, all, 4, 10000);
  assert_non_null(list);
  assert_non_null(strstr(list, "\"endpoint\":\"demo-4\""));
  free(list);

  /* The devices asked for signed bootstraps: the writes and demo-1's receipt are kept. */
  char *ev[] = {(char *)bin, "bootstrap", "evidence", "demo-1", "--db", db, NULL};
  assert_int_equal(nb_test_run(ev, 10000, &out), 0);
  assert_non_null(strstr(out, "\"kind\": \"receipt\""));
  assert_non_null(strstr(out, "\"kind\": \"write\""));
  free(out);

  /* --duration: the devices de-register and the process exits 0 by itself. */
  assert_int_equal(nb_test_proc_wait(&p, 30000), 0);
  char *so = nb_test_proc_stdout(&p), *se = nb_test_proc_stderr(&p);
  assert_non_null(strstr(so, "demo-4       BOOTSTRAP_PENDING"));
  assert_non_null(strstr(so, "demo-1       BOOTSTRAP_FINISHED (signed, receipt kept;"));
  assert_non_null(strstr(so, "demo-1       DEREGISTERED"));
  assert_non_null(strstr(so, "demo-4       DEREGISTERED"));
  assert_non_null(strstr(so, "stopped"));
  assert_null(strstr(se, "level=error"));
  free(so);
  free(se);
  nb_test_proc_cleanup(&p);
  rm_db(db);
}

/* NoSec with the default temporary database, which is gone after exit. */
static void test_demo_nosec_tempdb(void **state) {
  (void)state;
  const char *bin = nb_test_env("NB_BINARY");
  char http[64];
  snprintf(http, sizeof http, "127.0.0.1:%u", nb_test_free_port(SOCK_STREAM));
  char *argv[] = {(char *)bin,  "demo", "--nosec", "--devices", "2",
                  "--duration", "5",    "--http",  http,        NULL};
  nb_test_proc p;
  assert_true(nb_test_proc_start(&p, argv));
  /* An event-stream client that goes away: the normal end of a stream, nothing said. */
  assert_true(nb_test_proc_wait_output(&p, false, "REST API", 10000));
  char url[96], *sse_out = NULL;
  snprintf(url, sizeof url, "http://%s/api/events", http);
  char *sse[] = {"curl", "-s", "-N", "-m", "1", url, NULL};
  if (nb_test_have_program("curl")) {
    nb_test_run(sse, 5000, &sse_out);
    assert_non_null(strstr(sse_out, ": connected"));
    free(sse_out);
  }
  assert_int_equal(nb_test_proc_wait(&p, 20000), 0);
  char *so = nb_test_proc_stdout(&p), *se = nb_test_proc_stderr(&p);
  assert_null(strstr(se, "Failed to send"));
  assert_null(strstr(se, "mhd_messages"));
  assert_null(strstr(se, "MHD_OPTION"));
  free(se);
  /* No DTLS line under --nosec: nothing of the demo uses it. */
  assert_null(strstr(so, "coaps://"));
  assert_null(strstr(so, "RPK"));
  assert_non_null(strstr(so, "NoSec"));
  assert_non_null(strstr(so, "demo-1       REGISTERED security=none"));
  assert_non_null(strstr(so, "demo-2       BOOTSTRAP_PENDING"));
  assert_null(strstr(so, "demo-2       REGISTERED"));
  char *line = strstr(so, "Database");
  assert_non_null(line);
  char path[256] = "";
  assert_int_equal(sscanf(line, "Database %255s", path), 1);
  assert_true(strncmp(path, "/", 1) == 0);
  assert_int_not_equal(access(path, F_OK), 0);
  free(so);
  nb_test_proc_cleanup(&p);
}

static void test_demo_usage(void **state) {
  (void)state;
  const char *bin = nb_test_env("NB_BINARY");
  char *out = NULL;
  char *help[] = {(char *)bin, "demo", "--help", NULL};
  assert_int_equal(nb_test_run(help, 5000, &out), 0);
  assert_non_null(strstr(out, "--duration"));
  assert_non_null(strstr(out, "Examples"));
  free(out);
  char *bad1[] = {(char *)bin, "demo", "--devices", "0", NULL};
  assert_int_equal(nb_test_run(bad1, 5000, &out), 2);
  free(out);
  char *bad2[] = {(char *)bin, "demo", "--http", "0.0.0.0:8080", NULL};
  assert_int_equal(nb_test_run(bad2, 5000, &out), 2);
  free(out);
  char *bad3[] = {(char *)bin, "demo", "extra", NULL};
  assert_int_equal(nb_test_run(bad3, 5000, &out), 2);
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_demo_dtls),
      cmocka_unit_test(test_demo_nosec_tempdb),
      cmocka_unit_test(test_demo_usage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
