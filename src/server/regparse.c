/* Register/Update parameter parsing: see regparse.h. */
#include "server/regparse.h"

#include <stdlib.h>
#include <string.h>

#include "coap/link.h"
#include "lwm2m/linkfmt.h"

void nb_server_reg_limits_default(nb_server_reg_limits *l) {
  l->payload = NB_SERVER_REG_PAYLOAD_MAX;
  l->links = NB_SERVER_REG_LINKS_MAX;
  l->attrs = NB_SERVER_REG_ATTRS_MAX;
  l->attr_len = NB_SERVER_REG_ATTR_LEN_MAX;
}

void nb_server_reg_params_init(nb_server_reg_params *p) { memset(p, 0, sizeof(*p)); }

void nb_server_reg_params_deinit(nb_server_reg_params *p) {
  free(p->links);
  free(p->objects);
  nb_server_reg_params_init(p);
}

static nb_err fail(nb_server_reg_error *err, uint8_t code, const char *reason) {
  if (err) {
    err->code = code;
    err->reason = reason;
  }
  if (code == NB_COAP_REQUEST_ENTITY_TOO_LARGE) return NB_ERR_RANGE;
  return code == NB_COAP_PRECONDITION_FAILED ? NB_ERR_UNSUPPORTED : NB_ERR_INVAL;
}

bool nb_server_ep_valid(const uint8_t *s, size_t len) {
  if (len == 0 || len >= NB_SERVER_EP_MAX) return false;
  for (size_t i = 0; i < len; i++) {
    uint8_t c = s[i];
    if (c <= 0x20 || c >= 0x7f || c == '/' || c == '?' || c == '&' || c == '#' || c == '%' ||
        c == '"' || c == '\\')
      return false;
  }
  return true;
}

static bool parse_u32(const uint8_t *s, size_t len, uint32_t *out) {
  if (len == 0 || len > 10) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  if (v > UINT32_MAX) return false;
  *out = (uint32_t)v;
  return true;
}

/* "d.d" with one-digit components, the only form LwM2M versions take. */
static bool version_syntax(const uint8_t *s, size_t len) {
  return len == 3 && s[0] >= '0' && s[0] <= '9' && s[1] == '.' && s[2] >= '0' && s[2] <= '9';
}

static bool version_supported(const char *v) {
  return strcmp(v, "1.0") == 0 || strcmp(v, "1.1") == 0 || strcmp(v, "1.2") == 0;
}

bool nb_server_binding_valid(const char *b, const char *version) {
  static const char *const v10[] = {"U", "UQ", "S", "SQ", "US", "UQS"};
  if (version && strcmp(version, "1.0") == 0) {
    for (size_t i = 0; i < sizeof(v10) / sizeof(v10[0]); i++)
      if (strcmp(b, v10[i]) == 0) return true;
    return false;
  }
  /* 1.1+: a non-empty set of U, S, N, T, each at most once. */
  unsigned seen = 0;
  if (!*b) return false;
  for (const char *c = b; *c; c++) {
    const char *pos = strchr("USNT", *c);
    if (!pos) return false;
    unsigned bit = 1u << (pos - "USNT");
    if (seen & bit) return false;
    seen |= bit;
  }
  return true;
}

static bool copy_text(char *dst, size_t cap, const uint8_t *s, size_t len) {
  if (len >= cap) return false;
  for (size_t i = 0; i < len; i++)
    if (s[i] < 0x20 || s[i] >= 0x7f) return false;
  memcpy(dst, s, len);
  dst[len] = '\0';
  return true;
}

