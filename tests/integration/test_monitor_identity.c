/* Device tracking with DTLS identities, on crafted captures: DTLS 1.2 sessions whose records
 * are sealed here with keys derived from the PSK (RFC 4279, RFC 5246 5/6.3) or from a logged
 * master secret, carrying Register exchanges. The device takes the identity of the session
 * it registers over (PSK identity, raw public key secure ID, certificate subject); its events
 * carry it; re-registering with another identity (or with none) while registered raises
 * endpoint-hijack, the same identity from a new session does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bootstrap/config_store.h"
#include "dtls/record.h"
#include "monitor/capture.h"
#include "monitor/evjson.h"
#include "monitor/monitor.h"
#include "nb_test.h"
#include "pcap_craft.h"
#include "store/sqlite.h"
#include "test_pki.h"

#define SRV "10.0.0.1:5684"
#define SRV_PLAIN "10.0.0.1:5683"

static nb_test_pki K;
static char t_dir[256];

static int t_setup(void **state) {
  (void)state;
  const char *names[] = {"lwm2m.test"};
  snprintf(t_dir, sizeof t_dir, "/tmp/nb_monitor_id_XXXXXX");
  if (!mkdtemp(t_dir)) return -1;
  return nb_test_pki_make(&K, "meter7-cert", names, 1) == NB_OK ? 0 : -1;
}

static int t_teardown(void **state) {
  (void)state;
  nb_test_pki_free(&K);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", t_dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* ---- sessions ---- */

typedef struct {
  nb_pcap_craft *c;
  int64_t t_us;
  uint16_t mid;
  uint8_t key[2][16], iv[2][4]; /* [0] client write, [1] server write */
  uint64_t seq[2];
} t_sess;

static void t_randoms(uint8_t cr[32], uint8_t sr[32]) {
  for (int i = 0; i < 32; i++) { /* what pcap_craft's hellos carry */
    cr[i] = (uint8_t)(i * 7);
    sr[i] = (uint8_t)(i * 3);
  }
}

static void t_keys_from_master(t_sess *s, const uint8_t master[48]) {
  uint8_t cr[32], sr[32], seed[64], block[40];
  t_randoms(cr, sr);
  memcpy(seed, sr, 32);
  memcpy(seed + 32, cr, 32);
  nb_dtls_prf_sha256(master, 48, "key expansion", seed, 64, block, sizeof block);
  memcpy(s->key[0], block, 16);
  memcpy(s->key[1], block + 16, 16);
  memcpy(s->iv[0], block + 32, 4);
  memcpy(s->iv[1], block + 36, 4);
  s->seq[0] = s->seq[1] = 1;
}

static void t_udp(t_sess *s, const char *from, const char *to, const uint8_t *d, size_t n) {
  assert_true(n > 0);
  assert_int_equal(nb_craft_udp(s->c, s->t_us, from, to, d, n, NULL), NB_OK);
  s->t_us += 5000;
}

static void t_hellos(t_sess *s, const char *client, uint16_t suite, int cert_type) {
  uint8_t rec[512];
  uint16_t suites[] = {suite};
  t_udp(s, client, SRV, rec, nb_craft_dtls_client_hello(rec, 0, 0, suites, 1));
  t_udp(s, SRV, client, rec, nb_craft_dtls_server_hello(rec, 0, suite, cert_type));
}

/* A full PSK handshake (TLS_PSK_WITH_AES_128_CCM_8) as far as the monitor needs it. */
static void t_psk_session(t_sess *s, const char *client, const char *identity, uint8_t key_byte) {
  uint8_t rec[512], psk[16], pms[2 + 16 + 2 + 16] = {0}, cr[32], sr[32], seed[64], master[48];
  memset(psk, key_byte, sizeof psk);
  pms[1] = 16;
  pms[19] = 16;
  memcpy(pms + 20, psk, 16);
  t_randoms(cr, sr);
  memcpy(seed, cr, 32);
  memcpy(seed + 32, sr, 32);
  nb_dtls_prf_sha256(pms, sizeof pms, "master secret", seed, 64, master, sizeof master);
  t_hellos(s, client, 0xC0A8, -1);
  t_udp(s, client, SRV, rec, nb_craft_dtls_psk_cke(rec, 1, identity));
  t_keys_from_master(s, master);
}

