/* Internal state of the CoAP endpoint, shared by its three parts: endpoint.c (message layer:
 * input dispatch, retransmission, NSTART, timers), ep_client.c (requests we send, client
 * observe and block-wise) and ep_server.c (requests we answer, observers, server block-wise).
 * Nothing here is public API. */
#ifndef NB_COAP_EP_INT_H
#define NB_COAP_EP_INT_H

#include <stddef.h>

#include "coap/block.h"
#include "coap/dedup.h"
#include "coap/endpoint.h"
#include "coap/hmap.h"
#include "coap/observe.h"
#include "coap/timerheap.h"

#define NB_COAP_LOG "coap"
#define NB_COAP_CONTAINER(ptr, type, member) \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Timer kinds: tell nb_coap_ep_tick what a due timer is embedded in. */
enum { NB_COAP_TK_XMIT = 1, NB_COAP_TK_CREQ, NB_COAP_TK_B1, NB_COAP_TK_B2 };
/* Who owns an outgoing message that may be acknowledged or reset. */
enum { NB_COAP_XO_CREQ, NB_COAP_XO_SEP, NB_COAP_XO_NOTIF };

/* Circular intrusive list with a sentinel. */
typedef struct nb_coap_link {
  struct nb_coap_link *prev, *next;
} nb_coap_link;

static inline void nb_coap_list_init(nb_coap_link *l) { l->prev = l->next = l; }
static inline bool nb_coap_list_empty(const nb_coap_link *l) { return l->next == l; }
static inline bool nb_coap_linked(const nb_coap_link *n) { return n->next != NULL; }
static inline void nb_coap_list_push(nb_coap_link *l, nb_coap_link *n) {
  n->prev = l->prev;
  n->next = l;
  l->prev->next = n;
  l->prev = n;
}
static inline void nb_coap_list_unlink(nb_coap_link *n) {
  if (!n->next) return;
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = NULL;
}

typedef struct nb_coap_creq nb_coap_creq;

/* An outgoing CON (retransmitted until ACK/RST/give-up) or NON (kept only so a RST to it
 * can be matched), keyed by (peer, MID). */
typedef struct nb_coap_xmit {
  nb_coap_hnode node;
  nb_coap_timer timer;
  nb_addr peer;
  uint16_t mid;
  uint8_t type;
  uint8_t owner_kind;
  void *owner;
  bool holds_slot; /* counts against the peer's NSTART */
  unsigned retransmits;
  nb_time_ms timeout; /* wait before the next retransmission */
  uint8_t *data;
  size_t len;
} nb_coap_xmit;

/* Per-peer NSTART accounting: CON requests in flight and the ones waiting for a slot.
 * Exists only while either is non-zero. */
typedef struct {
  nb_coap_hnode node;
  nb_addr addr;
  unsigned active;
  bool pumping;
  nb_coap_link queue; /* of nb_coap_creq.qlink */
} nb_coap_peer;

/* Message ID counter towards one peer (RFC 7252 4.4): each peer sees all 65536 IDs before
 * one repeats, however many other peers we talk to. Forgotten once unused for
 * EXCHANGE_LIFETIME, after which the peer no longer remembers any of our IDs. Kept small
 * (72 bytes): a server holds one per device it talked to in the last few minutes. */
typedef struct {
  nb_coap_hnode node;
  nb_coap_link lru; /* ep->mid_lru, least recently used first */
  nb_time_ms last;  /* when the last ID was handed out */
  nb_addr addr;
  uint16_t next;
} nb_coap_midctr;

/* A token of ours registered for matching responses to a request. */
typedef struct {
  nb_coap_hnode node;
  nb_coap_creq *creq;
  bool linked;
  uint8_t len;
  uint8_t token[NB_COAP_MAX_TOKEN];
} nb_coap_tnode;

typedef enum {
  NB_COAP_CREQ_IDLE,    /* nothing in flight (an observation between notifications) */
  NB_COAP_CREQ_QUEUED,  /* waiting for an NSTART slot */
  NB_COAP_CREQ_WAIT,    /* message sent, no ACK or response yet */
  NB_COAP_CREQ_SEPWAIT, /* empty ACK received, waiting for the separate response */
} nb_coap_creq_state;

typedef enum {
  NB_COAP_STEP_FIRST,  /* the request itself (block 0 if Block1) */
  NB_COAP_STEP_BLOCK1, /* a later Block1 block */
  NB_COAP_STEP_BLOCK2, /* a Block2 follow-up request */
} nb_coap_creq_step;

/* A request we sent (or will send), with its block-wise and observe state. Fields are ordered
 * by size so the struct has no holes: a device has one or two of these alive for years. */
