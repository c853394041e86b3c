/* CBOR (RFC 8949) item reader and writer for the LwM2M codecs, on top of libcbor: the reader pulls
 * one item head at a time from libcbor's streaming decoder (no allocation, no recursion, so a
 * hostile payload cannot exhaust memory or stack); the writer appends shortest encodings to an
 * nb_bytes. Owns nothing. */
#ifndef NB_LWM2M_CBOR_IO_H
#define NB_LWM2M_CBOR_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

typedef enum {
  NB_CBOR_UINT,        /* u */
  NB_CBOR_NEGINT,      /* value -1 - u */
  NB_CBOR_BYTES,       /* definite byte string: data, len */
  NB_CBOR_TEXT,        /* definite text string: data, len */
  NB_CBOR_BYTES_INDEF, /* start of a chunked byte string */
  NB_CBOR_TEXT_INDEF,  /* start of a chunked text string */
  NB_CBOR_ARRAY,       /* u elements, or indefinite */
  NB_CBOR_MAP,         /* u pairs, or indefinite */
  NB_CBOR_TAG,         /* tag number u; the tagged item follows */
  NB_CBOR_FLOAT,       /* d (half, single and double alike) */
  NB_CBOR_BOOL,        /* b */
  NB_CBOR_NULL,
  NB_CBOR_UNDEFINED,
  NB_CBOR_BREAK /* end of an indefinite container */
} nb_cbor_kind;

typedef struct {
  nb_cbor_kind kind;
  bool indefinite;
  bool b;
  uint64_t u;
  double d;
  const uint8_t *data; /* points into the payload */
  size_t len;
} nb_cbor_item;

typedef struct {
  const uint8_t *buf;
  size_t len;
  size_t pos;
} nb_cbor_reader;

void nb_cbor_reader_init(nb_cbor_reader *r, const uint8_t *buf, size_t len);
/* Reads the next item head. NB_ERR_TRUNCATED when the payload ends inside it, NB_ERR_SYNTAX for
 * reserved or malformed encodings. */
nb_err nb_cbor_next(nb_cbor_reader *r, nb_cbor_item *it);
/* Skips the rest of an item whose head `it` was just read (its elements, or its tagged item),
 * allowing at most max_depth nested containers. */
nb_err nb_cbor_skip(nb_cbor_reader *r, const nb_cbor_item *it, int max_depth);

nb_err nb_cbor_put_uint(nb_bytes *out, uint64_t v);
nb_err nb_cbor_put_int(nb_bytes *out, int64_t v);
/* Smallest of half/single/double that holds d exactly (NaN as the half 0x7e00). */
nb_err nb_cbor_put_float(nb_bytes *out, double d);
nb_err nb_cbor_put_bool(nb_bytes *out, bool b);
nb_err nb_cbor_put_text(nb_bytes *out, const char *s, size_t len);
nb_err nb_cbor_put_bytes(nb_bytes *out, const uint8_t *data, size_t len);
nb_err nb_cbor_put_array(nb_bytes *out, size_t n);
nb_err nb_cbor_put_map(nb_bytes *out, size_t n);
nb_err nb_cbor_put_tag(nb_bytes *out, uint64_t tag);

#endif
