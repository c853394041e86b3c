/* The health of a server store: see store_health.h. */
#include "server/store_health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/time.h"

#define MOD "store"

struct nb_store_health {
  nb_server_store inner;
  nb_store_health_clock_fn clock;
  void *clock_user;
  nb_store_health_state st;
  int64_t logged_at;        /* when the last line about the current fault was written */
  uint64_t logged_failures; /* st.failures then */
  nb_server_store_ops ops;  /* full_ops less the optional ones the inner backend lacks */
};

static nb_store_health *self_of(void *self) { return self; }

static const char *backend_error(const nb_store_health *h) {
  const nb_server_store_ops *o = h->inner.ops;
  const char *t = o->error_text ? o->error_text(h->inner.self) : NULL;
  return t && t[0] ? t : nb_strerror(NB_ERR_IO);
}

/* A failure of operation op: the fault starts (one error line) or goes on (a summary line a
 * minute at most, so a full disk under load does not fill the log as well). */
static void failed(nb_store_health *h, const char *op) {
  int64_t now = h->clock(h->clock_user);
  nb_store_health_state *s = &h->st;
  s->total++;
  if (strcmp(op, "audit_add") == 0) s->audit_lost++;
  if (strcmp(op, "evidence_add") == 0) s->evidence_lost++;
  snprintf(s->operation, sizeof(s->operation), "%s", op);
  snprintf(s->error, sizeof(s->error), "%s", backend_error(h));
  if (s->healthy) {
    s->healthy = false;
    s->since = now;
    s->failures = 1;
    h->logged_at = now;
    h->logged_failures = 1;
    NB_LOG_ERROR(MOD, "event=store_unhealthy op=%s error=\"%s\"", op, s->error);
    return;
  }
  s->failures++;
  if (now - h->logged_at < NB_STORE_HEALTH_LOG_EVERY) return;
  NB_LOG_ERROR(MOD,
               "event=store_still_unhealthy for_ms=%lld failures=%llu new_failures=%llu op=%s "
               "error=\"%s\" audit_lost=%llu evidence_lost=%llu",
               (long long)(now - s->since), (unsigned long long)s->failures,
               (unsigned long long)(s->failures - h->logged_failures), op, s->error,
               (unsigned long long)s->audit_lost, (unsigned long long)s->evidence_lost);
  h->logged_at = now;
  h->logged_failures = s->failures;
}

/* A write the backend answered (done, or refused for a reason of its data): it takes writes. */
static void wrote(nb_store_health *h) {
  nb_store_health_state *s = &h->st;
  if (s->healthy) return;
  int64_t now = h->clock(h->clock_user);
  NB_LOG_WARN(MOD, "event=store_recovered after_ms=%lld failures=%llu audit_lost=%llu",
              (long long)(now - s->since), (unsigned long long)s->failures,
              (unsigned long long)s->audit_lost);
  s->healthy = true;
  s->since = 0;
  s->failures = 0;
  s->operation[0] = s->error[0] = '\0';
}

static nb_err after_write(nb_store_health *h, const char *op, nb_err rc) {
  if (rc == NB_ERR_IO)
    failed(h, op);
  else
    wrote(h);
  return rc;
}

/* A read failing is a fault too; a read succeeding says nothing about writes. */
static nb_err after_read(nb_store_health *h, const char *op, nb_err rc) {
  if (rc == NB_ERR_IO) failed(h, op);
  return rc;
}

/* ---- the forwarding operations ---- */

#define INNER(h) (h)->inner.ops
#define ISELF(h) (h)->inner.self

