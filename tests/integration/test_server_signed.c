/* Signed device data on the management server, in process: the real server engine behind a
 * DTLS server context and a real client engine (RPK, X.509 or PSK) on the simulated network,
 * virtual clock. A signed Read decodes to the same records as an unsigned one and its COSE
 * verifies with the device key (or its certificate); a signed Observe delivers verified
 * notifications, each kept as evidence; a signed answer with a broken signature, from another key,
 * with a wrong issuer or over PSK (answers rewritten on their way into the engine) is refused with
 * no records and nothing kept; a PSK device's 4.06 comes back as such; the evidence bound keeps the
 * newest. A device that answers a read of its Security object with a key, signed or not, is
 * refused: no value reported, nothing kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dtls/cose.h"
#include "dtls/server.h"
#include "io/dtls_server_io.h"
#include "lwm2m/format.h"
#include "niobium/client.h"
#include "server/server.h"
#include "simnet.h"
#include "store/sqlite.h"
#include "test_pki.h"

static nb_test_pki K;
static const char PSK[] = "0123456789abcdef";
#define UNIX_OFFSET 1700000000000LL

static int make_keys(void **state) {
  (void)state;
  const char *names[] = {"lwm2m.test"};
  return nb_test_pki_make(&K, "meter-1", names, 1) == NB_OK ? 0 : -1;
}

static int free_keys(void **state) {
  (void)state;
  nb_test_pki_free(&K);
  return 0;
}

/* How answers are rewritten between the DTLS server and the engine. */
typedef enum {
  T_NONE,
  T_FLIP_SIG,      /* a bit of the signature flipped */
  T_OTHER_KEY,     /* re-signed with a stranger's key */
  T_WRONG_ISS,     /* re-signed with the device's own key, iss another endpoint */
  T_FORGE_PSK,     /* a PSK device's 4.06 turned into a 2.05 signed with the RPK device key */
  T_SECRET_SIGNED, /* a refused read answered with a Security key, signed by the device */
  T_SECRET_PLAIN,  /* the same, unsigned SenML CBOR */
} tamper;

#define MAX_NOTES 64

typedef struct {
  nb_simnet *net;
  nb_server *srv;
  nb_store_sqlite *db;
  nb_server_store st;
  nb_simnet_node *snode, *cnode;
  nb_addr saddr, caddr;
  nb_dtls_server *dtls;
  nb_dtls_creds *creds;
  nb_client *c;
  tamper mode;
  int tampered;
  int notes, rejected, signed_notes;
  nb_err rejected_err;
  uint8_t buf[2048]; /* a rewritten datagram */
} fx;

/* ---- rewriting answers ---- */

static void sign_body(const char *iss, const nb_dtls_keypair *key, const uint8_t *payload,
                      size_t len, nb_bytes *out) {
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  h.content_format = NB_COAP_CF_SENML_CBOR;
  snprintf(h.iss, sizeof h.iss, "%s", iss);
  assert_int_equal(nb_cose_sign1(&h, payload, len, key->key_pem.data, key->key_pem.len, out),
                   NB_OK);
}

/* SenML CBOR of /3303/0/5700 = 99.5, what a forged answer claims. */
static void forged_records(nb_bytes *out) {
  nb_records r;
  nb_records_init(&r);
  nb_path p = nb_path_res(3303, 0, 5700);
  nb_value v = nb_value_float(99.5);
  assert_int_equal(nb_records_add(&r, &p, &v), NB_OK);
  nb_format_opts o = {0};
  assert_int_equal(nb_format_encode_ex(NB_COAP_CF_SENML_CBOR, &r, &o, out, NULL), NB_OK);
  nb_records_deinit(&r);
}

/* SenML CBOR of /0/1/5 = a PSK and /0/1/10 = 101: a Security instance as a rogue device
 * would give it away. */
static void secret_records(nb_bytes *out) {
  nb_records r;
  nb_records_init(&r);
  nb_path k = nb_path_res(0, 1, 5), ssid = nb_path_res(0, 1, 10);
  nb_value v = nb_value_none(), id = nb_value_int(101);
  assert_int_equal(nb_value_set_opaque(&v, (const uint8_t *)PSK, strlen(PSK)), NB_OK);
  assert_int_equal(nb_records_add(&r, &k, &v), NB_OK);
  assert_int_equal(nb_records_add(&r, &ssid, &id), NB_OK);
  nb_format_opts o = {0};
  assert_int_equal(nb_format_encode_ex(NB_COAP_CF_SENML_CBOR, &r, &o, out, NULL), NB_OK);
  nb_records_deinit(&r);
}

