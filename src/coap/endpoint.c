/* CoAP message layer: configuration, input dispatch, retransmission of CONs, NSTART queues,
 * timers. The client (ep_client.c) and server (ep_server.c) halves plug into it. */
#include "coap/endpoint.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "coap/ep_int.h"

/* RFC 7252 4.8.2 */
#define NB_COAP_MAX_LATENCY ((nb_time_ms)100000)
#define NB_COAP_OBSERVE_CON_INTERVAL ((nb_time_ms)24 * 3600 * 1000)

void nb_coap_ep_config_default(nb_coap_ep_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->ack_timeout = 2000;
  cfg->ack_random_factor = 1.5;
  cfg->max_retransmit = 4;
  cfg->nstart = 1;
  cfg->exchange_lifetime = 0;
  cfg->dedup_max = 4096;
  cfg->max_body = (size_t)1024 * 1024;
  cfg->block_szx = 6;
  cfg->max_message = 1152;
  cfg->random = nb_random_system;
  cfg->random_user = NULL;
  cfg->response_timeout = 0;
  cfg->non_lifetime = 0;
  cfg->observe_con_interval = NB_COAP_OBSERVE_CON_INTERVAL;
}

/* MAX_TRANSMIT_SPAN = ACK_TIMEOUT * (2^MAX_RETRANSMIT - 1) * ACK_RANDOM_FACTOR */
static nb_time_ms nb_coap_transmit_span(const nb_coap_ep_config *cfg) {
  double span =
      (double)cfg->ack_timeout * (double)((1u << cfg->max_retransmit) - 1) * cfg->ack_random_factor;
  return (nb_time_ms)span;
}

nb_time_ms nb_coap_epi_exchange_lifetime(const nb_coap_ep *ep) { return ep->cfg.exchange_lifetime; }

nb_time_ms nb_coap_exchange_lifetime(const nb_coap_ep_config *cfg) {
  if (cfg->exchange_lifetime > 0) return cfg->exchange_lifetime;
  return nb_coap_transmit_span(cfg) + 2 * NB_COAP_MAX_LATENCY + cfg->ack_timeout;
}

/* Fills in derived values and rejects settings the layer cannot honour. */
static nb_err nb_coap_config_check(nb_coap_ep_config *cfg) {
  if (cfg->ack_timeout <= 0 || cfg->ack_random_factor < 1.0 || cfg->max_retransmit > 20 ||
      cfg->nstart == 0 || cfg->block_szx > NB_COAP_BLOCK_MAX_SZX || cfg->max_message < 64 ||
      cfg->max_body == 0) {
    return NB_ERR_INVAL;
  }
  nb_time_ms span = nb_coap_transmit_span(cfg);
  if (cfg->exchange_lifetime <= 0) cfg->exchange_lifetime = nb_coap_exchange_lifetime(cfg);
  if (cfg->non_lifetime <= 0) cfg->non_lifetime = span + NB_COAP_MAX_LATENCY;
  if (cfg->response_timeout <= 0) cfg->response_timeout = cfg->exchange_lifetime;
  if (cfg->observe_con_interval <= 0) cfg->observe_con_interval = NB_COAP_OBSERVE_CON_INTERVAL;
  if (cfg->dedup_max == 0) cfg->dedup_max = 1;
  if (cfg->max_block1_bytes < cfg->max_body) {
    size_t floor = (size_t)16 * 1024 * 1024;
    cfg->max_block1_bytes = cfg->max_body > floor ? cfg->max_body : floor;
  }
  if (!cfg->random) cfg->random = nb_random_system;
  return NB_OK;
}

nb_err nb_coap_epi_random(nb_coap_ep *ep, void *buf, size_t len) {
  return ep->cfg.random(ep->cfg.random_user, buf, len);
}

static nb_err nb_coap_ep_init_maps(nb_coap_ep *ep) {
  nb_coap_hmap *maps[] = {&ep->peers,     &ep->xmits, &ep->tokens, &ep->creqs,
                          &ep->observers, &ep->b1s,   &ep->b2s,    &ep->mids};
  for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
    if (nb_coap_hmap_init(maps[i]) != NB_OK) return NB_ERR_NOMEM;
  }
  return NB_OK;
}

