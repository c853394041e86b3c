/* Client and device-operation routes: see api_clients.h. */
#include "http/api_clients.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtls/cose.h"
#include "http/api_ctx.h"
#include "http/api_feed.h"
#include "http/json.h"
#include "lwm2m/fmtutil.h"

/* A request in the engine; freed on the engine's final callback. */
typedef struct {
  nb_http_req *rq; /* NULL once the HTTP side is answered or gone */
  nb_api_ctx *api;
  nb_server_op op;
  uint64_t id;
  bool single_value;
  bool queued;   /* answered 202: its result goes to api->results and the event stream */
  bool recorded; /* ... which it did */
  nb_path path;
  char ep[NB_SERVER_EP_MAX];
} dev_call;

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
static enum MHD_Result reply_nb_error(nb_http_req *rq, nb_err rc) {
  switch (rc) {
    case NB_ERR_NOT_FOUND:
      return nb_http_reply_error(rq, 404, "no registration for this endpoint", "4.04");
    case NB_ERR_BUSY:
      return nb_http_reply_error(rq, 429, "the queue of this sleeping client is full", "4.29");
    case NB_ERR_UNSUPPORTED:
      return nb_http_reply_error(rq, 400, "composite operations need a LwM2M 1.1 client", "4.00");
    case NB_ERR_NOMEM:
      return nb_http_reply_error(rq, 500, "out of memory", "5.00");
    case NB_ERR_RANGE:
      return nb_http_reply_error(rq, 400, "too many paths for one composite observation", "4.00");
    default:
      return nb_http_reply_error(rq, 400, "request not valid for this target or format", "4.00");
  }
}

/* ---- the device's answer ---- */

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

/* A response code as Leshan names it and docs/openapi.yaml shows it: "CONTENT", "CHANGED",
 * "NOT_FOUND", "UNSUPPORTED_CONTENT_FORMAT". */
static const char *status_name(uint8_t code, char *out, size_t cap) {
  const char *name = nb_coap_code_name(code);
  size_t i = 0;
  for (; name[i] && i + 1 < cap; i++)
    out[i] = name[i] == ' ' || name[i] == '-'   ? '_'
             : name[i] >= 'a' && name[i] <= 'z' ? (char)(name[i] - 'a' + 'A')
                                                : name[i];
  out[i] = '\0';
  return out;
}

static json_t *result_json(const dev_call *d, const nb_server_result *res, unsigned *status) {
  char code[8];
  if (res->err == NB_ERR_TIMEOUT) {
    *status = 504;
    return nb_http_error_json("device did not answer in time", "5.04");
  }
  if (res->err == NB_ERR_SIG_NO_KEY || res->err == NB_ERR_SIG_INVALID ||
      res->err == NB_ERR_SIG_ISSUER) {
    *status = 502;
    json_t *j = nb_http_error_json(nb_strerror(res->err), "5.02");
    if (j && res->signature) json_object_set_new(j, "signature", signature_json(res->signature));
    return j;
  }
  if (res->err != NB_OK && res->err != NB_ERR_FMT_MALFORMED) {
    *status = 502;
    return nb_http_error_json(nb_strerror(res->err), "5.02");
  }
  nb_coap_code_format(res->code, code);
  if (NB_COAP_CLASS(res->code) != 2) {
    *status = http_status_of(res->code);
    return nb_http_error_json(nb_coap_code_name(res->code), code);
  }
  if (res->err == NB_ERR_FMT_MALFORMED) {
    *status = 502;
    return nb_http_error_json("the device's payload does not decode", "5.02");
  }
  *status = http_status_of(res->code);
  char name[40];
  json_t *j =
      json_pack("{s:s,s:s}", "status", status_name(res->code, name, sizeof(name)), "code", code);
  if (!j) return NULL;
  if (res->records) {
    json_object_set_new(j, "content", nb_http_json_records(res->records));
    if (d->single_value && res->records->len == 1 &&
        nb_path_equal(&res->records->items[0].path, &d->path))
      json_object_set_new(j, "value", nb_http_json_value(&res->records->items[0].value));
  }
  if (res->format != NB_COAP_CF_NONE) /* the Content-Format the device answered with */
    json_object_set_new(
        j, "format",
        json_string(res->format == NB_COSE_CF_SIGN1 ? "cose" : nb_format_name(res->format)));
  if (res->links) json_object_set_new(j, "links", json_stringn(res->links, res->links_len));
  if (res->location && res->location[0])
    json_object_set_new(j, "location", json_string(res->location));
  if (res->signature) json_object_set_new(j, "signature", signature_json(res->signature));
  if (d->op == NB_SOP_OBSERVE || d->op == NB_SOP_OBSERVE_COMPOSITE)
    json_object_set_new(j, "observationId", json_integer((json_int_t)d->id));
  return j;
}

