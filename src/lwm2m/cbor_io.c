/* CBOR item reader (libcbor streaming decoder) and writer (libcbor encoders); a build without
 * libcbor (NB_CFG_LIBCBOR 0) reads and writes the item heads with cbor_head.c instead. */
#include "lwm2m/cbor_io.h"

#include <math.h>
#include <string.h>

#include "lwm2m/cbor_head.h"
#include "niobium/config.h"

#if NB_CFG_LIBCBOR
#include <cbor.h>

/* ---- reader: each libcbor callback fills the item the context points at ---- */

static nb_cbor_item *nb_cbor_ctx(void *ctx) { return ctx; }

static void nb_cbor_set_int(void *c, nb_cbor_kind kind, uint64_t v) {
  nb_cbor_ctx(c)->kind = kind;
  nb_cbor_ctx(c)->u = v;
}
static void nb_cbor_on_uint8(void *c, uint8_t v) { nb_cbor_set_int(c, NB_CBOR_UINT, v); }
static void nb_cbor_on_uint16(void *c, uint16_t v) { nb_cbor_set_int(c, NB_CBOR_UINT, v); }
static void nb_cbor_on_uint32(void *c, uint32_t v) { nb_cbor_set_int(c, NB_CBOR_UINT, v); }
static void nb_cbor_on_uint64(void *c, uint64_t v) { nb_cbor_set_int(c, NB_CBOR_UINT, v); }
static void nb_cbor_on_negint8(void *c, uint8_t v) { nb_cbor_set_int(c, NB_CBOR_NEGINT, v); }
static void nb_cbor_on_negint16(void *c, uint16_t v) { nb_cbor_set_int(c, NB_CBOR_NEGINT, v); }
static void nb_cbor_on_negint32(void *c, uint32_t v) { nb_cbor_set_int(c, NB_CBOR_NEGINT, v); }
static void nb_cbor_on_negint64(void *c, uint64_t v) { nb_cbor_set_int(c, NB_CBOR_NEGINT, v); }

static void nb_cbor_on_bytes(void *c, cbor_data data, size_t len) {
  nb_cbor_ctx(c)->kind = NB_CBOR_BYTES;
  nb_cbor_ctx(c)->data = data;
  nb_cbor_ctx(c)->len = len;
}
static void nb_cbor_on_bytes_indef(void *c) { nb_cbor_ctx(c)->kind = NB_CBOR_BYTES_INDEF; }

static void nb_cbor_on_text(void *c, cbor_data data, size_t len) {
  nb_cbor_ctx(c)->kind = NB_CBOR_TEXT;
  nb_cbor_ctx(c)->data = data;
  nb_cbor_ctx(c)->len = len;
}
static void nb_cbor_on_text_indef(void *c) { nb_cbor_ctx(c)->kind = NB_CBOR_TEXT_INDEF; }

static void nb_cbor_on_array(void *c, size_t n) {
  nb_cbor_ctx(c)->kind = NB_CBOR_ARRAY;
  nb_cbor_ctx(c)->u = n;
}
static void nb_cbor_on_array_indef(void *c) {
  nb_cbor_ctx(c)->kind = NB_CBOR_ARRAY;
  nb_cbor_ctx(c)->indefinite = true;
}
static void nb_cbor_on_map(void *c, size_t n) {
  nb_cbor_ctx(c)->kind = NB_CBOR_MAP;
  nb_cbor_ctx(c)->u = n;
}
static void nb_cbor_on_map_indef(void *c) {
  nb_cbor_ctx(c)->kind = NB_CBOR_MAP;
  nb_cbor_ctx(c)->indefinite = true;
}

static void nb_cbor_on_tag(void *c, uint64_t tag) {
  nb_cbor_ctx(c)->kind = NB_CBOR_TAG;
  nb_cbor_ctx(c)->u = tag;
}

static void nb_cbor_on_float(void *c, float f) {
  nb_cbor_ctx(c)->kind = NB_CBOR_FLOAT;
  nb_cbor_ctx(c)->d = f;
}
static void nb_cbor_on_double(void *c, double d) {
  nb_cbor_ctx(c)->kind = NB_CBOR_FLOAT;
  nb_cbor_ctx(c)->d = d;
}
static void nb_cbor_on_bool(void *c, bool b) {
  nb_cbor_ctx(c)->kind = NB_CBOR_BOOL;
  nb_cbor_ctx(c)->b = b;
}
static void nb_cbor_on_null(void *c) { nb_cbor_ctx(c)->kind = NB_CBOR_NULL; }
static void nb_cbor_on_undefined(void *c) { nb_cbor_ctx(c)->kind = NB_CBOR_UNDEFINED; }
static void nb_cbor_on_break(void *c) { nb_cbor_ctx(c)->kind = NB_CBOR_BREAK; }

