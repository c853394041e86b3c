/* LwM2M server engine, restart: registrations and observations back from the store (see
 * nb_server_restore in server.h and server_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "server/server_int.h"

typedef struct {
  nb_server *s;
  nb_time_ms now;
  size_t count, unheard;
  char (*stale)[NB_SERVER_EP_MAX]; /* expired rows, deleted after the walk */
  size_t nstale, cap;
} restore_ctx;

static void note_stale(restore_ctx *c, const char *ep) {
  if (c->nstale == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    void *p = realloc(c->stale, cap * sizeof(*c->stale));
    if (!p) return; /* stays in the store; retried on the next restart */
    c->stale = p;
    c->cap = cap;
  }
  snprintf(c->stale[c->nstale++], NB_SERVER_EP_MAX, "%s", ep);
}

static nb_err restore_one(void *user, const nb_server_reg_info *in) {
  restore_ctx *c = user;
  nb_server *s = c->s;
  int64_t left = in->expires_at + s->cfg.expiry_grace - nb_srvi_unix_ms(s, c->now);
  if (left <= 0) note_stale(c, in->ep);
  if (left <= 0 || nb_srvi_find_ep(s, in->ep)) return NB_OK;
  reg *r = nb_srvi_reg_new(s);
  if (!r) return NB_ERR_NOMEM;
  r->info = *in;
  r->info.ep = r->info.sms = r->info.identity.value = NULL;
  r->links = malloc(in->links_len + 1);
  if (!r->links || nb_srvi_reg_set_text(r, in->ep, &in->identity, in->sms) != NB_OK) {
    nb_srvi_reg_free(s, r);
    return NB_ERR_NOMEM;
  }
  if (in->links_len) memcpy(r->links, in->links, in->links_len);
  r->links[in->links_len] = '\0';
  r->info.links = r->links;
  /* A DTLS device's session went with the old process: unreachable until it is heard. */
  r->info.restored_unheard = r->info.identity.kind != NB_SERVER_ID_NONE;
  c->unheard += r->info.restored_unheard;
  r->info.format_count =
      nb_server_reg_formats(r->links, in->links_len, r->info.formats, NB_SERVER_FORMATS_MAX);
  nb_srvi_reg_index(s, r);
  if (NB_SRV_IS_NOSEC(r)) s->nosec++;
  nb_coap_timerheap_arm(&s->timers, &r->t_expiry, c->now + left);
  c->count++;
  return NB_OK;
}

/* Observations whose rows are to be deleted after the walk (their device is gone or the row
 * cannot be used). */
typedef struct {
  nb_server *s;
  nb_time_ms now;
  size_t count;
  struct stale_obs {
    char ep[NB_SERVER_EP_MAX];
    uint64_t id;
  } * stale;
  size_t nstale, cap;
} obs_restore_ctx;

static void note_stale_obs(obs_restore_ctx *c, const nb_server_obs_info *o) {
  if (c->nstale == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    void *p = realloc(c->stale, cap * sizeof(*c->stale));
    if (!p) return; /* stays in the store; retried on the next restart */
    c->stale = p;
    c->cap = cap;
  }
  snprintf(c->stale[c->nstale].ep, NB_SERVER_EP_MAX, "%s", o->ep);
  c->stale[c->nstale++].id = o->id;
}

/* Parses "/3/0/9,/3/0/8" into a new array. */
static nb_err parse_paths(const char *text, nb_path **out, size_t *n) {
  size_t cap = 1;
  for (const char *p = text; *p; p++) cap += *p == ',';
  nb_path *v = calloc(cap, sizeof(*v));
  if (!v) return NB_ERR_NOMEM;
  size_t k = 0;
  for (const char *p = text;;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (nb_path_parse_n(p, len, &v[k]) != NB_OK || !nb_path_is_valid(&v[k])) {
      free(v);
      return NB_ERR_INVAL;
    }
    k++;
    if (!end) break;
    p = end + 1;
  }
  *out = v;
  *n = k;
  return NB_OK;
}

/* Rebuilds the observation as it stood (same id, token and request) and hands it to the CoAP
 * layer, so the device's next notification is accepted instead of answered with RST. */
