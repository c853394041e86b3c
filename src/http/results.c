/* Results of queued requests: see results.h. Records sit in one array in id order (ids only
 * grow), found by binary search; forgetting one moves the newer ones down, which costs at most
 * max records' worth of copying and happens only when a record ends or a new one needs room. */
#include "http/results.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/path.h"
#include "server/store.h"

typedef struct {
  uint64_t id;
  nb_rq_state state;
  char ep[NB_SERVER_EP_MAX];
  char op[24];
  char path[NB_PATH_STRLEN * 4];
  int64_t queued_at, done_at;
  unsigned status;
  char *body; /* JSON text, or NULL */
  size_t body_len;
} record;

struct nb_http_results {
  nb_http_results_config cfg;
  record *recs;
  size_t n, cap;
  size_t bytes; /* body bytes held */
};

const char *nb_rq_state_name(nb_rq_state s) {
  static const char *const names[] = {"QUEUED", "SENT", "DONE", "EXPIRED", "CANCELLED"};
  return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "UNKNOWN";
}

void nb_http_results_config_default(nb_http_results_config *cfg) {
  cfg->max = 10000;
  cfg->bytes_max = 16u << 20;
  cfg->keep_ms = 3600000;
}

nb_err nb_http_results_new(const nb_http_results_config *cfg, nb_http_results **out) {
  nb_http_results *r = calloc(1, sizeof *r);
  if (!r) return NB_ERR_NOMEM;
  nb_http_results_config_default(&r->cfg);
  if (cfg && cfg->max) r->cfg.max = cfg->max;
  if (cfg && cfg->bytes_max) r->cfg.bytes_max = cfg->bytes_max;
  if (cfg && cfg->keep_ms) r->cfg.keep_ms = cfg->keep_ms;
  *out = r;
  return NB_OK;
}

void nb_http_results_free(nb_http_results *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) free(r->recs[i].body);
  free(r->recs);
  free(r);
}

static bool finished(const record *c) { return c->state >= NB_RQ_DONE; }

static record *find(const nb_http_results *r, uint64_t id) {
  size_t lo = 0, hi = r->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (r->recs[mid].id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < r->n && r->recs[lo].id == id ? &r->recs[lo] : NULL;
}

static void forget(nb_http_results *r, size_t i) {
  r->bytes -= r->recs[i].body_len;
  free(r->recs[i].body);
  memmove(&r->recs[i], &r->recs[i + 1], (r->n - i - 1) * sizeof *r->recs);
  r->n--;
}

/* Forgets finished records past their age, then the oldest finished ones while the bounds are
 * exceeded (extra: a record or bytes about to be added). */
static void prune(nb_http_results *r, int64_t now, size_t extra_recs, size_t extra_bytes) {
  for (size_t i = 0; i < r->n;) {
    if (finished(&r->recs[i]) && now - r->recs[i].done_at >= r->cfg.keep_ms)
      forget(r, i);
    else
      i++;
  }
  for (size_t i = 0;
       i < r->n && (r->n + extra_recs > r->cfg.max || r->bytes + extra_bytes > r->cfg.bytes_max);) {
    if (finished(&r->recs[i]))
      forget(r, i);
    else
      i++;
  }
}

nb_err nb_http_results_add(nb_http_results *r, uint64_t id, const char *ep, const char *op,
                           const char *path, int64_t now) {
  if (r->n && r->recs[r->n - 1].id >= id) return NB_ERR_EXISTS;
  prune(r, now, 1, 0);
  if (r->n >= r->cfg.max) return NB_ERR_BUSY;
  if (r->n == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 64;
    if (cap > r->cfg.max) cap = r->cfg.max;
    record *grown = realloc(r->recs, cap * sizeof *grown);
    if (!grown) return NB_ERR_NOMEM;
    r->recs = grown;
    r->cap = cap;
  }
  record *c = &r->recs[r->n++];
  memset(c, 0, sizeof *c);
  c->id = id;
  c->state = NB_RQ_QUEUED;
  c->queued_at = now;
  snprintf(c->ep, sizeof c->ep, "%s", ep);
  snprintf(c->op, sizeof c->op, "%s", op);
  snprintf(c->path, sizeof c->path, "%s", path);
  return NB_OK;
}

bool nb_http_results_pending(const nb_http_results *r, uint64_t id) {
  const record *c = find(r, id);
  return c && !finished(c);
}

void nb_http_results_sent(nb_http_results *r, uint64_t id) {
  record *c = find(r, id);
  if (c && c->state == NB_RQ_QUEUED) c->state = NB_RQ_SENT;
}

nb_err nb_http_results_finish(nb_http_results *r, uint64_t id, nb_rq_state state, unsigned status,
                              const char *body, int64_t now) {
  size_t len = body ? strlen(body) : 0;
  record *c = find(r, id);
  if (!c || finished(c)) return NB_ERR_NOT_FOUND;
  /* Room for the body: older finished records go first (this one is not finished yet, so it
   * stays; without room, it is kept without its body). */
  prune(r, now, 0, len);
  c = find(r, id);
  c->state = state;
  c->status = status;
  c->done_at = now;
  if (body && r->bytes + len <= r->cfg.bytes_max && (c->body = strdup(body)) != NULL) {
    c->body_len = len;
    r->bytes += len;
  }
  return NB_OK;
}

json_t *nb_http_results_json(nb_http_results *r, uint64_t id, int64_t now) {
  prune(r, now, 0, 0);
  const record *c = find(r, id);
  if (!c) return NULL;
  json_t *j = json_pack("{s:I,s:s,s:s,s:s,s:s,s:I}", "requestId", (json_int_t)c->id, "endpoint",
                        c->ep, "operation", c->op, "path", c->path, "state",
                        nb_rq_state_name(c->state), "queuedAt", (json_int_t)c->queued_at);
  if (!j || !finished(c)) return j;
  json_object_set_new(j, "completedAt", json_integer(c->done_at));
  json_object_set_new(j, "httpStatus", json_integer(c->status));
  json_t *body = c->body ? json_loads(c->body, 0, NULL) : NULL;
  /* A body the byte bound left out is said to be so rather than silently missing. */
  json_object_set_new(j, "result",
                      body ? body : json_pack("{s:s}", "error", "result too large to keep"));
  return j;
}

size_t nb_http_results_count(const nb_http_results *r) { return r->n; }
