/* The firmware service's engine (fwupdate.h): images, campaigns, the scheduling of their
 * devices' jobs (fwjob.c), what the server engine reports, and their documents in the store. */
#include "fw/fwupdate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hex.h"
#include "base/log.h"
#include "fw/fw_int.h"

#define DOC_IMAGE "fw-image"
#define DOC_CAMP "fw-campaign"
#define DOC_DEV "fw-device"

static const char *const dev_names[] = {"queued",  "downloading", "downloaded", "updating",
                                        "updated", "failed",      "skipped",    "cancelled"};
static const char *const camp_names[] = {"running", "paused", "cancelled", "done"};

const char *nb_fws_dev_state_name(nb_fws_dev_state s) {
  return (unsigned)s < sizeof(dev_names) / sizeof(dev_names[0]) ? dev_names[s] : "unknown";
}

const char *nb_fws_camp_state_name(nb_fws_camp_state s) {
  return (unsigned)s < sizeof(camp_names) / sizeof(camp_names[0]) ? camp_names[s] : "unknown";
}

static bool name_index(const char *name, const char *const *names, size_t n, int *out) {
  for (size_t i = 0; name && i < n; i++)
    if (strcmp(name, names[i]) == 0) {
      *out = (int)i;
      return true;
    }
  return false;
}

void nb_fws_config_default(nb_fws_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->step_timeout = 600000;
  cfg->poll_interval = 30000;
  cfg->retry_delay = 30000;
  cfg->random = nb_random_system;
}

static bool dev_over(nb_fws_dev_state s) {
  return s == NB_FWS_DEV_UPDATED || s == NB_FWS_DEV_FAILED || s == NB_FWS_DEV_SKIPPED ||
         s == NB_FWS_DEV_CANCELLED;
}

static bool camp_live(const fw_camp *c) {
  return c->state == NB_FWS_CAMP_RUNNING || c->state == NB_FWS_CAMP_PAUSED;
}

static fw_camp *camp_find(const nb_fws *f, const char *id) {
  for (fw_camp *c = f->camps; c; c = c->next)
    if (strcmp(c->id, id) == 0) return c;
  return NULL;
}

/* ---- events and the store ---- */

void nb_fwi_emit_dev(nb_fws *f, const fw_dev *d, nb_time_ms now) {
  if (!f->listener) return;
  nb_fws_event ev = {d->c->id, d->ep, nb_fws_dev_state_name(d->state), d->result, d->error, now};
  f->listener(f->listener_user, &ev);
}

static void emit_camp(nb_fws *f, const fw_camp *c, nb_time_ms now) {
  if (!f->listener) return;
  nb_fws_event ev = {c->id, NULL, nb_fws_camp_state_name(c->state), -1, "", now};
  f->listener(f->listener_user, &ev);
}

static void put_doc(nb_fws *f, const char *kind, const char *key, json_t *j) {
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  nb_err rc = text ? f->cfg.store.ops->doc_put(f->cfg.store.self, kind, key, text) : NB_ERR_NOMEM;
  if (rc != NB_OK) NB_LOG_WARN(NB_FWS_LOG, "event=store_failed kind=%s key=%s", kind, key);
  free(text);
  json_decref(j);
}

static json_t *dev_json(const fw_dev *d) {
  json_t *j = json_pack("{s:s,s:s,s:i,s:s,s:I}", "endpoint", d->ep, "state",
                        nb_fws_dev_state_name(d->state), "attempts", (int)d->attempts, "error",
                        d->error, "bytes", (json_int_t)d->offset);
  if (!j) return NULL;
  json_object_set_new(j, "updateResult", d->result >= 0 ? json_integer(d->result) : json_null());
  json_object_set_new(j, "firmwareVersion", d->version[0] ? json_string(d->version) : json_null());
  return j;
}

