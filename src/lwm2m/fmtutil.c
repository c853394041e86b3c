/* Helpers shared by the content-format codecs. */
#include "lwm2m/fmtutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coap/msg.h"
#include "niobium/config.h"

#if NB_CFG_FMT_SENML_JSON || NB_CFG_FMT_LWM2M_JSON
#include <jansson.h>
#endif

nb_err nb_fmt_fail(nb_format_error *err, nb_err e, uint8_t coap_code, const char *reason) {
  if (err) {
    err->code = coap_code;
    err->reason = reason;
  }
  return e;
}

nb_err nb_fmt_bad(nb_format_error *err, nb_err e, const char *reason) {
  return nb_fmt_fail(err, e, NB_COAP_BAD_REQUEST, reason);
}

nb_err nb_fmt_nomem(nb_format_error *err) {
  return nb_fmt_fail(err, NB_ERR_NOMEM, NB_COAP_INTERNAL_SERVER_ERROR, "out of memory");
}

/* ---- decode session ---- */

void nb_fmt_dec_begin(nb_fmt_dec *d, const nb_format_opts *opts, nb_records *out,
                      nb_format_error *err) {
  d->base = (opts && opts->base) ? *opts->base : nb_path_root();
  d->model = opts ? opts->model : NULL;
  d->flags = opts ? opts->flags : 0;
  d->times = opts ? opts->times_out : NULL;
  d->note_out = opts ? opts->note_out : NULL;
  d->out = out;
  d->start = out->len;
  d->times_start = d->times ? d->times->len : 0;
  d->err = err;
}

static nb_err nb_fmt_times_push(nb_times *t, double v) {
  if (t->len == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    double *items = realloc(t->items, cap * sizeof *items);
    if (!items) return NB_ERR_NOMEM;
    t->items = items;
    t->cap = cap;
  }
  t->items[t->len++] = v;
  return NB_OK;
}

nb_err nb_fmt_dec_add(nb_fmt_dec *d, const nb_path *p, nb_value *v_moved, double t) {
  if (nb_records_add(d->out, p, v_moved) != NB_OK) return nb_fmt_nomem(d->err);
  if (d->times && nb_fmt_times_push(d->times, t) != NB_OK) return nb_fmt_nomem(d->err);
  return NB_OK;
}

static void nb_fmt_dec_rollback(nb_fmt_dec *d) {
  for (size_t k = d->start; k < d->out->len; k++) nb_value_deinit(&d->out->items[k].value);
  d->out->len = d->start;
  if (d->times) d->times->len = d->times_start;
}

nb_err nb_fmt_dec_finish(nb_fmt_dec *d, nb_err status) {
  if (status == NB_OK) {
    const double *times = NULL;
    if (d->times && d->times->len - d->times_start == d->out->len - d->start) {
      times = d->times->items ? d->times->items + d->times_start : NULL;
    }
    status = nb_fmt_check_records(d->out, d->start, times, &d->base, d->model, d->flags, d->err);
  }
  if (status != NB_OK) nb_fmt_dec_rollback(d);
  return status;
}

/* ---- record checks ---- */

typedef struct {
  nb_path path;
  double t;
} nb_fmt_key;

static int nb_fmt_key_cmp(const void *a, const void *b) {
  const nb_fmt_key *ka = a, *kb = b;
  int c = nb_path_compare(&ka->path, &kb->path);
  if (c != 0) return c;
  bool an = isnan(ka->t), bn = isnan(kb->t);
  if (an || bn) return (int)bn - (int)an;
  return (ka->t > kb->t) - (ka->t < kb->t);
}

