/* One connection to Redis: see redis_conn.h. */
#include "store/redis_conn.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"

#define MOD "store"

enum {
  CONNECT_TRIES = 5,      /* at open: pauses of 100, 200, 400 and 800 ms in between */
  BACKOFF_FIRST_MS = 250, /* a failed reconnect waits this long before the next, */
  BACKOFF_MAX_MS = 5000,  /* doubling up to this; operations fail at once meanwhile */
  IO_TIMEOUT_MS = 2000,   /* connect and each reply */
};

/* ---- failures, as error_text tells them ---- */

#define ERR_UNREACHABLE "Redis does not answer"
#define ERR_CONN_LOST "the connection to Redis broke"

/* Redis's error replies by their code (the first word: Redis's words after it may quote a
 * key, so they are logged at debug level only, never kept). */
static const struct {
  const char *code, *text;
} reply_errors[] = {
    {"OOM", "Redis is out of memory (maxmemory)"},
    {"READONLY", "Redis is a read-only replica"},
    {"MISCONF", "Redis refuses writes: it cannot save to disk"},
    {"LOADING", "Redis is loading its data"},
    {"BUSY", "Redis is busy running a script"},
    {"NOAUTH", "Redis wants a password"},
    {"WRONGPASS", "Redis refused the user or password"},
    {"NOPERM", "Redis's ACL refuses a command or key"},
    {"WRONGTYPE", "a key in Redis holds another type"},
};

static const char *reply_error_text(const char *reply) {
  size_t n = strcspn(reply, " ");
  for (size_t i = 0; i < sizeof(reply_errors) / sizeof(reply_errors[0]); i++)
    if (strlen(reply_errors[i].code) == n && strncmp(reply, reply_errors[i].code, n) == 0)
      return reply_errors[i].text;
  return "Redis answered an error";
}

/* ---- connection ---- */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void drop_conn(nb_redis_conn *conn) {
  if (conn->c) redisFree(conn->c);
  conn->c = NULL;
  conn->used = false;
}

static void went_down(nb_redis_conn *conn, const char *reason, const char *fixed) {
  conn->error = conn->down_error = fixed;
  if (!conn->down)
    NB_LOG_ERROR(MOD, "event=redis_unreachable addr=%s reason=\"%s\" retry_ms=%u", conn->shown,
                 reason, conn->backoff_ms ? conn->backoff_ms : BACKOFF_FIRST_MS);
  conn->down = true;
  conn->backoff_ms = conn->backoff_ms ? conn->backoff_ms * 2 : BACKOFF_FIRST_MS;
  if (conn->backoff_ms > BACKOFF_MAX_MS) conn->backoff_ms = BACKOFF_MAX_MS;
  conn->retry_at_ms = now_ms() + conn->backoff_ms;
  drop_conn(conn);
}

/* Why a connection could not be made: for the log (why), and as a fixed text. */
typedef struct {
  char why[200];
  const char *fixed;
} conn_failure;

/* One command on a fresh connection during its setup (AUTH, SELECT): true when it answered
 * without an error; the error text (never the password) into f. */
static bool setup_cmd(redisContext *c, int argc, const char **argv, const size_t *len,
                      conn_failure *f) {
  redisReply *r = redisCommandArgv(c, argc, argv, len);
  bool ok = r && r->type != REDIS_REPLY_ERROR;
  if (!r) {
    snprintf(f->why, sizeof(f->why), "%s", c->errstr);
  } else if (!ok) {
    snprintf(f->why, sizeof(f->why), "%s: %.100s", argv[0], r->str);
    f->fixed = reply_error_text(r->str);
  }
  if (r) freeReplyObject(r);
  return ok;
}

static redisContext *connect_once(const nb_redis_uri *u, conn_failure *f) {
  f->fixed = ERR_UNREACHABLE;
  struct timeval tv = {IO_TIMEOUT_MS / 1000, (suseconds_t)(IO_TIMEOUT_MS % 1000) * 1000};
  redisContext *c = redisConnectWithTimeout(u->host, u->port, tv);
  if (!c || c->err) {
    snprintf(f->why, sizeof(f->why), "%s", c ? c->errstr : "out of memory");
    if (c) redisFree(c);
    return NULL;
  }
  bool ok = redisSetTimeout(c, tv) == REDIS_OK;
  if (!ok) snprintf(f->why, sizeof(f->why), "cannot set the timeout");
  if (ok && u->password[0]) {
    const char *argv[3] = {"AUTH", u->user, u->password};
    size_t len[3] = {4, strlen(u->user), strlen(u->password)};
    ok = u->user[0]
             ? setup_cmd(c, 3, argv, len, f)
             : setup_cmd(c, 2, (const char *[]){"AUTH", u->password}, (size_t[]){4, len[2]}, f);
  }
  char db[16];
  snprintf(db, sizeof(db), "%u", u->db);
  if (ok) ok = setup_cmd(c, 2, (const char *[]){"SELECT", db}, (size_t[]){6, strlen(db)}, f);
  if (!ok) {
    redisFree(c);
    return NULL;
  }
  return c;
}

