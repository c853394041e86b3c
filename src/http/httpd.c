/* libmicrohttpd in the libuv loop: see httpd.h. A held or streaming request is on the live
 * list so that stopping the daemon can end it: MHD refuses to stop with suspended
 * connections. */
#include "http/httpd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "base/log.h"
#include "base/rand.h"
#include "http/json.h"

#define MOD "http"
#define SWEEP_MS 200   /* how often deadlines are checked */
#define MHD_SLACK 64   /* MHD's own bound above ours: evicted sockets still closing */
#define FD_RESERVE 128 /* descriptors kept for the rest of the process */
#define MSG_MAX 160    /* the last libmicrohttpd message kept for the summary */
/* HTTPS: GnuTLS's defaults without the protocol versions older than TLS 1.2. */
#define TLS_PRIORITIES "NORMAL:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1"

/* What the summary line reports (reset at each line). */
typedef struct {
  nb_http_admit_stats admit; /* the admission counters when the last line was written */
  uint64_t mhd_messages;
  char last_message[MSG_MAX];
} summary;

struct nb_httpd {
  nb_io_loop *loop;
  nb_httpd_config cfg;
  struct MHD_Daemon *mhd;
  nb_http_admit *admit;
  char *cert, *key; /* PEM, while MHD runs */
  summary sum;
  uv_poll_t poll;
  uv_timer_t timer, sweep, report;
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
  if (rq->close) MHD_add_response_header(r, "Connection", "close");
  if (rq->link[0]) MHD_add_response_header(r, "Link", rq->link);
  rq->replied = true;
  enum MHD_Result ret = MHD_queue_response(rq->conn, status, r);
  MHD_destroy_response(r);
  return ret;
}

enum MHD_Result nb_http_reply_static(nb_http_req *rq, unsigned status, const void *data, size_t len,
                                     const char *type, const char *const *headers) {
  /* PERSISTENT: MHD only reads it (its API takes no const pointer). */
  union {
    const void *in;
    void *out;
  } body = {.in = data};
  struct MHD_Response *r = MHD_create_response_from_buffer(len, body.out, MHD_RESPMEM_PERSISTENT);
  if (!r) return MHD_NO;
  if (type) MHD_add_response_header(r, "Content-Type", type);
  for (size_t i = 0; headers && headers[i]; i += 2)
    MHD_add_response_header(r, headers[i], headers[i + 1]);
  if (rq->close) MHD_add_response_header(r, "Connection", "close");
  rq->replied = true;
  enum MHD_Result ret = MHD_queue_response(rq->conn, status, r);
  MHD_destroy_response(r);
  return ret;
}

enum MHD_Result nb_http_reply_json(nb_http_req *rq, unsigned status, json_t *j) {
  char *text = j ? nb_http_json_text(j) : NULL;
  json_decref(j);
  return nb_http_reply_text(rq, status, text, "application/json");
}

enum MHD_Result nb_http_reply_page(nb_http_req *rq, json_t *arr, size_t limit,
                                   const char *next_cursor) {
  if (!arr) return nb_http_reply_error(rq, 500, "out of memory", "5.00");
  if (next_cursor &&
      nb_page_next_link(rq->path, limit, next_cursor, rq->link, sizeof(rq->link)) != NB_OK)
    rq->link[0] = '\0'; /* cannot happen with our paths and cursors */
  return nb_http_reply_json(rq, 200, arr);
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

/* The admission entry of a connection (NULL when it has none). */
static nb_http_conn *conn_of(struct MHD_Connection *conn) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci ? ci->socket_context : NULL;
}

nb_err nb_http_req_stream_slot(nb_http_req *rq) {
  nb_http_conn *c = conn_of(rq->conn);
  return c ? nb_http_admit_stream(rq->httpd->admit, c) : NB_ERR_RANGE;
}

/* ---- reading ---- */

const char *nb_http_header(const nb_http_req *rq, const char *name) {
  return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

bool nb_http_has_body(const nb_http_req *rq, uint64_t *length) {
  *length = 0;
  const char *cl = nb_http_header(rq, "Content-Length");
  if (cl) {
    char *end;
    unsigned long long v = strtoull(cl, &end, 10);
    *length = (uint64_t)v;
    if (*end == '\0' && v > 0) return true;
  }
  return nb_http_header(rq, "Transfer-Encoding") != NULL;
}

nb_err nb_http_local_addr(const nb_http_req *rq, nb_addr *out) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (!ci || getsockname(ci->connect_fd, (struct sockaddr *)&ss, &len) != 0) return NB_ERR_IO;
  return nb_addr_from_sockaddr((struct sockaddr *)&ss, out);
}

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

