/* Server half of the CoAP endpoint: incoming requests (exchanges), piggybacked and separate
 * responses, Block1 reassembly, the Block2 response cache and observers (RFC 7641 server
 * side). Caches are keyed by (peer, request key) so follow-up blocks are served whatever
 * token the client uses. */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "coap/ep_int.h"

/* ---- (peer, request key) tables for Block1 reassembly and the Block2 cache ---- */

struct nb_coap_rk_key {
  const nb_addr *peer;
  const uint8_t *key;
  size_t len;
};

static uint64_t nb_coap_rk_hash(const nb_coap_ep *ep, const nb_addr *peer, const uint8_t *key,
                                size_t len) {
  return nb_coap_hash_addr_key(ep->seed + 4, peer, key, len);
}

static bool nb_coap_b1_eq(const nb_coap_hnode *node, const void *key) {
  const nb_coap_b1 *b = (const nb_coap_b1 *)node;
  const struct nb_coap_rk_key *k = key;
  return b->key_len == k->len && memcmp(b->key, k->key, k->len) == 0 &&
         nb_addr_equal(&b->peer, k->peer);
}

static bool nb_coap_b2_eq(const nb_coap_hnode *node, const void *key) {
  const nb_coap_b2 *b = (const nb_coap_b2 *)node;
  const struct nb_coap_rk_key *k = key;
  return b->key_len == k->len && memcmp(b->key, k->key, k->len) == 0 &&
         nb_addr_equal(&b->peer, k->peer);
}

/* Concurrent Block1 uploads and cached Block2 bodies; the least recently used goes first. */
static size_t nb_coap_b1_max(const nb_coap_ep *ep) {
  return ep->cfg.dedup_max / 16 > 8 ? ep->cfg.dedup_max / 16 : 8;
}
static size_t nb_coap_b2_max(const nb_coap_ep *ep) { return ep->cfg.dedup_max; }

static void nb_coap_b1_free(nb_coap_ep *ep, nb_coap_b1 *b) {
  nb_coap_hmap_remove(&ep->b1s, &b->node);
  nb_coap_list_unlink(&b->lru);
  nb_coap_timerheap_disarm(&ep->timers, &b->timer);
  nb_coap_timerheap_unreserve(&ep->timers);
  ep->b1_count--;
  ep->b1_bytes -= b->r.body.len;
  nb_coap_reasm_deinit(&b->r);
  free(b->key);
  free(b);
}

static void nb_coap_b2_free(nb_coap_ep *ep, nb_coap_b2 *b) {
  nb_coap_hmap_remove(&ep->b2s, &b->node);
  nb_coap_list_unlink(&b->lru);
  nb_coap_timerheap_disarm(&ep->timers, &b->timer);
  nb_coap_timerheap_unreserve(&ep->timers);
  ep->b2_count--;
  free(b->key);
  free(b->head);
  free(b->body);
  free(b);
}

void nb_coap_epi_b1_expire(nb_coap_ep *ep, nb_coap_b1 *b) {
  char a[NB_ADDR_STRLEN];
  NB_LOG_DEBUG(NB_COAP_LOG, "event=block1-expired peer=%s bytes=%zu",
               nb_addr_format(&b->peer, a, sizeof a), b->r.body.len);
  nb_coap_b1_free(ep, b);
}

void nb_coap_epi_b2_expire(nb_coap_ep *ep, nb_coap_b2 *b) { nb_coap_b2_free(ep, b); }

static nb_coap_b1 *nb_coap_b1_find(nb_coap_ep *ep, const nb_addr *peer, const uint8_t *key,
                                   size_t len) {
  struct nb_coap_rk_key k = {peer, key, len};
  return (nb_coap_b1 *)nb_coap_hmap_find(&ep->b1s, nb_coap_rk_hash(ep, peer, key, len),
                                         nb_coap_b1_eq, &k);
}

static nb_coap_b2 *nb_coap_b2_find(nb_coap_ep *ep, const nb_addr *peer, const uint8_t *key,
                                   size_t len) {
  struct nb_coap_rk_key k = {peer, key, len};
  return (nb_coap_b2 *)nb_coap_hmap_find(&ep->b2s, nb_coap_rk_hash(ep, peer, key, len),
                                         nb_coap_b2_eq, &k);
}

/* Keeps an entry alive for another EXCHANGE_LIFETIME after each use. */
static void nb_coap_touch(nb_coap_ep *ep, nb_coap_link *lru_head, nb_coap_link *lru,
                          nb_coap_timer *t, nb_time_ms now) {
  nb_coap_list_unlink(lru);
  nb_coap_list_push(lru_head, lru);
  nb_coap_timerheap_arm(&ep->timers, t, now + nb_coap_epi_exchange_lifetime(ep));
}