/* An ECDHE-ECDSA handshake whose client presents `der` (SPKI, or a certificate with x509);
 * the master secret goes to the key log. */
static void t_cert_session(t_sess *s, nb_mon_psks *keylog, const char *client, const uint8_t *der,
                           size_t len, bool x509) {
  static uint8_t rec[4200];
  uint8_t master[48], cr[32], sr[32];
  memset(master, 0x42, sizeof master);
  t_randoms(cr, sr);
  assert_int_equal(nb_mon_psks_add_master(keylog, cr, master), NB_OK);
  t_hellos(s, client, 0xC0AE, x509 ? 0 : 2);
  t_udp(s, client, SRV, rec, nb_craft_dtls_certificate(rec, 1, der, len, x509));
  t_keys_from_master(s, master);
}

/* One CoAP message sealed in the session, from the client or the server. */
static void t_app(t_sess *s, const char *client, bool from_client, const nb_coap_msg *msg) {
  uint8_t plain[512], rec[600];
  size_t n = 0;
  assert_int_equal(nb_coap_serialize(msg, plain, sizeof plain, &n), NB_OK);
  int dir = from_client ? 0 : 1;
  size_t len = nb_craft_dtls_ccm8(rec, 23, 1, s->seq[dir]++, s->key[dir], s->iv[dir], plain, n);
  if (from_client)
    t_udp(s, client, SRV, rec, len);
  else
    t_udp(s, SRV, client, rec, len);
}

static void t_register(t_sess *s, const char *client, const char *ep, const char *loc) {
  static nb_coap_msg msg;
  char query[64];
  snprintf(query, sizeof query, "ep=%s&lt=300", ep);
  uint16_t mid = ++s->mid;
  nb_craft_msg(&msg, NB_COAP_CON, NB_COAP_POST, mid, mid, "/rd", query, 40, "</3/0>", 6);
  t_app(s, client, true, &msg);
  nb_craft_msg(&msg, NB_COAP_ACK, NB_COAP_CREATED, mid, mid, NULL, NULL, -1, NULL, 0);
  assert_int_equal(nb_coap_msg_add_path(&msg, NB_COAP_OPT_LOCATION_PATH, loc), NB_OK);
  t_app(s, client, false, &msg);
}

static void t_read(t_sess *s, const char *client) {
  static nb_coap_msg msg;
  uint16_t mid = ++s->mid;
  nb_craft_msg(&msg, NB_COAP_CON, NB_COAP_GET, mid, mid, "/3/0/0", NULL, -1, NULL, 0);
  t_app(s, client, false, &msg);
  nb_craft_msg(&msg, NB_COAP_ACK, NB_COAP_CONTENT, mid, mid, NULL, NULL, 0, "acme", 4);
  t_app(s, client, true, &msg);
}

/* ---- the monitor's view ---- */

typedef struct {
  nb_bytes json;
  size_t hijacks, undecrypted;
  char hijack_msg[256];
} t_sink;

static void t_on_event(const nb_mon_event *ev, void *user) {
  t_sink *s = user;
  assert_int_equal(nb_mon_event_to_json(ev, NULL, &s->json), NB_OK);
  assert_int_equal(nb_bytes_append(&s->json, "\n", 1), NB_OK);
  if (ev->kind == NB_MON_EV_ALERT && ev->rule == NB_RULE_ENDPOINT_HIJACK) {
    s->hijacks++;
    snprintf(s->hijack_msg, sizeof s->hijack_msg, "%s", ev->message);
  }
  if (ev->kind == NB_MON_EV_DTLS && strstr(ev->dtls_detail, "cannot decrypt")) s->undecrypted++;
}

/* Runs the monitor over the file with these keys; the device's identity into id. */
static void t_run(const char *file, const nb_mon_psks *keys, t_sink *s, char *id, size_t cap) {
  memset(s, 0, sizeof *s);
  nb_bytes_init(&s->json);
  nb_mon_config cfg = {.psks = keys};
  nb_monitor *m = nb_monitor_new(&cfg, t_on_event, s);
  assert_non_null(m);
  char why[256] = "";
  if (nb_mon_read_file(m, file, NULL, why, sizeof why)) fail_msg("read %s: %s", file, why);
  const char *got = nb_monitor_device_identity(m, "meter7");
  snprintf(id, cap, "%s", got ? got : "(unknown device)");
  nb_monitor_free(m);
  assert_int_equal(s->undecrypted, 0);
}

