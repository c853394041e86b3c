/* LwM2M CBOR (11544) of LwM2M 1.2: the Device example as nested maps both ways (byte-exact
 * output), keys standing for several levels, indefinite-length maps, every type, empty
 * containers, path lists, and the rejections: not a map, bad keys, deep paths, values at the
 * wrong level, null values, unknown tags, chunked strings, duplicates, trailing bytes, paths
 * outside the request and mistyped values. */
#include "lwm2m_fmt_testutil.h"

#define CF NB_COAP_CF_LWM2M_CBOR

/* {3: {0: {0: "ACME", 6: {0: 1, 1: 5}, 9: 87, 13: 1(1700000000), 16: "U"}}} as this encoder
 * writes it: definite maps, keys in path order, shortest integers, Time under tag 1. */
static const char *const DEVICE_HEX =
    "a1 03 a1 00 a5"
    " 00 64 41434d45"
    " 06 a2 00 01 01 05"
    " 09 18 57"
    " 0d c1 1a 6553f100"
    " 10 61 55";

static void decode_hex(const char *hex, const char *base, const nb_model *m, unsigned flags,
                       nb_records *r) {
  size_t len;
  uint8_t *b = t_hex(hex, &len);
  nb_path p = t_path(base);
  nb_format_opts o = {.base = &p, .model = m, .flags = flags};
  nb_format_error fe = {0, NULL};
  nb_err e = nb_format_decode_ex(CF, b, len, &o, r, &fe);
  if (e != NB_OK) fail_msg("decode %s: %s", hex, fe.reason);
  free(b);
}

static void test_device_both_ways(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  decode_hex(DEVICE_HEX, "/3/0", t_shared_model, 0, &r);
  assert_int_equal(r.len, 6);
  t_expect_str(&r, "/3/0/0", "ACME");
  t_expect_int(&r, "/3/0/6/0", 1);
  t_expect_int(&r, "/3/0/6/1", 5);
  t_expect_int(&r, "/3/0/9", 87);
  t_expect_time(&r, "/3/0/13", 1700000000);
  t_expect_str(&r, "/3/0/16", "U");
  nb_bytes b;
  nb_bytes_init(&b);
  nb_format_error fe;
  assert_int_equal(t_encode(CF, &r, "/3/0", t_shared_model, &b, &fe), NB_OK);
  t_assert_hex(&b, DEVICE_HEX);
  nb_bytes_free(&b);
  /* The same records under the root, /3 and the resource's own path decode alike. */
  nb_records_deinit(&r);
  decode_hex(DEVICE_HEX, "/", t_shared_model, 0, &r);
  assert_int_equal(r.len, 6);
  nb_records_deinit(&r);
  decode_hex("a1 03 a1 00 a1 09 18 57", "/3/0/9", t_shared_model, 0, &r);
  t_expect_int(&r, "/3/0/9", 87);
  nb_records_deinit(&r);
}

static void test_multi_level_keys_and_indefinite_maps(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  /* {[3, 0]: {0: "ACME", [6, 1]: 5}} */
  decode_hex("a1 82 03 00 a2 00 64 41434d45 82 06 01 05", "/3", t_shared_model, 0, &r);
  assert_int_equal(r.len, 2);
  t_expect_str(&r, "/3/0/0", "ACME");
  t_expect_int(&r, "/3/0/6/1", 5);
  nb_records_deinit(&r);
  /* {_ 3: {_ 0: {9: 87}}}: indefinite-length maps, as streaming encoders write them */
  decode_hex("bf 03 bf 00 a1 09 18 57 ff ff", "/3/0", t_shared_model, 0, &r);
  t_expect_int(&r, "/3/0/9", 87);
  nb_records_deinit(&r);
  /* a whole path in one key, and an indefinite array as the key */
  decode_hex("a1 9f 03 00 09 ff 18 57", "/3/0/9", t_shared_model, 0, &r);
  t_expect_int(&r, "/3/0/9", 87);
  nb_records_deinit(&r);
}

static void test_types_and_containers(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  /* {65000: {0: {0: -5, 1: 2^64-1, 2: 1.5, 3: true, 5: h'0102', 6: 10, 7: "3:0", 8: "</3>"}}} */
  decode_hex(
      "a1 19fde8 a1 00 a8 00 24 01 1b ffffffffffffffff 02 f9 3e00 03 f5 05 42 0102"
      " 06 0a 07 63 333a30 08 64 3c2f333e",
      "/65000/0", t_shared_model, 0, &r);
  assert_int_equal(r.len, 8);
  t_expect_int(&r, "/65000/0/0", -5);
  assert_int_equal(t_get(&r, "/65000/0/1")->v.u, UINT64_MAX);
  assert_true(t_get(&r, "/65000/0/2")->v.f == 1.5);
  assert_true(t_get(&r, "/65000/0/3")->v.b);
  assert_int_equal(t_get(&r, "/65000/0/5")->v.bytes.len, 2);
  t_expect_time(&r, "/65000/0/6", 10); /* an integer for a Time, without the tag */
  assert_int_equal(t_get(&r, "/65000/0/7")->type, NB_VT_OBJLNK);
  assert_int_equal(t_get(&r, "/65000/0/8")->type, NB_VT_CORELNK);
  nb_bytes b;
  nb_bytes_init(&b);
  nb_format_error fe;
  assert_int_equal(t_encode(CF, &r, "/65000/0", t_shared_model, &b, &fe), NB_OK);
  nb_records back;
  nb_records_init(&back);
  assert_int_equal(t_decode(CF, b.data, b.len, "/65000/0", t_shared_model, &back, &fe), NB_OK);
  t_assert_same(&r, &back);
  nb_records_deinit(&back);
  nb_records_deinit(&r);
  nb_bytes_free(&b);
  /* An empty map at an instance or a multiple resource is an empty container, both ways. */
  decode_hex("a1 01 a1 05 a0", "/1", t_shared_model, 0, &r);
  assert_int_equal(r.len, 1);
  assert_int_equal(r.items[0].value.type, NB_VT_NONE);
  assert_int_equal(r.items[0].path.len, 2);
  nb_bytes_init(&b);
  assert_int_equal(t_encode(CF, &r, "/1", t_shared_model, &b, &fe), NB_OK);
  t_assert_hex(&b, "a1 01 a1 05 a0");
  nb_bytes_free(&b);
  nb_records_deinit(&r);
  /* An empty payload and an empty map hold nothing. */
  assert_int_equal(t_decode(CF, "", 0, "/3/0", t_shared_model, &r, &fe), NB_OK);
  decode_hex("a0", "/3/0", t_shared_model, 0, &r);
  assert_int_equal(r.len, 0);
}

