/* Bootstrap benchmark: complete bootstraps per second with the real bootstrap engine and real
 * client engines in one process (a tiny in-memory datagram loop with a virtual clock, no
 * sockets), device towards bootstrap server in NoSec, DTLS-PSK and DTLS-RPK (factory key whose
 * secure ID is registered out of band), and DTLS-RPK signed (writes signed by the bootstrap
 * server, the device's signed receipt checked and kept: what non-repudiation costs); each bootstrap
 * writes a fresh credential and installs it in an in-memory SQLite server store, as in production.
 * Reports rates as ratios to NoSec measured in the same run, and the bytes on the wire of one
 * bootstrap by message beside the seed thesis's Table 5.4 (125 bytes NoSec, 1,648 bytes with DTLS
 * including the handshake). `bench_bootstrap --soak N`: N bootstraps in one process, heap in use
 * along the way. */
#include <malloc.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "bootstrap/bootstrap.h"
#include "bootstrap/config_store.h"
#include "coap/msg.h"
#include "dtls/keys.h"
#include "dtls/server.h"
#include "io/dtls_server_io.h"
#include "niobium/client.h"
#include "store/sqlite.h"

enum { M_NOSEC, M_PSK, M_RPK, M_RPK_SIGNED, M_COUNT };
static const char *const mode_names[M_COUNT] = {"NoSec", "DTLS-PSK", "DTLS-RPK", "DTLS-RPK signed"};

#define QCAP 512
#define LABELS 32

typedef struct {
  nb_addr from, to;
  size_t len;
  uint8_t data[1600];
} dgram;

typedef struct {
  char name[48];
  unsigned count;
  size_t bytes;
} label;

typedef struct {
  int mode;
  nb_time_ms now;
  dgram *q;
  size_t qhead, qlen;
  nb_addr bs_addr, c_addr;
  nb_bs_engine *bs;
  nb_bs_store *bst;
  nb_store_sqlite *dm;
  nb_dtls_server *dtls;
  nb_dtls_creds *creds;
  nb_dtls_keypair bs_key;
  nb_client *c;
  bool finished, failed;
  bool account; /* count bytes by message */
  label labels[LABELS];
  size_t nlabels, total_bytes, total_dgrams;
} world;

static void die(const char *what, nb_err e) {
  fprintf(stderr, "bench_bootstrap: %s: %s\n", what, nb_strerror(e));
  exit(1);
}

/* ---- byte accounting ---- */

static void count_label(world *w, const char *name, size_t bytes) {
  size_t i = 0;
  while (i < w->nlabels && strcmp(w->labels[i].name, name) != 0) i++;
  if (i == w->nlabels) {
    if (w->nlabels == LABELS) return;
    snprintf(w->labels[w->nlabels++].name, sizeof w->labels[0].name, "%s", name);
  }
  w->labels[i].count++;
  w->labels[i].bytes += bytes;
}

/* NoSec: one label per CoAP message kind (method/answer and path). */
static void account_coap(world *w, bool to_bs, const uint8_t *d, size_t n) {
  nb_coap_msg m;
  char name[48], code[8], path[24] = "";
  if (nb_coap_parse(d, n, &m) != NB_OK) {
    count_label(w, "unparsable", n);
    return;
  }
  static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
  if (m.code >= 1 && m.code <= 4)
    snprintf(code, sizeof code, "%s", methods[m.code - 1]);
  else
    nb_coap_code_format(m.code, code);
  if (m.code >= 1 && m.code <= 4 &&
      nb_coap_msg_get_path(&m, NB_COAP_OPT_URI_PATH, path, sizeof path) != NB_OK)
    path[0] = '\0';
  snprintf(name, sizeof name, "%s %s%s%s%s", to_bs ? "dev->bs" : "bs->dev", code,
           path[0] ? " " : "", path, m.payload_len ? " +payload" : "");
  count_label(w, name, n);
}

/* DTLS: by record content type (a datagram may carry several records). */
static void account_dtls(world *w, bool to_bs, const uint8_t *d, size_t n) {
  static const char *const types[] = {"change_cipher_spec", "alert", "handshake",
                                      "application_data"};
  size_t off = 0;
  while (off + 13 <= n) {
    size_t rl = 13 + ((size_t)d[off + 11] << 8 | d[off + 12]);
    const char *t = d[off] >= 20 && d[off] <= 23 ? types[d[off] - 20] : "other";
    char name[48];
    snprintf(name, sizeof name, "%s %s", to_bs ? "dev->bs" : "bs->dev", t);
    count_label(w, name, rl > n - off ? n - off : rl);
    off += rl;
  }
}