static size_t t_lines_with(const t_sink *s, const char *a, const char *b) {
  size_t n = 0;
  const char *text = (const char *)s->json.data;
  for (const char *line = text; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    char one[4096];
    snprintf(one, sizeof one, "%.*s", (int)len, line);
    if (strstr(one, a) && (!b || strstr(one, b))) n++;
    line = end ? end + 1 : NULL;
  }
  return n;
}

static nb_mon_psks *t_psks(void) {
  nb_mon_psks *p = nb_mon_psks_new();
  assert_non_null(p);
  uint8_t k1[16], k2[16];
  memset(k1, 0x11, sizeof k1);
  memset(k2, 0x22, sizeof k2);
  assert_int_equal(nb_mon_psks_add(p, (const uint8_t *)"meter7-id", 9, k1, 16), NB_OK);
  assert_int_equal(nb_mon_psks_add(p, (const uint8_t *)"evil-id", 7, k2, 16), NB_OK);
  return p;
}

static nb_pcap_craft *t_open(const char *name, char *path, size_t cap) {
  snprintf(path, cap, "%s/%s", t_dir, name);
  nb_pcap_craft *c = nb_craft_open(path, 1, false);
  assert_non_null(c);
  return c;
}

/* The device registers over a PSK session: Register, its response, the state change and the
 * server's later Read all carry the identity; a new session with the same identity from
 * another port re-registers without an alert. */
static void test_psk_identity_on_device(void **state) {
  (void)state;
  char path[300], id[NB_MON_ID_MAX];
  t_sess s = {.c = t_open("psk.pcap", path, sizeof path), .t_us = 1000000};
  t_psk_session(&s, "10.1.0.5:40000", "meter7-id", 0x11);
  t_register(&s, "10.1.0.5:40000", "meter7", "rd/a");
  t_read(&s, "10.1.0.5:40000");
  t_psk_session(&s, "10.1.0.5:40001", "meter7-id", 0x11); /* reconnects, same identity */
  t_register(&s, "10.1.0.5:40001", "meter7", "rd/b");
  assert_true(nb_craft_close(s.c));
  nb_mon_psks *keys = t_psks();
  t_sink k;
  t_run(path, keys, &k, id, sizeof id);
  assert_string_equal(id, "psk:meter7-id");
  assert_int_equal(k.hijacks, 0);
  const char *tag = "\"dtls_identity\":\"psk:meter7-id\"";
  assert_int_equal(t_lines_with(&k, "\"operation\":\"Register\",\"response\":false", tag), 2);
  assert_int_equal(t_lines_with(&k, "\"operation\":\"Register\",\"response\":true", tag), 2);
  assert_int_equal(t_lines_with(&k, "\"state\":\"registered\"", tag), 1);
  assert_int_equal(t_lines_with(&k, "\"operation\":\"Read\"", tag), 2);
  nb_bytes_free(&k.json);
  nb_mon_psks_free(keys);
}

/* Another identity takes over the live registration (from the same host, another port: no
 * address change); then a NoSec Register of the same endpoint. */
