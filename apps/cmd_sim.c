/* `niobium sim`: a fleet of simulated LwM2M devices (the real client engine, N of them on one
 * loop) against a server or a bootstrap server; progress while it runs, a report at the end.
 * The work is in src/sim/; this file reads options, loads definitions and profiles, and wires
 * the loop, the signals and the output. */
#include <errno.h>
#include <getopt.h>
#include <gnutls/crypto.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api_opts.h"
#include "base/log.h"
#include "commands.h"
#include "dtls/keys.h"
#include "io/loop.h"
#include "local_servers.h"
#include "lwm2m/ddf/ddf.h"
#include "sim/credfile.h"
#include "sim/profile.h"
#include "sim/report.h"
#include "sim/rest.h"
#include "sim/runner.h"
#include "sim/scenario.h"

#define CLI "niobium sim"
#define SIM_MAX_DEVICES 10000000UL

static void usage(FILE *f) {
  fprintf(
      f,
      "Usage: niobium sim [--server URI | --bootstrap URI] [OPTIONS]\n"
      "A fleet of simulated LwM2M devices in one process: each one is the real client engine\n"
      "with its own address and port (and DTLS session), registering, updating, answering the\n"
      "server's requests and notifying; a report of counts, rates, latencies, errors and bytes\n"
      "on the wire per message type at the end (docs/sim.md). Without --server and\n"
      "--bootstrap it runs a bootstrap server, a server and their REST API of its own on\n"
      "127.0.0.1 (as niobium demo does) and the devices bootstrap there.\n\n"
      "Fleet:\n"
      "  --devices N          devices (default 10); niobium server holds 1000 NoSec\n"
      "                       registrations by default: more need its\n"
      "                       --max-nosec-registrations\n"
      "  --server URI         register with this server (coap://HOST:PORT or coaps://)\n"
      "  --bootstrap URI      bootstrap there first (its config names the server)\n"
      "  --security MODE      nosec (default), psk, rpk or x509: of that account; PSKs and\n"
      "                       keys are made per device from the CSPRNG\n"
      "  --prefix P           endpoint names P000001, P000002... (default sim-)\n"
      "  --ramp R             devices started per second (default: as the window allows)\n"
      "  --window W           registrations, bootstraps and de-registrations in flight at\n"
      "                       most (default 64)\n"
      "  --lifetime S         registration lifetime in seconds (default 300)\n"
      "  --binding B          U (default) or UQ (queue mode)\n"
      "  --retry-timer S      wait S seconds before registering again after a failure\n"
      "                       (Server resource 18; default 60)\n"
      "  --duration S         de-register and stop after S seconds (default: on Ctrl-C)\n"
      "Credentials and the server's REST API:\n"
      "  --api URL            the (bootstrap) server's REST API (http://127.0.0.1:8080):\n"
      "                       each device's PSK, public key or certificate name is installed\n"
      "                       there before it starts (/api/security/clients; for a bootstrap:\n"
      "                       its secure ID under /api/bootstrap/expected)\n"
      "  --api-token-file F   its token (a file only you can read); --api-token T also works\n"
      "                       but shows in the process list\n"
      "  --psk-file FILE      PSKs the server already has (endpoint,identity,hexkey lines, as\n"
      "                       niobium server --psk reads), instead of fresh ones\n"
      "  --psk-out FILE       write the fresh PSKs there (0600) for niobium server --psk\n"
      "  --server-key FILE    rpk/x509: the (bootstrap) server's public key, certificate or\n"
      "                       30-hex secure ID that devices pin\n"
      "  --server-key-ca      x509: --server-key is a CA that signs the server's certificate\n"
      "  --ca-cert FILE --ca-key FILE  x509: the CA that issues each device a certificate\n"
      "                       (CN = endpoint); niobium keys makes one\n"
      "  --server-security M  with --bootstrap and --server: each device gets a bootstrap\n"
      "                       config (through --api) naming --server with security M\n"
      "  --approve            approve the fleet's pending bootstrap requests (selective\n"
      "                       bootstrap: --bs-policy approve) through --api\n"
      "  --observe N          once registered, every N-th device is observed through --api\n"
      "                       on the scenario's value (default 1 with --api; 0: none)\n"
      "  --observe-attrs Q    attributes written first (default per scenario, e.g.\n"
      "                       pmin=10&pmax=300&st=0.05; \"\" for none)\n"
      "Devices:\n"
      "  --scenario S         smart-meter (default), ipso, idle or thesis\n"
      "  --ddf DIR            object definitions (DDF XML): with the OMA registry's 10243\n"
      "                       Single-Phase Power Meter the meters use it, else IPSO 3305/3316\n"
      "  --profiles FILE      household load profiles: CSV, a time column and one column of\n"
      "                       watts per household (NREL layout); default: synthetic\n"
      "  --households N       synthetic households (default 200)\n"
      "  --households-per-device K  a concentrator reporting K households as K instances\n"
      "  --speed X            profile seconds per real second (default 1)\n"
      "  --seed N             households, offsets, noise and loss (default 1)\n"
      "  --notify-interval MS values change (observations are evaluated) every MS (1000)\n"
      "  --notifies K         thesis: notifications of the session (default 10); then an\n"
      "                       Update and the De-register, and the thesis's tables beside ours\n"
      "Own servers (no --server, no --bootstrap):\n"
      "  --http ADDR          their REST API (default 127.0.0.1:8080, else a free port)\n"
      "  --db FILE            their database (default: a temporary file)\n"
      "Network:\n"
      "  --loss P             drop each datagram with probability P, both ways (seeded)\n"
      "  --sockets MODE       shared (one address of 127.0.0.0/8 per device through a few\n"
      "                       sockets), per-device (one socket each), auto (default: shared\n"
      "                       for a server on 127.0.0.0/8)\n"
      "  --local ADDR         per-device sockets: the local address to bind\n"
      "Output:\n"
      "  --report FILE        also write the report as JSON\n"
      "  --progress S         a progress line every S seconds when not on a terminal (5)\n"
      "  --log-level LEVEL    error (default), warn, info, debug\n"
      "  -h, --help           this text\n\n"
      "Ctrl-C (SIGINT/SIGTERM) de-registers the fleet and prints the report; twice stops at\n"
      "once. Exit codes: 0 every device registered, 1 some did not (or a failure), 2 usage.\n\n"
      "Examples:\n"
      "  niobium sim --server coap://127.0.0.1:5683 --devices 1000 --ramp 200\n"
      "  niobium sim --server coap://127.0.0.1:5683 --devices 100 --ddf ../shared/lwm2m-registry\n"
      "  niobium sim --server coap://127.0.0.1:5683 --devices 100000 --scenario idle \\\n"
      "      --report fleet.json\n"
      "  niobium sim --server coaps://127.0.0.1:5684 --security psk --api http://127.0.0.1:8080 "
      "\\\n"
      "      --devices 10000 --ramp 500\n"
      "  niobium sim --bootstrap coap://127.0.0.1:5783 --server coaps://127.0.0.1:5684 \\\n"
      "      --server-security psk --api http://127.0.0.1:8080 --devices 1000 --loss 0.2\n"
      "  niobium sim --devices 1 --scenario thesis --notifies 100 --security psk\n");
}

