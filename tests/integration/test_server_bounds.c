/* What unauthenticated peers can make the server engine keep (issue 13, items 5 and 10), over
 * the simulated network with a virtual clock and the SQLite store: the object list's size,
 * links and attributes, the lifetime's maximum, the cap on NoSec registrations, and a
 * registration's change of address (an event; refused with nosec_pin_address). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "srv_harness.h"
#include "store/sqlite.h"

/* ---- fixture: the harness with an in-memory SQLite store ---- */

typedef struct {
  nb_srv_harness h;
  nb_store_sqlite *db;
  nb_server_store store;
} fixture;

static void fx_init(fixture *f, const nb_server_config *in) {
  assert_int_equal(nb_store_sqlite_open(":memory:", &f->db), NB_OK);
  f->store = nb_store_sqlite_iface(f->db);
  nb_server_config cfg;
  if (in)
    cfg = *in;
  else
    nb_server_config_default(&cfg);
  cfg.store = f->store;
  nb_srv_harness_init(&f->h, &cfg);
}

static void fx_deinit(fixture *f) {
  nb_srv_harness_deinit(&f->h);
  nb_store_sqlite_close(f->db);
}

static nb_err count_row(void *user, const nb_server_reg_info *r) {
  (void)r;
  (*(size_t *)user)++;
  return NB_OK;
}

static size_t stored_registrations(const fixture *f) {
  size_t n = 0;
  assert_int_equal(f->store.ops->reg_each(f->store.self, count_row, &n), NB_OK);
  return n;
}

/* "</3303/0>,</3303/1>,..." of at least `len` bytes (heap). */
static char *object_list(size_t len) {
  char *s = malloc(len + 32);
  assert_non_null(s);
  size_t off = 0;
  for (unsigned i = 0; off < len; i++)
    off += (size_t)sprintf(s + off, "%s</3303/%u>", i ? "," : "", i);
  return s;
}

static uint8_t register_with(nb_srv_device *d, const char *ep, const char *links) {
  char q[96];
  snprintf(q, sizeof(q), "ep=%s", ep);
  const char *qs[] = {q, NULL};
  return nb_srv_dev_send(d, NB_COAP_POST, "/rd", qs, NB_COAP_CF_LINK_FORMAT, links);
}

static void add_psk(fixture *f, const char *ep, const char *identity) {
  nb_server_sec_info sec;
  memset(&sec, 0, sizeof(sec));
  snprintf(sec.ep, sizeof(sec.ep), "%s", ep);
  sec.kind = NB_SERVER_ID_PSK;
  snprintf(sec.identity, sizeof(sec.identity), "%s", identity);
  sec.key_len = 16;
  assert_int_equal(f->store.ops->sec_put(f->store.self, &sec), NB_OK);
}

/* ---- the object list ---- */

/* A block-wise Register past 8 KiB is refused 4.13 with Size1 before the engine sees it;
 * nothing is kept. One just under the bound registers, and an Update cannot grow past it. */
