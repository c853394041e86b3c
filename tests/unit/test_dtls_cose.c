/* COSE_Sign1 / ES256: the COSE working group's published example verifies (and fails when a
 * byte changes), our messages round-trip with every header and verify with the signer's key,
 * SPKI or certificate, and malformed or unsupported structures are refused, never crash.
 * Withheld secrets: their signed digests match, a changed digest breaks the signature, a changed
 * or missing key fails the check, the kept copy holds no key and still verifies; SenML records
 * signed with their keys withheld come back whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/hex.h"
#include "dtls/cose.h"
#include "dtls/cose_lwm2m.h"
#include "dtls/keys.h"
#include "lwm2m/format.h"
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

/* ---- withheld secrets ---- */

static const uint8_t PSK[16] = {0x5e, 0xc7, 0x2e, 0x70, 0x11, 0x22, 0x33, 0x44,
                                0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc};
static const uint8_t SMS_KEY[32] = {0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8,
                                    0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0};

/* A Security write of /0/1 as the bootstrap server signs it: PSK and SMS key withheld. */
static void sign_withheld(const nb_dtls_keypair *kp, nb_bytes *out) {
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  h.content_format = 112;
  strcpy(h.sub, "meter-7");
  static const uint8_t payload[] = {0x81, 0xa2, 0x00, 0x66, 0x2f, 0x30,
                                    0x2f, 0x31, 0x2f, 0x32, 0x02, 0x00}; /* [{0:"/0/1/2",2:0}] */
  nb_cose_secret w[] = {{nb_path_res(0, 1, 5), PSK, sizeof PSK},
                        {nb_path_res(0, 1, 8), SMS_KEY, sizeof SMS_KEY}};
  assert_int_equal(nb_cose_sign1_withheld(&h, payload, sizeof payload, w, 2, kp->key_pem.data,
                                          kp->key_pem.len, out),
                   NB_OK);
}

static void test_withheld_round_trip(void **state) {
  (void)state;
  nb_dtls_keypair kp;
  assert_int_equal(nb_dtls_keypair_generate(&kp), NB_OK);
  nb_bytes out, kept, again;
  nb_bytes_init(&out);
  nb_bytes_init(&kept);
  nb_bytes_init(&again);
  sign_withheld(&kp, &out);
  nb_cose_sign1_msg m;
  assert_int_equal(nb_cose_open(out.data, out.len, kp.spki_der.data, kp.spki_der.len, &m), NB_OK);
  assert_int_equal(m.nwithheld, 2);
  assert_int_equal(m.nvalues, 2);
  assert_int_equal(nb_cose_secrets_check(&m), NB_OK);
  assert_true(nb_path_equal(&m.withheld[0].path, &(nb_path){{0, 1, 5}, 3}));
  assert_int_equal(m.withheld[0].value_len, sizeof PSK);
  assert_memory_equal(m.withheld[0].value, PSK, sizeof PSK);
  assert_true(nb_cose_secret_matches(&m.withheld[1], SMS_KEY, sizeof SMS_KEY));
  assert_false(nb_cose_secret_matches(&m.withheld[1], PSK, sizeof PSK));
  assert_false(nb_cose_secret_matches(&m.withheld[0], PSK, sizeof PSK - 1));
  /* The kept copy: no key, the same signature, the same digests. */
  assert_int_equal(nb_cose_strip(out.data, out.len, &kept), NB_OK);
  assert_null(memmem(kept.data, kept.len, PSK, sizeof PSK));
  assert_null(memmem(kept.data, kept.len, SMS_KEY, sizeof SMS_KEY));
  assert_int_equal(kept.data[0], 0xd2);
  nb_cose_sign1_msg k;
  assert_int_equal(nb_cose_open(kept.data, kept.len, kp.spki_der.data, kp.spki_der.len, &k), NB_OK);
  assert_int_equal(k.nwithheld, 2);
  assert_int_equal(k.nvalues, 0);
  assert_int_equal(k.h.kid_len, 15);
  assert_string_equal(k.h.sub, "meter-7");
  assert_memory_equal(k.withheld[0].digest, m.withheld[0].digest, NB_COSE_DIGEST_LEN);
  assert_int_equal(nb_cose_secrets_check(&k), NB_ERR_NOT_FOUND);        /* nothing to apply */
  assert_true(nb_cose_secret_matches(&k.withheld[0], PSK, sizeof PSK)); /* shown later */
  /* Stripping what is stripped changes nothing. */
  assert_int_equal(nb_cose_strip(kept.data, kept.len, &again), NB_OK);
  assert_int_equal(again.len, kept.len);
  assert_memory_equal(again.data, kept.data, kept.len);
  /* Fresh salts: the same key signs to another digest each time. */
  nb_bytes other;
  nb_bytes_init(&other);
  sign_withheld(&kp, &other);
  nb_cose_sign1_msg o;
  assert_int_equal(nb_cose_parse(other.data, other.len, &o), NB_OK);
  assert_memory_not_equal(o.withheld[0].digest, m.withheld[0].digest, NB_COSE_DIGEST_LEN);
  nb_bytes_free(&other);
  nb_bytes_free(&out);
  nb_bytes_free(&kept);
  nb_bytes_free(&again);
  nb_dtls_keypair_free(&kp);
}

