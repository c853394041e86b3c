/* The REST API under exhaustion floods (issue 13, item 4). The API is composed as `niobium
 * server` composes it (libuv loop, the server engine, nb_http_api with a token and the default
 * connection bounds) in a child process pinned to one CPU; this process, pinned to another,
 * floods it and measures the latency of an authorised GET /api/clients, each probe on a fresh
 * connection, as the operator's browser or CLI would:
 *   baseline       no flood;
 *   slowloris      1,100 connections, from five loopback addresses, that sent the start of a
 *                  request and hold;
 *   event streams  2,000 GET /api/events held open with the token (the first 100 from the
 *                  operator's own address, the rest from ten);
 *   ... closed     the first probes right after that flood's connections closed.
 * Each row gives the median and the worst probe in ms and the median against the baseline.
 * Usage: bench_api_flood [probes] (default 20). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "http/api.h"
#include "io/loop.h"
#include "server/server.h"

#define TOKEN "bench-api-flood-token-0123"
#define SLOWLORIS 1100
#define STREAMS 2000
#define PROBE_TIMEOUT_MS 10000

static const char *const from[] = {"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4",
                                   "127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8",
                                   "127.0.0.9", "127.0.0.10"};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Pins this process to CPU `which` of the allowed ones (0 or 1); false with a single CPU. */
static bool pin(int which) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) < 2) return false;
  int found[2], n = 0;
  for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
    if (CPU_ISSET(c, &set)) found[n++] = c;
  CPU_ZERO(&set);
  CPU_SET(found[which], &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

/* ---- the server (child process) ---- */

static void drop(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  (void)user, (void)peer, (void)data, (void)len; /* no device ever talks to this server */
}

static void run_server(uint16_t port, int ready) {
  pin(0);
  nb_log_set_level(NB_LOG_ERROR);
  nb_io_loop *loop;
  nb_server *srv;
  nb_http_api *api;
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  nb_http_api_config hc = {.api_token = TOKEN};
  nb_addr_parse("127.0.0.1", port, &hc.listen);
  if (nb_io_loop_new(&loop) != NB_OK || nb_server_new(&cfg, drop, NULL, &srv) != NB_OK ||
      nb_http_api_new(loop, srv, &hc, &api) != NB_OK)
    _exit(1);
  if (write(ready, "1", 1) != 1) _exit(1);
  nb_io_loop_run(loop);
  _exit(0);
}

/* ---- the flood and the probes ---- */

static int tcp_connect(uint16_t port, const char *src, int timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_in me = {.sin_family = AF_INET};
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  inet_pton(AF_INET, src, &me.sin_addr);
  if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof me) != 0) goto fail;
  int err = 0;
  socklen_t len = sizeof err;
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0 &&
      (errno != EINPROGRESS || poll(&p, 1, timeout_ms) != 1 ||
       getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0))
    goto fail;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
fail:
  if (fd >= 0) close(fd);
  return -1;
}

/* One authorised GET /api/clients from the operator's address: ms until the whole answer
 * (200) came, or -1. */
