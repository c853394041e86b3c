/* Cross-format equivalence: the same records encode and decode to the same records through every
 * multi-value format (TLV, LwM2M JSON, SenML JSON, SenML CBOR), under object, instance, resource
 * and resource-instance paths; a payload of one format re-encoded in any other decodes to the
 * same records; and each single value agrees across text/plain, CBOR and the multi formats. */
#include "lwm2m_fmt_testutil.h"

static const int MULTI[] = {NB_COAP_CF_LWM2M_TLV, NB_COAP_CF_LWM2M_JSON, NB_COAP_CF_SENML_JSON,
                            NB_COAP_CF_SENML_CBOR};
#define NMULTI (sizeof MULTI / sizeof MULTI[0])

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

static void device_records(nb_records *r) {
  t_add_str(r, "/3/0/0", "Open Mobile Alliance");
  t_add_str(r, "/3/0/1", "Lightweight M2M Client");
  t_add_str(r, "/3/0/2", "345000123");
  t_add_str(r, "/3/0/3", "1.0");
  t_add(r, "/3/0/6/0", nb_value_int(1));
  t_add(r, "/3/0/6/1", nb_value_int(5));
  t_add(r, "/3/0/7/0", nb_value_int(3800));
  t_add(r, "/3/0/7/1", nb_value_int(5000));
  t_add(r, "/3/0/9", nb_value_int(100));
  t_add(r, "/3/0/11/0", nb_value_int(0));
  t_add(r, "/3/0/13", nb_value_time(1367491215));
  t_add_str(r, "/3/0/14", "+02:00");
  t_add_str(r, "/3/0/16", "U");
  t_add(r, "/3/0/22/0", nb_value_objlnk(3, 0));
}

/* Every type in two instances of the test object, single and multiple resources. */
static void typed_records(nb_records *r) {
  static const uint8_t blob[] = {0x00, 0x10, 0xfe, 0xff, 0x7f};
  char p[64];
  for (int i = 0; i < 2; i++) {
#define P(fmt, ...) (snprintf(p, sizeof p, fmt, __VA_ARGS__), p)
    t_add(r, P("/65000/%d/0", i), nb_value_int(i ? INT64_MIN : -70000));
    t_add(r, P("/65000/%d/1", i), nb_value_uint(i ? (uint64_t)INT64_MAX : 200));
    t_add(r, P("/65000/%d/2", i), nb_value_float(i ? 0.1 : -3.5));
    t_add(r, P("/65000/%d/3", i), nb_value_bool(i));
    t_add_str(r, P("/65000/%d/4", i), i ? "" : "\xe2\x82\xac \"quoted\"\n");
    t_add_opaque(r, P("/65000/%d/5", i), blob, i ? 0 : sizeof blob);
    t_add(r, P("/65000/%d/6", i), nb_value_time(i ? -5 : 1700000000));
    t_add(r, P("/65000/%d/7", i), nb_value_objlnk((uint16_t)(66 + i), 65535));
    t_add_corelnk(r, P("/65000/%d/8", i), "</3/0>;ver=1.1");
    for (int k = 0; k < 2; k++) {
      t_add(r, P("/65000/%d/10/%d", i, k * 300), nb_value_int(-k));
      t_add(r, P("/65000/%d/11/%d", i, k), nb_value_uint((uint64_t)k << 33));
      t_add(r, P("/65000/%d/12/%d", i, k), nb_value_float(1e-7 * k));
      t_add(r, P("/65000/%d/13/%d", i, k), nb_value_bool(!k));
      t_add_str(r, P("/65000/%d/14/%d", i, k), k ? "b" : "a");
      t_add_opaque(r, P("/65000/%d/15/%d", i, k), blob, (size_t)k + 1);
      t_add(r, P("/65000/%d/16/%d", i, k), nb_value_time(k));
      t_add(r, P("/65000/%d/17/%d", i, k), nb_value_objlnk(1, (uint16_t)k));
      t_add_corelnk(r, P("/65000/%d/18/%d", i, k), "</1>");
    }
#undef P
  }
}

static void encode_ok(int cf, const nb_records *r, const char *base, nb_bytes *b) {
  nb_format_error fe;
  nb_err e = t_encode(cf, r, base, model, b, &fe);
  if (e != NB_OK) fprintf(stderr, "encode %s under %s: %s\n", nb_format_name(cf), base, fe.reason);
  assert_int_equal(e, NB_OK);
}

static void decode_ok(int cf, const nb_bytes *b, const char *base, nb_records *r) {
  nb_format_error fe;
  nb_err e = t_decode(cf, b->data, b->len, base, model, r, &fe);
  if (e != NB_OK) fprintf(stderr, "decode %s under %s: %s\n", nb_format_name(cf), base, fe.reason);
  assert_int_equal(e, NB_OK);
}

