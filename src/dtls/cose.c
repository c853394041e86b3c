/* COSE_Sign1 with ES256: encoder, strict bounded parser, verification. */
#include "dtls/cose.h"

#include <gnutls/crypto.h>
#include <string.h>

#include "base/hex.h"
#include "base/rand.h"
#include "dtls/cred.h"
#include "lwm2m/cbor_io.h"

enum {
  NB_COSE_H_ALG = 1,
  NB_COSE_H_CRIT = 2,
  NB_COSE_H_CTY = 3,
  NB_COSE_H_KID = 4,
  NB_COSE_H_CWT = 15,
  NB_CWT_ISS = 1,
  NB_CWT_SUB = 2,
  NB_CWT_IAT = 6,
  NB_CWT_CTI = 7,
};

/* Each withheld secret of a message being signed: its salt and digest. */
typedef struct {
  const nb_cose_secret *in;
  size_t n;
  uint8_t salt[NB_COSE_SECRETS_MAX][NB_COSE_SALT_LEN];
  uint8_t digest[NB_COSE_SECRETS_MAX][NB_COSE_DIGEST_LEN];
} nb_cose_withhold;

#define NB_COSE_MAX_LABELS 32 /* header entries of one message */
#define NB_COSE_SKIP_DEPTH 8  /* nesting allowed inside an ignored header value */

void nb_cose_headers_init(nb_cose_headers *h) {
  memset(h, 0, sizeof *h);
  h->content_format = -1;
}

/* ---- encoding ---- */

static size_t nb_cose_claim_count(const nb_cose_headers *h) {
  return (h->iss[0] != 0) + (h->sub[0] != 0) + h->has_iat + (h->cti_len > 0);
}

static nb_err nb_cose_put_text(nb_bytes *out, const char *s) {
  return nb_cbor_put_text(out, s, strlen(s));
}

static nb_err nb_cose_put_claims(const nb_cose_headers *h, nb_bytes *out) {
  nb_err e = nb_cbor_put_map(out, nb_cose_claim_count(h));
  if (e == NB_OK && h->iss[0]) e = nb_cbor_put_uint(out, NB_CWT_ISS);
  if (e == NB_OK && h->iss[0]) e = nb_cose_put_text(out, h->iss);
  if (e == NB_OK && h->sub[0]) e = nb_cbor_put_uint(out, NB_CWT_SUB);
  if (e == NB_OK && h->sub[0]) e = nb_cose_put_text(out, h->sub);
  if (e == NB_OK && h->has_iat) e = nb_cbor_put_uint(out, NB_CWT_IAT);
  if (e == NB_OK && h->has_iat) e = nb_cbor_put_int(out, h->iat);
  if (e == NB_OK && h->cti_len) e = nb_cbor_put_uint(out, NB_CWT_CTI);
  if (e == NB_OK && h->cti_len) e = nb_cbor_put_bytes(out, h->cti, h->cti_len);
  return e;
}

static nb_err nb_cose_put_path(nb_bytes *out, const nb_path *p) {
  char text[NB_PATH_STRLEN];
  nb_err e = nb_path_format(p, text, sizeof text);
  return e == NB_OK ? nb_cose_put_text(out, text) : e;
}

/* SHA-256(salt || value). */
static nb_err nb_cose_digest(const uint8_t *salt, const uint8_t *value, size_t len,
                             uint8_t out[NB_COSE_DIGEST_LEN]) {
  gnutls_hash_hd_t hd;
  if (gnutls_hash_init(&hd, GNUTLS_DIG_SHA256) < 0) return NB_ERR_DTLS_GNUTLS;
  int rc = gnutls_hash(hd, salt, NB_COSE_SALT_LEN);
  if (rc >= 0) rc = gnutls_hash(hd, value, len);
  gnutls_hash_deinit(hd, out);
  return rc >= 0 ? NB_OK : NB_ERR_DTLS_GNUTLS;
}

