/* Progress lines and the final report of the fleet simulator, text and JSON. */
#include "sim/report.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "sim/thesis.h"

void nb_sim_rss(uint64_t *rss, uint64_t *hwm) {
  *rss = *hwm = 0;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    unsigned long long kb;
    if (sscanf(line, "VmRSS: %llu kB", &kb) == 1) *rss = kb * 1024;
    if (sscanf(line, "VmHWM: %llu kB", &kb) == 1) *hwm = kb * 1024;
  }
  fclose(f);
}

static double nb_sim_secs(nb_time_ms a, nb_time_ms b) {
  return b > a ? (double)(b - a) / 1000.0 : 0;
}

/* Seconds from the first start to the last first registration (0 when none). */
static double nb_sim_reg_span(const nb_sim_stats *st) {
  return st->first_start && st->last_registered ? nb_sim_secs(st->first_start, st->last_registered)
                                                : 0;
}

/* Resident bytes per registered device beyond what the process held before any device. */
static double nb_sim_per_device(const nb_sim_report_info *in, const nb_sim_stats *st) {
  uint32_t n = st->registered ? st->registered : st->created;
  return n && in->rss > in->rss_base ? (double)(in->rss - in->rss_base) / n : 0;
}

/* ---- text ---- */

static void nb_sim_text_latency(FILE *out, const nb_sim_wire *w) {
  fprintf(out, "\nlatency of the devices' requests (first transmission to the answer, ms):\n");
  fprintf(out, "  %-22s %9s %7s %7s %7s %7s\n", "request", "count", "p50", "p90", "p99", "max");
  for (int c = NB_SIM_MSG_BS_REQUEST; c < NB_SIM_MSG_REQUESTS; c++) {
    const nb_sim_hist *h = &w->latency[c];
    if (!h->count) continue;
    fprintf(out, "  %-22s %9llu %7llu %7llu %7llu %7llu\n", nb_sim_msg_name((nb_sim_msg)c),
            (unsigned long long)h->count, (unsigned long long)nb_sim_hist_quantile(h, 0.5),
            (unsigned long long)nb_sim_hist_quantile(h, 0.9),
            (unsigned long long)nb_sim_hist_quantile(h, 0.99), (unsigned long long)h->max_ms);
  }
}

static void nb_sim_text_wire(FILE *out, const nb_sim_wire *w) {
  fprintf(out, "\non the wire (UDP payload at the devices' sockets; up = device to server):\n");
  fprintf(out, "  %-30s %10s %12s %10s %12s\n", "message", "up dgrams", "up bytes", "down dgrams",
          "down bytes");
  uint64_t t[4] = {0};
  for (int c = 0; c < NB_SIM_MSG_COUNT; c++) {
    const nb_sim_wire_row *r = &w->rows[c];
    if (!r->datagrams[0] && !r->datagrams[1]) continue;
    fprintf(out, "  %-30s %10llu %12llu %10llu %12llu\n", nb_sim_msg_name((nb_sim_msg)c),
            (unsigned long long)r->datagrams[0], (unsigned long long)r->bytes[0],
            (unsigned long long)r->datagrams[1], (unsigned long long)r->bytes[1]);
    t[0] += r->datagrams[0], t[1] += r->bytes[0], t[2] += r->datagrams[1], t[3] += r->bytes[1];
  }
  fprintf(out, "  %-30s %10llu %12llu %10llu %12llu\n", "total", (unsigned long long)t[0],
          (unsigned long long)t[1], (unsigned long long)t[2], (unsigned long long)t[3]);
}

