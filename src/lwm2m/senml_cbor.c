/* SenML CBOR codec. */
#include "lwm2m/senml_cbor.h"

#include <math.h>
#include <string.h>

#include "coap/msg.h"
#include "lwm2m/cbor_io.h"
#include "lwm2m/cbor_value.h"
#include "lwm2m/senml.h"

/* RFC 8428 section 6 labels. */
enum {
  NB_SENML_BVER = -1,
  NB_SENML_BN = -2,
  NB_SENML_BT = -3,
  NB_SENML_BV = -5,
  NB_SENML_N = 0,
  NB_SENML_V = 2,
  NB_SENML_VS = 3,
  NB_SENML_VB = 4,
  NB_SENML_T = 6,
  NB_SENML_VD = 8,
  NB_SENML_VLO = 1000, /* the text label "vlo", given an internal number */
  NB_SENML_OTHER = 1001
};

/* Unknown fields may hold containers; this is how deep they may nest. */
#define NB_SENML_CBOR_SKIP_DEPTH 8

static nb_err nb_senml_cbor_malformed(nb_format_error *err, nb_err e) {
  if (e == NB_ERR_TRUNCATED) {
    return nb_fmt_bad(err, NB_ERR_FMT_MALFORMED, "SenML CBOR: payload ends inside an item");
  }
  return nb_fmt_bad(err, NB_ERR_FMT_MALFORMED, "SenML CBOR: malformed CBOR");
}

static nb_err nb_senml_cbor_type(nb_format_error *err) {
  return nb_fmt_bad(err, NB_ERR_FMT_MALFORMED, "SenML CBOR: field has the wrong major type");
}

/* The label of a map key: an integer label, "vlo", or OTHER (after the must-understand check). */
static nb_err nb_senml_cbor_label(const nb_cbor_item *k, int *label, nb_format_error *err) {
  if (k->kind == NB_CBOR_UINT) {
    *label = k->u <= 8 ? (int)k->u : NB_SENML_OTHER;
  } else if (k->kind == NB_CBOR_NEGINT) {
    *label = k->u < 6 ? -(int)k->u - 1 : NB_SENML_OTHER;
  } else if (k->kind == NB_CBOR_TEXT) {
    if (k->len == 3 && !memcmp(k->data, "vlo", 3))
      *label = NB_SENML_VLO;
    else if (nb_senml_must_understand((const char *)k->data, k->len)) {
      return nb_fmt_bad(err, NB_ERR_FMT_UNSUPPORTED, "SenML CBOR: unknown must-understand field");
    } else
      *label = NB_SENML_OTHER;
  } else {
    return nb_fmt_bad(err, NB_ERR_FMT_MALFORMED, "SenML CBOR: map key is not a label");
  }
  return NB_OK;
}

static nb_err nb_senml_cbor_text(const nb_cbor_item *v, const char **s, size_t *len,
                                 nb_format_error *err) {
  if (v->kind != NB_CBOR_TEXT) return nb_senml_cbor_type(err);
  if (!nb_fmt_utf8_valid(v->data, v->len)) {
    return nb_fmt_bad(err, NB_ERR_FMT_MALFORMED, "SenML CBOR: text string is not valid UTF-8");
  }
  *s = (const char *)v->data;
  *len = v->len;
  return NB_OK;
}

static nb_err nb_senml_cbor_num(const nb_cbor_item *v, nb_fmt_num *n, nb_format_error *err) {
  if (v->kind == NB_CBOR_NEGINT && v->u > (uint64_t)INT64_MAX) {
    return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "SenML CBOR: negative integer out of range");
  }
  return nb_cbor_value_num(v, n) ? NB_OK : nb_senml_cbor_type(err);
}

