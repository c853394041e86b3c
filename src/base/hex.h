/* Hexadecimal text <-> bytes. Strict: only [0-9a-fA-F] digits in pairs, plus separator
 * characters the caller names (e.g. " :" for "01:02 03"); never sscanf-style leniency. */
#ifndef NB_BASE_HEX_H
#define NB_BASE_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* Value 0..15 of one hex digit, or -1. */
int nb_hex_digit(char c);

/* Decodes len characters of text into out (cap bytes), skipping any character listed in
 * separators (NULL: none) between digits. NB_ERR_SYNTAX for another character or an odd
 * number of digits, NB_ERR_OVERFLOW when out is too small. */
nb_err nb_hex_decode(const char *text, size_t len, const char *separators, uint8_t *out, size_t cap,
                     size_t *out_len);

/* The same, appending to a growable buffer (which keeps its old length on failure). */
nb_err nb_hex_decode_append(const char *text, size_t len, const char *separators, nb_bytes *out);

/* Lowercase hex of n bytes into out, which needs 2 * n + 1 bytes; returns out. */
char *nb_hex_encode(const uint8_t *data, size_t n, char *out);

#endif
