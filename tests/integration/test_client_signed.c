/* Signed payloads on the client engine, in process: the scripted server behind a DTLS server
 * context (RPK or PSK) on the simulated network. The Bootstrap-Request asks for signed writes
 * (pct=18) only with a key-pair bootstrap account; a signed Bootstrap-Write from the server's
 * key is applied and handed to the evidence hook, while one signed by another key, tampered
 * with, for another endpoint or with another bootstrap ID is refused with nothing changed;
 * the receipt (Bootstrap-Read Accept: 18) verifies with the device's key and echoes the
 * bootstrap ID; Read, Observe and signed Write on a management account. A signed write of a
 * Security instance carries its key beside the signature (docs/cose.md "Secrets in signed
 * writes"): applied when it matches the signed digest, never handed to the evidence hook, and
 * refused with nothing applied when the digest was changed, the key does not match or is
 * missing, the key sits in the signed payload, or a withheld key is out of place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client_node.h"
#include "dtls/cose.h"
#include "dtls/cose_lwm2m.h"
#include "dtls/keys.h"
#include "lwm2m/format.h"
#include "lwm2m_scripted_server.h"
#include "niobium/client.h"
#include "simnet.h"
#include "test_pki.h"

static nb_test_pki K;

static int make_keys(void **state) {
  (void)state;
  const char *server_names[] = {"lwm2m.test"};
  return nb_test_pki_make(&K, "dev-1", server_names, 1) == NB_OK ? 0 : -1;
}

static int free_keys(void **state) {
  (void)state;
  nb_test_pki_free(&K);
  return 0;
}

static const uint8_t PSK[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t CTI_A[16] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
                                  0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0};
static const uint8_t CTI_B[16] = {0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8,
                                  0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf, 0xc0};
#define UNIX_OFFSET 1700000000000LL

/* ---- the server's side ---- */

static nb_err psk_lookup(void *user, const uint8_t *id, size_t id_len, uint8_t *key, size_t cap,
                         size_t *key_len) {
  (void)user;
  if (id_len != 5 || memcmp(id, "dev-1", 5) != 0 || cap < sizeof PSK) return NB_ERR_NOT_FOUND;
  memcpy(key, PSK, sizeof PSK);
  *key_len = sizeof PSK;
  return NB_OK;
}

static nb_err dev_verify(void *user, const nb_dtls_peer *peer, const uint8_t *raw, size_t len) {
  (void)user, (void)raw, (void)len;
  return strcmp(peer->secure_id, K.dev_key.secure_id) == 0 ? NB_OK : NB_ERR_DTLS_PEER_REJECTED;
}

static nb_dtls_creds *server_creds(void) {
  nb_dtls_creds *c;
  assert_int_equal(nb_dtls_creds_new(&c), NB_OK);
  nb_dtls_creds_set_psk_lookup(c, psk_lookup, NULL);
  nb_dtls_creds_set_verify(c, dev_verify, NULL);
  assert_int_equal(nb_dtls_creds_set_rpk(c, K.srv_key.key_pem.data, K.srv_key.key_pem.len), NB_OK);
  return c;
}

/* ---- fixture ---- */

#define MAX_EVIDENCE 16

typedef struct {
  char kind[16];
  char path[NB_PATH_STRLEN];
  uint8_t *cose;
  size_t len;
} evidence;

typedef struct {
  nb_simnet *net;
  nb_dtls_creds *screds;
  nb_ss srv;
  nb_client *c;
  nb_simnet_node *node;
  evidence ev[MAX_EVIDENCE];
  int nev;
} fx;

static void on_evidence(void *user, const char *kind, const nb_path *p, const uint8_t *cose,
                        size_t len) {
  fx *f = user;
  assert_true(f->nev < MAX_EVIDENCE);
  evidence *e = &f->ev[f->nev++];
  snprintf(e->kind, sizeof e->kind, "%s", kind);
  nb_path_format(p, e->path, sizeof e->path);
  e->cose = malloc(len);
  assert_non_null(e->cose);
  memcpy(e->cose, cose, len);
  e->len = len;
}

static void fx_setup(fx *f, const nb_client_server_params *p, bool signed_bootstrap) {
  memset(f, 0, sizeof *f);
  f->net = nb_simnet_new(11);
  f->screds = server_creds();
  nb_addr sa = nb_simnet_addr(1, 5684), ca = nb_simnet_addr(9, 56830);
  nb_ss_init_dtls(&f->srv, f->net, &sa, f->screds);
  f->node = nb_simnet_add(f->net, &ca, &nb_test_client_ops, NULL);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "dev-1";
  cfg.send = nb_simnet_send;
  cfg.send_user = f->node;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  cfg.signed_bootstrap = signed_bootstrap;
  cfg.unix_offset_ms = UNIX_OFFSET;
  cfg.evidence = on_evidence;
  cfg.evidence_user = f;
  assert_int_equal(nb_client_new(&cfg, &f->c), NB_OK);
  nb_simnet_node_set_user(f->node, f->c);
  nb_client_device_info d = {.manufacturer = "ACME",
                             .model = "M1",
                             .battery_level = 80,
                             .memory_free_kb = -1,
                             .memory_total_kb = -1,
                             .utc_offset = "+01:00"};
  assert_int_equal(nb_client_add_device(f->c, &d), NB_OK);
  assert_int_equal(nb_client_add_server(f->c, p), NB_OK);
}

