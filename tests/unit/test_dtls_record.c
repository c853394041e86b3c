/* DTLS record/handshake header walking, ClientHello recognition, byte accounting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dtls/keys.h"
#include "dtls/record.h"
#include "dtls/session.h"

/* Writes a record header + body at out; returns bytes written. */
static size_t put_record(uint8_t *out, uint8_t type, uint16_t version, uint16_t epoch, uint64_t seq,
                         const uint8_t *body, size_t len) {
  out[0] = type;
  out[1] = (uint8_t)(version >> 8);
  out[2] = (uint8_t)version;
  out[3] = (uint8_t)(epoch >> 8);
  out[4] = (uint8_t)epoch;
  for (int i = 0; i < 6; i++) out[5 + i] = (uint8_t)(seq >> (40 - 8 * i));
  out[11] = (uint8_t)(len >> 8);
  out[12] = (uint8_t)len;
  memcpy(out + 13, body, len);
  return 13 + len;
}

/* Handshake header + fragment. */
static size_t put_handshake(uint8_t *out, uint8_t type, uint32_t length, uint16_t seq, uint32_t off,
                            const uint8_t *frag, uint32_t frag_len) {
  out[0] = type;
  out[1] = (uint8_t)(length >> 16), out[2] = (uint8_t)(length >> 8), out[3] = (uint8_t)length;
  out[4] = (uint8_t)(seq >> 8), out[5] = (uint8_t)seq;
  out[6] = (uint8_t)(off >> 16), out[7] = (uint8_t)(off >> 8), out[8] = (uint8_t)off;
  out[9] = (uint8_t)(frag_len >> 16), out[10] = (uint8_t)(frag_len >> 8);
  out[11] = (uint8_t)frag_len;
  memcpy(out + 12, frag, frag_len);
  return 12 + frag_len;
}

/* A minimal ClientHello body: version, random, session id, cookie, then filler. */
static size_t client_hello_body(uint8_t *out, uint8_t sid_len, uint8_t cookie_len) {
  size_t n = 0;
  out[n++] = 0xFE, out[n++] = 0xFD;
  for (int i = 0; i < 32; i++) out[n++] = (uint8_t)(0xA0 + i);
  out[n++] = sid_len;
  memset(out + n, 0x55, sid_len), n += sid_len;
  out[n++] = cookie_len;
  memset(out + n, 0xC0, cookie_len), n += cookie_len;
  out[n++] = 0, out[n++] = 2, out[n++] = 0xC0, out[n++] = 0xA8; /* cipher_suites */
  out[n++] = 1, out[n++] = 0;                                   /* compression */
  return n;
}

static size_t client_hello_datagram(uint8_t *out, uint16_t version, uint8_t cookie_len,
                                    uint32_t frag_off) {
  uint8_t body[200], hs[300];
  size_t b = client_hello_body(body, 0, cookie_len);
  size_t h = put_handshake(hs, NB_DTLS_HS_CLIENT_HELLO, (uint32_t)b, 1, frag_off, body,
                           (uint32_t)b - frag_off);
  return put_record(out, NB_DTLS_CT_HANDSHAKE, version, 0, 1, hs, h);
}

static void test_records_walk_and_truncation(void **state) {
  (void)state;
  uint8_t d[200], body[20];
  memset(body, 0x42, sizeof body);
  size_t n = put_record(d, NB_DTLS_CT_HANDSHAKE, 0xFEFD, 0, 7, body, 5);
  n += put_record(d + n, NB_DTLS_CT_APPLICATION_DATA, 0xFEFD, 1, 0x123456789ABCull, body, 20);
  nb_reader r;
  nb_dtls_record rec;
  nb_reader_init(&r, d, n);
  assert_int_equal(nb_dtls_record_next(&r, &rec), NB_OK);
  assert_int_equal(rec.type, NB_DTLS_CT_HANDSHAKE);
  assert_int_equal(rec.epoch, 0);
  assert_int_equal(rec.seq, 7);
  assert_int_equal(rec.body_len, 5);
  assert_int_equal(nb_dtls_record_next(&r, &rec), NB_OK);
  assert_int_equal(rec.type, NB_DTLS_CT_APPLICATION_DATA);
  assert_int_equal(rec.epoch, 1);
  assert_true(rec.seq == 0x123456789ABCull);
  assert_int_equal(rec.version, 0xFEFD);
  assert_int_equal(nb_reader_remaining(&r), 0);
  /* Only whole records count towards the prefix GnuTLS may see. */
  assert_int_equal(nb_dtls_record_prefix(d, n), n);
  assert_int_equal(nb_dtls_record_prefix(d, n - 1), 13 + 5);
  assert_int_equal(nb_dtls_record_prefix(d, 13 + 5 + 12), 13 + 5);
  assert_int_equal(nb_dtls_record_prefix(d, 13 + 4), 0);
  assert_int_equal(nb_dtls_record_prefix(d, 0), 0);
  /* Every prefix that cuts a record is reported, never over-read (ASan watches). */
  for (size_t cut = 1; cut < 13 + 5; cut++) {
    nb_reader_init(&r, d, cut);
    assert_int_equal(nb_dtls_record_next(&r, &rec), NB_ERR_TRUNCATED);
  }
}

