/* bench_server's load generator process: simulated devices over one loopback socket. */
#include "loadgen.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/hex.h"
#include "base/log.h"
#include "coap/msg.h"
#include "dtls/cred.h"
#include "dtls/session.h"
#include "io/srcaddr.h"
#include "lwm2m/format.h"
#include "lwm2m/path.h"
#include "lwm2m/value.h"

#define BATCH 64
#define SLOT 1600
#define PAYLOADS 64
#define STALL_S 10.0
#define RETRANSMIT_S 2.0 /* a Register or CON unanswered this long is sent again */
#define MAX_DEVICES 2000000L
#define DTLS_CONNECTING 32

typedef enum { MODE_ECHO, MODE_COAP, MODE_DTLS } gen_mode;

typedef struct {
  gen_mode mode;
  uint16_t port;
  long devices, notifications, window, burst, pad;
  int cpu;
  uint8_t psk[NB_BENCH_PSK_LEN];
} gen_opts;

typedef struct gen gen;

typedef struct {
  gen *g;
  uint32_t index;
  nb_addr ip; /* our source address (nb_srcaddr_of) */
  nb_dtls_creds *creds;
  nb_dtls_session *dtls;
  uint16_t mid, reg_mid, con_mid;
  uint8_t token[8], tkl;
  uint32_t seq;
  long burst;     /* notifications the awaited CON covers */
  double sent_at; /* when the awaited Register or CON last left */
  bool registering, waiting, observed;
} dev;

struct gen {
  gen_opts o;
  int fd;
  nb_addr server;
  dev *devs;
  nb_srcaddr_batch *out, *in;
  long next_reg, reg_inflight, registered, observed;
  long sent, covered, inflight, rst, retransmitted, reg_retransmitted;
  long rr; /* round-robin position of the next burst */
  uint8_t payload[PAYLOADS][64];
  size_t payload_len[PAYLOADS];
  long notif_bytes; /* wire size of the first notification, captured by out_push */
  bool capture, failed;
  uint64_t progress;
  nb_time_ms now;
};

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void nb_bench_device_name(uint32_t index, char *buf, size_t cap) {
  snprintf(buf, cap, "dev-%06u", index);
}

void nb_bench_device_psk(const uint8_t master[NB_BENCH_PSK_LEN], uint32_t index,
                         uint8_t key[NB_BENCH_PSK_LEN]) {
  memcpy(key, master, NB_BENCH_PSK_LEN);
  for (int i = 0; i < 4; i++) key[NB_BENCH_PSK_LEN - 1 - i] ^= (uint8_t)(index >> (8 * i));
}

/* ---- datagrams out: batched sendmmsg, each with its device's source address ---- */

static void out_flush(gen *g) {
  unsigned dropped = 0;
  int err = 0;
  nb_srcaddr_batch_send(g->out, g->fd, &dropped, &err);
  if (dropped) {
    fprintf(stderr, "bench_server generator: sendmmsg: %s\n", strerror(err));
    g->failed = true;
  }
}

static void out_push(gen *g, const dev *d, const uint8_t *data, size_t len) {
  if (len > SLOT) return;
  if (nb_srcaddr_batch_full(g->out)) out_flush(g);
  nb_srcaddr_batch_push(g->out, &d->ip, &g->server, data, len);
  if (g->capture) {
    g->notif_bytes = (long)len;
    g->capture = false;
  }
}

static void dtls_out(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  (void)peer;
  dev *d = user;
  out_push(d->g, d, data, len);
}

/* A CoAP message from device d, in the clear or through its DTLS session. */
static void dev_send(dev *d, const nb_coap_msg *m) {
  uint8_t buf[SLOT];
  size_t n = 0;
  if (nb_coap_serialize(m, buf, sizeof buf, &n) != NB_OK) {
    d->g->failed = true;
    return;
  }
  if (!d->dtls)
    out_push(d->g, d, buf, n);
  else if (nb_dtls_session_send(d->dtls, buf, n) != NB_OK)
    d->g->failed = true;
}

/* ---- the device side of the protocol ---- */

