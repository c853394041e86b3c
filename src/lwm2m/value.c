/* LwM2M values: constructors, ownership, conversions, text forms, record lists. */
#include "lwm2m/value.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const nb_type_names[] = {
    [NB_VT_NONE] = "none",       [NB_VT_INT] = "Integer",  [NB_VT_UINT] = "Unsigned Integer",
    [NB_VT_FLOAT] = "Float",     [NB_VT_BOOL] = "Boolean", [NB_VT_STRING] = "String",
    [NB_VT_OPAQUE] = "Opaque",   [NB_VT_TIME] = "Time",    [NB_VT_OBJLNK] = "Objlnk",
    [NB_VT_CORELNK] = "Corelnk",
};

#define NB_TYPE_COUNT (sizeof nb_type_names / sizeof nb_type_names[0])

/* 2^63 and 2^64 as doubles: the exclusive upper bounds of int64 and uint64. */
#define NB_TWO_POW_63 9223372036854775808.0
#define NB_TWO_POW_64 18446744073709551616.0

static bool nb_type_has_bytes(nb_value_type t) {
  return t == NB_VT_STRING || t == NB_VT_OPAQUE || t == NB_VT_CORELNK;
}

const char *nb_value_type_name(nb_value_type t) {
  if ((size_t)t >= NB_TYPE_COUNT) return "none";
  return nb_type_names[t];
}

nb_err nb_value_type_parse(const char *name, nb_value_type *out) {
  if (name[0] == '\0') {
    *out = NB_VT_NONE;
    return NB_OK;
  }
  for (size_t k = 0; k < NB_TYPE_COUNT; k++) {
    if (strcmp(name, nb_type_names[k]) == 0) {
      *out = (nb_value_type)k;
      return NB_OK;
    }
  }
  return NB_ERR_INVAL;
}

void nb_value_deinit(nb_value *v) {
  if (nb_type_has_bytes(v->type)) free(v->v.bytes.data);
  memset(v, 0, sizeof *v);
  v->type = NB_VT_NONE;
}

nb_value nb_value_none(void) {
  nb_value v;
  memset(&v, 0, sizeof v);
  v.type = NB_VT_NONE;
  return v;
}

nb_value nb_value_int(int64_t i) {
  nb_value v = nb_value_none();
  v.type = NB_VT_INT;
  v.v.i = i;
  return v;
}

nb_value nb_value_uint(uint64_t u) {
  nb_value v = nb_value_none();
  v.type = NB_VT_UINT;
  v.v.u = u;
  return v;
}

nb_value nb_value_float(double f) {
  nb_value v = nb_value_none();
  v.type = NB_VT_FLOAT;
  v.v.f = f;
  return v;
}

nb_value nb_value_bool(bool b) {
  nb_value v = nb_value_none();
  v.type = NB_VT_BOOL;
  v.v.b = b;
  return v;
}

nb_value nb_value_time(int64_t t) {
  nb_value v = nb_value_none();
  v.type = NB_VT_TIME;
  v.v.t = t;
  return v;
}

nb_value nb_value_objlnk(uint16_t obj, uint16_t inst) {
  nb_value v = nb_value_none();
  v.type = NB_VT_OBJLNK;
  v.v.lnk.obj = obj;
  v.v.lnk.inst = inst;
  return v;
}

/* Copies len bytes plus a NUL into a fresh buffer owned by v, then frees v's old bytes (data
 * may point into them). */
static nb_err nb_value_set_bytes(nb_value *v, nb_value_type t, const void *data, size_t len) {
  uint8_t *copy = len < SIZE_MAX ? malloc(len + 1) : NULL;
  if (copy != NULL && len > 0) memcpy(copy, data, len);
  nb_value_deinit(v);
  if (copy == NULL) return NB_ERR_NOMEM;
  copy[len] = '\0';
  v->type = t;
  v->v.bytes.data = copy;
  v->v.bytes.len = len;
  return NB_OK;
}

nb_err nb_value_set_string(nb_value *v, const char *s, size_t len) {
  return nb_value_set_bytes(v, NB_VT_STRING, s, len);
}

nb_err nb_value_set_opaque(nb_value *v, const uint8_t *data, size_t len) {
  return nb_value_set_bytes(v, NB_VT_OPAQUE, data, len);
}

