/* The server's alert ring (src/http/alerts.c): validation of monitor alerts, all-or-none
 * batches, newest-first listing, the bounded ring, and the route's statuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/alerts.h"

/* An alert line exactly as `niobium monitor` writes it. */
static const char monitor_line[] =
    "{\"ts\":1700000000.123456,\"event\":\"alert\",\"packet\":7,\"src\":\"10.0.0.5\","
    "\"sport\":40000,\"dst\":\"10.0.0.1\",\"dport\":5683,\"transport\":\"coap\","
    "\"endpoint\":\"dev1\",\"rule\":\"cleartext-credentials\",\"severity\":\"high\","
    "\"message\":\"Security object written over NoSec\",\"evidence\":[5,7],\"path\":\"/0/1/5\"}";

static json_t *load(const char *text) {
  json_t *j = json_loads(text, 0, NULL);
  assert_non_null(j);
  return j;
}

static nb_err check(const char *text) {
  char why[160];
  json_t *j = load(text);
  nb_err rc = nb_http_alert_check(j, why, sizeof(why));
  json_decref(j);
  return rc;
}

static void test_check(void **state) {
  (void)state;
  assert_int_equal(check(monitor_line), NB_OK);
  assert_int_equal(check("{\"rule\":\"scanning\",\"severity\":\"medium\"}"), NB_OK);
  assert_int_equal(check("{\"severity\":\"medium\"}"), NB_ERR_INVAL);
  assert_int_equal(check("{\"rule\":\"\",\"severity\":\"medium\"}"), NB_ERR_INVAL);
  assert_int_equal(check("{\"rule\":\"x\"}"), NB_ERR_INVAL);
  assert_int_equal(check("{\"rule\":\"x\",\"severity\":\"urgent\"}"), NB_ERR_INVAL);
  assert_int_equal(check("{\"rule\":7,\"severity\":\"low\"}"), NB_ERR_INVAL);
  assert_int_equal(check("{\"rule\":\"x\",\"severity\":\"low\",\"evidence\":[-1]}"), NB_ERR_INVAL);
  assert_int_equal(check("{\"rule\":\"x\",\"severity\":\"low\",\"sport\":70000}"), NB_ERR_INVAL);
  assert_int_equal(check("{\"rule\":\"x\",\"severity\":\"low\",\"event\":\"message\"}"),
                   NB_ERR_INVAL);
  assert_int_equal(check("{\"rule\":\"x\",\"severity\":\"low\",\"ts\":\"now\"}"), NB_ERR_INVAL);
  assert_int_equal(check("[1]"), NB_ERR_INVAL);
  /* Too large as a whole: 413 territory. */
  char *big = malloc(NB_HTTP_ALERT_SIZE_MAX + 100);
  assert_non_null(big);
  int n = snprintf(big, 64, "{\"rule\":\"x\",\"severity\":\"low\",\"extra\":\"");
  memset(big + n, 'a', NB_HTTP_ALERT_SIZE_MAX);
  strcpy(big + n + NB_HTTP_ALERT_SIZE_MAX, "\"}");
  assert_int_equal(check(big), NB_ERR_RANGE);
  free(big);
}

static void test_ring_and_batches(void **state) {
  (void)state;
  nb_http_alerts *a;
  assert_int_equal(nb_http_alerts_new(3, NULL, &a), NB_OK);
  char why[160];
  json_t *one = load(monitor_line), *ids = NULL;
  assert_int_equal(nb_http_alerts_add(a, one, 1000, "api@127.0.0.1", &ids, why, sizeof(why)),
                   NB_OK);
  assert_int_equal(json_integer_value(json_array_get(ids, 0)), 1);
  json_decref(ids);
  json_decref(one);
  /* A batch with one bad alert stores nothing. */
  json_t *bad = load("[{\"rule\":\"a\",\"severity\":\"low\"},{\"rule\":\"b\"}]");
  assert_int_equal(nb_http_alerts_add(a, bad, 2000, NULL, NULL, why, sizeof(why)), NB_ERR_INVAL);
  assert_non_null(strstr(why, "alert 1"));
  assert_int_equal(nb_http_alerts_count(a), 1);
  json_decref(bad);
  json_t *batch = load(
      "[{\"rule\":\"a\",\"severity\":\"low\"},{\"rule\":\"b\",\"severity\":"
      "\"low\"},{\"rule\":\"c\",\"severity\":\"critical\"}]");
  assert_int_equal(nb_http_alerts_add(a, batch, 3000, NULL, NULL, why, sizeof(why)), NB_OK);
  json_decref(batch);
  /* Capacity 3: the first alert fell out; newest first. */
  assert_int_equal(nb_http_alerts_count(a), 3);
  json_t *list = nb_http_alerts_list(a, 10);
  assert_int_equal(json_array_size(list), 3);
  assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "rule")), "c");
  assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "rule")), "a");
  assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "id")), 4);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "receivedAt")),
                   3000);
  assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "reporter")),
                      "api");
  json_decref(list);
  list = nb_http_alerts_list(a, 1);
  assert_int_equal(json_array_size(list), 1);
  json_decref(list);
  /* Pages (ids 4, 3, 2 in the ring): two, then the one before id 3. */
  uint64_t next;
  list = nb_http_alerts_page(a, 0, 2, &next);
  assert_int_equal(json_array_size(list), 2);
  assert_int_equal(next, 3);
  json_decref(list);
  list = nb_http_alerts_page(a, next, 2, &next);
  assert_int_equal(json_array_size(list), 1);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "id")), 2);
  assert_int_equal(next, 0);
  json_decref(list);
  list = nb_http_alerts_page(a, 0, 3, &next); /* exactly all: no next page */
  assert_int_equal(json_array_size(list), 3);
  assert_int_equal(next, 0);
  json_decref(list);
  nb_http_alerts_free(a);
}

static unsigned route(nb_http_alerts *a, const char *method, const char *limit, const char *body,
                      json_t **out) {
  unsigned status = 0;
  nb_http_alerts_route(a, method, limit, body, body ? strlen(body) : 0, 5000, "api@127.0.0.1",
                       &status, out);
  assert_non_null(*out);
  return status;
}

static void test_route(void **state) {
  (void)state;
  nb_http_alerts *a;
  assert_int_equal(nb_http_alerts_new(0, NULL, &a), NB_OK);
  json_t *j;
  assert_int_equal(route(a, "POST", NULL, "{not json", &j), 400);
  assert_string_equal(json_string_value(json_object_get(j, "code")), "4.00");
  assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "bad JSON"));
  json_decref(j);
  assert_int_equal(route(a, "POST", NULL, "{\"severity\":\"low\"}", &j), 400);
  assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "rule"));
  json_decref(j);
  assert_int_equal(route(a, "POST", NULL, "[]", &j), 400);
  json_decref(j);
  assert_int_equal(route(a, "POST", NULL, monitor_line, &j), 201);
  assert_int_equal(json_integer_value(json_object_get(j, "accepted")), 1);
  json_decref(j);
  assert_int_equal(route(a, "GET", "0", NULL, &j), 400);
  json_decref(j);
  assert_int_equal(route(a, "GET", "x", NULL, &j), 400);
  json_decref(j);
  assert_int_equal(route(a, "GET", "5", NULL, &j), 200);
  assert_int_equal(json_array_size(j), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "path")), "/0/1/5");
  json_decref(j);
  assert_int_equal(route(a, "DELETE", NULL, NULL, &j), 405);
  json_decref(j);
  nb_http_alerts_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_check),
                                     cmocka_unit_test(test_ring_and_batches),
                                     cmocka_unit_test(test_route)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
