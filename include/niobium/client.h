/* The Niobium LwM2M 1.1 client engine, the library device makers embed. Sans-I/O: it is fed
 * (peer, datagram, now) and ticks, and hands back datagrams through a callback plus the next
 * deadline; it never touches a socket or a clock. It owns one CoAP endpoint, the objects added
 * to it (Security 0, Server 1, Access Control 2 are created with it), the server accounts built
 * from objects 0 and 1 with their registrations, the attributes written by servers and the
 * observations. Values, paths and definitions are the types of lwm2m/ (value.h, path.h).
 *
 * Typical use:
 *   nb_client_config cfg; nb_client_config_default(&cfg);
 *   cfg.endpoint = "dev1"; cfg.send = my_sendto; cfg.send_user = sock;
 *   nb_client *c; nb_client_new(&cfg, &c);
 *   nb_client_add_device(c, &info);                  // object 3
 *   nb_client_add_server(c, &srv);                   // /0/x and /1/x
 *   nb_client_start(c, now);                         // registers with every server
 *   loop: nb_client_receive(c, peer, data, len, now) / nb_client_tick(c, now) at
 *         nb_client_next_deadline(c); nb_client_value_changed(c, &path, now) after a change. */
#ifndef NIOBIUM_CLIENT_H
#define NIOBIUM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/rand.h"
#include "base/time.h"
#include "coap/endpoint.h"
#include "lwm2m/model.h"
#include "lwm2m/path.h"
#include "niobium/config.h"
#include "niobium/object.h"
#if NB_CFG_DTLS
#include "dtls/session.h"
#else
/* A build without DTLS (NB_CFG_DTLS 0): the type is only named, never used. */
typedef struct nb_dtls_session_params nb_dtls_session_params;
#endif

typedef struct nb_client nb_client;

/* Raw datagram out, to a server. */
typedef void (*nb_client_send_fn)(void *user, const nb_addr *peer, const uint8_t *data, size_t len);

typedef enum {
  NB_CLIENT_EV_REGISTERED,   /* Register answered 2.01 */
  NB_CLIENT_EV_UPDATED,      /* Update answered 2.04 */
  NB_CLIENT_EV_REG_FAILED,   /* a Register/Update attempt failed (err says why) */
  NB_CLIENT_EV_GAVE_UP,      /* every registration retry sequence failed */
  NB_CLIENT_EV_DEREGISTERED, /* De-register done (or timed out: err) */
  NB_CLIENT_EV_REBOOT,       /* Execute /3/0/4 */
  NB_CLIENT_EV_FACTORY_RESET /* Execute /3/0/5 */
} nb_client_event;

typedef void (*nb_client_event_fn)(void *user, nb_client_event ev, uint16_t ssid, nb_err err,
                                   nb_time_ms now);

/* Resolves a server URI's host name (never a numeric address) for the given port. The engine
 * calls it when it builds accounts; a shell typically uses getaddrinfo. */
typedef nb_err (*nb_client_resolve_fn)(void *user, const char *host, uint16_t port, nb_addr *out);

/* Evidence of a signed exchange (non-repudiation, docs/client.md "Signed payloads"): a
 * COSE_Sign1 (Content-Format 18) the client accepted or produced. kind is "write" (a signed
 * Bootstrap-Write, Write, Create or Write-Composite it verified and applied; signed by the
 * server), "receipt" (its signed answer to a Bootstrap-Read), "read" (its signed answer to a
 * Read or Read-Composite) or "notify" (a signed notification or the answer that started the
 * observation). path is the request's target; cose is only valid during the call. It never
 * holds a secret key: the keys a signed write carried beside its signature are left out (their
 * signed digests stay; docs/cose.md "Secrets in signed writes"). */
typedef void (*nb_client_evidence_fn)(void *user, const char *kind, const nb_path *path,
                                      const uint8_t *cose, size_t len);

/* A CoAP message in plaintext as the engine hands it to its transport (out: before DTLS
 * encrypts it) or gets it from it (in: after decryption), with the server's address. */
typedef void (*nb_client_trace_fn)(void *user, bool out, const nb_addr *peer, const uint8_t *data,
                                   size_t len);

