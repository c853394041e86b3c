/* The monitor's PSK decryptor on its own: the TLS 1.2 PRF against the published SHA-256 test
 * vector, the PSK file reader (comments, errors with line numbers), state errors, and records
 * of every length with random bytes under every suite and MAC order: always refused with
 * NB_ERR_DTLS_BAD_MAC, never a crash or a read out of bounds (ASan). Real sessions are
 * decrypted in tests/e2e/test_monitor_recall.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "monitor/dtlsdec.h"
#include "nb_test.h"

static void test_prf_vector(void **state) {
  (void)state;
  uint8_t secret[16], seed[16], want[100], got[100];
  assert_int_equal(nb_test_unhex("9bbe436ba940f017b17652849a71db35", secret, sizeof secret), 16);
  assert_int_equal(nb_test_unhex("a0ba9f936cda311827a6f796ffd5198c", seed, sizeof seed), 16);
  assert_int_equal(nb_test_unhex("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a"
                                 "6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab"
                                 "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701"
                                 "87347b66",
                                 want, sizeof want),
                   100);
  nb_dtls_prf_sha256(secret, sizeof secret, "test label", seed, sizeof seed, got, sizeof got);
  assert_memory_equal(got, want, sizeof want);
  /* A shorter output is a prefix of the longer one. */
  nb_dtls_prf_sha256(secret, sizeof secret, "test label", seed, sizeof seed, got, 33);
  assert_memory_equal(got, want, 33);
}

static void test_psk_file(void **state) {
  (void)state;
  nb_mon_psks *p = nb_mon_psks_new();
  assert_non_null(p);
  static const char good[] =
      "# keys\n\n dev-1 , 0001ff\r\ndev 2,00112233445566778899aabbccddeeff\n";
  size_t line = 0;
  assert_int_equal(nb_mon_psks_parse(p, good, sizeof good - 1, &line), NB_OK);
  assert_int_equal(nb_mon_psks_count(p), 2);
  size_t n = 0;
  const uint8_t *k = nb_mon_psks_find(p, (const uint8_t *)"dev-1 ", 6, &n);
  assert_non_null(k); /* the identity is taken as written up to the comma */
  assert_int_equal(n, 3);
  assert_int_equal(k[2], 0xff);
  assert_non_null(nb_mon_psks_find(p, (const uint8_t *)"dev 2", 5, &n));
  assert_int_equal(n, 16);
  assert_null(nb_mon_psks_find(p, (const uint8_t *)"dev", 3, &n));
  static const char *const bad[] = {"a,00\nnocomma\n", "a,00\nb,0g\n", "a,00\nb,012\n",
                                    "a,00\n,00\n", "a,00\nb,\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    line = 0;
    assert_int_not_equal(nb_mon_psks_parse(p, bad[i], strlen(bad[i]), &line), NB_OK);
    assert_int_equal(line, 2);
  }
  nb_mon_psks_free(p);
}

static void test_state_errors(void **state) {
  (void)state;
  nb_dtls_dec d;
  nb_dtls_dec_init(&d);
  static const uint8_t psk[16];
  assert_int_equal(nb_dtls_dec_derive(&d, psk, sizeof psk), NB_ERR_UNSUPPORTED);
  d.suite = NB_DTLS_SUITE_PSK_AES128_CCM8;
  assert_int_equal(nb_dtls_dec_derive(&d, psk, sizeof psk), NB_ERR_STATE);
  uint8_t body[64] = {0}, out[64];
  size_t n;
  nb_dtls_record rec = {
      .type = 23, .version = 0xfefd, .epoch = 1, .seq = 1, .body = body, .body_len = sizeof body};
  assert_int_equal(nb_dtls_dec_open(&d, true, &rec, out, &n), NB_ERR_STATE);
  nb_dtls_dec_deinit(&d);
}

/* Keys from a fake handshake; then random records of every length are all refused. */
static void test_garbage_records(void **state) {
  (void)state;
  static const uint16_t suites[] = {NB_DTLS_SUITE_PSK_AES128_CCM8,
                                    NB_DTLS_SUITE_PSK_AES128_CBC_SHA256};
  uint8_t body[200], out[200];
  srand(7);
  for (size_t s = 0; s < 2; s++) {
    for (int etm = 0; etm < 2; etm++) {
      nb_dtls_dec d;
      nb_dtls_dec_init(&d);
      d.suite = suites[s];
      d.have_client_random = d.have_server_random = d.have_session_hash = true;
      d.etm = etm;
      static const uint8_t psk[16] = {1, 2, 3};
      assert_int_equal(nb_dtls_dec_derive(&d, psk, sizeof psk), NB_OK);
      for (size_t len = 0; len <= sizeof body; len++) {
        for (int round = 0; round < 4; round++) {
          for (size_t i = 0; i < len; i++) body[i] = (uint8_t)rand();
          if (round == 3 && len) body[len - 1] = (uint8_t)(len % 16); /* plausible padding */
          nb_dtls_record rec = {
              .type = 23, .version = 0xfefd, .epoch = 1, .seq = len, .body = body, .body_len = len};
          size_t n = 0;
          assert_int_equal(nb_dtls_dec_open(&d, round & 1, &rec, out, &n), NB_ERR_DTLS_BAD_MAC);
        }
      }
      nb_dtls_dec_deinit(&d);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_prf_vector), cmocka_unit_test(test_psk_file),
      cmocka_unit_test(test_state_errors), cmocka_unit_test(test_garbage_records)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
