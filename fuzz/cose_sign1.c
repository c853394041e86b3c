/* Fuzzes the COSE_Sign1 parser (signed payloads, Content-Format 18) and, for what it accepts,
 * the signature check against a fixed key (which must refuse anything the fuzzer builds), the
 * check of withheld secrets against their digests, and the copy kept as evidence (it must parse
 * again, with the same withheld digests and no secret left). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dtls/cose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The COSE examples' key "11" (cose-wg/Examples), as a SubjectPublicKeyInfo. */
static const uint8_t spki[] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04, 0xba, 0xc5, 0xb1, 0x1c, 0xad,
    0x8f, 0x99, 0xf9, 0xc7, 0x2b, 0x05, 0xcf, 0x4b, 0x9e, 0x26, 0xd2, 0x44, 0xdc, 0x18, 0x9f, 0x74,
    0x52, 0x28, 0x25, 0x5a, 0x21, 0x9a, 0x86, 0xd6, 0xa0, 0x9e, 0xff, 0x20, 0x13, 0x8b, 0xf8, 0x2d,
    0xc1, 0xb6, 0xd5, 0x62, 0xbe, 0x0f, 0xa5, 0x4a, 0xb7, 0x80, 0x4a, 0x3a, 0x64, 0xb6, 0xd7, 0x2c,
    0xcf, 0xed, 0x6b, 0x6f, 0xb6, 0xed, 0x28, 0xbb, 0xfc, 0x11, 0x7e};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_cose_sign1_msg m;
  if (nb_cose_parse(data, size, &m) != NB_OK) return 0;
  if (m.payload_len > size || m.protected_len > size || m.nwithheld > NB_COSE_SECRETS_MAX) abort();
  (void)nb_cose_verify(&m, spki, sizeof spki);
  (void)nb_cose_secrets_check(&m);
  nb_bytes kept;
  nb_bytes_init(&kept);
  if (nb_cose_strip(data, size, &kept) != NB_OK) abort();
  nb_cose_sign1_msg k;
  if (nb_cose_parse(kept.data, kept.len, &k) != NB_OK || k.nvalues != 0 ||
      k.nwithheld != m.nwithheld || k.payload_len != m.payload_len ||
      k.protected_len != m.protected_len ||
      memcmp(k.protected_hdr, m.protected_hdr, m.protected_len))
    abort();
  nb_bytes_free(&kept);
  return 0;
}
