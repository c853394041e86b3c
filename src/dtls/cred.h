/* Credentials for DTLS sessions: our PSK, raw public key (RFC 7250) or X.509 chain, how a peer
 * is verified (PSK lookup, pinned keys or end-entity certificates, trust anchors, a policy
 * callback), and the GnuTLS priority string with the LwM2M mandatory suites first. One
 * nb_dtls_creds is shared read-only by any number of sessions; it owns its GnuTLS handles. */
#ifndef NB_DTLS_CRED_H
#define NB_DTLS_CRED_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"
#include "base/time.h"

typedef enum {
  NB_DTLS_MODE_NONE = 0,
  NB_DTLS_MODE_PSK = 1,  /* TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_CBC_SHA256 */
  NB_DTLS_MODE_RPK = 2,  /* ECDHE_ECDSA suites with raw P-256 public keys */
  NB_DTLS_MODE_X509 = 3, /* ECDHE_ECDSA suites with X.509 certificates */
} nb_dtls_mode;

const char *nb_dtls_mode_name(nb_dtls_mode mode); /* "psk", "rpk", "x509", "none" */

/* Secure ID of a raw public key: SHA-256 of its SubjectPublicKeyInfo (DER), first 120 bits, as
 * 30 lowercase hex digits. */
#define NB_DTLS_SECURE_ID_LEN 30
nb_err nb_dtls_secure_id(const uint8_t *spki_der, size_t len, char out[NB_DTLS_SECURE_ID_LEN + 1]);

#define NB_DTLS_PSK_IDENTITY_MAX 256 /* bytes of UTF-8 */
#define NB_DTLS_PSK_KEY_MAX 64       /* bytes */
#define NB_DTLS_SPKI_MAX 128         /* a P-256 SubjectPublicKeyInfo is 91 bytes */

/* The authenticated peer, for the layers above to bind to an endpoint name. */
typedef struct {
  nb_dtls_mode mode;
  char identity[NB_DTLS_PSK_IDENTITY_MAX + 1]; /* PSK identity, UTF-8, NUL-terminated */
  size_t identity_len;
  char secure_id[NB_DTLS_SECURE_ID_LEN + 1]; /* RPK and X.509: of the peer's public key */
  char subject[256];                         /* X.509 subject DN (RFC 4514) */
  char common_name[128];                     /* X.509 subject CN */
  /* RPK and X.509: the peer's SubjectPublicKeyInfo (DER), which verifies what it signs. */
  uint8_t spki[NB_DTLS_SPKI_MAX];
  size_t spki_len;
  /* Where the handshake came from, and the session's time (the `now` its caller gave) when the
   * peer's credential was checked: what a verify hook needs to report a refusal. */
  nb_addr addr;
  nb_time_ms at;
} nb_dtls_peer;

/* Server side of PSK: the key of `identity` (UTF-8, not NUL-terminated) into key[0..cap), or
 * NB_ERR_NOT_FOUND when the identity is unknown (the handshake then fails with the
 * unknown_psk_identity alert). */
typedef nb_err (*nb_dtls_psk_lookup_fn)(void *user, const uint8_t *identity, size_t identity_len,
                                        uint8_t *key, size_t cap, size_t *key_len);

/* Policy decision on a peer that presented a raw public key or certificate (after any pin and
 * chain checks passed): raw is the SubjectPublicKeyInfo (RPK) or end-entity certificate (X.509),
 * DER. NB_OK accepts; anything else fails the handshake (bad_certificate for RPK, access_denied
 * for X.509). */
typedef nb_err (*nb_dtls_verify_fn)(void *user, const nb_dtls_peer *peer, const uint8_t *raw,
                                    size_t raw_len);

typedef struct nb_dtls_creds nb_dtls_creds;

nb_err nb_dtls_creds_new(nb_dtls_creds **out);
void nb_dtls_creds_free(nb_dtls_creds *c);

