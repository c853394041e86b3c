/* The server's firmware service (src/fw) in-process, on the simulated network with the virtual
 * clock, against scripted devices that implement object 5 the way the LwM2M 1.1 spec says
 * (E.6): Block1 pushes of /5/0/0 reassembled by their CoAP layer (one asks for 256-byte blocks,
 * one has room for less than the image), pulls of the URI written to /5/0/1 from the server's
 * own /fw resource by Block2, State and Update Result observed, Execute of /5/0/2 applied a few
 * seconds later (optionally with a re-registration, as after a reboot). Campaigns complete over
 * 20 % loss, survive a restart of the engines from their SQLite store, pause, resume and
 * cancel, and an image in use cannot be deleted. */
#include <gnutls/crypto.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coap/block.h"
#include "fw/fwupdate.h"
#include "lwm2m/format.h"
#include "simnet.h"
#include "srv_harness.h"

#define MAXDEV 12

typedef struct {
  nb_srv_device d;
  char name[32];
  int state, result;
  nb_coap_observer *obs[2]; /* /5/0/3, /5/0/5 */
  bool reregister;          /* apply = reboot: register again */
  nb_time_ms apply_at;      /* 0: nothing to apply */
  nb_time_ms started_at;    /* a pull under way: no second one */
  int updates;
  size_t blocks;    /* Block1 requests seen for /5/0/0 */
  size_t max_block; /* largest Block1 payload seen */
  bool pulled;
} fake_dev;

typedef struct {
  nb_srv_rig rig;
  nb_fws *fw;
  nb_simnet_node *fw_node;
  uint8_t *img;
  size_t img_len;
  char sha[NB_FWS_SHA_HEX];
  fake_dev devs[MAXDEV];
  size_t ndev;
  int events;
} fixture;

static fixture *cur; /* for the device handlers (one fixture at a time) */

/* ---- the image "on disk": memory here ---- */

static nb_err read_img(void *user, const char *sha, uint64_t off, uint8_t *buf, size_t len,
                       size_t *n) {
  fixture *fx = user;
  if (strcmp(sha, fx->sha) != 0) return NB_ERR_NOT_FOUND;
  *n = off >= fx->img_len ? 0 : (fx->img_len - off < len ? fx->img_len - off : len);
  memcpy(buf, fx->img + off, *n);
  return NB_OK;
}

static void sha_hex(const uint8_t *data, size_t len, char out[65]) {
  uint8_t d[32];
  assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, d), 0);
  for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

/* ---- the fake devices ---- */

static void respond(nb_coap_exchange *ex, uint8_t code, int cf, const char *body, nb_time_ms now) {
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_ACK, code, 0);
  if (cf != NB_COAP_CF_NONE) nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, (uint32_t)cf);
  if (body) nb_coap_msg_set_payload(&m, body, strlen(body));
  nb_coap_exchange_respond(ex, &m, now);
}

static void notify(fake_dev *f, int which, nb_time_ms now) {
  if (!f->obs[which]) return;
  char v[8];
  snprintf(v, sizeof v, "%d", which ? f->result : f->state);
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_CONTENT, 0);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_TEXT);
  nb_coap_msg_set_payload(&m, v, strlen(v));
  nb_coap_ep_notify(f->d.ep, f->obs[which], &m, true, now);
}

static void set_fw(fake_dev *f, int state, int result, nb_time_ms now) {
  if (state != f->state) {
    f->state = state;
    notify(f, 0, now);
  }
  if (result != f->result) {
    f->result = result;
    notify(f, 1, now);
  }
}

static void obs_gone(void *user, nb_coap_observer *obs, nb_err why) {
  fake_dev *f = user;
  (void)why;
  for (int i = 0; i < 2; i++)
    if (f->obs[i] == obs) f->obs[i] = NULL;
}

/* A downloaded package: the image or not (integrity check). */
static void downloaded(fake_dev *f, const uint8_t *data, size_t len, nb_time_ms now) {
  char sha[65];
  sha_hex(data, len, sha);
  if (strcmp(sha, cur->sha) != 0) {
    set_fw(f, 0, 5, now);
    return;
  }
  set_fw(f, 2, 0, now);
}

static void on_pulled(void *user, nb_err err, const nb_coap_msg *resp, bool last, nb_time_ms now) {
  fake_dev *f = user;
  (void)last;
  f->started_at = 0;
  f->pulled = true;
  if (err != NB_OK || !resp || resp->code != NB_COAP_CONTENT) {
    set_fw(f, 0, 4, now); /* connection lost during download */
    return;
  }
  downloaded(f, resp->payload, resp->payload_len, now);
}

