/* Helpers for the content-format tests (included by tests/unit/test_lwm2m_*.c of the formats):
 * a model with a test object holding every type, the spec's objects 65/66, hex, record builders
 * and comparisons. Header-only: each test program includes it once. */
#ifndef NB_LWM2M_FMT_TESTUTIL_H
#define NB_LWM2M_FMT_TESTUTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coap/msg.h"
#include "lwm2m/format.h"
#include "lwm2m/model.h"

#define T_FN static inline __attribute__((unused))
#define T_DATA static const __attribute__((unused))

/* Test object 65000: resource r holds type T single, r + 10 the same type multiple. */
#define T_OBJ 65000
enum {
  T_INT = 0,
  T_UINT = 1,
  T_FLOAT = 2,
  T_BOOL = 3,
  T_STR = 4,
  T_OPAQUE = 5,
  T_TIME = 6,
  T_OBJLNK = 7,
  T_CORELNK = 8,
  T_MULTI = 10
};

T_DATA nb_resource_def t_res[] = {
    {T_INT, "Int", NB_OP_RW, false, false, NB_VT_INT, NULL, NULL},
    {T_UINT, "Uint", NB_OP_RW, false, false, NB_VT_UINT, NULL, NULL},
    {T_FLOAT, "Float", NB_OP_RW, false, false, NB_VT_FLOAT, NULL, NULL},
    {T_BOOL, "Bool", NB_OP_RW, false, false, NB_VT_BOOL, NULL, NULL},
    {T_STR, "Str", NB_OP_RW, false, false, NB_VT_STRING, NULL, NULL},
    {T_OPAQUE, "Opaque", NB_OP_RW, false, false, NB_VT_OPAQUE, NULL, NULL},
    {T_TIME, "Time", NB_OP_RW, false, false, NB_VT_TIME, NULL, NULL},
    {T_OBJLNK, "Objlnk", NB_OP_RW, false, false, NB_VT_OBJLNK, NULL, NULL},
    {T_CORELNK, "Corelnk", NB_OP_RW, false, false, NB_VT_CORELNK, NULL, NULL},
    {9, "Exec", NB_OP_E, false, false, NB_VT_NONE, NULL, NULL},
    {T_MULTI + T_INT, "Ints", NB_OP_RW, true, false, NB_VT_INT, NULL, NULL},
    {T_MULTI + T_UINT, "Uints", NB_OP_RW, true, false, NB_VT_UINT, NULL, NULL},
    {T_MULTI + T_FLOAT, "Floats", NB_OP_RW, true, false, NB_VT_FLOAT, NULL, NULL},
    {T_MULTI + T_BOOL, "Bools", NB_OP_RW, true, false, NB_VT_BOOL, NULL, NULL},
    {T_MULTI + T_STR, "Strs", NB_OP_RW, true, false, NB_VT_STRING, NULL, NULL},
    {T_MULTI + T_OPAQUE, "Opaques", NB_OP_RW, true, false, NB_VT_OPAQUE, NULL, NULL},
    {T_MULTI + T_TIME, "Times", NB_OP_RW, true, false, NB_VT_TIME, NULL, NULL},
    {T_MULTI + T_OBJLNK, "Objlnks", NB_OP_RW, true, false, NB_VT_OBJLNK, NULL, NULL},
    {T_MULTI + T_CORELNK, "Corelnks", NB_OP_RW, true, false, NB_VT_CORELNK, NULL, NULL},
};

/* Objects 65 and 66 of the LwM2M 1.0 specification's Objlnk TLV examples. */
T_DATA nb_resource_def t_res65[] = {
    {0, "res0", NB_OP_R, true, false, NB_VT_OBJLNK, NULL, NULL},
    {1, "res1", NB_OP_R, false, false, NB_VT_STRING, NULL, NULL},
    {2, "res2", NB_OP_R, false, false, NB_VT_INT, NULL, NULL},
};
T_DATA nb_resource_def t_res66[] = {
    {0, "res0", NB_OP_R, false, false, NB_VT_STRING, NULL, NULL},
    {1, "res1", NB_OP_R, false, false, NB_VT_STRING, NULL, NULL},
    {2, "res2", NB_OP_R, false, false, NB_VT_OBJLNK, NULL, NULL},
};

