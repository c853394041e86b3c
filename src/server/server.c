/* LwM2M server engine: see server.h; its parts are listed in server_int.h. This file: the
 * engine's lifecycle, its input (datagrams, ticks), lookups, listeners and events. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "server/server_int.h"

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
  nb_server_reg_limits_default(&cfg->reg_limits);
  cfg->max_lifetime = NB_SERVER_LIFETIME_MAX;
  cfg->max_nosec = NB_SERVER_NOSEC_MAX;
  cfg->nosec_retry_after = NB_SERVER_NOSEC_RETRY;
  cfg->store_retry = NB_SERVER_STORE_RETRY;
  cfg->store_retry_after = NB_SERVER_STORE_RETRY_AFTER;
}

/* ---- small helpers ---- */

int64_t nb_srvi_unix_ms(const nb_server *s, nb_time_ms now) { return now + s->cfg.clock_offset; }

uint64_t nb_srvi_hash_str(const nb_server *s, const char *str) {
  return nb_coap_hash_bytes(s->seed, str, strlen(str));
}

static bool eq_ep(const nb_coap_hnode *n, const void *key) {
  return strcmp(NB_SRV_CONTAINER(n, reg, n_ep)->info.ep, key) == 0;
}
static bool eq_id(const nb_coap_hnode *n, const void *key) {
  return strcmp(NB_SRV_CONTAINER(n, reg, n_id)->info.reg_id, key) == 0;
}
static bool eq_addr(const nb_coap_hnode *n, const void *key) {
  return nb_addr_equal(&NB_SRV_CONTAINER(n, reg, n_addr)->info.addr, key);
}
static bool eq_req(const nb_coap_hnode *n, const void *key) {
  return NB_SRV_CONTAINER(n, sreq, n_id)->id == *(const uint64_t *)key;
}

reg *nb_srvi_find_ep(const nb_server *s, const char *ep) {
  nb_coap_hnode *n = nb_coap_hmap_find(&s->by_ep, nb_srvi_hash_str(s, ep), eq_ep, ep);
  return n ? NB_SRV_CONTAINER(n, reg, n_ep) : NULL;
}
reg *nb_srvi_find_id(const nb_server *s, const char *id) {
  nb_coap_hnode *n = nb_coap_hmap_find(&s->by_id, nb_srvi_hash_str(s, id), eq_id, id);
  return n ? NB_SRV_CONTAINER(n, reg, n_id) : NULL;
}
reg *nb_srvi_find_addr(const nb_server *s, const nb_addr *a) {
  nb_coap_hnode *n = nb_coap_hmap_find(&s->by_addr, nb_coap_hash_addr(s->seed, a), eq_addr, a);
  return n ? NB_SRV_CONTAINER(n, reg, n_addr) : NULL;
}
sreq *nb_srvi_find_req(const nb_server *s, uint64_t id) {
  nb_coap_hnode *n =
      nb_coap_hmap_find(&s->reqs, nb_coap_hash_bytes(s->seed, &id, sizeof(id)), eq_req, &id);
  return n ? NB_SRV_CONTAINER(n, sreq, n_id) : NULL;
}

void nb_srvi_emit(nb_server *s, nb_server_event *ev) {
  for (size_t i = 0; i < NB_SERVER_MAX_LISTENERS; i++)
    if (s->listeners[i].fn) s->listeners[i].fn(s->listeners[i].user, ev);
}

void nb_srvi_emit_reg(nb_server *s, nb_server_event_type type, reg *r, bool replaced,
                      nb_time_ms now) {
  nb_server_event ev = {.type = type, .reg = &r->info, .replaced = replaced, .now = now};
  ev.format = NB_COAP_CF_NONE;
  nb_srvi_emit(s, &ev);
}

bool nb_srvi_identity_equal(const nb_server_reg_identity *a, const nb_server_identity *b) {
  return nb_server_reg_identity_is(a, b);
}

