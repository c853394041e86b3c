/* bench/engine: what one server operation costs, in one process and without sockets, so the
 * figures are the server's own work (instructions under callgrind, CPU time otherwise) and not
 * what a loaded machine's scheduler makes of it. The server is composed as `niobium server`
 * composes it minus the sockets and the HTTP API: the nb_server engine with the SQLite store on
 * a file in a fresh temporary directory (WAL, as in production), and for DTLS the nb_dtls_server
 * context with the store-backed PSK lookup (nb_io_srv_store_psk_lookup) and the identity
 * mapping of the I/O shell (nb_io_srv_identity).
 *
 *   notify [DEVICES [COUNT]]       NoSec: DEVICES (1,000) register and are observed on
 *                                  /3303/0/5700 (SenML CBOR), then COUNT (200,000) Sensor Value
 *                                  notifications, bursts of 3 NON + 1 CON round robin over the
 *                                  devices, go to nb_server_receive; the ACKs are made and sent
 *                                  to a sink. Every notification must come out as an event.
 *   notify-dtls [DEVICES [COUNT]]  the same over DTLS-PSK (AES-128-CCM-8): every device has its
 *                                  own PSK and session; the records are sealed by the devices
 *                                  before the measured part, which is nb_dtls_server_receive
 *                                  (opening, engine, sealing the ACKs).
 *   notify-feed [DEVICES [COUNT [SUBSCRIBERS]]]
 *                                  notify with the HTTP API's event feed listening on the engine
 *                                  as `niobium server` has it (nb_http_events: value history,
 *                                  SSE frames) and SUBSCRIBERS (0) unfiltered subscribers, whose
 *                                  buffers are read out every 64 datagrams as a connection would.
 *   register [DEVICES]             DEVICES (10,000) Registers through engine and store.
 *   handshake [CREDS [COUNT]]      COUNT (2,000) full PSK handshakes (cookie exchange included,
 *                                  each closed by the device's close_notify) by devices picked
 *                                  at random among CREDS (1,000) credentials in the store; only
 *                                  the server's side is measured.
 *   memory [DEVICES]               DEVICES (100,000) registrations: heap, SQLite and resident
 *                                  bytes per registration; then the time nb_server_free and
 *                                  closing the store take (the server's shutdown).
 *
 * Each measured part runs in a function named bench_measured_*, so
 *   valgrind --tool=callgrind --toggle-collect='bench_measured_*' bench_engine notify
 * counts the instructions of exactly that part (scripts/bench-instructions divides them by the
 * operations the run prints). Time is virtual: `now` advances 1 ms every 64 datagrams (about
 * one recvmmsg round) and the engine is ticked whenever its deadline passes. */
#include <malloc.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "coap/msg.h"
#include "dtls/server.h"
#include "dtls/session.h"
#include "http/events.h"
#include "io/dtls_server_io.h"
#include "lwm2m/format.h"
#include "lwm2m/path.h"
#include "server/server.h"
#include "store/sqlite.h"

#define PSK_LEN 16
#define SLOT 192 /* one datagram of the stream, CoAP or DTLS */

static void die(const char *what) {
  fprintf(stderr, "bench_engine: %s\n", what);
  exit(1);
}

static void check(nb_err err, const char *what) {
  if (err != NB_OK) {
    fprintf(stderr, "bench_engine: %s: %s\n", what, nb_strerror(err));
    exit(1);
  }
}

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  if (f) fclose(f);
  return kib;
}

