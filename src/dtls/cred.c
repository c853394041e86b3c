/* DTLS credentials on GnuTLS: PSK/RPK/X.509 setup, priority strings, peer verification. */
#include "dtls/cred.h"

#include <arpa/inet.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "dtls/keys.h"
#include "dtls/record.h"

/* Alert descriptions (RFC 5246 7.2, RFC 4279 2) our side sends. */
enum {
  NB_ALERT_HANDSHAKE_FAILURE = 40,
  NB_ALERT_BAD_CERTIFICATE = 42,
  NB_ALERT_CERTIFICATE_REVOKED = 44,
  NB_ALERT_CERTIFICATE_EXPIRED = 45,
  NB_ALERT_UNKNOWN_CA = 48,
  NB_ALERT_ACCESS_DENIED = 49,
  NB_ALERT_INTERNAL_ERROR = 80,
  NB_ALERT_UNKNOWN_PSK_IDENTITY = 115,
};

struct nb_dtls_creds {
  gnutls_psk_client_credentials_t psk_client;
  gnutls_psk_server_credentials_t psk_server;
  gnutls_certificate_credentials_t cert;
  bool has_psk_key;
  char *psk_identity;
  size_t psk_identity_len;
  nb_dtls_psk_lookup_fn lookup;
  void *lookup_user;
  bool has_rpk, has_x509;
  size_t trust_count;
  nb_bytes *rpk_pins, *cert_pins;
  size_t n_rpk_pins, n_cert_pins;
  nb_dtls_verify_fn verify;
  void *verify_user;
  char *peer_name;
  char *priority_override;
  gnutls_priority_t prio;
  char *priority; /* heap, exactly as long as it is ("" until built) */
};

const char *nb_dtls_mode_name(nb_dtls_mode mode) {
  switch (mode) {
    case NB_DTLS_MODE_PSK:
      return "psk";
    case NB_DTLS_MODE_RPK:
      return "rpk";
    case NB_DTLS_MODE_X509:
      return "x509";
    default:
      return "none";
  }
}

nb_err nb_dtls_secure_id(const uint8_t *spki_der, size_t len, char out[NB_DTLS_SECURE_ID_LEN + 1]) {
  static const char hex[] = "0123456789abcdef";
  uint8_t digest[32];
  if (len == 0) return NB_ERR_INVAL;
  if (gnutls_hash_fast(GNUTLS_DIG_SHA256, spki_der, len, digest) < 0) return NB_ERR_DTLS_GNUTLS;
  for (size_t i = 0; i < NB_DTLS_SECURE_ID_LEN / 2; i++) {
    out[2 * i] = hex[digest[i] >> 4];
    out[2 * i + 1] = hex[digest[i] & 15];
  }
  out[NB_DTLS_SECURE_ID_LEN] = 0;
  return NB_OK;
}

/* Strict UTF-8 (no overlongs, surrogates or NUL), as LwM2M identities are UTF-8 strings. */
static bool nb_dtls_utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    size_t extra;
    uint32_t cp;
    if (c == 0) return false;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i <= extra) return false;
    for (size_t k = 1; k <= extra; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF))) return false;
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    i += extra + 1;
  }
  return true;
}

/* ---- priority string ---- */

