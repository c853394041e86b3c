/* SQLite store backend: see sqlite.h. */
#include "store/sqlite.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/privfile.h"
#include "store/dbfile.h"

#define MOD "store"

/* Migration i brings a database from user_version i to i + 1. */
static const char *const migrations[] = {
    ("CREATE TABLE registrations (ep TEXT PRIMARY KEY, reg_id TEXT NOT NULL UNIQUE,"
     " version TEXT NOT NULL, binding TEXT NOT NULL, sms TEXT NOT NULL, queue INTEGER NOT NULL,"
     " lifetime INTEGER NOT NULL, addr TEXT NOT NULL, id_kind INTEGER NOT NULL,"
     " id_value TEXT NOT NULL, registered_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
     " expires_at INTEGER NOT NULL, links TEXT NOT NULL);"
     "CREATE TABLE observations (ep TEXT NOT NULL, id INTEGER NOT NULL, token BLOB NOT NULL,"
     " composite INTEGER NOT NULL, format INTEGER NOT NULL, paths TEXT NOT NULL,"
     " created_at INTEGER NOT NULL, PRIMARY KEY (ep, id));"
     "CREATE TABLE credentials (ep TEXT PRIMARY KEY, kind INTEGER NOT NULL,"
     " identity TEXT NOT NULL, key BLOB NOT NULL);"
     "CREATE UNIQUE INDEX credentials_identity ON credentials (kind, identity)"
     " WHERE kind <> 0;"
     "CREATE TABLE audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,"
     " actor TEXT NOT NULL, ep TEXT NOT NULL, op TEXT NOT NULL, path TEXT NOT NULL,"
     " result TEXT NOT NULL);"),
    "CREATE INDEX audit_ep ON audit (ep, seq);",
    ("CREATE TABLE evidence (seq INTEGER PRIMARY KEY AUTOINCREMENT, ep TEXT NOT NULL,"
     " at INTEGER NOT NULL, kind TEXT NOT NULL, path TEXT NOT NULL, kid TEXT NOT NULL,"
     " iat INTEGER, cose BLOB NOT NULL);"
     "CREATE INDEX evidence_ep ON evidence (ep, seq);"),
    /* The format a device last answered in (docs/server.md, "Content formats"). */
    "ALTER TABLE registrations ADD COLUMN preferred_format INTEGER NOT NULL DEFAULT -1;",
    /* One row the health probe rewrites to learn whether the file takes writes again
     * (server/store_health.h). */
    "CREATE TABLE probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL);",
    /* Firmware images, campaigns and their devices' progress (docs/firmware.md). */
    ("CREATE TABLE docs (kind TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,"
     " PRIMARY KEY (kind, key)) WITHOUT ROWID;"),
};

enum {
  S_REG_PUT,
  S_REG_DEL,
  S_REG_ALL,
  S_OBS_PUT,
  S_OBS_DEL,
  S_OBS_DEL_EP,
  S_OBS_ALL,
  S_SEC_PUT,
  S_SEC_GET,
  S_SEC_FIND,
  S_SEC_DEL,
  S_SEC_ALL,
  S_AUDIT_ADD,
  S_AUDIT_LAST,
  S_EVIDENCE_ADD,
  S_EVIDENCE_TRIM,
  S_EVIDENCE_LAST,
  S_PROBE,
  S_DOC_PUT,
  S_DOC_DEL,
  S_DOC_DEL_PREFIX,
  S_DOC_ALL,
  S_COUNT
};

