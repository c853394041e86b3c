/* `niobium demo`: bootstrap server, LwM2M server and REST API in one process on loopback, with a
 * handful of simulated devices (client engines) on the same libuv loop. Each device leaves the
 * "factory" with a P-256 key whose secure ID is registered out of band; it bootstraps over DTLS
 * (RPK), gets a fresh PSK and registers with it. One device waits for the operator's approval. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/rand.h"
#include "bootstrap/bootstrap.h"
#include "bootstrap/config_store.h"
#include "commands.h"
#include "dtls/cred.h"
#include "dtls/keys.h"
#include "http/api.h"
#include "io/dtls_server_io.h"
#include "io/loop.h"
#include "niobium/client.h"
#include "server/server.h"
#include "server/store_health.h"
#include "store/sqlite.h"

#define CLI "niobium demo"
#define DEMO_MAX_DEVICES 32
#define DEMO_SSID 101
#define DEMO_LIFETIME 120  /* seconds: short, so Updates show up in the event stream */
#define QUIT_GRACE_MS 3000 /* de-registration time at exit */
#define SENSOR_PERIOD_MS 2000
#define POLL_PERIOD_MS 500 /* operator decisions taken from the database */

static void usage(FILE *f) {
  fprintf(f,
          "Usage: niobium demo [OPTIONS]\n"
          "Bootstrap server, LwM2M server, REST API and web console (its URL is the first\n"
          "line printed) in one process on 127.0.0.1, with\n"
          "simulated devices on the same loop. Zero configuration: every port falls back to a\n"
          "free one when the default (5683/5684 server, 5783/5784 bootstrap, 8080 HTTP) is busy.\n"
          "Devices carry factory P-256 keys whose secure IDs are registered with the bootstrap\n"
          "server; they bootstrap over DTLS (raw public keys), receive a fresh PSK and register\n"
          "with it. The last device waits for your approval.\n\n"
          "  --http ADDR        REST API address (default 127.0.0.1:8080, else a free port)\n"
          "  --db FILE          SQLite database (default: a temporary file removed at exit)\n"
          "  --devices N        simulated devices, 1..%d (default 4)\n"
          "  --duration S       exit after S seconds (default: run until Ctrl-C)\n"
          "  --nosec            devices bootstrap and register without DTLS (readable in\n"
          "                     Wireshark)\n"
          "  --log-level LEVEL  library log level on stderr: error, warn (default), info, debug\n"
          "  -h, --help         this text\n\n"
          "Ctrl-C (SIGINT/SIGTERM) de-registers the devices and exits. Exit codes: 0 ok,\n"
          "1 failure, 2 usage.\n\n"
          "Examples:\n"
          "  niobium demo\n"
          "  niobium demo --devices 10 --http 127.0.0.1:9090\n"
          "  niobium demo --db demo.db --duration 60 --log-level info\n",
          DEMO_MAX_DEVICES);
}

typedef struct {
  const char *http, *db;
  unsigned long devices, duration;
  bool nosec, http_given;
} demo_opts;

typedef struct demo demo;

typedef struct {
  demo *d;
  char ep[32];
  nb_client *c;
  nb_io_udp *udp;
  nb_dtls_keypair key; /* factory key: only its secure ID is known to the bootstrap server */
  bool manual;         /* waits for the operator's approval */
  bool approve;        /* the demo approves it before the loop next waits */
} device;

struct demo {
  const demo_opts *o;
  nb_io_loop *loop;
  nb_store_sqlite *dmdb;
  nb_server_store store; /* dmdb's, through health */
  nb_store_health *health;
  nb_bs_store *bst;
  nb_server *srv;
  nb_bs_engine *bs;
  nb_io_srv *srv_net, *bs_net;
  nb_dtls_creds *srv_creds, *bs_creds;
  nb_dtls_keypair bs_key;
  nb_http_api *api;
  device dev[DEMO_MAX_DEVICES];
  size_t ndev;
  nb_addr srv_coap, srv_coaps, bs_coap, bs_coaps;
  nb_io_deadline *deadline;
  uv_timer_t sensor, poll, stop;
  bool handles, quitting;
  nb_time_ms quit_by;
  char db[4096];
  bool temp_db;
};

