/* Passive decryption of DTLS 1.2 sessions for the monitor (RFC 5246 5/6.3/8.1, RFC 4279 2,
 * RFC 7627, RFC 6655, RFC 5077): follows one session's handshake (randoms, suite, extended
 * master secret, PSK identity, session ID and ticket, fragments reassembled), gets the master
 * secret from a known PSK, from a key log (NSS `CLIENT_RANDOM` lines) or, for an abbreviated
 * handshake, from the session it resumes, and opens AES-128-CCM-8 and AES-128-CBC-SHA256
 * records (PSK and ECDHE-ECDSA suites). Owns the table of known keys (`identity,hexkey` lines
 * and key-log masters) and the cache of resumable sessions. Keys never leave this module. */
#ifndef NB_MONITOR_DTLSDEC_H
#define NB_MONITOR_DTLSDEC_H

#include <nettle/sha2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "dtls/record.h"

#define NB_DTLS_SUITE_PSK_AES128_CCM8 0xC0A8u
#define NB_DTLS_SUITE_PSK_AES128_CBC_SHA256 0x00AEu
#define NB_DTLS_SUITE_ECDHE_ECDSA_AES128_CCM8 0xC0AEu
#define NB_DTLS_SUITE_ECDHE_ECDSA_AES128_CBC_SHA256 0xC023u
#define NB_DTLS_MASTER_LEN 48
#define NB_DTLS_HS_MAX 65536 /* largest handshake message reassembled */

/* ---- known keys */
typedef struct nb_mon_psks nb_mon_psks;

nb_mon_psks *nb_mon_psks_new(void);
void nb_mon_psks_free(nb_mon_psks *p);
nb_err nb_mon_psks_add(nb_mon_psks *p, const uint8_t *identity, size_t identity_len,
                       const uint8_t *key, size_t key_len);
/* dst's PSKs become src's (a database read again: rotated keys replaced, deleted ones gone);
 * src is left without PSKs, key-log masters of both stay where they are. */
void nb_mon_psks_take_keys(nb_mon_psks *dst, nb_mon_psks *src);
/* Reads `identity,hexkey` lines (# comments, blank lines); on error *bad_line is the line. */
nb_err nb_mon_psks_parse(nb_mon_psks *p, const char *text, size_t len, size_t *bad_line);
/* The key of an identity, NULL when unknown. */
const uint8_t *nb_mon_psks_find(const nb_mon_psks *p, const uint8_t *identity, size_t len,
                                size_t *key_len);
size_t nb_mon_psks_count(const nb_mon_psks *p);
/* Key log (the NSS format GnuTLS and others write to $SSLKEYLOGFILE): `CLIENT_RANDOM <64 hex>
 * <96 hex>` lines give a session's master secret; other labels (TLS 1.3), comments and blank
 * lines are skipped. */
nb_err nb_mon_keylog_parse(nb_mon_psks *p, const char *text, size_t len, size_t *bad_line);
nb_err nb_mon_psks_add_master(nb_mon_psks *p, const uint8_t client_random[32],
                              const uint8_t master[NB_DTLS_MASTER_LEN]);
/* The master secret logged for a client random, NULL when unknown. */
const uint8_t *nb_mon_psks_master(const nb_mon_psks *p, const uint8_t client_random[32]);
size_t nb_mon_psks_masters(const nb_mon_psks *p);

/* ---- resumable sessions: master secrets by session ID and by ticket, the oldest dropped
 * beyond the capacity */
typedef struct nb_dtls_cache nb_dtls_cache;

typedef enum { NB_DTLS_CACHE_SESSION_ID = 'S', NB_DTLS_CACHE_TICKET = 'T' } nb_dtls_cache_kind;

nb_dtls_cache *nb_dtls_cache_new(size_t cap);
void nb_dtls_cache_free(nb_dtls_cache *c);
/* Remembers a master secret under a session ID or a ticket digest (1..32 bytes; others are
 * ignored); the same key again replaces it, a new one beyond the capacity drops the oldest. */
void nb_dtls_cache_put(nb_dtls_cache *c, nb_dtls_cache_kind kind, const uint8_t *id, size_t len,
                       const uint8_t master[NB_DTLS_MASTER_LEN]);
/* The master secret remembered under that key, NULL when unknown. */
const uint8_t *nb_dtls_cache_get(const nb_dtls_cache *c, nb_dtls_cache_kind kind, const uint8_t *id,
                                 size_t len);
size_t nb_dtls_cache_count(const nb_dtls_cache *c);

/* ---- handshake reassembly: one message at a time per sender, fragments in order (each may
 * overlap what came before, as retransmissions do) */
typedef struct {
  uint8_t *buf;
  uint8_t type;
  uint16_t msg_seq;
  uint32_t length, have; /* bytes [0, have) received */
  bool active;
} nb_dtls_reasm;

