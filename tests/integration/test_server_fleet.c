/* A fleet of real client engines against the real server engine, in-process over the simulated
 * network with loss, duplication and reordering on a virtual clock: everyone registers, every
 * management operation runs on every device (typed read, write and read-back, execute, create
 * and delete, write-attributes and observe with notifications reaching the server listener),
 * device errors come back as their CoAP codes, some devices de-register, some go silent and
 * expire while updates keep the rest alive; and credential binding over DTLS (a PSK device with
 * identity A registering as endpoint B gets 4.03). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dtls/server.h"
#include "lwm2m/format.h"
#include "niobium/client.h"
#include "server/server.h"
#include "simnet.h"
#include "store/sqlite.h"

#define FLEET 50
#define N_DEREG 5
#define N_SILENT 5
#define LIFETIME 120

/* ---- one device: a real client engine on a node; dead = stopped answering for good ---- */

typedef struct {
  nb_client *c;
  nb_simnet_node *node;
  nb_addr addr;
  char ep[32];
  bool dead;
  int reboots;
  int reg_failed;
  nb_err last_err;
} device;

static void c_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  device *dv = u;
  if (!dv->dead) nb_client_receive(dv->c, from, d, n, now);
}
static nb_time_ms c_deadline(void *u) {
  device *dv = u;
  return dv->dead ? NB_TIME_NEVER : nb_client_next_deadline(dv->c);
}
static void c_tick(void *u, nb_time_ms now) {
  device *dv = u;
  if (!dv->dead) nb_client_tick(dv->c, now);
}
static const nb_simnet_ops client_ops = {c_recv, c_deadline, c_tick, NULL};

static void c_event(void *u, nb_client_event ev, uint16_t ssid, nb_err err, nb_time_ms now) {
  device *dv = u;
  (void)ssid, (void)now;
  if (ev == NB_CLIENT_EV_REBOOT) dv->reboots++;
  if (ev == NB_CLIENT_EV_REG_FAILED) {
    dv->reg_failed++;
    dv->last_err = err;
  }
}

/* ---- the server, NoSec or behind an nb_dtls_server ---- */

typedef struct {
  nb_simnet *net;
  nb_server *srv;
  nb_store_sqlite *store;
  nb_simnet_node *node;
  nb_addr addr;
  nb_dtls_server *dtls;
  nb_dtls_creds *creds;
  int ev[NB_SEV_SEND + 1];
  int notif_of[FLEET];
  device dev[FLEET];
  size_t ndev;
  nb_addr watch;      /* plaintext responses to this peer are recorded (before DTLS) */
  uint8_t watch_code; /* last response code sent to it */
} fleet;

static nb_server_identity identity_of(fleet *f, const nb_addr *peer) {
  nb_server_identity id = {.kind = NB_SERVER_ID_NONE};
  nb_dtls_session *s = f->dtls ? nb_dtls_server_find(f->dtls, peer) : NULL;
  const nb_dtls_peer *p = s ? nb_dtls_session_peer(s) : NULL;
  if (p && p->mode == NB_DTLS_MODE_PSK) {
    id.kind = NB_SERVER_ID_PSK;
    snprintf(id.value, sizeof id.value, "%s", p->identity);
  }
  return id;
}
static void plain_in(fleet *f, const nb_addr *peer, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_server_identity id = identity_of(f, peer);
  nb_server_receive(f->srv, peer, &id, d, n, now);
}
static void dtls_send(void *u, const nb_addr *p, const uint8_t *d, size_t n) {
  nb_simnet_send(((fleet *)u)->node, p, d, n);
}
static void dtls_recv(void *u, const nb_addr *p, const uint8_t *d, size_t n, nb_time_ms now) {
  plain_in(u, p, d, n, now);
}
static void dtls_event(void *u, const nb_addr *p, nb_dtls_session *s, const nb_dtls_event *ev,
                       nb_time_ms now) {
  (void)u, (void)p, (void)s, (void)ev, (void)now;
}
static void srv_send(void *u, const nb_addr *p, const uint8_t *d, size_t n) {
  fleet *f = u;
  nb_coap_msg m;
  if (nb_addr_equal(p, &f->watch) && nb_coap_parse(d, n, &m) == NB_OK && m.code >= 0x40)
    f->watch_code = m.code;
  if (f->dtls)
    nb_dtls_server_send(f->dtls, p, d, n);
  else
    nb_simnet_send(f->node, p, d, n);
}
static void srv_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  fleet *f = u;
  if (f->dtls)
    nb_dtls_server_receive(f->dtls, from, d, n, now);
  else
    plain_in(f, from, d, n, now);
}
static nb_time_ms srv_deadline(void *u) {
  fleet *f = u;
  nb_time_ms a = nb_server_next_deadline(f->srv);
  nb_time_ms b = f->dtls ? nb_dtls_server_next_deadline(f->dtls) : NB_TIME_NEVER;
  return a < b ? a : b;
}
static void srv_tick(void *u, nb_time_ms now) {
  fleet *f = u;
  if (f->dtls) nb_dtls_server_tick(f->dtls, now);
  nb_server_tick(f->srv, now);
}
static const nb_simnet_ops srv_ops = {srv_recv, srv_deadline, srv_tick, NULL};

