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

/* ---- REST routes ---- */

static json_t *err_json(unsigned *status, unsigned st, const char *msg, const char *code) {
  *status = st;
  return json_pack("{s:s,s:s}", "error", msg, "code", code);
}

/* "default" names the default config; other names are endpoints. */
static bool ep_of(const char *seg, size_t len, char *ep) {
  if (len == 0 || len >= NB_BS_EP_MAX) return false;
  memcpy(ep, seg, len);
  ep[len] = '\0';
  if (strcmp(ep, "default") == 0) ep[0] = '\0';
  return true;
}

/* A config as the API shows it: a PSK an operator set is a secret, so only its presence is
 * shown, as for /api/security/clients (export through the CLI keeps it for backups). */
static json_t *config_json(const nb_bs_config *c) {
  char *text = NULL;
  if (nb_bs_config_to_json(c, &text) != NB_OK) return NULL;
  json_t *j = json_loads(text, 0, NULL);
  free(text);
  if (json_object_del(j, "ca_key") == 0) json_object_set_new(j, "ca_key_set", json_true());
  size_t i;
  json_t *server;
  json_array_foreach(json_object_get(j, "servers"), i, server) {
    if (json_object_del(server, "psk_key") == 0) {
      json_object_set_new(server, "psk_key_set", json_true());
    }
  }
  return j;
}

static nb_err add_config(void *user, const nb_bs_config *c) {
  json_t *j = config_json(c);
  return j && json_array_append_new(user, j) == 0 ? NB_OK : NB_ERR_NOMEM;
}

static json_t *config_put(nb_http_bs *h, const char *ep, const char *body, unsigned *status) {
  nb_bs_config cfg;
  char why[160] = "";
  if (nb_bs_config_from_json(body ? body : "", &cfg, why, sizeof why) != NB_OK)
    return err_json(status, 400, why[0] ? why : "bad bootstrap config", "4.00");
  snprintf(cfg.ep, sizeof cfg.ep, "%s", ep); /* the URL names the endpoint */
  nb_bs_config old;
  bool existed = nb_bs_store_config_get(h->st, ep, &old) == NB_OK;
  if (nb_bs_store_config_put(h->st, &cfg) != NB_OK)
    return err_json(status, 500, "the store refused the config", "5.00");
  *status = existed ? 200 : 201;
  return config_json(&cfg);
}

static json_t *config_route(nb_http_bs *h, const char *method, const char *rest, const char *body,
                            unsigned *status) {
  if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
    if (strcmp(method, "GET") != 0) return err_json(status, 405, "use GET", "4.05");
    json_t *a = json_array();
    if (nb_bs_store_config_each(h->st, add_config, a) != NB_OK) {
      json_decref(a);
      return err_json(status, 500, "cannot read the configs", "5.00");
    }
    *status = 200;
    return a;
  }
  char ep[NB_BS_EP_MAX];
  if (strchr(rest + 1, '/') || !ep_of(rest + 1, strlen(rest + 1), ep))
    return err_json(status, 404, "not found", "4.04");
  if (strcmp(method, "PUT") == 0) return config_put(h, ep, body, status);
  if (strcmp(method, "GET") == 0) {
    nb_bs_config cfg;
    if (nb_bs_store_config_get(h->st, ep, &cfg) != NB_OK)
      return err_json(status, 404, "no config for this endpoint", "4.04");
    *status = 200;
    return config_json(&cfg);
  }
  if (strcmp(method, "DELETE") == 0) {
    if (nb_bs_store_config_del(h->st, ep) != NB_OK)
      return err_json(status, 404, "no config for this endpoint", "4.04");
    *status = 200;
    return json_pack("{s:s}", "deleted", ep[0] ? ep : "default");
  }
  return err_json(status, 405, "use GET, PUT or DELETE", "4.05");
}

static nb_err add_pending(void *user, const char *ep, const char *peer, int64_t at,
                          const char *decision) {
  (void)decision;
  json_array_append_new(
      user, json_pack("{s:s,s:s,s:I}", "endpoint", ep, "peer", peer, "since", (json_int_t)at));
  return NB_OK;
}

/* What a pending request waits for (docs/openapi.yaml). */
static const char *pending_state(nb_bs_pend_state st) {
  return st == NB_BS_PEND_GONE       ? "request-gone"
         : st == NB_BS_PEND_APPROVED ? "approved"
                                     : "waiting";
}

static json_t *pending_list(nb_http_bs *h, unsigned *status) {
  char(*eps)[NB_BS_EP_MAX] = calloc(256, sizeof *eps);
  if (!eps) return err_json(status, 500, "out of memory", "5.00");
  size_t n = nb_bs_engine_pending(h->bs, eps, 256);
  json_t *fromdb = json_array(), *out = json_array();
  /* The engine says what is pending; the store adds where from and since when. */
  nb_bs_store_pending_each(h->st, add_pending, fromdb);
  for (size_t i = 0; i < n && i < 256; i++) {
    json_t *row = NULL, *v;
    size_t k;
    json_array_foreach(fromdb, k, v) {
      if (strcmp(json_string_value(json_object_get(v, "endpoint")), eps[i]) == 0) row = v;
    }
    json_t *item = row ? json_deep_copy(row) : json_pack("{s:s}", "endpoint", eps[i]);
    if (item)
      json_object_set_new(item, "state",
                          json_string(pending_state(nb_bs_engine_pending_state(h->bs, eps[i]))));
    json_array_append_new(out, item);
  }
  json_decref(fromdb);
  free(eps);
  *status = 200;
  return out;
}

