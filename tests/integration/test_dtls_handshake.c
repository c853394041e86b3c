/* DTLS sessions end to end in one process: client sessions and a server context on a simulated
 * network with a virtual clock (tests/support/simnet). PSK, raw public key and X.509 over clean
 * and lossy links; each way a peer can be refused, with the alert it must produce; resumption,
 * close_notify, idle expiry, fragmentation, legacy record versions, timers in virtual time,
 * limits, peer restarts and byte counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"
#include "dtls/keys.h"
#include "dtls/record.h"
#include "dtls/server.h"
#include "dtls/session.h"
#include "simnet.h"
#include "test_pki.h"

/* ---- key material, made once ---- */

static nb_test_pki K;

static int make_keys(void **state) {
  (void)state;
  const char *server_names[] = {"lwm2m.test", "127.0.0.1"};
  return nb_test_pki_make(&K, "urn:dev:ops:0001", server_names,
                          sizeof server_names / sizeof *server_names) == NB_OK
             ? 0
             : -1;
}

static int free_keys(void **state) {
  (void)state;
  nb_test_pki_free(&K);
  return 0;
}

/* ---- the server's security store ---- */

static const uint8_t PSK[16] = {0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87,
                                0x98, 0xA9, 0xBA, 0xCB, 0xDC, 0xED, 0xFE, 0x0F};

typedef struct {
  const char *identities[4]; /* known PSK identities (all with key PSK) */
  const char *secure_ids[4]; /* accepted device raw public keys */
  int lookups, verifies;
} store_t;

static nb_err store_lookup(void *user, const uint8_t *id, size_t id_len, uint8_t *key, size_t cap,
                           size_t *key_len) {
  store_t *st = user;
  st->lookups++;
  for (int i = 0; i < 4 && st->identities[i]; i++) {
    if (strlen(st->identities[i]) == id_len && memcmp(st->identities[i], id, id_len) == 0) {
      assert_true(cap >= sizeof PSK);
      memcpy(key, PSK, sizeof PSK);
      *key_len = sizeof PSK;
      return NB_OK;
    }
  }
  return NB_ERR_NOT_FOUND;
}

static nb_err store_verify(void *user, const nb_dtls_peer *peer, const uint8_t *raw, size_t len) {
  store_t *st = user;
  (void)raw, (void)len;
  st->verifies++;
  for (int i = 0; i < 4 && st->secure_ids[i]; i++) {
    if (strcmp(st->secure_ids[i], peer->secure_id) == 0) return NB_OK;
  }
  return NB_ERR_NOT_FOUND;
}

/* ---- world: one server context, clients, a simulated network ---- */

typedef struct client client_t;
typedef struct world world_t;

typedef struct {
  int established, closed, failed;
  nb_dtls_event last;
  nb_time_ms last_at;
  nb_bytes rx; /* plaintext received, concatenated */
  int rx_count;
  char peer_identity[300], peer_sid[32], peer_cn[128];
  nb_dtls_mode peer_mode;
  char suite[64];
} obs_t;

struct client {
  world_t *w;
  nb_dtls_session *s;
  nb_simnet_node *node;
  nb_addr addr;
  nb_dtls_creds *creds;
  nb_dtls_session_params params;
  obs_t obs;
};

#define MAX_CLIENTS 8

struct world {
  nb_simnet *net;
  nb_dtls_server *srv;
  nb_simnet_node *snode;
  nb_addr saddr;
  nb_dtls_creds *screds;
  nb_dtls_server_config cfg;
  store_t store;
  obs_t sobs;
  client_t clients[MAX_CLIENTS];
  int nclients;
  /* tap */
  bool (*tap)(world_t *w, const nb_addr *from, const nb_addr *to, const uint8_t *d, size_t n,
              nb_time_ms now);
  int tap_state;
  nb_time_ms times[32];
  int ntimes;
  uint64_t wire_c2s, wire_s2c;
  nb_dtls_wire_stats wire;
  int frag_c2s, frag_s2c;
};

static void obs_event(obs_t *o, nb_dtls_session *s, const nb_dtls_event *ev, nb_time_ms now) {
  o->last = *ev;
  o->last_at = now;
  if (ev->type == NB_DTLS_EV_ESTABLISHED) {
    o->established++;
    const nb_dtls_peer *p = nb_dtls_session_peer(s);
    assert_non_null(p);
    o->peer_mode = p->mode;
    snprintf(o->peer_identity, sizeof o->peer_identity, "%s", p->identity);
    snprintf(o->peer_sid, sizeof o->peer_sid, "%s", p->secure_id);
    snprintf(o->peer_cn, sizeof o->peer_cn, "%s", p->common_name);
    snprintf(o->suite, sizeof o->suite, "%s", nb_dtls_session_suite(s));
  }
  if (ev->type == NB_DTLS_EV_CLOSED) o->closed++;
  if (ev->type == NB_DTLS_EV_FAILED) o->failed++;
}

static void obs_recv(obs_t *o, const uint8_t *d, size_t n) {
  nb_bytes_append(&o->rx, d, n);
  o->rx_count++;
}

/* client handlers */
static void c_send(void *user, const nb_addr *peer, const uint8_t *d, size_t n) {
  client_t *c = user;
  nb_simnet_send(c->node, peer, d, n);
}
static void c_recv(void *user, const nb_addr *peer, const uint8_t *d, size_t n, nb_time_ms now) {
  (void)peer, (void)now;
  obs_recv(&((client_t *)user)->obs, d, n);
}
static void c_event(void *user, const nb_addr *peer, nb_dtls_session *s, const nb_dtls_event *ev,
                    nb_time_ms now) {
  (void)peer;
  obs_event(&((client_t *)user)->obs, s, ev, now);
}
static void describe(const char *what, const uint8_t *d, size_t n, nb_time_ms now) {
  if (!getenv("NB_TEST_TRACE")) return;
  fprintf(stderr, "%8lld %s %zu:", (long long)now, what, n);
  nb_reader r;
  nb_dtls_record rec;
  nb_reader_init(&r, d, n);
  while (nb_reader_remaining(&r) > 0 && nb_dtls_record_next(&r, &rec) == NB_OK) {
    fprintf(stderr, " [t%d e%d s%llu", rec.type, rec.epoch, (unsigned long long)rec.seq);
    if (rec.type == 22 && rec.epoch == 0) fprintf(stderr, " hs%d", rec.body[0]);
    fprintf(stderr, "]");
  }
  fprintf(stderr, "\n");
}

static void cn_receive(void *user, const nb_addr *from, const uint8_t *d, size_t n,
                       nb_time_ms now) {
  (void)from;
  client_t *c = user;
  describe("client<-", d, n, now);
  if (c->s) nb_dtls_session_receive(c->s, d, n, now);
  if (getenv("NB_TEST_TRACE") && c->s)
    fprintf(stderr, "         deadline %lld state %s\n",
            (long long)nb_dtls_session_next_deadline(c->s),
            nb_dtls_state_name(nb_dtls_session_state(c->s)));
}
static nb_time_ms cn_deadline(void *user) {
  client_t *c = user;
  return c->s ? nb_dtls_session_next_deadline(c->s) : NB_TIME_NEVER;
}
static void cn_tick(void *user, nb_time_ms now) {
  client_t *c = user;
  if (c->s) nb_dtls_session_tick(c->s, now);
  if (getenv("NB_TEST_TRACE") && c->s)
    fprintf(stderr, "%8lld client tick -> deadline %lld\n", (long long)now,
            (long long)nb_dtls_session_next_deadline(c->s));
}

