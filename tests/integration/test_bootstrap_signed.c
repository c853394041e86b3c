/* Signed bootstrap, bootstrap server side: the engine driven directly with a fake device that
 * reads the engine's datagrams and answers them itself (no DTLS: the peer identity is handed
 * in as the DTLS shell would). pct=18 from an RPK peer gets COSE_Sign1 writes and a receipt
 * step; good receipts finish and leave evidence in the SQLite store, bad ones (other key,
 * wrong iss, another cti) fail at "receipt" without Finish; a NoSec peer or pct=112 gets plain
 * SenML CBOR; a restarted attempt gets a new cti. Virtual clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "bootstrap/bootstrap.h"
#include "bootstrap/config_store.h"
#include "coap/msg.h"
#include "dtls/cose.h"
#include "dtls/keys.h"
#include "lwm2m/format.h"

#define OFFSET_MS 1700000000000LL
#define QMAX 16

typedef enum { R_GOOD, R_OTHER_KEY, R_WRONG_ISS, R_OTHER_CTI, R_NONE, R_REFUSE } receipt_kind;

typedef struct {
  nb_bs_store *st;
  nb_bs_engine *bs;
  nb_dtls_keypair bs_key, dev_key, other_key;
  nb_addr dev;
  nb_server_identity id;
  uint8_t q[QMAX][1500]; /* datagrams the engine sent, oldest first */
  size_t qlen[QMAX], nq;
  nb_time_ms now;
  /* what the fake device saw */
  int puts, puts_signed, gets_receipt, finishes, deletes;
  uint8_t cti[NB_COSE_ID_MAX];
  size_t cti_len;
  int cti_changes; /* writes under a cti other than the previous write's */
  char order[256]; /* requests in the order seen: "P/0/1 G/1 F ..." */
  char fin_cti[64];
  int finished, failed;
  char fail_step[40];
  nb_err fail_err;
} fx;

static void on_send(void *u, const nb_addr *to, const uint8_t *d, size_t n) {
  fx *f = u;
  (void)to;
  assert_true(f->nq < QMAX && n <= sizeof f->q[0]);
  memcpy(f->q[f->nq], d, n);
  f->qlen[f->nq++] = n;
}

static void on_event(void *u, const nb_bs_event *e) {
  fx *f = u;
  if (e->type == NB_BS_EV_FINISHED) {
    f->finished++;
    snprintf(f->fin_cti, sizeof f->fin_cti, "%s", e->cti ? e->cti : "");
  }
  if (e->type == NB_BS_EV_FAILED) {
    f->failed++;
    snprintf(f->fail_step, sizeof f->fail_step, "%s", e->step ? e->step : "");
    f->fail_err = e->err;
  }
}

static void fx_new_cfg(fx *f, bool sign_key, bool fresh_key) {
  memset(f, 0, sizeof *f);
  f->now = 1000;
  assert_int_equal(nb_bs_store_open(":memory:", &f->st), NB_OK);
  assert_int_equal(nb_dtls_keypair_generate(&f->bs_key), NB_OK);
  assert_int_equal(nb_dtls_keypair_generate(&f->dev_key), NB_OK);
  assert_int_equal(nb_dtls_keypair_generate(&f->other_key), NB_OK);
  const char *eps[] = {"dev1", "dev2"};
  for (size_t i = 0; i < 2; i++) {
    nb_bs_config cfg;
    nb_bs_config_init(&cfg, eps[i]);
    cfg.discover = fresh_key; /* finds the bootstrap account the fresh key goes into */
    cfg.bs_fresh_key = fresh_key;
    nb_bs_server s = {.ssid = 101, .lifetime = 300, .mode = NB_BS_SEC_NOSEC};
    snprintf(s.uri, sizeof s.uri, "coap://127.0.0.1:5683");
    assert_int_equal(nb_bs_config_add_server(&cfg, &s), NB_OK);
    assert_int_equal(nb_bs_store_config_put(f->st, &cfg), NB_OK);
  }
  /* dev1 presents its raw public key (out-of-band secure ID); dev2 is NoSec. */
  nb_server_sec_info c = {.kind = NB_SERVER_ID_RPK};
  snprintf(c.ep, sizeof c.ep, "dev1");
  snprintf(c.identity, sizeof c.identity, "%s", f->dev_key.secure_id);
  assert_int_equal(nb_bs_store_cred_put(f->st, &c), NB_OK);
  nb_bs_engine_config ec;
  nb_bs_engine_config_default(&ec);
  ec.source = nb_bs_store_source(f->st);
  ec.unix_offset_ms = OFFSET_MS;
  if (sign_key) {
    ec.sign_key = f->bs_key.key_pem.data;
    ec.sign_key_len = f->bs_key.key_pem.len;
  }
  assert_int_equal(nb_bs_engine_new(&ec, on_send, f, &f->bs), NB_OK);
  assert_int_equal(nb_bs_engine_add_listener(f->bs, on_event, f), NB_OK);
  assert_int_equal(nb_addr_parse("127.0.0.1:40000", 0, &f->dev), NB_OK);
}

