/* LwM2M server engine, the registration interface (TS Core 6.2): Register, Update,
 * De-register and Send, the registrations' index and expiry. See server_int.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "coap/wellknown.h"
#include "dtls/cose_lwm2m.h"
#include "server/server_int.h"

/* 64 CSPRNG bits as 11 base64url characters (RFC 4648 alphabet, 6 bits each, 4 in the last):
 * as unguessable as 16 hex digits, 5 bytes shorter in Location-Path and in every Update and
 * De-register (issue 15). */
static void reg_id_text(const uint8_t raw[8], char *out) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint64_t v = 0;
  for (size_t i = 0; i < 8; i++) v = (v << 8) | raw[i];
  for (size_t i = 0; i < 11; i++, v >>= 6) out[i] = alphabet[v & 63];
  out[11] = '\0';
}

static nb_err new_reg_id(nb_server *s, char *out) {
  for (int tries = 0; tries < 8; tries++) {
    uint8_t raw[8];
    nb_err rc = s->cfg.random(s->cfg.random_user, raw, sizeof(raw));
    if (rc != NB_OK) return rc;
    reg_id_text(raw, out);
    if (!nb_srvi_find_id(s, out)) return NB_OK;
  }
  return NB_ERR_EXISTS;
}

reg *nb_srvi_reg_new(nb_server *s) {
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

nb_err nb_srvi_reg_set_text(reg *r, const char *ep, const nb_server_reg_identity *id,
                            const char *sms) {
  const char *value = id->value ? id->value : "";
  sms = sms ? sms : "";
  size_t le = strnlen(ep, NB_SERVER_EP_MAX - 1), li = strnlen(value, NB_SERVER_IDENT_MAX - 1),
         ls = strnlen(sms, NB_SERVER_SMS_MAX - 1);
  char *t = malloc(le + li + ls + 3);
  if (!t) return NB_ERR_NOMEM;
  memcpy(t, ep, le);
  t[le] = '\0';
  memcpy(t + le + 1, value, li);
  t[le + 1 + li] = '\0';
  memcpy(t + le + li + 2, sms, ls);
  t[le + li + 2 + ls] = '\0';
  free(r->text);
  r->text = t;
  r->info.ep = t;
  r->info.identity.kind = id->kind;
  r->info.identity.value = t + le + 1;
  r->info.sms = t + le + li + 2;
  return NB_OK;
}

void nb_srvi_reg_free(nb_server *s, reg *r) {
  if (r->unsaved) s->unsaved--;
  nb_coap_timerheap_unreserve(&s->timers);
  nb_coap_timerheap_unreserve(&s->timers);
  free(r->links);
  free(r->text);
  free(r);
}

void nb_srvi_reg_index(nb_server *s, reg *r) {
  nb_coap_hmap_insert(&s->by_ep, &r->n_ep, nb_srvi_hash_str(s, r->info.ep));
  nb_coap_hmap_insert(&s->by_id, &r->n_id, nb_srvi_hash_str(s, r->info.reg_id));
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

/* Cancels every request of r except those still queued (when keep_queued). */
static void reg_abort_requests(nb_server *s, reg *r, bool keep_queued, nb_time_ms now) {
  for (;;) {
    sreq *q = r->reqs;
    while (q && keep_queued && q->state == RQ_QUEUED) q = q->next;
    if (!q) return;
    nb_srvi_req_abort(s, q, false, now);
  }
}

/* Unlinks r, ends its requests (callbacks see it gone from the maps) and frees it. */
void nb_srvi_reg_remove(nb_server *s, reg *r, nb_time_ms now) {
  nb_coap_hmap_remove(&s->by_ep, &r->n_ep);
  nb_coap_hmap_remove(&s->by_id, &r->n_id);
  nb_coap_hmap_remove(&s->by_addr, &r->n_addr);
  nb_coap_timerheap_disarm(&s->timers, &r->t_expiry);
  nb_coap_timerheap_disarm(&s->timers, &r->t_awake);
  reg_abort_requests(s, r, false, now);
  if (NB_SRV_IS_NOSEC(r)) s->nosec--;
  if (s->cfg.store.ops &&
      (s->cfg.store.ops->reg_del(s->cfg.store.self, r->info.ep) == NB_ERR_IO ||
       s->cfg.store.ops->obs_del_ep(s->cfg.store.self, r->info.ep) == NB_ERR_IO))
    nb_srvi_gone_add(s, r->info.ep); /* a restart must not bring it back */
  nb_srvi_reg_free(s, r);
}

/* An answer with one uint option (opt 0: none) and, for an error, a diagnostic payload. */
static nb_err respond_opt(nb_coap_exchange *ex, uint8_t code, uint16_t opt, uint32_t value,
                          const char *reason, nb_time_ms now) {
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_ACK, code, 0);
  if (opt) nb_coap_msg_add_uint(&m, opt, value);
  /* A diagnostic payload helps whoever debugs a refused device (RFC 7252 5.5.2). */
  if (reason && NB_COAP_CLASS(code) != 2) nb_coap_msg_set_payload(&m, reason, strlen(reason));
  return nb_coap_exchange_respond(ex, &m, now);
}

static nb_err respond(nb_coap_exchange *ex, uint8_t code, const char *reason, nb_time_ms now) {
  return respond_opt(ex, code, 0, 0, reason, now);
}

/* A parse refusal; 4.13 says how large an object list may be (Size1, RFC 7959 4). */
static void respond_parse_error(nb_server *s, nb_coap_exchange *ex, const nb_server_reg_error *e,
                                nb_time_ms now) {
  bool too_large = e->code == NB_COAP_REQUEST_ENTITY_TOO_LARGE;
  respond_opt(ex, e->code, too_large ? NB_COAP_OPT_SIZE1 : 0, (uint32_t)s->cfg.reg_limits.payload,
              e->reason, now);
}

size_t nb_srvi_body_limit(void *user, const nb_addr *peer, const nb_coap_msg *req) {
  (void)peer;
  const nb_server *s = user;
  const nb_coap_option *first = nb_coap_msg_find(req, NB_COAP_OPT_URI_PATH);
  bool rd = first && first->len == 2 && memcmp(first->value, "rd", 2) == 0;
  return rd ? s->cfg.reg_limits.payload : 0; /* a De-register has no body at all */
}

/* A lifetime (asked for, or the default) above max_lifetime: refused 4.00 rather than cut
 * short, since the client, which sets it (its /1/x/1), would not know and would let the
 * registration expire (docs/security.md). */
static bool lifetime_refused(nb_server *s, nb_coap_exchange *ex, uint32_t lifetime,
                             nb_time_ms now) {
  if (!s->cfg.max_lifetime || lifetime <= s->cfg.max_lifetime) return false;
  char why[96];
  snprintf(why, sizeof(why), "lifetime above the server's maximum of %u s", s->cfg.max_lifetime);
  s->stats.rejected++;
  NB_LOG_INFO(NB_SRV_LOG, "event=lifetime_refused lt=%u max=%u", lifetime, s->cfg.max_lifetime);
  respond(ex, NB_COAP_BAD_REQUEST, why, now);
  return true;
}

/* A Register of a new NoSec endpoint while max_nosec of them are held: 5.03 with Max-Age, the
 * answer RFC 7252 5.9.3.4 gives a server that cannot serve now but may later. */
static bool nosec_full(nb_server *s, nb_coap_exchange *ex, const reg *existing, nb_time_ms now) {
  if (s->cur_id->kind != NB_SERVER_ID_NONE || !s->cfg.max_nosec) return false;
  if (existing && NB_SRV_IS_NOSEC(existing)) return false; /* a re-registration */
  if (s->nosec < s->cfg.max_nosec) {
    s->nosec_full_said = false;
    return false;
  }
  s->stats.rejected++;
  s->stats.nosec_refused++;
  if (!s->nosec_full_said)
    NB_LOG_WARN(NB_SRV_LOG, "event=nosec_cap_reached registrations=%zu max=%zu", s->nosec,
                s->cfg.max_nosec);
  s->nosec_full_said = true;
  respond_opt(ex, NB_COAP_SERVICE_UNAVAILABLE, NB_COAP_OPT_MAX_AGE, s->cfg.nosec_retry_after,
              "no room for more unauthenticated registrations", now);
  return true;
}

/* A message of registration r from `peer`, another address than r's: told to the listeners
 * (and the log), and refused (true, answered 4.03) when r is NoSec, the message too, and
 * nosec_pin_address holds r to its address. LwM2M's NoSec mode authenticates nothing, so
 * anyone who knows an endpoint name or registration ID can move it (docs/security.md). */
static bool address_moves(nb_server *s, nb_coap_exchange *ex, reg *r, const nb_addr *peer,
                          const char *op, nb_time_ms now) {
  if (nb_addr_equal(&r->info.addr, peer)) return false;
  bool nosec = NB_SRV_IS_NOSEC(r) && s->cur_id->kind == NB_SERVER_ID_NONE;
  bool refused = nosec && s->cfg.nosec_pin_address;
  char from[NB_ADDR_STRLEN], to[NB_ADDR_STRLEN];
  NB_LOG_WARN(NB_SRV_LOG, "event=address_changed ep=%s op=%s from=%s to=%s identity_kind=%s%s",
              r->info.ep, op, nb_addr_format(&r->info.addr, from, sizeof(from)),
              nb_addr_format(peer, to, sizeof(to)), nb_server_id_kind_name(s->cur_id->kind),
              refused ? " refused=1" : "");
  s->stats.address_changes++;
  nb_addr old = r->info.addr;
  nb_server_event ev = {.type = NB_SEV_ADDRESS_CHANGED,
                        .reg = &r->info,
                        .old_addr = &old,
                        .new_addr = peer,
                        .operation = op,
                        .refused = refused,
                        .format = NB_COAP_CF_NONE,
                        .now = now};
  nb_srvi_emit(s, &ev);
  if (refused) {
    s->stats.rejected++;
    respond(ex, NB_COAP_FORBIDDEN, "registration is pinned to the address it registered from", now);
  }
  return refused;
}

/* The object list of a Register or Update (new_registration: a Register), and the formats its
 * root link advertises. */
static void take_links(reg *r, nb_server_reg_params *p, bool new_registration) {
  if (new_registration || (p->present & NB_REGP_LINKS))
    nb_srvi_fmt_reset(r, p->formats, p->format_count, new_registration);
  if (!(p->present & NB_REGP_LINKS)) return;
  free(r->links);
  r->links = p->links;
  r->info.links = p->links;
  r->info.links_len = p->links_len;
  p->links = NULL;
}

/* Whether the peer may register as ep: NB_OK, NB_ERR_PERM, or NB_ERR_IO when the store
 * could not say (refused too: fail closed, but as a failure of ours, not the device's). */
static nb_err may_use_ep(nb_server *s, const char *ep) {
  nb_server_sec_info sec;
  bool have = false;
  if (s->cfg.store.ops) {
    nb_err rc = s->cfg.store.ops->sec_get(s->cfg.store.self, ep, &sec);
    if (rc != NB_OK && rc != NB_ERR_NOT_FOUND) return NB_ERR_IO;
    have = rc == NB_OK;
  }
  bool ok = nb_server_identity_owns(s->cur_id, have ? &sec : NULL, s->cfg.allow_nosec);
  memset(&sec, 0, sizeof(sec)); /* the PSK is a secret */
  return ok ? NB_OK : NB_ERR_PERM;
}

/* The registration a Register makes, as the store keeps it, before anything in memory changes:
 * strings borrowed from p and the datagram's identity. */
static void register_info(nb_server *s, const nb_server_reg_params *p, const nb_addr *peer,
                          const char *id, nb_time_ms now, nb_server_reg_info *out) {
  memset(out, 0, sizeof(*out));
  out->ep = p->ep;
  snprintf(out->reg_id, sizeof(out->reg_id), "%s", id);
  memcpy(out->version, p->version, sizeof(out->version));
  memcpy(out->binding, p->binding, sizeof(out->binding));
  out->sms = p->sms;
  out->queue = p->queue;
  out->lifetime = p->lifetime;
  out->addr = *peer;
  out->identity.kind = s->cur_id->kind;
  out->identity.value = s->cur_id->value;
  out->registered_at = out->updated_at = nb_srvi_unix_ms(s, now);
  out->expires_at = out->updated_at + (int64_t)p->lifetime * 1000;
  out->links = (p->present & NB_REGP_LINKS) ? p->links : "";
  out->links_len = (p->present & NB_REGP_LINKS) ? p->links_len : 0;
  out->preferred_format = NB_COAP_CF_NONE;
}

/* A Register is stored before it is kept or acknowledged: one the store does not take is
 * refused 5.03 with Max-Age (RFC 7252 5.9.3.4: try again later) and nothing in memory changes,
 * so a device is never told it is registered when a restart would forget it. */
static bool register_unstored(nb_server *s, nb_coap_exchange *ex, const nb_server_reg_params *p,
                              const nb_addr *peer, const char *id, nb_time_ms now) {
  if (!s->cfg.store.ops) return false;
  nb_server_reg_info ni;
  register_info(s, p, peer, id, now, &ni);
  if (s->cfg.store.ops->reg_put(s->cfg.store.self, &ni) == NB_OK) return false;
  s->stats.rejected++;
  s->stats.store_refused++;
  NB_LOG_INFO(NB_SRV_LOG, "event=register_refused ep=%s reason=store_failed retry_after=%u", p->ep,
              s->cfg.store_retry_after);
  respond_opt(ex, NB_COAP_SERVICE_UNAVAILABLE, NB_COAP_OPT_MAX_AGE, s->cfg.store_retry_after,
              "the server cannot store registrations now", now);
  return true;
}

/* Memory ran short after the store took a Register: the store goes back to what memory holds
 * (the endpoint's earlier registration, or none). */
static void register_unstore(nb_server *s, const char *ep, reg *earlier) {
  if (!s->cfg.store.ops) return;
  if (earlier)
    nb_srvi_store_reg(s, earlier);
  else
    s->cfg.store.ops->reg_del(s->cfg.store.self, ep);
}

static void handle_register(nb_server *s, nb_coap_exchange *ex, const nb_addr *peer,
                            const nb_coap_msg *req, nb_time_ms now) {
  nb_server_reg_params p;
  nb_server_reg_error e = {NB_COAP_BAD_REQUEST, "bad request"};
  if (nb_server_reg_parse(req, true, &s->cfg.reg_limits, &p, &e) != NB_OK) {
    s->stats.rejected++;
    NB_LOG_INFO(NB_SRV_LOG, "event=register_rejected code=%u.%02u reason=\"%s\"",
                NB_COAP_CLASS(e.code), NB_COAP_DETAIL(e.code), e.reason);
    respond_parse_error(s, ex, &e, now);
    return;
  }
  if (lifetime_refused(s, ex, p.lifetime, now)) {
    nb_server_reg_params_deinit(&p);
    return;
  }
  nb_err may = may_use_ep(s, p.ep);
  if (may == NB_ERR_IO) {
    s->stats.rejected++;
    s->stats.store_refused++;
    NB_LOG_INFO(NB_SRV_LOG, "event=register_refused ep=%s reason=store_failed retry_after=%u", p.ep,
                s->cfg.store_retry_after);
    respond_opt(ex, NB_COAP_SERVICE_UNAVAILABLE, NB_COAP_OPT_MAX_AGE, s->cfg.store_retry_after,
                "the server cannot read its credentials now", now);
    nb_server_reg_params_deinit(&p);
    return;
  }
  if (may != NB_OK) {
    s->stats.rejected++;
    NB_LOG_WARN(NB_SRV_LOG, "event=register_forbidden ep=%s identity_kind=%s", p.ep,
                nb_server_id_kind_name(s->cur_id->kind));
    respond(ex, NB_COAP_FORBIDDEN, "identity does not own this endpoint name", now);
    nb_server_reg_params_deinit(&p);
    return;
  }
  reg *r = nb_srvi_find_ep(s, p.ep);
  if ((r && address_moves(s, ex, r, peer, "register", now)) || nosec_full(s, ex, r, now)) {
    nb_server_reg_params_deinit(&p);
    return;
  }
  bool replaced = r != NULL, was_nosec = r && NB_SRV_IS_NOSEC(r);
  char id[NB_SERVER_REGID_MAX];
  nb_server_reg_identity who = {s->cur_id->kind, s->cur_id->value};
  reg *fresh = NULL;
  if (new_reg_id(s, id) != NB_OK) {
    respond(ex, NB_COAP_INTERNAL_SERVER_ERROR, "out of resources", now);
    nb_server_reg_params_deinit(&p);
    return;
  }
  if (register_unstored(s, ex, &p, peer, id, now)) {
    nb_server_reg_params_deinit(&p);
    return;
  }
  if ((!r && !(r = fresh = nb_srvi_reg_new(s))) ||
      nb_srvi_reg_set_text(r, p.ep, &who, p.sms) != NB_OK) {
    if (fresh) nb_srvi_reg_free(s, fresh);
    register_unstore(s, p.ep, replaced ? r : NULL);
    respond(ex, NB_COAP_INTERNAL_SERVER_ERROR, "out of resources", now);
    nb_server_reg_params_deinit(&p);
    return;
  }
  if (replaced) {
    /* The device restarted: what it had with the old registration is gone. */
    if (was_nosec) s->nosec--;
    reg_abort_requests(s, r, true, now);
    if (s->cfg.store.ops) s->cfg.store.ops->obs_del_ep(s->cfg.store.self, r->info.ep);
    nb_coap_hmap_remove(&s->by_id, &r->n_id);
    nb_coap_hmap_remove(&s->by_addr, &r->n_addr);
    nb_coap_hmap_remove(&s->by_ep, &r->n_ep);
  }
  nb_server_reg_info *i = &r->info;
  snprintf(i->reg_id, sizeof(i->reg_id), "%s", id);
  memcpy(i->version, p.version, sizeof(i->version));
  memcpy(i->binding, p.binding, sizeof(i->binding));
  i->queue = p.queue;
  i->lifetime = p.lifetime;
  i->addr = *peer;
  if (NB_SRV_IS_NOSEC(r)) s->nosec++;
  i->registered_at = i->updated_at = nb_srvi_unix_ms(s, now);
  take_links(r, &p, true);
  nb_srvi_reg_index(s, r);
  reg_arm_expiry(s, r, now);
  r->awake = false;
  if (r->unsaved) { /* the store holds this registration now, not the one that failed */
    r->unsaved = false;
    s->unsaved--;
  }
  nb_server_reg_params_deinit(&p);

  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_ACK, NB_COAP_CREATED, 0);
  nb_coap_msg_add_string(&m, NB_COAP_OPT_LOCATION_PATH, "rd");
  nb_coap_msg_add_string(&m, NB_COAP_OPT_LOCATION_PATH, id);
  nb_coap_exchange_respond(ex, &m, now);
  s->stats.registrations++;
  NB_LOG_INFO(NB_SRV_LOG, "event=registered ep=%s id=%s lt=%u lwm2m=%s b=%s q=%d replaced=%d",
              i->ep, id, i->lifetime, i->version, i->binding, i->queue, replaced);
  nb_srvi_emit_reg(s, NB_SEV_REGISTRATION, r, replaced, now);
  nb_srvi_reg_heard(s, r, now);
}

