/* Single-resource formats: text/plain (0), application/octet-stream (42) and CBOR (60): every
 * type both ways with exact bytes, shortest float text, smallest CBOR encodings (float16/32/64
 * only when exact), targets they cannot carry (4.15) and malformed or mistyped values (4.00). */
#include "lwm2m_fmt_testutil.h"

#define TEXT NB_COAP_CF_TEXT
#define OPAQUE NB_COAP_CF_OCTET_STREAM
#define CBOR NB_COAP_CF_CBOR

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

/* Encodes v at path as cf, expects exactly want (len bytes), decodes it back to v. */
static void both_ways(int cf, const char *path, nb_value v, const void *want, size_t len) {
  nb_records r, back;
  nb_records_init(&r);
  nb_records_init(&back);
  t_add(&r, path, v);
  nb_bytes b;
  nb_bytes_init(&b);
  nb_format_error fe;
  nb_err e = t_encode(cf, &r, path, model, &b, &fe);
  if (e != NB_OK) fprintf(stderr, "encode %s: %s\n", path, fe.reason);
  assert_int_equal(e, NB_OK);
  t_assert_bytes(&b, want, len);
  e = t_decode(cf, b.data, b.len, path, model, &back, &fe);
  if (e != NB_OK) fprintf(stderr, "decode %s: %s\n", path, fe.reason);
  assert_int_equal(e, NB_OK);
  t_assert_same(&r, &back);
  nb_bytes_free(&b);
  nb_records_deinit(&r);
  nb_records_deinit(&back);
}

static void text_both(const char *path, nb_value v, const char *text) {
  both_ways(TEXT, path, v, text, strlen(text));
}

static void cbor_both(const char *path, nb_value v, const char *hex) {
  size_t len;
  uint8_t *want = t_hex(hex, &len);
  both_ways(CBOR, path, v, want, len);
  free(want);
}

static nb_value str_value(const char *s) {
  nb_value v = nb_value_none();
  assert_int_equal(nb_value_set_string(&v, s, strlen(s)), NB_OK);
  return v;
}

static nb_value opaque_value(const void *d, size_t n) {
  nb_value v = nb_value_none();
  assert_int_equal(nb_value_set_opaque(&v, d, n), NB_OK);
  return v;
}

static nb_value corelnk_value(const char *s) {
  nb_value v = nb_value_none();
  assert_int_equal(nb_value_set_corelnk(&v, s, strlen(s)), NB_OK);
  return v;
}

static void test_text_types(void **state) {
  (void)state;
  text_both("/3/0/0", str_value("Open Mobile Alliance"), "Open Mobile Alliance");
  text_both("/3/0/9", nb_value_int(100), "100");
  text_both("/65000/0/0", nb_value_int(INT64_MIN), "-9223372036854775808");
  text_both("/65000/0/1", nb_value_uint(UINT64_MAX), "18446744073709551615");
  text_both("/3/0/13", nb_value_time(1367491215), "1367491215");
  text_both("/65000/0/6", nb_value_time(-86400), "-86400");
  text_both("/65000/0/3", nb_value_bool(true), "1");
  text_both("/65000/0/3", nb_value_bool(false), "0");
  text_both("/65000/0/7", nb_value_objlnk(66, 1), "66:1");
  text_both("/65000/0/7", nb_value_objlnk(65535, 65535), "65535:65535");
  text_both("/65000/0/5", opaque_value("\x01\x02\x03\x04\x05", 5), "AQIDBAU=");
  text_both("/65000/0/5", opaque_value("\xfb\xff", 2), "+/8=");
  text_both("/65000/0/5", opaque_value("abc", 3), "YWJj");
  text_both("/65000/0/5", opaque_value("", 0), "");
  text_both("/65000/0/8", corelnk_value("</3/0>;ver=1.1"), "</3/0>;ver=1.1");
  text_both("/65000/0/4", str_value("h\xc3\xa9llo \xf0\x9f\x98\x80"),
            "h\xc3\xa9llo \xf0\x9f\x98\x80");
  text_both("/65000/0/4", str_value(""), "");
  text_both("/3/0/7/1", nb_value_int(5000), "5000"); /* a resource instance */
}

