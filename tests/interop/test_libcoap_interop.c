/* Interop with libcoap 4.3 on loopback: our client (`niobium coap`) against coap-server-notls
 * and libcoap's coap-client-notls against `niobium coap serve`: GET, PUT, block-wise both
 * ways, observe. Each scenario runs under a tshark capture (when capturing is permitted) and
 * every datagram must decode as well-formed CoAP. Skips when the libcoap tools are missing. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_capture.h"
#include "nb_test.h"

#define RUN_MS 60000

static const char *nb;
/* The running peer and capture of the current test, cleaned up even when an assertion fails. */
static nb_test_proc server;

typedef struct {
  nb_capture cap;
  bool capturing;
  uint16_t port;
} scenario;

static scenario cur;

static int cleanup(void **state) {
  (void)state;
  nb_test_proc_cleanup(&server);
  nb_capture_cleanup(&cur.cap);
  return 0;
}

static void require_tools(const char *tool) {
  nb = nb_test_env("NB_BINARY");
  if (!nb) fail_msg("NB_BINARY is not set");
  if (!nb_test_have_program(tool)) {
    fprintf(stderr, "skipped: %s not installed (Debian package libcoap3-bin)\n", tool);
    skip();
  }
}

static void scenario_begin(scenario *sc) {
  memset(sc, 0, sizeof *sc);
  sc->port = nb_test_free_port(SOCK_DGRAM);
  assert_int_not_equal(sc->port, 0);
  char bpf[64], why[300];
  snprintf(bpf, sizeof bpf, "udp port %u", sc->port);
  sc->capturing = nb_capture_start(&sc->cap, bpf, why, sizeof why);
  if (!sc->capturing) fprintf(stderr, "note: capture part skipped: %s\n", why);
}

/* Frames that break the rules: not CoAP, malformed, or warned about. Ours (sent by the server
 * when we_serve, else to it) must not raise any warning; theirs may carry option 292
 * (Request-Tag, RFC 9175), which libcoap sends and Wireshark 4.0 flags as unknown. */
static int count_bad(const scenario *sc, bool we_serve, char **lines) {
  char ours[64], theirs[64], filter[512];
  snprintf(ours, sizeof ours, "udp.%s == %u", we_serve ? "srcport" : "dstport", sc->port);
  snprintf(theirs, sizeof theirs, "udp.%s == %u", we_serve ? "dstport" : "srcport", sc->port);
  snprintf(filter, sizeof filter,
           "(udp && !coap) || ((_ws.malformed || _ws.expert.severity >= warning) && "
           "(%s || (%s && !(_ws.expert.message contains \"Option Number 292\"))))",
           ours, theirs);
  return nb_capture_count(&sc->cap, &sc->port, 1, filter, lines);
}

static void scenario_end(scenario *sc, bool we_serve, int min_frames) {
  if (!sc->capturing) return;
  nb_capture_stop(&sc->cap);
  char ours[64];
  snprintf(ours, sizeof ours, "udp.%s == %u", we_serve ? "srcport" : "dstport", sc->port);
  int all = nb_capture_count(&sc->cap, &sc->port, 1, "udp", NULL);
  int coap = nb_capture_count(&sc->cap, &sc->port, 1, "coap", NULL);
  int ours_n = nb_capture_count(&sc->cap, &sc->port, 1, ours, NULL);
  char *lines = NULL;
  int bad = count_bad(sc, we_serve, &lines);
  if (bad != 0) fprintf(stderr, "suspicious frames:\n%s\n", lines ? lines : "?");
  free(lines);
  fprintf(stderr, "capture: %d frames, %d CoAP, %d sent by us\n", all, coap, ours_n);
  assert_true(all >= min_frames);
  assert_true(ours_n >= min_frames / 2);
  assert_int_equal(coap, all);
  assert_int_equal(bad, 0);
  nb_capture_cleanup(&sc->cap);
}

/* Runs argv (NULL-terminated varargs after the program) and returns its exit status. */
static int run(char **out, char **err, const char *prog, ...) {
  char *argv[40];
  size_t n = 0;
  argv[n++] = (char *)prog;
  va_list ap;
  va_start(ap, prog);
  for (char *a; n < 39 && (a = va_arg(ap, char *)) != NULL;) argv[n++] = a;
  va_end(ap);
  argv[n] = NULL;
  char *o = NULL, *e = NULL;
  int rc = nb_test_run_capture(argv, RUN_MS, &o, &e);
  if (rc != 0) fprintf(stderr, "%s exited %d: %s\n", prog, rc, e ? e : "");
  if (out) {
    *out = o;
  } else {
    free(o);
  }
  if (err) {
    *err = e;
  } else {
    free(e);
  }
  return rc;
}

