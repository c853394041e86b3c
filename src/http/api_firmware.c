/* Firmware routes: see api_firmware.h. */
#include "http/api_firmware.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "http/api_ctx.h"
#include "http/api_feed.h"
#include "io/fwrepo.h"

#define MOD "http"

/* ---- uploads ---- */

static nb_err upload_sink(void *user, const char *data, size_t n) {
  return nb_fws_upload_write(user, data, n);
}

static void upload_end(void *user) { nb_fws_upload_abort(user); }

enum MHD_Result nb_api_fw_upload_begin(nb_http_req *rq, uint64_t length) {
  nb_api_ctx *a = nb_api_of(rq);
  if (!a->fw || !a->fw_repo) return MHD_YES; /* on_request answers 404 */
  if (length > a->firmware_max)
    return nb_http_reply_error(rq, 413, "image larger than the server's --firmware-max", "4.13");
  nb_fws_upload *u;
  nb_err rc = nb_fws_upload_begin(a->fw_repo, a->firmware_max, &u);
  if (rc != NB_OK) return nb_http_reply_error(rq, 500, "cannot store an upload now", "5.00");
  rq->sink = upload_sink;
  rq->sink_end = upload_end;
  rq->sink_user = u;
  rq->body_limit = a->firmware_max;
  return MHD_YES;
}

/* ?name= as given (shown in lists), at most NB_FWS_NAME_MAX - 1 printable bytes. */
static bool upload_name(nb_http_req *rq, char *out) {
  const char *n = nb_http_query(rq, "name");
  out[0] = '\0';
  if (!n) return true;
  if (strlen(n) >= NB_FWS_NAME_MAX) return false;
  for (const char *p = n; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f) return false;
  snprintf(out, NB_FWS_NAME_MAX, "%s", n);
  return true;
}

enum MHD_Result nb_api_fw_upload(nb_http_req *rq) {
  nb_api_ctx *a = nb_api_of(rq);
  nb_fws_upload *u = rq->sink_user;
  nb_fws_image img;
  memset(&img, 0, sizeof(img));
  if (!u) return nb_http_reply_error(rq, 500, "upload not started", "5.00");
  if (rq->sink_err == NB_ERR_IO)
    return nb_http_reply_error(rq, 507, "the server's disk refused the image", "5.07");
  if (rq->sink_err != NB_OK) return nb_http_reply_error(rq, 500, "upload failed", "5.00");
  if (nb_fws_upload_size(u) == 0)
    return nb_http_reply_error(rq, 400, "empty body: send the image as the body", "4.00");
  if (!upload_name(rq, img.name))
    return nb_http_reply_error(rq, 400, "name: at most 127 printable bytes", "4.00");
  img.size = nb_fws_upload_size(u);
  uint8_t head[4096];
  size_t head_len = 0;
  rq->sink_end = NULL; /* commit frees the upload */
  rq->sink_user = NULL;
  nb_err rc = nb_fws_upload_commit(u, img.sha256, head, sizeof(head), &head_len);
  if (rc != NB_OK) return nb_http_reply_error(rq, 507, "the image could not be stored", "5.07");
  nb_fws_manifest_sniff(head, head_len, img.version, img.vendor);
  img.uploaded_at = nb_api_now_unix(a);
  if (nb_fws_image_add(a->fw, &img) != NB_OK)
    return nb_http_reply_error(rq, 500, "out of memory", "5.00");
  NB_LOG_INFO(MOD, "event=firmware-uploaded sha256=%s size=%llu version=%s", img.sha256,
              (unsigned long long)img.size, img.version[0] ? img.version : "unknown");
  nb_api_audit(rq, "firmware-upload", "", img.sha256, "2.01");
  return nb_http_reply_json(rq, 201, nb_fws_image_json(&img));
}

/* ---- images ---- */

/* A page of images, in sha256 order (the API's lists by name). */
enum MHD_Result nb_api_fw_list(nb_http_req *rq) {
  nb_api_ctx *a = nb_api_of(rq);
  nb_page_keys page;
  enum MHD_Result ret;
  if (!nb_http_key_page(rq, &page, &ret)) return ret;
  for (size_t i = 0; i < nb_fws_image_count(a->fw); i++)
    nb_page_keys_offer(&page, nb_fws_image_at(a->fw, i)->sha256);
  nb_page_keys_finish(&page);
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < page.n; i++)
    json_array_append_new(arr, nb_fws_image_json(nb_fws_image_find(a->fw, page.keys[i])));
  return nb_http_reply_key_page(rq, arr, &page);
}

