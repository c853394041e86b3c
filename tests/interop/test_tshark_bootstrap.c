/* Interop with Wireshark's dissectors (tshark 4.0) on a real bootstrap: the bootstrap engine and
 * an LwM2M 1.0 client engine (so the writes are TLV) run in-process over the simulated network;
 * every datagram is written to a pcap; tshark's coap and lwm2mtlv dissectors must decode our
 * Bootstrap-Request and the Security (/0) and Server (/1) writes to the configured values
 * (server URI, security mode, short server ID, lifetime, binding), and the fresh PSK written to
 * the device must be the one installed in the management server's store. Skips without
 * tshark. Offline, in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/hex.h"
#include "bootstrap/bootstrap.h"
#include "bootstrap/config_store.h"
#include "nb_test.h"
#include "niobium/client.h"
#include "pcap_craft.h"
#include "simnet.h"
#include "store/sqlite.h"

#define EP "urn:dev:tshark-bs"

typedef struct {
  nb_simnet *net;
  nb_bs_store *bst;
  nb_store_sqlite *dmst;
  nb_bs_engine *bs;
  nb_simnet_node *bs_node, *c_node;
  nb_client *c;
  nb_pcap_craft *pcap;
  size_t frames;
  bool finished;
} fx;

static void bs_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_bs_engine_receive(((fx *)u)->bs, from, NULL, d, n, now);
}
static nb_time_ms bs_deadline(void *u) { return nb_bs_engine_next_deadline(((fx *)u)->bs); }
static void bs_tick(void *u, nb_time_ms now) { nb_bs_engine_tick(((fx *)u)->bs, now); }
static const nb_simnet_ops bs_ops = {bs_recv, bs_deadline, bs_tick, NULL};

static void c_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_client_receive(u, from, d, n, now);
}
static nb_time_ms c_deadline(void *u) { return nb_client_next_deadline(u); }
static void c_tick(void *u, nb_time_ms now) { nb_client_tick(u, now); }
static const nb_simnet_ops c_ops = {c_recv, c_deadline, c_tick, NULL};

static void bs_send(void *u, const nb_addr *to, const uint8_t *d, size_t n) {
  nb_simnet_send(((fx *)u)->bs_node, to, d, n);
}

/* Every datagram of the bootstrap, as sent, into the capture. */
static bool tap(void *u, const nb_addr *from, const nb_addr *to, const uint8_t *d, size_t n,
                nb_time_ms now) {
  fx *f = u;
  char a[NB_ADDR_STRLEN], b[NB_ADDR_STRLEN];
  nb_addr_format(from, a, sizeof a);
  nb_addr_format(to, b, sizeof b);
  assert_int_equal(
      nb_craft_udp(f->pcap, (int64_t)now * 1000 + 1700000000000000LL, a, b, d, n, NULL), NB_OK);
  f->frames++;
  return true;
}

static void on_event(void *u, const nb_bs_event *e) {
  if (e->type == NB_BS_EV_FINISHED) ((fx *)u)->finished = true;
}
static bool finished(void *u) { return ((fx *)u)->finished; }

/* Two accounts: NoSec 101 (lifetime 300, U) and PSK 102 with a fresh key (lifetime 600, UQ). */
static void put_config(fx *f) {
  nb_bs_config cfg;
  nb_bs_config_init(&cfg, EP);
  nb_bs_server a = {.uri = "coap://10.0.0.2:5683",
                    .ssid = 101,
                    .lifetime = 300,
                    .binding = "U",
                    .mode = NB_BS_SEC_NOSEC};
  nb_bs_server b = {.uri = "coaps://10.0.0.3:5684",
                    .ssid = 102,
                    .lifetime = 600,
                    .binding = "UQ",
                    .mode = NB_BS_SEC_PSK};
  assert_int_equal(nb_bs_config_add_server(&cfg, &a), NB_OK);
  assert_int_equal(nb_bs_config_add_server(&cfg, &b), NB_OK);
  assert_int_equal(nb_bs_store_config_put(f->bst, &cfg), NB_OK);
}

