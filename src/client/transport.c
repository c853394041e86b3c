/* Client transports: one per server address (server accounts and the bootstrap server), plain
 * UDP for NoSec or a DTLS client session whose credentials come from the Security instance
 * (resource 2 mode, 3 identity or own certificate, 4 server key, 5 secret, 15 certificate
 * usage). A session is made on the first datagram out and made anew when it ended closed or
 * failed; a failure fails the request in flight at once. */
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "client_int.h"
#include "dtls/keys.h"

/* The Security instance (not necessarily of an account) whose URI resolves to addr. */
static bool nb_tr_security_for(nb_client *c, const nb_addr *addr, uint16_t *inst) {
  nb_object *sec = nb_client_object(c, 0);
  uint16_t ids[NB_CLIENT_MAX_SERVERS * 2];
  size_t n = sec->ops->instances(sec, ids, (size_t)NB_CLIENT_MAX_SERVERS * 2);
  for (size_t i = 0; i < n && i < (size_t)NB_CLIENT_MAX_SERVERS * 2; i++) {
    const char *uri = nb_store_object_get_str(sec, ids[i], 0);
    nb_addr a;
    if (!uri || nb_client_resolve_uri(c, uri, &a, NULL, 0) != NB_OK) continue;
    if (!nb_addr_equal(&a, addr)) continue;
    *inst = ids[i];
    return true;
  }
  return false;
}

static const nb_value *nb_tr_res(nb_client *c, uint16_t inst, uint16_t res) {
  nb_path p = nb_path_res(0, inst, res);
  const nb_value *v = nb_store_object_get(nb_client_object(c, 0), &p);
  if (!v || (v->type != NB_VT_OPAQUE && v->type != NB_VT_STRING) || v->v.bytes.len == 0)
    return NULL;
  return v;
}

/* SHA-256 over everything the credentials depend on, to notice a changed Security instance. */
static void nb_tr_digest(nb_client *c, uint16_t inst, uint8_t out[32]) {
  static const uint16_t res[] = {0, 2, 3, 4, 5, 15};
  nb_bytes b;
  nb_bytes_init(&b);
  for (size_t i = 0; i < sizeof res / sizeof res[0]; i++) {
    nb_path p = nb_path_res(0, inst, res[i]);
    const nb_value *v = nb_store_object_get(nb_client_object(c, 0), &p);
    uint8_t tag[3] = {(uint8_t)res[i], v ? (uint8_t)v->type : 0, 0};
    nb_bytes_append(&b, tag, sizeof tag);
    if (!v) continue;
    if (v->type == NB_VT_OPAQUE || v->type == NB_VT_STRING)
      nb_bytes_append(&b, v->v.bytes.data, v->v.bytes.len);
    else
      nb_bytes_append(&b, &v->v, sizeof v->v.i);
  }
  gnutls_hash_fast(GNUTLS_DIG_SHA256, b.data, b.len, out);
  gnutls_memset(b.data, 0, b.len);
  nb_bytes_free(&b);
}

static bool nb_tr_is_hex_id(const nb_value *v) {
  if (v->v.bytes.len != NB_DTLS_SECURE_ID_LEN) return false;
  for (size_t i = 0; i < v->v.bytes.len; i++)
    if (!strchr("0123456789abcdefABCDEF", v->v.bytes.data[i])) return false;
  return true;
}

/* RPK pinned by secure ID: the peer's key must hash to it. */
static nb_err nb_tr_verify_id(void *user, const nb_dtls_peer *peer, const uint8_t *raw,
                              size_t len) {
  nb_chan *ch = user;
  (void)raw;
  (void)len;
  return strcasecmp(peer->secure_id, ch->pin_id) == 0 ? NB_OK : NB_ERR_DTLS_PEER_REJECTED;
}

static nb_err nb_tr_server_key_rpk(nb_chan *ch, const nb_value *key) {
  if (nb_tr_is_hex_id(key)) {
    memcpy(ch->pin_id, key->v.bytes.data, NB_DTLS_SECURE_ID_LEN);
    ch->pin_id[NB_DTLS_SECURE_ID_LEN] = 0;
    nb_dtls_creds_set_verify(ch->creds, nb_tr_verify_id, ch);
    return NB_OK;
  }
  nb_bytes spki;
  nb_bytes_init(&spki);
  nb_err e = nb_dtls_spki_load(key->v.bytes.data, key->v.bytes.len, &spki);
  if (e == NB_OK) e = nb_dtls_creds_pin_rpk(ch->creds, spki.data, spki.len);
  nb_bytes_free(&spki);
  return e;
}

