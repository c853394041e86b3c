/* Signed payloads, client side (non-repudiation; docs/client.md "Signed payloads"): request
 * bodies that come as COSE_Sign1 (Content-Format 18) are verified with the public key the
 * peer authenticated its DTLS handshake with before anything is decoded, and bodies the client
 * signs (receipts, reads, notifications) are signed with the private key of the Security
 * instance of the account they go to. Secret keys travel beside a signed write, checked against
 * the digests it signs, and never reach the evidence hook (docs/cose.md "Secrets in signed
 * writes"). Owns the bootstrap ID (cti) check of one bootstrap. A build without them
 * (NB_CFG_SIGNED 0) refuses signed bodies (4.15) and signs nothing. */
#include <string.h>

#include "base/log.h"
#include "client_int.h"
#if NB_CFG_SIGNED
#include "dtls/cose_lwm2m.h"
#endif

#if NB_CFG_SIGNED
const nb_value *nb_sig_key(nb_client *c, uint16_t sec_inst) {
  nb_object *sec = nb_client_object(c, 0);
  int64_t mode = nb_store_object_get_int(sec, sec_inst, 2, 3);
  if (mode != 1 && mode != 2) return NULL;
  nb_path p = nb_path_res(0, sec_inst, 5);
  const nb_value *v = nb_store_object_get(sec, &p);
  if (!v || (v->type != NB_VT_OPAQUE && v->type != NB_VT_STRING) || v->v.bytes.len == 0)
    return NULL;
  return v;
}
#else
/* A build without signed payloads (NB_CFG_SIGNED 0): no account signs (Accept: 18 is 4.06). */
const nb_value *nb_sig_key(nb_client *c, uint16_t sec_inst) {
  (void)c;
  (void)sec_inst;
  return NULL;
}
#endif

void nb_sig_bootstrap_reset(nb_client *c) {
  c->bs_cti_set = false;
  c->bs_cti_len = 0;
}

#if NB_CFG_SIGNED
static uint8_t nb_sig_refuse(const char *reason, nb_err e) {
  NB_LOG_WARN(NB_CLIENT_LOG, "event=signed-body-refused reason=%s err=%s", reason, nb_err_name(e));
  return NB_COAP_BAD_REQUEST;
}

/* Within one bootstrap every signed write carries the ID of the first. */
static bool nb_sig_cti_ok(nb_client *c, const nb_cose_headers *h) {
  if (!c->bs_cti_set) return true;
  return h->cti_len == c->bs_cti_len && memcmp(h->cti, c->bs_cti, h->cti_len) == 0;
}
#endif

uint8_t nb_sig_unwrap(nb_client *c, const nb_addr *peer, const nb_coap_msg *req, bool bootstrap,
                      nb_sig_body *out) {
  memset(out, 0, sizeof *out);
  out->cf = nb_coap_msg_content_format(req);
  out->data = req->payload;
  out->len = req->payload_len;
  if (out->cf != NB_COSE_CF_SIGN1) return 0;
#if !NB_CFG_SIGNED
  /* A build without signed payloads: a signed body is a format it does not know. */
  (void)c;
  (void)peer;
  (void)bootstrap;
  return NB_COAP_UNSUPPORTED_CONTENT_FORMAT;
#else
  const nb_dtls_peer *who = nb_tr_peer(c, peer);
  if (!who || who->spki_len == 0) return nb_sig_refuse("peer-without-key", NB_ERR_UNSUPPORTED);
  nb_cose_sign1_msg m;
  nb_err e = nb_cose_open(req->payload, req->payload_len, who->spki, who->spki_len, &m);
  if (e != NB_OK)
    return nb_sig_refuse(e == NB_ERR_DTLS_PEER_REJECTED ? "signature" : "malformed", e);
  if (m.h.sub[0] && strcmp(m.h.sub, c->endpoint) != 0)
    return nb_sig_refuse("sub-not-this-endpoint", NB_ERR_INVAL);
  if (m.h.content_format < 0 || m.h.content_format == NB_COSE_CF_SIGN1 ||
      !nb_format_is_supported(m.h.content_format))
    return nb_sig_refuse("inner-content-format", NB_ERR_UNSUPPORTED);
  if (bootstrap && !nb_sig_cti_ok(c, &m.h)) return nb_sig_refuse("cti-changed", NB_ERR_INVAL);
  if (m.nwithheld && !bootstrap) /* only the bootstrap server writes secret keys */
    return nb_sig_refuse("secret-outside-bootstrap", NB_ERR_UNSUPPORTED);
  e = nb_cose_secrets_check(&m);
  if (e != NB_OK)
    return nb_sig_refuse(e == NB_ERR_NOT_FOUND ? "secret-missing" : "secret-digest", e);
  if (bootstrap && !c->bs_cti_set) {
    memcpy(c->bs_cti, m.h.cti, m.h.cti_len);
    c->bs_cti_len = m.h.cti_len;
    c->bs_cti_set = true;
  }
  out->cf = m.h.content_format;
  out->data = m.payload;
  out->len = m.payload_len;
  out->cose = req->payload;
  out->cose_len = req->payload_len;
  memcpy(out->withheld, m.withheld, sizeof out->withheld);
  out->nwithheld = m.nwithheld;
  return 0;
#endif
}

