/* Application records of an established DTLS 1.2 session opened outside GnuTLS: for the
 * AES-128-CCM-8 suites (the LwM2M mandatory ones) the keys GnuTLS negotiated are taken once
 * with gnutls_record_get_state (the interface it offers for offloading the record layer) and
 * each record is checked against the replay window and opened with nettle in place. GnuTLS's
 * own path costs twice the cipher per record (a buffer allocation, copies and locks), which a
 * server pays for every notification. Everything else (alerts, handshake records, other
 * suites, other epochs) stays with GnuTLS. Owns the key schedule (wiped when freed). */
#ifndef NB_DTLS_RX_H
#define NB_DTLS_RX_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "dtls/record.h"

/* The epoch application data of a DTLS 1.2 session travels in (no renegotiation). */
#define NB_DTLS_RX_EPOCH 1

/* Replay window (RFC 6347 4.1.2.6) over the sequence numbers of one epoch, fed by the records
 * this module opens and by those GnuTLS delivered, so that no record is accepted twice whichever
 * path it takes. */
typedef struct {
  uint64_t max;  /* highest sequence number accepted */
  uint64_t bits; /* bit i: max - i was accepted */
  bool any;
} nb_dtls_window;

/* True when seq was not accepted yet and is not older than the 64 records before max. */
bool nb_dtls_window_fresh(const nb_dtls_window *w, uint64_t seq);
void nb_dtls_window_mark(nb_dtls_window *w, uint64_t seq);

typedef struct nb_dtls_rx nb_dtls_rx;

/* The read state of gs once its handshake completed; NULL when its suite is not
 * AES-128-CCM-8 (GnuTLS keeps every record then) or memory is short. */
nb_dtls_rx *nb_dtls_rx_new(gnutls_session_t gs);
void nb_dtls_rx_free(nb_dtls_rx *rx);
/* True for a record this module opens: application data of NB_DTLS_RX_EPOCH. */
bool nb_dtls_rx_takes(const nb_dtls_record *rec);
/* Opens rec into out (at least rec->body_len bytes): NB_OK with the plaintext length and the
 * record's sequence number marked in w; NB_ERR_DTLS_REPLAY for a record seen before or too old,
 * NB_ERR_DTLS_BAD_MAC for one that does not authenticate (both to be dropped silently, RFC
 * 6347 4.1.2.7; w is left as it was). */
nb_err nb_dtls_rx_open(nb_dtls_rx *rx, nb_dtls_window *w, const nb_dtls_record *rec, uint8_t *out,
                       size_t *out_len);

/* ---- a restored session's record layer (session.h, nb_dtls_session_new_restored) ----
 * The same key schedule made from raw keys saved across a restart, for either direction (CCM
 * only ever runs AES forwards). */
#define NB_DTLS_CCM8_KEY 16
#define NB_DTLS_CCM8_SALT 4
/* Bytes a sealed record adds to its plaintext: header, explicit nonce, tag. */
#define NB_DTLS_CCM8_OVERHEAD (NB_DTLS_RECORD_HEADER_LEN + 8 + 8)
nb_dtls_rx *nb_dtls_rx_from_keys(const uint8_t key[NB_DTLS_CCM8_KEY],
                                 const uint8_t salt[NB_DTLS_CCM8_SALT]);
/* One record of `type` at (epoch, seq) sealed as GnuTLS would (explicit nonce = epoch || seq,
 * RFC 6655 3): len + NB_DTLS_CCM8_OVERHEAD bytes into out; returns that length. */
size_t nb_dtls_rx_seal(nb_dtls_rx *k, uint8_t type, uint16_t epoch, uint64_t seq,
                       const uint8_t *data, size_t len, uint8_t *out);

#endif