/* The end of a request answered 202: kept for GET /api/requests/{id} and streamed as a
 * REQUEST_RESULT event, with the answer a direct request would have had. */
static void record_result(dev_call *d, const nb_server_result *res) {
  nb_rq_state state = !res->unsent                 ? NB_RQ_DONE
                      : res->err == NB_ERR_TIMEOUT ? NB_RQ_EXPIRED
                                                   : NB_RQ_CANCELLED;
  unsigned status = 500;
  json_t *j =
      state == NB_RQ_EXPIRED
          ? nb_http_error_json("the device did not wake up before the request expired", "5.04")
          : result_json(d, res, &status);
  if (state == NB_RQ_EXPIRED) status = 504;
  char *text = j ? nb_http_json_text(j) : NULL;
  json_decref(j);
  int64_t now = nb_api_now_unix(d->api);
  if (nb_http_results_finish(d->api->results, d->id, state, status, text, now) == NB_OK)
    nb_http_events_publish(d->api->events, d->ep, "REQUEST_RESULT",
                           nb_http_results_json(d->api->results, d->id, now));
  free(text);
  d->recorded = true;
}

static void on_device_result(void *user, uint64_t id, const nb_server_result *res, bool last) {
  dev_call *d = user;
  (void)id;
  if (d->queued && !d->recorded && !res->notification) record_result(d, res);
  if (d->rq && !res->notification) {
    unsigned status = 500;
    json_t *j = result_json(d, res, &status);
    char *text = j ? nb_http_json_text(j) : NULL;
    json_decref(j);
    nb_http_req *rq = d->rq;
    d->rq = NULL;
    nb_http_req_answer(rq, status, text);
  }
  if (last) free(d);
}

/* The HTTP side went away first: the engine must not answer into it. */
static void call_cancel(void *user) {
  dev_call *d = user;
  d->rq = NULL;
  nb_server_cancel(d->api->srv, d->id, false, nb_io_loop_now(d->api->loop));
}

/* The paths of a request as text ("/3/0/1" or "/3/0/1,/3303/0/5700"). */
static void paths_text(const nb_server_request *sr, char *out, size_t cap) {
  size_t np = sr->path_count ? sr->path_count : 1, off = 0;
  out[0] = '\0';
  for (size_t i = 0; i < np && off + NB_PATH_STRLEN + 1 < cap; i++) {
    if (i) out[off++] = ',';
    nb_path_format(sr->path_count ? &sr->paths[i] : &sr->path, out + off, cap - off);
    off += strlen(out + off);
  }
}

/* A sleeping device's request: answered 202 now, its result kept for GET /api/requests/{id}
 * (and streamed) when the device wakes and answers; the engine's final callback frees d.
 * When no record can be kept, the request is cancelled and refused (503). */
