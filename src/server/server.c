/* LwM2M server engine: see server.h. Registrations live in three intrusive hash maps (endpoint
 * name, registration ID, address) so a datagram costs O(1) lookups at any fleet size; every
 * deadline (expiry, awake window, request timeout, queued-request expiry) is one timer in a
 * single heap. */
#include "server/server.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hex.h"
#include "base/log.h"
#include "coap/hmap.h"
#include "coap/timerheap.h"
#include "dtls/cose.h"
#include "dtls/cose_lwm2m.h"

#define MOD "server"
#define CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

enum { TK_EXPIRY = 1, TK_AWAKE, TK_REQ };
enum { RQ_QUEUED, RQ_SENT, RQ_OBSERVING };

typedef struct sreq sreq;

typedef struct reg {
  nb_coap_hnode n_ep, n_id, n_addr;
  nb_server_reg_info info;
  char *links; /* owned; info.links points here */
  nb_coap_timer t_expiry, t_awake;
  bool awake;
  sreq *reqs; /* every request of this registration, doubly linked */
  size_t nqueued;
} reg;

struct sreq {
  nb_coap_hnode n_id;
  nb_server *srv;
  bool silent; /* finished already: the CoAP layer's last callback only frees it */
  uint64_t id;
  reg *r;
  sreq *prev, *next;
  int state;
  bool timed_out;
  nb_coap_req_id coap_id;
  nb_server_op op;
  nb_path path;
  nb_path *paths;
  size_t npaths;
  uint8_t method;
  int content_format, accept;
  bool observe, has_attrs;
  nb_attrs attrs;
  uint8_t *payload;
  size_t len;
  nb_coap_timer timer;
  nb_time_ms timeout;
  nb_server_result_fn cb;
  void *user;
  uint32_t seq;
  uint8_t token[8]; /* observations: kept so a restarted server can adopt them */
  uint8_t token_len;
  char actor[64];
};

struct nb_server {
  nb_server_config cfg;
  nb_coap_ep *ep;
  nb_model *own_model;
  const nb_model *model;
  nb_coap_hmap by_ep, by_id, by_addr, reqs;
  nb_coap_timerheap timers;
  uint64_t seed;
  uint64_t next_req_id;
  const nb_server_identity *cur_id; /* identity of the datagram being processed */
  struct {
    nb_server_listener_fn fn;
    void *user;
  } listeners[NB_SERVER_MAX_LISTENERS];
  nb_server_stats stats;
};

static const nb_server_identity no_identity = {.kind = NB_SERVER_ID_NONE};

void nb_server_config_default(nb_server_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  nb_coap_ep_config_default(&cfg->coap);
  cfg->coap.dedup_max = 1u << 20; /* one cached response per recently active device */
  cfg->expiry_grace = 15000;
  cfg->request_timeout = 30000;
  cfg->awake_time = 93000;
  cfg->queue_max = 32;
  cfg->queue_ttl = 3600000;
  cfg->allow_nosec = true;
  cfg->evidence_max = NB_SERVER_EVIDENCE_MAX;
  cfg->random = nb_random_system;
}

/* ---- small helpers ---- */

static int64_t unix_ms(const nb_server *s, nb_time_ms now) { return now + s->cfg.clock_offset; }

static uint64_t hash_str(const nb_server *s, const char *str) {
  return nb_coap_hash_bytes(s->seed, str, strlen(str));
}

static bool eq_ep(const nb_coap_hnode *n, const void *key) {
  return strcmp(CONTAINER(n, reg, n_ep)->info.ep, key) == 0;
}
static bool eq_id(const nb_coap_hnode *n, const void *key) {
  return strcmp(CONTAINER(n, reg, n_id)->info.reg_id, key) == 0;
}
static bool eq_addr(const nb_coap_hnode *n, const void *key) {
  return nb_addr_equal(&CONTAINER(n, reg, n_addr)->info.addr, key);
}
static bool eq_req(const nb_coap_hnode *n, const void *key) {
  return CONTAINER(n, sreq, n_id)->id == *(const uint64_t *)key;
}

static reg *find_ep(const nb_server *s, const char *ep) {
  nb_coap_hnode *n = nb_coap_hmap_find(&s->by_ep, hash_str(s, ep), eq_ep, ep);
  return n ? CONTAINER(n, reg, n_ep) : NULL;
}
static reg *find_id(const nb_server *s, const char *id) {
  nb_coap_hnode *n = nb_coap_hmap_find(&s->by_id, hash_str(s, id), eq_id, id);
  return n ? CONTAINER(n, reg, n_id) : NULL;
}
static reg *find_addr(const nb_server *s, const nb_addr *a) {
  nb_coap_hnode *n = nb_coap_hmap_find(&s->by_addr, nb_coap_hash_addr(s->seed, a), eq_addr, a);
  return n ? CONTAINER(n, reg, n_addr) : NULL;
}
static sreq *find_req(const nb_server *s, uint64_t id) {
  nb_coap_hnode *n =
      nb_coap_hmap_find(&s->reqs, nb_coap_hash_bytes(s->seed, &id, sizeof(id)), eq_req, &id);
  return n ? CONTAINER(n, sreq, n_id) : NULL;
}

static void emit(nb_server *s, nb_server_event *ev) {
  for (size_t i = 0; i < NB_SERVER_MAX_LISTENERS; i++)
    if (s->listeners[i].fn) s->listeners[i].fn(s->listeners[i].user, ev);
}

static void emit_reg(nb_server *s, nb_server_event_type type, reg *r, bool replaced,
                     nb_time_ms now) {
  nb_server_event ev = {.type = type, .reg = &r->info, .replaced = replaced, .now = now};
  ev.format = NB_COAP_CF_NONE;
  emit(s, &ev);
}

static bool identity_equal(const nb_server_identity *a, const nb_server_identity *b) {
  return a->kind == b->kind && strcmp(a->value, b->value) == 0;
}

static void store_reg(nb_server *s, const reg *r) {
  if (s->cfg.store.ops && s->cfg.store.ops->reg_put(s->cfg.store.self, &r->info) != NB_OK)
    NB_LOG_WARN(MOD, "event=store_failed op=reg_put ep=%s", r->info.ep);
}

/* The request's paths as text ("/3/0/9,/3/0/8"), as many as fit in cap. */
static void paths_text(const sreq *q, char *buf, size_t cap) {
  size_t off = 0;
  size_t np = q->npaths ? q->npaths : 1;
  buf[0] = '\0';
  for (size_t i = 0; i < np && off + NB_PATH_STRLEN + 1 < cap; i++) {
    if (i) buf[off++] = ',';
    nb_path_format(q->npaths ? &q->paths[i] : &q->path, buf + off, cap - off);
    off += strlen(buf + off);
  }
}

static void audit(nb_server *s, const sreq *q, const char *result, nb_time_ms now) {
  if (!s->cfg.store.ops) return;
  nb_server_audit_info a;
  memset(&a, 0, sizeof(a));
  a.at = unix_ms(s, now);
  snprintf(a.actor, sizeof(a.actor), "%s", q->actor);
  snprintf(a.ep, sizeof(a.ep), "%s", q->r->info.ep);
  snprintf(a.op, sizeof(a.op), "%s", nb_server_op_name(q->op));
  paths_text(q, a.path, sizeof(a.path));
  snprintf(a.result, sizeof(a.result), "%s", result);
  if (s->cfg.store.ops->audit_add(s->cfg.store.self, &a) != NB_OK)
    NB_LOG_WARN(MOD, "event=store_failed op=audit_add ep=%s", a.ep);
}

/* ---- requests: lifecycle ---- */

