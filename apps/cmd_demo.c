/* `niobium demo`: bootstrap server, LwM2M server and REST API in one process on loopback
 * (apps/local_servers.c), with a fleet of simulated devices (src/sim: the real client engine,
 * a smart meter by default) on the same libuv loop. Each device leaves the "factory" with a
 * P-256 key whose secure ID is registered out of band; it bootstraps over DTLS (RPK, signed),
 * gets a fresh PSK and registers with it; the server observes its power. The last device
 * waits for the operator's approval. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "commands.h"
#include "local_servers.h"
#include "lwm2m/ddf/ddf.h"
#include "sim/profile.h"
#include "sim/rest.h"
#include "sim/runner.h"
#include "sim/scenario.h"

#define CLI "niobium demo"
#define DEMO_MAX_DEVICES 100000UL
#define DEMO_CHATTY 32     /* up to this many devices, every event gets a line */
#define DEMO_LIFETIME 120  /* seconds: short, so Updates show up in the event stream */
#define QUIT_GRACE_MS 3000 /* de-registration time at exit */
#define POLL_PERIOD_MS 500 /* operator decisions taken from the database */

static void usage(FILE *f) {
  fprintf(f,
          "Usage: niobium demo [OPTIONS]\n"
          "Bootstrap server, LwM2M server, REST API and web console (its URL is the first\n"
          "line printed) in one process on 127.0.0.1, with a fleet of simulated devices (smart\n"
          "meters by default: niobium sim) on the same loop. Zero configuration: every port\n"
          "falls back to a free one when the default (5683/5684 server, 5783/5784 bootstrap,\n"
          "8080 HTTP) is busy. Devices carry factory P-256 keys whose secure IDs are registered\n"
          "with the bootstrap server; they bootstrap over DTLS (raw public keys), receive a\n"
          "fresh PSK and register with it; the server observes each meter's power. The last\n"
          "device waits for your approval.\n\n"
          "  --http ADDR        REST API address (default 127.0.0.1:8080, else a free port)\n"
          "  --db FILE          SQLite database (default: a temporary file removed at exit)\n"
          "  --devices N        simulated devices, 1..%lu (default 4)\n"
          "  --scenario S       smart-meter (default), ipso (thermometers), idle\n"
          "  --ddf DIR          object definitions: with the OMA registry's 10243 the meters use\n"
          "                     it (e.g. ../shared/lwm2m-registry)\n"
          "  --duration S       exit after S seconds (default: run until Ctrl-C)\n"
          "  --nosec            devices bootstrap and register without DTLS (readable in\n"
          "                     Wireshark)\n"
          "  --log-level LEVEL  library log level on stderr: error, warn (default), info, debug\n"
          "  -h, --help         this text\n\n"
          "Ctrl-C (SIGINT/SIGTERM) de-registers the devices and exits. Exit codes: 0 ok,\n"
          "1 failure, 2 usage.\n\n"
          "Examples:\n"
          "  niobium demo\n"
          "  niobium demo --devices 1000 --http 127.0.0.1:9090\n"
          "  niobium demo --scenario ipso --db demo.db --duration 60 --log-level info\n",
          DEMO_MAX_DEVICES);
}

typedef struct {
  const char *http, *db, *ddf;
  unsigned long devices, duration;
  nb_sim_scenario_kind scenario;
  bool nosec, http_given;
} demo_opts;

typedef struct {
  const demo_opts *o;
  nb_io_loop *loop;
  nb_app_local *local;
  nb_model *model;
  nb_sim_profiles *profiles;
  nb_sim_scenario scenario;
  nb_sim_runner *runner;
  nb_sim_rest *rest;
  uint8_t *approve; /* a bit per device: the demo approves it before the loop next waits */
  uv_timer_t poll;
  bool poll_on, quitting;
} demo;

/* ---- output ---- */

static bool chatty(const demo *d) { return d->o->devices <= DEMO_CHATTY; }