static nb_coap_b1 *nb_coap_b1_new(nb_coap_ep *ep, const nb_addr *peer, uint8_t *key, size_t len,
                                  size_t limit, nb_time_ms now) {
  if (ep->b1_count >= nb_coap_b1_max(ep) && !nb_coap_list_empty(&ep->b1_lru)) {
    nb_coap_b1_free(ep, NB_COAP_CONTAINER(ep->b1_lru.next, nb_coap_b1, lru));
  }
  nb_coap_b1 *b = calloc(1, sizeof *b);
  if (!b || nb_coap_timerheap_reserve(&ep->timers) != NB_OK) {
    free(b);
    return NULL;
  }
  b->peer = *peer;
  b->key = key;
  b->key_len = len;
  b->timer.kind = NB_COAP_TK_B1;
  nb_coap_reasm_init(&b->r, limit);
  nb_coap_hmap_insert(&ep->b1s, &b->node, nb_coap_rk_hash(ep, peer, key, len));
  ep->b1_count++;
  nb_coap_touch(ep, &ep->b1_lru, &b->lru, &b->timer, now); /* every entry expires */
  return b;
}

/* Stores a whole response body for block-wise serving; replaces an older one. */
static nb_coap_b2 *nb_coap_b2_put(nb_coap_ep *ep, const nb_addr *peer, const uint8_t *key,
                                  size_t key_len, const nb_coap_msg *head, nb_time_ms now) {
  nb_coap_b2 *old = nb_coap_b2_find(ep, peer, key, key_len);
  if (old) nb_coap_b2_free(ep, old);
  if (ep->b2_count >= nb_coap_b2_max(ep) && !nb_coap_list_empty(&ep->b2_lru)) {
    nb_coap_b2_free(ep, NB_COAP_CONTAINER(ep->b2_lru.next, nb_coap_b2, lru));
  }
  nb_coap_b2 *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->body_len = head->payload_len;
  b->key = malloc(key_len ? key_len : 1);
  b->body = malloc(b->body_len ? b->body_len : 1);
  nb_err err =
      b->key && b->body ? nb_coap_epi_save_head(head, &b->head, &b->head_len) : NB_ERR_NOMEM;
  if (err == NB_OK) err = nb_coap_timerheap_reserve(&ep->timers);
  if (err != NB_OK) {
    free(b->key);
    free(b->body);
    free(b->head);
    free(b);
    return NULL;
  }
  memcpy(b->key, key, key_len);
  b->key_len = key_len;
  if (b->body_len) memcpy(b->body, head->payload, b->body_len);
  b->peer = *peer;
  b->timer.kind = NB_COAP_TK_B2;
  /* Without an ETag from the application, one derived from the content lets clients notice
   * a representation that changed between blocks, and keeps it stable if it did not. */
  const nb_coap_option *et = nb_coap_msg_find(head, NB_COAP_OPT_ETAG);
  if (!et) {
    uint64_t h = nb_coap_hash_bytes(0, b->body, b->body_len);
    memcpy(b->etag, &h, sizeof h);
    b->etag_len = sizeof h;
  }
  nb_coap_hmap_insert(&ep->b2s, &b->node, nb_coap_rk_hash(ep, peer, key, key_len));
  ep->b2_count++;
  nb_coap_touch(ep, &ep->b2_lru, &b->lru, &b->timer, now);
  return b;
}

/* Block `want` of a cached body, at most `szx` large: fills m (which then points into b). */
static nb_err nb_coap_b2_build(const nb_coap_b2 *b, const nb_coap_block *want, uint8_t szx,
                               nb_coap_msg *m) {
  nb_err err = nb_coap_parse(b->head, b->head_len, m);
  if (err != NB_OK) return err;
  if (want->szx < szx) szx = want->szx;
  size_t offset = nb_coap_block_offset(want);
  size_t off, n;
  bool more;
  err = nb_coap_block_slice(b->body_len, (uint32_t)(offset / nb_coap_block_size(szx)), szx, &off,
                            &n, &more);
  if (err != NB_OK) return err;
  nb_coap_block blk = {(uint32_t)(off / nb_coap_block_size(szx)), more, szx};
  err = nb_coap_block_add(m, NB_COAP_OPT_BLOCK2, &blk);
  if (err == NB_OK && blk.num == 0) {
    err = nb_coap_msg_add_uint(m, NB_COAP_OPT_SIZE2, (uint32_t)b->body_len);
  }
  if (err == NB_OK && b->etag_len) {
    err = nb_coap_msg_add_option(m, NB_COAP_OPT_ETAG, b->etag, b->etag_len);
  }
  nb_coap_msg_set_payload(m, b->body + off, n);
  return err;
}

/* ---- sending responses ---- */

typedef struct {
  nb_addr peer;
  uint8_t req_type;
  uint16_t mid;
  uint8_t token_len;
  const uint8_t *token;
  bool acked;
  nb_coap_dedup_entry *dedup;
} nb_coap_reply_to;

/* Piggybacked in the ACK (and cached for duplicates), as a separate CON after an empty
 * ACK, or as a NON to a NON request. */