/* server handlers */
static void s_send(void *user, const nb_addr *peer, const uint8_t *d, size_t n) {
  world_t *w = user;
  nb_simnet_send(w->snode, peer, d, n);
}
static void s_recv(void *user, const nb_addr *peer, const uint8_t *d, size_t n, nb_time_ms now) {
  world_t *w = user;
  (void)now;
  obs_recv(&w->sobs, d, n);
  /* Echo "ping*" back, like a CoAP layer answering a request. */
  if (n >= 4 && memcmp(d, "ping", 4) == 0) {
    uint8_t pong[64];
    size_t m = n < sizeof pong ? n : sizeof pong;
    memcpy(pong, d, m);
    memcpy(pong, "pong", 4);
    assert_int_equal(nb_dtls_server_send(w->srv, peer, pong, m), NB_OK);
  }
}
static void s_event(void *user, const nb_addr *peer, nb_dtls_session *s, const nb_dtls_event *ev,
                    nb_time_ms now) {
  (void)peer;
  obs_event(&((world_t *)user)->sobs, s, ev, now);
}
static void sn_receive(void *user, const nb_addr *from, const uint8_t *d, size_t n,
                       nb_time_ms now) {
  world_t *w = user;
  nb_dtls_server_receive(w->srv, from, d, n, now);
}
static nb_time_ms sn_deadline(void *user) {
  return nb_dtls_server_next_deadline(((world_t *)user)->srv);
}
static void sn_tick(void *user, nb_time_ms now) {
  nb_dtls_server_tick(((world_t *)user)->srv, now);
}

static bool count_fragments(const uint8_t *d, size_t n) {
  nb_reader r, b;
  nb_dtls_record rec;
  nb_dtls_handshake hs;
  bool frag = false;
  nb_reader_init(&r, d, n);
  while (nb_reader_remaining(&r) > 0 && nb_dtls_record_next(&r, &rec) == NB_OK) {
    if (rec.type != NB_DTLS_CT_HANDSHAKE || rec.epoch != 0) continue;
    nb_reader_init(&b, rec.body, rec.body_len);
    while (nb_reader_remaining(&b) > 0 && nb_dtls_handshake_next(&b, &hs) == NB_OK) {
      if (hs.frag_len < hs.length) frag = true;
    }
  }
  return frag;
}

static bool world_tap(void *user, const nb_addr *from, const nb_addr *to, const uint8_t *d,
                      size_t n, nb_time_ms now) {
  world_t *w = user;
  bool to_server = nb_addr_equal(to, &w->saddr);
  describe(to_server ? "c->s" : "s->c", d, n, now);
  nb_dtls_wire_stats_add(&w->wire, d, n);
  if (to_server) {
    w->wire_c2s += n;
    w->frag_c2s += count_fragments(d, n);
  } else {
    w->wire_s2c += n;
    w->frag_s2c += count_fragments(d, n);
  }
  return w->tap ? w->tap(w, from, to, d, n, now) : true;
}

typedef enum { PSK_MODE, RPK_MODE, X509_MODE } mode_t_;

static void world_server_creds(world_t *w, mode_t_ mode) {
  assert_int_equal(nb_dtls_creds_new(&w->screds), NB_OK);
  w->store.identities[0] = "dev-1";
  w->store.secure_ids[0] = K.dev_key.secure_id;
  w->store.secure_ids[1] = K.dev_cert.key.secure_id;
  nb_dtls_creds_set_psk_lookup(w->screds, store_lookup, &w->store);
  if (mode == RPK_MODE) {
    assert_int_equal(
        nb_dtls_creds_set_rpk(w->screds, K.srv_key.key_pem.data, K.srv_key.key_pem.len), NB_OK);
    nb_dtls_creds_set_verify(w->screds, store_verify, &w->store);
  }
  if (mode == X509_MODE) {
    assert_int_equal(
        nb_dtls_creds_set_x509(w->screds, K.srv_cert.cert_pem.data, K.srv_cert.cert_pem.len,
                               K.srv_cert.key.key_pem.data, K.srv_cert.key.key_pem.len),
        NB_OK);
    assert_int_equal(nb_dtls_creds_add_trust(w->screds, K.ca.cert_pem.data, K.ca.cert_pem.len),
                     NB_OK);
  }
}

static world_t *world_new(mode_t_ mode, uint64_t seed, const nb_dtls_server_config *cfg) {
  world_t *w = calloc(1, sizeof *w);
  w->net = nb_simnet_new(seed);
  w->saddr = nb_simnet_addr(1, 5684);
  world_server_creds(w, mode);
  if (cfg) {
    w->cfg = *cfg;
  } else {
    nb_dtls_server_config_default(&w->cfg);
  }
  nb_dtls_handlers h = {s_send, s_recv, s_event, w};
  assert_int_equal(nb_dtls_server_new(&w->cfg, w->screds, &h, &w->srv), NB_OK);
  nb_simnet_ops ops = {sn_receive, sn_deadline, sn_tick, NULL};
  w->snode = nb_simnet_add(w->net, &w->saddr, &ops, w);
  assert_non_null(w->snode);
  nb_simnet_set_tap(w->net, world_tap, w);
  return w;
}

/* Client credentials of the given mode, matching the server unless a test changes them. */
static nb_dtls_creds *client_creds(mode_t_ mode) {
  nb_dtls_creds *c;
  assert_int_equal(nb_dtls_creds_new(&c), NB_OK);
  if (mode == PSK_MODE) {
    assert_int_equal(nb_dtls_creds_set_psk(c, "dev-1", 5, PSK, sizeof PSK), NB_OK);
  } else if (mode == RPK_MODE) {
    assert_int_equal(nb_dtls_creds_set_rpk(c, K.dev_key.key_der.data, K.dev_key.key_der.len),
                     NB_OK);
    assert_int_equal(nb_dtls_creds_pin_rpk(c, K.srv_key.spki_der.data, K.srv_key.spki_der.len),
                     NB_OK);
  } else {
    assert_int_equal(
        nb_dtls_creds_set_x509(c, K.dev_cert.cert_pem.data, K.dev_cert.cert_pem.len,
                               K.dev_cert.key.key_pem.data, K.dev_cert.key.key_pem.len),
        NB_OK);
    assert_int_equal(nb_dtls_creds_add_trust(c, K.ca.cert_pem.data, K.ca.cert_pem.len), NB_OK);
    assert_int_equal(nb_dtls_creds_set_peer_name(c, "lwm2m.test"), NB_OK);
  }
  return c;
}

/* Adds a client node (address 10.0.0.(10+i):40000+i); creds owned by the client. */
static client_t *world_client(world_t *w, nb_dtls_creds *creds) {
  assert_true(w->nclients < MAX_CLIENTS);
  client_t *c = &w->clients[w->nclients];
  c->w = w;
  c->creds = creds;
  c->addr = nb_simnet_addr(10 + (unsigned)w->nclients, (uint16_t)(40000 + w->nclients));
  nb_dtls_session_params_default(&c->params);
  nb_simnet_ops ops = {cn_receive, cn_deadline, cn_tick, NULL};
  c->node = nb_simnet_add(w->net, &c->addr, &ops, c);
  assert_non_null(c->node);
  w->nclients++;
  return c;
}

/* A fresh session for client c (replacing any previous one). */
static void client_start(client_t *c, const nb_bytes *resume) {
  if (c->s) nb_dtls_session_free(c->s);
  memset(&c->obs.last, 0, sizeof c->obs.last);
  nb_dtls_handlers h = {c_send, c_recv, c_event, c};
  assert_int_equal(
      nb_dtls_client_new(c->creds, &c->params, &h, &c->w->saddr, nb_simnet_now(c->w->net), &c->s),
      NB_OK);
  if (resume) assert_int_equal(nb_dtls_client_set_resume(c->s, resume->data, resume->len), NB_OK);
  assert_int_equal(nb_dtls_client_connect(c->s, nb_simnet_now(c->w->net)), NB_OK);
}

