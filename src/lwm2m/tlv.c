/* LwM2M TLV codec. */
#include "lwm2m/tlv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coap/msg.h"
#include "lwm2m/fmtutil.h"

/* ---- reading ---- */

nb_err nb_tlv_read(nb_reader *r, nb_tlv *out) {
  uint8_t type;
  if (nb_reader_u8(r, &type) != NB_OK) return NB_ERR_TRUNCATED;
  out->type = (nb_tlv_type)(type >> 6);
  uint64_t id, len;
  if (nb_reader_uint_be(r, (type & 0x20) ? 2 : 1, &id) != NB_OK) return NB_ERR_TRUNCATED;
  size_t len_size = (type >> 3) & 3;
  if (len_size == 0) {
    len = type & 7;
  } else if (nb_reader_uint_be(r, len_size, &len) != NB_OK) {
    return NB_ERR_TRUNCATED;
  }
  out->id = (uint16_t)id;
  out->len = (size_t)len;
  return nb_reader_view(r, out->len, &out->value);
}

/* ---- decoding ---- */

static int64_t nb_tlv_signed(uint64_t u, size_t len) {
  if (len < 8 && (u >> (8 * len - 1)) & 1) u |= ~(uint64_t)0 << (8 * len);
  return u > (uint64_t)INT64_MAX ? -(int64_t)(~u) - 1 : (int64_t)u;
}

static bool nb_tlv_int_width(size_t len) { return len == 1 || len == 2 || len == 4 || len == 8; }

static uint64_t nb_tlv_be(const uint8_t *p, size_t len) {
  uint64_t v = 0;
  for (size_t k = 0; k < len; k++) v = (v << 8) | p[k];
  return v;
}

/* Types the bytes of a resource (instance) value with its definition. */
static nb_err nb_tlv_value(const nb_resource_def *def, const uint8_t *p, size_t len, nb_value *out,
                           nb_format_error *err) {
  nb_value_type type = def ? def->type : NB_VT_OPAQUE;
  nb_err e = NB_OK;
  switch (type) {
    case NB_VT_INT:
    case NB_VT_TIME:
    case NB_VT_UINT:
      if (!nb_tlv_int_width(len)) {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "TLV: integer value must be 1, 2, 4 or 8 bytes");
      }
      if (type == NB_VT_UINT)
        *out = nb_value_uint(nb_tlv_be(p, len));
      else if (type == NB_VT_INT)
        *out = nb_value_int(nb_tlv_signed(nb_tlv_be(p, len), len));
      else
        *out = nb_value_time(nb_tlv_signed(nb_tlv_be(p, len), len));
      return NB_OK;
    case NB_VT_FLOAT:
      if (len == 4) {
        uint32_t bits = (uint32_t)nb_tlv_be(p, 4);
        float f;
        memcpy(&f, &bits, sizeof f);
        *out = nb_value_float(f);
      } else if (len == 8) {
        uint64_t bits = nb_tlv_be(p, 8);
        double d;
        memcpy(&d, &bits, sizeof d);
        *out = nb_value_float(d);
      } else {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "TLV: float value must be 4 or 8 bytes");
      }
      return NB_OK;
    case NB_VT_BOOL:
      if (len != 1 || p[0] > 1) {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "TLV: boolean value must be one byte 0 or 1");
      }
      *out = nb_value_bool(p[0] == 1);
      return NB_OK;
    case NB_VT_OBJLNK:
      if (len != 4) return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "TLV: objlnk value must be 4 bytes");
      *out = nb_value_objlnk((uint16_t)nb_tlv_be(p, 2), (uint16_t)nb_tlv_be(p + 2, 2));
      return NB_OK;
    case NB_VT_STRING:
    case NB_VT_CORELNK:
      if (!nb_fmt_utf8_valid(p, len)) {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "TLV: string value is not valid UTF-8");
      }
      e = type == NB_VT_STRING ? nb_value_set_string(out, (const char *)p, len)
                               : nb_value_set_corelnk(out, (const char *)p, len);
      break;
    default:
      e = nb_value_set_opaque(out, p, len);
      break;
  }
  return e == NB_OK ? NB_OK : nb_fmt_nomem(err);
}

