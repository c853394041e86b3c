/* `niobium monitor --read` end to end on a crafted capture: JSON lines that parse, the
 * alerts of the attacks in it, usage errors; and the CoAP fields of every packet checked
 * against tshark's dissector (type, code, MID, token, Uri-Path, Content-Format). */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lwm2m/format.h"
#include "nb_test.h"
#include "pcap_craft.h"

static char t_dir[256];
static char t_pcap[300];

#define SRV "10.0.0.1:5683"

/* A small mixed capture: a device's life plus a few attacks, in pcapng on Ethernet. */
static void t_write_capture(const char *file) {
  nb_pcap_craft *c = nb_craft_open(file, 1, true);
  assert_non_null(c);
  nb_craft_session s = {.c = c, .t_us = 1700000000000000ll};
  static const char links[] = "</1/0>,</3/0>";
  nb_craft_exchange(&s, "10.1.0.5:40000", SRV, NB_COAP_POST, "/rd", "ep=cli-dev&lt=120&lwm2m=1.1",
                    40, links, sizeof links - 1, NB_COAP_CREATED, -1, NULL, 0, "/rd/x1", -1);
  size_t n;
  uint8_t *p = nb_craft_payload(11542, "/3/0", "/3/0/0=s:ACME;/3/0/9=i:50", &n);
  assert_non_null(p);
  nb_craft_exchange(&s, SRV, "10.1.0.5:40000", NB_COAP_GET, "/3/0", NULL, -1, NULL, 0,
                    NB_COAP_CONTENT, 11542, p, n, NULL, -1);
  free(p);
  p = nb_craft_payload(110, "/3/0/9", "/3/0/9=i:49", &n);
  nb_craft_exchange(&s, SRV, "10.1.0.5:40000", NB_COAP_GET, "/3/0/9", NULL, -1, NULL, 0,
                    NB_COAP_CONTENT, 110, p, n, NULL, 0);
  free(p);
  nb_craft_exchange(&s, SRV, "10.1.0.5:40000", NB_COAP_POST, "/3/0/4", NULL, -1, NULL, 0,
                    NB_COAP_CHANGED, -1, NULL, 0, NULL, -1);
  nb_craft_exchange(&s, SRV, "10.1.0.5:40000", NB_COAP_PUT, "/0/0/5", NULL, 42, "0123456789abcdef",
                    16, NB_COAP_CHANGED, -1, NULL, 0, NULL, -1);
  nb_craft_exchange(&s, "10.1.0.5:40000", SRV, NB_COAP_DELETE, "/rd/x1", NULL, -1, NULL, 0,
                    NB_COAP_DELETED, -1, NULL, 0, NULL, -1);
  assert_true(nb_craft_close(c));
}

static int t_setup(void **state) {
  (void)state;
  snprintf(t_dir, sizeof t_dir, "/tmp/nb_monitor_cli_XXXXXX");
  if (!mkdtemp(t_dir)) return -1;
  snprintf(t_pcap, sizeof t_pcap, "%s/cap.pcapng", t_dir);
  t_write_capture(t_pcap);
  return 0;
}

static int t_teardown(void **state) {
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", t_dir);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *t_binary(void) {
  const char *b = nb_test_env("NB_BINARY");
  if (!b) skip();
  return b;
}

/* Runs the monitor and returns its stdout as parsed JSON lines (array, caller decrefs). */
static json_t *t_run_monitor(char *const extra[], int *status) {
  char *argv[16] = {(char *)t_binary(), "monitor", "--read", t_pcap, "--events", "-"};
  size_t k = 6;
  for (size_t i = 0; extra && extra[i] && k < 15; i++) argv[k++] = extra[i];
  argv[k] = NULL;
  char *out = NULL, *err = NULL;
  *status = nb_test_run_capture(argv, 30000, &out, &err);
  char bad[256];
  json_t *arr = nb_test_json_lines(out, bad, sizeof bad);
  if (!arr) fail_msg("not JSON: %s", bad);
  free(out);
  free(err);
  return arr;
}

static size_t t_count(json_t *arr, const char *key, const char *value) {
  size_t n = 0, i;
  json_t *o;
  json_array_foreach(arr, i, o) {
    const char *v = json_string_value(json_object_get(o, key));
    if (v && !strcmp(v, value)) n++;
  }
  return n;
}

static void test_events_and_alerts(void **state) {
  (void)state;
  int status;
  json_t *arr = t_run_monitor(NULL, &status);
  assert_int_equal(status, 0);
  assert_int_equal(t_count(arr, "event", "message"), 12);
  assert_int_equal(t_count(arr, "rule", "dangerous-execute"), 1);
  assert_int_equal(t_count(arr, "rule", "cleartext-credentials"), 1);
  assert_int_equal(t_count(arr, "rule", "security-write"), 1);
  assert_int_equal(t_count(arr, "event", "alert"), 3);
  assert_int_equal(t_count(arr, "operation", "Observe"), 2);
  assert_int_equal(t_count(arr, "state", "deregistered"), 1);
  assert_true(t_count(arr, "event", "summary") >= 1);
  char *all = json_dumps(arr, 0);
  assert_non_null(strstr(all, "[16 bytes redacted]"));
  assert_null(strstr(all, "0123456789abcdef"));
  assert_null(strstr(all, "30313233343536373839616263646566"));
  free(all);
  json_decref(arr);

  char *alerts_only[] = {"--alerts-only", NULL};
  arr = t_run_monitor(alerts_only, &status);
  assert_int_equal(status, 0);
  assert_int_equal(t_count(arr, "event", "message"), 0);
  assert_int_equal(t_count(arr, "event", "alert"), 3);
  json_decref(arr);
}