/* One Uri-Query option "k=v" or "k". */
static nb_err parse_query(const nb_coap_option *o, nb_server_reg_params *p, bool reg,
                          nb_server_reg_error *err) {
  const uint8_t *eq = memchr(o->value, '=', o->len);
  size_t klen = eq ? (size_t)(eq - o->value) : o->len;
  const uint8_t *v = eq ? eq + 1 : o->value + o->len;
  size_t vlen = eq ? o->len - klen - 1 : 0;
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(o->value, k, klen) == 0)
#define ONCE(bit)                                                                         \
  do {                                                                                    \
    if (p->present & (bit)) return fail(err, NB_COAP_BAD_REQUEST, "duplicate parameter"); \
    p->present |= (bit);                                                                  \
  } while (0)
  if (KEY("ep")) {
    if (!reg) return fail(err, NB_COAP_BAD_REQUEST, "ep is not allowed in an Update");
    ONCE(NB_REGP_EP);
    if (!eq || !nb_server_ep_valid(v, vlen))
      return fail(err, NB_COAP_BAD_REQUEST, "invalid endpoint name");
    memcpy(p->ep, v, vlen);
    p->ep[vlen] = '\0';
  } else if (KEY("lt")) {
    ONCE(NB_REGP_LT);
    if (!eq || !parse_u32(v, vlen, &p->lifetime) || p->lifetime == 0)
      return fail(err, NB_COAP_BAD_REQUEST, "invalid lifetime");
  } else if (KEY("lwm2m")) {
    if (!reg) return fail(err, NB_COAP_BAD_REQUEST, "lwm2m is not allowed in an Update");
    ONCE(NB_REGP_VER);
    if (!eq || !version_syntax(v, vlen))
      return fail(err, NB_COAP_BAD_REQUEST, "malformed LwM2M version");
    memcpy(p->version, v, vlen);
    p->version[vlen] = '\0';
    if (!version_supported(p->version))
      return fail(err, NB_COAP_PRECONDITION_FAILED, "unsupported LwM2M version");
  } else if (KEY("b")) {
    ONCE(NB_REGP_BINDING);
    if (!eq || !copy_text(p->binding, sizeof(p->binding), v, vlen) || vlen == 0)
      return fail(err, NB_COAP_BAD_REQUEST, "invalid binding");
  } else if (KEY("Q")) {
    ONCE(NB_REGP_QUEUE);
    if (eq) return fail(err, NB_COAP_BAD_REQUEST, "Q takes no value");
    p->queue = true;
  } else if (KEY("sms")) {
    ONCE(NB_REGP_SMS);
    if (!eq || !copy_text(p->sms, sizeof(p->sms), v, vlen))
      return fail(err, NB_COAP_BAD_REQUEST, "invalid sms number");
  }
#undef KEY
#undef ONCE
  return NB_OK;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

static bool over(size_t n, size_t bound) { return bound && n > bound; }

/* The object list within limits, counted on its RFC 6690 syntax: every link and attribute,
 * the ones LwM2M ignores too, since the list is kept as received. */
static nb_err check_bounds(const nb_coap_msg *msg, const nb_server_reg_limits *l,
                           nb_server_reg_error *err) {
  if (over(msg->payload_len, l->payload))
    return fail(err, NB_COAP_REQUEST_ENTITY_TOO_LARGE, "object list too large");
  nb_links links;
  if (nb_links_parse((const char *)msg->payload, msg->payload_len, &links, NULL) != NB_OK)
    return fail(err, NB_COAP_BAD_REQUEST, "malformed object list");
  nb_err rc = NB_OK;
  if (over(links.count, l->links)) rc = fail(err, NB_COAP_BAD_REQUEST, "too many links");
  for (size_t i = 0; i < links.count && rc == NB_OK; i++) {
    const nb_link *k = &links.links[i];
    if (over(k->param_count, l->attrs)) rc = fail(err, NB_COAP_BAD_REQUEST, "too many attributes");
    for (size_t j = 0; j < k->param_count && rc == NB_OK; j++) {
      const nb_link_param *a = nb_link_param_at(&links, k, j);
      size_t len = strlen(a->name) + (a->value ? 1 + strlen(a->value) : 0);
      if (over(len, l->attr_len)) rc = fail(err, NB_COAP_BAD_REQUEST, "attribute too long");
    }
  }
  nb_links_deinit(&links);
  return rc;
}

static size_t root_formats(const nb_lwm2m_links *links, uint16_t *out, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; links->has_root && i < links->ct_count && n < cap; i++)
    out[n++] = links->cts[i];
  return n;
}

size_t nb_server_reg_formats(const char *links, size_t len, uint16_t *out, size_t cap) {
  nb_lwm2m_links l;
  nb_lwm2m_links_init(&l);
  size_t n = 0;
  if (nb_linkfmt_decode((const uint8_t *)links, len, &l, NULL, NULL, 0) == NB_OK)
    n = root_formats(&l, out, cap);
  nb_lwm2m_links_deinit(&l);
  return n;
}

