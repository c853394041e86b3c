/* Results of the device requests the REST API answered 202 QUEUED (the device sleeps in queue
 * mode): one record per request from its queuing to its end, with the answer a direct request
 * would have got (HTTP status and JSON body), kept in memory for GET /api/requests/{id} and
 * bounded by count, bytes and age. Pure bookkeeping: time comes in as arguments. Owns its
 * records and their bodies. */
#ifndef NB_HTTP_RESULTS_H
#define NB_HTTP_RESULTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef enum {
  NB_RQ_QUEUED,    /* waits for the device to wake */
  NB_RQ_SENT,      /* the device woke: sent, not answered yet */
  NB_RQ_DONE,      /* answered (or timed out after it was sent): the result is kept */
  NB_RQ_EXPIRED,   /* the device did not wake within the queue's time to live */
  NB_RQ_CANCELLED, /* cancelled (DELETE /api/requests/{id}, or the device de-registered) */
} nb_rq_state;

/* "QUEUED", "SENT", "DONE", "EXPIRED", "CANCELLED". */
const char *nb_rq_state_name(nb_rq_state s);

typedef struct {
  size_t max;       /* records held; 10000 */
  size_t bytes_max; /* bytes of kept result bodies, all records together; 16 MiB */
  int64_t keep_ms;  /* a finished record is forgotten this long after it ended; 3600000 */
} nb_http_results_config;

void nb_http_results_config_default(nb_http_results_config *cfg);

typedef struct nb_http_results nb_http_results;

nb_err nb_http_results_new(const nb_http_results_config *cfg, nb_http_results **out);
void nb_http_results_free(nb_http_results *r);

/* A request queued at now (Unix ms). ids must grow from one call to the next (the engine's
 * request IDs do). Makes room by forgetting the oldest finished records; NB_ERR_BUSY when max
 * records wait unfinished (the caller then refuses to queue), NB_ERR_EXISTS for an id not above
 * the last one. */
nb_err nb_http_results_add(nb_http_results *r, uint64_t id, const char *ep, const char *op,
                           const char *path, int64_t now);
/* Whether id is held and still QUEUED or SENT. */
bool nb_http_results_pending(const nb_http_results *r, uint64_t id);
/* The request left the queue (the device woke). */
void nb_http_results_sent(nb_http_results *r, uint64_t id);
/* Its end: state (DONE, EXPIRED or CANCELLED) with the HTTP status and the JSON text a direct
 * request would have been answered (copied; NULL for none). NB_ERR_NOT_FOUND for an id not
 * held (forgotten, or never queued). */
nb_err nb_http_results_finish(nb_http_results *r, uint64_t id, nb_rq_state state, unsigned status,
                              const char *body, int64_t now);
/* The record as the API shows it: {"requestId", "endpoint", "operation", "path", "state",
 * "queuedAt", and once finished "completedAt", "httpStatus", "result"}; NULL when id is not
 * held (never queued, or forgotten: older than keep_ms, or pushed out by the bounds). */
json_t *nb_http_results_json(nb_http_results *r, uint64_t id, int64_t now);
size_t nb_http_results_count(const nb_http_results *r);

#endif
