/* LwM2M paths: parsing, formatting, ordering, CoAP Uri-Path conversion. */
#include "lwm2m/path.h"

#include <stdio.h>
#include <string.h>

nb_path nb_path_root(void) {
  nb_path p = {{0, 0, 0, 0}, 0};
  return p;
}

nb_path nb_path_obj(uint16_t o) {
  nb_path p = {{o, 0, 0, 0}, 1};
  return p;
}

nb_path nb_path_inst(uint16_t o, uint16_t i) {
  nb_path p = {{o, i, 0, 0}, 2};
  return p;
}

nb_path nb_path_res(uint16_t o, uint16_t i, uint16_t r) {
  nb_path p = {{o, i, r, 0}, 3};
  return p;
}

nb_path nb_path_rinst(uint16_t o, uint16_t i, uint16_t r, uint16_t ri) {
  nb_path p = {{o, i, r, ri}, 4};
  return p;
}

bool nb_path_is_valid(const nb_path *p) {
  if (p->len > 4) return false;
  for (uint8_t k = 0; k < p->len; k++) {
    if (p->ids[k] > NB_ID_MAX) return false;
  }
  return true;
}

/* One decimal ID segment of exactly len bytes. Leading zeros are accepted ("/03" is 3) as
 * other LwM2M stacks do. */
static nb_err nb_path_segment(const char *s, size_t len, uint16_t *out) {
  if (len == 0) return NB_ERR_SYNTAX;
  uint32_t v = 0;
  for (size_t k = 0; k < len; k++) {
    if (s[k] < '0' || s[k] > '9') return NB_ERR_SYNTAX;
    if (v <= NB_ID_MAX) v = v * 10 + (uint32_t)(s[k] - '0'); /* saturates above the max */
  }
  if (v > NB_ID_MAX) return NB_ERR_RANGE;
  *out = (uint16_t)v;
  return NB_OK;
}

/* Syntax errors win over range errors so "/99999/x" reports the malformed part. */
nb_err nb_path_parse_n(const char *text, size_t len, nb_path *out) {
  if (text == NULL || len == 0 || text[0] != '/') return NB_ERR_SYNTAX;
  nb_path p = nb_path_root();
  size_t pos = 1;
  nb_err range = NB_OK;
  /* One trailing slash is tolerated ("/3/"), not an empty segment before it ("/3//"). */
  if (len > 2 && text[len - 1] == '/' && text[len - 2] != '/') len--;
  while (pos < len) {
    size_t end = pos;
    while (end < len && text[end] != '/') end++;
    if (p.len == 4) return NB_ERR_SYNTAX;
    uint16_t id = 0;
    nb_err err = nb_path_segment(text + pos, end - pos, &id);
    if (err == NB_ERR_SYNTAX) return err;
    if (err != NB_OK) range = err;
    p.ids[p.len++] = id;
    pos = end + 1;
  }
  if (range != NB_OK) return range;
  *out = p;
  return NB_OK;
}

nb_err nb_path_parse(const char *text, nb_path *out) {
  if (text == NULL) return NB_ERR_SYNTAX;
  return nb_path_parse_n(text, strlen(text), out);
}

nb_err nb_path_format(const nb_path *p, char *buf, size_t cap) {
  if (!nb_path_is_valid(p)) return NB_ERR_INVAL;
  if (cap == 0) return NB_ERR_OVERFLOW;
  if (p->len == 0) {
    if (cap < 2) return NB_ERR_OVERFLOW;
    buf[0] = '/';
    buf[1] = '\0';
    return NB_OK;
  }
  size_t used = 0;
  for (uint8_t k = 0; k < p->len; k++) { /* digits by hand: a path is formatted per event */
    char d[12];
    size_t nd = 0;
    unsigned v = p->ids[k];
    do d[nd++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    if (used + 1 + nd >= cap) {
      buf[0] = '\0';
      return NB_ERR_OVERFLOW;
    }
    buf[used++] = '/';
    while (nd) buf[used++] = d[--nd];
  }
  buf[used] = '\0';
  return NB_OK;
}

int nb_path_compare(const nb_path *a, const nb_path *b) {
  uint8_t n = a->len < b->len ? a->len : b->len;
  for (uint8_t k = 0; k < n; k++) {
    if (a->ids[k] != b->ids[k]) return a->ids[k] < b->ids[k] ? -1 : 1;
  }
  if (a->len == b->len) return 0;
  return a->len < b->len ? -1 : 1;
}

bool nb_path_equal(const nb_path *a, const nb_path *b) { return nb_path_compare(a, b) == 0; }

bool nb_path_is_prefix(const nb_path *prefix, const nb_path *p) {
  if (prefix->len > p->len) return false;
  for (uint8_t k = 0; k < prefix->len; k++) {
    if (prefix->ids[k] != p->ids[k]) return false;
  }
  return true;
}

nb_err nb_path_from_coap(const nb_coap_msg *msg, nb_path *out) {
  nb_coap_optlist o = nb_coap_msg_opts(msg);
  return nb_path_from_optlist(&o, out);
}

nb_err nb_path_from_optlist(const nb_coap_optlist *opts, nb_path *out) {
  nb_path p = nb_path_root();
  nb_err range = NB_OK;
  for (size_t k = 0; k < opts->count; k++) {
    const nb_coap_option *opt = &opts->items[k];
    if (opt->number != NB_COAP_OPT_URI_PATH) continue;
    /* An empty last segment is the trailing slash of "/3/" (or the root "/"), as some CoAP
     * clients send it; an empty segment anywhere else is "//". */
    bool last = k + 1 == opts->count || opts->items[k + 1].number != NB_COAP_OPT_URI_PATH;
    if (opt->len == 0 && last) break;
    if (p.len == 4) return NB_ERR_SYNTAX;
    uint16_t id = 0;
    nb_err err = nb_path_segment((const char *)opt->value, opt->len, &id);
    if (err == NB_ERR_SYNTAX) return err;
    if (err != NB_OK) range = err;
    p.ids[p.len++] = id;
  }
  if (range != NB_OK) return range;
  *out = p;
  return NB_OK;
}

nb_err nb_path_to_coap(nb_coap_msg *msg, const nb_path *p) {
  if (!nb_path_is_valid(p)) return NB_ERR_INVAL;
  for (uint8_t k = 0; k < p->len; k++) {
    char seg[8];
    int n = snprintf(seg, sizeof seg, "%u", (unsigned)p->ids[k]);
    nb_err err = nb_coap_msg_add_option(msg, NB_COAP_OPT_URI_PATH, seg, (size_t)n);
    if (err != NB_OK) return err;
  }
  return NB_OK;
}