static const struct cbor_callbacks nb_cbor_callbacks = {
    .uint8 = nb_cbor_on_uint8,
    .uint16 = nb_cbor_on_uint16,
    .uint32 = nb_cbor_on_uint32,
    .uint64 = nb_cbor_on_uint64,
    .negint64 = nb_cbor_on_negint64,
    .negint32 = nb_cbor_on_negint32,
    .negint16 = nb_cbor_on_negint16,
    .negint8 = nb_cbor_on_negint8,
    .byte_string_start = nb_cbor_on_bytes_indef,
    .byte_string = nb_cbor_on_bytes,
    .string = nb_cbor_on_text,
    .string_start = nb_cbor_on_text_indef,
    .indef_array_start = nb_cbor_on_array_indef,
    .array_start = nb_cbor_on_array,
    .indef_map_start = nb_cbor_on_map_indef,
    .map_start = nb_cbor_on_map,
    .tag = nb_cbor_on_tag,
    .float2 = nb_cbor_on_float,
    .float4 = nb_cbor_on_float,
    .float8 = nb_cbor_on_double,
    .undefined = nb_cbor_on_undefined,
    .null = nb_cbor_on_null,
    .boolean = nb_cbor_on_bool,
    .indef_break = nb_cbor_on_break,
};

#endif

void nb_cbor_reader_init(nb_cbor_reader *r, const uint8_t *buf, size_t len) {
  r->buf = buf;
  r->len = buf ? len : 0;
  r->pos = 0;
}

nb_err nb_cbor_next(nb_cbor_reader *r, nb_cbor_item *it) {
#if !NB_CFG_LIBCBOR
  size_t used;
  nb_err e = nb_cbor_head_decode(r->buf + r->pos, r->len - r->pos, it, &used);
  if (e == NB_OK) r->pos += used;
  return e;
#else
  memset(it, 0, sizeof *it);
  if (r->pos >= r->len) return NB_ERR_TRUNCATED;
  /* An impossible kind marks "no callback ran" (libcbor reports success for nothing else). */
  it->kind = (nb_cbor_kind)-1;
  struct cbor_decoder_result res =
      cbor_stream_decode(r->buf + r->pos, r->len - r->pos, &nb_cbor_callbacks, it);
  if (res.status == CBOR_DECODER_NEDATA) return NB_ERR_TRUNCATED;
  if (res.status != CBOR_DECODER_FINISHED || res.read == 0 || res.read > r->len - r->pos ||
      it->kind == (nb_cbor_kind)-1) {
    return NB_ERR_SYNTAX;
  }
  r->pos += res.read;
  return NB_OK;
#endif
}

static nb_err nb_cbor_skip_child(nb_cbor_reader *r, int depth, bool *was_break) {
  nb_cbor_item c;
  nb_err e = nb_cbor_next(r, &c);
  if (e != NB_OK) return e;
  *was_break = c.kind == NB_CBOR_BREAK;
  if (*was_break) return NB_OK;
  return nb_cbor_skip(r, &c, depth);
}

nb_err nb_cbor_skip(nb_cbor_reader *r, const nb_cbor_item *it, int max_depth) {
  bool brk = false;
  nb_err e = NB_OK;
  switch (it->kind) {
    case NB_CBOR_ARRAY:
    case NB_CBOR_MAP: {
      if (max_depth <= 0) return NB_ERR_SYNTAX;
      int per = it->kind == NB_CBOR_MAP ? 2 : 1;
      for (uint64_t k = 0; it->indefinite || k < it->u; k++) {
        for (int j = 0; j < per; j++) {
          if ((e = nb_cbor_skip_child(r, max_depth - 1, &brk)) != NB_OK) return e;
          if (brk) return (it->indefinite && j == 0) ? NB_OK : NB_ERR_SYNTAX;
        }
      }
      return NB_OK;
    }
    case NB_CBOR_TAG:
      if (max_depth <= 0) return NB_ERR_SYNTAX;
      if ((e = nb_cbor_skip_child(r, max_depth - 1, &brk)) != NB_OK) return e;
      return brk ? NB_ERR_SYNTAX : NB_OK;
    case NB_CBOR_BYTES_INDEF:
    case NB_CBOR_TEXT_INDEF: {
      nb_cbor_kind chunk = it->kind == NB_CBOR_BYTES_INDEF ? NB_CBOR_BYTES : NB_CBOR_TEXT;
      for (;;) {
        nb_cbor_item c;
        if ((e = nb_cbor_next(r, &c)) != NB_OK) return e;
        if (c.kind == NB_CBOR_BREAK) return NB_OK;
        if (c.kind != chunk) return NB_ERR_SYNTAX;
      }
    }
    case NB_CBOR_BREAK:
      return NB_ERR_SYNTAX;
    default:
      return NB_OK;
  }
}

/* ---- writer ---- */

#if NB_CFG_LIBCBOR
static nb_err nb_cbor_put_head(nb_bytes *out, const unsigned char *buf, size_t n) {
  return n ? nb_bytes_append(out, buf, n) : NB_ERR_INVAL;
}
/* A head through libcbor's encoder, or through cbor_head.c in a build without libcbor. */
#define NB_CBOR_HEAD(major, v, libcbor_call) ((void)(v), nb_cbor_put_head(out, buf, libcbor_call))
#define NB_CBOR_FIXED(first, v, n, libcbor_call) \
  ((void)(v), nb_cbor_put_head(out, buf, libcbor_call))