typedef struct {
  unsigned long devices, ramp, window, lifetime, duration, retry_timer, households, per_device,
      progress, observe;
  double loss, speed;
  unsigned long long seed;
  const char *server, *bootstrap, *prefix, *binding, *ddf, *profiles, *report, *local;
  const char *api, *api_token, *api_token_file, *psk_file, *psk_out, *server_key, *ca_cert, *ca_key,
      *observe_attrs, *http, *db;
  unsigned long notifies, notify_ms;
  bool server_key_ca, approve, observe_set, server_security_set;
  nb_sim_security security, server_security;
  nb_sim_scenario_kind scenario;
  nb_sim_sockets sockets;
  nb_log_level log_level;
} sim_opts;

typedef struct {
  uint8_t *data;
  size_t len;
} sim_file;

typedef struct {
  const sim_opts *o;
  nb_io_loop *loop;
  nb_sim_runner *runner;
  nb_sim_rest *rest;
  nb_sim_pskfile *pskfile;
  nb_sim_pskout *pskout;
  sim_file server_key, ca_cert, ca_key;
  char token[256];
  /* without --server or --bootstrap: servers of our own (apps/local_servers.c) */
  nb_app_local *local;
  char uri[96], api[96], target_text[400];
  /* the thesis scenario's session: k notifications, an Update, the De-register */
  uv_timer_t thesis;
  bool thesis_on, thesis_updating;
  nb_model *model;
  nb_sim_profiles *profiles;
  nb_sim_scenario scenario;
  uint64_t rss_base, rss_registered;
  bool quitting;
} sim_app;

/* ---- setup ---- */

static nb_err resolve(void *user, const char *host, uint16_t port, nb_addr *out) {
  (void)user;
  struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res = NULL;
  char ps[8];
  snprintf(ps, sizeof ps, "%u", port);
  if (getaddrinfo(host, ps, &hints, &res) != 0) return NB_ERR_NOT_FOUND;
  nb_err e = NB_ERR_NOT_FOUND;
  for (struct addrinfo *ai = res; ai && e != NB_OK; ai = ai->ai_next)
    e = nb_addr_from_sockaddr(ai->ai_addr, out);
  freeaddrinfo(res);
  return e;
}

/* The address in a coap:// or coaps:// URI (host names resolved). */
static nb_err uri_addr(const char *uri, nb_addr *out) {
  bool secure = strncmp(uri, "coaps://", 8) == 0;
  if (!secure && strncmp(uri, "coap://", 7) != 0) return NB_ERR_SYNTAX;
  const char *rest = uri + (secure ? 8 : 7);
  char host[NB_ADDR_STRLEN];
  size_t n = strcspn(rest, "/?");
  if (n == 0 || n >= sizeof host) return NB_ERR_SYNTAX;
  memcpy(host, rest, n);
  host[n] = 0;
  uint16_t port = secure ? 5684 : 5683;
  if (nb_addr_parse(host, port, out) == NB_OK) return NB_OK;
  char *colon = host[0] == '[' ? NULL : strrchr(host, ':');
  if (colon) {
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (*end || p == 0 || p > 65535) return NB_ERR_SYNTAX;
    port = (uint16_t)p;
    *colon = 0;
  }
  return resolve(NULL, host, port, out);
}

