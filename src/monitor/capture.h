/* The monitor's capture shell: reads a pcap/pcapng file (pcapfile.h; any mix of link types
 * across pcapng interfaces) or listens on an interface with libpcap (never sending), with a
 * BPF filter, feeding every frame to a monitor engine. Owns its file or pcap handle while it
 * runs. */
#ifndef NB_MONITOR_CAPTURE_H
#define NB_MONITOR_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "monitor/monitor.h"

/* Default BPF filter: plain and secure CoAP of servers and bootstrap servers, and IP fragments
 * (whose later pieces carry no UDP ports). */
#define NB_MON_DEFAULT_FILTER                                                                    \
  "udp port 5683 or udp port 5684 or udp port 5783 or udp port 5784 or (ip[6:2] & 0x3fff != 0) " \
  "or (ip6 and ip6[6] == 44)"

/* Work the caller does alongside the capture (alert delivery): `between` runs after every
 * batch of frames and, live, at least every 200 ms; `before_finish` once the frames are all
 * read, before the engine's final summary. Either may be NULL. */
typedef struct {
  void (*between)(void *user);
  void (*before_finish)(void *user);
  void *user;
} nb_mon_capture_hooks;

/* Reads a whole pcap or pcapng file ("-": standard input) into the monitor, frames as soon as
 * they are whole (filter may be NULL), running the hooks after every read. Once the file is
 * recognized as a capture the run always ends with nb_monitor_finish_error (the summary), also
 * when it stops early: NB_ERR_TRUNCATED (the file is cut short), NB_ERR_SYNTAX (damaged),
 * NB_ERR_IO (read error); why says what happened. Refused before any frame (no summary):
 * NB_ERR_IO (cannot open), NB_ERR_SYNTAX/NB_ERR_TRUNCATED (not a capture, empty),
 * NB_ERR_UNSUPPORTED (a classic pcap file of an unsupported link type), NB_ERR_INVAL (bad
 * filter). */
nb_err nb_mon_read_file(nb_monitor *m, const char *path, const char *filter, char *why,
                        size_t why_cap);
nb_err nb_mon_read_file_hooked(nb_monitor *m, const char *path, const char *filter,
                               const nb_mon_capture_hooks *hooks, char *why, size_t why_cap);

/* Captures live on an interface until *stop becomes true (checked between batches) or
 * max_packets (0: unlimited) frames were seen. */
nb_err nb_mon_capture_live(nb_monitor *m, const char *iface, const char *filter, volatile int *stop,
                           uint64_t max_packets, char *why, size_t why_cap);
nb_err nb_mon_capture_live_hooked(nb_monitor *m, const char *iface, const char *filter,
                                  volatile int *stop, uint64_t max_packets,
                                  const nb_mon_capture_hooks *hooks, char *why, size_t why_cap);

#endif