T_FN void t_add_def(nb_model *m, uint16_t id, const char *name, const nb_resource_def *res,
                    size_t n) {
  nb_object_def def = {id, name, "1.0", NULL, true, false, res, n, NULL};
  nb_object_def *copy = nb_object_def_dup(&def);
  assert_non_null(copy);
  assert_int_equal(nb_model_add(m, copy), NB_OK);
}

/* Built-in objects plus 65, 66 and the test object. */
T_FN nb_model *t_model(void) {
  nb_model *m = nb_model_new();
  assert_non_null(m);
  t_add_def(m, T_OBJ, "Test", t_res, sizeof t_res / sizeof t_res[0]);
  t_add_def(m, 65, "Obj65", t_res65, 3);
  t_add_def(m, 66, "Obj66", t_res66, 3);
  return m;
}

/* A model for the tests of a file: t_model() built by the group setup, freed by its teardown. */
static nb_model *t_shared_model __attribute__((unused));

T_FN int t_group_setup(void **state) {
  (void)state;
  t_shared_model = t_model();
  return t_shared_model ? 0 : -1;
}

T_FN int t_group_teardown(void **state) {
  (void)state;
  nb_model_free(t_shared_model);
  t_shared_model = NULL;
  return 0;
}

T_FN nb_path t_path(const char *text) {
  nb_path p;
  assert_int_equal(nb_path_parse(text, &p), NB_OK);
  return p;
}

/* Hex with optional spaces/newlines into a heap buffer. */
T_FN uint8_t *t_hex(const char *hex, size_t *len) {
  uint8_t *out = malloc(strlen(hex) / 2 + 1);
  assert_non_null(out);
  size_t n = 0;
  int hi = -1;
  for (const char *c = hex; *c; c++) {
    int d;
    if (*c >= '0' && *c <= '9')
      d = *c - '0';
    else if (*c >= 'a' && *c <= 'f')
      d = *c - 'a' + 10;
    else if (*c >= 'A' && *c <= 'F')
      d = *c - 'A' + 10;
    else
      continue;
    if (hi < 0)
      hi = d;
    else
      out[n++] = (uint8_t)(hi << 4 | d), hi = -1;
  }
  assert_true(hi < 0);
  *len = n;
  return out;
}

T_FN void t_assert_bytes(const nb_bytes *b, const uint8_t *want, size_t len) {
  if (b->len != len || memcmp(b->data, want, len) != 0) {
    fprintf(stderr, "got  (%zu):", b->len);
    for (size_t k = 0; k < b->len; k++) fprintf(stderr, " %02X", b->data[k]);
    fprintf(stderr, "\nwant (%zu):", len);
    for (size_t k = 0; k < len; k++) fprintf(stderr, " %02X", want[k]);
    fprintf(stderr, "\n");
    fail();
  }
}

T_FN void t_assert_hex(const nb_bytes *b, const char *hex) {
  size_t len;
  uint8_t *want = t_hex(hex, &len);
  t_assert_bytes(b, want, len);
  free(want);
}

T_FN void t_assert_text(const nb_bytes *b, const char *text) {
  t_assert_bytes(b, (const uint8_t *)text, strlen(text));
}

/* Record builders (values moved into the list). */
T_FN void t_add(nb_records *r, const char *path, nb_value v) {
  nb_path p = t_path(path);
  assert_int_equal(nb_records_add(r, &p, &v), NB_OK);
}

T_FN void t_add_str(nb_records *r, const char *path, const char *s) {
  nb_value v = nb_value_none();
  assert_int_equal(nb_value_set_string(&v, s, strlen(s)), NB_OK);
  t_add(r, path, v);
}

T_FN void t_add_opaque(nb_records *r, const char *path, const uint8_t *d, size_t n) {
  nb_value v = nb_value_none();
  assert_int_equal(nb_value_set_opaque(&v, d, n), NB_OK);
  t_add(r, path, v);
}

T_FN void t_add_corelnk(nb_records *r, const char *path, const char *s) {
  nb_value v = nb_value_none();
  assert_int_equal(nb_value_set_corelnk(&v, s, strlen(s)), NB_OK);
  t_add(r, path, v);
}

/* The record at path, failing the test when absent. */
T_FN const nb_value *t_get(const nb_records *r, const char *path) {
  nb_path p = t_path(path);
  const nb_record *rec = nb_records_find(r, &p);
  if (!rec) fprintf(stderr, "no record at %s\n", path);
  assert_non_null(rec);
  return &rec->value;
}

