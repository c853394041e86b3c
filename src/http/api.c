/* REST API over libmicrohttpd in the libuv loop: see api.h and docs/openapi.yaml. Each HTTP
 * request gets a conn_ctx (body, state); a request that waits on a device holds a dev_call
 * that the engine's callback owns, so either side may go away first. */
#include "http/api.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/hex.h"
#include "base/log.h"
#include "dtls/cose.h"
#include "dtls/cred.h"
#include "http/json.h"
#include "lwm2m/fmtutil.h"

#define MOD "http"
#define ACTOR_MAX 64

typedef struct conn_ctx conn_ctx;
typedef struct dev_call dev_call;

struct nb_http_api {
  nb_io_loop *loop;
  nb_server *srv;
  nb_http_api_config cfg;
  char *token;
  struct MHD_Daemon *mhd;
  nb_http_events *events;
  nb_http_alerts *alerts;
  bool bs_alerts; /* on_bootstrap_event listens to cfg.bootstrap's engine */
  uv_poll_t poll;
  uv_timer_t timer, keepalive;
  uv_prepare_t prepare;
  int open_handles;
  bool kick;
  conn_ctx *live; /* connections suspended on a device or streaming events */
};

/* Per-HTTP-request state. */
struct conn_ctx {
  nb_http_api *api;
  struct MHD_Connection *conn;
  char *body;
  size_t body_len;
  bool too_large, routed, suspended, linked;
  dev_call *call;  /* while waiting on a device */
  unsigned status; /* the answer, once it came */
  char *resp;
  nb_http_sub *sub; /* SSE */
  bool hello_sent;
  conn_ctx *prev, *next;
  char actor[ACTOR_MAX];
};

/* A request in the engine; freed on the engine's final callback. */
struct dev_call {
  conn_ctx *cx; /* NULL once the HTTP side is answered or gone */
  nb_server_op op;
  uint64_t id;
  bool established; /* an observation the device accepted */
  bool single_value;
  nb_path path;
};

/* ---- responses ---- */

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, char *text,
                                 const char *type) {
  if (!text) return MHD_NO;
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(text);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", type);
  enum MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j) {
  char *text = j ? nb_http_json_text(j) : NULL;
  json_decref(j);
  return send_text(c, status, text, "application/json");
}

static json_t *error_json(const char *msg, const char *code) {
  return json_pack("{s:s,s:s}", "error", msg, "code", code);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg,
                                  const char *code) {
  return send_json(c, status, error_json(msg, code));
}

