/* LwM2M bootstrap server engine: Bootstrap-Request handling, approval, the per-endpoint
 * sequence of Bootstrap-Discover/-Delete/-Write/-Finish, fresh credentials, retries. */
#include "bootstrap/bootstrap.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "coap/wellknown.h"
#include "dtls/cose.h"
#include "dtls/cose_lwm2m.h"
#include "dtls/keys.h"
#include "lwm2m/format.h"
#include "lwm2m/linkfmt.h"

#define NB_BS_LOG "bootstrap"
/* Discover, deletes, writes, the bootstrap account's write, the receipt and Finish. */
#define NB_BS_MAX_STEPS (1 + NB_BS_DELETES_MAX + 2 * NB_BS_SERVERS_MAX + NB_BS_ACLS_MAX + 3)
#define NB_BS_MAX_LISTENERS 8
#define NB_BS_PSK_LEN 16

/* A key the bootstrap server signs with: the one of its raw public key or of its certificate. */
typedef struct {
  uint8_t *key; /* PEM or DER copy, NULL: none */
  size_t len;
  char signer[NB_DTLS_SECURE_ID_LEN + 1]; /* its secure ID (evidence) */
} nb_bs_sign_key;

typedef enum {
  NB_BSS_RUNNING,
  NB_BSS_WAIT_RETRY,
  NB_BSS_INSTALLING,  /* waits for an asynchronous install before Finish */
  NB_BSS_FINISH_WAIT, /* Finish went unanswered: waits a while for the device's registration */
} nb_bss_state;

/* One request to the device: a Discover, Delete, Write or Finish. */
typedef struct {
  uint8_t method;
  nb_path path;
  bool finish;
  bool receipt; /* signed session: Bootstrap-Read /1 answered with the device's signature */
  bool signed_; /* body is a COSE_Sign1 (kept as evidence) */
  nb_time_ms sent_at;
  int cf;     /* Content-Format of body (NB_COAP_CF_NONE without) */
  int accept; /* Discover: link-format */
  nb_bytes body;
  uint8_t expect; /* success code */
  char name[40];
} nb_bs_step;

typedef struct nb_bs_session {
  struct nb_bs_session *next;
  struct nb_bs_engine *bs;
  char ep[NB_BS_EP_MAX];
  nb_addr peer;
  nb_bss_state state;
  bool by_default; /* only the default config matched: may be evicted for a known device */
  int format;
  nb_bs_config cfg;
  nb_bs_step steps[NB_BS_MAX_STEPS];
  size_t nsteps, cur;
  bool built;      /* deletes/writes/finish added (after Discover when there is one) */
  int bs_sec_inst; /* the device's bootstrap account in /0, -1 unknown */
  nb_coap_req_id req;
  unsigned attempt;
  nb_time_ms retry_at;
  nb_server_sec_info install; /* credential for the management server, kind NONE = none */
  bool install_nosec;         /* a NoSec account: drop any old credential */
  nb_server_identity id;      /* how the device authenticated to us (kind NONE: NoSec) */
  nb_server_sec_info bs_cred; /* its fresh bootstrap-account credential, kind NONE = none */
  nb_bytes bs_priv;           /* RPK: its private key (DER), to write the same key again */
  size_t bs_write_step;       /* the step writing it (committed once the device took it) */
  bool bs_sent;               /* written, not acknowledged: pending; later attempts reuse it */
  bool installed;             /* this attempt's credential is in the management server */
  uint64_t ticket;            /* asynchronous install being waited for (0 none) */
  nb_time_ms install_deadline;
  bool sign;                                /* signed session (pct=18, peer key, our key) */
  const nb_bs_sign_key *sk;                 /* the key it signs with */
  char peer_sid[NB_DTLS_SECURE_ID_LEN + 1]; /* secure ID of the device's key, "" without */
  uint8_t cti[NB_BS_CTI_LEN];               /* this attempt's ID */
  char cti_hex[2 * NB_BS_CTI_LEN + 1];
  nb_time_ms build_now; /* when the writes were built (their iat) */
  nb_bytes receipt;     /* the device's signed receipt of this attempt */
  nb_time_ms receipt_at;
} nb_bs_session;

/* A Bootstrap-Request waiting for the operator: small, no config or sequence until approved. */
typedef struct nb_bs_pend {
  struct nb_bs_pend *next; /* oldest first */
  char ep[NB_BS_EP_MAX];
  nb_addr peer;
  nb_coap_exchange *held; /* answered on approval (2.04), rejection (4.03) or eviction (5.03) */
  int format;
  bool evictable; /* NoSec, default config only */
  nb_server_identity id;
  /* Held by an earlier run of the engine (nb_bs_engine_restore_pending): its request went
   * with that run, the device asks again. approved: the operator approved it since, so the
   * device's next request goes ahead without waiting. */
  bool restored, approved;
} nb_bs_pend;

struct nb_bs_engine {
  nb_bs_engine_config cfg;
  nb_coap_ep *ep;
  nb_model *own_model;
  const nb_model *model;
  nb_bs_session *sessions;
  nb_bs_pend *pend, **pend_tail;
  size_t npend, npend_default;
  struct {
    nb_bs_listener_fn fn;
    void *user;
  } listeners[NB_BS_MAX_LISTENERS];
  size_t nlisteners;
  nb_bs_engine_stats stats;
  size_t nsessions;
  const nb_server_identity *rx_id;
  uint64_t next_ticket;
  nb_bs_sign_key sign_rpk, sign_x509; /* copies of cfg.sign_key and cfg.sign_key_x509 */
};

static const char *const k_event_names[] = {
    "BOOTSTRAP_REQUEST",  "BOOTSTRAP_PENDING", "BOOTSTRAP_APPROVED", "BOOTSTRAP_REJECTED",
    "BOOTSTRAP_FINISHED", "BOOTSTRAP_FAILED",  "BOOTSTRAP_ALERT",    "BOOTSTRAP_EVICTED"};

const char *nb_bs_event_name(nb_bs_event_type t) {
  return (unsigned)t < sizeof k_event_names / sizeof *k_event_names ? k_event_names[t] : "?";
}

void nb_bs_engine_config_default(nb_bs_engine_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  nb_coap_ep_config_default(&cfg->coap);
  cfg->policy = NB_BS_POLICY_AUTO;
  cfg->max_attempts = 3;
  cfg->retry_backoff = 10000;
  cfg->install_timeout = 15000;
  cfg->max_sessions = 10000;
  cfg->max_pending = 1000;
}

static int64_t nb_bs_unix_ms(const nb_bs_engine *bs, nb_time_ms now) {
  return (int64_t)now + bs->cfg.unix_offset_ms;
}

/* ---- events ---- */

static void nb_bs_emit(nb_bs_engine *bs, nb_bs_event *ev) {
  char a[NB_ADDR_STRLEN] = "-", code[8] = "-";
  if (ev->peer) nb_addr_format(ev->peer, a, sizeof a);
  if (ev->code) nb_coap_code_format(ev->code, code);
  nb_log_level lvl =
      ev->type == NB_BS_EV_FAILED || ev->type == NB_BS_EV_ALERT ? NB_LOG_WARN : NB_LOG_INFO;
  /* An error says what it means too (err=NB_ERR_DENIED alone tells an operator little). */
  nb_logf(lvl, NB_BS_LOG, "event=%s ep=%s peer=%s code=%s err=%s step=\"%s\" secure_id=%s%s%s%s",
          nb_bs_event_name(ev->type), ev->ep[0] ? ev->ep : "-", a, code,
          ev->err ? nb_err_name(ev->err) : "-", ev->step ? ev->step : "",
          ev->secure_id ? ev->secure_id : "-", ev->err ? " reason=\"" : "",
          ev->err ? nb_strerror(ev->err) : "", ev->err ? "\"" : "");
  for (size_t i = 0; i < bs->nlisteners; i++) bs->listeners[i].fn(bs->listeners[i].user, ev);
}

static void nb_bs_emit_s(nb_bs_session *s, nb_bs_event_type t, uint8_t code, nb_err err,
                         const char *step, nb_time_ms now) {
  nb_bs_event ev = {.type = t,
                    .ep = s->ep,
                    .peer = &s->peer,
                    .code = code,
                    .err = err,
                    .step = step,
                    .attempt = s->attempt,
                    .now = now};
  nb_bs_emit(s->bs, &ev);
}

nb_err nb_bs_engine_add_listener(nb_bs_engine *bs, nb_bs_listener_fn fn, void *user) {
  if (!fn) return NB_ERR_INVAL;
  if (bs->nlisteners == NB_BS_MAX_LISTENERS) return NB_ERR_BUSY;
  bs->listeners[bs->nlisteners].fn = fn;
  bs->listeners[bs->nlisteners++].user = user;
  return NB_OK;
}

void nb_bs_engine_remove_listener(nb_bs_engine *bs, nb_bs_listener_fn fn, void *user) {
  for (size_t i = 0; i < bs->nlisteners; i++) {
    if (bs->listeners[i].fn != fn || bs->listeners[i].user != user) continue;
    memmove(&bs->listeners[i], &bs->listeners[i + 1],
            (bs->nlisteners - i - 1) * sizeof bs->listeners[0]);
    bs->nlisteners--;
    return;
  }
}

/* ---- sessions ---- */

static nb_bs_session *nb_bs_find(const nb_bs_engine *bs, const char *ep) {
  for (nb_bs_session *s = bs->sessions; s; s = s->next)
    if (strcmp(s->ep, ep) == 0) return s;
  return NULL;
}

static void nb_bs_steps_clear(nb_bs_session *s) {
  for (size_t i = 0; i < s->nsteps; i++) nb_bytes_free(&s->steps[i].body);
  s->nsteps = s->cur = 0;
  s->built = false;
  nb_bytes_free(&s->receipt);
}

/* Wipes the fresh bootstrap-account key from memory (a pending one stays in the source). */
static void nb_bs_forget_bs_cred(nb_bs_session *s) {
  memset(&s->bs_cred, 0, sizeof s->bs_cred);
  if (s->bs_priv.data) memset(s->bs_priv.data, 0, s->bs_priv.len);
  nb_bytes_free(&s->bs_priv);
  s->bs_sent = false;
}

/* Unlinks and frees a session; an outstanding request is cancelled (its callback ignores it). */
static void nb_bs_session_free(nb_bs_engine *bs, nb_bs_session *s, nb_time_ms now) {
  for (nb_bs_session **pp = &bs->sessions; *pp; pp = &(*pp)->next)
    if (*pp == s) {
      *pp = s->next;
      bs->nsessions--;
      break;
    }
  nb_coap_req_id req = s->req;
  s->req = 0;
  if (req) nb_coap_ep_cancel(bs->ep, req, false, now);
  nb_bs_steps_clear(s);
  memset(&s->install, 0, sizeof s->install); /* holds a secret */
  nb_bs_forget_bs_cred(s);
  free(s);
}