static const char *const sql[S_COUNT] = {
    [S_REG_PUT] = ("INSERT OR REPLACE INTO registrations (ep, reg_id, version, binding, sms,"
                   " queue, lifetime, addr, id_kind, id_value, registered_at, updated_at,"
                   " expires_at, links, preferred_format) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
    [S_REG_DEL] = "DELETE FROM registrations WHERE ep = ?",
    [S_REG_ALL] = ("SELECT ep, reg_id, version, binding, sms, queue, lifetime, addr, id_kind,"
                   " id_value, registered_at, updated_at, expires_at, links, preferred_format"
                   " FROM registrations"),
    [S_OBS_PUT] = "INSERT OR REPLACE INTO observations VALUES (?,?,?,?,?,?,?)",
    [S_OBS_DEL] = "DELETE FROM observations WHERE ep = ? AND id = ?",
    [S_OBS_DEL_EP] = "DELETE FROM observations WHERE ep = ?",
    [S_OBS_ALL] = "SELECT ep, id, token, composite, format, paths, created_at FROM observations",
    [S_SEC_PUT] = ("INSERT INTO credentials VALUES (?,?,?,?) ON CONFLICT (ep) DO UPDATE SET"
                   " kind = excluded.kind, identity = excluded.identity, key = excluded.key"),
    [S_SEC_GET] = "SELECT ep, kind, identity, key FROM credentials WHERE ep = ?",
    /* "kind <> 0" repeats the partial index's WHERE, without which SQLite cannot prove a bound
     * kind is non-zero and scans the table (88 % of a handshake at 20k devices). */
    [S_SEC_FIND] = ("SELECT ep, kind, identity, key FROM credentials"
                    " WHERE kind = ?1 AND kind <> 0 AND identity = ?2"),
    [S_SEC_DEL] = "DELETE FROM credentials WHERE ep = ?",
    [S_SEC_ALL] = "SELECT ep, kind, identity, key FROM credentials ORDER BY ep",
    [S_AUDIT_ADD] = "INSERT INTO audit (at, actor, ep, op, path, result) VALUES (?,?,?,?,?,?)",
    [S_AUDIT_LAST] = ("SELECT at, actor, ep, op, path, result, seq FROM audit WHERE seq < ?"
                      " ORDER BY seq DESC LIMIT ?"),
    [S_EVIDENCE_ADD] =
        "INSERT INTO evidence (ep, at, kind, path, kid, iat, cose) VALUES (?,?,?,?,?,?,?)",
    /* Everything of ep older than its keep-th newest row (?2 = keep - 1). */
    [S_EVIDENCE_TRIM] = ("DELETE FROM evidence WHERE ep = ?1 AND seq < (SELECT seq FROM evidence"
                         " WHERE ep = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)"),
    [S_EVIDENCE_LAST] = ("SELECT at, kind, path, kid, iat, cose, seq FROM evidence WHERE ep = ?"
                         " AND seq < ? ORDER BY seq DESC LIMIT ?"),
    [S_PROBE] = "INSERT OR REPLACE INTO probe (id, at) VALUES (1, ?)",
    [S_DOC_PUT] = "INSERT OR REPLACE INTO docs (kind, key, body) VALUES (?,?,?)",
    [S_DOC_DEL] = "DELETE FROM docs WHERE kind = ? AND key = ?",
    [S_DOC_DEL_PREFIX] = "DELETE FROM docs WHERE kind = ?1 AND substr(key, 1, length(?2)) = ?2",
    [S_DOC_ALL] = "SELECT key, body FROM docs WHERE kind = ? ORDER BY key",
};

/* Statements that walk a whole table on purpose (listings, the restart, the newest audit
 * entries); every other one looks rows up by key and must search an index
 * (nb_store_sqlite_check_plans). */
static bool walks_table(int which) {
  return which == S_REG_ALL || which == S_OBS_ALL || which == S_SEC_ALL || which == S_AUDIT_LAST;
}

struct nb_store_sqlite {
  sqlite3 *db;
  sqlite3_stmt *st[S_COUNT];
  bool open;         /* opened and migrated: later failures are the health tracker's to log */
  const char *error; /* SQLite's fixed description of the last failure (sqlite3_errstr) */
};

/* A failure: logged here while opening; afterwards kept for error_text and logged at debug
 * level only, since server/store_health.c reports failures rate-limited (a full disk under
 * load fails every write). */
static nb_err db_fail(nb_store_sqlite *s, const char *what) {
  s->error = sqlite3_errstr(sqlite3_extended_errcode(s->db));
  if (s->open)
    NB_LOG_DEBUG(MOD, "event=sqlite_error op=%s reason=\"%s\"", what, sqlite3_errmsg(s->db));
  else
    NB_LOG_ERROR(MOD, "event=sqlite_error op=%s reason=\"%s\"", what, sqlite3_errmsg(s->db));
  return NB_ERR_IO;
}

static int user_version(sqlite3 *db) {
  sqlite3_stmt *st;
  int v = -1;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* Each step runs in its own transaction with the version bump, so a crash mid-way leaves
 * the file at a consistent version. The version is read inside the step's write transaction:
 * two processes opening a new file at once (`niobium server` and `niobium bootstrap` on one
 * --db) take turns (the busy timeout makes the second wait), and the second finds the step
 * done instead of running it again. */
static nb_err migrate(nb_store_sqlite *s) {
  for (;;) {
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
      return db_fail(s, "migrate");
    int v = user_version(s->db);
    if (v < 0 || v >= NB_STORE_SQLITE_SCHEMA) {
      sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
      if (v < 0) return db_fail(s, "user_version");
      if (v == NB_STORE_SQLITE_SCHEMA) return NB_OK;
      NB_LOG_ERROR(MOD, "event=schema_too_new version=%d supported=%d", v, NB_STORE_SQLITE_SCHEMA);
      return NB_ERR_IO;
    }
    char bump[64];
    snprintf(bump, sizeof(bump), "PRAGMA user_version = %d;", v + 1);
    if (sqlite3_exec(s->db, migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, bump, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
      nb_err rc = db_fail(s, "migrate");
      sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
      return rc;
    }
    NB_LOG_INFO(MOD, "event=migrated version=%d", v + 1);
  }
}

/* A read-only connection reads what the server wrote but never migrates: the file must hold
 * a schema this build knows. */
static nb_err check_readable(nb_store_sqlite *s) {
  int v = user_version(s->db);
  if (v < 0) return db_fail(s, "user_version");
  if (v < 1 || v > NB_STORE_SQLITE_SCHEMA) {
    NB_LOG_ERROR(MOD, "event=schema_unreadable version=%d supported=1..%d", v,
                 NB_STORE_SQLITE_SCHEMA);
    return NB_ERR_IO;
  }
  return NB_OK;
}

static nb_err open_db(const char *path, bool read_only, nb_store_sqlite **out) {
  char why[512];
  nb_err perm = read_only ? NB_OK : nb_privfile_prepare_db(path, why, sizeof(why));
  if (perm != NB_OK) {
    NB_LOG_ERROR(MOD, "event=database_refused reason=\"%s\"", why);
    return perm;
  }
  nb_store_sqlite *s = calloc(1, sizeof(*s));
  if (!s) return NB_ERR_NOMEM;
  nb_err rc = NB_OK;
  int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) rc = db_fail(s, "open");
  if (rc == NB_OK && sqlite3_busy_timeout(s->db, 2000) != SQLITE_OK) rc = db_fail(s, "pragma");
  /* WAL + synchronous=NORMAL: a committed row survives a process kill (not a power cut). */
  if (rc == NB_OK && !read_only &&
      (nb_dbfile_wal(s->db) != SQLITE_OK ||
       sqlite3_exec(s->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK))
    rc = db_fail(s, "pragma");
  if (rc == NB_OK) rc = read_only ? check_readable(s) : migrate(s);
  for (int i = 0; rc == NB_OK && i < S_COUNT; i++)
    if ((i != S_PROBE || !read_only) && /* a reader's file may predate the probe table */
        sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) !=
            SQLITE_OK)
      rc = db_fail(s, "prepare");
  if (rc != NB_OK) {
    nb_store_sqlite_close(s);
    return rc;
  }
  s->open = true;
  s->error = "";
  *out = s;
  return NB_OK;
}

nb_err nb_store_sqlite_open(const char *path, nb_store_sqlite **out) {
  return open_db(path, false, out);
}

nb_err nb_store_sqlite_open_readonly(const char *path, nb_store_sqlite **out) {
  return open_db(path, true, out);
}

void nb_store_sqlite_close(nb_store_sqlite *s) {
  if (!s) return;
  for (int i = 0; i < S_COUNT; i++) sqlite3_finalize(s->st[i]);
  sqlite3_close(s->db);
  free(s);
}

int nb_store_sqlite_schema_version(nb_store_sqlite *s) { return user_version(s->db); }

/* A plan step that reads a whole table: "SCAN t" (or "SCAN TABLE t" before SQLite 3.36), not a
 * "SCAN CONSTANT ROW" nor a SEARCH through an index. */
static bool plan_scans(const char *detail) {
  return strncmp(detail, "SCAN ", 5) == 0 && strncmp(detail, "SCAN CONSTANT", 13) != 0;
}

nb_err nb_store_sqlite_check_plans(nb_store_sqlite *s, char *why, size_t cap) {
  if (cap) why[0] = '\0';
  for (int i = 0; i < S_COUNT; i++) {
    if (walks_table(i)) continue;
    char q[1024];
    sqlite3_stmt *st;
    snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql[i]);
    if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK) return db_fail(s, "explain");
    nb_err rc = NB_OK;
    while (rc == NB_OK && sqlite3_step(st) == SQLITE_ROW) {
      const char *detail = (const char *)sqlite3_column_text(st, 3);
      if (detail && plan_scans(detail)) {
        snprintf(why, cap, "%s: %s", sql[i], detail);
        rc = NB_ERR_IO;
      }
    }
    sqlite3_finalize(st);
    if (rc != NB_OK) return rc;
  }
  return NB_OK;
}

