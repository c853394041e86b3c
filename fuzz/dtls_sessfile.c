/* libFuzzer: the session file a DTLS server keeps its sessions in across a restart
 * (src/dtls/sessfile.c). The first byte chooses the layer: odd, the whole file opened under a
 * fixed key at a fixed time (header, age and tag checks: a forged file must never open);
 * even, the decrypted body (count = the next 4 bytes, records after), which is what a file
 * written under the right key could hold.
 * Oracle: a body that parses writes back, record by record, to the same bytes (for a whole
 * file that opens, too: one of the seeds is sealed under the key). */
#include <stdlib.h>
#include <string.h>

#include "dtls/sessfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t KEY[NB_DTLS_SESSFILE_KEY_LEN] = "fuzz-fuzz-fuzz-fuzz-fuzz-fuzz-fu";

static nb_err rewrite(void *user, const nb_dtls_saved *sv) {
  return nb_dtls_sessfile_add(user, sv);
}

static void check_body(const uint8_t *body, size_t len, uint32_t count) {
  nb_bytes out;
  nb_bytes_init(&out);
  nb_err err = nb_dtls_sessfile_parse(body, len, count, rewrite, &out);
  if (err == NB_OK && (out.len != len || (len && memcmp(out.data, body, len) != 0))) abort();
  nb_bytes_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (data[0] & 1) {
    nb_bytes plain;
    nb_bytes_init(&plain);
    uint32_t count = 0;
    if (nb_dtls_sessfile_open(KEY, data + 1, size - 1, 1800000000000LL, 300000, &plain, &count) ==
        NB_OK)
      check_body(plain.data, plain.len, count);
    nb_bytes_free(&plain);
  } else if (size >= 5) {
    uint32_t count =
        (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 8 | data[4];
    check_body(data + 5, size - 5, count % 65); /* the records must be in the input anyway */
  }
  return 0;
}
