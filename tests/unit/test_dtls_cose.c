/* COSE_Sign1 / ES256: the COSE working group's published example verifies (and fails when a
 * byte changes), our messages round-trip with every header and verify with the signer's key,
 * SPKI or certificate, and malformed or unsupported structures are refused, never crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/hex.h"
#include "dtls/cose.h"
#include "dtls/keys.h"
#include "nb_test.h"

/* cose-wg/Examples sign1-tests/sign-pass-03.json: untagged COSE_Sign1, protected {1: -7},
 * unprotected {4: '11'}, payload "This is the content.", signed with the examples' key "11". */
static const char *example_hex =
    "8443A10126A10442313154546869732069732074686520636F6E74656E742E5840EAE868ECC176883766C5DC5BA5"
    "B8DCA25DAB3C2E56A551CE5705B793914348E19F43D6C6BA654472DA301B645B293C9BA939295B97C4BDB847782B"
    "FF384C5794";
/* Key "11" (x, y of the example's JWK) as a SubjectPublicKeyInfo. */
static const char *example_spki_hex =
    "3059301306072a8648ce3d020106082a8648ce3d03010703420004bac5b11cad8f99f9c72b05cf4b9e26d244dc18"
    "9f745228255a219a86d6a09eff20138bf82dc1b6d562be0fa54ab7804a3a64b6d72ccfed6b6fb6ed28bbfc117e";

static void test_published_example(void **state) {
  (void)state;
  uint8_t msg[256], tagged[257], spki[128];
  ssize_t n = nb_test_unhex(example_hex, msg, sizeof msg);
  ssize_t k = nb_test_unhex(example_spki_hex, spki, sizeof spki);
  assert_true(n > 0 && k == 91);
  nb_cose_sign1_msg m;
  assert_int_equal(nb_cose_open(msg, (size_t)n, spki, (size_t)k, &m), NB_OK);
  assert_int_equal(m.payload_len, 20);
  assert_memory_equal(m.payload, "This is the content.", 20);
  assert_int_equal(m.h.kid_len, 2);
  assert_memory_equal(m.h.kid, "11", 2);
  assert_int_equal(m.h.content_format, -1);
  assert_false(m.h.has_iat);
  /* The same message with its tag (the tag is not signed). */
  tagged[0] = 0xd2;
  memcpy(tagged + 1, msg, (size_t)n);
  assert_int_equal(nb_cose_open(tagged, (size_t)n + 1, spki, (size_t)k, &m), NB_OK);
  /* One changed byte of payload, protected header or signature. */
  size_t spots[] = {3 /* protected alg */, 12 /* payload */, (size_t)n - 1 /* signature */};
  for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
    uint8_t bad[256];
    memcpy(bad, msg, (size_t)n);
    bad[spots[i]] ^= 0x01;
    nb_err e = nb_cose_open(bad, (size_t)n, spki, (size_t)k, &m);
    assert_true(e == NB_ERR_DTLS_PEER_REJECTED || e == NB_ERR_UNSUPPORTED);
  }
}

static void sign_sample(const nb_dtls_keypair *kp, nb_bytes *out) {
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  h.content_format = 112;
  strcpy(h.iss, "urn:dev:meter-7");
  strcpy(h.sub, "meter-7");
  h.has_iat = true;
  h.iat = 1795000000;
  h.cti_len = 16;
  memset(h.cti, 0xab, 16);
  static const uint8_t payload[] = {0x81, 0xa2, 0x00, 0x66, 0x2f, 0x31, 0x2f,
                                    0x30, 0x2f, 0x31, 0x02, 0x18, 0x3c}; /* [{0:"/1/0/1",2:60}] */
  assert_int_equal(
      nb_cose_sign1(&h, payload, sizeof payload, kp->key_pem.data, kp->key_pem.len, out), NB_OK);
}

static void test_round_trip(void **state) {
  (void)state;
  nb_dtls_keypair kp, other;
  assert_int_equal(nb_dtls_keypair_generate(&kp), NB_OK);
  assert_int_equal(nb_dtls_keypair_generate(&other), NB_OK);
  nb_bytes out;
  nb_bytes_init(&out);
  sign_sample(&kp, &out);
  assert_int_equal(out.data[0], 0xd2); /* tag 18 */
  nb_cose_sign1_msg m;
  assert_int_equal(nb_cose_open(out.data, out.len, kp.spki_der.data, kp.spki_der.len, &m), NB_OK);
  assert_int_equal(m.h.content_format, 112);
  assert_string_equal(m.h.iss, "urn:dev:meter-7");
  assert_string_equal(m.h.sub, "meter-7");
  assert_true(m.h.has_iat);
  assert_int_equal(m.h.iat, 1795000000);
  assert_int_equal(m.h.cti_len, 16);
  assert_int_equal(m.h.cti[15], 0xab);
  assert_int_equal(m.payload_len, 13);
  /* kid: the signer's secure ID. */
  char kid_hex[2 * NB_COSE_ID_MAX + 1];
  assert_int_equal(m.h.kid_len, 15);
  nb_hex_encode(m.h.kid, m.h.kid_len, kid_hex);
  assert_string_equal(kid_hex, kp.secure_id);
  /* Another key, or the PEM public key of the right one. */
  assert_int_equal(nb_cose_verify(&m, other.spki_der.data, other.spki_der.len),
                   NB_ERR_DTLS_PEER_REJECTED);
  assert_int_equal(nb_cose_verify(&m, kp.spki_pem.data, kp.spki_pem.len), NB_OK);
  nb_bytes_free(&out);
  nb_dtls_keypair_free(&kp);
  nb_dtls_keypair_free(&other);
}

