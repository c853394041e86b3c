/* CoAP message layer (RFC 7252 section 4, RFC 7641 observe, RFC 7959 block-wise), sans-I/O.
 * One nb_coap_ep is a local endpoint talking to many peers: it owns retransmission state,
 * the deduplication cache, NSTART queues, observations and block-wise transfers. It is fed
 * (datagram, peer, now) and ticks; it emits datagrams through a send callback. */
#ifndef NB_COAP_ENDPOINT_H
#define NB_COAP_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"
#include "base/rand.h"
#include "base/time.h"
#include "coap/msg.h"

/* Behaviour the API does not spell out:
 * - Message IDs: one counter per peer, starting at a keyed hash of the peer under a secret
 *   drawn from cfg.random at creation, skipping IDs of that peer's messages still tracked;
 *   so a peer sees all 65536 IDs before one repeats, however busy the endpoint is with others
 *   (RFC 7252 4.4). A counter unused for EXCHANGE_LIFETIME is forgotten (on tick or when the
 *   next ID is handed out); the peer then starts again at a new value.
 * - Tokens: 8 bytes from cfg.random. Every follow-up message of a block-wise transfer (each
 *   Block1 block after the first, each Block2 request) gets a fresh token, so a late answer
 *   to an earlier block never matches; an observation keeps its registration token.
 * - NSTART counts our CON requests to a peer from sending until ACK, response, RST or give-up
 *   (RFC 7252 4.7); others wait in a FIFO. NON requests, separate responses and notifications
 *   are not queued; an observer has at most one CON notification in flight, a newer one
 *   takes over its retransmission state (RFC 7641 4.5.2).
 * - A request without a handler set is answered 4.04. A NON request is never retransmitted;
 *   it fails with NB_ERR_TIMEOUT after response_timeout.
 * - Block-wise: payloads larger than one block (block_szx, made smaller if needed to keep the
 *   datagram within max_message) go block-wise. A client with block_szx < 6 asks for that size
 *   in its first GET/FETCH (early negotiation). The server caches a large response per (peer,
 *   request key = method + cache-key options) for EXCHANGE_LIFETIME after its last use, with
 *   the application's ETag or one derived from the content; a Block2 request past the end gets
 *   4.02, a later-block request for a non-GET/FETCH with nothing cached gets 4.08.
 * - An observation whose request needs Block1 is refused (NB_ERR_UNSUPPORTED).
 * - Besides the errors listed at nb_coap_response_fn, a request can end with
 *   NB_ERR_COAP_BAD_OPTION (response with an unknown critical option), NB_ERR_COAP_BLOCK (a
 *   peer breaking the block-wise rules) or NB_ERR_NOMEM.
 * - Callbacks may call any function of the endpoint except nb_coap_ep_free. Messages handed
 *   to callbacks are valid only during the call. */

typedef struct nb_coap_ep nb_coap_ep; /* one local CoAP endpoint talking to many peers */
typedef struct nb_coap_exchange nb_coap_exchange; /* a received request awaiting our response */
typedef uint64_t nb_coap_req_id;                  /* handle of a request we sent (0 = none) */

typedef struct {
  nb_time_ms ack_timeout;       /* ACK_TIMEOUT, default 2000 */
  double ack_random_factor;     /* default 1.5 */
  unsigned max_retransmit;      /* default 4 */
  unsigned nstart;              /* outstanding CONs per peer, default 1; more are queued */
  nb_time_ms exchange_lifetime; /* dedup lifetime; 0 = derived from the above (247 s) */
  size_t dedup_max;             /* bound on cached responses, default 4096 */
  size_t max_body;              /* block-wise reassembly limit, default 1 MiB -> 4.13 beyond */
  uint8_t block_szx;            /* preferred block size exponent 0..6 (16..1024), default 6 */
  size_t max_message;           /* largest datagram we send unfragmented, default 1152 */
  nb_random_fn random;          /* token/MID/jitter source, default nb_random_system */
  void *random_user;
  /* Additions to the agreed API (0 = default): */
  nb_time_ms response_timeout;     /* a NON request unanswered, or a CON request whose empty
                                      ACK came but no separate response, fails with
                                      NB_ERR_TIMEOUT after this long; default exchange_lifetime */
  nb_time_ms non_lifetime;         /* NON deduplication window; default derived (145 s) */
  nb_time_ms observe_con_interval; /* a notification goes CON at least this often (24 h) */
  size_t max_block1_bytes;         /* bytes all Block1 uploads being reassembled may hold
                                      together; past it the least recently used upload gives
                                      way (its next block gets 4.08); default (and at least)
                                      the larger of 16 MiB and max_body */
} nb_coap_ep_config;
void nb_coap_ep_config_default(nb_coap_ep_config *cfg);
/* EXCHANGE_LIFETIME under cfg (RFC 7252 4.8.2): its exchange_lifetime, or when 0
 * MAX_TRANSMIT_SPAN + 2 * MAX_LATENCY + PROCESSING_DELAY (247 s with the defaults): how long a
 * peer may still repeat a confirmable message it sent. */