static void fx_new(fx *f, bool sign_key) { fx_new_cfg(f, sign_key, false); }

static void fx_free(fx *f) {
  nb_bs_engine_free(f->bs);
  nb_bs_store_close(f->st);
  nb_dtls_keypair_free(&f->bs_key);
  nb_dtls_keypair_free(&f->dev_key);
  nb_dtls_keypair_free(&f->other_key);
}

/* The device's DTLS identity as the shell reports it: RPK with its SPKI, or NoSec. */
static void fx_identity(fx *f, bool rpk) {
  memset(&f->id, 0, sizeof f->id);
  if (!rpk) return;
  f->id.kind = NB_SERVER_ID_RPK;
  snprintf(f->id.value, sizeof f->id.value, "%s", f->dev_key.secure_id);
  assert_true(f->dev_key.spki_der.len <= sizeof f->id.key);
  memcpy(f->id.key, f->dev_key.spki_der.data, f->dev_key.spki_der.len);
  f->id.key_len = f->dev_key.spki_der.len;
}

static void deliver(fx *f, const nb_coap_msg *m) {
  uint8_t buf[2048];
  size_t n;
  assert_int_equal(nb_coap_serialize(m, buf, sizeof buf, &n), NB_OK);
  nb_bs_engine_receive(f->bs, &f->dev, &f->id, buf, n, f->now);
}

static void request(fx *f, const char *ep, const char *pct) {
  nb_coap_msg m;
  static uint16_t mid = 0x4242;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_POST, mid++);
  uint8_t tok[2] = {1, (uint8_t)mid};
  nb_coap_msg_set_token(&m, tok, 2);
  char q[80];
  assert_int_equal(nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/bs"), NB_OK);
  snprintf(q, sizeof q, "ep=%s", ep);
  assert_int_equal(nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, q), NB_OK);
  snprintf(q, sizeof q, "pct=%s", pct);
  assert_int_equal(nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, q), NB_OK);
  deliver(f, &m);
}

/* The device's receipt: COSE_Sign1 over SenML CBOR of one /1 instance. */
static void make_receipt(fx *f, receipt_kind k, nb_bytes *out) {
  nb_records r;
  nb_records_init(&r);
  nb_path p = nb_path_res(1, 0, 0);
  nb_value v = nb_value_int(101);
  assert_int_equal(nb_records_add(&r, &p, &v), NB_OK);
  nb_bytes plain;
  nb_bytes_init(&plain);
  nb_path o1 = nb_path_obj(1);
  assert_int_equal(nb_format_encode(NB_COAP_CF_SENML_CBOR, &r, &o1, NULL, &plain, NULL, NULL),
                   NB_OK);
  nb_records_deinit(&r);
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  h.content_format = NB_COAP_CF_SENML_CBOR;
  snprintf(h.iss, sizeof h.iss, "%s", k == R_WRONG_ISS ? "dev9" : "dev1");
  memcpy(h.cti, f->cti, f->cti_len);
  h.cti_len = f->cti_len;
  if (k == R_OTHER_CTI) h.cti[0] ^= 0xff;
  const nb_dtls_keypair *key = k == R_OTHER_KEY ? &f->other_key : &f->dev_key;
  assert_int_equal(
      nb_cose_sign1(&h, plain.data, plain.len, key->key_der.data, key->key_der.len, out), NB_OK);
  nb_bytes_free(&plain);
}

