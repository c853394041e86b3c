/* Recall of `niobium monitor` on traffic of our own stack: tshark records loopback while the
 * real `niobium server` and `niobium client` go through a known sequence (register, REST read
 * of /3/0/0, observe /3303/0/5700 and a value change on the client, de-register on SIGTERM);
 * the monitor then reads the capture. Every operation of the sequence must appear as an event
 * (recall 100 %), and every message event must be one datagram of the capture as tshark
 * decodes it: in NoSec a CoAP datagram with the same code and MID, in PSK (decrypted with
 * --psk-file) a DTLS application-data datagram (nothing invented, nothing counted twice). The
 * PSK run's events equal the NoSec run's; with a wrong key every application record is
 * reported as "cannot decrypt" and no message is made up. */
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
#include "dtls/cred.h"
#include "nb_capture.h"
#include "nb_test.h"

#define T_MAX_FRAMES 256

#define T_PSK_ID "mon-psk-id"
#define T_PSK_KEY "000102030405060708090a0b0c0d0e0f"

typedef enum { T_NOSEC, T_PSK, T_RPK } t_mode;

typedef struct {
  char dir[64], db[128], fifo[128], base[64], psk[128], keys[128], keylog[128];
  uint16_t coap_port;
  bool dtls;
  t_mode mode;
} t_env;

/* One CoAP datagram as tshark decodes it. */
typedef struct {
  long frame;
  char code[8];
  long mid;
  bool matched;
} t_frame;

static void t_curl(const t_env *e, const char *method, const char *path, const char *needle) {
  char url[256], *out = NULL;
  snprintf(url, sizeof url, "%s%s", e->base, path);
  char *argv[] = {"curl", "-s", "-m", "20", "-w", "|%{http_code}", "-X", (char *)method, url, NULL};
  assert_int_equal(nb_test_run(argv, 30000, &out), 0);
  if (!strstr(out, "|200") || !strstr(out, needle))
    fail_msg("%s %s: got '%s', wanted 200 and '%s'", method, path, out, needle);
  free(out);
}

