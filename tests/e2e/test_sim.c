/* `niobium sim` against the real `niobium server` on loopback (free ports, a temporary
 * database), driven and checked through the REST API and the simulator's JSON report:
 * 1,000 NoSec devices and 1,000 DTLS-PSK devices (keys made per device and installed through
 * the API) all register, the server reads and observes a sample, SIGINT de-registers all of
 * them with no failure; with 20 % loss each way every device still registers within a bound
 * and an Execute sent once is applied once; malformed load profiles are refused with file:line;
 * usage errors. */
#include <jansson.h>
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

#define FLEET 1000

typedef struct {
  char dir[64], db[128], base[64], api[64], report[160];
  char coap_uri[64], coaps_uri[64], bs_uri[64];
} env;

/* What a test started, stopped by the teardown whatever way the test ended (a failed assertion
 * leaves the test function at once). */
static nb_test_proc g_server, g_sim;
static char g_dir[64];

static int teardown(void **state) {
  (void)state;
  nb_test_proc_cleanup(&g_sim);
  nb_test_proc_cleanup(&g_server);
  if (g_dir[0]) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", g_dir);
    g_dir[0] = 0;
  }
  memset(&g_sim, 0, sizeof g_sim);
  memset(&g_server, 0, sizeof g_server);
  return 0;
}

/* niobium server with CoAP, CoAPs, the API and optionally the bootstrap role; NoSec
 * registrations uncapped (the default cap is 1000). */
