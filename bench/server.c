/* Server throughput and memory, the server under test composed as `niobium server` composes it
 * (libuv loop, nb_io_srv with a CoAP and a coaps listener, nb_server with the SQLite store on a
 * file, the HTTP API and its event feed listening on the engine), pinned to one CPU, fed by a
 * load generator in a separate process (this binary with --generate, bench/lib/loadgen.h)
 * pinned to another CPU. The baseline, in the same run, is a bare recvmmsg/sendmmsg echo server
 * pinned the same way, fed by the same generator with the same datagrams:
 *  1. registrations per second (10k devices, each on its own loopback address) against the
 *     echo rate of the same Register datagrams;
 *  2. notifications per second decoded by the server (counted by a listener), NoSec and
 *     DTLS-PSK (every device does a real PSK handshake; the server finds the keys in its
 *     security store), against the echo rate of datagrams of the same sizes;
 *  3. heap and resident memory per registered device of the engine alone (in-process, no
 *     sockets), for 10k devices;
 *  4. (run first) the whole server (as 1. composes it) holding the fleet given as the second
 *     argument: resident memory per registration and how long its shutdown takes (HTTP API,
 *     sockets and routes, engine, store).
 * Usage: bench_server [notifications [fleet]]: notifications per run (default 100000), fleet
 * of the last run (default 100000, at most 1000000). */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/hex.h"
#include "base/log.h"
#include "base/rand.h"
#include "coap/msg.h"
#include "http/api.h"
#include "io/dtls_server_io.h"
#include "io/loop.h"
#include "lib/loadgen.h"
#include "lwm2m/path.h"
#include "server/server.h"
#include "store/sqlite.h"

extern char **environ;

#define WINDOW                                                                         \
  128                 /* notifications or registrations in flight (well under what the \
                       * server's default 208 KiB socket buffer holds) */
#define BURST 4       /* notifications per burst: 3 NON + 1 CON */
#define OBS_WINDOW 64 /* Observe requests the server has in flight while setting up */
#define REG_DEVICES 10000
#define NOTIF_DEVICES 1000
#define WATCHDOG_MS 120000 /* plus 2 ms per device registered */

static char self_exe[4096];
static int cpu_gen = -1;
static uint8_t psk_master[NB_BENCH_PSK_LEN];

static double now_s(void) {
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

/* Pins this process to the first allowed CPU and keeps the second for the generator; with a
 * single CPU nothing is pinned (and the figures say so). */
static void pin_cpus(int *cpu_server) {
  cpu_set_t set;
  *cpu_server = -1;
  if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) < 2) return;
  int found[2], n = 0;
  for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
    if (CPU_ISSET(c, &set)) found[n++] = c;
  CPU_ZERO(&set);
  CPU_SET(found[0], &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) return;
  *cpu_server = found[0];
  cpu_gen = found[1];
}

/* ---- the generator process ---- */

typedef struct {
  const char *mode; /* echo, coap, dtls */
  uint16_t port;
  long devices, notifications, pad;
} gen_args;