/* ---- statement helpers ---- */

static sqlite3_stmt *stmt(nb_store_sqlite *s, int i) {
  sqlite3_reset(s->st[i]);
  sqlite3_clear_bindings(s->st[i]);
  return s->st[i];
}

static void bind_text(sqlite3_stmt *st, int i, const char *t) {
  sqlite3_bind_text(st, i, t, -1, SQLITE_TRANSIENT);
}

/* Runs a statement that returns no rows; NB_ERR_NOT_FOUND when it changed nothing and
 * need_change is set. */
static nb_err exec_stmt(nb_store_sqlite *s, sqlite3_stmt *st, const char *what, bool need_change) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return db_fail(s, what);
  if (need_change && sqlite3_changes(s->db) == 0) return NB_ERR_NOT_FOUND;
  return NB_OK;
}

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t cap) {
  const unsigned char *t = sqlite3_column_text(st, i);
  snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* A text column as it is in the row (valid until the statement steps on), "" for NULL. */
static const char *col_str(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? (const char *)t : "";
}

/* ---- registrations ---- */

static nb_err reg_put(void *self, const nb_server_reg_info *r) {
  nb_store_sqlite *s = self;
  sqlite3_stmt *st = stmt(s, S_REG_PUT);
  char addr[NB_ADDR_STRLEN];
  nb_addr_format(&r->addr, addr, sizeof(addr));
  bind_text(st, 1, r->ep);
  bind_text(st, 2, r->reg_id);
  bind_text(st, 3, r->version);
  bind_text(st, 4, r->binding);
  bind_text(st, 5, r->sms);
  sqlite3_bind_int(st, 6, r->queue);
  sqlite3_bind_int64(st, 7, r->lifetime);
  bind_text(st, 8, addr);
  sqlite3_bind_int(st, 9, (int)r->identity.kind);
  bind_text(st, 10, r->identity.value);
  sqlite3_bind_int64(st, 11, r->registered_at);
  sqlite3_bind_int64(st, 12, r->updated_at);
  sqlite3_bind_int64(st, 13, r->expires_at);
  sqlite3_bind_text(st, 14, r->links ? r->links : "", r->links ? (int)r->links_len : 0,
                    SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 15, r->preferred_format);
  return exec_stmt(s, st, "reg_put", false);
}

static nb_err del_by_ep(nb_store_sqlite *s, int which, const char *ep, const char *what) {
  sqlite3_stmt *st = stmt(s, which);
  bind_text(st, 1, ep);
  return exec_stmt(s, st, what, true);
}

static nb_err reg_del(void *self, const char *ep) {
  return del_by_ep(self, S_REG_DEL, ep, "reg_del");
}

static nb_err reg_each(void *self, nb_server_reg_each_fn fn, void *user) {
  nb_store_sqlite *s = self;
  sqlite3_stmt *st = stmt(s, S_REG_ALL);
  nb_err rc = NB_OK;
  int step;
  while (rc == NB_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
    nb_server_reg_info r;
    memset(&r, 0, sizeof(r));
    r.ep = col_str(st, 0);
    col_text(st, 1, r.reg_id, sizeof(r.reg_id));
    col_text(st, 2, r.version, sizeof(r.version));
    col_text(st, 3, r.binding, sizeof(r.binding));
    r.sms = col_str(st, 4);
    r.queue = sqlite3_column_int(st, 5) != 0;
    r.lifetime = (uint32_t)sqlite3_column_int64(st, 6);
    char addr[NB_ADDR_STRLEN];
    col_text(st, 7, addr, sizeof(addr));
    if (nb_addr_parse(addr, 0, &r.addr) != NB_OK) continue; /* unusable row: skip it */
    r.identity.kind = (nb_server_id_kind)sqlite3_column_int(st, 8);
    r.identity.value = col_str(st, 9);
    r.registered_at = sqlite3_column_int64(st, 10);
    r.updated_at = sqlite3_column_int64(st, 11);
    r.expires_at = sqlite3_column_int64(st, 12);
    r.links = col_str(st, 13);
    r.links_len = (size_t)sqlite3_column_bytes(st, 13);
    r.preferred_format = sqlite3_column_int(st, 14);
    rc = fn(user, &r);
  }
  if (rc == NB_OK && step != SQLITE_DONE) rc = db_fail(s, "reg_each");
  sqlite3_reset(st);
  return rc;
}

/* ---- observations ---- */

static nb_err obs_put(void *self, const nb_server_obs_info *o) {
  nb_store_sqlite *s = self;
  sqlite3_stmt *st = stmt(s, S_OBS_PUT);
  bind_text(st, 1, o->ep);
  sqlite3_bind_int64(st, 2, (sqlite3_int64)o->id);
  sqlite3_bind_blob(st, 3, o->token, o->token_len, SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 4, o->composite);
  sqlite3_bind_int(st, 5, o->format);
  bind_text(st, 6, o->paths);
  sqlite3_bind_int64(st, 7, o->created_at);
  return exec_stmt(s, st, "obs_put", false);
}

static nb_err obs_del(void *self, const char *ep, uint64_t id) {
  nb_store_sqlite *s = self;
  sqlite3_stmt *st = stmt(s, S_OBS_DEL);
  bind_text(st, 1, ep);
  sqlite3_bind_int64(st, 2, (sqlite3_int64)id);
  return exec_stmt(s, st, "obs_del", true);
}

static nb_err obs_del_ep(void *self, const char *ep) {
  nb_err rc = del_by_ep(self, S_OBS_DEL_EP, ep, "obs_del_ep");
  return rc == NB_ERR_NOT_FOUND ? NB_OK : rc;
}

static nb_err obs_each(void *self, nb_server_obs_each_fn fn, void *user) {
  nb_store_sqlite *s = self;
  sqlite3_stmt *st = stmt(s, S_OBS_ALL);
  nb_err rc = NB_OK;
  int step;
  while (rc == NB_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
    nb_server_obs_info o;
    memset(&o, 0, sizeof(o));
    col_text(st, 0, o.ep, sizeof(o.ep));
    o.id = (uint64_t)sqlite3_column_int64(st, 1);
    int tl = sqlite3_column_bytes(st, 2);
    o.token_len = (uint8_t)(tl > 8 ? 8 : tl);
    if (o.token_len) memcpy(o.token, sqlite3_column_blob(st, 2), o.token_len);
    o.composite = sqlite3_column_int(st, 3) != 0;
    o.format = sqlite3_column_int(st, 4);
    col_text(st, 5, o.paths, sizeof(o.paths));
    o.created_at = sqlite3_column_int64(st, 6);
    rc = fn(user, &o);
  }
  if (rc == NB_OK && step != SQLITE_DONE) rc = db_fail(s, "obs_each");
  sqlite3_reset(st);
  return rc;
}

/* ---- credentials ---- */

static nb_err sec_put(void *self, const nb_server_sec_info *c) {
  nb_store_sqlite *s = self;
  sqlite3_stmt *st = stmt(s, S_SEC_PUT);
  bind_text(st, 1, c->ep);
  sqlite3_bind_int(st, 2, (int)c->kind);
  bind_text(st, 3, c->identity);
  sqlite3_bind_blob(st, 4, c->key, (int)c->key_len, SQLITE_TRANSIENT);
  int step = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);                          /* do not keep a copy of the key bound */
  if (step == SQLITE_CONSTRAINT) return NB_ERR_EXISTS; /* identity taken by another ep */
  return step == SQLITE_DONE ? NB_OK : db_fail(s, "sec_put");
}