static void test_certificate_key(void **state) {
  (void)state;
  nb_dtls_certkey ca, ee;
  nb_dtls_cert_request req = {.cn = "Niobium test CA"};
  assert_int_equal(nb_dtls_cert_make_ca(&req, &ca), NB_OK);
  nb_dtls_cert_request ee_req = {.cn = "meter-7"};
  assert_int_equal(nb_dtls_cert_issue(ca.cert_pem.data, ca.cert_pem.len, ca.key.key_pem.data,
                                      ca.key.key_pem.len, &ee_req, &ee),
                   NB_OK);
  nb_bytes out;
  nb_bytes_init(&out);
  sign_sample(&ee.key, &out);
  nb_cose_sign1_msg m;
  assert_int_equal(nb_cose_open(out.data, out.len, ee.cert_der.data, ee.cert_der.len, &m), NB_OK);
  assert_int_equal(nb_cose_open(out.data, out.len, ca.cert_pem.data, ca.cert_pem.len, &m),
                   NB_ERR_DTLS_PEER_REJECTED);
  nb_bytes_free(&out);
  nb_dtls_certkey_free(&ee);
  nb_dtls_certkey_free(&ca);
}

/* Every prefix of a valid message, and the message with a byte appended, is malformed. */
static void test_truncations(void **state) {
  (void)state;
  nb_dtls_keypair kp;
  assert_int_equal(nb_dtls_keypair_generate(&kp), NB_OK);
  nb_bytes out;
  nb_bytes_init(&out);
  sign_sample(&kp, &out);
  nb_cose_sign1_msg m;
  for (size_t len = 0; len < out.len; len++)
    assert_int_equal(nb_cose_parse(out.data, len, &m), NB_ERR_SYNTAX);
  assert_int_equal(nb_bytes_append(&out, "\x00", 1), NB_OK);
  assert_int_equal(nb_cose_parse(out.data, out.len, &m), NB_ERR_SYNTAX);
  nb_bytes_free(&out);
  nb_dtls_keypair_free(&kp);
}

static void test_refused_structures(void **state) {
  (void)state;
  static const struct {
    const char *hex;
    nb_err want;
  } cases[] = {
      /* alg ES384 (-35) */
      {"D28444A1013822A0F65840" /* then 64 bytes */, NB_ERR_UNSUPPORTED},
      /* detached payload (null) */
      {"D28443A10126A0F6", NB_ERR_UNSUPPORTED},
      /* crit present */
      {"D28447A201260281182AA0", NB_ERR_UNSUPPORTED},
      /* alg only in the unprotected bucket */
      {"D28440A101264100", NB_ERR_SYNTAX},
      /* kid in both buckets */
      {"D28446A20126044100A10441004100", NB_ERR_SYNTAX},
      /* no alg at all */
      {"D28440A041005840", NB_ERR_UNSUPPORTED},
      /* wrong tag (COSE_Sign, 98) */
      {"D86284", NB_ERR_SYNTAX},
      /* three elements */
      {"D28343A10126A041AA", NB_ERR_SYNTAX},
      /* signature of 1 byte */
      {"D28443A10126A0410041AA", NB_ERR_SYNTAX},
      /* protected header holding two maps */
      {"D28444A10126A0A0410041AA", NB_ERR_SYNTAX},
      /* content type as text (only CoAP Content-Format numbers are used here) */
      {"D28446A20126036161A0", NB_ERR_SYNTAX},
      /* iss not a string */
      {"D28447A201260FA10101A0", NB_ERR_SYNTAX},
      /* indefinite-length array */
      {"D29F43A10126A04100410AFF", NB_ERR_SYNTAX},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t buf[256];
    ssize_t n = nb_test_unhex(cases[i].hex, buf, sizeof buf);
    assert_true(n > 0);
    if (strcmp(cases[i].hex + strlen(cases[i].hex) - 4, "5840") == 0) {
      memset(buf + n, 0x11, 64); /* the announced 64-byte signature */
      n += 64;
    }
    nb_cose_sign1_msg m;
    nb_err e = nb_cose_parse(buf, (size_t)n, &m);
    if (e != cases[i].want) fail_msg("case %zu (%s): %s", i, cases[i].hex, nb_err_name(e));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_published_example),  cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_certificate_key),    cmocka_unit_test(test_truncations),
      cmocka_unit_test(test_refused_structures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