/* fork+exec of this binary in generator mode, its stdout on a pipe (*out_fd). */
static pid_t spawn_generator(const gen_args *a, int *out_fd) {
  char num[6][24], psk[2 * NB_BENCH_PSK_LEN + 1];
  snprintf(num[0], sizeof num[0], "%u", a->port);
  snprintf(num[1], sizeof num[1], "%ld", a->devices);
  snprintf(num[2], sizeof num[2], "%ld", a->notifications);
  snprintf(num[3], sizeof num[3], "%ld", a->pad);
  snprintf(num[4], sizeof num[4], "%d", WINDOW);
  snprintf(num[5], sizeof num[5], "%d", BURST);
  nb_hex_encode(psk_master, sizeof psk_master, psk);
  char cpu[24];
  snprintf(cpu, sizeof cpu, "%d", cpu_gen);
  char *argv[] = {self_exe,
                  "--generate",
                  "--mode",
                  (char *)a->mode,
                  "--port",
                  num[0],
                  "--devices",
                  num[1],
                  "--notifications",
                  num[2],
                  "--pad",
                  num[3],
                  "--window",
                  num[4],
                  "--burst",
                  num[5],
                  "--psk",
                  psk,
                  cpu_gen >= 0 ? "--cpu" : NULL,
                  cpu,
                  NULL};
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  pid_t pid = -1;
  if (posix_spawn(&pid, self_exe, &fa, NULL, argv, environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (pid < 0)
    close(fds[0]);
  else
    *out_fd = fds[0];
  return pid;
}

/* Waits for the generator and reads its result line. */
static bool finish_generator(pid_t pid, const char *out, nb_bench_gen_result *res) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  bool ok = nb_bench_gen_result_parse(out, res) == NB_OK && res->ok && WIFEXITED(status) &&
            WEXITSTATUS(status) == 0;
  if (!ok) fprintf(stderr, "bench_server: the generator failed (%s)\n", out[0] ? out : "no output");
  return ok;
}

/* What the measuring side saw. */
typedef struct {
  long count;         /* datagrams echoed / registrations / notifications decoded */
  double first, last; /* monotonic seconds of the first and last one */
  double cpu;         /* CPU seconds of this process from the first one to the end of the run */
  double busy;        /* that CPU time over the wall time of the same span */
  nb_bench_gen_result gen;
} measured;

static double rate(const measured *m) {
  return m->count > 1 && m->last > m->first ? (double)(m->count - 1) / (m->last - m->first) : 0;
}

/* Per CPU-second of the measuring process: what one core would do if nothing else ran on it. */
static double per_cpu(const measured *m) { return m->cpu > 0 ? (double)m->count / m->cpu : 0; }

/* Closes the measured span at `end`. */
static void span_end(measured *m, double cpu_first, double end) {
  m->cpu = m->count ? cpu_s() - cpu_first : 0;
  m->busy = end > m->first ? m->cpu / (end - m->first) : 0;
}

/* ---- baseline: bare UDP echo server (recvmmsg, sendmmsg; CON datagrams go back) ---- */

#define EBATCH 64

typedef struct {
  struct mmsghdr in[EBATCH], out[EBATCH];
  struct iovec iov[EBATCH], oiov[EBATCH];
  struct sockaddr_in from[EBATCH];
  uint8_t buf[EBATCH][2048];
} echo_bufs;

/* One recvmmsg round and its replies; the number of datagrams read. */
static int echo_round(int fd, echo_bufs *b, measured *m, double *cpu_first) {
  for (int i = 0; i < EBATCH; i++) {
    b->iov[i] = (struct iovec){.iov_base = b->buf[i], .iov_len = sizeof b->buf[i]};
    b->in[i].msg_hdr = (struct msghdr){.msg_name = &b->from[i],
                                       .msg_namelen = sizeof b->from[i],
                                       .msg_iov = &b->iov[i],
                                       .msg_iovlen = 1};
  }
  int n = recvmmsg(fd, b->in, EBATCH, MSG_DONTWAIT, NULL);
  if (n <= 0) return 0;
  double t = now_s();
  if (m->count == 0) {
    m->first = t;
    *cpu_first = cpu_s();
  }
  m->count += n;
  m->last = t;
  unsigned nout = 0;
  for (int i = 0; i < n; i++) {
    if (b->in[i].msg_len < 1 || (b->buf[i][0] >> 4 & 3) != NB_COAP_CON) continue;
    b->oiov[nout] = (struct iovec){.iov_base = b->buf[i], .iov_len = b->in[i].msg_len};
    b->out[nout].msg_hdr = (struct msghdr){.msg_name = &b->from[i],
                                           .msg_namelen = b->in[i].msg_hdr.msg_namelen,
                                           .msg_iov = &b->oiov[nout],
                                           .msg_iovlen = 1};
    nout++;
  }
  for (unsigned done = 0; done < nout;) {
    int s = sendmmsg(fd, b->out + done, nout - done, 0);
    if (s <= 0 && errno != EINTR) break;
    if (s > 0) done += (unsigned)s;
  }
  return n;
}

static bool run_echo(gen_args *a, measured *m) {
  memset(m, 0, sizeof *m);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sa;
  int size = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  echo_bufs *b = malloc(sizeof *b);
  if (fd < 0 || !b || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
    free(b);
    if (fd >= 0) close(fd);
    return false;
  }
  a->port = ntohs(sa.sin_port);
  int out_fd = -1;
  pid_t pid = spawn_generator(a, &out_fd);
  char out[1024] = "";
  size_t out_len = 0;
  double cpu_first = 0, deadline = now_s() + WATCHDOG_MS / 1000.0;
  while (pid > 0) {
    if (echo_round(fd, b, m, &cpu_first) == EBATCH) continue;
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = out_fd, .events = POLLIN}};
    if (poll(p, 2, 1000) < 0 && errno != EINTR) break;
    if (p[1].revents) {
      ssize_t r = read(out_fd, out + out_len, sizeof out - 1 - out_len);
      if (r <= 0) break;
      out_len += (size_t)r;
      out[out_len] = '\0';
    }
    if (now_s() > deadline) {
      kill(pid, SIGKILL);
      break;
    }
  }
  span_end(m, cpu_first, now_s());
  close(fd);
  free(b);
  if (out_fd >= 0) close(out_fd);
  return pid > 0 && finish_generator(pid, out, &m->gen);
}

