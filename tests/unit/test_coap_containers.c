/* The CoAP layer's internal containers: hash map, timer heap, deduplication cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "coap/dedup.h"
#include "coap/hmap.h"
#include "coap/msg.h"
#include "coap/timerheap.h"

typedef struct {
  nb_coap_hnode node;
  uint32_t key;
} item;

static bool item_eq(const nb_coap_hnode *n, const void *key) {
  return ((const item *)n)->key == *(const uint32_t *)key;
}

static uint64_t item_hash(uint32_t k) { return nb_coap_hash_bytes(42, &k, sizeof k); }

static void test_hmap(void **state) {
  (void)state;
  enum { N = 20000 };
  nb_coap_hmap m;
  assert_int_equal(nb_coap_hmap_init(&m), NB_OK);
  item *items = calloc(N, sizeof *items);
  assert_non_null(items);
  for (uint32_t i = 0; i < N; i++) {
    items[i].key = i * 3;
    nb_coap_hmap_insert(&m, &items[i].node, item_hash(i * 3));
  }
  assert_int_equal(m.count, N);
  assert_true(m.nbuckets >= N); /* it grew */
  for (uint32_t k = 0; k < 3 * N; k++) {
    nb_coap_hnode *n = nb_coap_hmap_find(&m, item_hash(k), item_eq, &k);
    if (k % 3 == 0) {
      assert_ptr_equal(n, &items[k / 3].node);
    } else {
      assert_null(n);
    }
  }
  for (uint32_t i = 0; i < N; i += 2) nb_coap_hmap_remove(&m, &items[i].node);
  assert_int_equal(m.count, N / 2);
  for (uint32_t i = 0; i < N; i++) {
    uint32_t k = i * 3;
    nb_coap_hnode *n = nb_coap_hmap_find(&m, item_hash(k), item_eq, &k);
    assert_true((n != NULL) == (i % 2 == 1));
  }
  size_t popped = 0;
  while (nb_coap_hmap_pop(&m)) popped++;
  assert_int_equal(popped, N / 2);
  assert_int_equal(m.count, 0);
  nb_coap_hmap_deinit(&m);
  free(items);
}

/* A small map lives in its inline buckets (no heap) and moves out when it grows. */
static void test_hmap_inline(void **state) {
  (void)state;
  item items[NB_COAP_HMAP_INLINE + 1];
  nb_coap_hmap m;
  assert_int_equal(nb_coap_hmap_init(&m), NB_OK);
  assert_ptr_equal(m.buckets, m.inline_buckets);
  for (uint32_t i = 0; i < NB_COAP_HMAP_INLINE; i++) {
    items[i].key = i;
    nb_coap_hmap_insert(&m, &items[i].node, item_hash(i));
  }
  assert_ptr_equal(m.buckets, m.inline_buckets);
  items[NB_COAP_HMAP_INLINE].key = NB_COAP_HMAP_INLINE;
  nb_coap_hmap_insert(&m, &items[NB_COAP_HMAP_INLINE].node, item_hash(NB_COAP_HMAP_INLINE));
  assert_ptr_not_equal(m.buckets, m.inline_buckets);
  assert_true(m.nbuckets > NB_COAP_HMAP_INLINE);
  for (uint32_t k = 0; k <= NB_COAP_HMAP_INLINE; k++)
    assert_ptr_equal(nb_coap_hmap_find(&m, item_hash(k), item_eq, &k), &items[k].node);
  nb_coap_hmap_deinit(&m);
  nb_coap_hmap empty;
  nb_coap_hmap_init(&empty);
  assert_null(nb_coap_hmap_pop(&empty));
  nb_coap_hmap_deinit(&empty); /* frees nothing: inline */
}

static double cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Popping a whole map is linear: a server with a million entries shuts down in seconds (each
 * pop used to rescan the buckets from the first, so 300k entries took minutes). Entries inserted
 * between pops, below where popping got to, still come out. */
static void test_hmap_pop_linear(void **state) {
  (void)state;
  enum { N = 300000 };
  nb_coap_hmap m;
  nb_coap_hmap_init(&m);
  item *items = calloc(N, sizeof *items);
  assert_non_null(items);
  for (uint32_t i = 0; i < N; i++) {
    items[i].key = i;
    nb_coap_hmap_insert(&m, &items[i].node, item_hash(i));
  }
  double t0 = cpu_seconds();
  size_t popped = 0;
  nb_coap_hnode *n;
  while ((n = nb_coap_hmap_pop(&m)) != NULL) {
    ((item *)n)->key = UINT32_MAX; /* seen */
    popped++;
    /* Half way, the first quarter goes back in: some land below the scan position. */
    if (popped == N / 2)
      for (uint32_t i = 0; i < N / 4; i++)
        if (items[i].key == UINT32_MAX) {
          items[i].key = i;
          nb_coap_hmap_insert(&m, &items[i].node, item_hash(i));
        }
  }
  double took = cpu_seconds() - t0;
  assert_int_equal(m.count, 0);
  for (uint32_t i = 0; i < N; i++) assert_int_equal(items[i].key, UINT32_MAX);
  assert_true(popped > N);
  assert_true(took < 5.0); /* about 10 ms; the quadratic scan took minutes */
  nb_coap_hmap_deinit(&m);
  free(items);
}

