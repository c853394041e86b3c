/* The fleet simulator's core: N real LwM2M client engines (src/client, the engine devices
 * embed) in one process, sans-I/O like the engines: it is fed (device, peer, datagram, now)
 * and ticks, hands datagrams out through a callback with the device they leave from, and
 * says when it must be ticked next. Devices are made, provisioned (their credentials made
 * known to a server), started at a ramp and with a bounded number of registrations in flight,
 * and de-registered on stop, the same way. Values come from a scenario (shared, read-only
 * objects computed from (device, time): src/sim/scenario.h); every datagram is counted by
 * LwM2M message type at the edge (ciphertext for DTLS) with the latency of the devices'
 * requests (src/sim/wire.h); a seeded loss drops datagrams both ways.
 *
 * Owns the engines, a few dozen bytes of state per device, a min-heap of the devices'
 * deadlines (one timer for the whole fleet) and the statistics. Not thread-safe. */
#ifndef NB_SIM_FLEET_H
#define NB_SIM_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"
#include "base/time.h"
#include "coap/endpoint.h"
#include "lwm2m/model.h"
#include "niobium/client.h"
#include "sim/wire.h"

typedef struct nb_sim_fleet nb_sim_fleet;
typedef struct nb_sim_scenario nb_sim_scenario;

typedef enum { NB_SIM_NOSEC, NB_SIM_PSK, NB_SIM_RPK, NB_SIM_X509 } nb_sim_security;
const char *nb_sim_security_name(nb_sim_security s);
nb_err nb_sim_security_parse(const char *text, nb_sim_security *out);

/* A device's credential as a server must know it (what provisioning installs). */
typedef struct {
  uint32_t dev;
  const char *ep;
  nb_sim_security mode;
  bool bootstrap;       /* for the bootstrap account (a factory credential) */
  const char *identity; /* PSK identity; X.509: the certificate's subject CN */
  const uint8_t *key;   /* PSK key: a secret, never logged */
  size_t key_len;
  const uint8_t *spki; /* RPK and X.509: the device's SubjectPublicKeyInfo (DER) */
  size_t spki_len;
  const char *secure_id; /* RPK and X.509: its secure ID (30 hex digits) */
} nb_sim_cred;

/* Where a PSK comes from instead of the CSPRNG (a credentials file): identity and key of
 * device dev; NB_ERR_NOT_FOUND when the file has none for it. */
typedef nb_err (*nb_sim_psk_fn)(void *user, uint32_t dev, const char *ep, char *identity,
                                size_t idcap, uint8_t *key, size_t keycap, size_t *key_len);

/* Datagram out from device dev. */
typedef void (*nb_sim_send_fn)(void *user, uint32_t dev, const nb_addr *peer, const uint8_t *data,
                               size_t len);
/* Makes cred known to the server before the device starts; the hook (or later code) calls
 * nb_sim_fleet_provisioned once done. A return other than NB_OK fails the device at once. */
typedef nb_err (*nb_sim_provision_fn)(void *user, nb_sim_fleet *f, const nb_sim_cred *cred);

typedef enum {
  NB_SIM_EV_STARTED,      /* the device's engine started (Bootstrap-Request or Register) */
  NB_SIM_EV_BOOTSTRAPPED, /* it finished a bootstrap (its first Register left) */
  NB_SIM_EV_REGISTERED,   /* Register answered 2.01 (again after a failure too) */
  NB_SIM_EV_UPDATED,      /* an Update answered 2.04 */
  NB_SIM_EV_REG_FAILED,   /* a Register/Update failed (err) */
  NB_SIM_EV_GAVE_UP,      /* every registration retry failed */
  NB_SIM_EV_DEREGISTERED, /* De-register done (err: how) */
  NB_SIM_EV_FAILED,       /* provisioning or the engine's set-up failed (err) */
  NB_SIM_EV_EXECUTED      /* a server's Execute was applied (path given) */
} nb_sim_event;
typedef void (*nb_sim_event_fn)(void *user, nb_sim_fleet *f, uint32_t dev, nb_sim_event ev,
                                nb_err err, const nb_path *path, nb_time_ms now);

typedef struct {
  uint32_t devices;   /* required, at least 1 */
  uint32_t first;     /* number of device 0 in names ("sim-000001" is number 1): default 1 */
  const char *prefix; /* endpoint name prefix; NULL = "sim-" */
  int digits; /* the number zero-padded to this many digits: 6 (default, "sim-000001"), 0 none */
  const nb_model *model;     /* shared definitions; NULL = built-in */
  nb_sim_scenario *scenario; /* required; its Executes are reported here */
  const char *server_uri;    /* register there ... */
  const char *bootstrap_uri; /* ... or bootstrap there first (one of the two) */
  nb_sim_security security;  /* of that account */
  /* RPK: the (bootstrap) server's public key (SPKI, certificate, or 30-hex secure ID); X.509:
   * its certificate, or with server_key_ca a CA that must sign it. Shared by every device. */
  const uint8_t *server_key;
  size_t server_key_len;
  bool server_key_ca;
  /* X.509: the CA that issues every device a certificate (CN = endpoint), PEM or DER. */
  const uint8_t *ca_cert, *ca_key;
  size_t ca_cert_len, ca_key_len;
  nb_sim_psk_fn psk_source; /* PSK: NULL = a fresh key per device from the CSPRNG */
  void *psk_user;
  uint32_t lifetime;      /* seconds; 0 = 300 (direct accounts) */
  const char *binding;    /* "U" (default) or "UQ" */
  uint32_t retry_timer;   /* Communication Retry Timer (s, Server /1/x/18); 0 = 60 */
  double ramp;            /* devices started per second; 0 = as fast as the window allows */
  uint32_t window;        /* registrations, bootstraps and de-registrations in flight; 0 = 64 */
  double loss;            /* probability a datagram is dropped, each way */
  uint64_t seed;          /* of the loss (and of nothing security-related) */
  nb_time_ms sample_ms;   /* values change every this long (scenario); 0 = 1000 */
  bool manual_sampling;   /* the caller tells value changes (nb_sim_fleet_value_changed) */
  bool signed_bootstrap;  /* ask for signed bootstraps (RPK/X.509 bootstrap accounts) */
  int64_t unix_offset_ms; /* Unix ms minus `now` */
  const nb_coap_ep_config *coap; /* NULL = the client's defaults */
  /* The engines' tokens, message IDs and retransmission jitter: NULL = the system's CSPRNG.
   * Tests pass a seeded one so that a seeded run repeats exactly. */
  nb_random_fn random;
  void *random_user;
  nb_client_resolve_fn resolve; /* host names in URIs (optional) */
  void *resolve_user;
  nb_sim_send_fn send; /* required */
  void *send_user;
  nb_sim_provision_fn provision; /* optional */
  void *provision_user;
  nb_sim_event_fn on_event; /* optional */
  void *event_user;
} nb_sim_config;

