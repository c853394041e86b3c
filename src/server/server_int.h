/* Internals of the LwM2M server engine shared by its files (not an API): the registration and
 * request records, the engine's state and the functions one part of the engine calls in
 * another. server.c owns the engine (lifecycle, lookups, events), server_rd.c the registration
 * interface (/rd, /dp), server_req.c device-management requests and observations (with signed
 * answers and their evidence), server_restore.c the restart from the store. Registrations live
 * in three intrusive hash maps (endpoint name, registration ID, address) so a datagram costs
 * O(1) lookups at any fleet size; every deadline (expiry, awake window, request timeout,
 * queued-request expiry) is one timer in a single heap. */
#ifndef NB_SERVER_SERVER_INT_H
#define NB_SERVER_SERVER_INT_H

#include <stddef.h>

#include "coap/hmap.h"
#include "coap/timerheap.h"
#include "server/server.h"

#define NB_SRV_LOG "server"
#define NB_SRV_CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

enum { TK_EXPIRY = 1, TK_AWAKE, TK_REQ };
enum { RQ_QUEUED, RQ_SENT, RQ_OBSERVING };

typedef struct sreq sreq;

/* True for a registration made without authentication (max_nosec counts it). */
#define NB_SRV_IS_NOSEC(r) ((r)->info.identity.kind == NB_SERVER_ID_NONE)

typedef struct reg {
  nb_coap_hnode n_ep, n_id, n_addr;
  nb_server_reg_info info;
  char *links; /* owned; info.links points here */
  char *text;  /* owned: endpoint name, identity and SMS number, each NUL-terminated, where
                  info.ep, info.identity.value and info.sms point (nb_srvi_reg_set_text) */
  nb_coap_timer t_expiry, t_awake;
  bool awake;
  sreq *reqs; /* every request of this registration, doubly linked */
  size_t nqueued;
  unsigned refused_formats; /* formats the device answered 4.06/4.15 to (server_fmt.c) */
  bool unsaved;             /* the store did not take its last change (retried every store_retry) */
} reg;

struct sreq {
  nb_coap_hnode n_id;
  nb_server *srv;
  bool silent; /* finished already: the CoAP layer's last callback only frees it */
  uint64_t id;
  reg *r;
  sreq *prev, *next;
  int state;
  bool timed_out;
  nb_coap_req_id coap_id;
  nb_server_op op;
  nb_path path;
  nb_path *paths;
  size_t npaths;
  uint8_t method;
  int content_format, accept;
  /* Format negotiation (server_fmt.c): the caller left the format to the engine (fmt_auto), the
   * format to retry with once on 4.06/4.15 (NB_COAP_CF_NONE: none) and, for a body, the body in
   * it; fmt_retried once it was. */
  bool fmt_auto, fmt_retried;
  int alt_format;
  uint8_t *alt_payload;
  size_t alt_len;
  bool observe, has_attrs;
  nb_attrs attrs;
  uint8_t *payload;
  size_t len;
  nb_coap_timer timer;
  nb_time_ms timeout;
  nb_server_result_fn cb;
  void *user;
  uint32_t seq;
  bool has_block1, quiet; /* one block of an upload (nb_server_request.block1) */
  nb_coap_block block1;
  uint32_t size1;
  uint8_t token[8]; /* observations: kept so a restarted server can adopt them */
  uint8_t token_len;
  int64_t obs_created_at; /* observations: Unix ms of the first notification (stored) */
  bool unsaved;           /* an observation the store did not take (retried) */
  char actor[64];
};

struct nb_server {
  nb_server_config cfg;
  nb_coap_ep *ep;
  nb_model *own_model;
  const nb_model *model;
  nb_coap_hmap by_ep, by_id, by_addr, reqs;
  nb_coap_timerheap timers;
  uint64_t seed;
  uint64_t next_req_id;
  const nb_server_identity *cur_id; /* identity of the datagram being processed */
  struct {
    nb_server_listener_fn fn;
    void *user;
  } listeners[NB_SERVER_MAX_LISTENERS];
  nb_server_stats stats;
  size_t nosec;         /* registrations whose identity is NB_SERVER_ID_NONE */
  bool nosec_full_said; /* the cap's warning is logged once each time it is reached */
  nb_time_ms now;       /* of the call being processed (nb_server_now) */
  char res_name[16];    /* nb_server_set_resource */
  nb_server_resource_fn res_fn;
  void *res_user;
  size_t unsaved; /* registrations and observations the store did not take */
  char **gone;    /* endpoints whose registration ended but whose row the store kept
                     (its deletion failed): deleted again with the retries */
  size_t ngone;
  uint64_t gone_dropped; /* ones beyond NB_SERVER_GONE_MAX, left to expire in the store */
  nb_time_ms retry_at;   /* when they are written again; 0: not scheduled yet */
};

/* ---- server.c: lookups, events, store ---- */

