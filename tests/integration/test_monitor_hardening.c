/* `niobium monitor` on crafted captures of issue 16, one per item, through the real binary: no
 * evasion by padding with unknown elective options (and tshark reads the same path), LwM2M
 * CBOR and Leshan-style LwM2M JSON decoded and judged by the rules, undecodable formats said so,
 * notifications aggregated per flow (mid-session observations informational), security-write
 * kept to security resources, LwM2M operations only on LwM2M paths, pcapng files mixing link
 * types, captures cut short still summarized (exit 1), invalid lifetimes reported as such,
 * alert texts without port 0, IPv6 payload length 0 malformed, and events written in whole
 * lines while the capture is still being read. Each test fails with the monitor before it. */
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_test.h"
#include "pcap_craft.h"

#define SRV "10.0.0.1:5683"
#define DEV "10.1.0.5:40000"
#define T0 1700000000000000ll

static char t_dir[256];

static int t_setup(void **state) {
  (void)state;
  snprintf(t_dir, sizeof t_dir, "/tmp/nb_monitor_hard_XXXXXX");
  return mkdtemp(t_dir) ? 0 : -1;
}

/* NB_TEST_KEEP=1 keeps the crafted captures (their directory is printed). */
static int t_teardown(void **state) {
  (void)state;
  if (getenv("NB_TEST_KEEP")) return print_message("captures kept in %s\n", t_dir), 0;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", t_dir);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *t_file(const char *name) {
  static char buf[4][320];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", t_dir, name);
  return buf[k];
}

static const char *t_binary(void) {
  const char *b = nb_test_env("NB_BINARY");
  if (!b) skip();
  return b;
}

/* `niobium monitor --read FILE --events - [extra]`: the JSON lines (array), the exit status
 * and stderr (heap, may be NULL). */
static json_t *t_monitor(const char *file, char *const extra[], int *status, char **err) {
  char *argv[16] = {(char *)t_binary(), "monitor", "--read", (char *)file, "--events", "-"};
  size_t k = 6;
  for (size_t i = 0; extra && extra[i] && k < 15; i++) argv[k++] = extra[i];
  argv[k] = NULL;
  char *out = NULL, *e = NULL;
  *status = nb_test_run_capture(argv, 60000, &out, &e);
  char bad[256];
  json_t *arr = nb_test_json_lines(out, bad, sizeof bad);
  if (!arr) fail_msg("not JSON: %s", bad);
  free(out);
  if (err)
    *err = e;
  else
    free(e);
  return arr;
}

static const char *t_str(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "";
}

static size_t t_count(const json_t *arr, const char *key, const char *value) {
  size_t n = 0, i;
  json_t *o;
  json_array_foreach(arr, i, o) n += !strcmp(t_str(o, key), value);
  return n;
}

/* The first object whose key has the value (and, when key2, key2 has value2), or fail. */
static json_t *t_find2(const json_t *arr, const char *key, const char *value, const char *key2,
                       const char *value2) {
  size_t i;
  json_t *o;
  json_array_foreach(arr, i, o) {
    if (!strcmp(t_str(o, key), value) && (!key2 || !strcmp(t_str(o, key2), value2))) return o;
  }
  char *all = json_dumps(arr, JSON_COMPACT);
  print_message("%s\n", all);
  free(all);
  fail_msg("no event with %s=%s%s%s%s", key, value, key2 ? " and " : "", key2 ? key2 : "",
           key2 ? value2 : "");
  return NULL;
}

static json_t *t_find(const json_t *arr, const char *key, const char *value) {
  return t_find2(arr, key, value, NULL, NULL);
}

static long long t_int(const json_t *o, const char *key) {
  return (long long)json_integer_value(json_object_get(o, key));
}

/* A registered device, as every scenario starts (unless it begins mid-session). */
static void t_register(nb_craft_session *s, const char *client, const char *ep, const char *loc) {
  char q[96];
  snprintf(q, sizeof q, "ep=%s&lt=300", ep);
  nb_craft_exchange(s, client, SRV, NB_COAP_POST, "/rd", q, 40, "</3/0>", 6, NB_COAP_CREATED, -1,
                    NULL, 0, loc, -1);
}

