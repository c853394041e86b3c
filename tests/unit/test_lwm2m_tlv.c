/* LwM2M TLV (11542): the specification's examples byte for byte (Device, Access Control, Server,
 * the Objlnk objects 65/66), every identifier and length form, every value type and width in both
 * directions, empty containers, and each malformed or mistyped input rejected with 4.00. */
#include "lwm2m_fmt_testutil.h"

#include "lwm2m/tlv.h"

#define CF NB_COAP_CF_LWM2M_TLV

/* LwM2M 1.0/1.1 TS Core, "Single Object Instance Request Example": Read /3/0. */
static const char *const DEVICE_HEX =
    "C8 00 14 4F 70 65 6E 20 4D 6F 62 69 6C 65 20 41 6C 6C 69 61 6E 63 65"
    "C8 01 16 4C 69 67 68 74 77 65 69 67 68 74 20 4D 32 4D 20 43 6C 69 65 6E 74"
    "C8 02 09 33 34 35 30 30 30 31 32 33"
    "C3 03 31 2E 30"
    "86 06 41 00 01 41 01 05"
    "88 07 08 42 00 0E D8 42 01 13 88"
    "87 08 41 00 7D 42 01 03 84"
    "C1 09 64"
    "C1 0A 0F"
    "83 0B 41 00 00"
    "C4 0D 51 82 42 8F"
    "C6 0E 2B 30 32 3A 30 30"
    "C1 10 55";

/* "Multiple Object Instance Request Example" A: Access Control /2 (the published 86 of the
 * second ACL container is an erratum: its content is 7 bytes, 87). */
static const char *const ACL_HEX =
    "08 00 0E C1 00 01 C1 01 00 83 02 41 7F 07 C1 03 7F"
    "08 02 12 C1 00 03 C1 01 00 87 02 41 7F 07 61 01 36 01 C1 03 7F";

/* Example C: Server /1 (the published length 0D is an erratum for 0F). */
static const char *const SERVER_HEX = "08 00 0F C1 00 01 C4 01 00 01 51 80 C1 06 01 C1 07 55";

/* Objlnk examples: object 65 instance 0 and object 66 with two instances. */
static const char *const OBJ65_HEX =
    "88 00 0C 44 00 00 42 00 00 44 01 00 42 00 01"
    "C8 01 0D 38 36 31 33 38 30 30 37 35 35 35 30 30"
    "C4 02 12 34 56 78";
static const char *const OBJ66_HEX =
    "08 00 26 C8 00 0B 6D 79 53 65 72 76 69 63 65 20 31"
    "C8 01 0F 49 6E 74 65 72 6E 65 74 2E 31 35 2E 32 33 34 C4 02 00 43 00 00"
    "08 01 26 C8 00 0B 6D 79 53 65 72 76 69 63 65 20 32"
    "C8 01 0F 49 6E 74 65 72 6E 65 74 2E 31 35 2E 32 33 35 C4 02 FF FF FF FF";

static nb_model *model;

static int setup(void **state) {
  (void)state;
  model = t_model();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  nb_model_free(model);
  return 0;
}

static void decode_hex_ok(const char *hex, const char *base, nb_records *out) {
  size_t len;
  uint8_t *buf = t_hex(hex, &len);
  nb_format_error fe;
  nb_err e = t_decode(CF, buf, len, base, model, out, &fe);
  if (e != NB_OK) fprintf(stderr, "decode failed: %s\n", fe.reason);
  assert_int_equal(e, NB_OK);
  free(buf);
}

static void encode_expect_hex(const nb_records *in, const char *base, const char *hex) {
  nb_bytes b;
  nb_bytes_init(&b);
  nb_format_error fe;
  nb_err e = t_encode(CF, in, base, model, &b, &fe);
  if (e != NB_OK) fprintf(stderr, "encode failed: %s\n", fe.reason);
  assert_int_equal(e, NB_OK);
  t_assert_hex(&b, hex);
  nb_bytes_free(&b);
}

