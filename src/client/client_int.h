/* Internals shared by the client engine's files: the engine state, server accounts,
 * written attributes and observations. Not part of the public API (include/niobium/). */
#ifndef NB_CLIENT_INT_H
#define NB_CLIENT_INT_H

#include "coap/endpoint.h"
#include "dtls/cose.h"
#include "dtls/session.h"
#include "lwm2m/attr.h"
#include "lwm2m/format.h"
#include "niobium/client.h"
#include "niobium/config.h"
#include "niobium/objects.h"

#define NB_CLIENT_LOG "client"
#define NB_CLIENT_MAX_SERVERS 8
#define NB_CLIENT_MAX_OBJECTS 64
#define NB_CLIENT_LOC_MAX 64
#define NB_CLIENT_MAX_IDS 512 /* instances or resources listed at once */

/* One LwM2M server account (Security + Server instance pair) and its registration. */
typedef struct {
  nb_client *client;
  uint16_t ssid;
  uint16_t sec_inst, srv_inst;
  nb_addr addr;
  nb_client_srv_state state;
  char location[NB_CLIENT_LOC_MAX]; /* "/rd/abc" from the 2.01 Location-Path */
  uint32_t lifetime;                /* as last registered */
  char binding[8];                  /* as last registered */
  nb_coap_req_id req;               /* Register/Update/De-register in flight */
  nb_time_ms next_update;           /* registered: when the Update is due */
  nb_time_ms retry_at;              /* WAIT_RETRY: next attempt */
  unsigned attempt;                 /* attempt within the current sequence (0-based) */
  unsigned sequence;                /* sequence number (0-based) */
  bool update_pending;              /* something the server knows changed */
  bool objects_changed;             /* the Update carries the object list */
  /* queue mode (queue.c) */
  bool asleep;          /* the radio is off for this server: its datagrams are dropped */
  bool flush_on_update; /* queued notifications go once the wake-up Update is answered */
  nb_time_ms last_io;   /* last datagram exchanged with this server */
  /* the Register or Update in flight (registration.c) */
  nb_time_ms req_at; /* when it went */
  bool unreachable;  /* an ICMP error for this server came since it went (logged once) */
} nb_account;

/* Attributes a server wrote at one path (object, instance, resource or resource instance). */
typedef struct {
  uint16_t ssid;
  nb_path path;
  nb_attrs attrs;
} nb_attr_entry;

/* One observation (Observe or Observe-Composite) of one server. */
typedef struct nb_obs {
  struct nb_obs *next;
  nb_client *client;
  uint16_t ssid;
  nb_coap_observer *observer;
  nb_path *paths; /* one for Observe, several for Observe-Composite */
  size_t npaths;
  bool composite;
  int cf;               /* Content-Format of the notifications */
  nb_time_ms last_sent; /* time of the last notification (or the answer) */
  double last_num;      /* numeric value last reported (single numeric resource) */
  bool has_num;
  bool changed; /* a change is waiting for pmin */
  /* evaluation periods (epmin/epmax) */
  nb_time_ms last_eval; /* the criteria were last evaluated (or values reported) */
  uint64_t last_hash;   /* of the values last reported: a sample tells changes by it */
  bool eval_pending;    /* a reported change waits for epmin */
  bool queued;          /* queue mode: a notification waits for the server to be awake */
} nb_obs;

/* The transport to one server address (a server account or the bootstrap server): plain UDP
 * for NoSec, else a DTLS client session with credentials built from its Security instance. */
typedef struct {
  nb_client *client;
  nb_addr addr;
  uint16_t sec_inst;
  int mode;             /* Security resource 2: 0 PSK, 1 RPK, 2 X.509, 3 NoSec */
  uint8_t digest[32];   /* of the Security values the credentials came from */
  nb_dtls_creds *creds; /* NULL for NoSec or when the Security values are unusable */
  nb_dtls_session *s;   /* NULL until the first datagram out */
  char pin_id[32];      /* RPK: server secure ID to accept (when given as one) */
  bool failed;          /* the session failed: abort requests once its call returns */
  nb_err fail_err;
  nb_time_ms heard_at; /* the session last delivered a datagram from the server */
  nb_time_ms lost_at;  /* last renewal on the server's lost-session alert (-1: none) */
} nb_chan;

