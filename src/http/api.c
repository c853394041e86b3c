/* REST API over libmicrohttpd in the libuv loop: see api.h. */
#include "http/api.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"

#define MOD "http"

typedef struct conn_ctx conn_ctx;

struct nb_http_api {
  nb_io_loop *loop;
  nb_server *srv;
  nb_http_api_config cfg;
  char *token;
  struct MHD_Daemon *mhd;
  uv_poll_t poll;
  uv_timer_t timer;
  uv_prepare_t prepare;
  int open_handles;
  bool kick;
  conn_ctx *pending; /* suspended connections waiting on a device */
};

/* Per-connection state of a request that waits on a device. */
struct conn_ctx {
  nb_http_api *api;
  struct MHD_Connection *conn;
  uint64_t req_id;
  bool done;
  unsigned status;
  char *body;
  conn_ctx *prev, *next;
};

/* ---- responses ---- */

static enum MHD_Result send_json_text(struct MHD_Connection *c, unsigned status, char *text) {
  if (!text) return MHD_NO;
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(text);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", "application/json");
  enum MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j) {
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  return send_json_text(c, status, text);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg,
                                  const char *code) {
  return send_json(c, status, json_pack("{s:s,s:s}", "error", msg, "code", code));
}

static const char *coap_code_text(uint8_t code, char *buf) {
  return nb_coap_code_format(code, buf);
}

/* HTTP status for a device's CoAP answer. */
static unsigned http_status_of(uint8_t code) {
  switch (code) {
    case NB_COAP_BAD_REQUEST:
      return 400;
    case NB_COAP_UNAUTHORIZED:
      return 401;
    case NB_COAP_FORBIDDEN:
      return 403;
    case NB_COAP_NOT_FOUND:
      return 404;
    case NB_COAP_METHOD_NOT_ALLOWED:
      return 405;
    case NB_COAP_NOT_ACCEPTABLE:
      return 406;
    case NB_COAP_UNSUPPORTED_CONTENT_FORMAT:
      return 415;
    default:
      return NB_COAP_CLASS(code) == 2 ? 200 : 502;
  }
}

/* ---- JSON of engine objects ---- */

static json_t *reg_json(const nb_server *srv, const nb_server_reg_info *r) {
  char addr[NB_ADDR_STRLEN];
  nb_addr_format(&r->addr, addr, sizeof(addr));
  return json_pack("{s:s,s:s,s:s,s:s,s:b,s:I,s:s,s:s,s:I,s:I,s:I,s:s%,s:b}", "endpoint", r->ep,
                   "registrationId", r->reg_id, "lwM2mVersion", r->version, "bindingMode",
                   r->binding, "queueMode", r->queue, "lifetime", (json_int_t)r->lifetime,
                   "address", addr, "securityMode", nb_server_id_kind_name(r->identity.kind),
                   "registrationDate", (json_int_t)r->registered_at, "lastUpdate",
                   (json_int_t)r->updated_at, "expiresAt", (json_int_t)r->expires_at, "objectLinks",
                   r->links ? r->links : "", r->links ? r->links_len : 0, "awake",
                   nb_server_is_awake(srv, r->ep));
}

static json_t *value_json(const nb_value *v) {
  char buf[512];
  switch (v->type) {
    case NB_VT_INT:
      return json_integer(v->v.i);
    case NB_VT_UINT:
      return v->v.u <= INT64_MAX ? json_integer((json_int_t)v->v.u) : json_real((double)v->v.u);
    case NB_VT_FLOAT:
      return json_real(v->v.f);
    case NB_VT_BOOL:
      return json_boolean(v->v.b);
    case NB_VT_TIME:
      return json_integer(v->v.t);
    case NB_VT_NONE:
      return json_null();
    default:
      if (nb_value_format(v, buf, sizeof(buf)) != NB_OK) return json_null();
      return json_string(buf);
  }
}

static json_t *records_json(const nb_records *recs) {
  json_t *a = json_array();
  for (size_t i = 0; recs && a && i < recs->len; i++) {
    char p[NB_PATH_STRLEN];
    nb_path_format(&recs->items[i].path, p, sizeof(p));
    json_array_append_new(a, json_pack("{s:s,s:s,s:o}", "path", p, "type",
                                       nb_value_type_name(recs->items[i].value.type), "value",
                                       value_json(&recs->items[i].value)));
  }
  return a;
}