static void expect_device(const nb_records *r, const char *prefix) {
  char p[64];
#define P(s) (snprintf(p, sizeof p, "%s%s", prefix, s), p)
  assert_int_equal(r->len, 16);
  t_expect_str(r, P("/0"), "Open Mobile Alliance");
  t_expect_str(r, P("/1"), "Lightweight M2M Client");
  t_expect_str(r, P("/2"), "345000123");
  t_expect_str(r, P("/3"), "1.0");
  t_expect_int(r, P("/6/0"), 1);
  t_expect_int(r, P("/6/1"), 5);
  t_expect_int(r, P("/7/0"), 3800);
  t_expect_int(r, P("/7/1"), 5000);
  t_expect_int(r, P("/8/0"), 125);
  t_expect_int(r, P("/8/1"), 900);
  t_expect_int(r, P("/9"), 100);
  t_expect_int(r, P("/10"), 15);
  t_expect_int(r, P("/11/0"), 0);
  t_expect_time(r, P("/13"), 1367491215);
  t_expect_str(r, P("/14"), "+02:00");
  t_expect_str(r, P("/16"), "U");
#undef P
}

static void test_spec_device(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  decode_hex_ok(DEVICE_HEX, "/3/0", &r);
  expect_device(&r, "/3/0");
  encode_expect_hex(&r, "/3/0", DEVICE_HEX);
  /* The same instance read as an object: one object instance TLV of 0x79 bytes. */
  char wrapped[1024];
  snprintf(wrapped, sizeof wrapped, "08 00 79 %s", DEVICE_HEX);
  encode_expect_hex(&r, "/3", wrapped);
  nb_records_deinit(&r);

  nb_records_init(&r);
  decode_hex_ok(wrapped, "/3", &r);
  expect_device(&r, "/3/0");
  nb_records_deinit(&r);
  /* Write on /3/0 may also carry the object instance TLV itself. */
  nb_records_init(&r);
  decode_hex_ok(wrapped, "/3/0", &r);
  expect_device(&r, "/3/0");
  nb_records_deinit(&r);
}

static void test_spec_acl_server(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  decode_hex_ok(ACL_HEX, "/2", &r);
  assert_int_equal(r.len, 9);
  t_expect_int(&r, "/2/0/0", 1);
  t_expect_int(&r, "/2/0/1", 0);
  t_expect_int(&r, "/2/0/2/127", 7);
  t_expect_int(&r, "/2/0/3", 127);
  t_expect_int(&r, "/2/2/0", 3);
  t_expect_int(&r, "/2/2/2/127", 7);
  t_expect_int(&r, "/2/2/2/310", 1); /* 16-bit resource instance identifier */
  t_expect_int(&r, "/2/2/3", 127);
  encode_expect_hex(&r, "/2", ACL_HEX);
  nb_records_deinit(&r);

  nb_records_init(&r);
  decode_hex_ok(SERVER_HEX, "/1", &r);
  assert_int_equal(r.len, 4);
  t_expect_int(&r, "/1/0/0", 1);
  t_expect_int(&r, "/1/0/1", 86400);
  assert_true(t_get(&r, "/1/0/6")->v.b);
  t_expect_str(&r, "/1/0/7", "U");
  encode_expect_hex(&r, "/1", SERVER_HEX);
  nb_records_deinit(&r);

  /* The published erratum (86 instead of 87) must be rejected, not misread. */
  t_reject_hex(CF, "08 02 12 C1 00 03 C1 01 00 86 02 41 7F 07 61 01 36 01 C1 03 7F", "/2", model,
               NB_COAP_BAD_REQUEST);
}

static void test_spec_objlnk(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  decode_hex_ok(OBJ65_HEX, "/65/0", &r);
  assert_int_equal(r.len, 4);
  const nb_value *v = t_get(&r, "/65/0/0/0");
  assert_int_equal(v->type, NB_VT_OBJLNK);
  assert_int_equal(v->v.lnk.obj, 66);
  assert_int_equal(v->v.lnk.inst, 0);
  assert_int_equal(t_get(&r, "/65/0/0/1")->v.lnk.inst, 1);
  t_expect_str(&r, "/65/0/1", "8613800755500");
  t_expect_int(&r, "/65/0/2", 305419896);
  encode_expect_hex(&r, "/65/0", OBJ65_HEX);
  nb_records_deinit(&r);

  nb_records_init(&r);
  decode_hex_ok(OBJ66_HEX, "/66", &r);
  assert_int_equal(r.len, 6);
  t_expect_str(&r, "/66/0/0", "myService 1");
  t_expect_str(&r, "/66/1/1", "Internet.15.235");
  assert_int_equal(t_get(&r, "/66/0/2")->v.lnk.obj, 67);
  v = t_get(&r, "/66/1/2"); /* the null link 65535:65535 */
  assert_int_equal(v->v.lnk.obj, 65535);
  assert_int_equal(v->v.lnk.inst, 65535);
  encode_expect_hex(&r, "/66", OBJ66_HEX);
  nb_records_deinit(&r);
}

