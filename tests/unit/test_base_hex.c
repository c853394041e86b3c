/* base/hex: strict decoding with named separators, growable decoding, encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/hex.h"

static nb_err decode(const char *text, const char *seps, uint8_t *out, size_t cap, size_t *n) {
  return nb_hex_decode(text, strlen(text), seps, out, cap, n);
}

static void test_decode(void **state) {
  (void)state;
  uint8_t out[8];
  size_t n = 99;
  assert_int_equal(decode("00ff7Fa0", NULL, out, sizeof out, &n), NB_OK);
  assert_int_equal(n, 4);
  assert_memory_equal(out, "\x00\xff\x7f\xa0", 4);
  assert_int_equal(decode("", NULL, out, sizeof out, &n), NB_OK);
  assert_int_equal(n, 0);
  assert_int_equal(decode("01:02 03", ": ", out, sizeof out, &n), NB_OK);
  assert_int_equal(n, 3);
  assert_memory_equal(out, "\x01\x02\x03", 3);
}

static void test_rejections(void **state) {
  (void)state;
  uint8_t out[2];
  size_t n;
  assert_int_equal(decode("abc", NULL, out, sizeof out, &n), NB_ERR_SYNTAX);   /* odd */
  assert_int_equal(decode("0g", NULL, out, sizeof out, &n), NB_ERR_SYNTAX);    /* not hex */
  assert_int_equal(decode("01 02", NULL, out, sizeof out, &n), NB_ERR_SYNTAX); /* no seps */
  assert_int_equal(decode("-1", NULL, out, sizeof out, &n), NB_ERR_SYNTAX);    /* sscanf took it */
  assert_int_equal(decode(" f0", NULL, out, sizeof out, &n), NB_ERR_SYNTAX);
  assert_int_equal(decode("010203", NULL, out, sizeof out, &n), NB_ERR_OVERFLOW);
  /* An embedded NUL is never a separator. */
  assert_int_equal(nb_hex_decode("01\0002", 5, " ", out, sizeof out, &n), NB_ERR_SYNTAX);
}

static void test_decode_append(void **state) {
  (void)state;
  nb_bytes b;
  nb_bytes_init(&b);
  assert_int_equal(nb_hex_decode_append("cafe", 4, NULL, &b), NB_OK);
  assert_int_equal(nb_hex_decode_append("ba:be", 5, ":", &b), NB_OK);
  assert_int_equal(b.len, 4);
  assert_memory_equal(b.data, "\xca\xfe\xba\xbe", 4);
  assert_int_equal(nb_hex_decode_append("12x4", 4, NULL, &b), NB_ERR_SYNTAX);
  assert_int_equal(b.len, 4); /* unchanged on failure */
  nb_bytes_free(&b);
}

static void test_encode_round_trip(void **state) {
  (void)state;
  uint8_t all[256], back[256];
  char text[513];
  for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
  assert_ptr_equal(nb_hex_encode(all, sizeof all, text), text);
  assert_int_equal(strlen(text), 512);
  assert_memory_equal(text, "000102", 6);
  assert_memory_equal(text + 506, "fdfeff", 6);
  size_t n;
  assert_int_equal(nb_hex_decode(text, 512, NULL, back, sizeof back, &n), NB_OK);
  assert_int_equal(n, 256);
  assert_memory_equal(back, all, 256);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode),
      cmocka_unit_test(test_rejections),
      cmocka_unit_test(test_decode_append),
      cmocka_unit_test(test_encode_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