static nb_err nb_dtls_creds_rebuild(nb_dtls_creds *c) {
  nb_writer w;
  bool psk = c->has_psk_key || c->lookup;
  bool certs = c->has_rpk || c->has_x509;
  char text[512];
  nb_writer_init(&w, (uint8_t *)text, sizeof text - 1);
  if (c->priority_override) {
    nb_writer_str(&w, c->priority_override);
  } else {
    /* Mandatory LwM2M suites first (CCM_8, then CBC_SHA256), GCM as a fallback. */
    nb_writer_str(&w, "NONE:+VERS-DTLS1.2:+COMP-NULL");
    if (psk) nb_writer_str(&w, ":+PSK");
    if (certs) nb_writer_str(&w, ":+ECDHE-ECDSA");
    nb_writer_str(&w, ":+AES-128-CCM-8:+AES-128-CBC:+AES-128-GCM:+AEAD:+SHA256:+GROUP-SECP256R1");
    nb_writer_str(&w, ":+SIGN-ECDSA-SECP256R1-SHA256:+SIGN-ECDSA-SHA256");
    if (c->has_x509) nb_writer_str(&w, ":+SIGN-ALL");
    if (c->has_rpk) nb_writer_str(&w, ":+CTYPE-CLI-RAWPK:+CTYPE-SRV-RAWPK");
    if (c->has_x509) nb_writer_str(&w, ":+CTYPE-CLI-X509:+CTYPE-SRV-X509");
    nb_writer_str(&w, ":%SERVER_PRECEDENCE");
  }
  if (nb_writer_status(&w) != NB_OK) return NB_ERR_OVERFLOW;
  text[w.len] = 0;
  char *copy = strdup(text);
  if (!copy) return NB_ERR_NOMEM;
  free(c->priority);
  c->priority = copy;
  /* GnuTLS's parsed priority is about 8 KB: none until there is something to negotiate (attach
   * refuses a session without PSK or certificates anyway). */
  if (!psk && !certs && !c->priority_override) {
    if (c->prio) gnutls_priority_deinit(c->prio);
    c->prio = NULL;
    return NB_OK;
  }
  gnutls_priority_t prio;
  if (gnutls_priority_init2(&prio, c->priority, NULL, 0) < 0) return NB_ERR_DTLS_CREDENTIALS;
  if (c->prio) gnutls_priority_deinit(c->prio);
  c->prio = prio;
  return NB_OK;
}

const char *nb_dtls_creds_priority(const nb_dtls_creds *c) {
  return c->priority ? c->priority : "";
}

nb_err nb_dtls_creds_set_priority(nb_dtls_creds *c, const char *priority) {
  char *copy = strdup(priority);
  if (!copy) return NB_ERR_NOMEM;
  free(c->priority_override);
  c->priority_override = copy;
  return nb_dtls_creds_rebuild(c);
}

/* ---- PSK ---- */

static int nb_dtls_psk_server_cb(gnutls_session_t gs, const gnutls_datum_t *username,
                                 gnutls_datum_t *key) {
  nb_dtls_auth *a = gnutls_session_get_ptr(gs);
  const nb_dtls_creds *c = a->creds;
  uint8_t buf[NB_DTLS_PSK_KEY_MAX];
  size_t n = 0;
  nb_err err = NB_ERR_NOT_FOUND;
  if (c->lookup && username->size <= NB_DTLS_PSK_IDENTITY_MAX &&
      nb_dtls_utf8_valid(username->data, username->size)) {
    err = c->lookup(c->lookup_user, username->data, username->size, buf, sizeof buf, &n);
  }
  if (err != NB_OK || n == 0 || n > sizeof buf) {
    a->fail_alert = NB_ALERT_UNKNOWN_PSK_IDENTITY;
    a->fail_err = NB_ERR_DTLS_UNKNOWN_IDENTITY;
    gnutls_memset(buf, 0, sizeof buf);
    return -1;
  }
  key->data = gnutls_malloc(n);
  if (!key->data) return -1;
  memcpy(key->data, buf, n);
  key->size = (unsigned)n;
  gnutls_memset(buf, 0, sizeof buf);
  return 0;
}

nb_err nb_dtls_creds_set_psk(nb_dtls_creds *c, const char *identity, size_t identity_len,
                             const uint8_t *key, size_t key_len) {
  if (identity_len == 0 || identity_len > NB_DTLS_PSK_IDENTITY_MAX ||
      !nb_dtls_utf8_valid((const uint8_t *)identity, identity_len) || key_len == 0 ||
      key_len > NB_DTLS_PSK_KEY_MAX) {
    return NB_ERR_INVAL;
  }
  char *copy = malloc(identity_len + 1);
  if (!copy) return NB_ERR_NOMEM;
  memcpy(copy, identity, identity_len);
  copy[identity_len] = 0;
  gnutls_datum_t id = {(unsigned char *)copy, (unsigned)identity_len};
  gnutls_datum_t k = {(unsigned char *)key, (unsigned)key_len};
  /* GnuTLS does not release a previous identity/key when set again: start afresh. */
  gnutls_psk_client_credentials_t fresh;
  if (gnutls_psk_allocate_client_credentials(&fresh) < 0) {
    free(copy);
    return NB_ERR_NOMEM;
  }
  if (gnutls_psk_set_client_credentials2(fresh, &id, &k, GNUTLS_PSK_KEY_RAW) < 0) {
    gnutls_psk_free_client_credentials(fresh);
    free(copy);
    return NB_ERR_DTLS_CREDENTIALS;
  }
  if (c->psk_client) gnutls_psk_free_client_credentials(c->psk_client);
  c->psk_client = fresh;
  free(c->psk_identity);
  c->psk_identity = copy;
  c->psk_identity_len = identity_len;
  c->has_psk_key = true;
  return nb_dtls_creds_rebuild(c);
}

