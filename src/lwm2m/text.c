/* text/plain and octet-stream codecs. */
#include "lwm2m/text.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "coap/msg.h"
#include "lwm2m/fmtutil.h"

static nb_err nb_text_typed(const char *s, size_t len, nb_value_type type, nb_value *v,
                            nb_format_error *err) {
  int64_t i;
  uint64_t u;
  double d;
  uint16_t o, n;
  nb_err e;
  switch (type) {
    case NB_VT_INT:
    case NB_VT_TIME:
      if (nb_fmt_parse_i64(s, len, &i) != NB_OK) {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "text/plain: not a decimal integer in range");
      }
      *v = type == NB_VT_INT ? nb_value_int(i) : nb_value_time(i);
      return NB_OK;
    case NB_VT_UINT:
      if (nb_fmt_parse_u64(s, len, &u) != NB_OK) {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "text/plain: not an unsigned decimal integer");
      }
      *v = nb_value_uint(u);
      return NB_OK;
    case NB_VT_FLOAT:
      if (nb_fmt_parse_double(s, len, &d) != NB_OK) {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "text/plain: not a finite decimal number");
      }
      *v = nb_value_float(d);
      return NB_OK;
    case NB_VT_BOOL:
      if (len != 1 || (s[0] != '0' && s[0] != '1')) {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "text/plain: a boolean is \"0\" or \"1\"");
      }
      *v = nb_value_bool(s[0] == '1');
      return NB_OK;
    case NB_VT_OBJLNK:
      if (nb_fmt_parse_objlnk(s, len, &o, &n) != NB_OK) {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "text/plain: an objlnk is \"object:instance\"");
      }
      *v = nb_value_objlnk(o, n);
      return NB_OK;
    case NB_VT_OPAQUE:
      e = nb_fmt_b64_decode(s, len, false, v);
      if (e == NB_ERR_NOMEM) return nb_fmt_nomem(err);
      if (e != NB_OK)
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "text/plain: opaque value is not valid base64");
      return NB_OK;
    default:
      if (!nb_fmt_utf8_valid((const uint8_t *)s, len)) {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "text/plain: not valid UTF-8");
      }
      e = type == NB_VT_CORELNK ? nb_value_set_corelnk(v, s, len) : nb_value_set_string(v, s, len);
      return e == NB_OK ? NB_OK : nb_fmt_nomem(err);
  }
}

nb_err nb_text_decode(const uint8_t *buf, size_t len, const nb_format_opts *opts, nb_records *out,
                      nb_format_error *err) {
  nb_fmt_dec d;
  nb_fmt_dec_begin(&d, opts, out, err);
  const nb_resource_def *def;
  nb_err e =
      nb_fmt_single_target(&d, "text/plain carries one single-instance resource value", &def);
  if (e != NB_OK) return e;
  nb_value v = nb_value_none();
  e = nb_text_typed((const char *)buf, buf ? len : 0, def ? def->type : NB_VT_STRING, &v, err);
  if (e == NB_OK) e = nb_fmt_dec_add(&d, &d.base, &v, NAN);
  return nb_fmt_dec_finish(&d, e);
}

nb_err nb_text_format_value(const nb_value *v, nb_bytes *out) {
  char buf[NB_FMT_DOUBLE_LEN];
  size_t n;
  nb_err e;
  switch (v->type) {
    case NB_VT_INT:
      return nb_bytes_appendf(out, "%" PRId64, v->v.i);
    case NB_VT_TIME:
      return nb_bytes_appendf(out, "%" PRId64, v->v.t);
    case NB_VT_UINT:
      return nb_bytes_appendf(out, "%" PRIu64, v->v.u);
    case NB_VT_BOOL:
      return nb_bytes_append(out, v->v.b ? "1" : "0", 1);
    case NB_VT_FLOAT:
      if ((e = nb_fmt_double(v->v.f, false, buf, &n)) != NB_OK) return e;
      return nb_bytes_append(out, buf, n);
    case NB_VT_OBJLNK:
      n = nb_fmt_objlnk(v->v.lnk.obj, v->v.lnk.inst, buf);
      return nb_bytes_append(out, buf, n);
    case NB_VT_OPAQUE:
      return nb_fmt_b64_encode(out, v->v.bytes.data, v->v.bytes.len, false);
    case NB_VT_STRING:
    case NB_VT_CORELNK:
      if (!nb_fmt_utf8_valid(v->v.bytes.data, v->v.bytes.len)) return NB_ERR_INVAL;
      return nb_bytes_append(out, v->v.bytes.data, v->v.bytes.len);
    default:
      return NB_ERR_INVAL;
  }
}

nb_err nb_text_encode(const nb_records *in, const nb_format_opts *opts, nb_bytes *out,
                      nb_format_error *err) {
  const nb_record *rec;
  nb_err e = nb_fmt_single_record(in, opts, &rec, err);
  if (e != NB_OK) return e;
  size_t before = out->len;
  e = nb_text_format_value(&rec->value, out);
  if (e == NB_OK) return NB_OK;
  out->len = before;
  if (e == NB_ERR_NOMEM) return nb_fmt_nomem(err);
  if (e == NB_ERR_RANGE) {
    return nb_fmt_fail(err, NB_ERR_FMT_UNSUPPORTED, NB_COAP_NOT_ACCEPTABLE,
                       "text/plain cannot write NaN or infinity");
  }
  return nb_fmt_fail(err, NB_ERR_FMT_TYPE, NB_COAP_INTERNAL_SERVER_ERROR,
                     "text/plain: string value is not valid UTF-8");
}

nb_err nb_opaque_decode(const uint8_t *buf, size_t len, const nb_format_opts *opts, nb_records *out,
                        nb_format_error *err) {
  nb_fmt_dec d;
  nb_fmt_dec_begin(&d, opts, out, err);
  const nb_resource_def *def;
  nb_err e = nb_fmt_single_target(&d, "octet-stream carries one Opaque resource value", &def);
  if (e != NB_OK) return e;
  if (def && def->type != NB_VT_OPAQUE) {
    return nb_fmt_fail(err, NB_ERR_FMT_UNSUPPORTED, NB_COAP_UNSUPPORTED_CONTENT_FORMAT,
                       "octet-stream is only for Opaque resources");
  }
  nb_value v = nb_value_none();
  e = nb_value_set_opaque(&v, buf, buf ? len : 0);
  if (e != NB_OK)
    e = nb_fmt_nomem(err);
  else
    e = nb_fmt_dec_add(&d, &d.base, &v, NAN);
  return nb_fmt_dec_finish(&d, e);
}

nb_err nb_opaque_encode(const nb_records *in, const nb_format_opts *opts, nb_bytes *out,
                        nb_format_error *err) {
  const nb_record *rec;
  nb_err e = nb_fmt_single_record(in, opts, &rec, err);
  if (e != NB_OK) return e;
  if (rec->value.type != NB_VT_OPAQUE) {
    return nb_fmt_fail(err, NB_ERR_FMT_UNSUPPORTED, NB_COAP_NOT_ACCEPTABLE,
                       "octet-stream is only for Opaque values");
  }
  e = nb_bytes_append(out, rec->value.v.bytes.data, rec->value.v.bytes.len);
  return e == NB_OK ? NB_OK : nb_fmt_nomem(err);
}
