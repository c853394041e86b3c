/* LwM2M values: ownership, equality, every allowed conversion and the refused ones, text forms,
 * record lists (under ASan, so leaks and double frees fail the test). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lwm2m/value.h"

static void test_constructors_and_names(void **state) {
  (void)state;
  nb_value v = nb_value_int(-5);
  assert_int_equal(v.type, NB_VT_INT);
  assert_int_equal(v.v.i, -5);
  v = nb_value_uint(UINT64_MAX);
  assert_true(v.v.u == UINT64_MAX);
  v = nb_value_float(1.5);
  assert_true(v.v.f == 1.5);
  v = nb_value_bool(true);
  assert_true(v.v.b);
  v = nb_value_time(1700000000);
  assert_int_equal(v.type, NB_VT_TIME);
  v = nb_value_objlnk(3, 65535);
  assert_int_equal(v.v.lnk.obj, 3);
  assert_int_equal(v.v.lnk.inst, 65535);
  const char *names[] = {"none",   "Integer", "Unsigned Integer", "Float",  "Boolean", "String",
                         "Opaque", "Time",    "Objlnk",           "Corelnk"};
  for (int t = NB_VT_NONE; t <= NB_VT_CORELNK; t++) {
    assert_string_equal(nb_value_type_name((nb_value_type)t), names[t]);
    nb_value_type back;
    assert_int_equal(nb_value_type_parse(names[t], &back), NB_OK);
    assert_int_equal(back, t);
  }
  nb_value_type t;
  assert_int_equal(nb_value_type_parse("", &t), NB_OK);
  assert_int_equal(t, NB_VT_NONE);
  assert_int_equal(nb_value_type_parse("integer", &t), NB_ERR_INVAL);
  assert_int_equal(nb_value_type_parse("Double", &t), NB_ERR_INVAL);
}

static void test_bytes_ownership(void **state) {
  (void)state;
  nb_value v = nb_value_none();
  assert_int_equal(nb_value_set_string(&v, "hello", 5), NB_OK);
  assert_int_equal(v.type, NB_VT_STRING);
  assert_int_equal(v.v.bytes.len, 5);
  assert_string_equal((char *)v.v.bytes.data, "hello"); /* NUL-terminated */
  /* Replacing frees the old bytes (ASan would report the leak), even from its own bytes. */
  assert_int_equal(nb_value_set_string(&v, (char *)v.v.bytes.data + 1, 3), NB_OK);
  assert_string_equal((char *)v.v.bytes.data, "ell");
  const uint8_t raw[] = {0, 1, 0xff};
  assert_int_equal(nb_value_set_opaque(&v, raw, 3), NB_OK);
  assert_int_equal(v.type, NB_VT_OPAQUE);
  assert_memory_equal(v.v.bytes.data, raw, 3);
  assert_int_equal(v.v.bytes.data[3], 0);
  assert_int_equal(nb_value_set_corelnk(&v, "</3/0>", 6), NB_OK);
  assert_int_equal(v.type, NB_VT_CORELNK);
  nb_value copy;
  assert_int_equal(nb_value_copy(&copy, &v), NB_OK);
  assert_ptr_not_equal(copy.v.bytes.data, v.v.bytes.data);
  assert_true(nb_value_equal(&copy, &v));
  nb_value_deinit(&v);
  assert_int_equal(v.type, NB_VT_NONE);
  nb_value_deinit(&v); /* twice is fine */
  assert_string_equal((char *)copy.v.bytes.data, "</3/0>");
  nb_value_deinit(&copy);
  assert_int_equal(nb_value_set_string(&v, NULL, 0), NB_OK);
  assert_int_equal(v.v.bytes.len, 0);
  assert_string_equal((char *)v.v.bytes.data, "");
  nb_value_deinit(&v);
}

