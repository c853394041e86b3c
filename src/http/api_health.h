/* GET /api/health: whether this process can store what it is told (the store's health,
 * server/store_health.h), for load balancers and monitoring. Public (no token): it reveals the
 * state and the store's fixed error description only (docs/security.md). Owns nothing. */
#ifndef NB_HTTP_API_HEALTH_H
#define NB_HTTP_API_HEALTH_H

#include "http/httpd.h"

/* 200 {"status": "ok", "store": {...}} or 503 {"status": "unhealthy", "store": {"error",
 * "operation", "since", "failures", ...}} (docs/openapi.yaml). */
enum MHD_Result nb_api_health(nb_http_req *rq);

#endif
