/* Hex codec. */
#include "base/hex.h"

#include <string.h>

int nb_hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Walks the digits once; with out == NULL it only counts and validates. */
static nb_err nb_hex_walk(const char *text, size_t len, const char *separators, uint8_t *out,
                          size_t cap, size_t *out_len) {
  size_t n = 0;
  int hi = -1;
  for (size_t i = 0; i < len; i++) {
    int v = nb_hex_digit(text[i]);
    if (v < 0) {
      if (separators && text[i] != 0 && strchr(separators, text[i])) continue;
      return NB_ERR_SYNTAX;
    }
    if (hi < 0) {
      hi = v;
      continue;
    }
    if (out) {
      if (n == cap) return NB_ERR_OVERFLOW;
      out[n] = (uint8_t)(hi << 4 | v);
    }
    n++;
    hi = -1;
  }
  if (hi >= 0) return NB_ERR_SYNTAX;
  *out_len = n;
  return NB_OK;
}

nb_err nb_hex_decode(const char *text, size_t len, const char *separators, uint8_t *out, size_t cap,
                     size_t *out_len) {
  return nb_hex_walk(text, len, separators, out, cap, out_len);
}

nb_err nb_hex_decode_append(const char *text, size_t len, const char *separators, nb_bytes *out) {
  size_t n;
  nb_err err = nb_hex_walk(text, len, separators, NULL, 0, &n);
  if (err == NB_OK) err = nb_bytes_reserve(out, n);
  if (err == NB_OK) err = nb_hex_walk(text, len, separators, out->data + out->len, n, &n);
  if (err != NB_OK) return err;
  out->len += n;
  out->data[out->len] = 0;
  return NB_OK;
}

char *nb_hex_encode(const uint8_t *data, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  out[2 * n] = 0;
  return out;
}