static void test_equal(void **state) {
  (void)state;
  nb_value a = nb_value_int(1), b = nb_value_uint(1);
  assert_false(nb_value_equal(&a, &b)); /* types differ */
  b = nb_value_int(1);
  assert_true(nb_value_equal(&a, &b));
  b = nb_value_int(2);
  assert_false(nb_value_equal(&a, &b));
  a = nb_value_float(NAN);
  assert_false(nb_value_equal(&a, &a));
  a = nb_value_objlnk(1, 2);
  b = nb_value_objlnk(1, 3);
  assert_false(nb_value_equal(&a, &b));
  nb_value s = nb_value_none(), o = nb_value_none();
  nb_value_set_string(&s, "ab", 2);
  nb_value_set_opaque(&o, (const uint8_t *)"ab", 2);
  assert_false(nb_value_equal(&s, &o));
  nb_value t = nb_value_none();
  nb_value_set_string(&t, "ac", 2);
  assert_false(nb_value_equal(&s, &t));
  nb_value_deinit(&s);
  nb_value_deinit(&o);
  nb_value_deinit(&t);
}

/* Converts and checks the outcome; on success the result equals `want`. */
static void expect(const nb_value *in, nb_value_type to, nb_err err, const nb_value *want,
                   int line) {
  nb_value out;
  nb_err got = nb_value_convert(in, to, &out);
  if (got != err) {
    fail_msg("line %d: %s -> %s gave %s, want %s", line, nb_value_type_name(in->type),
             nb_value_type_name(to), nb_err_name(got), nb_err_name(err));
  }
  if (err == NB_OK && want != NULL && !nb_value_equal(&out, want)) {
    char a[64], b[64];
    nb_value_format(&out, a, sizeof a);
    nb_value_format(want, b, sizeof b);
    fail_msg("line %d: got %s (%s), want %s (%s)", line, a, nb_value_type_name(out.type), b,
             nb_value_type_name(want->type));
  }
  if (err != NB_OK) assert_int_equal(out.type, NB_VT_NONE);
  nb_value_deinit(&out);
}
#define EXPECT(in, to, err, want)            \
  do {                                       \
    nb_value in_ = (in);                     \
    nb_value want_ = (want);                 \
    expect(&in_, to, err, &want_, __LINE__); \
  } while (0)
#define REFUSE(in, to, err)                \
  do {                                     \
    nb_value in_ = (in);                   \
    expect(&in_, to, err, NULL, __LINE__); \
  } while (0)

