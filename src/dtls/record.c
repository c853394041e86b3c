/* DTLS record/handshake header walking, byte accounting and ClientHello normalisation. */
#include "dtls/record.h"

#include <string.h>

/* Every datagram of a DTLS peer goes through here two or three times: the 13-byte header is
 * read in place after one bounds check. */
nb_err nb_dtls_record_next(nb_reader *r, nb_dtls_record *out) {
  if (r->failed || nb_reader_remaining(r) < NB_DTLS_RECORD_HEADER_LEN) {
    r->failed = true;
    return NB_ERR_TRUNCATED;
  }
  const uint8_t *h = r->data + r->pos;
  uint64_t seq = 0;
  for (int i = 5; i < 11; i++) seq = seq << 8 | h[i];
  out->type = h[0];
  out->version = (uint16_t)(h[1] << 8 | h[2]);
  out->epoch = (uint16_t)(h[3] << 8 | h[4]);
  out->seq = seq;
  out->body_len = (uint16_t)(h[11] << 8 | h[12]);
  r->pos += NB_DTLS_RECORD_HEADER_LEN;
  return nb_reader_view(r, out->body_len, &out->body) == NB_OK ? NB_OK : NB_ERR_TRUNCATED;
}

size_t nb_dtls_record_prefix(const uint8_t *dgram, size_t len) {
  nb_reader r;
  nb_dtls_record rec;
  size_t whole = 0;
  nb_reader_init(&r, dgram, len);
  while (nb_reader_remaining(&r) > 0 && nb_dtls_record_next(&r, &rec) == NB_OK) whole = r.pos;
  return whole;
}

nb_err nb_dtls_handshake_next(nb_reader *r, nb_dtls_handshake *out) {
  nb_reader_u8(r, &out->msg_type);
  nb_reader_u24be(r, &out->length);
  nb_reader_u16be(r, &out->msg_seq);
  nb_reader_u24be(r, &out->frag_offset);
  nb_reader_u24be(r, &out->frag_len);
  if (r->failed) return NB_ERR_TRUNCATED;
  if ((uint64_t)out->frag_offset + out->frag_len > out->length) return NB_ERR_RANGE;
  return nb_reader_view(r, out->frag_len, &out->frag) == NB_OK ? NB_OK : NB_ERR_TRUNCATED;
}

bool nb_dtls_parse_client_hello(const uint8_t *dgram, size_t len, nb_dtls_client_hello *out) {
  nb_reader r, body;
  nb_dtls_record rec;
  nb_dtls_handshake hs;
  /* Application data, the common case, is told apart by its first byte. */
  if (len < NB_DTLS_RECORD_HEADER_LEN || dgram[0] != NB_DTLS_CT_HANDSHAKE) return false;
  nb_reader_init(&r, dgram, len);
  if (nb_dtls_record_next(&r, &rec) != NB_OK) return false;
  if (rec.type != NB_DTLS_CT_HANDSHAKE || rec.epoch != 0) return false;
  nb_reader_init(&body, rec.body, rec.body_len);
  if (nb_dtls_handshake_next(&body, &hs) != NB_OK) return false;
  if (hs.msg_type != NB_DTLS_HS_CLIENT_HELLO || hs.frag_offset != 0) return false;
  /* client_version, random, session_id<0..32>, cookie<0..255> */
  nb_reader ch;
  uint8_t sid_len = 0, cookie_len = 0;
  nb_reader_init(&ch, hs.frag, hs.frag_len);
  nb_reader_u16be(&ch, &out->client_version);
  nb_reader_view(&ch, 32, &out->random);
  nb_reader_u8(&ch, &sid_len);
  if (ch.failed || sid_len > 32) return false;
  nb_reader_skip(&ch, sid_len);
  nb_reader_u8(&ch, &cookie_len);
  nb_reader_skip(&ch, cookie_len);
  if (ch.failed) return false;
  out->record_version = rec.version;
  out->msg_seq = hs.msg_seq;
  out->cookie_len = cookie_len;
  return true;
}