static bool t_wait_http(const t_env *e, const char *path, const char *needle, int ms) {
  char url[256];
  snprintf(url, sizeof url, "%s%s", e->base, path);
  for (int t = 0; t < ms; t += 100) {
    char *out = NULL;
    char *argv[] = {"curl", "-s", "-m", "5", url, NULL};
    bool ok = nb_test_run(argv, 10000, &out) == 0 && out && strstr(out, needle);
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

/* RPK: key pairs for server and device, the device's public key in the server's store. */
static void t_keys(const t_env *e) {
  const char *names[] = {"srv", "dev"};
  for (size_t i = 0; i < 2; i++) {
    char out[160], *text = NULL;
    snprintf(out, sizeof out, "%s/%s", e->dir, names[i]);
    char *argv[] = {(char *)nb_test_env("NB_BINARY"), "keys", "ec", "--out", out, NULL};
    assert_int_equal(nb_test_run(argv, 20000, &text), 0);
    free(text);
  }
}

static void t_rpk_credential(const t_env *e) {
  char path[160], body[512];
  snprintf(path, sizeof path, "%s/dev.spki.der", e->dir);
  size_t len = 0;
  char *der = nb_test_read_file(path, &len);
  assert_non_null(der);
  int n = snprintf(body, sizeof body, "{\"mode\":\"rpk\",\"publicKey\":\"");
  for (size_t i = 0; i < len && (size_t)n + 8 < sizeof body; i++)
    n += snprintf(body + n, sizeof body - (size_t)n, "%02x", (unsigned char)der[i]);
  snprintf(body + n, sizeof body - (size_t)n, "\"}");
  free(der);
  char *out = nb_test_http(e->base, "PUT", "/api/security/clients/mon-recall", body);
  assert_non_null(out);
  if (!strstr(out, "|201") && !strstr(out, "|200")) fail_msg("credential: %s", out);
  free(out);
}

/* Runs the sequence with the capture on; the capture file stays for the checks. */
static void t_run_sequence(t_env *e, nb_capture *cap) {
  char coap[32], http[32], server_uri[64], bpf[64];
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(coap, sizeof coap, "127.0.0.1:%u", e->coap_port);
  snprintf(http, sizeof http, "127.0.0.1:%u", hp);
  snprintf(e->base, sizeof e->base, "http://127.0.0.1:%u", hp);
  snprintf(server_uri, sizeof server_uri, "%s://127.0.0.1:%u", e->dtls ? "coaps" : "coap",
           e->coap_port);
  snprintf(bpf, sizeof bpf, "udp port %u", e->coap_port);

  char why[300];
  if (!nb_capture_start(cap, bpf, why, sizeof why)) {
    fprintf(stderr, "skipped: %s\n", why);
    skip();
  }
  char srv_key[160], creds[512];
  snprintf(srv_key, sizeof srv_key, "%s/srv.key.pem", e->dir);
  char *sargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "server",
                   e->dtls ? "--coaps" : "--coap",
                   coap,
                   "--http",
                   http,
                   "--db",
                   e->db,
                   e->mode == T_RPK ? "--rpk-key" : "--psk",
                   e->mode == T_RPK ? srv_key : e->psk,
                   NULL};
  if (!e->dtls) sargv[8] = NULL;
  nb_test_proc srv;
  assert_true(nb_test_proc_start(&srv, sargv));
  assert_true(nb_test_proc_wait_output(&srv, true, "proto=http", 10000));
  if (e->mode == T_RPK) {
    t_rpk_credential(e);
    /* GnuTLS writes the session's master secret where SSLKEYLOGFILE says (NSS format). */
    snprintf(creds, sizeof creds, "--rpk-key '%s/dev.key.pem' --server-key '%s/srv.pub.pem'",
             e->dir, e->dir);
  } else {
    snprintf(creds, sizeof creds, "%s",
             e->dtls ? "--psk-identity " T_PSK_ID " --psk-key " T_PSK_KEY : "");
  }

  char cmd[1400];
  snprintf(cmd, sizeof cmd,
           "SSLKEYLOGFILE='%s' exec '%s' client --server %s --endpoint mon-recall --lifetime 300 "
           "--objects ipso --sensor-interval 3600 %s --prompt < '%s'",
           e->keylog, nb_test_env("NB_BINARY"), server_uri, creds, e->fifo);
  char *clargv[] = {"sh", "-c", cmd, NULL};
  nb_test_proc cl;
  assert_true(nb_test_proc_start(&cl, clargv));
  int fd = open(e->fifo, O_WRONLY);
  assert_true(fd >= 0);
  assert_true(nb_test_proc_wait_output(&cl, false, "registered ssid=1", 15000));
  assert_true(t_wait_http(e, "/api/clients", "\"endpoint\":\"mon-recall\"", 10000));

  t_curl(e, "GET", "/api/clients/mon-recall/3/0/0", "\"value\":\"Niobium\"");
  t_curl(e, "POST", "/api/clients/mon-recall/3303/0/5700/observe", "\"observationId\":");
  t_say(fd, "set /3303/0/5700 30\n");
  assert_true(t_wait_http(e, "/api/clients/mon-recall/3303/0/5700/history", "\"value\":30", 10000));

  kill(cl.pid, SIGTERM);
  assert_int_equal(nb_test_proc_wait(&cl, 15000), 0);
  close(fd);
  /* The server's 2.02 to the De-register is on the wire once the server has dropped it. */
  for (int t = 0; t < 100; t++) {
    if (!t_wait_http(e, "/api/clients", "\"endpoint\":\"mon-recall\"", 100)) break;
  }
  nb_capture_stop(cap);
  nb_test_proc_cleanup(&cl);
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
}

/* tshark's view: every CoAP datagram on the server's port with code and MID, or (DTLS)
 * every datagram with an application-data record. */
static size_t t_tshark_frames(const t_env *e, const nb_capture *cap, t_frame *f, size_t cap_n) {
  char decode[32], display[96];
  snprintf(decode, sizeof decode, "udp.port==%u,%s", e->coap_port, e->dtls ? "dtls" : "coap");
  snprintf(display, sizeof display, "%s && !(udp.port==%u)",
           e->dtls ? "dtls.record.content_type == 23" : "coap", cap->probe_port);
  char *argv[] = {"tshark",
                  "-r",
                  (char *)cap->path,
                  "-d",
                  decode,
                  "-Y",
                  display,
                  "-T",
                  "fields",
                  "-e",
                  "frame.number",
                  "-e",
                  e->dtls ? "udp.srcport" : "coap.code",
                  "-e",
                  e->dtls ? "udp.dstport" : "coap.mid",
                  NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(argv, 60000, &out), 0);
  size_t n = 0;
  for (char *line = strtok(out, "\n"); line && n < cap_n; line = strtok(NULL, "\n")) {
    unsigned code = 0; /* with DTLS the columns are ports and only the frame number is used */
    if (sscanf(line, "%ld\t%u\t%ld", &f[n].frame, &code, &f[n].mid) != 3 ||
        (!e->dtls && code > 255))
      fail_msg("tshark: %s", line);
    f[n].code[0] = 0;
    if (!e->dtls) nb_coap_code_format((uint8_t)code, f[n].code);
    f[n].matched = false;
    n++;
  }
  free(out);
  return n;
}

static const char *t_str(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "";
}

/* A DTLS event's detail holds this space-separated item ("decrypted=6", not "decrypted=60"). */
static bool t_detail_has(const char *detail, const char *item) {
  size_t n = strlen(item);
  for (const char *p = strstr(detail, item); p; p = strstr(p + 1, item))
    if ((p == detail || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ')) return true;
  return false;
}

/* The sequence's operations, in order: operation, response?, path prefix, code. */
typedef struct {
  const char *op;
  bool response;
  const char *path;
  const char *code;
} t_expect;

static const t_expect t_sequence[] = {
    {"Register", false, "/rd", "0.02"},         {"Register", true, "/rd", "2.01"},
    {"Read", false, "/3/0/0", "0.01"},          {"Read", true, "/3/0/0", "2.05"},
    {"Observe", false, "/3303/0/5700", "0.01"}, {"Observe", true, "/3303/0/5700", "2.05"},
    {"Notify", true, "/3303/0/5700", "2.05"},   {"De-register", false, "/rd/", "0.04"},
    {"De-register", true, "/rd/", "2.02"},
};
#define T_SEQ_LEN (sizeof t_sequence / sizeof t_sequence[0])

static bool t_is_next(const json_t *ev, const t_expect *x) {
  bool resp = json_is_true(json_object_get(ev, "response"));
  return x && !strcmp(t_str(ev, "operation"), x->op) && resp == x->response &&
         !strncmp(t_str(ev, "path"), x->path, strlen(x->path)) &&
         !strcmp(t_str(ev, "coap_code"), x->code) && !strcmp(t_str(ev, "endpoint"), "mon-recall");
}

/* A message event against tshark's frames: one event per datagram, same code and MID. */
static void t_match_frame(const t_env *e, const json_t *ev, const char *line, t_frame *frames,
                          size_t nframes) {
  long pkt = (long)json_integer_value(json_object_get(ev, "packet"));
  t_frame *f = NULL;
  for (size_t i = 0; i < nframes && !f; i++) f = frames[i].frame == pkt ? &frames[i] : NULL;
  if (!f) fail_msg("event for a frame tshark does not show as a message: %s", line);
  if (f->matched) fail_msg("second event for frame %ld: %s", pkt, line);
  f->matched = true;
  if (e->dtls) {
    if (strcmp(t_str(ev, "transport"), "coaps")) fail_msg("not coaps: %s", line);
  } else if (strcmp(f->code, t_str(ev, "coap_code")) ||
             f->mid != json_integer_value(json_object_get(ev, "mid"))) {
    fail_msg("tshark has %s mid %ld for: %s", f->code, f->mid, line);
  }
}

/* The device carries the DTLS identity it registered with: the PSK identity, or the secure ID
 * of its raw public key; none over NoSec. */
static void t_check_identity(const t_env *e, const json_t *ev, const char *line) {
  const char *id = t_str(ev, "dtls_identity");
  char want[64] = "psk:" T_PSK_ID;
  if (e->mode == T_RPK) {
    char path[160], sid[NB_DTLS_SECURE_ID_LEN + 1];
    snprintf(path, sizeof path, "%s/dev.spki.der", e->dir);
    size_t len = 0;
    char *der = nb_test_read_file(path, &len);
    assert_non_null(der);
    assert_int_equal(nb_dtls_secure_id((const uint8_t *)der, len, sid), NB_OK);
    free(der);
    snprintf(want, sizeof want, "rpk:%s", sid);
  }
  bool ok = e->mode == T_NOSEC ? id[0] == 0 : !strcmp(id, want);
  if (!ok) fail_msg("device identity %s in: %s", id[0] ? id : "(none)", line);
}

/* Runs the monitor on the capture and checks recall and precision; returns the message events'
 * signatures ("operation response code path" lines, heap) to compare runs. */
static char *t_check(const t_env *e, const nb_capture *cap, const char *keys) {
  bool keylog = e->mode == T_RPK;
  t_frame frames[T_MAX_FRAMES];
  size_t nframes = t_tshark_frames(e, cap, frames, T_MAX_FRAMES);
  assert_true(nframes >= T_SEQ_LEN);
  char ports[16];
  snprintf(ports, sizeof ports, "%u", e->coap_port);
  char *margv[] = {(char *)nb_test_env("NB_BINARY"),
                   "monitor",
                   "--read",
                   (char *)cap->path,
                   e->dtls ? "--dtls-ports" : "--coap-ports",
                   ports,
                   "--events",
                   "-",
                   keys ? (keylog ? "--keylog" : "--psk-file") : NULL,
                   (char *)keys,
                   NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(margv, 60000, &out), 0);
  size_t next = 0, messages = 0, sig_len = 0, registered = 0;
  bool saw_rpk = false;
  char *sig = calloc(1, 1);
  for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
    json_error_t jerr;
    json_t *ev = json_loads(line, 0, &jerr);
    if (!ev) fail_msg("not JSON (%s): %s", jerr.text, line);
    const char *kind = t_str(ev, "event");
    if (!strcmp(kind, "alert") || !strcmp(kind, "malformed")) fail_msg("unexpected: %s", line);
    if (!strcmp(kind, "dtls") && strstr(t_str(ev, "detail"), "cannot decrypt"))
      fail_msg("not decrypted: %s", line);
    if (strstr(t_str(ev, "detail"), "cert_type=RPK")) saw_rpk = true;
    if (!strcmp(kind, "state") && !strcmp(t_str(ev, "state"), "registered")) {
      t_check_identity(e, ev, line);
      registered++;
    }
    if (!strcmp(kind, "message")) {
      messages++;
      t_match_frame(e, ev, line, frames, nframes);
      if (t_is_next(ev, next < T_SEQ_LEN ? &t_sequence[next] : NULL)) next++;
      char one[512];
      const char *path = t_str(ev, "path");
      char *values = json_dumps(json_object_get(ev, "values"), JSON_COMPACT | JSON_ENCODE_ANY);
      /* Registration locations are random per run. */
      int n = snprintf(one, sizeof one, "%s %d %s %s %s\n", t_str(ev, "operation"),
                       json_is_true(json_object_get(ev, "response")), t_str(ev, "coap_code"),
                       strncmp(path, "/rd/", 4) ? path : "/rd/<location>", values ? values : "");
      free(values);
      assert_true(n > 0 && (size_t)n < sizeof one);
      sig = realloc(sig, sig_len + (size_t)n + 1);
      assert_non_null(sig);
      memcpy(sig + sig_len, one, (size_t)n + 1);
      sig_len += (size_t)n;
    }
    json_decref(ev);
  }
  free(out);
  if (next != T_SEQ_LEN)
    fail_msg("missed %s%s of the sequence", t_sequence[next].op,
             t_sequence[next].response ? " response" : "");
  for (size_t i = 0; i < nframes; i++)
    if (!frames[i].matched) fail_msg("frame %ld has no message event", frames[i].frame);
  assert_int_equal(messages, nframes);
  assert_true(saw_rpk == keylog);
  assert_int_equal(registered, 1);
  return sig;
}

/* With a wrong key: every application record says it cannot be decrypted, no message. */
static void t_check_wrong_key(const t_env *e, const nb_capture *cap) {
  char path[160], ports[16];
  snprintf(path, sizeof path, "%s/wrong.csv", e->dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f, "%s,ffeeddccbbaa99887766554433221100\n", T_PSK_ID);
  fclose(f);
  snprintf(ports, sizeof ports, "%u", e->coap_port);
  char *margv[] = {(char *)nb_test_env("NB_BINARY"),
                   "monitor",
                   "--read",
                   (char *)cap->path,
                   "--dtls-ports",
                   ports,
                   "--events",
                   "-",
                   "--psk-file",
                   path,
                   NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(margv, 60000, &out), 0);
  size_t cannot = 0;
  for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
    json_t *ev = json_loads(line, 0, NULL);
    assert_non_null(ev);
    if (!strcmp(t_str(ev, "event"), "message")) fail_msg("message from a wrong key: %s", line);
    if (!strcmp(t_str(ev, "dtls_content"), "application_data") &&
        strstr(t_str(ev, "detail"), "cannot decrypt: record authentication failed"))
      cannot++;
    json_decref(ev);
  }
  free(out);
  t_frame frames[T_MAX_FRAMES];
  assert_int_equal(cannot, t_tshark_frames(e, cap, frames, T_MAX_FRAMES));
  unlink(path);
}

static void t_env_init(t_env *e, t_mode mode) {
  memset(e, 0, sizeof *e);
  e->mode = mode;
  e->dtls = mode != T_NOSEC;
  snprintf(e->dir, sizeof e->dir, "/tmp/nb-mon-recall-XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  snprintf(e->db, sizeof e->db, "%s/server.db", e->dir);
  snprintf(e->fifo, sizeof e->fifo, "%s/stdin", e->dir);
  snprintf(e->psk, sizeof e->psk, "%s/psk.txt", e->dir);
  snprintf(e->keys, sizeof e->keys, "%s/keys.csv", e->dir);
  snprintf(e->keylog, sizeof e->keylog, "%s/keylog.txt", e->dir);
  assert_int_equal(mkfifo(e->fifo, 0600), 0);
  FILE *f = fopen(e->psk, "w");
  assert_non_null(f);
  fprintf(f, "mon-recall,%s,%s\n", T_PSK_ID, T_PSK_KEY);
  fclose(f);
  f = fopen(e->keys, "w");
  assert_non_null(f);
  fprintf(f, "# monitor keys\nother-id,00112233\n%s,%s\n", T_PSK_ID, T_PSK_KEY);
  fclose(f);
  e->coap_port = nb_test_free_port(SOCK_DGRAM);
  if (mode == T_RPK) t_keys(e);
}

static void t_env_cleanup(t_env *e) {
  const char *files[] = {e->fifo, e->psk, e->keys, e->keylog};
  for (size_t i = 0; i < 4; i++) unlink(files[i]);
  const char *kf[] = {"srv.key.pem", "srv.pub.pem", "srv.spki.der",
                      "dev.key.pem", "dev.pub.pem", "dev.spki.der"};
  for (size_t i = 0; i < sizeof kf / sizeof kf[0]; i++) {
    char p[200];
    snprintf(p, sizeof p, "%s/%s", e->dir, kf[i]);
    unlink(p);
  }
  char p[160];
  const char *sfx[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s%s", e->db, sfx[i]);
    unlink(p);
  }
  rmdir(e->dir);
}

static bool t_can_run(void) {
  if (nb_test_have_program("curl") && nb_test_env("NB_BINARY")) return true;
  fprintf(stderr, "skipped: curl or NB_BINARY missing\n");
  return false;
}

static char *t_nosec_sig;

static void test_monitor_recall_nosec(void **state) {
  (void)state;
  if (!t_can_run()) skip();
  t_env e;
  t_env_init(&e, T_NOSEC);
  nb_capture cap;
  t_run_sequence(&e, &cap);
  t_nosec_sig = t_check(&e, &cap, NULL);
  nb_capture_cleanup(&cap);
  t_env_cleanup(&e);
}

static void test_monitor_recall_psk(void **state) {
  (void)state;
  if (!t_can_run()) skip();
  t_env e;
  t_env_init(&e, T_PSK);
  nb_capture cap;
  t_run_sequence(&e, &cap);
  char *sig = t_check(&e, &cap, e.keys);
  if (t_nosec_sig && strcmp(sig, t_nosec_sig))
    fail_msg("PSK run's events:\n%s\ndiffer from NoSec run's:\n%s", sig, t_nosec_sig);
  free(sig);
  t_check_wrong_key(&e, &cap);
  nb_capture_cleanup(&cap);
  t_env_cleanup(&e);
}

/* RPK (ECDHE-ECDSA): nothing to decrypt without keys, but the sessions appear with their
 * certificate type; with the client's key log every operation is recalled as in NoSec. */
static void t_check_rpk_without_keys(const t_env *e, const nb_capture *cap) {
  char ports[16];
  snprintf(ports, sizeof ports, "%u", e->coap_port);
  char *margv[] = {(char *)nb_test_env("NB_BINARY"),
                   "monitor",
                   "--read",
                   (char *)cap->path,
                   "--dtls-ports",
                   ports,
                   "--events",
                   "-",
                   NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(margv, 60000, &out), 0);
  size_t app = 0, rpk = 0;
  for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
    json_t *ev = json_loads(line, 0, NULL);
    assert_non_null(ev);
    const char *kind = t_str(ev, "event");
    if (!strcmp(kind, "message") || !strcmp(kind, "malformed")) fail_msg("unexpected: %s", line);
    if (!strcmp(t_str(ev, "dtls_content"), "application_data")) app++;
    if (strstr(t_str(ev, "detail"), "cert_type=RPK") &&
        strstr(t_str(ev, "detail"), "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"))
      rpk++;
    json_decref(ev);
  }
  free(out);
  t_frame frames[T_MAX_FRAMES];
  assert_int_equal(app, t_tshark_frames(e, cap, frames, T_MAX_FRAMES));
  assert_true(rpk >= 1);
}

static void test_monitor_recall_rpk(void **state) {
  (void)state;
  if (!t_can_run()) skip();
  t_env e;
  t_env_init(&e, T_RPK);
  nb_capture cap;
  t_run_sequence(&e, &cap);
  size_t len = 0;
  char *log = nb_test_read_file(e.keylog, &len);
  if (!log || !strstr(log, "CLIENT_RANDOM ")) fail_msg("the client wrote no key log");
  free(log);
  char *sig = t_check(&e, &cap, e.keylog);
  if (t_nosec_sig && strcmp(sig, t_nosec_sig))
    fail_msg("RPK run's events:\n%s\ndiffer from NoSec run's:\n%s", sig, t_nosec_sig);
  free(sig);
  t_check_rpk_without_keys(&e, &cap);
  nb_capture_cleanup(&cap);
  t_env_cleanup(&e);
}

/* ---- every suite and key schedule the decryptor knows, on one `niobium coap serve` */

#define T_SUITE_ID "suite-id"
#define T_SUITE_KEY "00112233445566778899aabbccddeeff"

/* `niobium coap get` of /test, plain or over coaps with one suite. */
static void t_coap_get(const char *uri, const char *ciphers) {
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "coap",
                  "get",
                  (char *)uri,
                  ciphers ? "--psk-identity" : NULL,
                  T_SUITE_ID,
                  "--psk-key",
                  T_SUITE_KEY,
                  "--ciphers",
                  (char *)ciphers,
                  NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(argv, 20000, &out), 0);
  free(out);
}

