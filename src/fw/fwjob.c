/* One device's firmware update in a campaign (fw_int.h): object 5 driven by the server
 * (LwM2M 1.1 Core E.6, "Firmware Update"). Push: Block1 Writes of /5/0/0, each block read from
 * the image when it goes, at the size the device asks for (it starts at 1024 and follows a
 * smaller SZX in the device's 2.31, or a 4.13's Block1; a 4.13 whose Size1 is below the image
 * means the device has no room). Pull: a Write of /5/0/1 with the URI of the server's /fw
 * resource. Either way State (/5/0/3) and Update Result (/5/0/5) are observed (and /5/0 read
 * when nothing came for poll_interval), /5/0/2 is executed once State is Downloaded, and the
 * device's Update Result, or its state once it is back from the reboot, ends the job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "coap/block.h"
#include "fw/fw_int.h"

/* Update Results (E.6, resource 5) that another attempt may cure: out of RAM, connection
 * lost during the download, update failed. The others (no room, integrity, type, URI,
 * protocol) would only fail again. */
static bool result_transient(int r) { return r == 3 || r == 4 || r == 8; }

static const char *result_text(int r) {
  static const char *const t[] = {"initial",
                                  "updated",
                                  "not enough storage",
                                  "out of memory",
                                  "connection lost during download",
                                  "integrity check failure",
                                  "unsupported package type",
                                  "invalid URI",
                                  "firmware update failed",
                                  "unsupported protocol"};
  return r >= 0 && r < (int)(sizeof(t) / sizeof(t[0])) ? t[r] : "unknown result";
}

static nb_server *srv_of(const fw_dev *d) { return d->c->f->srv; }

static void set_state(fw_dev *d, nb_fws_dev_state st, nb_time_ms now) {
  if (d->state == st) return;
  d->state = st;
  nb_fwi_save_dev(d->c->f, d);
  nb_fwi_emit_dev(d->c->f, d, now);
}

static void cancel_id(fw_dev *d, uint64_t *id, nb_time_ms now) {
  uint64_t v = *id;
  *id = 0; /* its callback, if it runs now, is stale */
  if (v) nb_server_cancel(srv_of(d), v, false, now);
}

void nb_fwi_job_release(fw_dev *d, nb_time_ms now) {
  cancel_id(d, &d->req, now);
  cancel_id(d, &d->poll, now);
  cancel_id(d, &d->obs[0], now);
  cancel_id(d, &d->obs[1], now);
  d->phase = P_IDLE;
  d->deadline = NB_TIME_NEVER;
  d->pend_state = d->pend_result = -1;
  d->pend_reg = false;
  if (!d->active) return;
  d->active = false;
  d->c->active--;
  nb_fws *f = d->c->f;
  if (d->aprev)
    d->aprev->anext = d->anext;
  else
    f->active = d->anext;
  if (d->anext) d->anext->aprev = d->aprev;
  d->anext = d->aprev = NULL;
}

/* The job is over (updated, failed for good, skipped): its slot goes to the next device. */
static void finish(fw_dev *d, nb_fws_dev_state st, nb_time_ms now) {
  nb_fwi_job_release(d, now);
  NB_LOG_INFO(NB_FWS_LOG, "event=device-%s campaign=%s ep=%s attempts=%u result=%d%s%s%s",
              nb_fws_dev_state_name(st), d->c->id, d->ep, d->attempts, d->result,
              d->error[0] ? " error=\"" : "", d->error, d->error[0] ? "\"" : "");
  set_state(d, st, now);
  nb_fwi_pump(d->c, now);
}