static nb_pcap_craft *t_open(const char *name, nb_craft_session *s) {
  nb_pcap_craft *c = nb_craft_open(t_file(name), 1, true);
  assert_non_null(c);
  *s = (nb_craft_session){.c = c, .t_us = T0, .mid = 100, .token = 100};
  return c;
}

/* ---- 1: padding with unknown elective options */

/* A request with `pad` extra unknown elective options (number 2048, empty, ignored by every
 * receiver per RFC 7252 5.4.1) and its 2.04 answer. */
static void t_padded(nb_craft_session *s, uint8_t code, const char *path, int cf, const char *body,
                     size_t pad) {
  static nb_coap_msg msg;
  uint16_t mid = ++s->mid;
  nb_craft_msg(&msg, NB_COAP_CON, code, mid, ++s->token, path, NULL, cf, NULL, 0);
  assert_int_equal(nb_coap_msg_add_option(&msg, 2048, NULL, 0), NB_OK);
  static uint8_t dgram[2048];
  size_t n = 0;
  assert_int_equal(nb_coap_serialize(&msg, dgram, sizeof dgram, &n), NB_OK);
  memset(dgram + n, 0x00, pad - 1); /* delta 0, length 0: option 2048 again */
  n += pad - 1;
  if (body) {
    dgram[n++] = 0xff;
    memcpy(dgram + n, body, strlen(body));
    n += strlen(body);
  }
  assert_int_equal(nb_craft_udp(s->c, s->t_us, SRV, DEV, dgram, n, NULL), NB_OK);
  s->t_us += 10000;
  nb_craft_msg(&msg, NB_COAP_ACK, NB_COAP_CHANGED, mid, s->token, NULL, NULL, -1, NULL, 0);
  assert_int_equal(nb_craft_coap(s->c, s->t_us, DEV, SRV, &msg, NULL), NB_OK);
  s->t_us += 10000;
}

static void test_padded_options_do_not_evade(void **state) {
  (void)state;
  nb_craft_session s;
  nb_pcap_craft *c = t_open("padded.pcapng", &s);
  t_register(&s, DEV, "pad-dev", "/rd/p");
  t_padded(&s, NB_COAP_PUT, "/0/1/5", 0, "0123456789abcdef", 60); /* a key over NoSec */
  t_padded(&s, NB_COAP_POST, "/3/0/4", -1, NULL, 100);            /* reboot */
  t_padded(&s, NB_COAP_PUT, "/5/0/1", 0, "http://evil.example/fw.bin", 300);
  assert_true(nb_craft_close(c));
  int status;
  json_t *arr = t_monitor(t_file("padded.pcapng"), NULL, &status, NULL);
  assert_int_equal(status, 0);
  assert_int_equal(t_count(arr, "event", "malformed"), 0);
  assert_int_equal(t_count(arr, "rule", "malformed-coap"), 0);
  assert_int_equal(t_count(arr, "rule", "cleartext-credentials"), 1);
  assert_int_equal(t_count(arr, "rule", "security-write"), 1);
  assert_int_equal(t_count(arr, "rule", "dangerous-execute"), 1);
  assert_int_equal(t_count(arr, "rule", "insecure-firmware-uri"), 1);
  json_t *w = t_find2(arr, "operation", "Write", "path", "/5/0/1");
  assert_int_equal(t_int(w, "packet"), 7);
  assert_string_equal(t_str(t_find2(arr, "event", "message", "path", "/3/0/4"), "operation"),
                      "Execute");
  json_decref(arr);
  /* tshark reads the same paths out of the padded datagrams. */
  if (!nb_test_have_program("tshark")) return;
  char *argv[] = {"tshark", "-n",     "-r", (char *)t_file("padded.pcapng"), "-Y", "coap.code < 32",
                  "-T",     "fields", "-e", "coap.opt.uri_path_recon",       NULL};
  char *out = NULL;
  if (nb_test_run_capture(argv, 60000, &out, NULL) == 0 && out && *out) {
    assert_non_null(strstr(out, "/0/1/5\n"));
    assert_non_null(strstr(out, "/3/0/4\n"));
    assert_non_null(strstr(out, "/5/0/1\n"));
  }
  free(out);
}