/* ---- output ---- */

static void say(const char *who, const char *ep, const char *what) {
  printf("%-10s %-12s %s\n", who, ep, what);
  fflush(stdout);
}

static device *find_device(demo *d, const char *ep) {
  for (size_t i = 0; i < d->ndev; i++)
    if (strcmp(d->dev[i].ep, ep) == 0) return &d->dev[i];
  return NULL;
}

/* ---- engine events ---- */

/* The demo's own devices are approved at once, but the one left for the operator; requests
 * wait in the database where `niobium bootstrap pending|approve|reject --db` see them. */
static void on_pending(demo *d, device *dv, const char *ep, const char *peer, char *line,
                       size_t cap) {
  if (dv && !dv->manual) {
    dv->approve = true; /* not from inside the engine's callback: see before_wait */
    snprintf(line, cap, "BOOTSTRAP_PENDING (the demo approves it)");
    return;
  }
  nb_bs_store_pending_put(d->bst, ep, peer, (int64_t)time(NULL));
  snprintf(line, cap, "BOOTSTRAP_PENDING: approve it with: niobium bootstrap approve %s --db %s",
           ep, d->db);
}

static void on_bs_event(void *user, const nb_bs_event *ev) {
  demo *d = user;
  device *dv = ev->ep ? find_device(d, ev->ep) : NULL;
  char line[sizeof d->db + 512], peer[NB_ADDR_STRLEN] = "";
  if (ev->peer) nb_addr_format(ev->peer, peer, sizeof peer);
  const char *name = nb_bs_event_name(ev->type);
  switch (ev->type) {
    case NB_BS_EV_PENDING:
      on_pending(d, dv, ev->ep, peer, line, sizeof line);
      break;
    case NB_BS_EV_REJECTED:
      nb_bs_store_pending_del(d->bst, ev->ep);
      snprintf(line, sizeof line, "%s (answered %u.%02u)", name, ev->code >> 5, ev->code & 31);
      break;
    case NB_BS_EV_APPROVED:
      nb_bs_store_pending_del(d->bst, ev->ep);
      snprintf(line, sizeof line, "%s", name);
      break;
    case NB_BS_EV_FAILED:
      snprintf(line, sizeof line, "%s step=\"%s\" code=%u.%02u err=%s", name,
               ev->step ? ev->step : "", ev->code >> 5, ev->code & 31, nb_strerror(ev->err));
      break;
    case NB_BS_EV_ALERT:
      snprintf(line, sizeof line, "%s secure_id=%s", name, ev->secure_id ? ev->secure_id : "?");
      break;
    case NB_BS_EV_FINISHED:
      snprintf(line, sizeof line, "%s (%s%s)", name, ev->cti ? "signed, receipt kept; " : "",
               dv && !d->o->nosec ? "fresh PSK written and installed" : "server account written");
      break;
    default:
      snprintf(line, sizeof line, "%s from %s", name, peer);
      break;
  }
  say("bootstrap", ev->ep && ev->ep[0] ? ev->ep : "-", line);
}