/* Feeds one fragment; true when *out is the whole message (its frag points into r's buffer,
 * valid until the next call). Unfragmented messages pass straight through. */
bool nb_dtls_reasm_add(nb_dtls_reasm *r, const nb_dtls_handshake *frag, nb_dtls_handshake *out);
void nb_dtls_reasm_free(nb_dtls_reasm *r);

/* ---- one session */
typedef struct {
  uint8_t client_random[32], server_random[32];
  bool have_client_random, have_server_random;
  uint16_t suite;
  bool ems_offered, ems;
  bool etm_offered, etm;        /* encrypt_then_mac (RFC 7366), CBC suites */
  struct sha256_ctx transcript; /* handshake messages since the (cookie) ClientHello */
  uint8_t session_hash[32];
  bool have_session_hash;
  int next_seq[2]; /* per sender (client, server): next message_seq for the transcript */
  uint8_t identity[256];
  size_t identity_len;
  bool have_identity;
  bool keyed;
  uint8_t key[2][16], iv[2][4], mac[2][32]; /* [0] client write, [1] server write */
  /* resumption */
  uint8_t offered_sid[32], sid[32];
  size_t offered_sid_len, sid_len;
  uint8_t offered_ticket[32], new_ticket[32]; /* SHA-256 of the ticket bytes */
  bool have_offered_ticket, have_new_ticket;
  bool resumed; /* ServerHello echoed the offered session ID: abbreviated handshake */
  uint8_t master[NB_DTLS_MASTER_LEN];
  bool have_master;
  nb_dtls_cache *cache; /* where this session's master is remembered; NULL = nowhere */
} nb_dtls_dec;

/* How a session's keys were found, or why not (nb_dtls_dec_resolve). */
typedef enum {
  NB_DEC_WAIT,          /* nothing to decide yet */
  NB_DEC_KEYED_PSK,     /* from a known PSK */
  NB_DEC_KEYED_KEYLOG,  /* the master secret was in the key log */
  NB_DEC_KEYED_RESUMED, /* an abbreviated handshake of a session seen before */
  NB_DEC_NO_PSK,        /* PSK identity unknown */
  NB_DEC_NO_MASTER,     /* not PSK, and no key-log line for this client random */
  NB_DEC_NO_SESSION,    /* resumes a session whose master secret was not seen */
  NB_DEC_UNSUPPORTED,   /* a cipher suite this module does not open */
  NB_DEC_INCOMPLETE     /* part of the handshake is missing */
} nb_dtls_dec_result;

void nb_dtls_dec_init(nb_dtls_dec *d);
/* Wipes the keys. */
void nb_dtls_dec_deinit(nb_dtls_dec *d);
/* One whole plaintext (epoch 0) handshake message, in capture order, and who sent it.
 * Keeps d->cache across the restart a ClientHello causes. */
void nb_dtls_dec_handshake(nb_dtls_dec *d, const nb_dtls_handshake *hs, bool from_client);
/* After a ServerHello or ClientKeyExchange went through nb_dtls_dec_handshake: finds the
 * session's keys (key log by client random; the cache for a resumed session; the PSK of the
 * identity once the ClientKeyExchange is in) and says how, or why not. keys may be NULL. */
nb_dtls_dec_result nb_dtls_dec_resolve(nb_dtls_dec *d, const nb_mon_psks *keys, uint8_t hs_type);
/* Keys from a known master secret (key log or resumption); remembers it in the cache under
 * the session ID and ticket. NB_ERR_UNSUPPORTED for another suite. */
nb_err nb_dtls_dec_set_master(nb_dtls_dec *d, const uint8_t master[NB_DTLS_MASTER_LEN]);
/* True when the suite is one this module opens. */
bool nb_dtls_dec_suite_supported(uint16_t suite);
/* Derives the master secret and keys from the PSK once the handshake up to ClientKeyExchange was
 * seen. NB_ERR_UNSUPPORTED for another suite, NB_ERR_STATE when part of the handshake is missing.
 */
nb_err nb_dtls_dec_derive(nb_dtls_dec *d, const uint8_t *psk, size_t psk_len);
/* Opens an epoch-1 record; out needs rec->body_len bytes. NB_ERR_DTLS_BAD_MAC when the tag, MAC or
 * padding is wrong (wrong key), NB_ERR_STATE without keys. */
nb_err nb_dtls_dec_open(const nb_dtls_dec *d, bool from_client, const nb_dtls_record *rec,
                        uint8_t *out, size_t *out_len);
/* TLS 1.2 PRF with HMAC-SHA256 (RFC 5246 5). */
void nb_dtls_prf_sha256(const uint8_t *secret, size_t secret_len, const char *label,
                        const uint8_t *seed, size_t seed_len, uint8_t *out, size_t out_len);

#endif