/* ---- 2 and 3: LwM2M CBOR, Leshan's LwM2M JSON, formats the monitor cannot read */

static void t_write(nb_craft_session *s, const char *path, int cf, const void *body, size_t n) {
  nb_craft_exchange(s, SRV, DEV, NB_COAP_PUT, path, NULL, cf, body, n, NB_COAP_CHANGED, -1, NULL, 0,
                    NULL, -1);
}

static void test_every_format_is_judged(void **state) {
  (void)state;
  nb_craft_session s;
  nb_pcap_craft *c = t_open("formats.pcapng", &s);
  t_register(&s, DEV, "fmt-dev", "/rd/f");
  /* {5: {0: {1: "coap://evil.example/fw"}}}: LwM2M CBOR (11544) */
  static const uint8_t lwm2m_cbor[] = {0xa1, 0x05, 0xa1, 0x00, 0xa1, 0x01, 0x76, 'c', 'o', 'a',
                                       'p',  ':',  '/',  '/',  'e',  'v',  'i',  'l', '.', 'e',
                                       'x',  'a',  'm',  'p',  'l',  'e',  '/',  'f', 'w'};
  t_write(&s, "/5/0", 11544, lwm2m_cbor, sizeof lwm2m_cbor);
  size_t n;
  uint8_t *senml = nb_craft_payload(112, "/5/0", "/5/0/1=s:coap://evil.example/fw", &n);
  assert_non_null(senml);
  t_write(&s, "/5/0", 112, senml, n);
  free(senml);
  /* Leshan's client in OMA interop TD 204/220: bn without its trailing slash. */
  static const char json[] =
      "{\"bn\":\"/5/0\",\"e\":[{\"n\":\"1\",\"sv\":\"http://evil.example/fw\"}]}";
  t_write(&s, "/5/0", 11543, json, sizeof json - 1);
  /* A format nobody registered: said so, never silence. */
  t_write(&s, "/3/0/14", 65001, "+02:00", 6);
  assert_true(nb_craft_close(c));
  int status;
  json_t *arr = t_monitor(t_file("formats.pcapng"), NULL, &status, NULL);
  assert_int_equal(status, 0);
  assert_int_equal(t_count(arr, "rule", "insecure-firmware-uri"), 3);
  size_t i;
  json_t *o;
  size_t writes = 0;
  json_array_foreach(arr, i, o) {
    if (strcmp(t_str(o, "operation"), "Write") || json_is_true(json_object_get(o, "response")))
      continue;
    long long cf = t_int(o, "content_format");
    writes++;
    if (cf == 65001) {
      assert_string_equal(t_str(o, "decode_error"), "Content-Format not decoded by the monitor");
      continue;
    }
    json_t *values = json_object_get(o, "values");
    if (json_array_size(values) != 1) fail_msg("format %lld: values not decoded", cf);
    assert_string_equal(t_str(json_array_get(values, 0), "path"), "/5/0/1");
    if (cf == 11543)
      assert_non_null(strstr(t_str(o, "nonconformance"), "trailing"));
    else
      assert_null(json_object_get(o, "nonconformance"));
  }
  assert_int_equal(writes, 4);
  json_decref(arr);
}

/* ---- 4: notifications, aggregated */

static void t_notify(nb_craft_session *s, const char *from, uint32_t token, uint32_t seq) {
  static nb_coap_msg msg;
  nb_craft_msg(&msg, NB_COAP_NON, NB_COAP_CONTENT, (uint16_t)(seq * 7 + token), token, NULL, NULL,
               0, "21", 2);
  assert_int_equal(nb_coap_msg_add_uint(&msg, NB_COAP_OPT_OBSERVE, seq), NB_OK);
  assert_int_equal(nb_craft_coap(s->c, s->t_us, from, SRV, &msg, NULL), NB_OK);
  s->t_us += 20000; /* 100 notifications span 2 s: one window */
}

