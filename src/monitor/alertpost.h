/* Delivery of the monitor's alerts to a management server (`--server-api`): alerts are queued
 * as their JSON lines (bounded; the oldest dropped and counted when full) and POSTed in batches
 * to URL/api/alerts through the asynchronous HTTP client, one request at a time, retried with
 * backoff while the server cannot be reached. Never blocks the capture: the capture loop pumps
 * it between batches of frames. Owns the queue and the HTTP client. */
#ifndef NB_MONITOR_ALERTPOST_H
#define NB_MONITOR_ALERTPOST_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct nb_mon_poster nb_mon_poster;

typedef struct {
  const char *url;     /* the server's base URL (http://host:8080), or its .../api/alerts */
  const char *token;   /* bearer token; NULL for none */
  size_t queue_max;    /* alerts waiting; 0 = 10000 */
  size_t batch_max;    /* alerts per request; 0 = 50 (at most 100, the server's limit) */
  unsigned timeout_ms; /* per request; 0 = 5000 */
  const char *ca_file; /* https://: the API's trust anchors (PEM); NULL: the system's */
} nb_mon_poster_config;

/* What became of the alerts so far. Undelivered = rejected + dropped + pending. */
typedef struct {
  uint64_t alerts;    /* given to nb_mon_poster_add */
  uint64_t delivered; /* the server stored them (201) */
  uint64_t rejected;  /* the server refused them (4xx): not retried */
  uint64_t dropped;   /* the queue was full */
  uint64_t pending;   /* queued or in flight */
  uint64_t errors;    /* requests that failed and will be retried */
} nb_mon_poster_stats;

/* NB_ERR_INVAL (why says so) for a URL that is not http:// or https://. */
nb_err nb_mon_poster_new(const nb_mon_poster_config *cfg, nb_mon_poster **out, char *why,
                         size_t why_cap);
void nb_mon_poster_free(nb_mon_poster *p);

/* Queues one alert object (compact JSON, copied). */
void nb_mon_poster_add(nb_mon_poster *p, const char *json, size_t len);
/* One non-blocking step: progresses the transfer in flight, starts the next batch when due. */
void nb_mon_poster_pump(nb_mon_poster *p);
/* Delivers what is queued, waiting at most wait_ms; NB_ERR_TIMEOUT when alerts remain. */
nb_err nb_mon_poster_flush(nb_mon_poster *p, unsigned wait_ms);
void nb_mon_poster_stats_get(const nb_mon_poster *p, nb_mon_poster_stats *out);
/* The server's last refusal or the last transport error, "" when none. */
const char *nb_mon_poster_last_error(const nb_mon_poster *p);

#endif
