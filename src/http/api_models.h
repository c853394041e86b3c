/* REST handlers of the object definitions the server types values with (/api/objectspecs):
 * the built-in tables and every DDF file given with --ddf, shaped like Leshan's object specs
 * (id, name, instancetype, mandatory, version, resourcedefs with operations, type, range and
 * units), so that the console and Leshan users can name objects and resources. Owns nothing. */
#ifndef NB_HTTP_API_MODELS_H
#define NB_HTTP_API_MODELS_H

#include <jansson.h>

#include "http/httpd.h"
#include "lwm2m/model.h"

/* One definition as the API shows it (a new reference; NULL when memory is short). */
json_t *nb_http_json_object_def(const nb_object_def *def);

enum MHD_Result nb_api_objectspecs_list(nb_http_req *rq); /* by id, a page at a time */
enum MHD_Result nb_api_objectspec_get(nb_http_req *rq);

#endif