static json_t *pending_route(nb_http_bs *h, const char *method, const char *rest,
                             unsigned *status) {
  if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
    if (strcmp(method, "GET") != 0) return err_json(status, 405, "use GET", "4.05");
    return pending_list(h, status);
  }
  const char *seg = rest + 1, *slash = strchr(seg, '/');
  char ep[NB_BS_EP_MAX];
  if (!slash || !ep_of(seg, (size_t)(slash - seg), ep) || !ep[0])
    return err_json(status, 404, "not found", "4.04");
  bool approve = strcmp(slash, "/approve") == 0;
  if (!approve && strcmp(slash, "/reject") != 0)
    return err_json(status, 404, "use .../approve or .../reject", "4.04");
  if (strcmp(method, "POST") != 0) return err_json(status, 405, "use POST", "4.05");
  bool gone = nb_bs_engine_pending_state(h->bs, ep) >= NB_BS_PEND_GONE;
  nb_err e = apply_decision(h, ep, approve);
  if (e == NB_ERR_NOT_FOUND) return err_json(status, 404, "this endpoint is not pending", "4.04");
  if (e != NB_OK) return err_json(status, 500, nb_strerror(e), "5.00");
  *status = 200;
  /* A request a restart dropped: the approval waits for the device's next request. */
  return json_pack("{s:s,s:s,s:s}", "endpoint", ep, "decision", approve ? "approved" : "rejected",
                   "applies", gone && approve ? "next-request" : "now");
}

static bool is_secure_id(const char *s) {
  if (!s || strlen(s) != NB_DTLS_SECURE_ID_LEN) return false;
  for (; *s; s++)
    if (!strchr("0123456789abcdef", *s)) return false;
  return true;
}

static json_t *expected_route(nb_http_bs *h, const char *method, const char *rest, const char *body,
                              size_t body_len, unsigned *status) {
  char ep[NB_BS_EP_MAX];
  if (rest[0] != '/' || strchr(rest + 1, '/') || !ep_of(rest + 1, strlen(rest + 1), ep) || !ep[0])
    return err_json(status, 404, "not found", "4.04");
  if (strcmp(method, "DELETE") == 0) {
    if (nb_bs_store_cred_del(h->st, ep) != NB_OK)
      return err_json(status, 404, "nothing registered for this endpoint", "4.04");
    *status = 200;
    return json_pack("{s:s}", "deleted", ep);
  }
  if (strcmp(method, "PUT") != 0) return err_json(status, 405, "use PUT or DELETE", "4.05");
  json_t *b = json_loadb(body ? body : "", body_len, 0, NULL);
  const char *sid = json_string_value(json_object_get(b, "secureId"));
  if (!is_secure_id(sid)) {
    json_decref(b);
    return err_json(status, 400,
                    "body must be {\"secureId\": \"<30 lowercase hex digits>\"} (niobium keys)",
                    "4.00");
  }
  nb_server_sec_info c = {.kind = NB_SERVER_ID_RPK};
  snprintf(c.ep, sizeof c.ep, "%s", ep);
  snprintf(c.identity, sizeof c.identity, "%s", sid);
  json_decref(b);
  if (nb_bs_store_cred_put(h->st, &c) != NB_OK)
    return err_json(status, 500, "the store refused the secure ID", "5.00");
  *status = 200;
  return json_pack("{s:s,s:s}", "endpoint", c.ep, "secureId", c.identity);
}

static json_t *evidence_route(nb_http_bs *h, const char *method, const char *rest,
                              unsigned *status) {
  char ep[NB_BS_EP_MAX], *text = NULL;
  if (rest[0] != '/' || strchr(rest + 1, '/') || !ep_of(rest + 1, strlen(rest + 1), ep) || !ep[0])
    return err_json(status, 404, "not found (use /api/bootstrap/evidence/{endpoint})", "4.04");
  if (strcmp(method, "GET") != 0) return err_json(status, 405, "use GET", "4.05");
  if (nb_bs_store_evidence_json(h->st, ep, &text) != NB_OK)
    return err_json(status, 500, "cannot read the evidence", "5.00");
  json_t *j = json_loads(text, 0, NULL);
  free(text);
  if (!j) return err_json(status, 500, "out of memory", "5.00");
  *status = 200;
  return j;
}

void nb_http_bs_route(nb_http_bs *h, const char *method, const char *rest, const char *body,
                      size_t body_len, unsigned *status, json_t **out) {
  if (strncmp(rest, "/configs", 8) == 0 && (rest[8] == '\0' || rest[8] == '/'))
    *out = config_route(h, method, rest + 8, body, status);
  else if (strncmp(rest, "/pending", 8) == 0 && (rest[8] == '\0' || rest[8] == '/'))
    *out = pending_route(h, method, rest + 8, status);
  else if (strncmp(rest, "/expected", 9) == 0)
    *out = expected_route(h, method, rest + 9, body, body_len, status);
  else if (strncmp(rest, "/evidence", 9) == 0)
    *out = evidence_route(h, method, rest + 9, status);
  else
    *out = err_json(status, 404, "no such route (see docs/openapi.yaml)", "4.04");
}