/* Fresh salts and the digests they give, after checking the secrets' shape. */
static nb_err nb_cose_withhold_init(nb_cose_withhold *w, const nb_cose_secret *in, size_t n) {
  w->in = in;
  w->n = n;
  if (n > NB_COSE_SECRETS_MAX) return NB_ERR_RANGE;
  nb_err e = NB_OK;
  for (size_t i = 0; i < n && e == NB_OK; i++) {
    if (in[i].path.len != NB_PATH_RESOURCE || !nb_path_is_valid(&in[i].path) || !in[i].len ||
        in[i].len > NB_COSE_SECRET_MAX)
      return NB_ERR_INVAL;
    for (size_t k = 0; k < i; k++)
      if (nb_path_equal(&in[k].path, &in[i].path)) return NB_ERR_INVAL;
    e = nb_random_bytes(w->salt[i], NB_COSE_SALT_LEN);
    if (e == NB_OK) e = nb_cose_digest(w->salt[i], in[i].value, in[i].len, w->digest[i]);
  }
  return e;
}

/* crit: [-65537] and -65537: {path: [salt, digest]}, in the protected header. */
static nb_err nb_cose_put_digests(const nb_cose_withhold *w, nb_bytes *out) {
  nb_err e = nb_cbor_put_uint(out, NB_COSE_H_CRIT);
  if (e == NB_OK) e = nb_cbor_put_array(out, 1);
  if (e == NB_OK) e = nb_cbor_put_int(out, NB_COSE_H_SECRET_DIGESTS);
  if (e == NB_OK) e = nb_cbor_put_int(out, NB_COSE_H_SECRET_DIGESTS);
  if (e == NB_OK) e = nb_cbor_put_map(out, w->n);
  for (size_t i = 0; i < w->n && e == NB_OK; i++) {
    e = nb_cose_put_path(out, &w->in[i].path);
    if (e == NB_OK) e = nb_cbor_put_array(out, 2);
    if (e == NB_OK) e = nb_cbor_put_bytes(out, w->salt[i], NB_COSE_SALT_LEN);
    if (e == NB_OK) e = nb_cbor_put_bytes(out, w->digest[i], NB_COSE_DIGEST_LEN);
  }
  return e;
}

/* -65538: {path: value}, in the unprotected header. */
static nb_err nb_cose_put_values(const nb_cose_withhold *w, nb_bytes *out) {
  nb_err e = nb_cbor_put_int(out, NB_COSE_H_SECRETS);
  if (e == NB_OK) e = nb_cbor_put_map(out, w->n);
  for (size_t i = 0; i < w->n && e == NB_OK; i++) {
    e = nb_cose_put_path(out, &w->in[i].path);
    if (e == NB_OK) e = nb_cbor_put_bytes(out, w->in[i].value, w->in[i].len);
  }
  return e;
}

/* The protected header map, encoded (it is signed as these exact bytes). */
static nb_err nb_cose_put_protected(const nb_cose_headers *h, const nb_cose_withhold *w,
                                    nb_bytes *out) {
  bool cty = h->content_format >= 0, cwt = nb_cose_claim_count(h) > 0;
  nb_err e = nb_cbor_put_map(out, 1 + cty + cwt + (w->n ? 2 : 0));
  if (e == NB_OK) e = nb_cbor_put_uint(out, NB_COSE_H_ALG);
  if (e == NB_OK) e = nb_cbor_put_int(out, NB_COSE_ALG_ES256);
  if (e == NB_OK && cty) e = nb_cbor_put_uint(out, NB_COSE_H_CTY);
  if (e == NB_OK && cty) e = nb_cbor_put_uint(out, (uint64_t)h->content_format);
  if (e == NB_OK && cwt) e = nb_cbor_put_uint(out, NB_COSE_H_CWT);
  if (e == NB_OK && cwt) e = nb_cose_put_claims(h, out);
  if (e == NB_OK && w->n) e = nb_cose_put_digests(w, out);
  return e;
}