/* HTTP status for a device's CoAP answer. */
static unsigned http_status_of(uint8_t code) {
  switch (code) {
    case NB_COAP_CREATED:
      return 201;
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

/* HTTP status and CoAP-style code for an engine error at submission. */
static enum MHD_Result send_nb_error(struct MHD_Connection *c, nb_err rc) {
  switch (rc) {
    case NB_ERR_NOT_FOUND:
      return send_error(c, 404, "no registration for this endpoint", "4.04");
    case NB_ERR_BUSY:
      return send_error(c, 429, "the queue of this sleeping client is full", "4.29");
    case NB_ERR_UNSUPPORTED:
      return send_error(c, 400, "composite operations need a LwM2M 1.1 client", "4.00");
    case NB_ERR_NOMEM:
      return send_error(c, 500, "out of memory", "5.00");
    case NB_ERR_RANGE:
      return send_error(c, 400, "too many paths for one composite observation", "4.00");
    default:
      return send_error(c, 400, "request not valid for this target or format", "4.00");
  }
}

/* ---- live connections (suspended) ---- */

static void live_link(nb_http_api *api, conn_ctx *c) {
  if (c->linked) return;
  c->linked = true;
  c->prev = NULL;
  c->next = api->live;
  if (c->next) c->next->prev = c;
  api->live = c;
}

static void live_unlink(nb_http_api *api, conn_ctx *c) {
  if (!c->linked) return;
  c->linked = false;
  if (c->prev)
    c->prev->next = c->next;
  else
    api->live = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
}

static void cx_resume(conn_ctx *c) {
  if (!c->suspended) return;
  c->suspended = false;
  MHD_resume_connection(c->conn);
  c->api->kick = true; /* MHD must run before the loop sleeps */
}

static void cx_suspend(conn_ctx *c) {
  c->suspended = true;
  MHD_suspend_connection(c->conn);
}

/* ---- device requests ---- */

/* Standard base64 of bytes as a JSON string (NULL when memory is short). */
static json_t *b64_json(const uint8_t *data, size_t len) {
  nb_bytes b;
  nb_bytes_init(&b);
  json_t *j = NULL;
  if (nb_fmt_b64_encode(&b, data, len, false) == NB_OK)
    j = json_stringn((const char *)b.data, b.len);
  nb_bytes_free(&b);
  return j;
}

/* {"valid", "kid", "iat"?, "cose" (base64, only when valid)}: what the device's signature
 * says; an unverified message is never handed out as if it were evidence. */
static json_t *signature_json(const nb_server_signature *sig) {
  json_t *j = json_pack("{s:b,s:s}", "valid", sig->valid, "kid", sig->kid);
  if (!j) return NULL;
  if (sig->has_iat) json_object_set_new(j, "iat", json_integer((json_int_t)sig->iat));
  if (sig->valid) json_object_set_new(j, "cose", b64_json(sig->cose, sig->cose_len));
  return j;
}

static json_t *result_json(dev_call *d, const nb_server_result *res, unsigned *status) {
  char code[8];
  if (res->err == NB_ERR_TIMEOUT) {
    *status = 504;
    return error_json("device did not answer in time", "5.04");
  }
  if (res->err == NB_ERR_SIG_NO_KEY || res->err == NB_ERR_SIG_INVALID ||
      res->err == NB_ERR_SIG_ISSUER) {
    *status = 502;
    json_t *j = error_json(nb_strerror(res->err), "5.02");
    if (j && res->signature) json_object_set_new(j, "signature", signature_json(res->signature));
    return j;
  }
  if (res->err != NB_OK && res->err != NB_ERR_FMT_MALFORMED) {
    *status = 502;
    return error_json(nb_strerror(res->err), "5.02");
  }
  nb_coap_code_format(res->code, code);
  if (NB_COAP_CLASS(res->code) != 2) {
    *status = http_status_of(res->code);
    return error_json(nb_coap_code_name(res->code), code);
  }
  if (res->err == NB_ERR_FMT_MALFORMED) {
    *status = 502;
    return error_json("the device's payload does not decode", "5.02");
  }
  *status = http_status_of(res->code);
  json_t *j = json_pack("{s:s,s:s}", "status", nb_coap_code_name(res->code), "code", code);
  if (!j) return NULL;
  if (res->records) {
    json_object_set_new(j, "content", nb_http_json_records(res->records));
    if (d->single_value && res->records->len == 1 &&
        nb_path_equal(&res->records->items[0].path, &d->path))
      json_object_set_new(j, "value", nb_http_json_value(&res->records->items[0].value));
  }
  if (res->links) json_object_set_new(j, "links", json_stringn(res->links, res->links_len));
  if (res->location && res->location[0])
    json_object_set_new(j, "location", json_string(res->location));
  if (res->signature) json_object_set_new(j, "signature", signature_json(res->signature));
  if (d->op == NB_SOP_OBSERVE || d->op == NB_SOP_OBSERVE_COMPOSITE)
    json_object_set_new(j, "observationId", json_integer((json_int_t)d->id));
  return j;
}

static void on_device_result(void *user, uint64_t id, const nb_server_result *res, bool last) {
  dev_call *d = user;
  (void)id;
  conn_ctx *c = d->cx;
  if (c && !res->notification) {
    d->established = !last;
    json_t *j = result_json(d, res, &c->status);
    c->resp = j ? nb_http_json_text(j) : NULL;
    json_decref(j);
    if (!c->resp) c->status = 500;
    c->call = NULL;
    d->cx = NULL;
    live_unlink(c->api, c);
    cx_resume(c);
  }
  if (last) free(d);
}

static int query_int(struct MHD_Connection *conn, const char *name, int dflt, int lo, int hi,
                     bool *bad) {
  const char *t = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
  if (!t) return dflt;
  char *end;
  long v = strtol(t, &end, 10);
  if (*t == '\0' || *end != '\0' || v < lo || v > hi) {
    *bad = true;
    return dflt;
  }
  return (int)v;
}

/* ?format= and ?timeout= shared by every device operation. */
static enum MHD_Result common_query(conn_ctx *c, nb_server_request *rq, bool *failed) {
  *failed = true;
  const char *fmt = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "format");
  if (fmt && strcmp(fmt, "cose") == 0) {
    /* Signed data: not a codec but a request for the device's signature over SenML CBOR. */
    rq->sign = true;
  } else if (fmt) {
    int cf = nb_format_from_name(fmt);
    if (cf == NB_COAP_CF_NONE)
      return send_error(c->conn, 400,
                        "unknown format (tlv, senml-json, senml-cbor, json, text, "
                        "opaque, cbor, cose)",
                        "4.00");
    rq->has_format = true;
    rq->format = cf;
  }
  bool bad = false;
  rq->timeout = (nb_time_ms)query_int(c->conn, "timeout", 0, 1, 600, &bad) * 1000;
  if (bad) return send_error(c->conn, 400, "timeout must be 1..600 seconds", "4.00");
  rq->actor = c->actor;
  *failed = false;
  return MHD_YES;
}

static enum MHD_Result submit(conn_ctx *c, const char *ep, nb_server_request *rq) {
  nb_http_api *api = c->api;
  dev_call *d = calloc(1, sizeof(*d));
  if (!d) return send_error(c->conn, 500, "out of memory", "5.00");
  d->op = rq->op;
  d->path = rq->path;
  d->single_value = rq->path.len >= NB_PATH_RESOURCE;
  d->cx = c;
  bool queued = false;
  nb_err rc = nb_server_send_request(api->srv, ep, rq, on_device_result, d,
                                     nb_io_loop_now(api->loop), &d->id, &queued);
  if (rc != NB_OK) {
    free(d);
    return send_nb_error(c->conn, rc);
  }
  if (queued) { /* answered when the device wakes; the engine's final callback frees d */
    d->cx = NULL;
    return send_json(c->conn, 202,
                     json_pack("{s:s,s:I}", "status", "QUEUED", "requestId", (json_int_t)d->id));
  }
  c->call = d;
  live_link(api, c);
  cx_suspend(c);
  return MHD_YES;
}

static json_t *parse_body(conn_ctx *c, char *err, size_t cap) {
  json_error_t je;
  json_t *j = json_loadb(c->body ? c->body : "", c->body_len, 0, &je);
  /* jansson's message is at most 160 bytes; 100 keep the reply readable. */
  if (!j) snprintf(err, cap, "bad JSON: %.100s (line %d)", je.text, je.line);
  return j;
}

/* PUT/POST with values: write, write-partial, create, write-composite. */
static enum MHD_Result device_write(conn_ctx *c, const char *ep, nb_server_request *rq) {
  char reason[160];
  json_t *body = parse_body(c, reason, sizeof(reason));
  if (!body) return send_error(c->conn, 400, reason, "4.00");
  nb_records recs;
  nb_records_init(&recs);
  const nb_path *base = rq->op == NB_SOP_WRITE_COMPOSITE ? NULL : &rq->path;
  nb_err rc = nb_http_json_to_records(nb_server_model(c->api->srv), base, body, &recs, reason,
                                      sizeof(reason));
  json_decref(body);
  enum MHD_Result r;
  if (rc != NB_OK) {
    r = send_error(c->conn, rc == NB_ERR_NOMEM ? 500 : 400, reason, "4.00");
  } else {
    rq->records = &recs;
    r = submit(c, ep, rq);
    rq->records = NULL; /* the engine encoded them; recs dies with this frame */
  }
  nb_records_deinit(&recs);
  return r;
}

static enum MHD_Result device_execute(conn_ctx *c, const char *ep, nb_server_request *rq) {
  const char *args = NULL;
  json_t *body = NULL;
  if (c->body_len) {
    char reason[160];
    if (!(body = parse_body(c, reason, sizeof(reason))))
      return send_error(c->conn, 400, reason, "4.00");
    json_t *a = json_object_get(body, "args");
    if (!json_is_object(body) || (a && !json_is_string(a))) {
      json_decref(body);
      return send_error(c->conn, 400, "expected {\"args\": \"0='text'\"}", "4.00");
    }
    args = json_string_value(a);
  }
  rq->args = args;
  rq->args_len = args ? strlen(args) : 0;
  enum MHD_Result r = submit(c, ep, rq);
  json_decref(body);
  return r;
}

typedef struct {
  nb_attrs attrs;
  char reason[160];
  bool bad;
} attr_ctx;

static enum MHD_Result collect_attr(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value) {
  attr_ctx *a = cls;
  (void)kind;
  if (a->bad || strcmp(key, "timeout") == 0 || strcmp(key, "format") == 0) return MHD_YES;
  char kv[128];
  int n = value && *value ? snprintf(kv, sizeof(kv), "%s=%s", key, value)
                          : snprintf(kv, sizeof(kv), "%s", key);
  if (n < 0 || (size_t)n >= sizeof(kv) ||
      nb_attrs_parse_one(&a->attrs, kv, (size_t)n, a->reason, sizeof(a->reason)) != NB_OK) {
    if (!a->reason[0]) snprintf(a->reason, sizeof(a->reason), "bad attribute '%s'", key);
    a->bad = true;
  }
  return MHD_YES;
}

static enum MHD_Result device_attributes(conn_ctx *c, const char *ep, nb_server_request *rq) {
  attr_ctx a;
  memset(&a, 0, sizeof(a));
  nb_attrs_init(&a.attrs);
  MHD_get_connection_values(c->conn, MHD_GET_ARGUMENT_KIND, collect_attr, &a);
  if (!a.bad && nb_attrs_validate(&a.attrs, a.reason, sizeof(a.reason)) != NB_OK) a.bad = true;
  if (a.bad) return send_error(c->conn, 400, a.reason, "4.00");
  rq->attrs = &a.attrs;
  return submit(c, ep, rq);
}

/* DELETE .../{path}/observe: cancels the observations of that exact path. */
static enum MHD_Result observe_cancel(conn_ctx *c, const char *ep, const nb_path *p) {
  nb_http_api *api = c->api;
  if (!nb_server_find(api->srv, ep))
    return send_error(c->conn, 404, "no registration for this endpoint", "4.04");
  char ps[NB_PATH_STRLEN];
  nb_path_format(p, ps, sizeof(ps));
  const char *mode = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "active");
  bool active = !mode || strcmp(mode, "false") != 0;
  nb_server_obs_info obs[32];
  size_t n = nb_server_observations(api->srv, ep, obs, 32), cancelled = 0;
  for (size_t i = 0; i < n && i < 32; i++)
    if (strcmp(obs[i].paths, ps) == 0 &&
        nb_server_cancel(api->srv, obs[i].id, active, nb_io_loop_now(api->loop)) == NB_OK)
      cancelled++;
  if (api->cfg.store.ops) {
    nb_server_audit_info au;
    memset(&au, 0, sizeof(au));
    au.at = nb_io_loop_now(api->loop) + api->cfg.clock_offset;
    snprintf(au.actor, sizeof(au.actor), "%s", c->actor);
    snprintf(au.ep, sizeof(au.ep), "%s", ep);
    snprintf(au.op, sizeof(au.op), "observe-cancel");
    snprintf(au.path, sizeof(au.path), "%s", ps);
    snprintf(au.result, sizeof(au.result), "%s", cancelled ? "cancelled" : "4.04");
    api->cfg.store.ops->audit_add(api->cfg.store.self, &au);
  }
  if (!cancelled) return send_error(c->conn, 404, "no observation of this path", "4.04");
  return send_json(c->conn, 200, json_pack("{s:I}", "cancelled", (json_int_t)cancelled));
}

