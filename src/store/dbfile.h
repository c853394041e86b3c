/* What the commands need around a database file before and after they open it: one running
 * process per role on a database (a lock held for the process's life, so two `niobium server`
 * on one --db are refused with a clear message while a server and a bootstrap server may share
 * it), a check that a file a read-only command names exists (it is never created), and the
 * reason, in words, why a database could not be opened. Owns the lock's descriptor. */
#ifndef NB_STORE_DBFILE_H
#define NB_STORE_DBFILE_H

#include <stddef.h>

#include "base/err.h"

typedef enum {
  NB_DB_ROLE_SERVER,    /* `niobium server` */
  NB_DB_ROLE_BOOTSTRAP, /* `niobium bootstrap`, `niobium server --with-bootstrap` */
} nb_db_role;

typedef struct nb_dbfile_lock nb_dbfile_lock;

/* Takes role's lock on the database at path: an open file description lock on one byte range
 * of the file PATH.lock (created 0600 beside it, holding the holders' process IDs; removed by
 * the last one to release it), released when the process ends however it ends. NB_ERR_BUSY
 * when another process holds it (why names that process and the fix), NB_ERR_IO when the lock
 * file cannot be made (why says why). ":memory:" and "" take no lock (*out NULL, NB_OK). */
nb_err nb_dbfile_lock_take(const char *path, nb_db_role role, nb_dbfile_lock **out, char *why,
                           size_t cap);
void nb_dbfile_lock_release(nb_dbfile_lock *lock);

/* For commands that only read: NB_OK when path names an existing regular file, else
 * NB_ERR_NOT_FOUND with why "no such database: PATH (check --db)" (or what else it is). */
nb_err nb_dbfile_require(const char *path, char *why, size_t cap);

/* After an open failed: why, in words, a database at path cannot be used (missing, not
 * readable or writable, not an SQLite database, written by a newer build...), for the
 * command's error line. */
void nb_dbfile_explain(const char *path, char *why, size_t cap);

#endif
