/* bench/dtls_flood: the DTLS server context (src/dtls/server.c, defaults of `niobium server`)
 * under a half-open flood, in one process on a virtual clock: flood peers complete the cookie
 * exchange with real GnuTLS ClientHellos from new ports and go silent, while legitimate PSK
 * devices handshake, one every 100 ms. For each case: how many devices got a session, how many
 * at their first ClientHello (under 1 s: no retransmission), their handshake latency in
 * virtual time, and the server's CPU time (real) per flood exchange. The baseline is the same
 * device stream without a flood, measured in the same run; each flood case runs with today's
 * policy and with the one before issue 13 (no bound per source, no known share, no eviction,
 * silent handshakes kept to the 60 s handshake timeout), emulated through the configuration.
 * Cases:
 *   one source:   the flood from one address, a new port each time (the attack of issue 13);
 *   many sources: the flood spread over 4,096 addresses; half of the devices are returning ones
 *                 (they completed a handshake from their address before the flood began).
 * Usage: bench_dtls_flood [VIRTUAL_SECONDS [FLOOD_PER_SECOND]]  (default 30 and 500) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "dtls/server.h"
#include "dtls/session.h"

#define DELAY_MS 10 /* one way, every link */
#define DEVICE_EVERY 100
#define QUEUE 8192
#define MAX_DEVICES 2048
#define MAX_FLOOD_INFLIGHT 256
#define SPREAD 4096 /* addresses of the many-source flood */

typedef struct {
  nb_time_ms at;
  bool to_server;
  nb_addr peer; /* the client end */
  size_t len;
  uint8_t d[1500];
} pkt;

typedef struct {
  nb_addr addr;
  nb_dtls_session *s;
  nb_time_ms started, done_at;
  bool returning, done, ok;
} device;

typedef struct {
  nb_addr addr;
  nb_dtls_session *s;
} flood_peer;

typedef struct {
  const char *name;
  bool flood, spread, old_policy;
} scenario;

typedef struct {
  uint64_t flood_exchanges, devices, ok, first, ok_returning, n_returning, held_max;
  nb_time_ms p50, p99, max;
  double server_us_per_flood, server_seconds;
  nb_dtls_server_stats st;
} result;

static struct {
  pkt *q;
  size_t head, tail;
  nb_dtls_server *srv;
  nb_addr server_addr;
  nb_dtls_creds *screds, *dev_creds, *flood_creds;
  device dev[MAX_DEVICES];
  size_t ndev;
  flood_peer fl[MAX_FLOOD_INFLIGHT];
  nb_time_ms now;
  double server_seconds;
} W;

static void die(const char *what, nb_err e) {
  fprintf(stderr, "bench_dtls_flood: %s: %s\n", what, nb_strerror(e));
  exit(1);
}

static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void push(bool to_server, const nb_addr *peer, const uint8_t *d, size_t n) {
  if (W.tail - W.head == QUEUE || n > sizeof W.q[0].d) return; /* a full link drops */
  pkt *p = &W.q[W.tail++ % QUEUE];
  p->at = W.now + DELAY_MS;
  p->to_server = to_server;
  p->peer = *peer;
  p->len = n;
  memcpy(p->d, d, n);
}

static flood_peer *flood_find(const nb_addr *a) {
  for (size_t i = 0; i < MAX_FLOOD_INFLIGHT; i++)
    if (W.fl[i].s && nb_addr_equal(&W.fl[i].addr, a)) return &W.fl[i];
  return NULL;
}

static device *device_find(const nb_addr *a) {
  for (size_t i = W.ndev; i-- > 0;)
    if (!W.dev[i].done && nb_addr_equal(&W.dev[i].addr, a)) return &W.dev[i];
  return NULL;
}

/* What the server sends: only what a live peer still reads goes on the link (the flood reads
 * its HelloVerifyRequest and nothing else). */
static void server_send(void *u, const nb_addr *peer, const uint8_t *d, size_t n) {
  (void)u;
  if (flood_find(peer) || device_find(peer)) push(false, peer, d, n);
}