static void req_free(nb_server *s, sreq *q) {
  if (q->r) {
    if (q->prev)
      q->prev->next = q->next;
    else
      q->r->reqs = q->next;
    if (q->next) q->next->prev = q->prev;
    if (q->state == RQ_QUEUED) q->r->nqueued--;
  }
  nb_coap_hmap_remove(&s->reqs, &q->n_id);
  nb_coap_timerheap_disarm(&s->timers, &q->timer);
  nb_coap_timerheap_unreserve(&s->timers);
  free(q->paths);
  free(q->payload);
  free(q);
}

static void obs_forget(nb_server *s, sreq *q) {
  if (q->observe && q->state == RQ_OBSERVING && s->cfg.store.ops)
    s->cfg.store.ops->obs_del(s->cfg.store.self, q->r->info.ep, q->id);
}

/* Final callback without a response (cancel, timeout, queue expiry) and free. */
static void req_fail(nb_server *s, sreq *q, nb_err err, nb_time_ms now) {
  nb_server_result res = {.err = err, .format = NB_COAP_CF_NONE, .location = ""};
  if (q->state != RQ_OBSERVING) audit(s, q, err == NB_ERR_TIMEOUT ? "timeout" : "cancelled", now);
  obs_forget(s, q);
  nb_server_result_fn cb = q->cb;
  void *user = q->user;
  uint64_t id = q->id;
  req_free(s, q);
  if (cb) cb(user, id, &res, true);
}

/* Ends a request that is on the wire: the CoAP layer calls back with NB_ERR_CANCELLED. */
static void req_abort(nb_server *s, sreq *q, bool active, nb_time_ms now) {
  if (q->state == RQ_QUEUED) {
    req_fail(s, q, NB_ERR_CANCELLED, now);
    return;
  }
  if (nb_coap_ep_cancel(s->ep, q->coap_id, active, now) != NB_OK)
    req_fail(s, q, q->timed_out ? NB_ERR_TIMEOUT : NB_ERR_CANCELLED, now);
}

/* Cancels every request of r except those still queued (when keep_queued). */
static void reg_abort_requests(nb_server *s, reg *r, bool keep_queued, nb_time_ms now) {
  for (;;) {
    sreq *q = r->reqs;
    while (q && keep_queued && q->state == RQ_QUEUED) q = q->next;
    if (!q) return;
    req_abort(s, q, false, now);
  }
}

/* ---- requests: wire ---- */

static void on_coap_response(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                             nb_time_ms now);

static bool reachable(const reg *r) { return !r->info.queue || r->awake; }

/* The CoAP request of q (its payload borrowed from q). */
static nb_err req_message(const sreq *q, nb_coap_msg *m) {
  nb_coap_msg_init(m, NB_COAP_CON, q->method, 0);
  nb_err rc = NB_OK;
  if (q->observe) rc = nb_coap_msg_add_uint(m, NB_COAP_OPT_OBSERVE, 0);
  if (rc == NB_OK && !q->npaths) rc = nb_path_to_coap(m, &q->path);
  if (rc == NB_OK && q->content_format != NB_COAP_CF_NONE)
    rc = nb_coap_msg_add_uint(m, NB_COAP_OPT_CONTENT_FORMAT, (uint32_t)q->content_format);
  if (rc == NB_OK && q->has_attrs) rc = nb_attrs_to_coap(m, &q->attrs);
  if (rc == NB_OK && q->accept != NB_COAP_CF_NONE)
    rc = nb_coap_msg_add_uint(m, NB_COAP_OPT_ACCEPT, (uint32_t)q->accept);
  if (rc == NB_OK) nb_coap_msg_set_payload(m, q->payload, q->len);
  return rc;
}

static nb_err req_dispatch(nb_server *s, sreq *q, nb_time_ms now) {
  nb_coap_msg m;
  nb_err rc = req_message(q, &m);
  if (rc == NB_OK && q->observe) {
    /* Our own token, stored with the observation, so a restarted server can adopt it. */
    q->token_len = sizeof(q->token);
    rc = s->cfg.random(s->cfg.random_user, q->token, q->token_len);
    if (rc == NB_OK) rc = nb_coap_msg_set_token(&m, q->token, q->token_len);
  }
  if (rc != NB_OK) return rc;
  rc = nb_coap_ep_request(s->ep, &q->r->info.addr, &m, true, on_coap_response, q, now, &q->coap_id);
  if (rc != NB_OK) return rc;
  if (q->state == RQ_QUEUED) q->r->nqueued--;
  q->state = RQ_SENT;
  nb_coap_timerheap_arm(&s->timers, &q->timer, now + q->timeout);
  s->stats.requests++;
  return NB_OK;
}

/* Sends what a sleeping client had queued, oldest first. */
static void reg_flush_queue(nb_server *s, reg *r, nb_time_ms now) {
  for (sreq *q = r->reqs; q;) {
    sreq *next = q->next;
    if (q->state == RQ_QUEUED && req_dispatch(s, q, now) != NB_OK)
      req_fail(s, q, NB_ERR_NOMEM, now);
    q = next;
  }
}

static void reg_wake(nb_server *s, reg *r, nb_time_ms now) {
  if (!r->info.queue) return;
  nb_coap_timerheap_arm(&s->timers, &r->t_awake, now + s->cfg.awake_time);
  if (!r->awake) {
    r->awake = true;
    emit_reg(s, NB_SEV_AWAKE, r, false, now);
  }
  reg_flush_queue(s, r, now);
}

static void location_of(const nb_coap_msg *resp, char *buf, size_t cap) {
  buf[0] = '\0';
  if (nb_coap_msg_find(resp, NB_COAP_OPT_LOCATION_PATH) &&
      nb_coap_msg_get_path(resp, NB_COAP_OPT_LOCATION_PATH, buf, cap) != NB_OK)
    buf[0] = '\0';
}

static bool op_reads_values(nb_server_op op) {
  return op == NB_SOP_READ || op == NB_SOP_READ_COMPOSITE || op == NB_SOP_OBSERVE ||
         op == NB_SOP_OBSERVE_COMPOSITE;
}

/* Opens a signed answer of q's device: verified with the public key of the DTLS session the
 * datagram came in on, which must be the identity that registered, and issued by the
 * registration's endpoint. sig describes it either way; m is usable on NB_OK only. */
static nb_err open_signed(const nb_server *s, const sreq *q, const nb_coap_msg *resp,
                          nb_cose_sign1_msg *m, nb_server_signature *sig) {
  memset(sig, 0, sizeof(*sig));
  sig->content_format = -1;
  sig->cose = resp->payload;
  sig->cose_len = resp->payload_len;
  const nb_server_identity *id = s->cur_id;
  if (id->kind == NB_SERVER_ID_NONE || id->kind == NB_SERVER_ID_PSK || !id->key_len)
    return NB_ERR_SIG_NO_KEY;
  if (!identity_equal(id, &q->r->info.identity)) return NB_ERR_SIG_INVALID;
  if (nb_cose_parse(resp->payload, resp->payload_len, m) != NB_OK) return NB_ERR_SIG_INVALID;
  nb_hex_encode(m->h.kid, m->h.kid_len, sig->kid);
  sig->has_iat = m->h.has_iat;
  sig->iat = m->h.iat;
  sig->content_format = m->h.content_format;
  if (nb_cose_verify(m, id->key, id->key_len) != NB_OK) return NB_ERR_SIG_INVALID;
  if (strcmp(m->h.iss, q->r->info.ep) != 0) return NB_ERR_SIG_ISSUER;
  sig->valid = true;
  return NB_OK;
}

static const char *sig_audit_result(nb_err err) {
  if (err == NB_ERR_SIG_NO_KEY) return "sig-no-key";
  if (err == NB_ERR_SIG_ISSUER) return "sig-issuer";
  return "sig-invalid";
}

