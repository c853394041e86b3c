/* Console routes: see api_console.h. */
#include "http/api_console.h"

#include <string.h>

#include "http/api_ctx.h"
#include "http/console.h"

enum MHD_Result nb_api_console_file(nb_http_req *rq) {
  const nb_console_asset *a = nb_console_find(rq->path);
  if (!a)
    return nb_http_reply_error(rq, 404,
                               nb_console_asset_count
                                   ? "no such file of the console"
                                   : "this build has no web console (npm was missing at build "
                                     "time: scripts/install-deps, then rebuild)",
                               "4.04");
  const nb_api_ctx *api = nb_api_of(rq);
  const char *headers[] = {"Cache-Control",
                           "no-cache",
                           "ETag",
                           a->etag,
                           "Content-Security-Policy",
                           api->console_csp,
                           "X-Content-Type-Options",
                           "nosniff",
                           "X-Frame-Options",
                           "DENY",
                           "Referrer-Policy",
                           "no-referrer",
                           "Cross-Origin-Opener-Policy",
                           "same-origin",
                           "Cross-Origin-Resource-Policy",
                           "same-origin",
                           "Permissions-Policy",
                           "camera=(self), geolocation=(), microphone=()",
                           NULL};
  const char *inm = nb_http_header(rq, "If-None-Match");
  if (inm && strcmp(inm, a->etag) == 0)
    return nb_http_reply_static(rq, 304, NULL, 0, NULL, headers);
  return nb_http_reply_static(rq, 200, a->data, a->len, nb_console_type(a->path), headers);
}

/* GET /console/config.json: what the console cannot know by itself (which roles run here,
 * whether to ask for the token before its first request, the map tiles). */
enum MHD_Result nb_api_console_config(nb_http_req *rq) {
  const nb_api_ctx *api = nb_api_of(rq);
  json_t *j = json_pack("{s:b,s:b,s:b}", "server", api->srv != NULL, "bootstrap",
                        api->bootstrap != NULL, "tokenRequired", api->token_required);
  if (j && api->console_tiles) json_object_set_new(j, "tiles", json_string(api->console_tiles));
  return nb_http_reply_json(rq, 200, j);
}