static void client_send(void *u, const nb_addr *peer, const uint8_t *d, size_t n) {
  (void)peer;
  push(true, (const nb_addr *)u, d, n);
}

static void no_recv(void *u, const nb_addr *p, const uint8_t *d, size_t n, nb_time_ms t) {
  (void)u, (void)p, (void)d, (void)n, (void)t;
}

static void server_receive(const pkt *p) {
  double t0 = wall();
  nb_dtls_server_receive(W.srv, &p->peer, p->d, p->len, W.now);
  W.server_seconds += wall() - t0;
}

static void deliver(void) {
  while (W.head != W.tail && W.q[W.head % QUEUE].at <= W.now) {
    pkt *p = &W.q[W.head++ % QUEUE];
    if (p->to_server) {
      server_receive(p);
      continue;
    }
    flood_peer *f = flood_find(&p->peer);
    if (f) { /* the HelloVerifyRequest: answer with the cookie, then silence */
      nb_dtls_session_receive(f->s, p->d, p->len, W.now);
      nb_dtls_session_free(f->s);
      f->s = NULL;
      continue;
    }
    device *dv = device_find(&p->peer);
    if (dv) nb_dtls_session_receive(dv->s, p->d, p->len, W.now);
  }
}

static nb_addr addr4(uint8_t a, uint8_t b, uint16_t host, uint16_t port) {
  nb_addr x;
  memset(&x, 0, sizeof x);
  x.family = NB_ADDR_V4;
  x.ip[0] = a, x.ip[1] = b, x.ip[2] = (uint8_t)(host >> 8), x.ip[3] = (uint8_t)host;
  x.port = port;
  return x;
}

static void flood_start(const scenario *sc, uint64_t i) {
  flood_peer *f = NULL;
  for (size_t k = 0; k < MAX_FLOOD_INFLIGHT && !f; k++)
    if (!W.fl[k].s) f = &W.fl[k];
  if (!f) return;
  f->addr = sc->spread ? addr4(198, 51, (uint16_t)(i % SPREAD), (uint16_t)(1024 + i / SPREAD))
                       : addr4(203, 0, 113, (uint16_t)(1024 + i % 60000));
  nb_dtls_handlers h = {client_send, no_recv, NULL, &f->addr};
  nb_err e = nb_dtls_client_new(W.flood_creds, NULL, &h, &W.server_addr, W.now, &f->s);
  if (e == NB_OK) e = nb_dtls_client_connect(f->s, W.now);
  if (e != NB_OK) die("flood client", e);
}

static void device_start(const nb_addr *a, bool returning) {
  if (W.ndev == MAX_DEVICES) return;
  device *dv = &W.dev[W.ndev++];
  memset(dv, 0, sizeof *dv);
  dv->addr = *a;
  dv->returning = returning;
  dv->started = W.now;
  nb_dtls_handlers h = {client_send, no_recv, NULL, &dv->addr};
  nb_err e = nb_dtls_client_new(W.dev_creds, NULL, &h, &W.server_addr, W.now, &dv->s);
  if (e == NB_OK) e = nb_dtls_client_connect(dv->s, W.now);
  if (e != NB_OK) die("device", e);
}

static void devices_tick(void) {
  for (size_t i = 0; i < W.ndev; i++) {
    device *dv = &W.dev[i];
    if (dv->done) continue;
    if (nb_dtls_session_next_deadline(dv->s) <= W.now) nb_dtls_session_tick(dv->s, W.now);
    nb_dtls_state st = nb_dtls_session_state(dv->s);
    if (st == NB_DTLS_HANDSHAKING) continue;
    dv->done = true;
    dv->ok = st == NB_DTLS_ESTABLISHED;
    dv->done_at = W.now;
    nb_dtls_session_free(dv->s);
    dv->s = NULL;
  }
}

static void server_tick(void) {
  if (nb_dtls_server_next_deadline(W.srv) > W.now) return;
  double t0 = wall();
  nb_dtls_server_tick(W.srv, W.now);
  W.server_seconds += wall() - t0;
}