static bool is_sig_error(nb_err err) {
  return err == NB_ERR_SIG_NO_KEY || err == NB_ERR_SIG_INVALID || err == NB_ERR_SIG_ISSUER;
}

/* Keeps a verified signed answer as evidence, the newest evidence_max per endpoint. */
static void keep_evidence(nb_server *s, const sreq *q, const nb_server_signature *sig,
                          nb_time_ms now) {
  if (!s->cfg.store.ops || !s->cfg.store.ops->evidence_add || !s->cfg.evidence_max) return;
  nb_server_evidence_info e;
  memset(&e, 0, sizeof(e));
  snprintf(e.ep, sizeof(e.ep), "%s", q->r->info.ep);
  e.at = unix_ms(s, now);
  snprintf(e.kind, sizeof(e.kind), "%s", q->observe ? "notify" : "read");
  paths_text(q, e.path, sizeof(e.path));
  snprintf(e.kid, sizeof(e.kid), "%s", sig->kid);
  e.has_iat = sig->has_iat;
  e.iat = sig->iat;
  e.cose = sig->cose;
  e.cose_len = sig->cose_len;
  if (s->cfg.store.ops->evidence_add(s->cfg.store.self, &e, s->cfg.evidence_max) != NB_OK)
    NB_LOG_WARN(MOD, "event=store_failed op=evidence_add ep=%s", e.ep);
}

static void reject_signed(nb_server *s, const sreq *q, const nb_server_signature *sig, nb_err err,
                          nb_time_ms now) {
  NB_LOG_WARN(MOD, "event=signature_rejected ep=%s req=%llu reason=\"%s\"", q->r->info.ep,
              (unsigned long long)q->id, nb_strerror(err));
  nb_server_event ev = {.type = NB_SEV_SIGNATURE_REJECTED,
                        .reg = &q->r->info,
                        .obs_id = q->id,
                        .path = q->npaths ? &q->paths[0] : &q->path,
                        .format = NB_COSE_CF_SIGN1,
                        .signature = sig,
                        .err = err,
                        .now = now};
  emit(s, &ev);
}

/* The values of a 2.05: decoded into recs/times, after opening a signed payload (sig). */
static nb_err decode_values(nb_server *s, const sreq *q, const nb_coap_msg *resp, int format,
                            nb_server_signature *sig, bool *is_signed, nb_records *recs,
                            nb_times *times) {
  const uint8_t *body = resp->payload;
  size_t len = resp->payload_len;
  int cf = format == NB_COAP_CF_NONE ? NB_COAP_CF_TEXT : format;
  *is_signed = cf == NB_COSE_CF_SIGN1;
  if (*is_signed) {
    nb_cose_sign1_msg m;
    nb_err rc = open_signed(s, q, resp, &m, sig);
    if (rc != NB_OK) return rc;
    body = m.payload;
    len = m.payload_len;
    cf = m.h.content_format;
  }
  nb_format_opts o = {.base = q->npaths ? NULL : &q->path, .model = s->model, .times_out = times};
  if (cf == NB_COSE_CF_SIGN1 || nb_format_decode_ex(cf, body, len, &o, recs, NULL) != NB_OK)
    return NB_ERR_FMT_MALFORMED;
  const nb_record *secret = nb_cose_secret_record(recs);
  if (!secret) return NB_OK;
  /* A Security or OSCORE key is never readable by a server: reported, kept or shown nowhere. */
  char path[NB_PATH_STRLEN];
  nb_path_format(&secret->path, path, sizeof path);
  NB_LOG_WARN(MOD, "event=secret-refused ep=%s req=%llu path=%s", q->r->info.ep,
              (unsigned long long)q->id, path);
  nb_records_deinit(recs);
  nb_records_init(recs);
  return NB_ERR_FMT_SECRET;
}

static void on_coap_response(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                             nb_time_ms now) {
  sreq *q = user;
  nb_server *s = q->srv;
  if (q->silent) {
    req_free(s, q);
    return;
  }
  if (err != NB_OK || !resp) {
    if (err == NB_ERR_CANCELLED && q->timed_out) err = NB_ERR_TIMEOUT;
    req_fail(s, q, err, now);
    return;
  }
  if (q->state == RQ_SENT) nb_coap_timerheap_disarm(&s->timers, &q->timer);
  nb_records recs;
  nb_times times;
  nb_records_init(&recs);
  nb_times_init(&times);
  char location[64];
  location_of(resp, location, sizeof(location));
  char *links = NULL;
  nb_server_result res = {.err = NB_OK, .code = resp->code, .location = location};
  res.format = nb_coap_msg_content_format(resp);
  res.notification = q->state == RQ_OBSERVING;
  if (res.notification)
    NB_LOG_DEBUG(MOD, "event=notification ep=%s obs=%llu seq=%u", q->r->info.ep,
                 (unsigned long long)q->id, q->seq + 1);
  bool ok = NB_COAP_CLASS(resp->code) == 2;
  nb_server_signature sig;
  bool is_signed = false;
  if (ok && op_reads_values(q->op) && resp->payload_len) {
    res.err = decode_values(s, q, resp, res.format, &sig, &is_signed, &recs, &times);
    if (is_signed) res.signature = &sig;
    if (is_sig_error(res.err)) {
      reject_signed(s, q, &sig, res.err, now); /* nothing of it is data */
    } else {
      res.records = &recs;
      res.times = &times;
    }
    if (is_signed && res.err == NB_OK) keep_evidence(s, q, &sig, now);
  } else if (ok && q->op == NB_SOP_DISCOVER) {
    links = malloc(resp->payload_len + 1);
    if (links) {
      memcpy(links, resp->payload, resp->payload_len);
      links[resp->payload_len] = '\0';
      res.links = links;
      res.links_len = resp->payload_len;
    } else {
      res.err = NB_ERR_NOMEM;
    }
  }
  char code[8];
  if (q->state == RQ_SENT)
    audit(s, q,
          is_sig_error(res.err) ? sig_audit_result(res.err) : nb_coap_code_format(resp->code, code),
          now);
  if (q->observe && ok && res.err == NB_OK) {
    if (q->state == RQ_SENT && s->cfg.store.ops) {
      nb_server_obs_info oi;
      memset(&oi, 0, sizeof(oi));
      snprintf(oi.ep, sizeof(oi.ep), "%s", q->r->info.ep);
      oi.id = q->id;
      oi.composite = q->npaths > 0;
      oi.format = q->accept;
      oi.created_at = unix_ms(s, now);
      memcpy(oi.token, q->token, q->token_len);
      oi.token_len = q->token_len;
      paths_text(q, oi.paths, sizeof(oi.paths));
      s->cfg.store.ops->obs_put(s->cfg.store.self, &oi);
    }
    q->state = RQ_OBSERVING;
    res.seq = ++q->seq;
    s->stats.notifications++;
    nb_server_event ev = {.type = NB_SEV_NOTIFICATION,
                          .reg = &q->r->info,
                          .obs_id = q->id,
                          .path = q->npaths ? &q->paths[0] : &q->path,
                          .seq = q->seq,
                          .format = res.format,
                          .records = &recs,
                          .times = &times,
                          .signature = res.signature,
                          .now = now};
    emit(s, &ev);
  }
  bool finished = last || !q->observe || q->state != RQ_OBSERVING;
  uint64_t id = q->id;
  nb_server_result_fn cb = q->cb;
  void *cb_user = q->user;
  if (finished && !last) {
    /* An observation refused by the device: the CoAP layer still holds it. */
    q->silent = true;
    if (nb_coap_ep_cancel(s->ep, q->coap_id, false, now) != NB_OK) req_free(s, q);
  } else if (finished) {
    obs_forget(s, q);
    req_free(s, q);
  }
  if (cb) cb(cb_user, id, &res, finished);
  nb_records_deinit(&recs);
  nb_times_deinit(&times);
  free(links);
}

