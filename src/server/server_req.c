/* LwM2M server engine, device management (TS Core 6.3, 6.4): requests to registered clients,
 * queued for sleeping ones, their answers (signed ones opened and kept as evidence) and
 * observations. See server_int.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hex.h"
#include "base/log.h"
#include "dtls/cose.h"
#include "dtls/cose_lwm2m.h"
#include "server/server_int.h"

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
  if (!s->cfg.store.ops || q->quiet) return;
  nb_server_audit_info a;
  memset(&a, 0, sizeof(a));
  a.at = nb_srvi_unix_ms(s, now);
  snprintf(a.actor, sizeof(a.actor), "%s", q->actor);
  snprintf(a.ep, sizeof(a.ep), "%s", q->r->info.ep);
  snprintf(a.op, sizeof(a.op), "%s", nb_server_op_name(q->op));
  paths_text(q, a.path, sizeof(a.path));
  snprintf(a.result, sizeof(a.result), "%s", result);
  if (s->cfg.store.ops->audit_add(s->cfg.store.self, &a) != NB_OK)
    NB_LOG_WARN(NB_SRV_LOG, "event=store_failed op=audit_add ep=%s", a.ep);
}

/* ---- requests: lifecycle ---- */

void nb_srvi_req_free(nb_server *s, sreq *q) {
  if (q->r) {
    if (q->prev)
      q->prev->next = q->next;
    else
      q->r->reqs = q->next;
    if (q->next) q->next->prev = q->prev;
    if (q->state == RQ_QUEUED) q->r->nqueued--;
  }
  if (q->unsaved) s->unsaved--;
  nb_coap_hmap_remove(&s->reqs, &q->n_id);
  nb_coap_timerheap_disarm(&s->timers, &q->timer);
  nb_coap_timerheap_unreserve(&s->timers);
  free(q->paths);
  free(q->payload);
  free(q->alt_payload);
  free(q);
}

nb_err nb_srvi_store_obs(nb_server *s, sreq *q) {
  if (!s->cfg.store.ops) return NB_OK;
  nb_server_obs_info oi;
  memset(&oi, 0, sizeof(oi));
  snprintf(oi.ep, sizeof(oi.ep), "%s", q->r->info.ep);
  oi.id = q->id;
  oi.composite = q->npaths > 0;
  oi.format = q->accept;
  oi.created_at = q->obs_created_at;
  memcpy(oi.token, q->token, q->token_len);
  oi.token_len = q->token_len;
  paths_text(q, oi.paths, sizeof(oi.paths));
  nb_err rc = s->cfg.store.ops->obs_put(s->cfg.store.self, &oi);
  bool unsaved = rc != NB_OK;
  if (unsaved != q->unsaved) {
    q->unsaved = unsaved;
    if (unsaved)
      s->unsaved++;
    else
      s->unsaved--;
  }
  return rc;
}

static void obs_forget(nb_server *s, sreq *q) {
  if (q->observe && q->state == RQ_OBSERVING && s->cfg.store.ops)
    s->cfg.store.ops->obs_del(s->cfg.store.self, q->r->info.ep, q->id);
}

/* Final callback without a response (cancel, timeout, queue expiry) and free. */
void nb_srvi_req_fail(nb_server *s, sreq *q, nb_err err, nb_time_ms now) {
  nb_server_result res = {
      .err = err, .format = NB_COAP_CF_NONE, .location = "", .unsent = q->state == RQ_QUEUED};
  if (q->state != RQ_OBSERVING) audit(s, q, err == NB_ERR_TIMEOUT ? "timeout" : "cancelled", now);
  obs_forget(s, q);
  nb_server_result_fn cb = q->cb;
  void *user = q->user;
  uint64_t id = q->id;
  nb_srvi_req_free(s, q);
  if (cb) cb(user, id, &res, true);
}

