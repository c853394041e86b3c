/* The event feed in-process: registrations from raw CoAP datagrams into a real server engine
 * become SSE frames, the per-subscriber endpoint filter holds, a slow subscriber's buffer stays
 * bounded (frames dropped and announced), a frame is formatted once for all its subscribers and
 * not at all for none, the compact JSON writer (shortest reals, jansson's text otherwise), and
 * the JSON body parser types values from the definitions and refuses bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/events.h"
#include "http/json.h"

static void no_send(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  (void)user, (void)peer, (void)data, (void)len;
}

static void reg(nb_server *s, const char *ep, uint16_t mid, uint16_t port) {
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_POST, mid);
  assert_int_equal(nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/rd"), NB_OK);
  char q[64];
  snprintf(q, sizeof(q), "ep=%s", ep);
  assert_int_equal(nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, q), NB_OK);
  assert_int_equal(nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, "lwm2m=1.1"), NB_OK);
  nb_coap_msg_set_payload(&m, "</3/0>", 6);
  uint8_t buf[256];
  size_t n;
  assert_int_equal(nb_coap_serialize(&m, buf, sizeof(buf), &n), NB_OK);
  nb_addr a;
  assert_int_equal(nb_addr_parse("127.0.0.1", port, &a), NB_OK);
  nb_server_receive(s, &a, NULL, buf, n, 1000);
}

static int wakes;
static void on_wake(void *user) {
  (void)user;
  wakes++;
}

static void test_frames_filter_and_bound(void **state) {
  (void)state;
  nb_server *s;
  assert_int_equal(nb_server_new(NULL, no_send, NULL, &s), NB_OK);
  nb_http_events_config cfg;
  nb_http_events_config_default(&cfg);
  cfg.sub_buffer_max = 2048;
  nb_http_events *ev;
  assert_int_equal(nb_http_events_new(s, &cfg, &ev), NB_OK);
  nb_http_sub *all = nb_http_events_subscribe(ev, NULL, on_wake, NULL);
  nb_http_sub *one = nb_http_events_subscribe(ev, "dev-b", on_wake, NULL);
  assert_int_equal(nb_http_events_subscribers(ev), 2);
  reg(s, "dev-a", 1, 40001);
  reg(s, "dev-b", 2, 40002);
  char buf[8192];
  size_t n = nb_http_sub_read(one, buf, sizeof(buf) - 1);
  buf[n] = '\0';
  assert_null(strstr(buf, "dev-a"));
  assert_non_null(strstr(buf, "event: REGISTRATION\ndata: {"));
  assert_non_null(strstr(buf, "event: MONITOR"));
  assert_non_null(strstr(buf, "\"status\":\"2.01\""));
  assert_int_equal(nb_http_sub_read(one, buf, sizeof(buf)), 0);
  /* `all` never read: many registrations later it holds at most 2048 bytes. */
  for (uint16_t i = 0; i < 50; i++) {
    char ep[32];
    snprintf(ep, sizeof(ep), "dev-%u", i);
    reg(s, ep, (uint16_t)(10 + i), (uint16_t)(41000 + i));
  }
  assert_true(nb_http_sub_dropped(all) > 0);
  n = nb_http_sub_read(all, buf, sizeof(buf));
  assert_true(n <= 2048);
  assert_true(n > 0);
  /* Once there is room, the loss is announced before the next frame. */
  reg(s, "late", 99, 42000);
  n = nb_http_sub_read(all, buf, sizeof(buf) - 1);
  buf[n] = '\0';
  assert_non_null(strstr(buf, "event: DROPPED"));
  assert_non_null(strstr(buf, "\"endpoint\":\"late\""));
  nb_http_events_keepalive(ev);
  n = nb_http_sub_read(one, buf, sizeof(buf) - 1);
  buf[n] = '\0';
  assert_string_equal(buf, ": keep-alive\n\n");
  assert_true(wakes > 2);
  nb_path root = nb_path_root();
  json_t *h = nb_http_events_history(ev, "dev-a", &root);
  assert_int_equal(json_array_size(h), 0);
  json_decref(h);
  nb_http_events_unsubscribe(ev, one);
  nb_http_events_free(ev); /* frees `all` too */
  nb_server_free(s);
}

static void test_json_body_typing(void **state) {
  (void)state;
  nb_model *m = nb_model_new();
  assert_non_null(m);
  nb_path p;
  assert_int_equal(nb_path_parse("/1/0/1", &p), NB_OK);
  char reason[160] = "";
  nb_records r;
  nb_records_init(&r);
  json_t *b = json_loads("{\"value\":\"300\"}", 0, NULL);
  assert_int_equal(nb_http_json_to_records(m, &p, b, &r, reason, sizeof(reason)), NB_OK);
  assert_int_equal(r.len, 1);
  assert_int_equal(r.items[0].value.type, NB_VT_INT); /* lifetime is an Integer */
  assert_int_equal(r.items[0].value.v.i, 300);
  json_decref(b);
  nb_records_deinit(&r);
  nb_records_init(&r);
  b = json_loads("{\"value\":\"x\"}", 0, NULL);
  assert_int_equal(nb_http_json_to_records(m, &p, b, &r, reason, sizeof(reason)), NB_ERR_INVAL);
  assert_non_null(strstr(reason, "Integer"));
  json_decref(b);
  assert_int_equal(nb_path_parse("/3/0", &p), NB_OK);
  b = json_loads("{\"content\":[{\"path\":\"/4/0/1\",\"value\":1}]}", 0, NULL);
  assert_int_equal(nb_http_json_to_records(m, &p, b, &r, reason, sizeof(reason)), NB_ERR_INVAL);
  assert_non_null(strstr(reason, "outside"));
  json_decref(b);
  b = json_loads("[1]", 0, NULL);
  assert_int_equal(nb_http_json_to_records(m, &p, b, &r, reason, sizeof(reason)), NB_ERR_INVAL);
  json_decref(b);
  nb_records_deinit(&r);
  nb_model_free(m);
}