static void test_handshake_fragment_bounds(void **state) {
  (void)state;
  uint8_t hs[64], frag[10] = {0};
  size_t n = put_handshake(hs, NB_DTLS_HS_CERTIFICATE, 100, 3, 95, frag, 10);
  nb_reader r;
  nb_dtls_handshake h;
  nb_reader_init(&r, hs, n);
  assert_int_equal(nb_dtls_handshake_next(&r, &h), NB_ERR_RANGE); /* 95 + 10 > 100 */
  n = put_handshake(hs, NB_DTLS_HS_CERTIFICATE, 100, 3, 90, frag, 10);
  nb_reader_init(&r, hs, n);
  assert_int_equal(nb_dtls_handshake_next(&r, &h), NB_OK);
  assert_int_equal(h.msg_seq, 3);
  assert_int_equal(h.frag_offset, 90);
  assert_int_equal(h.frag_len, 10);
  nb_reader_init(&r, hs, n - 1);
  assert_int_equal(nb_dtls_handshake_next(&r, &h), NB_ERR_TRUNCATED);
}

static void test_client_hello_recognition(void **state) {
  (void)state;
  uint8_t d[400];
  nb_dtls_client_hello ch;
  size_t n = client_hello_datagram(d, 0xFEFF, 16, 0);
  assert_true(nb_dtls_parse_client_hello(d, n, &ch));
  assert_int_equal(ch.record_version, 0xFEFF);
  assert_int_equal(ch.client_version, 0xFEFD);
  assert_int_equal(ch.cookie_len, 16);
  assert_int_equal(ch.msg_seq, 1);
  assert_int_equal(ch.random[0], 0xA0);
  assert_int_equal(ch.random[31], 0xA0 + 31);
  /* A fragment that does not start the message cannot open a handshake. */
  n = client_hello_datagram(d, 0xFEFD, 16, 10);
  assert_false(nb_dtls_parse_client_hello(d, n, &ch));
  /* Cut before the cookie ends: not usable for the stateless cookie check. */
  n = client_hello_datagram(d, 0xFEFD, 16, 0);
  for (size_t cut = 0; cut < 13 + 12 + 2 + 32 + 1 + 1 + 16; cut++) {
    assert_false(nb_dtls_parse_client_hello(d, cut, &ch));
  }
  /* Other content types, epochs and messages. */
  d[0] = NB_DTLS_CT_APPLICATION_DATA;
  assert_false(nb_dtls_parse_client_hello(d, n, &ch));
  d[0] = NB_DTLS_CT_HANDSHAKE;
  d[4] = 1; /* epoch 1 */
  assert_false(nb_dtls_parse_client_hello(d, n, &ch));
  d[4] = 0;
  d[13] = NB_DTLS_HS_SERVER_HELLO;
  assert_false(nb_dtls_parse_client_hello(d, n, &ch));
}

static void capture(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  (void)peer;
  nb_bytes *b = user;
  if (b->len == 0) nb_bytes_append(b, data, len);
}

static void ignore_recv(void *user, const nb_addr *peer, const uint8_t *d, size_t n,
                        nb_time_ms now) {
  (void)user, (void)peer, (void)d, (void)n, (void)now;
}