static void test_notifications_are_aggregated(void **state) {
  (void)state;
  nb_craft_session s;
  nb_pcap_craft *c = t_open("notify.pcapng", &s);
  /* The capture begins after three devices' observations were set up. */
  for (uint32_t k = 1; k <= 100; k++)
    for (int d = 0; d < 3; d++) {
      char from[32];
      snprintf(from, sizeof from, "10.2.0.%d:41000", d + 1);
      t_notify(&s, from, 0x500 + (uint32_t)d, k);
    }
  /* A slow sensor: a notification every 20 s for 200 s is still one run, one alert. */
  for (uint32_t k = 1; k <= 10; k++) {
    t_notify(&s, "10.2.0.9:41000", 0x599, k);
    s.t_us += 20000000;
  }
  /* A device that registers in the capture, then notifies on a token nobody observed. */
  t_register(&s, DEV, "inject-dev", "/rd/i");
  for (uint32_t k = 1; k <= 50; k++) t_notify(&s, DEV, 0xdead, k);
  uint64_t frames = nb_craft_frames(c);
  assert_true(nb_craft_close(c));
  int status;
  json_t *arr = t_monitor(t_file("notify.pcapng"), NULL, &status, NULL);
  assert_int_equal(status, 0);
  assert_int_equal(t_count(arr, "rule", "observation-before-capture"), 4);
  assert_int_equal(t_count(arr, "rule", "unsolicited-notify"), 1);
  json_t *info = t_find(arr, "rule", "observation-before-capture");
  assert_string_equal(t_str(info, "severity"), "info");
  assert_int_equal(t_int(info, "count"), 100);
  assert_true(t_int(info, "first_packet") >= 1 && t_int(info, "first_packet") <= 3);
  assert_true(t_int(info, "last_packet") >= 298 && t_int(info, "last_packet") <= 300);
  json_t *bad = t_find(arr, "rule", "unsolicited-notify");
  assert_string_equal(t_str(bad, "severity"), "medium");
  assert_int_equal(t_int(bad, "count"), 50);
  assert_int_equal(t_int(bad, "last_packet"), (long long)frames);
  assert_string_equal(t_str(bad, "endpoint"), "inject-dev");
  /* Every notification is still a message event. */
  assert_int_equal(t_count(arr, "operation", "Notify"), 360);
  size_t i;
  json_t *o;
  json_array_foreach(arr, i, o) {
    if (!strcmp(t_str(o, "rule"), "observation-before-capture") &&
        !strcmp(t_str(o, "src"), "10.2.0.9"))
      assert_int_equal(t_int(o, "count"), 10);
  }
  json_decref(arr);
}

/* ---- 5: security-write's scope */

static void test_security_write_scope(void **state) {
  (void)state;
  nb_craft_session s;
  nb_pcap_craft *c = t_open("secwrite.pcapng", &s);
  t_register(&s, DEV, "td220", "/rd/t");
  /* OMA interop TD 220: lifetime and periods of the Server object. */
  size_t n;
  uint8_t *tlv = nb_craft_payload(11542, "/1/0", "/1/0/1=i:120;/1/0/2=i:10;/1/0/3=i:60", &n);
  assert_non_null(tlv);
  nb_craft_exchange(&s, SRV, DEV, NB_COAP_POST, "/1/0", NULL, 11542, tlv, n, NB_COAP_CHANGED, -1,
                    NULL, 0, NULL, -1);
  free(tlv);
  t_write(&s, "/1/0/1", 0, "300", 3);
  uint64_t ordinary = nb_craft_frames(c);
  /* Security object, ACL, OSCORE keys: in scope. */
  t_write(&s, "/0/1/0", 0, "coap://10.6.6.6:5683", 20);
  t_write(&s, "/2/0/2/101", 0, "31", 2);
  nb_craft_exchange(&s, SRV, DEV, NB_COAP_DELETE, "/21/0", NULL, -1, NULL, 0, NB_COAP_DELETED, -1,
                    NULL, 0, NULL, -1);
  assert_true(nb_craft_close(c));
  int status;
  json_t *arr = t_monitor(t_file("secwrite.pcapng"), NULL, &status, NULL);
  assert_int_equal(status, 0);
  assert_int_equal(t_count(arr, "rule", "security-write"), 3);
  size_t i;
  json_t *o;
  json_array_foreach(arr, i, o) {
    if (!strcmp(t_str(o, "rule"), "security-write") && t_int(o, "packet") <= (long long)ordinary)
      fail_msg("security-write on an ordinary Server object write: %s", t_str(o, "message"));
  }
  json_decref(arr);
}

