/* Bootstrap server engine in-process over the simulated network with the real client engine
 * as the device and the real server engine as the management server: the thesis use case
 * (factory RPK, out-of-band secure ID, approval, fresh PSK, DTLS registration with it),
 * rejection, an unregistered key refused at the handshake, unknown endpoints, device errors,
 * lost messages at every step, formats by pct, and server-initiated bootstrap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/hex.h"
#include "bootstrap/bootstrap.h"
#include "bootstrap/config_store.h"
#include "dtls/cose.h"
#include "dtls/cose_lwm2m.h"
#include "dtls/keys.h"
#include "dtls/server.h"
#include "io/dtls_server_io.h"
#include "lwm2m/format.h"
#include "lwm2m/path.h"
#include "niobium/client.h"
#include "server/server.h"
#include "simnet.h"
#include "store/sqlite.h"

#define BS_N 1
#define DM_N 2

typedef struct {
  nb_bs_event_type type;
  char ep[64];
  uint8_t code;
  char step[40];
  bool has_peer;
  nb_addr peer;
  nb_time_ms now;
} ev_rec;

/* One server role (bootstrap or management) on a simnet node, NoSec or behind DTLS. */
typedef struct fx fx;
typedef struct {
  fx *f;
  bool is_bs;
  nb_simnet_node *node;
  nb_simnet_node *plain; /* bootstrap role on coap and coaps at once: the coap node */
  nb_dtls_server *dtls;
  nb_dtls_creds *creds;
  int dtls_failed;
  nb_time_ms failed_at[16]; /* when the first handshakes failed */
} role;

struct fx {
  nb_simnet *net;
  nb_bs_store *bst;
  nb_store_sqlite *dmst;
  nb_bs_engine *bs;
  nb_server *dm;
  role rbs, rdm;
  nb_client *c;
  nb_simnet_node *cnode;
  nb_addr caddr;
  ev_rec ev[64];
  size_t nev;
  int writes_seen; /* Bootstrap-Writes (PUT) the device received */
  /* The uplink from the device to the bootstrap server dies once Finish has left it. */
  bool cut_after_finish, finish_sent;
  nb_addr bs_addr;
  nb_dtls_keypair dev_key, bs_key;
  bool dtls;
  /* signed payloads the device accepted or produced (evidence hook), newest last */
  struct {
    char kind[12];
    nb_bytes cose;
  } dev_evidence[32];
  size_t ndev_evidence;
};

/* ---- plumbing ---- */

static nb_server_identity identity_of(role *r, const nb_addr *peer) {
  nb_server_identity id = {.kind = NB_SERVER_ID_NONE};
  nb_dtls_session *s = r->dtls ? nb_dtls_server_find(r->dtls, peer) : NULL;
  const nb_dtls_peer *p = s ? nb_dtls_session_peer(s) : NULL;
  if (p) nb_io_srv_identity(p, &id);
  return id;
}

static void role_plain(role *r, const nb_addr *peer, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_server_identity id = identity_of(r, peer);
  if (r->is_bs)
    nb_bs_engine_receive(r->f->bs, peer, &id, d, n, now);
  else
    nb_server_receive(r->f->dm, peer, &id, d, n, now);
}
static void role_dtls_send(void *u, const nb_addr *p, const uint8_t *d, size_t n) {
  nb_simnet_send(((role *)u)->node, p, d, n);
}
static void role_dtls_recv(void *u, const nb_addr *p, const uint8_t *d, size_t n, nb_time_ms now) {
  role_plain(u, p, d, n, now);
}
static void role_dtls_event(void *u, const nb_addr *p, nb_dtls_session *s, const nb_dtls_event *ev,
                            nb_time_ms now) {
  (void)p, (void)s;
  role *r = u;
  if (ev->type != NB_DTLS_EV_FAILED) return;
  if (r->dtls_failed < 16) r->failed_at[r->dtls_failed] = now;
  r->dtls_failed++;
}
/* Sees every CoAP message the bootstrap engine sends, in plaintext (before DTLS); false: lost. */
static bool (*g_bs_out)(void *user, const nb_addr *to, const uint8_t *d, size_t n);
static void *g_bs_out_user;

static void role_coap_send(void *u, const nb_addr *p, const uint8_t *d, size_t n) {
  role *r = u;
  if (r->is_bs && g_bs_out && !g_bs_out(g_bs_out_user, p, d, n)) return;
  if (r->dtls && (!r->plain || nb_dtls_server_find(r->dtls, p)))
    nb_dtls_server_send(r->dtls, p, d, n);
  else
    nb_simnet_send(r->plain ? r->plain : r->node, p, d, n);
}
static void role_receive(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  role *r = u;
  if (r->dtls)
    nb_dtls_server_receive(r->dtls, from, d, n, now);
  else
    role_plain(r, from, d, n, now);
}
static nb_time_ms role_deadline(void *u) {
  role *r = u;
  nb_time_ms a =
      r->is_bs ? nb_bs_engine_next_deadline(r->f->bs) : nb_server_next_deadline(r->f->dm);
  nb_time_ms b = r->dtls ? nb_dtls_server_next_deadline(r->dtls) : NB_TIME_NEVER;
  return a < b ? a : b;
}
static void role_tick(void *u, nb_time_ms now) {
  role *r = u;
  if (r->dtls) nb_dtls_server_tick(r->dtls, now);
  if (r->is_bs)
    nb_bs_engine_tick(r->f->bs, now);
  else
    nb_server_tick(r->f->dm, now);
}
static const nb_simnet_ops role_ops = {role_receive, role_deadline, role_tick, NULL};
/* The bootstrap engine's plain coap port beside its coaps one (ticked by the coaps node). */
static void plain_receive(void *u, const nb_addr *from, const uint8_t *d, size_t n,
                          nb_time_ms now) {
  role *r = u;
  nb_server_identity none = {.kind = NB_SERVER_ID_NONE};
  nb_bs_engine_receive(r->f->bs, from, &none, d, n, now);
}
static const nb_simnet_ops plain_ops = {plain_receive, NULL, NULL, NULL};

static size_t fx_max_handshakes; /* 0: the DTLS server's default */

static void role_start_dtls(role *r) {
  nb_dtls_server_config cfg;
  nb_dtls_server_config_default(&cfg);
  if (fx_max_handshakes && r->is_bs) cfg.max_handshakes = fx_max_handshakes;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(r->f->net);
  nb_dtls_handlers h = {role_dtls_send, role_dtls_recv, role_dtls_event, r};
  assert_int_equal(nb_dtls_server_new(&cfg, r->creds, &h, &r->dtls), NB_OK);
}

static void on_bs_event(void *u, const nb_bs_event *e) {
  fx *f = u;
  if (f->nev == 64) return;
  ev_rec *r = &f->ev[f->nev++];
  r->type = e->type;
  snprintf(r->ep, sizeof r->ep, "%s", e->ep);
  r->code = e->code;
  snprintf(r->step, sizeof r->step, "%s", e->step ? e->step : "");
  r->has_peer = e->peer != NULL;
  if (e->peer) r->peer = *e->peer;
  r->now = e->now;
}

static size_t count_ev(const fx *f, nb_bs_event_type t) {
  size_t n = 0;
  for (size_t i = 0; i < f->nev; i++) n += f->ev[i].type == t;
  return n;
}

static nb_err dm_psk_lookup(void *u, const uint8_t *ident, size_t len, uint8_t *key, size_t cap,
                            size_t *klen) {
  fx *f = u;
  char id[NB_SERVER_IDENT_MAX];
  if (len >= sizeof id) return NB_ERR_NOT_FOUND;
  memcpy(id, ident, len);
  id[len] = '\0';
  nb_server_store st = nb_store_sqlite_iface(f->dmst);
  nb_server_sec_info s;
  nb_err e = st.ops->sec_find(st.self, NB_SERVER_ID_PSK, id, &s);
  if (e != NB_OK || s.key_len > cap) return NB_ERR_NOT_FOUND;
  memcpy(key, s.key, s.key_len);
  *klen = s.key_len;
  return NB_OK;
}

/* Counts Bootstrap-Writes reaching the device (plaintext only: NoSec runs). */
static bool tap(void *u, const nb_addr *from, const nb_addr *to, const uint8_t *d, size_t n,
                nb_time_ms now) {
  fx *f = u;
  (void)now;
  nb_coap_msg m;
  if (nb_addr_equal(to, &f->caddr) && nb_coap_parse(d, n, &m) == NB_OK && m.code == NB_COAP_PUT)
    f->writes_seen++;
  return !(f->cut_after_finish && f->finish_sent && nb_addr_equal(from, &f->caddr) &&
           nb_addr_equal(to, &f->bs_addr));
}

/* The management server's registrations reach the bootstrap engine, as in the real hosts. */
static void on_dm_event(void *u, const nb_server_event *ev) {
  fx *f = u;
  if (ev->type == NB_SEV_REGISTRATION)
    nb_bs_engine_registered(f->bs, ev->reg->ep, &ev->reg->identity, ev->now);
}

/* ---- fixture ---- */

static void c_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_client_receive(u, from, d, n, now);
}
static nb_time_ms c_deadline(void *u) { return nb_client_next_deadline(u); }
static void c_tick(void *u, nb_time_ms now) { nb_client_tick(u, now); }
static const nb_simnet_ops client_ops = {c_recv, c_deadline, c_tick, NULL};

static size_t fx_max_pending; /* 0: the engine's default */
static bool fx_signed;        /* the device asks for a signed bootstrap; the server signs */

/* dtls: bootstrap server on coaps with an RPK, management server on coaps with PSKs. */
static void fx_setup(fx *f, uint64_t seed, bool dtls, nb_bs_policy policy) {
  memset(f, 0, sizeof *f);
  g_bs_out = NULL;
  f->dtls = dtls;
  f->net = nb_simnet_new(seed);
  assert_int_equal(nb_bs_store_open(":memory:", &f->bst), NB_OK);
  assert_int_equal(nb_store_sqlite_open(":memory:", &f->dmst), NB_OK);
  nb_simnet_set_tap(f->net, tap, f);

  nb_server_config sc;
  nb_server_config_default(&sc);
  sc.store = nb_store_sqlite_iface(f->dmst);
  sc.random = nb_simnet_rng_fill;
  sc.random_user = nb_simnet_rng_of(f->net);
  sc.coap.random = NULL;
  f->rdm = (role){.f = f, .is_bs = false};
  nb_addr da = nb_simnet_addr(DM_N, dtls ? 5684 : 5683);
  f->rdm.node = nb_simnet_add(f->net, &da, &role_ops, &f->rdm);
  assert_int_equal(nb_server_new(&sc, role_coap_send, &f->rdm, &f->dm), NB_OK);

  if (dtls) assert_int_equal(nb_dtls_keypair_generate(&f->bs_key), NB_OK);
  nb_bs_engine_config bc;
  nb_bs_engine_config_default(&bc);
  bc.policy = policy;
  if (fx_signed) {
    bc.sign_key = f->bs_key.key_der.data;
    bc.sign_key_len = f->bs_key.key_der.len;
  }
  if (fx_max_pending) bc.max_pending = fx_max_pending;
  bc.source = nb_bs_store_source(f->bst);
  bc.dm_store = nb_store_sqlite_iface(f->dmst);
  bc.random = nb_simnet_rng_fill;
  bc.random_user = nb_simnet_rng_of(f->net);
  f->rbs = (role){.f = f, .is_bs = true};
  nb_addr ba = nb_simnet_addr(BS_N, dtls ? 5784 : 5783);
  f->rbs.node = nb_simnet_add(f->net, &ba, &role_ops, &f->rbs);
  assert_int_equal(nb_bs_engine_new(&bc, role_coap_send, &f->rbs, &f->bs), NB_OK);
  assert_int_equal(nb_bs_engine_add_listener(f->bs, on_bs_event, f), NB_OK);
  assert_int_equal(nb_server_add_listener(f->dm, on_dm_event, f), NB_OK);
  f->bs_addr = ba;

  if (dtls) {
    assert_int_equal(nb_dtls_creds_new(&f->rbs.creds), NB_OK);
    assert_int_equal(
        nb_dtls_creds_set_rpk(f->rbs.creds, f->bs_key.key_der.data, f->bs_key.key_der.len), NB_OK);
    nb_dtls_creds_set_verify(f->rbs.creds, nb_bs_engine_verify_peer, f->bs);
    nb_dtls_creds_set_psk_lookup(f->rbs.creds, nb_bs_engine_psk_lookup, f->bs);
    role_start_dtls(&f->rbs);
    assert_int_equal(nb_dtls_creds_new(&f->rdm.creds), NB_OK);
    nb_dtls_creds_set_psk_lookup(f->rdm.creds, dm_psk_lookup, f);
    role_start_dtls(&f->rdm);
  }
}

static void on_dev_evidence(void *u, const char *kind, const nb_path *path, const uint8_t *cose,
                            size_t len) {
  (void)path;
  fx *f = u;
  if (f->ndev_evidence == sizeof f->dev_evidence / sizeof f->dev_evidence[0]) return;
  snprintf(f->dev_evidence[f->ndev_evidence].kind, sizeof f->dev_evidence[0].kind, "%s", kind);
  nb_bytes_init(&f->dev_evidence[f->ndev_evidence].cose);
  assert_int_equal(nb_bytes_append(&f->dev_evidence[f->ndev_evidence].cose, cose, len), NB_OK);
  f->ndev_evidence++;
}

