/* Admission control of the REST API's connections, against exhaustion (slowloris, held event
 * streams, idle keep-alive connections): a bound on connections in all and per client address
 * (IPv4 /32, IPv6 /64), a deadline for a request's header and for its body, a short idle
 * keep-alive timeout, and event streams bounded apart (in all and per address) so that they
 * never take the room of ordinary requests. When a bound is reached, the oldest connection
 * that has not delivered a complete header, or the oldest idle keep-alive one, makes room
 * (floods come from the operator's own loopback address, so refusing the newcomer would lock
 * the operator out); only when there is none is the newcomer refused. Pure bookkeeping: the
 * caller passes the time and closes the sockets named by their descriptor. Owns one entry per
 * connection and one per client address. */
#ifndef NB_HTTP_ADMIT_H
#define NB_HTTP_ADMIT_H

#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"
#include "base/time.h"

typedef struct {
  size_t max_conns;            /* connections at once, all addresses; 1000 */
  size_t max_conns_per_addr;   /* from one client address; 256 */
  size_t max_streams;          /* event streams at once; 256 */
  size_t max_streams_per_addr; /* from one client address; 32 */
  nb_time_ms header_timeout;   /* a request's header complete within this; 5000 */
  nb_time_ms body_timeout;     /* its body complete within this of the header; 10000 */
  nb_time_ms idle_timeout;     /* a keep-alive connection waiting for its next request; 5000 */
} nb_http_admit_config;

void nb_http_admit_config_default(nb_http_admit_config *cfg);

/* What happened so far (the periodic log summary reads it). */
typedef struct {
  uint64_t opened, refused, evicted, header_timeouts, body_timeouts, idle_timeouts;
  uint64_t streams_refused;
  size_t conns, streams; /* now */
} nb_http_admit_stats;

typedef struct nb_http_admit nb_http_admit;
typedef struct nb_http_conn nb_http_conn;

/* seed: keys the address hash (from the CSPRNG). Zeros in cfg take the defaults. */
nb_err nb_http_admit_new(const nb_http_admit_config *cfg, uint64_t seed, nb_http_admit **out);
void nb_http_admit_free(nb_http_admit *a);

/* A connection from peer (socket fd) was accepted. *conn gets its entry, or NULL when it must
 * be closed at once (no room and nothing to evict); *evict_fd gets the socket of an older
 * connection to close to make room, or -1. An evicted connection is forgotten at once; its
 * entry stays valid until nb_http_admit_close. NB_ERR_NOMEM: close the new one. */
nb_err nb_http_admit_open(nb_http_admit *a, const nb_addr *peer, int fd, nb_time_ms now,
                          nb_http_conn **conn, int *evict_fd);
/* The request's header is complete; has_body: a body is still to come. */
void nb_http_admit_header(nb_http_admit *a, nb_http_conn *c, bool has_body, nb_time_ms now);
/* Its body is complete. */
void nb_http_admit_body(nb_http_admit *a, nb_http_conn *c);
/* A piece of a streamed upload arrived (an authorised request only: the token was checked at
 * its header): its body deadline starts again, so a large image has body_timeout between
 * pieces rather than in all. */
void nb_http_admit_progress(nb_http_admit *a, nb_http_conn *c, nb_time_ms now);
/* The request becomes an event stream: NB_ERR_BUSY when its address has its share of streams,
 * NB_ERR_RANGE when all stream slots are taken (the request is then answered 429 / 503). */
nb_err nb_http_admit_stream(nb_http_admit *a, nb_http_conn *c);
/* The request (or stream) is over; the connection waits for the next one (keep-alive). */
void nb_http_admit_done(nb_http_admit *a, nb_http_conn *c, nb_time_ms now);
/* The connection closed: forgets it (also after eviction or expiry) and frees the entry. */
void nb_http_admit_close(nb_http_admit *a, nb_http_conn *c);

/* Forgets every connection past its deadline and calls close_fd(user, fd) for each. Returns
 * how many. */
size_t nb_http_admit_expire(nb_http_admit *a, nb_time_ms now, void (*close_fd)(void *user, int fd),
                            void *user);
/* The earliest deadline, NB_TIME_NEVER when none. */
nb_time_ms nb_http_admit_next_deadline(const nb_http_admit *a);
void nb_http_admit_get_stats(const nb_http_admit *a, nb_http_admit_stats *out);
/* Whether the connection was evicted or expired (its socket is being closed). */
bool nb_http_admit_is_dead(const nb_http_conn *c);

#endif
