/* bench/dtls: DTLS 1.2 costs on one core, client and server in one process over memory.
 *  1. bytes on the wire of each handshake by message type (PSK, RPK, X.509; full with and
 *     without a session ticket; resumed), to set beside published figures such as 1,128 bytes
 *     in 15 packets for an RPK handshake;
 *  2. full handshakes per second (PSK, RPK), against CoAP message round trips (serialize +
 *     parse) per second in the same run;
 *  3. application records sealed and opened per second, against the plain CoAP path (serialize,
 *     memcpy, parse) of the same message in the same run;
 *  4. memory per established server session (heap delta over many sessions).
 * Usage: bench_dtls [SECONDS_PER_CASE]  (default 1) */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "coap/msg.h"
#include "dtls/keys.h"
#include "dtls/record.h"
#include "dtls/server.h"
#include "dtls/session.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NB_BENCH_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define NB_BENCH_ASAN 1
#endif
#ifdef NB_BENCH_ASAN
#include <sanitizer/allocator_interface.h>
#endif

static volatile uint64_t nb_bench_sink;

static double nb_bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t nb_bench_heap(void) {
#ifdef NB_BENCH_ASAN
  return __sanitizer_get_current_allocated_bytes();
#else
  return mallinfo2().uordblks;
#endif
}

/* ---- an in-memory network between one server context and client sessions ---- */

typedef struct {
  uint8_t data[1500];
  size_t len;
  bool to_server;
  nb_addr from;
} nb_bench_dgram;

enum { NB_BENCH_QUEUE = 256 };

typedef struct {
  nb_bench_dgram q[NB_BENCH_QUEUE];
  unsigned head, tail;
  nb_dtls_server *srv;
  nb_dtls_session **clients; /* indexed by port - 10000 */
  size_t nclients;
  nb_addr server_addr;
  nb_dtls_wire_stats *wire; /* when set: every datagram is counted */
  bool discard;             /* drop whatever is sent (mass expiry) */
  uint64_t app_rx;
} nb_bench_net;

static nb_bench_net net;

static void nb_bench_push(bool to_server, const nb_addr *from, const uint8_t *d, size_t n) {
  if (net.discard) return;
  if (n > sizeof net.q[0].data || net.tail - net.head == NB_BENCH_QUEUE) abort();
  nb_bench_dgram *g = &net.q[net.tail++ % NB_BENCH_QUEUE];
  memcpy(g->data, d, n);
  g->len = n;
  g->to_server = to_server;
  g->from = *from;
  if (net.wire) nb_dtls_wire_stats_add(net.wire, d, n);
}

static void nb_bench_client_send(void *user, const nb_addr *peer, const uint8_t *d, size_t n) {
  (void)peer;
  nb_bench_push(true, (const nb_addr *)user, d, n);
}

static void nb_bench_server_send(void *user, const nb_addr *peer, const uint8_t *d, size_t n) {
  (void)user;
  nb_bench_push(false, peer, d, n);
}

/* The CoAP layer's share of receiving: parse the plaintext. */
static void nb_bench_recv(void *user, const nb_addr *peer, const uint8_t *d, size_t n,
                          nb_time_ms now) {
  (void)user, (void)peer, (void)now;
  nb_coap_msg m;
  if (nb_coap_parse(d, n, &m) == NB_OK) nb_bench_sink += m.mid;
  net.app_rx++;
}

static void nb_bench_pump(nb_time_ms now) {
  while (net.head != net.tail) {
    nb_bench_dgram *g = &net.q[net.head++ % NB_BENCH_QUEUE];
    if (g->to_server) {
      nb_dtls_server_receive(net.srv, &g->from, g->data, g->len, now);
    } else {
      size_t i = (size_t)(g->from.port - 10000);
      if (i < net.nclients && net.clients[i]) {
        nb_dtls_session_receive(net.clients[i], g->data, g->len, now);
      }
    }
  }
}

/* ---- credentials ---- */

