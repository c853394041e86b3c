/* Handshake sources (src/dtls/source.c): IPv4 addresses and IPv6 /64 prefixes, ports ignored,
 * IPv4-mapped IPv6 as IPv4, link-local IPv6 per address; per-source counts made and freed on
 * demand; the known-source set (expiry, a full set gives up its least recently seen slot, nothing
 * else); the heavy-hitter tally names the flood's source. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dtls/source.h"

static nb_addr addr(const char *text) {
  nb_addr a;
  assert_int_equal(nb_addr_parse(text, 5684, &a), NB_OK);
  return a;
}

static nb_dtls_source source(const char *text) {
  nb_dtls_source s;
  nb_addr a = addr(text);
  nb_dtls_source_of(&a, &s);
  return s;
}

static void test_source_rule(void **state) {
  (void)state;
  char buf[NB_DTLS_SOURCE_STRLEN];
  nb_dtls_source a = source("192.0.2.7:1000"), b = source("192.0.2.7:2000");
  assert_true(nb_dtls_source_equal(&a, &b)); /* ports never count */
  assert_string_equal(nb_dtls_source_format(&a, buf, sizeof buf), "192.0.2.7");
  nb_dtls_source c = source("192.0.2.8:1000");
  assert_false(nb_dtls_source_equal(&a, &c));
  nb_dtls_source mapped = source("[::ffff:192.0.2.7]:3000");
  assert_true(nb_dtls_source_equal(&a, &mapped)); /* a dual-stack socket's IPv4 peer */

  nb_dtls_source v6a = source("[2001:db8:0:1::1]:1"), v6b = source("[2001:db8:0:1:ffff::9]:2");
  nb_dtls_source v6c = source("[2001:db8:0:2::1]:1");
  assert_true(nb_dtls_source_equal(&v6a, &v6b)); /* one /64 */
  assert_false(nb_dtls_source_equal(&v6a, &v6c));
  assert_string_equal(nb_dtls_source_format(&v6a, buf, sizeof buf), "2001:db8:0:1::/64");
  nb_dtls_source zero = source("[::1]:1"); /* loopback: the all-zero /64, not IPv4 */
  assert_int_equal(zero.family, NB_ADDR_V6);
  nb_dtls_source ll1 = source("[fe80::1]:1"), ll2 = source("[fe80::2]:1");
  assert_false(nb_dtls_source_equal(&ll1, &ll2)); /* every link's /64: per address */
  assert_string_equal(nb_dtls_source_format(&ll1, buf, sizeof buf), "fe80::1");
}

static void test_counts(void **state) {
  (void)state;
  nb_dtls_sources t;
  nb_dtls_sources_init(&t, 42);
  nb_dtls_source a = source("192.0.2.7:1"), b = source("[2001:db8::1]:1");
  assert_null(nb_dtls_sources_find(&t, &a));
  nb_dtls_source_rec *ra = nb_dtls_sources_take(&t, &a);
  assert_non_null(ra);
  assert_ptr_equal(nb_dtls_sources_take(&t, &a), ra);
  nb_dtls_source_rec *rb = nb_dtls_sources_take(&t, &b);
  assert_int_equal(ra->handshakes, 2);
  assert_int_equal(rb->handshakes, 1);
  nb_dtls_sources_give(&t, ra);
  assert_ptr_equal(nb_dtls_sources_find(&t, &a), ra);
  nb_dtls_sources_give(&t, ra); /* the last one: the record goes */
  assert_null(nb_dtls_sources_find(&t, &a));
  assert_int_equal(t.map.count, 1);
  nb_dtls_sources_deinit(&t); /* frees b's record */
}

static void test_known_expiry(void **state) {
  (void)state;
  nb_dtls_known k;
  assert_int_equal(nb_dtls_known_init(&k, 100, 1000, 7), NB_OK);
  nb_dtls_source a = source("192.0.2.7:1"), b = source("192.0.2.8:1");
  assert_false(nb_dtls_known_has(&k, &a, 0));
  nb_dtls_known_add(&k, &a, 100);
  assert_true(nb_dtls_known_has(&k, &a, 100));
  assert_true(nb_dtls_known_has(&k, &a, 1099));
  assert_false(nb_dtls_known_has(&k, &a, 1100)); /* ttl over */
  assert_false(nb_dtls_known_has(&k, &b, 500));
  nb_dtls_known_add(&k, &a, 1500); /* a new handshake renews it */
  assert_true(nb_dtls_known_has(&k, &a, 2000));
  nb_dtls_known_deinit(&k);

  /* Capacity 0 remembers nothing. */
  assert_int_equal(nb_dtls_known_init(&k, 0, 1000, 7), NB_OK);
  nb_dtls_known_add(&k, &a, 1);
  assert_false(nb_dtls_known_has(&k, &a, 1));
  nb_dtls_known_deinit(&k);
}

/* One set of four (capacity 4): a fifth source pushes out the least recently seen only. */
static void test_known_full_set(void **state) {
  (void)state;
  nb_dtls_known k;
  assert_int_equal(nb_dtls_known_init(&k, 4, 1000000, 9), NB_OK);
  assert_int_equal(k.nsets, 1);
  nb_dtls_source s[5];
  char text[32];
  for (int i = 0; i < 5; i++) {
    snprintf(text, sizeof text, "198.51.100.%d:1", i + 1);
    s[i] = source(text);
  }
  for (int i = 0; i < 4; i++) nb_dtls_known_add(&k, &s[i], 10 + i);
  nb_dtls_known_add(&k, &s[0], 20); /* s[1] is now the least recently seen */
  nb_dtls_known_add(&k, &s[4], 30);
  assert_true(nb_dtls_known_has(&k, &s[0], 40));
  assert_false(nb_dtls_known_has(&k, &s[1], 40));
  for (int i = 2; i < 5; i++) assert_true(nb_dtls_known_has(&k, &s[i], 40));
  nb_dtls_known_deinit(&k);
}

static void test_top_sources(void **state) {
  (void)state;
  nb_dtls_source_top t;
  nb_dtls_source_top_reset(&t);
  uint64_t n = 0;
  assert_null(nb_dtls_source_top_first(&t, &n));
  nb_dtls_source flood = source("203.0.113.9:1");
  char text[32];
  /* 300 events from the flood among 200 from 200 other sources, interleaved. */
  for (int i = 0; i < 500; i++) {
    if (i % 5 < 3) {
      nb_dtls_source_top_add(&t, &flood);
    } else {
      snprintf(text, sizeof text, "10.%d.%d.1:1", i / 256, i % 256);
      nb_dtls_source other = source(text);
      nb_dtls_source_top_add(&t, &other);
    }
  }
  const nb_dtls_source *top = nb_dtls_source_top_first(&t, &n);
  assert_non_null(top);
  assert_true(nb_dtls_source_equal(top, &flood));
  assert_true(n >= 300 && n <= 300 + 200 / NB_DTLS_TOP_N);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_source_rule),  cmocka_unit_test(test_counts),
      cmocka_unit_test(test_known_expiry), cmocka_unit_test(test_known_full_set),
      cmocka_unit_test(test_top_sources),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