bool nb_http_page_query(nb_http_req *rq, nb_page_query *q, enum MHD_Result *ret) {
  char why[120];
  if (nb_page_query_parse(nb_http_query(rq, "limit"), nb_http_query(rq, "cursor"), NB_PAGE_DEFAULT,
                          NB_PAGE_MAX, q, why, sizeof(why)) == NB_OK)
    return true;
  *ret = nb_http_reply_error(rq, 400, why, "4.00");
  return false;
}

bool nb_http_key_page(nb_http_req *rq, nb_page_keys *p, enum MHD_Result *ret) {
  nb_page_query q;
  if (!nb_http_page_query(rq, &q, ret)) return false;
  if (nb_page_keys_init(p, &q) == NB_OK) return true;
  *ret = nb_http_reply_error(rq, 500, "out of memory", "5.00");
  return false;
}

enum MHD_Result nb_http_reply_key_page(nb_http_req *rq, json_t *arr, nb_page_keys *p) {
  enum MHD_Result r =
      nb_http_reply_page(rq, arr, p->limit, p->more && p->n ? p->keys[p->n - 1] : NULL);
  nb_page_keys_deinit(p);
  return r;
}

bool nb_http_seq_page(nb_http_req *rq, nb_page_query *q, nb_page_seq *p, enum MHD_Result *ret) {
  if (!nb_http_page_query(rq, q, ret)) return false;
  if (nb_page_seq_init(p, q) == NB_OK) return true;
  *ret =
      nb_http_reply_error(rq, 400, "cursor must be one this list gave (its Link header)", "4.00");
  return false;
}

bool nb_http_seq_list_start(nb_http_req *rq, nb_http_seq_list *l, enum MHD_Result *ret) {
  nb_page_query q;
  l->arr = NULL;
  if (!nb_http_seq_page(rq, &q, &l->page, ret)) return false;
  l->limit = q.limit;
  if ((l->arr = json_array())) return true;
  *ret = nb_http_reply_error(rq, 500, "out of memory", "5.00");
  return false;
}

enum MHD_Result nb_http_reply_seq_list(nb_http_req *rq, nb_http_seq_list *l) {
  char cursor[24];
  enum MHD_Result r =
      nb_http_reply_page(rq, l->arr, l->limit, nb_page_seq_next(&l->page, cursor, sizeof(cursor)));
  l->arr = NULL;
  return r;
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
  uint64_t limit = rq->body_limit ? rq->body_limit : d->cfg.body_max;
  if (rq->sink) {
    if (rq->too_large || size > limit - rq->received) {
      rq->too_large = true;
      return true;
    }
    rq->received += size;
    if (rq->sink_err == NB_OK) rq->sink_err = rq->sink(rq->sink_user, upload, size);
    return true;
  }
  if (rq->too_large || rq->body_len + size > limit) {
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
    nb_http_conn *c = conn_of(conn);
    if (!c || nb_http_admit_is_dead(c)) return MHD_NO; /* evicted: its socket is closing */
    if (!(rq = calloc(1, sizeof(*rq)))) return MHD_NO;
    rq->httpd = d;
    rq->app = d->cfg.app;
    rq->conn = conn;
    rq->method = method;
    rq->path = url;
    actor_of(conn, rq->actor, sizeof(rq->actor));
    *req_cls = rq;
    uint64_t length;
    nb_http_admit_header(d->admit, c, nb_http_has_body(rq, &length), nb_io_loop_now(d->loop));
    if (!d->cfg.on_headers) return MHD_YES;
    enum MHD_Result r = d->cfg.on_headers(d->cfg.app, rq);
    if (rq->replied) rq->routed = true; /* refused: the body is never read */
    return r;
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
    if (rq->replied) { /* refused at its header: what comes is dropped */
      *upload_size = 0;
      return MHD_YES;
    }
    if (!collect_body(d, rq, upload, *upload_size)) return MHD_NO;
    *upload_size = 0;
    nb_http_conn *c = rq->sink ? conn_of(conn) : NULL;
    if (c) nb_http_admit_progress(d->admit, c, nb_io_loop_now(d->loop));
    return MHD_YES;
  }
  if (rq->routed) return MHD_YES;
  rq->routed = true;
  nb_http_conn *c = conn_of(conn);
  if (c) nb_http_admit_body(d->admit, c);
  return d->cfg.on_request(d->cfg.app, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
  nb_httpd *d = cls;
  (void)toe;
  nb_http_conn *c = conn_of(conn);
  if (c) nb_http_admit_done(d->admit, c, nb_io_loop_now(d->loop));
  nb_http_req *rq = *req_cls;
  if (!rq) return;
  *req_cls = NULL;
  void (*cancel)(void *) = rq->cancel;
  live_unlink(d, rq);
  if (cancel) cancel(rq->user); /* the handler's side must not call into rq any more */
  if (rq->sink_end) rq->sink_end(rq->sink_user);
  free(rq->answer);
  free(rq->body);
  free(rq);
}

/* ---- connections ---- */

static void close_fd(void *user, int fd) {
  (void)user;
  shutdown(fd, SHUT_RDWR); /* MHD sees the end of the stream and closes it */
}

static void admit_new(nb_httpd *d, struct MHD_Connection *conn, void **socket_context) {
  const union MHD_ConnectionInfo *fdi =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  const union MHD_ConnectionInfo *ai =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  nb_addr peer;
  if (!fdi) return;
  nb_http_conn *c = NULL;
  int victim = -1;
  if (!ai || !ai->client_addr || nb_addr_from_sockaddr(ai->client_addr, &peer) != NB_OK ||
      nb_http_admit_open(d->admit, &peer, fdi->connect_fd, nb_io_loop_now(d->loop), &c, &victim) !=
          NB_OK ||
      !c) {
    close_fd(d, fdi->connect_fd); /* refused (counted) */
    return;
  }
  if (victim >= 0) close_fd(d, victim);
  *socket_context = c;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
  nb_httpd *d = cls;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    admit_new(d, conn, socket_context);
  } else {
    nb_http_admit_close(d->admit, *socket_context);
    *socket_context = NULL;
  }
}

