/* LwM2M bootstrap server engine, sans-I/O (LwM2M 1.1 Core 5.2, Transport 6.1): answers
 * Bootstrap-Request (POST /bs?ep=&pct=) and runs the configured sequence on the device
 * (Bootstrap-Discover, -Delete, -Write of Security/Server/Access Control, -Finish) with fresh
 * PSKs or P-256 key pairs per bootstrap installed in the management server's security store;
 * selective bootstrap (auto / operator approval); out-of-band validation of raw public keys and
 * device certificates by secure ID (certificates also by subject CN); signed bootstrap (pct=18:
 * COSE_Sign1 writes, the device's signed receipt, evidence kept). Owns one CoAP endpoint, one
 * session per endpoint being bootstrapped, one small record per request waiting for approval and
 * copies of its signing keys. */
#ifndef NB_BOOTSTRAP_BOOTSTRAP_H
#define NB_BOOTSTRAP_BOOTSTRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"
#include "base/rand.h"
#include "base/time.h"
#include "bootstrap/config.h"
#include "coap/endpoint.h"
#include "dtls/cred.h"
#include "lwm2m/model.h"
#include "server/store.h"

#define NB_BS_CTI_LEN 16 /* a signed bootstrap's ID (COSE cti), per sequence attempt */

/* One signed message of a successful signed bootstrap, kept as proof: each Bootstrap-Write the
 * bootstrap server signed and the device's receipt. Strings and bytes borrowed for the call. */
typedef struct {
  const char *ep;
  const char *cti;    /* hex of the bootstrap's cti */
  unsigned seq;       /* 0.. in the order sent (the receipt before a bootstrap-account write) */
  const char *kind;   /* "write" or "receipt" */
  const char *path;   /* "/0/1", "/1" */
  const char *signer; /* secure ID of the signing key (receipt: the device's identity value) */
  int64_t at;         /* Unix ms (engine time + unix_offset_ms) when sent or received */
  const uint8_t *cose;
  size_t cose_len;
} nb_bs_evidence;

#define NB_BS_PRIV_MAX 256 /* a pending RPK's private key (PKCS#8 DER, P-256: ~138 bytes) */

/* A fresh bootstrap-account credential written to a device that has not acknowledged it (yet):
 * the device holds either it or the credential it authenticated with (prev, same kind). */
typedef struct {
  nb_server_sec_info next;        /* next.ep: the endpoint it was issued to */
  char prev[NB_SERVER_IDENT_MAX]; /* identity the device authenticated with then */
  /* RPK: next's private key (secret), so that the same key can be written again; priv_len 0
   * when unknown (a row from a version that did not keep it). Unused for PSK (next.key). */
  uint8_t priv[NB_BS_PRIV_MAX];
  size_t priv_len;
} nb_bs_pending_cred;

/* Where configs and device credentials (towards the bootstrap server) come from. `self` is the
 * backend (config_store.h's SQLite store, or the caller's). NB_ERR_NOT_FOUND when absent. */
typedef struct {
  nb_err (*config_get)(void *self, const char *ep, nb_bs_config *out); /* "" = default */
  /* The credential a device must present to the bootstrap server: RPK kind with the expected
   * secure ID (out-of-band registration), or PSK identity and key. */
  nb_err (*cred_get)(void *self, const char *ep, nb_server_sec_info *out);
  /* By identity: a current credential, else a pending one's next (*pending true then; pending
   * may be NULL). */
  nb_err (*cred_find)(void *self, nb_server_id_kind kind, const char *identity,
                      nb_server_sec_info *out, bool *pending);
  /* Replacing a device's credential (fresh bootstrap-account keys); optional. */
  nb_err (*cred_put)(void *self, const nb_server_sec_info *c);
  nb_err (*cred_del)(void *self, const char *ep);
  /* At most one pending credential per endpoint (put replaces), kept beside its current one
   * from the moment the write goes out until the device acknowledges a write of it or
   * authenticates with it: next then replaces the current credential. A request with the
   * current one decides nothing (its session may predate the write): a later bootstrap writes
   * the same pending key again. Optional (without them the write is committed on
   * acknowledgement only). */
  nb_err (*cred_pending_put)(void *self, const nb_bs_pending_cred *p);
  nb_err (*cred_pending_get)(void *self, const char *ep, nb_bs_pending_cred *out);
  nb_err (*cred_pending_del)(void *self, const char *ep);
  /* Keeps the evidence of a signed bootstrap that finished (one call per message); optional. */
  nb_err (*evidence_put)(void *self, const nb_bs_evidence *ev);
  void *self;
} nb_bs_source;

