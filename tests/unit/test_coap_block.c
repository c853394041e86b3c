/* Block option codec, slicing and bounded reassembly (RFC 7959). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "coap/block.h"

static void test_sizes(void **state) {
  (void)state;
  static const size_t sizes[] = {16, 32, 64, 128, 256, 512, 1024};
  for (uint8_t szx = 0; szx <= 6; szx++) assert_int_equal(nb_coap_block_size(szx), sizes[szx]);
  assert_int_equal(nb_coap_block_szx_fitting(0), 0);
  assert_int_equal(nb_coap_block_szx_fitting(31), 0);
  assert_int_equal(nb_coap_block_szx_fitting(32), 1);
  assert_int_equal(nb_coap_block_szx_fitting(1023), 5);
  assert_int_equal(nb_coap_block_szx_fitting(1024), 6);
  assert_int_equal(nb_coap_block_szx_fitting(100000), 6);
  nb_coap_block b = {10, true, 4};
  assert_int_equal(nb_coap_block_offset(&b), 2560);
}

static void test_encode_decode(void **state) {
  (void)state;
  struct {
    uint32_t value;
    uint32_t num;
    bool more;
    uint8_t szx;
  } cases[] = {
      {0x00, 0, false, 0}, {0x0e, 0, true, 6},           {0x16, 1, false, 6},
      {0x1e, 1, true, 6},  {0xfffffe, 0xfffff, true, 6}, {0x2a, 2, true, 2},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    nb_coap_block b;
    assert_int_equal(nb_coap_block_decode(cases[i].value, &b), NB_OK);
    assert_int_equal(b.num, cases[i].num);
    assert_int_equal(b.more, cases[i].more);
    assert_int_equal(b.szx, cases[i].szx);
    assert_int_equal(nb_coap_block_encode(&b), cases[i].value);
  }
  nb_coap_block b;
  assert_int_equal(nb_coap_block_decode(0x07, &b), NB_ERR_COAP_BAD_OPTION); /* BERT */
  assert_int_equal(nb_coap_block_decode(0x1000000, &b), NB_ERR_RANGE);
}

static void test_option_roundtrip(void **state) {
  (void)state;
  nb_coap_msg m;
  uint8_t buf[64];
  size_t len;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_GET, 1);
  nb_coap_block b1 = {0, true, 6}, b2 = {300, false, 2}, got;
  assert_int_equal(nb_coap_block_add(&m, NB_COAP_OPT_BLOCK1, &b1), NB_OK);
  assert_int_equal(nb_coap_block_add(&m, NB_COAP_OPT_BLOCK2, &b2), NB_OK);
  nb_coap_block bad = {0x100000, false, 0};
  assert_int_equal(nb_coap_block_add(&m, NB_COAP_OPT_BLOCK2, &bad), NB_ERR_RANGE);
  bad = (nb_coap_block){1, false, 7};
  assert_int_equal(nb_coap_block_add(&m, NB_COAP_OPT_BLOCK2, &bad), NB_ERR_RANGE);
  assert_int_equal(nb_coap_serialize(&m, buf, sizeof buf, &len), NB_OK);
  nb_coap_msg p;
  assert_int_equal(nb_coap_parse(buf, len, &p), NB_OK);
  assert_int_equal(nb_coap_block_get(&p, NB_COAP_OPT_BLOCK1, &got), NB_OK);
  assert_int_equal(got.num, 0);
  assert_true(got.more);
  assert_int_equal(got.szx, 6);
  assert_int_equal(nb_coap_msg_find(&p, NB_COAP_OPT_BLOCK1)->len, 1);
  assert_int_equal(nb_coap_block_get(&p, NB_COAP_OPT_BLOCK2, &got), NB_OK);
  assert_int_equal(got.num, 300);
  assert_false(got.more);
  assert_int_equal(got.szx, 2);
  assert_int_equal(nb_coap_msg_find(&p, NB_COAP_OPT_BLOCK2)->len, 2);
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_GET, 1);
  assert_int_equal(nb_coap_block_get(&m, NB_COAP_OPT_BLOCK2, &got), NB_ERR_NOT_FOUND);
}

