/* A bootstrap server, an LwM2M server and the REST API in this process on loopback, the way
 * `niobium demo` runs them and `niobium sim` runs them when it is given no server: ports fall
 * back to free ones when the defaults (5683/5684, 5783/5784, 8080) are busy, state in a
 * temporary SQLite database (removed at the end) or a given one, the bootstrap server's own
 * P-256 key for raw-public-key devices and signed bootstraps, an optional key of the
 * management server for RPK accounts. Also provisions devices directly in the stores (their
 * bootstrap credential and a config naming this server). Owns engines, sockets, stores and
 * the database file. */
#ifndef NB_APP_LOCAL_SERVERS_H
#define NB_APP_LOCAL_SERVERS_H

#include <stdbool.h>

#include "base/addr.h"
#include "bootstrap/bootstrap.h"
#include "bootstrap/config_store.h"
#include "dtls/keys.h"
#include "http/api.h"
#include "io/dtls_server_io.h"
#include "io/loop.h"
#include "server/server.h"
#include "server/store_health.h"
#include "sim/fleet.h"
#include "store/sqlite.h"

typedef struct {
  const char *cli;      /* "niobium demo": the prefix of error messages */
  const char *db;       /* NULL: a temporary file removed by nb_app_local_free */
  const char *http;     /* REST API address (loopback), default 127.0.0.1:8080 */
  bool http_given;      /* the user named it: no fallback to a free port */
  bool approve;         /* bootstrap requests wait for approval */
  bool server_rpk;      /* the server gets a P-256 key of its own (RPK accounts) */
  int64_t clock_offset; /* Unix ms minus loop time */
  /* Optional: runs before the loop waits, outside every engine callback (decisions taken in
   * a callback are applied here). */
  void (*before_wait)(void *user, nb_time_ms now);
  void *user;
} nb_app_local_config;

typedef struct {
  nb_app_local_config cfg;
  nb_io_loop *loop;
  nb_store_sqlite *dmdb;
  nb_server_store store; /* dmdb's, through health */
  nb_store_health *health;
  nb_bs_store *bst;
  nb_server *srv;
  nb_bs_engine *bs;
  nb_io_srv *srv_net, *bs_net;
  nb_dtls_creds *srv_creds, *bs_creds;
  nb_dtls_keypair bs_key, srv_key;
  nb_http_api *api;
  nb_addr srv_coap, srv_coaps, bs_coap, bs_coaps;
  nb_io_deadline *deadline;
  char db[4096];
  bool temp_db;
} nb_app_local;

/* Starts everything; -1 after saying why on stderr. The engines run from the loop's own
 * deadline hook; add listeners to srv and bs for events. */
int nb_app_local_start(nb_io_loop *loop, const nb_app_local_config *cfg, nb_app_local **out);
/* Closes sockets and handles and frees; call before nb_io_loop_free. The engines and stores
 * stay until nb_app_local_destroy, after the loop is freed (the API's handles close in it). */
void nb_app_local_close(nb_app_local *l);
void nb_app_local_destroy(nb_app_local *l);

/* The REST API's base URL ("http://127.0.0.1:8080"). */
void nb_app_local_api_url(const nb_app_local *l, char *buf, size_t cap);
/* A URI of the server or bootstrap server: "coap://127.0.0.1:5683" or coaps://. */
void nb_app_local_uri(const nb_app_local *l, bool bootstrap, bool secure, char *buf, size_t cap);

/* Provisions a device of a fleet directly in the stores: its bootstrap credential (PSK, or an
 * RPK's secure ID registered out of band) and a bootstrap config whose management account has
 * security dm (a fresh PSK or RPK key per bootstrap, installed in this server's store). */
nb_err nb_app_local_provision(nb_app_local *l, const nb_sim_cred *cred, nb_sim_security dm,
                              uint32_t lifetime);
/* The default config for devices nobody prepared: a NoSec account on this server. */
nb_err nb_app_local_default_config(nb_app_local *l);

#endif