/* ---- 6: CoAP that is not LwM2M */

static void test_plain_coap_is_not_lwm2m(void **state) {
  (void)state;
  nb_craft_session s;
  nb_pcap_craft *c = t_open("plain.pcapng", &s);
  nb_craft_exchange(&s, "10.3.0.1:40000", SRV, NB_COAP_POST, "/", NULL, 0, "x", 1, NB_COAP_CHANGED,
                    -1, NULL, 0, NULL, -1);
  nb_craft_exchange(&s, "10.3.0.1:40000", SRV, NB_COAP_PUT, "/floor_1_light", NULL, 0, "on", 2,
                    NB_COAP_CHANGED, -1, NULL, 0, NULL, -1);
  nb_craft_exchange(&s, "10.3.0.1:40000", SRV, NB_COAP_POST, "/storage", NULL, 0, "a", 1,
                    NB_COAP_CREATED, -1, NULL, 0, "/storage/1", -1);
  nb_craft_exchange(&s, "10.3.0.1:40000", SRV, NB_COAP_GET, "/.well-known/core", NULL, -1, NULL, 0,
                    NB_COAP_CONTENT, 40, "</storage>", 10, NULL, -1);
  nb_craft_exchange(&s, SRV, "10.3.0.1:40000", NB_COAP_POST, "/3/0/4", NULL, -1, NULL, 0,
                    NB_COAP_CHANGED, -1, NULL, 0, NULL, -1);
  assert_true(nb_craft_close(c));
  int status;
  json_t *arr = t_monitor(t_file("plain.pcapng"), NULL, &status, NULL);
  assert_int_equal(status, 0);
  static const char *const lwm2m_ops[] = {"Execute", "Write", "Create", "Read", "Write-Partial"};
  size_t i;
  json_t *o;
  json_array_foreach(arr, i, o) {
    if (strcmp(t_str(o, "event"), "message") || !strcmp(t_str(o, "path"), "/3/0/4")) continue;
    for (size_t k = 0; k < sizeof lwm2m_ops / sizeof lwm2m_ops[0]; k++)
      if (!strcmp(t_str(o, "operation"), lwm2m_ops[k]))
        fail_msg("plain CoAP labelled %s: %s %s", lwm2m_ops[k], t_str(o, "coap_code"),
                 t_str(o, "path"));
    assert_null(json_object_get(o, "interface"));
  }
  assert_string_equal(t_str(t_find(arr, "path", "/floor_1_light"), "operation"), "PUT");
  assert_string_equal(t_str(t_find(arr, "path", "/storage"), "operation"), "POST");
  assert_string_equal(t_str(t_find(arr, "path", "/"), "operation"), "POST");
  assert_string_equal(t_str(t_find2(arr, "event", "message", "path", "/3/0/4"), "operation"),
                      "Execute");
  json_decref(arr);
}

/* ---- 7: pcapng interfaces of different link types */

static void test_pcapng_mixed_link_types(void **state) {
  (void)state;
  nb_craft_session s;
  nb_pcap_craft *c = t_open("mixed.pcapng", &s);
  t_register(&s, DEV, "eth-dev", "/rd/e");             /* Ethernet */
  assert_int_equal(nb_craft_interface(c, 101), NB_OK); /* raw IP */
  t_register(&s, "10.1.0.6:40000", "raw-dev", "/rd/r");
  assert_int_equal(nb_craft_interface(c, 113), NB_OK); /* Linux cooked */
  t_register(&s, "10.1.0.7:40000", "sll-dev", "/rd/s");
  assert_true(nb_craft_close(c));
  int status;
  json_t *arr = t_monitor(t_file("mixed.pcapng"), NULL, &status, NULL);
  assert_int_equal(status, 0);
  assert_int_equal(t_count(arr, "event", "message"), 6);
  assert_int_equal(t_count(arr, "state", "registered"), 3);
  t_find2(arr, "endpoint", "sll-dev", "state", "registered");
  json_decref(arr);
}