/* The run's directory (removed by the teardown). */
static void make_dir(env *e) {
  snprintf(e->dir, sizeof e->dir, "/tmp/nb-e2e-sim-XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  snprintf(g_dir, sizeof g_dir, "%s", e->dir);
}

/* extra: more of the server's options (its keys), NULL-terminated, or NULL. The directory is
 * made here unless make_dir already made it. */
static void start_server(env *e, bool with_bs, char *const *extra) {
  if (!e->dir[0]) make_dir(e);
  snprintf(e->db, sizeof e->db, "%s/server.db", e->dir);
  snprintf(e->report, sizeof e->report, "%s/report.json", e->dir);
  uint16_t cp = nb_test_free_port(SOCK_DGRAM), sp = nb_test_free_port(SOCK_DGRAM),
           bp = nb_test_free_port(SOCK_DGRAM), hp = nb_test_free_port(SOCK_STREAM);
  char coap[32], coaps[32], http[32], bs[32];
  snprintf(coap, sizeof coap, "127.0.0.1:%u", cp);
  snprintf(coaps, sizeof coaps, "127.0.0.1:%u", sp);
  snprintf(bs, sizeof bs, "127.0.0.1:%u", bp);
  snprintf(http, sizeof http, "127.0.0.1:%u", hp);
  snprintf(e->base, sizeof e->base, "http://127.0.0.1:%u", hp);
  snprintf(e->api, sizeof e->api, "http://127.0.0.1:%u", hp);
  snprintf(e->coap_uri, sizeof e->coap_uri, "coap://127.0.0.1:%u", cp);
  snprintf(e->coaps_uri, sizeof e->coaps_uri, "coaps://127.0.0.1:%u", sp);
  snprintf(e->bs_uri, sizeof e->bs_uri, "coap://127.0.0.1:%u", bp);
  char *argv[32] = {(char *)nb_test_env("NB_BINARY"),
                    "server",
                    "--coap",
                    coap,
                    "--coaps",
                    coaps,
                    "--http",
                    http,
                    "--db",
                    e->db,
                    "--log-level",
                    "info"};
  int n = 12;
  argv[n++] = "--max-nosec-registrations"; /* fleets above the default cap of 1000 */
  argv[n++] = "0";
  if (with_bs) { /* selective bootstrap: every request waits for an approval */
    argv[n++] = "--with-bootstrap";
    argv[n++] = "--bs-coap";
    argv[n++] = bs;
    argv[n++] = "--bs-policy";
    argv[n++] = "approve";
  }
  for (size_t i = 0; extra && extra[i]; i++) argv[n++] = extra[i];
  argv[n] = NULL;
  assert_true(nb_test_proc_start(&g_server, argv));
  assert_true(nb_test_proc_wait_output(&g_server, true, "proto=http", 20000));
}

static size_t count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

static char *http(const env *e, const char *method, const char *path) {
  char *out = nb_test_http(e->base, method, path, NULL);
  assert_non_null(out);
  return out;
}

/* The JSON report's number at a.b ("devices", "failed"). */
static long long report_num(json_t *root, const char *a, const char *b) {
  json_t *v = json_object_get(json_object_get(root, a), b);
  if (!json_is_number(v)) fail_msg("report has no number %s.%s", a, b);
  return (long long)json_number_value(v);
}

static json_t *load_report(const env *e) {
  json_error_t err;
  json_t *r = json_load_file(e->report, 0, &err);
  if (!r) fail_msg("report %s: %s", e->report, err.text);
  return r;
}

/* SIGINT: the fleet de-registers, the report is written and the exit status is 0. */
static void fail_with_stderr(const nb_test_proc *p, const char *what) {
  char *err = nb_test_proc_stderr(p);
  fprintf(stderr, "%s; the simulator's stderr:\n%s\n", what, err);
  free(err);
  fail();
}

static void interrupt_and_wait(nb_test_proc *p) {
  kill(p->pid, SIGINT);
  if (nb_test_proc_wait(p, 120000) != 0) fail_with_stderr(p, "sim did not exit 0 after SIGINT");
}

static void check_reads(const env *e) {
  static const unsigned sample[] = {1, 250, 500, 777, FLEET};
  for (size_t i = 0; i < sizeof sample / sizeof *sample; i++) {
    char path[96];
    snprintf(path, sizeof path, "/api/clients/sim-%06u/3/0", sample[i]);
    char *out = http(e, "GET", path);
    if (!strstr(out, "\"code\":\"2.05\"") || !strstr(out, "NB-SIM-")) fail_msg("%s: %s", path, out);
    free(out);
    snprintf(path, sizeof path, "/api/clients/sim-%06u/3305/0/5800", sample[i]);
    out = http(e, "GET", path);
    char *v = strstr(out, "\"value\":");
    if (!v || strtod(v + 8, NULL) <= 0) fail_msg("%s: %s", path, out);
    free(out);
  }
  char *out = http(e, "POST", "/api/clients/sim-000003/3305/0/5800/observe");
  assert_non_null(strstr(out, "\"code\":\"2.05\""));
  free(out);
  /* --observe 100: the simulator had the server observe every 100th device */
  out = http(e, "GET", "/api/clients/sim-000101/observations");
  if (!strstr(out, "3305/0/5800")) fail_msg("no observation on sim-000101: %s", out);
  free(out);
}

static void run_fleet(const char *security) {
  if (!nb_test_have_program("curl")) skip();
  env e = {0};
  start_server(&e, false, NULL);
  bool psk = strcmp(security, "psk") == 0;
  char devices[16];
  snprintf(devices, sizeof devices, "%d", FLEET);
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "sim",
                  "--server",
                  psk ? e.coaps_uri : e.coap_uri,
                  "--security",
                  (char *)security,
                  "--api",
                  e.api,
                  "--observe",
                  "100",
                  "--devices",
                  devices,
                  "--progress",
                  "1",
                  "--report",
                  e.report,
                  "--log-level",
                  "warn",
                  "--duration",
                  "600", /* a safety net: the test interrupts it long before */
                  NULL};
  nb_test_proc *sim = &g_sim;
  assert_true(nb_test_proc_start(sim, argv));
  char want[64];
  snprintf(want, sizeof want, "registered=%d ", FLEET);
  if (!nb_test_proc_wait_output(sim, true, want, 120000))
    fail_with_stderr(sim, "not all devices registered");
  char *list = http(&e, "GET", "/api/clients?limit=1000"); /* the largest page: the fleet */
  size_t listed = count(list, "\"endpoint\":\"sim-"),
         modes = count(list, psk ? "\"securityMode\":\"psk\"" : "\"securityMode\":\"none\"");
  free(list);
  assert_int_equal(listed, FLEET);
  assert_int_equal(modes, FLEET);
  check_reads(&e);
  interrupt_and_wait(sim);
  json_t *r = load_report(&e);
  assert_int_equal(report_num(r, "devices", "registered_ever"), FLEET);
  assert_int_equal(report_num(r, "devices", "deregistered"), FLEET);
  assert_int_equal(report_num(r, "devices", "failed"), 0);
  assert_int_equal(json_object_size(json_object_get(r, "errors")), 0);
  assert_true(report_num(json_object_get(r, "wire"), "register", "up_datagrams") >= FLEET);
  assert_true(report_num(json_object_get(r, "wire"), "read", "down_datagrams") >= 10);
  if (psk) assert_true(report_num(json_object_get(r, "wire"), "dtls_handshake", "up_bytes") > 0);
  json_decref(r);
  list = http(&e, "GET", "/api/clients");
  assert_int_equal(count(list, "\"endpoint\":\"sim-"), 0);
  free(list);
  nb_test_proc_cleanup(sim);
}