static int cmp_time(const void *a, const void *b) {
  nb_time_ms x = *(const nb_time_ms *)a, y = *(const nb_time_ms *)b;
  return (x > y) - (x < y);
}

static void server_new(bool old_policy) {
  nb_dtls_server_config cfg;
  nb_dtls_server_config_default(&cfg);
  if (old_policy) {
    cfg.max_handshakes_per_source = 0;
    cfg.known_share_pct = 0;
    cfg.stall_retransmits = 20; /* past the handshake timeout: that one ends them */
    cfg.evict_stalled = false;
  }
  nb_dtls_handlers h = {server_send, no_recv, NULL, NULL};
  nb_err e = nb_dtls_server_new(&cfg, W.screds, &h, &W.srv);
  if (e != NB_OK) die("server", e);
}

/* One case: returning devices handshake once in the first second (before the flood), the
 * flood starts at 1 s, the device stream runs from 5 s to `seconds` - 10 s, and the run ends at
 * `seconds`. */
static result run(const scenario *sc, nb_time_ms seconds, unsigned rate) {
  result r;
  memset(&r, 0, sizeof r);
  W.head = W.tail = 0;
  W.ndev = 0;
  W.server_seconds = 0;
  memset(W.fl, 0, sizeof W.fl);
  server_new(sc->old_policy);
  const nb_time_ms end = seconds * 1000, stream_end = end - 10000;
  const uint16_t returning = (uint16_t)((stream_end - 5000) / DEVICE_EVERY / 2);
  uint64_t flood_i = 0, device_i = 0;
  for (W.now = 0; W.now <= end; W.now++) {
    deliver();
    if (sc->spread && W.now < returning) {
      nb_addr a = addr4(10, 2, (uint16_t)W.now, 5000);
      device_start(&a, true);
    }
    if (sc->flood && W.now >= 1000) {
      uint64_t due = (uint64_t)(W.now - 1000) * rate / 1000;
      while (flood_i < due) flood_start(sc, flood_i++);
    }
    if (W.now >= 5000 && W.now < stream_end && W.now % DEVICE_EVERY == 0) {
      uint16_t k = (uint16_t)(device_i++ / 2);
      bool back = sc->spread && device_i % 2 == 0; /* every other one: a returning device */
      nb_addr a = back ? addr4(10, 2, k, 6000) : addr4(10, 1, (uint16_t)device_i, 5000);
      device_start(&a, back);
    }
    server_tick();
    devices_tick();
    nb_dtls_server_stats st;
    nb_dtls_server_get_stats(W.srv, &st);
    if (st.handshakes > r.held_max) r.held_max = st.handshakes;
  }
  nb_time_ms lat[MAX_DEVICES];
  size_t nlat = 0;
  for (size_t i = 0; i < W.ndev; i++) {
    device *dv = &W.dev[i];
    if (sc->spread && dv->started < returning) continue; /* the warm-up */
    r.devices++;
    r.n_returning += dv->returning;
    if (!dv->ok) continue;
    r.ok++;
    r.ok_returning += dv->returning;
    lat[nlat++] = dv->done_at - dv->started;
    if (dv->done_at - dv->started < 1000) r.first++;
  }
  qsort(lat, nlat, sizeof *lat, cmp_time);
  if (nlat) {
    r.p50 = lat[nlat / 2];
    r.p99 = lat[nlat * 99 / 100];
    r.max = lat[nlat - 1];
  }
  r.flood_exchanges = flood_i;
  r.server_seconds = W.server_seconds;
  nb_dtls_server_get_stats(W.srv, &r.st);
  for (size_t i = 0; i < W.ndev; i++) nb_dtls_session_free(W.dev[i].s);
  for (size_t i = 0; i < MAX_FLOOD_INFLIGHT; i++) nb_dtls_session_free(W.fl[i].s);
  nb_dtls_server_free(W.srv);
  return r;
}

static nb_err psk_lookup(void *u, const uint8_t *id, size_t id_len, uint8_t *key, size_t cap,
                         size_t *key_len) {
  (void)u, (void)id, (void)id_len, (void)cap;
  memset(key, 0x5A, 16);
  *key_len = 16;
  return NB_OK;
}