static size_t heap_used(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

/* ---- the server under test ---- */

typedef struct {
  nb_addr addr;
  uint8_t token[8], tkl;
  uint16_t mid;
  uint32_t seq;
  nb_dtls_session *dtls; /* notify-dtls: the device's client session */
  bool observed;
} device;

typedef struct {
  char dir[64], dbpath[96];
  nb_store_sqlite *db;
  nb_server_store store;
  nb_server *srv;
  nb_dtls_creds *creds;
  nb_dtls_server *dtls;
  nb_http_events *feed; /* notify-feed */
  nb_http_sub **subs;
  long nsubs, feed_bytes;
  nb_time_ms now, deadline_checked;
  device *devs;
  long ndevs;
  /* what came out */
  long registered, notifications, sent, failed;
  bool setup; /* datagrams from the server are answered by the devices (observe set-up) */
  /* datagrams to deliver to the server after the current call returns */
  uint8_t (*queue)[SLOT];
  size_t *queue_len;
  long *queue_dev;
  long nqueue, queue_cap;
} bench;

static bench B;

static void store_open(void) {
  snprintf(B.dir, sizeof B.dir, "/tmp/nb-bench-engine-XXXXXX");
  if (!mkdtemp(B.dir)) die("mkdtemp");
  snprintf(B.dbpath, sizeof B.dbpath, "%s/niobium.db", B.dir);
  check(nb_store_sqlite_open(B.dbpath, &B.db), "store");
  B.store = nb_store_sqlite_iface(B.db);
}

static void store_close(void) {
  nb_store_sqlite_close(B.db);
  B.db = NULL;
  const char *suffix[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    char path[128];
    snprintf(path, sizeof path, "%s%s", B.dbpath, suffix[i]);
    unlink(path);
  }
  rmdir(B.dir);
}

/* Device i: 10.x.y.z:5683, so every device is a peer of its own. */
static nb_addr device_addr(long i) {
  nb_addr a = {.family = NB_ADDR_V4, .port = 5683};
  a.ip[0] = 10;
  a.ip[1] = (uint8_t)(i >> 16);
  a.ip[2] = (uint8_t)(i >> 8);
  a.ip[3] = (uint8_t)i;
  return a;
}

static long device_index(const nb_addr *a) {
  long i = (long)a->ip[1] << 16 | (long)a->ip[2] << 8 | a->ip[3];
  return i < B.ndevs ? i : -1;
}

static void device_name(long i, char *buf, size_t cap) { snprintf(buf, cap, "dev-%06ld", i); }

static void device_psk(long i, uint8_t key[PSK_LEN]) {
  for (int k = 0; k < PSK_LEN; k++) key[k] = (uint8_t)(0x5a ^ k);
  for (int k = 0; k < 4; k++) key[PSK_LEN - 1 - k] ^= (uint8_t)(i >> (8 * k));
}

static void queue_push(long dev, const uint8_t *data, size_t len) {
  if (len > SLOT) die("datagram too large");
  if (B.nqueue == B.queue_cap) {
    long cap = B.queue_cap ? 2 * B.queue_cap : 1024;
    B.queue = realloc(B.queue, (size_t)cap * SLOT);
    B.queue_len = realloc(B.queue_len, (size_t)cap * sizeof *B.queue_len);
    B.queue_dev = realloc(B.queue_dev, (size_t)cap * sizeof *B.queue_dev);
    if (!B.queue || !B.queue_len || !B.queue_dev) die("out of memory");
    B.queue_cap = cap;
  }
  memcpy(B.queue[B.nqueue], data, len);
  B.queue_len[B.nqueue] = len;
  B.queue_dev[B.nqueue++] = dev;
}

static void engine_receive(const nb_addr *peer, const nb_server_identity *id, const uint8_t *data,
                           size_t len) {
  nb_server_receive(B.srv, peer, id, data, len, B.now);
}

/* Ticks the engine (and the DTLS context) once their deadline passed, as the shell's timer does. */
static void run_timers(void) {
  if (B.srv && nb_server_next_deadline(B.srv) <= B.now) nb_server_tick(B.srv, B.now);
  if (B.dtls && nb_dtls_server_next_deadline(B.dtls) <= B.now) nb_dtls_server_tick(B.dtls, B.now);
}

/* notify-feed: what the subscribers' connections would read. */
static void feed_drain(void) {
  static char buf[65536];
  for (long i = 0; i < B.nsubs; i++)
    for (size_t n; (n = nb_http_sub_read(B.subs[i], buf, sizeof buf)) > 0;) B.feed_bytes += (long)n;
}

static void advance(long datagrams) {
  if (datagrams % 64 == 0) {
    B.now++;
    run_timers();
    feed_drain();
  }
}

/* ---- the devices' side (set-up only) ---- */

static size_t serialize(nb_coap_msg *m, uint8_t *buf, size_t cap) {
  size_t n = 0;
  if (nb_coap_serialize(m, buf, cap, &n) != NB_OK) die("serialize");
  return n;
}

static size_t register_datagram(long i, uint8_t *buf, size_t cap) {
  nb_coap_msg m;
  char q[64];
  uint32_t tok = (uint32_t)i;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_POST, B.devs[i].mid++);
  nb_coap_msg_set_token(&m, (const uint8_t *)&tok, sizeof tok);
  nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "rd");
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_LINK_FORMAT);
  device_name(i, q + 3, sizeof q - 3);
  memcpy(q, "ep=", 3);
  nb_coap_msg_add_string(&m, NB_COAP_OPT_URI_QUERY, q);
  nb_coap_msg_add_string(&m, NB_COAP_OPT_URI_QUERY, "lt=86400");
  nb_coap_msg_add_string(&m, NB_COAP_OPT_URI_QUERY, "lwm2m=1.1");
  nb_coap_msg_add_string(&m, NB_COAP_OPT_URI_QUERY, "b=U");
  nb_coap_msg_set_payload(&m, "</1/0>,</3/0>,</3303/0>", 23);
  return serialize(&m, buf, cap);
}