typedef struct {
  const char *endpoint;          /* endpoint client name, required (copied) */
  const char *lwm2m_version;     /* "1.1" (default) or "1.0" */
  const nb_model *model;         /* definitions; NULL = the built-in tables, nb_model_builtin() */
  const nb_coap_ep_config *coap; /* NULL = CoAP defaults for a device (dedup_max 16; random ours) */
  nb_client_send_fn send;        /* required */
  void *send_user;
  nb_client_event_fn on_event; /* optional */
  void *event_user;
  nb_random_fn random; /* tokens, MIDs; default nb_random_system */
  void *random_user;
  nb_client_resolve_fn resolve; /* optional: without it URIs must hold numeric hosts */
  void *resolve_user;
  const nb_dtls_session_params *dtls; /* NULL = DTLS session defaults */
  /* Queue mode (binding UQ, or Q in 1.1): the client sleeps once nothing was exchanged with a
   * server for this long. The 1.1 Server object has no resource for it; 0 = 93 s, CoAP
   * MAX_TRANSMIT_WAIT, which the specification recommends. */
  nb_time_ms queue_timeout;
  /* Signed payloads (COSE_Sign1, src/dtls/cose.h). With signed_bootstrap the
   * Bootstrap-Request asks for signed writes (pct=18) when the bootstrap account authenticates
   * with a key pair (RPK or X.509); never over PSK or NoSec. Signed writes (Content-Format 18)
   * are accepted from any server whatever this says: they are verified with the public key of
   * the peer's DTLS handshake, and refused (4.00, nothing applied) when they do not verify,
   * name another endpoint (sub) or, within one bootstrap, carry another bootstrap ID (cti).
   * Reads, Observes and Bootstrap-Reads with Accept: 18 are answered signed with the account's
   * own private key (/0/x/5) when it is RPK or X.509, else 4.06. */
  bool signed_bootstrap;
  /* Unix time minus the `now` the engine is given, in ms: what it signs as iat (issued at).
   * 0 = unknown, no iat. Shells set it from CLOCK_REALTIME - CLOCK_MONOTONIC. */
  int64_t unix_offset_ms;
  nb_client_evidence_fn evidence; /* optional: every signed payload accepted or produced */
  void *evidence_user;
  /* Optional: every CoAP message sent or received, in plaintext, for accounting by message
   * type (the fleet simulator counts bytes per LwM2M message at its sockets). Observes only:
   * it must not call into the engine. */
  nb_client_trace_fn trace;
  void *trace_user;
} nb_client_config;

void nb_client_config_default(nb_client_config *cfg);
nb_err nb_client_new(const nb_client_config *cfg, nb_client **out);
/* Frees everything without sending anything (call nb_client_deregister first for a clean exit). */
void nb_client_free(nb_client *c);
const nb_model *nb_client_model(const nb_client *c);

/* ---- objects ---- */
/* Adds an object (owned by the client from now on, also on error). NB_ERR_EXISTS when an object
 * with that ID is there already; registered servers are told with an Update. */
nb_err nb_client_add_object(nb_client *c, nb_object *obj_owned, nb_time_ms now);
nb_object *nb_client_object(nb_client *c, uint16_t id);

/* Device object (3), single instance. Strings may be NULL (resource absent); copied. */
typedef struct {
  const char *manufacturer, *model, *serial, *firmware_version, *hardware_version,
      *software_version, *device_type;
  int battery_level;                       /* 0..100, -1 absent */
  int64_t memory_free_kb, memory_total_kb; /* -1 absent */
  const char *utc_offset, *timezone;
  const char *bindings; /* Supported Binding and Modes, default "U" */
} nb_client_device_info;
nb_err nb_client_add_device(nb_client *c, const nb_client_device_info *d);

/* A server account: Security (0) and Server (1) instances in one call.
 * Security modes and what the key fields hold (PEM or DER everywhere):
 *   0 PSK: identity = PSK identity (UTF-8), secret = PSK key bytes.
 *   1 RPK: secret = our P-256 private key; server_key = the server's public key
 *          (SubjectPublicKeyInfo or a certificate) or its 30-hex-digit secure ID.
 *   2 X.509: identity = our certificate, secret = its private key; server_key = the server's
 *          own certificate (pinned), or with trust_anchor a CA that must sign it (the URI's host
 *          name, when it is one, must then match the certificate).
 *   3 NoSec. The DTLS session of an account is made on its first datagram and made anew when
 *   it ends closed or failed. */
typedef struct {
  const char *uri;     /* "coap://127.0.0.1:5683"; a numeric host (the shell resolves names) */
  bool bootstrap;      /* a bootstrap-server account (no Server instance) */
  uint16_t ssid;       /* 1..65534 (ignored for bootstrap) */
  uint32_t lifetime;   /* seconds, default 86400 when 0 */
  const char *binding; /* "U" (default) or "UQ" */
  int security_mode;   /* 0 PSK, 1 RPK, 2 certificate, 3 NoSec (default when no keys) */
  const uint8_t *identity;
  size_t identity_len; /* PSK identity / own public key or cert */
  const uint8_t *secret;
  size_t secret_len; /* PSK key / private key: never logged */
  const uint8_t *server_key;
  size_t server_key_len; /* server public key or certificate */
  uint32_t pmin, pmax;   /* default notification periods (0 = none) */
  bool trust_anchor;     /* X.509: server_key is a CA (Certificate Usage 2), not the server's
                            certificate (3, the default) */
} nb_client_server_params;
nb_err nb_client_add_server(nb_client *c, const nb_client_server_params *p);

/* ---- bootstrap and persistence ---- */
/* The accounts (objects 0, 1, 2 with every value, secrets included: keep the file private) as
 * SenML CBOR, and back: load replaces objects 0-2 entirely (before nb_client_start). */