static void test_usage_errors(void **state) {
  (void)state;
  char *none[] = {(char *)t_binary(), "monitor", NULL};
  assert_int_equal(nb_test_run_capture(none, 10000, NULL, NULL), 2);
  char *missing[] = {(char *)t_binary(), "monitor", "--read", "/nonexistent.pcap", NULL};
  assert_int_equal(nb_test_run_capture(missing, 10000, NULL, NULL), 1);
  char rules[320];
  snprintf(rules, sizeof rules, "%s/bad.rules", t_dir);
  FILE *f = fopen(rules, "w");
  fputs("scanning.errors = lots\n", f);
  fclose(f);
  char *bad[] = {(char *)t_binary(), "monitor", "--read", t_pcap, "--rules", rules, NULL};
  char *err = NULL;
  assert_int_equal(nb_test_run_capture(bad, 10000, NULL, &err), 2);
  assert_non_null(strstr(err, "line 1"));
  free(err);
  char *help[] = {(char *)t_binary(), "monitor", "--help", NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run_capture(help, 10000, &out, NULL), 0);
  assert_non_null(strstr(out, "Examples:"));
  free(out);
}

static void test_learn_then_detect(void **state) {
  (void)state;
  char profile[320];
  snprintf(profile, sizeof profile, "%s/profile.json", t_dir);
  char *learn[] = {"--learn", profile, "--window", "30", NULL};
  int status;
  json_t *arr = t_run_monitor(learn, &status);
  assert_int_equal(status, 0);
  json_decref(arr);
  char *text = nb_test_read_file(profile, NULL);
  assert_non_null(text);
  assert_non_null(strstr(text, "cli-dev|0.02|CON|/rd"));
  free(text);
  char *detect[] = {"--baseline", profile, NULL};
  arr = t_run_monitor(detect, &status);
  assert_int_equal(status, 0);
  assert_int_equal(t_count(arr, "rule", "baseline"), 0);
  json_decref(arr);
  char *bad[] = {(char *)t_binary(), "monitor", "--read", t_pcap, "--baseline", t_pcap, NULL};
  assert_int_equal(nb_test_run_capture(bad, 10000, NULL, NULL), 1);
}

/* tshark's Content-Format is the media type name; map ours the same way. */
static bool t_cf_equal(const char *tshark_cf, json_t *ev) {
  json_t *cf = json_object_get(ev, "content_format");
  if (!cf) return tshark_cf[0] == 0;
  int n = (int)json_integer_value(cf);
  if (!tshark_cf[0]) return false;
  return strstr(tshark_cf, nb_format_media_type(n)) != NULL || atoi(tshark_cf) == n;
}

static void test_tshark_agrees(void **state) {
  (void)state;
  if (!nb_test_have_program("tshark")) skip();
  int status;
  json_t *arr = t_run_monitor(NULL, &status);
  assert_int_equal(status, 0);
  char *argv[] = {"tshark", "-n",
                  "-r",     t_pcap,
                  "-d",     "udp.port==5683,coap",
                  "-Y",     "coap",
                  "-T",     "fields",
                  "-E",     "separator=|",
                  "-e",     "frame.number",
                  "-e",     "coap.type",
                  "-e",     "coap.code",
                  "-e",     "coap.mid",
                  "-e",     "coap.token",
                  "-e",     "coap.opt.uri_path_recon",
                  "-e",     "coap.opt.ctype",
                  NULL};
  char *out = NULL;
  if (nb_test_run_capture(argv, 60000, &out, NULL) != 0 || !out || !*out) {
    free(out);
    json_decref(arr);
    skip();
  }
  size_t rows = 0;
  char *save = NULL;
  for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *f[8] = {0};
    size_t nf = 0;
    for (char *p = line; nf < 8; nf++) {
      f[nf] = p;
      char *bar = strchr(p, '|');
      if (!bar) {
        nf++;
        break;
      }
      *bar = 0;
      p = bar + 1;
    }
    assert_int_equal(nf, 7);
    long frame = atol(f[0]);
    json_t *ev = NULL, *o;
    size_t i;
    json_array_foreach(arr, i, o) {
      const char *kind = json_string_value(json_object_get(o, "event"));
      if (kind && !strcmp(kind, "message") &&
          json_integer_value(json_object_get(o, "packet")) == frame)
        ev = o;
    }
    if (!ev) fail_msg("frame %ld: tshark sees CoAP, the monitor no message", frame);
    static const char *const types[] = {"CON", "NON", "ACK", "RST"};
    const char *type = json_string_value(json_object_get(ev, "coap_type"));
    assert_string_equal(type, types[atoi(f[1]) & 3]);
    int code = atoi(f[2]) & 0xff;
    char code_text[16];
    snprintf(code_text, sizeof code_text, "%d.%02d", code >> 5, code & 31);
    assert_string_equal(json_string_value(json_object_get(ev, "coap_code")), code_text);
    assert_int_equal(json_integer_value(json_object_get(ev, "mid")), atoi(f[3]));
    assert_string_equal(json_string_value(json_object_get(ev, "token")), f[4]);
    if (f[5][0]) assert_string_equal(json_string_value(json_object_get(ev, "path")), f[5]);
    if (!t_cf_equal(f[6], ev)) fail_msg("frame %ld: content format %s", frame, f[6]);
    rows++;
  }
  assert_int_equal(rows, 12);
  free(out);
  json_decref(arr);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_events_and_alerts),
      cmocka_unit_test(test_usage_errors),
      cmocka_unit_test(test_learn_then_detect),
      cmocka_unit_test(test_tshark_agrees),
  };
  return cmocka_run_group_tests(tests, t_setup, t_teardown);
}
