/* SenML JSON (110) and SenML CBOR (112): the LwM2M 1.1 Device example both ways byte for byte,
 * hand-assembled CBOR vectors, base fields (bn changing mid-payload, bt, bv), every type,
 * timestamps, path lists (Read-Composite), and rejections of malformed input: invalid JSON, wrong
 * JSON types and CBOR major types, truncation at every byte, duplicates, bad base64url. */
#include "lwm2m_fmt_testutil.h"

#define SJ NB_COAP_CF_SENML_JSON
#define SC NB_COAP_CF_SENML_CBOR

/* LwM2M 1.1 TS Core, SenML JSON Read /3/0 example, as this encoder writes it. */
static const char *const DEVICE_SENML =
    "[{\"bn\":\"/3/0/\",\"n\":\"0\",\"vs\":\"Open Mobile Alliance\"},"
    "{\"n\":\"1\",\"vs\":\"Lightweight M2M Client\"},"
    "{\"n\":\"2\",\"vs\":\"345000123\"},"
    "{\"n\":\"3\",\"vs\":\"1.0\"},"
    "{\"n\":\"6/0\",\"v\":1},"
    "{\"n\":\"6/1\",\"v\":5},"
    "{\"n\":\"7/0\",\"v\":3800},"
    "{\"n\":\"7/1\",\"v\":5000},"
    "{\"n\":\"8/0\",\"v\":125},"
    "{\"n\":\"8/1\",\"v\":900},"
    "{\"n\":\"9\",\"v\":100},"
    "{\"n\":\"10\",\"v\":15},"
    "{\"n\":\"11/0\",\"v\":0},"
    "{\"n\":\"13\",\"v\":1367491215},"
    "{\"n\":\"14\",\"vs\":\"+02:00\"},"
    "{\"n\":\"16\",\"vs\":\"U\"}]";

/* The same records in SenML CBOR, assembled by hand from RFC 8428 section 6 (labels bn -2 = 0x21,
 * n 0, v 2, vs 3). */
static const char *const DEVICE_CBOR =
    "90"                                                                /* array(16) */
    "A3 21 65 2F 33 2F 30 2F 00 61 30"                                  /* {bn:"/3/0/", n:"0", */
    "03 74 4F 70 65 6E 20 4D 6F 62 69 6C 65 20 41 6C 6C 69 61 6E 63 65" /* vs:"Open..."} */
    "A2 00 61 31 03 76 4C 69 67 68 74 77 65 69 67 68 74 20 4D 32 4D 20 43 6C 69 65 6E 74"
    "A2 00 61 32 03 69 33 34 35 30 30 30 31 32 33"
    "A2 00 61 33 03 63 31 2E 30"
    "A2 00 63 36 2F 30 02 01"
    "A2 00 63 36 2F 31 02 05"
    "A2 00 63 37 2F 30 02 19 0E D8"
    "A2 00 63 37 2F 31 02 19 13 88"
    "A2 00 63 38 2F 30 02 18 7D"
    "A2 00 63 38 2F 31 02 19 03 84"
    "A2 00 61 39 02 18 64"
    "A2 00 62 31 30 02 0F"
    "A2 00 64 31 31 2F 30 02 00"
    "A2 00 62 31 33 02 1A 51 82 42 8F"
    "A2 00 62 31 34 03 66 2B 30 32 3A 30 30"
    "A2 00 62 31 36 03 61 55";

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

static void decode_json(const char *json, const char *base, const nb_model *m, nb_records *r) {
  nb_format_error fe;
  nb_err e = t_decode(SJ, json, strlen(json), base, m, r, &fe);
  if (e != NB_OK) fprintf(stderr, "decode failed: %s\n", fe.reason);
  assert_int_equal(e, NB_OK);
}

static void decode_cbor(const char *hex, const char *base, const nb_model *m, nb_records *r) {
  size_t len;
  uint8_t *buf = t_hex(hex, &len);
  nb_format_error fe;
  nb_err e = t_decode(SC, buf, len, base, m, r, &fe);
  if (e != NB_OK) fprintf(stderr, "decode failed: %s\n", fe.reason);
  assert_int_equal(e, NB_OK);
  free(buf);
}

