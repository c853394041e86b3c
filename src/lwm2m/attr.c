/* LwM2M attributes: table-driven parse, format, validation and inheritance. */
#include "lwm2m/attr.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/value.h"

typedef enum {
  NB_AK_SECONDS, /* uint32 seconds */
  NB_AK_FLOAT,   /* finite decimal number */
  NB_AK_DIM,     /* 0..255 */
  NB_AK_SSID,    /* 1..65534 */
  NB_AK_VER,     /* "major.minor" */
  NB_AK_URI,     /* printable text, no quote */
} nb_attr_kind;

typedef struct {
  uint32_t bit;
  const char *name;
  nb_attr_kind kind;
  size_t offset; /* of the value in nb_attrs */
} nb_attr_row;

/* Canonical order: properties first, then notification attributes as the spec lists them. */
static const nb_attr_row nb_attr_rows[] = {
    {NB_ATTR_DIM, "dim", NB_AK_DIM, offsetof(nb_attrs, dim)},
    {NB_ATTR_VER, "ver", NB_AK_VER, offsetof(nb_attrs, ver)},
    {NB_ATTR_SSID, "ssid", NB_AK_SSID, offsetof(nb_attrs, ssid)},
    {NB_ATTR_URI, "uri", NB_AK_URI, offsetof(nb_attrs, uri)},
    {NB_ATTR_PMIN, "pmin", NB_AK_SECONDS, offsetof(nb_attrs, pmin)},
    {NB_ATTR_PMAX, "pmax", NB_AK_SECONDS, offsetof(nb_attrs, pmax)},
    {NB_ATTR_GT, "gt", NB_AK_FLOAT, offsetof(nb_attrs, gt)},
    {NB_ATTR_LT, "lt", NB_AK_FLOAT, offsetof(nb_attrs, lt)},
    {NB_ATTR_ST, "st", NB_AK_FLOAT, offsetof(nb_attrs, st)},
    {NB_ATTR_EPMIN, "epmin", NB_AK_SECONDS, offsetof(nb_attrs, epmin)},
    {NB_ATTR_EPMAX, "epmax", NB_AK_SECONDS, offsetof(nb_attrs, epmax)},
};

#define NB_ATTR_ROWS (sizeof nb_attr_rows / sizeof nb_attr_rows[0])

/* Writes an English reason when the caller wants one; returns NB_ERR_INVAL. */
static nb_err nb_attr_fail(char *reason, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static nb_err nb_attr_fail(char *reason, size_t cap, const char *fmt, ...) {
  if (reason != NULL && cap > 0) {
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): ap is started; clang-14 bug */
    vsnprintf(reason, cap, fmt, ap);
    va_end(ap);
  }
  return NB_ERR_INVAL;
}

void nb_attrs_init(nb_attrs *a) { memset(a, 0, sizeof *a); }

static const nb_attr_row *nb_attr_row_of_bit(uint32_t bit) {
  for (size_t k = 0; k < NB_ATTR_ROWS; k++) {
    if (nb_attr_rows[k].bit == bit) return &nb_attr_rows[k];
  }
  return NULL;
}

const char *nb_attr_name(nb_attr_id id) {
  const nb_attr_row *row = nb_attr_row_of_bit((uint32_t)id);
  return row ? row->name : NULL;
}

static const nb_attr_row *nb_attr_row_of_name(const char *name, size_t len) {
  for (size_t k = 0; k < NB_ATTR_ROWS; k++) {
    if (strlen(nb_attr_rows[k].name) == len && memcmp(nb_attr_rows[k].name, name, len) == 0) {
      return &nb_attr_rows[k];
    }
  }
  return NULL;
}

uint32_t nb_attr_from_name(const char *name, size_t len) {
  const nb_attr_row *row = nb_attr_row_of_name(name, len);
  return row ? row->bit : 0;
}

/* ---- values ---- */

static bool nb_is_digit(char c) { return c >= '0' && c <= '9'; }

/* Decimal digits only, at most UINT32_MAX. */
static bool nb_attr_parse_u32(const char *s, size_t len, uint32_t *out) {
  if (len == 0 || len > 10) return false;
  uint64_t v = 0;
  for (size_t k = 0; k < len; k++) {
    if (!nb_is_digit(s[k])) return false;
    v = v * 10 + (uint64_t)(s[k] - '0');
  }
  if (v > UINT32_MAX) return false;
  *out = (uint32_t)v;
  return true;
}

