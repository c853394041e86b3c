/* CBOR (RFC 8949) item heads without any library: the reader of one item head (with the content
 * of a definite byte or text string) and the shortest head encoding. cbor_io uses them in a
 * build without libcbor (NB_CFG_LIBCBOR 0, docs/client.md "The device build"); the full build
 * checks them against libcbor item for item (test_cbor_head, fuzz/cbor_head). Owns nothing. */
#ifndef NB_LWM2M_CBOR_HEAD_H
#define NB_LWM2M_CBOR_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "lwm2m/cbor_io.h"

/* Reads the item head at buf[0..len) into *it as nb_cbor_next reports it, and *used the bytes
 * it takes (a definite string's content included). NB_ERR_TRUNCATED when buf ends inside it,
 * NB_ERR_SYNTAX for reserved additional information, indefinite lengths where CBOR has none and
 * simple values other than false, true, null and undefined. */
nb_err nb_cbor_head_decode(const uint8_t *buf, size_t len, nb_cbor_item *it, size_t *used);
/* The shortest head of major type major (0..7) with argument v; returns its length (1..9). */
size_t nb_cbor_head_encode(unsigned major, uint64_t v, uint8_t out[9]);
/* The initial byte `first` and then the n (0..8) low bytes of v, big-endian, whatever their
 * value (floats: 0xfa and 4 bytes, 0xfb and 8); returns 1 + n. */
size_t nb_cbor_head_fixed(uint8_t first, uint64_t v, size_t n, uint8_t out[9]);

#endif
