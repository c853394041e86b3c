/* The operator commands of `niobium bootstrap` (config add|list|rm|import|export, pending,
 * approve, reject, expect, expect list|rm, evidence), on the database (--db: the read-only ones
 * never create it) or through a running server's REST API (--api), printing the same tables
 * either way (--json: the API's JSON either way). Also the command's options, which its run
 * mode (cmd_bootstrap.c) shares. Owns nothing beyond a command's run. */
#ifndef NB_APPS_BOOTSTRAP_OPS_H
#define NB_APPS_BOOTSTRAP_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "api_opts.h"

#define NB_BS_MAX_CA 8

#define BS_ERR(...) (fprintf(stderr, "niobium bootstrap: " __VA_ARGS__), NB_EXIT_FAILURE)
#define BS_USAGE(...) (fprintf(stderr, "niobium bootstrap: " __VA_ARGS__), NB_EXIT_USAGE)

typedef struct {
  const char *db, *ep, *uri, *security, *binding, *secure_id, *server_key, *coap, *policy;
  const char *coaps, *rpk_key, *http, *ca_cert, *ca_key, *server_cert, *server_api;
  const char *api, *api_ca, *out, *cert, *key, *ca[NB_BS_MAX_CA];
  const char *psk_identity, *psk_key_file; /* expect: a factory PSK (the key from a file) */
  size_t nca;
  nb_api_opts token_etc; /* --api-token[-file] and the options of the --http listener */
  char *server_token;    /* --server-api-token[-file] (heap, wiped) */
  bool help, json;
  bool dflt, bs_fresh_key, x509_default_config;
  long ssid, lifetime, bs_timeout;
  size_t max_sessions, max_pending;
} nb_bs_cli_opts;

/* A whole small file into buf (at most cap bytes): 0, or -1 when it cannot be read or is
 * larger. */
int nb_bs_read_file(const char *path, uint8_t *buf, size_t cap, size_t *len);

/* argv[0] the verb ("config", "pending", ...): an exit code, messages on stderr. */
int nb_bs_ops_run(const nb_bs_cli_opts *o, int argc, char **argv);

#endif
