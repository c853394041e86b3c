/* QR payloads, terminal rendering, and a small PNG writer with stored deflate blocks. */
#include "dtls/qr.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dtls/cred.h"

nb_err nb_dtls_qr_payload(const char *secure_id, char *out, size_t cap) {
  size_t n = strlen(secure_id);
  size_t prefix = sizeof NB_DTLS_QR_PREFIX - 1;
  if (n != NB_DTLS_SECURE_ID_LEN) return NB_ERR_SYNTAX;
  if (cap < prefix + n + 1) return NB_ERR_OVERFLOW;
  memcpy(out, NB_DTLS_QR_PREFIX, prefix);
  for (size_t i = 0; i < n; i++) {
    if (!isxdigit((unsigned char)secure_id[i])) return NB_ERR_SYNTAX;
    out[prefix + i] = (char)tolower((unsigned char)secure_id[i]);
  }
  out[prefix + n] = 0;
  return NB_OK;
}

nb_err nb_dtls_secure_id_parse(const char *text, char *out, size_t cap) {
  size_t prefix = sizeof NB_DTLS_QR_PREFIX - 1;
  if (cap < NB_DTLS_SECURE_ID_LEN + 1) return NB_ERR_OVERFLOW;
  while (isspace((unsigned char)*text)) text++;
  if (strncasecmp(text, NB_DTLS_QR_PREFIX, prefix) == 0) text += prefix;
  size_t n = strlen(text);
  while (n && isspace((unsigned char)text[n - 1])) n--;
  if (n != NB_DTLS_SECURE_ID_LEN) return NB_ERR_SYNTAX;
  for (size_t i = 0; i < n; i++) {
    if (!isxdigit((unsigned char)text[i])) return NB_ERR_SYNTAX;
    out[i] = (char)tolower((unsigned char)text[i]);
  }
  out[n] = '\0';
  return NB_OK;
}

static int nb_dtls_qr_dark(const nb_dtls_qr_matrix *m, int margin, int x, int y) {
  x -= margin;
  y -= margin;
  if (x < 0 || y < 0 || x >= m->width || y >= m->width) return 0;
  return m->modules[(size_t)y * (size_t)m->width + (size_t)x] & 1;
}

nb_err nb_dtls_qr_text(const nb_dtls_qr_matrix *m, int margin, nb_bytes *out) {
  /* Index: top light (2) | bottom light (1). */
  static const char *const cells[4] = {" ", "\xE2\x96\x84", "\xE2\x96\x80", "\xE2\x96\x88"};
  if (!m->modules || m->width <= 0 || margin < 0) return NB_ERR_INVAL;
  int size = m->width + 2 * margin;
  for (int y = 0; y < size; y += 2) {
    for (int x = 0; x < size; x++) {
      int top = !nb_dtls_qr_dark(m, margin, x, y);
      int bottom = y + 1 < size ? !nb_dtls_qr_dark(m, margin, x, y + 1) : 0;
      nb_err err = nb_bytes_append_str(out, cells[top * 2 + bottom]);
      if (err != NB_OK) return err;
    }
    nb_err err = nb_bytes_append_str(out, "\n");
    if (err != NB_OK) return err;
  }
  return NB_OK;
}

nb_err nb_dtls_qr_png(const nb_dtls_qr_matrix *m, int scale, int margin, nb_bytes *out) {
  if (!m->modules || m->width <= 0 || scale <= 0 || scale > 64 || margin < 0 || margin > 64)
    return NB_ERR_INVAL;
  uint32_t px = (uint32_t)(m->width + 2 * margin) * (uint32_t)scale;
  size_t stride = (px + 7) / 8;
  uint8_t *rows = calloc(px, stride);
  if (!rows) return NB_ERR_NOMEM;
  for (uint32_t y = 0; y < px; y++) {
    for (uint32_t x = 0; x < px; x++) {
      if (!nb_dtls_qr_dark(m, margin, (int)(x / (uint32_t)scale), (int)(y / (uint32_t)scale))) {
        rows[y * stride + x / 8] |= (uint8_t)(0x80 >> (x % 8));
      }
    }
  }
  nb_err err = nb_dtls_png_gray1(rows, px, px, out);
  free(rows);
  return err;
}

