/* Firmware Update pull (LwM2M 1.1 Core E.6, Package URI /5/0/1): a coap:// or coaps:// URI is
 * fetched one Block2 block at a time with the engine's CoAP endpoint, each block streamed to
 * storage before the next is asked for, so memory stays one block whatever the image size; a
 * lost link resumes from the first block not stored (a few times) before the download ends with
 * result 4. http:// and https:// go through the application's fetch function (libcurl in the
 * I/O shell) with the same resumption by byte offset. */
#include <string.h>

#include "base/log.h"
#include "client/fw_int.h"

#define NB_FW_RESUMES 3  /* resumptions of a download after its link was lost */
#define NB_FW_RESTARTS 2 /* restarts from block 0 when the representation changed */

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

static bool nb_fw_scheme(const char *uri, const char *s) { return strncmp(uri, s, strlen(s)) == 0; }

/* ---- CoAP ---- */

static void nb_fw_block_cb(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                           nb_time_ms now);

/* Asks for the block holding byte f->received. */
static void nb_fw_ask_block(nb_fw *f, nb_time_ms now) {
  const char *auth = strstr(f->uri, "://") + 3;
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_GET, 0);
  nb_err e = nb_fw_add_target(&m, auth + strcspn(auth, "/?#"));
  uint32_t num = (uint32_t)(f->received >> (f->szx + 4));
  if (e == NB_OK)
    e = nb_coap_ep_request_block2(f->c->ep, &f->req_peer, &m, num, f->szx, nb_fw_block_cb, f, now,
                                  &f->req);
  if (e != NB_OK) {
    f->req = 0;
    nb_fw_fail(f, e == NB_ERR_NOMEM ? NB_FW_RESULT_NO_MEMORY : NB_FW_RESULT_CONNECTION_LOST, now);
  }
}

/* http(s): asks the application for the bytes from f->received on. */
static void nb_fw_ask_http(nb_fw *f, nb_time_ms now) {
  if (f->cfg.fetch(f->cfg.user, f->uri, f->received, now) != NB_OK)
    nb_fw_fail(f, NB_FW_RESULT_CONNECTION_LOST, now);
}

/* The link was lost: resume from the first byte not stored, or give up with result 4. */
static void nb_fw_lost(nb_fw *f, nb_err why, nb_time_ms now) {
  if (f->retries >= NB_FW_RESUMES) {
    NB_LOG_WARN(NB_CLIENT_LOG, "event=firmware-download-lost err=%s at=%llu", nb_err_name(why),
                (unsigned long long)f->received);
    nb_fw_fail(f, NB_FW_RESULT_CONNECTION_LOST, now);
    return;
  }
  f->retries++;
  f->idle_deadline = now + f->cfg.download_timeout;
  NB_LOG_INFO(NB_CLIENT_LOG, "event=firmware-resume err=%s at=%llu attempt=%u", nb_err_name(why),
              (unsigned long long)f->received, f->retries);
  if (f->src == NB_FW_SRC_HTTP)
    nb_fw_ask_http(f, now);
  else
    nb_fw_ask_block(f, now);
}

/* The representation changed under us (new ETag): start again from block 0. */
static void nb_fw_restart(nb_fw *f, nb_time_ms now) {
  nb_fw_source src = f->src;
  nb_addr peer = f->req_peer;
  unsigned restarts = f->restarts + 1;
  if (restarts > NB_FW_RESTARTS) {
    nb_fw_fail(f, NB_FW_RESULT_CONNECTION_LOST, now);
    return;
  }
  if (!nb_fw_begin(f, src, now)) return;
  f->req_peer = peer;
  f->restarts = restarts;
  nb_fw_ask_block(f, now);
}

/* A first answer that is an error: the URI names nothing usable (result 7), else result 4. */
static void nb_fw_coap_error(nb_fw *f, uint8_t code, nb_time_ms now) {
  char cs[8];
  NB_LOG_WARN(NB_CLIENT_LOG, "event=firmware-download-refused code=%s at=%llu",
              nb_coap_code_format(code, cs), (unsigned long long)f->received);
  bool bad_uri = f->received == 0 && (code == NB_COAP_NOT_FOUND || code == NB_COAP_BAD_REQUEST ||
                                      code == NB_COAP_BAD_OPTION || code == NB_COAP_FORBIDDEN ||
                                      code == NB_COAP_UNAUTHORIZED);
  nb_fw_fail(f, bad_uri ? NB_FW_RESULT_INVALID_URI : NB_FW_RESULT_CONNECTION_LOST, now);
}

