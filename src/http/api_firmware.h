/* Firmware routes of the REST API (docs/firmware.md, docs/openapi.yaml): images uploaded as raw
 * bodies streamed to disk (/api/firmware), a push or pull to one device
 * (/api/clients/{ep}/firmware) and campaigns (/api/campaigns), over the firmware service
 * (fw/fwupdate.h) and the image files (io/fwrepo.h) the process gives the API. Owns nothing. */
#ifndef NB_HTTP_API_FIRMWARE_H
#define NB_HTTP_API_FIRMWARE_H

#include "fw/fwupdate.h"
#include "http/httpd.h"

enum MHD_Result nb_api_fw_upload_begin(nb_http_req *rq, uint64_t length);
enum MHD_Result nb_api_fw_upload(nb_http_req *rq);
enum MHD_Result nb_api_fw_list(nb_http_req *rq);
enum MHD_Result nb_api_fw_get(nb_http_req *rq);
enum MHD_Result nb_api_fw_delete(nb_http_req *rq);
enum MHD_Result nb_api_fw_client_update(nb_http_req *rq);
enum MHD_Result nb_api_campaign_create(nb_http_req *rq);
enum MHD_Result nb_api_campaign_list(nb_http_req *rq);
enum MHD_Result nb_api_campaign_get(nb_http_req *rq);
enum MHD_Result nb_api_campaign_pause(nb_http_req *rq);
enum MHD_Result nb_api_campaign_resume(nb_http_req *rq);
enum MHD_Result nb_api_campaign_cancel(nb_http_req *rq);
enum MHD_Result nb_api_campaign_delete(nb_http_req *rq);

/* The service's events as FIRMWARE frames on /api/events (user: the nb_http_events). */
void nb_api_fw_event(void *user, const nb_fws_event *ev);

#endif
