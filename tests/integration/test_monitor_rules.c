/* The monitor on crafted captures: each rule's attack raises that rule's alert (with evidence
 * pointing at the attack's frames), benign fleets over every link type raise none, and the
 * LwM2M decoding (operations, endpoints, latency, retransmissions, redaction, states) holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "monitor/capture.h"
#include "monitor/evjson.h"
#include "monitor/monitor.h"
#include "pcap_craft.h"

#define SRV "10.0.0.1:5683"
#define BS "10.0.0.2:5783"

typedef struct {
  char rules[64][40]; /* rule names of alerts, in order */
  uint64_t evidence[64];
  size_t alerts;
  size_t messages, malformed, fragments, dtls, states;
  char ops[512][32];
  int64_t latency[512];
  bool retrans[512];
  nb_bytes json; /* every event as JSON lines */
  nb_model *model;
} t_sink;

static void t_on_event(const nb_mon_event *ev, void *user) {
  t_sink *s = user;
  nb_mon_event_to_json(ev, s->model, &s->json);
  nb_bytes_append(&s->json, "\n", 1);
  switch (ev->kind) {
    case NB_MON_EV_ALERT:
      if (s->alerts < 64) {
        snprintf(s->rules[s->alerts], 40, "%s", nb_rule_name(ev->rule));
        s->evidence[s->alerts] = ev->evidence_count ? ev->evidence[0] : 0;
      }
      s->alerts++;
      break;
    case NB_MON_EV_MESSAGE:
      if (s->messages < 512) {
        snprintf(s->ops[s->messages], 32, "%s", ev->op ? ev->op : "-");
        s->latency[s->messages] = ev->latency_us;
        s->retrans[s->messages] = ev->retransmission;
      }
      s->messages++;
      break;
    case NB_MON_EV_MALFORMED:
      s->malformed++;
      break;
    case NB_MON_EV_FRAGMENT:
      s->fragments++;
      break;
    case NB_MON_EV_DTLS:
      s->dtls++;
      break;
    case NB_MON_EV_STATE:
      s->states++;
      break;
    default:
      break;
  }
}

static char t_dir[256];

static int t_setup(void **state) {
  (void)state;
  snprintf(t_dir, sizeof t_dir, "/tmp/nb_monitor_test_XXXXXX");
  return mkdtemp(t_dir) ? 0 : -1;
}

static int t_teardown(void **state) {
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", t_dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void t_path(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%s", t_dir, name);
}

/* Runs the monitor over a file with optional rules text and baselines; fills s. */
static void t_run_bl(const char *file, const char *rules_text, nb_mon_baseline *learn,
                     const nb_mon_baseline *reference, t_sink *s) {
  memset(s, 0, sizeof *s);
  nb_bytes_init(&s->json);
  s->model = nb_model_new();
  nb_mon_rules rules;
  nb_mon_rules_init(&rules);
  if (rules_text) assert_int_equal(nb_mon_rules_parse(&rules, rules_text, NULL, NULL), NB_OK);
  nb_mon_config cfg = {.rules = &rules, .model = s->model, .learn = learn, .reference = reference};
  nb_monitor *m = nb_monitor_new(&cfg, t_on_event, s);
  assert_non_null(m);
  char why[256] = "";
  nb_err e = nb_mon_read_file(m, file, NULL, why, sizeof why);
  if (e) fail_msg("read %s: %s", file, why);
  nb_monitor_free(m);
  nb_mon_rules_deinit(&rules);
}

static void t_run(const char *file, const char *rules_text, t_sink *s) {
  t_run_bl(file, rules_text, NULL, NULL, s);
}

static void t_done(t_sink *s) {
  nb_bytes_free(&s->json);
  nb_model_free(s->model);
}

static size_t t_count(const t_sink *s, const char *rule) {
  size_t n = 0;
  for (size_t i = 0; i < s->alerts && i < 64; i++)
    if (!strcmp(s->rules[i], rule)) n++;
  return n;
}

static void t_dump_alerts(const t_sink *s) {
  for (size_t i = 0; i < s->alerts && i < 64; i++) print_message("alert: %s\n", s->rules[i]);
}

/* ---- scenarios ---- */

