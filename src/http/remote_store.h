/* A management server's security store reached through its REST API (`/api/security/clients`),
 * for a bootstrap server that runs apart from the server (`niobium bootstrap --server-api URL`):
 * installing or dropping a device's credential is one asynchronous HTTP request through an
 * nb_http_client in the event loop, so no device's bootstrap waits for another's. A failed
 * install fails the bootstrap before Finish. Owns copies of URL and token. */
#ifndef NB_HTTP_REMOTE_STORE_H
#define NB_HTTP_REMOTE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "io/http_client.h"
#include "server/store.h"

typedef struct nb_http_remote_store nb_http_remote_store;

/* base: "http://host:port" (or https://) of the server's API; token: its --api-token (NULL
 * for none); ca_file: trust anchors (PEM) for an https:// API (NULL: the system's); timeout_ms
 * per request (0 = 5000). */
nb_err nb_http_remote_store_new(const char *base, const char *token, const char *ca_file,
                                unsigned timeout_ms, nb_http_remote_store **out);
void nb_http_remote_store_free(nb_http_remote_store *rs);

/* Asks the server once, synchronously (a start-up check: at most timeout_ms), whether it
 * takes our token: NB_OK, NB_ERR_DENIED (401/403), or another error with why filled (it
 * cannot be reached, or answers something else). */
nb_err nb_http_remote_store_probe(const nb_http_remote_store *rs, unsigned timeout_ms, char *why,
                                  size_t cap);

/* Completion of an asynchronous install: NB_OK when the server stored (or, for a drop, no
 * longer holds) the credential; NB_ERR_DENIED when it refused our token (401/403), NB_ERR_IO
 * when it refused otherwise; the client's error otherwise. */
typedef void (*nb_http_remote_done_fn)(void *user, uint64_t ticket, nb_err result);

/* PUTs cred (kind NONE: DELETEs ep's credential, 404 counting as done) through client; done
 * runs exactly once from the loop (NB_ERR_CANCELLED when the client is freed first). An error
 * returned here means done will not run. */
nb_err nb_http_remote_store_install(nb_http_remote_store *rs, nb_http_client *client,
                                    uint64_t ticket, const char *ep, const nb_server_sec_info *cred,
                                    nb_http_remote_done_fn done, void *user);

#endif