/* Ends a request that is on the wire: the CoAP layer calls back with NB_ERR_CANCELLED. */
void nb_srvi_req_abort(nb_server *s, sreq *q, bool active, nb_time_ms now) {
  if (q->state == RQ_QUEUED) {
    nb_srvi_req_fail(s, q, NB_ERR_CANCELLED, now);
    return;
  }
  if (nb_coap_ep_cancel(s->ep, q->coap_id, active, now) != NB_OK)
    nb_srvi_req_fail(s, q, q->timed_out ? NB_ERR_TIMEOUT : NB_ERR_CANCELLED, now);
}

/* ---- requests: wire ---- */

bool nb_srvi_reachable(const reg *r) {
  return !r->info.restored_unheard && (!r->info.queue || r->awake);
}

/* The CoAP request of q (its payload borrowed from q). */
nb_err nb_srvi_req_message(const sreq *q, nb_coap_msg *m) {
  nb_coap_msg_init(m, NB_COAP_CON, q->method, 0);
  nb_err rc = NB_OK;
  if (q->observe) rc = nb_coap_msg_add_uint(m, NB_COAP_OPT_OBSERVE, 0);
  if (rc == NB_OK && !q->npaths) rc = nb_path_to_coap(m, &q->path);
  if (rc == NB_OK && q->content_format != NB_COAP_CF_NONE)
    rc = nb_coap_msg_add_uint(m, NB_COAP_OPT_CONTENT_FORMAT, (uint32_t)q->content_format);
  if (rc == NB_OK && q->has_attrs) rc = nb_attrs_to_coap(m, &q->attrs);
  if (rc == NB_OK && q->accept != NB_COAP_CF_NONE)
    rc = nb_coap_msg_add_uint(m, NB_COAP_OPT_ACCEPT, (uint32_t)q->accept);
  if (rc == NB_OK && q->has_block1) rc = nb_coap_block_add(m, NB_COAP_OPT_BLOCK1, &q->block1);
  if (rc == NB_OK && q->has_block1 && q->block1.num == 0)
    rc = nb_coap_msg_add_uint(m, NB_COAP_OPT_SIZE1, q->size1);
  if (rc == NB_OK) nb_coap_msg_set_payload(m, q->payload, q->len);
  return rc;
}

static nb_err req_dispatch(nb_server *s, sreq *q, nb_time_ms now) {
  nb_coap_msg m;
  nb_err rc = nb_srvi_req_message(q, &m);
  if (rc == NB_OK && q->observe) {
    /* Our own token, stored with the observation, so a restarted server can adopt it. */
    q->token_len = NB_COAP_GEN_TOKEN_LEN;
    rc = s->cfg.random(s->cfg.random_user, q->token, q->token_len);
    if (rc == NB_OK) rc = nb_coap_msg_set_token(&m, q->token, q->token_len);
  }
  if (rc != NB_OK) return rc;
  rc = nb_coap_ep_request(s->ep, &q->r->info.addr, &m, true, nb_srvi_on_coap_response, q, now,
                          &q->coap_id);
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
      nb_srvi_req_fail(s, q, NB_ERR_NOMEM, now);
    q = next;
  }
}

void nb_srvi_reg_heard(nb_server *s, reg *r, nb_time_ms now) {
  if (r->info.restored_unheard) {
    r->info.restored_unheard = false;
    NB_LOG_INFO(NB_SRV_LOG, "event=reachable ep=%s queued=%zu", r->info.ep, r->nqueued);
    if (!r->info.queue) reg_flush_queue(s, r, now);
  }
  nb_srvi_reg_wake(s, r, now);
}

