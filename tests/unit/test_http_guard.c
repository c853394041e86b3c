/* The request guard of the REST API (src/http/guard.c): Host against the listener's names
 * (DNS rebinding), Origin and Sec-Fetch-Site (cross-site requests), the JSON content type of
 * bodies and state changes, OPTIONS; and its two parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "http/guard.h"

static void test_parse_authority(void **state) {
  (void)state;
  char h[NB_HTTP_HOST_MAX];
  uint16_t port;
  assert_int_equal(nb_http_parse_authority("127.0.0.1:8080", h, sizeof h, &port), NB_OK);
  assert_string_equal(h, "127.0.0.1");
  assert_int_equal(port, 8080);
  assert_int_equal(nb_http_parse_authority("[::1]:80", h, sizeof h, &port), NB_OK);
  assert_string_equal(h, "::1");
  assert_int_equal(port, 80);
  assert_int_equal(nb_http_parse_authority("Api.Example.COM", h, sizeof h, &port), NB_OK);
  assert_string_equal(h, "api.example.com");
  assert_int_equal(port, 0);
  static const char *const bad[] = {
      "",       ":80",       "a b",      "user@host", "host:0",   "host:65536", "host:", "[::1",
      "[zz]:1", "host/path", "host:80x", "[::1]x",    "h:123456", "host:-1",    "[]:80", "ho\tst"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (nb_http_parse_authority(bad[i], h, sizeof h, &port) != NB_ERR_INVAL)
      fail_msg("'%s' parsed", bad[i]);
  char small[4];
  assert_int_equal(nb_http_parse_authority("abcd", small, sizeof small, &port), NB_ERR_INVAL);
}

static void test_json_type(void **state) {
  (void)state;
  assert_true(nb_http_is_json_type("application/json"));
  assert_true(nb_http_is_json_type("Application/JSON; charset=utf-8"));
  assert_true(nb_http_is_json_type(" application/json ;charset=UTF-8"));
  assert_false(nb_http_is_json_type("application/jsonp"));
  assert_false(nb_http_is_json_type("text/plain"));
  assert_false(nb_http_is_json_type("application/x-www-form-urlencoded"));
  assert_false(nb_http_is_json_type("multipart/form-data; boundary=x"));
  assert_false(nb_http_is_json_type(""));
  assert_false(nb_http_is_json_type(NULL));
}

static nb_http_guard_verdict check(const nb_http_guard *g, const char *local, const char *method,
                                   const char *host, const char *origin, const char *site,
                                   const char *ct, bool body) {
  nb_addr a;
  assert_int_equal(nb_addr_parse(local, 0, &a), NB_OK);
  nb_http_guard_request r = {.method = method,
                             .host = host,
                             .origin = origin,
                             .fetch_site = site,
                             .content_type = ct,
                             .has_body = body,
                             .local = &a};
  const char *why = NULL;
  nb_http_guard_verdict v = nb_http_guard_check(g, &r, &why);
  assert_true(v == NB_GUARD_PASS ? why == NULL : why != NULL);
  return v;
}

#define LO "127.0.0.1:8080"

static void test_host(void **state) {
  (void)state;
  nb_http_guard g;
  nb_http_guard_init(&g, false);
  assert_int_equal(nb_http_guard_add_name(&g, "api.example.com"), NB_OK);
  assert_int_equal(nb_http_guard_add_name(&g, "proxy.example:8443"), NB_OK);
  assert_int_equal(nb_http_guard_add_name(&g, "not a name"), NB_ERR_INVAL);
  nb_http_guard_verdict ok = NB_GUARD_PASS, bad = NB_GUARD_BAD_HOST;
  assert_int_equal(check(&g, LO, "GET", "127.0.0.1:8080", 0, 0, 0, false), ok);
  assert_int_equal(check(&g, LO, "GET", "127.0.0.1", 0, 0, 0, false), ok);
  assert_int_equal(check(&g, LO, "GET", "localhost:8080", 0, 0, 0, false), ok);
  assert_int_equal(check(&g, LO, "GET", "LOCALHOST", 0, 0, 0, false), ok);
  assert_int_equal(check(&g, LO, "GET", NULL, 0, 0, 0, false), ok); /* HTTP/1.0 */
  assert_int_equal(check(&g, LO, "GET", "api.example.com:9999", 0, 0, 0, false), ok);
  assert_int_equal(check(&g, LO, "GET", "proxy.example:8443", 0, 0, 0, false), ok);
  /* DNS rebinding: the attacker's name, now pointing at us */
  assert_int_equal(check(&g, LO, "GET", "attacker.example:8080", 0, 0, 0, false), bad);
  assert_int_equal(check(&g, LO, "GET", "attacker.example", 0, 0, 0, false), bad);
  assert_int_equal(check(&g, LO, "GET", "proxy.example:8080", 0, 0, 0, false), bad);
  assert_int_equal(check(&g, LO, "GET", "127.0.0.1:8081", 0, 0, 0, false), bad);
  assert_int_equal(check(&g, LO, "GET", "localhost:8081", 0, 0, 0, false), bad);
  assert_int_equal(check(&g, LO, "GET", "127.0.0.2:8080", 0, 0, 0, false), bad);
  assert_int_equal(check(&g, LO, "GET", "[::1]:8080", 0, 0, 0, false), bad);
  assert_int_equal(check(&g, LO, "GET", "127.0.0.1:8080/x", 0, 0, 0, false), bad);
  /* localhost is a name of loopback listeners only */
  assert_int_equal(check(&g, "192.0.2.5:8080", "GET", "localhost:8080", 0, 0, 0, false), bad);
  assert_int_equal(check(&g, "192.0.2.5:8080", "GET", "192.0.2.5:8080", 0, 0, 0, false), ok);
  assert_int_equal(check(&g, "[::1]:8080", "GET", "[::1]:8080", 0, 0, 0, false), ok);
  assert_int_equal(check(&g, "[::1]:8080", "GET", "localhost:8080", 0, 0, 0, false), ok);
  /* an IPv4 client on a dual-stack listener */
  assert_int_equal(check(&g, "[::ffff:127.0.0.1]:8080", "GET", "127.0.0.1:8080", 0, 0, 0, false),
                   ok);
  /* full */
  for (int i = 2; i < NB_HTTP_GUARD_NAMES_MAX; i++)
    assert_int_equal(nb_http_guard_add_name(&g, "x.example"), NB_OK);
  assert_int_equal(nb_http_guard_add_name(&g, "y.example"), NB_ERR_RANGE);
}

