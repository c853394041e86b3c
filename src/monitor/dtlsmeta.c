/* Plaintext DTLS handshake fields. */
#include "monitor/dtlsmeta.h"

#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>

#include "dtls/cred.h"

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

/* Printable copy: bytes outside printable ASCII, '\\' and '"' become \xNN. */
static void nb_meta_printable(const uint8_t *s, size_t n, char *out, size_t cap) {
  static const char hex[] = "0123456789abcdef";
  size_t k = 0;
  for (size_t i = 0; i < n && k + 5 < cap; i++) {
    uint8_t c = s[i];
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      out[k++] = (char)c;
    } else {
      out[k++] = '\\';
      out[k++] = 'x';
      out[k++] = hex[c >> 4];
      out[k++] = hex[c & 15];
    }
  }
  out[k] = 0;
}

/* Subject DN of a DER certificate, printable; false when it does not parse. */
static bool nb_meta_x509_subject(const uint8_t *der, size_t len, char *out, size_t cap) {
  gnutls_x509_crt_t crt;
  gnutls_datum_t d = {(unsigned char *)der, (unsigned)len}, dn = {NULL, 0};
  if (gnutls_x509_crt_init(&crt) < 0) return false;
  bool ok = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) == 0 &&
            gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0;
  if (ok) nb_meta_printable(dn.data, dn.size, out, cap);
  gnutls_free(dn.data);
  gnutls_x509_crt_deinit(crt);
  return ok;
}

/* Certificate (RFC 5246 7.4.2, RFC 7250 3): a raw public key is one SubjectPublicKeyInfo
 * (a DER SEQUENCE right after the 24-bit length); an X.509 list holds 24-bit-length
 * certificates, the end-entity one first. An empty list (no client certificate) is no ID. */
static nb_err nb_meta_certificate(nb_reader *r, nb_dtls_meta *out) {
  uint32_t n;
  const uint8_t *body;
  if (nb_reader_u24be(r, &n) || nb_reader_view(r, n, &body)) return NB_ERR_TRUNCATED;
  if (n == 0) return NB_OK;
  char id[NB_DTLS_SECURE_ID_LEN + 1];
  if (body[0] == 0x30) {
    if (nb_dtls_secure_id(body, n, id) != NB_OK) return NB_OK;
    snprintf(out->cert_id, sizeof out->cert_id, "rpk:%s", id);
    out->has_cert_id = true;
    return NB_OK;
  }
  nb_reader list;
  nb_reader_init(&list, body, n);
  uint32_t len;
  const uint8_t *der;
  if (nb_reader_u24be(&list, &len) || nb_reader_view(&list, len, &der)) return NB_ERR_TRUNCATED;
  memcpy(out->cert_id, "x509:", 5);
  out->has_cert_id = nb_meta_x509_subject(der, len, out->cert_id + 5, sizeof out->cert_id - 5);
  if (!out->has_cert_id) out->cert_id[0] = 0;
  return NB_OK;
}

static nb_err nb_meta_cke(nb_reader *r, nb_dtls_meta *out) {
  uint16_t n;
  const uint8_t *id;
  if (nb_reader_u16be(r, &n) || nb_reader_view(r, n, &id)) return NB_ERR_TRUNCATED;
  nb_meta_printable(id, n, out->identity, sizeof out->identity);
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
    case NB_DTLS_HS_CERTIFICATE:
      return nb_meta_certificate(&r, out);
    default:
      return NB_OK;
  }
}