/* The Register (again with the same message ID when retransmitting). */
static void send_register(dev *d, bool again) {
  char name[32], q[64];
  nb_coap_msg m;
  nb_bench_device_name(d->index, name, sizeof name);
  if (!again) d->reg_mid = d->mid++;
  d->sent_at = mono_s();
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_POST, d->reg_mid);
  nb_coap_msg_set_token(&m, d->token, d->tkl);
  nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "rd");
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_LINK_FORMAT);
  snprintf(q, sizeof q, "ep=%s", name);
  nb_coap_msg_add_string(&m, NB_COAP_OPT_URI_QUERY, q);
  nb_coap_msg_add_string(&m, NB_COAP_OPT_URI_QUERY, "lt=86400");
  nb_coap_msg_add_string(&m, NB_COAP_OPT_URI_QUERY, "lwm2m=1.1");
  nb_coap_msg_add_string(&m, NB_COAP_OPT_URI_QUERY, "b=U");
  nb_coap_msg_set_payload(&m, "</1/0>,</3/0>,</3303/0>", 23);
  dev_send(d, &m);
}

/* A Sensor Value notification (or the Observe's first answer, as an ACK). */
static void send_value(dev *d, uint8_t type, uint16_t mid) {
  gen *g = d->g;
  nb_coap_msg m;
  uint8_t body[SLOT];
  size_t k = d->seq % PAYLOADS, len = g->payload_len[k];
  memcpy(body, g->payload[k], len);
  if (g->o.pad > 0) memset(body + len, 0, (size_t)g->o.pad);
  nb_coap_msg_init(&m, type, NB_COAP_CONTENT, mid);
  nb_coap_msg_set_token(&m, d->token, d->tkl);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_OBSERVE, d->seq++ & 0xffffff);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_SENML_CBOR);
  nb_coap_msg_set_payload(&m, body, len + (size_t)g->o.pad);
  dev_send(d, &m);
}

static void answer_observe(dev *d, const nb_coap_msg *req) {
  memcpy(d->token, req->token, req->token_len);
  d->tkl = req->token_len;
  if (!d->observed) d->g->observed++;
  d->observed = true;
  d->g->progress++;
  send_value(d, NB_COAP_ACK, req->mid);
}

/* A response (or, from the echo server, our own CON back) for device d. */
static void on_response(dev *d, const nb_coap_msg *m) {
  gen *g = d->g;
  if (d->registering && m->mid == d->reg_mid) {
    if (g->o.mode != MODE_ECHO && m->code != NB_COAP_CREATED) {
      fprintf(stderr, "bench_server generator: device %u: Register answered %u.%02u\n", d->index,
              m->code >> 5, m->code & 31);
      g->failed = true;
    }
    d->registering = false;
    g->registered++;
    g->reg_inflight--;
    g->progress++;
  } else if (d->waiting && m->mid == d->con_mid) {
    if (m->type == NB_COAP_RST) g->rst++;
    d->waiting = false;
    g->covered += d->burst;
    g->inflight -= d->burst;
    g->progress++;
  }
}

static void on_plain(dev *d, const uint8_t *data, size_t len) {
  nb_coap_msg m;
  if (nb_coap_parse(data, len, &m) != NB_OK) return;
  if (d->g->o.mode != MODE_ECHO && m.type == NB_COAP_CON && m.code == NB_COAP_GET)
    answer_observe(d, &m);
  else if (m.type == NB_COAP_ACK || m.type == NB_COAP_RST || d->g->o.mode == MODE_ECHO)
    on_response(d, &m);
}

static void dtls_in(void *user, const nb_addr *peer, const uint8_t *data, size_t len,
                    nb_time_ms now) {
  (void)peer;
  (void)now;
  on_plain(user, data, len);
}

static void dtls_event(void *user, const nb_addr *peer, nb_dtls_session *s, const nb_dtls_event *ev,
                       nb_time_ms now) {
  (void)peer;
  (void)s;
  (void)now;
  dev *d = user;
  if (ev->type == NB_DTLS_EV_ESTABLISHED) return;
  fprintf(stderr, "bench_server generator: device %u: DTLS %s (%s)\n", d->index,
          ev->type == NB_DTLS_EV_FAILED ? "failed" : "closed", nb_strerror(ev->err));
  d->g->failed = true;
}

/* ---- datagrams in ---- */

/* One recvmmsg round; the number of datagrams read (0 when none was waiting). */
static int in_batch(gen *g) {
  unsigned n = nb_srcaddr_batch_recv(g->in, g->fd);
  if (n == 0) return 0;
  g->now = (nb_time_ms)(mono_s() * 1000);
  for (unsigned i = 0; i < n; i++) {
    size_t len;
    nb_addr from, to;
    uint32_t idx;
    const uint8_t *data = nb_srcaddr_batch_get(g->in, i, &len, &from, &to);
    if (!data || !nb_srcaddr_index(&to, &idx) || idx >= (uint32_t)g->o.devices) continue;
    dev *d = &g->devs[idx];
    if (d->dtls)
      nb_dtls_session_receive(d->dtls, data, len, g->now);
    else
      on_plain(d, data, len);
  }
  return (int)n;
}