static void test_slice(void **state) {
  (void)state;
  size_t off, n;
  bool more;
  assert_int_equal(nb_coap_block_slice(2500, 0, 6, &off, &n, &more), NB_OK);
  assert_int_equal(off, 0);
  assert_int_equal(n, 1024);
  assert_true(more);
  assert_int_equal(nb_coap_block_slice(2500, 2, 6, &off, &n, &more), NB_OK);
  assert_int_equal(off, 2048);
  assert_int_equal(n, 452);
  assert_false(more);
  assert_int_equal(nb_coap_block_slice(2500, 3, 6, &off, &n, &more), NB_ERR_RANGE);
  /* Exact multiple: the last full block has more=false; the next one is out of range. */
  assert_int_equal(nb_coap_block_slice(2048, 1, 6, &off, &n, &more), NB_OK);
  assert_int_equal(n, 1024);
  assert_false(more);
  assert_int_equal(nb_coap_block_slice(2048, 2, 6, &off, &n, &more), NB_ERR_RANGE);
  /* Empty body: block 0 is empty, nothing else exists. */
  assert_int_equal(nb_coap_block_slice(0, 0, 0, &off, &n, &more), NB_OK);
  assert_int_equal(n, 0);
  assert_false(more);
  assert_int_equal(nb_coap_block_slice(0, 1, 0, &off, &n, &more), NB_ERR_RANGE);
  assert_int_equal(nb_coap_block_slice(100, 0, 7, &off, &n, &more), NB_ERR_RANGE);
  assert_int_equal(nb_coap_block_slice(100, 0x100000, 0, &off, &n, &more), NB_ERR_RANGE);
  /* Slicing every size covers the body exactly once. */
  for (uint8_t szx = 0; szx <= 6; szx++) {
    size_t total = 0;
    for (uint32_t num = 0;; num++) {
      assert_int_equal(nb_coap_block_slice(3333, num, szx, &off, &n, &more), NB_OK);
      assert_int_equal(off, total);
      total += n;
      if (!more) break;
    }
    assert_int_equal(total, 3333);
  }
}

static void test_reassembly(void **state) {
  (void)state;
  uint8_t data[3000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7);
  nb_coap_reasm r;
  nb_coap_reasm_init(&r, 3000);
  nb_coap_block b = {0, true, 6};
  assert_int_equal(nb_coap_reasm_add(&r, &b, data, 1024), NB_OK);
  /* Out of order, a repeat, a short non-final block: refused, nothing appended. */
  b = (nb_coap_block){2, true, 6};
  assert_int_equal(nb_coap_reasm_add(&r, &b, data + 2048, 1024), NB_ERR_COAP_BLOCK);
  b = (nb_coap_block){0, true, 6};
  assert_int_equal(nb_coap_reasm_add(&r, &b, data, 1024), NB_ERR_COAP_BLOCK);
  b = (nb_coap_block){1, true, 6};
  assert_int_equal(nb_coap_reasm_add(&r, &b, data + 1024, 1000), NB_ERR_COAP_BLOCK);
  b = (nb_coap_block){1, false, 6};
  assert_int_equal(nb_coap_reasm_add(&r, &b, data + 1024, 1025), NB_ERR_COAP_BLOCK);
  assert_int_equal(r.body.len, 1024);
  /* A smaller size continues at the same offset (1024 = 16 * 64). */
  b = (nb_coap_block){16, true, 2};
  assert_int_equal(nb_coap_reasm_add(&r, &b, data + 1024, 64), NB_OK);
  b = (nb_coap_block){17, false, 2};
  assert_int_equal(nb_coap_reasm_add(&r, &b, data + 1088, 12), NB_OK);
  assert_int_equal(r.body.len, 1100);
  assert_memory_equal(r.body.data, data, 1100);
  nb_coap_reasm_reset(&r);
  assert_int_equal(r.body.len, 0);
  /* The limit: 3000 fits exactly, one more byte does not. */
  for (uint32_t i = 0; i < 2; i++) {
    b = (nb_coap_block){i, true, 6};
    assert_int_equal(nb_coap_reasm_add(&r, &b, data + i * 1024, 1024), NB_OK);
  }
  b = (nb_coap_block){2, false, 6};
  assert_int_equal(nb_coap_reasm_add(&r, &b, data + 2048, 952), NB_OK);
  assert_memory_equal(r.body.data, data, 3000);
  nb_coap_reasm_deinit(&r);
  nb_coap_reasm_init(&r, 2999);
  for (uint32_t i = 0; i < 2; i++) {
    b = (nb_coap_block){i, true, 6};
    assert_int_equal(nb_coap_reasm_add(&r, &b, data + i * 1024, 1024), NB_OK);
  }
  b = (nb_coap_block){2, false, 6};
  assert_int_equal(nb_coap_reasm_add(&r, &b, data + 2048, 952), NB_ERR_COAP_TOO_LARGE);
  assert_int_equal(r.body.len, 2048);
  nb_coap_reasm_deinit(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sizes),
      cmocka_unit_test(test_encode_decode),
      cmocka_unit_test(test_option_roundtrip),
      cmocka_unit_test(test_slice),
      cmocka_unit_test(test_reassembly),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