static void expect_device(const nb_records *r) {
  assert_int_equal(r->len, 16);
  t_expect_str(r, "/3/0/0", "Open Mobile Alliance");
  t_expect_str(r, "/3/0/1", "Lightweight M2M Client");
  t_expect_int(r, "/3/0/6/1", 5);
  t_expect_int(r, "/3/0/7/0", 3800);
  t_expect_int(r, "/3/0/8/1", 900);
  t_expect_int(r, "/3/0/9", 100);
  t_expect_int(r, "/3/0/11/0", 0);
  t_expect_time(r, "/3/0/13", 1367491215);
  t_expect_str(r, "/3/0/16", "U");
}

static void test_device_json(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  decode_json(DEVICE_SENML, "/3/0", model, &r);
  expect_device(&r);
  nb_bytes b;
  nb_bytes_init(&b);
  nb_format_error fe;
  assert_int_equal(t_encode(SJ, &r, "/3/0", model, &b, &fe), NB_OK);
  t_assert_text(&b, DEVICE_SENML);
  nb_bytes_free(&b);
  nb_records_deinit(&r);
  /* Absolute names under "/" (Send, Read-Composite): no bn at all. */
  nb_records_init(&r);
  decode_json("[{\"n\":\"/3/0/9\",\"v\":100},{\"n\":\"/1/0/1\",\"v\":300}]", "/", model, &r);
  t_expect_int(&r, "/1/0/1", 300);
  nb_bytes_init(&b);
  assert_int_equal(t_encode(SJ, &r, "/", model, &b, &fe), NB_OK);
  t_assert_text(&b, "[{\"n\":\"/3/0/9\",\"v\":100},{\"n\":\"/1/0/1\",\"v\":300}]");
  nb_bytes_free(&b);
  nb_records_deinit(&r);
  /* A single resource: bn is its path, no n (LwM2M 1.1 example of Read /3/0/0). */
  nb_records_init(&r);
  decode_json("[{\"bn\":\"/3/0/0\",\"vs\":\"Open Mobile Alliance\"}]", "/3/0/0", model, &r);
  nb_bytes_init(&b);
  assert_int_equal(t_encode(SJ, &r, "/3/0/0", model, &b, &fe), NB_OK);
  t_assert_text(&b, "[{\"bn\":\"/3/0/0\",\"vs\":\"Open Mobile Alliance\"}]");
  nb_bytes_free(&b);
  nb_records_deinit(&r);
}

static void test_device_cbor(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  decode_cbor(DEVICE_CBOR, "/3/0", model, &r);
  expect_device(&r);
  nb_bytes b;
  nb_bytes_init(&b);
  nb_format_error fe;
  assert_int_equal(t_encode(SC, &r, "/3/0", model, &b, &fe), NB_OK);
  t_assert_hex(&b, DEVICE_CBOR);
  nb_bytes_free(&b);
  nb_records_deinit(&r);
  /* Indefinite-length array and maps, labels in any order, unknown labels skipped (u, s with
   * a nested array, a text label), negative-zero float time. */
  nb_records_init(&r);
  decode_cbor(
      "9F BF 02 18 64 01 63 43 65 6C 21 65 2F 33 2F 30 2F 00 61 39 FF"
      "A4 00 62 31 30 05 82 01 A1 01 02 63 66 6F 6F F6 02 0F FF",
      "/3/0", model, &r);
  assert_int_equal(r.len, 2);
  t_expect_int(&r, "/3/0/9", 100);
  t_expect_int(&r, "/3/0/10", 15);
  nb_records_deinit(&r);
}

