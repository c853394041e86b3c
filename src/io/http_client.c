/* Asynchronous HTTP client over libcurl's multi interface; see http_client.h. With a uv loop,
 * curl tells us which sockets to watch (socket callback -> one uv_poll_t each) and when to wake
 * it (timer callback -> one uv_timer_t); without one, nb_http_client_run pumps curl_multi_poll. */
#include "io/http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "base/buf.h"

#define NB_HTTP_DEFAULT_TIMEOUT_MS 10000u
#define NB_HTTP_DEFAULT_MAX_PENDING 256u
/* An answer larger than this is a broken or hostile peer, not an API response. */
#define NB_HTTP_MAX_BODY ((size_t)4 << 20)

typedef struct nb_http_req nb_http_req;
struct nb_http_req {
  nb_http_client *client;
  nb_http_req *prev, *next;
  CURL *easy;
  struct curl_slist *headers;
  char *body_copy;
  FILE *body_file; /* nb_http_request.body_file, open */
  char *url;       /* the request's, to resolve a Link */
  char *link_next; /* its answer's rel="next" link, absolute */
  nb_bytes answer;
  bool answer_too_large;
  nb_http_done_fn done;
  void *user;
  nb_http_sink_fn sink;
  void *sink_user;
  bool sink_stopped;
  char curl_error[CURL_ERROR_SIZE];
};

struct nb_http_client {
  CURLM *multi;
  uv_loop_t *loop;
  uv_timer_t timer;
  nb_http_req *reqs;
  size_t pending, max_pending;
};

/* A socket curl asked us to watch; freed in its close callback. */
typedef struct {
  uv_poll_t poll;
  nb_http_client *client;
  curl_socket_t fd;
} nb_http_sock;

static bool curl_ready(void) {
  static bool ready;
  if (!ready) ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  return ready;
}

/* ---- completion ---- */

static void req_unlink(nb_http_req *r) {
  nb_http_client *c = r->client;
  if (r->prev)
    r->prev->next = r->next;
  else
    c->reqs = r->next;
  if (r->next) r->next->prev = r->prev;
  c->pending--;
}

static void req_free(nb_http_req *r) {
  curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->headers);
  free(r->body_copy);
  if (r->body_file) fclose(r->body_file);
  free(r->url);
  free(r->link_next);
  nb_bytes_free(&r->answer);
  free(r);
}

static void req_finish(nb_http_req *r, nb_err err, long status, const char *why) {
  nb_http_client *c = r->client;
  curl_multi_remove_handle(c->multi, r->easy);
  req_unlink(r);
  if (r->done) {
    /* The answer is NUL-terminated for the callback's convenience. */
    bool have_body = err == NB_OK && nb_bytes_append(&r->answer, "", 1) == NB_OK;
    nb_http_response res = {err,
                            status,
                            have_body ? (const char *)r->answer.data : "",
                            have_body ? r->answer.len - 1 : 0,
                            why,
                            r->link_next};
    r->done(r->user, &res);
  }
  req_free(r);
}

static nb_err curl_code_to_err(CURLcode code) {
  return code == CURLE_OPERATION_TIMEDOUT ? NB_ERR_TIMEOUT : NB_ERR_IO;
}

/* Hands every finished transfer to its callback. */
static void collect_done(nb_http_client *c) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(c->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    char *priv = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
    nb_http_req *r = (nb_http_req *)priv;
    CURLcode code = msg->data.result;
    if (r->sink_stopped) {
      req_finish(r, NB_ERR_CANCELLED, 0, "stopped by the receiver");
    } else if (r->answer_too_large) {
      req_finish(r, NB_ERR_IO, 0, "answer larger than 4 MiB");
    } else if (code != CURLE_OK) {
      req_finish(r, curl_code_to_err(code), 0,
                 r->curl_error[0] ? r->curl_error : curl_easy_strerror(code));
    } else {
      long status = 0;
      curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
      req_finish(r, NB_OK, status, NULL);
    }
  }
}

/* ---- libuv driving ---- */

static void on_sock_closed(uv_handle_t *h) { free(h->data); }