/* ---- requests waiting for approval ---- */

static nb_bs_pend *nb_bs_pend_find(const nb_bs_engine *bs, const char *ep) {
  for (nb_bs_pend *p = bs->pend; p; p = p->next)
    if (strcmp(p->ep, ep) == 0) return p;
  return NULL;
}

/* Unlinks and frees a pending record; its request is dropped unanswered unless answered. */
static void nb_bs_pend_free(nb_bs_engine *bs, nb_bs_pend *p) {
  for (nb_bs_pend **pp = &bs->pend; *pp; pp = &(*pp)->next)
    if (*pp == p) {
      *pp = p->next;
      if (bs->pend_tail == &p->next) bs->pend_tail = pp;
      bs->npend--;
      bs->npend_default -= p->evictable;
      break;
    }
  if (p->held) nb_coap_exchange_free(p->held);
  free(p);
}

/* ---- building the sequence ---- */

static nb_bs_step *nb_bs_step_add(nb_bs_session *s, uint8_t method, const nb_path *p,
                                  uint8_t expect, const char *verb) {
  if (s->nsteps == NB_BS_MAX_STEPS) return NULL;
  nb_bs_step *st = &s->steps[s->nsteps++];
  memset(st, 0, sizeof *st);
  st->method = method;
  st->path = *p;
  st->cf = st->accept = NB_COAP_CF_NONE;
  st->expect = expect;
  nb_bytes_init(&st->body);
  char ps[NB_PATH_STRLEN];
  nb_path_format(p, ps, sizeof ps);
  snprintf(st->name, sizeof st->name, "%s %s", verb, ps);
  return st;
}

static nb_err nb_bs_rec_int(nb_records *r, nb_path p, int64_t v) {
  nb_value x = nb_value_int(v);
  return nb_records_add(r, &p, &x);
}
static nb_err nb_bs_rec_bool(nb_records *r, nb_path p, bool v) {
  nb_value x = nb_value_bool(v);
  return nb_records_add(r, &p, &x);
}
static nb_err nb_bs_rec_str(nb_records *r, nb_path p, const char *v) {
  nb_value x = nb_value_none();
  nb_err e = nb_value_set_string(&x, v, strlen(v));
  return e == NB_OK ? nb_records_add(r, &p, &x) : e;
}
static nb_err nb_bs_rec_bytes(nb_records *r, nb_path p, const uint8_t *d, size_t n) {
  nb_value x = nb_value_none();
  nb_err e = nb_value_set_opaque(&x, d, n);
  return e == NB_OK ? nb_records_add(r, &p, &x) : e;
}

/* COSE_Sign1 of the SenML CBOR of recs at p: about ep (sub), this attempt's cti, iat when
 * known; secret keys withheld from the signed payload (docs/cose.md "Secrets in signed
 * writes"), so that what is kept as evidence holds none. */
static nb_err nb_bs_sign(const nb_bs_session *s, const nb_records *recs, const nb_path *p,
                         nb_bytes *out) {
  const nb_bs_engine *bs = s->bs;
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  h.content_format = NB_COAP_CF_SENML_CBOR;
  snprintf(h.sub, sizeof h.sub, "%s", s->ep);
  memcpy(h.cti, s->cti, NB_BS_CTI_LEN);
  h.cti_len = NB_BS_CTI_LEN;
  if (bs->cfg.unix_offset_ms) {
    h.has_iat = true;
    h.iat = nb_bs_unix_ms(bs, s->build_now) / 1000;
  }
  return nb_cose_sign_records(&h, recs, p, bs->model, s->sk->key, s->sk->len, out);
}

/* Adds a Bootstrap-Write of records at /o/i in the session's format (signed in a signed
 * session: SenML CBOR inside COSE_Sign1). */
static nb_err nb_bs_add_write(nb_bs_session *s, uint16_t o, uint16_t i, const nb_records *recs) {
  nb_path p = nb_path_inst(o, i);
  nb_bs_step *st = nb_bs_step_add(s, NB_COAP_PUT, &p, NB_COAP_CHANGED, "write");
  if (!st) return NB_ERR_BUSY;
  st->cf = s->format;
  if (!s->sign) return nb_format_encode(s->format, recs, &p, s->bs->model, &st->body, NULL, NULL);
  st->cf = NB_COSE_CF_SIGN1;
  st->signed_ = true;
  return nb_bs_sign(s, recs, &p, &st->body);
}

/* X.509: a fresh P-256 key and a certificate for it, subject CN = the endpoint name, signed by
 * the config's CA; the management server then binds that CN to this endpoint. */
static nb_err nb_bs_x509_keys(nb_bs_session *s, const nb_bs_server *srv, uint16_t i, nb_records *r,
                              bool first) {
  if (!s->cfg.ca_cert_len || !s->cfg.ca_key_len) return NB_ERR_INVAL;
  if (strlen(s->ep) >= sizeof s->install.identity) return NB_ERR_OVERFLOW;
  nb_dtls_cert_request req = {.cn = s->ep};
  nb_dtls_certkey ck;
  nb_err e = nb_dtls_cert_issue(s->cfg.ca_cert, s->cfg.ca_cert_len, s->cfg.ca_key,
                                s->cfg.ca_key_len, &req, &ck);
  if (e != NB_OK) return e;
  e = nb_bs_rec_bytes(r, nb_path_res(0, i, 3), ck.cert_der.data, ck.cert_der.len);
  if (e == NB_OK)
    e = nb_bs_rec_bytes(r, nb_path_res(0, i, 4), srv->server_pubkey, srv->server_pubkey_len);
  if (e == NB_OK)
    e = nb_bs_rec_bytes(r, nb_path_res(0, i, 5), ck.key.key_der.data, ck.key.key_der.len);
  if (e == NB_OK && first) {
    s->install.kind = NB_SERVER_ID_X509;
    snprintf(s->install.identity, sizeof s->install.identity, "%s", s->ep);
  }
  nb_dtls_certkey_free(&ck);
  return e;
}

/* Fills the key resources of a Security instance: given or freshly generated credentials, and
 * remembers what the management server must accept from this device. */
static nb_err nb_bs_security_keys(nb_bs_session *s, const nb_bs_server *srv, uint16_t i,
                                  nb_records *r) {
  nb_err e = NB_OK;
  bool first = s->install.kind == NB_SERVER_ID_NONE;
  if (srv->mode == NB_BS_SEC_PSK) {
    uint8_t key[NB_BS_KEY_MAX];
    size_t klen = srv->psk_key_len;
    if (klen)
      memcpy(key, srv->psk_key, klen);
    else if ((e = nb_dtls_psk_generate(key, NB_BS_PSK_LEN)) == NB_OK)
      klen = NB_BS_PSK_LEN;
    const char *ident = srv->psk_identity[0] ? srv->psk_identity : s->ep;
    if (e == NB_OK)
      e = nb_bs_rec_bytes(r, nb_path_res(0, i, 3), (const uint8_t *)ident, strlen(ident));
    if (e == NB_OK) e = nb_bs_rec_bytes(r, nb_path_res(0, i, 4), NULL, 0);
    if (e == NB_OK) e = nb_bs_rec_bytes(r, nb_path_res(0, i, 5), key, klen);
    if (e == NB_OK && first) {
      s->install.kind = NB_SERVER_ID_PSK;
      snprintf(s->install.identity, sizeof s->install.identity, "%s", ident);
      memcpy(s->install.key, key, klen);
      s->install.key_len = klen;
    }
    memset(key, 0, sizeof key);
  } else if (srv->mode == NB_BS_SEC_RPK) {
    nb_dtls_keypair kp;
    e = nb_dtls_keypair_generate(&kp);
    if (e != NB_OK) return e;
    e = nb_bs_rec_bytes(r, nb_path_res(0, i, 3), kp.spki_der.data, kp.spki_der.len);
    if (e == NB_OK)
      e = nb_bs_rec_bytes(r, nb_path_res(0, i, 4), srv->server_pubkey, srv->server_pubkey_len);
    if (e == NB_OK) e = nb_bs_rec_bytes(r, nb_path_res(0, i, 5), kp.key_der.data, kp.key_der.len);
    if (e == NB_OK && first && kp.spki_der.len <= sizeof s->install.key) {
      s->install.kind = NB_SERVER_ID_RPK;
      snprintf(s->install.identity, sizeof s->install.identity, "%s", kp.secure_id);
      memcpy(s->install.key, kp.spki_der.data, kp.spki_der.len);
      s->install.key_len = kp.spki_der.len;
    }
    nb_dtls_keypair_free(&kp);
  } else if (srv->mode == NB_BS_SEC_X509) {
    e = nb_bs_x509_keys(s, srv, i, r, first);
  } else {
    for (uint16_t res = 3; res <= 5 && e == NB_OK; res++)
      e = nb_bs_rec_bytes(r, nb_path_res(0, i, res), NULL, 0);
    if (first && srv->mode == NB_BS_SEC_NOSEC) s->install_nosec = true;
  }
  return e;
}

static nb_err nb_bs_add_server(nb_bs_session *s, const nb_bs_server *srv, uint16_t sec_i,
                               uint16_t srv_i) {
  nb_records r;
  nb_records_init(&r);
  nb_err e = nb_bs_rec_str(&r, nb_path_res(0, sec_i, 0), srv->uri);
  if (e == NB_OK) e = nb_bs_rec_bool(&r, nb_path_res(0, sec_i, 1), false);
  if (e == NB_OK) e = nb_bs_rec_int(&r, nb_path_res(0, sec_i, 2), srv->mode);
  if (e == NB_OK) e = nb_bs_security_keys(s, srv, sec_i, &r);
  if (e == NB_OK) e = nb_bs_rec_int(&r, nb_path_res(0, sec_i, 10), srv->ssid);
  if (e == NB_OK) e = nb_bs_add_write(s, 0, sec_i, &r);
  nb_records_deinit(&r);
  if (e != NB_OK) return e;
  nb_records_init(&r);
  e = nb_bs_rec_int(&r, nb_path_res(1, srv_i, 0), srv->ssid);
  if (e == NB_OK)
    e = nb_bs_rec_int(&r, nb_path_res(1, srv_i, 1), srv->lifetime ? srv->lifetime : 86400);
  if (e == NB_OK) e = nb_bs_rec_bool(&r, nb_path_res(1, srv_i, 6), false);
  if (e == NB_OK)
    e = nb_bs_rec_str(&r, nb_path_res(1, srv_i, 7), srv->binding[0] ? srv->binding : "U");
  if (e == NB_OK) e = nb_bs_add_write(s, 1, srv_i, &r);
  nb_records_deinit(&r);
  return e;
}

