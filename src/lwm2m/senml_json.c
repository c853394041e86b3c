/* SenML JSON codec (jansson for parsing; the writer emits text directly). */
#include "lwm2m/senml_json.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "coap/msg.h"
#include "lwm2m/senml.h"

static nb_err nb_senml_json_type(nb_format_error *err) {
  return nb_fmt_bad(err, NB_ERR_FMT_MALFORMED, "SenML JSON: field has the wrong JSON type");
}

static nb_err nb_senml_json_str(const json_t *v, const char **s, size_t *len,
                                nb_format_error *err) {
  if (!json_is_string(v)) return nb_senml_json_type(err);
  *s = json_string_value(v);
  *len = json_string_length(v);
  return NB_OK;
}

/* One key/value of a record object into rec. */
static nb_err nb_senml_json_field(nb_senml_rec *rec, const char *key, const json_t *v,
                                  nb_format_error *err) {
  nb_err e = NB_OK;
  if (!strcmp(key, "bn")) {
    if ((e = nb_senml_rec_field(rec, NB_SENML_F_BN, err)) != NB_OK) return e;
    return nb_senml_json_str(v, &rec->bn, &rec->bn_len, err);
  }
  if (!strcmp(key, "n")) {
    if ((e = nb_senml_rec_field(rec, NB_SENML_F_N, err)) != NB_OK) return e;
    return nb_senml_json_str(v, &rec->n, &rec->n_len, err);
  }
  if (!strcmp(key, "bt") || !strcmp(key, "bv") || !strcmp(key, "t")) {
    unsigned f = key[0] == 't' ? NB_SENML_F_T : key[1] == 't' ? NB_SENML_F_BT : NB_SENML_F_BV;
    nb_fmt_num *dst = f == NB_SENML_F_T ? &rec->t : f == NB_SENML_F_BT ? &rec->bt : &rec->bv;
    if ((e = nb_senml_rec_field(rec, f, err)) != NB_OK) return e;
    return nb_fmt_json_num(v, dst) ? NB_OK : nb_senml_json_type(err);
  }
  if (!strcmp(key, "bver")) {
    if ((e = nb_senml_rec_field(rec, NB_SENML_F_BVER, err)) != NB_OK) return e;
    if (!json_is_integer(v)) return nb_senml_json_type(err);
    if (json_integer_value(v) > 10) {
      return nb_fmt_bad(err, NB_ERR_FMT_MALFORMED, "SenML JSON: unsupported SenML version");
    }
    return NB_OK;
  }
  if (!strcmp(key, "v")) {
    if ((e = nb_senml_rec_field(rec, NB_SENML_F_VALUE, err)) != NB_OK) return e;
    rec->kind = NB_SENML_NUM;
    return nb_fmt_json_num(v, &rec->num) ? NB_OK : nb_senml_json_type(err);
  }
  if (!strcmp(key, "vb")) {
    if ((e = nb_senml_rec_field(rec, NB_SENML_F_VALUE, err)) != NB_OK) return e;
    if (!json_is_boolean(v)) return nb_senml_json_type(err);
    rec->kind = NB_SENML_BOOL;
    rec->b = json_is_true(v);
    return NB_OK;
  }
  if (!strcmp(key, "vs") || !strcmp(key, "vd") || !strcmp(key, "vlo")) {
    if ((e = nb_senml_rec_field(rec, NB_SENML_F_VALUE, err)) != NB_OK) return e;
    rec->kind = key[1] == 's' ? NB_SENML_STR : key[1] == 'd' ? NB_SENML_DATA : NB_SENML_OBJLNK;
    rec->data_b64 = true;
    return nb_senml_json_str(v, &rec->str, &rec->str_len, err);
  }
  if (nb_senml_must_understand(key, strlen(key))) {
    return nb_fmt_bad(err, NB_ERR_FMT_UNSUPPORTED, "SenML JSON: unknown must-understand field");
  }
  return NB_OK; /* u, bu, s, bs, ut and extensions: not used by LwM2M */
}

static nb_err nb_senml_json_records(nb_fmt_dec *d, const json_t *root) {
  if (!json_is_array(root)) {
    return nb_fmt_bad(d->err, NB_ERR_FMT_MALFORMED, "SenML JSON: payload is not an array");
  }
  nb_senml_state s;
  nb_senml_state_init(&s, d);
  size_t idx;
  const json_t *obj;
  json_array_foreach(root, idx, obj) {
    if (!json_is_object(obj)) {
      return nb_fmt_bad(d->err, NB_ERR_FMT_MALFORMED, "SenML JSON: record is not an object");
    }
    nb_senml_rec rec;
    nb_senml_rec_init(&rec);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
      nb_err e = nb_senml_json_field(&rec, key, v, d->err);
      if (e != NB_OK) return e;
    }
    nb_err e = nb_senml_apply(&s, &rec);
    if (e != NB_OK) return e;
  }
  return NB_OK;
}

nb_err nb_senml_json_decode(const uint8_t *buf, size_t len, const nb_format_opts *opts,
                            nb_records *out, nb_format_error *err) {
  nb_fmt_dec d;
  nb_fmt_dec_begin(&d, opts, out, err);
  if (len == 0) return nb_fmt_dec_finish(&d, NB_OK);
  json_error_t jerr;
  json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    return nb_fmt_dec_finish(&d, nb_fmt_bad(err, NB_ERR_FMT_MALFORMED,
                                            "SenML JSON: invalid JSON (syntax, encoding, "
                                            "duplicate key or number out of range)"));
  }
  nb_err e = nb_senml_json_records(&d, root);
  json_decref(root);
  return nb_fmt_dec_finish(&d, e);
}