static void test_base_fields(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  /* bn changes mid-payload (Leshan's ACL example); bv is added to v. */
  decode_json(
      "[{\"bn\":\"/2/3/\",\"n\":\"0\",\"v\":3},{\"n\":\"1\",\"v\":1},"
      "{\"bn\":\"/2/2/\",\"n\":\"0\",\"v\":4},{\"bv\":10,\"n\":\"1\",\"v\":2},"
      "{\"n\":\"3\",\"v\":-10}]",
      "/2", model, &r);
  t_expect_int(&r, "/2/3/0", 3);
  t_expect_int(&r, "/2/3/1", 1);
  t_expect_int(&r, "/2/2/0", 4);
  t_expect_int(&r, "/2/2/1", 12);
  t_expect_int(&r, "/2/2/3", 0);
  nb_records_deinit(&r);
  /* Relative names resolve against the request path. */
  nb_records_init(&r);
  decode_json("[{\"n\":\"6/0\",\"v\":1},{\"n\":\"9\",\"v\":2}]", "/3/0", model, &r);
  t_expect_int(&r, "/3/0/6/0", 1);
  nb_records_deinit(&r);
  nb_records_init(&r);
  decode_json("[]", "/3/0", model, &r);
  decode_json("", "/3/0", model, &r);
  decode_cbor("80", "/3/0", model, &r);
  decode_cbor("", "/3/0", model, &r);
  assert_int_equal(r.len, 0);
  nb_records_deinit(&r);
}

/* Every type, single and multiple, round trip through both representations. */
static void fill_all_types(nb_records *r, bool json) {
  static const uint8_t blob[] = {0xfb, 0xff, 0x00, 0x3e};
  t_add(r, "/65000/0/0", nb_value_int(INT64_MIN));
  /* jansson reads integers as int64: SenML JSON carries Unsigned values up to INT64_MAX only. */
  t_add(r, "/65000/0/1", nb_value_uint(json ? (uint64_t)INT64_MAX : UINT64_MAX));
  t_add(r, "/65000/0/2", nb_value_float(-1.25));
  t_add(r, "/65000/0/3", nb_value_bool(true));
  t_add_str(r, "/65000/0/4", "line\nbreak \"q\" \xe2\x82\xac");
  t_add_opaque(r, "/65000/0/5", blob, sizeof blob);
  t_add(r, "/65000/0/6", nb_value_time(-1));
  t_add(r, "/65000/0/7", nb_value_objlnk(65535, 65535));
  t_add_corelnk(r, "/65000/0/8", "</3/0>,</1/0>;ssid=101");
  t_add(r, "/65000/0/10/0", nb_value_int(1));
  t_add(r, "/65000/0/10/65534", nb_value_int(2));
  t_add(r, "/65000/0/12/1", nb_value_float(0.1));
  t_add_opaque(r, "/65000/0/15/2", blob, 0);
}

static void round_trip(int cf, const nb_records *r, const char *base, const nb_model *m) {
  nb_bytes b;
  nb_bytes_init(&b);
  nb_format_error fe;
  nb_err e = t_encode(cf, r, base, m, &b, &fe);
  if (e != NB_OK) fprintf(stderr, "encode: %s\n", fe.reason);
  assert_int_equal(e, NB_OK);
  nb_records back;
  nb_records_init(&back);
  e = t_decode(cf, b.data, b.len, base, m, &back, &fe);
  if (e != NB_OK) fprintf(stderr, "decode: %s\n%.*s\n", fe.reason, (int)b.len, (char *)b.data);
  assert_int_equal(e, NB_OK);
  t_assert_same(r, &back);
  nb_records_deinit(&back);
  nb_bytes_free(&b);
}

