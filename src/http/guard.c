/* Request guard: see guard.h. */
#include "http/guard.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void nb_http_guard_init(nb_http_guard *g, bool tls) {
  memset(g, 0, sizeof(*g));
  g->tls = tls;
}

/* ---- parsers ---- */

static bool host_char(char c) {
  return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

/* ":65535" into *port (1..65535). */
static bool parse_port(const char *s, uint16_t *port) {
  if (*s++ != ':' || !*s || strlen(s) > 5) return false;
  unsigned v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return false;
    v = v * 10 + (unsigned)(*s - '0');
  }
  if (v == 0 || v > 65535) return false;
  *port = (uint16_t)v;
  return true;
}

nb_err nb_http_parse_authority(const char *text, char *host, size_t cap, uint16_t *port) {
  *port = 0;
  if (!text || !cap) return NB_ERR_INVAL;
  const char *end;
  size_t len;
  if (text[0] == '[') { /* IPv6 literal */
    const char *close = strchr(text, ']');
    if (!close) return NB_ERR_INVAL;
    len = (size_t)(close - text - 1);
    char v6[INET6_ADDRSTRLEN];
    uint8_t bin[16];
    if (len == 0 || len >= sizeof(v6) || len >= cap) return NB_ERR_INVAL;
    memcpy(v6, text + 1, len);
    v6[len] = '\0';
    if (inet_pton(AF_INET6, v6, bin) != 1) return NB_ERR_INVAL;
    memcpy(host, v6, len + 1);
    end = close + 1;
  } else {
    for (end = text; host_char(*end); end++) {
    }
    len = (size_t)(end - text);
    if (len == 0 || len > 253 || len >= cap) return NB_ERR_INVAL;
    memcpy(host, text, len);
    host[len] = '\0';
  }
  for (char *c = host; *c; c++) *c = (char)tolower((unsigned char)*c);
  if (*end == '\0') return NB_OK;
  return parse_port(end, port) ? NB_OK : NB_ERR_INVAL;
}

bool nb_http_is_json_type(const char *ct) {
  static const char json[] = "application/json";
  if (!ct) return false;
  while (*ct == ' ' || *ct == '\t') ct++;
  if (strncasecmp(ct, json, sizeof(json) - 1) != 0) return false;
  ct += sizeof(json) - 1;
  while (*ct == ' ' || *ct == '\t') ct++;
  return *ct == '\0' || *ct == ';';
}

nb_err nb_http_guard_add_name(nb_http_guard *g, const char *name) {
  if (g->n == NB_HTTP_GUARD_NAMES_MAX) return NB_ERR_RANGE;
  if (nb_http_parse_authority(name, g->names[g->n].host, sizeof(g->names[g->n].host),
                              &g->names[g->n].port) != NB_OK)
    return NB_ERR_INVAL;
  g->n++;
  return NB_OK;
}

/* ---- checks ---- */

/* The IPv4 address inside an IPv4-mapped IPv6 one (::ffff:a.b.c.d), else a itself. */
static nb_addr unmapped(const nb_addr *a) {
  static const uint8_t prefix[12] = {[10] = 0xff, [11] = 0xff};
  nb_addr out = *a;
  if (a->family == NB_ADDR_V6 && memcmp(a->ip, prefix, 12) == 0) {
    memset(&out, 0, sizeof(out));
    out.family = NB_ADDR_V4;
    out.port = a->port;
    memcpy(out.ip, a->ip + 12, 4);
  }
  return out;
}

static bool is_loopback(const nb_addr *a) {
  static const uint8_t v6lo[16] = {[15] = 1};
  nb_addr u = unmapped(a);
  return u.family == NB_ADDR_V4 ? u.ip[0] == 127 : memcmp(u.ip, v6lo, 16) == 0;
}

/* host is an IP literal equal to the local address. */
static bool is_own_ip(const char *host, const nb_addr *local) {
  nb_addr l = unmapped(local);
  uint8_t bin[16];
  if (l.family == NB_ADDR_V4) return inet_pton(AF_INET, host, bin) == 1 && !memcmp(bin, l.ip, 4);
  return inet_pton(AF_INET6, host, bin) == 1 && memcmp(bin, l.ip, 16) == 0;
}