static void read_sec(sqlite3_stmt *st, nb_server_sec_info *out) {
  memset(out, 0, sizeof(*out));
  col_text(st, 0, out->ep, sizeof(out->ep));
  out->kind = (nb_server_id_kind)sqlite3_column_int(st, 1);
  col_text(st, 2, out->identity, sizeof(out->identity));
  int kl = sqlite3_column_bytes(st, 3);
  out->key_len = (size_t)(kl > NB_SERVER_KEY_MAX ? NB_SERVER_KEY_MAX : kl);
  if (out->key_len) memcpy(out->key, sqlite3_column_blob(st, 3), out->key_len);
}

static nb_err sec_one(nb_store_sqlite *s, sqlite3_stmt *st, nb_server_sec_info *out) {
  int step = sqlite3_step(st);
  nb_err rc = NB_OK;
  if (step == SQLITE_ROW)
    read_sec(st, out);
  else
    rc = step == SQLITE_DONE ? NB_ERR_NOT_FOUND : db_fail(s, "sec_get");
  sqlite3_reset(st);
  return rc;
}

static nb_err sec_get(void *self, const char *ep, nb_server_sec_info *out) {
  nb_store_sqlite *s = self;
  sqlite3_stmt *st = stmt(s, S_SEC_GET);
  bind_text(st, 1, ep);
  return sec_one(s, st, out);
}