static void test_all_types(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  fill_all_types(&r, true);
  round_trip(SJ, &r, "/65000/0", model);
  round_trip(SJ, &r, "/", model);
  nb_records_deinit(&r);
  nb_records_init(&r);
  fill_all_types(&r, false);
  round_trip(SC, &r, "/65000/0", model);
  round_trip(SC, &r, "/65000", model);
  round_trip(SC, &r, "/", model);
  nb_records_deinit(&r);
  t_reject_text(SJ, "[{\"n\":\"1\",\"v\":18446744073709551615}]", "/65000/0", model,
                NB_COAP_BAD_REQUEST);
  /* Exact output of the value fields. */
  nb_records_init(&r);
  t_add_opaque(&r, "/65000/0/5", (const uint8_t *)"\x01\x02\x03\x04\x05", 5);
  t_add(&r, "/65000/0/7", nb_value_objlnk(66, 1));
  t_add(&r, "/65000/0/3", nb_value_bool(false));
  t_add(&r, "/65000/0/2", nb_value_float(1.5));
  nb_bytes b;
  nb_bytes_init(&b);
  nb_format_error fe;
  assert_int_equal(t_encode(SJ, &r, "/65000/0", model, &b, &fe), NB_OK);
  t_assert_text(
      &b,
      "[{\"bn\":\"/65000/0/\",\"n\":\"5\",\"vd\":\"AQIDBAU\"},{\"n\":\"7\",\"vlo\":\"66:1\"},"
      "{\"n\":\"3\",\"vb\":false},{\"n\":\"2\",\"v\":1.5}]");
  nb_bytes_clear(&b);
  assert_int_equal(t_encode(SC, &r, "/65000/0", model, &b, &fe), NB_OK);
  t_assert_hex(&b,
               "84 A3 21 69 2F 36 35 30 30 30 2F 30 2F 00 61 35 08 45 01 02 03 04 05"
               "A2 00 61 37 63 76 6C 6F 64 36 36 3A 31"
               "A2 00 61 33 04 F4"
               "A2 00 61 32 02 F9 3E 00");
  nb_bytes_free(&b);
  nb_records_deinit(&r);
  /* vd accepts base64url with padding too. */
  nb_records_init(&r);
  decode_json("[{\"n\":\"5\",\"vd\":\"AQIDBAU=\"},{\"n\":\"15/0\",\"vd\":\"-_8\"}]", "/65000/0",
              model, &r);
  assert_int_equal(t_get(&r, "/65000/0/5")->v.bytes.len, 5);
  assert_memory_equal(t_get(&r, "/65000/0/15/0")->v.bytes.data, "\xfb\xff", 2);
  nb_records_deinit(&r);
}

static void test_without_model(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  decode_json(
      "[{\"bn\":\"/9/0/\",\"n\":\"1\",\"v\":5},{\"n\":\"2\",\"v\":5.5},{\"n\":\"3\",\"vs\":\"s\"},"
      "{\"n\":\"4\",\"vb\":true},{\"n\":\"5\",\"vd\":\"AA\"},{\"n\":\"6\",\"vlo\":\"1:2\"}]",
      "/9/0", NULL, &r);
  const nb_value_type want[] = {NB_VT_INT,  NB_VT_FLOAT,  NB_VT_STRING,
                                NB_VT_BOOL, NB_VT_OPAQUE, NB_VT_OBJLNK};
  for (size_t k = 0; k < 6; k++) assert_int_equal(r.items[k].value.type, want[k]);
  nb_records_deinit(&r);
  nb_records_init(&r);
  decode_cbor(
      "82 A2 00 66 2F 39 2F 30 2F 31 02 1B FF FF FF FF FF FF FF FF"
      "A2 00 66 2F 39 2F 30 2F 32 02 38 63",
      "/", NULL, &r);
  assert_int_equal(t_get(&r, "/9/0/1")->type, NB_VT_UINT);
  t_expect_int(&r, "/9/0/2", -100);
  nb_records_deinit(&r);
}

