/* Firmware Update (object 5) in-process over the simulated network, virtual clock: the package
 * pushed by Block1 Write and pulled by Block2 from a file server node, each streamed block by
 * block into a memory storage that records the largest single write (never the whole image),
 * signed images (COSE_Sign1 manifest + image) verified against the trust anchor, the failure
 * results of LwM2M 1.1 E.6 (tampered image and wrong signature -> 5, malformed envelope -> 6,
 * too large -> 2, storage failure -> 3, link lost -> 4 after resumptions, invalid URI -> 7,
 * unsupported protocol -> 9), resumption of a pull that lost its link, http(s) pulls through the
 * application's fetch function, and the built-in install: /3/0/3 bumped, registered anew. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/crypto.h>

#include "client/fw_image.h"
#include "client_node.h"
#include "coap/block.h"
#include "dtls/cred.h"
#include "dtls/keys.h"
#include "lwm2m_scripted_server.h"
#include "niobium/client.h"
#include "niobium/objects.h"
#include "simnet.h"

#define IMG_LEN 20000

typedef struct {
  nb_bytes data;
  bool finished;
  int begins, discards;
  size_t max_write;
  size_t fail_at; /* a write past this many bytes fails (0 = never) */
  nb_err fail_with;
} memstore;

typedef struct {
  nb_simnet *net;
  nb_ss srv;
  nb_dtls_creds *screds; /* the server's, in DTLS mode */
  nb_client *c;
  nb_simnet_node *node;
  nb_addr caddr;
  memstore st;
  nb_dtls_keypair key, other;
  /* install */
  int applied;
  nb_err apply_result;
  nb_fw_state state_at_apply;
  nb_client_fw_image img;
  char img_version[64];
  /* file server */
  nb_coap_ep *files;
  nb_simnet_node *files_node;
  uint8_t *image; /* the raw image */
  nb_bytes pkg;   /* the package the file server serves and the tests push */
  nb_addr faddr;
  int file_answers;       /* datagrams the file server sent */
  uint8_t to_srv_code;    /* code of the device's latest datagram to its server */
  int drop_from, drop_to; /* its datagrams number (drop_from, drop_to] are lost */
  /* http fetch */
  int fetches;
  uint64_t fetch_from;
  int fetch_cancels;
} fx;

/* ---- storage in memory ---- */

static nb_err ms_begin(void *user) {
  memstore *m = user;
  m->begins++;
  m->data.len = 0;
  m->finished = false;
  return NB_OK;
}

static nb_err ms_write(void *user, const uint8_t *d, size_t len) {
  memstore *m = user;
  if (len > m->max_write) m->max_write = len;
  if (m->fail_at && m->data.len + len > m->fail_at) return m->fail_with;
  return nb_bytes_append(&m->data, d, len);
}

static nb_err ms_finish(void *user) {
  memstore *m = user;
  m->finished = true;
  return NB_OK;
}

static void ms_discard(void *user) {
  memstore *m = user;
  m->discards++;
  m->data.len = 0;
  m->finished = false;
}

/* ---- network and file server ---- */

static bool tap(void *user, const nb_addr *from, const nb_addr *to, const uint8_t *data, size_t len,
                nb_time_ms now) {
  fx *f = user;
  (void)now;
  if (nb_addr_equal(from, &f->caddr) && nb_addr_equal(to, &f->srv.addr) && len >= 4)
    f->to_srv_code = data[1]; /* the code of the device's latest datagram to its server */
  if (!nb_addr_equal(from, &f->faddr)) return true;
  f->file_answers++;
  return !(f->file_answers > f->drop_from && f->file_answers <= f->drop_to);
}

static void files_handler(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                          const nb_coap_msg *req, nb_time_ms now) {
  fx *f = user;
  (void)peer;
  char path[64];
  nb_coap_msg r;
  nb_coap_msg_init(&r, NB_COAP_ACK, NB_COAP_NOT_FOUND, 0);
  if (nb_coap_msg_get_path(req, NB_COAP_OPT_URI_PATH, path, sizeof path) == NB_OK &&
      strcmp(path, "/fw/pkg") == 0) {
    r.code = NB_COAP_CONTENT;
    nb_coap_msg_set_payload(&r, f->pkg.data, f->pkg.len);
  }
  nb_coap_exchange_respond(ex, &r, now);
}