static void on_srv_event(void *user, const nb_server_event *ev) {
  demo *d = user;
  char line[160];
  switch (ev->type) {
    case NB_SEV_REGISTRATION: /* also proof a device took a Finish whose answer was lost */
      nb_bs_engine_registered(d->bs, ev->reg->ep, &ev->reg->identity, ev->now);
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
  say("server", ev->reg->ep, line);
}

/* ---- the loop ---- */

static void srv_receive(void *user, const nb_addr *peer, const nb_server_identity *id,
                        const uint8_t *data, size_t len, nb_time_ms now) {
  nb_server_receive(((demo *)user)->srv, peer, id, data, len, now);
}

static void bs_receive(void *user, const nb_addr *peer, const nb_server_identity *id,
                       const uint8_t *data, size_t len, nb_time_ms now) {
  nb_bs_engine_receive(((demo *)user)->bs, peer, id, data, len, now);
}

static void dev_receive(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  device *dv = user;
  nb_client_receive(dv->c, peer, data, len, nb_io_loop_now(dv->d->loop));
}

static void on_tick(void *user, nb_time_ms now) {
  demo *d = user;
  nb_server_tick(d->srv, now);
  nb_bs_engine_tick(d->bs, now);
  for (size_t i = 0; i < d->ndev; i++) nb_client_tick(d->dev[i].c, now);
}

static void begin_quit(demo *d) {
  nb_time_ms now = nb_io_loop_now(d->loop);
  if (d->quitting) { /* asked twice: stop at once */
    nb_io_loop_stop(d->loop);
    return;
  }
  d->quitting = true;
  d->quit_by = now + QUIT_GRACE_MS;
  say("demo", "-", "stopping: devices de-register");
  for (size_t i = 0; i < d->ndev; i++) nb_client_deregister(d->dev[i].c, now);
}

static bool all_done(const demo *d) {
  for (size_t i = 0; i < d->ndev; i++)
    if (!nb_client_done(d->dev[i].c)) return false;
  return true;
}

static nb_time_ms next_deadline(const demo *d) {
  nb_time_ms dl = nb_server_next_deadline(d->srv), b = nb_bs_engine_next_deadline(d->bs);
  if (b < dl) dl = b;
  for (size_t i = 0; i < d->ndev; i++) {
    nb_time_ms c = nb_client_next_deadline(d->dev[i].c);
    if (c < dl) dl = c;
  }
  if (d->quitting && d->quit_by < dl) dl = d->quit_by;
  return dl;
}

/* Before the loop waits: approvals the demo makes itself, the exit, then the earliest engine
 * deadline. */
static nb_time_ms before_wait(void *user, nb_time_ms now) {
  demo *d = user;
  for (size_t i = 0; i < d->ndev; i++) {
    if (!d->dev[i].approve) continue;
    d->dev[i].approve = false;
    nb_bs_engine_approve(d->bs, d->dev[i].ep, now);
  }
  if (d->quitting && (all_done(d) || now >= d->quit_by)) {
    for (size_t i = 0; i < d->ndev; i++) nb_client_close(d->dev[i].c, now);
    nb_io_loop_stop(d->loop);
    return NB_TIME_NEVER;
  }
  return next_deadline(d);
}

static nb_err set_float(nb_object *o, uint16_t res, double v) {
  nb_path p = nb_path_res(o->def->id, 0, res);
  nb_value val = nb_value_float(v);
  return nb_store_object_set(o, &p, &val);
}

static double get_float(const nb_object *o, uint16_t res) {
  nb_path p = nb_path_res(o->def->id, 0, res);
  const nb_value *v = nb_store_object_get(o, &p);
  return v && v->type == NB_VT_FLOAT ? v->v.f : NAN;
}

/* A random walk of every device's temperature, in steps of at most 0.3 Cel. */
static void on_sensor(uv_timer_t *t) {
  demo *d = t->data;
  nb_time_ms now = nb_io_loop_now(d->loop);
  for (size_t i = 0; i < d->ndev; i++) {
    nb_object *o = nb_client_object(d->dev[i].c, 3303);
    uint32_t r;
    if (!o || nb_random_system(NULL, &r, sizeof r) != NB_OK) continue;
    double v = get_float(o, 5700) + 0.3 * ((double)r / 4294967295.0 * 2.0 - 1.0);
    v = fmin(40.0, fmax(5.0, round(v * 100.0) / 100.0));
    set_float(o, 5700, v);
    if (v < get_float(o, 5601)) set_float(o, 5601, v);
    if (v > get_float(o, 5602)) set_float(o, 5602, v);
    nb_path p = nb_path_inst(3303, 0);
    nb_client_value_changed(d->dev[i].c, &p, now);
  }
}

/* Execute /3303/0/5605: Reset Min and Max Measured Values. */
static nb_err sensor_execute(void *user, const nb_path *res, const uint8_t *args, size_t len,
                             nb_time_ms now) {
  device *dv = user;
  (void)args, (void)len;
  nb_object *o = nb_client_object(dv->c, 3303);
  if (res->ids[2] != 5605 || !o) return NB_ERR_UNSUPPORTED;
  double v = get_float(o, 5700);
  nb_err e = set_float(o, 5601, v);
  if (e == NB_OK) e = set_float(o, 5602, v);
  nb_path p = nb_path_inst(3303, 0);
  nb_client_value_changed(dv->c, &p, now);
  return e;
}

static nb_err apply_decision(void *user, const char *ep, bool approve) {
  demo *d = user;
  nb_time_ms now = nb_io_loop_now(d->loop);
  return approve ? nb_bs_engine_approve(d->bs, ep, now) : nb_bs_engine_reject(d->bs, ep, now);
}

/* `niobium bootstrap approve|reject EP --db FILE` (another process) decides via the database. */
static void on_poll(uv_timer_t *t) {
  demo *d = t->data;
  nb_bs_store_take_decisions(d->bst, apply_decision, d);
}

static void on_stop_timer(uv_timer_t *t) { begin_quit(t->data); }

static void on_signal(void *user, int signum) {
  (void)signum;
  begin_quit(user);
}

/* ---- set-up ---- */

static void drop_log(nb_log_level level, const char *line, void *user) {
  (void)level, (void)line, (void)user;
}

/* Binds 127.0.0.1:port, or a free port when that one is taken (no error logged for it). */
static nb_err listen_pref(nb_io_srv *net, uint16_t port, const nb_dtls_creds *creds,
                          nb_addr *bound) {
  nb_addr local;
  nb_addr_parse("127.0.0.1", port, &local);
  nb_log_set_sink(drop_log, NULL);
  nb_err e = creds ? nb_io_srv_listen_coaps(net, &local, creds, bound)
                   : nb_io_srv_listen_coap(net, &local, bound);
  nb_log_set_sink(NULL, NULL);
  if (e != NB_ERR_EXISTS) return e;
  local.port = 0;
  return creds ? nb_io_srv_listen_coaps(net, &local, creds, bound)
               : nb_io_srv_listen_coap(net, &local, bound);
}

/* Whether a TCP listener could bind a (probed first, so that libmicrohttpd does not print a
 * bind error for a default port that is merely busy). */
static bool tcp_port_free(const nb_addr *a) {
  struct sockaddr_storage ss;
  size_t len;
  if (nb_addr_to_sockaddr(a, (struct sockaddr *)&ss, sizeof ss, &len) != NB_OK) return false;
  int fd = socket(ss.ss_family, SOCK_STREAM, 0), one = 1;
  if (fd < 0) return false;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  bool ok = bind(fd, (struct sockaddr *)&ss, (socklen_t)len) == 0;
  close(fd);
  return ok;
}

static int64_t clock_offset(nb_io_loop *loop) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - nb_io_loop_now(loop);
}

