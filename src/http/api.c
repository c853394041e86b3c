/* The REST API: its route table (the same paths, in the same order, as docs/openapi.yaml), the
 * checks every request passes before it reaches a handler, and the assembly of the daemon,
 * the event feed and the alert ring. See api.h. */
#include "http/api.h"

#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "http/api_bootstrap.h"
#include "http/api_clients.h"
#include "http/api_console.h"
#include "http/api_ctx.h"
#include "http/api_feed.h"
#include "http/api_firmware.h"
#include "http/api_health.h"
#include "http/api_models.h"
#include "http/api_security.h"
#include "http/console.h"
#include "http/guard.h"
#include "http/httpd.h"
#include "http/route.h"

#define MOD "http"

enum {
  SRV = NB_ROUTE_NEEDS_SERVER,
  STORE = NB_ROUTE_NEEDS_STORE,
  BS = NB_ROUTE_NEEDS_BOOTSTRAP,
  FW = NB_ROUTE_NEEDS_SERVER | NB_ROUTE_NEEDS_FIRMWARE,
};

/* The first pattern that matches a path names its resource (so the specific rows come before
 * "{path*}"); a method the resource has no row for answers 405. */
static const nb_route routes[] = {
    {"GET", "/api/clients", SRV, nb_api_clients_list, NULL},
    {"GET", "/api/clients/{ep}", SRV, nb_api_client_get, NULL},
    {"POST", "/api/clients/{ep}/composite", SRV, nb_api_client_composite, NULL},
    {"DELETE", "/api/clients/{ep}/composite/observe", SRV, nb_api_client_composite_cancel, NULL},
    {"GET", "/api/clients/{ep}/observations", SRV, nb_api_client_observations, NULL},
    {"DELETE", "/api/clients/{ep}/observations/{id}", SRV, nb_api_client_observation_cancel, NULL},
    {"GET", "/api/clients/{ep}/evidence", SRV, nb_api_client_evidence, NULL},
    {"POST", "/api/clients/{ep}/firmware", FW, nb_api_fw_client_update, NULL},
    {"GET", "/api/clients/{ep}/{path*}/history", SRV, nb_api_client_history, NULL},
    {"POST", "/api/clients/{ep}/{path*}/observe", SRV, nb_api_client_observe, NULL},
    {"DELETE", "/api/clients/{ep}/{path*}/observe", SRV, nb_api_client_observe_cancel, NULL},
    {"GET", "/api/clients/{ep}/{path*}/discover", SRV, nb_api_client_discover, NULL},
    {"PUT", "/api/clients/{ep}/{path*}/attributes", SRV, nb_api_client_attributes, NULL},
    {"GET", "/api/clients/{ep}/{path*}", SRV, nb_api_client_read, NULL},
    {"PUT", "/api/clients/{ep}/{path*}", SRV, nb_api_client_write, NULL},
    {"POST", "/api/clients/{ep}/{path*}", SRV, nb_api_client_post, NULL},
    {"DELETE", "/api/clients/{ep}/{path*}", SRV, nb_api_client_delete, NULL},
    {"GET", "/api/requests/{id}", SRV, nb_api_request_get, NULL},
    {"DELETE", "/api/requests/{id}", SRV, nb_api_request_cancel, NULL},
    {"GET", "/api/objectspecs", 0, nb_api_objectspecs_list, NULL},
    {"GET", "/api/objectspecs/{id}", 0, nb_api_objectspec_get, NULL},
    {"GET", "/api/security/clients", STORE, nb_api_security_list, NULL},
    {"POST", "/api/security/clients", STORE, nb_api_security_post, NULL},
    {"GET", "/api/security/clients/{ep}", STORE, nb_api_security_get, NULL},
    {"PUT", "/api/security/clients/{ep}", STORE, nb_api_security_put, NULL},
    {"DELETE", "/api/security/clients/{ep}", STORE, nb_api_security_delete, NULL},
    {"GET", "/api/bootstrap/configs", BS, nb_api_bs_configs_list, NULL},
    {"GET", "/api/bootstrap/configs/{name}", BS, nb_api_bs_config_get, NULL},
    {"PUT", "/api/bootstrap/configs/{name}", BS, nb_api_bs_config_put, NULL},
    {"DELETE", "/api/bootstrap/configs/{name}", BS, nb_api_bs_config_delete, NULL},
    {"GET", "/api/bootstrap/pending", BS, nb_api_bs_pending_list, NULL},
    {"POST", "/api/bootstrap/pending/{ep}/approve", BS, nb_api_bs_approve, NULL},
    {"POST", "/api/bootstrap/pending/{ep}/reject", BS, nb_api_bs_reject, NULL},
    {"GET", "/api/bootstrap/expected", BS, nb_api_bs_expected_list, NULL},
    {"PUT", "/api/bootstrap/expected/{ep}", BS, nb_api_bs_expected_put, NULL},
    {"DELETE", "/api/bootstrap/expected/{ep}", BS, nb_api_bs_expected_delete, NULL},
    {"GET", "/api/bootstrap/evidence/{ep}", BS, nb_api_bs_evidence, NULL},
    {"GET", "/api/firmware", FW, nb_api_fw_list, NULL},
    {"POST", "/api/firmware", FW, nb_api_fw_upload, nb_api_fw_upload_begin},
    {"GET", "/api/firmware/{sha256}", FW, nb_api_fw_get, NULL},
    {"DELETE", "/api/firmware/{sha256}", FW, nb_api_fw_delete, NULL},
    {"GET", "/api/campaigns", FW, nb_api_campaign_list, NULL},
    {"POST", "/api/campaigns", FW, nb_api_campaign_create, NULL},
    {"GET", "/api/campaigns/{id}", FW, nb_api_campaign_get, NULL},
    {"DELETE", "/api/campaigns/{id}", FW, nb_api_campaign_delete, NULL},
    {"POST", "/api/campaigns/{id}/pause", FW, nb_api_campaign_pause, NULL},
    {"POST", "/api/campaigns/{id}/resume", FW, nb_api_campaign_resume, NULL},
    {"POST", "/api/campaigns/{id}/cancel", FW, nb_api_campaign_cancel, NULL},
    {"GET", "/api/audit", STORE, nb_api_audit_list, NULL},
    {"GET", "/api/alerts", 0, nb_api_alerts_list, NULL},
    {"POST", "/api/alerts", 0, nb_api_alerts_post, NULL},
    {"GET", "/api/events", 0, nb_api_events, NULL},
    {"GET", "/api/health", 0, nb_api_health, NULL},
    {"GET", "/console/config.json", 0, nb_api_console_config, NULL},
    {"GET", "/", 0, nb_api_console_file, NULL},
    {"GET", "/console/{file*}", 0, nb_api_console_file, NULL},
};