/* Checks one signed Bootstrap-Write: BS key, sub = ep, SenML CBOR inside, the same cti. */
static void check_signed_write(fx *f, const nb_coap_msg *m, const char *ep) {
  nb_cose_sign1_msg c;
  assert_int_equal(
      nb_cose_open(m->payload, m->payload_len, f->bs_key.spki_der.data, f->bs_key.spki_der.len, &c),
      NB_OK);
  assert_string_equal(c.h.sub, ep);
  assert_int_equal(c.h.content_format, NB_COAP_CF_SENML_CBOR);
  assert_true(c.h.has_iat);
  assert_true(c.h.iat >= OFFSET_MS / 1000 && c.h.iat < OFFSET_MS / 1000 + 3600);
  assert_int_equal(c.h.cti_len, NB_BS_CTI_LEN);
  if (f->cti_len && memcmp(f->cti, c.h.cti, NB_BS_CTI_LEN) != 0) f->cti_changes++;
  memcpy(f->cti, c.h.cti, c.h.cti_len);
  f->cti_len = c.h.cti_len;
  nb_records r;
  nb_records_init(&r);
  assert_int_equal(
      nb_format_decode(NB_COAP_CF_SENML_CBOR, c.payload, c.payload_len, NULL, NULL, &r, NULL, NULL),
      NB_OK);
  assert_true(r.len > 0);
  nb_records_deinit(&r);
}

/* Answers every CON request the engine sent (ACKs of ours are skipped); the receipt read as
 * rk says (R_NONE: lost, R_REFUSE: 4.06). Returns how many requests were answered. */
static int answer_all(fx *f, const char *ep, receipt_kind rk) {
  int answered = 0;
  while (f->nq) {
    uint8_t d[1500];
    size_t n = f->qlen[0];
    memcpy(d, f->q[0], n);
    memmove(f->q, f->q + 1, (f->nq - 1) * sizeof f->q[0]);
    memmove(f->qlen, f->qlen + 1, (f->nq - 1) * sizeof f->qlen[0]);
    f->nq--;
    nb_coap_msg m;
    assert_int_equal(nb_coap_parse(d, n, &m), NB_OK);
    if (m.type != NB_COAP_CON) continue;
    char path[64];
    assert_int_equal(nb_coap_msg_get_path(&m, NB_COAP_OPT_URI_PATH, path, sizeof path), NB_OK);
    nb_coap_msg r;
    nb_coap_msg_init(&r, NB_COAP_ACK, NB_COAP_CHANGED, m.mid);
    nb_coap_msg_set_token(&r, m.token, m.token_len);
    nb_bytes body;
    nb_bytes_init(&body);
    size_t ol = strlen(f->order);
    snprintf(f->order + ol, sizeof f->order - ol, "%s%s ",
             m.code == NB_COAP_PUT    ? "P"
             : m.code == NB_COAP_GET  ? "G"
             : m.code == NB_COAP_POST ? "F"
                                      : "D",
             m.code == NB_COAP_POST ? "" : path);
    if (m.code == NB_COAP_GET && strcmp(path, "/0") == 0) { /* Discover: account 0 is ours */
      static const char links[] = "</0>,</0/0>,</1>";
      r.code = NB_COAP_CONTENT;
      assert_int_equal(nb_coap_msg_add_uint(&r, NB_COAP_OPT_CONTENT_FORMAT, 40), NB_OK);
      nb_coap_msg_set_payload(&r, links, strlen(links));
    } else if (m.code == NB_COAP_PUT) {
      f->puts++;
      if (nb_coap_msg_content_format(&m) == NB_COSE_CF_SIGN1) {
        f->puts_signed++;
        check_signed_write(f, &m, ep);
      } else {
        assert_int_equal(nb_coap_msg_content_format(&m), NB_COAP_CF_SENML_CBOR);
      }
    } else if (m.code == NB_COAP_DELETE) {
      f->deletes++;
      r.code = NB_COAP_DELETED;
    } else if (m.code == NB_COAP_GET) {
      assert_string_equal(path, "/1");
      assert_int_equal(nb_coap_msg_accept(&m), NB_COSE_CF_SIGN1);
      f->gets_receipt++;
      if (rk == R_NONE) continue; /* lost */
      if (rk == R_REFUSE) {
        r.code = NB_COAP_NOT_ACCEPTABLE;
        f->now += 10;
        deliver(f, &r);
        answered++;
        continue;
      }
      make_receipt(f, rk, &body);
      r.code = NB_COAP_CONTENT;
      assert_int_equal(nb_coap_msg_add_uint(&r, NB_COAP_OPT_CONTENT_FORMAT, NB_COSE_CF_SIGN1),
                       NB_OK);
      nb_coap_msg_set_payload(&r, body.data, body.len);
    } else if (m.code == NB_COAP_POST) {
      assert_string_equal(path, "/bs");
      f->finishes++;
    }
    f->now += 10;
    deliver(f, &r);
    nb_bytes_free(&body);
    answered++;
  }
  return answered;
}

