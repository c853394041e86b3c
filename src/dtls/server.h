/* DTLS server context for one coaps socket, sans-I/O. Answers a ClientHello statelessly with a
 * HelloVerifyRequest (RFC 6347 4.2.1, cookie key from the CSPRNG, rotated) until the cookie
 * proves the address, and only then allocates a session; keeps one server session per peer
 * address in a hash table; bounds concurrent handshakes and sessions; expires idle sessions;
 * resumes returning peers with session tickets; runs every session timer from one heap.
 *
 * Half-open handshakes (a peer proves its address with the cookie, then goes silent) are held
 * down four ways: at most max_handshakes_per_source from one source (an IPv4 address or an
 * IPv6 /64, any port; source.h); a handshake whose peer sends nothing through the
 * retransmission schedule (stall_retransmits) ends there, not at the handshake timeout; a
 * share of the table (known_share_pct) is only for sources that completed a handshake within
 * known_ttl_ms; and when the table is full the stalled handshake heard from least recently is
 * evicted for a newcomer (see nb_dtls_room in server.c for who may evict whom). Refusals,
 * evictions and stalls are counted in the stats and logged as one summary line per
 * summary_interval_ms at most, never one line per datagram; the server logs its sessions'
 * failures itself, ten lines per interval at most, the rest counted in that summary.
 *
 * I/O shell use: nb_dtls_server_receive(peer, datagram, now) for each datagram on the socket;
 * plaintext CoAP datagrams come out through handlers.recv, ciphertext through handlers.send;
 * the CoAP layer's send callback maps onto nb_dtls_server_send; call nb_dtls_server_tick at
 * nb_dtls_server_next_deadline. */
#ifndef NB_DTLS_SERVER_H
#define NB_DTLS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"
#include "base/rand.h"
#include "base/time.h"
#include "dtls/cred.h"
#include "dtls/session.h"

typedef struct {
  nb_dtls_session_params session;
  size_t max_sessions;              /* all sessions, default 100000 */
  size_t max_handshakes;            /* sessions still handshaking, default 1000 */
  size_t max_handshakes_per_source; /* of those, from one IPv4 address or IPv6 /64 (any
                                       port); default 16, 0 = no bound */
  unsigned known_share_pct;         /* share of max_handshakes only known sources (that
                                       completed a handshake) may use; default 25 */
  size_t known_sources;             /* sources remembered as known; default 16384 (256 KB),
                                       0 = none (no share is kept) */
  nb_time_ms known_ttl_ms;          /* a source stays known this long after its last
                                       completed handshake; default 7 days */
  unsigned stall_retransmits;       /* a handshake whose peer stays silent while our flight is
                                       retransmitted this many times (session.retransmit_ms,
                                       doubling) ends at the next timeout: 15 s for the
                                       defaults 1 s and 3 */
  bool evict_stalled;               /* a full table evicts a stalled handshake for a
                                       newcomer (see server.c); default true */
  nb_time_ms summary_interval_ms;   /* at most one handshake_pressure log line per interval;
                                       default 60000 */
  nb_time_ms idle_timeout_ms;       /* established and silent this long: closed; default 600000,
                                       0 = never */
  nb_time_ms cookie_rotate_ms;      /* cookie key lifetime (the previous key is still accepted);
                                       default 300000 */
  bool resumption;                  /* session tickets (RFC 5077); default true */
  unsigned lost_alerts_per_s;       /* a datagram protected under a session this server does
                                       not hold (it restarted) is answered with a fatal alert
                                       in the clear (record.h), this many a second at most: 15
                                       bytes for one of 30 or more, nothing amplified; default
                                       1000, 0 = never */
  unsigned nudges_per_s;            /* pace of nb_dtls_server_nudge's alerts; default 500 */
  nb_random_fn random;              /* cookie and ticket keys; default nb_random_system */
  void *random_user;
} nb_dtls_server_config;

void nb_dtls_server_config_default(nb_dtls_server_config *cfg);

typedef struct nb_dtls_server nb_dtls_server;

