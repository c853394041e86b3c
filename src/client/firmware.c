/* Firmware Update (object 5): the package pushed by a Write of /5/0/0 (the CoAP layer reassembles
 * Block1) or pulled from the Package URI /5/0/1 with a GET (Block2 reassembled by the layer),
 * the state machine Idle -> Downloading -> Downloaded -> Updating and the Update Result. Owns
 * the package bytes and the download request. */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "client/client_int.h"

#define NB_FW_MAX_DEFAULT ((size_t)1024 * 1024)
#define NB_FW_URI_MAX 256

typedef struct nb_fw {
  nb_object obj;
  nb_client *c;
  nb_client_firmware_config cfg;
  char *name, *version;
  nb_fw_state state;
  nb_fw_result result;
  char uri[NB_FW_URI_MAX];
  uint8_t *pkg;
  size_t len;
  nb_coap_req_id req;
  nb_addr req_peer;             /* where req went: its answers are let in (engine.c) */
  nb_time_ms download_deadline; /* Downloading: give up then */
  bool install_due;             /* Updating: apply at the next tick */
} nb_fw;

static char *nb_fw_strdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* Moves to state/result and tells observers of both resources. */
static void nb_fw_set(nb_fw *f, nb_fw_state st, nb_fw_result res, nb_time_ms now) {
  bool st_changed = f->state != st, res_changed = f->result != res;
  f->state = st;
  f->result = res;
  NB_LOG_INFO(NB_CLIENT_LOG, "event=firmware state=%d result=%d", (int)st, (int)res);
  nb_path p3 = nb_path_res(5, 0, 3), p5 = nb_path_res(5, 0, 5);
  if (st_changed) nb_client_value_changed(f->c, &p3, now);
  if (res_changed) nb_client_value_changed(f->c, &p5, now);
}

static void nb_fw_drop_package(nb_fw *f) {
  free(f->pkg);
  f->pkg = NULL;
  f->len = 0;
}

static void nb_fw_cancel_download(nb_fw *f, nb_time_ms now) {
  nb_coap_req_id id = f->req;
  f->req = 0;
  if (id) nb_coap_ep_cancel(f->c->ep, id, false, now);
}

static nb_err nb_fw_take(nb_fw *f, const uint8_t *data, size_t len, nb_time_ms now) {
  if (len > f->cfg.max_size) {
    nb_fw_drop_package(f);
    nb_fw_set(f, NB_FW_STATE_IDLE, NB_FW_RESULT_NO_STORAGE, now);
    return NB_OK;
  }
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) {
    nb_fw_set(f, NB_FW_STATE_IDLE, NB_FW_RESULT_NO_MEMORY, now);
    return NB_OK;
  }
  memcpy(copy, data, len);
  nb_fw_drop_package(f);
  f->pkg = copy;
  f->len = len;
  nb_fw_set(f, NB_FW_STATE_DOWNLOADED, NB_FW_RESULT_INITIAL, now);
  return NB_OK;
}

/* ---- pull ---- */

static void nb_fw_download_cb(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                              nb_time_ms now) {
  nb_fw *f = user;
  (void)last;
  if (err == NB_ERR_CANCELLED) return;
  f->req = 0;
  if (err == NB_ERR_COAP_TOO_LARGE) {
    nb_fw_set(f, NB_FW_STATE_IDLE, NB_FW_RESULT_NO_STORAGE, now);
  } else if (err == NB_OK &&
             (resp->code == NB_COAP_NOT_FOUND || resp->code == NB_COAP_BAD_REQUEST)) {
    nb_fw_set(f, NB_FW_STATE_IDLE, NB_FW_RESULT_INVALID_URI, now);
  } else if (err != NB_OK || resp->code != NB_COAP_CONTENT) {
    nb_fw_set(f, NB_FW_STATE_IDLE, NB_FW_RESULT_CONNECTION_LOST, now);
  } else {
    nb_fw_take(f, resp->payload, resp->payload_len, now);
  }
}

