/* DTLS server context: stateless cookies, a peer-keyed session table, admission of handshakes
 * (bounds per source and overall, a share kept for known sources, eviction of stalled ones),
 * expiry, one deadline heap for every session timer, and the pressure summary in the log. */
#include "dtls/server.h"

#include <gnutls/dtls.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "coap/hmap.h"
#include "dtls/record.h"
#include "dtls/source.h"

#define NB_DTLS_COOKIE_KEY_LEN 32

/* One peer: its session plus the server's bookkeeping. */
typedef struct nb_dtls_entry {
  nb_dtls_session *s;
  struct nb_dtls_entry *next; /* hash chain, then graveyard */
  size_t heap_idx;
  nb_time_ms key;     /* when the server must look at this entry again */
  uint8_t random[32]; /* ClientHello.random of the handshake that created the session */
  bool handshaking;   /* counted in srv->handshakes */
  bool removed;
  /* While handshaking: */
  nb_dtls_source_rec *src; /* its source's count */
  bool known;              /* admitted as a known source; otherwise in the unknown list */
  nb_time_ms last_rx;      /* the peer's last datagram */
  struct nb_dtls_entry *lru_prev, *lru_next; /* unknown list, least recently heard first */
} nb_dtls_entry;

/* A session failure is logged one line each, at most this many per summary interval; the rest
 * only counted (an attacker who completes cookie exchanges and then fails them on purpose must
 * not write the log). */
#define NB_DTLS_FAILED_LOG_BUDGET 10

/* Handshake pressure since the last summary line. */
typedef struct {
  uint64_t refused, refused_source, evicted, stalled;
  uint64_t failed_unlogged; /* session failures past the log budget */
  nb_time_ms since;         /* first event of the window */
  nb_dtls_source_top top;
} nb_dtls_pressure;

struct nb_dtls_server {
  nb_dtls_server_config cfg;
  const nb_dtls_creds *creds;
  nb_dtls_handlers h;
  nb_time_ms now;
  /* cookies */
  uint8_t cookie_key[2][NB_DTLS_COOKIE_KEY_LEN]; /* [0] current, [1] previous */
  bool cookie_prev_valid;
  bool cookie_started;
  nb_time_ms cookie_rotated_at;
  /* resumption */
  gnutls_datum_t ticket_key;
  /* table */
  nb_dtls_entry **buckets;
  size_t nbuckets;     /* power of two */
  uint64_t table_seed; /* keys the peers' hash: no one aims them at one bucket */
  size_t count;
  size_t handshakes;
  /* admission */
  nb_dtls_sources sources;
  nb_dtls_known known;
  nb_dtls_entry *lru_head, *lru_tail; /* handshakes from sources not known */
  size_t unknown_handshakes;
  size_t unknown_cap; /* max_handshakes less the share kept for known sources */
  nb_time_ms stall_ms;
  nb_dtls_pressure window;
  nb_time_ms summary_last;    /* NB_TIME_NEVER before the first summary */
  nb_dtls_handlers session_h; /* what sessions call: the server, then the user's handlers */
  nb_time_ms failed_log_since;
  unsigned failed_logged;
  /* timers */
  nb_dtls_entry **heap;
  size_t heap_len, heap_cap;
  /* deferred frees: sessions removed while a callback may still be on the stack */
  nb_dtls_entry *graveyard;
  unsigned depth;
  nb_dtls_server_stats stats;
  /* lost-session alerts: the budget of the current second, the peers nb_dtls_server_nudge
   * queued (a ring), the next sequence number of epoch 0 */
  nb_time_ms lost_since;
  unsigned lost_sent;
  nb_addr *nudge;
  size_t nudge_head, nudge_len, nudge_cap;
  nb_time_ms nudge_at;
  uint64_t plain_seq;
};

void nb_dtls_server_config_default(nb_dtls_server_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  nb_dtls_session_params_default(&cfg->session);
  cfg->max_sessions = 100000;
  cfg->max_handshakes = 1000;
  cfg->max_handshakes_per_source = 16;
  cfg->known_share_pct = 25;
  cfg->known_sources = 16384;
  cfg->known_ttl_ms = 7LL * 24 * 3600 * 1000;
  cfg->stall_retransmits = 3;
  cfg->evict_stalled = true;
  cfg->summary_interval_ms = 60000;
  cfg->idle_timeout_ms = 600000;
  cfg->cookie_rotate_ms = 300000;
  cfg->resumption = true;
  cfg->lost_alerts_per_s = 1000;
  cfg->nudges_per_s = 500;
  cfg->random = nb_random_system;
}

/* ---- heap of deadlines ---- */

static void nb_dtls_heap_swap(nb_dtls_server *srv, size_t a, size_t b) {
  nb_dtls_entry *t = srv->heap[a];
  srv->heap[a] = srv->heap[b];
  srv->heap[b] = t;
  srv->heap[a]->heap_idx = a;
  srv->heap[b]->heap_idx = b;
}