/* ---- install and http ---- */

static nb_err fw_apply(void *user, const nb_client_fw_image *img, nb_time_ms now) {
  fx *f = user;
  (void)now;
  f->applied++;
  nb_client_firmware_status(f->c, &f->state_at_apply, NULL);
  f->img = *img;
  snprintf(f->img_version, sizeof f->img_version, "%s", img->version ? img->version : "");
  return f->apply_result;
}

static nb_err fw_fetch(void *user, const char *uri, uint64_t from, nb_time_ms now) {
  fx *f = user;
  (void)uri, (void)now;
  f->fetches++;
  f->fetch_from = from;
  return NB_OK;
}

static void fw_fetch_cancel(void *user) {
  fx *f = user;
  f->fetch_cancels++;
}

/* ---- packages ---- */

static void make_image(fx *f) {
  f->image = malloc(IMG_LEN);
  assert_non_null(f->image);
  for (size_t i = 0; i < IMG_LEN; i++) f->image[i] = (uint8_t)(i * 7 + 3);
}

/* pkg = envelope signed by key over a manifest of f->image, then the image. */
static void make_signed(fx *f, const nb_dtls_keypair *key, const char *version) {
  nb_fw_manifest m;
  memset(&m, 0, sizeof m);
  snprintf(m.version, sizeof m.version, "%s", version);
  snprintf(m.vendor, sizeof m.vendor, "acme-n1");
  m.size = IMG_LEN;
  gnutls_hash_fast(GNUTLS_DIG_SHA256, f->image, IMG_LEN, m.digest);
  f->pkg.len = 0;
  assert_int_equal(nb_fw_envelope_sign(&m, key->key_der.data, key->key_der.len, &f->pkg), NB_OK);
  assert_int_equal(nb_bytes_append(&f->pkg, f->image, IMG_LEN), NB_OK);
}

typedef struct {
  bool trust, allow_unsigned, fetch, dtls;
  uint64_t max_size;
} fx_opts;

