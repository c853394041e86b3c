/* Plain and coaps listening sockets in front of an identity-aware engine, with per-peer routes
 * and the store-backed DTLS credential hooks. */
#include "io/dtls_server_io.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/rand.h"
#include "coap/hmap.h"
#include "io/dtls_io.h"

#define NB_IO_SRV_MOD "srv-io"
/* A route not refreshed by a datagram for this long is forgotten (memory of vanished peers). */
#define NB_IO_SRV_ROUTE_TTL_MS (7LL * 24 * 3600 * 1000)
#define NB_IO_SRV_SWEEP_MS (10LL * 60 * 1000)

typedef struct nb_io_srv_sock nb_io_srv_sock;

struct nb_io_srv_sock {
  nb_io_srv *owner;
  uint8_t index;
  nb_addr local;
  nb_io_udp *udp;
  nb_io_dtls *dtls; /* NULL: plain CoAP */
};

typedef struct {
  nb_coap_hnode node;
  nb_addr peer;
  uint8_t sock;
  nb_time_ms last;
} nb_io_srv_route;

struct nb_io_srv {
  nb_io_loop *loop;
  nb_io_srv_recv_fn recv;
  void *user;
  nb_io_srv_sock socks[NB_IO_SRV_MAX_SOCKETS];
  size_t nsocks;
  nb_coap_hmap routes;
  uint64_t seed;
  uv_timer_t sweep;
  bool sweep_open;
  nb_io_srv_stats stats;
  unsigned nudges_per_s; /* 0: the DTLS server's default */
};

/* ---- routes ---- */

static bool nb_io_srv_route_eq(const nb_coap_hnode *node, const void *key) {
  const nb_io_srv_route *r = (const nb_io_srv_route *)node;
  return nb_addr_equal(&r->peer, key);
}

static nb_io_srv_route *nb_io_srv_route_find(const nb_io_srv *n, const nb_addr *peer) {
  return (nb_io_srv_route *)nb_coap_hmap_find(&n->routes, nb_coap_hash_addr(n->seed, peer),
                                              nb_io_srv_route_eq, peer);
}

/* The peer spoke through socket `sock` just now. Without memory the route is simply not kept
 * (replies then take the fallback, which never downgrades an established DTLS peer). */
static void nb_io_srv_route_note(nb_io_srv *n, const nb_addr *peer, uint8_t sock, nb_time_ms now) {
  nb_io_srv_route *r = nb_io_srv_route_find(n, peer);
  if (!r) {
    r = calloc(1, sizeof *r);
    if (!r) return;
    r->peer = *peer;
    nb_coap_hmap_insert(&n->routes, &r->node, nb_coap_hash_addr(n->seed, peer));
  }
  r->sock = sock;
  r->last = now;
}

typedef struct {
  nb_io_srv_route **stale;
  size_t count, cap;
  nb_time_ms before;
} nb_io_srv_sweep_ctx;

static void nb_io_srv_collect(nb_coap_hnode *node, void *user) {
  nb_io_srv_sweep_ctx *c = user;
  nb_io_srv_route *r = (nb_io_srv_route *)node;
  if (r->last < c->before && c->count < c->cap) c->stale[c->count++] = r;
}

static void nb_io_srv_on_sweep(uv_timer_t *t) {
  nb_io_srv *n = t->data;
  nb_time_ms now = nb_io_loop_now(n->loop);
  if (now < NB_IO_SRV_ROUTE_TTL_MS || n->routes.count == 0) return;
  nb_io_srv_sweep_ctx c = {calloc(n->routes.count, sizeof(nb_io_srv_route *)), 0, n->routes.count,
                           now - NB_IO_SRV_ROUTE_TTL_MS};
  if (!c.stale) return;
  nb_coap_hmap_each(&n->routes, nb_io_srv_collect, &c);
  for (size_t i = 0; i < c.count; i++) {
    nb_coap_hmap_remove(&n->routes, &c.stale[i]->node);
    free(c.stale[i]);
  }
  free(c.stale);
}