static void world_free(world_t *w) {
  for (int i = 0; i < w->nclients; i++) {
    nb_dtls_session_free(w->clients[i].s);
    nb_dtls_creds_free(w->clients[i].creds);
    nb_bytes_free(&w->clients[i].obs.rx);
  }
  nb_dtls_server_free(w->srv);
  nb_dtls_creds_free(w->screds);
  nb_bytes_free(&w->sobs.rx);
  nb_simnet_free(w->net);
  free(w);
}

static bool client_settled(void *user) {
  client_t *c = user;
  return c->s && nb_dtls_session_state(c->s) != NB_DTLS_HANDSHAKING;
}

static bool both_established(void *user) {
  client_t *c = user;
  return c->obs.established > 0 && c->w->sobs.established > 0;
}

static void run_handshake(client_t *c, nb_time_ms budget) {
  nb_time_ms end = nb_simnet_now(c->w->net) + budget;
  nb_simnet_run_until_cond(c->w->net, end, client_settled, c);
  /* Let the server see the client's last flight too. */
  nb_simnet_run_until(c->w->net, nb_simnet_now(c->w->net) + 500);
}

static void ping(client_t *c, const char *text) {
  assert_int_equal(nb_dtls_session_send(c->s, (const uint8_t *)text, strlen(text)), NB_OK);
  nb_simnet_run_until(c->w->net, nb_simnet_now(c->w->net) + 200);
}

static nb_dtls_server_stats server_stats(world_t *w) {
  nb_dtls_server_stats st;
  nb_dtls_server_get_stats(w->srv, &st);
  return st;
}

/* ---- clean handshakes in every mode ---- */

static void assert_established_and_talking(world_t *w, client_t *c) {
  assert_int_equal(nb_dtls_session_state(c->s), NB_DTLS_ESTABLISHED);
  assert_int_equal(c->obs.established, 1);
  assert_int_equal(w->sobs.established, 1);
  ping(c, "ping-1");
  assert_int_equal(w->sobs.rx_count, 1);
  assert_int_equal(c->obs.rx_count, 1);
  assert_memory_equal(c->obs.rx.data, "pong-1", 6);
  nb_dtls_session *ss = nb_dtls_server_find(w->srv, &c->addr);
  assert_non_null(ss);
  assert_int_equal(nb_dtls_session_state(ss), NB_DTLS_ESTABLISHED);
}

static void test_psk_handshake(void **state) {
  (void)state;
  world_t *w = world_new(PSK_MODE, 1, NULL);
  client_t *c = world_client(w, client_creds(PSK_MODE));
  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_established_and_talking(w, c);
  assert_int_equal(w->sobs.peer_mode, NB_DTLS_MODE_PSK);
  assert_string_equal(w->sobs.peer_identity, "dev-1");
  assert_string_equal(w->sobs.suite, "TLS_PSK_WITH_AES_128_CCM_8");
  assert_string_equal(c->obs.suite, "TLS_PSK_WITH_AES_128_CCM_8");
  /* Garbage from the peer's address (spoofed, or late) does not end the session: an empty
   * datagram, a truncated record, a forged application record, a plaintext fatal alert. */
  static const uint8_t forged[][29] = {
      {23, 0xFE, 0xFD, 0, 1, 0, 0, 0, 0, 0, 9, 0, 16},
      {21, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 50, 0, 2, 2, 40},
      {22, 0xFE, 0xFD},
  };
  const size_t forged_len[] = {29, 15, 3};
  nb_time_ms t = nb_simnet_now(w->net);
  assert_int_equal(nb_simnet_inject(w->net, &c->addr, &w->saddr, forged[0], 0, t + 1), NB_OK);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(nb_simnet_inject(w->net, &c->addr, &w->saddr, forged[i], forged_len[i], t + 2),
                     NB_OK);
    assert_int_equal(nb_simnet_inject(w->net, &w->saddr, &c->addr, forged[i], forged_len[i], t + 2),
                     NB_OK);
  }
  nb_simnet_run_until(w->net, t + 100);
  assert_int_equal(nb_dtls_session_state(c->s), NB_DTLS_ESTABLISHED);
  assert_int_equal(w->sobs.failed + w->sobs.closed + c->obs.failed + c->obs.closed, 0);
  ping(c, "ping-2");
  assert_int_equal(c->obs.rx_count, 2);
  nb_dtls_server_stats st = server_stats(w);
  assert_int_equal(st.sessions, 1);
  assert_int_equal(st.handshakes, 0);
  assert_int_equal(st.hello_verify_sent, 1);
  assert_int_equal(st.cookies_accepted, 1);
  assert_int_equal(st.established, 1);
  world_free(w);
}