static void test_convert_numbers(void **state) {
  (void)state;
  EXPECT(nb_value_int(5), NB_VT_UINT, NB_OK, nb_value_uint(5));
  EXPECT(nb_value_int(0), NB_VT_UINT, NB_OK, nb_value_uint(0));
  REFUSE(nb_value_int(-1), NB_VT_UINT, NB_ERR_RANGE);
  EXPECT(nb_value_uint((uint64_t)INT64_MAX), NB_VT_INT, NB_OK, nb_value_int(INT64_MAX));
  REFUSE(nb_value_uint((uint64_t)INT64_MAX + 1), NB_VT_INT, NB_ERR_RANGE);
  EXPECT(nb_value_int(INT64_MIN), NB_VT_INT, NB_OK, nb_value_int(INT64_MIN));
  /* int -> float only when exact. */
  EXPECT(nb_value_int(-42), NB_VT_FLOAT, NB_OK, nb_value_float(-42.0));
  EXPECT(nb_value_int(1LL << 53), NB_VT_FLOAT, NB_OK, nb_value_float(9007199254740992.0));
  REFUSE(nb_value_int((1LL << 53) + 1), NB_VT_FLOAT, NB_ERR_RANGE);
  EXPECT(nb_value_int(INT64_MIN), NB_VT_FLOAT, NB_OK, nb_value_float(-9223372036854775808.0));
  REFUSE(nb_value_int(INT64_MAX), NB_VT_FLOAT, NB_ERR_RANGE);
  REFUSE(nb_value_uint(UINT64_MAX), NB_VT_FLOAT, NB_ERR_RANGE);
  EXPECT(nb_value_uint(1ULL << 63), NB_VT_FLOAT, NB_OK, nb_value_float(9223372036854775808.0));
  /* float -> integers only when integral and in range. */
  EXPECT(nb_value_float(3.0), NB_VT_INT, NB_OK, nb_value_int(3));
  EXPECT(nb_value_float(-3.0), NB_VT_INT, NB_OK, nb_value_int(-3));
  EXPECT(nb_value_float(-0.0), NB_VT_UINT, NB_OK, nb_value_uint(0));
  REFUSE(nb_value_float(3.5), NB_VT_INT, NB_ERR_RANGE);
  REFUSE(nb_value_float(-3.0), NB_VT_UINT, NB_ERR_RANGE);
  REFUSE(nb_value_float(NAN), NB_VT_INT, NB_ERR_RANGE);
  REFUSE(nb_value_float(INFINITY), NB_VT_UINT, NB_ERR_RANGE);
  REFUSE(nb_value_float(1e300), NB_VT_INT, NB_ERR_RANGE);
  REFUSE(nb_value_float(9223372036854775808.0), NB_VT_INT, NB_ERR_RANGE);
  EXPECT(nb_value_float(-9223372036854775808.0), NB_VT_INT, NB_OK, nb_value_int(INT64_MIN));
  EXPECT(nb_value_float(18446744073709549568.0), NB_VT_UINT, NB_OK,
         nb_value_uint(18446744073709549568ULL));
  REFUSE(nb_value_float(18446744073709551616.0), NB_VT_UINT, NB_ERR_RANGE);
  REFUSE(nb_value_float(1.0), NB_VT_BOOL, NB_ERR_INVAL);
  /* time <-> integers. */
  EXPECT(nb_value_time(1700000000), NB_VT_INT, NB_OK, nb_value_int(1700000000));
  EXPECT(nb_value_int(-1), NB_VT_TIME, NB_OK, nb_value_time(-1));
  EXPECT(nb_value_uint(10), NB_VT_TIME, NB_OK, nb_value_time(10));
  REFUSE(nb_value_uint(UINT64_MAX), NB_VT_TIME, NB_ERR_RANGE);
  REFUSE(nb_value_time(-5), NB_VT_UINT, NB_ERR_RANGE);
  EXPECT(nb_value_time(5), NB_VT_FLOAT, NB_OK, nb_value_float(5.0));
  EXPECT(nb_value_float(1.7e9), NB_VT_TIME, NB_OK, nb_value_time(1700000000));
  REFUSE(nb_value_float(1.5), NB_VT_TIME, NB_ERR_RANGE);
}

static void test_convert_bool_objlnk(void **state) {
  (void)state;
  EXPECT(nb_value_int(1), NB_VT_BOOL, NB_OK, nb_value_bool(true));
  EXPECT(nb_value_uint(0), NB_VT_BOOL, NB_OK, nb_value_bool(false));
  REFUSE(nb_value_int(2), NB_VT_BOOL, NB_ERR_RANGE);
  REFUSE(nb_value_int(-1), NB_VT_BOOL, NB_ERR_RANGE);
  EXPECT(nb_value_bool(true), NB_VT_INT, NB_OK, nb_value_int(1));
  EXPECT(nb_value_bool(false), NB_VT_UINT, NB_OK, nb_value_uint(0));
  REFUSE(nb_value_bool(true), NB_VT_FLOAT, NB_ERR_INVAL);
  REFUSE(nb_value_bool(true), NB_VT_TIME, NB_ERR_INVAL);
  REFUSE(nb_value_time(1), NB_VT_BOOL, NB_ERR_INVAL);
  REFUSE(nb_value_bool(true), NB_VT_OBJLNK, NB_ERR_INVAL);
  REFUSE(nb_value_objlnk(1, 2), NB_VT_INT, NB_ERR_INVAL);
  REFUSE(nb_value_int(5), NB_VT_OBJLNK, NB_ERR_INVAL);
  REFUSE(nb_value_int(5), NB_VT_OPAQUE, NB_ERR_INVAL);
  REFUSE(nb_value_int(5), NB_VT_CORELNK, NB_ERR_INVAL);
  REFUSE(nb_value_none(), NB_VT_INT, NB_ERR_INVAL);
  REFUSE(nb_value_int(5), NB_VT_NONE, NB_ERR_INVAL);
  EXPECT(nb_value_none(), NB_VT_NONE, NB_OK, nb_value_none());
  REFUSE(nb_value_int(5), (nb_value_type)99, NB_ERR_INVAL);
}