/* /5/0/1 written: fetch the URI (coap://10.0.0.1:5683/fw/ID) from the server. */
static uint8_t start_pull(fake_dev *f, const nb_coap_msg *req, nb_time_ms now) {
  nb_records recs;
  nb_records_init(&recs);
  nb_path base = {{5, 0, 1, 0}, NB_PATH_RESOURCE};
  nb_format_opts o = {.base = &base};
  int cf = nb_coap_msg_content_format(req);
  nb_err rc = nb_format_decode_ex(cf == NB_COAP_CF_NONE ? 0 : cf, req->payload, req->payload_len,
                                  &o, &recs, NULL);
  const nb_record *r = rc == NB_OK ? nb_records_find(&recs, &base) : NULL;
  char uri[200] = "";
  if (r && (r->value.type == NB_VT_STRING || r->value.type == NB_VT_OPAQUE))
    snprintf(uri, sizeof uri, "%.*s", (int)r->value.v.bytes.len, r->value.v.bytes.data);
  nb_records_deinit(&recs);
  const char *prefix = "coap://10.0.0.1:5683/";
  if (strncmp(uri, prefix, strlen(prefix)) != 0) return NB_COAP_BAD_REQUEST;
  if (f->started_at) return NB_COAP_CHANGED;
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_GET, 0);
  assert_int_equal(nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, uri + strlen(prefix) - 1), NB_OK);
  nb_addr srv = nb_simnet_addr(1, 5683);
  if (nb_coap_ep_request(f->d.ep, &srv, &m, true, on_pulled, f, now, NULL) != NB_OK)
    return NB_COAP_INTERNAL_SERVER_ERROR;
  f->started_at = now;
  set_fw(f, 1, 0, now);
  return NB_COAP_CHANGED;
}

static void fake_handler(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                         const nb_coap_msg *req, nb_time_ms now) {
  fake_dev *f = user;
  (void)peer;
  char path[32] = "";
  nb_coap_msg_get_path(req, NB_COAP_OPT_URI_PATH, path, sizeof path);
  uint32_t ov;
  bool observe = nb_coap_msg_get_uint(req, NB_COAP_OPT_OBSERVE, &ov) == NB_OK && ov == 0;
  char v[96];
  if (req->code == NB_COAP_GET && (!strcmp(path, "/5/0/3") || !strcmp(path, "/5/0/5"))) {
    int which = path[5] == '5';
    if (observe && nb_coap_exchange_observe(ex, obs_gone, f, &f->obs[which]) != NB_OK)
      f->obs[which] = NULL;
    snprintf(v, sizeof v, "%d", which ? f->result : f->state);
    respond(ex, NB_COAP_CONTENT, NB_COAP_CF_TEXT, v, now);
  } else if (req->code == NB_COAP_GET && !strcmp(path, "/5/0")) {
    snprintf(v, sizeof v, "[{\"bn\":\"/5/0/\",\"n\":\"3\",\"v\":%d},{\"n\":\"5\",\"v\":%d}]",
             f->state, f->result);
    respond(ex, NB_COAP_CONTENT, NB_COAP_CF_SENML_JSON, v, now);
  } else if (req->code == NB_COAP_GET && !strcmp(path, "/3/0/3")) {
    respond(ex, NB_COAP_CONTENT, NB_COAP_CF_TEXT, f->updates ? "2.0" : "1.0", now);
  } else if (req->code == NB_COAP_PUT && !strcmp(path, "/5/0/0")) {
    downloaded(f, req->payload, req->payload_len, now);
    respond(ex, NB_COAP_CHANGED, NB_COAP_CF_NONE, NULL, now);
  } else if (req->code == NB_COAP_PUT && !strcmp(path, "/5/0/1")) {
    respond(ex, start_pull(f, req, now), NB_COAP_CF_NONE, NULL, now);
  } else if (req->code == NB_COAP_POST && !strcmp(path, "/5/0/2")) {
    if (f->state != 2) {
      respond(ex, NB_COAP_METHOD_NOT_ALLOWED, NB_COAP_CF_NONE, NULL, now);
      return;
    }
    respond(ex, NB_COAP_CHANGED, NB_COAP_CF_NONE, NULL, now);
    set_fw(f, 3, 0, now);
    f->apply_at = now + 5000;
  } else {
    respond(ex, NB_COAP_NOT_FOUND, NB_COAP_CF_NONE, NULL, now);
  }
}

