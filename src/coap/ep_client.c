/* Client half of the CoAP endpoint: requests we send, matched by token (and by MID when
 * piggybacked), Block1 uploads, Block2 downloads, observations (RFC 7641 client side).
 * Every follow-up message of a transfer gets a fresh token, so a late answer to an earlier
 * block can never be mistaken for the current one; an observation keeps its registration
 * token for notifications. */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "coap/ep_int.h"

/* Bounds on automatic retries so a misbehaving server cannot keep a request alive forever. */
#define NB_COAP_B1_RESTARTS 6
#define NB_COAP_B2_RESTARTS 3

/* ---- tables: token -> request, id -> request ---- */

struct nb_coap_tok_key {
  const nb_addr *peer;
  const uint8_t *tok;
  size_t len;
};

static uint64_t nb_coap_tok_hash(const nb_coap_ep *ep, const nb_addr *peer, const uint8_t *tok,
                                 size_t len) {
  return nb_coap_hash_addr_key(ep->seed + 2, peer, tok, len);
}

static bool nb_coap_tok_eq(const nb_coap_hnode *node, const void *key) {
  const nb_coap_tnode *t = (const nb_coap_tnode *)node;
  const struct nb_coap_tok_key *k = key;
  return nb_coap_epi_token_eq(t->token, t->len, k->tok, k->len) &&
         nb_addr_equal(&t->creq->peer, k->peer);
}

nb_coap_creq *nb_coap_epi_creq_by_token(nb_coap_ep *ep, const nb_addr *peer, const uint8_t *tok,
                                        size_t len) {
  struct nb_coap_tok_key k = {peer, tok, len};
  nb_coap_tnode *t = (nb_coap_tnode *)nb_coap_hmap_find(
      &ep->tokens, nb_coap_tok_hash(ep, peer, tok, len), nb_coap_tok_eq, &k);
  return t ? t->creq : NULL;
}

static void nb_coap_tnode_unlink(nb_coap_ep *ep, nb_coap_tnode *t) {
  if (!t->linked) return;
  nb_coap_hmap_remove(&ep->tokens, &t->node);
  t->linked = false;
}

static void nb_coap_tnode_link(nb_coap_ep *ep, nb_coap_creq *creq, nb_coap_tnode *t,
                               const uint8_t *tok, size_t len) {
  nb_coap_tnode_unlink(ep, t);
  t->creq = creq;
  t->len = (uint8_t)len;
  memcpy(t->token, tok, len);
  nb_coap_hmap_insert(&ep->tokens, &t->node, nb_coap_tok_hash(ep, &creq->peer, tok, len));
  t->linked = true;
}

/* NB_COAP_GEN_TOKEN_LEN CSPRNG bytes not in use towards this peer. */
static nb_err nb_coap_new_token(nb_coap_ep *ep, const nb_addr *peer, uint8_t *tok) {
  for (int i = 0; i < 8; i++) {
    nb_err err = nb_coap_epi_random(ep, tok, NB_COAP_GEN_TOKEN_LEN);
    if (err != NB_OK) return err;
    if (!nb_coap_epi_creq_by_token(ep, peer, tok, NB_COAP_GEN_TOKEN_LEN)) return NB_OK;
  }
  return NB_ERR_EXISTS;
}

static uint64_t nb_coap_id_hash(const nb_coap_ep *ep, nb_coap_req_id id) {
  return nb_coap_hash_bytes(ep->seed + 3, &id, sizeof id);
}

static bool nb_coap_id_eq(const nb_coap_hnode *node, const void *key) {
  return NB_COAP_CONTAINER(node, nb_coap_creq, id_node)->id == *(const nb_coap_req_id *)key;
}

/* ---- lifecycle ---- */

static void nb_coap_creq_release(nb_coap_creq *creq) {
  free(creq->tmpl_bytes);
  free(creq->body);
  free(creq->b2_head);
  nb_coap_reasm_deinit(&creq->b2);
  free(creq);
}

static void nb_coap_creq_free(nb_coap_ep *ep, nb_coap_creq *creq) {
  nb_coap_timerheap_unreserve(&ep->timers);
  nb_coap_creq_release(creq);
}

/* Stops whatever message is in flight: retransmission, NSTART slot or queue place,
 * response timer, its token. */
static void nb_coap_creq_end_message(nb_coap_ep *ep, nb_coap_creq *creq) {
  nb_coap_epi_dequeue(ep, creq);
  nb_coap_timerheap_disarm(&ep->timers, &creq->timer);
  nb_coap_tnode_unlink(ep, &creq->tn_cur);
  creq->state = NB_COAP_CREQ_IDLE;
  nb_coap_xmit *x = creq->xmit;
  creq->xmit = NULL;
  nb_coap_epi_xmit_free(ep, x); /* may start queued requests: keep it last */
}

