/* Rule table and the rules-file reader. */
#include "monitor/rules.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *name;
  const char *severity;
  const char *summary;
} nb_rule_info;

static const nb_rule_info nb_rule_table[NB_RULE_COUNT] = {
    [NB_RULE_CLEARTEXT_CREDENTIALS] = {"cleartext-credentials", "high",
                                       "Security object (/0) written or read over NoSec CoAP"},
    [NB_RULE_NOSEC] = {"nosec-registration", "medium",
                       "Bootstrap-Request or Register over plain CoAP where DTLS is required"},
    [NB_RULE_ENDPOINT_HIJACK] = {"endpoint-hijack", "high",
                                 "live endpoint registers again from another address"},
    [NB_RULE_REGISTRATION_FLOOD] = {"registration-flood", "medium",
                                    "too many Register/Bootstrap-Request per source or overall"},
    [NB_RULE_UNKNOWN_BOOTSTRAP] = {"unknown-bootstrap", "medium",
                                   "Bootstrap-Request from an endpoint not in the known list"},
    [NB_RULE_SECURITY_WRITE] = {"security-write", "high",
                                "Security object, ACL or OSCORE keys changed outside a bootstrap"},
    [NB_RULE_DANGEROUS_EXECUTE] = {"dangerous-execute", "medium",
                                   "reboot, factory reset or firmware update executed"},
    [NB_RULE_INSECURE_FIRMWARE_URI] = {"insecure-firmware-uri", "high",
                                       "firmware package URI over plain coap:// or http://"},
    [NB_RULE_OBSERVE_ABUSE] = {"observe-abuse", "medium",
                               "too many live observations on one device"},
    [NB_RULE_UNSOLICITED_NOTIFY] = {"unsolicited-notify", "medium",
                                    "notifications no observation in the capture asked for"},
    [NB_RULE_SCANNING] = {"scanning", "medium",
                          "many 4.01/4.04/4.05 answers to one source over many paths"},
    [NB_RULE_STALE_ENDPOINT] = {"stale-endpoint", "medium",
                                "traffic from a deregistered or expired registration"},
    [NB_RULE_MALFORMED_COAP] = {"malformed-coap", "low",
                                "datagram on a CoAP/DTLS port does not decode"},
    [NB_RULE_CRITICAL_OPTION] = {"critical-option", "low",
                                 "unknown or malformed critical CoAP option"},
    [NB_RULE_DTLS_HELLO_FLOOD] = {"dtls-hello-flood", "medium",
                                  "ClientHellos that never complete the cookie exchange"},
    [NB_RULE_DTLS_ALERT_BURST] = {"dtls-alert-burst", "high",
                                  "burst of DTLS alerts (bad_record_mac: key guessing)"},
    [NB_RULE_DTLS_WEAK_SUITE] = {"dtls-weak-suite", "low",
                                 "cipher suite outside LwM2M's mandatory set, or CBC"},
    [NB_RULE_BASELINE] = {"baseline", "medium",
                          "flow outside the learned baseline (--baseline FILE)"},
    [NB_RULE_OBSERVE_PRECAPTURE] = {"observation-before-capture", "info",
                                    "notifications of an observation set up before the capture"},
};

const char *nb_rule_name(nb_rule_id id) {
  return (unsigned)id < NB_RULE_COUNT ? nb_rule_table[id].name : "unknown";
}
const char *nb_rule_severity(nb_rule_id id) {
  return (unsigned)id < NB_RULE_COUNT ? nb_rule_table[id].severity : "low";
}
const char *nb_rule_summary(nb_rule_id id) {
  return (unsigned)id < NB_RULE_COUNT ? nb_rule_table[id].summary : "";
}

void nb_mon_rules_init(nb_mon_rules *r) {
  memset(r, 0, sizeof *r);
  for (int i = 0; i < NB_RULE_COUNT; i++) r->enabled[i] = true;
  r->enabled[NB_RULE_NOSEC] = false;
  r->enabled[NB_RULE_UNKNOWN_BOOTSTRAP] = false;
  r->flood_per_source = 20;
  r->flood_total = 1000;
  r->flood_window_s = 60;
  r->observe_max = 64;
  r->scan_errors = 20;
  r->scan_paths = 10;
  r->scan_window_s = 60;
  r->hello_max = 20;
  r->hello_window_s = 60;
  r->alert_max = 10;
  r->alert_window_s = 10;
  r->allow_cbc = true;
  r->expiry_grace_s = 30;
  r->notify_window_s = 60;
  r->baseline_factor = 3;
  r->baseline_slack = 5;
  r->baseline_new_flows = true;
  static const char *const dangerous[] = {"/3/0/4", "/3/0/5", "/5/0/2"};
  for (size_t i = 0; i < 3; i++) snprintf(r->dangerous_paths[i], 32, "%s", dangerous[i]);
  r->dangerous_count = 3;
}