nb_err nb_client_save_state(nb_client *c, nb_bytes *out);
nb_err nb_client_load_state(nb_client *c, const uint8_t *data, size_t len);
/* Factory bootstrap: provisions objects 0, 1 and 2 (replacing them entirely, before
 * nb_client_start) from a JSON document, or from a state file of nb_client_save_state (told
 * apart by the first byte). The JSON (docs/client.md has the full reference):
 *   {"servers": [{"uri": "coaps://10.0.0.5:5684", "ssid": 101, "lifetime": 300,
 *                 "binding": "U", "security": "psk", "psk_identity": "dev1",
 *                 "psk_key": "00112233..."},
 *                {"uri": "coap://10.0.0.5:5783", "bootstrap": true}],
 *    "access_control": [{"object": 3, "instance": 0, "owner": 101, "acl": {"102": 1}}]}
 * security: nosec (default), psk (psk_identity, psk_key in hex), rpk (private_key PEM, and
 * server_key PEM or server_secure_id), x509 (certificate and private_key PEM, server_key PEM:
 * the server's certificate, or with "trust_anchor": true a CA). Unknown fields are errors.
 * NB_ERR_INVAL with err (may be NULL) naming the bad field ("servers[1].ssid: ...") and
 * nothing changed; values are never quoted or logged, as most are secrets. */
nb_err nb_client_load_factory(nb_client *c, const uint8_t *data, size_t len, char *err, size_t cap);
/* True while a bootstrap is under way (after a Bootstrap-Request or a server's first
 * bootstrap operation, until Bootstrap-Finish). */
bool nb_client_bootstrapping(const nb_client *c);

/* ---- running ---- */
/* Builds the server accounts from objects 0 and 1 and starts registering with each; with no
 * server account but a bootstrap account, sends a Bootstrap-Request (POST /bs?ep=&pct=)
 * instead. A bootstrap server may write the accounts at any time (server-initiated); at
 * Bootstrap-Finish (4.06 without a usable account) the client registers with the new
 * accounts. When registration gives up and Server resource 16 (Bootstrap on Registration
 * Failure, default true) allows, the client bootstraps again. */
nb_err nb_client_start(nb_client *c, nb_time_ms now);
/* A datagram from peer. Only the client's servers are listened to: the addresses its server
 * accounts resolved to and, while it has a bootstrap account, its bootstrap server's.
 * Datagrams from any other address are dropped without an answer (counted below). */
void nb_client_receive(nb_client *c, const nb_addr *peer, const uint8_t *data, size_t len,
                       nb_time_ms now);
/* The I/O shell learnt that nothing listens at peer (an ICMP port or host unreachable for a
 * datagram sent there; nb_io_udp_report_errors): logged once against the Register or Update in
 * flight to that server, whose retransmission lines then say so. The request keeps its
 * retransmissions (an ICMP error may be forged, and a server that is starting may be up by the
 * next one). reason: what the shell knows ("connection refused"). */
void nb_client_peer_unreachable(nb_client *c, const nb_addr *peer, const char *reason);
/* Datagrams dropped because they came from no server of this client. */
uint64_t nb_client_foreign_dropped(const nb_client *c);
void nb_client_tick(nb_client *c, nb_time_ms now);
nb_time_ms nb_client_next_deadline(const nb_client *c);

/* The application changed the value at p (any level): observations over it notify as their
 * attributes (pmin/pmax/gt/lt/st) say. */
void nb_client_value_changed(nb_client *c, const nb_path *p, nb_time_ms now);
/* Registration Update now to server ssid (0 = every registered server). */
nb_err nb_client_update(nb_client *c, uint16_t ssid, nb_time_ms now);
/* De-registers from every server; true from nb_client_done once all answered or gave up. */
nb_err nb_client_deregister(nb_client *c, nb_time_ms now);
bool nb_client_done(const nb_client *c);
/* Ends every established DTLS session with close_notify (after de-registering, before exit). */
void nb_client_close(nb_client *c, nb_time_ms now);
/* Send (1.1): POST /dp with the current values of paths, SenML CBOR, to ssid (0 = each). */
nb_err nb_client_send(nb_client *c, uint16_t ssid, const nb_path *paths, size_t n, nb_time_ms now);

typedef enum {
  NB_CLIENT_SRV_IDLE,
  NB_CLIENT_SRV_REGISTERING,
  NB_CLIENT_SRV_REGISTERED,
  NB_CLIENT_SRV_UPDATING,
  NB_CLIENT_SRV_WAIT_RETRY,
  NB_CLIENT_SRV_DEREGISTERING,
  NB_CLIENT_SRV_DEREGISTERED,
  NB_CLIENT_SRV_FAILED
} nb_client_srv_state;
/* State of the account with this ssid (NB_ERR_NOT_FOUND when none); location may be NULL and
 * receives the registration location ("/rd/5a3f") when cap allows. */
nb_err nb_client_server_state(const nb_client *c, uint16_t ssid, nb_client_srv_state *state,
                              char *location, size_t cap);
const char *nb_client_srv_state_name(nb_client_srv_state s);
/* Queue mode: false while the client sleeps for server ssid (its requests are not received,
 * notifications are held until the next wake-up Update); true otherwise. */
bool nb_client_awake(const nb_client *c, uint16_t ssid);
/* Number of active observations (all servers). */
size_t nb_client_observation_count(const nb_client *c);

#endif
