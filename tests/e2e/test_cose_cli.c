/* `niobium cose`: the real binary signs and verifies (raw, base64 and stdin), names the wrong
 * key, refuses garbage, truncated and oversized files with an error and exit 1, and answers
 * usage errors with exit 2. Secret keys: `sign` withholds them from the signed payload,
 * `verify` shows their digests, checks a key shown to it (--secret) and never prints a key,
 * not even one inside the signed payload of older evidence. */
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
#include "lwm2m/format.h"
#include "nb_test.h"

typedef struct {
  const char *nb;
  char dir[64];
  char p[8][320];
  int np;
  nb_dtls_keypair kp, other;
} fixture;

static const char *in_dir(fixture *f, const char *name) {
  char *b = f->p[f->np++ % 8];
  snprintf(b, 320, "%s/%s", f->dir, name);
  return b;
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
  assert_non_null(f->nb);
  snprintf(f->dir, sizeof f->dir, "/tmp/nb-cose-cli.XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  assert_int_equal(nb_dtls_keypair_generate(&f->kp), NB_OK);
  assert_int_equal(nb_dtls_keypair_generate(&f->other), NB_OK);
  write_file(in_dir(f, "dev.key.pem"), f->kp.key_pem.data, f->kp.key_pem.len);
  write_file(in_dir(f, "dev.spki.der"), f->kp.spki_der.data, f->kp.spki_der.len);
  write_file(in_dir(f, "other.pub.pem"), f->other.spki_pem.data, f->other.spki_pem.len);
  /* [{0: "/3/0/9", 2: 87}]: SenML CBOR of the battery level. */
  static const uint8_t senml[] = {0x81, 0xa2, 0x00, 0x66, 0x2f, 0x33, 0x2f,
                                  0x30, 0x2f, 0x39, 0x02, 0x18, 0x57};
  write_file(in_dir(f, "data.cbor"), senml, sizeof senml);
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
  free(f);
  return 0;
}

/* Runs `sh -c CMD` (CMD from this test only, for redirections) with $NB set. */
static int sh(fixture *f, char **out, char **err, const char *fmt, ...) {
  char body[2048], cmd[2300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(body, sizeof body, fmt, ap);
  va_end(ap);
  snprintf(cmd, sizeof cmd, "cd '%s' && NB='%s' && %s", f->dir, f->nb, body);
  char *argv[] = {"sh", "-c", cmd, NULL};
  return nb_test_run_capture(argv, 60000, out, err);
}

static void test_round_trip(void **state) {
  fixture *f = *state;
  char *out, *err;
  assert_int_equal(sh(f, &out, &err,
                      "\"$NB\" cose sign --key dev.key.pem -f 112 --iss meter-7 --iat 1795000000 "
                      "--cti 0a0b data.cbor data.cose"),
                   0);
  free(out);
  free(err);
  assert_int_equal(sh(f, &out, &err,
                      "\"$NB\" cose verify --key dev.spki.der --iss meter-7 --cti 0a0b data.cose"),
                   0);
  char want[512];
  snprintf(want, sizeof want,
           "{\"file\":\"data.cose\",\"valid\":true,\"kid\":\"%s\",\"iss\":\"meter-7\","
           "\"iat\":1795000000,\"cti\":\"0a0b\",\"content_format\":112,\"payload\":[{\"path\":"
           "\"/3/0/9\",\"type\":\"Integer\",\"value\":87}]}\n",
           f->kp.secure_id);
  assert_string_equal(out, want);
  free(out);
  free(err);
  /* Base64 text through stdin, and several files in one call. */
  assert_int_equal(sh(f, &out, &err,
                      "\"$NB\" cose sign --key dev.key.pem -f senml-cbor --base64 data.cbor - > "
                      "data.b64 && \"$NB\" cose verify --key dev.spki.der - data.cose < data.b64"),
                   0);
  assert_non_null(strstr(out, "{\"file\":\"-\",\"valid\":true,"));
  assert_non_null(strstr(out, "\n{\"file\":\"data.cose\",\"valid\":true,"));
  free(out);
  free(err);
}

static const uint8_t KEY[16] = {0xc0, 0xff, 0xee, 0x00, 0x5e, 0xc2, 0xe7, 0x01,
                                0xc0, 0xff, 0xee, 0x00, 0x5e, 0xc2, 0xe7, 0x02};

/* SenML CBOR of /0/1/2 = 0 and /0/1/5 = KEY, absolute names. */
static void write_security(fixture *f, const char *name) {
  nb_records r;
  nb_records_init(&r);
  nb_path mode = nb_path_res(0, 1, 2), key = nb_path_res(0, 1, 5);
  nb_value m = nb_value_int(0), k = nb_value_none();
  assert_int_equal(nb_value_set_opaque(&k, KEY, sizeof KEY), NB_OK);
  assert_int_equal(nb_records_add(&r, &mode, &m), NB_OK);
  assert_int_equal(nb_records_add(&r, &key, &k), NB_OK);
  nb_bytes b;
  nb_bytes_init(&b);
  nb_path root = nb_path_root();
  assert_int_equal(nb_format_encode(112, &r, &root, nb_model_builtin(), &b, NULL, NULL), NB_OK);
  write_file(in_dir(f, name), b.data, b.len);
  nb_bytes_free(&b);
  nb_records_deinit(&r);
}

static void assert_no_key(const char *text) {
  char hex[2 * sizeof KEY + 1];
  nb_hex_encode(KEY, sizeof KEY, hex);
  if (strstr(text, hex)) fail_msg("the key is shown: %s", text);
}

static void test_secret_keys(void **state) {
  fixture *f = *state;
  write_security(f, "sec.cbor");
  write_file(in_dir(f, "key.bin"), KEY, sizeof KEY);
  write_file(in_dir(f, "other.bin"), KEY, sizeof KEY - 1);
  char *out, *err;
  /* sign withholds the key: not in the signed file, its digest instead. */
  assert_int_equal(
      sh(f, &out, &err, "\"$NB\" cose sign --key dev.key.pem -f 112 sec.cbor sec.cose"), 0);
  assert_non_null(strstr(err, "withheld"));
  free(out);
  free(err);
  /* The message for the device carries the key beside the signature: a file kept like one. */
  struct stat st;
  assert_int_equal(stat(in_dir(f, "sec.cose"), &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  size_t len;
  char *bytes = nb_test_read_file(in_dir(f, "sec.cose"), &len);
  assert_non_null(bytes);
  nb_cose_sign1_msg m;
  assert_int_equal(
      nb_cose_open((const uint8_t *)bytes, len, f->kp.spki_der.data, f->kp.spki_der.len, &m),
      NB_OK);
  assert_int_equal(m.nwithheld, 1);
  assert_int_equal(nb_cose_secrets_check(&m), NB_OK);
  assert_null(memmem(m.payload, m.payload_len, KEY, sizeof KEY));
  free(bytes);
  assert_int_equal(sh(f, &out, &err, "\"$NB\" cose verify --key dev.spki.der sec.cose"), 0);
  assert_non_null(strstr(out, "\"withheld\":[{\"path\":\"/0/1/5\",\"salt\":\""));
  assert_non_null(strstr(out, "{\"path\":\"/0/1/2\",\"type\":\"Integer\",\"value\":0}"));
  assert_null(strstr(out, "\"matches\""));
  free(out);
  free(err);
  /* A key shown later: matches, or the file is not valid. */
  assert_int_equal(
      sh(f, &out, &err, "\"$NB\" cose verify --key dev.spki.der --secret /0/1/5=key.bin sec.cose"),
      0);
  assert_non_null(strstr(out, "\"matches\":true"));
  free(out);
  free(err);
  assert_int_equal(sh(f, &out, &err,
                      "\"$NB\" cose verify --key dev.spki.der --secret /0/1/5=other.bin sec.cose"),
                   1);
  assert_non_null(strstr(out, "\"valid\":false"));
  assert_non_null(strstr(out, "does not match its signed digest"));
  free(out);
  free(err);
  assert_int_equal(sh(f, &out, &err,
                      "\"$NB\" cose verify --key dev.spki.der --secret /0/1=key.bin "
                      "sec.cose"),
                   2);
  free(out);
  free(err);
  /* Older evidence, the key inside the signed payload: valid, never shown, a warning. */
  bytes = nb_test_read_file(in_dir(f, "sec.cbor"), &len);
  assert_non_null(bytes);
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  h.content_format = 112;
  nb_bytes legacy;
  nb_bytes_init(&legacy);
  assert_int_equal(nb_cose_sign1(&h, (const uint8_t *)bytes, len, f->kp.key_pem.data,
                                 f->kp.key_pem.len, &legacy),
                   NB_OK);
  free(bytes);
  write_file(in_dir(f, "legacy.cose"), legacy.data, legacy.len);
  nb_bytes_free(&legacy);
  assert_int_equal(sh(f, &out, &err, "\"$NB\" cose verify --key dev.spki.der legacy.cose"), 0);
  assert_no_key(out);
  assert_no_key(err);
  assert_non_null(strstr(out, "\"valid\":true"));
  assert_non_null(
      strstr(out, "{\"path\":\"/0/1/5\",\"type\":\"none\",\"value\":null,\"redacted\":"));
  assert_non_null(strstr(out, "\"warning\":"));
  free(out);
  free(err);
}

static void test_wrong_key_and_claims(void **state) {
  fixture *f = *state;
  char *out, *err;
  assert_int_equal(sh(f, &out, &err,
                      "\"$NB\" cose sign --key dev.key.pem -f 112 --sub meter-7 data.cbor x.cose"),
                   0);
  free(out);
  free(err);
  assert_int_equal(sh(f, &out, &err, "\"$NB\" cose verify --key other.pub.pem x.cose"), 1);
  assert_non_null(strstr(out, "\"valid\":false"));
  assert_non_null(strstr(out, "signature does not verify with this key"));
  assert_non_null(strstr(out, f->kp.secure_id)); /* the message names the key that signed it */
  assert_null(strstr(out, "\"payload\""));
  free(out);
  free(err);
  assert_int_equal(sh(f, &out, &err, "\"$NB\" cose verify --key dev.spki.der --sub meter-9 x.cose"),
                   1);
  assert_non_null(strstr(out, "sub is \\\"meter-7\\\", expected \\\"meter-9\\\""));
  free(out);
  free(err);
  assert_int_equal(sh(f, &out, &err, "\"$NB\" cose verify --key dev.spki.der --cti 01 x.cose"), 1);
  assert_non_null(strstr(out, "cti is \\\"(none)\\\""));
  free(out);
  free(err);
}

static void test_bad_files(void **state) {
  fixture *f = *state;
  char *out, *err;
  assert_int_equal(sh(f, &out, &err,
                      "\"$NB\" cose sign --key dev.key.pem -f 112 data.cbor ok.cose && "
                      "head -c 30 ok.cose > trunc.cose && printf 'hello world' > text && "
                      "head -c 2000000 /dev/zero > huge && printf '\\204\\100\\240\\366' > "
                      "garbage && : > empty"),
                   0);
  free(out);
  free(err);
  assert_int_equal(sh(f, &out, &err,
                      "\"$NB\" cose verify --key dev.spki.der ok.cose trunc.cose text huge "
                      "garbage empty missing"),
                   1);
  assert_non_null(strstr(out, "{\"file\":\"ok.cose\",\"valid\":true"));
  assert_non_null(strstr(out,
                         "{\"file\":\"trunc.cose\",\"valid\":false,\"error\":\"not a "
                         "COSE_Sign1: malformed CBOR or structure\"}"));
  assert_non_null(strstr(out,
                         "{\"file\":\"text\",\"valid\":false,\"error\":\"text that is not "
                         "valid base64"));
  assert_non_null(strstr(out, "{\"file\":\"huge\",\"valid\":false,\"error\":\"larger than 1024"));
  assert_non_null(strstr(out, "{\"file\":\"garbage\",\"valid\":false,\"error\":\"unsupported"));
  assert_non_null(strstr(out, "{\"file\":\"empty\",\"valid\":false,\"error\":\"empty input\"}"));
  assert_non_null(strstr(out, "{\"file\":\"missing\",\"valid\":false,\"error\":\"cannot open"));
  free(out);
  free(err);
}

static void test_usage(void **state) {
  fixture *f = *state;
  char *out, *err;
  assert_int_equal(sh(f, &out, &err, "\"$NB\" cose --help"), 0);
  assert_non_null(strstr(out, "Examples:"));
  assert_non_null(strstr(out, "A secure ID is NOT enough"));
  free(out);
  free(err);
  static const char *const usage[] = {
      "\"$NB\" cose",
      "\"$NB\" cose check x",
      "\"$NB\" cose verify x.cose",                             /* no --key */
      "\"$NB\" cose verify --key dev.spki.der",                 /* no file */
      "\"$NB\" cose verify --key dev.spki.der --iat 3 x",       /* a sign option */
      "\"$NB\" cose verify --key dev.spki.der --cti 0g x",      /* bad hex */
      "\"$NB\" cose verify --key data.cbor x",                  /* not a key */
      "\"$NB\" cose verify --key /dev/null x",                  /* an empty key file */
      "\"$NB\" cose sign --key dev.key.pem data.cbor out",      /* no --content-format */
      "\"$NB\" cose sign --key dev.key.pem -f xml data.cbor o", /* unknown format */
      "\"$NB\" cose sign --key dev.key.pem -f 112 data.cbor",   /* no OUT */
      "\"$NB\" cose sign --key dev.spki.der -f 112 data.cbor o" /* a public key cannot sign */
  };
  for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
    int rc = sh(f, &out, &err, "%s", usage[i]);
    if (rc != 2) fail_msg("'%s' exited %d, expected 2 (%s)", usage[i], rc, err);
    assert_true(strlen(err) > 0);
    free(out);
    free(err);
  }
  assert_int_equal(sh(f, &out, &err, "\"$NB\" cose verify --key %s x", f->kp.secure_id), 2);
  assert_non_null(strstr(err, "looks like a secure ID"));
  free(out);
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_secret_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrong_key_and_claims, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
      cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
