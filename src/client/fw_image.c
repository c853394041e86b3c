/* Signed firmware images: manifest codec, envelope signer and the streaming checker. */
#include "client/fw_image.h"

#include <stdlib.h>
#include <string.h>

#if NB_CFG_SIGNED
#include <gnutls/crypto.h>

#include "dtls/cose.h"
#include "lwm2m/cbor_io.h"
#endif

#define NB_FW_SKIP_DEPTH 8      /* nesting allowed in an unknown manifest value */
#define NB_FW_CF_CBOR 60        /* the manifest's Content-Format in the COSE header */
#define NB_FW_ENVELOPE_DEPTH 16 /* nesting allowed inside a COSE_Sign1's headers */

#if NB_CFG_SIGNED

/* ---- manifest ---- */

static nb_err nb_fw_text(const nb_cbor_item *it, char *out) {
  if (it->kind != NB_CBOR_TEXT || it->len >= NB_FW_TEXT_MAX || memchr(it->data, 0, it->len))
    return NB_ERR_SYNTAX;
  memcpy(out, it->data, it->len);
  out[it->len] = 0;
  return NB_OK;
}

/* One key's value into m; unknown keys are skipped. */
static nb_err nb_fw_manifest_entry(nb_cbor_reader *r, uint64_t key, nb_fw_manifest *m) {
  nb_cbor_item v;
  nb_err e = nb_cbor_next(r, &v);
  if (e != NB_OK) return NB_ERR_SYNTAX;
  switch (key) {
    case NB_FW_M_VERSION:
      e = nb_fw_text(&v, m->version);
      return e == NB_OK && m->version[0] == 0 ? NB_ERR_SYNTAX : e;
    case NB_FW_M_SIZE:
      if (v.kind != NB_CBOR_UINT) return NB_ERR_SYNTAX;
      m->size = v.u;
      return NB_OK;
    case NB_FW_M_DIGEST:
      if (v.kind != NB_CBOR_BYTES || v.len != NB_FW_DIGEST_LEN) return NB_ERR_SYNTAX;
      memcpy(m->digest, v.data, NB_FW_DIGEST_LEN);
      return NB_OK;
    case NB_FW_M_VENDOR:
      return nb_fw_text(&v, m->vendor);
    default:
      return nb_cbor_skip(r, &v, NB_FW_SKIP_DEPTH) == NB_OK ? NB_OK : NB_ERR_SYNTAX;
  }
}

nb_err nb_fw_manifest_decode(const uint8_t *buf, size_t len, nb_fw_manifest *out) {
  memset(out, 0, sizeof *out);
  nb_cbor_reader r;
  nb_cbor_reader_init(&r, buf, len);
  nb_cbor_item map;
  if (nb_cbor_next(&r, &map) != NB_OK || map.kind != NB_CBOR_MAP || map.indefinite)
    return NB_ERR_SYNTAX;
  unsigned seen = 0; /* bit k: key k (1..4) */
  for (uint64_t i = 0; i < map.u; i++) {
    nb_cbor_item k;
    if (nb_cbor_next(&r, &k) != NB_OK || k.kind != NB_CBOR_UINT) return NB_ERR_SYNTAX;
    unsigned bit = k.u <= NB_FW_M_VENDOR ? 1u << k.u : 0;
    if (k.u == 0 || (seen & bit)) return NB_ERR_SYNTAX;
    seen |= bit;
    nb_err e = nb_fw_manifest_entry(&r, k.u, out);
    if (e != NB_OK) return e;
  }
  unsigned need = 1u << NB_FW_M_VERSION | 1u << NB_FW_M_SIZE | 1u << NB_FW_M_DIGEST;
  if ((seen & need) != need || r.pos != len) return NB_ERR_SYNTAX;
  return NB_OK;
}

nb_err nb_fw_manifest_encode(const nb_fw_manifest *m, nb_bytes *out) {
  size_t vl = strnlen(m->version, NB_FW_TEXT_MAX), dl = strnlen(m->vendor, NB_FW_TEXT_MAX);
  if (vl == 0 || vl >= NB_FW_TEXT_MAX || dl >= NB_FW_TEXT_MAX) return NB_ERR_INVAL;
  nb_err e = nb_cbor_put_map(out, dl ? 4 : 3);
  if (e == NB_OK) e = nb_cbor_put_uint(out, NB_FW_M_VERSION);
  if (e == NB_OK) e = nb_cbor_put_text(out, m->version, vl);
  if (e == NB_OK) e = nb_cbor_put_uint(out, NB_FW_M_SIZE);
  if (e == NB_OK) e = nb_cbor_put_uint(out, m->size);
  if (e == NB_OK) e = nb_cbor_put_uint(out, NB_FW_M_DIGEST);
  if (e == NB_OK) e = nb_cbor_put_bytes(out, m->digest, NB_FW_DIGEST_LEN);
  if (e == NB_OK && dl) e = nb_cbor_put_uint(out, NB_FW_M_VENDOR);
  if (e == NB_OK && dl) e = nb_cbor_put_text(out, m->vendor, dl);
  return e;
}