/* The byte offset of needle in b (it must be there once). */
static size_t offset_of(const nb_bytes *b, const void *needle, size_t n) {
  const uint8_t *at = memmem(b->data, b->len, needle, n);
  assert_non_null(at);
  return (size_t)(at - b->data);
}

static void test_withheld_tampering(void **state) {
  (void)state;
  nb_dtls_keypair kp;
  assert_int_equal(nb_dtls_keypair_generate(&kp), NB_OK);
  nb_bytes out;
  nb_bytes_init(&out);
  sign_withheld(&kp, &out);
  nb_cose_sign1_msg m;
  assert_int_equal(nb_cose_parse(out.data, out.len, &m), NB_OK);
  /* A changed digest (signed): the signature fails. */
  size_t at = (size_t)(m.withheld[0].digest - out.data);
  out.data[at] ^= 0x01;
  assert_int_equal(nb_cose_open(out.data, out.len, kp.spki_der.data, kp.spki_der.len, &m),
                   NB_ERR_DTLS_PEER_REJECTED);
  out.data[at] ^= 0x01;
  /* A changed key (not signed): the signature holds, the key does not match its digest. */
  at = offset_of(&out, PSK, sizeof PSK);
  out.data[at + 3] ^= 0x80;
  assert_int_equal(nb_cose_open(out.data, out.len, kp.spki_der.data, kp.spki_der.len, &m), NB_OK);
  assert_int_equal(nb_cose_secrets_check(&m), NB_ERR_DTLS_PEER_REJECTED);
  out.data[at + 3] ^= 0x80;
  assert_int_equal(nb_cose_open(out.data, out.len, kp.spki_der.data, kp.spki_der.len, &m), NB_OK);
  assert_int_equal(nb_cose_secrets_check(&m), NB_OK);
  nb_bytes_free(&out);
  nb_dtls_keypair_free(&kp);
}

static void test_withheld_limits(void **state) {
  (void)state;
  nb_dtls_keypair kp;
  assert_int_equal(nb_dtls_keypair_generate(&kp), NB_OK);
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  nb_bytes out;
  nb_bytes_init(&out);
  nb_cose_secret w[NB_COSE_SECRETS_MAX + 1];
  for (uint16_t i = 0; i <= NB_COSE_SECRETS_MAX; i++)
    w[i] = (nb_cose_secret){nb_path_res(0, i, 5), PSK, sizeof PSK};
  const uint8_t *k = kp.key_pem.data;
  size_t kl = kp.key_pem.len;
  assert_int_equal(nb_cose_sign1_withheld(&h, NULL, 0, w, NB_COSE_SECRETS_MAX + 1, k, kl, &out),
                   NB_ERR_RANGE);
  nb_cose_secret dup[] = {w[0], w[0]};
  assert_int_equal(nb_cose_sign1_withheld(&h, NULL, 0, dup, 2, k, kl, &out), NB_ERR_INVAL);
  nb_cose_secret inst[] = {{nb_path_inst(0, 1), PSK, sizeof PSK}};
  assert_int_equal(nb_cose_sign1_withheld(&h, NULL, 0, inst, 1, k, kl, &out), NB_ERR_INVAL);
  nb_cose_secret empty[] = {{nb_path_res(0, 1, 5), PSK, 0}};
  assert_int_equal(nb_cose_sign1_withheld(&h, NULL, 0, empty, 1, k, kl, &out), NB_ERR_INVAL);
  assert_int_equal(out.len, 0);
  assert_int_equal(nb_cose_sign1_withheld(&h, NULL, 0, w, NB_COSE_SECRETS_MAX, k, kl, &out), NB_OK);
  nb_cose_sign1_msg m;
  assert_int_equal(nb_cose_open(out.data, out.len, kp.spki_der.data, kp.spki_der.len, &m), NB_OK);
  assert_int_equal(m.nwithheld, NB_COSE_SECRETS_MAX);
  nb_bytes_free(&out);
  nb_dtls_keypair_free(&kp);
}