nb_err nb_coap_ep_new(const nb_coap_ep_config *cfg, nb_coap_send_fn send, void *send_user,
                      nb_coap_ep **out) {
  if (!send || !out) return NB_ERR_INVAL;
  nb_coap_ep *ep = calloc(1, sizeof *ep);
  if (!ep) return NB_ERR_NOMEM;
  if (cfg) {
    ep->cfg = *cfg;
  } else {
    nb_coap_ep_config_default(&ep->cfg);
  }
  nb_err err = nb_coap_config_check(&ep->cfg);
  ep->send = send;
  ep->send_user = send_user;
  ep->next_id = 1;
  nb_coap_timerheap_init(&ep->timers);
  nb_coap_list_init(&ep->exchanges);
  nb_coap_list_init(&ep->b1_lru);
  nb_coap_list_init(&ep->b2_lru);
  nb_coap_list_init(&ep->mid_lru);
  if (err == NB_OK) err = nb_coap_epi_random(ep, &ep->seed, sizeof ep->seed);
  if (err == NB_OK) err = nb_coap_epi_random(ep, &ep->mid_salt, sizeof ep->mid_salt);
  if (err == NB_OK) err = nb_coap_ep_init_maps(ep);
  if (err == NB_OK) {
    err = nb_coap_dedup_init(&ep->dedup, ep->seed, ep->cfg.dedup_max, ep->cfg.exchange_lifetime,
                             ep->cfg.non_lifetime);
  }
  if (err != NB_OK) {
    nb_coap_ep_free(ep);
    return err;
  }
  *out = ep;
  return NB_OK;
}

static void nb_coap_ep_free_xmits(nb_coap_ep *ep) {
  nb_coap_hnode *n;
  while ((n = nb_coap_hmap_pop(&ep->xmits)) != NULL) {
    nb_coap_xmit *x = (nb_coap_xmit *)n;
    free(x->data);
    free(x);
  }
  while ((n = nb_coap_hmap_pop(&ep->peers)) != NULL) free(n);
  while ((n = nb_coap_hmap_pop(&ep->mids)) != NULL) free(n);
}

void nb_coap_ep_free(nb_coap_ep *ep) {
  if (!ep) return;
  if (ep->creqs.buckets) nb_coap_epi_client_free_all(ep);
  if (ep->observers.buckets) nb_coap_epi_server_free_all(ep);
  if (ep->xmits.buckets) nb_coap_ep_free_xmits(ep);
  if (ep->dedup.map.buckets) nb_coap_dedup_deinit(&ep->dedup);
  nb_coap_hmap *maps[] = {&ep->peers,     &ep->xmits, &ep->tokens, &ep->creqs,
                          &ep->observers, &ep->b1s,   &ep->b2s,    &ep->mids};
  for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) nb_coap_hmap_deinit(maps[i]);
  nb_coap_timerheap_deinit(&ep->timers);
  free(ep);
}

void nb_coap_ep_set_handler(nb_coap_ep *ep, nb_coap_request_fn fn, void *user) {
  ep->handler = fn;
  ep->handler_user = user;
}

void nb_coap_ep_set_block1_stream(nb_coap_ep *ep, nb_coap_block1_stream_fn fn, void *user) {
  ep->block1_stream = fn;
  ep->block1_stream_user = user;
}

void nb_coap_ep_set_body_limit(nb_coap_ep *ep, nb_coap_body_limit_fn fn, void *user) {
  ep->body_limit = fn;
  ep->body_limit_user = user;
}

void nb_coap_ep_set_retransmit_hook(nb_coap_ep *ep, nb_coap_retransmit_fn fn, void *user) {
  ep->on_retransmit = fn;
  ep->retransmit_user = user;
}

void nb_coap_ep_get_stats(const nb_coap_ep *ep, nb_coap_ep_stats *out) {
  *out = ep->stats;
  out->mid_peers = ep->mids.count;
}

/* ---- sending ---- */

void nb_coap_epi_send(nb_coap_ep *ep, const nb_addr *peer, const uint8_t *data, size_t len) {
  ep->stats.tx++;
  ep->send(ep->send_user, peer, data, len);
}