static bool nb_fmt_same_time(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

/* Per-record rules: under base, right level, multiplicity as the model defines it. */
static nb_err nb_fmt_check_one(const nb_record *rec, const nb_path *base, const nb_model *model,
                               unsigned flags, nb_format_error *err) {
  if (!nb_path_is_valid(&rec->path)) return nb_fmt_bad(err, NB_ERR_FMT_PATH, "invalid path");
  if (!nb_path_is_prefix(base, &rec->path)) {
    return nb_fmt_bad(err, NB_ERR_FMT_PATH, "record outside the request path");
  }
  if (flags & NB_FORMAT_PATHS_ONLY) return NB_OK;
  bool none = rec->value.type == NB_VT_NONE;
  uint8_t len = rec->path.len;
  if (len < 2 || (len == 2 && !none)) {
    return nb_fmt_bad(err, NB_ERR_FMT_PATH, "a value must address a resource or resource instance");
  }
  if (len == 4 && none) return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "resource instance without value");
  const nb_resource_def *def = len >= 3 ? nb_fmt_def(model, &rec->path) : NULL;
  if (def && len == 3 && def->multiple && !none) {
    return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "multiple-instance resource given a single value");
  }
  if (def && !def->multiple && (len == 4 || none)) {
    return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "single-instance resource given instances");
  }
  return NB_OK;
}

nb_err nb_fmt_check_records(const nb_records *r, size_t start, const double *times,
                            const nb_path *base, const nb_model *model, unsigned flags,
                            nb_format_error *err) {
  size_t n = r->len - start;
  for (size_t k = 0; k < n; k++) {
    nb_err e = nb_fmt_check_one(&r->items[start + k], base, model, flags, err);
    if (e != NB_OK) return e;
  }
  if (n < 2) return NB_OK;
  nb_fmt_key *keys = malloc(n * sizeof *keys);
  if (!keys) return nb_fmt_nomem(err);
  for (size_t k = 0; k < n; k++) {
    keys[k].path = r->items[start + k].path;
    keys[k].t = times ? times[k] : NAN;
  }
  qsort(keys, n, sizeof *keys, nb_fmt_key_cmp);
  nb_err e = NB_OK;
  for (size_t k = 1; k < n && e == NB_OK; k++) {
    const nb_fmt_key *a = &keys[k - 1], *b = &keys[k];
    if (nb_path_equal(&a->path, &b->path) && nb_fmt_same_time(a->t, b->t)) {
      e = nb_fmt_bad(err, NB_ERR_FMT_DUPLICATE, "duplicate record for the same path");
    } else if (!(flags & NB_FORMAT_PATHS_ONLY) && a->path.len < b->path.len &&
               nb_path_is_prefix(&a->path, &b->path)) {
      e = nb_fmt_bad(err, NB_ERR_FMT_DUPLICATE,
                     "a path has both a value of its own and records below it");
    }
  }
  free(keys);
  return e;
}

const nb_resource_def *nb_fmt_def(const nb_model *model, const nb_path *p) {
  if (!model || p->len < 3) return NULL;
  const nb_resource_def *def = nb_model_resource(model, p->ids[0], p->ids[2]);
  if (def && def->type == NB_VT_NONE) return NULL;
  return def;
}

nb_err nb_fmt_single_target(const nb_fmt_dec *d, const char *reason, const nb_resource_def **def) {
  *def = NULL;
  if ((d->flags & NB_FORMAT_PATHS_ONLY) || d->base.len < 3) {
    return nb_fmt_fail(d->err, NB_ERR_FMT_UNSUPPORTED, NB_COAP_UNSUPPORTED_CONTENT_FORMAT, reason);
  }
  *def = nb_fmt_def(d->model, &d->base);
  if (*def && (*def)->multiple && d->base.len == 3) {
    return nb_fmt_fail(d->err, NB_ERR_FMT_UNSUPPORTED, NB_COAP_UNSUPPORTED_CONTENT_FORMAT, reason);
  }
  return NB_OK;
}

nb_err nb_fmt_single_record(const nb_records *in, const nb_format_opts *opts, const nb_record **rec,
                            nb_format_error *err) {
  const nb_path *base = opts ? opts->base : NULL;
  if (in->len != 1 || in->items[0].value.type == NB_VT_NONE || in->items[0].path.len < 3 ||
      (base && base->len > 0 && !nb_path_equal(base, &in->items[0].path))) {
    return nb_fmt_fail(err, NB_ERR_FMT_UNSUPPORTED, NB_COAP_NOT_ACCEPTABLE,
                       "a single-value format carries exactly one resource value");
  }
  *rec = &in->items[0];
  return NB_OK;
}