static enum MHD_Result list_observations(conn_ctx *c, const char *ep) {
  if (!nb_server_find(c->api->srv, ep))
    return send_error(c->conn, 404, "no registration for this endpoint", "4.04");
  nb_server_obs_info obs[64];
  size_t n = nb_server_observations(c->api->srv, ep, obs, 64);
  json_t *a = json_array();
  for (size_t i = 0; i < n && i < 64; i++)
    json_array_append_new(
        a, json_pack("{s:I,s:s,s:b,s:s}", "observationId", (json_int_t)obs[i].id, "paths",
                     obs[i].paths, "composite", obs[i].composite, "format",
                     obs[i].format == NB_COSE_CF_SIGN1 ? "cose" : nb_format_name(obs[i].format)));
  return send_json(c->conn, 200, a);
}

/* POST /api/clients/{ep}/composite: {"paths": [...]} reads (or observes with
 * "observe": true), {"content": [...]} writes. */
static enum MHD_Result composite(conn_ctx *c, const char *ep, nb_server_request *rq) {
  char reason[160];
  json_t *body = parse_body(c, reason, sizeof(reason));
  if (!body) return send_error(c->conn, 400, reason, "4.00");
  const json_t *paths = json_object_get(body, "paths");
  enum MHD_Result r;
  if (json_object_get(body, "content")) {
    json_decref(body);
    rq->op = NB_SOP_WRITE_COMPOSITE;
    return device_write(c, ep, rq);
  }
  size_t n = json_array_size(paths);
  if (n == 0 || n > 64) {
    json_decref(body);
    return send_error(c->conn, 400, "expected {\"paths\": [\"/3/0/0\", ...]} (1..64 paths)",
                      "4.00");
  }
  nb_path ps[64];
  for (size_t i = 0; i < n; i++) {
    const char *t = json_string_value(json_array_get(paths, i));
    if (!t || nb_path_parse(t, &ps[i]) != NB_OK) {
      json_decref(body);
      return send_error(c->conn, 400, "paths must be LwM2M paths like \"/3/0/0\"", "4.00");
    }
  }
  rq->op = json_is_true(json_object_get(body, "observe")) ? NB_SOP_OBSERVE_COMPOSITE
                                                          : NB_SOP_READ_COMPOSITE;
  rq->paths = ps;
  rq->path_count = n;
  r = submit(c, ep, rq);
  rq->paths = NULL; /* the engine copied them; ps dies with this frame */
  rq->path_count = 0;
  json_decref(body);
  return r;
}

