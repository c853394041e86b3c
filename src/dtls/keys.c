/* PSKs, P-256 key pairs, SPKI and secure IDs, and a small X.509 CA, on GnuTLS's x509 API. */
#include "dtls/keys.h"

#include <arpa/inet.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <string.h>
#include <time.h>

bool nb_dtls_is_pem(const uint8_t *data, size_t len) {
  return data && len >= 10 && memmem(data, len, "-----BEGIN", 10) != NULL;
}

static gnutls_x509_crt_fmt_t nb_dtls_fmt(const uint8_t *data, size_t len) {
  return nb_dtls_is_pem(data, len) ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER;
}

static gnutls_datum_t nb_dtls_datum(const uint8_t *data, size_t len) {
  gnutls_datum_t d = {(unsigned char *)data, (unsigned)len};
  return d;
}

/* Moves a GnuTLS-allocated datum into an nb_bytes (appending) and frees it. */
static nb_err nb_dtls_take_datum(gnutls_datum_t *d, nb_bytes *out) {
  nb_err err = nb_bytes_append(out, d->data, d->size);
  gnutls_free(d->data);
  d->data = NULL;
  return err;
}

nb_err nb_dtls_psk_generate(uint8_t *key, size_t len) {
  if (len == 0) return NB_ERR_INVAL;
  return gnutls_rnd(GNUTLS_RND_KEY, key, len) == 0 ? NB_OK : NB_ERR_IO;
}

static bool nb_dtls_privkey_is_p256(gnutls_x509_privkey_t key) {
  gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
  gnutls_datum_t x = {0}, y = {0}, k = {0};
  if (gnutls_x509_privkey_get_pk_algorithm(key) != GNUTLS_PK_ECDSA) return false;
  if (gnutls_x509_privkey_export_ecc_raw(key, &curve, &x, &y, &k) < 0) return false;
  gnutls_free(x.data);
  gnutls_free(y.data);
  gnutls_memset(k.data, 0, k.size);
  gnutls_free(k.data);
  return curve == GNUTLS_ECC_CURVE_SECP256R1;
}

/* Fills every form of kp from a parsed private key. */
static nb_err nb_dtls_keypair_fill(gnutls_x509_privkey_t key, nb_dtls_keypair *kp) {
  gnutls_privkey_t priv = NULL;
  gnutls_pubkey_t pub = NULL;
  gnutls_datum_t d = {0};
  nb_err err = NB_ERR_DTLS_BAD_KEY;
  memset(kp, 0, sizeof *kp);
  if (gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &d) < 0)
    goto done;
  if ((err = nb_dtls_take_datum(&d, &kp->key_pem)) != NB_OK) goto done;
  err = NB_ERR_DTLS_BAD_KEY;
  if (gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN, &d) < 0)
    goto done;
  if ((err = nb_dtls_take_datum(&d, &kp->key_der)) != NB_OK) goto done;
  err = NB_ERR_DTLS_BAD_KEY;
  if (gnutls_privkey_init(&priv) < 0 || gnutls_pubkey_init(&pub) < 0) goto done;
  if (gnutls_privkey_import_x509(priv, key, GNUTLS_PRIVKEY_IMPORT_COPY) < 0) goto done;
  if (gnutls_pubkey_import_privkey(pub, priv, 0, 0) < 0) goto done;
  if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &d) < 0) goto done;
  if ((err = nb_dtls_take_datum(&d, &kp->spki_der)) != NB_OK) goto done;
  err = NB_ERR_DTLS_BAD_KEY;
  if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &d) < 0) goto done;
  if ((err = nb_dtls_take_datum(&d, &kp->spki_pem)) != NB_OK) goto done;
  err = nb_dtls_secure_id(kp->spki_der.data, kp->spki_der.len, kp->secure_id);
done:
  if (priv) gnutls_privkey_deinit(priv);
  if (pub) gnutls_pubkey_deinit(pub);
  if (err != NB_OK) nb_dtls_keypair_free(kp);
  return err;
}

nb_err nb_dtls_keypair_generate(nb_dtls_keypair *out) {
  gnutls_x509_privkey_t key;
  memset(out, 0, sizeof *out);
  if (gnutls_x509_privkey_init(&key) < 0) return NB_ERR_NOMEM;
  nb_err err = NB_ERR_DTLS_GNUTLS;
  unsigned bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1);
  if (gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, bits, 0) == 0) {
    err = nb_dtls_keypair_fill(key, out);
  }
  gnutls_x509_privkey_deinit(key);
  return err;
}