/* ---- names ---- */

nb_err nb_fmt_resolve_name(const nb_path *base, const char *name, size_t len, nb_path *out) {
  if (len == 0) {
    *out = *base;
    return NB_OK;
  }
  if (name[0] == '/') {
    return nb_path_parse_n(name, len, out) == NB_OK ? NB_OK : NB_ERR_FMT_PATH;
  }
  char buf[NB_PATH_STRLEN + 2];
  if (len + 1 > sizeof buf) return NB_ERR_FMT_PATH;
  buf[0] = '/';
  memcpy(buf + 1, name, len);
  nb_path rel;
  if (nb_path_parse_n(buf, len + 1, &rel) != NB_OK) return NB_ERR_FMT_PATH;
  if (base->len + rel.len > 4) return NB_ERR_FMT_PATH;
  nb_path p = *base;
  for (uint8_t k = 0; k < rel.len; k++) p.ids[p.len++] = rel.ids[k];
  *out = p;
  return NB_OK;
}

void nb_fmt_relative_name(const nb_path *base, const nb_path *p, char *buf) {
  size_t pos = 0;
  buf[0] = '\0';
  for (uint8_t k = base->len; k < p->len && k < 4; k++) {
    int n = snprintf(buf + pos, NB_PATH_STRLEN - pos, k == base->len ? "%u" : "/%u",
                     (unsigned)p->ids[k]);
    if (n < 0 || (size_t)n >= NB_PATH_STRLEN - pos) break;
    pos += (size_t)n;
  }
}

/* ---- numbers ---- */

static bool nb_fmt_real_to_i64(double d, int64_t *out) {
  /* -2^63 is exact in a double; 2^63 is the first value out of range. */
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != trunc(d)) return false;
  *out = (int64_t)d;
  return true;
}

static bool nb_fmt_real_to_u64(double d, uint64_t *out) {
  if (!(d >= 0.0 && d < 18446744073709551616.0) || d != trunc(d)) return false;
  *out = (uint64_t)d;
  return true;
}

#if NB_CFG_FMT_SENML_JSON || NB_CFG_FMT_LWM2M_JSON /* jansson's numbers */
bool nb_fmt_json_num(const json_t *v, nb_fmt_num *n) {
  if (json_is_integer(v)) {
    n->kind = NB_NUM_INT;
    n->i = (int64_t)json_integer_value(v);
    return true;
  }
  if (json_is_real(v)) {
    n->kind = NB_NUM_REAL;
    n->d = json_real_value(v);
    return true;
  }
  return false;
}
#endif

nb_err nb_fmt_num_value(const nb_fmt_num *n, nb_value_type type, nb_value *out,
                        nb_format_error *err) {
  int64_t i = 0;
  uint64_t u = 0;
  switch (type) {
    case NB_VT_NONE:
      if (n->kind == NB_NUM_INT)
        *out = nb_value_int(n->i);
      else if (n->kind == NB_NUM_UINT)
        *out = nb_value_uint(n->u);
      else
        *out = nb_value_float(n->d);
      return NB_OK;
    case NB_VT_FLOAT:
      if (n->kind == NB_NUM_INT)
        *out = nb_value_float((double)n->i);
      else if (n->kind == NB_NUM_UINT)
        *out = nb_value_float((double)n->u);
      else
        *out = nb_value_float(n->d);
      return NB_OK;
    case NB_VT_INT:
    case NB_VT_TIME:
      if (n->kind == NB_NUM_INT)
        i = n->i;
      else if (n->kind == NB_NUM_UINT || !nb_fmt_real_to_i64(n->d, &i)) {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE,
                          "value is not an integer in the range of an Integer/Time resource");
      }
      *out = type == NB_VT_INT ? nb_value_int(i) : nb_value_time(i);
      return NB_OK;
    case NB_VT_UINT:
      if (n->kind == NB_NUM_INT && n->i >= 0)
        u = (uint64_t)n->i;
      else if (n->kind == NB_NUM_UINT)
        u = n->u;
      else if (n->kind != NB_NUM_REAL || !nb_fmt_real_to_u64(n->d, &u)) {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE,
                          "value is not a non-negative integer for an Unsigned Integer resource");
      }
      *out = nb_value_uint(u);
      return NB_OK;
    default:
      return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "number given for a non-numeric resource");
  }
}

