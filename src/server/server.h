/* LwM2M server engine, sans-I/O: the registration interface (/rd: Register, Update,
 * De-register, expiry), device-management requests and observations issued by the API, queue
 * mode for sleeping clients, and Send (/dp). It owns one CoAP endpoint (nb_coap_ep), every
 * registration (hash maps by endpoint name, registration ID and address), pending requests and
 * timers. The shell feeds it (datagram, peer, peer identity, now) and ticks it; datagrams go
 * out through the send callback. Persistence goes through an optional nb_server_store. */
#ifndef NB_SERVER_SERVER_H
#define NB_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"
#include "base/rand.h"
#include "base/time.h"
#include "coap/block.h"
#include "coap/endpoint.h"
#include "lwm2m/attr.h"
#include "lwm2m/format.h"
#include "lwm2m/model.h"
#include "lwm2m/path.h"
#include "lwm2m/value.h"
#include "server/regparse.h"
#include "server/store.h"

typedef struct nb_server nb_server;

#define NB_SERVER_EVIDENCE_MAX 1000     /* default of nb_server_config.evidence_max */
#define NB_SERVER_LIFETIME_MAX 2592000u /* default of nb_server_config.max_lifetime: 30 days */
#define NB_SERVER_NOSEC_MAX 1000        /* default of nb_server_config.max_nosec */
#define NB_SERVER_NOSEC_RETRY 60        /* default of nb_server_config.nosec_retry_after, s */
#define NB_SERVER_STORE_RETRY 5000      /* default of nb_server_config.store_retry, ms */
#define NB_SERVER_STORE_RETRY_AFTER 30  /* default of nb_server_config.store_retry_after, s */
#define NB_SERVER_GONE_MAX 65536 /* ended registrations whose stored rows wait to be deleted */

/* A signed payload (COSE_Sign1, Content-Format 18) a device answered with. It is opened with
 * the public key the device authenticated its DTLS session with, and must name the
 * registration's endpoint as issuer; only then (valid) are its inner records reported. */
typedef struct {
  bool valid;                      /* the signature verified and the issuer is the endpoint */
  char kid[NB_SERVER_KID_HEX_MAX]; /* the signer's key ID as the message states it (hex) */
  bool has_iat;
  int64_t iat;         /* Unix seconds the device signed at, when it said */
  int content_format;  /* the inner payload's Content-Format (-1 when unknown) */
  const uint8_t *cose; /* the COSE_Sign1 bytes as received (borrowed) */
  size_t cose_len;
} nb_server_signature;

typedef struct {
  nb_coap_ep_config coap;     /* the CoAP layer (dedup_max raised for fleets by default) */
  nb_time_ms expiry_grace;    /* added to a lifetime before a registration expires; 15000 */
  nb_time_ms request_timeout; /* default timeout of a device request; 30000 */
  nb_time_ms awake_time;      /* a queue-mode client is awake this long after it spoke; 93000 */
  size_t queue_max;           /* queued requests per sleeping client; 32 */
  nb_time_ms queue_ttl;       /* a queued request is dropped after this long; 3600000 */
  int64_t clock_offset;       /* added to `now` to get Unix ms for stored times; 0 */
  bool allow_nosec;           /* accept unauthenticated peers for endpoints without
                                 credentials; true */
  const nb_model *model;      /* definitions that type values; NULL = built-ins (owned) */
  nb_server_store store;      /* ops NULL = no persistence */
  size_t evidence_max;        /* verified signed payloads kept per endpoint; 1000
                                 (NB_SERVER_EVIDENCE_MAX) */
  nb_random_fn random;        /* registration IDs; default nb_random_system */
  void *random_user;
  /* What unauthenticated peers can make the server keep (docs/security.md, "Unauthenticated
   * registrations"): */
  nb_server_reg_limits reg_limits; /* object list of a Register or Update: 8 KiB, 1024 links, 8
                                      attributes of 128 bytes a link (nb_server_reg_limits_default);
                                      a larger body gets 4.13 with Size1 before it is even
                                      reassembled, too many links or attributes 4.00 */
  uint32_t max_lifetime;      /* seconds; a Register or Update whose lifetime (lt, or the default
                                 86400) is above it is refused 4.00; NB_SERVER_LIFETIME_MAX,
                                 0 = no maximum */
  size_t max_nosec;           /* NoSec registrations held at once; a Register of a new NoSec
                                 endpoint beyond it gets 5.03 with Max-Age nosec_retry_after
                                 (Updates and re-registrations of a registered endpoint always
                                 pass; authenticated devices never count); NB_SERVER_NOSEC_MAX,
                                 0 = no cap */
  uint32_t nosec_retry_after; /* seconds; NB_SERVER_NOSEC_RETRY */
  bool nosec_pin_address;     /* a NoSec registration's Register, Update or De-register from
                                 another address is refused 4.03 (its address stays what it
                                 registered from until it expires); false */
  uint64_t first_request_id;  /* the first request/observation ID (0: 1); a process that
                                 restarts gives one above those it gave before, so an ID a
                                 client kept never names another request (niobium server:
                                 from the clock) */
  /* When the store fails (docs/server.md, "Storage faults"): a Register it did not take is
   * refused 5.03 with Max-Age store_retry_after and not kept (never acknowledged unstored); an
   * Update, a De-register and the format a device answered in are acknowledged (the
   * registration was stored; its device must not lose it to a full disk), an observation goes
   * on, and what the store did not take (a change, a new observation, the deletion of an ended
   * registration) is written again every store_retry until it does. */
  nb_time_ms store_retry;     /* ms; NB_SERVER_STORE_RETRY */
  uint32_t store_retry_after; /* seconds; NB_SERVER_STORE_RETRY_AFTER */
} nb_server_config;