/* A usable connection: the open one, or a new one unless the back-off says wait. */
static bool conn_ready(nb_redis_conn *conn) {
  if (conn->c && !conn->c->err) return true;
  drop_conn(conn);
  if (conn->down && now_ms() < conn->retry_at_ms) {
    conn->error = conn->down_error;
    return false;
  }
  conn_failure f;
  conn->c = connect_once(&conn->uri, &f);
  if (!conn->c) {
    went_down(conn, f.why, f.fixed);
    return false;
  }
  if (conn->down) NB_LOG_INFO(MOD, "event=redis_connected addr=%s", conn->shown);
  conn->down = false;
  conn->backoff_ms = 0;
  return true;
}

/* ---- commands ---- */

void nb_redis_cmd_bin(nb_redis_cmd *c, const void *p, size_t n) {
  if (c->argc == NB_REDIS_ARGV_MAX) return; /* never: the tables below are smaller */
  c->argv[c->argc] = p ? p : "";
  c->len[c->argc++] = p ? n : 0;
}

void nb_redis_cmd_str(nb_redis_cmd *c, const char *s) { nb_redis_cmd_bin(c, s, strlen(s)); }

void nb_redis_cmd_i64(nb_redis_cmd *c, int64_t v) {
  if (c->argc == NB_REDIS_ARGV_MAX) return;
  int n = snprintf(c->num[c->argc], sizeof(c->num[0]), "%" PRId64, v);
  nb_redis_cmd_bin(c, c->num[c->argc], (size_t)n);
}

void nb_redis_cmd_start(nb_redis_cmd *c, const char *name) {
  c->argc = 0;
  nb_redis_cmd_str(c, name);
}

/* Adds prefix + tail[0..len) as this command's key (copied: nb_redis_pipe_add formats the command
 * at once, so a command lives only until then). */
void nb_redis_cmd_key(nb_redis_cmd *c, const char *prefix, const char *tail, size_t len) {
  size_t p = strlen(prefix);
  if (p + len > sizeof(c->key)) len = sizeof(c->key) - p; /* never: tails are bounded */
  memcpy(c->key, prefix, p);
  memcpy(c->key + p, tail, len);
  nb_redis_cmd_bin(c, c->key, p + len);
}

void nb_redis_cmd_key_str(nb_redis_cmd *c, const char *prefix, const char *tail) {
  nb_redis_cmd_key(c, prefix, tail, strlen(tail));
}

void nb_redis_cmd_key_num(nb_redis_cmd *c, const char *prefix, int64_t v) {
  char n[24];
  int len = snprintf(n, sizeof(n), "%" PRId64, v);
  nb_redis_cmd_key(c, prefix, n, (size_t)len);
}

void nb_redis_pipe_start(nb_redis_pipe *p, nb_redis_conn *conn) {
  p->conn = conn;
  p->n = 0;
  p->failed = false;
}

void nb_redis_pipe_add(nb_redis_pipe *p, const nb_redis_cmd *c) {
  if (p->n == (int)(sizeof(p->r) / sizeof(p->r[0])) ||
      redisAppendCommandArgv(p->conn->c, c->argc, (const char **)c->argv, c->len) != REDIS_OK) {
    p->failed = true;
    return;
  }
  p->r[p->n++] = NULL;
}

void nb_redis_pipe_free(nb_redis_pipe *p) {
  for (int i = 0; i < p->n; i++)
    if (p->r[i]) freeReplyObject(p->r[i]);
  p->n = 0;
}

/* An error reply: Redis works, but refused (out of memory, a replica, an ACL): logged at debug
 * level only, as a storage fault is logged rate-limited above the store (store_health.h). */
static void reply_failed(nb_redis_conn *conn, const char *what, const char *reply) {
  conn->error = reply_error_text(reply);
  NB_LOG_DEBUG(MOD, "event=redis_error op=%s reason=\"%.120s\"", what, reply);
}

/* Reads the replies. NB_OK; NB_REDIS_STALE when a connection that had worked broke (the caller may
 * try again once); NB_ERR_IO otherwise (an error reply, a fresh connection failing). */