/* The device leaves the factory with a P-256 key and a bootstrap account only. */
static void fx_device(fx *f, const char *ep, const char *version) {
  f->caddr = nb_simnet_addr(9, 56830);
  f->cnode = nb_simnet_add(f->net, &f->caddr, &client_ops, NULL);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = ep;
  cfg.lwm2m_version = version;
  cfg.send = nb_simnet_send;
  cfg.send_user = f->cnode;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  cfg.signed_bootstrap = fx_signed;
  cfg.evidence = on_dev_evidence;
  cfg.evidence_user = f;
  assert_int_equal(nb_client_new(&cfg, &f->c), NB_OK);
  nb_simnet_node_set_user(f->cnode, f->c);
  nb_client_device_info d = {
      .manufacturer = "ACME", .battery_level = -1, .memory_free_kb = -1, .memory_total_kb = -1};
  assert_int_equal(nb_client_add_device(f->c, &d), NB_OK);
  nb_client_server_params p = {.bootstrap = true};
  if (f->dtls) {
    assert_int_equal(nb_dtls_keypair_generate(&f->dev_key), NB_OK);
    p.uri = "coaps://10.0.0.1:5784";
    p.security_mode = 1;
    p.secret = f->dev_key.key_der.data;
    p.secret_len = f->dev_key.key_der.len;
    p.server_key = f->bs_key.spki_der.data;
    p.server_key_len = f->bs_key.spki_der.len;
  } else {
    p.uri = "coap://10.0.0.1:5783";
  }
  assert_int_equal(nb_client_add_server(f->c, &p), NB_OK);
}

static void fx_config(fx *f, const char *ep, nb_bs_sec_mode mode) {
  nb_bs_config cfg;
  nb_bs_config_init(&cfg, ep);
  nb_bs_server s = {.ssid = 101, .lifetime = 300, .mode = mode};
  snprintf(s.uri, sizeof s.uri, "%s://10.0.0.2:%d", mode == NB_BS_SEC_NOSEC ? "coap" : "coaps",
           mode == NB_BS_SEC_NOSEC ? 5683 : 5684);
  assert_int_equal(nb_bs_config_add_server(&cfg, &s), NB_OK);
  assert_int_equal(nb_bs_store_config_put(f->bst, &cfg), NB_OK);
}

static void fx_expect(fx *f, const char *ep, const char *secure_id) {
  nb_server_sec_info c = {.kind = NB_SERVER_ID_RPK};
  snprintf(c.ep, sizeof c.ep, "%s", ep);
  snprintf(c.identity, sizeof c.identity, "%s", secure_id);
  assert_int_equal(nb_bs_store_cred_put(f->bst, &c), NB_OK);
}

static void fx_teardown(fx *f) {
  nb_client_free(f->c);
  nb_bs_engine_free(f->bs);
  nb_server_free(f->dm);
  nb_simnet_free(f->net);
  nb_dtls_server_free(f->rbs.dtls);
  nb_dtls_server_free(f->rdm.dtls);
  nb_dtls_creds_free(f->rbs.creds);
  nb_dtls_creds_free(f->rdm.creds);
  nb_dtls_keypair_free(&f->dev_key);
  nb_dtls_keypair_free(&f->bs_key);
  nb_bs_store_close(f->bst);
  nb_store_sqlite_close(f->dmst);
  for (size_t i = 0; i < f->ndev_evidence; i++) nb_bytes_free(&f->dev_evidence[i].cose);
}

static bool registered(void *u) {
  fx *f = u;
  nb_client_srv_state st;
  return nb_client_server_state(f->c, 101, &st, NULL, 0) == NB_OK && st == NB_CLIENT_SRV_REGISTERED;
}
static bool finished_and_registered(void *u) {
  fx *f = u;
  return registered(f) && count_ev(f, NB_BS_EV_FINISHED) == 1;
}
static bool has_pending(void *u) {
  char eps[2][NB_BS_EP_MAX];
  return nb_bs_engine_pending(((fx *)u)->bs, eps, 2) == 1;
}

static void dm_psk(fx *f, const char *ep, nb_server_sec_info *out) {
  nb_server_store st = nb_store_sqlite_iface(f->dmst);
  assert_int_equal(st.ops->sec_get(st.self, ep, out), NB_OK);
}

/* ---- tests ---- */

/* The thesis use case end to end over DTLS. */
static void test_thesis_use_case(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 11, true, NB_BS_POLICY_APPROVE);
  fx_device(&f, "urn:dev:thesis-1", "1.1");
  fx_config(&f, "urn:dev:thesis-1", NB_BS_SEC_PSK);
  fx_expect(&f, "urn:dev:thesis-1", f.dev_key.secure_id); /* operator scans the QR code */
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 60000, has_pending, &f));
  assert_int_equal(count_ev(&f, NB_BS_EV_PENDING), 1);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 20000); /* nothing happens while pending */
  assert_int_equal(count_ev(&f, NB_BS_EV_FINISHED), 0);
  nb_server_store dst = nb_store_sqlite_iface(f.dmst);
  nb_server_sec_info none;
  assert_int_equal(dst.ops->sec_get(dst.self, "urn:dev:thesis-1", &none), NB_ERR_NOT_FOUND);
  assert_int_equal(nb_bs_engine_approve(f.bs, "urn:dev:thesis-1", nb_simnet_now(f.net)), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, nb_simnet_now(f.net) + 120000, registered, &f));
  assert_int_equal(count_ev(&f, NB_BS_EV_APPROVED), 1);
  assert_int_equal(count_ev(&f, NB_BS_EV_FINISHED), 1);
  assert_int_equal(count_ev(&f, NB_BS_EV_FAILED), 0);
  nb_server_sec_info psk;
  dm_psk(&f, "urn:dev:thesis-1", &psk);
  assert_int_equal(psk.kind, NB_SERVER_ID_PSK);
  assert_int_equal(psk.key_len, 16);
  const nb_server_reg_info *reg = nb_server_find(f.dm, "urn:dev:thesis-1");
  assert_non_null(reg);
  assert_int_equal(reg->identity.kind, NB_SERVER_ID_PSK); /* registered with the new PSK */
  assert_string_equal(reg->identity.value, "urn:dev:thesis-1");
  fx_teardown(&f);
}

/* Rejection answers the device 4.03 and writes nothing. */
static void test_rejection(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 12, false, NB_BS_POLICY_APPROVE);
  fx_device(&f, "dev-rej", "1.1");
  fx_config(&f, "dev-rej", NB_BS_SEC_NOSEC);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 60000, has_pending, &f));
  assert_int_equal(nb_bs_engine_reject(f.bs, "dev-rej", nb_simnet_now(f.net)), NB_OK);
  assert_int_equal(nb_bs_engine_reject(f.bs, "dev-rej", nb_simnet_now(f.net)), NB_ERR_NOT_FOUND);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 5000);
  assert_int_equal(count_ev(&f, NB_BS_EV_REJECTED), 1);
  assert_int_equal(f.ev[f.nev - 1].code, NB_COAP_FORBIDDEN);
  assert_int_equal(f.writes_seen, 0);
  assert_false(nb_client_bootstrapping(f.c) && registered(&f));
  nb_client_srv_state st;
  assert_int_equal(nb_client_server_state(f.c, 101, &st, NULL, 0), NB_ERR_NOT_FOUND);
  fx_teardown(&f);
}

/* A device whose key nobody registered is refused at the handshake, with an alert. */
static void test_unregistered_key(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 13, true, NB_BS_POLICY_AUTO);
  fx_device(&f, "dev-rogue", "1.1");
  fx_config(&f, "dev-rogue", NB_BS_SEC_PSK);
  fx_expect(&f, "dev-rogue", "000000000000000000000000000000"); /* another key's ID */
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  nb_simnet_run_until(f.net, 90000);
  assert_true(count_ev(&f, NB_BS_EV_ALERT) >= 1);
  assert_int_equal(count_ev(&f, NB_BS_EV_REQUEST), 0); /* never got past DTLS */
  assert_true(f.rbs.dtls_failed >= 1);
  nb_bs_engine_stats s;
  nb_bs_engine_get_stats(f.bs, &s);
  assert_int_equal(s.finished, 0);
  fx_teardown(&f);
}

/* Issue 13 item 11: the alert of a refused key says where the handshake came from and when
 * (the engine's time, which the HTTP layer turns into wall-clock time), names no endpoint (a
 * raw public key has none before its request) and comes once per refused handshake. Before
 * the fix it had no address and time 0 (in the event stream: the host's boot time). */
static void test_rogue_key_alert_once_with_peer_and_time(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 17, true, NB_BS_POLICY_AUTO);
  fx_device(&f, "dev-rogue", "1.1");
  fx_config(&f, "dev-rogue", NB_BS_SEC_PSK);
  nb_simnet_run_until(f.net, 5000); /* the handshakes start well after time 0 */
  assert_int_equal(nb_client_start(f.c, nb_simnet_now(f.net)), NB_OK);
  nb_simnet_run_until(f.net, 60000); /* the device retries: several refused handshakes */
  size_t alerts = count_ev(&f, NB_BS_EV_ALERT);
  assert_true(alerts >= 2 && alerts <= 16);
  assert_int_equal(alerts, (size_t)f.rbs.dtls_failed);
  size_t k = 0;
  for (size_t i = 0; i < f.nev; i++) {
    const ev_rec *e = &f.ev[i];
    if (e->type != NB_BS_EV_ALERT) continue;
    assert_true(e->has_peer);
    assert_true(nb_addr_equal(&e->peer, &f.caddr));
    assert_int_equal(e->now, f.rbs.failed_at[k]); /* the refused handshake's own time */
    assert_true(e->now >= 5000);
    assert_string_equal(e->ep, "");
    assert_string_equal(e->step, "handshake");
    k++;
  }
  assert_int_equal(count_ev(&f, NB_BS_EV_REQUEST), 0);
  fx_teardown(&f);
}

/* Sees the bootstrap engine's Bootstrap-Finish (POST /bs) leave. */
static bool finish_out(void *u, const nb_addr *to, const uint8_t *d, size_t n) {
  fx *f = u;
  (void)to;
  nb_coap_msg m;
  char path[8];
  if (nb_coap_parse(d, n, &m) == NB_OK && m.code == NB_COAP_POST &&
      nb_coap_msg_get_path(&m, NB_COAP_OPT_URI_PATH, path, sizeof path) == NB_OK &&
      strcmp(path, "/bs") == 0)
    f->finish_sent = true;
  return true;
}

/* Issue 13 item 11c: nothing the device sends the bootstrap server after Finish arrives (its
 * 2.04, every answer to a repeated Finish, a close_notify). The device took Finish and
 * registered with its new credentials: the bootstrap ends FINISHED (code 0, confirmed by that
 * registration), once, and no retry starts over on the registered device. Before the fix the
 * server gave up on Finish, restarted the sequence and ended BOOTSTRAP_FAILED. */
static void finish_answer_lost(bool dtls) {
  fx f;
  fx_setup(&f, dtls ? 19 : 20, dtls, NB_BS_POLICY_AUTO);
  g_bs_out = finish_out;
  g_bs_out_user = &f;
  f.cut_after_finish = true;
  fx_device(&f, "dev-fin", "1.1");
  fx_config(&f, "dev-fin", dtls ? NB_BS_SEC_PSK : NB_BS_SEC_NOSEC);
  if (dtls) fx_expect(&f, "dev-fin", f.dev_key.secure_id);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  nb_simnet_run_until(f.net, 600000); /* the whole window of retries and attempts */
  assert_true(f.finish_sent);
  assert_true(registered(&f));
  assert_int_equal(count_ev(&f, NB_BS_EV_FAILED), 0);
  assert_int_equal(count_ev(&f, NB_BS_EV_FINISHED), 1);
  for (size_t i = 0; i < f.nev; i++)
    if (f.ev[i].type == NB_BS_EV_FINISHED) assert_int_equal(f.ev[i].code, 0);
  nb_bs_engine_stats st;
  nb_bs_engine_get_stats(f.bs, &st);
  assert_int_equal(st.retries, 0);
  assert_int_equal(st.sessions, 0);
  const nb_server_reg_info *reg = nb_server_find(f.dm, "dev-fin");
  assert_non_null(reg);
  assert_int_equal(reg->identity.kind, dtls ? NB_SERVER_ID_PSK : NB_SERVER_ID_NONE);
  g_bs_out = NULL;
  fx_teardown(&f);
}

static void test_finish_answer_lost_nosec(void **state) {
  (void)state;
  finish_answer_lost(false);
}

static void test_finish_answer_lost_dtls(void **state) {
  (void)state;
  finish_answer_lost(true);
}

/* The endpoint name may be the secure ID itself; an RPK peer claiming another registered
 * endpoint is refused with an alert. */