static double probe(uint16_t port) {
  char req[256], resp[4096];
  int n = snprintf(req, sizeof req,
                   "GET /api/clients HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nAuthorization: Bearer " TOKEN
                   "\r\nConnection: close\r\n\r\n",
                   port);
  double t0 = now_ms();
  int fd = tcp_connect(port, "127.0.0.1", PROBE_TIMEOUT_MS);
  if (fd < 0) return -1;
  size_t got = 0;
  bool sent = send(fd, req, (size_t)n, MSG_NOSIGNAL) == n;
  while (sent && got < sizeof resp - 1) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int left = PROBE_TIMEOUT_MS - (int)(now_ms() - t0);
    if (left <= 0 || poll(&p, 1, left) != 1) break;
    ssize_t r = recv(fd, resp + got, sizeof resp - 1 - got, 0);
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  resp[got] = '\0';
  return strncmp(resp, "HTTP/1.1 200", 12) == 0 ? now_ms() - t0 : -1;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct {
  double median, max;
  int failed;
} probes;

static probes run_probes(uint16_t port, int n) {
  double *t = calloc((size_t)n, sizeof *t);
  probes r = {0, 0, 0};
  int ok = 0;
  for (int i = 0; t && i < n; i++) {
    double ms = probe(port);
    if (ms < 0)
      r.failed++;
    else
      t[ok++] = ms;
  }
  if (ok) {
    qsort(t, (size_t)ok, sizeof *t, cmp_double);
    r.median = t[ok / 2];
    r.max = t[ok - 1];
  }
  free(t);
  return r;
}

/* n connections from naddr addresses in turn, each sending `start`; how many opened. */
static int flood(int *fds, int n, uint16_t port, const char *start, int first, int naddr) {
  int opened = 0;
  for (int i = 0; i < n; i++) {
    fds[first + i] = tcp_connect(port, from[i % naddr], 500);
    if (fds[first + i] < 0) break; /* the server no longer accepts */
    if (send(fds[first + i], start, strlen(start), MSG_NOSIGNAL) > 0) opened++;
  }
  return opened;
}

static void unflood(int *fds, int n) {
  for (int i = 0; i < n; i++) {
    if (fds[i] >= 0) close(fds[i]);
    fds[i] = -1;
  }
}

static void row(const char *name, int conns, const probes *p, double base) {
  printf("| %-28s | %5d | %9.2f | %9.2f | %7.1fx | %6d |\n", name, conns, p->median, p->max,
         base > 0 ? p->median / base : 0.0, p->failed);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20;
  if (n < 1) n = 20;
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_max < STREAMS + 512) {
    fprintf(stderr, "bench_api_flood: needs %d open files (ulimit -n)\n", STREAMS + 512);
    return 1;
  }
  rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
  setrlimit(RLIMIT_NOFILE, &rl);
  /* a free port: bound and released */
  int probe_fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (bind(probe_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
      getsockname(probe_fd, (struct sockaddr *)&sa, &len) != 0)
    return 1;
  uint16_t port = ntohs(sa.sin_port);
  close(probe_fd);
  int ready[2];
  if (pipe(ready) != 0) return 1;
  pid_t child = fork();
  if (child == 0) run_server(port, ready[1]);
  char c;
  if (child < 0 || read(ready[0], &c, 1) != 1) return 1;
  bool pinned = pin(1);
  static int fds[SLOWLORIS > STREAMS ? SLOWLORIS : STREAMS];
  unflood(fds, sizeof fds / sizeof fds[0]);
  char slow[128], sse[192];
  snprintf(slow, sizeof slow, "GET /api/clients HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nX-a: ", port);
  snprintf(sse, sizeof sse,
           "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nAuthorization: Bearer " TOKEN
           "\r\n\r\n",
           port);

  printf("REST API under exhaustion floods: %d authorised GET /api/clients per row%s\n\n", n,
         pinned ? " (server and client pinned to one CPU each)" : " (one CPU: nothing pinned)");
  printf("| %-28s | %5s | %9s | %9s | %8s | %6s |\n", "flood", "conns", "median ms", "max ms",
         "/ base", "failed");
  printf("|%s|------:|----------:|----------:|---------:|-------:|\n",
         "------------------------------");
  run_probes(port, 5); /* warm-up: the first connections pay for page faults and caches */
  probes base = run_probes(port, n);
  row("none (baseline)", 0, &base, base.median);
  int opened = flood(fds, SLOWLORIS, port, slow, 0, 5);
  usleep(200000);
  probes p = run_probes(port, n);
  row("slowloris", opened, &p, base.median);
  unflood(fds, SLOWLORIS);
  p = run_probes(port, n);
  row("slowloris, just closed", 0, &p, base.median);
  opened = flood(fds, 100, port, sse, 0, 1);
  opened += flood(fds, STREAMS - 100, port, sse, 100, 10);
  usleep(200000);
  p = run_probes(port, n);
  row("event streams", opened, &p, base.median);
  unflood(fds, STREAMS);
  p = run_probes(port, n);
  row("event streams, just closed", 0, &p, base.median);
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  return 0;
}