void nb_sim_report_text(FILE *out, const nb_sim_fleet *f, const nb_sim_report_info *in) {
  const nb_sim_stats *st = nb_sim_fleet_stats(f);
  const nb_sim_wire *w = nb_sim_fleet_wire(f);
  double run = nb_sim_secs(in->started, in->now), span = nb_sim_reg_span(st);
  fprintf(out, "\nniobium sim report\n");
  fprintf(out, "  scenario     %s\n  target       %s (security %s)\n", in->scenario, in->target,
          in->security);
  fprintf(out, "  run          %.1f s, loss %.3g each way (seed %llu)\n", run, in->loss,
          (unsigned long long)in->seed);
  fprintf(out,
          "devices: %u asked, %u started, %u bootstrapped, %u registered at least once, "
          "%u de-registered, %u failed\n",
          st->devices, st->started, st->bootstrapped, st->ever_registered, st->deregistered,
          st->failed);
  if (span > 0)
    fprintf(out,
            "registration: all %u in %.2f s from the first start (%.0f/s); per device "
            "p50 %llu ms, p99 %llu ms\n",
            st->ever_registered, span, st->ever_registered / span,
            (unsigned long long)nb_sim_hist_quantile(&st->time_to_register, 0.5),
            (unsigned long long)nb_sim_hist_quantile(&st->time_to_register, 0.99));
  fprintf(out,
          "activity: %llu registrations, %llu updates, %llu failed registration attempts, "
          "%llu notifications (%.0f/s), %llu executes applied (at most %u on one device)\n",
          (unsigned long long)st->registrations, (unsigned long long)st->updates,
          (unsigned long long)st->reg_failures, (unsigned long long)st->notifications,
          run > 0 ? (double)st->notifications / run : 0, (unsigned long long)st->executes,
          st->execute_max);
  if (in->loss > 0)
    fprintf(out, "loss: %llu datagrams dropped up, %llu down\n", (unsigned long long)st->lost_up,
            (unsigned long long)st->lost_down);
  fprintf(out, "memory: resident %.1f MiB (peak %.1f MiB), %.0f bytes per device\n",
          (double)in->rss / 1048576.0, (double)in->hwm / 1048576.0, nb_sim_per_device(in, st));
  if (in->rss_registered > in->rss_base)
    fprintf(out, "  when all %u were registered: %.1f MiB, %.0f bytes per device\n", st->devices,
            (double)in->rss_registered / 1048576.0,
            (double)(in->rss_registered - in->rss_base) / st->devices);
  if (in->have_net)
    fprintf(out, "sockets: %u (%s), %llu datagrams out, %llu in, %llu refused by the kernel\n",
            in->net.sockets, in->net.mode == NB_SIM_SOCK_SHARED ? "shared" : "one per device",
            (unsigned long long)in->net.tx, (unsigned long long)in->net.rx,
            (unsigned long long)in->net.tx_dropped);
  if (in->have_api)
    fprintf(out,
            "api: %llu requests, %llu failed (last status %ld), %llu devices provisioned, %llu "
            "approvals, %llu observes\n",
            (unsigned long long)in->api.sent, (unsigned long long)in->api.failed,
            in->api.last_status, (unsigned long long)in->api.provisioned,
            (unsigned long long)in->api.approved, (unsigned long long)in->api.observed);
  size_t nerr;
  const nb_sim_err_count *errs = nb_sim_fleet_errors(f, &nerr);
  if (nerr) {
    fprintf(out, "errors by kind:\n");
    for (size_t i = 0; i < nerr; i++)
      fprintf(out, "  %-32s %llu\n", errs[i].kind, (unsigned long long)errs[i].count);
  }
  nb_sim_text_latency(out, w);
  nb_sim_text_wire(out, w);
  if (in->thesis) nb_sim_thesis_text(out, w, in->thesis_dtls, in->thesis_k);
}

/* ---- JSON ---- */

static json_t *nb_sim_json_hist(const nb_sim_hist *h) {
  return json_pack("{s:I,s:I,s:I,s:I,s:I,s:f}", "count", (json_int_t)h->count, "p50",
                   (json_int_t)nb_sim_hist_quantile(h, 0.5), "p90",
                   (json_int_t)nb_sim_hist_quantile(h, 0.9), "p99",
                   (json_int_t)nb_sim_hist_quantile(h, 0.99), "max", (json_int_t)h->max_ms, "mean",
                   h->count ? (double)h->sum_ms / (double)h->count : 0.0);
}