static enum MHD_Result reply_queued(nb_http_req *rq, dev_call *d, const nb_server_request *sr) {
  nb_api_ctx *api = d->api;
  char paths[NB_PATH_STRLEN * 4];
  paths_text(sr, paths, sizeof(paths));
  d->rq = NULL;
  nb_err e = nb_http_results_add(api->results, d->id, d->ep, nb_server_op_name(sr->op), paths,
                                 nb_api_now_unix(api));
  if (e != NB_OK) { /* its callback frees d */
    nb_server_cancel(api->srv, d->id, false, nb_io_loop_now(api->loop));
    return nb_http_reply_error(rq, 503,
                               "too many queued requests are waiting for their devices; retry "
                               "later",
                               "5.03");
  }
  d->queued = true;
  return nb_http_reply_json(
      rq, 202, json_pack("{s:s,s:I}", "status", "QUEUED", "requestId", (json_int_t)d->id));
}

static enum MHD_Result submit(nb_http_req *rq, const char *ep, nb_server_request *sr) {
  nb_api_ctx *api = nb_api_of(rq);
  dev_call *d = calloc(1, sizeof(*d));
  if (!d) return nb_http_reply_error(rq, 500, "out of memory", "5.00");
  d->api = api;
  d->op = sr->op;
  d->path = sr->path;
  d->single_value = sr->path.len >= NB_PATH_RESOURCE;
  d->rq = rq;
  snprintf(d->ep, sizeof(d->ep), "%s", ep);
  bool queued = false;
  nb_err rc = nb_server_send_request(api->srv, ep, sr, on_device_result, d,
                                     nb_io_loop_now(api->loop), &d->id, &queued);
  if (rc != NB_OK) {
    free(d);
    return reply_nb_error(rq, rc);
  }
  if (queued) return reply_queued(rq, d, sr);
  return nb_http_req_hold(rq, call_cancel, d);
}

/* ---- request parts ---- */

/* ?format= and ?timeout= shared by every device operation; false once it answered 400. */
static bool common_query(nb_http_req *rq, nb_server_request *sr, enum MHD_Result *ret) {
  const char *fmt = nb_http_query(rq, "format");
  if (fmt && strcmp(fmt, "cose") == 0) {
    /* Signed data: not a codec but a request for the device's signature over SenML CBOR. */
    sr->sign = true;
  } else if (fmt) {
    int cf = nb_format_from_name(fmt);
    if (cf == NB_COAP_CF_NONE) {
      *ret = nb_http_reply_error(rq, 400,
                                 "unknown format (tlv, senml-json, senml-cbor, json, text, "
                                 "opaque, cbor, cose)",
                                 "4.00");
      return false;
    }
    sr->has_format = true;
    sr->format = cf;
  }
  bool bad = false;
  sr->timeout = (nb_time_ms)nb_http_query_int(rq, "timeout", 0, 1, 600, &bad) * 1000;
  if (bad) {
    *ret = nb_http_reply_error(rq, 400, "timeout must be 1..600 seconds", "4.00");
    return false;
  }
  sr->actor = rq->actor;
  return true;
}

/* The {ep} of the route; false (404 answered) when it does not fit. */
static bool target_ep(nb_http_req *rq, char *ep, enum MHD_Result *ret) {
  if (nb_route_param(&rq->params, 0, ep, NB_SERVER_EP_MAX)) return true;
  *ret = nb_http_reply_error(rq, 404, "no such client", "4.04");
  return false;
}

/* {ep} and the LwM2M path of {path*}, then ?format and ?timeout; false once answered. */
static bool target(nb_http_req *rq, char *ep, nb_server_request *sr, bool with_query,
                   enum MHD_Result *ret) {
  memset(sr, 0, sizeof(*sr));
  if (!target_ep(rq, ep, ret)) return false;
  char ptxt[NB_PATH_STRLEN * 2];
  ptxt[0] = '/';
  if (!nb_route_param(&rq->params, 1, ptxt + 1, sizeof(ptxt) - 1) ||
      nb_path_parse(ptxt, &sr->path) != NB_OK) {
    *ret = nb_http_reply_error(rq, 404, "not an LwM2M path (/object/instance/resource)", "4.04");
    return false;
  }
  return !with_query || common_query(rq, sr, ret);
}