static void on_event(void *u, const nb_server_event *ev) {
  fleet *f = u;
  f->ev[ev->type]++;
  if (ev->type != NB_SEV_NOTIFICATION) return;
  int k = -1;
  if (sscanf(ev->reg->ep, "fleet-%d", &k) == 1 && k >= 0 && k < FLEET) f->notif_of[k]++;
}

static nb_err psk_lookup(void *u, const uint8_t *ident, size_t len, uint8_t *key, size_t cap,
                         size_t *klen) {
  fleet *f = u;
  char id[NB_SERVER_IDENT_MAX];
  if (len >= sizeof id) return NB_ERR_NOT_FOUND;
  memcpy(id, ident, len);
  id[len] = '\0';
  nb_server_store st = nb_store_sqlite_iface(f->store);
  nb_server_sec_info s;
  if (st.ops->sec_find(st.self, NB_SERVER_ID_PSK, id, &s) != NB_OK || s.key_len > cap)
    return NB_ERR_NOT_FOUND;
  memcpy(key, s.key, s.key_len);
  *klen = s.key_len;
  return NB_OK;
}

static void fleet_setup(fleet *f, uint64_t seed, bool lossy, bool dtls) {
  memset(f, 0, sizeof *f);
  f->net = nb_simnet_new(seed);
  if (lossy) {
    nb_simnet_link l = {.drop = 0.05,
                        .duplicate = 0.05,
                        .delay_min = 5,
                        .delay_max = 60,
                        .reorder = 0.1,
                        .reorder_delay = 400};
    nb_simnet_set_link(f->net, &l);
  }
  assert_int_equal(nb_store_sqlite_open(":memory:", &f->store), NB_OK);
  nb_server_config sc;
  nb_server_config_default(&sc);
  sc.store = nb_store_sqlite_iface(f->store);
  sc.random = nb_simnet_rng_fill;
  sc.random_user = nb_simnet_rng_of(f->net);
  sc.coap.random = NULL;
  f->addr = nb_simnet_addr(1, dtls ? 5684 : 5683);
  f->node = nb_simnet_add(f->net, &f->addr, &srv_ops, f);
  assert_non_null(f->node);
  assert_int_equal(nb_server_new(&sc, srv_send, f, &f->srv), NB_OK);
  assert_int_equal(nb_server_add_listener(f->srv, on_event, f), NB_OK);
  if (dtls) {
    assert_int_equal(nb_dtls_creds_new(&f->creds), NB_OK);
    nb_dtls_creds_set_psk_lookup(f->creds, psk_lookup, f);
    nb_dtls_server_config cfg;
    nb_dtls_server_config_default(&cfg);
    cfg.random = nb_simnet_rng_fill;
    cfg.random_user = nb_simnet_rng_of(f->net);
    nb_dtls_handlers h = {dtls_send, dtls_recv, dtls_event, f};
    assert_int_equal(nb_dtls_server_new(&cfg, f->creds, &h, &f->dtls), NB_OK);
  }
}