/* First half of finishing: unreachable from every table, but memory still valid. */
static void nb_coap_creq_detach(nb_coap_ep *ep, nb_coap_creq *creq) {
  creq->finished = true;
  nb_coap_tnode_unlink(ep, &creq->tn_obs);
  nb_coap_hmap_remove(&ep->creqs, &creq->id_node); /* no-op when never inserted */
  nb_coap_creq_end_message(ep, creq);
}

/* Second half: the last callback, then free (unless an outer callback still runs). */
static void nb_coap_creq_conclude(nb_coap_ep *ep, nb_coap_creq *creq, nb_err err,
                                  const nb_coap_msg *msg, nb_time_ms now) {
  if (creq->cb) {
    creq->in_cb++;
    creq->cb(creq->user, err, msg, true, now);
    creq->in_cb--;
  }
  if (creq->in_cb == 0) nb_coap_creq_free(ep, creq);
}

static void nb_coap_creq_finish(nb_coap_ep *ep, nb_coap_creq *creq, nb_err err,
                                const nb_coap_msg *msg, nb_time_ms now) {
  if (creq->finished) return;
  nb_coap_creq_detach(ep, creq);
  nb_coap_creq_conclude(ep, creq, err, msg, now);
}

/* Hands a result to the caller; false when the request is gone afterwards. */
static bool nb_coap_creq_deliver(nb_coap_ep *ep, nb_coap_creq *creq, nb_err err,
                                 const nb_coap_msg *msg, bool last, nb_time_ms now) {
  if (last) {
    nb_coap_creq_finish(ep, creq, err, msg, now);
    return false;
  }
  if (creq->cb) {
    creq->in_cb++;
    creq->cb(creq->user, err, msg, false, now);
    creq->in_cb--;
  }
  if (!creq->finished) return true;
  if (creq->in_cb == 0) nb_coap_creq_free(ep, creq);
  return false;
}

void nb_coap_epi_creq_fail(nb_coap_ep *ep, nb_coap_creq *creq, nb_err err, nb_time_ms now) {
  char a[NB_ADDR_STRLEN];
  NB_LOG_DEBUG(NB_COAP_LOG, "event=request-failed peer=%s id=%llu err=%s",
               nb_addr_format(&creq->peer, a, sizeof a), (unsigned long long)creq->id,
               nb_err_name(err));
  nb_coap_creq_finish(ep, creq, err, NULL, now);
}

void nb_coap_epi_creq_timer(nb_coap_ep *ep, nb_coap_creq *creq, nb_time_ms now) {
  ep->stats.timeouts++;
  nb_coap_epi_creq_fail(ep, creq, NB_ERR_TIMEOUT, now);
}

/* ---- sending ---- */

static bool nb_coap_fetch_like(uint8_t code) {
  return code == NB_COAP_GET || code == NB_COAP_FETCH;
}

/* The request template (parsed at setup already, so it parses again). */
static nb_err nb_coap_creq_tmpl(const nb_coap_creq *creq, nb_coap_msg *m) {
  return nb_coap_parse(creq->tmpl_bytes, creq->tmpl_len, m);
}

/* The message for the current step: template options plus block options and payload. */
static nb_err nb_coap_creq_build(nb_coap_ep *ep, nb_coap_creq *creq, nb_coap_msg *m,
                                 nb_time_ms now) {
  nb_err terr = nb_coap_creq_tmpl(creq, m);
  if (terr != NB_OK) return terr;
  m->type = creq->confirmable ? NB_COAP_CON : NB_COAP_NON;
  m->mid = nb_coap_epi_next_mid(ep, &creq->peer, now);
  nb_err err = nb_coap_msg_set_token(m, creq->cur_token, creq->cur_token_len);
  if (creq->step == NB_COAP_STEP_BLOCK2) {
    nb_coap_msg_remove_option(m, NB_COAP_OPT_OBSERVE);
    nb_coap_block b2 = {creq->b2_num, false, creq->b2_szx};
    if (err == NB_OK) err = nb_coap_block_add(m, NB_COAP_OPT_BLOCK2, &b2);
    if (nb_coap_fetch_like(m->code) && !creq->block1) {
      nb_coap_msg_set_payload(m, creq->body, creq->body_len);
    }
    return err;
  }
  if (creq->block1) {
    size_t size = nb_coap_block_size(creq->b1_szx);
    size_t rest = creq->body_len - creq->b1_off;
    creq->b1_len = rest < size ? rest : size;
    nb_coap_block b1 = {(uint32_t)(creq->b1_off / size), rest > size, creq->b1_szx};
    if (err == NB_OK) err = nb_coap_block_add(m, NB_COAP_OPT_BLOCK1, &b1);
    if (err == NB_OK && b1.num == 0) {
      err = nb_coap_msg_add_uint(m, NB_COAP_OPT_SIZE1, (uint32_t)creq->body_len);
    }
    nb_coap_msg_set_payload(m, creq->body + creq->b1_off, creq->b1_len);
  } else {
    nb_coap_msg_set_payload(m, creq->body, creq->body_len);
  }
  /* Early negotiation (RFC 7959 2.4): ask for smaller blocks than the default 1024; a raw
   * Block2 request asks for its one block. */
  if (err == NB_OK && creq->step == NB_COAP_STEP_FIRST &&
      (creq->b2_raw || (creq->b2_szx < NB_COAP_BLOCK_MAX_SZX && nb_coap_fetch_like(m->code)))) {
    nb_coap_block b2 = {creq->b2_raw ? creq->b2_num : 0, false, creq->b2_szx};
    err = nb_coap_block_add(m, NB_COAP_OPT_BLOCK2, &b2);
  }
  return err;
}