#else
#define NB_CBOR_HEAD(major, v, libcbor_call) \
  nb_bytes_append(out, buf, nb_cbor_head_encode((major), (v), buf))
#define NB_CBOR_FIXED(first, v, n, libcbor_call) \
  nb_bytes_append(out, buf, nb_cbor_head_fixed((first), (v), (n), buf))
#endif

nb_err nb_cbor_put_uint(nb_bytes *out, uint64_t v) {
  unsigned char buf[9];
  return NB_CBOR_HEAD(0, v, cbor_encode_uint(v, buf, sizeof buf));
}

nb_err nb_cbor_put_int(nb_bytes *out, int64_t v) {
  if (v >= 0) return nb_cbor_put_uint(out, (uint64_t)v);
  unsigned char buf[9];
  uint64_t n = (uint64_t)(-(v + 1)); /* CBOR major type 1 holds -1 - n */
  return NB_CBOR_HEAD(1, n, cbor_encode_negint(n, buf, sizeof buf));
}

/* The IEEE half of d when d converts to it without loss. */
static bool nb_cbor_half(double d, uint16_t *out) {
  float f = (float)d;
  if ((double)f != d) return false;
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  uint16_t sign = (uint16_t)((bits >> 16) & 0x8000);
  int exp = (int)((bits >> 23) & 0xff);
  uint32_t mant = bits & 0x7fffff;
  if (exp == 0xff) { /* infinity; NaN never reaches here (NaN != NaN above) */
    *out = sign | 0x7c00;
    return true;
  }
  if (exp == 0) {
    if (mant != 0) return false; /* single subnormals are far below half's range */
    *out = sign;
    return true;
  }
  int e = exp - 127;
  if (e > 15 || e < -24) return false;
  if (e >= -14) {
    if (mant & 0x1fff) return false;
    *out = (uint16_t)(sign | (uint16_t)((e + 15) << 10) | (uint16_t)(mant >> 13));
    return true;
  }
  /* Half subnormal: d = m * 2^-24 with m < 1024, so m = significand * 2^(e + 1). */
  uint32_t full = mant | 0x800000;
  int shift = -(e + 1);
  if (full & ((1u << shift) - 1)) return false;
  *out = (uint16_t)(sign | (uint16_t)(full >> shift));
  return true;
}

nb_err nb_cbor_put_float(nb_bytes *out, double d) {
  unsigned char buf[9];
  uint16_t half;
  if (isnan(d))
    half = 0x7e00;
  else if (!nb_cbor_half(d, &half)) {
    float f = (float)d;
    if ((double)f == d) {
      uint32_t b32;
      memcpy(&b32, &f, sizeof b32);
      return NB_CBOR_FIXED(0xfa, b32, 4, cbor_encode_single(f, buf, sizeof buf));
    }
    uint64_t b64;
    memcpy(&b64, &d, sizeof b64);
    return NB_CBOR_FIXED(0xfb, b64, 8, cbor_encode_double(d, buf, sizeof buf));
  }
  buf[0] = 0xf9;
  buf[1] = (unsigned char)(half >> 8);
  buf[2] = (unsigned char)half;
  return nb_bytes_append(out, buf, 3);
}

nb_err nb_cbor_put_bool(nb_bytes *out, bool b) {
  unsigned char buf[9];
  return NB_CBOR_FIXED(b ? 0xf5 : 0xf4, 0, 0, cbor_encode_bool(b, buf, sizeof buf));
}

nb_err nb_cbor_put_text(nb_bytes *out, const char *s, size_t len) {
  unsigned char buf[9];
  nb_err e = NB_CBOR_HEAD(3, len, cbor_encode_string_start(len, buf, sizeof buf));
  return e == NB_OK ? nb_bytes_append(out, s, len) : e;
}

nb_err nb_cbor_put_bytes(nb_bytes *out, const uint8_t *data, size_t len) {
  unsigned char buf[9];
  nb_err e = NB_CBOR_HEAD(2, len, cbor_encode_bytestring_start(len, buf, sizeof buf));
  return e == NB_OK ? nb_bytes_append(out, data, len) : e;
}

nb_err nb_cbor_put_array(nb_bytes *out, size_t n) {
  unsigned char buf[9];
  return NB_CBOR_HEAD(4, n, cbor_encode_array_start(n, buf, sizeof buf));
}

nb_err nb_cbor_put_map(nb_bytes *out, size_t n) {
  unsigned char buf[9];
  return NB_CBOR_HEAD(5, n, cbor_encode_map_start(n, buf, sizeof buf));
}

nb_err nb_cbor_put_tag(nb_bytes *out, uint64_t tag) {
  unsigned char buf[9];
  return NB_CBOR_HEAD(6, tag, cbor_encode_tag(tag, buf, sizeof buf));
}