#define PAYLOADS 64
static uint8_t payload[PAYLOADS][32];
static size_t payload_len[PAYLOADS];

static void make_payloads(void) {
  nb_path p = nb_path_res(3303, 0, 5700);
  for (int i = 0; i < PAYLOADS; i++) {
    nb_records recs;
    nb_bytes out;
    nb_records_init(&recs);
    nb_bytes_init(&out);
    nb_value v = nb_value_float(20.0 + i / 8.0);
    if (nb_records_add(&recs, &p, &v) != NB_OK ||
        nb_format_encode(NB_COAP_CF_SENML_CBOR, &recs, &p, NULL, &out, NULL, NULL) != NB_OK ||
        out.len > sizeof payload[i])
      die("payload");
    memcpy(payload[i], out.data, out.len);
    payload_len[i] = out.len;
    nb_records_deinit(&recs);
    nb_bytes_free(&out);
  }
}

/* A Sensor Value from device d: the Observe's answer (ACK) or a notification (CON/NON). */
static size_t value_datagram(device *d, uint8_t type, uint16_t mid, uint8_t *buf, size_t cap) {
  nb_coap_msg m;
  size_t k = d->seq % PAYLOADS;
  nb_coap_msg_init(&m, type, NB_COAP_CONTENT, mid);
  nb_coap_msg_set_token(&m, d->token, d->tkl);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_OBSERVE, d->seq++ & 0xffffff);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_SENML_CBOR);
  nb_coap_msg_set_payload(&m, payload[k], payload_len[k]);
  return serialize(&m, buf, cap);
}

/* What the server sent device i (plaintext): the Observe GET is answered. */
static void device_input(long i, const uint8_t *data, size_t len) {
  nb_coap_msg m;
  if (!B.setup || nb_coap_parse(data, len, &m) != NB_OK) return;
  if (m.type != NB_COAP_CON || m.code != NB_COAP_GET) return;
  device *d = &B.devs[i];
  memcpy(d->token, m.token, m.token_len);
  d->tkl = m.token_len;
  d->observed = true;
  uint8_t buf[SLOT];
  size_t n = value_datagram(d, NB_COAP_ACK, m.mid, buf, sizeof buf);
  if (d->dtls) {
    if (nb_dtls_session_send(d->dtls, buf, n) != NB_OK) die("device send");
  } else {
    queue_push(i, buf, n);
  }
}

/* The engine's send callback: plaintext towards a NoSec device, or into the DTLS context. */
static void engine_send(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  (void)user;
  B.sent++;
  if (B.dtls) {
    nb_dtls_server_send(B.dtls, peer, data, len);
    return;
  }
  long i = device_index(peer);
  if (i >= 0) device_input(i, data, len);
}

/* The DTLS context's ciphertext towards device i (set-up: handed to its session). */
static void dtls_server_out(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  (void)user;
  if (!B.setup) return;
  long i = device_index(peer);
  if (i >= 0 && B.devs[i].dtls) queue_push(-1 - i, data, len);
}

/* Plaintext out of an established session: the shell's nb_io_srv_dtls_input. */
static void dtls_server_in(void *user, const nb_addr *peer, const uint8_t *data, size_t len,
                           nb_time_ms now) {
  (void)user;
  (void)now;
  nb_dtls_session *sess = nb_dtls_server_find(B.dtls, peer);
  const nb_dtls_peer *who = sess ? nb_dtls_session_peer(sess) : NULL;
  if (!who) return;
  nb_server_identity id;
  nb_io_srv_identity(who, &id);
  engine_receive(peer, &id, data, len);
}

