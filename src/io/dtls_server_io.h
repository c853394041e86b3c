/* The listening side of `niobium server` and `niobium bootstrap`: plain CoAP and coaps sockets
 * in front of an engine fed (peer, authenticated identity, datagram), with every reply leaving
 * through the socket and security its peer last used (a coaps peer never gets plaintext), and
 * the DTLS credential hooks backed by the server's security store. Owns the sockets, their DTLS
 * layers (io/dtls_io.h) and the peer -> socket routes.
 *
 *   nb_io_udp (coap)  ------------------------------------------> recv(peer, NONE, data)
 *   nb_io_udp (coaps) --> nb_io_dtls (server) --> plaintext -----> recv(peer, identity, data)
 *   engine send --> nb_io_srv_send --> route of peer --> nb_io_dtls_send | nb_io_udp_send */
#ifndef NB_IO_DTLS_SERVER_IO_H
#define NB_IO_DTLS_SERVER_IO_H

#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"
#include "base/time.h"
#include "dtls/cred.h"
#include "dtls/session.h"
#include "io/loop.h"
#include "server/store.h"

typedef struct nb_io_srv nb_io_srv;

/* One datagram for the engine; id->kind is NB_SERVER_ID_NONE on plain sockets. */
typedef void (*nb_io_srv_recv_fn)(void *user, const nb_addr *peer, const nb_server_identity *id,
                                  const uint8_t *data, size_t len, nb_time_ms now);

#define NB_IO_SRV_MAX_SOCKETS 8

nb_err nb_io_srv_new(nb_io_loop *loop, nb_io_srv_recv_fn recv, void *user, nb_io_srv **out);
/* Frees the DTLS layers (no close_notify), closes the sockets and timers. Not from inside one
 * of its callbacks. */
void nb_io_srv_free(nb_io_srv *n);

/* Binds a plain CoAP socket (NB_ERR_EXISTS when the address is in use, NB_ERR_BUSY past
 * NB_IO_SRV_MAX_SOCKETS); bound (optional) gets the actual address. */
nb_err nb_io_srv_listen_coap(nb_io_srv *n, const nb_addr *local, nb_addr *bound);
/* Binds a coaps socket with a DTLS server context on creds (must outlive n). */
nb_err nb_io_srv_listen_coaps(nb_io_srv *n, const nb_addr *local, const nb_dtls_creds *creds,
                              nb_addr *bound);

/* nb_coap_send_fn for the engine (user = the nb_io_srv): through the socket the peer last
 * used; a peer never seen goes over its established DTLS session if one exists, else through
 * the first plain socket of its family, else nowhere. */
void nb_io_srv_send(void *user, const nb_addr *peer, const uint8_t *data, size_t len);

/* Tells a DTLS peer of an earlier run (a registration restored unheard) that its session is
 * gone, through the first coaps socket of its family (nb_dtls_server_nudge): the device
 * handshakes again and updates at once. NB_ERR_NOT_FOUND without such a socket. */
nb_err nb_io_srv_nudge(nb_io_srv *n, const nb_addr *peer);
/* The pace of those alerts for the coaps sockets bound after this call (default 500 a
 * second, nb_dtls_server_config.nudges_per_s). */
void nb_io_srv_set_nudge_rate(nb_io_srv *n, unsigned per_s);

/* Sessions kept across a restart (dtls/server.h): every coaps socket's established sessions
 * given to fn (count returned, *skipped: those of other suites), and one restored into the
 * first coaps socket of its family. */
size_t nb_io_srv_export_sessions(nb_io_srv *n, void (*fn)(void *user, const nb_dtls_saved *sv),
                                 void *user, size_t *skipped);
nb_err nb_io_srv_restore_session(nb_io_srv *n, const nb_dtls_saved *sv);

typedef struct {
  uint64_t rx_plain, rx_dtls; /* datagrams handed to the engine */
  uint64_t tx_plain, tx_dtls; /* datagrams from the engine, by route */
  uint64_t tx_dropped;        /* no socket or session fits the peer */
  uint64_t routes;            /* peers remembered now */
} nb_io_srv_stats;
void nb_io_srv_get_stats(const nb_io_srv *n, nb_io_srv_stats *out);

/* The engine's view of a DTLS peer: PSK identity, RPK secure ID, or X.509 subject CN (the
 * bytes of out past the value's NUL and past key_len are left as they were). */
void nb_io_srv_identity(const nb_dtls_peer *p, nb_server_identity *out);

/* DTLS credential hooks over the security store (user = a nb_server_store * that outlives the
 * credentials): PSK keys by identity, and raw public keys (by secure ID) or certificates (by
 * subject CN, after the chain verified) accepted only when the store holds that credential. */
nb_err nb_io_srv_store_psk_lookup(void *store, const uint8_t *identity, size_t identity_len,
                                  uint8_t *key, size_t cap, size_t *key_len);
nb_err nb_io_srv_store_verify(void *store, const nb_dtls_peer *peer, const uint8_t *raw,
                              size_t raw_len);

#endif
