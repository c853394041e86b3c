/* Stateless cookies (RFC 6347 4.2.1): a flood of ClientHellos from spoofed addresses gets
 * HelloVerifyRequests and allocates nothing; cookies are bound to the address, survive one key
 * rotation and die at the next; anything else from unknown peers is dropped silently. */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"
#include "dtls/record.h"
#include "dtls/server.h"
#include "dtls/session.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NB_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define NB_ASAN 1
#endif
#ifdef NB_ASAN
#include <sanitizer/allocator_interface.h>
#endif

/* Bytes currently allocated by the process (ASan's own count under ASan). */
static size_t heap_in_use(void) {
#ifdef NB_ASAN
  return __sanitizer_get_current_allocated_bytes();
#else
  return mallinfo2().uordblks;
#endif
}

typedef struct {
  uint8_t last[1500];
  size_t last_len;
  nb_addr last_to;
  unsigned sent;
} sink_t;

static void sink_send(void *user, const nb_addr *peer, const uint8_t *d, size_t n) {
  sink_t *s = user;
  assert_true(n <= sizeof s->last);
  memcpy(s->last, d, n);
  s->last_len = n;
  s->last_to = *peer;
  s->sent++;
}

static void no_recv(void *user, const nb_addr *peer, const uint8_t *d, size_t n, nb_time_ms t) {
  (void)user, (void)peer, (void)d, (void)n, (void)t;
}

static nb_err lookup(void *user, const uint8_t *id, size_t id_len, uint8_t *key, size_t cap,
                     size_t *key_len) {
  (void)user, (void)id, (void)id_len, (void)cap;
  memset(key, 7, 16);
  *key_len = 16;
  return NB_OK;
}

typedef struct {
  nb_dtls_creds *screds, *ccreds;
  nb_dtls_server *srv;
  sink_t to_clients, to_server;
  nb_dtls_server_config cfg;
} fixture_t;

static void fixture_init(fixture_t *f) {
  memset(f, 0, sizeof *f);
  uint8_t key[16];
  memset(key, 7, sizeof key);
  assert_int_equal(nb_dtls_creds_new(&f->screds), NB_OK);
  nb_dtls_creds_set_psk_lookup(f->screds, lookup, NULL);
  assert_int_equal(nb_dtls_creds_new(&f->ccreds), NB_OK);
  assert_int_equal(nb_dtls_creds_set_psk(f->ccreds, "dev", 3, key, sizeof key), NB_OK);
  nb_dtls_server_config_default(&f->cfg);
  f->cfg.cookie_rotate_ms = 10000;
  nb_dtls_handlers h = {sink_send, no_recv, NULL, &f->to_clients};
  assert_int_equal(nb_dtls_server_new(&f->cfg, f->screds, &h, &f->srv), NB_OK);
}

static void fixture_deinit(fixture_t *f) {
  nb_dtls_server_free(f->srv);
  nb_dtls_creds_free(f->screds);
  nb_dtls_creds_free(f->ccreds);
}

/* A real client's first ClientHello, and its second one carrying the cookie the server gave
 * `from` at `now`. */
static void client_hellos(fixture_t *f, const nb_addr *from, nb_time_ms now, uint8_t *ch1,
                          size_t *ch1_len, uint8_t *ch2, size_t *ch2_len) {
  nb_dtls_session *c;
  nb_addr server;
  nb_addr_parse("192.0.2.1:5684", 0, &server);
  nb_dtls_handlers h = {sink_send, no_recv, NULL, &f->to_server};
  assert_int_equal(nb_dtls_client_new(f->ccreds, NULL, &h, &server, now, &c), NB_OK);
  assert_int_equal(nb_dtls_client_connect(c, now), NB_OK);
  memcpy(ch1, f->to_server.last, f->to_server.last_len);
  *ch1_len = f->to_server.last_len;
  unsigned before = f->to_clients.sent;
  nb_dtls_server_receive(f->srv, from, ch1, *ch1_len, now);
  assert_int_equal(f->to_clients.sent, before + 1);
  assert_int_equal(f->to_clients.last[13], NB_DTLS_HS_HELLO_VERIFY_REQUEST);
  nb_dtls_session_receive(c, f->to_clients.last, f->to_clients.last_len, now);
  memcpy(ch2, f->to_server.last, f->to_server.last_len);
  *ch2_len = f->to_server.last_len;
  nb_dtls_client_hello parsed;
  assert_true(nb_dtls_parse_client_hello(ch2, *ch2_len, &parsed));
  assert_int_equal(parsed.cookie_len, 16);
  nb_dtls_session_free(c);
}