nb_err nb_fw_envelope_sign(const nb_fw_manifest *m, const uint8_t *key, size_t key_len,
                           nb_bytes *out) {
  nb_bytes payload;
  nb_bytes_init(&payload);
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  h.content_format = NB_FW_CF_CBOR;
  nb_err e = nb_fw_manifest_encode(m, &payload);
  if (e == NB_OK) e = nb_cose_sign1(&h, payload.data, payload.len, key, key_len, out);
  nb_bytes_free(&payload);
  return e;
}

/* ---- streaming checker ---- */

void nb_fw_check_init(nb_fw_check *k) { memset(k, 0, sizeof *k); }

void nb_fw_check_deinit(nb_fw_check *k) {
  if (k->hash) {
    uint8_t scrap[NB_FW_DIGEST_LEN];
    gnutls_hash_deinit((gnutls_hash_hd_t)k->hash, scrap);
  }
  k->hash = NULL;
}

static nb_err nb_fw_check_hash(nb_fw_check *k, const uint8_t *data, size_t len) {
  if (!len) return NB_OK;
  if (!k->hash) {
    gnutls_hash_hd_t hd;
    if (gnutls_hash_init(&hd, GNUTLS_DIG_SHA256) < 0) return NB_ERR_NOMEM;
    k->hash = hd;
  }
  k->image_len += len;
  return gnutls_hash((gnutls_hash_hd_t)k->hash, data, len) < 0 ? NB_ERR_NOMEM : NB_OK;
}

/* The envelope's length when head holds all of it; 0 while more is needed. Marks a malformed
 * or oversized envelope. */
static size_t nb_fw_envelope_len(nb_fw_check *k) {
  nb_cbor_reader r;
  nb_cbor_item it;
  /* The tag's one byte (NB_FW_COSE_FIRST, checked by the caller), then the array it tags. */
  nb_cbor_reader_init(&r, k->head + 1, k->head_len - 1);
  if (nb_cbor_next(&r, &it) == NB_OK && nb_cbor_skip(&r, &it, NB_FW_ENVELOPE_DEPTH) == NB_OK)
    return 1 + r.pos;
  /* Only a full head decides: a CBOR reader may call a cut item malformed rather than short,
   * and the verdict must not depend on how the bytes came in. */
  if (k->head_len == sizeof k->head) k->bad_envelope = true;
  return 0;
}

nb_err nb_fw_check_feed(nb_fw_check *k, const uint8_t *data, size_t len) {
  if (!len) return NB_OK; /* before the first byte, an empty head would be measured */
  if (!k->started) {
    k->started = true;
    k->raw = data[0] != NB_FW_COSE_FIRST;
  }
  if (k->raw || k->bad_envelope || k->env_len) return nb_fw_check_hash(k, data, len);
  size_t take = sizeof k->head - k->head_len < len ? sizeof k->head - k->head_len : len;
  memcpy(k->head + k->head_len, data, take);
  k->head_len += take;
  size_t env = nb_fw_envelope_len(k);
  if (!env) return take < len ? nb_fw_check_hash(k, data + take, len - take) : NB_OK;
  /* Bytes of head past the envelope, then the rest of data, are image. */
  k->env_len = env;
  nb_err e = nb_fw_check_hash(k, k->head + env, k->head_len - env);
  k->head_len = env;
  return e == NB_OK ? nb_fw_check_hash(k, data + take, len - take) : e;
}

static nb_fw_verdict nb_fw_check_image(nb_fw_check *k, const char **why) {
  uint8_t got[NB_FW_DIGEST_LEN];
  if (!k->hash) { /* an empty image: nothing was hashed */
    gnutls_hash_fast(GNUTLS_DIG_SHA256, "", 0, got);
  } else {
    gnutls_hash_deinit((gnutls_hash_hd_t)k->hash, got);
    k->hash = NULL;
  }
  if (k->image_len != k->manifest.size) {
    *why = "image size differs from the manifest's";
    return NB_FW_CHECK_INTEGRITY;
  }
  if (memcmp(got, k->manifest.digest, NB_FW_DIGEST_LEN) != 0) {
    *why = "image SHA-256 differs from the manifest's";
    return NB_FW_CHECK_INTEGRITY;
  }
  *why = "verified";
  return NB_FW_CHECK_OK;
}