/* Nobody subscribed: no frame is formatted (the history is still kept); with subscribers, each
 * event is formatted once however many it reaches, and not at all when none of them follows its
 * endpoint. */
static void test_frames_built_once_and_only_when_heard(void **state) {
  (void)state;
  nb_server *s;
  assert_int_equal(nb_server_new(NULL, no_send, NULL, &s), NB_OK);
  nb_http_events *ev;
  assert_int_equal(nb_http_events_new(s, NULL, &ev), NB_OK);
  reg(s, "dev-a", 1, 40001);
  reg(s, "dev-b", 2, 40002);
  assert_int_equal(nb_http_events_frames_built(ev), 0);
  nb_http_sub *subs[4];
  for (int i = 0; i < 3; i++) subs[i] = nb_http_events_subscribe(ev, NULL, NULL, NULL);
  subs[3] = nb_http_events_subscribe(ev, "dev-x", NULL, NULL);
  reg(s, "dev-c", 3, 40003); /* REGISTRATION and MONITOR, each once for three subscribers */
  assert_int_equal(nb_http_events_frames_built(ev), 2);
  char first[4096], other[4096];
  size_t n = nb_http_sub_read(subs[0], first, sizeof(first));
  assert_true(n > 0);
  for (int i = 1; i < 3; i++) {
    assert_int_equal(nb_http_sub_read(subs[i], other, sizeof(other)), n);
    assert_memory_equal(first, other, n);
  }
  assert_int_equal(nb_http_sub_read(subs[3], other, sizeof(other)), 0);
  for (int i = 0; i < 3; i++) nb_http_events_unsubscribe(ev, subs[i]);
  reg(s, "dev-d", 4, 40004); /* only dev-x is followed now */
  assert_int_equal(nb_http_events_frames_built(ev), 2);
  reg(s, "dev-x", 5, 40005);
  assert_int_equal(nb_http_events_frames_built(ev), 4);
  n = nb_http_sub_read(subs[3], other, sizeof(other) - 1);
  other[n] = '\0';
  assert_non_null(strstr(other, "\"endpoint\":\"dev-x\""));
  nb_http_events_free(ev);
  nb_server_free(s);
}

static void assert_text(const json_t *j, const char *want) {
  char *text = nb_http_json_text(j);
  assert_non_null(text);
  assert_string_equal(text, want);
  free(text);
}

/* Each real with the fewest of 15..17 digits that read back exactly, on its own: one real
 * that needs 17 leaves the others short; and always as a real (20.0, not 2e1). */
static void test_json_text_shortest_reals(void **state) {
  (void)state;
  json_t *j = json_pack("{s:f,s:f,s:f,s:i}", "t", 20.44, "h", 0.1, "big", 1e300, "n", 7);
  assert_text(j, "{\"t\":20.44,\"h\":0.1,\"big\":1e300,\"n\":7}");
  json_decref(j);
  j = json_pack("{s:f}", "t", 20.0); /* the precision of the fewest digits alone made it 2e1 */
  assert_text(j, "{\"t\":20.0}");
  json_decref(j);
  j = json_pack("[f,f,f,f,f,f]", 20.0, 100.0, -0.0, 1e-5, 1.5e-7, 123456789012.5);
  assert_text(j, "[20.0,100.0,-0.0,1e-5,1.5e-7,123456789012.5]");
  json_decref(j);
  /* 0.1 + 0.2 needs all 17 digits; its neighbours do not, and all read back exactly. */
  j = json_pack("[f,f,f]", 0.1 + 0.2, 21.5, 0.1);
  assert_text(j, "[0.30000000000000004,21.5,0.1]");
  char *text = nb_http_json_text(j);
  json_t *back = json_loads(text, 0, NULL);
  assert_non_null(back);
  assert_true(json_real_value(json_array_get(back, 0)) == 0.1 + 0.2);
  free(text);
  json_decref(back);
  json_decref(j);
}

/* Everything but reals is written as jansson writes it compactly: key order, escapes, UTF-8,
 * empty containers, integers at their limits. */
static void test_json_text_as_jansson(void **state) {
  (void)state;
  json_t *j = json_pack("{s:s,s:[],s:{},s:[i,I,I,b,b,n],s:{s:[s]}}", "s",
                        "q\"b\\s/n\nr\rt\tb\bf\f\x01\x1f\x7f \xc3\xa9", "ea", "eo", "l", 0,
                        (json_int_t)INT64_MAX, (json_int_t)INT64_MIN, 1, 0, "o", "k\n", "v");
  json_object_set_new(j, "z", json_stringn("a\0b", 3));
  char *ours = nb_http_json_text(j);
  char *theirs = json_dumps(j, JSON_COMPACT);
  assert_non_null(ours);
  assert_string_equal(ours, theirs);
  free(ours);
  free(theirs);
  json_decref(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_frames_filter_and_bound), cmocka_unit_test(test_json_body_typing),
      cmocka_unit_test(test_frames_built_once_and_only_when_heard),
      cmocka_unit_test(test_json_text_shortest_reals), cmocka_unit_test(test_json_text_as_jansson)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