static void test_secure_id_as_endpoint(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 14, true, NB_BS_POLICY_AUTO);
  fx_device(&f, "placeholder", "1.1"); /* makes the key; the name is its secure ID */
  nb_client_free(f.c);
  f.c = NULL;
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = f.dev_key.secure_id;
  cfg.send = nb_simnet_send;
  cfg.send_user = f.cnode;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f.net);
  assert_int_equal(nb_client_new(&cfg, &f.c), NB_OK);
  nb_simnet_node_set_user(f.cnode, f.c);
  nb_client_server_params p = {.bootstrap = true,
                               .uri = "coaps://10.0.0.1:5784",
                               .security_mode = 1,
                               .secret = f.dev_key.key_der.data,
                               .secret_len = f.dev_key.key_der.len,
                               .server_key = f.bs_key.spki_der.data,
                               .server_key_len = f.bs_key.spki_der.len};
  assert_int_equal(nb_client_add_server(f.c, &p), NB_OK);
  fx_expect(&f, "factory-label-7", f.dev_key.secure_id);
  nb_bs_config dflt;
  nb_bs_config_init(&dflt, NULL);
  nb_bs_server s = {.ssid = 101, .mode = NB_BS_SEC_PSK, .uri = "coaps://10.0.0.2:5684"};
  assert_int_equal(nb_bs_config_add_server(&dflt, &s), NB_OK);
  assert_int_equal(nb_bs_store_config_put(f.bst, &dflt), NB_OK);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 120000, registered, &f));
  assert_int_equal(count_ev(&f, NB_BS_EV_FINISHED), 1);
  fx_teardown(&f);
}

/* No config for the endpoint and no default: 4.00 and a REJECTED event. */
static void test_unknown_endpoint(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 15, false, NB_BS_POLICY_AUTO);
  fx_device(&f, "dev-unknown", "1.1");
  fx_config(&f, "someone-else", NB_BS_SEC_NOSEC);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  nb_simnet_run_until(f.net, 5000);
  assert_int_equal(count_ev(&f, NB_BS_EV_REJECTED), 1);
  assert_int_equal(f.ev[1].code, NB_COAP_BAD_REQUEST);
  assert_int_equal(f.writes_seen, 0);
  fx_teardown(&f);
}

/* A device error ends the bootstrap with the code and the step. */
static void test_device_error(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 16, false, NB_BS_POLICY_AUTO);
  fx_device(&f, "dev-err", "1.1");
  nb_bs_config cfg;
  nb_bs_config_init(&cfg, "dev-err");
  cfg.deletes[cfg.ndeletes++] = nb_path_res(1, 0, 1); /* resources cannot be deleted: 4.00 */
  nb_bs_server s = {.ssid = 101, .mode = NB_BS_SEC_NOSEC, .uri = "coap://10.0.0.2:5683"};
  assert_int_equal(nb_bs_config_add_server(&cfg, &s), NB_OK);
  assert_int_equal(nb_bs_store_config_put(f.bst, &cfg), NB_OK);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  nb_simnet_run_until(f.net, 10000);
  assert_int_equal(count_ev(&f, NB_BS_EV_FAILED), 1);
  const ev_rec *e = &f.ev[f.nev - 1];
  assert_int_equal(e->type, NB_BS_EV_FAILED);
  assert_int_equal(e->code, NB_COAP_BAD_REQUEST);
  assert_string_equal(e->step, "delete /1/0/1");
  assert_int_equal(f.writes_seen, 0);
  fx_teardown(&f);
}

/* NoSec with a lossy link both ways: every step recovers; several seeds. */
static void test_lossy(void **state) {
  (void)state;
  for (uint64_t seed = 100; seed < 106; seed++) {
    fx f;
    fx_setup(&f, seed, false, NB_BS_POLICY_AUTO);
    nb_simnet_link l = {.drop = 0.3,
                        .duplicate = 0.1,
                        .delay_min = 5,
                        .delay_max = 80,
                        .reorder = 0.1,
                        .reorder_delay = 100};
    nb_simnet_set_link(f.net, &l);
    fx_device(&f, "dev-lossy", "1.1");
    fx_config(&f, "dev-lossy", NB_BS_SEC_NOSEC);
    assert_int_equal(nb_client_start(f.c, 0), NB_OK);
    /* the device may register before Finish's lost ACK is retransmitted to us */
    assert_true(nb_simnet_run_until_cond(f.net, 1800000, finished_and_registered, &f));
    assert_int_equal(count_ev(&f, NB_BS_EV_FINISHED), 1);
    nb_simnet_stats st;
    nb_simnet_get_stats(f.net, &st);
    assert_true(st.dropped > 0);
    fx_teardown(&f);
  }
}

/* A device silent for a whole CoAP exchange: the sequence restarts after a back-off. */
static void test_whole_sequence_retry(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 17, false, NB_BS_POLICY_AUTO);
  fx_device(&f, "dev-retry", "1.1");
  fx_config(&f, "dev-retry", NB_BS_SEC_NOSEC);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  nb_simnet_run_until(f.net, 15); /* the request arrived and the 2.04 is on its way */
  nb_simnet_node_set_reachable(f.cnode, false);
  nb_simnet_run_until(f.net, 100000); /* the Discover times out (93 s of retransmissions) */
  nb_simnet_node_set_reachable(f.cnode, true);
  assert_true(nb_simnet_run_until_cond(f.net, 400000, registered, &f));
  nb_bs_engine_stats s;
  nb_bs_engine_get_stats(f.bs, &s);
  assert_true(s.retries >= 1);
  assert_int_equal(s.finished, 1);
  fx_teardown(&f);
}

/* pct decides the format: a 1.0 client (no pct) gets TLV, a 1.1 client SenML CBOR. */
static int g_cf_seen;
static bool cf_tap(void *u, const nb_addr *from, const nb_addr *to, const uint8_t *d, size_t n,
                   nb_time_ms now) {
  (void)from, (void)to, (void)now, (void)u;
  nb_coap_msg m;
  if (nb_coap_parse(d, n, &m) == NB_OK && m.code == NB_COAP_PUT)
    g_cf_seen = nb_coap_msg_content_format(&m);
  return true;
}
static void test_formats(void **state) {
  (void)state;
  const char *versions[] = {"1.0", "1.1"};
  int want[] = {NB_COAP_CF_LWM2M_TLV, NB_COAP_CF_SENML_CBOR};
  for (int i = 0; i < 2; i++) {
    fx f;
    fx_setup(&f, 18, false, NB_BS_POLICY_AUTO);
    nb_simnet_set_tap(f.net, cf_tap, NULL);
    g_cf_seen = -2;
    fx_device(&f, "dev-fmt", versions[i]);
    fx_config(&f, "dev-fmt", NB_BS_SEC_NOSEC);
    assert_int_equal(nb_client_start(f.c, 0), NB_OK);
    assert_true(nb_simnet_run_until_cond(f.net, 60000, registered, &f));
    assert_int_equal(g_cf_seen, want[i]);
    fx_teardown(&f);
  }
}

/* Server-initiated bootstrap re-provisions a registered device with a new key each time. */
static void test_server_initiated_fresh_keys(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 19, false, NB_BS_POLICY_AUTO);
  fx_device(&f, "dev-si", "1.1");
  fx_config(&f, "dev-si", NB_BS_SEC_PSK); /* the account is PSK; the link stays plain here */
  nb_bs_config cfg;
  assert_int_equal(nb_bs_store_config_get(f.bst, "dev-si", &cfg), NB_OK);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  nb_simnet_run_until(f.net, 30000);
  assert_int_equal(count_ev(&f, NB_BS_EV_FINISHED), 1);
  nb_server_sec_info k1, k2;
  dm_psk(&f, "dev-si", &k1);
  assert_int_equal(
      nb_bs_engine_start(f.bs, "dev-si", &f.caddr, NB_COAP_CF_SENML_CBOR, nb_simnet_now(f.net)),
      NB_OK);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 30000);
  assert_int_equal(count_ev(&f, NB_BS_EV_FINISHED), 2);
  dm_psk(&f, "dev-si", &k2);
  assert_int_equal(k1.key_len, 16);
  assert_int_equal(k2.key_len, 16);
  assert_memory_not_equal(k1.key, k2.key, 16); /* fresh key: the old one no longer works */
  assert_int_equal(nb_bs_engine_start(f.bs, "nobody", &f.caddr, NB_COAP_CF_NONE, 0),
                   NB_ERR_NOT_FOUND);
  fx_teardown(&f);
}

/* A second device on node n with a bootstrap account using the given private key. */
static nb_client *extra_device(fx *f, unsigned n, const char *ep, const uint8_t *key, size_t len) {
  nb_addr a = nb_simnet_addr(n, 56830);
  nb_simnet_node *node = nb_simnet_add(f->net, &a, &client_ops, NULL);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = ep;
  cfg.send = nb_simnet_send;
  cfg.send_user = node;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  nb_client *c;
  assert_int_equal(nb_client_new(&cfg, &c), NB_OK);
  nb_simnet_node_set_user(node, c);
  nb_client_server_params p = {.bootstrap = true,
                               .uri = "coaps://10.0.0.1:5784",
                               .security_mode = 1,
                               .secret = key,
                               .secret_len = len,
                               .server_key = f->bs_key.spki_der.data,
                               .server_key_len = f->bs_key.spki_der.len};
  assert_int_equal(nb_client_add_server(c, &p), NB_OK);
  return c;
}

/* The device's bootstrap account instance (Security with Bootstrap-Server true), or -1. */
static int bs_account_of(nb_client *c) {
  nb_object *sec = nb_client_object(c, 0);
  for (uint16_t i = 0; i < 16; i++)
    if (nb_store_object_has_instance(sec, i) && nb_store_object_get_bool(sec, i, 1, false))
      return i;
  return -1;
}

static const nb_value *sec_res(nb_client *c, int inst, uint16_t res) {
  nb_path p = nb_path_res(0, (uint16_t)inst, res);
  return nb_store_object_get(nb_client_object(c, 0), &p);
}

static size_t g_finished_target;
static bool finished_n(void *u) { return count_ev(u, NB_BS_EV_FINISHED) >= g_finished_target; }

/* Table 5.1 F6: the factory key is replaced in the device's bootstrap account at the first
 * bootstrap, so a leaked factory key no longer opens the bootstrap server while the device's
 * new key does; then the device purges the bootstrap account after its timeout (/0/x/12). */
static void test_bootstrap_account_replaced_and_purged(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 21, true, NB_BS_POLICY_AUTO);
  fx_device(&f, "dev-rot", "1.1");
  fx_config(&f, "dev-rot", NB_BS_SEC_PSK);
  nb_bs_config cfg;
  assert_int_equal(nb_bs_store_config_get(f.bst, "dev-rot", &cfg), NB_OK);
  cfg.bs_fresh_key = true;
  cfg.bs_account_timeout = 600;
  assert_int_equal(nb_bs_store_config_put(f.bst, &cfg), NB_OK);
  fx_expect(&f, "dev-rot", f.dev_key.secure_id);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 120000, finished_and_registered, &f));
  nb_time_ms finished_at = nb_simnet_now(f.net);

  /* The device holds a new key pair in its bootstrap account; we accept only that one now. */
  int bi = bs_account_of(f.c);
  assert_true(bi >= 0);
  const nb_value *spki = sec_res(f.c, bi, 3), *priv = sec_res(f.c, bi, 5);
  assert_non_null(spki);
  assert_non_null(priv);
  char sid[NB_DTLS_SECURE_ID_LEN + 1];
  assert_int_equal(nb_dtls_secure_id(spki->v.bytes.data, spki->v.bytes.len, sid), NB_OK);
  assert_string_not_equal(sid, f.dev_key.secure_id);
  assert_int_equal(nb_store_object_get_int(nb_client_object(f.c, 0), (uint16_t)bi, 12, 0), 600);
  nb_bs_source src = nb_bs_store_source(f.bst);
  nb_server_sec_info bc;
  assert_int_equal(src.cred_get(src.self, "dev-rot", &bc), NB_OK);
  assert_string_equal(bc.identity, sid);
  assert_int_equal(src.cred_find(src.self, NB_SERVER_ID_RPK, f.dev_key.secure_id, &bc, NULL),
                   NB_ERR_NOT_FOUND);
  uint8_t newkey[512];
  size_t newkey_len = priv->v.bytes.len;
  assert_true(newkey_len <= sizeof newkey);
  memcpy(newkey, priv->v.bytes.data, newkey_len);

  /* Someone with the leaked factory key: refused at the handshake, never a request. */
  size_t alerts = count_ev(&f, NB_BS_EV_ALERT), requests = count_ev(&f, NB_BS_EV_REQUEST);
  nb_client *thief = extra_device(&f, 10, "dev-rot", f.dev_key.key_der.data, f.dev_key.key_der.len);
  assert_int_equal(nb_client_start(thief, nb_simnet_now(f.net)), NB_OK);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 30000);
  assert_true(count_ev(&f, NB_BS_EV_ALERT) > alerts);
  assert_int_equal(count_ev(&f, NB_BS_EV_REQUEST), requests);
  nb_client_close(thief, nb_simnet_now(f.net));

  /* The same device after a reboot (its new key): bootstraps again. */
  nb_client *again = extra_device(&f, 11, "dev-rot", newkey, newkey_len);
  assert_int_equal(nb_client_start(again, nb_simnet_now(f.net)), NB_OK);
  g_finished_target = 2;
  assert_true(nb_simnet_run_until_cond(f.net, nb_simnet_now(f.net) + 120000, finished_n, &f));
  memset(newkey, 0, sizeof newkey);

  /* The first device purges its bootstrap account 600 s after Finish. */
  assert_true(bs_account_of(f.c) >= 0);
  nb_simnet_run_until(f.net, finished_at + 601000);
  assert_int_equal(bs_account_of(f.c), -1);
  nb_client_srv_state st;
  assert_int_equal(nb_client_server_state(f.c, 101, &st, NULL, 0), NB_OK); /* accounts kept */
  nb_client_free(thief);
  nb_client_free(again);
  fx_teardown(&f);
}

/* ---- a bootstrap-account write whose acknowledgement is lost for good ---- */

