/* Observe sequence numbers and the RFC 7641 3.4 freshness rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "coap/observe.h"

static void test_fresh_by_number(void **state) {
  (void)state;
  const nb_time_ms t = 1000;
  assert_true(nb_coap_observe_is_fresh(1, t, 2, t));
  assert_false(nb_coap_observe_is_fresh(2, t, 1, t));
  assert_false(nb_coap_observe_is_fresh(5, t, 5, t));
  /* V1 < V2 and V2 - V1 < 2^23 */
  assert_true(nb_coap_observe_is_fresh(0, t, 0x7fffff, t));
  assert_false(nb_coap_observe_is_fresh(0, t, 0x800000, t));
  assert_false(nb_coap_observe_is_fresh(0, t, 0xffffff, t));
  /* V1 > V2 and V1 - V2 > 2^23: wrap-around */
  assert_true(nb_coap_observe_is_fresh(0xffffff, t, 0, t));
  assert_true(nb_coap_observe_is_fresh(0x800001, t, 0, t));
  assert_false(nb_coap_observe_is_fresh(0x800000, t, 0, t));
  assert_false(nb_coap_observe_is_fresh(0x7fffff, t, 0, t));
  /* Only 24 bits count. */
  assert_true(nb_coap_observe_is_fresh(0x1000001, t, 2, t));
}

static void test_fresh_by_time(void **state) {
  (void)state;
  /* T2 > T1 + 128 s makes anything fresh; exactly 128 s does not. */
  assert_false(nb_coap_observe_is_fresh(10, 0, 9, 128000));
  assert_true(nb_coap_observe_is_fresh(10, 0, 9, 128001));
  assert_true(nb_coap_observe_is_fresh(10, 0, 10, 200000));
  assert_false(nb_coap_observe_is_fresh(10, 5000, 9, 5000 + 127999));
}

static void test_next(void **state) {
  (void)state;
  assert_int_equal(nb_coap_observe_next(0), 1);
  assert_int_equal(nb_coap_observe_next(0xfffffe), 0xffffff);
  assert_int_equal(nb_coap_observe_next(0xffffff), 0);
  /* Each next is fresh relative to the previous, across the wrap. */
  uint32_t v = 0xfffff0;
  for (int i = 0; i < 40; i++) {
    uint32_t n = nb_coap_observe_next(v);
    assert_true(nb_coap_observe_is_fresh(v, 0, n, 0));
    assert_false(nb_coap_observe_is_fresh(n, 0, v, 0));
    v = n;
  }
}

static void test_accept_state(void **state) {
  (void)state;
  nb_coap_observe_state st = {0};
  assert_true(nb_coap_observe_accept(&st, 100, 0)); /* first one always */
  assert_false(nb_coap_observe_accept(&st, 99, 1000));
  assert_false(nb_coap_observe_accept(&st, 100, 1000));
  assert_true(nb_coap_observe_accept(&st, 101, 2000));
  assert_int_equal(st.seq, 101);
  assert_int_equal(st.at, 2000);
  /* The time rule counts from the last accepted notification, not the last received. */
  assert_false(nb_coap_observe_accept(&st, 50, 2000 + 128000));
  assert_true(nb_coap_observe_accept(&st, 50, 2000 + 128001));
  assert_int_equal(st.seq, 50);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fresh_by_number),
      cmocka_unit_test(test_fresh_by_time),
      cmocka_unit_test(test_next),
      cmocka_unit_test(test_accept_state),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