static int64_t unix_offset(nb_io_loop *loop) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - nb_io_loop_now(loop);
}

static void ddf_notice(void *ctx, const char *file, nb_err err, const char *message) {
  (void)ctx;
  if (err != NB_ERR_DDF_NOT_OBJECT) fprintf(stderr, CLI ": --ddf: %s: %s\n", file, message);
}

static int load_model(sim_app *a) {
  if (!a->o->ddf) return 0;
  a->model = nb_model_new();
  char err[512] = "";
  nb_ddf_stats st;
  if (!a->model) return -1;
  nb_err e = nb_model_load_ddf_ex(a->model, a->o->ddf, ddf_notice, NULL, &st, err, sizeof err);
  if (e != NB_OK && st.objects_loaded == 0) {
    fprintf(stderr, CLI ": --ddf %s: %s\n", a->o->ddf, err[0] ? err : nb_strerror(e));
    return -1;
  }
  return 0;
}

static int load_profiles(sim_app *a) {
  if (a->o->scenario != NB_SIM_SCEN_SMART_METER) return 0;
  char err[512] = "";
  nb_err e =
      a->o->profiles
          ? nb_sim_profiles_load_csv(a->o->profiles, &a->profiles, err, sizeof err)
          : nb_sim_profiles_synthetic((uint32_t)a->o->households, 7, a->o->seed, &a->profiles);
  if (e != NB_OK) {
    fprintf(stderr, CLI ": --profiles: %s\n", err[0] ? err : nb_strerror(e));
    return -1;
  }
  return 0;
}

static int read_file(const char *path, const char *what, sim_file *out) {
  FILE *f = fopen(path, "rb");
  long n = -1;
  if (f && fseek(f, 0, SEEK_END) == 0) n = ftell(f);
  if (n < 0 || n > (1 << 20) || fseek(f, 0, SEEK_SET) != 0 ||
      !(out->data = malloc((size_t)n + 1)) || fread(out->data, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, CLI ": cannot read %s %s\n", what, path);
    if (f) fclose(f);
    return -1;
  }
  fclose(f);
  out->len = (size_t)n;
  out->data[n] = 0;
  return 0;
}

static void free_file(sim_file *f) {
  if (f->data) gnutls_memset(f->data, 0, f->len);
  free(f->data);
}

/* Credentials files and keys the options name. */
static int load_credentials(sim_app *a) {
  const sim_opts *o = a->o;
  char err[512] = "";
  if (o->psk_file && nb_sim_pskfile_load(o->psk_file, &a->pskfile, err, sizeof err) != NB_OK) {
    fprintf(stderr, CLI ": --psk-file %s\n", err);
    return -1;
  }
  if (o->psk_out && nb_sim_pskout_open(o->psk_out, &a->pskout) != NB_OK) {
    fprintf(stderr, CLI ": cannot create --psk-out %s: %s\n", o->psk_out, strerror(errno));
    return -1;
  }
  if (o->server_key && read_file(o->server_key, "--server-key", &a->server_key) != 0) return -1;
  if (o->ca_cert && read_file(o->ca_cert, "--ca-cert", &a->ca_cert) != 0) return -1;
  if (o->ca_key && read_file(o->ca_key, "--ca-key", &a->ca_key) != 0) return -1;
  if (a->server_key.data && a->server_key.len > 0 &&
      a->server_key.data[a->server_key.len - 1] == '\n' && a->server_key.len <= 32)
    a->server_key.len--; /* a secure ID on a line of its own */
  if (o->api_token_file) {
    char *tok = nb_secret_file_read(o->api_token_file, err, sizeof err);
    bool valid = tok && nb_api_token_valid(tok);
    if (valid) snprintf(a->token, sizeof a->token, "%s", tok);
    if (tok) gnutls_memset(tok, 0, strlen(tok));
    free(tok);
    if (!valid) {
      fprintf(stderr, CLI ": --api-token-file: %s\n",
              tok ? "the token must be 16 to 256 visible ASCII characters" : err);
      return -1;
    }
  }
  if (o->api_token) snprintf(a->token, sizeof a->token, "%s", o->api_token);
  return 0;
}