/* Picks the token for the current step: the registration token for the first message of an
 * observation or the caller's token, a fresh one for every later message. */
static nb_err nb_coap_creq_pick_token(nb_coap_ep *ep, nb_coap_creq *creq) {
  if (creq->step == NB_COAP_STEP_FIRST && creq->first_token_len) {
    memcpy(creq->cur_token, creq->first_token, creq->first_token_len);
    creq->cur_token_len = creq->first_token_len;
    creq->first_token_len = 0; /* a restarted upload gets a fresh token */
    if (creq->observe) {
      nb_coap_tnode_link(ep, creq, &creq->tn_obs, creq->cur_token, creq->cur_token_len);
    } else {
      nb_coap_tnode_link(ep, creq, &creq->tn_cur, creq->cur_token, creq->cur_token_len);
    }
    return NB_OK;
  }
  nb_err err = nb_coap_new_token(ep, &creq->peer, creq->cur_token);
  if (err != NB_OK) return err;
  creq->cur_token_len = NB_COAP_GEN_TOKEN_LEN;
  nb_coap_tnode_link(ep, creq, &creq->tn_cur, creq->cur_token, creq->cur_token_len);
  return NB_OK;
}

static nb_err nb_coap_creq_transmit(nb_coap_ep *ep, nb_coap_creq *creq, nb_time_ms now) {
  nb_coap_msg m;
  nb_err err = nb_coap_creq_pick_token(ep, creq);
  if (err == NB_OK) err = nb_coap_creq_build(ep, creq, &m, now);
  if (err == NB_OK) {
    err = nb_coap_epi_xmit_start(ep, &creq->peer, &m, NB_COAP_XO_CREQ, creq, creq->confirmable, now,
                                 &creq->xmit);
  }
  if (err != NB_OK) {
    nb_coap_tnode_unlink(ep, &creq->tn_cur);
    return err;
  }
  creq->state = NB_COAP_CREQ_WAIT;
  if (!creq->confirmable) {
    nb_coap_timerheap_arm(&ep->timers, &creq->timer, now + ep->cfg.response_timeout);
  }
  return NB_OK;
}

/* Sends the current step now, or queues it behind NSTART. */
static nb_err nb_coap_creq_send(nb_coap_ep *ep, nb_coap_creq *creq, nb_time_ms now) {
  if (creq->confirmable && !nb_coap_epi_slot_free(ep, &creq->peer)) {
    return nb_coap_epi_enqueue(ep, creq);
  }
  return nb_coap_creq_transmit(ep, creq, now);
}

/* Sends the next step of an ongoing request; a failure ends the request. */
static void nb_coap_creq_continue(nb_coap_ep *ep, nb_coap_creq *creq, nb_time_ms now) {
  nb_err err = nb_coap_creq_send(ep, creq, now);
  if (err != NB_OK) nb_coap_creq_finish(ep, creq, err, NULL, now);
}

void nb_coap_epi_creq_send_queued(nb_coap_ep *ep, nb_coap_creq *creq, nb_time_ms now) {
  nb_err err = nb_coap_creq_transmit(ep, creq, now);
  if (err != NB_OK) nb_coap_creq_finish(ep, creq, err, NULL, now);
}

void nb_coap_epi_creq_acked(nb_coap_ep *ep, nb_coap_creq *creq, nb_time_ms now) {
  nb_coap_xmit *x = creq->xmit;
  creq->xmit = NULL;
  creq->state = NB_COAP_CREQ_SEPWAIT;
  nb_coap_timerheap_arm(&ep->timers, &creq->timer, now + ep->cfg.response_timeout);
  nb_coap_epi_xmit_free(ep, x);
}