/* Credentials of a secure Security instance; NB_ERR_DTLS_CREDENTIALS when values are missing
 * (a server that cannot be authenticated is never talked to). */
static nb_err nb_tr_make_creds(nb_client *c, nb_chan *ch) {
  const nb_value *own = nb_tr_res(c, ch->sec_inst, 3), *srv = nb_tr_res(c, ch->sec_inst, 4),
                 *secret = nb_tr_res(c, ch->sec_inst, 5);
  if (!secret || (ch->mode != 1 && !own) || (ch->mode != 0 && !srv)) return NB_ERR_DTLS_CREDENTIALS;
  nb_err e = nb_dtls_creds_new(&ch->creds);
  if (e != NB_OK) return e;
  if (ch->mode == 0) {
    e = nb_dtls_creds_set_psk(ch->creds, (const char *)own->v.bytes.data, own->v.bytes.len,
                              secret->v.bytes.data, secret->v.bytes.len);
  } else if (ch->mode == 1) {
    e = nb_dtls_creds_set_rpk(ch->creds, secret->v.bytes.data, secret->v.bytes.len);
    if (e == NB_OK) e = nb_tr_server_key_rpk(ch, srv);
  } else {
    e = nb_dtls_creds_set_x509(ch->creds, own->v.bytes.data, own->v.bytes.len, secret->v.bytes.data,
                               secret->v.bytes.len);
    int64_t usage = nb_store_object_get_int(nb_client_object(c, 0), ch->sec_inst, 15, 3);
    char host[NB_ADDR_STRLEN];
    nb_addr tmp;
    const char *uri = nb_store_object_get_str(nb_client_object(c, 0), ch->sec_inst, 0);
    if (e == NB_OK && (usage == 0 || usage == 2)) {
      e = nb_dtls_creds_add_trust(ch->creds, srv->v.bytes.data, srv->v.bytes.len);
      /* A name (not an address literal) must match the certificate. */
      if (e == NB_OK && uri && nb_client_resolve_uri(c, uri, &tmp, host, sizeof host) == NB_OK &&
          nb_addr_parse(host[0] == '[' ? "[::]" : host, 1, &tmp) != NB_OK)
        e = nb_dtls_creds_set_peer_name(ch->creds, host);
    } else if (e == NB_OK) {
      e = nb_dtls_creds_pin_cert(ch->creds, srv->v.bytes.data, srv->v.bytes.len);
    }
  }
  if (e != NB_OK) {
    nb_dtls_creds_free(ch->creds);
    ch->creds = NULL;
  }
  return e;
}

static void nb_tr_chan_free(nb_chan *ch) {
  if (ch->s) nb_dtls_session_free(ch->s);
  nb_dtls_creds_free(ch->creds);
  free(ch);
}

/* The transport to addr, made from its Security instance when there is none yet; NULL when no
 * Security instance names addr (a plain peer) or all slots are taken. Out of memory it is
 * NULL with *drop set: nothing may go plain to a server that may be a secure one. */
static nb_chan *nb_tr_chan(nb_client *c, const nb_addr *addr, bool *drop) {
  *drop = false;
  for (size_t i = 0; i < c->nchans; i++)
    if (nb_addr_equal(&c->chans[i]->addr, addr)) return c->chans[i];
  uint16_t inst;
  if (c->nchans == NB_CLIENT_MAX_SERVERS + 1 || !nb_tr_security_for(c, addr, &inst)) return NULL;
  if (c->nchans == c->chans_cap) {
    nb_chan **chans = realloc(c->chans, (c->chans_cap + 1) * sizeof(nb_chan *));
    if (!chans) {
      *drop = true;
      return NULL;
    }
    c->chans = chans;
    c->chans_cap++;
  }
  nb_chan *ch = calloc(1, sizeof *ch);
  if (!ch) {
    *drop = true;
    return NULL;
  }
  c->chans[c->nchans++] = ch;
  ch->client = c;
  ch->addr = *addr;
  ch->sec_inst = inst;
  ch->lost_at = -1;
  ch->mode = (int)nb_store_object_get_int(nb_client_object(c, 0), inst, 2, 3);
  nb_tr_digest(c, inst, ch->digest);
  if (ch->mode < 0 || ch->mode > 3) ch->mode = 3; /* refused below: no usable credentials */
  if (ch->mode != 3) {
    nb_err e = nb_tr_make_creds(c, ch);
    if (e != NB_OK) {
      char a[NB_ADDR_STRLEN];
      NB_LOG_ERROR(NB_CLIENT_LOG, "event=dtls-credentials-unusable server=%s mode=%d err=%s",
                   nb_addr_format(addr, a, sizeof a), ch->mode, nb_err_name(e));
      ch->fail_err = e;
    }
  }
  return ch;
}