/* Sig_structure = ["Signature1", protected, external_aad = h'', payload] (RFC 9052 4.4). */
static nb_err nb_cose_tbs(const uint8_t *prot, size_t prot_len, const uint8_t *payload, size_t len,
                          nb_bytes *out) {
  static const char ctx[] = "Signature1";
  nb_err e = nb_cbor_put_array(out, 4);
  if (e == NB_OK) e = nb_cbor_put_text(out, ctx, sizeof ctx - 1);
  if (e == NB_OK) e = nb_cbor_put_bytes(out, prot, prot_len);
  if (e == NB_OK) e = nb_cbor_put_bytes(out, NULL, 0);
  if (e == NB_OK) e = nb_cbor_put_bytes(out, payload, len);
  return e;
}

nb_err nb_cose_sign1(const nb_cose_headers *h, const uint8_t *payload, size_t len,
                     const uint8_t *key, size_t key_len, nb_bytes *out) {
  return nb_cose_sign1_withheld(h, payload, len, NULL, 0, key, key_len, out);
}

nb_err nb_cose_sign1_withheld(const nb_cose_headers *hin, const uint8_t *payload, size_t len,
                              const nb_cose_secret *secrets, size_t n, const uint8_t *key,
                              size_t key_len, nb_bytes *out) {
  nb_cose_headers h = *hin;
  nb_cose_withhold w;
  nb_bytes prot, tbs;
  nb_bytes_init(&prot);
  nb_bytes_init(&tbs);
  uint8_t sig[NB_DTLS_ES256_SIG_LEN];
  size_t start = out->len;
  char signer[NB_DTLS_SECURE_ID_LEN + 1];
  nb_err e = nb_cose_withhold_init(&w, secrets, n);
  if (e == NB_OK) e = nb_cose_put_protected(&h, &w, &prot);
  if (e == NB_OK) e = nb_cose_tbs(prot.data, prot.len, payload, len, &tbs);
  if (e == NB_OK)
    e = nb_dtls_es256_sign(key, key_len, tbs.data, tbs.len, sig, h.kid_len ? NULL : signer);
  if (e == NB_OK && !h.kid_len) /* kid, unprotected: the signing key's secure ID, 15 bytes */
    e = nb_hex_decode(signer, NB_DTLS_SECURE_ID_LEN, NULL, h.kid, sizeof h.kid, &h.kid_len);
  if (e == NB_OK) e = nb_cbor_put_tag(out, NB_COSE_TAG_SIGN1);
  if (e == NB_OK) e = nb_cbor_put_array(out, 4);
  if (e == NB_OK) e = nb_cbor_put_bytes(out, prot.data, prot.len);
  if (e == NB_OK) e = nb_cbor_put_map(out, n ? 2 : 1);
  if (e == NB_OK) e = nb_cbor_put_uint(out, NB_COSE_H_KID);
  if (e == NB_OK) e = nb_cbor_put_bytes(out, h.kid, h.kid_len);
  if (e == NB_OK && n) e = nb_cose_put_values(&w, out);
  if (e == NB_OK) e = nb_cbor_put_bytes(out, payload, len);
  if (e == NB_OK) e = nb_cbor_put_bytes(out, sig, sizeof sig);
  if (e != NB_OK) out->len = start;
  nb_bytes_free(&prot);
  nb_bytes_free(&tbs);
  return e;
}

/* ---- parsing ---- */

typedef struct {
  nb_cbor_reader r;
  int64_t seen[NB_COSE_MAX_LABELS]; /* header labels met so far, both buckets */
  size_t nseen;
  nb_cose_sign1_msg *m; /* what is being filled */
  bool crit_digests;    /* crit lists the secret digests */
} nb_cose_parser;

/* A definite item of the wanted kind. */
static nb_err nb_cose_expect(nb_cbor_reader *r, nb_cbor_kind kind, nb_cbor_item *it) {
  nb_err e = nb_cbor_next(r, it);
  if (e != NB_OK) return NB_ERR_SYNTAX;
  return it->kind == kind && !it->indefinite ? NB_OK : NB_ERR_SYNTAX;
}