/* ---- Block2 download ---- */

static void nb_coap_b2_too_large(nb_coap_ep *ep, nb_coap_creq *creq, nb_time_ms now) {
  nb_coap_reasm_reset(&creq->b2);
  nb_coap_creq_deliver(ep, creq, NB_ERR_COAP_TOO_LARGE, NULL, !creq->b2_notif || !creq->observe,
                       now);
}

static void nb_coap_b2_complete(nb_coap_ep *ep, nb_coap_creq *creq, nb_time_ms now) {
  nb_coap_msg m;
  if (nb_coap_parse(creq->b2_head, creq->b2_head_len, &m) != NB_OK) {
    nb_coap_creq_finish(ep, creq, NB_ERR_COAP_BLOCK, NULL, now);
    return;
  }
  nb_coap_msg_remove_option(&m, NB_COAP_OPT_BLOCK2);
  nb_coap_msg_set_payload(&m, creq->b2.body.data, creq->b2.body.len);
  bool last = !creq->b2_notif || !creq->observe;
  if (nb_coap_creq_deliver(ep, creq, NB_OK, &m, last, now)) nb_coap_reasm_reset(&creq->b2);
}

static bool nb_coap_etag_matches(const nb_coap_creq *creq, const nb_coap_msg *msg) {
  const nb_coap_option *o = nb_coap_msg_find(msg, NB_COAP_OPT_ETAG);
  if (!o) return creq->etag_len == 0;
  return nb_coap_epi_token_eq(o->value, o->len, creq->etag, creq->etag_len);
}

/* Starts over from block 0 when the representation changed under us (new ETag). */
static void nb_coap_b2_restart(nb_coap_ep *ep, nb_coap_creq *creq, nb_time_ms now) {
  if (creq->b2_restarts++ >= NB_COAP_B2_RESTARTS) {
    nb_coap_creq_finish(ep, creq, NB_ERR_COAP_BLOCK, NULL, now);
    return;
  }
  nb_coap_reasm_reset(&creq->b2);
  creq->b2_num = 0;
  creq->step = NB_COAP_STEP_BLOCK2;
  nb_coap_creq_continue(ep, creq, now);
}

/* Remembers block 0's options (delivered with the whole body) and its ETag. */
static nb_err nb_coap_b2_first(nb_coap_creq *creq, const nb_coap_msg *msg) {
  free(creq->b2_head);
  creq->b2_head = NULL;
  nb_err err = nb_coap_epi_save_head(msg, &creq->b2_head, &creq->b2_head_len);
  if (err != NB_OK) return err;
  const nb_coap_option *o = nb_coap_msg_find(msg, NB_COAP_OPT_ETAG);
  creq->etag_len = o && o->len <= sizeof creq->etag ? (uint8_t)o->len : 0;
  if (creq->etag_len) memcpy(creq->etag, o->value, creq->etag_len);
  nb_coap_reasm_reset(&creq->b2);
  uint32_t size2;
  if (nb_coap_msg_get_uint(msg, NB_COAP_OPT_SIZE2, &size2) == NB_OK && size2 > creq->b2.limit) {
    return NB_ERR_COAP_TOO_LARGE;
  }
  return NB_OK;
}

static void nb_coap_b2_accept(nb_coap_ep *ep, nb_coap_creq *creq, const nb_coap_msg *msg,
                              const nb_coap_block *blk, nb_time_ms now) {
  nb_err err = NB_OK;
  if (blk->num == 0) {
    err = nb_coap_b2_first(creq, msg);
  } else if (!nb_coap_etag_matches(creq, msg)) {
    nb_coap_b2_restart(ep, creq, now);
    return;
  }
  if (err == NB_OK) err = nb_coap_reasm_add(&creq->b2, blk, msg->payload, msg->payload_len);
  if (err == NB_ERR_COAP_TOO_LARGE) {
    nb_coap_b2_too_large(ep, creq, now);
    return;
  }
  if (err != NB_OK) {
    nb_coap_creq_finish(ep, creq, err, NULL, now);
    return;
  }
  if (!blk->more) {
    nb_coap_b2_complete(ep, creq, now);
    return;
  }
  if (blk->szx < creq->b2_szx) creq->b2_szx = blk->szx;
  creq->b2_num = (uint32_t)(creq->b2.body.len >> (creq->b2_szx + 4));
  creq->step = NB_COAP_STEP_BLOCK2;
  nb_coap_creq_continue(ep, creq, now);
}