static void test_text_floats(void **state) {
  (void)state;
  /* The shortest text that reads back to the same double. */
  text_both("/65000/0/2", nb_value_float(0.1), "0.1");
  text_both("/65000/0/2", nb_value_float(3.0), "3");
  text_both("/65000/0/2", nb_value_float(-2.5), "-2.5");
  text_both("/65000/0/2", nb_value_float(1e300), "1e+300");
  text_both("/65000/0/2", nb_value_float(1.0 / 3.0), "0.3333333333333333");
  text_both("/65000/0/2", nb_value_float(5e-324), "5e-324");
  text_both("/65000/0/2", nb_value_float(123456789.0), "123456789");
  text_both("/65000/0/2", nb_value_float(-0.0), "-0");
  text_both("/65000/0/2", nb_value_float(1e5), "100000");
  text_both("/65000/0/2", nb_value_float(1e20), "100000000000000000000");
  text_both("/65000/0/2", nb_value_float(1e21), "1e+21");
  text_both("/65000/0/2", nb_value_float(0.000001), "0.000001");
  text_both("/65000/0/2", nb_value_float(1.5e-7), "1.5e-7");
  text_both("/65000/0/2", nb_value_float(-123.456), "-123.456");
  /* Decimal forms other stacks write are accepted. */
  nb_records r;
  nb_records_init(&r);
  nb_format_error fe;
  assert_int_equal(t_decode(TEXT, "2E3", 3, "/65000/0/2", model, &r, &fe), NB_OK);
  assert_true(t_get(&r, "/65000/0/2")->v.f == 2000.0);
  nb_records_deinit(&r);
  /* NaN and infinities have no text/plain form. */
  nb_records_init(&r);
  t_add(&r, "/65000/0/2", nb_value_float(NAN));
  nb_bytes b;
  nb_bytes_init(&b);
  assert_int_not_equal(t_encode(TEXT, &r, "/65000/0/2", model, &b, &fe), NB_OK);
  assert_int_equal(fe.code, NB_COAP_NOT_ACCEPTABLE);
  assert_int_equal(b.len, 0);
  nb_bytes_free(&b);
  nb_records_deinit(&r);
}

static void test_text_without_model(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  nb_format_error fe;
  assert_int_equal(t_decode(TEXT, "42", 2, "/3/0/9", NULL, &r, &fe), NB_OK);
  t_expect_str(&r, "/3/0/9", "42");
  nb_records_deinit(&r);
}

static void test_text_rejects(void **state) {
  (void)state;
  const char *bad_int[] = {"",    "12a", " 12", "12 ", "+12", "-", "1.0", "99999999999999999999",
                           "0x10"};
  for (size_t k = 0; k < sizeof bad_int / sizeof bad_int[0]; k++) {
    t_reject_text(TEXT, bad_int[k], "/3/0/9", model, NB_COAP_BAD_REQUEST);
    t_reject_text(TEXT, bad_int[k], "/3/0/13", model, NB_COAP_BAD_REQUEST);
  }
  const char *bad_uint[] = {"-1", "18446744073709551616", ""};
  for (size_t k = 0; k < 3; k++)
    t_reject_text(TEXT, bad_uint[k], "/65000/0/1", model, NB_COAP_BAD_REQUEST);
  const char *bad_float[] = {"nan", "inf", "-inf", "0x1p3", "1e999", "", "1,5", ".5", "1.5f"};
  for (size_t k = 0; k < sizeof bad_float / sizeof bad_float[0]; k++) {
    t_reject_text(TEXT, bad_float[k], "/65000/0/2", model, NB_COAP_BAD_REQUEST);
  }
  const char *bad_bool[] = {"2", "true", "", "01"};
  for (size_t k = 0; k < 4; k++)
    t_reject_text(TEXT, bad_bool[k], "/65000/0/3", model, NB_COAP_BAD_REQUEST);
  const char *bad_lnk[] = {"66", "66:", ":1", "70000:1", "1:70000", "a:b", "1:2:3"};
  for (size_t k = 0; k < 7; k++)
    t_reject_text(TEXT, bad_lnk[k], "/65000/0/7", model, NB_COAP_BAD_REQUEST);
  const char *bad_b64[] = {"AQIDBAU", "AQIDBA=U", "!!!!", "AQIDBAV=", "AQI=BAU=", "A===", "YWJj\n"};
  for (size_t k = 0; k < 7; k++)
    t_reject_text(TEXT, bad_b64[k], "/65000/0/5", model, NB_COAP_BAD_REQUEST);
  t_reject(TEXT, "a\0b", 3, "/3/0/0", model, NB_COAP_BAD_REQUEST);           /* NUL */
  t_reject_text(TEXT, "\xc3\x28", "/3/0/0", model, NB_COAP_BAD_REQUEST);     /* bad UTF-8 */
  t_reject_text(TEXT, "\xed\xa0\x80", "/3/0/0", model, NB_COAP_BAD_REQUEST); /* surrogate */
  t_reject_text(TEXT, "\xc0\xaf", "/3/0/0", model, NB_COAP_BAD_REQUEST);     /* overlong */
  /* Targets text/plain cannot carry. */
  t_reject_text(TEXT, "1", "/3/0", model, NB_COAP_UNSUPPORTED_CONTENT_FORMAT);
  t_reject_text(TEXT, "1", "/3", model, NB_COAP_UNSUPPORTED_CONTENT_FORMAT);
  t_reject_text(TEXT, "1", "/3/0/7", model, NB_COAP_UNSUPPORTED_CONTENT_FORMAT); /* multiple */
  t_reject_text(TEXT, "1", "/3/0/9/0", model, NB_COAP_BAD_REQUEST); /* single has no instances */
}