/* Runs `niobium CMD...` (NULL-terminated) and wants exit 0. */
static void run_ok(char *const *cmd) {
  char *argv[16] = {(char *)nb_test_env("NB_BINARY")}, *out = NULL;
  for (size_t i = 0; cmd[i]; i++) argv[i + 1] = cmd[i];
  assert_int_equal(nb_test_run(argv, 30000, &out), 0);
  free(out);
}

/* RPK or X.509 devices straight to niobium server: each device's key made from the CSPRNG (and,
 * for X.509, a certificate from the test's CA), its public key or certificate name installed
 * through the API, the server pinned by its public key (RPK) or its CA (X.509). */
static void run_keyed_fleet(bool x509) {
  if (!nb_test_have_program("curl")) skip();
  env e = {0};
  make_dir(&e);
  char srv[128], key[160], pub[160], ca[128], ca_crt[160], ca_key[160], crt[160];
  snprintf(srv, sizeof srv, "%s/srv", e.dir);
  snprintf(key, sizeof key, "%s.key.pem", srv);
  snprintf(pub, sizeof pub, "%s.pub.pem", srv);
  snprintf(crt, sizeof crt, "%s.crt.pem", srv);
  snprintf(ca, sizeof ca, "%s/ca", e.dir);
  snprintf(ca_crt, sizeof ca_crt, "%s.crt.pem", ca);
  snprintf(ca_key, sizeof ca_key, "%s.key.pem", ca);
  if (x509) {
    run_ok((char *[]){"keys", "cert", "ca", "--cn", "sim test CA", "--out", ca, NULL});
    run_ok((char *[]){"keys", "cert", "issue", "--ca", ca, "--cn", "127.0.0.1", "--san",
                      "127.0.0.1", "--out", srv, NULL});
    start_server(&e, false, (char *[]){"--cert", crt, "--key", key, "--ca", ca_crt, NULL});
  } else {
    run_ok((char *[]){"keys", "ec", "--out", srv, NULL});
    start_server(&e, false, (char *[]){"--rpk-key", key, NULL});
  }
  char *argv[40] = {(char *)nb_test_env("NB_BINARY"),
                    "sim",
                    "--server",
                    e.coaps_uri,
                    "--security",
                    x509 ? "x509" : "rpk",
                    "--server-key",
                    x509 ? ca_crt : pub,
                    "--api",
                    e.api,
                    "--observe",
                    "0",
                    "--devices",
                    "20",
                    "--progress",
                    "1",
                    "--report",
                    e.report,
                    "--log-level",
                    "warn",
                    "--duration",
                    "600"};
  int n = 22;
  if (x509) {
    char *more[] = {"--server-key-ca", "--ca-cert", ca_crt, "--ca-key", ca_key};
    for (size_t i = 0; i < sizeof more / sizeof *more; i++) argv[n++] = more[i];
  }
  argv[n] = NULL;
  nb_test_proc *sim = &g_sim;
  assert_true(nb_test_proc_start(sim, argv));
  if (!nb_test_proc_wait_output(sim, true, "registered=20 ", 120000))
    fail_with_stderr(sim, "not all devices registered");
  char *list = http(&e, "GET", "/api/clients?limit=1000");
  size_t modes = count(list, x509 ? "\"securityMode\":\"x509\"" : "\"securityMode\":\"rpk\"");
  free(list);
  assert_int_equal(modes, 20);
  interrupt_and_wait(sim);
  json_t *r = load_report(&e);
  assert_int_equal(report_num(r, "devices", "registered_ever"), 20);
  assert_int_equal(report_num(r, "devices", "deregistered"), 20);
  assert_int_equal(report_num(r, "api", "provisioned"), 20);
  assert_true(report_num(json_object_get(r, "wire"), "dtls_handshake", "up_bytes") > 0);
  json_decref(r);
  nb_test_proc_cleanup(sim);
}