static const uint8_t nb_bench_psk[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static nb_err nb_bench_lookup(void *user, const uint8_t *id, size_t id_len, uint8_t *key,
                              size_t cap, size_t *key_len) {
  (void)user, (void)id, (void)id_len, (void)cap;
  memcpy(key, nb_bench_psk, sizeof nb_bench_psk);
  *key_len = sizeof nb_bench_psk;
  return NB_OK;
}

static nb_err nb_bench_verify(void *user, const nb_dtls_peer *peer, const uint8_t *raw,
                              size_t len) {
  (void)user, (void)raw, (void)len;
  return peer->secure_id[0] ? NB_OK : NB_ERR_INVAL;
}

typedef struct {
  nb_dtls_keypair dev, srv;
  nb_dtls_certkey ca, srv_cert, dev_cert;
  nb_dtls_creds *server, *psk, *rpk, *x509;
} nb_bench_keys;

static void nb_bench_check(nb_err err, const char *what) {
  if (err != NB_OK) {
    fprintf(stderr, "bench_dtls: %s: %s\n", what, nb_strerror(err));
    exit(1);
  }
}

static void nb_bench_keys_init(nb_bench_keys *k) {
  nb_dtls_cert_request ca = {"Bench CA", 0, NULL, 0}, srv = {"lwm2m.bench", 0, NULL, 0},
                       dev = {"urn:dev:bench", 0, NULL, 0};
  nb_bench_check(nb_dtls_keypair_generate(&k->dev), "key");
  nb_bench_check(nb_dtls_keypair_generate(&k->srv), "key");
  nb_bench_check(nb_dtls_cert_make_ca(&ca, &k->ca), "ca");
  nb_bench_check(nb_dtls_cert_issue(k->ca.cert_pem.data, k->ca.cert_pem.len, k->ca.key.key_pem.data,
                                    k->ca.key.key_pem.len, &srv, &k->srv_cert),
                 "server certificate");
  nb_bench_check(nb_dtls_cert_issue(k->ca.cert_pem.data, k->ca.cert_pem.len, k->ca.key.key_pem.data,
                                    k->ca.key.key_pem.len, &dev, &k->dev_cert),
                 "device certificate");
  nb_bench_check(nb_dtls_creds_new(&k->server), "creds");
  nb_dtls_creds_set_psk_lookup(k->server, nb_bench_lookup, NULL);
  nb_bench_check(nb_dtls_creds_set_rpk(k->server, k->srv.key_der.data, k->srv.key_der.len), "rpk");
  nb_bench_check(
      nb_dtls_creds_set_x509(k->server, k->srv_cert.cert_der.data, k->srv_cert.cert_der.len,
                             k->srv_cert.key.key_der.data, k->srv_cert.key.key_der.len),
      "x509");
  nb_bench_check(nb_dtls_creds_add_trust(k->server, k->ca.cert_der.data, k->ca.cert_der.len),
                 "trust");
  nb_dtls_creds_set_verify(k->server, nb_bench_verify, NULL);

  nb_bench_check(nb_dtls_creds_new(&k->psk), "creds");
  nb_bench_check(nb_dtls_creds_set_psk(k->psk, "urn:dev:bench", 13, nb_bench_psk, 16), "psk");
  nb_bench_check(nb_dtls_creds_new(&k->rpk), "creds");
  nb_bench_check(nb_dtls_creds_set_rpk(k->rpk, k->dev.key_der.data, k->dev.key_der.len), "rpk");
  nb_bench_check(nb_dtls_creds_pin_rpk(k->rpk, k->srv.spki_der.data, k->srv.spki_der.len), "pin");
  nb_bench_check(nb_dtls_creds_new(&k->x509), "creds");
  nb_bench_check(
      nb_dtls_creds_set_x509(k->x509, k->dev_cert.cert_der.data, k->dev_cert.cert_der.len,
                             k->dev_cert.key.key_der.data, k->dev_cert.key.key_der.len),
      "x509");
  nb_bench_check(nb_dtls_creds_add_trust(k->x509, k->ca.cert_der.data, k->ca.cert_der.len),
                 "trust");
}

static void nb_bench_keys_free(nb_bench_keys *k) {
  nb_dtls_creds_free(k->server);
  nb_dtls_creds_free(k->psk);
  nb_dtls_creds_free(k->rpk);
  nb_dtls_creds_free(k->x509);
  nb_dtls_keypair_free(&k->dev);
  nb_dtls_keypair_free(&k->srv);
  nb_dtls_certkey_free(&k->ca);
  nb_dtls_certkey_free(&k->srv_cert);
  nb_dtls_certkey_free(&k->dev_cert);
}

/* ---- one client ---- */

static nb_addr nb_bench_addr(size_t i) {
  nb_addr a;
  nb_addr_parse("10.1.0.1:10000", 0, &a);
  a.ip[2] = (uint8_t)(i >> 8);
  a.ip[3] = (uint8_t)i;
  a.port = (uint16_t)(10000 + i);
  return a;
}

static nb_addr nb_bench_client_addrs[4096];

/* Runs a client handshake to the end; the client session stays in net.clients[i]. */
static nb_dtls_session *nb_bench_connect(size_t i, const nb_dtls_creds *creds, bool ticket,
                                         const nb_bytes *resume, nb_time_ms now) {
  nb_dtls_session_params p;
  nb_dtls_session_params_default(&p);
  p.session_ticket = ticket;
  nb_bench_client_addrs[i] = nb_bench_addr(i);
  nb_dtls_handlers h = {nb_bench_client_send, nb_bench_recv, NULL, &nb_bench_client_addrs[i]};
  nb_dtls_session *c;
  nb_bench_check(nb_dtls_client_new(creds, &p, &h, &net.server_addr, now, &c), "client");
  if (resume) nb_bench_check(nb_dtls_client_set_resume(c, resume->data, resume->len), "resume");
  net.clients[i] = c;
  nb_bench_check(nb_dtls_client_connect(c, now), "connect");
  nb_bench_pump(now);
  if (nb_dtls_session_state(c) != NB_DTLS_ESTABLISHED) {
    fprintf(stderr, "bench_dtls: handshake did not complete\n");
    exit(1);
  }
  return c;
}

static void nb_bench_disconnect(size_t i, nb_time_ms now) {
  nb_dtls_session_close(net.clients[i], now);
  nb_bench_pump(now);
  nb_dtls_session_free(net.clients[i]);
  net.clients[i] = NULL;
}

/* ---- 1. bytes on the wire ---- */

static void nb_bench_wire_row(const char *name, const nb_dtls_creds *creds, bool ticket,
                              bool resumed) {
  nb_dtls_wire_stats w;
  nb_bytes resume;
  nb_bytes_init(&resume);
  if (resumed) {
    nb_bench_connect(0, creds, true, NULL, 0);
    nb_dtls_session_resume_data(net.clients[0], &resume);
    nb_bench_disconnect(0, 0);
  }
  memset(&w, 0, sizeof w);
  net.wire = &w;
  nb_bench_connect(0, creds, ticket, resumed ? &resume : NULL, 0);
  net.wire = NULL;
  nb_bench_disconnect(0, 0);
  nb_bytes_free(&resume);
  printf("\n%s: %llu bytes in %llu datagrams (%llu with IPv4+UDP headers)\n", name,
         (unsigned long long)w.total_bytes, (unsigned long long)w.datagrams,
         (unsigned long long)(w.total_bytes + 28 * w.datagrams));
  for (int s = 0; s < NB_DTLS_WIRE_SLOTS; s++) {
    if (w.messages[s] == 0 && w.bytes[s] == 0) continue;
    printf("  %-20s %5llu bytes  %2llu message(s)\n", nb_dtls_wire_slot_name((nb_dtls_wire_slot)s),
           (unsigned long long)w.bytes[s], (unsigned long long)w.messages[s]);
  }
}

/* ---- 2. handshakes per second ---- */

static double nb_bench_coap_roundtrips(double seconds) {
  nb_coap_msg m, parsed;
  uint8_t buf[256];
  size_t len;
  uint64_t n = 0;
  double start = nb_bench_now(), end = start + seconds;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_POST, 1);
  nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/rd");
  nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, "ep=urn:dev:bench");
  nb_coap_msg_set_payload(&m, "</1/0>,</3/0>", 13);
  while (nb_bench_now() < end) {
    for (int i = 0; i < 1000; i++) {
      m.mid = (uint16_t)n++;
      nb_coap_serialize(&m, buf, sizeof buf, &len);
      nb_coap_parse(buf, len, &parsed);
      nb_bench_sink += parsed.mid;
    }
  }
  return (double)n / (nb_bench_now() - start);
}