/* The new body of a signed answer m under f->mode into out; false to leave m alone. */
static bool rewrite_body(fx *f, const nb_coap_msg *m, nb_bytes *out) {
  int cf = nb_coap_msg_content_format(m);
  if (f->mode == T_SECRET_SIGNED || f->mode == T_SECRET_PLAIN) {
    if (NB_COAP_CLASS(m->code) != 4) return false;
    nb_bytes inner;
    nb_bytes_init(&inner);
    secret_records(f->mode == T_SECRET_PLAIN ? out : &inner);
    if (f->mode == T_SECRET_SIGNED) sign_body("meter-1", &K.dev_key, inner.data, inner.len, out);
    nb_bytes_free(&inner);
    return true;
  }
  if (f->mode == T_FORGE_PSK) {
    if (m->code != NB_COAP_NOT_ACCEPTABLE) return false;
    nb_bytes inner;
    nb_bytes_init(&inner);
    forged_records(&inner);
    sign_body("meter-1", &K.dev_key, inner.data, inner.len, out);
    nb_bytes_free(&inner);
    return true;
  }
  if (m->code != NB_COAP_CONTENT || cf != NB_COSE_CF_SIGN1) return false;
  if (f->mode == T_FLIP_SIG) {
    assert_int_equal(nb_bytes_append(out, m->payload, m->payload_len), NB_OK);
    out->data[out->len - 1] ^= 0x01;
    return true;
  }
  nb_cose_sign1_msg cm;
  assert_int_equal(nb_cose_parse(m->payload, m->payload_len, &cm), NB_OK);
  if (f->mode == T_OTHER_KEY)
    sign_body("meter-1", &K.other_key, cm.payload, cm.payload_len, out);
  else
    sign_body("meter-2", &K.dev_key, cm.payload, cm.payload_len, out);
  return true;
}

static void deliver(fx *f, const nb_addr *peer, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_server_identity id = {.kind = NB_SERVER_ID_NONE};
  nb_dtls_session *s = nb_dtls_server_find(f->dtls, peer);
  if (s) nb_io_srv_identity(nb_dtls_session_peer(s), &id);
  nb_coap_msg m;
  nb_bytes body;
  nb_bytes_init(&body);
  if (f->mode != T_NONE && nb_coap_parse(d, n, &m) == NB_OK && rewrite_body(f, &m, &body)) {
    m.code = NB_COAP_CONTENT;
    nb_coap_msg_remove_option(&m, NB_COAP_OPT_CONTENT_FORMAT);
    int cf = f->mode == T_SECRET_PLAIN ? NB_COAP_CF_SENML_CBOR : NB_COSE_CF_SIGN1;
    assert_int_equal(nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, (uint32_t)cf), NB_OK);
    nb_coap_msg_set_payload(&m, body.data, body.len);
    assert_int_equal(nb_coap_serialize(&m, f->buf, sizeof f->buf, &n), NB_OK);
    d = f->buf;
    f->tampered++;
  }
  nb_server_receive(f->srv, peer, &id, d, n, now);
  nb_bytes_free(&body);
}

/* ---- the server node ---- */

static void dtls_send(void *u, const nb_addr *p, const uint8_t *d, size_t n) {
  nb_simnet_send(((fx *)u)->snode, p, d, n);
}
static void dtls_recv(void *u, const nb_addr *p, const uint8_t *d, size_t n, nb_time_ms now) {
  deliver(u, p, d, n, now);
}
static void dtls_event(void *u, const nb_addr *p, nb_dtls_session *s, const nb_dtls_event *ev,
                       nb_time_ms now) {
  (void)u, (void)p, (void)s, (void)ev, (void)now;
}
static void srv_send(void *u, const nb_addr *p, const uint8_t *d, size_t n) {
  nb_dtls_server_send(((fx *)u)->dtls, p, d, n);
}
static void srv_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_dtls_server_receive(((fx *)u)->dtls, from, d, n, now);
}
static nb_time_ms srv_deadline(void *u) {
  fx *f = u;
  nb_time_ms a = nb_server_next_deadline(f->srv), b = nb_dtls_server_next_deadline(f->dtls);
  return a < b ? a : b;
}
static void srv_tick(void *u, nb_time_ms now) {
  fx *f = u;
  nb_dtls_server_tick(f->dtls, now);
  nb_server_tick(f->srv, now);
}
static const nb_simnet_ops srv_ops = {srv_recv, srv_deadline, srv_tick, NULL};

