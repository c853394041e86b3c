/* Address comparison, hashing, parsing and sockaddr conversion. */
#include "base/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t nb_addr_iplen(const nb_addr *a) { return a->family == NB_ADDR_V4 ? 4 : 16; }

bool nb_addr_equal(const nb_addr *a, const nb_addr *b) {
  if (a->family != b->family || a->port != b->port || a->scope != b->scope) return false;
  if (a->family == NB_ADDR_V4) { /* every lookup of a peer ends here: no memcmp call */
    uint32_t x, y;
    memcpy(&x, a->ip, 4);
    memcpy(&y, b->ip, 4);
    return x == y;
  }
  return memcmp(a->ip, b->ip, nb_addr_iplen(a)) == 0;
}

uint32_t nb_addr_hash(const nb_addr *a) {
  /* FNV-1a over the fields that nb_addr_equal compares. */
  uint32_t h = 2166136261u;
  uint8_t head[3] = {a->family, (uint8_t)(a->port >> 8), (uint8_t)a->port};
  for (size_t i = 0; i < sizeof head; i++) h = (h ^ head[i]) * 16777619u;
  for (size_t i = 0; i < nb_addr_iplen(a); i++) h = (h ^ a->ip[i]) * 16777619u;
  return h;
}

const char *nb_addr_format(const nb_addr *a, char *buf, size_t cap) {
  char ip[INET6_ADDRSTRLEN];
  int af = a->family == NB_ADDR_V4 ? AF_INET : AF_INET6;
  if (!inet_ntop(af, a->ip, ip, sizeof ip)) snprintf(ip, sizeof ip, "?");
  if (a->family == NB_ADDR_V4) {
    snprintf(buf, cap, "%s:%u", ip, a->port);
  } else {
    snprintf(buf, cap, "[%s]:%u", ip, a->port);
  }
  return buf;
}

static nb_err nb_addr_parse_port(const char *s, uint16_t *port) {
  char *end;
  if (*s == 0) return NB_ERR_SYNTAX;
  unsigned long v = strtoul(s, &end, 10);
  if (*end != 0 || v > 65535) return NB_ERR_SYNTAX;
  *port = (uint16_t)v;
  return NB_OK;
}

nb_err nb_addr_parse(const char *text, uint16_t default_port, nb_addr *out) {
  char host[INET6_ADDRSTRLEN];
  const char *port_text = NULL;
  memset(out, 0, sizeof *out);
  out->port = default_port;
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (!close || (size_t)(close - text - 1) >= sizeof host) return NB_ERR_SYNTAX;
    memcpy(host, text + 1, (size_t)(close - text - 1));
    host[close - text - 1] = 0;
    if (close[1] == ':') {
      port_text = close + 2;
    } else if (close[1] != 0) {
      return NB_ERR_SYNTAX;
    }
  } else {
    const char *colon = strchr(text, ':');
    bool v6_bare = colon && strchr(colon + 1, ':');
    size_t n = (colon && !v6_bare) ? (size_t)(colon - text) : strlen(text);
    if (n >= sizeof host) return NB_ERR_SYNTAX;
    memcpy(host, text, n);
    host[n] = 0;
    if (colon && !v6_bare) port_text = colon + 1;
  }
  if (port_text && nb_addr_parse_port(port_text, &out->port) != NB_OK) return NB_ERR_SYNTAX;
  if (inet_pton(AF_INET, host, out->ip) == 1) {
    out->family = NB_ADDR_V4;
  } else if (inet_pton(AF_INET6, host, out->ip) == 1) {
    out->family = NB_ADDR_V6;
  } else {
    return NB_ERR_SYNTAX;
  }
  return NB_OK;
}

nb_err nb_addr_from_sockaddr(const struct sockaddr *sa, nb_addr *out) {
  memset(out, 0, sizeof *out);
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
    out->family = NB_ADDR_V4;
    out->port = ntohs(in->sin_port);
    memcpy(out->ip, &in->sin_addr, 4);
    return NB_OK;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
    out->family = NB_ADDR_V6;
    out->port = ntohs(in6->sin6_port);
    out->scope = in6->sin6_scope_id;
    memcpy(out->ip, &in6->sin6_addr, 16);
    return NB_OK;
  }
  return NB_ERR_UNSUPPORTED;
}

nb_err nb_addr_to_sockaddr(const nb_addr *a, struct sockaddr *sa, size_t cap, size_t *len) {
  if (a->family == NB_ADDR_V4) {
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(a->port)};
    memcpy(&in.sin_addr, a->ip, 4);
    if (cap < sizeof in) return NB_ERR_OVERFLOW;
    memcpy(sa, &in, sizeof in);
    *len = sizeof in;
    return NB_OK;
  }
  if (a->family == NB_ADDR_V6) {
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(a->port)};
    in6.sin6_scope_id = a->scope;
    memcpy(&in6.sin6_addr, a->ip, 16);
    if (cap < sizeof in6) return NB_ERR_OVERFLOW;
    memcpy(sa, &in6, sizeof in6);
    *len = sizeof in6;
    return NB_OK;
  }
  return NB_ERR_INVAL;
}
