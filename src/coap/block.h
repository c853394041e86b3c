/* Block-wise transfer helpers (RFC 7959): the Block1/Block2 option value (NUM/M/SZX),
 * slicing a body into blocks and reassembling blocks into a bounded body. The message
 * layer (endpoint.c) drives them; they hold no protocol state of their own. */
#ifndef NB_COAP_BLOCK_H
#define NB_COAP_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "coap/msg.h"

#define NB_COAP_BLOCK_MAX_SZX 6        /* 1024 bytes; 7 (BERT) is for reliable transports only */
#define NB_COAP_BLOCK_MAX_NUM 0xfffffu /* 20 bits */

typedef struct {
  uint32_t num;
  bool more;
  uint8_t szx;
} nb_coap_block;

static inline size_t nb_coap_block_size(uint8_t szx) { return (size_t)16 << szx; }
static inline size_t nb_coap_block_offset(const nb_coap_block *b) {
  return (size_t)b->num * nb_coap_block_size(b->szx);
}
/* Largest SZX (0..6) whose block size is at most `bytes` (0 when bytes < 32). */
uint8_t nb_coap_block_szx_fitting(size_t bytes);

/* Option value <-> fields. Decoding rejects values over 3 bytes (NB_ERR_RANGE) and SZX 7
 * (NB_ERR_COAP_BAD_OPTION). */
uint32_t nb_coap_block_encode(const nb_coap_block *b);
nb_err nb_coap_block_decode(uint32_t value, nb_coap_block *out);
/* Reads Block1 or Block2 from msg: NB_ERR_NOT_FOUND when absent, else as decode. */
nb_err nb_coap_block_get(const nb_coap_msg *msg, uint16_t option, nb_coap_block *out);
nb_err nb_coap_block_add(nb_coap_msg *msg, uint16_t option, const nb_coap_block *b);

/* The bytes of block (num, szx) of a body of `len` bytes, and whether more follow.
 * NB_ERR_RANGE when the block starts past the end (block 0 of an empty body is empty). */
nb_err nb_coap_block_slice(size_t len, uint32_t num, uint8_t szx, size_t *offset, size_t *n,
                           bool *more);

/* Reassembles consecutive blocks into `body`, refusing to grow past `limit`. */
typedef struct {
  nb_bytes body;
  size_t limit;
} nb_coap_reasm;

void nb_coap_reasm_init(nb_coap_reasm *r, size_t limit);
void nb_coap_reasm_deinit(nb_coap_reasm *r);
void nb_coap_reasm_reset(nb_coap_reasm *r);
/* Appends the payload of block b. NB_ERR_COAP_BLOCK when b does not start where the body
 * ends or a non-final block is not exactly one block long; NB_ERR_COAP_TOO_LARGE past the
 * limit; NB_ERR_NOMEM. On error the body is unchanged. */
nb_err nb_coap_reasm_add(nb_coap_reasm *r, const nb_coap_block *b, const uint8_t *data, size_t n);

#endif
