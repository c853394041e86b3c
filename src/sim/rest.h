/* The fleet simulator's side of a Niobium server's REST API (docs/openapi.yaml), asynchronous
 * in the loop (src/io/http_client.h): it provisions each device before it starts (its PSK,
 * raw public key or certificate name under /api/security/clients; for a bootstrap: its
 * expected secure ID under /api/bootstrap/expected and a bootstrap config naming the
 * management server), approves the fleet's pending bootstrap requests (selective bootstrap),
 * and acts as the server's operator once a device registered: Write-Attributes and Observe on
 * the scenario's resource, so notifications follow the values. Bodies are JSON
 * (Content-Type: application/json); the token goes as a Bearer header and is never logged.
 * Owns its HTTP client and a queue of jobs (a few bytes each). */
#ifndef NB_SIM_REST_H
#define NB_SIM_REST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/err.h"
#include "lwm2m/path.h"
#include "sim/fleet.h"

typedef struct nb_sim_rest nb_sim_rest;

typedef struct {
  const char *api;      /* "http://127.0.0.1:8080" (no trailing slash needed) */
  const char *token;    /* Bearer token, NULL for none (copied; never logged) */
  unsigned concurrency; /* requests in flight at most; 0 = 32 */
  /* Bootstrap: a config per device naming this management server (NULL: the bootstrap
   * server's own configs, e.g. its default, are used). */
  const char *bs_server_uri;
  nb_sim_security bs_server_security;
  uint16_t bs_ssid;     /* 0 = 101 */
  uint32_t bs_lifetime; /* 0 = 300 */
  const char *bs_binding;
  bool approve; /* approve the fleet's pending bootstrap requests */
  /* Operator: once a device registered, observe this resource (len 0: nothing) on a share of
   * the fleet (every n-th device; 1 = all, 0 = none), after writing these attributes
   * ("pmin=10&pmax=60&st=50", NULL: none), with this format ("text", NULL: the server's). */
  nb_path observe;
  uint32_t observe_every;
  const char *observe_attrs;
  const char *observe_format;
} nb_sim_rest_config;

typedef struct {
  uint64_t sent, ok, failed; /* requests */
  uint64_t provisioned, approved, observed;
  long last_status; /* of the last failure (0: no answer) */
} nb_sim_rest_stats;

nb_err nb_sim_rest_new(uv_loop_t *loop, const nb_sim_rest_config *cfg, nb_sim_rest **out);
/* Cancels what is pending (their devices are told provisioning failed) and frees. */
void nb_sim_rest_free(nb_sim_rest *r);
void nb_sim_rest_attach(nb_sim_rest *r, nb_sim_fleet *f);
/* nb_sim_provision_fn (user is the nb_sim_rest). */
nb_err nb_sim_rest_provision(void *user, nb_sim_fleet *f, const nb_sim_cred *cred);
/* To be called from the fleet's event hook: queues the operator's requests for registered
 * devices. */
void nb_sim_rest_event(nb_sim_rest *r, uint32_t dev, nb_sim_event ev);
void nb_sim_rest_get_stats(const nb_sim_rest *r, nb_sim_rest_stats *out);
/* Requests queued or in flight. */
size_t nb_sim_rest_pending(const nb_sim_rest *r);

#endif