static void say(const char *who, const char *ep, const char *what) {
  printf("%-10s %-12s %s\n", who, ep, what);
  fflush(stdout);
}

static bool demo_device(const demo *d, const char *ep, uint32_t *dev) {
  return d->runner && nb_sim_fleet_device_of(nb_sim_runner_fleet(d->runner), ep, dev);
}

static bool is_manual(const demo *d, uint32_t dev) {
  return d->o->devices > 1 && dev == d->o->devices - 1;
}

/* ---- engine events ---- */

/* The demo's own devices are approved at once, but the one left for the operator; requests
 * wait in the database where `niobium bootstrap pending|approve|reject --db` see them. */
static void on_pending(demo *d, const char *ep, const char *peer, char *line, size_t cap) {
  uint32_t dev;
  if (demo_device(d, ep, &dev) && !is_manual(d, dev)) {
    d->approve[dev / 8] |= (uint8_t)(1u << (dev % 8)); /* not from inside the callback */
    snprintf(line, cap, "BOOTSTRAP_PENDING (the demo approves it)");
    return;
  }
  nb_bs_store_pending_put(d->local->bst, ep, peer, (int64_t)time(NULL));
  snprintf(line, cap, "BOOTSTRAP_PENDING: approve it with: niobium bootstrap approve %s --db %s",
           ep, d->local->db);
}

static void on_bs_event(void *user, const nb_bs_event *ev) {
  demo *d = user;
  char line[4608], peer[NB_ADDR_STRLEN] = "";
  if (ev->peer) nb_addr_format(ev->peer, peer, sizeof peer);
  const char *name = nb_bs_event_name(ev->type);
  switch (ev->type) {
    case NB_BS_EV_PENDING:
      on_pending(d, ev->ep, peer, line, sizeof line);
      break;
    case NB_BS_EV_REJECTED:
      nb_bs_store_pending_del(d->local->bst, ev->ep);
      snprintf(line, sizeof line, "%s (answered %u.%02u)", name, ev->code >> 5, ev->code & 31);
      break;
    case NB_BS_EV_APPROVED:
      nb_bs_store_pending_del(d->local->bst, ev->ep);
      snprintf(line, sizeof line, "%s", name);
      break;
    case NB_BS_EV_FAILED:
      snprintf(line, sizeof line, "%s step=\"%s\" code=%u.%02u err=%s", name,
               ev->step ? ev->step : "", ev->code >> 5, ev->code & 31, nb_strerror(ev->err));
      break;
    case NB_BS_EV_ALERT:
      snprintf(line, sizeof line, "%s secure_id=%s", name, ev->secure_id ? ev->secure_id : "?");
      break;
    case NB_BS_EV_FINISHED: {
      uint32_t dev;
      bool ours = ev->ep && demo_device(d, ev->ep, &dev);
      snprintf(line, sizeof line, "%s (%s%s)", name, ev->cti ? "signed, receipt kept; " : "",
               ours && !d->o->nosec ? "fresh PSK written and installed" : "server account written");
      break;
    }
    default:
      snprintf(line, sizeof line, "%s from %s", name, peer);
      break;
  }
  bool pending_manual = ev->type == NB_BS_EV_PENDING && strstr(line, "approve it with");
  if (chatty(d) || pending_manual) say("bootstrap", ev->ep && ev->ep[0] ? ev->ep : "-", line);
}

static void on_srv_event(void *user, const nb_server_event *ev) {
  demo *d = user;
  char line[160];
  switch (ev->type) {
    case NB_SEV_REGISTRATION:
      snprintf(line, sizeof line, "REGISTERED security=%s lifetime=%us",
               nb_server_id_kind_name(ev->reg->identity.kind), ev->reg->lifetime);
      break;
    case NB_SEV_DEREGISTRATION:
      snprintf(line, sizeof line, "DEREGISTERED");
      break;
    case NB_SEV_EXPIRED:
      snprintf(line, sizeof line, "EXPIRED");
      break;
    default:
      return; /* updates and notifications: see GET /api/events */
  }
  uint32_t dev;
  if (chatty(d) || !demo_device(d, ev->reg->ep, &dev)) say("server", ev->reg->ep, line);
}