static void fleet_teardown(fleet *f) {
  for (size_t i = 0; i < f->ndev; i++) nb_client_free(f->dev[i].c);
  nb_server_free(f->srv);
  nb_simnet_free(f->net);
  nb_dtls_server_free(f->dtls);
  nb_dtls_creds_free(f->creds);
  nb_store_sqlite_close(f->store);
}

/* A device with objects 3 and 3303 (temperature, instance 0 at 21.5), NoSec or PSK. */
static device *add_device(fleet *f, const char *ep, const char *psk_id, const char *psk_key) {
  device *dv = &f->dev[f->ndev];
  memset(dv, 0, sizeof *dv);
  snprintf(dv->ep, sizeof dv->ep, "%s", ep);
  dv->addr = nb_simnet_addr(100 + (unsigned)f->ndev, 56830);
  dv->node = nb_simnet_add(f->net, &dv->addr, &client_ops, dv);
  assert_non_null(dv->node);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = dv->ep;
  cfg.send = nb_simnet_send;
  cfg.send_user = dv->node;
  cfg.on_event = c_event;
  cfg.event_user = dv;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  assert_int_equal(nb_client_new(&cfg, &dv->c), NB_OK);
  f->ndev++;
  nb_client_device_info d = {.manufacturer = "ACME",
                             .model = "Fleet-1",
                             .battery_level = 80,
                             .memory_free_kb = -1,
                             .memory_total_kb = -1,
                             .timezone = "UTC"};
  assert_int_equal(nb_client_add_device(dv->c, &d), NB_OK);
  nb_object *t = nb_store_object_new(nb_model_object(nb_client_model(dv->c), 3303), NULL);
  assert_non_null(t);
  assert_int_equal(nb_store_object_add_instance(t, 0), NB_OK);
  nb_value v = nb_value_float(21.5);
  nb_path p = nb_path_res(3303, 0, 5700);
  assert_int_equal(nb_store_object_set(t, &p, &v), NB_OK);
  assert_int_equal(nb_client_add_object(dv->c, t, 0), NB_OK);
  char uri[64];
  snprintf(uri, sizeof uri, "%s://10.0.0.1:%u", psk_id ? "coaps" : "coap", f->addr.port);
  nb_client_server_params sp = {.uri = uri, .ssid = 101, .lifetime = LIFETIME};
  if (psk_id) {
    sp.security_mode = 0;
    sp.identity = (const uint8_t *)psk_id;
    sp.identity_len = strlen(psk_id);
    sp.secret = (const uint8_t *)psk_key;
    sp.secret_len = strlen(psk_key);
  } else {
    sp.security_mode = 3;
  }
  assert_int_equal(nb_client_add_server(dv->c, &sp), NB_OK);
  return dv;
}

static bool dev_registered(const device *dv) {
  nb_client_srv_state st;
  return nb_client_server_state(dv->c, 101, &st, NULL, 0) == NB_OK &&
         (st == NB_CLIENT_SRV_REGISTERED || st == NB_CLIENT_SRV_UPDATING);
}

static bool dev_registered_cb(void *u) { return dev_registered(u); }

static bool all_registered(void *u) {
  fleet *f = u;
  for (size_t i = 0; i < f->ndev; i++)
    if (!dev_registered(&f->dev[i])) return false;
  return nb_server_count(f->srv) == f->ndev;
}

/* ---- requests, one per live device at a time ---- */

typedef struct {
  int calls, finals;
  nb_err err;
  uint8_t code;
  nb_value_type type;
  char value[128];
  size_t nrec;
  char location[64];
} result;