static nb_err nb_coap_send_response(nb_coap_ep *ep, const nb_coap_reply_to *to, nb_coap_msg *m,
                                    nb_time_ms now) {
  nb_err err = nb_coap_msg_set_token(m, to->token, to->token_len);
  if (err != NB_OK) return err;
  if (to->req_type == NB_COAP_CON && !to->acked) {
    uint8_t *copy;
    size_t len;
    m->type = NB_COAP_ACK;
    m->mid = to->mid;
    err = nb_coap_epi_send_msg(ep, &to->peer, m, &copy, &len);
    if (err != NB_OK) return err;
    if (to->dedup) nb_coap_dedup_set_reply(to->dedup, copy, len);
    free(copy);
    return NB_OK;
  }
  m->mid = nb_coap_epi_next_mid(ep, &to->peer, now);
  if (to->req_type == NB_COAP_CON) {
    nb_coap_xmit *x;
    m->type = NB_COAP_CON;
    return nb_coap_epi_xmit_start(ep, &to->peer, m, NB_COAP_XO_SEP, NULL, false, now, &x);
  }
  m->type = NB_COAP_NON;
  return nb_coap_epi_send_msg(ep, &to->peer, m, NULL, NULL);
}

/* An answer the layer gives by itself (4.02, 4.04, 4.08, 4.13, 2.31...). */
static void nb_coap_reply_code(nb_coap_ep *ep, const nb_coap_reply_to *to, uint8_t code,
                               uint16_t opt, const nb_coap_block *blk, uint32_t value,
                               nb_time_ms now) {
  nb_coap_msg m;
  char a[NB_ADDR_STRLEN], c[8];
  nb_coap_msg_init(&m, NB_COAP_ACK, code, 0);
  if (opt && blk) nb_coap_block_add(&m, opt, blk);
  if (opt && !blk) nb_coap_msg_add_uint(&m, opt, value);
  NB_LOG_DEBUG(NB_COAP_LOG, "event=reply peer=%s mid=%u code=%s",
               nb_addr_format(&to->peer, a, sizeof a), to->mid, nb_coap_code_format(code, c));
  nb_coap_send_response(ep, to, &m, now);
}

/* ---- observers ---- */

struct nb_coap_obs_key {
  const nb_addr *peer;
  const uint8_t *tok;
  size_t len;
};

static uint64_t nb_coap_obs_hash(const nb_coap_ep *ep, const nb_addr *peer, const uint8_t *tok,
                                 size_t len) {
  return nb_coap_hash_addr_key(ep->seed + 5, peer, tok, len);
}

static bool nb_coap_obs_eq(const nb_coap_hnode *node, const void *key) {
  const nb_coap_observer *o = NB_COAP_CONTAINER(node, nb_coap_observer, node);
  const struct nb_coap_obs_key *k = key;
  return nb_coap_epi_token_eq(o->token, o->token_len, k->tok, k->len) &&
         nb_addr_equal(&o->peer, k->peer);
}

static nb_coap_observer *nb_coap_obs_find(nb_coap_ep *ep, const nb_addr *peer, const uint8_t *tok,
                                          size_t len) {
  struct nb_coap_obs_key k = {peer, tok, len};
  nb_coap_hnode *n =
      nb_coap_hmap_find(&ep->observers, nb_coap_obs_hash(ep, peer, tok, len), nb_coap_obs_eq, &k);
  return n ? NB_COAP_CONTAINER(n, nb_coap_observer, node) : NULL;
}

/* Unlinks an observer from everything; the caller frees it. */
static void nb_coap_obs_detach(nb_coap_ep *ep, nb_coap_observer *obs) {
  obs->dying = true;
  nb_coap_hmap_remove(&ep->observers, &obs->node);
  nb_coap_xmit *x = obs->xmit;
  obs->xmit = NULL;
  nb_coap_epi_xmit_free(ep, x);
  if (obs->ex) obs->ex->obs = NULL;
  obs->ex = NULL;
}

static void nb_coap_obs_release(nb_coap_observer *obs) {
  free(obs->key);
  free(obs);
}

void nb_coap_epi_obs_gone(nb_coap_ep *ep, nb_coap_observer *obs, nb_err why) {
  char a[NB_ADDR_STRLEN];
  if (obs->dying) return;
  NB_LOG_DEBUG(NB_COAP_LOG, "event=observer-gone peer=%s why=%s",
               nb_addr_format(&obs->peer, a, sizeof a), nb_err_name(why));
  nb_coap_obs_detach(ep, obs);
  if (obs->gone) obs->gone(obs->user, obs, why);
  nb_coap_obs_release(obs);
}

void nb_coap_epi_obs_acked(nb_coap_ep *ep, nb_coap_observer *obs) {
  nb_coap_xmit *x = obs->xmit;
  obs->xmit = NULL;
  nb_coap_epi_xmit_free(ep, x);
}

void nb_coap_ep_observer_cancel(nb_coap_ep *ep, nb_coap_observer *obs) {
  if (!obs || obs->dying) return;
  nb_coap_obs_detach(ep, obs);
  nb_coap_obs_release(obs);
}