/* ---- the server under test, composed as apps/cmd_server.c composes it ---- */

typedef struct {
  nb_io_loop *loop;
  nb_io_srv *net;
  nb_server *srv;
  nb_dtls_creds *creds;
  nb_store_sqlite *db;
  nb_server_store store;
  nb_http_api *api;
  uv_timer_t timer, watchdog;
  uv_prepare_t prepare;
  uv_pipe_t pipe;
  bool handles, piped;
  char dir[64], dbpath[96];
  /* the run */
  long devices;
  bool observe;
  long regs, obs_next, observed, obs_failed;
  measured reg, note;
  double cpu_first;
  pid_t child;
  double close_s, close_cpu; /* sut_close: wall and CPU seconds */
  char out[1024];
  size_t out_len;
  char buf[1024];
} sut;

static void sut_receive(void *user, const nb_addr *peer, const nb_server_identity *id,
                        const uint8_t *data, size_t len, nb_time_ms now) {
  sut *s = user;
  nb_server_receive(s->srv, peer, id, data, len, now);
}

static void sut_tick(uv_timer_t *t) {
  sut *s = t->data;
  nb_server_tick(s->srv, nb_io_loop_now(s->loop));
}

static void sut_prepare(uv_prepare_t *p) {
  sut *s = p->data;
  nb_time_ms d = nb_server_next_deadline(s->srv), now = nb_io_loop_now(s->loop);
  if (d == NB_TIME_NEVER)
    uv_timer_stop(&s->timer);
  else
    uv_timer_start(&s->timer, sut_tick, d > now ? (uint64_t)(d - now) : 0, 0);
}

static void observe_next(sut *s);

static void on_observe(void *user, uint64_t id, const nb_server_result *res, bool last) {
  (void)id;
  (void)last;
  sut *s = user;
  if (res->notification) return;
  if (res->err == NB_OK && res->code == NB_COAP_CONTENT)
    s->observed++;
  else
    s->obs_failed++;
  observe_next(s);
}

/* Observes every device's Sensor Value, OBS_WINDOW requests at a time, as an operator would
 * through the API (SenML CBOR, the 1.1 default). */
static void observe_next(sut *s) {
  while (s->obs_next < s->devices && s->obs_next - s->observed - s->obs_failed < OBS_WINDOW) {
    char ep[32];
    nb_bench_device_name((uint32_t)s->obs_next++, ep, sizeof ep);
    nb_server_request req = {.op = NB_SOP_OBSERVE, .path = nb_path_res(3303, 0, 5700)};
    uint64_t id;
    bool queued;
    if (nb_server_send_request(s->srv, ep, &req, on_observe, s, nb_io_loop_now(s->loop), &id,
                               &queued) != NB_OK)
      s->obs_failed++;
  }
}