typedef enum { NB_BS_POLICY_AUTO, NB_BS_POLICY_APPROVE } nb_bs_policy;

typedef enum {
  NB_BS_EV_REQUEST,  /* Bootstrap-Request received (ep, peer) */
  NB_BS_EV_PENDING,  /* waits for approval (policy approve) */
  NB_BS_EV_APPROVED, /* operator approved; the sequence starts */
  NB_BS_EV_REJECTED, /* operator rejected, or no config / identity mismatch (code: answer) */
  NB_BS_EV_FINISHED, /* Bootstrap-Finish answered 2.04 (code), or its answer lost and the device
                        registered with its new account (code 0: nb_bs_engine_registered) */
  NB_BS_EV_FAILED,   /* the device answered an error (code, step) or never answered (err) */
  NB_BS_EV_ALERT,    /* a DTLS peer's key was refused (secure_id) or bound to another ep */
  NB_BS_EV_EVICTED,  /* a default-config request or bootstrap made room for another (5.03) */
} nb_bs_event_type;

const char *nb_bs_event_name(nb_bs_event_type t); /* "BOOTSTRAP_REQUEST", ... */

typedef struct {
  nb_bs_event_type type;
  /* "" when unknown: an ALERT at the handshake of a raw public key, which names no endpoint
   * before its request (a certificate's ALERT carries its subject CN) */
  const char *ep;
  const nb_addr *peer; /* the device's address (ALERT at the handshake: the handshake's) */
  uint8_t code;        /* CoAP code answered by the device (FAILED) or to it (REJECTED) */
  nb_err err;          /* NB_ERR_TIMEOUT etc. for FAILED without a response */
  /* FAILED: "delete /0", "write /0/1", "finish", ...; ALERT: "handshake" (a key refused by the
   * verify hook) or "request" (an endpoint name its key may not ask for, answered 4.03) */
  const char *step;
  const char *secure_id; /* ALERT */
  unsigned attempt;      /* sequence attempt, from 1 */
  const char *cti;       /* FINISHED of a signed bootstrap: its cti (hex); else NULL */
  /* APPROVED of a request an earlier run held (nb_bs_engine_restore_pending): nothing starts
   * now, the device's next request goes ahead without waiting */
  bool deferred;
  nb_time_ms now;
} nb_bs_event;

typedef void (*nb_bs_listener_fn)(void *user, const nb_bs_event *ev);

/* Asynchronous installation in the management server's security store (a server reached over
 * HTTP): called just before Finish instead of dm_store with the device's new credential (kind
 * NONE: drop ep's old one, the device got a NoSec account). That device's sequence waits until
 * the backend calls nb_bs_engine_install_done with the same ticket; other devices proceed
 * meanwhile. Must not call back into the engine from inside; an error fails at once. */
typedef nb_err (*nb_bs_install_fn)(void *user, uint64_t ticket, const char *ep,
                                   const nb_server_sec_info *cred);