static int start_rest(sim_app *a) {
  const sim_opts *o = a->o;
  if (!a->api[0]) return 0;
  bool observe = a->scenario.observed.len > 0 && o->observe > 0;
  bool thesis = o->scenario == NB_SIM_SCEN_THESIS;
  nb_sim_rest_config rc = {.api = a->api,
                           .token = a->token[0] ? a->token : NULL,
                           .bs_server_uri = o->bootstrap ? o->server : NULL,
                           .bs_server_security = o->server_security,
                           .bs_lifetime = (uint32_t)o->lifetime,
                           .bs_binding = o->binding,
                           .approve = o->approve,
                           .observe_every = (uint32_t)o->observe,
                           .observe_attrs = o->observe_attrs ? o->observe_attrs
                                            : thesis         ? NULL
                                                             : a->scenario.attrs,
                           /* the thesis's notifications held the bare value */
                           .observe_format = thesis ? "text" : NULL};
  if (observe) rc.observe = a->scenario.observed;
  if (nb_sim_rest_new(nb_io_loop_uv(a->loop), &rc, &a->rest) != NB_OK) {
    fprintf(stderr, CLI ": --api '%s' or --observe-attrs is not usable\n", a->api);
    return -1;
  }
  return 0;
}

/* Each device's credential: written to --psk-out, installed through --api. */
static nb_err provision(void *user, nb_sim_fleet *f, const nb_sim_cred *cred) {
  sim_app *a = user;
  if (a->pskout && nb_sim_pskout_write(a->pskout, cred) != NB_OK) return NB_ERR_IO;
  if (a->local) {
    nb_err e = nb_app_local_provision(a->local, cred, a->o->security, (uint32_t)a->o->lifetime);
    if (e == NB_OK) nb_sim_fleet_provisioned(f, cred->dev, NB_OK, nb_io_loop_now(a->loop));
    return e;
  }
  bool known = cred->mode == NB_SIM_PSK && a->pskfile; /* the server has the file already */
  if (a->rest && !known) return nb_sim_rest_provision(a->rest, f, cred);
  nb_sim_fleet_provisioned(f, cred->dev, NB_OK, nb_io_loop_now(a->loop));
  return NB_OK;
}

static void on_fleet_event(void *user, nb_sim_fleet *f, uint32_t dev, nb_sim_event ev, nb_err err,
                           const nb_path *path, nb_time_ms now) {
  sim_app *a = user;
  (void)err, (void)path, (void)now;
  if (a->rest) nb_sim_rest_event(a->rest, dev, ev);
  if (ev == NB_SIM_EV_UPDATED && a->thesis_updating) nb_sim_runner_stop(a->runner);
  const nb_sim_stats *st = nb_sim_fleet_stats(f);
  if (ev == NB_SIM_EV_REGISTERED && !a->rss_registered && st->registered == st->devices)
    nb_sim_rss(&a->rss_registered, &(uint64_t){0}); /* the figure of a whole fleet, registered */
}

/* The thesis's session, once the device is registered and observed: a value change every
 * --notify-interval until k notifications went out, then an Update, then (on its answer) the
 * De-register. */
static void on_thesis(uv_timer_t *t) {
  sim_app *a = t->data;
  nb_sim_fleet *f = nb_sim_runner_fleet(a->runner);
  nb_time_ms now = nb_io_loop_now(a->loop);
  nb_client *c = nb_sim_fleet_client(f, 0);
  if (a->thesis_updating || !nb_sim_fleet_is_registered(f, 0) || !c ||
      nb_client_observation_count(c) == 0)
    return;
  if (nb_sim_fleet_stats(f)->notifications >= a->o->notifies) {
    a->thesis_updating = nb_sim_fleet_update(f, 0, now) == NB_OK;
    return;
  }
  nb_sim_fleet_value_changed(f, 0, now);
}

/* Servers of our own on loopback when no --server or --bootstrap names any: a bootstrap server
 * whose configs name our server (the accounts' security: --security), and the REST API. */
static int start_local(sim_app *a, nb_addr *target) {
  const sim_opts *o = a->o;
  nb_app_local_config lc = {.cli = CLI,
                            .db = o->db,
                            .http = o->http,
                            .http_given = o->http != NULL,
                            .server_rpk = o->security == NB_SIM_RPK,
                            .clock_offset = unix_offset(a->loop)};
  if (nb_app_local_start(a->loop, &lc, &a->local) != 0) return -1;
  bool secure = o->security != NB_SIM_NOSEC;
  nb_app_local_uri(a->local, true, secure, a->uri, sizeof a->uri);
  nb_app_local_api_url(a->local, a->api, sizeof a->api);
  *target = secure ? a->local->bs_coaps : a->local->bs_coap;
  char srv[96];
  nb_app_local_uri(a->local, false, secure, srv, sizeof srv);
  snprintf(a->target_text, sizeof a->target_text, "local servers: bootstrap %s, server %s, API %s",
           a->uri, srv, a->api);
  return 0;
}

/* ---- running ---- */

static void on_finished(void *user, nb_sim_runner *r) {
  (void)r;
  sim_app *a = user;
  nb_io_loop_stop(a->loop);
}

static void on_signal(void *user, int signum) {
  (void)signum;
  sim_app *a = user;
  if (a->quitting) fprintf(stderr, CLI ": stopping without waiting for the de-registrations\n");
  a->quitting = true;
  nb_sim_runner_stop(a->runner);
}

