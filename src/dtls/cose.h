/* Signed payloads: COSE_Sign1 (RFC 9052) with ES256 over P-256, the one structure Niobium uses
 * for non-repudiation. A peer signs an LwM2M payload with the private key of its DTLS credential
 * and the other side verifies it with the public key that authenticated the DTLS handshake;
 * the signed bytes can be kept and checked later by anyone holding that public key. CoAP
 * Content-Format 18 (application/cose; cose-type="cose-sign1"), tagged (CBOR tag 18). Headers:
 * protected {1 alg: -7, 3 content type: the payload's Content-Format, 15 CWT claims (RFC 9597):
 * {1 iss, 2 sub, 6 iat, 7 cti}}, unprotected {4 kid: the signer's secure ID, 15 bytes}. No
 * external AAD. Owns nothing; parsed messages point into the caller's bytes. */
#ifndef NB_DTLS_COSE_H
#define NB_DTLS_COSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "dtls/keys.h"

#define NB_COSE_CF_SIGN1 18 /* CoAP Content-Format of a COSE_Sign1 */
#define NB_COSE_TAG_SIGN1 18
#define NB_COSE_ALG_ES256 (-7)
#define NB_COSE_NAME_MAX 128 /* iss / sub plus NUL */
#define NB_COSE_ID_MAX 32    /* cti / kid bytes */

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

/* A parsed COSE_Sign1: headers copied, payload and signature pointing into the input. */
typedef struct {
  nb_cose_headers h;
  const uint8_t *protected_hdr; /* the protected header's encoded map (signed as is) */
  size_t protected_len;
  const uint8_t *payload;
  size_t payload_len;
  const uint8_t *sig; /* NB_DTLS_ES256_SIG_LEN bytes */
} nb_cose_sign1_msg;

/* Parses (does not verify) data: a COSE_Sign1, tagged or not, ES256, embedded payload, no
 * critical headers. NB_ERR_SYNTAX for malformed CBOR or structure, duplicate labels or
 * trailing bytes; NB_ERR_UNSUPPORTED for another algorithm, a detached payload or `crit`. */
nb_err nb_cose_parse(const uint8_t *data, size_t len, nb_cose_sign1_msg *out);
/* Checks m's signature against pub (SubjectPublicKeyInfo or certificate, PEM or DER):
 * NB_OK, or NB_ERR_DTLS_PEER_REJECTED when it does not verify. */
nb_err nb_cose_verify(const nb_cose_sign1_msg *m, const uint8_t *pub, size_t pub_len);

/* Parse, then verify: the common case. */
nb_err nb_cose_open(const uint8_t *data, size_t len, const uint8_t *pub, size_t pub_len,
                    nb_cose_sign1_msg *out);

#endif