static void stamp(measured *m) {
  double t = now_s();
  if (m->count++ == 0) m->first = t;
  m->last = t;
}

static void sut_event(void *user, const nb_server_event *ev) {
  sut *s = user;
  if (ev->type == NB_SEV_NOTIFICATION && ev->seq > 1) { /* seq 1: the Observe's answer */
    if (s->note.count == 0) s->cpu_first = cpu_s();
    stamp(&s->note);
  } else if (ev->type == NB_SEV_REGISTRATION) {
    if (s->reg.count == 0) s->cpu_first = cpu_s();
    stamp(&s->reg);
    if (s->observe && s->reg.count == s->devices) observe_next(s);
  }
}

static void pipe_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)size;
  sut *s = h->data;
  *buf = uv_buf_init(s->buf, sizeof s->buf);
}

/* The generator's result line; its end (EOF) ends the run. */
static void pipe_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  sut *s = st->data;
  if (n > 0) {
    size_t room = sizeof s->out - 1 - s->out_len, take = (size_t)n < room ? (size_t)n : room;
    memcpy(s->out + s->out_len, buf->base, take);
    s->out_len += take;
    s->out[s->out_len] = '\0';
  } else if (n < 0) {
    uv_read_stop(st);
    nb_io_loop_stop(s->loop);
  }
}

/* A million registrations take minutes even on a quiet machine. */
static uint64_t watchdog_ms(long devices) { return WATCHDOG_MS + 2 * (uint64_t)devices; }

static void on_watchdog(uv_timer_t *t) {
  sut *s = t->data;
  fprintf(stderr, "bench_server: the run took longer than %.0f s, stopping the generator\n",
          (double)watchdog_ms(s->devices) / 1000);
  kill(s->child, SIGKILL);
  nb_io_loop_stop(s->loop);
}

/* The security store holds a PSK for every simulated device. */
static bool install_psks(sut *s) {
  for (long i = 0; i < s->devices; i++) {
    nb_server_sec_info sec = {.kind = NB_SERVER_ID_PSK, .key_len = NB_BENCH_PSK_LEN};
    nb_bench_device_name((uint32_t)i, sec.ep, sizeof sec.ep);
    snprintf(sec.identity, sizeof sec.identity, "%s", sec.ep);
    nb_bench_device_psk(psk_master, (uint32_t)i, sec.key);
    if (s->store.ops->sec_put(s->store.self, &sec) != NB_OK) return false;
  }
  return true;
}

static int64_t clock_offset(nb_io_loop *loop) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - nb_io_loop_now(loop);
}

/* Store, loop, listeners (coap and coaps on 127.0.0.1), engine and HTTP API. */
static bool sut_open(sut *s, bool dtls, nb_addr *coap, nb_addr *coaps) {
  snprintf(s->dir, sizeof s->dir, "/tmp/nb-bench-server-XXXXXX");
  if (!mkdtemp(s->dir)) return false;
  snprintf(s->dbpath, sizeof s->dbpath, "%s/niobium.db", s->dir);
  if (nb_store_sqlite_open(s->dbpath, &s->db) != NB_OK) return false;
  s->store = nb_store_sqlite_iface(s->db);
  if (dtls && !install_psks(s)) return false;
  if (nb_dtls_creds_new(&s->creds) != NB_OK || nb_io_loop_new(&s->loop) != NB_OK) return false;
  nb_dtls_creds_set_psk_lookup(s->creds, nb_io_srv_store_psk_lookup, &s->store);
  nb_dtls_creds_set_verify(s->creds, nb_io_srv_store_verify, &s->store);
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  cfg.max_nosec = 0; /* the fleets are NoSec: measured without the cap on them */
  cfg.store = s->store;
  cfg.clock_offset = clock_offset(s->loop);
  nb_addr lo, http;
  nb_addr_parse("127.0.0.1:0", 0, &lo);
  nb_addr_parse("127.0.0.1:0", 0, &http);
  if (nb_io_srv_new(s->loop, sut_receive, s, &s->net) != NB_OK ||
      nb_server_new(&cfg, nb_io_srv_send, s->net, &s->srv) != NB_OK ||
      nb_io_srv_listen_coap(s->net, &lo, coap) != NB_OK ||
      nb_io_srv_listen_coaps(s->net, &lo, s->creds, coaps) != NB_OK)
    return false;
  nb_http_api_config hc = {.listen = http, .store = cfg.store, .clock_offset = cfg.clock_offset};
  if (nb_http_api_new(s->loop, s->srv, &hc, &s->api) != NB_OK) return false;
  nb_server_add_listener(s->srv, sut_event, s);
  uv_loop_t *uv = nb_io_loop_uv(s->loop);
  uv_timer_init(uv, &s->timer);
  uv_timer_init(uv, &s->watchdog);
  uv_prepare_init(uv, &s->prepare);
  s->timer.data = s->watchdog.data = s->prepare.data = s;
  uv_prepare_start(&s->prepare, sut_prepare);
  s->handles = true;
  return true;
}

