/* Resource discovery: see wellknown.h. */
#include "coap/wellknown.h"

#include <string.h>

bool nb_coap_wk_is_request(const nb_coap_msg *req) {
  char path[24];
  return nb_coap_msg_get_path(req, NB_COAP_OPT_URI_PATH, path, sizeof path) == NB_OK &&
         strcmp(path, "/.well-known/core") == 0;
}

/* `have` matches the pattern pat[0..plen): equal, or starting with it when it ends in '*'. */
static bool matches(const char *have, size_t hlen, const char *pat, size_t plen) {
  if (plen && pat[plen - 1] == '*') return hlen >= plen - 1 && memcmp(have, pat, plen - 1) == 0;
  return hlen == plen && memcmp(have, pat, plen) == 0;
}

/* One word of a space-separated attribute value matches (the whole value for a single word). */
static bool value_matches(const char *value, const char *pat, size_t plen) {
  if (matches(value, strlen(value), pat, plen)) return true;
  for (const char *p = value; *p;) {
    while (*p == ' ') p++;
    const char *end = p;
    while (*end && *end != ' ') end++;
    if (end > p && matches(p, (size_t)(end - p), pat, plen)) return true;
    p = end;
  }
  return false;
}

/* One filter `name=pattern` (or a bare `name`) of the query against one link. */
static bool link_matches(const nb_coap_wk_link *l, const uint8_t *q, size_t len) {
  const uint8_t *eq = memchr(q, '=', len);
  size_t nlen = eq ? (size_t)(eq - q) : len;
  const char *pat = eq ? (const char *)eq + 1 : "";
  size_t plen = eq ? len - nlen - 1 : 0;
  if (nlen == 4 && memcmp(q, "href", 4) == 0)
    return eq && matches(l->target, strlen(l->target), pat, plen);
  for (size_t i = 0; i < l->param_count; i++) {
    const nb_link_param *p = &l->params[i];
    if (strlen(p->name) != nlen || memcmp(p->name, q, nlen) != 0) continue;
    if (!eq) return true;
    if (p->value && value_matches(p->value, pat, plen)) return true;
  }
  return false;
}

static bool selected(const nb_coap_wk_link *l, const nb_coap_msg *req) {
  for (size_t i = 0; i < req->option_count; i++) {
    const nb_coap_option *o = &req->options[i];
    if (o->number == NB_COAP_OPT_URI_QUERY && !link_matches(l, o->value, o->len)) return false;
  }
  return true;
}

nb_err nb_coap_wk_write(const nb_coap_wk_link *links, size_t n, const nb_coap_msg *req,
                        nb_bytes *out) {
  nb_err e = NB_OK;
  for (size_t i = 0; i < n && e == NB_OK; i++) {
    if (!selected(&links[i], req)) continue;
    e = nb_link_write_target(out, links[i].target);
    for (size_t k = 0; k < links[i].param_count && e == NB_OK; k++) {
      const nb_link_param *p = &links[i].params[k];
      e = nb_link_write_param(out, p->name, p->value, p->quoted);
    }
  }
  return e;
}

nb_err nb_coap_wk_respond(nb_coap_exchange *ex, const nb_coap_msg *req,
                          const nb_coap_wk_link *links, size_t n, nb_time_ms now) {
  nb_coap_msg m;
  if (req->code != NB_COAP_GET) {
    nb_coap_msg_init(&m, NB_COAP_ACK, NB_COAP_METHOD_NOT_ALLOWED, 0);
    return nb_coap_exchange_respond(ex, &m, now);
  }
  nb_bytes body;
  nb_bytes_init(&body);
  nb_err e = nb_coap_wk_write(links, n, req, &body);
  nb_coap_msg_init(&m, NB_COAP_ACK, e == NB_OK ? NB_COAP_CONTENT : NB_COAP_INTERNAL_SERVER_ERROR,
                   0);
  if (e == NB_OK) {
    nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_LINK_FORMAT);
    nb_coap_msg_set_payload(&m, body.data, body.len);
  }
  e = nb_coap_exchange_respond(ex, &m, now);
  nb_bytes_free(&body);
  return e;
}
