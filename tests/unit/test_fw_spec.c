/* The pure parts of the server's firmware service (src/fw/fwspec.c): the JSON body of POST
 * /api/campaigns, refused with a reason for anything docs/openapi.yaml does not allow, and the
 * version and vendor sniffed from a signed image's manifest (COSE_Sign1 over {1: version, 2:
 * size, 3: sha-256, 4: vendor}, followed by the image bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "dtls/cose.h"
#include "dtls/keys.h"
#include "fw/fwupdate.h"
#include "lwm2m/cbor_io.h"

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static nb_err parse(const char *json, nb_fws_spec *s, char *why) {
  return nb_fws_spec_parse(json, strlen(json), s, why, 160);
}

static void test_endpoints(void **state) {
  (void)state;
  nb_fws_spec s;
  char why[160];
  assert_int_equal(parse("{\"image\":\"" SHA "\",\"method\":\"pull\",\"targets\":{\"endpoints\":"
                         "[\"a\",\"b\"]},\"concurrency\":4,\"retries\":0}",
                         &s, why),
                   NB_OK);
  assert_string_equal(s.image, SHA);
  assert_true(s.pull);
  assert_int_equal(s.nendpoints, 2);
  assert_string_equal(s.endpoints[1], "b");
  assert_int_equal(s.concurrency, 4);
  assert_int_equal(s.retries, 0);
  nb_fws_spec_deinit(&s);
}

static void test_filter_and_defaults(void **state) {
  (void)state;
  nb_fws_spec s;
  char why[160];
  assert_int_equal(parse("{\"image\":\"" SHA "\",\"targets\":{\"prefix\":\"meter-\",\"object\":5,"
                         "\"firmwareVersion\":\"1.0\"}}",
                         &s, why),
                   NB_OK);
  assert_false(s.pull);
  assert_string_equal(s.prefix, "meter-");
  assert_int_equal(s.object, 5);
  assert_true(s.has_version);
  assert_string_equal(s.version, "1.0");
  assert_int_equal(s.concurrency, NB_FWS_CONCURRENCY_DEFAULT);
  assert_int_equal(s.retries, 2);
  nb_fws_spec_deinit(&s);
}

static void test_refusals(void **state) {
  (void)state;
  static const struct {
    const char *body, *why;
  } bad[] = {
      {"", "bad JSON"},
      {"[]", "a JSON object"},
      {"{\"targets\":{\"prefix\":\"a\"}}", "image: required"},
      {"{\"image\":\"" SHA "\"}", "targets: required"},
      {"{\"image\":\"ABC\",\"targets\":{\"prefix\":\"a\"}}", "image:"},
      {"{\"image\":\"" SHA "\",\"method\":\"ftp\",\"targets\":{\"prefix\":\"a\"}}", "method"},
      {"{\"image\":\"" SHA "\",\"targets\":{\"endpoints\":[]}}", "non-empty"},
      {"{\"image\":\"" SHA "\",\"targets\":{\"endpoints\":[\"a\",\"a\"]}}", "twice"},
      {"{\"image\":\"" SHA "\",\"targets\":{\"endpoints\":[\"a b\"]}}", "endpoint names"},
      {"{\"image\":\"" SHA "\",\"targets\":{\"endpoints\":[7]}}", "endpoint names"},
      {"{\"image\":\"" SHA "\",\"targets\":{\"endpoints\":[\"a\"],\"prefix\":\"b\"}}", "not both"},
      {"{\"image\":\"" SHA "\",\"targets\":{}}", "endpoints or a filter"},
      {"{\"image\":\"" SHA "\",\"targets\":{\"object\":70000}}", "object ID"},
      {"{\"image\":\"" SHA "\",\"targets\":{\"prefix\":\"a/b\"}}", "prefix"},
      {"{\"image\":\"" SHA "\",\"targets\":{\"shape\":1}}", "targets:"},
      {"{\"image\":\"" SHA "\",\"targets\":{\"prefix\":\"a\"},\"concurrency\":0}", "concurrency"},
      {"{\"image\":\"" SHA "\",\"targets\":{\"prefix\":\"a\"},\"retries\":101}", "retries"},
      {"{\"image\":\"" SHA "\",\"targets\":{\"prefix\":\"a\"},\"colour\":1}", "unknown member"},
      {"{\"image\":\"" SHA "\",\"image\":\"" SHA "\",\"targets\":{\"prefix\":\"a\"}}", "bad JSON"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    nb_fws_spec s;
    char why[160] = "";
    assert_int_equal(parse(bad[i].body, &s, why), NB_ERR_INVAL);
    if (!strstr(why, bad[i].why)) fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].body, why, bad[i].why);
    nb_fws_spec_deinit(&s);
  }
}

/* A signed envelope as the device side makes it, then the image bytes. */
static void envelope(const char *version, const char *vendor, nb_bytes *out) {
  nb_bytes m;
  nb_bytes_init(&m);
  uint8_t digest[32] = {1};
  assert_int_equal(nb_cbor_put_map(&m, 4), NB_OK);
  nb_cbor_put_uint(&m, 1);
  nb_cbor_put_text(&m, version, strlen(version));
  nb_cbor_put_uint(&m, 2);
  nb_cbor_put_uint(&m, 3);
  nb_cbor_put_uint(&m, 3);
  nb_cbor_put_bytes(&m, digest, sizeof digest);
  nb_cbor_put_uint(&m, 4);
  nb_cbor_put_text(&m, vendor, strlen(vendor));
  nb_dtls_keypair kp;
  assert_int_equal(nb_dtls_keypair_generate(&kp), NB_OK);
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  assert_int_equal(nb_cose_sign1(&h, m.data, m.len, kp.key_der.data, kp.key_der.len, out), NB_OK);
  nb_dtls_keypair_free(&kp);
  nb_bytes_free(&m);
  assert_int_equal(nb_bytes_append(out, "IMG", 3), NB_OK);
}

static void test_manifest_sniff(void **state) {
  (void)state;
  char version[NB_FWS_TEXT_MAX], vendor[NB_FWS_TEXT_MAX];
  nb_bytes b;
  nb_bytes_init(&b);
  envelope("2.1.0", "acme", &b);
  assert_int_equal(b.data[0], 0xd2); /* tag 18 */
  nb_fws_manifest_sniff(b.data, b.len, version, vendor);
  assert_string_equal(version, "2.1.0");
  assert_string_equal(vendor, "acme");
  /* cut inside the envelope, or not an envelope: unknown */
  nb_fws_manifest_sniff(b.data, 20, version, vendor);
  assert_string_equal(version, "");
  nb_fws_manifest_sniff((const uint8_t *)"\x7f" "ELF", 4, version, vendor);
  assert_string_equal(version, "");
  nb_fws_manifest_sniff(b.data, 0, version, vendor); /* an empty image */
  assert_string_equal(version, "");
  assert_string_equal(vendor, "");
  nb_bytes_free(&b);
  /* a version that is not printable text is not shown */
  nb_bytes_init(&b);
  envelope("1\n2", "acme", &b);
  nb_fws_manifest_sniff(b.data, b.len, version, vendor);
  assert_string_equal(version, "");
  assert_string_equal(vendor, "acme");
  nb_bytes_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_endpoints),
      cmocka_unit_test(test_filter_and_defaults),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_manifest_sniff),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