static nb_err nb_bs_add_acl(nb_bs_session *s, const nb_bs_acl *acl, uint16_t i) {
  nb_records r;
  nb_records_init(&r);
  nb_err e = nb_bs_rec_int(&r, nb_path_res(2, i, 0), acl->obj);
  if (e == NB_OK) e = nb_bs_rec_int(&r, nb_path_res(2, i, 1), acl->inst);
  for (size_t k = 0; k < acl->n && k < NB_BS_ACL_ENTRIES && e == NB_OK; k++)
    e = nb_bs_rec_int(&r, nb_path_rinst(2, i, 2, acl->ssid[k]), acl->rights[k]);
  if (e == NB_OK) e = nb_bs_rec_int(&r, nb_path_res(2, i, 3), acl->owner);
  if (e == NB_OK) e = nb_bs_add_write(s, 2, i, &r);
  nb_records_deinit(&r);
  return e;
}

/* A fresh PSK identity: ep and 64 random bits. It differs from the one the device
 * authenticated with, so that while the device has not acknowledged the new key (pending) the
 * PSK lookup, which goes by identity, can serve either key. */
static nb_err nb_bs_fresh_psk_identity(const nb_bs_session *s, char *out, size_t cap) {
  uint8_t rnd[8];
  nb_err e = nb_random_bytes(rnd, sizeof rnd);
  if (e != NB_OK) return e;
  int n = snprintf(out, cap, "%s#", s->ep);
  for (size_t k = 0; k < sizeof rnd && n > 0 && (size_t)n + 2 < cap; k++, n += 2)
    snprintf(out + n, cap - (size_t)n, "%02x", rnd[k]);
  return n > 0 && (size_t)n + 1 < cap ? NB_OK : NB_ERR_OVERFLOW;
}

/* Generates the fresh credential of the kind the device authenticated with into s->bs_cred
 * (and s->bs_priv for RPK). */
static nb_err nb_bs_fresh_bs_cred(nb_bs_session *s) {
  nb_server_sec_info *c = &s->bs_cred;
  snprintf(c->ep, sizeof c->ep, "%s", s->ep);
  if (s->id.kind == NB_SERVER_ID_PSK) {
    c->kind = NB_SERVER_ID_PSK;
    c->key_len = NB_BS_PSK_LEN;
    nb_err e = nb_bs_fresh_psk_identity(s, c->identity, sizeof c->identity);
    return e == NB_OK ? nb_dtls_psk_generate(c->key, c->key_len) : e;
  }
  nb_dtls_keypair kp;
  nb_err e = nb_dtls_keypair_generate(&kp);
  if (e != NB_OK) return e;
  if (kp.spki_der.len > sizeof c->key) e = NB_ERR_OVERFLOW;
  if (e == NB_OK) e = nb_bytes_append(&s->bs_priv, kp.key_der.data, kp.key_der.len);
  if (e == NB_OK) {
    c->kind = NB_SERVER_ID_RPK;
    snprintf(c->identity, sizeof c->identity, "%s", kp.secure_id);
    memcpy(c->key, kp.spki_der.data, kp.spki_der.len);
    c->key_len = kp.spki_der.len;
  }
  nb_dtls_keypair_free(&kp);
  return e;
}

/* Whether a pending credential can be written again as it is: a PSK with its key, an RPK whose
 * kept private key is the one of next (a row from an older version has none). */
static bool nb_bs_pending_usable(const nb_bs_pending_cred *p) {
  if (p->next.kind == NB_SERVER_ID_PSK) return p->next.key_len > 0;
  if (p->next.kind != NB_SERVER_ID_RPK || !p->priv_len) return false;
  nb_dtls_keypair kp;
  if (nb_dtls_keypair_load(p->priv, p->priv_len, &kp) != NB_OK) return false;
  bool ok = strcmp(kp.secure_id, p->next.identity) == 0 && kp.spki_der.len == p->next.key_len &&
            memcmp(kp.spki_der.data, p->next.key, p->next.key_len) == 0;
  nb_dtls_keypair_free(&kp);
  return ok;
}

/* The key still pending from an earlier bootstrap that this device (authenticated with the key
 * the write was meant to replace) may hold, into s->bs_cred: written again, never a new one, so
 * the device only ever holds its old key or that one, whatever is lost. NB_ERR_NOT_FOUND when
 * there is none to reuse. */
static nb_err nb_bs_resume_bs_cred(nb_bs_session *s) {
  const nb_bs_source *src = &s->bs->cfg.source;
  nb_bs_pending_cred p;
  if (!src->cred_pending_get || src->cred_pending_get(src->self, s->ep, &p) != NB_OK)
    return NB_ERR_NOT_FOUND;
  nb_err e = NB_ERR_NOT_FOUND;
  if (p.next.kind == s->id.kind && strcmp(p.prev, s->id.value) == 0 && nb_bs_pending_usable(&p)) {
    e = p.next.kind == NB_SERVER_ID_RPK ? nb_bytes_append(&s->bs_priv, p.priv, p.priv_len) : NB_OK;
    s->bs_cred = p.next;
    s->bs_sent = e == NB_OK; /* already pending: nothing to park */
    NB_LOG_INFO(NB_BS_LOG, "event=bootstrap-key-rewritten ep=%s kind=%s identity=%s err=%s", s->ep,
                nb_server_id_kind_name(p.next.kind), p.next.identity, nb_err_name(e));
  }
  memset(&p, 0, sizeof p);
  if (e != NB_OK) nb_bs_forget_bs_cred(s);
  return e;
}

/* Fresh credentials into the device's bootstrap account (resources 3 and 5), remembered in
 * s->bs_cred for our own store. While a write went out unacknowledged (in this session or an
 * earlier one) the same key is written again: the device may hold it, and at most two keys
 * stay valid. */
static nb_err nb_bs_fresh_bs_key(nb_bs_session *s, uint16_t i, nb_records *r) {
  nb_server_sec_info *c = &s->bs_cred;
  nb_err e = NB_OK;
  if (!s->bs_sent || c->kind != s->id.kind) {
    nb_bs_forget_bs_cred(s);
    e = nb_bs_resume_bs_cred(s);
    if (e == NB_ERR_NOT_FOUND) e = nb_bs_fresh_bs_cred(s);
  }
  if (e != NB_OK) return e;
  if (c->kind == NB_SERVER_ID_PSK) {
    e = nb_bs_rec_bytes(r, nb_path_res(0, i, 3), (const uint8_t *)c->identity, strlen(c->identity));
    return e == NB_OK ? nb_bs_rec_bytes(r, nb_path_res(0, i, 5), c->key, c->key_len) : e;
  }
  e = nb_bs_rec_bytes(r, nb_path_res(0, i, 3), c->key, c->key_len);
  return e == NB_OK ? nb_bs_rec_bytes(r, nb_path_res(0, i, 5), s->bs_priv.data, s->bs_priv.len) : e;
}

/* The device's own bootstrap account, when the config asks: fresh credentials (secured
 * devices only: a NoSec account has none) and/or the Bootstrap-Server Account Timeout. */
static nb_err nb_bs_add_bs_account(nb_bs_session *s) {
  bool fresh = s->cfg.bs_fresh_key &&
               (s->id.kind == NB_SERVER_ID_PSK || s->id.kind == NB_SERVER_ID_RPK) &&
               s->bs->cfg.source.cred_put;
  if (!fresh) nb_bs_forget_bs_cred(s); /* a pending one stays in the source */
  if ((!fresh && !s->cfg.bs_account_timeout) || s->bs_sec_inst < 0) {
    if (s->cfg.bs_fresh_key || s->cfg.bs_account_timeout)
      NB_LOG_WARN(NB_BS_LOG, "event=bootstrap-account-kept ep=%s reason=%s", s->ep,
                  s->bs_sec_inst < 0 ? "not-found-by-discover" : "no-psk-or-rpk-identity");
    return NB_OK;
  }
  uint16_t i = (uint16_t)s->bs_sec_inst;
  nb_records r;
  nb_records_init(&r);
  nb_err e = fresh ? nb_bs_fresh_bs_key(s, i, &r) : NB_OK;
  if (e == NB_OK && s->cfg.bs_account_timeout)
    e = nb_bs_rec_int(&r, nb_path_res(0, i, 12), s->cfg.bs_account_timeout);
  if (e == NB_OK) {
    s->bs_write_step = s->nsteps;
    e = nb_bs_add_write(s, 0, i, &r);
  }
  nb_records_deinit(&r);
  return e;
}

/* next becomes the only credential of its endpoint: the one with identity prev (same kind),
 * factory or leaked, stops working, also when registered under another name (secure ID used as
 * endpoint name); a pending copy of next goes. */
static nb_err nb_bs_replace_cred(nb_bs_engine *bs, const nb_server_sec_info *next,
                                 const char *prev) {
  const nb_bs_source *src = &bs->cfg.source;
  nb_server_sec_info old;
  bool pend = false;
  if (src->cred_find && src->cred_del &&
      src->cred_find(src->self, next->kind, prev, &old, &pend) == NB_OK && !pend &&
      strcmp(old.ep, next->ep) != 0)
    src->cred_del(src->self, old.ep);
  memset(&old, 0, sizeof old);
  nb_err e = src->cred_put(src->self, next);
  if (e == NB_OK && src->cred_pending_del) {
    nb_err d = src->cred_pending_del(src->self, next->ep);
    if (d != NB_ERR_NOT_FOUND) e = d;
  }
  return e;
}

/* The device took its new bootstrap-account key: from now on only that key is accepted here
 * (the old one, factory or leaked, stops working), under the endpoint name it bootstrapped as. */
static void nb_bs_commit_bs_cred(nb_bs_session *s) {
  if (s->bs_cred.kind == NB_SERVER_ID_NONE) return;
  nb_err e = nb_bs_replace_cred(s->bs, &s->bs_cred, s->id.value);
  NB_LOG_INFO(NB_BS_LOG, "event=bootstrap-key-replaced ep=%s kind=%s identity=%s err=%s", s->ep,
              nb_server_id_kind_name(s->bs_cred.kind), s->bs_cred.identity, nb_err_name(e));
  nb_bs_forget_bs_cred(s);
}

/* The bootstrap-account write goes out: until the device acknowledges it, the new credential
 * is kept as pending beside the current one, so that a device that applied it but whose
 * acknowledgement is lost for good is not locked out (nor a crash of ours between the two).
 * No pending slot in the source: as before, committed on acknowledgement only. */