/* PUT/POST with values: write, write-partial, create, write-composite. */
static enum MHD_Result device_write(nb_http_req *rq, const char *ep, nb_server_request *sr) {
  char reason[160];
  json_t *body = nb_http_req_json(rq, reason, sizeof(reason));
  if (!body) return nb_http_reply_error(rq, 400, reason, "4.00");
  nb_records recs;
  nb_records_init(&recs);
  const nb_path *base = sr->op == NB_SOP_WRITE_COMPOSITE ? NULL : &sr->path;
  nb_err rc = nb_http_json_to_records(nb_server_model(nb_api_of(rq)->srv), base, body, &recs,
                                      reason, sizeof(reason));
  json_decref(body);
  enum MHD_Result r;
  if (rc != NB_OK) {
    r = nb_http_reply_error(rq, rc == NB_ERR_NOMEM ? 500 : 400, reason, "4.00");
  } else {
    sr->records = &recs;
    r = submit(rq, ep, sr);
    sr->records = NULL; /* the engine encoded them; recs dies with this frame */
  }
  nb_records_deinit(&recs);
  return r;
}

static enum MHD_Result device_execute(nb_http_req *rq, const char *ep, nb_server_request *sr) {
  const char *args = NULL;
  json_t *body = NULL;
  if (rq->body_len) {
    char reason[160];
    if (!(body = nb_http_req_json(rq, reason, sizeof(reason))))
      return nb_http_reply_error(rq, 400, reason, "4.00");
    json_t *a = json_object_get(body, "args");
    if (!json_is_object(body) || (a && !json_is_string(a))) {
      json_decref(body);
      return nb_http_reply_error(rq, 400, "expected {\"args\": \"0='text'\"}", "4.00");
    }
    args = json_string_value(a);
  }
  sr->args = args;
  sr->args_len = args ? strlen(args) : 0;
  enum MHD_Result r = submit(rq, ep, sr);
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

/* ---- registrations ---- */

static void offer_client(void *user, const nb_server_reg_info *r) {
  nb_page_keys_offer(user, r->ep);
}

/* GET /api/clients: by endpoint name, a page at a time; one walk over the registrations keeps
 * the page's names only, then each is looked up. */
enum MHD_Result nb_api_clients_list(nb_http_req *rq) {
  nb_api_ctx *api = nb_api_of(rq);
  nb_page_keys page;
  enum MHD_Result ret;
  if (!nb_http_key_page(rq, &page, &ret)) return ret;
  nb_server_each(api->srv, offer_client, &page);
  nb_page_keys_finish(&page);
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < page.n; i++) {
    const nb_server_reg_info *r = nb_server_find(api->srv, page.keys[i]);
    if (r) json_array_append_new(arr, nb_http_json_reg(r, nb_server_is_awake(api->srv, r->ep)));
  }
  return nb_http_reply_key_page(rq, arr, &page);
}

enum MHD_Result nb_api_client_get(nb_http_req *rq) {
  nb_api_ctx *api = nb_api_of(rq);
  char ep[NB_SERVER_EP_MAX];
  enum MHD_Result ret;
  if (!target_ep(rq, ep, &ret)) return ret;
  const nb_server_reg_info *r = nb_server_find(api->srv, ep);
  if (!r) return nb_http_reply_error(rq, 404, "no registration for this endpoint", "4.04");
  return nb_http_reply_json(rq, 200, nb_http_json_reg(r, nb_server_is_awake(api->srv, ep)));
}

enum MHD_Result nb_api_client_observations(nb_http_req *rq) {
  nb_api_ctx *api = nb_api_of(rq);
  char ep[NB_SERVER_EP_MAX];
  enum MHD_Result ret;
  if (!target_ep(rq, ep, &ret)) return ret;
  if (!nb_server_find(api->srv, ep))
    return nb_http_reply_error(rq, 404, "no registration for this endpoint", "4.04");
  nb_server_obs_info obs[64];
  size_t n = nb_server_observations(api->srv, ep, obs, 64);
  json_t *a = json_array();
  for (size_t i = 0; i < n && i < 64; i++)
    json_array_append_new(
        a, json_pack("{s:I,s:s,s:b,s:s}", "observationId", (json_int_t)obs[i].id, "paths",
                     obs[i].paths, "composite", obs[i].composite, "format",
                     obs[i].format == NB_COSE_CF_SIGN1 ? "cose" : nb_format_name(obs[i].format)));
  return nb_http_reply_json(rq, 200, a);
}

