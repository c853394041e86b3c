/* A management server's security store reached through its REST API (`/api/security/clients`),
 * for a bootstrap server that runs apart from the server (`niobium bootstrap --server-api URL`):
 * installing or dropping a device's credential is one blocking HTTP request each, so a failed
 * install fails the bootstrap before Finish. Only sec_put and sec_del are served (all the
 * bootstrap engine uses); the others answer NB_ERR_UNSUPPORTED. Owns copies of URL and token. */
#ifndef NB_HTTP_REMOTE_STORE_H
#define NB_HTTP_REMOTE_STORE_H

#include "base/err.h"
#include "server/store.h"

typedef struct nb_http_remote_store nb_http_remote_store;

/* base: "http://host:port" of the server's API; token: its --api-token (NULL for none);
 * timeout_ms per request (0 = 5000). */
nb_err nb_http_remote_store_new(const char *base, const char *token, unsigned timeout_ms,
                                nb_http_remote_store **out);
void nb_http_remote_store_free(nb_http_remote_store *rs);
nb_server_store nb_http_remote_store_iface(nb_http_remote_store *rs);

#endif