void nb_fwi_save_dev(nb_fws *f, const fw_dev *d) {
  char key[NB_FWS_CAMP_ID_MAX + NB_SERVER_EP_MAX + 1];
  snprintf(key, sizeof(key), "%s/%s", d->c->id, d->ep);
  json_t *j = dev_json(d);
  /* What a restart needs besides what the API shows: the observations to end. */
  if (j)
    json_object_set_new(j, "obs", json_pack("[I,I]", (json_int_t)d->obs[0], (json_int_t)d->obs[1]));
  if (j) json_object_set_new(j, "checked", json_boolean(d->checked));
  put_doc(f, DOC_DEV, key, j);
}

static json_t *camp_json(const fw_camp *c) {
  return json_pack("{s:s,s:s,s:s,s:i,s:i,s:O,s:s,s:I,s:I}", "id", c->id, "image", c->image,
                   "method", c->pull ? "pull" : "push", "concurrency", (int)c->concurrency,
                   "retries", (int)c->retries, "targets", c->targets, "state",
                   nb_fws_camp_state_name(c->state), "createdAt", (json_int_t)c->created_at,
                   "updatedAt", (json_int_t)c->updated_at);
}

void nb_fwi_save_camp(nb_fws *f, fw_camp *c, nb_time_ms now) {
  c->updated_at = now + f->cfg.clock_offset;
  put_doc(f, DOC_CAMP, c->id, camp_json(c));
}

static void camp_set_state(fw_camp *c, nb_fws_camp_state st, nb_time_ms now) {
  c->state = st;
  nb_fwi_save_camp(c->f, c, now);
  emit_camp(c->f, c, now);
  NB_LOG_INFO(NB_FWS_LOG, "event=campaign-%s campaign=%s", nb_fws_camp_state_name(st), c->id);
}

/* ---- scheduling ---- */

void nb_fwi_pump(fw_camp *c, nb_time_ms now) {
  nb_fws *f = c->f;
  if (c->state != NB_FWS_CAMP_RUNNING) return;
  /* Devices before `open` are over: a campaign that goes in order scans only its window of
   * devices under way and those waiting for a retry, not every device each time one ends. */
  while (c->open < c->ndevs && dev_over(c->devs[c->open].state)) c->open++;
  bool over = true;
  for (size_t i = c->open; i < c->ndevs; i++) {
    fw_dev *d = &c->devs[i];
    if (dev_over(d->state)) continue;
    over = false;
    if (d->active || c->active >= c->concurrency) continue;
    if (d->retry_at > now) {
      if (d->retry_at < f->retry_wake) f->retry_wake = d->retry_at;
      continue;
    }
    if (!nb_server_find(f->srv, d->ep)) continue; /* starts when it registers */
    if (d->verify_pending)
      nb_fwi_job_verify(d, now);
    else
      nb_fwi_job_start(d, now);
    if (c->state != NB_FWS_CAMP_RUNNING) return;
  }
  if (over) camp_set_state(c, NB_FWS_CAMP_DONE, now);
}

static void pump_all(nb_fws *f, nb_time_ms now) {
  f->pump_due = false;
  f->retry_wake = NB_TIME_NEVER;
  for (fw_camp *c = f->camps; c; c = c->next) nb_fwi_pump(c, now);
}

/* Events the server reported since the last tick (fw_dev.pend_*). */
static void act_on_events(nb_fws *f, nb_time_ms now) {
  f->pend_due = false;
  for (fw_dev *d = f->active, *next; d; d = next) {
    next = d->anext; /* d may give its slot back */
    int st = d->pend_state, res = d->pend_result;
    bool reg = d->pend_reg;
    d->pend_state = d->pend_result = -1;
    d->pend_reg = false;
    if (reg) nb_fwi_job_registered(d, now);
    if ((st >= 0 || res >= 0) && d->active) nb_fwi_job_values(d, st, res, now);
  }
}

void nb_fws_tick(nb_fws *f, nb_time_ms now) {
  if (f->pend_due) act_on_events(f, now);
  if (f->pump_due || f->retry_wake <= now) pump_all(f, now);
  for (fw_dev *d = f->active, *next; d; d = next) {
    next = d->anext;
    if (d->deadline <= now) nb_fwi_job_due(d, now);
  }
}

