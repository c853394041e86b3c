/* Half-open DTLS handshakes against the server context (issue 13, item 3), in memory on a
 * virtual clock: peers complete the cookie exchange with real GnuTLS ClientHellos and go
 * silent. The bound per source (IPv4 address, IPv6 /64, any port); the end of a stalled
 * handshake by the retransmission schedule (15 s, not the 60 s handshake timeout) while a
 * peer that talks is kept; the share of the table kept for known sources; who may evict whom
 * when it is full; and the log under a flood: one summary line per minute, counts exact
 * (item 13). Each fails on the code before the fix, which had none of this. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"
#include "dtls/record.h"
#include "dtls/server.h"
#include "dtls/session.h"

/* ---- an in-memory network: one server context, client sessions by address ---- */

enum { MAX_PEERS = 512, QUEUE = 256, SENT_LOG = 8192 };

typedef struct {
  bool to_server;
  nb_addr peer; /* the client end */
  size_t len;
  uint8_t d[1500];
} dgram;

typedef struct {
  nb_addr to;
  nb_time_ms at;
  uint8_t type; /* first record's content type */
} sent_rec;

typedef struct fx fx;

typedef struct {
  fx *f;
  nb_addr addr;
  nb_dtls_session *s;
  int budget;         /* server datagrams still delivered to it; <0: all */
  uint8_t last[1500]; /* the last datagram it sent */
  size_t last_len;
} peer;

struct fx {
  nb_dtls_creds *screds, *ccreds, *wrong; /* wrong: a PSK the server does not have */
  nb_dtls_server *srv;
  nb_dtls_server_config cfg;
  dgram q[QUEUE];
  size_t qhead, qtail;
  peer peers[MAX_PEERS];
  size_t npeers;
  sent_rec sent[SENT_LOG];
  size_t nsent;
  int ev_failed, ev_limit, ev_timeout;
};

static void queue_push(fx *f, bool to_server, const nb_addr *p, const uint8_t *d, size_t n) {
  assert_true(n <= sizeof f->q[0].d);
  assert_true(f->qtail - f->qhead < QUEUE);
  dgram *g = &f->q[f->qtail++ % QUEUE];
  g->to_server = to_server;
  g->peer = *p;
  g->len = n;
  memcpy(g->d, d, n);
}

static nb_time_ms g_now;

static void server_send(void *u, const nb_addr *p, const uint8_t *d, size_t n) {
  fx *f = u;
  if (f->nsent < SENT_LOG) f->sent[f->nsent++] = (sent_rec){*p, g_now, n > 0 ? d[0] : 0};
  queue_push(f, false, p, d, n);
}

static void no_recv(void *u, const nb_addr *p, const uint8_t *d, size_t n, nb_time_ms t) {
  (void)u, (void)p, (void)d, (void)n, (void)t;
}

static void server_event(void *u, const nb_addr *p, nb_dtls_session *s, const nb_dtls_event *ev,
                         nb_time_ms now) {
  fx *f = u;
  (void)p, (void)s, (void)now;
  if (ev->type != NB_DTLS_EV_FAILED) return;
  f->ev_failed++;
  f->ev_limit += ev->err == NB_ERR_DTLS_LIMIT;
  f->ev_timeout += ev->err == NB_ERR_DTLS_TIMEOUT;
}

static void client_send(void *u, const nb_addr *to, const uint8_t *d, size_t n) {
  peer *c = u;
  (void)to;
  assert_true(n <= sizeof c->last);
  memcpy(c->last, d, n);
  c->last_len = n;
  queue_push(c->f, true, &c->addr, d, n);
}

static peer *peer_find(fx *f, const nb_addr *a) {
  for (size_t i = 0; i < f->npeers; i++)
    if (nb_addr_equal(&f->peers[i].addr, a)) return &f->peers[i];
  return NULL;
}

/* Delivers everything queued, at now. */
static void pump(fx *f, nb_time_ms now) {
  g_now = now;
  while (f->qhead != f->qtail) {
    dgram g = f->q[f->qhead++ % QUEUE];
    if (g.to_server) {
      nb_dtls_server_receive(f->srv, &g.peer, g.d, g.len, now);
      continue;
    }
    peer *c = peer_find(f, &g.peer);
    if (!c || !c->s || c->budget == 0) continue;
    if (c->budget > 0) c->budget--;
    nb_dtls_session_receive(c->s, g.d, g.len, now);
  }
}