static nb_err add_evidence(void *user, const nb_server_evidence_info *e) {
  nb_http_seq_list *p = user;
  if (!nb_page_seq_take(&p->page, e->seq)) return NB_OK;
  json_t *j = json_pack("{s:I,s:s,s:s,s:s,s:o}", "at", (json_int_t)e->at, "kind", e->kind, "path",
                        e->path, "kid", e->kid, "cose", b64_json(e->cose, e->cose_len));
  if (!j) return NB_ERR_NOMEM;
  if (e->has_iat) json_object_set_new(j, "iat", json_integer((json_int_t)e->iat));
  return json_array_append_new(p->arr, j) == 0 ? NB_OK : NB_ERR_NOMEM;
}

/* GET /api/clients/{ep}/evidence: the signed payloads kept for ep, newest first (also for a
 * device no longer registered: evidence outlives registrations). */
enum MHD_Result nb_api_client_evidence(nb_http_req *rq) {
  const nb_server_store *st = &nb_api_of(rq)->store;
  char ep[NB_SERVER_EP_MAX];
  enum MHD_Result ret;
  if (!target_ep(rq, ep, &ret)) return ret;
  if (!st->ops || !st->ops->evidence_each)
    return nb_http_reply_error(rq, 404, "no store configured", "4.04");
  nb_http_seq_list l;
  if (!nb_http_seq_list_start(rq, &l, &ret)) return ret;
  if (st->ops->evidence_each(st->self, ep, l.page.before, l.limit + 1, add_evidence, &l) != NB_OK) {
    json_decref(l.arr);
    return nb_http_reply_error(rq, 500, "the store could not read the evidence", "5.00");
  }
  return nb_http_reply_seq_list(rq, &l);
}

/* ---- operations on a path ---- */

enum MHD_Result nb_api_client_history(nb_http_req *rq) {
  char ep[NB_SERVER_EP_MAX];
  nb_server_request sr;
  enum MHD_Result ret;
  if (!target(rq, ep, &sr, false, &ret)) return ret;
  return nb_http_reply_json(rq, 200, nb_http_events_history(nb_api_of(rq)->events, ep, &sr.path));
}

/* ?active=false: passive cancel (the next notification gets RST); else an active one. */
static bool active_cancel(nb_http_req *rq) {
  const char *mode = nb_http_query(rq, "active");
  return !mode || strcmp(mode, "false") != 0;
}

/* DELETE .../{path}/observe: cancels the observations of that exact path. */
enum MHD_Result nb_api_client_observe_cancel(nb_http_req *rq) {
  nb_api_ctx *api = nb_api_of(rq);
  char ep[NB_SERVER_EP_MAX];
  nb_server_request sr;
  enum MHD_Result ret;
  if (!target(rq, ep, &sr, false, &ret)) return ret;
  if (!nb_server_find(api->srv, ep))
    return nb_http_reply_error(rq, 404, "no registration for this endpoint", "4.04");
  char ps[NB_PATH_STRLEN];
  nb_path_format(&sr.path, ps, sizeof(ps));
  bool active = active_cancel(rq);
  nb_server_obs_info obs[32];
  size_t n = nb_server_observations(api->srv, ep, obs, 32), cancelled = 0;
  for (size_t i = 0; i < n && i < 32; i++)
    if (strcmp(obs[i].paths, ps) == 0 &&
        nb_server_cancel(api->srv, obs[i].id, active, nb_io_loop_now(api->loop)) == NB_OK)
      cancelled++;
  nb_api_audit(rq, "observe-cancel", ep, ps, cancelled ? "cancelled" : "4.04");
  if (!cancelled) return nb_http_reply_error(rq, 404, "no observation of this path", "4.04");
  return nb_http_reply_json(rq, 200, json_pack("{s:I}", "cancelled", (json_int_t)cancelled));
}

