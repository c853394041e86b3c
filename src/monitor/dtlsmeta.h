/* DTLS metadata readable without keys (RFC 6347, RFC 5246 7.4, RFC 4279 2, RFC 7250): the
 * fields of plaintext handshake messages (suites, cookie, PSK identity, certificate types)
 * and of plaintext alerts. Parsing only; the engine keeps per-flow state. */
#ifndef NB_MONITOR_DTLSMETA_H
#define NB_MONITOR_DTLSMETA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "dtls/record.h"

#define NB_DTLS_META_SUITES 32

typedef struct {
  uint8_t hs_type;
  size_t cookie_len;                    /* ClientHello / HelloVerifyRequest */
  uint16_t suites[NB_DTLS_META_SUITES]; /* ClientHello offers (first ones) */
  size_t suite_count;
  uint16_t chosen;    /* ServerHello, 0 otherwise */
  int cert_type;      /* ServerHello server_certificate_type: 0 X.509,
                       * 2 RPK, -1 not negotiated */
  char identity[130]; /* ClientKeyExchange PSK identity, printable */
  bool has_identity;
  /* Certificate: "rpk:<secure ID>" of a raw public key (RFC 7250) or "x509:<subject DN>" of
   * the end-entity certificate, printable */
  char cert_id[160];
  bool has_cert_id;
} nb_dtls_meta;

/* Reads a whole (unfragmented) plaintext handshake message. psk_suite says whether the
 * flow's chosen suite is plain PSK, the only case where ClientKeyExchange starts with the
 * identity. NB_ERR_TRUNCATED for a fragment or a message cut short. */
nb_err nb_dtls_meta_parse(const nb_dtls_handshake *hs, bool psk_suite, nb_dtls_meta *out);

/* True for plain PSK suites (identity in ClientKeyExchange). */
bool nb_dtls_suite_is_psk(uint16_t suite);
/* True for CBC suites. */
bool nb_dtls_suite_is_cbc(uint16_t suite);
/* True for LwM2M 1.1's mandatory suites (TS Transport 5.2.x). */
bool nb_dtls_suite_is_mandatory(uint16_t suite);
/* IANA name of common suites ("TLS_PSK_WITH_AES_128_CCM_8"), or NULL. */
const char *nb_dtls_suite_name(uint16_t suite);

#endif