static nb_err sec_find(void *self, nb_server_id_kind kind, const char *identity,
                       nb_server_sec_info *out) {
  nb_store_sqlite *s = self;
  sqlite3_stmt *st = stmt(s, S_SEC_FIND);
  sqlite3_bind_int(st, 1, (int)kind);
  bind_text(st, 2, identity);
  return sec_one(s, st, out);
}

static nb_err sec_del(void *self, const char *ep) {
  return del_by_ep(self, S_SEC_DEL, ep, "sec_del");
}

static nb_err sec_each(void *self, nb_server_sec_each_fn fn, void *user) {
  nb_store_sqlite *s = self;
  sqlite3_stmt *st = stmt(s, S_SEC_ALL);
  nb_err rc = NB_OK;
  int step;
  while (rc == NB_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
    nb_server_sec_info c;
    read_sec(st, &c);
    rc = fn(user, &c);
    memset(&c, 0, sizeof(c));
  }
  if (rc == NB_OK && step != SQLITE_DONE) rc = db_fail(s, "sec_each");
  sqlite3_reset(st);
  return rc;
}

/* ---- audit ---- */

static nb_err audit_add(void *self, const nb_server_audit_info *a) {
  nb_store_sqlite *s = self;
  sqlite3_stmt *st = stmt(s, S_AUDIT_ADD);
  sqlite3_bind_int64(st, 1, a->at);
  bind_text(st, 2, a->actor);
  bind_text(st, 3, a->ep);
  bind_text(st, 4, a->op);
  bind_text(st, 5, a->path);
  bind_text(st, 6, a->result);
  return exec_stmt(s, st, "audit_add", false);
}

