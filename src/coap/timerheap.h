/* Binary min-heap of deadlines for the CoAP layer (retransmissions, timeouts, cache expiry).
 * Timers are embedded in their owners; the heap owns only its pointer array. Each owner
 * reserves a slot when it is created, so arming a timer later can never fail. */
#ifndef NB_COAP_TIMERHEAP_H
#define NB_COAP_TIMERHEAP_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/time.h"

typedef struct {
  nb_time_ms due;
  size_t slot;  /* index + 1 in the heap, 0 while not armed */
  uint8_t kind; /* tells the owner's dispatcher what the timer is embedded in */
} nb_coap_timer;

typedef struct {
  nb_coap_timer **items;
  size_t len;
  size_t cap;
  size_t reserved;
} nb_coap_timerheap;

void nb_coap_timerheap_init(nb_coap_timerheap *h);
void nb_coap_timerheap_deinit(nb_coap_timerheap *h);
/* Makes room for one more timer; pair with nb_coap_timerheap_unreserve when its owner dies. */
nb_err nb_coap_timerheap_reserve(nb_coap_timerheap *h);
void nb_coap_timerheap_unreserve(nb_coap_timerheap *h);
/* Arms or re-arms t (whose slot was reserved) to fire at `due`. */
void nb_coap_timerheap_arm(nb_coap_timerheap *h, nb_coap_timer *t, nb_time_ms due);
void nb_coap_timerheap_disarm(nb_coap_timerheap *h, nb_coap_timer *t);
/* Earliest deadline, NB_TIME_NEVER when empty. */
nb_time_ms nb_coap_timerheap_next(const nb_coap_timerheap *h);
/* Disarms and returns the earliest timer due at or before now, or NULL. */
nb_coap_timer *nb_coap_timerheap_pop_due(nb_coap_timerheap *h, nb_time_ms now);

#endif