typedef struct {
  nb_coap_ep_config coap;
  nb_bs_policy policy;
  nb_bs_source source;      /* required */
  nb_server_store dm_store; /* management server's security store (ops NULL: not installed) */
  nb_bs_install_fn install; /* asynchronous alternative to dm_store (used when set) */
  void *install_user;
  nb_time_ms install_timeout; /* an install never completed fails the bootstrap; default 15000 */
  unsigned max_attempts;      /* whole-sequence attempts after a timeout; default 3 */
  nb_time_ms retry_backoff;   /* before attempt 2, doubled each time; default 10000 */
  bool require_identity;      /* secured peers only (NoSec Bootstrap-Requests refused); false */
  size_t max_sessions;        /* bootstraps running at once (5.03 beyond); 10000 */
  /* Requests waiting for approval that only the default config matched (anyone may send
   * those over NoSec): beyond this the oldest is evicted (5.03, NB_BS_EV_EVICTED); 1000.
   * Requests for an endpoint with its own config or from an authenticated peer are never
   * evicted nor refused for room (one per endpoint: the store bounds them). */
  size_t max_pending;
  const nb_model *model; /* NULL = built-ins (owned) */
  nb_random_fn random;   /* CoAP tokens/MIDs; keys always come from the CSPRNG */
  void *random_user;
  /* The bootstrap server's own P-256 private key (PEM or DER; its coaps credential key),
   * copied by nb_bs_engine_new: a Bootstrap-Request with pct=18 from a peer that authenticated
   * with a public key gets a signed session (COSE_Sign1 writes, then a signed receipt read
   * from the device before Finish). Unset: pct=18 falls back to unsigned SenML CBOR. */
  const uint8_t *sign_key;
  size_t sign_key_len;
  /* The private key of its X.509 certificate, when it has one (copied too): sessions of
   * devices that authenticated with a certificate are signed with it, the others with
   * sign_key. When only one of the two is set, it signs every signed session. */
  const uint8_t *sign_key_x509;
  size_t sign_key_x509_len;
  /* A device certificate whose key's secure ID nobody registered binds by its subject CN to
   * an endpoint with its own config; true: also to any endpoint when a default config exists. */
  bool x509_default_config;
  int64_t unix_offset_ms; /* Unix ms - engine ms, for iat and evidence times; 0 = unknown */
} nb_bs_engine_config;

void nb_bs_engine_config_default(nb_bs_engine_config *cfg);

typedef struct nb_bs_engine nb_bs_engine;

nb_err nb_bs_engine_new(const nb_bs_engine_config *cfg, nb_coap_send_fn send, void *send_user,
                        nb_bs_engine **out);
void nb_bs_engine_free(nb_bs_engine *bs);
nb_err nb_bs_engine_add_listener(nb_bs_engine *bs, nb_bs_listener_fn fn, void *user);
/* Removes the listener added with the same fn and user (no-op when absent). */
void nb_bs_engine_remove_listener(nb_bs_engine *bs, nb_bs_listener_fn fn, void *user);

/* One datagram from peer, who authenticated as id (NULL or kind NONE: NoSec). */
void nb_bs_engine_receive(nb_bs_engine *bs, const nb_addr *peer, const nb_server_identity *id,
                          const uint8_t *data, size_t len, nb_time_ms now);
void nb_bs_engine_tick(nb_bs_engine *bs, nb_time_ms now);
nb_time_ms nb_bs_engine_next_deadline(const nb_bs_engine *bs);
nb_coap_ep *nb_bs_engine_coap(nb_bs_engine *bs);

/* Completion of an asynchronous install: NB_OK resumes that device's sequence (Finish), an
 * error fails it (BOOTSTRAP_FAILED, step "install"). NB_ERR_NOT_FOUND when no sequence waits
 * on ticket any more (the device started over, timed out, or the engine gave up). */
nb_err nb_bs_engine_install_done(nb_bs_engine *bs, uint64_t ticket, nb_err result, nb_time_ms now);

/* Operator decisions on a pending request (NB_ERR_NOT_FOUND when ep is not pending). On a
 * request an earlier run held (restored below), whose device is not waiting any more: approve
 * records the approval for the device's next request (APPROVED with deferred; it then goes
 * ahead at once, its APPROVED event not deferred), reject drops it (REJECTED with code 0; the
 * device's next request waits for a decision again). */
nb_err nb_bs_engine_approve(nb_bs_engine *bs, const char *ep, nb_time_ms now);
nb_err nb_bs_engine_reject(nb_bs_engine *bs, const char *ep, nb_time_ms now);
/* Pending endpoints (names copied into eps[0..cap)); returns how many are pending. */
size_t nb_bs_engine_pending(const nb_bs_engine *bs, char (*eps)[NB_BS_EP_MAX], size_t cap);
/* Calls fn with the name of every pending endpoint (the REST API pages them). */
void nb_bs_engine_pending_each(const nb_bs_engine *bs, void (*fn)(void *user, const char *ep),
                               void *user);