static const nb_fws_image *image_param(nb_http_req *rq) {
  char sha[NB_FWS_SHA_HEX];
  if (!nb_route_param(&rq->params, 0, sha, sizeof(sha))) return NULL;
  return nb_fws_image_find(nb_api_of(rq)->fw, sha);
}

enum MHD_Result nb_api_fw_get(nb_http_req *rq) {
  const nb_fws_image *img = image_param(rq);
  if (!img) return nb_http_reply_error(rq, 404, "no such image", "4.04");
  return nb_http_reply_json(rq, 200, nb_fws_image_json(img));
}

enum MHD_Result nb_api_fw_delete(nb_http_req *rq) {
  nb_api_ctx *a = nb_api_of(rq);
  const nb_fws_image *img = image_param(rq);
  if (!img) return nb_http_reply_error(rq, 404, "no such image", "4.04");
  char sha[NB_FWS_SHA_HEX];
  snprintf(sha, sizeof(sha), "%s", img->sha256);
  nb_err rc = nb_fws_image_remove(a->fw, sha);
  if (rc == NB_ERR_BUSY)
    return nb_http_reply_error(rq, 409, "a running or paused campaign uses this image", "4.09");
  nb_fws_repo_remove(a->fw_repo, sha);
  nb_api_audit(rq, "firmware-delete", "", sha, "2.02");
  return nb_http_reply_json(rq, 200, json_pack("{s:s}", "deleted", sha));
}

/* ---- campaigns ---- */

static enum MHD_Result start_reply(nb_http_req *rq, const nb_fws_spec *spec, const char *ep) {
  nb_api_ctx *a = nb_api_of(rq);
  char id[NB_FWS_CAMP_ID_MAX];
  nb_err rc = nb_fws_campaign_start(a->fw, spec, nb_io_loop_now(a->loop), id);
  if (rc == NB_ERR_NOT_FOUND) return nb_http_reply_error(rq, 404, "no such image", "4.04");
  if (rc == NB_ERR_UNSUPPORTED)
    return nb_http_reply_error(
        rq, 400, "pull needs the URI devices reach this server at: start it with --firmware-url",
        "4.00");
  if (rc == NB_ERR_RANGE)
    return nb_http_reply_error(rq, 400, "no registered device matches the targets", "4.00");
  if (rc != NB_OK) return nb_http_reply_error(rq, 500, nb_strerror(rc), "5.00");
  nb_api_audit(rq, "firmware-campaign", ep ? ep : "", id, "2.01");
  return nb_http_reply_json(rq, 201, nb_fws_campaign_json(a->fw, id, true));
}

enum MHD_Result nb_api_campaign_create(nb_http_req *rq) {
  nb_fws_spec spec;
  char why[160];
  nb_err rc = nb_fws_spec_parse(rq->body, rq->body_len, &spec, why, sizeof(why));
  enum MHD_Result r = rc == NB_OK          ? start_reply(rq, &spec, NULL)
                      : rc == NB_ERR_NOMEM ? nb_http_reply_error(rq, 500, "out of memory", "5.00")
                                           : nb_http_reply_error(rq, 400, why, "4.00");
  nb_fws_spec_deinit(&spec);
  return r;
}

/* {"image": sha256, "method": "push"|"pull", "retries": n}: a campaign of one device. */
enum MHD_Result nb_api_fw_client_update(nb_http_req *rq) {
  nb_api_ctx *a = nb_api_of(rq);
  char ep[NB_SERVER_EP_MAX], why[160];
  if (!nb_route_param(&rq->params, 0, ep, sizeof(ep)) || !nb_server_find(a->srv, ep))
    return nb_http_reply_error(rq, 404, "endpoint not registered", "4.04");
  json_t *b = nb_http_req_json(rq, why, sizeof(why));
  if (!b) return nb_http_reply_error(rq, 400, why, "4.00");
  /* The same rules as a campaign's body, with this endpoint as its one target. */
  json_t *targets = json_pack("{s:[s]}", "endpoints", ep);
  int bad = !json_is_object(b) || json_object_get(b, "targets") ||
            json_object_get(b, "concurrency") || !targets;
  if (!bad)
    json_object_set_new(b, "targets", targets);
  else
    json_decref(targets);
  char *text = bad ? NULL : json_dumps(b, JSON_COMPACT);
  json_decref(b);
  if (!text)
    return nb_http_reply_error(rq, 400, "the body: {\"image\", \"method\", \"retries\"}", "4.00");
  nb_fws_spec spec;
  nb_err rc = nb_fws_spec_parse(text, strlen(text), &spec, why, sizeof(why));
  free(text);
  spec.concurrency = 1;
  enum MHD_Result r =
      rc == NB_OK ? start_reply(rq, &spec, ep) : nb_http_reply_error(rq, 400, why, "4.00");
  nb_fws_spec_deinit(&spec);
  return r;
}