typedef struct {
  int writes, receipts;
  char cti[64];
  bool bad;
  const fx *f;
} ev_count;

static nb_err count_row(void *u, const nb_bs_evidence *ev) {
  ev_count *c = u;
  const fx *f = c->f;
  snprintf(c->cti, sizeof c->cti, "%s", ev->cti);
  assert_string_equal(ev->ep, "dev1");
  assert_true(ev->at >= OFFSET_MS);
  nb_cose_sign1_msg m;
  assert_int_equal(ev->seq, (unsigned)(c->writes + c->receipts));
  if (strcmp(ev->kind, "write") == 0) {
    c->writes++;
    assert_string_equal(ev->signer, f->bs_key.secure_id);
    assert_int_equal(
        nb_cose_open(ev->cose, ev->cose_len, f->bs_key.spki_der.data, f->bs_key.spki_der.len, &m),
        NB_OK);
  } else {
    assert_string_equal(ev->kind, "receipt");
    assert_string_equal(ev->path, "/1");
    c->receipts++;
    assert_string_equal(ev->signer, f->dev_key.secure_id);
    assert_int_equal(
        nb_cose_open(ev->cose, ev->cose_len, f->dev_key.spki_der.data, f->dev_key.spki_der.len, &m),
        NB_OK);
    assert_string_equal(m.h.iss, "dev1");
  }
  return NB_OK;
}

static void cti_hex(const fx *f, char *out) {
  for (size_t i = 0; i < f->cti_len; i++) sprintf(out + 2 * i, "%02x", f->cti[i]);
}

/* ---- tests ---- */

static void test_signed_good(void **state) {
  (void)state;
  fx f;
  fx_new(&f, true);
  fx_identity(&f, true);
  request(&f, "dev1", "18");
  answer_all(&f, "dev1", R_GOOD);
  assert_int_equal(f.finished, 1);
  assert_int_equal(f.failed, 0);
  assert_int_equal(f.finishes, 1);
  assert_int_equal(f.gets_receipt, 1);
  assert_int_equal(f.puts, 2); /* /0/0 and /1/0 */
  assert_int_equal(f.puts_signed, f.puts);
  assert_int_equal(f.cti_changes, 0);
  char hex[64];
  cti_hex(&f, hex);
  assert_string_equal(f.fin_cti, hex);
  ev_count c = {.f = &f};
  assert_int_equal(nb_bs_store_evidence_each(f.st, "dev1", count_row, &c), NB_OK);
  assert_int_equal(c.writes, 2);
  assert_int_equal(c.receipts, 1);
  assert_string_equal(c.cti, hex);
  /* The JSON the API and the CLI show. */
  char *text = NULL;
  assert_int_equal(nb_bs_store_evidence_json(f.st, "dev1", &text), NB_OK);
  json_t *j = json_loads(text, 0, NULL);
  free(text);
  assert_non_null(j);
  assert_int_equal(json_array_size(j), 3);
  json_t *last = json_array_get(j, 2);
  assert_string_equal(json_string_value(json_object_get(last, "kind")), "receipt");
  assert_string_equal(json_string_value(json_object_get(last, "cti")), hex);
  assert_true(json_string_length(json_object_get(last, "cose")) > 60);
  json_decref(j);
  /* A second bootstrap lists first. */
  request(&f, "dev1", "18");
  answer_all(&f, "dev1", R_GOOD);
  assert_int_equal(f.finished, 2);
  assert_int_equal(f.cti_changes, 1);
  char hex2[64];
  cti_hex(&f, hex2);
  assert_string_not_equal(hex, hex2);
  assert_int_equal(nb_bs_store_evidence_json(f.st, "dev1", &text), NB_OK);
  j = json_loads(text, 0, NULL);
  free(text);
  assert_int_equal(json_array_size(j), 6);
  assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "cti")), hex2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(j, 5), "cti")), hex);
  json_decref(j);
  fx_free(&f);
}