static void c_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_client_receive(((fx *)u)->c, from, d, n, now);
}
static nb_time_ms c_deadline(void *u) { return nb_client_next_deadline(((fx *)u)->c); }
static void c_tick(void *u, nb_time_ms now) { nb_client_tick(((fx *)u)->c, now); }
static const nb_simnet_ops client_ops = {c_recv, c_deadline, c_tick, NULL};

static void on_event(void *u, const nb_server_event *ev) {
  fx *f = u;
  if (ev->type == NB_SEV_NOTIFICATION) {
    f->notes++;
    if (ev->signature && ev->signature->valid) f->signed_notes++;
  }
  if (ev->type == NB_SEV_SIGNATURE_REJECTED) {
    f->rejected++;
    f->rejected_err = ev->err;
    assert_non_null(ev->signature);
    assert_false(ev->signature->valid);
  }
}

static nb_err psk_lookup(void *u, const uint8_t *ident, size_t len, uint8_t *key, size_t cap,
                         size_t *key_len) {
  (void)u;
  if (len != 7 || memcmp(ident, "meter-1", 7) != 0 || cap < strlen(PSK)) return NB_ERR_NOT_FOUND;
  memcpy(key, PSK, strlen(PSK));
  *key_len = strlen(PSK);
  return NB_OK;
}

/* The device's and the stranger's keys both complete a handshake: the server's registration
 * check and the signature check are what must tell them apart. */
static nb_err any_key(void *u, const nb_dtls_peer *peer, const uint8_t *raw, size_t len) {
  (void)u, (void)peer, (void)raw, (void)len;
  return NB_OK;
}

/* How the device authenticates to the server. */
typedef enum { AUTH_PSK, AUTH_RPK, AUTH_X509 } auth;

