/* The libuv I/O shell: one event loop per process, UDP sockets (IPv4/IPv6, recvmmsg batching)
 * and the driver that runs a sans-I/O CoAP endpoint on them (feeds it datagrams and `now`,
 * keeps one timer at its next deadline). Owns the uv handles and receive buffers, nothing else.
 *
 * The seam between layers is nb_io_datagram_fn, "a datagram for/from `peer`", the same shape as
 * nb_coap_send_fn. Plain CoAP wires socket -> endpoint -> socket:
 *
 *   nb_io_udp --(receiver: nb_io_coap_input)--> nb_io_coap/nb_coap_ep --(out: nb_io_udp_send)-->
 * nb_io_udp
 *
 * (nb_io_coap_open_udp does exactly that). A DTLS layer sits in the middle by being the udp
 * receiver and the coap `out`: it decrypts what the socket hands it and passes the plaintext to
 * nb_io_coap_input, and encrypts what the endpoint emits before calling nb_io_udp_send.
 *
 * Time: `now` is libuv's loop clock in milliseconds (nb_io_loop_now), used for every call into
 * the endpoint and for the timer, so deadlines and timer expiry agree exactly.
 * Threading: everything runs on the loop's thread; nothing here is thread-safe. */
#ifndef NB_IO_LOOP_H
#define NB_IO_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/addr.h"
#include "base/err.h"
#include "base/time.h"
#include "coap/endpoint.h"

typedef struct nb_io_loop nb_io_loop; /* a uv loop plus the process's signal handles */
typedef struct nb_io_udp nb_io_udp;   /* one bound UDP socket */
typedef struct nb_io_coap nb_io_coap; /* drives one nb_coap_ep */

/* A datagram going in (socket -> upper layer) or out (upper layer -> socket). */
typedef void (*nb_io_datagram_fn)(void *user, const nb_addr *peer, const uint8_t *data, size_t len);
typedef void (*nb_io_signal_fn)(void *user, int signum);

/* ---- loop ---- */

nb_err nb_io_loop_new(nb_io_loop **out);
/* Lets pending closes finish and frees the loop. Close every nb_io_udp / nb_io_coap (and any
 * uv handle of your own) first; a handle still open is reported with a warning and leaked. */
void nb_io_loop_free(nb_io_loop *loop);
/* The underlying libuv loop, for handles of the caller's own (timers, polls). */
uv_loop_t *nb_io_loop_uv(nb_io_loop *loop);
/* Milliseconds of the loop clock, refreshed: the `now` of every endpoint call. */
nb_time_ms nb_io_loop_now(nb_io_loop *loop);
/* The same clock as libuv last read it, without reading it again: libuv reads it right after
 * each wait for I/O, so it is the `now` of the datagrams a read callback hands out (a clock read
 * per datagram otherwise). */
nb_time_ms nb_io_loop_time(const nb_io_loop *loop);
/* Runs until nb_io_loop_stop or until nothing is left to wait for. */
nb_err nb_io_loop_run(nb_io_loop *loop);
/* Makes nb_io_loop_run return after the current callback; safe from any callback. */
void nb_io_loop_stop(nb_io_loop *loop);
/* Routes SIGINT and SIGTERM to fn instead of killing the process (a second call replaces fn).
 * The signal handles do not keep the loop alive. */
nb_err nb_io_loop_on_signals(nb_io_loop *loop, nb_io_signal_fn fn, void *user);

/* ---- UDP socket ---- */

typedef struct {
  /* Datagrams read per recvmmsg call; 1 means plain recvmsg. Each slot costs 64 KiB of
   * receive buffer (libuv reads every datagram into its own 64 KiB chunk). Default 16. */
  unsigned batch;
} nb_io_udp_config;
void nb_io_udp_config_default(nb_io_udp_config *cfg);

typedef struct {
  uint64_t rx;           /* datagrams handed to the receiver */
  uint64_t rx_dropped;   /* truncated datagrams, read errors, no receiver set */
  uint64_t rx_reads;     /* read calls that returned data (recvmmsg or recvmsg) */
  uint64_t rx_max_batch; /* most datagrams returned by one read call */
  uint64_t tx;           /* datagrams written at once (uv_udp_try_send, sendmmsg) */
  uint64_t tx_calls;     /* system calls that wrote them: replies made during one recvmmsg
                            batch leave together in one sendmmsg */
  uint64_t tx_queued;    /* datagrams that hit EAGAIN and were copied to uv_udp_send */
  uint64_t tx_errors;    /* datagrams the kernel refused */
  bool recvmmsg;         /* libuv is reading with recvmmsg */
} nb_io_udp_stats;

/* Binds a socket to `local` (port 0 = ephemeral, for clients). IPv6 sockets are IPV6_V6ONLY so
 * the same port can be bound on IPv4 separately. Receiving starts at once; datagrams arriving
 * before a receiver is set are dropped. cfg NULL = defaults. NB_ERR_EXISTS if the address is in
 * use, NB_ERR_IO for other socket errors (logged with the reason). */