static nb_addr spoofed(uint32_t i) {
  nb_addr a;
  memset(&a, 0, sizeof a);
  a.family = NB_ADDR_V4;
  a.ip[0] = 10;
  a.ip[1] = (uint8_t)(i >> 16);
  a.ip[2] = (uint8_t)(i >> 8);
  a.ip[3] = (uint8_t)i;
  a.port = (uint16_t)(1024 + i % 50000);
  return a;
}

static void test_flood_allocates_nothing(void **state) {
  (void)state;
  enum { FLOOD = 20000 };
  fixture_t f;
  fixture_init(&f);
  uint8_t ch1[1500], ch2[1500];
  size_t n1, n2;
  nb_addr a = spoofed(0);
  client_hellos(&f, &a, 0, ch1, &n1, ch2, &n2);
  /* Forge a cookie: right length, wrong bytes. */
  uint8_t forged[1500];
  memcpy(forged, ch2, n2);
  nb_dtls_client_hello parsed;
  assert_true(nb_dtls_parse_client_hello(forged, n2, &parsed));
  size_t cookie_at = (size_t)(parsed.random - forged) + 32 + 1 + 1;
  forged[cookie_at] ^= 0x5A;

  size_t heap_before = heap_in_use();
  unsigned hvr_before = f.to_clients.sent;
  for (uint32_t i = 1; i <= FLOOD; i++) {
    nb_addr from = spoofed(i);
    const uint8_t *d = (i % 3 == 0) ? forged : (i % 3 == 1) ? ch1 : ch2;
    size_t n = (i % 3 == 0) ? n2 : (i % 3 == 1) ? n1 : n2;
    /* ch2's cookie belongs to spoofed(0), so from anyone else it is as bad as a forgery. */
    nb_dtls_server_receive(f.srv, &from, d, n, 1 + i / 100);
  }
  size_t heap_after = heap_in_use();
  nb_dtls_server_stats st;
  nb_dtls_server_get_stats(f.srv, &st);
  assert_int_equal(st.sessions, 0);
  assert_int_equal(st.handshakes, 0);
  assert_int_equal(st.cookies_accepted, 0);
  assert_int_equal(st.hello_verify_sent, FLOOD + 1);
  assert_int_equal(f.to_clients.sent - hvr_before, FLOOD);
  assert_int_equal(st.stateless.hs_in.datagrams, FLOOD + 1);
  assert_int_equal(st.stateless.hs_out.datagrams, FLOOD + 1);
  for (uint32_t i = 1; i <= FLOOD; i += 997) {
    nb_addr from = spoofed(i);
    assert_null(nb_dtls_server_find(f.srv, &from));
  }
  /* One session alone costs tens of kilobytes; the whole flood must cost less than that. */
  if (heap_after > heap_before) assert_true(heap_after - heap_before < 16 * 1024);
  fixture_deinit(&f);
}

static void test_cookie_bound_to_address(void **state) {
  (void)state;
  fixture_t f;
  fixture_init(&f);
  uint8_t ch1[1500], ch2[1500];
  size_t n1, n2;
  nb_addr a = spoofed(1), b = spoofed(2), a_other_port = spoofed(1);
  a_other_port.port++;
  client_hellos(&f, &a, 0, ch1, &n1, ch2, &n2);
  nb_dtls_server_receive(f.srv, &b, ch2, n2, 10);
  nb_dtls_server_receive(f.srv, &a_other_port, ch2, n2, 10);
  nb_dtls_server_stats st;
  nb_dtls_server_get_stats(f.srv, &st);
  assert_int_equal(st.sessions, 0);
  assert_int_equal(st.hello_verify_sent, 3);
  /* The HelloVerifyRequest echoes the ClientHello's record sequence number. */
  assert_int_equal(f.to_clients.last[10], ch2[10]);
  assert_true(nb_addr_equal(&f.to_clients.last_to, &a_other_port));
  size_t heap_before = heap_in_use();
  nb_dtls_server_receive(f.srv, &a, ch2, n2, 10);
  /* What a session costs: the yardstick of the flood test above. */
  assert_true(heap_in_use() - heap_before > 16 * 1024);
  nb_dtls_server_get_stats(f.srv, &st);
  assert_int_equal(st.sessions, 1);
  assert_int_equal(st.handshakes, 1);
  assert_int_equal(st.cookies_accepted, 1);
  assert_non_null(nb_dtls_server_find(f.srv, &a));
  assert_int_equal(f.to_clients.last[13], NB_DTLS_HS_SERVER_HELLO_DONE); /* flight 4 went out */
  fixture_deinit(&f);
}