static char *uri_of(const scenario *sc, const char *path) {
  static char buf[4][128];
  static int k;
  char *b = buf[k++ % 4];
  snprintf(b, sizeof buf[0], "coap://127.0.0.1:%u%s", sc->port, path);
  return b;
}

/* A file of n printable bytes that never repeats a 26-byte period at the same offset. */
static void make_body(char *path, size_t n, char **body) {
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  char *b = malloc(n + 1);
  for (size_t i = 0; i < n; i++) b[i] = (char)('A' + (i * 7 + i / 64) % 26);
  b[n] = 0;
  assert_int_equal(write(fd, b, n), (ssize_t)n);
  close(fd);
  *body = b;
}

/* libcoap's client may end its output with a newline of its own. */
static void assert_body(const char *got, const char *want) {
  size_t n = strlen(want), g = strlen(got);
  if (g == n + 1 && got[n] == '\n') g = n;
  assert_int_equal(g, n);
  assert_memory_equal(got, want, n);
}

/* ---- our client, their server ---- */

static void test_our_client_vs_libcoap_server(void **state) {
  (void)state;
  require_tools("coap-server-notls");
  scenario_begin(&cur);
  char port[8];
  snprintf(port, sizeof port, "%u", cur.port);
  char *argv[] = {"coap-server-notls", "-A", "127.0.0.1", "-p", port, NULL};
  assert_true(nb_test_proc_start(&server, argv));
  /* Ready when it answers. */
  char *out = NULL;
  bool up = false;
  for (int i = 0; i < 20 && !up; i++) {
    free(out);
    out = NULL;
    up = run(&out, NULL, nb, "coap", "get", "--timeout", "1", uri_of(&cur, "/.well-known/core"),
             NULL) == 0;
  }
  assert_true(up);
  assert_non_null(strstr(out, "</time>"));
  assert_non_null(strstr(out, "</example_data>"));
  free(out);

  /* PUT then GET. */
  assert_int_equal(run(NULL, NULL, nb, "coap", "put", "--content-format", "text", "--payload",
                       "hello from niobium", uri_of(&cur, "/example_data"), NULL),
                   0);
  assert_int_equal(run(&out, NULL, nb, "coap", "get", uri_of(&cur, "/example_data"), NULL), 0);
  assert_string_equal(out, "hello from niobium\n");
  free(out);

  /* Block1 upload in 64-byte blocks, Block2 download in 128-byte blocks. */
  char path[] = "/tmp/nb-interop-XXXXXX";
  char *body;
  make_body(path, 3000, &body);
  char *err;
  assert_int_equal(
      run(NULL, &err, nb, "coap", "put", "-v", "--block-size", "64", "--content-format", "text",
          "--payload-file", path, uri_of(&cur, "/example_data"), NULL),
      0);
  assert_non_null(strstr(err, "<- 2.04"));
  free(err);
  assert_int_equal(run(&out, &err, nb, "coap", "get", "-v", "--block-size", "128",
                       uri_of(&cur, "/example_data"), NULL),
                   0);
  assert_body(out, body);
  assert_non_null(strstr(err, "payload: 3000 bytes"));
  free(out);
  free(err);
  free(body);
  unlink(path);

  /* /time changes every second: three distinct notifications. */
  assert_int_equal(run(&out, &err, nb, "coap", "get", "-v", "--observe", "--count", "3",
                       uri_of(&cur, "/time"), NULL),
                   0);
  int lines = 0;
  for (const char *p = out; *p; p++) lines += *p == '\n';
  assert_int_equal(lines, 3);
  assert_non_null(strstr(err, "Observe: "));
  free(out);
  free(err);

  /* Their 4.04. */
  assert_int_equal(run(NULL, &err, nb, "coap", "get", uri_of(&cur, "/no/such/thing"), NULL), 1);
  assert_non_null(strstr(err, "4.04"));
  free(err);

  nb_test_proc_cleanup(&server);
  scenario_end(&cur, false, 20);
}

/* ---- their client, our server ---- */