static int setup_server(demo *d) {
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  cfg.store = d->store;
  cfg.clock_offset = clock_offset(d->loop);
  if (nb_io_srv_new(d->loop, srv_receive, d, &d->srv_net) != NB_OK ||
      nb_server_new(&cfg, nb_io_srv_send, d->srv_net, &d->srv) != NB_OK ||
      nb_server_add_listener(d->srv, on_srv_event, d) != NB_OK)
    return -1;
  if (nb_dtls_creds_new(&d->srv_creds) != NB_OK) return -1;
  nb_dtls_creds_set_psk_lookup(d->srv_creds, nb_io_srv_store_psk_lookup, &d->store);
  nb_dtls_creds_set_verify(d->srv_creds, nb_io_srv_store_verify, &d->store);
  if (listen_pref(d->srv_net, 5683, NULL, &d->srv_coap) != NB_OK ||
      listen_pref(d->srv_net, 5684, d->srv_creds, &d->srv_coaps) != NB_OK) {
    fprintf(stderr, CLI ": cannot bind the LwM2M server's sockets on 127.0.0.1\n");
    return -1;
  }
  nb_http_api_config hc = {
      .store = d->store, .health = d->health, .clock_offset = cfg.clock_offset};
  nb_addr_parse(d->o->http, 8080, &hc.listen);
  if (!d->o->http_given && !tcp_port_free(&hc.listen)) hc.listen.port = 0;
  nb_err e = nb_http_api_new(d->loop, d->srv, &hc, &d->api);
  if (e != NB_OK && !d->o->http_given && hc.listen.port != 0) {
    hc.listen.port = 0; /* taken between the probe and the bind */
    e = nb_http_api_new(d->loop, d->srv, &hc, &d->api);
  }
  if (e != NB_OK) {
    fprintf(stderr, CLI ": cannot start the REST API on %s: is the port in use? (--http)\n",
            d->o->http);
    return -1;
  }
  return 0;
}