void nb_server_config_default(nb_server_config *cfg);

/* ---- events ---- */

typedef enum {
  NB_SEV_REGISTRATION,       /* reg; replaced=true when it replaced the endpoint's earlier one */
  NB_SEV_UPDATED,            /* reg (already updated) */
  NB_SEV_DEREGISTRATION,     /* reg (about to be freed) */
  NB_SEV_EXPIRED,            /* reg (about to be freed) */
  NB_SEV_AWAKE,              /* queue-mode client reachable */
  NB_SEV_SLEEPING,           /* queue-mode client's awake time over */
  NB_SEV_NOTIFICATION,       /* obs_id, path (first observed path), records, times, seq */
  NB_SEV_SEND,               /* records, times (from /dp) */
  NB_SEV_SIGNATURE_REJECTED, /* obs_id (the request's or observation's id), path (the first
                                requested), signature (valid false), err: a signed answer was
                                refused and none of its data reported */
  NB_SEV_ADDRESS_CHANGED,    /* reg, old_addr, new_addr, operation, refused: a Register of a
                                registered endpoint, an Update or a De-register came from another
                                address than the registration's (before the REGISTRATION, UPDATED
                                or DEREGISTRATION event it leads to); refused when
                                nosec_pin_address turned it away */
} nb_server_event_type;

typedef struct {
  nb_server_event_type type;
  const nb_server_reg_info *reg;
  bool replaced;
  uint64_t obs_id;
  const nb_path *path;
  uint32_t seq; /* notification counter of this observation, from 1 */
  int format;
  const nb_records *records;
  const nb_times *times;
  const nb_server_signature *signature; /* NOTIFICATION of a signed observation; NULL otherwise */
  nb_err err;                           /* SIGNATURE_REJECTED: why */
  const nb_addr *old_addr;              /* ADDRESS_CHANGED: the registration's address */
  const nb_addr *new_addr;              /* ADDRESS_CHANGED: where the message came from */
  const char *operation;                /* ADDRESS_CHANGED: "register", "update", "deregister" */
  bool refused;                         /* ADDRESS_CHANGED: refused (nosec_pin_address) */
  nb_time_ms now;
} nb_server_event;

typedef void (*nb_server_listener_fn)(void *user, const nb_server_event *ev);
#define NB_SERVER_MAX_LISTENERS 8
/* NB_ERR_BUSY when NB_SERVER_MAX_LISTENERS are installed. */
nb_err nb_server_add_listener(nb_server *s, nb_server_listener_fn fn, void *user);
void nb_server_remove_listener(nb_server *s, nb_server_listener_fn fn, void *user);

/* ---- lifecycle and I/O ---- */

nb_err nb_server_new(const nb_server_config *cfg, nb_coap_send_fn send, void *send_user,
                     nb_server **out);
/* Frees everything; pending request callbacks are not called. */
void nb_server_free(nb_server *s);
/* One datagram from `peer`, who authenticated as `id` (NULL or kind NONE: NoSec). */
void nb_server_receive(nb_server *s, const nb_addr *peer, const nb_server_identity *id,
                       const uint8_t *data, size_t len, nb_time_ms now);
void nb_server_tick(nb_server *s, nb_time_ms now);
nb_time_ms nb_server_next_deadline(const nb_server *s);
nb_coap_ep *nb_server_coap(nb_server *s);
/* The `now` of the call into the engine being processed (the last one between calls): for
 * result callbacks, which carry no time. */
