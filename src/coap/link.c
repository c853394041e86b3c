/* RFC 6690 link-format parser and writer. */
#include "coap/link.h"

#include <stdlib.h>
#include <string.h>

/* RFC 5987 attr-char plus '*' (for ext-name-star such as title*): a parameter name. */
static bool nb_link_is_parmchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != 0 && strchr("!#$&+-.^_`|~*", c) != NULL;
}

/* RFC 6690 ptokenchar: what an unquoted value may contain. */
static bool nb_link_is_ptokenchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != 0 && strchr("!#$%&'()*+-./:<=>?@[]^_`{|}~", c) != NULL;
}

/* Cursor over the input. The counting pass (out == NULL) only sizes the arrays; the filling
 * pass copies each field NUL-terminated into the arena. Every field in the input is followed
 * by at least one delimiter byte, so the arena never needs more than len + 1 bytes. */
typedef struct {
  const char *s;
  size_t len;
  size_t pos;
  nb_links *out;
  size_t arena_used;
  size_t links;
  size_t params;
} nb_link_parser;

static char nb_link_peek(const nb_link_parser *p) { return p->pos < p->len ? p->s[p->pos] : 0; }

static void nb_link_skip_ws(nb_link_parser *p) {
  while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t')) p->pos++;
}

/* Copies [start, start+n) into the arena; returns the copy (NULL in the counting pass). */
static const char *nb_link_save(nb_link_parser *p, size_t start, size_t n) {
  if (!p->out) return NULL;
  char *dst = p->out->text + p->arena_used;
  memcpy(dst, p->s + start, n);
  dst[n] = 0;
  p->arena_used += n + 1;
  return dst;
}

/* Reads a quoted-string at p->pos (on the opening quote), unescaping into the arena. */
static nb_err nb_link_parse_quoted(nb_link_parser *p, const char **value) {
  char *dst = p->out ? p->out->text + p->arena_used : NULL;
  size_t n = 0;
  p->pos++;
  while (p->pos < p->len) {
    char c = p->s[p->pos++];
    if (c == '"') {
      if (dst) {
        dst[n] = 0;
        p->arena_used += n + 1;
      }
      *value = dst;
      return NB_OK;
    }
    if (c == '\\') {
      if (p->pos == p->len) break;
      c = p->s[p->pos++];
    }
    if (dst) dst[n] = c;
    n++;
  }
  return NB_ERR_SYNTAX;
}

static nb_err nb_link_parse_param(nb_link_parser *p) {
  size_t start = p->pos;
  while (nb_link_is_parmchar(nb_link_peek(p))) p->pos++;
  if (p->pos == start) return NB_ERR_SYNTAX;
  const char *name = nb_link_save(p, start, p->pos - start);
  const char *value = NULL;
  bool quoted = false;
  if (nb_link_peek(p) == '=') {
    p->pos++;
    if (nb_link_peek(p) == '"') {
      quoted = true;
      if (nb_link_parse_quoted(p, &value) != NB_OK) return NB_ERR_SYNTAX;
    } else {
      size_t vstart = p->pos;
      while (nb_link_is_ptokenchar(nb_link_peek(p))) p->pos++;
      if (p->pos == vstart) return NB_ERR_SYNTAX;
      value = nb_link_save(p, vstart, p->pos - vstart);
    }
  }
  char next = nb_link_peek(p);
  if (next != 0 && next != ';' && next != ',' && next != ' ' && next != '\t') {
    return NB_ERR_SYNTAX;
  }
  if (p->out) p->out->params[p->params] = (nb_link_param){name, value, quoted};
  p->params++;
  return NB_OK;
}

static nb_err nb_link_parse_one(nb_link_parser *p) {
  if (nb_link_peek(p) != '<') return NB_ERR_SYNTAX;
  size_t start = ++p->pos;
  while (p->pos < p->len && p->s[p->pos] != '>') {
    unsigned char c = (unsigned char)p->s[p->pos];
    if (c <= ' ' || c == '<' || c == 0x7f) return NB_ERR_SYNTAX;
    p->pos++;
  }
  if (p->pos == p->len) return NB_ERR_SYNTAX;
  const char *target = nb_link_save(p, start, p->pos - start);
  size_t first_param = p->params;
  p->pos++;
  nb_link_skip_ws(p);
  while (nb_link_peek(p) == ';') {
    p->pos++;
    nb_link_skip_ws(p);
    nb_err err = nb_link_parse_param(p);
    if (err) return err;
    nb_link_skip_ws(p);
  }
  if (p->out) p->out->links[p->links] = (nb_link){target, first_param, p->params - first_param};
  p->links++;
  return NB_OK;
}

