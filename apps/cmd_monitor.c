/* `niobium monitor`: the passive LwM2M security monitor. Reads a pcap/pcapng file or listens
 * on an interface (never sends anything), decodes CoAP/LwM2M and DTLS metadata, tracks
 * devices and writes events and alerts as JSON lines. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_opts.h"
#include "base/buf.h"
#include "bootstrap/config_store.h"
#include "commands.h"
#include "lwm2m/ddf/ddf.h"
#include "lwm2m/model.h"
#include "monitor/alertpost.h"
#include "monitor/capture.h"
#include "monitor/evjson.h"
#include "monitor/ipfix.h"
#include "monitor/monitor.h"
#include "store/sqlite.h"

static void nb_monitor_usage(FILE *out) {
  fprintf(
      out,
      "Usage: niobium monitor (--read FILE | --interface IF) [options]\n"
      "Passive LwM2M security monitor: decodes CoAP/LwM2M and DTLS metadata from captured\n"
      "traffic, tracks devices, raises alerts and writes one JSON object per line. It never\n"
      "sends a packet.\n\n"
      "Input:\n"
      "  -r, --read FILE        read a pcap or pcapng capture ('-': standard input); pcapng\n"
      "                         interfaces may have different link types\n"
      "  -i, --interface IF     capture live on IF (needs capture rights: root or\n"
      "                         CAP_NET_RAW); stop with Ctrl-C\n"
      "  -f, --filter BPF       capture filter (default: UDP ports 5683, 5684, 5783, 5784\n"
      "                         and IP fragments)\n"
      "      --coap-ports LIST  plain CoAP ports, comma-separated (default 5683,5783)\n"
      "      --dtls-ports LIST  DTLS ports (default 5684,5784)\n"
      "      --count N          stop a live capture after N packets\n"
      "      --psk-file FILE    decrypt plain-PSK DTLS 1.2 sessions (AES-128-CCM-8,\n"
      "                         AES-128-CBC-SHA256) with `identity,hexkey` lines, or with\n"
      "                         the PSKs of a `niobium server` database (--db FILE, read\n"
      "                         only, bootstrap-made keys included; read at start)\n"
      "      --keylog FILE      decrypt any DTLS 1.2 session (PSK, RPK, X.509; the same\n"
      "                         suites with ECDHE-ECDSA) whose master secret FILE gives:\n"
      "                         the NSS key log `CLIENT_RANDOM <random> <master>` lines\n"
      "                         GnuTLS writes to $SSLKEYLOGFILE; resumed sessions follow\n"
      "Output:\n"
      "  -e, --events FILE|-    write events and alerts as JSON lines (default: -, stdout);\n"
      "                         written in whole lines, flushed after every read of the\n"
      "                         capture (live: at least every 200 ms)\n"
      "      --alerts-only      write only alerts, device state changes and summaries\n"
      "      --summary SECONDS  a summary line every SECONDS of capture time (default 60,\n"
      "                         0 for none; one is always written at the end)\n"
      "      --ipfix-file FILE  export CoAP/LwM2M flows as IPFIX to FILE (at every summary\n"
      "                         and at the end)\n"
      "      --ipfix TARGET     the same to a collector: HOST:PORT or udp://HOST:PORT,\n"
      "                         tcp://HOST:PORT\n"
      "      --server-api URL   also post every alert (not the info notes) to a management\n"
      "                         server's URL/api/alerts (asynchronously; undeliverable\n"
      "                         alerts are counted in the summary lines and make the exit\n"
      "                         status 1)\n"
      "      --api-token TOKEN  its API token (Authorization: Bearer)\n"
      "      --api-token-file FILE  the same, read from FILE (owner-only, one line)\n"
      "      --api-ca FILE      trust anchors (PEM) of an https:// --server-api\n"
      "Rules:\n"
      "  -R, --rules FILE       rules file: 'rule.param = value' lines (docs/monitor.md)\n"
      "      --known FILE       known endpoint names, one per line (enables the\n"
      "                         unknown-bootstrap rule)\n"
      "      --list-rules       print the rules with their severity and exit\n"
      "      --learn FILE       learn a baseline of normal traffic (packets and octets per\n"
      "                         window per endpoint, CoAP code, type and path), write it\n"
      "                         to FILE at the end\n"
      "      --window SECONDS   baseline window when learning (default 60)\n"
      "      --baseline FILE    detect: flows beyond a learned baseline raise alerts\n"
      "  -d, --ddf PATH         more object definitions (DDF XML file or directory)\n"
      "  -h, --help             show this help\n\n"
      "Examples:\n"
      "  niobium monitor --read capture.pcapng --events events.jsonl\n"
      "  niobium monitor --read capture.pcap --alerts-only --rules monitor.rules\n"
      "  sudo niobium monitor --interface eth0 --events - | jq 'select(.event==\"alert\")'\n"
      "  niobium monitor -i lo -f 'udp port 15683' --coap-ports 15683 --count 100\n"
      "  niobium monitor --read normal-week.pcap --learn profile.json --alerts-only\n"
      "  niobium monitor --read today.pcap --baseline profile.json --alerts-only\n"
      "  niobium monitor --read coaps.pcap --psk-file keys.csv\n"
      "  niobium monitor --read coaps.pcap --psk-file /var/lib/niobium.db\n"
      "  SSLKEYLOGFILE=keys.log niobium client ...; niobium monitor -r c.pcap --keylog keys.log\n"
      "  niobium monitor -i eth0 --alerts-only --ipfix tcp://collector:4739\n"
      "  niobium monitor -i eth0 --alerts-only --server-api http://10.0.0.2:8080 \\\n"
      "      --api-token \"$(cat token.txt)\"\n\n"
      "Exit status: 0 done; 1 the capture could not be opened, or could not be read whole\n"
      "(a file cut short or damaged, a read error: the events and the final summary cover\n"
      "every frame before that point, and the summary's capture_error says what stopped\n"
      "it), writing the output failed, or alerts could not be delivered; 2 usage error.\n");
}

/* Output is written in whole lines: lines gather in `pending`, which goes out (and is flushed)
 * when it is large and after every read of the capture, so a reader of the events file (jq,
 * tail -f) never sees a cut line and never waits longer than one read of the capture. */