/* The attempt failed: another one later when the campaign allows and it may help. */
static void fail(fw_dev *d, bool may_retry, nb_time_ms now, const char *fmt, const char *arg) {
  snprintf(d->error, sizeof(d->error), fmt, arg);
  if (!may_retry || d->attempts > d->c->retries) {
    finish(d, NB_FWS_DEV_FAILED, now);
    return;
  }
  nb_fwi_job_release(d, now);
  NB_LOG_INFO(NB_FWS_LOG, "event=device-retry campaign=%s ep=%s attempt=%u error=\"%s\"", d->c->id,
              d->ep, d->attempts, d->error);
  d->retry_at = now + d->c->f->cfg.retry_delay;
  if (d->state == NB_FWS_DEV_QUEUED) {
    nb_fwi_save_dev(d->c->f, d);
    nb_fwi_emit_dev(d->c->f, d, now);
  }
  set_state(d, NB_FWS_DEV_QUEUED, now);
  nb_fwi_pump(d->c, now);
}

static void fail_request(fw_dev *d, const nb_server_result *res, const char *what, nb_time_ms now) {
  char why[64];
  if (res->err != NB_OK)
    snprintf(why, sizeof(why), "%s: %s", what, nb_strerror(res->err));
  else {
    char c[8];
    snprintf(why, sizeof(why), "%s: %s", what, nb_coap_code_format(res->code, c));
  }
  fail(d, true, now, "%s", why);
}

static void progress(fw_dev *d, nb_time_ms now) {
  d->progress_at = now;
  d->deadline = now + d->c->f->cfg.poll_interval;
}

/* A request of this job (the server's callbacks come with the job as user). */
static nb_err send(fw_dev *d, const nb_server_request *in, nb_server_result_fn cb, uint64_t *slot,
                   nb_time_ms now) {
  nb_server_request r = *in;
  r.actor = "firmware";
  uint64_t id;
  nb_err rc = nb_server_send_request(srv_of(d), d->ep, &r, cb, d, now, &id, NULL);
  if (rc == NB_OK) *slot = id;
  return rc;
}

/* The answer to the request held in *slot (a stale one, of a request given up, is not). */
static bool take_answer(uint64_t *slot, uint64_t id) {
  if (id != *slot) return false;
  *slot = 0;
  return true;
}

/* ---- values of object 5 ---- */

static int int_at(const nb_records *recs, uint16_t obj, uint16_t res) {
  nb_path p = {{obj, 0, res, 0}, NB_PATH_RESOURCE};
  const nb_record *r = recs ? nb_records_find(recs, &p) : NULL;
  if (!r) return -1;
  if (r->value.type == NB_VT_INT) return (int)r->value.v.i;
  if (r->value.type == NB_VT_UINT) return (int)r->value.v.u;
  nb_value v;
  if (nb_value_convert(&r->value, NB_VT_INT, &v) != NB_OK) return -1;
  return (int)v.v.i;
}

static void on_poll(void *user, uint64_t id, const nb_server_result *res, bool last) {
  fw_dev *d = user;
  (void)last;
  if (!take_answer(&d->poll, id)) return;
  /* A poll that got nothing says nothing: the step timeout decides. */
  if (res->err == NB_OK && NB_COAP_CLASS(res->code) == 2)
    nb_fwi_job_values(d, int_at(res->records, 5, 3), int_at(res->records, 5, 5),
                      nb_server_now(srv_of(d)));
}

static void poll_now(fw_dev *d, nb_time_ms now) {
  if (d->poll) return;
  nb_server_request r = {.op = NB_SOP_READ, .path = {{5, 0, 0, 0}, NB_PATH_INSTANCE}};
  if (send(d, &r, on_poll, &d->poll, now) != NB_OK) d->poll = 0;
}

static void on_observe(void *user, uint64_t id, const nb_server_result *res, bool last) {
  fw_dev *d = user;
  (void)res; /* values come as NOTIFICATION events, also after a restart */
  if (!last) return;
  for (int i = 0; i < 2; i++)
    if (d->obs[i] == id) d->obs[i] = 0;
}