/* ---- 8: a capture cut short */

static void test_truncated_capture_is_summarized(void **state) {
  (void)state;
  nb_craft_session s;
  nb_pcap_craft *c = nb_craft_open(t_file("cut.pcap"), 1, false);
  assert_non_null(c);
  s = (nb_craft_session){.c = c, .t_us = T0};
  t_register(&s, DEV, "cut-dev", "/rd/c");
  nb_craft_exchange(&s, SRV, DEV, NB_COAP_GET, "/3/0/9", NULL, -1, NULL, 0, NB_COAP_CONTENT, 0,
                    "87", 2, NULL, -1);
  assert_true(nb_craft_close(c));
  struct stat st;
  assert_int_equal(stat(t_file("cut.pcap"), &st), 0);
  assert_int_equal(truncate(t_file("cut.pcap"), st.st_size - 5), 0); /* inside the last frame */
  int status;
  char *err = NULL;
  json_t *arr = t_monitor(t_file("cut.pcap"), NULL, &status, &err);
  assert_int_equal(status, 1);
  assert_non_null(strstr(err, "cut short"));
  free(err);
  assert_int_equal(t_count(arr, "event", "message"), 3); /* the frames before the cut */
  json_t *sum = json_array_get(arr, json_array_size(arr) - 1);
  assert_string_equal(t_str(sum, "event"), "summary");
  assert_int_equal(t_int(sum, "packets"), 3);
  assert_non_null(strstr(t_str(sum, "capture_error"), "cut short"));
  json_decref(arr);
  /* --help says what the exit status means then. */
  char *help[] = {(char *)t_binary(), "monitor", "--help", NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run_capture(help, 10000, &out, NULL), 0);
  assert_non_null(strstr(out, "cut short"));
  free(out);
}

/* ---- 9: values that make sense */

static void test_values_make_sense(void **state) {
  (void)state;
  nb_craft_session s;
  nb_pcap_craft *c = t_open("values.pcapng", &s);
  nb_craft_exchange(&s, DEV, SRV, NB_COAP_POST, "/rd", "ep=lt-abc&lt=abc", 40, "</3/0>", 6,
                    NB_COAP_BAD_REQUEST, -1, NULL, 0, NULL, -1);
  nb_craft_exchange(&s, "10.1.0.6:40000", SRV, NB_COAP_POST, "/rd",
                    "ep=lt-big&lt=99999999999999999999", 40, "</3/0>", 6, NB_COAP_BAD_REQUEST, -1,
                    NULL, 0, NULL, -1);
  for (int i = 0; i < 25; i++) { /* a registration flood from one host: its alert names it */
    char q[48];
    snprintf(q, sizeof q, "ep=flood%d&lt=60", i);
    nb_craft_exchange(&s, "10.66.6.6:40000", SRV, NB_COAP_POST, "/rd", q, 40, "</3/0>", 6,
                      NB_COAP_CREATED, -1, NULL, 0, "/rd/x", -1);
  }
  /* An IPv6 packet whose payload length is 0 (tshark: malformed) around a valid CoAP GET. */
  uint8_t frame[256];
  size_t n = 0;
  static nb_coap_msg msg;
  nb_craft_msg(&msg, NB_COAP_CON, NB_COAP_GET, 9, 9, "/3/0/0", NULL, -1, NULL, 0);
  uint8_t coap[64];
  size_t coap_len = 0;
  assert_int_equal(nb_coap_serialize(&msg, coap, sizeof coap, &coap_len), NB_OK);
  assert_int_equal(nb_craft_build(1, "[2001:db8::1]:5683", "[2001:db8::2]:40000", coap, coap_len,
                                  NULL, frame, sizeof frame, &n),
                   NB_OK);
  frame[14 + 4] = frame[14 + 5] = 0; /* the IPv6 payload length */
  assert_int_equal(nb_craft_frame(c, s.t_us, frame, n), NB_OK);
  assert_true(nb_craft_close(c));
  int status;
  json_t *arr = t_monitor(t_file("values.pcapng"), NULL, &status, NULL);
  assert_int_equal(status, 0);
  json_t *abc = t_find2(arr, "endpoint", "lt-abc", "operation", "Register");
  assert_null(json_object_get(abc, "lifetime"));
  assert_non_null(strstr(t_str(abc, "query_error"), "lt=abc"));
  json_t *big = t_find2(arr, "endpoint", "lt-big", "operation", "Register");
  assert_null(json_object_get(big, "lifetime"));
  assert_non_null(strstr(t_str(big, "query_error"), "invalid lifetime"));
  json_t *flood = t_find(arr, "rule", "registration-flood");
  assert_non_null(strstr(t_str(flood, "message"), "from 10.66.6.6 within"));
  size_t i;
  json_t *o;
  json_array_foreach(arr, i, o) {
    if (strstr(t_str(o, "message"), ":0 ")) fail_msg("port 0 in: %s", t_str(o, "message"));
  }
  json_t *bad = t_find(arr, "event", "malformed");
  assert_non_null(strstr(t_str(bad, "error"), "payload length 0"));
  assert_int_equal(t_count(arr, "path", "/3/0/0"), 0);
  json_decref(arr);
}