static void bad_receipt(receipt_kind rk) {
  fx f;
  fx_new(&f, true);
  fx_identity(&f, true);
  request(&f, "dev1", "18");
  answer_all(&f, "dev1", rk);
  assert_int_equal(f.finished, 0);
  assert_int_equal(f.failed, 1);
  assert_string_equal(f.fail_step, "receipt");
  assert_int_equal(f.fail_err, NB_ERR_DTLS_PEER_REJECTED);
  assert_int_equal(f.gets_receipt, 1);
  assert_int_equal(f.finishes, 0);
  ev_count c = {.f = &f};
  assert_int_equal(nb_bs_store_evidence_each(f.st, "dev1", count_row, &c), NB_OK);
  assert_int_equal(c.writes + c.receipts, 0);
  assert_false(nb_bs_engine_busy(f.bs, "dev1"));
  fx_free(&f);
}

static void test_receipt_other_key(void **state) {
  (void)state;
  bad_receipt(R_OTHER_KEY);
}
static void test_receipt_wrong_iss(void **state) {
  (void)state;
  bad_receipt(R_WRONG_ISS);
}
static void test_receipt_other_cti(void **state) {
  (void)state;
  bad_receipt(R_OTHER_CTI);
}

/* The device answers the receipt read with an error: FAILED at "receipt" with its code. */
static void test_receipt_refused(void **state) {
  (void)state;
  fx f;
  fx_new(&f, true);
  fx_identity(&f, true);
  request(&f, "dev1", "18");
  answer_all(&f, "dev1", R_REFUSE);
  assert_int_equal(f.failed, 1);
  assert_string_equal(f.fail_step, "receipt");
  assert_int_equal(f.finished, 0);
  assert_int_equal(f.finishes, 0);
  fx_free(&f);
}

/* A fresh bootstrap-account key: the receipt is read before that write replaces the key the
 * device signs with, and the evidence keeps the wire order. */
static void test_receipt_before_fresh_key(void **state) {
  (void)state;
  fx f;
  fx_new_cfg(&f, true, true);
  fx_identity(&f, true);
  request(&f, "dev1", "18");
  answer_all(&f, "dev1", R_GOOD);
  assert_int_equal(f.finished, 1);
  assert_string_equal(f.order, "G/0 D/0 D/1 P/0/1 P/1/0 G/1 P/0/0 F ");
  assert_int_equal(f.puts_signed, 3);
  assert_int_equal(f.cti_changes, 0);
  ev_count c = {.f = &f};
  assert_int_equal(nb_bs_store_evidence_each(f.st, "dev1", count_row, &c), NB_OK);
  assert_int_equal(c.writes, 3);
  assert_int_equal(c.receipts, 1);
  fx_free(&f);
}