static void on_poll(uv_poll_t *p, int status, int events) {
  nb_http_sock *s = p->data;
  int flags = 0;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  int running;
  nb_http_client *c = s->client;
  curl_multi_socket_action(c->multi, s->fd, flags, &running);
  collect_done(c);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  (void)easy;
  nb_http_client *c = userp;
  nb_http_sock *s = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (s) {
      uv_poll_stop(&s->poll);
      uv_close((uv_handle_t *)&s->poll, on_sock_closed);
      curl_multi_assign(c->multi, fd, NULL);
    }
    return 0;
  }
  if (!s) {
    s = calloc(1, sizeof *s);
    if (!s || uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
      free(s);
      return -1;
    }
    s->client = c;
    s->fd = fd;
    s->poll.data = s;
    curl_multi_assign(c->multi, fd, s);
  }
  int events = 0;
  if (what & CURL_POLL_IN) events |= UV_READABLE;
  if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
  return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

static void on_timer(uv_timer_t *t) {
  nb_http_client *c = t->data;
  int running;
  curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  collect_done(c);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  nb_http_client *c = userp;
  if (timeout_ms < 0)
    uv_timer_stop(&c->timer);
  else
    uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
  return 0;
}

/* ---- lifecycle ---- */

nb_err nb_http_client_new(uv_loop_t *loop, size_t max_pending, nb_http_client **out) {
  *out = NULL;
  if (!curl_ready()) return NB_ERR_IO;
  nb_http_client *c = calloc(1, sizeof *c);
  if (!c) return NB_ERR_NOMEM;
  c->multi = curl_multi_init();
  if (!c->multi) {
    free(c);
    return NB_ERR_NOMEM;
  }
  c->loop = loop;
  c->max_pending = max_pending ? max_pending : NB_HTTP_DEFAULT_MAX_PENDING;
  if (loop) {
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  }
  *out = c;
  return NB_OK;
}

static void on_timer_closed(uv_handle_t *h) { free(h->data); }

void nb_http_client_free(nb_http_client *c) {
  if (!c) return;
  for (nb_http_req *r = c->reqs, *next; r; r = next) {
    next = r->next;
    req_finish(r, NB_ERR_CANCELLED, 0, "client closed");
  }
  curl_multi_cleanup(c->multi);
  if (c->loop)
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
  else
    free(c);
}

/* ---- requests ---- */

static size_t on_body(char *data, size_t size, size_t n, void *user) {
  nb_http_req *r = user;
  size_t len = size * n;
  if (r->sink) {
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (r->sink(r->sink_user, status, (const uint8_t *)data, len)) return len;
    r->sink_stopped = true;
    return 0; /* makes curl abort the transfer */
  }
  if (r->answer.len + len > NB_HTTP_MAX_BODY || nb_bytes_append(&r->answer, data, len) != NB_OK) {
    r->answer_too_large = true;
    return 0; /* makes curl abort the transfer */
  }
  return len;
}

/* "Link: <target>; rel="next"" (one link per header line, as our API sends it): the target,
 * made absolute against the request's URL when it is a path. */
static size_t on_header(char *data, size_t size, size_t n, void *user) {
  nb_http_req *r = user;
  size_t len = size * n;
  if (r->link_next || len < 6 || strncasecmp(data, "Link:", 5) != 0) return len;
  const char *lt = memchr(data, '<', len), *end = data + len;
  const char *gt = lt ? memchr(lt, '>', (size_t)(end - lt)) : NULL;
  if (!gt) return len;
  char params[128];
  size_t plen =
      (size_t)(end - gt - 1) < sizeof(params) - 1 ? (size_t)(end - gt - 1) : sizeof(params) - 1;
  memcpy(params, gt + 1, plen);
  params[plen] = '\0';
  if (!strstr(params, "rel=\"next\"") && !strstr(params, "rel=next")) return len;
  size_t tlen = (size_t)(gt - lt - 1), olen = 0;
  if (lt[1] == '/') { /* a path: the request's scheme://authority before it */
    const char *auth = strstr(r->url, "://");
    const char *slash = auth ? strchr(auth + 3, '/') : NULL;
    olen = slash ? (size_t)(slash - r->url) : strlen(r->url);
  }
  if ((r->link_next = malloc(olen + tlen + 1))) {
    memcpy(r->link_next, r->url, olen);
    memcpy(r->link_next + olen, lt + 1, tlen);
    r->link_next[olen + tlen] = '\0';
  }
  return len;
}

static bool url_is_http(const char *url) {
  return url && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0);
}