nb_fw_verdict nb_fw_check_finish(nb_fw_check *k, const uint8_t *trust, size_t trust_len,
                                 bool allow_unsigned, const char **why) {
  if (k->raw || !k->started) {
    *why = allow_unsigned ? "unsigned image accepted (unsigned images allowed)"
                          : "unsigned image and unsigned images are not allowed";
    return allow_unsigned ? NB_FW_CHECK_OK : NB_FW_CHECK_INTEGRITY;
  }
  nb_cose_sign1_msg msg;
  if (k->bad_envelope || !k->env_len || nb_cose_parse(k->head, k->env_len, &msg) != NB_OK ||
      nb_fw_manifest_decode(msg.payload, msg.payload_len, &k->manifest) != NB_OK) {
    k->env_len = 0;
    *why = "not a signed image: malformed envelope or manifest";
    return NB_FW_CHECK_UNSUPPORTED;
  }
  if (trust && nb_cose_verify(&msg, trust, trust_len) != NB_OK) {
    *why = "manifest signature does not verify against the trust anchor";
    return NB_FW_CHECK_INTEGRITY;
  }
  if (!trust && !allow_unsigned) {
    *why = "no trust anchor to verify the signature and unsigned images are not allowed";
    return NB_FW_CHECK_INTEGRITY;
  }
  return nb_fw_check_image(k, why);
}

bool nb_fw_check_signed(const nb_fw_check *k) { return !k->raw && k->env_len > 0; }

nb_err nb_fw_manifest_peek(const uint8_t *head, size_t len, nb_fw_manifest *out) {
  nb_fw_check k;
  nb_fw_check_init(&k);
  nb_cose_sign1_msg msg;
  nb_err e = nb_fw_check_feed(&k, head, len);
  if (e == NB_OK)
    e = !k.raw && k.env_len && nb_cose_parse(k.head, k.env_len, &msg) == NB_OK
            ? nb_fw_manifest_decode(msg.payload, msg.payload_len, out)
            : NB_ERR_SYNTAX;
  nb_fw_check_deinit(&k);
  return e;
}

#else /* without NB_CFG_SIGNED: raw images only */

nb_err nb_fw_manifest_decode(const uint8_t *buf, size_t len, nb_fw_manifest *out) {
  (void)buf, (void)len, (void)out;
  return NB_ERR_UNSUPPORTED;
}
nb_err nb_fw_manifest_encode(const nb_fw_manifest *m, nb_bytes *out) {
  (void)m, (void)out;
  return NB_ERR_UNSUPPORTED;
}
nb_err nb_fw_envelope_sign(const nb_fw_manifest *m, const uint8_t *key, size_t key_len,
                           nb_bytes *out) {
  (void)m, (void)key, (void)key_len, (void)out;
  return NB_ERR_UNSUPPORTED;
}
void nb_fw_check_init(nb_fw_check *k) { memset(k, 0, sizeof *k); }
void nb_fw_check_deinit(nb_fw_check *k) { (void)k; }
nb_err nb_fw_check_feed(nb_fw_check *k, const uint8_t *data, size_t len) {
  if (len && !k->started) {
    k->started = true;
    k->raw = data[0] != NB_FW_COSE_FIRST;
  }
  k->image_len += len;
  return NB_OK;
}
nb_fw_verdict nb_fw_check_finish(nb_fw_check *k, const uint8_t *trust, size_t trust_len,
                                 bool allow_unsigned, const char **why) {
  (void)trust, (void)trust_len;
  if (k->started && !k->raw) {
    *why = "signed images need a build with NB_WITH_SIGNED";
    return NB_FW_CHECK_UNSUPPORTED;
  }
  *why = allow_unsigned ? "unsigned image accepted (unsigned images allowed)"
                        : "unsigned image and unsigned images are not allowed";
  return allow_unsigned ? NB_FW_CHECK_OK : NB_FW_CHECK_INTEGRITY;
}
bool nb_fw_check_signed(const nb_fw_check *k) {
  (void)k;
  return false;
}
nb_err nb_fw_manifest_peek(const uint8_t *head, size_t len, nb_fw_manifest *out) {
  (void)head, (void)len, (void)out;
  return NB_ERR_UNSUPPORTED;
}

#endif