/* An integer label, or NB_ERR_NOT_FOUND for a text label (skipped by the caller). */
static nb_err nb_cose_label(nb_cbor_reader *r, int64_t *label, nb_cbor_item *it) {
  if (nb_cbor_next(r, it) != NB_OK) return NB_ERR_SYNTAX;
  if (it->kind == NB_CBOR_TEXT) return NB_ERR_NOT_FOUND;
  if ((it->kind != NB_CBOR_UINT && it->kind != NB_CBOR_NEGINT) || it->u > INT64_MAX)
    return NB_ERR_SYNTAX;
  *label = it->kind == NB_CBOR_UINT ? (int64_t)it->u : -1 - (int64_t)it->u;
  return NB_OK;
}

static nb_err nb_cose_skip_value(nb_cbor_reader *r) {
  nb_cbor_item it;
  if (nb_cbor_next(r, &it) != NB_OK) return NB_ERR_SYNTAX;
  return nb_cbor_skip(r, &it, NB_COSE_SKIP_DEPTH) == NB_OK ? NB_OK : NB_ERR_SYNTAX;
}

static nb_err nb_cose_text(nb_cbor_reader *r, char *out, size_t cap) {
  nb_cbor_item it;
  nb_err e = nb_cose_expect(r, NB_CBOR_TEXT, &it);
  if (e != NB_OK) return e;
  if (it.len >= cap || memchr(it.data, 0, it.len)) return NB_ERR_SYNTAX;
  memcpy(out, it.data, it.len);
  out[it.len] = 0;
  return NB_OK;
}

static nb_err nb_cose_id(nb_cbor_reader *r, uint8_t *out, size_t *len) {
  nb_cbor_item it;
  nb_err e = nb_cose_expect(r, NB_CBOR_BYTES, &it);
  if (e != NB_OK) return e;
  if (it.len == 0 || it.len > NB_COSE_ID_MAX) return NB_ERR_SYNTAX;
  memcpy(out, it.data, it.len);
  *len = it.len;
  return NB_OK;
}

static nb_err nb_cose_int(nb_cbor_reader *r, int64_t *out) {
  nb_cbor_item it;
  if (nb_cbor_next(r, &it) != NB_OK) return NB_ERR_SYNTAX;
  if ((it.kind != NB_CBOR_UINT && it.kind != NB_CBOR_NEGINT) || it.u > INT64_MAX)
    return NB_ERR_SYNTAX;
  *out = it.kind == NB_CBOR_UINT ? (int64_t)it.u : -1 - (int64_t)it.u;
  return NB_OK;
}

/* Records a label; a repeated one is malformed (RFC 9052 3). */
static nb_err nb_cose_seen(int64_t *seen, size_t *n, int64_t label) {
  for (size_t i = 0; i < *n; i++)
    if (seen[i] == label) return NB_ERR_SYNTAX;
  if (*n == NB_COSE_MAX_LABELS) return NB_ERR_SYNTAX;
  seen[(*n)++] = label;
  return NB_OK;
}

static nb_err nb_cose_claim(nb_cbor_reader *r, int64_t label, nb_cose_headers *h) {
  switch (label) {
    case NB_CWT_ISS:
      return nb_cose_text(r, h->iss, sizeof h->iss);
    case NB_CWT_SUB:
      return nb_cose_text(r, h->sub, sizeof h->sub);
    case NB_CWT_IAT:
      h->has_iat = true;
      return nb_cose_int(r, &h->iat);
    case NB_CWT_CTI:
      return nb_cose_id(r, h->cti, &h->cti_len);
    default:
      return nb_cose_skip_value(r);
  }
}