static nb_err nb_bs_park_bs_cred(nb_bs_session *s) {
  const nb_bs_source *src = &s->bs->cfg.source;
  if (s->bs_sent || s->bs_cred.kind == NB_SERVER_ID_NONE || !src->cred_pending_put) return NB_OK;
  nb_bs_pending_cred p = {.next = s->bs_cred};
  snprintf(p.prev, sizeof p.prev, "%s", s->id.value);
  nb_err e = s->bs_priv.len <= sizeof p.priv ? NB_OK : NB_ERR_OVERFLOW;
  if (e == NB_OK && s->bs_priv.len) memcpy(p.priv, s->bs_priv.data, s->bs_priv.len);
  p.priv_len = s->bs_priv.len;
  if (e == NB_OK) e = src->cred_pending_put(src->self, &p);
  memset(&p, 0, sizeof p);
  NB_LOG_INFO(NB_BS_LOG, "event=bootstrap-key-pending ep=%s kind=%s identity=%s err=%s", s->ep,
              nb_server_id_kind_name(s->bs_cred.kind), s->bs_cred.identity, nb_err_name(e));
  s->bs_sent = e == NB_OK;
  return e;
}

/* Deletes, writes and Finish. Security instance IDs skip the device's bootstrap account. */
static nb_err nb_bs_build(nb_bs_session *s) {
  nb_err e = NB_OK;
  for (size_t k = 0; k < s->cfg.ndeletes && e == NB_OK; k++)
    if (!nb_bs_step_add(s, NB_COAP_DELETE, &s->cfg.deletes[k], NB_COAP_DELETED, "delete"))
      e = NB_ERR_BUSY;
  uint16_t sec_i = 0;
  for (size_t k = 0; k < s->cfg.nservers && e == NB_OK; k++, sec_i++) {
    if (sec_i == s->bs_sec_inst) sec_i++;
    e = nb_bs_add_server(s, &s->cfg.servers[k], sec_i, (uint16_t)k);
  }
  for (size_t k = 0; k < s->cfg.nacls && e == NB_OK; k++)
    e = nb_bs_add_acl(s, &s->cfg.acls[k], (uint16_t)k);
  /* The device signs what it now holds in /1 (spec: "receipt"), before a fresh key replaces
   * the bootstrap-account key it signs with and that authenticated this session. */
  if (e == NB_OK && s->sign) {
    nb_path o1 = nb_path_obj(1);
    nb_bs_step *rc = nb_bs_step_add(s, NB_COAP_GET, &o1, NB_COAP_CONTENT, "");
    if (!rc) return NB_ERR_BUSY;
    rc->accept = NB_COSE_CF_SIGN1;
    rc->receipt = true;
    snprintf(rc->name, sizeof rc->name, "receipt");
  }
  if (e == NB_OK) e = nb_bs_add_bs_account(s);
  nb_path root = nb_path_root();
  nb_bs_step *fin = e == NB_OK ? nb_bs_step_add(s, NB_COAP_POST, &root, NB_COAP_CHANGED, "") : NULL;
  if (e == NB_OK && !fin) e = NB_ERR_BUSY;
  if (fin) {
    fin->finish = true;
    snprintf(fin->name, sizeof fin->name, "finish");
  }
  s->built = true;
  return e;
}

/* ---- running the sequence ---- */

static void nb_bs_send_step(nb_bs_session *s, nb_time_ms now);
static void nb_bs_fail(nb_bs_session *s, uint8_t code, nb_err err, nb_time_ms now);

/* The bootstrap account is the Security instance listed without ssid (1.1 Core 5.2.7.3). */
static void nb_bs_note_discover(nb_bs_session *s, const nb_coap_msg *resp) {
  nb_lwm2m_links links;
  nb_lwm2m_links_init(&links);
  if (nb_linkfmt_decode(resp->payload, resp->payload_len, &links, NULL, NULL, 0) == NB_OK)
    for (size_t i = 0; i < links.len; i++) {
      const nb_lwm2m_link *l = &links.items[i];
      if (l->path.len == NB_PATH_INSTANCE && l->path.ids[0] == 0 && !(l->attrs.set & NB_ATTR_SSID))
        s->bs_sec_inst = l->path.ids[1];
    }
  nb_lwm2m_links_deinit(&links);
}

/* Installs the device's new credential in the management server's store just before Finish:
 * the device holds it now, and the previous key stops working. */
static nb_err nb_bs_install(nb_bs_session *s) {
  const nb_server_store *st = &s->bs->cfg.dm_store;
  s->installed = true;
  if (!st->ops) return NB_OK;
  if (s->install.kind != NB_SERVER_ID_NONE) {
    snprintf(s->install.ep, sizeof s->install.ep, "%s", s->ep);
    nb_err e = st->ops->sec_put(st->self, &s->install);
    NB_LOG_INFO(NB_BS_LOG, "event=credential-installed ep=%s kind=%s identity=%s err=%s", s->ep,
                nb_server_id_kind_name(s->install.kind), s->install.identity, nb_err_name(e));
    return e;
  }
  if (s->install_nosec) {
    nb_err e = st->ops->sec_del(st->self, s->ep);
    return e == NB_ERR_NOT_FOUND ? NB_OK : e;
  }
  return NB_OK;
}

/* The device's receipt: a COSE_Sign1 by the key it authenticated with, issued under its
 * endpoint name for this attempt's cti, over SenML CBOR of its /1 instances. */
static nb_err nb_bs_check_receipt(nb_bs_session *s, const nb_coap_msg *resp, nb_time_ms now) {
  const char *why = NULL;
  nb_cose_sign1_msg m;
  if (nb_coap_msg_content_format(resp) != NB_COSE_CF_SIGN1)
    why = "content-format";
  else if (nb_cose_open(resp->payload, resp->payload_len, s->id.key, s->id.key_len, &m) != NB_OK)
    why = "signature";
  else if (strcmp(m.h.iss, s->ep) != 0)
    why = "iss";
  else if (m.h.cti_len != NB_BS_CTI_LEN || memcmp(m.h.cti, s->cti, NB_BS_CTI_LEN) != 0)
    why = "cti";
  else if (m.h.content_format != NB_COAP_CF_SENML_CBOR)
    why = "inner-content-format";
  if (!why) {
    nb_records r;
    nb_records_init(&r);
    nb_path o1 = nb_path_obj(1);
    if (nb_format_decode(NB_COAP_CF_SENML_CBOR, m.payload, m.payload_len, &o1, s->bs->model, &r,
                         NULL, NULL) != NB_OK)
      why = "payload";
    nb_records_deinit(&r);
  }
  if (why) {
    NB_LOG_WARN(NB_BS_LOG, "event=receipt-rejected ep=%s cti=%s reason=%s", s->ep, s->cti_hex, why);
    return NB_ERR_DTLS_PEER_REJECTED;
  }
  nb_bytes_free(&s->receipt);
  s->receipt_at = now;
  return nb_bytes_append(&s->receipt, resp->payload, resp->payload_len);
}

/* Hands the signed writes of this attempt and the device's receipt to the source, in the
 * order they went over the wire, without the secrets a write carried beside its signature
 * (nb_cose_strip: the signature still verifies, the digests stay). */
static void nb_bs_keep_evidence(nb_bs_session *s) {
  const nb_bs_source *src = &s->bs->cfg.source;
  if (!src->evidence_put) return;
  unsigned seq = 0;
  nb_err e = NB_OK;
  nb_bytes kept;
  nb_bytes_init(&kept);
  for (size_t i = 0; i < s->nsteps && e == NB_OK; i++) {
    const nb_bs_step *st = &s->steps[i];
    if (!st->signed_ && !st->receipt) continue;
    char path[NB_PATH_STRLEN];
    nb_path_format(&st->path, path, sizeof path);
    kept.len = 0;
    const nb_bytes *sent = st->receipt ? &s->receipt : &st->body;
    e = nb_cose_strip(sent->data, sent->len, &kept);
    nb_bs_evidence ev = {.ep = s->ep,
                         .cti = s->cti_hex,
                         .seq = seq++,
                         .kind = st->receipt ? "receipt" : "write",
                         .path = path,
                         .signer = st->receipt ? s->peer_sid : s->sk->signer,
                         .at = nb_bs_unix_ms(s->bs, st->receipt ? s->receipt_at : st->sent_at),
                         .cose = kept.data,
                         .cose_len = kept.len};
    if (e == NB_OK) e = src->evidence_put(src->self, &ev);
  }
  nb_bytes_free(&kept);
  NB_LOG_INFO(NB_BS_LOG, "event=evidence-kept ep=%s cti=%s messages=%u err=%s", s->ep, s->cti_hex,
              seq, nb_err_name(e));
}

/* The device took Finish: it answered 2.04 (code), or, its answer lost, it registered with
 * the management server (code 0: only a client that processed Finish does). */
static void nb_bs_finished(nb_bs_session *s, uint8_t code, nb_time_ms now) {
  s->bs->stats.finished++;
  if (s->sign) nb_bs_keep_evidence(s);
  nb_bs_event ev = {.type = NB_BS_EV_FINISHED,
                    .ep = s->ep,
                    .peer = &s->peer,
                    .code = code,
                    .step = "finish",
                    .attempt = s->attempt,
                    .cti = s->sign ? s->cti_hex : NULL,
                    .now = now};
  nb_bs_emit(s->bs, &ev);
  nb_bs_session_free(s->bs, s, now);
}

static void nb_bs_response(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                           nb_time_ms now) {
  (void)last;
  nb_bs_session *s = user;
  if (err == NB_ERR_CANCELLED || !s->req) return;
  s->req = 0;
  if (err != NB_OK) return nb_bs_fail(s, 0, err, now);
  nb_bs_step *st = &s->steps[s->cur];
  if (resp->code != st->expect) return nb_bs_fail(s, resp->code, NB_OK, now);
  /* One line per completed step: what the device accepted (the monitor's tests compare it). */
  char code[8];
  NB_LOG_DEBUG(NB_BS_LOG, "event=bootstrap-step ep=%s step=\"%s\" code=%s", s->ep,
               st->finish ? "finish" : st->name, nb_coap_code_format(resp->code, code));
  if (st->accept == NB_COAP_CF_LINK_FORMAT) nb_bs_note_discover(s, resp);
  if (st->receipt) {
    nb_err e = nb_bs_check_receipt(s, resp, now);
    if (e != NB_OK) return nb_bs_fail(s, 0, e, now);
  }
  if (s->built && s->cur == s->bs_write_step) nb_bs_commit_bs_cred(s);
  if (st->finish) return nb_bs_finished(s, resp->code, now);
  s->cur++;
  s->build_now = now;
  if (!s->built) {
    nb_err e = nb_bs_build(s);
    if (e != NB_OK) return nb_bs_fail(s, NB_COAP_INTERNAL_SERVER_ERROR, e, now);
  }
  nb_bs_send_step(s, now);
}