static void nb_coap_b2_begin(nb_coap_ep *ep, nb_coap_creq *creq, const nb_coap_msg *msg,
                             const nb_coap_block *blk, bool notif, nb_time_ms now) {
  creq->b2_notif = notif;
  creq->b2_restarts = 0;
  if (blk->num != 0) {
    nb_coap_creq_finish(ep, creq, NB_ERR_COAP_BLOCK, NULL, now);
    return;
  }
  nb_coap_b2_accept(ep, creq, msg, blk, now);
}

/* Answer to a Block2 follow-up request. */
static void nb_coap_b2_response(nb_coap_ep *ep, nb_coap_creq *creq, const nb_coap_msg *msg,
                                nb_time_ms now) {
  bool last = !creq->b2_notif || !creq->observe;
  nb_coap_block blk;
  if (NB_COAP_CLASS(msg->code) != 2 || nb_coap_block_get(msg, NB_COAP_OPT_BLOCK2, &blk) != NB_OK) {
    /* An error, or a server that ignored Block2 and sent everything: that is the answer. */
    nb_coap_reasm_reset(&creq->b2);
    nb_coap_creq_deliver(ep, creq, NB_OK, msg, last, now);
    return;
  }
  nb_coap_b2_accept(ep, creq, msg, &blk, now);
}

/* ---- responses ---- */

/* A response that ends this request (or its observation), fetching the rest if Block2. */
static void nb_coap_creq_final(nb_coap_ep *ep, nb_coap_creq *creq, const nb_coap_msg *msg,
                               nb_time_ms now) {
  nb_coap_block blk;
  if (creq->cb && !creq->b2_raw && NB_COAP_CLASS(msg->code) == 2 &&
      nb_coap_block_get(msg, NB_COAP_OPT_BLOCK2, &blk) == NB_OK && (blk.more || blk.num > 0)) {
    nb_coap_b2_begin(ep, creq, msg, &blk, false, now);
    return;
  }
  nb_coap_creq_deliver(ep, creq, NB_OK, msg, true, now);
}

/* Answer to a Block1 request; true when it was consumed here (2.31, or 4.13 asking for a
 * smaller block size, RFC 7959 2.9.3). */
static bool nb_coap_b1_response(nb_coap_ep *ep, nb_coap_creq *creq, const nb_coap_msg *msg,
                                nb_time_ms now) {
  if (creq->caller_block1) return false; /* 2.31 and 4.13 are the caller's to act on */
  nb_coap_block b;
  bool has = nb_coap_block_get(msg, NB_COAP_OPT_BLOCK1, &b) == NB_OK;
  if (msg->code == NB_COAP_CONTINUE && creq->block1) {
    size_t size = nb_coap_block_size(creq->b1_szx);
    size_t acked = creq->b1_off + creq->b1_len;
    /* The server echoes our NUM, or states the same offset in its own smaller SZX. */
    bool same = has && (b.num == creq->b1_off / size ||
                        (size_t)b.num * nb_coap_block_size(b.szx) == creq->b1_off);
    if (!same || acked >= creq->body_len) {
      nb_coap_creq_finish(ep, creq, NB_ERR_COAP_BLOCK, NULL, now);
      return true;
    }
    if (b.szx < creq->b1_szx) creq->b1_szx = b.szx; /* offset stays a multiple */
    creq->b1_off = acked;
    creq->step = NB_COAP_STEP_BLOCK1;
    nb_coap_creq_continue(ep, creq, now);
    return true;
  }
  uint8_t cur = creq->block1 ? creq->b1_szx : NB_COAP_BLOCK_MAX_SZX + 1;
  if (msg->code == NB_COAP_REQUEST_ENTITY_TOO_LARGE && has && b.szx < cur &&
      creq->body_len > nb_coap_block_size(b.szx) && creq->b1_restarts < NB_COAP_B1_RESTARTS) {
    creq->b1_restarts++;
    creq->block1 = true;
    creq->b1_szx = b.szx;
    creq->b1_off = 0;
    creq->step = NB_COAP_STEP_FIRST;
    nb_coap_creq_continue(ep, creq, now);
    return true;
  }
  return false;
}