static void offer_id(void *page, const char *id) { nb_page_keys_offer(page, id); }

/* A page of campaigns, in id order (the API's lists by name), without their devices. */
enum MHD_Result nb_api_campaign_list(nb_http_req *rq) {
  nb_api_ctx *a = nb_api_of(rq);
  nb_page_keys page;
  enum MHD_Result ret;
  if (!nb_http_key_page(rq, &page, &ret)) return ret;
  nb_fws_campaign_each(a->fw, offer_id, &page);
  nb_page_keys_finish(&page);
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < page.n; i++)
    json_array_append_new(arr, nb_fws_campaign_json(a->fw, page.keys[i], false));
  return nb_http_reply_key_page(rq, arr, &page);
}

static bool camp_param(nb_http_req *rq, char *id) {
  return nb_route_param(&rq->params, 0, id, NB_FWS_CAMP_ID_MAX);
}

enum MHD_Result nb_api_campaign_get(nb_http_req *rq) {
  char id[NB_FWS_CAMP_ID_MAX];
  json_t *j = camp_param(rq, id) ? nb_fws_campaign_json(nb_api_of(rq)->fw, id, true) : NULL;
  if (!j) return nb_http_reply_error(rq, 404, "no such campaign", "4.04");
  return nb_http_reply_json(rq, 200, j);
}

typedef nb_err (*camp_action)(nb_fws *f, const char *id, nb_time_ms now);

static enum MHD_Result act(nb_http_req *rq, camp_action fn, const char *op, const char *refusal) {
  nb_api_ctx *a = nb_api_of(rq);
  char id[NB_FWS_CAMP_ID_MAX];
  nb_err rc = camp_param(rq, id) ? fn(a->fw, id, nb_io_loop_now(a->loop)) : NB_ERR_NOT_FOUND;
  if (rc == NB_ERR_NOT_FOUND) return nb_http_reply_error(rq, 404, "no such campaign", "4.04");
  if (rc == NB_ERR_STATE) return nb_http_reply_error(rq, 409, refusal, "4.09");
  nb_api_audit(rq, op, "", id, "2.04");
  return nb_http_reply_json(rq, 200, nb_fws_campaign_json(a->fw, id, false));
}

enum MHD_Result nb_api_campaign_pause(nb_http_req *rq) {
  return act(rq, nb_fws_campaign_pause, "campaign-pause", "the campaign is not running");
}

enum MHD_Result nb_api_campaign_resume(nb_http_req *rq) {
  return act(rq, nb_fws_campaign_resume, "campaign-resume", "the campaign is not paused");
}

enum MHD_Result nb_api_campaign_cancel(nb_http_req *rq) {
  return act(rq, nb_fws_campaign_cancel, "campaign-cancel", "the campaign is over already");
}

enum MHD_Result nb_api_campaign_delete(nb_http_req *rq) {
  nb_api_ctx *a = nb_api_of(rq);
  char id[NB_FWS_CAMP_ID_MAX];
  nb_err rc = camp_param(rq, id) ? nb_fws_campaign_delete(a->fw, id) : NB_ERR_NOT_FOUND;
  if (rc == NB_ERR_NOT_FOUND) return nb_http_reply_error(rq, 404, "no such campaign", "4.04");
  if (rc == NB_ERR_STATE)
    return nb_http_reply_error(rq, 409, "cancel the campaign before deleting it", "4.09");
  nb_api_audit(rq, "campaign-delete", "", id, "2.02");
  return nb_http_reply_json(rq, 200, json_pack("{s:s}", "deleted", id));
}

/* ---- events ---- */

void nb_api_fw_event(void *user, const nb_fws_event *ev) {
  json_t *j = json_pack("{s:s,s:s}", "campaign", ev->campaign, "state", ev->state);
  if (!j) return;
  if (ev->ep) {
    json_object_set_new(j, "endpoint", json_string(ev->ep));
    json_object_set_new(j, "updateResult",
                        ev->update_result >= 0 ? json_integer(ev->update_result) : json_null());
    if (ev->error && ev->error[0]) json_object_set_new(j, "error", json_string(ev->error));
  }
  nb_http_events_publish(user, ev->ep ? ev->ep : "",
                         ev->ep ? "FIRMWARE_DEVICE" : "FIRMWARE_CAMPAIGN", j);
}