T_FN void t_expect_int(const nb_records *r, const char *path, int64_t want) {
  const nb_value *v = t_get(r, path);
  assert_int_equal(v->type, NB_VT_INT);
  assert_true(v->v.i == want);
}

T_FN void t_expect_str(const nb_records *r, const char *path, const char *want) {
  const nb_value *v = t_get(r, path);
  assert_int_equal(v->type, NB_VT_STRING);
  assert_int_equal(v->v.bytes.len, strlen(want));
  assert_string_equal((const char *)v->v.bytes.data, want);
}

T_FN void t_expect_time(const nb_records *r, const char *path, int64_t want) {
  const nb_value *v = t_get(r, path);
  assert_int_equal(v->type, NB_VT_TIME);
  assert_true(v->v.t == want);
}

/* Same records in any order (values compared with nb_value_equal). */
T_FN void t_assert_same(const nb_records *a, const nb_records *b) {
  if (a->len != b->len) fprintf(stderr, "record counts differ: %zu vs %zu\n", a->len, b->len);
  assert_int_equal(a->len, b->len);
  for (size_t k = 0; k < a->len; k++) {
    const nb_record *other = nb_records_find(b, &a->items[k].path);
    char buf[NB_PATH_STRLEN];
    nb_path_format(&a->items[k].path, buf, sizeof buf);
    if (!other || !nb_value_equal(&a->items[k].value, &other->value)) {
      char x[256] = "", y[256] = "";
      nb_value_format(&a->items[k].value, x, sizeof x);
      if (other) nb_value_format(&other->value, y, sizeof y);
      fprintf(stderr, "record %s differs: %s (%s) vs %s (%s)\n", buf, x,
              nb_value_type_name(a->items[k].value.type), other ? y : "(absent)",
              other ? nb_value_type_name(other->value.type) : "");
      fail();
    }
  }
}

/* Decodes through the front door; returns the nb_err and fills fe. */
T_FN nb_err t_decode(int cf, const void *buf, size_t len, const char *base, const nb_model *m,
                     nb_records *out, nb_format_error *fe) {
  nb_path p = t_path(base);
  nb_format_opts opts = {&p, m, 0, NULL, NULL, NULL};
  fe->code = 0;
  fe->reason = NULL;
  return nb_format_decode_ex(cf, (const uint8_t *)buf, len, &opts, out, fe);
}

T_FN nb_err t_encode(int cf, const nb_records *in, const char *base, const nb_model *m,
                     nb_bytes *out, nb_format_error *fe) {
  nb_path p = t_path(base);
  nb_format_opts opts = {&p, m, 0, NULL, NULL, NULL};
  fe->code = 0;
  fe->reason = NULL;
  return nb_format_encode_ex(cf, in, &opts, out, fe);
}

/* Decoding must fail with this CoAP code, a reason, and leave a pre-filled list untouched. */
T_FN void t_reject(int cf, const void *buf, size_t len, const char *base, const nb_model *m,
                   uint8_t code) {
  nb_records r;
  nb_records_init(&r);
  t_add(&r, "/9999/9/9", nb_value_int(42));
  nb_format_error fe;
  nb_err e = t_decode(cf, buf, len, base, m, &r, &fe);
  if (e == NB_OK || fe.code != code) {
    char c1[8], c2[8];
    fprintf(stderr, "expected rejection %s of %.*s... under %s; got err=%d code=%s reason=%s\n",
            nb_coap_code_format(code, c1), (int)(len > 40 ? 40 : len), (const char *)buf, base, e,
            e == NB_OK ? "-" : nb_coap_code_format(fe.code, c2), fe.reason ? fe.reason : "");
  }
  assert_int_not_equal(e, NB_OK);
  assert_int_equal(fe.code, code);
  assert_non_null(fe.reason);
  assert_int_equal(r.len, 1);
  assert_int_equal(r.items[0].value.v.i, 42);
  nb_records_deinit(&r);
}

T_FN void t_reject_hex(int cf, const char *hex, const char *base, const nb_model *m, uint8_t code) {
  size_t len;
  uint8_t *buf = t_hex(hex, &len);
  t_reject(cf, buf, len, base, m, code);
  free(buf);
}

T_FN void t_reject_text(int cf, const char *text, const char *base, const nb_model *m,
                        uint8_t code) {
  t_reject(cf, text, strlen(text), base, m, code);
}

#endif
