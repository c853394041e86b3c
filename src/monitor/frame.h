/* Captured frames down to UDP: link layers (Ethernet with VLAN tags, Linux cooked SLL/SLL2,
 * BSD loopback/NULL, raw IP), IPv4 (options, fragments) and IPv6 (extension headers skipped,
 * fragment header spotted). Pure parsing over the caller's bytes: nothing is copied or kept. */
#ifndef NB_MONITOR_FRAME_H
#define NB_MONITOR_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"

/* pcap LINKTYPE_* values this decoder knows. */
enum {
  NB_LINK_NULL = 0,
  NB_LINK_ETHERNET = 1,
  NB_LINK_RAW = 101,
  NB_LINK_LOOP = 108,
  NB_LINK_SLL = 113,
  NB_LINK_IPV4 = 228,
  NB_LINK_IPV6 = 229,
  NB_LINK_SLL2 = 276,
};

typedef enum {
  NB_FRAME_UDP,      /* a whole UDP datagram: src/dst and payload are set */
  NB_FRAME_FRAGMENT, /* an IP fragment (not reassembled): addresses, frag_* are set */
  NB_FRAME_OTHER,    /* a well-formed frame that carries no UDP (ARP, TCP, ICMP...) */
  NB_FRAME_MALFORMED /* cut short or inconsistent: reason says where */
} nb_frame_kind;

typedef struct {
  nb_frame_kind kind;
  nb_addr src, dst; /* ports are 0 for fragments other than the first */
  const uint8_t *payload;
  size_t payload_len;
  uint8_t ip_version;
  uint32_t frag_id;     /* IPv4 identification or IPv6 fragment identification */
  uint32_t frag_offset; /* bytes */
  bool frag_more;       /* More Fragments flag */
  uint8_t ip_proto;     /* transport protocol number (after extension headers) */
  uint16_t vlan;        /* outermost VLAN ID, 0 when untagged */
  const char *reason;   /* static text for NB_FRAME_MALFORMED */
} nb_frame;

/* Decodes one captured frame of pcap link type `linktype`. NB_ERR_UNSUPPORTED for an unknown
 * link type; otherwise NB_OK with out->kind telling what was found. */
nb_err nb_frame_decode(int linktype, const uint8_t *data, size_t len, nb_frame *out);

/* True for the link types nb_frame_decode accepts. */
bool nb_frame_linktype_supported(int linktype);

#endif