static void fx_teardown(fx *f) {
  for (int i = 0; i < f->nev; i++) free(f->ev[i].cose);
  nb_ss_free(&f->srv);
  nb_simnet_free(f->net);
  nb_dtls_creds_free(f->screds);
}

static nb_client_server_params rpk_params(bool bootstrap) {
  nb_client_server_params p = {.uri = "coaps://10.0.0.1:5684",
                               .bootstrap = bootstrap,
                               .ssid = 101,
                               .lifetime = 300,
                               .security_mode = 1,
                               .identity = K.dev_key.spki_der.data,
                               .identity_len = K.dev_key.spki_der.len,
                               .secret = K.dev_key.key_der.data,
                               .secret_len = K.dev_key.key_der.len,
                               .server_key = K.srv_key.spki_der.data,
                               .server_key_len = K.srv_key.spki_der.len};
  return p;
}

static nb_client_server_params psk_params(bool bootstrap) {
  nb_client_server_params p = {.uri = "coaps://10.0.0.1:5684",
                               .bootstrap = bootstrap,
                               .ssid = 101,
                               .lifetime = 300,
                               .security_mode = 0,
                               .identity = (const uint8_t *)"dev-1",
                               .identity_len = 5,
                               .secret = PSK,
                               .secret_len = sizeof PSK};
  return p;
}

static bool bs_requested(void *u) { return ((fx *)u)->srv.bs_requests > 0; }

static void start_bootstrap(fx *f) {
  assert_int_equal(nb_client_start(f->c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f->net, 10000, bs_requested, f));
  assert_int_equal(f->srv.dtls_established, 1);
}

static bool registered(void *u) {
  fx *f = u;
  nb_client_srv_state st;
  nb_client_server_state(f->c, 101, &st, NULL, 0);
  return st == NB_CLIENT_SRV_REGISTERED;
}

static void start_and_register(fx *f) {
  assert_int_equal(nb_client_start(f->c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f->net, 10000, registered, f));
}

/* ---- payloads ---- */

/* SenML CBOR of /1/0 with short server ID 101, the given lifetime and binding U. */
static void server_instance_body(int64_t lifetime, nb_bytes *out) {
  nb_records r;
  nb_records_init(&r);
  nb_path p0 = nb_path_res(1, 0, 0), p1 = nb_path_res(1, 0, 1), p7 = nb_path_res(1, 0, 7);
  nb_value v0 = nb_value_int(101), v1 = nb_value_int(lifetime), v7 = nb_value_none();
  assert_int_equal(nb_value_set_string(&v7, "U", 1), NB_OK);
  assert_int_equal(nb_records_add(&r, &p0, &v0), NB_OK);
  assert_int_equal(nb_records_add(&r, &p1, &v1), NB_OK);
  assert_int_equal(nb_records_add(&r, &p7, &v7), NB_OK);
  nb_path base = nb_path_inst(1, 0);
  assert_int_equal(
      nb_format_encode(NB_COAP_CF_SENML_CBOR, &r, &base, nb_model_builtin(), out, NULL, NULL),
      NB_OK);
  nb_records_deinit(&r);
}

/* COSE_Sign1 of inner (SenML CBOR) as the bootstrap server signs it. */
static void sign(const nb_bytes *inner, const char *sub, const uint8_t *cti, size_t cti_len,
                 const nb_bytes *key, nb_bytes *out) {
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  h.content_format = NB_COAP_CF_SENML_CBOR;
  if (sub) snprintf(h.sub, sizeof h.sub, "%s", sub);
  memcpy(h.cti, cti, cti_len);
  h.cti_len = cti_len;
  assert_int_equal(nb_cose_sign1(&h, inner->data, inner->len, key->data, key->len, out), NB_OK);
}

static void signed_server_write(fx *f, int64_t lifetime, const char *sub, const uint8_t *cti,
                                const nb_bytes *key, nb_bytes *cose, nb_ss_answer *a) {
  nb_bytes inner;
  nb_bytes_init(&inner);
  server_instance_body(lifetime, &inner);
  sign(&inner, sub, cti, sizeof CTI_A, key, cose);
  nb_ss_request(&f->srv, NB_COAP_PUT, "/1/0", NB_COSE_CF_SIGN1, NB_COAP_CF_NONE, NULL, cose->data,
                cose->len, a);
  assert_int_equal(a->err, NB_OK);
  nb_bytes_free(&inner);
}

static int64_t lifetime_of(fx *f) {
  return nb_store_object_get_int(nb_client_object(f->c, 1), 0, 1, -1);
}

/* ---- Bootstrap-Request ---- */

static void test_pct_18_with_rpk_account(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = rpk_params(true);
  fx_setup(&f, &p, true);
  start_bootstrap(&f);
  assert_string_equal(f.srv.pct, "18");
  fx_teardown(&f);
}