static void run_bootstrap(fx *f, const char *pcap_path) {
  memset(f, 0, sizeof *f);
  f->net = nb_simnet_new(42);
  assert_non_null(f->pcap = nb_craft_open(pcap_path, 101, false));
  nb_simnet_set_tap(f->net, tap, f);
  assert_int_equal(nb_bs_store_open(":memory:", &f->bst), NB_OK);
  assert_int_equal(nb_store_sqlite_open(":memory:", &f->dmst), NB_OK);
  put_config(f);
  nb_bs_engine_config bc;
  nb_bs_engine_config_default(&bc);
  bc.source = nb_bs_store_source(f->bst);
  bc.dm_store = nb_store_sqlite_iface(f->dmst);
  bc.random = nb_simnet_rng_fill;
  bc.random_user = nb_simnet_rng_of(f->net);
  nb_addr ba = nb_simnet_addr(1, 5783);
  f->bs_node = nb_simnet_add(f->net, &ba, &bs_ops, f);
  assert_int_equal(nb_bs_engine_new(&bc, bs_send, f, &f->bs), NB_OK);
  assert_int_equal(nb_bs_engine_add_listener(f->bs, on_event, f), NB_OK);

  nb_addr ca = nb_simnet_addr(9, 56830);
  f->c_node = nb_simnet_add(f->net, &ca, &c_ops, NULL);
  nb_client_config cc;
  nb_client_config_default(&cc);
  cc.endpoint = EP;
  cc.lwm2m_version = "1.0"; /* a 1.0 client is written TLV */
  cc.send = nb_simnet_send;
  cc.send_user = f->c_node;
  cc.random = nb_simnet_rng_fill;
  cc.random_user = nb_simnet_rng_of(f->net);
  assert_int_equal(nb_client_new(&cc, &f->c), NB_OK);
  nb_simnet_node_set_user(f->c_node, f->c);
  nb_client_device_info d = {
      .manufacturer = "ACME", .battery_level = -1, .memory_free_kb = -1, .memory_total_kb = -1};
  assert_int_equal(nb_client_add_device(f->c, &d), NB_OK);
  nb_client_server_params p = {
      .uri = "coap://10.0.0.1:5783", .bootstrap = true, .security_mode = 3};
  assert_int_equal(nb_client_add_server(f->c, &p), NB_OK);
  assert_int_equal(nb_client_start(f->c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f->net, 60000, finished, f));
  nb_simnet_set_tap(f->net, NULL, NULL); /* only the bootstrap goes into the capture */
  assert_true(nb_craft_close(f->pcap));
}

static void fx_free(fx *f) {
  nb_client_free(f->c);
  nb_bs_engine_free(f->bs);
  nb_simnet_free(f->net);
  nb_bs_store_close(f->bst);
  nb_store_sqlite_close(f->dmst);
}

/* tshark's view of each frame: one line of '|'-separated fields, occurrences joined by ','. */
#define NFIELDS 11
static const char *const fields[NFIELDS] = {"coap.code",
                                            "coap.opt.uri_path_recon",
                                            "coap.opt.uri_query",
                                            "coap.opt.ctype",
                                            "lwm2mtlv.resource.lwm2m_server_uri",
                                            "lwm2mtlv.resource.security_mode",
                                            "lwm2mtlv.resource.short_server_id",
                                            "lwm2mtlv.resource.lifetime",
                                            "lwm2mtlv.resource.binding",
                                            "lwm2mtlv.resource.public_key_or_identity",
                                            "lwm2mtlv.resource.secret_key"};
enum { F_CODE, F_PATH, F_QUERY, F_CT, F_URI, F_MODE, F_SSID, F_LT, F_BIND, F_ID, F_KEY };

typedef struct {
  char *v[NFIELDS];
} row;

static size_t parse_rows(char *out, row *rows, size_t cap) {
  size_t n = 0;
  for (char *line = strtok(out, "\n"); line && n < cap; line = strtok(NULL, "\n")) {
    row *r = &rows[n++];
    char *p = line;
    for (size_t k = 0; k < NFIELDS; k++) {
      r->v[k] = p;
      char *bar = p ? strchr(p, '|') : NULL;
      if (bar) *bar = '\0';
      p = bar ? bar + 1 : NULL;
      if (!r->v[k]) r->v[k] = "";
    }
  }
  return n;
}

/* The frame that PUTs to path, or NULL. */
static const row *find_put(const row *rows, size_t n, const char *path) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(rows[i].v[F_CODE], "3") == 0 && strcmp(rows[i].v[F_PATH], path) == 0)
      return &rows[i];
  return NULL;
}

static void strip_colons(const char *in, char *out, size_t cap) {
  size_t n = 0;
  for (; *in && n + 1 < cap; in++)
    if (*in != ':') out[n++] = *in;
  out[n] = '\0';
}