static void test_hash(void **state) {
  (void)state;
  nb_addr a = {0}, b = {0};
  a.family = b.family = 4;
  a.port = b.port = 5683;
  memcpy(a.ip, "\x7f\0\0\1", 4);
  memcpy(b.ip, "\x7f\0\0\1", 4);
  b.ip[10] = 0x55; /* bytes past an IPv4 address do not count */
  assert_true(nb_coap_hash_addr(1, &a) == nb_coap_hash_addr(1, &b));
  assert_true(nb_coap_hash_addr(1, &a) != nb_coap_hash_addr(2, &a)); /* seeded */
  b.port = 5684;
  assert_true(nb_coap_hash_addr(1, &a) != nb_coap_hash_addr(1, &b));
  assert_true(nb_coap_hash_bytes(0, "abc", 3) != nb_coap_hash_bytes(0, "abd", 3));
  assert_true(nb_coap_hash_bytes(0, "", 0) != nb_coap_hash_bytes(0, "\0", 1));
  /* A peer with a key: the key, its length, the seed and the peer all count. */
  uint16_t m1 = 1, m2 = 2;
  uint64_t h = nb_coap_hash_addr_key(1, &a, &m1, sizeof m1);
  assert_true(h != nb_coap_hash_addr_key(1, &a, &m2, sizeof m2));
  assert_true(h != nb_coap_hash_addr_key(2, &a, &m1, sizeof m1));
  assert_true(h != nb_coap_hash_addr_key(1, &b, &m1, sizeof m1));
  assert_true(nb_coap_hash_addr_key(1, &a, "\0", 1) != nb_coap_hash_addr_key(1, &a, "", 0));
  assert_true(nb_coap_hash_addr_key(1, &a, "0123456789", 10) !=
              nb_coap_hash_addr_key(1, &a, "0123456789", 9));
  /* Every byte of an IPv6 address counts, and its scope. */
  nb_addr v6 = {.family = NB_ADDR_V6, .port = 5683};
  uint64_t h6 = nb_coap_hash_addr(1, &v6);
  for (int i = 0; i < 16; i++) {
    nb_addr o = v6;
    o.ip[i] = 1;
    assert_true(nb_coap_hash_addr(1, &o) != h6);
  }
  v6.scope = 2;
  assert_true(nb_coap_hash_addr(1, &v6) != h6);
}

/* find-or-insert in one step, and replies kept as a copy or, for an empty ACK/RST, as its
 * first byte only (rebuilt with the entry's MID). */
static void test_dedup_check_and_replies(void **state) {
  (void)state;
  nb_coap_dedup d;
  nb_addr a = {.family = NB_ADDR_V4, .port = 1};
  assert_int_equal(nb_coap_dedup_init(&d, 7, 8, 1000, 500), NB_OK);
  bool dup = true;
  nb_coap_dedup_entry *e = nb_coap_dedup_check(&d, &a, 0x1234, NB_COAP_CON, 0, &dup);
  assert_non_null(e);
  assert_false(dup);
  assert_ptr_equal(nb_coap_dedup_check(&d, &a, 0x1234, NB_COAP_CON, 5, &dup), e);
  assert_true(dup);
  assert_int_equal(nb_coap_dedup_count(&d), 1);
  uint8_t buf[4];
  const uint8_t *data;
  size_t len;
  assert_false(nb_coap_dedup_reply(e, buf, &data, &len)); /* nothing sent yet */
  nb_coap_dedup_set_empty_reply(e, 0x60);                 /* ACK */
  assert_true(nb_coap_dedup_reply(e, buf, &data, &len));
  assert_int_equal(len, 4);
  assert_memory_equal(data, "\x60\x00\x12\x34", 4);
  assert_null(e->reply); /* no copy kept */
  assert_int_equal(nb_coap_dedup_set_reply(e, (const uint8_t *)"\x60\x45\x12\x34\xff", 5), NB_OK);
  assert_true(nb_coap_dedup_reply(e, buf, &data, &len));
  assert_int_equal(len, 5);
  assert_memory_equal(data, "\x60\x45\x12\x34\xff", 5);
  nb_coap_dedup_set_empty_reply(e, 0x70); /* RST replaces the copy */
  assert_true(nb_coap_dedup_reply(e, buf, &data, &len));
  assert_memory_equal(data, "\x70\x00\x12\x34", 4);
  nb_coap_dedup_deinit(&d);
}

