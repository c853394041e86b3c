/* SQLite store of the bootstrap server: configs, device credentials, pending requests,
 * evidence of signed bootstraps. */
#include "bootstrap/config_store.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hex.h"
#include "base/log.h"
#include "base/privfile.h"
#include "dtls/cose_lwm2m.h"
#include "dtls/cred.h"
#include "dtls/qr.h"
#include "lwm2m/fmtutil.h"

struct nb_bs_store {
  sqlite3 *db;
};

/* Run in one write transaction (nb_bs_store_create_tables). */
static const char k_schema[] =
    "CREATE TABLE IF NOT EXISTS bs_config(ep TEXT PRIMARY KEY, json TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS bs_cred(ep TEXT PRIMARY KEY, kind INTEGER NOT NULL,"
    " identity TEXT NOT NULL, key BLOB);"
    "CREATE INDEX IF NOT EXISTS bs_cred_ident ON bs_cred(kind, identity);"
    /* A fresh bootstrap-account key not acknowledged yet (bootstrap.h nb_bs_pending_cred);
     * older databases get the table on their next open, and the priv column (an RPK's private
     * key, secret) from nb_bs_store_upgrade. */
    "CREATE TABLE IF NOT EXISTS bs_cred_pending(ep TEXT PRIMARY KEY, kind INTEGER NOT NULL,"
    " identity TEXT NOT NULL, key BLOB, prev TEXT NOT NULL, priv BLOB);"
    "CREATE INDEX IF NOT EXISTS bs_cred_pending_ident ON bs_cred_pending(kind, identity);"
    "CREATE TABLE IF NOT EXISTS bs_pending(ep TEXT PRIMARY KEY, peer TEXT, at INTEGER,"
    " decision TEXT);"
    "CREATE TABLE IF NOT EXISTS bs_evidence(ep TEXT NOT NULL, cti TEXT NOT NULL,"
    " seq INTEGER NOT NULL, kind TEXT NOT NULL, path TEXT NOT NULL, signer TEXT NOT NULL,"
    " at INTEGER NOT NULL, cose BLOB NOT NULL, PRIMARY KEY(ep, cti, seq));"
    /* One-time tasks done on this database (nb_bs_store_purge_secrets). */
    "CREATE TABLE IF NOT EXISTS bs_meta(key TEXT PRIMARY KEY, value TEXT);";

static nb_err nb_bs_sql_fail(nb_bs_store *st, const char *what) {
  NB_LOG_ERROR("bootstrap", "event=store-error op=%s reason=\"%s\"", what, sqlite3_errmsg(st->db));
  return NB_ERR_IO;
}

static bool nb_bs_has_column(nb_bs_store *st, const char *table, const char *col) {
  return sqlite3_table_column_metadata(st->db, NULL, table, col, NULL, NULL, NULL, NULL, NULL) ==
         SQLITE_OK;
}

/* Columns added since a table was first created. Their rows keep NULL there (a pending RPK
 * row without its private key is dropped, not written again: bootstrap.c). Another process may
 * add the column at the same moment: it is there either way. */
static int nb_bs_store_upgrade(nb_bs_store *st) {
  if (nb_bs_has_column(st, "bs_cred_pending", "priv")) return SQLITE_OK;
  int rc =
      sqlite3_exec(st->db, "ALTER TABLE bs_cred_pending ADD COLUMN priv BLOB", NULL, NULL, NULL);
  return rc == SQLITE_OK || nb_bs_has_column(st, "bs_cred_pending", "priv") ? SQLITE_OK : rc;
}

static void nb_bs_store_purge_secrets(nb_bs_store *st);

/* WAL first (outside a transaction, as SQLite requires), then the tables and the columns added
 * since, in one write transaction: a process opening a new database at the same moment (the
 * server's migrations, another bootstrap command) waits its turn (busy timeout) instead of
 * failing, and never sees half of the schema. */
static int nb_bs_store_create_tables(nb_bs_store *st) {
  int rc = sqlite3_busy_timeout(st->db, 2000);
  if (rc == SQLITE_OK) rc = sqlite3_exec(st->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_exec(st->db, k_schema, NULL, NULL, NULL);
  if (rc == SQLITE_OK) rc = nb_bs_store_upgrade(st);
  if (rc == SQLITE_OK) rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    nb_bs_sql_fail(st, "schema");
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  }
  return rc;
}

nb_err nb_bs_store_open(const char *path, nb_bs_store **out) {
  char why[512];
  nb_err perm = nb_privfile_prepare_db(path, why, sizeof why); /* 0600: it holds keys */
  if (perm != NB_OK) {
    NB_LOG_ERROR("bootstrap", "event=database_refused reason=\"%s\"", why);
    return perm;
  }
  nb_bs_store *st = calloc(1, sizeof *st);
  if (!st) return NB_ERR_NOMEM;
  if (sqlite3_open(path, &st->db) != SQLITE_OK || nb_bs_store_create_tables(st) != SQLITE_OK) {
    if (st->db) nb_bs_sql_fail(st, "open");
    sqlite3_close(st->db);
    free(st);
    return NB_ERR_IO;
  }
  nb_bs_store_purge_secrets(st);
  *out = st;
  return NB_OK;
}