/* Hands the credential to the asynchronous installer; the sequence waits in INSTALLING. */
static nb_err nb_bs_install_start(nb_bs_session *s, nb_time_ms now) {
  nb_bs_engine *bs = s->bs;
  if (s->install.kind == NB_SERVER_ID_NONE && !s->install_nosec) {
    s->installed = true;
    return NB_OK;
  }
  snprintf(s->install.ep, sizeof s->install.ep, "%s", s->ep);
  s->ticket = ++bs->next_ticket;
  s->state = NB_BSS_INSTALLING;
  s->install_deadline = now + bs->cfg.install_timeout;
  nb_err e = bs->cfg.install(bs->cfg.install_user, s->ticket, s->ep, &s->install);
  NB_LOG_INFO(NB_BS_LOG, "event=credential-install-started ep=%s kind=%s ticket=%llu err=%s", s->ep,
              nb_server_id_kind_name(s->install.kind), (unsigned long long)s->ticket,
              nb_err_name(e));
  if (e != NB_OK) {
    s->ticket = 0;
    s->state = NB_BSS_RUNNING;
  }
  return e;
}

static void nb_bs_send_step(nb_bs_session *s, nb_time_ms now) {
  nb_bs_step *st = &s->steps[s->cur];
  if (st->finish && !s->installed) {
    nb_err e = s->bs->cfg.install ? nb_bs_install_start(s, now) : nb_bs_install(s);
    if (e != NB_OK) /* a device without a usable key: stop */
      return nb_bs_fail(s, NB_COAP_INTERNAL_SERVER_ERROR, NB_ERR_IO, now);
    if (s->state == NB_BSS_INSTALLING) return; /* resumed by nb_bs_engine_install_done */
  }
  if (s->built && s->cur == s->bs_write_step && nb_bs_park_bs_cred(s) != NB_OK)
    return nb_bs_fail(s, NB_COAP_INTERNAL_SERVER_ERROR, NB_ERR_IO, now); /* could lose the key */
  st->sent_at = now;
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, st->method, 0);
  nb_err e = st->finish ? nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/bs")
                        : nb_path_to_coap(&m, &st->path);
  if (e == NB_OK && st->cf != NB_COAP_CF_NONE)
    e = nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, (uint32_t)st->cf);
  if (e == NB_OK && st->accept != NB_COAP_CF_NONE)
    e = nb_coap_msg_add_uint(&m, NB_COAP_OPT_ACCEPT, (uint32_t)st->accept);
  if (st->body.len) nb_coap_msg_set_payload(&m, st->body.data, st->body.len);
  if (e == NB_OK)
    e = nb_coap_ep_request(s->bs->ep, &s->peer, &m, true, nb_bs_response, s, now, &s->req);
  if (e != NB_OK) nb_bs_fail(s, NB_COAP_INTERNAL_SERVER_ERROR, e, now);
}

/* A signed bootstrap's ID: fresh for every attempt, so a receipt answers one attempt only. */
static nb_err nb_bs_new_cti(nb_bs_session *s) {
  nb_err e = nb_random_bytes(s->cti, NB_BS_CTI_LEN);
  for (size_t i = 0; e == NB_OK && i < NB_BS_CTI_LEN; i++)
    snprintf(s->cti_hex + 2 * i, 3, "%02x", s->cti[i]);
  return e;
}

/* (Re)starts the whole sequence with fresh credentials. */
static void nb_bs_begin(nb_bs_session *s, nb_time_ms now) {
  nb_bs_steps_clear(s);
  memset(&s->install, 0, sizeof s->install);
  if (!s->bs_sent) nb_bs_forget_bs_cred(s); /* else the device may hold it: written again */
  s->bs_write_step = SIZE_MAX;
  s->install_nosec = false;
  s->bs_sec_inst = -1;
  s->installed = false;
  s->ticket = 0;
  s->attempt++;
  s->state = NB_BSS_RUNNING;
  s->build_now = now;
  nb_err e = s->sign ? nb_bs_new_cti(s) : NB_OK;
  if (e == NB_OK && s->cfg.discover) {
    nb_path o0 = nb_path_obj(0);
    nb_bs_step *st = nb_bs_step_add(s, NB_COAP_GET, &o0, NB_COAP_CONTENT, "discover");
    st->accept = NB_COAP_CF_LINK_FORMAT;
  } else if (e == NB_OK) {
    e = nb_bs_build(s);
  }
  if (e != NB_OK) return nb_bs_fail(s, NB_COAP_INTERNAL_SERVER_ERROR, e, now);
  nb_bs_send_step(s, now);
}

/* How long an unanswered Finish waits for the device's registration: EXCHANGE_LIFETIME, time
 * for its Register (sent once it took Finish) to go through retransmissions and a retry. */
static nb_time_ms nb_bs_finish_grace(const nb_bs_engine *bs) {
  return nb_coap_exchange_lifetime(&bs->cfg.coap);
}

/* A device error ends the bootstrap; silence restarts the sequence a bounded number of times.
 * An unanswered Finish first waits for the device's registration (nb_bs_engine_registered):
 * its answer may be all that was lost, and the sequence must not start over on a device that
 * left bootstrap and registered. */
static void nb_bs_fail(nb_bs_session *s, uint8_t code, nb_err err, nb_time_ms now) {
  nb_bs_engine *bs = s->bs;
  const char *step = s->cur < s->nsteps ? s->steps[s->cur].name : "";
  bool finish = s->cur < s->nsteps && s->steps[s->cur].finish;
  if (code == 0 && err == NB_ERR_TIMEOUT && finish && s->state == NB_BSS_RUNNING) {
    s->state = NB_BSS_FINISH_WAIT;
    s->retry_at = now + nb_bs_finish_grace(bs);
    NB_LOG_WARN(NB_BS_LOG, "event=bootstrap-finish-unanswered ep=%s wait_ms=%lld", s->ep,
                (long long)(s->retry_at - now));
    return;
  }
  if (code == 0 && err == NB_ERR_TIMEOUT && s->attempt < bs->cfg.max_attempts) {
    nb_time_ms wait = bs->cfg.retry_backoff;
    for (unsigned k = 1; k < s->attempt; k++) wait *= 2;
    s->state = NB_BSS_WAIT_RETRY;
    s->retry_at = now + wait;
    bs->stats.retries++;
    NB_LOG_WARN(NB_BS_LOG, "event=bootstrap-retry ep=%s step=\"%s\" attempt=%u in_ms=%lld", s->ep,
                step, s->attempt, (long long)wait);
    return;
  }
  bs->stats.failed++;
  char name[40];
  snprintf(name, sizeof name, "%s", step);
  nb_bs_emit_s(s, NB_BS_EV_FAILED, code, err, name, now);
  nb_bs_session_free(bs, s, now);
}

/* The management server never got the credential: the device must not be told to use it. */
static void nb_bs_install_fail(nb_bs_session *s, nb_err err, nb_time_ms now) {
  nb_bs_engine *bs = s->bs;
  bs->stats.failed++;
  nb_bs_emit_s(s, NB_BS_EV_FAILED, NB_COAP_INTERNAL_SERVER_ERROR, err, "install", now);
  nb_bs_session_free(bs, s, now);
}

nb_err nb_bs_engine_registered(nb_bs_engine *bs, const char *ep, const nb_server_reg_identity *id,
                               nb_time_ms now) {
  nb_bs_session *s = nb_bs_find(bs, ep);
  bool finishing = s && s->cur < s->nsteps && s->steps[s->cur].finish &&
                   ((s->state == NB_BSS_RUNNING && s->req) || s->state == NB_BSS_FINISH_WAIT);
  if (!finishing) return NB_ERR_NOT_FOUND;
  /* With the credential just installed (or, for a NoSec account, without one): proof the
   * device holds this bootstrap's configuration and left bootstrap. */
  if (!nb_server_reg_identity_owns(id, s->install.kind != NB_SERVER_ID_NONE ? &s->install : NULL,
                                   true)) {
    NB_LOG_WARN(NB_BS_LOG, "event=registration-not-from-bootstrap ep=%s", ep);
    return NB_ERR_DTLS_PEER_REJECTED;
  }
  NB_LOG_INFO(NB_BS_LOG, "event=bootstrap-finish-confirmed ep=%s by=registration", ep);
  nb_coap_req_id req = s->req;
  s->req = 0; /* its callback, if any, finds nothing to do */
  if (req) nb_coap_ep_cancel(bs->ep, req, false, now);
  nb_bs_finished(s, 0, now);
  return NB_OK;
}

static nb_err nb_bs_load_config(nb_bs_engine *bs, const char *ep, nb_bs_config *cfg,
                                bool *by_default) {
  const nb_bs_source *src = &bs->cfg.source;
  nb_err e = src->config_get(src->self, ep, cfg);
  *by_default = e == NB_ERR_NOT_FOUND;
  if (e == NB_ERR_NOT_FOUND) e = src->config_get(src->self, "", cfg);
  return e;
}

/* Bootstraps a peer could have asked for in anybody's name: NoSec, default config only. */
static bool nb_bs_evictable(bool by_default, const nb_server_identity *id) {
  return by_default && (!id || id->kind == NB_SERVER_ID_NONE);
}

static void nb_bs_emit_evicted(nb_bs_engine *bs, const char *ep, const nb_addr *peer,
                               const char *what, nb_time_ms now) {
  bs->stats.evicted++;
  nb_bs_event ev = {.type = NB_BS_EV_EVICTED,
                    .ep = ep,
                    .peer = peer,
                    .code = NB_COAP_SERVICE_UNAVAILABLE,
                    .step = what,
                    .now = now};
  nb_bs_emit(bs, &ev);
}

/* The oldest evictable running bootstrap makes room for a known device's (sessions are
 * prepended: the last match is the oldest). */
static bool nb_bs_evict_session(nb_bs_engine *bs, nb_time_ms now) {
  nb_bs_session *old = NULL;
  for (nb_bs_session *s = bs->sessions; s; s = s->next)
    if (nb_bs_evictable(s->by_default, &s->id)) old = s;
  if (!old) return false;
  nb_bs_emit_evicted(bs, old->ep, &old->peer, "bootstrap", now);
  nb_bs_session_free(bs, old, now);
  return true;
}

/* The key of the credential the device saw: DTLS negotiates each side's certificate type
 * apart, and a device that authenticates with a certificate asks for ours (Niobium clients use
 * one type both ways). With one key only, that one: it is the only credential we have. */
static const nb_bs_sign_key *nb_bs_sign_key_for(const nb_bs_engine *bs, nb_server_id_kind kind) {
  const nb_bs_sign_key *mine = kind == NB_SERVER_ID_X509 ? &bs->sign_x509 : &bs->sign_rpk;
  const nb_bs_sign_key *other = kind == NB_SERVER_ID_X509 ? &bs->sign_rpk : &bs->sign_x509;
  return mine->key ? mine : other->key ? other : NULL;
}