nb_err nb_coap_epi_send_msg(nb_coap_ep *ep, const nb_addr *peer, const nb_coap_msg *msg,
                            uint8_t **copy, size_t *copy_len) {
  size_t cap = nb_coap_serialized_size(msg);
  uint8_t *buf = malloc(cap ? cap : 1);
  if (!buf) return NB_ERR_NOMEM;
  size_t len;
  nb_err err = nb_coap_serialize(msg, buf, cap, &len);
  if (err == NB_OK) nb_coap_epi_send(ep, peer, buf, len);
  if (err == NB_OK && copy) {
    *copy = buf;
    *copy_len = len;
    return NB_OK;
  }
  free(buf);
  return err;
}

void nb_coap_epi_send_empty(nb_coap_ep *ep, const nb_addr *peer, uint8_t type, uint16_t mid,
                            nb_coap_dedup_entry *cache) {
  uint8_t d[4] = {(uint8_t)(0x40 | (type << 4)), NB_COAP_EMPTY, (uint8_t)(mid >> 8), (uint8_t)mid};
  nb_coap_epi_send(ep, peer, d, sizeof d);
  if (cache) nb_coap_dedup_set_empty_reply(cache, d[0]);
}

bool nb_coap_epi_token_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* ---- outgoing messages tracked by (peer, MID) ---- */

struct nb_coap_mid_key {
  const nb_addr *peer;
  uint16_t mid;
};

static uint64_t nb_coap_mid_hash(const nb_coap_ep *ep, const nb_addr *peer, uint16_t mid) {
  return nb_coap_hash_addr_key(ep->seed + 1, peer, &mid, sizeof mid);
}

static bool nb_coap_xmit_eq(const nb_coap_hnode *node, const void *key) {
  const nb_coap_xmit *x = (const nb_coap_xmit *)node;
  const struct nb_coap_mid_key *k = key;
  return x->mid == k->mid && nb_addr_equal(&x->peer, k->peer);
}

static nb_coap_xmit *nb_coap_xmit_find(nb_coap_ep *ep, const nb_addr *peer, uint16_t mid) {
  struct nb_coap_mid_key k = {peer, mid};
  return (nb_coap_xmit *)nb_coap_hmap_find(&ep->xmits, nb_coap_mid_hash(ep, peer, mid),
                                           nb_coap_xmit_eq, &k);
}

/* ---- Message IDs, one counter per peer ---- */

static bool nb_coap_midctr_eq(const nb_coap_hnode *node, const void *key) {
  return nb_addr_equal(&((const nb_coap_midctr *)node)->addr, key);
}

static void nb_coap_midctr_free(nb_coap_ep *ep, nb_coap_midctr *c) {
  nb_coap_hmap_remove(&ep->mids, &c->node);
  nb_coap_list_unlink(&c->lru);
  free(c);
}

/* Counters unused for EXCHANGE_LIFETIME: the peer has forgotten every ID they gave it. */
static void nb_coap_mids_expire(nb_coap_ep *ep, nb_time_ms now) {
  while (!nb_coap_list_empty(&ep->mid_lru)) {
    nb_coap_midctr *c = NB_COAP_CONTAINER(ep->mid_lru.next, nb_coap_midctr, lru);
    if (now - c->last < ep->cfg.exchange_lifetime) return;
    nb_coap_midctr_free(ep, c);
  }
}

/* A new counter's start: a keyed hash of the peer and the counter's number under the
 * endpoint's random seed and salt. Unpredictable from outside like a fresh random value, but
 * needs no call to the random source per peer (so a seeded test's random stream, which also
 * drives its simulated network, stays what it was). */
static uint16_t nb_coap_mid_start(nb_coap_ep *ep, const nb_addr *peer) {
  uint64_t k =
      nb_coap_hash_bytes(ep->seed ^ 0x6d69642d63747273ull, &ep->mid_gen, sizeof ep->mid_gen);
  ep->mid_gen++;
  return (uint16_t)(nb_coap_hash_addr(k, peer) ^ ep->mid_salt);
}

