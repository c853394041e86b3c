/* The bootstrap role in the server process and its REST routes: see bs_host.h. The engine is
 * authoritative for what is pending; the store mirrors it so that `niobium bootstrap pending
 * --db` sees the same list, and decisions taken there are polled twice a second. */
#include "http/bs_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "dtls/cred.h"
#include "io/dtls_server_io.h"

#define MOD "bootstrap"
#define DECISION_POLL_MS 500

struct nb_http_bs {
  nb_io_loop *loop;
  nb_bs_engine *bs;
  nb_bs_store *st;
  nb_io_srv *net;
  nb_dtls_creds *creds;
  nb_addr coap, coaps;
  bool has_coap, has_coaps;
  nb_io_deadline *deadline;
  uv_timer_t poll; /* operator decisions made by other processes, through the store */
  nb_http_remote_store *remote;
  nb_http_client *http; /* asynchronous installs (remote only) */
  nb_server *server;    /* the management server in this process, whose registrations we see */
  bool closing;
};

static void host_receive(void *user, const nb_addr *peer, const nb_server_identity *id,
                         const uint8_t *data, size_t len, nb_time_ms now) {
  nb_http_bs *h = user;
  nb_bs_engine_receive(h->bs, peer, id, data, len, now);
}

static void on_tick(void *user, nb_time_ms now) {
  nb_http_bs *h = user;
  nb_bs_engine_tick(h->bs, now);
}

static nb_time_ms next_deadline(void *user, nb_time_ms now) {
  (void)now;
  nb_http_bs *h = user;
  return nb_bs_engine_next_deadline(h->bs);
}

static nb_err apply_decision(void *user, const char *ep, bool approve) {
  nb_http_bs *h = user;
  nb_time_ms now = nb_io_loop_now(h->loop);
  return approve ? nb_bs_engine_approve(h->bs, ep, now) : nb_bs_engine_reject(h->bs, ep, now);
}

static void on_poll(uv_timer_t *t) {
  nb_http_bs *h = t->data;
  nb_bs_store_take_decisions(h->st, apply_decision, h);
}

/* Mirrors the engine's pending set into the store. */
static void on_event(void *user, const nb_bs_event *ev) {
  nb_http_bs *h = user;
  char peer[NB_ADDR_STRLEN] = "";
  if (ev->peer) nb_addr_format(ev->peer, peer, sizeof peer);
  if (ev->type == NB_BS_EV_PENDING)
    nb_bs_store_pending_put(h->st, ev->ep, peer, (int64_t)time(NULL));
  else if (ev->type == NB_BS_EV_APPROVED && ev->deferred) /* for the device's next request */
    nb_bs_store_pending_mark(h->st, ev->ep, "approved");
  else if (ev->type == NB_BS_EV_APPROVED || ev->type == NB_BS_EV_REJECTED ||
           ev->type == NB_BS_EV_EVICTED)
    nb_bs_store_pending_del(h->st, ev->ep);
}

/* A device registered with the management server in this process: proof it took its Finish. */
static void on_registration(void *user, const nb_server_event *ev) {
  nb_http_bs *h = user;
  if (ev->type == NB_SEV_REGISTRATION && ev->reg)
    nb_bs_engine_registered(h->bs, ev->reg->ep, &ev->reg->identity, ev->now);
}

static void on_installed(void *user, uint64_t ticket, nb_err result) {
  nb_http_bs *h = user;
  if (h->closing) return; /* the engine is going away with its sessions */
  nb_bs_engine_install_done(h->bs, ticket, result, nb_io_loop_now(h->loop));
}

static nb_err start_install(void *user, uint64_t ticket, const char *ep,
                            const nb_server_sec_info *cred) {
  nb_http_bs *h = user;
  return nb_http_remote_store_install(h->remote, h->http, ticket, ep, cred, on_installed, h);
}

/* Unix ms minus the loop's clock: the engine's iat and evidence times. */
static int64_t unix_offset(nb_io_loop *loop) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - nb_io_loop_now(loop);
}

static nb_err make_creds(nb_http_bs *h, const nb_http_bs_config *cfg) {
  nb_err e = nb_dtls_creds_new(&h->creds);
  if (e != NB_OK) return e;
  nb_dtls_creds_set_psk_lookup(h->creds, nb_bs_engine_psk_lookup, h->bs);
  nb_dtls_creds_set_verify(h->creds, nb_bs_engine_verify_peer, h->bs);
  if (cfg->rpk_key && cfg->rpk_key_len)
    e = nb_dtls_creds_set_rpk(h->creds, cfg->rpk_key, cfg->rpk_key_len);
  if (e == NB_OK && cfg->cert && cfg->cert_len)
    e = nb_dtls_creds_set_x509(h->creds, cfg->cert, cfg->cert_len, cfg->cert_key,
                               cfg->cert_key_len);
  for (size_t i = 0; i < cfg->nca && e == NB_OK; i++)
    e = nb_dtls_creds_add_trust(h->creds, cfg->ca[i], cfg->ca_len[i]);
  return e;
}