static void fx_setup(fx *f, auth mode, size_t evidence_max) {
  memset(f, 0, sizeof *f);
  f->net = nb_simnet_new(7);
  assert_int_equal(nb_store_sqlite_open(":memory:", &f->db), NB_OK);
  f->st = nb_store_sqlite_iface(f->db);
  nb_server_sec_info sec = {.ep = "meter-1"};
  if (mode == AUTH_X509) {
    sec.kind = NB_SERVER_ID_X509;
    snprintf(sec.identity, sizeof sec.identity, "meter-1"); /* the certificate's CN */
  } else if (mode == AUTH_RPK) {
    sec.kind = NB_SERVER_ID_RPK;
    snprintf(sec.identity, sizeof sec.identity, "%s", K.dev_key.secure_id);
    memcpy(sec.key, K.dev_key.spki_der.data, K.dev_key.spki_der.len);
    sec.key_len = K.dev_key.spki_der.len;
  } else {
    sec.kind = NB_SERVER_ID_PSK;
    snprintf(sec.identity, sizeof sec.identity, "meter-1");
  }
  assert_int_equal(f->st.ops->sec_put(f->st.self, &sec), NB_OK);

  nb_server_config sc;
  nb_server_config_default(&sc);
  sc.random = nb_simnet_rng_fill;
  sc.random_user = nb_simnet_rng_of(f->net);
  sc.store = f->st;
  sc.clock_offset = UNIX_OFFSET;
  if (evidence_max) sc.evidence_max = evidence_max;
  f->saddr = nb_simnet_addr(1, 5684);
  f->snode = nb_simnet_add(f->net, &f->saddr, &srv_ops, f);
  assert_int_equal(nb_server_new(&sc, srv_send, f, &f->srv), NB_OK);
  assert_int_equal(nb_server_add_listener(f->srv, on_event, f), NB_OK);
  assert_int_equal(nb_dtls_creds_new(&f->creds), NB_OK);
  nb_dtls_creds_set_psk_lookup(f->creds, psk_lookup, f);
  nb_dtls_creds_set_verify(f->creds, any_key, NULL);
  if (mode == AUTH_X509) {
    assert_int_equal(
        nb_dtls_creds_set_x509(f->creds, K.srv_cert.cert_pem.data, K.srv_cert.cert_pem.len,
                               K.srv_cert.key.key_pem.data, K.srv_cert.key.key_pem.len),
        NB_OK);
    assert_int_equal(nb_dtls_creds_add_trust(f->creds, K.ca.cert_pem.data, K.ca.cert_pem.len),
                     NB_OK);
  } else {
    assert_int_equal(nb_dtls_creds_set_rpk(f->creds, K.srv_key.key_pem.data, K.srv_key.key_pem.len),
                     NB_OK);
  }
  nb_dtls_server_config dc;
  nb_dtls_server_config_default(&dc);
  dc.random = nb_simnet_rng_fill;
  dc.random_user = nb_simnet_rng_of(f->net);
  nb_dtls_handlers h = {dtls_send, dtls_recv, dtls_event, f};
  assert_int_equal(nb_dtls_server_new(&dc, f->creds, &h, &f->dtls), NB_OK);

  f->caddr = nb_simnet_addr(9, 56830);
  f->cnode = nb_simnet_add(f->net, &f->caddr, &client_ops, f);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "meter-1";
  cfg.send = nb_simnet_send;
  cfg.send_user = f->cnode;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  cfg.unix_offset_ms = UNIX_OFFSET;
  assert_int_equal(nb_client_new(&cfg, &f->c), NB_OK);
  nb_client_device_info d = {.manufacturer = "ACME",
                             .model = "Meter",
                             .battery_level = 80,
                             .memory_free_kb = -1,
                             .memory_total_kb = -1,
                             .timezone = "UTC"};
  assert_int_equal(nb_client_add_device(f->c, &d), NB_OK);
  nb_object *t = nb_store_object_new(nb_model_object(nb_client_model(f->c), 3303), NULL);
  assert_non_null(t);
  assert_int_equal(nb_store_object_add_instance(t, 0), NB_OK);
  nb_value v = nb_value_float(21.5);
  nb_path p = nb_path_res(3303, 0, 5700);
  assert_int_equal(nb_store_object_set(t, &p, &v), NB_OK);
  assert_int_equal(nb_client_add_object(f->c, t, 0), NB_OK);
  nb_client_server_params sp = {.uri = "coaps://10.0.0.1:5684", .ssid = 101, .lifetime = 300};
  if (mode == AUTH_X509) { /* the device's certificate from the test CA, the server's pinned */
    sp.security_mode = 2;
    sp.identity = K.dev_cert.cert_der.data;
    sp.identity_len = K.dev_cert.cert_der.len;
    sp.secret = K.dev_cert.key.key_der.data;
    sp.secret_len = K.dev_cert.key.key_der.len;
    sp.server_key = K.srv_cert.cert_der.data;
    sp.server_key_len = K.srv_cert.cert_der.len;
  } else if (mode == AUTH_RPK) {
    sp.security_mode = 1;
    sp.identity = K.dev_key.spki_der.data;
    sp.identity_len = K.dev_key.spki_der.len;
    sp.secret = K.dev_key.key_der.data;
    sp.secret_len = K.dev_key.key_der.len;
    sp.server_key = K.srv_key.spki_der.data;
    sp.server_key_len = K.srv_key.spki_der.len;
  } else {
    sp.security_mode = 0;
    sp.identity = (const uint8_t *)"meter-1";
    sp.identity_len = 7;
    sp.secret = (const uint8_t *)PSK;
    sp.secret_len = strlen(PSK);
  }
  assert_int_equal(nb_client_add_server(f->c, &sp), NB_OK);
}

static void fx_teardown(fx *f) {
  nb_simnet_free(f->net); /* the nodes only: the engines are ours */
  nb_client_free(f->c);
  nb_server_free(f->srv);
  nb_dtls_server_free(f->dtls);
  nb_dtls_creds_free(f->creds);
  nb_store_sqlite_close(f->db);
}

static bool registered(void *u) { return nb_server_find(((fx *)u)->srv, "meter-1") != NULL; }

static void start(fx *f) {
  assert_int_equal(nb_client_start(f->c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f->net, 60000, registered, f));
}