static bool host_ok(const nb_http_guard *g, const char *header, const nb_addr *local) {
  char host[NB_HTTP_HOST_MAX];
  uint16_t port;
  if (nb_http_parse_authority(header, host, sizeof(host), &port) != NB_OK) return false;
  for (size_t i = 0; i < g->n; i++)
    if (strcmp(host, g->names[i].host) == 0 && (!g->names[i].port || g->names[i].port == port))
      return true;
  /* Our own address or localhost: a port, when given, is the one we listen on. */
  if (port && port != local->port) return false;
  if (is_own_ip(host, local)) return true;
  return is_loopback(local) && (strcmp(host, "localhost") == 0 || strcmp(host, "localhost.") == 0);
}

/* Origin "scheme://host[:port]" is this listener as the request's Host names it. */
static bool same_origin(const nb_http_guard *g, const char *origin, const char *host_header) {
  const char *scheme = g->tls ? "https://" : "http://";
  size_t slen = strlen(scheme);
  if (!host_header || strncasecmp(origin, scheme, slen) != 0) return false;
  char oh[NB_HTTP_HOST_MAX], hh[NB_HTTP_HOST_MAX];
  uint16_t op, hp, dflt = g->tls ? 443 : 80;
  if (nb_http_parse_authority(origin + slen, oh, sizeof(oh), &op) != NB_OK ||
      nb_http_parse_authority(host_header, hh, sizeof(hh), &hp) != NB_OK)
    return false;
  return strcmp(oh, hh) == 0 && (op ? op : dflt) == (hp ? hp : dflt);
}

static bool state_changing(const char *method) {
  return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

/* "application/octet-stream", parameters allowed. */
static bool is_octet_type(const char *ct) {
  static const char octet[] = "application/octet-stream";
  if (!ct || strncasecmp(ct, octet, sizeof(octet) - 1) != 0) return false;
  ct += sizeof(octet) - 1;
  while (*ct == ' ' || *ct == '\t') ct++;
  return *ct == '\0' || *ct == ';';
}

nb_http_guard_verdict nb_http_guard_check(const nb_http_guard *g, const nb_http_guard_request *r,
                                          const char **why) {
  const char *dummy;
  if (!why) why = &dummy;
  if (r->host && !host_ok(g, r->host, r->local)) {
    *why = "the Host header does not name this server (add the name with --http-host)";
    return NB_GUARD_BAD_HOST;
  }
  if (strcmp(r->method, "OPTIONS") == 0) {
    *why = "no CORS here: the API answers requests from its own origin only";
    return NB_GUARD_PREFLIGHT;
  }
  if (!r->public_get && ((r->origin && !same_origin(g, r->origin, r->host)) ||
                         (r->fetch_site && strcmp(r->fetch_site, "same-origin") != 0 &&
                          strcmp(r->fetch_site, "none") != 0))) {
    *why = "cross-site request refused: the API answers requests from its own origin only";
    return NB_GUARD_CROSS_SITE;
  }
  bool declared = r->content_type && *r->content_type;
  bool typed = r->raw_body ? is_octet_type(r->content_type) : nb_http_is_json_type(r->content_type);
  if ((r->has_body || (declared && state_changing(r->method))) && !typed) {
    *why = r->raw_body ? "uploads must be sent as Content-Type: application/octet-stream"
                       : "request bodies must be sent as Content-Type: application/json";
    return NB_GUARD_NOT_JSON;
  }
  *why = NULL;
  return NB_GUARD_PASS;
}

unsigned nb_http_guard_status(nb_http_guard_verdict v, const char **code) {
  static const struct {
    unsigned status;
    const char *code;
  } map[] = {
      [NB_GUARD_PASS] = {200, "2.05"},      [NB_GUARD_BAD_HOST] = {421, "4.21"},
      [NB_GUARD_PREFLIGHT] = {405, "4.05"}, [NB_GUARD_CROSS_SITE] = {403, "4.03"},
      [NB_GUARD_NOT_JSON] = {415, "4.15"},
  };
  *code = map[v].code;
  return map[v].status;
}
