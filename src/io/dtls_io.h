/* DTLS in the libuv shell: puts a sans-I/O DTLS server context (server role, one per coaps
 * socket) or per-peer DTLS client sessions (client role) between an nb_io_udp socket and an
 * upper layer, usually an nb_io_coap endpoint, so CoAP only ever sees plaintext. Owns the DTLS
 * server or client sessions, one uv timer at the DTLS next deadline and its re-arm hook.
 *
 * Wiring (the seam of loop.h):
 *   nb_io_udp --(receiver: dtls)--> nb_io_dtls --(upper: nb_io_coap_input)--> nb_io_coap
 *   nb_io_coap --(out: nb_io_dtls_send)--> nb_io_dtls --(nb_io_udp_send)--> nb_io_udp
 * nb_io_dtls_coap_open does all of it for a new socket.
 *
 * Client role: the first datagram sent to a peer creates its session (the handshake starts and
 * the datagram waits for it). A session that ends CLOSED or FAILED is freed, and the next
 * datagram to that peer starts a new one: the CoAP layer's retransmissions drive reconnection. */
#ifndef NB_IO_DTLS_IO_H
#define NB_IO_DTLS_IO_H

#include <stdbool.h>

#include "dtls/cred.h"
#include "dtls/server.h"
#include "dtls/session.h"
#include "io/loop.h"

typedef struct nb_io_dtls nb_io_dtls;

typedef enum {
  NB_IO_DTLS_CLIENT,
  NB_IO_DTLS_SERVER,
} nb_io_dtls_role;

typedef struct {
  nb_io_dtls_role role;
  const nb_dtls_creds *creds;     /* required; must outlive the nb_io_dtls */
  nb_dtls_session_params session; /* client role (nb_dtls_session_params_default) */
  nb_dtls_server_config server;   /* server role (nb_dtls_server_config_default) */
  nb_dtls_event_fn event;         /* optional: established (nb_dtls_session_suite/_peer of s
                                     tell the suite and who), closed, failed (err, alert) */
  void *event_user;
} nb_io_dtls_config;

/* Defaults for `role`; creds still to be set. */
void nb_io_dtls_config_default(nb_io_dtls_config *cfg, nb_io_dtls_role role);

/* DTLS over `udp` (not owned): becomes its receiver. Plaintext goes nowhere until
 * nb_io_dtls_set_upper. */
nb_err nb_io_dtls_new(nb_io_loop *loop, nb_io_udp *udp, const nb_io_dtls_config *cfg,
                      nb_io_dtls **out);
/* Where decrypted datagrams go (datagram in). */
void nb_io_dtls_set_upper(nb_io_dtls *d, nb_io_datagram_fn fn, void *user);
/* nb_io_datagram_fn encrypting one plaintext datagram to `peer` (datagram out). Server role: the
 * peer must have an established session, else the datagram is dropped (counted). */
void nb_io_dtls_send(void *dtls, const nb_addr *peer, const uint8_t *data, size_t len);
/* Sends close_notify to every peer (client role) or to `peer` (server role; NULL = nobody). */
void nb_io_dtls_close_peers(nb_io_dtls *d, const nb_addr *peer);
/* The server context (server role) or the session for `peer` (client role), NULL if none. */
nb_dtls_server *nb_io_dtls_server(nb_io_dtls *d);
nb_dtls_session *nb_io_dtls_session(nb_io_dtls *d, const nb_addr *peer);
/* Plaintext datagrams dropped: sent before a server session existed or too large. */
uint64_t nb_io_dtls_dropped(const nb_io_dtls *d);
/* Frees sessions (nothing is sent, no events) and closes the timer; the socket stays open. Not
 * from inside one of its own callbacks. */
void nb_io_dtls_free(nb_io_dtls *d);

/* A CoAP endpoint over DTLS on a new socket bound to `local` (port 0 = ephemeral). Free with
 * nb_io_coap_free, then nb_io_dtls_free, then nb_io_udp_close(udp). */
nb_err nb_io_dtls_coap_open(nb_io_loop *loop, const nb_addr *local, const nb_io_dtls_config *dcfg,
                            const nb_coap_ep_config *ccfg, nb_io_udp **udp, nb_io_dtls **dtls,
                            nb_io_coap **coap);

#endif