static int setup_bootstrap(demo *d) {
  nb_bs_engine_config cfg;
  nb_bs_engine_config_default(&cfg);
  cfg.policy = NB_BS_POLICY_APPROVE; /* the demo approves its own devices but one */
  cfg.source = nb_bs_store_source(d->bst);
  cfg.dm_store = d->store;
  if (nb_dtls_keypair_generate(&d->bs_key) != NB_OK) return -1;
  /* Devices with keys ask for signed bootstraps: the server signs with its coaps key. */
  cfg.sign_key = d->bs_key.key_der.data;
  cfg.sign_key_len = d->bs_key.key_der.len;
  cfg.unix_offset_ms = clock_offset(d->loop);
  if (nb_io_srv_new(d->loop, bs_receive, d, &d->bs_net) != NB_OK ||
      nb_bs_engine_new(&cfg, nb_io_srv_send, d->bs_net, &d->bs) != NB_OK ||
      nb_bs_engine_add_listener(d->bs, on_bs_event, d) != NB_OK)
    return -1;
  if (nb_dtls_creds_new(&d->bs_creds) != NB_OK ||
      nb_dtls_creds_set_rpk(d->bs_creds, d->bs_key.key_der.data, d->bs_key.key_der.len) != NB_OK)
    return -1;
  nb_dtls_creds_set_verify(d->bs_creds, nb_bs_engine_verify_peer, d->bs);
  nb_dtls_creds_set_psk_lookup(d->bs_creds, nb_bs_engine_psk_lookup, d->bs);
  if (listen_pref(d->bs_net, 5783, NULL, &d->bs_coap) != NB_OK ||
      listen_pref(d->bs_net, 5784, d->bs_creds, &d->bs_coaps) != NB_OK) {
    fprintf(stderr, CLI ": cannot bind the bootstrap server's sockets on 127.0.0.1\n");
    return -1;
  }
  return 0;
}

/* One bootstrap config: the management server at addr, secured with a fresh PSK or NoSec. */
static nb_err put_config(demo *d, const char *ep, bool secure) {
  nb_bs_config cfg;
  nb_bs_config_init(&cfg, ep);
  nb_bs_server s = {.ssid = DEMO_SSID,
                    .lifetime = DEMO_LIFETIME,
                    .mode = secure ? NB_BS_SEC_PSK : NB_BS_SEC_NOSEC};
  snprintf(s.uri, sizeof s.uri, "%s://127.0.0.1:%u", secure ? "coaps" : "coap",
           secure ? d->srv_coaps.port : d->srv_coap.port);
  nb_err e = nb_bs_config_add_server(&cfg, &s);
  return e == NB_OK ? nb_bs_store_config_put(d->bst, &cfg) : e;
}