static nb_err nb_link_parse_all(nb_link_parser *p) {
  nb_link_skip_ws(p);
  if (p->pos == p->len) return NB_OK;
  for (;;) {
    nb_err err = nb_link_parse_one(p);
    if (err) return err;
    if (p->pos == p->len) return NB_OK;
    if (p->s[p->pos] != ',') return NB_ERR_SYNTAX;
    p->pos++;
    nb_link_skip_ws(p);
  }
}

nb_err nb_links_parse(const char *text, size_t len, nb_links *out, size_t *err_pos) {
  memset(out, 0, sizeof *out);
  nb_link_parser count = {text, len, 0, NULL, 0, 0, 0};
  nb_err err = nb_link_parse_all(&count);
  if (err) {
    if (err_pos) *err_pos = count.pos;
    return err;
  }
  out->text = malloc(len + 1);
  out->links = calloc(count.links ? count.links : 1, sizeof *out->links);
  out->params = calloc(count.params ? count.params : 1, sizeof *out->params);
  if (!out->text || !out->links || !out->params) {
    nb_links_deinit(out);
    return NB_ERR_NOMEM;
  }
  nb_link_parser fill = {text, len, 0, out, 0, 0, 0};
  err = nb_link_parse_all(&fill); /* cannot fail: same input, same grammar */
  out->count = fill.links;
  out->param_total = fill.params;
  return err;
}

void nb_links_deinit(nb_links *links) {
  free(links->text);
  free(links->links);
  free(links->params);
  memset(links, 0, sizeof *links);
}

const nb_link_param *nb_link_param_at(const nb_links *links, const nb_link *link, size_t i) {
  return i < link->param_count ? &links->params[link->first_param + i] : NULL;
}

const nb_link_param *nb_link_find_param(const nb_links *links, const nb_link *link,
                                        const char *name) {
  for (size_t i = 0; i < link->param_count; i++) {
    const nb_link_param *prm = &links->params[link->first_param + i];
    if (strcmp(prm->name, name) == 0) return prm;
  }
  return NULL;
}

nb_err nb_link_write_target(nb_bytes *out, const char *target) {
  for (const char *c = target; *c; c++) {
    if ((unsigned char)*c <= ' ' || *c == '<' || *c == '>') return NB_ERR_INVAL;
  }
  nb_err err = out->len ? nb_bytes_append(out, ",<", 2) : nb_bytes_append(out, "<", 1);
  if (!err) err = nb_bytes_append_str(out, target);
  if (!err) err = nb_bytes_append(out, ">", 1);
  return err;
}

static bool nb_link_needs_quotes(const char *value) {
  if (*value == 0) return true;
  for (const char *c = value; *c; c++) {
    if (!nb_link_is_ptokenchar(*c)) return true;
  }
  return false;
}

nb_err nb_link_write_param(nb_bytes *out, const char *name, const char *value, bool quote) {
  if (*name == 0) return NB_ERR_INVAL;
  for (const char *c = name; *c; c++) {
    if (!nb_link_is_parmchar(*c)) return NB_ERR_INVAL;
  }
  nb_err err = nb_bytes_append(out, ";", 1);
  if (!err) err = nb_bytes_append_str(out, name);
  if (err || !value) return err;
  quote = quote || nb_link_needs_quotes(value);
  err = nb_bytes_append(out, quote ? "=\"" : "=", quote ? 2 : 1);
  for (const char *c = value; !err && *c; c++) {
    if (quote && (*c == '"' || *c == '\\')) err = nb_bytes_append(out, "\\", 1);
    if (!err) err = nb_bytes_append(out, c, 1);
  }
  if (!err && quote) err = nb_bytes_append(out, "\"", 1);
  return err;
}

nb_err nb_links_format(const nb_links *links, nb_bytes *out) {
  size_t start = out->len;
  for (size_t i = 0; i < links->count; i++) {
    const nb_link *link = &links->links[i];
    nb_err err = out->len > start ? nb_bytes_append(out, ",", 1) : NB_OK;
    if (!err) err = nb_bytes_append(out, "<", 1);
    if (!err) err = nb_bytes_append_str(out, link->target);
    if (!err) err = nb_bytes_append(out, ">", 1);
    for (size_t k = 0; !err && k < link->param_count; k++) {
      const nb_link_param *prm = nb_link_param_at(links, link, k);
      err = nb_link_write_param(out, prm->name, prm->value, prm->quoted);
    }
    if (err) return err;
  }
  return NB_OK;
}