/* Every block the device's CoAP layer sees, before it reassembles them. */
static bool tap(void *user, const nb_addr *from, const nb_addr *to, const uint8_t *data, size_t len,
                nb_time_ms now) {
  fixture *fx = user;
  (void)from;
  (void)now;
  nb_coap_msg m;
  nb_coap_block b;
  if (nb_coap_parse(data, len, &m) != NB_OK || m.code != NB_COAP_PUT ||
      nb_coap_block_get(&m, NB_COAP_OPT_BLOCK1, &b) != NB_OK)
    return true;
  for (size_t i = 0; i < fx->ndev; i++)
    if (nb_addr_equal(&fx->devs[i].d.addr, to)) {
      fx->devs[i].blocks++;
      if (m.payload_len > fx->devs[i].max_block) fx->devs[i].max_block = m.payload_len;
    }
  return true;
}

static void reg_resp(void *user, nb_err err, const nb_coap_msg *resp, bool last, nb_time_ms now) {
  (void)user, (void)err, (void)resp, (void)last, (void)now;
}

/* A Register sent from inside the run (a device back from its reboot). */
static void register_async(fake_dev *f, nb_time_ms now) {
  char q[48];
  snprintf(q, sizeof q, "ep=%s", f->name);
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_POST, 0);
  nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/rd");
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_LINK_FORMAT);
  nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, q);
  nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, "lwm2m=1.1");
  const char *links = "</1/0>,</3/0>,</5/0>";
  nb_coap_msg_set_payload(&m, links, strlen(links));
  nb_addr srv = nb_simnet_addr(1, 5683);
  nb_coap_ep_request(f->d.ep, &srv, &m, true, reg_resp, f, now, NULL);
}

/* The devices' own timers: an Execute applied 5 s later. */
static void devices_step(fixture *fx, nb_time_ms now) {
  for (size_t i = 0; i < fx->ndev; i++) {
    fake_dev *f = &fx->devs[i];
    if (!f->apply_at || f->apply_at > now) continue;
    f->apply_at = 0;
    f->updates++;
    if (f->reregister) { /* a reboot: observations gone, back as a new registration */
      f->obs[0] = f->obs[1] = NULL;
      f->state = 0;
      f->result = 1;
      register_async(f, now);
    } else {
      set_fw(f, 0, 1, now);
    }
  }
}

/* ---- the firmware engine as a node of its own (its deadline, its tick) ---- */

static void fw_receive(void *user, const nb_addr *from, const uint8_t *data, size_t len,
                       nb_time_ms now) {
  (void)user, (void)from, (void)data, (void)len, (void)now;
}
static nb_time_ms fw_deadline(void *user) {
  fixture *fx = user;
  return fx->fw ? nb_fws_next_deadline(fx->fw) : NB_TIME_NEVER;
}
static void fw_tick(void *user, nb_time_ms now) {
  fixture *fx = user;
  if (fx->fw) nb_fws_tick(fx->fw, now);
}

static void on_fw_event(void *user, const nb_fws_event *ev) {
  fixture *fx = user;
  (void)ev;
  fx->events++;
}

static void fw_start(fixture *fx) {
  nb_fws_config fc;
  nb_fws_config_default(&fc);
  fc.store = fx->rig.cfg.store;
  fc.read = read_img;
  fc.read_user = fx;
  fc.uri_base = "coap://10.0.0.1:5683";
  fc.random = nb_simnet_rng_fill;
  fc.random_user = nb_simnet_rng_of(fx->rig.h.net);
  assert_int_equal(nb_fws_new(&fc, fx->rig.h.srv, &fx->fw), NB_OK);
  nb_fws_set_listener(fx->fw, on_fw_event, fx);
}