/* ---- the loop ---- */

/* Before the loop waits: the approvals the demo makes itself. */
static void before_wait(void *user, nb_time_ms now) {
  demo *d = user;
  if (!d->approve || !d->runner) return;
  nb_sim_fleet *f = nb_sim_runner_fleet(d->runner);
  for (uint32_t i = 0; i < d->o->devices; i++) {
    if (!(d->approve[i / 8] & (1u << (i % 8)))) continue;
    d->approve[i / 8] &= (uint8_t) ~(1u << (i % 8));
    char ep[64];
    nb_bs_engine_approve(d->local->bs, nb_sim_fleet_endpoint(f, i, ep, sizeof ep), now);
  }
}

static nb_err apply_decision(void *user, const char *ep, bool approve) {
  demo *d = user;
  nb_time_ms now = nb_io_loop_now(d->loop);
  return approve ? nb_bs_engine_approve(d->local->bs, ep, now)
                 : nb_bs_engine_reject(d->local->bs, ep, now);
}

/* `niobium bootstrap approve|reject EP --db FILE` (another process) decides via the database. */
static void on_poll(uv_timer_t *t) {
  demo *d = t->data;
  nb_bs_store_take_decisions(d->local->bst, apply_decision, d);
}

static void on_finished(void *user, nb_sim_runner *r) {
  (void)r;
  demo *d = user;
  nb_io_loop_stop(d->loop);
}

static void on_signal(void *user, int signum) {
  (void)signum;
  demo *d = user;
  if (d->quitting) {
    nb_io_loop_stop(d->loop); /* asked twice: stop at once */
    return;
  }
  d->quitting = true;
  say("demo", "-", "stopping: devices de-register");
  nb_sim_runner_stop(d->runner);
}

/* Each device's factory key (its secure ID) and a config naming this server, in the stores. */
static nb_err provision(void *user, nb_sim_fleet *f, const nb_sim_cred *cred) {
  demo *d = user;
  nb_err e = nb_app_local_provision(d->local, cred, d->o->nosec ? NB_SIM_NOSEC : NB_SIM_PSK,
                                    DEMO_LIFETIME);
  if (e == NB_OK) nb_sim_fleet_provisioned(f, cred->dev, NB_OK, nb_io_loop_now(d->loop));
  return e;
}

static void on_fleet_event(void *user, nb_sim_fleet *f, uint32_t dev, nb_sim_event ev, nb_err err,
                           const nb_path *path, nb_time_ms now) {
  demo *d = user;
  (void)f, (void)err, (void)path, (void)now;
  if (d->rest) nb_sim_rest_event(d->rest, dev, ev);
}

/* ---- set-up ---- */

static int64_t clock_offset(nb_io_loop *loop) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - nb_io_loop_now(loop);
}

static int setup_scenario(demo *d) {
  if (d->o->ddf) {
    char err[512] = "";
    d->model = nb_model_new();
    if (!d->model || nb_model_load_ddf(d->model, d->o->ddf, err, sizeof err) != NB_OK) {
      fprintf(stderr, CLI ": --ddf %s: %s\n", d->o->ddf, err[0] ? err : "cannot load");
      return -1;
    }
  }
  if (d->o->scenario == NB_SIM_SCEN_SMART_METER &&
      nb_sim_profiles_synthetic(200, 7, 1, &d->profiles) != NB_OK)
    return -1;
  nb_sim_scenario_config sc = {.kind = d->o->scenario,
                               .model = d->model,
                               .profiles = d->profiles,
                               .seed = 1,
                               .unix_offset_ms = clock_offset(d->loop),
                               .bindings = "U"};
  if (nb_sim_scenario_init(&d->scenario, &sc, nb_io_loop_now(d->loop)) != NB_OK) {
    fprintf(stderr, CLI ": the definitions lack an object of the scenario\n");
    return -1;
  }
  return 0;
}