/* ---- the datagram loop ---- */

static void enqueue(world *w, const nb_addr *from, const nb_addr *to, const uint8_t *d, size_t n) {
  if (w->qlen == QCAP || n > sizeof w->q[0].data) return; /* a full queue loses, like a net */
  dgram *g = &w->q[(w->qhead + w->qlen++) % QCAP];
  g->from = *from;
  g->to = *to;
  g->len = n;
  memcpy(g->data, d, n);
  bool bs_side = nb_addr_equal(from, &w->bs_addr) || nb_addr_equal(to, &w->bs_addr);
  if (w->account && bs_side && !w->finished) {
    bool to_bs = nb_addr_equal(to, &w->bs_addr);
    if (w->mode == M_NOSEC)
      account_coap(w, to_bs, d, n);
    else
      account_dtls(w, to_bs, d, n);
    w->total_bytes += n;
    w->total_dgrams++;
  }
}

static void client_send(void *u, const nb_addr *to, const uint8_t *d, size_t n) {
  world *w = u;
  enqueue(w, &w->c_addr, to, d, n);
}
static void bs_plain_send(void *u, const nb_addr *to, const uint8_t *d, size_t n) {
  world *w = u;
  enqueue(w, &w->bs_addr, to, d, n);
}
static void bs_coap_send(void *u, const nb_addr *to, const uint8_t *d, size_t n) {
  world *w = u;
  if (w->dtls)
    nb_dtls_server_send(w->dtls, to, d, n);
  else
    bs_plain_send(w, to, d, n);
}

static nb_server_identity identity_of(world *w, const nb_addr *peer) {
  nb_server_identity id = {.kind = NB_SERVER_ID_NONE};
  nb_dtls_session *s = w->dtls ? nb_dtls_server_find(w->dtls, peer) : NULL;
  const nb_dtls_peer *p = s ? nb_dtls_session_peer(s) : NULL;
  if (p) nb_io_srv_identity(p, &id); /* with the public key a signed receipt is checked with */
  return id;
}

static void dtls_recv(void *u, const nb_addr *p, const uint8_t *d, size_t n, nb_time_ms now) {
  world *w = u;
  nb_server_identity id = identity_of(w, p);
  nb_bs_engine_receive(w->bs, p, &id, d, n, now);
}
static void dtls_event(void *u, const nb_addr *p, nb_dtls_session *s, const nb_dtls_event *ev,
                       nb_time_ms now) {
  (void)p, (void)s, (void)now;
  if (ev->type == NB_DTLS_EV_FAILED) ((world *)u)->failed = true;
}

static void deliver(world *w, const dgram *g) {
  if (nb_addr_equal(&g->to, &w->bs_addr)) {
    if (w->dtls)
      nb_dtls_server_receive(w->dtls, &g->from, g->data, g->len, w->now);
    else
      nb_bs_engine_receive(w->bs, &g->from, NULL, g->data, g->len, w->now);
  } else if (nb_addr_equal(&g->to, &w->c_addr) && w->c) {
    nb_client_receive(w->c, &g->from, g->data, g->len, w->now);
  } /* else: towards the management server, which is not part of this benchmark */
}

static nb_time_ms min_t(nb_time_ms a, nb_time_ms b) { return a < b ? a : b; }

/* Runs until the bootstrap finished or failed, or a minute of virtual time went by. */
static bool run(world *w) {
  nb_time_ms limit = w->now + 60000;
  while (!w->finished && !w->failed && w->now < limit) {
    if (w->qlen) {
      dgram g = w->q[w->qhead];
      w->qhead = (w->qhead + 1) % QCAP;
      w->qlen--;
      deliver(w, &g);
      continue;
    }
    nb_time_ms d = min_t(nb_bs_engine_next_deadline(w->bs), nb_client_next_deadline(w->c));
    if (w->dtls) d = min_t(d, nb_dtls_server_next_deadline(w->dtls));
    if (d == NB_TIME_NEVER) break;
    if (d > w->now) w->now = d;
    if (w->dtls) nb_dtls_server_tick(w->dtls, w->now);
    nb_bs_engine_tick(w->bs, w->now);
    nb_client_tick(w->c, w->now);
  }
  return w->finished;
}

static void on_bs_event(void *u, const nb_bs_event *ev) {
  world *w = u;
  if (ev->type == NB_BS_EV_FINISHED) w->finished = true;
  if (ev->type == NB_BS_EV_FAILED || ev->type == NB_BS_EV_REJECTED || ev->type == NB_BS_EV_ALERT)
    w->failed = true;
}

/* ---- setup ---- */

