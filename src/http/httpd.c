/* libmicrohttpd in the libuv loop: see httpd.h. A held or streaming request is on the live
 * list so that stopping the daemon can end it: MHD refuses to stop with suspended
 * connections. */
#include "http/httpd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"
#include "http/json.h"

#define MOD "http"

struct nb_httpd {
  nb_io_loop *loop;
  nb_httpd_config cfg;
  struct MHD_Daemon *mhd;
  uv_poll_t poll;
  uv_timer_t timer;
  uv_prepare_t prepare;
  int open_handles;
  bool kick;         /* MHD must run before the loop sleeps */
  nb_http_req *live; /* held and streaming requests */
};

/* ---- live requests ---- */

static void live_link(nb_httpd *d, nb_http_req *rq) {
  rq->linked = true;
  rq->prev = NULL;
  rq->next = d->live;
  if (rq->next) rq->next->prev = rq;
  d->live = rq;
}

static void live_unlink(nb_httpd *d, nb_http_req *rq) {
  if (!rq->linked) return;
  rq->linked = false;
  if (rq->prev)
    rq->prev->next = rq->next;
  else
    d->live = rq->next;
  if (rq->next) rq->next->prev = rq->prev;
  rq->prev = rq->next = NULL;
  rq->cancel = NULL;
}

static void req_resume(nb_http_req *rq) {
  if (!rq->suspended) return;
  rq->suspended = false;
  MHD_resume_connection(rq->conn);
  rq->httpd->kick = true;
}

static void req_suspend(nb_http_req *rq) {
  rq->suspended = true;
  MHD_suspend_connection(rq->conn);
}

/* ---- answering ---- */

json_t *nb_http_error_json(const char *msg, const char *code) {
  return json_pack("{s:s,s:s}", "error", msg, "code", code);
}

enum MHD_Result nb_http_reply_text(nb_http_req *rq, unsigned status, char *text, const char *type) {
  if (!text) return MHD_NO;
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(text);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", type);
  enum MHD_Result ret = MHD_queue_response(rq->conn, status, r);
  MHD_destroy_response(r);
  return ret;
}

enum MHD_Result nb_http_reply_json(nb_http_req *rq, unsigned status, json_t *j) {
  char *text = j ? nb_http_json_text(j) : NULL;
  json_decref(j);
  return nb_http_reply_text(rq, status, text, "application/json");
}

enum MHD_Result nb_http_reply_error(nb_http_req *rq, unsigned status, const char *msg,
                                    const char *code) {
  return nb_http_reply_json(rq, status, nb_http_error_json(msg, code));
}

enum MHD_Result nb_http_req_hold(nb_http_req *rq, void (*cancel)(void *user), void *user) {
  rq->held = true;
  rq->user = user;
  live_link(rq->httpd, rq);
  rq->cancel = cancel;
  req_suspend(rq);
  return MHD_YES;
}

void nb_http_req_answer(nb_http_req *rq, unsigned status, char *json_text) {
  rq->status = json_text ? status : 500;
  rq->answer = json_text;
  live_unlink(rq->httpd, rq);
  req_resume(rq);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  nb_http_req *rq = cls;
  (void)pos;
  if (rq->ended) return MHD_CONTENT_READER_END_OF_STREAM;
  ssize_t n = rq->read(rq->user, buf, max);
  if (n < 0) return MHD_CONTENT_READER_END_OF_STREAM;
  if (n == 0) req_suspend(rq); /* resumed by nb_http_req_wake */
  return n;
}

enum MHD_Result nb_http_req_stream(nb_http_req *rq, const char *content_type,
                                   ssize_t (*read)(void *user, char *buf, size_t max),
                                   void (*gone)(void *user), void *user) {
  struct MHD_Response *r =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, rq, NULL);
  if (!r) {
    gone(user);
    return MHD_NO;
  }
  rq->read = read;
  rq->user = user;
  live_link(rq->httpd, rq);
  rq->cancel = gone;
  MHD_add_response_header(r, "Content-Type", content_type);
  MHD_add_response_header(r, "Cache-Control", "no-cache");
  enum MHD_Result ret = MHD_queue_response(rq->conn, 200, r);
  MHD_destroy_response(r);
  return ret;
}

void nb_http_req_wake(nb_http_req *rq) { req_resume(rq); }

/* ---- reading ---- */