static void fixture_init(fixture *fx, size_t img_len, size_t ndev) {
  memset(fx, 0, sizeof *fx);
  cur = fx;
  nb_srv_rig_init(&fx->rig);
  static const nb_simnet_ops ops = {fw_receive, fw_deadline, fw_tick, NULL};
  nb_addr a = nb_simnet_addr(250, 1);
  assert_non_null(fx->fw_node = nb_simnet_add(fx->rig.h.net, &a, &ops, fx));
  nb_simnet_set_tap(fx->rig.h.net, tap, fx);
  fx->img_len = img_len;
  fx->img = malloc(img_len);
  for (size_t i = 0; i < img_len; i++) fx->img[i] = (uint8_t)(i * 7 + i / 251);
  sha_hex(fx->img, img_len, fx->sha);
  fw_start(fx);
  nb_fws_image img = {.size = img_len};
  snprintf(img.sha256, sizeof img.sha256, "%s", fx->sha);
  snprintf(img.name, sizeof img.name, "test image");
  assert_int_equal(nb_fws_image_add(fx->fw, &img), NB_OK);
  fx->ndev = ndev;
  for (size_t i = 0; i < ndev; i++) {
    fake_dev *f = &fx->devs[i];
    nb_srv_dev_init(&f->d, &fx->rig.h, (unsigned)i);
    nb_coap_ep_set_handler(f->d.ep, fake_handler, f);
    snprintf(f->name, sizeof f->name, "fwdev-%02zu", i);
    assert_int_equal(
        nb_srv_dev_register_links(&f->d, f->name, "</1/0>,</3/0>,</5/0>", "lwm2m=1.1", NULL),
        NB_COAP_CREATED);
  }
}

/* Device i moves to a CoAP endpoint of its own configuration (at 10.0.0.n:7000) and registers
 * again from there. */
static void replace_device(fixture *fx, size_t i, const nb_coap_ep_config *cfg, unsigned n) {
  fake_dev *f = &fx->devs[i];
  f->d.addr = nb_simnet_addr(n, 7000);
  assert_non_null(nb_simnet_add_coap(fx->rig.h.net, &f->d.addr, cfg, &f->d.ep));
  nb_coap_ep_set_handler(f->d.ep, fake_handler, f);
  assert_int_equal(
      nb_srv_dev_register_links(&f->d, f->name, "</1/0>,</3/0>,</5/0>", "lwm2m=1.1", NULL),
      NB_COAP_CREATED);
}

static void fixture_deinit(fixture *fx) {
  nb_fws_free(fx->fw);
  fx->fw = NULL;
  nb_srv_rig_deinit(&fx->rig);
  free(fx->img);
  cur = NULL;
}

/* Runs the network (and the devices' timers) until the campaign is over or t_max passes. */
static nb_fws_camp_state run_campaign(fixture *fx, const char *id, nb_time_ms t_max) {
  nb_simnet *net = fx->rig.h.net;
  size_t counts[8];
  nb_fws_camp_state st = NB_FWS_CAMP_RUNNING;
  while (nb_simnet_now(net) < t_max) {
    nb_simnet_run_until(net, nb_simnet_now(net) + 500);
    devices_step(fx, nb_simnet_now(net));
    assert_true(nb_fws_campaign_counts(fx->fw, id, counts, &st));
    if (st == NB_FWS_CAMP_DONE || st == NB_FWS_CAMP_CANCELLED) break;
  }
  return st;
}

static nb_err start(fixture *fx, bool pull, unsigned conc, unsigned retries, char *id) {
  nb_fws_spec spec;
  memset(&spec, 0, sizeof spec);
  snprintf(spec.image, sizeof spec.image, "%s", fx->sha);
  snprintf(spec.prefix, sizeof spec.prefix, "fwdev-");
  spec.object = 5;
  spec.pull = pull;
  spec.concurrency = conc;
  spec.retries = retries;
  return nb_fws_campaign_start(fx->fw, &spec, nb_simnet_now(fx->rig.h.net), id);
}

static void assert_all_updated(fixture *fx, const char *id) {
  size_t counts[8];
  nb_fws_camp_state st;
  assert_true(nb_fws_campaign_counts(fx->fw, id, counts, &st));
  assert_int_equal(st, NB_FWS_CAMP_DONE);
  assert_int_equal(counts[NB_FWS_DEV_UPDATED], fx->ndev);
  for (size_t i = 0; i < fx->ndev; i++) assert_int_equal(fx->devs[i].updates, 1);
}

/* ---- tests ---- */

/* Push: 1024-byte blocks read from the image; a device asking for 256 gets 256 from then on. */
static void test_push_campaign(void **state) {
  (void)state;
  fixture fx;
  fixture_init(&fx, 20000, 3);
  /* device 1's CoAP layer prefers 256-byte blocks (its 2.31 says so) */
  nb_coap_ep_config small;
  nb_coap_ep_config_default(&small);
  small.block_szx = 4;
  small.random = NULL;
  replace_device(&fx, 1, &small, 40);
  fx.devs[2].reregister = true;
  char id[NB_FWS_CAMP_ID_MAX];
  assert_int_equal(start(&fx, false, 2, 0, id), NB_OK);
  assert_int_equal(run_campaign(&fx, id, 600000), NB_FWS_CAMP_DONE);
  assert_all_updated(&fx, id);
  assert_int_equal(fx.devs[0].max_block, 1024);
  assert_int_equal(fx.devs[0].blocks, (20000 + 1023) / 1024);
  assert_int_equal(fx.devs[1].max_block, 1024); /* the first block, before its 2.31 */
  assert_true(fx.devs[1].blocks > 60);          /* then 256-byte blocks */
  assert_true(fx.events >= 3 * 4);
  fixture_deinit(&fx);
}

