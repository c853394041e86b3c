/* Bounded reader/writer and growable buffer. */
#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nb_reader_init(nb_reader *r, const uint8_t *data, size_t len) {
  r->data = data;
  r->len = data ? len : 0;
  r->pos = 0;
  r->failed = false;
}

size_t nb_reader_remaining(const nb_reader *r) { return r->len - r->pos; }

const uint8_t *nb_reader_cursor(const nb_reader *r) { return r->data + r->pos; }

/* Claims n bytes or marks the reader failed; the one bounds check every read goes through. */
static const uint8_t *nb_reader_take(nb_reader *r, size_t n) {
  if (r->failed || n > r->len - r->pos) {
    r->failed = true;
    return NULL;
  }
  const uint8_t *p = r->data + r->pos;
  r->pos += n;
  return p;
}

nb_err nb_reader_uint_be(nb_reader *r, size_t nbytes, uint64_t *out) {
  if (nbytes > 8) return NB_ERR_INVAL;
  const uint8_t *p = nb_reader_take(r, nbytes);
  if (!p) return NB_ERR_TRUNCATED;
  uint64_t v = 0;
  for (size_t i = 0; i < nbytes; i++) v = (v << 8) | p[i];
  *out = v;
  return NB_OK;
}

nb_err nb_reader_u8(nb_reader *r, uint8_t *out) {
  const uint8_t *p = nb_reader_take(r, 1);
  if (!p) return NB_ERR_TRUNCATED;
  *out = p[0];
  return NB_OK;
}

nb_err nb_reader_u16be(nb_reader *r, uint16_t *out) {
  uint64_t v;
  nb_err err = nb_reader_uint_be(r, 2, &v);
  if (err == NB_OK) *out = (uint16_t)v;
  return err;
}

nb_err nb_reader_u24be(nb_reader *r, uint32_t *out) {
  uint64_t v;
  nb_err err = nb_reader_uint_be(r, 3, &v);
  if (err == NB_OK) *out = (uint32_t)v;
  return err;
}

nb_err nb_reader_u32be(nb_reader *r, uint32_t *out) {
  uint64_t v;
  nb_err err = nb_reader_uint_be(r, 4, &v);
  if (err == NB_OK) *out = (uint32_t)v;
  return err;
}

nb_err nb_reader_u64be(nb_reader *r, uint64_t *out) { return nb_reader_uint_be(r, 8, out); }

nb_err nb_reader_copy(nb_reader *r, void *out, size_t n) {
  const uint8_t *p = nb_reader_take(r, n);
  if (!p) return NB_ERR_TRUNCATED;
  if (n) memcpy(out, p, n);
  return NB_OK;
}

nb_err nb_reader_view(nb_reader *r, size_t n, const uint8_t **out) {
  const uint8_t *p = nb_reader_take(r, n);
  if (!p) return NB_ERR_TRUNCATED;
  *out = p;
  return NB_OK;
}

nb_err nb_reader_skip(nb_reader *r, size_t n) {
  return nb_reader_take(r, n) ? NB_OK : NB_ERR_TRUNCATED;
}

void nb_writer_init(nb_writer *w, uint8_t *data, size_t cap) {
  w->data = data;
  w->cap = data ? cap : 0;
  w->len = 0;
  w->failed = false;
}

/* Claims n bytes of room or marks the writer failed. */
static uint8_t *nb_writer_room(nb_writer *w, size_t n) {
  if (w->failed || n > w->cap - w->len) {
    w->failed = true;
    return NULL;
  }
  uint8_t *p = w->data + w->len;
  w->len += n;
  return p;
}

nb_err nb_writer_uint_be(nb_writer *w, uint64_t v, size_t nbytes) {
  if (nbytes > 8 || (nbytes < 8 && (v >> (8 * nbytes)) != 0)) return NB_ERR_RANGE;
  uint8_t *p = nb_writer_room(w, nbytes);
  if (!p) return NB_ERR_OVERFLOW;
  for (size_t i = nbytes; i > 0; i--) {
    p[i - 1] = (uint8_t)(v & 0xff);
    v >>= 8;
  }
  return NB_OK;
}

nb_err nb_writer_u8(nb_writer *w, uint8_t v) { return nb_writer_uint_be(w, v, 1); }
nb_err nb_writer_u16be(nb_writer *w, uint16_t v) { return nb_writer_uint_be(w, v, 2); }
nb_err nb_writer_u24be(nb_writer *w, uint32_t v) { return nb_writer_uint_be(w, v, 3); }
nb_err nb_writer_u32be(nb_writer *w, uint32_t v) { return nb_writer_uint_be(w, v, 4); }
nb_err nb_writer_u64be(nb_writer *w, uint64_t v) { return nb_writer_uint_be(w, v, 8); }

nb_err nb_writer_bytes(nb_writer *w, const void *src, size_t n) {
  uint8_t *p = nb_writer_room(w, n);
  if (!p) return NB_ERR_OVERFLOW;
  if (n) memcpy(p, src, n);
  return NB_OK;
}

nb_err nb_writer_str(nb_writer *w, const char *s) { return nb_writer_bytes(w, s, strlen(s)); }

nb_err nb_writer_status(const nb_writer *w) { return w->failed ? NB_ERR_OVERFLOW : NB_OK; }

size_t nb_uint_be_size(uint64_t v) {
  size_t n = 0;
  while (v) {
    n++;
    v >>= 8;
  }
  return n;
}

void nb_bytes_init(nb_bytes *b) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void nb_bytes_free(nb_bytes *b) {
  free(b->data);
  nb_bytes_init(b);
}

nb_err nb_bytes_reserve(nb_bytes *b, size_t extra) {
  if (extra > SIZE_MAX - b->len - 1) return NB_ERR_NOMEM;
  size_t need = b->len + extra + 1; /* +1 keeps room for a terminating NUL */
  if (need <= b->cap) return NB_OK;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  uint8_t *p = realloc(b->data, cap);
  if (!p) return NB_ERR_NOMEM;
  b->data = p;
  b->cap = cap;
  return NB_OK;
}

void nb_bytes_fit(nb_bytes *b) {
  if (!b->data || b->len + 1 >= b->cap) return;
  uint8_t *p = realloc(b->data, b->len + 1);
  if (!p) return; /* the larger block is still ours */
  b->data = p;
  b->cap = b->len + 1;
}

nb_err nb_bytes_append(nb_bytes *b, const void *src, size_t n) {
  nb_err err = nb_bytes_reserve(b, n);
  if (err) return err;
  if (n) memcpy(b->data + b->len, src, n);
  b->len += n;
  b->data[b->len] = 0;
  return NB_OK;
}

nb_err nb_bytes_append_str(nb_bytes *b, const char *s) { return nb_bytes_append(b, s, strlen(s)); }

nb_err nb_bytes_appendf(nb_bytes *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): ap is started; clang-14 bug */
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NB_ERR_INVAL;
  nb_err err = nb_bytes_reserve(b, (size_t)n);
  if (err) return err;
  va_start(ap, fmt);
  vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return NB_OK;
}

void nb_bytes_clear(nb_bytes *b) {
  b->len = 0;
  if (b->data) b->data[0] = 0;
}

uint8_t *nb_bytes_steal(nb_bytes *b, size_t *len) {
  uint8_t *p = b->data;
  if (len) *len = b->len;
  nb_bytes_init(b);
  return p;
}
