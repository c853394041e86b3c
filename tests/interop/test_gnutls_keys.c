/* `niobium keys` checked with GnuTLS's certtool and by recomputing what it prints: PSK length,
 * P-256 key files (modes, curve, secure ID = SHA-256 of the SPKI file), QR output (terminal
 * and PNG), and a CA whose issued certificates certtool verifies; plus usage and overwrite
 * errors with their exit codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/crypto.h>

#include "dtls/cred.h"
#include "nb_test.h"

static char dir[256];

static const char *binary(void) {
  const char *b = nb_test_env("NB_BINARY");
  if (!b) skip(); /* run through ctest, which says where the niobium executable is */
  return b;
}

static char *in_dir(const char *name) {
  static char paths[8][320];
  static int next;
  char *p = paths[next++ % 8];
  snprintf(p, 320, "%s/%s", dir, name);
  return p;
}

/* Runs `niobium keys ARGS...`; returns the exit code, stdout in *out (caller frees). */
static int keys(char **out, const char *a1, const char *a2, const char *a3, const char *a4,
                const char *a5, const char *a6, const char *a7, const char *a8) {
  char *argv[12] = {(char *)binary(), "keys",     (char *)a1, (char *)a2, (char *)a3, (char *)a4,
                    (char *)a5,       (char *)a6, (char *)a7, (char *)a8, NULL};
  char *o = NULL;
  int rc = nb_test_run(argv, 20000, &o);
  if (out) {
    *out = o;
  } else {
    free(o);
  }
  return rc;
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/nb-keys-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void test_psk(void **state) {
  (void)state;
  char *out;
  assert_int_equal(
      keys(&out, "psk", "--identity", "urn:imei:1234", "--bytes", "24", NULL, NULL, NULL), 0);
  assert_non_null(strstr(out, "identity: urn:imei:1234\n"));
  const char *key = strstr(out, "key: ");
  assert_non_null(key);
  key += 5;
  size_t n = strspn(key, "0123456789abcdef");
  assert_int_equal(n, 48);
  assert_int_equal(key[n], '\n');
  free(out);
  assert_int_equal(keys(NULL, "psk", "--bytes", "65", NULL, NULL, NULL, NULL, NULL), 2);
  assert_int_equal(keys(NULL, "nonsense", NULL, NULL, NULL, NULL, NULL, NULL, NULL), 2);
}

static void test_ec_files(void **state) {
  (void)state;
  char *out;
  assert_int_equal(keys(&out, "ec", "--out", in_dir("dev"), NULL, NULL, NULL, NULL, NULL), 0);
  const char *sid = strstr(out, "secure-id: ");
  assert_non_null(sid);
  sid += 11;
  /* The secure ID is SHA-256 of the SPKI file, first 15 bytes, lowercase hex. */
  size_t spki_len;
  char *spki = nb_test_read_file(in_dir("dev.spki.der"), &spki_len);
  assert_non_null(spki);
  uint8_t digest[32];
  assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, spki, spki_len, digest), 0);
  char expect[31];
  for (int i = 0; i < 15; i++) snprintf(expect + 2 * i, 3, "%02x", digest[i]);
  assert_memory_equal(sid, expect, 30);
  assert_int_equal(sid[30], '\n');
  free(spki);
  /* Private keys are readable by their owner only. */
  struct stat st;
  assert_int_equal(stat(in_dir("dev.key.pem"), &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(stat(in_dir("dev.key.der"), &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(stat(in_dir("dev.pub.pem"), &st), 0);
  assert_int_equal(st.st_mode & 0777, 0644);
  free(out);
  /* certtool agrees it is a P-256 key. */
  char *argv[] = {"certtool", "--key-info", "--infile", in_dir("dev.key.pem"), NULL};
  if (nb_test_have_program("certtool")) {
    assert_int_equal(nb_test_run(argv, 20000, &out), 0);
    assert_non_null(strstr(out, "SECP256R1"));
    free(out);
  }
  /* No silent overwrite of a key. */
  assert_int_equal(keys(NULL, "ec", "--out", in_dir("dev"), NULL, NULL, NULL, NULL, NULL), 1);
  assert_int_equal(keys(NULL, "ec", "--out", in_dir("dev"), "--force", NULL, NULL, NULL, NULL), 0);
}

static void test_qr(void **state) {
  (void)state;
  char *out;
  assert_int_equal(keys(NULL, "ec", "--out", in_dir("q"), NULL, NULL, NULL, NULL, NULL), 0);
  /* Any of the key files gives the same payload. */
  char *p1, *p2;
  assert_int_equal(keys(&p1, "qr", "--pubkey", in_dir("q.pub.pem"), NULL, NULL, NULL, NULL, NULL),
                   0);
  assert_int_equal(keys(&p2, "qr", "--pubkey", in_dir("q.key.der"), NULL, NULL, NULL, NULL, NULL),
                   0);
  assert_non_null(strstr(p1, "\xE2\x96\x88")); /* half blocks in the terminal */
  const char *pay1 = strstr(p1, "payload: nb:sid:"), *pay2 = strstr(p2, "payload: nb:sid:");
  assert_non_null(pay1);
  assert_non_null(pay2);
  assert_memory_equal(pay1, pay2, 16 + 30);
  char sid[31];
  memcpy(sid, pay1 + 16, 30);
  sid[30] = 0;
  free(p1);
  free(p2);
  assert_int_equal(
      keys(&out, "qr", "--secure-id", sid, "--png", in_dir("q.png"), "--scale", "4", NULL), 0);
  assert_non_null(strstr(out, sid));
  free(out);
  size_t len;
  char *png = nb_test_read_file(in_dir("q.png"), &len);
  assert_non_null(png);
  assert_true(len > 33);
  assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
  assert_memory_equal(png + 12, "IHDR", 4);
  uint32_t w = (uint32_t)(uint8_t)png[16] << 24 | (uint32_t)(uint8_t)png[17] << 16 |
               (uint32_t)(uint8_t)png[18] << 8 | (uint8_t)png[19];
  /* 37-byte payload at level M: version 3 (29 modules) + 2 x 4 quiet zone, 4 px each. */
  assert_int_equal(w, (29 + 8) * 4);
  free(png);
  assert_int_equal(keys(NULL, "qr", "--secure-id", "abc", NULL, NULL, NULL, NULL, NULL), 2);
  assert_int_equal(keys(NULL, "qr", NULL, NULL, NULL, NULL, NULL, NULL, NULL), 2);
  assert_int_equal(
      keys(NULL, "qr", "--pubkey", in_dir("missing.pem"), NULL, NULL, NULL, NULL, NULL), 1);
}

static void test_cert_chain(void **state) {
  (void)state;
  if (!nb_test_have_program("certtool")) skip();
  char *out;
  assert_int_equal(keys(&out, "cert", "ca", "--cn", "Test CA", "--out", in_dir("ca"), NULL, NULL),
                   0);
  free(out);
  assert_int_equal(
      keys(&out, "cert", "issue", "--ca", in_dir("ca"), "--cn", "localhost", "--out", NULL),
      2); /* --out without its value */
  free(out);
  char *argv[] = {(char *)binary(), "keys",      "cert",      "issue",       "--ca",
                  in_dir("ca"),     "--cn",      "localhost", "--san",       "127.0.0.1",
                  "--san",          "localhost", "--out",     in_dir("srv"), NULL};
  assert_int_equal(nb_test_run(argv, 20000, &out), 0);
  assert_non_null(strstr(out, "secure-id: "));
  free(out);
  char *verify[] = {"certtool",           "--verify",  "--load-ca-certificate",
                    in_dir("ca.crt.pem"), "--infile",  in_dir("srv.crt.pem"),
                    "--verify-hostname",  "localhost", NULL};
  assert_int_equal(nb_test_run(verify, 20000, &out), 0);
  assert_non_null(strstr(out, "Verified"));
  free(out);
  /* Issued by another CA: certtool refuses it. */
  assert_int_equal(keys(NULL, "cert", "ca", "--cn", "Other", "--out", in_dir("other"), NULL, NULL),
                   0);
  char *wrong[] = {"certtool",
                   "--verify",
                   "--load-ca-certificate",
                   in_dir("other.crt.pem"),
                   "--infile",
                   in_dir("srv.crt.pem"),
                   NULL};
  assert_int_not_equal(nb_test_run(wrong, 20000, &out), 0);
  free(out);
  /* A missing CA is a runtime failure with a message, not a crash. */
  assert_int_equal(
      keys(NULL, "cert", "issue", "--ca", in_dir("nope"), "--cn", "x", "--out", in_dir("x")), 1);
  assert_int_equal(keys(NULL, "cert", "sign", "--cn", "x", "--out", in_dir("x"), NULL, NULL), 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_psk),
      cmocka_unit_test(test_ec_files),
      cmocka_unit_test(test_qr),
      cmocka_unit_test(test_cert_chain),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
