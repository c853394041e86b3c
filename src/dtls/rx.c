/* Opening application records of an established AES-128-CCM-8 session: see rx.h. */
#include "dtls/rx.h"

#include <nettle/ccm.h>
#include <stdlib.h>
#include <string.h>

#define NB_DTLS_RX_SALT 4     /* implicit part of the nonce (RFC 6655 3) */
#define NB_DTLS_RX_EXPLICIT 8 /* explicit part, first in the record body */
#define NB_DTLS_RX_TAG 8      /* CCM-8 */
#define NB_DTLS_RX_WINDOW 64

struct nb_dtls_rx {
  struct ccm_aes128_ctx ctx;
  uint8_t salt[NB_DTLS_RX_SALT];
};

bool nb_dtls_window_fresh(const nb_dtls_window *w, uint64_t seq) {
  if (!w->any || seq > w->max) return true;
  uint64_t behind = w->max - seq;
  return behind < NB_DTLS_RX_WINDOW && !((w->bits >> behind) & 1);
}

void nb_dtls_window_mark(nb_dtls_window *w, uint64_t seq) {
  if (!w->any) {
    w->any = true;
    w->max = seq;
    w->bits = 1;
  } else if (seq > w->max) {
    uint64_t ahead = seq - w->max;
    w->bits = ahead >= NB_DTLS_RX_WINDOW ? 1 : (w->bits << ahead) | 1;
    w->max = seq;
  } else if (w->max - seq < NB_DTLS_RX_WINDOW) {
    w->bits |= 1ull << (w->max - seq);
  }
}

nb_dtls_rx *nb_dtls_rx_from_keys(const uint8_t key[NB_DTLS_CCM8_KEY],
                                 const uint8_t salt[NB_DTLS_CCM8_SALT]) {
  nb_dtls_rx *rx = malloc(sizeof *rx);
  if (!rx) return NULL;
  ccm_aes128_set_key(&rx->ctx, key);
  memcpy(rx->salt, salt, NB_DTLS_RX_SALT);
  return rx;
}

nb_dtls_rx *nb_dtls_rx_new(gnutls_session_t gs) {
  if (gnutls_cipher_get(gs) != GNUTLS_CIPHER_AES_128_CCM_8) return NULL;
  gnutls_datum_t mac = {NULL, 0}, iv = {NULL, 0}, key = {NULL, 0};
  unsigned char seq[8];
  if (gnutls_record_get_state(gs, 1, &mac, &iv, &key, seq) < 0) return NULL;
  if (key.size != AES128_KEY_SIZE || iv.size != NB_DTLS_RX_SALT) return NULL;
  return nb_dtls_rx_from_keys(key.data, iv.data);
}

void nb_dtls_rx_free(nb_dtls_rx *rx) {
  if (!rx) return;
  gnutls_memset(rx, 0, sizeof *rx);
  free(rx);
}

bool nb_dtls_rx_takes(const nb_dtls_record *rec) {
  return rec->type == NB_DTLS_CT_APPLICATION_DATA && rec->epoch == NB_DTLS_RX_EPOCH;
}

/* AAD = epoch || seq || type || version || plaintext length (RFC 5246 6.2.3.3, RFC 6347 4.1.2.1) */
static void nb_dtls_rx_aad(uint16_t epoch, uint64_t seq, uint8_t type, uint16_t version, size_t len,
                           uint8_t ad[13]) {
  uint64_t es = (uint64_t)epoch << 48 | (seq & 0xFFFFFFFFFFFFull);
  for (int i = 0; i < 8; i++) ad[i] = (uint8_t)(es >> (56 - 8 * i));
  ad[8] = type;
  ad[9] = (uint8_t)(version >> 8);
  ad[10] = (uint8_t)version;
  ad[11] = (uint8_t)(len >> 8);
  ad[12] = (uint8_t)len;
}

size_t nb_dtls_rx_seal(nb_dtls_rx *k, uint8_t type, uint16_t epoch, uint64_t seq,
                       const uint8_t *data, size_t len, uint8_t *out) {
  size_t body = NB_DTLS_RX_EXPLICIT + len + NB_DTLS_RX_TAG;
  uint64_t es = (uint64_t)epoch << 48 | (seq & 0xFFFFFFFFFFFFull);
  out[0] = type;
  out[1] = (uint8_t)(NB_DTLS_VERSION_1_2 >> 8);
  out[2] = (uint8_t)NB_DTLS_VERSION_1_2;
  for (int i = 0; i < 8; i++) out[3 + i] = (uint8_t)(es >> (56 - 8 * i));
  out[11] = (uint8_t)(body >> 8);
  out[12] = (uint8_t)body;
  uint8_t *explicit = out + NB_DTLS_RECORD_HEADER_LEN;
  memcpy(explicit, out + 3, NB_DTLS_RX_EXPLICIT); /* epoch || seq */
  uint8_t nonce[NB_DTLS_RX_SALT + NB_DTLS_RX_EXPLICIT], ad[13];
  memcpy(nonce, k->salt, NB_DTLS_RX_SALT);
  memcpy(nonce + NB_DTLS_RX_SALT, explicit, NB_DTLS_RX_EXPLICIT);
  nb_dtls_rx_aad(epoch, seq, type, NB_DTLS_VERSION_1_2, len, ad);
  ccm_aes128_encrypt_message(&k->ctx, sizeof nonce, nonce, sizeof ad, ad, NB_DTLS_RX_TAG,
                             len + NB_DTLS_RX_TAG, explicit + NB_DTLS_RX_EXPLICIT, data);
  return NB_DTLS_RECORD_HEADER_LEN + body;
}

nb_err nb_dtls_rx_open(nb_dtls_rx *rx, nb_dtls_window *w, const nb_dtls_record *rec, uint8_t *out,
                       size_t *out_len) {
  if (rec->body_len < NB_DTLS_RX_EXPLICIT + NB_DTLS_RX_TAG) return NB_ERR_DTLS_BAD_MAC;
  if (!nb_dtls_window_fresh(w, rec->seq)) return NB_ERR_DTLS_REPLAY;
  size_t len = rec->body_len - NB_DTLS_RX_EXPLICIT - NB_DTLS_RX_TAG;
  /* nonce = salt || explicit; AAD = epoch || seq || type || version || plaintext length */
  uint8_t nonce[NB_DTLS_RX_SALT + NB_DTLS_RX_EXPLICIT], ad[13];
  memcpy(nonce, rx->salt, NB_DTLS_RX_SALT);
  memcpy(nonce + NB_DTLS_RX_SALT, rec->body, NB_DTLS_RX_EXPLICIT);
  nb_dtls_rx_aad(rec->epoch, rec->seq, rec->type, rec->version, len, ad);
  if (!ccm_aes128_decrypt_message(&rx->ctx, sizeof nonce, nonce, sizeof ad, ad, NB_DTLS_RX_TAG, len,
                                  out, rec->body + NB_DTLS_RX_EXPLICIT))
    return NB_ERR_DTLS_BAD_MAC;
  nb_dtls_window_mark(w, rec->seq);
  *out_len = len;
  return NB_OK;
}