/* A response with the observation's token: registration answer or notification. */
static void nb_coap_creq_notification(nb_coap_ep *ep, nb_coap_creq *creq, const nb_coap_msg *msg,
                                      bool current, nb_time_ms now) {
  uint32_t seq;
  char a[NB_ADDR_STRLEN];
  bool has = NB_COAP_CLASS(msg->code) == 2 &&
             nb_coap_msg_get_uint(msg, NB_COAP_OPT_OBSERVE, &seq) == NB_OK;
  if (!has) {
    /* RFC 7641 3.2/4.2: no Observe (or an error) ends the observation. */
    nb_coap_creq_end_message(ep, creq);
    creq->observe = false;
    nb_coap_creq_final(ep, creq, msg, now);
    return;
  }
  if (!nb_coap_observe_accept(&creq->obs, seq, now)) {
    NB_LOG_DEBUG(NB_COAP_LOG, "event=drop reason=stale-notification peer=%s seq=%u last=%u",
                 nb_addr_format(&creq->peer, a, sizeof a), seq, creq->obs.seq);
    if (current) nb_coap_creq_end_message(ep, creq);
    return;
  }
  creq->established = true;
  if (creq->state != NB_COAP_CREQ_IDLE) {
    nb_coap_creq_end_message(ep, creq); /* a fetch of an older notification is moot now */
  }
  nb_coap_reasm_reset(&creq->b2);
  nb_coap_block blk;
  if (nb_coap_block_get(msg, NB_COAP_OPT_BLOCK2, &blk) == NB_OK && blk.more) {
    nb_coap_b2_begin(ep, creq, msg, &blk, true, now);
    return;
  }
  nb_coap_creq_deliver(ep, creq, NB_OK, msg, false, now);
}

void nb_coap_epi_creq_response(nb_coap_ep *ep, nb_coap_creq *creq, const nb_coap_msg *msg,
                               nb_time_ms now) {
  char a[NB_ADDR_STRLEN];
  bool current =
      (creq->state == NB_COAP_CREQ_WAIT || creq->state == NB_COAP_CREQ_SEPWAIT) &&
      nb_coap_epi_token_eq(msg->token, msg->token_len, creq->cur_token, creq->cur_token_len);
  bool via_obs = creq->tn_obs.linked && nb_coap_epi_token_eq(msg->token, msg->token_len,
                                                             creq->tn_obs.token, creq->tn_obs.len);
  if (via_obs && creq->observe) {
    nb_coap_creq_notification(ep, creq, msg, current, now);
    return;
  }
  if (!current) {
    NB_LOG_DEBUG(NB_COAP_LOG, "event=drop reason=stale-response peer=%s mid=%u",
                 nb_addr_format(&creq->peer, a, sizeof a), msg->mid);
    return;
  }
  nb_coap_creq_end_message(ep, creq);
  if (creq->step == NB_COAP_STEP_BLOCK2) {
    nb_coap_b2_response(ep, creq, msg, now);
    return;
  }
  if (nb_coap_b1_response(ep, creq, msg, now)) return;
  nb_coap_creq_final(ep, creq, msg, now);
}

/* ---- public API ---- */

/* Copies the caller's request: options (minus the block-wise ones the layer manages) into a
 * private datagram, payload into a private buffer. */
static nb_err nb_coap_creq_copy(nb_coap_creq *creq, const nb_coap_msg *req, uint8_t *b2_pref) {
  nb_coap_msg m = *req;
  nb_coap_block b2;
  *b2_pref = NB_COAP_BLOCK_MAX_SZX;
  if (nb_coap_block_get(req, NB_COAP_OPT_BLOCK2, &b2) == NB_OK) *b2_pref = b2.szx;
  nb_coap_block b1;
  creq->caller_block1 = nb_coap_block_get(req, NB_COAP_OPT_BLOCK1, &b1) == NB_OK;
  if (!creq->caller_block1) {
    nb_coap_msg_remove_option(&m, NB_COAP_OPT_BLOCK1);
    nb_coap_msg_remove_option(&m, NB_COAP_OPT_SIZE1);
  }
  nb_coap_msg_remove_option(&m, NB_COAP_OPT_BLOCK2);
  nb_coap_msg_remove_option(&m, NB_COAP_OPT_SIZE2);
  m.type = NB_COAP_CON;
  nb_err err = nb_coap_epi_save_head(&m, &creq->tmpl_bytes, &creq->tmpl_len);
  if (err == NB_OK) err = nb_coap_creq_tmpl(creq, &m);
  if (err != NB_OK) return err;
  creq->body_len = req->payload ? req->payload_len : 0;
  creq->body = malloc(creq->body_len ? creq->body_len : 1);
  if (!creq->body) return NB_ERR_NOMEM;
  if (creq->body_len) memcpy(creq->body, req->payload, creq->body_len);
  return NB_OK;
}

/* Token of the first message: the caller's (must be unused towards peer) or a fresh one. */
static nb_err nb_coap_creq_first_token(nb_coap_ep *ep, nb_coap_creq *creq, const nb_coap_msg *req) {
  if (req->token_len == 0) {
    creq->first_token_len = NB_COAP_GEN_TOKEN_LEN;
    return nb_coap_new_token(ep, &creq->peer, creq->first_token);
  }
  if (nb_coap_epi_creq_by_token(ep, &creq->peer, req->token, req->token_len)) return NB_ERR_EXISTS;
  memcpy(creq->first_token, req->token, req->token_len);
  creq->first_token_len = req->token_len;
  return NB_OK;
}