static int report(sim_app *a) {
  const sim_opts *o = a->o;
  nb_sim_fleet *f = nb_sim_runner_fleet(a->runner);
  nb_sim_report_info in = {.scenario = a->scenario.what,
                           .security = nb_sim_security_name(o->security),
                           .target = a->target_text,
                           .started = nb_sim_runner_started(a->runner),
                           .now = nb_io_loop_now(a->loop),
                           .rss_base = a->rss_base,
                           .rss_registered = a->rss_registered,
                           .loss = o->loss,
                           .seed = o->seed,
                           .have_net = true,
                           .thesis = o->scenario == NB_SIM_SCEN_THESIS,
                           .thesis_dtls = o->security != NB_SIM_NOSEC,
                           .thesis_k = (unsigned)o->notifies};
  nb_sim_rss(&in.rss, &in.hwm);
  nb_sim_net_get_stats(nb_sim_runner_net(a->runner), &in.net);
  in.have_api = a->rest != NULL;
  if (a->rest) nb_sim_rest_get_stats(a->rest, &in.api);
  nb_sim_report_text(stdout, f, &in);
  fflush(stdout);
  if (o->report && nb_sim_report_json(o->report, f, &in) != NB_OK) {
    fprintf(stderr, CLI ": cannot write the report to %s: %s\n", o->report, strerror(errno));
    return NB_EXIT_FAILURE;
  }
  const nb_sim_stats *st = nb_sim_fleet_stats(f);
  return st->ever_registered == st->devices ? NB_EXIT_OK : NB_EXIT_FAILURE;
}

static int run(const sim_opts *o) {
  sim_app *a = calloc(1, sizeof *a);
  if (!a) return NB_EXIT_FAILURE;
  a->o = o;
  int rc = NB_EXIT_FAILURE;
  nb_addr target;
  if (o->server || o->bootstrap) {
    snprintf(a->uri, sizeof a->uri, "%s", o->bootstrap ? o->bootstrap : o->server);
    snprintf(a->api, sizeof a->api, "%s", o->api ? o->api : "");
    snprintf(a->target_text, sizeof a->target_text, "%s", a->uri);
    if (uri_addr(a->uri, &target) != NB_OK) {
      fprintf(stderr, CLI ": cannot resolve %s (coap://HOST:PORT or coaps://HOST:PORT)\n", a->uri);
      free(a);
      return NB_EXIT_USAGE;
    }
  }
  if (load_model(a) != 0 || load_profiles(a) != 0 || load_credentials(a) != 0 ||
      nb_io_loop_new(&a->loop) != NB_OK)
    goto out;
  if (!o->server && !o->bootstrap && start_local(a, &target) != 0) goto out;
  nb_sim_rss(&a->rss_base, &(uint64_t){0});
  nb_sim_scenario_config sc = {.kind = o->scenario,
                               .model = a->model,
                               .profiles = a->profiles,
                               .households_per_device = (uint16_t)o->per_device,
                               .seed = o->seed,
                               .speed = o->speed,
                               .unix_offset_ms = unix_offset(a->loop),
                               .bindings = o->binding};
  if (nb_sim_scenario_init(&a->scenario, &sc, nb_io_loop_now(a->loop)) != NB_OK) {
    fprintf(stderr, CLI ": the definitions lack an object of scenario %s\n",
            nb_sim_scenario_name(o->scenario));
    goto out;
  }
  if (start_rest(a) != 0) goto out;
  nb_sim_runner_config rc_ = {.duration = (nb_time_ms)o->duration * 1000,
                              .progress = stderr,
                              .progress_redraw = isatty(2) == 1,
                              .progress_every = (nb_time_ms)o->progress * 1000,
                              .finished = on_finished,
                              .user = a};
  nb_sim_config *fc = &rc_.fleet;
  nb_sim_config_default(fc);
  fc->devices = (uint32_t)o->devices;
  fc->prefix = o->prefix;
  fc->model = a->model;
  fc->scenario = &a->scenario;
  fc->server_uri = o->server && !o->bootstrap ? a->uri : NULL; /* else --server is in configs */
  fc->bootstrap_uri = o->server && !o->bootstrap ? NULL : a->uri;
  fc->security = o->security;
  fc->lifetime = (uint32_t)o->lifetime;
  fc->binding = o->binding;
  fc->retry_timer = (uint32_t)o->retry_timer;
  fc->ramp = (double)o->ramp;
  fc->window = (uint32_t)o->window;
  fc->loss = o->loss;
  fc->seed = o->seed;
  fc->unix_offset_ms = sc.unix_offset_ms;
  fc->resolve = resolve;
  fc->server_key = a->server_key.data;
  fc->server_key_len = a->server_key.len;
  if (a->local) {
    fc->server_key = a->local->bs_key.spki_der.data;
    fc->server_key_len = a->local->bs_key.spki_der.len;
  }
  fc->manual_sampling = o->scenario == NB_SIM_SCEN_THESIS;
  if (o->notify_ms) fc->sample_ms = (nb_time_ms)o->notify_ms;
  fc->server_key_ca = o->server_key_ca;
  fc->ca_cert = a->ca_cert.data;
  fc->ca_cert_len = a->ca_cert.len;
  fc->ca_key = a->ca_key.data;
  fc->ca_key_len = a->ca_key.len;
  if (a->pskfile) {
    fc->psk_source = nb_sim_pskfile_lookup;
    fc->psk_user = a->pskfile;
  }
  if (a->rest || a->pskout || a->pskfile || a->local) {
    fc->provision = provision;
    fc->provision_user = a;
  }
  fc->on_event = on_fleet_event;
  fc->event_user = a;
  nb_addr local;
  rc_.net.mode = o->sockets;
  rc_.net.server = target;
  if (o->local) {
    if (nb_addr_parse(o->local, 0, &local) != NB_OK) {
      fprintf(stderr, CLI ": --local '%s' is not an IP address\n", o->local);
      rc = NB_EXIT_USAGE;
      goto out;
    }
    rc_.net.local = &local;
  }
  char why[512] = "";
  nb_err e = nb_sim_runner_new(a->loop, &rc_, &a->runner, why, sizeof why);
  if (e != NB_OK) {
    fprintf(stderr, CLI ": %s\n", why[0] ? why : nb_strerror(e));
    goto out;
  }
  if (a->rest) nb_sim_rest_attach(a->rest, nb_sim_runner_fleet(a->runner));
  nb_io_loop_on_signals(a->loop, on_signal, a);
  if (o->scenario == NB_SIM_SCEN_THESIS) {
    uint64_t every = o->notify_ms ? o->notify_ms : 1000;
    uv_timer_init(nb_io_loop_uv(a->loop), &a->thesis);
    a->thesis.data = a;
    a->thesis_on = true;
    uv_timer_start(&a->thesis, on_thesis, every, every);
  }
  fprintf(stderr, CLI ": %lu devices (%s, %s) -> %s\n", o->devices, a->scenario.what,
          nb_sim_security_name(o->security), a->target_text);
  nb_io_loop_run(a->loop);
  rc = report(a);
out:
  nb_sim_rest_free(a->rest);
  nb_sim_runner_free(a->runner);
  if (a->thesis_on) uv_close((uv_handle_t *)&a->thesis, NULL);
  nb_app_local_close(a->local);
  if (a->loop) nb_io_loop_free(a->loop);
  nb_app_local_destroy(a->local);
  if (nb_sim_pskout_close(a->pskout) != NB_OK) {
    fprintf(stderr, CLI ": --psk-out %s could not be written completely\n", o->psk_out);
    rc = NB_EXIT_FAILURE;
  }
  nb_sim_pskfile_free(a->pskfile);
  free_file(&a->server_key);
  free_file(&a->ca_cert);
  free_file(&a->ca_key);
  gnutls_memset(a->token, 0, sizeof a->token);
  nb_sim_profiles_free(a->profiles);
  nb_model_free(a->model);
  free(a);
  return rc;
}

