/* One DTLS 1.2 session on GnuTLS, sans-I/O: fed ciphertext datagrams and `now`, it emits
 * ciphertext datagrams and plaintext application datagrams through callbacks and tells its
 * next deadline. A device holds one client session per server; a server context (server.h)
 * holds one server session per peer address. Owns the GnuTLS session, the authenticated peer
 * identity and the per-session byte counters.
 *
 * Time: GnuTLS reads its own clock for DTLS retransmission and handshake timeouts. While one of
 * these functions runs, GnuTLS's clock is replaced (process-wide hook, see session.c) by the
 * `now` passed in, so gnutls_dtls_get_timeout() and every retransmission decision follow the
 * caller's clock: real time in the I/O shell, virtual time in tests. */
#ifndef NB_DTLS_SESSION_H
#define NB_DTLS_SESSION_H

#include <gnutls/dtls.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/time.h"
#include "dtls/cred.h"
#include "dtls/record.h"
#include "dtls/rx.h"

typedef struct nb_dtls_session nb_dtls_session;

typedef enum {
  NB_DTLS_IDLE,        /* client created, handshake not started */
  NB_DTLS_HANDSHAKING, /* flights in progress */
  NB_DTLS_ESTABLISHED, /* application data flows */
  NB_DTLS_CLOSED,      /* close_notify sent or received */
  NB_DTLS_FAILED,      /* fatal alert, timeout or rejected peer */
} nb_dtls_state;

const char *nb_dtls_state_name(nb_dtls_state state);

typedef enum {
  NB_DTLS_EV_ESTABLISHED, /* handshake done; nb_dtls_session_peer() tells who the peer is */
  NB_DTLS_EV_CLOSED,      /* peer's close_notify (err NB_ERR_DTLS_CLOSED), idle expiry
                             (NB_ERR_DTLS_EXPIRED) or replacement (NB_ERR_DTLS_REPLACED) */
  NB_DTLS_EV_FAILED,      /* handshake or session failure; err and alert say why */
} nb_dtls_event_type;

typedef struct {
  nb_dtls_event_type type;
  nb_err err;      /* NB_OK for ESTABLISHED */
  int alert;       /* alert description involved, -1 when none */
  bool alert_sent; /* true: we sent it; false: the peer did */
  bool resumed;    /* ESTABLISHED through an abbreviated (resumed) handshake */
} nb_dtls_event;

/* Ciphertext datagram for the network. Same shape as the CoAP layer's send callback. It must
 * not call back into this session or its server context (queue or sendto only). */
typedef void (*nb_dtls_send_fn)(void *user, const nb_addr *peer, const uint8_t *data, size_t len);
/* Plaintext application datagram (a CoAP message) from an established peer. May call
 * nb_dtls_*_send and nb_dtls_*_close. */
typedef void (*nb_dtls_recv_fn)(void *user, const nb_addr *peer, const uint8_t *data, size_t len,
                                nb_time_ms now);
/* State changes. s is valid during the call only. May call nb_dtls_*_send and _close. */
typedef void (*nb_dtls_event_fn)(void *user, const nb_addr *peer, nb_dtls_session *s,
                                 const nb_dtls_event *ev, nb_time_ms now);

typedef struct {
  nb_dtls_send_fn send;   /* required */
  nb_dtls_recv_fn recv;   /* required */
  nb_dtls_event_fn event; /* optional */
  void *user;
} nb_dtls_handlers;

typedef struct nb_dtls_session_params {
  unsigned mtu;                    /* datagram size GnuTLS fragments to; default 1200 */
  nb_time_ms retransmit_ms;        /* first retransmission timeout (then doubles); 1000 */
  nb_time_ms handshake_timeout_ms; /* whole handshake; default 60000 */
  size_t max_queued;               /* client: bytes sent before establishment that are
                                      queued until it; default 8192 */
  bool session_ticket;             /* client: ask for a resumption ticket (RFC 5077); the
                                      server's ticket costs ~350-500 bytes once; default true */
} nb_dtls_session_params;

void nb_dtls_session_params_default(nb_dtls_session_params *p);

/* ---- client sessions (owned by the caller) ---- */

/* creds must outlive the session; params NULL = defaults. Nothing is sent until connect (or
 * the first send). */
nb_err nb_dtls_client_new(const nb_dtls_creds *creds, const nb_dtls_session_params *params,
                          const nb_dtls_handlers *h, const nb_addr *server, nb_time_ms now,
                          nb_dtls_session **out);
/* Offers resumption with data saved from an earlier session (nb_dtls_session_resume_data);
 * before connect. The server falls back to a full handshake if it cannot resume. */
nb_err nb_dtls_client_set_resume(nb_dtls_session *s, const uint8_t *data, size_t len);
/* Sends the first ClientHello. */
nb_err nb_dtls_client_connect(nb_dtls_session *s, nb_time_ms now);

/* ---- server sessions (created and owned by a server context) ---- */

/* A server session for a ClientHello whose cookie verified (prestate from
 * gnutls_dtls_cookie_verify); ticket_key enables resumption with session tickets (NULL: off). */
nb_err nb_dtls_session_new_server(const nb_dtls_creds *creds, const nb_dtls_session_params *params,
                                  const nb_dtls_handlers *h, const nb_addr *peer,
                                  const gnutls_datum_t *ticket_key,
                                  gnutls_dtls_prestate_st *prestate, nb_time_ms now,
                                  nb_dtls_session **out);

