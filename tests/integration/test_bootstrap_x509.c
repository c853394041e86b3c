/* Bootstrap of devices with X.509 certificates, in-process over the simulated network: the real
 * client engine with a certificate from the manufacturer's CA as its bootstrap account, the
 * bootstrap engine behind DTLS with its own certificate and that CA as trust anchor, and a
 * NoSec management server. A certificate bound by its CN to an endpoint with a config
 * bootstraps and registers; a signed bootstrap (pct=18) is signed with the key of the
 * bootstrap server's certificate (not of its raw public key beside it) and the receipt with the
 * device's certificate key; a foreign CA fails the handshake; a CN without a config nor a
 * registered secure ID is refused with BOOTSTRAP_ALERT (the default config only when allowed);
 * a registered certificate asking as another endpoint gets 4.03. Virtual clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bootstrap/bootstrap.h"
#include "bootstrap/config_store.h"
#include "dtls/cose.h"
#include "dtls/keys.h"
#include "dtls/server.h"
#include "io/dtls_server_io.h"
#include "niobium/client.h"
#include "server/server.h"
#include "simnet.h"
#include "test_pki.h"

#define BS_N 1
#define DM_N 2
#define MAX_EV 64

static nb_test_pki K; /* K.dev_cert: CN "dev-x1" from K.ca; K.srv_cert: the bootstrap server's */

typedef struct {
  nb_bs_event_type type;
  char ep[64];
  uint8_t code;
  char secure_id[NB_DTLS_SECURE_ID_LEN + 1];
} ev_rec;

typedef struct {
  nb_simnet *net;
  nb_bs_store *bst;
  nb_bs_engine *bs;
  nb_server *dm;
  nb_simnet_node *bsnode, *dmnode, *cnode;
  nb_dtls_creds *creds;
  nb_dtls_server *dtls;
  int dtls_failed;
  nb_client *c;
  nb_dtls_keypair rpk; /* the bootstrap server's raw public key beside its certificate */
  ev_rec ev[MAX_EV];
  size_t nev;
  struct {
    char kind[12];
    nb_bytes cose;
  } dev_evidence[16];
  size_t ndev_evidence;
} fx;

/* ---- plumbing ---- */

static void bs_plain(void *u, const nb_addr *peer, const uint8_t *d, size_t n, nb_time_ms now) {
  fx *f = u;
  nb_server_identity id = {.kind = NB_SERVER_ID_NONE};
  nb_dtls_session *s = nb_dtls_server_find(f->dtls, peer);
  const nb_dtls_peer *p = s ? nb_dtls_session_peer(s) : NULL;
  if (p) nb_io_srv_identity(p, &id);
  nb_bs_engine_receive(f->bs, peer, &id, d, n, now);
}
static void bs_dtls_send(void *u, const nb_addr *p, const uint8_t *d, size_t n) {
  nb_simnet_send(((fx *)u)->bsnode, p, d, n);
}
static void bs_dtls_event(void *u, const nb_addr *p, nb_dtls_session *s, const nb_dtls_event *ev,
                          nb_time_ms now) {
  (void)p, (void)s, (void)now;
  if (ev->type == NB_DTLS_EV_FAILED) ((fx *)u)->dtls_failed++;
}
static void bs_coap_send(void *u, const nb_addr *p, const uint8_t *d, size_t n) {
  nb_dtls_server_send(((fx *)u)->dtls, p, d, n);
}
static void bs_receive(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_dtls_server_receive(((fx *)u)->dtls, from, d, n, now);
}
static nb_time_ms bs_deadline(void *u) {
  fx *f = u;
  nb_time_ms a = nb_bs_engine_next_deadline(f->bs), b = nb_dtls_server_next_deadline(f->dtls);
  return a < b ? a : b;
}
static void bs_tick(void *u, nb_time_ms now) {
  fx *f = u;
  nb_dtls_server_tick(f->dtls, now);
  nb_bs_engine_tick(f->bs, now);
}
static const nb_simnet_ops bs_ops = {bs_receive, bs_deadline, bs_tick, NULL};