static nb_object *temperature_object(device *dv) {
  const nb_object_def *def = nb_model_object(nb_client_model(dv->c), 3303);
  nb_store_hooks h = {.execute = sensor_execute, .user = dv};
  nb_object *o = def ? nb_store_object_new(def, &h) : NULL;
  uint32_t r = 0;
  nb_random_system(NULL, &r, sizeof r);
  double t0 = 19.0 + (double)(r % 500) / 100.0;
  nb_value unit = nb_value_none();
  nb_path up = nb_path_res(3303, 0, 5701);
  nb_err e = o ? nb_store_object_add_instance(o, 0) : NB_ERR_NOMEM;
  if (e == NB_OK) e = set_float(o, 5700, t0);
  if (e == NB_OK) e = set_float(o, 5601, t0);
  if (e == NB_OK) e = set_float(o, 5602, t0);
  if (e == NB_OK) e = set_float(o, 5603, -40.0);
  if (e == NB_OK) e = set_float(o, 5604, 85.0);
  if (e == NB_OK) e = nb_value_set_string(&unit, "Cel", 3);
  if (e == NB_OK) e = nb_store_object_set(o, &up, &unit);
  nb_value_deinit(&unit);
  if (e != NB_OK) {
    nb_object_free(o);
    return NULL;
  }
  return o;
}

/* A device as it leaves the factory: Device and temperature objects and a bootstrap account;
 * its key's secure ID goes to the bootstrap server out of band. */
static int setup_device(demo *d, size_t i) {
  device *dv = &d->dev[i];
  dv->d = d;
  snprintf(dv->ep, sizeof dv->ep, "demo-%zu", i + 1);
  dv->manual = d->ndev > 1 && i == d->ndev - 1;
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = dv->ep;
  cfg.send = nb_io_udp_send;
  nb_addr local;
  nb_addr_parse("127.0.0.1", 0, &local);
  nb_io_udp_config ucfg;
  nb_io_udp_config_default(&ucfg);
  ucfg.batch = 1;
  if (nb_io_udp_open(d->loop, &local, &ucfg, &dv->udp) != NB_OK) return -1;
  nb_io_udp_set_receiver(dv->udp, dev_receive, dv);
  cfg.send_user = dv->udp;
  cfg.signed_bootstrap = !d->o->nosec; /* over DTLS with its factory key: a signed bootstrap */
  cfg.unix_offset_ms = clock_offset(d->loop);
  if (nb_client_new(&cfg, &dv->c) != NB_OK) return -1;
  char serial[48];
  snprintf(serial, sizeof serial, "NB-DEMO-%04zu", i + 1);
  nb_client_device_info info = {.manufacturer = "Niobium",
                                .model = "demo-thermometer",
                                .serial = serial,
                                .firmware_version = "0.1",
                                .device_type = "thermometer",
                                .battery_level = 100,
                                .memory_free_kb = -1,
                                .memory_total_kb = -1};
  nb_object *temp = temperature_object(dv);
  if (nb_client_add_device(dv->c, &info) != NB_OK || !temp ||
      nb_client_add_object(dv->c, temp, 0) != NB_OK)
    return -1;
  char uri[64];
  nb_client_server_params p = {.uri = uri, .bootstrap = true, .security_mode = 3};
  if (d->o->nosec) {
    snprintf(uri, sizeof uri, "coap://127.0.0.1:%u", d->bs_coap.port);
  } else {
    snprintf(uri, sizeof uri, "coaps://127.0.0.1:%u", d->bs_coaps.port);
    if (nb_dtls_keypair_generate(&dv->key) != NB_OK) return -1;
    p.security_mode = 1;
    p.secret = dv->key.key_der.data;
    p.secret_len = dv->key.key_der.len;
    p.server_key = d->bs_key.spki_der.data;
    p.server_key_len = d->bs_key.spki_der.len;
    nb_server_sec_info c = {.kind = NB_SERVER_ID_RPK};
    snprintf(c.ep, sizeof c.ep, "%s", dv->ep);
    snprintf(c.identity, sizeof c.identity, "%s", dv->key.secure_id);
    if (nb_bs_store_cred_put(d->bst, &c) != NB_OK) return -1;
  }
  if (nb_client_add_server(dv->c, &p) != NB_OK || put_config(d, dv->ep, !d->o->nosec) != NB_OK)
    return -1;
  return 0;
}

