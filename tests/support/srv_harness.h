/* The LwM2M server engine on the simulated network for integration tests: a harness node
 * running nb_server (each peer port 6000-6015 reports the identity set in ident[], as a DTLS
 * layer would) that records the engine's events, and scripted CoAP devices that register,
 * send requests and answer the server's. */
#ifndef NB_TEST_SRV_HARNESS_H
#define NB_TEST_SRV_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coap/endpoint.h"
#include "server/server.h"
#include "simnet.h"
#include "store/sqlite.h"

#define NB_SRV_MAX_EV 64
typedef struct {
  nb_simnet *net;
  nb_simnet_node *node;
  nb_server *srv;
  nb_addr addr;
  /* identity the simulated DTLS layer reports per peer port (index = port - 6000) */
  nb_server_identity ident[16];
  nb_server_event_type ev[NB_SRV_MAX_EV];
  char ev_ep[NB_SRV_MAX_EV][NB_SERVER_EP_MAX];
  bool ev_replaced[NB_SRV_MAX_EV];
  char ev_value[NB_SRV_MAX_EV][64];
  /* ADDRESS_CHANGED: operation, refused, ports of the old and new address */
  char ev_op[NB_SRV_MAX_EV][16];
  bool ev_refused[NB_SRV_MAX_EV];
  uint16_t ev_old_port[NB_SRV_MAX_EV], ev_new_port[NB_SRV_MAX_EV];
  int nev;
} nb_srv_harness;

/* The harness with its store in a new SQLite file (the default config otherwise), for tests of
 * what survives a restart: nb_srv_rig_restart frees the engine and restores a new one from the
 * same database, as a process that is killed and started again would. */
typedef struct {
  char db[64];
  nb_store_sqlite *store;
  nb_server_config cfg;
  nb_srv_harness h;
} nb_srv_rig;
void nb_srv_rig_init(nb_srv_rig *g);
void nb_srv_rig_restart(nb_srv_rig *g);
/* Frees it all and deletes the database (with its -wal and -shm). */
void nb_srv_rig_deinit(nb_srv_rig *g);
/* Deletes a SQLite database file with its -wal and -shm. */
void nb_srv_db_remove(const char *path);

/* The server on 10.0.0.1:5683 of a new simulated network; cfg NULL: defaults. */
void nb_srv_harness_init(nb_srv_harness *h, const nb_server_config *cfg);
void nb_srv_harness_deinit(nb_srv_harness *h);
/* Events of type t recorded so far. */
int nb_srv_count_ev(const nb_srv_harness *h, nb_server_event_type t);

typedef struct {
  nb_srv_harness *h;
  nb_coap_ep *ep;
  nb_addr addr;
  /* last request received */
  int nreq;
  uint8_t method;
  char path[64];
  int accept, cf;
  uint32_t observe;
  bool has_observe;
  char query[128];
  uint8_t body[512];
  size_t body_len;
  /* what to answer */
  uint8_t code;
  int answer_cf;
  const char *answer;
  size_t answer_len; /* of answer when it holds NUL bytes (0: strlen) */
  /* Content-Formats the device takes (none listed: any): a GET or FETCH whose Accept is another
   * gets 4.06, a PUT, POST or iPATCH whose Content-Format is another 4.15 (a Wakaama-like
   * device built without some formats); seen[] is the format of each request, in order. */
  int formats[4];
  size_t nformats;
  int seen[8];
  size_t nseen;
  bool silent; /* keep the exchange, never answer */
  nb_coap_exchange *held;
  nb_coap_observer *obs;
  int gone;
  /* last response to our own request */
  int resp_calls;
  nb_err resp_err;
  uint8_t resp_code;
  char location[64];
  uint32_t resp_max_age, resp_size1; /* of the last response, 0 when absent */
} nb_srv_device;

/* Device n on address 10+n, port 6000+n, answering requests with d->code and d->answer. */
void nb_srv_dev_init(nb_srv_device *d, nb_srv_harness *h, unsigned n);
/* The request handler of a device (for devices set up by hand). */
void nb_srv_dev_handler(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                        const nb_coap_msg *req, nb_time_ms now);
/* Sends a request from the device and runs the network until its answer; returns the code (0
 * when it failed). A payload longer than a block goes Block1. */
uint8_t nb_srv_dev_send(nb_srv_device *d, uint8_t method, const char *path,
                        const char *const *queries, int cf, const char *payload);
/* Register as ep with this object list and up to two more queries. */
uint8_t nb_srv_dev_register_links(nb_srv_device *d, const char *ep, const char *links,
                                  const char *extra1, const char *extra2);
/* Register as ep with an object list of three links and up to two more queries. */
uint8_t nb_srv_dev_register(nb_srv_device *d, const char *ep, const char *extra1,
                            const char *extra2);

#endif