static void test_identity_hijack(void **state) {
  (void)state;
  char path[300], id[NB_MON_ID_MAX];
  t_sess s = {.c = t_open("hijack.pcap", path, sizeof path), .t_us = 1000000};
  t_psk_session(&s, "10.1.0.5:40000", "meter7-id", 0x11);
  t_register(&s, "10.1.0.5:40000", "meter7", "rd/a");
  t_psk_session(&s, "10.1.0.5:40002", "evil-id", 0x22);
  t_register(&s, "10.1.0.5:40002", "meter7", "rd/b");
  assert_true(nb_craft_close(s.c));
  nb_mon_psks *keys = t_psks();
  t_sink k;
  t_run(path, keys, &k, id, sizeof id);
  assert_int_equal(k.hijacks, 1);
  assert_non_null(strstr(k.hijack_msg, "DTLS identity psk:evil-id"));
  assert_non_null(strstr(k.hijack_msg, "registered with psk:meter7-id"));
  assert_string_equal(id, "psk:evil-id"); /* the server accepted it: the device moved */
  nb_bytes_free(&k.json);

  /* Downgrade: registered with an identity, then a NoSec Register from the same address. */
  nb_craft_session cs = {.c = t_open("downgrade.pcap", path, sizeof path), .t_us = 1000000};
  s.c = cs.c;
  s.mid = 0;
  t_psk_session(&s, "10.1.0.5:40000", "meter7-id", 0x11);
  t_register(&s, "10.1.0.5:40000", "meter7", "rd/a");
  cs.t_us = s.t_us;
  cs.mid = 100;
  nb_craft_exchange(&cs, "10.1.0.5:40000", SRV_PLAIN, NB_COAP_POST, "/rd", "ep=meter7&lt=300", -1,
                    NULL, 0, NB_COAP_CREATED, -1, NULL, 0, "rd/c", -1);
  assert_true(nb_craft_close(cs.c));
  t_run(path, keys, &k, id, sizeof id);
  assert_int_equal(k.hijacks, 1);
  assert_non_null(strstr(k.hijack_msg, "(none: NoSec)"));
  assert_string_equal(id, "");
  nb_bytes_free(&k.json);
  nb_mon_psks_free(keys);
}

/* Raw public key and X.509 clients (sessions decrypted with the key log): the device takes
 * the key's secure ID or the certificate's subject. */
static void test_rpk_and_x509_identity(void **state) {
  (void)state;
  char path[300], id[NB_MON_ID_MAX], want[NB_MON_ID_MAX];
  for (int x509 = 0; x509 < 2; x509++) {
    nb_mon_psks *keylog = nb_mon_psks_new();
    assert_non_null(keylog);
    t_sess s = {.c = t_open(x509 ? "x509.pcap" : "rpk.pcap", path, sizeof path), .t_us = 1000000};
    const nb_bytes *der = x509 ? &K.dev_cert.cert_der : &K.dev_key.spki_der;
    t_cert_session(&s, keylog, "10.1.0.7:40000", der->data, der->len, x509);
    t_register(&s, "10.1.0.7:40000", "meter7", "rd/a");
    assert_true(nb_craft_close(s.c));
    t_sink k;
    t_run(path, keylog, &k, id, sizeof id);
    if (x509)
      snprintf(want, sizeof want, "x509:CN=meter7-cert");
    else
      snprintf(want, sizeof want, "rpk:%s", K.dev_key.secure_id);
    assert_string_equal(id, want);
    char tag[NB_MON_ID_MAX + 32];
    snprintf(tag, sizeof tag, "\"dtls_identity\":\"%s\"", want);
    assert_int_equal(t_lines_with(&k, "\"state\":\"registered\"", tag), 1);
    assert_int_equal(t_lines_with(&k, "\"operation\":\"Register\"", tag), 2);
    assert_int_equal(t_lines_with(&k, "\"detail\":", want), 1); /* the Certificate record */
    nb_bytes_free(&k.json);
    nb_mon_psks_free(keylog);
  }
}

/* ---- keys made after the capture began ---- */

typedef struct {
  nb_mon_psks *psks; /* the table the monitor uses */
  bool has_key;      /* the "database" holds meter7-id's key by now */
  int calls;
} t_db;

static bool t_refresh(void *user) {
  t_db *db = user;
  db->calls++;
  nb_mon_psks *fresh = nb_mon_psks_new();
  assert_non_null(fresh);
  uint8_t k[16];
  memset(k, 0x11, sizeof k);
  if (db->has_key)
    assert_int_equal(nb_mon_psks_add(fresh, (const uint8_t *)"meter7-id", 9, k, 16), NB_OK);
  nb_mon_psks_take_keys(db->psks, fresh);
  nb_mon_psks_free(fresh);
  return true;
}

/* One session registering meter7 at capture time at_us, in a file of its own. */
static void t_session_file(const char *name, int64_t at_us, const char *client, const char *loc,
                           char *path, size_t cap) {
  t_sess s = {.c = t_open(name, path, cap), .t_us = at_us};
  t_psk_session(&s, client, "meter7-id", 0x11);
  t_register(&s, client, "meter7", loc);
  assert_true(nb_craft_close(s.c));
}

