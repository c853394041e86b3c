/* LwM2M CBOR (11544) judged by an independent implementation: lwm2m_cbor_judge.py (cbor2 only,
 * written from LwM2M 1.2 TS Core 7.4.6) writes spec-shaped payloads (the Device example, keys
 * standing for several levels, every value kind, a composite answer) that our decoder must read
 * to the very records the judge lists, and reads what our encoder writes to the very records we
 * encoded; for payloads without multi-level keys our encoding is byte for byte cbor2's canonical
 * one. Skips when no python3 with cbor2 is found (scripts/install-deps installs python3-cbor2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/hex.h"
#include "coap/msg.h"
#include "lwm2m/fmtutil.h"
#include "lwm2m/format.h"
#include "nb_test.h"

typedef struct {
  char python[256];
  char judge[512];
  char dir[64];
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  *state = f;
  const char *src = nb_test_env("NB_SOURCE_DIR");
  assert_non_null(src);
  snprintf(f->judge, sizeof f->judge, "%s/tests/interop/lwm2m_cbor_judge.py", src);
  snprintf(f->dir, sizeof f->dir, "/tmp/nb-lwm2m-cbor.XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  if (!nb_test_find_python("cbor2", f->python, sizeof f->python)) return 0;
  char *argv[] = {f->python, f->judge, "vectors", f->dir, NULL};
  char *out = NULL, *err = NULL;
  int rc = nb_test_run_capture(argv, 60000, &out, &err);
  if (rc != 0) fprintf(stderr, "judge vectors failed: %s\n", err ? err : "");
  free(out);
  free(err);
  return rc == 0 ? 0 : -1;
}

static int teardown(void **state) {
  fixture *f = *state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  int rc = system(cmd);
  free(f);
  return rc == 0 ? 0 : -1;
}

static void need_python(const fixture *f) {
  if (!f->python[0]) {
    print_message("skipped: no python3 with cbor2 (scripts/install-deps installs python3-cbor2)\n");
    skip();
  }
}

static void hex_of(nb_bytes *b, const uint8_t *data, size_t len) {
  static const char digits[] = "0123456789abcdef";
  for (size_t k = 0; k < len; k++) {
    char two[2] = {digits[data[k] >> 4], digits[data[k] & 15]};
    assert_int_equal(nb_bytes_append(b, two, 2), NB_OK);
  }
}

/* One record as the judge lists it: "PATH KIND:VALUE\n". */
static void list_record(nb_bytes *b, const nb_record *r) {
  char path[NB_PATH_STRLEN], num[NB_FMT_DOUBLE_LEN + 8];
  size_t n;
  assert_int_equal(nb_path_format(&r->path, path, sizeof path), NB_OK);
  assert_int_equal(nb_bytes_appendf(b, "%s ", path), NB_OK);
  const nb_value *v = &r->value;
  switch (v->type) {
    case NB_VT_INT:
      assert_int_equal(nb_bytes_appendf(b, "int:%lld", (long long)v->v.i), NB_OK);
      break;
    case NB_VT_UINT:
      assert_int_equal(nb_bytes_appendf(b, "int:%llu", (unsigned long long)v->v.u), NB_OK);
      break;
    case NB_VT_TIME:
      assert_int_equal(nb_bytes_appendf(b, "time:%lld", (long long)v->v.t), NB_OK);
      break;
    case NB_VT_FLOAT:
      assert_int_equal(nb_fmt_double(v->v.f, true, num, &n), NB_OK);
      assert_int_equal(nb_bytes_appendf(b, "float:%.*s", (int)n, num), NB_OK);
      break;
    case NB_VT_BOOL:
      assert_int_equal(nb_bytes_appendf(b, "bool:%s", v->v.b ? "true" : "false"), NB_OK);
      break;
    case NB_VT_OBJLNK:
      n = nb_fmt_objlnk(v->v.lnk.obj, v->v.lnk.inst, num);
      assert_int_equal(nb_bytes_append_str(b, "str:"), NB_OK);
      hex_of(b, (const uint8_t *)num, n);
      break;
    case NB_VT_OPAQUE:
      assert_int_equal(nb_bytes_append_str(b, "bytes:"), NB_OK);
      hex_of(b, v->v.bytes.data, v->v.bytes.len);
      break;
    default: /* STRING, CORELNK */
      assert_int_equal(nb_bytes_append_str(b, "str:"), NB_OK);
      hex_of(b, v->v.bytes.data, v->v.bytes.len);
      break;
  }
  assert_int_equal(nb_bytes_append(b, "\n", 1), NB_OK);
}