nb_err nb_value_set_corelnk(nb_value *v, const char *s, size_t len) {
  return nb_value_set_bytes(v, NB_VT_CORELNK, s, len);
}

nb_err nb_value_copy(nb_value *dst, const nb_value *src) {
  if (!nb_type_has_bytes(src->type)) {
    *dst = *src;
    return NB_OK;
  }
  *dst = nb_value_none();
  return nb_value_set_bytes(dst, src->type, src->v.bytes.data, src->v.bytes.len);
}

bool nb_value_equal(const nb_value *a, const nb_value *b) {
  if (a->type != b->type) return false;
  switch (a->type) {
    case NB_VT_NONE:
      return true;
    case NB_VT_INT:
      return a->v.i == b->v.i;
    case NB_VT_UINT:
      return a->v.u == b->v.u;
    case NB_VT_FLOAT:
      return a->v.f == b->v.f;
    case NB_VT_BOOL:
      return a->v.b == b->v.b;
    case NB_VT_TIME:
      return a->v.t == b->v.t;
    case NB_VT_OBJLNK:
      return a->v.lnk.obj == b->v.lnk.obj && a->v.lnk.inst == b->v.lnk.inst;
    case NB_VT_STRING:
    case NB_VT_OPAQUE:
    case NB_VT_CORELNK:
      return a->v.bytes.len == b->v.bytes.len &&
             (a->v.bytes.len == 0 || memcmp(a->v.bytes.data, b->v.bytes.data, a->v.bytes.len) == 0);
  }
  return false;
}

/* ---- text forms ---- */

/* Shortest "%.Ng" that reads back as the same double. */
static int nb_format_double(double f, char *buf, size_t cap) {
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(buf, cap, "%.*g", prec, f);
    if (n < 0 || (size_t)n >= cap) return -1;
    if (!isfinite(f) || strtod(buf, NULL) == f) break;
  }
  return n;
}

static nb_err nb_format_hex(const nb_value *v, char *buf, size_t cap) {
  static const char digits[] = "0123456789abcdef";
  if (v->v.bytes.len > (cap - 1) / 2) {
    buf[0] = '\0';
    return NB_ERR_OVERFLOW;
  }
  for (size_t k = 0; k < v->v.bytes.len; k++) {
    buf[2 * k] = digits[v->v.bytes.data[k] >> 4];
    buf[2 * k + 1] = digits[v->v.bytes.data[k] & 0xf];
  }
  buf[2 * v->v.bytes.len] = '\0';
  return NB_OK;
}

nb_err nb_value_format(const nb_value *v, char *buf, size_t cap) {
  if (cap == 0) return NB_ERR_OVERFLOW;
  int n = 0;
  switch (v->type) {
    case NB_VT_NONE:
      n = snprintf(buf, cap, "%s", "");
      break;
    case NB_VT_INT:
      n = snprintf(buf, cap, "%" PRId64, v->v.i);
      break;
    case NB_VT_UINT:
      n = snprintf(buf, cap, "%" PRIu64, v->v.u);
      break;
    case NB_VT_TIME:
      n = snprintf(buf, cap, "%" PRId64, v->v.t);
      break;
    case NB_VT_FLOAT:
      n = nb_format_double(v->v.f, buf, cap);
      break;
    case NB_VT_BOOL:
      n = snprintf(buf, cap, "%s", v->v.b ? "true" : "false");
      break;
    case NB_VT_OBJLNK:
      n = snprintf(buf, cap, "%u:%u", (unsigned)v->v.lnk.obj, (unsigned)v->v.lnk.inst);
      break;
    case NB_VT_OPAQUE:
      return nb_format_hex(v, buf, cap);
    case NB_VT_STRING:
    case NB_VT_CORELNK:
      if (v->v.bytes.len >= cap) {
        buf[0] = '\0';
        return NB_ERR_OVERFLOW;
      }
      memcpy(buf, v->v.bytes.data, v->v.bytes.len + 1);
      return NB_OK;
  }
  if (n < 0 || (size_t)n >= cap) {
    buf[0] = '\0';
    return NB_ERR_OVERFLOW;
  }
  return NB_OK;
}

/* ---- parsing text into numbers: the whole string, no surrounding blanks ---- */