/* Every format alone, then every pair: decode A's bytes, encode as B, decode B. */
static void check_matrix(const nb_records *orig, const char *base) {
  for (size_t a = 0; a < NMULTI; a++) {
    nb_bytes ba;
    nb_bytes_init(&ba);
    encode_ok(MULTI[a], orig, base, &ba);
    nb_records ra;
    nb_records_init(&ra);
    decode_ok(MULTI[a], &ba, base, &ra);
    t_assert_same(orig, &ra);
    for (size_t b = 0; b < NMULTI; b++) {
      nb_bytes bb;
      nb_bytes_init(&bb);
      encode_ok(MULTI[b], &ra, base, &bb);
      nb_records rb;
      nb_records_init(&rb);
      decode_ok(MULTI[b], &bb, base, &rb);
      t_assert_same(orig, &rb);
      nb_records_deinit(&rb);
      nb_bytes_free(&bb);
    }
    nb_records_deinit(&ra);
    nb_bytes_free(&ba);
  }
}

/* The records under `prefix`, copied. */
static void subset(const nb_records *all, const char *prefix, nb_records *out) {
  nb_path p = t_path(prefix);
  for (size_t k = 0; k < all->len; k++) {
    if (!nb_path_is_prefix(&p, &all->items[k].path)) continue;
    nb_value v;
    assert_int_equal(nb_value_copy(&v, &all->items[k].value), NB_OK);
    assert_int_equal(nb_records_add(out, &all->items[k].path, &v), NB_OK);
  }
}

static void test_device(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  device_records(&r);
  check_matrix(&r, "/3/0");
  check_matrix(&r, "/3");
  nb_records sub;
  nb_records_init(&sub);
  subset(&r, "/3/0/7", &sub);
  check_matrix(&sub, "/3/0/7");
  nb_records_deinit(&sub);
  nb_records_init(&sub);
  subset(&r, "/3/0/7/1", &sub);
  check_matrix(&sub, "/3/0/7/1");
  nb_records_deinit(&sub);
  nb_records_init(&sub);
  subset(&r, "/3/0/0", &sub);
  check_matrix(&sub, "/3/0/0");
  nb_records_deinit(&sub);
  nb_records_deinit(&r);
}

static void test_all_types(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  typed_records(&r);
  check_matrix(&r, "/65000");
  nb_records sub;
  nb_records_init(&sub);
  subset(&r, "/65000/1", &sub);
  check_matrix(&sub, "/65000/1");
  nb_records_deinit(&sub);
  nb_records_deinit(&r);
}

/* Each single-instance value and resource instance: text/plain and CBOR give the same value as
 * the multi formats at that path. */
static void test_single_values(void **state) {
  (void)state;
  nb_records all;
  nb_records_init(&all);
  typed_records(&all);
  static const int SINGLE[] = {NB_COAP_CF_TEXT, NB_COAP_CF_CBOR};
  for (size_t k = 0; k < all.len; k++) {
    char path[NB_PATH_STRLEN];
    nb_path_format(&all.items[k].path, path, sizeof path);
    nb_records one;
    nb_records_init(&one);
    subset(&all, path, &one);
    assert_int_equal(one.len, 1);
    for (size_t f = 0; f < 2; f++) {
      nb_bytes b;
      nb_bytes_init(&b);
      encode_ok(SINGLE[f], &one, path, &b);
      nb_records back;
      nb_records_init(&back);
      decode_ok(SINGLE[f], &b, path, &back);
      t_assert_same(&one, &back);
      nb_records_deinit(&back);
      nb_bytes_free(&b);
    }
    check_matrix(&one, path);
    if (one.items[0].value.type == NB_VT_OPAQUE) {
      nb_bytes b;
      nb_bytes_init(&b);
      encode_ok(NB_COAP_CF_OCTET_STREAM, &one, path, &b);
      nb_records back;
      nb_records_init(&back);
      decode_ok(NB_COAP_CF_OCTET_STREAM, &b, path, &back);
      t_assert_same(&one, &back);
      nb_records_deinit(&back);
      nb_bytes_free(&b);
    }
    nb_records_deinit(&one);
  }
  nb_records_deinit(&all);
}

/* Decoders agree on what they reject: a value of the wrong type is 4.00 in every format. */
static void test_same_rejection(void **state) {
  (void)state;
  /* "abc" as the Battery Level (an Integer) in each format. */
  t_reject_hex(NB_COAP_CF_LWM2M_TLV, "C3 09 61 62 63", "/3/0", model, NB_COAP_BAD_REQUEST);
  t_reject_text(NB_COAP_CF_LWM2M_JSON, "{\"e\":[{\"n\":\"9\",\"sv\":\"abc\"}]}", "/3/0", model,
                NB_COAP_BAD_REQUEST);
  t_reject_text(NB_COAP_CF_SENML_JSON, "[{\"n\":\"9\",\"vs\":\"abc\"}]", "/3/0", model,
                NB_COAP_BAD_REQUEST);
  t_reject_hex(NB_COAP_CF_SENML_CBOR, "81 A2 00 61 39 03 63 61 62 63", "/3/0", model,
               NB_COAP_BAD_REQUEST);
  t_reject_text(NB_COAP_CF_TEXT, "abc", "/3/0/9", model, NB_COAP_BAD_REQUEST);
  t_reject_hex(NB_COAP_CF_CBOR, "63 61 62 63", "/3/0/9", model, NB_COAP_BAD_REQUEST);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_device),
      cmocka_unit_test(test_all_types),
      cmocka_unit_test(test_single_values),
      cmocka_unit_test(test_same_rejection),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
