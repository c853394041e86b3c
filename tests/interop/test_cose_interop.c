/* Signed payloads judged by others: COSE_Sign1 messages made by `niobium cose sign` and by
 * nb_cose_sign1 are verified by an independent Python implementation (cose_judge.py: cbor2 +
 * cryptography, written from RFC 9052) with the same claims read back; messages the judge signs
 * are verified by `niobium cose verify` and nb_cose_open; tampered bytes are refused by both.
 * Withheld secrets both ways: the judge verifies our kept copy (no key in it) and checks a key
 * shown later against its signed digest; we open the judge's message with a withheld key,
 * apply-check it and keep a copy without it.
 * Wireshark's COSE dissector (tshark 4.0) must take our message apart when it travels as a CoAP
 * response with Content-Format 18. Skips when python3 with cbor2 and cryptography, or tshark, is
 * missing (scripts/install-deps installs them). */
#include <jansson.h>
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

#include "base/hex.h"
#include "dtls/cose.h"
#include "dtls/keys.h"
#include "nb_test.h"
#include "pcap_craft.h"

#define CTI_HEX "0f1e2d3c4b5a69788796a5b4c3d2e1f0"

typedef struct {
  const char *nb;
  char python[256];
  char judge[512];
  char dir[64];
  nb_dtls_keypair kp, other;
  uint8_t *payload; /* SenML CBOR of two Device resources */
  size_t payload_len;
} fixture;

static char *path_in(const fixture *f, const char *name) {
  static char buf[4][320];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", f->dir, name);
  return buf[k];
}

static void write_file(const char *path, const void *data, size_t len) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(data, 1, len, fp), len);
  assert_int_equal(fclose(fp), 0);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->nb = nb_test_env("NB_BINARY");
  const char *src = nb_test_env("NB_SOURCE_DIR");
  assert_non_null(f->nb);
  assert_non_null(src);
  snprintf(f->judge, sizeof f->judge, "%s/tests/interop/cose_judge.py", src);
  snprintf(f->dir, sizeof f->dir, "/tmp/nb-cose-interop.XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  assert_int_equal(nb_dtls_keypair_generate(&f->kp), NB_OK);
  assert_int_equal(nb_dtls_keypair_generate(&f->other), NB_OK);
  write_file(path_in(f, "dev.key.pem"), f->kp.key_pem.data, f->kp.key_pem.len);
  write_file(path_in(f, "dev.pub.pem"), f->kp.spki_pem.data, f->kp.spki_pem.len);
  write_file(path_in(f, "other.pub.pem"), f->other.spki_pem.data, f->other.spki_pem.len);
  f->payload = nb_craft_payload(112, "/", "/3/0/9=i:87;/3/0/0=s:ACME", &f->payload_len);
  assert_non_null(f->payload);
  write_file(path_in(f, "data.cbor"), f->payload, f->payload_len);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  assert_int_equal(system(cmd), 0);
  nb_dtls_keypair_free(&f->kp);
  nb_dtls_keypair_free(&f->other);
  free(f->payload);
  free(f);
  return 0;
}

static void need_python(fixture *f) {
  if (!nb_test_find_python("cbor2, cryptography", f->python, sizeof f->python)) {
    print_message(
        "skipped: no python3 with the cbor2 and cryptography modules "
        "(scripts/install-deps installs python3-cbor2 python3-cryptography)\n");
    skip();
  }
}

/* Runs the judge, with --secret SECRET unless NULL; returns its exit code and its JSON verdict
 * (caller decrefs). */