/* The peer's counter, created with an unpredictable start; NULL when out of memory. */
static nb_coap_midctr *nb_coap_midctr_get(nb_coap_ep *ep, const nb_addr *peer) {
  uint64_t h = nb_coap_hash_addr(ep->seed, peer);
  nb_coap_midctr *c = (nb_coap_midctr *)nb_coap_hmap_find(&ep->mids, h, nb_coap_midctr_eq, peer);
  if (c) return c;
  c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->next = nb_coap_mid_start(ep, peer);
  c->addr = *peer;
  nb_coap_hmap_insert(&ep->mids, &c->node, h);
  nb_coap_list_push(&ep->mid_lru, &c->lru);
  return c;
}

/* Incrementing per peer from a random start (RFC 7252 4.4); skips IDs still tracked for
 * this peer. Without memory for a counter, a random ID: a repeat is then only unlikely. */
uint16_t nb_coap_epi_next_mid(nb_coap_ep *ep, const nb_addr *peer, nb_time_ms now) {
  nb_coap_mids_expire(ep, now);
  nb_coap_midctr *c = nb_coap_midctr_get(ep, peer);
  uint16_t mid = 0;
  for (int i = 0; i < 16; i++) {
    if (c) {
      mid = c->next++;
    } else {
      nb_coap_epi_random(ep, &mid, sizeof mid);
    }
    if (!nb_coap_xmit_find(ep, peer, mid)) break;
  }
  if (c) {
    c->last = now;
    nb_coap_list_unlink(&c->lru);
    nb_coap_list_push(&ep->mid_lru, &c->lru);
  }
  return mid;
}

/* ACK_TIMEOUT scaled by a random factor in [1, ACK_RANDOM_FACTOR). */
static nb_time_ms nb_coap_initial_timeout(nb_coap_ep *ep) {
  uint32_t r = 0;
  nb_coap_epi_random(ep, &r, sizeof r);
  double span = (double)ep->cfg.ack_timeout * (ep->cfg.ack_random_factor - 1.0);
  return ep->cfg.ack_timeout + (nb_time_ms)(span * ((double)r / 4294967296.0));
}

static nb_coap_peer *nb_coap_peer_find(nb_coap_ep *ep, const nb_addr *addr);
static nb_coap_peer *nb_coap_peer_get(nb_coap_ep *ep, const nb_addr *addr);
static void nb_coap_slot_release(nb_coap_ep *ep, const nb_addr *addr);
static void nb_coap_peer_maybe_free(nb_coap_ep *ep, nb_coap_peer *p);

nb_err nb_coap_epi_xmit_start(nb_coap_ep *ep, const nb_addr *peer, const nb_coap_msg *msg,
                              int owner_kind, void *owner, bool take_slot, nb_time_ms now,
                              nb_coap_xmit **out) {
  nb_coap_xmit *x = calloc(1, sizeof *x);
  if (!x) return NB_ERR_NOMEM;
  bool con = msg->type == NB_COAP_CON;
  nb_coap_peer *p = take_slot && con ? nb_coap_peer_get(ep, peer) : NULL;
  nb_err err = take_slot && con && !p ? NB_ERR_NOMEM : NB_OK;
  if (err == NB_OK && con) err = nb_coap_timerheap_reserve(&ep->timers);
  if (err == NB_OK) {
    err = nb_coap_epi_send_msg(ep, peer, msg, &x->data, &x->len);
    if (err != NB_OK && con) nb_coap_timerheap_unreserve(&ep->timers);
  }
  if (err != NB_OK) {
    free(x);
    if (p) nb_coap_peer_maybe_free(ep, p);
    return err;
  }
  x->peer = *peer;
  x->mid = msg->mid;
  x->type = msg->type;
  x->owner_kind = (uint8_t)owner_kind;
  x->owner = owner;
  x->timer.kind = NB_COAP_TK_XMIT;
  nb_coap_hmap_insert(&ep->xmits, &x->node, nb_coap_mid_hash(ep, peer, x->mid));
  if (p) {
    p->active++;
    x->holds_slot = true;
  }
  if (con) {
    x->timeout = nb_coap_initial_timeout(ep);
    nb_coap_timerheap_arm(&ep->timers, &x->timer, now + x->timeout);
  }
  *out = x;
  return NB_OK;
}

