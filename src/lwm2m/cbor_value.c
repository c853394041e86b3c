/* Plain CBOR single-value codec. */
#include "lwm2m/cbor_value.h"

#include <math.h>

#include "coap/msg.h"
#include "lwm2m/cbor_io.h"
#include "lwm2m/fmtutil.h"

static nb_err nb_cbor_value_bad(nb_format_error *err, const char *reason) {
  return nb_fmt_bad(err, NB_ERR_FMT_TYPE, reason);
}

bool nb_cbor_value_num(const nb_cbor_item *it, nb_fmt_num *n) {
  switch (it->kind) {
    case NB_CBOR_UINT:
      if (it->u <= (uint64_t)INT64_MAX)
        n->kind = NB_NUM_INT, n->i = (int64_t)it->u;
      else
        n->kind = NB_NUM_UINT, n->u = it->u;
      return true;
    case NB_CBOR_NEGINT:
      if (it->u > (uint64_t)INT64_MAX) return false;
      n->kind = NB_NUM_INT;
      n->i = -(int64_t)it->u - 1;
      return true;
    case NB_CBOR_FLOAT:
      n->kind = NB_NUM_REAL;
      n->d = it->d;
      return true;
    default:
      return false;
  }
}

nb_err nb_cbor_value_item(const nb_cbor_item *it, bool time_tag, nb_value_type type, nb_value *v,
                          nb_format_error *err) {
  nb_fmt_num n;
  bool is_num = nb_cbor_value_num(it, &n);
  if (time_tag) {
    if (type != NB_VT_NONE && type != NB_VT_TIME)
      return nb_cbor_value_bad(err, "CBOR: tag 1 is only for Time resources");
    if (!is_num) return nb_cbor_value_bad(err, "CBOR: tag 1 must hold a number");
    return nb_fmt_num_value(&n, NB_VT_TIME, v, err);
  }
  if (it->kind == NB_CBOR_NEGINT && !is_num) {
    return nb_cbor_value_bad(err, "CBOR: negative integer below the Integer range");
  }
  nb_err e = NB_OK;
  switch (type) {
    case NB_VT_NONE:
    case NB_VT_INT:
    case NB_VT_UINT:
    case NB_VT_FLOAT:
    case NB_VT_TIME:
      if (is_num) return nb_fmt_num_value(&n, type, v, err);
      if (type != NB_VT_NONE)
        return nb_cbor_value_bad(err, "CBOR: a numeric resource needs a number");
      if (it->kind == NB_CBOR_BOOL)
        *v = nb_value_bool(it->b);
      else if (it->kind == NB_CBOR_TEXT)
        return nb_cbor_value_item(it, false, NB_VT_STRING, v, err);
      else if (it->kind == NB_CBOR_BYTES)
        return nb_cbor_value_item(it, false, NB_VT_OPAQUE, v, err);
      else
        return nb_cbor_value_bad(err, "CBOR: item is not a resource value");
      return NB_OK;
    case NB_VT_BOOL:
      if (it->kind != NB_CBOR_BOOL)
        return nb_cbor_value_bad(err, "CBOR: a Boolean resource needs true or false");
      *v = nb_value_bool(it->b);
      return NB_OK;
    case NB_VT_OPAQUE:
      if (it->kind != NB_CBOR_BYTES)
        return nb_cbor_value_bad(err, "CBOR: an Opaque resource needs a byte string");
      e = nb_value_set_opaque(v, it->data, it->len);
      break;
    case NB_VT_OBJLNK: {
      uint16_t o, i;
      if (it->kind != NB_CBOR_TEXT ||
          nb_fmt_parse_objlnk((const char *)it->data, it->len, &o, &i) != NB_OK) {
        return nb_cbor_value_bad(err, "CBOR: an Objlnk resource needs a text \"o:i\"");
      }
      *v = nb_value_objlnk(o, i);
      return NB_OK;
    }
    default: /* STRING, CORELNK */
      if (it->kind != NB_CBOR_TEXT)
        return nb_cbor_value_bad(err, "CBOR: a String resource needs a text string");
      if (!nb_fmt_utf8_valid(it->data, it->len))
        return nb_cbor_value_bad(err, "CBOR: text string is not valid UTF-8");
      e = type == NB_VT_CORELNK ? nb_value_set_corelnk(v, (const char *)it->data, it->len)
                                : nb_value_set_string(v, (const char *)it->data, it->len);
      break;
  }
  return e == NB_OK ? NB_OK : nb_fmt_nomem(err);
}

