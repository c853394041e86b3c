/* The figure of issue 13, item 3, in process: the server engine behind its DTLS server context
 * on the simulated network (virtual clock), a flood from one address that completes the cookie
 * exchange from port after port, 250 a second, and goes silent, running the whole time; a
 * legitimate PSK device (a fresh client engine each time, as after a reboot) registers ten
 * times, each at the first attempt: no DTLS or CoAP retransmission, under a second. Before the
 * fix the flood filled the 1,000-entry handshake table for 60 s at a time and the device could
 * not get a handshake at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"
#include "dtls/server.h"
#include "niobium/client.h"
#include "server/server.h"
#include "simnet.h"
#include "store/sqlite.h"

#define PSK_ID "legit-id"
#define PSK_KEY "0123456789abcdef"
#define FLOOD_PORTS 1500
#define FLOOD_EVERY_MS 4
#define ATTEMPTS 10

/* ---- the server: engine + DTLS server context on one node ---- */

typedef struct {
  nb_simnet *net;
  nb_simnet_node *node;
  nb_addr addr;
  nb_server *srv;
  nb_store_sqlite *store;
  nb_dtls_server *dtls;
  nb_dtls_creds *creds;
  int registrations;
} server_fx;

static void dtls_send(void *u, const nb_addr *p, const uint8_t *d, size_t n) {
  nb_simnet_send(((server_fx *)u)->node, p, d, n);
}

static void dtls_recv(void *u, const nb_addr *p, const uint8_t *d, size_t n, nb_time_ms now) {
  server_fx *s = u;
  nb_server_identity id = {.kind = NB_SERVER_ID_NONE};
  nb_dtls_session *sess = nb_dtls_server_find(s->dtls, p);
  const nb_dtls_peer *who = sess ? nb_dtls_session_peer(sess) : NULL;
  if (who && who->mode == NB_DTLS_MODE_PSK) {
    id.kind = NB_SERVER_ID_PSK;
    snprintf(id.value, sizeof id.value, "%s", who->identity);
  }
  nb_server_receive(s->srv, p, &id, d, n, now);
}

static void srv_send(void *u, const nb_addr *p, const uint8_t *d, size_t n) {
  nb_dtls_server_send(((server_fx *)u)->dtls, p, d, n);
}

static void srv_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_dtls_server_receive(((server_fx *)u)->dtls, from, d, n, now);
}

static nb_time_ms srv_deadline(void *u) {
  server_fx *s = u;
  return nb_time_min(nb_server_next_deadline(s->srv), nb_dtls_server_next_deadline(s->dtls));
}

static void srv_tick(void *u, nb_time_ms now) {
  server_fx *s = u;
  nb_dtls_server_tick(s->dtls, now);
  nb_server_tick(s->srv, now);
}

static const nb_simnet_ops srv_ops = {srv_recv, srv_deadline, srv_tick, NULL};

static void on_server_event(void *u, const nb_server_event *ev) {
  if (ev->type == NB_SEV_REGISTRATION) ((server_fx *)u)->registrations++;
}

static nb_err psk_lookup(void *u, const uint8_t *ident, size_t len, uint8_t *key, size_t cap,
                         size_t *klen) {
  (void)u;
  if (len != strlen(PSK_ID) || memcmp(ident, PSK_ID, len) != 0 || cap < strlen(PSK_KEY))
    return NB_ERR_NOT_FOUND;
  memcpy(key, PSK_KEY, strlen(PSK_KEY));
  *klen = strlen(PSK_KEY);
  return NB_OK;
}

static void server_setup(server_fx *s, nb_simnet *net) {
  memset(s, 0, sizeof *s);
  s->net = net;
  assert_int_equal(nb_store_sqlite_open(":memory:", &s->store), NB_OK);
  nb_server_store st = nb_store_sqlite_iface(s->store);
  nb_server_sec_info sec = {.kind = NB_SERVER_ID_PSK, .key_len = strlen(PSK_KEY)};
  snprintf(sec.ep, sizeof sec.ep, "legit");
  snprintf(sec.identity, sizeof sec.identity, PSK_ID);
  memcpy(sec.key, PSK_KEY, strlen(PSK_KEY));
  assert_int_equal(st.ops->sec_put(st.self, &sec), NB_OK);
  nb_server_config sc;
  nb_server_config_default(&sc);
  sc.store = st;
  sc.random = nb_simnet_rng_fill;
  sc.random_user = nb_simnet_rng_of(net);
  sc.coap.random = NULL;
  s->addr = nb_simnet_addr(1, 5684);
  s->node = nb_simnet_add(net, &s->addr, &srv_ops, s);
  assert_non_null(s->node);
  assert_int_equal(nb_server_new(&sc, srv_send, s, &s->srv), NB_OK);
  assert_int_equal(nb_server_add_listener(s->srv, on_server_event, s), NB_OK);
  assert_int_equal(nb_dtls_creds_new(&s->creds), NB_OK);
  nb_dtls_creds_set_psk_lookup(s->creds, psk_lookup, s);
  nb_dtls_server_config cfg; /* the defaults `niobium server` runs with */
  nb_dtls_server_config_default(&cfg);
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(net);
  nb_dtls_handlers h = {dtls_send, dtls_recv, NULL, s};
  assert_int_equal(nb_dtls_server_new(&cfg, s->creds, &h, &s->dtls), NB_OK);
}