/* ---- options ---- */

static bool parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (end == s || *end || errno || s[0] == '-' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

static bool parse_double(const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi) return false;
  *out = v;
  return true;
}

static int bad(const char *what) {
  fprintf(stderr, CLI ": %s (see niobium sim --help)\n", what);
  return NB_EXIT_USAGE;
}

/* One option; 0 when taken, else the exit code. */
static int take(sim_opts *o, int c, const char *arg) {
  switch (c) {
    case 'n':
      return parse_ulong(arg, 1, SIM_MAX_DEVICES, &o->devices)
                 ? 0
                 : bad("--devices must be 1..10000000");
    case 's':
      o->server = arg;
      return 0;
    case 'B':
      o->bootstrap = arg;
      return 0;
    case 'S':
      return nb_sim_security_parse(arg, &o->security) == NB_OK
                 ? 0
                 : bad("--security must be nosec, psk, rpk or x509");
    case 'p':
      o->prefix = arg;
      return strlen(arg) < 24 ? 0 : bad("--prefix is too long (at most 23 characters)");
    case 'r':
      return parse_ulong(arg, 1, 1000000, &o->ramp) ? 0 : bad("--ramp must be 1..1000000 per s");
    case 'w':
      return parse_ulong(arg, 1, 1000000, &o->window) ? 0 : bad("--window must be 1..1000000");
    case 'L':
      return parse_ulong(arg, 10, 86400UL * 365, &o->lifetime) ? 0
                                                               : bad("--lifetime must be >= 10 s");
    case 'b':
      o->binding = arg;
      return !strcmp(arg, "U") || !strcmp(arg, "UQ") ? 0 : bad("--binding must be U or UQ");
    case 'R':
      return parse_ulong(arg, 1, 86400, &o->retry_timer) ? 0
                                                         : bad("--retry-timer must be 1..86400");
    case 'd':
      return parse_ulong(arg, 1, 86400UL * 365, &o->duration) ? 0 : bad("--duration must be > 0 s");
    case 'c':
      return nb_sim_scenario_parse(arg, &o->scenario) == NB_OK
                 ? 0
                 : bad("--scenario must be smart-meter, ipso, idle or thesis");
    case 'D':
      o->ddf = arg;
      return 0;
    case 'P':
      o->profiles = arg;
      return 0;
    case 'H':
      return parse_ulong(arg, 1, 100000, &o->households) ? 0
                                                         : bad("--households must be 1..100000");
    case 'K':
      return parse_ulong(arg, 1, 256, &o->per_device)
                 ? 0
                 : bad("--households-per-device must be 1..256");
    case 'x':
      return parse_double(arg, 0.001, 1e6, &o->speed) ? 0 : bad("--speed must be > 0");
    case 'e': {
      unsigned long v;
      if (!parse_ulong(arg, 0, ULONG_MAX, &v)) return bad("--seed must be a number");
      o->seed = v;
      return 0;
    }
    case 'l':
      return parse_double(arg, 0, 0.95, &o->loss) ? 0 : bad("--loss must be 0..0.95");
    case 'k':
      return nb_sim_sockets_parse(arg, &o->sockets) == NB_OK
                 ? 0
                 : bad("--sockets must be auto, shared or per-device");
    case 'a':
      o->local = arg;
      return 0;
    case 'o':
      o->report = arg;
      return 0;
    case 'g':
      return parse_ulong(arg, 1, 3600, &o->progress) ? 0 : bad("--progress must be 1..3600 s");
    case 'A':
      o->api = arg;
      return 0;
    case 'T':
      o->api_token = arg;
      return nb_api_token_valid(arg)
                 ? 0
                 : bad("--api-token must be 16 to 256 visible ASCII characters");
    case 't':
      o->api_token_file = arg;
      return 0;
    case 'F':
      o->psk_file = arg;
      return 0;
    case 'O':
      o->psk_out = arg;
      return 0;
    case 'y':
      o->server_key = arg;
      return 0;
    case 'Y':
      o->server_key_ca = true;
      return 0;
    case 'C':
      o->ca_cert = arg;
      return 0;
    case 'Z':
      o->ca_key = arg;
      return 0;
    case 'M':
      o->server_security_set = true;
      return nb_sim_security_parse(arg, &o->server_security) == NB_OK
                 ? 0
                 : bad("--server-security must be nosec, psk, rpk or x509");
    case 'W':
      o->approve = true;
      return 0;
    case 'j':
      o->observe_set = true;
      return parse_ulong(arg, 0, SIM_MAX_DEVICES, &o->observe) ? 0
                                                               : bad("--observe must be a number");
    case 'J':
      o->observe_attrs = arg;
      return 0;
    case 'm':
      o->http = arg;
      return 0;
    case 'u':
      o->db = arg;
      return 0;
    case 'q':
      return parse_ulong(arg, 1, 1000000, &o->notifies) ? 0 : bad("--notifies must be 1..1000000");
    case 'Q':
      return parse_ulong(arg, 10, 3600000, &o->notify_ms)
                 ? 0
                 : bad("--notify-interval must be 10..3600000 ms");
    case 'v':
      return nb_log_level_parse(arg, &o->log_level) == NB_OK
                 ? 0
                 : bad("--log-level must be error, warn, info or debug");
    default:
      return NB_EXIT_USAGE;
  }
}