static int by_path(const void *a, const void *b) {
  return nb_path_compare(&((const nb_record *)a)->path, &((const nb_record *)b)->path);
}

/* Our records listed the judge's way (sorted by path), NUL-terminated in b. */
static void list_records(nb_records *r, nb_bytes *b) {
  qsort(r->items, r->len, sizeof r->items[0], by_path);
  for (size_t k = 0; k < r->len; k++) list_record(b, &r->items[k]);
  assert_int_equal(nb_bytes_append(b, "", 1), NB_OK);
}

static char *in_dir(const fixture *f, const char *name, const char *ext) {
  static char buf[2][320];
  static int k;
  k ^= 1;
  snprintf(buf[k], sizeof buf[k], "%s/%s%s", f->dir, name, ext);
  return buf[k];
}

static void decode_file(const char *path, const nb_model *m, nb_records *r) {
  size_t len = 0;
  char *data = nb_test_read_file(path, &len);
  assert_non_null(data);
  nb_path root = nb_path_root();
  nb_format_error fe = {0, NULL};
  nb_format_opts o = {.base = &root, .model = m};
  nb_err e = nb_format_decode_ex(NB_COAP_CF_LWM2M_CBOR, (const uint8_t *)data, len, &o, r, &fe);
  if (e != NB_OK) fail_msg("%s: %s", path, fe.reason);
  free(data);
}

/* The judge's payloads decode to the records it lists. */
static void test_judge_payloads_decode(void **state) {
  fixture *f = *state;
  need_python(f);
  static const char *const names[] = {"device", "array_keys", "types", "composite"};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    nb_records r;
    nb_records_init(&r);
    decode_file(in_dir(f, names[k], ".cbor"), NULL, &r);
    nb_bytes ours;
    nb_bytes_init(&ours);
    list_records(&r, &ours);
    char *want = nb_test_read_file(in_dir(f, names[k], ".txt"), NULL);
    assert_non_null(want);
    if (strcmp((const char *)ours.data, want) != 0)
      fail_msg("%s: ours\n%s\njudge's\n%s", names[k], (const char *)ours.data, want);
    free(want);
    nb_bytes_free(&ours);
    nb_records_deinit(&r);
  }
}