static void test_pct_112_without_option_or_key(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = rpk_params(true);
  fx_setup(&f, &p, false); /* RPK, not asked to */
  start_bootstrap(&f);
  assert_string_equal(f.srv.pct, "112");
  fx_teardown(&f);
  p = psk_params(true);
  fx_setup(&f, &p, true); /* asked to, but PSK has no key to verify with */
  start_bootstrap(&f);
  assert_string_equal(f.srv.pct, "112");
  fx_teardown(&f);
}

/* ---- signed Bootstrap-Write ---- */

static void test_signed_bootstrap_write_applied(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = rpk_params(true);
  fx_setup(&f, &p, true);
  start_bootstrap(&f);
  nb_bytes cose;
  nb_bytes_init(&cose);
  nb_ss_answer a;
  signed_server_write(&f, 300, "dev-1", CTI_A, &K.srv_key.key_pem, &cose, &a);
  assert_int_equal(a.code, NB_COAP_CHANGED);
  nb_ss_answer_free(&a);
  assert_int_equal(lifetime_of(&f), 300);
  assert_int_equal(nb_store_object_get_int(nb_client_object(f.c, 1), 0, 0, -1), 101);
  assert_int_equal(f.nev, 1);
  assert_string_equal(f.ev[0].kind, "write");
  assert_string_equal(f.ev[0].path, "/1/0");
  assert_int_equal(f.ev[0].len, cose.len);
  assert_memory_equal(f.ev[0].cose, cose.data, cose.len);
  /* The same bootstrap's next write (same cti, no sub) is applied too. */
  cose.len = 0;
  signed_server_write(&f, 600, NULL, CTI_A, &K.srv_key.key_pem, &cose, &a);
  assert_int_equal(a.code, NB_COAP_CHANGED);
  nb_ss_answer_free(&a);
  assert_int_equal(lifetime_of(&f), 600);
  assert_int_equal(f.nev, 2);
  nb_bytes_free(&cose);
  fx_teardown(&f);
}

/* Sends a refused write of lifetime 999 and checks nothing changed. */
static void expect_refused(fx *f, const nb_bytes *cose) {
  int before = f->nev;
  nb_ss_answer a;
  nb_ss_request(&f->srv, NB_COAP_PUT, "/1/0", NB_COSE_CF_SIGN1, NB_COAP_CF_NONE, NULL, cose->data,
                cose->len, &a);
  assert_int_equal(a.err, NB_OK);
  assert_int_equal(a.code, NB_COAP_BAD_REQUEST);
  nb_ss_answer_free(&a);
  assert_int_equal(lifetime_of(f), 300);
  assert_int_equal(f->nev, before);
}

static void test_signed_bootstrap_write_refused(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = rpk_params(true);
  fx_setup(&f, &p, true);
  start_bootstrap(&f);
  nb_bytes cose, inner;
  nb_bytes_init(&cose);
  nb_bytes_init(&inner);
  nb_ss_answer a;
  signed_server_write(&f, 300, "dev-1", CTI_A, &K.srv_key.key_pem, &cose, &a);
  assert_int_equal(a.code, NB_COAP_CHANGED);
  nb_ss_answer_free(&a);
  server_instance_body(999, &inner);
  /* signed by a key that is not the one the server's handshake authenticated */
  cose.len = 0;
  sign(&inner, "dev-1", CTI_A, sizeof CTI_A, &K.other_key.key_pem, &cose);
  expect_refused(&f, &cose);
  /* tampered with: the server signed 999, the body says 998 (CBOR 0x19 0x03 0xe7) */
  cose.len = 0;
  sign(&inner, "dev-1", CTI_A, sizeof CTI_A, &K.srv_key.key_pem, &cose);
  uint8_t *hit = NULL;
  for (size_t i = 0; i + 2 < cose.len; i++)
    if (cose.data[i] == 0x19 && cose.data[i + 1] == 0x03 && cose.data[i + 2] == 0xe7)
      hit = &cose.data[i + 2];
  assert_non_null(hit);
  *hit = 0xe6;
  expect_refused(&f, &cose);
  /* for another device */
  cose.len = 0;
  sign(&inner, "dev-2", CTI_A, sizeof CTI_A, &K.srv_key.key_pem, &cose);
  expect_refused(&f, &cose);
  /* another bootstrap's ID in the middle of this one */
  cose.len = 0;
  sign(&inner, "dev-1", CTI_B, sizeof CTI_B, &K.srv_key.key_pem, &cose);
  expect_refused(&f, &cose);
  /* a COSE_Sign1 that is not one */
  static const uint8_t junk[] = {0xd2, 0x84, 0x40};
  nb_bytes j = {.data = (uint8_t *)junk, .len = sizeof junk};
  expect_refused(&f, &j);
  /* unchanged, the right one still goes */
  cose.len = 0;
  sign(&inner, "dev-1", CTI_A, sizeof CTI_A, &K.srv_key.key_pem, &cose);
  nb_ss_request(&f.srv, NB_COAP_PUT, "/1/0", NB_COSE_CF_SIGN1, NB_COAP_CF_NONE, NULL, cose.data,
                cose.len, &a);
  assert_int_equal(a.code, NB_COAP_CHANGED);
  nb_ss_answer_free(&a);
  assert_int_equal(lifetime_of(&f), 999);
  nb_bytes_free(&cose);
  nb_bytes_free(&inner);
  fx_teardown(&f);
}