/* Without --server or --bootstrap the simulator runs its own servers (start_local). */
static int check_local(sim_opts *o) {
  if (o->api || o->approve || o->server_security_set || o->psk_file || o->server_key)
    return bad(
        "--api, --approve, --server-security, --psk-file and --server-key name "
        "another server: give --server or --bootstrap too");
  if (o->security == NB_SIM_X509)
    return bad("--security x509 needs a server of yours (--server/--bootstrap with --ca-cert)");
  if (!o->observe_set) o->observe = 1;
  return 0;
}

static int check(sim_opts *o) {
  if (o->scenario == NB_SIM_SCEN_THESIS) {
    if (o->devices != 1) return bad("--scenario thesis runs one device, as the thesis did");
    if (!o->notifies) o->notifies = 10;
  } else if (o->notifies) {
    return bad("--notifies belongs to --scenario thesis");
  }
  if ((o->http || o->db) && (o->server || o->bootstrap))
    return bad("--http and --db are for the simulator's own servers (no --server/--bootstrap)");
  if (!o->server && !o->bootstrap) return check_local(o);
  if (o->scenario == NB_SIM_SCEN_THESIS && (!o->bootstrap || !o->api))
    return bad(
        "--scenario thesis bootstraps and has the server observe: give --bootstrap and "
        "--api, or neither --server nor --bootstrap (our own servers)");
  if (o->server && o->bootstrap && !o->api)
    return bad("--server with --bootstrap writes bootstrap configs: it needs --api");
  if (o->server_security_set && !(o->server && o->bootstrap))
    return bad("--server-security goes with --bootstrap and --server");
  if (o->scenario != NB_SIM_SCEN_SMART_METER && (o->profiles || o->per_device))
    return bad("--profiles and --households-per-device belong to the smart-meter scenario");
  bool secure = o->security != NB_SIM_NOSEC;
  const char *uri = o->bootstrap ? o->bootstrap : o->server;
  if (secure != (strncmp(uri, "coaps://", 8) == 0))
    return bad(secure ? "a secure account needs a coaps:// URI" : "--security nosec needs coap://");
  if (o->security == NB_SIM_PSK && !o->api && !o->psk_file)
    return bad("--security psk: the server must learn the keys: give --api or --psk-file");
  if (o->security == NB_SIM_PSK && o->bootstrap && !o->psk_file)
    return bad(
        "a bootstrap account with a PSK needs --psk-file (the API takes no bootstrap "
        "PSKs; use rpk or x509 factory keys)");
  if ((o->security == NB_SIM_RPK || o->security == NB_SIM_X509) && !o->server_key)
    return bad("--security rpk/x509 needs --server-key (the server's key, cert or secure ID)");
  if ((o->security == NB_SIM_RPK || o->security == NB_SIM_X509) && !o->api)
    return bad("--security rpk/x509: the server learns each device's key through --api");
  if (o->security == NB_SIM_X509 && (!o->ca_cert || !o->ca_key))
    return bad("--security x509 needs --ca-cert and --ca-key (the CA issuing device certs)");
  if (o->psk_out && o->security != NB_SIM_PSK) return bad("--psk-out goes with --security psk");
  if (o->approve && !o->api) return bad("--approve needs --api");
  if (o->api_token && o->api_token_file) return bad("give --api-token or --api-token-file");
  if (!o->observe_set) o->observe = o->api ? 1 : 0;
  if (o->observe && !o->api) return bad("--observe needs --api");
  return 0;
}