static void test_single_and_multiple_paths(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  t_add(&r, "/3/0/7/0", nb_value_int(3800));
  t_add(&r, "/3/0/7/1", nb_value_int(5000));
  /* Read /3/0/7: the multiple resource TLV of the specification example. */
  encode_expect_hex(&r, "/3/0/7", "88 07 08 42 00 0E D8 42 01 13 88");
  nb_records_deinit(&r);

  const char *forms[] = {"88 07 08 42 00 0E D8 42 01 13 88", "42 00 0E D8 42 01 13 88"};
  for (int k = 0; k < 2; k++) {
    nb_records_init(&r);
    decode_hex_ok(forms[k], "/3/0/7", &r);
    assert_int_equal(r.len, 2);
    t_expect_int(&r, "/3/0/7/1", 5000);
    nb_records_deinit(&r);
  }
  nb_records_init(&r);
  decode_hex_ok("42 01 13 88", "/3/0/7/1", &r);
  t_expect_int(&r, "/3/0/7/1", 5000);
  encode_expect_hex(&r, "/3/0/7/1", "42 01 13 88");
  nb_records_deinit(&r);

  nb_records_init(&r);
  decode_hex_ok("C1 09 64", "/3/0/9", &r);
  t_expect_int(&r, "/3/0/9", 100);
  encode_expect_hex(&r, "/3/0/9", "C1 09 64");
  nb_records_deinit(&r);
}

/* Each value and the exact bytes the encoder must pick for it under /65000/0. */
static void expect_value_bytes(nb_value v, uint16_t res, const char *hex) {
  nb_records r, back;
  nb_records_init(&r);
  nb_records_init(&back);
  char path[32];
  snprintf(path, sizeof path, "/65000/0/%u", (unsigned)res);
  t_add(&r, path, v);
  encode_expect_hex(&r, "/65000/0", hex);
  decode_hex_ok(hex, "/65000/0", &back);
  t_assert_same(&r, &back);
  nb_records_deinit(&r);
  nb_records_deinit(&back);
}

static void test_widths(void **state) {
  (void)state;
  expect_value_bytes(nb_value_int(0), T_INT, "C1 00 00");
  expect_value_bytes(nb_value_int(127), T_INT, "C1 00 7F");
  expect_value_bytes(nb_value_int(128), T_INT, "C2 00 00 80");
  expect_value_bytes(nb_value_int(-128), T_INT, "C1 00 80");
  expect_value_bytes(nb_value_int(-129), T_INT, "C2 00 FF 7F");
  expect_value_bytes(nb_value_int(32767), T_INT, "C2 00 7F FF");
  expect_value_bytes(nb_value_int(32768), T_INT, "C4 00 00 00 80 00");
  expect_value_bytes(nb_value_int(-2147483648LL), T_INT, "C4 00 80 00 00 00");
  expect_value_bytes(nb_value_int(2147483648LL), T_INT, "C8 00 08 00 00 00 00 80 00 00 00");
  expect_value_bytes(nb_value_int(INT64_MIN), T_INT, "C8 00 08 80 00 00 00 00 00 00 00");
  expect_value_bytes(nb_value_int(INT64_MAX), T_INT, "C8 00 08 7F FF FF FF FF FF FF FF");
  expect_value_bytes(nb_value_uint(255), T_UINT, "C1 01 FF");
  expect_value_bytes(nb_value_uint(256), T_UINT, "C2 01 01 00");
  expect_value_bytes(nb_value_uint(65536), T_UINT, "C4 01 00 01 00 00");
  expect_value_bytes(nb_value_uint(4294967296ULL), T_UINT, "C8 01 08 00 00 00 01 00 00 00 00");
  expect_value_bytes(nb_value_uint(UINT64_MAX), T_UINT, "C8 01 08 FF FF FF FF FF FF FF FF");
  expect_value_bytes(nb_value_float(1.5), T_FLOAT, "C4 02 3F C0 00 00");
  expect_value_bytes(nb_value_float(-0.0), T_FLOAT, "C4 02 80 00 00 00");
  expect_value_bytes(nb_value_float(INFINITY), T_FLOAT, "C4 02 7F 80 00 00");
  expect_value_bytes(nb_value_float(0.1), T_FLOAT, "C8 02 08 3F B9 99 99 99 99 99 9A");
  expect_value_bytes(nb_value_float(1e300), T_FLOAT, "C8 02 08 7E 37 E4 3C 88 00 75 9C");
  expect_value_bytes(nb_value_bool(true), T_BOOL, "C1 03 01");
  expect_value_bytes(nb_value_bool(false), T_BOOL, "C1 03 00");
  expect_value_bytes(nb_value_time(-1), T_TIME, "C1 06 FF");
  expect_value_bytes(nb_value_time(1367491215), T_TIME, "C4 06 51 82 42 8F");
  expect_value_bytes(nb_value_objlnk(3, 65535), T_OBJLNK, "C4 07 00 03 FF FF");
  /* A float read back from 4 bytes is the float's exact value. */
  nb_records r;
  nb_records_init(&r);
  decode_hex_ok("C4 02 3D CC CC CD", "/65000/0", &r);
  assert_true(t_get(&r, "/65000/0/2")->v.f == (double)0.1f);
  nb_records_deinit(&r);
}