static void dm_send(void *u, const nb_addr *p, const uint8_t *d, size_t n) {
  nb_simnet_send(((fx *)u)->dmnode, p, d, n);
}
static void dm_receive(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_server_identity none = {.kind = NB_SERVER_ID_NONE};
  nb_server_receive(((fx *)u)->dm, from, &none, d, n, now);
}
static nb_time_ms dm_deadline(void *u) { return nb_server_next_deadline(((fx *)u)->dm); }
static void dm_tick(void *u, nb_time_ms now) { nb_server_tick(((fx *)u)->dm, now); }
static const nb_simnet_ops dm_ops = {dm_receive, dm_deadline, dm_tick, NULL};

static void c_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_client_receive(u, from, d, n, now);
}
static nb_time_ms c_deadline(void *u) { return nb_client_next_deadline(u); }
static void c_tick(void *u, nb_time_ms now) { nb_client_tick(u, now); }
static const nb_simnet_ops client_ops = {c_recv, c_deadline, c_tick, NULL};

static void on_bs_event(void *u, const nb_bs_event *e) {
  fx *f = u;
  if (f->nev == MAX_EV) return;
  ev_rec *r = &f->ev[f->nev++];
  r->type = e->type;
  snprintf(r->ep, sizeof r->ep, "%s", e->ep);
  r->code = e->code;
  snprintf(r->secure_id, sizeof r->secure_id, "%s", e->secure_id ? e->secure_id : "");
}

static size_t count_ev(const fx *f, nb_bs_event_type t) {
  size_t n = 0;
  for (size_t i = 0; i < f->nev; i++) n += f->ev[i].type == t;
  return n;
}