struct nb_client {
  char *endpoint;
  bool v10; /* behave as LwM2M 1.0 */
  const nb_model *model;
  nb_client_config cfg;
  nb_coap_ep *ep;
  nb_object **objs; /* ascending id; at most NB_CLIENT_MAX_OBJECTS */
  size_t nobjs, objs_cap;
  /* Heap slots, at most NB_CLIENT_MAX_SERVERS: [0, nacc) in use, [0, acc_slots) made; a slot
   * lives until nb_client_free (callbacks may hold it). Arrays sized to what is used. */
  nb_account **acc;
  size_t nacc, acc_slots;
  nb_attr_entry *attrs;
  size_t nattrs, attrs_cap;
  nb_obs *obs;
  nb_chan **chans; /* heap, one per server address in use, at most NB_CLIENT_MAX_SERVERS + 1 */
  size_t nchans, chans_cap;
  nb_time_ms now; /* latest time any entry point was given (for lazily made sessions) */
  bool started, deregistering;
  /* Registrations to start once the datagram in hand is done with (after a Bootstrap-Finish,
   * which is answered first and whose exchange is gone by then). */
  bool reg_pending;
  /* bootstrap (bootstrap.c) */
  int bs_state;    /* NB_BS_* */
  nb_addr bs_addr; /* the bootstrap account's server, resolved when accounts are (re)built */
  bool bs_known;   /* bs_addr is set: there is a bootstrap account */
  nb_coap_req_id bs_req;
  nb_time_ms bs_deadline; /* REQUESTED: Finish must come by then; RETRY: next request */
  unsigned bs_attempts;
  bool bs_purge;          /* Bootstrap-Server Account Timeout (/0/x/12) running */
  uint16_t bs_purge_inst; /* the account it purges */
  nb_time_ms bs_purge_at;
  nb_time_ms bs_release_at; /* when the bootstrap server's transport is let go (0: not due) */
  /* The bootstrap ID (cti) of the signed writes of the bootstrap under way: every signed
   * write of one bootstrap carries the same, and the receipt echoes it (signed.c). */
  uint8_t bs_cti[NB_COSE_ID_MAX];
  size_t bs_cti_len;
  bool bs_cti_set;
  /* Datagrams from addresses that are none of this client's servers, dropped unanswered. */
  uint64_t foreign_dropped;
  /* Connectivity Statistics (objects.c): datagrams through cfg.send / nb_client_receive */
  nb_client_stats stats;
  nb_time_ms stats_since;             /* when collection (re)started */
  int64_t stats_period_s;             /* Collection Period, 0 = unlimited */
  struct nb_fw *fw;                   /* Firmware Update state (firmware.c), owned by object 5 */
  const struct nb_fw_hooks *fw_hooks; /* its entry points, NULL without object 5 */
};

enum { NB_BS_NONE, NB_BS_REQUESTING, NB_BS_REQUESTED, NB_BS_RETRY, NB_BS_FAILED };

/* engine.c */
void nb_client_emit(nb_client *c, nb_client_event ev, uint16_t ssid, nb_err err, nb_time_ms now);
nb_account *nb_client_account_by_addr(nb_client *c, const nb_addr *a);
nb_account *nb_client_account_by_ssid(nb_client *c, uint16_t ssid);
/* Maps a handler error to a CoAP response code. */
uint8_t nb_client_err_code(nb_err e);

/* "coap://1.2.3.4:5683" -> address (numeric hosts only). */
nb_err nb_client_parse_uri(const char *uri, nb_addr *out);
/* Like nb_client_parse_uri, but host names go to the configured resolver; host (may be NULL)
 * receives the host part of the URI. */
nb_err nb_client_resolve_uri(nb_client *c, const char *uri, nb_addr *out, char *host, size_t cap);