/* The real first flight of our client session parses as an opening ClientHello. */
static void test_client_session_hello(void **state) {
  (void)state;
  nb_dtls_creds *c;
  uint8_t key[16] = {1};
  nb_bytes out;
  nb_bytes_init(&out);
  assert_int_equal(nb_dtls_creds_new(&c), NB_OK);
  assert_int_equal(nb_dtls_creds_set_psk(c, "dev", 3, key, sizeof key), NB_OK);
  nb_dtls_handlers h = {capture, ignore_recv, NULL, &out};
  nb_addr server;
  nb_addr_parse("127.0.0.1:5684", 0, &server);
  nb_dtls_session *s;
  assert_int_equal(nb_dtls_client_new(c, NULL, &h, &server, 0, &s), NB_OK);
  assert_int_equal(nb_dtls_session_state(s), NB_DTLS_IDLE);
  assert_int_equal(nb_dtls_client_connect(s, 0), NB_OK);
  assert_int_equal(nb_dtls_session_state(s), NB_DTLS_HANDSHAKING);
  nb_dtls_client_hello ch;
  assert_true(nb_dtls_parse_client_hello(out.data, out.len, &ch));
  assert_int_equal(ch.cookie_len, 0);
  assert_int_equal(ch.msg_seq, 0);
  assert_int_equal(ch.client_version, NB_DTLS_VERSION_1_2);
  nb_dtls_counters cnt;
  nb_dtls_session_counters(s, &cnt);
  assert_int_equal(cnt.hs_out.datagrams, 1);
  assert_int_equal(cnt.hs_out.bytes, out.len);
  assert_int_equal(cnt.app_out.bytes, 0);
  nb_dtls_wire_stats w;
  memset(&w, 0, sizeof w);
  nb_dtls_wire_stats_add(&w, out.data, out.len);
  assert_int_equal(w.bytes[NB_DTLS_WIRE_CLIENT_HELLO], out.len);
  assert_int_equal(w.messages[NB_DTLS_WIRE_CLIENT_HELLO], 1);
  /* The first retransmission is due one initial timeout later, in our clock. */
  assert_int_equal(nb_dtls_session_next_deadline(s), 1000);
  nb_dtls_session_free(s);
  nb_dtls_creds_free(c);
  nb_bytes_free(&out);
}

static void test_counters_split(void **state) {
  (void)state;
  uint8_t d[300], body[40] = {0};
  nb_dtls_counters c;
  memset(&c, 0, sizeof c);
  size_t app = put_record(d, NB_DTLS_CT_APPLICATION_DATA, 0xFEFD, 1, 1, body, 40);
  nb_dtls_counters_add(&c, false, d, app);
  assert_int_equal(c.app_in.bytes, 53);
  assert_int_equal(c.app_in.datagrams, 1);
  size_t n = put_record(d, NB_DTLS_CT_ALERT, 0xFEFD, 1, 2, body, 10);
  n += put_record(d + n, NB_DTLS_CT_APPLICATION_DATA, 0xFEFD, 1, 3, body, 40);
  nb_dtls_counters_add(&c, true, d, n);
  assert_int_equal(c.hs_out.bytes, 23);
  assert_int_equal(c.app_out.bytes, 53);
  assert_int_equal(c.hs_out.datagrams, 1); /* mixed datagrams count as handshake */
  assert_int_equal(c.app_out.datagrams, 0);
  /* Garbage after a record is charged to the handshake class. */
  n = put_record(d, NB_DTLS_CT_APPLICATION_DATA, 0xFEFD, 1, 4, body, 40);
  memset(d + n, 0xFF, 7);
  nb_dtls_counters_add(&c, false, d, n + 7);
  assert_int_equal(c.app_in.bytes, 106);
  assert_int_equal(c.hs_in.bytes, 7);
  assert_int_equal(c.hs_in.datagrams, 1);
}