/* ---- checksums ---- */

uint32_t nb_dtls_crc32(uint32_t crc, const uint8_t *data, size_t len) {
  crc = ~crc;
  for (size_t i = 0; i < len; i++) {
    crc ^= data[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

uint32_t nb_dtls_adler32(uint32_t adler, const uint8_t *data, size_t len) {
  uint32_t a = adler & 0xFFFF, b = adler >> 16;
  for (size_t i = 0; i < len; i++) {
    a = (a + data[i]) % 65521u;
    b = (b + a) % 65521u;
  }
  return (b << 16) | a;
}

/* ---- PNG ---- */

static nb_err nb_dtls_put_u32(nb_bytes *out, uint32_t v) {
  uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  return nb_bytes_append(out, b, 4);
}

/* Appends one chunk: length, type, data, CRC over type and data. */
static nb_err nb_dtls_png_chunk(nb_bytes *out, const char type[4], const uint8_t *data,
                                size_t len) {
  nb_err err = nb_dtls_put_u32(out, (uint32_t)len);
  if (err == NB_OK) err = nb_bytes_append(out, type, 4);
  if (err == NB_OK && len > 0) err = nb_bytes_append(out, data, len);
  uint32_t crc = nb_dtls_crc32(0, (const uint8_t *)type, 4);
  crc = nb_dtls_crc32(crc, data, len);
  if (err == NB_OK) err = nb_dtls_put_u32(out, crc);
  return err;
}

/* zlib stream of stored (uncompressed) deflate blocks, RFC 1950/1951. */
static nb_err nb_dtls_zlib_stored(const uint8_t *raw, size_t len, nb_bytes *z) {
  static const uint8_t header[2] = {0x78, 0x01}; /* deflate, 32K window, FCHECK ok */
  nb_err err = nb_bytes_append(z, header, 2);
  size_t pos = 0;
  do {
    size_t n = len - pos > 65535 ? 65535 : len - pos;
    uint8_t h[5] = {(uint8_t)(pos + n == len ? 1 : 0), (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)~n,
                    (uint8_t)(~n >> 8)};
    if (err == NB_OK) err = nb_bytes_append(z, h, 5);
    if (err == NB_OK && n > 0) err = nb_bytes_append(z, raw + pos, n);
    pos += n;
  } while (pos < len && err == NB_OK);
  if (err == NB_OK) err = nb_dtls_put_u32(z, nb_dtls_adler32(1, raw, len));
  return err;
}

nb_err nb_dtls_png_gray1(const uint8_t *rows, uint32_t width, uint32_t height, nb_bytes *out) {
  static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (width == 0 || height == 0 || width > 65535 || height > 65535) return NB_ERR_INVAL;
  size_t stride = (width + 7) / 8;
  size_t raw_len = (stride + 1) * height;
  uint8_t *raw = malloc(raw_len);
  if (!raw) return NB_ERR_NOMEM;
  for (uint32_t y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; /* filter: none */
    memcpy(raw + y * (stride + 1) + 1, rows + y * stride, stride);
  }
  uint8_t ihdr[13] = {(uint8_t)(width >> 24),
                      (uint8_t)(width >> 16),
                      (uint8_t)(width >> 8),
                      (uint8_t)width,
                      (uint8_t)(height >> 24),
                      (uint8_t)(height >> 16),
                      (uint8_t)(height >> 8),
                      (uint8_t)height,
                      1 /* bit depth */,
                      0 /* grayscale */,
                      0,
                      0,
                      0};
  nb_bytes z;
  nb_bytes_init(&z);
  nb_err err = nb_dtls_zlib_stored(raw, raw_len, &z);
  free(raw);
  if (err == NB_OK) err = nb_bytes_append(out, signature, sizeof signature);
  if (err == NB_OK) err = nb_dtls_png_chunk(out, "IHDR", ihdr, sizeof ihdr);
  if (err == NB_OK) err = nb_dtls_png_chunk(out, "IDAT", z.data, z.len);
  if (err == NB_OK) err = nb_dtls_png_chunk(out, "IEND", NULL, 0);
  nb_bytes_free(&z);
  return err;
}