nb_err nb_coap_exchange_observe(nb_coap_exchange *ex, nb_coap_observer_gone_fn gone, void *user,
                                nb_coap_observer **out) {
  if (!ex || !out) return NB_ERR_INVAL;
  if (!ex->observe_req || ex->responded || ex->obs) return NB_ERR_STATE;
  nb_coap_ep *ep = ex->ep;
  nb_coap_observer *obs = calloc(1, sizeof *obs);
  if (!obs) return NB_ERR_NOMEM;
  obs->key = malloc(ex->key_len ? ex->key_len : 1);
  if (!obs->key) {
    free(obs);
    return NB_ERR_NOMEM;
  }
  memcpy(obs->key, ex->key, ex->key_len);
  obs->key_len = ex->key_len;
  /* RFC 7641 4.1: the same (client, token) replaces the earlier registration. */
  nb_coap_observer *old = nb_coap_obs_find(ep, &ex->peer, ex->token, ex->token_len);
  if (old) {
    obs->seq = nb_coap_observe_next(old->seq); /* newer than anything the client saw */
    nb_coap_epi_obs_gone(ep, old, NB_ERR_CANCELLED);
  }
  obs->ep = ep;
  obs->peer = ex->peer;
  obs->token_len = ex->token_len;
  memcpy(obs->token, ex->token, ex->token_len);
  obs->szx = ep->cfg.block_szx;
  if (ex->has_block2 && ex->block2.szx < obs->szx) obs->szx = ex->block2.szx;
  obs->gone = gone;
  obs->user = user;
  obs->ex = ex;
  ex->obs = obs;
  nb_coap_hmap_insert(&ep->observers, &obs->node,
                      nb_coap_obs_hash(ep, &obs->peer, obs->token, obs->token_len));
  *out = obs;
  return NB_OK;
}

/* ---- building a response (block-wise when large) ---- */

/* Bytes a response needs besides its payload, with room for the options the layer adds. */
static size_t nb_coap_resp_overhead(const nb_coap_msg *m) {
  /* token 8, Observe 4, Block1 4, Block2 4, Size2 5, ETag 9, marker 1, delta slack 6 */
  return nb_coap_serialized_size(m) - m->payload_len + 8 + 4 + 4 + 4 + 5 + 9 + 1 + 6;
}

static void nb_coap_strip_layer_options(nb_coap_msg *m) {
  nb_coap_msg_remove_option(m, NB_COAP_OPT_OBSERVE);
  nb_coap_msg_remove_option(m, NB_COAP_OPT_BLOCK1);
  nb_coap_msg_remove_option(m, NB_COAP_OPT_BLOCK2);
  nb_coap_msg_remove_option(m, NB_COAP_OPT_SIZE2);
}

/* Turns `m` into block `want` of itself (caching the whole body) when it is larger than a
 * block of `szx` or a later block was asked for; else leaves it whole. *out is what to send
 * (it may point into the cache entry). */
static nb_err nb_coap_maybe_blockwise(nb_coap_ep *ep, const nb_addr *peer, const uint8_t *key,
                                      size_t key_len, const nb_coap_msg *m, uint8_t szx,
                                      const nb_coap_block *want, nb_time_ms now, nb_coap_msg *out) {
  uint8_t fit = nb_coap_epi_szx(ep, nb_coap_resp_overhead(m));
  if (fit < szx) szx = fit;
  if (m->payload_len <= nb_coap_block_size(szx) && want->num == 0) {
    *out = *m;
    return NB_OK;
  }
  nb_coap_b2 *b = nb_coap_b2_put(ep, peer, key, key_len, m, now);
  if (!b) return NB_ERR_NOMEM;
  return nb_coap_b2_build(b, want, szx, out);
}

/* ---- exchanges ---- */

/* Unties ex from its observer; a registration that never got its 2.xx answer is no
 * observation, and its gone callback runs here. The callback may call back into ex
 * (nb_coap_exchange_free/respond, e.g. to let go of the pending exchange): in_handler makes
 * those calls only mark ex answered, so our caller still owns it and frees it once. */
static void nb_coap_ex_end_obs(nb_coap_exchange *ex) {
  nb_coap_observer *obs = ex->obs;
  if (!obs) return;
  ex->obs = NULL;
  obs->ex = NULL;
  if (obs->registered) return;
  bool in_handler = ex->in_handler;
  ex->in_handler = true;
  nb_coap_epi_obs_gone(ex->ep, obs, NB_ERR_CANCELLED);
  ex->in_handler = in_handler;
}

static void nb_coap_ex_free(nb_coap_exchange *ex) {
  ex->responded = true; /* a dropped exchange cannot be answered from a gone callback */
  nb_coap_ex_end_obs(ex);
  nb_coap_list_unlink(&ex->link);
  if (ex->dedup) ex->dedup->backref = NULL;
  free(ex->key);
  free(ex);
}

const nb_addr *nb_coap_exchange_peer(const nb_coap_exchange *ex) { return &ex->peer; }

void nb_coap_exchange_free(nb_coap_exchange *ex) {
  if (!ex) return;
  if (ex->in_handler) {
    ex->responded = true; /* dropped: no empty ACK, no answer */
    return;
  }
  nb_coap_ex_free(ex);
}

static nb_coap_reply_to nb_coap_ex_reply_to(const nb_coap_exchange *ex) {
  nb_coap_reply_to to = {ex->peer,  ex->req_type, ex->mid,  ex->token_len,
                         ex->token, ex->acked,    ex->dedup};
  return to;
}