/* creds must outlive the server. */
nb_err nb_dtls_server_new(const nb_dtls_server_config *cfg, const nb_dtls_creds *creds,
                          const nb_dtls_handlers *h, nb_dtls_server **out);
/* Frees every session without sending anything or calling handlers. */
void nb_dtls_server_free(nb_dtls_server *srv);

/* One datagram from the network. */
void nb_dtls_server_receive(nb_dtls_server *srv, const nb_addr *peer, const uint8_t *data,
                            size_t len, nb_time_ms now);
/* One plaintext datagram to an established peer, at the last `now` the server was given.
 * NB_ERR_NOT_FOUND without a session, NB_ERR_DTLS_NOT_ESTABLISHED during its handshake. */
nb_err nb_dtls_server_send(nb_dtls_server *srv, const nb_addr *peer, const uint8_t *data,
                           size_t len);
/* Runs every timer due at now: retransmissions, handshake timeouts, idle expiry, cookie key
 * rotation. */
void nb_dtls_server_tick(nb_dtls_server *srv, nb_time_ms now);
nb_time_ms nb_dtls_server_next_deadline(const nb_dtls_server *srv);
/* Sends close_notify to the peer and forgets its session (no event). */
nb_err nb_dtls_server_close(nb_dtls_server *srv, const nb_addr *peer, nb_time_ms now);
/* Tells a peer that had a session with an earlier run of this server (a device restored from
 * the store after a restart) that its session is gone: the same fatal alert in the clear as
 * above, queued and sent at nudges_per_s from tick, unless the peer has a session by then. A
 * Niobium client handshakes again at once and updates its registration, so it is reachable
 * within seconds of the restart instead of at its next Update. NB_ERR_NOMEM when the queue
 * (bounded by max_sessions) is full. */
nb_err nb_dtls_server_nudge(nb_dtls_server *srv, const nb_addr *peer);

/* Sessions kept across a restart (session.h, nb_dtls_saved). Export calls fn for every
 * established session it can take out (AES-128-CCM-8; *skipped counts the others, which a
 * restart loses) and returns how many it gave; fn's nb_dtls_saved holds keys and is wiped
 * after the call. Restore adds one as an established session (replacing none: NB_ERR_EXISTS
 * when the peer has one); it is counted in stats.restored and expires when idle like any. */
size_t nb_dtls_server_export(nb_dtls_server *srv, void (*fn)(void *user, const nb_dtls_saved *sv),
                             void *user, size_t *skipped);
nb_err nb_dtls_server_restore(nb_dtls_server *srv, const nb_dtls_saved *sv, nb_time_ms now);

/* The peer's session (identity, counters, suite), or NULL. Borrowed: valid until the next call
 * into the server. */
nb_dtls_session *nb_dtls_server_find(nb_dtls_server *srv, const nb_addr *peer);

typedef struct {
  uint64_t sessions;           /* now, any state */
  uint64_t handshakes;         /* now, in progress */
  uint64_t handshakes_unknown; /* now, in progress from sources not known */
  uint64_t hello_verify_sent;  /* HelloVerifyRequests (cookie missing, stale or wrong) */
  uint64_t cookies_accepted;   /* ClientHellos whose cookie verified (admitted or refused) */
  uint64_t established, resumed, failed, expired, closed, replaced;
  uint64_t admitted_known;    /* handshakes opened in a known source's share */
  uint64_t refused;           /* valid cookie but a limit was reached (any) */
  uint64_t refused_source;    /* ... the bound per source */
  uint64_t evicted;           /* handshakes ended to make room for another */
  uint64_t stalled;           /* handshakes ended: the peer stayed silent (stall_retransmits) */
  uint64_t dropped;           /* datagrams from unknown peers that open no handshake */
  uint64_t lost_alerts;       /* fatal alerts sent for records of a session not held */
  uint64_t nudged;            /* of those, sent by nb_dtls_server_nudge */
  uint64_t restored;          /* sessions added by nb_dtls_server_restore */
  nb_dtls_counters stateless; /* ClientHellos answered and HelloVerifyRequests, no session */
} nb_dtls_server_stats;

void nb_dtls_server_get_stats(const nb_dtls_server *srv, nb_dtls_server_stats *out);

#endif