/* ---- requests: submission ---- */

const char *nb_server_op_name(nb_server_op op) {
  static const char *const names[] = {
      "read",    "discover",         "write",  "write-partial",  "write-attributes",
      "execute", "create",           "delete", "read-composite", "write-composite",
      "observe", "observe-composite"};
  return (unsigned)op < sizeof(names) / sizeof(names[0]) ? names[op] : "unknown";
}

static bool is_composite(nb_server_op op) {
  return op == NB_SOP_READ_COMPOSITE || op == NB_SOP_WRITE_COMPOSITE ||
         op == NB_SOP_OBSERVE_COMPOSITE;
}

/* The Content-Format a client of this version gets unless the caller chose one. */
static int default_format(const reg *r, nb_server_op op) {
  if (is_composite(op)) return NB_COAP_CF_SENML_CBOR;
  return strcmp(r->info.version, "1.0") == 0 ? NB_COAP_CF_LWM2M_TLV : NB_COAP_CF_SENML_CBOR;
}

static nb_err encode_records(nb_server *s, sreq *q, int cf, const nb_records *recs,
                             const nb_path *base, unsigned flags) {
  nb_bytes b;
  nb_bytes_init(&b);
  nb_format_opts o = {.base = base, .model = s->model, .flags = flags};
  nb_format_error fe = {0};
  nb_err rc = nb_format_encode_ex(cf, recs, &o, &b, &fe);
  if (rc != NB_OK) {
    nb_bytes_free(&b);
    return rc == NB_ERR_NOMEM ? rc : NB_ERR_INVAL;
  }
  q->payload = nb_bytes_steal(&b, &q->len);
  return NB_OK;
}

/* Read-/Observe-Composite body: the list of paths as name-only SenML records. */
static nb_err encode_paths(nb_server *s, sreq *q, int cf) {
  nb_records recs;
  nb_records_init(&recs);
  nb_err rc = NB_OK;
  for (size_t i = 0; i < q->npaths && rc == NB_OK; i++) {
    nb_value none = nb_value_none();
    rc = nb_records_add(&recs, &q->paths[i], &none);
  }
  if (rc == NB_OK) rc = encode_records(s, q, cf, &recs, NULL, NB_FORMAT_PATHS_ONLY);
  nb_records_deinit(&recs);
  return rc;
}

/* Method, options and body of each operation. */
static nb_err req_build(nb_server *s, sreq *q, const nb_server_request *in) {
  /* A restored signed observation comes back with its stored Accept, 18. */
  bool sign = in->sign || (in->has_format && in->format == NB_COSE_CF_SIGN1);
  if (sign && (!op_reads_values(in->op) || (in->has_format && in->format != NB_COSE_CF_SIGN1 &&
                                            in->format != NB_COAP_CF_SENML_CBOR)))
    return NB_ERR_INVAL;
  int cf = sign             ? NB_COAP_CF_SENML_CBOR
           : in->has_format ? in->format
                            : default_format(q->r, in->op);
  int accept = sign ? NB_COSE_CF_SIGN1 : cf;
  q->content_format = q->accept = NB_COAP_CF_NONE;
  switch (in->op) {
    case NB_SOP_READ:
    case NB_SOP_OBSERVE:
      q->method = NB_COAP_GET;
      q->accept = accept;
      q->observe = in->op == NB_SOP_OBSERVE;
      return NB_OK;
    case NB_SOP_DISCOVER:
      q->method = NB_COAP_GET;
      q->accept = NB_COAP_CF_LINK_FORMAT;
      return NB_OK;
    case NB_SOP_WRITE_REPLACE:
    case NB_SOP_WRITE_PARTIAL:
    case NB_SOP_CREATE:
      if (!in->records || !in->records->len) return NB_ERR_INVAL;
      q->method = in->op == NB_SOP_WRITE_REPLACE ? NB_COAP_PUT : NB_COAP_POST;
      q->content_format = cf;
      return encode_records(s, q, cf, in->records, &q->path, 0);
    case NB_SOP_WRITE_ATTRS:
      if (!in->attrs) return NB_ERR_INVAL;
      q->method = NB_COAP_PUT;
      q->attrs = *in->attrs;
      q->has_attrs = true;
      return NB_OK;
    case NB_SOP_EXECUTE:
      if (q->path.len != NB_PATH_RESOURCE) return NB_ERR_INVAL;
      q->method = NB_COAP_POST;
      if (in->args_len) {
        q->payload = malloc(in->args_len);
        if (!q->payload) return NB_ERR_NOMEM;
        memcpy(q->payload, in->args, in->args_len);
        q->len = in->args_len;
      }
      return NB_OK;
    case NB_SOP_DELETE:
      q->method = NB_COAP_DELETE;
      return NB_OK;
    case NB_SOP_READ_COMPOSITE:
    case NB_SOP_OBSERVE_COMPOSITE:
      if (cf != NB_COAP_CF_SENML_CBOR && cf != NB_COAP_CF_SENML_JSON) return NB_ERR_INVAL;
      q->method = NB_COAP_FETCH;
      q->content_format = cf;
      q->accept = accept;
      q->observe = in->op == NB_SOP_OBSERVE_COMPOSITE;
      return encode_paths(s, q, cf);
    case NB_SOP_WRITE_COMPOSITE:
      if (cf != NB_COAP_CF_SENML_CBOR && cf != NB_COAP_CF_SENML_JSON) return NB_ERR_INVAL;
      if (!in->records || !in->records->len) return NB_ERR_INVAL;
      q->method = NB_COAP_IPATCH;
      q->content_format = cf;
      return encode_records(s, q, cf, in->records, NULL, 0);
  }
  return NB_ERR_INVAL;
}

/* An observation outlives the process only through the store, whose record holds the paths as
 * text of bounded size: one that would be stored cut short is refused up front. */
static nb_err paths_fit_store(const sreq *q) {
  size_t need = 0;
  char one[NB_PATH_STRLEN];
  for (size_t i = 0; i < q->npaths; i++) {
    nb_path_format(&q->paths[i], one, sizeof(one));
    need += strlen(one) + (i ? 1 : 0);
  }
  return need < NB_SERVER_PATHS_MAX ? NB_OK : NB_ERR_RANGE;
}

static nb_err req_copy_paths(sreq *q, const nb_server_request *in) {
  if (!is_composite(in->op)) {
    if (!nb_path_is_valid(&in->path)) return NB_ERR_INVAL;
    q->path = in->path;
    return NB_OK;
  }
  if (in->op == NB_SOP_WRITE_COMPOSITE) return NB_OK; /* paths come with the records */
  if (!in->paths || !in->path_count) return NB_ERR_INVAL;
  q->paths = calloc(in->path_count, sizeof(nb_path));
  if (!q->paths) return NB_ERR_NOMEM;
  for (size_t i = 0; i < in->path_count; i++) {
    if (!nb_path_is_valid(&in->paths[i])) return NB_ERR_INVAL;
    q->paths[i] = in->paths[i];
  }
  q->npaths = in->path_count;
  return in->op == NB_SOP_OBSERVE_COMPOSITE ? paths_fit_store(q) : NB_OK;
}

/* A request of r with this id in `state`, indexed and linked last (so a queue keeps its
 * order); paths and body are still to be filled in. NULL when memory is short. */