void nb_dtls_creds_set_psk_lookup(nb_dtls_creds *c, nb_dtls_psk_lookup_fn fn, void *user) {
  c->lookup = fn;
  c->lookup_user = user;
  /* Made on first use, as the other GnuTLS credentials: each costs GnuTLS a few hundred bytes
   * to kilobytes. Without them attach refuses the session (no PSK to offer). */
  if (fn && !c->psk_server && gnutls_psk_allocate_server_credentials(&c->psk_server) >= 0)
    gnutls_psk_set_server_credentials_function2(c->psk_server, nb_dtls_psk_server_cb);
  nb_dtls_creds_rebuild(c);
}

/* The certificate credentials (RPK and X.509), made on first use. */
static nb_err nb_dtls_cert_creds(nb_dtls_creds *c) {
  if (!c->cert && gnutls_certificate_allocate_credentials(&c->cert) < 0) {
    c->cert = NULL;
    return NB_ERR_NOMEM;
  }
  return NB_OK;
}

/* ---- certificates and raw public keys ---- */

nb_err nb_dtls_creds_set_rpk(nb_dtls_creds *c, const uint8_t *key, size_t key_len) {
  nb_dtls_keypair kp;
  nb_err err = nb_dtls_cert_creds(c);
  if (err == NB_OK) err = nb_dtls_keypair_load(key, key_len, &kp);
  if (err != NB_OK) return err;
  gnutls_datum_t spki = {kp.spki_der.data, (unsigned)kp.spki_der.len};
  gnutls_datum_t priv = {kp.key_der.data, (unsigned)kp.key_der.len};
  int rc = gnutls_certificate_set_rawpk_key_mem(c->cert, &spki, &priv, GNUTLS_X509_FMT_DER, NULL, 0,
                                                NULL, 0, 0);
  nb_dtls_keypair_free(&kp);
  if (rc < 0) return NB_ERR_DTLS_CREDENTIALS;
  c->has_rpk = true;
  return nb_dtls_creds_rebuild(c);
}

nb_err nb_dtls_creds_set_x509(nb_dtls_creds *c, const uint8_t *chain, size_t chain_len,
                              const uint8_t *key, size_t key_len) {
  nb_dtls_keypair kp;
  nb_err err = nb_dtls_cert_creds(c);
  if (err == NB_OK) err = nb_dtls_keypair_load(key, key_len, &kp);
  if (err != NB_OK) return err;
  gnutls_datum_t crt = {(unsigned char *)chain, (unsigned)chain_len};
  gnutls_datum_t priv = {kp.key_der.data, (unsigned)kp.key_der.len};
  int rc;
  if (nb_dtls_is_pem(chain, chain_len)) {
    /* Both halves must share one format: hand the key over as PEM too. */
    gnutls_datum_t priv_pem = {kp.key_pem.data, (unsigned)kp.key_pem.len};
    rc = gnutls_certificate_set_x509_key_mem2(c->cert, &crt, &priv_pem, GNUTLS_X509_FMT_PEM, NULL,
                                              0);
  } else {
    rc = gnutls_certificate_set_x509_key_mem2(c->cert, &crt, &priv, GNUTLS_X509_FMT_DER, NULL, 0);
  }
  nb_dtls_keypair_free(&kp);
  if (rc < 0)
    return rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH ? NB_ERR_DTLS_CREDENTIALS : NB_ERR_DTLS_BAD_KEY;
  c->has_x509 = true;
  return nb_dtls_creds_rebuild(c);
}

