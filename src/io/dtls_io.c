/* DTLS between a UDP socket and the CoAP endpoint: server context or per-peer client sessions,
 * one timer at the DTLS deadline. */
#include "io/dtls_io.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#define NB_IO_DTLS_MOD "dtls-io"

typedef struct {
  nb_addr peer;
  nb_dtls_session *s;
} nb_io_dtls_peer;

struct nb_io_dtls {
  nb_io_loop *loop;
  nb_io_udp *udp;
  nb_io_dtls_config cfg;
  nb_dtls_handlers handlers;
  nb_dtls_server *server; /* server role */
  nb_io_dtls_peer *peers; /* client role: one session per server peer */
  size_t peer_count, peer_cap;
  nb_io_datagram_fn upper;
  void *upper_user;
  nb_io_deadline *deadline;
  uint64_t dropped;
};

void nb_io_dtls_config_default(nb_io_dtls_config *cfg, nb_io_dtls_role role) {
  memset(cfg, 0, sizeof *cfg);
  cfg->role = role;
  nb_dtls_session_params_default(&cfg->session);
  nb_dtls_server_config_default(&cfg->server);
}

/* ---- client sessions ---- */

static nb_io_dtls_peer *nb_io_dtls_find(nb_io_dtls *d, const nb_addr *peer) {
  for (size_t i = 0; i < d->peer_count; i++) {
    if (nb_addr_equal(&d->peers[i].peer, peer)) return &d->peers[i];
  }
  return NULL;
}

/* Forgets a client session (freed once the outermost DTLS call returns). */
static void nb_io_dtls_forget(nb_io_dtls *d, const nb_dtls_session *s) {
  for (size_t i = 0; i < d->peer_count; i++) {
    if (d->peers[i].s != s) continue;
    nb_dtls_session_free(d->peers[i].s);
    d->peers[i] = d->peers[--d->peer_count];
    return;
  }
}

static nb_err nb_io_dtls_connect(nb_io_dtls *d, const nb_addr *peer, nb_dtls_session **out) {
  if (d->peer_count == d->peer_cap) {
    size_t cap = d->peer_cap ? d->peer_cap * 2 : 4;
    nb_io_dtls_peer *grown = realloc(d->peers, cap * sizeof *grown);
    if (!grown) return NB_ERR_NOMEM;
    d->peers = grown;
    d->peer_cap = cap;
  }
  nb_dtls_session *s;
  nb_err err = nb_dtls_client_new(d->cfg.creds, &d->cfg.session, &d->handlers, peer,
                                  nb_io_loop_now(d->loop), &s);
  if (err != NB_OK) return err;
  d->peers[d->peer_count++] = (nb_io_dtls_peer){*peer, s};
  *out = s;
  return NB_OK;
}

/* ---- DTLS callbacks ---- */

static void nb_io_dtls_on_send(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  nb_io_dtls *d = user;
  nb_io_udp_send(d->udp, peer, data, len);
}

static void nb_io_dtls_on_recv(void *user, const nb_addr *peer, const uint8_t *data, size_t len,
                               nb_time_ms now) {
  (void)now;
  nb_io_dtls *d = user;
  if (d->upper) d->upper(d->upper_user, peer, data, len);
}

static void nb_io_dtls_log_event(const nb_addr *peer, nb_dtls_session *s, const nb_dtls_event *ev) {
  char who[NB_ADDR_STRLEN];
  nb_addr_format(peer, who, sizeof who);
  if (ev->type == NB_DTLS_EV_ESTABLISHED) {
    const nb_dtls_peer *p = nb_dtls_session_peer(s);
    NB_LOG_DEBUG(NB_IO_DTLS_MOD, "event=established peer=%s suite=%s mode=%s resumed=%d", who,
                 nb_dtls_session_suite(s), p ? nb_dtls_mode_name(p->mode) : "?", ev->resumed);
  } else {
    NB_LOG_DEBUG(NB_IO_DTLS_MOD, "event=%s peer=%s err=%s alert=%s alert_by=%s",
                 ev->type == NB_DTLS_EV_CLOSED ? "closed" : "failed", who, nb_err_name(ev->err),
                 ev->alert >= 0 ? nb_dtls_alert_name(ev->alert) : "none",
                 ev->alert < 0    ? "none"
                 : ev->alert_sent ? "us"
                                  : "peer");
  }
}

static void nb_io_dtls_on_event(void *user, const nb_addr *peer, nb_dtls_session *s,
                                const nb_dtls_event *ev, nb_time_ms now) {
  nb_io_dtls *d = user;
  nb_io_dtls_log_event(peer, s, ev);
  if (d->cfg.event) d->cfg.event(d->cfg.event_user, peer, s, ev, now);
  /* A client session that is over is replaced by a fresh one at the next datagram. */
  if (d->cfg.role == NB_IO_DTLS_CLIENT && ev->type != NB_DTLS_EV_ESTABLISHED) {
    nb_io_dtls_forget(d, s);
  }
}

/* ---- timer ---- */

static nb_time_ms nb_io_dtls_deadline(const nb_io_dtls *d) {
  if (d->server) return nb_dtls_server_next_deadline(d->server);
  nb_time_ms next = NB_TIME_NEVER;
  for (size_t i = 0; i < d->peer_count; i++) {
    next = nb_time_min(next, nb_dtls_session_next_deadline(d->peers[i].s));
  }
  return next;
}