static void on_result(void *user, uint64_t id, const nb_server_result *res, bool last) {
  result *r = user;
  (void)id;
  r->calls++;
  r->finals += last;
  r->err = res->err;
  r->code = res->code;
  r->value[0] = '\0';
  r->type = NB_VT_NONE;
  r->nrec = res->records ? res->records->len : 0;
  if (r->nrec) {
    r->type = res->records->items[0].value.type;
    nb_value_format(&res->records->items[0].value, r->value, sizeof r->value);
  }
  snprintf(r->location, sizeof r->location, "%s", res->location ? res->location : "");
}

typedef struct {
  result *rs;
  size_t n;
  int want_calls;
} batch;

static bool batch_done(void *u) {
  batch *b = u;
  for (size_t i = 0; i < b->n; i++)
    if (b->rs[i].calls < b->want_calls) return false;
  return true;
}

/* Sends req to each of the first n devices at once and runs until every one answered. */
static void run_batch(fleet *f, size_t n, const nb_server_request *req, result *rs, uint64_t *ids) {
  memset(rs, 0, n * sizeof *rs);
  nb_time_ms now = nb_simnet_now(f->net);
  for (size_t i = 0; i < n; i++) {
    uint64_t id = 0;
    bool queued = true;
    assert_int_equal(
        nb_server_send_request(f->srv, f->dev[i].ep, req, on_result, &rs[i], now, &id, &queued),
        NB_OK);
    assert_false(queued);
    if (ids) ids[i] = id;
  }
  batch b = {rs, n, 1};
  assert_true(nb_simnet_run_until_cond(f->net, now + 300000, batch_done, &b));
}

static void run_one(fleet *f, size_t i, const nb_server_request *req, result *r) {
  memset(r, 0, sizeof *r);
  nb_time_ms now = nb_simnet_now(f->net);
  uint64_t id = 0;
  assert_int_equal(nb_server_send_request(f->srv, f->dev[i].ep, req, on_result, r, now, &id, NULL),
                   NB_OK);
  batch b = {r, 1, 1};
  assert_true(nb_simnet_run_until_cond(f->net, now + 300000, batch_done, &b));
  assert_int_equal(r->err, NB_OK);
}

static void start_fleet(fleet *f) {
  for (size_t i = 0; i < FLEET; i++) {
    char ep[32];
    snprintf(ep, sizeof ep, "fleet-%02zu", i);
    add_device(f, ep, NULL, NULL);
    /* Staggered starts, as a real fleet powers up. */
    assert_int_equal(nb_client_start(f->dev[i].c, (nb_time_ms)i * 20), NB_OK);
  }
  assert_true(nb_simnet_run_until_cond(f->net, 300000, all_registered, f));
  assert_int_equal(nb_server_count(f->srv), FLEET);
  assert_true(f->ev[NB_SEV_REGISTRATION] >= FLEET);
  for (size_t i = 0; i < FLEET; i++) {
    const nb_server_reg_info *ri = nb_server_find(f->srv, f->dev[i].ep);
    assert_non_null(ri);
    assert_true(nb_addr_equal(&ri->addr, &f->dev[i].addr));
    assert_int_equal(ri->lifetime, LIFETIME);
    assert_non_null(strstr(ri->links, "</3303/0>"));
  }
}

/* Every observation's latest value is 30 + its device index. */
static bool all_changed(void *u) {
  const result *rs = u;
  for (size_t i = 0; i < FLEET; i++) {
    char want[16];
    snprintf(want, sizeof want, "%zu", 30 + i);
    if (strcmp(rs[i].value, want) != 0) return false;
  }
  return true;
}

/* ---- tests ---- */