static const ev_rec *last_ev(const fx *f, nb_bs_event_type t) {
  for (size_t i = f->nev; i-- > 0;)
    if (f->ev[i].type == t) return &f->ev[i];
  return NULL;
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

/* ---- fixture ---- */

/* The bootstrap server on coaps with its certificate from K.ca (and a raw public key beside it
 * when signing, to show which key signs), K.ca as the only trust anchor. */
static void fx_setup(fx *f, uint64_t seed, bool sign, bool default_config) {
  memset(f, 0, sizeof *f);
  f->net = nb_simnet_new(seed);
  assert_int_equal(nb_bs_store_open(":memory:", &f->bst), NB_OK);
  nb_server_config sc;
  nb_server_config_default(&sc);
  sc.random = nb_simnet_rng_fill;
  sc.random_user = nb_simnet_rng_of(f->net);
  nb_addr da = nb_simnet_addr(DM_N, 5683);
  f->dmnode = nb_simnet_add(f->net, &da, &dm_ops, f);
  assert_int_equal(nb_server_new(&sc, dm_send, f, &f->dm), NB_OK);

  assert_int_equal(nb_dtls_keypair_generate(&f->rpk), NB_OK);
  nb_bs_engine_config bc;
  nb_bs_engine_config_default(&bc);
  bc.source = nb_bs_store_source(f->bst);
  bc.random = nb_simnet_rng_fill;
  bc.random_user = nb_simnet_rng_of(f->net);
  bc.x509_default_config = default_config;
  if (sign) {
    bc.sign_key = f->rpk.key_der.data;
    bc.sign_key_len = f->rpk.key_der.len;
    bc.sign_key_x509 = K.srv_cert.key.key_der.data;
    bc.sign_key_x509_len = K.srv_cert.key.key_der.len;
  }
  nb_addr ba = nb_simnet_addr(BS_N, 5784);
  f->bsnode = nb_simnet_add(f->net, &ba, &bs_ops, f);
  assert_int_equal(nb_bs_engine_new(&bc, bs_coap_send, f, &f->bs), NB_OK);
  assert_int_equal(nb_bs_engine_add_listener(f->bs, on_bs_event, f), NB_OK);

  assert_int_equal(nb_dtls_creds_new(&f->creds), NB_OK);
  if (sign)
    assert_int_equal(nb_dtls_creds_set_rpk(f->creds, f->rpk.key_der.data, f->rpk.key_der.len),
                     NB_OK);
  assert_int_equal(
      nb_dtls_creds_set_x509(f->creds, K.srv_cert.cert_pem.data, K.srv_cert.cert_pem.len,
                             K.srv_cert.key.key_pem.data, K.srv_cert.key.key_pem.len),
      NB_OK);
  assert_int_equal(nb_dtls_creds_add_trust(f->creds, K.ca.cert_pem.data, K.ca.cert_pem.len), NB_OK);
  nb_dtls_creds_set_verify(f->creds, nb_bs_engine_verify_peer, f->bs);
  nb_dtls_creds_set_psk_lookup(f->creds, nb_bs_engine_psk_lookup, f->bs);
  nb_dtls_server_config dc;
  nb_dtls_server_config_default(&dc);
  dc.random = nb_simnet_rng_fill;
  dc.random_user = nb_simnet_rng_of(f->net);
  nb_dtls_handlers h = {bs_dtls_send, bs_plain, bs_dtls_event, f};
  assert_int_equal(nb_dtls_server_new(&dc, f->creds, &h, &f->dtls), NB_OK);
}

/* The device: ep, its certificate and key from the factory, the bootstrap server's certificate
 * pinned; asks for a signed bootstrap when sign. */
static void fx_device(fx *f, const char *ep, const nb_dtls_certkey *cert, bool sign) {
  nb_addr ca = nb_simnet_addr(9, 56830);
  f->cnode = nb_simnet_add(f->net, &ca, &client_ops, NULL);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = ep;
  cfg.send = nb_simnet_send;
  cfg.send_user = f->cnode;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  cfg.signed_bootstrap = sign;
  cfg.evidence = on_dev_evidence;
  cfg.evidence_user = f;
  assert_int_equal(nb_client_new(&cfg, &f->c), NB_OK);
  nb_simnet_node_set_user(f->cnode, f->c);
  nb_client_device_info d = {
      .manufacturer = "ACME", .battery_level = -1, .memory_free_kb = -1, .memory_total_kb = -1};
  assert_int_equal(nb_client_add_device(f->c, &d), NB_OK);
  nb_client_server_params p = {.uri = "coaps://10.0.0.1:5784",
                               .bootstrap = true,
                               .security_mode = 2,
                               .identity = cert->cert_der.data,
                               .identity_len = cert->cert_der.len,
                               .secret = cert->key.key_der.data,
                               .secret_len = cert->key.key_der.len,
                               .server_key = K.srv_cert.cert_der.data,
                               .server_key_len = K.srv_cert.cert_der.len};
  assert_int_equal(nb_client_add_server(f->c, &p), NB_OK);
}

/* A NoSec management-server account for ep ("" = the default config). */
static void fx_config(fx *f, const char *ep) {
  nb_bs_config cfg;
  nb_bs_config_init(&cfg, ep);
  nb_bs_server s = {.ssid = 101, .lifetime = 300, .mode = NB_BS_SEC_NOSEC};
  snprintf(s.uri, sizeof s.uri, "coap://10.0.0.2:5683");
  assert_int_equal(nb_bs_config_add_server(&cfg, &s), NB_OK);
  assert_int_equal(nb_bs_store_config_put(f->bst, &cfg), NB_OK);
}

/* Out-of-band registration of a key's secure ID for ep (`niobium bootstrap expect`). */
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
  nb_dtls_server_free(f->dtls);
  nb_dtls_creds_free(f->creds);
  nb_dtls_keypair_free(&f->rpk);
  nb_bs_store_close(f->bst);
  for (size_t i = 0; i < f->ndev_evidence; i++) nb_bytes_free(&f->dev_evidence[i].cose);
}

static bool registered(void *u) {
  fx *f = u;
  nb_client_srv_state st;
  return nb_client_server_state(f->c, 101, &st, NULL, 0) == NB_OK && st == NB_CLIENT_SRV_REGISTERED;
}

/* A certificate from another CA than K.ca, for the same CN. */
static void foreign_cert(const char *cn, nb_dtls_certkey *out) {
  nb_dtls_cert_request req = {.cn = cn};
  assert_int_equal(
      nb_dtls_cert_issue(K.other_ca.cert_pem.data, K.other_ca.cert_pem.len,
                         K.other_ca.key.key_pem.data, K.other_ca.key.key_pem.len, &req, out),
      NB_OK);
}

static void issued_cert(const char *cn, nb_dtls_certkey *out) {
  nb_dtls_cert_request req = {.cn = cn};
  assert_int_equal(nb_dtls_cert_issue(K.ca.cert_pem.data, K.ca.cert_pem.len, K.ca.key.key_pem.data,
                                      K.ca.key.key_pem.len, &req, out),
                   NB_OK);
}