/* ---- datagrams in ---- */

static void nb_io_srv_plain_input(void *user, const nb_addr *peer, const uint8_t *data,
                                  size_t len) {
  nb_io_srv_sock *s = user;
  nb_io_srv *n = s->owner;
  nb_time_ms now = nb_io_loop_time(n->loop);
  nb_io_srv_route_note(n, peer, s->index, now);
  nb_server_identity id = {.kind = NB_SERVER_ID_NONE};
  n->stats.rx_plain++;
  n->recv(n->user, peer, &id, data, len, now);
}

/* Plaintext out of an established DTLS session: the engine learns who the peer proved to be. */
static void nb_io_srv_dtls_input(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  nb_io_srv_sock *s = user;
  nb_io_srv *n = s->owner;
  nb_dtls_session *sess = nb_io_dtls_session(s->dtls, peer);
  const nb_dtls_peer *who = sess ? nb_dtls_session_peer(sess) : NULL;
  if (!who) return; /* plaintext only ever comes from established sessions */
  nb_time_ms now = nb_io_loop_time(n->loop);
  nb_io_srv_route_note(n, peer, s->index, now);
  nb_server_identity id;
  nb_io_srv_identity(who, &id);
  n->stats.rx_dtls++;
  n->recv(n->user, peer, &id, data, len, now);
}

/* ---- datagrams out ---- */

static void nb_io_srv_sock_send(nb_io_srv *n, nb_io_srv_sock *s, const nb_addr *peer,
                                const uint8_t *data, size_t len) {
  if (s->dtls) {
    n->stats.tx_dtls++;
    nb_io_dtls_send(s->dtls, peer, data, len);
  } else {
    n->stats.tx_plain++;
    nb_io_udp_send(s->udp, peer, data, len);
  }
}

static nb_io_srv_sock *nb_io_srv_fallback(nb_io_srv *n, const nb_addr *peer) {
  for (size_t i = 0; i < n->nsocks; i++) {
    nb_io_srv_sock *s = &n->socks[i];
    if (s->dtls && s->local.family == peer->family) {
      nb_dtls_session *sess = nb_io_dtls_session(s->dtls, peer);
      if (sess && nb_dtls_session_state(sess) == NB_DTLS_ESTABLISHED) return s;
    }
  }
  for (size_t i = 0; i < n->nsocks; i++)
    if (!n->socks[i].dtls && n->socks[i].local.family == peer->family) return &n->socks[i];
  return NULL;
}

void nb_io_srv_send(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  nb_io_srv *n = user;
  nb_io_srv_route *r = nb_io_srv_route_find(n, peer);
  nb_io_srv_sock *s = r ? &n->socks[r->sock] : nb_io_srv_fallback(n, peer);
  if (!s) {
    n->stats.tx_dropped++;
    return;
  }
  nb_io_srv_sock_send(n, s, peer, data, len);
}

nb_err nb_io_srv_nudge(nb_io_srv *n, const nb_addr *peer) {
  for (size_t i = 0; i < n->nsocks; i++) {
    nb_io_srv_sock *s = &n->socks[i];
    if (s->dtls && s->local.family == peer->family)
      return nb_dtls_server_nudge(nb_io_dtls_server(s->dtls), peer);
  }
  return NB_ERR_NOT_FOUND;
}

size_t nb_io_srv_export_sessions(nb_io_srv *n, void (*fn)(void *user, const nb_dtls_saved *sv),
                                 void *user, size_t *skipped) {
  size_t given = 0, other = 0;
  for (size_t i = 0; i < n->nsocks; i++) {
    size_t o = 0;
    if (!n->socks[i].dtls) continue;
    given += nb_dtls_server_export(nb_io_dtls_server(n->socks[i].dtls), fn, user, &o);
    other += o;
  }
  if (skipped) *skipped = other;
  return given;
}