/* Adds Observe (accepting or dropping a pending registration) and the Block1 echo. */
static nb_err nb_coap_ex_decorate(nb_coap_exchange *ex, nb_coap_msg *out, nb_time_ms now) {
  nb_err err = NB_OK;
  nb_coap_observer *obs = ex->obs;
  if (obs && NB_COAP_CLASS(out->code) == 2) {
    err = nb_coap_msg_add_uint(out, NB_COAP_OPT_OBSERVE, obs->seq);
    obs->registered = true;
    obs->last_con = now;
  }
  if (err == NB_OK && ex->has_block1) {
    nb_coap_block b1 = ex->block1;
    b1.more = out->code == NB_COAP_CONTINUE; /* a streamed upload's handler asks for more */
    err = nb_coap_block_add(out, NB_COAP_OPT_BLOCK1, &b1);
  }
  return err;
}

static nb_err nb_coap_ex_answer(nb_coap_exchange *ex, const nb_coap_msg *resp, nb_time_ms now) {
  nb_coap_ep *ep = ex->ep;
  nb_coap_msg m = *resp, out;
  if (ex->own_block2) { /* the application sliced it: sent as given, nothing cached */
    nb_coap_msg_remove_option(&m, NB_COAP_OPT_OBSERVE);
    nb_coap_msg_remove_option(&m, NB_COAP_OPT_BLOCK1);
    nb_coap_reply_to to = nb_coap_ex_reply_to(ex);
    nb_err err = nb_coap_ex_decorate(ex, &m, now);
    return err == NB_OK ? nb_coap_send_response(ep, &to, &m, now) : err;
  }
  nb_coap_strip_layer_options(&m);
  nb_coap_block want = {0, false, ep->cfg.block_szx};
  if (ex->has_block2) want = ex->block2;
  nb_err err =
      nb_coap_maybe_blockwise(ep, &ex->peer, ex->key, ex->key_len, &m, want.szx, &want, now, &out);
  nb_coap_reply_to to = nb_coap_ex_reply_to(ex);
  if (err == NB_ERR_RANGE) {
    nb_coap_reply_code(ep, &to, NB_COAP_BAD_OPTION, 0, NULL, 0, now);
    return err;
  }
  if (err == NB_OK) err = nb_coap_ex_decorate(ex, &out, now);
  if (err == NB_OK) err = nb_coap_send_response(ep, &to, &out, now);
  return err;
}

nb_err nb_coap_exchange_respond_block(nb_coap_exchange *ex, nb_coap_msg *resp, nb_time_ms now) {
  if (!ex) return NB_ERR_INVAL;
  ex->own_block2 = true;
  return nb_coap_exchange_respond(ex, resp, now);
}

nb_err nb_coap_exchange_respond(nb_coap_exchange *ex, nb_coap_msg *resp, nb_time_ms now) {
  if (!ex) return NB_ERR_INVAL;
  if (ex->responded) return NB_ERR_STATE;
  ex->ep->now = now;
  nb_err err =
      resp && nb_coap_is_response(resp->code) ? nb_coap_ex_answer(ex, resp, now) : NB_ERR_INVAL;
  ex->responded = true;
  if (ex->obs && !ex->obs->registered) nb_coap_ex_end_obs(ex);
  if (!ex->in_handler) nb_coap_ex_free(ex);
  return err;
}

/* ---- incoming requests ---- */

/* Uploads together hold at most max_block1_bytes: the least recently used ones other than
 * `keep` give way to n more bytes of it. */
static void nb_coap_b1_make_room(nb_coap_ep *ep, const nb_coap_b1 *keep, size_t n) {
  nb_coap_link *l = ep->b1_lru.next;
  while (ep->b1_bytes + n > ep->cfg.max_block1_bytes && l != &ep->b1_lru) {
    nb_coap_b1 *old = NB_COAP_CONTAINER(l, nb_coap_b1, lru);
    l = l->next;
    if (old != keep) nb_coap_b1_free(ep, old);
  }
}

/* Block1 (RFC 7959 2.5): collects blocks; answers 2.31 / 4.08 / 4.13 itself and returns
 * NULL, or returns the entry holding the whole body once the last block is in. */