void nb_dtls_counters_add(nb_dtls_counters *c, bool outgoing, const uint8_t *dgram, size_t len) {
  nb_reader r;
  nb_dtls_record rec;
  uint64_t app = 0;
  nb_reader_init(&r, dgram, len);
  while (nb_reader_remaining(&r) > 0 && nb_dtls_record_next(&r, &rec) == NB_OK) {
    if (rec.type == NB_DTLS_CT_APPLICATION_DATA) app += NB_DTLS_RECORD_HEADER_LEN + rec.body_len;
  }
  nb_dtls_count *hs = outgoing ? &c->hs_out : &c->hs_in;
  nb_dtls_count *ad = outgoing ? &c->app_out : &c->app_in;
  ad->bytes += app;
  hs->bytes += len - app;
  if (app == len && len > 0) {
    ad->datagrams++;
  } else {
    hs->datagrams++;
  }
}

static nb_dtls_wire_slot nb_dtls_wire_slot_of(uint8_t msg_type) {
  switch (msg_type) {
    case NB_DTLS_HS_CLIENT_HELLO:
      return NB_DTLS_WIRE_CLIENT_HELLO;
    case NB_DTLS_HS_HELLO_VERIFY_REQUEST:
      return NB_DTLS_WIRE_HELLO_VERIFY_REQUEST;
    case NB_DTLS_HS_SERVER_HELLO:
      return NB_DTLS_WIRE_SERVER_HELLO;
    case NB_DTLS_HS_CERTIFICATE:
      return NB_DTLS_WIRE_CERTIFICATE;
    case NB_DTLS_HS_SERVER_KEY_EXCHANGE:
      return NB_DTLS_WIRE_SERVER_KEY_EXCHANGE;
    case NB_DTLS_HS_CERTIFICATE_REQUEST:
      return NB_DTLS_WIRE_CERTIFICATE_REQUEST;
    case NB_DTLS_HS_SERVER_HELLO_DONE:
      return NB_DTLS_WIRE_SERVER_HELLO_DONE;
    case NB_DTLS_HS_CLIENT_KEY_EXCHANGE:
      return NB_DTLS_WIRE_CLIENT_KEY_EXCHANGE;
    case NB_DTLS_HS_CERTIFICATE_VERIFY:
      return NB_DTLS_WIRE_CERTIFICATE_VERIFY;
    case NB_DTLS_HS_NEW_SESSION_TICKET:
      return NB_DTLS_WIRE_NEW_SESSION_TICKET;
    case NB_DTLS_HS_FINISHED:
      return NB_DTLS_WIRE_FINISHED;
    default:
      return NB_DTLS_WIRE_OTHER;
  }
}

/* Charges a plaintext handshake record message by message; the header goes to the first. */
static void nb_dtls_wire_add_handshake(nb_dtls_wire_stats *w, const nb_dtls_record *rec) {
  nb_reader r;
  nb_dtls_handshake hs;
  size_t header = NB_DTLS_RECORD_HEADER_LEN, charged = 0;
  nb_reader_init(&r, rec->body, rec->body_len);
  while (nb_reader_remaining(&r) > 0 && nb_dtls_handshake_next(&r, &hs) == NB_OK) {
    nb_dtls_wire_slot slot = nb_dtls_wire_slot_of(hs.msg_type);
    w->bytes[slot] += header + NB_DTLS_HANDSHAKE_HEADER_LEN + hs.frag_len;
    w->messages[slot]++;
    charged += header + NB_DTLS_HANDSHAKE_HEADER_LEN + hs.frag_len;
    header = 0;
  }
  w->bytes[NB_DTLS_WIRE_OTHER] += NB_DTLS_RECORD_HEADER_LEN + rec->body_len - charged;
}

void nb_dtls_wire_stats_add(nb_dtls_wire_stats *w, const uint8_t *dgram, size_t len) {
  nb_reader r;
  nb_dtls_record rec;
  size_t parsed = 0;
  w->datagrams++;
  w->total_bytes += len;
  nb_reader_init(&r, dgram, len);
  while (nb_reader_remaining(&r) > 0 && nb_dtls_record_next(&r, &rec) == NB_OK) {
    size_t wire = NB_DTLS_RECORD_HEADER_LEN + rec.body_len;
    parsed += wire;
    nb_dtls_wire_slot slot = NB_DTLS_WIRE_OTHER;
    if (rec.type == NB_DTLS_CT_HANDSHAKE && rec.epoch == 0) {
      nb_dtls_wire_add_handshake(w, &rec);
      continue;
    }
    if (rec.type == NB_DTLS_CT_HANDSHAKE) slot = NB_DTLS_WIRE_FINISHED;
    if (rec.type == NB_DTLS_CT_CHANGE_CIPHER_SPEC) slot = NB_DTLS_WIRE_CHANGE_CIPHER_SPEC;
    if (rec.type == NB_DTLS_CT_ALERT) slot = NB_DTLS_WIRE_ALERT;
    if (rec.type == NB_DTLS_CT_APPLICATION_DATA) slot = NB_DTLS_WIRE_APPLICATION_DATA;
    w->bytes[slot] += wire;
    w->messages[slot]++;
  }
  w->bytes[NB_DTLS_WIRE_OTHER] += len - parsed;
}