nb_err nb_dtls_creds_add_trust(nb_dtls_creds *c, const uint8_t *ca, size_t len) {
  gnutls_datum_t d = {(unsigned char *)ca, (unsigned)len};
  gnutls_x509_crt_fmt_t fmt = nb_dtls_is_pem(ca, len) ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER;
  if (nb_dtls_cert_creds(c) != NB_OK) return NB_ERR_NOMEM;
  int n = gnutls_certificate_set_x509_trust_mem(c->cert, &d, fmt);
  if (n <= 0) return NB_ERR_DTLS_BAD_KEY;
  c->trust_count += (size_t)n;
  return NB_OK;
}

static nb_err nb_dtls_pin_add(nb_bytes **list, size_t *n, const uint8_t *der, size_t len) {
  nb_bytes *grown = realloc(*list, (*n + 1) * sizeof **list);
  if (!grown) return NB_ERR_NOMEM;
  *list = grown;
  nb_bytes_init(&grown[*n]);
  nb_err err = nb_bytes_append(&grown[*n], der, len);
  if (err != NB_OK) return err;
  (*n)++;
  return NB_OK;
}

nb_err nb_dtls_creds_pin_rpk(nb_dtls_creds *c, const uint8_t *spki_der, size_t len) {
  if (!nb_dtls_spki_is_p256(spki_der, len)) return NB_ERR_DTLS_BAD_KEY;
  return nb_dtls_pin_add(&c->rpk_pins, &c->n_rpk_pins, spki_der, len);
}

nb_err nb_dtls_creds_pin_cert(nb_dtls_creds *c, const uint8_t *cert, size_t len) {
  gnutls_x509_crt_t crt;
  gnutls_datum_t d = {(unsigned char *)cert, (unsigned)len}, der = {0};
  gnutls_x509_crt_fmt_t fmt = nb_dtls_is_pem(cert, len) ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER;
  if (gnutls_x509_crt_init(&crt) < 0) return NB_ERR_NOMEM;
  nb_err err = NB_ERR_DTLS_BAD_KEY;
  if (gnutls_x509_crt_import(crt, &d, fmt) == 0 &&
      gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) == 0) {
    err = nb_dtls_pin_add(&c->cert_pins, &c->n_cert_pins, der.data, der.size);
    gnutls_free(der.data);
  }
  gnutls_x509_crt_deinit(crt);
  return err;
}

void nb_dtls_creds_set_verify(nb_dtls_creds *c, nb_dtls_verify_fn fn, void *user) {
  c->verify = fn;
  c->verify_user = user;
}

nb_err nb_dtls_creds_set_peer_name(nb_dtls_creds *c, const char *name) {
  char *copy = strdup(name);
  if (!copy) return NB_ERR_NOMEM;
  free(c->peer_name);
  c->peer_name = copy;
  return NB_OK;
}

/* ---- lifecycle ---- */

nb_err nb_dtls_creds_new(nb_dtls_creds **out) {
  nb_dtls_creds *c = calloc(1, sizeof *c);
  if (!c) return NB_ERR_NOMEM;
  /* GnuTLS's credentials and priority are made when something is set that needs them. */
  nb_err err = nb_dtls_creds_rebuild(c);
  if (err != NB_OK) {
    nb_dtls_creds_free(c);
    return err;
  }
  *out = c;
  return NB_OK;
}

void nb_dtls_creds_free(nb_dtls_creds *c) {
  if (!c) return;
  if (c->psk_client) gnutls_psk_free_client_credentials(c->psk_client);
  if (c->psk_server) gnutls_psk_free_server_credentials(c->psk_server);
  if (c->cert) gnutls_certificate_free_credentials(c->cert);
  if (c->prio) gnutls_priority_deinit(c->prio);
  for (size_t i = 0; i < c->n_rpk_pins; i++) nb_bytes_free(&c->rpk_pins[i]);
  for (size_t i = 0; i < c->n_cert_pins; i++) nb_bytes_free(&c->cert_pins[i]);
  free(c->rpk_pins);
  free(c->cert_pins);
  free(c->psk_identity);
  free(c->peer_name);
  free(c->priority_override);
  free(c->priority);
  free(c);
}

/* ---- peer verification ---- */

static nb_err nb_dtls_reject(nb_dtls_auth *a, int alert, nb_err err) {
  a->fail_alert = alert;
  a->fail_err = err;
  return err;
}

