/* libFuzzer: the alerts monitors POST to the server (/api/alerts, src/http/alerts.c) and the
 * event stream they are published on. Input: requests separated by NUL bytes; one that starts
 * with '?' is a GET with the rest as ?limit=, any other a POST with it as body. A small ring
 * (8 alerts) is made per input, with an SSE subscriber.
 * Oracles: every answer is a JSON value with the status the route documents; errors carry
 * {"error","code"}; an accepted POST stores exactly the alerts it names, stamped with id,
 * receivedAt and reporter, newest first in GET, each valid by nb_http_alert_check; every frame
 * the subscriber reads is `event: ALERT` with one line of JSON data. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/alerts.h"
#include "http/events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RING 8

static void check_error(unsigned status, const json_t *out) {
  const char *code = json_string_value(json_object_get(out, "code"));
  if (!json_string_value(json_object_get(out, "error")) || !code) abort();
  if (!((status == 400 && !strcmp(code, "4.00")) || (status == 413 && !strcmp(code, "4.13")) ||
        (status == 500 && !strcmp(code, "5.00"))))
    abort();
}

static void check_stored(const json_t *alert, uint64_t max_id) {
  char why[160];
  json_int_t id = json_integer_value(json_object_get(alert, "id"));
  if (id < 1 || (uint64_t)id > max_id) abort();
  if (!json_is_integer(json_object_get(alert, "receivedAt"))) abort();
  if (strcmp(json_string_value(json_object_get(alert, "reporter")), "monitor-1") != 0) abort();
  json_t *copy = json_deep_copy(alert);
  json_object_del(copy, "id");
  json_object_del(copy, "receivedAt");
  json_object_del(copy, "reporter");
  nb_err e = nb_http_alert_check(copy, why, sizeof why);
  if (e != NB_OK && e != NB_ERR_RANGE) abort(); /* the stamps may push it over the size */
  json_decref(copy);
}

/* After a POST: GET lists the newest first, ids descending, at most RING. */
static void check_list(nb_http_alerts *a, uint64_t max_id) {
  unsigned status = 0;
  json_t *out = NULL;
  nb_http_alerts_route(a, "GET", NULL, NULL, 0, 0, NULL, &status, &out);
  if (status != 200 || !json_is_array(out)) abort();
  if (json_array_size(out) != nb_http_alerts_count(a) || json_array_size(out) > RING) abort();
  json_int_t prev = INT64_MAX;
  size_t i;
  json_t *alert;
  json_array_foreach(out, i, alert) {
    json_int_t id = json_integer_value(json_object_get(alert, "id"));
    if (id >= prev) abort();
    prev = id;
    check_stored(alert, max_id);
  }
  json_decref(out);
}

/* One SSE frame: optional "id: N", then "event: ALERT" or "event: DROPPED", then one line of
 * JSON object data. */
static void check_frame(char *frame) {
  if (strncmp(frame, "id: ", 4) == 0) {
    char *nl = strchr(frame, '\n');
    if (!nl || strspn(frame + 4, "0123456789") != (size_t)(nl - frame - 4)) abort();
    frame = nl + 1;
  }
  if (strncmp(frame, "event: ALERT\n", 13) == 0)
    frame += 13;
  else if (strncmp(frame, "event: DROPPED\n", 15) == 0)
    frame += 15;
  else
    abort();
  if (strncmp(frame, "data: ", 6) != 0 || strchr(frame + 6, '\n')) abort();
  json_t *j = json_loads(frame + 6, 0, NULL);
  if (!json_is_object(j)) abort();
  json_decref(j);
}

static void drain(nb_http_sub *sub) {
  size_t len = 0, cap = 1 << 16;
  char *buf = malloc(cap);
  size_t n;
  while (buf && (n = nb_http_sub_read(sub, buf + len, cap - len - 1)) > 0) {
    len += n;
    if (cap - len - 1 == 0 && !(buf = realloc(buf, cap *= 2))) abort();
  }
  if (!buf) abort();
  buf[len] = 0;
  for (char *frame = buf; *frame;) {
    char *end = strstr(frame, "\n\n");
    if (!end) abort();
    *end = 0;
    check_frame(frame);
    frame = end + 2;
  }
  free(buf);
}

static void one_request(nb_http_alerts *a, const char *req, size_t len, uint64_t *max_id) {
  unsigned status = 0;
  json_t *out = NULL;
  if (len && req[0] == '?') {
    char limit[64];
    size_t n = len - 1 < sizeof limit - 1 ? len - 1 : sizeof limit - 1;
    memcpy(limit, req + 1, n);
    limit[n] = 0;
    nb_http_alerts_route(a, "GET", limit, NULL, 0, 1000, "monitor-1", &status, &out);
    if (status == 200) {
      if (!json_is_array(out)) abort();
    } else {
      check_error(status, out);
    }
  } else {
    size_t before = nb_http_alerts_count(a);
    nb_http_alerts_route(a, "POST", NULL, req, len, 1000, "monitor-1", &status, &out);
    if (status == 201) {
      json_t *ids = json_object_get(out, "ids");
      size_t n = json_array_size(ids);
      if (!n || (json_int_t)n != json_integer_value(json_object_get(out, "accepted"))) abort();
      if ((uint64_t)json_integer_value(json_array_get(ids, 0)) != *max_id + 1) abort();
      *max_id += n;
      size_t want = before + n < RING ? before + n : RING;
      if (nb_http_alerts_count(a) != want) abort();
    } else {
      check_error(status, out);
      if (nb_http_alerts_count(a) != before) abort(); /* all or none */
    }
    check_list(a, *max_id);
  }
  json_decref(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_http_events_config cfg;
  nb_http_events_config_default(&cfg);
  nb_http_events *ev;
  nb_http_alerts *a;
  if (nb_http_events_new(NULL, &cfg, &ev) != NB_OK) abort();
  if (nb_http_alerts_new(RING, ev, &a) != NB_OK) abort();
  nb_http_sub *sub = nb_http_events_subscribe(ev, NULL, NULL, NULL);
  if (!sub) abort();
  uint64_t max_id = 0;
  const char *text = (const char *)data;
  for (size_t pos = 0; pos <= size;) {
    const char *nul = memchr(text + pos, 0, size - pos);
    size_t end = nul ? (size_t)(nul - text) : size;
    one_request(a, text + pos, end - pos, &max_id);
    drain(sub);
    pos = end + 1;
  }
  nb_http_events_unsubscribe(ev, sub);
  nb_http_alerts_free(a);
  nb_http_events_free(ev);
  return 0;
}
