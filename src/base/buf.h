/* Bounded byte reader and writer over caller-owned memory, and a growable byte buffer.
 * Every read and write is checked: a reader never reads past its end, a writer never past
 * its capacity; failures are sticky so a codec can check once at the end. */
#ifndef NB_BASE_BUF_H
#define NB_BASE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Reads from [data, data+len). Does not own the memory. */
typedef struct {
  const uint8_t *data;
  size_t len;
  size_t pos;
  bool failed; /* set by the first read past the end */
} nb_reader;

void nb_reader_init(nb_reader *r, const uint8_t *data, size_t len);
size_t nb_reader_remaining(const nb_reader *r);
/* Pointer to the unread bytes (valid while the underlying data lives). */
const uint8_t *nb_reader_cursor(const nb_reader *r);
nb_err nb_reader_u8(nb_reader *r, uint8_t *out);
nb_err nb_reader_u16be(nb_reader *r, uint16_t *out);
nb_err nb_reader_u24be(nb_reader *r, uint32_t *out);
nb_err nb_reader_u32be(nb_reader *r, uint32_t *out);
nb_err nb_reader_u64be(nb_reader *r, uint64_t *out);
/* Big-endian unsigned of 0..8 bytes (CoAP uint options, TLV integers). */
nb_err nb_reader_uint_be(nb_reader *r, size_t nbytes, uint64_t *out);
nb_err nb_reader_copy(nb_reader *r, void *out, size_t n);
/* Borrows n bytes without copying; *out points into the reader's data. */
nb_err nb_reader_view(nb_reader *r, size_t n, const uint8_t **out);
nb_err nb_reader_skip(nb_reader *r, size_t n);

/* Writes into [data, data+cap). Does not own the memory. */
typedef struct {
  uint8_t *data;
  size_t cap;
  size_t len;
  bool failed; /* set by the first write that did not fit */
} nb_writer;

void nb_writer_init(nb_writer *w, uint8_t *data, size_t cap);
nb_err nb_writer_u8(nb_writer *w, uint8_t v);
nb_err nb_writer_u16be(nb_writer *w, uint16_t v);
nb_err nb_writer_u24be(nb_writer *w, uint32_t v);
nb_err nb_writer_u32be(nb_writer *w, uint32_t v);
nb_err nb_writer_u64be(nb_writer *w, uint64_t v);
/* Big-endian unsigned in exactly nbytes (0..8); the value must fit. */
nb_err nb_writer_uint_be(nb_writer *w, uint64_t v, size_t nbytes);
nb_err nb_writer_bytes(nb_writer *w, const void *src, size_t n);
nb_err nb_writer_str(nb_writer *w, const char *s);
/* NB_OK when every write so far fitted, NB_ERR_OVERFLOW otherwise. */
nb_err nb_writer_status(const nb_writer *w);

/* Smallest number of bytes (0..8) that holds v, as CoAP and TLV encode unsigned values. */
size_t nb_uint_be_size(uint64_t v);

/* Growable heap buffer. Owns data; release with nb_bytes_free. */
typedef struct {
  uint8_t *data;
  size_t len;
  size_t cap;
} nb_bytes;

void nb_bytes_init(nb_bytes *b);
void nb_bytes_free(nb_bytes *b);
nb_err nb_bytes_reserve(nb_bytes *b, size_t extra);
nb_err nb_bytes_append(nb_bytes *b, const void *src, size_t n);
nb_err nb_bytes_append_str(nb_bytes *b, const char *s);
/* printf-style append; the result is not NUL-counted in len but data is NUL-terminated. */
nb_err nb_bytes_appendf(nb_bytes *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void nb_bytes_clear(nb_bytes *b);
/* Gives back the spare room (keeping the NUL), for a buffer that stays alive while more is
 * allocated; the growth by doubling may have left it half empty. Never fails. */
void nb_bytes_fit(nb_bytes *b);
/* Hands the buffer to the caller (who frees it with free) and resets b. */
uint8_t *nb_bytes_steal(nb_bytes *b, size_t *len);

#endif