static void test_cross_site(void **state) {
  (void)state;
  nb_http_guard g, tls;
  nb_http_guard_init(&g, false);
  nb_http_guard_init(&tls, true);
  const char *h = "127.0.0.1:8080", *json = "application/json";
  nb_http_guard_verdict ok = NB_GUARD_PASS, x = NB_GUARD_CROSS_SITE;
  /* the console, served from the same origin */
  assert_int_equal(check(&g, LO, "POST", h, "http://127.0.0.1:8080", "same-origin", json, true),
                   ok);
  assert_int_equal(check(&g, LO, "GET", h, NULL, "none", NULL, false), ok);
  assert_int_equal(check(&tls, LO, "PUT", h, "https://127.0.0.1:8080", NULL, json, true), ok);
  assert_int_equal(
      check(&g, "127.0.0.1:80", "PUT", "127.0.0.1", "http://127.0.0.1:80", 0, json, true), ok);
  /* a page elsewhere */
  assert_int_equal(check(&g, LO, "POST", h, "http://evil.example", NULL, "text/plain", true), x);
  assert_int_equal(check(&g, LO, "POST", h, "http://localhost:8080", NULL, json, true), x);
  assert_int_equal(check(&g, LO, "POST", h, "https://127.0.0.1:8080", NULL, json, true), x);
  assert_int_equal(check(&tls, LO, "POST", h, "http://127.0.0.1:8080", NULL, json, true), x);
  assert_int_equal(check(&g, LO, "POST", h, "http://127.0.0.1:8081", NULL, json, true), x);
  assert_int_equal(check(&g, LO, "DELETE", h, "null", NULL, NULL, false), x);
  assert_int_equal(check(&g, LO, "GET", h, "http://evil.example", NULL, NULL, false), x);
  assert_int_equal(check(&g, LO, "POST", h, NULL, "cross-site", NULL, false), x);
  assert_int_equal(check(&g, LO, "POST", h, NULL, "same-site", NULL, false), x);
  assert_int_equal(check(&g, LO, "GET", h, NULL, "cross-site", NULL, false), x);
  /* no preflight is ever answered */
  assert_int_equal(check(&g, LO, "OPTIONS", h, "http://evil.example", NULL, NULL, false),
                   NB_GUARD_PREFLIGHT);
  assert_int_equal(check(&g, LO, "OPTIONS", h, NULL, NULL, NULL, false), NB_GUARD_PREFLIGHT);
}