static void test_bootstrap_writes_decode_in_tshark(void **state) {
  (void)state;
  if (!nb_test_have_program("tshark")) {
    fprintf(stderr, "skipped: tshark not installed (Debian package tshark)\n");
    skip();
  }
  char dir[64], pcap[128];
  snprintf(dir, sizeof dir, "/tmp/nb-tshark-bs.XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(pcap, sizeof pcap, "%s/bootstrap.pcap", dir);
  fx f;
  run_bootstrap(&f, pcap);
  assert_true(f.frames >= 8); /* request, ack, delete(s), writes, finish and their answers */

  char *argv[] = {"tshark", "-n",
                  "-r",     pcap,
                  "-d",     "udp.port==5783,coap",
                  "-T",     "fields",
                  "-E",     "separator=|",
                  "-E",     "occurrence=a",
                  "-E",     "aggregator=,",
                  "-e",     (char *)fields[0],
                  "-e",     (char *)fields[1],
                  "-e",     (char *)fields[2],
                  "-e",     (char *)fields[3],
                  "-e",     (char *)fields[4],
                  "-e",     (char *)fields[5],
                  "-e",     (char *)fields[6],
                  "-e",     (char *)fields[7],
                  "-e",     (char *)fields[8],
                  "-e",     (char *)fields[9],
                  "-e",     (char *)fields[10],
                  NULL};
  char *out = NULL, *err = NULL;
  int rc = nb_test_run_capture(argv, 120000, &out, &err);
  if (rc != 0) fprintf(stderr, "tshark failed (%d): %s\n", rc, err ? err : "");
  assert_int_equal(rc, 0);
  row rows[64] = {0};
  size_t n = parse_rows(out, rows, 64);
  assert_int_equal(n, f.frames);

  /* The Bootstrap-Request: POST /bs?ep=..., and a TLV-only 1.0 client. */
  assert_string_equal(rows[0].v[F_CODE], "2");
  assert_string_equal(rows[0].v[F_PATH], "/bs");
  assert_non_null(strstr(rows[0].v[F_QUERY], "ep=" EP));

  /* Security /0/1 (the bootstrap account keeps /0/0): the NoSec server, then /0/2 PSK. */
  const row *s1 = find_put(rows, n, "/0/1"), *s2 = find_put(rows, n, "/0/2");
  const row *v0 = find_put(rows, n, "/1/0"), *v1 = find_put(rows, n, "/1/1");
  if (!s1 || !s2 || !v0 || !v1) fail_msg("missing Bootstrap-Writes in:\n%s", err);
  assert_string_equal(s1->v[F_CT], "application/vnd.oma.lwm2m+tlv");
  assert_string_equal(s1->v[F_URI], "coap://10.0.0.2:5683");
  assert_string_equal(s1->v[F_MODE], "3");
  assert_string_equal(s1->v[F_SSID], "101");
  assert_string_equal(s2->v[F_CT], "application/vnd.oma.lwm2m+tlv");
  assert_string_equal(s2->v[F_URI], "coaps://10.0.0.3:5684");
  assert_string_equal(s2->v[F_MODE], "0");
  assert_string_equal(s2->v[F_SSID], "102");
  /* Server objects. */
  assert_string_equal(v0->v[F_CT], "application/vnd.oma.lwm2m+tlv");
  assert_string_equal(v0->v[F_SSID], "101");
  assert_string_equal(v0->v[F_LT], "300");
  assert_string_equal(v0->v[F_BIND], "U");
  assert_string_equal(v1->v[F_SSID], "102");
  assert_string_equal(v1->v[F_LT], "600");
  assert_string_equal(v1->v[F_BIND], "UQ");

  /* The fresh PSK tshark sees on the wire is the one the management server now holds. */
  nb_server_store st = nb_store_sqlite_iface(f.dmst);
  nb_server_sec_info sec;
  assert_int_equal(st.ops->sec_get(st.self, EP, &sec), NB_OK);
  assert_int_equal(sec.kind, NB_SERVER_ID_PSK);
  assert_int_equal(sec.key_len, 16);
  char want[2 * NB_SERVER_IDENT_MAX + 1], got[512];
  nb_hex_encode(sec.key, sec.key_len, want);
  strip_colons(s2->v[F_KEY], got, sizeof got);
  assert_string_equal(got, want);
  nb_hex_encode((const uint8_t *)sec.identity, strlen(sec.identity), want);
  strip_colons(s2->v[F_ID], got, sizeof got);
  assert_string_equal(got, want);
  memset(&sec, 0, sizeof sec);

  /* Bootstrap-Finish last from the bootstrap server: POST /bs, answered 2.04 (code 68) before
   * the client sends anything else (its Registers to the management servers may follow). */
  size_t fin = 0;
  for (size_t i = 1; i < n; i++)
    if (strcmp(rows[i].v[F_CODE], "2") == 0 && strcmp(rows[i].v[F_PATH], "/bs") == 0) fin = i;
  assert_true(fin > 0 && fin + 1 < n);
  assert_string_equal(rows[fin + 1].v[F_CODE], "68");
  for (size_t i = fin + 2; i < n; i++) /* Registers: /rd, or not decoded (not port 5783) */
    assert_true(strcmp(rows[i].v[F_PATH], "/rd") == 0 || rows[i].v[F_CODE][0] == '\0');

  free(out);
  free(err);
  fx_free(&f);
  unlink(pcap);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bootstrap_writes_decode_in_tshark),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