static nb_err nb_tlv_truncated(nb_format_error *err) {
  return nb_fmt_bad(err, NB_ERR_FMT_MALFORMED, "TLV: length runs past the end of its container");
}

static nb_err nb_tlv_add_value(nb_fmt_dec *d, const nb_path *p, const nb_tlv *t) {
  nb_value v = nb_value_none();
  nb_err e = nb_tlv_value(nb_fmt_def(d->model, p), t->value, t->len, &v, d->err);
  if (e != NB_OK) return e;
  return nb_fmt_dec_add(d, p, &v, NAN);
}

static nb_err nb_tlv_add_marker(nb_fmt_dec *d, const nb_path *p) {
  nb_value v = nb_value_none();
  return nb_fmt_dec_add(d, p, &v, NAN);
}

/* Children of a multiple resource: resource instances only. */
static nb_err nb_tlv_decode_multiple(nb_fmt_dec *d, const nb_path *res, const nb_tlv *t) {
  if (t->len == 0) return nb_tlv_add_marker(d, res);
  nb_reader r;
  nb_reader_init(&r, t->value, t->len);
  while (nb_reader_remaining(&r) > 0) {
    nb_tlv c;
    if (nb_tlv_read(&r, &c) != NB_OK) return nb_tlv_truncated(d->err);
    if (c.type != NB_TLV_RESOURCE_INSTANCE) {
      return nb_fmt_bad(d->err, NB_ERR_FMT_MALFORMED,
                        "TLV: a multiple resource may contain only resource instances");
    }
    nb_path p = *res;
    p.ids[p.len++] = c.id;
    nb_err e = nb_tlv_add_value(d, &p, &c);
    if (e != NB_OK) return e;
  }
  return NB_OK;
}

/* A resource TLV (single value) or multiple resource TLV at path res. */
static nb_err nb_tlv_decode_resource(nb_fmt_dec *d, const nb_path *res, const nb_tlv *t) {
  if (t->type == NB_TLV_MULTIPLE_RESOURCE) return nb_tlv_decode_multiple(d, res, t);
  return nb_tlv_add_value(d, res, t);
}

/* Children of an object instance: resources and multiple resources only. */
static nb_err nb_tlv_decode_instance(nb_fmt_dec *d, const nb_path *inst, const nb_tlv *t) {
  /* Under /o/i itself an empty instance TLV says no more than an empty payload. */
  if (t->len == 0) return d->base.len < 2 ? nb_tlv_add_marker(d, inst) : NB_OK;
  nb_reader r;
  nb_reader_init(&r, t->value, t->len);
  while (nb_reader_remaining(&r) > 0) {
    nb_tlv c;
    if (nb_tlv_read(&r, &c) != NB_OK) return nb_tlv_truncated(d->err);
    if (c.type != NB_TLV_RESOURCE && c.type != NB_TLV_MULTIPLE_RESOURCE) {
      return nb_fmt_bad(d->err, NB_ERR_FMT_MALFORMED,
                        "TLV: an object instance may contain only resources");
    }
    nb_path p = *inst;
    p.ids[p.len++] = c.id;
    nb_err e = nb_tlv_decode_resource(d, &p, &c);
    if (e != NB_OK) return e;
  }
  return NB_OK;
}

/* Where a top-level TLV of this type and id lands under base: the path of the TLV, or an error
 * when the type does not fit the request path or the id contradicts it. */
static nb_err nb_tlv_top_path(const nb_path *base, const nb_tlv *t, nb_path *out,
                              nb_format_error *err) {
  uint8_t own_level; /* the path length this TLV type addresses */
  switch (t->type) {
    case NB_TLV_OBJECT_INSTANCE:
      own_level = 2;
      break;
    case NB_TLV_RESOURCE:
    case NB_TLV_MULTIPLE_RESOURCE:
      own_level = 3;
      break;
    default:
      own_level = 4;
      break;
  }
  if (t->id > NB_ID_MAX)
    return nb_fmt_bad(err, NB_ERR_FMT_PATH, "TLV: identifier 65535 is reserved");
  *out = *base;
  if (base->len + 1 == own_level) {
    out->ids[out->len++] = t->id;
    return NB_OK;
  }
  if (base->len == own_level) {
    if (base->ids[own_level - 1] != t->id) {
      return nb_fmt_bad(err, NB_ERR_FMT_PATH, "TLV: identifier does not match the request path");
    }
    return NB_OK;
  }
  return nb_fmt_bad(err, NB_ERR_FMT_PATH, "TLV: identifier type does not fit the request path");
}