/* A GET of the console's files (public, static) may come from a link or a page elsewhere; the
 * Host is still checked, and an API GET from elsewhere is still refused. */
static void test_public_get(void **state) {
  (void)state;
  nb_http_guard g;
  nb_http_guard_init(&g, false);
  nb_addr a;
  assert_int_equal(nb_addr_parse(LO, 0, &a), NB_OK);
  nb_http_guard_request r = {.method = "GET",
                             .host = "127.0.0.1:8080",
                             .origin = "http://evil.example",
                             .fetch_site = "cross-site",
                             .public_get = true,
                             .local = &a};
  assert_int_equal(nb_http_guard_check(&g, &r, NULL), NB_GUARD_PASS);
  r.public_get = false;
  assert_int_equal(nb_http_guard_check(&g, &r, NULL), NB_GUARD_CROSS_SITE);
  r.public_get = true;
  r.host = "evil.example:8080"; /* DNS rebinding: refused whatever is asked */
  assert_int_equal(nb_http_guard_check(&g, &r, NULL), NB_GUARD_BAD_HOST);
}

static void test_content_type(void **state) {
  (void)state;
  nb_http_guard g;
  nb_http_guard_init(&g, false);
  const char *h = "127.0.0.1:8080";
  nb_http_guard_verdict ok = NB_GUARD_PASS, nj = NB_GUARD_NOT_JSON;
  assert_int_equal(check(&g, LO, "PUT", h, 0, 0, "application/json; charset=utf-8", true), ok);
  assert_int_equal(check(&g, LO, "POST", h, 0, 0, NULL, false), ok); /* curl -X POST */
  assert_int_equal(check(&g, LO, "GET", h, 0, 0, "text/plain", false), ok);
  assert_int_equal(check(&g, LO, "PUT", h, 0, 0, "text/plain", true), nj);
  assert_int_equal(check(&g, LO, "PUT", h, 0, 0, NULL, true), nj);
  assert_int_equal(check(&g, LO, "POST", h, 0, 0, "application/x-www-form-urlencoded", false), nj);
  assert_int_equal(check(&g, LO, "POST", h, 0, 0, "multipart/form-data; boundary=a", true), nj);
  assert_int_equal(check(&g, LO, "GET", h, 0, 0, "text/plain", true), nj);
  const char *code;
  assert_int_equal(nb_http_guard_status(NB_GUARD_NOT_JSON, &code), 415);
  assert_string_equal(code, "4.15");
  assert_int_equal(nb_http_guard_status(NB_GUARD_BAD_HOST, &code), 421);
  assert_int_equal(nb_http_guard_status(NB_GUARD_CROSS_SITE, &code), 403);
  assert_int_equal(nb_http_guard_status(NB_GUARD_PREFLIGHT, &code), 405);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_authority),
      cmocka_unit_test(test_json_type),
      cmocka_unit_test(test_host),
      cmocka_unit_test(test_cross_site),
      cmocka_unit_test(test_public_get),
      cmocka_unit_test(test_content_type),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