const char *nb_http_query(const nb_http_req *rq, const char *name) {
  return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

int nb_http_query_int(const nb_http_req *rq, const char *name, int dflt, int lo, int hi,
                      bool *bad) {
  const char *t = nb_http_query(rq, name);
  if (!t) return dflt;
  char *end;
  long v = strtol(t, &end, 10);
  if (*t == '\0' || *end != '\0' || v < lo || v > hi) {
    *bad = true;
    return dflt;
  }
  return (int)v;
}

json_t *nb_http_req_json(const nb_http_req *rq, char *err, size_t cap) {
  json_error_t je;
  json_t *j = json_loadb(rq->body ? rq->body : "", rq->body_len, 0, &je);
  /* jansson's message is at most 160 bytes; 100 keep the reply readable. */
  if (!j) snprintf(err, cap, "bad JSON: %.100s (line %d)", je.text, je.line);
  return j;
}

/* ---- MHD callbacks ---- */

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

/* Appends an upload chunk (or notes that the body is too large). */
static bool collect_body(nb_httpd *d, nb_http_req *rq, const char *upload, size_t size) {
  if (rq->too_large || rq->body_len + size > d->cfg.body_max) {
    rq->too_large = true;
    return true;
  }
  char *b = realloc(rq->body, rq->body_len + size + 1);
  if (!b) return false;
  memcpy(b + rq->body_len, upload, size);
  rq->body = b;
  rq->body_len += size;
  b[rq->body_len] = '\0';
  return true;
}

static enum MHD_Result on_http(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **req_cls) {
  nb_httpd *d = cls;
  (void)version;
  nb_http_req *rq = *req_cls;
  if (!rq) { /* first call: headers only */
    if (!(rq = calloc(1, sizeof(*rq)))) return MHD_NO;
    rq->httpd = d;
    rq->app = d->cfg.app;
    rq->conn = conn;
    rq->method = method;
    rq->path = url;
    actor_of(conn, rq->actor, sizeof(rq->actor));
    *req_cls = rq;
    return MHD_YES;
  }
  if (rq->held && !rq->suspended && !rq->linked) { /* resumed with its answer */
    char *body = rq->answer;
    rq->answer = NULL;
    rq->held = false;
    if (!body)
      return nb_http_reply_error(rq, rq->status ? rq->status : 500, "internal error", "5.00");
    return nb_http_reply_text(rq, rq->status, body, "application/json");
  }
  if (*upload_size) {
    if (!collect_body(d, rq, upload, *upload_size)) return MHD_NO;
    *upload_size = 0;
    return MHD_YES;
  }
  if (rq->routed) return MHD_YES;
  rq->routed = true;
  return d->cfg.on_request(d->cfg.app, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
  nb_httpd *d = cls;
  (void)conn;
  (void)toe;
  nb_http_req *rq = *req_cls;
  if (!rq) return;
  *req_cls = NULL;
  void (*cancel)(void *) = rq->cancel;
  live_unlink(d, rq);
  if (cancel) cancel(rq->user); /* the handler's side must not call into rq any more */
  free(rq->answer);
  free(rq->body);
  free(rq);
}

/* ---- libuv integration ---- */

static void run_mhd(nb_httpd *d) {
  if (d->mhd) MHD_run(d->mhd);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  run_mhd(h->data);
}

static void on_timer(uv_timer_t *h) { run_mhd(h->data); }

/* Before the loop sleeps: MHD's next timeout becomes our timer. */
static void on_prepare(uv_prepare_t *h) {
  nb_httpd *d = h->data;
  MHD_UNSIGNED_LONG_LONG t;
  if (!d->mhd) return;
  if (d->kick) {
    d->kick = false;
    uv_timer_start(&d->timer, on_timer, 0, 0);
    return;
  }
  if (MHD_get_timeout(d->mhd, &t) == MHD_YES)
    uv_timer_start(&d->timer, on_timer, t, 0);
  else if (!uv_is_active((uv_handle_t *)&d->timer))
    uv_timer_start(&d->timer, on_timer, 1000, 0);
}

static struct MHD_Daemon *start_mhd(nb_httpd *d) {
  struct sockaddr_storage ss;
  size_t sl;
  if (nb_addr_to_sockaddr(&d->cfg.listen, (struct sockaddr *)&ss, sizeof(ss), &sl) != NB_OK)
    return NULL;
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (d->cfg.listen.family == NB_ADDR_V6) flags |= MHD_USE_IPv6;
  return MHD_start_daemon(flags, d->cfg.listen.port, NULL, NULL, on_http, d, MHD_OPTION_SOCK_ADDR,
                          (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_CONNECTION_LIMIT,
                          (unsigned)1000, MHD_OPTION_END);
}

nb_err nb_httpd_new(nb_io_loop *loop, const nb_httpd_config *cfg, nb_httpd **out) {
  nb_httpd *d = calloc(1, sizeof(*d));
  if (!d) return NB_ERR_NOMEM;
  d->loop = loop;
  d->cfg = *cfg;
  if (!d->cfg.body_max) d->cfg.body_max = 65536;
  if (!(d->mhd = start_mhd(d))) {
    NB_LOG_ERROR(MOD,
                 "event=listen_failed reason=\"cannot start the HTTP daemon (address in use?)\"");
    free(d);
    return NB_ERR_IO;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_EPOLL_FD);
  uv_loop_t *uv = nb_io_loop_uv(loop);
  uv_poll_init(uv, &d->poll, info->epoll_fd);
  uv_timer_init(uv, &d->timer);
  uv_prepare_init(uv, &d->prepare);
  d->poll.data = d->timer.data = d->prepare.data = d;
  uv_poll_start(&d->poll, UV_READABLE, on_poll);
  uv_prepare_start(&d->prepare, on_prepare);
  uv_timer_start(&d->timer, on_timer, 0, 0);
  *out = d;
  return NB_OK;
}

uint16_t nb_httpd_port(const nb_httpd *d) {
  const union MHD_DaemonInfo *i = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
  return i ? i->port : 0;
}

static void on_closed(uv_handle_t *h) {
  nb_httpd *d = h->data;
  if (--d->open_handles == 0) free(d);
}

void nb_httpd_free(nb_httpd *d) {
  if (!d) return;
  /* Every suspended connection must be resumed before MHD stops. */
  while (d->live) {
    nb_http_req *rq = d->live;
    void (*cancel)(void *) = rq->cancel;
    live_unlink(d, rq);
    if (cancel) cancel(rq->user);
    rq->ended = true;
    if (rq->held) rq->status = 503;
    req_resume(rq);
  }
  MHD_run(d->mhd);
  MHD_stop_daemon(d->mhd);
  d->mhd = NULL;
  d->open_handles = 3;
  uv_close((uv_handle_t *)&d->poll, on_closed);
  uv_close((uv_handle_t *)&d->timer, on_closed);
  uv_close((uv_handle_t *)&d->prepare, on_closed);
}