static nb_err nb_cose_claims(nb_cbor_reader *r, nb_cose_headers *h) {
  nb_cbor_item it;
  nb_err e = nb_cose_expect(r, NB_CBOR_MAP, &it);
  int64_t seen[NB_COSE_MAX_LABELS];
  size_t nseen = 0;
  for (uint64_t i = 0; e == NB_OK && i < it.u; i++) {
    int64_t label = 0;
    nb_cbor_item key;
    e = nb_cose_label(r, &label, &key);
    if (e == NB_ERR_NOT_FOUND) {
      e = nb_cose_skip_value(r);
      continue;
    }
    if (e == NB_OK) e = nb_cose_seen(seen, &nseen, label);
    if (e == NB_OK) e = nb_cose_claim(r, label, h);
  }
  return e;
}

/* crit (protected only): a non-empty array of the labels we understand, the digests only. */
static nb_err nb_cose_crit(nb_cose_parser *p) {
  nb_cbor_item it;
  nb_err e = nb_cose_expect(&p->r, NB_CBOR_ARRAY, &it);
  if (e == NB_OK && (it.u == 0 || it.u > NB_COSE_MAX_LABELS)) e = NB_ERR_SYNTAX;
  for (uint64_t i = 0; e == NB_OK && i < it.u; i++) {
    int64_t label = 0;
    nb_cbor_item key;
    e = nb_cose_label(&p->r, &label, &key);
    if (e == NB_ERR_NOT_FOUND || (e == NB_OK && label != NB_COSE_H_SECRET_DIGESTS))
      e = NB_ERR_UNSUPPORTED; /* an extension we do not understand */
    p->crit_digests = e == NB_OK;
  }
  return e;
}

/* A withheld secret's path: text naming a resource. */
static nb_err nb_cose_secret_path(nb_cbor_reader *r, nb_path *out) {
  nb_cbor_item it;
  nb_err e = nb_cose_expect(r, NB_CBOR_TEXT, &it);
  if (e == NB_OK && nb_path_parse_n((const char *)it.data, it.len, out) != NB_OK) e = NB_ERR_SYNTAX;
  return e == NB_OK && out->len != NB_PATH_RESOURCE ? NB_ERR_SYNTAX : e;
}

static nb_cose_withheld *nb_cose_find_withheld(nb_cose_sign1_msg *m, const nb_path *p) {
  for (size_t i = 0; i < m->nwithheld; i++)
    if (nb_path_equal(&m->withheld[i].path, p)) return &m->withheld[i];
  return NULL;
}

/* A definite byte string of exactly want bytes (0: 1..NB_COSE_SECRET_MAX). */
static nb_err nb_cose_bytes(nb_cbor_reader *r, size_t want, const uint8_t **data, size_t *len) {
  nb_cbor_item it;
  nb_err e = nb_cose_expect(r, NB_CBOR_BYTES, &it);
  if (e == NB_OK && (want ? it.len != want : (it.len == 0 || it.len > NB_COSE_SECRET_MAX)))
    e = NB_ERR_SYNTAX;
  *data = it.data;
  *len = it.len;
  return e;
}

/* The head of a map of 1..NB_COSE_SECRETS_MAX secrets (digests or values). */
static nb_err nb_cose_secrets_map(nb_cbor_reader *r, nb_cbor_item *it) {
  nb_err e = nb_cose_expect(r, NB_CBOR_MAP, it);
  return e == NB_OK && (it->u == 0 || it->u > NB_COSE_SECRETS_MAX) ? NB_ERR_SYNTAX : e;
}

