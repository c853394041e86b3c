/* Block option codec, slicing and bounded reassembly (RFC 7959 2.2-2.5). */
#include "coap/block.h"

uint8_t nb_coap_block_szx_fitting(size_t bytes) {
  uint8_t szx = 0;
  while (szx < NB_COAP_BLOCK_MAX_SZX && nb_coap_block_size((uint8_t)(szx + 1)) <= bytes) szx++;
  return szx;
}

uint32_t nb_coap_block_encode(const nb_coap_block *b) {
  return (b->num << 4) | (b->more ? 8u : 0u) | (b->szx & 7u);
}

nb_err nb_coap_block_decode(uint32_t value, nb_coap_block *out) {
  if (value > 0xffffffu) return NB_ERR_RANGE;
  if ((value & 7u) == 7u) return NB_ERR_COAP_BAD_OPTION;
  out->num = value >> 4;
  out->more = (value & 8u) != 0;
  out->szx = (uint8_t)(value & 7u);
  return NB_OK;
}

nb_err nb_coap_block_get(const nb_coap_msg *msg, uint16_t option, nb_coap_block *out) {
  uint32_t v;
  nb_err err = nb_coap_msg_get_uint(msg, option, &v);
  if (err != NB_OK) return err;
  return nb_coap_block_decode(v, out);
}

nb_err nb_coap_block_add(nb_coap_msg *msg, uint16_t option, const nb_coap_block *b) {
  if (b->num > NB_COAP_BLOCK_MAX_NUM || b->szx > NB_COAP_BLOCK_MAX_SZX) return NB_ERR_RANGE;
  return nb_coap_msg_add_uint(msg, option, nb_coap_block_encode(b));
}

nb_err nb_coap_block_slice(size_t len, uint32_t num, uint8_t szx, size_t *offset, size_t *n,
                           bool *more) {
  if (szx > NB_COAP_BLOCK_MAX_SZX || num > NB_COAP_BLOCK_MAX_NUM) return NB_ERR_RANGE;
  size_t size = nb_coap_block_size(szx);
  size_t off = (size_t)num * size;
  if (off > len || (off == len && num > 0)) return NB_ERR_RANGE;
  size_t rest = len - off;
  *offset = off;
  *n = rest < size ? rest : size;
  *more = rest > size;
  return NB_OK;
}

void nb_coap_reasm_init(nb_coap_reasm *r, size_t limit) {
  nb_bytes_init(&r->body);
  r->limit = limit;
}

void nb_coap_reasm_deinit(nb_coap_reasm *r) { nb_bytes_free(&r->body); }

void nb_coap_reasm_reset(nb_coap_reasm *r) { nb_bytes_clear(&r->body); }

nb_err nb_coap_reasm_add(nb_coap_reasm *r, const nb_coap_block *b, const uint8_t *data, size_t n) {
  if (b->szx > NB_COAP_BLOCK_MAX_SZX) return NB_ERR_COAP_BLOCK;
  if (nb_coap_block_offset(b) != r->body.len) return NB_ERR_COAP_BLOCK;
  if (b->more && n != nb_coap_block_size(b->szx)) return NB_ERR_COAP_BLOCK;
  if (!b->more && n > nb_coap_block_size(b->szx)) return NB_ERR_COAP_BLOCK;
  if (n > r->limit || r->body.len > r->limit - n) return NB_ERR_COAP_TOO_LARGE;
  return nb_bytes_append(&r->body, data, n);
}