/* A request without a payload hands the decoders no buffer at all (NULL, as the CoAP parser
 * leaves it): refused like an empty one, never read through the NULL pointer (UBSan reported
 * pointer arithmetic on it in nb_fmt_parse_i64; found by fuzz/client_dm.c with a PUT of
 * text/plain to an integer resource without a body). */
static void test_no_payload_at_all(void **state) {
  (void)state;
  const char *ints[] = {"/3/0/9",     "/3/0/13",    "/65000/0/1",
                        "/65000/0/2", "/65000/0/3", "/65000/0/7"};
  for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++)
    t_reject(TEXT, NULL, 0, ints[k], model, NB_COAP_BAD_REQUEST);
  const int cfs[] = {TEXT,
                     OPAQUE,
                     CBOR,
                     NB_COAP_CF_LWM2M_TLV,
                     NB_COAP_CF_LWM2M_JSON,
                     NB_COAP_CF_SENML_JSON,
                     NB_COAP_CF_SENML_CBOR};
  const char *paths[] = {"/3/0/0", "/65000/0/5", "/3/0", "/3", "/"};
  for (size_t c = 0; c < sizeof cfs / sizeof cfs[0]; c++)
    for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++) {
      nb_records r;
      nb_records_init(&r);
      nb_format_error fe;
      if (t_decode(cfs[c], NULL, 0, paths[k], model, &r, &fe) != NB_OK) assert_non_null(fe.reason);
      nb_records_deinit(&r);
    }
}

static void test_text_encode_refusals(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  t_add(&r, "/3/0/9", nb_value_int(1));
  t_add(&r, "/3/0/10", nb_value_int(2));
  nb_bytes b;
  nb_bytes_init(&b);
  nb_format_error fe;
  assert_int_not_equal(t_encode(TEXT, &r, "/3/0", model, &b, &fe), NB_OK);
  assert_int_equal(fe.code, NB_COAP_NOT_ACCEPTABLE);
  assert_int_not_equal(t_encode(CBOR, &r, "/3/0", model, &b, &fe), NB_OK);
  assert_int_equal(fe.code, NB_COAP_NOT_ACCEPTABLE);
  nb_records_deinit(&r);
  nb_records_init(&r);
  t_add(&r, "/3/0/9", nb_value_int(1));
  assert_int_not_equal(t_encode(TEXT, &r, "/3/0/10", model, &b, &fe), NB_OK); /* other path */
  assert_int_equal(b.len, 0);
  nb_bytes_free(&b);
  nb_records_deinit(&r);
}

