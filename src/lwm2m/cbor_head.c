/* CBOR item heads (RFC 8949 3): major type in the top 3 bits, additional information in the
 * low 5 (0-23 the argument itself, 24-27 a 1/2/4/8-byte argument, 31 indefinite). */
#include "lwm2m/cbor_head.h"

#include <math.h>
#include <string.h>

static uint64_t nb_cbor_be(const uint8_t *p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

/* IEEE 754 half precision (RFC 8949 Appendix D). */
static double nb_cbor_half_value(uint16_t h) {
  int exp = (h >> 10) & 0x1f;
  double mant = h & 0x3ff;
  double v = exp == 0    ? ldexp(mant, -24)
             : exp == 31 ? (mant == 0 ? INFINITY : NAN)
                         : ldexp(mant + 1024, exp - 25);
  return (h & 0x8000) ? -v : v;
}

static double nb_cbor_float_value(const uint8_t *p, size_t n) {
  uint64_t bits = nb_cbor_be(p, n);
  if (n == 2) return nb_cbor_half_value((uint16_t)bits);
  if (n == 4) {
    uint32_t b32 = (uint32_t)bits;
    float f;
    memcpy(&f, &b32, sizeof f);
    return f;
  }
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

/* Major type 7: simple values and floats; ai is the additional information, arg/n its bytes. */
static nb_err nb_cbor_head_simple(unsigned ai, const uint8_t *arg, size_t n, nb_cbor_item *it) {
  switch (ai) {
    case 20:
    case 21:
      it->kind = NB_CBOR_BOOL;
      it->b = ai == 21;
      return NB_OK;
    case 22:
      it->kind = NB_CBOR_NULL;
      return NB_OK;
    case 23:
      it->kind = NB_CBOR_UNDEFINED;
      return NB_OK;
    case 25:
    case 26:
    case 27:
      it->kind = NB_CBOR_FLOAT;
      it->d = nb_cbor_float_value(arg, n);
      return NB_OK;
    case 31:
      it->kind = NB_CBOR_BREAK;
      return NB_OK;
    default: /* unassigned or reserved simple values */
      return NB_ERR_SYNTAX;
  }
}

nb_err nb_cbor_head_decode(const uint8_t *buf, size_t len, nb_cbor_item *it, size_t *used) {
  memset(it, 0, sizeof *it);
  if (len == 0) return NB_ERR_TRUNCATED;
  unsigned major = buf[0] >> 5, ai = buf[0] & 0x1f;
  if (ai >= 28 && ai <= 30) return NB_ERR_SYNTAX;
  /* As libcbor 0.8 reads them (the full build's reader): simple values in one more byte are
   * refused whatever follows, and so are the tags 6..20 in their one-byte form (0xc6..0xd4,
   * unassigned when libcbor was written), though not when written with a longer argument. */
  if ((major == 7 && ai == 24) || (major == 6 && ai >= 6 && ai <= 20)) return NB_ERR_SYNTAX;
  size_t n = ai < 24 || ai == 31 ? 0 : (size_t)1 << (ai - 24);
  if (len - 1 < n) return NB_ERR_TRUNCATED;
  uint64_t arg = ai < 24 ? ai : nb_cbor_be(buf + 1, n);
  *used = 1 + n;
  if (major == 7) return nb_cbor_head_simple(ai, buf + 1, n, it);
  bool indef = ai == 31;
  if (indef && (major == 0 || major == 1 || major == 6)) return NB_ERR_SYNTAX;
  static const nb_cbor_kind kinds[] = {NB_CBOR_UINT,  NB_CBOR_NEGINT, NB_CBOR_BYTES, NB_CBOR_TEXT,
                                       NB_CBOR_ARRAY, NB_CBOR_MAP,    NB_CBOR_TAG};
  it->kind = kinds[major];
  it->u = arg;
  it->indefinite = indef && major >= 4;
  if (major == 2 || major == 3) {
    if (indef) {
      it->kind = major == 2 ? NB_CBOR_BYTES_INDEF : NB_CBOR_TEXT_INDEF;
      it->u = 0;
      return NB_OK;
    }
    if (arg > len - *used) return NB_ERR_TRUNCATED;
    it->data = buf + *used;
    it->len = (size_t)arg;
    it->u = 0;
    *used += (size_t)arg;
  }
  if (it->indefinite) it->u = 0;
  return NB_OK;
}

size_t nb_cbor_head_fixed(uint8_t first, uint64_t v, size_t n, uint8_t out[9]) {
  out[0] = first;
  for (size_t i = 0; i < n; i++) out[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
  return 1 + n;
}

size_t nb_cbor_head_encode(unsigned major, uint64_t v, uint8_t out[9]) {
  uint8_t mt = (uint8_t)(major << 5);
  if (v < 24) return nb_cbor_head_fixed(mt | (uint8_t)v, 0, 0, out);
  size_t n = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
  return nb_cbor_head_fixed(mt | (uint8_t)(n == 1   ? 24
                                           : n == 2 ? 25
                                           : n == 4 ? 26
                                                    : 27),
                            v, n, out);
}
