/* REST handlers of registered clients and the device management operations on them
 * (/api/clients...): registrations, Read/Write/Execute/Create/Delete, Discover, Write-
 * Attributes, Observe and its cancellation (by path, by composite path set, by ID), composite
 * operations, the observations held, the value history, the evidence of signed data, and the
 * results of requests queued for sleeping devices (/api/requests/{id}). A request that waits on a
 * device is held until the engine answers; a dev_call owned by the engine's callback lets either
 * side go first. Owns nothing beyond a request. */
#ifndef NB_HTTP_API_CLIENTS_H
#define NB_HTTP_API_CLIENTS_H

#include "http/httpd.h"

enum MHD_Result nb_api_clients_list(nb_http_req *rq);
enum MHD_Result nb_api_client_get(nb_http_req *rq);
enum MHD_Result nb_api_client_composite(nb_http_req *rq);
/* DELETE .../composite/observe?paths=/a,/b: cancels the composite observations of that path
 * set. */
enum MHD_Result nb_api_client_composite_cancel(nb_http_req *rq);
enum MHD_Result nb_api_client_observations(nb_http_req *rq);
/* DELETE .../observations/{id}: cancels one observation, single or composite, by its ID. */
enum MHD_Result nb_api_client_observation_cancel(nb_http_req *rq);
enum MHD_Result nb_api_client_evidence(nb_http_req *rq);
/* Routes with a path: /api/clients/{ep}/{path*}[/word]. */
enum MHD_Result nb_api_client_history(nb_http_req *rq);
enum MHD_Result nb_api_client_observe(nb_http_req *rq);
enum MHD_Result nb_api_client_observe_cancel(nb_http_req *rq);
enum MHD_Result nb_api_client_discover(nb_http_req *rq);
enum MHD_Result nb_api_client_attributes(nb_http_req *rq);
enum MHD_Result nb_api_client_read(nb_http_req *rq);
enum MHD_Result nb_api_client_write(nb_http_req *rq); /* PUT: replace, or ?replace=false */
enum MHD_Result nb_api_client_post(nb_http_req *rq);  /* create, partial write or execute */
enum MHD_Result nb_api_client_delete(nb_http_req *rq);
/* /api/requests/{id}: the state and result of a request answered 202 QUEUED; DELETE cancels
 * it while it is still queued. */
enum MHD_Result nb_api_request_get(nb_http_req *rq);
enum MHD_Result nb_api_request_cancel(nb_http_req *rq);

#endif