static void test_register_payload_bounded(void **state) {
  (void)state;
  fixture f;
  fx_init(&f, NULL);
  nb_srv_device d;
  nb_srv_dev_init(&d, &f.h, 1);
  char *big = object_list(NB_SERVER_REG_PAYLOAD_MAX + 1);
  assert_int_equal(register_with(&d, "big", big), NB_COAP_REQUEST_ENTITY_TOO_LARGE);
  assert_int_equal(d.resp_size1, NB_SERVER_REG_PAYLOAD_MAX);
  assert_int_equal(nb_server_count(f.h.srv), 0);
  assert_int_equal(stored_registrations(&f), 0);
  assert_int_equal(f.h.nev, 0);
  free(big);

  char *fits = object_list(NB_SERVER_REG_PAYLOAD_MAX - 16);
  assert_int_equal(register_with(&d, "fits", fits), NB_COAP_CREATED);
  size_t kept = nb_server_find(f.h.srv, "fits")->links_len;
  assert_true(kept > NB_SERVER_REG_PAYLOAD_MAX - 16 && kept <= NB_SERVER_REG_PAYLOAD_MAX);
  free(fits);
  char loc[64];
  snprintf(loc, sizeof(loc), "%s", d.location);
  big = object_list(64 * 1024);
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, loc, NULL, NB_COAP_CF_LINK_FORMAT, big),
                   NB_COAP_REQUEST_ENTITY_TOO_LARGE);
  assert_int_equal(nb_server_find(f.h.srv, "fits")->links_len, kept);
  free(big);

  /* The bound is the operator's: 1 KiB. */
  fx_deinit(&f);
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  cfg.reg_limits.payload = 1024;
  fx_init(&f, &cfg);
  nb_srv_dev_init(&d, &f.h, 1);
  big = object_list(1100);
  assert_int_equal(register_with(&d, "big", big), NB_COAP_REQUEST_ENTITY_TOO_LARGE);
  assert_int_equal(d.resp_size1, 1024);
  free(big);
  fx_deinit(&f);
}

/* Within the size, the number of links, of attributes of a link and an attribute's length
 * are bounded too (4.00), the attributes LwM2M ignores included: the list is kept verbatim. */
static void test_object_list_links_and_attributes_bounded(void **state) {
  (void)state;
  fixture f;
  fx_init(&f, NULL);
  nb_srv_device d;
  nb_srv_dev_init(&d, &f.h, 1);
  char links[NB_SERVER_REG_PAYLOAD_MAX];
  size_t off = 0;
  for (unsigned i = 0; i <= NB_SERVER_REG_LINKS_MAX; i++) /* one link too many: </1/0> ... */
    off += (size_t)snprintf(links + off, sizeof(links) - off, "%s</%u>", i ? "," : "", i);
  assert_true(off < sizeof(links) - 1);
  assert_int_equal(register_with(&d, "many", links), NB_COAP_BAD_REQUEST);
  assert_int_equal(register_with(&d, "attrs", "</3/0>;a=1;b=2;c=3;d=4;e=5;f=6;g=7;h=8;i=9"),
                   NB_COAP_BAD_REQUEST);
  char long_attr[300];
  snprintf(long_attr, sizeof(long_attr), "</3/0>;x=\"%0200d\"", 0);
  assert_int_equal(register_with(&d, "long", long_attr), NB_COAP_BAD_REQUEST);
  assert_int_equal(nb_server_count(f.h.srv), 0);
  assert_int_equal(stored_registrations(&f), 0);
  assert_int_equal(register_with(&d, "ok", "</>;rt=\"oma.lwm2m\";ct=11543,</3/0>;ver=1.1;x=\"y\""),
                   NB_COAP_CREATED);
  fx_deinit(&f);
}

/* ---- the lifetime ---- */

/* Above max_lifetime a Register or Update is refused 4.00 (not cut short behind the client's
 * back); the default 86400 counts when lt is absent. */
static void test_lifetime_maximum(void **state) {
  (void)state;
  fixture f;
  fx_init(&f, NULL);
  nb_srv_device d;
  nb_srv_dev_init(&d, &f.h, 1);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lt=4294967295", NULL), NB_COAP_BAD_REQUEST);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lt=2592001", NULL), NB_COAP_BAD_REQUEST);
  assert_int_equal(nb_server_count(f.h.srv), 0);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lt=2592000", NULL), NB_COAP_CREATED);
  fx_deinit(&f);

  nb_server_config cfg;
  nb_server_config_default(&cfg);
  cfg.max_lifetime = 3600;
  fx_init(&f, &cfg);
  nb_srv_dev_init(&d, &f.h, 1);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lt=3601", NULL), NB_COAP_BAD_REQUEST);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", NULL, NULL), NB_COAP_BAD_REQUEST); /* 86400 */
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lt=3600", NULL), NB_COAP_CREATED);
  char loc[64];
  snprintf(loc, sizeof(loc), "%s", d.location);
  const char *longer[] = {"lt=7200", NULL};
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, loc, longer, NB_COAP_CF_NONE, NULL),
                   NB_COAP_BAD_REQUEST);
  assert_int_equal(nb_server_find(f.h.srv, "dev1")->lifetime, 3600);
  const char *shorter[] = {"lt=600", NULL};
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, loc, shorter, NB_COAP_CF_NONE, NULL),
                   NB_COAP_CHANGED);
  assert_int_equal(nb_server_find(f.h.srv, "dev1")->lifetime, 600);
  /* No maximum at all when the operator says 0. */
  fx_deinit(&f);
  cfg.max_lifetime = 0;
  fx_init(&f, &cfg);
  nb_srv_dev_init(&d, &f.h, 1);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lt=4294967295", NULL), NB_COAP_CREATED);
  fx_deinit(&f);
}