#define LOST_EP "dev-lost"
#define LOST_PSK_ID "factory-psk-1"
static const uint8_t k_factory_psk[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

typedef struct {
  fx *f;
  const uint8_t *factory; /* the key the device left the factory with (res 5) */
  size_t factory_len;
  bool before_write; /* cut as soon as the write goes out (else once the device applied it) */
  bool cut;
} lost_ctx;

/* What the device holds in its bootstrap account's secret key resource, or NULL. */
static const nb_value *bs_secret_of(nb_client *c) {
  int bi = bs_account_of(c);
  return bi >= 0 ? sec_res(c, bi, 5) : NULL;
}

static bool holds_factory_key(const lost_ctx *x) {
  const nb_value *v = bs_secret_of(x->f->c);
  return v && v->v.bytes.len == x->factory_len &&
         memcmp(v->v.bytes.data, x->factory, x->factory_len) == 0;
}

/* Cuts the device off for good (its DTLS session with it) at the chosen moment: when its
 * bootstrap-account write goes out (the engine keeps it pending first), or when the device has
 * applied it, so that the write or every acknowledgement of it is lost. */
static bool lost_tap(void *u, const nb_addr *from, const nb_addr *to, const uint8_t *d, size_t n,
                     nb_time_ms now) {
  lost_ctx *x = u;
  (void)d, (void)n, (void)now;
  bool dev = nb_addr_equal(from, &x->f->caddr) || nb_addr_equal(to, &x->f->caddr);
  if (dev && !x->cut) {
    nb_bs_source src = nb_bs_store_source(x->f->bst);
    nb_bs_pending_cred p;
    if (x->before_write)
      x->cut =
          nb_addr_equal(to, &x->f->caddr) && src.cred_pending_get(src.self, LOST_EP, &p) == NB_OK;
    else
      x->cut = !holds_factory_key(x);
  }
  return !(dev && x->cut);
}

static nb_client *psk_device(fx *f, unsigned node, const char *ident, const uint8_t *key,
                             size_t len) {
  nb_addr a = nb_simnet_addr(node, 56830);
  nb_simnet_node *nd = nb_simnet_add(f->net, &a, &client_ops, NULL);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = LOST_EP;
  cfg.send = nb_simnet_send;
  cfg.send_user = nd;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  nb_client *c;
  assert_int_equal(nb_client_new(&cfg, &c), NB_OK);
  nb_simnet_node_set_user(nd, c);
  nb_client_server_params p = {.bootstrap = true,
                               .uri = "coaps://10.0.0.1:5784",
                               .security_mode = 0,
                               .identity = (const uint8_t *)ident,
                               .identity_len = strlen(ident),
                               .secret = key,
                               .secret_len = len,
                               .server_key = f->bs_key.spki_der.data,
                               .server_key_len = f->bs_key.spki_der.len};
  assert_int_equal(nb_client_add_server(c, &p), NB_OK);
  return c;
}

static bool bs_failed(void *u) { return count_ev(u, NB_BS_EV_FAILED) >= 1; }

/* Would the bootstrap server's DTLS hooks let this key in (a handshake's first check)? */
static bool key_accepted(fx *f, nb_server_id_kind kind, const char *identity) {
  if (kind == NB_SERVER_ID_RPK) {
    nb_dtls_peer peer = {.mode = NB_DTLS_MODE_RPK};
    if (strlen(identity) >= sizeof peer.secure_id) return false; /* no such secure ID */
    memcpy(peer.secure_id, identity, strlen(identity) + 1);
    return nb_bs_engine_verify_peer(f->bs, &peer, NULL, 0) == NB_OK;
  }
  uint8_t key[64];
  size_t klen;
  return nb_bs_engine_psk_lookup(f->bs, (const uint8_t *)identity, strlen(identity), key,
                                 sizeof key, &klen) == NB_OK;
}

/* The identity (RPK: secure ID; PSK: identity) and the key a client holds in its bootstrap
 * account (copied into buf). */
static void held_cred(nb_client *c, nb_server_id_kind kind, char *ident, size_t cap, uint8_t *buf,
                      size_t bufcap, size_t *len) {
  int bi = bs_account_of(c);
  assert_true(bi >= 0);
  const nb_value *id = sec_res(c, bi, 3), *k = sec_res(c, bi, 5);
  assert_non_null(id);
  assert_non_null(k);
  if (kind == NB_SERVER_ID_RPK) { /* of the private key (a factory account has no res 3) */
    nb_dtls_keypair kp;
    assert_int_equal(nb_dtls_keypair_load(k->v.bytes.data, k->v.bytes.len, &kp), NB_OK);
    snprintf(ident, cap, "%s", kp.secure_id);
    nb_dtls_keypair_free(&kp);
  } else {
    assert_true(id->v.bytes.len < cap);
    memcpy(ident, id->v.bytes.data, id->v.bytes.len);
    ident[id->v.bytes.len] = '\0';
  }
  assert_true(k->v.bytes.len <= bufcap);
  memcpy(buf, k->v.bytes.data, k->v.bytes.len);
  *len = k->v.bytes.len;
}

/* One run: the device is cut off for good once its new bootstrap-account key is written
 * (applied: true, every acknowledgement lost; false: the write itself lost) and the engine
 * gives up; the device comes back with the key it holds and bootstraps; afterwards only the
 * pending key is accepted, which the device then holds. */
/* nb_server_sec_each_fn keeping the one credential listed (a second one fails the walk). */
static nb_err copy_one_cred(void *u, const nb_server_sec_info *c) {
  nb_server_sec_info *out = u;
  if (out->ep[0]) return NB_ERR_EXISTS;
  *out = *c;
  return NB_OK;
}

/* DTLS fixture with the device LOST_EP holding a factory key of the given kind, registered with
 * the bootstrap server (factory_id: its identity), and a config writing fresh
 * bootstrap-account keys. */
static void lost_setup(fx *f, nb_server_id_kind kind, uint64_t seed, lost_ctx *x, nb_bs_config *cfg,
                       char *factory_id, size_t cap) {
  fx_setup(f, seed, true, NB_BS_POLICY_AUTO);
  fx_config(f, LOST_EP, NB_BS_SEC_PSK);
  assert_int_equal(nb_bs_store_config_get(f->bst, LOST_EP, cfg), NB_OK);
  cfg->bs_fresh_key = true;
  assert_int_equal(nb_bs_store_config_put(f->bst, cfg), NB_OK);
  x->f = f;
  if (kind == NB_SERVER_ID_RPK) {
    fx_device(f, LOST_EP, "1.1");
    fx_expect(f, LOST_EP, f->dev_key.secure_id);
    snprintf(factory_id, cap, "%s", f->dev_key.secure_id);
    x->factory = f->dev_key.key_der.data;
    x->factory_len = f->dev_key.key_der.len;
  } else {
    assert_int_equal(nb_dtls_keypair_generate(&f->dev_key), NB_OK); /* freed by the teardown */
    f->caddr = nb_simnet_addr(9, 56830);
    f->c = psk_device(f, 9, LOST_PSK_ID, k_factory_psk, sizeof k_factory_psk);
    nb_server_sec_info c = {.kind = NB_SERVER_ID_PSK, .key_len = sizeof k_factory_psk};
    snprintf(c.ep, sizeof c.ep, "%s", LOST_EP);
    snprintf(c.identity, sizeof c.identity, "%s", LOST_PSK_ID);
    memcpy(c.key, k_factory_psk, sizeof k_factory_psk);
    assert_int_equal(nb_bs_store_cred_put(f->bst, &c), NB_OK);
    snprintf(factory_id, cap, "%s", LOST_PSK_ID);
    x->factory = k_factory_psk;
    x->factory_len = sizeof k_factory_psk;
  }
}

static void lost_ack_run(nb_server_id_kind kind, bool applied, uint64_t seed) {
  fx f;
  nb_bs_config cfg;
  lost_ctx x = {.before_write = !applied};
  char factory_id[NB_SERVER_IDENT_MAX];
  lost_setup(&f, kind, seed, &x, &cfg, factory_id, sizeof factory_id);
  nb_simnet_set_tap(f.net, lost_tap, &x);
  assert_true(holds_factory_key(&x));
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);

  /* Cut off at the write; the engine retries the whole sequence, then gives up. */
  assert_true(nb_simnet_run_until_cond(f.net, 900000, bs_failed, &f));
  assert_true(x.cut);
  assert_int_equal(count_ev(&f, NB_BS_EV_FINISHED), 0);
  assert_int_equal(holds_factory_key(&x), !applied);
  nb_bs_source src = nb_bs_store_source(f.bst);
  nb_bs_pending_cred pend;
  nb_server_sec_info cur;
  assert_int_equal(src.cred_pending_get(src.self, LOST_EP, &pend), NB_OK);
  assert_int_equal(pend.next.kind, kind);
  assert_string_equal(pend.prev, factory_id);
  assert_string_not_equal(pend.next.identity, factory_id);
  /* what a monitor reading the database sees of it (nothing else is pending) */
  nb_server_sec_info listed = {0};
  assert_int_equal(nb_bs_store_cred_pending_each(f.bst, copy_one_cred, &listed), NB_OK);
  assert_string_equal(listed.identity, pend.next.identity);
  assert_int_equal(listed.key_len, pend.next.key_len);
  assert_int_equal(src.cred_get(src.self, LOST_EP, &cur), NB_OK);
  assert_string_equal(cur.identity, factory_id);
  /* Undecided: both keys open the handshake, nothing else does. */
  assert_true(key_accepted(&f, kind, factory_id));
  assert_true(key_accepted(&f, kind, pend.next.identity));
  char held_id[NB_SERVER_IDENT_MAX];
  uint8_t held[512];
  size_t held_len;
  held_cred(f.c, kind, held_id, sizeof held_id, held, sizeof held, &held_len);
  /* The engine wrote one key only, again in later attempts: the one it keeps pending. */
  assert_string_equal(held_id, applied ? pend.next.identity : factory_id);

  /* The device comes back (rebooted, a new address) with the key it holds. Acknowledgement
   * lost: it holds the pending key, which is promoted, and the config leaves its bootstrap
   * account alone this time, so what it is accepted with afterwards is what the engine decided.
   * Write lost: it holds its factory key, which decides nothing (such a request may come over a
   * session made before the write); the same pending key is written again, acknowledged now. */
  cfg.bs_fresh_key = !applied;
  assert_int_equal(nb_bs_store_config_put(f.bst, &cfg), NB_OK);
  nb_client *back = kind == NB_SERVER_ID_RPK ? extra_device(&f, 11, LOST_EP, held, held_len)
                                             : psk_device(&f, 11, held_id, held, held_len);
  assert_int_equal(nb_client_start(back, nb_simnet_now(f.net)), NB_OK);
  g_finished_target = 1;
  assert_true(nb_simnet_run_until_cond(f.net, nb_simnet_now(f.net) + 120000, finished_n, &f));
  memset(held, 0, sizeof held);
  char pend_id[NB_SERVER_IDENT_MAX];
  snprintf(pend_id, sizeof pend_id, "%s", pend.next.identity);

  /* Decided: the pending key is the only one (the device holds it); the slot is empty. */
  assert_int_equal(src.cred_pending_get(src.self, LOST_EP, &pend), NB_ERR_NOT_FOUND);
  assert_int_equal(src.cred_get(src.self, LOST_EP, &cur), NB_OK);
  assert_string_equal(cur.identity, pend_id);
  held_cred(back, kind, held_id, sizeof held_id, held, sizeof held, &held_len);
  memset(held, 0, sizeof held);
  assert_string_equal(held_id, pend_id);
  assert_false(key_accepted(&f, kind, factory_id));
  assert_true(key_accepted(&f, kind, pend_id));
  memset(&pend, 0, sizeof pend);
  memset(&cur, 0, sizeof cur);
  nb_client_free(back);
  fx_teardown(&f);
}

/* The device applied its new key, every acknowledgement was lost and it went away: it comes
 * back with the new key, which is promoted; the factory key is refused from then on. */
static void test_bs_key_ack_lost_rpk(void **state) {
  (void)state;
  lost_ack_run(NB_SERVER_ID_RPK, true, 61);
}
static void test_bs_key_ack_lost_psk(void **state) {
  (void)state;
  lost_ack_run(NB_SERVER_ID_PSK, true, 62);
}
/* The write itself never reached the device: it comes back with its factory key, gets the same
 * pending key written again and acknowledges it; the factory key is refused from then on. */
static void test_bs_key_write_lost_rpk(void **state) {
  (void)state;
  lost_ack_run(NB_SERVER_ID_RPK, false, 63);
}
static void test_bs_key_write_lost_psk(void **state) {
  (void)state;
  lost_ack_run(NB_SERVER_ID_PSK, false, 64);
}

/* ---- two failures: acknowledgements lost, then a restart over the old session whose write is
 * lost for good ---- */

typedef struct {
  lost_ctx x;
  int phase; /* 1: the device's answers are lost once it applied its new key; 2: the device
              * restarts, the next bootstrap-account write is lost and the device cut off */
  int bs_inst;
} twice_ctx;

static bool twice_tap(void *u, const nb_addr *from, const nb_addr *to, const uint8_t *d, size_t n,
                      nb_time_ms now) {
  twice_ctx *t = u;
  (void)to, (void)d, (void)n, (void)now;
  bool up = nb_addr_equal(from, &t->x.f->caddr), dev = up || nb_addr_equal(to, &t->x.f->caddr);
  if (!dev) return true;
  if (t->x.cut) return false;
  return !(t->phase == 1 && up && !holds_factory_key(&t->x));
}