static int judge_verify_with(const fixture *f, const char *key, const char *secret,
                             const char *file, json_t **verdict) {
  char *argv[9] = {(char *)f->python, (char *)f->judge, "verify", "--key", (char *)key};
  int n = 5;
  if (secret) {
    argv[n++] = "--secret";
    argv[n++] = (char *)secret;
  }
  argv[n++] = (char *)file;
  argv[n] = NULL;
  char *out = NULL, *err = NULL;
  int rc = nb_test_run_capture(argv, 60000, &out, &err);
  json_error_t je;
  *verdict = json_loads(out ? out : "", 0, &je);
  if (!*verdict) fail_msg("judge printed no JSON: %s / %s", out, err);
  free(out);
  free(err);
  return rc;
}

/* Runs `niobium cose verify --key KEY [extra] FILE`; returns the exit code and the JSON line. */
static int nb_verify(const fixture *f, const char *key, const char *extra1, const char *extra2,
                     const char *file, json_t **verdict) {
  char *argv[9] = {(char *)f->nb, "cose", "verify", "--key", (char *)key};
  int n = 5;
  if (extra1) argv[n++] = (char *)extra1;
  if (extra2) argv[n++] = (char *)extra2;
  argv[n++] = (char *)file;
  argv[n] = NULL;
  char *out = NULL, *err = NULL;
  int rc = nb_test_run_capture(argv, 60000, &out, &err);
  json_error_t je;
  *verdict = json_loads(out ? out : "", 0, &je);
  if (!*verdict) fail_msg("niobium printed no JSON: %s / %s", out, err);
  free(out);
  free(err);
  return rc;
}

static int judge_verify(const fixture *f, const char *key, const char *file, json_t **verdict) {
  return judge_verify_with(f, key, NULL, file, verdict);
}

static void assert_json_str(const json_t *o, const char *key, const char *want) {
  const char *got = json_string_value(json_object_get(o, key));
  if (!got || strcmp(got, want) != 0) fail_msg("%s is %s, expected %s", key, got, want);
}

/* The claims every message of these tests carries, as the judge reports them. */
static void assert_judge_claims(const fixture *f, const json_t *v) {
  assert_true(json_is_true(json_object_get(v, "valid")));
  assert_int_equal(json_integer_value(json_object_get(v, "alg")), -7);
  assert_int_equal(json_integer_value(json_object_get(v, "content_format")), 112);
  assert_json_str(v, "kid", f->kp.secure_id);
  assert_json_str(v, "iss", "meter-7");
  assert_json_str(v, "sub", "meter-7");
  assert_int_equal(json_integer_value(json_object_get(v, "iat")), 1795000000);
  assert_json_str(v, "cti", CTI_HEX);
  char hex[256];
  assert_true(f->payload_len * 2 < sizeof hex);
  assert_json_str(v, "payload_hex", nb_hex_encode(f->payload, f->payload_len, hex));
}

static void sign_in_process(const fixture *f, int cf, nb_bytes *out) {
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  h.content_format = cf;
  strcpy(h.iss, "meter-7");
  strcpy(h.sub, "meter-7");
  h.has_iat = true;
  h.iat = 1795000000;
  assert_int_equal(nb_hex_decode(CTI_HEX, strlen(CTI_HEX), NULL, h.cti, sizeof h.cti, &h.cti_len),
                   NB_OK);
  assert_int_equal(
      nb_cose_sign1(&h, f->payload, f->payload_len, f->kp.key_pem.data, f->kp.key_pem.len, out),
      NB_OK);
}