nb_time_ms nb_fws_next_deadline(const nb_fws *f) {
  if (f->pump_due || f->pend_due) return 0;
  nb_time_ms t = f->retry_wake;
  for (const fw_dev *d = f->active; d; d = d->anext) t = nb_time_min(t, d->deadline);
  return t;
}

/* ---- what the server reports ---- */

static fw_dev *active_dev(const nb_fws *f, const char *ep) {
  for (fw_dev *d = f->active; d; d = d->anext)
    if (strcmp(d->ep, ep) == 0) return d;
  return NULL;
}

static int record_int(const nb_records *recs, uint16_t res) {
  for (size_t i = 0; recs && i < recs->len; i++) {
    const nb_record *r = &recs->items[i];
    if (r->path.len != NB_PATH_RESOURCE || r->path.ids[0] != 5 || r->path.ids[2] != res) continue;
    if (r->value.type == NB_VT_INT) return (int)r->value.v.i;
    if (r->value.type == NB_VT_UINT) return (int)r->value.v.u;
  }
  return -1;
}

static void on_server_event(void *user, const nb_server_event *ev) {
  nb_fws *f = user;
  if (!ev->reg) return;
  if (ev->type == NB_SEV_REGISTRATION || ev->type == NB_SEV_UPDATED || ev->type == NB_SEV_AWAKE) {
    f->pump_due = true; /* a queued device may start (in the next tick, not inside the engine) */
    fw_dev *d = active_dev(f, ev->reg->ep);
    if (d && ev->type == NB_SEV_REGISTRATION) {
      d->pend_reg = true;
      f->pend_due = true;
    }
    return;
  }
  if (ev->type != NB_SEV_NOTIFICATION) return;
  fw_dev *d = active_dev(f, ev->reg->ep);
  if (!d || (ev->obs_id != d->obs[0] && ev->obs_id != d->obs[1])) return;
  int st = record_int(ev->records, 3), res = record_int(ev->records, 5);
  if (st >= 0) d->pend_state = st;
  if (res >= 0) d->pend_result = res;
  f->pend_due = true;
}

/* ---- life cycle ---- */

nb_err nb_fws_new(const nb_fws_config *cfg, nb_server *srv, nb_fws **out) {
  if (!cfg || !srv || !cfg->read || !cfg->store.ops || !cfg->store.ops->doc_put ||
      !cfg->store.ops->doc_del || !cfg->store.ops->doc_each)
    return NB_ERR_INVAL;
  nb_fws *f = calloc(1, sizeof(*f));
  if (!f) return NB_ERR_NOMEM;
  f->cfg = *cfg;
  if (!f->cfg.random) f->cfg.random = nb_random_system;
  f->srv = srv;
  f->retry_wake = NB_TIME_NEVER;
  if (cfg->uri_base && !(f->uri_base = strdup(cfg->uri_base))) {
    free(f);
    return NB_ERR_NOMEM;
  }
  nb_err rc = nb_server_add_listener(srv, on_server_event, f);
  if (rc == NB_OK) {
    rc = nb_server_set_resource(srv, "fw", nb_fwi_serve, f);
    if (rc != NB_OK) nb_server_remove_listener(srv, on_server_event, f);
  }
  if (rc != NB_OK) {
    free(f->uri_base);
    free(f);
    return rc;
  }
  *out = f;
  return NB_OK;
}

static void camp_free(fw_camp *c, nb_time_ms now) {
  for (size_t i = 0; i < c->ndevs; i++) nb_fwi_job_release(&c->devs[i], now);
  json_decref(c->targets);
  free(c->devs);
  free(c);
}

void nb_fws_free(nb_fws *f) {
  if (!f) return;
  nb_server_set_resource(f->srv, "fw", NULL, NULL);
  nb_server_remove_listener(f->srv, on_server_event, f);
  nb_time_ms now = nb_server_now(f->srv);
  while (f->camps) {
    fw_camp *c = f->camps;
    f->camps = c->next;
    camp_free(c, now);
  }
  free(f->images);
  free(f->uri_base);
  free(f);
}