#define NB_MONITOR_PENDING_MAX ((size_t)256 * 1024)

typedef struct {
  FILE *out;
  const nb_model *model;
  nb_bytes line;
  nb_bytes pending;
  bool failed;
  nb_mon_ipfix *ipfix;   /* flows counted from messages, exported at each summary */
  bool alerts_only;      /* with ipfix the engine still emits messages: filtered here */
  nb_mon_poster *poster; /* --server-api */
} nb_monitor_out;

/* The delivery counters, appended to a summary line (which ends with '}'). */
static nb_err nb_monitor_poster_summary(nb_monitor_out *o) {
  nb_mon_poster_stats st;
  nb_mon_poster_stats_get(o->poster, &st);
  char extra[256];
  int n = snprintf(extra, sizeof extra,
                   ",\"server_api\":{\"alerts\":%llu,\"delivered\":%llu,\"pending\":%llu,"
                   "\"rejected\":%llu,\"dropped\":%llu,\"errors\":%llu}}",
                   (unsigned long long)st.alerts, (unsigned long long)st.delivered,
                   (unsigned long long)st.pending, (unsigned long long)st.rejected,
                   (unsigned long long)st.dropped, (unsigned long long)st.errors);
  if (!o->line.len || o->line.data[o->line.len - 1] != '}') return NB_ERR_STATE;
  o->line.len--;
  return nb_bytes_append(&o->line, extra, (size_t)n);
}

static void nb_monitor_write_pending(nb_monitor_out *o) {
  if (o->pending.len &&
      (fwrite(o->pending.data, 1, o->pending.len, o->out) != o->pending.len || fflush(o->out)))
    o->failed = true;
  nb_bytes_clear(&o->pending);
}