static void test_sim_rpk_fleet(void **state) {
  (void)state;
  run_keyed_fleet(false);
}

static void test_sim_x509_fleet(void **state) {
  (void)state;
  run_keyed_fleet(true);
}

static void test_sim_nosec_fleet(void **state) {
  (void)state;
  run_fleet("nosec");
}

static void test_sim_psk_fleet(void **state) {
  (void)state;
  run_fleet("psk");
}

/* 20 % of the datagrams lost each way: every device registers within the bound (each CoAP
 * exchange either gets through within MAX_TRANSMIT_WAIT, 93 s, or the device tries again after
 * --retry-timer), and an Execute the server sends once (retransmitted under loss) is applied
 * at most once on the device. */
static void test_sim_loss(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e = {0};
  start_server(&e, false, NULL);
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "sim",
                  "--server",
                  e.coap_uri,
                  "--devices",
                  "40",
                  "--window",
                  "40",
                  "--loss",
                  "0.2",
                  "--seed",
                  "7",
                  "--retry-timer",
                  "5",
                  "--api",
                  e.api,
                  "--observe",
                  "0",
                  "--progress",
                  "1",
                  "--report",
                  e.report,
                  "--duration",
                  "600",
                  NULL};
  nb_test_proc *sim = &g_sim;
  assert_true(nb_test_proc_start(sim, argv));
  if (!nb_test_proc_wait_output(sim, true, "registered=40 ", 200000))
    fail_with_stderr(sim, "not all devices registered under loss");
  /* Reset Error Code on ten devices at once, each sent once by the server (which retransmits
   * it under the loss and waits up to MAX_TRANSMIT_WAIT for the answer) */
  nb_test_proc curl[10];
  char urls[10][160];
  for (unsigned i = 0; i < 10; i++) {
    snprintf(urls[i], sizeof urls[i], "%s/api/clients/sim-%06u/3/0/12?timeout=120", e.base, i + 1);
    char *argv_c[] = {"curl", "-s", "-m", "130", "-X", "POST", urls[i], NULL};
    assert_true(nb_test_proc_start(&curl[i], argv_c));
  }
  int answered = 0;
  for (unsigned i = 0; i < 10; i++) {
    assert_int_equal(nb_test_proc_wait(&curl[i], 140000), 0);
    char *out = nb_test_proc_stdout(&curl[i]);
    answered += strstr(out, "\"code\":\"2.04\"") != NULL;
    free(out);
    nb_test_proc_cleanup(&curl[i]);
  }
  interrupt_and_wait(sim);
  json_t *r = load_report(&e);
  assert_int_equal(report_num(r, "devices", "registered_ever"), 40);
  assert_true(report_num(r, "activity", "lost_up") > 0);
  assert_true(report_num(r, "activity", "lost_down") > 0);
  /* once each: never twice on a device, and every Execute the server saw answered was applied */
  assert_true(report_num(r, "activity", "execute_max_per_device") <= 1);
  assert_true(report_num(r, "activity", "executes") >= answered);
  assert_true(report_num(r, "activity", "executes") <= 10);
  assert_true(answered >= 5);
  json_decref(r);
  nb_test_proc_cleanup(sim);
}

/* The sum of a field over the thesis rows of one phase (NULL: every row). */
static long long thesis_sum(json_t *rows, const char *phase, const char *field) {
  long long n = 0;
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) {
    if (phase && strcmp(json_string_value(json_object_get(r, "phase")), phase) != 0) continue;
    n += (long long)json_integer_value(json_object_get(r, field));
  }
  return n;
}

static json_t *thesis_row(json_t *rows, const char *message, const char *phase) {
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) {
    if (!strcmp(json_string_value(json_object_get(r, "message")), message) &&
        !strcmp(json_string_value(json_object_get(r, "phase")), phase))
      return r;
  }
  fail_msg("no thesis row %s (%s)", message, phase);
  return NULL;
}

/* `niobium sim --devices 1 --scenario thesis --notifies 10` with its own servers: the seed
 * thesis's tables come out beside ours, and our numbers add up: k notifications, one of each
 * other message of the session, phases that sum to the total, the total equal to every byte
 * counted on the wire, and the thesis's own figures (its formulas for k). */