void nb_fws_set_listener(nb_fws *f, nb_fws_listener_fn fn, void *user) {
  f->listener = fn;
  f->listener_user = user;
}

/* ---- images ---- */

const nb_fws_image *nb_fws_image_find(const nb_fws *f, const char *sha256) {
  for (size_t i = 0; i < f->nimages; i++)
    if (strcmp(f->images[i].sha256, sha256) == 0) return &f->images[i];
  return NULL;
}

const nb_fws_image *nb_fwi_image_by_prefix(const nb_fws *f, const char *hex, size_t len) {
  const nb_fws_image *found = NULL;
  for (size_t i = 0; i < f->nimages; i++) {
    if (strncmp(f->images[i].sha256, hex, len) != 0) continue;
    if (found) return NULL; /* ambiguous: never serve the wrong image */
    found = &f->images[i];
  }
  return found;
}

size_t nb_fws_image_count(const nb_fws *f) { return f->nimages; }

const nb_fws_image *nb_fws_image_at(const nb_fws *f, size_t i) {
  return i < f->nimages ? &f->images[i] : NULL;
}

static nb_err image_keep(nb_fws *f, const nb_fws_image *img) {
  nb_fws_image *have = (nb_fws_image *)nb_fws_image_find(f, img->sha256);
  if (have) {
    *have = *img;
    return NB_OK;
  }
  if (f->nimages == f->images_cap) {
    size_t cap = f->images_cap ? f->images_cap * 2 : 8;
    nb_fws_image *n = realloc(f->images, cap * sizeof(*n));
    if (!n) return NB_ERR_NOMEM;
    f->images = n;
    f->images_cap = cap;
  }
  f->images[f->nimages++] = *img;
  return NB_OK;
}

nb_err nb_fws_image_add(nb_fws *f, const nb_fws_image *img) {
  nb_err rc = image_keep(f, img);
  if (rc == NB_OK) put_doc(f, DOC_IMAGE, img->sha256, nb_fws_image_json(img));
  return rc;
}

nb_err nb_fws_image_remove(nb_fws *f, const char *sha256) {
  nb_fws_image *img = (nb_fws_image *)nb_fws_image_find(f, sha256);
  if (!img) return NB_ERR_NOT_FOUND;
  for (fw_camp *c = f->camps; c; c = c->next)
    if (camp_live(c) && strcmp(c->image, sha256) == 0) return NB_ERR_BUSY;
  f->cfg.store.ops->doc_del(f->cfg.store.self, DOC_IMAGE, sha256, false);
  *img = f->images[--f->nimages];
  return NB_OK;
}

/* ---- campaigns ---- */

static bool has_object(const nb_server_reg_info *r, int object) {
  if (object < 0) return true;
  char want[16];
  int n = snprintf(want, sizeof(want), "</%d", object);
  for (const char *p = r->links; p && (p = strstr(p, want)) != NULL; p += n)
    if (p[n] == '>' || p[n] == '/') return true;
  return false;
}

typedef struct {
  const nb_fws_spec *spec;
  char **eps;
  size_t n, cap;
  bool nomem;
} match_walk;

static void match_one(void *user, const nb_server_reg_info *r) {
  match_walk *w = user;
  if (w->nomem || strncmp(r->ep, w->spec->prefix, strlen(w->spec->prefix)) != 0 ||
      !has_object(r, w->spec->object) || w->n >= NB_FWS_TARGETS_MAX)
    return;
  if (w->n == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 16;
    char **n = realloc(w->eps, cap * sizeof(char *));
    if (!n) {
      w->nomem = true;
      return;
    }
    w->eps = n;
    w->cap = cap;
  }
  if (!(w->eps[w->n] = strdup(r->ep))) {
    w->nomem = true;
    return;
  }
  w->n++;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The spec as the campaign shows it back. */
static json_t *targets_json(const nb_fws_spec *s) {
  json_t *t = json_object();
  if (!t) return NULL;
  if (s->nendpoints) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < s->nendpoints; i++)
      json_array_append_new(a, json_string(s->endpoints[i]));
    json_object_set_new(t, "endpoints", a);
    return t;
  }
  if (s->prefix[0]) json_object_set_new(t, "prefix", json_string(s->prefix));
  if (s->object >= 0) json_object_set_new(t, "object", json_integer(s->object));
  if (s->has_version) json_object_set_new(t, "firmwareVersion", json_string(s->version));
  return t;
}