static double nb_bench_handshakes(const nb_dtls_creds *creds, double seconds) {
  uint64_t n = 0;
  nb_time_ms now = 1000;
  double start = nb_bench_now(), end = start + seconds;
  while (nb_bench_now() < end) {
    nb_bench_connect(1, creds, false, NULL, now);
    nb_bench_disconnect(1, now);
    n++;
    now += 10;
  }
  return (double)n / (nb_bench_now() - start);
}

/* ---- 3. records ---- */

static size_t nb_bench_coap_message(uint8_t *buf, size_t cap) {
  static const char payload[] = "{\"bn\":\"/3303/0/\",\"n\":\"5700\",\"v\":21.5}";
  nb_coap_msg m;
  size_t len = 0;
  nb_coap_msg_init(&m, NB_COAP_NON, NB_COAP_CONTENT, 7);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_OBSERVE, 12);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, 110);
  nb_coap_msg_set_payload(&m, payload, sizeof payload - 1);
  nb_coap_serialize(&m, buf, cap, &len);
  return len;
}

static double nb_bench_plain_path(double seconds, const uint8_t *msg, size_t len) {
  uint8_t wire[256];
  nb_coap_msg parsed;
  uint64_t n = 0;
  double start = nb_bench_now(), end = start + seconds;
  while (nb_bench_now() < end) {
    for (int i = 0; i < 1000; i++, n++) {
      memcpy(wire, msg, len);
      wire[3] = (uint8_t)n;
      nb_coap_parse(wire, len, &parsed);
      nb_bench_sink += parsed.mid;
    }
  }
  return (double)n / (nb_bench_now() - start);
}