static void test_withheld_refused_structures(void **state) {
  (void)state;
  /* salt: 16 bytes of 0x11 (50 11..); digest: 32 bytes of 0x22 (58 20 22..) */
  char salt[2 * 17 + 1] = "50", dg[2 * 34 + 1] = "5820";
  for (int i = 0; i < 16; i++) strcat(salt, "11");
  for (int i = 0; i < 32; i++) strcat(dg, "22");
  char digests[256]; /* -65537: {"/0/1/5": [salt, digest]} */
  snprintf(digests, sizeof digests, "3A00010000A1662F302F312F3582%s%s", salt, dg);
  static const struct {
    const char *prot, *unprot;
    nb_err want;
  } cases[] = {
      /* crit naming the digests, which are there: fine */
      {"A3012602813A00010000%s", "A0", NB_OK},
      /* the digests without crit: fine too */
      {"A20126%s", "A0", NB_OK},
      /* crit naming the digests, which are not there */
      {"A2012602813A00010000", "A0", NB_ERR_SYNTAX},
      /* crit naming the digests and another label */
      {"A3012602823A00010000182A%s", "A0", NB_ERR_UNSUPPORTED},
      /* a key without a signed digest */
      {"A10126", "A13A00010001A1662F302F312F354101", NB_ERR_SYNTAX},
      /* a key for another path than the digest's */
      {"A20126%s", "A13A00010001A1662F302F312F384101", NB_ERR_SYNTAX},
      /* the key, an empty byte string */
      {"A20126%s", "A13A00010001A1662F302F312F3540", NB_ERR_SYNTAX},
      /* the key in the protected bucket */
      {"A201263A00010001A1662F302F312F354101", "A0", NB_ERR_SYNTAX},
      /* the digests in the unprotected bucket */
      {"A10126", "A1%s", NB_ERR_SYNTAX},
      /* a digest for an instance, not a resource */
      {"A201263A00010000A1642F302F3182%s%s", "A0", NB_ERR_SYNTAX},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char prot[512], unprot[512], hex[1400];
    if (strstr(cases[i].prot, "%s%s"))
      snprintf(prot, sizeof prot, cases[i].prot, salt, dg);
    else
      snprintf(prot, sizeof prot, cases[i].prot, digests);
    snprintf(unprot, sizeof unprot, cases[i].unprot, digests);
    size_t plen = strlen(prot) / 2;
    char bstr[8]; /* the protected bucket's byte string head */
    if (plen < 24)
      snprintf(bstr, sizeof bstr, "%02X", 0x40 + (unsigned)plen);
    else
      snprintf(bstr, sizeof bstr, "58%02X", (unsigned)plen);
    snprintf(hex, sizeof hex, "D284%s%s%s405840", bstr, prot, unprot);
    uint8_t buf[1024];
    ssize_t n = nb_test_unhex(hex, buf, sizeof buf);
    assert_true(n > 0);
    memset(buf + n, 0x11, 64);
    n += 64;
    nb_cose_sign1_msg m;
    nb_err e = nb_cose_parse(buf, (size_t)n, &m);
    if (e != cases[i].want) fail_msg("case %zu (%s): %s", i, hex, nb_err_name(e));
  }
}

static void add_rec(nb_records *r, nb_path p, nb_value v) {
  assert_int_equal(nb_records_add(r, &p, &v), NB_OK);
}

static nb_value opaque(const uint8_t *d, size_t n) {
  nb_value v = nb_value_none();
  assert_int_equal(nb_value_set_opaque(&v, d, n), NB_OK);
  return v;
}