/* ---- requests ---- */

typedef struct {
  int calls, finals;
  nb_err err;
  uint8_t code;
  nb_records recs;
  bool had_records, is_signed, valid, has_iat;
  char kid[NB_SERVER_KID_HEX_MAX];
  int64_t iat;
  uint8_t cose[1024];
  size_t cose_len;
} result;

static void on_result(void *user, uint64_t id, const nb_server_result *res, bool last) {
  result *r = user;
  (void)id;
  r->calls++;
  r->finals += last;
  r->err = res->err;
  r->code = res->code;
  r->had_records = res->records != NULL;
  nb_records_deinit(&r->recs);
  nb_records_init(&r->recs);
  for (size_t i = 0; res->records && i < res->records->len; i++)
    assert_int_equal(
        nb_records_add(&r->recs, &res->records->items[i].path, &res->records->items[i].value),
        NB_OK);
  r->is_signed = res->signature != NULL;
  if (res->signature) {
    r->valid = res->signature->valid;
    snprintf(r->kid, sizeof r->kid, "%s", res->signature->kid);
    r->has_iat = res->signature->has_iat;
    r->iat = res->signature->iat;
    assert_true(res->signature->cose_len <= sizeof r->cose);
    memcpy(r->cose, res->signature->cose, res->signature->cose_len);
    r->cose_len = res->signature->cose_len;
  }
}

static bool answered(void *u) { return ((result *)u)->calls > 0; }

/* r starts zeroed ({0}); records of an earlier run are freed here. */
static void run(fx *f, const nb_server_request *rq, result *r) {
  nb_records_deinit(&r->recs);
  memset(r, 0, sizeof *r);
  nb_records_init(&r->recs);
  uint64_t id;
  assert_int_equal(
      nb_server_send_request(f->srv, "meter-1", rq, on_result, r, nb_simnet_now(f->net), &id, NULL),
      NB_OK);
  assert_true(nb_simnet_run_until_cond(f->net, nb_simnet_now(f->net) + 60000, answered, r));
}

static nb_err count_one(void *user, const nb_server_evidence_info *e) {
  (void)e;
  (*(int *)user)++;
  return NB_OK;
}

static int evidence_count(fx *f) {
  int n = 0;
  assert_int_equal(f->st.ops->evidence_each(f->st.self, "meter-1", 0, 100000, count_one, &n),
                   NB_OK);
  return n;
}

static void assert_same_records(const nb_records *a, const nb_records *b) {
  assert_int_equal(a->len, b->len);
  for (size_t i = 0; i < a->len; i++) {
    assert_true(nb_path_equal(&a->items[i].path, &b->items[i].path));
    char va[64], vb[64];
    nb_value_format(&a->items[i].value, va, sizeof va);
    nb_value_format(&b->items[i].value, vb, sizeof vb);
    assert_string_equal(va, vb);
  }
}

/* ---- tests ---- */

typedef struct {
  char kind[8], path[NB_SERVER_PATHS_MAX], kid[NB_SERVER_KID_HEX_MAX];
  int64_t at;
  bool has_iat;
  uint8_t cose[1024];
  size_t len;
} kept;

typedef struct {
  kept k[16];
  int n;
} kept_list;

static nb_err keep_one(void *user, const nb_server_evidence_info *e) {
  kept_list *l = user;
  assert_true(l->n < 16);
  kept *k = &l->k[l->n++];
  snprintf(k->kind, sizeof k->kind, "%s", e->kind);
  snprintf(k->path, sizeof k->path, "%s", e->path);
  snprintf(k->kid, sizeof k->kid, "%s", e->kid);
  k->at = e->at;
  k->has_iat = e->has_iat;
  assert_true(e->cose_len <= sizeof k->cose);
  memcpy(k->cose, e->cose, e->cose_len);
  k->len = e->cose_len;
  return NB_OK;
}