static const uint8_t PSK[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static nb_err psk_lookup(void *user, const uint8_t *id, size_t id_len, uint8_t *key, size_t cap,
                         size_t *key_len) {
  (void)user;
  if (id_len != 6 || memcmp(id, "dev-fw", 6) != 0 || cap < sizeof PSK) return NB_ERR_NOT_FOUND;
  memcpy(key, PSK, sizeof PSK);
  *key_len = sizeof PSK;
  return NB_OK;
}

static void fx_setup(fx *f, const fx_opts *o) {
  memset(f, 0, sizeof *f);
  nb_bytes_init(&f->pkg);
  nb_bytes_init(&f->st.data);
  assert_int_equal(nb_dtls_keypair_generate(&f->key), NB_OK);
  assert_int_equal(nb_dtls_keypair_generate(&f->other), NB_OK);
  make_image(f);
  make_signed(f, &f->key, "2.1.0");
  f->drop_from = f->drop_to = 0;
  f->net = nb_simnet_new(11);
  assert_non_null(f->net);
  nb_addr sa = nb_simnet_addr(1, 5683), fa = nb_simnet_addr(3, 5683);
  f->faddr = fa;
  f->caddr = nb_simnet_addr(9, 56830);
  if (o->dtls) {
    sa = nb_simnet_addr(1, 5684);
    assert_int_equal(nb_dtls_creds_new(&f->screds), NB_OK);
    nb_dtls_creds_set_psk_lookup(f->screds, psk_lookup, NULL);
    nb_ss_init_dtls(&f->srv, f->net, &sa, f->screds);
  } else {
    nb_ss_init(&f->srv, f->net, &sa);
  }
  f->node = nb_simnet_add(f->net, &f->caddr, &nb_test_client_ops, NULL);
  f->files_node = nb_simnet_add_coap(f->net, &fa, NULL, &f->files);
  nb_coap_ep_set_handler(f->files, files_handler, f);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "dev-fw";
  cfg.send = nb_simnet_send;
  cfg.send_user = f->node;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  assert_int_equal(nb_client_new(&cfg, &f->c), NB_OK);
  nb_simnet_node_set_user(f->node, f->c);
  nb_client_device_info d = {.manufacturer = "ACME",
                             .model = "N1",
                             .firmware_version = "1.0.0",
                             .battery_level = -1,
                             .memory_free_kb = -1,
                             .memory_total_kb = -1};
  assert_int_equal(nb_client_add_device(f->c, &d), NB_OK);
  nb_client_firmware_config fc = {
      .apply = fw_apply,
      .storage = {ms_begin, ms_write, ms_finish, ms_discard, &f->st},
      .user = f,
      .max_size = o->max_size ? o->max_size : 64000,
      .pkg_name = "nb-fw",
      .pkg_version = "1.0.0",
      .trust = o->trust ? f->key.spki_der.data : NULL,
      .trust_len = o->trust ? f->key.spki_der.len : 0,
      .allow_unsigned = o->allow_unsigned,
      .fetch = o->fetch ? fw_fetch : NULL,
      .fetch_cancel = o->fetch ? fw_fetch_cancel : NULL,
  };
  nb_client_firmware_config bad = fc;
  bad.storage.write = NULL;
  assert_int_equal(nb_client_add_firmware(f->c, &bad), NB_ERR_INVAL);
  assert_int_equal(nb_client_add_firmware(f->c, &fc), NB_OK);
  assert_int_equal(nb_client_add_firmware(f->c, &fc), NB_ERR_EXISTS);
  nb_client_server_params p = {.uri = "coap://10.0.0.1:5683", .ssid = 1, .lifetime = 3600};
  if (o->dtls) {
    p.uri = "coaps://10.0.0.1:5684";
    p.security_mode = 0;
    p.identity = (const uint8_t *)"dev-fw";
    p.identity_len = 6;
    p.secret = PSK;
    p.secret_len = sizeof PSK;
  }
  assert_int_equal(nb_client_add_server(f->c, &p), NB_OK);
  nb_simnet_set_tap(f->net, tap, f);
  assert_int_equal(nb_client_start(f->c, nb_simnet_now(f->net)), NB_OK);
  nb_simnet_run_until(f->net, nb_simnet_now(f->net) + 1000);
  assert_int_equal(f->srv.registers, 1);
}

static void fx_teardown(fx *f) {
  nb_ss_free(&f->srv);
  nb_simnet_free(f->net);
  if (f->screds) nb_dtls_creds_free(f->screds);
  free(f->image);
  nb_bytes_free(&f->pkg);
  nb_bytes_free(&f->st.data);
  nb_dtls_keypair_free(&f->key);
  nb_dtls_keypair_free(&f->other);
}

static const fx_opts TRUSTED = {.trust = true};

/* ---- requests ---- */

/* A text/plain request; returns the code and copies the payload into buf. */
static uint8_t txt(fx *f, uint8_t method, const char *path, const char *body, char *buf,
                   size_t cap) {
  nb_ss_answer a;
  nb_ss_request(&f->srv, method, path, body ? NB_COAP_CF_TEXT : NB_COAP_CF_NONE,
                method == NB_COAP_GET ? NB_COAP_CF_TEXT : NB_COAP_CF_NONE, NULL, body,
                body ? strlen(body) : 0, &a);
  uint8_t code = a.code;
  if (buf) snprintf(buf, cap, "%s", a.payload ? (char *)a.payload : "");
  nb_ss_answer_free(&a);
  return code;
}

static void expect_read(fx *f, const char *path, const char *want) {
  char got[128];
  assert_int_equal(txt(f, NB_COAP_GET, path, NULL, got, sizeof got), NB_COAP_CONTENT);
  if (strcmp(got, want) != 0) fail_msg("%s: got '%s', wanted '%s'", path, got, want);
}

static void expect_fw(fx *f, nb_fw_state st, nb_fw_result res) {
  nb_fw_state s;
  nb_fw_result r;
  assert_int_equal(nb_client_firmware_status(f->c, &s, &r), NB_OK);
  if (s != st || r != res) fail_msg("firmware state %d result %d, wanted %d %d", s, r, st, res);
  char want[8];
  snprintf(want, sizeof want, "%d", (int)st);
  expect_read(f, "/5/0/3", want);
  snprintf(want, sizeof want, "%d", (int)res);
  expect_read(f, "/5/0/5", want);
}

static uint8_t push(fx *f, const uint8_t *data, size_t len) {
  nb_ss_answer a;
  nb_ss_request(&f->srv, NB_COAP_PUT, "/5/0/0", NB_COAP_CF_OCTET_STREAM, NB_COAP_CF_NONE, NULL,
                data, len, &a);
  uint8_t code = a.code;
  nb_ss_answer_free(&a);
  return code;
}

static void pull(fx *f, const char *uri) {
  assert_int_equal(txt(f, NB_COAP_PUT, "/5/0/1", uri, NULL, 0), NB_COAP_CHANGED);
}

#define PKG_URI "coap://10.0.0.3:5683/fw/pkg"

/* The stored package is the one sent, and no write ever held more than one block. */
static void expect_stored(fx *f) {
  assert_true(f->st.finished);
  assert_int_equal(f->st.data.len, f->pkg.len);
  assert_memory_equal(f->st.data.data, f->pkg.data, f->pkg.len);
  assert_true(f->st.max_write <= 1024);
}

/* Execute Update with the built-in outcome: success, /3/0/3 is the manifest's, registered
 * anew. */
static void expect_install(fx *f, const char *version) {
  int regs = f->srv.registers;
  f->apply_result = NB_OK;
  assert_int_equal(txt(f, NB_COAP_POST, "/5/0/2", NULL, NULL, 0), NB_COAP_CHANGED);
  nb_simnet_run_until(f->net, nb_simnet_now(f->net) + 2000);
  assert_int_equal(f->applied, 1);
  assert_int_equal(f->state_at_apply, NB_FW_STATE_UPDATING);
  assert_true(f->img.is_signed);
  assert_string_equal(f->img_version, version);
  assert_int_equal(f->img.image_size, IMG_LEN);
  assert_int_equal(f->img.image_offset, f->pkg.len - IMG_LEN);
  expect_fw(f, NB_FW_STATE_IDLE, NB_FW_RESULT_SUCCESS);
  expect_read(f, "/3/0/3", version);
  assert_int_equal(f->srv.registers, regs + 1);
}

/* ---- tests ---- */

static void test_push_signed(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, &TRUSTED);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INITIAL);
  expect_read(&f, "/5/0/6", "nb-fw");
  expect_read(&f, "/5/0/7", "1.0.0");
  expect_read(&f, "/5/0/9", "2");
  expect_read(&f, "/3/0/3", "1.0.0");
  /* Execute with nothing downloaded is refused. */
  assert_int_equal(txt(&f, NB_COAP_POST, "/5/0/2", NULL, NULL, 0), NB_COAP_BAD_REQUEST);
  assert_int_equal(push(&f, f.pkg.data, f.pkg.len), NB_COAP_CHANGED);
  expect_fw(&f, NB_FW_STATE_DOWNLOADED, NB_FW_RESULT_INITIAL);
  expect_stored(&f);
  expect_read(&f, "/5/0/6", "acme-n1");
  expect_read(&f, "/5/0/7", "2.1.0");
  expect_install(&f, "2.1.0");
  assert_int_equal(f.st.data.len, 0); /* installed: the package is gone */
  fx_teardown(&f);
}