/* Adds the Uri-Path and Uri-Query options of the part of a URI after its authority. */
static nb_err nb_fw_add_target(nb_coap_msg *m, const char *rest) {
  char buf[NB_FW_URI_MAX];
  size_t pl = strcspn(rest, "?#");
  if (pl >= sizeof buf) return NB_ERR_SYNTAX;
  memcpy(buf, rest, pl);
  buf[pl] = 0;
  nb_err e = nb_coap_msg_add_path(m, NB_COAP_OPT_URI_PATH, buf[0] ? buf : "/");
  const char *q = rest[pl] == '?' ? rest + pl + 1 : NULL;
  while (e == NB_OK && q && *q && *q != '#') {
    size_t ql = strcspn(q, "&#");
    memcpy(buf, q, ql);
    buf[ql] = 0;
    if (ql) e = nb_coap_msg_add_query(m, NB_COAP_OPT_URI_QUERY, buf);
    q += ql;
    if (*q == '&') q++;
  }
  return e;
}

/* Starts the GET of the Package URI; a URI that cannot be used ends in Idle with its result. */
static void nb_fw_pull(nb_fw *f, nb_time_ms now) {
  bool coap = strncmp(f->uri, "coap://", 7) == 0 || strncmp(f->uri, "coaps://", 8) == 0;
  if (!coap) {
    bool has_scheme = strstr(f->uri, "://") != NULL;
    nb_fw_set(f, NB_FW_STATE_IDLE,
              has_scheme ? NB_FW_RESULT_UNSUPPORTED_PROTOCOL : NB_FW_RESULT_INVALID_URI, now);
    return;
  }
  nb_addr peer;
  const char *auth = strstr(f->uri, "://") + 3;
  const char *rest = auth + strcspn(auth, "/?#");
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_GET, 0);
  nb_err e = *auth == 0 || *auth == '/' ? NB_ERR_SYNTAX
                                        : nb_client_resolve_uri(f->c, f->uri, &peer, NULL, 0);
  if (e == NB_OK) e = nb_fw_add_target(&m, rest);
  if (e != NB_OK) {
    nb_fw_set(f, NB_FW_STATE_IDLE, NB_FW_RESULT_INVALID_URI, now);
    return;
  }
  nb_fw_drop_package(f);
  nb_fw_set(f, NB_FW_STATE_DOWNLOADING, NB_FW_RESULT_INITIAL, now);
  f->download_deadline = now + f->cfg.download_timeout;
  f->req_peer = peer;
  e = nb_coap_ep_request(f->c->ep, &peer, &m, true, nb_fw_download_cb, f, now, &f->req);
  if (e != NB_OK) {
    f->req = 0;
    nb_fw_set(f, NB_FW_STATE_IDLE, NB_FW_RESULT_CONNECTION_LOST, now);
  }
}

void nb_fw_tick(nb_client *c, nb_time_ms now) {
  nb_fw *f = c->fw;
  if (!f) return;
  if (f->state == NB_FW_STATE_DOWNLOADING && f->req && now >= f->download_deadline) {
    nb_fw_cancel_download(f, now);
    nb_fw_set(f, NB_FW_STATE_IDLE, NB_FW_RESULT_CONNECTION_LOST, now);
  }
  if (f->install_due) {
    f->install_due = false;
    nb_err e = f->cfg.apply(f->cfg.user, f->pkg, f->len, now);
    nb_fw_result r = e == NB_OK                ? NB_FW_RESULT_SUCCESS
                     : e == NB_ERR_INVAL       ? NB_FW_RESULT_INTEGRITY
                     : e == NB_ERR_UNSUPPORTED ? NB_FW_RESULT_UNSUPPORTED_TYPE
                                               : NB_FW_RESULT_FAILED;
    /* After a failed install the package stays: the server may Execute again. */
    if (e == NB_OK) nb_fw_drop_package(f);
    nb_fw_set(f, e == NB_OK ? NB_FW_STATE_IDLE : NB_FW_STATE_DOWNLOADED, r, now);
  }
}

bool nb_fw_download_peer(const nb_client *c, const nb_addr *peer) {
  return c->fw && c->fw->req && nb_addr_equal(&c->fw->req_peer, peer);
}

