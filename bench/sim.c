/* bench_sim: `niobium sim` (the fleet simulator) against `niobium server`, both the release
 * binaries, on loopback: resident memory per registered device and the time to register a
 * NoSec fleet of 10,000 and of 100,000 devices, the same for 10,000 DTLS-PSK devices (what
 * DTLS adds per device, most of it GnuTLS's), and the notifications per second the simulator
 * sustains with every device observed, as a ratio to the bare UDP echo of bench_server
 * (`bench_server --echo-baseline`, measured in the same run).
 *
 *   bench_sim [SMALL LARGE PSK NOTIFY_DEVICES NOTIFY_SECONDS]   (10000 100000 10000 10000 20)
 *
 * The binaries are found beside this one (build/release/niobium, bench/bench_server). Each
 * run reads the simulator's JSON report (--report). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

extern char **environ;

static char niobium[4200], bench_server[4200], dir[64];
static char coap_uri[64], coaps_uri[64], api[64];
static pid_t server_pid = -1;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint16_t free_port(int type) {
  int fd = socket(AF_INET, type, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sa;
  uint16_t port = 0;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
      getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
    port = ntohs(sa.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

/* argv[0] started with stdout or stderr (which) on a pipe; -1 when it cannot start. */
static pid_t spawn(char *const argv[], int which, int *fd_out) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], which);
  /* the other of stdout and stderr: the simulator's text report is not ours to show */
  posix_spawn_file_actions_addopen(&fa, which == STDOUT_FILENO ? STDERR_FILENO : STDOUT_FILENO,
                                   "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return -1;
  }
  *fd_out = fds[0];
  return pid;
}

static int wait_exit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Reads what the pipe has within ms into buf (appending); false at its end. */
static bool read_some(int fd, char *buf, size_t cap, size_t *len, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (poll(&p, 1, ms) <= 0) return true;
  if (*len + 1 >= cap) { /* keep the tail: progress lines are what we look at */
    memmove(buf, buf + cap / 2, *len - cap / 2);
    *len -= cap / 2;
  }
  ssize_t n = read(fd, buf + *len, cap - 1 - *len);
  if (n <= 0) return false;
  *len += (size_t)n;
  buf[*len] = 0;
  return true;
}

/* ---- the server ---- */

static bool start_server(void) {
  snprintf(dir, sizeof dir, "/tmp/nb-bench-sim-XXXXXX");
  if (!mkdtemp(dir)) return false;
  char db[128], coap[32], coaps[32], http[32];
  uint16_t hp = free_port(SOCK_STREAM);
  snprintf(db, sizeof db, "%s/server.db", dir);
  snprintf(coap, sizeof coap, "127.0.0.1:%u", free_port(SOCK_DGRAM));
  snprintf(coaps, sizeof coaps, "127.0.0.1:%u", free_port(SOCK_DGRAM));
  snprintf(http, sizeof http, "127.0.0.1:%u", hp);
  snprintf(coap_uri, sizeof coap_uri, "coap://%s", coap);
  snprintf(coaps_uri, sizeof coaps_uri, "coaps://%s", coaps);
  snprintf(api, sizeof api, "http://%s", http);
  char *argv[20] = {niobium,  "server", "--coap", coap, "--coaps",     coaps,
                    "--http", http,     "--db",   db,   "--log-level", "info"};
  int n = 12;
  argv[n++] = "--max-nosec-registrations"; /* fleets above the default cap of 1000 */
  argv[n++] = "0";
  argv[n] = NULL;
  int fd;
  server_pid = spawn(argv, STDERR_FILENO, &fd);
  if (server_pid < 0) return false;
  char buf[8192];
  size_t len = 0;
  for (double end = now_s() + 20; now_s() < end && !strstr(buf, "proto=http");)
    if (!read_some(fd, buf, sizeof buf, &len, 500)) break;
  close(fd); /* its later log lines go nowhere (EPIPE is ignored by the logger's stdio) */
  return strstr(buf, "proto=http") != NULL;
}

static void stop_server(void) {
  if (server_pid > 0) {
    kill(server_pid, SIGTERM);
    wait_exit(server_pid);
  }
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fprintf(stderr, "bench_sim: cannot remove %s\n", dir);
}