nb_err nb_bs_store_open_readonly(const char *path, nb_bs_store **out) {
  nb_bs_store *st = calloc(1, sizeof *st);
  if (!st) return NB_ERR_NOMEM;
  sqlite3_stmt *q = NULL;
  nb_err e = NB_ERR_IO;
  if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_busy_timeout(st->db, 2000) == SQLITE_OK &&
      sqlite3_prepare_v2(st->db,
                         "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                         "('bs_config', 'bs_cred', 'bs_pending')",
                         -1, &q, NULL) == SQLITE_OK &&
      sqlite3_step(q) == SQLITE_ROW)
    e = sqlite3_column_int(q, 0) == 3 ? NB_OK : NB_ERR_NOT_FOUND;
  sqlite3_finalize(q);
  if (e != NB_OK) {
    sqlite3_close(st->db);
    free(st);
    return e;
  }
  *out = st;
  return NB_OK;
}

void nb_bs_store_close(nb_bs_store *st) {
  if (!st) return;
  sqlite3_close(st->db);
  free(st);
}

/* Prepares sql and binds text arguments in order ("s" text, "i" int64, "b" blob+len). */
static sqlite3_stmt *nb_bs_prep(nb_bs_store *st, const char *sql) {
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) {
    nb_bs_sql_fail(st, "prepare");
    return NULL;
  }
  return q;
}

/* Runs a statement that returns no rows. */
static nb_err nb_bs_done(nb_bs_store *st, sqlite3_stmt *q, const char *what) {
  int rc = sqlite3_step(q);
  sqlite3_finalize(q);
  return rc == SQLITE_DONE ? NB_OK : nb_bs_sql_fail(st, what);
}

/* ---- configs ---- */