/* ---- server sessions kept across a restart (docs/server.md, "Restart and DTLS sessions") ----
 * GnuTLS cannot import a connection state, so an established AES-128-CCM-8 session is taken
 * out as its keys, sequence numbers and replay window (gnutls_record_get_state), and a later
 * process goes on with it on nettle (rx.h) in both directions: the device never notices. */

#define NB_DTLS_SUITE_MAX 64
/* A restored session sends from here past the saved sequence number: a record the old process
 * might have sent after it saved can never share a nonce with one of the new process's. */
#define NB_DTLS_RESTORE_SEQ_GAP 4096

typedef struct {
  nb_addr peer;
  nb_dtls_peer who;              /* the authenticated peer (identity, secure ID, subject, key) */
  char suite[NB_DTLS_SUITE_MAX]; /* IANA name */
  uint16_t epoch;
  uint8_t read_key[NB_DTLS_CCM8_KEY], read_salt[NB_DTLS_CCM8_SALT];
  uint8_t write_key[NB_DTLS_CCM8_KEY], write_salt[NB_DTLS_CCM8_SALT];
  uint64_t write_seq;    /* next sequence number of ours */
  nb_dtls_window window; /* the peer's records accepted so far */
  /* The caller's: a digest of the credential the session was made with (a PSK's SHA-256),
   * checked against the current one before the session is restored; zeros when none. */
  uint8_t cred_digest[32];
} nb_dtls_saved;

/* An established server session's state into out (which then holds keys: wipe it with
 * gnutls_memset). NB_ERR_UNSUPPORTED for a suite other than AES-128-CCM-8, NB_ERR_STATE when
 * not established or not a server. */
nb_err nb_dtls_session_export(nb_dtls_session *s, nb_dtls_saved *out);
/* A server session that goes on from sv, established, its records opened and sealed outside
 * GnuTLS; our sequence numbers start NB_DTLS_RESTORE_SEQ_GAP above the saved one. */
nb_err nb_dtls_session_new_restored(const nb_dtls_creds *creds,
                                    const nb_dtls_session_params *params, const nb_dtls_handlers *h,
                                    const nb_dtls_saved *sv, nb_time_ms now, nb_dtls_session **out);
/* True for a session made by nb_dtls_session_new_restored. */
bool nb_dtls_session_restored(const nb_dtls_session *s);

/* ---- both sides ---- */

/* One ciphertext datagram from the peer. Errors are informational (the datagram is dropped or
 * the session failed; an event says which). */
nb_err nb_dtls_session_receive(nb_dtls_session *s, const uint8_t *data, size_t len, nb_time_ms now);
/* Encrypts one application datagram, at the last `now` the session was given. Client
 * sessions queue data sent before establishment (and start the handshake if idle).
 * NB_ERR_OVERFLOW when len exceeds what one record of the MTU can carry. */
nb_err nb_dtls_session_send(nb_dtls_session *s, const uint8_t *data, size_t len);
/* Runs timers due at now (retransmissions, handshake timeout). */
void nb_dtls_session_tick(nb_dtls_session *s, nb_time_ms now);
/* When tick must next run; NB_TIME_NEVER when nothing is pending. */
nb_time_ms nb_dtls_session_next_deadline(const nb_dtls_session *s);
/* Sends close_notify (if the handshake got far enough) and enters CLOSED. No event. */
nb_err nb_dtls_session_close(nb_dtls_session *s, nb_time_ms now);
/* Safe inside callbacks: the memory goes when the outermost call returns. */
void nb_dtls_session_free(nb_dtls_session *s);

nb_dtls_state nb_dtls_session_state(const nb_dtls_session *s);
bool nb_dtls_session_is_server(const nb_dtls_session *s);
const nb_addr *nb_dtls_session_addr(const nb_dtls_session *s);
/* The authenticated peer; NULL until ESTABLISHED (or when out of memory: a PSK client's
 * record is made on the first call). */
const nb_dtls_peer *nb_dtls_session_peer(nb_dtls_session *s);
bool nb_dtls_session_resumed(const nb_dtls_session *s);
/* True when the peer's application records are opened outside GnuTLS (an established
 * AES-128-CCM-8 session, dtls/rx.h); false while GnuTLS opens every record (other suites). */
bool nb_dtls_session_offloaded(const nb_dtls_session *s);
/* IANA name of the negotiated suite ("TLS_PSK_WITH_AES_128_CCM_8"); "" before. */
const char *nb_dtls_session_suite(const nb_dtls_session *s);
void nb_dtls_session_counters(const nb_dtls_session *s, nb_dtls_counters *out);
/* Last time application data or the handshake's completion was seen (for idle expiry). */
nb_time_ms nb_dtls_session_last_activity(const nb_dtls_session *s);
/* When the handshake started (for the concurrent-handshake bound and logs). */
nb_time_ms nb_dtls_session_started(const nb_dtls_session *s);
/* Client: data to resume this session later (appended to out); ESTABLISHED only. */
nb_err nb_dtls_session_resume_data(const nb_dtls_session *s, nb_bytes *out);
/* Records GnuTLS discarded (bad MAC, replay, wrong epoch) since the session began. */
unsigned nb_dtls_session_discarded(const nb_dtls_session *s);

/* True when GnuTLS's clock follows `now` (the private hook was found at run time). Without
 * it retransmissions still happen when tick runs, but only once real time has also passed. */
bool nb_dtls_virtual_clock_available(void);

#endif