static void observe(fw_dev *d, nb_time_ms now) {
  for (uint16_t i = 0; i < 2; i++) {
    if (d->obs[i]) continue;
    nb_server_request r = {.op = NB_SOP_OBSERVE, .path = {{5, 0, i ? 5 : 3, 0}, NB_PATH_RESOURCE}};
    if (send(d, &r, on_observe, &d->obs[i], now) != NB_OK) d->obs[i] = 0; /* polls make up */
  }
}

/* ---- execute ---- */

static void on_execute(void *user, uint64_t id, const nb_server_result *res, bool last) {
  fw_dev *d = user;
  (void)last;
  if (!take_answer(&d->req, id)) return;
  nb_time_ms now = nb_server_now(srv_of(d));
  if (res->err != NB_OK || NB_COAP_CLASS(res->code) != 2) {
    d->executed = false;
    fail_request(d, res, "execute /5/0/2", now);
    return;
  }
  d->phase = P_WAIT_RESULT;
  set_state(d, NB_FWS_DEV_UPDATING, now);
}

static void execute(fw_dev *d, nb_time_ms now) {
  d->phase = P_EXECUTE;
  d->executed = true;
  set_state(d, NB_FWS_DEV_DOWNLOADED, now);
  nb_server_request r = {.op = NB_SOP_EXECUTE, .path = {{5, 0, 2, 0}, NB_PATH_RESOURCE}};
  nb_err rc = send(d, &r, on_execute, &d->req, now);
  if (rc != NB_OK) fail(d, true, now, "execute /5/0/2: %s", nb_strerror(rc));
}

void nb_fwi_job_values(fw_dev *d, int state, int result, nb_time_ms now) {
  if (!d->active || d->phase == P_IDLE || d->phase == P_CHECK) return;
  if (result >= 0) d->result = result;
  bool after = d->phase == P_WAIT_RESULT || d->phase == P_VERIFY || d->phase == P_EXECUTE;
  if (result >= 2) {
    progress(d, now);
    fail(d, result_transient(result), now, "update result: %s", result_text(result));
    return;
  }
  if (result == 1 && after) {
    d->error[0] = '\0';
    finish(d, NB_FWS_DEV_UPDATED, now);
    return;
  }
  if (state == 1 && d->phase != P_PUSH) {
    progress(d, now);
    set_state(d, NB_FWS_DEV_DOWNLOADING, now);
  } else if (state == 2 && (d->phase == P_WAIT_DL || d->phase == P_URI)) {
    progress(d, now);
    execute(d, now);
  } else if (state == 3) {
    progress(d, now);
    if (d->phase == P_VERIFY) d->phase = P_WAIT_RESULT;
    set_state(d, NB_FWS_DEV_UPDATING, now);
  } else if (state == 0 && d->phase == P_VERIFY && result == 0) {
    /* Back, idle, and no result: the update did not happen. */
    fail(d, true, now, "%s", "the device came back without an update result");
  }
}

/* ---- push ---- */

static void send_block(fw_dev *d, nb_time_ms now);