static void test_opaque(void **state) {
  (void)state;
  static const uint8_t pkg[] = {0x00, 0xff, 0x10, 0x80};
  both_ways(OPAQUE, "/5/0/0", opaque_value(pkg, sizeof pkg), pkg, sizeof pkg);
  both_ways(OPAQUE, "/5/0/0", opaque_value(pkg, 0), pkg, 0);
  nb_records r;
  nb_records_init(&r);
  nb_format_error fe;
  assert_int_equal(t_decode(OPAQUE, pkg, sizeof pkg, "/9999/0/1", model, &r, &fe), NB_OK);
  assert_int_equal(t_get(&r, "/9999/0/1")->type, NB_VT_OPAQUE); /* undefined: opaque */
  nb_records_deinit(&r);
  t_reject(OPAQUE, pkg, sizeof pkg, "/3/0/0", model, NB_COAP_UNSUPPORTED_CONTENT_FORMAT);
  t_reject(OPAQUE, pkg, sizeof pkg, "/5/0", model, NB_COAP_UNSUPPORTED_CONTENT_FORMAT);
  nb_records_init(&r);
  t_add_str(&r, "/3/0/0", "x");
  nb_bytes b;
  nb_bytes_init(&b);
  assert_int_not_equal(t_encode(OPAQUE, &r, "/3/0/0", model, &b, &fe), NB_OK);
  assert_int_equal(fe.code, NB_COAP_NOT_ACCEPTABLE);
  nb_bytes_free(&b);
  nb_records_deinit(&r);
}

static void test_cbor_types(void **state) {
  (void)state;
  cbor_both("/3/0/9", nb_value_int(100), "18 64");
  cbor_both("/65000/0/0", nb_value_int(0), "00");
  cbor_both("/65000/0/0", nb_value_int(23), "17");
  cbor_both("/65000/0/0", nb_value_int(24), "18 18");
  cbor_both("/65000/0/0", nb_value_int(-1), "20");
  cbor_both("/65000/0/0", nb_value_int(-500), "39 01 F3");
  cbor_both("/65000/0/0", nb_value_int(INT64_MIN), "3B 7F FF FF FF FF FF FF FF");
  cbor_both("/65000/0/0", nb_value_int(INT64_MAX), "1B 7F FF FF FF FF FF FF FF");
  cbor_both("/65000/0/1", nb_value_uint(65536), "1A 00 01 00 00");
  cbor_both("/65000/0/1", nb_value_uint(UINT64_MAX), "1B FF FF FF FF FF FF FF FF");
  cbor_both("/65000/0/3", nb_value_bool(true), "F5");
  cbor_both("/65000/0/3", nb_value_bool(false), "F4");
  cbor_both("/3/0/0", str_value("Open"), "64 4F 70 65 6E");
  cbor_both("/65000/0/5", opaque_value("\x01\x02", 2), "42 01 02");
  cbor_both("/3/0/13", nb_value_time(1367491215), "C1 1A 51 82 42 8F");
  cbor_both("/65000/0/7", nb_value_objlnk(66, 1), "64 36 36 3A 31");
  cbor_both("/65000/0/8", corelnk_value("</1>"), "64 3C 2F 31 3E");
}

static void test_cbor_floats(void **state) {
  (void)state;
  cbor_both("/65000/0/2", nb_value_float(1.5), "F9 3E 00");
  cbor_both("/65000/0/2", nb_value_float(0.0), "F9 00 00");
  cbor_both("/65000/0/2", nb_value_float(-0.0), "F9 80 00");
  cbor_both("/65000/0/2", nb_value_float(65504.0), "F9 7B FF");               /* largest half */
  cbor_both("/65000/0/2", nb_value_float(6.103515625e-05), "F9 04 00");       /* smallest normal */
  cbor_both("/65000/0/2", nb_value_float(5.960464477539063e-08), "F9 00 01"); /* subnormal */
  cbor_both("/65000/0/2", nb_value_float(INFINITY), "F9 7C 00");
  cbor_both("/65000/0/2", nb_value_float(-INFINITY), "F9 FC 00");
  cbor_both("/65000/0/2", nb_value_float(65536.0), "FA 47 80 00 00"); /* too big for half */
  cbor_both("/65000/0/2", nb_value_float(100000.0), "FA 47 C3 50 00");
  cbor_both("/65000/0/2", nb_value_float(1.0009765625), "F9 3C 01");
  cbor_both("/65000/0/2", nb_value_float(1.00048828125), "FA 3F 80 10 00"); /* 11 bits */
  cbor_both("/65000/0/2", nb_value_float(0.1), "FB 3F B9 99 99 99 99 99 9A");
  cbor_both("/65000/0/2", nb_value_float(1e300), "FB 7E 37 E4 3C 88 00 75 9C");
  /* NaN is written as the canonical half NaN and reads back as NaN. */
  nb_records r;
  nb_records_init(&r);
  t_add(&r, "/65000/0/2", nb_value_float(NAN));
  nb_bytes b;
  nb_bytes_init(&b);
  nb_format_error fe;
  assert_int_equal(t_encode(CBOR, &r, "/65000/0/2", model, &b, &fe), NB_OK);
  t_assert_hex(&b, "F9 7E 00");
  nb_records_deinit(&r);
  nb_records_init(&r);
  assert_int_equal(t_decode(CBOR, b.data, b.len, "/65000/0/2", model, &r, &fe), NB_OK);
  assert_true(isnan(t_get(&r, "/65000/0/2")->v.f));
  nb_bytes_free(&b);
  nb_records_deinit(&r);
}