static nb_err nb_tlv_decode_top(nb_fmt_dec *d, const uint8_t *buf, size_t len) {
  if (d->base.len == 0) {
    return nb_fmt_fail(d->err, NB_ERR_FMT_UNSUPPORTED, NB_COAP_UNSUPPORTED_CONTENT_FORMAT,
                       "TLV: the request path must name at least an object");
  }
  nb_reader r;
  nb_reader_init(&r, buf, len);
  while (nb_reader_remaining(&r) > 0) {
    nb_tlv t;
    if (nb_tlv_read(&r, &t) != NB_OK) return nb_tlv_truncated(d->err);
    nb_path p;
    nb_err e = nb_tlv_top_path(&d->base, &t, &p, d->err);
    if (e != NB_OK) return e;
    switch (t.type) {
      case NB_TLV_OBJECT_INSTANCE:
        e = nb_tlv_decode_instance(d, &p, &t);
        break;
      case NB_TLV_RESOURCE:
      case NB_TLV_MULTIPLE_RESOURCE:
        e = nb_tlv_decode_resource(d, &p, &t);
        break;
      default:
        e = nb_tlv_add_value(d, &p, &t);
        break;
    }
    if (e != NB_OK) return e;
  }
  return NB_OK;
}

nb_err nb_tlv_decode(const uint8_t *buf, size_t len, const nb_format_opts *opts, nb_records *out,
                     nb_format_error *err) {
  nb_fmt_dec d;
  nb_fmt_dec_begin(&d, opts, out, err);
  if (d.flags & NB_FORMAT_PATHS_ONLY) {
    return nb_fmt_fail(err, NB_ERR_FMT_UNSUPPORTED, NB_COAP_UNSUPPORTED_CONTENT_FORMAT,
                       "TLV cannot carry a list of paths");
  }
  return nb_fmt_dec_finish(&d, nb_tlv_decode_top(&d, buf, len));
}

/* ---- encoding ---- */

/* The value bytes of a scalar live in buf; strings and opaque point at the value. */
typedef struct {
  uint8_t buf[8];
  const uint8_t *data;
  size_t len;
} nb_tlv_bytes;

static size_t nb_tlv_int_size(int64_t v) {
  if (v >= INT8_MIN && v <= INT8_MAX) return 1;
  if (v >= INT16_MIN && v <= INT16_MAX) return 2;
  if (v >= INT32_MIN && v <= INT32_MAX) return 4;
  return 8;
}

static size_t nb_tlv_uint_size(uint64_t v) {
  if (v <= UINT8_MAX) return 1;
  if (v <= UINT16_MAX) return 2;
  if (v <= UINT32_MAX) return 4;
  return 8;
}

static void nb_tlv_put_be(uint8_t *p, uint64_t v, size_t len) {
  for (size_t k = len; k > 0; k--) {
    p[k - 1] = (uint8_t)v;
    v >>= 8;
  }
}

