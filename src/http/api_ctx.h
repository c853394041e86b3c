/* What the REST handlers (api_clients.c, api_security.c, api_feed.c, api_bootstrap.c) share:
 * the engines and stores of the process, built by api.c and reached through each request's
 * app pointer. Owns nothing (api.c owns the events, alerts and queued results; the rest is
 * borrowed). */
#ifndef NB_HTTP_API_CTX_H
#define NB_HTTP_API_CTX_H

#include <stdint.h>
#include <string.h>

#include "fw/fwupdate.h"
#include "http/alerts.h"
#include "http/bs_host.h"
#include "http/events.h"
#include "http/httpd.h"
#include "http/results.h"
#include "io/fwrepo.h"
#include "io/loop.h"
#include "server/server.h"
#include "server/store.h"
#include "server/store_health.h"

typedef struct {
  nb_io_loop *loop;
  nb_server *srv;          /* NULL: no management server in this process */
  nb_server_store store;   /* ops NULL: no store */
  nb_store_health *health; /* the store's health (GET /api/health); NULL: not watched */
  nb_http_events *events;
  nb_http_alerts *alerts;
  nb_http_bs *bootstrap;     /* NULL: no bootstrap role */
  nb_http_results *results;  /* results of requests answered 202 QUEUED (NULL without srv) */
  nb_fws *fw;                /* NULL: no firmware service */
  nb_fws_repo *fw_repo;      /* its image files */
  uint64_t firmware_max;     /* largest image upload */
  int64_t clock_offset;      /* loop time + offset = Unix ms */
  const char *console_csp;   /* the console's Content-Security-Policy (console.h) */
  const char *console_tiles; /* its map tile URL template; NULL = no tiles */
  bool token_required;       /* /api/ routes need the bearer token (the console asks first) */
} nb_api_ctx;

static inline nb_api_ctx *nb_api_of(const nb_http_req *rq) { return (nb_api_ctx *)rq->app; }

/* An endpoint name registration would take (regparse.h): what the API stores must be a name a
 * device can use. */
#define NB_API_EP_RULE \
  "endpoint names are 1 to 127 printable ASCII characters without space, / ? & # % \" or \\"
static inline bool nb_api_ep_valid(const char *ep) {
  return ep && nb_server_ep_valid((const uint8_t *)ep, strlen(ep));
}

/* Unix ms now. */
static inline int64_t nb_api_now_unix(const nb_api_ctx *a) {
  return nb_io_loop_now(a->loop) + a->clock_offset;
}

#endif