static void server_teardown(server_fx *s) {
  nb_server_free(s->srv);
  nb_dtls_server_free(s->dtls);
  nb_dtls_creds_free(s->creds);
  nb_store_sqlite_close(s->store);
}

/* ---- the flood: one address, port after port, cookie exchange then silence ---- */

typedef struct flood flood;

typedef struct {
  flood *fl;
  nb_addr addr;
  nb_simnet_node *node;
  nb_dtls_session *s; /* until its second ClientHello is out */
} flood_port;

struct flood {
  nb_simnet *net;
  nb_addr server;
  nb_dtls_creds *creds;
  flood_port ports[FLOOD_PORTS];
  uint64_t started, cookies_sent;
  nb_time_ms next, until;
};

static void flood_port_send(void *u, const nb_addr *to, const uint8_t *d, size_t n) {
  flood_port *p = u;
  nb_simnet_send(p->node, to, d, n);
}

static void no_recv(void *u, const nb_addr *p, const uint8_t *d, size_t n, nb_time_ms now) {
  (void)u, (void)p, (void)d, (void)n, (void)now;
}

/* The HelloVerifyRequest: answer it with the cookie, then never again. */
static void flood_port_receive(void *u, const nb_addr *from, const uint8_t *d, size_t n,
                               nb_time_ms now) {
  flood_port *p = u;
  (void)from;
  if (!p->s) return;
  nb_dtls_session_receive(p->s, d, n, now);
  nb_dtls_session_free(p->s);
  p->s = NULL;
  p->fl->cookies_sent++;
}

static const nb_simnet_ops flood_port_ops = {flood_port_receive, NULL, NULL, NULL};

static nb_time_ms flood_deadline(void *u) {
  flood *fl = u;
  return fl->next <= fl->until ? fl->next : NB_TIME_NEVER;
}

static void flood_tick(void *u, nb_time_ms now) {
  flood *fl = u;
  while (fl->next <= now && fl->next <= fl->until) {
    flood_port *p = &fl->ports[fl->started % FLOOD_PORTS];
    if (!p->node) {
      p->fl = fl;
      p->addr = nb_simnet_addr(9009, (uint16_t)(20000 + fl->started % FLOOD_PORTS));
      p->node = nb_simnet_add(fl->net, &p->addr, &flood_port_ops, p);
      assert_non_null(p->node);
    }
    nb_dtls_session_free(p->s);
    nb_dtls_handlers h = {flood_port_send, no_recv, NULL, p};
    assert_int_equal(nb_dtls_client_new(fl->creds, NULL, &h, &fl->server, now, &p->s), NB_OK);
    assert_int_equal(nb_dtls_client_connect(p->s, now), NB_OK);
    fl->started++;
    fl->next += FLOOD_EVERY_MS;
  }
}

static const nb_simnet_ops flood_ops = {NULL, flood_deadline, flood_tick, NULL};

static void flood_start(flood *fl, nb_simnet *net, const nb_addr *server, nb_time_ms until) {
  memset(fl, 0, sizeof *fl);
  fl->net = net;
  fl->server = *server;
  fl->until = until;
  uint8_t key[16] = {9};
  assert_int_equal(nb_dtls_creds_new(&fl->creds), NB_OK);
  assert_int_equal(nb_dtls_creds_set_psk(fl->creds, "flood", 5, key, sizeof key), NB_OK);
  nb_addr driver = nb_simnet_addr(9009, 1);
  assert_non_null(nb_simnet_add(net, &driver, &flood_ops, fl));
}

static void flood_stop(flood *fl) {
  for (size_t i = 0; i < FLOOD_PORTS; i++) nb_dtls_session_free(fl->ports[i].s);
  nb_dtls_creds_free(fl->creds);
}

/* ---- the device ---- */

typedef struct {
  nb_client *c;
  int reg_failed;
} device;

static void dev_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  device *dv = u;
  if (dv->c) nb_client_receive(dv->c, from, d, n, now);
}
static nb_time_ms dev_deadline(void *u) {
  device *dv = u;
  return dv->c ? nb_client_next_deadline(dv->c) : NB_TIME_NEVER;
}
static void dev_tick(void *u, nb_time_ms now) {
  device *dv = u;
  if (dv->c) nb_client_tick(dv->c, now);
}
static const nb_simnet_ops dev_ops = {dev_recv, dev_deadline, dev_tick, NULL};