static void run_thesis(const char *security) {
  char dir[] = "/tmp/nb-e2e-thesis-XXXXXX", report[96], http[32];
  assert_non_null(mkdtemp(dir));
  snprintf(report, sizeof report, "%s/thesis.json", dir);
  snprintf(http, sizeof http, "127.0.0.1:%u", nb_test_free_port(SOCK_STREAM));
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "sim",
                  "--devices",
                  "1",
                  "--scenario",
                  "thesis",
                  "--notifies",
                  "10",
                  "--notify-interval",
                  "50",
                  "--security",
                  (char *)security,
                  "--http",
                  http,
                  "--report",
                  report,
                  NULL};
  char *out = NULL, *err = NULL;
  int rc = nb_test_run_capture(argv, 120000, &out, &err);
  if (rc != 0) fail_msg("thesis run exited %d: %s", rc, err);
  assert_non_null(strstr(out, "Seed thesis Table 5.4 beside this run"));
  assert_non_null(strstr(out, "Seed thesis Table 5.5 beside this run"));
  bool dtls = strcmp(security, "nosec") != 0;
  json_error_t je;
  json_t *r = json_load_file(report, 0, &je);
  assert_non_null(r);
  json_t *t = json_object_get(r, "thesis"), *rows = json_object_get(t, "rows");
  assert_int_equal(json_integer_value(json_object_get(t, "k")), 10);
  assert_string_equal(json_string_value(json_object_get(t, "mode")), dtls ? "dtls" : "nosec");
  /* the session: k notifications, one Register, Observe, Update and De-register */
  json_t *notify = thesis_row(rows, "Notify 2.05 Content", "management");
  assert_int_equal(json_integer_value(json_object_get(notify, "packets")), 10);
  assert_int_equal(json_integer_value(json_object_get(notify, "thesis_packets")), 10);
  assert_int_equal(json_integer_value(json_object_get(notify, "thesis_bytes")), dtls ? 42 : 13);
  /* bytes on the wire (issue 15): 4-byte tokens, so a notification averages under 20 bytes (49
   * in a DTLS record; its value's encoding varies by 1-3 bytes, 8-byte tokens made it 22) and an
   * empty piggybacked ACK is a 4-byte header plus the token */
  assert_true(json_integer_value(json_object_get(notify, "bytes")) <= 10 * (dtls ? 49 : 20));
  assert_true(json_integer_value(json_object_get(thesis_row(rows, "ACK 2.04 Changed", "management"),
                                                 "bytes")) <= (dtls ? 37 : 8));
  static const char *const once[] = {"POST Registration Request", "GET Observe Request",
                                     "PUT Registration Update", "DELETE De-registration"};
  for (size_t i = 0; i < 4; i++)
    assert_int_equal(
        json_integer_value(json_object_get(thesis_row(rows, once[i], "management"), "packets")), 1);
  assert_int_equal(json_integer_value(json_object_get(
                       thesis_row(rows, "POST Bootstrap Request", "bootstrap"), "packets")),
                   1);
  /* the phases add up, and to everything on the wire */
  long long bs = thesis_sum(rows, "bootstrap", "bytes"),
            dm = thesis_sum(rows, "management", "bytes");
  assert_int_equal(report_num(t, "bootstrap", "bytes"), bs);
  assert_int_equal(report_num(t, "management", "bytes"), dm);
  assert_int_equal(report_num(t, "total", "bytes"), bs + dm);
  assert_int_equal(report_num(t, "total", "packets"), thesis_sum(rows, NULL, "packets"));
  long long wire = 0;
  const char *key;
  json_t *row;
  json_object_foreach(json_object_get(r, "wire"), key, row) {
    wire += (long long)json_integer_value(json_object_get(row, "up_bytes"));
    wire += (long long)json_integer_value(json_object_get(row, "down_bytes"));
  }
  assert_int_equal(wire, bs + dm);
  /* the thesis's own figures: Table 5.4's formulas, Table 5.5 for k = 10 */
  assert_int_equal(report_num(t, "bootstrap", "thesis_bytes"), dtls ? 1648 : 125);
  assert_int_equal(report_num(t, "management", "thesis_bytes"), dtls ? 1922 : 301);
  if (dtls) {
    assert_true(report_num(t, "handshake", "bytes") > 0);
    assert_true(json_integer_value(
                    json_object_get(thesis_row(rows, "DTLS Handshake", "bootstrap"), "bytes")) > 0);
    assert_true(json_integer_value(json_object_get(thesis_row(rows, "DTLS Handshake", "management"),
                                                   "bytes")) > 0);
  }
  json_decref(r);
  free(out);
  free(err);
  unlink(report);
  rmdir(dir);
}