nb_time_ms nb_server_now(const nb_server *s);
const nb_model *nb_server_model(const nb_server *s);

/* Re-creates registrations saved in the store (those not expired at `now`), then the
 * observations held on them, with their ids and tokens: the devices keep notifying and the
 * listeners get NOTIFICATION events (there is no result callback any more); nb_server_cancel
 * works on them. Nothing is sent. A DTLS device's registration comes back restored_unheard
 * (its session died with the old process): requests for it are queued until it is heard from
 * (its Register, Update or any datagram of its identity from its address). *count
 * (registrations) may be NULL. */
nb_err nb_server_restore(nb_server *s, nb_time_ms now, size_t *count);

/* The DTLS session of `peer` (authenticated as id) survived the restart (dtls/sessfile.h): its
 * registration, restored unheard, is reachable at once and what was queued for it goes out.
 * False when no restored registration of that identity is at that address. */
bool nb_server_session_kept(nb_server *s, const nb_addr *peer, const nb_server_identity *id,
                            nb_time_ms now);

/* ---- registrations ---- */

const nb_server_reg_info *nb_server_find(const nb_server *s, const char *ep);
size_t nb_server_count(const nb_server *s);
/* Visits every registration (the callback must not register or remove any). */
void nb_server_each(const nb_server *s, void (*fn)(void *user, const nb_server_reg_info *r),
                    void *user);
/* Queue mode state of a registration: true when it can be reached now. */
bool nb_server_is_awake(const nb_server *s, const char *ep);

/* ---- device management ---- */

typedef enum {
  NB_SOP_READ,
  NB_SOP_DISCOVER,
  NB_SOP_WRITE_REPLACE,
  NB_SOP_WRITE_PARTIAL,
  NB_SOP_WRITE_ATTRS,
  NB_SOP_EXECUTE,
  NB_SOP_CREATE,
  NB_SOP_DELETE,
  NB_SOP_READ_COMPOSITE,
  NB_SOP_WRITE_COMPOSITE,
  NB_SOP_OBSERVE,
  NB_SOP_OBSERVE_COMPOSITE,
} nb_server_op;

/* "read", "discover", "write", "write-partial", "write-attributes", "execute", "create",
 * "delete", "read-composite", "write-composite", "observe", "observe-composite". */
const char *nb_server_op_name(nb_server_op op);

typedef struct {
  nb_server_op op;
  nb_path path;         /* target of single-path operations (Create: the object) */
  const nb_path *paths; /* Read-/Observe-Composite targets */
  size_t path_count;
  bool has_format; /* false: the engine chooses from what the device advertised (the root
                      link's ct), its version and what it answered before, and retries once in
                      the next format it supports on 4.06 or 4.15 (docs/server.md, "Content
                      formats"); true: `format`, never changed */
  bool sign;       /* Read, Observe and their Composite forms: ask for signed data (Accept: 18, a
                      COSE_Sign1 of SenML CBOR); has_format must then be false or SenML CBOR */
  int format;      /* the Content-Format asked for when has_format */
  const nb_records *records; /* Write, Create, Write-Composite (encoded at submission) */
  const nb_attrs *attrs;     /* Write-Attributes */
  const char *args;          /* Execute arguments (may be NULL) */
  size_t args_len;
  nb_time_ms timeout; /* 0 = config default; counted from when the request is sent */
  const char *actor;  /* who asked, for the audit log (NULL = "api") */
  /* One block of an opaque Write-Replace the caller slices itself (a firmware image pushed to
   * /5/0/0 from a file, never whole in memory): op NB_SOP_WRITE_REPLACE with block1 set sends
   * block_data (block_len bytes) as application/octet-stream with this Block1 option, and Size1
   * = block_total on block 0; records are unused. The device's 2.31 (with its Block1) or 4.13
   * (with its Size1 or smaller Block1) comes back as the result, to act on. */
  const nb_coap_block *block1;
  const uint8_t *block_data;
  size_t block_len;
  size_t block_total;
  bool quiet; /* kept out of the audit log (each block of an upload; its caller logs the whole) */
} nb_server_request;

