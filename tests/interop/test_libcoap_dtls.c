/* CoAP over DTLS interop with libcoap 4.3 on 127.0.0.1:
 *  - coap-client-gnutls with a raw public key (-M) against `niobium coap serve --coaps`
 *    (libcoap's OpenSSL build has no RPK support, so RPK is covered with the GnuTLS one);
 *  - coap-client-openssl with PSK (-u/-k) and with certificates (-c/-j/-C) against our server,
 *    so a second DTLS implementation checks ours;
 *  - our client against coap-server-gnutls with PSK (-k/-h) and certificates (-c/-j/-C).
 * libcoap's clients exit 0 even when the handshake fails, so their stdout is what is checked.
 * Each test skips cleanly when its libcoap tool is missing. */
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

#define RUN_MS 60000
/* libcoap takes the PSK as text (-k); ours takes hex: the same 12 bytes. */
#define PSK_TEXT "secretPSK123"
#define PSK_HEX "73656372657450534b313233"
/* 200 bytes: four 64-byte Block1 blocks. */
#define UPLOAD                                                                                  \
  "uploaded over DTLS by libcoap/OpenSSL in 64-byte blocks; uploaded over DTLS by libcoap/Open" \
  "SSL in 64-byte blocks; uploaded over DTLS by libcoap/OpenSSL in 64-byte blocks; end of it.."

static const char *nb;
static char dir[64];
static nb_test_proc server;

static char *in_dir(const char *name) {
  static char buf[16][256];
  static int k;
  char *b = buf[k++ % 16];
  snprintf(b, sizeof buf[0], "%s/%s", dir, name);
  return b;
}

/* Runs argv (NULL-terminated list) to completion; returns the exit status. */
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

static bool concat(const char *a, const char *b, const char *to) {
  size_t la, lb;
  char *x = nb_test_read_file(a, &la), *y = nb_test_read_file(b, &lb);
  FILE *f = fopen(to, "w");
  bool ok = x && y && f && fwrite(x, 1, la, f) == la && fwrite(y, 1, lb, f) == lb;
  if (f) ok = fclose(f) == 0 && ok;
  free(x);
  free(y);
  return ok;
}