/* Converts a C string held as STRING to `to`. */
static void from_text(const char *s, nb_value_type to, nb_err err, nb_value want, int line) {
  nb_value in = nb_value_none();
  assert_int_equal(nb_value_set_string(&in, s, strlen(s)), NB_OK);
  expect(&in, to, err, err == NB_OK ? &want : NULL, line);
  nb_value_deinit(&in);
}
#define TEXT(s, to, err, want) from_text(s, to, err, want, __LINE__)

static void test_convert_from_string(void **state) {
  (void)state;
  nb_value none = nb_value_none();
  TEXT("42", NB_VT_INT, NB_OK, nb_value_int(42));
  TEXT("-42", NB_VT_INT, NB_OK, nb_value_int(-42));
  TEXT("+7", NB_VT_INT, NB_OK, nb_value_int(7));
  TEXT("-9223372036854775808", NB_VT_INT, NB_OK, nb_value_int(INT64_MIN));
  TEXT("9223372036854775808", NB_VT_INT, NB_ERR_RANGE, none);
  TEXT(" 42", NB_VT_INT, NB_ERR_INVAL, none);
  TEXT("42 ", NB_VT_INT, NB_ERR_INVAL, none);
  TEXT("42x", NB_VT_INT, NB_ERR_INVAL, none);
  TEXT("", NB_VT_INT, NB_ERR_INVAL, none);
  TEXT("4.0", NB_VT_INT, NB_ERR_INVAL, none);
  TEXT("18446744073709551615", NB_VT_UINT, NB_OK, nb_value_uint(UINT64_MAX));
  TEXT("18446744073709551616", NB_VT_UINT, NB_ERR_RANGE, none);
  TEXT("-1", NB_VT_UINT, NB_ERR_RANGE, none);
  TEXT("-0", NB_VT_UINT, NB_OK, nb_value_uint(0));
  TEXT("3.5", NB_VT_FLOAT, NB_OK, nb_value_float(3.5));
  TEXT("-1e3", NB_VT_FLOAT, NB_OK, nb_value_float(-1000.0));
  TEXT("1e999", NB_VT_FLOAT, NB_ERR_RANGE, none);
  TEXT("nan", NB_VT_FLOAT, NB_ERR_INVAL, none);
  TEXT("inf", NB_VT_FLOAT, NB_ERR_INVAL, none);
  TEXT("0x10", NB_VT_FLOAT, NB_ERR_INVAL, none);
  TEXT("1.5.5", NB_VT_FLOAT, NB_ERR_INVAL, none);
  TEXT("true", NB_VT_BOOL, NB_OK, nb_value_bool(true));
  TEXT("0", NB_VT_BOOL, NB_OK, nb_value_bool(false));
  TEXT("yes", NB_VT_BOOL, NB_ERR_INVAL, none);
  TEXT("TRUE", NB_VT_BOOL, NB_ERR_INVAL, none);
  TEXT("1700000000", NB_VT_TIME, NB_OK, nb_value_time(1700000000));
  TEXT("3:0", NB_VT_OBJLNK, NB_OK, nb_value_objlnk(3, 0));
  TEXT("65535:65535", NB_VT_OBJLNK, NB_OK, nb_value_objlnk(65535, 65535));
  TEXT("3:65536", NB_VT_OBJLNK, NB_ERR_RANGE, none);
  TEXT("3:", NB_VT_OBJLNK, NB_ERR_INVAL, none);
  TEXT(":3", NB_VT_OBJLNK, NB_ERR_INVAL, none);
  TEXT("3:0:1", NB_VT_OBJLNK, NB_ERR_INVAL, none);
  TEXT("3-0", NB_VT_OBJLNK, NB_ERR_INVAL, none);
  /* A NUL inside the string is not a number. */
  nb_value in = nb_value_none();
  nb_value_set_string(&in, "12\0003", 4);
  expect(&in, NB_VT_INT, NB_ERR_INVAL, NULL, __LINE__);
  nb_value_deinit(&in);
}

