/* DTLS server context: stateless cookies, a peer-keyed session table, limits, expiry and one
 * deadline heap for every session timer. */
#include "dtls/server.h"

#include <gnutls/dtls.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "dtls/record.h"

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
} nb_dtls_entry;

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
  size_t nbuckets; /* power of two */
  size_t count;
  size_t handshakes;
  /* timers */
  nb_dtls_entry **heap;
  size_t heap_len, heap_cap;
  /* deferred frees: sessions removed while a callback may still be on the stack */
  nb_dtls_entry *graveyard;
  unsigned depth;
  nb_dtls_server_stats stats;
};

void nb_dtls_server_config_default(nb_dtls_server_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  nb_dtls_session_params_default(&cfg->session);
  cfg->max_sessions = 100000;
  cfg->max_handshakes = 1000;
  cfg->idle_timeout_ms = 600000;
  cfg->cookie_rotate_ms = 300000;
  cfg->resumption = true;
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
      return nb_dtls_session_next_deadline(e->s);
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

/* ---- table ---- */

static size_t nb_dtls_bucket(const nb_dtls_server *srv, const nb_addr *peer) {
  return nb_addr_hash(peer) & (srv->nbuckets - 1);
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
      size_t j = nb_addr_hash(nb_dtls_session_addr(e->s)) & (n - 1);
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

/* Forgets a peer; the memory goes when the outermost server call returns. */
static void nb_dtls_remove(nb_dtls_server *srv, nb_dtls_entry *e) {
  if (e->removed) return;
  nb_dtls_unlink(srv, e);
  nb_dtls_heap_remove(srv, e);
  if (e->handshaking) srv->handshakes--;
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
    e->handshaking = false;
    srv->handshakes--;
    if (st == NB_DTLS_ESTABLISHED) {
      srv->stats.established++;
      if (nb_dtls_session_resumed(e->s)) srv->stats.resumed++;
    }
  }
  if (st == NB_DTLS_FAILED) srv->stats.failed++;
  if (st == NB_DTLS_CLOSED) srv->stats.closed++;
  if (st == NB_DTLS_FAILED || st == NB_DTLS_CLOSED) {
    nb_dtls_remove(srv, e);
    return;
  }
  nb_dtls_reschedule(srv, e);
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

/* A new entry for a verified ClientHello, or NULL when a limit or memory says no. */
static nb_dtls_entry *nb_dtls_admit(nb_dtls_server *srv, const nb_addr *peer,
                                    const nb_dtls_client_hello *ch, gnutls_dtls_prestate_st *pre) {
  char addr[NB_ADDR_STRLEN];
  if (srv->handshakes >= srv->cfg.max_handshakes || srv->count >= srv->cfg.max_sessions) {
    srv->stats.refused++;
    NB_LOG_WARN("dtls", "event=refused peer=%s sessions=%zu handshakes=%zu",
                nb_addr_format(peer, addr, sizeof addr), srv->count, srv->handshakes);
    return NULL;
  }
  nb_dtls_entry *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  const gnutls_datum_t *tk = srv->cfg.resumption ? &srv->ticket_key : NULL;
  if (nb_dtls_session_new_server(srv->creds, &srv->cfg.session, &srv->h, peer, tk, pre, srv->now,
                                 &e->s) != NB_OK) {
    free(e);
    return NULL;
  }
  memcpy(e->random, ch->random, 32);
  e->key = srv->now;
  if (nb_dtls_heap_push(srv, e) != NB_OK) {
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
  return e;
}

static void nb_dtls_feed(nb_dtls_server *srv, nb_dtls_entry *e, const uint8_t *data, size_t len) {
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
  nb_dtls_server_leave(srv);
}

nb_time_ms nb_dtls_server_next_deadline(const nb_dtls_server *srv) {
  nb_time_ms next =
      srv->cookie_started ? srv->cookie_rotated_at + srv->cfg.cookie_rotate_ms : NB_TIME_NEVER;
  if (srv->heap_len > 0) next = nb_time_min(next, srv->heap[0]->key);
  return next;
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

nb_dtls_session *nb_dtls_server_find(nb_dtls_server *srv, const nb_addr *peer) {
  nb_dtls_entry *e = nb_dtls_lookup(srv, peer);
  return e ? e->s : NULL;
}

void nb_dtls_server_get_stats(const nb_dtls_server *srv, nb_dtls_server_stats *out) {
  *out = srv->stats;
  out->sessions = srv->count;
  out->handshakes = srv->handshakes;
}

/* ---- lifecycle ---- */

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
  if (srv->cfg.session.retransmit_ms < 1 || srv->cfg.cookie_rotate_ms < 1) {
    free(srv);
    return NB_ERR_INVAL;
  }
  srv->creds = creds;
  srv->h = *h;
  srv->nbuckets = 64;
  srv->buckets = calloc(srv->nbuckets, sizeof(nb_dtls_entry *));
  nb_err err = srv->buckets ? NB_OK : NB_ERR_NOMEM;
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
  free(srv->buckets);
  free(srv->heap);
  free(srv);
}