/* The server observes every device's value (a share of them in a large fleet) through the
 * demo's own REST API, with the scenario's attributes: notifications follow the values. */
static int setup_operator(demo *d) {
  if (d->scenario.observed.len == 0) return 0;
  char api[64];
  nb_app_local_api_url(d->local, api, sizeof api);
  nb_sim_rest_config rc = {
      .api = api,
      .observe = d->scenario.observed,
      .observe_every = (uint32_t)(d->o->devices > 1000 ? d->o->devices / 1000 : 1),
      .observe_attrs = d->scenario.attrs};
  return nb_sim_rest_new(nb_io_loop_uv(d->loop), &rc, &d->rest) == NB_OK ? 0 : -1;
}

static int setup_fleet(demo *d) {
  char uri[64], why[512] = "";
  nb_app_local_uri(d->local, true, !d->o->nosec, uri, sizeof uri);
  nb_sim_runner_config rc = {.grace = QUIT_GRACE_MS,
                             .duration = (nb_time_ms)d->o->duration * 1000,
                             .progress = chatty(d) ? NULL : stdout,
                             .progress_every = 10000,
                             .finished = on_finished,
                             .user = d};
  nb_sim_config *fc = &rc.fleet;
  nb_sim_config_default(fc);
  fc->devices = (uint32_t)d->o->devices;
  fc->prefix = "demo-";
  fc->digits = 0;
  fc->model = d->model;
  fc->scenario = &d->scenario;
  fc->bootstrap_uri = uri;
  fc->security = d->o->nosec ? NB_SIM_NOSEC : NB_SIM_RPK;
  fc->server_key = d->local->bs_key.spki_der.data;
  fc->server_key_len = d->local->bs_key.spki_der.len;
  fc->signed_bootstrap = !d->o->nosec; /* over DTLS with its factory key: a signed bootstrap */
  fc->unix_offset_ms = clock_offset(d->loop);
  fc->provision = provision;
  fc->provision_user = d;
  fc->on_event = on_fleet_event;
  fc->event_user = d;
  rc.net.server = d->o->nosec ? d->local->bs_coap : d->local->bs_coaps;
  if (nb_sim_runner_new(d->loop, &rc, &d->runner, why, sizeof why) != NB_OK) {
    fprintf(stderr, CLI ": cannot start the simulated devices: %s\n", why);
    return -1;
  }
  if (d->rest) nb_sim_rest_attach(d->rest, nb_sim_runner_fleet(d->runner));
  return 0;
}