static void test_push_failures(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, &TRUSTED);
  /* A failing install: result 8, the package stays Downloaded for another Execute. */
  assert_int_equal(push(&f, f.pkg.data, f.pkg.len), NB_COAP_CHANGED);
  f.apply_result = NB_ERR_IO;
  assert_int_equal(txt(&f, NB_COAP_POST, "/5/0/2", NULL, NULL, 0), NB_COAP_CHANGED);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
  expect_fw(&f, NB_FW_STATE_DOWNLOADED, NB_FW_RESULT_FAILED);
  expect_read(&f, "/3/0/3", "1.0.0");
  /* An empty package resets. */
  assert_int_equal(push(&f, (const uint8_t *)"", 0), NB_COAP_CHANGED);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INITIAL);
  assert_int_equal(f.st.data.len, 0);
  /* Tampered: one image byte changed -> integrity failure, nothing kept. */
  f.pkg.data[f.pkg.len - 100] ^= 1;
  assert_int_equal(push(&f, f.pkg.data, f.pkg.len), NB_COAP_CHANGED);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INTEGRITY);
  assert_false(f.st.finished);
  /* Truncated: the manifest's size is not met. */
  make_signed(&f, &f.key, "2.1.1");
  assert_int_equal(push(&f, f.pkg.data, f.pkg.len - 1), NB_COAP_CHANGED);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INTEGRITY);
  /* Signed by another key. */
  make_signed(&f, &f.other, "6.6.6");
  assert_int_equal(push(&f, f.pkg.data, f.pkg.len), NB_COAP_CHANGED);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INTEGRITY);
  /* A raw image while unsigned ones are not allowed. */
  assert_int_equal(push(&f, f.image, IMG_LEN), NB_COAP_CHANGED);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INTEGRITY);
  /* Something that starts as a COSE tag and is not one: unsupported package type. */
  uint8_t junk[3000];
  memset(junk, 0xff, sizeof junk);
  junk[0] = NB_FW_COSE_FIRST;
  assert_int_equal(push(&f, junk, sizeof junk), NB_COAP_CHANGED);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_UNSUPPORTED_TYPE);
  assert_int_equal(f.applied, 1);
  fx_teardown(&f);
}