/* The signed digests: {path: [salt, digest]}, 1..NB_COSE_SECRETS_MAX distinct resources. */
static nb_err nb_cose_digests(nb_cose_parser *p) {
  nb_cose_sign1_msg *m = p->m;
  nb_cbor_item it;
  nb_err e = nb_cose_secrets_map(&p->r, &it);
  for (uint64_t i = 0; e == NB_OK && i < it.u; i++) {
    nb_cose_withheld *w = &m->withheld[m->nwithheld];
    size_t len = 0;
    e = nb_cose_secret_path(&p->r, &w->path);
    if (e == NB_OK && nb_cose_find_withheld(m, &w->path)) e = NB_ERR_SYNTAX;
    nb_cbor_item pair;
    if (e == NB_OK) e = nb_cose_expect(&p->r, NB_CBOR_ARRAY, &pair);
    if (e == NB_OK && pair.u != 2) e = NB_ERR_SYNTAX;
    if (e == NB_OK) e = nb_cose_bytes(&p->r, NB_COSE_SALT_LEN, &w->salt, &len);
    if (e == NB_OK) e = nb_cose_bytes(&p->r, NB_COSE_DIGEST_LEN, &w->digest, &len);
    if (e == NB_OK) m->nwithheld++;
  }
  return e;
}

/* The secrets themselves: {path: value}, each with a signed digest (the protected bucket was
 * read first). */
static nb_err nb_cose_values(nb_cose_parser *p) {
  nb_cose_sign1_msg *m = p->m;
  nb_cbor_item it;
  nb_err e = nb_cose_secrets_map(&p->r, &it);
  for (uint64_t i = 0; e == NB_OK && i < it.u; i++) {
    nb_path path;
    e = nb_cose_secret_path(&p->r, &path);
    nb_cose_withheld *w = e == NB_OK ? nb_cose_find_withheld(m, &path) : NULL;
    if (e == NB_OK && (!w || w->value)) e = NB_ERR_SYNTAX; /* unsigned, or twice */
    if (e == NB_OK) e = nb_cose_bytes(&p->r, 0, &w->value, &w->value_len);
    if (e == NB_OK) m->nvalues++;
  }
  return e;
}

/* One header entry; protected says which bucket it is in. */
static nb_err nb_cose_header(nb_cose_parser *p, int64_t label, bool protected, nb_cose_headers *h,
                             bool *has_alg) {
  nb_err e = nb_cose_seen(p->seen, &p->nseen, label);
  if (e != NB_OK) return e;
  int64_t v = 0;
  switch (label) {
    case NB_COSE_H_ALG:
      if (!protected) return NB_ERR_SYNTAX; /* the algorithm must be signed */
      e = nb_cose_int(&p->r, &v);
      if (e == NB_OK && v != NB_COSE_ALG_ES256) e = NB_ERR_UNSUPPORTED;
      *has_alg = e == NB_OK;
      return e;
    case NB_COSE_H_CRIT:
      return protected ? nb_cose_crit(p) : NB_ERR_SYNTAX;
    case NB_COSE_H_SECRET_DIGESTS:
      return protected ? nb_cose_digests(p) : NB_ERR_SYNTAX;
    case NB_COSE_H_SECRETS:
      return protected ? NB_ERR_SYNTAX : nb_cose_values(p);
    case NB_COSE_H_CTY:
      e = nb_cose_int(&p->r, &v);
      if (e == NB_OK && (v < 0 || v > 65535)) e = NB_ERR_UNSUPPORTED;
      h->content_format = (int)v;
      return e;
    case NB_COSE_H_KID:
      return nb_cose_id(&p->r, h->kid, &h->kid_len);
    case NB_COSE_H_CWT:
      return protected ? nb_cose_claims(&p->r, h) : NB_ERR_SYNTAX;
    default:
      return nb_cose_skip_value(&p->r);
  }
}

static nb_err nb_cose_header_map(nb_cose_parser *p, bool protected, nb_cose_headers *h,
                                 bool *has_alg) {
  nb_cbor_item it;
  nb_err e = nb_cose_expect(&p->r, NB_CBOR_MAP, &it);
  for (uint64_t i = 0; e == NB_OK && i < it.u; i++) {
    int64_t label = 0;
    nb_cbor_item key;
    e = nb_cose_label(&p->r, &label, &key);
    if (e == NB_ERR_NOT_FOUND) {
      e = nb_cose_skip_value(&p->r);
      continue;
    }
    if (e == NB_OK) e = nb_cose_header(p, label, protected, h, has_alg);
  }
  return e;
}