static fw_camp *camp_new(nb_fws *f, size_t ndevs) {
  fw_camp *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->devs = calloc(ndevs ? ndevs : 1, sizeof(fw_dev));
  if (!c->devs) {
    free(c);
    return NULL;
  }
  c->f = f;
  return c;
}

static void dev_init(fw_dev *d, fw_camp *c, const char *ep) {
  d->c = c;
  snprintf(d->ep, sizeof(d->ep), "%s", ep);
  d->state = NB_FWS_DEV_QUEUED;
  d->result = -1;
  d->deadline = NB_TIME_NEVER;
  d->pend_state = d->pend_result = -1;
}

nb_err nb_fws_campaign_start(nb_fws *f, const nb_fws_spec *spec, nb_time_ms now,
                             char id[NB_FWS_CAMP_ID_MAX]) {
  const nb_fws_image *img = nb_fws_image_find(f, spec->image);
  if (!img) return NB_ERR_NOT_FOUND;
  if (spec->pull && !f->uri_base) return NB_ERR_UNSUPPORTED;
  match_walk w = {spec, NULL, 0, 0, false};
  if (!spec->nendpoints) {
    nb_server_each(f->srv, match_one, &w);
    if (w.n) qsort(w.eps, w.n, sizeof(char *), cmp_str);
  }
  char **eps = spec->nendpoints ? spec->endpoints : w.eps;
  size_t n = spec->nendpoints ? spec->nendpoints : w.n;
  nb_err rc = w.nomem ? NB_ERR_NOMEM : n ? NB_OK : NB_ERR_RANGE;
  fw_camp *c = rc == NB_OK ? camp_new(f, n) : NULL;
  uint8_t raw[8];
  if (rc == NB_OK && !c) rc = NB_ERR_NOMEM;
  if (rc == NB_OK) rc = f->cfg.random(f->cfg.random_user, raw, sizeof(raw));
  if (rc == NB_OK && !(c->targets = targets_json(spec))) rc = NB_ERR_NOMEM;
  if (rc == NB_OK) {
    nb_hex_encode(raw, sizeof(raw), c->id);
    snprintf(c->image, sizeof(c->image), "%s", img->sha256);
    c->image_size = img->size;
    c->pull = spec->pull;
    c->concurrency = spec->concurrency ? spec->concurrency : NB_FWS_CONCURRENCY_DEFAULT;
    c->retries = spec->retries;
    c->has_version = spec->has_version;
    snprintf(c->version, sizeof(c->version), "%s", spec->version);
    c->created_at = now + f->cfg.clock_offset;
    for (size_t i = 0; i < n; i++) dev_init(&c->devs[c->ndevs++], c, eps[i]);
    c->next = f->camps;
    f->camps = c;
    nb_fwi_save_camp(f, c, now);
    for (size_t i = 0; i < c->ndevs; i++) nb_fwi_save_dev(f, &c->devs[i]);
    snprintf(id, NB_FWS_CAMP_ID_MAX, "%s", c->id);
    NB_LOG_INFO(NB_FWS_LOG, "event=campaign-created campaign=%s image=%s method=%s devices=%zu",
                c->id, c->image, c->pull ? "pull" : "push", c->ndevs);
    emit_camp(f, c, now);
    nb_fwi_pump(c, now);
  } else if (c) {
    camp_free(c, now);
  }
  for (size_t i = 0; i < w.n; i++) free(w.eps[i]);
  free(w.eps);
  return rc;
}