static bool nb_dtls_pinned(const nb_bytes *pins, size_t n, const gnutls_datum_t *raw) {
  for (size_t i = 0; i < n; i++) {
    if (pins[i].len == raw->size && memcmp(pins[i].data, raw->data, raw->size) == 0) return true;
  }
  return false;
}

nb_dtls_peer *nb_dtls_auth_peer(nb_dtls_auth *a) {
  if (a->peer) return a->peer;
  a->peer = calloc(1, sizeof *a->peer);
  if (!a->peer) return NULL;
  a->peer->mode = a->mode;
  const nb_dtls_creds *c = a->creds;
  if (!a->server && a->mode == NB_DTLS_MODE_PSK && c->psk_identity) {
    memcpy(a->peer->identity, c->psk_identity, c->psk_identity_len + 1);
    a->peer->identity_len = c->psk_identity_len;
  }
  return a->peer;
}

void nb_dtls_auth_reset(nb_dtls_auth *a) {
  free(a->peer);
  a->peer = NULL;
  a->mode = NB_DTLS_MODE_NONE;
  a->verified = false;
  a->fail_alert = -1;
  a->fail_err = NB_OK;
}

/* The peer record for a check in progress; on NOMEM the handshake fails. */
static nb_dtls_peer *nb_dtls_peer_for(nb_dtls_auth *a, nb_dtls_mode mode) {
  a->mode = mode;
  nb_dtls_peer *p = nb_dtls_auth_peer(a);
  if (p) {
    p->mode = mode;
    if (a->addr) p->addr = *a->addr;
    if (a->now) p->at = *a->now;
  } else {
    a->fail_alert = NB_ALERT_INTERNAL_ERROR;
    a->fail_err = NB_ERR_NOMEM;
  }
  return p;
}

/* Keeps the key that authenticated the peer (only a P-256 one fits, the only kind used). */
static void nb_dtls_peer_set_spki(nb_dtls_peer *peer, const uint8_t *spki, size_t len) {
  peer->spki_len = len <= sizeof peer->spki ? len : 0;
  if (peer->spki_len) memcpy(peer->spki, spki, len);
}

static nb_err nb_dtls_check_rpk(nb_dtls_auth *a, const gnutls_datum_t *spki) {
  const nb_dtls_creds *c = a->creds;
  nb_dtls_peer *peer = nb_dtls_peer_for(a, NB_DTLS_MODE_RPK);
  if (!peer) return NB_ERR_NOMEM;
  if (nb_dtls_secure_id(spki->data, spki->size, peer->secure_id) != NB_OK ||
      !nb_dtls_spki_is_p256(spki->data, spki->size)) {
    return nb_dtls_reject(a, NB_ALERT_BAD_CERTIFICATE, NB_ERR_DTLS_PEER_REJECTED);
  }
  nb_dtls_peer_set_spki(peer, spki->data, spki->size);
  /* Never accepted blindly: something must vouch for the key. */
  if (c->n_rpk_pins == 0 && !c->verify) {
    return nb_dtls_reject(a, NB_ALERT_BAD_CERTIFICATE, NB_ERR_DTLS_PEER_REJECTED);
  }
  if (c->n_rpk_pins > 0 && !nb_dtls_pinned(c->rpk_pins, c->n_rpk_pins, spki)) {
    return nb_dtls_reject(a, NB_ALERT_BAD_CERTIFICATE, NB_ERR_DTLS_PEER_REJECTED);
  }
  if (c->verify && c->verify(c->verify_user, peer, spki->data, spki->size) != NB_OK) {
    return nb_dtls_reject(a, NB_ALERT_BAD_CERTIFICATE, NB_ERR_DTLS_PEER_REJECTED);
  }
  return NB_OK;
}