static int setup(void **state) {
  (void)state;
  nb = nb_test_env("NB_BINARY");
  snprintf(dir, sizeof dir, "/tmp/nb-coaps-interop-XXXXXX");
  if (!nb || !mkdtemp(dir)) return -1;
  bool ok = run(NULL, NULL, nb, "keys", "ec", "--out", in_dir("srv"), NULL) == 0 &&
            run(NULL, NULL, nb, "keys", "ec", "--out", in_dir("dev"), NULL) == 0 &&
            run(NULL, NULL, nb, "keys", "cert", "ca", "--cn", "Interop CA", "--out", in_dir("ca"),
                NULL) == 0 &&
            run(NULL, NULL, nb, "keys", "cert", "issue", "--ca", in_dir("ca"), "--cn", "server",
                "--san", "127.0.0.1", "--out", in_dir("scert"), NULL) == 0 &&
            run(NULL, NULL, nb, "keys", "cert", "issue", "--ca", in_dir("ca"), "--cn", "dev1",
                "--out", in_dir("dcert"), NULL) == 0 &&
            /* libcoap's -M wants the private and the public key in one PEM file. */
            concat(in_dir("dev.key.pem"), in_dir("dev.pub.pem"), in_dir("dev.rpk.pem"));
  return ok ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static int cleanup(void **state) {
  (void)state;
  nb_test_proc_cleanup(&server);
  return 0;
}

static void require_tool(const char *tool) {
  if (!nb_test_have_program(tool)) {
    fprintf(stderr, "skipped: %s not installed (Debian package libcoap3-bin)\n", tool);
    skip();
  }
}

/* `niobium coap serve -v --coaps 127.0.0.1:PORT <extra>`; returns the coaps:// base. */
static const char *our_server(char *const extra[]) {
  static char base[64];
  uint16_t port = nb_test_free_port(SOCK_DGRAM);
  char listen[32];
  snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
  snprintf(base, sizeof base, "coaps://127.0.0.1:%u", port);
  char *argv[24] = {(char *)nb, "coap", "serve", "-v", "--coaps", listen};
  size_t n = 6;
  for (size_t i = 0; extra[i]; i++) argv[n++] = extra[i];
  argv[n] = NULL;
  assert_true(nb_test_proc_start(&server, argv));
  assert_true(nb_test_proc_wait_output(&server, false, "listening on coaps://", 10000));
  return base;
}

static char *url(const char *base, const char *path) {
  static char buf[4][128];
  static int k;
  char *b = buf[k++ % 4];
  snprintf(b, sizeof buf[0], "%s%s", base, path);
  return b;
}

static void assert_server_log(const char *needle) {
  char *e = nb_test_proc_stderr(&server);
  if (!strstr(e, needle)) fail_msg("server log lacks '%s':\n%s", needle, e);
  free(e);
}

/* ---- their clients, our server ---- */

static void test_gnutls_client_rpk(void **state) {
  (void)state;
  require_tool("coap-client-gnutls");
  char *srv[] = {"--rpk-key", in_dir("srv.key.pem"), "--client-key", in_dir("dev.pub.pem"), NULL};
  const char *base = our_server(srv);
  char *out;
  run(&out, NULL, "coap-client-gnutls", "-B", "20", "-M", in_dir("dev.rpk.pem"), url(base, "/test"),
      NULL);
  assert_non_null(strstr(out, "Hello from Niobium"));
  free(out);
  /* Block2 through libcoap's block handling. */
  run(&out, NULL, "coap-client-gnutls", "-B", "20", "-M", in_dir("dev.rpk.pem"), "-b", "256",
      url(base, "/large"), NULL);
  assert_non_null(strstr(out, "0000 Niobium block-wise"));
  assert_non_null(strstr(out, "0063 Niobium block-wise"));
  free(out);
  assert_server_log(
      "DTLS established: suite TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, client raw "
      "public key, secure ID ");
  nb_test_proc_cleanup(&server);
}

static void test_gnutls_client_rpk_refused(void **state) {
  (void)state;
  require_tool("coap-client-gnutls");
  /* We accept only the server's own key as a client key: dev's key is refused. */
  char *srv[] = {"--rpk-key", in_dir("srv.key.pem"), "--client-key", in_dir("srv.pub.pem"), NULL};
  const char *base = our_server(srv);
  char *out;
  run(&out, NULL, "coap-client-gnutls", "-B", "5", "-M", in_dir("dev.rpk.pem"), url(base, "/test"),
      NULL);
  assert_null(strstr(out, "Hello from Niobium"));
  free(out);
  assert_server_log("alert bad_certificate sent");
  nb_test_proc_cleanup(&server);
}

static void test_openssl_client_psk(void **state) {
  (void)state;
  require_tool("coap-client-openssl");
  char *srv[] = {"--psk-identity", "dev1", "--psk-key", PSK_HEX, NULL};
  const char *base = our_server(srv);
  char *out;
  run(&out, NULL, "coap-client-openssl", "-B", "20", "-u", "dev1", "-k", PSK_TEXT,
      url(base, "/test"), NULL);
  assert_non_null(strstr(out, "Hello from Niobium"));
  free(out);
  /* Block1 upload, then read back. */
  run(&out, NULL, "coap-client-openssl", "-B", "20", "-u", "dev1", "-k", PSK_TEXT, "-m", "put",
      "-t", "text/plain", "-b", "64", "-e", UPLOAD, url(base, "/store"), NULL);
  free(out);
  run(&out, NULL, "coap-client-openssl", "-B", "20", "-u", "dev1", "-k", PSK_TEXT,
      url(base, "/store"), NULL);
  assert_non_null(strstr(out, UPLOAD));
  free(out);
  /* A wrong key gets no data. */
  run(&out, NULL, "coap-client-openssl", "-B", "5", "-u", "dev1", "-k", "wrong", url(base, "/test"),
      NULL);
  assert_null(strstr(out, "Hello"));
  free(out);
  assert_server_log("client psk identity 'dev1'");
  assert_server_log("alert bad_record_mac sent");
  nb_test_proc_cleanup(&server);
}

static void test_openssl_client_x509(void **state) {
  (void)state;
  require_tool("coap-client-openssl");
  char *srv[] = {"--cert", in_dir("scert.crt.pem"), "--key", in_dir("scert.key.pem"),
                 "--ca",   in_dir("ca.crt.pem"),    NULL};
  const char *base = our_server(srv);
  char *out;
  run(&out, NULL, "coap-client-openssl", "-B", "20", "-c", in_dir("dcert.crt.pem"), "-j",
      in_dir("dcert.key.pem"), "-C", in_dir("ca.crt.pem"), url(base, "/test"), NULL);
  assert_non_null(strstr(out, "Hello from Niobium"));
  free(out);
  assert_server_log("client certificate 'CN=dev1'");
  nb_test_proc_cleanup(&server);
}

/* ---- our client, their server ---- */

/* coap-server-gnutls -p P serves DTLS on P+1. Returns the coaps:// base once it answers. */
static const char *their_server(char *const extra[], char *const probe_creds[]) {
  static char base[64];
  uint16_t port = nb_test_free_port(SOCK_DGRAM);
  char p[8];
  snprintf(p, sizeof p, "%u", port);
  snprintf(base, sizeof base, "coaps://127.0.0.1:%u", port + 1);
  char *argv[24] = {"coap-server-gnutls", "-A", "127.0.0.1", "-p", p};
  size_t n = 5;
  for (size_t i = 0; extra[i]; i++) argv[n++] = extra[i];
  argv[n] = NULL;
  assert_true(nb_test_proc_start(&server, argv));
  bool up = false;
  for (int i = 0; i < 20 && !up; i++) {
    char *args[24] = {(char *)nb, "coap", "get", "--timeout", "1"};
    size_t k = 5;
    for (size_t j = 0; probe_creds[j]; j++) args[k++] = probe_creds[j];
    args[k++] = url(base, "/.well-known/core");
    args[k] = NULL;
    char *o = NULL, *e = NULL;
    up = nb_test_run_capture(args, RUN_MS, &o, &e) == 0;
    free(o);
    free(e);
  }
  assert_true(up);
  return base;
}

static void test_our_client_vs_gnutls_server_psk(void **state) {
  (void)state;
  require_tool("coap-server-gnutls");
  char *srv[] = {"-k", PSK_TEXT, "-h", "niobium-hint", NULL};
  char *creds[] = {"--psk-identity", "dev1", "--psk-key", PSK_HEX, NULL};
  const char *base = their_server(srv, creds);
  char *out, *err;
  const char *suites[] = {"TLS_PSK_WITH_AES_128_CCM_8", "TLS_PSK_WITH_AES_128_CBC_SHA256"};
  for (size_t i = 0; i < 2; i++) {
    assert_int_equal(run(&out, &err, nb, "coap", "get", "-v", "--psk-identity", "dev1", "--psk-key",
                         PSK_HEX, "--ciphers", suites[i], url(base, "/time"), NULL),
                     0);
    assert_true(strlen(out) > 0);
    char want[96];
    snprintf(want, sizeof want, "suite %s", suites[i]);
    assert_non_null(strstr(err, want));
    free(out);
    free(err);
  }
  /* PUT then GET their /example_data, block-wise. */
  char body[3001];
  for (size_t i = 0; i < 3000; i++) body[i] = (char)('a' + i % 26);
  body[3000] = 0;
  assert_int_equal(run(NULL, NULL, nb, "coap", "put", "--psk-identity", "dev1", "--psk-key",
                       PSK_HEX, "--block-size", "256", "--content-format", "text", "--payload",
                       body, url(base, "/example_data"), NULL),
                   0);
  assert_int_equal(run(&out, NULL, nb, "coap", "get", "--psk-identity", "dev1", "--psk-key",
                       PSK_HEX, "--block-size", "512", url(base, "/example_data"), NULL),
                   0);
  assert_int_equal(strncmp(out, body, 3000), 0);
  free(out);
  /* Their server drops a wrong key without an alert: we give up with a DTLS message. */
  assert_int_equal(run(&out, &err, nb, "coap", "get", "--timeout", "3", "--psk-identity", "dev1",
                       "--psk-key", "00", url(base, "/time"), NULL),
                   1);
  assert_string_equal(out, "");
  assert_non_null(strstr(err, "DTLS handshake failed"));
  free(out);
  free(err);
  nb_test_proc_cleanup(&server);
}

static void test_our_client_vs_gnutls_server_x509(void **state) {
  (void)state;
  require_tool("coap-server-gnutls");
  char *srv[] = {"-c", in_dir("scert.crt.pem"), "-j", in_dir("scert.key.pem"),
                 "-C", in_dir("ca.crt.pem"),    NULL};
  char *creds[] = {"--cert", in_dir("dcert.crt.pem"), "--key", in_dir("dcert.key.pem"),
                   "--ca",   in_dir("ca.crt.pem"),    NULL};
  const char *base = their_server(srv, creds);
  char *out, *err;
  assert_int_equal(run(&out, &err, nb, "coap", "get", "-v", "--cert", in_dir("dcert.crt.pem"),
                       "--key", in_dir("dcert.key.pem"), "--ca", in_dir("ca.crt.pem"), "--observe",
                       "--count", "2", url(base, "/time"), NULL),
                   0);
  assert_non_null(strstr(err, "server certificate 'CN=server'"));
  assert_non_null(strstr(err, "suite TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"));
  free(out);
  free(err);
  /* Their certificate checked against a CA that did not issue it: refused. */
  assert_int_equal(run(&out, &err, nb, "coap", "get", "--cert", in_dir("dcert.crt.pem"), "--key",
                       in_dir("dcert.key.pem"), "--peer-cert", in_dir("dcert.crt.pem"),
                       url(base, "/time"), NULL),
                   1);
  assert_non_null(strstr(err, "DTLS handshake failed"));
  free(out);
  free(err);
  nb_test_proc_cleanup(&server);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_gnutls_client_rpk, cleanup),
      cmocka_unit_test_teardown(test_gnutls_client_rpk_refused, cleanup),
      cmocka_unit_test_teardown(test_openssl_client_psk, cleanup),
      cmocka_unit_test_teardown(test_openssl_client_x509, cleanup),
      cmocka_unit_test_teardown(test_our_client_vs_gnutls_server_psk, cleanup),
      cmocka_unit_test_teardown(test_our_client_vs_gnutls_server_x509, cleanup),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