/* The protected bucket: a byte string holding one map, nothing after it. */
static nb_err nb_cose_protected(nb_cose_parser *outer, const nb_cbor_item *bstr, nb_cose_headers *h,
                                bool *has_alg) {
  if (bstr->len == 0) return NB_OK;
  nb_cose_parser p = *outer;
  nb_cbor_reader_init(&p.r, bstr->data, bstr->len);
  nb_err e = nb_cose_header_map(&p, true, h, has_alg);
  if (e == NB_OK && p.r.pos != p.r.len) e = NB_ERR_SYNTAX;
  if (e == NB_OK && p.crit_digests && !p.m->nwithheld) e = NB_ERR_SYNTAX; /* crit names it */
  memcpy(outer->seen, p.seen, sizeof p.seen);
  outer->nseen = p.nseen;
  return e;
}

static nb_err nb_cose_body(nb_cose_parser *p, nb_cose_sign1_msg *m) {
  nb_cbor_item it;
  bool has_alg = false;
  nb_err e = nb_cose_expect(&p->r, NB_CBOR_BYTES, &it);
  if (e == NB_OK) {
    m->protected_hdr = it.data;
    m->protected_len = it.len;
    e = nb_cose_protected(p, &it, &m->h, &has_alg);
  }
  size_t unprot = p->r.pos;
  if (e == NB_OK) e = nb_cose_header_map(p, false, &m->h, &has_alg);
  m->unprotected_hdr = p->r.buf + unprot;
  m->unprotected_len = p->r.pos - unprot;
  if (e == NB_OK && !has_alg) e = NB_ERR_UNSUPPORTED;
  if (e == NB_OK && nb_cbor_next(&p->r, &it) != NB_OK) e = NB_ERR_SYNTAX;
  if (e == NB_OK && it.kind == NB_CBOR_NULL) e = NB_ERR_UNSUPPORTED; /* detached payload */
  if (e == NB_OK && (it.kind != NB_CBOR_BYTES || it.indefinite)) e = NB_ERR_SYNTAX;
  if (e == NB_OK) {
    m->payload = it.data;
    m->payload_len = it.len;
    e = nb_cose_expect(&p->r, NB_CBOR_BYTES, &it);
  }
  if (e == NB_OK && it.len != NB_DTLS_ES256_SIG_LEN) e = NB_ERR_SYNTAX;
  if (e == NB_OK) m->sig = it.data;
  return e;
}

nb_err nb_cose_parse(const uint8_t *data, size_t len, nb_cose_sign1_msg *out) {
  nb_cose_sign1_msg m = {0};
  nb_cose_parser p = {.nseen = 0, .m = &m};
  nb_cose_headers_init(&m.h);
  /* Tag 18 is one byte (0xd2); libcbor's stream decoder refuses tags it has no name for, so it
   * is taken off here. Any other tag is not a COSE_Sign1. */
  size_t off = len > 0 && data[0] == (0xc0 | NB_COSE_TAG_SIGN1) ? 1 : 0;
  nb_cbor_reader_init(&p.r, data + off, len - off);
  nb_cbor_item it;
  nb_err e = nb_cbor_next(&p.r, &it) == NB_OK ? NB_OK : NB_ERR_SYNTAX;
  if (e == NB_OK && (it.kind != NB_CBOR_ARRAY || it.indefinite || it.u != 4)) e = NB_ERR_SYNTAX;
  if (e == NB_OK) e = nb_cose_body(&p, &m);
  if (e == NB_OK && p.r.pos != p.r.len) e = NB_ERR_SYNTAX;
  if (e == NB_OK) *out = m;
  return e;
}

nb_err nb_cose_verify(const nb_cose_sign1_msg *m, const uint8_t *pub, size_t pub_len) {
  nb_bytes tbs;
  nb_bytes_init(&tbs);
  nb_err e = nb_cose_tbs(m->protected_hdr, m->protected_len, m->payload, m->payload_len, &tbs);
  if (e == NB_OK) e = nb_dtls_es256_verify(pub, pub_len, tbs.data, tbs.len, m->sig);
  nb_bytes_free(&tbs);
  return e;
}