static void world_init(world *w, int mode) {
  memset(w, 0, sizeof *w);
  w->mode = mode;
  if (!(w->q = malloc(QCAP * sizeof *w->q))) die("memory", NB_ERR_NOMEM);
  nb_addr_parse("10.0.0.1", mode == M_NOSEC ? 5783 : 5784, &w->bs_addr);
  nb_err e = nb_bs_store_open(":memory:", &w->bst);
  if (e == NB_OK) e = nb_store_sqlite_open(":memory:", &w->dm);
  if (e != NB_OK) die("store", e);
  /* The default config: a management server account with a fresh PSK per bootstrap (NoSec
   * devices get a NoSec account, as the thesis's NoSec measurement). */
  nb_bs_config cfg;
  nb_bs_config_init(&cfg, "");
  nb_bs_server s = {.ssid = 101, .lifetime = 300, .binding = "U"};
  s.mode = mode == M_NOSEC ? NB_BS_SEC_NOSEC : NB_BS_SEC_PSK;
  snprintf(s.uri, sizeof s.uri, "%s",
           mode == M_NOSEC ? "coap://10.0.0.2:5683" : "coaps://10.0.0.2:5684");
  if ((e = nb_bs_config_add_server(&cfg, &s)) != NB_OK ||
      (e = nb_bs_store_config_put(w->bst, &cfg)) != NB_OK)
    die("config", e);
  if (mode != M_NOSEC && (e = nb_dtls_keypair_generate(&w->bs_key)) != NB_OK)
    die("bootstrap server key", e);
  nb_bs_engine_config bc;
  nb_bs_engine_config_default(&bc);
  bc.source = nb_bs_store_source(w->bst);
  bc.dm_store = nb_store_sqlite_iface(w->dm);
  if (mode == M_RPK_SIGNED) { /* signs the writes, checks and keeps the device's receipt */
    bc.sign_key = w->bs_key.key_der.data;
    bc.sign_key_len = w->bs_key.key_der.len;
  }
  if ((e = nb_bs_engine_new(&bc, bs_coap_send, w, &w->bs)) != NB_OK) die("engine", e);
  nb_bs_engine_add_listener(w->bs, on_bs_event, w);
  if (mode == M_NOSEC) return;
  if ((e = nb_dtls_creds_new(&w->creds)) ||
      (e = nb_dtls_creds_set_rpk(w->creds, w->bs_key.key_der.data, w->bs_key.key_der.len)))
    die("bootstrap server key", e);
  nb_dtls_creds_set_verify(w->creds, nb_bs_engine_verify_peer, w->bs);
  nb_dtls_creds_set_psk_lookup(w->creds, nb_bs_engine_psk_lookup, w->bs);
  nb_dtls_server_config dc;
  nb_dtls_server_config_default(&dc);
  nb_dtls_handlers h = {bs_plain_send, dtls_recv, dtls_event, w};
  if ((e = nb_dtls_server_new(&dc, w->creds, &h, &w->dtls)) != NB_OK) die("dtls server", e);
}

static void world_free(world *w) {
  nb_bs_engine_free(w->bs);
  nb_dtls_server_free(w->dtls);
  nb_dtls_creds_free(w->creds);
  nb_dtls_keypair_free(&w->bs_key);
  nb_bs_store_close(w->bst);
  nb_store_sqlite_close(w->dm);
  free(w->q);
}

/* Device i's bootstrap credential (registered with the bootstrap server out of band). */
typedef struct {
  char ep[32];
  uint8_t psk[16];
  nb_dtls_keypair key; /* RPK */
} device;

static void device_make(world *w, device *d, unsigned i) {
  memset(d, 0, sizeof *d);
  snprintf(d->ep, sizeof d->ep, "bench-%s-%u", mode_names[w->mode], i);
  nb_server_sec_info c = {.kind = NB_SERVER_ID_NONE};
  snprintf(c.ep, sizeof c.ep, "%s", d->ep);
  if (w->mode == M_PSK) {
    for (size_t k = 0; k < sizeof d->psk; k++) d->psk[k] = (uint8_t)(i * 31 + k);
    c.kind = NB_SERVER_ID_PSK;
    snprintf(c.identity, sizeof c.identity, "%s", d->ep);
    memcpy(c.key, d->psk, sizeof d->psk);
    c.key_len = sizeof d->psk;
  } else if (w->mode == M_RPK || w->mode == M_RPK_SIGNED) {
    nb_err e = nb_dtls_keypair_generate(&d->key);
    if (e != NB_OK) die("device key", e);
    c.kind = NB_SERVER_ID_RPK;
    snprintf(c.identity, sizeof c.identity, "%s", d->key.secure_id);
  }
  if (c.kind != NB_SERVER_ID_NONE && nb_bs_store_cred_put(w->bst, &c) != NB_OK)
    die("credential", NB_ERR_IO);
}