/* Update and De-register must come from the identity that registered. */
static reg *reg_for_request(nb_server *s, nb_coap_exchange *ex, const char *id, nb_time_ms now) {
  reg *r = nb_srvi_find_id(s, id);
  if (!r) {
    respond(ex, NB_COAP_NOT_FOUND, "unknown registration", now);
    return NULL;
  }
  if (!nb_srvi_identity_equal(&r->info.identity, s->cur_id)) {
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
  if (nb_server_reg_parse(req, false, &s->cfg.reg_limits, &p, &e) != NB_OK) {
    respond_parse_error(s, ex, &e, now);
    return;
  }
  if (((p.present & NB_REGP_LT) && lifetime_refused(s, ex, p.lifetime, now)) ||
      address_moves(s, ex, r, peer, "update", now)) {
    nb_server_reg_params_deinit(&p);
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
  if ((p.present & NB_REGP_SMS) && strcmp(p.sms, i->sms) != 0 &&
      nb_srvi_reg_set_text(r, i->ep, &i->identity, p.sms) != NB_OK) {
    respond(ex, NB_COAP_INTERNAL_SERVER_ERROR, "out of resources", now);
    nb_server_reg_params_deinit(&p);
    return;
  }
  take_links(r, &p, false);
  nb_server_reg_params_deinit(&p);
  reg_set_addr(s, r, peer);
  i->updated_at = nb_srvi_unix_ms(s, now);
  reg_arm_expiry(s, r, now);
  nb_srvi_store_reg(s, r);
  respond(ex, NB_COAP_CHANGED, NULL, now);
  s->stats.updates++;
  NB_LOG_DEBUG(NB_SRV_LOG, "event=updated ep=%s id=%s", i->ep, i->reg_id);
  nb_srvi_emit_reg(s, NB_SEV_UPDATED, r, false, now);
  nb_srvi_reg_heard(s, r, now);
}

static void handle_deregister(nb_server *s, nb_coap_exchange *ex, const nb_addr *peer,
                              const char *id, nb_time_ms now) {
  reg *r = reg_for_request(s, ex, id, now);
  if (!r || address_moves(s, ex, r, peer, "deregister", now)) return;
  respond(ex, NB_COAP_DELETED, NULL, now);
  s->stats.deregistrations++;
  NB_LOG_INFO(NB_SRV_LOG, "event=deregistered ep=%s id=%s", r->info.ep, r->info.reg_id);
  nb_srvi_emit_reg(s, NB_SEV_DEREGISTRATION, r, false, now);
  nb_srvi_reg_remove(s, r, now);
}

/* Send (/dp, LwM2M 1.1 6.4.1): SenML records from a registered client. */
static void handle_send(nb_server *s, nb_coap_exchange *ex, const nb_addr *peer,
                        const nb_coap_msg *req, nb_time_ms now) {
  reg *r = nb_srvi_find_addr(s, peer);
  if (!r || !nb_srvi_identity_equal(&r->info.identity, s->cur_id)) {
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
    NB_LOG_WARN(NB_SRV_LOG, "event=secret-refused ep=%s op=send", r->info.ep);
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
    nb_srvi_emit(s, &ev);
  }
  nb_records_deinit(&recs);
  nb_times_deinit(&times);
}

/* What GET /.well-known/core lists (RFC 6690, RFC 7252 7.2): the registration interface, an RFC
 * 9176-style directory taking link-format, and the Send resource with the formats it takes. */
static const nb_coap_wk_link wellknown[] = {
    {"/rd", {{"rt", "core.rd", true}, {"ct", "40", false}}, 2},
    {"/dp", {{"ct", "112 110 11543 11542", true}}, 1},
};

/* A request to the resource set by nb_server_set_resource, with the registration its peer
 * holds (the address, and the DTLS identity that registered). False when it is not one. */
static bool own_resource(nb_server *s, nb_coap_exchange *ex, const nb_addr *peer,
                         const nb_coap_msg *req, nb_time_ms now) {
  const nb_coap_option *first = nb_coap_msg_find(req, NB_COAP_OPT_URI_PATH);
  size_t n = s->res_fn ? strlen(s->res_name) : 0;
  if (!n || !first || first->len != n || memcmp(first->value, s->res_name, n) != 0) return false;
  reg *r = nb_srvi_find_addr(s, peer);
  if (r && !nb_srvi_identity_equal(&r->info.identity, s->cur_id)) r = NULL;
  s->res_fn(s->res_user, ex, peer, req, r ? &r->info : NULL, now);
  return true;
}

void nb_srvi_on_request(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                        const nb_coap_msg *req, nb_time_ms now) {
  nb_server *s = user;
  char path[160];
  if (nb_coap_wk_is_request(req)) {
    nb_coap_wk_respond(ex, req, wellknown, sizeof wellknown / sizeof wellknown[0], now);
    return;
  }
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
      handle_deregister(s, ex, peer, path + 4, now);
    else
      respond(ex, NB_COAP_METHOD_NOT_ALLOWED, NULL, now);
  } else if (strcmp(path, "/dp") == 0) {
    if (req->code == NB_COAP_POST)
      handle_send(s, ex, peer, req, now);
    else
      respond(ex, NB_COAP_METHOD_NOT_ALLOWED, NULL, now);
  } else if (!own_resource(s, ex, peer, req, now)) {
    respond(ex, NB_COAP_NOT_FOUND, NULL, now);
  }
}

nb_err nb_server_set_resource(nb_server *s, const char *name, nb_server_resource_fn fn,
                              void *user) {
  if (!fn) {
    s->res_fn = NULL;
    return NB_OK;
  }
  if (!name || !name[0] || strlen(name) >= sizeof(s->res_name) || strcmp(name, "rd") == 0 ||
      strcmp(name, "dp") == 0 || strchr(name, '/'))
    return NB_ERR_INVAL;
  if (s->res_fn) return NB_ERR_BUSY;
  snprintf(s->res_name, sizeof(s->res_name), "%s", name);
  s->res_fn = fn;
  s->res_user = user;
  return NB_OK;
}