/* Length fields: in the type byte (0-7), 8, 16 and 24 bits; 8- and 16-bit identifiers. */
static void test_lengths_and_ids(void **state) {
  (void)state;
  static const size_t sizes[] = {0, 1, 7, 8, 255, 256, 65535, 65536, 70000};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    size_t n = sizes[k];
    uint8_t *data = malloc(n + 1);
    assert_non_null(data);
    for (size_t j = 0; j < n; j++) data[j] = (uint8_t)(j * 31 + 7);
    nb_records r, back;
    nb_records_init(&r);
    nb_records_init(&back);
    t_add_opaque(&r, "/65000/0/5", data, n);
    t_add_opaque(&r, "/65000/0/300", data, n); /* undefined resource: stays OPAQUE */
    nb_bytes b;
    nb_bytes_init(&b);
    nb_format_error fe;
    assert_int_equal(t_encode(CF, &r, "/65000/0", model, &b, &fe), NB_OK);
    size_t hdr = n < 8 ? 2 : n < 256 ? 3 : n < 65536 ? 4 : 5;
    assert_int_equal(b.len, 2 * (hdr + n) + 1); /* id 300 takes one more byte */
    uint8_t lol = n < 8 ? 0 : n < 256 ? 1 : n < 65536 ? 2 : 3;
    assert_int_equal(b.data[0], 0xC0 | (lol << 3) | (n < 8 ? n : 0));
    assert_int_equal(b.data[hdr + n], 0xE0 | (lol << 3) | (n < 8 ? n : 0));
    assert_int_equal(b.data[hdr + n + 1], 0x01);
    assert_int_equal(b.data[hdr + n + 2], 0x2C);
    assert_int_equal(t_decode(CF, b.data, b.len, "/65000/0", model, &back, &fe), NB_OK);
    t_assert_same(&r, &back);
    nb_bytes_free(&b);
    nb_records_deinit(&r);
    nb_records_deinit(&back);
    free(data);
  }
}