/* A device's ciphertext towards the server. */
static void dtls_client_out(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  (void)peer;
  queue_push((long)(intptr_t)user, data, len);
}

static void dtls_client_in(void *user, const nb_addr *peer, const uint8_t *data, size_t len,
                           nb_time_ms now) {
  (void)peer;
  (void)now;
  device_input((long)(intptr_t)user, data, len);
}

/* Delivers queued datagrams until none is left: entries >= 0 go to the server from that device,
 * entries < 0 to device -1 - entry from the server. */
static void pump(void) {
  for (long k = 0; k < B.nqueue; k++) {
    long who = B.queue_dev[k];
    uint8_t data[SLOT];
    size_t len = B.queue_len[k];
    memcpy(data, B.queue[k], len);
    if (who < 0) {
      nb_dtls_session_receive(B.devs[-1 - who].dtls, data, len, B.now);
    } else {
      nb_addr a = B.devs[who].addr;
      if (B.dtls)
        nb_dtls_server_receive(B.dtls, &a, data, len, B.now);
      else
        engine_receive(&a, NULL, data, len);
    }
  }
  B.nqueue = 0;
}

static void on_event(void *user, const nb_server_event *ev) {
  (void)user;
  if (ev->type == NB_SEV_REGISTRATION) B.registered++;
  if (ev->type == NB_SEV_NOTIFICATION && ev->seq > 1) B.notifications++;
}

static void on_observe(void *user, uint64_t id, const nb_server_result *res, bool last) {
  (void)user;
  (void)id;
  (void)last;
  if (!res->notification && (res->err != NB_OK || res->code != NB_COAP_CONTENT)) B.failed++;
}

static void server_open(bool dtls) {
  store_open();
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  cfg.max_nosec = 0; /* the fleets are NoSec: measured without the cap on them */
  cfg.store = B.store;
  check(nb_server_new(&cfg, engine_send, NULL, &B.srv), "server");
  check(nb_server_add_listener(B.srv, on_event, NULL), "listener");
  if (!dtls) return;
  check(nb_dtls_creds_new(&B.creds), "creds");
  nb_dtls_creds_set_psk_lookup(B.creds, nb_io_srv_store_psk_lookup, &B.store);
  nb_dtls_server_config dc;
  nb_dtls_server_config_default(&dc);
  dc.max_handshakes = 4096;
  dc.max_handshakes_per_source = 0;
  nb_dtls_handlers h = {dtls_server_out, dtls_server_in, NULL, NULL};
  check(nb_dtls_server_new(&dc, B.creds, &h, &B.dtls), "dtls server");
}

/* The event feed's subscribers (notify-feed), connected once the devices are set up. */
static void feed_subscribe(long subscribers) {
  B.subs = calloc((size_t)subscribers + 1, sizeof *B.subs);
  if (!B.subs) die("out of memory");
  for (B.nsubs = 0; B.nsubs < subscribers; B.nsubs++)
    if (!(B.subs[B.nsubs] = nb_http_events_subscribe(B.feed, NULL, NULL, NULL))) die("subscribe");
}

static void server_close(void) {
  nb_http_events_free(B.feed); /* its subscribers too; before the engine it listens on */
  B.feed = NULL;
  free(B.subs);
  B.subs = NULL;
  B.nsubs = 0;
  nb_dtls_server_free(B.dtls);
  B.dtls = NULL;
  nb_server_free(B.srv);
  B.srv = NULL;
  nb_dtls_creds_free(B.creds);
  B.creds = NULL;
  store_close();
}

static void devices_new(long n) {
  B.ndevs = n;
  B.devs = calloc((size_t)n, sizeof *B.devs);
  if (!B.devs) die("out of memory");
  for (long i = 0; i < n; i++) {
    B.devs[i].addr = device_addr(i);
    B.devs[i].mid = (uint16_t)(i * 7919);
    B.devs[i].seq = 1;
  }
}

static void devices_free(void) {
  for (long i = 0; i < B.ndevs; i++) nb_dtls_session_free(B.devs[i].dtls);
  free(B.devs);
  B.devs = NULL;
  B.ndevs = 0;
}