/* In phase 2 the write into the device's bootstrap account never reaches it, nor anything after
 * it in either direction. */
static bool twice_out(void *u, const nb_addr *to, const uint8_t *d, size_t n) {
  twice_ctx *t = u;
  if (!nb_addr_equal(to, &t->x.f->caddr)) return true;
  nb_coap_msg m;
  nb_path p;
  if (t->phase == 2 && !t->x.cut && nb_coap_parse(d, n, &m) == NB_OK && m.code == NB_COAP_PUT &&
      nb_path_from_coap(&m, &p) == NB_OK && p.len >= NB_PATH_INSTANCE && p.ids[0] == 0 &&
      p.ids[1] == t->bs_inst)
    t->x.cut = true;
  return !t->x.cut;
}

static size_t g_requests_target;
static bool requests_n(void *u) { return count_ev(u, NB_BS_EV_REQUEST) >= g_requests_target; }
static bool twice_cut(void *u) { return ((twice_ctx *)u)->x.cut; }
static size_t g_failed_target;
static bool failed_n(void *u) { return count_ev(u, NB_BS_EV_FAILED) >= g_failed_target; }

/* The device applies its new key (1) and every acknowledgement is lost; the engine gives up.
 * The device, never sent Finish, restarts its bootstrap over its still-open DTLS session,
 * authenticated with the factory key: that decides nothing, and the bootstrap writes key 1
 * again (not a new one). That write is lost for good too. The device comes back with what it
 * holds, key 1: accepted, promoted, and the factory key refused from then on. */
static void two_failures_run(nb_server_id_kind kind, uint64_t seed) {
  fx f;
  nb_bs_config cfg;
  twice_ctx t = {.phase = 1};
  char factory_id[NB_SERVER_IDENT_MAX];
  lost_setup(&f, kind, seed, &t.x, &cfg, factory_id, sizeof factory_id);
  nb_simnet_set_tap(f.net, twice_tap, &t);
  g_bs_out = twice_out;
  g_bs_out_user = &t;
  t.bs_inst = bs_account_of(f.c);
  assert_true(t.bs_inst >= 0);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);

  /* Phase 1: key 1 applied, every answer lost, the engine gives up. */
  g_failed_target = 1;
  assert_true(nb_simnet_run_until_cond(f.net, 900000, failed_n, &f));
  assert_false(holds_factory_key(&t.x));
  assert_int_equal(count_ev(&f, NB_BS_EV_FINISHED), 0);
  char key1[NB_SERVER_IDENT_MAX];
  uint8_t held[512];
  size_t held_len;
  held_cred(f.c, kind, key1, sizeof key1, held, sizeof held, &held_len);
  assert_string_not_equal(key1, factory_id);
  nb_bs_source src = nb_bs_store_source(f.bst);
  nb_bs_pending_cred pend;
  assert_int_equal(src.cred_pending_get(src.self, LOST_EP, &pend), NB_OK);
  assert_string_equal(pend.next.identity, key1);
  assert_string_equal(pend.prev, factory_id);
  assert_int_equal(pend.priv_len > 0, kind == NB_SERVER_ID_RPK);

  /* Phase 2: the device's own restart (no Finish within its timeout) gets through over the
   * session it made with the factory key; the pending key stays and is written again. */
  t.phase = 2;
  g_requests_target = count_ev(&f, NB_BS_EV_REQUEST) + 1;
  assert_true(nb_simnet_run_until_cond(f.net, nb_simnet_now(f.net) + 900000, requests_n, &f));
  assert_int_equal(f.rbs.dtls_failed, 0);
  assert_int_equal(src.cred_pending_get(src.self, LOST_EP, &pend), NB_OK);
  assert_string_equal(pend.next.identity, key1); /* a request with key 1 would promote it */
  assert_true(nb_simnet_run_until_cond(f.net, nb_simnet_now(f.net) + 300000, twice_cut, &t));
  g_failed_target = count_ev(&f, NB_BS_EV_FAILED) + 1;
  assert_true(nb_simnet_run_until_cond(f.net, nb_simnet_now(f.net) + 900000, failed_n, &f));
  assert_int_equal(count_ev(&f, NB_BS_EV_FINISHED), 0);
  /* The write that went out carried key 1: still the pending one, nothing else parked. */
  assert_int_equal(src.cred_pending_get(src.self, LOST_EP, &pend), NB_OK);
  assert_string_equal(pend.next.identity, key1);
  assert_string_equal(pend.prev, factory_id);
  assert_true(key_accepted(&f, kind, key1));
  assert_true(key_accepted(&f, kind, factory_id));

  /* The device comes back (rebooted, a new address) with key 1, which it still holds. */
  g_bs_out = NULL;
  cfg.bs_fresh_key = false;
  assert_int_equal(nb_bs_store_config_put(f.bst, &cfg), NB_OK);
  char now_id[NB_SERVER_IDENT_MAX];
  held_cred(f.c, kind, now_id, sizeof now_id, held, sizeof held, &held_len);
  assert_string_equal(now_id, key1);
  nb_client *back = kind == NB_SERVER_ID_RPK ? extra_device(&f, 11, LOST_EP, held, held_len)
                                             : psk_device(&f, 11, key1, held, held_len);
  memset(held, 0, sizeof held);
  assert_int_equal(nb_client_start(back, nb_simnet_now(f.net)), NB_OK);
  g_finished_target = 1;
  assert_true(nb_simnet_run_until_cond(f.net, nb_simnet_now(f.net) + 120000, finished_n, &f));
  nb_server_sec_info cur;
  assert_int_equal(src.cred_pending_get(src.self, LOST_EP, &pend), NB_ERR_NOT_FOUND);
  assert_int_equal(src.cred_get(src.self, LOST_EP, &cur), NB_OK);
  assert_string_equal(cur.identity, key1);
  assert_true(key_accepted(&f, kind, key1));
  assert_false(key_accepted(&f, kind, factory_id));
  memset(&pend, 0, sizeof pend);
  memset(&cur, 0, sizeof cur);
  nb_client_free(back);
  fx_teardown(&f);
}

static void test_bs_key_two_failures_rpk(void **state) {
  (void)state;
  two_failures_run(NB_SERVER_ID_RPK, 65);
}
static void test_bs_key_two_failures_psk(void **state) {
  (void)state;
  two_failures_run(NB_SERVER_ID_PSK, 66);
}

/* A database from before pending RPK keys kept their private key: opening it adds the column
 * (twice is harmless) and its pending row reads back without one; such a row cannot be written
 * again, so a request with the factory key drops it as before and a new key is written. */
static void test_bs_key_pending_row_from_older_version(void **state) {
  (void)state;
  char dir[] = "/tmp/nb-bskey-XXXXXX", path[64];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/bs.db", dir);
  nb_dtls_keypair old;
  assert_int_equal(nb_dtls_keypair_generate(&old), NB_OK);
  sqlite3 *raw;
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(raw,
                   "CREATE TABLE bs_cred_pending(ep TEXT PRIMARY KEY, kind INTEGER NOT NULL,"
                   " identity TEXT NOT NULL, key BLOB, prev TEXT NOT NULL)",
                   NULL, NULL, NULL),
      SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(raw,
                                      "INSERT INTO bs_cred_pending VALUES('" LOST_EP
                                      "', ?, ?, ?, 'factory-sid')",
                                      -1, &q, NULL),
                   SQLITE_OK);
  sqlite3_bind_int(q, 1, NB_SERVER_ID_RPK);
  sqlite3_bind_text(q, 2, old.secure_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(q, 3, old.spki_der.data, (int)old.spki_der.len, SQLITE_TRANSIENT);
  assert_int_equal(sqlite3_step(q), SQLITE_DONE);
  sqlite3_finalize(q);
  sqlite3_close(raw);
  /* sqlite3_open made it under the umask: the store takes only a private file (0600). */
  assert_int_equal(chmod(path, 0600), 0);
  for (int pass = 0; pass < 2; pass++) {
    nb_bs_store *st;
    assert_int_equal(nb_bs_store_open(path, &st), NB_OK);
    nb_bs_pending_cred p;
    assert_int_equal(nb_bs_store_cred_pending_get(st, LOST_EP, &p), NB_OK);
    assert_string_equal(p.next.identity, old.secure_id);
    assert_string_equal(p.prev, "factory-sid");
    assert_int_equal(p.priv_len, 0);
    if (pass == 1) { /* the new column holds what a new version keeps */
      memcpy(p.priv, old.key_der.data, old.key_der.len);
      p.priv_len = old.key_der.len;
      assert_int_equal(nb_bs_store_cred_pending_put(st, &p), NB_OK);
      memset(&p, 0, sizeof p);
      assert_int_equal(nb_bs_store_cred_pending_get(st, LOST_EP, &p), NB_OK);
      assert_int_equal(p.priv_len, old.key_der.len);
      assert_memory_equal(p.priv, old.key_der.data, old.key_der.len);
    }
    memset(&p, 0, sizeof p);
    nb_bs_store_close(st);
  }
  char side[80];
  unlink(path);
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", path);
  unlink(side);
  rmdir(dir);

  /* The engine with such a row (no private key) for a device that never got that key. */
  fx f;
  nb_bs_config cfg;
  lost_ctx x = {0};
  char factory_id[NB_SERVER_IDENT_MAX];
  lost_setup(&f, NB_SERVER_ID_RPK, 67, &x, &cfg, factory_id, sizeof factory_id);
  nb_bs_pending_cred p = {0};
  snprintf(p.next.ep, sizeof p.next.ep, "%s", LOST_EP);
  p.next.kind = NB_SERVER_ID_RPK;
  snprintf(p.next.identity, sizeof p.next.identity, "%s", old.secure_id);
  memcpy(p.next.key, old.spki_der.data, old.spki_der.len);
  p.next.key_len = old.spki_der.len;
  snprintf(p.prev, sizeof p.prev, "%s", factory_id);
  assert_int_equal(nb_bs_store_cred_pending_put(f.bst, &p), NB_OK);
  assert_true(key_accepted(&f, NB_SERVER_ID_RPK, old.secure_id));
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  g_finished_target = 1;
  assert_true(nb_simnet_run_until_cond(f.net, 120000, finished_n, &f));
  char held_id[NB_SERVER_IDENT_MAX];
  uint8_t held[512];
  size_t held_len;
  held_cred(f.c, NB_SERVER_ID_RPK, held_id, sizeof held_id, held, sizeof held, &held_len);
  memset(held, 0, sizeof held);
  assert_string_not_equal(held_id, old.secure_id);
  assert_string_not_equal(held_id, factory_id);
  nb_bs_source src = nb_bs_store_source(f.bst);
  nb_server_sec_info cur;
  assert_int_equal(src.cred_pending_get(src.self, LOST_EP, &p), NB_ERR_NOT_FOUND);
  assert_int_equal(src.cred_get(src.self, LOST_EP, &cur), NB_OK);
  assert_string_equal(cur.identity, held_id);
  assert_false(key_accepted(&f, NB_SERVER_ID_RPK, old.secure_id));
  assert_false(key_accepted(&f, NB_SERVER_ID_RPK, factory_id));
  nb_dtls_keypair_free(&old);
  fx_teardown(&f);
}

/* X.509 accounts: a fresh key and a certificate (CN = endpoint) signed by the config's CA at
 * every bootstrap, installed as an X.509 binding in the management server's store; the device
 * then registers over DTLS with that certificate. */
static void test_x509_account(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 22, true, NB_BS_POLICY_AUTO);
  nb_dtls_certkey ca, dm;
  nb_dtls_cert_request ca_req = {.cn = "Niobium test CA"}, dm_req = {.cn = "dm.example"};
  assert_int_equal(nb_dtls_cert_make_ca(&ca_req, &ca), NB_OK);
  assert_int_equal(nb_dtls_cert_issue(ca.cert_pem.data, ca.cert_pem.len, ca.key.key_pem.data,
                                      ca.key.key_pem.len, &dm_req, &dm),
                   NB_OK);
  assert_int_equal(nb_dtls_creds_set_x509(f.rdm.creds, dm.cert_pem.data, dm.cert_pem.len,
                                          dm.key.key_pem.data, dm.key.key_pem.len),
                   NB_OK);
  assert_int_equal(nb_dtls_creds_add_trust(f.rdm.creds, ca.cert_pem.data, ca.cert_pem.len), NB_OK);
  fx_device(&f, "dev-x509", "1.1");
  nb_bs_config cfg;
  nb_bs_config_init(&cfg, "dev-x509");
  nb_bs_server s = {
      .ssid = 101, .lifetime = 300, .mode = NB_BS_SEC_X509, .uri = "coaps://10.0.0.2:5684"};
  memcpy(s.server_pubkey, dm.cert_der.data, dm.cert_der.len);
  s.server_pubkey_len = dm.cert_der.len;
  assert_int_equal(nb_bs_config_add_server(&cfg, &s), NB_OK);
  memcpy(cfg.ca_cert, ca.cert_pem.data, ca.cert_pem.len);
  cfg.ca_cert_len = ca.cert_pem.len;
  memcpy(cfg.ca_key, ca.key.key_pem.data, ca.key.key_pem.len);
  cfg.ca_key_len = ca.key.key_pem.len;
  assert_int_equal(nb_bs_store_config_put(f.bst, &cfg), NB_OK);
  fx_expect(&f, "dev-x509", f.dev_key.secure_id);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 120000, finished_and_registered, &f));
  nb_server_sec_info sec;
  dm_psk(&f, "dev-x509", &sec);
  assert_int_equal(sec.kind, NB_SERVER_ID_X509);
  assert_string_equal(sec.identity, "dev-x509");
  const nb_server_reg_info *reg = nb_server_find(f.dm, "dev-x509");
  assert_non_null(reg);
  assert_int_equal(reg->identity.kind, NB_SERVER_ID_X509); /* registered with the certificate */
  assert_string_equal(reg->identity.value, "dev-x509");
  /* The device holds a certificate for its endpoint, issued by the CA, and the server's. */
  nb_object *sec_obj = nb_client_object(f.c, 0);
  int acct = -1;
  for (uint16_t i = 0; i < 16 && acct < 0; i++)
    if (nb_store_object_has_instance(sec_obj, i) && !nb_store_object_get_bool(sec_obj, i, 1, true))
      acct = i;
  assert_true(acct >= 0);
  assert_int_equal(nb_store_object_get_int(sec_obj, (uint16_t)acct, 2, -1), NB_BS_SEC_X509);
  const nb_value *srv_cert = sec_res(f.c, acct, 4);
  assert_non_null(srv_cert);
  assert_int_equal(srv_cert->v.bytes.len, dm.cert_der.len);
  /* A config without the CA is refused, as is x509 through JSON without it. */
  char why[160];
  assert_int_equal(nb_bs_config_from_json("{\"servers\":[{\"uri\":\"coaps://h\",\"ssid\":1,"
                                          "\"security\":\"x509\"}]}",
                                          &cfg, why, sizeof why),
                   NB_ERR_SYNTAX);
  nb_dtls_certkey_free(&ca);
  nb_dtls_certkey_free(&dm);
  fx_teardown(&f);
}