static void test_sim_thesis_nosec(void **state) {
  (void)state;
  run_thesis("nosec");
}

static void test_sim_thesis_psk(void **state) {
  (void)state;
  run_thesis("psk");
}

/* Selective bootstrap: 150 NoSec devices (more than one 100-item page of GET
 * /api/bootstrap/pending) get a bootstrap config naming the server through the API, ask the
 * bootstrap server, wait for an approval the simulator gives as an operator would, then
 * bootstrap and register. */
static void test_sim_bootstrap_approve(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e = {0};
  start_server(&e, true, NULL);
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "sim",
                  "--bootstrap",
                  e.bs_uri,
                  "--server",
                  e.coap_uri,
                  "--server-security",
                  "nosec",
                  "--api",
                  e.api,
                  "--approve",
                  "--observe",
                  "0",
                  "--devices",
                  "150",
                  "--window",
                  "150",
                  "--progress",
                  "1",
                  "--report",
                  e.report,
                  "--log-level",
                  "warn",
                  "--duration",
                  "600",
                  NULL};
  nb_test_proc *sim = &g_sim;
  assert_true(nb_test_proc_start(sim, argv));
  if (!nb_test_proc_wait_output(sim, true, "registered=150 ", 180000))
    fail_with_stderr(sim, "not all devices bootstrapped and registered");
  interrupt_and_wait(sim);
  json_t *r = load_report(&e);
  assert_int_equal(report_num(r, "devices", "bootstrapped"), 150);
  assert_int_equal(report_num(r, "devices", "registered_ever"), 150);
  assert_int_equal(report_num(r, "devices", "failed"), 0);
  assert_true(report_num(r, "api", "approved") >= 150);
  assert_int_equal(report_num(r, "api", "failed"), 0);
  assert_true(report_num(json_object_get(r, "wire"), "bootstrap_finish", "down_datagrams") >= 150);
  json_decref(r);
  nb_test_proc_cleanup(sim);
}

/* A definition of 10243 (Single-Phase Power Meter) with the resources the meters serve, written
 * into dir/10243.xml. */
static void write_meter_ddf(const char *dir) {
  static const struct {
    int id;
    const char *name, *type;
  } items[] = {{1, "Manufacturer", "String"},  {2, "Model Number", "String"},
               {3, "Serial Number", "String"}, {4, "Voltage", "Float"},
               {5, "Current", "Float"},        {6, "Active Power", "Float"},
               {14, "Active Energy", "Float"}, {17, "Frequency", "Float"}};
  char path[128];
  snprintf(path, sizeof path, "%s/10243.xml", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(
      "<LWM2M><Object ObjectType=\"MODefinition\"><Name>Single-Phase Power Meter</Name>"
      "<ObjectID>10243</ObjectID><MultipleInstances>Multiple</MultipleInstances>"
      "<Mandatory>Optional</Mandatory><Resources>",
      f);
  for (size_t i = 0; i < sizeof items / sizeof *items; i++)
    fprintf(f,
            "<Item ID=\"%d\"><Name>%s</Name><Operations>R</Operations><MultipleInstances>"
            "Single</MultipleInstances><Mandatory>Optional</Mandatory><Type>%s</Type></Item>",
            items[i].id, items[i].name, items[i].type);
  fputs("</Resources></Object></LWM2M>\n", f);
  assert_int_equal(fclose(f), 0);
}

/* --ddf with 10243: the meters are Single-Phase Power Meters; --households-per-device 3: each
 * is a concentrator with three instances, one household each; the server observes power. */
static void test_sim_ddf_concentrator(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e = {0};
  start_server(&e, false, NULL);
  char ddf[96];
  snprintf(ddf, sizeof ddf, "%s/ddf", e.dir);
  assert_int_equal(mkdir(ddf, 0700), 0);
  write_meter_ddf(ddf);
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "sim",
                  "--server",
                  e.coap_uri,
                  "--devices",
                  "2",
                  "--ddf",
                  ddf,
                  "--households-per-device",
                  "3",
                  "--api",
                  e.api,
                  "--progress",
                  "1",
                  "--log-level",
                  "warn",
                  "--duration",
                  "600",
                  NULL};
  nb_test_proc *sim = &g_sim;
  assert_true(nb_test_proc_start(sim, argv));
  if (!nb_test_proc_wait_output(sim, true, "registered=2 ", 60000))
    fail_with_stderr(sim, "the meters did not register");
  char *out = http(&e, "GET", "/api/clients/sim-000002/10243");
  bool three = strstr(out, "\"/10243/0/6\"") && strstr(out, "\"/10243/2/6\"") &&
               strstr(out, "\"/10243/2/14\"") && !strstr(out, "\"/10243/3/");
  if (!three) fail_msg("not three meter instances: %s", out);
  free(out);
  bool observed = false;
  for (int i = 0; i < 100 && !observed; i++) { /* the simulator sets it up once registered */
    out = http(&e, "GET", "/api/clients/sim-000002/observations");
    observed = strstr(out, "/10243/0/6") != NULL;
    free(out);
    if (!observed) usleep(100000);
  }
  assert_true(observed);
  interrupt_and_wait(sim);
  nb_test_proc_cleanup(sim);
}