nb_err nb_io_srv_restore_session(nb_io_srv *n, const nb_dtls_saved *sv) {
  for (size_t i = 0; i < n->nsocks; i++) {
    nb_io_srv_sock *s = &n->socks[i];
    if (!s->dtls || s->local.family != sv->peer.family) continue;
    nb_err err = nb_dtls_server_restore(nb_io_dtls_server(s->dtls), sv, nb_io_loop_time(n->loop));
    if (err == NB_OK) nb_io_srv_route_note(n, &sv->peer, s->index, nb_io_loop_time(n->loop));
    return err;
  }
  return NB_ERR_NOT_FOUND;
}

void nb_io_srv_set_nudge_rate(nb_io_srv *n, unsigned per_s) { n->nudges_per_s = per_s; }

/* ---- lifecycle ---- */

nb_err nb_io_srv_new(nb_io_loop *loop, nb_io_srv_recv_fn recv, void *user, nb_io_srv **out) {
  if (!loop || !recv || !out) return NB_ERR_INVAL;
  nb_io_srv *n = calloc(1, sizeof *n);
  if (!n) return NB_ERR_NOMEM;
  n->loop = loop;
  n->recv = recv;
  n->user = user;
  nb_err err = nb_random_bytes(&n->seed, sizeof n->seed);
  if (err == NB_OK) err = nb_coap_hmap_init(&n->routes);
  if (err != NB_OK) {
    free(n);
    return err;
  }
  uv_timer_init(nb_io_loop_uv(loop), &n->sweep);
  n->sweep.data = n;
  n->sweep_open = true;
  uv_timer_start(&n->sweep, nb_io_srv_on_sweep, NB_IO_SRV_SWEEP_MS, NB_IO_SRV_SWEEP_MS);
  uv_unref((uv_handle_t *)&n->sweep);
  *out = n;
  return NB_OK;
}

static void nb_io_srv_sweep_closed(uv_handle_t *h) { free(h->data); }

void nb_io_srv_free(nb_io_srv *n) {
  if (!n) return;
  for (size_t i = 0; i < n->nsocks; i++) {
    if (n->socks[i].dtls) nb_io_dtls_free(n->socks[i].dtls);
    nb_io_udp_close(n->socks[i].udp);
  }
  nb_coap_hnode *node;
  while ((node = nb_coap_hmap_pop(&n->routes)) != NULL) free(node);
  nb_coap_hmap_deinit(&n->routes);
  uv_close((uv_handle_t *)&n->sweep, nb_io_srv_sweep_closed);
}

static nb_err nb_io_srv_open(nb_io_srv *n, const nb_addr *local, nb_io_srv_sock **out) {
  if (n->nsocks == NB_IO_SRV_MAX_SOCKETS) return NB_ERR_BUSY;
  nb_io_srv_sock *s = &n->socks[n->nsocks];
  memset(s, 0, sizeof *s);
  nb_err err = nb_io_udp_open(n->loop, local, NULL, &s->udp);
  if (err != NB_OK) return err;
  s->owner = n;
  s->index = (uint8_t)n->nsocks;
  nb_io_udp_local_addr(s->udp, &s->local);
  *out = s;
  return NB_OK;
}

nb_err nb_io_srv_listen_coap(nb_io_srv *n, const nb_addr *local, nb_addr *bound) {
  nb_io_srv_sock *s;
  nb_err err = nb_io_srv_open(n, local, &s);
  if (err != NB_OK) return err;
  nb_io_udp_set_receiver(s->udp, nb_io_srv_plain_input, s);
  n->nsocks++;
  if (bound) *bound = s->local;
  return NB_OK;
}

nb_err nb_io_srv_listen_coaps(nb_io_srv *n, const nb_addr *local, const nb_dtls_creds *creds,
                              nb_addr *bound) {
  if (!creds) return NB_ERR_INVAL;
  nb_io_srv_sock *s;
  nb_err err = nb_io_srv_open(n, local, &s);
  if (err != NB_OK) return err;
  nb_io_dtls_config cfg;
  nb_io_dtls_config_default(&cfg, NB_IO_DTLS_SERVER);
  cfg.creds = creds;
  if (n->nudges_per_s) cfg.server.nudges_per_s = n->nudges_per_s;
  err = nb_io_dtls_new(n->loop, s->udp, &cfg, &s->dtls);
  if (err != NB_OK) {
    nb_io_udp_close(s->udp);
    return err;
  }
  nb_io_dtls_set_upper(s->dtls, nb_io_srv_dtls_input, s);
  n->nsocks++;
  if (bound) *bound = s->local;
  return NB_OK;
}