/* One label/value pair into rec; the value's head is v (unknown fields are skipped whole). */
static nb_err nb_senml_cbor_field(nb_cbor_reader *r, nb_senml_rec *rec, int label,
                                  const nb_cbor_item *v, nb_format_error *err) {
  nb_err e = NB_OK;
  switch (label) {
    case NB_SENML_BN:
      if ((e = nb_senml_rec_field(rec, NB_SENML_F_BN, err)) != NB_OK) return e;
      return nb_senml_cbor_text(v, &rec->bn, &rec->bn_len, err);
    case NB_SENML_N:
      if ((e = nb_senml_rec_field(rec, NB_SENML_F_N, err)) != NB_OK) return e;
      return nb_senml_cbor_text(v, &rec->n, &rec->n_len, err);
    case NB_SENML_BT:
      if ((e = nb_senml_rec_field(rec, NB_SENML_F_BT, err)) != NB_OK) return e;
      return nb_senml_cbor_num(v, &rec->bt, err);
    case NB_SENML_BV:
      if ((e = nb_senml_rec_field(rec, NB_SENML_F_BV, err)) != NB_OK) return e;
      return nb_senml_cbor_num(v, &rec->bv, err);
    case NB_SENML_T:
      if ((e = nb_senml_rec_field(rec, NB_SENML_F_T, err)) != NB_OK) return e;
      return nb_senml_cbor_num(v, &rec->t, err);
    case NB_SENML_BVER:
      if ((e = nb_senml_rec_field(rec, NB_SENML_F_BVER, err)) != NB_OK) return e;
      if (v->kind != NB_CBOR_UINT) return nb_senml_cbor_type(err);
      if (v->u > 10)
        return nb_fmt_bad(err, NB_ERR_FMT_MALFORMED, "SenML CBOR: unsupported SenML version");
      return NB_OK;
    case NB_SENML_V:
      if ((e = nb_senml_rec_field(rec, NB_SENML_F_VALUE, err)) != NB_OK) return e;
      rec->kind = NB_SENML_NUM;
      return nb_senml_cbor_num(v, &rec->num, err);
    case NB_SENML_VB:
      if ((e = nb_senml_rec_field(rec, NB_SENML_F_VALUE, err)) != NB_OK) return e;
      if (v->kind != NB_CBOR_BOOL) return nb_senml_cbor_type(err);
      rec->kind = NB_SENML_BOOL;
      rec->b = v->b;
      return NB_OK;
    case NB_SENML_VS:
    case NB_SENML_VLO:
      if ((e = nb_senml_rec_field(rec, NB_SENML_F_VALUE, err)) != NB_OK) return e;
      rec->kind = label == NB_SENML_VS ? NB_SENML_STR : NB_SENML_OBJLNK;
      return nb_senml_cbor_text(v, &rec->str, &rec->str_len, err);
    case NB_SENML_VD:
      if ((e = nb_senml_rec_field(rec, NB_SENML_F_VALUE, err)) != NB_OK) return e;
      if (v->kind != NB_CBOR_BYTES) return nb_senml_cbor_type(err);
      rec->kind = NB_SENML_DATA;
      rec->str = (const char *)v->data;
      rec->str_len = v->len;
      return NB_OK;
    default:
      e = nb_cbor_skip(r, v, NB_SENML_CBOR_SKIP_DEPTH);
      return e == NB_OK ? NB_OK : nb_senml_cbor_malformed(err, e);
  }
}

/* Reads the head of the next element of a container; *end when an indefinite one closed. */
static nb_err nb_senml_cbor_elem(nb_cbor_reader *r, const nb_cbor_item *container, uint64_t k,
                                 nb_cbor_item *it, bool *end, nb_format_error *err) {
  *end = !container->indefinite && k >= container->u;
  if (*end) return NB_OK;
  nb_err e = nb_cbor_next(r, it);
  if (e != NB_OK) return nb_senml_cbor_malformed(err, e);
  if (it->kind == NB_CBOR_BREAK) {
    if (!container->indefinite) return nb_senml_cbor_malformed(err, NB_ERR_SYNTAX);
    *end = true;
  }
  return NB_OK;
}

static nb_err nb_senml_cbor_record(nb_cbor_reader *r, const nb_cbor_item *map, nb_senml_rec *rec,
                                   nb_format_error *err) {
  nb_senml_rec_init(rec);
  for (uint64_t k = 0;; k++) {
    nb_cbor_item key, val;
    bool end;
    nb_err e = nb_senml_cbor_elem(r, map, k, &key, &end, err);
    if (e != NB_OK || end) return e;
    int label = NB_SENML_OTHER;
    if ((e = nb_senml_cbor_label(&key, &label, err)) != NB_OK) return e;
    if ((e = nb_cbor_next(r, &val)) != NB_OK) return nb_senml_cbor_malformed(err, e);
    if (val.kind == NB_CBOR_BREAK) return nb_senml_cbor_malformed(err, NB_ERR_SYNTAX);
    if ((e = nb_senml_cbor_field(r, rec, label, &val, err)) != NB_OK) return e;
  }
}

static nb_err nb_senml_cbor_records(nb_fmt_dec *d, nb_cbor_reader *r) {
  nb_cbor_item top;
  nb_err e = nb_cbor_next(r, &top);
  if (e != NB_OK) return nb_senml_cbor_malformed(d->err, e);
  if (top.kind != NB_CBOR_ARRAY) {
    return nb_fmt_bad(d->err, NB_ERR_FMT_MALFORMED, "SenML CBOR: payload is not an array");
  }
  nb_senml_state s;
  nb_senml_state_init(&s, d);
  for (uint64_t k = 0;; k++) {
    nb_cbor_item map;
    bool end;
    if ((e = nb_senml_cbor_elem(r, &top, k, &map, &end, d->err)) != NB_OK) return e;
    if (end) break;
    if (map.kind != NB_CBOR_MAP) {
      return nb_fmt_bad(d->err, NB_ERR_FMT_MALFORMED, "SenML CBOR: record is not a map");
    }
    nb_senml_rec rec;
    if ((e = nb_senml_cbor_record(r, &map, &rec, d->err)) != NB_OK) return e;
    if ((e = nb_senml_apply(&s, &rec)) != NB_OK) return e;
  }
  if (r->pos != r->len) {
    return nb_fmt_bad(d->err, NB_ERR_FMT_MALFORMED, "SenML CBOR: bytes after the array");
  }
  return NB_OK;
}