/* ---- the cap on NoSec registrations ---- */

/* Beyond max_nosec a new NoSec endpoint gets 5.03 with Max-Age; the registered ones still
 * update and re-register, DTLS devices never count, and a freed place is taken again. */
static void test_nosec_cap(void **state) {
  (void)state;
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  cfg.max_nosec = 3;
  fixture f;
  fx_init(&f, &cfg);
  add_psk(&f, "secure", "identS");
  f.h.ident[9] = (nb_server_identity){.kind = NB_SERVER_ID_PSK, .value = "identS"};
  nb_srv_device d[10];
  for (unsigned i = 1; i < 10; i++) nb_srv_dev_init(&d[i], &f.h, i);
  assert_int_equal(nb_srv_dev_register(&d[1], "n1", NULL, NULL), NB_COAP_CREATED);
  assert_int_equal(nb_srv_dev_register(&d[2], "n2", NULL, NULL), NB_COAP_CREATED);
  assert_int_equal(nb_srv_dev_register(&d[3], "n3", NULL, NULL), NB_COAP_CREATED);
  assert_int_equal(nb_server_nosec_count(f.h.srv), 3);
  assert_int_equal(nb_srv_dev_register(&d[4], "n4", NULL, NULL), NB_COAP_SERVICE_UNAVAILABLE);
  assert_int_equal(d[4].resp_max_age, NB_SERVER_NOSEC_RETRY);
  assert_null(nb_server_find(f.h.srv, "n4"));
  assert_int_equal(stored_registrations(&f), 3);
  /* An authenticated device is not one of them. */
  assert_int_equal(nb_srv_dev_register(&d[9], "secure", NULL, NULL), NB_COAP_CREATED);
  assert_int_equal(nb_server_nosec_count(f.h.srv), 3);
  /* The registered ones go on: Update (with a new object list) and re-registration. */
  char loc[64];
  snprintf(loc, sizeof(loc), "%s", d[1].location);
  assert_int_equal(
      nb_srv_dev_send(&d[1], NB_COAP_POST, loc, NULL, NB_COAP_CF_LINK_FORMAT, "</3/0>,</4/0>"),
      NB_COAP_CHANGED);
  assert_int_equal(nb_srv_dev_register(&d[2], "n2", NULL, NULL), NB_COAP_CREATED);
  assert_int_equal(nb_server_nosec_count(f.h.srv), 3);
  nb_server_stats st;
  nb_server_get_stats(f.h.srv, &st);
  assert_int_equal(st.nosec_refused, 1);
  /* A de-registration frees a place. */
  snprintf(loc, sizeof(loc), "%s", d[3].location);
  assert_int_equal(nb_srv_dev_send(&d[3], NB_COAP_DELETE, loc, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_DELETED);
  assert_int_equal(nb_srv_dev_register(&d[4], "n4", NULL, NULL), NB_COAP_CREATED);
  assert_int_equal(nb_srv_dev_register(&d[5], "n5", NULL, NULL), NB_COAP_SERVICE_UNAVAILABLE);
  /* So does an expiry. */
  nb_simnet_run_until(f.h.net, nb_simnet_now(f.h.net) + 86400000 + 20000);
  assert_int_equal(nb_server_nosec_count(f.h.srv), 0);
  assert_int_equal(nb_srv_dev_register(&d[5], "n5", NULL, NULL), NB_COAP_CREATED);
  fx_deinit(&f);
}

/* Registrations restored after a restart count against the cap. */
static void test_nosec_cap_after_restore(void **state) {
  (void)state;
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  cfg.max_nosec = 2;
  fixture f;
  fx_init(&f, &cfg);
  nb_srv_device d[4];
  for (unsigned i = 1; i < 4; i++) nb_srv_dev_init(&d[i], &f.h, i);
  assert_int_equal(nb_srv_dev_register(&d[1], "n1", NULL, NULL), NB_COAP_CREATED);
  assert_int_equal(nb_srv_dev_register(&d[2], "n2", NULL, NULL), NB_COAP_CREATED);
  nb_server_free(f.h.srv);
  cfg.store = f.store;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f.h.net);
  assert_int_equal(nb_server_new(&cfg, nb_simnet_send, f.h.node, &f.h.srv), NB_OK);
  size_t n = 0;
  assert_int_equal(nb_server_restore(f.h.srv, nb_simnet_now(f.h.net), &n), NB_OK);
  assert_int_equal(n, 2);
  assert_int_equal(nb_server_nosec_count(f.h.srv), 2);
  assert_int_equal(nb_srv_dev_register(&d[3], "n3", NULL, NULL), NB_COAP_SERVICE_UNAVAILABLE);
  fx_deinit(&f);
}