/* An unknown identity makes the monitor ask for the keys again, at most once a second of
 * capture time; a session after the key appeared is decrypted. */
static void test_psk_refresh(void **state) {
  (void)state;
  char paths[3][300], why[256] = "";
  t_session_file("r1.pcap", 1000000, "10.1.0.5:40000", "rd/a", paths[0], 300);
  t_session_file("r2.pcap", 1500000, "10.1.0.5:40001", "rd/b", paths[1], 300);
  t_session_file("r3.pcap", 2600000, "10.1.0.5:40002", "rd/c", paths[2], 300);
  t_db db = {.psks = nb_mon_psks_new()};
  assert_non_null(db.psks);
  nb_mon_config cfg = {.psks = db.psks, .psks_refresh = t_refresh, .psks_refresh_user = &db};
  t_sink k;
  memset(&k, 0, sizeof k);
  nb_bytes_init(&k.json);
  nb_monitor *m = nb_monitor_new(&cfg, t_on_event, &k);
  assert_non_null(m);
  /* 1 s: the key is not made yet; asked, still unknown. */
  assert_int_equal(nb_mon_read_file(m, paths[0], NULL, why, sizeof why), NB_OK);
  assert_int_equal(db.calls, 1);
  assert_int_equal(k.undecrypted, 2); /* the Register and its response */
  /* 1.5 s: the key exists now, but the database was read 0.5 s ago. */
  db.has_key = true;
  assert_int_equal(nb_mon_read_file(m, paths[1], NULL, why, sizeof why), NB_OK);
  assert_int_equal(db.calls, 1);
  assert_int_equal(k.undecrypted, 4);
  assert_int_equal(nb_monitor_device_state(m, "meter7"), NB_MON_DEV_UNKNOWN);
  /* 2.6 s: read again, the session is decrypted. */
  assert_int_equal(nb_mon_read_file(m, paths[2], NULL, why, sizeof why), NB_OK);
  assert_int_equal(db.calls, 2);
  assert_int_equal(k.undecrypted, 4);
  assert_int_equal(nb_monitor_device_state(m, "meter7"), NB_MON_DEV_REGISTERED);
  assert_string_equal(nb_monitor_device_identity(m, "meter7"), "psk:meter7-id");
  nb_monitor_free(m);
  nb_bytes_free(&k.json);
  nb_mon_psks_free(db.psks);
}

/* ---- keys from a niobium database ---- */

static void t_put_psk(nb_server_sec_info *c, const char *ep, const char *identity, uint8_t b) {
  memset(c, 0, sizeof *c);
  snprintf(c->ep, sizeof c->ep, "%s", ep);
  c->kind = NB_SERVER_ID_PSK;
  snprintf(c->identity, sizeof c->identity, "%s", identity);
  memset(c->key, b, 16);
  c->key_len = 16;
}

/* `niobium monitor --psk-file DB` takes the PSKs of the server's security store and of the
 * bootstrap store (a fresh bootstrap-account key), from one file or a bootstrap-only one. */