nb_err nb_senml_cbor_decode(const uint8_t *buf, size_t len, const nb_format_opts *opts,
                            nb_records *out, nb_format_error *err) {
  nb_fmt_dec d;
  nb_fmt_dec_begin(&d, opts, out, err);
  if (len == 0) return nb_fmt_dec_finish(&d, NB_OK);
  nb_cbor_reader r;
  nb_cbor_reader_init(&r, buf, len);
  return nb_fmt_dec_finish(&d, nb_senml_cbor_records(&d, &r));
}

/* ---- writer ---- */

static nb_err nb_senml_cbor_value(nb_bytes *out, const nb_value *v) {
  char buf[12];
  nb_err e;
  switch (v->type) {
    case NB_VT_INT:
    case NB_VT_TIME:
      if ((e = nb_cbor_put_int(out, NB_SENML_V)) != NB_OK) return e;
      return nb_cbor_put_int(out, v->type == NB_VT_INT ? v->v.i : v->v.t);
    case NB_VT_UINT:
      if ((e = nb_cbor_put_int(out, NB_SENML_V)) != NB_OK) return e;
      return nb_cbor_put_uint(out, v->v.u);
    case NB_VT_FLOAT:
      if ((e = nb_cbor_put_int(out, NB_SENML_V)) != NB_OK) return e;
      return nb_cbor_put_float(out, v->v.f);
    case NB_VT_BOOL:
      if ((e = nb_cbor_put_int(out, NB_SENML_VB)) != NB_OK) return e;
      return nb_cbor_put_bool(out, v->v.b);
    case NB_VT_STRING:
    case NB_VT_CORELNK:
      if ((e = nb_cbor_put_int(out, NB_SENML_VS)) != NB_OK) return e;
      return nb_cbor_put_text(out, (const char *)v->v.bytes.data, v->v.bytes.len);
    case NB_VT_OPAQUE:
      if ((e = nb_cbor_put_int(out, NB_SENML_VD)) != NB_OK) return e;
      return nb_cbor_put_bytes(out, v->v.bytes.data, v->v.bytes.len);
    case NB_VT_OBJLNK: {
      if ((e = nb_cbor_put_text(out, "vlo", 3)) != NB_OK) return e;
      size_t n = nb_fmt_objlnk(v->v.lnk.obj, v->v.lnk.inst, buf);
      return nb_cbor_put_text(out, buf, n);
    }
    default:
      return NB_OK;
  }
}

/* Times go out as integers when integral, else as the shortest exact float. */
static nb_err nb_senml_cbor_time(nb_bytes *out, double t) {
  if (t == trunc(t) && t >= -9007199254740992.0 && t <= 9007199254740992.0) {
    return nb_cbor_put_int(out, (int64_t)t);
  }
  return nb_cbor_put_float(out, t);
}

static nb_err nb_senml_cbor_record_out(nb_bytes *out, const nb_senml_names *nm, const nb_record *r,
                                       bool first_record, double t) {
  char name[NB_PATH_STRLEN + 1];
  nb_senml_name(nm, &r->path, name);
  bool with_bn = first_record && nm->bn[0];
  bool with_n = name[0] || (!with_bn && r->value.type == NB_VT_NONE);
  bool with_t = !isnan(t);
  bool with_v = r->value.type != NB_VT_NONE;
  nb_err e = nb_cbor_put_map(out, (size_t)with_bn + with_n + with_t + with_v);
  if (e == NB_OK && with_bn && (e = nb_cbor_put_int(out, NB_SENML_BN)) == NB_OK) {
    e = nb_cbor_put_text(out, nm->bn, strlen(nm->bn));
  }
  if (e == NB_OK && with_n && (e = nb_cbor_put_int(out, NB_SENML_N)) == NB_OK) {
    e = nb_cbor_put_text(out, name, strlen(name));
  }
  if (e == NB_OK && with_t && (e = nb_cbor_put_int(out, NB_SENML_T)) == NB_OK) {
    e = nb_senml_cbor_time(out, t);
  }
  if (e == NB_OK) e = nb_senml_cbor_value(out, &r->value);
  return e;
}

nb_err nb_senml_cbor_encode(const nb_records *in, const nb_format_opts *opts, nb_bytes *out,
                            nb_format_error *err) {
  nb_err e = nb_senml_check_input(in, opts, true, err);
  if (e != NB_OK) return e;
  nb_senml_names nm;
  nb_senml_names_init(&nm, in, opts);
  size_t before = out->len;
  e = nb_cbor_put_array(out, in->len);
  for (size_t k = 0; k < in->len && e == NB_OK; k++) {
    double t = (opts && opts->times_in) ? opts->times_in[k] : NAN;
    e = nb_senml_cbor_record_out(out, &nm, &in->items[k], k == 0, t);
  }
  if (e == NB_OK) return NB_OK;
  out->len = before;
  return nb_fmt_nomem(err);
}