/* The secure ID of the key a peer authenticated with (an X.509 identity's value is its CN). */
static void nb_bs_peer_sid(const nb_server_identity *id, char out[NB_DTLS_SECURE_ID_LEN + 1]) {
  out[0] = '\0';
  if (id->kind == NB_SERVER_ID_RPK) {
    size_t n = strnlen(id->value, NB_DTLS_SECURE_ID_LEN);
    memcpy(out, id->value, n);
    out[n] = '\0';
  } else if (id->kind == NB_SERVER_ID_X509 && id->key_len &&
             nb_dtls_secure_id(id->key, id->key_len, out) != NB_OK)
    out[0] = '\0';
}

static nb_err nb_bs_session_new(nb_bs_engine *bs, const char *ep, const nb_addr *peer, int format,
                                const nb_bs_config *cfg, bool by_default,
                                const nb_server_identity *id, nb_time_ms now, nb_bs_session **out) {
  bool evictable = nb_bs_evictable(by_default, id);
  if (bs->cfg.max_sessions && bs->nsessions >= bs->cfg.max_sessions &&
      (evictable || !nb_bs_evict_session(bs, now)))
    return NB_ERR_BUSY;
  nb_bs_session *s = calloc(1, sizeof *s);
  if (!s) return NB_ERR_NOMEM;
  s->bs = bs;
  s->by_default = by_default;
  if (id) s->id = *id;
  snprintf(s->ep, sizeof s->ep, "%s", ep);
  s->peer = *peer;
  s->format = format;
  nb_bs_peer_sid(&s->id, s->peer_sid);
  if (format == NB_COSE_CF_SIGN1) { /* signed SenML CBOR when both sides have a key */
    s->format = NB_COAP_CF_SENML_CBOR;
    s->sk = nb_bs_sign_key_for(bs, s->id.kind);
    s->sign = s->id.key_len > 0 && s->sk;
    if (!s->sign)
      NB_LOG_WARN(NB_BS_LOG, "event=bootstrap-unsigned ep=%s reason=%s", ep,
                  s->id.key_len ? "no-signing-key" : "peer-without-public-key");
  }
  nb_bytes_init(&s->receipt);
  nb_bytes_init(&s->bs_priv);
  s->cfg = *cfg;
  s->bs_sec_inst = -1;
  s->bs_write_step = SIZE_MAX;
  s->next = bs->sessions;
  bs->sessions = s;
  bs->nsessions++;
  *out = s;
  return NB_OK;
}

/* ---- Bootstrap-Request ---- */

static bool nb_bs_format_ok(int cf) {
  return cf == NB_COSE_CF_SIGN1 || cf == NB_COAP_CF_LWM2M_TLV || cf == NB_COAP_CF_SENML_CBOR ||
         cf == NB_COAP_CF_SENML_JSON || cf == NB_COAP_CF_LWM2M_JSON;
}

static void nb_bs_answer(nb_coap_exchange *ex, uint8_t code, nb_time_ms now) {
  nb_coap_msg r;
  nb_coap_msg_init(&r, NB_COAP_ACK, code, 0);
  nb_coap_exchange_respond(ex, &r, now);
}

/* step: "handshake" (a key refused by the verify hook) or "request" (an endpoint name the
 * authenticated key may not ask for). */
static void nb_bs_alert(nb_bs_engine *bs, const char *ep, const nb_addr *peer,
                        const char *secure_id, uint8_t code, const char *step, nb_time_ms now) {
  bs->stats.alerts++;
  nb_bs_event ev = {.type = NB_BS_EV_ALERT,
                    .ep = ep,
                    .peer = peer,
                    .code = code,
                    .step = step,
                    .secure_id = secure_id,
                    .now = now};
  nb_bs_emit(bs, &ev);
}

/* Whether ep has a config an X.509 device may be bootstrapped with as its CN: its own, or
 * the default one when the operator allowed it. */
static bool nb_bs_x509_config(const nb_bs_engine *bs, const char *ep) {
  const nb_bs_source *src = &bs->cfg.source;
  nb_bs_config *cfg = malloc(sizeof *cfg);
  if (!cfg || !ep[0]) {
    free(cfg);
    return false;
  }
  bool ok = src->config_get(src->self, ep, cfg) == NB_OK ||
            (bs->cfg.x509_default_config && src->config_get(src->self, "", cfg) == NB_OK);
  free(cfg); /* holds a CA key */
  return ok;
}

/* A certificate (already chained to a trust anchor) binds to an endpoint by its key's secure
 * ID registered out of band, as a raw public key does; without one, by its subject CN, for an
 * endpoint with a config and no registered credential of its own. */
static bool nb_bs_x509_ok(nb_bs_engine *bs, const char *ep, const nb_server_identity *id) {
  const nb_bs_source *src = &bs->cfg.source;
  char sid[NB_DTLS_SECURE_ID_LEN + 1];
  nb_bs_peer_sid(id, sid);
  if (!sid[0]) return false;
  nb_server_sec_info cred;
  bool ok;
  if (src->cred_get && src->cred_get(src->self, ep, &cred) == NB_OK)
    ok = cred.kind == NB_SERVER_ID_RPK && strcmp(cred.identity, sid) == 0;
  else if (src->cred_find && src->cred_find(src->self, NB_SERVER_ID_RPK, sid, &cred, NULL) == NB_OK)
    ok = false; /* registered for another endpoint */
  else
    ok = strcmp(id->value, ep) == 0 && nb_bs_x509_config(bs, ep);
  memset(&cred, 0, sizeof cred);
  return ok;
}

/* Binds the DTLS identity to the endpoint name: a secured peer only for its own registered
 * credential (an RPK peer also under its secure ID as name, a certificate by nb_bs_x509_ok); a
 * NoSec peer only for endpoints without a registered credential, and only when the config
 * allows NoSec. */
static bool nb_bs_identity_ok(nb_bs_engine *bs, const char *ep, const nb_server_identity *id) {
  if (id && id->kind == NB_SERVER_ID_X509) return nb_bs_x509_ok(bs, ep, id);
  const nb_bs_source *src = &bs->cfg.source;
  nb_server_sec_info cred;
  bool has = src->cred_get && src->cred_get(src->self, ep, &cred) == NB_OK, pend = false;
  if (!id || id->kind == NB_SERVER_ID_NONE) return !has && !bs->cfg.require_identity;
  if (has && cred.kind == id->kind && strcmp(cred.identity, id->value) == 0) return true;
  nb_bs_pending_cred p;
  bool ok = src->cred_pending_get && src->cred_pending_get(src->self, ep, &p) == NB_OK &&
            p.next.kind == id->kind && strcmp(p.next.identity, id->value) == 0;
  memset(&p, 0, sizeof p);
  memset(&cred, 0, sizeof cred);
  if (ok || has) return ok; /* a pending key: only for the endpoint it was issued to */
  return id->kind == NB_SERVER_ID_RPK && strcmp(ep, id->value) == 0 && src->cred_find &&
         src->cred_find(src->self, NB_SERVER_ID_RPK, id->value, &cred, &pend) == NB_OK && !pend;
}

/* An authenticated Bootstrap-Request after a bootstrap-account write that was never
 * acknowledged: with the pending key, the device holds it and it replaces the current one.
 * With the key the write was meant to replace, nothing is decided: the request may come over a
 * DTLS session made before the write (or from whoever else holds that key), so the pending key
 * stays and the next bootstrap writes it again. A pending key that cannot be written again
 * (an RPK row from an older version, without its private key) or that the device's current key
 * no longer matches is dropped. Runs after nb_bs_identity_ok. */
static void nb_bs_settle_pending(nb_bs_engine *bs, const char *ep, const nb_server_identity *id) {
  const nb_bs_source *src = &bs->cfg.source;
  nb_bs_pending_cred p;
  if (!id || id->kind == NB_SERVER_ID_NONE || !src->cred_pending_get || !src->cred_pending_del ||
      src->cred_pending_get(src->self, ep, &p) != NB_OK)
    return;
  bool promote = p.next.kind == id->kind && strcmp(p.next.identity, id->value) == 0;
  if (!promote && p.next.kind == id->kind && strcmp(p.prev, id->value) == 0 &&
      nb_bs_pending_usable(&p)) {
    NB_LOG_INFO(NB_BS_LOG, "event=bootstrap-key-undecided ep=%s kind=%s identity=%s", ep,
                nb_server_id_kind_name(p.next.kind), p.next.identity);
    memset(&p, 0, sizeof p);
    return;
  }
  nb_err e = promote && src->cred_put ? nb_bs_replace_cred(bs, &p.next, p.prev)
                                      : src->cred_pending_del(src->self, ep);
  NB_LOG_INFO(NB_BS_LOG, "event=bootstrap-key-%s ep=%s kind=%s identity=%s err=%s",
              promote ? "promoted" : "dropped", ep, nb_server_id_kind_name(p.next.kind),
              p.next.identity, nb_err_name(e));
  memset(&p, 0, sizeof p);
}

static void nb_bs_emit_p(nb_bs_engine *bs, const nb_bs_pend *p, nb_bs_event_type t, uint8_t code,
                         nb_time_ms now) {
  nb_bs_event ev = {.type = t, .ep = p->ep, .peer = &p->peer, .code = code, .now = now};
  nb_bs_emit(bs, &ev);
}

/* Makes room for one more pending request: the oldest evictable one goes (answered 5.03, the
 * device may ask again later). A known device's request is admitted even when none can go. */
static bool nb_bs_pend_room(nb_bs_engine *bs, bool evictable, nb_time_ms now) {
  if (!evictable || bs->npend_default < bs->cfg.max_pending) return true;
  nb_bs_pend *old = bs->pend;
  while (old && !old->evictable) old = old->next;
  if (!old) return false; /* max_pending 0: no default-config request may wait */
  nb_bs_emit_evicted(bs, old->ep, &old->peer, "pending", now);
  if (old->held) nb_bs_answer(old->held, NB_COAP_SERVICE_UNAVAILABLE, now);
  old->held = NULL;
  nb_bs_pend_free(bs, old);
  return true;
}

