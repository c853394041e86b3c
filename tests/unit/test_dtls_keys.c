/* Key tooling: secure IDs against values computed with openssl, key pair forms, SPKI loading,
 * curve checks, and the small CA (chains verified by GnuTLS's own verifier). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "dtls/cred.h"
#include "dtls/keys.h"
#include "nb_test.h"

/* SubjectPublicKeyInfo of a P-256 key; its SHA-256 computed with `sha256sum`. */
static const char *spki_hex =
    "3059301306072a8648ce3d020106082a8648ce3d03010703420004e081a51a21057a83003d031690f7b4d4951"
    "8c89976522164638a0b2b4674a4f36d38e1be300364f09c6c9e28278aa9c5778871cc4bd8aacbe2681af4e6"
    "60b1d2";
static const char *spki_sid = "0b2844cb6c70eed9c9aa5a1f18150a";

/* A SEC1 P-256 key made by `openssl ecparam -genkey`; secure ID from
 * `openssl pkey -pubout -outform DER | sha256sum`. */
static const char *sec1_pem =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIETmlsGmgljQhQGF5wicrU9/y3t7jHBuldyla40IOXr9oAoGCCqGSM49\n"
    "AwEHoUQDQgAEqp313mRyIR8NVuSztc9HLtkPr/jPXaLgxs6ExPaF8SRVKrIohVrr\n"
    "yOb1FCdcN/29kccSleaWfcJCdM9jrdVURw==\n"
    "-----END EC PRIVATE KEY-----\n";
static const char *sec1_sid = "191fe1ea28ce66a8d0df779aaf2418";

static void test_secure_id_vectors(void **state) {
  (void)state;
  uint8_t spki[128];
  ssize_t n = nb_test_unhex(spki_hex, spki, sizeof spki);
  assert_int_equal(n, 91);
  char sid[NB_DTLS_SECURE_ID_LEN + 1];
  assert_int_equal(nb_dtls_secure_id(spki, (size_t)n, sid), NB_OK);
  assert_string_equal(sid, spki_sid);
  assert_int_equal(strlen(sid), 30);
  assert_true(nb_dtls_spki_is_p256(spki, (size_t)n));
  assert_false(nb_dtls_spki_is_p256(spki, (size_t)n - 1));
  assert_int_equal(nb_dtls_secure_id(spki, 0, sid), NB_ERR_INVAL);

  nb_dtls_keypair kp;
  assert_int_equal(nb_dtls_keypair_load((const uint8_t *)sec1_pem, strlen(sec1_pem), &kp), NB_OK);
  assert_string_equal(kp.secure_id, sec1_sid);
  /* The PKCS#8 DER form loads back to the same key. */
  nb_dtls_keypair again;
  assert_int_equal(nb_dtls_keypair_load(kp.key_der.data, kp.key_der.len, &again), NB_OK);
  assert_string_equal(again.secure_id, sec1_sid);
  assert_true(again.spki_der.len == kp.spki_der.len &&
              memcmp(again.spki_der.data, kp.spki_der.data, kp.spki_der.len) == 0);
  nb_dtls_keypair_free(&again);
  nb_dtls_keypair_free(&kp);
}

static void assert_spki_sid(const uint8_t *data, size_t len, const char *expect) {
  nb_bytes spki;
  char sid[NB_DTLS_SECURE_ID_LEN + 1];
  nb_bytes_init(&spki);
  assert_int_equal(nb_dtls_spki_load(data, len, &spki), NB_OK);
  assert_int_equal(nb_dtls_secure_id(spki.data, spki.len, sid), NB_OK);
  assert_string_equal(sid, expect);
  nb_bytes_free(&spki);
}

static void test_generate_and_load_forms(void **state) {
  (void)state;
  nb_dtls_keypair a, b;
  assert_int_equal(nb_dtls_keypair_generate(&a), NB_OK);
  assert_int_equal(nb_dtls_keypair_generate(&b), NB_OK);
  assert_string_not_equal(a.secure_id, b.secure_id); /* fresh randomness each time */
  assert_non_null(strstr((char *)a.key_pem.data, "-----BEGIN PRIVATE KEY-----"));
  assert_non_null(strstr((char *)a.spki_pem.data, "-----BEGIN PUBLIC KEY-----"));
  assert_true(nb_dtls_is_pem(a.key_pem.data, a.key_pem.len));
  assert_false(nb_dtls_is_pem(a.key_der.data, a.key_der.len));
  assert_true(nb_dtls_spki_is_p256(a.spki_der.data, a.spki_der.len));
  /* The same secure ID from every form a user may hand us. */
  assert_spki_sid(a.spki_der.data, a.spki_der.len, a.secure_id);
  assert_spki_sid(a.spki_pem.data, a.spki_pem.len, a.secure_id);
  assert_spki_sid(a.key_pem.data, a.key_pem.len, a.secure_id);
  assert_spki_sid(a.key_der.data, a.key_der.len, a.secure_id);
  nb_bytes junk;
  nb_bytes_init(&junk);
  assert_int_equal(nb_dtls_spki_load((const uint8_t *)"not a key", 9, &junk), NB_ERR_DTLS_BAD_KEY);
  nb_dtls_keypair_free(&b);
  assert_int_equal(nb_dtls_keypair_load((const uint8_t *)"not a key", 9, &b), NB_ERR_DTLS_BAD_KEY);
  nb_bytes_free(&junk);
  nb_dtls_keypair_free(&a);
  uint8_t k1[32] = {0}, k2[32] = {0};
  assert_int_equal(nb_dtls_psk_generate(k1, sizeof k1), NB_OK);
  assert_int_equal(nb_dtls_psk_generate(k2, sizeof k2), NB_OK);
  assert_memory_not_equal(k1, k2, sizeof k1);
  assert_int_equal(nb_dtls_psk_generate(k1, 0), NB_ERR_INVAL);
}

