/* Deduplication cache (RFC 7252 4.5): remembers the (peer, Message ID) of every CON and NON
 * message received, for EXCHANGE_LIFETIME or NON_LIFETIME, with the reply we sent, so that a
 * duplicate CON gets the same reply again and is not processed twice. Bounded in size. */
#ifndef NB_COAP_DEDUP_H
#define NB_COAP_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"
#include "base/time.h"
#include "coap/hmap.h"

typedef struct nb_coap_dedup_entry {
  nb_coap_hnode node;
  struct nb_coap_dedup_entry *next; /* FIFO of its message type, oldest first */
  nb_addr peer;
  uint16_t mid;
  uint8_t type;        /* NB_COAP_CON or NB_COAP_NON */
  uint8_t empty_reply; /* first byte of an empty ACK or RST that was the reply (rebuilt from mid,
                          no copy kept: most replies of a server are such ACKs); 0 when none */
  uint32_t reply_len;  /* packed with mid and type: a device keeps a dozen entries for minutes */
  nb_time_ms expires;  /* insertion time plus the lifetime of its type */
  uint8_t *reply;      /* datagram to resend to a duplicate, NULL while none */
  /* When set, *backref points at this entry and is cleared when the entry goes away. */
  struct nb_coap_dedup_entry **backref;
} nb_coap_dedup_entry;

typedef struct {
  nb_coap_dedup_entry *head, *tail;
} nb_coap_dedup_list;

typedef struct {
  nb_coap_hmap map;
  uint64_t seed;
  nb_coap_dedup_list con, non;
  size_t max;
  nb_time_ms con_lifetime, non_lifetime;
} nb_coap_dedup;

nb_err nb_coap_dedup_init(nb_coap_dedup *d, uint64_t seed, size_t max, nb_time_ms con_lifetime,
                          nb_time_ms non_lifetime);
void nb_coap_dedup_deinit(nb_coap_dedup *d);
nb_coap_dedup_entry *nb_coap_dedup_find(nb_coap_dedup *d, const nb_addr *peer, uint16_t mid);
/* Records a new message; when full, the oldest entry is evicted first. */
nb_err nb_coap_dedup_insert(nb_coap_dedup *d, const nb_addr *peer, uint16_t mid, uint8_t type,
                            nb_time_ms now, nb_coap_dedup_entry **out);
/* find, and insert when not found, with one hash and one walk of the bucket: the entry recorded
 * earlier (*dup true) or the one recorded now (*dup false); NULL when memory is short. */
nb_coap_dedup_entry *nb_coap_dedup_check(nb_coap_dedup *d, const nb_addr *peer, uint16_t mid,
                                         uint8_t type, nb_time_ms now, bool *dup);
/* Stores a copy of the reply (replacing an earlier one). */
nb_err nb_coap_dedup_set_reply(nb_coap_dedup_entry *e, const uint8_t *data, size_t len);
/* The reply was the empty ACK or RST `first_byte` opens (with the entry's MID): kept as that
 * byte only. */
void nb_coap_dedup_set_empty_reply(nb_coap_dedup_entry *e, uint8_t first_byte);
/* The reply to send again to a duplicate (buf holds an empty one while *data is in use); false
 * when no reply was sent. */
bool nb_coap_dedup_reply(const nb_coap_dedup_entry *e, uint8_t buf[4], const uint8_t **data,
                         size_t *len);
/* Drops every entry whose lifetime ended at or before now. */
void nb_coap_dedup_expire(nb_coap_dedup *d, nb_time_ms now);
/* Earliest expiry, NB_TIME_NEVER when empty. */
nb_time_ms nb_coap_dedup_next(const nb_coap_dedup *d);
static inline size_t nb_coap_dedup_count(const nb_coap_dedup *d) { return d->map.count; }

#endif
