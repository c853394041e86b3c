/* A scripted LwM2M server for in-process client tests: a CoAP endpoint on a simnet node that
 * answers the registration interface (POST /rd -> 2.01 /rd/N, Update -> 2.04 or a scripted
 * code, DELETE -> 2.02), Bootstrap-Request (POST /bs -> 2.04) and Send (/dp -> 2.04), keeps what it
 * got, and issues device-management requests to the client with a one-call helper that runs the
 * network until the answer. */
#ifndef NB_TEST_LWM2M_SCRIPTED_SERVER_H
#define NB_TEST_LWM2M_SCRIPTED_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coap/endpoint.h"
#include "coaptest.h"
#include "dtls/server.h"
#include "simnet.h"

#define NB_SS_MAX_EVENTS 64

typedef struct {
  nb_simnet *net;
  nb_coap_ep *ep;
  nb_simnet_node *node;
  nb_addr addr;
  nb_addr client; /* the peer of the latest registration */
  int registers, updates, deregisters, sends, bs_requests;
  char pct[8];
  nb_time_ms register_at[NB_SS_MAX_EVENTS], update_at[NB_SS_MAX_EVENTS];
  char ep_name[64], lt[16], lwm2m[8], binding[8];
  bool q;                /* the Register carried a bare Q */
  char update_query[64]; /* Uri-Query options of the latest Update joined by '&' */
  char objects[1024];    /* the latest Register/Update payload (link-format) */
  uint8_t *send_body;    /* latest /dp payload (heap) */
  size_t send_len;
  int send_cf;
  uint8_t update_code; /* answer to Updates, default 2.04 */
  uint8_t register_code;
  int location_seq;
  /* a file served to GET file_path (a firmware package; Block2 by the CoAP layer) */
  const char *file_path;
  const uint8_t *file;
  size_t file_len;
  int file_gets;
  /* DTLS mode (nb_ss_init_dtls) */
  nb_dtls_server *dtls;
  int dtls_established, dtls_failed;
  nb_dtls_peer peer; /* the latest peer that completed a handshake */
} nb_ss;

/* A server at addr on net (freed with nb_ss_free; the node with the network). */
void nb_ss_init(nb_ss *s, nb_simnet *net, const nb_addr *addr);
void nb_ss_free(nb_ss *s);
/* The same server behind a DTLS server context with creds (which must outlive it). */
void nb_ss_init_dtls(nb_ss *s, nb_simnet *net, const nb_addr *addr, const nb_dtls_creds *creds);

/* A DM request to the client: method, path, options (cf/accept NB_COAP_CF_NONE when absent,
 * query "a=1&b=2" or NULL), payload. Runs the network until the final answer (at most 300 s). */
typedef struct {
  uint8_t code;
  int cf;
  uint8_t *payload; /* heap, NUL-terminated */
  size_t len;
  char location[64];
  nb_err err;
} nb_ss_answer;
void nb_ss_request(nb_ss *s, uint8_t method, const char *path, int cf, int accept,
                   const char *query, const void *payload, size_t len, nb_ss_answer *out);
void nb_ss_answer_free(nb_ss_answer *a);

/* An observation: notifications land in r (use r->calls / r->at / payload). Observe=0 GET (or
 * FETCH with payload when method is NB_COAP_FETCH). Returns the request id. */
nb_coap_req_id nb_ss_observe(nb_ss *s, uint8_t method, const char *path, int cf, int accept,
                             const void *payload, size_t len, nb_ct_resp *r);

#endif
