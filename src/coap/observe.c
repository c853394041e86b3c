/* RFC 7641 3.4 freshness of notifications. */
#include "coap/observe.h"

bool nb_coap_observe_is_fresh(uint32_t v1, nb_time_ms t1, uint32_t v2, nb_time_ms t2) {
  v1 &= NB_COAP_OBSERVE_MASK;
  v2 &= NB_COAP_OBSERVE_MASK;
  if (v1 < v2 && v2 - v1 < NB_COAP_OBSERVE_HALF) return true;
  if (v1 > v2 && v1 - v2 > NB_COAP_OBSERVE_HALF) return true;
  return t2 > t1 + NB_COAP_OBSERVE_STALE_MS;
}

bool nb_coap_observe_accept(nb_coap_observe_state *st, uint32_t v, nb_time_ms now) {
  if (st->have && !nb_coap_observe_is_fresh(st->seq, st->at, v, now)) return false;
  st->have = true;
  st->seq = v & NB_COAP_OBSERVE_MASK;
  st->at = now;
  return true;
}
