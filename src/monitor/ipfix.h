/* IPFIX export of the monitor's CoAP/LwM2M flows with libfixbuf (RFC 7011): message events are
 * counted into flows keyed by (addresses, ports, CoAP code, type, path), carrying the LwM2M
 * endpoint, operation and object/instance/resource as enterprise-specific elements (PEN 32473,
 * the documentation PEN of RFC 5612); each flush writes the flows as delta records to a file
 * or to a collector over UDP or TCP, then starts counting afresh. Owns its table and exporter. */
#ifndef NB_MONITOR_IPFIX_H
#define NB_MONITOR_IPFIX_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "monitor/monitor.h"

#define NB_MON_IPFIX_PEN 32473u
#define NB_MON_IPFIX_TEMPLATE 256u
#define NB_MON_IPFIX_NONE 65535u /* object/instance/resource absent */

typedef struct nb_mon_ipfix nb_mon_ipfix;

/* target: "FILE" with to_file, else "HOST:PORT", "udp://HOST:PORT" or "tcp://HOST:PORT"
 * (IPv6 hosts in brackets). NULL with the reason in why. */
nb_mon_ipfix *nb_mon_ipfix_open(const char *target, bool to_file, char *why, size_t why_cap);
/* Counts a message event into its flow (other events are ignored). May flush when the table
 * is full. */
nb_err nb_mon_ipfix_add(nb_mon_ipfix *x, const nb_mon_event *ev);
/* Exports every flow counted since the last flush and empties the table. */
nb_err nb_mon_ipfix_flush(nb_mon_ipfix *x, char *why, size_t why_cap);
/* Flushes, then closes the exporter (the file is complete afterwards). */
nb_err nb_mon_ipfix_close(nb_mon_ipfix *x, char *why, size_t why_cap);
/* Records exported so far. */
uint64_t nb_mon_ipfix_records(const nb_mon_ipfix *x);

#endif