/* The thesis use case on a lossy DTLS network up to the device's registration: an RPK device
 * whose secure ID the operator registered, a fresh PSK account, a fresh key for its own
 * bootstrap account (purged bs_timeout seconds after Finish, 0 = kept), the request pending
 * until the operator approves it (nothing finished before). */
static void fx_thesis_lossy(fx *f, uint64_t seed, const char *ep, uint32_t bs_timeout) {
  fx_setup(f, seed, true, NB_BS_POLICY_APPROVE);
  nb_simnet_link l = {.drop = 0.2,
                      .duplicate = 0.05,
                      .delay_min = 5,
                      .delay_max = 60,
                      .reorder = 0.05,
                      .reorder_delay = 80};
  nb_simnet_set_link(f->net, &l);
  fx_device(f, ep, "1.1");
  fx_config(f, ep, NB_BS_SEC_PSK);
  nb_bs_config cfg;
  assert_int_equal(nb_bs_store_config_get(f->bst, ep, &cfg), NB_OK);
  cfg.bs_fresh_key = true;
  cfg.bs_account_timeout = bs_timeout;
  assert_int_equal(nb_bs_store_config_put(f->bst, &cfg), NB_OK);
  fx_expect(f, ep, f->dev_key.secure_id);
  assert_int_equal(nb_client_start(f->c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f->net, 1800000, has_pending, f));
  assert_int_equal(count_ev(f, NB_BS_EV_FINISHED), 0);
  assert_int_equal(nb_bs_engine_approve(f->bs, ep, nb_simnet_now(f->net)), NB_OK);
  assert_true(nb_simnet_run_until_cond(f->net, nb_simnet_now(f->net) + 1800000,
                                       finished_and_registered, f));
}

/* The thesis use case over DTLS on a lossy network (loss, duplicates, reordering both ways, on
 * the bootstrap and the registration path): the request waits for approval, the fresh PSK is
 * written and used to register, the factory bootstrap account gets a fresh key and is purged
 * after its timeout; lost messages at every step (handshake flights, Bootstrap-Request, its
 * separate response, Discover/Delete/Write/Finish, Register) are recovered. Several seeds. */
static void test_thesis_use_case_lossy_dtls(void **state) {
  (void)state;
  for (uint64_t seed = 300; seed < 304; seed++) {
    fx f;
    fx_thesis_lossy(&f, seed, "urn:dev:lossy", 300);
    nb_time_ms done = nb_simnet_now(f.net);
    const nb_server_reg_info *reg = nb_server_find(f.dm, "urn:dev:lossy");
    assert_non_null(reg);
    assert_int_equal(reg->identity.kind, NB_SERVER_ID_PSK); /* with the PSK just written */
    nb_server_sec_info psk;
    dm_psk(&f, "urn:dev:lossy", &psk);
    assert_int_equal(psk.key_len, 16);
    nb_bs_source src = nb_bs_store_source(f.bst);
    nb_server_sec_info bc;
    assert_int_equal(src.cred_get(src.self, "urn:dev:lossy", &bc), NB_OK);
    assert_string_not_equal(bc.identity, f.dev_key.secure_id); /* factory key replaced */
    nb_simnet_run_until(f.net, done + 301000);
    assert_int_equal(bs_account_of(f.c), -1); /* old bootstrap account removed */
    nb_simnet_stats st;
    nb_simnet_get_stats(f.net, &st);
    assert_true(st.dropped > 0);
    fx_teardown(&f);
  }
}

/* What the bootstrap server kept of one signed bootstrap. */
typedef struct {
  size_t n;
  char kind[8][12];
  char cti[8][2 * NB_BS_CTI_LEN + 1];
  nb_bytes cose[8];
} bs_proof;

static nb_err keep_proof(void *u, const nb_bs_evidence *ev) {
  bs_proof *p = u;
  if (p->n == 8) return NB_ERR_BUSY;
  snprintf(p->kind[p->n], sizeof p->kind[0], "%s", ev->kind);
  snprintf(p->cti[p->n], sizeof p->cti[0], "%s", ev->cti);
  nb_bytes_init(&p->cose[p->n]);
  nb_err e = nb_bytes_append(&p->cose[p->n], ev->cose, ev->cose_len);
  p->n++;
  return e;
}

static bool device_has(const fx *f, const char *kind, const nb_bytes *cose) {
  for (size_t i = 0; i < f->ndev_evidence; i++)
    if (strcmp(f->dev_evidence[i].kind, kind) == 0 && f->dev_evidence[i].cose.len == cose->len &&
        memcmp(f->dev_evidence[i].cose.data, cose->data, cose->len) == 0)
      return true;
  return false;
}

/* The keys a kept write withholds: none of them kept, each signed digest matching the key the
 * device now holds at that path; how many. */
static size_t check_withheld(fx *f, const nb_cose_sign1_msg *m) {
  assert_int_equal(m->nvalues, 0);
  assert_false(nb_cose_payload_has_secret(m, NULL));
  for (size_t k = 0; k < m->nwithheld; k++) {
    const nb_value *v = nb_store_object_get(nb_client_object(f->c, 0), &m->withheld[k].path);
    assert_non_null(v);
    assert_true(nb_cose_secret_matches(&m->withheld[k], v->v.bytes.data, v->v.bytes.len));
  }
  return m->nwithheld;
}

/* The proof of one signed bootstrap stands on its own: every write verifies with the bootstrap
 * server's public key and names the device, the receipt verifies with the device's factory key
 * (and not with the server's), names the device and the same bootstrap, and holds the Server
 * object the device now has; the device kept byte for byte what the server kept, and neither
 * kept a key: the writes withhold the fresh PSK and bootstrap-account key, whose signed
 * digests match what the device installed. */
static void check_signed_proof(fx *f, const char *ep) {
  bs_proof p = {0};
  assert_int_equal(nb_bs_store_evidence_each(f->bst, ep, keep_proof, &p), NB_OK);
  size_t writes = 0, receipts = 0, withheld = 0;
  for (size_t i = 0; i < p.n; i++) {
    assert_string_equal(p.cti[i], p.cti[0]); /* one bootstrap: the one that finished */
    nb_cose_sign1_msg m;
    bool receipt = strcmp(p.kind[i], "receipt") == 0;
    const nb_dtls_keypair *signer = receipt ? &f->dev_key : &f->bs_key;
    const nb_dtls_keypair *other = receipt ? &f->bs_key : &f->dev_key;
    assert_int_equal(nb_cose_open(p.cose[i].data, p.cose[i].len, signer->spki_der.data,
                                  signer->spki_der.len, &m),
                     NB_OK);
    assert_int_equal(nb_cose_verify(&m, other->spki_der.data, other->spki_der.len),
                     NB_ERR_DTLS_PEER_REJECTED);
    assert_int_equal(m.h.content_format, NB_COAP_CF_SENML_CBOR);
    char cti[2 * NB_COSE_ID_MAX + 1];
    nb_hex_encode(m.h.cti, m.h.cti_len, cti);
    assert_string_equal(cti, p.cti[i]);
    assert_string_equal(receipt ? m.h.iss : m.h.sub, ep);
    assert_true(device_has(f, p.kind[i], &p.cose[i]));
    if (receipt) {
      nb_records recs;
      nb_records_init(&recs);
      nb_path base = nb_path_obj(1);
      assert_int_equal(nb_format_decode(m.h.content_format, m.payload, m.payload_len, &base, NULL,
                                        &recs, NULL, NULL),
                       NB_OK);
      nb_path ssid = {.ids = {1, 0, 0}, .len = NB_PATH_RESOURCE};
      const nb_record *r = nb_records_find(&recs, &ssid);
      assert_non_null(r);
      assert_int_equal(r->value.v.i, 101);
      nb_records_deinit(&recs);
      receipts++;
    } else {
      writes++;
      withheld += check_withheld(f, &m);
    }
    nb_bytes_free(&p.cose[i]);
  }
  assert_int_equal(receipts, 1);
  assert_true(writes >= 3);      /* Security and Server of the account, the bootstrap account key */
  assert_int_equal(withheld, 2); /* the management PSK and the new bootstrap-account key */
}

/* The thesis use case with non-repudiation (its requirement S3): the device asks for a signed
 * bootstrap, the operator approves, the configuration arrives signed by the bootstrap server,
 * the device's signed receipt comes back before Finish, over DTLS with 20 % loss, duplicates
 * and reordering, with a fresh key for the device's own bootstrap account as well. */
static void test_thesis_use_case_signed(void **state) {
  (void)state;
  fx_signed = true;
  for (uint64_t seed = 400; seed < 403; seed++) {
    fx f;
    fx_thesis_lossy(&f, seed, "urn:dev:signed", 0);
    const nb_server_reg_info *reg = nb_server_find(f.dm, "urn:dev:signed");
    assert_non_null(reg);
    assert_int_equal(reg->identity.kind, NB_SERVER_ID_PSK);
    check_signed_proof(&f, "urn:dev:signed");
    fx_teardown(&f);
  }
  fx_signed = false;
}

/* Rejection and a refused key on the same lossy DTLS network: the operator's 4.03 reaches the
 * device despite loss and nothing is written; an unregistered key never gets a request in. */
static void test_rejection_and_rogue_lossy_dtls(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 310, true, NB_BS_POLICY_APPROVE);
  nb_simnet_link l = {.drop = 0.2, .duplicate = 0.05, .delay_min = 5, .delay_max = 60};
  nb_simnet_set_link(f.net, &l);
  fx_device(&f, "dev-lossy-rej", "1.1");
  fx_config(&f, "dev-lossy-rej", NB_BS_SEC_PSK);
  fx_expect(&f, "dev-lossy-rej", f.dev_key.secure_id);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 1800000, has_pending, &f));
  assert_int_equal(nb_bs_engine_reject(f.bs, "dev-lossy-rej", nb_simnet_now(f.net)), NB_OK);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 5000);
  assert_int_equal(count_ev(&f, NB_BS_EV_REJECTED), 1);
  assert_int_equal(count_ev(&f, NB_BS_EV_FINISHED), 0);
  nb_client_srv_state cs;
  assert_int_equal(nb_client_server_state(f.c, 101, &cs, NULL, 0), NB_ERR_NOT_FOUND);
  nb_dtls_keypair rogue;
  assert_int_equal(nb_dtls_keypair_generate(&rogue), NB_OK);
  size_t requests = count_ev(&f, NB_BS_EV_REQUEST), alerts = count_ev(&f, NB_BS_EV_ALERT);
  nb_client *r = extra_device(&f, 12, "dev-lossy-rej", rogue.key_der.data, rogue.key_der.len);
  assert_int_equal(nb_client_start(r, nb_simnet_now(f.net)), NB_OK);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 120000);
  assert_true(count_ev(&f, NB_BS_EV_ALERT) > alerts);
  /* the rejected device may ask again; the rogue never gets a request through */
  for (size_t i = requests; i < f.nev; i++)
    if (f.ev[i].type == NB_BS_EV_REQUEST) assert_string_equal(f.ev[i].ep, "dev-lossy-rej");
  nb_bs_engine_stats bst;
  nb_bs_engine_get_stats(f.bs, &bst);
  assert_int_equal(bst.finished, 0);
  nb_client_free(r);
  nb_dtls_keypair_free(&rogue);
  fx_teardown(&f);
}