void nb_srvi_reg_wake(nb_server *s, reg *r, nb_time_ms now) {
  if (!r->info.queue || r->info.restored_unheard) return;
  nb_coap_timerheap_arm(&s->timers, &r->t_awake, now + s->cfg.awake_time);
  if (!r->awake) {
    r->awake = true;
    nb_srvi_emit_reg(s, NB_SEV_AWAKE, r, false, now);
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
  if (!nb_srvi_identity_equal(&q->r->info.identity, id)) return NB_ERR_SIG_INVALID;
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
  e.at = nb_srvi_unix_ms(s, now);
  snprintf(e.kind, sizeof(e.kind), "%s", q->observe ? "notify" : "read");
  paths_text(q, e.path, sizeof(e.path));
  snprintf(e.kid, sizeof(e.kid), "%s", sig->kid);
  e.has_iat = sig->has_iat;
  e.iat = sig->iat;
  e.cose = sig->cose;
  e.cose_len = sig->cose_len;
  if (s->cfg.store.ops->evidence_add(s->cfg.store.self, &e, s->cfg.evidence_max) != NB_OK)
    NB_LOG_WARN(NB_SRV_LOG, "event=store_failed op=evidence_add ep=%s", e.ep);
}

static void reject_signed(nb_server *s, const sreq *q, const nb_server_signature *sig, nb_err err,
                          nb_time_ms now) {
  NB_LOG_WARN(NB_SRV_LOG, "event=signature_rejected ep=%s req=%llu reason=\"%s\"", q->r->info.ep,
              (unsigned long long)q->id, nb_strerror(err));
  nb_server_event ev = {.type = NB_SEV_SIGNATURE_REJECTED,
                        .reg = &q->r->info,
                        .obs_id = q->id,
                        .path = q->npaths ? &q->paths[0] : &q->path,
                        .format = NB_COSE_CF_SIGN1,
                        .signature = sig,
                        .err = err,
                        .now = now};
  nb_srvi_emit(s, &ev);
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
  NB_LOG_WARN(NB_SRV_LOG, "event=secret-refused ep=%s req=%llu path=%s", q->r->info.ep,
              (unsigned long long)q->id, path);
  nb_records_deinit(recs);
  nb_records_init(recs);
  return NB_ERR_FMT_SECRET;
}

/* The format a request's body or answer is in (the body's for a FETCH of paths). */
static int req_format(const sreq *q) {
  return q->content_format != NB_COAP_CF_NONE ? q->content_format : q->accept;
}

static void audit_code(nb_server *s, const sreq *q, uint8_t code, nb_time_ms now) {
  char result[24], c[8];
  nb_coap_code_format(code, c);
  /* A request that was sent twice says in which format each answer came. */
  if (q->fmt_retried ||
      (q->fmt_auto && NB_COAP_CLASS(code) == 4 &&
       (code == NB_COAP_NOT_ACCEPTABLE || code == NB_COAP_UNSUPPORTED_CONTENT_FORMAT)))
    snprintf(result, sizeof result, "%s cf=%d", c, req_format(q));
  else
    snprintf(result, sizeof result, "%s", c);
  audit(s, q, result, now);
}

/* The device refused the format the engine chose (4.06 for the answer's, 4.15 for the body's):
 * the request goes again, once, in the next format it supports, and the refused one goes last
 * for its next requests. True when the request was dealt with here. An explicit format is never
 * changed: the refusal goes back to the caller. */
static bool retry_format(nb_server *s, sreq *q, const nb_coap_msg *resp, nb_time_ms now) {
  if (!q->fmt_auto || q->fmt_retried || q->state != RQ_SENT ||
      (resp->code != NB_COAP_NOT_ACCEPTABLE && resp->code != NB_COAP_UNSUPPORTED_CONTENT_FORMAT))
    return false;
  nb_srvi_fmt_refused(s, q->r, req_format(q), resp->code, q->alt_format);
  if (q->alt_format == NB_COAP_CF_NONE) return false;
  audit_code(s, q, resp->code, now);
  if (q->content_format != NB_COAP_CF_NONE) {
    q->content_format = q->alt_format;
    free(q->payload);
    q->payload = q->alt_payload;
    q->len = q->alt_len;
    q->alt_payload = NULL;
    q->alt_len = 0;
  }
  if (q->accept != NB_COAP_CF_NONE) q->accept = q->alt_format;
  q->alt_format = NB_COAP_CF_NONE;
  q->fmt_retried = true;
  nb_err rc = req_dispatch(s, q, now);
  if (rc != NB_OK) nb_srvi_req_fail(s, q, rc, now);
  return true;
}

void nb_srvi_on_coap_response(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                              nb_time_ms now) {
  sreq *q = user;
  nb_server *s = q->srv;
  if (q->silent) {
    nb_srvi_req_free(s, q);
    return;
  }
  if (err != NB_OK || !resp) {
    if (err == NB_ERR_CANCELLED && q->timed_out) err = NB_ERR_TIMEOUT;
    nb_srvi_req_fail(s, q, err, now);
    return;
  }
  if (q->state == RQ_SENT) nb_coap_timerheap_disarm(&s->timers, &q->timer);
  if (last && retry_format(s, q, resp, now)) return;
  nb_records recs;
  nb_times times;
  nb_records_init(&recs);
  nb_times_init(&times);
  char location[64];
  location_of(resp, location, sizeof(location));
  char *links = NULL;
  nb_server_result res = {.err = NB_OK, .code = resp->code, .location = location};
  res.has_block1 = nb_coap_block_get(resp, NB_COAP_OPT_BLOCK1, &res.block1) == NB_OK;
  if (nb_coap_msg_get_uint(resp, NB_COAP_OPT_SIZE1, &res.size1) != NB_OK) res.size1 = 0;
  res.format = nb_coap_msg_content_format(resp);
  res.notification = q->state == RQ_OBSERVING;
  if (res.notification)
    NB_LOG_DEBUG(NB_SRV_LOG, "event=notification ep=%s obs=%llu seq=%u", q->r->info.ep,
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
  if (q->state == RQ_SENT && is_sig_error(res.err))
    audit(s, q, sig_audit_result(res.err), now);
  else if (q->state == RQ_SENT)
    audit_code(s, q, resp->code, now);
  if (q->state == RQ_SENT && q->fmt_auto && ok && res.err == NB_OK &&
      (op_reads_values(q->op) ? resp->payload_len && res.format == req_format(q) : true))
    nb_srvi_fmt_worked(s, q->r, req_format(q));
  if (q->observe && ok && res.err == NB_OK) {
    if (q->state == RQ_SENT) {
      q->obs_created_at = nb_srvi_unix_ms(s, now);
      nb_srvi_store_obs(s, q);
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
    nb_srvi_emit(s, &ev);
  }
  bool finished = last || !q->observe || q->state != RQ_OBSERVING;
  uint64_t id = q->id;
  nb_server_result_fn cb = q->cb;
  void *cb_user = q->user;
  if (finished && !last) {
    /* An observation refused by the device: the CoAP layer still holds it. */
    q->silent = true;
    if (nb_coap_ep_cancel(s->ep, q->coap_id, false, now) != NB_OK) nb_srvi_req_free(s, q);
  } else if (finished) {
    obs_forget(s, q);
    nb_srvi_req_free(s, q);
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

/* Operations whose payload or answer is in a format the engine may choose. */
static bool op_has_format(nb_server_op op) {
  return op_reads_values(op) || op == NB_SOP_WRITE_REPLACE || op == NB_SOP_WRITE_PARTIAL ||
         op == NB_SOP_CREATE || op == NB_SOP_WRITE_COMPOSITE;
}

static nb_err encode_in(nb_server *s, int cf, const nb_records *recs, const nb_path *base,
                        unsigned flags, uint8_t **out, size_t *len) {
  nb_bytes b;
  nb_bytes_init(&b);
  nb_format_opts o = {.base = base, .model = s->model, .flags = flags};
  nb_format_error fe = {0};
  nb_err rc = nb_format_encode_ex(cf, recs, &o, &b, &fe);
  if (rc != NB_OK) {
    nb_bytes_free(&b);
    return rc == NB_ERR_NOMEM ? rc : NB_ERR_INVAL;
  }
  *out = nb_bytes_steal(&b, len);
  return NB_OK;
}

/* The body in cf and, when the engine chose the format, in the one to retry with (none when the
 * records do not fit that format). */
static nb_err encode_records(nb_server *s, sreq *q, int cf, const nb_records *recs,
                             const nb_path *base, unsigned flags) {
  nb_err rc = encode_in(s, cf, recs, base, flags, &q->payload, &q->len);
  if (rc == NB_OK && q->alt_format != NB_COAP_CF_NONE &&
      encode_in(s, q->alt_format, recs, base, flags, &q->alt_payload, &q->alt_len) != NB_OK)
    q->alt_format = NB_COAP_CF_NONE;
  return rc;
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

/* One block of an opaque Write the caller slices (nb_server_request.block1). */
static nb_err build_block(sreq *q, const nb_server_request *in) {
  if (in->op != NB_SOP_WRITE_REPLACE || in->block_len > nb_coap_block_size(in->block1->szx) ||
      in->block_total > UINT32_MAX)
    return NB_ERR_INVAL;
  q->method = NB_COAP_PUT;
  q->content_format = NB_COAP_CF_OCTET_STREAM;
  q->accept = q->alt_format = NB_COAP_CF_NONE;
  q->has_block1 = true;
  q->block1 = *in->block1;
  q->size1 = (uint32_t)in->block_total;
  q->payload = malloc(in->block_len ? in->block_len : 1);
  if (!q->payload) return NB_ERR_NOMEM;
  if (in->block_len) memcpy(q->payload, in->block_data, in->block_len);
  q->len = in->block_len;
  return NB_OK;
}

/* Method, options and body of each operation. */
nb_err nb_srvi_req_build(nb_server *s, sreq *q, const nb_server_request *in) {
  q->quiet = in->quiet;
  if (in->block1) return build_block(q, in);
  /* A restored signed observation comes back with its stored Accept, 18. */
  bool sign = in->sign || (in->has_format && in->format == NB_COSE_CF_SIGN1);
  if (sign && (!op_reads_values(in->op) || (in->has_format && in->format != NB_COSE_CF_SIGN1 &&
                                            in->format != NB_COAP_CF_SENML_CBOR)))
    return NB_ERR_INVAL;
  int cf = sign ? NB_COAP_CF_SENML_CBOR : in->format;
  q->alt_format = NB_COAP_CF_NONE;
  q->fmt_auto = !sign && !in->has_format && op_has_format(in->op);
  if (q->fmt_auto) {
    int fmts[2];
    size_t n = nb_srvi_fmt_candidates(q->r, in->op, fmts, 2);
    cf = fmts[0];
    if (n > 1) q->alt_format = fmts[1];
  }
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

nb_err nb_srvi_req_copy_paths(sreq *q, const nb_server_request *in) {
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
sreq *nb_srvi_req_new(nb_server *s, reg *r, const nb_server_request *in, uint64_t id, int state,
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
  s->now = now;
  reg *r = nb_srvi_find_ep(s, ep);
  if (!r) return NB_ERR_NOT_FOUND;
  if (is_composite(in->op) && strcmp(r->info.version, "1.0") == 0) return NB_ERR_UNSUPPORTED;
  bool wait = !nb_srvi_reachable(r);
  if (wait && r->nqueued >= s->cfg.queue_max) return NB_ERR_BUSY;
  sreq *q = nb_srvi_req_new(s, r, in, ++s->next_req_id, RQ_QUEUED, cb, user);
  if (!q) return NB_ERR_NOMEM;
  nb_err rc = nb_srvi_req_copy_paths(q, in);
  if (rc == NB_OK) rc = nb_srvi_req_build(s, q, in);
  if (rc == NB_OK && !wait) rc = req_dispatch(s, q, now);
  if (rc != NB_OK) {
    nb_srvi_req_free(s, q);
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
  s->now = now;
  sreq *q = nb_srvi_find_req(s, id);
  if (!q || q->silent) return NB_ERR_NOT_FOUND;
  nb_srvi_req_abort(s, q, active, now);
  return NB_OK;
}

bool nb_server_request_queued(const nb_server *s, uint64_t id) {
  const sreq *q = nb_srvi_find_req(s, id);
  return q && !q->silent && q->state == RQ_QUEUED;
}

size_t nb_server_observations(const nb_server *s, const char *ep, nb_server_obs_info *out,
                              size_t cap) {
  reg *r = nb_srvi_find_ep(s, ep);
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