static void decode_cbor(const char *hex, const char *path, const nb_model *m, nb_records *r) {
  size_t len;
  uint8_t *buf = t_hex(hex, &len);
  nb_format_error fe;
  nb_err e = t_decode(CBOR, buf, len, path, m, r, &fe);
  if (e != NB_OK) fprintf(stderr, "decode %s: %s\n", hex, fe.reason);
  assert_int_equal(e, NB_OK);
  free(buf);
}

static void test_cbor_lenient_forms(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  decode_cbor("19 00 64", "/3/0/9", model, &r); /* non-shortest integer */
  t_expect_int(&r, "/3/0/9", 100);
  nb_records_deinit(&r);
  nb_records_init(&r);
  decode_cbor("1A 51 82 42 8F", "/3/0/13", model, &r); /* Time without tag 1 */
  t_expect_time(&r, "/3/0/13", 1367491215);
  nb_records_deinit(&r);
  nb_records_init(&r);
  decode_cbor("18 2A", "/65000/0/2", model, &r); /* an integer for a Float */
  assert_true(t_get(&r, "/65000/0/2")->v.f == 42.0);
  nb_records_deinit(&r);
  /* Without definitions the CBOR type decides. */
  const struct {
    const char *hex;
    nb_value_type type;
  } raw[] = {{"18 2A", NB_VT_INT},      {"1B FF FF FF FF FF FF FF FF", NB_VT_UINT},
             {"F9 3E 00", NB_VT_FLOAT}, {"F5", NB_VT_BOOL},
             {"61 61", NB_VT_STRING},   {"41 61", NB_VT_OPAQUE},
             {"C1 18 2A", NB_VT_TIME}};
  for (size_t k = 0; k < sizeof raw / sizeof raw[0]; k++) {
    nb_records_init(&r);
    decode_cbor(raw[k].hex, "/3/0/9", NULL, &r);
    assert_int_equal(t_get(&r, "/3/0/9")->type, raw[k].type);
    nb_records_deinit(&r);
  }
}

static void test_cbor_rejects(void **state) {
  (void)state;
  const int BAD = NB_COAP_BAD_REQUEST;
  t_reject_hex(CBOR, "", "/3/0/9", model, BAD);         /* nothing */
  t_reject_hex(CBOR, "19 01", "/3/0/9", model, BAD);    /* truncated */
  t_reject_hex(CBOR, "18 64 00", "/3/0/9", model, BAD); /* trailing byte */
  t_reject_hex(CBOR, "1C", "/3/0/9", model, BAD);       /* reserved additional info */
  t_reject_hex(CBOR, "FF", "/3/0/9", model, BAD);       /* lone break */
  t_reject_hex(CBOR, "61 31", "/3/0/9", model, BAD);    /* text for an Integer */
  t_reject_hex(CBOR, "F9 3E 00", "/3/0/9", model, BAD); /* 1.5 for an Integer */
  t_reject_hex(CBOR, "1B 80 00 00 00 00 00 00 00", "/3/0/9", model, BAD);    /* above INT64_MAX */
  t_reject_hex(CBOR, "3B 80 00 00 00 00 00 00 00", "/65000/0/0", NULL, BAD); /* below INT64_MIN */
  t_reject_hex(CBOR, "20", "/65000/0/1", model, BAD);          /* negative for Unsigned */
  t_reject_hex(CBOR, "41 61", "/3/0/0", model, BAD);           /* bytes for a String */
  t_reject_hex(CBOR, "61 61", "/65000/0/5", model, BAD);       /* text for Opaque */
  t_reject_hex(CBOR, "01", "/65000/0/3", model, BAD);          /* 1 for a Boolean */
  t_reject_hex(CBOR, "F6", "/3/0/0", model, BAD);              /* null */
  t_reject_hex(CBOR, "82 01 02", "/3/0/9", model, BAD);        /* array */
  t_reject_hex(CBOR, "A1 01 02", "/3/0/9", NULL, BAD);         /* map */
  t_reject_hex(CBOR, "7F 61 61 FF", "/3/0/0", model, BAD);     /* chunked text */
  t_reject_hex(CBOR, "C2 41 01", "/3/0/9", model, BAD);        /* tag 2 */
  t_reject_hex(CBOR, "C1 18 2A", "/3/0/9", model, BAD);        /* tag 1 on an Integer */
  t_reject_hex(CBOR, "C1 61 61", "/3/0/13", model, BAD);       /* tag 1 on text */
  t_reject_hex(CBOR, "F9 3E 00", "/3/0/13", model, BAD);       /* 1.5 for a Time */
  t_reject_hex(CBOR, "63 36 36 31", "/65000/0/7", model, BAD); /* objlnk "661" */
  t_reject_hex(CBOR, "62 C3 28", "/3/0/0", model, BAD);        /* invalid UTF-8 */
  t_reject_hex(CBOR, "61 00", "/3/0/0", model, BAD);           /* NUL in text */
  t_reject_hex(CBOR, "18 64", "/3/0", model, NB_COAP_UNSUPPORTED_CONTENT_FORMAT);
  t_reject_hex(CBOR, "18 64", "/3/0/7", model, NB_COAP_UNSUPPORTED_CONTENT_FORMAT);
}