int nb_cmd_sim(int argc, char **argv) {
  static const struct option opts[] = {{"devices", required_argument, NULL, 'n'},
                                       {"server", required_argument, NULL, 's'},
                                       {"bootstrap", required_argument, NULL, 'B'},
                                       {"security", required_argument, NULL, 'S'},
                                       {"prefix", required_argument, NULL, 'p'},
                                       {"ramp", required_argument, NULL, 'r'},
                                       {"window", required_argument, NULL, 'w'},
                                       {"lifetime", required_argument, NULL, 'L'},
                                       {"binding", required_argument, NULL, 'b'},
                                       {"retry-timer", required_argument, NULL, 'R'},
                                       {"duration", required_argument, NULL, 'd'},
                                       {"scenario", required_argument, NULL, 'c'},
                                       {"ddf", required_argument, NULL, 'D'},
                                       {"profiles", required_argument, NULL, 'P'},
                                       {"households", required_argument, NULL, 'H'},
                                       {"households-per-device", required_argument, NULL, 'K'},
                                       {"speed", required_argument, NULL, 'x'},
                                       {"seed", required_argument, NULL, 'e'},
                                       {"loss", required_argument, NULL, 'l'},
                                       {"sockets", required_argument, NULL, 'k'},
                                       {"local", required_argument, NULL, 'a'},
                                       {"report", required_argument, NULL, 'o'},
                                       {"progress", required_argument, NULL, 'g'},
                                       {"api", required_argument, NULL, 'A'},
                                       {"api-token", required_argument, NULL, 'T'},
                                       {"api-token-file", required_argument, NULL, 't'},
                                       {"psk-file", required_argument, NULL, 'F'},
                                       {"psk-out", required_argument, NULL, 'O'},
                                       {"server-key", required_argument, NULL, 'y'},
                                       {"server-key-ca", no_argument, NULL, 'Y'},
                                       {"ca-cert", required_argument, NULL, 'C'},
                                       {"ca-key", required_argument, NULL, 'Z'},
                                       {"server-security", required_argument, NULL, 'M'},
                                       {"approve", no_argument, NULL, 'W'},
                                       {"observe", required_argument, NULL, 'j'},
                                       {"observe-attrs", required_argument, NULL, 'J'},
                                       {"http", required_argument, NULL, 'm'},
                                       {"db", required_argument, NULL, 'u'},
                                       {"notifies", required_argument, NULL, 'q'},
                                       {"notify-interval", required_argument, NULL, 'Q'},
                                       {"log-level", required_argument, NULL, 'v'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  sim_opts o = {.devices = 10,
                .lifetime = 300,
                .households = 200,
                .progress = 5,
                .speed = 1,
                .seed = 1,
                .prefix = "sim-",
                .binding = "U",
                .scenario = NB_SIM_SCEN_SMART_METER,
                .log_level = NB_LOG_ERROR};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'h') {
      usage(stdout);
      return NB_EXIT_OK;
    }
    if (c == '?') {
      usage(stderr);
      return NB_EXIT_USAGE;
    }
    int r = take(&o, c, optarg);
    if (r) return r;
  }
  if (optind < argc) {
    fprintf(stderr, CLI ": unexpected argument '%s' (see niobium sim --help)\n", argv[optind]);
    return NB_EXIT_USAGE;
  }
  int r = check(&o);
  if (r) return r;
  nb_log_set_level(o.log_level);
  return run(&o);
}