static nb_err listen_one(nb_http_bs *h, const nb_addr *local, bool secure) {
  nb_addr *bound = secure ? &h->coaps : &h->coap;
  nb_err e = secure ? nb_io_srv_listen_coaps(h->net, local, h->creds, bound)
                    : nb_io_srv_listen_coap(h->net, local, bound);
  if (e != NB_OK) return e;
  char buf[NB_ADDR_STRLEN];
  NB_LOG_INFO(MOD, "event=listening role=bootstrap proto=%s addr=%s", secure ? "coaps" : "coap",
              nb_addr_format(bound, buf, sizeof buf));
  if (secure)
    h->has_coaps = true;
  else
    h->has_coap = true;
  return NB_OK;
}

static void host_destroy(nb_http_bs *h) {
  nb_bs_engine_free(h->bs);
  nb_dtls_creds_free(h->creds);
  nb_bs_store_close(h->st);
  free(h);
}

nb_err nb_http_bs_new(nb_io_loop *loop, const nb_http_bs_config *cfg, nb_http_bs **out) {
  nb_http_bs *h = calloc(1, sizeof *h);
  if (!h) return NB_ERR_NOMEM;
  h->loop = loop;
  nb_err e = nb_bs_store_open(cfg->db, &h->st);
  nb_bs_engine_config ec;
  nb_bs_engine_config_default(&ec);
  ec.policy = cfg->policy;
  if (cfg->max_sessions) ec.max_sessions = cfg->max_sessions;
  if (cfg->max_pending) ec.max_pending = cfg->max_pending;
  ec.dm_store = cfg->dm_store;
  /* Signed bootstraps are signed with the key the devices see in the DTLS handshake. */
  if (cfg->coaps && cfg->rpk_key && cfg->rpk_key_len) {
    ec.sign_key = cfg->rpk_key;
    ec.sign_key_len = cfg->rpk_key_len;
  }
  if (cfg->coaps && cfg->cert && cfg->cert_len && cfg->cert_key && cfg->cert_key_len) {
    ec.sign_key_x509 = cfg->cert_key;
    ec.sign_key_x509_len = cfg->cert_key_len;
  }
  ec.x509_default_config = cfg->x509_default_config;
  ec.unix_offset_ms = unix_offset(loop);
  if (cfg->remote) {
    h->remote = cfg->remote;
    ec.install = start_install;
    ec.install_user = h;
    if (e == NB_OK) e = nb_http_client_new(nb_io_loop_uv(loop), 0, &h->http);
  }
  if (e == NB_OK) {
    ec.source = nb_bs_store_source(h->st);
    e = nb_io_srv_new(loop, host_receive, h, &h->net);
  }
  if (e == NB_OK) e = nb_bs_engine_new(&ec, nb_io_srv_send, h->net, &h->bs);
  if (e == NB_OK) e = nb_bs_engine_add_listener(h->bs, on_event, h);
  if (e == NB_OK)
    e = nb_bs_store_restore_pending(h->st, h->bs, cfg->policy == NB_BS_POLICY_APPROVE,
                                    nb_io_loop_now(loop));
  if (e == NB_OK && cfg->coaps) e = make_creds(h, cfg);
  if (e == NB_OK && cfg->coap) e = listen_one(h, cfg->coap, false);
  if (e == NB_OK && cfg->coaps) e = listen_one(h, cfg->coaps, true);
  if (e == NB_OK) e = nb_io_deadline_new(loop, next_deadline, on_tick, h, &h->deadline);
  if (e == NB_OK && cfg->server &&
      (e = nb_server_add_listener(cfg->server, on_registration, h)) == NB_OK)
    h->server = cfg->server;
  if (e != NB_OK) {
    h->closing = true;
    nb_http_client_free(h->http);
    nb_io_srv_free(h->net);
    host_destroy(h);
    return e;
  }
  uv_timer_init(nb_io_loop_uv(loop), &h->poll);
  h->poll.data = h;
  uv_timer_start(&h->poll, on_poll, DECISION_POLL_MS, DECISION_POLL_MS);
  NB_LOG_INFO(MOD, "event=running role=bootstrap policy=%s",
              cfg->policy == NB_BS_POLICY_AUTO ? "auto" : "approve");
  *out = h;
  return NB_OK;
}

static void on_closed(uv_handle_t *handle) { host_destroy(handle->data); }

void nb_http_bs_free(nb_http_bs *h) {
  if (!h) return;
  h->closing = true;
  if (h->server) nb_server_remove_listener(h->server, on_registration, h);
  nb_http_client_free(h->http); /* cancels installs in flight */
  h->http = NULL;
  nb_io_srv_free(h->net);
  h->net = NULL;
  nb_io_deadline_close(h->deadline);
  uv_close((uv_handle_t *)&h->poll, on_closed);
}

nb_bs_engine *nb_http_bs_engine(nb_http_bs *h) { return h->bs; }

nb_err nb_http_bs_bound(const nb_http_bs *h, bool secure, nb_addr *out) {
  if (secure ? !h->has_coaps : !h->has_coap) return NB_ERR_NOT_FOUND;
  *out = secure ? h->coaps : h->coap;
  return NB_OK;
}

nb_bs_store *nb_http_bs_store(nb_http_bs *h) { return h->st; }

nb_err nb_http_bs_decide(nb_http_bs *h, const char *ep, bool approve) {
  return apply_decision(h, ep, approve);
}
