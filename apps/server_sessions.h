/* `niobium server`'s DTLS sessions kept across a graceful restart (docs/server.md, "Restart
 * and DTLS sessions"): at stop, the established sessions of every coaps socket sealed into the
 * session file under the operator's key (dtls/sessfile.h); at start, that file read, removed,
 * and its sessions restored, their registrations reachable at once. Owns the key while the
 * server runs (wiped by server_sessions_forget). Never logs a key. */
#ifndef NB_APPS_SERVER_SESSIONS_H
#define NB_APPS_SERVER_SESSIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "dtls/sessfile.h"
#include "io/dtls_server_io.h"
#include "server/server.h"

typedef struct {
  bool on; /* --session-key-file given and read */
  uint8_t key[NB_DTLS_SESSFILE_KEY_LEN];
  char path[4096];        /* the session file */
  int64_t max_age_ms;     /* a file older than this is refused */
  int64_t clock_offset;   /* Unix ms = loop ms + offset */
  nb_server_store *store; /* the credentials a session is checked against */
} server_sessions;

/* Reads the key file; the session file is `file`, else `db` + ".sessions". Prints why and
 * returns false when the key cannot be used. */
bool server_sessions_init(server_sessions *ss, const char *key_file, const char *file,
                          const char *db, unsigned long max_age_s, int64_t clock_offset,
                          nb_server_store *store);
/* At start, once the coaps sockets listen and registrations are restored. A session whose
 * credential left the store or changed meanwhile (another PSK for its identity) is not
 * restored. */
void server_sessions_restore(server_sessions *ss, nb_io_srv *net, nb_server *srv, nb_time_ms now);
/* At stop, before the sockets close. */
void server_sessions_save(server_sessions *ss, nb_io_srv *net, nb_time_ms now);
void server_sessions_forget(server_sessions *ss);

#endif
