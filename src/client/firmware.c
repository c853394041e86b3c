/* Firmware Update (object 5, LwM2M 1.1 Core E.6): the state machine Idle -> Downloading ->
 * Downloaded -> Updating with its Update Result, the package pushed by a Write of /5/0/0 (each
 * Block1 block streamed to the application's storage as it comes, never reassembled in memory)
 * and the install run by Execute /5/0/2. Every byte goes through the signed-image checker
 * (fw_image.c) on its way to storage; the pull side is fw_pull.c. Owns nb_fw. */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "client/fw_int.h"

#define NB_FW_MAX_DEFAULT ((uint64_t)16 * 1024 * 1024)
#define NB_FW_TIMEOUT_DEFAULT 300000

static char *nb_fw_strdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* Moves to state/result and tells observers of both resources. */
void nb_fw_set(nb_fw *f, nb_fw_state st, nb_fw_result res, nb_time_ms now) {
  bool st_changed = f->state != st, res_changed = f->result != res;
  f->state = st;
  f->result = res;
  NB_LOG_INFO(NB_CLIENT_LOG, "event=firmware state=%d result=%d bytes=%llu", (int)st, (int)res,
              (unsigned long long)f->received);
  nb_path p3 = nb_path_res(5, 0, 3), p5 = nb_path_res(5, 0, 5);
  if (st_changed) nb_client_value_changed(f->c, &p3, now);
  if (res_changed) nb_client_value_changed(f->c, &p5, now);
}

/* Forgets the download in progress or the stored package. */
static void nb_fw_drop(nb_fw *f, nb_time_ms now) {
  nb_fw_pull_stop(f, now);
  nb_fw_check_deinit(&f->check);
  nb_fw_check_init(&f->check);
  if (f->src != NB_FW_SRC_NONE || f->state == NB_FW_STATE_DOWNLOADED ||
      f->state == NB_FW_STATE_UPDATING)
    f->cfg.storage.discard(f->cfg.storage.user);
  f->src = NB_FW_SRC_NONE;
  f->received = 0;
  f->install_due = false;
}

void nb_fw_fail(nb_fw *f, nb_fw_result result, nb_time_ms now) {
  nb_fw_drop(f, now);
  nb_fw_set(f, NB_FW_STATE_IDLE, result, now);
}

bool nb_fw_fits(nb_fw *f, uint64_t size, nb_time_ms now) {
  if (size <= f->cfg.max_size) return true;
  NB_LOG_WARN(NB_CLIENT_LOG, "event=firmware-refused reason=too-large size=%llu max=%llu",
              (unsigned long long)size, (unsigned long long)f->cfg.max_size);
  nb_fw_fail(f, NB_FW_RESULT_NO_STORAGE, now);
  return false;
}

bool nb_fw_begin(nb_fw *f, nb_fw_source src, nb_time_ms now) {
  nb_fw_drop(f, now);
  nb_err e = f->cfg.storage.begin(f->cfg.storage.user);
  if (e != NB_OK) {
    nb_fw_set(f, NB_FW_STATE_IDLE,
              e == NB_ERR_NOMEM ? NB_FW_RESULT_NO_MEMORY : NB_FW_RESULT_NO_STORAGE, now);
    return false;
  }
  f->src = src;
  f->idle_deadline = now + f->cfg.download_timeout;
  nb_fw_set(f, NB_FW_STATE_DOWNLOADING, NB_FW_RESULT_INITIAL, now);
  return true;
}

bool nb_fw_store(nb_fw *f, const uint8_t *data, size_t len, nb_time_ms now) {
  if (!len) return true;
  if (f->received + len > f->cfg.max_size) return nb_fw_fits(f, f->received + len, now);
  nb_err e = nb_fw_check_feed(&f->check, data, len);
  if (e == NB_OK) e = f->cfg.storage.write(f->cfg.storage.user, data, len);
  if (e != NB_OK) {
    NB_LOG_WARN(NB_CLIENT_LOG, "event=firmware-store-failed err=%s at=%llu", nb_err_name(e),
                (unsigned long long)f->received);
    nb_fw_fail(f, e == NB_ERR_NOMEM ? NB_FW_RESULT_NO_MEMORY : NB_FW_RESULT_NO_STORAGE, now);
    return false;
  }
  f->received += len;
  f->idle_deadline = now + f->cfg.download_timeout;
  return true;
}