/* gnutls-cli sends one line over DTLS with a priority string (options our own stack does not
 * expose: no encrypt-then-MAC, no extended master secret). */
static void t_gnutls_line(uint16_t port, const char *priority) {
  char cmd[512];
  snprintf(cmd, sizeof cmd,
           "printf 'hello\\n' | gnutls-cli --udp -p %u 127.0.0.1 --pskusername " T_SUITE_ID
           " --pskkey " T_SUITE_KEY " --priority '%s' >/dev/null 2>&1",
           port, priority);
  char *argv[] = {"sh", "-c", cmd, NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(argv, 20000, &out), 0);
  free(out);
}

#define T_PRIO "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK:-CIPHER-ALL:-MAC-ALL:"

static void test_monitor_psk_suites(void **state) {
  (void)state;
  if (!t_can_run()) skip();
  uint16_t plain = nb_test_free_port(SOCK_DGRAM), secure = nb_test_free_port(SOCK_DGRAM);
  char bpf[64], listen[32], coaps[32], uri[64], suri[64];
  snprintf(bpf, sizeof bpf, "udp port %u or udp port %u", plain, secure);
  snprintf(listen, sizeof listen, "127.0.0.1:%u", plain);
  snprintf(coaps, sizeof coaps, "127.0.0.1:%u", secure);
  snprintf(uri, sizeof uri, "coap://127.0.0.1:%u/test", plain);
  snprintf(suri, sizeof suri, "coaps://127.0.0.1:%u/test", secure);
  nb_capture cap;
  char why[300];
  if (!nb_capture_start(&cap, bpf, why, sizeof why)) {
    fprintf(stderr, "skipped: %s\n", why);
    skip();
  }
  char *sargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "coap",
                   "serve",
                   "--listen",
                   listen,
                   "--coaps",
                   coaps,
                   "--psk-identity",
                   T_SUITE_ID,
                   "--psk-key",
                   T_SUITE_KEY,
                   NULL};
  nb_test_proc srv;
  assert_true(nb_test_proc_start(&srv, sargv));
  assert_true(nb_test_proc_wait_output(&srv, false, "listening on coaps://", 10000));
  t_coap_get(uri, NULL);
  t_coap_get(suri, "TLS_PSK_WITH_AES_128_CCM_8");
  t_coap_get(suri, "TLS_PSK_WITH_AES_128_CBC_SHA256");
  bool gnutls = nb_test_have_program("gnutls-cli");
  if (gnutls) {
    t_gnutls_line(secure, T_PRIO "+AES-128-CBC:+SHA256:%NO_ETM:%NO_SESSION_HASH");
    t_gnutls_line(secure, T_PRIO "+AES-128-CCM-8:+AEAD:%NO_SESSION_HASH");
  } else {
    fprintf(stderr, "note: gnutls-cli missing, MAC-then-encrypt and no-EMS sessions not tested\n");
  }
  nb_capture_stop(&cap);
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);

  char keys[64], ports[2][16];
  snprintf(keys, sizeof keys, "/tmp/nb-mon-suites-%d.csv", getpid());
  FILE *f = fopen(keys, "w");
  assert_non_null(f);
  fprintf(f, "%s,%s\n", T_SUITE_ID, T_SUITE_KEY);
  fclose(f);
  snprintf(ports[0], sizeof ports[0], "%u", plain);
  snprintf(ports[1], sizeof ports[1], "%u", secure);
  char *margv[] = {(char *)nb_test_env("NB_BINARY"),
                   "monitor",
                   "--read",
                   cap.path,
                   "--coap-ports",
                   ports[0],
                   "--dtls-ports",
                   ports[1],
                   "--events",
                   "-",
                   "--psk-file",
                   keys,
                   NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(margv, 60000, &out), 0);
  unlink(keys);
  /* Per session (plain, CCM-8, CBC): the GET and its 2.05, equal to the plain ones. */
  char sig[3][256] = {"", "", ""};
  size_t gets = 0, hello = 0, close_notify = 0;
  for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
    json_t *ev = json_loads(line, 0, NULL);
    assert_non_null(ev);
    const char *kind = t_str(ev, "event"), *detail = t_str(ev, "detail");
    if (strstr(detail, "cannot decrypt")) fail_msg("not decrypted: %s", line);
    if (!strcmp(kind, "dtls") && strstr(detail, "alert=warning/close_notify")) close_notify++;
    bool gnutls_data = !strcmp(kind, "malformed") || !strcmp(kind, "alert");
    if (!strcmp(kind, "dtls") && !strcmp(t_str(ev, "dtls_content"), "application_data") &&
        t_detail_has(detail, "decrypted=6"))
      hello++; /* gnutls-cli's "hello\n", which is not CoAP */
    if (!strcmp(kind, "message")) {
      size_t k = gets / 2;
      if (k >= 3) fail_msg("more messages than the three GETs and answers: %s", line);
      size_t used = strlen(sig[k]);
      snprintf(sig[k] + used, sizeof sig[k] - used, "%s %s %s %d %lld|", t_str(ev, "coap_code"),
               t_str(ev, "path"), t_str(ev, "coap_type"),
               (int)json_integer_value(json_object_get(ev, "content_format")),
               (long long)json_integer_value(json_object_get(ev, "payload_size")));
      if (strcmp(t_str(ev, "transport"), k ? "coaps" : "coap")) fail_msg("transport: %s", line);
      gets++;
    } else if (gnutls_data && !gnutls) {
      fail_msg("unexpected: %s", line);
    }
    json_decref(ev);
  }
  free(out);
  assert_int_equal(gets, 6);
  assert_non_null(strstr(sig[0], "2.05 /test ACK 0 "));
  assert_string_equal(sig[1], sig[0]);
  assert_string_equal(sig[2], sig[0]);
  if (gnutls) {
    assert_int_equal(hello, 2);
    assert_true(close_notify >= 2);
  }
  nb_capture_cleanup(&cap);
}