static nb_coap_b1 *nb_coap_b1_receive(nb_coap_ep *ep, const nb_coap_reply_to *to,
                                      const nb_coap_msg *req, const nb_coap_block *blk,
                                      uint8_t *key, size_t key_len, size_t limit, nb_time_ms now) {
  nb_coap_b1 *b = nb_coap_b1_find(ep, &to->peer, key, key_len);
  if (blk->num == 0) {
    if (b) nb_coap_b1_free(ep, b);
    b = nb_coap_b1_new(ep, &to->peer, key, key_len, limit, now);
    if (!b) {
      free(key);
      nb_coap_reply_code(ep, to, NB_COAP_SERVICE_UNAVAILABLE, 0, NULL, 0, now);
      return NULL;
    }
  } else {
    free(key);
  }
  if (!b || nb_coap_block_offset(blk) != b->r.body.len) {
    nb_coap_reply_code(ep, to, NB_COAP_REQUEST_ENTITY_INCOMPLETE, 0, NULL, 0, now);
    return NULL;
  }
  nb_coap_b1_make_room(ep, b, req->payload_len);
  size_t before = b->r.body.len;
  nb_err err = nb_coap_reasm_add(&b->r, blk, req->payload, req->payload_len);
  ep->b1_bytes += b->r.body.len - before;
  if (err == NB_ERR_COAP_TOO_LARGE) {
    nb_coap_b1_free(ep, b);
    nb_coap_reply_code(ep, to, NB_COAP_REQUEST_ENTITY_TOO_LARGE, NB_COAP_OPT_SIZE1, NULL,
                       (uint32_t)limit, now);
    return NULL;
  }
  if (err != NB_OK) {
    if (blk->num == 0) nb_coap_b1_free(ep, b); /* a transfer that never started */
    nb_coap_reply_code(ep, to, NB_COAP_BAD_REQUEST, 0, NULL, 0, now);
    return NULL;
  }
  nb_coap_touch(ep, &ep->b1_lru, &b->lru, &b->timer, now);
  if (!blk->more) return b;
  /* 2.31; a smaller preferred size makes the client continue with smaller blocks. */
  uint8_t szx = blk->szx < ep->cfg.block_szx ? blk->szx : ep->cfg.block_szx;
  nb_coap_block ack = {(uint32_t)(nb_coap_block_offset(blk) / nb_coap_block_size(szx)), true, szx};
  nb_coap_reply_code(ep, to, NB_COAP_CONTINUE, NB_COAP_OPT_BLOCK1, &ack, 0, now);
  return NULL;
}

/* A follow-up Block2 request served from the cache; false when there is no cache entry. */
static bool nb_coap_b2_serve(nb_coap_ep *ep, const nb_coap_reply_to *to, const uint8_t *key,
                             size_t key_len, const nb_coap_block *want, nb_time_ms now) {
  nb_coap_b2 *b = nb_coap_b2_find(ep, &to->peer, key, key_len);
  if (!b) return false;
  nb_coap_msg m;
  nb_err err = nb_coap_b2_build(b, want, ep->cfg.block_szx, &m);
  if (err == NB_ERR_RANGE) {
    nb_coap_reply_code(ep, to, NB_COAP_BAD_OPTION, 0, NULL, 0, now);
    return true;
  }
  if (err == NB_OK) {
    nb_coap_touch(ep, &ep->b2_lru, &b->lru, &b->timer, now);
    err = nb_coap_send_response(ep, to, &m, now);
  }
  if (err != NB_OK) nb_coap_reply_code(ep, to, NB_COAP_INTERNAL_SERVER_ERROR, 0, NULL, 0, now);
  return true;
}

static void nb_coap_call_handler(nb_coap_ep *ep, nb_coap_exchange *ex, const nb_coap_msg *req,
                                 nb_time_ms now) {
  ex->in_handler = true;
  ep->handler(ep->handler_user, ex, &ex->peer, req, now);
  ex->in_handler = false;
  if (ex->responded) {
    nb_coap_ex_free(ex);
    return;
  }
  if (ex->req_type == NB_COAP_CON) {
    /* RFC 7252 5.2.2: acknowledge now, the answer follows as a separate CON. */
    nb_coap_epi_send_empty(ep, &ex->peer, NB_COAP_ACK, ex->mid, ex->dedup);
    ex->acked = true;
  }
}

static nb_coap_exchange *nb_coap_ex_new(nb_coap_ep *ep, const nb_coap_reply_to *to,
                                        const nb_coap_msg *req, uint8_t *key, size_t key_len) {
  nb_coap_exchange *ex = calloc(1, sizeof *ex);
  if (!ex) return NULL;
  ex->ep = ep;
  ex->peer = to->peer;
  ex->req_type = req->type;
  ex->req_code = req->code;
  ex->mid = req->mid;
  ex->token_len = req->token_len;
  memcpy(ex->token, req->token, req->token_len);
  ex->key = key;
  ex->key_len = key_len;
  ex->dedup = to->dedup;
  if (ex->dedup) ex->dedup->backref = &ex->dedup;
  uint32_t ov;
  ex->observe_req = (req->code == NB_COAP_GET || req->code == NB_COAP_FETCH) &&
                    nb_coap_msg_get_uint(req, NB_COAP_OPT_OBSERVE, &ov) == NB_OK &&
                    ov == NB_COAP_OBSERVE_REGISTER;
  ex->has_block2 = nb_coap_block_get(req, NB_COAP_OPT_BLOCK2, &ex->block2) == NB_OK;
  nb_coap_list_push(&ep->exchanges, &ex->link);
  return ex;
}

/* The body limit of req (nb_coap_ep_set_body_limit). */
static size_t nb_coap_body_limit(nb_coap_ep *ep, const nb_addr *peer, const nb_coap_msg *req) {
  size_t limit = ep->body_limit ? ep->body_limit(ep->body_limit_user, peer, req) : 0;
  return limit && limit < ep->cfg.max_body ? limit : ep->cfg.max_body;
}