nb_err nb_cose_open(const uint8_t *data, size_t len, const uint8_t *pub, size_t pub_len,
                    nb_cose_sign1_msg *out) {
  nb_err e = nb_cose_parse(data, len, out);
  return e == NB_OK ? nb_cose_verify(out, pub, pub_len) : e;
}

/* ---- withheld secrets ---- */

bool nb_cose_secret_matches(const nb_cose_withheld *w, const uint8_t *value, size_t len) {
  uint8_t d[NB_COSE_DIGEST_LEN];
  if (!value || !len || nb_cose_digest(w->salt, value, len, d) != NB_OK) return false;
  uint8_t diff = 0;
  for (size_t i = 0; i < sizeof d; i++) diff |= (uint8_t)(d[i] ^ w->digest[i]);
  return diff == 0;
}

nb_err nb_cose_secrets_check(const nb_cose_sign1_msg *m) {
  for (size_t i = 0; i < m->nwithheld; i++) {
    const nb_cose_withheld *w = &m->withheld[i];
    if (!w->value) return NB_ERR_NOT_FOUND;
    if (!nb_cose_secret_matches(w, w->value, w->value_len)) return NB_ERR_DTLS_PEER_REJECTED;
  }
  return NB_OK;
}

/* The unprotected entries of m but the secrets, copied as they are, into kept; their count. */
static nb_err nb_cose_unprotected_kept(const nb_cose_sign1_msg *m, nb_bytes *kept, size_t *n) {
  nb_cbor_reader r;
  nb_cbor_reader_init(&r, m->unprotected_hdr, m->unprotected_len);
  nb_cbor_item it;
  nb_err e = nb_cose_expect(&r, NB_CBOR_MAP, &it);
  *n = 0;
  for (uint64_t i = 0; e == NB_OK && i < it.u; i++) {
    size_t from = r.pos;
    int64_t label = 0;
    nb_cbor_item key;
    nb_err l = nb_cose_label(&r, &label, &key);
    e = l == NB_ERR_NOT_FOUND ? NB_OK : l;
    if (e == NB_OK) e = nb_cose_skip_value(&r);
    if (e != NB_OK || (l == NB_OK && label == NB_COSE_H_SECRETS)) continue;
    e = nb_bytes_append(kept, r.buf + from, r.pos - from);
    (*n)++;
  }
  return e;
}

nb_err nb_cose_strip(const uint8_t *data, size_t len, nb_bytes *out) {
  nb_cose_sign1_msg m;
  nb_err e = nb_cose_parse(data, len, &m);
  if (e != NB_OK) return e;
  if (!m.nvalues) return nb_bytes_append(out, data, len);
  nb_bytes kept;
  nb_bytes_init(&kept);
  size_t n = 0, start = out->len;
  e = nb_cose_unprotected_kept(&m, &kept, &n);
  if (e == NB_OK && data[0] == (0xc0 | NB_COSE_TAG_SIGN1))
    e = nb_cbor_put_tag(out, NB_COSE_TAG_SIGN1);
  if (e == NB_OK) e = nb_cbor_put_array(out, 4);
  if (e == NB_OK) e = nb_cbor_put_bytes(out, m.protected_hdr, m.protected_len);
  if (e == NB_OK) e = nb_cbor_put_map(out, n);
  if (e == NB_OK) e = nb_bytes_append(out, kept.data, kept.len);
  if (e == NB_OK) e = nb_cbor_put_bytes(out, m.payload, m.payload_len);
  if (e == NB_OK) e = nb_cbor_put_bytes(out, m.sig, NB_DTLS_ES256_SIG_LEN);
  if (e != NB_OK) out->len = start;
  nb_bytes_free(&kept);
  return e;
}
