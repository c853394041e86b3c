/* Credentials: the suites each mode offers (mandatory LwM2M suites first, as GnuTLS orders them),
 * PSK identity and key validation, and what an incomplete credential set refuses to do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dtls/cred.h"
#include "dtls/keys.h"
#include "dtls/session.h"

/* The first n suite IDs the priority string offers, in GnuTLS's order. */
static size_t suites_of(const char *priority, uint16_t *ids, size_t cap) {
  gnutls_priority_t p;
  assert_int_equal(gnutls_priority_init(&p, priority, NULL), 0);
  size_t n = 0;
  for (unsigned i = 0; n < cap; i++) {
    unsigned sidx;
    int rc = gnutls_priority_get_cipher_suite_index(p, i, &sidx);
    if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) break;
    if (rc < 0) continue;
    unsigned char id[2];
    gnutls_protocol_t min;
    assert_non_null(gnutls_cipher_suite_info(sidx, id, NULL, NULL, NULL, &min));
    ids[n++] = (uint16_t)(id[0] << 8 | id[1]);
  }
  gnutls_priority_deinit(p);
  return n;
}

static void test_psk_suites_first(void **state) {
  (void)state;
  nb_dtls_creds *c;
  uint8_t key[16] = {0};
  uint16_t ids[8];
  assert_int_equal(nb_dtls_creds_new(&c), NB_OK);
  assert_int_equal(nb_dtls_creds_set_psk(c, "dev", 3, key, sizeof key), NB_OK);
  size_t n = suites_of(nb_dtls_creds_priority(c), ids, 8);
  assert_true(n >= 2);
  assert_int_equal(ids[0], 0xC0A8); /* TLS_PSK_WITH_AES_128_CCM_8 */
  assert_int_equal(ids[1], 0x00AE); /* TLS_PSK_WITH_AES_128_CBC_SHA256 */
  assert_null(strstr(nb_dtls_creds_priority(c), "ECDHE"));
  nb_dtls_creds_free(c);
}

static void test_certificate_suites_first(void **state) {
  (void)state;
  nb_dtls_keypair kp;
  nb_dtls_creds *rpk, *x509;
  uint16_t ids[8];
  assert_int_equal(nb_dtls_keypair_generate(&kp), NB_OK);
  assert_int_equal(nb_dtls_creds_new(&rpk), NB_OK);
  assert_int_equal(nb_dtls_creds_set_rpk(rpk, kp.key_pem.data, kp.key_pem.len), NB_OK);
  size_t n = suites_of(nb_dtls_creds_priority(rpk), ids, 8);
  assert_true(n >= 2);
  assert_int_equal(ids[0], 0xC0AE); /* TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 */
  assert_int_equal(ids[1], 0xC023); /* TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 */
  assert_non_null(strstr(nb_dtls_creds_priority(rpk), "+CTYPE-CLI-RAWPK:+CTYPE-SRV-RAWPK"));
  assert_null(strstr(nb_dtls_creds_priority(rpk), "X509"));

  nb_dtls_cert_request req = {"dev", 0, NULL, 0};
  nb_dtls_certkey ca;
  assert_int_equal(nb_dtls_cert_make_ca(&req, &ca), NB_OK);
  assert_int_equal(nb_dtls_creds_new(&x509), NB_OK);
  assert_int_equal(nb_dtls_creds_set_x509(x509, ca.cert_pem.data, ca.cert_pem.len,
                                          ca.key.key_pem.data, ca.key.key_pem.len),
                   NB_OK);
  n = suites_of(nb_dtls_creds_priority(x509), ids, 8);
  assert_int_equal(ids[0], 0xC0AE);
  assert_int_equal(ids[1], 0xC023);
  assert_non_null(strstr(nb_dtls_creds_priority(x509), "+CTYPE-CLI-X509"));
  /* A certificate with a key that is not its own is refused. */
  assert_int_equal(nb_dtls_creds_set_x509(x509, ca.cert_pem.data, ca.cert_pem.len, kp.key_pem.data,
                                          kp.key_pem.len),
                   NB_ERR_DTLS_CREDENTIALS);
  assert_int_equal(nb_dtls_creds_add_trust(x509, (const uint8_t *)"junk", 4), NB_ERR_DTLS_BAD_KEY);
  assert_int_equal(nb_dtls_creds_pin_cert(x509, (const uint8_t *)"junk", 4), NB_ERR_DTLS_BAD_KEY);
  assert_int_equal(nb_dtls_creds_pin_cert(x509, ca.cert_der.data, ca.cert_der.len), NB_OK);
  assert_int_equal(nb_dtls_creds_add_trust(x509, ca.cert_der.data, ca.cert_der.len), NB_OK);
  nb_dtls_creds_free(x509);
  nb_dtls_creds_free(rpk);
  nb_dtls_certkey_free(&ca);
  nb_dtls_keypair_free(&kp);
}