static nb_err reg_put(void *self, const nb_server_reg_info *r) {
  nb_store_health *h = self_of(self);
  return after_write(h, "reg_put", INNER(h)->reg_put(ISELF(h), r));
}
static nb_err reg_del(void *self, const char *ep) {
  nb_store_health *h = self_of(self);
  return after_write(h, "reg_del", INNER(h)->reg_del(ISELF(h), ep));
}
static nb_err reg_each(void *self, nb_server_reg_each_fn fn, void *user) {
  nb_store_health *h = self_of(self);
  return after_read(h, "reg_each", INNER(h)->reg_each(ISELF(h), fn, user));
}
static nb_err obs_put(void *self, const nb_server_obs_info *o) {
  nb_store_health *h = self_of(self);
  return after_write(h, "obs_put", INNER(h)->obs_put(ISELF(h), o));
}
static nb_err obs_del(void *self, const char *ep, uint64_t id) {
  nb_store_health *h = self_of(self);
  return after_write(h, "obs_del", INNER(h)->obs_del(ISELF(h), ep, id));
}
static nb_err obs_del_ep(void *self, const char *ep) {
  nb_store_health *h = self_of(self);
  return after_write(h, "obs_del_ep", INNER(h)->obs_del_ep(ISELF(h), ep));
}
static nb_err obs_each(void *self, nb_server_obs_each_fn fn, void *user) {
  nb_store_health *h = self_of(self);
  return after_read(h, "obs_each", INNER(h)->obs_each(ISELF(h), fn, user));
}
static nb_err sec_put(void *self, const nb_server_sec_info *c) {
  nb_store_health *h = self_of(self);
  return after_write(h, "sec_put", INNER(h)->sec_put(ISELF(h), c));
}
static nb_err sec_get(void *self, const char *ep, nb_server_sec_info *out) {
  nb_store_health *h = self_of(self);
  return after_read(h, "sec_get", INNER(h)->sec_get(ISELF(h), ep, out));
}
static nb_err sec_find(void *self, nb_server_id_kind kind, const char *identity,
                       nb_server_sec_info *out) {
  nb_store_health *h = self_of(self);
  return after_read(h, "sec_find", INNER(h)->sec_find(ISELF(h), kind, identity, out));
}
static nb_err sec_del(void *self, const char *ep) {
  nb_store_health *h = self_of(self);
  return after_write(h, "sec_del", INNER(h)->sec_del(ISELF(h), ep));
}
static nb_err sec_each(void *self, nb_server_sec_each_fn fn, void *user) {
  nb_store_health *h = self_of(self);
  return after_read(h, "sec_each", INNER(h)->sec_each(ISELF(h), fn, user));
}
static nb_err audit_add(void *self, const nb_server_audit_info *a) {
  nb_store_health *h = self_of(self);
  return after_write(h, "audit_add", INNER(h)->audit_add(ISELF(h), a));
}
static nb_err audit_each(void *self, int64_t before, size_t limit, nb_server_audit_each_fn fn,
                         void *user) {
  nb_store_health *h = self_of(self);
  return after_read(h, "audit_each", INNER(h)->audit_each(ISELF(h), before, limit, fn, user));
}
static nb_err evidence_add(void *self, const nb_server_evidence_info *e, size_t keep) {
  nb_store_health *h = self_of(self);
  return after_write(h, "evidence_add", INNER(h)->evidence_add(ISELF(h), e, keep));
}
static nb_err evidence_each(void *self, const char *ep, int64_t before, size_t limit,
                            nb_server_evidence_each_fn fn, void *user) {
  nb_store_health *h = self_of(self);
  return after_read(h, "evidence_each",
                    INNER(h)->evidence_each(ISELF(h), ep, before, limit, fn, user));
}
static nb_err probe(void *self, int64_t now_unix_ms) {
  nb_store_health *h = self_of(self);
  if (!INNER(h)->probe) return NB_ERR_UNSUPPORTED;
  return after_write(h, "probe", INNER(h)->probe(ISELF(h), now_unix_ms));
}
static const char *error_text(void *self) { return backend_error(self_of(self)); }

static nb_err doc_put(void *self, const char *kind, const char *key, const char *json) {
  nb_store_health *h = self_of(self);
  return after_write(h, "doc_put", INNER(h)->doc_put(ISELF(h), kind, key, json));
}
static nb_err doc_del(void *self, const char *kind, const char *key, bool prefix) {
  nb_store_health *h = self_of(self);
  return after_write(h, "doc_del", INNER(h)->doc_del(ISELF(h), kind, key, prefix));
}
static nb_err doc_each(void *self, const char *kind, nb_server_doc_each_fn fn, void *user) {
  nb_store_health *h = self_of(self);
  return after_read(h, "doc_each", INNER(h)->doc_each(ISELF(h), kind, fn, user));
}

/* Every operation; nb_store_health_store leaves out the optional ones the inner backend lacks. */
static const nb_server_store_ops full_ops = {
    reg_put,      reg_del,       reg_each, obs_put,    obs_del,  obs_del_ep, obs_each,
    sec_put,      sec_get,       sec_find, sec_del,    sec_each, audit_add,  audit_each,
    evidence_add, evidence_each, probe,    error_text, doc_put,  doc_del,    doc_each,
};

/* ---- life cycle ---- */

static int64_t wall_clock(void *user) {
  (void)user;
  return nb_time_unix_ms();
}

nb_err nb_store_health_new(nb_server_store inner, nb_store_health_clock_fn clock, void *clock_user,
                           nb_store_health **out) {
  nb_store_health *h = calloc(1, sizeof(*h));
  if (!h) return NB_ERR_NOMEM;
  h->inner = inner;
  h->clock = clock ? clock : wall_clock;
  h->clock_user = clock_user;
  h->st.healthy = true;
  *out = h;
  return NB_OK;
}

void nb_store_health_free(nb_store_health *h) { free(h); }

nb_server_store nb_store_health_store(nb_store_health *h) {
  const nb_server_store_ops *in = h->inner.ops;
  h->ops = full_ops;
  if (!in->evidence_add || !in->evidence_each)
    h->ops.evidence_add = NULL, h->ops.evidence_each = NULL;
  if (!in->doc_put || !in->doc_del || !in->doc_each)
    h->ops.doc_put = NULL, h->ops.doc_del = NULL, h->ops.doc_each = NULL;
  nb_server_store s = {&h->ops, h};
  return s;
}

void nb_store_health_get(const nb_store_health *h, nb_store_health_state *out) { *out = h->st; }

bool nb_store_health_probe(nb_store_health *h) {
  if (!h->st.healthy && h->inner.ops->probe) probe(h, h->clock(h->clock_user));
  return h->st.healthy;
}
