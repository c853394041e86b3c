/* Alert rules of the passive monitor: their names, severities, switches and thresholds, and
 * the rules file that sets them (`rule.param = value` lines, '#' comments). Owns the
 * known-endpoints list it loads. */
#ifndef NB_MONITOR_RULES_H
#define NB_MONITOR_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef enum {
  NB_RULE_CLEARTEXT_CREDENTIALS,
  NB_RULE_NOSEC,
  NB_RULE_ENDPOINT_HIJACK,
  NB_RULE_REGISTRATION_FLOOD,
  NB_RULE_UNKNOWN_BOOTSTRAP,
  NB_RULE_SECURITY_WRITE,
  NB_RULE_DANGEROUS_EXECUTE,
  NB_RULE_INSECURE_FIRMWARE_URI,
  NB_RULE_OBSERVE_ABUSE,
  NB_RULE_UNSOLICITED_NOTIFY,
  NB_RULE_SCANNING,
  NB_RULE_STALE_ENDPOINT,
  NB_RULE_MALFORMED_COAP,
  NB_RULE_CRITICAL_OPTION,
  NB_RULE_DTLS_HELLO_FLOOD,
  NB_RULE_DTLS_ALERT_BURST,
  NB_RULE_DTLS_WEAK_SUITE,
  NB_RULE_BASELINE,
  NB_RULE_OBSERVE_PRECAPTURE,
  NB_RULE_COUNT
} nb_rule_id;

typedef struct {
  bool enabled[NB_RULE_COUNT];
  uint32_t flood_per_source; /* Register/Bootstrap-Request per source per window */
  uint32_t flood_total;      /* ... from all sources per window */
  uint32_t flood_window_s;
  uint32_t observe_max; /* live observations on one device */
  uint32_t scan_errors; /* 4.01/4.04/4.05 answers to one source per window */
  uint32_t scan_paths;  /* ... over at least this many distinct paths */
  uint32_t scan_window_s;
  uint32_t hello_max; /* cookieless ClientHellos per source per window, unanswered */
  uint32_t hello_window_s;
  uint32_t alert_max; /* DTLS alert records per source per window */
  uint32_t alert_window_s;
  bool allow_cbc;              /* dtls-weak-suite: CBC suites are fine */
  bool hijack_compare_port;    /* endpoint-hijack: a new port alone is a new address */
  uint32_t expiry_grace_s;     /* registration counts as expired lifetime+grace after update */
  uint32_t notify_window_s;    /* unsolicited-notify, observation-before-capture: one alert per
                                  flow and window */
  uint32_t baseline_factor;    /* baseline: a window over factor x the learned maximum... */
  uint32_t baseline_slack;     /* ... plus this many packets is an anomaly */
  bool baseline_new_flows;     /* baseline: flows never seen while learning are anomalies */
  char dangerous_paths[8][32]; /* dangerous-execute targets */
  size_t dangerous_count;
  char **known; /* unknown-bootstrap: known endpoint names (heap) */
  size_t known_count;
} nb_mon_rules;

/* Defaults: every rule on except nosec-registration and unknown-bootstrap (they need the
 * operator to say security is required / which endpoints exist). */
void nb_mon_rules_init(nb_mon_rules *r);
void nb_mon_rules_deinit(nb_mon_rules *r);
/* Applies `rule.param = value` lines (rule names as nb_rule_name; params: enabled, and the
 * thresholds documented in docs/monitor.md). line_no/why (may be NULL) say what failed:
 * NB_ERR_SYNTAX for a bad line, NB_ERR_NOT_FOUND for an unknown rule or parameter. */
nb_err nb_mon_rules_parse(nb_mon_rules *r, const char *text, size_t *line_no, const char **why);
nb_err nb_mon_rules_load(nb_mon_rules *r, const char *path, size_t *line_no, const char **why);
nb_err nb_mon_rules_add_known(nb_mon_rules *r, const char *endpoint);
bool nb_mon_rules_is_known(const nb_mon_rules *r, const char *endpoint);

/* "cleartext-credentials", ... */
const char *nb_rule_name(nb_rule_id id);
/* "high", "medium", "low" or "info". */
const char *nb_rule_severity(nb_rule_id id);
/* One-line description of the attack a rule catches. */
const char *nb_rule_summary(nb_rule_id id);

#endif