static nb_err add_evidence(void *user, const nb_server_evidence_info *e) {
  json_t *j = json_pack("{s:I,s:s,s:s,s:s,s:o}", "at", (json_int_t)e->at, "kind", e->kind, "path",
                        e->path, "kid", e->kid, "cose", b64_json(e->cose, e->cose_len));
  if (!j) return NB_ERR_NOMEM;
  if (e->has_iat) json_object_set_new(j, "iat", json_integer((json_int_t)e->iat));
  return json_array_append_new(user, j) == 0 ? NB_OK : NB_ERR_NOMEM;
}

/* GET /api/clients/{ep}/evidence: the signed payloads kept for ep, newest first (also for a
 * device no longer registered: evidence outlives registrations). */
static enum MHD_Result list_evidence(conn_ctx *c, const char *ep) {
  const nb_server_store *st = &c->api->cfg.store;
  if (!st->ops || !st->ops->evidence_each)
    return send_error(c->conn, 404, "no store configured", "4.04");
  bool bad = false;
  int n = query_int(c->conn, "limit", NB_SERVER_EVIDENCE_MAX, 1, 100000, &bad);
  if (bad) return send_error(c->conn, 400, "limit must be 1..100000", "4.00");
  json_t *a = json_array();
  if (!a) return send_error(c->conn, 500, "out of memory", "5.00");
  nb_err rc = st->ops->evidence_each(st->self, ep, (size_t)n, add_evidence, a);
  if (rc != NB_OK) {
    json_decref(a);
    return send_error(c->conn, 500, "the store could not read the evidence", "5.00");
  }
  return send_json(c->conn, 200, a);
}

/* Splits "/3/0/1/observe" into the path and a trailing operation word. */
static bool split_suffix(const char *rest, char *path, size_t cap, const char **word) {
  static const char *const words[] = {"observe", "discover", "attributes", "history"};
  *word = NULL;
  const char *last = strrchr(rest, '/');
  size_t plen = strlen(rest);
  for (size_t i = 0; last && i < sizeof(words) / sizeof(words[0]); i++)
    if (strcmp(last + 1, words[i]) == 0) {
      *word = words[i];
      plen = (size_t)(last - rest);
    }
  if (plen >= cap) return false;
  memcpy(path, rest, plen);
  path[plen] = '\0';
  if (plen == 0) snprintf(path, cap, "/");
  return true;
}

static enum MHD_Result client_route(conn_ctx *c, const char *ep, const char *rest,
                                    const char *method) {
  nb_http_api *api = c->api;
  bool get = strcmp(method, "GET") == 0, put = strcmp(method, "PUT") == 0;
  bool post = strcmp(method, "POST") == 0, del = strcmp(method, "DELETE") == 0;
  nb_server_request rq;
  memset(&rq, 0, sizeof(rq));
  bool failed;
  if (strcmp(rest, "/composite") == 0) {
    if (!post) return send_error(c->conn, 405, "use POST", "4.05");
    enum MHD_Result r = common_query(c, &rq, &failed);
    return failed ? r : composite(c, ep, &rq);
  }
  if (strcmp(rest, "/observations") == 0) {
    if (!get) return send_error(c->conn, 405, "use GET", "4.05");
    return list_observations(c, ep);
  }
  if (strcmp(rest, "/evidence") == 0) {
    if (!get) return send_error(c->conn, 405, "use GET", "4.05");
    return list_evidence(c, ep);
  }
  char ptxt[NB_PATH_STRLEN * 2];
  const char *word;
  if (!split_suffix(rest, ptxt, sizeof(ptxt), &word) || nb_path_parse(ptxt, &rq.path) != NB_OK)
    return send_error(c->conn, 404, "not an LwM2M path (/object/instance/resource)", "4.04");
  if (word && strcmp(word, "history") == 0) {
    if (!get) return send_error(c->conn, 405, "use GET", "4.05");
    return send_json(c->conn, 200, nb_http_events_history(api->events, ep, &rq.path));
  }
  if (word && strcmp(word, "observe") == 0 && del) return observe_cancel(c, ep, &rq.path);
  enum MHD_Result r = common_query(c, &rq, &failed);
  if (failed) return r;
  if (!word) {
    if (get) {
      rq.op = NB_SOP_READ;
      return submit(c, ep, &rq);
    }
    if (put) {
      const char *rep = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "replace");
      rq.op = rep && strcmp(rep, "false") == 0 ? NB_SOP_WRITE_PARTIAL : NB_SOP_WRITE_REPLACE;
      return device_write(c, ep, &rq);
    }
    if (post && rq.path.len == NB_PATH_OBJECT) {
      rq.op = NB_SOP_CREATE;
      return device_write(c, ep, &rq);
    }
    if (post && rq.path.len == NB_PATH_INSTANCE) {
      rq.op = NB_SOP_WRITE_PARTIAL;
      return device_write(c, ep, &rq);
    }
    if (post && rq.path.len == NB_PATH_RESOURCE) {
      rq.op = NB_SOP_EXECUTE;
      return device_execute(c, ep, &rq);
    }
    if (del) {
      rq.op = NB_SOP_DELETE;
      return submit(c, ep, &rq);
    }
    return send_error(c->conn, 405, "method not allowed on this path", "4.05");
  }
  if (strcmp(word, "observe") == 0 && post) {
    rq.op = NB_SOP_OBSERVE;
    return submit(c, ep, &rq);
  }
  if (strcmp(word, "discover") == 0 && get) {
    rq.op = NB_SOP_DISCOVER;
    return submit(c, ep, &rq);
  }
  if (strcmp(word, "attributes") == 0 && put) {
    rq.op = NB_SOP_WRITE_ATTRS;
    return device_attributes(c, ep, &rq);
  }
  return send_error(c->conn, 405, "method not allowed on this path", "4.05");
}