static void nb_tlv_value_bytes(const nb_value *v, nb_tlv_bytes *o) {
  o->data = o->buf;
  switch (v->type) {
    case NB_VT_INT:
    case NB_VT_TIME: {
      int64_t i = v->type == NB_VT_INT ? v->v.i : v->v.t;
      o->len = nb_tlv_int_size(i);
      nb_tlv_put_be(o->buf, (uint64_t)i, o->len);
      break;
    }
    case NB_VT_UINT:
      o->len = nb_tlv_uint_size(v->v.u);
      nb_tlv_put_be(o->buf, v->v.u, o->len);
      break;
    case NB_VT_FLOAT: {
      float f = (float)v->v.f;
      if ((double)f == v->v.f || v->v.f != v->v.f) { /* exact, or NaN */
        uint32_t bits;
        memcpy(&bits, &f, sizeof bits);
        o->len = 4;
        nb_tlv_put_be(o->buf, bits, 4);
      } else {
        uint64_t bits;
        memcpy(&bits, &v->v.f, sizeof bits);
        o->len = 8;
        nb_tlv_put_be(o->buf, bits, 8);
      }
      break;
    }
    case NB_VT_BOOL:
      o->buf[0] = v->v.b ? 1 : 0;
      o->len = 1;
      break;
    case NB_VT_OBJLNK:
      nb_tlv_put_be(o->buf, v->v.lnk.obj, 2);
      nb_tlv_put_be(o->buf + 2, v->v.lnk.inst, 2);
      o->len = 4;
      break;
    case NB_VT_STRING:
    case NB_VT_OPAQUE:
    case NB_VT_CORELNK:
      o->data = v->v.bytes.data;
      o->len = v->v.bytes.len;
      break;
    default:
      o->len = 0;
      break;
  }
}

static size_t nb_tlv_header_size(uint16_t id, size_t len) {
  size_t n = 1 + (id > 0xff ? 2 : 1);
  if (len >= 8) n += len <= 0xff ? 1 : len <= 0xffff ? 2 : 3;
  return n;
}

static void nb_tlv_put_header(nb_bytes *out, nb_tlv_type type, uint16_t id, size_t len) {
  uint8_t *p = out->data + out->len;
  size_t n = 0;
  uint8_t t = (uint8_t)(type << 6);
  if (id > 0xff) t |= 0x20;
  size_t len_size = len < 8 ? 0 : len <= 0xff ? 1 : len <= 0xffff ? 2 : 3;
  t |= (uint8_t)(len_size << 3);
  if (len_size == 0) t |= (uint8_t)len;
  p[n++] = t;
  if (id > 0xff) p[n++] = (uint8_t)(id >> 8);
  p[n++] = (uint8_t)id;
  nb_tlv_put_be(p + n, len, len_size);
  out->len += n + len_size;
}

/* Sorted records of one encode call. */
typedef struct {
  const nb_record **recs;
  size_t n;
  nb_bytes *out;
} nb_tlv_enc;

/* End of the run of records in [lo, limit) whose ids[level] equals recs[lo]'s (the caller's range
 * already shares every id above level; all records there have len > level). */
static size_t nb_tlv_group_end(const nb_tlv_enc *e, size_t lo, size_t limit, uint8_t level) {
  size_t hi = lo + 1;
  uint16_t id = e->recs[lo]->path.ids[level];
  while (hi < limit && e->recs[hi]->path.len > level && e->recs[hi]->path.ids[level] == id) hi++;
  return hi;
}

/* Records [lo, hi) are one resource /o/i/r: a single value, or instances and/or a marker. */
static bool nb_tlv_is_single(const nb_tlv_enc *e, size_t lo, size_t hi) {
  return hi == lo + 1 && e->recs[lo]->path.len == 3 && e->recs[lo]->value.type != NB_VT_NONE;
}

static size_t nb_tlv_value_tlv_size(uint16_t id, const nb_value *v) {
  nb_tlv_bytes b;
  nb_tlv_value_bytes(v, &b);
  return nb_tlv_header_size(id, b.len) + b.len;
}

static size_t nb_tlv_multiple_content(const nb_tlv_enc *e, size_t lo, size_t hi) {
  size_t n = 0;
  for (size_t k = lo; k < hi; k++) {
    const nb_record *r = e->recs[k];
    if (r->path.len == 4) n += nb_tlv_value_tlv_size(r->path.ids[3], &r->value);
  }
  return n;
}

static size_t nb_tlv_resource_size(const nb_tlv_enc *e, size_t lo, size_t hi) {
  uint16_t id = e->recs[lo]->path.ids[2];
  if (nb_tlv_is_single(e, lo, hi)) return nb_tlv_value_tlv_size(id, &e->recs[lo]->value);
  size_t content = nb_tlv_multiple_content(e, lo, hi);
  return nb_tlv_header_size(id, content) + content;
}

