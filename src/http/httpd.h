/* libmicrohttpd inside the process's libuv loop: the daemon in external-epoll mode, its epoll
 * fd under a uv_poll_t and its timeout on a uv_timer_t. Each HTTP request gets an nb_http_req
 * that collects its body and is handed to the application once complete; a request may be
 * answered at once, held (its connection suspended until the answer comes, e.g. from a
 * device) or turned into an endless stream (server-sent events). Connections are admitted,
 * timed out and evicted by admit.h; what it refuses and what libmicrohttpd reports is counted
 * and logged as one summary line a minute (never a line per connection). Owns the MHD daemon,
 * its uv handles, the admission table and every request context. */
#ifndef NB_HTTP_HTTPD_H
#define NB_HTTP_HTTPD_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/addr.h"
#include "base/err.h"
#include "http/admit.h"
#include "http/page.h"
#include "http/route.h"
#include "io/loop.h"

#define NB_HTTP_ACTOR_MAX 64

typedef struct nb_httpd nb_httpd;
typedef struct nb_http_req nb_http_req;

typedef struct {
  nb_addr listen;             /* port 0 = ephemeral */
  size_t body_max;            /* largest body kept; a larger one sets too_large (0 = 65536) */
  nb_http_admit_config admit; /* zeroes: admit.h's defaults */
  /* HTTPS (libmicrohttpd over GnuTLS, TLS 1.2 and later): the certificate chain and its
   * private key, PEM; NULL = plain HTTP. Copied. */
  const char *tls_cert, *tls_key;
  uint64_t summary_ms; /* period of the summary log line; 0 = 60000 */
  /* Called once per request when its header is complete, before any body is read: may
   * answer (a refusal; the connection then closes) or return MHD_YES to go on. NULL: none. */
  enum MHD_Result (*on_headers)(void *app, nb_http_req *rq);
  /* Called once per request, its body complete; must answer (reply, hold or stream). */
  enum MHD_Result (*on_request)(void *app, nb_http_req *rq);
  void *app;
} nb_httpd_config;

/* One request. Handlers read the fields up to `params`; the rest is the daemon's. */
struct nb_http_req {
  void *app; /* nb_httpd_config.app */
  struct MHD_Connection *conn;
  const char *method, *path;
  char *body; /* NUL-terminated; NULL when empty */
  size_t body_len;
  bool too_large;
  /* A streamed body (a route's upload, route.h): each piece goes to sink instead of `body`,
   * up to body_limit bytes (0: the daemon's body_max), then too_large is set and the rest is
   * dropped; the first error sink returns is kept in sink_err and the rest dropped too.
   * sink_end runs when the request ends, unless the handler took what the sink made (setting
   * it NULL). */
  uint64_t body_limit, received;
  nb_err (*sink)(void *user, const char *data, size_t n);
  void (*sink_end)(void *user);
  void *sink_user;
  nb_err sink_err;
  char actor[NB_HTTP_ACTOR_MAX]; /* "api@ADDRESS" for the audit log */
  nb_route_params params;        /* set by the router */
  /* the daemon's */
  nb_httpd *httpd;
  bool routed, replied, suspended, held, ended, linked;
  bool close;                  /* answer with "Connection: close" */
  char link[NB_PAGE_LINK_MAX]; /* a Link header for the answer, when not empty */
  unsigned status;             /* a held request's answer, once it came */
  char *answer;
  void (*cancel)(void *user); /* held or streaming: the request ends first */
  ssize_t (*read)(void *user, char *buf, size_t max);
  void *user;
  nb_http_req *prev, *next; /* held and streaming requests */
};

nb_err nb_httpd_new(nb_io_loop *loop, const nb_httpd_config *cfg, nb_httpd **out);
uint16_t nb_httpd_port(const nb_httpd *d);
/* Ends held requests (503) and streams, stops the daemon and closes the uv handles (the
 * memory goes once libuv has closed them). */
void nb_httpd_free(nb_httpd *d);

/* ---- answering ---- */

/* Each takes ownership of what it is given and returns what MHD_queue_response did. */
enum MHD_Result nb_http_reply_text(nb_http_req *rq, unsigned status, char *text, const char *type);
enum MHD_Result nb_http_reply_json(nb_http_req *rq, unsigned status, json_t *j);
enum MHD_Result nb_http_reply_error(nb_http_req *rq, unsigned status, const char *msg,
                                    const char *code);
/* One page of a list (arr, taken): 200 with the array, and when next_cursor is not NULL a
 * Link header to the next page (same path, same limit). */
