/* Signed firmware images (docs/firmware.md, "Image format"): one file = a COSE_Sign1 (tag 18,
 * ES256) whose payload is a CBOR manifest {1: version, 2: image size, 3: SHA-256 of the image,
 * 4: vendor/class (optional)}, followed by the raw image bytes. The manifest codec, the signer
 * `niobium fw sign` uses, and the streaming checker the device feeds every byte of a package
 * through while it arrives (bounded memory: the envelope is kept, the image only hashed). An
 * unsigned package is a raw image (its first byte is not the tag). Owns its checker's envelope
 * copy and hash state. */
#ifndef NB_CLIENT_FW_IMAGE_H
#define NB_CLIENT_FW_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "niobium/config.h"

#define NB_FW_ENVELOPE_MAX 2048 /* bytes of the COSE_Sign1 before the image */
#define NB_FW_TEXT_MAX 128      /* version / vendor text, NUL included */
#define NB_FW_DIGEST_LEN 32
#define NB_FW_COSE_FIRST 0xd2 /* CBOR tag 18: the first byte of a signed image */

enum { NB_FW_M_VERSION = 1, NB_FW_M_SIZE = 2, NB_FW_M_DIGEST = 3, NB_FW_M_VENDOR = 4 };

typedef struct {
  char version[NB_FW_TEXT_MAX]; /* required, 1..127 bytes of UTF-8 without NUL */
  uint64_t size;                /* bytes of the image after the envelope */
  uint8_t digest[NB_FW_DIGEST_LEN];
  char vendor[NB_FW_TEXT_MAX]; /* "" when absent */
} nb_fw_manifest;

/* Strict: a definite map, unsigned keys at most once each, 1-3 present, 4 optional, a text
 * value without NUL and shorter than NB_FW_TEXT_MAX, a 32-byte digest, nothing after the map.
 * Unknown keys (5 and up) are skipped. NB_ERR_SYNTAX otherwise. */
nb_err nb_fw_manifest_decode(const uint8_t *buf, size_t len, nb_fw_manifest *out);
nb_err nb_fw_manifest_encode(const nb_fw_manifest *m, nb_bytes *out);

/* Appends the envelope (COSE_Sign1 over m's encoding, signed with the P-256 private key
 * key) to out; the caller appends the image. NB_ERR_UNSUPPORTED without NB_CFG_SIGNED. */
nb_err nb_fw_envelope_sign(const nb_fw_manifest *m, const uint8_t *key, size_t key_len,
                           nb_bytes *out);

/* The manifest of the package whose first len bytes are head (the whole envelope among them),
 * decoded but NOT verified: for showing what a stored package says it is (the server's image
 * list). NB_ERR_SYNTAX for a raw image, an envelope cut short or malformed, or a bad manifest;
 * NB_ERR_UNSUPPORTED without NB_CFG_SIGNED. */
nb_err nb_fw_manifest_peek(const uint8_t *head, size_t len, nb_fw_manifest *out);

/* How a finished package checked out. */
typedef enum {
  NB_FW_CHECK_OK,          /* signed and verified, or raw and unsigned packages allowed */
  NB_FW_CHECK_INTEGRITY,   /* bad signature, digest or size, or raw when not allowed */
  NB_FW_CHECK_UNSUPPORTED, /* not an image this build can read: malformed envelope */
} nb_fw_verdict;

/* The streaming checker: every byte of a package through nb_fw_check_feed, in order. */
typedef struct {
  uint8_t head[NB_FW_ENVELOPE_MAX];
  size_t head_len;
  size_t env_len; /* envelope length once known (0 before, or for a raw image) */
  bool started, raw, bad_envelope;
  uint64_t image_len; /* bytes after the envelope */
  void *hash;         /* SHA-256 state over them (gnutls), NULL without NB_CFG_SIGNED */
  nb_fw_manifest manifest;
} nb_fw_check;

void nb_fw_check_init(nb_fw_check *k);
void nb_fw_check_deinit(nb_fw_check *k);
/* NB_ERR_NOMEM when the hash state cannot be made. A malformed envelope is not an error here:
 * it shows in the verdict. */
nb_err nb_fw_check_feed(nb_fw_check *k, const uint8_t *data, size_t len);
/* The verdict once all bytes are in: trust (SubjectPublicKeyInfo or certificate, PEM or DER;
 * NULL = none) must have signed the manifest, and the image must have its size and digest. With
 * no trust a signed package is accepted only when allow_unsigned (digest and size still
 * checked); a raw one only when allow_unsigned. *why says what failed (static text). */
nb_fw_verdict nb_fw_check_finish(nb_fw_check *k, const uint8_t *trust, size_t trust_len,
                                 bool allow_unsigned, const char **why);
/* Whether the package was a signed image with a readable manifest (after finish). */
bool nb_fw_check_signed(const nb_fw_check *k);

#endif