/* Campaign id from state `from` to `to`. */
static nb_err camp_move(nb_fws *f, const char *id, nb_fws_camp_state from, nb_fws_camp_state to,
                        nb_time_ms now) {
  fw_camp *c = camp_find(f, id);
  if (!c) return NB_ERR_NOT_FOUND;
  if (c->state != from) return NB_ERR_STATE;
  camp_set_state(c, to, now);
  nb_fwi_pump(c, now); /* resumed: the next devices start */
  return NB_OK;
}

nb_err nb_fws_campaign_pause(nb_fws *f, const char *id, nb_time_ms now) {
  return camp_move(f, id, NB_FWS_CAMP_RUNNING, NB_FWS_CAMP_PAUSED, now);
}

nb_err nb_fws_campaign_resume(nb_fws *f, const char *id, nb_time_ms now) {
  return camp_move(f, id, NB_FWS_CAMP_PAUSED, NB_FWS_CAMP_RUNNING, now);
}

nb_err nb_fws_campaign_cancel(nb_fws *f, const char *id, nb_time_ms now) {
  fw_camp *c = camp_find(f, id);
  if (!c) return NB_ERR_NOT_FOUND;
  if (!camp_live(c)) return NB_ERR_STATE;
  c->state = NB_FWS_CAMP_CANCELLED; /* first: no job's end starts another */
  for (size_t i = 0; i < c->ndevs; i++) {
    fw_dev *d = &c->devs[i];
    if (dev_over(d->state)) continue;
    nb_fwi_job_release(d, now);
    d->state = NB_FWS_DEV_CANCELLED;
    nb_fwi_save_dev(f, d);
    nb_fwi_emit_dev(f, d, now);
  }
  camp_set_state(c, NB_FWS_CAMP_CANCELLED, now);
  return NB_OK;
}

nb_err nb_fws_campaign_delete(nb_fws *f, const char *id) {
  fw_camp **pp = &f->camps;
  while (*pp && strcmp((*pp)->id, id) != 0) pp = &(*pp)->next;
  if (!*pp) return NB_ERR_NOT_FOUND;
  fw_camp *c = *pp;
  if (camp_live(c)) return NB_ERR_STATE;
  char prefix[NB_FWS_CAMP_ID_MAX + 1];
  snprintf(prefix, sizeof(prefix), "%s/", c->id);
  f->cfg.store.ops->doc_del(f->cfg.store.self, DOC_DEV, prefix, true);
  f->cfg.store.ops->doc_del(f->cfg.store.self, DOC_CAMP, c->id, false);
  *pp = c->next;
  camp_free(c, nb_server_now(f->srv));
  return NB_OK;
}

bool nb_fws_campaign_counts(const nb_fws *f, const char *id, size_t counts[8],
                            nb_fws_camp_state *state) {
  const fw_camp *c = camp_find(f, id);
  if (!c) return false;
  memset(counts, 0, 8 * sizeof(size_t));
  for (size_t i = 0; i < c->ndevs; i++) counts[c->devs[i].state]++;
  if (state) *state = c->state;
  return true;
}

static json_t *camp_view(const fw_camp *c, bool devices) {
  json_t *j = camp_json(c), *counts = json_object();
  size_t n[8] = {0};
  for (size_t i = 0; i < c->ndevs; i++) n[c->devs[i].state]++;
  for (int i = 0; counts && i < 8; i++)
    json_object_set_new(counts, dev_names[i], json_integer((json_int_t)n[i]));
  if (j) json_object_set_new(j, "counts", counts);
  if (j) json_object_set_new(j, "total", json_integer((json_int_t)c->ndevs));
  if (j && devices) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < c->ndevs; i++) json_array_append_new(a, dev_json(&c->devs[i]));
    json_object_set_new(j, "devices", a);
  }
  return j;
}

json_t *nb_fws_campaign_json(const nb_fws *f, const char *id, bool devices) {
  const fw_camp *c = camp_find(f, id);
  return c ? camp_view(c, devices) : NULL;
}

void nb_fws_campaign_each(const nb_fws *f, void (*fn)(void *user, const char *id), void *user) {
  for (const fw_camp *c = f->camps; c; c = c->next) fn(user, c->id);
}