nb_time_ms nb_coap_exchange_lifetime(const nb_coap_ep_config *cfg);

/* Where the endpoint sends datagrams: the I/O shell (socket) or a simulated network. */
typedef void (*nb_coap_send_fn)(void *user, const nb_addr *peer, const uint8_t *data, size_t len);
/* A new request arrived (deduplicated, Block1 already reassembled: req->payload is the whole body).
 * Answer now with nb_coap_exchange_respond (piggybacked) or keep `ex` and answer later (the layer
 * sends an empty ACK for a CON at once and the answer becomes a separate CON response). */
typedef void (*nb_coap_request_fn)(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                                   const nb_coap_msg *req, nb_time_ms now);
/* Outcome of a request we sent: err NB_OK with the response (Block2 reassembled, payload complete),
 * or err NB_ERR_TIMEOUT / NB_ERR_RESET / NB_ERR_CANCELLED / NB_ERR_COAP_TOO_LARGE with resp NULL.
 * For an observation it runs once per fresh notification (reordered/stale ones are dropped) until
 * it is cancelled or fails; `last` tells the caller the request is finished. */
typedef void (*nb_coap_response_fn)(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                                    nb_time_ms now);

nb_err nb_coap_ep_new(const nb_coap_ep_config *cfg, nb_coap_send_fn send, void *send_user,
                      nb_coap_ep **out);
void nb_coap_ep_free(nb_coap_ep *ep); /* pending callbacks are NOT called; exchanges are freed */
/* Without a handler every request is answered 4.04 Not Found: there is no resource here. */
void nb_coap_ep_set_handler(nb_coap_ep *ep, nb_coap_request_fn fn, void *user);
/* Addition: the largest request body the layer collects for `req` (an ordinary request or any
 * block of a Block1 upload: its method and options tell the resource), so a server bounds each
 * resource apart; 0 or more than max_body mean max_body. A request past it is answered 4.13
 * with Size1 = the limit (RFC 7959 2.9.3, 4), from the first block whose Size1 or offset
 * shows it, and never reaches the handler. */
/* Addition: whether the handler takes the blocks of this Block1 request (RFC 7959 2.5) one by
 * one instead of the layer reassembling the body (a firmware package streamed to storage). Such
 * a request reaches the handler as it came, Block1 and Size1 included, with no body limit: the
 * handler answers each block itself (2.31 Continue with the Block1 echo, the final code, or
 * 4.08 / 4.13). */
typedef bool (*nb_coap_block1_stream_fn)(void *user, const nb_addr *peer, const nb_coap_msg *req);
void nb_coap_ep_set_block1_stream(nb_coap_ep *ep, nb_coap_block1_stream_fn fn, void *user);
typedef size_t (*nb_coap_body_limit_fn)(void *user, const nb_addr *peer, const nb_coap_msg *req);
void nb_coap_ep_set_body_limit(nb_coap_ep *ep, nb_coap_body_limit_fn fn, void *user);

/* Addition: told right before the n-th retransmission (n >= 1) of a confirmable message to
 * peer goes out; id is the request's for a request of ours (0 for a CON response or
 * notification), next_ms the wait after this one before the next (or before giving up). For
 * what an engine does about a silent peer (log the attempt, renew a DTLS session under it).
 * The hook must not call into the endpoint. */
typedef void (*nb_coap_retransmit_fn)(void *user, const nb_addr *peer, nb_coap_req_id id,
                                      unsigned n, nb_time_ms next_ms, nb_time_ms now);
void nb_coap_ep_set_retransmit_hook(nb_coap_ep *ep, nb_coap_retransmit_fn fn, void *user);

/* Input: one datagram from `peer`. Malformed CON -> RST; malformed NON/ACK ignored; never crashes.
 */
void nb_coap_ep_receive(nb_coap_ep *ep, const nb_addr *peer, const uint8_t *data, size_t len,
                        nb_time_ms now);
/* Runs every timer due at `now` (retransmissions, timeouts, expiries). */
void nb_coap_ep_tick(nb_coap_ep *ep, nb_time_ms now);
/* Next time nb_coap_ep_tick must be called (NB_TIME_NEVER when idle). */
nb_time_ms nb_coap_ep_next_deadline(const nb_coap_ep *ep);

/* Client side. The layer assigns the MID and, if req has no token, a CSPRNG token (8 bytes).
 * Payload larger than the block size goes Block1; Block2 responses are fetched and reassembled.
 * Addition: a request that carries a Block1 option is one block the caller slices itself (an
 * upload streamed from a file, never whole in memory): it goes as given (Block1 and Size1
 * kept, the payload never sliced again), and whatever answers it, 2.31 Continue with the
 * peer's Block1 or 4.13 with its Size1 or smaller block, is the caller's final response.
 * A request with Observe=0 is an observation: cb runs per notification.
 * req is copied: its payload may be freed when this returns. */