static void test_unknown_format(void **state) {
  (void)state;
  t_reject_text(12345, "1", "/3/0/9", model, NB_COAP_UNSUPPORTED_CONTENT_FORMAT);
  t_reject_text(NB_COAP_CF_LINK_FORMAT, "</1>", "/", model, NB_COAP_UNSUPPORTED_CONTENT_FORMAT);
  nb_records r;
  nb_records_init(&r);
  t_add(&r, "/3/0/9", nb_value_int(1));
  nb_bytes b;
  nb_bytes_init(&b);
  nb_format_error fe;
  assert_int_not_equal(t_encode(12345, &r, "/3/0/9", model, &b, &fe), NB_OK);
  assert_int_equal(fe.code, NB_COAP_NOT_ACCEPTABLE);
  /* The lead's signature: code and reason through plain pointers. */
  uint8_t code = 0;
  const char *reason = NULL;
  nb_path base = t_path("/3/0");
  assert_int_not_equal(
      nb_format_decode(NB_COAP_CF_TEXT, (const uint8_t *)"1", 1, &base, model, &r, &code, &reason),
      NB_OK);
  assert_int_equal(code, NB_COAP_UNSUPPORTED_CONTENT_FORMAT);
  assert_non_null(reason);
  nb_path res = t_path("/3/0/9");
  assert_int_equal(nb_format_encode(NB_COAP_CF_TEXT, &r, &res, model, &b, &code, &reason), NB_OK);
  t_assert_text(&b, "1");
  assert_string_equal(nb_format_name(NB_COAP_CF_SENML_CBOR), "senml-cbor");
  assert_int_equal(nb_format_from_name("tlv"), NB_COAP_CF_LWM2M_TLV);
  assert_int_equal(nb_format_from_name("xml"), NB_COAP_CF_NONE);
  assert_string_equal(nb_format_media_type(NB_COAP_CF_LWM2M_JSON),
                      "application/vnd.oma.lwm2m+json");
  assert_true(nb_format_is_multi(NB_COAP_CF_SENML_JSON));
  assert_false(nb_format_is_multi(NB_COAP_CF_CBOR));
  assert_false(nb_format_is_supported(NB_COAP_CF_LINK_FORMAT));
  nb_bytes_free(&b);
  nb_records_deinit(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text_types),           cmocka_unit_test(test_text_floats),
      cmocka_unit_test(test_text_without_model),   cmocka_unit_test(test_text_rejects),
      cmocka_unit_test(test_text_encode_refusals), cmocka_unit_test(test_opaque),
      cmocka_unit_test(test_cbor_types),           cmocka_unit_test(test_cbor_floats),
      cmocka_unit_test(test_cbor_lenient_forms),   cmocka_unit_test(test_cbor_rejects),
      cmocka_unit_test(test_unknown_format),       cmocka_unit_test(test_no_payload_at_all),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