/* transport.c */
/* Datagram out to peer: through the DTLS session of its Security instance, or plain. */
void nb_tr_send(nb_client *c, const nb_addr *peer, const uint8_t *data, size_t len);
/* Datagram in from peer: ciphertext to its session, plain CoAP to the endpoint. */
void nb_tr_receive(nb_client *c, const nb_addr *peer, const uint8_t *data, size_t len,
                   nb_time_ms now);
void nb_tr_tick(nb_client *c, nb_time_ms now);
nb_time_ms nb_tr_deadline(const nb_client *c);
/* Drops the transports whose Security instance changed or went away (after a bootstrap). */
void nb_tr_sync(nb_client *c, nb_time_ms now);
/* A bootstrap finished: the bootstrap server's transport goes once it cannot be needed. */
void nb_tr_bootstrap_done(nb_client *c, nb_time_ms now);
/* Sends close_notify on every established session. */
void nb_tr_close_all(nb_client *c, nb_time_ms now);
void nb_tr_free_all(nb_client *c);
/* Who authenticated the established DTLS session with peer; NULL for a plain peer or before
 * the handshake is done. */
const nb_dtls_peer *nb_tr_peer(nb_client *c, const nb_addr *peer);
/* Drops the established DTLS session to peer so the next datagram makes a new one (a full
 * handshake): the server may have lost it (a restart), and keeps dropping what comes over it.
 * No-op for a plain peer or a session still handshaking. */
void nb_tr_renew(nb_client *c, const nb_addr *peer, const char *why, nb_time_ms now);
/* True when peer is a DTLS server whose session delivered nothing since t (a plain peer:
 * false). */
bool nb_tr_silent_since(const nb_client *c, const nb_addr *peer, nb_time_ms t);
/* registration.c / bootstrap.c: the transport to a's server (or the bootstrap server) failed
 * for good: fail the request in flight now instead of waiting for CoAP to give up. */
void nb_reg_transport_failed(nb_client *c, nb_account *a, nb_err err, nb_time_ms now);
void nb_bs_transport_failed(nb_client *c, nb_err err, nb_time_ms now);

/* registration.c */
void nb_reg_start(nb_client *c, nb_account *a, nb_time_ms now);
void nb_reg_tick(nb_client *c, nb_account *a, nb_time_ms now);
nb_time_ms nb_reg_deadline(const nb_client *c, const nb_account *a);
nb_err nb_reg_update(nb_client *c, nb_account *a, bool with_objects, nb_time_ms now);
nb_err nb_reg_deregister(nb_client *c, nb_account *a, nb_time_ms now);
/* The CoAP layer retransmits request id to peer for the n-th time: a Register or Update of an
 * account logs it, and after its first unanswered transmission over DTLS renews the session.
 * (engine.c hands every retransmission here.) */
void nb_reg_retransmit(nb_client *c, const nb_addr *peer, nb_coap_req_id id, unsigned n,
                       nb_time_ms next_ms, nb_time_ms now);
/* An ICMP error says nothing listens at peer: logged once for the request in flight. */
void nb_reg_unreachable(nb_client *c, const nb_addr *peer, const char *reason);
/* The Server object's value of a resource for account a, or fallback. */
int64_t nb_reg_server_int(nb_client *c, const nb_account *a, uint16_t res, int64_t fallback);

/* dm.c */
void nb_dm_handle(void *user, nb_coap_exchange *ex, const nb_addr *peer, const nb_coap_msg *req,
                  nb_time_ms now);
/* Reads every readable value under p (any level) into out; 4.04 style errors. */
nb_err nb_dm_read_path(nb_client *c, const nb_path *p, nb_records *out, nb_time_ms now);
/* Encodes records for path base in cf (NB_COAP_CF_NONE: choose) into out; *cf_used set. */
/* Content-Format 18 (signed SenML CBOR) needs a, the account the body goes to: signed with its
 * key (4.06 in *code when it has none). */
nb_err nb_dm_encode(nb_client *c, const nb_account *a, const nb_path *base, const nb_records *recs,
                    int cf, int *cf_used, nb_bytes *out, uint8_t *code);