/* ---- device requests (suspended connections) ---- */

static void pending_unlink(nb_http_api *api, conn_ctx *c) {
  if (c->prev)
    c->prev->next = c->next;
  else if (api->pending == c)
    api->pending = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
}

static void on_device_result(void *user, uint64_t id, const nb_server_result *res, bool last) {
  conn_ctx *c = user;
  (void)id;
  if (!c->conn) { /* a queued request whose HTTP caller got 202 long ago */
    if (last) free(c);
    return;
  }
  char code[8];
  json_t *j;
  if (res->err == NB_ERR_TIMEOUT) {
    c->status = 504;
    j = json_pack("{s:s,s:s}", "error", "device did not answer in time", "code", "5.04");
  } else if (res->err != NB_OK && res->err != NB_ERR_FMT_MALFORMED) {
    c->status = 502;
    j = json_pack("{s:s,s:s}", "error", nb_strerror(res->err), "code", "5.02");
  } else if (NB_COAP_CLASS(res->code) != 2) {
    c->status = http_status_of(res->code);
    j = json_pack("{s:s,s:s}", "error", nb_coap_code_name(res->code), "code",
                  coap_code_text(res->code, code));
  } else {
    c->status = res->err == NB_OK ? 200 : 502;
    j = json_pack("{s:s,s:s,s:o}", "status", nb_coap_code_name(res->code), "code",
                  coap_code_text(res->code, code), "content", records_json(res->records));
    if (res->err != NB_OK) json_object_set_new(j, "error", json_string("undecodable payload"));
  }
  c->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  c->done = true;
  (void)last;
  pending_unlink(c->api, c);
  MHD_resume_connection(c->conn);
  c->api->kick = true; /* MHD must run before the loop sleeps */
}

static int query_timeout(struct MHD_Connection *conn) {
  const char *t = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "timeout");
  int v = t ? atoi(t) : 0;
  return v > 0 && v <= 600 ? v : 0;
}

static enum MHD_Result start_read(nb_http_api *api, struct MHD_Connection *conn, const char *ep,
                                  const char *pathtxt, void **req_cls) {
  nb_path path;
  if (nb_path_parse(pathtxt, &path) != NB_OK)
    return send_error(conn, 400, "invalid LwM2M path", "4.00");
  nb_server_request rq = {.op = NB_SOP_READ, .path = path, .actor = "http"};
  const char *fmt = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "format");
  if (fmt) {
    int cf = nb_format_from_name(fmt);
    if (cf == NB_COAP_CF_NONE) return send_error(conn, 400, "unknown format", "4.00");
    rq.has_format = true;
    rq.format = cf;
  }
  rq.timeout = (nb_time_ms)query_timeout(conn) * 1000;
  conn_ctx *c = calloc(1, sizeof(*c));
  if (!c) return send_error(conn, 500, "out of memory", "5.00");
  c->api = api;
  c->conn = conn;
  bool queued = false;
  nb_err rc = nb_server_send_request(api->srv, ep, &rq, on_device_result, c,
                                     nb_io_loop_now(api->loop), &c->req_id, &queued);
  if (rc == NB_ERR_NOT_FOUND) {
    free(c);
    return send_error(conn, 404, "no registration for this endpoint", "4.04");
  }
  if (rc != NB_OK) {
    free(c);
    return send_error(conn, rc == NB_ERR_BUSY ? 429 : 400, nb_strerror(rc), "4.00");
  }
  if (queued) {
    /* The answer will come when the device wakes; the caller gets the id to follow. */
    c->conn = NULL; /* detached: the engine's final callback frees it */
    json_t *j = json_pack("{s:s,s:I}", "status", "QUEUED", "requestId", (json_int_t)c->req_id);
    return send_json(conn, 202, j);
  }
  c->next = api->pending;
  if (c->next) c->next->prev = c;
  api->pending = c;
  *req_cls = c;
  MHD_suspend_connection(conn);
  return MHD_YES;
}