static void sut_close(sut *s) {
  double t0 = now_s(), c0 = cpu_s();
  nb_http_api_free(s->api);
  if (s->handles) {
    uv_close((uv_handle_t *)&s->timer, NULL);
    uv_close((uv_handle_t *)&s->watchdog, NULL);
    uv_close((uv_handle_t *)&s->prepare, NULL);
  }
  if (s->piped) uv_close((uv_handle_t *)&s->pipe, NULL);
  nb_io_srv_free(s->net);
  if (s->loop) nb_io_loop_free(s->loop);
  nb_server_free(s->srv);
  nb_dtls_creds_free(s->creds);
  nb_store_sqlite_close(s->db);
  s->close_s = now_s() - t0;
  s->close_cpu = cpu_s() - c0;
  const char *suffix[] = {"", "-wal", "-shm"};
  for (int i = 0; s->dbpath[0] && i < 3; i++) {
    char path[128];
    snprintf(path, sizeof path, "%s%s", s->dbpath, suffix[i]);
    unlink(path);
  }
  if (s->dir[0]) rmdir(s->dir);
}

/* One run against the server: the generator registers `devices` (and, with notifications,
 * streams them once the server observes every device). *rss_grow gets the VmRSS growth (KiB) over
 * it, stop_s (may be NULL) the wall and CPU seconds of the shutdown. */
static bool run_server(gen_args *a, measured *reg, measured *note, long *rss_grow,
                       double stop_s[2]) {
  sut *s = calloc(1, sizeof *s);
  if (!s) return false;
  s->devices = a->devices;
  s->observe = a->notifications > 0;
  nb_addr coap, coaps;
  bool dtls = strcmp(a->mode, "dtls") == 0, ok = sut_open(s, dtls, &coap, &coaps);
  long rss0 = rss_kib();
  int out_fd = -1;
  a->port = dtls ? coaps.port : coap.port;
  if (ok) s->child = spawn_generator(a, &out_fd);
  ok = ok && s->child > 0;
  if (ok) {
    uv_pipe_init(nb_io_loop_uv(s->loop), &s->pipe, 0);
    s->pipe.data = s;
    s->piped = true;
    ok = uv_pipe_open(&s->pipe, out_fd) == 0 &&
         uv_read_start((uv_stream_t *)&s->pipe, pipe_alloc, pipe_read) == 0;
  }
  if (ok) {
    uv_timer_start(&s->watchdog, on_watchdog, watchdog_ms(s->devices), 0);
    nb_io_loop_run(s->loop);
  }
  span_end(s->observe ? &s->note : &s->reg, s->cpu_first, now_s());
  *rss_grow = rss_kib() - rss0;
  if (s->child > 0) ok = finish_generator(s->child, s->out, &s->reg.gen) && ok;
  if (s->obs_failed) fprintf(stderr, "bench_server: %ld Observe requests failed\n", s->obs_failed);
  s->note.gen = s->reg.gen;
  *reg = s->reg;
  *note = s->note;
  ok = ok && s->reg.count == a->devices &&
       s->observed + s->obs_failed >= (s->observe ? a->devices : 0);
  sut_close(s);
  if (stop_s) {
    stop_s[0] = s->close_s;
    stop_s[1] = s->close_cpu;
  }
  if (!s->piped && out_fd >= 0) close(out_fd);
  free(s);
  return ok;
}