void nb_coap_epi_xmit_free(nb_coap_ep *ep, nb_coap_xmit *x) {
  if (!x) return;
  nb_coap_hmap_remove(&ep->xmits, &x->node);
  if (x->type == NB_COAP_CON) {
    nb_coap_timerheap_disarm(&ep->timers, &x->timer);
    nb_coap_timerheap_unreserve(&ep->timers);
  }
  bool slot = x->holds_slot;
  nb_addr peer = x->peer;
  free(x->data);
  free(x);
  if (slot) nb_coap_slot_release(ep, &peer);
}

static void nb_coap_xmit_timer(nb_coap_ep *ep, nb_coap_xmit *x, nb_time_ms now) {
  char a[NB_ADDR_STRLEN];
  if (x->retransmits < ep->cfg.max_retransmit) {
    x->retransmits++;
    x->timeout *= 2;
    ep->stats.retransmits++;
    NB_LOG_DEBUG(NB_COAP_LOG, "event=retransmit peer=%s mid=%u n=%u next_ms=%lld",
                 nb_addr_format(&x->peer, a, sizeof a), x->mid, x->retransmits,
                 (long long)x->timeout);
    if (ep->on_retransmit) {
      nb_coap_req_id id = x->owner_kind == NB_COAP_XO_CREQ ? ((nb_coap_creq *)x->owner)->id : 0;
      ep->on_retransmit(ep->retransmit_user, &x->peer, id, x->retransmits, x->timeout, now);
    }
    nb_coap_epi_send(ep, &x->peer, x->data, x->len);
    nb_coap_timerheap_arm(&ep->timers, &x->timer, now + x->timeout);
    return;
  }
  ep->stats.timeouts++;
  NB_LOG_DEBUG(NB_COAP_LOG, "event=give-up peer=%s mid=%u retransmits=%u",
               nb_addr_format(&x->peer, a, sizeof a), x->mid, x->retransmits);
  switch (x->owner_kind) {
    case NB_COAP_XO_CREQ:
      nb_coap_epi_creq_fail(ep, x->owner, NB_ERR_TIMEOUT, now);
      break;
    case NB_COAP_XO_NOTIF:
      nb_coap_epi_obs_gone(ep, x->owner, NB_ERR_TIMEOUT);
      break;
    default:
      nb_coap_epi_xmit_free(ep, x);
      break;
  }
}

/* ---- NSTART ---- */

static bool nb_coap_peer_eq(const nb_coap_hnode *node, const void *key) {
  return nb_addr_equal(&((const nb_coap_peer *)node)->addr, key);
}

static nb_coap_peer *nb_coap_peer_find(nb_coap_ep *ep, const nb_addr *addr) {
  return (nb_coap_peer *)nb_coap_hmap_find(&ep->peers, nb_coap_hash_addr(ep->seed, addr),
                                           nb_coap_peer_eq, addr);
}

static nb_coap_peer *nb_coap_peer_get(nb_coap_ep *ep, const nb_addr *addr) {
  nb_coap_peer *p = nb_coap_peer_find(ep, addr);
  if (p) return p;
  p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->addr = *addr;
  nb_coap_list_init(&p->queue);
  nb_coap_hmap_insert(&ep->peers, &p->node, nb_coap_hash_addr(ep->seed, addr));
  return p;
}

static void nb_coap_peer_maybe_free(nb_coap_ep *ep, nb_coap_peer *p) {
  if (p->active == 0 && nb_coap_list_empty(&p->queue) && !p->pumping) {
    nb_coap_hmap_remove(&ep->peers, &p->node);
    free(p);
  }
}

bool nb_coap_epi_slot_free(nb_coap_ep *ep, const nb_addr *peer) {
  nb_coap_peer *p = nb_coap_peer_find(ep, peer);
  return !p || (p->active < ep->cfg.nstart && nb_coap_list_empty(&p->queue));
}

nb_err nb_coap_epi_enqueue(nb_coap_ep *ep, nb_coap_creq *creq) {
  nb_coap_peer *p = nb_coap_peer_get(ep, &creq->peer);
  if (!p) return NB_ERR_NOMEM;
  nb_coap_list_push(&p->queue, &creq->qlink);
  creq->state = NB_COAP_CREQ_QUEUED;
  return NB_OK;
}