/* ---- what is logged: one summary line, never one line per connection ---- */

/* libmicrohttpd's words for a client that went away while it was being answered: how every
 * event stream ends (curl stopped, a browser tab closed), not something to warn about. */
static bool peer_gone(const char *m) {
  static const char *const gone[] = {"no longer available", "closed by remote", "reset by peer",
                                     "Broken pipe", "shut down socket"};
  for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
    if (strstr(m, gone[i])) return true;
  return false;
}

static void on_mhd_message(void *cls, const char *fmt, va_list ap) {
  nb_httpd *d = cls;
  char m[MSG_MAX];
  vsnprintf(m, MSG_MAX, fmt, ap);
  for (char *p = m; *p; p++)
    if (*p == '"' || (unsigned char)*p < 0x20) *p = ' ';
  NB_LOG_DEBUG(MOD, "event=mhd_message text=\"%s\"", m);
  if (peer_gone(m)) return;
  memcpy(d->sum.last_message, m, MSG_MAX);
  d->sum.mhd_messages++;
}

/* Logs what changed since the last line, when something did. */
static void report(nb_httpd *d) {
  nb_http_admit_stats now, *was = &d->sum.admit;
  nb_http_admit_get_stats(d->admit, &now);
  uint64_t refused = now.refused - was->refused, evicted = now.evicted - was->evicted;
  uint64_t hdr = now.header_timeouts - was->header_timeouts;
  uint64_t body = now.body_timeouts - was->body_timeouts;
  uint64_t idle = now.idle_timeouts - was->idle_timeouts;
  uint64_t streams = now.streams_refused - was->streams_refused;
  if (refused || evicted || hdr || body || streams || d->sum.mhd_messages)
    NB_LOG_WARN(MOD,
                "event=http_summary refused=%llu evicted=%llu header_timeouts=%llu "
                "body_timeouts=%llu idle_timeouts=%llu streams_refused=%llu mhd_messages=%llu "
                "last_message=\"%s\" conns=%zu streams=%zu",
                (unsigned long long)refused, (unsigned long long)evicted, (unsigned long long)hdr,
                (unsigned long long)body, (unsigned long long)idle, (unsigned long long)streams,
                (unsigned long long)d->sum.mhd_messages, d->sum.last_message, now.conns,
                now.streams);
  d->sum.admit = now;
  d->sum.mhd_messages = 0;
  d->sum.last_message[0] = '\0';
}

static void on_report(uv_timer_t *h) { report(h->data); }

