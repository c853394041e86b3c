/* LwM2M link-format layer over coap/link.h. */
#include "lwm2m/linkfmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coap/link.h"
#include "coap/msg.h"
#include "lwm2m/fmtutil.h"

void nb_lwm2m_links_init(nb_lwm2m_links *l) { memset(l, 0, sizeof *l); }

void nb_lwm2m_links_deinit(nb_lwm2m_links *l) {
  free(l->items);
  nb_lwm2m_links_init(l);
}

nb_err nb_lwm2m_links_add(nb_lwm2m_links *l, const nb_path *p, const nb_attrs *attrs) {
  if (l->len == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    nb_lwm2m_link *items = realloc(l->items, cap * sizeof *items);
    if (!items) return NB_ERR_NOMEM;
    l->items = items;
    l->cap = cap;
  }
  nb_lwm2m_link *it = &l->items[l->len++];
  it->path = *p;
  if (attrs)
    it->attrs = *attrs;
  else
    nb_attrs_init(&it->attrs);
  return NB_OK;
}

/* ---- decoding ---- */

typedef struct {
  nb_lwm2m_links *out;
  nb_format_error *err;
  char *detail;
  size_t detail_cap;
} nb_lf_dec;

static nb_err nb_lf_bad(nb_lf_dec *d, nb_err e, const char *reason, const char *what) {
  if (d->detail && d->detail_cap) snprintf(d->detail, d->detail_cap, "%s: %.80s", reason, what);
  return nb_fmt_bad(d->err, e, reason);
}

/* True when the space-separated list `value` holds `token`. */
static bool nb_lf_has_token(const char *value, const char *token) {
  size_t tlen = strlen(token);
  for (const char *p = value; *p;) {
    while (*p == ' ') p++;
    const char *end = p;
    while (*end && *end != ' ') end++;
    if ((size_t)(end - p) == tlen && !memcmp(p, token, tlen)) return true;
    p = end;
  }
  return false;
}

static bool nb_lf_is_root(const nb_links *links, const nb_link *link) {
  const nb_link_param *rt = nb_link_find_param(links, link, "rt");
  return (rt && rt->value && nb_lf_has_token(rt->value, "oma.lwm2m")) || !strcmp(link->target, "/");
}

/* ct of the root: one number or a space-separated list of numbers. */
static nb_err nb_lf_parse_ct(nb_lf_dec *d, const char *value) {
  nb_lwm2m_links *l = d->out;
  for (const char *p = value; *p;) {
    while (*p == ' ') p++;
    if (!*p) break;
    const char *end = p;
    while (*end && *end != ' ') end++;
    uint64_t ct;
    if (nb_fmt_parse_u64(p, (size_t)(end - p), &ct) != NB_OK || ct > UINT16_MAX ||
        l->ct_count == NB_LINKFMT_CT_MAX) {
      return nb_lf_bad(d, NB_ERR_FMT_MALFORMED, "link-format: invalid ct on the root link", value);
    }
    l->cts[l->ct_count++] = (uint16_t)ct;
    p = end;
  }
  if (l->ct_count == 0) return nb_lf_bad(d, NB_ERR_FMT_MALFORMED, "link-format: empty ct", value);
  return NB_OK;
}

static nb_err nb_lf_root(nb_lf_dec *d, const nb_links *links, const nb_link *link) {
  nb_lwm2m_links *l = d->out;
  if (l->has_root)
    return nb_lf_bad(d, NB_ERR_FMT_DUPLICATE, "link-format: two root links", link->target);
  l->has_root = true;
  size_t tlen = strlen(link->target);
  while (tlen > 1 && link->target[tlen - 1] == '/') tlen--;
  if (link->target[0] != '/' || tlen >= NB_LINKFMT_ROOT_MAX) {
    return nb_lf_bad(d, NB_ERR_FMT_PATH, "link-format: invalid root path", link->target);
  }
  if (tlen > 1) memcpy(l->root, link->target, tlen);
  l->root[tlen > 1 ? tlen : 0] = '\0';
  for (size_t k = 0; k < link->param_count; k++) {
    const nb_link_param *prm = nb_link_param_at(links, link, k);
    nb_err e = NB_OK;
    if (!strcmp(prm->name, "rt")) {
      l->rt_lwm2m |= prm->value && nb_lf_has_token(prm->value, "oma.lwm2m");
    } else if (!strcmp(prm->name, "ct")) {
      if (!prm->value || l->ct_count)
        return nb_lf_bad(d, NB_ERR_FMT_MALFORMED, "link-format: invalid ct on the root link",
                         link->target);
      e = nb_lf_parse_ct(d, prm->value);
    } else if (!strcmp(prm->name, "lwm2m")) {
      size_t vlen = prm->value ? strlen(prm->value) : 0;
      if (!prm->value || vlen >= sizeof l->lwm2m || l->lwm2m[0]) {
        return nb_lf_bad(d, NB_ERR_FMT_MALFORMED, "link-format: invalid lwm2m version",
                         link->target);
      }
      memcpy(l->lwm2m, prm->value, vlen + 1);
    }
    if (e != NB_OK) return e;
  }
  return NB_OK;
}