/* [+-]digits[.digits][(e|E)[+-]digits], or [+-].digits..., finite. */
static bool nb_attr_parse_float(const char *s, size_t len, double *out) {
  char buf[64];
  if (len == 0 || len >= sizeof buf) return false;
  size_t k = 0, digits = 0;
  if (s[k] == '+' || s[k] == '-') k++;
  while (k < len && nb_is_digit(s[k])) k++, digits++;
  if (k < len && s[k] == '.') {
    k++;
    while (k < len && nb_is_digit(s[k])) k++, digits++;
  }
  if (digits == 0) return false;
  if (k < len && (s[k] == 'e' || s[k] == 'E')) {
    k++;
    if (k < len && (s[k] == '+' || s[k] == '-')) k++;
    size_t exp_digits = 0;
    while (k < len && nb_is_digit(s[k])) k++, exp_digits++;
    if (exp_digits == 0) return false;
  }
  if (k != len) return false;
  memcpy(buf, s, len);
  buf[len] = '\0';
  double v = strtod(buf, NULL);
  if (!isfinite(v)) return false;
  *out = v;
  return true;
}

/* "1.0", "1.1": one to three digits either side of a dot. */
static bool nb_attr_ver_valid(const char *s, size_t len) {
  const char *dot = memchr(s, '.', len);
  if (dot == NULL) return false;
  size_t major = (size_t)(dot - s), minor = len - major - 1;
  if (major == 0 || major > 3 || minor == 0 || minor > 3) return false;
  for (size_t k = 0; k < len; k++) {
    if (s + k != dot && !nb_is_digit(s[k])) return false;
  }
  return true;
}