/* Checks that need no state: bad options, sizes, deregistration. False when answered. */
static bool nb_coap_precheck(nb_coap_ep *ep, const nb_coap_reply_to *to, const nb_coap_msg *req,
                             size_t limit, nb_time_ms now) {
  uint16_t bad = 0;
  nb_coap_block blk;
  if (nb_coap_msg_check_options(req, &bad) != NB_OK ||
      nb_coap_block_get(req, NB_COAP_OPT_BLOCK1, &blk) == NB_ERR_COAP_BAD_OPTION ||
      nb_coap_block_get(req, NB_COAP_OPT_BLOCK2, &blk) == NB_ERR_COAP_BAD_OPTION) {
    char a[NB_ADDR_STRLEN];
    NB_LOG_DEBUG(NB_COAP_LOG, "event=bad-option peer=%s mid=%u option=%u",
                 nb_addr_format(&to->peer, a, sizeof a), req->mid, bad);
    nb_coap_reply_code(ep, to, NB_COAP_BAD_OPTION, 0, NULL, 0, now);
    return false;
  }
  uint32_t size1;
  bool big = nb_coap_msg_get_uint(req, NB_COAP_OPT_SIZE1, &size1) == NB_OK && size1 > limit;
  if (big || req->payload_len > limit) {
    nb_coap_reply_code(ep, to, NB_COAP_REQUEST_ENTITY_TOO_LARGE, NB_COAP_OPT_SIZE1, NULL,
                       (uint32_t)limit, now);
    return false;
  }
  uint32_t ov;
  if (nb_coap_msg_get_uint(req, NB_COAP_OPT_OBSERVE, &ov) == NB_OK &&
      ov == NB_COAP_OBSERVE_DEREGISTER) {
    nb_coap_observer *obs = nb_coap_obs_find(ep, &to->peer, req->token, req->token_len);
    if (obs) nb_coap_epi_obs_gone(ep, obs, NB_ERR_CANCELLED);
  }
  return true;
}

/* Runs the handler on the reassembled body of a Block1 upload. */
static void nb_coap_dispatch_block1(nb_coap_ep *ep, nb_coap_exchange *ex, const nb_coap_msg *req,
                                    nb_coap_b1 *b, const nb_coap_block *blk, nb_time_ms now) {
  nb_coap_msg full = *req;
  nb_coap_msg_remove_option(&full, NB_COAP_OPT_BLOCK1);
  nb_coap_msg_remove_option(&full, NB_COAP_OPT_SIZE1);
  nb_coap_msg_set_payload(&full, b->r.body.data, b->r.body.len);
  ex->has_block1 = true;
  ex->block1 = *blk;
  /* The body must outlive the handler call only: detach it from the table first so a
   * re-entrant request cannot free it underneath. */
  nb_coap_hmap_remove(&ep->b1s, &b->node);
  nb_coap_list_unlink(&b->lru);
  nb_coap_call_handler(ep, ex, &full, now);
  nb_coap_b1_free(ep, b); /* its table removals are no-ops now */
}

void nb_coap_epi_server_request(nb_coap_ep *ep, const nb_addr *peer, const nb_coap_msg *req,
                                nb_coap_dedup_entry *dedup, nb_time_ms now) {
  nb_coap_reply_to to = {*peer, req->type, req->mid, req->token_len, req->token, false, dedup};
  nb_coap_block b1, b2;
  bool stream = ep->block1_stream && nb_coap_block_get(req, NB_COAP_OPT_BLOCK1, &b1) == NB_OK &&
                ep->block1_stream(ep->block1_stream_user, peer, req);
  size_t limit = stream ? SIZE_MAX : nb_coap_body_limit(ep, peer, req);
  if (!nb_coap_precheck(ep, &to, req, limit, now)) return;
  uint8_t *key;
  size_t key_len;
  if (nb_coap_epi_reqkey(req, &key, &key_len) != NB_OK) {
    nb_coap_reply_code(ep, &to, NB_COAP_INTERNAL_SERVER_ERROR, 0, NULL, 0, now);
    return;
  }
  nb_coap_b1 *body = NULL;
  if (!stream && nb_coap_block_get(req, NB_COAP_OPT_BLOCK1, &b1) == NB_OK) {
    uint8_t *k1 = malloc(key_len);
    if (k1) memcpy(k1, key, key_len);
    body = k1 ? nb_coap_b1_receive(ep, &to, req, &b1, k1, key_len, limit, now) : NULL;
    if (!body) {
      if (!k1) nb_coap_reply_code(ep, &to, NB_COAP_INTERNAL_SERVER_ERROR, 0, NULL, 0, now);
      free(key);
      return;
    }
  } else if (nb_coap_block_get(req, NB_COAP_OPT_BLOCK2, &b2) == NB_OK && b2.num > 0) {
    bool served = nb_coap_b2_serve(ep, &to, key, key_len, &b2, now);
    if (served || (req->code != NB_COAP_GET && req->code != NB_COAP_FETCH)) {
      if (!served) nb_coap_reply_code(ep, &to, NB_COAP_REQUEST_ENTITY_INCOMPLETE, 0, NULL, 0, now);
      free(key);
      return;
    }
  }
  if (!ep->handler) {
    nb_coap_reply_code(ep, &to, NB_COAP_NOT_FOUND, 0, NULL, 0, now);
    free(key);
    if (body) nb_coap_b1_free(ep, body);
    return;
  }
  nb_coap_exchange *ex = nb_coap_ex_new(ep, &to, req, key, key_len);
  if (!ex) {
    free(key);
    if (body) nb_coap_b1_free(ep, body);
    nb_coap_reply_code(ep, &to, NB_COAP_INTERNAL_SERVER_ERROR, 0, NULL, 0, now);
    return;
  }
  if (body) {
    nb_coap_dispatch_block1(ep, ex, req, body, &b1, now);
  } else if (stream) {
    ex->has_block1 = true; /* the answer echoes this block */
    ex->block1 = b1;
    nb_coap_call_handler(ep, ex, req, now);
  } else {
    nb_coap_call_handler(ep, ex, req, now);
  }
}

