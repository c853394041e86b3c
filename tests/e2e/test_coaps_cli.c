/* `niobium coap` over DTLS against `niobium coap serve --coaps`, real processes on 127.0.0.1:
 * PSK (identity + key and a --psk-file), raw public keys and X.509, each with GET, Block2
 * download, Block1 upload and observe; forced cipher suites; and the refusals (wrong PSK,
 * unknown identity, unexpected raw public key, untrusted certificate) that must exit 1 with a
 * message saying why. Key material comes from `niobium keys` in a fresh temporary directory. */
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
#define PSK_HEX "00112233445566778899aabbccddeeff"
#define PSK2_HEX "0f0e0d0c0b0a09080706050403020100"

static const char *nb;
static char dir[64];
static nb_test_proc srv_psk, srv_rpk, srv_x509;
static char base_psk[64], base_rpk[64], base_x509[64];

/* A path inside the key directory (rotating static buffers). */
static char *in_dir(const char *name) {
  static char buf[16][256];
  static int k;
  char *b = buf[k++ % 16];
  snprintf(b, sizeof buf[0], "%s/%s", dir, name);
  return b;
}

static char *url(const char *base, const char *path) {
  static char buf[8][128];
  static int k;
  char *b = buf[k++ % 8];
  snprintf(b, sizeof buf[0], "%s%s", base, path);
  return b;
}