static void install_psks(long n) {
  sqlite3 *db;
  if (sqlite3_open(B.dbpath, &db) != SQLITE_OK) die("sqlite");
  sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "INSERT INTO credentials VALUES (?,?,?,?)", -1, &st, NULL) !=
      SQLITE_OK)
    die("prepare");
  for (long i = 0; i < n; i++) {
    char ep[32];
    uint8_t key[PSK_LEN];
    device_name(i, ep, sizeof ep);
    device_psk(i, key);
    sqlite3_bind_text(st, 1, ep, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, NB_SERVER_ID_PSK);
    sqlite3_bind_text(st, 3, ep, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 4, key, PSK_LEN, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE) die("insert credential");
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) die("commit");
  sqlite3_close(db);
}

/* Registers every device (over its DTLS session when it has one). */
static void register_all(void) {
  for (long i = 0; i < B.ndevs; i++) {
    uint8_t buf[SLOT];
    size_t n = register_datagram(i, buf, sizeof buf);
    if (B.devs[i].dtls) {
      if (nb_dtls_session_send(B.devs[i].dtls, buf, n) != NB_OK) die("device send");
    } else {
      queue_push(i, buf, n);
    }
    pump();
    advance(i + 1);
  }
  if (B.registered != B.ndevs) die("not every device registered");
}

static void observe_all(void) {
  for (long i = 0; i < B.ndevs; i++) {
    char ep[32];
    device_name(i, ep, sizeof ep);
    nb_server_request req = {.op = NB_SOP_OBSERVE, .path = nb_path_res(3303, 0, 5700)};
    uint64_t id;
    bool queued;
    check(nb_server_send_request(B.srv, ep, &req, on_observe, NULL, B.now, &id, &queued),
          "observe");
    pump();
  }
  for (long i = 0; i < B.ndevs; i++)
    if (!B.devs[i].observed) die("a device was not observed");
  if (B.failed) die("an Observe failed");
}

/* ---- notify, notify-dtls ---- */

typedef struct {
  uint8_t (*dg)[SLOT];
  uint16_t *len;
  long *dev;
  long count;
} stream;

static stream S;

static void stream_capture(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  (void)peer;
  long k = S.count++;
  memcpy(S.dg[k], data, len);
  S.len[k] = (uint16_t)len;
  S.dev[k] = (long)(intptr_t)user;
}

/* Bursts of 3 NON + 1 CON, round robin over the devices, sealed by their sessions if any. */
static void stream_build(long count) {
  S.dg = malloc((size_t)count * SLOT);
  S.len = malloc((size_t)count * sizeof *S.len);
  S.dev = malloc((size_t)count * sizeof *S.dev);
  if (!S.dg || !S.len || !S.dev) die("out of memory");
  S.count = 0;
  long dev = 0;
  while (S.count < count) {
    device *d = &B.devs[dev];
    for (int k = 0; k < 4 && S.count < count; k++) {
      uint8_t buf[SLOT];
      size_t n = value_datagram(d, k == 3 ? NB_COAP_CON : NB_COAP_NON, d->mid++, buf, sizeof buf);
      if (d->dtls) {
        if (nb_dtls_session_send(d->dtls, buf, n) != NB_OK) die("seal");
      } else {
        stream_capture((void *)(intptr_t)dev, NULL, buf, n);
      }
    }
    dev = (dev + 1) % B.ndevs;
  }
}

/* The measured part: every datagram of the stream into the server. */
__attribute__((noinline)) static void bench_measured_stream(void) {
  for (long k = 0; k < S.count; k++) {
    const nb_addr *a = &B.devs[S.dev[k]].addr;
    if (B.dtls)
      nb_dtls_server_receive(B.dtls, a, S.dg[k], S.len[k], B.now);
    else
      engine_receive(a, NULL, S.dg[k], S.len[k]);
    advance(k + 1);
  }
}

static bool sealing; /* notify-dtls: the devices' ciphertext goes into the stream */

static void dtls_client_out_stream(void *user, const nb_addr *peer, const uint8_t *data,
                                   size_t len) {
  if (sealing)
    stream_capture(user, peer, data, len);
  else
    dtls_client_out(user, peer, data, len);
}