/* ---- notifications ---- */

/* The new notification takes over the retransmission state of one still unacknowledged
 * (RFC 7641 4.5.2), so a fast-changing resource cannot restart the back-off forever. */
static void nb_coap_notify_inherit(nb_coap_ep *ep, nb_coap_xmit *x, const nb_coap_xmit *old) {
  if (!old || old->type != NB_COAP_CON || x->type != NB_COAP_CON) return;
  x->retransmits = old->retransmits;
  x->timeout = old->timeout;
  nb_coap_timerheap_arm(&ep->timers, &x->timer, old->timer.due);
}

nb_err nb_coap_ep_notify(nb_coap_ep *ep, nb_coap_observer *obs, nb_coap_msg *notification,
                         bool confirmable, nb_time_ms now) {
  if (!ep || !obs || obs->dying || !notification || !nb_coap_is_response(notification->code)) {
    return NB_ERR_INVAL;
  }
  if (!obs->registered) return NB_ERR_STATE;
  ep->now = now;
  bool ending = NB_COAP_CLASS(notification->code) != 2;
  bool con = confirmable || ending || now - obs->last_con >= ep->cfg.observe_con_interval ||
             (obs->xmit && obs->xmit->type == NB_COAP_CON);
  nb_coap_msg m = *notification, out;
  nb_coap_strip_layer_options(&m);
  nb_coap_block want = {0, false, obs->szx};
  nb_err err = nb_coap_maybe_blockwise(ep, &obs->peer, obs->key, obs->key_len, &m, obs->szx, &want,
                                       now, &out);
  uint32_t seq = nb_coap_observe_next(obs->seq);
  if (err == NB_OK && !ending) err = nb_coap_msg_add_uint(&out, NB_COAP_OPT_OBSERVE, seq);
  if (err == NB_OK) err = nb_coap_msg_set_token(&out, obs->token, obs->token_len);
  if (err != NB_OK) return err;
  out.type = con ? NB_COAP_CON : NB_COAP_NON;
  out.mid = nb_coap_epi_next_mid(ep, &obs->peer, now);
  nb_coap_xmit *x;
  err = nb_coap_epi_xmit_start(ep, &obs->peer, &out, ending ? NB_COAP_XO_SEP : NB_COAP_XO_NOTIF,
                               ending ? NULL : obs, false, now, &x);
  if (err != NB_OK) return err;
  obs->seq = seq;
  if (con) obs->last_con = now;
  if (ending) {
    /* RFC 7641 4.2: an error notification ends the observation. */
    nb_coap_ep_observer_cancel(ep, obs);
    return NB_OK;
  }
  nb_coap_xmit *old = obs->xmit;
  nb_coap_notify_inherit(ep, x, old);
  obs->xmit = x;
  nb_coap_epi_xmit_free(ep, old);
  return NB_OK;
}

void nb_coap_epi_server_free_all(nb_coap_ep *ep) {
  nb_coap_hnode *n;
  while ((n = nb_coap_hmap_pop(&ep->observers)) != NULL) {
    nb_coap_observer *obs = NB_COAP_CONTAINER(n, nb_coap_observer, node);
    if (obs->ex) obs->ex->obs = NULL;
    nb_coap_obs_release(obs);
  }
  nb_coap_link *l = ep->exchanges.next;
  while (l != &ep->exchanges) {
    nb_coap_exchange *ex = NB_COAP_CONTAINER(l, nb_coap_exchange, link);
    l = l->next;
    if (ex->dedup) ex->dedup->backref = NULL;
    free(ex->key);
    free(ex);
  }
  nb_coap_list_init(&ep->exchanges);
  while ((n = nb_coap_hmap_pop(&ep->b1s)) != NULL) {
    nb_coap_b1 *b = (nb_coap_b1 *)n;
    nb_coap_reasm_deinit(&b->r);
    free(b->key);
    free(b);
  }
  while ((n = nb_coap_hmap_pop(&ep->b2s)) != NULL) {
    nb_coap_b2 *b = (nb_coap_b2 *)n;
    free(b->key);
    free(b->head);
    free(b->body);
    free(b);
  }
}