void nb_coap_epi_dequeue(nb_coap_ep *ep, nb_coap_creq *creq) {
  if (!nb_coap_linked(&creq->qlink)) return;
  nb_coap_list_unlink(&creq->qlink);
  nb_coap_peer *p = nb_coap_peer_find(ep, &creq->peer);
  if (p) nb_coap_peer_maybe_free(ep, p);
}

/* Frees a slot and starts queued requests while slots are free. */
static void nb_coap_slot_release(nb_coap_ep *ep, const nb_addr *addr) {
  nb_coap_peer *p = nb_coap_peer_find(ep, addr);
  if (!p) return;
  if (p->active > 0) p->active--;
  if (p->pumping) return;
  p->pumping = true;
  while (p->active < ep->cfg.nstart && !nb_coap_list_empty(&p->queue)) {
    nb_coap_link *l = p->queue.next;
    nb_coap_list_unlink(l);
    nb_coap_epi_creq_send_queued(ep, NB_COAP_CONTAINER(l, nb_coap_creq, qlink), ep->now);
  }
  p->pumping = false;
  nb_coap_peer_maybe_free(ep, p);
}

/* ---- helpers for the client and server halves ---- */

static bool nb_coap_option_in_key(uint16_t number) {
  switch (number) {
    case NB_COAP_OPT_BLOCK1:
    case NB_COAP_OPT_BLOCK2:
    case NB_COAP_OPT_SIZE1:
    case NB_COAP_OPT_SIZE2:
    case NB_COAP_OPT_OBSERVE:
      return false;
    default:
      return !nb_coap_option_is_nocachekey(number);
  }
}

nb_err nb_coap_epi_reqkey(const nb_coap_msg *req, uint8_t **key, size_t *len) {
  nb_bytes b;
  nb_bytes_init(&b);
  uint8_t code = req->code == NB_COAP_FETCH ? NB_COAP_GET : req->code;
  nb_err err = nb_bytes_append(&b, &code, 1);
  for (size_t i = 0; err == NB_OK && i < req->option_count; i++) {
    const nb_coap_option *o = &req->options[i];
    if (!nb_coap_option_in_key(o->number)) continue;
    uint8_t h[4] = {(uint8_t)(o->number >> 8), (uint8_t)o->number, (uint8_t)(o->len >> 8),
                    (uint8_t)o->len};
    err = nb_bytes_append(&b, h, sizeof h);
    if (err == NB_OK) err = nb_bytes_append(&b, o->value, o->len);
  }
  if (err != NB_OK) {
    nb_bytes_free(&b);
    return err;
  }
  *key = nb_bytes_steal(&b, len);
  return NB_OK;
}

uint8_t nb_coap_epi_szx(const nb_coap_ep *ep, size_t overhead) {
  size_t room = ep->cfg.max_message > overhead ? ep->cfg.max_message - overhead : 0;
  uint8_t fit = nb_coap_block_szx_fitting(room);
  return fit < ep->cfg.block_szx ? fit : ep->cfg.block_szx;
}

nb_err nb_coap_epi_save_head(const nb_coap_msg *msg, uint8_t **out, size_t *len) {
  nb_coap_msg head = *msg;
  head.token_len = 0;
  head.payload = NULL;
  head.payload_len = 0;
  size_t cap = nb_coap_serialized_size(&head);
  uint8_t *buf = malloc(cap);
  if (!buf) return NB_ERR_NOMEM;
  nb_err err = nb_coap_serialize(&head, buf, cap, len);
  if (err != NB_OK) {
    free(buf);
    return err;
  }
  *out = buf;
  return NB_OK;
}

/* ---- input ---- */

static void nb_coap_on_malformed(nb_coap_ep *ep, const nb_addr *peer, const uint8_t *data,
                                 size_t len, nb_err why) {
  char a[NB_ADDR_STRLEN];
  ep->stats.malformed++;
  /* RFC 7252 3: other versions are silently ignored; a CON we cannot parse is rejected. */
  bool con = len >= 4 && (data[0] >> 6) == 1 && ((data[0] >> 4) & 3) == NB_COAP_CON;
  NB_LOG_DEBUG(NB_COAP_LOG, "event=malformed peer=%s len=%zu err=%s reply=%s",
               nb_addr_format(peer, a, sizeof a), len, nb_err_name(why), con ? "rst" : "none");
  if (con) nb_coap_epi_send_empty(ep, peer, NB_COAP_RST, (uint16_t)(data[2] << 8 | data[3]), NULL);
}