static void test_ours_verified_by_judge(void **state) {
  fixture *f = *state;
  need_python(f);
  /* Through the CLI. */
  char *argv[] = {(char *)f->nb,
                  "cose",
                  "sign",
                  "--key",
                  path_in(f, "dev.key.pem"),
                  "-f",
                  "senml-cbor",
                  "--iss",
                  "meter-7",
                  "--sub",
                  "meter-7",
                  "--iat",
                  "1795000000",
                  "--cti",
                  CTI_HEX,
                  path_in(f, "data.cbor"),
                  path_in(f, "cli.cose"),
                  NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(argv, 60000, &out), 0);
  free(out);
  json_t *v;
  assert_int_equal(judge_verify(f, path_in(f, "dev.pub.pem"), path_in(f, "cli.cose"), &v), 0);
  assert_judge_claims(f, v);
  json_decref(v);
  /* Through the library, as the engines sign. */
  nb_bytes cose;
  nb_bytes_init(&cose);
  sign_in_process(f, 112, &cose);
  write_file(path_in(f, "lib.cose"), cose.data, cose.len);
  assert_int_equal(judge_verify(f, path_in(f, "dev.pub.pem"), path_in(f, "lib.cose"), &v), 0);
  assert_judge_claims(f, v);
  json_decref(v);
  /* The wrong key: the judge says no. */
  assert_int_equal(judge_verify(f, path_in(f, "other.pub.pem"), path_in(f, "lib.cose"), &v), 1);
  assert_true(json_is_false(json_object_get(v, "valid")));
  json_decref(v);
  nb_bytes_free(&cose);
}

static void judge_sign(const fixture *f, const char *out_name) {
  char *argv[] = {(char *)f->python,
                  (char *)f->judge,
                  "sign",
                  "--key",
                  path_in(f, "dev.key.pem"),
                  "--content-format",
                  "112",
                  "--iss",
                  "meter-7",
                  "--sub",
                  "meter-7",
                  "--iat",
                  "1795000000",
                  "--cti",
                  CTI_HEX,
                  path_in(f, "data.cbor"),
                  path_in(f, out_name),
                  NULL};
  char *out = NULL, *err = NULL;
  int rc = nb_test_run_capture(argv, 60000, &out, &err);
  if (rc != 0) fail_msg("judge sign failed: %s", err);
  free(out);
  free(err);
}

static void test_judges_verified_by_us(void **state) {
  fixture *f = *state;
  need_python(f);
  judge_sign(f, "py.cose");
  json_t *v;
  assert_int_equal(
      nb_verify(f, path_in(f, "dev.pub.pem"), "--cti", CTI_HEX, path_in(f, "py.cose"), &v), 0);
  assert_true(json_is_true(json_object_get(v, "valid")));
  assert_json_str(v, "kid", f->kp.secure_id); /* both compute the secure ID the same way */
  assert_json_str(v, "iss", "meter-7");
  assert_int_equal(json_integer_value(json_object_get(v, "iat")), 1795000000);
  json_t *recs = json_object_get(v, "payload");
  assert_int_equal(json_array_size(recs), 2);
  assert_json_str(json_array_get(recs, 0), "path", "/3/0/9");
  assert_int_equal(json_integer_value(json_object_get(json_array_get(recs, 0), "value")), 87);
  assert_json_str(json_array_get(recs, 1), "value", "ACME");
  json_decref(v);
  /* The library agrees, with the SPKI in DER. */
  size_t len;
  char *bytes = nb_test_read_file(path_in(f, "py.cose"), &len);
  assert_non_null(bytes);
  nb_cose_sign1_msg m;
  assert_int_equal(
      nb_cose_open((const uint8_t *)bytes, len, f->kp.spki_der.data, f->kp.spki_der.len, &m),
      NB_OK);
  assert_string_equal(m.h.sub, "meter-7");
  assert_int_equal(m.h.content_format, 112);
  assert_int_equal(m.payload_len, f->payload_len);
  assert_memory_equal(m.payload, f->payload, f->payload_len);
  free(bytes);
  /* Required claims that differ are refused even with a good signature. */
  assert_int_equal(
      nb_verify(f, path_in(f, "dev.pub.pem"), "--iss", "meter-8", path_in(f, "py.cose"), &v), 1);
  assert_true(json_is_false(json_object_get(v, "valid")));
  assert_non_null(strstr(json_string_value(json_object_get(v, "error")), "expected \"meter-8\""));
  json_decref(v);
}