/* ---- routing ---- */

typedef struct {
  json_t *arr;
  const nb_server *srv;
} list_ctx;

static void add_client(void *user, const nb_server_reg_info *r) {
  list_ctx *l = user;
  json_array_append_new(l->arr, reg_json(l->srv, r));
}

static nb_err add_audit(void *user, const nb_server_audit_info *a) {
  json_array_append_new(
      user, json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "at", (json_int_t)a->at, "actor", a->actor,
                      "endpoint", a->ep, "operation", a->op, "path", a->path, "result", a->result));
  return NB_OK;
}

static bool authorized(nb_http_api *api, struct MHD_Connection *conn) {
  if (!api->token) return true;
  const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
  if (!h || strncmp(h, "Bearer ", 7) != 0) return false;
  /* Constant-time compare: the token is a secret. */
  const char *given = h + 7;
  size_t a = strlen(given), b = strlen(api->token);
  unsigned diff = (unsigned)(a ^ b);
  for (size_t i = 0; i < a && i < b; i++) diff |= (unsigned char)(given[i] ^ api->token[i]);
  return diff == 0;
}

static enum MHD_Result route(nb_http_api *api, struct MHD_Connection *conn, const char *url,
                             const char *method, void **req_cls) {
  if (!authorized(api, conn)) return send_error(conn, 401, "missing or wrong API token", "4.01");
  bool get = strcmp(method, "GET") == 0;
  if (strcmp(url, "/api/clients") == 0 || strcmp(url, "/api/clients/") == 0) {
    if (!get) return send_error(conn, 405, "method not allowed", "4.05");
    list_ctx l = {json_array(), api->srv};
    nb_server_each(api->srv, add_client, &l);
    return send_json(conn, 200, l.arr);
  }
  if (strcmp(url, "/api/audit") == 0) {
    if (!get) return send_error(conn, 405, "method not allowed", "4.05");
    if (!api->cfg.store.ops) return send_error(conn, 404, "no store configured", "4.04");
    const char *lim = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
    int n = lim ? atoi(lim) : 100;
    json_t *arr = json_array();
    api->cfg.store.ops->audit_each(api->cfg.store.self, n > 0 && n <= 10000 ? (size_t)n : 100,
                                   add_audit, arr);
    return send_json(conn, 200, arr);
  }
  if (strncmp(url, "/api/clients/", 13) == 0) {
    char ep[NB_SERVER_EP_MAX];
    const char *rest = url + 13;
    const char *slash = strchr(rest, '/');
    size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
    if (len == 0 || len >= sizeof(ep)) return send_error(conn, 404, "no such client", "4.04");
    memcpy(ep, rest, len);
    ep[len] = '\0';
    if (!slash || slash[1] == '\0') {
      if (!get) return send_error(conn, 405, "method not allowed", "4.05");
      const nb_server_reg_info *r = nb_server_find(api->srv, ep);
      if (!r) return send_error(conn, 404, "no registration for this endpoint", "4.04");
      return send_json(conn, 200, reg_json(api->srv, r));
    }
    if (get) return start_read(api, conn, ep, slash, req_cls);
    return send_error(conn, 501, "operation not available in this build", "5.01");
  }
  return send_error(conn, 404, "not found", "4.04");
}

static enum MHD_Result on_http(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **req_cls) {
  nb_http_api *api = cls;
  (void)version;
  (void)upload;
  conn_ctx *c = *req_cls;
  if (c && c->done) { /* resumed with the device's answer */
    char *body = c->body;
    c->body = NULL;
    return send_json_text(conn, c->status, body ? body : strdup("{}"));
  }
  if (c) return MHD_YES;
  if (*upload_size) {
    *upload_size = 0; /* request bodies are not used by the GET routes */
    return MHD_YES;
  }
  return route(api, conn, url, method, req_cls);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)conn;
  (void)toe;
  conn_ctx *c = *req_cls;
  if (!c) return;
  if (!c->done) { /* connection dropped while waiting: the engine must not call into it */
    pending_unlink(c->api, c);
    c->conn = NULL;
    nb_server_cancel(c->api->srv, c->req_id, false, nb_io_loop_now(c->api->loop));
    return;
  }
  free(c->body);
  free(c);
  *req_cls = NULL;
}