/* Shortest decimal digits of d that read back exactly: the digits (no sign, no point) and the
 * decimal exponent n such that d = 0.DIGITS * 10^n (ECMAScript Number::toString's k and n). */
static size_t nb_fmt_shortest_digits(double d, char *digits, int *n) {
  char tmp[NB_FMT_DOUBLE_LEN];
  for (int prec = 0; prec <= 16; prec++) {
    snprintf(tmp, sizeof tmp, "%.*e", prec, d);
    if (strtod(tmp, NULL) == d) break;
  }
  size_t k = 0;
  const char *c = tmp + (tmp[0] == '-');
  for (; *c && *c != 'e'; c++) {
    if (*c >= '0' && *c <= '9') digits[k++] = *c;
  }
  while (k > 1 && digits[k - 1] == '0') k--; /* "%.*e" may pad with zeros */
  digits[k] = '\0';
  *n = atoi(c + 1) + 1;
  return k;
}

nb_err nb_fmt_double(double d, bool json, char *buf, size_t *len) {
  if (!isfinite(d)) return NB_ERR_RANGE;
  char digits[24];
  int n;
  size_t k = nb_fmt_shortest_digits(d, digits, &n);
  size_t pos = 0;
  if (signbit(d)) buf[pos++] = '-';
  if (d == 0) {
    buf[pos++] = '0';
  } else if ((int)k <= n && n <= 21) { /* integer: digits then zeros */
    memcpy(buf + pos, digits, k);
    pos += k;
    for (int z = (int)k; z < n; z++) buf[pos++] = '0';
  } else if (0 < n && n <= 21) { /* point inside the digits */
    memcpy(buf + pos, digits, (size_t)n);
    pos += (size_t)n;
    buf[pos++] = '.';
    memcpy(buf + pos, digits + n, k - (size_t)n);
    pos += k - (size_t)n;
  } else if (-6 < n && n <= 0) { /* 0.000ddd */
    buf[pos++] = '0';
    buf[pos++] = '.';
    for (int z = 0; z < -n; z++) buf[pos++] = '0';
    memcpy(buf + pos, digits, k);
    pos += k;
  } else { /* d.ddde+x */
    buf[pos++] = digits[0];
    if (k > 1) {
      buf[pos++] = '.';
      memcpy(buf + pos, digits + 1, k - 1);
      pos += k - 1;
    }
    pos += (size_t)snprintf(buf + pos, NB_FMT_DOUBLE_LEN - pos, "e%+d", n - 1);
  }
  bool integral = !memchr(buf, '.', pos) && !memchr(buf, 'e', pos);
  if (json && integral) {
    memcpy(buf + pos, ".0", 2);
    pos += 2;
  }
  buf[pos] = '\0';
  *len = pos;
  return NB_OK;
}

nb_err nb_fmt_parse_u64(const char *s, size_t len, uint64_t *out) {
  if (len == 0) return NB_ERR_SYNTAX;
  uint64_t v = 0;
  for (size_t k = 0; k < len; k++) {
    if (s[k] < '0' || s[k] > '9') return NB_ERR_SYNTAX;
    uint64_t digit = (uint64_t)(s[k] - '0');
    if (v > (UINT64_MAX - digit) / 10) return NB_ERR_RANGE;
    v = v * 10 + digit;
  }
  *out = v;
  return NB_OK;
}