static void test_push_too_large(void **state) {
  (void)state;
  fx_opts o = {.trust = true, .max_size = 10000};
  fx f;
  fx_setup(&f, &o);
  /* Size1 tells it at the first block: 4.13 with the limit, result 2, nothing stored. */
  assert_int_equal(push(&f, f.pkg.data, f.pkg.len), NB_COAP_REQUEST_ENTITY_TOO_LARGE);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_NO_STORAGE);
  assert_int_equal(f.st.data.len, 0);
  /* Storage that fills up (the disk, not the limit): result 2; out of memory: result 3. */
  fx_teardown(&f);
  fx_setup(&f, &TRUSTED);
  f.st.fail_at = 5000;
  f.st.fail_with = NB_ERR_IO;
  assert_int_equal(push(&f, f.pkg.data, f.pkg.len), NB_COAP_REQUEST_ENTITY_TOO_LARGE);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_NO_STORAGE);
  f.st.fail_with = NB_ERR_NOMEM;
  assert_int_equal(push(&f, f.pkg.data, f.pkg.len), NB_COAP_INTERNAL_SERVER_ERROR);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_NO_MEMORY);
  fx_teardown(&f);
}

static bool blocks_stored(void *user) {
  const fx *f = user;
  return f->st.data.len >= 4096;
}

/* A server that stops pushing halfway: a block out of sequence gets 4.08, and 300 s without a
 * block end the download with result 4. */
static void test_push_stalled(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, &TRUSTED);
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_PUT, 0);
  nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/5/0/0");
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_OCTET_STREAM);
  nb_coap_msg_set_payload(&m, f.pkg.data, f.pkg.len);
  nb_ct_resp r;
  memset(&r, 0, sizeof r);
  nb_coap_req_id id;
  assert_int_equal(nb_coap_ep_request(f.srv.ep, &f.srv.client, &m, true, nb_ct_resp_cb, &r,
                                      nb_simnet_now(f.net), &id),
                   NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, nb_simnet_now(f.net) + 10000, blocks_stored, &f));
  nb_coap_ep_cancel(f.srv.ep, id, false, nb_simnet_now(f.net));
  nb_ct_resp_free(&r);
  expect_fw(&f, NB_FW_STATE_DOWNLOADING, NB_FW_RESULT_INITIAL);
  /* A block far ahead of the ones stored (sent raw: the CoAP layer would not let us) gets 4.08
   * and changes nothing. */
  uint8_t blk[1024] = {0}, dgram[1200];
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_PUT, 0xbeef);
  nb_coap_msg_set_token(&m, (const uint8_t *)"tok", 3);
  nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/5/0/0");
  nb_coap_block b = {10, true, 6};
  nb_coap_block_add(&m, NB_COAP_OPT_BLOCK1, &b);
  nb_coap_msg_set_payload(&m, blk, sizeof blk);
  nb_simnet_send(f.srv.node, &f.caddr, dgram, nb_ct_serialize(&m, dgram, sizeof dgram));
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
  assert_int_equal(f.to_srv_code, NB_COAP_REQUEST_ENTITY_INCOMPLETE);
  expect_fw(&f, NB_FW_STATE_DOWNLOADING, NB_FW_RESULT_INITIAL);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 310000);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_CONNECTION_LOST);
  assert_int_equal(f.st.data.len, 0);
  fx_teardown(&f);
}