static sreq *req_new(nb_server *s, reg *r, const nb_server_request *in, uint64_t id, int state,
                     nb_server_result_fn cb, void *user) {
  sreq *q = calloc(1, sizeof(*q));
  if (!q) return NULL;
  if (nb_coap_timerheap_reserve(&s->timers) != NB_OK) {
    free(q);
    return NULL;
  }
  q->srv = s;
  q->r = r;
  q->op = in->op;
  q->cb = cb;
  q->user = user;
  q->timer.kind = TK_REQ;
  q->timeout = in->timeout > 0 ? in->timeout : s->cfg.request_timeout;
  snprintf(q->actor, sizeof(q->actor), "%s", in->actor ? in->actor : "api");
  q->id = id;
  nb_coap_hmap_insert(&s->reqs, &q->n_id, nb_coap_hash_bytes(s->seed, &q->id, sizeof(q->id)));
  q->state = state;
  sreq **tail = &r->reqs;
  while (*tail) {
    q->prev = *tail;
    tail = &(*tail)->next;
  }
  *tail = q;
  if (state == RQ_QUEUED) r->nqueued++;
  return q;
}

nb_err nb_server_send_request(nb_server *s, const char *ep, const nb_server_request *in,
                              nb_server_result_fn cb, void *user, nb_time_ms now, uint64_t *id,
                              bool *queued) {
  if (queued) *queued = false;
  reg *r = find_ep(s, ep);
  if (!r) return NB_ERR_NOT_FOUND;
  if (is_composite(in->op) && strcmp(r->info.version, "1.0") == 0) return NB_ERR_UNSUPPORTED;
  bool wait = !reachable(r);
  if (wait && r->nqueued >= s->cfg.queue_max) return NB_ERR_BUSY;
  sreq *q = req_new(s, r, in, ++s->next_req_id, RQ_QUEUED, cb, user);
  if (!q) return NB_ERR_NOMEM;
  nb_err rc = req_copy_paths(q, in);
  if (rc == NB_OK) rc = req_build(s, q, in);
  if (rc == NB_OK && !wait) rc = req_dispatch(s, q, now);
  if (rc != NB_OK) {
    req_free(s, q);
    return rc;
  }
  if (wait) {
    nb_coap_timerheap_arm(&s->timers, &q->timer, now + s->cfg.queue_ttl);
    s->stats.queued++;
    if (queued) *queued = true;
    audit(s, q, "queued", now);
  }
  if (id) *id = q->id;
  return NB_OK;
}

nb_err nb_server_cancel(nb_server *s, uint64_t id, bool active, nb_time_ms now) {
  sreq *q = find_req(s, id);
  if (!q || q->silent) return NB_ERR_NOT_FOUND;
  req_abort(s, q, active, now);
  return NB_OK;
}

size_t nb_server_observations(const nb_server *s, const char *ep, nb_server_obs_info *out,
                              size_t cap) {
  reg *r = find_ep(s, ep);
  size_t n = 0;
  for (sreq *q = r ? r->reqs : NULL; q; q = q->next) {
    if (!q->observe || q->state != RQ_OBSERVING) continue;
    if (n < cap) {
      nb_server_obs_info *o = &out[n];
      memset(o, 0, sizeof(*o));
      snprintf(o->ep, sizeof(o->ep), "%s", ep);
      o->id = q->id;
      o->composite = q->npaths > 0;
      o->format = q->accept;
      paths_text(q, o->paths, sizeof(o->paths));
    }
    n++;
  }
  return n;
}

/* ---- registrations ---- */

static nb_err new_reg_id(nb_server *s, char *out) {
  for (int tries = 0; tries < 8; tries++) {
    uint8_t raw[8];
    nb_err rc = s->cfg.random(s->cfg.random_user, raw, sizeof(raw));
    if (rc != NB_OK) return rc;
    for (size_t i = 0; i < sizeof(raw); i++) sprintf(out + 2 * i, "%02x", raw[i]);
    if (!find_id(s, out)) return NB_OK;
  }
  return NB_ERR_EXISTS;
}

static reg *reg_new(nb_server *s) {
  reg *r = calloc(1, sizeof(*r));
  if (!r) return NULL;
  if (nb_coap_timerheap_reserve(&s->timers) != NB_OK) {
    free(r);
    return NULL;
  }
  if (nb_coap_timerheap_reserve(&s->timers) != NB_OK) {
    nb_coap_timerheap_unreserve(&s->timers);
    free(r);
    return NULL;
  }
  r->t_expiry.kind = TK_EXPIRY;
  r->t_awake.kind = TK_AWAKE;
  return r;
}

static void reg_index(nb_server *s, reg *r) {
  nb_coap_hmap_insert(&s->by_ep, &r->n_ep, hash_str(s, r->info.ep));
  nb_coap_hmap_insert(&s->by_id, &r->n_id, hash_str(s, r->info.reg_id));
  nb_coap_hmap_insert(&s->by_addr, &r->n_addr, nb_coap_hash_addr(s->seed, &r->info.addr));
}

static void reg_set_addr(nb_server *s, reg *r, const nb_addr *a) {
  if (nb_addr_equal(&r->info.addr, a)) return;
  nb_coap_hmap_remove(&s->by_addr, &r->n_addr);
  r->info.addr = *a;
  nb_coap_hmap_insert(&s->by_addr, &r->n_addr, nb_coap_hash_addr(s->seed, a));
}

static void reg_arm_expiry(nb_server *s, reg *r, nb_time_ms now) {
  r->info.expires_at = r->info.updated_at + (int64_t)r->info.lifetime * 1000;
  nb_coap_timerheap_arm(&s->timers, &r->t_expiry,
                        now + (int64_t)r->info.lifetime * 1000 + s->cfg.expiry_grace);
}

/* Unlinks r, ends its requests (callbacks see it gone from the maps) and frees it. */
static void reg_remove(nb_server *s, reg *r, nb_time_ms now) {
  nb_coap_hmap_remove(&s->by_ep, &r->n_ep);
  nb_coap_hmap_remove(&s->by_id, &r->n_id);
  nb_coap_hmap_remove(&s->by_addr, &r->n_addr);
  nb_coap_timerheap_disarm(&s->timers, &r->t_expiry);
  nb_coap_timerheap_disarm(&s->timers, &r->t_awake);
  reg_abort_requests(s, r, false, now);
  if (s->cfg.store.ops) {
    s->cfg.store.ops->reg_del(s->cfg.store.self, r->info.ep);
    s->cfg.store.ops->obs_del_ep(s->cfg.store.self, r->info.ep);
  }
  nb_coap_timerheap_unreserve(&s->timers);
  nb_coap_timerheap_unreserve(&s->timers);
  free(r->links);
  free(r);
}

static nb_err respond(nb_coap_exchange *ex, uint8_t code, const char *reason, nb_time_ms now) {
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_ACK, code, 0);
  /* A diagnostic payload helps whoever debugs a refused device (RFC 7252 5.5.2). */
  if (reason && NB_COAP_CLASS(code) != 2) nb_coap_msg_set_payload(&m, reason, strlen(reason));
  return nb_coap_exchange_respond(ex, &m, now);
}

static void take_links(reg *r, nb_server_reg_params *p) {
  if (!(p->present & NB_REGP_LINKS)) return;
  free(r->links);
  r->links = p->links;
  r->info.links = p->links;
  r->info.links_len = p->links_len;
  p->links = NULL;
}

static bool may_use_ep(nb_server *s, const char *ep) {
  nb_server_sec_info sec;
  bool have = false;
  if (s->cfg.store.ops) {
    nb_err rc = s->cfg.store.ops->sec_get(s->cfg.store.self, ep, &sec);
    if (rc != NB_OK && rc != NB_ERR_NOT_FOUND) return false; /* fail closed */
    have = rc == NB_OK;
  }
  bool ok = nb_server_identity_owns(s->cur_id, have ? &sec : NULL, s->cfg.allow_nosec);
  memset(&sec, 0, sizeof(sec)); /* the PSK is a secret */
  return ok;
}

