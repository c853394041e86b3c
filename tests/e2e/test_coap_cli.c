/* `niobium coap` client against `niobium coap serve`, both real processes on loopback:
 * GET/PUT/POST/DELETE, block-wise both ways, observe, NON, content formats, exit codes and
 * usage errors. Timeouts are generous bounds on process I/O, never assertions on speed. */
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

#include "nb_test.h"

#define RUN_MS 30000

static const char *nb;
static uint16_t port;
static nb_test_proc server;
static char base[64];
static bool have_v6;

static bool have_ipv6_loopback(void) {
  int fd = socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  bool ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  close(fd);
  return ok;
}

/* Runs `niobium coap ARGS...` (NULL-terminated); returns the exit status. */
static int coap(char **out, char **err, ...) {
  char *argv[32];
  size_t n = 0;
  argv[n++] = (char *)nb;
  argv[n++] = "coap";
  va_list ap;
  va_start(ap, err);
  for (char *a; n < 31 && (a = va_arg(ap, char *)) != NULL;) argv[n++] = a;
  va_end(ap);
  argv[n] = NULL;
  char *o = NULL, *e = NULL;
  int rc = nb_test_run_capture(argv, RUN_MS, &o, &e);
  if (out) {
    *out = o;
  } else {
    free(o);
  }
  if (err) {
    *err = e;
  } else {
    if (rc != 0 && e) fprintf(stderr, "stderr: %s\n", e);
    free(e);
  }
  return rc;
}

static char *uri(const char *path) {
  static char buf[4][256];
  static int k;
  char *b = buf[k++ % 4];
  snprintf(b, sizeof buf[0], "%s%s", base, path);
  return b;
}

/* The body /large serves (the same lines the server writes). */
static char *large_body(void) {
  char *b = malloc(64 * 73 + 1);
  size_t n = 0;
  for (int line = 0; line < 64; line++) {
    n += (size_t)sprintf(b + n, "%04d %-66s\n", line,
                         "Niobium block-wise transfer test line: the quick brown fox jumps");
  }
  return b;
}