/* Register, every management operation on every device, observe, de-register, expire. */
static void test_fleet_lifecycle(void **state) {
  (void)state;
  static fleet f;
  static result rs[FLEET];
  static uint64_t obs_ids[FLEET];
  fleet_setup(&f, 4242, true, false);
  start_fleet(&f);

  /* Typed read of /3/0/0 (a String by definition) on everyone. */
  nb_server_request rd0 = {.op = NB_SOP_READ, .path = nb_path_res(3, 0, 0)};
  run_batch(&f, FLEET, &rd0, rs, NULL);
  for (size_t i = 0; i < FLEET; i++) {
    assert_int_equal(rs[i].err, NB_OK);
    assert_int_equal(rs[i].code, NB_COAP_CONTENT);
    assert_int_equal(rs[i].type, NB_VT_STRING);
    assert_string_equal(rs[i].value, "ACME");
  }
  /* Battery level is an Integer, the temperature a Float. */
  nb_server_request rd9 = {.op = NB_SOP_READ, .path = nb_path_res(3, 0, 9)};
  run_batch(&f, FLEET, &rd9, rs, NULL);
  for (size_t i = 0; i < FLEET; i++) {
    assert_int_equal(rs[i].type, NB_VT_INT);
    assert_string_equal(rs[i].value, "80");
  }

  /* Write a different time zone to each device, then read each one back. */
  for (size_t i = 0; i < FLEET; i++) {
    nb_records recs;
    nb_records_init(&recs);
    char tz[32];
    snprintf(tz, sizeof tz, "Etc/GMT+%zu", i % 12);
    nb_value v = nb_value_none();
    assert_int_equal(nb_value_set_string(&v, tz, strlen(tz)), NB_OK);
    nb_path p = nb_path_res(3, 0, 15);
    assert_int_equal(nb_records_add(&recs, &p, &v), NB_OK);
    nb_server_request wr = {.op = NB_SOP_WRITE_REPLACE, .path = p, .records = &recs};
    memset(&rs[i], 0, sizeof rs[i]);
    uint64_t id;
    assert_int_equal(nb_server_send_request(f.srv, f.dev[i].ep, &wr, on_result, &rs[i],
                                            nb_simnet_now(f.net), &id, NULL),
                     NB_OK);
    nb_records_deinit(&recs); /* encoded at submission */
  }
  batch b = {rs, FLEET, 1};
  assert_true(nb_simnet_run_until_cond(f.net, nb_simnet_now(f.net) + 300000, batch_done, &b));
  for (size_t i = 0; i < FLEET; i++) assert_int_equal(rs[i].code, NB_COAP_CHANGED);
  nb_server_request rd15 = {.op = NB_SOP_READ, .path = nb_path_res(3, 0, 15)};
  run_batch(&f, FLEET, &rd15, rs, NULL);
  for (size_t i = 0; i < FLEET; i++) {
    char tz[32];
    snprintf(tz, sizeof tz, "Etc/GMT+%zu", i % 12);
    assert_int_equal(rs[i].code, NB_COAP_CONTENT);
    assert_string_equal(rs[i].value, tz);
  }

  /* Execute Reboot: the device application hears it. */
  nb_server_request ex = {.op = NB_SOP_EXECUTE, .path = nb_path_res(3, 0, 4)};
  run_batch(&f, FLEET, &ex, rs, NULL);
  for (size_t i = 0; i < FLEET; i++) {
    assert_int_equal(rs[i].code, NB_COAP_CHANGED);
    assert_int_equal(f.dev[i].reboots, 1);
  }

  /* Create a second temperature instance, read it, delete it, and it is gone. */
  nb_records crecs;
  nb_records_init(&crecs);
  nb_value cv = nb_value_float(-4.25);
  nb_path cp = nb_path_res(3303, 1, 5700);
  assert_int_equal(nb_records_add(&crecs, &cp, &cv), NB_OK);
  nb_server_request cr = {.op = NB_SOP_CREATE, .path = nb_path_obj(3303), .records = &crecs};
  run_batch(&f, FLEET, &cr, rs, NULL);
  nb_records_deinit(&crecs);
  for (size_t i = 0; i < FLEET; i++) {
    assert_int_equal(rs[i].code, NB_COAP_CREATED);
    assert_string_equal(rs[i].location, "/3303/1");
  }
  nb_server_request rd1 = {.op = NB_SOP_READ, .path = cp};
  run_batch(&f, FLEET, &rd1, rs, NULL);
  for (size_t i = 0; i < FLEET; i++) {
    assert_int_equal(rs[i].code, NB_COAP_CONTENT);
    assert_int_equal(rs[i].type, NB_VT_FLOAT);
    assert_string_equal(rs[i].value, "-4.25");
  }
  nb_server_request del = {.op = NB_SOP_DELETE, .path = nb_path_inst(3303, 1)};
  run_batch(&f, FLEET, &del, rs, NULL);
  for (size_t i = 0; i < FLEET; i++) assert_int_equal(rs[i].code, NB_COAP_DELETED);
  run_batch(&f, FLEET, &rd1, rs, NULL);
  for (size_t i = 0; i < FLEET; i++) assert_int_equal(rs[i].code, NB_COAP_NOT_FOUND);

  /* Write-Attributes then Observe the temperature; a change notifies the server listener. */
  nb_attrs at;
  nb_attrs_init(&at);
  at.set = NB_ATTR_PMIN | NB_ATTR_PMAX;
  at.pmin = 1;
  at.pmax = 30;
  nb_server_request wa = {
      .op = NB_SOP_WRITE_ATTRS, .path = nb_path_res(3303, 0, 5700), .attrs = &at};
  run_batch(&f, FLEET, &wa, rs, NULL);
  for (size_t i = 0; i < FLEET; i++) assert_int_equal(rs[i].code, NB_COAP_CHANGED);
  nb_server_request ob = {.op = NB_SOP_OBSERVE, .path = nb_path_res(3303, 0, 5700)};
  run_batch(&f, FLEET, &ob, rs, obs_ids);
  for (size_t i = 0; i < FLEET; i++) {
    assert_int_equal(rs[i].code, NB_COAP_CONTENT);
    assert_string_equal(rs[i].value, "21.5");
    assert_int_equal(rs[i].finals, 0); /* the observation goes on */
    assert_int_equal(nb_client_observation_count(f.dev[i].c), 1);
  }
  nb_time_ms now = nb_simnet_now(f.net);
  for (size_t i = 0; i < FLEET; i++) {
    nb_object *t = nb_client_object(f.dev[i].c, 3303);
    nb_path p = nb_path_res(3303, 0, 5700);
    nb_value v = nb_value_float(30.0 + (double)i);
    assert_int_equal(nb_store_object_set(t, &p, &v), NB_OK);
    nb_client_value_changed(f.dev[i].c, &p, now);
  }
  /* Notifications are NON and some get lost: pmax makes the device repeat the value. */
  assert_true(nb_simnet_run_until_cond(f.net, now + 120000, all_changed, rs));
  for (size_t i = 0; i < FLEET; i++) {
    assert_int_equal(rs[i].err, NB_OK);
    assert_int_equal(rs[i].type, NB_VT_FLOAT);
    assert_true(rs[i].calls >= 2);
    assert_true(f.notif_of[i] >= 1); /* the listener saw it too */
  }
  assert_true(f.ev[NB_SEV_NOTIFICATION] >= FLEET);

  /* A few de-register; a few stop answering; updates keep the rest alive. */
  for (size_t i = 0; i < N_DEREG; i++)
    assert_int_equal(nb_client_deregister(f.dev[i].c, nb_simnet_now(f.net)), NB_OK);
  for (size_t i = N_DEREG; i < N_DEREG + N_SILENT; i++) f.dev[i].dead = true;
  int updated_before = f.ev[NB_SEV_UPDATED];
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 3 * LIFETIME * 1000);
  assert_int_equal(f.ev[NB_SEV_DEREGISTRATION], N_DEREG);
  assert_int_equal(f.ev[NB_SEV_EXPIRED], N_SILENT);
  for (size_t i = 0; i < N_DEREG; i++) assert_true(nb_client_done(f.dev[i].c));
  for (size_t i = 0; i < N_DEREG + N_SILENT; i++) assert_null(nb_server_find(f.srv, f.dev[i].ep));
  assert_int_equal(nb_server_count(f.srv), FLEET - N_DEREG - N_SILENT);
  /* Each survivor updated at least twice over three lifetimes. */
  assert_true(f.ev[NB_SEV_UPDATED] - updated_before >= 2 * (FLEET - N_DEREG - N_SILENT));
  for (size_t i = N_DEREG + N_SILENT; i < FLEET; i++) {
    assert_true(dev_registered(&f.dev[i]));
    assert_non_null(nb_server_find(f.srv, f.dev[i].ep));
    assert_int_equal(nb_server_observations(f.srv, f.dev[i].ep, NULL, 0), 1);
  }
  /* The observations of survivors still deliver after all that. */
  now = nb_simnet_now(f.net);
  int before = f.ev[NB_SEV_NOTIFICATION];
  for (size_t i = N_DEREG + N_SILENT; i < FLEET; i++) {
    nb_path p = nb_path_res(3303, 0, 5700);
    nb_value v = nb_value_float(-1.0);
    assert_int_equal(nb_store_object_set(nb_client_object(f.dev[i].c, 3303), &p, &v), NB_OK);
    nb_client_value_changed(f.dev[i].c, &p, now);
  }
  nb_simnet_run_until(f.net, now + 60000);
  assert_true(f.ev[NB_SEV_NOTIFICATION] - before >= FLEET - N_DEREG - N_SILENT);
  for (size_t i = N_DEREG + N_SILENT; i < FLEET; i++) assert_string_equal(rs[i].value, "-1");
  /* A request to an expired endpoint is refused at once. */
  uint64_t id;
  assert_int_equal(nb_server_send_request(f.srv, f.dev[N_DEREG].ep, &rd0, on_result, &rs[0],
                                          nb_simnet_now(f.net), &id, NULL),
                   NB_ERR_NOT_FOUND);
  nb_simnet_stats st;
  nb_simnet_get_stats(f.net, &st);
  assert_true(st.dropped > 0 && st.duplicated > 0); /* the network really was lossy */
  fleet_teardown(&f);
}