void nb_io_srv_get_stats(const nb_io_srv *n, nb_io_srv_stats *out) {
  *out = n->stats;
  out->routes = n->routes.count;
}

/* ---- identities and store-backed credential hooks ---- */

/* Runs for every datagram of a DTLS peer: bounded copies of what is set, no clearing of the
 * whole (400-byte) record nor formatting. */
void nb_io_srv_identity(const nb_dtls_peer *p, nb_server_identity *out) {
  const char *value = "";
  switch (p->mode) {
    case NB_DTLS_MODE_PSK:
      out->kind = NB_SERVER_ID_PSK;
      value = p->identity;
      break;
    case NB_DTLS_MODE_RPK:
      out->kind = NB_SERVER_ID_RPK;
      value = p->secure_id;
      break;
    case NB_DTLS_MODE_X509:
      out->kind = NB_SERVER_ID_X509;
      value = p->common_name;
      break;
    default:
      out->kind = NB_SERVER_ID_NONE;
      break;
  }
  size_t n = strnlen(value, sizeof out->value - 1);
  memcpy(out->value, value, n);
  out->value[n] = '\0';
  out->key_len = 0;
  if ((out->kind == NB_SERVER_ID_RPK || out->kind == NB_SERVER_ID_X509) &&
      p->spki_len <= sizeof out->key) {
    out->key_len = p->spki_len;
    memcpy(out->key, p->spki, out->key_len);
  }
}

nb_err nb_io_srv_store_psk_lookup(void *store, const uint8_t *identity, size_t identity_len,
                                  uint8_t *key, size_t cap, size_t *key_len) {
  const nb_server_store *st = store;
  char id[NB_SERVER_IDENT_MAX];
  if (identity_len == 0 || identity_len >= sizeof id || memchr(identity, 0, identity_len))
    return NB_ERR_NOT_FOUND;
  memcpy(id, identity, identity_len);
  id[identity_len] = '\0';
  nb_server_sec_info sec;
  nb_err err = st->ops->sec_find(st->self, NB_SERVER_ID_PSK, id, &sec);
  if (err != NB_OK) return NB_ERR_NOT_FOUND;
  if (sec.key_len == 0 || sec.key_len > cap) {
    memset(&sec, 0, sizeof sec);
    return NB_ERR_NOT_FOUND;
  }
  memcpy(key, sec.key, sec.key_len);
  *key_len = sec.key_len;
  memset(&sec, 0, sizeof sec); /* do not leave the key on the stack */
  return NB_OK;
}

nb_err nb_io_srv_store_verify(void *store, const nb_dtls_peer *peer, const uint8_t *raw,
                              size_t raw_len) {
  (void)raw;
  (void)raw_len;
  const nb_server_store *st = store;
  nb_server_identity id;
  nb_io_srv_identity(peer, &id);
  if (id.kind != NB_SERVER_ID_RPK && id.kind != NB_SERVER_ID_X509) return NB_ERR_UNSUPPORTED;
  if (!id.value[0]) return NB_ERR_DTLS_PEER_REJECTED;
  nb_server_sec_info sec;
  nb_err err = st->ops->sec_find(st->self, id.kind, id.value, &sec);
  memset(&sec, 0, sizeof sec);
  if (err != NB_OK) {
    NB_LOG_INFO(NB_IO_SRV_MOD, "event=peer_refused mode=%s identity=%s reason=not_in_store",
                nb_dtls_mode_name(peer->mode), id.value);
    return NB_ERR_DTLS_PEER_REJECTED;
  }
  return NB_OK;
}
