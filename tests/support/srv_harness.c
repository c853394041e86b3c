/* Server engine harness for integration tests: see srv_harness.h. */
#include "srv_harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/sqlite.h"

static void srv_receive(void *user, const nb_addr *from, const uint8_t *data, size_t len,
                        nb_time_ms now) {
  nb_srv_harness *h = user;
  unsigned i = from->port >= 6000 && from->port < 6016 ? from->port - 6000u : 0;
  nb_server_receive(h->srv, from, &h->ident[i], data, len, now);
}
static nb_time_ms srv_deadline(void *user) {
  return nb_server_next_deadline(((nb_srv_harness *)user)->srv);
}
static void srv_tick(void *user, nb_time_ms now) {
  nb_server_tick(((nb_srv_harness *)user)->srv, now);
}

static void listener(void *user, const nb_server_event *ev) {
  nb_srv_harness *h = user;
  if (h->nev >= NB_SRV_MAX_EV) return;
  h->ev[h->nev] = ev->type;
  snprintf(h->ev_ep[h->nev], sizeof h->ev_ep[0], "%s", ev->reg->ep);
  h->ev_replaced[h->nev] = ev->replaced;
  snprintf(h->ev_op[h->nev], sizeof h->ev_op[0], "%s", ev->operation ? ev->operation : "");
  h->ev_refused[h->nev] = ev->refused;
  h->ev_old_port[h->nev] = ev->old_addr ? ev->old_addr->port : 0;
  h->ev_new_port[h->nev] = ev->new_addr ? ev->new_addr->port : 0;
  h->ev_value[h->nev][0] = '\0';
  if (ev->records && ev->records->len)
    nb_value_format(&ev->records->items[0].value, h->ev_value[h->nev], 64);
  h->nev++;
}

int nb_srv_count_ev(const nb_srv_harness *h, nb_server_event_type t) {
  int n = 0;
  for (int i = 0; i < h->nev; i++) n += h->ev[i] == t;
  return n;
}

void nb_srv_harness_init(nb_srv_harness *h, const nb_server_config *cfg_in) {
  static const nb_simnet_ops ops = {srv_receive, srv_deadline, srv_tick, NULL};
  memset(h, 0, sizeof(*h));
  h->net = nb_simnet_new(42);
  assert_non_null(h->net);
  h->addr = nb_simnet_addr(1, 5683);
  h->node = nb_simnet_add(h->net, &h->addr, &ops, h);
  assert_non_null(h->node);
  nb_server_config cfg;
  if (cfg_in)
    cfg = *cfg_in;
  else
    nb_server_config_default(&cfg);
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(h->net);
  cfg.coap.random = NULL;
  assert_int_equal(nb_server_new(&cfg, nb_simnet_send, h->node, &h->srv), NB_OK);
  assert_int_equal(nb_server_add_listener(h->srv, listener, h), NB_OK);
}

void nb_srv_harness_deinit(nb_srv_harness *h) {
  nb_server_free(h->srv);
  nb_simnet_free(h->net);
}

/* ---- with a store in a file ---- */

void nb_srv_db_remove(const char *path) {
  char side[96];
  unlink(path);
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", path);
  unlink(side);
}

void nb_srv_rig_init(nb_srv_rig *g) {
  memset(g, 0, sizeof *g);
  snprintf(g->db, sizeof g->db, "/tmp/nb-srv-rig-XXXXXX");
  int fd = mkstemp(g->db);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(nb_store_sqlite_open(g->db, &g->store), NB_OK);
  nb_server_config_default(&g->cfg);
  g->cfg.store = nb_store_sqlite_iface(g->store);
  nb_srv_harness_init(&g->h, &g->cfg);
}

void nb_srv_rig_restart(nb_srv_rig *g) {
  nb_server_free(g->h.srv);
  assert_int_equal(nb_server_new(&g->cfg, nb_simnet_send, g->h.node, &g->h.srv), NB_OK);
  assert_int_equal(nb_server_restore(g->h.srv, nb_simnet_now(g->h.net), NULL), NB_OK);
}

void nb_srv_rig_deinit(nb_srv_rig *g) {
  nb_srv_harness_deinit(&g->h);
  nb_store_sqlite_close(g->store);
  nb_srv_db_remove(g->db);
}

/* ---- scripted device: a CoAP endpoint that registers and answers requests ---- */

static void dev_gone(void *user, nb_coap_observer *obs, nb_err why) {
  nb_srv_device *d = user;
  (void)why;
  if (d->obs == obs) d->obs = NULL;
  d->gone++;
}

/* 4.06 or 4.15 for a format the device does not take, else 0 (and the format is noted). */
static uint8_t dev_format_refusal(nb_srv_device *d, const nb_coap_msg *req) {
  bool reads = req->code == NB_COAP_GET || req->code == NB_COAP_FETCH;
  int cf = reads ? nb_coap_msg_accept(req) : nb_coap_msg_content_format(req);
  if (d->nseen < sizeof d->seen / sizeof d->seen[0]) d->seen[d->nseen++] = cf;
  if (!d->nformats || cf == NB_COAP_CF_NONE) return 0;
  for (size_t i = 0; i < d->nformats; i++)
    if (d->formats[i] == cf) return 0;
  return reads ? NB_COAP_NOT_ACCEPTABLE : NB_COAP_UNSUPPORTED_CONTENT_FORMAT;
}