/* Keeps what apply and /5/0/6-7 need of a verified package. */
static void nb_fw_keep_image(nb_fw *f) {
  const nb_fw_check *k = &f->check;
  bool sig = nb_fw_check_signed(k);
  memset(&f->img, 0, sizeof f->img);
  f->img.is_signed = sig && f->trust; /* verified, not merely carrying a signature */
  f->img.image_offset = sig ? k->env_len : 0;
  f->img.image_size = f->received - f->img.image_offset;
  if (!sig) return;
  memcpy(f->img_version, k->manifest.version, sizeof f->img_version);
  memcpy(f->img_vendor, k->manifest.vendor, sizeof f->img_vendor);
  f->img.version = f->img_version;
  f->img.vendor = f->img_vendor[0] ? f->img_vendor : NULL;
  char *v = nb_fw_strdup(f->img_version), *n = f->img.vendor ? nb_fw_strdup(f->img_vendor) : NULL;
  if (v) {
    free(f->version);
    f->version = v;
  }
  if (n) {
    free(f->name);
    f->name = n;
  }
}

void nb_fw_complete(nb_fw *f, nb_time_ms now) {
  const char *why = "";
  nb_fw_verdict v =
      nb_fw_check_finish(&f->check, f->trust, f->cfg.trust_len, f->cfg.allow_unsigned, &why);
  nb_err e = v == NB_FW_CHECK_OK ? f->cfg.storage.finish(f->cfg.storage.user) : NB_OK;
  if (v != NB_FW_CHECK_OK || e != NB_OK) {
    NB_LOG_WARN(NB_CLIENT_LOG, "event=firmware-refused bytes=%llu reason=\"%s\"",
                (unsigned long long)f->received, e != NB_OK ? nb_err_name(e) : why);
    nb_fw_fail(f,
               e != NB_OK                     ? NB_FW_RESULT_NO_STORAGE
               : v == NB_FW_CHECK_UNSUPPORTED ? NB_FW_RESULT_UNSUPPORTED_TYPE
                                              : NB_FW_RESULT_INTEGRITY,
               now);
    return;
  }
  if (!nb_fw_check_signed(&f->check))
    NB_LOG_WARN(NB_CLIENT_LOG, "event=firmware-unsigned bytes=%llu reason=\"%s\"",
                (unsigned long long)f->received, why);
  nb_fw_keep_image(f);
  nb_fw_check_deinit(&f->check);
  f->src = NB_FW_SRC_NONE;
  NB_LOG_INFO(NB_CLIENT_LOG, "event=firmware-downloaded bytes=%llu version=%s",
              (unsigned long long)f->received, f->img.version ? f->img.version : "-");
  nb_path p6 = nb_path_res(5, 0, 6), p7 = nb_path_res(5, 0, 7);
  nb_client_value_changed(f->c, &p6, now);
  nb_client_value_changed(f->c, &p7, now);
  nb_fw_set(f, NB_FW_STATE_DOWNLOADED, NB_FW_RESULT_INITIAL, now);
}

/* ---- push: Block1 blocks of a Write of /5/0/0, one at a time ---- */

static bool nb_fw_streams(void *user, const nb_addr *peer, const nb_coap_msg *req) {
  nb_client *c = user;
  (void)peer;
  nb_path p;
  return c->fw && req->code == NB_COAP_PUT && nb_path_from_coap(req, &p) == NB_OK &&
         p.len == NB_PATH_RESOURCE && p.ids[0] == 5 && p.ids[1] == 0 && p.ids[2] == 0;
}