void nb_mon_rules_deinit(nb_mon_rules *r) {
  for (size_t i = 0; i < r->known_count; i++) free(r->known[i]);
  free(r->known);
  r->known = NULL;
  r->known_count = 0;
}

nb_err nb_mon_rules_add_known(nb_mon_rules *r, const char *endpoint) {
  char **grown = realloc(r->known, (r->known_count + 1) * sizeof *grown);
  if (!grown) return NB_ERR_NOMEM;
  r->known = grown;
  char *copy = strdup(endpoint);
  if (!copy) return NB_ERR_NOMEM;
  r->known[r->known_count++] = copy;
  return NB_OK;
}

bool nb_mon_rules_is_known(const nb_mon_rules *r, const char *endpoint) {
  for (size_t i = 0; i < r->known_count; i++)
    if (strcmp(r->known[i], endpoint) == 0) return true;
  return false;
}

static int nb_rule_find(const char *name, size_t len) {
  for (int i = 0; i < NB_RULE_COUNT; i++)
    if (strlen(nb_rule_table[i].name) == len && memcmp(nb_rule_table[i].name, name, len) == 0)
      return i;
  return -1;
}

static bool nb_parse_u32(const char *v, uint32_t *out) {
  char *end;
  unsigned long n = strtoul(v, &end, 10);
  if (end == v || *end || n > 100000000ul || *v == '-') return false;
  *out = (uint32_t)n;
  return true;
}

static bool nb_parse_bool(const char *v, bool *out) {
  if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1")) {
    *out = true;
    return true;
  }
  if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0")) {
    *out = false;
    return true;
  }
  return false;
}

/* Comma-separated items, each handed to fn. */
static nb_err nb_rules_list(nb_mon_rules *r, const char *v,
                            nb_err (*fn)(nb_mon_rules *, const char *)) {
  char item[256];
  while (*v) {
    size_t n = strcspn(v, ",");
    while (n && isspace((unsigned char)*v)) v++, n--;
    size_t m = n;
    while (m && isspace((unsigned char)v[m - 1])) m--;
    if (m >= sizeof item) return NB_ERR_SYNTAX;
    memcpy(item, v, m);
    item[m] = 0;
    if (m) {
      nb_err e = fn(r, item);
      if (e) return e;
    }
    v += n;
    if (*v == ',') v++;
  }
  return NB_OK;
}

static nb_err nb_rules_add_dangerous(nb_mon_rules *r, const char *p) {
  if (r->dangerous_count >= 8 || strlen(p) >= 32 || p[0] != '/') return NB_ERR_SYNTAX;
  snprintf(r->dangerous_paths[r->dangerous_count++], 32, "%s", p);
  return NB_OK;
}

typedef struct {
  int rule;
  const char *param;
  size_t offset;
  bool is_bool;
} nb_rule_param;

#define NB_P(rule, name, field, b) \
  { rule, name, offsetof(nb_mon_rules, field), b }
static const nb_rule_param nb_rule_params[] = {
    NB_P(NB_RULE_REGISTRATION_FLOOD, "per_source", flood_per_source, false),
    NB_P(NB_RULE_REGISTRATION_FLOOD, "total", flood_total, false),
    NB_P(NB_RULE_REGISTRATION_FLOOD, "window", flood_window_s, false),
    NB_P(NB_RULE_OBSERVE_ABUSE, "max_per_device", observe_max, false),
    NB_P(NB_RULE_SCANNING, "errors", scan_errors, false),
    NB_P(NB_RULE_SCANNING, "paths", scan_paths, false),
    NB_P(NB_RULE_SCANNING, "window", scan_window_s, false),
    NB_P(NB_RULE_DTLS_HELLO_FLOOD, "max", hello_max, false),
    NB_P(NB_RULE_DTLS_HELLO_FLOOD, "window", hello_window_s, false),
    NB_P(NB_RULE_DTLS_ALERT_BURST, "max", alert_max, false),
    NB_P(NB_RULE_DTLS_ALERT_BURST, "window", alert_window_s, false),
    NB_P(NB_RULE_DTLS_WEAK_SUITE, "allow_cbc", allow_cbc, true),
    NB_P(NB_RULE_ENDPOINT_HIJACK, "compare_port", hijack_compare_port, true),
    NB_P(NB_RULE_STALE_ENDPOINT, "grace", expiry_grace_s, false),
    NB_P(NB_RULE_UNSOLICITED_NOTIFY, "window", notify_window_s, false),
    NB_P(NB_RULE_OBSERVE_PRECAPTURE, "window", notify_window_s, false),
    NB_P(NB_RULE_BASELINE, "factor", baseline_factor, false),
    NB_P(NB_RULE_BASELINE, "slack", baseline_slack, false),
    NB_P(NB_RULE_BASELINE, "new_flows", baseline_new_flows, true),
};