static void t_register(nb_craft_session *s, const char *client, const char *ep, const char *loc,
                       int lt) {
  char q[160];
  snprintf(q, sizeof q, "ep=%s&lt=%d&lwm2m=1.1&b=U", ep, lt);
  static const char links[] = "</>;rt=\"oma.lwm2m\",</1/0>,</3/0>,</5/0>";
  nb_craft_exchange(s, client, SRV, NB_COAP_POST, "/rd", q, 40, links, sizeof links - 1,
                    NB_COAP_CREATED, -1, NULL, 0, loc, -1);
}

/* A benign device life: bootstrap (no keys: NoSec lab), register, read, observe, notify,
 * write, harmless execute, update, de-register. */
static void t_benign_device(nb_craft_session *s, int i) {
  char client[64], ep[32], loc[32], q[64];
  snprintf(client, sizeof client, "10.1.0.%d:%d", 10 + i, 40000 + i);
  snprintf(ep, sizeof ep, "dev%d", i);
  snprintf(loc, sizeof loc, "/rd/r%d", i);
  snprintf(q, sizeof q, "ep=%s", ep);
  nb_craft_exchange(s, client, BS, NB_COAP_POST, "/bs", q, -1, NULL, 0, NB_COAP_CHANGED, -1, NULL,
                    0, NULL, -1);
  nb_craft_exchange(s, BS, client, NB_COAP_DELETE, "/", NULL, -1, NULL, 0, NB_COAP_DELETED, -1,
                    NULL, 0, NULL, -1);
  size_t n;
  uint8_t *p = nb_craft_payload(
      11542, "/0/1",
      "/0/1/0=s:coap://10.0.0.1:5683;/0/1/1=b:0;/0/1/2=i:3;/0/1/3=h:;/0/1/5=h:;/0/1/10=i:101", &n);
  assert_non_null(p);
  nb_craft_exchange(s, BS, client, NB_COAP_PUT, "/0/1", NULL, 11542, p, n, NB_COAP_CHANGED, -1,
                    NULL, 0, NULL, -1);
  free(p);
  p = nb_craft_payload(11542, "/1/0", "/1/0/0=i:101;/1/0/1=i:300;/1/0/7=s:U", &n);
  assert_non_null(p);
  nb_craft_exchange(s, BS, client, NB_COAP_PUT, "/1/0", NULL, 11542, p, n, NB_COAP_CHANGED, -1,
                    NULL, 0, NULL, -1);
  free(p);
  nb_craft_exchange(s, BS, client, NB_COAP_POST, "/bs", NULL, -1, NULL, 0, NB_COAP_CHANGED, -1,
                    NULL, 0, NULL, -1);
  t_register(s, client, ep, loc, 300);
  p = nb_craft_payload(11542, "/3/0", "/3/0/0=s:Niobium;/3/0/1=s:nb-1;/3/0/9=i:87", &n);
  nb_craft_exchange(s, SRV, client, NB_COAP_GET, "/3/0", NULL, -1, NULL, 0, NB_COAP_CONTENT, 11542,
                    p, n, NULL, -1);
  free(p);
  nb_craft_exchange(s, SRV, client, NB_COAP_GET, "/3/0/9", NULL, -1, NULL, 0, NB_COAP_CONTENT, 0,
                    "87", 2, NULL, 0);
  /* Two notifications (CON from the device) on the observation's token. */
  uint32_t tok = s->token;
  for (int k = 1; k <= 2; k++) {
    nb_coap_msg msg;
    nb_craft_msg(&msg, NB_COAP_NON, NB_COAP_CONTENT, (uint16_t)(900 + k + 10 * i), tok, NULL, NULL,
                 0, k == 1 ? "86" : "85", 2);
    nb_coap_msg_add_uint(&msg, NB_COAP_OPT_OBSERVE, (uint32_t)k);
    nb_craft_coap(s->c, s->t_us, client, SRV, &msg, s->opts);
    s->t_us += 100000;
  }
  nb_craft_exchange(s, SRV, client, NB_COAP_PUT, "/3/0/13", NULL, 0, "1700000000", 10,
                    NB_COAP_CHANGED, -1, NULL, 0, NULL, -1);
  nb_craft_exchange(s, SRV, client, NB_COAP_POST, "/3/0/12", NULL, -1, NULL, 0, NB_COAP_CHANGED, -1,
                    NULL, 0, NULL, -1);
  nb_craft_exchange(s, client, SRV, NB_COAP_POST, loc, "lt=300", -1, NULL, 0, NB_COAP_CHANGED, -1,
                    NULL, 0, NULL, -1);
  nb_craft_exchange(s, client, SRV, NB_COAP_DELETE, loc, NULL, -1, NULL, 0, NB_COAP_DELETED, -1,
                    NULL, 0, NULL, -1);
}