static void test_rpk_handshake(void **state) {
  (void)state;
  world_t *w = world_new(RPK_MODE, 2, NULL);
  client_t *c = world_client(w, client_creds(RPK_MODE));
  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_established_and_talking(w, c);
  assert_int_equal(w->sobs.peer_mode, NB_DTLS_MODE_RPK);
  assert_string_equal(w->sobs.peer_sid, K.dev_key.secure_id);
  assert_int_equal(c->obs.peer_mode, NB_DTLS_MODE_RPK);
  assert_string_equal(c->obs.peer_sid, K.srv_key.secure_id);
  assert_string_equal(w->sobs.suite, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8");
  assert_int_equal(w->store.verifies, 1);
  world_free(w);
}

static void test_x509_handshake(void **state) {
  (void)state;
  world_t *w = world_new(X509_MODE, 3, NULL);
  client_t *c = world_client(w, client_creds(X509_MODE));
  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_established_and_talking(w, c);
  assert_int_equal(w->sobs.peer_mode, NB_DTLS_MODE_X509);
  assert_string_equal(w->sobs.peer_cn, "urn:dev:ops:0001");
  assert_string_equal(w->sobs.peer_sid, K.dev_cert.key.secure_id);
  assert_string_equal(c->obs.peer_cn, "lwm2m.test");
  assert_string_equal(c->obs.suite, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8");
  const nb_dtls_peer *p = nb_dtls_session_peer(nb_dtls_server_find(w->srv, &c->addr));
  assert_non_null(strstr(p->subject, "CN=urn:dev:ops:0001"));
  world_free(w);
}

/* One server context serves every mode at once: each client gets its own mode's suite. */
static void test_mixed_modes_one_server(void **state) {
  (void)state;
  world_t *w = world_new(RPK_MODE, 4, NULL);
  assert_int_equal(
      nb_dtls_creds_set_x509(w->screds, K.srv_cert.cert_pem.data, K.srv_cert.cert_pem.len,
                             K.srv_cert.key.key_pem.data, K.srv_cert.key.key_pem.len),
      NB_OK);
  assert_int_equal(nb_dtls_creds_add_trust(w->screds, K.ca.cert_pem.data, K.ca.cert_pem.len),
                   NB_OK);
  client_t *c[3] = {world_client(w, client_creds(PSK_MODE)),
                    world_client(w, client_creds(RPK_MODE)),
                    world_client(w, client_creds(X509_MODE))};
  const nb_dtls_mode want[3] = {NB_DTLS_MODE_PSK, NB_DTLS_MODE_RPK, NB_DTLS_MODE_X509};
  for (int i = 0; i < 3; i++) {
    client_start(c[i], NULL);
    run_handshake(c[i], 5000);
    assert_int_equal(nb_dtls_session_state(c[i]->s), NB_DTLS_ESTABLISHED);
    const nb_dtls_peer *p = nb_dtls_session_peer(nb_dtls_server_find(w->srv, &c[i]->addr));
    assert_non_null(p);
    assert_int_equal(p->mode, want[i]);
  }
  assert_int_equal(server_stats(w).sessions, 3);
  world_free(w);
}

/* ---- lossy network ---- */

static void lossy_run(mode_t_ mode, uint64_t seed) {
  /* GnuTLS backs off 1, 2, 4 ... 60 s; give the handshake time for several rounds. */
  nb_dtls_server_config cfg;
  nb_dtls_server_config_default(&cfg);
  cfg.session.handshake_timeout_ms = 180000;
  world_t *w = world_new(mode, seed, &cfg);
  nb_simnet_link lossy = {0.2, 0.15, 5, 80, 0.25, 150};
  nb_simnet_set_link(w->net, &lossy);
  client_t *c = world_client(w, client_creds(mode));
  c->params.handshake_timeout_ms = 180000;
  client_start(c, NULL);
  nb_simnet_run_until_cond(w->net, 175000, both_established, c);
  if (!both_established(c)) {
    fail_msg("mode %d seed %llu: client %s server established=%d failed=%d", mode,
             (unsigned long long)seed, nb_dtls_state_name(nb_dtls_session_state(c->s)),
             w->sobs.established, w->sobs.failed);
  }
  assert_int_equal(c->obs.failed, 0);
  assert_int_equal(w->sobs.failed, 0);
  /* Application data still flows (retried here, as CoAP would, since the link loses it). */
  for (int i = 0; i < 20 && c->obs.rx_count == 0; i++) ping(c, "ping-lossy");
  assert_true(c->obs.rx_count > 0);
  nb_simnet_stats ns;
  nb_simnet_get_stats(w->net, &ns);
  assert_true(ns.dropped > 0 || ns.duplicated > 0);
  world_free(w);
}

static void test_lossy_links(void **state) {
  (void)state;
  uint64_t first = getenv("NB_SEED") ? strtoull(getenv("NB_SEED"), NULL, 10) : 100;
  uint64_t last = getenv("NB_SEED_END") ? strtoull(getenv("NB_SEED_END"), NULL, 10) : first + 6;
  for (uint64_t seed = first; seed < last; seed++) {
    lossy_run(PSK_MODE, seed);
    lossy_run(RPK_MODE, seed);
    lossy_run(X509_MODE, seed);
  }
}

/* ---- refusals: the right alert, and no session left on the server ---- */

static void assert_refused(world_t *w, client_t *c, int alert, bool server_sent, nb_err srv_err,
                           nb_err cli_err) {
  assert_int_equal(nb_dtls_session_state(c->s), NB_DTLS_FAILED);
  assert_int_equal(c->obs.failed, 1);
  assert_int_equal(c->obs.last.alert, alert);
  assert_int_equal(c->obs.last.err, cli_err);
  assert_int_equal(c->obs.last.alert_sent, !server_sent);
  assert_int_equal(w->sobs.failed, 1);
  assert_int_equal(w->sobs.last.alert, alert);
  assert_int_equal(w->sobs.last.alert_sent, server_sent);
  assert_int_equal(w->sobs.last.err, srv_err);
  assert_int_equal(w->sobs.established, 0);
  nb_dtls_server_stats st = server_stats(w);
  assert_int_equal(st.sessions, 0);
  assert_int_equal(st.handshakes, 0);
  assert_int_equal(st.failed, 1);
  assert_null(nb_dtls_server_find(w->srv, &c->addr));
}

static void test_wrong_psk_key(void **state) {
  (void)state;
  world_t *w = world_new(PSK_MODE, 10, NULL);
  nb_dtls_creds *cc;
  uint8_t wrong[16];
  memcpy(wrong, PSK, sizeof wrong);
  wrong[5] ^= 1;
  assert_int_equal(nb_dtls_creds_new(&cc), NB_OK);
  assert_int_equal(nb_dtls_creds_set_psk(cc, "dev-1", 5, wrong, sizeof wrong), NB_OK);
  client_t *c = world_client(w, cc);
  client_start(c, NULL);
  run_handshake(c, 5000);
  /* The server cannot authenticate the client's Finished: bad_record_mac (RFC 6347 4.1.2.7). */
  assert_refused(w, c, 20, true, NB_ERR_DTLS_BAD_MAC, NB_ERR_DTLS_ALERT);
  assert_true(nb_simnet_now(w->net) < 2000); /* at once, not after a timeout */
  world_free(w);
}

static void test_unknown_psk_identity(void **state) {
  (void)state;
  world_t *w = world_new(PSK_MODE, 11, NULL);
  nb_dtls_creds *cc;
  assert_int_equal(nb_dtls_creds_new(&cc), NB_OK);
  assert_int_equal(nb_dtls_creds_set_psk(cc, "dev-2", 5, PSK, sizeof PSK), NB_OK);
  client_t *c = world_client(w, cc);
  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_refused(w, c, 115, true, NB_ERR_DTLS_UNKNOWN_IDENTITY, NB_ERR_DTLS_ALERT);
  assert_int_equal(w->store.lookups, 1);
  world_free(w);
}

static void test_rpk_unexpected_server_key(void **state) {
  (void)state;
  world_t *w = world_new(RPK_MODE, 12, NULL);
  nb_dtls_creds *cc;
  assert_int_equal(nb_dtls_creds_new(&cc), NB_OK);
  assert_int_equal(nb_dtls_creds_set_rpk(cc, K.dev_key.key_pem.data, K.dev_key.key_pem.len), NB_OK);
  assert_int_equal(nb_dtls_creds_pin_rpk(cc, K.other_key.spki_der.data, K.other_key.spki_der.len),
                   NB_OK);
  client_t *c = world_client(w, cc);
  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_refused(w, c, 42, false, NB_ERR_DTLS_ALERT, NB_ERR_DTLS_PEER_REJECTED);
  world_free(w);
}

static void test_rpk_unknown_device(void **state) {
  (void)state;
  world_t *w = world_new(RPK_MODE, 13, NULL);
  nb_dtls_creds *cc;
  assert_int_equal(nb_dtls_creds_new(&cc), NB_OK);
  assert_int_equal(nb_dtls_creds_set_rpk(cc, K.other_key.key_pem.data, K.other_key.key_pem.len),
                   NB_OK);
  assert_int_equal(nb_dtls_creds_pin_rpk(cc, K.srv_key.spki_der.data, K.srv_key.spki_der.len),
                   NB_OK);
  client_t *c = world_client(w, cc);
  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_refused(w, c, 42, true, NB_ERR_DTLS_PEER_REJECTED, NB_ERR_DTLS_ALERT);
  assert_int_equal(w->store.verifies, 1);
  world_free(w);
}

/* A raw public key nobody vouches for (no pin, no callback) is never accepted. */
static void test_rpk_never_blind(void **state) {
  (void)state;
  world_t *w = world_new(RPK_MODE, 14, NULL);
  nb_dtls_creds *cc;
  assert_int_equal(nb_dtls_creds_new(&cc), NB_OK);
  assert_int_equal(nb_dtls_creds_set_rpk(cc, K.dev_key.key_pem.data, K.dev_key.key_pem.len), NB_OK);
  client_t *c = world_client(w, cc);
  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_refused(w, c, 42, false, NB_ERR_DTLS_ALERT, NB_ERR_DTLS_PEER_REJECTED);
  world_free(w);
}

static nb_dtls_creds *x509_client(const nb_dtls_certkey *trust, const nb_dtls_certkey *pin,
                                  const char *name) {
  nb_dtls_creds *cc;
  assert_int_equal(nb_dtls_creds_new(&cc), NB_OK);
  assert_int_equal(nb_dtls_creds_set_x509(cc, K.dev_cert.cert_der.data, K.dev_cert.cert_der.len,
                                          K.dev_cert.key.key_der.data, K.dev_cert.key.key_der.len),
                   NB_OK);
  if (trust)
    assert_int_equal(nb_dtls_creds_add_trust(cc, trust->cert_pem.data, trust->cert_pem.len), NB_OK);
  if (pin)
    assert_int_equal(nb_dtls_creds_pin_cert(cc, pin->cert_pem.data, pin->cert_pem.len), NB_OK);
  if (name) assert_int_equal(nb_dtls_creds_set_peer_name(cc, name), NB_OK);
  return cc;
}

static void test_x509_untrusted_server(void **state) {
  (void)state;
  world_t *w = world_new(X509_MODE, 15, NULL);
  client_t *c = world_client(w, x509_client(&K.other_ca, NULL, "lwm2m.test"));
  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_refused(w, c, 48, false, NB_ERR_DTLS_ALERT, NB_ERR_DTLS_UNTRUSTED);
  world_free(w);
}

static void test_x509_untrusted_device(void **state) {
  (void)state;
  world_t *w = world_new(PSK_MODE, 16, NULL);
  /* Server: its certificate from the test CA but it trusts only the other CA. */
  assert_int_equal(
      nb_dtls_creds_set_x509(w->screds, K.srv_cert.cert_pem.data, K.srv_cert.cert_pem.len,
                             K.srv_cert.key.key_pem.data, K.srv_cert.key.key_pem.len),
      NB_OK);
  assert_int_equal(
      nb_dtls_creds_add_trust(w->screds, K.other_ca.cert_pem.data, K.other_ca.cert_pem.len), NB_OK);
  client_t *c = world_client(w, x509_client(&K.ca, NULL, "lwm2m.test"));
  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_refused(w, c, 48, true, NB_ERR_DTLS_UNTRUSTED, NB_ERR_DTLS_ALERT);
  world_free(w);
}

static void test_x509_wrong_name(void **state) {
  (void)state;
  world_t *w = world_new(X509_MODE, 17, NULL);
  client_t *c = world_client(w, x509_client(&K.ca, NULL, "other.test"));
  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_refused(w, c, 42, false, NB_ERR_DTLS_ALERT, NB_ERR_DTLS_UNTRUSTED);
  world_free(w);
}

/* LwM2M "domain-issued certificate": the exact server certificate, no CA involved. */
static void test_x509_pinned_end_entity(void **state) {
  (void)state;
  world_t *w = world_new(X509_MODE, 18, NULL);
  client_t *c = world_client(w, x509_client(NULL, &K.srv_cert, NULL));
  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_int_equal(nb_dtls_session_state(c->s), NB_DTLS_ESTABLISHED);
  assert_string_equal(c->obs.peer_cn, "lwm2m.test");
  world_free(w);

  w = world_new(X509_MODE, 19, NULL);
  c = world_client(w, x509_client(NULL, &K.other_srv_cert, NULL));
  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_refused(w, c, 42, false, NB_ERR_DTLS_ALERT, NB_ERR_DTLS_PEER_REJECTED);
  world_free(w);
}

/* ---- resumption ---- */

static void resume_run(mode_t_ mode) {
  world_t *w = world_new(mode, 20 + mode, NULL);
  client_t *c = world_client(w, client_creds(mode));
  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_int_equal(nb_dtls_session_state(c->s), NB_DTLS_ESTABLISHED);
  assert_false(nb_dtls_session_resumed(c->s));
  nb_bytes ticket;
  nb_bytes_init(&ticket);
  assert_int_equal(nb_dtls_session_resume_data(c->s, &ticket), NB_OK);
  assert_true(ticket.len > 0);
  nb_dtls_counters full;
  nb_dtls_session_counters(c->s, &full);
  char full_id[300], full_sid[32];
  snprintf(full_id, sizeof full_id, "%s", w->sobs.peer_identity);
  snprintf(full_sid, sizeof full_sid, "%s", w->sobs.peer_sid);
  assert_int_equal(nb_dtls_session_close(c->s, nb_simnet_now(w->net)), NB_OK);
  nb_simnet_run_until(w->net, nb_simnet_now(w->net) + 200);
  assert_int_equal(server_stats(w).sessions, 0);

  client_start(c, &ticket);
  run_handshake(c, 5000);
  assert_int_equal(nb_dtls_session_state(c->s), NB_DTLS_ESTABLISHED);
  assert_true(nb_dtls_session_resumed(c->s));
  assert_int_equal(server_stats(w).resumed, 1);
  assert_true(w->sobs.last.resumed);
  /* The server still knows who the peer is. */
  assert_string_equal(w->sobs.peer_identity, full_id);
  assert_string_equal(w->sobs.peer_sid, full_sid);
  nb_dtls_counters resumed;
  nb_dtls_session_counters(c->s, &resumed);
  /* Fewer messages always; fewer bytes only where certificates and signatures are skipped
   * (GnuTLS's ~350-byte ticket costs more than a PSK key exchange saves). */
  assert_true(resumed.hs_in.datagrams + resumed.hs_out.datagrams <
              full.hs_in.datagrams + full.hs_out.datagrams);
  if (mode != PSK_MODE) {
    assert_true(resumed.hs_in.bytes + resumed.hs_out.bytes < full.hs_in.bytes + full.hs_out.bytes);
  }
  ping(c, "ping-resumed");
  assert_true(c->obs.rx_count >= 1);
  nb_bytes_free(&ticket);
  world_free(w);
}

static void test_resumption(void **state) {
  (void)state;
  resume_run(PSK_MODE);
  resume_run(RPK_MODE);
  resume_run(X509_MODE);
}

/* A device that does not ask for a ticket gets none: ~350-500 bytes saved per handshake. */
static void test_no_ticket_requested(void **state) {
  (void)state;
  world_t *w = world_new(RPK_MODE, 25, NULL);
  client_t *c = world_client(w, client_creds(RPK_MODE));
  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_int_equal(w->wire.messages[NB_DTLS_WIRE_NEW_SESSION_TICKET], 1);
  uint64_t with_ticket = w->wire.total_bytes;
  memset(&w->wire, 0, sizeof w->wire);
  c->params.session_ticket = false;
  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_int_equal(nb_dtls_session_state(c->s), NB_DTLS_ESTABLISHED);
  assert_int_equal(w->wire.messages[NB_DTLS_WIRE_NEW_SESSION_TICKET], 0);
  assert_true(w->wire.total_bytes + 300 < with_ticket);
  world_free(w);
}

/* A device removed from the store cannot come back on an old ticket. */
static void test_resumption_after_revocation(void **state) {
  (void)state;
  world_t *w = world_new(PSK_MODE, 30, NULL);
  client_t *c = world_client(w, client_creds(PSK_MODE));
  client_start(c, NULL);
  run_handshake(c, 5000);
  nb_bytes ticket;
  nb_bytes_init(&ticket);
  assert_int_equal(nb_dtls_session_resume_data(c->s, &ticket), NB_OK);
  nb_dtls_session_close(c->s, nb_simnet_now(w->net));
  nb_simnet_run_until(w->net, nb_simnet_now(w->net) + 200);
  w->store.identities[0] = "someone-else";
  client_start(c, &ticket);
  run_handshake(c, 5000);
  assert_int_equal(nb_dtls_session_state(c->s), NB_DTLS_FAILED);
  assert_int_equal(c->obs.last.alert, 115);
  assert_int_equal(w->sobs.last.err, NB_ERR_DTLS_UNKNOWN_IDENTITY);
  assert_int_equal(server_stats(w).sessions, 0);
  nb_bytes_free(&ticket);
  world_free(w);
}

/* ---- ends of sessions ---- */

static void test_close_notify_both_ways(void **state) {
  (void)state;
  world_t *w = world_new(PSK_MODE, 40, NULL);
  client_t *c = world_client(w, client_creds(PSK_MODE));
  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_int_equal(nb_dtls_session_close(c->s, nb_simnet_now(w->net)), NB_OK);
  assert_int_equal(nb_dtls_session_state(c->s), NB_DTLS_CLOSED);
  assert_int_equal(nb_dtls_session_send(c->s, (const uint8_t *)"x", 1),
                   NB_ERR_DTLS_NOT_ESTABLISHED);
  nb_simnet_run_until(w->net, nb_simnet_now(w->net) + 200);
  assert_int_equal(w->sobs.closed, 1);
  assert_int_equal(w->sobs.last.err, NB_ERR_DTLS_CLOSED);
  assert_int_equal(w->sobs.last.alert, 0);
  assert_int_equal(server_stats(w).sessions, 0);

  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_int_equal(nb_dtls_server_close(w->srv, &c->addr, nb_simnet_now(w->net)), NB_OK);
  assert_int_equal(nb_dtls_server_close(w->srv, &c->addr, nb_simnet_now(w->net)), NB_ERR_NOT_FOUND);
  nb_simnet_run_until(w->net, nb_simnet_now(w->net) + 200);
  assert_int_equal(nb_dtls_session_state(c->s), NB_DTLS_CLOSED);
  assert_int_equal(c->obs.closed, 1);
  assert_int_equal(c->obs.last.err, NB_ERR_DTLS_CLOSED);
  assert_int_equal(server_stats(w).sessions, 0);
  world_free(w);
}

static void test_idle_expiry(void **state) {
  (void)state;
  nb_dtls_server_config cfg;
  nb_dtls_server_config_default(&cfg);
  cfg.idle_timeout_ms = 30000;
  world_t *w = world_new(PSK_MODE, 41, &cfg);
  client_t *c = world_client(w, client_creds(PSK_MODE));
  client_start(c, NULL);
  run_handshake(c, 5000);
  nb_time_ms t0 = nb_simnet_now(w->net);
  /* Traffic keeps it alive... */
  nb_simnet_run_until(w->net, t0 + 20000);
  ping(c, "ping-keepalive");
  nb_time_ms t1 = nb_simnet_now(w->net);
  nb_simnet_run_until(w->net, t1 + 25000);
  assert_int_equal(server_stats(w).sessions, 1);
  /* ...silence ends it, and the device is told. */
  nb_simnet_run_until(w->net, t1 + 31000);
  nb_dtls_server_stats st = server_stats(w);
  assert_int_equal(st.sessions, 0);
  assert_int_equal(st.expired, 1);
  assert_int_equal(w->sobs.last.err, NB_ERR_DTLS_EXPIRED);
  /* Expired 30 s after the last record (the pong, sent shortly before t1). */
  assert_true(w->sobs.last_at >= t1 + 29700 && w->sobs.last_at <= t1 + 30000);
  assert_int_equal(nb_dtls_session_state(c->s), NB_DTLS_CLOSED);
  world_free(w);
}

/* ---- fragmentation and odd record versions ---- */

static void test_fragmented_flights(void **state) {
  (void)state;
  nb_dtls_server_config cfg;
  nb_dtls_server_config_default(&cfg);
  cfg.session.mtu = 200;
  world_t *w = world_new(X509_MODE, 50, &cfg);
  client_t *c = world_client(w, client_creds(X509_MODE));
  c->params.mtu = 200;
  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_int_equal(nb_dtls_session_state(c->s), NB_DTLS_ESTABLISHED);
  assert_true(w->frag_s2c > 0); /* the certificate flight went out in pieces... */
  assert_true(w->frag_c2s > 0); /* ...both ways, and GnuTLS put them back together */
  world_free(w);
}

/* Splits the client's ClientHello (the one with the cookie) into two fragments in two
 * datagrams, numbering records the way a fragmenting client would: the second fragment takes
 * the next record number, so every later epoch-0 record of the client moves up by one. */
static bool split_client_hello(world_t *w, const nb_addr *from, const nb_addr *to, const uint8_t *d,
                               size_t n, nb_time_ms now) {
  nb_dtls_client_hello ch;
  if (!nb_addr_equal(to, &w->saddr)) return true;
  if (w->tap_state > 0) {
    uint8_t copy[1500];
    nb_reader r;
    nb_dtls_record rec;
    assert_true(n <= sizeof copy);
    memcpy(copy, d, n);
    nb_reader_init(&r, d, n);
    while (nb_reader_remaining(&r) > 0 && nb_dtls_record_next(&r, &rec) == NB_OK) {
      if (rec.epoch == 0) copy[(size_t)(rec.body - d) - 13 + 10]++;
    }
    assert_int_equal(nb_simnet_inject(w->net, from, to, copy, n, now + 10), NB_OK);
    return false;
  }
  if (!nb_dtls_parse_client_hello(d, n, &ch) || ch.cookie_len == 0) return true;
  w->tap_state++;
  nb_reader r;
  nb_dtls_record rec;
  nb_dtls_handshake hs;
  nb_reader_init(&r, d, n);
  assert_int_equal(nb_dtls_record_next(&r, &rec), NB_OK);
  nb_reader_init(&r, rec.body, rec.body_len);
  assert_int_equal(nb_dtls_handshake_next(&r, &hs), NB_OK);
  assert_int_equal(hs.frag_len, hs.length);
  uint32_t cut = 2 + 32 + 1 + 1 + (uint32_t)ch.cookie_len + 4; /* past the cookie */
  uint8_t out[2][600];
  for (int part = 0; part < 2; part++) {
    uint32_t off = part ? cut : 0, len = part ? hs.length - cut : cut;
    uint8_t *o = out[part];
    memcpy(o, d, 13); /* record header */
    o[10] = (uint8_t)(d[10] + part);
    memcpy(o + 13, rec.body, 6); /* type, length, message_seq */
    o[19] = (uint8_t)(off >> 16), o[20] = (uint8_t)(off >> 8), o[21] = (uint8_t)off;
    o[22] = (uint8_t)(len >> 16), o[23] = (uint8_t)(len >> 8), o[24] = (uint8_t)len;
    memcpy(o + 25, hs.frag + off, len);
    o[11] = (uint8_t)((12 + len) >> 8), o[12] = (uint8_t)(12 + len);
    assert_int_equal(nb_simnet_inject(w->net, from, to, o, 25 + len, now + 10 + part), NB_OK);
  }
  return false;
}

static void test_fragmented_client_hello(void **state) {
  (void)state;
  world_t *w = world_new(PSK_MODE, 51, NULL);
  w->tap = split_client_hello;
  client_t *c = world_client(w, client_creds(PSK_MODE));
  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_true(w->tap_state >= 1);
  assert_int_equal(nb_dtls_session_state(c->s), NB_DTLS_ESTABLISHED);
  assert_true(nb_simnet_now(w->net) < 1500); /* no retransmission was needed */
  assert_int_equal(server_stats(w).established, 1);
  world_free(w);
}

static uint16_t legacy_version;

/* Puts a legacy record version on every ClientHello, as some mbedTLS clients do. */
static bool rewrite_hello_version(world_t *w, const nb_addr *from, const nb_addr *to,
                                  const uint8_t *d, size_t n, nb_time_ms now) {
  nb_dtls_client_hello ch;
  if (!nb_addr_equal(to, &w->saddr) || !nb_dtls_parse_client_hello(d, n, &ch)) return true;
  uint8_t copy[1500];
  assert_true(n <= sizeof copy);
  memcpy(copy, d, n);
  copy[1] = (uint8_t)(legacy_version >> 8);
  copy[2] = (uint8_t)legacy_version;
  w->tap_state++;
  assert_int_equal(nb_simnet_inject(w->net, from, to, copy, n, now + 10), NB_OK);
  return false;
}

/* GnuTLS 3.7 accepts these record versions on a ClientHello as they are, so no rewriting is
 * needed in front of it: the cookie exchange and the handshake both go through. */
static void test_legacy_record_versions(void **state) {
  (void)state;
  const uint16_t versions[2] = {0xFE00, 0xFEFF};
  for (int i = 0; i < 2; i++) {
    legacy_version = versions[i];
    world_t *w = world_new(PSK_MODE, 52 + (uint64_t)i, NULL);
    w->tap = rewrite_hello_version;
    client_t *c = world_client(w, client_creds(PSK_MODE));
    client_start(c, NULL);
    run_handshake(c, 5000);
    assert_int_equal(w->tap_state, 2); /* both ClientHellos rewritten */
    assert_int_equal(nb_dtls_session_state(c->s), NB_DTLS_ESTABLISHED);
    assert_int_equal(server_stats(w).established, 1);
    world_free(w);
  }
}

/* ---- timers follow the virtual clock ---- */

/* Drops the server's ServerHello twice, noting when each copy is sent. */
static bool drop_server_hello(world_t *w, const nb_addr *from, const nb_addr *to, const uint8_t *d,
                              size_t n, nb_time_ms now) {
  (void)from;
  if (nb_addr_equal(to, &w->saddr)) return true;
  bool server_hello = d[0] == NB_DTLS_CT_HANDSHAKE && n > 13 && d[13] == NB_DTLS_HS_SERVER_HELLO;
  if (!server_hello) return true;
  if (w->ntimes < 32) w->times[w->ntimes++] = now;
  return w->tap_state++ >= 2;
}

static void test_retransmission_in_virtual_time(void **state) {
  (void)state;
  world_t *w = world_new(PSK_MODE, 60, NULL);
  w->tap = drop_server_hello;
  client_t *c = world_client(w, client_creds(PSK_MODE));
  client_start(c, NULL);
  run_handshake(c, 20000);
  assert_int_equal(nb_dtls_session_state(c->s), NB_DTLS_ESTABLISHED);
  /* The server's flight at t, then again after 1 s and 2 s more (doubling), in virtual time:
   * (real time barely moves while this runs). */
  assert_int_equal(w->ntimes, 3);
  assert_int_equal(w->times[1] - w->times[0], 1000);
  assert_int_equal(w->times[2] - w->times[1], 2000);
  assert_true(nb_dtls_virtual_clock_available());
  world_free(w);
}

static void test_handshake_timeout(void **state) {
  (void)state;
  world_t *w = world_new(PSK_MODE, 61, NULL);
  nb_simnet_node_set_reachable(w->snode, false);
  client_t *c = world_client(w, client_creds(PSK_MODE));
  c->params.handshake_timeout_ms = 10000;
  client_start(c, NULL);
  run_handshake(c, 30000);
  assert_int_equal(nb_dtls_session_state(c->s), NB_DTLS_FAILED);
  assert_int_equal(c->obs.last.err, NB_ERR_DTLS_TIMEOUT);
  assert_int_equal(c->obs.last.alert, -1);
  assert_true(c->obs.last_at >= 10000 && c->obs.last_at <= 10100);
  assert_int_equal(nb_dtls_session_next_deadline(c->s), NB_TIME_NEVER);
  world_free(w);
}

/* ---- limits and restarts ---- */

static bool drop_to_clients(world_t *w, const nb_addr *from, const nb_addr *to, const uint8_t *d,
                            size_t n, nb_time_ms now) {
  (void)from, (void)now, (void)n;
  /* Let HelloVerifyRequests through, drop the rest: handshakes stay half-open. */
  if (nb_addr_equal(to, &w->saddr)) return true;
  return w->tap_state == 0 && d[0] == NB_DTLS_CT_HANDSHAKE && n > 13 &&
         d[13] == NB_DTLS_HS_HELLO_VERIFY_REQUEST;
}

static void test_handshake_limit(void **state) {
  (void)state;
  nb_dtls_server_config cfg;
  nb_dtls_server_config_default(&cfg);
  cfg.max_handshakes = 2;
  cfg.session.handshake_timeout_ms = 5000;
  world_t *w = world_new(PSK_MODE, 70, &cfg);
  w->tap = drop_to_clients;
  client_t *c[3];
  for (int i = 0; i < 3; i++) {
    c[i] = world_client(w, client_creds(PSK_MODE));
    client_start(c[i], NULL);
  }
  nb_simnet_run_until(w->net, 500);
  nb_dtls_server_stats st = server_stats(w);
  assert_int_equal(st.handshakes, 2);
  assert_int_equal(st.sessions, 2);
  assert_true(st.refused >= 1);
  /* The half-open handshakes time out on the server; then the third peer gets its turn. */
  w->tap_state = 1;
  w->tap = NULL;
  nb_simnet_run_until_cond(w->net, 20000, client_settled, c[2]);
  assert_int_equal(nb_dtls_session_state(c[2]->s), NB_DTLS_ESTABLISHED);
  world_free(w);
}

static void test_session_limit(void **state) {
  (void)state;
  nb_dtls_server_config cfg;
  nb_dtls_server_config_default(&cfg);
  cfg.max_sessions = 1;
  world_t *w = world_new(PSK_MODE, 71, &cfg);
  client_t *a = world_client(w, client_creds(PSK_MODE));
  client_t *b = world_client(w, client_creds(PSK_MODE));
  b->params.handshake_timeout_ms = 4000;
  client_start(a, NULL);
  run_handshake(a, 5000);
  client_start(b, NULL);
  run_handshake(b, 6000);
  assert_int_equal(nb_dtls_session_state(a->s), NB_DTLS_ESTABLISHED);
  assert_int_equal(nb_dtls_session_state(b->s), NB_DTLS_FAILED);
  assert_int_equal(b->obs.last.err, NB_ERR_DTLS_TIMEOUT);
  nb_dtls_server_stats st = server_stats(w);
  assert_int_equal(st.sessions, 1);
  assert_true(st.refused >= 2); /* every retransmission was refused again */
  world_free(w);
}

/* A device that reboots and handshakes again from the same address replaces its session. */
static void test_restart_replaces_session(void **state) {
  (void)state;
  world_t *w = world_new(RPK_MODE, 72, NULL);
  client_t *c = world_client(w, client_creds(RPK_MODE));
  client_start(c, NULL);
  run_handshake(c, 5000);
  assert_int_equal(w->sobs.established, 1);
  client_start(c, NULL); /* forgets everything, new ClientHello from the same port */
  run_handshake(c, 5000);
  assert_int_equal(nb_dtls_session_state(c->s), NB_DTLS_ESTABLISHED);
  assert_int_equal(w->sobs.established, 2);
  assert_int_equal(w->sobs.closed, 1);
  nb_dtls_server_stats st = server_stats(w);
  assert_int_equal(st.replaced, 1);
  assert_int_equal(st.sessions, 1);
  ping(c, "ping-after-restart");
  assert_int_equal(c->obs.rx_count, 1);
  world_free(w);
}

/* Data the client sends before the handshake ends is held and delivered once it does. */
static void test_send_before_established(void **state) {
  (void)state;
  world_t *w = world_new(PSK_MODE, 73, NULL);
  client_t *c = world_client(w, client_creds(PSK_MODE));
  nb_dtls_handlers h = {c_send, c_recv, c_event, c};
  assert_int_equal(nb_dtls_client_new(c->creds, NULL, &h, &w->saddr, 0, &c->s), NB_OK);
  assert_int_equal(nb_dtls_session_send(c->s, (const uint8_t *)"ping-early-1", 12), NB_OK);
  assert_int_equal(nb_dtls_session_state(c->s), NB_DTLS_HANDSHAKING); /* started by send */
  assert_int_equal(nb_dtls_session_send(c->s, (const uint8_t *)"ping-early-2", 12), NB_OK);
  run_handshake(c, 5000);
  assert_int_equal(w->sobs.rx_count, 2);
  assert_memory_equal(w->sobs.rx.data, "ping-early-1ping-early-2", 24);
  assert_int_equal(c->obs.rx_count, 2);
  uint8_t big[9000] = {0};
  assert_int_equal(nb_dtls_session_send(c->s, big, sizeof big), NB_ERR_OVERFLOW);
  assert_int_equal(nb_dtls_server_send(w->srv, &c->addr, big, 100), NB_OK);
  nb_addr nobody = nb_simnet_addr(99, 1);
  assert_int_equal(nb_dtls_server_send(w->srv, &nobody, big, 100), NB_ERR_NOT_FOUND);
  world_free(w);
}

/* Session counters agree with what crossed the wire. */
static void test_counters_match_wire(void **state) {
  (void)state;
  world_t *w = world_new(RPK_MODE, 74, NULL);
  client_t *c = world_client(w, client_creds(RPK_MODE));
  client_start(c, NULL);
  run_handshake(c, 5000);
  ping(c, "ping-count");
  nb_dtls_counters cc, sc;
  nb_dtls_session_counters(c->s, &cc);
  nb_dtls_session_counters(nb_dtls_server_find(w->srv, &c->addr), &sc);
  nb_dtls_server_stats st = server_stats(w);
  assert_int_equal(cc.hs_out.bytes + cc.app_out.bytes, w->wire_c2s);
  assert_int_equal(cc.hs_in.bytes + cc.app_in.bytes, w->wire_s2c);
  /* The server side: its session plus the stateless cookie exchange. */
  assert_int_equal(sc.hs_in.bytes + sc.app_in.bytes + st.stateless.hs_in.bytes, w->wire_c2s);
  assert_int_equal(sc.hs_out.bytes + sc.app_out.bytes + st.stateless.hs_out.bytes, w->wire_s2c);
  assert_int_equal(cc.app_out.datagrams, 1);
  assert_int_equal(sc.app_in.datagrams, 1);
  assert_int_equal(sc.app_out.datagrams, 1);
  assert_int_equal(cc.app_in.bytes, sc.app_out.bytes);
  assert_int_equal(st.stateless.hs_out.datagrams, 1); /* one HelloVerifyRequest */
  world_free(w);
}

/* Many peers at once: the table grows, every session is found, expiry empties it. */
static void test_many_peers(void **state) {
  (void)state;
  enum { N = 300 };
  nb_dtls_server_config cfg;
  nb_dtls_server_config_default(&cfg);
  cfg.idle_timeout_ms = 60000;
  world_t *w = world_new(PSK_MODE, 80, &cfg);
  nb_dtls_creds *cc = client_creds(PSK_MODE);
  static client_t many[N];
  memset(many, 0, sizeof many);
  for (int i = 0; i < N; i++) {
    many[i].w = w;
    many[i].addr = nb_simnet_addr(1000 + (unsigned)i, (uint16_t)(20000 + i));
    nb_dtls_session_params_default(&many[i].params);
    nb_simnet_ops ops = {cn_receive, cn_deadline, cn_tick, NULL};
    many[i].node = nb_simnet_add(w->net, &many[i].addr, &ops, &many[i]);
    many[i].creds = cc;
    client_start(&many[i], NULL);
  }
  nb_simnet_run_until(w->net, 5000);
  nb_dtls_server_stats st = server_stats(w);
  assert_int_equal(st.sessions, N);
  assert_int_equal(st.established, N);
  for (int i = 0; i < N; i++) {
    assert_int_equal(nb_dtls_session_state(many[i].s), NB_DTLS_ESTABLISHED);
    assert_non_null(nb_dtls_server_find(w->srv, &many[i].addr));
  }
  nb_simnet_run_until(w->net, 70000);
  assert_int_equal(server_stats(w).sessions, 0);
  assert_int_equal(server_stats(w).expired, N);
  for (int i = 0; i < N; i++) {
    nb_dtls_session_free(many[i].s);
    nb_bytes_free(&many[i].obs.rx);
  }
  nb_dtls_creds_free(cc);
  world_free(w);
}

static void gnutls_log(int level, const char *msg) { fprintf(stderr, "GNUTLS<%d> %s", level, msg); }

int main(void) {
  if (getenv("NB_GNUTLS_LOG")) {
    gnutls_global_set_log_function(gnutls_log);
    gnutls_global_set_log_level(atoi(getenv("NB_GNUTLS_LOG")));
  }
  /* Quiet by default; NB_TEST_DEBUG=1 shows every session event and GnuTLS error. */
  nb_log_set_level(getenv("NB_TEST_DEBUG") ? NB_LOG_DEBUG : NB_LOG_ERROR);
  if (getenv("NB_TEST_FILTER")) cmocka_set_test_filter(getenv("NB_TEST_FILTER"));
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_psk_handshake),
      cmocka_unit_test(test_rpk_handshake),
      cmocka_unit_test(test_x509_handshake),
      cmocka_unit_test(test_mixed_modes_one_server),
      cmocka_unit_test(test_lossy_links),
      cmocka_unit_test(test_wrong_psk_key),
      cmocka_unit_test(test_unknown_psk_identity),
      cmocka_unit_test(test_rpk_unexpected_server_key),
      cmocka_unit_test(test_rpk_unknown_device),
      cmocka_unit_test(test_rpk_never_blind),
      cmocka_unit_test(test_x509_untrusted_server),
      cmocka_unit_test(test_x509_untrusted_device),
      cmocka_unit_test(test_x509_wrong_name),
      cmocka_unit_test(test_x509_pinned_end_entity),
      cmocka_unit_test(test_resumption),
      cmocka_unit_test(test_no_ticket_requested),
      cmocka_unit_test(test_resumption_after_revocation),
      cmocka_unit_test(test_close_notify_both_ways),
      cmocka_unit_test(test_idle_expiry),
      cmocka_unit_test(test_fragmented_flights),
      cmocka_unit_test(test_fragmented_client_hello),
      cmocka_unit_test(test_legacy_record_versions),
      cmocka_unit_test(test_retransmission_in_virtual_time),
      cmocka_unit_test(test_handshake_timeout),
      cmocka_unit_test(test_handshake_limit),
      cmocka_unit_test(test_session_limit),
      cmocka_unit_test(test_restart_replaces_session),
      cmocka_unit_test(test_send_before_established),
      cmocka_unit_test(test_counters_match_wire),
      cmocka_unit_test(test_many_peers),
  };
  return cmocka_run_group_tests(tests, make_keys, free_keys);
}