/* One complete bootstrap of device d (a fresh client engine); false when it did not finish. */
static bool bootstrap_one(world *w, const device *d, unsigned i) {
  w->finished = w->failed = false;
  w->qlen = 0;
  nb_addr_parse("10.0.1.1", (uint16_t)(10000 + i % 50000), &w->c_addr);
  w->c_addr.ip[2] = (uint8_t)(1 + i / 50000);
  nb_client_config cc;
  nb_client_config_default(&cc);
  cc.endpoint = d->ep;
  cc.send = client_send;
  cc.send_user = w;
  cc.signed_bootstrap = w->mode == M_RPK_SIGNED;
  nb_err e = nb_client_new(&cc, &w->c);
  if (e != NB_OK) die("client", e);
  nb_client_device_info info = {
      .manufacturer = "ACME", .battery_level = -1, .memory_free_kb = -1, .memory_total_kb = -1};
  nb_client_add_device(w->c, &info);
  nb_client_server_params p = {.bootstrap = true};
  if (w->mode == M_NOSEC) {
    p.uri = "coap://10.0.0.1:5783";
    p.security_mode = 3;
  } else if (w->mode == M_PSK) {
    p.uri = "coaps://10.0.0.1:5784";
    p.security_mode = 0;
    p.identity = (const uint8_t *)d->ep;
    p.identity_len = strlen(d->ep);
    p.secret = d->psk;
    p.secret_len = sizeof d->psk;
  } else {
    p.uri = "coaps://10.0.0.1:5784";
    p.security_mode = 1;
    p.secret = d->key.key_der.data;
    p.secret_len = d->key.key_der.len;
    p.server_key = w->bs_key.spki_der.data;
    p.server_key_len = w->bs_key.spki_der.len;
  }
  if ((e = nb_client_add_server(w->c, &p)) != NB_OK || (e = nb_client_start(w->c, w->now)))
    die("client start", e);
  bool ok = run(w);
  nb_client_free(w->c);
  w->c = NULL;
  if (w->dtls) nb_dtls_server_close(w->dtls, &w->c_addr, w->now);
  w->now += 1000;
  /* The shell's timer fires between devices too: expired deduplication entries go. */
  if (w->dtls) nb_dtls_server_tick(w->dtls, w->now);
  nb_bs_engine_tick(w->bs, w->now);
  return ok;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_bytes(world *w) {
  printf("\n%s: one bootstrap on the wire (UDP payload bytes, both directions)\n",
         mode_names[w->mode]);
  printf("| message | count | bytes |\n|---|---:|---:|\n");
  for (size_t i = 0; i < w->nlabels; i++)
    printf("| %s | %u | %zu |\n", w->labels[i].name, w->labels[i].count, w->labels[i].bytes);
  printf("| **total** (%zu datagrams) | | **%zu** |\n", w->total_dgrams, w->total_bytes);
}

/* ---- soak: memory per bootstrap over a long run ---- */

static size_t heap_in_use(void) { return mallinfo2().uordblks; }

static void soak_report(unsigned i, world *w, double t0) {
  nb_bs_engine_stats a, b;
  nb_bs_engine_get_stats(w[0].bs, &a);
  nb_bs_engine_get_stats(w[1].bs, &b);
  nb_dtls_server_stats d;
  nb_dtls_server_get_stats(w[1].dtls, &d);
  printf("| %u | %zu | %lld | %llu | %llu | %llu | %llu | %.1f |\n", i, heap_in_use(),
         (long long)sqlite3_memory_used(), (unsigned long long)(a.finished + b.finished),
         (unsigned long long)(a.sessions + b.sessions), (unsigned long long)(a.waiting + b.waiting),
         (unsigned long long)d.sessions, now_s() - t0);
  fflush(stdout);
}

/* n complete bootstraps alternating NoSec and DTLS-PSK (a pool of devices re-enrolled again and
 * again, a fresh client engine and a fresh management PSK every time) in one process; heap in
 * use and live state every n/20 bootstraps, and the growth per bootstrap after a 10 % warm-up
 * (the CoAP deduplication caches fill for 247 s of virtual time first). */
static int soak(unsigned n) {
  enum { POOL = 64 };
  world w[2];
  device devs[2][POOL];
  world_init(&w[0], M_NOSEC);
  world_init(&w[1], M_PSK);
  for (int m = 0; m < 2; m++)
    for (unsigned i = 0; i < POOL; i++) device_make(&w[m], &devs[m][i], i);
  unsigned warm = n / 10 ? n / 10 : 1, step = n / 20 ? n / 20 : 1, done = 0;
  size_t heap_warm = 0, lo = SIZE_MAX, hi = 0;
  long long sql_warm = 0;
  printf(
      "| bootstraps | heap in use (B) | of which SQLite (B) | finished | sessions | pending | "
      "DTLS sessions | s |\n"
      "|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  double t0 = now_s();
  for (unsigned i = 1; i <= n; i++) {
    world *x = &w[i % 2];
    done += bootstrap_one(x, &devs[i % 2][(i / 2) % POOL], i);
    if (i == warm) heap_warm = heap_in_use(), sql_warm = sqlite3_memory_used();
    if (i >= warm) {
      size_t h = heap_in_use();
      lo = h < lo ? h : lo;
      hi = h > hi ? h : hi;
    }
    if (i % step == 0 || i == warm) soak_report(i, w, t0);
  }
  size_t heap_end = heap_in_use();
  long long sql_end = sqlite3_memory_used();
  double per = (double)(n - warm ? n - warm : 1);
  printf(
      "\nsoak: %u of %u bootstraps finished; heap in use after warm-up (%u) %zu B, at the end "
      "%zu B: %+.3f B per bootstrap (%+.3f B outside SQLite); range after warm-up %zu..%zu "
      "B\n",
      done, n, warm, heap_warm, heap_end, ((double)heap_end - (double)heap_warm) / per,
      ((double)heap_end - (double)sql_end - (double)heap_warm + (double)sql_warm) / per, lo, hi);
  for (int m = 0; m < 2; m++) {
    for (unsigned i = 0; i < POOL; i++) nb_dtls_keypair_free(&devs[m][i].key);
    world_free(&w[m]);
  }
  return done == n ? 0 : 1;
}

int main(int argc, char **argv) {
  unsigned n[M_COUNT] = {2000, 300, 200, 200};
  if (argc > 2 && strcmp(argv[1], "--soak") == 0) {
    nb_log_set_level(NB_LOG_ERROR);
    return soak((unsigned)strtoul(argv[2], NULL, 10));
  }
  if (argc > 1) {
    double scale = strtod(argv[1], NULL); /* `bench_bootstrap 0.1` for a quick run */
    for (int m = 0; m < M_COUNT; m++) n[m] = (unsigned)(n[m] * scale) + 1;
  }
  nb_log_set_level(NB_LOG_ERROR);
  double rate[M_COUNT];
  size_t bytes[M_COUNT];
  for (int m = 0; m < M_COUNT; m++) {
    world w;
    world_init(&w, m);
    device *devs = calloc(n[m] + 1, sizeof *devs);
    if (!devs) die("memory", NB_ERR_NOMEM);
    for (unsigned i = 0; i <= n[m]; i++) device_make(&w, &devs[i], i); /* untimed */
    /* Device 0 is measured on the wire; the rest are timed. */
    w.account = true;
    if (!bootstrap_one(&w, &devs[0], 0)) die("the measured bootstrap did not finish", NB_ERR_IO);
    w.account = false;
    print_bytes(&w);
    bytes[m] = w.total_bytes;
    unsigned done = 0;
    double t0 = now_s();
    for (unsigned i = 1; i <= n[m]; i++) done += bootstrap_one(&w, &devs[i], i);
    double dt = now_s() - t0;
    rate[m] = done / dt;
    nb_bs_engine_stats st;
    nb_bs_engine_get_stats(w.bs, &st);
    printf(
        "%s: %u of %u bootstraps finished in %.3f s: %.0f bootstraps/s (engine: finished=%llu "
        "failed=%llu retries=%llu)\n",
        mode_names[m], done, n[m], dt, rate[m], (unsigned long long)st.finished,
        (unsigned long long)st.failed, (unsigned long long)st.retries);
    for (unsigned i = 0; i <= n[m]; i++) nb_dtls_keypair_free(&devs[i].key);
    free(devs);
    world_free(&w);
    if (done != n[m]) return 1;
  }
  printf(
      "\n| mode | bootstraps/s | ratio to NoSec | bytes of one bootstrap | thesis (Table 5.4) |\n"
      "|---|---:|---:|---:|---:|\n");
  for (int m = 0; m < M_COUNT; m++)
    printf("| %s | %.0f | %.3f | %zu | %s |\n", mode_names[m], rate[m], rate[m] / rate[M_NOSEC],
           bytes[m],
           m == M_NOSEC        ? "125"
           : m == M_RPK_SIGNED ? "- (the thesis had no signatures)"
                               : "1,648 (DTLS incl. handshake)");
  return 0;
}