/* ---- one simulator run ---- */

typedef struct {
  json_t *report;
  double notify_per_s; /* median of the per-second progress figures in the measured window */
} sim_run;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Runs the simulator with args until every device registered (or, without until_registered,
 * from its start), holds it for hold seconds (sampling notify/s during the last `sample` of
 * them), interrupts it and reads its report. */
static bool run_sim(char **args, unsigned devices, bool until_registered, double hold,
                    double sample, sim_run *out) {
  char report[128], ndev[16], *argv[48] = {niobium, "sim"};
  snprintf(report, sizeof report, "%s/report.json", dir);
  snprintf(ndev, sizeof ndev, "%u", devices);
  int n = 2;
  for (; args[n - 2]; n++) argv[n] = args[n - 2];
  char *common[] = {"--devices", ndev, "--progress", "1", "--report", report, NULL};
  for (int i = 0; common[i]; i++) argv[n++] = common[i];
  argv[n] = NULL;
  int fd;
  pid_t pid = spawn(argv, STDERR_FILENO, &fd);
  if (pid < 0) return false;
  static char buf[1 << 16];
  size_t len = 0;
  buf[0] = 0;
  char want[48];
  snprintf(want, sizeof want, "registered=%u ", devices);
  double t0 = now_s(), registered = until_registered ? 0 : t0;
  double rates[4096];
  size_t nrates = 0;
  bool ok = true;
  while (ok) {
    size_t before = len;
    ok = read_some(fd, buf, sizeof buf, &len, 200);
    if (getenv("BENCH_SIM_VERBOSE") && len > before) fputs(buf + before, stderr);
    if (!registered && strstr(buf, want)) {
      registered = now_s();
      len = 0; /* from here on: the steady fleet's lines */
      buf[0] = 0;
    }
    if (!registered && now_s() - t0 > 900) break;
    if (registered && now_s() - registered >= hold) break;
  }
  if (registered && sample > 0) { /* the last `sample` seconds of progress lines */
    for (char *p = buf; (p = strstr(p, "notify/s=")); p += 9)
      if (nrates < sizeof rates / sizeof *rates) rates[nrates++] = strtod(p + 9, NULL);
    size_t skip = nrates > (size_t)sample ? nrates - (size_t)sample : 0;
    qsort(rates + skip, nrates - skip, sizeof *rates, cmp_double);
    out->notify_per_s = nrates > skip ? rates[skip + (nrates - skip) / 2] : 0;
  }
  kill(pid, SIGINT);
  while (read_some(fd, buf, sizeof buf, &len, 1000)) {
  }
  close(fd);
  int rc = wait_exit(pid);
  json_error_t je;
  out->report = json_load_file(report, 0, &je);
  if (!registered) fprintf(stderr, "bench_sim: the fleet did not register (%s)\n", buf);
  return registered && out->report && (rc == 0 || !until_registered);
}

static double num(json_t *r, const char *a, const char *b) {
  return json_number_value(json_object_get(json_object_get(r, a), b));
}

/* ---- the figures ---- */

typedef struct {
  double per_device, reg_s, reg_per_s, p99_ms;
} fleet_fig;

/* Each run has endpoints of its own: a NoSec device may not register under a name the DTLS
 * run bound to a credential. */
static bool fleet_figures(char **args, unsigned devices, fleet_fig *f) {
  sim_run r = {0};
  if (!run_sim(args, devices, true, 3, 0, &r)) {
    json_decref(r.report);
    return false;
  }
  f->per_device = num(r.report, "memory", "bytes_per_device_registered");
  f->reg_s = num(r.report, "registration", "all_registered_s");
  f->reg_per_s = num(r.report, "registration", "per_s");
  f->p99_ms = num(json_object_get(r.report, "registration"), "time_to_register", "p99");
  json_decref(r.report);
  return true;
}

static void print_fleet(const char *what, unsigned devices, const fleet_fig *f) {
  printf(
      "  %-22s %8u devices: %6.0f bytes resident per device; all registered in %6.2f s "
      "(%5.0f/s, p99 %4.0f ms each)\n",
      what, devices, f->per_device, f->reg_s, f->reg_per_s, f->p99_ms);
}