static void test_psk_validation(void **state) {
  (void)state;
  nb_dtls_creds *c;
  uint8_t key[65] = {0};
  char long_id[NB_DTLS_PSK_IDENTITY_MAX + 2];
  memset(long_id, 'a', sizeof long_id);
  assert_int_equal(nb_dtls_creds_new(&c), NB_OK);
  assert_int_equal(nb_dtls_creds_set_psk(c, "", 0, key, 16), NB_ERR_INVAL);
  assert_int_equal(nb_dtls_creds_set_psk(c, "dev", 3, key, 0), NB_ERR_INVAL);
  assert_int_equal(nb_dtls_creds_set_psk(c, "dev", 3, key, 65), NB_ERR_INVAL);
  assert_int_equal(nb_dtls_creds_set_psk(c, long_id, NB_DTLS_PSK_IDENTITY_MAX + 1, key, 16),
                   NB_ERR_INVAL);
  assert_int_equal(nb_dtls_creds_set_psk(c, long_id, NB_DTLS_PSK_IDENTITY_MAX, key, 64), NB_OK);
  /* UTF-8: valid multi-byte text passes; overlongs, surrogates, NUL, truncation do not. */
  assert_int_equal(nb_dtls_creds_set_psk(c, "g\xC3\xA9r\xC3\xA4t-\xE2\x82\xAC", 11, key, 16),
                   NB_OK);
  assert_int_equal(nb_dtls_creds_set_psk(c, "\xC0\xAF", 2, key, 16), NB_ERR_INVAL);
  assert_int_equal(nb_dtls_creds_set_psk(c, "\xED\xA0\x80", 3, key, 16), NB_ERR_INVAL);
  assert_int_equal(nb_dtls_creds_set_psk(c, "a\0b", 3, key, 16), NB_ERR_INVAL);
  assert_int_equal(nb_dtls_creds_set_psk(c, "\xE2\x82", 2, key, 16), NB_ERR_INVAL);
  assert_int_equal(nb_dtls_creds_set_psk(c, "\xF4\x90\x80\x80", 4, key, 16), NB_ERR_INVAL);
  nb_dtls_creds_free(c);
}

static void drop_send(void *user, const nb_addr *peer, const uint8_t *d, size_t n) {
  (void)user, (void)peer, (void)d, (void)n;
}
static void drop_recv(void *user, const nb_addr *peer, const uint8_t *d, size_t n, nb_time_ms t) {
  (void)user, (void)peer, (void)d, (void)n, (void)t;
}

/* No key of any kind: no session can be made with it. */
static void test_empty_creds_refused(void **state) {
  (void)state;
  nb_dtls_creds *c;
  nb_dtls_session *s;
  nb_addr a;
  nb_addr_parse("127.0.0.1:5684", 0, &a);
  nb_dtls_handlers h = {drop_send, drop_recv, NULL, NULL};
  assert_int_equal(nb_dtls_creds_new(&c), NB_OK);
  assert_int_equal(nb_dtls_client_new(c, NULL, &h, &a, 0, &s), NB_ERR_DTLS_CREDENTIALS);
  assert_int_equal(nb_dtls_client_new(NULL, NULL, &h, &a, 0, &s), NB_ERR_INVAL);
  nb_dtls_handlers no_send = {NULL, drop_recv, NULL, NULL};
  assert_int_equal(nb_dtls_client_new(c, NULL, &no_send, &a, 0, &s), NB_ERR_INVAL);
  assert_int_equal(nb_dtls_creds_set_priority(c, "NONE:+VERS-BOGUS"), NB_ERR_DTLS_CREDENTIALS);
  nb_dtls_creds_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_psk_suites_first),
      cmocka_unit_test(test_certificate_suites_first),
      cmocka_unit_test(test_psk_validation),
      cmocka_unit_test(test_empty_creds_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