nb_time_ms nb_fw_deadline(const nb_client *c) {
  const nb_fw *f = c->fw;
  if (!f) return NB_TIME_NEVER;
  if (f->install_due) return c->now;
  if (f->state == NB_FW_STATE_DOWNLOADING && f->req) return f->download_deadline;
  return NB_TIME_NEVER;
}

/* ---- object handlers ---- */

static nb_fw *nb_fw_of(nb_object *o) { return o->user; }

static size_t nb_fw_instances(nb_object *o, uint16_t *ids, size_t cap) {
  (void)o;
  if (cap) ids[0] = 0;
  return 1;
}

static nb_err nb_fw_resources(nb_object *o, uint16_t inst, uint16_t *ids, size_t cap, size_t *n) {
  nb_fw *f = nb_fw_of(o);
  if (inst != 0) return NB_ERR_NOT_FOUND;
  static const uint16_t all[] = {0, 1, 2, 3, 5, 6, 7, 8, 9};
  size_t k = 0;
  for (size_t i = 0; i < sizeof all / sizeof all[0] && k < cap; i++) {
    if ((all[i] == 6 && !f->name) || (all[i] == 7 && !f->version)) continue;
    ids[k++] = all[i];
  }
  *n = k;
  return NB_OK;
}

static nb_err nb_fw_add(nb_records *out, uint16_t r, int ri, nb_value v) {
  nb_path p = ri < 0 ? nb_path_res(5, 0, r) : nb_path_rinst(5, 0, r, (uint16_t)ri);
  nb_err e = nb_records_add(out, &p, &v);
  if (e != NB_OK) nb_value_deinit(&v);
  return e;
}

static nb_err nb_fw_add_str(nb_records *out, uint16_t r, const char *s) {
  nb_value v = nb_value_none();
  nb_err e = nb_value_set_string(&v, s, strlen(s));
  return e == NB_OK ? nb_fw_add(out, r, -1, v) : e;
}

static nb_err nb_fw_read(nb_object *o, uint16_t inst, uint16_t res, nb_records *out,
                         nb_time_ms now) {
  nb_fw *f = nb_fw_of(o);
  (void)now;
  if (inst != 0) return NB_ERR_NOT_FOUND;
  switch (res) {
    case 1:
      return nb_fw_add_str(out, 1, f->uri);
    case 3:
      return nb_fw_add(out, 3, -1, nb_value_int(f->state));
    case 5:
      return nb_fw_add(out, 5, -1, nb_value_int(f->result));
    case 6:
      return f->name ? nb_fw_add_str(out, 6, f->name) : NB_ERR_NOT_FOUND;
    case 7:
      return f->version ? nb_fw_add_str(out, 7, f->version) : NB_ERR_NOT_FOUND;
    case 8: { /* protocols: 0 CoAP, 1 CoAPS */
      nb_err e = nb_fw_add(out, 8, 0, nb_value_int(0));
      return e == NB_OK ? nb_fw_add(out, 8, 1, nb_value_int(1)) : e;
    }
    case 9:
      return nb_fw_add(out, 9, -1, nb_value_int(2)); /* pull and push */
    case 0:
    case 2:
      return NB_ERR_UNSUPPORTED;
    default:
      return NB_ERR_NOT_FOUND;
  }
}