static nb_err nb_parse_i64(const char *s, int64_t *out) {
  if (s[0] != '-' && s[0] != '+' && (s[0] < '0' || s[0] > '9')) return NB_ERR_INVAL;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (end == s || *end != '\0') return NB_ERR_INVAL;
  if (errno == ERANGE) return NB_ERR_RANGE;
  *out = (int64_t)v;
  return NB_OK;
}

static nb_err nb_parse_u64(const char *s, uint64_t *out) {
  if (s[0] == '-') {
    int64_t i = 0;
    nb_err err = nb_parse_i64(s, &i);
    if (err != NB_OK) return err;
    if (i < 0) return NB_ERR_RANGE;
    *out = 0; /* "-0" */
    return NB_OK;
  }
  if (s[0] != '+' && (s[0] < '0' || s[0] > '9')) return NB_ERR_INVAL;
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s || *end != '\0') return NB_ERR_INVAL;
  if (errno == ERANGE) return NB_ERR_RANGE;
  *out = (uint64_t)v;
  return NB_OK;
}

/* Decimal floats only: no hex, inf or nan spellings, which strtod would accept. */
static nb_err nb_parse_double(const char *s, double *out) {
  if (s[0] == '\0') return NB_ERR_INVAL;
  for (const char *c = s; *c; c++) {
    if (strchr("0123456789+-.eE", *c) == NULL) return NB_ERR_INVAL;
  }
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end != '\0') return NB_ERR_INVAL;
  if (errno == ERANGE && isinf(v)) return NB_ERR_RANGE;
  *out = v;
  return NB_OK;
}

static nb_err nb_parse_objlnk(const char *s, nb_value *out) {
  const char *colon = strchr(s, ':');
  if (colon == NULL || colon == s || colon[1] == '\0') return NB_ERR_INVAL;
  uint32_t part[2] = {0, 0};
  const char *starts[2] = {s, colon + 1};
  const char *ends[2] = {colon, s + strlen(s)};
  for (int k = 0; k < 2; k++) {
    for (const char *c = starts[k]; c < ends[k]; c++) {
      if (*c < '0' || *c > '9') return NB_ERR_INVAL;
      part[k] = part[k] * 10 + (uint32_t)(*c - '0');
      if (part[k] > UINT16_MAX) return NB_ERR_RANGE;
    }
  }
  *out = nb_value_objlnk((uint16_t)part[0], (uint16_t)part[1]);
  return NB_OK;
}