/* ---- the receipt ---- */

static void test_receipt(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = rpk_params(true);
  fx_setup(&f, &p, true);
  start_bootstrap(&f);
  nb_bytes cose;
  nb_bytes_init(&cose);
  nb_ss_answer a;
  signed_server_write(&f, 300, "dev-1", CTI_A, &K.srv_key.key_pem, &cose, &a);
  assert_int_equal(a.code, NB_COAP_CHANGED);
  nb_ss_answer_free(&a);
  nb_time_ms now = nb_simnet_now(f.net);
  nb_ss_request(&f.srv, NB_COAP_GET, "/1", NB_COAP_CF_NONE, NB_COSE_CF_SIGN1, NULL, NULL, 0, &a);
  assert_int_equal(a.code, NB_COAP_CONTENT);
  assert_int_equal(a.cf, NB_COSE_CF_SIGN1);
  nb_cose_sign1_msg m;
  assert_int_equal(
      nb_cose_open(a.payload, a.len, K.dev_key.spki_der.data, K.dev_key.spki_der.len, &m), NB_OK);
  assert_string_equal(m.h.iss, "dev-1");
  assert_int_equal(m.h.cti_len, sizeof CTI_A);
  assert_memory_equal(m.h.cti, CTI_A, sizeof CTI_A);
  assert_int_equal(m.h.content_format, NB_COAP_CF_SENML_CBOR);
  assert_true(m.h.has_iat);
  assert_true(m.h.iat >= (now + UNIX_OFFSET) / 1000 && m.h.iat <= (now + UNIX_OFFSET) / 1000 + 60);
  char kid[2 * NB_COSE_ID_MAX + 1] = "";
  for (size_t i = 0; i < m.h.kid_len; i++) sprintf(kid + 2 * i, "%02x", m.h.kid[i]);
  assert_string_equal(kid, K.dev_key.secure_id);
  /* the server's key does not verify it */
  assert_int_not_equal(nb_cose_verify(&m, K.srv_key.spki_der.data, K.srv_key.spki_der.len), NB_OK);
  nb_records r;
  nb_records_init(&r);
  nb_path base = nb_path_obj(1), lt = nb_path_res(1, 0, 1);
  assert_int_equal(nb_format_decode(NB_COAP_CF_SENML_CBOR, m.payload, m.payload_len, &base,
                                    nb_model_builtin(), &r, NULL, NULL),
                   NB_OK);
  const nb_record *rec = nb_records_find(&r, &lt);
  assert_non_null(rec);
  assert_int_equal(rec->value.v.i, 300);
  nb_records_deinit(&r);
  assert_int_equal(f.nev, 2);
  assert_string_equal(f.ev[1].kind, "receipt");
  assert_string_equal(f.ev[1].path, "/1");
  assert_memory_equal(f.ev[1].cose, a.payload, a.len);
  nb_ss_answer_free(&a);
  nb_bytes_free(&cose);
  fx_teardown(&f);
}

static void test_receipt_without_key_not_acceptable(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = psk_params(true);
  fx_setup(&f, &p, true);
  start_bootstrap(&f);
  nb_ss_answer a;
  nb_ss_request(&f.srv, NB_COAP_GET, "/1", NB_COAP_CF_NONE, NB_COSE_CF_SIGN1, NULL, NULL, 0, &a);
  assert_int_equal(a.code, NB_COAP_NOT_ACCEPTABLE);
  nb_ss_answer_free(&a);
  /* and a signed write over PSK has no key to be verified with */
  nb_bytes cose;
  nb_bytes_init(&cose);
  signed_server_write(&f, 300, "dev-1", CTI_A, &K.srv_key.key_pem, &cose, &a);
  assert_int_equal(a.code, NB_COAP_BAD_REQUEST);
  nb_ss_answer_free(&a);
  assert_int_equal(f.nev, 0);
  nb_bytes_free(&cose);
  fx_teardown(&f);
}

/* ---- management server ---- */