static void test_signed_read(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, AUTH_RPK, 0);
  start(&f);
  result plain = {0}, sig = {0};
  nb_server_request rq = {.op = NB_SOP_READ, .path = nb_path_inst(3303, 0)};
  run(&f, &rq, &plain);
  assert_int_equal(plain.err, NB_OK);
  assert_int_equal(plain.code, NB_COAP_CONTENT);
  assert_false(plain.is_signed);
  assert_int_equal(evidence_count(&f), 0);
  rq.sign = true;
  run(&f, &rq, &sig);
  assert_int_equal(sig.err, NB_OK);
  assert_int_equal(sig.code, NB_COAP_CONTENT);
  assert_true(sig.is_signed);
  assert_true(sig.valid);
  assert_string_equal(sig.kid, K.dev_key.secure_id);
  assert_true(sig.has_iat);
  assert_true(sig.iat >= UNIX_OFFSET / 1000);
  assert_true(plain.recs.len > 0);
  assert_same_records(&plain.recs, &sig.recs);
  /* The answer is evidence anyone with the device's public key can check. */
  nb_cose_sign1_msg m;
  assert_int_equal(
      nb_cose_open(sig.cose, sig.cose_len, K.dev_key.spki_der.data, K.dev_key.spki_der.len, &m),
      NB_OK);
  assert_string_equal(m.h.iss, "meter-1");
  assert_int_equal(m.h.content_format, NB_COAP_CF_SENML_CBOR);
  assert_int_not_equal(
      nb_cose_open(sig.cose, sig.cose_len, K.other_key.spki_der.data, K.other_key.spki_der.len, &m),
      NB_OK);
  kept_list l = {.n = 0};
  assert_int_equal(f.st.ops->evidence_each(f.st.self, "meter-1", 0, 10, keep_one, &l), NB_OK);
  assert_int_equal(l.n, 1);
  assert_string_equal(l.k[0].kind, "read");
  assert_string_equal(l.k[0].path, "/3303/0");
  assert_string_equal(l.k[0].kid, K.dev_key.secure_id);
  assert_true(l.k[0].has_iat);
  assert_int_equal(l.k[0].len, sig.cose_len);
  assert_memory_equal(l.k[0].cose, sig.cose, sig.cose_len);
  assert_true(l.k[0].at > UNIX_OFFSET && l.k[0].at <= nb_simnet_now(f.net) + UNIX_OFFSET);

  /* Read-Composite signed too, and a format other than SenML CBOR cannot be signed. */
  nb_path ps[2] = {nb_path_res(3303, 0, 5700), nb_path_res(3, 0, 0)};
  nb_server_request rc = {.op = NB_SOP_READ_COMPOSITE, .paths = ps, .path_count = 2, .sign = true};
  result comp = {0};
  run(&f, &rc, &comp);
  assert_int_equal(comp.err, NB_OK);
  assert_true(comp.valid);
  assert_int_equal(comp.recs.len, 2);
  assert_int_equal(evidence_count(&f), 2);
  nb_server_request bad = {.op = NB_SOP_READ,
                           .path = nb_path_inst(3303, 0),
                           .sign = true,
                           .has_format = true,
                           .format = NB_COAP_CF_LWM2M_TLV};
  assert_int_equal(nb_server_send_request(f.srv, "meter-1", &bad, on_result, &comp,
                                          nb_simnet_now(f.net), NULL, NULL),
                   NB_ERR_INVAL);
  nb_server_request wr = {.op = NB_SOP_DELETE, .path = nb_path_inst(3303, 0), .sign = true};
  assert_int_equal(nb_server_send_request(f.srv, "meter-1", &wr, on_result, &comp,
                                          nb_simnet_now(f.net), NULL, NULL),
                   NB_ERR_INVAL);
  assert_int_equal(f.rejected, 0);
  nb_records_deinit(&plain.recs);
  nb_records_deinit(&sig.recs);
  nb_records_deinit(&comp.recs);
  fx_teardown(&f);
}

/* A device with an X.509 certificate signs with the certificate's key: the server checks the
 * signature with the key of the certificate that authenticated the session, and so can anyone
 * with that certificate. */
