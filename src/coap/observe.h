/* Observe (RFC 7641) sequence numbers: the 24-bit counter a server stamps on notifications
 * and the freshness rule (3.4) a client uses to drop reordered ones. Pure functions plus a
 * small per-observation state; the message layer owns the registrations. */
#ifndef NB_COAP_OBSERVE_H
#define NB_COAP_OBSERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/time.h"

#define NB_COAP_OBSERVE_MASK 0xffffffu
/* 2^23: half the sequence space. */
#define NB_COAP_OBSERVE_HALF 0x800000u
/* A notification more than this much later is fresh whatever its number (RFC 7641 3.4). */
#define NB_COAP_OBSERVE_STALE_MS 128000

/* Observe option values in requests. */
enum { NB_COAP_OBSERVE_REGISTER = 0, NB_COAP_OBSERVE_DEREGISTER = 1 };

/* The server's next sequence number after seq (wraps at 2^24). */
static inline uint32_t nb_coap_observe_next(uint32_t seq) {
  return (seq + 1) & NB_COAP_OBSERVE_MASK;
}

/* True when notification (v2 received at t2) is newer than (v1 received at t1):
 * (V1 < V2 and V2 - V1 < 2^23) or (V1 > V2 and V1 - V2 > 2^23) or T2 > T1 + 128 s. */
bool nb_coap_observe_is_fresh(uint32_t v1, nb_time_ms t1, uint32_t v2, nb_time_ms t2);

/* Client side: the newest notification accepted so far. */
typedef struct {
  bool have;
  uint32_t seq;
  nb_time_ms at;
} nb_coap_observe_state;

/* Accepts (and records) v received at now when it is fresh or the first one; false drops it. */
bool nb_coap_observe_accept(nb_coap_observe_state *st, uint32_t v, nb_time_ms now);

#endif
