/* LwM2M paths: parsing and its rejections, formatting, ordering, prefixes, CoAP Uri-Path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lwm2m/path.h"

static void assert_parses(const char *text, const nb_path *want) {
  nb_path p;
  memset(&p, 0xaa, sizeof p);
  nb_err err = nb_path_parse(text, &p);
  if (err != NB_OK) fail_msg("'%s' did not parse: %s", text, nb_err_name(err));
  if (!nb_path_equal(&p, want) || p.len != want->len) fail_msg("'%s' parsed wrong", text);
}

static void assert_rejects(const char *text, nb_err want) {
  nb_path p = nb_path_obj(77);
  nb_err err = nb_path_parse(text, &p);
  if (err != want) {
    fail_msg("'%s': got %s, want %s", text ? text : "(null)", nb_err_name(err), nb_err_name(want));
  }
  /* The output is untouched on error. */
  assert_int_equal(p.len, 1);
  assert_int_equal(p.ids[0], 77);
}

static void test_constructors(void **state) {
  (void)state;
  nb_path p = nb_path_root();
  assert_int_equal(p.len, 0);
  p = nb_path_obj(3);
  assert_int_equal(p.len, 1);
  assert_int_equal(p.ids[0], 3);
  p = nb_path_inst(3, 1);
  assert_int_equal(p.len, 2);
  assert_int_equal(p.ids[1], 1);
  p = nb_path_res(3, 1, 9);
  assert_int_equal(p.len, 3);
  assert_int_equal(p.ids[2], 9);
  p = nb_path_rinst(3, 1, 9, 65534);
  assert_int_equal(p.len, 4);
  assert_int_equal(p.ids[3], 65534);
  assert_true(nb_path_is_valid(&p));
  p.ids[3] = 65535;
  assert_false(nb_path_is_valid(&p));
  p = nb_path_obj(1);
  p.len = 5;
  assert_false(nb_path_is_valid(&p));
}

static void test_parse_valid(void **state) {
  (void)state;
  nb_path root = nb_path_root(), o = nb_path_obj(3), i = nb_path_inst(3, 0);
  nb_path r = nb_path_res(3, 0, 1), ri = nb_path_rinst(3, 0, 11, 2);
  nb_path max = nb_path_rinst(65534, 65534, 65534, 65534), zero = nb_path_inst(0, 0);
  assert_parses("/", &root);
  assert_parses("/3", &o);
  assert_parses("/3/", &o); /* one trailing slash is tolerated */
  assert_parses("/3/0", &i);
  assert_parses("/3/0/1", &r);
  assert_parses("/3/0/11/2", &ri);
  assert_parses("/3/0/11/2/", &ri); /* four ids and the tolerated trailing slash */
  assert_parses("/65534/65534/65534/65534", &max);
  assert_parses("/0/0", &zero);
  assert_parses("/003", &o); /* leading zeros, as other stacks accept them */
  nb_path p;
  assert_int_equal(nb_path_parse_n("/3/0/1xyz", 6, &p), NB_OK);
  assert_true(nb_path_equal(&p, &r));
}

static void test_parse_rejects(void **state) {
  (void)state;
  assert_rejects("/65535", NB_ERR_RANGE);
  assert_rejects("/3/65535", NB_ERR_RANGE);
  assert_rejects("/1/2/3/99999", NB_ERR_RANGE);
  assert_rejects("/99999999999999999999999", NB_ERR_RANGE); /* no wrap-around */
  assert_rejects("/4294967299", NB_ERR_RANGE);              /* 2^32 + 3 */
  assert_rejects("/a", NB_ERR_SYNTAX);
  assert_rejects("//", NB_ERR_SYNTAX);
  assert_rejects("/3//", NB_ERR_SYNTAX);
  assert_rejects("/3//1", NB_ERR_SYNTAX);
  assert_rejects("/1/2/3/4/5", NB_ERR_SYNTAX);
}

static void test_parse_rejects_more(void **state) {
  (void)state;
  assert_rejects("", NB_ERR_SYNTAX);
  assert_rejects(NULL, NB_ERR_SYNTAX);
  assert_rejects("3", NB_ERR_SYNTAX);
  assert_rejects("3/0", NB_ERR_SYNTAX);
  assert_rejects("/-1", NB_ERR_SYNTAX);
  assert_rejects("/+3", NB_ERR_SYNTAX);
  assert_rejects("/ 3", NB_ERR_SYNTAX);
  assert_rejects("/3 ", NB_ERR_SYNTAX);
  assert_rejects("/3a", NB_ERR_SYNTAX);
  assert_rejects("/0x10", NB_ERR_SYNTAX);
  assert_rejects("/3/0/1/2//", NB_ERR_SYNTAX);
  assert_rejects("/99999/x", NB_ERR_SYNTAX); /* the malformed part wins over the range */
  assert_rejects("/3\\0", NB_ERR_SYNTAX);
}

