/* The libuv shell (io/loop.h) on real loopback sockets: recvmmsg batching, sending, IPv6-only
 * sockets, signals, and a CoAP endpoint driven end to end (piggybacked, deferred, block-wise
 * responses, retransmission to a silent peer). No assertion depends on timing: a generous guard
 * timer only keeps a broken build from hanging. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/loop.h"

#define GUARD_MS 20000

/* ---- helpers ---- */

typedef struct {
  uv_timer_t timer;
  bool fired;
} guard;

static void guard_fired(uv_timer_t *t) {
  guard *g = (guard *)t;
  g->fired = true;
  uv_stop(t->loop);
}

static void guard_start(guard *g, nb_io_loop *loop) {
  g->fired = false;
  uv_timer_init(nb_io_loop_uv(loop), &g->timer);
  uv_timer_start(&g->timer, guard_fired, GUARD_MS, 0);
}

/* Closes the guard and lets libuv finish with it, so its memory may be reused at once. */
static void guard_close(guard *g) {
  uv_loop_t *loop = g->timer.loop;
  uv_close((uv_handle_t *)&g->timer, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

static nb_addr v4_loopback(uint16_t port) {
  nb_addr a = {.family = NB_ADDR_V4, .port = port, .ip = {127, 0, 0, 1}};
  return a;
}

/* A plain socket on 127.0.0.1 for the other side of a test; its address into *addr. */
static int raw_socket(nb_addr *addr) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  socklen_t len = sizeof sa;
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  assert_int_equal(nb_addr_from_sockaddr((struct sockaddr *)&sa, addr), NB_OK);
  return fd;
}

static void raw_send(int fd, const nb_addr *to, const void *data, size_t len) {
  struct sockaddr_storage ss;
  size_t sl;
  assert_int_equal(nb_addr_to_sockaddr(to, (struct sockaddr *)&ss, sizeof ss, &sl), NB_OK);
  assert_int_equal(sendto(fd, data, len, 0, (struct sockaddr *)&ss, (socklen_t)sl), (ssize_t)len);
}

/* ---- UDP ---- */

#define BURST 40

typedef struct {
  nb_io_loop *loop;
  unsigned count;
  bool in_order;
  bool peer_ok;
  nb_addr expect_peer;
} burst_rx;

static void burst_receive(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  burst_rx *rx = user;
  char expect[32];
  int n = snprintf(expect, sizeof expect, "datagram %u", rx->count);
  if ((size_t)n != len || memcmp(expect, data, len) != 0) rx->in_order = false;
  if (!nb_addr_equal(peer, &rx->expect_peer)) rx->peer_ok = false;
  if (++rx->count == BURST) nb_io_loop_stop(rx->loop);
}

/* BURST datagrams queued before the first read: recvmmsg must take several per call. */
static void run_burst(unsigned batch, nb_io_udp_stats *st) {
  nb_io_loop *loop;
  assert_int_equal(nb_io_loop_new(&loop), NB_OK);
  nb_io_udp_config cfg;
  nb_io_udp_config_default(&cfg);
  cfg.batch = batch;
  nb_addr any = v4_loopback(0), local;
  nb_io_udp *udp;
  assert_int_equal(nb_io_udp_open(loop, &any, &cfg, &udp), NB_OK);
  assert_int_equal(nb_io_udp_local_addr(udp, &local), NB_OK);
  assert_int_not_equal(local.port, 0);
  burst_rx rx = {.loop = loop, .in_order = true, .peer_ok = true};
  int fd = raw_socket(&rx.expect_peer);
  nb_io_udp_set_receiver(udp, burst_receive, &rx);
  for (unsigned i = 0; i < BURST; i++) {
    char text[32];
    int n = snprintf(text, sizeof text, "datagram %u", i);
    raw_send(fd, &local, text, (size_t)n);
  }
  guard g;
  guard_start(&g, loop);
  nb_io_loop_run(loop);
  assert_false(g.fired);
  assert_int_equal(rx.count, BURST);
  assert_true(rx.in_order);
  assert_true(rx.peer_ok);
  nb_io_udp_get_stats(udp, st);
  assert_int_equal(st->rx, BURST);
  assert_int_equal(st->rx_dropped, 0);
  guard_close(&g);
  nb_io_udp_close(udp);
  nb_io_loop_free(loop);
  close(fd);
}

static void test_udp_recvmmsg_batches(void **state) {
  (void)state;
  nb_io_udp_stats st;
  run_burst(16, &st);
#ifdef __linux__
  assert_true(st.recvmmsg);
#endif
  if (st.recvmmsg) {
    assert_true(st.rx_max_batch > 1);
    assert_true(st.rx_max_batch <= 16);
    assert_true(st.rx_reads < BURST);
  }
}

static void test_udp_batch_one_uses_recvmsg(void **state) {
  (void)state;
  nb_io_udp_stats st;
  run_burst(1, &st);
  assert_false(st.recvmmsg);
  assert_int_equal(st.rx_max_batch, 1);
  assert_int_equal(st.rx_reads, BURST);
}

/* A receiver that answers every datagram at once, as a server ACKs each CON. */
typedef struct {
  nb_io_loop *loop;
  nb_io_udp *udp;
  unsigned count;
} echo_rx;

static void echo_receive(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  echo_rx *rx = user;
  nb_io_udp_send(rx->udp, peer, data, len);
  if (++rx->count == BURST) nb_io_loop_stop(rx->loop);
}

/* The replies to a recvmmsg batch leave in one sendmmsg at its end, every one of them, in order,
 * and what is sent outside a batch goes at once. */
static void test_udp_replies_to_a_batch_leave_together(void **state) {
  (void)state;
  nb_io_loop *loop;
  assert_int_equal(nb_io_loop_new(&loop), NB_OK);
  nb_addr any = v4_loopback(0), local, peer;
  nb_io_udp *udp;
  assert_int_equal(nb_io_udp_open(loop, &any, NULL, &udp), NB_OK);
  assert_int_equal(nb_io_udp_local_addr(udp, &local), NB_OK);
  echo_rx rx = {.loop = loop, .udp = udp};
  nb_io_udp_set_receiver(udp, echo_receive, &rx);
  int fd = raw_socket(&peer);
  for (unsigned i = 0; i < BURST; i++) {
    char text[32];
    int n = snprintf(text, sizeof text, "datagram %u", i);
    raw_send(fd, &local, text, (size_t)n);
  }
  guard g;
  guard_start(&g, loop);
  nb_io_loop_run(loop);
  assert_false(g.fired);
  guard_close(&g);
  assert_int_equal(rx.count, BURST);
  nb_io_udp_stats st;
  nb_io_udp_get_stats(udp, &st);
  assert_int_equal(st.tx + st.tx_queued, BURST);
  assert_int_equal(st.tx_errors, 0);
  if (st.recvmmsg) assert_true(st.tx_calls <= st.rx_reads); /* one write per batch at most */
  for (unsigned i = 0; i < BURST; i++) {
    char expect[32], got[64];
    int n = snprintf(expect, sizeof expect, "datagram %u", i);
    ssize_t r = recv(fd, got, sizeof got, 0);
    assert_int_equal(r, n);
    assert_memory_equal(got, expect, (size_t)n);
  }
  /* Outside a batch a datagram leaves at once. */
  nb_io_udp_send(udp, &peer, (const uint8_t *)"now", 3);
  char got[8];
  assert_int_equal(recv(fd, got, sizeof got, MSG_DONTWAIT), 3);
  nb_io_udp_close(udp);
  nb_io_loop_free(loop);
  close(fd);
}

static void test_udp_send_and_errors(void **state) {
  (void)state;
  nb_io_loop *loop;
  assert_int_equal(nb_io_loop_new(&loop), NB_OK);
  nb_addr any = v4_loopback(0), peer;
  nb_io_udp *udp;
  assert_int_equal(nb_io_udp_open(loop, &any, NULL, &udp), NB_OK);
  int fd = raw_socket(&peer);
  static const uint8_t msg[] = {0x40, 0x01, 0x12, 0x34};
  nb_io_udp_send(udp, &peer, msg, sizeof msg);
  uint8_t got[16];
  ssize_t n = recv(fd, got, sizeof got, 0);
  assert_int_equal(n, sizeof msg);
  assert_memory_equal(got, msg, sizeof msg);
  /* An IPv6 peer cannot be reached from an IPv4 socket: counted, not fatal. */
  nb_addr v6 = {.family = NB_ADDR_V6, .port = peer.port, .ip = {[15] = 1}};
  nb_io_udp_send(udp, &v6, msg, sizeof msg);
  nb_io_udp_stats st;
  nb_io_udp_get_stats(udp, &st);
  assert_int_equal(st.tx + st.tx_queued, 1);
  assert_int_equal(st.tx_errors, 1);
  /* A port already bound is reported as such. */
  nb_addr local;
  assert_int_equal(nb_io_udp_local_addr(udp, &local), NB_OK);
  nb_io_udp *second;
  assert_int_equal(nb_io_udp_open(loop, &local, NULL, &second), NB_ERR_EXISTS);
  nb_io_udp_close(udp);
  nb_io_loop_free(loop);
  close(fd);
}

static bool have_ipv6_loopback(void) {
  int fd = socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  bool ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  close(fd);
  return ok;
}

static void test_udp_ipv6_is_v6only(void **state) {
  (void)state;
  if (!have_ipv6_loopback()) {
    fprintf(stderr, "skipped: no IPv6 loopback (::1) on this machine\n");
    skip();
  }
  nb_io_loop *loop;
  assert_int_equal(nb_io_loop_new(&loop), NB_OK);
  nb_addr v6 = {.family = NB_ADDR_V6, .ip = {[15] = 1}}, local;
  nb_io_udp *udp;
  assert_int_equal(nb_io_udp_open(loop, &v6, NULL, &udp), NB_OK);
  assert_int_equal(nb_io_udp_local_addr(udp, &local), NB_OK);
  assert_int_equal(local.family, NB_ADDR_V6);
  int on = 0;
  socklen_t len = sizeof on;
  assert_int_equal(getsockopt(nb_io_udp_fd(udp), IPPROTO_IPV6, IPV6_V6ONLY, &on, &len), 0);
  assert_int_equal(on, 1);
  /* The same port number on IPv4 is a separate socket. */
  nb_addr v4 = v4_loopback(local.port);
  nb_io_udp *udp4;
  nb_err err = nb_io_udp_open(loop, &v4, NULL, &udp4);
  if (err == NB_ERR_EXISTS) {
    fprintf(stderr, "note: port %u taken on IPv4 by another process\n", local.port);
  } else {
    assert_int_equal(err, NB_OK);
    nb_io_udp_close(udp4);
  }
  nb_io_udp_close(udp);
  nb_io_loop_free(loop);
}

/* ---- signals ---- */

typedef struct {
  nb_io_loop *loop;
  int signum;
} signal_seen;

static void on_signal(void *user, int signum) {
  signal_seen *s = user;
  s->signum = signum;
  nb_io_loop_stop(s->loop);
}

static void raise_term(uv_timer_t *t) {
  (void)t;
  raise(SIGTERM);
}

static void test_signals_reach_the_loop(void **state) {
  (void)state;
  nb_io_loop *loop;
  assert_int_equal(nb_io_loop_new(&loop), NB_OK);
  signal_seen seen = {.loop = loop};
  assert_int_equal(nb_io_loop_on_signals(loop, on_signal, &seen), NB_OK);
  uv_timer_t t;
  uv_timer_init(nb_io_loop_uv(loop), &t);
  uv_timer_start(&t, raise_term, 0, 0);
  guard g;
  guard_start(&g, loop);
  nb_io_loop_run(loop);
  assert_false(g.fired);
  assert_int_equal(seen.signum, SIGTERM);
  guard_close(&g);
  uv_close((uv_handle_t *)&t, NULL);
  nb_io_loop_free(loop);
}

/* ---- CoAP over the shell ---- */

#define BIG 3000

typedef struct {
  nb_io_loop *loop;
  nb_coap_exchange *deferred;
  uv_timer_t later;
  size_t put_len;
  bool put_ok;
  uint8_t big[BIG];
} server_state;

static void respond_later(uv_timer_t *t) {
  server_state *s = t->data;
  nb_coap_msg resp;
  nb_coap_msg_init(&resp, NB_COAP_ACK, NB_COAP_CONTENT, 0);
  nb_coap_msg_set_payload(&resp, "later", 5);
  assert_int_equal(nb_coap_exchange_respond(s->deferred, &resp, nb_io_loop_now(s->loop)), NB_OK);
  s->deferred = NULL;
}

static void server_handler(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                           const nb_coap_msg *req, nb_time_ms now) {
  (void)peer;
  server_state *s = user;
  char path[64];
  assert_int_equal(nb_coap_msg_get_path(req, NB_COAP_OPT_URI_PATH, path, sizeof path), NB_OK);
  nb_coap_msg resp;
  nb_coap_msg_init(&resp, NB_COAP_ACK, NB_COAP_CONTENT, 0);
  if (strcmp(path, "/hello") == 0) {
    nb_coap_msg_set_payload(&resp, "world", 5);
  } else if (strcmp(path, "/big") == 0 && req->code == NB_COAP_GET) {
    nb_coap_msg_set_payload(&resp, s->big, BIG);
  } else if (strcmp(path, "/big") == 0 && req->code == NB_COAP_PUT) {
    s->put_len = req->payload_len;
    s->put_ok = req->payload_len == BIG && memcmp(req->payload, s->big, BIG) == 0;
    resp.code = NB_COAP_CHANGED;
  } else if (strcmp(path, "/slow") == 0) {
    /* Answer from another loop callback: the shell must schedule what follows by itself. */
    s->deferred = ex;
    uv_timer_start(&s->later, respond_later, 10, 0);
    return;
  } else {
    resp.code = NB_COAP_NOT_FOUND;
  }
  assert_int_equal(nb_coap_exchange_respond(ex, &resp, now), NB_OK);
}

typedef struct {
  nb_io_loop *loop;
  int calls;
  nb_err err;
  uint8_t code;
  uint8_t payload[BIG + 16];
  size_t payload_len;
} client_result;

static void client_done(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                        nb_time_ms now) {
  (void)now;
  client_result *r = user;
  r->calls++;
  r->err = err;
  if (resp) {
    r->code = resp->code;
    r->payload_len = resp->payload_len < sizeof r->payload ? resp->payload_len : 0;
    if (r->payload_len) memcpy(r->payload, resp->payload, r->payload_len);
  }
  if (last) nb_io_loop_stop(r->loop);
}

/* Sends one request and runs the loop until its outcome. */
static void request(nb_io_coap *client, const nb_addr *server, uint8_t code, const char *path,
                    const void *payload, size_t len, client_result *r) {
  nb_coap_msg req;
  nb_coap_msg_init(&req, NB_COAP_CON, code, 0);
  assert_int_equal(nb_coap_msg_add_path(&req, NB_COAP_OPT_URI_PATH, path), NB_OK);
  nb_coap_msg_set_payload(&req, payload, len);
  nb_coap_req_id id;
  assert_int_equal(nb_coap_ep_request(nb_io_coap_ep(client), server, &req, true, client_done, r,
                                      nb_io_loop_now(r->loop), &id),
                   NB_OK);
  guard g;
  guard_start(&g, r->loop);
  nb_io_loop_run(r->loop);
  assert_false(g.fired);
  guard_close(&g);
  assert_int_equal(r->calls, 1);
}

static void test_coap_over_udp(void **state) {
  (void)state;
  nb_io_loop *loop;
  assert_int_equal(nb_io_loop_new(&loop), NB_OK);
  server_state *s = calloc(1, sizeof *s);
  assert_non_null(s);
  s->loop = loop;
  for (size_t i = 0; i < BIG; i++) s->big[i] = (uint8_t)(i * 7 + i / 256);
  uv_timer_init(nb_io_loop_uv(loop), &s->later);
  s->later.data = s;
  nb_addr any = v4_loopback(0), server_addr;
  nb_io_coap *server, *client;
  assert_int_equal(nb_io_coap_open_udp(loop, &any, NULL, &server), NB_OK);
  nb_coap_ep_set_handler(nb_io_coap_ep(server), server_handler, s);
  assert_int_equal(nb_io_udp_local_addr(nb_io_coap_udp(server), &server_addr), NB_OK);
  assert_int_equal(nb_io_coap_open_udp(loop, &any, NULL, &client), NB_OK);

  client_result *r = calloc(1, sizeof *r);
  assert_non_null(r);
  r->loop = loop;
  request(client, &server_addr, NB_COAP_GET, "/hello", NULL, 0, r);
  assert_int_equal(r->err, NB_OK);
  assert_int_equal(r->code, NB_COAP_CONTENT);
  assert_int_equal(r->payload_len, 5);
  assert_memory_equal(r->payload, "world", 5);

  memset(r, 0, sizeof *r);
  r->loop = loop;
  request(client, &server_addr, NB_COAP_GET, "/big", NULL, 0, r);
  assert_int_equal(r->err, NB_OK);
  assert_int_equal(r->payload_len, BIG);
  assert_memory_equal(r->payload, s->big, BIG);

  memset(r, 0, sizeof *r);
  r->loop = loop;
  request(client, &server_addr, NB_COAP_PUT, "/big", s->big, BIG, r);
  assert_int_equal(r->err, NB_OK);
  assert_int_equal(r->code, NB_COAP_CHANGED);
  assert_int_equal(s->put_len, BIG);
  assert_true(s->put_ok);

  memset(r, 0, sizeof *r);
  r->loop = loop;
  request(client, &server_addr, NB_COAP_GET, "/slow", NULL, 0, r);
  assert_int_equal(r->err, NB_OK);
  assert_int_equal(r->payload_len, 5);
  assert_memory_equal(r->payload, "later", 5);

  nb_io_udp_stats st;
  nb_io_udp_get_stats(nb_io_coap_udp(client), &st);
  assert_true(st.tx >= 4 + BIG / 1024);
  assert_int_equal(st.tx_errors, 0);

  nb_io_coap_free(client);
  nb_io_coap_free(server);
  uv_close((uv_handle_t *)&s->later, NULL);
  nb_io_loop_free(loop);
  free(r);
  free(s);
}

/* A confirmable request to a socket that never answers: the shell's timer must drive every
 * retransmission and finally the timeout. */
static void test_coap_retransmits_to_silent_peer(void **state) {
  (void)state;
  nb_io_loop *loop;
  assert_int_equal(nb_io_loop_new(&loop), NB_OK);
  nb_addr silent;
  int fd = raw_socket(&silent);
  nb_coap_ep_config cfg;
  nb_coap_ep_config_default(&cfg);
  cfg.ack_timeout = 20;
  cfg.ack_random_factor = 1.0;
  cfg.max_retransmit = 2;
  nb_addr any = v4_loopback(0);
  nb_io_coap *client;
  assert_int_equal(nb_io_coap_open_udp(loop, &any, &cfg, &client), NB_OK);
  client_result *r = calloc(1, sizeof *r);
  assert_non_null(r);
  r->loop = loop;
  request(client, &silent, NB_COAP_GET, "/nothing", NULL, 0, r);
  assert_int_equal(r->err, NB_ERR_TIMEOUT);

  /* 1 transmission + max_retransmit retransmissions, all the same message. */
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  uint8_t first[64], again[64];
  ssize_t n0 = recv(fd, first, sizeof first, 0);
  assert_true(n0 > 4);
  int copies = 1;
  ssize_t n;
  while ((n = recv(fd, again, sizeof again, 0)) > 0) {
    assert_int_equal(n, n0);
    assert_memory_equal(again, first, (size_t)n0);
    copies++;
  }
  assert_int_equal(copies, 3);
  nb_io_coap_free(client);
  nb_io_loop_free(loop);
  free(r);
  close(fd);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_udp_recvmmsg_batches),
      cmocka_unit_test(test_udp_batch_one_uses_recvmsg),
      cmocka_unit_test(test_udp_replies_to_a_batch_leave_together),
      cmocka_unit_test(test_udp_send_and_errors),
      cmocka_unit_test(test_udp_ipv6_is_v6only),
      cmocka_unit_test(test_signals_reach_the_loop),
      cmocka_unit_test(test_coap_over_udp),
      cmocka_unit_test(test_coap_retransmits_to_silent_peer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
