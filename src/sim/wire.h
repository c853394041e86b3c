/* The fleet simulator's view of the wire: every datagram a simulated device sends or receives,
 * classed by LwM2M message type (Register, Notify, Bootstrap-Write, a DTLS handshake
 * record...) and counted in datagrams and bytes per direction, and the latency of the
 * devices' own requests (first transmission to answer) in log-linear histograms. Pure
 * functions and counters, no I/O: the fleet feeds it the datagrams as they cross its edge (at
 * the socket: ciphertext for DTLS) and the CoAP messages inside them. Owns nothing on the
 * heap. */
#ifndef NB_SIM_WIRE_H
#define NB_SIM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* LwM2M message types. A request class and the class of its answer (_RESP) go in pairs. */
typedef enum {
  NB_SIM_MSG_OTHER,        /* a CoAP message that is none of the below */
  NB_SIM_MSG_UNPARSED,     /* not CoAP (or a DTLS record we could not place) */
  NB_SIM_MSG_DTLS_HS,      /* DTLS handshake and ChangeCipherSpec records */
  NB_SIM_MSG_DTLS_ALERT,   /* DTLS alerts (close_notify...) */
  NB_SIM_MSG_EMPTY_ACK,    /* an empty ACK we cannot pair with a request */
  NB_SIM_MSG_RST,          /* Reset */
  NB_SIM_MSG_BS_REQUEST,   /* POST /bs */
  NB_SIM_MSG_BS_DISCOVER,  /* GET with Accept link-format from the bootstrap server */
  NB_SIM_MSG_BS_READ,      /* GET from the bootstrap server */
  NB_SIM_MSG_BS_WRITE_SEC, /* PUT/POST of Security (/0...) from the bootstrap server */
  NB_SIM_MSG_BS_WRITE_SRV, /* PUT/POST of Server (/1...) from the bootstrap server */
  NB_SIM_MSG_BS_WRITE,     /* PUT/POST of anything else from the bootstrap server */
  NB_SIM_MSG_BS_DELETE,    /* DELETE from the bootstrap server */
  NB_SIM_MSG_BS_FINISH,    /* POST /bs from the bootstrap server */
  NB_SIM_MSG_REGISTER,     /* POST /rd?ep= */
  NB_SIM_MSG_UPDATE,       /* POST /rd/<loc> */
  NB_SIM_MSG_DEREGISTER,   /* DELETE /rd/<loc> */
  NB_SIM_MSG_READ,         /* GET */
  NB_SIM_MSG_DISCOVER,     /* GET with Accept link-format */
  NB_SIM_MSG_OBSERVE,      /* GET with Observe 0 */
  NB_SIM_MSG_CANCEL,       /* GET with Observe 1 */
  NB_SIM_MSG_WRITE,        /* PUT or POST with a body to an instance */
  NB_SIM_MSG_WRITE_ATTR,   /* PUT without a body, with a query */
  NB_SIM_MSG_EXECUTE,      /* POST to a resource */
  NB_SIM_MSG_CREATE,       /* POST to an object */
  NB_SIM_MSG_DELETE,       /* DELETE */
  NB_SIM_MSG_COMPOSITE,    /* FETCH / iPATCH (Read-, Observe-, Write-Composite) */
  NB_SIM_MSG_NOTIFY,       /* a 2.05 with Observe from the device (CON or NON) */
  NB_SIM_MSG_SEND,         /* POST /dp */
  NB_SIM_MSG_REQUESTS,     /* first response class: request class + NB_SIM_MSG_RESP_OFFSET */
  NB_SIM_MSG_RESP_OFFSET = NB_SIM_MSG_REQUESTS - NB_SIM_MSG_BS_REQUEST,
  NB_SIM_MSG_COUNT = NB_SIM_MSG_REQUESTS + (NB_SIM_MSG_REQUESTS - NB_SIM_MSG_BS_REQUEST)
} nb_sim_msg;

/* The answer class of request class c (c itself when it is not a request class). */
static inline nb_sim_msg nb_sim_msg_resp(nb_sim_msg c) {
  return c >= NB_SIM_MSG_BS_REQUEST && c < NB_SIM_MSG_REQUESTS
             ? (nb_sim_msg)(c + NB_SIM_MSG_RESP_OFFSET)
             : c;
}
/* "Register", "Register response", "DTLS handshake"... */
const char *nb_sim_msg_name(nb_sim_msg c);
/* A name without spaces for JSON keys and plain lines: "register", "register_resp". */
const char *nb_sim_msg_key(nb_sim_msg c);

/* What a CoAP message is, as far as the message alone tells. */
typedef struct {
  nb_sim_msg cls; /* the request class (or NOTIFY) when is_request/notify, else OTHER */
  bool parsed;
  bool is_request, is_response, is_empty_ack, is_rst, confirmable;
  uint16_t mid;
} nb_sim_coap_info;

/* Classes a plaintext CoAP datagram. up: sent by the device; from_bs: exchanged with the
 * bootstrap server. */
void nb_sim_classify(const uint8_t *data, size_t len, bool up, bool from_bs, nb_sim_coap_info *out);

/* The DTLS content type of a record datagram (20..25), 0 when it is none. */
uint8_t nb_sim_dtls_content_type(const uint8_t *data, size_t len);

/* ---- counters ---- */
typedef struct {
  uint64_t datagrams[2]; /* [0] up (device to server), [1] down */
  uint64_t bytes[2];     /* UDP payload bytes */
} nb_sim_wire_row;

/* Log-linear latency histogram in ms: exact below 16 ms, then 8 buckets per power of two (at
 * most 12.5 % off), up to about 35 minutes. */
#define NB_SIM_HIST_BUCKETS 200
typedef struct {
  uint64_t count, sum_ms, max_ms;
  uint32_t bucket[NB_SIM_HIST_BUCKETS];
} nb_sim_hist;

void nb_sim_hist_add(nb_sim_hist *h, uint64_t ms);
/* The value at quantile q (0..1) as the upper bound of its bucket; 0 when empty. */
uint64_t nb_sim_hist_quantile(const nb_sim_hist *h, double q);
void nb_sim_hist_merge(nb_sim_hist *into, const nb_sim_hist *from);

typedef struct {
  nb_sim_wire_row rows[NB_SIM_MSG_COUNT];    /* every datagram */
  nb_sim_wire_row bs_rows[NB_SIM_MSG_COUNT]; /* those exchanged with the bootstrap server */
  nb_sim_hist latency[NB_SIM_MSG_REQUESTS];  /* per request class (by the device) */
  nb_sim_hist all_latency;                   /* every request class together */
} nb_sim_wire;

/* Counts a datagram of class cls; bs: exchanged with the bootstrap server. */
void nb_sim_wire_count(nb_sim_wire *w, nb_sim_msg cls, bool up, bool bs, size_t len);

#endif