static void tick(fx *f, nb_time_ms now) {
  g_now = now;
  nb_dtls_server_tick(f->srv, now);
  pump(f, now);
}

/* Runs the server's timers from `from` to `to` in 10 ms steps. */
static void run(fx *f, nb_time_ms from, nb_time_ms to) {
  for (nb_time_ms t = from; t <= to; t += 10) {
    if (nb_dtls_server_next_deadline(f->srv) <= t) tick(f, t);
  }
}

static nb_err psk_lookup(void *u, const uint8_t *id, size_t id_len, uint8_t *key, size_t cap,
                         size_t *key_len) {
  (void)u, (void)id, (void)id_len, (void)cap;
  memset(key, 7, 16);
  *key_len = 16;
  return NB_OK;
}

static void fx_init(fx *f, const nb_dtls_server_config *cfg) {
  memset(f, 0, sizeof *f);
  uint8_t key[16];
  memset(key, 7, sizeof key);
  assert_int_equal(nb_dtls_creds_new(&f->screds), NB_OK);
  nb_dtls_creds_set_psk_lookup(f->screds, psk_lookup, NULL);
  assert_int_equal(nb_dtls_creds_new(&f->ccreds), NB_OK);
  assert_int_equal(nb_dtls_creds_set_psk(f->ccreds, "dev", 3, key, sizeof key), NB_OK);
  key[0] ^= 1;
  assert_int_equal(nb_dtls_creds_new(&f->wrong), NB_OK);
  assert_int_equal(nb_dtls_creds_set_psk(f->wrong, "dev", 3, key, sizeof key), NB_OK);
  if (cfg) {
    f->cfg = *cfg;
  } else {
    nb_dtls_server_config_default(&f->cfg);
  }
  nb_dtls_handlers h = {server_send, no_recv, server_event, f};
  assert_int_equal(nb_dtls_server_new(&f->cfg, f->screds, &h, &f->srv), NB_OK);
}

static void fx_free(fx *f) {
  nb_dtls_server_free(f->srv);
  for (size_t i = 0; i < f->npeers; i++) nb_dtls_session_free(f->peers[i].s);
  nb_dtls_creds_free(f->screds);
  nb_dtls_creds_free(f->ccreds);
  nb_dtls_creds_free(f->wrong);
}

/* A client at `a` sends its ClientHello at now; it gets `budget` server datagrams (1: only the
 * HelloVerifyRequest, so it completes the cookie exchange and goes silent; -1: everything). */
static peer *connect_with(fx *f, const nb_dtls_creds *creds, const nb_addr *a, int budget,
                          nb_time_ms now) {
  peer *c = peer_find(f, a);
  if (!c) {
    assert_true(f->npeers < MAX_PEERS);
    c = &f->peers[f->npeers++];
    memset(c, 0, sizeof *c);
    c->f = f;
    c->addr = *a;
  }
  nb_dtls_session_free(c->s);
  c->budget = budget;
  nb_addr server;
  assert_int_equal(nb_addr_parse("192.0.2.1:5684", 0, &server), NB_OK);
  nb_dtls_handlers h = {client_send, no_recv, NULL, c};
  assert_int_equal(nb_dtls_client_new(creds, NULL, &h, &server, now, &c->s), NB_OK);
  assert_int_equal(nb_dtls_client_connect(c->s, now), NB_OK);
  pump(f, now);
  return c;
}

static peer *connect_peer(fx *f, const nb_addr *a, int budget, nb_time_ms now) {
  return connect_with(f, f->ccreds, a, budget, now);
}

static void half_open(fx *f, const nb_addr *a, nb_time_ms now) { connect_peer(f, a, 1, now); }

/* Frees the client sessions made so far (a flood never answers anyway). */
static void forget_peers(fx *f) {
  for (size_t i = 0; i < f->npeers; i++) nb_dtls_session_free(f->peers[i].s);
  f->npeers = 0;
}

static nb_dtls_state full_handshake(fx *f, const nb_addr *a, nb_time_ms now) {
  peer *c = connect_peer(f, a, -1, now);
  return nb_dtls_session_state(c->s);
}