/* The store's health tracker (store_health.h) logs its failures, rate-limited. */
nb_err nb_srvi_store_reg(nb_server *s, reg *r) {
  if (!s->cfg.store.ops) return NB_OK;
  nb_err rc = s->cfg.store.ops->reg_put(s->cfg.store.self, &r->info);
  bool unsaved = rc != NB_OK;
  if (unsaved != r->unsaved) {
    r->unsaved = unsaved;
    if (unsaved)
      s->unsaved++;
    else
      s->unsaved--;
  }
  return rc;
}

static void retry_one(nb_coap_hnode *n, void *user) {
  reg *r = NB_SRV_CONTAINER(n, reg, n_ep);
  if (r->unsaved) nb_srvi_store_reg(user, r);
}

static void retry_obs(nb_coap_hnode *n, void *user) {
  sreq *q = NB_SRV_CONTAINER(n, sreq, n_id);
  if (q->unsaved) nb_srvi_store_obs(user, q);
}

void nb_srvi_gone_add(nb_server *s, const char *ep) {
  char *copy = s->ngone < NB_SERVER_GONE_MAX ? strdup(ep) : NULL;
  char **grown = copy ? realloc(s->gone, (s->ngone + 1) * sizeof(*s->gone)) : NULL;
  if (!grown) {
    free(copy);
    s->gone_dropped++;
    return;
  }
  s->gone = grown;
  s->gone[s->ngone++] = copy;
}

/* Deletes the rows of ended registrations the store kept; one that registered again since
 * has a current row. */
static void retry_gone(nb_server *s) {
  size_t kept = 0;
  const nb_server_store_ops *o = s->cfg.store.ops;
  for (size_t i = 0; i < s->ngone; i++) {
    char *ep = s->gone[i];
    bool done = nb_srvi_find_ep(s, ep) || (o->reg_del(s->cfg.store.self, ep) != NB_ERR_IO &&
                                           o->obs_del_ep(s->cfg.store.self, ep) != NB_ERR_IO);
    if (done)
      free(ep);
    else
      s->gone[kept++] = ep;
  }
  s->ngone = kept;
}

/* Registrations the store refused a change of (an Update, a format learnt) are written again
 * every store_retry until it takes them, so a restart after the fault finds them current. */
static void retry_unsaved(nb_server *s, nb_time_ms now) {
  if (!nb_server_unsaved(s)) {
    s->retry_at = 0;
    return;
  }
  if (!s->retry_at) {
    s->retry_at = now + s->cfg.store_retry;
    return;
  }
  if (now < s->retry_at) return;
  nb_coap_hmap_each(&s->by_ep, retry_one, s);
  nb_coap_hmap_each(&s->reqs, retry_obs, s);
  retry_gone(s);
  s->retry_at = nb_server_unsaved(s) ? now + s->cfg.store_retry : 0;
  if (s->retry_at)
    NB_LOG_DEBUG(NB_SRV_LOG, "event=store_retry unsaved=%zu", nb_server_unsaved(s));
  else
    NB_LOG_INFO(NB_SRV_LOG, "event=store_caught_up");
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
  if (s->cfg.first_request_id) s->next_req_id = s->cfg.first_request_id - 1;
  if (!s->cfg.store_retry) s->cfg.store_retry = NB_SERVER_STORE_RETRY;
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
  nb_coap_ep_set_handler(s->ep, nb_srvi_on_request, s);
  nb_coap_ep_set_body_limit(s->ep, nb_srvi_body_limit, s);
  *out = s;
  return NB_OK;
}

void nb_server_free(nb_server *s) {
  if (!s) return;
  /* Requests first (their callbacks are not called), then registrations. */
  nb_coap_hnode *n;
  while ((n = nb_coap_hmap_pop(&s->reqs))) {
    sreq *q = NB_SRV_CONTAINER(n, sreq, n_id);
    free(q->paths);
    free(q->payload);
    free(q->alt_payload);
    free(q);
  }
  while ((n = nb_coap_hmap_pop(&s->by_ep))) {
    reg *r = NB_SRV_CONTAINER(n, reg, n_ep);
    free(r->links);
    free(r->text);
    free(r);
  }
  for (size_t i = 0; i < s->ngone; i++) free(s->gone[i]);
  free(s->gone);
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
  s->now = now;
  s->cur_id = id ? id : &no_identity;
  /* Anything from a queue-mode client shows it is awake (LwM2M 1.1 6.5). */
  reg *r = nb_srvi_find_addr(s, peer);
  if (r && r->info.queue && nb_srvi_identity_equal(&r->info.identity, s->cur_id))
    nb_srvi_reg_wake(s, r, now);
  nb_coap_ep_receive(s->ep, peer, data, len, now);
  /* A device restored after a restart is reachable once its new session carried anything
   * (after the datagram, so a Register does not cancel what its arrival would have sent). */
  r = nb_srvi_find_addr(s, peer);
  if (r && r->info.restored_unheard && nb_srvi_identity_equal(&r->info.identity, s->cur_id))
    nb_srvi_reg_heard(s, r, now);
  s->cur_id = &no_identity;
}