static void test_timestamps(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  t_add(&r, "/3303/0/5700", nb_value_float(21.5));
  t_add(&r, "/3303/0/5700", nb_value_float(22.5));
  t_add(&r, "/3303/0/5700", nb_value_float(23.5));
  double times[] = {1700000000.0, 1700000060.0, 1700000120.5};
  for (int f = 0; f < 2; f++) {
    int cf = f ? SC : SJ;
    nb_path root = nb_path_root();
    nb_format_opts eo = {&root, model, 0, NULL, times, NULL};
    nb_bytes b;
    nb_bytes_init(&b);
    nb_format_error fe;
    assert_int_equal(nb_format_encode_ex(cf, &r, &eo, &b, &fe), NB_OK);
    nb_records back;
    nb_records_init(&back);
    nb_times bt;
    nb_times_init(&bt);
    nb_format_opts dopt = {&root, model, 0, &bt, NULL, NULL};
    assert_int_equal(nb_format_decode_ex(cf, b.data, b.len, &dopt, &back, &fe), NB_OK);
    assert_int_equal(back.len, 3);
    for (size_t k = 0; k < 3; k++) {
      assert_true(back.items[k].value.v.f == r.items[k].value.v.f);
      assert_true(bt.items[k] == times[k]);
    }
    /* The same path at the same time twice is a duplicate. */
    times[1] = times[0];
    nb_bytes_clear(&b);
    assert_int_equal(nb_format_encode_ex(cf, &r, &eo, &b, &fe), NB_OK);
    nb_records_deinit(&back);
    nb_records_init(&back);
    assert_int_not_equal(nb_format_decode_ex(cf, b.data, b.len, &dopt, &back, &fe), NB_OK);
    assert_int_equal(fe.code, NB_COAP_BAD_REQUEST);
    assert_int_equal(back.len, 0);
    assert_int_equal(bt.len, 3);
    times[1] = 1700000060.0;
    nb_times_deinit(&bt);
    nb_records_deinit(&back);
    nb_bytes_free(&b);
  }
  nb_records_deinit(&r);
  /* bt carries over; t alone is relative to "now" and is reported as given. */
  nb_records_init(&r);
  nb_times bt;
  nb_times_init(&bt);
  nb_path root = nb_path_root();
  nb_format_opts dopt = {&root, model, 0, &bt, NULL, NULL};
  const char *json =
      "[{\"bn\":\"/3303/0/5700\",\"bt\":1000,\"v\":1,\"t\":5},{\"v\":2,\"t\":6},"
      "{\"bn\":\"/3303/1/5700\",\"v\":3},{\"bt\":2000,\"n\":\"\",\"v\":4,\"t\":-1}]";
  nb_format_error fe;
  assert_int_equal(nb_format_decode_ex(SJ, (const uint8_t *)json, strlen(json), &dopt, &r, &fe),
                   NB_OK);
  assert_true(bt.items[0] == 1005 && bt.items[1] == 1006 && bt.items[2] == 1000 &&
              bt.items[3] == 1999);
  nb_records_deinit(&r);
  nb_records_init(&r);
  bt.len = 0;
  json = "[{\"n\":\"/3303/0/5700\",\"v\":1},{\"n\":\"/3303/1/5700\",\"v\":1,\"t\":-10}]";
  assert_int_equal(nb_format_decode_ex(SJ, (const uint8_t *)json, strlen(json), &dopt, &r, &fe),
                   NB_OK);
  assert_true(isnan(bt.items[0]));
  assert_true(bt.items[1] == -10);
  nb_times_deinit(&bt);
  nb_records_deinit(&r);
}