static nb_addr v4(unsigned host, uint16_t port) {
  nb_addr a;
  memset(&a, 0, sizeof a);
  a.family = NB_ADDR_V4;
  a.ip[0] = 198, a.ip[1] = 18, a.ip[2] = (uint8_t)(host >> 8), a.ip[3] = (uint8_t)host;
  a.port = port;
  return a;
}

static nb_addr v6(const char *text, uint16_t port) {
  nb_addr a;
  assert_int_equal(nb_addr_parse(text, port, &a), NB_OK);
  return a;
}

static nb_dtls_server_stats stats(const fx *f) {
  nb_dtls_server_stats st;
  nb_dtls_server_get_stats(f->srv, &st);
  return st;
}

/* ---- the bound per source ---- */

/* 40 ports of one IPv4 address complete the cookie exchange: 16 handshakes, 24 refused; any
 * other address still gets in. The same for a /64: its addresses count together, the next
 * /64 is another source; an IPv4-mapped IPv6 peer counts with its IPv4 address. */
static void test_bound_per_source(void **state) {
  (void)state;
  fx f;
  fx_init(&f, NULL);
  for (uint16_t p = 0; p < 40; p++) {
    nb_addr a = v4(1, (uint16_t)(20000 + p));
    half_open(&f, &a, 10);
  }
  nb_dtls_server_stats st = stats(&f);
  assert_int_equal(st.cookies_accepted, 40);
  assert_int_equal(st.handshakes, 16);
  assert_int_equal(st.refused, 24);
  assert_int_equal(st.refused_source, 24);
  nb_addr other = v4(2, 20000);
  half_open(&f, &other, 20);
  assert_int_equal(stats(&f).handshakes, 17);

  for (uint16_t p = 0; p < 20; p++) {
    char text[64];
    snprintf(text, sizeof text, "[2001:db8:0:1::%x]", 0x100 + p); /* 20 addresses, one /64 */
    nb_addr a = v6(text, 4000);
    half_open(&f, &a, 30);
  }
  nb_addr next64 = v6("[2001:db8:0:2::1]", 4000);
  half_open(&f, &next64, 30);
  st = stats(&f);
  assert_int_equal(st.handshakes, 17 + 16 + 1);
  assert_int_equal(st.refused_source, 24 + 4);

  nb_addr mapped = v6("[::ffff:198.18.0.1]", 30000); /* v4(1, ...) seen through a v6 socket */
  half_open(&f, &mapped, 40);
  assert_int_equal(stats(&f).refused_source, 24 + 4 + 1);
  fx_free(&f);
}

/* ---- stalled handshakes end by the retransmission schedule ---- */

/* A peer that completes the cookie exchange and goes silent: the server sends its flight at 0
 * and again at 1, 3 and 7 s (1 s, doubling), and at 15 s ends the handshake with a
 * close_notify; the entry is gone, counted as stalled, with a timeout event. */
static void test_stalled_by_schedule(void **state) {
  (void)state;
  fx f;
  fx_init(&f, NULL);
  nb_addr a = v4(3, 5000);
  half_open(&f, &a, 0);
  assert_int_equal(stats(&f).handshakes, 1);
  size_t first = f.nsent - 1; /* flight 4 */
  run(&f, 0, 14990);
  assert_int_equal(stats(&f).handshakes, 1);
  /* Each retransmission of the flight (GnuTLS may split it into several datagrams). */
  nb_time_ms want[] = {1000, 3000, 7000}, seen[8];
  size_t nseen = 0;
  for (size_t i = first + 1; i < f.nsent; i++) {
    assert_int_equal(f.sent[i].type, NB_DTLS_CT_HANDSHAKE);
    if (nseen == 0 || seen[nseen - 1] != f.sent[i].at) {
      assert_true(nseen < 8);
      seen[nseen++] = f.sent[i].at;
    }
  }
  assert_int_equal(nseen, 3);
  for (int i = 0; i < 3; i++) assert_int_equal(seen[i], want[i]);
  run(&f, 15000, 15000);
  nb_dtls_server_stats st = stats(&f);
  assert_int_equal(st.handshakes, 0);
  assert_int_equal(st.sessions, 0);
  assert_int_equal(st.stalled, 1);
  assert_int_equal(st.failed, 0);
  assert_int_equal(f.ev_timeout, 1);
  assert_int_equal(f.sent[f.nsent - 1].type, NB_DTLS_CT_ALERT);
  assert_int_equal(f.sent[f.nsent - 1].at, 15000);
  assert_null(nb_dtls_server_find(f.srv, &a));
  fx_free(&f);
}