static nb_err req_add_header(nb_http_req *r, const char *line) {
  struct curl_slist *l = curl_slist_append(r->headers, line);
  if (!l) return NB_ERR_NOMEM;
  r->headers = l;
  return NB_OK;
}

static nb_err req_set_headers(nb_http_req *r, const nb_http_request *req) {
  /* No "Expect: 100-continue" round trip before small JSON bodies; an upload keeps it, so a
   * refusal (413) comes before the file is sent. */
  nb_err e = req->body_file && !req->body ? NB_OK : req_add_header(r, "Expect:");
  if (!e && req->body) e = req_add_header(r, "Content-Type: application/json");
  if (!e && !req->body && req->body_file)
    e = req_add_header(r, "Content-Type: application/octet-stream");
  if (!e && req->bearer_token) {
    nb_bytes line;
    nb_bytes_init(&line);
    e = nb_bytes_appendf(&line, "Authorization: Bearer %s", req->bearer_token);
    if (!e) e = nb_bytes_append(&line, "", 1);
    if (!e) e = req_add_header(r, (const char *)line.data);
    nb_bytes_free(&line);
  }
  return e;
}

static size_t on_read_file(char *buf, size_t size, size_t n, void *user) {
  size_t got = fread(buf, 1, size * n, user);
  return got == 0 && ferror((FILE *)user) ? CURL_READFUNC_ABORT : got;
}

/* The body read from a file as curl sends it. */
static nb_err req_body_file(nb_http_req *r, const char *path) {
  struct stat st;
  r->body_file = fopen(path, "rb");
  if (!r->body_file || fstat(fileno(r->body_file), &st) != 0 || !S_ISREG(st.st_mode))
    return NB_ERR_IO;
  curl_easy_setopt(r->easy, CURLOPT_POST, 1L);
  curl_easy_setopt(r->easy, CURLOPT_READFUNCTION, on_read_file);
  curl_easy_setopt(r->easy, CURLOPT_READDATA, r->body_file);
  curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st.st_size);
  return NB_OK;
}

static nb_err req_configure(nb_http_req *r, const nb_http_request *req) {
  CURL *h = r->easy;
  unsigned timeout = req->timeout_ms ? req->timeout_ms : NB_HTTP_DEFAULT_TIMEOUT_MS;
  nb_err e = req_set_headers(r, req);
  if (e) return e;
  if (req->body) {
    r->body_copy = malloc(req->body_len ? req->body_len : 1);
    if (!r->body_copy) return NB_ERR_NOMEM;
    memcpy(r->body_copy, req->body, req->body_len);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body_copy);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
  } else if (req->body_file && (e = req_body_file(r, req->body_file)) != NB_OK) {
    return e;
  }
  const char *method = req->method ? req->method : "GET";
  if (strcmp(method, "GET") == 0 && !req->body && !req->body_file)
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  else
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  bool ok = curl_easy_setopt(h, CURLOPT_URL, req->url) == CURLE_OK &&
            curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
  if (!ok) return NB_ERR_INVAL;
  if (req->ca_file && curl_easy_setopt(h, CURLOPT_CAINFO, req->ca_file) != CURLE_OK)
    return NB_ERR_INVAL;
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  if (req->range_from) curl_easy_setopt(h, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)req->range_from);
  if (req->stall_ms) { /* below 1 byte/s for that long: the link is gone */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)((req->stall_ms + 999) / 1000));
  }
  r->sink = req->sink;
  r->sink_user = req->sink_user;
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->curl_error);
  curl_easy_setopt(h, CURLOPT_PRIVATE, r);
  return NB_OK;
}

nb_err nb_http_url_escape(const char *in, char *out, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  if (!cap) return NB_ERR_OVERFLOW;
  size_t k = 0;
  for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
    bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 strchr("-._~", *p);
    size_t need = plain ? 1 : 3;
    if (k + need >= cap) {
      out[k] = '\0';
      return NB_ERR_OVERFLOW;
    }
    if (plain) {
      out[k++] = (char)*p;
    } else {
      out[k++] = '%';
      out[k++] = hex[*p >> 4];
      out[k++] = hex[*p & 15];
    }
  }
  out[k] = '\0';
  return NB_OK;
}

nb_err nb_http_client_request(nb_http_client *c, const nb_http_request *req, nb_http_done_fn done,
                              void *user) {
  return nb_http_client_start(c, req, done, user, NULL);
}

