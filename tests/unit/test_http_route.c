/* The route matcher of the REST API (src/http/route.c): literals, {name} and {name*}
 * captures, the first-pattern-wins rule, 405 with the methods of the resource, trailing
 * slashes and paths that match nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "http/route.h"

static enum MHD_Result h_a(struct nb_http_req *rq) {
  (void)rq;
  return MHD_YES;
}

static const nb_route table[] = {
    {"GET", "/api/clients", 1, h_a, NULL},
    {"GET", "/api/clients/{ep}", 1, h_a, NULL},
    {"POST", "/api/clients/{ep}/composite", 1, h_a, NULL},
    {"POST", "/api/clients/{ep}/{path*}/observe", 1, h_a, NULL},
    {"DELETE", "/api/clients/{ep}/{path*}/observe", 1, h_a, NULL},
    {"GET", "/api/clients/{ep}/{path*}", 1, h_a, NULL},
    {"PUT", "/api/clients/{ep}/{path*}", 1, h_a, NULL},
    {"GET", "/api/bootstrap/pending/{ep}/approve", 4, h_a, NULL},
    {"POST", "/api/bootstrap/pending/{ep}/approve", 4, h_a, NULL},
};
#define N (sizeof(table) / sizeof(table[0]))

static const nb_route *match(const char *method, const char *path, nb_err want, nb_route_params *p,
                             char *allowed) {
  const nb_route *r = NULL;
  char local[64];
  assert_int_equal(nb_route_match(table, N, method, path, &r, p, allowed ? allowed : local, 64),
                   want);
  return r;
}

static void test_literal_and_captures(void **state) {
  (void)state;
  nb_route_params p;
  char v[64];
  assert_ptr_equal(match("GET", "/api/clients", NB_OK, &p, NULL), &table[0]);
  assert_int_equal(p.n, 0);
  assert_ptr_equal(match("GET", "/api/clients/", NB_OK, &p, NULL), &table[0]);
  assert_ptr_equal(match("GET", "/api/clients/dev-1", NB_OK, &p, NULL), &table[1]);
  assert_true(nb_route_param(&p, 0, v, sizeof v));
  assert_string_equal(v, "dev-1");
  assert_ptr_equal(match("POST", "/api/clients/dev-1/composite", NB_OK, &p, NULL), &table[2]);
  /* {path*}: several segments, one, or none */
  assert_ptr_equal(match("POST", "/api/clients/d/3/0/1/observe", NB_OK, &p, NULL), &table[3]);
  assert_int_equal(p.n, 2);
  assert_true(nb_route_param(&p, 1, v, sizeof v));
  assert_string_equal(v, "3/0/1");
  assert_ptr_equal(match("DELETE", "/api/clients/d/3/observe", NB_OK, &p, NULL), &table[4]);
  assert_true(nb_route_param(&p, 1, v, sizeof v));
  assert_string_equal(v, "3");
  assert_ptr_equal(match("POST", "/api/clients/d/observe", NB_OK, &p, NULL), &table[3]);
  assert_true(nb_route_param(&p, 1, v, sizeof v));
  assert_string_equal(v, "");
  assert_ptr_equal(match("PUT", "/api/clients/d/3303/0/5700/", NB_OK, &p, NULL), &table[6]);
  assert_true(nb_route_param(&p, 1, v, sizeof v));
  assert_string_equal(v, "3303/0/5700");
  /* a capture that does not fit */
  assert_false(nb_route_param(&p, 1, v, 4));
  assert_false(nb_route_param(&p, 2, v, sizeof v));
}

static void test_first_pattern_names_the_resource(void **state) {
  (void)state;
  nb_route_params p;
  char allowed[64];
  /* GET .../observe is not a read of a path ending in "observe": the observe resource has
   * no GET. */
  const nb_route *r = match("GET", "/api/clients/d/3/0/observe", NB_ERR_UNSUPPORTED, &p, allowed);
  assert_ptr_equal(r, &table[3]);
  assert_string_equal(allowed, "POST, DELETE");
  match("DELETE", "/api/clients", NB_ERR_UNSUPPORTED, &p, allowed);
  assert_string_equal(allowed, "GET");
  match("PUT", "/api/bootstrap/pending/x/approve", NB_ERR_UNSUPPORTED, &p, allowed);
  assert_string_equal(allowed, "GET, POST");
}

static void test_no_match(void **state) {
  (void)state;
  nb_route_params p;
  match("GET", "/", NB_ERR_NOT_FOUND, &p, NULL);
  match("GET", "", NB_ERR_NOT_FOUND, &p, NULL);
  match("GET", "/api", NB_ERR_NOT_FOUND, &p, NULL);
  match("GET", "/api/client", NB_ERR_NOT_FOUND, &p, NULL);
  match("GET", "api/clients", NB_ERR_NOT_FOUND, &p, NULL);
  match("GET", "/api/clients//3", NB_ERR_NOT_FOUND, &p, NULL); /* {ep} is never empty */
  match("POST", "/api/bootstrap/pending//approve", NB_ERR_NOT_FOUND, &p, NULL);
  match("GET", "/api/bootstrap/pending/a/b/approve", NB_ERR_NOT_FOUND, &p, NULL);
  /* more segments than a path may have */
  char deep[200] = "/api/clients/d";
  for (int i = 0; i < 40; i++) strcat(deep, "/1");
  match("GET", deep, NB_ERR_NOT_FOUND, &p, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_literal_and_captures),
      cmocka_unit_test(test_first_pattern_names_the_resource),
      cmocka_unit_test(test_no_match),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