static int cmp_text(const void *a, const void *b) { return strcmp(a, b); }

/* A path list "/a,/b" (or one path) as sorted path texts joined by ',': two lists name the same
 * observation whatever their order. false when a path does not parse. */
static bool path_set(const char *list, char *out, size_t cap) {
  nb_path ps[64];
  size_t n = 0;
  char buf[NB_SERVER_PATHS_MAX];
  snprintf(buf, sizeof(buf), "%s", list);
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (n == 64 || nb_path_parse(t, &ps[n]) != NB_OK) return false;
    n++;
  }
  if (!n) return false;
  char texts[64][NB_PATH_STRLEN];
  for (size_t i = 0; i < n; i++) nb_path_format(&ps[i], texts[i], sizeof(texts[i]));
  qsort(texts, n, sizeof(texts[0]), cmp_text);
  size_t off = 0;
  out[0] = '\0';
  for (size_t i = 0; i < n && off + NB_PATH_STRLEN + 1 < cap; i++)
    off += (size_t)snprintf(out + off, cap - off, "%s%s", i ? "," : "", texts[i]);
  return true;
}

/* DELETE .../composite/observe?paths=/3/0/1,/3303/0/5700: cancels the composite observations
 * of that set of paths (in any order). */
enum MHD_Result nb_api_client_composite_cancel(nb_http_req *rq) {
  nb_api_ctx *api = nb_api_of(rq);
  char ep[NB_SERVER_EP_MAX], want[NB_SERVER_PATHS_MAX], have[NB_SERVER_PATHS_MAX];
  enum MHD_Result ret;
  if (!target_ep(rq, ep, &ret)) return ret;
  const char *paths = nb_http_query(rq, "paths");
  if (!paths || !path_set(paths, want, sizeof(want)))
    return nb_http_reply_error(
        rq, 400, "give the observed paths as ?paths=/3/0/1,/3303/0/5700 (LwM2M paths)", "4.00");
  if (!nb_server_find(api->srv, ep))
    return nb_http_reply_error(rq, 404, "no registration for this endpoint", "4.04");
  nb_server_obs_info obs[64];
  size_t n = nb_server_observations(api->srv, ep, obs, 64), cancelled = 0;
  for (size_t i = 0; i < n && i < 64; i++)
    if (obs[i].composite && path_set(obs[i].paths, have, sizeof(have)) && strcmp(have, want) == 0 &&
        nb_server_cancel(api->srv, obs[i].id, active_cancel(rq), nb_io_loop_now(api->loop)) ==
            NB_OK)
      cancelled++;
  nb_api_audit(rq, "observe-composite-cancel", ep, want, cancelled ? "cancelled" : "4.04");
  if (!cancelled)
    return nb_http_reply_error(rq, 404, "no composite observation of these paths", "4.04");
  return nb_http_reply_json(rq, 200, json_pack("{s:I}", "cancelled", (json_int_t)cancelled));
}

/* A decimal ID of the route's parameter i; false when it is none. */
static bool id_param(const nb_http_req *rq, size_t i, uint64_t *id) {
  char text[24], *end;
  if (!nb_route_param(&rq->params, i, text, sizeof(text)) || text[0] < '0' || text[0] > '9')
    return false;
  *id = strtoull(text, &end, 10);
  return *end == '\0' && *id != 0;
}

