/* Recall of `niobium monitor` on a bootstrapped fleet: tshark records loopback while `niobium
 * server --with-bootstrap` bootstraps three `niobium client --bootstrap` devices in NoSec
 * (Bootstrap-Request, Discover, Delete, Write, Finish), they register, the server reads,
 * discovers and observes each over REST, each device changes the observed value (Notify),
 * updates its registration and de-registers. Ground truth is what the programs say they did:
 * the server's debug log (bootstrap requests and steps, registrations, updates,
 * de-registrations, notifications) and its audit log (management operations). The monitor's
 * events on the capture must be exactly that multiset of (endpoint, operation, path), and
 * every CoAP datagram tshark sees must have exactly one message event with its code and MID
 * (retransmissions, should the loaded machine cause any, are flagged and not counted again). */
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "coap/msg.h"
#include "nb_capture.h"
#include "nb_test.h"

#define T_DEVICES 3
#define T_MAX_FRAMES 512
#define T_MAX_FACTS 256

typedef struct {
  char dir[64], db[128], fifo[T_DEVICES][128], keylog[T_DEVICES][128], base[64];
  uint16_t coap_port, bs_port;
  bool psk; /* registration and management over DTLS with the PSKs the bootstrap made */
} t_env;

/* One CoAP datagram as tshark decodes it, or a DTLS application-data datagram (no code). */
typedef struct {
  long frame;
  char code[8];
  long mid;
  bool matched;
} t_frame;

/* "endpoint operation [path]" lines, compared as sorted multisets. */
typedef struct {
  char *v[T_MAX_FACTS];
  size_t n;
} t_facts;

static void t_fact(t_facts *f, const char *ep, const char *op, const char *path) {
  char line[256];
  snprintf(line, sizeof line, "%s %s%s%s", ep, op, path ? " " : "", path ? path : "");
  if (f->n == T_MAX_FACTS) fail_msg("too many facts");
  f->v[f->n] = strdup(line);
  assert_non_null(f->v[f->n]);
  f->n++;
}

static int t_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *t_join(t_facts *f) {
  qsort(f->v, f->n, sizeof f->v[0], t_cmp);
  size_t len = 1;
  for (size_t i = 0; i < f->n; i++) len += strlen(f->v[i]) + 1;
  char *s = calloc(1, len);
  assert_non_null(s);
  for (size_t i = 0; i < f->n; i++) {
    strcat(s, f->v[i]);
    strcat(s, "\n");
    free(f->v[i]);
  }
  f->n = 0;
  return s;
}

static const char *t_str(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "";
}

static char *t_req(const t_env *e, const char *method, const char *path, const char *body,
                   const char *needle) {
  char *out = nb_test_http(e->base, method, path, body);
  assert_non_null(out);
  if (!strstr(out, "|200") && !strstr(out, "|201"))
    fail_msg("%s %s: got '%s', wanted 200/201", method, path, out);
  if (needle && !strstr(out, needle)) fail_msg("%s %s: '%s' lacks '%s'", method, path, out, needle);
  return out;
}

static void t_call(const t_env *e, const char *method, const char *path, const char *needle) {
  free(t_req(e, method, path, NULL, needle));
}

static bool t_wait_http(const t_env *e, const char *path, const char *needle, bool present,
                        int ms) {
  for (int t = 0; t < ms; t += 100) {
    char *out = nb_test_http(e->base, "GET", path, NULL);
    bool ok = out && (strstr(out, needle) != NULL) == present;
    free(out);
    if (ok) return true;
    usleep(100 * 1000);
  }
  return false;
}

static void t_say(int fd, const char *line) {
  size_t n = strlen(line);
  assert_int_equal(write(fd, line, n), (ssize_t)n);
}

