/* The fleet simulator's REST client: provisioning, approvals and the operator's observes. */
#include "sim/rest.h"

#include <gnutls/crypto.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hex.h"
#include "base/log.h"
#include "io/http_client.h"

#define NB_SIM_REST_LOG "sim"
#define NB_SIM_POLL_MS 500
#define NB_SIM_URL_MAX 512

typedef enum {
  NB_SIM_JOB_CREDENTIAL, /* POST /api/security/clients */
  NB_SIM_JOB_EXPECTED,   /* PUT /api/bootstrap/expected/{ep} */
  NB_SIM_JOB_BS_CONFIG,  /* PUT /api/bootstrap/configs/{ep} */
  NB_SIM_JOB_APPROVE,    /* POST /api/bootstrap/pending/{ep}/approve */
  NB_SIM_JOB_ATTRS,      /* PUT /api/clients/{ep}/{path}/attributes?... */
  NB_SIM_JOB_OBSERVE,    /* POST /api/clients/{ep}/{path}/observe */
  NB_SIM_JOB_PENDING     /* GET /api/bootstrap/pending, every page */
} nb_sim_job_kind;

typedef struct {
  uint32_t dev;
  uint8_t kind;
  bool last;  /* provisioning: the device's last request */
  char *body; /* JSON, owned; may hold a key (wiped when freed) */
  char *next; /* PENDING: the URL of a page after the first (the answer's Link rel="next") */
} nb_sim_job;

typedef struct {
  nb_sim_rest *r;
  nb_sim_job job;
} nb_sim_call;

struct nb_sim_rest {
  nb_sim_rest_config cfg;
  char api[NB_SIM_URL_MAX / 2], token[256], attrs[128], format[32];
  uv_loop_t *loop;
  nb_http_client *http;
  nb_sim_fleet *fleet;
  nb_sim_job *q; /* ring */
  size_t qhead, qlen, qcap;
  unsigned inflight;
  uv_timer_t poll;
  bool poll_on, polling, closing;
  uint8_t *approving; /* a bit per device: its approval was asked */
  nb_sim_rest_stats st;
};

/* ---- the queue ---- */

static nb_err nb_sim_rest_push(nb_sim_rest *r, nb_sim_job j) {
  if (r->qlen == r->qcap) {
    size_t nc = r->qcap ? r->qcap * 2 : 64;
    nb_sim_job *q = malloc(nc * sizeof *q);
    if (!q) return NB_ERR_NOMEM;
    for (size_t i = 0; i < r->qlen; i++) q[i] = r->q[(r->qhead + i) % r->qcap];
    free(r->q);
    r->q = q;
    r->qhead = 0;
    r->qcap = nc;
  }
  r->q[(r->qhead + r->qlen++) % r->qcap] = j;
  return NB_OK;
}

static void nb_sim_job_free(nb_sim_job *j) {
  free(j->next);
  j->next = NULL;
  if (!j->body) return;
  gnutls_memset(j->body, 0, strlen(j->body));
  free(j->body);
  j->body = NULL;
}

/* ---- requests ---- */

static void nb_sim_rest_pump(nb_sim_rest *r);
static void nb_sim_rest_send(nb_sim_rest *r, nb_sim_job j);

static bool nb_sim_rest_ep(nb_sim_rest *r, uint32_t dev, char *esc, size_t cap) {
  char ep[64];
  nb_sim_fleet_endpoint(r->fleet, dev, ep, sizeof ep);
  return nb_http_url_escape(ep, esc, cap) == NB_OK;
}

static bool nb_sim_rest_url(nb_sim_rest *r, const nb_sim_job *j, char *url, size_t cap) {
  char ep[192], path[NB_PATH_STRLEN];
  if (j->kind != NB_SIM_JOB_PENDING && !nb_sim_rest_ep(r, j->dev, ep, sizeof ep)) return false;
  nb_path_format(&r->cfg.observe, path, sizeof path);
  int n = -1;
  switch ((nb_sim_job_kind)j->kind) {
    case NB_SIM_JOB_CREDENTIAL:
      n = snprintf(url, cap, "%s/api/security/clients", r->api);
      break;
    case NB_SIM_JOB_EXPECTED:
      n = snprintf(url, cap, "%s/api/bootstrap/expected/%s", r->api, ep);
      break;
    case NB_SIM_JOB_BS_CONFIG:
      n = snprintf(url, cap, "%s/api/bootstrap/configs/%s", r->api, ep);
      break;
    case NB_SIM_JOB_APPROVE:
      n = snprintf(url, cap, "%s/api/bootstrap/pending/%s/approve", r->api, ep);
      break;
    case NB_SIM_JOB_ATTRS:
      n = snprintf(url, cap, "%s/api/clients/%s%s/attributes?%s", r->api, ep, path, r->attrs);
      break;
    case NB_SIM_JOB_OBSERVE:
      n = snprintf(url, cap, "%s/api/clients/%s%s/observe%s%s", r->api, ep, path,
                   r->format[0] ? "?format=" : "", r->format);
      break;
    case NB_SIM_JOB_PENDING: /* the largest pages the API gives, then its next links */
      n = j->next ? snprintf(url, cap, "%s", j->next)
                  : snprintf(url, cap, "%s/api/bootstrap/pending?limit=1000", r->api);
      break;
  }
  return n > 0 && (size_t)n < cap;
}