static void test_wire_stats_slots(void **state) {
  (void)state;
  uint8_t d[400], hs[200], frag[30] = {0};
  nb_dtls_wire_stats w;
  memset(&w, 0, sizeof w);
  /* Two handshake messages in one record: the header goes to the first. */
  size_t h = put_handshake(hs, NB_DTLS_HS_SERVER_HELLO, 30, 1, 0, frag, 30);
  h += put_handshake(hs + h, NB_DTLS_HS_SERVER_HELLO_DONE, 0, 2, 0, frag, 0);
  size_t n = put_record(d, NB_DTLS_CT_HANDSHAKE, 0xFEFD, 0, 1, hs, h);
  n += put_record(d + n, NB_DTLS_CT_CHANGE_CIPHER_SPEC, 0xFEFD, 0, 2, frag, 1);
  n += put_record(d + n, NB_DTLS_CT_HANDSHAKE, 0xFEFD, 1, 0, frag, 25);
  nb_dtls_wire_stats_add(&w, d, n);
  assert_int_equal(w.bytes[NB_DTLS_WIRE_SERVER_HELLO], 13 + 12 + 30);
  assert_int_equal(w.bytes[NB_DTLS_WIRE_SERVER_HELLO_DONE], 12);
  assert_int_equal(w.bytes[NB_DTLS_WIRE_CHANGE_CIPHER_SPEC], 14);
  assert_int_equal(w.bytes[NB_DTLS_WIRE_FINISHED], 38);
  assert_int_equal(w.messages[NB_DTLS_WIRE_FINISHED], 1);
  assert_int_equal(w.datagrams, 1);
  assert_int_equal(w.total_bytes, n);
  uint64_t sum = 0;
  for (int i = 0; i < NB_DTLS_WIRE_SLOTS; i++) sum += w.bytes[i];
  assert_int_equal(sum, n);
  assert_string_equal(nb_dtls_wire_slot_name(NB_DTLS_WIRE_CLIENT_KEY_EXCHANGE),
                      "ClientKeyExchange");
  assert_string_equal(nb_dtls_wire_slot_name(NB_DTLS_WIRE_SLOTS), "other");
}

static void test_alert_names(void **state) {
  (void)state;
  assert_string_equal(nb_dtls_alert_name(0), "close_notify");
  assert_string_equal(nb_dtls_alert_name(20), "bad_record_mac");
  assert_string_equal(nb_dtls_alert_name(42), "bad_certificate");
  assert_string_equal(nb_dtls_alert_name(48), "unknown_ca");
  assert_string_equal(nb_dtls_alert_name(115), "unknown_psk_identity");
  assert_string_equal(nb_dtls_alert_name(254), "unknown");
  assert_string_equal(nb_strerror(NB_ERR_DTLS_BAD_MAC),
                      "DTLS: peer records fail authentication (wrong key?)");
  assert_string_equal(nb_err_name(NB_ERR_DTLS_UNKNOWN_IDENTITY), "NB_ERR_DTLS_UNKNOWN_IDENTITY");
}

/* The lost-session alert: one epoch-0 fatal alert record, recognised as such; a protected
 * record (epoch 1) or a warning is not it, and a protected record is told from a plain one. */
static void test_plain_alert(void **state) {
  (void)state;
  uint8_t a[NB_DTLS_PLAIN_ALERT_LEN];
  nb_dtls_plain_alert(NB_DTLS_LOST_ALERT, 0x0102030405ull, a);
  int desc = -1;
  assert_true(nb_dtls_is_plain_fatal_alert(a, sizeof a, &desc));
  assert_int_equal(desc, NB_DTLS_ALERT_UNEXPECTED_MESSAGE);
  assert_false(nb_dtls_is_protected(a, sizeof a));
  nb_reader r;
  nb_reader_init(&r, a, sizeof a);
  nb_dtls_record rec;
  assert_int_equal(nb_dtls_record_next(&r, &rec), NB_OK);
  assert_int_equal(rec.seq, 0x0102030405ull);
  assert_false(nb_dtls_is_plain_fatal_alert(a, sizeof a - 1, NULL)); /* cut short */
  a[13] = 1;                                                         /* warning */
  assert_false(nb_dtls_is_plain_fatal_alert(a, sizeof a, NULL));
  a[13] = 2;
  a[4] = 1; /* epoch 1: protected, not in the clear */
  assert_false(nb_dtls_is_plain_fatal_alert(a, sizeof a, NULL));
  assert_true(nb_dtls_is_protected(a, sizeof a));
  a[2] = 0xFF; /* DTLS 1.0 */
  assert_false(nb_dtls_is_protected(a, sizeof a));
  assert_false(nb_dtls_is_protected(a, 5));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_records_walk_and_truncation),
      cmocka_unit_test(test_handshake_fragment_bounds),
      cmocka_unit_test(test_client_hello_recognition),
      cmocka_unit_test(test_client_session_hello),
      cmocka_unit_test(test_counters_split),
      cmocka_unit_test(test_wire_stats_slots),
      cmocka_unit_test(test_alert_names),
      cmocka_unit_test(test_plain_alert),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