/* LwM2M raw public keys here are P-256: other curves are refused with a clear error. */
static void test_other_curves_refused(void **state) {
  (void)state;
  gnutls_x509_privkey_t key;
  gnutls_datum_t pem = {0};
  assert_int_equal(gnutls_x509_privkey_init(&key), 0);
  assert_int_equal(gnutls_x509_privkey_generate(
                       key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1), 0),
                   0);
  assert_int_equal(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &pem), 0);
  nb_dtls_keypair kp;
  assert_int_equal(nb_dtls_keypair_load(pem.data, pem.size, &kp), NB_ERR_UNSUPPORTED);
  nb_dtls_creds *c;
  assert_int_equal(nb_dtls_creds_new(&c), NB_OK);
  assert_int_equal(nb_dtls_creds_set_rpk(c, pem.data, pem.size), NB_ERR_UNSUPPORTED);
  nb_bytes spki;
  nb_bytes_init(&spki);
  assert_int_equal(nb_dtls_spki_load(pem.data, pem.size, &spki), NB_OK);
  assert_false(nb_dtls_spki_is_p256(spki.data, spki.len));
  assert_int_equal(nb_dtls_creds_pin_rpk(c, spki.data, spki.len), NB_ERR_DTLS_BAD_KEY);
  nb_bytes_free(&spki);
  nb_dtls_creds_free(c);
  gnutls_free(pem.data);
  gnutls_x509_privkey_deinit(key);
}

static unsigned verify_chain(const nb_bytes *leaf, const nb_bytes *ca, const char *host) {
  gnutls_x509_crt_t crt, anchor;
  gnutls_datum_t d1 = {leaf->data, (unsigned)leaf->len}, d2 = {ca->data, (unsigned)ca->len};
  unsigned status = 0xFFFFFFFF;
  gnutls_x509_crt_init(&crt);
  gnutls_x509_crt_init(&anchor);
  assert_int_equal(gnutls_x509_crt_import(crt, &d1, GNUTLS_X509_FMT_PEM), 0);
  assert_int_equal(gnutls_x509_crt_import(anchor, &d2, GNUTLS_X509_FMT_PEM), 0);
  assert_int_equal(gnutls_x509_crt_list_verify(&crt, 1, &anchor, 1, NULL, 0, 0, &status), 0);
  if (host && !gnutls_x509_crt_check_hostname(crt, host)) status |= 0x80000000u;
  gnutls_x509_crt_deinit(crt);
  gnutls_x509_crt_deinit(anchor);
  return status;
}

static void test_ca_and_issue(void **state) {
  (void)state;
  nb_dtls_cert_request ca_req = {"Niobium test CA", 0, NULL, 0};
  nb_dtls_certkey ca, other_ca, leaf;
  assert_int_equal(nb_dtls_cert_make_ca(&ca_req, &ca), NB_OK);
  assert_int_equal(nb_dtls_cert_make_ca(&ca_req, &other_ca), NB_OK);
  const char *names[] = {"127.0.0.1", "lwm2m.example.org"};
  nb_dtls_cert_request req = {"server-1", 30, names, 2};
  assert_int_equal(nb_dtls_cert_issue(ca.cert_pem.data, ca.cert_pem.len, ca.key.key_pem.data,
                                      ca.key.key_pem.len, &req, &leaf),
                   NB_OK);
  assert_int_equal(verify_chain(&leaf.cert_pem, &ca.cert_pem, "lwm2m.example.org"), 0);
  assert_int_equal(verify_chain(&leaf.cert_pem, &ca.cert_pem, "127.0.0.1"), 0);
  assert_int_not_equal(verify_chain(&leaf.cert_pem, &ca.cert_pem, "evil.example.org"), 0);
  assert_int_not_equal(verify_chain(&leaf.cert_pem, &other_ca.cert_pem, NULL), 0);
  /* The certificate carries the key we were given back. */
  assert_spki_sid(leaf.cert_der.data, leaf.cert_der.len, leaf.key.secure_id);
  assert_spki_sid(leaf.cert_pem.data, leaf.cert_pem.len, leaf.key.secure_id);
  nb_dtls_certkey_free(&leaf);
  /* A CA certificate with someone else's key cannot sign. */
  assert_int_equal(nb_dtls_cert_issue(ca.cert_pem.data, ca.cert_pem.len, other_ca.key.key_pem.data,
                                      other_ca.key.key_pem.len, &req, &leaf),
                   NB_ERR_DTLS_CREDENTIALS);
  nb_dtls_cert_request no_cn = {"", 0, NULL, 0};
  assert_int_equal(nb_dtls_cert_make_ca(&no_cn, &leaf), NB_ERR_INVAL);
  nb_dtls_certkey_free(&ca);
  nb_dtls_certkey_free(&other_ca);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_secure_id_vectors),
      cmocka_unit_test(test_generate_and_load_forms),
      cmocka_unit_test(test_other_curves_refused),
      cmocka_unit_test(test_ca_and_issue),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