enum MHD_Result nb_http_reply_page(nb_http_req *rq, json_t *arr, size_t limit,
                                   const char *next_cursor);
/* A body that outlives the answer (not copied; NULL with len 0 for none, e.g. 304) with more
 * headers: name, value pairs ended by a NULL name; type NULL sends no Content-Type. */
enum MHD_Result nb_http_reply_static(nb_http_req *rq, unsigned status, const void *data, size_t len,
                                     const char *type, const char *const *headers);
/* {"error": msg, "code": code} (a new reference). */
json_t *nb_http_error_json(const char *msg, const char *code);

/* Suspends rq until nb_http_req_answer; cancel(user) runs instead when the request ends first
 * (client gone, daemon stopping). Returns MHD_YES for the handler to return. */
enum MHD_Result nb_http_req_hold(nb_http_req *rq, void (*cancel)(void *user), void *user);
/* The answer of a held request: JSON text (malloc'd, taken; NULL = 500). */
void nb_http_req_answer(nb_http_req *rq, unsigned status, char *json_text);

/* Takes an event-stream slot for rq (admit.h): NB_ERR_BUSY when its address has its share,
 * NB_ERR_RANGE when all are taken. */
nb_err nb_http_req_stream_slot(nb_http_req *rq);
/* Answers rq with an endless stream of content_type: read(user, buf, max) gives the next bytes
 * (0: none now, the connection sleeps until nb_http_req_wake; -1: the stream ends). gone(user)
 * runs once when the stream ends, whoever ends it. */
enum MHD_Result nb_http_req_stream(nb_http_req *rq, const char *content_type,
                                   ssize_t (*read)(void *user, char *buf, size_t max),
                                   void (*gone)(void *user), void *user);
void nb_http_req_wake(nb_http_req *rq);

/* ---- reading ---- */

/* A request header, or NULL. */
const char *nb_http_header(const nb_http_req *rq, const char *name);
/* Whether the request announces a body (Content-Length above 0, or a Transfer-Encoding);
 * *length gets the Content-Length (0 when chunked or absent). */
bool nb_http_has_body(const nb_http_req *rq, uint64_t *length);
/* The address and port the connection arrived on. */
nb_err nb_http_local_addr(const nb_http_req *rq, nb_addr *out);
/* The query parameter, or NULL. */
const char *nb_http_query(const nb_http_req *rq, const char *name);
/* ?name= as an integer in lo..hi (dflt when absent); *bad set when present but invalid. */
int nb_http_query_int(const nb_http_req *rq, const char *name, int dflt, int lo, int hi, bool *bad);
/* ?limit= and ?cursor= (page.h) with the default page size and NB_PAGE_MAX; false once it
 * answered 400. */
bool nb_http_page_query(nb_http_req *rq, nb_page_query *q, enum MHD_Result *ret);
/* The same for a list in name order: *p is ready for names (nb_page_keys_init); false once
 * it answered (400, or 500 without memory). */
bool nb_http_key_page(nb_http_req *rq, nb_page_keys *p, enum MHD_Result *ret);
/* The page of names p made (arr, taken, holds its items in order): replied as
 * nb_http_reply_page, with the page's last name as the next cursor; p is deinitialized. */
enum MHD_Result nb_http_reply_key_page(nb_http_req *rq, json_t *arr, nb_page_keys *p);
/* The same for a list newest first (page.h's nb_page_seq); false once it answered 400. */
bool nb_http_seq_page(nb_http_req *rq, nb_page_query *q, nb_page_seq *p, enum MHD_Result *ret);
/* A page of a list newest first being built from a store's rows: an item goes in when
 * nb_page_seq_take(&page, its seq) says so. */
typedef struct {
  json_t *arr;
  nb_page_seq page;
  size_t limit;
} nb_http_seq_list;
/* ?limit=/?cursor= into l, with a new array; false once it answered (400, 500). The rows to
 * read are those below l->page.before (0: from the newest), l->limit + 1 of them. */
bool nb_http_seq_list_start(nb_http_req *rq, nb_http_seq_list *l, enum MHD_Result *ret);
/* Replies l's page (its array taken), with a Link when there is more. */
enum MHD_Result nb_http_reply_seq_list(nb_http_req *rq, nb_http_seq_list *l);
/* The body as JSON; NULL with a reason ("bad JSON: ...") in err otherwise. */
json_t *nb_http_req_json(const nb_http_req *rq, char *err, size_t cap);

#endif