static void nb_io_dtls_tick(void *user, nb_time_ms now) {
  nb_io_dtls *d = user;
  if (d->server) {
    nb_dtls_server_tick(d->server, now);
    return;
  }
  /* Backwards: a session that fails while ticking swaps the last (already ticked) entry in. */
  for (size_t i = d->peer_count; i-- > 0;) {
    if (i < d->peer_count) nb_dtls_session_tick(d->peers[i].s, now);
  }
}

/* Before the loop waits: the timer follows whatever the iteration did to the sessions. */
static nb_time_ms nb_io_dtls_next(void *user, nb_time_ms now) {
  (void)now;
  return nb_io_dtls_deadline(user);
}

/* ---- datagrams ---- */

/* Socket -> DTLS. */
static void nb_io_dtls_input(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  nb_io_dtls *d = user;
  nb_time_ms now = nb_io_loop_time(d->loop);
  if (d->server) {
    nb_dtls_server_receive(d->server, peer, data, len, now);
    return;
  }
  nb_io_dtls_peer *p = nb_io_dtls_find(d, peer);
  if (!p) {
    d->dropped++; /* a client only talks to servers it contacted */
    return;
  }
  nb_dtls_session_receive(p->s, data, len, now);
}

void nb_io_dtls_send(void *dtls, const nb_addr *peer, const uint8_t *data, size_t len) {
  nb_io_dtls *d = dtls;
  nb_err err;
  if (d->server) {
    err = nb_dtls_server_send(d->server, peer, data, len);
  } else {
    nb_io_dtls_peer *p = nb_io_dtls_find(d, peer);
    nb_dtls_session *s = p ? p->s : NULL;
    err = s ? NB_OK : nb_io_dtls_connect(d, peer, &s);
    if (err == NB_OK) err = nb_dtls_session_send(s, data, len);
  }
  if (err != NB_OK) {
    d->dropped++;
    char who[NB_ADDR_STRLEN];
    NB_LOG_DEBUG(NB_IO_DTLS_MOD, "event=send_dropped peer=%s err=%s",
                 nb_addr_format(peer, who, sizeof who), nb_err_name(err));
  }
}

/* ---- lifecycle ---- */

nb_err nb_io_dtls_new(nb_io_loop *loop, nb_io_udp *udp, const nb_io_dtls_config *cfg,
                      nb_io_dtls **out) {
  if (!cfg || !cfg->creds) return NB_ERR_INVAL;
  nb_io_dtls *d = calloc(1, sizeof *d);
  if (!d) return NB_ERR_NOMEM;
  d->loop = loop;
  d->udp = udp;
  d->cfg = *cfg;
  d->handlers = (nb_dtls_handlers){nb_io_dtls_on_send, nb_io_dtls_on_recv, nb_io_dtls_on_event, d};
  nb_err err = NB_OK;
  if (cfg->role == NB_IO_DTLS_SERVER)
    err = nb_dtls_server_new(&d->cfg.server, cfg->creds, &d->handlers, &d->server);
  if (err == NB_OK)
    err = nb_io_deadline_new(loop, nb_io_dtls_next, nb_io_dtls_tick, d, &d->deadline);
  if (err != NB_OK) {
    nb_dtls_server_free(d->server);
    free(d);
    return err;
  }
  nb_io_udp_set_receiver(udp, nb_io_dtls_input, d);
  *out = d;
  return NB_OK;
}

void nb_io_dtls_set_upper(nb_io_dtls *d, nb_io_datagram_fn fn, void *user) {
  d->upper = fn;
  d->upper_user = user;
}

void nb_io_dtls_close_peers(nb_io_dtls *d, const nb_addr *peer) {
  nb_time_ms now = nb_io_loop_now(d->loop);
  if (d->server) {
    if (peer) nb_dtls_server_close(d->server, peer, now);
    return;
  }
  for (size_t i = 0; i < d->peer_count; i++) nb_dtls_session_close(d->peers[i].s, now);
}

nb_dtls_server *nb_io_dtls_server(nb_io_dtls *d) { return d->server; }

nb_dtls_session *nb_io_dtls_session(nb_io_dtls *d, const nb_addr *peer) {
  if (d->server) return nb_dtls_server_find(d->server, peer);
  nb_io_dtls_peer *p = nb_io_dtls_find(d, peer);
  return p ? p->s : NULL;
}

uint64_t nb_io_dtls_dropped(const nb_io_dtls *d) { return d->dropped; }

void nb_io_dtls_free(nb_io_dtls *d) {
  if (!d) return;
  nb_io_udp_set_receiver(d->udp, NULL, NULL);
  nb_dtls_server_free(d->server);
  for (size_t i = 0; i < d->peer_count; i++) nb_dtls_session_free(d->peers[i].s);
  free(d->peers);
  nb_io_deadline_close(d->deadline);
  free(d);
}

nb_err nb_io_dtls_coap_open(nb_io_loop *loop, const nb_addr *local, const nb_io_dtls_config *dcfg,
                            const nb_coap_ep_config *ccfg, nb_io_udp **udp, nb_io_dtls **dtls,
                            nb_io_coap **coap) {
  nb_err err = nb_io_udp_open(loop, local, NULL, udp);
  if (err != NB_OK) return err;
  err = nb_io_dtls_new(loop, *udp, dcfg, dtls);
  if (err == NB_OK) {
    err = nb_io_coap_new(loop, ccfg, nb_io_dtls_send, *dtls, coap);
    if (err != NB_OK) nb_io_dtls_free(*dtls);
  }
  if (err != NB_OK) {
    nb_io_udp_close(*udp);
    return err;
  }
  nb_io_dtls_set_upper(*dtls, nb_io_coap_input, *coap);
  return NB_OK;
}