/* ETag of a block against the first one's; false after handling a change. */
static bool nb_fw_same_etag(nb_fw *f, const nb_coap_msg *resp, nb_time_ms now) {
  const nb_coap_option *o = nb_coap_msg_find(resp, NB_COAP_OPT_ETAG);
  size_t n = o && o->len <= sizeof f->etag ? o->len : 0;
  if (!f->have_etag) {
    f->have_etag = true;
    f->etag_len = (uint8_t)n;
    if (n) memcpy(f->etag, o->value, n);
    return true;
  }
  if (n == f->etag_len && (n == 0 || memcmp(o->value, f->etag, n) == 0)) return true;
  NB_LOG_INFO(NB_CLIENT_LOG, "event=firmware-restart reason=etag-changed at=%llu",
              (unsigned long long)f->received);
  nb_fw_restart(f, now);
  return false;
}

/* One answered block: stored, then the next asked for or the download completed. */
static void nb_fw_block(nb_fw *f, const nb_coap_msg *resp, nb_time_ms now) {
  nb_coap_block b;
  if (nb_coap_block_get(resp, NB_COAP_OPT_BLOCK2, &b) != NB_OK) {
    /* A server that sent the whole representation at once: fine for the first answer. */
    if (f->received != 0) return nb_fw_fail(f, NB_FW_RESULT_CONNECTION_LOST, now);
    if (nb_fw_store(f, resp->payload, resp->payload_len, now)) nb_fw_complete(f, now);
    return;
  }
  if (!nb_fw_same_etag(f, resp, now)) return;
  uint32_t size2;
  if (f->received == 0 && nb_coap_msg_get_uint(resp, NB_COAP_OPT_SIZE2, &size2) == NB_OK &&
      !nb_fw_fits(f, size2, now))
    return;
  if (nb_coap_block_offset(&b) != f->received ||
      (b.more && resp->payload_len != nb_coap_block_size(b.szx))) {
    NB_LOG_WARN(NB_CLIENT_LOG, "event=firmware-download-refused reason=block-out-of-sequence");
    return nb_fw_fail(f, NB_FW_RESULT_CONNECTION_LOST, now);
  }
  if (b.szx < f->szx) f->szx = b.szx; /* the server's smaller blocks: offsets stay multiples */
  if (!nb_fw_store(f, resp->payload, resp->payload_len, now)) return;
  f->retries = 0;
  if (b.more)
    nb_fw_ask_block(f, now);
  else
    nb_fw_complete(f, now);
}

static void nb_fw_block_cb(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                           nb_time_ms now) {
  nb_fw *f = user;
  (void)last;
  if (err == NB_ERR_CANCELLED) return;
  f->req = 0;
  if (f->src != NB_FW_SRC_COAP) return;
  if (err != NB_OK) return nb_fw_lost(f, err, now);
  if (resp->code != NB_COAP_CONTENT) return nb_fw_coap_error(f, resp->code, now);
  nb_fw_block(f, resp, now);
}

/* coaps:// uses the DTLS session with one of the device's servers (its credentials): a URI
 * naming another host cannot be reached securely and is refused with result 9. */
static void nb_fw_pull_coap(nb_fw *f, nb_time_ms now) {
  const char *auth = strstr(f->uri, "://") + 3;
  nb_addr peer;
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_GET, 0);
  if (*auth == 0 || *auth == '/' || nb_client_resolve_uri(f->c, f->uri, &peer, NULL, 0) != NB_OK ||
      nb_fw_add_target(&m, auth + strcspn(auth, "/?#")) != NB_OK)
    return nb_fw_fail(f, NB_FW_RESULT_INVALID_URI, now);
  if (nb_fw_scheme(f->uri, "coaps://") && !nb_client_account_by_addr(f->c, &peer)) {
    NB_LOG_WARN(NB_CLIENT_LOG, "event=firmware-refused reason=coaps-host-not-a-server");
    return nb_fw_fail(f, NB_FW_RESULT_UNSUPPORTED_PROTOCOL, now);
  }
  if (!nb_fw_begin(f, NB_FW_SRC_COAP, now)) return;
  f->req_peer = peer;
  f->szx = NB_COAP_BLOCK_MAX_SZX;
  f->have_etag = false;
  f->retries = f->restarts = 0;
  nb_fw_ask_block(f, now);
}