static int setup(void **state) {
  (void)state;
  nb = nb_test_env("NB_BINARY");
  if (!nb) {
    fprintf(stderr, "NB_BINARY is not set\n");
    return -1;
  }
  port = nb_test_free_port(SOCK_DGRAM);
  char listen[64];
  snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
  snprintf(base, sizeof base, "coap://127.0.0.1:%u", port);
  /* Also on ::1 when there is one, so `localhost` works whichever address it resolves to. */
  char listen6[64];
  snprintf(listen6, sizeof listen6, "[::1]:%u", port);
  have_v6 = have_ipv6_loopback();
  char *argv[] = {(char *)nb, "coap", "serve", "--listen", listen, have_v6 ? "--listen" : NULL,
                  listen6,    NULL};
  if (!nb_test_proc_start(&server, argv)) return -1;
  if (!nb_test_proc_wait_output(&server, false, "listening on coap://", 10000)) {
    char *e = nb_test_proc_stderr(&server);
    fprintf(stderr, "server did not start: %s\n", e);
    free(e);
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  nb_test_proc_cleanup(&server);
  return 0;
}

static void test_get_text(void **state) {
  (void)state;
  char *out, *err;
  assert_int_equal(coap(&out, &err, "get", "-v", uri("/test"), NULL), 0);
  assert_string_equal(out, "Hello from Niobium\n");
  assert_non_null(strstr(err, "-> CON GET"));
  assert_non_null(strstr(err, "Uri-Path: \"test\""));
  assert_non_null(strstr(err, "<- 2.05 Content"));
  assert_non_null(strstr(err, "Content-Format: 0 (text)"));
  assert_non_null(strstr(err, "payload: 18 bytes"));
  free(out);
  free(err);
  /* Without -v nothing but the payload. */
  assert_int_equal(coap(&out, &err, "get", "--non", uri("/test"), NULL), 0);
  assert_string_equal(out, "Hello from Niobium\n");
  assert_string_equal(err, "");
  free(out);
  free(err);
}

static void test_error_codes(void **state) {
  (void)state;
  char *out, *err;
  assert_int_equal(coap(&out, &err, "get", uri("/nothing-here"), NULL), 1);
  assert_non_null(strstr(err, "4.04"));
  assert_string_equal(out, "");
  free(out);
  free(err);
  assert_int_equal(coap(NULL, &err, "post", "--payload", "x", uri("/test"), NULL), 1);
  assert_non_null(strstr(err, "4.05"));
  free(err);
  assert_int_equal(coap(NULL, &err, "get", "--accept", "cbor", uri("/test"), NULL), 1);
  assert_non_null(strstr(err, "4.06"));
  free(err);
}

static void test_block2_download(void **state) {
  (void)state;
  char *expect = large_body();
  const char *sizes[] = {"16", "64", "1024"};
  for (size_t i = 0; i < 3; i++) {
    char *out, *err;
    assert_int_equal(coap(&out, &err, "get", "-v", "--block-size", sizes[i], uri("/large"), NULL),
                     0);
    assert_string_equal(out, expect);
    char want[64];
    snprintf(want, sizeof want, "payload: %zu bytes", strlen(expect));
    assert_non_null(strstr(err, want));
    free(out);
    free(err);
  }
  free(expect);
}

static void test_store_roundtrip(void **state) {
  (void)state;
  char *out;
  assert_int_equal(coap(NULL, NULL, "put", "--content-format", "text", "--payload", "hello store",
                        uri("/store"), NULL),
                   0);
  assert_int_equal(coap(&out, NULL, "get", uri("/store"), NULL), 0);
  assert_string_equal(out, "hello store\n");
  free(out);
  /* Binary content formats come back as hex, or raw with --raw. */
  assert_int_equal(coap(NULL, NULL, "post", "--content-format", "octet", "--payload-hex",
                        "00 01 fe ff", uri("/store"), NULL),
                   0);
  assert_int_equal(coap(&out, NULL, "get", uri("/store"), NULL), 0);
  assert_string_equal(out, "0001feff\n");
  free(out);
  assert_int_equal(coap(&out, NULL, "get", "--raw", uri("/store"), NULL), 0);
  assert_memory_equal(out, "\x00\x01\xfe\xff", 4);
  free(out);
  assert_int_equal(coap(NULL, NULL, "delete", uri("/store"), NULL), 0);
  assert_int_equal(coap(&out, NULL, "get", uri("/store"), NULL), 0);
  assert_string_equal(out, "");
  free(out);
}

static void test_block1_upload(void **state) {
  (void)state;
  char path[] = "/tmp/nb-coap-upload-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  char body[5000];
  for (size_t i = 0; i < sizeof body; i++) body[i] = (char)('a' + i % 26);
  assert_int_equal(write(fd, body, sizeof body), (ssize_t)sizeof body);
  close(fd);
  char *err;
  assert_int_equal(coap(NULL, &err, "put", "-v", "--block-size", "128", "--content-format", "text",
                        "--payload-file", path, uri("/store"), NULL),
                   0);
  assert_non_null(strstr(err, "2.04"));
  free(err);
  char *out;
  assert_int_equal(coap(&out, NULL, "get", "--block-size", "256", uri("/store"), NULL), 0);
  assert_int_equal(strlen(out), sizeof body + 1);
  assert_memory_equal(out, body, sizeof body);
  free(out);
  unlink(path);
}

/* Each line of out is a number one more than the line before. */
static int count_increasing(const char *out) {
  int lines = 0;
  long prev = -1;
  for (const char *p = out; *p;) {
    char *end;
    long v = strtol(p, &end, 10);
    assert_true(end > p && *end == '\n');
    if (prev >= 0) assert_true(v > prev);
    prev = v;
    lines++;
    p = end + 1;
  }
  return lines;
}

static void test_observe(void **state) {
  (void)state;
  char *out, *err;
  assert_int_equal(coap(&out, &err, "get", "-v", "--observe", "--count", "3", uri("/obs"), NULL),
                   0);
  assert_int_equal(count_increasing(out), 3);
  assert_non_null(strstr(err, "Observe: "));
  free(out);
  free(err);
  assert_int_equal(coap(&out, NULL, "get", "--observe", "--duration", "2.5", uri("/obs"), NULL), 0);
  assert_true(count_increasing(out) >= 2);
  free(out);
}

static void test_observe_store_changes(void **state) {
  (void)state;
  char *argv[] = {(char *)nb, "coap", "get",         "-v", "--observe",
                  "--count",  "3",    uri("/store"), NULL};
  nb_test_proc watcher;
  assert_true(nb_test_proc_start(&watcher, argv));
  /* The first response (the current body) shows the observation is registered. */
  assert_true(nb_test_proc_wait_output(&watcher, true, "<- 2.05", RUN_MS));
  assert_int_equal(coap(NULL, NULL, "put", "--content-format", "text", "--payload", "first",
                        uri("/store"), NULL),
                   0);
  assert_true(nb_test_proc_wait_output(&watcher, false, "first", RUN_MS));
  assert_int_equal(coap(NULL, NULL, "put", "--content-format", "text", "--payload", "second",
                        uri("/store"), NULL),
                   0);
  assert_int_equal(nb_test_proc_wait(&watcher, RUN_MS), 0);
  char *out = nb_test_proc_stdout(&watcher);
  char *first = strstr(out, "first\n");
  assert_non_null(first);
  assert_non_null(strstr(first, "second\n"));
  free(out);
  nb_test_proc_cleanup(&watcher);
}

static void test_well_known_core(void **state) {
  (void)state;
  char *out;
  assert_int_equal(coap(&out, NULL, "get", uri("/.well-known/core"), NULL), 0);
  assert_non_null(strstr(out, "</obs>"));
  assert_non_null(strstr(out, "</large>"));
  assert_non_null(strstr(out, ";obs"));
  free(out);
}

static void test_timeout(void **state) {
  (void)state;
  char dead[64], *err;
  snprintf(dead, sizeof dead, "coap://127.0.0.1:%u/x", nb_test_free_port(SOCK_DGRAM));
  assert_int_equal(coap(NULL, &err, "get", "--timeout", "1", dead, NULL), 1);
  assert_non_null(strstr(err, "no response"));
  free(err);
}

static void test_localhost_and_ipv6(void **state) {
  (void)state;
  char u[96], *out, *err;
  snprintf(u, sizeof u, "coap://localhost:%u/test", port);
  assert_int_equal(coap(&out, &err, "get", "-v", u, NULL), 0);
  assert_non_null(strstr(err, "Uri-Host: \"localhost\""));
  assert_string_equal(out, "Hello from Niobium\n");
  free(out);
  free(err);
  if (!have_v6) {
    fprintf(stderr, "note: no ::1 here, IPv6 part skipped\n");
    return;
  }
  snprintf(u, sizeof u, "coap://[::1]:%u/test", port);
  assert_int_equal(coap(&out, &err, "get", "-v", u, NULL), 0);
  assert_null(strstr(err, "Uri-Host"));
  assert_string_equal(out, "Hello from Niobium\n");
  free(out);
  free(err);
}

static void test_usage_errors(void **state) {
  (void)state;
  char *out, *err;
  assert_int_equal(coap(NULL, &err, "get", "coaps://127.0.0.1/x", NULL), 2);
  assert_non_null(strstr(err, "coaps needs credentials"));
  free(err);
  assert_int_equal(coap(NULL, NULL, "get", "http://127.0.0.1/x", NULL), 2);
  assert_int_equal(coap(NULL, NULL, "get", "coap://127.0.0.1:99999/x", NULL), 2);
  assert_int_equal(coap(NULL, NULL, "get", "coap://[::1/x", NULL), 2);
  assert_int_equal(coap(NULL, NULL, "get", "--bogus", uri("/test"), NULL), 2);
  assert_int_equal(coap(NULL, &err, "get", "--block-size", "100", uri("/test"), NULL), 2);
  assert_non_null(strstr(err, "--block-size"));
  free(err);
  assert_int_equal(coap(NULL, NULL, "get", "--block-size", "2048", uri("/test"), NULL), 2);
  assert_int_equal(coap(NULL, NULL, "get", "--accept", "nonsense", uri("/test"), NULL), 2);
  assert_int_equal(coap(NULL, NULL, "get", "--count", "2", uri("/test"), NULL), 2);
  assert_int_equal(
      coap(NULL, NULL, "put", "--payload", "a", "--payload-hex", "00", uri("/test"), NULL), 2);
  assert_int_equal(coap(NULL, NULL, "put", "--payload-hex", "0g", uri("/test"), NULL), 2);
  assert_int_equal(coap(NULL, NULL, "fetch", uri("/test"), NULL), 2);
  assert_int_equal(coap(NULL, NULL, "get", NULL), 2);
  assert_int_equal(coap(NULL, NULL, "get", "coap://127.0.0.1/a#frag", NULL), 2);
  assert_int_equal(coap(&out, NULL, "--help", NULL), 0);
  assert_non_null(strstr(out, "Examples:"));
  free(out);
  assert_int_equal(coap(&out, NULL, "serve", "--help", NULL), 0);
  assert_non_null(strstr(out, "/.well-known/core"));
  free(out);
  assert_int_equal(coap(NULL, NULL, "serve", "--listen", "nowhere", NULL), 2);
}

static void test_serve_port_in_use(void **state) {
  (void)state;
  char listen[64], *err;
  snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
  assert_int_equal(coap(NULL, &err, "serve", "--listen", listen, NULL), 1);
  assert_non_null(strstr(err, "in use"));
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get_text),
      cmocka_unit_test(test_error_codes),
      cmocka_unit_test(test_block2_download),
      cmocka_unit_test(test_store_roundtrip),
      cmocka_unit_test(test_block1_upload),
      cmocka_unit_test(test_observe),
      cmocka_unit_test(test_observe_store_changes),
      cmocka_unit_test(test_well_known_core),
      cmocka_unit_test(test_timeout),
      cmocka_unit_test(test_localhost_and_ipv6),
      cmocka_unit_test(test_usage_errors),
      cmocka_unit_test(test_serve_port_in_use),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