static void t_env_init(t_env *e, bool psk) {
  memset(e, 0, sizeof *e);
  e->psk = psk;
  snprintf(e->dir, sizeof e->dir, "/tmp/nb-mon-fleet-XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  snprintf(e->db, sizeof e->db, "%s/nb.db", e->dir);
  for (int i = 0; i < T_DEVICES; i++) {
    snprintf(e->fifo[i], sizeof e->fifo[i], "%s/stdin%d", e->dir, i);
    assert_int_equal(mkfifo(e->fifo[i], 0600), 0);
    snprintf(e->keylog[i], sizeof e->keylog[i], "%s/keylog%d", e->dir, i);
  }
  e->coap_port = nb_test_free_port(SOCK_DGRAM);
  do {
    e->bs_port = nb_test_free_port(SOCK_DGRAM);
  } while (e->bs_port == e->coap_port);
}

static void t_env_cleanup(t_env *e) {
  for (int i = 0; i < T_DEVICES; i++) {
    unlink(e->fifo[i]);
    unlink(e->keylog[i]);
  }
  char p[160];
  snprintf(p, sizeof p, "%s/keylog", e->dir);
  unlink(p);
  const char *sfx[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s%s", e->db, sfx[i]);
    unlink(p);
  }
  rmdir(e->dir);
}

/* The server's own account: its debug log and its audit log. */
static void t_truth_from_log(t_facts *g, const char *log) {
  static const struct {
    const char *event, *op;
  } simple[] = {{"event=BOOTSTRAP_REQUEST ", "Bootstrap-Request"},
                {"event=registered ", "Register"},
                {"event=updated ", "Update"},
                {"event=deregistered ", "De-register"},
                {"event=notification ", "Notify"}};
  static const struct {
    const char *verb, *op;
  } steps[] = {{"discover", "Bootstrap-Discover"},
               {"delete", "Bootstrap-Delete"},
               {"write", "Bootstrap-Write"}};
  for (const char *l = log; l && *l;) {
    const char *end = strchr(l, '\n');
    size_t n = end ? (size_t)(end - l) : strlen(l);
    char line[512], ep[64] = "", verb[32] = "", path[64] = "";
    snprintf(line, sizeof line, "%.*s", (int)(n < 511 ? n : 511), l);
    const char *epp = strstr(line, " ep=");
    if (epp) sscanf(epp + 4, "%63s", ep);
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
      if (strstr(line, simple[i].event) && ep[0]) t_fact(g, ep, simple[i].op, NULL);
    const char *st = strstr(line, "event=bootstrap-step ");
    if (st && ep[0]) {
      const char *q = strstr(st, "step=\"");
      assert_non_null(q);
      if (!strncmp(q + 6, "finish\"", 7)) {
        t_fact(g, ep, "Bootstrap-Finish", NULL);
      } else {
        assert_int_equal(sscanf(q + 6, "%31s %63[^\"]", verb, path), 2);
        const char *op = NULL;
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
          if (!strcmp(verb, steps[i].verb)) op = steps[i].op;
        if (!op) fail_msg("unknown bootstrap step: %s", line);
        t_fact(g, ep, op, path);
      }
    }
    l = end ? end + 1 : NULL;
  }
}

static void t_truth_from_audit(t_facts *g, const char *audit) {
  static const struct {
    const char *name, *op;
  } ops[] = {{"read", "Read"},       {"discover", "Discover"},
             {"write", "Write"},     {"write-attributes", "Write-Attributes"},
             {"execute", "Execute"}, {"observe", "Observe"}};
  const char *bar = strrchr(audit, '|');
  assert_non_null(bar);
  json_error_t jerr;
  json_t *arr = json_loadb(audit, (size_t)(bar - audit), 0, &jerr);
  if (!json_is_array(arr)) fail_msg("audit: %s (%s)", audit, jerr.text);
  size_t i;
  json_t *a;
  json_array_foreach(arr, i, a) {
    const char *op = NULL;
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
      if (!strcmp(t_str(a, "operation"), ops[k].name)) op = ops[k].op;
    if (!op) fail_msg("audit operation not in the scenario: %s", t_str(a, "operation"));
    t_fact(g, t_str(a, "endpoint"), op, t_str(a, "path"));
  }
  json_decref(arr);
}

/* tshark's view: every CoAP datagram on both ports, with code and MID; with PSK, every
 * datagram with an application-data record on the server's port. */
static size_t t_tshark_frames(const t_env *e, const nb_capture *cap, t_frame *f, size_t cap_n) {
  char d1[32], d2[32], display[96];
  snprintf(d1, sizeof d1, "udp.port==%u,%s", e->coap_port, e->psk ? "dtls" : "coap");
  snprintf(d2, sizeof d2, "udp.port==%u,coap", e->bs_port);
  snprintf(display, sizeof display, "(coap || dtls.record.content_type == 23) && !(udp.port==%u)",
           cap->probe_port);
  char *argv[] = {
      "tshark", "-r", (char *)cap->path, "-d", d1,          "-d", d2,         "-Y", display, "-T",
      "fields", "-e", "frame.number",    "-e", "coap.code", "-e", "coap.mid", NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(argv, 60000, &out), 0);
  size_t n = 0;
  for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
    unsigned code = 0;
    if (n == cap_n) fail_msg("more than %zu CoAP frames", cap_n);
    int got = sscanf(line, "%ld\t%u\t%ld", &f[n].frame, &code, &f[n].mid);
    f[n].code[0] = 0;
    if (got == 3 && code <= 255)
      nb_coap_code_format((uint8_t)code, f[n].code);
    else if (got != 1 || !e->psk)
      fail_msg("tshark: %s", line);
    f[n].matched = false;
    n++;
  }
  free(out);
  return n;
}

