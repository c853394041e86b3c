/* Key material for DTLS credentials: random PSKs, P-256 key pairs with their
 * SubjectPublicKeyInfo and secure ID, and a small X.509 CA (self-signed root, device and server
 * certificates) for tests and first use. What `niobium keys` prints and writes. Keys, serial
 * numbers and PSKs come from GnuTLS's CSPRNG (kernel-seeded). */
#ifndef NB_DTLS_KEYS_H
#define NB_DTLS_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "dtls/cred.h"

/* True when data looks like PEM ("-----BEGIN" somewhere in it). */
bool nb_dtls_is_pem(const uint8_t *data, size_t len);

/* len random key bytes from the CSPRNG. */
nb_err nb_dtls_psk_generate(uint8_t *key, size_t len);

/* A P-256 key pair in every form the CLI writes. Owns its buffers. */
typedef struct {
  nb_bytes key_pem;  /* PKCS#8 "PRIVATE KEY" */
  nb_bytes key_der;  /* PKCS#8 DER */
  nb_bytes spki_der; /* SubjectPublicKeyInfo */
  nb_bytes spki_pem; /* "PUBLIC KEY" */
  char secure_id[NB_DTLS_SECURE_ID_LEN + 1];
} nb_dtls_keypair;

nb_err nb_dtls_keypair_generate(nb_dtls_keypair *out);
/* From a private key in PEM or DER (SEC1 or PKCS#8); NB_ERR_UNSUPPORTED if not P-256. */
nb_err nb_dtls_keypair_load(const uint8_t *key, size_t len, nb_dtls_keypair *out);
void nb_dtls_keypair_free(nb_dtls_keypair *kp);

/* SubjectPublicKeyInfo DER from a public key (SPKI PEM/DER), a certificate (PEM/DER) or a
 * private key (PEM/DER). Appends to spki_der. */
nb_err nb_dtls_spki_load(const uint8_t *data, size_t len, nb_bytes *spki_der);
/* True when the SPKI is an EC P-256 key (the only kind LwM2M raw public keys use here). */
bool nb_dtls_spki_is_p256(const uint8_t *spki_der, size_t len);

/* What a certificate says about its subject. */
typedef struct {
  const char *cn;           /* subject common name, required */
  unsigned days;            /* validity from one hour ago; 0 = 365 (3650 for a CA) */
  const char *const *names; /* subjectAltName entries: IP literals become iPAddress, */
  size_t n_names;           /* anything else dNSName */
} nb_dtls_cert_request;

/* A certificate with its key pair. */
typedef struct {
  nb_bytes cert_pem;
  nb_bytes cert_der;
  nb_dtls_keypair key;
} nb_dtls_certkey;

/* A self-signed CA (basicConstraints CA, keyCertSign/cRLSign) with a new P-256 key. */
nb_err nb_dtls_cert_make_ca(const nb_dtls_cert_request *req, nb_dtls_certkey *out);
/* An end-entity certificate (digitalSignature, serverAuth+clientAuth) with a new P-256 key,
 * signed by the CA given as certificate and private key (PEM or DER). */
nb_err nb_dtls_cert_issue(const uint8_t *ca_cert, size_t ca_cert_len, const uint8_t *ca_key,
                          size_t ca_key_len, const nb_dtls_cert_request *req, nb_dtls_certkey *out);
void nb_dtls_certkey_free(nb_dtls_certkey *ck);

/* ECDSA P-256 with SHA-256 in the raw form COSE and JOSE use (r then s, 32 bytes each; RFC 9053
 * 2.1). Signing takes a private key in PEM or DER (SEC1 or PKCS#8); NB_ERR_UNSUPPORTED when it
 * is not P-256. Verifying takes a SubjectPublicKeyInfo or a certificate (PEM or DER) and returns
 * NB_ERR_DTLS_PEER_REJECTED for a signature that does not verify. */
#define NB_DTLS_ES256_SIG_LEN 64
/* signer (may be NULL) receives the secure ID of the key's public half. */
nb_err nb_dtls_es256_sign(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
                          uint8_t sig[NB_DTLS_ES256_SIG_LEN],
                          char signer[NB_DTLS_SECURE_ID_LEN + 1]);
nb_err nb_dtls_es256_verify(const uint8_t *pub, size_t pub_len, const uint8_t *data, size_t len,
                            const uint8_t sig[NB_DTLS_ES256_SIG_LEN]);

#endif