static void test_signed_read_x509(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, AUTH_X509, 0);
  start(&f);
  const nb_server_reg_info *reg = nb_server_find(f.srv, "meter-1");
  assert_non_null(reg);
  assert_int_equal(reg->identity.kind, NB_SERVER_ID_X509);
  result sig = {0};
  nb_server_request rq = {.op = NB_SOP_READ, .path = nb_path_res(3303, 0, 5700), .sign = true};
  run(&f, &rq, &sig);
  assert_int_equal(sig.err, NB_OK);
  assert_true(sig.is_signed);
  assert_true(sig.valid);
  assert_string_equal(sig.kid, K.dev_cert.key.secure_id);
  assert_int_equal(sig.recs.len, 1);
  assert_true(sig.recs.items[0].value.v.f == 21.5);
  nb_cose_sign1_msg m;
  assert_int_equal(
      nb_cose_open(sig.cose, sig.cose_len, K.dev_cert.cert_pem.data, K.dev_cert.cert_pem.len, &m),
      NB_OK);
  assert_int_not_equal(
      nb_cose_open(sig.cose, sig.cose_len, K.dev_key.spki_der.data, K.dev_key.spki_der.len, &m),
      NB_OK);
  assert_int_equal(evidence_count(&f), 1);
  nb_records_deinit(&sig.recs);
  fx_teardown(&f);
}

static bool two_notes(void *u) { return ((result *)u)->calls >= 3; }

static void test_signed_observe(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, AUTH_RPK, 0);
  start(&f);
  result r = {0};
  nb_server_request rq = {.op = NB_SOP_OBSERVE, .path = nb_path_res(3303, 0, 5700), .sign = true};
  run(&f, &rq, &r);
  assert_int_equal(r.err, NB_OK);
  assert_true(r.valid);
  assert_int_equal(r.finals, 0);
  nb_server_obs_info oi;
  assert_int_equal(nb_server_observations(f.srv, "meter-1", &oi, 1), 1);
  assert_int_equal(oi.format, NB_COSE_CF_SIGN1); /* a restarted server asks for signatures too */
  for (int i = 0; i < 2; i++) {
    nb_time_ms now = nb_simnet_now(f.net);
    nb_object *t = nb_client_object(f.c, 3303);
    nb_path p = nb_path_res(3303, 0, 5700);
    nb_value v = nb_value_float(30.0 + i);
    assert_int_equal(nb_store_object_set(t, &p, &v), NB_OK);
    nb_client_value_changed(f.c, &p, now);
    int want = r.calls + 1;
    while (r.calls < want) nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
    assert_int_equal(r.err, NB_OK);
    assert_true(r.is_signed);
    assert_true(r.valid);
    assert_int_equal(r.recs.len, 1);
    assert_true(r.recs.items[0].value.v.f == 30.0 + i);
    nb_cose_sign1_msg m;
    assert_int_equal(
        nb_cose_open(r.cose, r.cose_len, K.dev_key.spki_der.data, K.dev_key.spki_der.len, &m),
        NB_OK);
  }
  assert_true(two_notes(&r));
  assert_int_equal(f.notes, r.calls);
  assert_int_equal(f.signed_notes, r.calls);
  kept_list l = {.n = 0};
  assert_int_equal(f.st.ops->evidence_each(f.st.self, "meter-1", 0, 16, keep_one, &l), NB_OK);
  assert_int_equal(l.n, r.calls);
  for (int i = 0; i < l.n; i++) {
    assert_string_equal(l.k[i].kind, "notify");
    assert_string_equal(l.k[i].path, "/3303/0/5700");
  }
  assert_memory_equal(l.k[0].cose, r.cose, r.cose_len); /* newest first */
  nb_records_deinit(&r.recs);
  fx_teardown(&f);
}

static void refused(tamper mode, nb_err want) {
  fx f;
  fx_setup(&f, AUTH_RPK, 0);
  start(&f);
  f.mode = mode;
  result r = {0};
  nb_server_request rq = {.op = NB_SOP_READ, .path = nb_path_inst(3303, 0), .sign = true};
  run(&f, &rq, &r);
  assert_int_equal(f.tampered, 1);
  assert_int_equal(r.err, want);
  assert_false(r.had_records);
  assert_int_equal(r.recs.len, 0);
  assert_true(r.is_signed);
  assert_false(r.valid);
  assert_int_equal(f.rejected, 1);
  assert_int_equal(f.rejected_err, want);
  assert_int_equal(evidence_count(&f), 0);
  /* An observation whose first answer is refused is not established. */
  rq.op = NB_SOP_OBSERVE;
  run(&f, &rq, &r);
  assert_int_equal(r.err, want);
  assert_int_equal(r.finals, 1);
  assert_int_equal(f.notes, 0);
  assert_int_equal(nb_server_observations(f.srv, "meter-1", NULL, 0), 0);
  assert_int_equal(evidence_count(&f), 0);
  nb_records_deinit(&r.recs);
  fx_teardown(&f);
}

