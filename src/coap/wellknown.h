/* Resource discovery of a CoAP server (RFC 6690 4, RFC 7252 7.2): the answer to
 * GET /.well-known/core, a link-format list of the server's resources filtered by the request's
 * query. The resources are a table the caller owns (nb_coap_wk_link); this module owns nothing.
 * Used by the LwM2M server (/rd, /dp) and the bootstrap server (/bs). */
#ifndef NB_COAP_WELLKNOWN_H
#define NB_COAP_WELLKNOWN_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "coap/endpoint.h"
#include "coap/link.h"
#include "coap/msg.h"

#define NB_COAP_WK_PARAMS_MAX 4

/* One resource: its target and attributes, as the link-format answer writes them. */
typedef struct {
  const char *target; /* "/rd" */
  nb_link_param params[NB_COAP_WK_PARAMS_MAX];
  size_t param_count;
} nb_coap_wk_link;

/* True when req's Uri-Path is /.well-known/core. */
bool nb_coap_wk_is_request(const nb_coap_msg *req);

/* Appends to out the links of `links` that match every filter of req's query (RFC 6690 4.1):
 * `href=` compares the target, any other name an attribute of that name; a value ending in '*'
 * matches as a prefix; an attribute whose value is a space-separated list (rt="a b") matches
 * when one of its words does; a bare name (`?obs`) matches links that carry that attribute.
 * No link matching leaves out empty. */
nb_err nb_coap_wk_write(const nb_coap_wk_link *links, size_t n, const nb_coap_msg *req,
                        nb_bytes *out);

/* Answers a request to /.well-known/core: 2.05 with Content-Format 40 and the matching links
 * (an empty payload when none match, as libcoap does), 4.05 to a method other than GET, 5.00
 * when memory is short. */
nb_err nb_coap_wk_respond(nb_coap_exchange *ex, const nb_coap_msg *req,
                          const nb_coap_wk_link *links, size_t n, nb_time_ms now);

#endif