/* A peer that keeps retransmitting its ClientHello every 10 s is not stalled: it lasts until
 * the handshake timeout (60 s). With stall_retransmits 1 the window is 1 + 2 = 3 s. */
static void test_talking_peer_kept(void **state) {
  (void)state;
  fx f;
  fx_init(&f, NULL);
  nb_addr a = v4(4, 5000);
  peer *c = connect_peer(&f, &a, 1, 0);
  uint8_t ch2[1500]; /* its ClientHello with the cookie, as it would retransmit it */
  size_t n2 = c->last_len;
  memcpy(ch2, c->last, n2);
  for (nb_time_ms t = 10000; t < 60000; t += 10000) {
    run(&f, t - 9990, t);
    assert_int_equal(stats(&f).handshakes, 1);
    nb_dtls_server_receive(f.srv, &a, ch2, n2, t);
    pump(&f, t);
  }
  run(&f, 50010, 61000);
  nb_dtls_server_stats st = stats(&f);
  assert_int_equal(st.handshakes, 0);
  assert_int_equal(st.stalled, 0);
  assert_int_equal(st.failed, 1); /* the handshake timeout */
  fx_free(&f);

  nb_dtls_server_config cfg;
  nb_dtls_server_config_default(&cfg);
  cfg.stall_retransmits = 1;
  fx_init(&f, &cfg);
  half_open(&f, &a, 0);
  run(&f, 0, 2990);
  assert_int_equal(stats(&f).handshakes, 1);
  run(&f, 3000, 3000);
  assert_int_equal(stats(&f).stalled, 1);
  fx_free(&f);
}

/* ---- the share kept for known sources, and eviction ---- */

static nb_dtls_server_config small_table(void) {
  nb_dtls_server_config cfg;
  nb_dtls_server_config_default(&cfg);
  cfg.max_handshakes = 16; /* 12 for sources not known, 4 more for known ones */
  return cfg;
}

/* A device completes a handshake from address K. Then 12 new sources fill the part of the
 * table for sources not known, and a thirteenth is refused (none of them stalled yet); new
 * handshakes from K (other ports: the device restarted) are admitted in the known share, and
 * once the whole table is full, by evicting the handshake from an unknown source heard from
 * least recently, stalled or not. A source whose handshakes never complete is never known. */
static void test_known_share(void **state) {
  (void)state;
  nb_dtls_server_config cfg = small_table();
  fx f;
  fx_init(&f, &cfg);
  nb_addr k = v4(100, 6000);
  assert_int_equal(full_handshake(&f, &k, 0), NB_DTLS_ESTABLISHED);
  for (unsigned i = 0; i < 12; i++) {
    nb_addr a = v4(200 + i, 7000);
    half_open(&f, &a, 100);
  }
  nb_dtls_server_stats st = stats(&f);
  assert_int_equal(st.handshakes, 12);
  assert_int_equal(st.handshakes_unknown, 12);
  nb_addr late = v4(300, 7000);
  half_open(&f, &late, 200);
  assert_int_equal(stats(&f).refused, 1);
  for (uint16_t p = 1; p <= 4; p++) {
    nb_addr again = v4(100, (uint16_t)(6000 + p));
    half_open(&f, &again, 300);
  }
  st = stats(&f);
  assert_int_equal(st.handshakes, 16);
  assert_int_equal(st.admitted_known, 4);
  assert_int_equal(st.refused, 1);
  nb_addr fifth = v4(100, 6005);
  half_open(&f, &fifth, 400);
  st = stats(&f);
  assert_int_equal(st.handshakes, 16);
  assert_int_equal(st.handshakes_unknown, 11);
  assert_int_equal(st.admitted_known, 5);
  assert_int_equal(st.evicted, 1);
  assert_int_equal(f.ev_limit, 1);
  nb_addr first = v4(200, 7000); /* the one heard from least recently */
  assert_null(nb_dtls_server_find(f.srv, &first));

  /* Everything half-open stalls (16); the flood's sources come back as strangers. */
  run(&f, 400, 16000);
  st = stats(&f);
  assert_int_equal(st.handshakes, 0);
  assert_int_equal(st.stalled, 16);
  for (unsigned i = 0; i < 12; i++) {
    nb_addr a = v4(200 + i, 7100);
    half_open(&f, &a, 16000);
  }
  st = stats(&f);
  assert_int_equal(st.handshakes_unknown, 12);
  assert_int_equal(st.admitted_known, 5);
  fx_free(&f);
}