static void test_bad_signature(void **state) {
  (void)state;
  refused(T_FLIP_SIG, NB_ERR_SIG_INVALID);
}

static void test_other_key(void **state) {
  (void)state;
  refused(T_OTHER_KEY, NB_ERR_SIG_INVALID);
}

static void test_wrong_issuer(void **state) {
  (void)state;
  refused(T_WRONG_ISS, NB_ERR_SIG_ISSUER);
}

static void test_psk_device(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, AUTH_PSK, 0);
  start(&f);
  result r = {0};
  nb_server_request rq = {.op = NB_SOP_READ, .path = nb_path_inst(3303, 0), .sign = true};
  run(&f, &rq, &r);
  assert_int_equal(r.err, NB_OK);
  assert_int_equal(r.code, NB_COAP_NOT_ACCEPTABLE); /* nothing to sign with */
  assert_false(r.is_signed);
  /* A PSK session has no public key: a signed answer over it proves nothing. */
  f.mode = T_FORGE_PSK;
  run(&f, &rq, &r);
  assert_int_equal(f.tampered, 1);
  assert_int_equal(r.err, NB_ERR_SIG_NO_KEY);
  assert_false(r.had_records);
  assert_int_equal(f.rejected, 1);
  assert_int_equal(evidence_count(&f), 0);
  nb_records_deinit(&r.recs);
  fx_teardown(&f);
}

/* A read of /0/1 that a rogue device answers with its key: refused whether signed or not. */
static void test_secret_answer_refused(void **state) {
  (void)state;
  for (tamper mode = T_SECRET_SIGNED; mode <= T_SECRET_PLAIN; mode++) {
    fx f;
    fx_setup(&f, AUTH_RPK, 0);
    start(&f);
    f.mode = mode;
    result r = {0};
    nb_server_request rq = {
        .op = NB_SOP_READ, .path = nb_path_inst(0, 1), .sign = mode == T_SECRET_SIGNED};
    run(&f, &rq, &r);
    assert_int_equal(f.tampered, 1);
    assert_int_equal(r.code, NB_COAP_CONTENT);
    assert_int_equal(r.err, NB_ERR_FMT_SECRET);
    assert_int_equal(r.recs.len, 0);
    assert_int_equal(evidence_count(&f), 0);
    nb_records_deinit(&r.recs);
    fx_teardown(&f);
  }
}

static void test_evidence_bound(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, AUTH_RPK, 3);
  start(&f);
  uint8_t last[3][1024];
  size_t last_len[3];
  result r = {0};
  for (int i = 0; i < 5; i++) {
    nb_server_request rq = {.op = NB_SOP_READ, .path = nb_path_res(3303, 0, 5700), .sign = true};
    run(&f, &rq, &r);
    assert_true(r.valid);
    if (i >= 2) {
      memcpy(last[i - 2], r.cose, r.cose_len);
      last_len[i - 2] = r.cose_len;
    }
    nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
  }
  kept_list l = {.n = 0};
  assert_int_equal(f.st.ops->evidence_each(f.st.self, "meter-1", 0, 16, keep_one, &l), NB_OK);
  assert_int_equal(l.n, 3);
  for (int i = 0; i < 3; i++) { /* newest first: the 5th, 4th, 3rd */
    assert_int_equal(l.k[i].len, last_len[2 - i]);
    assert_memory_equal(l.k[i].cose, last[2 - i], last_len[2 - i]);
  }
  assert_true(l.k[0].at > l.k[1].at && l.k[1].at > l.k[2].at);
  nb_records_deinit(&r.recs);
  fx_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_signed_read),
      cmocka_unit_test(test_signed_read_x509),
      cmocka_unit_test(test_signed_observe),
      cmocka_unit_test(test_bad_signature),
      cmocka_unit_test(test_other_key),
      cmocka_unit_test(test_wrong_issuer),
      cmocka_unit_test(test_psk_device),
      cmocka_unit_test(test_evidence_bound),
      cmocka_unit_test(test_secret_answer_refused),
  };
  return cmocka_run_group_tests(tests, make_keys, free_keys);
}