/* ---- tests ---- */

/* The manufacturer's certificate, CN = an endpoint with a config, nothing registered: the
 * device is bootstrapped over DTLS and registers with the account it got. */
static void test_cn_bootstraps_and_registers(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 1, false, false);
  fx_config(&f, "dev-x1");
  fx_device(&f, "dev-x1", &K.dev_cert, false);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 120000, registered, &f));
  assert_int_equal(count_ev(&f, NB_BS_EV_FINISHED), 1);
  assert_int_equal(count_ev(&f, NB_BS_EV_ALERT), 0);
  assert_non_null(nb_server_find(f.dm, "dev-x1"));
  assert_int_equal(f.ndev_evidence, 0); /* no pct=18: nothing signed */
  fx_teardown(&f);
}

typedef struct {
  size_t writes, receipts;
  char receipt_signer[NB_DTLS_SECURE_ID_LEN + 1], write_signer[NB_DTLS_SECURE_ID_LEN + 1];
  bool all_verified, device_kept_all;
  const fx *f;
} proof;

static bool device_has(const fx *f, const char *kind, const uint8_t *cose, size_t len) {
  for (size_t i = 0; i < f->ndev_evidence; i++)
    if (strcmp(f->dev_evidence[i].kind, kind) == 0 && f->dev_evidence[i].cose.len == len &&
        memcmp(f->dev_evidence[i].cose.data, cose, len) == 0)
      return true;
  return false;
}

/* Each write verifies with the bootstrap server's certificate key and not its raw public key;
 * the receipt with the device's certificate key and not the server's. */
static nb_err check_row(void *u, const nb_bs_evidence *ev) {
  proof *p = u;
  bool receipt = strcmp(ev->kind, "receipt") == 0;
  const nb_bytes *signer = receipt ? &K.dev_cert.key.spki_der : &K.srv_cert.key.spki_der;
  const nb_bytes *other = receipt ? &K.srv_cert.key.spki_der : &p->f->rpk.spki_der;
  nb_cose_sign1_msg m;
  bool ok = nb_cose_open(ev->cose, ev->cose_len, signer->data, signer->len, &m) == NB_OK &&
            nb_cose_verify(&m, other->data, other->len) != NB_OK &&
            strcmp(receipt ? m.h.iss : m.h.sub, "dev-x1") == 0;
  p->all_verified = p->all_verified && ok;
  p->device_kept_all = p->device_kept_all && device_has(p->f, ev->kind, ev->cose, ev->cose_len);
  snprintf(receipt ? p->receipt_signer : p->write_signer, sizeof p->write_signer, "%s", ev->signer);
  if (receipt)
    p->receipts++;
  else
    p->writes++;
  return NB_OK;
}

/* pct=18 from a device registered by its certificate key's secure ID: every Bootstrap-Write is
 * signed with the bootstrap server's certificate key (the credential the device saw, although
 * a raw public key is configured beside it), the receipt with the device's certificate key,
 * and both sides keep the same proof. */
static void test_signed_with_certificates(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 2, true, false);
  fx_config(&f, "dev-x1");
  fx_expect(&f, "dev-x1", K.dev_cert.key.secure_id);
  fx_device(&f, "dev-x1", &K.dev_cert, true);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 120000, registered, &f));
  assert_int_equal(count_ev(&f, NB_BS_EV_FINISHED), 1);
  assert_int_equal(count_ev(&f, NB_BS_EV_FAILED), 0);
  proof p = {.all_verified = true, .device_kept_all = true, .f = &f};
  assert_int_equal(nb_bs_store_evidence_each(f.bst, "dev-x1", check_row, &p), NB_OK);
  assert_int_equal(p.receipts, 1);
  assert_true(p.writes >= 2); /* the Security and Server instances of the account */
  assert_true(p.all_verified);
  assert_true(p.device_kept_all);
  assert_string_equal(p.receipt_signer, K.dev_cert.key.secure_id);
  assert_string_equal(p.write_signer, K.srv_cert.key.secure_id);
  fx_teardown(&f);
}