nb_err nb_io_udp_open(nb_io_loop *loop, const nb_addr *local, const nb_io_udp_config *cfg,
                      nb_io_udp **out);
/* Where received datagrams go (datagram in). */
void nb_io_udp_set_receiver(nb_io_udp *udp, nb_io_datagram_fn fn, void *user);
/* nb_io_datagram_fn sending through `user`, an nb_io_udp (datagram out): writes at once when the
 * socket can take it, else copies the datagram into a queued uv_udp_send (order is kept). Never
 * blocks. Datagrams sent from the receiver while it is handed a recvmmsg batch of this socket
 * are copied and leave together in one sendmmsg when the batch ends (before anything sent
 * after): a server's replies to a batch cost one system call. */
void nb_io_udp_send(void *user, const nb_addr *peer, const uint8_t *data, size_t len);
/* An ICMP error came back for a datagram this socket sent to peer: err is the errno it stands
 * for (ECONNREFUSED: port unreachable, EHOSTUNREACH, ENETUNREACH...). */
typedef void (*nb_io_udp_error_fn)(void *user, const nb_addr *peer, int err);
/* Asks the kernel for the ICMP errors of what this socket sends (IP_RECVERR / IPV6_RECVERR,
 * Linux) and hands each to fn: without it an unconnected UDP socket never learns that nothing
 * listens at its peer. For clients; a server need not hear of every device that went away.
 * NB_ERR_UNSUPPORTED on other systems, NB_ERR_IO when the option is refused. */
nb_err nb_io_udp_report_errors(nb_io_udp *udp, nb_io_udp_error_fn fn, void *user);
nb_err nb_io_udp_local_addr(const nb_io_udp *udp, nb_addr *out);
void nb_io_udp_get_stats(const nb_io_udp *udp, nb_io_udp_stats *out);
/* The socket's descriptor, for socket options this module does not cover; -1 if closed. */
int nb_io_udp_fd(const nb_io_udp *udp);
/* Stops receiving and frees the socket once libuv has closed it (queued sends are dropped). */
void nb_io_udp_close(nb_io_udp *udp);

/* ---- deadline timer ----
 * Keeps one libuv timer at a sans-I/O engine's next deadline: right before the loop waits for
 * I/O (after every callback of the iteration, so whatever they did to the engine counts),
 * `next` is asked for the deadline, NB_TIME_NEVER for none, and may do whatever else must
 * happen before sleeping; the timer is re-armed only when the deadline changed. At the
 * deadline `tick` runs. An armed timer keeps the loop alive; the hook alone does not. */
typedef struct nb_io_deadline nb_io_deadline;
typedef nb_time_ms (*nb_io_next_deadline_fn)(void *user, nb_time_ms now);
typedef void (*nb_io_tick_fn)(void *user, nb_time_ms now);

nb_err nb_io_deadline_new(nb_io_loop *loop, nb_io_next_deadline_fn next, nb_io_tick_fn tick,
                          void *user, nb_io_deadline **out);
/* No callback runs after this; the memory goes with the loop's close callbacks. NULL is fine. */
void nb_io_deadline_close(nb_io_deadline *d);

/* ---- CoAP endpoint driver ---- */

/* Creates an endpoint (cfg NULL = defaults) whose datagrams go to out(out_user, ...), and the
 * timer that ticks it. The timer is re-armed to nb_coap_ep_next_deadline before the loop next
 * waits, so calls made into the endpoint from any loop callback (requests, deferred responses,
 * notifications) are scheduled without further ado. */
nb_err nb_io_coap_new(nb_io_loop *loop, const nb_coap_ep_config *cfg, nb_io_datagram_fn out,
                      void *out_user, nb_io_coap **res);
/* Plain CoAP on a new UDP socket bound to `local` (port 0 = ephemeral): the usual wiring. */
nb_err nb_io_coap_open_udp(nb_io_loop *loop, const nb_addr *local, const nb_coap_ep_config *cfg,
                           nb_io_coap **res);
/* nb_io_datagram_fn feeding `coap` (a nb_io_coap *) one datagram (datagram in). */
void nb_io_coap_input(void *coap, const nb_addr *peer, const uint8_t *data, size_t len);
nb_coap_ep *nb_io_coap_ep(nb_io_coap *coap);
/* The socket made by nb_io_coap_open_udp, NULL for nb_io_coap_new. */
nb_io_udp *nb_io_coap_udp(nb_io_coap *coap);
/* Frees the endpoint (its pending callbacks are not called) and closes the timer, and the socket
 * if nb_io_coap_open_udp made it. Not from inside one of the endpoint's own callbacks: stop the
 * loop there and free after nb_io_loop_run returns. */
void nb_io_coap_free(nb_io_coap *coap);

#endif
