/* REST handlers of the security store (/api/security/clients): the credential each endpoint
 * must present (PSK identity and key, raw public key, certificate CN), listed without secrets,
 * set, read and deleted, each change in the audit log. Owns nothing beyond a request. */
#ifndef NB_HTTP_API_SECURITY_H
#define NB_HTTP_API_SECURITY_H

#include "http/httpd.h"

enum MHD_Result nb_api_security_list(nb_http_req *rq);
enum MHD_Result nb_api_security_post(nb_http_req *rq); /* endpoint named in the body */
enum MHD_Result nb_api_security_get(nb_http_req *rq);
enum MHD_Result nb_api_security_put(nb_http_req *rq);
enum MHD_Result nb_api_security_delete(nb_http_req *rq);

#endif