static void nb_fw_answer(nb_coap_exchange *ex, uint8_t code, uint64_t size1, nb_time_ms now) {
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_ACK, code, 0);
  if (size1) nb_coap_msg_add_uint(&m, NB_COAP_OPT_SIZE1, (uint32_t)size1);
  nb_coap_exchange_respond(ex, &m, now);
}

/* The first block: a new package replaces whatever was there (Core E.6: a Write of Package
 * starts a download from any state but Updating). 0 when it may go on, else the code. */
static uint8_t nb_fw_push_start(nb_fw *f, const nb_addr *peer, const nb_coap_msg *req,
                                nb_time_ms now) {
  if (f->state == NB_FW_STATE_UPDATING) return NB_COAP_BAD_REQUEST;
  if (f->state == NB_FW_STATE_DOWNLOADING && f->src != NB_FW_SRC_PUSH)
    return NB_COAP_BAD_REQUEST; /* a pull is running: one download at a time */
  uint32_t size1;
  if (nb_coap_msg_get_uint(req, NB_COAP_OPT_SIZE1, &size1) == NB_OK && !nb_fw_fits(f, size1, now))
    return NB_COAP_REQUEST_ENTITY_TOO_LARGE;
  if (!nb_fw_begin(f, NB_FW_SRC_PUSH, now)) return NB_COAP_INTERNAL_SERVER_ERROR;
  f->push_peer = *peer;
  f->push_next = 0;
  return 0;
}

static void nb_fw_push_block(nb_client *c, nb_coap_exchange *ex, const nb_addr *peer,
                             const nb_coap_msg *req, nb_time_ms now) {
  nb_fw *f = c->fw;
  nb_coap_block b;
  int cf = nb_coap_msg_content_format(req);
  if (nb_coap_block_get(req, NB_COAP_OPT_BLOCK1, &b) != NB_OK)
    return nb_fw_answer(ex, NB_COAP_BAD_REQUEST, 0, now);
  if (cf != NB_COAP_CF_NONE && cf != NB_COAP_CF_OCTET_STREAM)
    return nb_fw_answer(ex, NB_COAP_UNSUPPORTED_CONTENT_FORMAT, 0, now);
  uint8_t code = b.num == 0 ? nb_fw_push_start(f, peer, req, now) : 0;
  if (code == NB_COAP_REQUEST_ENTITY_TOO_LARGE)
    return nb_fw_answer(ex, code, f->cfg.max_size > UINT32_MAX ? UINT32_MAX : f->cfg.max_size, now);
  if (code) return nb_fw_answer(ex, code, 0, now);
  /* Blocks in order from the same server, at the offset stored so far (RFC 7959 2.5: 4.08). */
  if (f->src != NB_FW_SRC_PUSH || !nb_addr_equal(&f->push_peer, peer) || b.num != f->push_next ||
      nb_coap_block_offset(&b) != f->received ||
      (b.more && req->payload_len != nb_coap_block_size(b.szx)))
    return nb_fw_answer(ex, NB_COAP_REQUEST_ENTITY_INCOMPLETE, 0, now);
  if (!nb_fw_store(f, req->payload, req->payload_len, now))
    return nb_fw_answer(ex,
                        f->result == NB_FW_RESULT_NO_MEMORY ? NB_COAP_INTERNAL_SERVER_ERROR
                                                            : NB_COAP_REQUEST_ENTITY_TOO_LARGE,
                        0, now);
  f->push_next = b.num + 1;
  if (b.more) return nb_fw_answer(ex, NB_COAP_CONTINUE, 0, now);
  nb_fw_complete(f, now);
  nb_fw_answer(ex, NB_COAP_CHANGED, 0, now);
}

/* ---- install ---- */