static void on_block(void *user, uint64_t id, const nb_server_result *res, bool last) {
  fw_dev *d = user;
  (void)last;
  if (!take_answer(&d->req, id)) return;
  nb_time_ms now = nb_server_now(srv_of(d));
  uint64_t total = d->c->image_size;
  size_t size = nb_coap_block_size(d->szx);
  uint64_t sent = total - d->offset < size ? total - d->offset : size;
  if (res->err == NB_OK && res->code == NB_COAP_CONTINUE) {
    /* The device's Block1 may ask for smaller blocks from here on (RFC 7959 2.3). */
    if (res->has_block1 && res->block1.szx < d->szx) d->szx = res->block1.szx;
    d->offset += sent;
    send_block(d, now);
    return;
  }
  if (res->err == NB_OK && NB_COAP_CLASS(res->code) == 2) {
    d->offset += sent;
    d->phase = P_WAIT_DL;
    poll_now(d, now); /* State 2 is what comes next; a lost notification must not stall it */
    return;
  }
  if (res->err == NB_OK && res->code == NB_COAP_REQUEST_ENTITY_TOO_LARGE) {
    if (res->size1 && res->size1 < total) {
      char why[64];
      snprintf(why, sizeof(why), "the device takes %u bytes at most", (unsigned)res->size1);
      d->result = 2;
      fail(d, false, now, "%s", why);
      return;
    }
    if (res->has_block1 && res->block1.szx < d->szx && d->restarts < 6) {
      d->restarts++;
      d->szx = res->block1.szx;
      d->offset = 0;
      send_block(d, now);
      return;
    }
  }
  if (res->err == NB_OK && res->code == NB_COAP_REQUEST_ENTITY_INCOMPLETE && d->restarts < 6) {
    d->restarts++; /* the device lost the upload (restart, eviction): from the start */
    d->offset = 0;
    send_block(d, now);
    return;
  }
  fail_request(d, res, "block write /5/0/0", now);
}

static void send_block(fw_dev *d, nb_time_ms now) {
  nb_fws *f = d->c->f;
  uint8_t buf[1024];
  size_t size = nb_coap_block_size(d->szx);
  uint64_t total = d->c->image_size;
  size_t want = total - d->offset < size ? (size_t)(total - d->offset) : size;
  size_t n = 0;
  nb_err rc = f->cfg.read(f->cfg.read_user, d->c->image, d->offset, buf, want, &n);
  if (rc != NB_OK || n != want) {
    fail(d, false, now, "image unreadable: %s", nb_strerror(rc != NB_OK ? rc : NB_ERR_IO));
    return;
  }
  nb_coap_block b = {(uint32_t)(d->offset / size), d->offset + n < total, d->szx};
  nb_server_request r = {.op = NB_SOP_WRITE_REPLACE,
                         .path = {{5, 0, 0, 0}, NB_PATH_RESOURCE},
                         .block1 = &b,
                         .block_data = buf,
                         .block_len = n,
                         .block_total = total,
                         .quiet = b.num > 0};
  progress(d, now);
  rc = send(d, &r, on_block, &d->req, now);
  if (rc != NB_OK) fail(d, true, now, "block write /5/0/0: %s", nb_strerror(rc));
}

/* ---- pull ---- */

static void on_uri(void *user, uint64_t id, const nb_server_result *res, bool last) {
  fw_dev *d = user;
  (void)last;
  if (!take_answer(&d->req, id)) return;
  nb_time_ms now = nb_server_now(srv_of(d));
  if (res->err != NB_OK || NB_COAP_CLASS(res->code) != 2) {
    fail_request(d, res, "write /5/0/1", now);
    return;
  }
  if (d->phase == P_URI) d->phase = P_WAIT_DL;
}

static void write_uri(fw_dev *d, nb_time_ms now) {
  nb_fws *f = d->c->f;
  char uri[256];
  snprintf(uri, sizeof(uri), "%s/fw/%.*s", f->uri_base, NB_FWS_URI_ID_LEN, d->c->image);
  nb_records recs;
  nb_records_init(&recs);
  nb_value v = nb_value_none();
  nb_path p = {{5, 0, 1, 0}, NB_PATH_RESOURCE};
  nb_err rc = nb_value_set_string(&v, uri, strlen(uri));
  if (rc == NB_OK) rc = nb_records_add(&recs, &p, &v);
  nb_server_request r = {.op = NB_SOP_WRITE_REPLACE, .path = p, .records = &recs};
  d->phase = P_URI;
  progress(d, now);
  if (rc == NB_OK) rc = send(d, &r, on_uri, &d->req, now);
  nb_records_deinit(&recs);
  if (rc != NB_OK) fail(d, true, now, "write /5/0/1: %s", nb_strerror(rc));
}

/* ---- the job ---- */