/* Printable ASCII without quote, backslash or blank: safe inside a quoted link parameter. */
static bool nb_attr_uri_valid(const char *s, size_t len) {
  if (len == 0 || len >= NB_ATTR_URI_MAX) return false;
  for (size_t k = 0; k < len; k++) {
    unsigned char c = (unsigned char)s[k];
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

static bool nb_attr_parse_value(nb_attrs *a, const nb_attr_row *row, const char *v, size_t len) {
  void *field = (char *)a + row->offset;
  uint32_t u = 0;
  switch (row->kind) {
    case NB_AK_SECONDS:
      if (!nb_attr_parse_u32(v, len, &u)) return false;
      memcpy(field, &u, sizeof u);
      return true;
    case NB_AK_FLOAT: {
      double d = 0;
      if (!nb_attr_parse_float(v, len, &d)) return false;
      memcpy(field, &d, sizeof d);
      return true;
    }
    case NB_AK_DIM:
      if (!nb_attr_parse_u32(v, len, &u) || u > 255) return false;
      a->dim = u;
      return true;
    case NB_AK_SSID:
      if (!nb_attr_parse_u32(v, len, &u) || u < 1 || u > NB_ID_MAX) return false;
      a->ssid = (uint16_t)u;
      return true;
    case NB_AK_VER:
      if (len >= NB_ATTR_VER_MAX || !nb_attr_ver_valid(v, len)) return false;
      memcpy(a->ver, v, len);
      a->ver[len] = '\0';
      return true;
    case NB_AK_URI:
      if (len >= 2 && v[0] == '"' && v[len - 1] == '"') v++, len -= 2; /* link-format quoting */
      if (!nb_attr_uri_valid(v, len)) return false;
      memcpy(a->uri, v, len);
      a->uri[len] = '\0';
      return true;
  }
  return false;
}

static const char *nb_attr_kind_text(nb_attr_kind kind) {
  switch (kind) {
    case NB_AK_SECONDS:
      return "a whole number of seconds (0..4294967295)";
    case NB_AK_FLOAT:
      return "a finite decimal number";
    case NB_AK_DIM:
      return "an integer 0..255";
    case NB_AK_SSID:
      return "a Short Server ID 1..65534";
    case NB_AK_VER:
      return "a version major.minor";
    case NB_AK_URI:
      return "a URI of printable characters without quotes or blanks";
  }
  return "valid";
}

/* ---- parsing ---- */

nb_err nb_attrs_parse_one(nb_attrs *a, const char *kv, size_t len, char *reason, size_t cap) {
  const char *eq = memchr(kv, '=', len);
  size_t name_len = eq ? (size_t)(eq - kv) : len;
  const nb_attr_row *row = nb_attr_row_of_name(kv, name_len);
  if (row == NULL) {
    int shown = name_len > 32 ? 32 : (int)name_len;
    return nb_attr_fail(reason, cap, "unknown attribute '%.*s'", shown, kv);
  }
  if ((a->set | a->unset) & row->bit) {
    return nb_attr_fail(reason, cap, "attribute '%s' is given twice", row->name);
  }
  if (eq == NULL) {
    a->unset |= row->bit;
    return NB_OK;
  }
  const char *v = eq + 1;
  size_t vlen = len - name_len - 1;
  if (vlen == 0) return nb_attr_fail(reason, cap, "attribute '%s' has an empty value", row->name);
  if (!nb_attr_parse_value(a, row, v, vlen)) {
    return nb_attr_fail(reason, cap, "attribute '%s' must be %s", row->name,
                        nb_attr_kind_text(row->kind));
  }
  a->set |= row->bit;
  return NB_OK;
}

nb_err nb_attrs_parse_query(nb_attrs *a, const nb_coap_msg *msg, char *reason, size_t cap) {
  for (uint16_t k = 0; k < msg->option_count; k++) {
    const nb_coap_option *opt = &msg->options[k];
    if (opt->number != NB_COAP_OPT_URI_QUERY) continue;
    nb_err err = nb_attrs_parse_one(a, (const char *)opt->value, opt->len, reason, cap);
    if (err != NB_OK) return err;
  }
  return NB_OK;
}

/* End of the item starting at pos: the next sep outside double quotes. */
static size_t nb_attr_item_end(const char *text, size_t len, size_t pos, char sep) {
  bool quoted = false;
  for (; pos < len; pos++) {
    if (text[pos] == '"') quoted = !quoted;
    if (text[pos] == sep && !quoted) break;
  }
  return pos;
}

nb_err nb_attrs_parse_list(nb_attrs *a, const char *text, size_t len, char sep, char *reason,
                           size_t cap) {
  size_t pos = (len > 0 && text[0] == sep) ? 1 : 0;
  if (pos == len) return NB_OK;
  while (pos <= len) {
    size_t end = nb_attr_item_end(text, len, pos, sep);
    if (end == pos) return nb_attr_fail(reason, cap, "empty attribute in the list");
    nb_err err = nb_attrs_parse_one(a, text + pos, end - pos, reason, cap);
    if (err != NB_OK) return err;
    pos = end + 1;
  }
  return NB_OK;
}

/* ---- rules ---- */

static nb_err nb_attrs_check_ranges(const nb_attrs *a, char *reason, size_t cap) {
  if ((a->set & NB_ATTR_DIM) && a->dim > 255) {
    return nb_attr_fail(reason, cap, "dim must be 0..255");
  }
  if ((a->set & NB_ATTR_SSID) && (a->ssid < 1 || a->ssid > NB_ID_MAX)) {
    return nb_attr_fail(reason, cap, "ssid must be 1..65534");
  }
  if ((a->set & NB_ATTR_VER) && !nb_attr_ver_valid(a->ver, strnlen(a->ver, NB_ATTR_VER_MAX))) {
    return nb_attr_fail(reason, cap, "ver must be major.minor");
  }
  if ((a->set & NB_ATTR_URI) && !nb_attr_uri_valid(a->uri, strnlen(a->uri, NB_ATTR_URI_MAX))) {
    return nb_attr_fail(reason, cap, "uri must be printable text without quotes or blanks");
  }
  const double *floats[] = {&a->gt, &a->lt, &a->st};
  const uint32_t bits[] = {NB_ATTR_GT, NB_ATTR_LT, NB_ATTR_ST};
  for (size_t k = 0; k < 3; k++) {
    if ((a->set & bits[k]) && !isfinite(*floats[k])) {
      return nb_attr_fail(reason, cap, "%s must be a finite number", nb_attr_name(bits[k]));
    }
  }
  return NB_OK;
}

nb_err nb_attrs_validate(const nb_attrs *a, char *reason, size_t cap) {
  if ((a->set | a->unset) & ~(uint32_t)NB_ATTR_ALL_MASK) {
    return nb_attr_fail(reason, cap, "unknown attribute bit");
  }
  nb_err err = nb_attrs_check_ranges(a, reason, cap);
  if (err != NB_OK) return err;
  uint32_t s = a->set;
  if ((s & NB_ATTR_PMIN) && (s & NB_ATTR_PMAX) && a->pmin > a->pmax) {
    return nb_attr_fail(reason, cap, "pmin (%u) must not exceed pmax (%u)", (unsigned)a->pmin,
                        (unsigned)a->pmax);
  }
  if ((s & NB_ATTR_EPMIN) && (s & NB_ATTR_EPMAX) && a->epmin > a->epmax) {
    return nb_attr_fail(reason, cap, "epmin (%u) must not exceed epmax (%u)", (unsigned)a->epmin,
                        (unsigned)a->epmax);
  }
  if ((s & NB_ATTR_ST) && a->st < 0) {
    return nb_attr_fail(reason, cap, "st must not be negative");
  }
  if ((s & NB_ATTR_LT) && (s & NB_ATTR_GT) && !(a->lt < a->gt)) {
    return nb_attr_fail(reason, cap, "lt (%g) must be less than gt (%g)", a->lt, a->gt);
  }
  if ((s & NB_ATTR_LT) && (s & NB_ATTR_GT) && (s & NB_ATTR_ST) && !(a->lt + 2 * a->st < a->gt)) {
    return nb_attr_fail(reason, cap, "lt + 2*st (%g) must be less than gt (%g)", a->lt + 2 * a->st,
                        a->gt);
  }
  return NB_OK;
}

nb_err nb_attrs_check_writable(const nb_attrs *a, char *reason, size_t cap) {
  uint32_t bad = (a->set | a->unset) & (uint32_t)NB_ATTR_PROPERTY_MASK;
  if (bad == 0) return NB_OK;
  uint32_t bit = bad & (~bad + 1); /* lowest: the first in canonical order */
  return nb_attr_fail(reason, cap, "attribute '%s' is read-only", nb_attr_name(bit));
}

static bool nb_type_numeric(nb_value_type t) {
  return t == NB_VT_INT || t == NB_VT_UINT || t == NB_VT_FLOAT;
}

nb_err nb_attrs_check_target(const nb_attrs *a, const nb_path *p, const nb_resource_def *def,
                             char *reason, size_t cap) {
  uint32_t named = a->set | a->unset;
  if (named == 0) return NB_OK;
  if (p->len == NB_PATH_ROOT) {
    return nb_attr_fail(reason, cap, "attributes need an object, instance or resource path");
  }
  if ((named & (NB_ATTR_GT | NB_ATTR_LT | NB_ATTR_ST)) != 0) {
    if (p->len < NB_PATH_RESOURCE) {
      return nb_attr_fail(reason, cap, "gt, lt and st apply to resources only");
    }
    if (def != NULL && !nb_type_numeric(def->type)) {
      return nb_attr_fail(reason, cap, "gt, lt and st apply to numeric resources only");
    }
  }
  if ((named & NB_ATTR_DIM) && (p->len != NB_PATH_RESOURCE || (def != NULL && !def->multiple))) {
    return nb_attr_fail(reason, cap, "dim applies to multiple-instance resources only");
  }
  if ((named & NB_ATTR_VER) && p->len != NB_PATH_OBJECT) {
    return nb_attr_fail(reason, cap, "ver applies to objects only");
  }
  if ((named & (NB_ATTR_SSID | NB_ATTR_URI)) && p->len != NB_PATH_INSTANCE) {
    return nb_attr_fail(reason, cap, "ssid and uri apply to object instances only");
  }
  if ((named & NB_ATTR_NOTIFY_MASK) && def != NULL && p->len >= NB_PATH_RESOURCE &&
      def->ops == NB_OP_E) {
    return nb_attr_fail(reason, cap, "executable resources have no notification attributes");
  }
  return NB_OK;
}

/* ---- formatting ---- */

/* Text of one set attribute's value into buf (quoted uri when `quote`). */
static nb_err nb_attr_value_text(const nb_attrs *a, const nb_attr_row *row, bool quote, char *buf,
                                 size_t cap) {
  const void *field = (const char *)a + row->offset;
  int n = 0;
  switch (row->kind) {
    case NB_AK_SECONDS: {
      uint32_t u;
      memcpy(&u, field, sizeof u);
      n = snprintf(buf, cap, "%u", (unsigned)u);
      break;
    }
    case NB_AK_FLOAT: {
      double d;
      memcpy(&d, field, sizeof d);
      nb_value v = nb_value_float(d);
      return nb_value_format(&v, buf, cap);
    }
    case NB_AK_DIM:
      n = snprintf(buf, cap, "%u", (unsigned)a->dim);
      break;
    case NB_AK_SSID:
      n = snprintf(buf, cap, "%u", (unsigned)a->ssid);
      break;
    case NB_AK_VER:
      n = snprintf(buf, cap, "%s", a->ver);
      break;
    case NB_AK_URI:
      n = snprintf(buf, cap, quote ? "\"%s\"" : "%s", a->uri);
      break;
  }
  return (n < 0 || (size_t)n >= cap) ? NB_ERR_OVERFLOW : NB_OK;
}

/* Shared by the query form ("a=1&b") and the link form (";a=1;b=2", no unset items). */
static nb_err nb_attrs_format(const nb_attrs *a, char *buf, size_t cap, bool link) {
  if (cap == 0) return NB_ERR_OVERFLOW;
  size_t used = 0;
  buf[0] = '\0';
  for (size_t k = 0; k < NB_ATTR_ROWS; k++) {
    const nb_attr_row *row = &nb_attr_rows[k];
    bool is_set = (a->set & row->bit) != 0;
    bool is_unset = !link && !is_set && (a->unset & row->bit) != 0;
    if (!is_set && !is_unset) continue;
    char value[NB_ATTR_URI_MAX + 8] = "";
    /* Quoting keeps a uri with the list's separator in it one item ("uri=\"coap://h/?a&b\""). */
    bool quote = link || (row->kind == NB_AK_URI && strchr(a->uri, '&') != NULL);
    if (is_set && nb_attr_value_text(a, row, quote, value, sizeof value) != NB_OK) {
      return NB_ERR_INVAL;
    }
    const char *sep = link ? ";" : (used > 0 ? "&" : "");
    int n = snprintf(buf + used, cap - used, "%s%s%s%s", sep, row->name, is_set ? "=" : "", value);
    if (n < 0 || (size_t)n >= cap - used) {
      buf[0] = '\0';
      return NB_ERR_OVERFLOW;
    }
    used += (size_t)n;
  }
  return NB_OK;
}

nb_err nb_attrs_format_query(const nb_attrs *a, char *buf, size_t cap) {
  return nb_attrs_format(a, buf, cap, false);
}

nb_err nb_attrs_format_link(const nb_attrs *a, char *buf, size_t cap) {
  return nb_attrs_format(a, buf, cap, true);
}

nb_err nb_attrs_to_coap(nb_coap_msg *msg, const nb_attrs *a) {
  for (size_t k = 0; k < NB_ATTR_ROWS; k++) {
    const nb_attr_row *row = &nb_attr_rows[k];
    char item[NB_ATTR_URI_MAX + 16];
    if (a->set & row->bit) {
      int n = snprintf(item, sizeof item, "%s=", row->name);
      nb_err err = nb_attr_value_text(a, row, false, item + n, sizeof item - (size_t)n);
      if (err != NB_OK) return err;
    } else if (a->unset & row->bit) {
      snprintf(item, sizeof item, "%s", row->name);
    } else {
      continue;
    }
    nb_err err = nb_coap_msg_add_query(msg, NB_COAP_OPT_URI_QUERY, item);
    if (err != NB_OK) return err;
  }
  return NB_OK;
}

/* ---- inheritance ---- */

static void nb_attr_copy_field(nb_attrs *dst, const nb_attrs *src, const nb_attr_row *row) {
  size_t size = 0;
  switch (row->kind) {
    case NB_AK_SECONDS:
    case NB_AK_DIM:
      size = sizeof(uint32_t);
      break;
    case NB_AK_FLOAT:
      size = sizeof(double);
      break;
    case NB_AK_SSID:
      size = sizeof(uint16_t);
      break;
    case NB_AK_VER:
      size = sizeof dst->ver;
      break;
    case NB_AK_URI:
      size = sizeof dst->uri;
      break;
  }
  memcpy((char *)dst + row->offset, (const char *)src + row->offset, size);
}

void nb_attrs_merge(nb_attrs *dst, const nb_attrs *over) {
  for (size_t k = 0; k < NB_ATTR_ROWS; k++) {
    const nb_attr_row *row = &nb_attr_rows[k];
    if (!(over->set & row->bit)) continue;
    nb_attr_copy_field(dst, over, row);
    dst->set |= row->bit;
  }
}

void nb_attrs_apply(nb_attrs *stored, const nb_attrs *update) {
  nb_attrs_merge(stored, update);
  stored->set &= ~update->unset;
  stored->unset = 0;
}
