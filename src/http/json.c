/* JSON shapes of the REST API: see json.h. */
#include "http/json.h"
#include "base/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- compact text ---- */

/* Deeper documents are refused (jansson's parser stops at 2048 too). */
#define NB_JSON_MAX_DEPTH 2048

/* d with the fewest of 15, 16 or 17 significant digits that read back as d: any decimal of up
 * to 15 digits survives a trip through a double, so %.15g gives a value that came from one (a
 * sensor's 20.44) exactly as it was written. A real always shows as one: "20.0", never "20" or
 * jansson's "2e1" at a precision shorter than its integer part; exponents as jansson writes
 * them ("1e300", "1e-5"). */
static size_t nb_json_real(double d, char *buf, size_t cap) {
  int n = 0;
  for (int p = 15; p <= 17; p++) {
    n = snprintf(buf, cap, "%.*g", p, d);
    if (p == 17 || strtod(buf, NULL) == d) break;
  }
  if (n <= 0 || (size_t)n >= cap - 2) return 0;
  char *e = strchr(buf, 'e');
  if (!e) {
    if (!strchr(buf, '.')) memcpy(buf + n, ".0", 3), n += 2;
    return (size_t)n;
  }
  char *digits = e + 1 + (e[1] == '-'), *from = e + 1 + (e[1] == '-' || e[1] == '+');
  while (*from == '0' && from[1]) from++;
  memmove(digits, from, strlen(from) + 1);
  return strlen(buf);
}

static bool nb_json_plain(unsigned char c) { return c >= 0x20 && c != '"' && c != '\\'; }

/* s as a JSON string; the common case, nothing to escape, is one copy. */
static nb_err nb_json_string(nb_bytes *out, const char *s, size_t len) {
  size_t plain = 0;
  while (plain < len && nb_json_plain((unsigned char)s[plain])) plain++;
  if (plain == len) {
    nb_err rc = nb_bytes_reserve(out, len + 2);
    if (rc != NB_OK) return rc;
    char *w = (char *)out->data + out->len;
    w[0] = '"';
    memcpy(w + 1, s, len);
    w[len + 1] = '"';
    w[len + 2] = '\0';
    out->len += len + 2;
    return NB_OK;
  }
  nb_err rc = nb_bytes_append(out, "\"", 1);
  size_t run = 0; /* s[run..i) needs no escape */
  for (size_t i = plain; rc == NB_OK && i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (nb_json_plain(c)) continue;
    rc = nb_bytes_append(out, s + run, i - run);
    run = i + 1;
    static const char named[] = "\b\f\n\r\t\"\\", letter[] = "bfnrt\"\\";
    const char *k = c ? strchr(named, c) : NULL;
    char esc[8];
    if (k)
      snprintf(esc, sizeof esc, "\\%c", letter[k - named]);
    else
      snprintf(esc, sizeof esc, "\\u%04X", c);
    if (rc == NB_OK) rc = nb_bytes_append_str(out, esc);
  }
  if (rc == NB_OK) rc = nb_bytes_append(out, s + run, len - run);
  return rc == NB_OK ? nb_bytes_append(out, "\"", 1) : rc;
}

/* v in decimal, without printf's machinery (timestamps and sequences in every event). */
static size_t nb_json_integer(json_int_t v, char *buf) {
  char d[24];
  size_t nd = 0, n = 0;
  unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
  do d[nd++] = (char)('0' + u % 10);
  while ((u /= 10) != 0);
  if (v < 0) buf[n++] = '-';
  while (nd) buf[n++] = d[--nd];
  return n;
}