static const char *nb_sim_job_method(const nb_sim_job *j) {
  switch ((nb_sim_job_kind)j->kind) {
    case NB_SIM_JOB_EXPECTED:
    case NB_SIM_JOB_BS_CONFIG:
    case NB_SIM_JOB_ATTRS:
      return "PUT";
    case NB_SIM_JOB_PENDING:
      return "GET";
    default:
      return "POST";
  }
}

static bool nb_sim_job_provisions(const nb_sim_job *j) {
  return j->kind == NB_SIM_JOB_CREDENTIAL || j->kind == NB_SIM_JOB_EXPECTED ||
         j->kind == NB_SIM_JOB_BS_CONFIG;
}

/* The fleet's endpoints in a GET /api/bootstrap/pending answer get their approval asked. */
static void nb_sim_rest_pending_answer(nb_sim_rest *r, const char *body) {
  json_t *a = json_loads(body, 0, NULL);
  size_t i;
  json_t *it;
  json_array_foreach(a, i, it) {
    const char *ep = json_string_value(json_object_get(it, "endpoint"));
    uint32_t dev;
    if (!ep || !nb_sim_fleet_device_of(r->fleet, ep, &dev)) continue;
    if (r->approving[dev / 8] & (1u << (dev % 8))) continue;
    r->approving[dev / 8] |= (uint8_t)(1u << (dev % 8));
    nb_sim_rest_push(r, (nb_sim_job){.dev = dev, .kind = NB_SIM_JOB_APPROVE});
  }
  json_decref(a);
}

/* A job ended (answered, failed, or never sent): what follows from it. */
static void nb_sim_rest_finish(nb_sim_rest *r, nb_sim_job *j, bool ok, long status, nb_err err,
                               const char *body, const char *next) {
  if (ok) {
    r->st.ok++;
  } else {
    r->st.failed++;
    r->st.last_status = status;
    char ep[64] = "-";
    if (j->kind != NB_SIM_JOB_PENDING) nb_sim_fleet_endpoint(r->fleet, j->dev, ep, sizeof ep);
    NB_LOG_WARN(NB_SIM_REST_LOG, "event=rest-failed ep=%s method=%s status=%ld err=%s", ep,
                nb_sim_job_method(j), status, err ? nb_err_name(err) : "-");
  }
  nb_time_ms now = (nb_time_ms)uv_now(r->loop);
  if (nb_sim_job_provisions(j) && !r->closing && (!ok || j->last)) {
    if (ok) r->st.provisioned++;
    nb_sim_fleet_provisioned(r->fleet, j->dev, ok ? NB_OK : NB_ERR_IO, now);
  } else if (j->kind == NB_SIM_JOB_APPROVE) {
    r->st.approved += ok;
    /* asked again at the next poll if it is still (or again) pending */
    if (r->approving) r->approving[j->dev / 8] &= (uint8_t) ~(1u << (j->dev % 8));
  } else if (j->kind == NB_SIM_JOB_ATTRS && ok && !r->closing) {
    nb_sim_rest_push(r, (nb_sim_job){.dev = j->dev, .kind = NB_SIM_JOB_OBSERVE});
  } else if (j->kind == NB_SIM_JOB_OBSERVE && ok) {
    r->st.observed++;
  } else if (j->kind == NB_SIM_JOB_PENDING) {
    r->polling = false;
    if (ok && !r->closing && body) nb_sim_rest_pending_answer(r, body);
    char *more = ok && !r->closing && next ? strdup(next) : NULL;
    if (more) { /* this poll goes on with the next page */
      r->polling = true;
      nb_sim_rest_send(r, (nb_sim_job){.kind = NB_SIM_JOB_PENDING, .next = more});
    }
  }
  nb_sim_job_free(j);
}

static void nb_sim_rest_done(void *user, const nb_http_response *res) {
  nb_sim_call *call = user;
  nb_sim_rest *r = call->r;
  r->inflight--;
  bool ok = res->err == NB_OK && res->status >= 200 && res->status < 300;
  nb_sim_rest_finish(r, &call->job, ok, res->status, res->err, res->body, res->next);
  free(call);
  if (!r->closing) nb_sim_rest_pump(r);
}

