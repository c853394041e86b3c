/* QR payloads, terminal rendering and the stored-deflate PNG writer: checksums against their
 * published check values, PNGs decoded back pixel by pixel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dtls/qr.h"

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_payload(void **state) {
  (void)state;
  char out[64];
  assert_int_equal(nb_dtls_qr_payload("0B2844CB6C70EED9C9AA5A1F18150A", out, sizeof out), NB_OK);
  assert_string_equal(out, "nb:sid:0b2844cb6c70eed9c9aa5a1f18150a");
  assert_int_equal(nb_dtls_qr_payload("0b2844cb6c70eed9c9aa5a1f18150", out, sizeof out),
                   NB_ERR_SYNTAX);
  assert_int_equal(nb_dtls_qr_payload("0b2844cb6c70eed9c9aa5a1f18150g", out, sizeof out),
                   NB_ERR_SYNTAX);
  assert_int_equal(nb_dtls_qr_payload("0b2844cb6c70eed9c9aa5a1f18150a", out, 37), NB_ERR_OVERFLOW);
}

static void test_checksums(void **state) {
  (void)state;
  const uint8_t *check = (const uint8_t *)"123456789";
  assert_int_equal(nb_dtls_crc32(0, check, 9), 0xCBF43926u); /* CRC-32 check value */
  assert_int_equal(nb_dtls_crc32(nb_dtls_crc32(0, check, 4), check + 4, 5), 0xCBF43926u);
  assert_int_equal(nb_dtls_adler32(1, (const uint8_t *)"Wikipedia", 9), 0x11E60398u);
  assert_int_equal(nb_dtls_adler32(1, NULL, 0), 1);
  /* Long input exercises the modulo reduction. */
  uint8_t *ff = malloc(100000);
  memset(ff, 0xFF, 100000);
  uint32_t a = 1, b = 0;
  for (int i = 0; i < 100000; i++) {
    a = (a + 0xFF) % 65521u;
    b = (b + a) % 65521u;
  }
  assert_int_equal(nb_dtls_adler32(1, ff, 100000), (b << 16) | a);
  free(ff);
}

/* Decodes our own PNG subset: checks every chunk CRC, inflates stored blocks, checks
 * Adler-32, and returns the unfiltered 1-bit rows (caller frees). */
static uint8_t *decode_png(const nb_bytes *png, uint32_t *w, uint32_t *h) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  assert_true(png->len > 8);
  assert_memory_equal(png->data, sig, 8);
  nb_bytes z, raw;
  nb_bytes_init(&z);
  nb_bytes_init(&raw);
  bool end = false;
  for (size_t pos = 8; pos < png->len;) {
    uint32_t len = be32(png->data + pos);
    const uint8_t *type = png->data + pos + 4, *body = type + 4;
    assert_true(pos + 12 + len <= png->len);
    assert_int_equal(be32(body + len), nb_dtls_crc32(0, type, 4 + len));
    if (memcmp(type, "IHDR", 4) == 0) {
      *w = be32(body);
      *h = be32(body + 4);
      assert_int_equal(body[8], 1); /* bit depth */
      assert_int_equal(body[9], 0); /* grayscale */
    } else if (memcmp(type, "IDAT", 4) == 0) {
      nb_bytes_append(&z, body, len);
    } else if (memcmp(type, "IEND", 4) == 0) {
      end = true;
    }
    pos += 12 + len;
  }
  assert_true(end);
  assert_int_equal((z.data[0] << 8 | z.data[1]) % 31, 0); /* zlib FCHECK */
  size_t pos = 2;
  for (;;) {
    uint8_t hdr = z.data[pos];
    uint16_t n = (uint16_t)(z.data[pos + 1] | z.data[pos + 2] << 8);
    uint16_t nn = (uint16_t)(z.data[pos + 3] | z.data[pos + 4] << 8);
    assert_int_equal((hdr >> 1) & 3, 0); /* stored */
    assert_int_equal((uint16_t)~n, nn);
    nb_bytes_append(&raw, z.data + pos + 5, n);
    pos += 5 + n;
    if (hdr & 1) break;
  }
  assert_int_equal(be32(z.data + pos), nb_dtls_adler32(1, raw.data, raw.len));
  assert_int_equal(pos + 4, z.len);
  size_t stride = (*w + 7) / 8;
  assert_int_equal(raw.len, (stride + 1) * *h);
  uint8_t *rows = malloc(stride * *h);
  for (uint32_t y = 0; y < *h; y++) {
    assert_int_equal(raw.data[y * (stride + 1)], 0); /* filter none */
    memcpy(rows + y * stride, raw.data + y * (stride + 1) + 1, stride);
  }
  nb_bytes_free(&z);
  nb_bytes_free(&raw);
  return rows;
}