static void handle_register(nb_server *s, nb_coap_exchange *ex, const nb_addr *peer,
                            const nb_coap_msg *req, nb_time_ms now) {
  nb_server_reg_params p;
  nb_server_reg_error e = {NB_COAP_BAD_REQUEST, "bad request"};
  if (nb_server_reg_parse(req, true, &p, &e) != NB_OK) {
    s->stats.rejected++;
    NB_LOG_INFO(MOD, "event=register_rejected code=%u.%02u reason=\"%s\"", NB_COAP_CLASS(e.code),
                NB_COAP_DETAIL(e.code), e.reason);
    respond(ex, e.code, e.reason, now);
    return;
  }
  if (!may_use_ep(s, p.ep)) {
    s->stats.rejected++;
    NB_LOG_WARN(MOD, "event=register_forbidden ep=%s identity_kind=%s", p.ep,
                nb_server_id_kind_name(s->cur_id->kind));
    respond(ex, NB_COAP_FORBIDDEN, "identity does not own this endpoint name", now);
    nb_server_reg_params_deinit(&p);
    return;
  }
  reg *r = find_ep(s, p.ep);
  bool replaced = r != NULL;
  char id[NB_SERVER_REGID_MAX];
  if (new_reg_id(s, id) != NB_OK || (!r && !(r = reg_new(s)))) {
    respond(ex, NB_COAP_INTERNAL_SERVER_ERROR, "out of resources", now);
    nb_server_reg_params_deinit(&p);
    return;
  }
  if (replaced) {
    /* The device restarted: what it had with the old registration is gone. */
    reg_abort_requests(s, r, true, now);
    if (s->cfg.store.ops) s->cfg.store.ops->obs_del_ep(s->cfg.store.self, r->info.ep);
    nb_coap_hmap_remove(&s->by_id, &r->n_id);
    nb_coap_hmap_remove(&s->by_addr, &r->n_addr);
    nb_coap_hmap_remove(&s->by_ep, &r->n_ep);
  }
  nb_server_reg_info *i = &r->info;
  snprintf(i->ep, sizeof(i->ep), "%s", p.ep);
  snprintf(i->reg_id, sizeof(i->reg_id), "%s", id);
  memcpy(i->version, p.version, sizeof(i->version));
  memcpy(i->binding, p.binding, sizeof(i->binding));
  memcpy(i->sms, p.sms, sizeof(i->sms));
  i->queue = p.queue;
  i->lifetime = p.lifetime;
  i->addr = *peer;
  i->identity = *s->cur_id;
  i->registered_at = i->updated_at = unix_ms(s, now);
  take_links(r, &p);
  reg_index(s, r);
  reg_arm_expiry(s, r, now);
  r->awake = false;
  nb_server_reg_params_deinit(&p);
  store_reg(s, r);

  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_ACK, NB_COAP_CREATED, 0);
  nb_coap_msg_add_string(&m, NB_COAP_OPT_LOCATION_PATH, "rd");
  nb_coap_msg_add_string(&m, NB_COAP_OPT_LOCATION_PATH, id);
  nb_coap_exchange_respond(ex, &m, now);
  s->stats.registrations++;
  NB_LOG_INFO(MOD, "event=registered ep=%s id=%s lt=%u lwm2m=%s b=%s q=%d replaced=%d", i->ep, id,
              i->lifetime, i->version, i->binding, i->queue, replaced);
  emit_reg(s, NB_SEV_REGISTRATION, r, replaced, now);
  reg_wake(s, r, now);
}

/* Update and De-register must come from the identity that registered. */
static reg *reg_for_request(nb_server *s, nb_coap_exchange *ex, const char *id, nb_time_ms now) {
  reg *r = find_id(s, id);
  if (!r) {
    respond(ex, NB_COAP_NOT_FOUND, "unknown registration", now);
    return NULL;
  }
  if (!identity_equal(&r->info.identity, s->cur_id)) {
    respond(ex, NB_COAP_FORBIDDEN, "registration belongs to another identity", now);
    return NULL;
  }
  return r;
}

static void handle_update(nb_server *s, nb_coap_exchange *ex, const nb_addr *peer,
                          const nb_coap_msg *req, const char *id, nb_time_ms now) {
  reg *r = reg_for_request(s, ex, id, now);
  if (!r) return;
  nb_server_reg_params p;
  nb_server_reg_error e = {NB_COAP_BAD_REQUEST, "bad request"};
  if (nb_server_reg_parse(req, false, &p, &e) != NB_OK) {
    respond(ex, e.code, e.reason, now);
    return;
  }
  if ((p.present & NB_REGP_BINDING) && !nb_server_binding_valid(p.binding, r->info.version)) {
    respond(ex, NB_COAP_BAD_REQUEST, "invalid binding", now);
    nb_server_reg_params_deinit(&p);
    return;
  }
  nb_server_reg_info *i = &r->info;
  if (p.present & NB_REGP_LT) i->lifetime = p.lifetime;
  if (p.present & NB_REGP_BINDING) {
    memcpy(i->binding, p.binding, sizeof(i->binding));
    i->queue = strchr(i->binding, 'Q') != NULL || (p.present & NB_REGP_QUEUE);
  } else if (p.present & NB_REGP_QUEUE) {
    i->queue = true;
  }
  if (p.present & NB_REGP_SMS) memcpy(i->sms, p.sms, sizeof(i->sms));
  take_links(r, &p);
  nb_server_reg_params_deinit(&p);
  reg_set_addr(s, r, peer);
  i->updated_at = unix_ms(s, now);
  reg_arm_expiry(s, r, now);
  store_reg(s, r);
  respond(ex, NB_COAP_CHANGED, NULL, now);
  s->stats.updates++;
  NB_LOG_DEBUG(MOD, "event=updated ep=%s id=%s", i->ep, i->reg_id);
  emit_reg(s, NB_SEV_UPDATED, r, false, now);
  reg_wake(s, r, now);
}

static void handle_deregister(nb_server *s, nb_coap_exchange *ex, const char *id, nb_time_ms now) {
  reg *r = reg_for_request(s, ex, id, now);
  if (!r) return;
  respond(ex, NB_COAP_DELETED, NULL, now);
  s->stats.deregistrations++;
  NB_LOG_INFO(MOD, "event=deregistered ep=%s id=%s", r->info.ep, r->info.reg_id);
  emit_reg(s, NB_SEV_DEREGISTRATION, r, false, now);
  reg_remove(s, r, now);
}

/* Send (/dp, LwM2M 1.1 6.4.1): SenML records from a registered client. */
static void handle_send(nb_server *s, nb_coap_exchange *ex, const nb_addr *peer,
                        const nb_coap_msg *req, nb_time_ms now) {
  reg *r = find_addr(s, peer);
  if (!r || !identity_equal(&r->info.identity, s->cur_id)) {
    respond(ex, NB_COAP_NOT_FOUND, "not registered", now);
    return;
  }
  int cf = nb_coap_msg_content_format(req);
  if (cf != NB_COAP_CF_SENML_CBOR && cf != NB_COAP_CF_SENML_JSON && cf != NB_COAP_CF_LWM2M_JSON &&
      cf != NB_COAP_CF_LWM2M_TLV) {
    respond(ex, NB_COAP_UNSUPPORTED_CONTENT_FORMAT, "Send needs SenML", now);
    return;
  }
  nb_records recs;
  nb_times times;
  nb_records_init(&recs);
  nb_times_init(&times);
  nb_format_opts o = {.model = s->model, .times_out = &times};
  nb_format_error fe = {NB_COAP_BAD_REQUEST, "malformed"};
  if (nb_format_decode_ex(cf, req->payload, req->payload_len, &o, &recs, &fe) != NB_OK) {
    respond(ex, fe.code, fe.reason, now);
  } else if (nb_cose_secret_record(&recs)) { /* reported nowhere: events, history */
    NB_LOG_WARN(MOD, "event=secret-refused ep=%s op=send", r->info.ep);
    respond(ex, NB_COAP_BAD_REQUEST, "a secret key is never sent", now);
  } else {
    respond(ex, NB_COAP_CHANGED, NULL, now);
    s->stats.sends++;
    nb_server_event ev = {.type = NB_SEV_SEND,
                          .reg = &r->info,
                          .format = cf,
                          .records = &recs,
                          .times = &times,
                          .now = now};
    emit(s, &ev);
  }
  nb_records_deinit(&recs);
  nb_times_deinit(&times);
}