static nb_err nb_fw_write(nb_object *o, uint16_t inst, uint16_t res, const nb_record *recs,
                          size_t n, bool replace, nb_time_ms now) {
  nb_fw *f = nb_fw_of(o);
  (void)replace;
  if (inst != 0) return NB_ERR_NOT_FOUND;
  if (res != 0 && res != 1) return NB_ERR_UNSUPPORTED;
  if (n == 0) return NB_ERR_UNSUPPORTED; /* a Write-replace of /5/0 keeps what it leaves out */
  if (n != 1) return NB_ERR_INVAL;
  const nb_value *v = &recs[0].value;
  if (f->state == NB_FW_STATE_UPDATING) return NB_ERR_INVAL;
  bool empty = v->type == NB_VT_NONE ||
               ((v->type == NB_VT_OPAQUE || v->type == NB_VT_STRING) && v->v.bytes.len == 0);
  if (!empty && v->type != (res == 0 ? NB_VT_OPAQUE : NB_VT_STRING)) return NB_ERR_INVAL;
  if (empty) { /* an empty package or URI resets the state machine (and ends a download) */
    nb_fw_cancel_download(f, now);
    nb_fw_drop_package(f);
    if (res == 1) f->uri[0] = 0;
    nb_fw_set(f, NB_FW_STATE_IDLE, NB_FW_RESULT_INITIAL, now);
    return NB_OK;
  }
  if (f->state == NB_FW_STATE_DOWNLOADING) return NB_ERR_INVAL; /* one download at a time */
  if (res == 0) return nb_fw_take(f, v->v.bytes.data, v->v.bytes.len, now);
  if (v->v.bytes.len >= sizeof f->uri) {
    nb_fw_set(f, NB_FW_STATE_IDLE, NB_FW_RESULT_INVALID_URI, now);
    return NB_OK;
  }
  memcpy(f->uri, v->v.bytes.data, v->v.bytes.len + 1);
  nb_fw_pull(f, now);
  return NB_OK;
}

static nb_err nb_fw_execute(nb_object *o, uint16_t inst, uint16_t res, const uint8_t *args,
                            size_t len, nb_time_ms now) {
  nb_fw *f = nb_fw_of(o);
  (void)args;
  (void)len;
  if (inst != 0) return NB_ERR_NOT_FOUND;
  if (res != 2) return NB_ERR_UNSUPPORTED;
  if (f->state != NB_FW_STATE_DOWNLOADED) return NB_ERR_INVAL; /* nothing to install */
  nb_fw_set(f, NB_FW_STATE_UPDATING, f->result, now);
  f->install_due = true;
  return NB_OK;
}

static nb_err nb_fw_create(nb_object *o, uint16_t inst) {
  (void)o;
  (void)inst;
  return NB_ERR_UNSUPPORTED;
}

static nb_err nb_fw_remove(nb_object *o, uint16_t inst) {
  (void)o;
  (void)inst;
  return NB_ERR_UNSUPPORTED;
}

static void nb_fw_destroy(nb_object *o) {
  nb_fw *f = nb_fw_of(o);
  if (f->c && f->c->fw == f) f->c->fw = NULL;
  free(f->pkg);
  free(f->name);
  free(f->version);
  free(f);
}

static const nb_object_ops nb_fw_ops = {nb_fw_instances, nb_fw_resources, nb_fw_read,
                                        nb_fw_write,     nb_fw_execute,   nb_fw_create,
                                        nb_fw_remove,    nb_fw_destroy};

nb_err nb_client_add_firmware(nb_client *c, const nb_client_firmware_config *cfg) {
  if (!cfg || !cfg->apply) return NB_ERR_INVAL;
  const nb_object_def *def = nb_model_object(c->model, 5);
  if (!def) return NB_ERR_NOT_FOUND;
  if (c->fw) return NB_ERR_EXISTS;
  nb_fw *f = calloc(1, sizeof *f);
  if (!f) return NB_ERR_NOMEM;
  f->obj.def = def;
  f->obj.ops = &nb_fw_ops;
  f->obj.user = f;
  f->c = c;
  f->cfg = *cfg;
  if (!f->cfg.max_size) f->cfg.max_size = NB_FW_MAX_DEFAULT;
  if (!f->cfg.download_timeout) f->cfg.download_timeout = 300000;
  f->name = nb_fw_strdup(cfg->pkg_name);
  f->version = nb_fw_strdup(cfg->pkg_version);
  f->cfg.pkg_name = f->cfg.pkg_version = NULL;
  if ((cfg->pkg_name && !f->name) || (cfg->pkg_version && !f->version)) {
    nb_fw_destroy(&f->obj);
    return NB_ERR_NOMEM;
  }
  nb_err e = nb_client_add_object(c, &f->obj, c->now);
  if (e == NB_OK) c->fw = f;
  return e;
}

nb_err nb_client_firmware_status(const nb_client *c, nb_fw_state *state, nb_fw_result *result) {
  if (!c->fw) return NB_ERR_NOT_FOUND;
  if (state) *state = c->fw->state;
  if (result) *result = c->fw->result;
  return NB_OK;
}