/* Parses a private key (PEM or DER, SEC1 or PKCS#8, unencrypted). */
static nb_err nb_dtls_privkey_parse(const uint8_t *data, size_t len, gnutls_x509_privkey_t *out) {
  gnutls_datum_t d = nb_dtls_datum(data, len);
  if (gnutls_x509_privkey_init(out) < 0) return NB_ERR_NOMEM;
  if (gnutls_x509_privkey_import2(*out, &d, nb_dtls_fmt(data, len), NULL, GNUTLS_PKCS_PLAIN) < 0) {
    gnutls_x509_privkey_deinit(*out);
    *out = NULL;
    return NB_ERR_DTLS_BAD_KEY;
  }
  return NB_OK;
}

nb_err nb_dtls_keypair_load(const uint8_t *key, size_t len, nb_dtls_keypair *out) {
  gnutls_x509_privkey_t k;
  memset(out, 0, sizeof *out);
  nb_err err = nb_dtls_privkey_parse(key, len, &k);
  if (err != NB_OK) return err;
  err = nb_dtls_privkey_is_p256(k) ? nb_dtls_keypair_fill(k, out) : NB_ERR_UNSUPPORTED;
  gnutls_x509_privkey_deinit(k);
  return err;
}

void nb_dtls_keypair_free(nb_dtls_keypair *kp) {
  if (kp->key_pem.data) gnutls_memset(kp->key_pem.data, 0, kp->key_pem.len);
  if (kp->key_der.data) gnutls_memset(kp->key_der.data, 0, kp->key_der.len);
  nb_bytes_free(&kp->key_pem);
  nb_bytes_free(&kp->key_der);
  nb_bytes_free(&kp->spki_der);
  nb_bytes_free(&kp->spki_pem);
}

/* Tries, in order: a public key, a certificate, a private key. */
nb_err nb_dtls_spki_load(const uint8_t *data, size_t len, nb_bytes *spki_der) {
  gnutls_datum_t d = nb_dtls_datum(data, len), out = {0};
  gnutls_x509_crt_fmt_t fmt = nb_dtls_fmt(data, len);
  gnutls_pubkey_t pub;
  if (len == 0) return NB_ERR_INVAL;
  if (gnutls_pubkey_init(&pub) < 0) return NB_ERR_NOMEM;
  int rc = gnutls_pubkey_import(pub, &d, fmt);
  if (rc < 0) {
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) == 0) {
      if (gnutls_x509_crt_import(crt, &d, fmt) == 0) rc = gnutls_pubkey_import_x509(pub, crt, 0);
      gnutls_x509_crt_deinit(crt);
    }
  }
  if (rc < 0) {
    gnutls_x509_privkey_t key;
    if (nb_dtls_privkey_parse(data, len, &key) == NB_OK) {
      gnutls_privkey_t priv;
      if (gnutls_privkey_init(&priv) == 0) {
        if (gnutls_privkey_import_x509(priv, key, GNUTLS_PRIVKEY_IMPORT_COPY) == 0)
          rc = gnutls_pubkey_import_privkey(pub, priv, 0, 0);
        gnutls_privkey_deinit(priv);
      }
      gnutls_x509_privkey_deinit(key);
    }
  }
  nb_err err = NB_ERR_DTLS_BAD_KEY;
  if (rc == 0 && gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &out) == 0) {
    err = nb_dtls_take_datum(&out, spki_der);
  }
  gnutls_pubkey_deinit(pub);
  return err;
}

bool nb_dtls_spki_is_p256(const uint8_t *spki_der, size_t len) {
  gnutls_pubkey_t pub;
  gnutls_datum_t d = nb_dtls_datum(spki_der, len);
  gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
  bool ok = false;
  if (gnutls_pubkey_init(&pub) < 0) return false;
  if (gnutls_pubkey_import(pub, &d, GNUTLS_X509_FMT_DER) == 0 &&
      gnutls_pubkey_get_pk_algorithm(pub, NULL) == GNUTLS_PK_ECDSA &&
      gnutls_pubkey_export_ecc_raw(pub, &curve, NULL, NULL) == 0) {
    ok = curve == GNUTLS_ECC_CURVE_SECP256R1;
  }
  gnutls_pubkey_deinit(pub);
  return ok;
}

/* ---- certificates ---- */