static void on_request(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                       const nb_coap_msg *req, nb_time_ms now) {
  nb_server *s = user;
  char path[160];
  if (nb_coap_msg_get_path(req, NB_COAP_OPT_URI_PATH, path, sizeof(path)) != NB_OK) {
    respond(ex, NB_COAP_NOT_FOUND, NULL, now);
    return;
  }
  size_t rd_segments = nb_coap_msg_count(req, NB_COAP_OPT_URI_PATH);
  if (strcmp(path, "/rd") == 0) {
    if (req->code == NB_COAP_POST)
      handle_register(s, ex, peer, req, now);
    else
      respond(ex, NB_COAP_METHOD_NOT_ALLOWED, NULL, now);
  } else if (strncmp(path, "/rd/", 4) == 0 && rd_segments == 2) {
    if (req->code == NB_COAP_POST)
      handle_update(s, ex, peer, req, path + 4, now);
    else if (req->code == NB_COAP_DELETE)
      handle_deregister(s, ex, path + 4, now);
    else
      respond(ex, NB_COAP_METHOD_NOT_ALLOWED, NULL, now);
  } else if (strcmp(path, "/dp") == 0) {
    if (req->code == NB_COAP_POST)
      handle_send(s, ex, peer, req, now);
    else
      respond(ex, NB_COAP_METHOD_NOT_ALLOWED, NULL, now);
  } else {
    respond(ex, NB_COAP_NOT_FOUND, NULL, now);
  }
}

/* ---- lifecycle ---- */

nb_err nb_server_new(const nb_server_config *cfg, nb_coap_send_fn send, void *send_user,
                     nb_server **out) {
  nb_server *s = calloc(1, sizeof(*s));
  if (!s) return NB_ERR_NOMEM;
  if (cfg)
    s->cfg = *cfg;
  else
    nb_server_config_default(&s->cfg);
  if (!s->cfg.random) s->cfg.random = nb_random_system;
  if (!s->cfg.coap.random) {
    s->cfg.coap.random = s->cfg.random;
    s->cfg.coap.random_user = s->cfg.random_user;
  }
  nb_coap_timerheap_init(&s->timers);
  nb_err rc = s->cfg.random(s->cfg.random_user, &s->seed, sizeof(s->seed));
  if (rc == NB_OK) rc = nb_coap_hmap_init(&s->by_ep);
  if (rc == NB_OK) rc = nb_coap_hmap_init(&s->by_id);
  if (rc == NB_OK) rc = nb_coap_hmap_init(&s->by_addr);
  if (rc == NB_OK) rc = nb_coap_hmap_init(&s->reqs);
  if (rc == NB_OK && !s->cfg.model) {
    s->own_model = nb_model_new();
    if (!s->own_model) rc = NB_ERR_NOMEM;
  }
  s->model = s->cfg.model ? s->cfg.model : s->own_model;
  if (rc == NB_OK) rc = nb_coap_ep_new(&s->cfg.coap, send, send_user, &s->ep);
  if (rc != NB_OK) {
    nb_server_free(s);
    return rc;
  }
  nb_coap_ep_set_handler(s->ep, on_request, s);
  *out = s;
  return NB_OK;
}

void nb_server_free(nb_server *s) {
  if (!s) return;
  /* Requests first (their callbacks are not called), then registrations. */
  nb_coap_hnode *n;
  while ((n = nb_coap_hmap_pop(&s->reqs))) {
    sreq *q = CONTAINER(n, sreq, n_id);
    free(q->paths);
    free(q->payload);
    free(q);
  }
  while ((n = nb_coap_hmap_pop(&s->by_ep))) {
    reg *r = CONTAINER(n, reg, n_ep);
    free(r->links);
    free(r);
  }
  nb_coap_ep_free(s->ep);
  nb_coap_hmap_deinit(&s->by_ep);
  nb_coap_hmap_deinit(&s->by_id);
  nb_coap_hmap_deinit(&s->by_addr);
  nb_coap_hmap_deinit(&s->reqs);
  nb_coap_timerheap_deinit(&s->timers);
  nb_model_free(s->own_model);
  free(s);
}

void nb_server_receive(nb_server *s, const nb_addr *peer, const nb_server_identity *id,
                       const uint8_t *data, size_t len, nb_time_ms now) {
  s->cur_id = id ? id : &no_identity;
  /* Anything from a queue-mode client shows it is awake (LwM2M 1.1 6.5). */
  reg *r = find_addr(s, peer);
  if (r && r->info.queue && identity_equal(&r->info.identity, s->cur_id)) reg_wake(s, r, now);
  nb_coap_ep_receive(s->ep, peer, data, len, now);
  s->cur_id = &no_identity;
}

void nb_server_tick(nb_server *s, nb_time_ms now) {
  s->cur_id = &no_identity;
  nb_coap_ep_tick(s->ep, now);
  nb_coap_timer *t;
  while ((t = nb_coap_timerheap_pop_due(&s->timers, now))) {
    if (t->kind == TK_EXPIRY) {
      reg *r = CONTAINER(t, reg, t_expiry);
      s->stats.expirations++;
      NB_LOG_INFO(MOD, "event=expired ep=%s id=%s", r->info.ep, r->info.reg_id);
      emit_reg(s, NB_SEV_EXPIRED, r, false, now);
      reg_remove(s, r, now);
    } else if (t->kind == TK_AWAKE) {
      reg *r = CONTAINER(t, reg, t_awake);
      r->awake = false;
      emit_reg(s, NB_SEV_SLEEPING, r, false, now);
    } else {
      sreq *q = CONTAINER(t, sreq, timer);
      if (q->state == RQ_QUEUED) {
        req_fail(s, q, NB_ERR_TIMEOUT, now);
      } else {
        q->timed_out = true;
        req_abort(s, q, false, now);
      }
    }
  }
}

nb_time_ms nb_server_next_deadline(const nb_server *s) {
  return nb_time_min(nb_coap_ep_next_deadline(s->ep), nb_coap_timerheap_next(&s->timers));
}

nb_coap_ep *nb_server_coap(nb_server *s) { return s->ep; }
const nb_model *nb_server_model(const nb_server *s) { return s->model; }

nb_err nb_server_add_listener(nb_server *s, nb_server_listener_fn fn, void *user) {
  for (size_t i = 0; i < NB_SERVER_MAX_LISTENERS; i++)
    if (!s->listeners[i].fn) {
      s->listeners[i].fn = fn;
      s->listeners[i].user = user;
      return NB_OK;
    }
  return NB_ERR_BUSY;
}

void nb_server_remove_listener(nb_server *s, nb_server_listener_fn fn, void *user) {
  for (size_t i = 0; i < NB_SERVER_MAX_LISTENERS; i++)
    if (s->listeners[i].fn == fn && s->listeners[i].user == user) s->listeners[i].fn = NULL;
}

const nb_server_reg_info *nb_server_find(const nb_server *s, const char *ep) {
  reg *r = find_ep(s, ep);
  return r ? &r->info : NULL;
}

size_t nb_server_count(const nb_server *s) { return s->by_ep.count; }

typedef struct {
  void (*fn)(void *user, const nb_server_reg_info *r);
  void *user;
} each_ctx;