static int pixel_white(const uint8_t *rows, uint32_t w, uint32_t x, uint32_t y) {
  return (rows[y * ((w + 7) / 8) + x / 8] >> (7 - x % 8)) & 1;
}

static void test_png_of_matrix(void **state) {
  (void)state;
  /* 3x3: dark diagonal. */
  const uint8_t mod[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  nb_dtls_qr_matrix m = {mod, 3};
  nb_bytes png;
  nb_bytes_init(&png);
  assert_int_equal(nb_dtls_qr_png(&m, 2, 1, &png), NB_OK);
  uint32_t w = 0, h = 0;
  uint8_t *rows = decode_png(&png, &w, &h);
  assert_int_equal(w, 10);
  assert_int_equal(h, 10);
  for (uint32_t y = 0; y < 10; y++) {
    for (uint32_t x = 0; x < 10; x++) {
      int mx = (int)x / 2 - 1, my = (int)y / 2 - 1;
      int dark = mx >= 0 && my >= 0 && mx < 3 && my < 3 && mx == my;
      assert_int_equal(pixel_white(rows, w, x, y), !dark);
    }
  }
  free(rows);
  nb_bytes_free(&png);
  assert_int_equal(nb_dtls_qr_png(&m, 0, 1, &png), NB_ERR_INVAL);
}

/* Larger than one stored block (65535 bytes): several blocks, last one flagged final. */
static void test_png_multiple_blocks(void **state) {
  (void)state;
  uint32_t w = 1000, h = 600;
  size_t stride = (w + 7) / 8;
  uint8_t *rows = malloc(stride * h);
  for (size_t i = 0; i < stride * h; i++) rows[i] = (uint8_t)(i * 37);
  nb_bytes png;
  nb_bytes_init(&png);
  assert_int_equal(nb_dtls_png_gray1(rows, w, h, &png), NB_OK);
  uint32_t dw, dh;
  uint8_t *back = decode_png(&png, &dw, &dh);
  assert_int_equal(dw, w);
  assert_int_equal(dh, h);
  assert_memory_equal(back, rows, stride * h);
  free(back);
  free(rows);
  nb_bytes_free(&png);
  assert_int_equal(nb_dtls_png_gray1(NULL, 0, 1, &png), NB_ERR_INVAL);
}

static void test_text_half_blocks(void **state) {
  (void)state;
  /* Row 0: dark, light; row 1: light, light; row 2: dark, dark (odd height pads light). */
  const uint8_t mod[4] = {1, 0, 0, 0};
  nb_dtls_qr_matrix m = {mod, 2};
  nb_bytes out;
  nb_bytes_init(&out);
  assert_int_equal(nb_dtls_qr_text(&m, 0, &out), NB_OK);
  /* Column 0: top dark, bottom light -> lower half block; column 1: both light -> full. */
  assert_int_equal(out.len, strlen("\xE2\x96\x84\xE2\x96\x88\n"));
  assert_memory_equal(out.data, "\xE2\x96\x84\xE2\x96\x88\n", out.len);
  nb_bytes_clear(&out);
  assert_int_equal(nb_dtls_qr_text(&m, 1, &out), NB_OK);
  /* 4x4 with margin: 2 lines of 4 cells, each line ending in \n. */
  size_t lines = 0;
  for (size_t i = 0; i < out.len; i++) lines += out.data[i] == '\n';
  assert_int_equal(lines, 2);
  nb_bytes_free(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_payload),          cmocka_unit_test(test_checksums),
      cmocka_unit_test(test_png_of_matrix),    cmocka_unit_test(test_png_multiple_blocks),
      cmocka_unit_test(test_text_half_blocks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
