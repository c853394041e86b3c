/* libFuzzer: what a client controls in the REST API's first look at a request: the Host,
 * Origin, Sec-Fetch-Site and Content-Type headers (src/http/guard.c), the URL path against a
 * route table (src/http/route.c) and the paging parameters ?limit= and ?cursor=
 * (src/http/page.c). Input: fields separated by newlines (method, host, origin, fetch-site,
 * content-type, path, limit, cursor). Oracles: never crash; an authority that parses is
 * lowercase and parses again to the same host and port; a passing request names the listener;
 * a route capture lies inside the path; a parsed limit is in range; a Link fits or says so. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/guard.h"
#include "http/page.h"
#include "http/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum MHD_Result h(struct nb_http_req *rq) {
  (void)rq;
  return MHD_YES;
}

static const nb_route table[] = {
    {"GET", "/api/clients", 0, h, NULL},
    {"GET", "/api/clients/{ep}", 0, h, NULL},
    {"POST", "/api/clients/{ep}/{path*}/observe", 0, h, NULL},
    {"GET", "/api/clients/{ep}/{path*}", 0, h, NULL},
    {"POST", "/api/bootstrap/pending/{ep}/approve", 0, h, NULL},
};

static void check_authority(const char *text) {
  char host[NB_HTTP_HOST_MAX], again[NB_HTTP_HOST_MAX], rebuilt[NB_HTTP_HOST_MAX + 16];
  uint16_t port, port2;
  if (nb_http_parse_authority(text, host, sizeof host, &port) != NB_OK) return;
  for (const char *c = host; *c; c++)
    if (*c >= 'A' && *c <= 'Z') abort();
  bool v6 = strchr(host, ':') != NULL;
  if (port)
    snprintf(rebuilt, sizeof rebuilt, v6 ? "[%s]:%u" : "%s:%u", host, port);
  else
    snprintf(rebuilt, sizeof rebuilt, v6 ? "[%s]" : "%s", host);
  if (nb_http_parse_authority(rebuilt, again, sizeof again, &port2) != NB_OK) abort();
  if (strcmp(host, again) != 0 || port != port2) abort();
}

static void check_route(const char *method, const char *path) {
  const nb_route *r;
  nb_route_params p;
  char allowed[64], v[256];
  nb_err e = nb_route_match(table, sizeof table / sizeof table[0], method, path, &r, &p, allowed,
                            sizeof allowed);
  if (e == NB_ERR_NOT_FOUND) return;
  size_t len = strlen(path);
  for (size_t i = 0; i < p.n; i++) {
    if (p.v[i].len && (p.v[i].at < path || p.v[i].at + p.v[i].len > path + len)) abort();
    if (nb_route_param(&p, i, v, sizeof v) && strlen(v) != p.v[i].len) abort();
  }
}

static void check_page(const char *path, const char *limit, const char *cursor) {
  nb_page_query q;
  char why[120], link[NB_PAGE_LINK_MAX];
  if (nb_page_query_parse(limit, cursor, NB_PAGE_DEFAULT, NB_PAGE_MAX, &q, why, sizeof why) !=
      NB_OK)
    return;
  if (q.limit < 1 || q.limit > NB_PAGE_MAX) abort();
  nb_page_seq seq;
  (void)nb_page_seq_init(&seq, &q);
  if (nb_page_next_link(path ? path : "/", q.limit, q.cursor, link, sizeof link) == NB_OK &&
      (link[0] != '<' || !strstr(link, "rel=\"next\"")))
    abort();
  nb_page_keys keys;
  if (nb_page_keys_init(&keys, &q) != NB_OK) return;
  nb_page_keys_offer(&keys, q.cursor);
  if (path && strcmp(path, q.cursor) != 0) nb_page_keys_offer(&keys, path); /* names differ */
  nb_page_keys_finish(&keys);
  for (size_t i = 1; i < keys.n; i++)
    if (strcmp(keys.keys[i - 1], keys.keys[i]) >= 0) abort();
  nb_page_keys_deinit(&keys);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  char *field[8] = {0};
  char *p = text;
  for (int i = 0; i < 8 && p; i++) {
    field[i] = p;
    p = strchr(p, '\n');
    if (p) *p++ = '\0';
  }
  for (int i = 1; i < 5; i++)
    if (field[i]) check_authority(field[i]);
  (void)nb_http_is_json_type(field[4]);
  nb_http_guard g;
  nb_http_guard_init(&g, size & 1);
  nb_http_guard_add_name(&g, "api.example.com");
  nb_addr local;
  nb_addr_parse((size & 2) ? "[::1]:8080" : "127.0.0.1:8080", 0, &local);
  nb_http_guard_request r = {.method = field[0] ? field[0] : "GET",
                             .host = field[1],
                             .origin = field[2],
                             .fetch_site = field[3],
                             .content_type = field[4],
                             .has_body = (size & 4) != 0,
                             .local = &local};
  const char *why;
  nb_http_guard_verdict v = nb_http_guard_check(&g, &r, &why);
  if (v == NB_GUARD_PASS && r.host) {
    char host[NB_HTTP_HOST_MAX];
    uint16_t port;
    if (nb_http_parse_authority(r.host, host, sizeof host, &port) != NB_OK) abort();
  }
  if (field[5]) check_route(r.method, field[5]);
  check_page(field[5], field[6], field[7]);
  free(text);
  return 0;
}
