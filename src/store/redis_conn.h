/* One connection to Redis for the Redis store (store/redis.c), over hiredis with synchronous
 * calls: opened with AUTH and SELECT, reopened after a failure with bounded retries and a
 * growing back-off (operations fail at once meanwhile, logged once), commands built as
 * argument vectors (binary-safe: nothing is quoted, so no byte of a name is syntax), sent in
 * pipelines of one round trip each, and walks over the members of a set in batches. Owns the
 * hiredis context and a copy of the address, password included (wiped on close). */
#ifndef NB_STORE_REDIS_CONN_H
#define NB_STORE_REDIS_CONN_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "server/store.h"
#include "store/redis_uri.h"

enum {
  NB_REDIS_BATCH = 128,   /* commands of one pipeline while walking */
  NB_REDIS_ARGV_MAX = 40, /* arguments of one command */
  NB_REDIS_KEY_MAX = 32 + NB_SERVER_IDENT_MAX,
  /* An I/O failure on a connection that had worked: the operation may be tried once more on
   * a new connection (Redis restarted). Internal; never returned by the store interface. */
  NB_REDIS_STALE = 1,
};

typedef struct {
  nb_redis_uri uri;
  char shown[NB_REDIS_HOST_MAX + 64]; /* the address for logs, password masked */
  redisContext *c;
  bool used;           /* c answered at least one command */
  bool down;           /* the last attempt failed (logged once until it works again) */
  int64_t retry_at_ms; /* monotonic: no reconnect before */
  unsigned backoff_ms;
  uint64_t round_trips; /* pipelines sent */
  /* A fixed description of the last failure (never a key, name or Redis's own words, which
   * may quote a key): what the store's error_text says. down_error: the outage's, repeated
   * while the back-off answers for Redis. */
  const char *error, *down_error;
} nb_redis_conn;

/* Connects (trying 5 times over about 1.5 s); NB_ERR_IO with the reason logged. uri copied. */
nb_err nb_redis_conn_open(nb_redis_conn *conn, const nb_redis_uri *uri);
void nb_redis_conn_close(nb_redis_conn *conn);

/* One command as an argument vector. A command lives only until nb_redis_pipe_add, which
 * formats it at once. */
typedef struct {
  const char *argv[NB_REDIS_ARGV_MAX];
  size_t len[NB_REDIS_ARGV_MAX];
  char num[NB_REDIS_ARGV_MAX][24];
  char key[NB_REDIS_KEY_MAX]; /* the one key built for this command */
  int argc;
} nb_redis_cmd;

void nb_redis_cmd_start(nb_redis_cmd *c, const char *name);
void nb_redis_cmd_bin(nb_redis_cmd *c, const void *p, size_t n);
void nb_redis_cmd_str(nb_redis_cmd *c, const char *s);
void nb_redis_cmd_i64(nb_redis_cmd *c, int64_t v);
/* Adds prefix + tail[0..len) (copied into the command) as its key. */
void nb_redis_cmd_key(nb_redis_cmd *c, const char *prefix, const char *tail, size_t len);
void nb_redis_cmd_key_str(nb_redis_cmd *c, const char *prefix, const char *tail);
void nb_redis_cmd_key_num(nb_redis_cmd *c, const char *prefix, int64_t v);
/* HMGET prefix+tail fields... */
void nb_redis_cmd_hmget(nb_redis_cmd *c, const char *prefix, const char *tail, size_t len,
                        const char *const *fields, size_t n);

/* A pipeline: commands appended, then every reply read in one round trip. */
typedef struct {
  nb_redis_conn *conn;
  int n;
  redisReply *r[NB_REDIS_BATCH + 8];
  bool failed; /* an append failed (out of memory) */
} nb_redis_pipe;

void nb_redis_pipe_start(nb_redis_pipe *p, nb_redis_conn *conn);
void nb_redis_pipe_add(nb_redis_pipe *p, const nb_redis_cmd *c);
/* Appends a command of one word (MULTI, EXEC, UNWATCH). */
void nb_redis_pipe_word(nb_redis_pipe *p, const char *word);
/* Reads the replies. NB_OK (replies in p->r, none an error); NB_REDIS_STALE when a connection
 * that had worked broke; NB_ERR_IO otherwise (an error reply, a fresh connection failing). On
 * failure the replies are freed already. */
nb_err nb_redis_pipe_run(nb_redis_pipe *p, const char *what);
void nb_redis_pipe_free(nb_redis_pipe *p);
/* The same, wiping every reply first (they held a secret). */
void nb_redis_pipe_free_wiped(nb_redis_pipe *p);
/* The reply of EXEC (the pipeline's last): its array, or NULL when the transaction was
 * discarded (a WATCHed key changed: *busy set) or a command in it failed (logged). */
redisReply *nb_redis_pipe_exec_of(const nb_redis_pipe *p, const char *what, bool *busy);
redisReply *nb_redis_pipe_exec(const nb_redis_pipe *p);

/* Runs body(conn, arg) on a ready connection (NB_ERR_IO at once during a back-off), once more
 * on a new connection when an idempotent body found a working one broken. A failure leaves
 * conn->error set. */
typedef nb_err (*nb_redis_op_fn)(nb_redis_conn *conn, void *arg);
nb_err nb_redis_run_op(nb_redis_conn *conn, nb_redis_op_fn body, void *arg, bool idempotent);

/* Reply fields: a string reply; its text (truncated to cap), number, bytes. */
bool nb_redis_is_str(const redisReply *r);
void nb_redis_field_text(const redisReply *r, char *dst, size_t cap);
int64_t nb_redis_field_i64(const redisReply *r);
size_t nb_redis_field_bin(const redisReply *r, uint8_t *dst, size_t cap);
/* An HMGET reply of n values of which one at least is present (the hash exists). */
bool nb_redis_hash_found(const redisReply *r, size_t n);

/* A walk over the members (names or seqs) that `list` answers: build makes the lookup of
 * member m, deliver hands its reply to the caller. The members are read first (one round
 * trip), then looked up NB_REDIS_BATCH at a time, each batch read whole before delivery, so a
 * callback may use the store itself. */
typedef void (*nb_redis_lookup_fn)(const char *m, size_t len, nb_redis_cmd *c);
typedef nb_err (*nb_redis_deliver_fn)(void *ctx, const char *m, size_t len, const redisReply *r);
typedef struct {
  nb_redis_cmd list;
  nb_redis_lookup_fn build;
  nb_redis_deliver_fn deliver;
  void *ctx;
  bool secret; /* the replies are wiped before they are freed */
  const char *what;
} nb_redis_walk;
nb_err nb_redis_walk_run(nb_redis_conn *conn, nb_redis_walk *w);

#endif