/* When the part for sources not known is full, a newcomer evicts the handshake heard from least
 * recently only when that one stalled (silent for a retransmission interval, 1 s) and its
 * source has more handshakes than the newcomer's, or is the newcomer's own. */
static void test_eviction_rules(void **state) {
  (void)state;
  nb_dtls_server_config cfg = small_table();
  fx f;
  fx_init(&f, &cfg);
  for (uint16_t p = 0; p < 12; p++) { /* one source, twelve ports */
    nb_addr a = v4(10, (uint16_t)(8000 + p));
    half_open(&f, &a, 0);
  }
  nb_addr n1 = v4(11, 8000);
  half_open(&f, &n1, 500); /* not stalled yet */
  assert_int_equal(stats(&f).refused, 1);
  half_open(&f, &n1, 1500); /* its retry: the oldest stalled, its source holds 12 */
  nb_dtls_server_stats st = stats(&f);
  assert_int_equal(st.evicted, 1);
  assert_int_equal(st.handshakes, 12);
  assert_non_null(nb_dtls_server_find(f.srv, &n1));
  nb_addr flood_first = v4(10, 8000);
  assert_null(nb_dtls_server_find(f.srv, &flood_first));
  nb_addr own = v4(10, 8100); /* the flood's next port only replaces its own stalled one */
  half_open(&f, &own, 1600);
  st = stats(&f);
  assert_int_equal(st.evicted, 2);
  assert_int_equal(st.handshakes, 12);
  nb_addr flood_second = v4(10, 8001);
  assert_null(nb_dtls_server_find(f.srv, &flood_second));
  fx_free(&f);

  /* Twelve sources with one stalled handshake each: a second one from any of them may not
   * take another source's lone place; a new source may. */
  fx_init(&f, &cfg);
  for (unsigned i = 0; i < 12; i++) {
    nb_addr a = v4(20 + i, 8000);
    half_open(&f, &a, 0);
  }
  nb_addr second = v4(31, 8001); /* the last source, another port */
  half_open(&f, &second, 1500);
  st = stats(&f);
  assert_int_equal(st.refused, 1);
  assert_int_equal(st.evicted, 0);
  nb_addr fresh = v4(40, 8000);
  half_open(&f, &fresh, 1500);
  st = stats(&f);
  assert_int_equal(st.evicted, 1);
  assert_non_null(nb_dtls_server_find(f.srv, &fresh));
  fx_free(&f);
}

/* ---- the log under a flood (item 13) ---- */

typedef struct {
  int lines, warn, info, pressure;
  uint64_t refused, stalled, evicted, failed_unlogged;
  int failed;
  bool named_source;
} log_tally;

static void tally_sink(nb_log_level level, const char *line, void *user) {
  log_tally *t = user;
  if (!strstr(line, "mod=dtls")) return;
  t->lines++;
  t->warn += level == NB_LOG_WARN;
  t->info += level == NB_LOG_INFO;
  t->failed += strstr(line, "event=failed") && strstr(line, "role=server");
  if (!strstr(line, "event=handshake_pressure")) return;
  t->pressure++;
  const char *p;
  if ((p = strstr(line, " refused="))) t->refused += strtoull(p + 9, NULL, 10);
  if ((p = strstr(line, " stalled="))) t->stalled += strtoull(p + 9, NULL, 10);
  if ((p = strstr(line, " evicted="))) t->evicted += strtoull(p + 9, NULL, 10);
  if (strstr(line, " top_source=198.18.0.50 ")) t->named_source = true;
  if ((p = strstr(line, " failed_unlogged="))) t->failed_unlogged += strtoull(p + 17, NULL, 10);
}

/* One source floods for two minutes, 1,000 ClientHellos with valid cookies from 1,000 ports: 16
 * get a handshake, which stalls, the rest are refused. The dtls module writes one summary line
 * at the first refusal, then at most one a minute, and one after the flood for the rest: the
 * counts in the lines add up to the stats, and the flood's source is named. Nothing per
 * refusal. Then silence. Silent peers alone make an information line, not a warning. */