static nb_err nb_dtls_crt_set_serial(gnutls_x509_crt_t crt) {
  uint8_t serial[16];
  if (gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial) < 0) return NB_ERR_IO;
  serial[0] = (uint8_t)((serial[0] & 0x7F) | 0x40); /* positive, full length */
  return gnutls_x509_crt_set_serial(crt, serial, sizeof serial) == 0 ? NB_OK : NB_ERR_DTLS_GNUTLS;
}

static nb_err nb_dtls_crt_set_names(gnutls_x509_crt_t crt, const nb_dtls_cert_request *req) {
  for (size_t i = 0; i < req->n_names; i++) {
    const char *name = req->names[i];
    uint8_t ip[16];
    int rc;
    if (inet_pton(AF_INET, name, ip) == 1) {
      rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 4,
                                                GNUTLS_FSAN_APPEND);
    } else if (inet_pton(AF_INET6, name, ip) == 1) {
      rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 16,
                                                GNUTLS_FSAN_APPEND);
    } else {
      rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, name,
                                                (unsigned)strlen(name), GNUTLS_FSAN_APPEND);
    }
    if (rc < 0) return NB_ERR_INVAL;
  }
  return NB_OK;
}

/* Subject, validity, serial, public key and subject key identifier of a new certificate. */
static nb_err nb_dtls_crt_prepare(gnutls_x509_crt_t crt, const nb_dtls_cert_request *req,
                                  unsigned default_days, gnutls_x509_privkey_t key) {
  time_t now = time(NULL);
  unsigned days = req->days ? req->days : default_days;
  uint8_t kid[64];
  size_t kid_len = sizeof kid;
  if (!req->cn || !*req->cn) return NB_ERR_INVAL;
  if (gnutls_x509_crt_set_version(crt, 3) < 0) return NB_ERR_DTLS_GNUTLS;
  if (gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, req->cn,
                                    (unsigned)strlen(req->cn)) < 0)
    return NB_ERR_INVAL;
  if (gnutls_x509_crt_set_activation_time(crt, now - 3600) < 0) return NB_ERR_DTLS_GNUTLS;
  if (gnutls_x509_crt_set_expiration_time(crt, now + (time_t)days * 86400) < 0)
    return NB_ERR_DTLS_GNUTLS;
  nb_err err = nb_dtls_crt_set_serial(crt);
  if (err != NB_OK) return err;
  if (gnutls_x509_crt_set_key(crt, key) < 0) return NB_ERR_DTLS_GNUTLS;
  if (gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, kid, &kid_len) < 0 ||
      gnutls_x509_crt_set_subject_key_id(crt, kid, kid_len) < 0)
    return NB_ERR_DTLS_GNUTLS;
  return nb_dtls_crt_set_names(crt, req);
}

static nb_err nb_dtls_crt_sign(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer,
                               gnutls_x509_privkey_t issuer_key) {
  gnutls_privkey_t priv;
  if (gnutls_privkey_init(&priv) < 0) return NB_ERR_NOMEM;
  int rc = gnutls_privkey_import_x509(priv, issuer_key, GNUTLS_PRIVKEY_IMPORT_COPY);
  if (rc == 0) rc = gnutls_x509_crt_privkey_sign(crt, issuer, priv, GNUTLS_DIG_SHA256, 0);
  gnutls_privkey_deinit(priv);
  return rc == 0 ? NB_OK : NB_ERR_DTLS_GNUTLS;
}

static nb_err nb_dtls_crt_export(gnutls_x509_crt_t crt, nb_dtls_certkey *out) {
  gnutls_datum_t d = {0};
  if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) < 0) return NB_ERR_DTLS_GNUTLS;
  nb_err err = nb_dtls_take_datum(&d, &out->cert_pem);
  if (err != NB_OK) return err;
  if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &d) < 0) return NB_ERR_DTLS_GNUTLS;
  return nb_dtls_take_datum(&d, &out->cert_der);
}

/* A fresh P-256 key as a GnuTLS object plus its exported forms in out->key. */
static nb_err nb_dtls_new_key(gnutls_x509_privkey_t *key, nb_dtls_certkey *out) {
  if (gnutls_x509_privkey_init(key) < 0) return NB_ERR_NOMEM;
  unsigned bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1);
  if (gnutls_x509_privkey_generate(*key, GNUTLS_PK_ECDSA, bits, 0) < 0) return NB_ERR_DTLS_GNUTLS;
  return nb_dtls_keypair_fill(*key, &out->key);
}