/* ---- restore ---- */

static nb_err load_image(void *user, const char *key, const char *text) {
  nb_fws *f = user;
  json_t *j = json_loads(text, 0, NULL);
  nb_fws_image img;
  memset(&img, 0, sizeof(img));
  /* version and vendor are null when unknown */
  const char *name = json_string_value(json_object_get(j, "name"));
  const char *version = json_string_value(json_object_get(j, "version"));
  const char *vendor = json_string_value(json_object_get(j, "vendor"));
  json_t *js = json_object_get(j, "size");
  json_int_t size = json_integer_value(js);
  json_int_t at = json_integer_value(json_object_get(j, "uploadedAt"));
  if (!json_is_integer(js) || strlen(key) != 64 || size < 0) {
    NB_LOG_WARN(NB_FWS_LOG, "event=store_unreadable kind=%s key=%s", DOC_IMAGE, key);
    json_decref(j);
    return NB_OK;
  }
  snprintf(img.sha256, sizeof(img.sha256), "%s", key);
  img.size = (uint64_t)size;
  snprintf(img.name, sizeof(img.name), "%s", name ? name : "");
  snprintf(img.version, sizeof(img.version), "%s", version ? version : "");
  snprintf(img.vendor, sizeof(img.vendor), "%s", vendor ? vendor : "");
  img.uploaded_at = at;
  json_decref(j);
  return image_keep(f, &img);
}

typedef struct {
  nb_fws *f;
  json_t *camps; /* id -> campaign document */
  json_t *devs;  /* id -> [device documents] */
} restore_walk;

static nb_err load_camp(void *user, const char *key, const char *text) {
  restore_walk *w = user;
  json_t *j = json_loads(text, 0, NULL);
  if (j) json_object_set_new(w->camps, key, j);
  return NB_OK;
}

static nb_err load_dev(void *user, const char *key, const char *text) {
  restore_walk *w = user;
  const char *slash = strchr(key, '/');
  json_t *j = json_loads(text, 0, NULL);
  if (!slash || !j || (size_t)(slash - key) >= NB_FWS_CAMP_ID_MAX) {
    json_decref(j);
    return NB_OK;
  }
  char id[NB_FWS_CAMP_ID_MAX];
  snprintf(id, sizeof(id), "%.*s", (int)(slash - key), key);
  json_t *arr = json_object_get(w->devs, id);
  if (!arr) {
    arr = json_array();
    json_object_set_new(w->devs, id, arr);
  }
  json_array_append_new(arr, j);
  return NB_OK;
}

/* A device as it was stored; one caught in the middle goes back to the start of its job (the
 * observations it held are ended), or, updating, is asked for its result. */
static void restore_dev(fw_dev *d, json_t *j, nb_time_ms now) {
  const char *state = json_string_value(json_object_get(j, "state"));
  const char *error = json_string_value(json_object_get(j, "error"));
  const char *version = json_string_value(json_object_get(j, "firmwareVersion"));
  json_t *obs = json_object_get(j, "obs");
  json_int_t obs0 = json_integer_value(json_array_get(obs, 0));
  json_int_t obs1 = json_integer_value(json_array_get(obs, 1));
  json_int_t attempts = json_integer_value(json_object_get(j, "attempts"));
  bool checked = json_is_true(json_object_get(j, "checked"));
  int result = -1;
  json_t *r = json_object_get(j, "updateResult");
  if (json_is_integer(r)) result = (int)json_integer_value(r);
  int st = NB_FWS_DEV_QUEUED;
  name_index(state, dev_names, 8, &st);
  d->state = (nb_fws_dev_state)st;
  d->attempts = (unsigned)attempts;
  d->result = result;
  d->checked = checked;
  snprintf(d->error, sizeof(d->error), "%s", error ? error : "");
  snprintf(d->version, sizeof(d->version), "%s", version ? version : "");
  if (obs0) nb_server_cancel(d->c->f->srv, (uint64_t)obs0, false, now);
  if (obs1) nb_server_cancel(d->c->f->srv, (uint64_t)obs1, false, now);
  if (d->state == NB_FWS_DEV_UPDATING) d->verify_pending = true;
  if (d->state == NB_FWS_DEV_DOWNLOADING || d->state == NB_FWS_DEV_DOWNLOADED)
    d->state = NB_FWS_DEV_QUEUED;
}