/* Size of the resources among [lo, hi) (records of one instance; markers at /o/i skipped). */
static size_t nb_tlv_resources_content(const nb_tlv_enc *e, size_t lo, size_t hi) {
  size_t n = 0;
  while (lo < hi) {
    if (e->recs[lo]->path.len < 3) {
      lo++;
      continue;
    }
    size_t end = nb_tlv_group_end(e, lo, hi, 2);
    n += nb_tlv_resource_size(e, lo, end);
    lo = end;
  }
  return n;
}

static void nb_tlv_put_value(nb_bytes *out, nb_tlv_type type, uint16_t id, const nb_value *v) {
  nb_tlv_bytes b;
  nb_tlv_value_bytes(v, &b);
  nb_tlv_put_header(out, type, id, b.len);
  if (b.len) memcpy(out->data + out->len, b.data, b.len);
  out->len += b.len;
}

static void nb_tlv_put_resource(const nb_tlv_enc *e, size_t lo, size_t hi) {
  uint16_t id = e->recs[lo]->path.ids[2];
  if (nb_tlv_is_single(e, lo, hi)) {
    nb_tlv_put_value(e->out, NB_TLV_RESOURCE, id, &e->recs[lo]->value);
    return;
  }
  nb_tlv_put_header(e->out, NB_TLV_MULTIPLE_RESOURCE, id, nb_tlv_multiple_content(e, lo, hi));
  for (size_t k = lo; k < hi; k++) {
    const nb_record *r = e->recs[k];
    if (r->path.len == 4)
      nb_tlv_put_value(e->out, NB_TLV_RESOURCE_INSTANCE, r->path.ids[3], &r->value);
  }
}

static void nb_tlv_put_resources(const nb_tlv_enc *e, size_t lo, size_t hi) {
  while (lo < hi) {
    if (e->recs[lo]->path.len < 3) {
      lo++;
      continue;
    }
    size_t end = nb_tlv_group_end(e, lo, hi, 2);
    nb_tlv_put_resource(e, lo, end);
    lo = end;
  }
}

static void nb_tlv_put_instances(const nb_tlv_enc *e) {
  size_t lo = 0;
  while (lo < e->n) {
    size_t end = nb_tlv_group_end(e, lo, e->n, 1);
    nb_tlv_put_header(e->out, NB_TLV_OBJECT_INSTANCE, e->recs[lo]->path.ids[1],
                      nb_tlv_resources_content(e, lo, end));
    nb_tlv_put_resources(e, lo, end);
    lo = end;
  }
}

static size_t nb_tlv_total_size(const nb_tlv_enc *e, uint8_t base_len) {
  if (base_len == 1) {
    size_t n = 0, lo = 0;
    while (lo < e->n) {
      size_t end = nb_tlv_group_end(e, lo, e->n, 1);
      size_t content = nb_tlv_resources_content(e, lo, end);
      n += nb_tlv_header_size(e->recs[lo]->path.ids[1], content) + content;
      lo = end;
    }
    return n;
  }
  if (base_len == 4) return nb_tlv_value_tlv_size(e->recs[0]->path.ids[3], &e->recs[0]->value);
  return nb_tlv_resources_content(e, 0, e->n);
}

static int nb_tlv_rec_cmp(const void *a, const void *b) {
  const nb_record *ra = *(const nb_record *const *)a, *rb = *(const nb_record *const *)b;
  int c = nb_path_compare(&ra->path, &rb->path);
  if (c != 0) return c;
  return (ra > rb) - (ra < rb);
}