static nb_err nb_json_write(nb_bytes *out, const json_t *j, int depth) {
  if (depth > NB_JSON_MAX_DEPTH) return NB_ERR_INVAL;
  char num[48];
  size_t n;
  nb_err rc = NB_OK;
  switch (json_typeof(j)) {
    case JSON_OBJECT: {
      const char *k;
      size_t klen;
      json_t *v;
      char sep = '{';
      json_object_keylen_foreach((json_t *)j, k, klen, v) {
        if (rc == NB_OK) rc = nb_bytes_append(out, &sep, 1);
        if (rc == NB_OK) rc = nb_json_string(out, k, klen);
        if (rc == NB_OK) rc = nb_bytes_append(out, ":", 1);
        if (rc == NB_OK) rc = nb_json_write(out, v, depth + 1);
        sep = ',';
      }
      return rc == NB_OK ? nb_bytes_append(out, sep == '{' ? "{}" : "}", sep == '{' ? 2 : 1) : rc;
    }
    case JSON_ARRAY: {
      for (size_t i = 0; rc == NB_OK && i < json_array_size(j); i++) {
        rc = nb_bytes_append(out, i ? "," : "[", 1);
        if (rc == NB_OK) rc = nb_json_write(out, json_array_get(j, i), depth + 1);
      }
      return rc == NB_OK ? nb_bytes_append_str(out, json_array_size(j) ? "]" : "[]") : rc;
    }
    case JSON_STRING:
      return nb_json_string(out, json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
      n = nb_json_integer(json_integer_value(j), num);
      return nb_bytes_append(out, num, n);
    case JSON_REAL:
      n = nb_json_real(json_real_value(j), num, sizeof num);
      return n ? nb_bytes_append(out, num, n) : NB_ERR_INVAL;
    case JSON_TRUE:
      return nb_bytes_append_str(out, "true");
    case JSON_FALSE:
      return nb_bytes_append_str(out, "false");
    case JSON_NULL:
      return nb_bytes_append_str(out, "null");
  }
  return NB_ERR_INVAL;
}

nb_err nb_http_json_append(nb_bytes *out, const json_t *j) {
  size_t mark = out->len;
  nb_err rc = j ? nb_json_write(out, j, 0) : NB_ERR_INVAL;
  if (rc != NB_OK && out->data) out->data[out->len = mark] = 0;
  return rc;
}

char *nb_http_json_text(const json_t *j) {
  nb_bytes b;
  nb_bytes_init(&b);
  if (nb_http_json_append(&b, j) != NB_OK) {
    nb_bytes_free(&b);
    return NULL;
  }
  return (char *)nb_bytes_steal(&b, NULL); /* NUL-terminated by every append */
}

static json_t *reg_base(const nb_server_reg_info *r, bool awake) {
  char addr[NB_ADDR_STRLEN];
  nb_addr_format(&r->addr, addr, sizeof(addr));
  return json_pack("{s:s,s:s,s:s,s:s,s:b,s:I,s:s,s:s,s:s,s:I,s:I,s:I,s:s%,s:b}", "endpoint", r->ep,
                   "registrationId", r->reg_id, "lwM2mVersion", r->version, "bindingMode",
                   r->binding, "queueMode", r->queue, "lifetime", (json_int_t)r->lifetime,
                   "address", addr, "securityMode", nb_server_id_kind_name(r->identity.kind),
                   "identity", r->identity.value, "registrationDate", (json_int_t)r->registered_at,
                   "lastUpdate", (json_int_t)r->updated_at, "expiresAt", (json_int_t)r->expires_at,
                   "objectLinks", r->links ? r->links : "", r->links ? r->links_len : 0, "awake",
                   awake);
}

/* A Content-Format by the name ?format= takes, or its number when it has none. */
static json_t *format_json(int cf) {
  char num[16];
  const char *name = nb_format_name(cf);
  if (strcmp(name, "unknown") != 0) return json_string(name);
  snprintf(num, sizeof num, "%d", cf);
  return json_string(num);
}

/* Adds "formats" (the root link's ct), "preferredFormat" (what the device last answered in) and
 * "reachable" (false for a DTLS device restored after a restart and not heard from since). */
json_t *nb_http_json_reg(const nb_server_reg_info *r, bool awake) {
  json_t *j = reg_base(r, awake), *f = json_array();
  for (size_t k = 0; f && k < r->format_count; k++)
    json_array_append_new(f, format_json(r->formats[k]));
  if (!j || !f) {
    json_decref(f);
    json_decref(j);
    return NULL;
  }
  json_object_set_new(j, "formats", f);
  json_object_set_new(
      j, "preferredFormat",
      r->preferred_format == NB_COAP_CF_NONE ? json_null() : format_json(r->preferred_format));
  json_object_set_new(j, "reachable", json_boolean(!r->restored_unheard));
  return j;
}

json_t *nb_http_json_value(const nb_value *v) {
  char buf[1024];
  switch (v->type) {
    case NB_VT_INT:
      return json_integer(v->v.i);
    case NB_VT_UINT:
      return v->v.u <= INT64_MAX ? json_integer((json_int_t)v->v.u) : json_real((double)v->v.u);
    case NB_VT_FLOAT:
      return json_real(v->v.f);
    case NB_VT_BOOL:
      return json_boolean(v->v.b);
    case NB_VT_TIME:
      return json_integer(v->v.t);
    case NB_VT_NONE:
      return json_null();
    case NB_VT_STRING:
    case NB_VT_CORELNK:
      return json_stringn((const char *)v->v.bytes.data, v->v.bytes.len);
    default: {
      /* Opaque values can be large: format into the heap when the stack buffer is short. */
      size_t cap = v->type == NB_VT_OPAQUE ? v->v.bytes.len * 2 + 1 : sizeof(buf);
      char *p = cap > sizeof(buf) ? malloc(cap) : buf;
      json_t *j = p && nb_value_format(v, p, cap) == NB_OK ? json_string(p) : json_null();
      if (p != buf) free(p);
      return j;
    }
  }
}

json_t *nb_http_json_records(const nb_records *recs) {
  json_t *a = json_array();
  for (size_t i = 0; recs && a && i < recs->len; i++) {
    char p[NB_PATH_STRLEN];
    nb_path_format(&recs->items[i].path, p, sizeof(p));
    json_array_append_new(a, json_pack("{s:s,s:s,s:o}", "path", p, "type",
                                       nb_value_type_name(recs->items[i].value.type), "value",
                                       nb_http_json_value(&recs->items[i].value)));
  }
  return a;
}

/* Opaque values travel as hex in both directions. */
static nb_err opaque_from_hex(const char *s, size_t len, nb_value *out) {
  uint8_t *b = malloc(len / 2 + 1);
  size_t n;
  if (!b) return NB_ERR_NOMEM;
  if (nb_hex_decode(s, len, NULL, b, len / 2, &n) != NB_OK) {
    free(b);
    return NB_ERR_INVAL;
  }
  *out = nb_value_none();
  nb_err rc = nb_value_set_opaque(out, b, n);
  free(b);
  return rc;
}

/* The JSON's own value (numbers with a fraction or exponent are floats). */
static nb_err natural_value(const json_t *j, nb_value *out) {
  *out = nb_value_none();
  if (json_is_integer(j))
    *out = nb_value_int(json_integer_value(j));
  else if (json_is_real(j))
    *out = nb_value_float(json_real_value(j));
  else if (json_is_boolean(j))
    *out = nb_value_bool(json_is_true(j));
  else if (json_is_string(j))
    return nb_value_set_string(out, json_string_value(j), json_string_length(j));
  else
    return NB_ERR_INVAL;
  return NB_OK;
}

nb_err nb_http_json_to_value(const nb_model *m, const nb_path *p, const json_t *j,
                             const char *type_name, nb_value *out, char *reason, size_t cap) {
  *out = nb_value_none();
  nb_value_type want = NB_VT_NONE;
  if (type_name) {
    if (nb_value_type_parse(type_name, &want) != NB_OK || want == NB_VT_NONE) {
      snprintf(reason, cap, "unknown type '%s'", type_name);
      return NB_ERR_INVAL;
    }
  } else if (p->len >= NB_PATH_RESOURCE) {
    const nb_resource_def *d = nb_model_resource(m, p->ids[0], p->ids[2]);
    if (d) want = d->type;
  }
  if (want == NB_VT_OPAQUE && json_is_string(j)) {
    nb_err rc = opaque_from_hex(json_string_value(j), json_string_length(j), out);
    if (rc == NB_ERR_INVAL) snprintf(reason, cap, "opaque values are hex strings");
    return rc;
  }
  nb_value nat;
  if (natural_value(j, &nat) != NB_OK) {
    snprintf(reason, cap, "a value must be a number, string or boolean");
    return NB_ERR_INVAL;
  }
  if (want == NB_VT_NONE || want == nat.type) {
    *out = nat;
    return NB_OK;
  }
  nb_err rc = nb_value_convert(&nat, want, out);
  nb_value_deinit(&nat);
  if (rc != NB_OK) {
    char ps[NB_PATH_STRLEN];
    nb_path_format(p, ps, sizeof(ps));
    snprintf(reason, cap, "value for %s is not a valid %s", ps, nb_value_type_name(want));
    return rc == NB_ERR_NOMEM ? rc : NB_ERR_INVAL;
  }
  return NB_OK;
}

/* "/3/0/1" absolute, or "1" / "1/0" below base. */
static nb_err record_path(const nb_path *base, const char *text, nb_path *out) {
  if (text[0] == '/') return nb_path_parse(text, out);
  char buf[NB_PATH_STRLEN * 2];
  char b[NB_PATH_STRLEN];
  if (!base) return NB_ERR_INVAL;
  nb_path_format(base, b, sizeof(b));
  snprintf(buf, sizeof(buf), "%s/%s", strcmp(b, "/") == 0 ? "" : b, text);
  return nb_path_parse(buf, out);
}

static nb_err add_record(const nb_model *m, nb_records *out, const nb_path *p, const json_t *v,
                         const char *type, char *reason, size_t cap) {
  if (p->len < NB_PATH_RESOURCE) {
    snprintf(reason, cap, "a value needs a resource path");
    return NB_ERR_INVAL;
  }
  nb_value val;
  nb_err rc = nb_http_json_to_value(m, p, v, type, &val, reason, cap);
  if (rc == NB_OK) rc = nb_records_add(out, p, &val);
  nb_value_deinit(&val);
  return rc;
}

nb_err nb_http_json_to_records(const nb_model *m, const nb_path *base, const json_t *body,
                               nb_records *out, char *reason, size_t cap) {
  if (!json_is_object(body)) {
    snprintf(reason, cap, "the body must be a JSON object");
    return NB_ERR_INVAL;
  }
  const json_t *v = json_object_get(body, "value");
  const json_t *content = json_object_get(body, "content");
  const json_t *type = json_object_get(body, "type");
  if (v && base) return add_record(m, out, base, v, json_string_value(type), reason, cap);
  if (!json_is_array(content) || json_array_size(content) == 0) {
    snprintf(reason, cap, "expected {\"value\": ...} or {\"content\": [{\"path\", \"value\"}]}");
    return NB_ERR_INVAL;
  }
  size_t i;
  const json_t *item;
  json_array_foreach(content, i, item) {
    const char *ps = json_string_value(json_object_get(item, "path"));
    const json_t *iv = json_object_get(item, "value");
    nb_path p;
    if (!ps || !iv || record_path(base, ps, &p) != NB_OK) {
      snprintf(reason, cap, "content[%zu] needs a valid \"path\" and a \"value\"", i);
      return NB_ERR_INVAL;
    }
    if (base && !nb_path_is_prefix(base, &p)) {
      snprintf(reason, cap, "content[%zu] path %s is outside the target", i, ps);
      return NB_ERR_INVAL;
    }
    nb_err rc =
        add_record(m, out, &p, iv, json_string_value(json_object_get(item, "type")), reason, cap);
    if (rc != NB_OK) return rc;
  }
  return NB_OK;
}