nb_err nb_dtls_cert_make_ca(const nb_dtls_cert_request *req, nb_dtls_certkey *out) {
  gnutls_x509_privkey_t key = NULL;
  gnutls_x509_crt_t crt = NULL;
  memset(out, 0, sizeof *out);
  nb_err err = nb_dtls_new_key(&key, out);
  if (err == NB_OK && gnutls_x509_crt_init(&crt) < 0) err = NB_ERR_NOMEM;
  if (err == NB_OK) err = nb_dtls_crt_prepare(crt, req, 3650, key);
  if (err == NB_OK &&
      (gnutls_x509_crt_set_basic_constraints(crt, 1, -1) < 0 ||
       gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN) < 0)) {
    err = NB_ERR_DTLS_GNUTLS;
  }
  if (err == NB_OK) err = nb_dtls_crt_sign(crt, crt, key);
  if (err == NB_OK) err = nb_dtls_crt_export(crt, out);
  if (crt) gnutls_x509_crt_deinit(crt);
  if (key) gnutls_x509_privkey_deinit(key);
  if (err != NB_OK) nb_dtls_certkey_free(out);
  return err;
}

/* The issuer's certificate and key, checked to belong together. */
static nb_err nb_dtls_load_issuer(const uint8_t *cert, size_t cert_len, const uint8_t *key,
                                  size_t key_len, gnutls_x509_crt_t *crt_out,
                                  gnutls_x509_privkey_t *key_out) {
  gnutls_datum_t d = nb_dtls_datum(cert, cert_len);
  uint8_t id1[64], id2[64];
  size_t n1 = sizeof id1, n2 = sizeof id2;
  *crt_out = NULL;
  if (gnutls_x509_crt_init(crt_out) < 0) return NB_ERR_NOMEM;
  if (gnutls_x509_crt_import(*crt_out, &d, nb_dtls_fmt(cert, cert_len)) < 0)
    return NB_ERR_DTLS_BAD_KEY;
  nb_err err = nb_dtls_privkey_parse(key, key_len, key_out);
  if (err != NB_OK) return err;
  if (gnutls_x509_crt_get_key_id(*crt_out, GNUTLS_KEYID_USE_SHA256, id1, &n1) < 0 ||
      gnutls_x509_privkey_get_key_id(*key_out, GNUTLS_KEYID_USE_SHA256, id2, &n2) < 0 || n1 != n2 ||
      memcmp(id1, id2, n1) != 0) {
    return NB_ERR_DTLS_CREDENTIALS;
  }
  return NB_OK;
}

nb_err nb_dtls_cert_issue(const uint8_t *ca_cert, size_t ca_cert_len, const uint8_t *ca_key,
                          size_t ca_key_len, const nb_dtls_cert_request *req,
                          nb_dtls_certkey *out) {
  gnutls_x509_crt_t issuer = NULL, crt = NULL;
  gnutls_x509_privkey_t issuer_key = NULL, key = NULL;
  uint8_t akid[64];
  size_t akid_len = sizeof akid;
  memset(out, 0, sizeof *out);
  nb_err err = nb_dtls_load_issuer(ca_cert, ca_cert_len, ca_key, ca_key_len, &issuer, &issuer_key);
  if (err == NB_OK) err = nb_dtls_new_key(&key, out);
  if (err == NB_OK && gnutls_x509_crt_init(&crt) < 0) err = NB_ERR_NOMEM;
  if (err == NB_OK) err = nb_dtls_crt_prepare(crt, req, 365, key);
  if (err == NB_OK && (gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0 ||
                       gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
                       gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) < 0 ||
                       gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0) < 0)) {
    err = NB_ERR_DTLS_GNUTLS;
  }
  if (err == NB_OK && gnutls_x509_crt_get_subject_key_id(issuer, akid, &akid_len, NULL) == 0 &&
      gnutls_x509_crt_set_authority_key_id(crt, akid, akid_len) < 0) {
    err = NB_ERR_DTLS_GNUTLS;
  }
  if (err == NB_OK) err = nb_dtls_crt_sign(crt, issuer, issuer_key);
  if (err == NB_OK) err = nb_dtls_crt_export(crt, out);
  if (crt) gnutls_x509_crt_deinit(crt);
  if (key) gnutls_x509_privkey_deinit(key);
  if (issuer) gnutls_x509_crt_deinit(issuer);
  if (issuer_key) gnutls_x509_privkey_deinit(issuer_key);
  if (err != NB_OK) nb_dtls_certkey_free(out);
  return err;
}

void nb_dtls_certkey_free(nb_dtls_certkey *ck) {
  nb_bytes_free(&ck->cert_pem);
  nb_bytes_free(&ck->cert_der);
  nb_dtls_keypair_free(&ck->key);
}