static void test_all_types_round_trip(void **state) {
  (void)state;
  nb_records r, back;
  nb_records_init(&r);
  nb_records_init(&back);
  static const uint8_t blob[] = {0, 1, 2, 0xff};
  for (int inst = 0; inst < 2; inst++) {
    char p[64];
#define P(fmt, ...) (snprintf(p, sizeof p, fmt, __VA_ARGS__), p)
    t_add(&r, P("/65000/%d/0", inst), nb_value_int(-5 - inst));
    t_add(&r, P("/65000/%d/1", inst), nb_value_uint(5000000000ULL));
    t_add(&r, P("/65000/%d/2", inst), nb_value_float(-2.75));
    t_add(&r, P("/65000/%d/3", inst), nb_value_bool(true));
    t_add_str(&r, P("/65000/%d/4", inst), inst ? "" : "h\xc3\xa9llo");
    t_add_opaque(&r, P("/65000/%d/5", inst), blob, sizeof blob);
    t_add(&r, P("/65000/%d/6", inst), nb_value_time(1700000000));
    t_add(&r, P("/65000/%d/7", inst), nb_value_objlnk(3, 0));
    t_add_corelnk(&r, P("/65000/%d/8", inst), "</3/0>;ver=1.1");
    for (int ri = 0; ri < 3; ri++) {
      uint16_t rix = (uint16_t)(ri * 200); /* 0, 200, 400: 8- and 16-bit ids */
      t_add(&r, P("/65000/%d/10/%u", inst, rix), nb_value_int(-ri));
      t_add(&r, P("/65000/%d/11/%u", inst, rix), nb_value_uint((uint64_t)ri << 40));
      t_add(&r, P("/65000/%d/12/%u", inst, rix), nb_value_float(ri + 0.5));
      t_add(&r, P("/65000/%d/13/%u", inst, rix), nb_value_bool(ri & 1));
      t_add_str(&r, P("/65000/%d/14/%u", inst, rix), "x");
      t_add_opaque(&r, P("/65000/%d/15/%u", inst, rix), blob, (size_t)ri);
      t_add(&r, P("/65000/%d/16/%u", inst, rix), nb_value_time(ri));
      t_add(&r, P("/65000/%d/17/%u", inst, rix), nb_value_objlnk(1, (uint16_t)ri));
      t_add_corelnk(&r, P("/65000/%d/18/%u", inst, rix), "</1>");
    }
#undef P
  }
  nb_bytes b;
  nb_bytes_init(&b);
  nb_format_error fe;
  assert_int_equal(t_encode(CF, &r, "/65000", model, &b, &fe), NB_OK);
  assert_int_equal(t_decode(CF, b.data, b.len, "/65000", model, &back, &fe), NB_OK);
  t_assert_same(&r, &back);
  /* Encoding is deterministic whatever the input order. */
  nb_records_sort(&back);
  nb_bytes b2;
  nb_bytes_init(&b2);
  assert_int_equal(t_encode(CF, &back, "/65000", model, &b2, &fe), NB_OK);
  t_assert_bytes(&b2, b.data, b.len);
  nb_bytes_free(&b2);
  nb_bytes_free(&b);
  nb_records_deinit(&back);
  /* Without definitions every value comes back as the raw OPAQUE bytes. */
  nb_records_init(&back);
  nb_bytes_init(&b);
  assert_int_equal(t_encode(CF, &r, "/65000", NULL, &b, &fe), NB_OK);
  assert_int_equal(t_decode(CF, b.data, b.len, "/65000", NULL, &back, &fe), NB_OK);
  assert_int_equal(back.len, r.len);
  const nb_value *raw = t_get(&back, "/65000/0/0");
  assert_int_equal(raw->type, NB_VT_OPAQUE);
  assert_int_equal(raw->v.bytes.len, 1);
  assert_int_equal(raw->v.bytes.data[0], 0xFB); /* -5 */
  nb_bytes_free(&b);
  nb_records_deinit(&back);
  nb_records_deinit(&r);
}

/* Instances whose resources share ids stay apart (the last resource of one instance and the
 * first of the next are the same resource id here). */
static void test_instances_apart(void **state) {
  (void)state;
  nb_records r, back;
  nb_records_init(&r);
  nb_records_init(&back);
  t_add(&r, "/65000/0/0", nb_value_int(1));
  t_add(&r, "/65000/1/0", nb_value_int(2));
  t_add(&r, "/65000/2/10/0", nb_value_int(3));
  t_add(&r, "/65000/3/10/0", nb_value_int(4));
  encode_expect_hex(&r, "/65000",
                    "03 00 C1 00 01 03 01 C1 00 02 05 02 83 0A 41 00 03 05 03 83 0A 41 00 04");
  decode_hex_ok("03 00 C1 00 01 03 01 C1 00 02 05 02 83 0A 41 00 03 05 03 83 0A 41 00 04", "/65000",
                &back);
  t_assert_same(&r, &back);
  nb_records_deinit(&back);
  nb_records_deinit(&r);
}