/* Flips one bit of the payload (found by value) and checks both verifiers refuse. */
static void tamper_and_check(const fixture *f, const char *name) {
  size_t len;
  char *bytes = nb_test_read_file(path_in(f, name), &len);
  assert_non_null(bytes);
  char *p = memmem(bytes, len, f->payload, f->payload_len);
  assert_non_null(p);
  p[f->payload_len - 1] ^= 0x01; /* "ACME" becomes "ACMD" */
  write_file(path_in(f, "tampered.cose"), bytes, len);
  free(bytes);
  json_t *v;
  assert_int_equal(
      nb_verify(f, path_in(f, "dev.pub.pem"), NULL, NULL, path_in(f, "tampered.cose"), &v), 1);
  assert_true(json_is_false(json_object_get(v, "valid")));
  assert_non_null(strstr(json_string_value(json_object_get(v, "error")), "does not verify"));
  assert_null(json_object_get(v, "payload")); /* unverified data is not shown as evidence */
  json_decref(v);
  assert_int_equal(judge_verify(f, path_in(f, "dev.pub.pem"), path_in(f, "tampered.cose"), &v), 1);
  assert_true(json_is_false(json_object_get(v, "valid")));
  json_decref(v);
}

static void test_tampered_refused_by_both(void **state) {
  fixture *f = *state;
  need_python(f);
  judge_sign(f, "py.cose");
  tamper_and_check(f, "py.cose");
  nb_bytes cose;
  nb_bytes_init(&cose);
  sign_in_process(f, 112, &cose);
  write_file(path_in(f, "lib.cose"), cose.data, cose.len);
  nb_bytes_free(&cose);
  tamper_and_check(f, "lib.cose");
}

/* ---- withheld secrets ---- */

static const uint8_t KEY5[16] = {0x6b, 0x65, 0x79, 0x2d, 0x6f, 0x66, 0x2d, 0x30,
                                 0x2d, 0x31, 0x2d, 0x35, 0xa0, 0xa1, 0xa2, 0xa3};

static void test_withheld_ours_judged(void **state) {
  fixture *f = *state;
  need_python(f);
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  h.content_format = 112;
  strcpy(h.sub, "meter-7");
  nb_cose_secret w = {nb_path_res(0, 1, 5), KEY5, sizeof KEY5};
  nb_bytes sent, kept;
  nb_bytes_init(&sent);
  nb_bytes_init(&kept);
  assert_int_equal(nb_cose_sign1_withheld(&h, f->payload, f->payload_len, &w, 1, f->kp.key_pem.data,
                                          f->kp.key_pem.len, &sent),
                   NB_OK);
  assert_int_equal(nb_cose_strip(sent.data, sent.len, &kept), NB_OK);
  write_file(path_in(f, "kept.cose"), kept.data, kept.len);
  write_file(path_in(f, "key5.bin"), KEY5, sizeof KEY5);
  write_file(path_in(f, "wrong.bin"), KEY5, sizeof KEY5 - 1);
  /* The kept copy verifies for the judge and shows the digest, not the key. */
  json_t *v;
  assert_int_equal(judge_verify(f, path_in(f, "dev.pub.pem"), path_in(f, "kept.cose"), &v), 0);
  assert_true(json_is_true(json_object_get(v, "valid")));
  json_t *wh = json_array_get(json_object_get(v, "withheld"), 0);
  assert_json_str(wh, "path", "/0/1/5");
  assert_int_equal(json_integer_value(json_object_get(v, "secrets_beside")), 0);
  json_decref(v);
  /* The key shown later matches what was signed; another does not. */
  char arg[400];
  snprintf(arg, sizeof arg, "/0/1/5=%s", path_in(f, "key5.bin"));
  assert_int_equal(
      judge_verify_with(f, path_in(f, "dev.pub.pem"), arg, path_in(f, "kept.cose"), &v), 0);
  assert_true(json_is_true(json_object_get(v, "valid")));
  json_decref(v);
  snprintf(arg, sizeof arg, "/0/1/5=%s", path_in(f, "wrong.bin"));
  assert_int_equal(
      judge_verify_with(f, path_in(f, "dev.pub.pem"), arg, path_in(f, "kept.cose"), &v), 1);
  assert_non_null(strstr(json_string_value(json_object_get(v, "error")), "does not match"));
  json_decref(v);
  /* What went over the wire (key beside the signature) verifies as well. */
  write_file(path_in(f, "sent.cose"), sent.data, sent.len);
  assert_int_equal(judge_verify(f, path_in(f, "dev.pub.pem"), path_in(f, "sent.cose"), &v), 0);
  assert_int_equal(json_integer_value(json_object_get(v, "secrets_beside")), 1);
  json_decref(v);
  nb_bytes_free(&sent);
  nb_bytes_free(&kept);
}

