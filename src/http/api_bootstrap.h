/* REST handlers of the bootstrap role (/api/bootstrap, served by `niobium server
 * --with-bootstrap` and `niobium bootstrap --http`): configs, requests pending approval and
 * the decision on them, the secure IDs expected of raw-public-key devices, and the evidence of
 * signed bootstraps. Owns nothing beyond a request. */
#ifndef NB_HTTP_API_BOOTSTRAP_H
#define NB_HTTP_API_BOOTSTRAP_H

#include "http/httpd.h"

enum MHD_Result nb_api_bs_configs_list(nb_http_req *rq);
/* /api/bootstrap/configs/{name} ("default" names the default config) */
enum MHD_Result nb_api_bs_config_get(nb_http_req *rq);
enum MHD_Result nb_api_bs_config_put(nb_http_req *rq);
enum MHD_Result nb_api_bs_config_delete(nb_http_req *rq);
enum MHD_Result nb_api_bs_pending_list(nb_http_req *rq);
enum MHD_Result nb_api_bs_approve(nb_http_req *rq);
enum MHD_Result nb_api_bs_reject(nb_http_req *rq);
enum MHD_Result nb_api_bs_expected_list(nb_http_req *rq);
enum MHD_Result nb_api_bs_expected_put(nb_http_req *rq);
enum MHD_Result nb_api_bs_expected_delete(nb_http_req *rq);
enum MHD_Result nb_api_bs_evidence(nb_http_req *rq);

#endif