/* ---- security credentials ---- */

/* PSK keys are secrets: never shown, only their presence. */
static json_t *sec_json(const nb_server_sec_info *s) {
  json_t *j = json_pack("{s:s,s:s,s:s}", "endpoint", s->ep, "mode", nb_server_id_kind_name(s->kind),
                        "identity", s->identity);
  if (j && s->kind == NB_SERVER_ID_RPK) {
    char hex[NB_SERVER_KEY_MAX * 2 + 1];
    json_object_set_new(j, "publicKey", json_string(nb_hex_encode(s->key, s->key_len, hex)));
  }
  return j;
}

static nb_err sec_each_json(void *user, const nb_server_sec_info *s) {
  json_array_append_new(user, sec_json(s));
  return NB_OK;
}

/* Non-empty strict hex. */
static bool unhex(const char *s, uint8_t *out, size_t cap, size_t *len) {
  return nb_hex_decode(s, strlen(s), NULL, out, cap, len) == NB_OK && *len > 0;
}

/* {"mode": "psk", "identity": "...", "key": "hex"} | {"mode": "rpk", "publicKey": "hex SPKI"}
 * | {"mode": "x509", "identity": "subject CN"} */
static bool sec_from_json(const json_t *b, const char *ep, nb_server_sec_info *s, char *reason,
                          size_t cap) {
  memset(s, 0, sizeof(*s));
  const char *mode = json_string_value(json_object_get(b, "mode"));
  const char *id = json_string_value(json_object_get(b, "identity"));
  const char *key = json_string_value(json_object_get(b, "key"));
  const char *pub = json_string_value(json_object_get(b, "publicKey"));
  if (!ep[0] || strlen(ep) >= sizeof(s->ep)) {
    snprintf(reason, cap, "endpoint name missing or too long");
    return false;
  }
  snprintf(s->ep, sizeof(s->ep), "%s", ep);
  if (!mode || nb_server_id_kind_parse(mode, &s->kind) != NB_OK || s->kind == NB_SERVER_ID_NONE) {
    snprintf(reason, cap, "mode must be psk, rpk or x509");
    return false;
  }
  if (s->kind == NB_SERVER_ID_PSK) {
    if (!id || !id[0] || strlen(id) >= sizeof(s->identity) || !key ||
        !unhex(key, s->key, sizeof(s->key), &s->key_len)) {
      snprintf(reason, cap, "psk needs \"identity\" and \"key\" (hex, 1..%d bytes)",
               NB_SERVER_KEY_MAX);
      return false;
    }
    snprintf(s->identity, sizeof(s->identity), "%s", id);
  } else if (s->kind == NB_SERVER_ID_RPK) {
    char sid[NB_DTLS_SECURE_ID_LEN + 1];
    if (!pub || !unhex(pub, s->key, sizeof(s->key), &s->key_len) ||
        nb_dtls_secure_id(s->key, s->key_len, sid) != NB_OK) {
      snprintf(reason, cap, "rpk needs \"publicKey\": the SubjectPublicKeyInfo DER in hex");
      return false;
    }
    snprintf(s->identity, sizeof(s->identity), "%s", sid);
  } else {
    if (!id || !id[0] || strlen(id) >= sizeof(s->identity)) {
      snprintf(reason, cap, "x509 needs \"identity\": the certificate subject CN");
      return false;
    }
    snprintf(s->identity, sizeof(s->identity), "%s", id);
  }
  return true;
}

static void audit_sec(conn_ctx *c, const char *op, const char *ep, const char *result) {
  nb_http_api *api = c->api;
  nb_server_audit_info au;
  memset(&au, 0, sizeof(au));
  au.at = nb_io_loop_now(api->loop) + api->cfg.clock_offset;
  snprintf(au.actor, sizeof(au.actor), "%s", c->actor);
  snprintf(au.ep, sizeof(au.ep), "%s", ep);
  snprintf(au.op, sizeof(au.op), "%s", op);
  snprintf(au.result, sizeof(au.result), "%s", result);
  api->cfg.store.ops->audit_add(api->cfg.store.self, &au);
}