static void nb_coap_on_ack(nb_coap_ep *ep, const nb_addr *peer, const nb_coap_msg *msg,
                           nb_time_ms now) {
  nb_coap_xmit *x = nb_coap_xmit_find(ep, peer, msg->mid);
  char a[NB_ADDR_STRLEN];
  if (!x || x->type != NB_COAP_CON) {
    NB_LOG_DEBUG(NB_COAP_LOG, "event=drop reason=unmatched-ack peer=%s mid=%u",
                 nb_addr_format(peer, a, sizeof a), msg->mid);
    return;
  }
  if (msg->code == NB_COAP_EMPTY) {
    switch (x->owner_kind) {
      case NB_COAP_XO_CREQ:
        nb_coap_epi_creq_acked(ep, x->owner, now);
        break;
      case NB_COAP_XO_NOTIF:
        nb_coap_epi_obs_acked(ep, x->owner);
        break;
      default:
        nb_coap_epi_xmit_free(ep, x);
        break;
    }
    return;
  }
  if (!nb_coap_is_response(msg->code) || x->owner_kind != NB_COAP_XO_CREQ) {
    ep->stats.malformed++;
    return;
  }
  nb_coap_creq *creq = x->owner;
  if (!nb_coap_epi_token_eq(msg->token, msg->token_len, creq->cur_token, creq->cur_token_len)) {
    NB_LOG_DEBUG(NB_COAP_LOG, "event=drop reason=ack-token-mismatch peer=%s mid=%u",
                 nb_addr_format(peer, a, sizeof a), msg->mid);
    return;
  }
  if (nb_coap_msg_check_options(msg, NULL) != NB_OK) {
    nb_coap_epi_creq_fail(ep, creq, NB_ERR_COAP_BAD_OPTION, now);
    return;
  }
  nb_coap_epi_creq_response(ep, creq, msg, now);
}

static void nb_coap_on_rst(nb_coap_ep *ep, const nb_addr *peer, const nb_coap_msg *msg,
                           nb_time_ms now) {
  nb_coap_xmit *x = msg->code == NB_COAP_EMPTY ? nb_coap_xmit_find(ep, peer, msg->mid) : NULL;
  char a[NB_ADDR_STRLEN];
  NB_LOG_DEBUG(NB_COAP_LOG, "event=rst peer=%s mid=%u matched=%d",
               nb_addr_format(peer, a, sizeof a), msg->mid, x != NULL);
  if (!x) return;
  ep->stats.resets++;
  switch (x->owner_kind) {
    case NB_COAP_XO_CREQ:
      nb_coap_epi_creq_fail(ep, x->owner, NB_ERR_RESET, now);
      break;
    case NB_COAP_XO_NOTIF:
      nb_coap_epi_obs_gone(ep, x->owner, NB_ERR_RESET);
      break;
    default:
      nb_coap_epi_xmit_free(ep, x);
      break;
  }
}

/* A separate response (CON or NON) to one of our requests, or a notification. */
static void nb_coap_on_response(nb_coap_ep *ep, const nb_addr *peer, const nb_coap_msg *msg,
                                nb_coap_dedup_entry *e, nb_time_ms now) {
  nb_coap_creq *creq = nb_coap_epi_creq_by_token(ep, peer, msg->token, msg->token_len);
  char a[NB_ADDR_STRLEN];
  if (!creq) {
    /* RFC 7252 5.3.2 / RFC 7641 3.6: unknown token, reject (ends a forgotten observation). */
    NB_LOG_DEBUG(NB_COAP_LOG, "event=rst reason=unknown-token peer=%s mid=%u",
                 nb_addr_format(peer, a, sizeof a), msg->mid);
    nb_coap_epi_send_empty(ep, peer, NB_COAP_RST, msg->mid, e);
    return;
  }
  if (nb_coap_msg_check_options(msg, NULL) != NB_OK) {
    if (msg->type == NB_COAP_CON) nb_coap_epi_send_empty(ep, peer, NB_COAP_RST, msg->mid, e);
    nb_coap_epi_creq_fail(ep, creq, NB_ERR_COAP_BAD_OPTION, now);
    return;
  }
  if (msg->type == NB_COAP_CON) nb_coap_epi_send_empty(ep, peer, NB_COAP_ACK, msg->mid, e);
  nb_coap_epi_creq_response(ep, creq, msg, now);
}