static nb_err nb_rules_set(nb_mon_rules *r, int rule, const char *param, const char *value,
                           const char **why) {
  if (!strcmp(param, "enabled")) {
    if (!nb_parse_bool(value, &r->enabled[rule]))
      return *why = "enabled takes true or false", NB_ERR_SYNTAX;
    return NB_OK;
  }
  if (rule == NB_RULE_UNKNOWN_BOOTSTRAP && !strcmp(param, "known")) {
    nb_err e = nb_rules_list(r, value, nb_mon_rules_add_known);
    if (e) *why = "bad endpoint list";
    return e;
  }
  if (rule == NB_RULE_DANGEROUS_EXECUTE && !strcmp(param, "paths")) {
    r->dangerous_count = 0;
    nb_err e = nb_rules_list(r, value, nb_rules_add_dangerous);
    if (e) *why = "paths takes up to 8 comma-separated /o/i/r paths";
    return e;
  }
  for (size_t i = 0; i < sizeof nb_rule_params / sizeof nb_rule_params[0]; i++) {
    const nb_rule_param *p = &nb_rule_params[i];
    if (p->rule != rule || strcmp(p->param, param) != 0) continue;
    void *field = (char *)r + p->offset;
    bool ok = p->is_bool ? nb_parse_bool(value, field) : nb_parse_u32(value, field);
    if (!ok)
      return *why = p->is_bool ? "expected true or false" : "expected a number", NB_ERR_SYNTAX;
    return NB_OK;
  }
  *why = "unknown parameter for this rule";
  return NB_ERR_NOT_FOUND;
}

static char *nb_trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
  return s;
}

static nb_err nb_rules_line(nb_mon_rules *r, char *line, const char **why) {
  char *hash = strchr(line, '#');
  if (hash) *hash = 0;
  char *s = nb_trim(line);
  if (!*s) return NB_OK;
  char *eq = strchr(s, '=');
  char *dot = strchr(s, '.');
  if (!eq || !dot || dot > eq) return *why = "expected rule.param = value", NB_ERR_SYNTAX;
  *eq = 0;
  int rule = nb_rule_find(s, (size_t)(dot - s));
  if (rule < 0) return *why = "unknown rule name", NB_ERR_NOT_FOUND;
  return nb_rules_set(r, rule, nb_trim(dot + 1), nb_trim(eq + 1), why);
}

nb_err nb_mon_rules_parse(nb_mon_rules *r, const char *text, size_t *line_no, const char **why) {
  const char *dummy;
  if (!why) why = &dummy;
  size_t no = 0;
  while (*text) {
    size_t n = strcspn(text, "\n");
    no++;
    char line[1024];
    if (n >= sizeof line) {
      if (line_no) *line_no = no;
      *why = "line too long";
      return NB_ERR_SYNTAX;
    }
    memcpy(line, text, n);
    line[n] = 0;
    nb_err e = nb_rules_line(r, line, why);
    if (e) {
      if (line_no) *line_no = no;
      return e;
    }
    text += n;
    if (*text) text++;
  }
  return NB_OK;
}

nb_err nb_mon_rules_load(nb_mon_rules *r, const char *path, size_t *line_no, const char **why) {
  FILE *f = fopen(path, "r");
  if (!f) {
    if (why) *why = "cannot open the rules file";
    return NB_ERR_IO;
  }
  char *buf = NULL;
  size_t len = 0, cap = 0;
  char chunk[4096];
  size_t n;
  nb_err e = NB_OK;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (len + n + 1 > cap) {
      cap = (len + n + 1) * 2;
      char *g = realloc(buf, cap);
      if (!g) {
        e = NB_ERR_NOMEM;
        break;
      }
      buf = g;
    }
    memcpy(buf + len, chunk, n);
    len += n;
  }
  fclose(f);
  if (!e) {
    if (buf) buf[len] = 0;
    e = nb_mon_rules_parse(r, buf ? buf : "", line_no, why);
  }
  free(buf);
  return e;
}
