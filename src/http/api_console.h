/* REST handlers of the web console: its embedded files (console.h) at / and /console/...,
 * with their security headers and ETags, and /console/config.json (the map's tile URL).
 * No token is needed for them: they hold no secret and change nothing. Owns nothing. */
#ifndef NB_HTTP_API_CONSOLE_H
#define NB_HTTP_API_CONSOLE_H

#include "http/httpd.h"

enum MHD_Result nb_api_console_file(nb_http_req *rq);
enum MHD_Result nb_api_console_config(nb_http_req *rq);

#endif