static void test_cookie_key_rotation(void **state) {
  (void)state;
  fixture_t f;
  fixture_init(&f);
  uint8_t ch1[1500], ch2[1500];
  size_t n1, n2;
  nb_dtls_server_stats st;
  /* Cookie from the first key; one rotation later it is still good... */
  nb_addr a = spoofed(7);
  client_hellos(&f, &a, 0, ch1, &n1, ch2, &n2);
  nb_dtls_server_tick(f.srv, 10000);
  assert_int_equal(nb_dtls_server_next_deadline(f.srv), 20000);
  nb_dtls_server_receive(f.srv, &a, ch2, n2, 10001);
  nb_dtls_server_get_stats(f.srv, &st);
  assert_int_equal(st.cookies_accepted, 1);
  /* ...two rotations later it is refused. */
  nb_addr b = spoofed(8);
  client_hellos(&f, &b, 10002, ch1, &n1, ch2, &n2); /* cookie from the second key */
  nb_dtls_server_tick(f.srv, 20000);
  nb_dtls_server_tick(f.srv, 30000);
  unsigned hvr = f.to_clients.sent;
  nb_dtls_server_receive(f.srv, &b, ch2, n2, 30001);
  nb_dtls_server_get_stats(f.srv, &st);
  assert_int_equal(st.cookies_accepted, 1);
  assert_int_equal(f.to_clients.sent, hvr + 1);
  assert_int_equal(f.to_clients.last[13], NB_DTLS_HS_HELLO_VERIFY_REQUEST);
  assert_null(nb_dtls_server_find(f.srv, &b));
  fixture_deinit(&f);
}

/* Records that cannot open a handshake get no state from unknown peers. Those protected under a
 * session (epoch 1: the peer's session was lost in a restart) get the lost-session alert, 15
 * bytes in the clear, at most lost_alerts_per_s a second; nothing else is answered. */
static void test_non_hello_dropped(void **state) {
  (void)state;
  fixture_t f;
  fixture_init(&f);
  nb_dtls_server_free(f.srv);
  f.cfg.lost_alerts_per_s = 1;
  nb_dtls_handlers h = {sink_send, no_recv, NULL, &f.to_clients};
  assert_int_equal(nb_dtls_server_new(&f.cfg, f.screds, &h, &f.srv), NB_OK);
  uint8_t junk[64];
  memset(junk, 0, sizeof junk);
  junk[0] = NB_DTLS_CT_APPLICATION_DATA;
  junk[1] = 0xFE, junk[2] = 0xFD, junk[4] = 1, junk[12] = 51;
  nb_addr a = spoofed(9);
  nb_dtls_server_receive(f.srv, &a, junk, sizeof junk, 1);
  assert_int_equal(f.to_clients.sent, 1);
  assert_int_equal(f.to_clients.last_len, NB_DTLS_PLAIN_ALERT_LEN);
  int desc = -1;
  assert_true(nb_dtls_is_plain_fatal_alert(f.to_clients.last, f.to_clients.last_len, &desc));
  assert_int_equal(desc, NB_DTLS_LOST_ALERT);
  junk[0] = NB_DTLS_CT_ALERT;
  nb_dtls_server_receive(f.srv, &a, junk, sizeof junk, 1); /* past the budget of the second */
  nb_dtls_server_receive(f.srv, &a, junk, 5, 1);
  nb_dtls_server_receive(f.srv, &a, junk, 0, 1);
  junk[4] = 0; /* epoch 0, not a ClientHello: nothing */
  nb_dtls_server_receive(f.srv, &a, junk, sizeof junk, 2000);
  nb_dtls_server_stats st;
  nb_dtls_server_get_stats(f.srv, &st);
  assert_int_equal(st.dropped, 5);
  assert_int_equal(st.sessions, 0);
  assert_int_equal(st.lost_alerts, 1);
  assert_int_equal(f.to_clients.sent, 1);
  junk[4] = 1; /* a second later: answered again */
  nb_dtls_server_receive(f.srv, &a, junk, sizeof junk, 2001);
  assert_int_equal(f.to_clients.sent, 2);
  fixture_deinit(&f);
}

int main(void) {
  nb_log_set_level(NB_LOG_ERROR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_flood_allocates_nothing),
      cmocka_unit_test(test_cookie_bound_to_address),
      cmocka_unit_test(test_cookie_key_rotation),
      cmocka_unit_test(test_non_hello_dropped),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