static nb_err audit_each(void *self, int64_t before, size_t limit, nb_server_audit_each_fn fn,
                         void *user) {
  nb_store_sqlite *s = self;
  sqlite3_stmt *st = stmt(s, S_AUDIT_LAST);
  sqlite3_bind_int64(st, 1, before > 0 ? before : INT64_MAX);
  sqlite3_bind_int64(st, 2, (sqlite3_int64)(limit > INT32_MAX ? INT32_MAX : limit));
  nb_err rc = NB_OK;
  int step;
  while (rc == NB_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
    nb_server_audit_info a;
    memset(&a, 0, sizeof(a));
    a.at = sqlite3_column_int64(st, 0);
    col_text(st, 1, a.actor, sizeof(a.actor));
    col_text(st, 2, a.ep, sizeof(a.ep));
    col_text(st, 3, a.op, sizeof(a.op));
    col_text(st, 4, a.path, sizeof(a.path));
    col_text(st, 5, a.result, sizeof(a.result));
    a.seq = sqlite3_column_int64(st, 6);
    rc = fn(user, &a);
  }
  if (rc == NB_OK && step != SQLITE_DONE) rc = db_fail(s, "audit_each");
  sqlite3_reset(st);
  return rc;
}

/* ---- evidence of signed device data ---- */

