/* Packet captures for interop tests: tshark on the loopback interface while a scenario runs,
 * then display-filter queries over the capture file (CoAP decoded on the test's ports). */
#ifndef NB_CAPTURE_H
#define NB_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nb_test.h"

typedef struct {
  nb_test_proc proc;
  char path[256];
  bool running;
  uint16_t probe_port; /* where readiness probes went; left out of every query */
} nb_capture;

/* Starts `tshark -i lo -f BPF -w FILE` and returns once packets are really being captured
 * (tshark says "Capturing on" well before that): probe datagrams go to a spare port, also
 * captured, until tshark shows one. False, with the reason in why (for a skip message), when
 * tshark is missing or may not capture here. */
bool nb_capture_start(nb_capture *c, const char *bpf, char *why, size_t why_cap);
/* Stops tshark (it writes out what it holds first). */
void nb_capture_stop(nb_capture *c);
/* Number of frames matching a display filter, decoding the given UDP ports as CoAP; -1 on
 * error. With `lines`, also returns tshark's one-line summaries of those frames (heap). */
int nb_capture_count(const nb_capture *c, const uint16_t *coap_ports, size_t port_count,
                     const char *filter, char **lines);
void nb_capture_cleanup(nb_capture *c);

#endif