static json_t *nb_sim_json_wire(const nb_sim_wire *w) {
  json_t *rows = json_object();
  for (int c = 0; c < NB_SIM_MSG_COUNT; c++) {
    const nb_sim_wire_row *r = &w->rows[c];
    if (!r->datagrams[0] && !r->datagrams[1]) continue;
    json_object_set_new(
        rows, nb_sim_msg_key((nb_sim_msg)c),
        json_pack("{s:s,s:I,s:I,s:I,s:I}", "name", nb_sim_msg_name((nb_sim_msg)c), "up_datagrams",
                  (json_int_t)r->datagrams[0], "up_bytes", (json_int_t)r->bytes[0],
                  "down_datagrams", (json_int_t)r->datagrams[1], "down_bytes",
                  (json_int_t)r->bytes[1]));
  }
  return rows;
}

static json_t *nb_sim_json_latency(const nb_sim_wire *w) {
  json_t *lat = json_object();
  json_object_set_new(lat, "all", nb_sim_json_hist(&w->all_latency));
  for (int c = NB_SIM_MSG_BS_REQUEST; c < NB_SIM_MSG_REQUESTS; c++)
    if (w->latency[c].count)
      json_object_set_new(lat, nb_sim_msg_key((nb_sim_msg)c), nb_sim_json_hist(&w->latency[c]));
  return lat;
}

static json_t *nb_sim_json_devices(const nb_sim_stats *st) {
  return json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "asked", (int)st->devices,
                   "created", (int)st->created, "provisioned", (int)st->provisioned, "started",
                   (int)st->started, "bootstrapped", (int)st->bootstrapped, "registered_now",
                   (int)st->registered, "registered_ever", (int)st->ever_registered, "retrying",
                   (int)st->retrying, "failed", (int)st->failed, "deregistered",
                   (int)st->deregistered);
}

static json_t *nb_sim_json_activity(const nb_sim_stats *st, double run) {
  return json_pack(
      "{s:I,s:I,s:I,s:I,s:f,s:I,s:i,s:I,s:I,s:I}", "registrations", (json_int_t)st->registrations,
      "updates", (json_int_t)st->updates, "registration_failures", (json_int_t)st->reg_failures,
      "notifications", (json_int_t)st->notifications, "notifications_per_s",
      run > 0 ? (double)st->notifications / run : 0.0, "executes", (json_int_t)st->executes,
      "execute_max_per_device", (int)st->execute_max, "reboots", (json_int_t)st->reboots, "lost_up",
      (json_int_t)st->lost_up, "lost_down", (json_int_t)st->lost_down);
}

