/* COSE_Sign1 with ES256: encoder, strict bounded parser, verification. */
#include "dtls/cose.h"

#include <string.h>

#include "base/hex.h"
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

/* The protected header map, encoded (it is signed as these exact bytes). */
static nb_err nb_cose_put_protected(const nb_cose_headers *h, nb_bytes *out) {
  bool cty = h->content_format >= 0, cwt = nb_cose_claim_count(h) > 0;
  nb_err e = nb_cbor_put_map(out, 1 + cty + cwt);
  if (e == NB_OK) e = nb_cbor_put_uint(out, NB_COSE_H_ALG);
  if (e == NB_OK) e = nb_cbor_put_int(out, NB_COSE_ALG_ES256);
  if (e == NB_OK && cty) e = nb_cbor_put_uint(out, NB_COSE_H_CTY);
  if (e == NB_OK && cty) e = nb_cbor_put_uint(out, (uint64_t)h->content_format);
  if (e == NB_OK && cwt) e = nb_cbor_put_uint(out, NB_COSE_H_CWT);
  if (e == NB_OK && cwt) e = nb_cose_put_claims(h, out);
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

nb_err nb_cose_sign1(const nb_cose_headers *hin, const uint8_t *payload, size_t len,
                     const uint8_t *key, size_t key_len, nb_bytes *out) {
  nb_cose_headers h = *hin;
  nb_bytes prot, tbs;
  nb_bytes_init(&prot);
  nb_bytes_init(&tbs);
  uint8_t sig[NB_DTLS_ES256_SIG_LEN];
  size_t start = out->len;
  char signer[NB_DTLS_SECURE_ID_LEN + 1];
  nb_err e = nb_cose_put_protected(&h, &prot);
  if (e == NB_OK) e = nb_cose_tbs(prot.data, prot.len, payload, len, &tbs);
  if (e == NB_OK)
    e = nb_dtls_es256_sign(key, key_len, tbs.data, tbs.len, sig, h.kid_len ? NULL : signer);
  if (e == NB_OK && !h.kid_len) /* kid, unprotected: the signing key's secure ID, 15 bytes */
    e = nb_hex_decode(signer, NB_DTLS_SECURE_ID_LEN, NULL, h.kid, sizeof h.kid, &h.kid_len);
  if (e == NB_OK) e = nb_cbor_put_tag(out, NB_COSE_TAG_SIGN1);
  if (e == NB_OK) e = nb_cbor_put_array(out, 4);
  if (e == NB_OK) e = nb_cbor_put_bytes(out, prot.data, prot.len);
  if (e == NB_OK) e = nb_cbor_put_map(out, 1);
  if (e == NB_OK) e = nb_cbor_put_uint(out, NB_COSE_H_KID);
  if (e == NB_OK) e = nb_cbor_put_bytes(out, h.kid, h.kid_len);
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
      return NB_ERR_UNSUPPORTED; /* we understand no extension */
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
  if (e == NB_OK) e = nb_cose_header_map(p, false, &m->h, &has_alg);
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
  nb_cose_parser p = {.nseen = 0};
  nb_cose_sign1_msg m = {0};
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