/* ---- libuv integration ---- */

static void run_mhd(nb_http_api *api) {
  if (api->mhd) MHD_run(api->mhd);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  run_mhd(h->data);
}

static void on_timer(uv_timer_t *h) { run_mhd(h->data); }

/* Before the loop sleeps: MHD's next timeout becomes our timer. */
static void on_prepare(uv_prepare_t *h) {
  nb_http_api *api = h->data;
  MHD_UNSIGNED_LONG_LONG t;
  if (!api->mhd) return;
  if (api->kick) {
    api->kick = false;
    uv_timer_start(&api->timer, on_timer, 0, 0);
    return;
  }
  if (MHD_get_timeout(api->mhd, &t) == MHD_YES)
    uv_timer_start(&api->timer, on_timer, t, 0);
  else if (!uv_is_active((uv_handle_t *)&api->timer))
    uv_timer_start(&api->timer, on_timer, 1000, 0);
}

nb_err nb_http_api_new(nb_io_loop *loop, nb_server *srv, const nb_http_api_config *cfg,
                       nb_http_api **out) {
  nb_http_api *api = calloc(1, sizeof(*api));
  if (!api) return NB_ERR_NOMEM;
  api->loop = loop;
  api->srv = srv;
  api->cfg = *cfg;
  if (cfg->api_token && !(api->token = strdup(cfg->api_token))) {
    free(api);
    return NB_ERR_NOMEM;
  }
  api->cfg.api_token = NULL;
  struct sockaddr_storage ss;
  size_t sl;
  if (nb_addr_to_sockaddr(&cfg->listen, (struct sockaddr *)&ss, sizeof(ss), &sl) != NB_OK) {
    free(api->token);
    free(api);
    return NB_ERR_INVAL;
  }
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (cfg->listen.family == NB_ADDR_V6) flags |= MHD_USE_IPv6;
  api->mhd =
      MHD_start_daemon(flags, cfg->listen.port, NULL, NULL, on_http, api, MHD_OPTION_SOCK_ADDR,
                       (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed, api,
                       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
  if (!api->mhd) {
    NB_LOG_ERROR(MOD,
                 "event=listen_failed reason=\"cannot start the HTTP daemon (address in use?)\"");
    free(api->token);
    free(api);
    return NB_ERR_IO;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(api->mhd, MHD_DAEMON_INFO_EPOLL_FD);
  uv_loop_t *uv = nb_io_loop_uv(loop);
  uv_poll_init(uv, &api->poll, info->epoll_fd);
  uv_timer_init(uv, &api->timer);
  uv_prepare_init(uv, &api->prepare);
  api->poll.data = api->timer.data = api->prepare.data = api;
  uv_poll_start(&api->poll, UV_READABLE, on_poll);
  uv_prepare_start(&api->prepare, on_prepare);
  uv_timer_start(&api->timer, on_timer, 0, 0);
  *out = api;
  return NB_OK;
}

uint16_t nb_http_api_port(const nb_http_api *api) {
  const union MHD_DaemonInfo *i = MHD_get_daemon_info(api->mhd, MHD_DAEMON_INFO_BIND_PORT);
  return i ? i->port : 0;
}

static void on_closed(uv_handle_t *h) {
  nb_http_api *api = h->data;
  if (--api->open_handles == 0) {
    free(api->token);
    free(api);
  }
}

void nb_http_api_free(nb_http_api *api) {
  if (!api) return;
  /* Every suspended connection must be resumed before MHD stops. */
  while (api->pending)
    nb_server_cancel(api->srv, api->pending->req_id, false, nb_io_loop_now(api->loop));
  MHD_run(api->mhd);
  MHD_stop_daemon(api->mhd);
  api->mhd = NULL;
  api->open_handles = 3;
  uv_close((uv_handle_t *)&api->poll, on_closed);
  uv_close((uv_handle_t *)&api->timer, on_closed);
  uv_close((uv_handle_t *)&api->prepare, on_closed);
}
