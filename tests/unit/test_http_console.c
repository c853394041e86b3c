/* The web console's files as the API serves them (src/http/console.c): the embedded table,
 * content types, the map tile URL an operator may configure (nothing that could break out of
 * the Content-Security-Policy header or reach a second origin) and the policy itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "http/console.h"

static void test_embedded_files(void **state) {
  (void)state;
  if (nb_console_asset_count == 0) skip(); /* built without npm (NB_WITH_CONSOLE=OFF) */
  const nb_console_asset *index = nb_console_find("/");
  assert_non_null(index);
  assert_true(index->len > 0 && index->data[index->len] == 0);
  /* Scripts come from files only: the strict CSP runs no inline script. */
  assert_non_null(strstr((const char *)index->data, "src=\"/console/js/app.js\""));
  assert_null(strstr((const char *)index->data, "<script>"));
  assert_non_null(nb_console_find("/console/js/api.js"));
  assert_non_null(nb_console_find("/console/vendor/uPlot.js"));
  assert_non_null(nb_console_find("/console/vendor/leaflet.js"));
  assert_non_null(nb_console_find("/console/vendor/jsQR.js"));
  assert_null(nb_console_find("/console/../CMakeLists.txt"));
  assert_null(nb_console_find("/console/js/"));
  assert_null(nb_console_find(""));
  for (size_t i = 0; i < nb_console_asset_count; i++) {
    assert_int_equal(nb_console_assets[i].etag[0], '"');
    assert_true(strcmp(nb_console_type(nb_console_assets[i].path), "application/octet-stream"));
  }
}

static void test_types(void **state) {
  (void)state;
  assert_string_equal(nb_console_type("/"), "text/html; charset=utf-8");
  assert_string_equal(nb_console_type("/console/js/app.js"), "text/javascript; charset=utf-8");
  assert_string_equal(nb_console_type("/console/console.css"), "text/css; charset=utf-8");
  assert_string_equal(nb_console_type("/console/icon.svg"), "image/svg+xml");
  assert_string_equal(nb_console_type("/console/x.bin"), "application/octet-stream");
  assert_string_equal(nb_console_type("/console/noext"), "application/octet-stream");
}

static void test_tiles(void **state) {
  (void)state;
  char origin[NB_CONSOLE_TILES_MAX];
  const char *why;
  assert_int_equal(nb_console_tiles_check("https://tile.example.org/{z}/{x}/{y}.png", origin,
                                          sizeof origin, &why),
                   NB_OK);
  assert_string_equal(origin, "https://tile.example.org");
  assert_null(why);
  assert_int_equal(nb_console_tiles_check("https://{s}.tile.example.org:8443/t/{z}/{x}/{y}.png",
                                          origin, sizeof origin, NULL),
                   NB_OK);
  assert_string_equal(origin, "https://*.tile.example.org:8443");
  assert_int_equal(
      nb_console_tiles_check("http://127.0.0.1:8000/{z}/{y}/{x}", origin, sizeof origin, NULL),
      NB_OK);
  assert_string_equal(origin, "http://127.0.0.1:8000");
  static const char *const bad[] = {
      "https://t.example/{z}/{x}.png",                      /* no {y} */
      "ftp://t.example/{z}/{x}/{y}",                        /* scheme */
      "//t.example/{z}/{x}/{y}",                            /* no scheme */
      "https:///{z}/{x}/{y}",                               /* no host */
      "https://t.example",                                  /* no path */
      "https://t.example/{z}/{x}/{y}; script-src *",        /* a second directive */
      "https://t.example/{z}/{x}/{y}'unsafe-inline'",       /* a CSP keyword */
      "https://t.example/{z}/{x}/{y}\r\nSet-Cookie: a=b",   /* header splitting */
      "https://t.example,https://evil.example/{z}/{x}/{y}", /* two origins */
      "https://user@t.example/{z}/{x}/{y}",                 /* userinfo */
      "https://t.example:99999/{z}/{x}/{y}",                /* port */
      "https://t.example/{z}/{x}/{y}\"",                    /* quote */
      "",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (nb_console_tiles_check(bad[i], origin, sizeof origin, &why) != NB_ERR_INVAL || !why)
      fail_msg("'%s' accepted", bad[i]);
  assert_int_equal(nb_console_tiles_check(NULL, origin, sizeof origin, NULL), NB_ERR_INVAL);
}

static void test_csp(void **state) {
  (void)state;
  char csp[NB_CONSOLE_CSP_MAX];
  nb_console_csp(NULL, csp, sizeof csp);
  assert_non_null(strstr(csp, "default-src 'none'"));
  assert_non_null(strstr(csp, "script-src 'self';"));
  assert_non_null(strstr(csp, "style-src 'self';"));
  assert_non_null(strstr(csp, "connect-src 'self';"));
  assert_non_null(strstr(csp, "frame-ancestors 'none'"));
  assert_null(strstr(csp, "unsafe"));
  assert_null(strstr(csp, "*"));
  nb_console_csp("https://*.tile.example.org", csp, sizeof csp);
  assert_non_null(strstr(csp, "img-src 'self' blob: data: https://*.tile.example.org;"));
  assert_non_null(strstr(csp, "script-src 'self';")); /* tiles are images, nothing else */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_embedded_files),
      cmocka_unit_test(test_types),
      cmocka_unit_test(test_tiles),
      cmocka_unit_test(test_csp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