static void test_paths_only(void **state) {
  (void)state;
  const char *json =
      "[{\"n\":\"/3/0/9\"},{\"n\":\"/1/0\"},{\"n\":\"/5\"},{\"bn\":\"/3/0/\",\"n\":\"7/1\"}]";
  nb_path root = nb_path_root();
  nb_format_opts opts = {&root, model, NB_FORMAT_PATHS_ONLY, NULL, NULL, NULL};
  nb_records r;
  nb_records_init(&r);
  nb_format_error fe;
  assert_int_equal(nb_format_decode_ex(SJ, (const uint8_t *)json, strlen(json), &opts, &r, &fe),
                   NB_OK);
  assert_int_equal(r.len, 4);
  assert_int_equal(t_get(&r, "/1/0")->type, NB_VT_NONE);
  assert_int_equal(t_get(&r, "/3/0/7/1")->type, NB_VT_NONE);
  /* Encoded back as name-only records, in both representations. */
  for (int f = 0; f < 2; f++) {
    int cf = f ? SC : SJ;
    nb_bytes b;
    nb_bytes_init(&b);
    assert_int_equal(nb_format_encode_ex(cf, &r, &opts, &b, &fe), NB_OK);
    if (cf == SJ) {
      t_assert_text(&b,
                    "[{\"n\":\"/3/0/9\"},{\"n\":\"/1/0\"},{\"n\":\"/5\"},{\"n\":\"/3/0/7/1\"}]");
    }
    nb_records back;
    nb_records_init(&back);
    assert_int_equal(nb_format_decode_ex(cf, b.data, b.len, &opts, &back, &fe), NB_OK);
    t_assert_same(&r, &back);
    /* A list of paths is not a Write payload. */
    nb_records_deinit(&back);
    nb_records_init(&back);
    assert_int_not_equal(t_decode(cf, b.data, b.len, "/", model, &back, &fe), NB_OK);
    assert_int_equal(fe.code, NB_COAP_BAD_REQUEST);
    nb_records_deinit(&back);
    nb_bytes_free(&b);
  }
  nb_records_deinit(&r);
  /* In a path list, values and duplicates are errors; TLV cannot carry one. */
  const char *bad[] = {"[{\"n\":\"/3/0/9\",\"v\":1}]", "[{\"n\":\"/3/0\"},{\"n\":\"/3/0\"}]",
                       "[{}]"};
  for (size_t k = 0; k < 3; k++) {
    nb_records_init(&r);
    assert_int_not_equal(
        nb_format_decode_ex(SJ, (const uint8_t *)bad[k], strlen(bad[k]), &opts, &r, &fe), NB_OK);
    assert_int_equal(r.len, 0);
    nb_records_deinit(&r);
  }
  nb_records_init(&r);
  assert_int_not_equal(
      nb_format_decode_ex(NB_COAP_CF_LWM2M_TLV, (const uint8_t *)"", 0, &opts, &r, &fe), NB_OK);
  assert_int_equal(fe.code, NB_COAP_UNSUPPORTED_CONTENT_FORMAT);
  nb_records_deinit(&r);
}