/* ---- session callbacks ---- */

static void nb_tr_dtls_send(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  nb_chan *ch = user;
  nb_obj_count(ch->client, true, len);
  nb_q_io(ch->client, peer);
  ch->client->cfg.send(ch->client->cfg.send_user, peer, data, len);
}

static void nb_tr_dtls_recv(void *user, const nb_addr *peer, const uint8_t *data, size_t len,
                            nb_time_ms now) {
  nb_chan *ch = user;
  nb_client *c = ch->client;
  ch->heard_at = now;
  if (c->cfg.trace) c->cfg.trace(c->cfg.trace_user, false, peer, data, len);
  nb_coap_ep_receive(c->ep, peer, data, len, now);
}

static void nb_tr_dtls_event(void *user, const nb_addr *peer, nb_dtls_session *s,
                             const nb_dtls_event *ev, nb_time_ms now) {
  nb_chan *ch = user;
  char a[NB_ADDR_STRLEN];
  nb_addr_format(peer, a, sizeof a);
  (void)now;
  if (ev->type == NB_DTLS_EV_ESTABLISHED) {
    NB_LOG_INFO(NB_CLIENT_LOG, "event=dtls-established server=%s suite=%s resumed=%d", a,
                nb_dtls_session_suite(s), ev->resumed);
    return;
  }
  NB_LOG_WARN(NB_CLIENT_LOG, "event=dtls-%s server=%s err=%s alert=%d",
              ev->type == NB_DTLS_EV_CLOSED ? "closed" : "failed", a, nb_err_name(ev->err),
              ev->alert);
  if (ev->type == NB_DTLS_EV_FAILED) {
    ch->failed = true;
    ch->fail_err = ev->err;
  }
}

/* Fails the requests that went to ch's server (outside any session call). */
static void nb_tr_abort(nb_client *c, nb_chan *ch, nb_time_ms now) {
  nb_err err = ch->fail_err ? ch->fail_err : NB_ERR_DTLS_HANDSHAKE;
  ch->failed = false;
  for (size_t i = 0; i < c->nacc; i++)
    if (nb_addr_equal(&c->acc[i]->addr, &ch->addr)) nb_reg_transport_failed(c, c->acc[i], err, now);
  if (c->bs_req && nb_addr_equal(&c->bs_addr, &ch->addr)) nb_bs_transport_failed(c, err, now);
}

static void nb_tr_run_aborts(nb_client *c, nb_time_ms now) {
  for (size_t i = 0; i < c->nchans; i++)
    if (c->chans[i]->failed) nb_tr_abort(c, c->chans[i], now);
}

static nb_err nb_tr_session(nb_client *c, nb_chan *ch) {
  if (ch->s) {
    nb_dtls_state st = nb_dtls_session_state(ch->s);
    if (st != NB_DTLS_CLOSED && st != NB_DTLS_FAILED) return NB_OK;
    nb_dtls_session_free(ch->s); /* deferred by the session when inside its own call */
    ch->s = NULL;
  }
  if (!ch->creds) return ch->fail_err ? ch->fail_err : NB_ERR_DTLS_CREDENTIALS;
  nb_dtls_handlers h = {nb_tr_dtls_send, nb_tr_dtls_recv, nb_tr_dtls_event, ch};
  /* The engine never resumes a session (a new one is a full handshake), so by default it does
   * not ask for a ticket the server would send and GnuTLS would keep for nothing. */
  nb_dtls_session_params dp;
  nb_dtls_session_params_default(&dp);
  dp.session_ticket = false;
  nb_err e =
      nb_dtls_client_new(ch->creds, c->cfg.dtls ? c->cfg.dtls : &dp, &h, &ch->addr, c->now, &ch->s);
  if (e == NB_OK) e = nb_dtls_client_connect(ch->s, c->now);
  return e;
}