void nb_http_client_cancel(nb_http_req *r) {
  if (r) req_finish(r, NB_ERR_CANCELLED, 0, "cancelled");
}

nb_err nb_http_client_start(nb_http_client *c, const nb_http_request *req, nb_http_done_fn done,
                            void *user, nb_http_req **out) {
  if (!c || !req || !url_is_http(req->url)) return NB_ERR_INVAL;
  if (c->pending >= c->max_pending) return NB_ERR_BUSY;
  nb_http_req *r = calloc(1, sizeof *r);
  if (!r) return NB_ERR_NOMEM;
  r->client = c;
  r->done = done;
  r->user = user;
  nb_bytes_init(&r->answer);
  r->easy = curl_easy_init();
  nb_err e = r->easy && (r->url = strdup(req->url)) ? req_configure(r, req) : NB_ERR_NOMEM;
  if (!e && curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) e = NB_ERR_NOMEM;
  if (e) {
    req_free(r);
    return e;
  }
  r->next = c->reqs;
  if (c->reqs) c->reqs->prev = r;
  c->reqs = r;
  c->pending++;
  if (out) *out = r;
  return NB_OK;
}

size_t nb_http_client_pending(const nb_http_client *c) { return c ? c->pending : 0; }

/* ---- driving without a loop ---- */

static uint64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

nb_err nb_http_client_run(nb_http_client *c, unsigned wait_ms) {
  if (!c || c->loop) return NB_ERR_INVAL;
  uint64_t end = monotonic_ms() + wait_ms;
  for (;;) {
    int running;
    curl_multi_perform(c->multi, &running);
    collect_done(c);
    if (c->pending == 0) return NB_OK;
    uint64_t now = monotonic_ms();
    if (now >= end) return NB_ERR_TIMEOUT;
    uint64_t left = end - now;
    curl_multi_poll(c->multi, NULL, 0, (int)(left < 100 ? left : 100), NULL);
  }
}

typedef struct {
  bool finished;
  nb_err err;
  long status;
  char *body, *next;
  char why[256];
} nb_http_fetch_result;

static void on_fetched(void *user, const nb_http_response *res) {
  nb_http_fetch_result *f = user;
  f->finished = true;
  f->err = res->err;
  f->status = res->status;
  if (res->error) snprintf(f->why, sizeof f->why, "%s", res->error);
  if (res->err == NB_OK) {
    f->body = malloc(res->body_len + 1);
    if (f->body)
      memcpy(f->body, res->body, res->body_len + 1);
    else
      f->err = NB_ERR_NOMEM;
    if (res->next && !(f->next = strdup(res->next))) f->err = NB_ERR_NOMEM;
  }
}

nb_err nb_http_fetch(const nb_http_request *req, long *status_out, char **body_out, char *why,
                     size_t why_cap) {
  return nb_http_fetch_page(req, status_out, body_out, NULL, why, why_cap);
}

nb_err nb_http_fetch_page(const nb_http_request *req, long *status_out, char **body_out,
                          char **next_out, char *why, size_t why_cap) {
  if (next_out) *next_out = NULL;
  if (body_out) *body_out = NULL;
  if (status_out) *status_out = 0;
  nb_http_client *c;
  nb_http_fetch_result f = {0};
  nb_err e = nb_http_client_new(NULL, 1, &c);
  if (!e) e = nb_http_client_request(c, req, on_fetched, &f);
  if (e) {
    snprintf(why, why_cap, "%s",
             e == NB_ERR_INVAL ? "not an http:// or https:// URL" : nb_strerror(e));
    nb_http_client_free(c);
    return e;
  }
  unsigned timeout = req->timeout_ms ? req->timeout_ms : NB_HTTP_DEFAULT_TIMEOUT_MS;
  /* curl enforces the timeout itself; the margin only bounds a stuck resolver. */
  nb_http_client_run(c, timeout + 1000);
  nb_http_client_free(c);
  if (f.err) snprintf(why, why_cap, "%s", f.why[0] ? f.why : nb_strerror(f.err));
  if (status_out) *status_out = f.status;
  if (body_out && f.err == NB_OK)
    *body_out = f.body;
  else
    free(f.body);
  if (next_out && f.err == NB_OK)
    *next_out = f.next;
  else
    free(f.next);
  return f.err;
}