static int open_db(demo *d) {
  if (d->o->db) {
    snprintf(d->db, sizeof d->db, "%s", d->o->db);
  } else {
    const char *tmp = getenv("TMPDIR");
    snprintf(d->db, sizeof d->db, "%s/niobium-demo-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    int fd = mkstemp(d->db);
    if (fd < 0) {
      fprintf(stderr, CLI ": cannot create a temporary database in %s (set TMPDIR or --db)\n",
              tmp && tmp[0] ? tmp : "/tmp");
      return -1;
    }
    close(fd);
    d->temp_db = true;
  }
  if (nb_store_sqlite_open(d->db, &d->dmdb) != NB_OK || nb_bs_store_open(d->db, &d->bst) != NB_OK) {
    fprintf(stderr, CLI ": cannot open database %s: check the path and permissions\n", d->db);
    return -1;
  }
  if (nb_store_health_new(nb_store_sqlite_iface(d->dmdb), NULL, NULL, &d->health) != NB_OK)
    return -1;
  d->store = nb_store_health_store(d->health);
  return 0;
}

static void banner(demo *d) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  snprintf(self + (n > 0 ? n : 0), sizeof self - (size_t)(n > 0 ? n : 0), "%s",
           n > 0 ? "" : "niobium");
  unsigned http = nb_http_api_port(d->api);
  const char *sec = d->o->nosec ? "NoSec (--nosec): no DTLS anywhere"
                                : "DTLS: bootstrap with factory raw public keys, fresh PSKs";
  printf("Console: http://127.0.0.1:%u/   (open it in a browser)\n", http);
  printf("Niobium demo: bootstrap server + LwM2M server + REST API, %zu simulated device%s\n",
         d->ndev, d->ndev == 1 ? "" : "s");
  printf("  REST API          http://127.0.0.1:%u/api/clients\n", http);
  if (d->o->nosec) { /* no DTLS line: nothing of the demo uses it */
    printf("  LwM2M server      coap://127.0.0.1:%u\n", d->srv_coap.port);
    printf("  Bootstrap server  coap://127.0.0.1:%u\n", d->bs_coap.port);
  } else {
    printf("  LwM2M server      coap://127.0.0.1:%u   coaps://127.0.0.1:%u (PSK)\n",
           d->srv_coap.port, d->srv_coaps.port);
    printf("  Bootstrap server  coap://127.0.0.1:%u   coaps://127.0.0.1:%u (RPK by secure ID)\n",
           d->bs_coap.port, d->bs_coaps.port);
  }
  printf("  Database          %s%s\n", d->db, d->temp_db ? " (removed at exit)" : "");
  printf("  Security          %s\n", sec);
  if (d->ndev == 1)
    printf("Device demo-1 bootstraps, then registers%s.", d->o->nosec ? "" : " with its new PSK");
  else
    printf("Devices demo-1..demo-%zu bootstrap, then register%s.", d->ndev,
           d->o->nosec ? "" : " with their new PSK");
  if (d->ndev > 1)
    printf(" demo-%zu waits for your approval:\n  %s bootstrap approve demo-%zu --db %s\n", d->ndev,
           self, d->ndev, d->db);
  else
    printf("\n");
  printf("Try:\n");
  printf("  curl -s http://127.0.0.1:%u/api/clients\n", http);
  printf("  curl -s http://127.0.0.1:%u/api/clients/demo-1/3303/0/5700\n", http);
  printf("  curl -s http://127.0.0.1:%u/api/clients/demo-1/3/0\n", http);
  printf("  curl -s -X POST http://127.0.0.1:%u/api/clients/demo-1/3303/0/observe\n", http);
  printf("  curl -sN http://127.0.0.1:%u/api/events\n", http);
  if (!d->o->nosec)
    printf("  %s bootstrap evidence demo-1 --db %s   (signed bootstrap: docs/cose.md)\n", self,
           d->db);
  printf("  %s client --server coap://127.0.0.1:%u --endpoint my-device\n", self, d->srv_coap.port);
  printf("Ctrl-C stops (devices de-register).\n\n");
  fflush(stdout);
}