/* Validates the object list and keeps it verbatim plus its distinct object IDs and the formats
 * its root link advertises. */
static nb_err parse_links(const nb_coap_msg *msg, const nb_server_reg_limits *limits,
                          nb_server_reg_params *p, nb_server_reg_error *err) {
  int cf = nb_coap_msg_content_format(msg);
  if (cf != NB_COAP_CF_NONE && cf != NB_COAP_CF_LINK_FORMAT)
    return fail(err, NB_COAP_BAD_REQUEST, "object list must be link-format");
  if (limits) {
    nb_err rc = check_bounds(msg, limits, err);
    if (rc != NB_OK) return rc;
  }
  nb_lwm2m_links links;
  nb_lwm2m_links_init(&links);
  nb_format_error ferr = {0};
  if (nb_linkfmt_decode(msg->payload, msg->payload_len, &links, &ferr, NULL, 0) != NB_OK)
    return fail(err, NB_COAP_BAD_REQUEST, "malformed object list");
  nb_err rc = NB_OK;
  p->objects = calloc(links.len ? links.len : 1, sizeof(uint32_t));
  p->links = malloc(msg->payload_len + 1);
  if (!p->objects || !p->links) {
    fail(err, NB_COAP_INTERNAL_SERVER_ERROR, "out of memory");
    rc = NB_ERR_NOMEM;
    goto out;
  }
  size_t n = 0;
  for (size_t i = 0; i < links.len; i++)
    if (links.items[i].path.len > 0) p->objects[n++] = links.items[i].path.ids[0];
  /* Sort then drop repeats: linear in the list after the sort, whatever its length. */
  qsort(p->objects, n, sizeof(uint32_t), cmp_u32);
  for (size_t i = 0; i < n; i++)
    if (p->object_count == 0 || p->objects[p->object_count - 1] != p->objects[i])
      p->objects[p->object_count++] = p->objects[i];
  if (msg->payload_len) memcpy(p->links, msg->payload, msg->payload_len);
  p->links[msg->payload_len] = '\0';
  p->links_len = msg->payload_len;
  p->format_count = root_formats(&links, p->formats, NB_SERVER_FORMATS_MAX);
  p->present |= NB_REGP_LINKS;
out:
  nb_lwm2m_links_deinit(&links);
  return rc;
}

nb_err nb_server_reg_parse(const nb_coap_msg *msg, bool register_req,
                           const nb_server_reg_limits *limits, nb_server_reg_params *out,
                           nb_server_reg_error *err) {
  nb_server_reg_params_init(out);
  nb_err rc = NB_OK;
  for (size_t i = 0; i < msg->option_count && rc == NB_OK; i++)
    if (msg->options[i].number == NB_COAP_OPT_URI_QUERY)
      rc = parse_query(&msg->options[i], out, register_req, err);
  if (rc == NB_OK && register_req && !(out->present & NB_REGP_EP))
    rc = fail(err, NB_COAP_BAD_REQUEST, "missing endpoint name");
  if (rc == NB_OK && register_req) {
    if (!(out->present & NB_REGP_LT)) out->lifetime = NB_SERVER_DEFAULT_LIFETIME;
    if (!(out->present & NB_REGP_VER)) strcpy(out->version, "1.0");
    if (!(out->present & NB_REGP_BINDING)) strcpy(out->binding, "U");
  }
  /* An Update's binding is checked by the engine against the registered version. */
  if (rc == NB_OK && register_req && !nb_server_binding_valid(out->binding, out->version))
    rc = fail(err, NB_COAP_BAD_REQUEST, "invalid binding");
  if (rc == NB_OK && register_req && strchr(out->binding, 'Q')) out->queue = true;
  if (rc == NB_OK && register_req && (out->present & NB_REGP_QUEUE) &&
      strcmp(out->version, "1.0") == 0)
    rc = fail(err, NB_COAP_BAD_REQUEST, "Q parameter is LwM2M 1.1");
  if (rc == NB_OK && (msg->payload_len > 0 || register_req))
    rc = parse_links(msg, limits, out, err);
  if (rc != NB_OK) nb_server_reg_params_deinit(out);
  return rc;
}