nb_err nb_fmt_parse_i64(const char *s, size_t len, int64_t *out) {
  bool neg = len > 0 && s[0] == '-';
  uint64_t mag;
  nb_err e = nb_fmt_parse_u64(s + neg, len - neg, &mag);
  if (e != NB_OK) return e;
  if (neg) {
    if (mag > (uint64_t)INT64_MAX + 1) return NB_ERR_RANGE;
    *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
  } else {
    if (mag > (uint64_t)INT64_MAX) return NB_ERR_RANGE;
    *out = (int64_t)mag;
  }
  return NB_OK;
}

nb_err nb_fmt_parse_double(const char *s, size_t len, double *out) {
  char buf[64];
  if (len == 0 || len >= sizeof buf) return NB_ERR_SYNTAX;
  size_t first = s[0] == '-' ? 1 : 0;
  if (first >= len || s[first] < '0' || s[first] > '9') return NB_ERR_SYNTAX;
  for (size_t k = 0; k < len; k++) {
    if (!strchr("0123456789+-.eE", s[k]) || s[k] == '\0') return NB_ERR_SYNTAX;
  }
  memcpy(buf, s, len);
  buf[len] = '\0';
  char *end = NULL;
  double d = strtod(buf, &end);
  if (end != buf + len) return NB_ERR_SYNTAX;
  if (!isfinite(d)) return NB_ERR_RANGE;
  *out = d;
  return NB_OK;
}

nb_err nb_fmt_parse_objlnk(const char *s, size_t len, uint16_t *obj, uint16_t *inst) {
  const char *colon = memchr(s, ':', len);
  if (!colon) return NB_ERR_SYNTAX;
  uint64_t o, i;
  size_t olen = (size_t)(colon - s);
  if (nb_fmt_parse_u64(s, olen, &o) != NB_OK || nb_fmt_parse_u64(colon + 1, len - olen - 1, &i)) {
    return NB_ERR_SYNTAX;
  }
  if (o > UINT16_MAX || i > UINT16_MAX) return NB_ERR_RANGE;
  *obj = (uint16_t)o;
  *inst = (uint16_t)i;
  return NB_OK;
}

size_t nb_fmt_objlnk(uint16_t obj, uint16_t inst, char *buf) {
  int n = snprintf(buf, 12, "%u:%u", (unsigned)obj, (unsigned)inst);
  return n > 0 ? (size_t)n : 0;
}

/* ---- UTF-8 ---- */

bool nb_fmt_utf8_valid(const uint8_t *s, size_t len) {
  size_t k = 0;
  while (k < len) {
    uint8_t c = s[k];
    if (c == 0) return false;
    if (c < 0x80) {
      k++;
      continue;
    }
    size_t n;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0)
      n = 1, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
      n = 2, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
      n = 3, cp = c & 0x07, min = 0x10000;
    else
      return false;
    if (n > len - k - 1) return false;
    for (size_t j = 1; j <= n; j++) {
      if ((s[k + j] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[k + j] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    k += n + 1;
  }
  return true;
}

/* ---- base64 ---- */

static const char nb_b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char nb_b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

nb_err nb_fmt_b64_encode(nb_bytes *out, const uint8_t *data, size_t len, bool url) {
  const char *alpha = url ? nb_b64_url : nb_b64_std;
  nb_err e = nb_bytes_reserve(out, (len + 2) / 3 * 4 + 1);
  if (e != NB_OK) return e;
  char *p = (char *)out->data + out->len;
  size_t k = 0;
  for (; k + 3 <= len; k += 3) {
    uint32_t v = (uint32_t)data[k] << 16 | (uint32_t)data[k + 1] << 8 | data[k + 2];
    *p++ = alpha[v >> 18];
    *p++ = alpha[(v >> 12) & 63];
    *p++ = alpha[(v >> 6) & 63];
    *p++ = alpha[v & 63];
  }
  size_t rest = len - k;
  if (rest) {
    uint32_t v = (uint32_t)data[k] << 16 | (rest == 2 ? (uint32_t)data[k + 1] << 8 : 0);
    *p++ = alpha[v >> 18];
    *p++ = alpha[(v >> 12) & 63];
    if (rest == 2) *p++ = alpha[(v >> 6) & 63];
    if (!url) {
      if (rest == 1) *p++ = '=';
      *p++ = '=';
    }
  }
  out->len = (size_t)((uint8_t *)p - out->data);
  return NB_OK;
}

static int nb_b64_digit(char c, bool url) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == (url ? '-' : '+')) return 62;
  if (c == (url ? '_' : '/')) return 63;
  return -1;
}