/* pct=18 from a NoSec peer (no key to verify a receipt with): plain SenML CBOR, no receipt. */
static void test_nosec_peer_unsigned(void **state) {
  (void)state;
  fx f;
  fx_new(&f, true);
  fx_identity(&f, false);
  request(&f, "dev2", "18");
  answer_all(&f, "dev2", R_GOOD);
  assert_int_equal(f.finished, 1);
  assert_int_equal(f.puts, 2);
  assert_int_equal(f.puts_signed, 0);
  assert_int_equal(f.gets_receipt, 0);
  assert_string_equal(f.fin_cti, "");
  fx_free(&f);
}

/* pct=18 but the bootstrap server has no key: unsigned too. */
static void test_no_sign_key_unsigned(void **state) {
  (void)state;
  fx f;
  fx_new(&f, false);
  fx_identity(&f, true);
  request(&f, "dev1", "18");
  answer_all(&f, "dev1", R_GOOD);
  assert_int_equal(f.finished, 1);
  assert_int_equal(f.puts_signed, 0);
  assert_int_equal(f.gets_receipt, 0);
  fx_free(&f);
}

/* pct=112 from an RPK peer: unchanged (no signatures, no receipt, no evidence). */
static void test_pct112_unchanged(void **state) {
  (void)state;
  fx f;
  fx_new(&f, true);
  fx_identity(&f, true);
  request(&f, "dev1", "112");
  answer_all(&f, "dev1", R_GOOD);
  assert_int_equal(f.finished, 1);
  assert_int_equal(f.puts, 2);
  assert_int_equal(f.puts_signed, 0);
  assert_int_equal(f.gets_receipt, 0);
  ev_count c = {.f = &f};
  assert_int_equal(nb_bs_store_evidence_each(f.st, "dev1", count_row, &c), NB_OK);
  assert_int_equal(c.writes + c.receipts, 0);
  fx_free(&f);
}

/* The receipt read is lost: the sequence restarts with a new cti, and only the attempt that
 * finished leaves evidence. */
static void test_lost_receipt_new_cti(void **state) {
  (void)state;
  fx f;
  fx_new(&f, true);
  fx_identity(&f, true);
  request(&f, "dev1", "18");
  answer_all(&f, "dev1", R_NONE);
  assert_int_equal(f.gets_receipt, 1);
  uint8_t first[NB_BS_CTI_LEN];
  memcpy(first, f.cti, NB_BS_CTI_LEN);
  /* Retransmissions of the GET go unanswered until the engine restarts the sequence... */
  for (int i = 0; i < 40 && f.cti_changes == 0; i++) {
    f.now = nb_bs_engine_next_deadline(f.bs);
    nb_bs_engine_tick(f.bs, f.now);
    answer_all(&f, "dev1", R_NONE);
  }
  assert_int_equal(f.cti_changes, 1);
  assert_int_equal(f.puts, 4);
  assert_int_equal(f.finished, 0);
  /* ...whose receipt read (retransmitted) is then answered for the new cti. */
  for (int i = 0; i < 10 && !f.finished; i++) {
    f.now = nb_bs_engine_next_deadline(f.bs);
    nb_bs_engine_tick(f.bs, f.now);
    answer_all(&f, "dev1", R_GOOD);
  }
  assert_int_equal(f.finished, 1);
  assert_int_equal(f.failed, 0);
  assert_memory_not_equal(first, f.cti, NB_BS_CTI_LEN);
  char hex[64];
  cti_hex(&f, hex);
  assert_string_equal(f.fin_cti, hex);
  ev_count c = {.f = &f};
  assert_int_equal(nb_bs_store_evidence_each(f.st, "dev1", count_row, &c), NB_OK);
  assert_int_equal(c.writes, 2);
  assert_int_equal(c.receipts, 1);
  assert_string_equal(c.cti, hex);
  fx_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_signed_good),         cmocka_unit_test(test_receipt_other_key),
      cmocka_unit_test(test_receipt_wrong_iss),   cmocka_unit_test(test_receipt_other_cti),
      cmocka_unit_test(test_receipt_refused),     cmocka_unit_test(test_receipt_before_fresh_key),
      cmocka_unit_test(test_nosec_peer_unsigned), cmocka_unit_test(test_no_sign_key_unsigned),
      cmocka_unit_test(test_pct112_unchanged),    cmocka_unit_test(test_lost_receipt_new_cti),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