static void t_write_benign(const char *file, int linktype, bool pcapng, int devices,
                           const nb_craft_opts *opts) {
  nb_pcap_craft *c = nb_craft_open(file, linktype, pcapng);
  assert_non_null(c);
  nb_craft_session s = {.c = c, .t_us = 1700000000000000ll, .opts = opts};
  for (int i = 0; i < devices; i++) t_benign_device(&s, i);
  assert_true(nb_craft_close(c));
}

static void test_benign_fleets_raise_nothing(void **state) {
  (void)state;
  static const struct {
    int linktype;
    bool pcapng;
    nb_craft_opts opts;
  } cases[] = {
      {1, false, {0}}, {1, true, {.vlan = 42}}, {113, false, {0}}, {276, true, {0}},
      {0, false, {0}}, {108, true, {0}},        {101, false, {0}},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    char file[300];
    t_path(file, sizeof file, "benign.pcap");
    t_write_benign(file, cases[k].linktype, cases[k].pcapng, 5, &cases[k].opts);
    t_sink s;
    t_run(file, NULL, &s);
    if (s.alerts) t_dump_alerts(&s);
    assert_int_equal(s.alerts, 0);
    assert_int_equal(s.malformed, 0);
    assert_int_equal(s.messages, 5 * 26); /* 12 exchanges x 2 + 2 notifications */
    t_done(&s);
  }
}

static const char *t_op_of(const t_sink *s, size_t i) { return i < s->messages ? s->ops[i] : ""; }

static void test_benign_decoding(void **state) {
  (void)state;
  char file[300];
  t_path(file, sizeof file, "decode.pcapng");
  t_write_benign(file, 1, true, 1, NULL);
  t_sink s;
  t_run(file, NULL, &s);
  static const char *const expect[] = {"Bootstrap-Request",
                                       "Bootstrap-Request",
                                       "Bootstrap-Delete",
                                       "Bootstrap-Delete",
                                       "Bootstrap-Write",
                                       "Bootstrap-Write",
                                       "Bootstrap-Write",
                                       "Bootstrap-Write",
                                       "Bootstrap-Finish",
                                       "Bootstrap-Finish",
                                       "Register",
                                       "Register",
                                       "Read",
                                       "Read",
                                       "Observe",
                                       "Observe",
                                       "Notify",
                                       "Notify",
                                       "Write",
                                       "Write",
                                       "Execute",
                                       "Execute",
                                       "Update",
                                       "Update",
                                       "De-register",
                                       "De-register"};
  assert_int_equal(s.messages, sizeof expect / sizeof expect[0]);
  for (size_t i = 0; i < s.messages; i++) assert_string_equal(t_op_of(&s, i), expect[i]);
  assert_int_equal(s.latency[1], 10000); /* responses come 10 ms after their request */
  assert_int_equal(s.latency[0], -1);
  char *json = (char *)s.json.data;
  assert_non_null(strstr(json, "\"endpoint\":\"dev0\""));
  assert_non_null(strstr(json, "\"lifetime\":300"));
  assert_non_null(strstr(json, "\"objects\":\"</1/0>,</3/0>,</5/0>\""));
  assert_non_null(strstr(json, "\"name\":\"Manufacturer\",\"value\":\"Niobium\""));
  assert_non_null(strstr(json, "\"state\":\"registered\""));
  assert_non_null(strstr(json, "\"state\":\"deregistered\""));
  assert_non_null(strstr(json, "\"location\":\"/rd/r0\""));
  t_done(&s);
}

typedef void (*t_attack_fn)(nb_craft_session *s);

static void t_att_credentials(nb_craft_session *s) {
  size_t n;
  uint8_t *p = nb_craft_payload(11542, "/0/0",
                                "/0/0/0=s:coaps://10.0.0.1:5684;/0/0/2=i:0;/0/0/3=h:6964656e74;/0/"
                                "0/5=h:000102030405060708090a0b0c0d0e0f;/0/0/8=h:a1a2a3a4a5a6a7a8",
                                &n);
  assert_non_null(p);
  nb_craft_exchange(s, "10.1.0.5:40000", BS, NB_COAP_POST, "/bs", "ep=victim", -1, NULL, 0,
                    NB_COAP_CHANGED, -1, NULL, 0, NULL, -1);
  nb_craft_exchange(s, BS, "10.1.0.5:40000", NB_COAP_PUT, "/0/0", NULL, 11542, p, n,
                    NB_COAP_CHANGED, -1, NULL, 0, NULL, -1);
  free(p);
}

