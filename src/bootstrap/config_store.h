/* SQLite store of the bootstrap server: configs (per endpoint and the default, kept in their
 * JSON form), the credentials devices must present to the bootstrap server (out-of-band secure
 * IDs, PSKs, and fresh bootstrap-account keys not acknowledged yet), pending requests with the
 * operator's decisions and the evidence of signed bootstraps, so that the CLI and a running
 * server share them through the database file. Owns the connection. */
#ifndef NB_BOOTSTRAP_CONFIG_STORE_H
#define NB_BOOTSTRAP_CONFIG_STORE_H

#include <jansson.h>
#include <stdint.h>

#include "base/err.h"
#include "bootstrap/bootstrap.h"
#include "bootstrap/config.h"
#include "server/store.h"

typedef struct nb_bs_store nb_bs_store;

/* Opens or creates (":memory:" for a private database); tables live beside the server's. A new
 * file is created 0600; NB_ERR_PERM (logged) for one group or others may read or write. */
nb_err nb_bs_store_open(const char *path, nb_bs_store **out);
void nb_bs_store_close(nb_bs_store *st);
/* Opens an existing database read-only (for readers beside a running server, such as the
 * monitor's credential loader): nothing is created or written. NB_ERR_NOT_FOUND when the file
 * holds no bootstrap tables, NB_ERR_IO when it cannot be read. Only the *_each and *_get
 * readers may be used on it. */
nb_err nb_bs_store_open_readonly(const char *path, nb_bs_store **out);
/* The engine's source over this store (valid until close). */
nb_bs_source nb_bs_store_source(nb_bs_store *st);

/* Configs keyed by endpoint ("" = default); put replaces. */
nb_err nb_bs_store_config_put(nb_bs_store *st, const nb_bs_config *cfg);
nb_err nb_bs_store_config_get(nb_bs_store *st, const char *ep, nb_bs_config *out);
nb_err nb_bs_store_config_del(nb_bs_store *st, const char *ep);
nb_err nb_bs_store_config_each(nb_bs_store *st, nb_err (*fn)(void *, const nb_bs_config *),
                               void *user);

/* Device credentials towards the bootstrap server (kind RPK: identity = secure ID). */
nb_err nb_bs_store_cred_put(nb_bs_store *st, const nb_server_sec_info *c);
nb_err nb_bs_store_cred_del(nb_bs_store *st, const char *ep);
nb_err nb_bs_store_cred_each(nb_bs_store *st, nb_server_sec_each_fn fn, void *user);
/* The credential the operator expects from a device (its factory key, before its first
 * bootstrap): a raw public key by secure ID (kind RPK, identity = secure ID, no key) or a
 * PSK (kind PSK, identity and key). It replaces ep's credential and drops a fresh key still
 * pending for ep (the operator's word is the newest). NB_ERR_EXISTS when another endpoint
 * holds that identity or secure ID, current or pending (its name into owner), so that the
 * handshake's lookup by identity can only find one endpoint. */
nb_err nb_bs_store_expect_put(nb_bs_store *st, const nb_server_sec_info *c,
                              char owner[NB_BS_EP_MAX]);
/* Such credentials from what an operator gives (the REST API and the CLI take the same):
 * a secure ID (30 hex digits, or the QR code's "nb:sid:" + them), or a PSK identity (1 to 256
 * bytes of UTF-8 without control characters) with its key in hex (1 to 64 bytes). NB_ERR_SYNTAX
 * with why (a sentence) otherwise. out holds the key: wipe it after use. */
nb_err nb_bs_expected_secure_id(const char *ep, const char *text, nb_server_sec_info *out,
                                char *why, size_t cap);
nb_err nb_bs_expected_psk(const char *ep, const char *identity, const char *key_hex,
                          nb_server_sec_info *out, char *why, size_t cap);
/* Forgets ep's credential and a pending fresh key of it: the device is refused at the
 * handshake from then on. NB_ERR_NOT_FOUND when it had neither. */
