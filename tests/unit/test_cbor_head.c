/* The built-in CBOR head reader and writer (lwm2m/cbor_head.c), which a build without libcbor
 * (NB_CFG_LIBCBOR 0) reads and writes CBOR with, against libcbor's, which the full build uses:
 * every head written the same bytes, and every input (hand-made edge cases, the SenML CBOR fuzz
 * seeds, and a million pseudo-random byte strings) read item by item to the same items, the same
 * lengths and the same errors. fuzz/cbor_head.c goes on from here. */
#include <cbor.h>
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lwm2m/cbor_head.h"
#include "lwm2m/cbor_io.h"
#include "nb_test.h"
#include "niobium/config.h"

#if !NB_CFG_LIBCBOR
#error "this test compares with libcbor: build with NB_WITH_LIBCBOR=ON (the default)"
#endif

static bool same_item(const nb_cbor_item *a, const nb_cbor_item *b) {
  if (a->kind != b->kind || a->indefinite != b->indefinite || a->b != b->b || a->u != b->u ||
      a->len != b->len || a->data != b->data)
    return false;
  if (isnan(a->d) || isnan(b->d)) return isnan(a->d) && isnan(b->d);
  return a->d == b->d && signbit(a->d) == signbit(b->d);
}

/* Reads buf item by item with both readers; they must agree at every step (returns the number
 * of items read). */
static size_t compare_walk(const uint8_t *buf, size_t len) {
  nb_cbor_reader r;
  nb_cbor_reader_init(&r, buf, len);
  size_t pos = 0, items = 0;
  for (;;) {
    nb_cbor_item lib, own;
    size_t used = 0;
    nb_err el = nb_cbor_next(&r, &lib);
    nb_err eo = nb_cbor_head_decode(buf + pos, len - pos, &own, &used);
    if (el != eo)
      fail_msg("at byte %zu of %zu (0x%02x): libcbor %d, built-in %d", pos, len,
               pos < len ? buf[pos] : 0, el, eo);
    if (el != NB_OK) return items;
    if (!same_item(&lib, &own) || r.pos != pos + used)
      fail_msg(
          "at byte %zu (0x%02x): items differ (kind %d/%d u %llu/%llu len %zu/%zu used %zu/%zu)",
          pos, buf[pos], lib.kind, own.kind, (unsigned long long)lib.u, (unsigned long long)own.u,
          lib.len, own.len, r.pos - pos, used);
    pos += used;
    items++;
  }
}

static void test_edge_cases(void **state) {
  (void)state;
  static const char *const hex[] = {
      "00", "17", "1818", "18ff", "190100", "1a00010000", "1b0000000100000000",
      "1bffffffffffffffff", "20", "3bffffffffffffffff", "40", "43010203", "5f4101ff", "60", "6161",
      "7f6161ff", "80", "9f01ff", "83010203", "a0", "a16161f5", "bf6161f4ff", "c1", "d8201a00",
      "f4", "f5", "f6", "f7", "f97c00", "f9fc00", "f97e00", "f93c00", "f90001", "f98000",
      "fa47c35000", "fa00000001", "fb3ff199999999999a", "fb0000000000000001", "ff",
      /* errors: reserved additional information, indefinite where none is allowed, simple
       * values, truncated arguments and strings */
      "1c", "1d", "1e", "1f", "3f", "df", "5c", "7d", "9e", "bc", "fc", "fd", "fe", "f8", "f820",
      "e0", "f3", "18", "19ff", "1a0000", "1b00", "41", "6201", "5a00000004010203", "f9", "fa00",
      "fb000000"};
  for (size_t i = 0; i < sizeof hex / sizeof hex[0]; i++) {
    uint8_t buf[32];
    ssize_t n = nb_test_unhex(hex[i], buf, sizeof buf);
    assert_true(n > 0);
    compare_walk(buf, (size_t)n);
  }
}

static void walk_file(const char *path) {
  size_t len;
  char *data = nb_test_read_file(path, &len);
  assert_non_null(data);
  compare_walk((const uint8_t *)data, len);
  free(data);
}

static void test_fuzz_seeds(void **state) {
  (void)state;
  const char *src = nb_test_env("NB_SOURCE_DIR");
  assert_non_null(src);
  const char *dirs[] = {"senml_cbor", "cose_sign1"};
  size_t files = 0;
  for (size_t d = 0; d < 2; d++) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", src, dirs[d]);
    DIR *dh = opendir(dir);
    assert_non_null(dh);
    struct dirent *de;
    while ((de = readdir(dh))) {
      if (de->d_name[0] == '.') continue;
      char path[800];
      snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
      walk_file(path);
      files++;
    }
    closedir(dh);
  }
  assert_true(files > 0);
}

/* xorshift64: the same inputs every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void test_random_inputs(void **state) {
  (void)state;
  uint8_t buf[24];
  size_t deep = 0;
  for (int i = 0; i < 1000000; i++) {
    size_t len = 1 + rng() % sizeof buf;
    for (size_t k = 0; k < len; k++) {
      uint64_t r = rng();
      /* Half of the bytes carry their argument inline (additional information below 24). */
      buf[k] = (r & 1) ? (uint8_t)(r >> 8) : (uint8_t)(((r >> 8) & 0xe0) | ((r >> 16) % 24));
    }
    if (compare_walk(buf, len) > 2) deep++;
  }
  assert_true(deep > 1000);
}

static void test_heads_written_alike(void **state) {
  (void)state;
  static const uint64_t values[] = {0,          1,          23,         24,          255,
                                    256,        65535,      65536,      0xffffffffu, 0x100000000ull,
                                    UINT64_MAX, 1000000000, 0x12345678, 500};
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    uint64_t v = values[i];
    unsigned char lib[9];
    uint8_t own[9];
    size_t (*enc[])(uint64_t, unsigned char *, size_t) = {
        cbor_encode_uint,         cbor_encode_negint,      cbor_encode_bytestring_start,
        cbor_encode_string_start, cbor_encode_array_start, cbor_encode_map_start,
        cbor_encode_tag};
    for (unsigned major = 0; major < 7; major++) {
      size_t nl = enc[major](v, lib, sizeof lib);
      size_t no = nb_cbor_head_encode(major, v, own);
      assert_int_equal(nl, no);
      assert_memory_equal(lib, own, nl);
    }
  }
  unsigned char lib[9];
  uint8_t own[9];
  float f = 1.1f;
  uint32_t b32;
  memcpy(&b32, &f, sizeof b32);
  assert_int_equal(cbor_encode_single(f, lib, sizeof lib), nb_cbor_head_fixed(0xfa, b32, 4, own));
  assert_memory_equal(lib, own, 5);
  double d = 1e300;
  uint64_t b64;
  memcpy(&b64, &d, sizeof b64);
  assert_int_equal(cbor_encode_double(d, lib, sizeof lib), nb_cbor_head_fixed(0xfb, b64, 8, own));
  assert_memory_equal(lib, own, 9);
  float tiny = 1e-45f; /* a subnormal: its bits are a small number, still four bytes */
  memcpy(&b32, &tiny, sizeof b32);
  assert_int_equal(cbor_encode_single(tiny, lib, sizeof lib),
                   nb_cbor_head_fixed(0xfa, b32, 4, own));
  assert_memory_equal(lib, own, 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_edge_cases),
      cmocka_unit_test(test_fuzz_seeds),
      cmocka_unit_test(test_random_inputs),
      cmocka_unit_test(test_heads_written_alike),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