static void test_convert_bytes(void **state) {
  (void)state;
  nb_value s = nb_value_none(), want = nb_value_none(), out;
  nb_value_set_string(&s, "</3/0>", 6);
  nb_value_set_corelnk(&want, "</3/0>", 6);
  expect(&s, NB_VT_CORELNK, NB_OK, &want, __LINE__);
  expect(&want, NB_VT_STRING, NB_OK, &s, __LINE__);
  nb_value op = nb_value_none();
  nb_value_set_opaque(&op, (const uint8_t *)"</3/0>", 6);
  expect(&s, NB_VT_OPAQUE, NB_OK, &op, __LINE__);
  expect(&op, NB_VT_STRING, NB_OK, &s, __LINE__);
  expect(&op, NB_VT_INT, NB_ERR_INVAL, NULL, __LINE__);
  expect(&op, NB_VT_CORELNK, NB_ERR_INVAL, NULL, __LINE__);
  expect(&want, NB_VT_OPAQUE, NB_ERR_INVAL, NULL, __LINE__);
  expect(&want, NB_VT_INT, NB_ERR_INVAL, NULL, __LINE__);
  /* Opaque bytes become a string only when they are UTF-8. */
  const uint8_t bad_utf8[][4] = {{0xff}, {0xc0, 0x80}, {0xed, 0xa0, 0x80}, {0xe2, 0x82}};
  const size_t bad_len[] = {1, 2, 3, 2};
  for (size_t k = 0; k < 4; k++) {
    nb_value b = nb_value_none();
    nb_value_set_opaque(&b, bad_utf8[k], bad_len[k]);
    expect(&b, NB_VT_STRING, NB_ERR_INVAL, NULL, __LINE__);
    nb_value_deinit(&b);
  }
  nb_value euro = nb_value_none();
  nb_value_set_opaque(&euro, (const uint8_t *)"\xe2\x82\xac", 3);
  assert_int_equal(nb_value_convert(&euro, NB_VT_STRING, &out), NB_OK);
  assert_string_equal((char *)out.v.bytes.data, "\xe2\x82\xac");
  nb_value_deinit(&out);
  nb_value_deinit(&euro);
  nb_value_deinit(&s);
  nb_value_deinit(&want);
  nb_value_deinit(&op);
}

static void assert_text(nb_value v, const char *want) {
  char buf[128];
  assert_int_equal(nb_value_format(&v, buf, sizeof buf), NB_OK);
  assert_string_equal(buf, want);
  nb_value out;
  assert_int_equal(nb_value_convert(&v, NB_VT_STRING, &out), NB_OK);
  assert_int_equal(out.type, NB_VT_STRING);
  assert_string_equal((char *)out.v.bytes.data, want);
  /* And back, for the types that read text. */
  if (v.type != NB_VT_STRING && v.type != NB_VT_NONE) {
    nb_value back;
    assert_int_equal(nb_value_convert(&out, v.type, &back), NB_OK);
    assert_true(nb_value_equal(&back, &v));
  }
  nb_value_deinit(&out);
}