/* DELETE .../observations/{id}: one observation of ep, single or composite. */
enum MHD_Result nb_api_client_observation_cancel(nb_http_req *rq) {
  nb_api_ctx *api = nb_api_of(rq);
  char ep[NB_SERVER_EP_MAX];
  enum MHD_Result ret;
  uint64_t id;
  if (!target_ep(rq, ep, &ret)) return ret;
  if (!id_param(rq, 1, &id)) return nb_http_reply_error(rq, 404, "no such observation", "4.04");
  nb_server_obs_info obs[64];
  size_t n = nb_server_observations(api->srv, ep, obs, 64);
  bool found = false;
  for (size_t i = 0; i < n && i < 64 && !found; i++)
    found = obs[i].id == id &&
            nb_server_cancel(api->srv, id, active_cancel(rq), nb_io_loop_now(api->loop)) == NB_OK;
  char ids[24];
  snprintf(ids, sizeof(ids), "%llu", (unsigned long long)id);
  nb_api_audit(rq, "observe-cancel", ep, ids, found ? "cancelled" : "4.04");
  if (!found)
    return nb_http_reply_error(rq, 404, "no observation of this endpoint has this ID", "4.04");
  return nb_http_reply_json(rq, 200, json_pack("{s:I}", "cancelled", (json_int_t)1));
}

/* ---- results of queued requests ---- */

/* The record of a queued request, with QUEUED turned SENT once the engine sent it. */
static json_t *request_record(nb_api_ctx *api, uint64_t id) {
  if (nb_http_results_pending(api->results, id) && !nb_server_request_queued(api->srv, id))
    nb_http_results_sent(api->results, id);
  return nb_http_results_json(api->results, id, nb_api_now_unix(api));
}

#define NO_SUCH_REQUEST                                                                    \
  "no such queued request: only requests answered 202 QUEUED have a result here, kept an " \
  "hour after they end (at most 10000)"

enum MHD_Result nb_api_request_get(nb_http_req *rq) {
  uint64_t id;
  json_t *j = id_param(rq, 0, &id) ? request_record(nb_api_of(rq), id) : NULL;
  if (!j) return nb_http_reply_error(rq, 404, NO_SUCH_REQUEST, "4.04");
  return nb_http_reply_json(rq, 200, j);
}

/* DELETE /api/requests/{id}: only while the request waits in the queue. */
enum MHD_Result nb_api_request_cancel(nb_http_req *rq) {
  nb_api_ctx *api = nb_api_of(rq);
  uint64_t id;
  json_t *j = id_param(rq, 0, &id) ? request_record(api, id) : NULL;
  if (!j) return nb_http_reply_error(rq, 404, NO_SUCH_REQUEST, "4.04");
  const char *state = json_string_value(json_object_get(j, "state"));
  bool sent = strcmp(state, "SENT") == 0;
  bool queued = strcmp(state, "QUEUED") == 0 &&
                nb_server_cancel(api->srv, id, false, nb_io_loop_now(api->loop)) == NB_OK;
  nb_api_audit(rq, "request-cancel", json_string_value(json_object_get(j, "endpoint")),
               json_string_value(json_object_get(j, "path")), queued ? "cancelled" : "4.09");
  json_decref(j);
  if (!queued)
    return nb_http_reply_error(rq, 409,
                               sent ? "already sent to the device: its result comes when it answers"
                                    : "this request has already ended",
                               "4.09");
  return nb_http_reply_json(rq, 200, request_record(api, id));
}

/* One operation on the path with no body to read. */
static enum MHD_Result path_op(nb_http_req *rq, nb_server_op op) {
  char ep[NB_SERVER_EP_MAX];
  nb_server_request sr;
  enum MHD_Result ret;
  if (!target(rq, ep, &sr, true, &ret)) return ret;
  sr.op = op;
  return submit(rq, ep, &sr);
}

enum MHD_Result nb_api_client_observe(nb_http_req *rq) { return path_op(rq, NB_SOP_OBSERVE); }

enum MHD_Result nb_api_client_discover(nb_http_req *rq) { return path_op(rq, NB_SOP_DISCOVER); }

enum MHD_Result nb_api_client_read(nb_http_req *rq) { return path_op(rq, NB_SOP_READ); }

enum MHD_Result nb_api_client_delete(nb_http_req *rq) { return path_op(rq, NB_SOP_DELETE); }