static void test_withheld_judges_opened(void **state) {
  fixture *f = *state;
  need_python(f);
  write_file(path_in(f, "key5.bin"), KEY5, sizeof KEY5);
  char withhold[400];
  snprintf(withhold, sizeof withhold, "/0/1/5=%s", path_in(f, "key5.bin"));
  char *argv[] = {(char *)f->python,
                  (char *)f->judge,
                  "sign",
                  "--key",
                  path_in(f, "dev.key.pem"),
                  "--content-format",
                  "112",
                  "--sub",
                  "meter-7",
                  "--withhold",
                  withhold,
                  path_in(f, "data.cbor"),
                  path_in(f, "pyw.cose"),
                  NULL};
  char *out = NULL, *err = NULL;
  if (nb_test_run_capture(argv, 60000, &out, &err) != 0) fail_msg("judge sign failed: %s", err);
  free(out);
  free(err);
  size_t len;
  char *bytes = nb_test_read_file(path_in(f, "pyw.cose"), &len);
  assert_non_null(bytes);
  nb_cose_sign1_msg m;
  assert_int_equal(
      nb_cose_open((const uint8_t *)bytes, len, f->kp.spki_der.data, f->kp.spki_der.len, &m),
      NB_OK);
  assert_int_equal(m.nwithheld, 1);
  assert_int_equal(nb_cose_secrets_check(&m), NB_OK);
  assert_int_equal(m.withheld[0].value_len, sizeof KEY5);
  assert_memory_equal(m.withheld[0].value, KEY5, sizeof KEY5);
  nb_bytes kept;
  nb_bytes_init(&kept);
  assert_int_equal(nb_cose_strip((const uint8_t *)bytes, len, &kept), NB_OK);
  assert_null(memmem(kept.data, kept.len, KEY5, sizeof KEY5));
  nb_bytes_free(&kept);
  free(bytes);
  /* `niobium cose verify` checks the key shown, and never prints the one beside. */
  json_t *v;
  assert_int_equal(
      nb_verify(f, path_in(f, "dev.pub.pem"), "--secret", withhold, path_in(f, "pyw.cose"), &v), 0);
  json_t *wh = json_array_get(json_object_get(v, "withheld"), 0);
  assert_true(json_is_true(json_object_get(wh, "matches")));
  char *text = json_dumps(v, 0);
  char hex[2 * sizeof KEY5 + 1];
  assert_null(strstr(text, nb_hex_encode(KEY5, sizeof KEY5, hex)));
  free(text);
  json_decref(v);
}

/* ---- tshark ---- */

/* tshark 4.0's CoAP dissector has no name for Content-Format 18 and hands the payload to the
 * media_type table as "Unknown Type 18"; `-d` cannot express that selector (it has spaces, and
 * "cose" names eight dissectors of which the first is COSE_KeySet), so a one-line Lua script
 * maps it to the dissector for tagged COSE messages. */
static const char lua_map[] =
    "DissectorTable.get(\"media_type\"):add(\"Unknown Type 18\", Dissector.get(\"cose\"))\n";