/* Events reach the file in whole lines while the capture is still being read: a pcap written
 * into a FIFO whose writer stays open; the Register's events must be in the events file
 * before the capture ends. */
static void test_events_flushed_while_reading(void **state) {
  (void)state;
  const char *bin = t_binary();
  char fifo[320], events[320];
  snprintf(fifo, sizeof fifo, "%s", t_file("live.fifo"));
  snprintf(events, sizeof events, "%s", t_file("live.jsonl"));
  assert_int_equal(mkfifo(fifo, 0600), 0);
  char *argv[] = {(char *)bin, "monitor", "--read", fifo, "--events", events, NULL};
  nb_test_proc p;
  assert_true(nb_test_proc_start(&p, argv));
  int fd = open(fifo, O_WRONLY);
  assert_true(fd >= 0);
  /* The capture, built in a file and poured into the FIFO. */
  nb_craft_session s;
  nb_pcap_craft *c = t_open("live-src.pcap", &s);
  t_register(&s, DEV, "fifo-dev", "/rd/q");
  assert_true(nb_craft_close(c));
  size_t len = 0;
  char *bytes = nb_test_read_file(t_file("live-src.pcap"), &len);
  assert_non_null(bytes);
  assert_int_equal(write(fd, bytes, len), (ssize_t)len);
  free(bytes);
  bool seen = false;
  for (int waited = 0; waited < 15000 && !seen; waited += 50) {
    char *text = nb_test_read_file(events, NULL);
    seen = text && strstr(text, "\"state\":\"registered\"") != NULL;
    if (seen) { /* whole lines only: each one is JSON */
      char *save = NULL;
      for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *o = json_loads(line, 0, NULL);
        if (!o) fail_msg("a cut line in the events file: %s", line);
        json_decref(o);
      }
    }
    free(text);
    if (!seen) usleep(50000);
  }
  close(fd);
  int rc = nb_test_proc_wait(&p, 20000);
  nb_test_proc_cleanup(&p);
  if (!seen) fail_msg("no event in the events file while the capture was open");
  assert_int_equal(rc, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_padded_options_do_not_evade),
      cmocka_unit_test(test_every_format_is_judged),
      cmocka_unit_test(test_notifications_are_aggregated),
      cmocka_unit_test(test_security_write_scope),
      cmocka_unit_test(test_plain_coap_is_not_lwm2m),
      cmocka_unit_test(test_pcapng_mixed_link_types),
      cmocka_unit_test(test_truncated_capture_is_summarized),
      cmocka_unit_test(test_values_make_sense),
      cmocka_unit_test(test_events_flushed_while_reading),
  };
  return cmocka_run_group_tests(tests, t_setup, t_teardown);
}
