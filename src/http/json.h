/* JSON shapes of the REST API (jansson): registrations, typed values and records out, and
 * records in (values typed from the object definitions), shared by the API routes and the
 * event stream. Owns nothing; returned json_t are new references. */
#ifndef NB_HTTP_JSON_H
#define NB_HTTP_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "base/buf.h"
#include "base/err.h"
#include "lwm2m/model.h"
#include "lwm2m/path.h"
#include "lwm2m/value.h"
#include "server/server.h"

/* Appends j's compact text to out (on failure out is as it was): keys in insertion order,
 * strings escaped as jansson escapes them, and every real with the fewest of 15, 16 or 17
 * significant digits that read back as the same double, always as a real (20.44, 20.0, 1e300;
 * not jansson's 20.440000000000001 nor 2e1). */
nb_err nb_http_json_append(nb_bytes *out, const json_t *j);
/* The same text, malloc'd (NULL when memory is short). */
char *nb_http_json_text(const json_t *j);

/* A registration as the API shows it (awake: queue-mode reachability). */
json_t *nb_http_json_reg(const nb_server_reg_info *r, bool awake);
/* A value with its natural JSON type (opaque as lowercase hex, objlnk "o:i"). */
json_t *nb_http_json_value(const nb_value *v);
/* [{"path","type","value"}...] */
json_t *nb_http_json_records(const nb_records *recs);

/* Builds a typed value for the resource at p from JSON (type from the model, or from
 * type_name when given, else the JSON's own type). NB_ERR_INVAL with a reason otherwise. */
nb_err nb_http_json_to_value(const nb_model *m, const nb_path *p, const json_t *j,
                             const char *type_name, nb_value *out, char *reason, size_t cap);
/* Records of a write/create body: {"value": v} (target must be a resource or resource
 * instance) or {"content": [{"path", "value", "type"?}...]}, paths absolute or relative to
 * base ("/o/i/r" or "r" / "r/ri"). */
nb_err nb_http_json_to_records(const nb_model *m, const nb_path *base, const json_t *body,
                               nb_records *out, char *reason, size_t cap);

#endif