void nb_tr_send(nb_client *c, const nb_addr *peer, const uint8_t *data, size_t len) {
  if (c->cfg.trace) c->cfg.trace(c->cfg.trace_user, true, peer, data, len);
  bool drop;
  nb_chan *ch = nb_tr_chan(c, peer, &drop);
  if (drop) return; /* out of memory: lost like a datagram on the way; CoAP retransmits */
  if (!ch || ch->mode == 3) {
    nb_obj_count(c, true, len);
    nb_q_io(c, peer);
    c->cfg.send(c->cfg.send_user, peer, data, len);
    return;
  }
  nb_err e = nb_tr_session(c, ch);
  if (e == NB_OK) e = nb_dtls_session_send(ch->s, data, len);
  if (e != NB_OK && !ch->failed) {
    char a[NB_ADDR_STRLEN];
    NB_LOG_WARN(NB_CLIENT_LOG, "event=dtls-send-failed server=%s err=%s",
                nb_addr_format(peer, a, sizeof a), nb_err_name(e));
    ch->failed = true; /* the request is failed once the caller's call returns */
    ch->fail_err = e;
  }
}

static nb_chan *nb_tr_find(const nb_client *c, const nb_addr *peer) {
  for (size_t i = 0; i < c->nchans; i++)
    if (nb_addr_equal(&c->chans[i]->addr, peer)) return c->chans[i];
  return NULL;
}

void nb_tr_renew(nb_client *c, const nb_addr *peer, const char *why, nb_time_ms now) {
  (void)now;
  nb_chan *ch = nb_tr_find(c, peer);
  if (!ch || !ch->s || nb_dtls_session_state(ch->s) != NB_DTLS_ESTABLISHED) return;
  char a[NB_ADDR_STRLEN];
  NB_LOG_INFO(NB_CLIENT_LOG, "event=dtls-renew server=%s reason=\"%s\"",
              nb_addr_format(peer, a, sizeof a), why);
  /* No close_notify: a server that kept the session replaces it when the new handshake from
   * this address completes (RFC 6347 4.2.8), and one that lost it would drop it. */
  nb_dtls_session_free(ch->s);
  ch->s = NULL;
}

bool nb_tr_silent_since(const nb_client *c, const nb_addr *peer, nb_time_ms t) {
  const nb_chan *ch = nb_tr_find(c, peer);
  return ch && ch->s && ch->heard_at < t;
}

/* The server says in the clear that it does not hold our session (it restarted: record.h).
 * The alert is not authenticated, so it is acted on once per NB_TR_LOST_MIN_MS at most: a
 * forger costs the device one handshake per interval, no more. The session is renewed and
 * every registration with this server updated over the new one at once (one in flight is
 * retransmitted over it), so the server hears the device within a round trip and a handshake
 * instead of at its next Update. */
#define NB_TR_LOST_MIN_MS 30000

static void nb_tr_lost(nb_client *c, nb_chan *ch, int desc, nb_time_ms now) {
  char a[NB_ADDR_STRLEN];
  nb_addr_format(&ch->addr, a, sizeof a);
  if (ch->lost_at >= 0 && now - ch->lost_at < NB_TR_LOST_MIN_MS) {
    NB_LOG_DEBUG(NB_CLIENT_LOG, "event=dtls-lost-alert-ignored server=%s alert=%s", a,
                 nb_dtls_alert_name(desc));
    return;
  }
  ch->lost_at = now;
  nb_tr_renew(c, &ch->addr, "the server does not hold the session (alert in the clear)", now);
  for (size_t i = 0; i < c->nacc; i++) {
    nb_account *acc = c->acc[i];
    if (nb_addr_equal(&acc->addr, &ch->addr) && acc->state == NB_CLIENT_SRV_REGISTERED)
      acc->update_pending = true;
  }
}

void nb_tr_receive(nb_client *c, const nb_addr *peer, const uint8_t *data, size_t len,
                   nb_time_ms now) {
  nb_obj_count(c, false, len);
  bool drop;
  nb_chan *ch = nb_tr_chan(c, peer, &drop);
  if (drop) return;
  if (!ch || ch->mode == 3) {
    if (c->cfg.trace) c->cfg.trace(c->cfg.trace_user, false, peer, data, len);
    nb_coap_ep_receive(c->ep, peer, data, len, now);
  } else if (ch->s) {
    int desc = -1;
    if (nb_dtls_session_state(ch->s) == NB_DTLS_ESTABLISHED &&
        nb_dtls_is_plain_fatal_alert(data, len, &desc)) {
      nb_tr_lost(c, ch, desc, now);
    } else {
      /* Never plaintext from a secure server; records of a dead session are dropped too. */
      nb_dtls_session_receive(ch->s, data, len, now);
    }
  }
  nb_tr_run_aborts(c, now);
}

