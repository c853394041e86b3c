/* Where DTLS handshakes come from, for a server's admission rules (server.c). A source is what
 * one party controls: an IPv4 address, or an IPv6 /64 prefix (the smallest allocation a
 * subscriber gets, so an attacker with one /64 is one source), except a link-local IPv6
 * address, which is its own source (fe80::/64 is every link's); ports never count. Owns three
 * bounded tables: handshakes in progress per source (a record exists only while its source has
 * one), the sources that completed a handshake recently ("known", fixed size, keyed hash tags,
 * expiry), and the few sources a flood comes from most (for one summary log line). */
#ifndef NB_DTLS_SOURCE_H
#define NB_DTLS_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"
#include "base/time.h"
#include "coap/hmap.h"

typedef struct {
  uint8_t family;     /* NB_ADDR_V4 or NB_ADDR_V6 (an IPv4-mapped IPv6 address is IPv4) */
  uint8_t prefix[16]; /* IPv4: the 4 address bytes; IPv6: the /64 prefix, or the whole
                         link-local address; the rest zero */
} nb_dtls_source;

/* "203.0.113.7", "2001:db8:1:2::/64" or "fe80::1" plus NUL. */
#define NB_DTLS_SOURCE_STRLEN 48

void nb_dtls_source_of(const nb_addr *peer, nb_dtls_source *out);
bool nb_dtls_source_equal(const nb_dtls_source *a, const nb_dtls_source *b);
/* Formats into buf (NB_DTLS_SOURCE_STRLEN is always enough); returns buf. */
const char *nb_dtls_source_format(const nb_dtls_source *s, char *buf, size_t cap);

/* ---- handshakes in progress per source ---- */

typedef struct {
  nb_coap_hnode node;
  nb_dtls_source source;
  size_t handshakes;
} nb_dtls_source_rec;

typedef struct {
  nb_coap_hmap map;
  uint64_t seed; /* keyed hashing: sources cannot aim collisions at one bucket */
} nb_dtls_sources;

void nb_dtls_sources_init(nb_dtls_sources *t, uint64_t seed);
/* Frees every record. */
void nb_dtls_sources_deinit(nb_dtls_sources *t);
/* The source's record, NULL when it has no handshake in progress. */
nb_dtls_source_rec *nb_dtls_sources_find(const nb_dtls_sources *t, const nb_dtls_source *s);
/* One more handshake from s: its record (made on first use), or NULL without memory. */
nb_dtls_source_rec *nb_dtls_sources_take(nb_dtls_sources *t, const nb_dtls_source *s);
/* One handshake less; the record is freed at zero. */
void nb_dtls_sources_give(nb_dtls_sources *t, nb_dtls_source_rec *rec);

/* ---- sources that completed a handshake ---- */

/* Sets of four slots, each a 64-bit keyed tag of a source and when it last completed a
 * handshake: membership costs no allocation, a flood of new sources can only push out the
 * least recently seen of one set, and a tag leaks nothing an attacker could aim at. A false
 * match needs a 64-bit collision under a secret key. */
typedef struct {
  uint64_t tag;
  nb_time_ms seen;
} nb_dtls_known_slot;

typedef struct {
  nb_dtls_known_slot *slots; /* NULL: remembers nothing */
  size_t nsets;              /* power of two */
  nb_time_ms ttl_ms;
  uint64_t seed;
} nb_dtls_known;

/* Room for about `capacity` sources (rounded up to sets of four); 0 = none. */
nb_err nb_dtls_known_init(nb_dtls_known *k, size_t capacity, nb_time_ms ttl_ms, uint64_t seed);
void nb_dtls_known_deinit(nb_dtls_known *k);
/* True when s completed a handshake less than ttl_ms before now. */
bool nb_dtls_known_has(const nb_dtls_known *k, const nb_dtls_source *s, nb_time_ms now);
/* s completed a handshake at now. */
void nb_dtls_known_add(nb_dtls_known *k, const nb_dtls_source *s, nb_time_ms now);

/* ---- the sources a flood comes from most ---- */

/* Space-saving heavy hitters (Metwally et al.): any source with more than 1/N of the events
 * counted is among the N kept, its count over-estimated by at most the smallest kept count. */
enum { NB_DTLS_TOP_N = 4 };

typedef struct {
  nb_dtls_source source[NB_DTLS_TOP_N];
  uint64_t count[NB_DTLS_TOP_N];
} nb_dtls_source_top;

void nb_dtls_source_top_add(nb_dtls_source_top *t, const nb_dtls_source *s);
/* The most counted source and its count; NULL when nothing was counted. */
const nb_dtls_source *nb_dtls_source_top_first(const nb_dtls_source_top *t, uint64_t *count);
void nb_dtls_source_top_reset(nb_dtls_source_top *t);

#endif