static void test_format(void **state) {
  (void)state;
  char buf[NB_PATH_STRLEN];
  nb_path p = nb_path_root();
  assert_int_equal(nb_path_format(&p, buf, sizeof buf), NB_OK);
  assert_string_equal(buf, "/");
  p = nb_path_res(3303, 0, 5700);
  assert_int_equal(nb_path_format(&p, buf, sizeof buf), NB_OK);
  assert_string_equal(buf, "/3303/0/5700");
  p = nb_path_rinst(65534, 65534, 65534, 65534);
  assert_int_equal(nb_path_format(&p, buf, sizeof buf), NB_OK);
  assert_string_equal(buf, "/65534/65534/65534/65534");
  /* Too small: exactly one byte short fails, exact fits. */
  char small[13];
  p = nb_path_res(3303, 0, 5700);
  assert_int_equal(nb_path_format(&p, small, 12), NB_ERR_OVERFLOW);
  assert_int_equal(nb_path_format(&p, small, 13), NB_OK);
  assert_string_equal(small, "/3303/0/5700");
  p = nb_path_root();
  assert_int_equal(nb_path_format(&p, small, 1), NB_ERR_OVERFLOW);
  assert_int_equal(nb_path_format(&p, small, 0), NB_ERR_OVERFLOW);
  p = nb_path_obj(65535);
  assert_int_equal(nb_path_format(&p, buf, sizeof buf), NB_ERR_INVAL);
}

static void test_format_parse_roundtrip(void **state) {
  (void)state;
  const uint16_t ids[] = {0, 1, 9, 10, 99, 100, 999, 1000, 9999, 10000, 65533, 65534};
  size_t n = sizeof ids / sizeof ids[0];
  for (uint8_t len = 0; len <= 4; len++) {
    for (size_t k = 0; k < n; k++) {
      nb_path p = {{ids[k], ids[(k + 3) % n], ids[(k + 5) % n], ids[(k + 7) % n]}, len};
      for (uint8_t j = len; j < 4; j++) p.ids[j] = 0;
      char buf[NB_PATH_STRLEN];
      assert_int_equal(nb_path_format(&p, buf, sizeof buf), NB_OK);
      nb_path back;
      assert_int_equal(nb_path_parse(buf, &back), NB_OK);
      assert_int_equal(nb_path_compare(&p, &back), 0);
    }
  }
}

static int cmp_qsort(const void *a, const void *b) { return nb_path_compare(a, b); }

static void test_order(void **state) {
  (void)state;
  /* Expected order, written out; shuffled then sorted must give it back. */
  const char *sorted[] = {"/",        "/0",       "/1",      "/1/0",      "/1/0/0",
                          "/1/0/0/0", "/1/0/0/1", "/1/0/1",  "/1/1",      "/3",
                          "/3/0",     "/3/0/1",   "/3/0/11", "/3/0/11/0", "/3/0/11/65534",
                          "/3/1",     "/20",      "/3303",   "/65534"};
  size_t n = sizeof sorted / sizeof sorted[0];
  nb_path paths[32];
  for (size_t k = 0; k < n; k++) {
    assert_int_equal(nb_path_parse(sorted[(k * 7) % n], &paths[k]), NB_OK); /* 7 coprime to 19 */
  }
  qsort(paths, n, sizeof paths[0], cmp_qsort);
  for (size_t k = 0; k < n; k++) {
    char buf[NB_PATH_STRLEN];
    assert_int_equal(nb_path_format(&paths[k], buf, sizeof buf), NB_OK);
    assert_string_equal(buf, sorted[k]);
  }
  nb_path a = nb_path_obj(3), b = nb_path_inst(3, 0);
  assert_true(nb_path_compare(&a, &b) < 0);
  assert_true(nb_path_compare(&b, &a) > 0);
  assert_int_equal(nb_path_compare(&a, &a), 0);
  nb_path c = nb_path_obj(2);
  assert_true(nb_path_compare(&b, &c) > 0); /* /3/0 after /2: ids before length */
  assert_false(nb_path_equal(&a, &b));
}