/* ---- phases ---- */

/* DTLS devices register behind a handshake each: at most DTLS_CONNECTING at once, as a fleet
 * reconnecting in waves would (the server bounds concurrent handshakes too). */
static void fill_register(gen *g) {
  long window =
      g->o.mode == MODE_DTLS && g->o.window > DTLS_CONNECTING ? DTLS_CONNECTING : g->o.window;
  while (g->next_reg < g->o.devices && g->reg_inflight < window) {
    dev *d = &g->devs[g->next_reg++];
    d->registering = true;
    g->reg_inflight++;
    send_register(d, false);
  }
}

static bool done_register(const gen *g) { return g->registered >= g->o.devices; }

static void fill_nothing(gen *g) { (void)g; }

static bool done_observe(const gen *g) { return g->observed >= g->o.devices; }

/* The next device with no burst in flight, round robin; NULL when all wait. */
static dev *next_idle(gen *g) {
  for (long n = 0; n < g->o.devices; n++) {
    dev *d = &g->devs[g->rr];
    g->rr = (g->rr + 1) % g->o.devices;
    if (!d->waiting) return d;
  }
  return NULL;
}

/* Bursts of NON closed by a CON, while the window has room: every notification in flight is
 * covered by a CON in flight, so the window always drains. */
static void fill_stream(gen *g) {
  while (g->sent < g->o.notifications) {
    long k = g->o.notifications - g->sent < g->o.burst ? g->o.notifications - g->sent : g->o.burst;
    if (g->inflight > 0 && g->inflight + k > g->o.window) break;
    dev *d = next_idle(g);
    if (!d) break;
    for (long j = 0; j < k; j++) {
      bool con = j == k - 1;
      uint16_t mid = d->mid++;
      if (con) d->con_mid = mid;
      g->capture = g->sent == 0 && j == 0;
      send_value(d, con ? NB_COAP_CON : NB_COAP_NON, mid);
    }
    d->burst = k;
    d->waiting = true;
    d->sent_at = mono_s();
    g->sent += k;
    g->inflight += k;
  }
}

static bool done_stream(const gen *g) { return g->covered >= g->o.notifications; }

/* Loss (a full socket buffer on either side, a lost handshake flight): DTLS timers run, and a
 * Register or burst CON unanswered for RETRANSMIT_S goes again (the server's deduplication
 * answers a CON it already processed). */
static void recover(gen *g) {
  double t = mono_s();
  for (long i = 0; i < g->o.devices; i++) {
    dev *d = &g->devs[i];
    if (d->dtls && nb_dtls_session_next_deadline(d->dtls) <= g->now)
      nb_dtls_session_tick(d->dtls, g->now);
    if ((!d->registering && !d->waiting) || t - d->sent_at < RETRANSMIT_S) continue;
    g->retransmitted++;
    if (d->registering) {
      send_register(d, true);
    } else {
      d->seq--; /* the same notification again */
      send_value(d, NB_COAP_CON, d->con_mid);
      d->sent_at = t;
    }
  }
}

/* Sends what the phase allows, reads answers, until done; false on failure or a stall. */
static bool pump(gen *g, void (*fill)(gen *), bool (*done)(const gen *), const char *phase) {
  double last = mono_s(), checked = last;
  uint64_t seen = g->progress;
  while (!g->failed) {
    fill(g);
    out_flush(g);
    if (done(g)) return true;
    if (mono_s() - checked > 0.25) {
      g->now = (nb_time_ms)(mono_s() * 1000);
      recover(g);
      checked = mono_s();
      continue;
    }
    if (in_batch(g) > 0) continue;
    struct pollfd p = {.fd = g->fd, .events = POLLIN};
    poll(&p, 1, 100);
    if (g->progress != seen) {
      seen = g->progress;
      last = mono_s();
    } else if (mono_s() - last > STALL_S) {
      fprintf(stderr,
              "bench_server generator: %s stalled (registered %ld, observed %ld, sent %ld, "
              "covered %ld)\n",
              phase, g->registered, g->observed, g->sent, g->covered);
      return false;
    }
  }
  return false;
}