static void test_flood_log_summary(void **state) {
  (void)state;
  enum { FLOOD = 1000 };
  log_tally t = {0};
  nb_log_set_level(NB_LOG_INFO);
  nb_log_set_sink(tally_sink, &t);
  fx f;
  fx_init(&f, NULL);
  nb_time_ms now = 0;
  for (unsigned i = 0; i < FLOOD; i++) {
    now = (nb_time_ms)i * 120; /* 120 s */
    run(&f, now - 110 > 0 ? now - 110 : 0, now);
    nb_addr a = v4(50, (uint16_t)(10000 + i));
    half_open(&f, &a, now);
    forget_peers(&f);
  }
  /* 16 at a time; each set stalls after 15 s and the flood takes the places again. */
  nb_dtls_server_stats st = stats(&f);
  assert_int_equal(st.handshakes, 16);
  assert_int_equal(st.refused, st.refused_source);
  assert_int_equal(st.refused + st.stalled + st.handshakes, FLOOD);
  assert_true(st.refused > FLOOD * 3 / 4);
  assert_true(t.pressure <= 2); /* at 1.9 s and 61.9 s */
  run(&f, now, now + 5 * 60000);
  st = stats(&f);
  assert_int_equal(st.stalled, FLOOD - st.refused);
  assert_int_equal(t.refused, st.refused);
  assert_int_equal(t.stalled, st.stalled);
  assert_int_equal(t.evicted, 0);
  assert_int_equal(t.pressure, 3);       /* and the rest at 121.9 s */
  assert_int_equal(t.lines, t.pressure); /* nothing else from the dtls module */
  assert_int_equal(t.warn, t.pressure);
  assert_true(t.named_source);
  fx_free(&f);

  memset(&t, 0, sizeof t);
  fx_init(&f, NULL);
  nb_addr a = v4(60, 5000);
  half_open(&f, &a, 0);
  run(&f, 0, 120000);
  assert_int_equal(t.pressure, 1);
  assert_int_equal(t.info, 1);
  assert_int_equal(t.warn, 0);
  fx_free(&f);
  nb_log_set_sink(NULL, NULL);
  nb_log_set_level(NB_LOG_ERROR);
}

/* Thirty peers from thirty addresses complete the cookie exchange and then fail the handshake
 * (a PSK the server does not have: bad_record_mac on their Finished), within a minute: the
 * first ten failures are logged one line each, the other twenty only counted in the summary.
 * A minute later the budget is back. */
static void test_failure_lines_budget(void **state) {
  (void)state;
  log_tally t = {0};
  nb_log_set_level(NB_LOG_INFO);
  nb_log_set_sink(tally_sink, &t);
  fx f;
  fx_init(&f, NULL);
  for (unsigned i = 0; i < 30; i++) {
    nb_addr a = v4(70 + i, 5000);
    peer *c = connect_with(&f, f.wrong, &a, -1, (nb_time_ms)i * 100);
    assert_int_equal(nb_dtls_session_state(c->s), NB_DTLS_FAILED);
  }
  nb_dtls_server_stats st = stats(&f);
  assert_int_equal(st.failed, 30);
  assert_int_equal(f.ev_failed, 30); /* the user's handler still sees every one */
  assert_int_equal(t.failed, 10);
  run(&f, 3000, 70000);
  assert_int_equal(t.failed_unlogged, 20);
  assert_int_equal(t.pressure, 2); /* at the first unlogged one, and a minute later */
  nb_addr later = v4(150, 5000);
  connect_with(&f, f.wrong, &later, -1, 70000);
  assert_int_equal(t.failed, 11);
  fx_free(&f);
  nb_log_set_sink(NULL, NULL);
  nb_log_set_level(NB_LOG_ERROR);
}

int main(void) {
  nb_log_set_level(NB_LOG_ERROR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bound_per_source),     cmocka_unit_test(test_stalled_by_schedule),
      cmocka_unit_test(test_talking_peer_kept),    cmocka_unit_test(test_known_share),
      cmocka_unit_test(test_eviction_rules),       cmocka_unit_test(test_flood_log_summary),
      cmocka_unit_test(test_failure_lines_budget),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