/* Whether server ssid may do `right` (NB_ACL_* bit) on /o/i (i = 65535: object, for Create).
 * NB_ACL_ANY (Discover needs no right, Core 7.3.2): the server has an access right at all. */
bool nb_dm_acl_allows(nb_client *c, uint16_t ssid, uint16_t obj, uint16_t inst, unsigned right);
enum { NB_ACL_ANY = 0, NB_ACL_R = 1, NB_ACL_W = 2, NB_ACL_E = 4, NB_ACL_D = 8, NB_ACL_C = 16 };
/* Reads p as server ssid sees it (object level: only instances it may read; 0: no filter). */
nb_err nb_dm_read_as(nb_client *c, uint16_t ssid, const nb_path *p, nb_records *out,
                     nb_time_ms now);

/* bootstrap.c */
/* The bootstrap-server Security instance, when there is one. */
bool nb_bs_account(nb_client *c, uint16_t *sec_inst, nb_addr *addr);
/* Client-initiated bootstrap (Bootstrap-Request to the bootstrap account). */
nb_err nb_bs_start(nb_client *c, nb_time_ms now);
/* Bootstrap-Request Trigger (Server object resource 9, executed by a management server): a
 * client-initiated bootstrap starts at the next tick, once the Execute is answered.
 * NB_ERR_NOT_FOUND without a bootstrap account. */
nb_err nb_bs_trigger(nb_client *c, nb_time_ms now);
/* Serves a request of the bootstrap server; true when the peer is the bootstrap server. */
bool nb_bs_handle(nb_client *c, nb_coap_exchange *ex, const nb_addr *peer, const nb_coap_msg *req,
                  nb_time_ms now);
void nb_bs_tick(nb_client *c, nb_time_ms now);
nb_time_ms nb_bs_deadline(const nb_client *c);
/* Resolves the bootstrap account's server into c->bs_addr (c->bs_known: there is one). */
void nb_bs_refresh_peer(nb_client *c);
/* Builds accounts from objects 0/1 and starts registering (after bootstrap or at start). */
nb_err nb_client_rebuild_accounts(nb_client *c, bool defer_registration, nb_time_ms now);

/* signed.c: signed payloads (COSE_Sign1, Content-Format 18; docs/client.md). */
/* The private key Security instance sec_inst signs with: /0/x/5 when its mode is RPK or X.509,
 * else NULL (PSK and NoSec have nothing to sign with). */
const nb_value *nb_sig_key(nb_client *c, uint16_t sec_inst);
/* A request body to decode: the request's own, or the payload inside its COSE_Sign1. */
typedef struct {
  int cf;
  const uint8_t *data;
  size_t len;
  const uint8_t *cose; /* the signed body (NULL when not signed) */
  size_t cose_len;
  nb_cose_withheld withheld[NB_COSE_SECRETS_MAX]; /* secrets beside the signed payload */
  size_t nwithheld;
} nb_sig_body;
/* Fills out with req's body. A signed one (Content-Format 18) must verify with the key peer
 * authenticated with, name this endpoint when it names one (sub), hold a format the client
 * decodes and, from the bootstrap server (bootstrap), carry the bootstrap's ID (cti) and the
 * secrets it withholds, each matching its signed digest (none outside a bootstrap).
 * 0, or the code to answer (4.00). */
uint8_t nb_sig_unwrap(nb_client *c, const nb_addr *peer, const nb_coap_msg *req, bool bootstrap,
                      nb_sig_body *out);
/* Completes recs, decoded from a signed body b written at base: a secret in the clear in the
 * signed payload is refused (it would end up in the evidence), the withheld secrets are added
 * (each a secret resource under base). 0, or 4.00 with recs to be dropped. */
uint8_t nb_sig_records(const nb_sig_body *b, const nb_path *base, nb_records *recs);
/* A new bootstrap: the next signed write from the bootstrap server sets its ID. */
void nb_sig_bootstrap_reset(nb_client *c);
/* Appends COSE_Sign1(inner, SenML CBOR) signed with sec_inst's key to out: iss = endpoint,
 * iat when the time is known, cti when cti_len > 0. NB_ERR_UNSUPPORTED without a key. */