static void t_att_nosec(nb_craft_session *s) {
  t_register(s, "10.1.0.5:40000", "plain", "/rd/a", 300);
}

static void t_att_hijack(nb_craft_session *s) {
  t_register(s, "10.1.0.5:40000", "meter7", "/rd/a", 300);
  t_register(s, "10.66.6.6:40000", "meter7", "/rd/b", 300);
}

static void t_att_flood(nb_craft_session *s) {
  for (int i = 0; i < 30; i++) {
    char ep[32];
    snprintf(ep, sizeof ep, "flood%d", i);
    t_register(s, "10.66.6.6:40000", ep, "/rd/f", 300);
  }
}

static void t_att_unknown_bs(nb_craft_session *s) {
  nb_craft_exchange(s, "10.1.0.5:40000", BS, NB_COAP_POST, "/bs", "ep=known1", -1, NULL, 0,
                    NB_COAP_CHANGED, -1, NULL, 0, NULL, -1);
  nb_craft_exchange(s, "10.66.6.6:40000", BS, NB_COAP_POST, "/bs", "ep=intruder", -1, NULL, 0,
                    NB_COAP_CHANGED, -1, NULL, 0, NULL, -1);
}

/* A management server rewriting the device's ACL (who may do what) on the DM interface. */
static void t_att_security_write(nb_craft_session *s) {
  t_register(s, "10.1.0.5:40000", "d1", "/rd/a", 300);
  nb_craft_exchange(s, SRV, "10.1.0.5:40000", NB_COAP_PUT, "/2/0/2/101", NULL, 0, "31", 2,
                    NB_COAP_CHANGED, -1, NULL, 0, NULL, -1);
}

static void t_att_execute(nb_craft_session *s) {
  t_register(s, "10.1.0.5:40000", "d1", "/rd/a", 300);
  nb_craft_exchange(s, SRV, "10.1.0.5:40000", NB_COAP_POST, "/3/0/5", NULL, -1, NULL, 0,
                    NB_COAP_CHANGED, -1, NULL, 0, NULL, -1);
}

static void t_att_fw_uri(nb_craft_session *s) {
  t_register(s, "10.1.0.5:40000", "d1", "/rd/a", 300);
  static const char uri[] = "http://evil.example/fw.bin";
  nb_craft_exchange(s, SRV, "10.1.0.5:40000", NB_COAP_PUT, "/5/0/1", NULL, 0, uri, sizeof uri - 1,
                    NB_COAP_CHANGED, -1, NULL, 0, NULL, -1);
}

static void t_att_observe(nb_craft_session *s) {
  t_register(s, "10.1.0.5:40000", "d1", "/rd/a", 300);
  for (int i = 0; i < 70; i++) {
    char path[32];
    snprintf(path, sizeof path, "/3/0/%d", i % 20);
    nb_craft_exchange(s, SRV, "10.1.0.5:40000", NB_COAP_GET, path, NULL, -1, NULL, 0,
                      NB_COAP_CONTENT, 0, "1", 1, NULL, 0);
  }
}

static void t_att_unsolicited(nb_craft_session *s) {
  t_register(s, "10.1.0.5:40000", "d1", "/rd/a", 300);
  nb_coap_msg msg;
  nb_craft_msg(&msg, NB_COAP_CON, NB_COAP_CONTENT, 4242, 0xdead, NULL, NULL, 0, "1", 1);
  nb_coap_msg_add_uint(&msg, NB_COAP_OPT_OBSERVE, 7);
  nb_craft_coap(s->c, s->t_us, "10.1.0.5:40000", "10.7.7.7:5683", &msg, s->opts);
}

static void t_att_scan(nb_craft_session *s) {
  t_register(s, "10.1.0.5:40000", "d1", "/rd/a", 300);
  for (int i = 0; i < 25; i++) {
    char path[32];
    snprintf(path, sizeof path, "/%d/0", 100 + i);
    nb_craft_exchange(s, "10.66.6.6:5683", "10.1.0.5:40000", NB_COAP_GET, path, NULL, -1, NULL, 0,
                      NB_COAP_NOT_FOUND, -1, NULL, 0, NULL, -1);
  }
}

