/* JSON lines of monitor events: hostile strings (quotes, control characters, invalid UTF-8)
 * from packets are escaped so that every line parses back with jansson to the same text. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "monitor/evjson.h"
#include "monitor/monitor.h"

static json_t *t_render(const nb_mon_event *ev) {
  nb_bytes b;
  nb_bytes_init(&b);
  assert_int_equal(nb_mon_event_to_json(ev, NULL, &b), NB_OK);
  json_error_t err;
  json_t *o = json_loads((const char *)b.data, 0, &err);
  if (!o) fail_msg("not JSON (%s): %s", err.text, (const char *)b.data);
  nb_bytes_free(&b);
  return o;
}

static void test_hostile_strings_escape(void **state) {
  (void)state;
  static nb_mon_event ev;
  memset(&ev, 0, sizeof ev);
  ev.kind = NB_MON_EV_MESSAGE;
  ev.ts_us = 1700000000123456;
  ev.content_format = -1;
  ev.latency_us = 2500;
  ev.lifetime = -1;
  ev.src.family = NB_ADDR_V4;
  memcpy(ev.src.ip, "\x0a\x00\x00\xff", 4);
  ev.dst.family = NB_ADDR_V6;
  ev.dst.ip[15] = 1;
  memcpy(ev.endpoint, "a\"b\\c\n\x01\xff\xc3\xa9", 11);
  ev.op = "Register";
  ev.code = NB_COAP_POST;
  json_t *o = t_render(&ev);
  assert_string_equal(json_string_value(json_object_get(o, "endpoint")),
                      "a\"b\\c\n\x01\xef\xbf\xbd\xc3\xa9");
  assert_string_equal(json_string_value(json_object_get(o, "src")), "10.0.0.255");
  assert_string_equal(json_string_value(json_object_get(o, "dst")), "::1");
  assert_string_equal(json_string_value(json_object_get(o, "coap_code")), "0.02");
  assert_true(json_real_value(json_object_get(o, "latency_ms")) == 2.5);
  assert_true(json_real_value(json_object_get(o, "ts")) > 1700000000.12 &&
              json_real_value(json_object_get(o, "ts")) < 1700000000.13);
  json_decref(o);
}

static void test_values_and_alert(void **state) {
  (void)state;
  static nb_mon_event ev;
  memset(&ev, 0, sizeof ev);
  ev.kind = NB_MON_EV_MESSAGE;
  ev.content_format = 11542;
  ev.latency_us = -1;
  ev.lifetime = -1;
  nb_records recs;
  nb_records_init(&recs);
  nb_path p = nb_path_res(3, 0, 9);
  nb_value v = nb_value_int(-87);
  assert_int_equal(nb_records_add(&recs, &p, &v), NB_OK);
  p = nb_path_res(3, 0, 0);
  assert_int_equal(nb_value_set_string(&v, "x\ty", 3), NB_OK);
  assert_int_equal(nb_records_add(&recs, &p, &v), NB_OK);
  p = nb_path_rinst(3, 0, 7, 1);
  v = nb_value_float(1.5);
  assert_int_equal(nb_records_add(&recs, &p, &v), NB_OK);
  ev.values = &recs;
  nb_model *model = nb_model_new();
  nb_bytes b;
  nb_bytes_init(&b);
  assert_int_equal(nb_mon_event_to_json(&ev, model, &b), NB_OK);
  json_t *o = json_loads((const char *)b.data, 0, NULL);
  assert_non_null(o);
  json_t *vals = json_object_get(o, "values");
  assert_int_equal(json_array_size(vals), 3);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(vals, 0), "value")), -87);
  assert_string_equal(json_string_value(json_object_get(json_array_get(vals, 0), "name")),
                      "Battery Level");
  assert_string_equal(json_string_value(json_object_get(json_array_get(vals, 1), "value")), "x\ty");
  assert_string_equal(json_string_value(json_object_get(json_array_get(vals, 2), "path")),
                      "/3/0/7/1");
  assert_true(json_real_value(json_object_get(json_array_get(vals, 2), "value")) == 1.5);
  json_decref(o);
  nb_bytes_free(&b);
  nb_model_free(model);
  nb_records_deinit(&recs);

  memset(&ev, 0, sizeof ev);
  ev.kind = NB_MON_EV_ALERT;
  ev.rule = NB_RULE_SCANNING;
  ev.severity = "medium";
  ev.evidence[0] = 3;
  ev.evidence[1] = 9;
  ev.evidence_count = 2;
  memcpy(ev.message, "x\"y", 4);
  o = t_render(&ev);
  assert_string_equal(json_string_value(json_object_get(o, "rule")), "scanning");
  assert_int_equal(json_integer_value(json_array_get(json_object_get(o, "evidence"), 1)), 9);
  json_decref(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hostile_strings_escape),
      cmocka_unit_test(test_values_and_alert),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