static void test_timerheap(void **state) {
  (void)state;
  enum { N = 1000 };
  nb_coap_timerheap h;
  nb_coap_timerheap_init(&h);
  nb_coap_timer *t = calloc(N, sizeof *t);
  assert_non_null(t);
  assert_int_equal(nb_coap_timerheap_next(&h), NB_TIME_NEVER);
  for (int i = 0; i < N; i++) {
    assert_int_equal(nb_coap_timerheap_reserve(&h), NB_OK);
    nb_coap_timerheap_arm(&h, &t[i], (nb_time_ms)((i * 7919) % N));
  }
  /* Re-arm some, disarm others. */
  for (int i = 0; i < N; i += 10) nb_coap_timerheap_arm(&h, &t[i], 5000 + i);
  for (int i = 5; i < N; i += 10) nb_coap_timerheap_disarm(&h, &t[i]);
  nb_coap_timerheap_disarm(&h, &t[5]); /* twice is harmless */
  nb_time_ms last = -1;
  int popped = 0;
  nb_coap_timer *x;
  while ((x = nb_coap_timerheap_pop_due(&h, 4999)) != NULL) {
    assert_true(x->due >= last);
    assert_int_equal(x->slot, 0);
    last = x->due;
    popped++;
  }
  assert_int_equal(popped, N - N / 10 - N / 10);
  assert_int_equal(nb_coap_timerheap_next(&h), 5000);
  while ((x = nb_coap_timerheap_pop_due(&h, NB_TIME_NEVER)) != NULL) popped++;
  assert_int_equal(popped, N - N / 10);
  nb_coap_timerheap_deinit(&h);
  free(t);
}

static void test_dedup(void **state) {
  (void)state;
  nb_coap_dedup d;
  nb_addr a = {0}, b = {0};
  a.family = b.family = 4;
  a.port = 1;
  b.port = 2;
  assert_int_equal(nb_coap_dedup_init(&d, 7, 3, 1000, 500), NB_OK);
  nb_coap_dedup_entry *e1, *e2, *e3, *e4;
  assert_int_equal(nb_coap_dedup_insert(&d, &a, 10, NB_COAP_CON, 0, &e1), NB_OK);
  assert_int_equal(nb_coap_dedup_insert(&d, &b, 10, NB_COAP_NON, 10, &e2), NB_OK);
  assert_ptr_equal(nb_coap_dedup_find(&d, &a, 10), e1);
  assert_ptr_equal(nb_coap_dedup_find(&d, &b, 10), e2);
  assert_null(nb_coap_dedup_find(&d, &a, 11));
  assert_int_equal(nb_coap_dedup_set_reply(e1, (const uint8_t *)"\x60\0\0\x0a", 4), NB_OK);
  assert_int_equal(e1->reply_len, 4);
  assert_int_equal(nb_coap_dedup_next(&d), 510); /* NON lifetime is shorter */
  /* Full: the oldest goes, and a backref is cleared. */
  assert_int_equal(nb_coap_dedup_insert(&d, &a, 11, NB_COAP_CON, 20, &e3), NB_OK);
  nb_coap_dedup_entry *ref = e1;
  e1->backref = &ref;
  assert_int_equal(nb_coap_dedup_insert(&d, &a, 12, NB_COAP_CON, 30, &e4), NB_OK);
  assert_null(ref);
  assert_null(nb_coap_dedup_find(&d, &a, 10));
  assert_int_equal(nb_coap_dedup_count(&d), 3);
  /* Expiry in order of lifetime end. */
  nb_coap_dedup_expire(&d, 509);
  assert_int_equal(nb_coap_dedup_count(&d), 3);
  nb_coap_dedup_expire(&d, 510);
  assert_null(nb_coap_dedup_find(&d, &b, 10));
  nb_coap_dedup_expire(&d, 1020);
  assert_null(nb_coap_dedup_find(&d, &a, 11));
  assert_ptr_equal(nb_coap_dedup_find(&d, &a, 12), e4);
  assert_int_equal(nb_coap_dedup_next(&d), 1030);
  nb_coap_dedup_deinit(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hmap),
      cmocka_unit_test(test_hmap_inline),
      cmocka_unit_test(test_hmap_pop_linear),
      cmocka_unit_test(test_hash),
      cmocka_unit_test(test_timerheap),
      cmocka_unit_test(test_dedup),
      cmocka_unit_test(test_dedup_check_and_replies),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