/* Block sizes for this request: configured, and small enough to fit max_message. */
static void nb_coap_creq_sizes(nb_coap_ep *ep, nb_coap_creq *creq, uint8_t b2_pref) {
  /* token 8, Block1 4, Size1 5, Block2 4, Observe 4, marker 1, slack for option deltas */
  size_t overhead = creq->tmpl_len + 8 + 4 + 5 + 4 + 4 + 1 + 6;
  uint8_t szx = nb_coap_epi_szx(ep, overhead);
  creq->b1_szx = szx;
  creq->b2_szx = b2_pref < szx ? b2_pref : szx;
  creq->block1 = !creq->caller_block1 && creq->body_len > nb_coap_block_size(szx);
}

static nb_err nb_coap_creq_setup(nb_coap_ep *ep, nb_coap_creq *creq, const nb_coap_msg *req) {
  uint8_t b2_pref;
  nb_err err = nb_coap_creq_copy(creq, req, &b2_pref);
  if (err != NB_OK) return err;
  uint32_t ov;
  creq->observe = nb_coap_fetch_like(req->code) &&
                  nb_coap_msg_get_uint(req, NB_COAP_OPT_OBSERVE, &ov) == NB_OK &&
                  ov == NB_COAP_OBSERVE_REGISTER;
  nb_coap_creq_sizes(ep, creq, b2_pref);
  if (creq->observe && creq->block1) return NB_ERR_UNSUPPORTED;
  return nb_coap_creq_first_token(ep, creq, req);
}

/* nb_coap_ep_request, or with raw set nb_coap_ep_request_block2 for block *raw. */
static nb_err nb_coap_request_start(nb_coap_ep *ep, const nb_addr *peer, const nb_coap_msg *req,
                                    bool confirmable, const nb_coap_block *raw,
                                    nb_coap_response_fn cb, void *user, nb_time_ms now,
                                    nb_coap_req_id *id) {
  if (!ep || !peer || !req || !nb_coap_is_request(req->code)) return NB_ERR_INVAL;
  ep->now = now;
  nb_coap_creq *creq = calloc(1, sizeof *creq);
  if (!creq) return NB_ERR_NOMEM;
  if (nb_coap_timerheap_reserve(&ep->timers) != NB_OK) {
    free(creq);
    return NB_ERR_NOMEM;
  }
  creq->ep = ep;
  creq->peer = *peer;
  creq->confirmable = confirmable;
  creq->cb = cb;
  creq->user = user;
  creq->timer.kind = NB_COAP_TK_CREQ;
  nb_coap_reasm_init(&creq->b2, ep->cfg.max_body);
  nb_err err = nb_coap_creq_setup(ep, creq, req);
  if (err == NB_OK && raw && (creq->block1 || creq->caller_block1 || creq->observe))
    err = NB_ERR_INVAL;
  if (err != NB_OK) {
    nb_coap_creq_free(ep, creq);
    return err;
  }
  if (raw) {
    creq->b2_raw = true;
    creq->b2_num = raw->num;
    creq->b2_szx = raw->szx;
  }
  creq->id = ep->next_id++;
  nb_coap_hmap_insert(&ep->creqs, &creq->id_node, nb_coap_id_hash(ep, creq->id));
  creq->step = NB_COAP_STEP_FIRST;
  err = nb_coap_creq_send(ep, creq, now);
  if (err != NB_OK) {
    nb_coap_creq_detach(ep, creq);
    nb_coap_creq_free(ep, creq);
    return err;
  }
  if (id) *id = creq->id;
  return NB_OK;
}

nb_err nb_coap_ep_request(nb_coap_ep *ep, const nb_addr *peer, const nb_coap_msg *req,
                          bool confirmable, nb_coap_response_fn cb, void *user, nb_time_ms now,
                          nb_coap_req_id *id) {
  return nb_coap_request_start(ep, peer, req, confirmable, NULL, cb, user, now, id);
}

nb_err nb_coap_ep_request_block2(nb_coap_ep *ep, const nb_addr *peer, const nb_coap_msg *req,
                                 uint32_t num, uint8_t szx, nb_coap_response_fn cb, void *user,
                                 nb_time_ms now, nb_coap_req_id *id) {
  if (szx > NB_COAP_BLOCK_MAX_SZX || num >= (1u << 20)) return NB_ERR_INVAL;
  nb_coap_block b = {num, false, szx};
  return nb_coap_request_start(ep, peer, req, true, &b, cb, user, now, id);
}