static void nb_dtls_heap_up(nb_dtls_server *srv, size_t i) {
  while (i > 0 && srv->heap[(i - 1) / 2]->key > srv->heap[i]->key) {
    nb_dtls_heap_swap(srv, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

static void nb_dtls_heap_down(nb_dtls_server *srv, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < srv->heap_len && srv->heap[l]->key < srv->heap[m]->key) m = l;
    if (r < srv->heap_len && srv->heap[r]->key < srv->heap[m]->key) m = r;
    if (m == i) return;
    nb_dtls_heap_swap(srv, i, m);
    i = m;
  }
}

static nb_err nb_dtls_heap_push(nb_dtls_server *srv, nb_dtls_entry *e) {
  if (srv->heap_len == srv->heap_cap) {
    size_t cap = srv->heap_cap ? srv->heap_cap * 2 : 64;
    nb_dtls_entry **grown = realloc(srv->heap, cap * sizeof(nb_dtls_entry *));
    if (!grown) return NB_ERR_NOMEM;
    srv->heap = grown;
    srv->heap_cap = cap;
  }
  e->heap_idx = srv->heap_len;
  srv->heap[srv->heap_len++] = e;
  nb_dtls_heap_up(srv, e->heap_idx);
  return NB_OK;
}

static void nb_dtls_heap_remove(nb_dtls_server *srv, nb_dtls_entry *e) {
  size_t i = e->heap_idx, last = srv->heap_len - 1;
  if (i != last) nb_dtls_heap_swap(srv, i, last);
  srv->heap_len--;
  if (i < srv->heap_len) {
    nb_dtls_heap_up(srv, i);
    nb_dtls_heap_down(srv, i);
  }
}

static nb_time_ms nb_dtls_entry_due(const nb_dtls_server *srv, const nb_dtls_entry *e) {
  switch (nb_dtls_session_state(e->s)) {
    case NB_DTLS_HANDSHAKING:
      return nb_time_min(nb_dtls_session_next_deadline(e->s), e->last_rx + srv->stall_ms);
    case NB_DTLS_ESTABLISHED:
      if (srv->cfg.idle_timeout_ms <= 0) return NB_TIME_NEVER;
      return nb_dtls_session_last_activity(e->s) + srv->cfg.idle_timeout_ms;
    default:
      return srv->now; /* closed or failed: collect at once */
  }
}

static void nb_dtls_reschedule(nb_dtls_server *srv, nb_dtls_entry *e) {
  nb_time_ms key = nb_dtls_entry_due(srv, e);
  nb_time_ms old = e->key;
  e->key = key;
  if (key < old) nb_dtls_heap_up(srv, e->heap_idx);
  if (key > old) nb_dtls_heap_down(srv, e->heap_idx);
}

/* After a datagram: an established session's idle deadline only moves later with its traffic,
 * so the heap keeps the earlier key and the tick that finds it early puts the real one in (one
 * heap move per idle period instead of one per datagram). Anything else is rescheduled now. */
static void nb_dtls_reschedule_lazily(nb_dtls_server *srv, nb_dtls_entry *e) {
  if (nb_dtls_session_state(e->s) == NB_DTLS_ESTABLISHED && nb_dtls_entry_due(srv, e) >= e->key)
    return;
  nb_dtls_reschedule(srv, e);
}

/* ---- table ---- */

static size_t nb_dtls_bucket(const nb_dtls_server *srv, const nb_addr *peer) {
  return (size_t)nb_coap_hash_addr(srv->table_seed, peer) & (srv->nbuckets - 1);
}

static nb_dtls_entry *nb_dtls_lookup(const nb_dtls_server *srv, const nb_addr *peer) {
  for (nb_dtls_entry *e = srv->buckets[nb_dtls_bucket(srv, peer)]; e; e = e->next) {
    if (nb_addr_equal(nb_dtls_session_addr(e->s), peer)) return e;
  }
  return NULL;
}

static void nb_dtls_table_grow(nb_dtls_server *srv) {
  size_t n = srv->nbuckets * 2;
  nb_dtls_entry **b = calloc(n, sizeof(nb_dtls_entry *));
  if (!b) return; /* keep the longer chains: still correct */
  for (size_t i = 0; i < srv->nbuckets; i++) {
    for (nb_dtls_entry *e = srv->buckets[i], *next; e; e = next) {
      next = e->next;
      size_t j = (size_t)nb_coap_hash_addr(srv->table_seed, nb_dtls_session_addr(e->s)) & (n - 1);
      e->next = b[j];
      b[j] = e;
    }
  }
  free(srv->buckets);
  srv->buckets = b;
  srv->nbuckets = n;
}

static void nb_dtls_unlink(nb_dtls_server *srv, nb_dtls_entry *e) {
  nb_dtls_entry **pp = &srv->buckets[nb_dtls_bucket(srv, nb_dtls_session_addr(e->s))];
  while (*pp && *pp != e) pp = &(*pp)->next;
  if (*pp) *pp = e->next;
}

/* ---- the list of handshakes from unknown sources, least recently heard first ---- */

static void nb_dtls_lru_unlink(nb_dtls_server *srv, nb_dtls_entry *e) {
  if (e->lru_prev) {
    e->lru_prev->lru_next = e->lru_next;
  } else {
    srv->lru_head = e->lru_next;
  }
  if (e->lru_next) {
    e->lru_next->lru_prev = e->lru_prev;
  } else {
    srv->lru_tail = e->lru_prev;
  }
  e->lru_prev = e->lru_next = NULL;
}

static void nb_dtls_lru_append(nb_dtls_server *srv, nb_dtls_entry *e) {
  e->lru_prev = srv->lru_tail;
  e->lru_next = NULL;
  if (srv->lru_tail) {
    srv->lru_tail->lru_next = e;
  } else {
    srv->lru_head = e;
  }
  srv->lru_tail = e;
}

/* The peer spoke: its handshake is not stalled. */
static void nb_dtls_heard(nb_dtls_server *srv, nb_dtls_entry *e) {
  e->last_rx = srv->now;
  if (e->handshaking && !e->known && srv->lru_tail != e) {
    nb_dtls_lru_unlink(srv, e);
    nb_dtls_lru_append(srv, e);
  }
}

/* The handshake is over (done, failed, ended or forgotten): it leaves every admission count. */
static void nb_dtls_handshake_over(nb_dtls_server *srv, nb_dtls_entry *e) {
  if (!e->handshaking) return;
  e->handshaking = false;
  srv->handshakes--;
  if (!e->known) {
    nb_dtls_lru_unlink(srv, e);
    srv->unknown_handshakes--;
  }
  nb_dtls_sources_give(&srv->sources, e->src);
  e->src = NULL;
}

/* Forgets a peer; the memory goes when the outermost server call returns. */
static void nb_dtls_remove(nb_dtls_server *srv, nb_dtls_entry *e) {
  if (e->removed) return;
  nb_dtls_unlink(srv, e);
  nb_dtls_heap_remove(srv, e);
  nb_dtls_handshake_over(srv, e);
  srv->count--;
  e->removed = true;
  e->next = srv->graveyard;
  srv->graveyard = e;
}

static void nb_dtls_bury(nb_dtls_server *srv) {
  while (srv->graveyard) {
    nb_dtls_entry *e = srv->graveyard;
    srv->graveyard = e->next;
    nb_dtls_session_free(e->s);
    free(e);
  }
}

static void nb_dtls_server_enter(nb_dtls_server *srv, nb_time_ms now) {
  srv->depth++;
  if (now > srv->now) srv->now = now;
}

static void nb_dtls_server_leave(nb_dtls_server *srv) {
  if (--srv->depth == 0) nb_dtls_bury(srv);
}

/* Bookkeeping after a session call: handshake accounting, removal, next deadline. */
static void nb_dtls_after(nb_dtls_server *srv, nb_dtls_entry *e) {
  if (e->removed) return;
  nb_dtls_state st = nb_dtls_session_state(e->s);
  if (e->handshaking && st != NB_DTLS_HANDSHAKING) {
    nb_dtls_handshake_over(srv, e);
    if (st == NB_DTLS_ESTABLISHED) {
      srv->stats.established++;
      if (nb_dtls_session_resumed(e->s)) srv->stats.resumed++;
      /* It authenticated: its source may use the share kept for known sources from now on. */
      nb_dtls_source src;
      nb_dtls_source_of(nb_dtls_session_addr(e->s), &src);
      nb_dtls_known_add(&srv->known, &src, srv->now);
    }
  }
  if (st == NB_DTLS_FAILED) srv->stats.failed++;
  if (st == NB_DTLS_CLOSED) srv->stats.closed++;
  if (st == NB_DTLS_FAILED || st == NB_DTLS_CLOSED) {
    nb_dtls_remove(srv, e);
    return;
  }
  nb_dtls_reschedule_lazily(srv, e);
}

/* ---- cookies ---- */

static void nb_dtls_cookie_rotate(nb_dtls_server *srv, nb_time_ms now) {
  if (srv->cookie_started && now - srv->cookie_rotated_at < srv->cfg.cookie_rotate_ms) return;
  uint8_t fresh[NB_DTLS_COOKIE_KEY_LEN];
  if (srv->cfg.random(srv->cfg.random_user, fresh, sizeof fresh) != NB_OK) {
    NB_LOG_ERROR("dtls", "event=cookie_key_failed detail=\"keeping the current key\"");
    srv->cookie_rotated_at = now;
    return;
  }
  memcpy(srv->cookie_key[1], srv->cookie_key[0], NB_DTLS_COOKIE_KEY_LEN);
  memcpy(srv->cookie_key[0], fresh, NB_DTLS_COOKIE_KEY_LEN);
  gnutls_memset(fresh, 0, sizeof fresh);
  srv->cookie_prev_valid = srv->cookie_started;
  srv->cookie_started = true;
  srv->cookie_rotated_at = now;
}

/* What the cookie is bound to: the peer's address and port. */
static size_t nb_dtls_client_data(const nb_addr *peer, uint8_t out[24]) {
  out[0] = peer->family;
  out[1] = (uint8_t)(peer->port >> 8);
  out[2] = (uint8_t)peer->port;
  memcpy(out + 3, peer->ip, 16);
  out[19] = (uint8_t)(peer->scope >> 24);
  out[20] = (uint8_t)(peer->scope >> 16);
  out[21] = (uint8_t)(peer->scope >> 8);
  out[22] = (uint8_t)peer->scope;
  return 23;
}

typedef struct {
  nb_dtls_server *srv;
  const nb_addr *peer;
} nb_dtls_hvr_ctx;

static ssize_t nb_dtls_hvr_push(gnutls_transport_ptr_t ptr, const void *data, size_t len) {
  nb_dtls_hvr_ctx *ctx = ptr;
  nb_dtls_counters_add(&ctx->srv->stats.stateless, true, data, len);
  ctx->srv->h.send(ctx->srv->h.user, ctx->peer, data, len);
  return (ssize_t)len;
}

/* True when the ClientHello carries a cookie made with the current or previous key. */
static bool nb_dtls_cookie_ok(nb_dtls_server *srv, const nb_addr *peer, uint8_t *data, size_t len,
                              gnutls_dtls_prestate_st *pre) {
  uint8_t cd[24];
  size_t cd_len = nb_dtls_client_data(peer, cd);
  for (int k = 0; k < (srv->cookie_prev_valid ? 2 : 1); k++) {
    gnutls_datum_t key = {srv->cookie_key[k], NB_DTLS_COOKIE_KEY_LEN};
    memset(pre, 0, sizeof *pre);
    if (gnutls_dtls_cookie_verify(&key, cd, cd_len, data, len, pre) == 0) return true;
  }
  return false;
}

static void nb_dtls_send_hello_verify(nb_dtls_server *srv, const nb_addr *peer,
                                      const uint8_t *data) {
  uint8_t cd[24];
  size_t cd_len = nb_dtls_client_data(peer, cd);
  gnutls_datum_t key = {srv->cookie_key[0], NB_DTLS_COOKIE_KEY_LEN};
  gnutls_dtls_prestate_st pre;
  nb_dtls_hvr_ctx ctx = {srv, peer};
  memset(&pre, 0, sizeof pre);
  pre.record_seq = data[10]; /* echo the ClientHello's record sequence (RFC 6347 4.2.1) */
  if (gnutls_dtls_cookie_send(&key, cd, cd_len, &pre, &ctx, nb_dtls_hvr_push) >= 0) {
    srv->stats.hello_verify_sent++;
  }
}

/* ---- handshakes ---- */

static void nb_dtls_emit(nb_dtls_server *srv, nb_dtls_entry *e, nb_dtls_event_type type,
                         nb_err err) {
  if (!srv->h.event) return;
  nb_dtls_event ev = {type, err, -1, false, nb_dtls_session_resumed(e->s)};
  srv->h.event(srv->h.user, nb_dtls_session_addr(e->s), e->s, &ev, srv->now);
}

/* ---- pressure: counters and one summary line per interval ---- */

static bool nb_dtls_pressure_any(const nb_dtls_pressure *w) {
  return w->refused + w->evicted + w->stalled + w->failed_unlogged > 0;
}

/* One line for everything refused, evicted or stalled since the last one: a warning when a
 * handshake was turned away or cut short for room, information when silent peers only timed
 * out. The source most involved is named (an attacker's address is no secret). */
static void nb_dtls_summary(nb_dtls_server *srv) {
  nb_dtls_pressure *w = &srv->window;
  uint64_t top_n = 0;
  const nb_dtls_source *top = nb_dtls_source_top_first(&w->top, &top_n);
  char who[NB_DTLS_SOURCE_STRLEN] = "-";
  if (top) nb_dtls_source_format(top, who, sizeof who);
  nb_logf(w->refused + w->evicted > 0 ? NB_LOG_WARN : NB_LOG_INFO, "dtls",
          "event=handshake_pressure window_s=%lld refused=%llu refused_source=%llu evicted=%llu "
          "stalled=%llu failed_unlogged=%llu top_source=%s top_count=%llu handshakes=%zu "
          "handshakes_unknown=%zu",
          (long long)((srv->now - w->since) / 1000), (unsigned long long)w->refused,
          (unsigned long long)w->refused_source, (unsigned long long)w->evicted,
          (unsigned long long)w->stalled, (unsigned long long)w->failed_unlogged, who,
          (unsigned long long)top_n, srv->handshakes, srv->unknown_handshakes);
  memset(w, 0, sizeof *w);
  srv->summary_last = srv->now;
}

static nb_time_ms nb_dtls_summary_due(const nb_dtls_server *srv) {
  if (!nb_dtls_pressure_any(&srv->window)) return NB_TIME_NEVER;
  if (srv->summary_last == NB_TIME_NEVER) return srv->now;
  return srv->summary_last + srv->cfg.summary_interval_ms;
}

/* One event counted against `src`; the line goes out now if the last one is old enough. */
static void nb_dtls_pressure_note(nb_dtls_server *srv, const nb_dtls_source *src) {
  if (!nb_dtls_pressure_any(&srv->window)) srv->window.since = srv->now;
  nb_dtls_source_top_add(&srv->window.top, src);
}

static void nb_dtls_summary_maybe(nb_dtls_server *srv) {
  if (nb_dtls_summary_due(srv) <= srv->now) nb_dtls_summary(srv);
}

/* ---- what sessions call ---- */

static void nb_dtls_session_sent(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  nb_dtls_server *srv = user;
  srv->h.send(srv->h.user, peer, data, len);
}

static void nb_dtls_session_received(void *user, const nb_addr *peer, const uint8_t *data,
                                     size_t len, nb_time_ms now) {
  nb_dtls_server *srv = user;
  srv->h.recv(srv->h.user, peer, data, len, now);
}

/* A session failed (the session itself logs that only at debug level): one line while the
 * budget lasts, then only counted in the summary. */
static void nb_dtls_log_failure(nb_dtls_server *srv, const nb_addr *peer, const nb_dtls_event *ev) {
  char addr[NB_ADDR_STRLEN];
  if (srv->now - srv->failed_log_since >= srv->cfg.summary_interval_ms) {
    srv->failed_log_since = srv->now;
    srv->failed_logged = 0;
  }
  if (srv->failed_logged < NB_DTLS_FAILED_LOG_BUDGET) {
    srv->failed_logged++;
    NB_LOG_INFO("dtls", "event=failed peer=%s role=server err=%s alert=%s alert_by=%s",
                nb_addr_format(peer, addr, sizeof addr), nb_err_name(ev->err),
                ev->alert >= 0 ? nb_dtls_alert_name(ev->alert) : "none",
                ev->alert < 0    ? "none"
                : ev->alert_sent ? "us"
                                 : "peer");
    return;
  }
  nb_dtls_source src;
  nb_dtls_source_of(peer, &src);
  nb_dtls_pressure_note(srv, &src);
  srv->window.failed_unlogged++;
  nb_dtls_summary_maybe(srv);
}

static void nb_dtls_session_event(void *user, const nb_addr *peer, nb_dtls_session *s,
                                  const nb_dtls_event *ev, nb_time_ms now) {
  nb_dtls_server *srv = user;
  if (ev->type == NB_DTLS_EV_FAILED) nb_dtls_log_failure(srv, peer, ev);
  if (srv->h.event) srv->h.event(srv->h.user, peer, s, ev, now);
}

/* ---- admission ---- */

static void nb_dtls_refuse(nb_dtls_server *srv, const nb_addr *peer, const nb_dtls_source *src,
                           bool per_source) {
  char addr[NB_ADDR_STRLEN];
  nb_dtls_pressure_note(srv, src);
  srv->stats.refused++;
  srv->window.refused++;
  if (per_source) {
    srv->stats.refused_source++;
    srv->window.refused_source++;
  }
  NB_LOG_DEBUG("dtls", "event=refused peer=%s reason=%s handshakes=%zu",
               nb_addr_format(peer, addr, sizeof addr), per_source ? "source" : "full",
               srv->handshakes);
  nb_dtls_summary_maybe(srv);
}

/* The server ends a handshake: its peer stayed silent through every retransmission (stalled,
 * NB_ERR_DTLS_TIMEOUT) or it made room for another (NB_ERR_DTLS_LIMIT). The peer gets a
 * close_notify so that, if it is a real device, it starts afresh instead of waiting. */
static void nb_dtls_cut(nb_dtls_server *srv, nb_dtls_entry *e, nb_err why) {
  char addr[NB_ADDR_STRLEN];
  bool stalled = why == NB_ERR_DTLS_TIMEOUT;
  const nb_addr *peer = nb_dtls_session_addr(e->s);
  nb_dtls_source src;
  nb_dtls_source_of(peer, &src);
  nb_dtls_pressure_note(srv, &src);
  if (stalled) {
    srv->stats.stalled++;
    srv->window.stalled++;
  } else {
    srv->stats.evicted++;
    srv->window.evicted++;
  }
  NB_LOG_DEBUG("dtls", "event=%s peer=%s silent_ms=%lld", stalled ? "stalled" : "evicted",
               nb_addr_format(peer, addr, sizeof addr), (long long)(srv->now - e->last_rx));
  nb_dtls_emit(srv, e, NB_DTLS_EV_FAILED, why);
  if (!e->removed) {
    nb_dtls_session_close(e->s, srv->now);
    nb_dtls_remove(srv, e);
  }
  nb_dtls_summary_maybe(srv);
}

/* Room for one more handshake from a source that has `rec` (NULL: none) in progress. When the
 * table (or, for an unknown source, its part of it) is full, the handshake from an unknown
 * source heard from least recently may be evicted: always for a known newcomer; for an unknown
 * one only when it stalled (silent for a whole retransmission interval) and its source has
 * more handshakes than the newcomer's (or is the newcomer's), so a flood never evicts the
 * lone handshake of a smaller source. */
static bool nb_dtls_room(nb_dtls_server *srv, const nb_dtls_source_rec *rec, bool known) {
  if (srv->handshakes < srv->cfg.max_handshakes &&
      (known || srv->unknown_handshakes < srv->unknown_cap))
    return true;
  nb_dtls_entry *v = srv->lru_head;
  if (!v || !srv->cfg.evict_stalled) return false;
  if (!known) {
    size_t mine = rec ? rec->handshakes : 0;
    bool stalled = srv->now - v->last_rx >= srv->cfg.session.retransmit_ms;
    bool fair = v->src == rec || v->src->handshakes > mine;
    if (!stalled || !fair) return false;
  }
  nb_dtls_cut(srv, v, NB_ERR_DTLS_LIMIT);
  return true;
}

/* Whether a verified ClientHello from `peer` may open a handshake (counted when not). */
static bool nb_dtls_admissible(nb_dtls_server *srv, const nb_addr *peer, const nb_dtls_source *src,
                               bool *known) {
  nb_dtls_source_rec *rec = nb_dtls_sources_find(&srv->sources, src);
  size_t per = srv->cfg.max_handshakes_per_source;
  if (per > 0 && rec && rec->handshakes >= per) {
    nb_dtls_refuse(srv, peer, src, true);
    return false;
  }
  *known = nb_dtls_known_has(&srv->known, src, srv->now);
  if (srv->count >= srv->cfg.max_sessions || !nb_dtls_room(srv, rec, *known)) {
    nb_dtls_refuse(srv, peer, src, false);
    return false;
  }
  return true;
}

/* A new entry for a verified ClientHello, or NULL when a limit or memory says no. */
static nb_dtls_entry *nb_dtls_admit(nb_dtls_server *srv, const nb_addr *peer,
                                    const nb_dtls_client_hello *ch, gnutls_dtls_prestate_st *pre) {
  nb_dtls_source src;
  bool known = false;
  nb_dtls_source_of(peer, &src);
  if (!nb_dtls_admissible(srv, peer, &src, &known)) return NULL;
  nb_dtls_entry *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->src = nb_dtls_sources_take(&srv->sources, &src);
  const gnutls_datum_t *tk = srv->cfg.resumption ? &srv->ticket_key : NULL;
  if (!e->src || nb_dtls_session_new_server(srv->creds, &srv->cfg.session, &srv->session_h, peer,
                                            tk, pre, srv->now, &e->s) != NB_OK) {
    if (e->src) nb_dtls_sources_give(&srv->sources, e->src);
    free(e);
    return NULL;
  }
  memcpy(e->random, ch->random, 32);
  e->key = srv->now;
  e->last_rx = srv->now;
  if (nb_dtls_heap_push(srv, e) != NB_OK) {
    nb_dtls_sources_give(&srv->sources, e->src);
    nb_dtls_session_free(e->s);
    free(e);
    return NULL;
  }
  if (srv->count >= srv->nbuckets) nb_dtls_table_grow(srv);
  size_t b = nb_dtls_bucket(srv, peer);
  e->next = srv->buckets[b];
  srv->buckets[b] = e;
  srv->count++;
  srv->handshakes++;
  e->handshaking = true;
  e->known = known;
  if (known) {
    srv->stats.admitted_known++;
  } else {
    srv->unknown_handshakes++;
    nb_dtls_lru_append(srv, e);
  }
  return e;
}

static void nb_dtls_feed(nb_dtls_server *srv, nb_dtls_entry *e, const uint8_t *data, size_t len) {
  nb_dtls_heard(srv, e);
  nb_dtls_session_receive(e->s, data, len, srv->now);
  nb_dtls_after(srv, e);
}

/* A ClientHello that opens a handshake: cookie exchange, then a session. */
static void nb_dtls_hello(nb_dtls_server *srv, nb_dtls_entry *old, const nb_addr *peer,
                          uint8_t *data, size_t len, const nb_dtls_client_hello *ch) {
  gnutls_dtls_prestate_st pre;
  if (!nb_dtls_cookie_ok(srv, peer, data, len, &pre)) {
    nb_dtls_counters_add(&srv->stats.stateless, false, data, len);
    nb_dtls_send_hello_verify(srv, peer, data);
    return;
  }
  srv->stats.cookies_accepted++;
  if (old) {
    /* The address proved itself with a fresh handshake: the peer restarted. */
    srv->stats.replaced++;
    nb_dtls_emit(srv, old, NB_DTLS_EV_CLOSED, NB_ERR_DTLS_REPLACED);
    nb_dtls_remove(srv, old);
  }
  nb_dtls_entry *e = nb_dtls_admit(srv, peer, ch, &pre);
  if (e) {
    nb_dtls_feed(srv, e, data, len);
  } else {
    nb_dtls_counters_add(&srv->stats.stateless, false, data, len);
  }
}

/* ---- lost sessions ---- */

static void nb_dtls_send_lost_alert(nb_dtls_server *srv, const nb_addr *peer) {
  uint8_t alert[NB_DTLS_PLAIN_ALERT_LEN];
  nb_dtls_plain_alert(NB_DTLS_LOST_ALERT, srv->plain_seq++, alert);
  nb_dtls_counters_add(&srv->stats.stateless, true, alert, sizeof alert);
  srv->stats.lost_alerts++;
  srv->h.send(srv->h.user, peer, alert, sizeof alert);
}

/* Records of a session this server does not hold: within the budget of the second, the peer
 * is told so (the datagram itself is dropped). */
static void nb_dtls_lost_reply(nb_dtls_server *srv, const nb_addr *peer) {
  if (srv->now - srv->lost_since >= 1000) {
    srv->lost_since = srv->now;
    srv->lost_sent = 0;
  }
  if (srv->lost_sent >= srv->cfg.lost_alerts_per_s) return;
  srv->lost_sent++;
  nb_dtls_send_lost_alert(srv, peer);
}

nb_err nb_dtls_server_nudge(nb_dtls_server *srv, const nb_addr *peer) {
  if (srv->nudge_len >= srv->cfg.max_sessions) return NB_ERR_NOMEM;
  if (srv->nudge_len == srv->nudge_cap) {
    size_t cap = srv->nudge_cap ? srv->nudge_cap * 2 : 64;
    nb_addr *grown = malloc(cap * sizeof *grown);
    if (!grown) return NB_ERR_NOMEM;
    for (size_t i = 0; i < srv->nudge_len; i++)
      grown[i] = srv->nudge[(srv->nudge_head + i) % srv->nudge_cap];
    free(srv->nudge);
    srv->nudge = grown;
    srv->nudge_cap = cap;
    srv->nudge_head = 0;
  }
  srv->nudge[(srv->nudge_head + srv->nudge_len++) % srv->nudge_cap] = *peer;
  if (srv->nudge_len == 1) srv->nudge_at = srv->now;
  return NB_OK;
}

/* One tenth of nudges_per_s every 100 ms, so that a fleet restored after a restart does not
 * come back in one burst of handshakes (max_handshakes would refuse most of it). */
#define NB_DTLS_NUDGE_STEP_MS 100

static void nb_dtls_nudge_run(nb_dtls_server *srv) {
  if (srv->nudge_len == 0 || srv->now < srv->nudge_at) return;
  size_t batch = srv->cfg.nudges_per_s / 10 ? srv->cfg.nudges_per_s / 10 : 1;
  for (; batch > 0 && srv->nudge_len > 0; batch--) {
    const nb_addr *peer = &srv->nudge[srv->nudge_head];
    srv->nudge_head = (srv->nudge_head + 1) % srv->nudge_cap;
    srv->nudge_len--;
    if (nb_dtls_lookup(srv, peer)) continue; /* it came back by itself */
    srv->stats.nudged++;
    nb_dtls_send_lost_alert(srv, peer);
  }
  srv->nudge_at = srv->now + NB_DTLS_NUDGE_STEP_MS;
}

/* Whether a ClientHello from a known peer starts a new handshake (true) or belongs to the
 * current one (false: a retransmission or late duplicate). */
static bool nb_dtls_is_new_attempt(const nb_dtls_entry *e, const nb_dtls_client_hello *ch) {
  return memcmp(e->random, ch->random, 32) != 0;
}

void nb_dtls_server_receive(nb_dtls_server *srv, const nb_addr *peer, const uint8_t *data,
                            size_t len, nb_time_ms now) {
  nb_dtls_client_hello ch;
  nb_dtls_server_enter(srv, now);
  nb_dtls_cookie_rotate(srv, srv->now);
  nb_dtls_entry *e = nb_dtls_lookup(srv, peer);
  bool hello = nb_dtls_parse_client_hello(data, len, &ch);
  if (e && (!hello || !nb_dtls_is_new_attempt(e, &ch))) {
    if (hello && nb_dtls_session_state(e->s) == NB_DTLS_ESTABLISHED) {
      srv->stats.dropped++; /* a late copy of the ClientHello that made this session */
    } else {
      nb_dtls_feed(srv, e, data, len);
    }
  } else if (hello) {
    /* GnuTLS's cookie check reads the datagram through a non-const pointer. */
    uint8_t *copy = malloc(len);
    if (copy) {
      memcpy(copy, data, len);
      nb_dtls_hello(srv, e, peer, copy, len, &ch);
      free(copy);
    }
  } else {
    srv->stats.dropped++;
    if (nb_dtls_is_protected(data, len)) nb_dtls_lost_reply(srv, peer);
  }
  nb_dtls_server_leave(srv);
}

nb_err nb_dtls_server_send(nb_dtls_server *srv, const nb_addr *peer, const uint8_t *data,
                           size_t len) {
  nb_dtls_entry *e = nb_dtls_lookup(srv, peer);
  if (!e) return NB_ERR_NOT_FOUND;
  if (nb_dtls_session_state(e->s) != NB_DTLS_ESTABLISHED) return NB_ERR_DTLS_NOT_ESTABLISHED;
  nb_dtls_server_enter(srv, srv->now);
  nb_err err = nb_dtls_session_send(e->s, data, len);
  nb_dtls_after(srv, e);
  nb_dtls_server_leave(srv);
  return err;
}

/* Idle expiry: tell the peer (close_notify) so it knows to handshake again. */
static void nb_dtls_expire(nb_dtls_server *srv, nb_dtls_entry *e) {
  char addr[NB_ADDR_STRLEN];
  NB_LOG_INFO("dtls", "event=expired peer=%s",
              nb_addr_format(nb_dtls_session_addr(e->s), addr, sizeof addr));
  srv->stats.expired++;
  nb_dtls_emit(srv, e, NB_DTLS_EV_CLOSED, NB_ERR_DTLS_EXPIRED);
  if (!e->removed) {
    nb_dtls_session_close(e->s, srv->now);
    nb_dtls_remove(srv, e);
  }
}

void nb_dtls_server_tick(nb_dtls_server *srv, nb_time_ms now) {
  nb_dtls_server_enter(srv, now);
  nb_dtls_cookie_rotate(srv, srv->now);
  while (srv->heap_len > 0 && srv->heap[0]->key <= srv->now) {
    nb_dtls_entry *e = srv->heap[0];
    nb_dtls_state st = nb_dtls_session_state(e->s);
    if (st == NB_DTLS_ESTABLISHED) {
      if (nb_dtls_entry_due(srv, e) <= srv->now) {
        nb_dtls_expire(srv, e);
      } else {
        nb_dtls_reschedule(srv, e);
      }
    } else if (st == NB_DTLS_HANDSHAKING && srv->now >= e->last_rx + srv->stall_ms) {
      nb_dtls_cut(srv, e, NB_ERR_DTLS_TIMEOUT);
    } else if (st == NB_DTLS_HANDSHAKING) {
      nb_dtls_session_tick(e->s, srv->now);
      nb_dtls_after(srv, e);
      /* A session that did not move its deadline must not spin this loop. */
      if (!e->removed && e->key <= srv->now) {
        e->key = srv->now + 1;
        nb_dtls_heap_down(srv, e->heap_idx);
      }
    } else {
      nb_dtls_remove(srv, e);
    }
  }
  nb_dtls_nudge_run(srv);
  nb_dtls_summary_maybe(srv);
  nb_dtls_server_leave(srv);
}

nb_time_ms nb_dtls_server_next_deadline(const nb_dtls_server *srv) {
  nb_time_ms next =
      srv->cookie_started ? srv->cookie_rotated_at + srv->cfg.cookie_rotate_ms : NB_TIME_NEVER;
  if (srv->nudge_len > 0) next = nb_time_min(next, srv->nudge_at);
  if (srv->heap_len > 0) next = nb_time_min(next, srv->heap[0]->key);
  return nb_time_min(next, nb_dtls_summary_due(srv));
}

nb_err nb_dtls_server_close(nb_dtls_server *srv, const nb_addr *peer, nb_time_ms now) {
  nb_dtls_entry *e = nb_dtls_lookup(srv, peer);
  if (!e) return NB_ERR_NOT_FOUND;
  nb_dtls_server_enter(srv, now);
  nb_dtls_session_close(e->s, srv->now);
  srv->stats.closed++;
  nb_dtls_remove(srv, e);
  nb_dtls_server_leave(srv);
  return NB_OK;
}

size_t nb_dtls_server_export(nb_dtls_server *srv, void (*fn)(void *user, const nb_dtls_saved *sv),
                             void *user, size_t *skipped) {
  size_t given = 0, other = 0;
  nb_dtls_saved *sv = malloc(sizeof *sv);
  for (size_t i = 0; sv && i < srv->heap_len; i++) {
    nb_dtls_session *s = srv->heap[i]->s;
    if (srv->heap[i]->removed || nb_dtls_session_state(s) != NB_DTLS_ESTABLISHED) continue;
    if (nb_dtls_session_export(s, sv) != NB_OK) {
      other++;
      continue;
    }
    fn(user, sv);
    gnutls_memset(sv, 0, sizeof *sv);
    given++;
  }
  free(sv);
  if (skipped) *skipped = other;
  return given;
}

nb_err nb_dtls_server_restore(nb_dtls_server *srv, const nb_dtls_saved *sv, nb_time_ms now) {
  if (nb_dtls_lookup(srv, &sv->peer)) return NB_ERR_EXISTS;
  if (srv->count >= srv->cfg.max_sessions) return NB_ERR_DTLS_LIMIT;
  nb_dtls_server_enter(srv, now);
  nb_dtls_entry *e = calloc(1, sizeof *e);
  nb_err err = e ? nb_dtls_session_new_restored(srv->creds, &srv->cfg.session, &srv->session_h, sv,
                                                srv->now, &e->s)
                 : NB_ERR_NOMEM;
  if (err == NB_OK) {
    e->last_rx = srv->now;
    e->key = nb_dtls_entry_due(srv, e);
    err = nb_dtls_heap_push(srv, e);
    if (err != NB_OK) nb_dtls_session_free(e->s);
  }
  if (err != NB_OK) {
    free(e);
    nb_dtls_server_leave(srv);
    return err;
  }
  if (srv->count >= srv->nbuckets) nb_dtls_table_grow(srv);
  size_t b = nb_dtls_bucket(srv, &sv->peer);
  e->next = srv->buckets[b];
  srv->buckets[b] = e;
  srv->count++;
  srv->stats.restored++;
  nb_dtls_server_leave(srv);
  return NB_OK;
}

nb_dtls_session *nb_dtls_server_find(nb_dtls_server *srv, const nb_addr *peer) {
  nb_dtls_entry *e = nb_dtls_lookup(srv, peer);
  return e ? e->s : NULL;
}

void nb_dtls_server_get_stats(const nb_dtls_server *srv, nb_dtls_server_stats *out) {
  *out = srv->stats;
  out->sessions = srv->count;
  out->handshakes = srv->handshakes;
  out->handshakes_unknown = srv->unknown_handshakes;
}

/* ---- lifecycle ---- */

/* How long a handshake may go without a datagram from its peer: the RFC 6347 4.2.4 schedule
 * (first timeout retransmit_ms, doubling) through stall_retransmits retransmissions and the
 * wait after the last one, e.g. 1 + 2 + 4 + 8 = 15 s for 1 s and 3. */
static nb_time_ms nb_dtls_stall_window(const nb_dtls_server_config *cfg) {
  unsigned r = cfg->stall_retransmits < 20 ? cfg->stall_retransmits : 20;
  return cfg->session.retransmit_ms * (((nb_time_ms)1 << (r + 1)) - 1);
}

nb_err nb_dtls_server_new(const nb_dtls_server_config *cfg, const nb_dtls_creds *creds,
                          const nb_dtls_handlers *h, nb_dtls_server **out) {
  if (!creds || !h || !h->send || !h->recv) return NB_ERR_INVAL;
  nb_dtls_server *srv = calloc(1, sizeof *srv);
  if (!srv) return NB_ERR_NOMEM;
  if (cfg) {
    srv->cfg = *cfg;
  } else {
    nb_dtls_server_config_default(&srv->cfg);
  }
  if (!srv->cfg.random) srv->cfg.random = nb_random_system;
  if (srv->cfg.session.retransmit_ms < 1 || srv->cfg.cookie_rotate_ms < 1 ||
      srv->cfg.known_share_pct > 100 || srv->cfg.summary_interval_ms < 0) {
    free(srv);
    return NB_ERR_INVAL;
  }
  srv->creds = creds;
  srv->h = *h;
  srv->session_h = (nb_dtls_handlers){nb_dtls_session_sent, nb_dtls_session_received,
                                      nb_dtls_session_event, srv};
  srv->summary_last = NB_TIME_NEVER;
  srv->stall_ms = nb_dtls_stall_window(&srv->cfg);
  srv->unknown_cap =
      srv->cfg.max_handshakes - srv->cfg.max_handshakes * srv->cfg.known_share_pct / 100;
  /* Hash keys from the system CSPRNG, not cfg.random: a test's reproducible stream stays as
   * it was, and which slot a source lands in never changes what the server does. */
  uint64_t seeds[3];
  nb_err err = nb_random_bytes(seeds, sizeof seeds);
  srv->table_seed = seeds[2];
  nb_dtls_sources_init(&srv->sources, seeds[0]);
  if (err == NB_OK) {
    err = nb_dtls_known_init(&srv->known, srv->cfg.known_sources, srv->cfg.known_ttl_ms, seeds[1]);
  }
  srv->nbuckets = 64;
  srv->buckets = calloc(srv->nbuckets, sizeof(nb_dtls_entry *));
  if (err == NB_OK && !srv->buckets) err = NB_ERR_NOMEM;
  if (err == NB_OK && srv->cfg.resumption) {
    /* GnuTLS derives rotating ticket encryption keys from this master key. */
    srv->ticket_key.data = gnutls_malloc(64);
    srv->ticket_key.size = 64;
    if (!srv->ticket_key.data) {
      err = NB_ERR_NOMEM;
    } else {
      err = srv->cfg.random(srv->cfg.random_user, srv->ticket_key.data, 64);
    }
  }
  if (err != NB_OK) {
    nb_dtls_server_free(srv);
    return err;
  }
  *out = srv;
  return NB_OK;
}

void nb_dtls_server_free(nb_dtls_server *srv) {
  if (!srv) return;
  for (size_t i = 0; i < srv->heap_len; i++) {
    nb_dtls_session_free(srv->heap[i]->s);
    free(srv->heap[i]);
  }
  nb_dtls_bury(srv);
  if (srv->ticket_key.data) {
    gnutls_memset(srv->ticket_key.data, 0, srv->ticket_key.size);
    gnutls_free(srv->ticket_key.data);
  }
  gnutls_memset(srv->cookie_key, 0, sizeof srv->cookie_key);
  nb_dtls_sources_deinit(&srv->sources);
  nb_dtls_known_deinit(&srv->known);
  free(srv->buckets);
  free(srv->heap);
  free(srv->nudge);
  free(srv);
}