static nb_err evidence_add(void *self, const nb_server_evidence_info *e, size_t keep) {
  nb_store_sqlite *s = self;
  sqlite3_stmt *st = stmt(s, S_EVIDENCE_ADD);
  bind_text(st, 1, e->ep);
  sqlite3_bind_int64(st, 2, e->at);
  bind_text(st, 3, e->kind);
  bind_text(st, 4, e->path);
  bind_text(st, 5, e->kid);
  if (e->has_iat) sqlite3_bind_int64(st, 6, e->iat);
  sqlite3_bind_blob(st, 7, e->cose, (int)e->cose_len, SQLITE_TRANSIENT);
  nb_err rc = exec_stmt(s, st, "evidence_add", false);
  if (rc != NB_OK || keep == 0) return rc;
  st = stmt(s, S_EVIDENCE_TRIM);
  bind_text(st, 1, e->ep);
  sqlite3_bind_int64(st, 2, (sqlite3_int64)(keep > INT32_MAX ? INT32_MAX : keep) - 1);
  return exec_stmt(s, st, "evidence_trim", false);
}

static nb_err evidence_each(void *self, const char *ep, int64_t before, size_t limit,
                            nb_server_evidence_each_fn fn, void *user) {
  nb_store_sqlite *s = self;
  sqlite3_stmt *st = stmt(s, S_EVIDENCE_LAST);
  bind_text(st, 1, ep);
  sqlite3_bind_int64(st, 2, before > 0 ? before : INT64_MAX);
  sqlite3_bind_int64(st, 3, (sqlite3_int64)(limit > INT32_MAX ? INT32_MAX : limit));
  nb_err rc = NB_OK;
  int step;
  while (rc == NB_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
    nb_server_evidence_info e;
    memset(&e, 0, sizeof(e));
    snprintf(e.ep, sizeof(e.ep), "%s", ep);
    e.at = sqlite3_column_int64(st, 0);
    col_text(st, 1, e.kind, sizeof(e.kind));
    col_text(st, 2, e.path, sizeof(e.path));
    col_text(st, 3, e.kid, sizeof(e.kid));
    e.has_iat = sqlite3_column_type(st, 4) != SQLITE_NULL;
    e.iat = sqlite3_column_int64(st, 4);
    e.cose = sqlite3_column_blob(st, 5);
    e.cose_len = (size_t)sqlite3_column_bytes(st, 5);
    e.seq = sqlite3_column_int64(st, 6);
    if (nb_server_evidence_has_secret(e.cose, e.cose_len)) {
      NB_LOG_WARN(MOD, "event=evidence-withheld ep=%s seq=%lld reason=secret-key-in-payload", ep,
                  (long long)e.seq);
      continue;
    }
    rc = fn(user, &e);
  }
  if (rc == NB_OK && step != SQLITE_DONE) rc = db_fail(s, "evidence_each");
  sqlite3_reset(st);
  return rc;
}

