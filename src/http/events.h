/* The server's live feed for web front ends: a listener on the engine that turns its events into
 * server-sent-event frames (REGISTRATION, UPDATED, DEREGISTRATION, EXPIRED, AWAKE, SLEEPING,
 * NOTIFICATION, SEND, REGISTRATION_ADDRESS_CHANGED, and MONITOR frames with status
 * 2.01/2.02/2.04) queued per subscriber in a bounded buffer, and the last values of every
 * observed resource in a bounded ring each.
 * An event is formatted only when a subscriber follows its endpoint, and then once for all.
 * Independent of HTTP: the API drains subscribers into its connections. Owns subscribers,
 * their buffers and the history rings. */
#ifndef NB_HTTP_EVENTS_H
#define NB_HTTP_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "bootstrap/bootstrap.h"
#include "lwm2m/path.h"
#include "server/server.h"

typedef struct nb_http_events nb_http_events;
typedef struct nb_http_sub nb_http_sub;

typedef struct {
  size_t history_len;    /* values kept per observed resource; 100 */
  size_t history_max;    /* resources with a history, all endpoints together; 100000 */
  size_t sub_buffer_max; /* bytes queued per subscriber before frames are dropped; 262144 */
  int64_t clock_offset;  /* added to the engine's `now` to get Unix ms */
} nb_http_events_config;

void nb_http_events_config_default(nb_http_events_config *cfg);

/* Installs a listener on srv (removed by free); srv NULL: a feed of bootstrap events only. */
nb_err nb_http_events_new(nb_server *srv, const nb_http_events_config *cfg, nb_http_events **out);
void nb_http_events_free(nb_http_events *ev);

/* History of ep's resources at or under p, as
 * [{"path", "type", "values": [{"timestamp", "value", "sequence"}...]}...] oldest first;
 * an empty array when nothing was observed there. */
json_t *nb_http_events_history(const nb_http_events *ev, const char *ep, const nb_path *p);

/* A subscriber sees frames of endpoint ep_filter only (NULL or "" = all). wake runs when its
 * buffer goes from empty to non-empty (the HTTP side then resumes its connection). */
nb_http_sub *nb_http_events_subscribe(nb_http_events *ev, const char *ep_filter,
                                      void (*wake)(void *user), void *user);
void nb_http_events_unsubscribe(nb_http_events *ev, nb_http_sub *sub);
/* Moves up to max queued bytes into buf; returns the count (0 when nothing is queued). */
size_t nb_http_sub_read(nb_http_sub *sub, char *buf, size_t max);
/* Frames dropped so far because the subscriber read too slowly. */
uint64_t nb_http_sub_dropped(const nb_http_sub *sub);
/* Queues a ": keep-alive" comment to every subscriber (keeps proxies and dead-peer detection
 * going). */
void nb_http_events_keepalive(nb_http_events *ev);
size_t nb_http_events_subscribers(const nb_http_events *ev);
/* Frames formatted so far: each event at most once, however many subscribers it reaches, and
 * none while nobody listens to its endpoint. */
uint64_t nb_http_events_frames_built(const nb_http_events *ev);

/* Queues one frame `event: name` with data's compact JSON to every subscriber of ep (""
 * reaches unfiltered subscribers only). Takes the reference to data. */
void nb_http_events_publish(nb_http_events *ev, const char *ep, const char *name, json_t *data);

/* Streams a bootstrap engine's events too: BOOTSTRAP_REQUEST (plus a MONITOR frame with the
 * thesis's status 2.03), BOOTSTRAP_PENDING, _APPROVED, _REJECTED, _FINISHED, _FAILED, _ALERT.
 * One engine at a time; detach before the engine is freed (free detaches too). */
nb_err nb_http_events_attach_bootstrap(nb_http_events *ev, nb_bs_engine *bs);
void nb_http_events_detach_bootstrap(nb_http_events *ev);

#endif