static void test_text_forms(void **state) {
  (void)state;
  assert_text(nb_value_int(-5), "-5");
  assert_text(nb_value_int(INT64_MIN), "-9223372036854775808");
  assert_text(nb_value_uint(UINT64_MAX), "18446744073709551615");
  assert_text(nb_value_float(0.1), "0.1");
  assert_text(nb_value_float(20.5), "20.5");
  assert_text(nb_value_float(1.0 / 3.0), "0.3333333333333333");
  assert_text(nb_value_float(1e300), "1e+300");
  assert_text(nb_value_bool(true), "true");
  assert_text(nb_value_bool(false), "false");
  assert_text(nb_value_time(1700000000), "1700000000");
  assert_text(nb_value_objlnk(3, 0), "3:0");
  char buf[8];
  nb_value op = nb_value_none();
  nb_value_set_opaque(&op, (const uint8_t *)"\x01\xab\xff", 3);
  assert_int_equal(nb_value_format(&op, buf, 7), NB_OK);
  assert_string_equal(buf, "01abff");
  assert_int_equal(nb_value_format(&op, buf, 6), NB_ERR_OVERFLOW);
  nb_value_deinit(&op);
  nb_value big = nb_value_int(-1234567);
  char nine[9]; /* "-1234567" and its NUL */
  assert_int_equal(nb_value_format(&big, nine, 9), NB_OK);
  assert_string_equal(nine, "-1234567");
  assert_int_equal(nb_value_format(&big, nine, 8), NB_ERR_OVERFLOW);
  assert_int_equal(nb_value_format(&big, buf, 0), NB_ERR_OVERFLOW);
}

static void test_records(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  const char *order[] = {"/3/0/1", "/3/0/0", "/1/0/1", "/3/0/11/1", "/3/0/11/0", "/3/0/0"};
  for (size_t k = 0; k < 6; k++) {
    nb_path p;
    assert_int_equal(nb_path_parse(order[k], &p), NB_OK);
    nb_value v = nb_value_none();
    char text[16];
    snprintf(text, sizeof text, "v%zu", k);
    assert_int_equal(nb_value_set_string(&v, text, strlen(text)), NB_OK);
    assert_int_equal(nb_records_add(&r, &p, &v), NB_OK);
    assert_int_equal(v.type, NB_VT_NONE); /* moved */
  }
  nb_records_sort(&r);
  const char *sorted[] = {"/1/0/1", "/3/0/0", "/3/0/0", "/3/0/1", "/3/0/11/0", "/3/0/11/1"};
  const char *values[] = {"v2", "v1", "v5", "v0", "v4", "v3"}; /* stable: v1 before v5 */
  assert_int_equal(r.len, 6);
  for (size_t k = 0; k < 6; k++) {
    char buf[NB_PATH_STRLEN];
    nb_path_format(&r.items[k].path, buf, sizeof buf);
    assert_string_equal(buf, sorted[k]);
    assert_string_equal((char *)r.items[k].value.v.bytes.data, values[k]);
  }
  nb_path p = nb_path_res(3, 0, 1), missing = nb_path_res(3, 0, 2);
  const nb_record *found = nb_records_find(&r, &p);
  assert_non_null(found);
  assert_string_equal((char *)found->value.v.bytes.data, "v0");
  assert_null(nb_records_find(&r, &missing));
  nb_records_deinit(&r);
  assert_int_equal(r.len, 0);
  assert_null(r.items);
}

static void test_records_many(void **state) {
  (void)state;
  nb_records r;
  nb_records_init(&r);
  for (unsigned k = 0; k < 1000; k++) {
    nb_path p = nb_path_res(3303, (uint16_t)((k * 7919) % 1000), 5700);
    nb_value v = nb_value_int(k);
    assert_int_equal(nb_records_add(&r, &p, &v), NB_OK);
  }
  nb_records_sort(&r);
  for (size_t k = 1; k < r.len; k++) {
    assert_true(nb_path_compare(&r.items[k - 1].path, &r.items[k].path) < 0);
  }
  nb_records_deinit(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_constructors_and_names),
      cmocka_unit_test(test_bytes_ownership),
      cmocka_unit_test(test_equal),
      cmocka_unit_test(test_convert_numbers),
      cmocka_unit_test(test_convert_bool_objlnk),
      cmocka_unit_test(test_convert_from_string),
      cmocka_unit_test(test_convert_bytes),
      cmocka_unit_test(test_text_forms),
      cmocka_unit_test(test_records),
      cmocka_unit_test(test_records_many),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