/* Ends the transport to the bootstrap server once it can no longer need it: its session and
 * credentials are most of a secure client's memory (GnuTLS's), and a later bootstrap makes
 * them anew from the Security instance. Kept when it is also a server account's transport. */
static void nb_tr_release_bootstrap(nb_client *c, nb_time_ms now) {
  c->bs_release_at = 0;
  nb_addr bs = c->bs_addr; /* a server-initiated bootstrap did not set it */
  nb_bs_account(c, NULL, &bs);
  if (c->bs_state != NB_BS_NONE || nb_client_account_by_addr(c, &bs)) return;
  for (size_t i = 0; i < c->nchans; i++) {
    nb_chan *ch = c->chans[i];
    if (!nb_addr_equal(&ch->addr, &bs)) continue;
    if (ch->s && nb_dtls_session_state(ch->s) == NB_DTLS_ESTABLISHED)
      nb_dtls_session_close(ch->s, now);
    nb_tr_chan_free(ch);
    c->chans[i] = c->chans[--c->nchans];
    NB_LOG_INFO(NB_CLIENT_LOG, "event=bootstrap-transport-released");
    return;
  }
}

void nb_tr_bootstrap_done(nb_client *c, nb_time_ms now) {
  /* Until EXCHANGE_LIFETIME has passed the bootstrap server may still repeat its Finish (our
   * 2.04 lost), and a repeat may arrive that late (RFC 7252 4.8.2): it must get the answer
   * again, from the CoAP layer's duplicate cache, over the same session. */
  nb_coap_ep_config d;
  nb_coap_ep_config_default(&d);
  c->bs_release_at = now + nb_coap_exchange_lifetime(c->cfg.coap ? c->cfg.coap : &d) + 1;
}

void nb_tr_tick(nb_client *c, nb_time_ms now) {
  if (c->bs_release_at && c->bs_release_at <= now) nb_tr_release_bootstrap(c, now);
  for (size_t i = 0; i < c->nchans; i++)
    if (c->chans[i]->s && nb_dtls_session_next_deadline(c->chans[i]->s) <= now)
      nb_dtls_session_tick(c->chans[i]->s, now);
  nb_tr_run_aborts(c, now);
}

nb_time_ms nb_tr_deadline(const nb_client *c) {
  nb_time_ms t = c->bs_release_at ? c->bs_release_at : NB_TIME_NEVER;
  for (size_t i = 0; i < c->nchans; i++) {
    if (c->chans[i]->failed) return 0;
    if (c->chans[i]->s) t = nb_time_min(t, nb_dtls_session_next_deadline(c->chans[i]->s));
  }
  return t;
}

void nb_tr_sync(nb_client *c, nb_time_ms now) {
  size_t keep = 0;
  for (size_t i = 0; i < c->nchans; i++) {
    nb_chan *ch = c->chans[i];
    uint16_t inst;
    uint8_t d[32];
    bool same = nb_tr_security_for(c, &ch->addr, &inst);
    if (same) nb_tr_digest(c, inst, d);
    if (same && memcmp(d, ch->digest, sizeof d) == 0) {
      ch->sec_inst = inst;
      c->chans[keep++] = ch; /* on the heap: its session's handlers stay valid */
      continue;
    }
    if (ch->s) nb_dtls_session_close(ch->s, now);
    nb_tr_chan_free(ch);
  }
  c->nchans = keep;
}

void nb_tr_close_all(nb_client *c, nb_time_ms now) {
  for (size_t i = 0; i < c->nchans; i++)
    if (c->chans[i]->s && nb_dtls_session_state(c->chans[i]->s) == NB_DTLS_ESTABLISHED)
      nb_dtls_session_close(c->chans[i]->s, now);
}

void nb_tr_free_all(nb_client *c) {
  for (size_t i = 0; i < c->nchans; i++) nb_tr_chan_free(c->chans[i]);
  c->nchans = 0;
  free(c->chans);
  c->chans = NULL;
  c->chans_cap = 0;
}

const nb_dtls_peer *nb_tr_peer(nb_client *c, const nb_addr *peer) {
  for (size_t i = 0; i < c->nchans; i++) {
    nb_chan *ch = c->chans[i];
    if (!nb_addr_equal(&ch->addr, peer) || !ch->s) continue;
    if (nb_dtls_session_state(ch->s) != NB_DTLS_ESTABLISHED) return NULL;
    return nb_dtls_session_peer(ch->s);
  }
  return NULL;
}
