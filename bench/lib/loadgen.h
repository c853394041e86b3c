/* Load generator of bench_server, run as a separate process (`bench_server --generate ...`):
 * simulated LwM2M devices, each on its own loopback source address (127.10.x.y through one
 * socket with IP_PKTINFO), that register, answer the server's Observe and stream notifications
 * in bursts of NON ending with one CON under a bounded window; in NoSec, in DTLS-PSK (a real
 * handshake per device) or as the same datagrams against a bare echo server. Owns its socket,
 * devices and DTLS sessions; prints one result line on stdout. */
#ifndef NB_BENCH_LOADGEN_H
#define NB_BENCH_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define NB_BENCH_PSK_LEN 16

/* Endpoint name and PSK identity of device `index` ("dev-000042"). */
void nb_bench_device_name(uint32_t index, char *buf, size_t cap);
/* PSK of device `index`, derived from the run's random master key (both processes know it). */
void nb_bench_device_psk(const uint8_t master[NB_BENCH_PSK_LEN], uint32_t index,
                         uint8_t key[NB_BENCH_PSK_LEN]);

/* The generator process. Options:
 *   --mode echo|coap|dtls  target: bare echo server (datagrams only), NoSec or DTLS-PSK server
 *   --port P               target UDP port on 127.0.0.1
 *   --devices N            simulated devices (at most 2,000,000)
 *   --notifications M      notifications in all (0: register only)
 *   --window W             notifications (or registrations) in flight at most
 *   --burst K              notifications per burst: K-1 NON and a CON that covers them
 *   --pad BYTES            echo mode: extra payload bytes (to match DTLS datagram sizes)
 *   --psk HEX              dtls mode: the master key of nb_bench_device_psk
 *   --cpu C                pin to CPU C
 * Echo mode registers only when M is 0 (the registration baseline). Exit 0 when every
 * registration and notification was answered, 1 otherwise, 2 on bad options. */
int nb_bench_loadgen_main(int argc, char **argv);

/* What the generator prints, parsed back by the measuring process. */
typedef struct {
  bool ok;
  long registered;
  double reg_s; /* first Register sent to last answered */
  long sent, covered, rst;
  double stream_s;        /* first notification sent to last covered */
  double cpu_s;           /* generator CPU time during the stream */
  long notif_bytes;       /* UDP payload of one notification as sent (ciphertext in DTLS) */
  long retransmitted;     /* CONs of the stream sent again after 2 s without an answer */
  long reg_retransmitted; /* Registers sent again after 2 s without an answer */
} nb_bench_gen_result;

nb_err nb_bench_gen_result_parse(const char *text, nb_bench_gen_result *out);

#endif
