/* Many loopback source addresses through one UDP socket: each simulated device gets its own
 * address in 127.0.0.0/8 (127.10.0.1, 127.10.0.2, ...) and a datagram names the address it
 * leaves from (IP_PKTINFO on sendmmsg); on receipt IP_PKTINFO tells which of them it was sent
 * to. A server on loopback thus sees one peer per device through a handful of sockets, where
 * one socket per device would need one descriptor each. Linux, IPv4 only. Owns the batches of
 * mmsghdr and their buffers; the caller owns the socket. Used by the fleet simulator
 * (src/sim/net.c) and bench_server's load generator. */
#ifndef NB_IO_SRCADDR_H
#define NB_IO_SRCADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"

/* Indexes 0 .. NB_SRCADDR_MAX - 1 have an address: 246 x 256 x 250. */
#define NB_SRCADDR_MAX 15744000u

/* The address of device `index` (port 0): 127.(10 + a / 256).(a % 256).(b + 1) with
 * a = index / 250, b = index % 250, so no last byte is 0 or 255. index < NB_SRCADDR_MAX. */
void nb_srcaddr_of(uint32_t index, nb_addr *out);
/* The index of an address nb_srcaddr_of made (the port is ignored); false for any other. */
bool nb_srcaddr_index(const nb_addr *a, uint32_t *index);

/* A non-blocking IPv4 UDP socket bound to `local` (0.0.0.0 and port 0 for an ephemeral port on
 * every address) with IP_PKTINFO on, its buffers asked for `bufsize` bytes each (the kernel
 * caps them at net.core.rmem_max / wmem_max). The descriptor, or -1 with errno set. */
int nb_srcaddr_socket(const nb_addr *local, int bufsize);

/* A batch of up to n datagrams of at most `slot` bytes each, for sendmmsg or recvmmsg. */
typedef struct nb_srcaddr_batch nb_srcaddr_batch;

nb_err nb_srcaddr_batch_new(unsigned n, size_t slot, nb_srcaddr_batch **out);
void nb_srcaddr_batch_free(nb_srcaddr_batch *b);
unsigned nb_srcaddr_batch_count(const nb_srcaddr_batch *b);
bool nb_srcaddr_batch_full(const nb_srcaddr_batch *b);

/* Queues a datagram from src (its IPv4 address; the socket's port) to dst. NB_ERR_BUSY when
 * the batch is full, NB_ERR_OVERFLOW when len exceeds the slot, NB_ERR_INVAL for a non-IPv4
 * address. */
nb_err nb_srcaddr_batch_push(nb_srcaddr_batch *b, const nb_addr *src, const nb_addr *dst,
                             const uint8_t *data, size_t len);
/* Sends the queued datagrams with sendmmsg (retrying on EINTR) and empties the batch. Returns
 * how many the kernel took; the rest (a full socket buffer: EAGAIN, or an error) are dropped
 * and counted in *dropped, with the first error's errno in *err (0 when none). */
unsigned nb_srcaddr_batch_send(nb_srcaddr_batch *b, int fd, unsigned *dropped, int *err);

/* Reads up to n waiting datagrams (recvmmsg, MSG_DONTWAIT); the count, 0 when none waited.
 * Datagrams longer than the slot are dropped (not counted). */
unsigned nb_srcaddr_batch_recv(nb_srcaddr_batch *b, int fd);
/* Datagram i of the last receive: its bytes, the sender, and the local address it was sent to
 * (from IP_PKTINFO; family 0 when the kernel gave none). Valid until the next receive. */
const uint8_t *nb_srcaddr_batch_get(const nb_srcaddr_batch *b, unsigned i, size_t *len,
                                    nb_addr *from, nb_addr *to);

#endif
