/* The server's persistence interface: registrations, observations, per-endpoint security
 * credentials, the audit log and the evidence of signed device data, as plain records and a
 * table of operations. The engine and the shells see only this; backends (SQLite in
 * src/store/, and Redis) implement it. Owns no memory: each backend owns its handle, records
 * passed in are borrowed for the call. */
#ifndef NB_SERVER_STORE_H
#define NB_SERVER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"
#include "server/regparse.h"

#define NB_SERVER_REGID_MAX \
  24 /* 11 base64url characters (16 hex digits in stores written before) plus NUL */
/* PSK identity (up to 256 bytes, the TLS maximum), secure ID (hex) or X.509 subject, plus NUL:
 * an identity is never truncated, so two identities never compare equal by accident. */
#define NB_SERVER_IDENT_MAX 257
#define NB_SERVER_KEY_MAX 128   /* PSK key bytes, or RPK SubjectPublicKeyInfo DER */
#define NB_SERVER_PATHS_MAX 512 /* observation paths as text ("/3/0/9,/3/0/8") plus NUL */

/* How the peer of a datagram authenticated (the DTLS shell reports it; NoSec is NONE). */
typedef enum {
  NB_SERVER_ID_NONE = 0,
  NB_SERVER_ID_PSK,  /* value: PSK identity */
  NB_SERVER_ID_RPK,  /* value: secure ID of the raw public key (hex) */
  NB_SERVER_ID_X509, /* value: certificate subject (the CN) */
} nb_server_id_kind;

typedef struct {
  nb_server_id_kind kind;
  char value[NB_SERVER_IDENT_MAX];
  /* RPK and X.509: the public key (SubjectPublicKeyInfo DER) the peer authenticated with,
   * which verifies what it signs; not stored. */
  uint8_t key[NB_SERVER_KEY_MAX];
  size_t key_len;
} nb_server_identity;

/* Kind names "none", "psk", "rpk", "x509" and back (NB_ERR_INVAL when unknown). */
const char *nb_server_id_kind_name(nb_server_id_kind k);
nb_err nb_server_id_kind_parse(const char *name, nb_server_id_kind *out);

/* How a registration's device authenticated: the kind and the identity as text (PSK identity,
 * secure ID or subject; "" for NoSec), without the key (nb_server_identity has it per
 * datagram). value is borrowed like the strings of nb_server_reg_info. */
typedef struct {
  nb_server_id_kind kind;
  const char *value;
} nb_server_reg_identity;

/* A registration as stored and as shown to the API. Times are Unix milliseconds. The strings
 * (ep, sms, identity.value, links) are NUL-terminated and borrowed: an engine's record holds
 * them as long as the registration lives (and its view from nb_server_find or an event as long
 * as the registration does), a store's walk for the callback only. Kept short so a server holds
 * a million: only the text there is takes room. */
typedef struct {
  const char *ep; /* at most NB_SERVER_EP_MAX - 1 bytes */
  char reg_id[NB_SERVER_REGID_MAX];
  char version[NB_SERVER_VER_MAX];
  char binding[NB_SERVER_BINDING_MAX];
  const char *sms; /* MSISDN (at most NB_SERVER_SMS_MAX - 1 bytes), "" when none */
  bool queue;
  uint32_t lifetime; /* seconds */
  nb_addr addr;
  nb_server_reg_identity identity;
  int64_t registered_at, updated_at, expires_at;
  const char *links; /* object list (link-format) */
  size_t links_len;
  /* Content-Formats the object list's root link advertises (its ct), as listed; derived from
   * links (nb_server_reg_formats), so a backend stores nothing of them. */
  uint16_t formats[NB_SERVER_FORMATS_MAX];
  size_t format_count;
  /* The format the device last answered a request for values in (2.xx), chosen first for the
   * next one; NB_COAP_CF_NONE (-1) until one did. Stored. */
  int preferred_format;
  /* Restored from the store after a restart, of a DTLS device: its session went with the old
   * process, so nothing reaches it until it is heard from again (requests wait in its queue
   * meanwhile). Not stored. */
  bool restored_unheard;
} nb_server_reg_info;

/* An observation the server holds on a device (restored for listing; the device keeps it). */
typedef struct {
  char ep[NB_SERVER_EP_MAX];
  uint64_t id;
  uint8_t token[8];
  uint8_t token_len;
  bool composite;
  int format;
  char paths[NB_SERVER_PATHS_MAX];
  int64_t created_at;
} nb_server_obs_info;

/* The credential an endpoint must present. */
typedef struct {
  char ep[NB_SERVER_EP_MAX];
  nb_server_id_kind kind;
  char identity[NB_SERVER_IDENT_MAX]; /* PSK identity, RPK secure ID or X.509 subject */
  uint8_t key[NB_SERVER_KEY_MAX];     /* PSK key (secret) or RPK public key; unused for X.509 */
  size_t key_len;
} nb_server_sec_info;

/* One management operation (who, when, what, result). */
typedef struct {
  int64_t seq; /* its place in the log (set by the store; ascending), for paging */
  int64_t at;  /* Unix ms */
  char actor[64];
  char ep[NB_SERVER_EP_MAX];
  char op[24];
  char path[NB_SERVER_PATHS_MAX];
  char result[16]; /* CoAP code "2.05", or "timeout", "queued", ... */
} nb_server_audit_info;

/* A signed payload a device sent (COSE_Sign1 that verified with its DTLS key), kept as proof
 * of what it stated. */