static enum MHD_Result security_put(conn_ctx *c, const char *ep_in) {
  const nb_server_store *st = &c->api->cfg.store;
  char reason[160];
  json_t *body = parse_body(c, reason, sizeof(reason));
  if (!body) return send_error(c->conn, 400, reason, "4.00");
  const char *ep = ep_in ? ep_in : json_string_value(json_object_get(body, "endpoint"));
  nb_server_sec_info s, old;
  bool ok = json_is_object(body) && sec_from_json(body, ep ? ep : "", &s, reason, sizeof(reason));
  json_decref(body);
  if (!ok) return send_error(c->conn, 400, reason, "4.00");
  bool existed = st->ops->sec_get(st->self, s.ep, &old) == NB_OK;
  memset(&old, 0, sizeof(old));
  nb_err rc = st->ops->sec_put(st->self, &s);
  json_t *j = sec_json(&s);
  memset(&s, 0, sizeof(s)); /* the PSK */
  audit_sec(c, "security-put", json_string_value(json_object_get(j, "endpoint")),
            rc == NB_OK ? (existed ? "2.04" : "2.01") : "5.00");
  if (rc != NB_OK) {
    json_decref(j);
    return send_error(c->conn, 500, "the store refused the credential", "5.00");
  }
  return send_json(c->conn, existed ? 200 : 201, j);
}

static enum MHD_Result security_route(conn_ctx *c, const char *rest, const char *method) {
  const nb_server_store *st = &c->api->cfg.store;
  if (!st->ops) return send_error(c->conn, 404, "no store configured", "4.04");
  if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
    if (strcmp(method, "GET") == 0) {
      json_t *a = json_array();
      st->ops->sec_each(st->self, sec_each_json, a);
      return send_json(c->conn, 200, a);
    }
    if (strcmp(method, "POST") == 0) return security_put(c, NULL);
    return send_error(c->conn, 405, "use GET or POST", "4.05");
  }
  const char *ep = rest + 1;
  if (strchr(ep, '/') || strlen(ep) >= NB_SERVER_EP_MAX)
    return send_error(c->conn, 404, "not found", "4.04");
  if (strcmp(method, "PUT") == 0) return security_put(c, ep);
  nb_server_sec_info s;
  nb_err rc = st->ops->sec_get(st->self, ep, &s);
  if (strcmp(method, "GET") == 0) {
    json_t *j = rc == NB_OK ? sec_json(&s) : NULL;
    memset(&s, 0, sizeof(s));
    if (!j) return send_error(c->conn, 404, "no credential for this endpoint", "4.04");
    return send_json(c->conn, 200, j);
  }
  memset(&s, 0, sizeof(s));
  if (strcmp(method, "DELETE") == 0) {
    if (rc == NB_OK) rc = st->ops->sec_del(st->self, ep);
    audit_sec(c, "security-delete", ep, rc == NB_OK ? "2.02" : "4.04");
    if (rc != NB_OK) return send_error(c->conn, 404, "no credential for this endpoint", "4.04");
    return send_json(c->conn, 200, json_pack("{s:s}", "deleted", ep));
  }
  return send_error(c->conn, 405, "use GET, PUT or DELETE", "4.05");
}

/* ---- server-sent events ---- */

static void sse_wake(void *user) { cx_resume(user); }

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max) {
  conn_ctx *c = cls;
  (void)pos;
  if (!c->sub) return MHD_CONTENT_READER_END_OF_STREAM; /* the server is stopping */
  if (!c->hello_sent) {
    static const char hello[] = "retry: 3000\n: connected\n\n";
    c->hello_sent = true;
    if (max >= sizeof(hello) - 1) {
      memcpy(buf, hello, sizeof(hello) - 1);
      return (ssize_t)(sizeof(hello) - 1);
    }
  }
  size_t n = nb_http_sub_read(c->sub, buf, max);
  if (n == 0) cx_suspend(c); /* resumed by sse_wake when a frame is queued */
  return (ssize_t)n;
}

static enum MHD_Result start_events(conn_ctx *c) {
  nb_http_api *api = c->api;
  const char *ep = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "ep");
  if (ep && strlen(ep) >= NB_SERVER_EP_MAX)
    return send_error(c->conn, 400, "endpoint name too long", "4.00");
  c->sub = nb_http_events_subscribe(api->events, ep, sse_wake, c);
  if (!c->sub) return send_error(c->conn, 500, "out of memory", "5.00");
  live_link(api, c);
  struct MHD_Response *r =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, c, NULL);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, "Content-Type", "text/event-stream");
  MHD_add_response_header(r, "Cache-Control", "no-cache");
  enum MHD_Result ret = MHD_queue_response(c->conn, 200, r);
  MHD_destroy_response(r);
  return ret;
}

/* ---- routing ---- */

/* /api/alerts: monitors post alerts, the console lists them (alerts.h). */
static enum MHD_Result alerts_route(conn_ctx *c, const char *method) {
  nb_http_api *api = c->api;
  const char *limit = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "limit");
  int64_t now = nb_io_loop_now(api->loop) + api->cfg.clock_offset;
  unsigned status = 500;
  json_t *j = NULL;
  nb_http_alerts_route(api->alerts, method, limit, c->body, c->body_len, now, c->actor, &status,
                       &j);
  return send_json(c->conn, status, j);
}

typedef struct {
  json_t *arr;
  const nb_server *srv;
} list_ctx;