static void banner(demo *d) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  snprintf(self + (n > 0 ? n : 0), sizeof self - (size_t)(n > 0 ? n : 0), "%s",
           n > 0 ? "" : "niobium");
  nb_app_local *l = d->local;
  unsigned http = nb_http_api_port(l->api);
  size_t ndev = d->o->devices;
  const char *sec = d->o->nosec ? "NoSec (--nosec): no DTLS anywhere"
                                : "DTLS: bootstrap with factory raw public keys, fresh PSKs";
  printf("Console: http://127.0.0.1:%u/   (open it in a browser)\n", http);
  printf("Niobium demo: bootstrap server + LwM2M server + REST API, %zu simulated device%s\n", ndev,
         ndev == 1 ? "" : "s");
  printf("  REST API          http://127.0.0.1:%u/api/clients\n", http);
  if (d->o->nosec) { /* no DTLS line: nothing of the demo uses it */
    printf("  LwM2M server      coap://127.0.0.1:%u\n", l->srv_coap.port);
    printf("  Bootstrap server  coap://127.0.0.1:%u\n", l->bs_coap.port);
  } else {
    printf("  LwM2M server      coap://127.0.0.1:%u   coaps://127.0.0.1:%u (PSK)\n",
           l->srv_coap.port, l->srv_coaps.port);
    printf("  Bootstrap server  coap://127.0.0.1:%u   coaps://127.0.0.1:%u (RPK by secure ID)\n",
           l->bs_coap.port, l->bs_coaps.port);
  }
  printf("  Database          %s%s\n", l->db, l->temp_db ? " (removed at exit)" : "");
  printf("  Security          %s\n", sec);
  printf("  Devices           %s\n", d->scenario.what);
  if (ndev == 1)
    printf("Device demo-1 bootstraps, then registers%s.", d->o->nosec ? "" : " with its new PSK");
  else
    printf("Devices demo-1..demo-%zu bootstrap, then register%s.", ndev,
           d->o->nosec ? "" : " with their new PSK");
  if (ndev > 1)
    printf(" demo-%zu waits for your approval:\n  %s bootstrap approve demo-%zu --db %s\n", ndev,
           self, ndev, l->db);
  else
    printf("\n");
  char obs[32];
  nb_path_format(&d->scenario.observed, obs, sizeof obs);
  printf("Try:\n");
  printf("  curl -s http://127.0.0.1:%u/api/clients\n", http);
  if (d->scenario.observed.len)
    printf("  curl -s http://127.0.0.1:%u/api/clients/demo-1%s\n", http, obs);
  printf("  curl -s http://127.0.0.1:%u/api/clients/demo-1/3/0\n", http);
  printf("  curl -sN http://127.0.0.1:%u/api/events\n", http);
  if (!d->o->nosec)
    printf("  %s bootstrap evidence demo-1 --db %s   (signed bootstrap: docs/cose.md)\n", self,
           l->db);
  printf("  %s client --server coap://127.0.0.1:%u --endpoint my-device\n", self, l->srv_coap.port);
  printf("  %s sim --server coap://127.0.0.1:%u --devices 1000   (docs/sim.md)\n", self,
         l->srv_coap.port);
  printf("Ctrl-C stops (devices de-register).\n\n");
  fflush(stdout);
}

static int run(const demo_opts *o) {
  demo *d = calloc(1, sizeof *d);
  if (!d) return NB_EXIT_FAILURE;
  d->o = o;
  int rc = NB_EXIT_FAILURE;
  d->approve = calloc((o->devices + 7) / 8, 1);
  if (!d->approve || nb_io_loop_new(&d->loop) != NB_OK) goto out;
  nb_app_local_config lc = {.cli = CLI,
                            .db = o->db,
                            .http = o->http,
                            .http_given = o->http_given,
                            .approve = true, /* the demo approves its own devices but one */
                            .clock_offset = clock_offset(d->loop),
                            .before_wait = before_wait,
                            .user = d};
  if (nb_app_local_start(d->loop, &lc, &d->local) != 0) goto out;
  if (nb_server_add_listener(d->local->srv, on_srv_event, d) != NB_OK ||
      nb_bs_engine_add_listener(d->local->bs, on_bs_event, d) != NB_OK)
    goto out;
  /* Devices nobody prepared (`niobium client --bootstrap coap://...`) get a NoSec account after
   * approval. */
  if (nb_app_local_default_config(d->local) != NB_OK) goto out;
  if (setup_scenario(d) != 0 || setup_operator(d) != 0 || setup_fleet(d) != 0) goto out;
  uv_timer_init(nb_io_loop_uv(d->loop), &d->poll);
  d->poll.data = d;
  d->poll_on = true;
  uv_timer_start(&d->poll, on_poll, POLL_PERIOD_MS, POLL_PERIOD_MS);
  nb_io_loop_on_signals(d->loop, on_signal, d);
  banner(d);
  rc = nb_io_loop_run(d->loop) == NB_OK ? NB_EXIT_OK : NB_EXIT_FAILURE;
  say("demo", "-", rc == NB_EXIT_OK ? "stopped" : "the event loop failed");
out:
  nb_sim_rest_free(d->rest);
  nb_sim_runner_free(d->runner);
  if (d->poll_on) uv_close((uv_handle_t *)&d->poll, NULL);
  nb_app_local_close(d->local);
  if (d->loop) nb_io_loop_free(d->loop); /* the API leaves the server's listeners here */
  nb_app_local_destroy(d->local);
  nb_sim_profiles_free(d->profiles);
  nb_model_free(d->model);
  free(d->approve);
  free(d);
  return rc;
}