static void test_unsigned_allowed(void **state) {
  (void)state;
  fx_opts o = {.allow_unsigned = true};
  fx f;
  fx_setup(&f, &o);
  assert_int_equal(push(&f, f.image, IMG_LEN), NB_COAP_CHANGED);
  expect_fw(&f, NB_FW_STATE_DOWNLOADED, NB_FW_RESULT_INITIAL);
  expect_read(&f, "/5/0/7", "1.0.0"); /* a raw image names no version */
  f.apply_result = NB_OK;
  assert_int_equal(txt(&f, NB_COAP_POST, "/5/0/2", NULL, NULL, 0), NB_COAP_CHANGED);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
  assert_false(f.img.is_signed);
  assert_int_equal(f.img.image_size, IMG_LEN);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_SUCCESS);
  expect_read(&f, "/3/0/3", "1.0.0");
  fx_teardown(&f);
}

static void test_pull_coap(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, &TRUSTED);
  pull(&f, PKG_URI);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 10000);
  expect_fw(&f, NB_FW_STATE_DOWNLOADED, NB_FW_RESULT_INITIAL);
  expect_read(&f, "/5/0/1", PKG_URI);
  expect_stored(&f);
  assert_int_equal(f.file_answers, (int)((f.pkg.len + 1023) / 1024));
  expect_install(&f, "2.1.0");
  fx_teardown(&f);
}

/* coaps:// to the device's server: the DTLS session of its account carries the download. */
static void test_pull_coaps_from_server(void **state) {
  (void)state;
  fx_opts o = {.trust = true, .dtls = true};
  fx f;
  fx_setup(&f, &o);
  f.srv.file_path = "/fw/pkg";
  f.srv.file = f.pkg.data;
  f.srv.file_len = f.pkg.len;
  pull(&f, "coaps://10.0.0.1:5684/fw/pkg");
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 20000);
  expect_fw(&f, NB_FW_STATE_DOWNLOADED, NB_FW_RESULT_INITIAL);
  expect_stored(&f);
  assert_true(f.srv.file_gets >= 1);
  assert_int_equal(f.srv.dtls_established, 1); /* the one session of the account */
  expect_install(&f, "2.1.0");
  fx_teardown(&f);
}

static void test_pull_uri_errors(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, &TRUSTED);
  expect_read(&f, "/5/0/8/0", "0");
  expect_read(&f, "/5/0/8/1", "1");
  assert_int_equal(txt(&f, NB_COAP_GET, "/5/0/8/2", NULL, NULL, 0), NB_COAP_NOT_FOUND);
  pull(&f, "http://10.0.0.3/fw"); /* no fetch function: http is not supported */
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_UNSUPPORTED_PROTOCOL);
  pull(&f, "ftp://10.0.0.3/fw");
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_UNSUPPORTED_PROTOCOL);
  pull(&f, "coaps://10.0.0.3:5684/fw"); /* not one of the device's servers */
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_UNSUPPORTED_PROTOCOL);
  pull(&f, "not a uri");
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INVALID_URI);
  pull(&f, "coap://no.such.host/fw");
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INVALID_URI);
  pull(&f, "coap://10.0.0.3:5683/missing");
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 5000);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INVALID_URI);
  fx_teardown(&f);
  /* Size2 of the first block beyond the limit: result 2 before anything more is fetched. */
  fx_opts o = {.trust = true, .max_size = 10000};
  fx_setup(&f, &o);
  pull(&f, PKG_URI);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 5000);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_NO_STORAGE);
  assert_int_equal(f.file_answers, 1);
  fx_teardown(&f);
}

static void test_pull_resumes(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, &TRUSTED);
  /* The file server's answers 4..40 are lost (a minute of outage): CoAP gives the block up
   * once, the download resumes at that block and completes. */
  f.drop_from = 3;
  f.drop_to = 12;
  nb_time_ms t0 = nb_simnet_now(f.net);
  pull(&f, PKG_URI);
  nb_simnet_run_until(f.net, t0 + 30000);
  expect_fw(&f, NB_FW_STATE_DOWNLOADING, NB_FW_RESULT_INITIAL);
  /* A second URI while downloading is refused. */
  assert_int_equal(txt(&f, NB_COAP_PUT, "/5/0/1", PKG_URI, NULL, 0), NB_COAP_BAD_REQUEST);
  nb_simnet_run_until(f.net, t0 + 400000);
  expect_fw(&f, NB_FW_STATE_DOWNLOADED, NB_FW_RESULT_INITIAL);
  expect_stored(&f);
  assert_int_equal(f.st.begins, 1); /* resumed, not started over */
  fx_teardown(&f);
}

