/* Asynchronous HTTP(S) requests to another Niobium process's REST API (the bootstrap server
 * installing credentials in a remote management server, the monitor posting alerts, CLI commands
 * talking to a running server). libcurl's multi interface does the protocol work; this module
 * drives it either from a libuv loop (uv_poll per socket, one uv_timer) or, for programs without
 * a loop, from nb_http_client_run. Owns the curl handles and copies of every request; a
 * request's callback runs exactly once (answer, error or nb_http_client_free). */
#ifndef NB_IO_HTTP_CLIENT_H
#define NB_IO_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/err.h"

typedef struct nb_http_client nb_http_client;
typedef struct nb_http_req nb_http_req; /* one request in flight */

/* A streamed answer's body bytes as they arrive, with the HTTP status already known; false
 * aborts the transfer (its callback then runs with NB_ERR_CANCELLED). */
typedef bool (*nb_http_sink_fn)(void *user, long status, const uint8_t *data, size_t len);

typedef struct {
  const char *method;       /* "GET", "POST", "PUT", "DELETE" */
  const char *url;          /* absolute http:// or https:// URL */
  const char *bearer_token; /* sent as "Authorization: Bearer ..."; NULL for none */
  const char *body;         /* NULL for none; sent as application/json */
  size_t body_len;
  unsigned timeout_ms; /* whole request; 0 means 10 s */
  const char *ca_file; /* https://: trust anchors (PEM) the server's certificate must chain to;
                          NULL: the system's */
  /* Instead of body: the file at this path is the body, read as it goes out (an upload of any
   * size, never whole in memory), as application/octet-stream. A file that cannot be opened
   * fails the request at submission (NB_ERR_IO). */
  const char *body_file;
  /* Additions for streamed downloads (a device's firmware package): */
  nb_http_sink_fn sink; /* non-NULL: the body goes here, not into memory (no size bound, the
                           response's body is empty) */
  void *sink_user;
  uint64_t range_from; /* > 0: ask for the bytes from this offset on (Range: bytes=N-) */
  unsigned stall_ms;   /* > 0: fail with NB_ERR_TIMEOUT when nothing arrives for this long */
} nb_http_request;

/* The outcome of one request. `status` is the HTTP status (0 when no answer arrived; then
 * `error` says why: refused, timed out, TLS failure...). `body` is NUL-terminated and valid only
 * during the call. `err` is NB_OK when an answer arrived (whatever its status), NB_ERR_TIMEOUT,
 * NB_ERR_IO or NB_ERR_CANCELLED (client freed first). */
typedef struct {
  nb_err err;
  long status;
  const char *body;
  size_t body_len;
  const char *error;
  const char *next; /* the absolute URL of a `Link: <...>; rel="next"` header (RFC 8288: the
                       next page of a list), or NULL */
} nb_http_response;

typedef void (*nb_http_done_fn)(void *user, const nb_http_response *res);

/* `loop` NULL: requests progress only inside nb_http_client_run. `max_pending` bounds the queue
 * (0 means 256); a request beyond it fails at once with NB_ERR_BUSY. */
nb_err nb_http_client_new(uv_loop_t *loop, size_t max_pending, nb_http_client **out);
/* Cancels what is still pending (callbacks run with NB_ERR_CANCELLED), then frees. */
void nb_http_client_free(nb_http_client *c);

/* Copies everything in `req`; `done` may be NULL (fire and forget). */
nb_err nb_http_client_request(nb_http_client *c, const nb_http_request *req, nb_http_done_fn done,
                              void *user);
size_t nb_http_client_pending(const nb_http_client *c);
/* nb_http_client_request that also hands back the request, for nb_http_client_cancel. */
nb_err nb_http_client_start(nb_http_client *c, const nb_http_request *req, nb_http_done_fn done,
                            void *user, nb_http_req **out);
/* Stops r (still in flight): its callback runs now with NB_ERR_CANCELLED, then r is gone. */
void nb_http_client_cancel(nb_http_req *r);

/* For programs without a libuv loop: runs transfers until none is pending or `wait_ms` passed
 * (0: one non-blocking step). Returns NB_ERR_TIMEOUT when requests are still pending. */
nb_err nb_http_client_run(nb_http_client *c, unsigned wait_ms);

/* Writes in percent-encoded for a URL path segment (RFC 3986 unreserved characters kept).
 * NB_ERR_OVERFLOW, with out cut short but NUL-terminated, when it does not fit in cap. */
nb_err nb_http_url_escape(const char *in, char *out, size_t cap);

/* Blocking convenience for CLI commands: one request, answer body copied to *body_out (malloc'd,
 * NUL-terminated, caller frees; may be NULL when not wanted). */
nb_err nb_http_fetch(const nb_http_request *req, long *status_out, char **body_out, char *why,
                     size_t why_cap);
/* The same, and *next_out (may be NULL) gets the next page's URL (malloc'd) or NULL. */
nb_err nb_http_fetch_page(const nb_http_request *req, long *status_out, char **body_out,
                          char **next_out, char *why, size_t why_cap);

#endif
