/* DTLS 1.2 record and handshake headers (RFC 6347 4.1, 4.2.2) read from raw datagrams, without
 * decrypting anything: counting bytes by traffic class and by handshake message type, and
 * spotting a ClientHello that opens a handshake. */
#ifndef NB_DTLS_RECORD_H
#define NB_DTLS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

enum {
  NB_DTLS_CT_CHANGE_CIPHER_SPEC = 20,
  NB_DTLS_CT_ALERT = 21,
  NB_DTLS_CT_HANDSHAKE = 22,
  NB_DTLS_CT_APPLICATION_DATA = 23,
};

enum {
  NB_DTLS_HS_HELLO_REQUEST = 0,
  NB_DTLS_HS_CLIENT_HELLO = 1,
  NB_DTLS_HS_SERVER_HELLO = 2,
  NB_DTLS_HS_HELLO_VERIFY_REQUEST = 3,
  NB_DTLS_HS_NEW_SESSION_TICKET = 4,
  NB_DTLS_HS_CERTIFICATE = 11,
  NB_DTLS_HS_SERVER_KEY_EXCHANGE = 12,
  NB_DTLS_HS_CERTIFICATE_REQUEST = 13,
  NB_DTLS_HS_SERVER_HELLO_DONE = 14,
  NB_DTLS_HS_CERTIFICATE_VERIFY = 15,
  NB_DTLS_HS_CLIENT_KEY_EXCHANGE = 16,
  NB_DTLS_HS_FINISHED = 20,
};

#define NB_DTLS_RECORD_HEADER_LEN 13
#define NB_DTLS_HANDSHAKE_HEADER_LEN 12
#define NB_DTLS_VERSION_1_2 0xFEFDu

/* One record of a datagram; body points into the datagram. */
typedef struct {
  uint8_t type;
  uint16_t version;
  uint16_t epoch;
  uint64_t seq; /* 48 bits */
  const uint8_t *body;
  size_t body_len;
} nb_dtls_record;

/* Reads the record at r's position; NB_ERR_TRUNCATED if it runs past the datagram. */
nb_err nb_dtls_record_next(nb_reader *r, nb_dtls_record *out);

/* Bytes of the longest prefix of the datagram made of whole records (0 when the first one is
 * cut short). GnuTLS keeps a cut record's bytes and reads the next datagram after them, so
 * sessions only ever see whole records. */
size_t nb_dtls_record_prefix(const uint8_t *dgram, size_t len);

/* One handshake message (or fragment of one) inside a plaintext handshake record. */
typedef struct {
  uint8_t msg_type;
  uint32_t length;
  uint16_t msg_seq;
  uint32_t frag_offset;
  uint32_t frag_len;
  const uint8_t *frag;
} nb_dtls_handshake;

nb_err nb_dtls_handshake_next(nb_reader *r, nb_dtls_handshake *out);

/* What a server needs from a datagram that opens a handshake: the first record is an epoch-0
 * handshake record whose first message is a ClientHello starting at offset 0, and the fields
 * up to the cookie are inside that first fragment (as GnuTLS's cookie check requires). */
typedef struct {
  uint16_t record_version;
  uint16_t client_version;
  uint16_t msg_seq;
  const uint8_t *random; /* 32 bytes */
  size_t cookie_len;
} nb_dtls_client_hello;

bool nb_dtls_parse_client_hello(const uint8_t *dgram, size_t len, nb_dtls_client_hello *out);

/* Bytes and datagrams by class, in and out. Alerts, ChangeCipherSpec and handshake records
 * count as handshake; a datagram counts as application when all its records are application
 * data. Trailing bytes that do not parse as a record count as handshake. */
typedef struct {
  uint64_t bytes;
  uint64_t datagrams;
} nb_dtls_count;

typedef struct {
  nb_dtls_count hs_in, hs_out, app_in, app_out;
} nb_dtls_counters;

void nb_dtls_counters_add(nb_dtls_counters *c, bool outgoing, const uint8_t *dgram, size_t len);

/* Wire bytes by message type, for handshake size reports. A record's 13-byte header is
 * charged to the first message it carries; encrypted handshake records (epoch > 0) are the
 * Finished messages of DTLS 1.2. */
typedef enum {
  NB_DTLS_WIRE_CLIENT_HELLO,
  NB_DTLS_WIRE_HELLO_VERIFY_REQUEST,
  NB_DTLS_WIRE_SERVER_HELLO,
  NB_DTLS_WIRE_CERTIFICATE,
  NB_DTLS_WIRE_SERVER_KEY_EXCHANGE,
  NB_DTLS_WIRE_CERTIFICATE_REQUEST,
  NB_DTLS_WIRE_SERVER_HELLO_DONE,
  NB_DTLS_WIRE_CLIENT_KEY_EXCHANGE,
  NB_DTLS_WIRE_CERTIFICATE_VERIFY,
  NB_DTLS_WIRE_NEW_SESSION_TICKET,
  NB_DTLS_WIRE_CHANGE_CIPHER_SPEC,
  NB_DTLS_WIRE_FINISHED,
  NB_DTLS_WIRE_ALERT,
  NB_DTLS_WIRE_APPLICATION_DATA,
  NB_DTLS_WIRE_OTHER,
  NB_DTLS_WIRE_SLOTS
} nb_dtls_wire_slot;

typedef struct {
  uint64_t bytes[NB_DTLS_WIRE_SLOTS];
  uint64_t messages[NB_DTLS_WIRE_SLOTS];
  uint64_t datagrams;
  uint64_t total_bytes;
} nb_dtls_wire_stats;

void nb_dtls_wire_stats_add(nb_dtls_wire_stats *w, const uint8_t *dgram, size_t len);
const char *nb_dtls_wire_slot_name(nb_dtls_wire_slot slot);

/* A session lost by its server (it restarted, or expired the session): a server that gets
 * records protected under a session it does not hold answers with a fatal alert in the clear
 * (epoch 0, RFC 6347 4.1), the only thing it can say without keys; a client that holds an
 * established session reads it as "the server lost our session" and handshakes again at once.
 * It is not authenticated (anyone can send it), so the client bounds how often it acts on it. */
#define NB_DTLS_ALERT_UNEXPECTED_MESSAGE 10
#define NB_DTLS_LOST_ALERT NB_DTLS_ALERT_UNEXPECTED_MESSAGE
#define NB_DTLS_PLAIN_ALERT_LEN (NB_DTLS_RECORD_HEADER_LEN + 2)

/* Writes the fatal alert `desc` as one epoch-0 record (sequence number seq) into out. */
void nb_dtls_plain_alert(uint8_t desc, uint64_t seq, uint8_t out[NB_DTLS_PLAIN_ALERT_LEN]);
/* True when the datagram's first record is a DTLS 1.2 alert in the clear (epoch 0) of level
 * fatal; *desc (may be NULL) gets its description. */
bool nb_dtls_is_plain_fatal_alert(const uint8_t *dgram, size_t len, int *desc);
/* True when the datagram's first record is a DTLS 1.2 record protected under a session (epoch
 * above 0): what a peer sends on an established session. */
bool nb_dtls_is_protected(const uint8_t *dgram, size_t len);

/* Name of an alert description ("bad_record_mac"); "unknown" for unassigned values. */
const char *nb_dtls_alert_name(int alert);

#endif