enum MHD_Result nb_api_client_attributes(nb_http_req *rq) {
  char ep[NB_SERVER_EP_MAX];
  nb_server_request sr;
  enum MHD_Result ret;
  if (!target(rq, ep, &sr, true, &ret)) return ret;
  sr.op = NB_SOP_WRITE_ATTRS;
  attr_ctx a;
  memset(&a, 0, sizeof(a));
  nb_attrs_init(&a.attrs);
  MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, collect_attr, &a);
  if (!a.bad && nb_attrs_validate(&a.attrs, a.reason, sizeof(a.reason)) != NB_OK) a.bad = true;
  if (a.bad) return nb_http_reply_error(rq, 400, a.reason, "4.00");
  sr.attrs = &a.attrs;
  return submit(rq, ep, &sr);
}

enum MHD_Result nb_api_client_write(nb_http_req *rq) {
  char ep[NB_SERVER_EP_MAX];
  nb_server_request sr;
  enum MHD_Result ret;
  if (!target(rq, ep, &sr, true, &ret)) return ret;
  const char *rep = nb_http_query(rq, "replace");
  sr.op = rep && strcmp(rep, "false") == 0 ? NB_SOP_WRITE_PARTIAL : NB_SOP_WRITE_REPLACE;
  return device_write(rq, ep, &sr);
}

/* POST on an object creates, on an instance writes partially, on a resource executes. */
enum MHD_Result nb_api_client_post(nb_http_req *rq) {
  char ep[NB_SERVER_EP_MAX];
  nb_server_request sr;
  enum MHD_Result ret;
  if (!target(rq, ep, &sr, true, &ret)) return ret;
  switch (sr.path.len) {
    case NB_PATH_OBJECT:
      sr.op = NB_SOP_CREATE;
      return device_write(rq, ep, &sr);
    case NB_PATH_INSTANCE:
      sr.op = NB_SOP_WRITE_PARTIAL;
      return device_write(rq, ep, &sr);
    case NB_PATH_RESOURCE:
      sr.op = NB_SOP_EXECUTE;
      return device_execute(rq, ep, &sr);
    default:
      return nb_http_reply_error(rq, 405, "method not allowed on this path", "4.05");
  }
}

/* POST /api/clients/{ep}/composite: {"paths": [...]} reads (or observes with
 * "observe": true), {"content": [...]} writes. */
enum MHD_Result nb_api_client_composite(nb_http_req *rq) {
  char ep[NB_SERVER_EP_MAX];
  nb_server_request sr;
  memset(&sr, 0, sizeof(sr));
  enum MHD_Result ret;
  if (!target_ep(rq, ep, &ret) || !common_query(rq, &sr, &ret)) return ret;
  char reason[160];
  json_t *body = nb_http_req_json(rq, reason, sizeof(reason));
  if (!body) return nb_http_reply_error(rq, 400, reason, "4.00");
  if (json_object_get(body, "content")) {
    json_decref(body);
    sr.op = NB_SOP_WRITE_COMPOSITE;
    return device_write(rq, ep, &sr);
  }
  const json_t *paths = json_object_get(body, "paths");
  size_t n = json_array_size(paths);
  if (n == 0 || n > 64) {
    json_decref(body);
    return nb_http_reply_error(rq, 400, "expected {\"paths\": [\"/3/0/0\", ...]} (1..64 paths)",
                               "4.00");
  }
  nb_path ps[64];
  for (size_t i = 0; i < n; i++) {
    const char *t = json_string_value(json_array_get(paths, i));
    if (!t || nb_path_parse(t, &ps[i]) != NB_OK) {
      json_decref(body);
      return nb_http_reply_error(rq, 400, "paths must be LwM2M paths like \"/3/0/0\"", "4.00");
    }
  }
  sr.op = json_is_true(json_object_get(body, "observe")) ? NB_SOP_OBSERVE_COMPOSITE
                                                         : NB_SOP_READ_COMPOSITE;
  sr.paths = ps;
  sr.path_count = n;
  enum MHD_Result r = submit(rq, ep, &sr);
  sr.paths = NULL; /* the engine copied them; ps dies with this frame */
  sr.path_count = 0;
  json_decref(body);
  return r;
}