/* After a successful update: the device runs the new version (/3/0/3) and registers anew. */
static void nb_fw_updated(nb_fw *f, nb_time_ms now) {
  nb_object *dev = nb_client_object(f->c, 3);
  if (f->img.version && dev) {
    nb_value v = nb_value_none();
    nb_path p = nb_path_res(3, 0, 3);
    if (nb_value_set_string(&v, f->img.version, strlen(f->img.version)) == NB_OK &&
        nb_store_object_set(dev, &p, &v) == NB_OK)
      nb_client_value_changed(f->c, &p, now);
    nb_value_deinit(&v);
  }
  NB_LOG_INFO(NB_CLIENT_LOG, "event=firmware-updated version=%s action=register",
              f->img.version ? f->img.version : "-");
  if (f->c->started) nb_client_rebuild_accounts(f->c, false, now);
}

static void nb_fw_install(nb_fw *f, nb_time_ms now) {
  f->install_due = false;
  nb_err e = f->cfg.apply(f->cfg.user, &f->img, now);
  nb_fw_result r = e == NB_OK                ? NB_FW_RESULT_SUCCESS
                   : e == NB_ERR_INVAL       ? NB_FW_RESULT_INTEGRITY
                   : e == NB_ERR_UNSUPPORTED ? NB_FW_RESULT_UNSUPPORTED_TYPE
                                             : NB_FW_RESULT_FAILED;
  if (e != NB_OK) { /* the package stays: the server may Execute again */
    NB_LOG_WARN(NB_CLIENT_LOG, "event=firmware-update-failed err=%s", nb_err_name(e));
    nb_fw_set(f, NB_FW_STATE_DOWNLOADED, r, now);
    return;
  }
  f->cfg.storage.discard(f->cfg.storage.user);
  nb_fw_set(f, NB_FW_STATE_IDLE, r, now);
  nb_fw_updated(f, now);
}

static void nb_fw_tick(nb_client *c, nb_time_ms now) {
  nb_fw *f = c->fw;
  if (!f) return;
  if (f->state == NB_FW_STATE_DOWNLOADING && now >= f->idle_deadline) {
    if (f->src == NB_FW_SRC_COAP || f->src == NB_FW_SRC_HTTP) {
      nb_fw_pull_stalled(f, now);
    } else {
      NB_LOG_WARN(NB_CLIENT_LOG, "event=firmware-push-stalled bytes=%llu",
                  (unsigned long long)f->received);
      nb_fw_fail(f, NB_FW_RESULT_CONNECTION_LOST, now);
    }
  }
  if (f->install_due) nb_fw_install(f, now);
}

static bool nb_fw_download_peer(const nb_client *c, const nb_addr *peer) {
  return c->fw && c->fw->req && nb_addr_equal(&c->fw->req_peer, peer);
}

static nb_time_ms nb_fw_deadline(const nb_client *c) {
  const nb_fw *f = c->fw;
  if (!f) return NB_TIME_NEVER;
  if (f->install_due) return c->now;
  if (f->state == NB_FW_STATE_DOWNLOADING) return f->idle_deadline;
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

/* Protocol Support (/5/0/8): 0 CoAP, 1 CoAPS, 2 HTTP 1.1, 3 HTTPS 1.1 (HTTP only with a fetch
 * function from the application). */
static nb_err nb_fw_read_protocols(const nb_fw *f, nb_records *out) {
  int n = f->cfg.fetch ? 4 : 2;
  nb_err e = NB_OK;
  for (int i = 0; i < n && e == NB_OK; i++) e = nb_fw_add(out, 8, i, nb_value_int(i));
  return e;
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
    case 8:
      return nb_fw_read_protocols(f, out);
    case 9:
      return nb_fw_add(out, 9, -1, nb_value_int(2)); /* pull and push */
    case 0:
    case 2:
      return NB_ERR_UNSUPPORTED;
    default:
      return NB_ERR_NOT_FOUND;
  }
}

