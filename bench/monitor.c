/* Monitor throughput: packets per second decoded by the monitor engine (frame -> CoAP ->
 * LwM2M -> exchange matching, device tracking, rules, payload decoding) from generated pcaps
 * (NB_BENCH_PACKETS frames each, default 1 000 000, in a temp directory), with every event
 * written as a JSON line to /dev/null, against `tshark -T fields` on the same file in the same
 * run. Three captures: a fleet's LwM2M life (registrations, observations, reads, updates); a
 * Leshan-like notification capture that begins after the observations were set up (the
 * alert-heavy case: every notification lacks its Observe); plain CoAP of a profiling data set
 * (GET/PUT/POST on text paths, no LwM2M). Goal: at least 20 times tshark's rate on each. */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tests/support/pcap_craft.c" /* the test-traffic crafter, reused as is */
#include "monitor/capture.h"
#include "monitor/evjson.h"
#include "monitor/monitor.h"

/* CPU seconds (user + system) of this process, or of its waited-for children. */
static double cpu_s(int who) {
  struct rusage ru;
  if (getrusage(who, &ru) != 0) return 0;
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
  fprintf(stderr, "bench_monitor: %s\n", what);
  exit(1);
}

/* A fleet: each device registers and is observed, then rounds of notifications, reads of the
 * Device object (TLV) and updates until the frame budget is spent. */
static uint64_t gen_fleet(const char *file, uint64_t budget) {
  nb_pcap_craft *c = nb_craft_open(file, 1, false);
  if (!c) die("cannot write the capture");
  nb_craft_session s = {.c = c, .t_us = 1700000000000000ll};
  enum { DEVICES = 1000 };
  size_t tlv_len;
  uint8_t *tlv = nb_craft_payload(
      11542, "/3/0", "/3/0/0=s:Niobium;/3/0/1=s:nb-1;/3/0/9=i:87;/3/0/10=i:1024", &tlv_len);
  if (!tlv) die("payload");
  static const char links[] = "</1/0>,</3/0>,</5/0>";
  char client[DEVICES][32], loc[DEVICES][16];
  uint32_t obs_token[DEVICES];
  for (int i = 0; i < DEVICES; i++) {
    char q[64];
    snprintf(client[i], 32, "10.%d.%d.%d:%d", 1 + i / 60000, (i / 250) % 240, 1 + i % 250,
             40000 + i % 1000);
    snprintf(loc[i], 16, "/rd/%d", i);
    snprintf(q, sizeof q, "ep=bench-%d&lt=86400&lwm2m=1.1&b=U", i);
    nb_craft_exchange(&s, client[i], "10.0.0.1:5683", NB_COAP_POST, "/rd", q, 40, links,
                      sizeof links - 1, NB_COAP_CREATED, -1, NULL, 0, loc[i], -1);
    nb_craft_exchange(&s, "10.0.0.1:5683", client[i], NB_COAP_GET, "/3/0/9", NULL, -1, NULL, 0,
                      NB_COAP_CONTENT, 0, "87", 2, NULL, 0);
    obs_token[i] = s.token;
  }
  static nb_coap_msg msg;
  for (uint32_t round = 1; nb_craft_frames(c) < budget; round++) {
    for (int i = 0; i < DEVICES && nb_craft_frames(c) < budget; i++) {
      char v[8];
      int n = snprintf(v, sizeof v, "%u", 50 + (round + (uint32_t)i) % 50);
      nb_craft_msg(&msg, NB_COAP_NON, NB_COAP_CONTENT, (uint16_t)(round * 7 + (uint32_t)i),
                   obs_token[i], NULL, NULL, 0, v, (size_t)n);
      nb_coap_msg_add_uint(&msg, NB_COAP_OPT_OBSERVE, round);
      nb_craft_coap(c, s.t_us, client[i], "10.0.0.1:5683", &msg, NULL);
      s.t_us += 1000;
      if ((round + (uint32_t)i) % 4 == 0)
        nb_craft_exchange(&s, "10.0.0.1:5683", client[i], NB_COAP_GET, "/3/0", NULL, -1, NULL, 0,
                          NB_COAP_CONTENT, 11542, tlv, tlv_len, NULL, -1);
      if ((round + (uint32_t)i) % 16 == 0)
        nb_craft_exchange(&s, client[i], "10.0.0.1:5683", NB_COAP_POST, loc[i], NULL, -1, NULL, 0,
                          NB_COAP_CHANGED, -1, NULL, 0, NULL, -1);
    }
  }
  free(tlv);
  uint64_t frames = nb_craft_frames(c);
  if (!nb_craft_close(c)) die("writing the capture failed");
  return frames;
}

/* Notifications of 1000 devices (SenML JSON, Observe counting up, CON every 8th with its ACK)
 * to a Leshan server whose observations began before the capture. */