/* subscribers < 0: no event feed. */
static int run_notify(bool dtls, long devices, long count, long subscribers) {
  make_payloads();
  devices_new(devices);
  server_open(dtls);
  if (subscribers >= 0) check(nb_http_events_new(B.srv, NULL, &B.feed), "event feed");
  B.setup = true;
  nb_dtls_creds **creds = NULL;
  if (dtls) {
    install_psks(devices);
    creds = calloc((size_t)devices, sizeof *creds);
    if (!creds) die("out of memory");
    for (long i = 0; i < devices; i++) {
      char id[32];
      uint8_t key[PSK_LEN];
      device_name(i, id, sizeof id);
      device_psk(i, key);
      check(nb_dtls_creds_new(&creds[i]), "creds");
      check(nb_dtls_creds_set_psk(creds[i], id, strlen(id), key, sizeof key), "psk");
      nb_dtls_session_params p;
      nb_dtls_session_params_default(&p);
      p.session_ticket = false;
      nb_dtls_handlers h = {dtls_client_out_stream, dtls_client_in, NULL, (void *)(intptr_t)i};
      nb_addr server;
      nb_addr_parse("10.255.255.1:5684", 0, &server);
      check(nb_dtls_client_new(creds[i], &p, &h, &server, B.now, &B.devs[i].dtls), "client");
      check(nb_dtls_client_connect(B.devs[i].dtls, B.now), "connect");
      pump();
      if (nb_dtls_session_state(B.devs[i].dtls) != NB_DTLS_ESTABLISHED) die("handshake");
    }
  }
  register_all();
  observe_all();
  B.setup = false;
  sealing = true;
  stream_build(count);
  sealing = false;
  if (B.feed) feed_subscribe(subscribers);
  long sent0 = B.sent;
  double c0 = cpu_now(), w0 = wall_now();
  bench_measured_stream();
  double cpu = cpu_now() - c0, wall = wall_now() - w0;
  printf(
      "notify%s: %ld devices, %ld datagrams (%ld-byte %s), %ld notifications decoded, %ld "
      "datagrams sent\n",
      dtls     ? "-dtls"
      : B.feed ? "-feed"
               : "",
      devices, S.count, (long)S.len[0], dtls ? "records" : "CoAP", B.notifications, B.sent - sent0);
  printf("  %.0f notifications per CPU-second (%.2f us each; wall %.2f s)\n", count / cpu,
         1e6 * cpu / count, wall);
  if (B.feed)
    printf("  event feed: %ld subscribers, %llu frames formatted, %ld bytes read\n", B.nsubs,
           (unsigned long long)nb_http_events_frames_built(B.feed), B.feed_bytes);
  printf("  operations: %ld\n", count);
  int rc = B.notifications == count ? 0 : 1;
  if (rc)
    fprintf(stderr, "bench_engine: %ld of %ld notifications decoded\n", B.notifications, count);
  for (long i = 0; i < B.nsubs; i++)
    if (nb_http_sub_dropped(B.subs[i])) rc = 1, fprintf(stderr, "bench_engine: frames dropped\n");
  server_close();
  devices_free();
  for (long i = 0; creds && i < devices; i++) nb_dtls_creds_free(creds[i]);
  free(creds);
  free(S.dg);
  free(S.len);
  free(S.dev);
  return rc;
}

/* ---- register ---- */

__attribute__((noinline)) static void bench_measured_register(void) {
  for (long i = 0; i < S.count; i++) {
    engine_receive(&B.devs[S.dev[i]].addr, NULL, S.dg[i], S.len[i]);
    advance(i + 1);
  }
}

static int run_register(long devices) {
  devices_new(devices);
  server_open(false);
  S.dg = malloc((size_t)devices * SLOT);
  S.len = malloc((size_t)devices * sizeof *S.len);
  S.dev = malloc((size_t)devices * sizeof *S.dev);
  if (!S.dg || !S.len || !S.dev) die("out of memory");
  for (long i = 0; i < devices; i++) {
    S.len[i] = (uint16_t)register_datagram(i, S.dg[i], SLOT);
    S.dev[i] = i;
  }
  S.count = devices;
  double c0 = cpu_now();
  bench_measured_register();
  double cpu = cpu_now() - c0;
  printf("register: %ld Registers, %ld registered (engine + SQLite store)\n", devices,
         B.registered);
  printf("  %.0f registrations per CPU-second (%.2f us each)\n", devices / cpu,
         1e6 * cpu / devices);
  printf("  operations: %ld\n", devices);
  int rc = B.registered == devices ? 0 : 1;
  server_close();
  devices_free();
  free(S.dg);
  free(S.len);
  free(S.dev);
  return rc;
}