/* Known LwM2M attributes of one link into attrs; others are ignored as RFC 6690 says. */
static nb_err nb_lf_attrs(nb_lf_dec *d, const nb_links *links, const nb_link *link,
                          nb_attrs *attrs) {
  nb_attrs_init(attrs);
  for (size_t k = 0; k < link->param_count; k++) {
    const nb_link_param *prm = nb_link_param_at(links, link, k);
    size_t nlen = strlen(prm->name);
    if (!nb_attr_from_name(prm->name, nlen)) continue;
    char kv[NB_ATTR_URI_MAX + 16];
    int n = prm->value ? snprintf(kv, sizeof kv, "%s=%s", prm->name, prm->value) : -1;
    if (n < 0 || (size_t)n >= sizeof kv ||
        nb_attrs_parse_one(attrs, kv, (size_t)n, NULL, 0) != NB_OK) {
      return nb_lf_bad(d, NB_ERR_FMT_MALFORMED, "link-format: invalid LwM2M attribute",
                       link->target);
    }
  }
  if (nb_attrs_validate(attrs, NULL, 0) != NB_OK) {
    return nb_lf_bad(d, NB_ERR_FMT_MALFORMED, "link-format: inconsistent LwM2M attributes",
                     link->target);
  }
  return NB_OK;
}

static nb_err nb_lf_link(nb_lf_dec *d, const nb_links *links, const nb_link *link) {
  const char *target = link->target;
  size_t rlen = strlen(d->out->root);
  if (rlen) {
    if (strncmp(target, d->out->root, rlen) != 0 || target[rlen] != '/') {
      return nb_lf_bad(d, NB_ERR_FMT_PATH, "link-format: link outside the LwM2M root path", target);
    }
    target += rlen;
  }
  nb_path p;
  if (nb_path_parse(target, &p) != NB_OK || p.len == 0) {
    return nb_lf_bad(d, NB_ERR_FMT_PATH, "link-format: link target is not an LwM2M path",
                     link->target);
  }
  nb_attrs attrs;
  nb_err e = nb_lf_attrs(d, links, link, &attrs);
  if (e != NB_OK) return e;
  if (nb_lwm2m_links_add(d->out, &p, &attrs) != NB_OK) return nb_fmt_nomem(d->err);
  return NB_OK;
}

static int nb_lf_path_cmp(const void *a, const void *b) { return nb_path_compare(a, b); }

static nb_err nb_lf_no_duplicates(nb_lf_dec *d) {
  nb_lwm2m_links *l = d->out;
  if (l->len < 2) return NB_OK;
  nb_path *paths = malloc(l->len * sizeof *paths);
  if (!paths) return nb_fmt_nomem(d->err);
  for (size_t k = 0; k < l->len; k++) paths[k] = l->items[k].path;
  qsort(paths, l->len, sizeof *paths, nb_lf_path_cmp);
  nb_err e = NB_OK;
  for (size_t k = 1; k < l->len && e == NB_OK; k++) {
    if (nb_path_equal(&paths[k - 1], &paths[k])) {
      char buf[NB_PATH_STRLEN];
      nb_path_format(&paths[k], buf, sizeof buf);
      e = nb_lf_bad(d, NB_ERR_FMT_DUPLICATE, "link-format: the same path is linked twice", buf);
    }
  }
  free(paths);
  return e;
}

/* The legacy Bootstrap-Discover prefix `lwm2m="1.0",` (LwM2M 1.0) before the links. */
static nb_err nb_lf_legacy_prefix(nb_lf_dec *d, const char **text, size_t *len) {
  if (*len < 6 || memcmp(*text, "lwm2m=", 6) != 0) return NB_OK;
  size_t end = 6;
  bool quoted = false;
  while (end < *len && (quoted || (*text)[end] != ',')) quoted ^= (*text)[end++] == '"';
  const char *v = *text + 6;
  size_t vlen = end - 6;
  if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') v++, vlen -= 2;
  if (vlen == 0 || vlen >= sizeof d->out->lwm2m || memchr(v, '"', vlen)) {
    return nb_lf_bad(d, NB_ERR_FMT_MALFORMED, "link-format: invalid lwm2m version", "lwm2m=");
  }
  memcpy(d->out->lwm2m, v, vlen);
  d->out->lwm2m[vlen] = '\0';
  d->out->has_root = true;
  *text += end < *len ? end + 1 : end;
  *len -= end < *len ? end + 1 : end;
  return NB_OK;
}