/* Config JSON round trip and validation. */
static void test_config_json(void **state) {
  (void)state;
  nb_bs_config c, back;
  nb_bs_config_init(&c, "dev1");
  nb_bs_server s = {.ssid = 7,
                    .lifetime = 60,
                    .mode = NB_BS_SEC_PSK,
                    .uri = "coaps://h:5684",
                    .psk_identity = "id1",
                    .psk_key = {1, 2, 3},
                    .psk_key_len = 3};
  assert_int_equal(nb_bs_config_add_server(&c, &s), NB_OK);
  c.acls[0] = (nb_bs_acl){.obj = 3, .inst = 0, .owner = 7, .n = 1, .ssid = {7}, .rights = {31}};
  c.nacls = 1;
  char *json;
  assert_int_equal(nb_bs_config_to_json(&c, &json), NB_OK);
  char why[128];
  assert_int_equal(nb_bs_config_from_json(json, &back, why, sizeof why), NB_OK);
  free(json);
  assert_string_equal(back.ep, "dev1");
  assert_int_equal(back.nservers, 1);
  assert_int_equal(back.servers[0].psk_key_len, 3);
  assert_int_equal(back.servers[0].psk_key[2], 3);
  assert_int_equal(back.acls[0].rights[0], 31);
  assert_int_equal(back.ndeletes, 2);
  assert_int_equal(nb_bs_config_from_json("{\"servers\":[{\"uri\":\"coap://h\",\"ssid\":0}]}",
                                          &back, why, sizeof why),
                   NB_ERR_SYNTAX);
  assert_int_equal(nb_bs_config_from_json("{\"servers\":[{\"uri\":\"coap://h\",\"ssid\":1,"
                                          "\"security\":\"psk\"}]}",
                                          &back, why, sizeof why),
                   NB_ERR_SYNTAX); /* coap:// with PSK */
  assert_int_equal(nb_bs_config_from_json("[", &back, why, sizeof why), NB_ERR_SYNTAX);
}

/* ---- floods (Table 5.1 F6, S5) ---- */

static nb_addr flood_addr(uint32_t i) {
  nb_addr a;
  memset(&a, 0, sizeof a);
  a.family = NB_ADDR_V4;
  a.ip[0] = 172;
  a.ip[1] = (uint8_t)(16 + (i >> 16));
  a.ip[2] = (uint8_t)(i >> 8);
  a.ip[3] = (uint8_t)i;
  a.port = (uint16_t)(1024 + i % 60000);
  return a;
}

typedef struct {
  uint8_t d[1500];
  size_t n;
} flood_pkt;

static void grab_send(void *u, const nb_addr *p, const uint8_t *d, size_t n) {
  flood_pkt *k = u;
  (void)p;
  if (n <= sizeof k->d) {
    memcpy(k->d, d, n);
    k->n = n;
  }
}
static void grab_recv(void *u, const nb_addr *p, const uint8_t *d, size_t n, nb_time_ms now) {
  (void)u, (void)p, (void)d, (void)n, (void)now;
}

/* A genuine first ClientHello (no cookie) from a PSK client. */
static void flood_client_hello(flood_pkt *ch) {
  nb_dtls_creds *cr;
  uint8_t key[16] = {1};
  assert_int_equal(nb_dtls_creds_new(&cr), NB_OK);
  assert_int_equal(nb_dtls_creds_set_psk(cr, "attacker", 8, key, sizeof key), NB_OK);
  nb_dtls_handlers h = {grab_send, grab_recv, NULL, ch};
  nb_addr srv = nb_simnet_addr(BS_N, 5784);
  nb_dtls_session *c;
  assert_int_equal(nb_dtls_client_new(cr, NULL, &h, &srv, 0, &c), NB_OK);
  assert_int_equal(nb_dtls_client_connect(c, 0), NB_OK);
  assert_true(ch->n > 0);
  nb_dtls_session_free(c);
  nb_dtls_creds_free(cr);
}

/* A Bootstrap-Request for ep, as a NoSec device sends it. */
static void flood_bs_request(flood_pkt *p, const char *ep, uint16_t mid) {
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_POST, mid);
  uint8_t tok[2] = {(uint8_t)(mid >> 8), (uint8_t)mid};
  nb_coap_msg_set_token(&m, tok, sizeof tok);
  char q[80];
  snprintf(q, sizeof q, "ep=%s", ep);
  assert_int_equal(nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/bs"), NB_OK);
  assert_int_equal(nb_coap_msg_add_string(&m, NB_COAP_OPT_URI_QUERY, q), NB_OK);
  assert_int_equal(nb_coap_serialize(&m, p->d, sizeof p->d, &p->n), NB_OK);
}

/* While a factory-RPK device bootstraps over DTLS, 6000 ClientHellos from 6000 spoofed sources
 * (a third of them with a forged cookie) hit the bootstrap server: every one is answered
 * statelessly, no session or handshake state is allocated for them at any time, the bootstrap
 * engine sees no request from them, and the device bootstraps and registers. */
static void test_flood_dtls_during_bootstrap(void **state) {
  (void)state;
  enum { FLOOD = 6000 };
  fx f;
  fx_setup(&f, 91, true, NB_BS_POLICY_AUTO);
  fx_device(&f, "urn:dev:flood-1", "1.1");
  fx_config(&f, "urn:dev:flood-1", NB_BS_SEC_PSK);
  fx_expect(&f, "urn:dev:flood-1", f.dev_key.secure_id);
  flood_pkt ch, forged;
  flood_client_hello(&ch);
  /* The same hello with a 16-byte cookie of garbage spliced in. */
  nb_dtls_client_hello parsed;
  assert_true(nb_dtls_parse_client_hello(ch.d, ch.n, &parsed));
  size_t sid_at = (size_t)(parsed.random - ch.d) + 32; /* session ID length byte */
  size_t at = sid_at + 1 + ch.d[sid_at];
  assert_int_equal(ch.d[at], 0); /* cookie length */
  memcpy(forged.d, ch.d, at);
  forged.d[at] = 16;
  memset(forged.d + at + 1, 0xA5, 16);
  memcpy(forged.d + at + 17, ch.d + at + 1, ch.n - at - 1);
  forged.n = ch.n + 16;
  /* Fix the lengths the splice changed: record, handshake and fragment lengths. */
  size_t rec_len = ((size_t)forged.d[11] << 8 | forged.d[12]) + 16;
  forged.d[11] = (uint8_t)(rec_len >> 8), forged.d[12] = (uint8_t)rec_len;
  for (int k = 14; k <= 22; k += 8) { /* handshake length (14..16), fragment length (22..24) */
    size_t v = ((size_t)forged.d[k] << 16 | (size_t)forged.d[k + 1] << 8 | forged.d[k + 2]) + 16;
    forged.d[k] = (uint8_t)(v >> 16), forged.d[k + 1] = (uint8_t)(v >> 8),
    forged.d[k + 2] = (uint8_t)v;
  }
  assert_true(nb_dtls_parse_client_hello(forged.d, forged.n, &parsed));
  assert_int_equal(parsed.cookie_len, 16);

  nb_addr bs = nb_simnet_addr(BS_N, 5784);
  for (uint32_t i = 0; i < FLOOD; i++) { /* spread over the first 30 s */
    nb_addr from = flood_addr(i);
    const flood_pkt *p = i % 3 == 0 ? &forged : &ch;
    assert_int_equal(nb_simnet_inject(f.net, &from, &bs, p->d, p->n, 1 + (nb_time_ms)i * 5), NB_OK);
  }
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  uint64_t max_sessions = 0, max_hs = 0;
  /* Until the flood is over (30 s) and the device is through. */
  for (nb_time_ms t = 500; t <= 120000 && (t <= 31000 || !finished_and_registered(&f)); t += 500) {
    nb_simnet_run_until(f.net, t);
    nb_dtls_server_stats st;
    nb_dtls_server_get_stats(f.rbs.dtls, &st);
    if (st.sessions > max_sessions) max_sessions = st.sessions;
    if (st.handshakes > max_hs) max_hs = st.handshakes;
  }
  assert_true(finished_and_registered(&f));
  nb_dtls_server_stats st;
  nb_dtls_server_get_stats(f.rbs.dtls, &st);
  assert_true(st.hello_verify_sent >= FLOOD);
  assert_true(st.cookies_accepted <= 3); /* the device's own handshake(s) only */
  assert_true(max_sessions <= 1);
  assert_true(max_hs <= 1);
  nb_bs_engine_stats bst;
  nb_bs_engine_get_stats(f.bs, &bst);
  assert_int_equal(bst.requests, 1);
  assert_int_equal(bst.finished, 1);
  assert_int_equal(bst.sessions, 0);
  fx_teardown(&f);
}

/* A real DTLS client from its own address that answers the HelloVerifyRequest (the cookie
 * exchange proves the address) and then goes silent: the server holds a half-open handshake. */
typedef struct {
  nb_simnet_node *node;
  nb_dtls_creds *creds;
  nb_dtls_session *s;
  int got; /* datagrams received from the server */
} stall_client;

static void stall_send(void *u, const nb_addr *p, const uint8_t *d, size_t n) {
  nb_simnet_send(((stall_client *)u)->node, p, d, n);
}
static void stall_receive(void *u, const nb_addr *from, const uint8_t *d, size_t n,
                          nb_time_ms now) {
  stall_client *k = u;
  (void)from;
  if (k->got++ == 0) nb_dtls_session_receive(k->s, d, n, now); /* the HelloVerifyRequest only */
}
static const nb_simnet_ops stall_ops = {stall_receive, NULL, NULL, NULL};

static void stall_start(stall_client *k, nb_simnet *net, uint32_t i) {
  nb_addr a = flood_addr(i);
  uint8_t key[16] = {2};
  k->node = nb_simnet_add(net, &a, &stall_ops, k);
  assert_int_equal(nb_dtls_creds_new(&k->creds), NB_OK);
  assert_int_equal(nb_dtls_creds_set_psk(k->creds, "stall", 5, key, sizeof key), NB_OK);
  nb_dtls_handlers h = {stall_send, grab_recv, NULL, k};
  nb_addr srv = nb_simnet_addr(BS_N, 5784);
  assert_int_equal(nb_dtls_client_new(k->creds, NULL, &h, &srv, nb_simnet_now(net), &k->s), NB_OK);
  assert_int_equal(nb_dtls_client_connect(k->s, nb_simnet_now(net)), NB_OK);
}

static void stall_free(stall_client *k) {
  nb_dtls_session_free(k->s);
  nb_dtls_creds_free(k->creds);
}

/* F6, half-open handshakes: 48 real clients from their own addresses complete the cookie
 * exchange (their second ClientHello carries a valid cookie) and then stall, filling the
 * bootstrap server's handshake table (max_handshakes 16, of which 12 for sources that never
 * completed a handshake) just before a factory-RPK device with a registered secure ID asks.
 * The table never holds more than its bound; the device, new too, gets in at its first
 * ClientHello by evicting the stalled handshake heard from least recently, and bootstraps and
 * registers; the other stalled handshakes end 15 s after their peer's last datagram (the
 * retransmission schedule), not at the 60 s handshake timeout; at the end nothing is left. */
static void test_half_open_handshakes(void **state) {
  (void)state;
  enum { MAXHS = 16, UNKNOWN = 12, STALL = 48 };
  fx f;
  fx_max_handshakes = MAXHS;
  fx_setup(&f, 96, true, NB_BS_POLICY_AUTO);
  fx_max_handshakes = 0;
  fx_device(&f, "urn:dev:halfopen-1", "1.1");
  fx_config(&f, "urn:dev:halfopen-1", NB_BS_SEC_PSK);
  fx_expect(&f, "urn:dev:halfopen-1", f.dev_key.secure_id);
  nb_dtls_server_config dc;
  nb_dtls_server_config_default(&dc); /* the timeouts the bootstrap server runs with */
  nb_time_ms hs_timeout = dc.session.handshake_timeout_ms;

  stall_client *k = calloc(STALL, sizeof *k);
  assert_non_null(k);
  for (uint32_t i = 0; i < STALL; i++) {
    nb_simnet_run_until(f.net, 1 + (nb_time_ms)i * 10);
    stall_start(&k[i], f.net, i);
  }
  nb_simnet_run_until(f.net, 1500);
  nb_dtls_server_stats st;
  nb_dtls_server_get_stats(f.rbs.dtls, &st);
  assert_int_equal(st.handshakes, UNKNOWN);     /* full for new sources, from proven addresses */
  assert_int_equal(st.cookies_accepted, STALL); /* every one proved its address */
  assert_int_equal(st.refused, STALL - UNKNOWN);
  assert_int_equal(st.evicted, 0); /* the newcomers came while the oldest still had no chance to
                                      answer a retransmission */
  for (uint32_t i = 0; i < STALL; i++) assert_true(k[i].got >= 1); /* each got its cookie */

  assert_int_equal(nb_client_start(f.c, 1500), NB_OK);
  uint64_t max_hs = 0, refused_before = st.refused;
  nb_time_ms t;
  for (t = 1600; t <= 600000 && !finished_and_registered(&f); t += 100) {
    nb_simnet_run_until(f.net, t);
    nb_dtls_server_get_stats(f.rbs.dtls, &st);
    if (st.handshakes > max_hs) max_hs = st.handshakes;
  }
  assert_true(finished_and_registered(&f));
  assert_true(max_hs <= MAXHS);
  assert_int_equal(st.refused, refused_before); /* the device was never turned away */
  assert_int_equal(st.evicted, 1);              /* it took the oldest stalled handshake's place */
  assert_int_equal(st.stalled, 0);
  assert_true(t < 1500 + 10000);
  nb_bs_engine_stats bst;
  nb_bs_engine_get_stats(f.bs, &bst);
  assert_int_equal(bst.requests, 1);
  assert_int_equal(bst.finished, 1);
  assert_int_equal(bst.sessions, 0);

  /* The rest end 15 s after their peers' last datagram, long before the handshake timeout. */
  nb_simnet_run_until(f.net, 1500 + 15000);
  nb_dtls_server_get_stats(f.rbs.dtls, &st);
  assert_int_equal(st.handshakes, 0);
  assert_int_equal(st.stalled + st.evicted, UNKNOWN);
  assert_true(1500 + 15000 < hs_timeout);

  /* Past the idle timeout the device's own session goes too: nothing is held. */
  nb_simnet_run_until(f.net, t + dc.idle_timeout_ms + 10000);
  nb_dtls_server_get_stats(f.rbs.dtls, &st);
  assert_int_equal(st.handshakes, 0);
  assert_int_equal(st.sessions, 0);
  for (uint32_t i = 0; i < STALL; i++) stall_free(&k[i]);
  free(k);
  fx_teardown(&f);
}