static void transfer(fw_dev *d, nb_time_ms now) {
  observe(d, now);
  set_state(d, NB_FWS_DEV_DOWNLOADING, now);
  if (!d->c->pull) {
    d->phase = P_PUSH;
    d->szx = NB_COAP_BLOCK_MAX_SZX;
    d->offset = 0;
    send_block(d, now);
  } else {
    write_uri(d, now);
  }
}

static void on_version(void *user, uint64_t id, const nb_server_result *res, bool last) {
  fw_dev *d = user;
  (void)last;
  if (!take_answer(&d->req, id)) return;
  nb_time_ms now = nb_server_now(srv_of(d));
  const nb_record *r = NULL;
  nb_path p = {{3, 0, 3, 0}, NB_PATH_RESOURCE};
  if (res->err == NB_OK && NB_COAP_CLASS(res->code) == 2 && res->records)
    r = nb_records_find(res->records, &p);
  if (!r || r->value.type != NB_VT_STRING) {
    fail_request(d, res, "read /3/0/3", now);
    return;
  }
  snprintf(d->version, sizeof(d->version), "%.*s", (int)r->value.v.bytes.len,
           (const char *)r->value.v.bytes.data);
  if (strcmp(d->version, d->c->version) != 0) {
    snprintf(d->error, sizeof(d->error), "firmware version %s", d->version);
    finish(d, NB_FWS_DEV_SKIPPED, now);
    return;
  }
  d->checked = true;
  nb_fwi_save_dev(d->c->f, d);
  transfer(d, now);
}

static void take_slot(fw_dev *d, nb_time_ms now) {
  nb_fws *f = d->c->f;
  d->active = true;
  d->c->active++;
  d->anext = f->active;
  d->aprev = NULL;
  if (f->active) f->active->aprev = d;
  f->active = d;
  d->progress_at = now;
  d->deadline = now + f->cfg.poll_interval;
}

void nb_fwi_job_start(fw_dev *d, nb_time_ms now) {
  take_slot(d, now);
  d->attempts++;
  d->executed = false;
  d->restarts = 0;
  d->result = -1;
  d->error[0] = '\0';
  NB_LOG_INFO(NB_FWS_LOG, "event=device-start campaign=%s ep=%s attempt=%u method=%s", d->c->id,
              d->ep, d->attempts, d->c->pull ? "pull" : "push");
  if (d->c->has_version && !d->checked) {
    d->phase = P_CHECK;
    nb_server_request r = {.op = NB_SOP_READ, .path = {{3, 0, 3, 0}, NB_PATH_RESOURCE}};
    nb_err rc = send(d, &r, on_version, &d->req, now);
    if (rc != NB_OK) fail(d, true, now, "read /3/0/3: %s", nb_strerror(rc));
    return;
  }
  transfer(d, now);
}

void nb_fwi_job_verify(fw_dev *d, nb_time_ms now) {
  take_slot(d, now);
  d->verify_pending = false;
  d->executed = true;
  d->phase = P_VERIFY;
  observe(d, now);
  poll_now(d, now);
}

void nb_fwi_job_registered(fw_dev *d, nb_time_ms now) {
  if (!d->active || (d->phase != P_WAIT_RESULT && d->phase != P_EXECUTE)) return;
  /* Back from the reboot: its observations went with the old registration. */
  progress(d, now);
  d->phase = P_VERIFY;
  d->obs[0] = d->obs[1] = 0;
  observe(d, now);
  poll_now(d, now);
}

void nb_fwi_job_due(fw_dev *d, nb_time_ms now) {
  if (now - d->progress_at >= d->c->f->cfg.step_timeout) {
    d->progress_at = now;
    fail(d, true, now, "%s", "no progress within the step timeout");
    return;
  }
  d->deadline = now + d->c->f->cfg.poll_interval;
  if (d->phase == P_WAIT_DL || d->phase == P_WAIT_RESULT || d->phase == P_VERIFY) poll_now(d, now);
}