static uint64_t gen_notify(const char *file, uint64_t budget) {
  nb_pcap_craft *c = nb_craft_open(file, 1, false);
  if (!c) die("cannot write the capture");
  enum { DEVICES = 1000 };
  static nb_coap_msg msg;
  int64_t t = 1700000000000000ll;
  for (uint32_t round = 1; nb_craft_frames(c) < budget; round++) {
    for (int i = 0; i < DEVICES && nb_craft_frames(c) < budget; i++) {
      char client[32], v[64];
      snprintf(client, sizeof client, "10.%d.%d.%d:%d", 20 + i / 60000, (i / 250) % 240,
               1 + i % 250, 50000 + i % 1000);
      int n = snprintf(v, sizeof v, "[{\"bn\":\"/3303/0/\",\"n\":\"5700\",\"v\":%u.5}]",
                       15 + (round + (uint32_t)i) % 20);
      bool con = (round + (uint32_t)i) % 8 == 0;
      uint16_t mid = (uint16_t)(round * 1000 + (uint32_t)i);
      nb_craft_msg(&msg, con ? NB_COAP_CON : NB_COAP_NON, NB_COAP_CONTENT, mid,
                   0x10000 + (uint32_t)i, NULL, NULL, 110, v, (size_t)n);
      nb_coap_msg_add_uint(&msg, NB_COAP_OPT_OBSERVE, round);
      nb_craft_coap(c, t, client, "10.0.0.1:5683", &msg, NULL);
      t += 1000;
      if (con) {
        nb_craft_msg(&msg, NB_COAP_ACK, NB_COAP_EMPTY, mid, 0, NULL, NULL, -1, NULL, 0);
        msg.token_len = 0;
        nb_craft_coap(c, t, "10.0.0.1:5683", client, &msg, NULL);
        t += 1000;
      }
    }
  }
  uint64_t frames = nb_craft_frames(c);
  if (!nb_craft_close(c)) die("writing the capture failed");
  return frames;
}

/* Plain CoAP as in a profiling data set: clients reading and setting text resources of
 * devices (GET/PUT/POST on /floor_N_light, /temperature, /storage...), piggybacked answers. */
static uint64_t gen_plain(const char *file, uint64_t budget) {
  nb_pcap_craft *c = nb_craft_open(file, 1, false);
  if (!c) die("cannot write the capture");
  nb_craft_session s = {.c = c, .t_us = 1700000000000000ll};
  static const char *const paths[] = {"/floor_1_light", "/floor_2_light", "/temperature",
                                      "/humidity",      "/storage",       "/"};
  for (uint32_t k = 0; nb_craft_frames(c) < budget; k++) {
    char client[32], server[32], v[16];
    snprintf(client, sizeof client, "10.9.%u.%u:%u", (k / 200) % 200, 1 + k % 200, 40000 + k % 500);
    snprintf(server, sizeof server, "10.8.0.%u:5683", 1 + k % 50);
    const char *path = paths[k % 6];
    int n = snprintf(v, sizeof v, "%u", k % 1000);
    switch (k % 4) {
      case 0:
      case 1:
        nb_craft_exchange(&s, client, server, NB_COAP_GET, path, NULL, -1, NULL, 0, NB_COAP_CONTENT,
                          0, v, (size_t)n, NULL, -1);
        break;
      case 2:
        nb_craft_exchange(&s, client, server, NB_COAP_PUT, path, NULL, 0, v, (size_t)n,
                          NB_COAP_CHANGED, -1, NULL, 0, NULL, -1);
        break;
      default:
        nb_craft_exchange(&s, client, server, NB_COAP_POST, path, NULL, 0, v, (size_t)n,
                          NB_COAP_CREATED, -1, NULL, 0, NULL, -1);
        break;
    }
  }
  uint64_t frames = nb_craft_frames(c);
  if (!nb_craft_close(c)) die("writing the capture failed");
  return frames;
}

/* Events rendered as `niobium monitor` renders them (resource names from the model) and
 * written the same way: whole lines gathered and written in 256 KiB batches. */
typedef struct {
  FILE *out;
  const nb_model *model;
  nb_bytes pending;
  uint64_t events, alerts;
} bench_sink;

static void sink_write(bench_sink *b) {
  if (b->pending.len) fwrite(b->pending.data, 1, b->pending.len, b->out);
  nb_bytes_clear(&b->pending);
}

static void on_event(const nb_mon_event *ev, void *user) {
  bench_sink *b = user;
  nb_mon_event_to_json(ev, b->model, &b->pending);
  nb_bytes_append(&b->pending, "\n", 1);
  if (b->pending.len >= (size_t)256 * 1024) sink_write(b);
  b->events++;
  if (ev->kind == NB_MON_EV_ALERT) b->alerts++;
}

/* Wall seconds of one monitor run over the file; its CPU seconds into *cpu. */
static double run_monitor(const char *file, bench_sink *b, double *cpu) {
  nb_model *model = nb_model_new();
  b->model = model;
  nb_mon_config cfg = {.model = model, .summary_interval_s = 60};
  nb_monitor *m = nb_monitor_new(&cfg, on_event, b);
  if (!m || !model) die("out of memory");
  char why[256];
  double t0 = now_s(), c0 = cpu_s(RUSAGE_SELF);
  if (nb_mon_read_file(m, file, NULL, why, sizeof why)) die(why);
  sink_write(b);
  double dt = now_s() - t0;
  *cpu = cpu_s(RUSAGE_SELF) - c0;
  nb_monitor_free(m);
  nb_model_free(model);
  return dt;
}