static nb_err nb_cbor_value_read(const uint8_t *buf, size_t len, nb_value_type type, nb_value *v,
                                 nb_format_error *err) {
  nb_cbor_reader r;
  nb_cbor_reader_init(&r, buf, len);
  nb_cbor_item it;
  nb_err e = nb_cbor_next(&r, &it);
  bool time_tag = false;
  if (e == NB_OK && it.kind == NB_CBOR_TAG) {
    if (it.u != 1) return nb_cbor_value_bad(err, "CBOR: only tag 1 (epoch time) is understood");
    time_tag = true;
    e = nb_cbor_next(&r, &it);
  }
  if (e == NB_ERR_TRUNCATED)
    return nb_fmt_bad(err, NB_ERR_FMT_MALFORMED, "CBOR: payload ends inside an item");
  if (e != NB_OK) return nb_fmt_bad(err, NB_ERR_FMT_MALFORMED, "CBOR: malformed item");
  e = nb_cbor_value_item(&it, time_tag, type, v, err);
  if (e == NB_OK && r.pos != r.len) {
    nb_value_deinit(v);
    return nb_fmt_bad(err, NB_ERR_FMT_MALFORMED, "CBOR: bytes after the value");
  }
  return e;
}

nb_err nb_cbor_value_decode(const uint8_t *buf, size_t len, const nb_format_opts *opts,
                            nb_records *out, nb_format_error *err) {
  nb_fmt_dec d;
  nb_fmt_dec_begin(&d, opts, out, err);
  const nb_resource_def *def;
  nb_err e = nb_fmt_single_target(&d, "CBOR carries one single-instance resource value", &def);
  if (e != NB_OK) return e;
  nb_value v = nb_value_none();
  e = nb_cbor_value_read(buf, len, def ? def->type : NB_VT_NONE, &v, err);
  if (e == NB_OK) e = nb_fmt_dec_add(&d, &d.base, &v, NAN);
  return nb_fmt_dec_finish(&d, e);
}

nb_err nb_cbor_value_put(nb_bytes *out, const nb_value *v) {
  char buf[12];
  nb_err e;
  switch (v->type) {
    case NB_VT_INT:
      return nb_cbor_put_int(out, v->v.i);
    case NB_VT_UINT:
      return nb_cbor_put_uint(out, v->v.u);
    case NB_VT_FLOAT:
      return nb_cbor_put_float(out, v->v.f);
    case NB_VT_BOOL:
      return nb_cbor_put_bool(out, v->v.b);
    case NB_VT_TIME:
      if ((e = nb_cbor_put_tag(out, 1)) != NB_OK) return e;
      return nb_cbor_put_int(out, v->v.t);
    case NB_VT_OBJLNK: {
      size_t n = nb_fmt_objlnk(v->v.lnk.obj, v->v.lnk.inst, buf);
      return nb_cbor_put_text(out, buf, n);
    }
    case NB_VT_OPAQUE:
      return nb_cbor_put_bytes(out, v->v.bytes.data, v->v.bytes.len);
    case NB_VT_STRING:
    case NB_VT_CORELNK:
      if (!nb_fmt_utf8_valid(v->v.bytes.data, v->v.bytes.len)) return NB_ERR_INVAL;
      return nb_cbor_put_text(out, (const char *)v->v.bytes.data, v->v.bytes.len);
    default:
      return NB_ERR_INVAL;
  }
}

nb_err nb_cbor_value_encode(const nb_records *in, const nb_format_opts *opts, nb_bytes *out,
                            nb_format_error *err) {
  const nb_record *rec;
  nb_err e = nb_fmt_single_record(in, opts, &rec, err);
  if (e != NB_OK) return e;
  size_t before = out->len;
  e = nb_cbor_value_put(out, &rec->value);
  if (e == NB_OK) return NB_OK;
  out->len = before;
  if (e == NB_ERR_NOMEM) return nb_fmt_nomem(err);
  return nb_fmt_fail(err, NB_ERR_FMT_TYPE, NB_COAP_INTERNAL_SERVER_ERROR,
                     "CBOR: string value is not valid UTF-8");
}
