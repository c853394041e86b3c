/* The fleet simulator's sockets, in the libuv loop: every simulated device has its own source
 * address and port, so a server sees one peer (and one DTLS session) per device. Two ways:
 * shared: a few IPv4 sockets on all addresses, each device leaving from its own loopback
 *   address 127.10.x.y (src/io/srcaddr.h) - for a server on 127.0.0.0/8, any fleet size, a
 *   handful of descriptors;
 * per-device: one socket per device bound to a local address with an ephemeral port - for any
 *   server (IPv4 or IPv6), one descriptor per device (the soft limit is raised to the hard
 *   one; more devices than that is an error that says so).
 * Datagrams out are batched (sendmmsg) until the loop is about to wait or a batch is full;
 * datagrams in are read in batches (recvmmsg) and handed to the fleet with their device.
 * Owns the sockets, their uv_poll handles and the batches; not the fleet. */
#ifndef NB_SIM_NET_H
#define NB_SIM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"
#include "io/loop.h"
#include "sim/fleet.h"

typedef struct nb_sim_net nb_sim_net;

typedef enum { NB_SIM_SOCK_AUTO, NB_SIM_SOCK_SHARED, NB_SIM_SOCK_PER_DEVICE } nb_sim_sockets;
nb_err nb_sim_sockets_parse(const char *text, nb_sim_sockets *out);

typedef struct {
  uint32_t devices;
  nb_sim_sockets mode;  /* AUTO: shared when server is IPv4 loopback, else per device */
  nb_addr server;       /* the (bootstrap) server the devices talk to */
  const nb_addr *local; /* per-device: the address to bind (NULL: 127.0.0.1 or ::1 for a
                           loopback server, else any address of the server's family) */
  uint32_t first_addr;  /* shared: device i leaves from nb_srcaddr_of(first_addr + i) */
} nb_sim_net_config;

typedef struct {
  nb_sim_sockets mode; /* as chosen */
  unsigned sockets;    /* open now */
  uint64_t rx, tx;     /* datagrams */
  uint64_t rx_stray;   /* datagrams to no device of ours */
  uint64_t tx_dropped; /* refused by the kernel (a full socket buffer, no descriptor...) */
  int tx_errno;        /* the last refusal's errno */
} nb_sim_net_stats;

/* NB_ERR_UNSUPPORTED (with why) when the mode cannot work for this server (shared mode and a
 * server that is not on 127.0.0.0/8, or more devices than addresses); NB_ERR_BUSY when the
 * descriptor limit cannot be raised far enough for per-device sockets. */
nb_err nb_sim_net_new(nb_io_loop *loop, const nb_sim_net_config *cfg, nb_sim_net **out, char *why,
                      size_t cap);
/* Where received datagrams go. */
void nb_sim_net_attach(nb_sim_net *n, nb_sim_fleet *f);
/* nb_sim_send_fn: queues a datagram of device dev (user is the nb_sim_net). */
void nb_sim_net_send(void *user, uint32_t dev, const nb_addr *peer, const uint8_t *data,
                     size_t len);
/* Sends what is queued (call before the loop waits). */
void nb_sim_net_flush(nb_sim_net *n);
void nb_sim_net_get_stats(const nb_sim_net *n, nb_sim_net_stats *out);
/* The address and port device dev uses (family 0 before its socket exists). */
void nb_sim_net_device_addr(const nb_sim_net *n, uint32_t dev, nb_addr *out);
/* Closes every socket; the memory goes once libuv has closed the handles. */
void nb_sim_net_free(nb_sim_net *n);

#endif