static void t_match_frame(const json_t *ev, const char *line, t_frame *frames, size_t nframes) {
  long pkt = (long)json_integer_value(json_object_get(ev, "packet"));
  t_frame *f = NULL;
  for (size_t i = 0; i < nframes && !f; i++) f = frames[i].frame == pkt ? &frames[i] : NULL;
  if (!f) fail_msg("event for a frame tshark does not show as CoAP: %s", line);
  if (f->matched) fail_msg("second event for frame %ld: %s", pkt, line);
  f->matched = true;
  if (!f->code[0]) {
    if (strcmp(t_str(ev, "transport"), "coaps")) fail_msg("not coaps: %s", line);
  } else if (strcmp(f->code, t_str(ev, "coap_code")) ||
             f->mid != json_integer_value(json_object_get(ev, "mid")))
    fail_msg("tshark has %s mid %ld for: %s", f->code, f->mid, line);
}

/* Operations whose path is a location (registration interface) are compared without it. */
static bool t_path_kept(const char *op) {
  return strcmp(op, "Register") && strcmp(op, "Update") && strcmp(op, "De-register") &&
         strcmp(op, "Bootstrap-Request") && strcmp(op, "Bootstrap-Finish") && strcmp(op, "Notify");
}

/* The monitor's account of the capture; every message event checked against tshark. */
static void t_monitor_facts(const t_env *e, const nb_capture *cap, t_facts *m) {
  t_frame frames[T_MAX_FRAMES];
  size_t nframes = t_tshark_frames(e, cap, frames, T_MAX_FRAMES);
  char ports[32], dports[16], keylog[160];
  if (e->psk)
    snprintf(ports, sizeof ports, "%u", e->bs_port);
  else
    snprintf(ports, sizeof ports, "%u,%u", e->coap_port, e->bs_port);
  snprintf(dports, sizeof dports, "%u", e->coap_port);
  snprintf(keylog, sizeof keylog, "%s/keylog", e->dir);
  char *margv[] = {(char *)nb_test_env("NB_BINARY"),
                   "monitor",
                   "--read",
                   (char *)cap->path,
                   "--coap-ports",
                   ports,
                   "--events",
                   "-",
                   e->psk ? "--dtls-ports" : NULL,
                   dports,
                   "--keylog",
                   keylog,
                   NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(margv, 60000, &out), 0);
  size_t requests = 0, responses = 0, notifies = 0, retransmissions = 0;
  for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
    json_error_t jerr;
    json_t *ev = json_loads(line, 0, &jerr);
    if (!ev) fail_msg("not JSON (%s): %s", jerr.text, line);
    const char *kind = t_str(ev, "event");
    if (!strcmp(kind, "malformed")) fail_msg("unexpected: %s", line);
    if (strstr(t_str(ev, "detail"), "cannot decrypt")) fail_msg("not decrypted: %s", line);
    if (!strcmp(kind, "message")) {
      t_match_frame(ev, line, frames, nframes);
      const char *op = t_str(ev, "operation"), *ep = t_str(ev, "endpoint");
      if (!*ep) fail_msg("message without endpoint: %s", line);
      bool resp = json_is_true(json_object_get(ev, "response"));
      if (json_is_true(json_object_get(ev, "retransmission"))) {
        retransmissions++; /* a datagram of its own, not another operation */
      } else if (!strcmp(op, "Notify")) {
        notifies++;
        t_fact(m, ep, op, NULL);
      } else if (resp) {
        responses++;
      } else {
        requests++;
        t_fact(m, ep, op, t_path_kept(op) ? t_str(ev, "path") : NULL);
      }
    }
    json_decref(ev);
  }
  free(out);
  for (size_t i = 0; i < nframes; i++)
    if (!frames[i].matched) fail_msg("frame %ld has no message event", frames[i].frame);
  assert_int_equal(requests + responses + notifies + retransmissions, nframes);
  assert_int_equal(responses, requests); /* every request answered */
}

