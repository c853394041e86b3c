/* Route tables of the REST API: a request's method and URL path matched against rows of
 * (method, path pattern, handler), the patterns written as in docs/openapi.yaml
 * ("/api/clients/{ep}/{path*}/observe"). Pure: no I/O, no allocation; captured parameters
 * point into the path given. Owns nothing. */
#ifndef NB_HTTP_ROUTE_H
#define NB_HTTP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "base/err.h"

struct nb_http_req;
/* Answers one request (queues a response, or suspends it until it can). */
typedef enum MHD_Result (*nb_http_handler)(struct nb_http_req *rq);

#define NB_ROUTE_PARAMS_MAX 4    /* {name} captures in one pattern */
#define NB_ROUTE_SEGMENTS_MAX 32 /* path segments a request may have */

/* What a route needs from the process (a server engine, a store, a bootstrap role); a request
 * to a route whose need is missing answers 404 with a message that says so. */
enum {
  NB_ROUTE_NEEDS_SERVER = 1u << 0,
  NB_ROUTE_NEEDS_STORE = 1u << 1,
  NB_ROUTE_NEEDS_BOOTSTRAP = 1u << 2,
  NB_ROUTE_NEEDS_FIRMWARE = 1u << 3,
};

/* A row: method, pattern, needs and handler. Pattern segments are literals,
 * "{name}" (exactly one non-empty segment) or "{name*}" (zero or more segments, at most one
 * per pattern, captured as "a/b/c" without the outer slashes). */
/* A route whose body is streamed instead of collected (an upload of any size): called once the
 * header is in, it sets the request's sink and body limit (nb_http_req) or answers a refusal. */
typedef enum MHD_Result (*nb_http_upload_begin)(struct nb_http_req *rq, uint64_t length);

typedef struct {
  const char *method;
  const char *pattern;
  unsigned needs; /* NB_ROUTE_NEEDS_* */
  nb_http_handler handler;
  /* NULL: the body (JSON) is collected in memory up to the API's body_max; else the body is
   * application/octet-stream, handed to the sink `upload` sets as it arrives, up to the limit it
   * sets, and the handler runs once it is all in. */
  nb_http_upload_begin upload;
} nb_route;

/* The captures of a match, in pattern order; each points into the path matched. */
typedef struct {
  size_t n;
  struct {
    const char *at;
    size_t len;
  } v[NB_ROUTE_PARAMS_MAX];
} nb_route_params;

/* Finds the row for method + path (path without query; one trailing slash ignored). The first
 * row, in table order, whose pattern matches the path names the resource; among the rows with
 * that same pattern, the one with the method is returned (NB_OK). NB_ERR_NOT_FOUND: no pattern
 * matches; NB_ERR_UNSUPPORTED: the resource exists but not with this method (*out is then the
 * resource's first row and allowed, when not NULL, lists its methods "GET, PUT"). */
nb_err nb_route_match(const nb_route *table, size_t n, const char *method, const char *path,
                      const nb_route **out, nb_route_params *params, char *allowed,
                      size_t allowed_cap);

/* Copies capture i into out (NUL-terminated); false when it does not fit in cap or i is out
 * of range. */
bool nb_route_param(const nb_route_params *p, size_t i, char *out, size_t cap);

#endif