static bool parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out) {
  char *end;
  unsigned long v = strtoul(s, &end, 10);
  if (end == s || *end || s[0] == '-' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

static bool is_loopback(const nb_addr *a) {
  static const uint8_t v6lo[16] = {[15] = 1};
  return a->family == NB_ADDR_V4 ? a->ip[0] == 127 : memcmp(a->ip, v6lo, 16) == 0;
}

int nb_cmd_demo(int argc, char **argv) {
  static const struct option opts[] = {
      {"http", required_argument, NULL, 'H'},     {"db", required_argument, NULL, 'd'},
      {"devices", required_argument, NULL, 'n'},  {"duration", required_argument, NULL, 't'},
      {"nosec", no_argument, NULL, 'N'},          {"log-level", required_argument, NULL, 'l'},
      {"scenario", required_argument, NULL, 's'}, {"ddf", required_argument, NULL, 'D'},
      {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
  demo_opts o = {.http = "127.0.0.1:8080", .devices = 4, .scenario = NB_SIM_SCEN_SMART_METER};
  nb_log_level lvl = NB_LOG_WARN;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 'H':
        o.http = optarg;
        o.http_given = true;
        break;
      case 'd':
        o.db = optarg;
        break;
      case 'n':
        if (!parse_ulong(optarg, 1, DEMO_MAX_DEVICES, &o.devices)) {
          fprintf(stderr, CLI ": --devices must be 1..%lu\n", DEMO_MAX_DEVICES);
          return NB_EXIT_USAGE;
        }
        break;
      case 't':
        if (!parse_ulong(optarg, 1, 86400UL * 365, &o.duration)) {
          fprintf(stderr, CLI ": --duration must be a positive number of seconds\n");
          return NB_EXIT_USAGE;
        }
        break;
      case 'N':
        o.nosec = true;
        break;
      case 's':
        if (nb_sim_scenario_parse(optarg, &o.scenario) != NB_OK ||
            o.scenario == NB_SIM_SCEN_THESIS) {
          fprintf(stderr, CLI ": --scenario must be smart-meter, ipso or idle\n");
          return NB_EXIT_USAGE;
        }
        break;
      case 'D':
        o.ddf = optarg;
        break;
      case 'l':
        if (nb_log_level_parse(optarg, &lvl) != NB_OK) {
          fprintf(stderr, CLI ": unknown log level '%s' (error, warn, info, debug)\n", optarg);
          return NB_EXIT_USAGE;
        }
        break;
      case 'h':
        usage(stdout);
        return NB_EXIT_OK;
      default:
        usage(stderr);
        return NB_EXIT_USAGE;
    }
  }
  if (optind < argc) {
    fprintf(stderr, CLI ": unexpected argument '%s' (see niobium demo --help)\n", argv[optind]);
    return NB_EXIT_USAGE;
  }
  nb_addr http;
  if (nb_addr_parse(o.http, 8080, &http) != NB_OK || !is_loopback(&http)) {
    fprintf(stderr, CLI ": --http '%s' must be a loopback IP:PORT (the demo API has no token)\n",
            o.http);
    return NB_EXIT_USAGE;
  }
  nb_log_set_level(lvl);
  return run(&o);
}