static nb_err adopt_one(nb_server *s, reg *r, const nb_server_obs_info *o, nb_time_ms now) {
  if (!o->token_len) return NB_ERR_INVAL; /* saved before tokens were kept */
  nb_path *paths = NULL;
  size_t npaths = 0;
  nb_err rc = parse_paths(o->paths, &paths, &npaths);
  if (rc != NB_OK) return rc;
  nb_server_request in = {.op = o->composite ? NB_SOP_OBSERVE_COMPOSITE : NB_SOP_OBSERVE,
                          .path = paths[0],
                          .paths = paths,
                          .path_count = npaths,
                          .has_format = true,
                          .format = o->format,
                          .actor = "restore"};
  sreq *q = nb_srvi_req_new(s, r, &in, o->id, RQ_OBSERVING, NULL, NULL);
  if (!q) rc = NB_ERR_NOMEM;
  if (rc == NB_OK) rc = nb_srvi_req_copy_paths(q, &in);
  if (rc == NB_OK) rc = nb_srvi_req_build(s, q, &in);
  free(paths);
  nb_coap_msg m;
  if (rc == NB_OK) rc = nb_srvi_req_message(q, &m);
  if (rc == NB_OK) {
    memcpy(q->token, o->token, o->token_len);
    q->token_len = o->token_len;
    rc = nb_coap_ep_adopt_observation(s->ep, &r->info.addr, &m, q->token, q->token_len, true,
                                      nb_srvi_on_coap_response, q, now, &q->coap_id);
  }
  if (rc != NB_OK) {
    if (q) nb_srvi_req_free(s, q);
    return rc;
  }
  if (o->id > s->next_req_id) s->next_req_id = o->id;
  return NB_OK;
}

static nb_err restore_obs(void *user, const nb_server_obs_info *o) {
  obs_restore_ctx *c = user;
  nb_server *s = c->s;
  reg *r = nb_srvi_find_ep(s, o->ep);
  if (r && nb_srvi_find_req(s, o->id)) return NB_OK; /* already held (restored twice) */
  nb_err rc = r ? adopt_one(s, r, o, c->now) : NB_ERR_NOT_FOUND;
  if (rc == NB_ERR_NOMEM) return rc;
  if (rc != NB_OK) {
    NB_LOG_INFO(NB_SRV_LOG, "event=observation_dropped ep=%s id=%llu reason=%s", o->ep,
                (unsigned long long)o->id, nb_strerror(rc));
    note_stale_obs(c, o);
    return NB_OK;
  }
  c->count++;
  return NB_OK;
}

static nb_err restore_observations(nb_server *s, nb_time_ms now, size_t *count) {
  obs_restore_ctx c = {s, now, 0, NULL, 0, 0};
  nb_err rc = s->cfg.store.ops->obs_each(s->cfg.store.self, restore_obs, &c);
  for (size_t i = 0; i < c.nstale; i++)
    s->cfg.store.ops->obs_del(s->cfg.store.self, c.stale[i].ep, c.stale[i].id);
  free(c.stale);
  *count = c.count;
  return rc;
}

nb_err nb_server_restore(nb_server *s, nb_time_ms now, size_t *count) {
  restore_ctx c = {s, now, 0, 0, NULL, 0, 0};
  nb_err rc =
      s->cfg.store.ops ? s->cfg.store.ops->reg_each(s->cfg.store.self, restore_one, &c) : NB_OK;
  for (size_t i = 0; i < c.nstale; i++) {
    s->cfg.store.ops->reg_del(s->cfg.store.self, c.stale[i]);
    s->cfg.store.ops->obs_del_ep(s->cfg.store.self, c.stale[i]);
  }
  free(c.stale);
  size_t nobs = 0;
  if (rc == NB_OK && s->cfg.store.ops) rc = restore_observations(s, now, &nobs);
  if (count) *count = c.count;
  if (c.count || nobs)
    NB_LOG_INFO(NB_SRV_LOG,
                "event=restored registrations=%zu observations=%zu unreachable_until_heard=%zu",
                c.count, nobs, c.unheard);
  return rc;
}