static void t_att_stale(nb_craft_session *s) {
  t_register(s, "10.1.0.5:40000", "d1", "/rd/a", 300);
  nb_craft_exchange(s, "10.1.0.5:40000", SRV, NB_COAP_DELETE, "/rd/a", NULL, -1, NULL, 0,
                    NB_COAP_DELETED, -1, NULL, 0, NULL, -1);
  nb_craft_exchange(s, "10.1.0.5:40000", SRV, NB_COAP_POST, "/rd/a", NULL, -1, NULL, 0,
                    NB_COAP_NOT_FOUND, -1, NULL, 0, NULL, -1);
}

static void t_att_expired(nb_craft_session *s) {
  t_register(s, "10.1.0.5:40000", "d1", "/rd/a", 60);
  s->t_us += 200ll * 1000000;
  nb_craft_exchange(s, "10.1.0.5:40000", SRV, NB_COAP_POST, "/rd/a", NULL, -1, NULL, 0,
                    NB_COAP_NOT_FOUND, -1, NULL, 0, NULL, -1);
}

static void t_att_malformed(nb_craft_session *s) {
  static const uint8_t junk[] = {0x8f, 0x01, 0x02};
  nb_craft_udp(s->c, s->t_us, "10.66.6.6:40000", SRV, junk, sizeof junk, s->opts);
}

static void t_att_critical(nb_craft_session *s) {
  nb_coap_msg msg;
  nb_craft_msg(&msg, NB_COAP_CON, NB_COAP_GET, 77, 1, "/3/0", NULL, -1, NULL, 0);
  nb_coap_msg_add_option(&msg, 9, "x", 1);
  nb_craft_coap(s->c, s->t_us, "10.66.6.6:40000", "10.1.0.5:5683", &msg, s->opts);
}

static void t_dtls_send(nb_craft_session *s, const char *from, const char *to, const uint8_t *d,
                        size_t n) {
  nb_craft_udp(s->c, s->t_us, from, to, d, n, s->opts);
  s->t_us += 1000;
}

static void t_att_hello_flood(nb_craft_session *s) {
  static const uint16_t suites[] = {0xC0A8, 0x00AE};
  uint8_t d[512];
  for (int i = 0; i < 25; i++)
    t_dtls_send(s, "10.66.6.6:40000", "10.0.0.1:5684", d,
                nb_craft_dtls_client_hello(d, (uint64_t)i, 0, suites, 2));
}

static void t_att_alerts(nb_craft_session *s) {
  uint8_t d[64];
  for (int i = 0; i < 12; i++)
    t_dtls_send(s, "10.66.6.6:40000", "10.0.0.1:5684", d,
                nb_craft_dtls_alert(d, 0, (uint64_t)i, 2, 20));
}

static void t_att_weak_suite(nb_craft_session *s) {
  static const uint16_t suites[] = {0x002F};
  uint8_t d[512];
  t_dtls_send(s, "10.1.0.5:40000", "10.0.0.1:5684", d,
              nb_craft_dtls_client_hello(d, 0, 0, suites, 1));
  t_dtls_send(s, "10.0.0.1:5684", "10.1.0.5:40000", d,
              nb_craft_dtls_server_hello(d, 0, 0x002F, -1));
}

static const struct {
  const char *name;
  t_attack_fn fn;
  const char *rule;
  const char *rules_text;
} t_attacks[] = {
    {"credentials", t_att_credentials, "cleartext-credentials", NULL},
    {"nosec", t_att_nosec, "nosec-registration", "nosec-registration.enabled = true\n"},
    {"hijack", t_att_hijack, "endpoint-hijack", NULL},
    {"flood", t_att_flood, "registration-flood", NULL},
    {"unknown-bs", t_att_unknown_bs, "unknown-bootstrap",
     "unknown-bootstrap.enabled = yes\nunknown-bootstrap.known = known1, known2\n"},
    {"security-write", t_att_security_write, "security-write", NULL},
    {"execute", t_att_execute, "dangerous-execute", NULL},
    {"fw-uri", t_att_fw_uri, "insecure-firmware-uri", NULL},
    {"observe", t_att_observe, "observe-abuse", "observe-abuse.max_per_device = 50 # tighter\n"},
    {"unsolicited", t_att_unsolicited, "unsolicited-notify", NULL},
    {"scan", t_att_scan, "scanning", NULL},
    {"stale", t_att_stale, "stale-endpoint", NULL},
    {"expired", t_att_expired, "stale-endpoint", NULL},
    {"malformed", t_att_malformed, "malformed-coap", NULL},
    {"critical", t_att_critical, "critical-option", NULL},
    {"hello-flood", t_att_hello_flood, "dtls-hello-flood", NULL},
    {"alerts", t_att_alerts, "dtls-alert-burst", NULL},
    {"weak-suite", t_att_weak_suite, "dtls-weak-suite", NULL},
};