/* Between reads of the capture: the queued alerts move on, the lines go out. */
static void nb_monitor_pump(void *user) {
  nb_monitor_out *o = user;
  if (o->poster) nb_mon_poster_pump(o->poster);
  nb_monitor_write_pending(o);
}

/* Before the final summary: give queued alerts a few seconds to reach the server. */
static void nb_monitor_drain(void *user) {
  nb_monitor_out *o = user;
  if (o->poster) nb_mon_poster_flush(o->poster, 5000);
}

/* Feeds the IPFIX flows; false when the event is not to be written as JSON. */
static bool nb_monitor_ipfix_event(nb_monitor_out *o, const nb_mon_event *ev) {
  char why[256];
  if ((ev->kind == NB_MON_EV_MESSAGE && nb_mon_ipfix_add(o->ipfix, ev)) ||
      (ev->kind == NB_MON_EV_SUMMARY && nb_mon_ipfix_flush(o->ipfix, why, sizeof why))) {
    if (!o->failed) fprintf(stderr, "monitor: IPFIX export failed\n");
    o->failed = true;
  }
  return !(o->alerts_only && (ev->kind == NB_MON_EV_MESSAGE || ev->kind == NB_MON_EV_DTLS ||
                              ev->kind == NB_MON_EV_FRAGMENT));
}

static void nb_monitor_on_event(const nb_mon_event *ev, void *user) {
  nb_monitor_out *o = user;
  if (o->ipfix && !nb_monitor_ipfix_event(o, ev)) return;
  nb_bytes_clear(&o->line);
  if (nb_mon_event_to_json(ev, o->model, &o->line)) {
    o->failed = true;
    return;
  }
  /* Informational notes (observation-before-capture) stay in the events: the server's alert
   * list takes low, medium, high and critical ones. */
  if (o->poster && ev->kind == NB_MON_EV_ALERT && strcmp(nb_rule_severity(ev->rule), "info") != 0)
    nb_mon_poster_add(o->poster, (const char *)o->line.data, o->line.len);
  if ((o->poster && ev->kind == NB_MON_EV_SUMMARY && nb_monitor_poster_summary(o)) ||
      nb_bytes_append(&o->line, "\n", 1) || nb_bytes_append(&o->pending, o->line.data, o->line.len))
    o->failed = true;
  if (o->pending.len >= NB_MONITOR_PENDING_MAX) nb_monitor_write_pending(o);
}

static volatile int nb_monitor_stop;
static void nb_monitor_on_signal(int sig) {
  (void)sig;
  nb_monitor_stop = 1;
}

static bool nb_monitor_ports(const char *text, uint16_t *ports, size_t cap) {
  size_t n = 0;
  memset(ports, 0, cap * sizeof *ports);
  while (*text) {
    char *end;
    unsigned long p = strtoul(text, &end, 10);
    if (end == text || p == 0 || p > 65535 || n >= cap || (*end && *end != ',')) return false;
    ports[n++] = (uint16_t)p;
    text = *end ? end + 1 : end;
  }
  return n > 0;
}

static bool nb_monitor_known(nb_mon_rules *rules, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return false;
  char line[256];
  bool ok = true;
  while (ok && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n#")] = 0;
    char *s = line;
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
    if (*s && nb_mon_rules_add_known(rules, s)) ok = false;
  }
  fclose(f);
  rules->enabled[NB_RULE_UNKNOWN_BOOTSTRAP] = true;
  return ok;
}

static void nb_monitor_list_rules(void) {
  for (int i = 0; i < NB_RULE_COUNT; i++)
    printf("%-24s %-7s %s\n", nb_rule_name(i), nb_rule_severity(i), nb_rule_summary(i));
}

typedef struct {
  const char *read, *iface, *filter, *events, *rules, *known, *ddf, *learn, *baseline, *psk_file,
      *ipfix, *ipfix_file, *keylog, *server_api, *api_token, *api_ca;
  unsigned long count, summary, window;
  bool alerts_only, list;
  nb_mon_config cfg;
} nb_monitor_args;