/* Every device error the client can be driven to, as its CoAP code. */
static void test_fleet_error_paths(void **state) {
  (void)state;
  static fleet f;
  fleet_setup(&f, 77, true, false);
  add_device(&f, "fleet-00", NULL, NULL);
  assert_int_equal(nb_client_start(f.dev[0].c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 300000, all_registered, &f));
  result r;

  /* 4.04: an object, an instance and a resource the device does not have. */
  nb_server_request rd = {.op = NB_SOP_READ, .path = nb_path_inst(3303, 7)};
  run_one(&f, 0, &rd, &r);
  assert_int_equal(r.code, NB_COAP_NOT_FOUND);
  rd.path = nb_path_obj(3304);
  run_one(&f, 0, &rd, &r);
  assert_int_equal(r.code, NB_COAP_NOT_FOUND);
  rd.path = nb_path_res(3303, 0, 5601); /* defined, optional, never set on this device */
  run_one(&f, 0, &rd, &r);
  assert_int_equal(r.code, NB_COAP_NOT_FOUND);

  /* 4.05: execute a readable resource, write a read-only one, read an executable one. */
  nb_server_request ex = {.op = NB_SOP_EXECUTE, .path = nb_path_res(3, 0, 0)};
  run_one(&f, 0, &ex, &r);
  assert_int_equal(r.code, NB_COAP_METHOD_NOT_ALLOWED);
  nb_records recs;
  nb_records_init(&recs);
  nb_value v = nb_value_none();
  assert_int_equal(nb_value_set_string(&v, "Evil Corp", 9), NB_OK);
  nb_path p0 = nb_path_res(3, 0, 0);
  assert_int_equal(nb_records_add(&recs, &p0, &v), NB_OK);
  nb_server_request wr = {.op = NB_SOP_WRITE_REPLACE, .path = p0, .records = &recs};
  run_one(&f, 0, &wr, &r);
  assert_int_equal(r.code, NB_COAP_METHOD_NOT_ALLOWED);
  nb_records_deinit(&recs);
  rd.path = nb_path_res(3, 0, 4);
  run_one(&f, 0, &rd, &r);
  assert_int_equal(r.code, NB_COAP_METHOD_NOT_ALLOWED);
  /* Delete of an object (not an instance) is not a method it takes. */
  nb_server_request del = {.op = NB_SOP_DELETE, .path = nb_path_obj(3303)};
  run_one(&f, 0, &del, &r);
  assert_int_equal(r.code, NB_COAP_METHOD_NOT_ALLOWED);

  /* 4.00: a plain-text payload that is not the resource's type (Current Time is a Time). */
  nb_records_init(&recs);
  v = nb_value_none();
  assert_int_equal(nb_value_set_string(&v, "plenty", 6), NB_OK);
  nb_path p9 = nb_path_res(3, 0, 13);
  assert_int_equal(nb_records_add(&recs, &p9, &v), NB_OK);
  nb_server_request bad = {.op = NB_SOP_WRITE_REPLACE,
                           .path = p9,
                           .records = &recs,
                           .has_format = true,
                           .format = NB_COAP_CF_TEXT};
  run_one(&f, 0, &bad, &r);
  assert_int_equal(r.code, NB_COAP_BAD_REQUEST);
  nb_records_deinit(&recs);
  /* Nothing the errors did changed the device: it still reads fine. */
  rd.path = p0;
  run_one(&f, 0, &rd, &r);
  assert_string_equal(r.value, "ACME");
  fleet_teardown(&f);
}

