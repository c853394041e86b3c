/* Fuzzes the firmware package readers of client/fw_image.h: the manifest decoder (what it
 * accepts must encode and decode again to the same manifest) and the streaming checker the
 * device feeds a package through, in chunks whose size the input's first byte picks (the
 * verdict and the envelope it finds must not depend on how the bytes were split). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/fw_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_manifest(const uint8_t *data, size_t size) {
  nb_fw_manifest m, again;
  if (nb_fw_manifest_decode(data, size, &m) != NB_OK) return;
  nb_bytes b;
  nb_bytes_init(&b);
  if (nb_fw_manifest_encode(&m, &b) != NB_OK ||
      nb_fw_manifest_decode(b.data, b.len, &again) != NB_OK || memcmp(&m, &again, sizeof m) != 0)
    abort();
  nb_bytes_free(&b);
}

/* Feeds data in pieces of `chunk` bytes; returns the verdict (allow_unsigned, no trust). */
static nb_fw_verdict fuzz_check(const uint8_t *data, size_t size, size_t chunk, size_t *env,
                                uint64_t *image) {
  nb_fw_check k;
  nb_fw_check_init(&k);
  for (size_t off = 0; off < size; off += chunk) {
    size_t n = size - off < chunk ? size - off : chunk;
    if (nb_fw_check_feed(&k, data + off, n) != NB_OK) abort();
  }
  const char *why = NULL;
  nb_fw_verdict v = nb_fw_check_finish(&k, NULL, 0, true, &why);
  if (!why || k.env_len > NB_FW_ENVELOPE_MAX) abort();
  /* A signed package that checks out is its envelope and then its image, nothing else. */
  if (v == NB_FW_CHECK_OK && nb_fw_check_signed(&k) &&
      (k.env_len + k.image_len != size || k.image_len != k.manifest.size))
    abort();
  *env = k.env_len;
  *image = k.image_len;
  nb_fw_check_deinit(&k);
  return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_manifest(data, size);
  if (size == 0) return 0;
  size_t chunk = (size_t)data[0] % 64 + 1;
  size_t env1, env2;
  uint64_t img1, img2;
  nb_fw_verdict a = fuzz_check(data, size, size, &env1, &img1);
  nb_fw_verdict b = fuzz_check(data, size, chunk, &env2, &img2);
  if (a != b || env1 != env2 || img1 != img2) abort();
  return 0;
}
