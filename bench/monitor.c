/* Monitor throughput: packets per second decoded by the monitor engine (frame -> CoAP ->
 * LwM2M -> exchange matching, device tracking, rules, payload decoding) from a generated pcap
 * of LwM2M traffic (NB_BENCH_PACKETS frames, default 1 000 000, in a temp directory), with
 * every event written as a JSON line to /dev/null, against `tshark -T fields` on the same file
 * in the same run. Goal: at least 20 times tshark's rate. */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tests/support/pcap_craft.c" /* the test-traffic crafter, reused as is */
#include "monitor/capture.h"
#include "monitor/evjson.h"
#include "monitor/monitor.h"

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
static uint64_t generate(const char *file, uint64_t budget) {
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

typedef struct {
  FILE *out;
  nb_bytes line;
  uint64_t events, alerts;
} bench_sink;

static void on_event(const nb_mon_event *ev, void *user) {
  bench_sink *b = user;
  nb_bytes_clear(&b->line);
  nb_mon_event_to_json(ev, NULL, &b->line);
  nb_bytes_append(&b->line, "\n", 1);
  fwrite(b->line.data, 1, b->line.len, b->out);
  b->events++;
  if (ev->kind == NB_MON_EV_ALERT) b->alerts++;
}

static double run_monitor(const char *file, bench_sink *b) {
  nb_model *model = nb_model_new();
  nb_mon_config cfg = {.model = model, .summary_interval_s = 60};
  nb_monitor *m = nb_monitor_new(&cfg, on_event, b);
  if (!m || !model) die("out of memory");
  char why[256];
  double t0 = now_s();
  if (nb_mon_read_file(m, file, NULL, why, sizeof why)) die(why);
  double dt = now_s() - t0;
  nb_monitor_free(m);
  nb_model_free(model);
  return dt;
}

/* Seconds tshark takes to print the CoAP fields of every packet; <0 when tshark is missing. */
static double run_tshark(const char *file) {
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
  return now_s() - t0;
}

int main(void) {
  const char *env = getenv("NB_BENCH_PACKETS");
  uint64_t budget = env ? strtoull(env, NULL, 10) : 1000000;
  if (budget < 10000) budget = 10000;
  char dir[] = "/tmp/nb_bench_monitor_XXXXXX";
  if (!mkdtemp(dir)) die("mkdtemp");
  char file[64];
  snprintf(file, sizeof file, "%s/lwm2m.pcap", dir);
  double t0 = now_s();
  uint64_t frames = generate(file, budget);
  double gen = now_s() - t0;
  bench_sink b = {.out = fopen("/dev/null", "w")};
  nb_bytes_init(&b.line);
  if (!b.out) die("/dev/null");
  double mon = run_monitor(file, &b);
  double ts = run_tshark(file);
  printf("monitor benchmark: %llu frames of LwM2M traffic (1000 devices), generated in %.1f s\n",
         (unsigned long long)frames, gen);
  printf(
      "  niobium monitor : %10.0f packets/s (%.2f s, %llu JSON events to /dev/null, %llu alerts)\n",
      (double)frames / mon, mon, (unsigned long long)b.events, (unsigned long long)b.alerts);
  if (ts > 0) {
    printf("  tshark -T fields: %10.0f packets/s (%.2f s)\n", (double)frames / ts, ts);
    printf("  ratio           : %.1fx tshark (goal: >= 20x)\n", ts / mon);
  } else {
    printf("  tshark not available: no baseline\n");
  }
  fclose(b.out);
  nb_bytes_free(&b.line);
  unlink(file);
  rmdir(dir);
  return 0;
}