static void put_psk(fleet *f, const char *ep, const char *identity, const char *key) {
  nb_server_sec_info s = {.kind = NB_SERVER_ID_PSK};
  snprintf(s.ep, sizeof s.ep, "%s", ep);
  snprintf(s.identity, sizeof s.identity, "%s", identity);
  s.key_len = strlen(key);
  memcpy(s.key, key, s.key_len);
  nb_server_store st = nb_store_sqlite_iface(f->store);
  assert_int_equal(st.ops->sec_put(st.self, &s), NB_OK);
}

static bool failed_once(void *u) { return ((device *)u)->reg_failed > 0; }

/* Identity A may register as A only: as B it gets 4.03 over a working DTLS session. */
static void test_credential_binding_dtls(void **state) {
  (void)state;
  static fleet f;
  fleet_setup(&f, 99, true, true);
  put_psk(&f, "fleet-00", "id-a", "key-of-device-a!");
  put_psk(&f, "fleet-01", "id-b", "key-of-device-b!");
  device *a = add_device(&f, "fleet-00", "id-a", "key-of-device-a!");
  device *thief = add_device(&f, "fleet-01", "id-a", "key-of-device-a!");
  f.watch = thief->addr;
  assert_int_equal(nb_client_start(thief->c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 300000, failed_once, thief));
  assert_int_equal(f.watch_code, NB_COAP_FORBIDDEN);
  assert_int_equal(thief->last_err, NB_ERR_STATE); /* the client's word for "not 2.01" */
  assert_null(nb_server_find(f.srv, "fleet-01"));
  nb_server_stats stats;
  nb_server_get_stats(f.srv, &stats);
  assert_true(stats.rejected >= 1);
  assert_int_equal(f.ev[NB_SEV_REGISTRATION], 0);
  /* The session itself was fine: the owner of A registers and is managed over it. */
  assert_int_equal(nb_client_start(a->c, nb_simnet_now(f.net)), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, nb_simnet_now(f.net) + 300000, dev_registered_cb, a));
  const nb_server_reg_info *ri = nb_server_find(f.srv, "fleet-00");
  assert_non_null(ri);
  assert_int_equal(ri->identity.kind, NB_SERVER_ID_PSK);
  assert_string_equal(ri->identity.value, "id-a");
  result r;
  nb_server_request rd = {.op = NB_SOP_READ, .path = nb_path_res(3, 0, 0)};
  run_one(&f, 0, &rd, &r);
  assert_string_equal(r.value, "ACME");
  assert_null(nb_server_find(f.srv, "fleet-01"));
  fleet_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fleet_lifecycle),
      cmocka_unit_test(test_fleet_error_paths),
      cmocka_unit_test(test_credential_binding_dtls),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