/* ---- handshake ---- */

static double server_cpu; /* CPU seconds spent inside the DTLS context */

__attribute__((noinline)) static void bench_measured_server(const nb_addr *peer,
                                                            const uint8_t *data, size_t len) {
  double c0 = cpu_now();
  nb_dtls_server_receive(B.dtls, peer, data, len, B.now);
  server_cpu += cpu_now() - c0;
}

/* Handshake datagrams go between the context and one client session at a time. */
static nb_dtls_session *hs_client;
static nb_addr hs_addr;
static uint8_t hs_q[64][1500];
static size_t hs_len[64];
static bool hs_to_server[64];
static int hs_n;

static void hs_push(bool to_server, const uint8_t *data, size_t len) {
  if (hs_n == 64 || len > sizeof hs_q[0]) die("handshake queue");
  memcpy(hs_q[hs_n], data, len);
  hs_len[hs_n] = len;
  hs_to_server[hs_n++] = to_server;
}

static void hs_server_out(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  (void)user;
  (void)peer;
  hs_push(false, data, len);
}

static void hs_client_out(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  (void)user;
  (void)peer;
  hs_push(true, data, len);
}

static void hs_ignore(void *user, const nb_addr *peer, const uint8_t *data, size_t len,
                      nb_time_ms now) {
  (void)user, (void)peer, (void)data, (void)len, (void)now;
}

static void hs_pump(void) {
  for (int k = 0; k < hs_n; k++) {
    uint8_t data[1500];
    size_t len = hs_len[k];
    memcpy(data, hs_q[k], len);
    if (hs_to_server[k])
      bench_measured_server(&hs_addr, data, len);
    else
      nb_dtls_session_receive(hs_client, data, len, B.now);
  }
  hs_n = 0;
}

static int run_handshake(long creds, long count) {
  store_open();
  B.ndevs = creds;
  install_psks(creds);
  check(nb_dtls_creds_new(&B.creds), "creds");
  nb_dtls_creds_set_psk_lookup(B.creds, nb_io_srv_store_psk_lookup, &B.store);
  nb_dtls_server_config dc;
  nb_dtls_server_config_default(&dc);
  nb_dtls_handlers h = {hs_server_out, hs_ignore, NULL, NULL};
  check(nb_dtls_server_new(&dc, B.creds, &h, &B.dtls), "dtls server");
  uint64_t x = 88172645463325252ull; /* xorshift: the same devices in every run */
  long done = 0;
  B.now = 1000;
  for (long k = 0; k < count; k++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    long i = (long)(x % (uint64_t)creds);
    char id[32];
    uint8_t key[PSK_LEN];
    device_name(i, id, sizeof id);
    device_psk(i, key);
    nb_dtls_creds *cc;
    check(nb_dtls_creds_new(&cc), "creds");
    check(nb_dtls_creds_set_psk(cc, id, strlen(id), key, sizeof key), "psk");
    nb_dtls_session_params p;
    nb_dtls_session_params_default(&p);
    p.session_ticket = false;
    nb_dtls_handlers ch = {hs_client_out, hs_ignore, NULL, NULL};
    nb_addr server;
    nb_addr_parse("10.255.255.1:5684", 0, &server);
    hs_addr = device_addr(k);
    check(nb_dtls_client_new(cc, &p, &ch, &server, B.now, &hs_client), "client");
    check(nb_dtls_client_connect(hs_client, B.now), "connect");
    while (hs_n) hs_pump();
    if (nb_dtls_session_state(hs_client) == NB_DTLS_ESTABLISHED) done++;
    nb_dtls_session_close(hs_client, B.now);
    while (hs_n) hs_pump();
    nb_dtls_session_free(hs_client);
    nb_dtls_creds_free(cc);
    B.now += 1;
  }
  nb_dtls_server_stats st;
  nb_dtls_server_get_stats(B.dtls, &st);
  printf(
      "handshake: %ld credentials in the store, %ld PSK handshakes, %ld established, %llu "
      "sessions left\n",
      creds, count, done, (unsigned long long)st.sessions);
  printf("  %.0f handshakes per server CPU-second (%.1f us of server CPU each)\n",
         done / server_cpu, 1e6 * server_cpu / (double)done);
  printf("  operations: %ld\n", done);
  nb_dtls_server_free(B.dtls);
  B.dtls = NULL;
  nb_dtls_creds_free(B.creds);
  B.creds = NULL;
  store_close();
  B.ndevs = 0;
  return done == count ? 0 : 1;
}