/* A CoAP exchange: GET /3/0 Accept 18, answered 2.05 with Content-Format 18 and the message. */
static void write_pcap(const fixture *f, const char *name, const nb_bytes *cose) {
  nb_pcap_craft *c = nb_craft_open(path_in(f, name), 101, false);
  assert_non_null(c);
  nb_craft_session s = {c, 1700000000000000, 0x4000, 0x7000, NULL};
  nb_craft_exchange(&s, "127.0.0.1:5683", "127.0.0.1:56830", NB_COAP_GET, "/3/0", NULL, -1, NULL, 0,
                    NB_COAP_CONTENT, NB_COSE_CF_SIGN1, cose->data, cose->len, NULL, -1);
  assert_true(nb_craft_close(c));
}

static char *tshark_fields(const fixture *f, const char *pcap, const char *fields_csv) {
  char script[320];
  snprintf(script, sizeof script, "lua_script:%s", path_in(f, "ct18.lua"));
  char *argv[32] = {"tshark", "-n",   "-X", script,   "-r", (char *)pcap,
                    "-Y",     "cose", "-T", "fields", "-E", "separator=|"};
  int n = 12;
  char buf[512];
  snprintf(buf, sizeof buf, "%s", fields_csv);
  for (char *tok = strtok(buf, ","); tok && n < 30; tok = strtok(NULL, ",")) {
    argv[n++] = "-e";
    argv[n++] = tok;
  }
  argv[n] = NULL;
  char *out = NULL, *err = NULL;
  int rc = nb_test_run_capture(argv, 60000, &out, &err);
  if (rc != 0) fail_msg("tshark failed (%d): %s", rc, err);
  free(err);
  return out;
}

static void test_tshark_dissects(void **state) {
  fixture *f = *state;
  if (!nb_test_have_program("tshark")) {
    print_message("skipped: tshark is not installed\n");
    skip();
  }
  write_file(path_in(f, "ct18.lua"), lua_map, strlen(lua_map));
  /* Without a content-type header every part is dissected: tag, alg, claims, kid, payload. */
  nb_bytes cose;
  nb_bytes_init(&cose);
  sign_in_process(f, -1, &cose);
  write_pcap(f, "plain.pcap", &cose);
  char *out = tshark_fields(f, path_in(f, "plain.pcap"),
                            "cose.msgtag,cose.alg.int,cose.kid,cose.header_label.int,"
                            "cose.msg.payload,cbor.type.textstring,cbor.type.bytestring");
  char hex[256], want[512];
  snprintf(want, sizeof want, "18|-7|%s|1,15,4|%s|meter-7,meter-7|%s\n", f->kp.secure_id,
           nb_hex_encode(f->payload, f->payload_len, hex), CTI_HEX);
  if (strcmp(out, want) != 0) fail_msg("tshark saw '%s', expected '%s'", out, want);
  free(out);
  /* With content type 112: Wireshark 4.0's COSE dissector registers cose.content-type.uint as
   * FT_INT64 but adds it as unsigned, so it stops there with a "Dissector bug" expert note;
   * what it read up to that point must still be ours. */
  cose.len = 0;
  sign_in_process(f, 112, &cose);
  write_pcap(f, "cty.pcap", &cose);
  out = tshark_fields(f, path_in(f, "cty.pcap"), "cose.msgtag,cose.alg.int,cose.header_label.int");
  assert_string_equal(out, "18|-7|1,3\n");
  free(out);
  nb_bytes_free(&cose);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_ours_verified_by_judge, setup, teardown),
      cmocka_unit_test_setup_teardown(test_withheld_ours_judged, setup, teardown),
      cmocka_unit_test_setup_teardown(test_withheld_judges_opened, setup, teardown),
      cmocka_unit_test_setup_teardown(test_judges_verified_by_us, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tampered_refused_by_both, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tshark_dissects, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