nb_err nb_coap_ep_adopt_observation(nb_coap_ep *ep, const nb_addr *peer, const nb_coap_msg *req,
                                    const uint8_t *token, size_t token_len, bool confirmable,
                                    nb_coap_response_fn cb, void *user, nb_time_ms now,
                                    nb_coap_req_id *id) {
  if (!ep || !peer || !req || !token || token_len == 0 || token_len > NB_COAP_MAX_TOKEN ||
      !nb_coap_is_request(req->code))
    return NB_ERR_INVAL;
  if (nb_coap_epi_creq_by_token(ep, peer, token, token_len)) return NB_ERR_EXISTS;
  ep->now = now;
  nb_coap_creq *creq = calloc(1, sizeof *creq);
  if (!creq) return NB_ERR_NOMEM;
  if (nb_coap_timerheap_reserve(&ep->timers) != NB_OK) {
    free(creq);
    return NB_ERR_NOMEM;
  }
  creq->ep = ep;
  creq->peer = *peer;
  creq->confirmable = confirmable;
  creq->cb = cb;
  creq->user = user;
  creq->timer.kind = NB_COAP_TK_CREQ;
  nb_coap_reasm_init(&creq->b2, ep->cfg.max_body);
  nb_coap_msg m = *req;
  m.token_len = 0; /* setup must not claim the caller's token as a first message's */
  nb_err err = nb_coap_creq_setup(ep, creq, &m);
  if (err == NB_OK && !creq->observe) err = NB_ERR_INVAL;
  if (err != NB_OK) {
    nb_coap_creq_free(ep, creq);
    return err;
  }
  /* Between notifications, exactly as an established observation: no message in flight. */
  creq->first_token_len = 0;
  creq->state = NB_COAP_CREQ_IDLE;
  creq->step = NB_COAP_STEP_FIRST;
  creq->id = ep->next_id++;
  nb_coap_hmap_insert(&ep->creqs, &creq->id_node, nb_coap_id_hash(ep, creq->id));
  nb_coap_tnode_link(ep, creq, &creq->tn_obs, token, token_len);
  if (id) *id = creq->id;
  return NB_OK;
}

/* RFC 7641 3.6: a GET with Observe=1 and the registration's token and options. */
static void nb_coap_creq_deregister(nb_coap_ep *ep, nb_coap_creq *creq, const uint8_t *tok,
                                    size_t tok_len, nb_time_ms now) {
  nb_coap_msg m;
  nb_err err = nb_coap_creq_tmpl(creq, &m);
  nb_coap_msg_remove_option(&m, NB_COAP_OPT_OBSERVE);
  if (err == NB_OK) err = nb_coap_msg_add_uint(&m, NB_COAP_OPT_OBSERVE, NB_COAP_OBSERVE_DEREGISTER);
  if (err == NB_OK) err = nb_coap_msg_set_token(&m, tok, tok_len);
  if (err == NB_OK && m.code == NB_COAP_FETCH)
    nb_coap_msg_set_payload(&m, creq->body, creq->body_len);
  if (err == NB_OK)
    err = nb_coap_ep_request(ep, &creq->peer, &m, creq->confirmable, NULL, NULL, now, NULL);
  char a[NB_ADDR_STRLEN];
  NB_LOG_DEBUG(NB_COAP_LOG, "event=observe-cancel peer=%s mode=active err=%s",
               nb_addr_format(&creq->peer, a, sizeof a), nb_err_name(err));
}

nb_err nb_coap_ep_cancel(nb_coap_ep *ep, nb_coap_req_id id, bool active, nb_time_ms now) {
  ep->now = now;
  nb_coap_hnode *n = nb_coap_hmap_find(&ep->creqs, nb_coap_id_hash(ep, id), nb_coap_id_eq, &id);
  if (!n) return NB_ERR_NOT_FOUND;
  nb_coap_creq *creq = NB_COAP_CONTAINER(n, nb_coap_creq, id_node);
  bool dereg = active && creq->observe && creq->tn_obs.linked;
  uint8_t tok[NB_COAP_MAX_TOKEN];
  size_t tok_len = creq->tn_obs.len;
  memcpy(tok, creq->tn_obs.token, sizeof tok);
  nb_coap_creq_detach(ep, creq); /* frees the token for the deregistration */
  if (dereg) nb_coap_creq_deregister(ep, creq, tok, tok_len, now);
  nb_coap_creq_conclude(ep, creq, NB_ERR_CANCELLED, NULL, now);
  return NB_OK;
}

void nb_coap_epi_client_free_all(nb_coap_ep *ep) {
  nb_coap_hnode *n;
  while ((n = nb_coap_hmap_pop(&ep->creqs)) != NULL) {
    nb_coap_creq_release(NB_COAP_CONTAINER(n, nb_coap_creq, id_node));
  }
}