static void test_libcoap_client_vs_our_server(void **state) {
  (void)state;
  require_tools("coap-client-notls");
  scenario_begin(&cur);
  char listen[32];
  snprintf(listen, sizeof listen, "127.0.0.1:%u", cur.port);
  char *argv[] = {(char *)nb, "coap", "serve", "--listen", listen, NULL};
  assert_true(nb_test_proc_start(&server, argv));
  assert_true(nb_test_proc_wait_output(&server, false, "listening on coap://", 10000));
  const char *cc = "coap-client-notls";
  char *out;

  assert_int_equal(run(&out, NULL, cc, "-m", "get", "-B", "10", uri_of(&cur, "/test"), NULL), 0);
  assert_body(out, "Hello from Niobium");
  free(out);

  assert_int_equal(
      run(&out, NULL, cc, "-m", "get", "-B", "10", uri_of(&cur, "/.well-known/core"), NULL), 0);
  assert_non_null(strstr(out, "</obs>"));
  assert_non_null(strstr(out, "</store>"));
  free(out);

  /* Block2 download of /large in 64-byte blocks: 64 numbered lines. */
  assert_int_equal(
      run(&out, NULL, cc, "-m", "get", "-b", "64", "-B", "20", uri_of(&cur, "/large"), NULL), 0);
  assert_true(strlen(out) >= 64 * 72);
  assert_memory_equal(out, "0000 ", 5);
  assert_non_null(strstr(out, "\n0063 "));
  free(out);

  /* Block1 upload to /store, read back. */
  char path[] = "/tmp/nb-interop-XXXXXX";
  char *body;
  make_body(path, 2500, &body);
  assert_int_equal(run(NULL, NULL, cc, "-m", "put", "-b", "64", "-t", "0", "-f", path, "-B", "20",
                       uri_of(&cur, "/store"), NULL),
                   0);
  assert_int_equal(run(&out, NULL, cc, "-m", "get", "-B", "20", uri_of(&cur, "/store"), NULL), 0);
  assert_body(out, body);
  free(out);
  free(body);
  unlink(path);
  /* And ours reads the same thing they stored. */
  assert_int_equal(run(&out, NULL, nb, "coap", "get", uri_of(&cur, "/store"), NULL), 0);
  assert_int_equal(strlen(out), 2501);
  free(out);

  /* Observe /obs for 3.5 s: the counter ticks every second, so several notifications. */
  assert_int_equal(run(&out, NULL, cc, "-m", "get", "-s", "4", "-w", uri_of(&cur, "/obs"), NULL),
                   0);
  int lines = 0;
  long prev = -1;
  for (char *p = out, *end; *p; p = end + (*end != 0)) {
    long v = strtol(p, &end, 10);
    if (end == p) break;
    assert_true(v > prev);
    prev = v;
    lines++;
  }
  fprintf(stderr, "observed %d notifications\n", lines);
  assert_true(lines >= 2);
  free(out);

  /* Our 4.04 and 4.05 as they see them (libcoap prints the code, exit status 0). */
  char *err;
  run(&out, &err, cc, "-m", "get", "-B", "10", uri_of(&cur, "/missing"), NULL);
  assert_true(strstr(out, "4.04") || strstr(err, "4.04"));
  free(out);
  free(err);
  run(&out, &err, cc, "-m", "post", "-e", "x", "-B", "10", uri_of(&cur, "/test"), NULL);
  assert_true(strstr(out, "4.05") || strstr(err, "4.05"));
  free(out);
  free(err);
  nb_test_proc_cleanup(&server);
  scenario_end(&cur, true, 20);
}

/* The capture check itself: a truncated option must be reported, or the checks above prove
 * nothing. */
static void test_capture_check_catches_malformed(void **state) {
  (void)state;
  scenario_begin(&cur);
  if (!cur.capturing) skip();
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to = {.sin_family = AF_INET,
                           .sin_port = htons(cur.port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  static const uint8_t good[] = {0x40, 0x01, 0x00, 0x01, 0xb4, 't', 'e', 's', 't'};
  static const uint8_t bad[] = {0x40, 0x01, 0x00, 0x02, 0xb4, 't', 'e'};
  assert_int_equal(sendto(fd, good, sizeof good, 0, (struct sockaddr *)&to, sizeof to),
                   (ssize_t)sizeof good);
  assert_int_equal(sendto(fd, bad, sizeof bad, 0, (struct sockaddr *)&to, sizeof to),
                   (ssize_t)sizeof bad);
  close(fd);
  nb_capture_stop(&cur.cap);
  assert_int_equal(nb_capture_count(&cur.cap, &cur.port, 1, "coap", NULL), 2);
  /* Caught whichever side sent it. */
  assert_int_equal(count_bad(&cur, false, NULL), 1);
  assert_int_equal(count_bad(&cur, true, NULL), 1);
  nb_capture_cleanup(&cur.cap);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_capture_check_catches_malformed, cleanup),
      cmocka_unit_test_teardown(test_our_client_vs_libcoap_server, cleanup),
      cmocka_unit_test_teardown(test_libcoap_client_vs_our_server, cleanup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