static void nb_coap_on_con_non(nb_coap_ep *ep, const nb_addr *peer, const nb_coap_msg *msg,
                               nb_time_ms now) {
  char a[NB_ADDR_STRLEN];
  if (msg->code == NB_COAP_EMPTY) {
    /* CoAP ping: a CON Empty is answered with RST; a NON Empty means nothing. */
    if (msg->type == NB_COAP_CON) nb_coap_epi_send_empty(ep, peer, NB_COAP_RST, msg->mid, NULL);
    return;
  }
  bool dup;
  nb_coap_dedup_entry *e = nb_coap_dedup_check(&ep->dedup, peer, msg->mid, msg->type, now, &dup);
  if (dup) {
    ep->stats.duplicates++;
    uint8_t buf[4];
    const uint8_t *reply;
    size_t reply_len;
    bool resend = msg->type == NB_COAP_CON && nb_coap_dedup_reply(e, buf, &reply, &reply_len);
    NB_LOG_DEBUG(NB_COAP_LOG, "event=duplicate peer=%s mid=%u type=%s reply=%s",
                 nb_addr_format(peer, a, sizeof a), msg->mid, nb_coap_type_name(msg->type),
                 resend ? "resent" : "none");
    if (resend) nb_coap_epi_send(ep, peer, reply, reply_len);
    return;
  }
  if (nb_coap_is_request(msg->code)) {
    nb_coap_epi_server_request(ep, peer, msg, e, now);
  } else {
    nb_coap_on_response(ep, peer, msg, e, now);
  }
}

void nb_coap_ep_receive(nb_coap_ep *ep, const nb_addr *peer, const uint8_t *data, size_t len,
                        nb_time_ms now) {
  nb_coap_msg msg;
  ep->now = now;
  ep->stats.rx++;
  nb_err err = nb_coap_parse(data, len, &msg);
  if (err != NB_OK) {
    nb_coap_on_malformed(ep, peer, data, len, err);
    return;
  }
  uint8_t cls = NB_COAP_CLASS(msg.code);
  if (cls == 1 || cls >= 6) {
    nb_coap_on_malformed(ep, peer, data, len, NB_ERR_COAP_CODE);
    return;
  }
  switch (msg.type) {
    case NB_COAP_ACK:
      nb_coap_on_ack(ep, peer, &msg, now);
      break;
    case NB_COAP_RST:
      nb_coap_on_rst(ep, peer, &msg, now);
      break;
    default:
      nb_coap_on_con_non(ep, peer, &msg, now);
      break;
  }
}

/* ---- time ---- */

void nb_coap_ep_tick(nb_coap_ep *ep, nb_time_ms now) {
  ep->now = now;
  nb_coap_dedup_expire(&ep->dedup, now);
  nb_coap_mids_expire(ep, now);
  nb_coap_timer *t;
  while ((t = nb_coap_timerheap_pop_due(&ep->timers, now)) != NULL) {
    switch (t->kind) {
      case NB_COAP_TK_XMIT:
        nb_coap_xmit_timer(ep, NB_COAP_CONTAINER(t, nb_coap_xmit, timer), now);
        break;
      case NB_COAP_TK_CREQ:
        nb_coap_epi_creq_timer(ep, NB_COAP_CONTAINER(t, nb_coap_creq, timer), now);
        break;
      case NB_COAP_TK_B1:
        nb_coap_epi_b1_expire(ep, NB_COAP_CONTAINER(t, nb_coap_b1, timer));
        break;
      case NB_COAP_TK_B2:
        nb_coap_epi_b2_expire(ep, NB_COAP_CONTAINER(t, nb_coap_b2, timer));
        break;
      default:
        break;
    }
  }
}

nb_time_ms nb_coap_ep_next_deadline(const nb_coap_ep *ep) {
  return nb_time_min(nb_coap_timerheap_next(&ep->timers), nb_coap_dedup_next(&ep->dedup));
}