static void teardown(demo *d) {
  nb_http_api_free(d->api);
  nb_io_deadline_close(d->deadline);
  if (d->handles) {
    uv_close((uv_handle_t *)&d->sensor, NULL);
    uv_close((uv_handle_t *)&d->poll, NULL);
    uv_close((uv_handle_t *)&d->stop, NULL);
  }
  nb_io_srv_free(d->srv_net);
  nb_io_srv_free(d->bs_net);
  for (size_t i = 0; i < d->ndev; i++)
    if (d->dev[i].udp) nb_io_udp_close(d->dev[i].udp);
  if (d->loop) nb_io_loop_free(d->loop); /* the API leaves the server's listeners here */
  for (size_t i = 0; i < d->ndev; i++) {
    nb_client_free(d->dev[i].c);
    nb_dtls_keypair_free(&d->dev[i].key);
  }
  nb_server_free(d->srv);
  nb_bs_engine_free(d->bs);
  nb_dtls_creds_free(d->srv_creds);
  nb_dtls_creds_free(d->bs_creds);
  nb_dtls_keypair_free(&d->bs_key);
  nb_bs_store_close(d->bst);
  nb_store_health_free(d->health);
  nb_store_sqlite_close(d->dmdb);
  if (d->temp_db) {
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
      char path[sizeof d->db + 16];
      snprintf(path, sizeof path, "%s%s", d->db, suffix[i]);
      unlink(path);
    }
  }
}

static nb_err start_handles(demo *d) {
  nb_err e = nb_io_deadline_new(d->loop, before_wait, on_tick, d, &d->deadline);
  if (e != NB_OK) return e;
  uv_loop_t *uv = nb_io_loop_uv(d->loop);
  uv_timer_init(uv, &d->sensor);
  uv_timer_init(uv, &d->poll);
  uv_timer_init(uv, &d->stop);
  d->sensor.data = d->poll.data = d->stop.data = d;
  d->handles = true;
  uv_timer_start(&d->sensor, on_sensor, SENSOR_PERIOD_MS, SENSOR_PERIOD_MS);
  uv_timer_start(&d->poll, on_poll, POLL_PERIOD_MS, POLL_PERIOD_MS);
  if (d->o->duration) uv_timer_start(&d->stop, on_stop_timer, d->o->duration * 1000, 0);
  nb_io_loop_on_signals(d->loop, on_signal, d);
  return NB_OK;
}

static int run(const demo_opts *o) {
  demo *d = calloc(1, sizeof *d);
  if (!d) return NB_EXIT_FAILURE;
  d->o = o;
  d->ndev = o->devices;
  int rc = NB_EXIT_FAILURE;
  if (open_db(d) != 0 || nb_io_loop_new(&d->loop) != NB_OK) goto out;
  if (setup_server(d) != 0 || setup_bootstrap(d) != 0) goto out;
  /* Devices nobody prepared (`niobium client --bootstrap coap://...`) get a NoSec account after
   * approval. */
  if (put_config(d, "", false) != NB_OK) goto out;
  for (size_t i = 0; i < d->ndev; i++) {
    if (setup_device(d, i) != 0) {
      fprintf(stderr, CLI ": cannot set up simulated device %zu\n", i + 1);
      goto out;
    }
  }
  if (start_handles(d) != NB_OK) goto out;
  banner(d);
  nb_time_ms now = nb_io_loop_now(d->loop);
  for (size_t i = 0; i < d->ndev; i++) nb_client_start(d->dev[i].c, now);
  rc = nb_io_loop_run(d->loop) == NB_OK ? NB_EXIT_OK : NB_EXIT_FAILURE;
  say("demo", "-", rc == NB_EXIT_OK ? "stopped" : "the event loop failed");
out:
  teardown(d);
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
      {"http", required_argument, NULL, 'H'},    {"db", required_argument, NULL, 'd'},
      {"devices", required_argument, NULL, 'n'}, {"duration", required_argument, NULL, 't'},
      {"nosec", no_argument, NULL, 'N'},         {"log-level", required_argument, NULL, 'l'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
  demo_opts o = {.http = "127.0.0.1:8080", .devices = 4};
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
          fprintf(stderr, CLI ": --devices must be 1..%d\n", DEMO_MAX_DEVICES);
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