nb_err nb_bs_store_config_put(nb_bs_store *st, const nb_bs_config *cfg) {
  char *json;
  nb_err e = nb_bs_config_to_json(cfg, &json);
  if (e != NB_OK) return e;
  sqlite3_stmt *q = nb_bs_prep(st, "INSERT OR REPLACE INTO bs_config(ep, json) VALUES(?, ?)");
  if (!q) return free(json), NB_ERR_IO;
  sqlite3_bind_text(q, 1, cfg->ep, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(q, 2, json, -1, SQLITE_TRANSIENT);
  free(json);
  return nb_bs_done(st, q, "config_put");
}

nb_err nb_bs_store_config_get(nb_bs_store *st, const char *ep, nb_bs_config *out) {
  sqlite3_stmt *q = nb_bs_prep(st, "SELECT json FROM bs_config WHERE ep = ?");
  if (!q) return NB_ERR_IO;
  sqlite3_bind_text(q, 1, ep, -1, SQLITE_TRANSIENT);
  nb_err e = NB_ERR_NOT_FOUND;
  if (sqlite3_step(q) == SQLITE_ROW) {
    char why[128];
    e = nb_bs_config_from_json((const char *)sqlite3_column_text(q, 0), out, why, sizeof why);
    if (e != NB_OK) NB_LOG_ERROR("bootstrap", "event=config-corrupt ep=%s why=\"%s\"", ep, why);
  }
  sqlite3_finalize(q);
  return e;
}

nb_err nb_bs_store_config_del(nb_bs_store *st, const char *ep) {
  sqlite3_stmt *q = nb_bs_prep(st, "DELETE FROM bs_config WHERE ep = ?");
  if (!q) return NB_ERR_IO;
  sqlite3_bind_text(q, 1, ep, -1, SQLITE_TRANSIENT);
  nb_err e = nb_bs_done(st, q, "config_del");
  return e == NB_OK && sqlite3_changes(st->db) == 0 ? NB_ERR_NOT_FOUND : e;
}

nb_err nb_bs_store_config_each(nb_bs_store *st, nb_err (*fn)(void *, const nb_bs_config *),
                               void *user) {
  sqlite3_stmt *q = nb_bs_prep(st, "SELECT json FROM bs_config ORDER BY ep");
  if (!q) return NB_ERR_IO;
  nb_err e = NB_OK;
  while (e == NB_OK && sqlite3_step(q) == SQLITE_ROW) {
    nb_bs_config cfg;
    e = nb_bs_config_from_json((const char *)sqlite3_column_text(q, 0), &cfg, NULL, 0);
    if (e == NB_OK) e = fn(user, &cfg);
  }
  sqlite3_finalize(q);
  return e;
}

/* ---- credentials ---- */

static const char *nb_bs_col(sqlite3_stmt *q, int i) {
  const char *t = (const char *)sqlite3_column_text(q, i);
  return t ? t : "";
}

static void nb_bs_cred_row(sqlite3_stmt *q, nb_server_sec_info *out) {
  memset(out, 0, sizeof *out);
  snprintf(out->ep, sizeof out->ep, "%s", (const char *)sqlite3_column_text(q, 0));
  out->kind = (nb_server_id_kind)sqlite3_column_int(q, 1);
  snprintf(out->identity, sizeof out->identity, "%s", (const char *)sqlite3_column_text(q, 2));
  int n = sqlite3_column_bytes(q, 3);
  if (n > 0 && (size_t)n <= sizeof out->key) {
    memcpy(out->key, sqlite3_column_blob(q, 3), (size_t)n);
    out->key_len = (size_t)n;
  }
}

nb_err nb_bs_store_cred_put(nb_bs_store *st, const nb_server_sec_info *c) {
  sqlite3_stmt *q =
      nb_bs_prep(st, "INSERT OR REPLACE INTO bs_cred(ep, kind, identity, key) VALUES(?, ?, ?, ?)");
  if (!q) return NB_ERR_IO;
  sqlite3_bind_text(q, 1, c->ep, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(q, 2, (int)c->kind);
  sqlite3_bind_text(q, 3, c->identity, -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(q, 4, c->key, (int)c->key_len, SQLITE_TRANSIENT);
  return nb_bs_done(st, q, "cred_put");
}

static nb_err nb_bs_cred_query(nb_bs_store *st, sqlite3_stmt *q, nb_server_sec_info *out) {
  (void)st;
  nb_err e = NB_ERR_NOT_FOUND;
  if (sqlite3_step(q) == SQLITE_ROW) {
    nb_bs_cred_row(q, out);
    e = NB_OK;
  }
  sqlite3_finalize(q);
  return e;
}

static nb_err nb_bs_cred_get(void *self, const char *ep, nb_server_sec_info *out) {
  nb_bs_store *st = self;
  sqlite3_stmt *q = nb_bs_prep(st, "SELECT ep, kind, identity, key FROM bs_cred WHERE ep = ?");
  if (!q) return NB_ERR_IO;
  sqlite3_bind_text(q, 1, ep, -1, SQLITE_TRANSIENT);
  return nb_bs_cred_query(st, q, out);
}

static nb_err nb_bs_cred_find_in(nb_bs_store *st, const char *sql, nb_server_id_kind kind,
                                 const char *identity, nb_server_sec_info *out) {
  sqlite3_stmt *q = nb_bs_prep(st, sql);
  if (!q) return NB_ERR_IO;
  sqlite3_bind_int(q, 1, (int)kind);
  sqlite3_bind_text(q, 2, identity, -1, SQLITE_TRANSIENT);
  return nb_bs_cred_query(st, q, out);
}

static nb_err nb_bs_cred_find(void *self, nb_server_id_kind kind, const char *identity,
                              nb_server_sec_info *out, bool *pending) {
  nb_bs_store *st = self;
  nb_err e = nb_bs_cred_find_in(
      st, "SELECT ep, kind, identity, key FROM bs_cred WHERE kind = ? AND identity = ?", kind,
      identity, out);
  bool p = e == NB_ERR_NOT_FOUND;
  if (p)
    e = nb_bs_cred_find_in(
        st, "SELECT ep, kind, identity, key FROM bs_cred_pending WHERE kind = ? AND identity = ?",
        kind, identity, out);
  if (pending) *pending = p && e == NB_OK;
  return e;
}

nb_err nb_bs_store_cred_del(nb_bs_store *st, const char *ep) {
  sqlite3_stmt *q = nb_bs_prep(st, "DELETE FROM bs_cred WHERE ep = ?");
  if (!q) return NB_ERR_IO;
  sqlite3_bind_text(q, 1, ep, -1, SQLITE_TRANSIENT);
  nb_err e = nb_bs_done(st, q, "cred_del");
  return e == NB_OK && sqlite3_changes(st->db) == 0 ? NB_ERR_NOT_FOUND : e;
}

static nb_err nb_bs_cred_rows(nb_bs_store *st, const char *sql, nb_server_sec_each_fn fn,
                              void *user) {
  sqlite3_stmt *q = nb_bs_prep(st, sql);
  if (!q) return NB_ERR_IO;
  nb_err e = NB_OK;
  while (e == NB_OK && sqlite3_step(q) == SQLITE_ROW) {
    nb_server_sec_info c;
    nb_bs_cred_row(q, &c);
    e = fn(user, &c);
    memset(&c, 0, sizeof c);
  }
  sqlite3_finalize(q);
  return e;
}

nb_err nb_bs_store_cred_each(nb_bs_store *st, nb_server_sec_each_fn fn, void *user) {
  return nb_bs_cred_rows(st, "SELECT ep, kind, identity, key FROM bs_cred ORDER BY ep", fn, user);
}

nb_err nb_bs_store_cred_pending_each(nb_bs_store *st, nb_server_sec_each_fn fn, void *user) {
  /* A database opened read-only from before pending keys has no such table: none pending. */
  if (!nb_bs_has_column(st, "bs_cred_pending", "ep")) return NB_OK;
  return nb_bs_cred_rows(st, "SELECT ep, kind, identity, key FROM bs_cred_pending ORDER BY ep", fn,
                         user);
}

nb_err nb_bs_store_cred_pending_put(nb_bs_store *st, const nb_bs_pending_cred *p) {
  const nb_server_sec_info *c = &p->next;
  sqlite3_stmt *q = nb_bs_prep(st,
                               "INSERT OR REPLACE INTO bs_cred_pending(ep, kind, identity, key, "
                               "prev, priv) VALUES(?, ?, ?, ?, ?, ?)");
  if (!q) return NB_ERR_IO;
  sqlite3_bind_text(q, 1, c->ep, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(q, 2, (int)c->kind);
  sqlite3_bind_text(q, 3, c->identity, -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(q, 4, c->key, (int)c->key_len, SQLITE_TRANSIENT);
  sqlite3_bind_text(q, 5, p->prev, -1, SQLITE_TRANSIENT);
  if (p->priv_len && p->priv_len <= sizeof p->priv)
    sqlite3_bind_blob(q, 6, p->priv, (int)p->priv_len, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(q, 6);
  return nb_bs_done(st, q, "cred_pending_put");
}

nb_err nb_bs_store_cred_pending_get(nb_bs_store *st, const char *ep, nb_bs_pending_cred *out) {
  sqlite3_stmt *q = nb_bs_prep(
      st, "SELECT ep, kind, identity, key, prev, priv FROM bs_cred_pending WHERE ep = ?");
  if (!q) return NB_ERR_IO;
  sqlite3_bind_text(q, 1, ep, -1, SQLITE_TRANSIENT);
  nb_err e = NB_ERR_NOT_FOUND;
  if (sqlite3_step(q) == SQLITE_ROW) {
    memset(out, 0, sizeof *out);
    nb_bs_cred_row(q, &out->next);
    snprintf(out->prev, sizeof out->prev, "%s", nb_bs_col(q, 4));
    int n = sqlite3_column_bytes(q, 5); /* NULL in a row from before the column: 0 */
    if (n > 0 && (size_t)n <= sizeof out->priv) {
      memcpy(out->priv, sqlite3_column_blob(q, 5), (size_t)n);
      out->priv_len = (size_t)n;
    }
    e = NB_OK;
  }
  sqlite3_finalize(q);
  return e;
}

nb_err nb_bs_store_cred_pending_del(nb_bs_store *st, const char *ep) {
  sqlite3_stmt *q = nb_bs_prep(st, "DELETE FROM bs_cred_pending WHERE ep = ?");
  if (!q) return NB_ERR_IO;
  sqlite3_bind_text(q, 1, ep, -1, SQLITE_TRANSIENT);
  nb_err e = nb_bs_done(st, q, "cred_pending_del");
  return e == NB_OK && sqlite3_changes(st->db) == 0 ? NB_ERR_NOT_FOUND : e;
}

/* ---- the credentials an operator expects ---- */

/* Which endpoint other than ep holds identity (of kind), current or pending; "" when none. */
static nb_err nb_bs_identity_owner(nb_bs_store *st, nb_server_id_kind kind, const char *identity,
                                   const char *ep, char owner[NB_BS_EP_MAX]) {
  static const char *const sql[] = {
      "SELECT ep FROM bs_cred WHERE kind = ? AND identity = ? AND ep <> ? LIMIT 1",
      "SELECT ep FROM bs_cred_pending WHERE kind = ? AND identity = ? AND ep <> ? LIMIT 1"};
  owner[0] = '\0';
  for (size_t i = 0; i < 2 && !owner[0]; i++) {
    sqlite3_stmt *q = nb_bs_prep(st, sql[i]);
    if (!q) return NB_ERR_IO;
    sqlite3_bind_int(q, 1, (int)kind);
    sqlite3_bind_text(q, 2, identity, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 3, ep, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) == SQLITE_ROW) snprintf(owner, NB_BS_EP_MAX, "%s", nb_bs_col(q, 0));
    sqlite3_finalize(q);
  }
  return NB_OK;
}

nb_err nb_bs_store_expect_put(nb_bs_store *st, const nb_server_sec_info *c,
                              char owner[NB_BS_EP_MAX]) {
  nb_err e = nb_bs_identity_owner(st, c->kind, c->identity, c->ep, owner);
  if (e != NB_OK) return e;
  if (owner[0]) return NB_ERR_EXISTS;
  e = nb_bs_store_cred_put(st, c);
  if (e == NB_OK) e = nb_bs_store_cred_pending_del(st, c->ep);
  return e == NB_ERR_NOT_FOUND ? NB_OK : e;
}

nb_err nb_bs_expected_secure_id(const char *ep, const char *text, nb_server_sec_info *out,
                                char *why, size_t cap) {
  memset(out, 0, sizeof *out);
  out->kind = NB_SERVER_ID_RPK;
  snprintf(out->ep, sizeof out->ep, "%s", ep);
  if (text && nb_dtls_secure_id_parse(text, out->identity, sizeof out->identity) == NB_OK)
    return NB_OK;
  snprintf(why, cap,
           "a secure ID is %d hex digits, or the device's QR code text \"%s\" + them "
           "(`niobium keys ec` prints it)",
           NB_DTLS_SECURE_ID_LEN, NB_DTLS_QR_PREFIX);
  return NB_ERR_SYNTAX;
}

/* Text an identity may be: UTF-8 bytes without control characters (no NUL, no newline). */
static bool nb_bs_identity_text(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return false;
  return true;
}

nb_err nb_bs_expected_psk(const char *ep, const char *identity, const char *key_hex,
                          nb_server_sec_info *out, char *why, size_t cap) {
  memset(out, 0, sizeof *out);
  out->kind = NB_SERVER_ID_PSK;
  snprintf(out->ep, sizeof out->ep, "%s", ep);
  if (!identity || !identity[0] || strlen(identity) >= sizeof out->identity ||
      !nb_bs_identity_text(identity)) {
    snprintf(why, cap, "a PSK identity is 1 to %zu bytes of text without control characters",
             sizeof out->identity - 1);
    return NB_ERR_SYNTAX;
  }
  snprintf(out->identity, sizeof out->identity, "%s", identity);
  size_t n = key_hex ? strlen(key_hex) : 0;
  while (n && (key_hex[n - 1] == '\n' || key_hex[n - 1] == '\r' || key_hex[n - 1] == ' ')) n--;
  if (!n ||
      nb_hex_decode(key_hex, n, NULL, out->key, NB_DTLS_PSK_KEY_MAX, &out->key_len) != NB_OK ||
      !out->key_len) {
    memset(out, 0, sizeof *out);
    snprintf(why, cap,
             "a PSK key is 1 to %d bytes written as hex digits (`niobium keys psk --hex`)",
             NB_DTLS_PSK_KEY_MAX);
    return NB_ERR_SYNTAX;
  }
  return NB_OK;
}

nb_err nb_bs_store_expect_del(nb_bs_store *st, const char *ep) {
  nb_err a = nb_bs_store_cred_del(st, ep), b = nb_bs_store_cred_pending_del(st, ep);
  if (a != NB_OK && a != NB_ERR_NOT_FOUND) return a;
  if (b != NB_OK && b != NB_ERR_NOT_FOUND) return b;
  return a == NB_OK || b == NB_OK ? NB_OK : NB_ERR_NOT_FOUND;
}

nb_err nb_bs_store_expected_each(nb_bs_store *st, nb_err (*fn)(void *, const char *ep),
                                 void *user) {
  /* A database opened read-only from before pending keys has no such table. */
  sqlite3_stmt *q =
      nb_bs_prep(st, nb_bs_has_column(st, "bs_cred_pending", "ep")
                         ? "SELECT ep FROM bs_cred UNION SELECT ep FROM bs_cred_pending ORDER BY 1"
                         : "SELECT ep FROM bs_cred ORDER BY 1");
  if (!q) return NB_ERR_IO;
  nb_err e = NB_OK;
  while (e == NB_OK && sqlite3_step(q) == SQLITE_ROW) e = fn(user, nb_bs_col(q, 0));
  sqlite3_finalize(q);
  return e;
}

/* {"kind", "secureId" | "pskIdentity"} of one credential into j. */
static void nb_bs_cred_public(json_t *j, const nb_server_sec_info *c) {
  json_object_set_new(j, "kind", json_string(nb_server_id_kind_name(c->kind)));
  json_object_set_new(j, c->kind == NB_SERVER_ID_PSK ? "pskIdentity" : "secureId",
                      json_string(c->identity));
}

json_t *nb_bs_store_expected_json(nb_bs_store *st, const char *ep) {
  nb_server_sec_info cur;
  nb_bs_pending_cred pend;
  bool has = nb_bs_cred_get(st, ep, &cur) == NB_OK;
  bool pending = nb_bs_has_column(st, "bs_cred_pending", "priv") &&
                 nb_bs_store_cred_pending_get(st, ep, &pend) == NB_OK;
  json_t *j = has || pending ? json_pack("{s:s}", "endpoint", ep) : NULL;
  if (j && has) nb_bs_cred_public(j, &cur);
  json_t *p = j && pending ? json_object() : NULL;
  if (p) {
    nb_bs_cred_public(p, &pend.next);
    json_object_set_new(j, "pending", p);
  }
  memset(&cur, 0, sizeof cur); /* keys */
  memset(&pend, 0, sizeof pend);
  return j;
}

static nb_err nb_bs_pending_put_src(void *self, const nb_bs_pending_cred *p) {
  return nb_bs_store_cred_pending_put(self, p);
}
static nb_err nb_bs_pending_get_src(void *self, const char *ep, nb_bs_pending_cred *out) {
  return nb_bs_store_cred_pending_get(self, ep, out);
}
static nb_err nb_bs_pending_del_src(void *self, const char *ep) {
  return nb_bs_store_cred_pending_del(self, ep);
}

static nb_err nb_bs_evidence_src(void *self, const nb_bs_evidence *ev) {
  return nb_bs_store_evidence_put(self, ev);
}

static nb_err nb_bs_config_src(void *self, const char *ep, nb_bs_config *out) {
  return nb_bs_store_config_get(self, ep, out);
}

static nb_err nb_bs_cred_put_src(void *self, const nb_server_sec_info *c) {
  return nb_bs_store_cred_put(self, c);
}
static nb_err nb_bs_cred_del_src(void *self, const char *ep) {
  return nb_bs_store_cred_del(self, ep);
}

nb_bs_source nb_bs_store_source(nb_bs_store *st) {
  nb_bs_source s = {.config_get = nb_bs_config_src,
                    .cred_get = nb_bs_cred_get,
                    .cred_find = nb_bs_cred_find,
                    .cred_put = nb_bs_cred_put_src,
                    .cred_del = nb_bs_cred_del_src,
                    .cred_pending_put = nb_bs_pending_put_src,
                    .cred_pending_get = nb_bs_pending_get_src,
                    .cred_pending_del = nb_bs_pending_del_src,
                    .evidence_put = nb_bs_evidence_src,
                    .self = st};
  return s;
}

/* ---- pending requests and decisions ---- */

nb_err nb_bs_store_pending_put(nb_bs_store *st, const char *ep, const char *peer, int64_t at) {
  sqlite3_stmt *q = nb_bs_prep(
      st, "INSERT OR REPLACE INTO bs_pending(ep, peer, at, decision) VALUES(?, ?, ?, NULL)");
  if (!q) return NB_ERR_IO;
  sqlite3_bind_text(q, 1, ep, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(q, 2, peer, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(q, 3, at);
  return nb_bs_done(st, q, "pending_put");
}

nb_err nb_bs_store_pending_del(nb_bs_store *st, const char *ep) {
  sqlite3_stmt *q = nb_bs_prep(st, "DELETE FROM bs_pending WHERE ep = ?");
  if (!q) return NB_ERR_IO;
  sqlite3_bind_text(q, 1, ep, -1, SQLITE_TRANSIENT);
  return nb_bs_done(st, q, "pending_del");
}

nb_err nb_bs_store_pending_each(nb_bs_store *st,
                                nb_err (*fn)(void *, const char *ep, const char *peer, int64_t at,
                                             const char *decision),
                                void *user) {
  sqlite3_stmt *q = nb_bs_prep(st, "SELECT ep, peer, at, decision FROM bs_pending ORDER BY at");
  if (!q) return NB_ERR_IO;
  nb_err e = NB_OK;
  while (e == NB_OK && sqlite3_step(q) == SQLITE_ROW) {
    const char *d = (const char *)sqlite3_column_text(q, 3);
    e = fn(user, (const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 1),
           sqlite3_column_int64(q, 2), d ? d : "");
  }
  sqlite3_finalize(q);
  return e;
}

nb_err nb_bs_store_pending_mark(nb_bs_store *st, const char *ep, const char *state) {
  sqlite3_stmt *q = nb_bs_prep(st, "UPDATE bs_pending SET decision = ? WHERE ep = ?");
  if (!q) return NB_ERR_IO;
  sqlite3_bind_text(q, 1, state, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(q, 2, ep, -1, SQLITE_TRANSIENT);
  nb_err e = nb_bs_done(st, q, "pending_mark");
  return e == NB_OK && sqlite3_changes(st->db) == 0 ? NB_ERR_NOT_FOUND : e;
}

/* The rows to restore, read whole before any is changed. */
typedef struct {
  char ep[NB_BS_EP_MAX];
  char peer[NB_ADDR_STRLEN];
  char decision[12];
} nb_bs_old_row;

typedef struct {
  nb_bs_old_row *rows;
  size_t n, cap;
} nb_bs_old_rows;

static nb_err nb_bs_collect_row(void *user, const char *ep, const char *peer, int64_t at,
                                const char *decision) {
  (void)at;
  nb_bs_old_rows *r = user;
  if (r->n == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 64;
    nb_bs_old_row *rows = realloc(r->rows, cap * sizeof *rows);
    if (!rows) return NB_ERR_NOMEM;
    r->rows = rows;
    r->cap = cap;
  }
  nb_bs_old_row *row = &r->rows[r->n++];
  snprintf(row->ep, sizeof row->ep, "%s", ep ? ep : "");
  snprintf(row->peer, sizeof row->peer, "%s", peer ? peer : "");
  snprintf(row->decision, sizeof row->decision, "%s", decision);
  return NB_OK;
}

nb_err nb_bs_store_restore_pending(nb_bs_store *st, nb_bs_engine *bs, bool approve_policy,
                                   nb_time_ms now) {
  nb_bs_old_rows r = {0};
  nb_err e = nb_bs_store_pending_each(st, nb_bs_collect_row, &r);
  size_t kept = 0;
  for (size_t i = 0; e == NB_OK && i < r.n; i++) {
    const nb_bs_old_row *row = &r.rows[i];
    bool approved = strcmp(row->decision, "approve") == 0 || strcmp(row->decision, "approved") == 0;
    nb_addr peer;
    if (nb_addr_parse(row->peer, 0, &peer) != NB_OK) memset(&peer, 0, sizeof peer);
    /* Under auto nothing waits; a request rejected meanwhile has nobody to be told. */
    nb_err r2 = approve_policy && strcmp(row->decision, "reject") != 0
                    ? nb_bs_engine_restore_pending(bs, row->ep, &peer, approved, now)
                    : NB_ERR_STATE;
    e = r2 == NB_OK ? nb_bs_store_pending_mark(st, row->ep, approved ? "approved" : "gone")
                    : nb_bs_store_pending_del(st, row->ep);
    kept += r2 == NB_OK;
  }
  if (r.n)
    NB_LOG_INFO("bootstrap", "event=pending-restored rows=%zu kept=%zu err=%s", r.n, kept,
                nb_err_name(e));
  free(r.rows);
  return e;
}

nb_err nb_bs_store_decide(nb_bs_store *st, const char *ep, bool approve) {
  sqlite3_stmt *q = nb_bs_prep(st, "UPDATE bs_pending SET decision = ? WHERE ep = ?");
  if (!q) return NB_ERR_IO;
  sqlite3_bind_text(q, 1, approve ? "approve" : "reject", -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 2, ep, -1, SQLITE_TRANSIENT);
  nb_err e = nb_bs_done(st, q, "decide");
  return e == NB_OK && sqlite3_changes(st->db) == 0 ? NB_ERR_NOT_FOUND : e;
}

nb_err nb_bs_store_take_decisions(nb_bs_store *st,
                                  nb_err (*fn)(void *, const char *ep, bool approve), void *user) {
  sqlite3_stmt *q = nb_bs_prep(
      st, "SELECT ep, decision FROM bs_pending WHERE decision IN ('approve', 'reject') LIMIT 64");
  if (!q) return NB_ERR_IO;
  char eps[64][NB_BS_EP_MAX];
  bool ok[64];
  size_t n = 0;
  while (n < 64 && sqlite3_step(q) == SQLITE_ROW) {
    snprintf(eps[n], NB_BS_EP_MAX, "%s", (const char *)sqlite3_column_text(q, 0));
    ok[n++] = strcmp((const char *)sqlite3_column_text(q, 1), "approve") == 0;
  }
  sqlite3_finalize(q);
  nb_err e = NB_OK;
  for (size_t i = 0; i < n && e == NB_OK; i++) {
    e = fn(user, eps[i], ok[i]);
    if (e == NB_ERR_NOT_FOUND) {
      NB_LOG_WARN("bootstrap", "event=decision-dropped ep=%s reason=not-pending", eps[i]);
      e = nb_bs_store_pending_del(st, eps[i]);
    } else if (e == NB_OK) { /* unless fn's events turned it into another state */
      sqlite3_stmt *d = nb_bs_prep(
          st, "DELETE FROM bs_pending WHERE ep = ? AND decision IN ('approve', 'reject')");
      if (!d) return NB_ERR_IO;
      sqlite3_bind_text(d, 1, eps[i], -1, SQLITE_TRANSIENT);
      e = nb_bs_done(st, d, "pending_del");
    }
  }
  return e;
}

/* ---- evidence of signed bootstraps ---- */

/* Whether kept evidence holds a secret key: a write kept by a version before withheld secrets
 * (docs/cose.md "Secrets in signed writes") has the key in its signed payload, where it cannot
 * be taken out without breaking the signature. */
static bool nb_bs_evidence_has_secret(const uint8_t *cose, size_t len) {
  nb_cose_sign1_msg m;
  if (!cose || nb_cose_parse(cose, len, &m) != NB_OK) return false;
  return m.nvalues > 0 || nb_cose_payload_has_secret(&m, nb_model_builtin());
}

/* The rowids of the evidence rows that hold a secret key, into ids (heap). */
static nb_err nb_bs_evidence_secret_rows(nb_bs_store *st, int64_t **ids, size_t *n) {
  sqlite3_stmt *q = nb_bs_prep(st, "SELECT rowid, cose FROM bs_evidence");
  if (!q) return NB_ERR_IO;
  nb_err e = NB_OK;
  size_t cap = 0;
  while (e == NB_OK && sqlite3_step(q) == SQLITE_ROW) {
    if (!nb_bs_evidence_has_secret(sqlite3_column_blob(q, 1), (size_t)sqlite3_column_bytes(q, 1)))
      continue;
    if (*n == cap) {
      size_t grown = cap ? 2 * cap : 16;
      int64_t *more = realloc(*ids, grown * sizeof **ids);
      if (!more) {
        e = NB_ERR_NOMEM;
        break;
      }
      *ids = more;
      cap = grown;
    }
    (*ids)[(*n)++] = sqlite3_column_int64(q, 0);
  }
  sqlite3_finalize(q);
  return e;
}

static bool nb_bs_meta_has(nb_bs_store *st, const char *key) {
  sqlite3_stmt *q = nb_bs_prep(st, "SELECT 1 FROM bs_meta WHERE key = ?");
  if (q) sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
  bool has = q && sqlite3_step(q) == SQLITE_ROW;
  sqlite3_finalize(q);
  return has;
}

/* Deletes the n rows ids and marks key done, in one transaction. */
static nb_err nb_bs_evidence_delete(nb_bs_store *st, const int64_t *ids, size_t n,
                                    const char *key) {
  if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    return nb_bs_sql_fail(st, "purge_begin");
  nb_err e = NB_OK;
  for (size_t i = 0; e == NB_OK && i <= n; i++) {
    sqlite3_stmt *q = nb_bs_prep(st, i < n ? "DELETE FROM bs_evidence WHERE rowid = ?"
                                           : "INSERT OR REPLACE INTO bs_meta(key, value) "
                                             "VALUES(?, 'done')");
    if (q && i < n) sqlite3_bind_int64(q, 1, ids[i]);
    if (q && i == n) sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    e = q ? nb_bs_done(st, q, "purge") : NB_ERR_IO;
  }
  if (sqlite3_exec(st->db, e == NB_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK &&
      e == NB_OK)
    e = nb_bs_sql_fail(st, "purge_commit");
  return e;
}

/* Once per database: deletes the evidence rows an older version kept with a secret key in
 * them. Their signature covers the key, so they cannot be redacted; the rows of the same
 * bootstrap without a key (Server objects, the receipt) stay. Logs the count, never a key. A
 * failure (another process holding the database) is tried again at the next open; meanwhile
 * the readers skip such rows. */
static void nb_bs_store_purge_secrets(nb_bs_store *st) {
  static const char key[] = "evidence-secrets-purged";
  if (nb_bs_meta_has(st, key)) return;
  int64_t *ids = NULL;
  size_t n = 0;
  nb_err e = nb_bs_evidence_secret_rows(st, &ids, &n);
  if (e == NB_OK) e = nb_bs_evidence_delete(st, ids, n, key);
  free(ids);
  if (n || e != NB_OK)
    NB_LOG_WARN("bootstrap",
                "event=evidence-purged rows=%zu reason=secret-key-in-signed-payload err=%s", n,
                nb_err_name(e));
}

nb_err nb_bs_store_evidence_put(nb_bs_store *st, const nb_bs_evidence *ev) {
  sqlite3_stmt *q = nb_bs_prep(st,
                               "INSERT OR REPLACE INTO bs_evidence(ep, cti, seq, kind, path, "
                               "signer, at, cose) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
  if (!q) return NB_ERR_IO;
  sqlite3_bind_text(q, 1, ev->ep, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(q, 2, ev->cti, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(q, 3, ev->seq);
  sqlite3_bind_text(q, 4, ev->kind, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(q, 5, ev->path, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(q, 6, ev->signer, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(q, 7, ev->at);
  sqlite3_bind_blob(q, 8, ev->cose, (int)ev->cose_len, SQLITE_TRANSIENT);
  return nb_bs_done(st, q, "evidence_put");
}

nb_err nb_bs_store_evidence_each(nb_bs_store *st, const char *ep,
                                 nb_err (*fn)(void *, const nb_bs_evidence *), void *user) {
  /* A bootstrap's rows go together, ordered by when its first row was kept. */
  sqlite3_stmt *q = nb_bs_prep(
      st,
      "SELECT ep, cti, seq, kind, path, signer, at, cose FROM bs_evidence e WHERE ep = ?1 "
      "ORDER BY (SELECT min(rowid) FROM bs_evidence f WHERE f.ep = e.ep AND f.cti = e.cti) "
      "DESC, seq");
  if (!q) return NB_ERR_IO;
  sqlite3_bind_text(q, 1, ep, -1, SQLITE_TRANSIENT);
  nb_err e = NB_OK;
  while (e == NB_OK && sqlite3_step(q) == SQLITE_ROW) {
    const void *cose = sqlite3_column_blob(q, 7);
    size_t len = (size_t)sqlite3_column_bytes(q, 7);
    if (nb_bs_evidence_has_secret(cose, len)) { /* an older version's, not purged yet */
      NB_LOG_WARN("bootstrap", "event=evidence-withheld ep=%s reason=secret-key-in-signed-payload",
                  ep);
      continue;
    }
    nb_bs_evidence ev = {.ep = nb_bs_col(q, 0),
                         .cti = nb_bs_col(q, 1),
                         .seq = (unsigned)sqlite3_column_int64(q, 2),
                         .kind = nb_bs_col(q, 3),
                         .path = nb_bs_col(q, 4),
                         .signer = nb_bs_col(q, 5),
                         .at = sqlite3_column_int64(q, 6),
                         .cose = cose,
                         .cose_len = len};
    e = fn(user, &ev);
  }
  sqlite3_finalize(q);
  return e;
}

static nb_err nb_bs_evidence_row(void *user, const nb_bs_evidence *ev) {
  nb_bytes b64;
  nb_bytes_init(&b64);
  nb_err e = nb_fmt_b64_encode(&b64, ev->cose, ev->cose_len, false);
  json_t *row = e == NB_OK ? json_pack("{s:s,s:I,s:s,s:s,s:s,s:I,s:s%}", "kind", ev->kind, "seq",
                                       (json_int_t)ev->seq, "path", ev->path, "cti", ev->cti,
                                       "signer", ev->signer, "at", (json_int_t)ev->at, "cose",
                                       b64.data ? (const char *)b64.data : "", b64.len)
                           : NULL;
  nb_bytes_free(&b64);
  if (e == NB_OK && (!row || json_array_append_new(user, row) != 0)) e = NB_ERR_NOMEM;
  return e;
}

nb_err nb_bs_store_evidence_json(nb_bs_store *st, const char *ep, char **out) {
  json_t *a = json_array();
  if (!a) return NB_ERR_NOMEM;
  nb_err e = nb_bs_store_evidence_each(st, ep, nb_bs_evidence_row, a);
  if (e == NB_OK && !(*out = json_dumps(a, JSON_INDENT(2)))) e = NB_ERR_NOMEM;
  json_decref(a);
  return e;
}