static void test_each_attack_raises_its_alert(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof t_attacks / sizeof t_attacks[0]; k++) {
    char file[300];
    t_path(file, sizeof file, "attack.pcap");
    nb_pcap_craft *c = nb_craft_open(file, k % 2 ? 1 : 113, k % 3 == 0);
    assert_non_null(c);
    nb_craft_session s = {.c = c, .t_us = 1700000000000000ll};
    t_attacks[k].fn(&s);
    uint64_t frames = nb_craft_frames(c);
    assert_true(nb_craft_close(c));
    t_sink sink;
    t_run(file, t_attacks[k].rules_text, &sink);
    if (t_count(&sink, t_attacks[k].rule) == 0) {
      t_dump_alerts(&sink);
      fail_msg("attack %s raised no %s alert", t_attacks[k].name, t_attacks[k].rule);
    }
    for (size_t i = 0; i < sink.alerts && i < 64; i++) {
      assert_true(sink.evidence[i] >= 1 && sink.evidence[i] <= frames);
    }
    /* With the rule disabled, the same capture raises no such alert. */
    char off[512];
    snprintf(off, sizeof off, "%s%s.enabled = false\n",
             t_attacks[k].rules_text ? t_attacks[k].rules_text : "", t_attacks[k].rule);
    t_done(&sink);
    t_run(file, off, &sink);
    assert_int_equal(t_count(&sink, t_attacks[k].rule), 0);
    t_done(&sink);
  }
}

static void test_secrets_are_redacted(void **state) {
  (void)state;
  char file[300];
  t_path(file, sizeof file, "secret.pcap");
  nb_pcap_craft *c = nb_craft_open(file, 1, false);
  nb_craft_session s = {.c = c, .t_us = 1700000000000000ll};
  t_att_credentials(&s);
  assert_true(nb_craft_close(c));
  t_sink sink;
  t_run(file, NULL, &sink);
  const char *json = (const char *)sink.json.data;
  assert_non_null(strstr(json, "\"[16 bytes redacted]\""));
  assert_non_null(strstr(json, "\"[5 bytes redacted]\""));
  assert_null(strstr(json, "000102030405060708090a0b0c0d0e0f"));
  assert_non_null(strstr(json, "\"[8 bytes redacted]\"")); /* SMS binding secret key */
  assert_null(strstr(json, "a1a2a3a4a5a6a7a8"));
  assert_null(strstr(json, "6964656e74"));
  assert_null(strstr(json, "\"ident\""));
  assert_non_null(strstr(json, "coaps://10.0.0.1:5684"));
  t_done(&sink);
}

static void test_retransmission_and_fragments(void **state) {
  (void)state;
  char file[300];
  t_path(file, sizeof file, "retx.pcap");
  nb_pcap_craft *c = nb_craft_open(file, 1, false);
  nb_coap_msg msg;
  nb_craft_msg(&msg, NB_COAP_CON, NB_COAP_GET, 10, 5, "/3/0/0", NULL, -1, NULL, 0);
  nb_craft_coap(c, 1000000, SRV, "10.1.0.5:40000", &msg, NULL);
  nb_craft_coap(c, 3000000, SRV, "10.1.0.5:40000", &msg, NULL); /* retransmitted */
  nb_craft_msg(&msg, NB_COAP_ACK, NB_COAP_CONTENT, 10, 5, NULL, NULL, 0, "x", 1);
  nb_craft_coap(c, 3500000, "10.1.0.5:40000", SRV, &msg, NULL);
  /* A large Register sent in IPv4 fragments, and one over IPv6 fragments. */
  static char big[1500];
  memset(big, 'a', sizeof big);
  nb_craft_msg(&msg, NB_COAP_CON, NB_COAP_POST, 11, 6, "/rd", "ep=big", 0, big, sizeof big);
  nb_craft_opts frag = {.frag_size = 512};
  nb_craft_coap(c, 4000000, "10.1.0.5:40000", SRV, &msg, &frag);
  nb_craft_coap(c, 4000000, "[fd00::5]:40000", "[fd00::1]:5683", &msg, &frag);
  assert_true(nb_craft_close(c));
  t_sink sink;
  t_run(file, NULL, &sink);
  assert_int_equal(sink.messages, 3);
  assert_false(sink.retrans[0]);
  assert_true(sink.retrans[1]);
  assert_string_equal(sink.ops[2], "Read");
  assert_int_equal(sink.latency[2], 2500000); /* measured from the first transmission */
  assert_int_equal(sink.fragments, 6);        /* ~1526 UDP bytes in 512-byte pieces, twice */
  t_done(&sink);
}