/* ---- abbreviated handshakes and fragmented handshake messages */

/* Runs gnutls-cli with -r (connect, then resume), with a small MTU or not. */
static void t_gnutls_resume(uint16_t port, const char *priority, const char *mtu) {
  char cmd[600];
  snprintf(cmd, sizeof cmd,
           "printf 'hello\\n' | gnutls-cli --udp -p %u 127.0.0.1 -r %s%s --pskusername " T_SUITE_ID
           " --pskkey " T_SUITE_KEY " --priority '%s' 2>&1 | grep -c 'This is a resumed session'",
           port, mtu ? "--mtu " : "", mtu ? mtu : "", priority);
  char *argv[] = {"sh", "-c", cmd, NULL};
  char *out = NULL;
  nb_test_run(argv, 20000, &out);
  if (!out || atoi(out) != 1) fail_msg("gnutls-cli did not resume: %s", out ? out : "");
  free(out);
}

/* The monitor on the capture: one full and one resumed session, both decrypted. */
static void t_resume_check(const char *pcap, uint16_t port, size_t min_data, bool fragments) {
  char keys[64], ports[16];
  snprintf(keys, sizeof keys, "/tmp/nb-mon-resume-%d.csv", getpid());
  FILE *f = fopen(keys, "w");
  assert_non_null(f);
  fprintf(f, "%s,%s\n", T_SUITE_ID, T_SUITE_KEY);
  fclose(f);
  snprintf(ports, sizeof ports, "%u", port);
  char *margv[] = {(char *)nb_test_env("NB_BINARY"),
                   "monitor",
                   "--read",
                   (char *)pcap,
                   "--dtls-ports",
                   ports,
                   "--events",
                   "-",
                   "--psk-file",
                   keys,
                   NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(margv, 60000, &out), 0);
  unlink(keys);
  size_t resumed = 0, full = 0, data = 0, reassembled = 0;
  for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
    json_t *ev = json_loads(line, 0, NULL);
    assert_non_null(ev);
    const char *detail = t_str(ev, "detail");
    if (strstr(detail, "cannot decrypt") ||
        (strstr(detail, "decryption=") && !strstr(detail, "decryption=keyed")))
      fail_msg("not decrypted: %s", line);
    if (strstr(detail, "decryption=keyed (resumed session)")) resumed++;
    if (strstr(detail, "decryption=keyed psk_identity")) full++;
    if (t_detail_has(detail, "decrypted=6")) data++; /* "hello\n" */
    if (strstr(detail, "reassembled")) reassembled++;
    json_decref(ev);
  }
  free(out);
  assert_int_equal(full, 1);
  assert_int_equal(resumed, 1);
  assert_true(data >= min_data);
  if (fragments) assert_true(reassembled >= 2); /* a ClientHello in each connection */
}