/* A request an earlier run of the engine held when it stopped (its host kept it: a crash, a
 * restart), listed as pending again with no request to answer: its device asks again later.
 * approved: the operator approved it meanwhile (its next request goes ahead). No event is
 * emitted. Bounded like any pending request (max_pending when only the default config
 * matches). NB_ERR_NOT_FOUND when no config matches ep any more, NB_ERR_BUSY when there is no
 * room, NB_ERR_EXISTS when ep is pending already. */
nb_err nb_bs_engine_restore_pending(nb_bs_engine *bs, const char *ep, const nb_addr *peer,
                                    bool approved, nb_time_ms now);
typedef enum {
  NB_BS_PEND_NONE,     /* not pending */
  NB_BS_PEND_WAITING,  /* its request waits for the operator */
  NB_BS_PEND_GONE,     /* restored, undecided: its request went with an earlier run */
  NB_BS_PEND_APPROVED, /* restored and approved: its next request goes ahead */
} nb_bs_pend_state;
nb_bs_pend_state nb_bs_engine_pending_state(const nb_bs_engine *bs, const char *ep);

/* The management server accepted a Register of ep from a peer authenticated as id (its host
 * wires the server's REGISTRATION events here: `niobium server --with-bootstrap`). A bootstrap
 * of ep whose Finish went out and is unanswered (its answer lost, still retransmitted, or timed
 * out and waiting EXCHANGE_LIFETIME for this) is finished (NB_BS_EV_FINISHED with code 0): a
 * client registers with the accounts it was given only once it took Finish, and id must own
 * the credential this bootstrap installed (any NoSec peer for a NoSec account). NB_ERR_NOT_FOUND
 * when no such bootstrap runs for ep, NB_ERR_DTLS_PEER_REJECTED when id is not the device's
 * new credential. Without it an unanswered Finish ends as a silent step does (retry, then
 * FAILED). */
nb_err nb_bs_engine_registered(nb_bs_engine *bs, const char *ep, const nb_server_reg_identity *id,
                               nb_time_ms now);

/* Server-initiated bootstrap: runs ep's sequence on the device at peer now (no request). */
nb_err nb_bs_engine_start(nb_bs_engine *bs, const char *ep, const nb_addr *peer, int format,
                          nb_time_ms now);
/* True while a sequence runs for ep. */
bool nb_bs_engine_busy(const nb_bs_engine *bs, const char *ep);

/* Verify hook for the bootstrap server's DTLS credentials (nb_dtls_creds_set_verify with
 * user = the engine): accepts a raw public key or a certificate (whose chain the credentials'
 * trust anchors already verified) when its key's secure ID is registered for some endpoint
 * (cred_find: current or pending), a certificate also when its subject CN names an endpoint
 * with a config (see x509_default_config) and no registered credential; else raises
 * NB_BS_EV_ALERT and refuses the handshake. Which endpoint the peer may ask for is decided at
 * the Bootstrap-Request (4.03 and an alert on a mismatch), never here (the handshake has not
 * proven possession of the key yet). */
nb_err nb_bs_engine_verify_peer(void *engine, const nb_dtls_peer *peer, const uint8_t *raw,
                                size_t raw_len);
/* PSK lookup hook for the same credentials (nb_dtls_creds_set_psk_lookup, user = engine);
 * finds current and pending keys (a fresh PSK comes with a fresh identity, so both resolve). */
nb_err nb_bs_engine_psk_lookup(void *engine, const uint8_t *identity, size_t identity_len,
                               uint8_t *key, size_t cap, size_t *key_len);

typedef struct {
  uint64_t requests, pending, approved, rejected, finished, failed, alerts, retries;
  uint64_t overloaded; /* Bootstrap-Requests answered 5.03 (max_sessions reached) */
  uint64_t evicted;    /* default-config requests/bootstraps evicted to make room */
  uint64_t sessions;   /* now: running, waiting to retry or installing */
  uint64_t waiting;    /* now: requests pending approval */
} nb_bs_engine_stats;
void nb_bs_engine_get_stats(const nb_bs_engine *bs, nb_bs_engine_stats *out);

#endif