/* ---- raw ES256 signatures ---- */

/* A DER INTEGER's magnitude left-padded into 32 bytes (NB_ERR_RANGE when it does not fit). */
static nb_err nb_dtls_put_scalar(const gnutls_datum_t *v, uint8_t out[32]) {
  size_t off = 0;
  while (off < v->size && v->data[off] == 0) off++;
  size_t n = v->size - off;
  if (n > 32) return NB_ERR_RANGE;
  memset(out, 0, 32 - n);
  memcpy(out + 32 - n, v->data + off, n);
  return NB_OK;
}

/* Secure ID of a private key's public half. */
static nb_err nb_dtls_privkey_secure_id(gnutls_privkey_t priv,
                                        char sid[NB_DTLS_SECURE_ID_LEN + 1]) {
  gnutls_pubkey_t pub;
  gnutls_datum_t spki = {0};
  if (gnutls_pubkey_init(&pub) < 0) return NB_ERR_NOMEM;
  nb_err err = NB_ERR_DTLS_GNUTLS;
  if (gnutls_pubkey_import_privkey(pub, priv, 0, 0) == 0 &&
      gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki) == 0)
    err = nb_dtls_secure_id(spki.data, spki.size, sid);
  gnutls_free(spki.data);
  gnutls_pubkey_deinit(pub);
  return err;
}

nb_err nb_dtls_es256_sign(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
                          uint8_t sig[NB_DTLS_ES256_SIG_LEN],
                          char signer[NB_DTLS_SECURE_ID_LEN + 1]) {
  gnutls_x509_privkey_t x;
  nb_err err = nb_dtls_privkey_parse(key, key_len, &x);
  if (err != NB_OK) return err;
  gnutls_privkey_t priv = NULL;
  gnutls_datum_t msg = nb_dtls_datum(data, len), der = {0}, r = {0}, s = {0};
  err = nb_dtls_privkey_is_p256(x) ? NB_ERR_DTLS_GNUTLS : NB_ERR_UNSUPPORTED;
  if (err == NB_ERR_DTLS_GNUTLS && gnutls_privkey_init(&priv) == 0 &&
      gnutls_privkey_import_x509(priv, x, GNUTLS_PRIVKEY_IMPORT_COPY) == 0 &&
      gnutls_privkey_sign_data2(priv, GNUTLS_SIGN_ECDSA_SHA256, 0, &msg, &der) == 0 &&
      gnutls_decode_rs_value(&der, &r, &s) == 0) {
    err = nb_dtls_put_scalar(&r, sig);
    if (err == NB_OK) err = nb_dtls_put_scalar(&s, sig + 32);
    if (err == NB_OK && signer) err = nb_dtls_privkey_secure_id(priv, signer);
  }
  gnutls_free(der.data);
  gnutls_free(r.data);
  gnutls_free(s.data);
  if (priv) gnutls_privkey_deinit(priv);
  gnutls_x509_privkey_deinit(x);
  return err;
}

nb_err nb_dtls_es256_verify(const uint8_t *pub, size_t pub_len, const uint8_t *data, size_t len,
                            const uint8_t sig[NB_DTLS_ES256_SIG_LEN]) {
  nb_bytes spki;
  nb_bytes_init(&spki);
  nb_err err = nb_dtls_spki_load(pub, pub_len, &spki);
  if (err == NB_OK && !nb_dtls_spki_is_p256(spki.data, spki.len)) err = NB_ERR_UNSUPPORTED;
  gnutls_pubkey_t key = NULL;
  gnutls_datum_t d = {0}, msg = nb_dtls_datum(data, len), der = {0};
  gnutls_datum_t r = nb_dtls_datum(sig, 32), s = nb_dtls_datum(sig + 32, 32);
  if (err == NB_OK) {
    d = nb_dtls_datum(spki.data, spki.len);
    err = NB_ERR_DTLS_GNUTLS;
    if (gnutls_pubkey_init(&key) == 0 && gnutls_pubkey_import(key, &d, GNUTLS_X509_FMT_DER) == 0 &&
        gnutls_encode_rs_value(&der, &r, &s) == 0) {
      int rc = gnutls_pubkey_verify_data2(key, GNUTLS_SIGN_ECDSA_SHA256, 0, &msg, &der);
      err = rc >= 0 ? NB_OK : NB_ERR_DTLS_PEER_REJECTED;
    }
  }
  gnutls_free(der.data);
  if (key) gnutls_pubkey_deinit(key);
  nb_bytes_free(&spki);
  return err;
}