static void test_signed_read(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = rpk_params(false);
  fx_setup(&f, &p, false);
  start_and_register(&f);
  nb_ss_answer plain, sig;
  nb_ss_request(&f.srv, NB_COAP_GET, "/3/0", NB_COAP_CF_NONE, NB_COAP_CF_SENML_CBOR, NULL, NULL, 0,
                &plain);
  assert_int_equal(plain.code, NB_COAP_CONTENT);
  nb_ss_request(&f.srv, NB_COAP_GET, "/3/0", NB_COAP_CF_NONE, NB_COSE_CF_SIGN1, NULL, NULL, 0,
                &sig);
  assert_int_equal(sig.code, NB_COAP_CONTENT);
  assert_int_equal(sig.cf, NB_COSE_CF_SIGN1);
  nb_cose_sign1_msg m;
  assert_int_equal(
      nb_cose_open(sig.payload, sig.len, K.dev_key.spki_der.data, K.dev_key.spki_der.len, &m),
      NB_OK);
  assert_string_equal(m.h.iss, "dev-1");
  assert_true(m.h.has_iat);
  assert_int_equal(m.h.cti_len, 0);
  assert_int_equal(m.h.content_format, NB_COAP_CF_SENML_CBOR);
  /* the same values as the unsigned read */
  nb_records r1, r2;
  nb_records_init(&r1);
  nb_records_init(&r2);
  nb_path base = nb_path_inst(3, 0), mf = nb_path_res(3, 0, 0);
  assert_int_equal(nb_format_decode(NB_COAP_CF_SENML_CBOR, plain.payload, plain.len, &base,
                                    nb_model_builtin(), &r1, NULL, NULL),
                   NB_OK);
  assert_int_equal(nb_format_decode(NB_COAP_CF_SENML_CBOR, m.payload, m.payload_len, &base,
                                    nb_model_builtin(), &r2, NULL, NULL),
                   NB_OK);
  assert_int_equal(r1.len, r2.len);
  assert_true(r1.len > 3);
  for (size_t i = 0; i < r1.len; i++) {
    assert_true(nb_path_equal(&r1.items[i].path, &r2.items[i].path));
    assert_int_equal(r1.items[i].value.type, r2.items[i].value.type);
  }
  const nb_record *rec = nb_records_find(&r2, &mf);
  assert_non_null(rec);
  assert_string_equal((const char *)rec->value.v.bytes.data, "ACME");
  nb_records_deinit(&r1);
  nb_records_deinit(&r2);
  assert_int_equal(f.nev, 1);
  assert_string_equal(f.ev[0].kind, "read");
  assert_string_equal(f.ev[0].path, "/3/0");
  /* Read-Composite signed too */
  static const uint8_t paths[] = {0x81, 0xa1, 0x00, 0x66, '/', '3', '/', '0', '/', '0'};
  nb_ss_answer comp;
  nb_ss_request(&f.srv, NB_COAP_FETCH, "/", NB_COAP_CF_SENML_CBOR, NB_COSE_CF_SIGN1, NULL, paths,
                sizeof paths, &comp);
  assert_int_equal(comp.code, NB_COAP_CONTENT);
  assert_int_equal(comp.cf, NB_COSE_CF_SIGN1);
  assert_int_equal(
      nb_cose_open(comp.payload, comp.len, K.dev_key.spki_der.data, K.dev_key.spki_der.len, &m),
      NB_OK);
  nb_ss_answer_free(&comp);
  nb_ss_answer_free(&plain);
  nb_ss_answer_free(&sig);
  fx_teardown(&f);
}

static void test_signed_read_psk_not_acceptable(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = psk_params(false);
  fx_setup(&f, &p, false);
  start_and_register(&f);
  nb_ss_answer a;
  nb_ss_request(&f.srv, NB_COAP_GET, "/3/0", NB_COAP_CF_NONE, NB_COSE_CF_SIGN1, NULL, NULL, 0, &a);
  assert_int_equal(a.code, NB_COAP_NOT_ACCEPTABLE);
  nb_ss_answer_free(&a);
  nb_ct_resp r;
  memset(&r, 0, sizeof r);
  nb_ss_observe(&f.srv, NB_COAP_GET, "/3/0/9", NB_COAP_CF_NONE, NB_COSE_CF_SIGN1, NULL, 0, &r);
  assert_true(nb_simnet_run_until_cond(f.net, nb_simnet_now(f.net) + 10000, nb_ct_resp_done, &r));
  assert_int_equal(r.code[0], NB_COAP_NOT_ACCEPTABLE);
  assert_int_equal(nb_client_observation_count(f.c), 0);
  nb_ct_resp_free(&r);
  assert_int_equal(f.nev, 0);
  fx_teardown(&f);
}

static void test_signed_observe(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = rpk_params(false);
  fx_setup(&f, &p, false);
  start_and_register(&f);
  nb_ss_answer a;
  nb_ss_request(&f.srv, NB_COAP_PUT, "/3/0/9", NB_COAP_CF_NONE, NB_COAP_CF_NONE, "pmax=2", NULL, 0,
                &a);
  assert_int_equal(a.code, NB_COAP_CHANGED);
  nb_ss_answer_free(&a);
  nb_ct_resp r;
  memset(&r, 0, sizeof r);
  nb_ss_observe(&f.srv, NB_COAP_GET, "/3/0/9", NB_COAP_CF_NONE, NB_COSE_CF_SIGN1, NULL, 0, &r);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 7000);
  assert_true(r.calls >= 3); /* the answer and notifications every 2 s */
  for (int i = 0; i < r.calls; i++) assert_int_equal(r.code[i], NB_COAP_CONTENT);
  nb_cose_sign1_msg m;
  assert_int_equal(
      nb_cose_open(r.payload, r.payload_len, K.dev_key.spki_der.data, K.dev_key.spki_der.len, &m),
      NB_OK);
  assert_string_equal(m.h.iss, "dev-1");
  nb_records rec;
  nb_records_init(&rec);
  nb_path bl = nb_path_res(3, 0, 9);
  assert_int_equal(nb_format_decode(NB_COAP_CF_SENML_CBOR, m.payload, m.payload_len, &bl,
                                    nb_model_builtin(), &rec, NULL, NULL),
                   NB_OK);
  assert_int_equal(rec.len, 1);
  assert_int_equal(rec.items[0].value.v.i, 80);
  nb_records_deinit(&rec);
  /* every notification went to the evidence hook, each verifying */
  assert_int_equal(f.nev, r.calls);
  for (int i = 0; i < f.nev; i++) {
    assert_string_equal(f.ev[i].kind, "notify");
    assert_string_equal(f.ev[i].path, "/3/0/9");
    assert_int_equal(nb_cose_open(f.ev[i].cose, f.ev[i].len, K.dev_key.spki_der.data,
                                  K.dev_key.spki_der.len, &m),
                     NB_OK);
  }
  nb_ct_resp_free(&r);
  fx_teardown(&f);
}