/* Sends one job; one that cannot even leave is finished as failed at once. */
static void nb_sim_rest_send(nb_sim_rest *r, nb_sim_job j) {
  char url[NB_SIM_URL_MAX];
  nb_sim_call *call = malloc(sizeof *call);
  nb_http_request req = {.method = nb_sim_job_method(&j),
                         .url = url,
                         .bearer_token = r->token[0] ? r->token : NULL,
                         .body = j.body,
                         .body_len = j.body ? strlen(j.body) : 0,
                         .timeout_ms = 60000};
  nb_err e = !call                                     ? NB_ERR_NOMEM
             : nb_sim_rest_url(r, &j, url, sizeof url) ? NB_OK
                                                       : NB_ERR_OVERFLOW;
  if (e == NB_OK) {
    call->r = r;
    call->job = j;
    r->inflight++;
    r->st.sent++;
    e = nb_http_client_request(r->http, &req, nb_sim_rest_done, call);
    if (e == NB_OK) return; /* its callback runs, even on failure */
    r->inflight--;
  }
  free(call);
  nb_sim_rest_finish(r, &j, false, 0, e, NULL, NULL);
}

static void nb_sim_rest_pump(nb_sim_rest *r) {
  unsigned limit = r->cfg.concurrency ? r->cfg.concurrency : 32;
  while (r->qlen > 0 && r->inflight < limit) {
    nb_sim_job j = r->q[r->qhead];
    r->qhead = (r->qhead + 1) % r->qcap;
    r->qlen--;
    nb_sim_rest_send(r, j);
  }
}

/* ---- provisioning ---- */

static char *nb_sim_json(json_t *j) {
  char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  return s;
}

/* The credential a server must hold: POST /api/security/clients. */
static char *nb_sim_cred_body(const nb_sim_cred *c) {
  json_t *j = json_pack("{s:s,s:s}", "endpoint", c->ep, "mode", nb_sim_security_name(c->mode));
  if (!j) return NULL;
  if (c->mode == NB_SIM_PSK) {
    char *hex = malloc(c->key_len * 2 + 1);
    if (!hex) {
      json_decref(j);
      return NULL;
    }
    nb_hex_encode(c->key, c->key_len, hex);
    json_object_set_new(j, "identity", json_string(c->identity));
    json_object_set_new(j, "key", json_string(hex));
    gnutls_memset(hex, 0, c->key_len * 2);
    free(hex);
  } else if (c->mode == NB_SIM_RPK) {
    char *hex = malloc(c->spki_len * 2 + 1);
    if (hex)
      json_object_set_new(j, "publicKey", json_string(nb_hex_encode(c->spki, c->spki_len, hex)));
    free(hex);
  } else if (c->mode == NB_SIM_X509) {
    json_object_set_new(j, "identity", json_string(c->identity));
  }
  char *s = json_dumps(j, JSON_COMPACT);
  /* jansson keeps its own copy of the key string: wipe it before it goes */
  json_t *key = json_object_get(j, "key");
  if (key) gnutls_memset((void *)json_string_value(key), 0, json_string_length(key));
  json_decref(j);
  return s;
}

/* A bootstrap config naming the management server: PUT /api/bootstrap/configs/{ep}. */
static char *nb_sim_config_body(const nb_sim_rest *r) {
  const nb_sim_rest_config *c = &r->cfg;
  return nb_sim_json(json_pack("{s:[{s:s,s:i,s:i,s:s,s:s}]}", "servers", "uri", c->bs_server_uri,
                               "ssid", c->bs_ssid ? c->bs_ssid : 101, "lifetime",
                               (int)(c->bs_lifetime ? c->bs_lifetime : 300), "binding",
                               c->bs_binding ? c->bs_binding : "U", "security",
                               nb_sim_security_name(c->bs_server_security)));
}

static nb_err nb_sim_rest_queue(nb_sim_rest *r, uint32_t dev, nb_sim_job_kind kind, char *body,
                                bool last) {
  if (!body && kind != NB_SIM_JOB_APPROVE) return NB_ERR_NOMEM;
  nb_err e = nb_sim_rest_push(
      r, (nb_sim_job){.dev = dev, .kind = (uint8_t)kind, .last = last, .body = body});
  if (e != NB_OK) {
    nb_sim_job tmp = {.body = body};
    nb_sim_job_free(&tmp);
  }
  return e;
}