static void add_client(void *user, const nb_server_reg_info *r) {
  list_ctx *l = user;
  json_array_append_new(l->arr, nb_http_json_reg(r, nb_server_is_awake(l->srv, r->ep)));
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

static enum MHD_Result route(conn_ctx *c, const char *url, const char *method) {
  nb_http_api *api = c->api;
  struct MHD_Connection *conn = c->conn;
  if (!authorized(api, conn)) return send_error(conn, 401, "missing or wrong API token", "4.01");
  if (c->too_large) return send_error(conn, 413, "request body too large", "4.13");
  bool get = strcmp(method, "GET") == 0;
  if (!api->srv && strncmp(url, "/api/clients", 12) == 0)
    return send_error(conn, 404, "no management server here (bootstrap server only)", "4.04");
  if (strcmp(url, "/api/clients") == 0 || strcmp(url, "/api/clients/") == 0) {
    if (!get) return send_error(conn, 405, "use GET", "4.05");
    list_ctx l = {json_array(), api->srv};
    nb_server_each(api->srv, add_client, &l);
    return send_json(conn, 200, l.arr);
  }
  if (strcmp(url, "/api/events") == 0) {
    if (!get) return send_error(conn, 405, "use GET", "4.05");
    return start_events(c);
  }
  if (strcmp(url, "/api/audit") == 0) {
    if (!get) return send_error(conn, 405, "use GET", "4.05");
    if (!api->cfg.store.ops) return send_error(conn, 404, "no store configured", "4.04");
    bool bad = false;
    int n = query_int(conn, "limit", 100, 1, 10000, &bad);
    if (bad) return send_error(conn, 400, "limit must be 1..10000", "4.00");
    json_t *arr = json_array();
    api->cfg.store.ops->audit_each(api->cfg.store.self, (size_t)n, add_audit, arr);
    return send_json(conn, 200, arr);
  }
  if (strcmp(url, "/api/alerts") == 0) return alerts_route(c, method);
  if (strncmp(url, "/api/bootstrap", 14) == 0 && (url[14] == '\0' || url[14] == '/')) {
    if (!api->cfg.bootstrap)
      return send_error(conn, 404, "no bootstrap server here (--with-bootstrap)", "4.04");
    unsigned status = 500;
    json_t *j = NULL;
    nb_http_bs_route(api->cfg.bootstrap, method, url + 14, c->body, c->body_len, &status, &j);
    return send_json(conn, status, j);
  }
  if (strncmp(url, "/api/security/clients", 21) == 0 && (url[21] == '\0' || url[21] == '/'))
    return security_route(c, url + 21, method);
  if (strncmp(url, "/api/clients/", 13) == 0) {
    char ep[NB_SERVER_EP_MAX];
    const char *rest = url + 13;
    const char *slash = strchr(rest, '/');
    size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
    if (len == 0 || len >= sizeof(ep)) return send_error(conn, 404, "no such client", "4.04");
    memcpy(ep, rest, len);
    ep[len] = '\0';
    if (!slash || slash[1] == '\0') {
      if (!get) return send_error(conn, 405, "use GET", "4.05");
      const nb_server_reg_info *r = nb_server_find(api->srv, ep);
      if (!r) return send_error(conn, 404, "no registration for this endpoint", "4.04");
      return send_json(conn, 200, nb_http_json_reg(r, nb_server_is_awake(api->srv, ep)));
    }
    return client_route(c, ep, slash, method);
  }
  return send_error(conn, 404, "no such route (see docs/openapi.yaml)", "4.04");
}

static void actor_of(struct MHD_Connection *conn, char *out, size_t cap) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  nb_addr a;
  char buf[NB_ADDR_STRLEN];
  if (ci && ci->client_addr && nb_addr_from_sockaddr(ci->client_addr, &a) == NB_OK) {
    a.port = 0;
    nb_addr_format(&a, buf, sizeof(buf));
    int n = snprintf(out, cap, "api@%s", buf);
    if (n > 0 && (size_t)n < cap) return;
  }
  /* No address, or one that does not fit: an audit actor is never a cut-off address. */
  snprintf(out, cap, "api");
}