int64_t nb_srvi_unix_ms(const nb_server *s, nb_time_ms now);
uint64_t nb_srvi_hash_str(const nb_server *s, const char *str);
reg *nb_srvi_find_ep(const nb_server *s, const char *ep);
reg *nb_srvi_find_id(const nb_server *s, const char *id);
reg *nb_srvi_find_addr(const nb_server *s, const nb_addr *a);
sreq *nb_srvi_find_req(const nb_server *s, uint64_t id);
void nb_srvi_emit(nb_server *s, nb_server_event *ev);
void nb_srvi_emit_reg(nb_server *s, nb_server_event_type type, reg *r, bool replaced,
                      nb_time_ms now);
/* The identity r was registered with (a) is the one the current datagram came with (b). */
bool nb_srvi_identity_equal(const nb_server_reg_identity *a, const nb_server_identity *b);
/* Writes r to the store; a failure marks it unsaved (written again every store_retry until the
 * store takes it). */
nb_err nb_srvi_store_reg(nb_server *s, reg *r);

/* Writes observation q to the store; a failure marks it unsaved (retried like registrations). */
nb_err nb_srvi_store_obs(nb_server *s, sreq *q);
/* The store kept ep's rows after its registration ended (a deletion failed): deleted again
 * with the retries, unless ep registers again first. */
void nb_srvi_gone_add(nb_server *s, const char *ep);

/* ---- server_fmt.c: content-format negotiation ---- */

/* The formats to try for op on r when the caller chose none, first choice first (at most cap;
 * never 0 for cap > 0). */
size_t nb_srvi_fmt_candidates(const reg *r, nb_server_op op, int *out, size_t cap);
/* r's device answered `code` (4.06, 4.15) to cf: it goes last among the candidates; next is the
 * format retried with, for the log. */
void nb_srvi_fmt_refused(nb_server *s, reg *r, int cf, uint8_t code, int next);
/* r's device answered a request for values in cf: first choice from now on (stored). */
void nb_srvi_fmt_worked(nb_server *s, reg *r, int cf);
/* The formats of a Register or Update's object list; a new registration also forgets what the
 * device answered and refused before. */
void nb_srvi_fmt_reset(reg *r, const uint16_t *formats, size_t count, bool new_registration);

/* ---- server_rd.c: registrations ---- */

/* A registration with both timers reserved, not yet indexed. NULL when memory is short. */
reg *nb_srvi_reg_new(nb_server *s);
/* Gives r its endpoint name, identity and SMS number (NULL: none), copied into one block that
 * replaces r's earlier one. NB_ERR_NOMEM leaves r as it was. */
nb_err nb_srvi_reg_set_text(reg *r, const char *ep, const nb_server_reg_identity *id,
                            const char *sms);
/* Frees r and what it owns (not indexed, no timer armed; both timer slots given back). */
void nb_srvi_reg_free(nb_server *s, reg *r);
void nb_srvi_reg_index(nb_server *s, reg *r);
/* Unlinks r, ends its requests (callbacks see it gone from the maps) and frees it. */
void nb_srvi_reg_remove(nb_server *s, reg *r, nb_time_ms now);
/* The CoAP layer's body limit: reg_limits.payload for anything to /rd (Register, Update). */
size_t nb_srvi_body_limit(void *user, const nb_addr *peer, const nb_coap_msg *req);
/* The CoAP request handler: /rd, /rd/ID and /dp. */
void nb_srvi_on_request(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                        const nb_coap_msg *req, nb_time_ms now);

/* ---- server_req.c: requests and observations ---- */

/* Requests can go to r now: heard from since a restart (DTLS), awake (queue mode). */
bool nb_srvi_reachable(const reg *r);
/* A queue-mode client spoke: awake for awake_time, its queued requests go out. */
void nb_srvi_reg_wake(nb_server *s, reg *r, nb_time_ms now);
/* r's device registered, updated or sent something of its identity from its address: one
 * restored after a restart is reachable again (what waited for it goes out), a queue-mode one
 * is awake. */
void nb_srvi_reg_heard(nb_server *s, reg *r, nb_time_ms now);
sreq *nb_srvi_req_new(nb_server *s, reg *r, const nb_server_request *in, uint64_t id, int state,
                      nb_server_result_fn cb, void *user);
nb_err nb_srvi_req_copy_paths(sreq *q, const nb_server_request *in);
nb_err nb_srvi_req_build(nb_server *s, sreq *q, const nb_server_request *in);
nb_err nb_srvi_req_message(const sreq *q, nb_coap_msg *m);
void nb_srvi_req_free(nb_server *s, sreq *q);
void nb_srvi_req_fail(nb_server *s, sreq *q, nb_err err, nb_time_ms now);
void nb_srvi_req_abort(nb_server *s, sreq *q, bool active, nb_time_ms now);
void nb_srvi_on_coap_response(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                              nb_time_ms now);

#endif
