/* SQLite backend of the server store (server/store.h): registrations, observations, security
 * credentials, the audit log and the evidence of signed device data in one database file, WAL
 * mode, every statement prepared once, schema versioned with PRAGMA user_version and migrated
 * forward on open. Owns the connection and its statements. */
#ifndef NB_STORE_SQLITE_H
#define NB_STORE_SQLITE_H

#include "base/err.h"
#include "server/store.h"

typedef struct nb_store_sqlite nb_store_sqlite;

/* Schema version this build writes (migrations bring older files up to it). */
#define NB_STORE_SQLITE_SCHEMA 6

/* Opens or creates the database at path (":memory:" for a private one) and migrates it. A new
 * file is created 0600 (its -wal and -shm follow); NB_ERR_PERM with a logged reason when it or
 * a companion may be read or written by group or others (nb_privfile_prepare_db), NB_ERR_IO
 * when the file cannot be opened or is newer than this build. */
nb_err nb_store_sqlite_open(const char *path, nb_store_sqlite **out);
/* Opens an existing database read-only (nothing created, migrated or written; every write
 * operation of the interface then fails with NB_ERR_IO): for tools that only look, such as the
 * monitor reading the server's PSKs. NB_ERR_IO when the file is missing or not a store. */
nb_err nb_store_sqlite_open_readonly(const char *path, nb_store_sqlite **out);
void nb_store_sqlite_close(nb_store_sqlite *st);
/* The store interface over this backend (valid until close). */
nb_server_store nb_store_sqlite_iface(nb_store_sqlite *st);
/* PRAGMA user_version of the open file. */
int nb_store_sqlite_schema_version(nb_store_sqlite *st);
/* EXPLAIN QUERY PLAN of every statement that looks rows up by key (a registration, observation
 * or credential by endpoint name, a credential by kind and identity as a DTLS handshake asks,
 * an endpoint's evidence): NB_OK when each searches an index, NB_ERR_IO with the statement and
 * the plan step that scans its table in why otherwise. For tests: a scan costs a handshake
 * time in proportion to the fleet. */
nb_err nb_store_sqlite_check_plans(nb_store_sqlite *st, char *why, size_t cap);

#endif
