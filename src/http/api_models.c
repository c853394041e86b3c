/* Object definition routes: see api_models.h. */
#include "http/api_models.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "http/api_ctx.h"

/* Leshan's names of the resource types (its ResourceModel.Type in lowercase). */
static const char *type_name(nb_value_type t) {
  static const char *const names[] = {
      [NB_VT_NONE] = "none",       [NB_VT_INT] = "integer",  [NB_VT_UINT] = "unsigned_integer",
      [NB_VT_FLOAT] = "float",     [NB_VT_BOOL] = "boolean", [NB_VT_STRING] = "string",
      [NB_VT_OPAQUE] = "opaque",   [NB_VT_TIME] = "time",    [NB_VT_OBJLNK] = "objlnk",
      [NB_VT_CORELNK] = "corelink"};
  return (size_t)t < sizeof(names) / sizeof(names[0]) && names[t] ? names[t] : "none";
}

static const char *instance_type(bool multiple) { return multiple ? "multiple" : "single"; }

static json_t *resource_json(const nb_resource_def *r) {
  const char *ops = r->ops == NB_OP_NONE ? "NONE" : nb_op_name(r->ops);
  return json_pack("{s:i,s:s,s:s,s:s,s:b,s:s,s:s,s:s}", "id", (int)r->id, "name",
                   r->name ? r->name : "", "operations", ops, "instancetype",
                   instance_type(r->multiple), "mandatory", r->mandatory, "type",
                   type_name(r->type), "range", r->range ? r->range : "", "units",
                   r->units ? r->units : "");
}

json_t *nb_http_json_object_def(const nb_object_def *def) {
  json_t *res = json_array();
  for (size_t i = 0; res && i < def->resource_count; i++)
    if (json_array_append_new(res, resource_json(&def->resources[i])) != 0) {
      json_decref(res);
      return NULL;
    }
  json_t *j =
      json_pack("{s:i,s:s,s:s,s:b,s:s,s:o}", "id", (int)def->id, "name", def->name ? def->name : "",
                "instancetype", instance_type(def->multiple), "mandatory", def->mandatory,
                "version", def->version ? def->version : "1.0", "resourcedefs", res);
  if (j && def->lwm2m_version)
    json_object_set_new(j, "lwm2mversion", json_string(def->lwm2m_version));
  if (j && def->urn) json_object_set_new(j, "urn", json_string(def->urn));
  return j;
}

/* The definitions of this process: the server's (built-in and --ddf), or the built-in ones
 * where only a bootstrap server runs. */
static const nb_model *model_of(const nb_http_req *rq) {
  const nb_api_ctx *api = nb_api_of(rq);
  return api->srv ? nb_server_model(api->srv) : nb_model_builtin();
}

/* An object ID 0..65534 from decimal text; false otherwise. */
static bool parse_id(const char *text, uint16_t *out) {
  if (!text || *text < '0' || *text > '9') return false;
  char *end;
  errno = 0;
  unsigned long v = strtoul(text, &end, 10);
  if (*end || errno || v > 65534) return false;
  *out = (uint16_t)v;
  return true;
}

/* GET /api/objectspecs: ascending id, the cursor is the last id of the previous page. */
enum MHD_Result nb_api_objectspecs_list(nb_http_req *rq) {
  nb_page_query q;
  enum MHD_Result ret;
  if (!nb_http_page_query(rq, &q, &ret)) return ret;
  uint16_t after = 0;
  if (q.has_cursor && !parse_id(q.cursor, &after))
    return nb_http_reply_error(rq, 400, "cursor must be one this list gave (its Link header)",
                               "4.00");
  const nb_model *m = model_of(rq);
  json_t *arr = json_array();
  size_t n = nb_model_count(m), taken = 0;
  const nb_object_def *last = NULL;
  bool more = false;
  for (size_t i = 0; arr && i < n && !more; i++) {
    const nb_object_def *d = nb_model_at(m, i);
    if (q.has_cursor && d->id <= after) continue;
    if (taken == q.limit) {
      more = true;
      break;
    }
    json_t *j = nb_http_json_object_def(d);
    if (!j || json_array_append_new(arr, j) != 0) {
      json_decref(arr);
      arr = NULL;
      break;
    }
    last = d;
    taken++;
  }
  char cursor[8];
  if (last) snprintf(cursor, sizeof cursor, "%u", (unsigned)last->id);
  return nb_http_reply_page(rq, arr, q.limit, more && last ? cursor : NULL);
}

enum MHD_Result nb_api_objectspec_get(nb_http_req *rq) {
  char text[8];
  uint16_t id;
  if (!nb_route_param(&rq->params, 0, text, sizeof text) || !parse_id(text, &id))
    return nb_http_reply_error(rq, 404, "an object ID is a number from 0 to 65534", "4.04");
  const nb_object_def *d = nb_model_object(model_of(rq), id);
  if (!d) return nb_http_reply_error(rq, 404, "no definition of this object (--ddf)", "4.04");
  json_t *j = nb_http_json_object_def(d);
  if (!j) return nb_http_reply_error(rq, 500, "out of memory", "5.00");
  return nb_http_reply_json(rq, 200, j);
}