/* Runs `niobium ARGS...` (NULL-terminated); returns the exit status. */
static int run(char **out, char **err, ...) {
  char *argv[48];
  size_t n = 0;
  argv[n++] = (char *)nb;
  va_list ap;
  va_start(ap, err);
  for (char *a; n < 47 && (a = va_arg(ap, char *)) != NULL;) argv[n++] = a;
  va_end(ap);
  argv[n] = NULL;
  char *o = NULL, *e = NULL;
  int rc = nb_test_run_capture(argv, RUN_MS, &o, &e);
  if (rc != 0 && e && !err) fprintf(stderr, "stderr: %s\n", e);
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

static bool start_server(nb_test_proc *p, char *base, size_t cap, char *const extra[]) {
  uint16_t port = nb_test_free_port(SOCK_DGRAM);
  char listen[64];
  snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
  snprintf(base, cap, "coaps://127.0.0.1:%u", port);
  char *argv[32] = {(char *)nb, "coap", "serve", "-v", "--coaps", listen};
  size_t n = 6;
  for (size_t i = 0; extra[i] && n < 31; i++) argv[n++] = extra[i];
  argv[n] = NULL;
  if (!nb_test_proc_start(p, argv)) return false;
  if (!nb_test_proc_wait_output(p, false, "listening on coaps://", 10000)) {
    char *e = nb_test_proc_stderr(p);
    fprintf(stderr, "coaps server did not start: %s\n", e);
    free(e);
    return false;
  }
  return true;
}

static bool make_keys(void) {
  snprintf(dir, sizeof dir, "/tmp/nb-coaps-XXXXXX");
  if (!mkdtemp(dir)) return false;
  return run(NULL, NULL, "keys", "ec", "--out", in_dir("srv"), NULL) == 0 &&
         run(NULL, NULL, "keys", "ec", "--out", in_dir("dev"), NULL) == 0 &&
         run(NULL, NULL, "keys", "ec", "--out", in_dir("other"), NULL) == 0 &&
         run(NULL, NULL, "keys", "cert", "ca", "--cn", "Test CA", "--out", in_dir("ca"), NULL) ==
             0 &&
         run(NULL, NULL, "keys", "cert", "ca", "--cn", "Other CA", "--out", in_dir("oca"), NULL) ==
             0 &&
         run(NULL, NULL, "keys", "cert", "issue", "--ca", in_dir("ca"), "--cn", "server", "--san",
             "127.0.0.1", "--out", in_dir("scert"), NULL) == 0 &&
         run(NULL, NULL, "keys", "cert", "issue", "--ca", in_dir("ca"), "--cn", "dev1", "--out",
             in_dir("dcert"), NULL) == 0 &&
         run(NULL, NULL, "keys", "cert", "issue", "--ca", in_dir("oca"), "--cn", "intruder",
             "--san", "127.0.0.1", "--out", in_dir("ecert"), NULL) == 0;
}

static int setup(void **state) {
  (void)state;
  nb = nb_test_env("NB_BINARY");
  if (!nb || !make_keys()) {
    fprintf(stderr, "NB_BINARY unset or key generation failed\n");
    return -1;
  }
  FILE *f = fopen(in_dir("psk.csv"), "w");
  if (!f) return -1;
  fprintf(f, "# identity,key\ndev2," PSK2_HEX "\r\n\nfleet-7,0x0102030405060708\n");
  fclose(f);
  char *psk[] = {"--psk-identity",  "dev1", "--psk-key", PSK_HEX, "--psk-file",
                 in_dir("psk.csv"), NULL};
  char *rpk[] = {"--rpk-key", in_dir("srv.key.pem"), "--client-key", in_dir("dev.pub.pem"), NULL};
  char *x509[] = {"--cert", in_dir("scert.crt.pem"), "--key", in_dir("scert.key.pem"),
                  "--ca",   in_dir("ca.crt.pem"),    NULL};
  if (!start_server(&srv_psk, base_psk, sizeof base_psk, psk) ||
      !start_server(&srv_rpk, base_rpk, sizeof base_rpk, rpk) ||
      !start_server(&srv_x509, base_x509, sizeof base_x509, x509))
    return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  nb_test_proc_cleanup(&srv_psk);
  nb_test_proc_cleanup(&srv_rpk);
  nb_test_proc_cleanup(&srv_x509);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
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

/* Credentials of one client mode, as argv words (NULL-terminated, at most 8). */
typedef struct {
  const char *name;
  const char *base;
  char *args[9];
} mode_t_;

static void creds_psk(mode_t_ *m) {
  *m = (mode_t_){"psk", base_psk, {"--psk-identity", "dev1", "--psk-key", PSK_HEX}};
}
static void creds_rpk(mode_t_ *m) {
  *m = (mode_t_){
      "rpk", base_rpk, {"--rpk-key", in_dir("dev.key.pem"), "--peer-key", in_dir("srv.pub.pem")}};
}
static void creds_x509(mode_t_ *m) {
  *m = (mode_t_){"x509",
                 base_x509,
                 {"--cert", in_dir("dcert.crt.pem"), "--key", in_dir("dcert.key.pem"), "--ca",
                  in_dir("ca.crt.pem")}};
}

/* `niobium coap METHOD <creds> ARGS... URI` */
static int coaps(const mode_t_ *m, char **out, char **err, const char *method,
                 const char *const *args, const char *path) {
  char *argv[48];
  size_t n = 0;
  argv[n++] = (char *)nb;
  argv[n++] = "coap";
  argv[n++] = (char *)method;
  for (size_t i = 0; m->args[i]; i++) argv[n++] = m->args[i];
  for (size_t i = 0; args && args[i]; i++) argv[n++] = (char *)args[i];
  argv[n++] = "--timeout";
  argv[n++] = "20";
  argv[n++] = url(m->base, path);
  argv[n] = NULL;
  char *o = NULL, *e = NULL;
  int rc = nb_test_run_capture(argv, RUN_MS, &o, &e);
  if (rc != 0 && !err) fprintf(stderr, "%s %s: rc=%d stderr: %s\n", m->name, path, rc, e);
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

/* GET (with the suite and peer printed), Block2, Block1 and observe in one mode. */
static void exercise(const mode_t_ *m, const char *expect_suite, const char *expect_peer) {
  char *out, *err;
  const char *verbose[] = {"-v", NULL};
  assert_int_equal(coaps(m, &out, &err, "get", verbose, "/test"), 0);
  assert_string_equal(out, "Hello from Niobium\n");
  assert_non_null(strstr(err, "DTLS established: suite "));
  assert_non_null(strstr(err, expect_suite));
  assert_non_null(strstr(err, expect_peer));
  free(out);
  free(err);

  char *want = large_body();
  assert_int_equal(coaps(m, &out, NULL, "get", NULL, "/large"), 0);
  assert_string_equal(out, want);
  free(out);

  /* 4.6 kB up in 256-byte blocks, then read back. */
  want[strlen(want) - 1] = 0;
  const char *put[] = {"--content-format", "text", "--block-size", "256", "--payload", want, NULL};
  assert_int_equal(coaps(m, NULL, NULL, "put", put, "/store"), 0);
  assert_int_equal(coaps(m, &out, NULL, "get", NULL, "/store"), 0);
  assert_int_equal(strlen(out), strlen(want) + 1);
  assert_memory_equal(out, want, strlen(want));
  free(out);
  free(want);

  const char *obs[] = {"--observe", "--count", "3", NULL};
  assert_int_equal(coaps(m, &out, NULL, "get", obs, "/obs"), 0);
  int lines = 0;
  for (const char *p = out; (p = strchr(p, '\n')) != NULL; p++) lines++;
  assert_int_equal(lines, 3);
  free(out);
}

static void test_psk(void **state) {
  (void)state;
  mode_t_ m;
  creds_psk(&m);
  exercise(&m, "TLS_PSK_WITH_AES_128_CCM_8", "psk identity 'dev1'");
}

static void test_psk_file_and_cbc(void **state) {
  (void)state;
  mode_t_ m = {"psk-file", base_psk, {"--psk-identity", "dev2", "--psk-key", PSK2_HEX}};
  char *out, *err;
  const char *cbc[] = {"-v", "--ciphers", "TLS_PSK_WITH_AES_128_CBC_SHA256", NULL};
  assert_int_equal(coaps(&m, &out, &err, "get", cbc, "/test"), 0);
  assert_string_equal(out, "Hello from Niobium\n");
  assert_non_null(strstr(err, "suite TLS_PSK_WITH_AES_128_CBC_SHA256"));
  free(out);
  free(err);
  mode_t_ f = {
      "psk-file", base_psk, {"--psk-identity", "fleet-7", "--psk-key", "0102030405060708"}};
  assert_int_equal(coaps(&f, NULL, NULL, "get", NULL, "/test"), 0);
}

static void test_rpk(void **state) {
  (void)state;
  mode_t_ m;
  creds_rpk(&m);
  exercise(&m, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", "raw public key, secure ID ");
  /* The server's secure ID instead of its key file. */
  char *out, *err, *sid;
  const char *v[] = {"-v", NULL};
  assert_int_equal(coaps(&m, &out, &err, "get", v, "/test"), 0);
  sid = strstr(err, "secure ID ");
  assert_non_null(sid);
  char id[31];
  memcpy(id, sid + 10, 30);
  id[30] = 0;
  free(out);
  free(err);
  mode_t_ by_id = {
      "rpk-id", base_rpk, {"--rpk-key", in_dir("dev.key.pem"), "--peer-secure-id", id}};
  assert_int_equal(coaps(&by_id, &out, NULL, "get", NULL, "/test"), 0);
  assert_string_equal(out, "Hello from Niobium\n");
  free(out);
}

static void test_x509(void **state) {
  (void)state;
  mode_t_ m;
  creds_x509(&m);
  exercise(&m, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", "CN=server");
  char *out, *err;
  const char *cbc[] = {"-v", "--ciphers", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", NULL};
  assert_int_equal(coaps(&m, &out, &err, "get", cbc, "/large"), 0);
  assert_non_null(strstr(err, "suite TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"));
  free(out);
  free(err);
  /* Pinned server certificate, no CA. */
  mode_t_ pin = {"x509-pin",
                 base_x509,
                 {"--cert", in_dir("dcert.crt.pem"), "--key", in_dir("dcert.key.pem"),
                  "--peer-cert", in_dir("scert.crt.pem")}};
  assert_int_equal(coaps(&pin, &out, NULL, "get", NULL, "/test"), 0);
  assert_string_equal(out, "Hello from Niobium\n");
  free(out);
}

/* A refused handshake: exit 1, nothing on stdout, the reason on stderr. */
static void refused(const mode_t_ *m, const char *reason) {
  char *out, *err;
  assert_int_equal(coaps(m, &out, &err, "get", NULL, "/test"), 1);
  assert_string_equal(out, "");
  assert_non_null(strstr(err, "DTLS handshake failed"));
  if (!strstr(err, reason)) fail_msg("expected '%s' in: %s", reason, err);
  free(out);
  free(err);
}

static void test_refusals(void **state) {
  (void)state;
  mode_t_ wrong_key = {"wrong-psk", base_psk, {"--psk-identity", "dev1", "--psk-key", PSK2_HEX}};
  refused(&wrong_key, "wrong PSK key");
  mode_t_ unknown = {"unknown-id", base_psk, {"--psk-identity", "nobody", "--psk-key", PSK_HEX}};
  refused(&unknown, "unknown_psk_identity");
  /* The server presents a key other than the one we expect. */
  mode_t_ other_srv = {"rpk-unexpected",
                       base_rpk,
                       {"--rpk-key", in_dir("dev.key.pem"), "--peer-key", in_dir("other.pub.pem")}};
  refused(&other_srv, "not the expected one");
  /* The server does not know our key. */
  mode_t_ other_dev = {"rpk-unknown-dev",
                       base_rpk,
                       {"--rpk-key", in_dir("other.key.pem"), "--peer-key", in_dir("srv.pub.pem")}};
  refused(&other_dev, "bad_certificate received");
  /* Server certificate from a CA we do not trust. */
  mode_t_ untrusted = {"x509-untrusted",
                       base_x509,
                       {"--cert", in_dir("dcert.crt.pem"), "--key", in_dir("dcert.key.pem"), "--ca",
                        in_dir("oca.crt.pem")}};
  refused(&untrusted, "does not verify against --ca");
  /* Our certificate from a CA the server does not trust. */
  mode_t_ intruder = {"x509-intruder",
                      base_x509,
                      {"--cert", in_dir("ecert.crt.pem"), "--key", in_dir("ecert.key.pem"), "--ca",
                       in_dir("ca.crt.pem")}};
  refused(&intruder, "unknown_ca received");
}

static void test_usage(void **state) {
  (void)state;
  char *err;
  /* A raw public key is never accepted blindly. */
  mode_t_ blind = {"rpk-blind", base_rpk, {"--rpk-key", in_dir("dev.key.pem")}};
  assert_int_equal(coaps(&blind, NULL, &err, "get", NULL, "/test"), 2);
  assert_non_null(strstr(err, "never accepted blindly"));
  free(err);
  mode_t_ none = {"no-creds", base_psk, {NULL}};
  assert_int_equal(coaps(&none, NULL, &err, "get", NULL, "/test"), 2);
  assert_non_null(strstr(err, "coaps needs credentials"));
  free(err);
  assert_int_equal(run(NULL, &err, "coap", "get", "--psk-identity", "a", "--psk-key", "00",
                       "coap://127.0.0.1/test", NULL),
                   2);
  assert_non_null(strstr(err, "need a coaps:// URI"));
  free(err);
  mode_t_ bad_suite = {"bad-suite",
                       base_psk,
                       {"--psk-identity", "dev1", "--psk-key", PSK_HEX, "--ciphers", "TLS_NULL"}};
  assert_int_equal(coaps(&bad_suite, NULL, &err, "get", NULL, "/test"), 2);
  assert_non_null(strstr(err, "unknown suite 'TLS_NULL'"));
  free(err);
  assert_int_equal(run(NULL, &err, "coap", "serve", "--coaps", "127.0.0.1:0", "--rpk-key",
                       in_dir("srv.key.pem"), NULL),
                   2);
  assert_non_null(strstr(err, "never accepted blindly"));
  free(err);
  assert_int_equal(run(NULL, &err, "coap", "serve", "--psk-identity", "a", "--psk-key", "00", NULL),
                   2);
  assert_non_null(strstr(err, "need --coaps"));
  free(err);
}

/* The servers logged who connected, with the identity they proved. */
static void test_server_log(void **state) {
  (void)state;
  char *e = nb_test_proc_stderr(&srv_psk);
  assert_non_null(strstr(e,
                         "DTLS established: suite TLS_PSK_WITH_AES_128_CCM_8, client psk "
                         "identity 'dev1'"));
  assert_non_null(strstr(e, "client psk identity 'dev2'"));
  free(e);
  e = nb_test_proc_stderr(&srv_x509);
  assert_non_null(strstr(e, "client certificate 'CN=dev1'"));
  free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_psk),        cmocka_unit_test(test_psk_file_and_cbc),
      cmocka_unit_test(test_rpk),        cmocka_unit_test(test_x509),
      cmocka_unit_test(test_refusals),   cmocka_unit_test(test_usage),
      cmocka_unit_test(test_server_log),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