/* A Security instance signed as records: the key leaves the payload and comes back. */
static void test_records_round_trip(void **state) {
  (void)state;
  assert_true(nb_cose_secret_resource(&(nb_path){{0, 3, 5}, 3}));
  assert_true(nb_cose_secret_resource(&(nb_path){{0, 3, 8}, 3}));
  assert_true(nb_cose_secret_resource(&(nb_path){{21, 0, 0}, 3}));
  assert_false(nb_cose_secret_resource(&(nb_path){{0, 3, 3}, 3})); /* an identity */
  assert_false(nb_cose_secret_resource(&(nb_path){{0, 3}, 2}));
  nb_dtls_keypair kp;
  assert_int_equal(nb_dtls_keypair_generate(&kp), NB_OK);
  nb_records in, out;
  nb_records_init(&in);
  nb_records_init(&out);
  add_rec(&in, nb_path_res(0, 1, 2), nb_value_int(0));
  add_rec(&in, nb_path_res(0, 1, 3), opaque((const uint8_t *)"dev-1", 5));
  add_rec(&in, nb_path_res(0, 1, 5), opaque(PSK, sizeof PSK));
  add_rec(&in, nb_path_res(0, 1, 8), opaque(NULL, 0)); /* empty: nothing to withhold */
  assert_non_null(nb_cose_secret_record(&in));
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  h.content_format = 112;
  nb_path base = nb_path_inst(0, 1);
  nb_bytes cose;
  nb_bytes_init(&cose);
  assert_int_equal(nb_cose_sign_records(&h, &in, &base, nb_model_builtin(), kp.key_pem.data,
                                        kp.key_pem.len, &cose),
                   NB_OK);
  nb_cose_sign1_msg m;
  assert_int_equal(nb_cose_open(cose.data, cose.len, kp.spki_der.data, kp.spki_der.len, &m), NB_OK);
  assert_int_equal(m.nwithheld, 1);
  assert_null(memmem(m.payload, m.payload_len, PSK, sizeof PSK));
  assert_false(nb_cose_payload_has_secret(&m, nb_model_builtin()));
  assert_int_equal(
      nb_format_decode(112, m.payload, m.payload_len, &base, nb_model_builtin(), &out, NULL, NULL),
      NB_OK);
  assert_int_equal(out.len, 3);
  /* Out of place: under another instance, or beside the same path in the payload. */
  nb_path other = nb_path_inst(0, 2);
  assert_int_equal(nb_cose_add_withheld(m.withheld, m.nwithheld, &other, &out), NB_ERR_FMT_PATH);
  assert_int_equal(out.len, 3);
  assert_int_equal(nb_cose_add_withheld(m.withheld, m.nwithheld, &base, &out), NB_OK);
  assert_int_equal(out.len, 4);
  const nb_record *key = nb_records_find(&out, &(nb_path){{0, 1, 5}, 3});
  assert_non_null(key);
  assert_int_equal(key->value.type, NB_VT_OPAQUE);
  assert_memory_equal(key->value.v.bytes.data, PSK, sizeof PSK);
  assert_int_equal(nb_cose_add_withheld(m.withheld, m.nwithheld, &base, &out), NB_ERR_FMT_PATH);
  /* A legacy message with the key in its signed payload is recognised. */
  nb_bytes inner, legacy;
  nb_bytes_init(&inner);
  nb_bytes_init(&legacy);
  assert_int_equal(nb_format_encode(112, &in, &base, nb_model_builtin(), &inner, NULL, NULL),
                   NB_OK);
  assert_int_equal(
      nb_cose_sign1(&h, inner.data, inner.len, kp.key_pem.data, kp.key_pem.len, &legacy), NB_OK);
  assert_int_equal(nb_cose_parse(legacy.data, legacy.len, &m), NB_OK);
  assert_true(nb_cose_payload_has_secret(&m, nb_model_builtin()));
  assert_true(nb_cose_payload_has_secret(&m, NULL));
  nb_bytes_free(&inner);
  nb_bytes_free(&legacy);
  nb_bytes_free(&cose);
  nb_records_deinit(&in);
  nb_records_deinit(&out);
  nb_dtls_keypair_free(&kp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_published_example),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_certificate_key),
      cmocka_unit_test(test_truncations),
      cmocka_unit_test(test_refused_structures),
      cmocka_unit_test(test_withheld_round_trip),
      cmocka_unit_test(test_withheld_tampering),
      cmocka_unit_test(test_withheld_limits),
      cmocka_unit_test(test_withheld_refused_structures),
      cmocka_unit_test(test_records_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