void nb_sim_config_default(nb_sim_config *cfg);

/* Counters of the run so far. */
typedef struct {
  uint32_t devices, created, provisioned, started, bootstrapping, bootstrapped;
  uint32_t registered;      /* now */
  uint32_t ever_registered; /* devices that registered at least once */
  uint32_t retrying;        /* a Register failed and the engine waits to try again */
  uint32_t failed;          /* gave up or could not be set up */
  uint32_t deregistered;
  uint64_t registrations, updates, reg_failures, notifications, executes, reboots;
  uint32_t execute_max;                    /* most Executes one device applied */
  uint64_t lost_up, lost_down;             /* dropped by the simulated loss */
  nb_time_ms first_start, last_registered; /* loop time; 0 = not yet */
  nb_sim_hist time_to_register;            /* from the engine's start to its first registration */
} nb_sim_stats;

/* Error kinds seen (nb_err_name, count), in order of first appearance. */
#define NB_SIM_ERR_KINDS 24
typedef struct {
  const char *kind;
  uint64_t count;
} nb_sim_err_count;

/* Copies the strings of cfg; the scenario, model and key buffers must outlive the fleet. */
nb_err nb_sim_fleet_new(const nb_sim_config *cfg, nb_time_ms now, nb_sim_fleet **out);
/* Frees every engine without sending anything (stop and wait for finished first). */
void nb_sim_fleet_free(nb_sim_fleet *f);

/* A datagram to device dev (the shell tells which device from the address it came to). */
void nb_sim_fleet_receive(nb_sim_fleet *f, uint32_t dev, const nb_addr *peer, const uint8_t *data,
                          size_t len, nb_time_ms now);
void nb_sim_fleet_tick(nb_sim_fleet *f, nb_time_ms now);
nb_time_ms nb_sim_fleet_next_deadline(const nb_sim_fleet *f);

/* Provisioning of dev ended (err NB_OK: it may start). */
void nb_sim_fleet_provisioned(nb_sim_fleet *f, uint32_t dev, nb_err err, nb_time_ms now);

/* Stops starting devices and de-registers the started ones (window at a time); finished once
 * all are done or grace_ms passed. Calling it again stops at once. */
void nb_sim_fleet_stop(nb_sim_fleet *f, nb_time_ms now, nb_time_ms grace_ms);
bool nb_sim_fleet_stopping(const nb_sim_fleet *f);
bool nb_sim_fleet_finished(const nb_sim_fleet *f, nb_time_ms now);
/* Ends the DTLS sessions with close_notify (after finished, before freeing). */
void nb_sim_fleet_close(nb_sim_fleet *f, nb_time_ms now);

const nb_sim_stats *nb_sim_fleet_stats(const nb_sim_fleet *f);
const nb_sim_wire *nb_sim_fleet_wire(const nb_sim_fleet *f);
const nb_sim_err_count *nb_sim_fleet_errors(const nb_sim_fleet *f, size_t *n);
uint32_t nb_sim_fleet_size(const nb_sim_fleet *f);
/* Registered devices asleep now (queue mode, binding UQ: requests for them wait for their next
 * Update). A walk over the fleet: for a progress line, not for every event. */
uint32_t nb_sim_fleet_sleeping(const nb_sim_fleet *f);

/* Device access: its endpoint name (into buf), its engine (NULL before it was made), its
 * state name ("idle", "registered"...), and one more Executes counter per device. */
const char *nb_sim_fleet_endpoint(const nb_sim_fleet *f, uint32_t dev, char *buf, size_t cap);
nb_client *nb_sim_fleet_client(nb_sim_fleet *f, uint32_t dev);
const char *nb_sim_fleet_state(const nb_sim_fleet *f, uint32_t dev);
bool nb_sim_fleet_is_registered(const nb_sim_fleet *f, uint32_t dev);
/* The device of an endpoint name this fleet made; false for any other name. */
bool nb_sim_fleet_device_of(const nb_sim_fleet *f, const char *ep, uint32_t *dev);

/* The value of the scenario's sampled resource of device dev changed now: observations over it
 * are evaluated (the fleet does this itself every sample_ms for observed devices). */
void nb_sim_fleet_value_changed(nb_sim_fleet *f, uint32_t dev, nb_time_ms now);
/* Registration Update of dev now. */
nb_err nb_sim_fleet_update(nb_sim_fleet *f, uint32_t dev, nb_time_ms now);
/* De-registers one device (it counts as done after). */
nb_err nb_sim_fleet_deregister(nb_sim_fleet *f, uint32_t dev, nb_time_ms now);

#endif