/* SenML CBOR of /3/0/14 (UTC offset) = tz, at base. */
static void tz_body(const char *tz, const nb_path *base, nb_bytes *out) {
  nb_records r;
  nb_records_init(&r);
  nb_path p = nb_path_res(3, 0, 14);
  nb_value v = nb_value_none();
  assert_int_equal(nb_value_set_string(&v, tz, strlen(tz)), NB_OK);
  assert_int_equal(nb_records_add(&r, &p, &v), NB_OK);
  assert_int_equal(
      nb_format_encode(NB_COAP_CF_SENML_CBOR, &r, base, nb_model_builtin(), out, NULL, NULL),
      NB_OK);
  nb_records_deinit(&r);
}

/* A management server's signed Write: verified with its key, refused from another. */
static void test_signed_management_write(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = rpk_params(false);
  fx_setup(&f, &p, false);
  start_and_register(&f);
  nb_path tz = nb_path_res(3, 0, 14);
  nb_bytes inner, cose;
  nb_bytes_init(&inner);
  nb_bytes_init(&cose);
  tz_body("+02:00", &tz, &inner);
  sign(&inner, "dev-1", CTI_A, 0, &K.other_key.key_pem, &cose);
  nb_ss_answer a;
  nb_ss_request(&f.srv, NB_COAP_PUT, "/3/0/14", NB_COSE_CF_SIGN1, NB_COAP_CF_NONE, NULL, cose.data,
                cose.len, &a);
  assert_int_equal(a.code, NB_COAP_BAD_REQUEST);
  nb_ss_answer_free(&a);
  assert_string_equal(nb_store_object_get_str(nb_client_object(f.c, 3), 0, 14), "+01:00");
  assert_int_equal(f.nev, 0);
  cose.len = 0;
  sign(&inner, "dev-1", CTI_A, 0, &K.srv_key.key_pem, &cose);
  nb_ss_request(&f.srv, NB_COAP_PUT, "/3/0/14", NB_COSE_CF_SIGN1, NB_COAP_CF_NONE, NULL, cose.data,
                cose.len, &a);
  assert_int_equal(a.code, NB_COAP_CHANGED);
  nb_ss_answer_free(&a);
  assert_string_equal(nb_store_object_get_str(nb_client_object(f.c, 3), 0, 14), "+02:00");
  assert_int_equal(f.nev, 1);
  assert_string_equal(f.ev[0].kind, "write");
  assert_string_equal(f.ev[0].path, "/3/0/14");
  /* Write-Composite (iPATCH /) signed the same way */
  nb_path root = nb_path_root();
  inner.len = cose.len = 0;
  tz_body("-03:00", &root, &inner);
  sign(&inner, NULL, CTI_A, 0, &K.srv_key.key_pem, &cose);
  nb_ss_request(&f.srv, NB_COAP_IPATCH, "/", NB_COSE_CF_SIGN1, NB_COAP_CF_NONE, NULL, cose.data,
                cose.len, &a);
  assert_int_equal(a.code, NB_COAP_CHANGED);
  nb_ss_answer_free(&a);
  assert_string_equal(nb_store_object_get_str(nb_client_object(f.c, 3), 0, 14), "-03:00");
  assert_int_equal(f.nev, 2);
  assert_string_equal(f.ev[1].path, "/");
  nb_bytes_free(&inner);
  nb_bytes_free(&cose);
  fx_teardown(&f);
}

/* ---- signed writes with withheld keys ---- */

static const uint8_t NEW_PSK[16] = {0x4e, 0x45, 0x57, 0x2d, 0x50, 0x53, 0x4b, 0x21,
                                    0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97};

/* Records of a PSK Security instance /0/1 with NEW_PSK (and its key at key_path, which may be
 * another path to put the key out of place). */