nb_err nb_sim_report_json(const char *path, const nb_sim_fleet *f, const nb_sim_report_info *in) {
  const nb_sim_stats *st = nb_sim_fleet_stats(f);
  const nb_sim_wire *w = nb_sim_fleet_wire(f);
  double run = nb_sim_secs(in->started, in->now), span = nb_sim_reg_span(st);
  json_t *root = json_pack("{s:s,s:s,s:s,s:f,s:f,s:I}", "scenario", in->scenario, "target",
                           in->target, "security", in->security, "duration_s", run, "loss",
                           in->loss, "seed", (json_int_t)in->seed);
  if (!root) return NB_ERR_NOMEM;
  json_object_set_new(root, "devices", nb_sim_json_devices(st));
  json_object_set_new(root, "activity", nb_sim_json_activity(st, run));
  json_object_set_new(root, "registration",
                      json_pack("{s:f,s:f,s:o}", "all_registered_s", span, "per_s",
                                span > 0 ? st->ever_registered / span : 0.0, "time_to_register",
                                nb_sim_json_hist(&st->time_to_register)));
  json_object_set_new(
      root, "memory",
      json_pack("{s:I,s:I,s:I,s:f,s:I,s:f}", "rss_bytes", (json_int_t)in->rss, "peak_bytes",
                (json_int_t)in->hwm, "base_bytes", (json_int_t)in->rss_base, "bytes_per_device",
                nb_sim_per_device(in, st), "rss_all_registered_bytes",
                (json_int_t)in->rss_registered, "bytes_per_device_registered",
                in->rss_registered > in->rss_base
                    ? (double)(in->rss_registered - in->rss_base) / st->devices
                    : 0.0));
  if (in->have_net)
    json_object_set_new(
        root, "sockets",
        json_pack("{s:s,s:i,s:I,s:I,s:I}", "mode",
                  in->net.mode == NB_SIM_SOCK_SHARED ? "shared" : "per-device", "sockets",
                  (int)in->net.sockets, "tx", (json_int_t)in->net.tx, "rx", (json_int_t)in->net.rx,
                  "refused", (json_int_t)in->net.tx_dropped));
  if (in->have_api)
    json_object_set_new(
        root, "api",
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "requests", (json_int_t)in->api.sent, "failed",
                  (json_int_t)in->api.failed, "last_failed_status", (json_int_t)in->api.last_status,
                  "provisioned", (json_int_t)in->api.provisioned, "approved",
                  (json_int_t)in->api.approved, "observed", (json_int_t)in->api.observed));
  size_t nerr;
  const nb_sim_err_count *errs = nb_sim_fleet_errors(f, &nerr);
  json_t *ej = json_object();
  for (size_t i = 0; i < nerr; i++)
    json_object_set_new(ej, errs[i].kind, json_integer((json_int_t)errs[i].count));
  json_object_set_new(root, "errors", ej);
  json_object_set_new(root, "latency_ms", nb_sim_json_latency(w));
  json_object_set_new(root, "wire", nb_sim_json_wire(w));
  if (in->thesis)
    json_object_set_new(root, "thesis", nb_sim_thesis_json(w, in->thesis_dtls, in->thesis_k));
  int rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_SORT_KEYS);
  json_decref(root);
  return rc == 0 ? NB_OK : NB_ERR_IO;
}

/* ---- progress ---- */

void nb_sim_progress_init(nb_sim_progress *p, nb_time_ms now) {
  memset(p, 0, sizeof *p);
  p->at = now;
}

void nb_sim_progress_line(nb_sim_progress *p, const nb_sim_fleet *f, nb_time_ms started,
                          nb_time_ms now, char *buf, size_t cap) {
  const nb_sim_stats *st = nb_sim_fleet_stats(f);
  const nb_sim_wire *w = nb_sim_fleet_wire(f);
  nb_sim_hist delta = w->all_latency;
  for (unsigned b = 0; b < NB_SIM_HIST_BUCKETS; b++) delta.bucket[b] -= p->latency.bucket[b];
  delta.count -= p->latency.count;
  double dt = nb_sim_secs(p->at, now);
  double rate = dt > 0 ? (double)(st->notifications - p->notifications) / dt : 0;
  snprintf(buf, cap,
           "t=%.0fs devices=%u started=%u bootstrapping=%u bootstrapped=%u registered=%u "
           "sleeping=%u retrying=%u failed=%u notify/s=%.0f latency_p50=%llums p99=%llums",
           nb_sim_secs(started, now), st->devices, st->started, st->bootstrapping, st->bootstrapped,
           st->registered, nb_sim_fleet_sleeping(f), st->retrying, st->failed, rate,
           (unsigned long long)nb_sim_hist_quantile(&delta, 0.5),
           (unsigned long long)nb_sim_hist_quantile(&delta, 0.99));
  p->at = now;
  p->notifications = st->notifications;
  p->latency = w->all_latency;
}