nb_err nb_fmt_b64_decode(const char *text, size_t len, bool url, nb_value *out) {
  size_t pad = 0;
  if (len % 4 == 0) {
    while (pad < 2 && len > pad && text[len - 1 - pad] == '=') pad++;
  }
  if (!url && len % 4 != 0) return NB_ERR_SYNTAX;
  size_t n = len - pad;
  if (n % 4 == 1) return NB_ERR_SYNTAX;
  uint8_t *buf = malloc(n / 4 * 3 + 3);
  if (!buf) return NB_ERR_NOMEM;
  size_t olen = 0;
  uint32_t acc = 0;
  size_t k = 0;
  for (; k < n; k++) {
    int d = nb_b64_digit(text[k], url);
    if (d < 0) break;
    acc = (acc << 6) | (uint32_t)d;
    if (k % 4 == 3) {
      buf[olen++] = (uint8_t)(acc >> 16);
      buf[olen++] = (uint8_t)(acc >> 8);
      buf[olen++] = (uint8_t)acc;
      acc = 0;
    }
  }
  nb_err e = NB_OK;
  size_t rest = n % 4;
  if (k < n)
    e = NB_ERR_SYNTAX;
  else if (rest == 2) {
    if (acc & 0x0f) e = NB_ERR_SYNTAX; /* non-zero bits past the last byte */
    buf[olen++] = (uint8_t)(acc >> 4);
  } else if (rest == 3) {
    if (acc & 0x03) e = NB_ERR_SYNTAX;
    buf[olen++] = (uint8_t)(acc >> 10);
    buf[olen++] = (uint8_t)(acc >> 2);
  }
  if (e == NB_OK && pad && pad != 4 - rest) e = NB_ERR_SYNTAX;
  if (e == NB_OK) e = nb_value_set_opaque(out, buf, olen);
  free(buf);
  return e;
}

/* ---- JSON strings ---- */

nb_err nb_fmt_json_string(nb_bytes *out, const char *s, size_t len) {
  nb_err e = nb_bytes_reserve(out, len + 2);
  if (e != NB_OK) return e;
  out->data[out->len++] = '"';
  size_t run = 0; /* bytes copied verbatim in one go */
  for (size_t k = 0; k < len; k++) {
    unsigned char c = (unsigned char)s[k];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    if (k > run && (e = nb_bytes_append(out, s + run, k - run)) != NB_OK) return e;
    run = k + 1;
    char esc[8];
    switch (c) {
      case '"':
        memcpy(esc, "\\\"", 3);
        break;
      case '\\':
        memcpy(esc, "\\\\", 3);
        break;
      case '\n':
        memcpy(esc, "\\n", 3);
        break;
      case '\r':
        memcpy(esc, "\\r", 3);
        break;
      case '\t':
        memcpy(esc, "\\t", 3);
        break;
      case '\b':
        memcpy(esc, "\\b", 3);
        break;
      case '\f':
        memcpy(esc, "\\f", 3);
        break;
      default:
        snprintf(esc, sizeof esc, "\\u%04x", c);
        break;
    }
    if ((e = nb_bytes_append_str(out, esc)) != NB_OK) return e;
  }
  if (len > run && (e = nb_bytes_append(out, s + run, len - run)) != NB_OK) return e;
  return nb_bytes_append(out, "\"", 1);
}