void nb_fw_pull(nb_fw *f, nb_time_ms now) {
  if (nb_fw_scheme(f->uri, "coap://") || nb_fw_scheme(f->uri, "coaps://"))
    return nb_fw_pull_coap(f, now);
  bool http = nb_fw_scheme(f->uri, "http://") || nb_fw_scheme(f->uri, "https://");
  const char *auth = http ? strstr(f->uri, "://") + 3 : NULL;
  if (http && f->cfg.fetch && (*auth == 0 || strchr("/?#", *auth) || strchr(f->uri, ' ')))
    return nb_fw_fail(f, NB_FW_RESULT_INVALID_URI, now);
  if (http && f->cfg.fetch) {
    if (!nb_fw_begin(f, NB_FW_SRC_HTTP, now)) return;
    f->retries = 0;
    nb_fw_ask_http(f, now);
    return;
  }
  const char *s = strstr(f->uri, "://");
  bool scheme = s && s > f->uri &&
                strspn(f->uri, "abcdefghijklmnopqrstuvwxyz0123456789+.-") == (size_t)(s - f->uri);
  NB_LOG_WARN(NB_CLIENT_LOG, "event=firmware-refused reason=%s",
              scheme ? "unsupported-protocol" : "invalid-uri");
  nb_fw_fail(f, scheme ? NB_FW_RESULT_UNSUPPORTED_PROTOCOL : NB_FW_RESULT_INVALID_URI, now);
}

void nb_fw_pull_stop(nb_fw *f, nb_time_ms now) {
  nb_coap_req_id id = f->req;
  f->req = 0;
  if (id) nb_coap_ep_cancel(f->c->ep, id, false, now);
  if (f->src == NB_FW_SRC_HTTP && f->state == NB_FW_STATE_DOWNLOADING)
    f->cfg.fetch_cancel(f->cfg.user);
}

void nb_fw_pull_stalled(nb_fw *f, nb_time_ms now) {
  nb_fw_source src = f->src;
  nb_coap_req_id id = f->req;
  f->req = 0;
  if (id) nb_coap_ep_cancel(f->c->ep, id, false, now);
  if (src == NB_FW_SRC_HTTP) f->cfg.fetch_cancel(f->cfg.user);
  nb_fw_lost(f, NB_ERR_TIMEOUT, now);
}

/* ---- http(s), driven by the application ---- */

nb_err nb_client_firmware_data(nb_client *c, const uint8_t *data, size_t len, nb_time_ms now) {
  c->now = now;
  nb_fw *f = c->fw;
  if (!f || f->src != NB_FW_SRC_HTTP) return NB_ERR_STATE;
  if (!nb_fw_store(f, data, len, now)) return NB_ERR_STATE;
  f->retries = 0;
  return NB_OK;
}

void nb_client_firmware_fetched(nb_client *c, nb_err err, long status, nb_time_ms now) {
  c->now = now;
  nb_fw *f = c->fw;
  if (!f || f->src != NB_FW_SRC_HTTP) return;
  if (err != NB_OK) return nb_fw_lost(f, err, now);
  if (status == 200 || status == 206) return nb_fw_complete(f, now);
  NB_LOG_WARN(NB_CLIENT_LOG, "event=firmware-download-refused status=%ld at=%llu", status,
              (unsigned long long)f->received);
  bool bad_uri = f->received == 0 && status >= 400 && status < 500;
  nb_fw_fail(f, bad_uri ? NB_FW_RESULT_INVALID_URI : NB_FW_RESULT_CONNECTION_LOST, now);
}
