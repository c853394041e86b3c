/* Alerts from monitors: see alerts.h. The ring holds deep copies so a poster's later changes
 * cannot reach stored alerts; a batch is checked whole before anything is stored. */
#include "http/alerts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

#define NB_ALERT_RULE_MAX 64
#define NB_ALERT_EVIDENCE_MAX 64

struct nb_http_alerts {
  json_t **ring; /* cap slots; the newest at (head + count - 1) % cap */
  size_t cap, head, count;
  uint64_t next_id;
  nb_http_events *events;
};

nb_err nb_http_alerts_new(size_t cap, nb_http_events *events, nb_http_alerts **out) {
  nb_http_alerts *a = calloc(1, sizeof(*a));
  if (!a) return NB_ERR_NOMEM;
  a->cap = cap ? cap : 1000;
  a->ring = calloc(a->cap, sizeof(json_t *));
  if (!a->ring) {
    free(a);
    return NB_ERR_NOMEM;
  }
  a->events = events;
  a->next_id = 1;
  *out = a;
  return NB_OK;
}

void nb_http_alerts_free(nb_http_alerts *a) {
  if (!a) return;
  for (size_t i = 0; i < a->count; i++) json_decref(a->ring[(a->head + i) % a->cap]);
  free(a->ring);
  free(a);
}

size_t nb_http_alerts_count(const nb_http_alerts *a) { return a->count; }

/* ---- validation ---- */

static bool opt_string(const json_t *o, const char *key, size_t max, char *why, size_t cap) {
  const json_t *v = json_object_get(o, key);
  if (!v) return true;
  if (json_is_string(v) && json_string_length(v) < max) return true;
  snprintf(why, cap, "\"%s\" must be a string shorter than %zu bytes", key, max);
  return false;
}

static bool opt_uint(const json_t *o, const char *key, json_int_t max, char *why, size_t cap) {
  const json_t *v = json_object_get(o, key);
  if (!v) return true;
  if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= max) return true;
  snprintf(why, cap, "\"%s\" must be an integer 0..%lld", key, (long long)max);
  return false;
}

static bool severity_known(const char *s) {
  static const char *const names[] = {"low", "medium", "high", "critical"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (strcmp(s, names[i]) == 0) return true;
  return false;
}

static bool check_evidence(const json_t *o, char *why, size_t cap) {
  const json_t *ev = json_object_get(o, "evidence");
  if (!ev) return true;
  bool ok = json_is_array(ev) && json_array_size(ev) <= NB_ALERT_EVIDENCE_MAX;
  for (size_t i = 0; ok && i < json_array_size(ev); i++) {
    const json_t *n = json_array_get(ev, i);
    ok = json_is_integer(n) && json_integer_value(n) >= 0;
  }
  if (!ok)
    snprintf(why, cap, "\"evidence\" must be an array of at most %d packet numbers",
             NB_ALERT_EVIDENCE_MAX);
  return ok;
}

static bool check_fields(const json_t *alert, char *why, size_t cap) {
  const char *rule = json_string_value(json_object_get(alert, "rule"));
  const char *sev = json_string_value(json_object_get(alert, "severity"));
  if (!rule || !rule[0] || strlen(rule) >= NB_ALERT_RULE_MAX) {
    snprintf(why, cap, "\"rule\" is required: the name of the rule that fired");
    return false;
  }
  if (!sev || !severity_known(sev)) {
    snprintf(why, cap, "\"severity\" is required: low, medium, high or critical");
    return false;
  }
  const json_t *ts = json_object_get(alert, "ts");
  if (ts && !json_is_number(ts)) {
    snprintf(why, cap, "\"ts\" must be a number (Unix seconds)");
    return false;
  }
  const json_t *event = json_object_get(alert, "event");
  if (event && !(json_is_string(event) && strcmp(json_string_value(event), "alert") == 0)) {
    snprintf(why, cap, "\"event\" must be \"alert\" when given");
    return false;
  }
  return opt_string(alert, "endpoint", NB_SERVER_EP_MAX, why, cap) &&
         opt_string(alert, "message", 1024, why, cap) && opt_string(alert, "path", 256, why, cap) &&
         opt_string(alert, "src", 64, why, cap) && opt_string(alert, "dst", 64, why, cap) &&
         opt_string(alert, "transport", 16, why, cap) &&
         opt_uint(alert, "sport", 65535, why, cap) && opt_uint(alert, "dport", 65535, why, cap) &&
         opt_uint(alert, "packet", INT64_MAX, why, cap) && check_evidence(alert, why, cap);
}

nb_err nb_http_alert_check(const json_t *alert, char *why, size_t cap) {
  if (!json_is_object(alert)) {
    snprintf(why, cap, "an alert must be a JSON object");
    return NB_ERR_INVAL;
  }
  char *text = json_dumps(alert, JSON_COMPACT);
  if (!text) {
    snprintf(why, cap, "the alert cannot be serialised");
    return NB_ERR_INVAL;
  }
  size_t len = strlen(text);
  free(text);
  if (len > NB_HTTP_ALERT_SIZE_MAX) {
    snprintf(why, cap, "an alert is limited to %d bytes of JSON", NB_HTTP_ALERT_SIZE_MAX);
    return NB_ERR_RANGE;
  }
  return check_fields(alert, why, cap) ? NB_OK : NB_ERR_INVAL;
}

/* ---- storage ---- */

static void ring_push(nb_http_alerts *a, json_t *alert) {
  if (a->count == a->cap) {
    json_decref(a->ring[a->head]);
    a->ring[a->head] = alert;
    a->head = (a->head + 1) % a->cap;
  } else {
    a->ring[(a->head + a->count++) % a->cap] = alert;
  }
}

/* Copies, stamps, stores and publishes one checked alert; its id, or 0 without memory. */
static uint64_t store_one(nb_http_alerts *a, const json_t *alert, int64_t now_ms,
                          const char *reporter) {
  json_t *c = json_deep_copy(alert);
  if (!c) return 0;
  uint64_t id = a->next_id++;
  if (json_object_set_new(c, "id", json_integer((json_int_t)id)) ||
      json_object_set_new(c, "receivedAt", json_integer(now_ms)) ||
      json_object_set_new(c, "reporter", json_string(reporter ? reporter : "api"))) {
    json_decref(c);
    return 0;
  }
  ring_push(a, c);
  if (a->events) {
    const char *ep = json_string_value(json_object_get(c, "endpoint"));
    nb_http_events_publish(a->events, ep ? ep : "", "ALERT", json_incref(c));
  }
  return id;
}

nb_err nb_http_alerts_add(nb_http_alerts *a, const json_t *body, int64_t now_ms,
                          const char *reporter, json_t **ids_out, char *why, size_t cap) {
  bool batch = json_is_array(body);
  size_t n = batch ? json_array_size(body) : 1;
  if (batch && (n == 0 || n > NB_HTTP_ALERTS_BATCH_MAX)) {
    snprintf(why, cap, "an array holds 1..%d alerts", NB_HTTP_ALERTS_BATCH_MAX);
    return n ? NB_ERR_RANGE : NB_ERR_INVAL;
  }
  for (size_t i = 0; i < n; i++) {
    char one[160];
    nb_err rc = nb_http_alert_check(batch ? json_array_get(body, i) : body, one, sizeof(one));
    if (rc != NB_OK) {
      if (batch)
        snprintf(why, cap, "alert %zu: %s", i, one);
      else
        snprintf(why, cap, "%s", one);
      return rc;
    }
  }
  json_t *ids = json_array();
  if (!ids) return NB_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    uint64_t id = store_one(a, batch ? json_array_get(body, i) : body, now_ms, reporter);
    if (!id) {
      json_decref(ids);
      snprintf(why, cap, "out of memory");
      return NB_ERR_NOMEM;
    }
    json_array_append_new(ids, json_integer((json_int_t)id));
  }
  if (ids_out)
    *ids_out = ids;
  else
    json_decref(ids);
  return NB_OK;
}