static void test_sim_bad_profiles(void **state) {
  (void)state;
  char path[] = "/tmp/nb-e2e-sim-csv-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char csv[] = "time,house1,house2\n0,100,200\n600,150,abc\n";
  assert_int_equal(write(fd, csv, sizeof csv - 1), (ssize_t)(sizeof csv - 1));
  close(fd);
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "sim",
                  "--server",
                  "coap://127.0.0.1:9",
                  "--profiles",
                  path,
                  NULL};
  char *out = NULL, *err = NULL;
  int rc = nb_test_run_capture(argv, 10000, &out, &err);
  assert_int_not_equal(rc, 0);
  char want[64];
  snprintf(want, sizeof want, "%s:3: column 3", path);
  if (!strstr(err, want)) fail_msg("wanted '%s' in: %s", want, err);
  free(out);
  free(err);
  unlink(path);
}

static void test_sim_usage(void **state) {
  (void)state;
  const char *bin = nb_test_env("NB_BINARY");
  char *out = NULL;
  char *help[] = {(char *)bin, "sim", "--help", NULL};
  assert_int_equal(nb_test_run(help, 5000, &out), 0);
  assert_non_null(strstr(out, "--devices"));
  assert_non_null(strstr(out, "Examples"));
  free(out);
  static const char *const bad[][6] = {
      {"sim", "--devices", "2", "--scenario", "thesis", NULL},
      {"sim", "--server", "coap://127.0.0.1:5683", "--devices", "0", NULL},
      {"sim", "--server", "coap://127.0.0.1:5683", "--security", "psk", NULL},
      {"sim", "--server", "coap://127.0.0.1:5683", "--loss", "2", NULL},
      {"sim", "--server", "coap://127.0.0.1:5683", "--scenario", "toaster", NULL},
      {"sim", "--server", "coap://127.0.0.1:5683", "extra", NULL}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char *argv[8] = {(char *)bin};
    for (size_t k = 0; bad[i][k]; k++) argv[k + 1] = (char *)bad[i][k];
    assert_int_equal(nb_test_run(argv, 5000, &out), 2);
    free(out);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_sim_usage, teardown),
      cmocka_unit_test_teardown(test_sim_bad_profiles, teardown),
      cmocka_unit_test_teardown(test_sim_nosec_fleet, teardown),
      cmocka_unit_test_teardown(test_sim_psk_fleet, teardown),
      cmocka_unit_test_teardown(test_sim_rpk_fleet, teardown),
      cmocka_unit_test_teardown(test_sim_x509_fleet, teardown),
      cmocka_unit_test_teardown(test_sim_loss, teardown),
      cmocka_unit_test_teardown(test_sim_bootstrap_approve, teardown),
      cmocka_unit_test_teardown(test_sim_ddf_concentrator, teardown),
      cmocka_unit_test_teardown(test_sim_thesis_nosec, teardown),
      cmocka_unit_test_teardown(test_sim_thesis_psk, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
