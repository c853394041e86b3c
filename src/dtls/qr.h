/* Out-of-band key validation codes: the QR payload a device carries ("nb:sid:" + its secure ID)
 * and rendering of a QR module matrix (from libqrencode, in apps/) as UTF-8 half blocks or as a
 * PNG image written with a minimal encoder (stored deflate blocks, CRC-32, Adler-32: no zlib). */
#ifndef NB_DTLS_QR_H
#define NB_DTLS_QR_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define NB_DTLS_QR_PREFIX "nb:sid:"

/* "nb:sid:" + the 30-hex-digit secure ID (lowercased); NB_ERR_SYNTAX if sid is not one. */
nb_err nb_dtls_qr_payload(const char *secure_id, char *out, size_t cap);

/* A secure ID as an operator types or scans it: the 30 hex digits in either case, or the QR
 * payload ("nb:sid:" + them, the prefix in either case), surrounding blanks ignored. The
 * 30 lowercase digits into out (cap >= 31); NB_ERR_SYNTAX when text is neither. */
nb_err nb_dtls_secure_id_parse(const char *text, char *out, size_t cap);

/* A square matrix of width*width modules, row-major; bit 0 of each byte set = dark module
 * (libqrencode's QRcode.data layout). */
typedef struct {
  const uint8_t *modules;
  int width;
} nb_dtls_qr_matrix;

/* Two module rows per text line with a quiet zone of `margin` modules; light modules are drawn
 * as blocks, like `qrencode -t UTF8`, for terminals with a dark background. */
nb_err nb_dtls_qr_text(const nb_dtls_qr_matrix *m, int margin, nb_bytes *out);
/* A 1-bit grayscale PNG, `scale` pixels per module, quiet zone of `margin` modules. */
nb_err nb_dtls_qr_png(const nb_dtls_qr_matrix *m, int scale, int margin, nb_bytes *out);

/* A 1-bit grayscale PNG from packed rows (MSB first, 1 = white, (w+7)/8 bytes per row). */
nb_err nb_dtls_png_gray1(const uint8_t *rows, uint32_t width, uint32_t height, nb_bytes *out);

uint32_t nb_dtls_crc32(uint32_t crc, const uint8_t *data, size_t len);     /* start with 0 */
uint32_t nb_dtls_adler32(uint32_t adler, const uint8_t *data, size_t len); /* start with 1 */

#endif