static void test_empty_containers(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  decode_hex_ok("", "/3/0", &r);
  assert_int_equal(r.len, 0);
  /* An object instance without resources and a multiple resource without instances. */
  decode_hex_ok("08 05 00 08 06 02 80 0B", "/3", &r);
  assert_int_equal(r.len, 2);
  assert_int_equal(t_get(&r, "/3/5")->type, NB_VT_NONE);
  assert_int_equal(t_get(&r, "/3/6/11")->type, NB_VT_NONE);
  /* Lengths below 8 go in the type byte: the encoder's form is the shortest. */
  encode_expect_hex(&r, "/3", "00 05 02 06 80 0B");
  nb_records_deinit(&r);
  /* A multiple resource marker cannot sit on a single-instance resource. */
  t_reject_hex(CF, "80 09", "/3/0", model, NB_COAP_BAD_REQUEST);
}

static void test_reject_malformed(void **state) {
  (void)state;
  const char *bad[] = {
      "C8",                   /* header cut before the identifier */
      "C8 00",                /* 8-bit length missing */
      "E8 00",                /* 16-bit identifier cut */
      "D0 00 00",             /* 16-bit length cut */
      "D8 00 00 00",          /* 24-bit length cut */
      "C8 00 14 41",          /* value shorter than its length */
      "C3 00 41 42",          /* length in the type byte past the end */
      "08 00 FF C1 00 01",    /* container longer than the payload */
      "08 00 02 C1 00 01",    /* child runs past its container */
      "88 07 03 42 00 0E D8", /* resource instance runs past the multiple resource */
      "D8 00 FF FF FF 00",    /* 24-bit length of 16 MiB with one byte present */
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    t_reject_hex(CF, bad[k], "/3/0", model, NB_COAP_BAD_REQUEST);
  }
  t_reject_hex(CF, "08 00 03 08 01 00", "/3", model,
               NB_COAP_BAD_REQUEST); /* instance in instance */
  t_reject_hex(CF, "08 00 03 41 00 01", "/3", model,
               NB_COAP_BAD_REQUEST);                                      /* res inst in instance */
  t_reject_hex(CF, "86 06 C1 00 01", "/3/0", model, NB_COAP_BAD_REQUEST); /* resource in multiple */
}

static void test_reject_identifiers(void **state) {
  (void)state;
  t_reject_hex(CF, "41 00 01", "/3/0", model, NB_COAP_BAD_REQUEST); /* res instance at top */
  t_reject_hex(CF, "C1 09 64", "/3", model, NB_COAP_BAD_REQUEST);   /* resource under /o */
  t_reject_hex(CF, "08 01 03 C1 09 64", "/3/0", model, NB_COAP_BAD_REQUEST);   /* other instance */
  t_reject_hex(CF, "C1 0A 0F", "/3/0/9", model, NB_COAP_BAD_REQUEST);          /* other resource */
  t_reject_hex(CF, "41 02 05", "/3/0/7/1", model, NB_COAP_BAD_REQUEST);        /* other instance */
  t_reject_hex(CF, "08 00 03 C1 09 64", "/3/0/9", model, NB_COAP_BAD_REQUEST); /* too high */
  t_reject_hex(CF, "E1 FF FF 01", "/3/0", model, NB_COAP_BAD_REQUEST);         /* id 65535 */
  t_reject_hex(CF, "28 FF FF 00", "/3", model, NB_COAP_BAD_REQUEST);           /* instance 65535 */
  /* TLV cannot say which object a root-level payload is about. */
  t_reject_hex(CF, "C1 09 64", "/", model, NB_COAP_UNSUPPORTED_CONTENT_FORMAT);
}