static void test_pull_link_lost(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, &TRUSTED);
  f.drop_from = 2;
  f.drop_to = 1000000; /* for good */
  nb_time_ms t0 = nb_simnet_now(f.net);
  pull(&f, PKG_URI);
  nb_simnet_run_until(f.net, t0 + 1000000);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_CONNECTION_LOST);
  assert_int_equal(f.applied, 0);
  assert_int_equal(f.st.data.len, 0);
  assert_int_equal(txt(&f, NB_COAP_POST, "/5/0/2", NULL, NULL, 0), NB_COAP_BAD_REQUEST);
  /* Writing an empty URI during a download cancels it. */
  f.drop_to = 0;
  f.drop_from = f.file_answers + 2;
  f.drop_to = 1000000;
  pull(&f, PKG_URI);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 10000);
  expect_fw(&f, NB_FW_STATE_DOWNLOADING, NB_FW_RESULT_INITIAL);
  assert_int_equal(txt(&f, NB_COAP_PUT, "/5/0/1", "", NULL, 0), NB_COAP_CHANGED);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INITIAL);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000000);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INITIAL);
  fx_teardown(&f);
}

static void test_pull_http(void **state) {
  (void)state;
  fx_opts o = {.trust = true, .fetch = true};
  fx f;
  fx_setup(&f, &o);
  expect_read(&f, "/5/0/8/3", "3");
  pull(&f, "https://files.example/fw.bin");
  assert_int_equal(f.fetches, 1);
  assert_int_equal(f.fetch_from, 0);
  expect_fw(&f, NB_FW_STATE_DOWNLOADING, NB_FW_RESULT_INITIAL);
  nb_time_ms now = nb_simnet_now(f.net);
  assert_int_equal(nb_client_firmware_data(f.c, f.pkg.data, 7000, now), NB_OK);
  /* The link breaks: the engine asks again from byte 7000. */
  nb_client_firmware_fetched(f.c, NB_ERR_IO, 0, now);
  assert_int_equal(f.fetches, 2);
  assert_int_equal(f.fetch_from, 7000);
  assert_int_equal(nb_client_firmware_data(f.c, f.pkg.data + 7000, f.pkg.len - 7000, now), NB_OK);
  nb_client_firmware_fetched(f.c, NB_OK, 206, now);
  expect_fw(&f, NB_FW_STATE_DOWNLOADED, NB_FW_RESULT_INITIAL);
  assert_int_equal(f.st.data.len, f.pkg.len);
  assert_memory_equal(f.st.data.data, f.pkg.data, f.pkg.len);
  /* No host, or a space: invalid URI, nothing fetched. */
  int fetches = f.fetches;
  pull(&f, "http:///fw.bin");
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INVALID_URI);
  pull(&f, "https://files.example/a b");
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INVALID_URI);
  assert_int_equal(f.fetches, fetches);
  /* A 404: invalid URI. Data after the engine gave up is refused. */
  pull(&f, "http://files.example/none");
  nb_client_firmware_fetched(f.c, NB_OK, 404, now);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INVALID_URI);
  assert_int_equal(nb_client_firmware_data(f.c, f.pkg.data, 10, now), NB_ERR_STATE);
  /* A fetch that never progresses: resumed, then result 4 (300 s without progress each). */
  pull(&f, "http://files.example/slow");
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 5 * 300000);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_CONNECTION_LOST);
  assert_true(f.fetch_cancels >= 4);
  fx_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_push_signed),
      cmocka_unit_test(test_push_failures),
      cmocka_unit_test(test_push_too_large),
      cmocka_unit_test(test_push_stalled),
      cmocka_unit_test(test_unsigned_allowed),
      cmocka_unit_test(test_pull_coap),
      cmocka_unit_test(test_pull_coaps_from_server),
      cmocka_unit_test(test_pull_uri_errors),
      cmocka_unit_test(test_pull_resumes),
      cmocka_unit_test(test_pull_link_lost),
      cmocka_unit_test(test_pull_http),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
