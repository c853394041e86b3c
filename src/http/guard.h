/* The checks every REST request passes before any route, against web pages in an operator's
 * browser: DNS rebinding (the Host header must name this listener: its IP address, localhost
 * on loopback, or a name the operator gave with --http-host), cross-site requests (an Origin
 * other than the request's own, or a Sec-Fetch-Site other than same-origin/none, is refused),
 * bodies that are not declared JSON (so no HTML form or text/plain "simple request" reaches a
 * handler) and CORS preflights. Pure: the caller passes the headers and the local address.
 * Owns copies of the operator's names. */
#ifndef NB_HTTP_GUARD_H
#define NB_HTTP_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"

#define NB_HTTP_GUARD_NAMES_MAX 16 /* --http-host names */
#define NB_HTTP_HOST_MAX 256       /* a host name (RFC 1035: 253) plus ":port" and NUL */

typedef struct {
  size_t n;
  struct {
    char host[NB_HTTP_HOST_MAX]; /* lowercase, without the port */
    uint16_t port;               /* 0: any port; else the Host must say this port */
  } names[NB_HTTP_GUARD_NAMES_MAX];
  bool tls; /* the listener speaks HTTPS (origins are https://) */
} nb_http_guard;

void nb_http_guard_init(nb_http_guard *g, bool tls);
/* Adds an operator name "api.example.com" or "api.example.com:8443" (a host name or an IP
 * literal, "[v6]" in brackets). NB_ERR_INVAL when it is not one, NB_ERR_RANGE when full. */
nb_err nb_http_guard_add_name(nb_http_guard *g, const char *name);

/* What a request says of itself; NULL for an absent header. */
typedef struct {
  const char *method;
  const char *host, *origin, *fetch_site, *content_type;
  bool has_body;        /* Content-Length above 0, or a Transfer-Encoding */
  bool raw_body;        /* the route takes application/octet-stream (an upload) instead of
                           JSON: no cross-site form can send that type without a preflight */
  bool public_get;      /* a GET of a public static file (the console's): another site may
                           link to it or load it, so Origin and Sec-Fetch-Site are not
                           checked; the Host still is */
  const nb_addr *local; /* the address (and port) the connection arrived on */
} nb_http_guard_request;

typedef enum {
  NB_GUARD_PASS = 0,
  NB_GUARD_BAD_HOST,   /* 421: the Host is not one of this listener's names */
  NB_GUARD_PREFLIGHT,  /* 405: OPTIONS; the API answers no CORS preflight */
  NB_GUARD_CROSS_SITE, /* 403: another origin, or a browser saying cross-site/same-site */
  NB_GUARD_NOT_JSON,   /* 415: a body (or a state change) declared other than application/json */
} nb_http_guard_verdict;

/* Checks in this order: Host, OPTIONS, Origin and Sec-Fetch-Site (not for public_get),
 * Content-Type. *why (may be
 * NULL) gets a static sentence for the error answer. */
nb_http_guard_verdict nb_http_guard_check(const nb_http_guard *g, const nb_http_guard_request *r,
                                          const char **why);
/* The HTTP status and CoAP-style code of a verdict. */
unsigned nb_http_guard_status(nb_http_guard_verdict v, const char **code);

/* ---- the parsers, for tests and the fuzz target ---- */

/* "host[:port]" (RFC 9110 7.2): host lowercased into out (without brackets for IPv6
 * literals), *port 0 when absent. NB_ERR_INVAL for anything else (empty, bad port, spaces,
 * userinfo, a path). */
nb_err nb_http_parse_authority(const char *text, char *host, size_t cap, uint16_t *port);
/* True for "application/json" with optional parameters, case-insensitive. */
bool nb_http_is_json_type(const char *content_type);

#endif
