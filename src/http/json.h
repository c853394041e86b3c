/* JSON shapes of the REST API (jansson): registrations, typed values and records out, and
 * records in (values typed from the object definitions), shared by the API routes and the
 * event stream. Owns nothing; returned json_t are new references. */
#ifndef NB_HTTP_JSON_H
#define NB_HTTP_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"
#include "lwm2m/model.h"
#include "lwm2m/path.h"
#include "lwm2m/value.h"
#include "server/server.h"

/* Compact text of j (malloc'd, NULL when memory is short) with every real printed with the
 * fewest significant digits that still read back as the same double across the document
 * (20.44, not jansson's default 20.440000000000001), and a whole one without an exponent up to
 * 17 digits (20.0, not "2e1"). */
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