/* ---- setup ---- */

static bool make_payloads(gen *g) {
  nb_path p = nb_path_res(3303, 0, 5700);
  for (int i = 0; i < PAYLOADS; i++) {
    nb_records recs;
    nb_bytes out;
    nb_records_init(&recs);
    nb_bytes_init(&out);
    nb_value v = nb_value_float(20.0 + i / 8.0);
    bool ok = nb_records_add(&recs, &p, &v) == NB_OK &&
              nb_format_encode(NB_COAP_CF_SENML_CBOR, &recs, &p, NULL, &out, NULL, NULL) == NB_OK &&
              out.len <= sizeof g->payload[i];
    if (ok) {
      memcpy(g->payload[i], out.data, out.len);
      g->payload_len[i] = out.len;
    }
    nb_records_deinit(&recs);
    nb_bytes_free(&out);
    if (!ok) return false;
  }
  return true;
}

static bool open_socket(gen *g) {
  nb_addr any = {.family = NB_ADDR_V4};
  g->fd = nb_srcaddr_socket(&any, 4 << 20);
  g->server = (nb_addr){.family = NB_ADDR_V4, .port = g->o.port, .ip = {127, 0, 0, 1}};
  return g->fd >= 0 && nb_srcaddr_batch_new(BATCH, SLOT, &g->out) == NB_OK &&
         nb_srcaddr_batch_new(BATCH, SLOT, &g->in) == NB_OK;
}

static bool make_session(gen *g, dev *d) {
  char name[32];
  uint8_t key[NB_BENCH_PSK_LEN];
  nb_bench_device_name(d->index, name, sizeof name);
  nb_bench_device_psk(g->o.psk, d->index, key);
  nb_dtls_session_params params;
  nb_dtls_session_params_default(&params);
  params.session_ticket = false; /* as a constrained PSK device would (see bench_dtls) */
  nb_dtls_handlers h = {.send = dtls_out, .recv = dtls_in, .event = dtls_event, .user = d};
  bool ok = nb_dtls_creds_new(&d->creds) == NB_OK &&
            nb_dtls_creds_set_psk(d->creds, name, strlen(name), key, sizeof key) == NB_OK &&
            nb_dtls_client_new(d->creds, &params, &h, &g->server, g->now, &d->dtls) == NB_OK;
  memset(key, 0, sizeof key);
  return ok;
}

static bool make_devices(gen *g) {
  g->devs = calloc((size_t)g->o.devices, sizeof *g->devs);
  if (!g->devs) return false;
  for (long i = 0; i < g->o.devices; i++) {
    dev *d = &g->devs[i];
    d->g = g;
    d->index = (uint32_t)i;
    nb_srcaddr_of(d->index, &d->ip);
    d->mid = (uint16_t)(i * 7919);
    d->tkl = 4;
    memcpy(d->token, &d->index, 4);
    d->seq = 2;
    if (g->o.mode == MODE_DTLS && !make_session(g, d)) return false;
  }
  return true;
}

static void free_devices(gen *g) {
  for (long i = 0; g->devs && i < g->o.devices; i++) {
    nb_dtls_session_free(g->devs[i].dtls);
    nb_dtls_creds_free(g->devs[i].creds);
  }
  free(g->devs);
}

/* ---- options and main ---- */