/* Pull: the devices fetch /fw/ID from the server by Block2; a stranger gets 4.01. */
static void test_pull_campaign(void **state) {
  (void)state;
  fixture fx;
  fixture_init(&fx, 30000, 2);
  char id[NB_FWS_CAMP_ID_MAX];
  assert_int_equal(start(&fx, true, 5, 0, id), NB_OK);
  assert_int_equal(run_campaign(&fx, id, 600000), NB_FWS_CAMP_DONE);
  assert_all_updated(&fx, id);
  assert_true(fx.devs[0].pulled && fx.devs[1].pulled);
  /* an unregistered peer asks for the image */
  nb_srv_device stranger;
  nb_srv_dev_init(&stranger, &fx.rig.h, 9);
  char path[64];
  snprintf(path, sizeof path, "/fw/%.16s", fx.sha);
  assert_int_equal(nb_srv_dev_send(&stranger, NB_COAP_GET, path, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_UNAUTHORIZED);
  fixture_deinit(&fx);
}

/* Eight devices, concurrency 3, 20 % of the datagrams lost both ways: all updated. */
static void test_campaign_with_loss(void **state) {
  (void)state;
  fixture fx;
  fixture_init(&fx, 8000, 8);
  nb_simnet_link lossy = {.drop = 0.2, .delay_min = 5, .delay_max = 40};
  nb_simnet_set_link(fx.rig.h.net, &lossy);
  for (size_t i = 0; i < fx.ndev; i += 2) fx.devs[i].reregister = true;
  char id[NB_FWS_CAMP_ID_MAX];
  assert_int_equal(start(&fx, false, 3, 10, id), NB_OK);
  assert_int_equal(run_campaign(&fx, id, 6 * 3600 * 1000), NB_FWS_CAMP_DONE);
  assert_all_updated(&fx, id);
  nb_simnet_stats st;
  nb_simnet_get_stats(fx.rig.h.net, &st);
  assert_true(st.dropped * 10 > st.sent); /* the loss was real: about a fifth */
  fixture_deinit(&fx);
}

/* The same with pull. */
static void test_pull_campaign_with_loss(void **state) {
  (void)state;
  fixture fx;
  fixture_init(&fx, 8000, 6);
  nb_simnet_link lossy = {.drop = 0.2, .delay_min = 5, .delay_max = 40};
  nb_simnet_set_link(fx.rig.h.net, &lossy);
  char id[NB_FWS_CAMP_ID_MAX];
  assert_int_equal(start(&fx, true, 3, 10, id), NB_OK);
  assert_int_equal(run_campaign(&fx, id, 6 * 3600 * 1000), NB_FWS_CAMP_DONE);
  size_t counts[8];
  assert_true(nb_fws_campaign_counts(fx.fw, id, counts, NULL));
  assert_int_equal(counts[NB_FWS_DEV_UPDATED], fx.ndev);
  fixture_deinit(&fx);
}

/* A device without room: 4.13 with Size1 below the image, failed for good with result 2. */
static void test_push_no_room(void **state) {
  (void)state;
  fixture fx;
  fixture_init(&fx, 20000, 1);
  nb_coap_ep_config tiny;
  nb_coap_ep_config_default(&tiny);
  tiny.max_body = 4096;
  tiny.random = NULL;
  replace_device(&fx, 0, &tiny, 41);
  char id[NB_FWS_CAMP_ID_MAX];
  assert_int_equal(start(&fx, false, 1, 3, id), NB_OK);
  assert_int_equal(run_campaign(&fx, id, 600000), NB_FWS_CAMP_DONE);
  json_t *j = nb_fws_campaign_json(fx.fw, id, true);
  json_t *d0 = json_array_get(json_object_get(j, "devices"), 0);
  assert_string_equal(json_string_value(json_object_get(d0, "state")), "failed");
  assert_int_equal(json_integer_value(json_object_get(d0, "updateResult")), 2);
  assert_int_equal(json_integer_value(json_object_get(d0, "attempts")), 1); /* no retry */
  json_decref(j);
  fixture_deinit(&fx);
}

/* The engines stop mid-campaign (as a killed process: nothing saved at the end) and start
 * again from the same database: the campaign goes on and completes. */
static void test_campaign_survives_restart(void **state) {
  (void)state;
  fixture fx;
  fixture_init(&fx, 10000, 4);
  char id[NB_FWS_CAMP_ID_MAX];
  assert_int_equal(start(&fx, false, 1, 2, id), NB_OK);
  nb_simnet *net = fx.rig.h.net;
  size_t counts[8];
  nb_fws_camp_state st;
  while (nb_simnet_now(net) < 600000) { /* one device updated, the next under way */
    nb_simnet_run_until(net, nb_simnet_now(net) + 50);
    devices_step(&fx, nb_simnet_now(net));
    assert_true(nb_fws_campaign_counts(fx.fw, id, counts, &st));
    if (counts[NB_FWS_DEV_UPDATED] == 1 && counts[NB_FWS_DEV_QUEUED] == 2) break;
  }
  assert_int_equal(counts[NB_FWS_DEV_UPDATED], 1);
  assert_int_equal(counts[NB_FWS_DEV_QUEUED], 2);
  nb_fws_free(fx.fw);
  fx.fw = NULL;
  nb_srv_rig_restart(&fx.rig);
  fw_start(&fx);
  assert_int_equal(nb_fws_restore(fx.fw, nb_simnet_now(net)), NB_OK);
  assert_non_null(nb_fws_image_find(fx.fw, fx.sha));
  assert_true(nb_fws_campaign_counts(fx.fw, id, counts, &st));
  assert_int_equal(st, NB_FWS_CAMP_RUNNING);
  assert_int_equal(counts[NB_FWS_DEV_UPDATED], 1);
  /* the one under way starts over (or, updating, is asked for its result) */
  assert_int_equal(counts[NB_FWS_DEV_QUEUED] + counts[NB_FWS_DEV_UPDATING], 3);
  /* the devices speak again (an Update), so the restarted server reaches them */
  for (size_t i = 0; i < fx.ndev; i++) register_async(&fx.devs[i], nb_simnet_now(net));
  assert_int_equal(run_campaign(&fx, id, 1200000), NB_FWS_CAMP_DONE);
  assert_all_updated(&fx, id);
  fixture_deinit(&fx);
}

/* Pause holds new starts, resume goes on, cancel ends the rest; the image is in use until then. */
static void test_pause_resume_cancel(void **state) {
  (void)state;
  fixture fx;
  fixture_init(&fx, 4000, 4);
  nb_simnet *net = fx.rig.h.net;
  char id[NB_FWS_CAMP_ID_MAX];
  assert_int_equal(start(&fx, false, 1, 0, id), NB_OK);
  assert_int_equal(nb_fws_image_remove(fx.fw, fx.sha), NB_ERR_BUSY);
  nb_time_ms now = nb_simnet_now(net);
  assert_int_equal(nb_fws_campaign_pause(fx.fw, id, now), NB_OK);
  assert_int_equal(nb_fws_campaign_pause(fx.fw, id, now), NB_ERR_STATE);
  size_t counts[8];
  nb_fws_camp_state st;
  for (int i = 0; i < 120; i++) {
    nb_simnet_run_until(net, nb_simnet_now(net) + 500);
    devices_step(&fx, nb_simnet_now(net));
  }
  assert_true(nb_fws_campaign_counts(fx.fw, id, counts, &st));
  assert_int_equal(st, NB_FWS_CAMP_PAUSED);
  assert_int_equal(counts[NB_FWS_DEV_UPDATED], 1); /* the one under way finished */
  assert_int_equal(counts[NB_FWS_DEV_QUEUED], 3);  /* nothing new started */
  assert_int_equal(nb_fws_campaign_resume(fx.fw, id, nb_simnet_now(net)), NB_OK);
  while (nb_simnet_now(net) < 600000) {
    nb_simnet_run_until(net, nb_simnet_now(net) + 500);
    devices_step(&fx, nb_simnet_now(net));
    assert_true(nb_fws_campaign_counts(fx.fw, id, counts, &st));
    if (counts[NB_FWS_DEV_UPDATED] == 2) break;
  }
  assert_int_equal(nb_fws_campaign_delete(fx.fw, id), NB_ERR_STATE);
  assert_int_equal(nb_fws_campaign_cancel(fx.fw, id, nb_simnet_now(net)), NB_OK);
  assert_true(nb_fws_campaign_counts(fx.fw, id, counts, &st));
  assert_int_equal(st, NB_FWS_CAMP_CANCELLED);
  assert_int_equal(counts[NB_FWS_DEV_UPDATED] + counts[NB_FWS_DEV_CANCELLED], 4);
  assert_int_equal(nb_fws_image_remove(fx.fw, fx.sha), NB_OK);
  assert_int_equal(nb_fws_campaign_delete(fx.fw, id), NB_OK);
  assert_null(nb_fws_campaign_json(fx.fw, id, false));
  fixture_deinit(&fx);
}

/* A firmwareVersion filter: the device on another version is skipped. */
static void test_version_filter(void **state) {
  (void)state;
  fixture fx;
  fixture_init(&fx, 3000, 2);
  fx.devs[1].updates = 1; /* it says 2.0 */
  nb_fws_spec spec;
  memset(&spec, 0, sizeof spec);
  snprintf(spec.image, sizeof spec.image, "%s", fx.sha);
  snprintf(spec.prefix, sizeof spec.prefix, "fwdev-");
  spec.object = -1;
  spec.has_version = true;
  snprintf(spec.version, sizeof spec.version, "1.0");
  spec.concurrency = 2;
  char id[NB_FWS_CAMP_ID_MAX];
  assert_int_equal(nb_fws_campaign_start(fx.fw, &spec, nb_simnet_now(fx.rig.h.net), id), NB_OK);
  assert_int_equal(run_campaign(&fx, id, 600000), NB_FWS_CAMP_DONE);
  size_t counts[8];
  assert_true(nb_fws_campaign_counts(fx.fw, id, counts, NULL));
  assert_int_equal(counts[NB_FWS_DEV_UPDATED], 1);
  assert_int_equal(counts[NB_FWS_DEV_SKIPPED], 1);
  /* no device matches a prefix nobody has */
  snprintf(spec.prefix, sizeof spec.prefix, "nobody-");
  assert_int_equal(nb_fws_campaign_start(fx.fw, &spec, nb_simnet_now(fx.rig.h.net), id),
                   NB_ERR_RANGE);
  fixture_deinit(&fx);
}

/* A queue-mode device asleep when the campaign starts: nothing reaches it until it wakes
 * (its Update), then the push goes through while it is awake. */
static void test_queue_mode_device(void **state) {
  (void)state;
  fixture fx;
  fixture_init(&fx, 6000, 0);
  fake_dev *f = &fx.devs[0];
  fx.ndev = 1;
  nb_srv_dev_init(&f->d, &fx.rig.h, 0);
  nb_coap_ep_set_handler(f->d.ep, fake_handler, f);
  snprintf(f->name, sizeof f->name, "fwdev-q");
  assert_int_equal(
      nb_srv_dev_register_links(&f->d, f->name, "</1/0>,</3/0>,</5/0>", "lwm2m=1.1", "Q"),
      NB_COAP_CREATED);
  char location[64];
  snprintf(location, sizeof location, "%s", f->d.location);
  nb_simnet *net = fx.rig.h.net;
  nb_simnet_run_until(net, nb_simnet_now(net) + 100000); /* past its awake time: asleep */
  assert_false(nb_server_is_awake(fx.rig.h.srv, f->name));
  char id[NB_FWS_CAMP_ID_MAX];
  assert_int_equal(start(&fx, false, 1, 0, id), NB_OK);
  for (int i = 0; i < 600; i++) { /* five minutes asleep */
    nb_simnet_run_until(net, nb_simnet_now(net) + 500);
    devices_step(&fx, nb_simnet_now(net));
  }
  assert_int_equal(f->blocks, 0);
  size_t counts[8];
  nb_fws_camp_state st;
  assert_true(nb_fws_campaign_counts(fx.fw, id, counts, &st));
  assert_int_equal(counts[NB_FWS_DEV_UPDATED], 0);
  /* it wakes: an Update */
  assert_int_equal(nb_srv_dev_send(&f->d, NB_COAP_POST, location, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_CHANGED);
  assert_int_equal(run_campaign(&fx, id, nb_simnet_now(net) + 600000), NB_FWS_CAMP_DONE);
  assert_all_updated(&fx, id);
  assert_int_equal(f->blocks, (6000 + 1023) / 1024);
  fixture_deinit(&fx);
}

/* ---- a raw device that answers the first 1024-byte block with 4.13 and a smaller Block1 ---- */

typedef struct {
  nb_simnet_node *node;
  nb_addr addr;
  uint8_t got[8192];
  size_t len;
  int refused, small_blocks;
  bool complete;
} raw_dev;

static void raw_send(raw_dev *r, const nb_addr *to, nb_coap_msg *m) {
  uint8_t buf[1400];
  size_t n;
  assert_int_equal(nb_coap_serialize(m, buf, sizeof buf, &n), NB_OK);
  nb_simnet_send(r->node, to, buf, n);
}

/* RFC 7959 2.9.3: a 4.13 whose Block1 names the size the device takes. */
static void raw_receive(void *user, const nb_addr *from, const uint8_t *data, size_t len,
                        nb_time_ms now) {
  raw_dev *r = user;
  (void)now;
  nb_coap_msg req, m;
  nb_coap_block b;
  if (nb_coap_parse(data, len, &req) != NB_OK || req.type != NB_COAP_CON) return;
  nb_coap_msg_init(&m, NB_COAP_ACK, NB_COAP_NOT_FOUND, req.mid);
  nb_coap_msg_set_token(&m, req.token, req.token_len);
  if (req.code == NB_COAP_PUT && nb_coap_block_get(&req, NB_COAP_OPT_BLOCK1, &b) == NB_OK) {
    size_t off = nb_coap_block_offset(&b);
    if (b.szx > 4) {
      r->refused++;
      m.code = NB_COAP_REQUEST_ENTITY_TOO_LARGE;
      nb_coap_block want = {0, false, 4};
      nb_coap_block_add(&m, NB_COAP_OPT_BLOCK1, &want);
    } else if (off == r->len && off + req.payload_len <= sizeof r->got) {
      memcpy(r->got + off, req.payload, req.payload_len);
      r->len += req.payload_len;
      r->small_blocks++;
      r->complete = !b.more;
      m.code = b.more ? NB_COAP_CONTINUE : NB_COAP_CHANGED;
      nb_coap_block_add(&m, NB_COAP_OPT_BLOCK1, &b);
    } else {
      m.code = NB_COAP_REQUEST_ENTITY_INCOMPLETE;
    }
  }
  raw_send(r, from, &m);
}

static bool raw_complete(void *user) { return ((raw_dev *)user)->complete; }

static void test_push_413_smaller_block(void **state) {
  (void)state;
  fixture fx;
  fixture_init(&fx, 5000, 0);
  raw_dev r;
  memset(&r, 0, sizeof r);
  static const nb_simnet_ops ops = {raw_receive, NULL, NULL, NULL};
  r.addr = nb_simnet_addr(60, 7100);
  assert_non_null(r.node = nb_simnet_add(fx.rig.h.net, &r.addr, &ops, &r));
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_POST, 77);
  nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/rd");
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_LINK_FORMAT);
  nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, "ep=fwdev-raw");
  nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, "lwm2m=1.1");
  nb_coap_msg_set_payload(&m, "</5/0>", 6);
  raw_send(&r, &fx.rig.h.addr, &m);
  nb_simnet *net = fx.rig.h.net;
  nb_simnet_run_until(net, nb_simnet_now(net) + 1000);
  assert_non_null(nb_server_find(fx.rig.h.srv, "fwdev-raw"));
  char id[NB_FWS_CAMP_ID_MAX];
  assert_int_equal(start(&fx, false, 1, 0, id), NB_OK);
  assert_true(nb_simnet_run_until_cond(net, nb_simnet_now(net) + 120000, raw_complete, &r));
  assert_int_equal(r.refused, 1);                       /* the first block, at 1024 */
  assert_int_equal(r.small_blocks, (5000 + 255) / 256); /* then from the start at 256 */
  assert_int_equal(r.len, 5000);
  assert_memory_equal(r.got, fx.img, 5000);
  fixture_deinit(&fx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_push_campaign),       cmocka_unit_test(test_pull_campaign),
      cmocka_unit_test(test_campaign_with_loss),  cmocka_unit_test(test_pull_campaign_with_loss),
      cmocka_unit_test(test_push_no_room),        cmocka_unit_test(test_campaign_survives_restart),
      cmocka_unit_test(test_pause_resume_cancel), cmocka_unit_test(test_version_filter),
      cmocka_unit_test(test_queue_mode_device),   cmocka_unit_test(test_push_413_smaller_block),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