bool nb_server_session_kept(nb_server *s, const nb_addr *peer, const nb_server_identity *id,
                            nb_time_ms now) {
  reg *r = nb_srvi_find_addr(s, peer);
  if (!r || !r->info.restored_unheard || !nb_srvi_identity_equal(&r->info.identity, id))
    return false;
  nb_srvi_reg_heard(s, r, now);
  return true;
}

void nb_server_tick(nb_server *s, nb_time_ms now) {
  s->now = now;
  s->cur_id = &no_identity;
  nb_coap_ep_tick(s->ep, now);
  nb_coap_timer *t;
  while ((t = nb_coap_timerheap_pop_due(&s->timers, now))) {
    if (t->kind == TK_EXPIRY) {
      reg *r = NB_SRV_CONTAINER(t, reg, t_expiry);
      s->stats.expirations++;
      NB_LOG_INFO(NB_SRV_LOG, "event=expired ep=%s id=%s", r->info.ep, r->info.reg_id);
      nb_srvi_emit_reg(s, NB_SEV_EXPIRED, r, false, now);
      nb_srvi_reg_remove(s, r, now);
    } else if (t->kind == TK_AWAKE) {
      reg *r = NB_SRV_CONTAINER(t, reg, t_awake);
      r->awake = false;
      nb_srvi_emit_reg(s, NB_SEV_SLEEPING, r, false, now);
    } else {
      sreq *q = NB_SRV_CONTAINER(t, sreq, timer);
      if (q->state == RQ_QUEUED) {
        nb_srvi_req_fail(s, q, NB_ERR_TIMEOUT, now);
      } else {
        q->timed_out = true;
        nb_srvi_req_abort(s, q, false, now);
      }
    }
  }
  retry_unsaved(s, now);
}

nb_time_ms nb_server_next_deadline(const nb_server *s) {
  nb_time_ms d = nb_time_min(nb_coap_ep_next_deadline(s->ep), nb_coap_timerheap_next(&s->timers));
  if (nb_server_unsaved(s)) d = nb_time_min(d, s->retry_at); /* 0: schedule at the next tick */
  return d;
}

nb_coap_ep *nb_server_coap(nb_server *s) { return s->ep; }

nb_time_ms nb_server_now(const nb_server *s) { return s->now; }
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
  reg *r = nb_srvi_find_ep(s, ep);
  return r ? &r->info : NULL;
}

size_t nb_server_count(const nb_server *s) { return s->by_ep.count; }

typedef struct {
  void (*fn)(void *user, const nb_server_reg_info *r);
  void *user;
} each_ctx;

static void each_node(nb_coap_hnode *n, void *user) {
  each_ctx *c = user;
  c->fn(c->user, &NB_SRV_CONTAINER(n, reg, n_ep)->info);
}

void nb_server_each(const nb_server *s, void (*fn)(void *user, const nb_server_reg_info *r),
                    void *user) {
  each_ctx c = {fn, user};
  nb_coap_hmap_each(&s->by_ep, each_node, &c);
}

bool nb_server_is_awake(const nb_server *s, const char *ep) {
  reg *r = nb_srvi_find_ep(s, ep);
  return r && nb_srvi_reachable(r);
}

void nb_server_get_stats(const nb_server *s, nb_server_stats *out) { *out = s->stats; }

size_t nb_server_nosec_count(const nb_server *s) { return s->nosec; }

size_t nb_server_unsaved(const nb_server *s) { return s->unsaved + s->ngone; }