/* A certificate from a CA the bootstrap server does not trust never completes a handshake. */
static void test_foreign_ca_refused(void **state) {
  (void)state;
  fx f;
  nb_dtls_certkey bad;
  foreign_cert("dev-x1", &bad);
  fx_setup(&f, 3, false, false);
  fx_config(&f, "dev-x1");
  fx_device(&f, "dev-x1", &bad, false);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  nb_simnet_run_until(f.net, 60000);
  assert_true(f.dtls_failed > 0);
  assert_int_equal(count_ev(&f, NB_BS_EV_REQUEST), 0);
  assert_false(registered(&f));
  fx_teardown(&f);
  nb_dtls_certkey_free(&bad);
}

/* A valid certificate whose CN has no config and whose key nobody registered is refused at the
 * handshake with BOOTSTRAP_ALERT naming its key, like a rogue raw public key; the default
 * config does not change that unless the operator allowed it. */
static void test_unknown_cn_alert(void **state) {
  (void)state;
  nb_dtls_certkey cert;
  issued_cert("dev-nocfg", &cert);
  for (int allow = 0; allow <= 1; allow++) {
    fx f;
    fx_setup(&f, 4 + (uint64_t)allow, false, allow);
    fx_config(&f, "dev-x1");
    fx_config(&f, ""); /* a default config exists */
    fx_device(&f, "dev-nocfg", &cert, false);
    assert_int_equal(nb_client_start(f.c, 0), NB_OK);
    nb_simnet_run_until_cond(f.net, 60000, registered, &f);
    if (allow) {
      assert_true(registered(&f));
      assert_int_equal(count_ev(&f, NB_BS_EV_FINISHED), 1);
      assert_int_equal(count_ev(&f, NB_BS_EV_ALERT), 0);
    } else {
      assert_false(registered(&f));
      assert_true(count_ev(&f, NB_BS_EV_ALERT) > 0);
      assert_string_equal(last_ev(&f, NB_BS_EV_ALERT)->secure_id, cert.key.secure_id);
      assert_int_equal(count_ev(&f, NB_BS_EV_REQUEST), 0);
      assert_true(f.dtls_failed > 0);
    }
    fx_teardown(&f);
  }
  nb_dtls_certkey_free(&cert);
}

/* The endpoint name is bound to the certificate (CN dev-x1): registered by secure ID for
 * dev-x1, or not registered at all, asking as dev-other (which has a config) gets 4.03 and an
 * alert; a certificate whose key is registered for dev-other cannot ask as its own CN either. */
static void test_other_endpoint_forbidden(void **state) {
  (void)state;
  static const struct {
    const char *ask, *registered_for; /* NULL: not registered */
  } cases[] = {{"dev-other", "dev-x1"}, {"dev-other", NULL}, {"dev-x1", "dev-other"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fx f;
    fx_setup(&f, 6 + i, false, false);
    fx_config(&f, "dev-x1");
    fx_config(&f, "dev-other");
    if (cases[i].registered_for) fx_expect(&f, cases[i].registered_for, K.dev_cert.key.secure_id);
    fx_device(&f, cases[i].ask, &K.dev_cert, false);
    assert_int_equal(nb_client_start(f.c, 0), NB_OK);
    nb_simnet_run_until(f.net, 30000);
    assert_false(registered(&f));
    assert_int_equal(count_ev(&f, NB_BS_EV_FINISHED), 0);
    assert_true(count_ev(&f, NB_BS_EV_REQUEST) > 0); /* the handshake itself succeeded */
    const ev_rec *a = last_ev(&f, NB_BS_EV_ALERT);
    assert_non_null(a);
    assert_string_equal(a->ep, cases[i].ask);
    assert_int_equal(a->code, NB_COAP_FORBIDDEN);
    assert_string_equal(a->secure_id, K.dev_cert.key.secure_id);
    fx_teardown(&f);
  }
}

static int group_setup(void **state) {
  (void)state;
  const char *names[] = {"bs.example", "10.0.0.1"};
  return nb_test_pki_make(&K, "dev-x1", names, 2) == NB_OK ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  nb_test_pki_free(&K);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cn_bootstraps_and_registers),
      cmocka_unit_test(test_signed_with_certificates),
      cmocka_unit_test(test_foreign_ca_refused),
      cmocka_unit_test(test_unknown_cn_alert),
      cmocka_unit_test(test_other_endpoint_forbidden),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