uint8_t nb_sig_records(const nb_sig_body *b, const nb_path *base, nb_records *recs) {
#if !NB_CFG_SIGNED
  (void)b, (void)base, (void)recs; /* nothing signed is ever accepted */
  return 0;
#else
  if (!b->cose) return 0;
  if (nb_cose_secret_record(recs))
    return nb_sig_refuse("secret-in-signed-payload", NB_ERR_FMT_PATH);
  nb_err e = nb_cose_add_withheld(b->withheld, b->nwithheld, base, recs);
  return e == NB_OK ? 0 : nb_sig_refuse("secret-path", e);
#endif
}

nb_err nb_sig_wrap(nb_client *c, uint16_t sec_inst, const uint8_t *cti, size_t cti_len,
                   const uint8_t *inner, size_t len, nb_bytes *out) {
#if !NB_CFG_SIGNED
  (void)c, (void)sec_inst, (void)cti, (void)cti_len, (void)inner, (void)len, (void)out;
  return NB_ERR_UNSUPPORTED;
#else
  const nb_value *key = nb_sig_key(c, sec_inst);
  if (!key) return NB_ERR_UNSUPPORTED;
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  h.content_format = NB_COAP_CF_SENML_CBOR;
  size_t n = strlen(c->endpoint);
  if (n >= sizeof h.iss) return NB_ERR_RANGE;
  memcpy(h.iss, c->endpoint, n + 1);
  if (c->cfg.unix_offset_ms != 0) {
    h.has_iat = true;
    h.iat = (c->now + c->cfg.unix_offset_ms) / 1000;
  }
  if (cti_len > sizeof h.cti) return NB_ERR_RANGE;
  if (cti_len) memcpy(h.cti, cti, cti_len);
  h.cti_len = cti_len;
  return nb_cose_sign1(&h, inner, len, key->v.bytes.data, key->v.bytes.len, out);
#endif
}

void nb_sig_evidence(nb_client *c, const char *kind, const nb_path *p, const uint8_t *cose,
                     size_t len) {
#if !NB_CFG_SIGNED
  (void)c, (void)kind, (void)p, (void)cose, (void)len; /* nothing signed is ever accepted */
#else
  if (!c->cfg.evidence) return;
  nb_bytes kept;
  nb_bytes_init(&kept);
  nb_err e = nb_cose_strip(cose, len, &kept);
  if (e == NB_OK)
    c->cfg.evidence(c->cfg.evidence_user, kind, p, kept.data, kept.len);
  else
    NB_LOG_WARN(NB_CLIENT_LOG, "event=evidence-not-kept kind=%s err=%s", kind, nb_err_name(e));
  nb_bytes_free(&kept);
#endif
}