struct nb_http_api {
  nb_api_ctx ctx; /* first: the handlers' view of the API (each request's app) */
  nb_http_api_config cfg;
  bool has_token;
  uint8_t token_hash[32]; /* SHA-256 of the token: compared, never the token itself */
  char csp[NB_CONSOLE_CSP_MAX];
  nb_http_guard guard;
  nb_httpd *httpd;
  uv_timer_t keepalive;
  uv_timer_t probe; /* probes cfg.health's store while it is unhealthy */
  int open_handles; /* of keepalive and probe: api_destroy once both are closed */
  bool bs_alerts;   /* on_bootstrap_event listens to cfg.bootstrap's engine */
};

/* ---- the checks before a handler ---- */

/* "Authorization: Bearer <token>", the scheme in any case (RFC 9110 11.1). Both sides are
 * hashed first and the digests compared in constant time, so neither the token's bytes nor
 * its length show in the time an answer takes. */
static bool authorized(const nb_http_api *api, const nb_http_req *rq) {
  if (!api->has_token) return true;
  const char *h = nb_http_header(rq, "Authorization");
  if (!h || strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t')) return false;
  const char *given = h + 7;
  while (*given == ' ' || *given == '\t') given++;
  size_t len = strlen(given);
  while (len && (given[len - 1] == ' ' || given[len - 1] == '\t')) len--;
  uint8_t digest[32];
  if (len == 0 || gnutls_hash_fast(GNUTLS_DIG_SHA256, given, len, digest) != 0) return false;
  return gnutls_memcmp(digest, api->token_hash, sizeof(digest)) == 0;
}

/* Why a route cannot be served in this process, or NULL. */
static const char *missing(const nb_http_api *api, unsigned needs) {
  if ((needs & SRV) && !api->ctx.srv) return "no management server here (bootstrap server only)";
  if ((needs & STORE) && !api->ctx.store.ops) return "no store configured";
  if ((needs & BS) && !api->ctx.bootstrap) return "no bootstrap server here (--with-bootstrap)";
  if ((needs & NB_ROUTE_NEEDS_FIRMWARE) && !api->ctx.fw)
    return "no firmware service here (it needs a store and a firmware directory)";
  return NULL;
}

/* A GET of the console's files (or its config): public, static, the same for everyone; and
 * of /api/health, which a load balancer's probe asks without a token (it holds no secret). */
static bool public_get(const nb_http_req *rq) {
  if (strcmp(rq->method, "GET") != 0) return false;
  if (strcmp(rq->path, "/api/health") == 0) return true;
  return strncmp(rq->path, "/api/", 5) != 0 && strcmp(rq->path, "/api") != 0;
}

/* The route of rq when it streams its body (an upload), else NULL. */
static const nb_route *upload_route(const nb_http_api *api, nb_http_req *rq) {
  const nb_route *r;
  nb_route_params p;
  if (nb_route_match(routes, sizeof(routes) / sizeof(routes[0]), rq->method, rq->path, &r, &p, NULL,
                     0) != NB_OK)
    return NULL;
  return r->upload && !missing(api, r->needs) ? r : NULL;
}

/* The guard (guard.h), the token and the announced body size, as soon as the header is in:
 * a refused request never gets its body read, and its connection closes. The console's files
 * need no token (a browser cannot send one when it opens the page). */
static enum MHD_Result on_headers(void *app, nb_http_req *rq) {
  nb_http_api *api = app;
  nb_addr local;
  uint64_t length;
  bool body = nb_http_has_body(rq, &length);
  const nb_route *up = upload_route(api, rq);
  nb_http_guard_request g = {.method = rq->method,
                             .host = nb_http_header(rq, "Host"),
                             .origin = nb_http_header(rq, "Origin"),
                             .fetch_site = nb_http_header(rq, "Sec-Fetch-Site"),
                             .content_type = nb_http_header(rq, "Content-Type"),
                             .has_body = body,
                             .raw_body = up != NULL,
                             .public_get = public_get(rq),
                             .local = &local};
  const char *why, *code;
  rq->close = true;
  if (nb_http_local_addr(rq, &local) != NB_OK)
    return nb_http_reply_error(rq, 500, "cannot tell the local address", "5.00");
  nb_http_guard_verdict v = nb_http_guard_check(&api->guard, &g, &why);
  if (v != NB_GUARD_PASS) {
    unsigned status = nb_http_guard_status(v, &code);
    return nb_http_reply_error(rq, status, why, code);
  }
  if (!g.public_get && !authorized(api, rq))
    return nb_http_reply_error(rq, 401, "missing or wrong API token", "4.01");
  if (up) {
    enum MHD_Result r = up->upload(rq, length);
    if (rq->replied) return r;
  } else if (length > api->cfg.body_max) {
    return nb_http_reply_error(rq, 413, "request body too large", "4.13");
  }
  rq->close = false;
  return MHD_YES;
}

static enum MHD_Result on_request(void *app, nb_http_req *rq) {
  nb_http_api *api = app;
  if (rq->too_large) return nb_http_reply_error(rq, 413, "request body too large", "4.13");
  const nb_route *r;
  char allowed[64], msg[96];
  nb_err e = nb_route_match(routes, sizeof(routes) / sizeof(routes[0]), rq->method, rq->path, &r,
                            &rq->params, allowed, sizeof(allowed));
  if (e == NB_ERR_NOT_FOUND)
    return nb_http_reply_error(rq, 404, "no such route (see docs/openapi.yaml)", "4.04");
  const char *why = missing(api, r->needs);
  if (why) return nb_http_reply_error(rq, 404, why, "4.04");
  if (e != NB_OK) {
    snprintf(msg, sizeof(msg), "use %s", allowed);
    return nb_http_reply_error(rq, 405, msg, "4.05");
  }
  return r->handler(rq);
}

/* ---- events from the engine ---- */

/* An unauthenticated registration reached from another address: taken over, or a device
 * behind a NAT that rebound (nothing tells them apart); refused with nosec_pin_address. */
static json_t *address_alert(const nb_server_event *e) {
  char from[NB_ADDR_STRLEN], to[NB_ADDR_STRLEN], msg[256];
  nb_addr_format(e->old_addr, from, sizeof(from));
  nb_addr_format(e->new_addr, to, sizeof(to));
  snprintf(msg, sizeof(msg),
           e->refused ? "NoSec %s from %s refused: the registration is pinned to %s"
                      : "NoSec registration moved by %s from %s (was %s): a takeover unless the "
                        "device's address changed",
           e->operation, to, from);
  return json_pack("{s:s,s:s,s:s,s:s,s:s}", "rule", "nosec-address-change", "severity",
                   e->refused ? "medium" : "high", "endpoint", e->reg->ep, "src", to, "message",
                   msg);
}

/* A signed answer refused: none of its data was taken. */
static json_t *signature_alert(const nb_server_event *e) {
  char ps[NB_PATH_STRLEN], msg[256];
  nb_path_format(e->path, ps, sizeof(ps));
  snprintf(msg, sizeof(msg), "signed answer refused: %s (kid %s)", nb_strerror(e->err),
           e->signature && e->signature->kid[0] ? e->signature->kid : "none");
  return json_pack("{s:s,s:s,s:s,s:s,s:s}", "rule", "signed-data-rejected", "severity", "high",
                   "endpoint", e->reg->ep, "path", ps, "message", msg);
}

/* Security events of the engine become alerts on /api/alerts and the event stream: a refused
 * signed answer, and a NoSec registration's change of address. */
static void on_server_event(void *user, const nb_server_event *e) {
  nb_http_api *api = user;
  if (!e->reg) return;
  json_t *alert;
  if (e->type == NB_SEV_SIGNATURE_REJECTED)
    alert = signature_alert(e);
  else if (e->type == NB_SEV_ADDRESS_CHANGED && e->reg->identity.kind == NB_SERVER_ID_NONE)
    alert = address_alert(e);
  else
    return;
  char why[160];
  if (!alert || nb_http_alerts_add(api->ctx.alerts, alert, e->now + api->ctx.clock_offset, "server",
                                   NULL, why, sizeof(why)) != NB_OK)
    NB_LOG_WARN(MOD, "event=alert_dropped ep=%s type=%d", e->reg->ep, (int)e->type);
  json_decref(alert);
}

/* A device refused by the bootstrap role (a key nobody registered at the handshake, or an
 * endpoint name its key may not ask for) is a security event too: on /api/alerts as well as
 * BOOTSTRAP_ALERT on the event stream. */
static void on_bootstrap_event(void *user, const nb_bs_event *e) {
  nb_http_api *api = user;
  if (e->type != NB_BS_EV_ALERT) return;
  bool handshake = e->step && strcmp(e->step, "handshake") == 0;
  char msg[256], src[NB_ADDR_STRLEN] = "";
  snprintf(msg, sizeof(msg), "%s (secure ID %s)",
           handshake ? "DTLS handshake refused: a key nobody registered"
                     : "Bootstrap-Request refused (4.03): an endpoint name its key may not ask for",
           e->secure_id && e->secure_id[0] ? e->secure_id : "none");
  json_t *alert =
      json_pack("{s:s,s:s,s:s,s:f}", "rule",
                handshake ? "bootstrap-key-refused" : "bootstrap-endpoint-refused", "severity",
                "high", "message", msg, "ts", (double)(e->now + api->cfg.clock_offset) / 1000.0);
  if (alert && e->ep && e->ep[0]) json_object_set_new(alert, "endpoint", json_string(e->ep));
  if (alert && e->peer &&
      inet_ntop(e->peer->family == NB_ADDR_V4 ? AF_INET : AF_INET6, e->peer->ip, src,
                sizeof(src))) {
    json_object_set_new(alert, "src", json_string(src));
    json_object_set_new(alert, "sport", json_integer(e->peer->port));
  }
  char why[160];
  if (!alert || nb_http_alerts_add(api->ctx.alerts, alert, e->now + api->cfg.clock_offset,
                                   "bootstrap", NULL, why, sizeof(why)) != NB_OK)
    NB_LOG_WARN(MOD, "event=alert_dropped reason=bootstrap_alert");
  json_decref(alert);
}

static void on_keepalive(uv_timer_t *h) {
  nb_http_api *api = h->data;
  nb_http_events_keepalive(api->ctx.events);
}

/* While the store is unhealthy and nothing else writes, a probe write shows when it takes
 * writes again (GET /api/health turns 200). */
static void on_probe(uv_timer_t *h) {
  nb_http_api *api = h->data;
  if (api->ctx.health) nb_store_health_probe(api->ctx.health);
}

/* ---- life cycle ---- */

/* The engines' listeners go at once (nb_http_api_free): the bootstrap host may be freed
 * before the close callbacks run. */
static void api_unlisten(nb_http_api *api) {
  if (api->bs_alerts)
    nb_bs_engine_remove_listener(nb_http_bs_engine(api->cfg.bootstrap), on_bootstrap_event, api);
  api->bs_alerts = false;
  if (api->ctx.srv) nb_server_remove_listener(api->ctx.srv, on_server_event, api);
  if (api->ctx.fw) nb_fws_set_listener(api->ctx.fw, NULL, NULL);
}

static void api_destroy(nb_http_api *api) {
  api_unlisten(api);
  nb_http_alerts_free(api->ctx.alerts);
  nb_http_events_free(api->ctx.events);
  nb_http_results_free(api->ctx.results);
  free(api);
}

/* The feed, the alert ring and the engine listeners. */
static nb_err make_parts(nb_http_api *api, nb_server *srv, const nb_http_api_config *cfg) {
  nb_http_events_config ec = cfg->events;
  if (!ec.history_len) {
    nb_http_events_config_default(&ec);
    ec.clock_offset = cfg->clock_offset;
  }
  if (nb_http_events_new(srv, &ec, &api->ctx.events) != NB_OK ||
      nb_http_alerts_new(cfg->alerts_max, api->ctx.events, &api->ctx.alerts) != NB_OK ||
      (srv && nb_http_results_new(&cfg->results, &api->ctx.results) != NB_OK) ||
      (srv && nb_server_add_listener(srv, on_server_event, api) != NB_OK) ||
      (cfg->bootstrap && nb_http_events_attach_bootstrap(
                             api->ctx.events, nb_http_bs_engine(cfg->bootstrap)) != NB_OK))
    return NB_ERR_NOMEM;
  if (api->ctx.fw) nb_fws_set_listener(api->ctx.fw, nb_api_fw_event, api->ctx.events);
  if (cfg->bootstrap) {
    if (nb_bs_engine_add_listener(nb_http_bs_engine(cfg->bootstrap), on_bootstrap_event, api) !=
        NB_OK)
      return NB_ERR_NOMEM;
    api->bs_alerts = true;
  }
  return NB_OK;
}

nb_err nb_http_api_new(nb_io_loop *loop, nb_server *srv, const nb_http_api_config *cfg,
                       nb_http_api **out) {
  nb_http_api *api = calloc(1, sizeof(*api));
  if (!api) return NB_ERR_NOMEM;
  api->ctx.loop = loop;
  api->ctx.srv = srv;
  api->ctx.store = cfg->store;
  api->ctx.health = cfg->health;
  api->ctx.bootstrap = cfg->bootstrap;
  api->ctx.fw = cfg->fw_repo ? cfg->fw : NULL;
  api->ctx.fw_repo = cfg->fw_repo;
  api->ctx.firmware_max = cfg->firmware_max ? cfg->firmware_max : NB_HTTP_FIRMWARE_MAX;
  api->ctx.clock_offset = cfg->clock_offset;
  api->cfg = *cfg;
  api->cfg.api_token = NULL;
  if (cfg->api_token) { /* an empty token would let "Bearer " in */
    size_t len = strlen(cfg->api_token);
    if (len == 0 ||
        gnutls_hash_fast(GNUTLS_DIG_SHA256, cfg->api_token, len, api->token_hash) != 0) {
      free(api);
      return NB_ERR_INVAL;
    }
    api->has_token = true;
    api->ctx.token_required = true;
  }
  char tiles_origin[NB_CONSOLE_TILES_MAX];
  if (cfg->console_tiles && nb_console_tiles_check(cfg->console_tiles, tiles_origin,
                                                   sizeof tiles_origin, NULL) != NB_OK) {
    free(api);
    return NB_ERR_INVAL;
  }
  nb_console_csp(cfg->console_tiles ? tiles_origin : NULL, api->csp, sizeof api->csp);
  api->ctx.console_csp = api->csp;
  api->ctx.console_tiles = cfg->console_tiles;
  if (!api->cfg.keepalive_ms) api->cfg.keepalive_ms = 15000;
  if (!api->cfg.body_max) api->cfg.body_max = 65536;
  nb_http_guard_init(&api->guard, cfg->tls_cert != NULL);
  for (size_t i = 0; i < cfg->nhosts; i++)
    if (nb_http_guard_add_name(&api->guard, cfg->hosts[i]) != NB_OK) {
      free(api);
      return NB_ERR_INVAL;
    }
  nb_err e = make_parts(api, srv, cfg);
  if (e != NB_OK) {
    api_destroy(api);
    return e;
  }
  nb_httpd_config hc = {.listen = cfg->listen,
                        .body_max = api->cfg.body_max,
                        .admit = cfg->limits,
                        .tls_cert = cfg->tls_cert,
                        .tls_key = cfg->tls_key,
                        .on_headers = on_headers,
                        .on_request = on_request,
                        .app = api};
  if ((e = nb_httpd_new(loop, &hc, &api->httpd)) != NB_OK) {
    api_destroy(api);
    return e;
  }
  uv_timer_init(nb_io_loop_uv(loop), &api->keepalive);
  api->keepalive.data = api;
  uv_timer_start(&api->keepalive, on_keepalive, api->cfg.keepalive_ms, api->cfg.keepalive_ms);
  uv_timer_init(nb_io_loop_uv(loop), &api->probe);
  api->probe.data = api;
  api->open_handles = 2;
  if (!api->cfg.probe_ms) api->cfg.probe_ms = 5000;
  if (cfg->health) uv_timer_start(&api->probe, on_probe, api->cfg.probe_ms, api->cfg.probe_ms);
  *out = api;
  return NB_OK;
}

nb_http_events *nb_http_api_events(nb_http_api *api) { return api->ctx.events; }

uint16_t nb_http_api_port(const nb_http_api *api) { return nb_httpd_port(api->httpd); }

static void on_closed(uv_handle_t *h) {
  nb_http_api *api = h->data;
  if (--api->open_handles == 0) api_destroy(api);
}

void nb_http_api_free(nb_http_api *api) {
  if (!api) return;
  nb_http_events_detach_bootstrap(api->ctx.events); /* the engine may go before the feed */
  api_unlisten(api);
  nb_httpd_free(api->httpd); /* ends the streams and held requests */
  uv_close((uv_handle_t *)&api->keepalive, on_closed);
  uv_close((uv_handle_t *)&api->probe, on_closed);
}