/* What the encoder refuses: records it cannot place under base, values it cannot write. */
static nb_err nb_tlv_check_input(const nb_records *in, const nb_path *base, nb_format_error *err) {
  for (size_t k = 0; k < in->len; k++) {
    const nb_record *r = &in->items[k];
    const nb_value *v = &r->value;
    bool none = v->type == NB_VT_NONE;
    if (!nb_path_is_valid(&r->path) || !nb_path_is_prefix(base, &r->path) || r->path.len < 2 ||
        (r->path.len == 2 && !none) || (r->path.len == 4 && none)) {
      return nb_fmt_fail(err, NB_ERR_FMT_PATH, NB_COAP_INTERNAL_SERVER_ERROR,
                         "TLV: record path outside the request path or not a resource");
    }
    if (base->len == 4 && in->len != 1) {
      return nb_fmt_fail(err, NB_ERR_FMT_UNSUPPORTED, NB_COAP_NOT_ACCEPTABLE,
                         "TLV: a resource instance path carries exactly one value");
    }
    if ((v->type == NB_VT_STRING || v->type == NB_VT_CORELNK) &&
        !nb_fmt_utf8_valid(v->v.bytes.data, v->v.bytes.len)) {
      return nb_fmt_fail(err, NB_ERR_FMT_TYPE, NB_COAP_INTERNAL_SERVER_ERROR,
                         "TLV: string value is not valid UTF-8");
    }
    size_t len = (v->type == NB_VT_STRING || v->type == NB_VT_OPAQUE || v->type == NB_VT_CORELNK)
                     ? v->v.bytes.len
                     : 0;
    if (len > NB_TLV_MAX_LEN) {
      return nb_fmt_fail(err, NB_ERR_FMT_UNSUPPORTED, NB_COAP_NOT_ACCEPTABLE,
                         "TLV: value longer than a 24-bit length");
    }
  }
  return NB_OK;
}

nb_err nb_tlv_encode(const nb_records *in, const nb_format_opts *opts, nb_bytes *out,
                     nb_format_error *err) {
  nb_path base = (opts && opts->base) ? *opts->base : nb_path_root();
  if (base.len == 0) {
    return nb_fmt_fail(err, NB_ERR_FMT_UNSUPPORTED, NB_COAP_NOT_ACCEPTABLE,
                       "TLV cannot encode records under the root path");
  }
  nb_err e = nb_tlv_check_input(in, &base, err);
  if (e != NB_OK || in->len == 0) return e;
  /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
  const nb_record **recs = malloc(in->len * sizeof *recs);
  if (!recs) return nb_fmt_nomem(err);
  nb_tlv_enc enc = {recs, in->len, out};
  for (size_t k = 0; k < in->len; k++) enc.recs[k] = &in->items[k];
  /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
  qsort(enc.recs, enc.n, sizeof *enc.recs, nb_tlv_rec_cmp);
  for (size_t k = 1; k < enc.n; k++) {
    if (nb_path_is_prefix(&enc.recs[k - 1]->path, &enc.recs[k]->path)) {
      free(enc.recs);
      return nb_fmt_fail(err, NB_ERR_FMT_DUPLICATE, NB_COAP_INTERNAL_SERVER_ERROR,
                         "TLV: duplicate or overlapping record paths");
    }
  }
  size_t total = nb_tlv_total_size(&enc, base.len);
  /* Container lengths are checked here once: a content above 24 bits cannot be framed. */
  if (total > NB_TLV_MAX_LEN + (size_t)5) {
    free(enc.recs);
    return nb_fmt_fail(err, NB_ERR_FMT_UNSUPPORTED, NB_COAP_NOT_ACCEPTABLE,
                       "TLV: payload too large for 24-bit lengths");
  }
  e = nb_bytes_reserve(out, total);
  if (e == NB_OK) {
    size_t before = out->len;
    if (base.len == 1)
      nb_tlv_put_instances(&enc);
    else if (base.len == 4)
      nb_tlv_put_value(out, NB_TLV_RESOURCE_INSTANCE, base.ids[3], &enc.recs[0]->value);
    else
      nb_tlv_put_resources(&enc, 0, enc.n);
    if (out->len - before != total) e = NB_ERR_INVAL; /* cannot happen: sizes and writes agree */
    out->data[out->len] = 0;
  }
  free(enc.recs);
  if (e == NB_ERR_NOMEM) return nb_fmt_nomem(err);
  if (e != NB_OK) return nb_fmt_fail(err, e, NB_COAP_INTERNAL_SERVER_ERROR, "TLV: internal error");
  return NB_OK;
}
