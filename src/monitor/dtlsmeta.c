/* Plaintext DTLS handshake fields. */
#include "monitor/dtlsmeta.h"

#include <string.h>

static const struct {
  uint16_t id;
  const char *name;
  bool psk, cbc, mandatory;
} nb_suites[] = {
    {0xC0A8, "TLS_PSK_WITH_AES_128_CCM_8", true, false, true},
    {0x00AE, "TLS_PSK_WITH_AES_128_CBC_SHA256", true, true, true},
    {0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", false, false, true},
    {0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", false, true, true},
    {0xC0A4, "TLS_PSK_WITH_AES_128_CCM", true, false, false},
    {0x00A8, "TLS_PSK_WITH_AES_128_GCM_SHA256", true, false, false},
    {0x008C, "TLS_PSK_WITH_AES_128_CBC_SHA", true, true, false},
    {0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", false, false, false},
    {0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", false, false, false},
    {0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", false, true, false},
    {0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", false, true, false},
    {0xC037, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256", false, true, false},
};

static int nb_suite_find(uint16_t s) {
  for (size_t i = 0; i < sizeof nb_suites / sizeof nb_suites[0]; i++)
    if (nb_suites[i].id == s) return (int)i;
  return -1;
}

bool nb_dtls_suite_is_psk(uint16_t s) {
  int i = nb_suite_find(s);
  return i >= 0 && nb_suites[i].psk;
}
bool nb_dtls_suite_is_cbc(uint16_t s) {
  int i = nb_suite_find(s);
  return i >= 0 && nb_suites[i].cbc;
}
bool nb_dtls_suite_is_mandatory(uint16_t s) {
  int i = nb_suite_find(s);
  return i >= 0 && nb_suites[i].mandatory;
}
const char *nb_dtls_suite_name(uint16_t s) {
  int i = nb_suite_find(s);
  return i >= 0 ? nb_suites[i].name : NULL;
}

static nb_err nb_meta_vec8(nb_reader *r, size_t *len) {
  uint8_t n;
  nb_err e = nb_reader_u8(r, &n);
  if (e) return e;
  *len = n;
  return nb_reader_skip(r, n);
}

static nb_err nb_meta_client_hello(nb_reader *r, nb_dtls_meta *out) {
  size_t dummy;
  uint16_t n;
  if (nb_reader_skip(r, 2 + 32) || nb_meta_vec8(r, &dummy) || nb_meta_vec8(r, &out->cookie_len) ||
      nb_reader_u16be(r, &n))
    return NB_ERR_TRUNCATED;
  for (uint16_t i = 0; i + 1 < n; i += 2) {
    uint16_t s;
    if (nb_reader_u16be(r, &s)) return NB_ERR_TRUNCATED;
    if (out->suite_count < NB_DTLS_META_SUITES) out->suites[out->suite_count++] = s;
  }
  return NB_OK;
}

/* server_certificate_type (RFC 7250) among the ServerHello extensions. */
static void nb_meta_server_exts(nb_reader *r, nb_dtls_meta *out) {
  uint16_t total;
  if (nb_reader_u16be(r, &total) || total > nb_reader_remaining(r)) return;
  while (nb_reader_remaining(r) >= 4) {
    uint16_t type, len;
    const uint8_t *v;
    if (nb_reader_u16be(r, &type) || nb_reader_u16be(r, &len) || nb_reader_view(r, len, &v)) return;
    if (type == 20 && len == 1) out->cert_type = v[0];
  }
}

static nb_err nb_meta_server_hello(nb_reader *r, nb_dtls_meta *out) {
  size_t dummy;
  uint8_t comp;
  if (nb_reader_skip(r, 2 + 32) || nb_meta_vec8(r, &dummy) || nb_reader_u16be(r, &out->chosen) ||
      nb_reader_u8(r, &comp))
    return NB_ERR_TRUNCATED;
  nb_meta_server_exts(r, out);
  return NB_OK;
}

static nb_err nb_meta_cke(nb_reader *r, nb_dtls_meta *out) {
  uint16_t n;
  const uint8_t *id;
  if (nb_reader_u16be(r, &n) || nb_reader_view(r, n, &id)) return NB_ERR_TRUNCATED;
  size_t k = 0;
  for (size_t i = 0; i < n && k + 5 < sizeof out->identity; i++) {
    uint8_t c = id[i];
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      out->identity[k++] = (char)c;
    } else {
      static const char hex[] = "0123456789abcdef";
      out->identity[k++] = '\\';
      out->identity[k++] = 'x';
      out->identity[k++] = hex[c >> 4];
      out->identity[k++] = hex[c & 15];
    }
  }
  out->identity[k] = 0;
  out->has_identity = true;
  return NB_OK;
}

nb_err nb_dtls_meta_parse(const nb_dtls_handshake *hs, bool psk_suite, nb_dtls_meta *out) {
  memset(out, 0, sizeof *out);
  out->hs_type = hs->msg_type;
  out->cert_type = -1;
  if (hs->frag_offset != 0 || hs->frag_len != hs->length) return NB_ERR_TRUNCATED;
  nb_reader r;
  nb_reader_init(&r, hs->frag, hs->frag_len);
  switch (hs->msg_type) {
    case NB_DTLS_HS_CLIENT_HELLO:
      return nb_meta_client_hello(&r, out);
    case NB_DTLS_HS_SERVER_HELLO:
      return nb_meta_server_hello(&r, out);
    case NB_DTLS_HS_HELLO_VERIFY_REQUEST:
      if (nb_reader_skip(&r, 2) || nb_meta_vec8(&r, &out->cookie_len)) return NB_ERR_TRUNCATED;
      return NB_OK;
    case NB_DTLS_HS_CLIENT_KEY_EXCHANGE:
      return psk_suite ? nb_meta_cke(&r, out) : NB_OK;
    default:
      return NB_OK;
  }
}