/* Subject, CN and secure ID of an end-entity certificate into the peer record. */
static nb_err nb_dtls_describe_cert(nb_dtls_peer *peer, const gnutls_datum_t *der) {
  gnutls_x509_crt_t crt;
  gnutls_pubkey_t pub;
  gnutls_datum_t dn = {0}, spki = {0};
  nb_err err = NB_ERR_DTLS_BAD_KEY;
  if (gnutls_x509_crt_init(&crt) < 0) return NB_ERR_NOMEM;
  if (gnutls_pubkey_init(&pub) < 0) {
    gnutls_x509_crt_deinit(crt);
    return NB_ERR_NOMEM;
  }
  if (gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) == 0 &&
      gnutls_pubkey_import_x509(pub, crt, 0) == 0 &&
      gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki) == 0) {
    err = nb_dtls_secure_id(spki.data, spki.size, peer->secure_id);
    nb_dtls_peer_set_spki(peer, spki.data, spki.size);
    if (gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
      snprintf(peer->subject, sizeof peer->subject, "%.*s", (int)dn.size, (const char *)dn.data);
    }
    size_t cn_len = sizeof peer->common_name;
    if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, peer->common_name,
                                      &cn_len) < 0) {
      peer->common_name[0] = 0;
    }
  }
  gnutls_free(dn.data);
  gnutls_free(spki.data);
  gnutls_pubkey_deinit(pub);
  gnutls_x509_crt_deinit(crt);
  return err;
}

static int nb_dtls_status_alert(unsigned status) {
  if (status & GNUTLS_CERT_REVOKED) return NB_ALERT_CERTIFICATE_REVOKED;
  if (status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED))
    return NB_ALERT_CERTIFICATE_EXPIRED;
  if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA))
    return NB_ALERT_UNKNOWN_CA;
  return NB_ALERT_BAD_CERTIFICATE;
}

static nb_err nb_dtls_check_x509(nb_dtls_auth *a, gnutls_session_t gs, const gnutls_datum_t *ee) {
  const nb_dtls_creds *c = a->creds;
  nb_dtls_peer *peer = nb_dtls_peer_for(a, NB_DTLS_MODE_X509);
  if (!peer) return NB_ERR_NOMEM;
  if (nb_dtls_describe_cert(peer, ee) != NB_OK) {
    return nb_dtls_reject(a, NB_ALERT_BAD_CERTIFICATE, NB_ERR_DTLS_PEER_REJECTED);
  }
  if (c->trust_count == 0 && c->n_cert_pins == 0) {
    return nb_dtls_reject(a, NB_ALERT_UNKNOWN_CA, NB_ERR_DTLS_UNTRUSTED);
  }
  if (c->trust_count > 0) {
    unsigned status = 0;
    const char *name = a->server ? NULL : c->peer_name;
    if (gnutls_certificate_verify_peers3(gs, name, &status) < 0 || status != 0) {
      return nb_dtls_reject(a, nb_dtls_status_alert(status), NB_ERR_DTLS_UNTRUSTED);
    }
  }
  if (c->n_cert_pins > 0 && !nb_dtls_pinned(c->cert_pins, c->n_cert_pins, ee)) {
    return nb_dtls_reject(a, NB_ALERT_BAD_CERTIFICATE, NB_ERR_DTLS_PEER_REJECTED);
  }
  if (c->verify && c->verify(c->verify_user, peer, ee->data, ee->size) != NB_OK) {
    return nb_dtls_reject(a, NB_ALERT_ACCESS_DENIED, NB_ERR_DTLS_PEER_REJECTED);
  }
  return NB_OK;
}

static nb_err nb_dtls_check_cert(nb_dtls_auth *a, gnutls_session_t gs) {
  unsigned n = 0;
  const gnutls_datum_t *certs = gnutls_certificate_get_peers(gs, &n);
  if (!certs || n == 0)
    return nb_dtls_reject(a, NB_ALERT_HANDSHAKE_FAILURE, NB_ERR_DTLS_PEER_REJECTED);
  switch (gnutls_certificate_type_get2(gs, GNUTLS_CTYPE_PEERS)) {
    case GNUTLS_CRT_RAWPK:
      return nb_dtls_check_rpk(a, &certs[0]);
    case GNUTLS_CRT_X509:
      return nb_dtls_check_x509(a, gs, &certs[0]);
    default:
      return nb_dtls_reject(a, NB_ALERT_BAD_CERTIFICATE, NB_ERR_DTLS_PEER_REJECTED);
  }
}

static int nb_dtls_verify_hook(gnutls_session_t gs) {
  nb_dtls_auth *a = gnutls_session_get_ptr(gs);
  if (nb_dtls_check_cert(a, gs) != NB_OK) return -1;
  a->verified = true;
  return 0;
}