nb_err nb_redis_pipe_run(nb_redis_pipe *p, const char *what) {
  nb_redis_conn *conn = p->conn;
  conn->round_trips++;
  bool io = p->failed;
  for (int i = 0; !io && i < p->n; i++) io = redisGetReply(conn->c, (void **)&p->r[i]) != REDIS_OK;
  if (io) {
    bool stale = conn->used;
    char why[160];
    snprintf(why, sizeof(why), "%s during %s", conn->c->err ? conn->c->errstr : "out of memory",
             what);
    if (stale) {
      NB_LOG_WARN(MOD, "event=redis_connection_lost addr=%s reason=\"%s\"", conn->shown, why);
      conn->error = ERR_CONN_LOST;
      drop_conn(conn);
    } else {
      went_down(conn, why, conn->c->err ? ERR_UNREACHABLE : "out of memory");
    }
    nb_redis_pipe_free(p);
    return stale ? NB_REDIS_STALE : NB_ERR_IO;
  }
  conn->used = true;
  for (int i = 0; i < p->n; i++)
    if (p->r[i]->type == REDIS_REPLY_ERROR) {
      reply_failed(conn, what, p->r[i]->str);
      nb_redis_pipe_free(p);
      return NB_ERR_IO;
    }
  return NB_OK;
}

redisReply *nb_redis_pipe_exec_of(const nb_redis_pipe *p, const char *what, bool *busy) {
  redisReply *r = p->r[p->n - 1];
  if (busy) *busy = r->type == REDIS_REPLY_NIL;
  if (r->type != REDIS_REPLY_ARRAY) return NULL;
  for (size_t i = 0; i < r->elements; i++)
    if (r->element[i]->type == REDIS_REPLY_ERROR) {
      reply_failed(p->conn, what, r->element[i]->str);
      return NULL;
    }
  return r;
}

redisReply *nb_redis_pipe_exec(const nb_redis_pipe *p) {
  return nb_redis_pipe_exec_of(p, "exec", NULL);
}

static nb_err run_op(nb_redis_conn *conn, nb_redis_op_fn body, void *arg, bool idempotent) {
  for (int attempt = 0; attempt < 2; attempt++) {
    if (!conn_ready(conn)) return NB_ERR_IO;
    nb_err rc = body(conn, arg);
    if (rc != NB_REDIS_STALE) return rc;
    if (!idempotent) return NB_ERR_IO;
  }
  return NB_ERR_IO;
}

nb_err nb_redis_run_op(nb_redis_conn *conn, nb_redis_op_fn body, void *arg, bool idempotent) {
  conn->error = NULL;
  nb_err rc = run_op(conn, body, arg, idempotent);
  if (rc == NB_ERR_IO && !conn->error) conn->error = "Redis answered unexpectedly";
  return rc;
}

/* ---- reply fields ---- */

bool nb_redis_is_str(const redisReply *r) { return r && r->type == REDIS_REPLY_STRING; }

void nb_redis_field_text(const redisReply *r, char *dst, size_t cap) {
  size_t n = nb_redis_is_str(r) ? r->len : 0;
  if (n >= cap) n = cap - 1;
  if (n) memcpy(dst, r->str, n);
  dst[n] = '\0';
}

int64_t nb_redis_field_i64(const redisReply *r) {
  return nb_redis_is_str(r) ? strtoll(r->str, NULL, 10) : 0;
}

size_t nb_redis_field_bin(const redisReply *r, uint8_t *dst, size_t cap) {
  size_t n = nb_redis_is_str(r) ? r->len : 0;
  if (n > cap) n = cap;
  if (n) memcpy(dst, r->str, n);
  return n;
}

/* A reply holding a secret (a PSK) is wiped before it is freed. */
static void reply_wipe(redisReply *r) {
  if (!r) return;
  if (r->str) memset(r->str, 0, r->len);
  for (size_t i = 0; i < r->elements; i++) reply_wipe(r->element[i]);
}

void nb_redis_pipe_free_wiped(nb_redis_pipe *p) {
  for (int i = 0; i < p->n; i++) reply_wipe(p->r[i]);
  nb_redis_pipe_free(p);
}

/* HMGET prefix+tail fields... */
void nb_redis_cmd_hmget(nb_redis_cmd *c, const char *prefix, const char *tail, size_t len,
                        const char *const *fields, size_t n) {
  nb_redis_cmd_start(c, "HMGET");
  nb_redis_cmd_key(c, prefix, tail, len);
  for (size_t i = 0; i < n; i++) nb_redis_cmd_str(c, fields[i]);
}