static void test_ipv6_extension_headers(void **state) {
  (void)state;
  char file[300];
  t_path(file, sizeof file, "v6.pcapng");
  nb_pcap_craft *c = nb_craft_open(file, 1, true);
  nb_craft_session s = {.c = c, .t_us = 1700000000000000ll};
  nb_craft_opts o = {.ipv6_ext = true, .vlan = 7};
  s.opts = &o;
  nb_craft_exchange(&s, "[fd00::5]:40000", "[fd00::1]:5683", NB_COAP_POST, "/rd", "ep=six&lt=60",
                    -1, NULL, 0, NB_COAP_CREATED, -1, NULL, 0, "/rd/6", -1);
  assert_true(nb_craft_close(c));
  t_sink sink;
  t_run(file, NULL, &sink);
  assert_int_equal(sink.messages, 2);
  assert_string_equal(sink.ops[1], "Register");
  assert_non_null(strstr((char *)sink.json.data, "\"src\":\"fd00::5\""));
  t_done(&sink);
}

static void test_dtls_metadata(void **state) {
  (void)state;
  char file[300];
  t_path(file, sizeof file, "dtls.pcap");
  nb_pcap_craft *c = nb_craft_open(file, 1, false);
  nb_craft_session s = {.c = c, .t_us = 1700000000000000ll};
  static const uint16_t suites[] = {0xC0A8, 0x00AE};
  uint8_t d[512];
  t_dtls_send(&s, "10.1.0.5:40000", "10.0.0.1:5684", d,
              nb_craft_dtls_client_hello(d, 0, 0, suites, 2));
  t_dtls_send(&s, "10.1.0.5:40000", "10.0.0.1:5684", d,
              nb_craft_dtls_client_hello(d, 1, 16, suites, 2));
  t_dtls_send(&s, "10.0.0.1:5684", "10.1.0.5:40000", d,
              nb_craft_dtls_server_hello(d, 1, 0xC0A8, 2));
  t_dtls_send(&s, "10.1.0.5:40000", "10.0.0.1:5684", d, nb_craft_dtls_psk_cke(d, 2, "dev-psk-7"));
  assert_true(nb_craft_close(c));
  t_sink sink;
  t_run(file, NULL, &sink);
  assert_int_equal(sink.dtls, 4);
  assert_int_equal(sink.alerts, 0);
  const char *json = (const char *)sink.json.data;
  assert_non_null(strstr(json, "psk_identity=dev-psk-7"));
  assert_non_null(strstr(json, "chosen=0xc0a8 TLS_PSK_WITH_AES_128_CCM_8 cert_type=RPK"));
  assert_non_null(strstr(json, "cookie=16 suites=0xc0a8,0x00ae"));
  t_done(&sink);
}

/* Learn a fleet's profile, detect on the same traffic (silent) and on traffic with one
 * device read forty times more than usual (the baseline rule fires); the profile survives a
 * save and load. */