static void test_reject_mistyped(void **state) {
  (void)state;
  t_reject_hex(CF, "C3 09 00 00 64", "/3/0", model, NB_COAP_BAD_REQUEST);     /* 3-byte integer */
  t_reject_hex(CF, "C0 09", "/3/0", model, NB_COAP_BAD_REQUEST);              /* empty integer */
  t_reject_hex(CF, "C2 03 00 01", "/65000/0", model, NB_COAP_BAD_REQUEST);    /* 2-byte boolean */
  t_reject_hex(CF, "C1 03 02", "/65000/0", model, NB_COAP_BAD_REQUEST);       /* boolean 2 */
  t_reject_hex(CF, "C2 02 3F C0", "/65000/0", model, NB_COAP_BAD_REQUEST);    /* 2-byte float */
  t_reject_hex(CF, "C3 07 00 03 00", "/65000/0", model, NB_COAP_BAD_REQUEST); /* 3-byte objlnk */
  t_reject_hex(CF, "C5 01 00 00 00 00 01", "/65000/0", model,
               NB_COAP_BAD_REQUEST);                                          /* 5-byte uint */
  t_reject_hex(CF, "C2 04 C3 28", "/65000/0", model, NB_COAP_BAD_REQUEST);    /* invalid UTF-8 */
  t_reject_hex(CF, "C3 04 61 00 62", "/65000/0", model, NB_COAP_BAD_REQUEST); /* NUL in string */
  t_reject_hex(CF, "C1 06 01", "/3/0", model, NB_COAP_BAD_REQUEST);       /* multiple as single */
  t_reject_hex(CF, "83 09 41 00 64", "/3/0", model, NB_COAP_BAD_REQUEST); /* single as multiple */
  t_reject_hex(CF, "C1 09 64 C1 09 65", "/3/0", model, NB_COAP_BAD_REQUEST); /* duplicate */
  t_reject_hex(CF, "83 07 41 00 01 83 07 41 00 02", "/3/0", model, NB_COAP_BAD_REQUEST);
  t_reject_hex(CF, "C1 63 01 83 63 41 00 02", "/3/0", NULL, NB_COAP_BAD_REQUEST); /* both forms */
}

static void test_encode_refusals(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  t_add(&r, "/3/0/9", nb_value_int(1));
  nb_bytes b;
  nb_bytes_init(&b);
  nb_bytes_append(&b, "keep", 4);
  nb_format_error fe;
  assert_int_not_equal(t_encode(CF, &r, "/", model, &b, &fe), NB_OK);
  assert_int_equal(fe.code, NB_COAP_NOT_ACCEPTABLE);
  assert_int_not_equal(t_encode(CF, &r, "/4", model, &b, &fe), NB_OK); /* outside the base */
  assert_int_equal(fe.code, NB_COAP_INTERNAL_SERVER_ERROR);
  t_add(&r, "/3/0/9", nb_value_int(2));
  assert_int_not_equal(t_encode(CF, &r, "/3/0", model, &b, &fe), NB_OK); /* duplicate */
  nb_records_deinit(&r);
  nb_records_init(&r);
  t_add_str(&r, "/3/0/0", "\xff");
  assert_int_not_equal(t_encode(CF, &r, "/3/0", model, &b, &fe), NB_OK); /* not UTF-8 */
  assert_int_equal(b.len, 4); /* nothing appended by the failures */
  nb_bytes_free(&b);
  nb_records_deinit(&r);
}

static void test_raw_reader(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = t_hex("E8 01 2C 03 61 62 63 C1 09 64", &len);
  nb_reader rd;
  nb_reader_init(&rd, buf, len);
  nb_tlv t;
  assert_int_equal(nb_tlv_read(&rd, &t), NB_OK);
  assert_int_equal(t.type, NB_TLV_RESOURCE);
  assert_int_equal(t.id, 300);
  assert_int_equal(t.len, 3);
  assert_memory_equal(t.value, "abc", 3);
  assert_int_equal(nb_tlv_read(&rd, &t), NB_OK);
  assert_int_equal(t.id, 9);
  assert_int_equal(nb_tlv_read(&rd, &t), NB_ERR_TRUNCATED);
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spec_device),
      cmocka_unit_test(test_spec_acl_server),
      cmocka_unit_test(test_spec_objlnk),
      cmocka_unit_test(test_single_and_multiple_paths),
      cmocka_unit_test(test_widths),
      cmocka_unit_test(test_lengths_and_ids),
      cmocka_unit_test(test_all_types_round_trip),
      cmocka_unit_test(test_instances_apart),
      cmocka_unit_test(test_empty_containers),
      cmocka_unit_test(test_reject_malformed),
      cmocka_unit_test(test_reject_identifiers),
      cmocka_unit_test(test_reject_mistyped),
      cmocka_unit_test(test_encode_refusals),
      cmocka_unit_test(test_raw_reader),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