#define T_PRIO_CCM T_PRIO "+AES-128-CCM-8:+AEAD"
#define T_PRIO_CBC T_PRIO "+AES-128-CBC:+SHA256"

/* By session ticket against `niobium coap serve`, with every ClientHello fragmented (MTU
 * 120); by session ID (tickets off) against gnutls-serv's session cache. */
static void test_monitor_resumed_sessions(void **state) {
  (void)state;
  if (!t_can_run() || !nb_test_have_program("gnutls-cli") || !nb_test_have_program("gnutls-serv")) {
    fprintf(stderr, "skipped: gnutls-cli and gnutls-serv (gnutls-bin) needed\n");
    skip();
  }
  uint16_t secure = nb_test_free_port(SOCK_DGRAM), plain = nb_test_free_port(SOCK_DGRAM);
  char bpf[64], listen[32], coaps[32], why[300];
  snprintf(bpf, sizeof bpf, "udp port %u", secure);
  snprintf(listen, sizeof listen, "127.0.0.1:%u", plain);
  snprintf(coaps, sizeof coaps, "127.0.0.1:%u", secure);
  nb_capture cap;
  if (!nb_capture_start(&cap, bpf, why, sizeof why)) {
    fprintf(stderr, "skipped: %s\n", why);
    skip();
  }
  char *sargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "coap",
                   "serve",
                   "--listen",
                   listen,
                   "--coaps",
                   coaps,
                   "--psk-identity",
                   T_SUITE_ID,
                   "--psk-key",
                   T_SUITE_KEY,
                   NULL};
  nb_test_proc srv;
  assert_true(nb_test_proc_start(&srv, sargv));
  assert_true(nb_test_proc_wait_output(&srv, false, "listening on coaps://", 10000));
  t_gnutls_resume(secure, T_PRIO_CCM, "120");
  nb_capture_stop(&cap);
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
  t_resume_check(cap.path, secure, 1, true);
  nb_capture_cleanup(&cap);

  secure = nb_test_free_port(SOCK_DGRAM);
  snprintf(bpf, sizeof bpf, "udp port %u", secure);
  char pw[64], port[16];
  snprintf(pw, sizeof pw, "/tmp/nb-mon-pskpw-%d", getpid());
  FILE *f = fopen(pw, "w");
  assert_non_null(f);
  fprintf(f, "%s:%s\n", T_SUITE_ID, T_SUITE_KEY);
  fclose(f);
  snprintf(port, sizeof port, "%u", secure);
  if (!nb_capture_start(&cap, bpf, why, sizeof why)) fail_msg("%s", why);
  char *gargv[] = {"gnutls-serv", "--udp", "--echo",     "-p",       port, "--noticket",
                   "--pskpasswd", pw,      "--priority", T_PRIO_CBC, NULL};
  nb_test_proc gs;
  assert_true(nb_test_proc_start(&gs, gargv));
  assert_true(nb_test_proc_wait_output(&gs, true, "listening on IPv4", 10000));
  t_gnutls_resume(secure, T_PRIO_CBC ":%NO_TICKETS", NULL);
  nb_capture_stop(&cap);
  nb_test_proc_stop(&gs);
  nb_test_proc_cleanup(&gs);
  unlink(pw);
  t_resume_check(cap.path, secure, 2, false); /* "hello" and its echo, resumed session */
  nb_capture_cleanup(&cap);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_monitor_recall_nosec), cmocka_unit_test(test_monitor_recall_psk),
      cmocka_unit_test(test_monitor_recall_rpk), cmocka_unit_test(test_monitor_psk_suites),
      cmocka_unit_test(test_monitor_resumed_sessions)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  free(t_nosec_sig);
  return rc;
}