static void test_json_rejects(void **state) {
  (void)state;
  const int BAD = NB_COAP_BAD_REQUEST;
  const char *bad[] = {
      "[",                                               /* invalid JSON */
      "{}",                                              /* not an array */
      "[1]",                                             /* record not an object */
      "[{\"n\":\"9\"}]",                                 /* no value */
      "[{\"n\":\"9\",\"v\":1,\"vs\":\"1\"}]",            /* two values */
      "[{\"n\":9,\"v\":1}]",                             /* n not a string */
      "[{\"bn\":[],\"n\":\"9\",\"v\":1}]",               /* bn not a string */
      "[{\"n\":\"9\",\"v\":\"1\"}]",                     /* v not a number */
      "[{\"n\":\"9\",\"v\":1,\"t\":\"now\"}]",           /* t not a number */
      "[{\"n\":\"9\",\"v\":1,\"v\":2}]",                 /* duplicate key */
      "[{\"n\":\"9\",\"v\":1},{\"n\":\"9\",\"v\":2}]",   /* duplicate record */
      "[{\"n\":\"9\",\"v\":1,\"foo_\":1}]",              /* must-understand field */
      "[{\"bver\":11,\"n\":\"9\",\"v\":1}]",             /* future SenML version */
      "[{\"n\":\"a/b\",\"v\":1}]",                       /* name not a path */
      "[{\"n\":\"/3/1/9\",\"v\":1}]",                    /* outside the request path */
      "[{\"n\":\"\",\"v\":1}]",                          /* the instance itself */
      "[{\"n\":\"9\",\"vs\":\"100\"}]",                  /* vs for an Integer */
      "[{\"n\":\"9\",\"v\":100.5}]",                     /* fraction for an Integer */
      "[{\"n\":\"0\",\"vb\":true}]",                     /* vb for a String */
      "[{\"n\":\"6\",\"v\":1}]",                         /* single value, multiple resource */
      "[{\"n\":\"6/0\",\"v\":1},{\"n\":\"6\",\"v\":1}]", /* both forms */
      "[{\"n\":\"0\",\"vs\":\"\\ud800\"}]",              /* lone surrogate */
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
    t_reject_text(SJ, bad[k], "/3/0", model, BAD);
  t_reject_text(SJ, "[{\"n\":\"5\",\"vd\":\"AQID+\"}]", "/65000/0", model,
                BAD);                                                         /* not url alphabet */
  t_reject_text(SJ, "[{\"n\":\"5\",\"vd\":\"A\"}]", "/65000/0", model, BAD);  /* 6 bits */
  t_reject_text(SJ, "[{\"n\":\"5\",\"vd\":\"AB\"}]", "/65000/0", model, BAD); /* stray bits */
  t_reject_text(SJ, "[{\"n\":\"5\",\"vs\":\"AA\"}]", "/65000/0", model, BAD); /* vs for Opaque */
  t_reject_text(SJ, "[{\"n\":\"7\",\"vlo\":\"1-2\"}]", "/65000/0", model, BAD); /* bad objlnk */
  t_reject_text(SJ, "[{\"n\":\"1\",\"v\":-1}]", "/65000/0", model, BAD);        /* negative uint */
}

static void test_cbor_rejects(void **state) {
  (void)state;
  const int BAD = NB_COAP_BAD_REQUEST;
  const char *bad[] = {
      "A1 00 61 39",                                              /* not an array */
      "81 01",                                                    /* record not a map */
      "81 A1 00 61 39",                                           /* no value */
      "81 A2 00 09 02 01",                                        /* n an integer */
      "81 A2 00 61 39 02 61 31",                                  /* v text */
      "81 A2 00 61 39 04 01",                                     /* vb an integer */
      "81 A2 00 61 30 03 41 61",                                  /* vs bytes */
      "81 A2 41 00 61 39",                                        /* byte-string key */
      "81 A3 00 61 39 02 01 02 02",                               /* duplicate label */
      "81 A3 00 61 39 02 01 03 61 61",                            /* two values */
      "81 A2 00 61 39 02 01 00",                                  /* trailing byte */
      "81 A2 00 7F 61 39 FF 02 01",                               /* chunked name */
      "81 A2 00 61 39 02 3B FF FF FF FF FF FF FF FF",             /* below INT64_MIN */
      "81 A2 00 62 C3 28 02 01",                                  /* invalid UTF-8 name */
      "81 A3 00 61 39 02 01 64 66 6F 6F 5F 01",                   /* must-understand "foo_" */
      "81 A3 00 61 39 02 01 20 0B",                               /* bver 11 */
      "81 A2 00 61 39 FF",                                        /* break in a definite map */
      "FF",                                                       /* lone break */
      "81 A2 00 61 39 02 1C",                                     /* reserved encoding */
      "82 A2 00 61 39 02 01",                                     /* array short of an element */
      "81 A3 00 61 39 02 01 05 81 81 81 81 81 81 81 81 81 81 00", /* nesting too deep */
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
    t_reject_hex(SC, bad[k], "/3/0", model, BAD);
  t_reject_hex(SC, "81 A2 00 61 35 08 61 61", "/65000/0", model, BAD); /* vd text */
  /* Every proper prefix of a valid payload is rejected, never read past. */
  size_t len;
  uint8_t *full = t_hex(DEVICE_CBOR, &len);
  for (size_t n = 1; n < len; n++) {
    uint8_t *cut = malloc(n);
    memcpy(cut, full, n);
    t_reject(SC, cut, n, "/3/0", model, BAD);
    free(cut);
  }
  free(full);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_device_json),   cmocka_unit_test(test_device_cbor),
      cmocka_unit_test(test_base_fields),   cmocka_unit_test(test_all_types),
      cmocka_unit_test(test_without_model), cmocka_unit_test(test_timestamps),
      cmocka_unit_test(test_paths_only),    cmocka_unit_test(test_json_rejects),
      cmocka_unit_test(test_cbor_rejects),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