static double nb_bench_records(const nb_dtls_creds *creds, double seconds, const uint8_t *msg,
                               size_t len) {
  nb_dtls_session *c = nb_bench_connect(2, creds, false, NULL, 1000);
  uint64_t before = net.app_rx;
  double start = nb_bench_now(), end = start + seconds;
  while (nb_bench_now() < end) {
    for (int i = 0; i < 200; i++) {
      nb_dtls_session_send(c, msg, len); /* sealed by the client */
      nb_bench_pump(1000);               /* opened by the server */
    }
  }
  double rate = (double)(net.app_rx - before) / (nb_bench_now() - start);
  nb_bench_disconnect(2, 1000);
  return rate;
}

/* ---- 4. memory ---- */

static double nb_bench_memory(const nb_dtls_creds *creds, size_t n) {
  size_t base = nb_bench_heap();
  for (size_t i = 0; i < n; i++) nb_bench_connect(100 + i, creds, false, NULL, 1000);
  for (size_t i = 0; i < n; i++) {
    nb_dtls_session_free(net.clients[100 + i]);
    net.clients[100 + i] = NULL;
  }
  nb_dtls_server_stats st;
  nb_dtls_server_get_stats(net.srv, &st);
  double per = ((double)nb_bench_heap() - (double)base) / (double)st.sessions;
  /* Forget the server's sessions again: expire them (their close_notify goes nowhere). */
  net.discard = true;
  nb_dtls_server_tick(net.srv, 1000 + 86400000);
  net.discard = false;
  return per;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 1.0;
  if (seconds <= 0) {
    fprintf(stderr, "usage: bench_dtls [SECONDS_PER_CASE]\n");
    return 2;
  }
  nb_log_set_level(NB_LOG_ERROR);
  nb_bench_keys k;
  nb_bench_keys_init(&k);
  nb_addr_parse("10.0.0.1:5684", 0, &net.server_addr);
  net.nclients = 4096;
  net.clients = calloc(net.nclients, sizeof *net.clients);
  nb_dtls_server_config cfg;
  nb_dtls_server_config_default(&cfg);
  cfg.max_handshakes = 4096;
  nb_dtls_handlers sh = {nb_bench_server_send, nb_bench_recv, NULL, NULL};
  nb_bench_check(nb_dtls_server_new(&cfg, k.server, &sh, &net.srv), "server");

  printf("== 1. DTLS 1.2 handshake bytes on the wire (cookie exchange included) ==\n");
  nb_bench_wire_row("PSK full, no ticket", k.psk, false, false);
  nb_bench_wire_row("PSK full, ticket requested", k.psk, true, false);
  nb_bench_wire_row("PSK resumed (ticket)", k.psk, true, true);
  nb_bench_wire_row("RPK full, no ticket", k.rpk, false, false);
  nb_bench_wire_row("RPK full, ticket requested", k.rpk, true, false);
  nb_bench_wire_row("RPK resumed (ticket)", k.rpk, true, true);
  nb_bench_wire_row("X.509 full, no ticket (chain of one)", k.x509, false, false);

  printf("\n== 2. Full handshakes per second, one core, client and server in-process ==\n");
  double coap = nb_bench_coap_roundtrips(seconds);
  double psk = nb_bench_handshakes(k.psk, seconds);
  double rpk = nb_bench_handshakes(k.rpk, seconds);
  printf("%-34s %12.0f /s\n", "CoAP serialize+parse (baseline)", coap);
  printf("%-34s %12.0f /s  (= %.0f CoAP round trips each)\n", "PSK handshake (client+server)", psk,
         coap / psk);
  printf("%-34s %12.0f /s  (= %.0f CoAP round trips each)\n", "RPK handshake (client+server)", rpk,
         coap / rpk);

  printf("\n== 3. Application records sealed + opened per second ==\n");
  uint8_t msg[256];
  size_t len = nb_bench_coap_message(msg, sizeof msg);
  double plain = nb_bench_plain_path(seconds, msg, len);
  double rec = nb_bench_records(k.psk, seconds, msg, len);
  printf("%-44s %12.0f /s\n", "CoAP-only path: memcpy + parse (baseline)", plain);
  printf("%-44s %12.0f /s  ratio %.3f\n", "DTLS AES-128-CCM-8 seal+open + parse", rec, rec / plain);
  printf("(message: a %zu-byte NON 2.05 notification; record adds %d bytes)\n", len, 13 + 8 + 8);

  printf("\n== 4. Memory per established server session (heap delta) ==\n");
  double m_psk = nb_bench_memory(k.psk, 1000);
  double m_rpk = nb_bench_memory(k.rpk, 300);
  printf("PSK: %.0f bytes/session (1000 sessions)\n", m_psk);
  printf("RPK: %.0f bytes/session (300 sessions)\n", m_rpk);

  nb_dtls_server_free(net.srv);
  free(net.clients);
  nb_bench_keys_free(&k);
  return 0;
}