static int nb_monitor_parse(int argc, char **argv, nb_monitor_args *a) {
  static const struct option opts[] = {{"read", required_argument, NULL, 'r'},
                                       {"interface", required_argument, NULL, 'i'},
                                       {"filter", required_argument, NULL, 'f'},
                                       {"events", required_argument, NULL, 'e'},
                                       {"rules", required_argument, NULL, 'R'},
                                       {"known", required_argument, NULL, 'k'},
                                       {"ddf", required_argument, NULL, 'd'},
                                       {"coap-ports", required_argument, NULL, 'c'},
                                       {"dtls-ports", required_argument, NULL, 's'},
                                       {"count", required_argument, NULL, 'n'},
                                       {"summary", required_argument, NULL, 'S'},
                                       {"alerts-only", no_argument, NULL, 'a'},
                                       {"list-rules", no_argument, NULL, 'l'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"learn", required_argument, NULL, 'L'},
                                       {"baseline", required_argument, NULL, 'B'},
                                       {"window", required_argument, NULL, 'W'},
                                       {"psk-file", required_argument, NULL, 'P'},
                                       {"ipfix", required_argument, NULL, 'X'},
                                       {"ipfix-file", required_argument, NULL, 'F'},
                                       {"keylog", required_argument, NULL, 'K'},
                                       {"server-api", required_argument, NULL, 'A'},
                                       {"api-token", required_argument, NULL, 'T'},
                                       {"api-token-file", required_argument, NULL, 'U'},
                                       {"api-ca", required_argument, NULL, 'Y'},
                                       {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  a->summary = 60;
  while ((c = getopt_long(argc, argv, "r:i:f:e:R:d:h", opts, NULL)) != -1) {
    char *end = NULL;
    switch (c) {
      case 'r':
        a->read = optarg;
        break;
      case 'i':
        a->iface = optarg;
        break;
      case 'f':
        a->filter = optarg;
        break;
      case 'e':
        a->events = optarg;
        break;
      case 'R':
        a->rules = optarg;
        break;
      case 'k':
        a->known = optarg;
        break;
      case 'd':
        a->ddf = optarg;
        break;
      case 'a':
        a->alerts_only = true;
        break;
      case 'l':
        a->list = true;
        break;
      case 'L':
        a->learn = optarg;
        break;
      case 'B':
        a->baseline = optarg;
        break;
      case 'P':
        a->psk_file = optarg;
        break;
      case 'X':
        a->ipfix = optarg;
        break;
      case 'F':
        a->ipfix_file = optarg;
        break;
      case 'K':
        a->keylog = optarg;
        break;
      case 'A':
        a->server_api = optarg;
        break;
      case 'T':
        a->api_token = optarg;
        break;
      case 'U': {
        /* kept for the life of the process, as an --api-token argument would be */
        static char token[NB_API_TOKEN_MAX + 1];
        char why[300];
        char *t = nb_secret_file_read(optarg, why, sizeof why);
        if (!t) return fprintf(stderr, "monitor: %s\n", why), 1;
        snprintf(token, sizeof token, "%s", t);
        memset(t, 0, strlen(t));
        free(t);
        a->api_token = token;
        break;
      }
      case 'Y':
        a->api_ca = optarg;
        break;
      case 'c':
        if (!nb_monitor_ports(optarg, a->cfg.coap_ports, 8))
          return fprintf(stderr, "monitor: --coap-ports takes up to 8 ports, e.g. 5683,15683\n"), 2;
        break;
      case 's':
        if (!nb_monitor_ports(optarg, a->cfg.dtls_ports, 8))
          return fprintf(stderr, "monitor: --dtls-ports takes up to 8 ports, e.g. 5684,15684\n"), 2;
        break;
      case 'n':
      case 'S':
      case 'W': {
        unsigned long v = strtoul(optarg, &end, 10);
        const char *name = c == 'n' ? "count" : c == 'S' ? "summary" : "window";
        if (!*optarg || *end || *optarg == '-' || (c == 'W' && (v == 0 || v > 86400)))
          return fprintf(stderr, "monitor: --%s takes a number%s\n", name,
                         c == 'W' ? " of seconds (1-86400)" : ""),
                 2;
        if (c == 'n')
          a->count = v;
        else if (c == 'S')
          a->summary = v;
        else
          a->window = v;
        break;
      }
      case 'h':
        nb_monitor_usage(stdout);
        return 0;
      default:
        nb_monitor_usage(stderr);
        return 2;
    }
  }
  if (optind < argc) return fprintf(stderr, "monitor: unexpected argument '%s'\n", argv[optind]), 2;
  if (a->list) return -1;
  if (!a->read == !a->iface) {
    fprintf(stderr, "monitor: give exactly one of --read FILE or --interface IF (see --help)\n");
    return 2;
  }
  if (a->api_token && !a->server_api) {
    fprintf(stderr, "monitor: --api-token goes with --server-api URL\n");
    return 2;
  }
  if (a->ipfix && a->ipfix_file) {
    fprintf(stderr, "monitor: give one of --ipfix TARGET or --ipfix-file FILE\n");
    return 2;
  }
  return -1;
}

static int nb_monitor_setup_rules(const nb_monitor_args *a, nb_mon_rules *rules) {
  if (a->rules) {
    size_t line = 0;
    const char *why = "";
    nb_err e = nb_mon_rules_load(rules, a->rules, &line, &why);
    if (e) {
      fprintf(stderr, "monitor: rules file %s, line %zu: %s\n", a->rules, line, why);
      return e == NB_ERR_IO ? 1 : 2;
    }
  }
  if (a->known && !nb_monitor_known(rules, a->known)) {
    fprintf(stderr, "monitor: cannot read the known-endpoints file %s\n", a->known);
    return 1;
  }
  return 0;
}

static int nb_monitor_baselines(const nb_monitor_args *a, nb_mon_baseline **learn,
                                nb_mon_baseline **reference) {
  if (a->learn && !(*learn = nb_mon_baseline_new((uint32_t)(a->window ? a->window : 60)))) {
    fprintf(stderr, "monitor: out of memory\n");
    return 1;
  }
  if (!a->baseline) return 0;
  nb_err e = nb_mon_baseline_load(a->baseline, reference);
  if (!e) return 0;
  fprintf(stderr, "monitor: baseline %s: %s\n", a->baseline,
          e == NB_ERR_IO ? "cannot be read" : "is not a baseline written by --learn");
  nb_mon_baseline_free(*learn);
  *learn = NULL;
  return 1;
}

static int nb_monitor_open_poster(const nb_monitor_args *a, nb_monitor_out *out) {
  char why[256];
  nb_mon_poster_config pc = {a->server_api, a->api_token, 0, 0, 0, a->api_ca};
  if (nb_mon_poster_new(&pc, &out->poster, why, sizeof why) == NB_OK) return 0;
  fprintf(stderr, "monitor: %s\n", why);
  return 1;
}

/* Last delivery attempt for alerts raised at the very end; undelivered alerts are a failure. */
static int nb_monitor_close_poster(const nb_monitor_args *a, nb_monitor_out *out) {
  nb_mon_poster_flush(out->poster, 3000);
  nb_mon_poster_stats st;
  nb_mon_poster_stats_get(out->poster, &st);
  uint64_t lost = st.rejected + st.dropped + st.pending;
  if (lost)
    fprintf(stderr,
            "monitor: %llu of %llu alerts could not be delivered to %s (%llu refused, %llu "
            "dropped from a full queue, %llu undelivered); last error: %s\n",
            (unsigned long long)lost, (unsigned long long)st.alerts, a->server_api,
            (unsigned long long)st.rejected, (unsigned long long)st.dropped,
            (unsigned long long)st.pending, nb_mon_poster_last_error(out->poster));
  nb_mon_poster_free(out->poster);
  out->poster = NULL;
  return lost ? 1 : 0;
}

static int nb_monitor_run(nb_monitor_args *a, nb_mon_rules *rules, nb_model *model) {
  nb_monitor_out out = {stdout, model, {0}, {0}, false, NULL, false, NULL};
  nb_bytes_init(&out.line);
  nb_bytes_init(&out.pending);
  if (a->events && strcmp(a->events, "-") != 0) {
    out.out = fopen(a->events, "w");
    if (!out.out) {
      fprintf(stderr, "monitor: cannot write events to %s\n", a->events);
      return 1;
    }
  }
  if (a->server_api && nb_monitor_open_poster(a, &out)) {
    if (out.out != stdout) fclose(out.out);
    return 1;
  }
  a->cfg.rules = rules;
  a->cfg.model = model;
  a->cfg.summary_interval_s = (uint32_t)a->summary;
  out.alerts_only = a->alerts_only;
  a->cfg.no_messages = a->alerts_only && !a->ipfix && !a->ipfix_file;
  if (a->ipfix || a->ipfix_file) {
    char why[256];
    out.ipfix = nb_mon_ipfix_open(a->ipfix_file ? a->ipfix_file : a->ipfix, a->ipfix_file != NULL,
                                  why, sizeof why);
    if (!out.ipfix) {
      fprintf(stderr, "monitor: %s\n", why);
      if (out.out != stdout) fclose(out.out);
      nb_bytes_free(&out.line);
      nb_mon_poster_free(out.poster);
      return 1;
    }
  }
  nb_mon_baseline *learn = NULL, *reference = NULL;
  if (nb_monitor_baselines(a, &learn, &reference)) {
    if (out.out != stdout) fclose(out.out);
    nb_bytes_free(&out.line);
    nb_mon_poster_free(out.poster);
    return 1;
  }
  a->cfg.learn = learn;
  a->cfg.reference = reference;
  nb_mon_capture_hooks hooks = {nb_monitor_pump, nb_monitor_drain, &out};
  nb_monitor *m = nb_monitor_new(&a->cfg, nb_monitor_on_event, &out);
  int rc = 1;
  char why[512] = "";
  if (m) {
    nb_err e;
    const char *filter = a->filter ? a->filter : a->iface ? NB_MON_DEFAULT_FILTER : NULL;
    if (a->read) {
      e = nb_mon_read_file_hooked(m, a->read, filter, &hooks, why, sizeof why);
    } else {
      signal(SIGINT, nb_monitor_on_signal);
      signal(SIGTERM, nb_monitor_on_signal);
      e = nb_mon_capture_live_hooked(m, a->iface, filter, &nb_monitor_stop, a->count, &hooks, why,
                                     sizeof why);
    }
    if (e) fprintf(stderr, "monitor: %s: %s\n", a->read ? a->read : a->iface, why);
    rc = e ? 1 : 0;
    nb_monitor_free(m);
    if (!e && learn) {
      nb_mon_baseline_flush(learn);
      if (nb_mon_baseline_save(learn, a->learn)) {
        fprintf(stderr, "monitor: cannot write the baseline to %s\n", a->learn);
        rc = 1;
      } else {
        fprintf(stderr, "monitor: baseline of %zu flows (%lu s windows) written to %s\n",
                nb_mon_baseline_flows(learn), a->window ? a->window : 60, a->learn);
      }
    }
  } else {
    fprintf(stderr, "monitor: out of memory\n");
  }
  if (out.poster && nb_monitor_close_poster(a, &out)) rc = 1;
  char why_ipfix[256];
  if (out.ipfix && nb_mon_ipfix_close(out.ipfix, why_ipfix, sizeof why_ipfix)) {
    fprintf(stderr, "monitor: %s\n", why_ipfix);
    rc = 1;
  }
  nb_monitor_write_pending(&out);
  if (fflush(out.out) != 0 || out.failed) {
    fprintf(stderr, "monitor: writing events failed\n");
    rc = 1;
  }
  if (out.out != stdout) fclose(out.out);
  nb_bytes_free(&out.line);
  nb_bytes_free(&out.pending);
  nb_mon_baseline_free(learn);
  nb_mon_baseline_free(reference);
  return rc;
}

typedef struct {
  nb_mon_psks *psks;
  size_t added;
  bool quiet;
} nb_monitor_db_walk;

static nb_err nb_monitor_db_psk(void *user, const nb_server_sec_info *c) {
  nb_monitor_db_walk *w = user;
  if (c->kind != NB_SERVER_ID_PSK) return NB_OK; /* RPK/X.509 rows hold no secret */
  nb_err e = nb_mon_psks_add(w->psks, (const uint8_t *)c->identity, strlen(c->identity), c->key,
                             c->key_len);
  if (e == NB_ERR_RANGE) {
    if (!w->quiet)
      fprintf(stderr, "monitor: skipped the PSK of endpoint %s (identity or key out of range)\n",
              c->ep);
    return NB_OK;
  }
  w->added += e == NB_OK;
  return e;
}

/* The PSK credentials of a niobium database, added to w->psks: the server's security store
 * (where the bootstrap server puts the PSKs it hands out for the servers) and the bootstrap
 * store's own credentials (fresh bootstrap-account PSKs), both opened read-only; a file may
 * hold either or both. 0, or 2 when it holds neither, 1 when reading failed. */
static int nb_monitor_db_walk_all(const char *path, nb_monitor_db_walk *w) {
  nb_store_sqlite *db = NULL;
  nb_bs_store *bs = NULL;
  bool have_db = nb_store_sqlite_open_readonly(path, &db) == NB_OK;
  bool have_bs = nb_bs_store_open_readonly(path, &bs) == NB_OK;
  if (!have_db && !have_bs) {
    if (!w->quiet)
      fprintf(stderr, "monitor: %s is an SQLite file but not a readable niobium database\n", path);
    return 2;
  }
  nb_err e = NB_OK;
  if (have_db) {
    nb_server_store st = nb_store_sqlite_iface(db);
    e = st.ops->sec_each(st.self, nb_monitor_db_psk, w);
    nb_store_sqlite_close(db);
  }
  if (have_bs) {
    if (e == NB_OK) e = nb_bs_store_cred_each(bs, nb_monitor_db_psk, w);
    /* a fresh bootstrap-account key not yet acknowledged is accepted too */
    if (e == NB_OK) e = nb_bs_store_cred_pending_each(bs, nb_monitor_db_psk, w);
    nb_bs_store_close(bs);
  }
  if (e != NB_OK) {
    if (!w->quiet)
      fprintf(stderr, "monitor: reading the credentials of %s: %s\n", path, nb_strerror(e));
    return 1;
  }
  return 0;
}

static int nb_monitor_db_keys(const char *path, nb_mon_psks *out) {
  nb_monitor_db_walk w = {.psks = out, .added = 0, .quiet = false};
  int rc = nb_monitor_db_walk_all(path, &w);
  if (!rc)
    fprintf(stderr, "monitor: %zu PSK credential(s) from the server database %s\n", w.added, path);
  return rc;
}

/* Live capture with a database: an unknown PSK identity makes the engine ask for the
 * database again (at most once a second): the server may have made the key since. */
typedef struct {
  const char *path;
  nb_mon_psks *psks;
} nb_monitor_db_refresh;

static bool nb_monitor_db_reread(void *user) {
  nb_monitor_db_refresh *r = user;
  nb_monitor_db_walk w = {.psks = nb_mon_psks_new(), .added = 0, .quiet = true};
  if (!w.psks) return false;
  bool ok = nb_monitor_db_walk_all(r->path, &w) == 0;
  if (ok) {
    if (w.added != nb_mon_psks_count(r->psks))
      fprintf(stderr, "monitor: %zu PSK credential(s) from the server database %s (read again)\n",
              w.added, r->path);
    nb_mon_psks_take_keys(r->psks, w.psks);
  }
  nb_mon_psks_free(w.psks);
  return ok;
}

static bool nb_monitor_is_sqlite(FILE *f) {
  static const char magic[16] = "SQLite format 3";
  char head[16];
  bool yes = fread(head, 1, sizeof head, f) == sizeof head && !memcmp(head, magic, sizeof head);
  rewind(f);
  return yes;
}

static bool nb_monitor_path_is_sqlite(const char *path) {
  FILE *f = fopen(path, "rb");
  bool yes = f && nb_monitor_is_sqlite(f);
  if (f) fclose(f);
  return yes;
}

/* Reads the --psk-file (`identity,hexkey` lines, or a server database) or the --keylog into
 * *out (created when NULL); the keys are wiped when the table is freed. */
static int nb_monitor_keys(const char *path, bool keylog, nb_mon_psks **out) {
  const char *what = keylog ? "key log" : "PSK file";
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "monitor: cannot read the %s %s\n", what, path);
    return 1;
  }
  if (!keylog && nb_monitor_is_sqlite(f)) {
    fclose(f);
    if (!*out) *out = nb_mon_psks_new();
    if (!*out) return 1;
    return nb_monitor_db_keys(path, *out);
  }
  nb_bytes text;
  nb_bytes_init(&text);
  char chunk[4096];
  size_t n;
  nb_err e = NB_OK;
  while (!e && (n = fread(chunk, 1, sizeof chunk, f)) > 0) e = nb_bytes_append(&text, chunk, n);
  bool io = ferror(f);
  fclose(f);
  size_t line = 0;
  if (!*out) *out = nb_mon_psks_new();
  if (!*out || e || io) {
    fprintf(stderr, "monitor: cannot read the %s %s\n", what, path);
  } else if (keylog && (e = nb_mon_keylog_parse(*out, (const char *)text.data, text.len, &line))) {
    fprintf(stderr, "monitor: key log %s line %zu: %s (want `CLIENT_RANDOM <64 hex> <96 hex>`)\n",
            path, line, nb_strerror(e));
  } else if (!keylog &&
             (e = nb_mon_psks_parse(*out, (const char *)text.data, text.len, &line)) != NB_OK) {
    fprintf(stderr, "monitor: PSK file %s line %zu: %s (want `identity,hexkey`, key 1-64 bytes)\n",
            path, line, nb_strerror(e));
  }
  memset(chunk, 0, sizeof chunk);
  if (text.data) memset(text.data, 0, text.len);
  nb_bytes_free(&text);
  if (*out && !e && !io) return 0;
  nb_mon_psks_free(*out);
  *out = NULL;
  return 2;
}