static void test_prefix(void **state) {
  (void)state;
  nb_path root = nb_path_root(), o3 = nb_path_obj(3), i30 = nb_path_inst(3, 0);
  nb_path r301 = nb_path_res(3, 0, 1), o33 = nb_path_obj(33), i31 = nb_path_inst(3, 1);
  nb_path ri = nb_path_rinst(3, 0, 1, 0);
  assert_true(nb_path_is_prefix(&o3, &r301));
  assert_true(nb_path_is_prefix(&o3, &o3));
  assert_true(nb_path_is_prefix(&root, &r301));
  assert_true(nb_path_is_prefix(&root, &root));
  assert_true(nb_path_is_prefix(&i30, &ri));
  assert_true(nb_path_is_prefix(&r301, &ri));
  assert_false(nb_path_is_prefix(&r301, &i30)); /* longer is never a prefix */
  assert_false(nb_path_is_prefix(&o33, &r301)); /* /33 is not a prefix of /3/... */
  assert_false(nb_path_is_prefix(&o3, &o33));
  assert_false(nb_path_is_prefix(&i31, &r301));
  assert_false(nb_path_is_prefix(&o3, &root));
}

static void test_coap_roundtrip(void **state) {
  (void)state;
  const char *texts[] = {"/", "/3", "/3/0", "/3/0/1", "/3/0/11/65534"};
  for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
    nb_path p, back;
    assert_int_equal(nb_path_parse(texts[k], &p), NB_OK);
    nb_coap_msg msg;
    nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_GET, 1);
    assert_int_equal(nb_coap_msg_add_string(&msg, NB_COAP_OPT_URI_QUERY, "pmin=1"), NB_OK);
    assert_int_equal(nb_path_to_coap(&msg, &p), NB_OK);
    assert_int_equal(nb_coap_msg_count(&msg, NB_COAP_OPT_URI_PATH), p.len);
    char joined[64];
    assert_int_equal(nb_coap_msg_get_path(&msg, NB_COAP_OPT_URI_PATH, joined, sizeof joined),
                     NB_OK);
    assert_string_equal(joined, texts[k]);
    /* Through the wire and back. */
    uint8_t wire[256];
    size_t len = 0;
    assert_int_equal(nb_coap_serialize(&msg, wire, sizeof wire, &len), NB_OK);
    nb_coap_msg parsed;
    assert_int_equal(nb_coap_parse(wire, len, &parsed), NB_OK);
    assert_int_equal(nb_path_from_coap(&parsed, &back), NB_OK);
    assert_int_equal(nb_path_compare(&p, &back), 0);
  }
  nb_path bad = nb_path_obj(65535);
  nb_coap_msg msg;
  nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_GET, 1);
  assert_int_equal(nb_path_to_coap(&msg, &bad), NB_ERR_INVAL);
}

static nb_err from_segments(const char *const *segs, size_t n, nb_path *out) {
  nb_coap_msg msg;
  nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_GET, 1);
  for (size_t k = 0; k < n; k++) {
    assert_int_equal(nb_coap_msg_add_option(&msg, NB_COAP_OPT_URI_PATH, segs[k], strlen(segs[k])),
                     NB_OK);
  }
  return nb_path_from_coap(&msg, out);
}

static void test_coap_rejects(void **state) {
  (void)state;
  nb_path p = nb_path_obj(9);
  const char *alpha[] = {"3", "a"};
  assert_int_equal(from_segments(alpha, 2, &p), NB_ERR_SYNTAX);
  const char *reserved[] = {"65535"};
  assert_int_equal(from_segments(reserved, 1, &p), NB_ERR_RANGE);
  const char *five[] = {"1", "2", "3", "4", "5"};
  assert_int_equal(from_segments(five, 5, &p), NB_ERR_SYNTAX);
  const char *slash[] = {"3/0"};
  assert_int_equal(from_segments(slash, 1, &p), NB_ERR_SYNTAX);
  const char *empty_mid[] = {"3", "", "1"};
  assert_int_equal(from_segments(empty_mid, 3, &p), NB_ERR_SYNTAX);
  const char *huge[] = {"184467440737095516160"};
  assert_int_equal(from_segments(huge, 1, &p), NB_ERR_RANGE);
  assert_int_equal(p.len, 1); /* untouched */
  assert_int_equal(p.ids[0], 9);
  /* An empty last segment is a trailing slash: "/3/" */
  const char *trailing[] = {"3", ""};
  assert_int_equal(from_segments(trailing, 2, &p), NB_OK);
  nb_path o3 = nb_path_obj(3);
  assert_true(nb_path_equal(&p, &o3));
  const char *four[] = {"3", "0", "11", "2"};
  assert_int_equal(from_segments(four, 4, &p), NB_OK);
  nb_path want = nb_path_rinst(3, 0, 11, 2);
  assert_true(nb_path_equal(&p, &want));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_constructors),   cmocka_unit_test(test_parse_valid),
      cmocka_unit_test(test_parse_rejects),  cmocka_unit_test(test_parse_rejects_more),
      cmocka_unit_test(test_format),         cmocka_unit_test(test_format_parse_roundtrip),
      cmocka_unit_test(test_order),          cmocka_unit_test(test_prefix),
      cmocka_unit_test(test_coap_roundtrip), cmocka_unit_test(test_coap_rejects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