/* NoSec: 5000 Bootstrap-Requests for unknown endpoints from spoofed sources while a known
 * device bootstraps: each is refused (4.00) without any session, and the device completes.
 * With a default config every name is "known": the sessions a flood can open are bounded by
 * max_sessions (5.03 beyond), and they expire with the retry budget. */
static void test_flood_bs_requests(void **state) {
  (void)state;
  enum { FLOOD = 5000 };
  fx f;
  fx_setup(&f, 92, false, NB_BS_POLICY_AUTO);
  fx_device(&f, "dev-flood", "1.1");
  fx_config(&f, "dev-flood", NB_BS_SEC_NOSEC);
  nb_addr bs = nb_simnet_addr(BS_N, 5783);
  for (uint32_t i = 0; i < FLOOD; i++) {
    char ep[32];
    snprintf(ep, sizeof ep, "spoof-%u", (unsigned)i);
    flood_pkt p;
    flood_bs_request(&p, ep, (uint16_t)i);
    nb_addr from = flood_addr(i);
    assert_int_equal(nb_simnet_inject(f.net, &from, &bs, p.d, p.n, 1 + (nb_time_ms)i * 4), NB_OK);
  }
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  uint64_t max_sessions = 0;
  nb_bs_engine_stats s;
  for (nb_time_ms t = 100; t <= 21000; t += 100) { /* the flood lasts 20 s */
    nb_simnet_run_until(f.net, t);
    nb_bs_engine_get_stats(f.bs, &s);
    if (s.sessions > max_sessions) max_sessions = s.sessions;
  }
  assert_int_equal(s.finished, 1); /* events are counted by stats: f.ev is full of the flood */
  assert_true(registered(&f));
  assert_int_equal(s.requests, FLOOD + 1);
  assert_int_equal(s.rejected, FLOOD);
  assert_true(max_sessions <= 1);
  fx_teardown(&f);

  /* A default config under approve: the flood's requests wait as small records, at most
   * max_pending of them (the oldest evicted), and open no session. */
  fx_max_pending = 100;
  fx_setup(&f, 93, false, NB_BS_POLICY_APPROVE);
  fx_max_pending = 0;
  fx_config(&f, "", NB_BS_SEC_NOSEC);
  for (uint32_t i = 0; i < FLOOD; i++) {
    char ep[32];
    snprintf(ep, sizeof ep, "spoof-%u", (unsigned)i);
    flood_pkt p;
    flood_bs_request(&p, ep, (uint16_t)i);
    nb_addr from = flood_addr(i);
    assert_int_equal(nb_simnet_inject(f.net, &from, &bs, p.d, p.n, 1 + (nb_time_ms)i * 4), NB_OK);
  }
  nb_simnet_run_until(f.net, 21000);
  nb_bs_engine_get_stats(f.bs, &s);
  assert_int_equal(s.sessions, 0);
  assert_int_equal(s.waiting, 100);
  assert_int_equal(s.pending, FLOOD);
  assert_int_equal(s.evicted, FLOOD - 100);
  assert_int_equal(s.overloaded, 0);
  char eps[2][NB_BS_EP_MAX];
  assert_int_equal(nb_bs_engine_pending(f.bs, eps, 2), 100);
  assert_string_equal(eps[0], "spoof-4900"); /* the newest stayed */
  fx_teardown(&f);
}

typedef struct {
  int finished[2], evicted[2], approved[2];
  const char *eps[2];
} known_count;

static void on_known_event(void *u, const nb_bs_event *e) {
  known_count *k = u;
  for (int i = 0; i < 2; i++) {
    if (strcmp(e->ep, k->eps[i]) != 0) continue;
    k->finished[i] += e->type == NB_BS_EV_FINISHED;
    k->evicted[i] += e->type == NB_BS_EV_EVICTED;
    k->approved[i] += e->type == NB_BS_EV_APPROVED;
  }
}

/* Policy approve with a default config, on coap and coaps at once: 5,000 spoofed NoSec
 * requests under default-config names fill the pending table (max_pending 100, the oldest
 * evicted with 5.03) while a device with its own config (NoSec) and a device whose secure ID
 * was registered (RPK, default config) ask, wait, are approved and bootstrap: their requests
 * are never evicted nor refused, and no flood request ever becomes a session. */
static void test_flood_approve_known_devices(void **state) {
  (void)state;
  enum { FLOOD = 5000, MAXP = 100 };
  fx f;
  fx_max_pending = MAXP;
  fx_setup(&f, 94, true, NB_BS_POLICY_APPROVE);
  fx_max_pending = 0;
  nb_addr bsp = nb_simnet_addr(BS_N, 5783);
  f.rbs.plain = nb_simnet_add(f.net, &bsp, &plain_ops, &f.rbs);
  fx_config(&f, "", NB_BS_SEC_NOSEC);
  fx_config(&f, "dev-cfg", NB_BS_SEC_NOSEC);
  fx_device(&f, "urn:dev:sid", "1.1"); /* RPK, no config of its own */
  fx_expect(&f, "urn:dev:sid", f.dev_key.secure_id);
  known_count k = {.eps = {"dev-cfg", "urn:dev:sid"}};
  assert_int_equal(nb_bs_engine_add_listener(f.bs, on_known_event, &k), NB_OK);

  nb_addr ca2 = nb_simnet_addr(8, 56831);
  nb_simnet_node *n2 = nb_simnet_add(f.net, &ca2, &client_ops, NULL);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "dev-cfg";
  cfg.send = nb_simnet_send;
  cfg.send_user = n2;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f.net);
  nb_client *c2;
  assert_int_equal(nb_client_new(&cfg, &c2), NB_OK);
  nb_simnet_node_set_user(n2, c2);
  nb_client_server_params p = {.bootstrap = true, .uri = "coap://10.0.0.1:5783"};
  assert_int_equal(nb_client_add_server(c2, &p), NB_OK);

  for (uint32_t i = 0; i < FLOOD; i++) {
    char ep[32];
    snprintf(ep, sizeof ep, "spoof-%u", (unsigned)i);
    flood_pkt pk;
    flood_bs_request(&pk, ep, (uint16_t)i);
    nb_addr from = flood_addr(i);
    assert_int_equal(nb_simnet_inject(f.net, &from, &bsp, pk.d, pk.n, 1 + (nb_time_ms)i * 4),
                     NB_OK);
  }
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  assert_int_equal(nb_client_start(c2, 0), NB_OK);
  uint64_t max_waiting = 0, max_sessions = 0;
  nb_bs_engine_stats s;
  for (nb_time_ms t = 100; t <= 180000 && (t <= 21000 || !k.finished[0] || !k.finished[1]);
       t += 100) {
    nb_simnet_run_until(f.net, t);
    if (t >= 10000) /* the operator looks at the list mid-flood, 2,500 spoofs later */
      for (int i = 0; i < 2; i++) nb_bs_engine_approve(f.bs, k.eps[i], t);
    nb_bs_engine_get_stats(f.bs, &s);
    if (s.waiting > max_waiting) max_waiting = s.waiting;
    if (s.sessions > max_sessions) max_sessions = s.sessions;
  }
  for (int i = 0; i < 2; i++) {
    assert_int_equal(k.finished[i], 1);
    assert_true(k.approved[i] >= 1);
    assert_int_equal(k.evicted[i], 0);
  }
  assert_true(max_waiting <= MAXP + 2);
  assert_true(max_sessions <= 2); /* only the two approved devices ever ran */
  assert_int_equal(s.finished, 2);
  assert_int_equal(s.overloaded, 0);
  assert_int_equal(s.evicted, FLOOD - MAXP);
  assert_int_equal(s.waiting, MAXP); /* the newest spoofs wait for the operator */
  nb_client_free(c2);
  fx_teardown(&f);
}

typedef struct {
  int calls;
  nb_err err;
  uint8_t code;
} exec_result;

static void on_exec(void *u, uint64_t id, const nb_server_result *res, bool last) {
  exec_result *r = u;
  (void)id, (void)last;
  r->calls++;
  r->err = res->err;
  r->code = res->code;
}

static bool finished_twice_and_registered(void *u) {
  fx *f = u;
  return registered(f) && count_ev(f, NB_BS_EV_FINISHED) == 2;
}

/* F7: a device registered in queue mode (binding UQ) is asleep when the operator asks the
 * management server for a bootstrap (Execute /1/0/9, Bootstrap-Request Trigger). The Execute
 * waits in the server's queue, nothing reaches the device or the bootstrap server while it
 * sleeps; when it wakes (its Update) the Execute goes out, the device answers 2.04, sends a
 * Bootstrap-Request, is bootstrapped again (a new account) and registers anew. */
static void test_trigger_sleeping_device(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 95, false, NB_BS_POLICY_AUTO);
  fx_device(&f, "dev-sleepy", "1.0"); /* binding UQ: queue mode as 1.0 says it */
  nb_bs_config cfg;
  nb_bs_config_init(&cfg, "dev-sleepy");
  nb_bs_server srv = {.ssid = 101, .lifetime = 600, .mode = NB_BS_SEC_NOSEC, .binding = "UQ"};
  snprintf(srv.uri, sizeof srv.uri, "coap://10.0.0.2:5683");
  assert_int_equal(nb_bs_config_add_server(&cfg, &srv), NB_OK);
  assert_int_equal(nb_bs_store_config_put(f.bst, &cfg), NB_OK);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 60000, finished_and_registered, &f));
  assert_true(nb_server_find(f.dm, "dev-sleepy")->queue);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 120000); /* past the 93 s awake time */
  assert_false(nb_server_is_awake(f.dm, "dev-sleepy"));

  nb_server_request req = {.op = NB_SOP_EXECUTE, .path = nb_path_res(1, 0, 9)};
  exec_result r = {0};
  uint64_t id = 0;
  bool queued = false;
  nb_time_ms asked = nb_simnet_now(f.net);
  assert_int_equal(
      nb_server_send_request(f.dm, "dev-sleepy", &req, on_exec, &r, asked, &id, &queued), NB_OK);
  assert_true(queued);
  nb_simnet_run_until(f.net, asked + 60000); /* asleep: nothing happens */
  assert_int_equal(r.calls, 0);
  assert_int_equal(count_ev(&f, NB_BS_EV_REQUEST), 1);
  assert_false(nb_server_is_awake(f.dm, "dev-sleepy"));

  /* The device wakes for its Update (well before the 600 s lifetime runs out). */
  assert_true(nb_simnet_run_until_cond(f.net, asked + 900000, finished_twice_and_registered, &f));
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.err, NB_OK);
  assert_int_equal(r.code, NB_COAP_CHANGED);
  assert_int_equal(count_ev(&f, NB_BS_EV_REQUEST), 2);
  assert_int_equal(count_ev(&f, NB_BS_EV_FAILED), 0);
  fx_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_thesis_use_case),
      cmocka_unit_test(test_rejection),
      cmocka_unit_test(test_unregistered_key),
      cmocka_unit_test(test_rogue_key_alert_once_with_peer_and_time),
      cmocka_unit_test(test_finish_answer_lost_nosec),
      cmocka_unit_test(test_finish_answer_lost_dtls),
      cmocka_unit_test(test_secure_id_as_endpoint),
      cmocka_unit_test(test_unknown_endpoint),
      cmocka_unit_test(test_device_error),
      cmocka_unit_test(test_lossy),
      cmocka_unit_test(test_whole_sequence_retry),
      cmocka_unit_test(test_formats),
      cmocka_unit_test(test_server_initiated_fresh_keys),
      cmocka_unit_test(test_config_json),
      cmocka_unit_test(test_bootstrap_account_replaced_and_purged),
      cmocka_unit_test(test_bs_key_ack_lost_rpk),
      cmocka_unit_test(test_bs_key_ack_lost_psk),
      cmocka_unit_test(test_bs_key_write_lost_rpk),
      cmocka_unit_test(test_bs_key_write_lost_psk),
      cmocka_unit_test(test_bs_key_two_failures_rpk),
      cmocka_unit_test(test_bs_key_two_failures_psk),
      cmocka_unit_test(test_bs_key_pending_row_from_older_version),
      cmocka_unit_test(test_x509_account),
      cmocka_unit_test(test_thesis_use_case_lossy_dtls),
      cmocka_unit_test(test_thesis_use_case_signed),
      cmocka_unit_test(test_rejection_and_rogue_lossy_dtls),
      cmocka_unit_test(test_flood_dtls_during_bootstrap),
      cmocka_unit_test(test_half_open_handshakes),
      cmocka_unit_test(test_flood_bs_requests),
      cmocka_unit_test(test_flood_approve_known_devices),
      cmocka_unit_test(test_trigger_sleeping_device),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
