/* Simulated datagram network with a virtual clock, for deterministic in-process tests of any
 * sans-I/O engine (CoAP endpoints, DTLS sessions, LwM2M clients and servers). Nodes have
 * nb_addr addresses; links lose, duplicate, delay and reorder datagrams under a seeded PRNG
 * (not the CSPRNG, so every run is reproducible); run_until delivers datagrams in time order
 * and ticks nodes at their deadlines. */
#ifndef NB_TEST_SIMNET_H
#define NB_TEST_SIMNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"
#include "base/time.h"
#include "coap/endpoint.h"

/* ---- deterministic PRNG (splitmix64) ---- */
typedef struct {
  uint64_t state;
} nb_simnet_rng;

void nb_simnet_rng_seed(nb_simnet_rng *rng, uint64_t seed);
uint64_t nb_simnet_rng_next(nb_simnet_rng *rng);
/* Uniform in [0, 1). */
double nb_simnet_rng_unit(nb_simnet_rng *rng);
/* nb_random_fn over an nb_simnet_rng (user = the rng): reproducible tokens, MIDs, jitter. */
nb_err nb_simnet_rng_fill(void *rng, void *buf, size_t len);

/* ---- network ---- */
typedef struct nb_simnet nb_simnet;
typedef struct nb_simnet_node nb_simnet_node;

/* What a node is: the engine behind an address. Every callback gets the node's user. */
typedef struct {
  void (*receive)(void *user, const nb_addr *from, const uint8_t *data, size_t len, nb_time_ms now);
  nb_time_ms (*next_deadline)(void *user); /* NULL or NB_TIME_NEVER: no timers */
  void (*tick)(void *user, nb_time_ms now);
  void (*destroy)(void *user); /* optional: run by nb_simnet_free */
} nb_simnet_ops;

/* Link behaviour; all probabilities are per datagram. */
typedef struct {
  double drop;                     /* lost */
  double duplicate;                /* delivered twice (each copy with its own delay) */
  nb_time_ms delay_min, delay_max; /* one-way delay, uniform in [min, max] */
  double reorder;                  /* held back by an extra reorder_delay */
  nb_time_ms reorder_delay;
} nb_simnet_link;

typedef struct {
  uint64_t sent, delivered, dropped, duplicated, unreachable;
} nb_simnet_stats;

/* A network at virtual time 0 with perfect links of 10 ms delay. */
nb_simnet *nb_simnet_new(uint64_t seed);
void nb_simnet_free(nb_simnet *net);
nb_time_ms nb_simnet_now(const nb_simnet *net);
nb_simnet_rng *nb_simnet_rng_of(nb_simnet *net);
void nb_simnet_get_stats(const nb_simnet *net, nb_simnet_stats *out);

/* Default link for every pair, and overrides for one direction (from -> to). */
void nb_simnet_set_link(nb_simnet *net, const nb_simnet_link *link);
nb_err nb_simnet_set_link_between(nb_simnet *net, const nb_addr *from, const nb_addr *to,
                                  const nb_simnet_link *link);

/* Adds a node; NULL when the address is taken or memory is short. */
nb_simnet_node *nb_simnet_add(nb_simnet *net, const nb_addr *addr, const nb_simnet_ops *ops,
                              void *user);
void nb_simnet_node_set_user(nb_simnet_node *node, void *user);
const nb_addr *nb_simnet_node_addr(const nb_simnet_node *node);
/* An unreachable node receives nothing (datagrams to it vanish) but keeps ticking. */
void nb_simnet_node_set_reachable(nb_simnet_node *node, bool reachable);

/* nb_coap_send_fn-compatible: `node` is the sending nb_simnet_node. */
void nb_simnet_send(void *node, const nb_addr *to, const uint8_t *data, size_t len);

/* Sees every datagram when it is sent, before the link; returning false drops it. */
typedef bool (*nb_simnet_tap_fn)(void *user, const nb_addr *from, const nb_addr *to,
                                 const uint8_t *data, size_t len, nb_time_ms now);
void nb_simnet_set_tap(nb_simnet *net, nb_simnet_tap_fn tap, void *user);

/* Queues a datagram from `from` to `to`, delivered exactly at `at` (no tap, no link). */
nb_err nb_simnet_inject(nb_simnet *net, const nb_addr *from, const nb_addr *to, const uint8_t *data,
                        size_t len, nb_time_ms at);

/* Processes every delivery and deadline up to and including t; afterwards now == t. */
void nb_simnet_run_until(nb_simnet *net, nb_time_ms t);
/* Like run_until(t_max) but stops as soon as done(user) holds after an event; returns it. */
bool nb_simnet_run_until_cond(nb_simnet *net, nb_time_ms t_max, bool (*done)(void *user),
                              void *user);

/* ---- recorder: a node that keeps every datagram it receives (a scripted peer) ---- */
typedef struct {
  nb_time_ms at;
  nb_addr from;
  uint8_t *data;
  size_t len;
} nb_simnet_record;

typedef struct nb_simnet_recorder nb_simnet_recorder;
/* The recorder is freed with the network; send from it with nb_simnet_send(node, ...). */
nb_simnet_node *nb_simnet_add_recorder(nb_simnet *net, const nb_addr *addr,
                                       nb_simnet_recorder **rec);
size_t nb_simnet_recorder_count(const nb_simnet_recorder *rec);
const nb_simnet_record *nb_simnet_recorder_get(const nb_simnet_recorder *rec, size_t i);
void nb_simnet_recorder_clear(nb_simnet_recorder *rec);

/* ---- CoAP convenience ---- */
/* "10.0.0.n:5683"-style address for tests. */
nb_addr nb_simnet_addr(unsigned n, uint16_t port);
/* A node running a CoAP endpoint (freed with the network). cfg may be NULL (defaults); a NULL
 * cfg->random is replaced by a per-node PRNG seeded from the network, so runs repeat. */
nb_simnet_node *nb_simnet_add_coap(nb_simnet *net, const nb_addr *addr,
                                   const nb_coap_ep_config *cfg, nb_coap_ep **ep);

#endif