/* ---- writer ---- */

static nb_err nb_senml_json_key(nb_bytes *out, const char *key, bool *first) {
  nb_err e = nb_bytes_append_str(out, *first ? "{\"" : ",\"");
  *first = false;
  if (e == NB_OK) e = nb_bytes_append_str(out, key);
  if (e == NB_OK) e = nb_bytes_append(out, "\":", 2);
  return e;
}

/* `"v":...`-style value field of one record; NB_ERR_RANGE for a float JSON cannot hold. */
static nb_err nb_senml_json_value(nb_bytes *out, const nb_value *v, bool *first) {
  char buf[NB_FMT_DOUBLE_LEN];
  size_t n;
  nb_err e = NB_OK;
  switch (v->type) {
    case NB_VT_INT:
    case NB_VT_TIME:
      if ((e = nb_senml_json_key(out, "v", first)) != NB_OK) return e;
      return nb_bytes_appendf(out, "%" PRId64, v->type == NB_VT_INT ? v->v.i : v->v.t);
    case NB_VT_UINT:
      if ((e = nb_senml_json_key(out, "v", first)) != NB_OK) return e;
      return nb_bytes_appendf(out, "%" PRIu64, v->v.u);
    case NB_VT_FLOAT:
      if ((e = nb_fmt_double(v->v.f, true, buf, &n)) != NB_OK) return e;
      if ((e = nb_senml_json_key(out, "v", first)) != NB_OK) return e;
      return nb_bytes_append(out, buf, n);
    case NB_VT_BOOL:
      if ((e = nb_senml_json_key(out, "vb", first)) != NB_OK) return e;
      return nb_bytes_append_str(out, v->v.b ? "true" : "false");
    case NB_VT_STRING:
    case NB_VT_CORELNK:
      if ((e = nb_senml_json_key(out, "vs", first)) != NB_OK) return e;
      return nb_fmt_json_string(out, (const char *)v->v.bytes.data, v->v.bytes.len);
    case NB_VT_OPAQUE:
      if ((e = nb_senml_json_key(out, "vd", first)) != NB_OK) return e;
      if ((e = nb_bytes_append(out, "\"", 1)) != NB_OK) return e;
      if ((e = nb_fmt_b64_encode(out, v->v.bytes.data, v->v.bytes.len, true)) != NB_OK) return e;
      return nb_bytes_append(out, "\"", 1);
    case NB_VT_OBJLNK:
      if ((e = nb_senml_json_key(out, "vlo", first)) != NB_OK) return e;
      n = nb_fmt_objlnk(v->v.lnk.obj, v->v.lnk.inst, buf);
      return nb_fmt_json_string(out, buf, n);
    default:
      return NB_OK; /* NONE: a name-only record */
  }
}

static nb_err nb_senml_json_record(nb_bytes *out, const nb_senml_names *nm, const nb_record *r,
                                   bool first_record, double t) {
  bool first = true;
  nb_err e = NB_OK;
  char name[NB_PATH_STRLEN + 1];
  if (first_record && nm->bn[0]) {
    if ((e = nb_senml_json_key(out, "bn", &first)) != NB_OK) return e;
    if ((e = nb_fmt_json_string(out, nm->bn, strlen(nm->bn))) != NB_OK) return e;
  }
  nb_senml_name(nm, &r->path, name);
  if (name[0] || (first && r->value.type == NB_VT_NONE)) {
    if ((e = nb_senml_json_key(out, "n", &first)) != NB_OK) return e;
    if ((e = nb_fmt_json_string(out, name, strlen(name))) != NB_OK) return e;
  }
  if (!isnan(t)) {
    char buf[NB_FMT_DOUBLE_LEN];
    size_t n;
    if ((e = nb_fmt_double(t, false, buf, &n)) != NB_OK) return e;
    if ((e = nb_senml_json_key(out, "t", &first)) != NB_OK) return e;
    if ((e = nb_bytes_append(out, buf, n)) != NB_OK) return e;
  }
  if ((e = nb_senml_json_value(out, &r->value, &first)) != NB_OK) return e;
  return nb_bytes_append_str(out, first ? "{}" : "}");
}

nb_err nb_senml_json_encode(const nb_records *in, const nb_format_opts *opts, nb_bytes *out,
                            nb_format_error *err) {
  nb_err e = nb_senml_check_input(in, opts, true, err);
  if (e != NB_OK) return e;
  nb_senml_names nm;
  nb_senml_names_init(&nm, in, opts);
  size_t before = out->len;
  e = nb_bytes_append(out, "[", 1);
  for (size_t k = 0; k < in->len && e == NB_OK; k++) {
    if (k && (e = nb_bytes_append(out, ",", 1)) != NB_OK) break;
    double t = (opts && opts->times_in) ? opts->times_in[k] : NAN;
    e = nb_senml_json_record(out, &nm, &in->items[k], k == 0, t);
  }
  if (e == NB_OK) e = nb_bytes_append(out, "]", 1);
  if (e == NB_OK) return NB_OK;
  out->len = before;
  if (e == NB_ERR_NOMEM) return nb_fmt_nomem(err);
  return nb_fmt_fail(err, NB_ERR_FMT_UNSUPPORTED, NB_COAP_NOT_ACCEPTABLE,
                     "SenML JSON cannot write NaN or infinity");
}