/* ---- memory and shutdown ---- */

static int run_memory(long devices) {
  devices_new(devices);
  server_open(false);
  long rss0 = rss_kib();
  size_t heap0 = heap_used();
  sqlite3_int64 sql0 = sqlite3_memory_used();
  for (long i = 0; i < devices; i++) {
    uint8_t buf[SLOT];
    size_t n = register_datagram(i, buf, sizeof buf);
    engine_receive(&B.devs[i].addr, NULL, buf, n);
    advance(i + 1);
  }
  /* What the CoAP layer keeps only for EXCHANGE_LIFETIME (the Registers' deduplication
   * entries and Message ID counters) goes first: what stays is what a registration costs. */
  B.now += 300000;
  nb_server_tick(B.srv, B.now);
  long rss1 = rss_kib();
  size_t heap1 = heap_used();
  sqlite3_int64 sql1 = sqlite3_memory_used();
  double n = (double)B.registered;
  printf("memory: %ld registrations (engine + SQLite store)\n", B.registered);
  printf(
      "  heap:      %8.0f bytes per registration (of which SQLite %.0f, bounded by its page "
      "cache)\n",
      (double)(heap1 - heap0) / n, (double)(sql1 - sql0) / n);
  printf("  resident:  %8.0f bytes per registration (VmRSS +%ld KiB)\n",
         (double)(rss1 - rss0) * 1024 / n, rss1 - rss0);
  double w0 = wall_now(), c0 = cpu_now();
  nb_server_free(B.srv);
  B.srv = NULL;
  double free_wall = wall_now() - w0, free_cpu = cpu_now() - c0;
  w0 = wall_now();
  store_close();
  double close_wall = wall_now() - w0;
  printf("  shutdown:  nb_server_free %.3f s (CPU %.3f s), store close %.3f s\n", free_wall,
         free_cpu, close_wall);
  int rc = B.registered == devices ? 0 : 1;
  devices_free();
  return rc;
}

int main(int argc, char **argv) {
  nb_log_set_level(NB_LOG_ERROR);
  const char *what = argc > 1 ? argv[1] : "";
  long a = argc > 2 ? strtol(argv[2], NULL, 10) : 0, b = argc > 3 ? strtol(argv[3], NULL, 10) : 0;
  B.now = 1000;
  long c = argc > 4 ? strtol(argv[4], NULL, 10) : 0;
  if (strcmp(what, "notify") == 0)
    return run_notify(false, a > 0 ? a : 1000, b > 0 ? b : 200000, -1);
  if (strcmp(what, "notify-dtls") == 0)
    return run_notify(true, a > 0 ? a : 1000, b > 0 ? b : 200000, -1);
  if (strcmp(what, "notify-feed") == 0)
    return run_notify(false, a > 0 ? a : 1000, b > 0 ? b : 200000, c > 0 ? c : 0);
  if (strcmp(what, "register") == 0) return run_register(a > 0 ? a : 10000);
  if (strcmp(what, "handshake") == 0) return run_handshake(a > 0 ? a : 1000, b > 0 ? b : 2000);
  if (strcmp(what, "memory") == 0) return run_memory(a > 0 ? a : 100000);
  if (what[0]) {
    fprintf(stderr,
            "usage: bench_engine [notify|notify-dtls|notify-feed|register|handshake|memory] "
            "[N [M [S]]]\n");
    return 2;
  }
  int rc = run_notify(false, 1000, 200000, -1);
  rc |= run_notify(true, 1000, 200000, -1);
  rc |= run_notify(false, 1000, 200000, 0);
  rc |= run_notify(false, 1000, 200000, 2);
  rc |= run_register(10000);
  rc |= run_handshake(1000, 2000);
  rc |= run_handshake(20000, 2000);
  rc |= run_handshake(100000, 2000);
  rc |= run_memory(100000);
  return rc;
}