static void test_psk_file_database(void **state) {
  (void)state;
  const char *bin = nb_test_env("NB_BINARY");
  if (!bin) skip();
  char db[300], bsdb[300], pcap[300];
  snprintf(db, sizeof db, "%s/niobium.db", t_dir);
  snprintf(bsdb, sizeof bsdb, "%s/bootstrap.db", t_dir);
  nb_server_sec_info c;
  nb_store_sqlite *st = NULL;
  assert_int_equal(nb_store_sqlite_open(db, &st), NB_OK);
  nb_server_store iface = nb_store_sqlite_iface(st);
  t_put_psk(&c, "meter7", "meter7-id", 0x11);
  assert_int_equal(iface.ops->sec_put(iface.self, &c), NB_OK);
  nb_store_sqlite_close(st);
  for (int i = 0; i < 2; i++) {
    nb_bs_store *bs = NULL;
    assert_int_equal(nb_bs_store_open(i ? bsdb : db, &bs), NB_OK);
    t_put_psk(&c, "meter8", "boot-id", 0x33);
    assert_int_equal(nb_bs_store_cred_put(bs, &c), NB_OK);
    nb_bs_store_close(bs);
  }
  t_sess s = {.c = t_open("db.pcap", pcap, sizeof pcap), .t_us = 1000000};
  t_psk_session(&s, "10.1.0.5:40000", "meter7-id", 0x11);
  t_register(&s, "10.1.0.5:40000", "meter7", "rd/a");
  t_psk_session(&s, "10.1.0.8:40000", "boot-id", 0x33);
  t_register(&s, "10.1.0.8:40000", "meter8", "rd/b");
  assert_true(nb_craft_close(s.c));
  const struct {
    const char *file, *loaded;
    size_t decrypted;
  } runs[] = {{db, "monitor: 2 PSK credential(s) from the server database", 4},
              {bsdb, "monitor: 1 PSK credential(s) from the server database", 2}};
  for (size_t i = 0; i < 2; i++) {
    char *argv[] = {(char *)bin,          "monitor", "--read", pcap, "--events", "-", "--psk-file",
                    (char *)runs[i].file, NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(nb_test_run_capture(argv, 60000, &out, &err), 0);
    if (!strstr(err, runs[i].loaded)) fail_msg("stderr: %s", err);
    size_t n = 0;
    for (const char *p = out; (p = strstr(p, "decrypted=")) != NULL; p++) n++;
    assert_int_equal(n, runs[i].decrypted);
    assert_non_null(strstr(out, "\"endpoint\":\"meter8\",\"dtls_identity\":\"psk:boot-id\""));
    assert_true(i == 1 || strstr(out, "\"dtls_identity\":\"psk:meter7-id\""));
    free(out);
    free(err);
  }
}

/* Application data of a decrypted session that is not CoAP (a text line, as gnutls-cli sends)
 * is reported as not CoAP on its record, without a malformed event or alert; a CoAP message in
 * the same session still decodes. The record details are items separated by single spaces,
 * with no trailing space ("decrypted=6", not "decrypted=6 "). Through the real binary. */
static void test_decrypted_data_not_coap(void **state) {
  (void)state;
  const char *bin = nb_test_env("NB_BINARY");
  if (!bin) skip();
  char pcap[300], keys[300];
  t_sess s = {.c = t_open("notcoap.pcap", pcap, sizeof pcap), .t_us = 1000000};
  t_psk_session(&s, "10.1.0.5:40000", "meter7-id", 0x11);
  uint8_t rec[128];
  size_t len =
      nb_craft_dtls_ccm8(rec, 23, 1, s.seq[0]++, s.key[0], s.iv[0], (const uint8_t *)"hello\n", 6);
  t_udp(&s, "10.1.0.5:40000", SRV, rec, len);
  t_register(&s, "10.1.0.5:40000", "meter7", "rd/a");
  assert_true(nb_craft_close(s.c));
  snprintf(keys, sizeof keys, "%s/keys.csv", t_dir);
  FILE *f = fopen(keys, "w");
  assert_non_null(f);
  fputs("meter7-id,11111111111111111111111111111111\n", f);
  assert_int_equal(fclose(f), 0);
  char *argv[] = {(char *)bin, "monitor",    "--read", pcap, "--events",
                  "-",         "--psk-file", keys,     NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(argv, 60000, &out), 0);
  assert_null(strstr(out, "\"event\":\"malformed\""));
  assert_null(strstr(out, "malformed-coap"));
  assert_non_null(strstr(out, "\"detail\":\"decrypted=6 not CoAP ("));
  assert_non_null(strstr(out, "\"operation\":\"Register\""));
  for (const char *p = out; (p = strstr(p, "\"detail\":\"")) != NULL; p++) {
    const char *end = strchr(p + 10, '"');
    assert_non_null(end);
    const char *twice = strstr(p, "  ");
    if (end[-1] == ' ' || (twice && twice < end)) fail_msg("detail with stray spaces: %.120s", p);
  }
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_psk_identity_on_device), cmocka_unit_test(test_identity_hijack),
      cmocka_unit_test(test_rpk_and_x509_identity),  cmocka_unit_test(test_psk_refresh),
      cmocka_unit_test(test_psk_file_database),      cmocka_unit_test(test_decrypted_data_not_coap),
  };
  return cmocka_run_group_tests(tests, t_setup, t_teardown);
}