static void each_node(nb_coap_hnode *n, void *user) {
  each_ctx *c = user;
  c->fn(c->user, &CONTAINER(n, reg, n_ep)->info);
}

void nb_server_each(const nb_server *s, void (*fn)(void *user, const nb_server_reg_info *r),
                    void *user) {
  each_ctx c = {fn, user};
  nb_coap_hmap_each(&s->by_ep, each_node, &c);
}

bool nb_server_is_awake(const nb_server *s, const char *ep) {
  reg *r = find_ep(s, ep);
  return r && reachable(r);
}

void nb_server_get_stats(const nb_server *s, nb_server_stats *out) { *out = s->stats; }

typedef struct {
  nb_server *s;
  nb_time_ms now;
  size_t count;
  char (*stale)[NB_SERVER_EP_MAX]; /* expired rows, deleted after the walk */
  size_t nstale, cap;
} restore_ctx;

static void note_stale(restore_ctx *c, const char *ep) {
  if (c->nstale == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    void *p = realloc(c->stale, cap * sizeof(*c->stale));
    if (!p) return; /* stays in the store; retried on the next restart */
    c->stale = p;
    c->cap = cap;
  }
  snprintf(c->stale[c->nstale++], NB_SERVER_EP_MAX, "%s", ep);
}

static nb_err restore_one(void *user, const nb_server_reg_info *in) {
  restore_ctx *c = user;
  nb_server *s = c->s;
  int64_t left = in->expires_at + s->cfg.expiry_grace - unix_ms(s, c->now);
  if (left <= 0) note_stale(c, in->ep);
  if (left <= 0 || find_ep(s, in->ep)) return NB_OK;
  reg *r = reg_new(s);
  if (!r) return NB_ERR_NOMEM;
  r->info = *in;
  r->links = malloc(in->links_len + 1);
  if (!r->links) {
    nb_coap_timerheap_unreserve(&s->timers);
    nb_coap_timerheap_unreserve(&s->timers);
    free(r);
    return NB_ERR_NOMEM;
  }
  if (in->links_len) memcpy(r->links, in->links, in->links_len);
  r->links[in->links_len] = '\0';
  r->info.links = r->links;
  reg_index(s, r);
  nb_coap_timerheap_arm(&s->timers, &r->t_expiry, c->now + left);
  c->count++;
  return NB_OK;
}

/* Observations whose rows are to be deleted after the walk (their device is gone or the row
 * cannot be used). */
typedef struct {
  nb_server *s;
  nb_time_ms now;
  size_t count;
  struct stale_obs {
    char ep[NB_SERVER_EP_MAX];
    uint64_t id;
  } * stale;
  size_t nstale, cap;
} obs_restore_ctx;

static void note_stale_obs(obs_restore_ctx *c, const nb_server_obs_info *o) {
  if (c->nstale == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    void *p = realloc(c->stale, cap * sizeof(*c->stale));
    if (!p) return; /* stays in the store; retried on the next restart */
    c->stale = p;
    c->cap = cap;
  }
  snprintf(c->stale[c->nstale].ep, NB_SERVER_EP_MAX, "%s", o->ep);
  c->stale[c->nstale++].id = o->id;
}

/* Parses "/3/0/9,/3/0/8" into a new array. */
static nb_err parse_paths(const char *text, nb_path **out, size_t *n) {
  size_t cap = 1;
  for (const char *p = text; *p; p++) cap += *p == ',';
  nb_path *v = calloc(cap, sizeof(*v));
  if (!v) return NB_ERR_NOMEM;
  size_t k = 0;
  for (const char *p = text;;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (nb_path_parse_n(p, len, &v[k]) != NB_OK || !nb_path_is_valid(&v[k])) {
      free(v);
      return NB_ERR_INVAL;
    }
    k++;
    if (!end) break;
    p = end + 1;
  }
  *out = v;
  *n = k;
  return NB_OK;
}

/* Rebuilds the observation as it stood (same id, token and request) and hands it to the CoAP
 * layer, so the device's next notification is accepted instead of answered with RST. */
static nb_err adopt_one(nb_server *s, reg *r, const nb_server_obs_info *o, nb_time_ms now) {
  if (!o->token_len) return NB_ERR_INVAL; /* saved before tokens were kept */
  nb_path *paths = NULL;
  size_t npaths = 0;
  nb_err rc = parse_paths(o->paths, &paths, &npaths);
  if (rc != NB_OK) return rc;
  nb_server_request in = {.op = o->composite ? NB_SOP_OBSERVE_COMPOSITE : NB_SOP_OBSERVE,
                          .path = paths[0],
                          .paths = paths,
                          .path_count = npaths,
                          .has_format = true,
                          .format = o->format,
                          .actor = "restore"};
  sreq *q = req_new(s, r, &in, o->id, RQ_OBSERVING, NULL, NULL);
  if (!q) rc = NB_ERR_NOMEM;
  if (rc == NB_OK) rc = req_copy_paths(q, &in);
  if (rc == NB_OK) rc = req_build(s, q, &in);
  free(paths);
  nb_coap_msg m;
  if (rc == NB_OK) rc = req_message(q, &m);
  if (rc == NB_OK) {
    memcpy(q->token, o->token, o->token_len);
    q->token_len = o->token_len;
    rc = nb_coap_ep_adopt_observation(s->ep, &r->info.addr, &m, q->token, q->token_len, true,
                                      on_coap_response, q, now, &q->coap_id);
  }
  if (rc != NB_OK) {
    if (q) req_free(s, q);
    return rc;
  }
  if (o->id > s->next_req_id) s->next_req_id = o->id;
  return NB_OK;
}

static nb_err restore_obs(void *user, const nb_server_obs_info *o) {
  obs_restore_ctx *c = user;
  nb_server *s = c->s;
  reg *r = find_ep(s, o->ep);
  if (r && find_req(s, o->id)) return NB_OK; /* already held (restored twice) */
  nb_err rc = r ? adopt_one(s, r, o, c->now) : NB_ERR_NOT_FOUND;
  if (rc == NB_ERR_NOMEM) return rc;
  if (rc != NB_OK) {
    NB_LOG_INFO(MOD, "event=observation_dropped ep=%s id=%llu reason=%s", o->ep,
                (unsigned long long)o->id, nb_strerror(rc));
    note_stale_obs(c, o);
    return NB_OK;
  }
  c->count++;
  return NB_OK;
}

static nb_err restore_observations(nb_server *s, nb_time_ms now, size_t *count) {
  obs_restore_ctx c = {s, now, 0, NULL, 0, 0};
  nb_err rc = s->cfg.store.ops->obs_each(s->cfg.store.self, restore_obs, &c);
  for (size_t i = 0; i < c.nstale; i++)
    s->cfg.store.ops->obs_del(s->cfg.store.self, c.stale[i].ep, c.stale[i].id);
  free(c.stale);
  *count = c.count;
  return rc;
}

nb_err nb_server_restore(nb_server *s, nb_time_ms now, size_t *count) {
  restore_ctx c = {s, now, 0, NULL, 0, 0};
  nb_err rc =
      s->cfg.store.ops ? s->cfg.store.ops->reg_each(s->cfg.store.self, restore_one, &c) : NB_OK;
  for (size_t i = 0; i < c.nstale; i++) {
    s->cfg.store.ops->reg_del(s->cfg.store.self, c.stale[i]);
    s->cfg.store.ops->obs_del_ep(s->cfg.store.self, c.stale[i]);
  }
  free(c.stale);
  size_t nobs = 0;
  if (rc == NB_OK && s->cfg.store.ops) rc = restore_observations(s, now, &nobs);
  if (count) *count = c.count;
  if (c.count || nobs)
    NB_LOG_INFO(MOD, "event=restored registrations=%zu observations=%zu", c.count, nobs);
  return rc;
}