/* What we encode, the judge reads back as the same records. */
static void judge_reads(const fixture *f, const char *name, const nb_records *in) {
  nb_bytes enc;
  nb_bytes_init(&enc);
  nb_path root = nb_path_root();
  nb_format_opts o = {.base = &root};
  nb_format_error fe = {0, NULL};
  assert_int_equal(nb_format_encode_ex(NB_COAP_CF_LWM2M_CBOR, in, &o, &enc, &fe), NB_OK);
  FILE *fp = fopen(in_dir(f, name, ".ours"), "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(enc.data, 1, enc.len, fp), enc.len);
  assert_int_equal(fclose(fp), 0);
  char *argv[] = {(char *)f->python, (char *)f->judge, "list", in_dir(f, name, ".ours"), NULL};
  char *out = NULL, *err = NULL;
  int rc = nb_test_run_capture(argv, 60000, &out, &err);
  if (rc != 0) fail_msg("%s: the judge refused our encoding: %s", name, err ? err : "");
  nb_records copy;
  nb_records_init(&copy);
  for (size_t k = 0; k < in->len; k++) {
    nb_value v;
    assert_int_equal(nb_value_copy(&v, &in->items[k].value), NB_OK);
    assert_int_equal(nb_records_add(&copy, &in->items[k].path, &v), NB_OK);
  }
  nb_bytes ours;
  nb_bytes_init(&ours);
  list_records(&copy, &ours);
  if (strcmp((const char *)ours.data, out) != 0)
    fail_msg("%s: we wrote\n%s\nthe judge read\n%s", name, (const char *)ours.data, out);
  free(out);
  free(err);
  nb_bytes_free(&ours);
  nb_bytes_free(&enc);
  nb_records_deinit(&copy);
}

static void add(nb_records *r, nb_path p, nb_value v) {
  assert_int_equal(nb_records_add(r, &p, &v), NB_OK);
}

static void add_bytes(nb_records *r, nb_path p, nb_value_type t, const void *d, size_t n) {
  nb_value v = nb_value_none();
  nb_err e = t == NB_VT_OPAQUE    ? nb_value_set_opaque(&v, d, n)
             : t == NB_VT_CORELNK ? nb_value_set_corelnk(&v, d, n)
                                  : nb_value_set_string(&v, d, n);
  assert_int_equal(e, NB_OK);
  add(r, p, v);
}

static void test_our_encoding_judged(void **state) {
  fixture *f = *state;
  need_python(f);
  nb_records r;
  nb_records_init(&r);
  add(&r, nb_path_res(65000, 0, 0), nb_value_int(INT64_MIN));
  add(&r, nb_path_res(65000, 0, 1), nb_value_uint(UINT64_MAX));
  add(&r, nb_path_res(65000, 0, 2), nb_value_float(-0.25));
  add(&r, nb_path_res(65000, 0, 3), nb_value_float(1.0e-300));
  add(&r, nb_path_res(65000, 0, 4), nb_value_bool(true));
  add_bytes(&r, nb_path_res(65000, 0, 5), NB_VT_STRING, "caf\xc3\xa9", 5);
  add_bytes(&r, nb_path_res(65000, 0, 6), NB_VT_OPAQUE, "\x00\xff", 2);
  add(&r, nb_path_res(65000, 0, 7), nb_value_time(1700000000));
  add(&r, nb_path_res(65000, 0, 8), nb_value_objlnk(3, 0));
  add_bytes(&r, nb_path_res(65000, 0, 9), NB_VT_CORELNK, "</3/0>", 6);
  add(&r, nb_path_rinst(65000, 0, 10, 7), nb_value_int(-1));
  add(&r, nb_path_rinst(65000, 0, 10, 65534), nb_value_int(65536));
  add(&r, nb_path_res(65000, 1, 0), nb_value_int(0));
  add(&r, nb_path_res(3, 0, 9), nb_value_int(87));
  judge_reads(f, "every-kind", &r);
  nb_records_deinit(&r);
}

/* The judge's canonical encoding of a payload without multi-level keys is what we write. */
static void test_bytes_equal_canonical_cbor(void **state) {
  fixture *f = *state;
  need_python(f);
  static const char *const names[] = {"device", "composite"};
  nb_model *m = nb_model_new();
  assert_non_null(m);
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    nb_records r;
    nb_records_init(&r);
    decode_file(in_dir(f, names[k], ".cbor"), m, &r);
    nb_bytes enc;
    nb_bytes_init(&enc);
    nb_path root = nb_path_root();
    nb_format_opts o = {.base = &root, .model = m};
    assert_int_equal(nb_format_encode_ex(NB_COAP_CF_LWM2M_CBOR, &r, &o, &enc, NULL), NB_OK);
    size_t len = 0;
    char *want = nb_test_read_file(in_dir(f, names[k], ".cbor"), &len);
    assert_non_null(want);
    assert_int_equal(enc.len, len);
    assert_memory_equal(enc.data, want, len);
    free(want);
    nb_bytes_free(&enc);
    nb_records_deinit(&r);
  }
  nb_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_judge_payloads_decode),
      cmocka_unit_test(test_our_encoding_judged),
      cmocka_unit_test(test_bytes_equal_canonical_cbor),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
