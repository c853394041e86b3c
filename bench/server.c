/* Server engine throughput and memory:
 *  1. notifications per second through the real I/O shell (libuv, loopback UDP, nb_io_srv,
 *     nb_server decoding each one), fed by a load generator thread keeping a window of CON
 *     notifications in flight; the baseline is the same generator against a bare UDP echo
 *     socket on the same loop in the same run (the ratio is the figure);
 *  2. registrations per second of the engine (in-process datagrams, no sockets), beside the
 *     cost of parsing the same Register datagrams as plain CoAP (baseline);
 *  3. heap bytes (and the resident-set growth) per registered device, for 10k devices and
 *     for a larger fleet given as the second argument (default 100k).
 * One device sends every notification, so at most 64000 per run: CoAP message IDs must not
 * repeat within EXCHANGE_LIFETIME (the server's deduplication would answer from its cache).
 * Usage: bench_server [notifications [fleet]] (notifications: default and maximum 64000;
 * fleet: devices of the second registration run, default 100000, at most 1000000). */
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "coap/msg.h"
#include "io/dtls_server_io.h"
#include "io/loop.h"
#include "lwm2m/path.h"
#include "server/server.h"

#define WINDOW 16

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Heap bytes in use (glibc), which RSS hides when freed memory is reused. */
static size_t heap_used(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
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

/* ---- load generator (its own thread, blocking socket) ---- */

typedef struct {
  uint16_t port; /* target on 127.0.0.1 */
  long count;    /* notifications to deliver */
  bool lwm2m;    /* register and answer the Observe first (false: echo target) */
  double seconds;
  long acked;
  int fd;
  _Atomic int done;
} gen;

static size_t build(nb_coap_msg *m, uint8_t *buf, size_t cap) {
  size_t n = 0;
  if (nb_coap_serialize(m, buf, cap, &n) != NB_OK) abort();
  return n;
}

/* "a=1&b=2" as one Uri-Query option per pair. */
static void add_queries(nb_coap_msg *m, const char *query) {
  char copy[128];
  snprintf(copy, sizeof copy, "%s", query);
  for (char *save = NULL, *p = strtok_r(copy, "&", &save); p; p = strtok_r(NULL, "&", &save))
    nb_coap_msg_add_query(m, NB_COAP_OPT_URI_QUERY, p);
}

static ssize_t recv_msg(int fd, uint8_t *buf, size_t cap, nb_coap_msg *m) {
  ssize_t n = recv(fd, buf, cap, 0);
  if (n <= 0 || nb_coap_parse(buf, (size_t)n, m) != NB_OK) return -1;
  return n;
}

/* Registers, then waits for the server's Observe GET and answers it; returns the token. */
static int gen_handshake(gen *g, uint8_t *token, uint8_t *token_len) {
  uint8_t buf[1500];
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_POST, 1);
  nb_coap_msg_set_token(&m, (const uint8_t *)"r", 1);
  nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "rd");
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_LINK_FORMAT);
  add_queries(&m, "ep=bench&lt=3600&lwm2m=1.1");
  nb_coap_msg_set_payload(&m, "</3/0>", 6);
  if (send(g->fd, buf, build(&m, buf, sizeof buf), 0) < 0) return -1;
  for (int i = 0; i < 10; i++) {
    if (recv_msg(g->fd, buf, sizeof buf, &m) < 0) return -1;
    if (m.type == NB_COAP_CON && m.code == NB_COAP_GET) break;
  }
  if (m.code != NB_COAP_GET) return -1;
  memcpy(token, m.token, m.token_len);
  *token_len = m.token_len;
  uint16_t mid = m.mid;
  nb_coap_msg_init(&m, NB_COAP_ACK, NB_COAP_CONTENT, mid);
  nb_coap_msg_set_token(&m, token, *token_len);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_OBSERVE, 1);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_TEXT);
  nb_coap_msg_set_payload(&m, "42", 2);
  return send(g->fd, buf, build(&m, buf, sizeof buf), 0) < 0 ? -1 : 0;
}