static nb_err nb_dtls_finish_psk(nb_dtls_auth *a, gnutls_session_t gs) {
  const nb_dtls_creds *c = a->creds;
  a->mode = NB_DTLS_MODE_PSK;
  if (!a->server) return NB_OK; /* our own identity: described when asked */
  nb_dtls_peer *p = nb_dtls_peer_for(a, NB_DTLS_MODE_PSK);
  if (!p) return NB_ERR_NOMEM;
  gnutls_datum_t id = {0};
  if (gnutls_psk_server_get_username2(gs, &id) < 0 || id.size > NB_DTLS_PSK_IDENTITY_MAX) {
    return nb_dtls_reject(a, NB_ALERT_UNKNOWN_PSK_IDENTITY, NB_ERR_DTLS_UNKNOWN_IDENTITY);
  }
  memcpy(p->identity, id.data, id.size);
  p->identity[id.size] = 0;
  p->identity_len = id.size;
  if (gnutls_session_is_resumed(gs)) {
    /* Resumption skipped the lookup: make sure the store still knows this identity. */
    uint8_t key[NB_DTLS_PSK_KEY_MAX];
    size_t n = 0;
    nb_err err = c->lookup ? c->lookup(c->lookup_user, id.data, id.size, key, sizeof key, &n)
                           : NB_ERR_NOT_FOUND;
    gnutls_memset(key, 0, sizeof key);
    if (err != NB_OK) {
      return nb_dtls_reject(a, NB_ALERT_UNKNOWN_PSK_IDENTITY, NB_ERR_DTLS_UNKNOWN_IDENTITY);
    }
  }
  return NB_OK;
}

nb_err nb_dtls_auth_finish(nb_dtls_auth *a, gnutls_session_t gs) {
  if (a->verified) return NB_OK;
  nb_err err;
  switch (gnutls_kx_get(gs)) {
    case GNUTLS_KX_PSK:
      err = nb_dtls_finish_psk(a, gs);
      break;
    case GNUTLS_KX_ECDHE_ECDSA:
      err = nb_dtls_check_cert(a, gs);
      break;
    default:
      err = nb_dtls_reject(a, NB_ALERT_HANDSHAKE_FAILURE, NB_ERR_DTLS_HANDSHAKE);
      break;
  }
  if (err == NB_OK) a->verified = true;
  return err;
}

static bool nb_dtls_is_ip_literal(const char *name) {
  uint8_t buf[16];
  return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

nb_err nb_dtls_creds_attach(const nb_dtls_creds *c, gnutls_session_t gs, bool server) {
  bool psk = server ? c->lookup != NULL : c->has_psk_key;
  bool certs = c->has_rpk || c->has_x509;
  if (!psk && !certs) return NB_ERR_DTLS_CREDENTIALS;
  if (!c->prio || gnutls_priority_set(gs, c->prio) < 0) return NB_ERR_DTLS_CREDENTIALS;
  if (psk) {
    void *cred = server ? (void *)c->psk_server : (void *)c->psk_client;
    if (!cred || gnutls_credentials_set(gs, GNUTLS_CRD_PSK, cred) < 0)
      return NB_ERR_DTLS_CREDENTIALS;
  }
  if (certs) {
    if (!c->cert || gnutls_credentials_set(gs, GNUTLS_CRD_CERTIFICATE, c->cert) < 0)
      return NB_ERR_DTLS_CREDENTIALS;
    if (server) {
      gnutls_certificate_server_set_request(gs, GNUTLS_CERT_REQUIRE);
      /* No CA list in CertificateRequest: fewer bytes, and a device whose certificate is from
       * another CA still sends it, so it gets unknown_ca rather than an empty Certificate. */
      gnutls_certificate_send_x509_rdn_sequence(gs, 1);
    }
    gnutls_session_set_verify_function(gs, nb_dtls_verify_hook);
  }
  if (!server && c->peer_name && !nb_dtls_is_ip_literal(c->peer_name)) {
    gnutls_server_name_set(gs, GNUTLS_NAME_DNS, c->peer_name, strlen(c->peer_name));
  }
  return NB_OK;
}