static double echo_baseline(void) {
  char *argv[] = {bench_server, "--echo-baseline", "100000", NULL};
  int fd;
  pid_t pid = spawn(argv, STDOUT_FILENO, &fd);
  if (pid < 0) return 0;
  char buf[4096];
  size_t len = 0;
  buf[0] = 0;
  while (read_some(fd, buf, sizeof buf, &len, 5000)) {
  }
  close(fd);
  wait_exit(pid);
  const char *p = strstr(buf, "echo_per_s=");
  return p ? strtod(p + 11, NULL) : 0;
}

static unsigned arg(int argc, char **argv, int i, unsigned dflt) {
  return argc > i ? (unsigned)strtoul(argv[i], NULL, 10) : dflt;
}

int main(int argc, char **argv) {
  unsigned small = arg(argc, argv, 1, 10000), large = arg(argc, argv, 2, 100000),
           psk = arg(argc, argv, 3, 10000), ndev = arg(argc, argv, 4, 10000),
           nsec = arg(argc, argv, 5, 20);
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 1;
  self[n] = 0;
  *strrchr(self, '/') = 0;
  snprintf(bench_server, sizeof bench_server, "%s/bench_server", self);
  snprintf(niobium, sizeof niobium, "%s/../niobium", self);
  if (access(niobium, X_OK) != 0 || access(bench_server, X_OK) != 0) {
    fprintf(stderr, "bench_sim: %s or %s missing (build the release tree)\n", niobium,
            bench_server);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  double echo = echo_baseline();
  if (!start_server()) {
    fprintf(stderr, "bench_sim: niobium server did not start\n");
    stop_server();
    return 1;
  }
  printf("bench_sim: niobium sim against niobium server (release, loopback)\n");
  int rc = 0;
  fleet_fig f_small, f_large, f_psk;
  /* each run has endpoints of its own: a NoSec device may not register under a name the
   * DTLS run bound to a credential */
  char *nosec[] = {"--server", coap_uri, "--prefix", "small-", NULL};
  char *nosec_large[] = {"--server", coap_uri, "--prefix", "large-", NULL};
  char *dtls[] = {"--server",  coaps_uri, "--security", "psk",  "--api", api,
                  "--observe", "0",       "--prefix",   "psk-", NULL};
  bool ok_small = fleet_figures(nosec, small, &f_small);
  if (ok_small) print_fleet("NoSec", small, &f_small);
  bool ok_large = fleet_figures(nosec_large, large, &f_large);
  if (ok_large) print_fleet("NoSec", large, &f_large);
  bool ok_psk = fleet_figures(dtls, psk, &f_psk);
  if (ok_psk) {
    print_fleet("DTLS-PSK", psk, &f_psk);
    if (ok_small && psk == small)
      printf(
          "  DTLS adds %.0f bytes per device (its GnuTLS session and credentials, and the "
          "engine's session and credential structs, ~0.7 KB of it)\n",
          f_psk.per_device - f_small.per_device);
  }
  rc |= !ok_small || !ok_large || !ok_psk;
  /* notifications: every device observed without attributes, a value change every 100 ms,
   * far more than server and simulator can carry together: measured once the fleet settled
   * (40 s), whether or not the last devices got through registration under that load */
  char *notify[] = {
      "--server",          coap_uri, "--api",    api,       "--observe", "1", "--observe-attrs", "",
      "--notify-interval", "100",    "--prefix", "notify-", NULL};
  sim_run r = {0};
  if (run_sim(notify, ndev, false, 40 + nsec, nsec, &r)) {
    printf(
        "  notifications: %u devices observed, a value change every 100 ms each: the "
        "simulator sent %.0f notifications/s (median over %u s)\n",
        ndev, r.notify_per_s, nsec);
    printf("  bare UDP echo baseline (bench_server --echo-baseline): %.0f datagrams/s\n", echo);
    printf("  ratio simulator notifications / echo: %.3f\n", echo > 0 ? r.notify_per_s / echo : 0);
  } else {
    rc = 1;
  }
  json_decref(r.report);
  stop_server();
  return rc;
}