static void *gen_run(void *arg) {
  gen *g = arg;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(g->port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  g->fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct timeval tv = {.tv_sec = 2};
  setsockopt(g->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(g->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    g->done = 1;
    return NULL;
  }
  uint8_t token[8] = {1}, token_len = 1;
  if (g->lwm2m && gen_handshake(g, token, &token_len) != 0) {
    fprintf(stderr, "bench_server: the Observe handshake failed\n");
    g->done = 1;
    return NULL;
  }
  uint8_t buf[1500];
  nb_coap_msg m;
  long sent = 0;
  double t0 = now_s();
  while (g->acked < g->count) {
    while (sent < g->count && sent - g->acked < WINDOW) {
      nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_CONTENT, (uint16_t)(1000 + sent));
      nb_coap_msg_set_token(&m, token, token_len);
      nb_coap_msg_add_uint(&m, NB_COAP_OPT_OBSERVE, (uint32_t)(2 + sent));
      nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_TEXT);
      nb_coap_msg_set_payload(&m, "42", 2);
      if (send(g->fd, buf, build(&m, buf, sizeof buf), 0) < 0) break;
      sent++;
    }
    if (recv_msg(g->fd, buf, sizeof buf, &m) < 0) break; /* loss: give up, report */
    g->acked++;
  }
  g->seconds = now_s() - t0;
  close(g->fd);
  g->done = 1;
  return NULL;
}

/* ---- the serving side (main thread's loop) ---- */

typedef struct {
  nb_io_loop *loop;
  nb_io_srv *net;
  nb_server *srv;
  nb_io_udp *echo;
  uv_timer_t timer, stop;
  uv_prepare_t prepare;
  bool observe_sent;
  uint64_t notifications;
  pthread_t thread;
  gen g;
} bench;

static void on_result(void *user, uint64_t id, const nb_server_result *res, bool last) {
  (void)id;
  (void)last;
  bench *b = user;
  if (res->err == NB_OK && res->notification) b->notifications++;
}

static void on_event(void *user, const nb_server_event *ev) {
  bench *b = user;
  if (ev->type != NB_SEV_REGISTRATION || b->observe_sent) return;
  nb_server_request req = {.op = NB_SOP_OBSERVE,
                           .path = nb_path_res(3, 0, 9),
                           .has_format = true,
                           .format = NB_COAP_CF_TEXT};
  uint64_t id;
  bool queued;
  b->observe_sent =
      nb_server_send_request(b->srv, "bench", &req, on_result, b, ev->now, &id, &queued) == NB_OK;
}

static void engine_receive(void *user, const nb_addr *peer, const nb_server_identity *id,
                           const uint8_t *data, size_t len, nb_time_ms now) {
  bench *b = user;
  nb_server_receive(b->srv, peer, id, data, len, now);
}

static void on_tick(uv_timer_t *t) {
  bench *b = t->data;
  nb_server_tick(b->srv, nb_io_loop_now(b->loop));
}

static void on_prepare(uv_prepare_t *p) {
  bench *b = p->data;
  nb_time_ms d = nb_server_next_deadline(b->srv), now = nb_io_loop_now(b->loop);
  if (d == NB_TIME_NEVER)
    uv_timer_stop(&b->timer);
  else
    uv_timer_start(&b->timer, on_tick, d > now ? (uint64_t)(d - now) : 0, 0);
}

/* Stops the loop once the generator thread is done. */
static void on_stop_poll(uv_timer_t *t) {
  bench *b = t->data;
  if (b->g.done) nb_io_loop_stop(b->loop);
}

static void echo_back(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  bench *b = user;
  nb_io_udp_send(b->echo, peer, data, len);
}

static double run_generator(bench *b, uint16_t port, long count, bool lwm2m) {
  memset(&b->g, 0, sizeof b->g);
  b->g.port = port;
  b->g.count = count;
  b->g.lwm2m = lwm2m;
  pthread_create(&b->thread, NULL, gen_run, &b->g);
  uv_timer_start(&b->stop, on_stop_poll, 20, 20);
  nb_io_loop_run(b->loop);
  uv_timer_stop(&b->stop);
  pthread_join(b->thread, NULL);
  return b->g.seconds > 0 ? (double)b->g.acked / b->g.seconds : 0;
}

