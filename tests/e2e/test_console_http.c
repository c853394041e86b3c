/* The web console as `niobium server` serves it on 127.0.0.1: the page and its files without
 * a token while /api/ still needs one, their security headers (a strict CSP, nosniff, no
 * framing), ETags, links from other sites opening the page while the API stays closed to
 * them, /console/config.json, and --console-tiles (its origin in the CSP, bad URLs refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_test.h"

#define TOKEN "console-e2e-token-0123456789"

typedef struct {
  char dir[64], db[128], coap[32], http[32], base[64];
  nb_test_proc srv;
} env;

static void env_start(env *e, const char *tiles) {
  snprintf(e->dir, sizeof(e->dir), "/tmp/nb-e2e-console-XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  snprintf(e->db, sizeof(e->db), "%s/server.db", e->dir);
  snprintf(e->coap, sizeof(e->coap), "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(e->http, sizeof(e->http), "127.0.0.1:%u", hp);
  snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%u", hp);
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "server",
                  "--coap",
                  e->coap,
                  "--http",
                  e->http,
                  "--db",
                  e->db,
                  "--api-token",
                  TOKEN,
                  tiles ? "--console-tiles" : NULL,
                  (char *)tiles,
                  NULL};
  assert_true(nb_test_proc_start(&e->srv, argv));
  assert_true(nb_test_proc_wait_output(&e->srv, true, "proto=http", 10000));
}

static void env_stop(env *e) {
  nb_test_proc_stop(&e->srv);
  nb_test_proc_cleanup(&e->srv);
  nb_test_remove_db(e->db);
  rmdir(e->dir);
}

/* Headers and body of a GET (curl -si), with up to two more request headers. */
static char *get(const env *e, const char *path, const char *h1, const char *h2) {
  char url[256];
  snprintf(url, sizeof(url), "%s%s", e->base, path);
  char *argv[12] = {"curl", "-si", "-m", "20"};
  int n = 4;
  if (h1) argv[n++] = "-H", argv[n++] = (char *)h1;
  if (h2) argv[n++] = "-H", argv[n++] = (char *)h2;
  argv[n++] = url;
  argv[n] = NULL;
  char *out = NULL;
  assert_int_equal(nb_test_run(argv, 30000, &out), 0);
  return out;
}

static bool has_console(const char *answer) {
  return !strstr(answer, "this build has no web console");
}

static void test_page_and_headers(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  env_start(&e, NULL);
  char *page = get(&e, "/", NULL, NULL);
  if (!has_console(page)) {
    free(page);
    env_stop(&e);
    skip(); /* built without npm */
  }
  assert_non_null(strstr(page, "HTTP/1.1 200"));
  assert_non_null(strstr(page, "Content-Type: text/html; charset=utf-8"));
  assert_non_null(strstr(page, "Content-Security-Policy: default-src 'none'; script-src 'self';"));
  assert_null(strstr(page, "unsafe-inline"));
  assert_non_null(strstr(page, "frame-ancestors 'none'"));
  assert_non_null(strstr(page, "X-Content-Type-Options: nosniff"));
  assert_non_null(strstr(page, "X-Frame-Options: DENY"));
  assert_non_null(strstr(page, "Cache-Control: no-cache"));
  assert_non_null(strstr(page, "<script type=\"module\" src=\"/console/js/app.js\">"));
  assert_null(strstr(page, TOKEN));
  /* its files, typed */
  char *js = get(&e, "/console/js/app.js", NULL, NULL);
  assert_non_null(strstr(js, "HTTP/1.1 200"));
  assert_non_null(strstr(js, "Content-Type: text/javascript; charset=utf-8"));
  free(js);
  char *lib = get(&e, "/console/vendor/uPlot.js", NULL, NULL);
  assert_non_null(strstr(lib, "HTTP/1.1 200"));
  free(lib);
  /* unchanged: 304 without a body */
  const char *etag = strstr(page, "ETag: ");
  assert_non_null(etag);
  char inm[96];
  snprintf(inm, sizeof(inm), "If-None-Match: %.*s", (int)strcspn(etag + 6, "\r\n"), etag + 6);
  char *again = get(&e, "/", inm, NULL);
  assert_non_null(strstr(again, "HTTP/1.1 304"));
  assert_null(strstr(again, "<html"));
  free(again);
  free(page);
  /* nothing else is served */
  char *missing = get(&e, "/console/js/nope.js", NULL, NULL);
  assert_non_null(strstr(missing, "HTTP/1.1 404"));
  free(missing);
  char *up = get(&e, "/console/../../etc/passwd", NULL, NULL);
  assert_non_null(strstr(up, "HTTP/1.1 404"));
  free(up);
  env_stop(&e);
}

static void test_token_and_other_sites(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  env_start(&e, NULL);
  char *page = get(&e, "/", NULL, NULL);
  bool built = has_console(page);
  free(page);
  /* the API still needs the token; the console asks for it first */
  char *api = get(&e, "/api/clients", NULL, NULL);
  assert_non_null(strstr(api, "HTTP/1.1 401"));
  free(api);
  char *cfg = get(&e, "/console/config.json", NULL, NULL);
  assert_non_null(strstr(cfg, "HTTP/1.1 200"));
  assert_non_null(strstr(cfg, "\"tokenRequired\":true"));
  assert_non_null(strstr(cfg, "\"server\":true"));
  assert_null(strstr(cfg, TOKEN));
  free(cfg);
  /* a link from another site opens the page; the API stays closed to other sites */
  if (built) {
    char *linked = get(&e, "/", "Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: navigate");
    assert_non_null(strstr(linked, "HTTP/1.1 200"));
    free(linked);
  }
  char *xapi =
      get(&e, "/api/clients", "Sec-Fetch-Site: cross-site", "Authorization: Bearer " TOKEN);
  assert_non_null(strstr(xapi, "HTTP/1.1 403"));
  free(xapi);
  /* a rebound DNS name gets nothing, not even the page */
  char *rebound = get(&e, "/", "Host: evil.example", NULL);
  assert_non_null(strstr(rebound, "HTTP/1.1 421"));
  free(rebound);
  env_stop(&e);
}

static void test_tiles(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  env_start(&e, "https://{s}.tiles.example.org/{z}/{x}/{y}.png");
  char *page = get(&e, "/", NULL, NULL);
  if (has_console(page))
    assert_non_null(strstr(page, "img-src 'self' blob: data: https://*.tiles.example.org;"));
  free(page);
  char *cfg = get(&e, "/console/config.json", NULL, NULL);
  assert_non_null(strstr(cfg, "\"tiles\":\"https://{s}.tiles.example.org/{z}/{x}/{y}.png\""));
  free(cfg);
  env_stop(&e);
  /* a URL that would add a directive to the policy is refused at start */
  char *err = NULL;
  char *argv[] = {(char *)nb_test_env("NB_BINARY"), "server", "--console-tiles",
                  "https://t.example/{z}/{x}/{y}; script-src *", NULL};
  assert_int_equal(nb_test_run_capture(argv, 10000, NULL, &err), 2);
  assert_non_null(strstr(err, "--console-tiles"));
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_page_and_headers),
      cmocka_unit_test(test_token_and_other_sites),
      cmocka_unit_test(test_tiles),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