nb_err nb_sim_rest_provision(void *user, nb_sim_fleet *f, const nb_sim_cred *cred) {
  nb_sim_rest *r = user;
  (void)f;
  nb_err e = NB_OK;
  bool config = cred->bootstrap && r->cfg.bs_server_uri;
  if (!cred->bootstrap && cred->mode != NB_SIM_NOSEC) {
    e = nb_sim_rest_queue(r, cred->dev, NB_SIM_JOB_CREDENTIAL, nb_sim_cred_body(cred), true);
  } else if (cred->bootstrap && cred->mode == NB_SIM_PSK) {
    return NB_ERR_UNSUPPORTED; /* the API takes no bootstrap PSKs: see docs/sim.md */
  } else if (cred->bootstrap && cred->mode != NB_SIM_NOSEC) {
    e = nb_sim_rest_queue(r, cred->dev, NB_SIM_JOB_EXPECTED,
                          nb_sim_json(json_pack("{s:s}", "secureId", cred->secure_id)), !config);
  } else if (!config) {
    nb_sim_fleet_provisioned(r->fleet, cred->dev, NB_OK, (nb_time_ms)uv_now(r->loop));
    return NB_OK; /* nothing to install */
  }
  if (e == NB_OK && config)
    e = nb_sim_rest_queue(r, cred->dev, NB_SIM_JOB_BS_CONFIG, nb_sim_config_body(r), true);
  if (e == NB_OK) nb_sim_rest_pump(r);
  return e;
}

/* ---- the operator ---- */

void nb_sim_rest_event(nb_sim_rest *r, uint32_t dev, nb_sim_event ev) {
  if (ev != NB_SIM_EV_REGISTERED || r->closing || r->cfg.observe.len == 0 ||
      !r->cfg.observe_every || dev % r->cfg.observe_every != 0)
    return;
  nb_sim_rest_push(
      r, (nb_sim_job){.dev = dev, .kind = r->attrs[0] ? NB_SIM_JOB_ATTRS : NB_SIM_JOB_OBSERVE});
  nb_sim_rest_pump(r);
}

static void nb_sim_rest_on_poll(uv_timer_t *t) {
  nb_sim_rest *r = t->data;
  if (r->polling || r->closing || !r->fleet) return;
  r->polling = true;
  nb_sim_rest_send(r, (nb_sim_job){.kind = NB_SIM_JOB_PENDING});
}

/* ---- lifecycle ---- */

nb_err nb_sim_rest_new(uv_loop_t *loop, const nb_sim_rest_config *cfg, nb_sim_rest **out) {
  nb_sim_rest *r = calloc(1, sizeof *r);
  if (!r) return NB_ERR_NOMEM;
  r->cfg = *cfg;
  r->loop = loop;
  size_t n = strlen(cfg->api);
  while (n > 0 && cfg->api[n - 1] == '/') n--;
  if (n == 0 || n >= sizeof r->api || (cfg->token && strlen(cfg->token) >= sizeof r->token) ||
      (cfg->observe_attrs && strlen(cfg->observe_attrs) >= sizeof r->attrs) ||
      (cfg->observe_format && strlen(cfg->observe_format) >= sizeof r->format)) {
    free(r);
    return NB_ERR_INVAL;
  }
  memcpy(r->api, cfg->api, n);
  snprintf(r->token, sizeof r->token, "%s", cfg->token ? cfg->token : "");
  snprintf(r->attrs, sizeof r->attrs, "%s", cfg->observe_attrs ? cfg->observe_attrs : "");
  snprintf(r->format, sizeof r->format, "%s", cfg->observe_format ? cfg->observe_format : "");
  r->cfg.token = NULL; /* only the copy, wiped at free */
  nb_err e = nb_http_client_new(loop, 4096, &r->http);
  if (e != NB_OK) {
    free(r);
    return e;
  }
  uv_timer_init(loop, &r->poll);
  r->poll.data = r;
  r->poll_on = true;
  *out = r;
  return NB_OK;
}

void nb_sim_rest_attach(nb_sim_rest *r, nb_sim_fleet *f) {
  r->fleet = f;
  if (!r->cfg.approve) return;
  r->approving = calloc((nb_sim_fleet_size(f) + 7) / 8, 1);
  if (r->approving) uv_timer_start(&r->poll, nb_sim_rest_on_poll, NB_SIM_POLL_MS, NB_SIM_POLL_MS);
}

static void nb_sim_rest_closed(uv_handle_t *h) { free(h->data); }

void nb_sim_rest_free(nb_sim_rest *r) {
  if (!r) return;
  r->closing = true;
  nb_http_client_free(r->http); /* callbacks run (cancelled): their jobs are freed */
  while (r->qlen > 0) {
    nb_sim_job_free(&r->q[r->qhead]);
    r->qhead = (r->qhead + 1) % r->qcap;
    r->qlen--;
  }
  free(r->q);
  free(r->approving);
  gnutls_memset(r->token, 0, sizeof r->token);
  uv_close((uv_handle_t *)&r->poll, nb_sim_rest_closed);
}

void nb_sim_rest_get_stats(const nb_sim_rest *r, nb_sim_rest_stats *out) { *out = r->st; }

size_t nb_sim_rest_pending(const nb_sim_rest *r) { return r->qlen + r->inflight; }