static int bench_notifications(long count) {
  bench b;
  memset(&b, 0, sizeof b);
  nb_addr any;
  nb_addr_parse("127.0.0.1:0", 0, &any);
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  if (nb_io_loop_new(&b.loop) != NB_OK || nb_io_srv_new(b.loop, engine_receive, &b, &b.net) ||
      nb_server_new(&cfg, nb_io_srv_send, b.net, &b.srv) != NB_OK)
    return 1;
  nb_server_add_listener(b.srv, on_event, &b);
  nb_addr srv_addr, echo_addr;
  if (nb_io_srv_listen_coap(b.net, &any, &srv_addr) != NB_OK ||
      nb_io_udp_open(b.loop, &any, NULL, &b.echo) != NB_OK)
    return 1;
  nb_io_udp_set_receiver(b.echo, echo_back, &b);
  nb_io_udp_local_addr(b.echo, &echo_addr);
  uv_timer_init(nb_io_loop_uv(b.loop), &b.timer);
  uv_timer_init(nb_io_loop_uv(b.loop), &b.stop);
  uv_prepare_init(nb_io_loop_uv(b.loop), &b.prepare);
  b.timer.data = b.stop.data = b.prepare.data = &b;
  uv_prepare_start(&b.prepare, on_prepare);

  double echo = run_generator(&b, echo_addr.port, count, false);
  long echo_n = b.g.acked;
  double lw = run_generator(&b, srv_addr.port, count, true);
  printf("notifications (NoSec, loopback UDP, window %d, one core each side):\n", WINDOW);
  printf("  bare UDP echo baseline:    %10.0f datagrams/s (%ld)\n", echo, echo_n);
  printf("  server engine:             %10.0f notifications/s (%ld acked, %llu decoded)\n", lw,
         b.g.acked, (unsigned long long)b.notifications);
  printf("  ratio server/echo:         %10.3f\n", echo > 0 ? lw / echo : 0);
  int rc = b.notifications == (uint64_t)count ? 0 : 1;
  uv_close((uv_handle_t *)&b.timer, NULL);
  uv_close((uv_handle_t *)&b.stop, NULL);
  uv_close((uv_handle_t *)&b.prepare, NULL);
  nb_io_udp_close(b.echo);
  nb_io_srv_free(b.net);
  nb_io_loop_free(b.loop);
  nb_server_free(b.srv);
  return rc;
}

/* ---- registrations in-process ---- */

static void discard(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  (void)peer;
  (void)data;
  (void)len;
  (*(uint64_t *)user)++;
}

static int bench_registrations(long devices) {
  uint64_t sent = 0;
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  nb_server *s;
  if (nb_server_new(&cfg, discard, &sent, &s) != NB_OK) return 1;
  uint8_t(*dg)[256] = calloc((size_t)devices, 256);
  size_t *len = calloc((size_t)devices, sizeof *len);
  if (!dg || !len) return 1;
  for (long i = 0; i < devices; i++) {
    nb_coap_msg m;
    char q[96];
    nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_POST, (uint16_t)i);
    nb_coap_msg_set_token(&m, (const uint8_t *)&i, 4);
    nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "rd");
    nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_LINK_FORMAT);
    snprintf(q, sizeof q, "ep=dev-%06ld&lt=86400&lwm2m=1.1&b=U", i);
    add_queries(&m, q);
    nb_coap_msg_set_payload(&m, "</1/0>,</3/0>,</3303/0>", 23);
    len[i] = build(&m, dg[i], 256);
  }
  /* Baseline: parsing the same datagrams as plain CoAP. */
  double t0 = now_s();
  size_t opts = 0;
  for (long i = 0; i < devices; i++) {
    nb_coap_msg m;
    if (nb_coap_parse(dg[i], len[i], &m) == NB_OK) opts += m.option_count;
  }
  double parse = now_s() - t0;
  long rss0 = rss_kib();
  size_t heap0 = heap_used();
  t0 = now_s();
  for (long i = 0; i < devices; i++) {
    nb_addr peer = {.family = NB_ADDR_V4, .port = (uint16_t)(10000 + i % 50000)};
    peer.ip[0] = 10;
    peer.ip[1] = (uint8_t)(i >> 16);
    peer.ip[2] = (uint8_t)(i >> 8);
    peer.ip[3] = (uint8_t)i;
    nb_server_receive(s, &peer, NULL, dg[i], len[i], 1000);
  }
  double reg = now_s() - t0;
  long rss1 = rss_kib();
  size_t heap1 = heap_used();
  size_t count = nb_server_count(s);
  printf("registrations (in-process engine, no store, %ld devices):\n", devices);
  printf("  CoAP parse baseline:       %10.0f datagrams/s (%zu options)\n", devices / parse, opts);
  printf("  server Register:           %10.0f registrations/s (%zu registered, %llu answers)\n",
         devices / reg, count, (unsigned long long)sent);
  printf("  ratio register/parse:      %10.4f\n", parse / reg);
  printf("  memory:                    %10.0f heap bytes per registered device (VmRSS +%ld KiB)\n",
         count ? (double)(heap1 - heap0) / (double)count : 0, rss1 - rss0);
  free(dg);
  free(len);
  nb_server_free(s);
  return count == (size_t)devices ? 0 : 1;
}

int main(int argc, char **argv) {
  long count = argc > 1 ? strtol(argv[1], NULL, 10) : 64000;
  if (count < 1 || count > 64000) count = 64000;
  nb_log_set_level(NB_LOG_WARN);
  long fleet = argc > 2 ? strtol(argv[2], NULL, 10) : 100000;
  if (fleet < 1 || fleet > 1000000) fleet = 100000;
  int rc = bench_notifications(count);
  rc |= bench_registrations(10000);
  rc |= bench_registrations(fleet);
  return rc;
}