#define NB_SERVER_KID_HEX_MAX 65 /* kid (up to 32 bytes) in hex plus NUL */
typedef struct {
  char ep[NB_SERVER_EP_MAX];
  int64_t seq;  /* its place in the store (set by the store; ascending), for paging */
  int64_t at;   /* Unix ms when the server received it */
  char kind[8]; /* "read" (Read, Read-Composite) or "notify" (Observe responses) */
  char path[NB_SERVER_PATHS_MAX];  /* the requested path(s), "/3/0/9,/3/0/8" */
  char kid[NB_SERVER_KID_HEX_MAX]; /* the signer's key ID (hex) */
  bool has_iat;
  int64_t iat;         /* Unix seconds the device signed at, when it said */
  const uint8_t *cose; /* the COSE_Sign1 bytes as received (borrowed) */
  size_t cose_len;
} nb_server_evidence_info;

typedef nb_err (*nb_server_reg_each_fn)(void *user, const nb_server_reg_info *r);
typedef nb_err (*nb_server_obs_each_fn)(void *user, const nb_server_obs_info *o);
typedef nb_err (*nb_server_sec_each_fn)(void *user, const nb_server_sec_info *s);
typedef nb_err (*nb_server_audit_each_fn)(void *user, const nb_server_audit_info *a);
typedef nb_err (*nb_server_evidence_each_fn)(void *user, const nb_server_evidence_info *e);
typedef nb_err (*nb_server_doc_each_fn)(void *user, const char *key, const char *json);

/* Operations of a backend; `self` is the backend handle. Every operation returns NB_OK, or
 * NB_ERR_NOT_FOUND for a missing key, or NB_ERR_IO for a backend failure. An each-callback
 * returning an error stops the walk and that error is returned. */
typedef struct {
  /* Registrations, keyed by endpoint name (put replaces). */
  nb_err (*reg_put)(void *self, const nb_server_reg_info *r);
  nb_err (*reg_del)(void *self, const char *ep);
  nb_err (*reg_each)(void *self, nb_server_reg_each_fn fn, void *user);
  /* Observations, keyed by (ep, id); deleting ep's observations with obs_del_ep. */
  nb_err (*obs_put)(void *self, const nb_server_obs_info *o);
  nb_err (*obs_del)(void *self, const char *ep, uint64_t id);
  nb_err (*obs_del_ep)(void *self, const char *ep);
  nb_err (*obs_each)(void *self, nb_server_obs_each_fn fn, void *user);
  /* Security credentials, keyed by endpoint name; lookup by (kind, identity) for DTLS. */
  nb_err (*sec_put)(void *self, const nb_server_sec_info *s);
  nb_err (*sec_get)(void *self, const char *ep, nb_server_sec_info *out);
  nb_err (*sec_find)(void *self, nb_server_id_kind kind, const char *identity,
                     nb_server_sec_info *out);
  nb_err (*sec_del)(void *self, const char *ep);
  nb_err (*sec_each)(void *self, nb_server_sec_each_fn fn, void *user);
  /* Audit log: append, and walk the newest `limit` entries older than `before` (a seq; 0 = from
   * the newest), newest first. */
  nb_err (*audit_add)(void *self, const nb_server_audit_info *a);
  nb_err (*audit_each)(void *self, int64_t before, size_t limit, nb_server_audit_each_fn fn,
                       void *user);
  /* Evidence of signed device data: append, keeping only the newest `keep` of e->ep (a
   * chatty device cannot fill the disk); walk ep's newest `limit` older than `before` (a seq;
   * 0 = from the newest), newest first. May be NULL in a backend without evidence (nothing is
   * kept then). */
  nb_err (*evidence_add)(void *self, const nb_server_evidence_info *e, size_t keep);
  nb_err (*evidence_each)(void *self, const char *ep, int64_t before, size_t limit,
                          nb_server_evidence_each_fn fn, void *user);
  /* Optional (NULL: none). A small write that shows whether the backend takes writes now
   * (server/store_health.c probes a failed store with it until it does). */
  nb_err (*probe)(void *self, int64_t now_unix_ms);
  /* Optional (NULL: none). What the backend said about its last failure, as a fixed
   * description without paths, keys or endpoint names ("database or disk is full"); "" when
   * none. Valid until the next operation. */
  const char *(*error_text)(void *self);
  /* Documents of the firmware service (server/fwupdate.h: images, campaigns, their devices'
   * progress): JSON text keyed by (kind, key), put replaces; doc_del removes the key, or with
   * prefix every key of kind that starts with it (NB_ERR_NOT_FOUND when nothing went);
   * doc_each walks a kind in key order. May be NULL in a backend without them (no firmware
   * service then). */
  nb_err (*doc_put)(void *self, const char *kind, const char *key, const char *json);
  nb_err (*doc_del)(void *self, const char *kind, const char *key, bool prefix);
  nb_err (*doc_each)(void *self, const char *kind, nb_server_doc_each_fn fn, void *user);
} nb_server_store_ops;

typedef struct {
  const nb_server_store_ops *ops;
  void *self;
} nb_server_store;

/* Whether an authenticated peer may use endpoint name `ep` given its credential (`sec`, NULL
 * when the store has none for ep): a NoSec peer only for an ep without a credential (and only
 * when allow_nosec), a secured peer only when the credential's kind and identity are its own. */
bool nb_server_identity_owns(const nb_server_identity *id, const nb_server_sec_info *sec,
                             bool allow_nosec);
/* The same for the identity a registration was made with. */
bool nb_server_reg_identity_owns(const nb_server_reg_identity *id, const nb_server_sec_info *sec,
                                 bool allow_nosec);
/* True when a datagram's peer (id, NULL for NoSec) is the identity that made a registration. */
bool nb_server_reg_identity_is(const nb_server_reg_identity *reg, const nb_server_identity *id);

/* Whether stored evidence holds a secret key in the clear: only an older version could have
 * kept one (a device's signed read of its Security object); a backend never hands it out. */
bool nb_server_evidence_has_secret(const void *cose, size_t len);

#endif
