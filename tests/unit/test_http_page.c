/* Paging of the REST API's lists (src/http/page.c): ?limit=/?cursor= parsing, a page of names
 * out of names offered in any order (every name exactly once over all pages, in order, with
 * one page in memory), pages of a list newest first by sequence number, the Link header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/page.h"

static void test_query(void **state) {
  (void)state;
  nb_page_query q;
  char why[100];
  assert_int_equal(nb_page_query_parse(NULL, NULL, 100, 1000, &q, why, sizeof why), NB_OK);
  assert_int_equal(q.limit, 100);
  assert_false(q.has_cursor);
  assert_int_equal(nb_page_query_parse("1000", "dev-7", 100, 1000, &q, why, sizeof why), NB_OK);
  assert_int_equal(q.limit, 1000);
  assert_true(q.has_cursor);
  assert_string_equal(q.cursor, "dev-7");
  assert_int_equal(nb_page_query_parse("1", "", 100, 1000, &q, why, sizeof why), NB_OK);
  assert_true(q.has_cursor); /* after the default config, whose name is "" */
  static const char *const bad[] = {"0", "1001", "-1", "", "12x", "99999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(nb_page_query_parse(bad[i], NULL, 100, 1000, &q, why, sizeof why),
                     NB_ERR_INVAL);
    assert_non_null(strstr(why, "limit"));
  }
  char long_cursor[200];
  memset(long_cursor, 'a', sizeof long_cursor - 1);
  long_cursor[sizeof long_cursor - 1] = '\0';
  assert_int_equal(nb_page_query_parse(NULL, long_cursor, 100, 1000, &q, why, sizeof why),
                   NB_ERR_INVAL);
}

/* Names "dev-00000".."dev-NNNNN" offered in a shuffled order. */
static void shuffled(int *order, int n) {
  for (int i = 0; i < n; i++) order[i] = i;
  unsigned seed = 7;
  for (int i = n - 1; i > 0; i--) {
    seed = seed * 1103515245u + 12345u;
    int j = (int)(seed % (unsigned)(i + 1));
    int t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
}

static void test_key_pages_cover_all_once(void **state) {
  (void)state;
  enum { N = 2503 };
  int order[N];
  shuffled(order, N);
  nb_page_query q = {.limit = 100};
  int seen = 0, pages = 0;
  char last[NB_PAGE_KEY_MAX] = "";
  for (;;) {
    nb_page_keys p;
    assert_int_equal(nb_page_keys_init(&p, &q), NB_OK);
    for (int i = 0; i < N; i++) {
      char name[32];
      snprintf(name, sizeof name, "dev-%05d", order[i]);
      nb_page_keys_offer(&p, name);
    }
    nb_page_keys_finish(&p);
    for (size_t i = 0; i < p.n; i++) {
      char want[32];
      snprintf(want, sizeof want, "dev-%05d", seen++);
      assert_string_equal(p.keys[i], want);
      assert_true(strcmp(p.keys[i], last) > 0);
      snprintf(last, sizeof last, "%s", p.keys[i]);
    }
    assert_int_equal(nb_page_keys_find(&p, p.keys[p.n / 2]), (long)(p.n / 2));
    assert_int_equal(nb_page_keys_find(&p, "zzz"), -1);
    pages++;
    bool more = p.more;
    if (more) {
      q.has_cursor = true;
      snprintf(q.cursor, sizeof q.cursor, "%s", p.keys[p.n - 1]);
    }
    nb_page_keys_deinit(&p);
    if (!more) break;
  }
  assert_int_equal(seen, N);
  assert_int_equal(pages, (N + 99) / 100);
}

static void test_key_page_edges(void **state) {
  (void)state;
  nb_page_query q = {.limit = 3};
  nb_page_keys p;
  /* exactly a page: no next one */
  assert_int_equal(nb_page_keys_init(&p, &q), NB_OK);
  nb_page_keys_offer(&p, "b");
  nb_page_keys_offer(&p, "");
  nb_page_keys_offer(&p, "a");
  nb_page_keys_finish(&p);
  assert_false(p.more);
  assert_int_equal(p.n, 3);
  assert_string_equal(p.keys[0], "");
  assert_string_equal(p.keys[2], "b");
  nb_page_keys_deinit(&p);
  /* after "": everything else; a name too long is ignored */
  q.has_cursor = true;
  q.cursor[0] = '\0';
  assert_int_equal(nb_page_keys_init(&p, &q), NB_OK);
  char huge[300];
  memset(huge, 'x', sizeof huge - 1);
  huge[sizeof huge - 1] = '\0';
  nb_page_keys_offer(&p, huge);
  nb_page_keys_offer(&p, "");
  nb_page_keys_offer(&p, "c");
  nb_page_keys_finish(&p);
  assert_int_equal(p.n, 1);
  assert_string_equal(p.keys[0], "c");
  assert_false(p.more);
  nb_page_keys_deinit(&p);
}

static void test_seq_pages(void **state) {
  (void)state;
  nb_page_query q = {.limit = 2, .has_cursor = true};
  snprintf(q.cursor, sizeof q.cursor, "40");
  nb_page_seq p;
  assert_int_equal(nb_page_seq_init(&p, &q), NB_OK);
  assert_int_equal(p.before, 40);
  char buf[24];
  assert_true(nb_page_seq_take(&p, 39));
  assert_null(nb_page_seq_next(&p, buf, sizeof buf));
  assert_true(nb_page_seq_take(&p, 35));
  assert_false(nb_page_seq_take(&p, 30)); /* the one beyond */
  assert_string_equal(nb_page_seq_next(&p, buf, sizeof buf), "35");
  static const char *const bad[] = {"", "x", "-3", "0", "1e3"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(q.cursor, sizeof q.cursor, "%s", bad[i]);
    assert_int_equal(nb_page_seq_init(&p, &q), NB_ERR_INVAL);
  }
}

static void test_link(void **state) {
  (void)state;
  char out[NB_PAGE_LINK_MAX];
  assert_int_equal(nb_page_next_link("/api/clients", 100, "dev 7/a&b", out, sizeof out), NB_OK);
  assert_string_equal(out, "</api/clients?limit=100&cursor=dev%207%2Fa%26b>; rel=\"next\"");
  assert_int_equal(nb_page_next_link("/api/clients/a b/evidence", 5, "12", out, sizeof out), NB_OK);
  assert_string_equal(out, "</api/clients/a%20b/evidence?limit=5&cursor=12>; rel=\"next\"");
  char small[20];
  assert_int_equal(nb_page_next_link("/api/clients", 100, "x", small, sizeof small),
                   NB_ERR_OVERFLOW);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_query),          cmocka_unit_test(test_key_pages_cover_all_once),
      cmocka_unit_test(test_key_page_edges), cmocka_unit_test(test_seq_pages),
      cmocka_unit_test(test_link),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
