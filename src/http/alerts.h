/* Security alerts reported to the management server by monitors (`niobium monitor
 * --server-api`): POST /api/alerts validates them, keeps the newest in a bounded ring for
 * GET /api/alerts and publishes each on the event stream as an ALERT frame. Owns the ring
 * and its JSON objects; independent of HTTP (the API passes bodies in, answers out). */
#ifndef NB_HTTP_ALERTS_H
#define NB_HTTP_ALERTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "http/events.h"

#define NB_HTTP_ALERTS_BATCH_MAX 100 /* alerts in one POSTed array */
#define NB_HTTP_ALERT_SIZE_MAX 8192  /* one alert as compact JSON, bytes */

typedef struct nb_http_alerts nb_http_alerts;

/* cap: alerts kept (0 = 1000). events may be NULL (nothing published). */
nb_err nb_http_alerts_new(size_t cap, nb_http_events *events, nb_http_alerts **out);
void nb_http_alerts_free(nb_http_alerts *a);

/* Checks one alert object as the monitor writes it: "rule" a non-empty name, "severity" one
 * of low/medium/high/critical, and the optional fields with their types. NB_ERR_RANGE when it
 * is too large, NB_ERR_INVAL otherwise; why says which field. */
nb_err nb_http_alert_check(const json_t *alert, char *why, size_t cap);

/* Stores a copy of each alert (one object or an array of them; all or none), stamped with
 * "id", "receivedAt" (Unix ms) and "reporter", and publishes it. *ids_out (may be NULL) gets
 * a new array of the ids given. */
nb_err nb_http_alerts_add(nb_http_alerts *a, const json_t *body, int64_t now_ms,
                          const char *reporter, json_t **ids_out, char *why, size_t cap);
/* The newest `limit` alerts, newest first (a new array). */
json_t *nb_http_alerts_list(const nb_http_alerts *a, size_t limit);
size_t nb_http_alerts_count(const nb_http_alerts *a);
/* One page for GET /api/alerts: the newest `limit` alerts with an id below `before` (0: from
 * the newest), newest first (a new array); *next: the cursor of the next page, 0 for none. */
json_t *nb_http_alerts_page(const nb_http_alerts *a, uint64_t before, size_t limit, uint64_t *next);

/* One request to /api/alerts: GET (limit_text = ?limit= or NULL) or POST (body). Sets *status
 * and *out (a new reference: the answer or an {"error","code"} object). */
void nb_http_alerts_route(nb_http_alerts *a, const char *method, const char *limit_text,
                          const char *body, size_t body_len, int64_t now_ms, const char *reporter,
                          unsigned *status, json_t **out);

#endif