/* An HMGET reply with n values, at least one present (the hash exists). */
bool nb_redis_hash_found(const redisReply *r, size_t n) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != n) return false;
  for (size_t i = 0; i < n; i++)
    if (nb_redis_is_str(r->element[i])) return true;
  return false;
}

/* Walks the members of a set or sorted set (names or seqs) in pipelines of NB_REDIS_BATCH lookups:
 * build(m, len, &cmd) makes the lookup of member m; deliver(reply, ctx) hands one record to
 * the caller. The member list is read first (one round trip), so a callback may use the
 * store itself. */

static nb_err walk_members(nb_redis_conn *conn, const redisReply *list, nb_redis_lookup_fn build,
                           nb_redis_deliver_fn deliver, void *ctx, bool secret, const char *what) {
  nb_err rc = NB_OK;
  for (size_t at = 0; rc == NB_OK && at < list->elements; at += NB_REDIS_BATCH) {
    size_t n = list->elements - at < NB_REDIS_BATCH ? list->elements - at : NB_REDIS_BATCH;
    if (!conn_ready(conn)) return NB_ERR_IO;
    nb_redis_pipe p;
    nb_redis_pipe_start(&p, conn);
    for (size_t i = 0; i < n; i++) {
      nb_redis_cmd c;
      const redisReply *m = list->element[at + i];
      build(nb_redis_is_str(m) ? m->str : "", nb_redis_is_str(m) ? m->len : 0, &c);
      nb_redis_pipe_add(&p, &c);
    }
    rc = nb_redis_pipe_run(&p, what);
    if (rc == NB_REDIS_STALE) rc = NB_ERR_IO; /* records were delivered already: no second try */
    for (size_t i = 0; rc == NB_OK && i < n; i++) {
      const redisReply *m = list->element[at + i];
      rc = deliver(ctx, m->str, m->len, p.r[i]);
    }
    if (secret)
      nb_redis_pipe_free_wiped(&p);
    else
      nb_redis_pipe_free(&p);
  }
  return rc;
}

/* One command whose reply is the member list, then walk_members. */
static nb_err list_and_walk(nb_redis_conn *conn, const nb_redis_cmd *list_cmd,
                            nb_redis_lookup_fn build, nb_redis_deliver_fn deliver, void *ctx,
                            bool secret, const char *what) {
  nb_redis_pipe p;
  nb_redis_pipe_start(&p, conn);
  nb_redis_pipe_add(&p, list_cmd);
  nb_err rc = nb_redis_pipe_run(&p, what);
  if (rc != NB_OK) return rc;
  if (p.r[0]->type == REDIS_REPLY_ARRAY)
    rc = walk_members(conn, p.r[0], build, deliver, ctx, secret, what);
  else
    rc = NB_ERR_IO;
  nb_redis_pipe_free(&p);
  return rc;
}

void nb_redis_pipe_word(nb_redis_pipe *p, const char *word) {
  nb_redis_cmd c;
  nb_redis_cmd_start(&c, word);
  nb_redis_pipe_add(p, &c);
}

static nb_err walk_body(nb_redis_conn *conn, void *arg) {
  const nb_redis_walk *a = arg;
  return list_and_walk(conn, &a->list, a->build, a->deliver, a->ctx, a->secret, a->what);
}

nb_err nb_redis_walk_run(nb_redis_conn *conn, nb_redis_walk *w) {
  return nb_redis_run_op(conn, walk_body, w, true);
}

/* ---- lifecycle ---- */

nb_err nb_redis_conn_open(nb_redis_conn *conn, const nb_redis_uri *uri) {
  memset(conn, 0, sizeof(*conn));
  conn->uri = *uri;
  if (nb_redis_uri_format(uri, false, conn->shown, sizeof(conn->shown)) != NB_OK)
    snprintf(conn->shown, sizeof(conn->shown), "redis://%s", uri->host);
  conn_failure f = {"", NULL};
  unsigned pause = 100;
  for (int i = 0; i < CONNECT_TRIES && !conn->c; i++, pause *= 2) {
    if (i) pause_ms(pause / 2);
    conn->c = connect_once(&conn->uri, &f);
  }
  if (!conn->c) {
    NB_LOG_ERROR(MOD, "event=redis_unreachable addr=%s reason=\"%s\" tries=%d", conn->shown, f.why,
                 CONNECT_TRIES);
    nb_redis_conn_close(conn);
    return NB_ERR_IO;
  }
  NB_LOG_INFO(MOD, "event=redis_connected addr=%s", conn->shown);
  return NB_OK;
}

void nb_redis_conn_close(nb_redis_conn *conn) {
  drop_conn(conn);
  nb_redis_uri_wipe(&conn->uri);
}