static void security_records(nb_records *r, nb_path key_path) {
  nb_records_init(r);
  nb_value uri = nb_value_none(), id = nb_value_none(), key = nb_value_none();
  assert_int_equal(nb_value_set_string(&uri, "coaps://10.0.0.2:5684", 21), NB_OK);
  assert_int_equal(nb_value_set_opaque(&id, (const uint8_t *)"dev-1", 5), NB_OK);
  assert_int_equal(nb_value_set_opaque(&key, NEW_PSK, sizeof NEW_PSK), NB_OK);
  nb_path p0 = nb_path_res(0, 1, 0), p1 = nb_path_res(0, 1, 1), p2 = nb_path_res(0, 1, 2),
          p3 = nb_path_res(0, 1, 3), p10 = nb_path_res(0, 1, 10);
  nb_value bs = nb_value_bool(false), mode = nb_value_int(0), ssid = nb_value_int(102);
  assert_int_equal(nb_records_add(r, &p0, &uri), NB_OK);
  assert_int_equal(nb_records_add(r, &p1, &bs), NB_OK);
  assert_int_equal(nb_records_add(r, &p2, &mode), NB_OK);
  assert_int_equal(nb_records_add(r, &p3, &id), NB_OK);
  assert_int_equal(nb_records_add(r, &key_path, &key), NB_OK);
  assert_int_equal(nb_records_add(r, &p10, &ssid), NB_OK);
}

static nb_cose_headers bs_headers(void) {
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  h.content_format = NB_COAP_CF_SENML_CBOR;
  snprintf(h.sub, sizeof h.sub, "dev-1");
  memcpy(h.cti, CTI_A, sizeof CTI_A);
  h.cti_len = sizeof CTI_A;
  return h;
}

/* The signed write of /0/1 as the bootstrap server makes it: NEW_PSK withheld. */
static void signed_security_write(nb_bytes *out) {
  nb_records r;
  security_records(&r, nb_path_res(0, 1, 5));
  nb_cose_headers h = bs_headers();
  nb_path base = nb_path_inst(0, 1);
  assert_int_equal(nb_cose_sign_records(&h, &r, &base, nb_model_builtin(), K.srv_key.key_pem.data,
                                        K.srv_key.key_pem.len, out),
                   NB_OK);
  nb_records_deinit(&r);
}

static uint8_t put_security(fx *f, const nb_bytes *cose) {
  nb_ss_answer a;
  nb_ss_request(&f->srv, NB_COAP_PUT, "/0/1", NB_COSE_CF_SIGN1, NB_COAP_CF_NONE, NULL, cose->data,
                cose->len, &a);
  assert_int_equal(a.err, NB_OK);
  uint8_t code = a.code;
  nb_ss_answer_free(&a);
  return code;
}

static bool has_security_1(fx *f) {
  uint16_t ids[8];
  nb_object *o = nb_client_object(f->c, 0);
  size_t n = o->ops->instances(o, ids, 8);
  for (size_t i = 0; i < n; i++)
    if (ids[i] == 1) return true;
  return false;
}

static void test_signed_write_key_withheld(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = rpk_params(true);
  fx_setup(&f, &p, true);
  start_bootstrap(&f);
  nb_bytes cose;
  nb_bytes_init(&cose);
  signed_security_write(&cose);
  assert_non_null(memmem(cose.data, cose.len, NEW_PSK, sizeof NEW_PSK)); /* on the wire, in DTLS */
  assert_int_equal(put_security(&f, &cose), NB_COAP_CHANGED);
  /* Applied: the key the device now holds is the one whose digest was signed. */
  nb_path kp = nb_path_res(0, 1, 5);
  const nb_value *key = nb_store_object_get(nb_client_object(f.c, 0), &kp);
  assert_non_null(key);
  assert_int_equal(key->v.bytes.len, sizeof NEW_PSK);
  assert_memory_equal(key->v.bytes.data, NEW_PSK, sizeof NEW_PSK);
  assert_int_equal(nb_store_object_get_int(nb_client_object(f.c, 0), 1, 10, -1), 102);
  /* The evidence: no key, verifies with the server's key alone, its digest matches. */
  assert_int_equal(f.nev, 1);
  assert_string_equal(f.ev[0].path, "/0/1");
  assert_null(memmem(f.ev[0].cose, f.ev[0].len, NEW_PSK, sizeof NEW_PSK));
  nb_cose_sign1_msg m;
  assert_int_equal(
      nb_cose_open(f.ev[0].cose, f.ev[0].len, K.srv_key.spki_der.data, K.srv_key.spki_der.len, &m),
      NB_OK);
  assert_int_equal(m.nwithheld, 1);
  assert_int_equal(m.nvalues, 0);
  assert_true(nb_cose_secret_matches(&m.withheld[0], NEW_PSK, sizeof NEW_PSK));
  nb_bytes_free(&cose);
  fx_teardown(&f);
}

/* Sends cose to /0/1 and checks it is refused with nothing applied or kept. */
static void expect_security_refused(fx *f, const nb_bytes *cose, const char *what) {
  int before = f->nev;
  uint8_t code = put_security(f, cose);
  if (code != NB_COAP_BAD_REQUEST) fail_msg("%s: answered %u, not 4.00", what, code);
  if (has_security_1(f)) fail_msg("%s: /0/1 was applied", what);
  assert_int_equal(f->nev, before);
}