/* Our PSK (client side): UTF-8 identity, binary key of 1..NB_DTLS_PSK_KEY_MAX bytes. */
nb_err nb_dtls_creds_set_psk(nb_dtls_creds *c, const char *identity, size_t identity_len,
                             const uint8_t *key, size_t key_len);
/* Server side of PSK: where keys come from (the security store). */
void nb_dtls_creds_set_psk_lookup(nb_dtls_creds *c, nb_dtls_psk_lookup_fn fn, void *user);
/* Our raw public key: a P-256 private key, PEM or DER (SEC1 or PKCS#8). */
nb_err nb_dtls_creds_set_rpk(nb_dtls_creds *c, const uint8_t *key, size_t key_len);
/* Our X.509 chain (end-entity first, PEM or DER) and its P-256 private key. */
nb_err nb_dtls_creds_set_x509(nb_dtls_creds *c, const uint8_t *chain, size_t chain_len,
                              const uint8_t *key, size_t key_len);
/* Trust anchors (PEM, one or more, or one DER certificate): peer chains must verify to one. */
nb_err nb_dtls_creds_add_trust(nb_dtls_creds *c, const uint8_t *ca, size_t len);
/* An expected peer raw public key (SubjectPublicKeyInfo DER); several may be pinned. */
nb_err nb_dtls_creds_pin_rpk(nb_dtls_creds *c, const uint8_t *spki_der, size_t len);
/* An expected peer end-entity certificate (PEM or DER): LwM2M "domain-issued certificate"
 * usage; with no trust anchors the chain is then not checked, only the exact certificate. */
nb_err nb_dtls_creds_pin_cert(nb_dtls_creds *c, const uint8_t *cert, size_t len);
void nb_dtls_creds_set_verify(nb_dtls_creds *c, nb_dtls_verify_fn fn, void *user);
/* Client side: the server's DNS name, sent as SNI and checked against its certificate. */
nb_err nb_dtls_creds_set_peer_name(nb_dtls_creds *c, const char *name);
/* Replaces the built priority string (tests and interop experiments only). */
nb_err nb_dtls_creds_set_priority(nb_dtls_creds *c, const char *priority);
const char *nb_dtls_creds_priority(const nb_dtls_creds *c);

/* ---- Used by session.c ---- */

/* Per-session authentication state. gnutls_session_get_ptr() of a session attached with
 * nb_dtls_creds_attach must point to one. */
typedef struct {
  const nb_dtls_creds *creds;
  bool server;
  bool verified;  /* peer filled in and accepted */
  int fail_alert; /* alert our side decided on, -1 when none */
  nb_err fail_err;
  nb_dtls_mode mode; /* how the peer authenticated, once known */
  /* Heap, made when first needed (a check, a server's PSK identity, or a caller asking): a
   * PSK client, which never asks, does not carry the 700-byte record. */
  nb_dtls_peer *peer;
  /* The session's peer address and clock (session.c points them at its own fields). */
  const nb_addr *addr;
  const nb_time_ms *now;
} nb_dtls_auth;

/* The peer record, allocated on first use (a PSK client's is filled from its credentials);
 * NULL when out of memory. */
nb_dtls_peer *nb_dtls_auth_peer(nb_dtls_auth *a);
/* Forgets the peer and the verdict, for a fresh handshake; also what a session frees. */
void nb_dtls_auth_reset(nb_dtls_auth *a);

/* Sets priorities, credentials, the verify hook, the certificate request and SNI. */
nb_err nb_dtls_creds_attach(const nb_dtls_creds *c, gnutls_session_t gs, bool server);
/* After a completed handshake: fills auth->peer if the verify hook did not (PSK, resumption)
 * and re-checks a resumed peer against the current credentials (a revoked PSK identity or
 * key no longer resumes). On refusal sets fail_alert/fail_err and returns the error. */
nb_err nb_dtls_auth_finish(nb_dtls_auth *a, gnutls_session_t gs);

#endif