static void row(const scenario *sc, const result *r, const result *base) {
  double per = r->flood_exchanges
                   ? (r->server_seconds - base->server_seconds) * 1e6 / (double)r->flood_exchanges
                   : 0;
  printf(
      "| %-12s | %-6s | %6llu | %4llu/%-4llu | %4llu | %5lld | %5lld | %5lld | %4llu | %6llu "
      "| %5llu | %5llu | %5.1f |\n",
      sc->flood ? sc->name : "baseline", sc->flood ? (sc->old_policy ? "before" : "now") : "-",
      (unsigned long long)r->flood_exchanges, (unsigned long long)r->ok,
      (unsigned long long)r->devices, (unsigned long long)r->first, (long long)r->p50,
      (long long)r->p99, (long long)r->max, (unsigned long long)r->held_max,
      (unsigned long long)r->st.refused, (unsigned long long)r->st.evicted,
      (unsigned long long)r->st.stalled, per);
  if (r->n_returning)
    printf("|   returning devices: %llu/%llu got a session\n", (unsigned long long)r->ok_returning,
           (unsigned long long)r->n_returning);
}

int main(int argc, char **argv) {
  nb_time_ms seconds = argc > 1 ? atoll(argv[1]) : 30;
  unsigned rate = argc > 2 ? (unsigned)atoi(argv[2]) : 500;
  if (seconds < 20 || rate == 0) {
    fprintf(stderr, "usage: bench_dtls_flood [VIRTUAL_SECONDS (>= 20) [FLOOD_PER_SECOND]]\n");
    return 2;
  }
  nb_log_set_level(NB_LOG_ERROR);
  W.q = calloc(QUEUE, sizeof *W.q);
  if (!W.q) die("queue", NB_ERR_NOMEM);
  nb_addr_parse("10.0.0.1:5684", 0, &W.server_addr);
  uint8_t key[16], other[16];
  memset(key, 0x5A, sizeof key);
  memset(other, 0xA5, sizeof other);
  nb_err e = nb_dtls_creds_new(&W.screds);
  if (e == NB_OK) e = nb_dtls_creds_new(&W.dev_creds);
  if (e == NB_OK) e = nb_dtls_creds_new(&W.flood_creds);
  if (e == NB_OK) e = nb_dtls_creds_set_psk(W.dev_creds, "device", 6, key, sizeof key);
  if (e == NB_OK) e = nb_dtls_creds_set_psk(W.flood_creds, "flood", 5, other, sizeof other);
  if (e != NB_OK) die("credentials", e);
  nb_dtls_creds_set_psk_lookup(W.screds, psk_lookup, NULL);

  printf(
      "== DTLS server under a half-open flood: %lld s of virtual time, flood %u cookie "
      "exchanges/s from 1 s, a PSK device every %d ms from 5 s, links %d ms one way ==\n",
      (long long)seconds, rate, DEVICE_EVERY, DELAY_MS);
  printf(
      "| flood        | policy | flood  | sessions  | 1st  | p50ms | p99ms | maxms | held | "
      "refused | evict | stall | us/fl |\n");
  const scenario base_sc = {"", false, false, false};
  result base = run(&base_sc, seconds, rate);
  row(&base_sc, &base, &base);
  const scenario cases[] = {
      {"one source", true, false, true},
      {"one source", true, false, false},
      {"many sources", true, true, true},
      {"many sources", true, true, false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    result r = run(&cases[i], seconds, rate);
    row(&cases[i], &r, &base);
  }
  printf(
      "(sessions: devices that got one / devices; 1st: at their first ClientHello, under 1 s;\n"
      " held: most handshakes in progress at once; us/fl: server CPU per flood exchange, the\n"
      " baseline's taken off)\n");
  nb_dtls_creds_free(W.screds);
  nb_dtls_creds_free(W.dev_creds);
  nb_dtls_creds_free(W.flood_creds);
  free(W.q);
  return 0;
}
