/* Passive decryption of plain-PSK DTLS 1.2 sessions for the monitor (RFC 5246 5/6.3/8.1,
 * RFC 4279 2, RFC 7627, RFC 6655): follows one session's handshake (randoms, suite, extended
 * master secret, PSK identity), derives the keys from a known PSK with the TLS 1.2 PRF and
 * opens TLS_PSK_WITH_AES_128_CCM_8 and TLS_PSK_WITH_AES_128_CBC_SHA256 records. Also owns the
 * table of known PSKs (`identity,hexkey` lines). Keys never leave this module. */
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

/* ---- known keys */
typedef struct nb_mon_psks nb_mon_psks;

nb_mon_psks *nb_mon_psks_new(void);
void nb_mon_psks_free(nb_mon_psks *p);
nb_err nb_mon_psks_add(nb_mon_psks *p, const uint8_t *identity, size_t identity_len,
                       const uint8_t *key, size_t key_len);
/* Reads `identity,hexkey` lines (# comments, blank lines); on error *bad_line is the line. */
nb_err nb_mon_psks_parse(nb_mon_psks *p, const char *text, size_t len, size_t *bad_line);
/* The key of an identity, NULL when unknown. */
const uint8_t *nb_mon_psks_find(const nb_mon_psks *p, const uint8_t *identity, size_t len,
                                size_t *key_len);
size_t nb_mon_psks_count(const nb_mon_psks *p);

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
} nb_dtls_dec;

void nb_dtls_dec_init(nb_dtls_dec *d);
/* Wipes the keys. */
void nb_dtls_dec_deinit(nb_dtls_dec *d);
/* One plaintext (epoch 0) handshake message, in capture order, and who sent it. */
void nb_dtls_dec_handshake(nb_dtls_dec *d, const nb_dtls_handshake *hs, bool from_client);
/* True when the suite is one this module opens. */
bool nb_dtls_dec_suite_supported(uint16_t suite);
/* Derives the keys from the PSK once the handshake up to ClientKeyExchange was seen.
 * NB_ERR_UNSUPPORTED for another suite, NB_ERR_STATE when part of the handshake is missing. */
nb_err nb_dtls_dec_derive(nb_dtls_dec *d, const uint8_t *psk, size_t psk_len);
/* Opens an epoch-1 record; out needs rec->body_len bytes. NB_ERR_DTLS_BAD_MAC when the tag, MAC or
 * padding is wrong (wrong key), NB_ERR_STATE without keys. */
nb_err nb_dtls_dec_open(const nb_dtls_dec *d, bool from_client, const nb_dtls_record *rec,
                        uint8_t *out, size_t *out_len);
/* TLS 1.2 PRF with HMAC-SHA256 (RFC 5246 5). */
void nb_dtls_prf_sha256(const uint8_t *secret, size_t secret_len, const char *label,
                        const uint8_t *seed, size_t seed_len, uint8_t *out, size_t out_len);

#endif