/* Strictly well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF). */
static bool nb_utf8_valid(const uint8_t *s, size_t len) {
  size_t k = 0;
  while (k < len) {
    uint8_t c = s[k];
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      k++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (len - k <= n) return false;
    for (size_t j = 1; j <= n; j++) {
      if ((s[k + j] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[k + j] & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    k += n + 1;
  }
  return true;
}

/* ---- conversions ---- */

/* Any integer-like source (INT, UINT, TIME, BOOL) as a sign and magnitude. */
typedef struct {
  bool negative;
  uint64_t mag;
} nb_integer;

static bool nb_as_integer(const nb_value *in, nb_integer *out) {
  int64_t i;
  switch (in->type) {
    case NB_VT_INT:
      i = in->v.i;
      break;
    case NB_VT_TIME:
      i = in->v.t;
      break;
    case NB_VT_UINT:
      *out = (nb_integer){false, in->v.u};
      return true;
    case NB_VT_BOOL:
      *out = (nb_integer){false, in->v.b ? 1u : 0u};
      return true;
    default:
      return false;
  }
  out->negative = i < 0;
  out->mag = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
  return true;
}

/* An integer into INT, UINT, TIME, BOOL or FLOAT, with the range rules of each. */
static nb_err nb_from_integer(nb_integer n, nb_value_type to, nb_value *out) {
  if (to == NB_VT_FLOAT) {
    double d = (double)n.mag;
    /* Exact only when the magnitude survives the round trip (2^64 itself is not a uint64). */
    if (d >= NB_TWO_POW_64 || (uint64_t)d != n.mag) return NB_ERR_RANGE;
    *out = nb_value_float(n.negative ? -d : d);
    return NB_OK;
  }
  if (to == NB_VT_UINT || to == NB_VT_BOOL) {
    if (n.negative && n.mag != 0) return NB_ERR_RANGE;
    if (to == NB_VT_BOOL) {
      if (n.mag > 1) return NB_ERR_RANGE;
      *out = nb_value_bool(n.mag == 1);
    } else {
      *out = nb_value_uint(n.mag);
    }
    return NB_OK;
  }
  int64_t i;
  if (n.negative) {
    if (n.mag > (uint64_t)INT64_MAX + 1) return NB_ERR_RANGE;
    i = n.mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)n.mag;
  } else {
    if (n.mag > (uint64_t)INT64_MAX) return NB_ERR_RANGE;
    i = (int64_t)n.mag;
  }
  *out = to == NB_VT_TIME ? nb_value_time(i) : nb_value_int(i);
  return NB_OK;
}

/* FLOAT to an integer type: only integral values that fit. */
static nb_err nb_from_float(double f, nb_value_type to, nb_value *out) {
  if (!isfinite(f) || floor(f) != f) return NB_ERR_RANGE;
  if (f < -NB_TWO_POW_63 || f >= NB_TWO_POW_64) return NB_ERR_RANGE;
  nb_integer n;
  n.negative = f < 0;
  double mag = n.negative ? -f : f;
  n.mag = (uint64_t)mag;
  return nb_from_integer(n, to, out);
}

static nb_err nb_from_text(const char *s, nb_value_type to, nb_value *out) {
  nb_err err = NB_OK;
  switch (to) {
    case NB_VT_INT:
    case NB_VT_TIME: {
      int64_t i = 0;
      err = nb_parse_i64(s, &i);
      if (err == NB_OK) *out = to == NB_VT_TIME ? nb_value_time(i) : nb_value_int(i);
      return err;
    }
    case NB_VT_UINT: {
      uint64_t u = 0;
      err = nb_parse_u64(s, &u);
      if (err == NB_OK) *out = nb_value_uint(u);
      return err;
    }
    case NB_VT_FLOAT: {
      double f = 0;
      err = nb_parse_double(s, &f);
      if (err == NB_OK) *out = nb_value_float(f);
      return err;
    }
    case NB_VT_BOOL:
      if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0) {
        *out = nb_value_bool(true);
      } else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0) {
        *out = nb_value_bool(false);
      } else {
        return NB_ERR_INVAL;
      }
      return NB_OK;
    case NB_VT_OBJLNK:
      return nb_parse_objlnk(s, out);
    default:
      return NB_ERR_INVAL;
  }
}

/* Scalars to their canonical text. */
static nb_err nb_to_string(const nb_value *in, nb_value *out) {
  char buf[64];
  nb_err err = nb_value_format(in, buf, sizeof buf);
  if (err != NB_OK) return err;
  return nb_value_set_string(out, buf, strlen(buf));
}

static nb_err nb_convert_bytes(const nb_value *in, nb_value_type to, nb_value *out) {
  const uint8_t *data = in->v.bytes.data;
  size_t len = in->v.bytes.len;
  if (to == NB_VT_OPAQUE) {
    if (in->type != NB_VT_STRING) return NB_ERR_INVAL;
    return nb_value_set_opaque(out, data, len);
  }
  if (to == NB_VT_STRING || to == NB_VT_CORELNK) {
    if (in->type == NB_VT_CORELNK && to == NB_VT_STRING) {
      return nb_value_set_string(out, (const char *)data, len);
    }
    if (in->type == NB_VT_OPAQUE && to == NB_VT_CORELNK) return NB_ERR_INVAL;
    if (!nb_utf8_valid(data, len)) return NB_ERR_INVAL;
    return to == NB_VT_STRING ? nb_value_set_string(out, (const char *)data, len)
                              : nb_value_set_corelnk(out, (const char *)data, len);
  }
  /* Numbers from text: only STRING, and not when it hides a NUL inside. */
  if (in->type != NB_VT_STRING || strlen((const char *)data) != len) return NB_ERR_INVAL;
  return nb_from_text((const char *)data, to, out);
}