/* Policy approve: the request waits, as a small record, until the operator decides. */
static void nb_bs_hold(nb_bs_engine *bs, nb_coap_exchange *ex, const char *ep, const nb_addr *peer,
                       const nb_server_identity *id, int format, bool by_default, nb_time_ms now) {
  nb_bs_pend *p = nb_bs_pend_find(bs, ep);
  if (p) nb_bs_pend_free(bs, p); /* a repeated request while waiting: keep the newest */
  nb_server_identity none = {.kind = NB_SERVER_ID_NONE};
  if (!id) id = &none;
  if (!nb_bs_pend_room(bs, nb_bs_evictable(by_default, id), now)) {
    bs->stats.overloaded++;
    return nb_bs_answer(ex, NB_COAP_SERVICE_UNAVAILABLE, now);
  }
  if (!(p = calloc(1, sizeof *p))) return nb_bs_answer(ex, NB_COAP_INTERNAL_SERVER_ERROR, now);
  snprintf(p->ep, sizeof p->ep, "%s", ep);
  p->peer = *peer;
  p->held = ex;
  p->format = format;
  p->evictable = nb_bs_evictable(by_default, id);
  p->id = *id;
  *bs->pend_tail = p;
  bs->pend_tail = &p->next;
  bs->npend++;
  bs->npend_default += p->evictable;
  bs->stats.pending++;
  nb_bs_emit_p(bs, p, NB_BS_EV_PENDING, 0, now);
}

static void nb_bs_request(nb_bs_engine *bs, nb_coap_exchange *ex, const nb_addr *peer,
                          const nb_server_identity *id, const nb_coap_msg *req, nb_time_ms now) {
  char ep[NB_BS_EP_MAX], pct[12];
  if (nb_coap_msg_get_query(req, NB_COAP_OPT_URI_QUERY, "ep", ep, sizeof ep) != NB_OK || !ep[0])
    return nb_bs_answer(ex, NB_COAP_BAD_REQUEST, now);
  int format = NB_COAP_CF_LWM2M_TLV; /* no pct: a 1.0 client, which must support TLV */
  if (nb_coap_msg_get_query(req, NB_COAP_OPT_URI_QUERY, "pct", pct, sizeof pct) == NB_OK) {
    char *end;
    long v = strtol(pct, &end, 10);
    if (*end || !nb_bs_format_ok((int)v))
      return nb_bs_answer(ex, NB_COAP_UNSUPPORTED_CONTENT_FORMAT, now);
    format = (int)v;
  }
  bs->stats.requests++;
  nb_bs_event ev = {.type = NB_BS_EV_REQUEST, .ep = ep, .peer = peer, .now = now};
  nb_bs_emit(bs, &ev);
  if (!nb_bs_identity_ok(bs, ep, id)) {
    char sid[NB_DTLS_SECURE_ID_LEN + 1] = "";
    if (id) nb_bs_peer_sid(id, sid);
    nb_bs_alert(bs, ep, peer, sid[0] ? sid : NULL, NB_COAP_FORBIDDEN, "request", now);
    return nb_bs_answer(ex, NB_COAP_FORBIDDEN, now);
  }
  nb_bs_settle_pending(bs, ep, id);
  nb_bs_config cfg;
  bool by_default;
  if (nb_bs_load_config(bs, ep, &cfg, &by_default) != NB_OK) { /* unknown, no default */
    bs->stats.rejected++;
    ev.type = NB_BS_EV_REJECTED;
    ev.code = NB_COAP_BAD_REQUEST;
    nb_bs_emit(bs, &ev);
    return nb_bs_answer(ex, NB_COAP_BAD_REQUEST, now);
  }
  nb_bs_session *s = nb_bs_find(bs, ep);
  if (s) nb_bs_session_free(bs, s, now); /* the device started over */
  nb_bs_pend *restored = nb_bs_pend_find(bs, ep);
  if (restored && !restored->restored) restored = NULL;
  if (bs->cfg.policy == NB_BS_POLICY_APPROVE && !(restored && restored->approved))
    return nb_bs_hold(bs, ex, ep, peer, id, format, by_default, now);
  nb_err e = nb_bs_session_new(bs, ep, peer, format, &cfg, by_default, id, now, &s);
  if (e == NB_ERR_BUSY) { /* a flood of requests must not grow memory without bound */
    bs->stats.overloaded++;
    NB_LOG_WARN(NB_BS_LOG, "event=bootstrap-overloaded ep=%s sessions=%zu", ep, bs->nsessions);
    return nb_bs_answer(ex, NB_COAP_SERVICE_UNAVAILABLE, now);
  }
  if (e != NB_OK) return nb_bs_answer(ex, NB_COAP_INTERNAL_SERVER_ERROR, now);
  if (restored) { /* the approval recorded for it is used up (or, under auto, not needed) */
    if (restored->approved) bs->stats.approved++;
    nb_bs_pend_free(bs, restored);
    nb_bs_emit_s(s, NB_BS_EV_APPROVED, 0, NB_OK, NULL, now);
  }
  nb_bs_answer(ex, NB_COAP_CHANGED, now);
  nb_bs_begin(s, now);
}

/* What GET /.well-known/core lists (RFC 6690): the Bootstrap-Request resource. */
static const nb_coap_wk_link nb_bs_wellknown[] = {{"/bs", {{0}}, 0}};

static void nb_bs_handle(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                         const nb_coap_msg *req, nb_time_ms now) {
  nb_bs_engine *bs = user;
  char path[16];
  if (nb_coap_wk_is_request(req)) {
    nb_coap_wk_respond(ex, req, nb_bs_wellknown, 1, now);
    return;
  }
  if (req->code == NB_COAP_POST &&
      nb_coap_msg_get_path(req, NB_COAP_OPT_URI_PATH, path, sizeof path) == NB_OK &&
      strcmp(path, "/bs") == 0)
    return nb_bs_request(bs, ex, peer, bs->rx_id, req, now);
  nb_bs_answer(ex, NB_COAP_NOT_FOUND, now);
}

/* ---- lifecycle ---- */

/* Copies the signing key once its secure ID (the signer in evidence) is known. */
static nb_err nb_bs_set_sign_key(nb_bs_sign_key *k, const uint8_t *key, size_t len) {
  if (!key || !len) return NB_OK;
  nb_dtls_keypair kp;
  nb_err e = nb_dtls_keypair_load(key, len, &kp);
  if (e != NB_OK) return e;
  snprintf(k->signer, sizeof k->signer, "%s", kp.secure_id);
  nb_dtls_keypair_free(&kp);
  if (!(k->key = malloc(len))) return NB_ERR_NOMEM;
  memcpy(k->key, key, len);
  k->len = len;
  return NB_OK;
}

static void nb_bs_sign_key_free(nb_bs_sign_key *k) {
  if (k->key) memset(k->key, 0, k->len);
  free(k->key);
  k->key = NULL;
}

nb_err nb_bs_engine_new(const nb_bs_engine_config *cfg, nb_coap_send_fn send, void *send_user,
                        nb_bs_engine **out) {
  if (!cfg || !send || !out || !cfg->source.config_get) return NB_ERR_INVAL;
  nb_bs_engine *bs = calloc(1, sizeof *bs);
  if (!bs) return NB_ERR_NOMEM;
  bs->cfg = *cfg;
  if (!bs->cfg.max_attempts) bs->cfg.max_attempts = 1;
  if (!bs->cfg.random) bs->cfg.random = nb_random_system;
  bs->cfg.coap.random = bs->cfg.random;
  bs->cfg.coap.random_user = bs->cfg.random_user;
  bs->model = cfg->model;
  if (!bs->model && !(bs->model = bs->own_model = nb_model_new())) {
    free(bs);
    return NB_ERR_NOMEM;
  }
  nb_err e = nb_coap_ep_new(&bs->cfg.coap, send, send_user, &bs->ep);
  if (e != NB_OK) {
    nb_model_free(bs->own_model);
    free(bs);
    return e;
  }
  nb_coap_ep_set_handler(bs->ep, nb_bs_handle, bs);
  bs->pend_tail = &bs->pend;
  bs->cfg.sign_key = bs->cfg.sign_key_x509 = NULL; /* the caller's copies may go */
  e = nb_bs_set_sign_key(&bs->sign_rpk, cfg->sign_key, cfg->sign_key_len);
  if (e == NB_OK)
    e = nb_bs_set_sign_key(&bs->sign_x509, cfg->sign_key_x509, cfg->sign_key_x509_len);
  if (e != NB_OK) {
    nb_bs_engine_free(bs);
    return e;
  }
  *out = bs;
  return NB_OK;
}

void nb_bs_engine_free(nb_bs_engine *bs) {
  if (!bs) return;
  while (bs->sessions) {
    nb_bs_session *s = bs->sessions;
    bs->sessions = s->next;
    nb_bs_steps_clear(s);
    memset(&s->install, 0, sizeof s->install);
    nb_bs_forget_bs_cred(s);
    free(s);
  }
  while (bs->pend) nb_bs_pend_free(bs, bs->pend);
  nb_coap_ep_free(bs->ep); /* pending callbacks are not called */
  nb_model_free(bs->own_model);
  nb_bs_sign_key_free(&bs->sign_rpk);
  nb_bs_sign_key_free(&bs->sign_x509);
  free(bs);
}

void nb_bs_engine_receive(nb_bs_engine *bs, const nb_addr *peer, const nb_server_identity *id,
                          const uint8_t *data, size_t len, nb_time_ms now) {
  bs->rx_id = id; /* the identity of the datagram being handled */
  nb_coap_ep_receive(bs->ep, peer, data, len, now);
  bs->rx_id = NULL;
}

void nb_bs_engine_tick(nb_bs_engine *bs, nb_time_ms now) {
  nb_coap_ep_tick(bs->ep, now);
  for (nb_bs_session *s = bs->sessions, *next; s; s = next) {
    next = s->next;
    if (s->state == NB_BSS_WAIT_RETRY && s->retry_at <= now)
      nb_bs_begin(s, now);
    else if (s->state == NB_BSS_FINISH_WAIT && s->retry_at <= now)
      nb_bs_fail(s, 0, NB_ERR_TIMEOUT, now); /* no registration either: as for silence */
    else if (s->state == NB_BSS_INSTALLING && s->install_deadline <= now) {
      s->ticket = 0; /* a late completion finds nothing */
      nb_bs_install_fail(s, NB_ERR_TIMEOUT, now);
    }
  }
}

nb_time_ms nb_bs_engine_next_deadline(const nb_bs_engine *bs) {
  nb_time_ms d = nb_coap_ep_next_deadline(bs->ep);
  for (const nb_bs_session *s = bs->sessions; s; s = s->next)
    if ((s->state == NB_BSS_WAIT_RETRY || s->state == NB_BSS_FINISH_WAIT) && s->retry_at < d)
      d = s->retry_at;
    else if (s->state == NB_BSS_INSTALLING && s->install_deadline < d)
      d = s->install_deadline;
  return d;
}