static void test_signed_write_key_refused(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = rpk_params(true);
  fx_setup(&f, &p, true);
  start_bootstrap(&f);
  nb_bytes good, bad;
  nb_bytes_init(&good);
  nb_bytes_init(&bad);
  signed_security_write(&good);
  nb_cose_sign1_msg m;
  assert_int_equal(nb_cose_parse(good.data, good.len, &m), NB_OK);
  /* The signed digest changed: the signature fails. */
  assert_int_equal(nb_bytes_append(&bad, good.data, good.len), NB_OK);
  bad.data[m.withheld[0].digest - good.data] ^= 0x01;
  expect_security_refused(&f, &bad, "tampered digest");
  /* The key changed on the way: it does not match its digest. */
  bad.len = 0;
  assert_int_equal(nb_bytes_append(&bad, good.data, good.len), NB_OK);
  bad.data[m.withheld[0].value - good.data + 5] ^= 0x01;
  expect_security_refused(&f, &bad, "key not matching its digest");
  /* The key left out (the kept copy sent as a write). */
  bad.len = 0;
  assert_int_equal(nb_cose_strip(good.data, good.len, &bad), NB_OK);
  expect_security_refused(&f, &bad, "missing key");
  /* The key in the signed payload, as before withheld keys: it would end up in the evidence. */
  nb_records r;
  security_records(&r, nb_path_res(0, 1, 5));
  nb_bytes inner;
  nb_bytes_init(&inner);
  nb_path base = nb_path_inst(0, 1);
  assert_int_equal(
      nb_format_encode(NB_COAP_CF_SENML_CBOR, &r, &base, nb_model_builtin(), &inner, NULL, NULL),
      NB_OK);
  nb_records_deinit(&r);
  nb_cose_headers h = bs_headers();
  bad.len = 0;
  assert_int_equal(
      nb_cose_sign1(&h, inner.data, inner.len, K.srv_key.key_pem.data, K.srv_key.key_pem.len, &bad),
      NB_OK);
  expect_security_refused(&f, &bad, "key in the signed payload");
  /* A withheld key for another instance than the one written. */
  security_records(&r, nb_path_res(0, 2, 5));
  bad.len = 0;
  assert_int_equal(nb_cose_sign_records(&h, &r, &base, nb_model_builtin(), K.srv_key.key_pem.data,
                                        K.srv_key.key_pem.len, &bad),
                   NB_OK);
  nb_records_deinit(&r);
  expect_security_refused(&f, &bad, "key out of the written instance");
  /* A withheld value for a resource that holds no key. */
  nb_cose_secret id = {nb_path_res(0, 1, 3), (const uint8_t *)"dev-1", 5};
  bad.len = 0;
  assert_int_equal(nb_cose_sign1_withheld(&h, inner.data, 0, &id, 1, K.srv_key.key_pem.data,
                                          K.srv_key.key_pem.len, &bad),
                   NB_OK);
  expect_security_refused(&f, &bad, "withheld identity");
  /* Nothing of it stuck: the right write still goes. */
  assert_int_equal(put_security(&f, &good), NB_COAP_CHANGED);
  assert_int_equal(f.nev, 1);
  nb_bytes_free(&inner);
  nb_bytes_free(&good);
  nb_bytes_free(&bad);
  fx_teardown(&f);
}

/* A management server never writes keys: a signed write that withholds one is refused. */
static void test_management_write_with_key_refused(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = rpk_params(false);
  fx_setup(&f, &p, false);
  start_and_register(&f);
  nb_path tz = nb_path_res(3, 0, 14);
  nb_bytes inner, cose;
  nb_bytes_init(&inner);
  nb_bytes_init(&cose);
  tz_body("+02:00", &tz, &inner);
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  h.content_format = NB_COAP_CF_SENML_CBOR;
  nb_cose_secret key = {nb_path_res(0, 1, 5), NEW_PSK, sizeof NEW_PSK};
  assert_int_equal(nb_cose_sign1_withheld(&h, inner.data, inner.len, &key, 1,
                                          K.srv_key.key_pem.data, K.srv_key.key_pem.len, &cose),
                   NB_OK);
  nb_ss_answer a;
  nb_ss_request(&f.srv, NB_COAP_PUT, "/3/0/14", NB_COSE_CF_SIGN1, NB_COAP_CF_NONE, NULL, cose.data,
                cose.len, &a);
  assert_int_equal(a.code, NB_COAP_BAD_REQUEST);
  nb_ss_answer_free(&a);
  assert_string_equal(nb_store_object_get_str(nb_client_object(f.c, 3), 0, 14), "+01:00");
  assert_int_equal(f.nev, 0);
  nb_bytes_free(&inner);
  nb_bytes_free(&cose);
  fx_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pct_18_with_rpk_account),
      cmocka_unit_test(test_pct_112_without_option_or_key),
      cmocka_unit_test(test_signed_bootstrap_write_applied),
      cmocka_unit_test(test_signed_bootstrap_write_refused),
      cmocka_unit_test(test_receipt),
      cmocka_unit_test(test_receipt_without_key_not_acceptable),
      cmocka_unit_test(test_signed_read),
      cmocka_unit_test(test_signed_read_psk_not_acceptable),
      cmocka_unit_test(test_signed_observe),
      cmocka_unit_test(test_signed_management_write),
      cmocka_unit_test(test_signed_write_key_withheld),
      cmocka_unit_test(test_signed_write_key_refused),
      cmocka_unit_test(test_management_write_with_key_refused),
  };
  return cmocka_run_group_tests(tests, make_keys, free_keys);
}