/* ---- the figures ---- */

static void print_side(const char *who, const char *what, const measured *m) {
  printf("  %-26s %9.0f %s/s; %.0f per CPU-second (CPU %.0f%% busy)\n", who, rate(m), what,
         per_cpu(m), 100 * m->busy);
}

static void print_ratio(const measured *server, const measured *echo) {
  double w = rate(echo), c = per_cpu(echo);
  printf("  ratio server/echo:         %10.3f (wall clock), %.3f (per CPU-second)\n",
         w > 0 ? rate(server) / w : 0, c > 0 ? per_cpu(server) / c : 0);
}

static void print_gen(const measured *m, long expected) {
  const nb_bench_gen_result *g = &m->gen;
  printf(
      "    generator: %ld sent, %ld covered by an answered CON, %ld RST, %ld retransmitted; "
      "CPU %.0f%% busy\n",
      g->sent, g->covered, g->rst, g->retransmitted,
      g->stream_s > 0 ? 100 * g->cpu_s / g->stream_s : 0);
  if (m->count != expected)
    printf("    !! decoded %ld of %ld notifications sent\n", m->count, expected);
}

static int bench_network_registrations(void) {
  gen_args a = {.mode = "echo", .devices = REG_DEVICES};
  measured echo, reg, none;
  long rss = 0;
  if (!run_echo(&a, &echo)) return 1;
  a.mode = "coap";
  if (!run_server(&a, &reg, &none, &rss, NULL)) return 1;
  printf("registrations over loopback UDP (%d devices, one address each, window %d):\n",
         REG_DEVICES, WINDOW);
  print_side("bare UDP echo baseline", "Register datagrams", &echo);
  print_side("server Register (SQLite)", "registrations", &reg);
  if (reg.gen.reg_retransmitted)
    printf("    generator: %ld Registers retransmitted after 2 s\n", reg.gen.reg_retransmitted);
  print_ratio(&reg, &echo);
  (void)rss; /* memory: the fleet run, made first while no freed memory hides growth */
  return 0;
}

/* NoSec or DTLS-PSK notifications against the echo baseline of the same datagram sizes. */
static int bench_notifications(const char *mode, long count, long *nosec_bytes) {
  bool dtls = strcmp(mode, "dtls") == 0;
  gen_args a = {.mode = mode, .devices = NOTIF_DEVICES, .notifications = count};
  measured echo, reg, note;
  long rss = 0;
  if (!run_server(&a, &reg, &note, &rss, NULL)) return 1;
  a.mode = "echo";
  a.pad = dtls && *nosec_bytes > 0 ? note.gen.notif_bytes - *nosec_bytes : 0;
  if (!dtls) *nosec_bytes = note.gen.notif_bytes;
  if (!run_echo(&a, &echo)) return 1;
  printf("notifications %s (%d devices, %ld notifications, bursts of %d NON+CON, window %d):\n",
         dtls ? "DTLS-PSK (AES-128-CCM-8)" : "NoSec", NOTIF_DEVICES, count, BURST, WINDOW);
  if (dtls)
    printf(
        "  handshake + Register:      %10.0f devices/s (generator's clock; %ld Registers "
        "retransmitted)\n",
        reg.gen.reg_s > 0 ? (double)NOTIF_DEVICES / reg.gen.reg_s : 0, reg.gen.reg_retransmitted);
  printf("  datagram:                  %10ld bytes of UDP payload per notification\n",
         note.gen.notif_bytes);
  print_side("bare UDP echo baseline", "datagrams", &echo);
  print_side("server, decoded", "notifications", &note);
  print_gen(&note, count);
  print_ratio(&note, &echo);
  return note.count == count ? 0 : 1;
}