static void restore_camp(nb_fws *f, const char *id, json_t *cj, json_t *devs, nb_time_ms now) {
  const char *image = NULL, *method = NULL, *state = NULL;
  int conc = 0, retries = 0;
  json_int_t created = 0;
  json_t *targets = NULL;
  size_t n = json_array_size(devs);
  if (json_unpack(cj, "{s:s,s:s,s:i,s:i,s:o,s:s,s?I}", "image", &image, "method", &method,
                  "concurrency", &conc, "retries", &retries, "targets", &targets, "state", &state,
                  "createdAt", &created) != 0 ||
      strlen(id) >= NB_FWS_CAMP_ID_MAX || conc < 1) {
    NB_LOG_WARN(NB_FWS_LOG, "event=store_unreadable kind=%s key=%s", DOC_CAMP, id);
    return;
  }
  fw_camp *c = camp_new(f, n);
  if (!c) return;
  snprintf(c->id, sizeof(c->id), "%s", id);
  snprintf(c->image, sizeof(c->image), "%s", image);
  const nb_fws_image *img = nb_fws_image_find(f, image);
  c->image_size = img ? img->size : 0;
  c->pull = strcmp(method, "pull") == 0;
  c->concurrency = (unsigned)conc;
  c->retries = (unsigned)retries;
  c->targets = json_incref(targets);
  const char *v = json_string_value(json_object_get(targets, "firmwareVersion"));
  c->has_version = v != NULL;
  snprintf(c->version, sizeof(c->version), "%s", v ? v : "");
  int st = NB_FWS_CAMP_DONE;
  name_index(state, camp_names, 4, &st);
  c->state = (nb_fws_camp_state)st;
  c->created_at = created;
  for (size_t i = 0; i < n; i++) {
    fw_dev *d = &c->devs[c->ndevs];
    const char *ep = json_string_value(json_object_get(json_array_get(devs, i), "endpoint"));
    if (!ep) continue;
    dev_init(d, c, ep);
    restore_dev(d, json_array_get(devs, i), now);
    c->ndevs++;
  }
  /* newest first, as created */
  fw_camp **pp = &f->camps;
  while (*pp && (*pp)->created_at >= c->created_at) pp = &(*pp)->next;
  c->next = *pp;
  *pp = c;
  if (camp_live(c) && !img) {
    NB_LOG_WARN(NB_FWS_LOG, "event=campaign-image-missing campaign=%s image=%s", c->id, image);
    nb_fws_campaign_cancel(f, c->id, now);
  }
}

nb_err nb_fws_restore(nb_fws *f, nb_time_ms now) {
  const nb_server_store *st = &f->cfg.store;
  restore_walk w = {f, json_object(), json_object()};
  nb_err rc = w.camps && w.devs ? NB_OK : NB_ERR_NOMEM;
  if (rc == NB_OK) rc = st->ops->doc_each(st->self, DOC_IMAGE, load_image, f);
  if (rc == NB_OK) rc = st->ops->doc_each(st->self, DOC_CAMP, load_camp, &w);
  if (rc == NB_OK) rc = st->ops->doc_each(st->self, DOC_DEV, load_dev, &w);
  const char *id;
  json_t *cj;
  size_t live = 0;
  json_object_foreach(w.camps, id, cj) {
    if (rc != NB_OK) break;
    restore_camp(f, id, cj, json_object_get(w.devs, id), now);
  }
  for (fw_camp *c = f->camps; c; c = c->next) live += camp_live(c);
  json_decref(w.camps);
  json_decref(w.devs);
  if (rc == NB_OK)
    NB_LOG_INFO(NB_FWS_LOG, "event=restored images=%zu campaigns_live=%zu", f->nimages, live);
  f->pump_due = true;
  return rc;
}