static nb_err nb_lf_decode(nb_lf_dec *d, const char *text, size_t len) {
  nb_err e = nb_lf_legacy_prefix(d, &text, &len);
  if (e != NB_OK) return e;
  nb_links links;
  size_t pos = 0;
  if (nb_links_parse(text, len, &links, &pos) != NB_OK) {
    if (d->detail && d->detail_cap)
      snprintf(d->detail, d->detail_cap, "link-format: syntax error at byte %zu", pos);
    return nb_fmt_bad(d->err, NB_ERR_FMT_MALFORMED, "link-format: syntax error");
  }
  bool legacy_root = d->out->has_root;
  for (size_t k = 0; k < links.count && e == NB_OK; k++) {
    if (nb_lf_is_root(&links, &links.links[k])) {
      if (legacy_root) d->out->has_root = false, legacy_root = false;
      e = nb_lf_root(d, &links, &links.links[k]);
    }
  }
  for (size_t k = 0; k < links.count && e == NB_OK; k++) {
    if (!nb_lf_is_root(&links, &links.links[k])) e = nb_lf_link(d, &links, &links.links[k]);
  }
  nb_links_deinit(&links);
  return e == NB_OK ? nb_lf_no_duplicates(d) : e;
}

nb_err nb_linkfmt_decode(const uint8_t *buf, size_t len, nb_lwm2m_links *out, nb_format_error *err,
                         char *detail, size_t detail_cap) {
  nb_lf_dec d = {out, err, detail, detail_cap};
  if (detail && detail_cap) detail[0] = '\0';
  nb_lwm2m_links_deinit(out);
  nb_err e = nb_lf_decode(&d, (const char *)buf, buf ? len : 0);
  if (e != NB_OK) nb_lwm2m_links_deinit(out);
  return e;
}

/* ---- encoding ---- */

static nb_err nb_lf_put_root(const nb_lwm2m_links *in, nb_bytes *out) {
  nb_err e = nb_link_write_target(out, in->root[0] ? in->root : "/");
  /* An alternate root is only recognizable by its rt. */
  if (!e && (in->rt_lwm2m || in->root[0])) e = nb_link_write_param(out, "rt", "oma.lwm2m", true);
  if (!e && in->ct_count == 1) {
    char num[8];
    snprintf(num, sizeof num, "%u", (unsigned)in->cts[0]);
    e = nb_link_write_param(out, "ct", num, false);
  } else if (!e && in->ct_count > 1) {
    char list[NB_LINKFMT_CT_MAX * 6 + 1];
    size_t pos = 0;
    for (size_t k = 0; k < in->ct_count && k < NB_LINKFMT_CT_MAX; k++) {
      pos +=
          (size_t)snprintf(list + pos, sizeof list - pos, k ? " %u" : "%u", (unsigned)in->cts[k]);
    }
    e = nb_link_write_param(out, "ct", list, true);
  }
  if (!e && in->lwm2m[0]) e = nb_link_write_param(out, "lwm2m", in->lwm2m, false);
  return e;
}

nb_err nb_linkfmt_encode_link(const char *root, const nb_path *p, const nb_attrs *attrs,
                              nb_bytes *out) {
  char target[NB_LINKFMT_ROOT_MAX + NB_PATH_STRLEN];
  char path[NB_PATH_STRLEN];
  nb_err e = nb_path_format(p, path, sizeof path);
  if (e != NB_OK) return e;
  snprintf(target, sizeof target, "%s%s", root ? root : "", path);
  if ((e = nb_link_write_target(out, target)) != NB_OK) return e;
  if (!attrs) return NB_OK;
  char text[NB_ATTR_URI_MAX + 256];
  if ((e = nb_attrs_format_link(attrs, text, sizeof text)) != NB_OK) return e;
  return nb_bytes_append_str(out, text);
}

nb_err nb_linkfmt_encode_root(const nb_lwm2m_links *in, nb_bytes *out) {
  return in->has_root ? nb_lf_put_root(in, out) : NB_OK;
}

nb_err nb_linkfmt_encode(const nb_lwm2m_links *in, nb_bytes *out) {
  size_t before = out->len;
  nb_err e = nb_linkfmt_encode_root(in, out);
  for (size_t k = 0; k < in->len && e == NB_OK; k++)
    e = nb_linkfmt_encode_link(in->root, &in->items[k].path, &in->items[k].attrs, out);
  if (e != NB_OK) out->len = before;
  return e;
}