static enum MHD_Result on_http(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **req_cls) {
  nb_http_api *api = cls;
  (void)version;
  conn_ctx *c = *req_cls;
  if (!c) { /* first call: headers only */
    if (!(c = calloc(1, sizeof(*c)))) return MHD_NO;
    c->api = api;
    c->conn = conn;
    actor_of(conn, c->actor, sizeof(c->actor));
    *req_cls = c;
    return MHD_YES;
  }
  if (c->resp || c->status) { /* resumed with the device's answer */
    char *body = c->resp;
    c->resp = NULL;
    if (!body) return send_error(conn, c->status ? c->status : 500, "internal error", "5.00");
    return send_text(conn, c->status, body, "application/json");
  }
  if (*upload_size) {
    size_t max = api->cfg.body_max;
    if (c->too_large || c->body_len + *upload_size > max) {
      c->too_large = true;
    } else {
      char *b = realloc(c->body, c->body_len + *upload_size + 1);
      if (!b) return MHD_NO;
      memcpy(b + c->body_len, upload, *upload_size);
      c->body = b;
      c->body_len += *upload_size;
      b[c->body_len] = '\0';
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (c->routed) return MHD_YES;
  c->routed = true;
  return route(c, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
  nb_http_api *api = cls;
  (void)conn;
  (void)toe;
  conn_ctx *c = *req_cls;
  if (!c) return;
  *req_cls = NULL;
  live_unlink(api, c);
  if (c->call) { /* dropped while waiting: the engine must not call into it */
    dev_call *d = c->call;
    d->cx = NULL;
    c->call = NULL;
    nb_server_cancel(api->srv, d->id, false, nb_io_loop_now(api->loop));
  }
  if (c->sub) nb_http_events_unsubscribe(api->events, c->sub);
  free(c->resp);
  free(c->body);
  free(c);
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

static void on_keepalive(uv_timer_t *h) {
  nb_http_api *api = h->data;
  nb_http_events_keepalive(api->events);
}

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
  if (!alert || nb_http_alerts_add(api->alerts, alert, e->now + api->cfg.clock_offset, "server",
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
  if (!alert || nb_http_alerts_add(api->alerts, alert, e->now + api->cfg.clock_offset, "bootstrap",
                                   NULL, why, sizeof(why)) != NB_OK)
    NB_LOG_WARN(MOD, "event=alert_dropped reason=bootstrap_alert");
  json_decref(alert);
}

static void api_destroy(nb_http_api *api) {
  if (api->bs_alerts)
    nb_bs_engine_remove_listener(nb_http_bs_engine(api->cfg.bootstrap), on_bootstrap_event, api);
  if (api->srv) nb_server_remove_listener(api->srv, on_server_event, api);
  nb_http_alerts_free(api->alerts);
  nb_http_events_free(api->events);
  free(api->token);
  free(api);
}

nb_err nb_http_api_new(nb_io_loop *loop, nb_server *srv, const nb_http_api_config *cfg,
                       nb_http_api **out) {
  nb_http_api *api = calloc(1, sizeof(*api));
  if (!api) return NB_ERR_NOMEM;
  api->loop = loop;
  api->srv = srv;
  api->cfg = *cfg;
  if (!api->cfg.body_max) api->cfg.body_max = 65536;
  if (!api->cfg.keepalive_ms) api->cfg.keepalive_ms = 15000;
  nb_http_events_config ec = cfg->events;
  if (!ec.history_len) {
    nb_http_events_config_default(&ec);
    ec.clock_offset = cfg->clock_offset;
  }
  if ((cfg->api_token && !(api->token = strdup(cfg->api_token))) ||
      nb_http_events_new(srv, &ec, &api->events) != NB_OK ||
      nb_http_alerts_new(cfg->alerts_max, api->events, &api->alerts) != NB_OK ||
      (srv && nb_server_add_listener(srv, on_server_event, api) != NB_OK) ||
      (cfg->bootstrap &&
       nb_http_events_attach_bootstrap(api->events, nb_http_bs_engine(cfg->bootstrap)) != NB_OK) ||
      (cfg->bootstrap &&
       !(api->bs_alerts = nb_bs_engine_add_listener(nb_http_bs_engine(cfg->bootstrap),
                                                    on_bootstrap_event, api) == NB_OK))) {
    api_destroy(api);
    return NB_ERR_NOMEM;
  }
  api->cfg.api_token = NULL;
  struct sockaddr_storage ss;
  size_t sl;
  if (nb_addr_to_sockaddr(&cfg->listen, (struct sockaddr *)&ss, sizeof(ss), &sl) != NB_OK) {
    api_destroy(api);
    return NB_ERR_INVAL;
  }
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (cfg->listen.family == NB_ADDR_V6) flags |= MHD_USE_IPv6;
  api->mhd =
      MHD_start_daemon(flags, cfg->listen.port, NULL, NULL, on_http, api, MHD_OPTION_SOCK_ADDR,
                       (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed, api,
                       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_CONNECTION_LIMIT,
                       (unsigned)1000, MHD_OPTION_END);
  if (!api->mhd) {
    NB_LOG_ERROR(MOD,
                 "event=listen_failed reason=\"cannot start the HTTP daemon (address in use?)\"");
    api_destroy(api);
    return NB_ERR_IO;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(api->mhd, MHD_DAEMON_INFO_EPOLL_FD);
  uv_loop_t *uv = nb_io_loop_uv(loop);
  uv_poll_init(uv, &api->poll, info->epoll_fd);
  uv_timer_init(uv, &api->timer);
  uv_timer_init(uv, &api->keepalive);
  uv_prepare_init(uv, &api->prepare);
  api->poll.data = api->timer.data = api->keepalive.data = api->prepare.data = api;
  uv_poll_start(&api->poll, UV_READABLE, on_poll);
  uv_prepare_start(&api->prepare, on_prepare);
  uv_timer_start(&api->timer, on_timer, 0, 0);
  uv_timer_start(&api->keepalive, on_keepalive, api->cfg.keepalive_ms, api->cfg.keepalive_ms);
  *out = api;
  return NB_OK;
}

nb_http_events *nb_http_api_events(nb_http_api *api) { return api->events; }

uint16_t nb_http_api_port(const nb_http_api *api) {
  const union MHD_DaemonInfo *i = MHD_get_daemon_info(api->mhd, MHD_DAEMON_INFO_BIND_PORT);
  return i ? i->port : 0;
}

static void on_closed(uv_handle_t *h) {
  nb_http_api *api = h->data;
  if (--api->open_handles == 0) api_destroy(api);
}

void nb_http_api_free(nb_http_api *api) {
  if (!api) return;
  nb_http_events_detach_bootstrap(api->events); /* the engine may go before the feed */
  /* Every suspended connection must be resumed before MHD stops. */
  while (api->live) {
    conn_ctx *c = api->live;
    live_unlink(api, c);
    if (c->call) {
      dev_call *d = c->call;
      c->call = NULL;
      d->cx = NULL;
      nb_server_cancel(api->srv, d->id, false, nb_io_loop_now(api->loop));
    }
    if (c->sub) {
      nb_http_events_unsubscribe(api->events, c->sub);
      c->sub = NULL;
    }
    c->status = 503;
    cx_resume(c);
  }
  MHD_run(api->mhd);
  MHD_stop_daemon(api->mhd);
  api->mhd = NULL;
  api->open_handles = 4;
  uv_close((uv_handle_t *)&api->poll, on_closed);
  uv_close((uv_handle_t *)&api->timer, on_closed);
  uv_close((uv_handle_t *)&api->keepalive, on_closed);
  uv_close((uv_handle_t *)&api->prepare, on_closed);
}