void nb_srv_dev_handler(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                        const nb_coap_msg *req, nb_time_ms now) {
  nb_srv_device *d = user;
  (void)peer;
  d->nreq++;
  d->method = req->code;
  nb_coap_msg_get_path(req, NB_COAP_OPT_URI_PATH, d->path, sizeof(d->path));
  d->accept = nb_coap_msg_accept(req);
  d->cf = nb_coap_msg_content_format(req);
  d->has_observe = nb_coap_msg_get_uint(req, NB_COAP_OPT_OBSERVE, &d->observe) == NB_OK;
  d->query[0] = '\0';
  for (size_t i = 0; i < req->option_count; i++)
    if (req->options[i].number == NB_COAP_OPT_URI_QUERY) {
      size_t n = strlen(d->query);
      snprintf(d->query + n, sizeof(d->query) - n, "%s%.*s", n ? "&" : "", (int)req->options[i].len,
               (const char *)req->options[i].value);
    }
  d->body_len = req->payload_len < sizeof(d->body) ? req->payload_len : sizeof(d->body);
  if (d->body_len) memcpy(d->body, req->payload, d->body_len);
  if (d->silent) {
    d->held = ex;
    return;
  }
  uint8_t code = dev_format_refusal(d, req);
  if (code) {
    nb_coap_msg m;
    nb_coap_msg_init(&m, NB_COAP_ACK, code, 0);
    assert_int_equal(nb_coap_exchange_respond(ex, &m, now), NB_OK);
    return;
  }
  if (d->has_observe && d->observe == 0 && NB_COAP_CLASS(d->code) == 2)
    assert_int_equal(nb_coap_exchange_observe(ex, dev_gone, d, &d->obs), NB_OK);
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_ACK, d->code, 0);
  if (d->answer_cf != NB_COAP_CF_NONE)
    nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, (uint32_t)d->answer_cf);
  if (d->answer)
    nb_coap_msg_set_payload(&m, d->answer, d->answer_len ? d->answer_len : strlen(d->answer));
  assert_int_equal(nb_coap_exchange_respond(ex, &m, now), NB_OK);
}

void nb_srv_dev_init(nb_srv_device *d, nb_srv_harness *h, unsigned n) {
  memset(d, 0, sizeof(*d));
  d->h = h;
  d->addr = nb_simnet_addr(10 + n, (uint16_t)(6000 + n));
  assert_non_null(nb_simnet_add_coap(h->net, &d->addr, NULL, &d->ep));
  nb_coap_ep_set_handler(d->ep, nb_srv_dev_handler, d);
  d->code = NB_COAP_CONTENT;
  d->answer_cf = NB_COAP_CF_NONE;
}

static void dev_resp(void *user, nb_err err, const nb_coap_msg *resp, bool last, nb_time_ms now) {
  nb_srv_device *d = user;
  (void)last;
  (void)now;
  d->resp_calls++;
  d->resp_err = err;
  d->resp_code = resp ? resp->code : 0;
  d->resp_max_age = d->resp_size1 = 0;
  if (resp) nb_coap_msg_get_uint(resp, NB_COAP_OPT_MAX_AGE, &d->resp_max_age);
  if (resp) nb_coap_msg_get_uint(resp, NB_COAP_OPT_SIZE1, &d->resp_size1);
  if (resp && resp->code == NB_COAP_CREATED)
    nb_coap_msg_get_path(resp, NB_COAP_OPT_LOCATION_PATH, d->location, sizeof(d->location));
}

static bool dev_answered(void *user) { return ((nb_srv_device *)user)->resp_calls > 0; }

/* Sends a request from the device and runs the network until its answer; returns the code. */
uint8_t nb_srv_dev_send(nb_srv_device *d, uint8_t method, const char *path,
                        const char *const *queries, int cf, const char *payload) {
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, method, 0);
  assert_int_equal(nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, path), NB_OK);
  if (cf != NB_COAP_CF_NONE) nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, (uint32_t)cf);
  for (size_t i = 0; queries && queries[i]; i++)
    assert_int_equal(nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, queries[i]), NB_OK);
  if (payload) nb_coap_msg_set_payload(&m, payload, strlen(payload));
  d->resp_calls = 0;
  nb_time_ms now = nb_simnet_now(d->h->net);
  assert_int_equal(nb_coap_ep_request(d->ep, &d->h->addr, &m, true, dev_resp, d, now, NULL), NB_OK);
  assert_true(nb_simnet_run_until_cond(d->h->net, now + 300000, dev_answered, d));
  return d->resp_err == NB_OK ? d->resp_code : 0;
}

uint8_t nb_srv_dev_register_links(nb_srv_device *d, const char *ep, const char *links,
                                  const char *extra1, const char *extra2) {
  char epq[96];
  snprintf(epq, sizeof(epq), "ep=%s", ep);
  const char *q[] = {epq, extra1, extra2, NULL};
  return nb_srv_dev_send(d, NB_COAP_POST, "/rd", q, NB_COAP_CF_LINK_FORMAT, links);
}

uint8_t nb_srv_dev_register(nb_srv_device *d, const char *ep, const char *extra1,
                            const char *extra2) {
  return nb_srv_dev_register_links(d, ep, "</1/0>,</3/0>,</3303/0>", extra1, extra2);
}