static void on_sweep(uv_timer_t *h) {
  nb_httpd *d = h->data;
  if (nb_http_admit_expire(d->admit, nb_io_loop_now(d->loop), close_fd, d)) d->kick = true;
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
  if (d->cert) flags |= MHD_USE_TLS;
  /* Without TLS the option list ends where the HTTPS options would start. */
  const char *cert = d->cert ? d->cert : "", *key = d->key ? d->key : "";
  /* MHD's own bound sits above ours: we evict, MHD only refuses. Its inactivity timeout is a
   * backstop for answers a client does not read (held requests and idle streams are
   * suspended, and exempt). */
  /* The logger first: MHD prints what comes before it on stderr itself. */
  return MHD_start_daemon(
      flags, d->cfg.listen.port, NULL, NULL, on_http, d, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_message,
      d, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
      MHD_OPTION_NOTIFY_CONNECTION, on_connection, d, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)(d->cfg.admit.max_conns + MHD_SLACK),
      d->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
      MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES, MHD_OPTION_END);
}

/* Our connection bound, within the descriptors the process may open. */
static void fit_fd_limit(nb_http_admit_config *c) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return;
  size_t room =
      rl.rlim_cur > FD_RESERVE + MHD_SLACK + 16 ? (size_t)rl.rlim_cur - FD_RESERVE - MHD_SLACK : 16;
  if (c->max_conns <= room) return;
  NB_LOG_INFO(MOD, "event=conn_limit_lowered from=%zu to=%zu reason=\"open file limit %llu\"",
              c->max_conns, room, (unsigned long long)rl.rlim_cur);
  c->max_conns = room;
}

static void httpd_destroy(nb_httpd *d) {
  nb_http_admit_free(d->admit);
  if (d->key) memset(d->key, 0, strlen(d->key));
  free(d->key);
  free(d->cert);
  free(d);
}

nb_err nb_httpd_new(nb_io_loop *loop, const nb_httpd_config *cfg, nb_httpd **out) {
  nb_httpd *d = calloc(1, sizeof(*d));
  if (!d) return NB_ERR_NOMEM;
  d->loop = loop;
  d->cfg = *cfg;
  if (!d->cfg.body_max) d->cfg.body_max = 65536;
  if (!d->cfg.summary_ms) d->cfg.summary_ms = 60000;
  nb_http_admit_config dflt;
  nb_http_admit_config_default(&dflt);
  if (!d->cfg.admit.max_conns) d->cfg.admit.max_conns = dflt.max_conns;
  fit_fd_limit(&d->cfg.admit);
  uint64_t seed = 0;
  nb_err e = nb_random_bytes(&seed, sizeof(seed));
  if (e == NB_OK) e = nb_http_admit_new(&d->cfg.admit, seed, &d->admit);
  if (e == NB_OK && cfg->tls_cert &&
      (!(d->cert = strdup(cfg->tls_cert)) || !(d->key = strdup(cfg->tls_key ? cfg->tls_key : ""))))
    e = NB_ERR_NOMEM;
  if (e != NB_OK) {
    httpd_destroy(d);
    return e;
  }
  if (!(d->mhd = start_mhd(d))) {
    NB_LOG_ERROR(MOD, "event=listen_failed reason=\"cannot start the HTTP daemon (%s)\"",
                 d->sum.last_message[0] ? d->sum.last_message : "address in use?");
    httpd_destroy(d);
    return NB_ERR_IO;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_EPOLL_FD);
  uv_loop_t *uv = nb_io_loop_uv(loop);
  uv_poll_init(uv, &d->poll, info->epoll_fd);
  uv_timer_init(uv, &d->timer);
  uv_timer_init(uv, &d->sweep);
  uv_timer_init(uv, &d->report);
  uv_prepare_init(uv, &d->prepare);
  d->poll.data = d->timer.data = d->sweep.data = d->report.data = d->prepare.data = d;
  uv_poll_start(&d->poll, UV_READABLE, on_poll);
  uv_prepare_start(&d->prepare, on_prepare);
  uv_timer_start(&d->timer, on_timer, 0, 0);
  uv_timer_start(&d->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
  uv_timer_start(&d->report, on_report, d->cfg.summary_ms, d->cfg.summary_ms);
  *out = d;
  return NB_OK;
}

uint16_t nb_httpd_port(const nb_httpd *d) {
  const union MHD_DaemonInfo *i = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
  return i ? i->port : 0;
}

static void on_closed(uv_handle_t *h) {
  nb_httpd *d = h->data;
  if (--d->open_handles == 0) httpd_destroy(d);
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
  report(d); /* what the last period saw */
  d->open_handles = 5;
  uv_close((uv_handle_t *)&d->poll, on_closed);
  uv_close((uv_handle_t *)&d->timer, on_closed);
  uv_close((uv_handle_t *)&d->sweep, on_closed);
  uv_close((uv_handle_t *)&d->report, on_closed);
  uv_close((uv_handle_t *)&d->prepare, on_closed);
}