struct nb_coap_creq {
  nb_coap_ep *ep;
  nb_coap_hnode id_node;
  nb_coap_req_id id;
  nb_addr peer;
  nb_coap_response_fn cb;
  void *user;
  /* The request as given, serialized without token and payload; parsed again whenever a
   * message is built from it (a parsed nb_coap_msg is over a kilobyte, this a few dozen). */
  uint8_t *tmpl_bytes;
  size_t tmpl_len;
  uint8_t *body;
  size_t body_len;
  nb_coap_tnode tn_obs; /* the observation's token, for notifications */
  nb_coap_tnode tn_cur; /* token of the message in flight (unless it is tn_obs's) */
  nb_coap_timer timer;  /* response timeout (NON, or after an empty ACK) */
  nb_coap_link qlink;
  nb_coap_xmit *xmit;
  /* Block1 upload */
  size_t b1_off;
  size_t b1_len; /* bytes in the block in flight */
  /* Block2 download */
  nb_coap_reasm b2;
  uint8_t *b2_head; /* first block without payload, delivered with the whole body */
  size_t b2_head_len;
  nb_coap_observe_state obs;
  unsigned in_cb;
  nb_coap_creq_state state;
  nb_coap_creq_step step;
  unsigned b1_restarts;
  uint32_t b2_num;
  unsigned b2_restarts;
  uint8_t first_token[NB_COAP_MAX_TOKEN];
  uint8_t cur_token[NB_COAP_MAX_TOKEN];
  uint8_t etag[8];
  uint8_t first_token_len;
  uint8_t cur_token_len;
  uint8_t etag_len;
  uint8_t b1_szx;
  uint8_t b2_szx;
  bool confirmable;
  bool observe;     /* registration (Observe=0) still alive */
  bool established; /* a notification or the registration response was accepted */
  bool finished;
  bool block1;
  bool caller_block1; /* the caller sends one Block1 block of its own (nb_coap_ep_request) */
  bool b2_notif;      /* fetching the rest of a notification */
  bool b2_raw;        /* nb_coap_ep_request_block2: one block asked for, delivered as it is */
};

/* Server side Block1 reassembly, keyed by (peer, request key). */
typedef struct {
  nb_coap_hnode node;
  nb_coap_timer timer;
  nb_coap_link lru;
  nb_addr peer;
  uint8_t *key;
  size_t key_len;
  nb_coap_reasm r;
} nb_coap_b1;

/* Server side Block2 cache of a whole response, keyed by (peer, request key). */
typedef struct {
  nb_coap_hnode node;
  nb_coap_timer timer;
  nb_coap_link lru;
  nb_addr peer;
  uint8_t *key;
  size_t key_len;
  uint8_t *head; /* code and options, serialized without payload */
  size_t head_len;
  uint8_t *body;
  size_t body_len;
  uint8_t etag[8];
  uint8_t etag_len;
} nb_coap_b2;

struct nb_coap_exchange {
  nb_coap_ep *ep;
  nb_coap_link link; /* ep->exchanges */
  nb_addr peer;
  uint8_t req_type;
  uint8_t req_code;
  uint16_t mid;
  uint8_t token_len;
  uint8_t token[NB_COAP_MAX_TOKEN];
  nb_coap_dedup_entry *dedup;
  uint8_t *key; /* request key for the Block2 cache */
  size_t key_len;
  bool in_handler;
  bool responded;
  bool acked;       /* empty ACK sent: the answer goes as a separate CON */
  bool observe_req; /* GET/FETCH with Observe=0 */
  bool own_block2;  /* nb_coap_exchange_respond_block: the answer is one block already */
  bool has_block1;  /* reassembled upload: echo the final Block1 */
  nb_coap_block block1;
  bool has_block2; /* client asked for a block or size */
  nb_coap_block block2;
  nb_coap_observer *obs;
};

struct nb_coap_observer {
  nb_coap_ep *ep;
  nb_coap_hnode node; /* ep->observers by (peer, token) */
  nb_addr peer;
  uint8_t token_len;
  uint8_t token[NB_COAP_MAX_TOKEN];
  uint8_t *key; /* request key of the registration, for block-wise notifications */
  size_t key_len;
  uint8_t szx;
  uint32_t seq;
  bool registered; /* the registration response went out */
  bool dying;
  nb_time_ms last_con;
  nb_coap_xmit *xmit;
  nb_coap_exchange *ex; /* registering exchange until it is answered */
  nb_coap_observer_gone_fn gone;
  void *user;
};