nb_err nb_value_convert(const nb_value *in, nb_value_type to, nb_value *out) {
  *out = nb_value_none();
  if ((size_t)to >= NB_TYPE_COUNT) return NB_ERR_INVAL;
  if (in->type == to) return nb_value_copy(out, in);
  if (in->type == NB_VT_NONE || to == NB_VT_NONE) return NB_ERR_INVAL;
  if (nb_type_has_bytes(in->type)) return nb_convert_bytes(in, to, out);
  if (to == NB_VT_STRING) return nb_to_string(in, out);
  nb_err err = NB_ERR_INVAL;
  nb_integer n;
  bool numeric_to = to == NB_VT_INT || to == NB_VT_UINT || to == NB_VT_TIME || to == NB_VT_FLOAT ||
                    to == NB_VT_BOOL;
  if (!numeric_to) return NB_ERR_INVAL;
  if (in->type == NB_VT_FLOAT) {
    /* A float is never a boolean; it is a time when integral (SenML "v": 1.7e9). */
    if (to == NB_VT_BOOL) return NB_ERR_INVAL;
    err = nb_from_float(in->v.f, to, out);
  } else if (nb_as_integer(in, &n)) {
    /* Booleans are 0/1 integers (TLV), but never times or floats. */
    bool bool_side = in->type == NB_VT_BOOL || to == NB_VT_BOOL;
    bool bad = bool_side && (to == NB_VT_FLOAT || to == NB_VT_TIME || in->type == NB_VT_TIME);
    err = bad ? NB_ERR_INVAL : nb_from_integer(n, to, out);
  }
  if (err != NB_OK) *out = nb_value_none();
  return err;
}

/* ---- records ---- */

void nb_records_init(nb_records *r) { memset(r, 0, sizeof *r); }

void nb_records_deinit(nb_records *r) {
  for (size_t k = 0; k < r->len; k++) nb_value_deinit(&r->items[k].value);
  free(r->items);
  memset(r, 0, sizeof *r);
}

nb_err nb_records_add(nb_records *r, const nb_path *p, nb_value *v_moved) {
  if (r->len == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 8;
    nb_record *items = NULL;
    if (cap <= SIZE_MAX / sizeof *items) items = realloc(r->items, cap * sizeof *items);
    if (items == NULL) {
      nb_value_deinit(v_moved);
      return NB_ERR_NOMEM;
    }
    r->items = items;
    r->cap = cap;
  }
  r->items[r->len].path = *p;
  r->items[r->len].value = *v_moved;
  r->len++;
  *v_moved = nb_value_none();
  return NB_OK;
}

/* Bottom-up merge sort: stable, O(n log n), one scratch array. */
static void nb_records_merge(nb_record *src, nb_record *dst, size_t lo, size_t mid, size_t hi) {
  size_t a = lo, b = mid, k = lo;
  while (a < mid && b < hi) {
    dst[k++] = nb_path_compare(&src[b].path, &src[a].path) < 0 ? src[b++] : src[a++];
  }
  while (a < mid) dst[k++] = src[a++];
  while (b < hi) dst[k++] = src[b++];
}

static void nb_records_insertion_sort(nb_records *r) {
  for (size_t k = 1; k < r->len; k++) {
    nb_record item = r->items[k];
    size_t j = k;
    while (j > 0 && nb_path_compare(&r->items[j - 1].path, &item.path) > 0) {
      r->items[j] = r->items[j - 1];
      j--;
    }
    r->items[j] = item;
  }
}

void nb_records_sort(nb_records *r) {
  if (r->len < 2) return;
  nb_record *scratch = malloc(r->len * sizeof *scratch);
  if (scratch == NULL) {
    nb_records_insertion_sort(r); /* no memory for the scratch: still sort, just slower */
    return;
  }
  nb_record *src = r->items, *dst = scratch;
  for (size_t width = 1; width < r->len; width *= 2) {
    for (size_t lo = 0; lo < r->len; lo += 2 * width) {
      size_t mid = lo + width < r->len ? lo + width : r->len;
      size_t hi = lo + 2 * width < r->len ? lo + 2 * width : r->len;
      nb_records_merge(src, dst, lo, mid, hi);
    }
    nb_record *tmp = src;
    src = dst;
    dst = tmp;
  }
  if (src != r->items) memcpy(r->items, src, r->len * sizeof *src);
  free(scratch);
}

const nb_record *nb_records_find(const nb_records *r, const nb_path *p) {
  for (size_t k = 0; k < r->len; k++) {
    if (nb_path_equal(&r->items[k].path, p)) return &r->items[k];
  }
  return NULL;
}