/* Outcome of a request, or one notification of an observation. Borrowed during the callback. */
typedef struct {
  nb_err err;                /* NB_OK: a response came (see code); NB_ERR_TIMEOUT, NB_ERR_CANCELLED
                                (cancelled, deregistered or replaced), NB_ERR_RESET, NB_ERR_FMT_MALFORMED
                                (a 2.05 payload that does not decode), NB_ERR_BUSY/NOMEM;
                                a signed answer that is refused: NB_ERR_SIG_NO_KEY (PSK or
                                NoSec device), NB_ERR_SIG_INVALID (malformed or does not verify
                                with the device's key), NB_ERR_SIG_ISSUER (iss is not the
                                endpoint), and then no records */
  uint8_t code;              /* CoAP response code when err is NB_OK */
  int format;                /* Content-Format of the payload, NB_COAP_CF_NONE when none */
  const nb_records *records; /* decoded values (Read, Observe, Read-Composite) */
  const nb_times *times;
  const char *links; /* Discover: link-format text (NUL-terminated) */
  size_t links_len;
  const char *location; /* Create: "/o/i" from Location-Path, "" otherwise */
  bool notification;    /* a notification after the first response */
  uint32_t seq;
  const nb_server_signature *signature; /* a signed answer (Content-Format 18), else NULL */
  bool has_block1;                      /* the answer's Block1 option (block uploads) */
  nb_coap_block block1;
  uint32_t size1; /* the answer's Size1 (a 4.13's largest body the device takes), 0 = none */
  bool unsent;    /* it ended without being sent: expired in a sleeping client's queue
                     (NB_ERR_TIMEOUT after queue_ttl) or cancelled there (NB_ERR_CANCELLED) */
} nb_server_result;

/* last=true on the final call for this id (a request always ends with one final call; an
 * observation runs per notification until cancelled or failed). */
typedef void (*nb_server_result_fn)(void *user, uint64_t id, const nb_server_result *res,
                                    bool last);

/* Submits a request to endpoint `ep`. NB_ERR_NOT_FOUND when not registered, NB_ERR_INVAL for a
 * request that makes no sense (no records for a Write, composite op without paths, a format
 * that cannot carry it), NB_ERR_RANGE for an Observe-Composite whose path list is longer than
 * NB_SERVER_PATHS_MAX can keep across a restart, NB_ERR_UNSUPPORTED for a composite op to a 1.0
 * client, NB_ERR_BUSY when a sleeping client's queue is full. A sleeping queue-mode client's
 * request, or one for a DTLS device restored after a restart and not heard from since, is queued
 * (*queued = true) and sent when it next registers or updates (or is otherwise heard from). cb is
 * called later, never from inside this call. *id (never 0) identifies it for nb_server_cancel. */
nb_err nb_server_send_request(nb_server *s, const char *ep, const nb_server_request *in,
                              nb_server_result_fn cb, void *user, nb_time_ms now, uint64_t *id,
                              bool *queued);
/* Cancels a pending request, queued request or observation (active: an Observe=1 GET/FETCH
 * tells the device; passive: the next notification is answered with RST). cb runs with
 * NB_ERR_CANCELLED. NB_ERR_NOT_FOUND for an unknown or finished id. */
nb_err nb_server_cancel(nb_server *s, uint64_t id, bool active, nb_time_ms now);

/* Addition: requests to /NAME/... on the server's CoAP endpoint (NAME not "rd", "dp" or
 * ".well-known") go to fn, which answers ex (now or later). reg is the registration the peer
 * holds (a datagram from its address, of its DTLS identity), NULL for anyone else: fn decides
 * whom it serves. One resource; NB_ERR_BUSY when another is set. fn NULL removes it. */
typedef void (*nb_server_resource_fn)(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                                      const nb_coap_msg *req, const nb_server_reg_info *reg,
                                      nb_time_ms now);
nb_err nb_server_set_resource(nb_server *s, const char *name, nb_server_resource_fn fn, void *user);
/* True while request id waits in a sleeping client's queue (not sent yet). */
bool nb_server_request_queued(const nb_server *s, uint64_t id);

/* Active observations of an endpoint (id, paths, composite), for the API. */
size_t nb_server_observations(const nb_server *s, const char *ep, nb_server_obs_info *out,
                              size_t cap);

typedef struct {
  uint64_t registrations, updates, deregistrations, expirations, rejected;
  uint64_t requests, queued, notifications, sends;
  uint64_t nosec_refused;   /* Registers refused 5.03: max_nosec reached */
  uint64_t address_changes; /* ADDRESS_CHANGED events, refused ones included */
  uint64_t store_refused;   /* Registers refused 5.03: the store could not keep or check them */
} nb_server_stats;

/* NoSec registrations held now (those max_nosec counts). */
size_t nb_server_nosec_count(const nb_server *s);
/* Registrations and observations whose last change the store did not take yet, and ended
 * registrations whose rows it kept (retried every store_retry). */
size_t nb_server_unsaved(const nb_server *s);
void nb_server_get_stats(const nb_server *s, nb_server_stats *out);

#endif
