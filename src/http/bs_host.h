/* The bootstrap role inside the server process (`niobium server --with-bootstrap`): runs a
 * bootstrap engine on its own CoAP/DTLS sockets in the server's libuv loop over the server's
 * database (fresh credentials go straight into the server's security store), keeps pending
 * requests and other processes' decisions in step with the store; the REST routes under
 * /api/bootstrap (api_bootstrap.c) work on its engine and store. Owns the engine, its store
 * connection, sockets and uv handles. */
#ifndef NB_HTTP_BS_HOST_H
#define NB_HTTP_BS_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"
#include "bootstrap/bootstrap.h"
#include "bootstrap/config_store.h"
#include "http/remote_store.h"
#include "io/loop.h"
#include "server/server.h"
#include "server/store.h"

typedef struct {
  const char *db;           /* the bootstrap store (the server's database file) */
  nb_server_store dm_store; /* the management server's security store */
  /* A server running apart: credentials installed through its REST API asynchronously, in
   * the loop (used instead of dm_store when set; not owned). */
  nb_http_remote_store *remote;
  nb_bs_policy policy;
  const nb_addr *coap;    /* NoSec listen address, NULL = none */
  const nb_addr *coaps;   /* DTLS listen address, NULL = none */
  const uint8_t *rpk_key; /* own P-256 private key (PEM/DER) for RPK devices; optional */
  size_t rpk_key_len;
  /* Own X.509 certificate chain (PEM/DER, end-entity first) and its P-256 private key, for
   * devices with certificates; optional, beside or instead of rpk_key. */
  const uint8_t *cert, *cert_key;
  size_t cert_len, cert_key_len;
  /* Trust anchors device certificates must chain to (each PEM with one or more certificates,
   * or one DER certificate); without any, no device certificate is accepted. */
  const uint8_t *const *ca;
  const size_t *ca_len;
  size_t nca;
  bool x509_default_config;         /* the engine's option of that name */
  size_t max_sessions, max_pending; /* the engine's bounds; 0 = its defaults */
  /* The management server in this process (optional, must outlive the host): its
   * registrations tell the engine a device took a Finish whose answer was lost
   * (nb_bs_engine_registered). */
  nb_server *server;
} nb_http_bs_config;

typedef struct nb_http_bs nb_http_bs;

nb_err nb_http_bs_new(nb_io_loop *loop, const nb_http_bs_config *cfg, nb_http_bs **out);
/* Closes sockets and handles; the memory goes once libuv has closed them. */
void nb_http_bs_free(nb_http_bs *h);
nb_bs_engine *nb_http_bs_engine(nb_http_bs *h);
/* The bound address of the NoSec (secure false) or DTLS listener; NB_ERR_NOT_FOUND if none. */
nb_err nb_http_bs_bound(const nb_http_bs *h, bool secure, nb_addr *out);

/* The bootstrap store (configs, pending requests, expected keys, evidence). */
nb_bs_store *nb_http_bs_store(nb_http_bs *h);
/* An operator's decision on a pending request: NB_ERR_NOT_FOUND when ep is not pending. */
nb_err nb_http_bs_decide(nb_http_bs *h, const char *ep, bool approve);

#endif