/* The whole server holding a fleet: what a registration costs it and how long it takes to stop. */
static int bench_fleet(long devices) {
  gen_args a = {.mode = "coap", .devices = devices};
  measured reg, none;
  long rss = 0;
  double stop_s[2] = {0, 0};
  if (!run_server(&a, &reg, &none, &rss, stop_s)) return 1;
  printf("the whole server holding %ld registrations (engine, SQLite store, sockets, HTTP API):\n",
         devices);
  printf("  resident memory:           %10.0f bytes per registration (VmRSS +%ld KiB)\n",
         reg.count ? (double)rss * 1024 / (double)reg.count : 0, rss);
  printf("  shutdown:                  %10.3f s (CPU %.3f s)\n", stop_s[0], stop_s[1]);
  return 0;
}

/* ---- registrations in-process (engine only, no sockets, no store) ---- */

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
  cfg.max_nosec = 0; /* the fleets are NoSec: measured without the cap on them */
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

/* `bench_server --echo-baseline N`: only the bare UDP echo of N notification datagrams (37
 * bytes, the NoSec size), one machine-readable line; bench_sim sets its figures against it. */
static int bench_echo_only(long count) {
  gen_args a = {.mode = "echo", .devices = NOTIF_DEVICES, .notifications = count};
  measured echo;
  if (!run_echo(&a, &echo)) return 1;
  printf("echo_per_s=%.0f echo_per_cpu_s=%.0f\n", rate(&echo), per_cpu(&echo));
  return 0;
}

static void usage(FILE *f) {
  fprintf(f,
          "Usage: bench_server [NOTIFICATIONS [FLEET]]\n"
          "       bench_server --echo-baseline N  (only the bare UDP echo, for bench_sim)\n"
          "Server throughput and memory against a load generator in a second process (this\n"
          "binary with --generate), each pinned to its own CPU: registrations/s, notifications/s\n"
          "(NoSec and DTLS-PSK) and memory per device, with a recvmmsg echo baseline in the\n"
          "same run. Takes minutes; figures in bench/README.md.\n"
          "  NOTIFICATIONS  notifications per run (default 100000, 1..10000000)\n"
          "  FLEET          devices of the last memory run (default 100000, 1..1000000)\n"
          "  -h, --help     this text\n");
}

/* A positive number within [1, max] from text; false when it is none. */
static bool arg_number(const char *text, long max, long *out) {
  char *end;
  long v = strtol(text, &end, 10);
  if (end == text || *end || v < 1 || v > max) return false;
  *out = v;
  return true;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--generate") == 0) return nb_bench_loadgen_main(argc, argv);
  if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    usage(stdout);
    return 0;
  }
  bool echo_only = argc > 1 && strcmp(argv[1], "--echo-baseline") == 0;
  if (echo_only) argv++, argc--;
  long count = 100000, fleet = 100000;
  if (argc > 3 || (argc > 1 && !arg_number(argv[1], 10000000, &count)) ||
      (argc > 2 && !arg_number(argv[2], 1000000, &fleet))) {
    usage(stderr);
    return 2;
  }
  nb_log_set_level(NB_LOG_WARN);
  ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
  if (n <= 0 || nb_random_bytes(psk_master, sizeof psk_master) != NB_OK) return 1;
  self_exe[n] = '\0';
  int cpu_server;
  pin_cpus(&cpu_server);
  if (cpu_server >= 0)
    printf("server (and echo baseline) pinned to CPU %d, load generator process to CPU %d\n",
           cpu_server, cpu_gen);
  else
    printf("one CPU only: server and generator share it (not pinned)\n");
  if (echo_only) return bench_echo_only(count);
  /* First, while the process has not yet freed memory that later allocations would reuse (and
   * VmRSS then not show). */
  int rc = bench_fleet(fleet);
  rc |= bench_network_registrations();
  long nosec_bytes = 0;
  rc |= bench_notifications("coap", count, &nosec_bytes);
  rc |= bench_notifications("dtls", count, &nosec_bytes);
  rc |= bench_registrations(10000);
  return rc;
}