const char *nb_dtls_wire_slot_name(nb_dtls_wire_slot slot) {
  static const char *const names[NB_DTLS_WIRE_SLOTS] = {
      "ClientHello",
      "HelloVerifyRequest",
      "ServerHello",
      "Certificate",
      "ServerKeyExchange",
      "CertificateRequest",
      "ServerHelloDone",
      "ClientKeyExchange",
      "CertificateVerify",
      "NewSessionTicket",
      "ChangeCipherSpec",
      "Finished",
      "Alert",
      "ApplicationData",
      "other",
  };
  return (unsigned)slot < NB_DTLS_WIRE_SLOTS ? names[slot] : "other";
}

void nb_dtls_plain_alert(uint8_t desc, uint64_t seq, uint8_t out[NB_DTLS_PLAIN_ALERT_LEN]) {
  out[0] = NB_DTLS_CT_ALERT;
  out[1] = (uint8_t)(NB_DTLS_VERSION_1_2 >> 8);
  out[2] = (uint8_t)NB_DTLS_VERSION_1_2;
  out[3] = out[4] = 0; /* epoch 0 */
  for (int i = 0; i < 6; i++) out[5 + i] = (uint8_t)(seq >> (40 - 8 * i));
  out[11] = 0;
  out[12] = 2;
  out[13] = 2; /* fatal */
  out[14] = desc;
}

/* The datagram's first record, when it is one of DTLS 1.2. */
static bool nb_dtls_first_record(const uint8_t *dgram, size_t len, nb_dtls_record *rec) {
  nb_reader r;
  nb_reader_init(&r, dgram, len);
  return nb_dtls_record_next(&r, rec) == NB_OK && rec->version == NB_DTLS_VERSION_1_2;
}

bool nb_dtls_is_plain_fatal_alert(const uint8_t *dgram, size_t len, int *desc) {
  nb_dtls_record rec;
  if (!nb_dtls_first_record(dgram, len, &rec)) return false;
  if (rec.type != NB_DTLS_CT_ALERT || rec.epoch != 0 || rec.body_len != 2 || rec.body[0] != 2)
    return false;
  if (desc) *desc = rec.body[1];
  return true;
}

bool nb_dtls_is_protected(const uint8_t *dgram, size_t len) {
  nb_dtls_record rec;
  return nb_dtls_first_record(dgram, len, &rec) && rec.epoch > 0;
}

const char *nb_dtls_alert_name(int alert) {
  static const struct {
    int code;
    const char *name;
  } table[] = {
      {0, "close_notify"},
      {10, "unexpected_message"},
      {20, "bad_record_mac"},
      {21, "decryption_failed"},
      {22, "record_overflow"},
      {30, "decompression_failure"},
      {40, "handshake_failure"},
      {41, "no_certificate"},
      {42, "bad_certificate"},
      {43, "unsupported_certificate"},
      {44, "certificate_revoked"},
      {45, "certificate_expired"},
      {46, "certificate_unknown"},
      {47, "illegal_parameter"},
      {48, "unknown_ca"},
      {49, "access_denied"},
      {50, "decode_error"},
      {51, "decrypt_error"},
      {60, "export_restriction"},
      {70, "protocol_version"},
      {71, "insufficient_security"},
      {80, "internal_error"},
      {86, "inappropriate_fallback"},
      {90, "user_canceled"},
      {100, "no_renegotiation"},
      {109, "missing_extension"},
      {110, "unsupported_extension"},
      {111, "certificate_unobtainable"},
      {112, "unrecognized_name"},
      {113, "bad_certificate_status_response"},
      {114, "bad_certificate_hash_value"},
      {115, "unknown_psk_identity"},
      {116, "certificate_required"},
      {120, "no_application_protocol"},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    if (table[i].code == alert) return table[i].name;
  }
  return "unknown";
}