int nb_cmd_monitor(int argc, char **argv) {
  nb_monitor_args a;
  memset(&a, 0, sizeof a);
  int rc = nb_monitor_parse(argc, argv, &a);
  if (rc >= 0) return rc;
  if (a.list) {
    nb_monitor_list_rules();
    return 0;
  }
  nb_mon_rules rules;
  nb_mon_rules_init(&rules);
  nb_model *model = nb_model_new();
  rc = model ? nb_monitor_setup_rules(&a, &rules) : 1;
  if (!rc && a.ddf) {
    char err[512] = "";
    if (nb_model_load_ddf(model, a.ddf, err, sizeof err) != NB_OK) {
      fprintf(stderr, "monitor: DDF %s: %s\n", a.ddf, err);
      rc = 1;
    }
  }
  nb_mon_psks *psks = NULL;
  if (!rc && a.psk_file) rc = nb_monitor_keys(a.psk_file, false, &psks);
  if (!rc && a.keylog) rc = nb_monitor_keys(a.keylog, true, &psks);
  a.cfg.psks = psks;
  nb_monitor_db_refresh refresh = {a.psk_file, psks};
  if (!rc && a.iface && a.psk_file && nb_monitor_path_is_sqlite(a.psk_file)) {
    a.cfg.psks_refresh = nb_monitor_db_reread;
    a.cfg.psks_refresh_user = &refresh;
  }
  if (!rc) rc = nb_monitor_run(&a, &rules, model);
  nb_mon_psks_free(psks);
  nb_model_free(model);
  nb_mon_rules_deinit(&rules);
  return rc;
}