/* ---- health ---- */

static nb_err probe(void *self, int64_t now_unix_ms) {
  nb_store_sqlite *s = self;
  if (!s->st[S_PROBE]) return NB_ERR_IO; /* read-only */
  sqlite3_stmt *st = stmt(s, S_PROBE);
  sqlite3_bind_int64(st, 1, now_unix_ms);
  return exec_stmt(s, st, "probe", false);
}

static const char *error_text(void *self) {
  const char *e = ((nb_store_sqlite *)self)->error;
  return e ? e : "";
}

/* ---- documents ---- */

static nb_err doc_put(void *self, const char *kind, const char *key, const char *json) {
  nb_store_sqlite *s = self;
  sqlite3_stmt *st = stmt(s, S_DOC_PUT);
  bind_text(st, 1, kind);
  bind_text(st, 2, key);
  bind_text(st, 3, json);
  return exec_stmt(s, st, "doc_put", false);
}

static nb_err doc_del(void *self, const char *kind, const char *key, bool prefix) {
  nb_store_sqlite *s = self;
  sqlite3_stmt *st = stmt(s, prefix ? S_DOC_DEL_PREFIX : S_DOC_DEL);
  bind_text(st, 1, kind);
  bind_text(st, 2, key);
  return exec_stmt(s, st, "doc_del", true);
}

static nb_err doc_each(void *self, const char *kind, nb_server_doc_each_fn fn, void *user) {
  nb_store_sqlite *s = self;
  sqlite3_stmt *st = stmt(s, S_DOC_ALL);
  bind_text(st, 1, kind);
  nb_err rc = NB_OK;
  int step;
  while (rc == NB_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
    const char *key = (const char *)sqlite3_column_text(st, 0);
    const char *body = (const char *)sqlite3_column_text(st, 1);
    rc = fn(user, key ? key : "", body ? body : "");
  }
  if (rc == NB_OK && step != SQLITE_DONE) rc = db_fail(s, "doc_each");
  sqlite3_reset(st);
  return rc;
}

static const nb_server_store_ops sqlite_ops = {
    reg_put,      reg_del,       reg_each, obs_put,    obs_del,  obs_del_ep, obs_each,
    sec_put,      sec_get,       sec_find, sec_del,    sec_each, audit_add,  audit_each,
    evidence_add, evidence_each, probe,    error_text, doc_put,  doc_del,    doc_each,
};

nb_server_store nb_store_sqlite_iface(nb_store_sqlite *st) {
  nb_server_store s = {&sqlite_ops, st};
  return s;
}