static void test_path_lists(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  /* {1: null, 3: {0: {9: null}}}: Read-Composite of /1 and /3/0/9 */
  decode_hex("a2 01 f6 03 a1 00 a1 09 f6", "/", t_shared_model, NB_FORMAT_PATHS_ONLY, &r);
  assert_int_equal(r.len, 2);
  assert_int_equal(r.items[0].value.type, NB_VT_NONE);
  nb_path p = t_path("/");
  nb_format_opts o = {.base = &p, .model = t_shared_model, .flags = NB_FORMAT_PATHS_ONLY};
  nb_bytes b;
  nb_bytes_init(&b);
  assert_int_equal(nb_format_encode_ex(CF, &r, &o, &b, NULL), NB_OK);
  t_assert_hex(&b, "a2 01 f6 03 a1 00 a1 09 f6");
  nb_bytes_free(&b);
  nb_records_deinit(&r);
  /* a value where a path list wants null */
  size_t len;
  uint8_t *bad = t_hex("a1 01 01", &len);
  assert_int_not_equal(nb_format_decode_ex(CF, bad, len, &o, &r, NULL), NB_OK);
  free(bad);
}

static void test_rejects(void **state) {
  (void)state;
  const uint8_t BAD = NB_COAP_BAD_REQUEST;
  static const char *const bad[] = {
      "80",                                  /* an array, not a map */
      "a1 03",                               /* truncated */
      "a1 63 616263 01",                     /* text key */
      "a1 20 01",                            /* negative key */
      "a1 19ffff a1 00 a1 00 01",            /* ID 65535 */
      "a1 85 03 00 06 00 01 01",             /* five levels */
      "a1 80 01",                            /* empty path array */
      "a1 03 a1 00 01",                      /* a value at an instance */
      "a1 03 a1 00 a1 09 f6",                /* null outside a path list */
      "a1 03 a1 00 a1 0d c2 01",             /* tag 2 */
      "a1 03 a1 00 a1 09 18 57 00",          /* trailing bytes */
      "a2 03 a1 00 a1 09 01 83 03 00 09 02", /* /3/0/9 twice */
      "a1 04 a1 00 a1 00 01",                /* outside the request path */
      "a1 03 a1 00 a1 09 61 78",             /* text for an Integer */
      "a1 03 a1 00 a1 00 7f 61 41 ff",       /* chunked text */
      "a1 03 a1 00 a1 06 01",                /* a single value for a multiple resource */
      "a1 83 03 00 06 a1 00 a1 00 01",       /* a map below a resource instance */
      "a1 03 a1 00 a1 09 18",                /* ends inside a value */
      "a1 03 a1 00 a1 00 62 c328",           /* invalid UTF-8 */
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
    t_reject_hex(CF, bad[k], "/3/0", t_shared_model, BAD);
}

static void test_encode_refusals(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  t_add(&r, "/3/0/9", nb_value_int(1));
  nb_bytes b;
  nb_bytes_init(&b);
  nb_format_error fe;
  /* outside the request path */
  assert_int_not_equal(t_encode(CF, &r, "/4", t_shared_model, &b, &fe), NB_OK);
  assert_int_equal(fe.code, NB_COAP_INTERNAL_SERVER_ERROR);
  /* timestamps have no place in LwM2M CBOR */
  double t = 5;
  nb_path base = t_path("/3/0");
  nb_format_opts o = {.base = &base, .model = t_shared_model, .times_in = &t};
  assert_int_not_equal(nb_format_encode_ex(CF, &r, &o, &b, &fe), NB_OK);
  assert_int_equal(fe.code, NB_COAP_NOT_ACCEPTABLE);
  /* overlapping paths */
  t_add(&r, "/3/0/9/0", nb_value_int(2));
  assert_int_not_equal(t_encode(CF, &r, "/3/0", t_shared_model, &b, &fe), NB_OK);
  assert_int_equal(b.len, 0);
  nb_records_deinit(&r);
  nb_bytes_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_device_both_ways),
      cmocka_unit_test(test_multi_level_keys_and_indefinite_maps),
      cmocka_unit_test(test_types_and_containers),
      cmocka_unit_test(test_path_lists),
      cmocka_unit_test(test_rejects),
      cmocka_unit_test(test_encode_refusals),
  };
  return cmocka_run_group_tests(tests, t_group_setup, t_group_teardown);
}