struct nb_coap_ep {
  nb_coap_ep_config cfg;
  nb_coap_send_fn send;
  void *send_user;
  nb_coap_request_fn handler;
  void *handler_user;
  nb_coap_body_limit_fn body_limit; /* NULL: max_body for every request */
  void *body_limit_user;
  nb_coap_block1_stream_fn block1_stream; /* NULL: every Block1 upload is reassembled */
  void *block1_stream_user;
  nb_coap_retransmit_fn on_retransmit; /* NULL: none */
  void *retransmit_user;
  uint64_t seed;
  uint64_t mid_gen; /* counters created so far: varies a peer's start when it comes back */
  uint16_t mid_salt;
  nb_coap_req_id next_id;
  nb_coap_timerheap timers;
  nb_coap_dedup dedup;
  nb_coap_hmap peers, xmits, tokens, creqs, observers, b1s, b2s, mids;
  nb_coap_link exchanges, b1_lru, b2_lru, mid_lru;
  size_t b1_count, b2_count;
  size_t b1_bytes; /* body bytes held by the Block1 uploads in b1s */
  nb_coap_ep_stats stats;
  nb_time_ms now; /* time given to the current entry point */
};

/* ---- endpoint.c: message layer services ---- */
nb_err nb_coap_epi_random(nb_coap_ep *ep, void *buf, size_t len);
/* The peer's next Message ID; skips IDs of its messages still tracked. */
uint16_t nb_coap_epi_next_mid(nb_coap_ep *ep, const nb_addr *peer, nb_time_ms now);
void nb_coap_epi_send(nb_coap_ep *ep, const nb_addr *peer, const uint8_t *data, size_t len);
/* Serializes and sends msg; *copy (if not NULL) receives a heap copy of the datagram. */
nb_err nb_coap_epi_send_msg(nb_coap_ep *ep, const nb_addr *peer, const nb_coap_msg *msg,
                            uint8_t **copy, size_t *copy_len);
void nb_coap_epi_send_empty(nb_coap_ep *ep, const nb_addr *peer, uint8_t type, uint16_t mid,
                            nb_coap_dedup_entry *cache);
/* Sends msg (CON or NON) and tracks it by (peer, MID); CON is retransmitted. */
nb_err nb_coap_epi_xmit_start(nb_coap_ep *ep, const nb_addr *peer, const nb_coap_msg *msg,
                              int owner_kind, void *owner, bool take_slot, nb_time_ms now,
                              nb_coap_xmit **out);
void nb_coap_epi_xmit_free(nb_coap_ep *ep, nb_coap_xmit *x);
nb_time_ms nb_coap_epi_exchange_lifetime(const nb_coap_ep *ep);
/* Request key: code plus cache-key options (no Block*, Size*, Observe, token, MID). */
nb_err nb_coap_epi_reqkey(const nb_coap_msg *req, uint8_t **key, size_t *len);
/* Largest SZX (at most the configured one) so `overhead` bytes plus a block fit max_message. */
uint8_t nb_coap_epi_szx(const nb_coap_ep *ep, size_t overhead);
/* Copies msg without payload and token into a heap buffer (for later re-parsing). */
nb_err nb_coap_epi_save_head(const nb_coap_msg *msg, uint8_t **out, size_t *len);
/* NSTART: true when a CON request to peer may go now; else the caller queues it. */
bool nb_coap_epi_slot_free(nb_coap_ep *ep, const nb_addr *peer);
nb_err nb_coap_epi_enqueue(nb_coap_ep *ep, nb_coap_creq *creq);
void nb_coap_epi_dequeue(nb_coap_ep *ep, nb_coap_creq *creq);
bool nb_coap_epi_token_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* ---- ep_client.c ---- */
nb_coap_creq *nb_coap_epi_creq_by_token(nb_coap_ep *ep, const nb_addr *peer, const uint8_t *tok,
                                        size_t len);
void nb_coap_epi_creq_response(nb_coap_ep *ep, nb_coap_creq *creq, const nb_coap_msg *msg,
                               nb_time_ms now);
void nb_coap_epi_creq_acked(nb_coap_ep *ep, nb_coap_creq *creq, nb_time_ms now);
void nb_coap_epi_creq_fail(nb_coap_ep *ep, nb_coap_creq *creq, nb_err err, nb_time_ms now);
void nb_coap_epi_creq_timer(nb_coap_ep *ep, nb_coap_creq *creq, nb_time_ms now);
void nb_coap_epi_creq_send_queued(nb_coap_ep *ep, nb_coap_creq *creq, nb_time_ms now);
void nb_coap_epi_client_free_all(nb_coap_ep *ep);

/* ---- ep_server.c ---- */
void nb_coap_epi_server_request(nb_coap_ep *ep, const nb_addr *peer, const nb_coap_msg *req,
                                nb_coap_dedup_entry *dedup, nb_time_ms now);
void nb_coap_epi_obs_acked(nb_coap_ep *ep, nb_coap_observer *obs);
void nb_coap_epi_obs_gone(nb_coap_ep *ep, nb_coap_observer *obs, nb_err why);
void nb_coap_epi_b1_expire(nb_coap_ep *ep, nb_coap_b1 *b);
void nb_coap_epi_b2_expire(nb_coap_ep *ep, nb_coap_b2 *b);
void nb_coap_epi_server_free_all(nb_coap_ep *ep);

#endif