static bool parse_long(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

static bool parse_opt(gen_opts *o, int c, const char *arg) {
  long v = 0;
  size_t n = 0;
  switch (c) {
    case 'm':
      o->mode = !strcmp(arg, "echo") ? MODE_ECHO : !strcmp(arg, "coap") ? MODE_COAP : MODE_DTLS;
      return !strcmp(arg, "echo") || !strcmp(arg, "coap") || !strcmp(arg, "dtls");
    case 'p':
      if (!parse_long(arg, 1, 65535, &v)) return false;
      o->port = (uint16_t)v;
      return true;
    case 'd':
      return parse_long(arg, 1, MAX_DEVICES, &o->devices);
    case 'n':
      return parse_long(arg, 0, 1L << 40, &o->notifications);
    case 'w':
      return parse_long(arg, 1, 1 << 20, &o->window);
    case 'b':
      return parse_long(arg, 1, 1 << 10, &o->burst);
    case 'P':
      return parse_long(arg, 0, 1024, &o->pad);
    case 'c':
      if (!parse_long(arg, 0, CPU_SETSIZE - 1, &v)) return false;
      o->cpu = (int)v;
      return true;
    case 'k':
      return nb_hex_decode(arg, strlen(arg), NULL, o->psk, sizeof o->psk, &n) == NB_OK &&
             n == sizeof o->psk;
    default:
      return false;
  }
}

static bool parse_opts(int argc, char **argv, gen_opts *o) {
  static const struct option opts[] = {{"generate", no_argument, NULL, 'g'},
                                       {"mode", required_argument, NULL, 'm'},
                                       {"port", required_argument, NULL, 'p'},
                                       {"devices", required_argument, NULL, 'd'},
                                       {"notifications", required_argument, NULL, 'n'},
                                       {"window", required_argument, NULL, 'w'},
                                       {"burst", required_argument, NULL, 'b'},
                                       {"pad", required_argument, NULL, 'P'},
                                       {"cpu", required_argument, NULL, 'c'},
                                       {"psk", required_argument, NULL, 'k'},
                                       {NULL, 0, NULL, 0}};
  *o = (gen_opts){.mode = MODE_ECHO, .devices = 1, .window = 64, .burst = 4, .cpu = -1};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 'g') continue;
    if (!parse_opt(o, c, optarg)) {
      fprintf(stderr, "bench_server generator: bad option %s (see bench/lib/loadgen.h)\n",
              argv[optind - 1]);
      return false;
    }
  }
  return o->port != 0 && optind == argc;
}

static void pin(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0)
    fprintf(stderr, "bench_server generator: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
}

static bool run(gen *g, double *reg_s, double *stream_s, double *cpu) {
  bool reg = g->o.mode != MODE_ECHO || g->o.notifications == 0;
  double t0 = mono_s();
  if (reg && !pump(g, fill_register, done_register, "registration")) return false;
  *reg_s = mono_s() - t0;
  g->reg_retransmitted = g->retransmitted;
  if (g->o.notifications == 0) return true;
  if (g->o.mode != MODE_ECHO && !pump(g, fill_nothing, done_observe, "observe")) return false;
  t0 = mono_s();
  double c0 = cpu_s();
  bool ok = pump(g, fill_stream, done_stream, "notification stream");
  *stream_s = mono_s() - t0;
  *cpu = cpu_s() - c0;
  return ok;
}

int nb_bench_loadgen_main(int argc, char **argv) {
  nb_log_set_level(NB_LOG_WARN);
  gen *g = calloc(1, sizeof *g);
  if (!g) return 1;
  g->fd = -1;
  if (!parse_opts(argc, argv, &g->o)) {
    free(g);
    return 2;
  }
  pin(g->o.cpu);
  g->now = (nb_time_ms)(mono_s() * 1000);
  double reg_s = 0, stream_s = 0, cpu = 0;
  bool ok = make_payloads(g) && open_socket(g) && make_devices(g);
  if (!ok) fprintf(stderr, "bench_server generator: setup failed: %s\n", strerror(errno));
  ok = ok && run(g, &reg_s, &stream_s, &cpu) && !g->failed;
  printf(
      "ok=%d registered=%ld reg_s=%.6f sent=%ld covered=%ld rst=%ld stream_s=%.6f "
      "cpu_s=%.6f notif_bytes=%ld retransmitted=%ld reg_retransmitted=%ld\n",
      ok, g->registered, reg_s, g->sent, g->covered, g->rst, stream_s, cpu, g->notif_bytes,
      g->retransmitted - g->reg_retransmitted, g->reg_retransmitted);
  fflush(stdout);
  free_devices(g);
  if (g->fd >= 0) close(g->fd);
  nb_srcaddr_batch_free(g->out);
  nb_srcaddr_batch_free(g->in);
  free(g);
  return ok ? 0 : 1;
}

nb_err nb_bench_gen_result_parse(const char *text, nb_bench_gen_result *out) {
  int ok = 0;
  memset(out, 0, sizeof *out);
  int n = sscanf(text,
                 "ok=%d registered=%ld reg_s=%lf sent=%ld covered=%ld rst=%ld stream_s=%lf "
                 "cpu_s=%lf notif_bytes=%ld retransmitted=%ld reg_retransmitted=%ld",
                 &ok, &out->registered, &out->reg_s, &out->sent, &out->covered, &out->rst,
                 &out->stream_s, &out->cpu_s, &out->notif_bytes, &out->retransmitted,
                 &out->reg_retransmitted);
  out->ok = ok == 1;
  return n == 11 ? NB_OK : NB_ERR_INVAL;
}
