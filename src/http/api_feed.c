/* Events, audit and alerts routes: see api_feed.h. */
#include "http/api_feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/api_ctx.h"

/* ---- server-sent events ---- */

typedef struct {
  nb_http_req *rq;
  nb_api_ctx *api;
  nb_http_sub *sub;
  bool hello_sent;
} sse_stream;

static void sse_wake(void *user) {
  sse_stream *s = user;
  nb_http_req_wake(s->rq);
}

static ssize_t sse_read(void *user, char *buf, size_t max) {
  sse_stream *s = user;
  if (!s->hello_sent) {
    static const char hello[] = "retry: 3000\n: connected\n\n";
    s->hello_sent = true;
    if (max >= sizeof(hello) - 1) {
      memcpy(buf, hello, sizeof(hello) - 1);
      return (ssize_t)(sizeof(hello) - 1);
    }
  }
  return (ssize_t)nb_http_sub_read(s->sub, buf, max);
}

static void sse_gone(void *user) {
  sse_stream *s = user;
  nb_http_events_unsubscribe(s->api->events, s->sub);
  free(s);
}

enum MHD_Result nb_api_events(nb_http_req *rq) {
  nb_api_ctx *api = nb_api_of(rq);
  const char *ep = nb_http_query(rq, "ep");
  if (ep && strlen(ep) >= NB_SERVER_EP_MAX)
    return nb_http_reply_error(rq, 400, "endpoint name too long", "4.00");
  /* Streams have their own bounds, so that they never take the room of other requests. */
  nb_err slot = nb_http_req_stream_slot(rq);
  if (slot != NB_OK) {
    rq->close = true;
    return slot == NB_ERR_BUSY
               ? nb_http_reply_error(rq, 429, "too many event streams from this address", "4.29")
               : nb_http_reply_error(rq, 503, "too many event streams; try again later", "5.03");
  }
  sse_stream *s = calloc(1, sizeof(*s));
  if (!s) return nb_http_reply_error(rq, 500, "out of memory", "5.00");
  s->rq = rq;
  s->api = api;
  s->sub = nb_http_events_subscribe(api->events, ep, sse_wake, s);
  if (!s->sub) {
    free(s);
    return nb_http_reply_error(rq, 500, "out of memory", "5.00");
  }
  return nb_http_req_stream(rq, "text/event-stream", sse_read, sse_gone, s);
}

/* ---- audit ---- */

void nb_api_audit(nb_http_req *rq, const char *op, const char *ep, const char *path,
                  const char *result) {
  nb_api_ctx *api = nb_api_of(rq);
  if (!api->store.ops) return;
  nb_server_audit_info au;
  memset(&au, 0, sizeof(au));
  au.at = nb_api_now_unix(api);
  snprintf(au.actor, sizeof(au.actor), "%s", rq->actor);
  snprintf(au.ep, sizeof(au.ep), "%s", ep ? ep : "");
  snprintf(au.op, sizeof(au.op), "%s", op);
  snprintf(au.path, sizeof(au.path), "%s", path ? path : "");
  snprintf(au.result, sizeof(au.result), "%s", result);
  api->store.ops->audit_add(api->store.self, &au);
}

static nb_err add_audit(void *user, const nb_server_audit_info *a) {
  nb_http_seq_list *p = user;
  if (!nb_page_seq_take(&p->page, a->seq)) return NB_OK;
  json_t *j =
      json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "at", (json_int_t)a->at, "actor", a->actor, "endpoint",
                a->ep, "operation", a->op, "path", a->path, "result", a->result);
  return j && json_array_append_new(p->arr, j) == 0 ? NB_OK : NB_ERR_NOMEM;
}

/* GET /api/audit: newest first, a page at a time (the cursor is the last entry's seq). */
enum MHD_Result nb_api_audit_list(nb_http_req *rq) {
  const nb_server_store *st = &nb_api_of(rq)->store;
  nb_http_seq_list l;
  enum MHD_Result ret;
  if (!nb_http_seq_list_start(rq, &l, &ret)) return ret;
  if (st->ops->audit_each(st->self, l.page.before, l.limit + 1, add_audit, &l) != NB_OK) {
    json_decref(l.arr);
    return nb_http_reply_error(rq, 500, "the store could not read the audit log", "5.00");
  }
  return nb_http_reply_seq_list(rq, &l);
}

/* ---- alerts ---- */

/* GET /api/alerts: newest first, a page at a time (the cursor is the last alert's id). */
enum MHD_Result nb_api_alerts_list(nb_http_req *rq) {
  nb_page_query q;
  nb_page_seq p;
  enum MHD_Result ret;
  if (!nb_http_seq_page(rq, &q, &p, &ret)) return ret;
  uint64_t next;
  json_t *arr = nb_http_alerts_page(nb_api_of(rq)->alerts, (uint64_t)p.before, q.limit, &next);
  char cursor[24];
  snprintf(cursor, sizeof(cursor), "%llu", (unsigned long long)next);
  return nb_http_reply_page(rq, arr, q.limit, next ? cursor : NULL);
}

/* POST /api/alerts: monitors post alerts (alerts.h). */
enum MHD_Result nb_api_alerts_post(nb_http_req *rq) {
  nb_api_ctx *api = nb_api_of(rq);
  unsigned status = 500;
  json_t *j = NULL;
  nb_http_alerts_route(api->alerts, rq->method, nb_http_query(rq, "limit"), rq->body, rq->body_len,
                       nb_api_now_unix(api), rq->actor, &status, &j);
  return nb_http_reply_json(rq, status, j);
}