static void dev_event(void *u, nb_client_event ev, uint16_t ssid, nb_err err, nb_time_ms now) {
  (void)ssid, (void)err, (void)now;
  if (ev == NB_CLIENT_EV_REG_FAILED) ((device *)u)->reg_failed++;
}

/* A freshly booted device on its own node (address 10.0.0.100, a new port each boot). */
static void device_boot(device *dv, nb_simnet *net, unsigned boot) {
  memset(dv, 0, sizeof *dv);
  nb_addr a = nb_simnet_addr(100, (uint16_t)(56830 + boot));
  nb_simnet_node *node = nb_simnet_add(net, &a, &dev_ops, dv);
  assert_non_null(node);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "legit";
  cfg.send = nb_simnet_send;
  cfg.send_user = node;
  cfg.on_event = dev_event;
  cfg.event_user = dv;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(net);
  assert_int_equal(nb_client_new(&cfg, &dv->c), NB_OK);
  nb_client_device_info d = {.manufacturer = "ACME",
                             .model = "Flood-1",
                             .battery_level = -1,
                             .memory_free_kb = -1,
                             .memory_total_kb = -1,
                             .timezone = "UTC"};
  assert_int_equal(nb_client_add_device(dv->c, &d), NB_OK);
  nb_client_server_params sp = {.uri = "coaps://10.0.0.1:5684",
                                .ssid = 101,
                                .lifetime = 300,
                                .security_mode = 0,
                                .identity = (const uint8_t *)PSK_ID,
                                .identity_len = strlen(PSK_ID),
                                .secret = (const uint8_t *)PSK_KEY,
                                .secret_len = strlen(PSK_KEY)};
  assert_int_equal(nb_client_add_server(dv->c, &sp), NB_OK);
}

static bool dev_registered(void *u) {
  device *dv = u;
  nb_client_srv_state st;
  return nb_client_server_state(dv->c, 101, &st, NULL, 0) == NB_OK &&
         (st == NB_CLIENT_SRV_REGISTERED || st == NB_CLIENT_SRV_UPDATING);
}

/* ---- the figure ---- */

static void test_registers_first_attempt_under_flood(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(1313);
  server_fx s;
  server_setup(&s, net);
  flood fl;
  const nb_time_ms end = 10000 + ATTEMPTS * 3000;
  flood_start(&fl, net, &s.addr, end);
  nb_simnet_run_until(net, 10000); /* 2,500 cookie exchanges from 1,500 ports: the table of
                                      the old code is full */
  nb_dtls_server_stats st;
  nb_dtls_server_get_stats(s.dtls, &st);
  assert_true(fl.cookies_sent >= 2400);
  assert_true(st.cookies_accepted >= 2400);

  int first_attempt = 0;
  device dv[ATTEMPTS];
  for (unsigned i = 0; i < ATTEMPTS; i++) {
    nb_time_ms t0 = 10000 + (nb_time_ms)i * 3000;
    nb_simnet_run_until(net, t0);
    device_boot(&dv[i], net, i);
    assert_int_equal(nb_client_start(dv[i].c, t0), NB_OK);
    bool ok = nb_simnet_run_until_cond(net, t0 + 2500, dev_registered, &dv[i]);
    nb_time_ms took = nb_simnet_now(net) - t0;
    print_message("attempt %u: %s in %lld ms\n", i + 1, ok ? "registered" : "NOT registered",
                  (long long)took);
    /* No retransmission fits in a second (DTLS: 1 s, CoAP: 2 s and more). */
    if (ok && took < 1000 && dv[i].reg_failed == 0) first_attempt++;
    nb_client_deregister(dv[i].c, nb_simnet_now(net));
    nb_simnet_run_until(net, t0 + 2900);
    nb_client_free(dv[i].c);
    dv[i].c = NULL;
  }
  assert_int_equal(first_attempt, ATTEMPTS);
  assert_int_equal(s.registrations, ATTEMPTS);

  /* The flood ran the whole time and was held to its bound. */
  nb_dtls_server_get_stats(s.dtls, &st);
  assert_true(fl.started >= (uint64_t)(nb_simnet_now(net) / FLOOD_EVERY_MS));
  assert_true(st.refused_source > fl.started * 9 / 10);
  assert_true(st.handshakes <= 16);
  assert_int_equal(st.established, ATTEMPTS);
  flood_stop(&fl);
  server_teardown(&s);
  nb_simnet_free(net);
}

int main(void) {
  nb_log_set_level(NB_LOG_ERROR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registers_first_attempt_under_flood),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