nb_err nb_sig_wrap(nb_client *c, uint16_t sec_inst, const uint8_t *cti, size_t cti_len,
                   const uint8_t *inner, size_t len, nb_bytes *out);
/* Hands a signed payload to the configured evidence hook, without the secrets it carried
 * beside its signature (nb_cose_strip). */
void nb_sig_evidence(nb_client *c, const char *kind, const nb_path *p, const uint8_t *cose,
                     size_t len);

/* objects.c: counts one datagram out (tx) or in for Connectivity Statistics. */
void nb_obj_count(nb_client *c, bool tx, size_t len);

/* firmware.c's entry points, set by nb_client_add_firmware: through them, a device that never
 * adds object 5 links none of the firmware code. */
typedef struct nb_fw_hooks {
  /* download deadlines and the deferred install */
  void (*tick)(nb_client *c, nb_time_ms now);
  nb_time_ms (*deadline)(const nb_client *c);
  /* True while a Package URI download is in flight from peer (its answers must get in). */
  bool (*download_peer)(const nb_client *c, const nb_addr *peer);
  /* Whether req is a Write of the firmware package (/5/0/0) whose Block1 blocks firmware.c
   * streams to storage itself (an nb_coap_block1_stream_fn), and the handler of each block. */
  bool (*streams)(void *user, const nb_addr *peer, const nb_coap_msg *req);
  void (*push_block)(nb_client *c, nb_coap_exchange *ex, const nb_addr *peer,
                     const nb_coap_msg *req, nb_time_ms now);
} nb_fw_hooks;

/* queue.c: queue mode (binding UQ / Q) per server account. The client sleeps once nothing was
 * exchanged with the server for the queue timeout; asleep, that server's datagrams are dropped
 * (as a radio that is off would), notifications are held (one per observation, sent with the
 * latest values) and the first thing sent is an Update, after whose answer they go. */
bool nb_q_enabled(const nb_account *a);
/* A datagram went to or came from peer at c->now. */
void nb_q_io(nb_client *c, const nb_addr *peer);
/* True when peer is a server account that is asleep (its datagram is dropped). */
bool nb_q_asleep_peer(nb_client *c, const nb_addr *peer);
void nb_q_tick(nb_client *c, nb_account *a, nb_time_ms now);
nb_time_ms nb_q_deadline(const nb_client *c, const nb_account *a);
/* A notification for a is due: true when it must wait (it wakes a sleeping account). */
bool nb_q_hold(nb_client *c, nb_account *a, nb_time_ms now);
/* Wakes a sleeping account by sending an Update; no-op when awake. */
void nb_q_wake(nb_client *c, nb_account *a, nb_time_ms now);

/* reporting.c */
/* Sends the notifications held for ssid while it slept (after the wake-up Update). */
void nb_rep_flush(nb_client *c, uint16_t ssid, nb_time_ms now);
/* Starts an observation on an exchange of a Read/Read-Composite (before answering). */
nb_err nb_rep_observe(nb_client *c, nb_account *a, nb_coap_exchange *ex, const nb_path *paths,
                      size_t n, bool composite, int cf, nb_time_ms now, nb_obs **out);
void nb_rep_answered(nb_obs *o, const nb_records *recs, nb_time_ms now);
void nb_rep_changed(nb_client *c, const nb_path *p, nb_time_ms now);
void nb_rep_tick(nb_client *c, nb_time_ms now);
nb_time_ms nb_rep_deadline(const nb_client *c);
void nb_rep_drop_server(nb_client *c, uint16_t ssid);
void nb_rep_free_all(nb_client *c);
/* Effective attributes at p for ssid: Server defaults, then object -> instance -> resource. */
void nb_rep_effective_attrs(nb_client *c, uint16_t ssid, const nb_path *p, nb_attrs *out);
/* The attributes stored at exactly p for ssid (NULL when none). */
nb_attrs *nb_rep_attrs_at(nb_client *c, uint16_t ssid, const nb_path *p, bool create);

#endif
