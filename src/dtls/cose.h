/* Signed payloads: COSE_Sign1 (RFC 9052) with ES256 over P-256, the one structure Niobium uses
 * for non-repudiation. A peer signs an LwM2M payload with the private key of its DTLS credential
 * and the other side verifies it with the public key that authenticated the DTLS handshake;
 * the signed bytes can be kept and checked later by anyone holding that public key. CoAP
 * Content-Format 18 (application/cose; cose-type="cose-sign1"), tagged (CBOR tag 18). Headers:
 * protected {1 alg: -7, 3 content type: the payload's Content-Format, 15 CWT claims (RFC 9597):
 * {1 iss, 2 sub, 6 iat, 7 cti}}, unprotected {4 kid: the signer's secure ID, 15 bytes}. No
 * external AAD. Secrets (docs/cose.md "Secrets in signed writes") are withheld from the signed
 * payload: the protected header signs a salted SHA-256 digest of each (label -65537, listed in
 * crit), the unprotected header carries the values (label -65538) and is removed from what is
 * kept (nb_cose_strip), which still verifies. Owns nothing; parsed messages point into the
 * caller's bytes. */
#ifndef NB_DTLS_COSE_H
#define NB_DTLS_COSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "dtls/keys.h"
#include "lwm2m/path.h"

#define NB_COSE_CF_SIGN1 18 /* CoAP Content-Format of a COSE_Sign1 */
#define NB_COSE_TAG_SIGN1 18
#define NB_COSE_ALG_ES256 (-7)
#define NB_COSE_NAME_MAX 128 /* iss / sub plus NUL */
#define NB_COSE_ID_MAX 32    /* cti / kid bytes */
/* Niobium's private header labels (RFC 9052: below -65536 is private use). */
#define NB_COSE_H_SECRET_DIGESTS (-65537) /* protected: {path: [salt, SHA-256(salt || value)]} */
#define NB_COSE_H_SECRETS (-65538)        /* unprotected: {path: value}; never kept */
#define NB_COSE_SECRETS_MAX 4             /* withheld secrets in one message */
#define NB_COSE_SALT_LEN 16
#define NB_COSE_DIGEST_LEN 32
#define NB_COSE_SECRET_MAX 4096 /* bytes of one secret value (a DER private key is ~140) */

/* What a signer states besides the payload. Empty strings, has_iat false, zero lengths and
 * content_format -1 leave the header out. */
typedef struct {
  int content_format;         /* header 3: Content-Format of the payload */
  char iss[NB_COSE_NAME_MAX]; /* claim 1: who signs (a device signs with its endpoint name) */
  char sub[NB_COSE_NAME_MAX]; /* claim 2: whom it is about (the endpoint a config is for) */
  bool has_iat;
  int64_t iat; /* claim 6: Unix seconds when signed */
  uint8_t cti[NB_COSE_ID_MAX];
  size_t cti_len; /* claim 7: which exchange (one bootstrap) */
  uint8_t kid[NB_COSE_ID_MAX];
  size_t kid_len; /* unprotected 4: the signer's key */
} nb_cose_headers;

void nb_cose_headers_init(nb_cose_headers *h);

/* Appends COSE_Sign1(payload) signed with key (P-256 private key, PEM or DER) to out. kid is
 * filled from the key when h->kid_len is 0. */
nb_err nb_cose_sign1(const nb_cose_headers *h, const uint8_t *payload, size_t len,
                     const uint8_t *key, size_t key_len, nb_bytes *out);

/* A secret the signer withholds from the signed payload: a resource path and its value. */
typedef struct {
  nb_path path; /* a resource: /o/i/r */
  const uint8_t *value;
  size_t len; /* 1..NB_COSE_SECRET_MAX */
} nb_cose_secret;

/* nb_cose_sign1 with n (at most NB_COSE_SECRETS_MAX, distinct paths) secrets withheld: each
 * gets a fresh random salt, its salt and SHA-256(salt || value) go into the protected header
 * (signed), its value into the unprotected one (not signed, travels beside). payload must not
 * hold them: the caller leaves them out. */
nb_err nb_cose_sign1_withheld(const nb_cose_headers *h, const uint8_t *payload, size_t len,
                              const nb_cose_secret *secrets, size_t n, const uint8_t *key,
                              size_t key_len, nb_bytes *out);

/* One withheld secret of a parsed message: its signed salt and digest, and its value when the
 * message carries it (a message as sent; kept evidence has none). */
typedef struct {
  nb_path path;
  const uint8_t *salt;   /* NB_COSE_SALT_LEN bytes */
  const uint8_t *digest; /* NB_COSE_DIGEST_LEN bytes: SHA-256(salt || value) */
  const uint8_t *value;  /* NULL when absent */
  size_t value_len;
} nb_cose_withheld;

/* A parsed COSE_Sign1: headers copied, payload and signature pointing into the input. */
typedef struct {
  nb_cose_headers h;
  const uint8_t *protected_hdr; /* the protected header's encoded map (signed as is) */
  size_t protected_len;
  const uint8_t *unprotected_hdr; /* the unprotected header's encoded map (not signed) */
  size_t unprotected_len;
  const uint8_t *payload;
  size_t payload_len;
  const uint8_t *sig; /* NB_DTLS_ES256_SIG_LEN bytes */
  nb_cose_withheld withheld[NB_COSE_SECRETS_MAX];
  size_t nwithheld;
  size_t nvalues; /* withheld secrets whose value the message carries */
} nb_cose_sign1_msg;

/* Parses (does not verify) data: a COSE_Sign1, tagged or not, ES256, embedded payload, no
 * critical header but the secret digests. NB_ERR_SYNTAX for malformed CBOR or structure,
 * duplicate labels or paths, trailing bytes, or a secret value with no signed digest;
 * NB_ERR_UNSUPPORTED for another algorithm, a detached payload or another `crit` label. */
nb_err nb_cose_parse(const uint8_t *data, size_t len, nb_cose_sign1_msg *out);
/* Checks m's signature against pub (SubjectPublicKeyInfo or certificate, PEM or DER):
 * NB_OK, or NB_ERR_DTLS_PEER_REJECTED when it does not verify. */
nb_err nb_cose_verify(const nb_cose_sign1_msg *m, const uint8_t *pub, size_t pub_len);

/* Parse, then verify: the common case. */
nb_err nb_cose_open(const uint8_t *data, size_t len, const uint8_t *pub, size_t pub_len,
                    nb_cose_sign1_msg *out);

/* Whether value is the secret w's signed digest commits to (constant time). */
bool nb_cose_secret_matches(const nb_cose_withheld *w, const uint8_t *value, size_t len);
/* Every withheld secret of m present and matching its signed digest: NB_OK, NB_ERR_NOT_FOUND
 * when one is missing, NB_ERR_DTLS_PEER_REJECTED when one does not match. Only meaningful once
 * m's signature verified. */
nb_err nb_cose_secrets_check(const nb_cose_sign1_msg *m);
/* Appends data (a COSE_Sign1 nb_cose_parse accepts) to out without the values of its withheld
 * secrets (unprotected label NB_COSE_H_SECRETS): the bytes to keep as evidence. Every other
 * byte is kept as it is, so the result verifies exactly when data does. */
nb_err nb_cose_strip(const uint8_t *data, size_t len, nb_bytes *out);

#endif