static void t_start_client(const t_env *e, int i, nb_test_proc *p) {
  char cmd[800];
  snprintf(cmd, sizeof cmd,
           "SSLKEYLOGFILE='%s' exec '%s' client --bootstrap coap://127.0.0.1:%u "
           "--endpoint mon-fleet-%d --objects ipso --sensor-interval 3600 --prompt < '%s'",
           e->keylog[i], nb_test_env("NB_BINARY"), e->bs_port, i, e->fifo[i]);
  char *argv[] = {"sh", "-c", cmd, NULL};
  assert_true(nb_test_proc_start(p, argv));
}

/* The clients' key logs in one file for --keylog. */
static void t_join_keylogs(const t_env *e) {
  char path[160];
  snprintf(path, sizeof path, "%s/keylog", e->dir);
  FILE *out = fopen(path, "w");
  assert_non_null(out);
  size_t lines = 0;
  for (int i = 0; i < T_DEVICES; i++) {
    size_t len = 0;
    char *text = nb_test_read_file(e->keylog[i], &len);
    if (!text || !strstr(text, "CLIENT_RANDOM ")) fail_msg("mon-fleet-%d wrote no key log", i);
    assert_int_equal(fwrite(text, 1, len, out), len);
    for (char *c = text; (c = strstr(c, "CLIENT_RANDOM ")); c++) lines++;
    free(text);
  }
  fclose(out);
  assert_true(lines >= T_DEVICES);
}