nb_err nb_coap_ep_request(nb_coap_ep *ep, const nb_addr *peer, const nb_coap_msg *req,
                          bool confirmable, nb_coap_response_fn cb, void *user, nb_time_ms now,
                          nb_coap_req_id *id);
/* Addition: a CON GET/FETCH for block `num` of size 2^(szx+4) of a large representation, sent
 * with that Block2 option and answered as it comes: the layer fetches no further block, so the
 * caller streams a body of any size one block at a time (Block2 and ETag of the response are
 * the caller's to check). NB_ERR_INVAL for a request with a Block1 body or Observe. */
nb_err nb_coap_ep_request_block2(nb_coap_ep *ep, const nb_addr *peer, const nb_coap_msg *req,
                                 uint32_t num, uint8_t szx, nb_coap_response_fn cb, void *user,
                                 nb_time_ms now, nb_coap_req_id *id);
/* Adopts an observation registered before this endpoint existed (a restarted server whose
 * device still notifies): nothing is sent; notifications from peer carrying `token` go to cb as
 * for an nb_coap_ep_request observation, so they are no longer answered with RST. req is the
 * original registration (GET/FETCH with Observe=0, its token ignored): the template for Block2
 * follow-ups and active cancellation. NB_ERR_INVAL for a non-observe request or a bad token,
 * NB_ERR_EXISTS when the token is in use towards peer. */
nb_err nb_coap_ep_adopt_observation(nb_coap_ep *ep, const nb_addr *peer, const nb_coap_msg *req,
                                    const uint8_t *token, size_t token_len, bool confirmable,
                                    nb_coap_response_fn cb, void *user, nb_time_ms now,
                                    nb_coap_req_id *id);
/* Stops a request or observation; cb is called with NB_ERR_CANCELLED (last=true).
 * For an observation, `active` sends a GET with Observe=1 (RFC 7641 3.6) else forgets it and the
 * next notification is answered with RST. NB_ERR_NOT_FOUND for an unknown or finished id. */
nb_err nb_coap_ep_cancel(nb_coap_ep *ep, nb_coap_req_id id, bool active, nb_time_ms now);

/* Server side: answers an exchange (token/type/MID are filled in by the layer; the caller sets
 * code, options, payload). Large payloads are served block-wise (Block2) automatically. Frees ex
 * (also on error). resp's payload is copied. */
nb_err nb_coap_exchange_respond(nb_coap_exchange *ex, nb_coap_msg *resp, nb_time_ms now);
/* Addition: answers with one block the application cut itself (e.g. read from a file at the
 * offset the request's Block2 asks for): resp carries its own Block2, Size2 and ETag and goes
 * as given, nothing cached, so a body of any size is served without being held in memory. */
nb_err nb_coap_exchange_respond_block(nb_coap_exchange *ex, nb_coap_msg *resp, nb_time_ms now);
const nb_addr *nb_coap_exchange_peer(const nb_coap_exchange *ex);
/* Addition: drops an exchange without answering (the peer gets nothing more; a CON already
 * acknowledged stays so). Exchanges still held when nb_coap_ep_free runs are freed by it. */
void nb_coap_exchange_free(nb_coap_exchange *ex);

/* Observe, server side (RFC 7641): inside the request handler, a GET with Observe=0 may be accepted
 * with nb_coap_exchange_observe, before responding; the response then carries Observe. Later
 * notifications go through nb_coap_ep_notify (sequence numbers managed by the layer, a CON at least
 * every 24 h or when `confirmable`). When the observer goes away (RST to a notification, GET with
 * Observe=1, a CON notification timing out) `gone` is called and the observer is freed. */
typedef struct nb_coap_observer nb_coap_observer;
/* why: NB_ERR_RESET (RST), NB_ERR_TIMEOUT (CON notification unacknowledged), NB_ERR_CANCELLED
 * (GET with Observe=1, a re-registration with the same token replacing it, or the registering
 * exchange answered with a non-2.xx code or dropped). */
typedef void (*nb_coap_observer_gone_fn)(void *user, nb_coap_observer *obs, nb_err why);
nb_err nb_coap_exchange_observe(nb_coap_exchange *ex, nb_coap_observer_gone_fn gone, void *user,
                                nb_coap_observer **out);
/* NB_ERR_STATE before the registration's answer went out. A non-2.xx notification ends the
 * observation (the observer is freed without a gone callback). */
nb_err nb_coap_ep_notify(nb_coap_ep *ep, nb_coap_observer *obs, nb_coap_msg *notification,
                         bool confirmable, nb_time_ms now);
void nb_coap_ep_observer_cancel(nb_coap_ep *ep,
                                nb_coap_observer *obs); /* server ends it (no callback) */

/* Counters for logs/benchmarks. */
typedef struct {
  uint64_t rx, tx, retransmits, duplicates, timeouts, resets, malformed;
  uint64_t mid_peers; /* gauge: peers given a Message ID within EXCHANGE_LIFETIME */
} nb_coap_ep_stats;
void nb_coap_ep_get_stats(const nb_coap_ep *ep, nb_coap_ep_stats *out);

#endif