json_t *nb_http_alerts_list(const nb_http_alerts *a, size_t limit) {
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < a->count && i < limit; i++)
    json_array_append(arr, a->ring[(a->head + a->count - 1 - i) % a->cap]);
  return arr;
}

json_t *nb_http_alerts_page(const nb_http_alerts *a, uint64_t before, size_t limit,
                            uint64_t *next) {
  json_t *arr = json_array();
  *next = 0;
  size_t taken = 0;
  for (size_t i = 0; arr && i < a->count; i++) {
    json_t *al = a->ring[(a->head + a->count - 1 - i) % a->cap];
    uint64_t id = (uint64_t)json_integer_value(json_object_get(al, "id"));
    if (before && id >= before) continue;
    if (taken == limit) { /* one more exists: the page ends at the last one taken */
      json_t *last = json_array_get(arr, taken - 1);
      *next = (uint64_t)json_integer_value(json_object_get(last, "id"));
      break;
    }
    json_array_append(arr, al);
    taken++;
  }
  return arr;
}

/* ---- route ---- */

static json_t *error_json(const char *msg, const char *code) {
  return json_pack("{s:s,s:s}", "error", msg, "code", code);
}

static void route_get(const nb_http_alerts *a, const char *limit_text, unsigned *status,
                      json_t **out) {
  long limit = 100;
  if (limit_text) {
    char *end;
    limit = strtol(limit_text, &end, 10);
    if (!*limit_text || *end || limit < 1 || limit > 10000) {
      *status = 400;
      *out = error_json("limit must be 1..10000", "4.00");
      return;
    }
  }
  *status = 200;
  *out = nb_http_alerts_list(a, (size_t)limit);
}

static void route_post(nb_http_alerts *a, const char *body, size_t body_len, int64_t now_ms,
                       const char *reporter, unsigned *status, json_t **out) {
  char why[200];
  json_error_t je;
  json_t *j = json_loadb(body ? body : "", body_len, 0, &je);
  if (!j) {
    snprintf(why, sizeof(why), "bad JSON: %.100s (line %d)", je.text, je.line);
    *status = 400;
    *out = error_json(why, "4.00");
    return;
  }
  json_t *ids = NULL;
  nb_err rc = nb_http_alerts_add(a, j, now_ms, reporter, &ids, why, sizeof(why));
  json_decref(j);
  if (rc == NB_OK) {
    *status = 201;
    *out = json_pack("{s:I,s:o}", "accepted", (json_int_t)json_array_size(ids), "ids", ids);
  } else if (rc == NB_ERR_RANGE) {
    *status = 413;
    *out = error_json(why, "4.13");
  } else {
    *status = rc == NB_ERR_NOMEM ? 500 : 400;
    *out = error_json(why, rc == NB_ERR_NOMEM ? "5.00" : "4.00");
  }
}

void nb_http_alerts_route(nb_http_alerts *a, const char *method, const char *limit_text,
                          const char *body, size_t body_len, int64_t now_ms, const char *reporter,
                          unsigned *status, json_t **out) {
  if (strcmp(method, "GET") == 0) {
    route_get(a, limit_text, status, out);
  } else if (strcmp(method, "POST") == 0) {
    route_post(a, body, body_len, now_ms, reporter, status, out);
  } else {
    *status = 405;
    *out = error_json("use GET or POST", "4.05");
  }
}