/* A whole package in one Write (no Block1). */
static nb_err nb_fw_take(nb_fw *f, const uint8_t *data, size_t len, nb_time_ms now) {
  if (!nb_fw_fits(f, len, now) || !nb_fw_begin(f, NB_FW_SRC_PUSH, now)) return NB_OK;
  if (nb_fw_store(f, data, len, now)) nb_fw_complete(f, now);
  return NB_OK;
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
    nb_fw_drop(f, now);
    if (res == 1) f->uri[0] = 0;
    nb_fw_set(f, NB_FW_STATE_IDLE, NB_FW_RESULT_INITIAL, now);
    return NB_OK;
  }
  if (f->state == NB_FW_STATE_DOWNLOADING) return NB_ERR_INVAL; /* one download at a time */
  if (res == 0) return nb_fw_take(f, v->v.bytes.data, v->v.bytes.len, now);
  if (v->v.bytes.len >= sizeof f->uri || memchr(v->v.bytes.data, 0, v->v.bytes.len)) {
    nb_fw_fail(f, NB_FW_RESULT_INVALID_URI, now);
    return NB_OK;
  }
  memcpy(f->uri, v->v.bytes.data, v->v.bytes.len);
  f->uri[v->v.bytes.len] = 0;
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
  /* The engine frees its CoAP endpoint before its objects: nothing here may touch it. */
  if (f->c && f->c->fw == f) f->c->fw = NULL;
  nb_fw_check_deinit(&f->check);
  free(f->trust);
  free(f->name);
  free(f->version);
  free(f);
}

static const nb_fw_hooks nb_fw_entry = {nb_fw_tick, nb_fw_deadline, nb_fw_download_peer,
                                        nb_fw_streams, nb_fw_push_block};

static const nb_object_ops nb_fw_ops = {nb_fw_instances, nb_fw_resources, nb_fw_read,
                                        nb_fw_write,     nb_fw_execute,   nb_fw_create,
                                        nb_fw_remove,    nb_fw_destroy};

static bool nb_fw_config_ok(const nb_client_firmware_config *cfg) {
  const nb_client_fw_storage *s = &cfg->storage;
  return cfg && cfg->apply && s->begin && s->write && s->finish && s->discard &&
         (!cfg->trust || cfg->trust_len) && (!cfg->fetch || cfg->fetch_cancel);
}

nb_err nb_client_add_firmware(nb_client *c, const nb_client_firmware_config *cfg) {
  if (!cfg || !nb_fw_config_ok(cfg)) return NB_ERR_INVAL;
  const nb_object_def *def = nb_model_object(c->model, 5);
  if (!def) return NB_ERR_NOT_FOUND;
  if (c->fw) return NB_ERR_EXISTS;
  nb_fw *f = calloc(1, sizeof *f);
  if (!f) return NB_ERR_NOMEM;
  f->obj.def = def;
  f->obj.ops = &nb_fw_ops;
  f->obj.user = f;
  f->cfg = *cfg;
  nb_fw_check_init(&f->check);
  if (!f->cfg.max_size) f->cfg.max_size = NB_FW_MAX_DEFAULT;
  if (!f->cfg.download_timeout) f->cfg.download_timeout = NB_FW_TIMEOUT_DEFAULT;
  f->name = nb_fw_strdup(cfg->pkg_name);
  f->version = nb_fw_strdup(cfg->pkg_version);
  f->cfg.pkg_name = f->cfg.pkg_version = NULL;
  f->trust = cfg->trust ? malloc(cfg->trust_len) : NULL;
  if (f->trust) memcpy(f->trust, cfg->trust, cfg->trust_len);
  f->cfg.trust = f->trust;
  if ((cfg->pkg_name && !f->name) || (cfg->pkg_version && !f->version) ||
      (cfg->trust && !f->trust)) {
    nb_fw_destroy(&f->obj);
    return NB_ERR_NOMEM;
  }
  nb_err e = nb_client_add_object(c, &f->obj, c->now);
  if (e != NB_OK) return e;
  f->c = c;
  c->fw = f;
  c->fw_hooks = &nb_fw_entry;
  nb_coap_ep_set_block1_stream(c->ep, nb_fw_streams, c);
  return NB_OK;
}

nb_err nb_client_firmware_status(const nb_client *c, nb_fw_state *state, nb_fw_result *result) {
  if (!c->fw) return NB_ERR_NOT_FOUND;
  if (state) *state = c->fw->state;
  if (result) *result = c->fw->result;
  return NB_OK;
}
