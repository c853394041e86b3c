/* Recall of `niobium monitor` on a bootstrapped fleet: tshark records loopback while `niobium
 * server --with-bootstrap` bootstraps three `niobium client --bootstrap` devices (Bootstrap-
 * Request, Discover, Delete, Write, Finish) in NoSec, or in NoSec handing out PSKs, or over DTLS
 * with factory raw public keys the operator registered (`bootstrap expect`) handing out fresh
 * ones; they register (over DTLS in the last two cases), the server reads,
 * discovers and observes each over REST, each device changes the observed value (Notify),
 * updates its registration and de-registers. Ground truth is what the programs say they did:
 * the server's debug log (bootstrap requests and steps, registrations, updates,
 * de-registrations, notifications) and its audit log (management operations). The monitor's
 * events on the capture must be exactly that multiset of (endpoint, operation, path), and
 * every CoAP datagram tshark sees must have exactly one message event with its code and MID
 * (retransmissions, should the loaded machine cause any, are flagged and not counted again). */
#include <dirent.h>
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

/* NoSec throughout; NoSec bootstrap handing out PSKs; RPK bootstrap over DTLS handing out
 * fresh RPKs. */
typedef enum { T_NOSEC, T_PSK, T_RPK } t_mode;

typedef struct {
  char dir[64], db[128], fifo[T_DEVICES][128], keylog[T_DEVICES][128], base[64];
  uint16_t coap_port, bs_port;
  t_mode mode;
  bool dtls;    /* registration and management over DTLS */
  bool bs_dtls; /* the bootstrap interface over DTLS too */
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

static void t_env_init(t_env *e, t_mode mode) {
  memset(e, 0, sizeof *e);
  e->mode = mode;
  e->dtls = mode != T_NOSEC;
  e->bs_dtls = mode == T_RPK;
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

/* The directory holds only what the test made: fifos, key logs, keys, the database. */
static void t_env_cleanup(t_env *e) {
  DIR *d = opendir(e->dir);
  assert_non_null(d);
  for (struct dirent *de; (de = readdir(d));) {
    char p[400];
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", e->dir, de->d_name);
    unlink(p);
  }
  closedir(d);
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
    /* The operator's own credential changes (expected keys) are audited too: no device
     * traffic the monitor could see. */
    if (!strncmp(t_str(a, "operation"), "bootstrap-", 10)) continue;
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
      if (!strcmp(t_str(a, "operation"), ops[k].name)) op = ops[k].op;
    if (!op) fail_msg("audit operation not in the scenario: %s", t_str(a, "operation"));
    t_fact(g, t_str(a, "endpoint"), op, t_str(a, "path"));
  }
  json_decref(arr);
}

/* tshark's view: every CoAP datagram on both ports, with code and MID; on a DTLS port, every
 * datagram with an application-data record. */
static size_t t_tshark_frames(const t_env *e, const nb_capture *cap, t_frame *f, size_t cap_n) {
  char d1[32], d2[32], display[96];
  snprintf(d1, sizeof d1, "udp.port==%u,%s", e->coap_port, e->dtls ? "dtls" : "coap");
  snprintf(d2, sizeof d2, "udp.port==%u,%s", e->bs_port, e->bs_dtls ? "dtls" : "coap");
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
    else if (got != 1 || !e->dtls)
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

/* `niobium monitor --read` on the capture with the ports of the run; key_opt/key_file
 * (--keylog or --psk-file, or NULL) give the keys. Its stdout (heap). */
static char *t_monitor_run(const t_env *e, const nb_capture *cap, const char *key_opt,
                           const char *key_file) {
  char cports[32] = "", dports[32] = "";
  char *margv[16] = {
      (char *)nb_test_env("NB_BINARY"), "monitor", "--read", (char *)cap->path, "--events", "-"};
  size_t n = 6;
  if (e->bs_dtls) {
    snprintf(dports, sizeof dports, "%u,%u", e->coap_port, e->bs_port);
  } else if (e->dtls) {
    snprintf(cports, sizeof cports, "%u", e->bs_port);
    snprintf(dports, sizeof dports, "%u", e->coap_port);
  } else {
    snprintf(cports, sizeof cports, "%u,%u", e->coap_port, e->bs_port);
  }
  if (cports[0]) margv[n++] = "--coap-ports", margv[n++] = cports;
  if (dports[0]) margv[n++] = "--dtls-ports", margv[n++] = dports;
  if (key_opt) margv[n++] = (char *)key_opt, margv[n++] = (char *)key_file;
  margv[n] = NULL;
  char *out = NULL, *err = NULL;
  int rc = nb_test_run_capture(margv, 60000, &out, &err);
  if (rc != 0) fail_msg("monitor exited %d: %s", rc, err ? err : "");
  free(err);
  return out;
}

/* The monitor's account of the capture; every message event checked against tshark. */
static void t_monitor_facts(const t_env *e, const nb_capture *cap, const char *key_opt,
                            const char *key_file, t_facts *m) {
  t_frame frames[T_MAX_FRAMES];
  size_t nframes = t_tshark_frames(e, cap, frames, T_MAX_FRAMES);
  char *out = t_monitor_run(e, cap, key_opt, key_file);
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

/* `niobium keys ec --out DIR/NAME`: the key pair's files; returns its secure ID (heap). */
static char *t_keypair(const t_env *e, const char *name) {
  static const char tag[] = "secure-id: ";
  char prefix[160], *out = NULL, sid[31] = "";
  snprintf(prefix, sizeof prefix, "%s/%s", e->dir, name);
  char *argv[] = {(char *)nb_test_env("NB_BINARY"), "keys", "ec", "--out", prefix, NULL};
  assert_int_equal(nb_test_run(argv, 20000, &out), 0);
  const char *at = strstr(out, tag);
  if (at) snprintf(sid, sizeof sid, "%s", at + strlen(tag));
  free(out);
  assert_int_equal(strlen(sid), 30);
  return strdup(sid);
}

/* RPK: each device's factory key pair, whose secure ID the operator registers for its
 * endpoint (`niobium bootstrap expect` through the REST API). */
static void t_rpk_keys(const t_env *e) {
  for (int i = 0; i < T_DEVICES; i++) {
    char name[16], ep[32];
    snprintf(name, sizeof name, "dev%d", i);
    snprintf(ep, sizeof ep, "mon-fleet-%d", i);
    char *sid = t_keypair(e, name), *out = NULL;
    char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                    "bootstrap",
                    "expect",
                    "--endpoint",
                    ep,
                    "--secure-id",
                    sid,
                    "--api",
                    (char *)e->base,
                    NULL};
    assert_int_equal(nb_test_run(argv, 20000, &out), 0);
    free(out);
    free(sid);
  }
}

/* The server's SubjectPublicKeyInfo in hex for the config's server_public_key. */
static void t_server_spki_hex(const t_env *e, char *hex, size_t cap) {
  char path[160];
  snprintf(path, sizeof path, "%s/srv.spki.der", e->dir);
  size_t len = 0;
  char *der = nb_test_read_file(path, &len);
  assert_non_null(der);
  assert_true(2 * len < cap);
  for (size_t i = 0; i < len; i++) snprintf(hex + 2 * i, 3, "%02x", (unsigned char)der[i]);
  free(der);
}

static void t_start_client(const t_env *e, int i, nb_test_proc *p) {
  char cmd[1000], creds[400] = "";
  if (e->bs_dtls)
    snprintf(creds, sizeof creds, "--rpk-key '%s/dev%d.key.pem' --server-key '%s/srv.pub.pem'",
             e->dir, i, e->dir);
  snprintf(cmd, sizeof cmd,
           "SSLKEYLOGFILE='%s' exec '%s' client --bootstrap %s://127.0.0.1:%u %s "
           "--endpoint mon-fleet-%d --objects ipso --sensor-interval 3600 --prompt < '%s'",
           e->keylog[i], nb_test_env("NB_BINARY"), e->bs_dtls ? "coaps" : "coap", e->bs_port, creds,
           i, e->fifo[i]);
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

/* Without keys the DTLS sessions still show: every client's handshake with its certificate
 * type, every application-data datagram as a record event, nothing decoded as a message. */
static void t_check_without_keys(const t_env *e, const nb_capture *cap) {
  t_frame frames[T_MAX_FRAMES];
  size_t nframes = t_tshark_frames(e, cap, frames, T_MAX_FRAMES);
  char *out = t_monitor_run(e, cap, NULL, NULL);
  size_t app = 0, rpk = 0;
  for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
    json_t *ev = json_loads(line, 0, NULL);
    assert_non_null(ev);
    const char *kind = t_str(ev, "event");
    if (!strcmp(kind, "message") || !strcmp(kind, "malformed")) fail_msg("unexpected: %s", line);
    if (!strcmp(t_str(ev, "dtls_content"), "application_data")) app++;
    if (strstr(t_str(ev, "detail"), "cert_type=RPK")) rpk++;
    json_decref(ev);
  }
  free(out);
  assert_int_equal(app, nframes);
  /* Two sessions per device (bootstrap server, then server). */
  if (rpk < 2 * T_DEVICES) fail_msg("%zu handshake events with cert_type=RPK", rpk);
}

/* --psk-file with the server's database says how many PSKs it loaded (one per device, the
 * keys themselves never shown); an SQLite file that is no niobium database is refused. */
static void t_check_psk_db_cli(const t_env *e, const nb_capture *cap) {
  char *out = NULL, *err = NULL, other[160];
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "monitor",
                  "--read",
                  (char *)cap->path,
                  "--events",
                  "/dev/null",
                  "--psk-file",
                  (char *)e->db,
                  NULL};
  assert_int_equal(nb_test_run_capture(argv, 60000, &out, &err), 0);
  if (!strstr(err, "monitor: 3 PSK credential(s) from the server database "))
    fail_msg("stderr: %s", err);
  free(out);
  free(err);
  snprintf(other, sizeof other, "%s/other.db", e->dir);
  char *mk[] = {"sh", "-c", NULL, NULL}, cmd[400];
  snprintf(cmd, sizeof cmd, "printf 'SQLite format 3' > '%s'; head -c 4080 /dev/zero >> '%s'",
           other, other);
  mk[2] = cmd;
  assert_int_equal(nb_test_run(mk, 10000, &out), 0);
  free(out);
  argv[7] = other;
  assert_int_equal(nb_test_run_capture(argv, 60000, &out, &err), 2);
  if (!strstr(err, "not a readable niobium database")) fail_msg("stderr: %s", err);
  free(out);
  free(err);
}

static void t_run(t_mode mode) {
  if (!nb_test_have_program("curl") || !nb_test_env("NB_BINARY")) {
    fprintf(stderr, "skipped: curl or NB_BINARY missing\n");
    skip();
  }
  t_env e;
  t_env_init(&e, mode);
  char coap[32], bs[32], http[32], bpf[160], why[300];
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(coap, sizeof coap, "127.0.0.1:%u", e.coap_port);
  snprintf(bs, sizeof bs, "127.0.0.1:%u", e.bs_port);
  snprintf(http, sizeof http, "127.0.0.1:%u", hp);
  snprintf(e.base, sizeof e.base, "http://127.0.0.1:%u", hp);
  /* Only the run's own datagrams: every process of it talks over 127.0.0.1, while other tests
   * running beside it (the fleet simulator's devices on 127.0.0.2 and up) may still send to a
   * port this run has taken since. */
  snprintf(bpf, sizeof bpf,
           "src host 127.0.0.1 and dst host 127.0.0.1 and (udp port %u or udp port %u)",
           e.coap_port, e.bs_port);
  nb_capture cap;
  if (!nb_capture_start(&cap, bpf, why, sizeof why)) {
    fprintf(stderr, "skipped: %s\n", why);
    t_env_cleanup(&e);
    skip();
  }
  char srv_key[160];
  snprintf(srv_key, sizeof srv_key, "%s/srv.key.pem", e.dir);
  if (mode == T_RPK) free(t_keypair(&e, "srv"));
  char *sargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "server",
                   e.dtls ? "--coaps" : "--coap",
                   coap,
                   "--http",
                   http,
                   "--db",
                   e.db,
                   "--with-bootstrap",
                   e.bs_dtls ? "--bs-coaps" : "--bs-coap",
                   bs,
                   "--bs-policy",
                   "auto",
                   "--log-level",
                   "debug",
                   "--rpk-key",
                   srv_key,
                   NULL};
  if (mode != T_RPK) sargv[15] = NULL;
  nb_test_proc srv;
  assert_true(nb_test_proc_start(&srv, sargv));
  assert_true(nb_test_proc_wait_output(&srv, true, "proto=http", 10000));
  static const char *const security[] = {"nosec", "psk", "rpk"};
  char body[800], spki[400] = "";
  if (mode == T_RPK) {
    t_rpk_keys(&e);
    t_server_spki_hex(&e, spki, sizeof spki);
  }
  snprintf(body, sizeof body,
           "{\"discover\":true,\"servers\":[{\"uri\":\"%s://%s\",\"ssid\":101,"
           "\"lifetime\":300,\"binding\":\"U\",\"security\":\"%s\",\"server_public_key\":\"%s\"}]}",
           e.dtls ? "coaps" : "coap", coap, security[mode], spki);
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

  char keylog[160];
  snprintf(keylog, sizeof keylog, "%s/keylog", e.dir);
  if (e.dtls) t_join_keylogs(&e);
  t_monitor_facts(&e, &cap, e.dtls ? "--keylog" : NULL, keylog, &m);
  char *seen = t_join(&m);
  if (strcmp(seen, truth))
    fail_msg("monitor's events:\n%s\ndiffer from the programs' logs:\n%s", seen, truth);
  free(seen);
  if (mode == T_PSK) {
    /* The same from the server's database alone: the PSKs the bootstrap server made. */
    t_monitor_facts(&e, &cap, "--psk-file", e.db, &m);
    seen = t_join(&m);
    if (strcmp(seen, truth))
      fail_msg("with --psk-file %s, monitor's events:\n%s\ndiffer from:\n%s", e.db, seen, truth);
    free(seen);
    t_check_psk_db_cli(&e, &cap);
  }
  if (mode == T_RPK) t_check_without_keys(&e, &cap);
  free(truth);
  nb_capture_cleanup(&cap);
  t_env_cleanup(&e);
}

static void test_monitor_fleet_nosec(void **state) {
  (void)state;
  t_run(T_NOSEC);
}

/* Bootstrap in NoSec hands each device a fresh PSK; registration and management then run over
 * DTLS, decrypted with the clients' key logs (SSLKEYLOGFILE), and again with nothing but the
 * server's database (--psk-file), where the bootstrap server put those PSKs. */
static void test_monitor_fleet_psk(void **state) {
  (void)state;
  t_run(T_PSK);
}

/* Every device has a factory RPK the operator registered; the bootstrap itself runs over DTLS
 * and hands out a fresh RPK, registration and management run over DTLS with it; decrypted with
 * the clients' key logs, and without them every session still shows as RPK. */
static void test_monitor_fleet_rpk(void **state) {
  (void)state;
  t_run(T_RPK);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_monitor_fleet_nosec),
                                     cmocka_unit_test(test_monitor_fleet_psk),
                                     cmocka_unit_test(test_monitor_fleet_rpk)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