/* ---- a registration's address ---- */

static int find_address_event(const nb_srv_harness *h, const char *op) {
  for (int i = 0; i < h->nev; i++)
    if (h->ev[i] == NB_SEV_ADDRESS_CHANGED && strcmp(h->ev_op[i], op) == 0) return i;
  return -1;
}

/* NoSec takes anyone's word: an Update, a Register of the same name and a De-register from
 * another address all move the registration. Each is told (ADDRESS_CHANGED, before the event
 * it leads to) with the old and new address. */
static void test_address_change_event(void **state) {
  (void)state;
  fixture f;
  fx_init(&f, NULL);
  nb_srv_device dev, other;
  nb_srv_dev_init(&dev, &f.h, 1);
  nb_srv_dev_init(&other, &f.h, 2);
  assert_int_equal(nb_srv_dev_register(&dev, "dev1", NULL, NULL), NB_COAP_CREATED);
  char loc[64];
  snprintf(loc, sizeof(loc), "%s", dev.location);
  /* From its own address: no event. */
  assert_int_equal(nb_srv_dev_send(&dev, NB_COAP_POST, loc, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_CHANGED);
  assert_int_equal(nb_srv_count_ev(&f.h, NB_SEV_ADDRESS_CHANGED), 0);
  /* An Update from elsewhere with the registration ID moves it. */
  assert_int_equal(nb_srv_dev_send(&other, NB_COAP_POST, loc, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_CHANGED);
  int i = find_address_event(&f.h, "update");
  assert_true(i >= 0);
  assert_false(f.h.ev_refused[i]);
  assert_int_equal(f.h.ev_old_port[i], 6001);
  assert_int_equal(f.h.ev_new_port[i], 6002);
  assert_int_equal(f.h.ev[i + 1], NB_SEV_UPDATED);
  assert_int_equal(nb_server_find(f.h.srv, "dev1")->addr.port, 6002);
  /* A Register of the name from the first address moves it back. */
  assert_int_equal(nb_srv_dev_register(&dev, "dev1", NULL, NULL), NB_COAP_CREATED);
  i = find_address_event(&f.h, "register");
  assert_true(i >= 0);
  assert_int_equal(f.h.ev_old_port[i], 6002);
  assert_int_equal(f.h.ev[i + 1], NB_SEV_REGISTRATION);
  /* A De-register from elsewhere ends it. */
  snprintf(loc, sizeof(loc), "%s", dev.location);
  assert_int_equal(nb_srv_dev_send(&other, NB_COAP_DELETE, loc, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_DELETED);
  assert_true(find_address_event(&f.h, "deregister") >= 0);
  assert_null(nb_server_find(f.h.srv, "dev1"));
  nb_server_stats st;
  nb_server_get_stats(f.h.srv, &st);
  assert_int_equal(st.address_changes, 3);
  fx_deinit(&f);
}

/* With nosec_pin_address a NoSec registration stays where it registered from: an Update, a
 * Register and a De-register from elsewhere get 4.03 (the attempt is still told). A DTLS
 * device may move: its new handshake proves the same identity. */
static void test_nosec_pin_address(void **state) {
  (void)state;
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  cfg.nosec_pin_address = true;
  fixture f;
  fx_init(&f, &cfg);
  add_psk(&f, "secure", "identS");
  f.h.ident[5] = f.h.ident[6] = (nb_server_identity){.kind = NB_SERVER_ID_PSK, .value = "identS"};
  nb_srv_device dev, other, s1, s2;
  nb_srv_dev_init(&dev, &f.h, 1);
  nb_srv_dev_init(&other, &f.h, 2);
  nb_srv_dev_init(&s1, &f.h, 5);
  nb_srv_dev_init(&s2, &f.h, 6);
  assert_int_equal(nb_srv_dev_register(&dev, "dev1", NULL, NULL), NB_COAP_CREATED);
  char loc[64];
  snprintf(loc, sizeof(loc), "%s", dev.location);
  assert_int_equal(nb_srv_dev_send(&other, NB_COAP_POST, loc, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_FORBIDDEN);
  assert_int_equal(nb_srv_dev_register(&other, "dev1", NULL, NULL), NB_COAP_FORBIDDEN);
  assert_int_equal(nb_srv_dev_send(&other, NB_COAP_DELETE, loc, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_FORBIDDEN);
  const nb_server_reg_info *ri = nb_server_find(f.h.srv, "dev1");
  assert_non_null(ri);
  assert_int_equal(ri->addr.port, 6001);
  assert_string_equal(ri->reg_id, loc + 4);
  assert_int_equal(nb_srv_count_ev(&f.h, NB_SEV_ADDRESS_CHANGED), 3);
  for (int i = 0; i < f.h.nev; i++)
    if (f.h.ev[i] == NB_SEV_ADDRESS_CHANGED) assert_true(f.h.ev_refused[i]);
  assert_int_equal(nb_srv_count_ev(&f.h, NB_SEV_UPDATED), 0);
  /* The device itself goes on. */
  assert_int_equal(nb_srv_dev_send(&dev, NB_COAP_POST, loc, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_CHANGED);
  /* DTLS: the same identity from a new address is allowed (and told, not refused). */
  assert_int_equal(nb_srv_dev_register(&s1, "secure", NULL, NULL), NB_COAP_CREATED);
  snprintf(loc, sizeof(loc), "%s", s1.location);
  assert_int_equal(nb_srv_dev_send(&s2, NB_COAP_POST, loc, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_CHANGED);
  assert_int_equal(nb_server_find(f.h.srv, "secure")->addr.port, 6006);
  int i = f.h.nev - 2;
  assert_int_equal(f.h.ev[i], NB_SEV_ADDRESS_CHANGED);
  assert_false(f.h.ev_refused[i]);
  fx_deinit(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_register_payload_bounded),
      cmocka_unit_test(test_object_list_links_and_attributes_bounded),
      cmocka_unit_test(test_lifetime_maximum),
      cmocka_unit_test(test_nosec_cap),
      cmocka_unit_test(test_nosec_cap_after_restore),
      cmocka_unit_test(test_address_change_event),
      cmocka_unit_test(test_nosec_pin_address),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