nb_err nb_bs_engine_install_done(nb_bs_engine *bs, uint64_t ticket, nb_err result, nb_time_ms now) {
  nb_bs_session *s = bs->sessions;
  while (s && !(ticket && s->ticket == ticket && s->state == NB_BSS_INSTALLING)) s = s->next;
  if (!s) return NB_ERR_NOT_FOUND;
  s->ticket = 0;
  NB_LOG_INFO(NB_BS_LOG, "event=credential-installed ep=%s kind=%s identity=%s err=%s", s->ep,
              nb_server_id_kind_name(s->install.kind), s->install.identity, nb_err_name(result));
  if (result != NB_OK) {
    nb_bs_install_fail(s, result, now);
    return NB_OK;
  }
  s->installed = true;
  s->state = NB_BSS_RUNNING;
  nb_bs_send_step(s, now);
  return NB_OK;
}

nb_coap_ep *nb_bs_engine_coap(nb_bs_engine *bs) { return bs->ep; }

/* ---- operator ---- */

/* Approval of a request an earlier run held: recorded for the device's next request. */
static void nb_bs_approve_restored(nb_bs_engine *bs, nb_bs_pend *p, nb_time_ms now) {
  p->approved = true;
  NB_LOG_INFO(NB_BS_LOG, "event=bootstrap-approved-ahead ep=%s", p->ep);
  nb_bs_event ev = {
      .type = NB_BS_EV_APPROVED, .ep = p->ep, .peer = &p->peer, .deferred = true, .now = now};
  nb_bs_emit(bs, &ev);
}

nb_err nb_bs_engine_approve(nb_bs_engine *bs, const char *ep, nb_time_ms now) {
  nb_bs_pend *p = nb_bs_pend_find(bs, ep);
  if (!p) return NB_ERR_NOT_FOUND;
  if (p->restored) {
    nb_bs_approve_restored(bs, p, now);
    return NB_OK;
  }
  nb_bs_config cfg;
  bool by_default;
  nb_err e = nb_bs_load_config(bs, ep, &cfg, &by_default);
  if (e == NB_ERR_NOT_FOUND) { /* its config went meanwhile: as for an unknown endpoint */
    bs->stats.rejected++;
    nb_bs_emit_p(bs, p, NB_BS_EV_REJECTED, NB_COAP_BAD_REQUEST, now);
    if (p->held) nb_bs_answer(p->held, NB_COAP_BAD_REQUEST, now);
    p->held = NULL;
    nb_bs_pend_free(bs, p);
    return NB_ERR_NOT_FOUND;
  }
  nb_bs_session *s;
  if (e == NB_OK)
    e = nb_bs_session_new(bs, ep, &p->peer, p->format, &cfg, by_default, &p->id, now, &s);
  if (e != NB_OK) return e; /* still pending (NB_ERR_BUSY: max_sessions running) */
  bs->stats.approved++;
  nb_bs_emit_s(s, NB_BS_EV_APPROVED, 0, NB_OK, NULL, now);
  if (p->held) nb_bs_answer(p->held, NB_COAP_CHANGED, now);
  p->held = NULL;
  nb_bs_pend_free(bs, p);
  nb_bs_begin(s, now);
  return NB_OK;
}

nb_err nb_bs_engine_reject(nb_bs_engine *bs, const char *ep, nb_time_ms now) {
  nb_bs_pend *p = nb_bs_pend_find(bs, ep);
  if (!p) return NB_ERR_NOT_FOUND;
  bs->stats.rejected++;
  if (p->held) nb_bs_answer(p->held, NB_COAP_FORBIDDEN, now);
  p->held = NULL;
  /* A restored request has nobody to answer: it goes (code 0); when the device asks again it
   * waits for a decision again. */
  nb_bs_emit_p(bs, p, NB_BS_EV_REJECTED, p->restored ? 0 : NB_COAP_FORBIDDEN, now);
  nb_bs_pend_free(bs, p);
  return NB_OK;
}

nb_err nb_bs_engine_restore_pending(nb_bs_engine *bs, const char *ep, const nb_addr *peer,
                                    bool approved, nb_time_ms now) {
  if (!ep || !ep[0] || strlen(ep) >= NB_BS_EP_MAX) return NB_ERR_INVAL;
  if (nb_bs_pend_find(bs, ep)) return NB_ERR_EXISTS;
  nb_bs_config cfg;
  bool by_default;
  nb_err e = nb_bs_load_config(bs, ep, &cfg, &by_default);
  memset(&cfg, 0, sizeof cfg); /* may hold a CA key */
  if (e != NB_OK) return e;
  /* Its identity went with the request: a default-config one counts as one anybody could
   * have sent (evictable), the others as a known device's. */
  if (!nb_bs_pend_room(bs, by_default, now)) return NB_ERR_BUSY;
  nb_bs_pend *p = calloc(1, sizeof *p);
  if (!p) return NB_ERR_NOMEM;
  snprintf(p->ep, sizeof p->ep, "%s", ep);
  if (peer) p->peer = *peer;
  p->format = NB_COAP_CF_LWM2M_TLV;
  p->evictable = by_default;
  p->id.kind = NB_SERVER_ID_NONE;
  p->restored = true;
  p->approved = approved;
  *bs->pend_tail = p;
  bs->pend_tail = &p->next;
  bs->npend++;
  bs->npend_default += p->evictable;
  NB_LOG_INFO(NB_BS_LOG, "event=bootstrap-pending-restored ep=%s approved=%d", ep, approved);
  return NB_OK;
}

nb_bs_pend_state nb_bs_engine_pending_state(const nb_bs_engine *bs, const char *ep) {
  const nb_bs_pend *p = nb_bs_pend_find(bs, ep);
  if (!p) return NB_BS_PEND_NONE;
  if (!p->restored) return NB_BS_PEND_WAITING;
  return p->approved ? NB_BS_PEND_APPROVED : NB_BS_PEND_GONE;
}

size_t nb_bs_engine_pending(const nb_bs_engine *bs, char (*eps)[NB_BS_EP_MAX], size_t cap) {
  size_t n = 0;
  for (const nb_bs_pend *p = bs->pend; p; p = p->next, n++)
    if (n < cap) snprintf(eps[n], NB_BS_EP_MAX, "%s", p->ep);
  return n;
}

void nb_bs_engine_pending_each(const nb_bs_engine *bs, void (*fn)(void *user, const char *ep),
                               void *user) {
  for (const nb_bs_pend *p = bs->pend; p; p = p->next) fn(user, p->ep);
}

nb_err nb_bs_engine_start(nb_bs_engine *bs, const char *ep, const nb_addr *peer, int format,
                          nb_time_ms now) {
  if (!ep || !ep[0] || !peer) return NB_ERR_INVAL;
  if (format == NB_COAP_CF_NONE) format = NB_COAP_CF_LWM2M_TLV;
  if (!nb_bs_format_ok(format)) return NB_ERR_UNSUPPORTED;
  nb_bs_config cfg;
  bool by_default;
  nb_err e = nb_bs_load_config(bs, ep, &cfg, &by_default);
  if (e != NB_OK) return e;
  nb_bs_session *s = nb_bs_find(bs, ep);
  if (s) nb_bs_session_free(bs, s, now);
  nb_bs_pend *p = nb_bs_pend_find(bs, ep);
  if (p) { /* the operator's start decides it: no longer pending, anywhere */
    nb_bs_emit_p(bs, p, NB_BS_EV_APPROVED, 0, now);
    nb_bs_pend_free(bs, p);
  }
  /* The operator asked for it: never evicted, as for a known device. */
  e = nb_bs_session_new(bs, ep, peer, format, &cfg, false, NULL, now, &s);
  if (e != NB_OK) return e;
  NB_LOG_INFO(NB_BS_LOG, "event=server-initiated-bootstrap ep=%s", ep);
  nb_bs_begin(s, now);
  return NB_OK;
}

bool nb_bs_engine_busy(const nb_bs_engine *bs, const char *ep) {
  return nb_bs_find(bs, ep) != NULL || nb_bs_pend_find(bs, ep) != NULL;
}

/* ---- DTLS hooks ---- */

nb_err nb_bs_engine_verify_peer(void *engine, const nb_dtls_peer *peer, const uint8_t *raw,
                                size_t raw_len) {
  (void)raw;
  (void)raw_len;
  nb_bs_engine *bs = engine;
  const nb_bs_source *src = &bs->cfg.source;
  nb_server_sec_info cred;
  bool known = (peer->mode == NB_DTLS_MODE_RPK || peer->mode == NB_DTLS_MODE_X509) &&
               peer->secure_id[0] && src->cred_find &&
               src->cred_find(src->self, NB_SERVER_ID_RPK, peer->secure_id, &cred, NULL) == NB_OK;
  /* A certificate nobody registered: its CN must name an endpoint with a config and no
   * credential of its own (the Bootstrap-Request must then ask as that CN). */
  if (!known && peer->mode == NB_DTLS_MODE_X509)
    known = !(src->cred_get && src->cred_get(src->self, peer->common_name, &cred) == NB_OK) &&
            nb_bs_x509_config(bs, peer->common_name);
  memset(&cred, 0, sizeof cred);
  if (known) return NB_OK;
  if (peer->mode == NB_DTLS_MODE_X509)
    NB_LOG_WARN(NB_BS_LOG, "event=certificate-refused cn=\"%s\" secure_id=%s", peer->common_name,
                peer->secure_id);
  /* One alert per refused handshake (the hook runs once per Certificate), with where it came
   * from and when (the session's time); the endpoint is known only from a certificate's CN,
   * a raw public key names none before its Bootstrap-Request. */
  const char *ep = peer->mode == NB_DTLS_MODE_X509 ? peer->common_name : "";
  nb_bs_alert(bs, ep, &peer->addr, peer->secure_id, 0, "handshake", peer->at);
  return NB_ERR_DTLS_PEER_REJECTED;
}

nb_err nb_bs_engine_psk_lookup(void *engine, const uint8_t *identity, size_t identity_len,
                               uint8_t *key, size_t cap, size_t *key_len) {
  nb_bs_engine *bs = engine;
  const nb_bs_source *src = &bs->cfg.source;
  char id[NB_SERVER_IDENT_MAX];
  if (identity_len >= sizeof id || !src->cred_find) return NB_ERR_NOT_FOUND;
  memcpy(id, identity, identity_len);
  id[identity_len] = '\0';
  nb_server_sec_info cred;
  nb_err e = src->cred_find(src->self, NB_SERVER_ID_PSK, id, &cred, NULL);
  if (e == NB_OK && cred.key_len > cap) e = NB_ERR_OVERFLOW;
  if (e == NB_OK) {
    memcpy(key, cred.key, cred.key_len);
    *key_len = cred.key_len;
  }
  memset(&cred, 0, sizeof cred);
  return e;
}

void nb_bs_engine_get_stats(const nb_bs_engine *bs, nb_bs_engine_stats *out) {
  *out = bs->stats;
  out->sessions = bs->nsessions;
  out->waiting = bs->npend;
}