nb_err nb_bs_store_expect_del(nb_bs_store *st, const char *ep);
/* Every endpoint with a credential or a pending fresh key, each once, by name. */
nb_err nb_bs_store_expected_each(nb_bs_store *st, nb_err (*fn)(void *, const char *ep), void *user);
/* ep's credentials as the API and `expect list` show them, never a key: {"endpoint", "kind":
 * "rpk" | "psk", "secureId" | "pskIdentity", and "pending": {"kind", "secureId" |
 * "pskIdentity"} while a fresh key waits for the device's acknowledgement}; NULL when ep has
 * none. */
json_t *nb_bs_store_expected_json(nb_bs_store *st, const char *ep);

/* The fresh bootstrap-account credential an endpoint has not acknowledged (at most one). */
nb_err nb_bs_store_cred_pending_put(nb_bs_store *st, const nb_bs_pending_cred *p);
nb_err nb_bs_store_cred_pending_get(nb_bs_store *st, const char *ep, nb_bs_pending_cred *out);
nb_err nb_bs_store_cred_pending_del(nb_bs_store *st, const char *ep);
/* Every pending credential (its `next` part), by endpoint. */
nb_err nb_bs_store_cred_pending_each(nb_bs_store *st, nb_server_sec_each_fn fn, void *user);

/* Pending requests, a mirror of the engine's that survives it (bs_host.c keeps it): the
 * server records them (put: decision NULL); an operator decides (decide: decision "approve" or
 * "reject"); the server takes decisions (take_decisions: each row is removed once fn returns
 * NB_OK, unless fn's events marked it otherwise meanwhile; one the engine does not know is
 * removed with a warning). A running server marks the requests an earlier run held "gone"
 * (their devices ask again) and those approved meanwhile "approved" (the device's next request
 * goes ahead): docs/security.md, flow step 4. */
nb_err nb_bs_store_pending_put(nb_bs_store *st, const char *ep, const char *peer, int64_t at);
nb_err nb_bs_store_pending_del(nb_bs_store *st, const char *ep);
/* Sets a row's decision column to state ("gone", "approved"); NB_ERR_NOT_FOUND without one. */
nb_err nb_bs_store_pending_mark(nb_bs_store *st, const char *ep, const char *state);
/* At an engine's start: the rows an earlier run left (it crashed or stopped with requests
 * waiting) go back into bs as restored requests (nb_bs_engine_restore_pending), marked "gone",
 * or "approved" when an operator approved meanwhile; under the auto policy (approve_policy
 * false), rows rejected meanwhile, or rows the engine refuses (no config any more, no room)
 * are removed. Both views, the engine's (REST) and the rows (CLI --db), then agree. */
nb_err nb_bs_store_restore_pending(nb_bs_store *st, nb_bs_engine *bs, bool approve_policy,
                                   nb_time_ms now);
nb_err nb_bs_store_pending_each(nb_bs_store *st,
                                nb_err (*fn)(void *, const char *ep, const char *peer, int64_t at,
                                             const char *decision),
                                void *user);
nb_err nb_bs_store_decide(nb_bs_store *st, const char *ep, bool approve);
nb_err nb_bs_store_take_decisions(nb_bs_store *st,
                                  nb_err (*fn)(void *, const char *ep, bool approve), void *user);

/* Evidence of signed bootstraps (the engine's source keeps it when one finishes): put adds one
 * message; each lists ep's, newest bootstrap first and in seq order within one. */
nb_err nb_bs_store_evidence_put(nb_bs_store *st, const nb_bs_evidence *ev);
nb_err nb_bs_store_evidence_each(nb_bs_store *st, const char *ep,
                                 nb_err (*fn)(void *, const nb_bs_evidence *), void *user);
/* The same list as the JSON the API and the CLI show: an array of {kind, seq, path, cti,
 * signer, at, cose (base64)}; *out is malloc'ed text. */
nb_err nb_bs_store_evidence_json(nb_bs_store *st, const char *ep, char **out);

#endif