/* Wall seconds tshark takes to print the CoAP fields of every packet (its CPU seconds into
 * *cpu); <0 when tshark is missing. */
static double run_tshark(const char *file, double *cpu) {
  fflush(stdout); /* the child must not write our buffered lines again */
  double c0 = cpu_s(RUSAGE_CHILDREN);
  pid_t pid = fork();
  if (pid < 0) return -1;
  double t0 = now_s();
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(127);
    execlp("tshark", "tshark", "-n", "-r", file, "-T", "fields", "-e", "frame.number", "-e",
           "coap.type", "-e", "coap.code", "-e", "coap.mid", "-e", "coap.token", "-e",
           "coap.opt.uri_path_recon", "-e", "coap.opt.ctype", (char *)NULL);
    _exit(127);
  }
  int status;
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  double dt = now_s() - t0;
  *cpu = cpu_s(RUSAGE_CHILDREN) - c0;
  return dt;
}

static const struct {
  const char *name, *what;
  uint64_t (*generate)(const char *file, uint64_t budget);
} captures[] = {
    {"fleet", "LwM2M fleet: register, observe, notify, read, update (1000 devices)", gen_fleet},
    {"notify", "notifications, observations set up before the capture (alert-heavy)", gen_notify},
    {"plain", "plain CoAP profiling traffic (GET/PUT/POST, no LwM2M)", gen_plain},
};

/* NB_BENCH_CAPTURES: comma-separated names to run (default all); NB_BENCH_KEEP=1 keeps the
 * generated captures (to profile or to compare with other tools). */
static bool selected(const char *name) {
  const char *want = getenv("NB_BENCH_CAPTURES");
  if (!want || !*want) return true;
  size_t n = strlen(name);
  for (const char *p = want; (p = strstr(p, name)) != NULL; p += n)
    if ((p == want || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) return true;
  return false;
}

int main(void) {
  const char *env = getenv("NB_BENCH_PACKETS");
  uint64_t budget = env ? strtoull(env, NULL, 10) : 1000000;
  if (budget < 10000) budget = 10000;
  char dir[] = "/tmp/nb_bench_monitor_XXXXXX";
  if (!mkdtemp(dir)) die("mkdtemp");
  printf("monitor benchmark: %llu frames per capture, every event as JSON to /dev/null\n",
         (unsigned long long)budget);
  printf("%-7s %9s %13s %13s %8s %9s %9s %7s  %s\n", "capture", "frames", "monitor pk/s",
         "tshark pk/s", "ratio", "cpu ratio", "events", "alerts", "traffic");
  for (size_t k = 0; k < sizeof captures / sizeof captures[0]; k++) {
    if (!selected(captures[k].name)) continue;
    char file[96];
    snprintf(file, sizeof file, "%s/%s.pcap", dir, captures[k].name);
    uint64_t frames = captures[k].generate(file, budget);
    bench_sink b = {.out = fopen("/dev/null", "w")};
    nb_bytes_init(&b.pending);
    if (!b.out) die("/dev/null");
    /* The monitor's best of two runs (the first also warms the page cache for tshark). */
    double mon_cpu = 0, ts_cpu = 0, cpu2 = 0;
    double mon = run_monitor(file, &b, &mon_cpu);
    b.events = b.alerts = 0;
    double mon2 = run_monitor(file, &b, &cpu2);
    if (mon2 < mon) mon = mon2;
    if (cpu2 < mon_cpu) mon_cpu = cpu2;
    double ts = run_tshark(file, &ts_cpu);
    char tshark_rate[32] = "-", ratio[16] = "-", cpu_ratio[16] = "-";
    if (ts > 0) {
      snprintf(tshark_rate, sizeof tshark_rate, "%.0f", (double)frames / ts);
      snprintf(ratio, sizeof ratio, "%.1fx", ts / mon);
      if (mon_cpu > 0) snprintf(cpu_ratio, sizeof cpu_ratio, "%.1fx", ts_cpu / mon_cpu);
    }
    printf("%-7s %9llu %13.0f %13s %8s %9s %9llu %7llu  %s\n", captures[k].name,
           (unsigned long long)frames, (double)frames / mon, tshark_rate, ratio, cpu_ratio,
           (unsigned long long)b.events, (unsigned long long)b.alerts, captures[k].what);
    fflush(stdout);
    fclose(b.out);
    nb_bytes_free(&b.pending);
    if (!getenv("NB_BENCH_KEEP")) unlink(file);
  }
  printf(
      "(ratio: tshark's wall time over the monitor's on the same file, goal >= 20x on each;\n"
      " cpu ratio: the same in CPU seconds, steadier on a shared machine)\n");
  if (getenv("NB_BENCH_KEEP"))
    printf("captures kept in %s\n", dir);
  else
    rmdir(dir);
  return 0;
}
