/* Results of queued requests (src/http/results.c): a record follows its request from QUEUED to
 * its end with the answer kept; retention is bounded by age, by count (the oldest finished
 * records go first, and a table full of unfinished ones refuses more) and by bytes (a body
 * that cannot fit is said to be missing, the record stays). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/results.h"

static const char *str(json_t *j, const char *key) {
  return json_string_value(json_object_get(j, key));
}

static void test_life_of_a_record(void **state) {
  (void)state;
  nb_http_results *r;
  assert_int_equal(nb_http_results_new(NULL, &r), NB_OK);
  assert_int_equal(nb_http_results_add(r, 27, "meter-1", "read", "/3/0/0", 1000), NB_OK);
  assert_int_equal(nb_http_results_add(r, 27, "meter-1", "read", "/3/0/0", 1000), NB_ERR_EXISTS);
  json_t *j = nb_http_results_json(r, 27, 1000);
  assert_string_equal(str(j, "state"), "QUEUED");
  assert_string_equal(str(j, "endpoint"), "meter-1");
  assert_null(json_object_get(j, "result"));
  json_decref(j);
  assert_true(nb_http_results_pending(r, 27));
  nb_http_results_sent(r, 27);
  j = nb_http_results_json(r, 27, 1500);
  assert_string_equal(str(j, "state"), "SENT");
  json_decref(j);
  assert_int_equal(nb_http_results_finish(r, 27, NB_RQ_DONE, 200,
                                          "{\"status\":\"CONTENT\",\"value\":20.0}", 2000),
                   NB_OK);
  assert_false(nb_http_results_pending(r, 27));
  assert_int_equal(nb_http_results_finish(r, 27, NB_RQ_DONE, 200, "{}", 2000), NB_ERR_NOT_FOUND);
  j = nb_http_results_json(r, 27, 2000);
  assert_string_equal(str(j, "state"), "DONE");
  assert_int_equal(json_integer_value(json_object_get(j, "httpStatus")), 200);
  assert_int_equal(json_integer_value(json_object_get(j, "completedAt")), 2000);
  assert_string_equal(str(json_object_get(j, "result"), "status"), "CONTENT");
  json_decref(j);
  assert_null(nb_http_results_json(r, 28, 2000));
  /* An hour after it ended it is forgotten. */
  assert_non_null(j = nb_http_results_json(r, 27, 2000 + 3599999));
  json_decref(j);
  assert_null(nb_http_results_json(r, 27, 2000 + 3600000));
  assert_int_equal(nb_http_results_count(r), 0);
  nb_http_results_free(r);
}

static void test_count_bound(void **state) {
  (void)state;
  nb_http_results_config cfg = {.max = 3};
  nb_http_results *r;
  assert_int_equal(nb_http_results_new(&cfg, &r), NB_OK);
  for (uint64_t id = 1; id <= 3; id++)
    assert_int_equal(nb_http_results_add(r, id, "d", "read", "/3/0/0", 0), NB_OK);
  /* Three waiting: no room, nothing is dropped that a client still waits for. */
  assert_int_equal(nb_http_results_add(r, 4, "d", "read", "/3/0/0", 0), NB_ERR_BUSY);
  assert_int_equal(nb_http_results_finish(r, 2, NB_RQ_EXPIRED, 504, "{\"error\":\"x\"}", 5), NB_OK);
  assert_int_equal(nb_http_results_finish(r, 1, NB_RQ_CANCELLED, 502, "{}", 6), NB_OK);
  /* Room is made by forgetting the oldest finished record (1), then the next (2). */
  assert_int_equal(nb_http_results_add(r, 5, "d", "read", "/3/0/0", 10), NB_OK);
  assert_null(nb_http_results_json(r, 1, 10));
  json_t *j = nb_http_results_json(r, 2, 10);
  assert_string_equal(str(j, "state"), "EXPIRED");
  json_decref(j);
  assert_int_equal(nb_http_results_add(r, 6, "d", "read", "/3/0/0", 10), NB_OK);
  assert_null(nb_http_results_json(r, 2, 10));
  assert_int_equal(nb_http_results_count(r), 3);
  nb_http_results_free(r);
}

static void test_bytes_bound(void **state) {
  (void)state;
  nb_http_results_config cfg = {.bytes_max = 40};
  nb_http_results *r;
  assert_int_equal(nb_http_results_new(&cfg, &r), NB_OK);
  assert_int_equal(nb_http_results_add(r, 1, "d", "read", "/3", 0), NB_OK);
  assert_int_equal(nb_http_results_add(r, 2, "d", "read", "/3", 0), NB_OK);
  assert_int_equal(nb_http_results_add(r, 3, "d", "read", "/3", 0), NB_OK);
  assert_int_equal(nb_http_results_finish(r, 1, NB_RQ_DONE, 200, "{\"v\":\"0123456789\"}", 1),
                   NB_OK); /* 18 bytes */
  assert_int_equal(nb_http_results_finish(r, 2, NB_RQ_DONE, 200, "{\"v\":\"abcdefghij\"}", 2),
                   NB_OK); /* 36: fits */
  json_t *j = nb_http_results_json(r, 1, 2);
  assert_non_null(j);
  json_decref(j);
  /* A third body pushes the oldest finished record out. */
  assert_int_equal(nb_http_results_finish(r, 3, NB_RQ_DONE, 200, "{\"v\":\"ABCDEFGHIJ\"}", 3),
                   NB_OK);
  assert_null(nb_http_results_json(r, 1, 3));
  /* A body larger than the bound: the record stays, saying its result is too large. */
  assert_int_equal(nb_http_results_add(r, 4, "d", "read", "/3", 4), NB_OK);
  assert_int_equal(nb_http_results_finish(
                       r, 4, NB_RQ_DONE, 200,
                       "{\"v\":\"a body of more than forty bytes, which cannot be kept\"}", 5),
                   NB_OK);
  j = nb_http_results_json(r, 4, 5);
  assert_string_equal(str(j, "state"), "DONE");
  assert_string_equal(str(json_object_get(j, "result"), "error"), "result too large to keep");
  json_decref(j);
  nb_http_results_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_life_of_a_record),
      cmocka_unit_test(test_count_bound),
      cmocka_unit_test(test_bytes_bound),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