static void test_learned_baseline(void **state) {
  (void)state;
  char file[300], anomaly[300], profile[300];
  t_path(file, sizeof file, "fleet.pcap");
  t_path(anomaly, sizeof anomaly, "anomaly.pcap");
  t_path(profile, sizeof profile, "profile.json");
  t_write_benign(file, 1, false, 4, NULL);
  nb_pcap_craft *c = nb_craft_open(anomaly, 1, false);
  nb_craft_session s = {.c = c, .t_us = 1700000000000000ll};
  for (int i = 0; i < 4; i++) t_benign_device(&s, i);
  for (int i = 0; i < 40; i++)
    nb_craft_exchange(&s, SRV, "10.1.0.10:40000", NB_COAP_GET, "/3/0/9", NULL, -1, NULL, 0,
                      NB_COAP_CONTENT, 0, "87", 2, NULL, -1);
  nb_craft_exchange(&s, SRV, "10.1.0.10:40000", NB_COAP_GET, "/3/0/13", NULL, -1, NULL, 0,
                    NB_COAP_CONTENT, 0, "1700000000", 10, NULL, -1);
  assert_true(nb_craft_close(c));

  nb_mon_baseline *learned = nb_mon_baseline_new(60);
  assert_non_null(learned);
  t_sink sink;
  t_run_bl(file, NULL, learned, NULL, &sink);
  t_done(&sink);
  nb_mon_baseline_flush(learned);
  assert_true(nb_mon_baseline_flows(learned) > 20);
  assert_int_equal(nb_mon_baseline_save(learned, profile), NB_OK);
  nb_mon_baseline *loaded = NULL;
  assert_int_equal(nb_mon_baseline_load(profile, &loaded), NB_OK);
  assert_int_equal(nb_mon_baseline_flows(loaded), nb_mon_baseline_flows(learned));
  nb_mon_baseline_free(learned);

  t_run_bl(file, NULL, NULL, loaded, &sink);
  if (sink.alerts) t_dump_alerts(&sink);
  assert_int_equal(sink.alerts, 0);
  t_done(&sink);
  t_run_bl(anomaly, NULL, NULL, loaded, &sink);
  assert_true(t_count(&sink, "baseline") >= 2);
  assert_non_null(strstr((char *)sink.json.data, "flow dev0|0.01|CON|/3/0/9: 9 packets"));
  assert_non_null(strstr((char *)sink.json.data, "flow dev0|0.01|CON|/3/0/13 never seen"));
  assert_int_equal(t_count(&sink, "baseline"), sink.alerts);
  t_done(&sink);
  t_run_bl(anomaly, "baseline.enabled = false\n", NULL, loaded, &sink);
  assert_int_equal(sink.alerts, 0);
  t_done(&sink);
  nb_mon_baseline_free(loaded);
  FILE *f = fopen(profile, "w");
  fputs("{\"flows\":[]}", f);
  fclose(f);
  assert_int_equal(nb_mon_baseline_load(profile, &loaded), NB_ERR_SYNTAX);
  assert_int_equal(nb_mon_baseline_load("/nonexistent/profile.json", &loaded), NB_ERR_IO);
}

static void test_rules_file_errors(void **state) {
  (void)state;
  nb_mon_rules r;
  nb_mon_rules_init(&r);
  size_t line = 0;
  const char *why = NULL;
  assert_int_equal(
      nb_mon_rules_parse(&r, "# c\n\nscanning.errors = 5\nbogus.enabled = 1\n", &line, &why),
      NB_ERR_NOT_FOUND);
  assert_int_equal(line, 4);
  assert_int_equal(r.scan_errors, 5);
  assert_int_equal(nb_mon_rules_parse(&r, "scanning.errors = many\n", &line, &why), NB_ERR_SYNTAX);
  assert_int_equal(nb_mon_rules_parse(&r, "scanning.nope = 1\n", &line, &why), NB_ERR_NOT_FOUND);
  assert_int_equal(nb_mon_rules_parse(&r, "no equals sign\n", &line, &why), NB_ERR_SYNTAX);
  assert_int_equal(
      nb_mon_rules_parse(&r, "dangerous-execute.paths = /3/0/4, /9/0/1\n", &line, &why), NB_OK);
  assert_int_equal(r.dangerous_count, 2);
  assert_string_equal(r.dangerous_paths[1], "/9/0/1");
  nb_mon_rules_deinit(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_benign_fleets_raise_nothing),
      cmocka_unit_test(test_benign_decoding),
      cmocka_unit_test(test_each_attack_raises_its_alert),
      cmocka_unit_test(test_secrets_are_redacted),
      cmocka_unit_test(test_retransmission_and_fragments),
      cmocka_unit_test(test_ipv6_extension_headers),
      cmocka_unit_test(test_dtls_metadata),
      cmocka_unit_test(test_learned_baseline),
      cmocka_unit_test(test_rules_file_errors),
  };
  return cmocka_run_group_tests(tests, t_setup, t_teardown);
}