static void t_run(bool psk) {
  if (!nb_test_have_program("curl") || !nb_test_env("NB_BINARY")) {
    fprintf(stderr, "skipped: curl or NB_BINARY missing\n");
    skip();
  }
  t_env e;
  t_env_init(&e, psk);
  char coap[32], bs[32], http[32], bpf[64], why[300];
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(coap, sizeof coap, "127.0.0.1:%u", e.coap_port);
  snprintf(bs, sizeof bs, "127.0.0.1:%u", e.bs_port);
  snprintf(http, sizeof http, "127.0.0.1:%u", hp);
  snprintf(e.base, sizeof e.base, "http://127.0.0.1:%u", hp);
  snprintf(bpf, sizeof bpf, "udp port %u or udp port %u", e.coap_port, e.bs_port);
  nb_capture cap;
  if (!nb_capture_start(&cap, bpf, why, sizeof why)) {
    fprintf(stderr, "skipped: %s\n", why);
    t_env_cleanup(&e);
    skip();
  }
  char *sargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "server",
                   psk ? "--coaps" : "--coap",
                   coap,
                   "--http",
                   http,
                   "--db",
                   e.db,
                   "--with-bootstrap",
                   "--bs-coap",
                   bs,
                   "--bs-policy",
                   "auto",
                   "--log-level",
                   "debug",
                   NULL};
  nb_test_proc srv;
  assert_true(nb_test_proc_start(&srv, sargv));
  assert_true(nb_test_proc_wait_output(&srv, true, "proto=http", 10000));
  char body[300];
  snprintf(body, sizeof body,
           "{\"discover\":true,\"servers\":[{\"uri\":\"%s://%s\",\"ssid\":101,"
           "\"lifetime\":300,\"binding\":\"U\",\"security\":\"%s\"}]}",
           psk ? "coaps" : "coap", coap, psk ? "psk" : "nosec");
  free(t_req(&e, "PUT", "/api/bootstrap/configs/default", body, NULL));

  nb_test_proc cl[T_DEVICES];
  int fd[T_DEVICES];
  for (int i = 0; i < T_DEVICES; i++) {
    t_start_client(&e, i, &cl[i]);
    fd[i] = open(e.fifo[i], O_WRONLY);
    assert_true(fd[i] >= 0);
  }
  for (int i = 0; i < T_DEVICES; i++) {
    char needle[64];
    snprintf(needle, sizeof needle, "\"endpoint\":\"mon-fleet-%d\"", i);
    if (!t_wait_http(&e, "/api/clients", needle, true, 20000))
      fail_msg("%s not registered", needle);
  }
  for (int i = 0; i < T_DEVICES; i++) {
    char path[128], line[64];
    snprintf(path, sizeof path, "/api/clients/mon-fleet-%d/3/0/0", i);
    t_call(&e, "GET", path, "\"value\":\"Niobium\"");
    snprintf(path, sizeof path, "/api/clients/mon-fleet-%d/3/0/discover", i);
    t_call(&e, "GET", path, "</3/0/0>");
    snprintf(path, sizeof path, "/api/clients/mon-fleet-%d/3303/0/5700/observe", i);
    t_call(&e, "POST", path, "\"observationId\":");
    snprintf(line, sizeof line, "set /3303/0/5700 %d\n", 40 + i);
    t_say(fd[i], line);
    snprintf(path, sizeof path, "/api/clients/mon-fleet-%d/3303/0/5700/history", i);
    snprintf(line, sizeof line, "\"value\":%d", 40 + i);
    if (!t_wait_http(&e, path, line, true, 10000)) fail_msg("no notification of mon-fleet-%d", i);
    t_say(fd[i], "update\n");
    snprintf(line, sizeof line, "event=updated ep=mon-fleet-%d ", i);
    assert_true(nb_test_proc_wait_output(&srv, true, line, 10000));
  }
  for (int i = 0; i < T_DEVICES; i++) {
    kill(cl[i].pid, SIGTERM);
    assert_int_equal(nb_test_proc_wait(&cl[i], 15000), 0);
    close(fd[i]);
    nb_test_proc_cleanup(&cl[i]);
  }
  /* The 2.02 to the last De-register is on the wire once the server has dropped it. */
  assert_true(t_wait_http(&e, "/api/clients", "mon-fleet-", false, 10000));
  char *audit = t_req(&e, "GET", "/api/audit?limit=1000", NULL, NULL);
  nb_capture_stop(&cap);
  nb_test_proc_stop(&srv);
  char *log = nb_test_proc_stderr(&srv);
  nb_test_proc_cleanup(&srv);

  t_facts g = {.n = 0}, m = {.n = 0};
  t_truth_from_log(&g, log);
  t_truth_from_audit(&g, audit);
  free(log);
  free(audit);
  /* What the scenario did, per device, must be in the ground truth itself. */
  static const char *const per_device[] = {
      "Bootstrap-Request", "Bootstrap-Discover /0", "Bootstrap-Finish", "Register", "Read /3/0/0",
      "Discover /3/0",     "Observe /3303/0/5700",  "Notify",           "Update",   "De-register"};
  char *truth = t_join(&g);
  for (int i = 0; i < T_DEVICES; i++)
    for (size_t k = 0; k < sizeof per_device / sizeof per_device[0]; k++) {
      char fact[128];
      snprintf(fact, sizeof fact, "mon-fleet-%d %s\n", i, per_device[k]);
      if (!strstr(truth, fact)) fail_msg("the server's logs lack '%s':\n%s", fact, truth);
    }
  if (!strstr(truth, " Bootstrap-Write /0/") || !strstr(truth, " Bootstrap-Write /1/"))
    fail_msg("no Bootstrap-Write of /0 and /1 in the server's log:\n%s", truth);

  if (psk) t_join_keylogs(&e);
  t_monitor_facts(&e, &cap, &m);
  char *seen = t_join(&m);
  if (strcmp(seen, truth))
    fail_msg("monitor's events:\n%s\ndiffer from the programs' logs:\n%s", seen, truth);
  free(seen);
  free(truth);
  nb_capture_cleanup(&cap);
  t_env_cleanup(&e);
}

static void test_monitor_fleet_nosec(void **state) {
  (void)state;
  t_run(false);
}

/* Bootstrap in NoSec hands each device a fresh PSK; registration and management then run over
 * DTLS, decrypted with the clients' key logs (SSLKEYLOGFILE). */
static void test_monitor_fleet_psk(void **state) {
  (void)state;
  t_run(true);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_monitor_fleet_nosec),
                                     cmocka_unit_test(test_monitor_fleet_psk)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
