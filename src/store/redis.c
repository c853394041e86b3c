/* Redis store backend: see redis.h. */
#include "store/redis.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hex.h"
#include "base/log.h"

#define MOD "store"

enum {
  CONNECT_TRIES = 5,      /* at open: pauses of 100, 200, 400 and 800 ms in between */
  BACKOFF_FIRST_MS = 250, /* a failed reconnect waits this long before the next, */
  BACKOFF_MAX_MS = 5000,  /* doubling up to this; operations fail at once meanwhile */
  IO_TIMEOUT_MS = 2000,   /* connect and each reply */
  BATCH = 128,            /* records fetched in one pipeline while walking */
  SEC_WATCH_TRIES = 5,    /* a credential changed by another process meanwhile: tries */
  ARGV_MAX = 40,
  KEY_MAX = 32 + NB_SERVER_IDENT_MAX,
  /* An I/O failure on a connection that had worked: the operation may be tried once more on
   * a new connection (Redis restarted). Internal; never returned by the interface. */
  ERR_STALE = 1,
};

struct nb_store_redis {
  nb_redis_uri uri;
  char shown[NB_REDIS_HOST_MAX + 64]; /* the address for logs, password masked */
  redisContext *c;
  bool used;           /* c answered at least one command */
  bool down;           /* the last attempt failed (logged once until it works again) */
  int64_t retry_at_ms; /* monotonic: no reconnect before */
  unsigned backoff_ms;
  uint64_t round_trips;
};

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

static void drop_conn(nb_store_redis *st) {
  if (st->c) redisFree(st->c);
  st->c = NULL;
  st->used = false;
}

static void went_down(nb_store_redis *st, const char *reason) {
  if (!st->down)
    NB_LOG_ERROR(MOD, "event=redis_unreachable addr=%s reason=\"%s\" retry_ms=%u", st->shown,
                 reason, st->backoff_ms ? st->backoff_ms : BACKOFF_FIRST_MS);
  st->down = true;
  st->backoff_ms = st->backoff_ms ? st->backoff_ms * 2 : BACKOFF_FIRST_MS;
  if (st->backoff_ms > BACKOFF_MAX_MS) st->backoff_ms = BACKOFF_MAX_MS;
  st->retry_at_ms = now_ms() + st->backoff_ms;
  drop_conn(st);
}

/* One command on a fresh connection during its setup (AUTH, SELECT, PING): true when it
 * answered without an error; the error text (never the password) into why. */
static bool setup_cmd(redisContext *c, int argc, const char **argv, const size_t *len, char *why,
                      size_t cap) {
  redisReply *r = redisCommandArgv(c, argc, argv, len);
  bool ok = r && r->type != REDIS_REPLY_ERROR;
  if (!r)
    snprintf(why, cap, "%s", c->errstr);
  else if (!ok)
    snprintf(why, cap, "%s: %.100s", argv[0], r->str);
  if (r) freeReplyObject(r);
  return ok;
}

static redisContext *connect_once(const nb_redis_uri *u, char *why, size_t cap) {
  struct timeval tv = {IO_TIMEOUT_MS / 1000, (suseconds_t)(IO_TIMEOUT_MS % 1000) * 1000};
  redisContext *c = redisConnectWithTimeout(u->host, u->port, tv);
  if (!c || c->err) {
    snprintf(why, cap, "%s", c ? c->errstr : "out of memory");
    if (c) redisFree(c);
    return NULL;
  }
  bool ok = redisSetTimeout(c, tv) == REDIS_OK;
  if (!ok) snprintf(why, cap, "cannot set the timeout");
  if (ok && u->password[0]) {
    const char *argv[3] = {"AUTH", u->user, u->password};
    size_t len[3] = {4, strlen(u->user), strlen(u->password)};
    ok = u->user[0] ? setup_cmd(c, 3, argv, len, why, cap)
                    : setup_cmd(c, 2, (const char *[]){"AUTH", u->password}, (size_t[]){4, len[2]},
                                why, cap);
  }
  char db[16];
  snprintf(db, sizeof(db), "%u", u->db);
  if (ok) ok = setup_cmd(c, 2, (const char *[]){"SELECT", db}, (size_t[]){6, strlen(db)}, why, cap);
  if (!ok) {
    redisFree(c);
    return NULL;
  }
  return c;
}

/* A usable connection: the open one, or a new one unless the back-off says wait. */
static bool conn_ready(nb_store_redis *st) {
  if (st->c && !st->c->err) return true;
  drop_conn(st);
  if (st->down && now_ms() < st->retry_at_ms) return false;
  char why[200];
  st->c = connect_once(&st->uri, why, sizeof(why));
  if (!st->c) {
    went_down(st, why);
    return false;
  }
  if (st->down) NB_LOG_INFO(MOD, "event=redis_connected addr=%s", st->shown);
  st->down = false;
  st->backoff_ms = 0;
  return true;
}

/* ---- commands ---- */

/* One command as an argument vector (binary-safe: nothing is ever quoted or parsed). */
typedef struct {
  const char *argv[ARGV_MAX];
  size_t len[ARGV_MAX];
  char num[ARGV_MAX][24];
  char key[KEY_MAX]; /* the one key built for this command */
  int argc;
} cmd;

static void cmd_bin(cmd *c, const void *p, size_t n) {
  if (c->argc == ARGV_MAX) return; /* never: the tables below are smaller */
  c->argv[c->argc] = p ? p : "";
  c->len[c->argc++] = p ? n : 0;
}

static void cmd_str(cmd *c, const char *s) { cmd_bin(c, s, strlen(s)); }

static void cmd_i64(cmd *c, int64_t v) {
  if (c->argc == ARGV_MAX) return;
  int n = snprintf(c->num[c->argc], sizeof(c->num[0]), "%" PRId64, v);
  cmd_bin(c, c->num[c->argc], (size_t)n);
}

static void cmd_start(cmd *c, const char *name) {
  c->argc = 0;
  cmd_str(c, name);
}

/* Adds prefix + tail[0..len) as this command's key (copied: pipe_add formats the command at
 * once, so a command lives only until then). */
static void cmd_key(cmd *c, const char *prefix, const char *tail, size_t len) {
  size_t p = strlen(prefix);
  if (p + len > sizeof(c->key)) len = sizeof(c->key) - p; /* never: tails are bounded */
  memcpy(c->key, prefix, p);
  memcpy(c->key + p, tail, len);
  cmd_bin(c, c->key, p + len);
}

static void cmd_key_str(cmd *c, const char *prefix, const char *tail) {
  cmd_key(c, prefix, tail, strlen(tail));
}

static void cmd_key_num(cmd *c, const char *prefix, int64_t v) {
  char n[24];
  int len = snprintf(n, sizeof(n), "%" PRId64, v);
  cmd_key(c, prefix, n, (size_t)len);
}

/* A pipeline: commands appended, then every reply read in one round trip. */
typedef struct {
  nb_store_redis *st;
  int n;
  redisReply *r[BATCH + 8];
  bool failed; /* an append failed (out of memory) */
} pipe_t;

static void pipe_start(pipe_t *p, nb_store_redis *st) {
  p->st = st;
  p->n = 0;
  p->failed = false;
}

static void pipe_add(pipe_t *p, const cmd *c) {
  if (p->n == (int)(sizeof(p->r) / sizeof(p->r[0])) ||
      redisAppendCommandArgv(p->st->c, c->argc, (const char **)c->argv, c->len) != REDIS_OK) {
    p->failed = true;
    return;
  }
  p->r[p->n++] = NULL;
}

static void pipe_free(pipe_t *p) {
  for (int i = 0; i < p->n; i++)
    if (p->r[i]) freeReplyObject(p->r[i]);
  p->n = 0;
}

/* Reads the replies. NB_OK; ERR_STALE when a connection that had worked broke (the caller may
 * try again once); NB_ERR_IO otherwise (an error reply, a fresh connection failing). */
static nb_err pipe_run(pipe_t *p, const char *what) {
  nb_store_redis *st = p->st;
  st->round_trips++;
  bool io = p->failed;
  for (int i = 0; !io && i < p->n; i++) io = redisGetReply(st->c, (void **)&p->r[i]) != REDIS_OK;
  if (io) {
    bool stale = st->used;
    char why[160];
    snprintf(why, sizeof(why), "%s during %s", st->c->err ? st->c->errstr : "out of memory", what);
    if (stale) {
      NB_LOG_WARN(MOD, "event=redis_connection_lost addr=%s reason=\"%s\"", st->shown, why);
      drop_conn(st);
    } else {
      went_down(st, why);
    }
    pipe_free(p);
    return stale ? ERR_STALE : NB_ERR_IO;
  }
  st->used = true;
  for (int i = 0; i < p->n; i++)
    if (p->r[i]->type == REDIS_REPLY_ERROR) {
      NB_LOG_ERROR(MOD, "event=redis_error op=%s reason=\"%.120s\"", what, p->r[i]->str);
      pipe_free(p);
      return NB_ERR_IO;
    }
  return NB_OK;
}

/* The reply of EXEC (the pipeline's last): its array, or NULL when the transaction was
 * discarded (a WATCHed key changed: *busy set) or a command in it failed (logged). */
static redisReply *exec_reply_of(const pipe_t *p, const char *what, bool *busy) {
  redisReply *r = p->r[p->n - 1];
  if (busy) *busy = r->type == REDIS_REPLY_NIL;
  if (r->type != REDIS_REPLY_ARRAY) return NULL;
  for (size_t i = 0; i < r->elements; i++)
    if (r->element[i]->type == REDIS_REPLY_ERROR) {
      NB_LOG_ERROR(MOD, "event=redis_error op=%s reason=\"%.120s\"", what, r->element[i]->str);
      return NULL;
    }
  return r;
}

static redisReply *exec_reply(const pipe_t *p) { return exec_reply_of(p, "exec", NULL); }

/* Runs body(st, arg) on a ready connection, once more when a working connection broke. */
typedef nb_err (*op_fn)(nb_store_redis *st, void *arg);
static nb_err run_op(nb_store_redis *st, op_fn body, void *arg, bool idempotent) {
  for (int attempt = 0; attempt < 2; attempt++) {
    if (!conn_ready(st)) return NB_ERR_IO;
    nb_err rc = body(st, arg);
    if (rc != ERR_STALE) return rc;
    if (!idempotent) return NB_ERR_IO;
  }
  return NB_ERR_IO;
}

/* ---- reply fields ---- */

static bool rstr(const redisReply *r) { return r && r->type == REDIS_REPLY_STRING; }

static void field_text(const redisReply *r, char *dst, size_t cap) {
  size_t n = rstr(r) ? r->len : 0;
  if (n >= cap) n = cap - 1;
  if (n) memcpy(dst, r->str, n);
  dst[n] = '\0';
}

static int64_t field_i64(const redisReply *r) { return rstr(r) ? strtoll(r->str, NULL, 10) : 0; }

static size_t field_bin(const redisReply *r, uint8_t *dst, size_t cap) {
  size_t n = rstr(r) ? r->len : 0;
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

static void pipe_free_wiped(pipe_t *p) {
  for (int i = 0; i < p->n; i++) reply_wipe(p->r[i]);
  pipe_free(p);
}

/* HMGET prefix+tail fields... */
static void cmd_hmget(cmd *c, const char *prefix, const char *tail, size_t len,
                      const char *const *fields, size_t n) {
  cmd_start(c, "HMGET");
  cmd_key(c, prefix, tail, len);
  for (size_t i = 0; i < n; i++) cmd_str(c, fields[i]);
}

/* An HMGET reply with n values, at least one present (the hash exists). */
static bool hash_found(const redisReply *r, size_t n) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != n) return false;
  for (size_t i = 0; i < n; i++)
    if (rstr(r->element[i])) return true;
  return false;
}

/* Walks the members of a set or sorted set (names or seqs) in pipelines of BATCH lookups:
 * build(m, len, &cmd) makes the lookup of member m; deliver(reply, ctx) hands one record to
 * the caller. The member list is read first (one round trip), so a callback may use the
 * store itself. */
typedef void (*lookup_fn)(const char *m, size_t len, cmd *c);
typedef nb_err (*deliver_fn)(void *ctx, const char *m, size_t len, const redisReply *r);

static nb_err walk_members(nb_store_redis *st, const redisReply *list, lookup_fn build,
                           deliver_fn deliver, void *ctx, bool secret, const char *what) {
  nb_err rc = NB_OK;
  for (size_t at = 0; rc == NB_OK && at < list->elements; at += BATCH) {
    size_t n = list->elements - at < BATCH ? list->elements - at : BATCH;
    if (!conn_ready(st)) return NB_ERR_IO;
    pipe_t p;
    pipe_start(&p, st);
    for (size_t i = 0; i < n; i++) {
      cmd c;
      const redisReply *m = list->element[at + i];
      build(rstr(m) ? m->str : "", rstr(m) ? m->len : 0, &c);
      pipe_add(&p, &c);
    }
    rc = pipe_run(&p, what);
    if (rc == ERR_STALE) rc = NB_ERR_IO; /* records were delivered already: no second try */
    for (size_t i = 0; rc == NB_OK && i < n; i++) {
      const redisReply *m = list->element[at + i];
      rc = deliver(ctx, m->str, m->len, p.r[i]);
    }
    if (secret)
      pipe_free_wiped(&p);
    else
      pipe_free(&p);
  }
  return rc;
}

/* One command whose reply is the member list, then walk_members. */
static nb_err list_and_walk(nb_store_redis *st, const cmd *list_cmd, lookup_fn build,
                            deliver_fn deliver, void *ctx, bool secret, const char *what) {
  pipe_t p;
  pipe_start(&p, st);
  pipe_add(&p, list_cmd);
  nb_err rc = pipe_run(&p, what);
  if (rc != NB_OK) return rc;
  if (p.r[0]->type == REDIS_REPLY_ARRAY)
    rc = walk_members(st, p.r[0], build, deliver, ctx, secret, what);
  else
    rc = NB_ERR_IO;
  pipe_free(&p);
  return rc;
}

static void pipe_word(pipe_t *p, const char *word) {
  cmd c;
  cmd_start(&c, word);
  pipe_add(p, &c);
}

/* ---- registrations ---- */

static const char *const reg_fields[] = {
    "ep",         "reg_id", "version",          "binding",  "sms",           "queue",
    "lifetime",   "addr",   "id_kind",          "id_value", "registered_at", "updated_at",
    "expires_at", "links",  "preferred_format",
};
#define REG_NFIELDS (sizeof(reg_fields) / sizeof(reg_fields[0]))

static nb_err reg_put_body(nb_store_redis *st, void *arg) {
  const nb_server_reg_info *r = arg;
  char addr[NB_ADDR_STRLEN];
  nb_addr_format(&r->addr, addr, sizeof(addr));
  pipe_t p;
  pipe_start(&p, st);
  pipe_word(&p, "MULTI");
  cmd c;
  cmd_start(&c, "HSET");
  cmd_key_str(&c, "nb:reg:", r->ep);
  const char *const *f = reg_fields; /* the values in the order of reg_fields */
  cmd_str(&c, *f++), cmd_str(&c, r->ep);
  cmd_str(&c, *f++), cmd_str(&c, r->reg_id);
  cmd_str(&c, *f++), cmd_str(&c, r->version);
  cmd_str(&c, *f++), cmd_str(&c, r->binding);
  cmd_str(&c, *f++), cmd_str(&c, r->sms);
  cmd_str(&c, *f++), cmd_i64(&c, r->queue);
  cmd_str(&c, *f++), cmd_i64(&c, r->lifetime);
  cmd_str(&c, *f++), cmd_str(&c, addr);
  cmd_str(&c, *f++), cmd_i64(&c, r->identity.kind);
  cmd_str(&c, *f++), cmd_str(&c, r->identity.value);
  cmd_str(&c, *f++), cmd_i64(&c, r->registered_at);
  cmd_str(&c, *f++), cmd_i64(&c, r->updated_at);
  cmd_str(&c, *f++), cmd_i64(&c, r->expires_at);
  cmd_str(&c, *f++), cmd_bin(&c, r->links ? r->links : "", r->links ? r->links_len : 0);
  cmd_str(&c, *f++), cmd_i64(&c, r->preferred_format);
  pipe_add(&p, &c);
  cmd_start(&c, "SADD");
  cmd_str(&c, "nb:regs");
  cmd_str(&c, r->ep);
  pipe_add(&p, &c);
  pipe_word(&p, "EXEC");
  nb_err rc = pipe_run(&p, "reg_put");
  if (rc == NB_OK && !exec_reply(&p)) rc = NB_ERR_IO;
  pipe_free(&p);
  return rc;
}

static nb_err reg_put(void *self, const nb_server_reg_info *r) {
  return run_op(self, reg_put_body, (void *)r, true);
}

/* MULTI; DEL prefix+ep; (SREM|ZREM) index ep; EXEC: NB_ERR_NOT_FOUND when the key was not
 * there. */
typedef struct {
  const char *prefix, *index, *rem, *ep, *what;
} del_args;

static nb_err del_indexed_body(nb_store_redis *st, void *arg) {
  const del_args *a = arg;
  pipe_t p;
  pipe_start(&p, st);
  pipe_word(&p, "MULTI");
  cmd c;
  cmd_start(&c, "DEL");
  cmd_key_str(&c, a->prefix, a->ep);
  pipe_add(&p, &c);
  cmd_start(&c, a->rem);
  cmd_str(&c, a->index);
  cmd_str(&c, a->ep);
  pipe_add(&p, &c);
  pipe_word(&p, "EXEC");
  nb_err rc = pipe_run(&p, a->what);
  if (rc != NB_OK) return rc;
  const redisReply *x = exec_reply(&p);
  if (!x || x->elements != 2)
    rc = NB_ERR_IO;
  else if (x->element[0]->integer == 0)
    rc = NB_ERR_NOT_FOUND;
  pipe_free(&p);
  return rc;
}

static nb_err reg_del(void *self, const char *ep) {
  del_args a = {"nb:reg:", "nb:regs", "SREM", ep, "reg_del"};
  return run_op(self, del_indexed_body, &a, true);
}

static void reg_lookup(const char *m, size_t len, cmd *c) {
  cmd_hmget(c, "nb:reg:", m, len, reg_fields, REG_NFIELDS);
}

typedef struct {
  nb_server_reg_each_fn fn;
  void *user;
} reg_walk;

static nb_err reg_deliver(void *ctx, const char *m, size_t len, const redisReply *r) {
  (void)m;
  (void)len;
  reg_walk *w = ctx;
  if (!hash_found(r, REG_NFIELDS)) return NB_OK; /* deleted meanwhile */
  redisReply *const *v = r->element;
  nb_server_reg_info i;
  memset(&i, 0, sizeof(i));
  field_text(v[0], i.ep, sizeof(i.ep));
  field_text(v[1], i.reg_id, sizeof(i.reg_id));
  field_text(v[2], i.version, sizeof(i.version));
  field_text(v[3], i.binding, sizeof(i.binding));
  field_text(v[4], i.sms, sizeof(i.sms));
  i.queue = field_i64(v[5]) != 0;
  i.lifetime = (uint32_t)field_i64(v[6]);
  char addr[NB_ADDR_STRLEN];
  field_text(v[7], addr, sizeof(addr));
  if (nb_addr_parse(addr, 0, &i.addr) != NB_OK) return NB_OK; /* unusable record: skip it */
  i.identity.kind = (nb_server_id_kind)field_i64(v[8]);
  field_text(v[9], i.identity.value, sizeof(i.identity.value));
  i.registered_at = field_i64(v[10]);
  i.updated_at = field_i64(v[11]);
  i.expires_at = field_i64(v[12]);
  i.links = rstr(v[13]) ? v[13]->str : "";
  i.links_len = rstr(v[13]) ? v[13]->len : 0;
  i.preferred_format = rstr(v[14]) ? (int)field_i64(v[14]) : -1;
  return w->fn(w->user, &i);
}

/* An each-walk: the list command, then the records. */
typedef struct {
  cmd list;
  lookup_fn build;
  deliver_fn deliver;
  void *ctx;
  bool secret;
  const char *what;
} walk_args;

static nb_err walk_body(nb_store_redis *st, void *arg) {
  walk_args *a = arg;
  return list_and_walk(st, &a->list, a->build, a->deliver, a->ctx, a->secret, a->what);
}

static nb_err reg_each(void *self, nb_server_reg_each_fn fn, void *user) {
  reg_walk w = {fn, user};
  walk_args a = {.build = reg_lookup, .deliver = reg_deliver, .ctx = &w, .what = "reg_each"};
  cmd_start(&a.list, "SMEMBERS");
  cmd_str(&a.list, "nb:regs");
  return run_op(self, walk_body, &a, true);
}

/* ---- observations ---- */

static nb_err obs_put_body(nb_store_redis *st, void *arg) {
  const nb_server_obs_info *o = arg;
  char tok[2 * 8 + 2] = "-", rec[NB_SERVER_PATHS_MAX + 96];
  if (o->token_len) nb_hex_encode(o->token, o->token_len > 8 ? 8 : o->token_len, tok);
  int n = snprintf(rec, sizeof(rec), "%d %d %" PRId64 " %s %s", o->format, o->composite ? 1 : 0,
                   o->created_at, tok, o->paths);
  pipe_t p;
  pipe_start(&p, st);
  pipe_word(&p, "MULTI");
  cmd c;
  cmd_start(&c, "HSET");
  cmd_key_str(&c, "nb:obs:", o->ep);
  cmd_i64(&c, (int64_t)o->id);
  cmd_bin(&c, rec, n > 0 && (size_t)n < sizeof(rec) ? (size_t)n : strlen(rec));
  pipe_add(&p, &c);
  cmd_start(&c, "SADD");
  cmd_str(&c, "nb:obseps");
  cmd_str(&c, o->ep);
  pipe_add(&p, &c);
  pipe_word(&p, "EXEC");
  nb_err rc = pipe_run(&p, "obs_put");
  if (rc == NB_OK && !exec_reply(&p)) rc = NB_ERR_IO;
  pipe_free(&p);
  return rc;
}

static nb_err obs_put(void *self, const nb_server_obs_info *o) {
  return run_op(self, obs_put_body, (void *)o, true);
}

typedef struct {
  const char *ep;
  uint64_t id;
} obs_key;

static nb_err obs_del_body(nb_store_redis *st, void *arg) {
  const obs_key *k = arg;
  pipe_t p;
  pipe_start(&p, st);
  cmd c;
  cmd_start(&c, "HDEL");
  cmd_key_str(&c, "nb:obs:", k->ep);
  cmd_i64(&c, (int64_t)k->id);
  pipe_add(&p, &c);
  nb_err rc = pipe_run(&p, "obs_del");
  if (rc == NB_OK && p.r[0]->integer == 0) rc = NB_ERR_NOT_FOUND;
  pipe_free(&p);
  return rc;
}

static nb_err obs_del(void *self, const char *ep, uint64_t id) {
  obs_key k = {ep, id};
  return run_op(self, obs_del_body, &k, true);
}

static nb_err obs_del_ep(void *self, const char *ep) {
  del_args a = {"nb:obs:", "nb:obseps", "SREM", ep, "obs_del_ep"};
  nb_err rc = run_op(self, del_indexed_body, &a, true);
  return rc == NB_ERR_NOT_FOUND ? NB_OK : rc;
}

/* One "FORMAT COMPOSITE CREATED_AT TOKEN_HEX PATHS" record; false when malformed. */
static bool obs_decode(const redisReply *id, const redisReply *rec, nb_server_obs_info *o) {
  if (!rstr(id) || !rstr(rec) || rec->len >= NB_SERVER_PATHS_MAX + 96) return false;
  char text[NB_SERVER_PATHS_MAX + 96], tok[20];
  memcpy(text, rec->str, rec->len);
  text[rec->len] = '\0';
  int composite, used = 0;
  long long created;
  if (sscanf(text, "%d %d %lld %19s %n", &o->format, &composite, &created, tok, &used) != 4 ||
      used == 0)
    return false;
  o->id = strtoull(id->str, NULL, 10);
  o->composite = composite != 0;
  o->created_at = created;
  size_t tl = 0;
  if (strcmp(tok, "-") != 0 &&
      nb_hex_decode(tok, strlen(tok), NULL, o->token, sizeof(o->token), &tl) != NB_OK)
    return false;
  o->token_len = (uint8_t)tl;
  snprintf(o->paths, sizeof(o->paths), "%s", text + used);
  return true;
}

static void obs_lookup(const char *m, size_t len, cmd *c) {
  cmd_start(c, "HGETALL");
  cmd_key(c, "nb:obs:", m, len);
}

typedef struct {
  nb_server_obs_each_fn fn;
  void *user;
} obs_walk;

static nb_err obs_deliver(void *ctx, const char *m, size_t len, const redisReply *r) {
  obs_walk *w = ctx;
  if (r->type != REDIS_REPLY_ARRAY) return NB_ERR_IO;
  nb_err rc = NB_OK;
  for (size_t i = 0; rc == NB_OK && i + 1 < r->elements; i += 2) {
    nb_server_obs_info o;
    memset(&o, 0, sizeof(o));
    if (len >= sizeof(o.ep) || !obs_decode(r->element[i], r->element[i + 1], &o)) continue;
    memcpy(o.ep, m, len);
    rc = w->fn(w->user, &o);
  }
  return rc;
}

static nb_err obs_each(void *self, nb_server_obs_each_fn fn, void *user) {
  obs_walk w = {fn, user};
  walk_args a = {.build = obs_lookup, .deliver = obs_deliver, .ctx = &w, .what = "obs_each"};
  cmd_start(&a.list, "SMEMBERS");
  cmd_str(&a.list, "nb:obseps");
  return run_op(self, walk_body, &a, true);
}

/* ---- credentials ---- */

static const char *const sec_fields[] = {"ep", "kind", "identity", "key"};
#define SEC_NFIELDS (sizeof(sec_fields) / sizeof(sec_fields[0]))

/* The identity index key of (kind, identity): "nb:secid:KIND:IDENTITY". */
static void cmd_secid(cmd *c, nb_server_id_kind kind, const char *identity, size_t len) {
  char prefix[24];
  snprintf(prefix, sizeof(prefix), "nb:secid:%d:", (int)kind);
  cmd_key(c, prefix, identity, len);
}

/* An HMGET reply of sec_fields into out; false when the hash does not exist. */
static bool sec_decode(const redisReply *r, nb_server_sec_info *out) {
  memset(out, 0, sizeof(*out));
  if (!hash_found(r, SEC_NFIELDS)) return false;
  field_text(r->element[0], out->ep, sizeof(out->ep));
  out->kind = (nb_server_id_kind)field_i64(r->element[1]);
  field_text(r->element[2], out->identity, sizeof(out->identity));
  out->key_len = field_bin(r->element[3], out->key, sizeof(out->key));
  return true;
}

/* What a put or delete found: the credential now stored for the ep, and the owner of the
 * identity index the new one wants. */
typedef struct {
  bool had;
  nb_server_sec_info old;
  bool taken; /* the new identity belongs to another endpoint */
} sec_state;

/* WATCH the credential and the wanted index, and read both (one round trip). */
static nb_err sec_watch(nb_store_redis *st, const char *ep, const nb_server_sec_info *want,
                        sec_state *out) {
  pipe_t p;
  pipe_start(&p, st);
  cmd c;
  cmd_start(&c, "WATCH");
  cmd_key_str(&c, "nb:sec:", ep);
  pipe_add(&p, &c);
  if (want && want->kind != NB_SERVER_ID_NONE) {
    cmd_start(&c, "WATCH");
    cmd_secid(&c, want->kind, want->identity, strlen(want->identity));
    pipe_add(&p, &c);
    cmd_start(&c, "GET");
    cmd_secid(&c, want->kind, want->identity, strlen(want->identity));
    pipe_add(&p, &c);
  }
  cmd_hmget(&c, "nb:sec:", ep, strlen(ep), sec_fields, SEC_NFIELDS);
  pipe_add(&p, &c);
  nb_err rc = pipe_run(&p, "sec_watch");
  if (rc != NB_OK) return rc;
  out->had = sec_decode(p.r[p.n - 1], &out->old);
  out->taken = false;
  if (want && want->kind != NB_SERVER_ID_NONE) {
    const redisReply *owner = p.r[2];
    out->taken =
        rstr(owner) && (owner->len != strlen(ep) || memcmp(owner->str, ep, owner->len) != 0);
  }
  pipe_free_wiped(&p);
  return NB_OK;
}

/* MULTI; the credential's writes; EXEC. NB_ERR_BUSY when a WATCHed key changed meanwhile. */
static nb_err sec_commit(nb_store_redis *st, const char *ep, const sec_state *was,
                         const nb_server_sec_info *s) {
  pipe_t p;
  pipe_start(&p, st);
  pipe_word(&p, "MULTI");
  cmd c;
  bool old_index = was->had && was->old.kind != NB_SERVER_ID_NONE;
  if (old_index &&
      (!s || s->kind != was->old.kind || strcmp(s->identity, was->old.identity) != 0)) {
    cmd_start(&c, "DEL");
    cmd_secid(&c, was->old.kind, was->old.identity, strlen(was->old.identity));
    pipe_add(&p, &c);
  }
  if (s) {
    cmd_start(&c, "HSET");
    cmd_key_str(&c, "nb:sec:", ep);
    cmd_str(&c, sec_fields[0]), cmd_str(&c, s->ep);
    cmd_str(&c, sec_fields[1]), cmd_i64(&c, s->kind);
    cmd_str(&c, sec_fields[2]), cmd_str(&c, s->identity);
    cmd_str(&c, sec_fields[3]),
        cmd_bin(&c, s->key, s->key_len > NB_SERVER_KEY_MAX ? 0 : s->key_len);
    pipe_add(&p, &c);
    memset(&c, 0, sizeof(c)); /* held a pointer to the key only, but be tidy */
    if (s->kind != NB_SERVER_ID_NONE) {
      cmd_start(&c, "SET");
      cmd_secid(&c, s->kind, s->identity, strlen(s->identity));
      cmd_str(&c, ep);
      pipe_add(&p, &c);
    }
    cmd_start(&c, "ZADD");
    cmd_str(&c, "nb:secs");
    cmd_str(&c, "0");
  } else {
    cmd_start(&c, "DEL");
    cmd_key_str(&c, "nb:sec:", ep);
    pipe_add(&p, &c);
    cmd_start(&c, "ZREM");
    cmd_str(&c, "nb:secs");
  }
  cmd_str(&c, ep);
  pipe_add(&p, &c);
  pipe_word(&p, "EXEC");
  nb_err rc = pipe_run(&p, s ? "sec_put" : "sec_del");
  bool busy = false;
  if (rc == NB_OK && !exec_reply_of(&p, "sec_commit", &busy)) rc = busy ? NB_ERR_BUSY : NB_ERR_IO;
  pipe_free(&p);
  return rc;
}

static void sec_unwatch(nb_store_redis *st) {
  pipe_t p;
  pipe_start(&p, st);
  pipe_word(&p, "UNWATCH");
  if (pipe_run(&p, "unwatch") == NB_OK) pipe_free(&p);
}

typedef struct {
  const char *ep;
  const nb_server_sec_info *s; /* NULL: delete */
} sec_change;

/* Optimistic: WATCH, read, write in MULTI/EXEC; again when another process got in between. */
static nb_err sec_change_body(nb_store_redis *st, void *arg) {
  const sec_change *ch = arg;
  for (int i = 0; i < SEC_WATCH_TRIES; i++) {
    sec_state was;
    nb_err rc = sec_watch(st, ch->ep, ch->s, &was);
    if (rc == NB_OK && ch->s && was.taken) rc = NB_ERR_EXISTS;
    if (rc == NB_OK && !ch->s && !was.had) rc = NB_ERR_NOT_FOUND;
    if (rc == NB_OK) rc = sec_commit(st, ch->ep, &was, ch->s);
    memset(&was, 0, sizeof(was)); /* the old PSK */
    if (rc == NB_ERR_EXISTS || rc == NB_ERR_NOT_FOUND) sec_unwatch(st);
    if (rc != NB_ERR_BUSY) return rc;
  }
  NB_LOG_WARN(MOD, "event=redis_contention op=sec_put ep=%s tries=%d", ch->ep, SEC_WATCH_TRIES);
  return NB_ERR_IO;
}

static nb_err sec_put(void *self, const nb_server_sec_info *s) {
  sec_change ch = {s->ep, s};
  return run_op(self, sec_change_body, &ch, true);
}

static nb_err sec_del(void *self, const char *ep) {
  sec_change ch = {ep, NULL};
  return run_op(self, sec_change_body, &ch, true);
}

typedef struct {
  const char *ep;
  nb_server_sec_info *out;
} sec_get_args;

static nb_err sec_get_body(nb_store_redis *st, void *arg) {
  sec_get_args *a = arg;
  pipe_t p;
  pipe_start(&p, st);
  cmd c;
  cmd_hmget(&c, "nb:sec:", a->ep, strlen(a->ep), sec_fields, SEC_NFIELDS);
  pipe_add(&p, &c);
  nb_err rc = pipe_run(&p, "sec_get");
  if (rc != NB_OK) return rc;
  rc = sec_decode(p.r[0], a->out) ? NB_OK : NB_ERR_NOT_FOUND;
  pipe_free_wiped(&p);
  return rc;
}

static nb_err sec_get(void *self, const char *ep, nb_server_sec_info *out) {
  sec_get_args a = {ep, out};
  return run_op(self, sec_get_body, &a, true);
}

typedef struct {
  nb_server_id_kind kind;
  const char *identity;
  nb_server_sec_info *out;
} sec_find_args;

/* The index names the endpoint (one round trip), its credential must still say this kind and
 * identity (another: an index left by a crash between two versions never matches). */
static nb_err sec_find_body(nb_store_redis *st, void *arg) {
  sec_find_args *a = arg;
  pipe_t p;
  pipe_start(&p, st);
  cmd c;
  cmd_start(&c, "GET");
  cmd_secid(&c, a->kind, a->identity, strlen(a->identity));
  pipe_add(&p, &c);
  nb_err rc = pipe_run(&p, "sec_find");
  if (rc != NB_OK) return rc;
  char ep[NB_SERVER_EP_MAX];
  bool named = rstr(p.r[0]) && p.r[0]->len < sizeof(ep);
  if (named) field_text(p.r[0], ep, sizeof(ep));
  pipe_free(&p);
  if (!named) return NB_ERR_NOT_FOUND;
  sec_get_args g = {ep, a->out};
  rc = sec_get_body(st, &g);
  if (rc == ERR_STALE) rc = NB_ERR_IO;
  if (rc == NB_OK && (a->out->kind != a->kind || strcmp(a->out->identity, a->identity) != 0)) {
    memset(a->out, 0, sizeof(*a->out));
    rc = NB_ERR_NOT_FOUND;
  }
  return rc;
}

static nb_err sec_find(void *self, nb_server_id_kind kind, const char *identity,
                       nb_server_sec_info *out) {
  if (kind == NB_SERVER_ID_NONE) return NB_ERR_NOT_FOUND; /* no index: never looked up */
  sec_find_args a = {kind, identity, out};
  return run_op(self, sec_find_body, &a, true);
}

static void sec_lookup(const char *m, size_t len, cmd *c) {
  cmd_hmget(c, "nb:sec:", m, len, sec_fields, SEC_NFIELDS);
}

typedef struct {
  nb_server_sec_each_fn fn;
  void *user;
} sec_walk;

static nb_err sec_deliver(void *ctx, const char *m, size_t len, const redisReply *r) {
  (void)m;
  (void)len;
  sec_walk *w = ctx;
  nb_server_sec_info s;
  nb_err rc = sec_decode(r, &s) ? w->fn(w->user, &s) : NB_OK;
  memset(&s, 0, sizeof(s));
  return rc;
}

static nb_err sec_each(void *self, nb_server_sec_each_fn fn, void *user) {
  sec_walk w = {fn, user};
  walk_args a = {
      .build = sec_lookup, .deliver = sec_deliver, .ctx = &w, .secret = true, .what = "sec_each"};
  cmd_start(&a.list, "ZRANGE");
  cmd_str(&a.list, "nb:secs");
  cmd_str(&a.list, "0");
  cmd_str(&a.list, "-1");
  return run_op(self, walk_body, &a, true);
}

/* ---- audit log and evidence: a counter, a sorted set of seqs, a hash per entry ---- */

/* INCR counter: the new entry's seq. */
static nb_err next_seq(nb_store_redis *st, const char *counter, int64_t *seq) {
  pipe_t p;
  pipe_start(&p, st);
  cmd c;
  cmd_start(&c, "INCR");
  cmd_str(&c, counter);
  pipe_add(&p, &c);
  nb_err rc = pipe_run(&p, counter);
  if (rc != NB_OK) return rc;
  *seq = p.r[0]->integer;
  pipe_free(&p);
  return NB_OK;
}

/* The newest `limit` members of zset with a score below before (0: all), newest first. */
static void cmd_newest(cmd *c, const char *prefix, const char *tail, int64_t before, size_t limit) {
  cmd_start(c, "ZREVRANGEBYSCORE");
  cmd_key_str(c, prefix, tail);
  char *max = c->num[ARGV_MAX - 1];
  if (before > 0)
    snprintf(max, sizeof(c->num[0]), "(%" PRId64, before);
  else
    snprintf(max, sizeof(c->num[0]), "+inf");
  cmd_str(c, max);
  cmd_str(c, "-inf");
  cmd_str(c, "LIMIT");
  cmd_str(c, "0");
  cmd_i64(c, limit > INT32_MAX ? INT32_MAX : (int64_t)limit);
}

static const char *const audit_fields[] = {"at", "actor", "ep", "op", "path", "result"};
#define AUDIT_NFIELDS (sizeof(audit_fields) / sizeof(audit_fields[0]))

static nb_err audit_add_body(nb_store_redis *st, void *arg) {
  const nb_server_audit_info *a = arg;
  int64_t seq;
  nb_err rc = next_seq(st, "nb:seq:audit", &seq);
  if (rc != NB_OK) return rc;
  pipe_t p;
  pipe_start(&p, st);
  pipe_word(&p, "MULTI");
  cmd c;
  cmd_start(&c, "HSET");
  cmd_key_num(&c, "nb:audit:", seq);
  cmd_str(&c, audit_fields[0]), cmd_i64(&c, a->at);
  cmd_str(&c, audit_fields[1]), cmd_str(&c, a->actor);
  cmd_str(&c, audit_fields[2]), cmd_str(&c, a->ep);
  cmd_str(&c, audit_fields[3]), cmd_str(&c, a->op);
  cmd_str(&c, audit_fields[4]), cmd_str(&c, a->path);
  cmd_str(&c, audit_fields[5]), cmd_str(&c, a->result);
  pipe_add(&p, &c);
  cmd_start(&c, "ZADD");
  cmd_str(&c, "nb:audit");
  cmd_i64(&c, seq);
  cmd_i64(&c, seq);
  pipe_add(&p, &c);
  pipe_word(&p, "EXEC");
  rc = pipe_run(&p, "audit_add");
  if (rc == NB_OK && !exec_reply(&p)) rc = NB_ERR_IO;
  pipe_free(&p);
  return rc;
}

static nb_err audit_add(void *self, const nb_server_audit_info *a) {
  return run_op(self, audit_add_body, (void *)a, false); /* twice could log it twice */
}

static void audit_lookup(const char *m, size_t len, cmd *c) {
  cmd_hmget(c, "nb:audit:", m, len, audit_fields, AUDIT_NFIELDS);
}

typedef struct {
  nb_server_audit_each_fn fn;
  void *user;
} audit_walk;

static nb_err audit_deliver(void *ctx, const char *m, size_t len, const redisReply *r) {
  (void)len;
  audit_walk *w = ctx;
  if (!hash_found(r, AUDIT_NFIELDS)) return NB_OK;
  redisReply *const *v = r->element;
  nb_server_audit_info a;
  memset(&a, 0, sizeof(a));
  a.seq = strtoll(m, NULL, 10);
  a.at = field_i64(v[0]);
  field_text(v[1], a.actor, sizeof(a.actor));
  field_text(v[2], a.ep, sizeof(a.ep));
  field_text(v[3], a.op, sizeof(a.op));
  field_text(v[4], a.path, sizeof(a.path));
  field_text(v[5], a.result, sizeof(a.result));
  return w->fn(w->user, &a);
}

static nb_err audit_each(void *self, int64_t before, size_t limit, nb_server_audit_each_fn fn,
                         void *user) {
  if (limit == 0) return NB_OK;
  audit_walk w = {fn, user};
  walk_args a = {.build = audit_lookup, .deliver = audit_deliver, .ctx = &w, .what = "audit_each"};
  cmd_newest(&a.list, "nb:audit", "", before, limit);
  return run_op(self, walk_body, &a, true);
}

static const char *const ev_fields[] = {"ep", "at", "kind", "path", "kid", "iat", "cose"};
#define EV_NFIELDS (sizeof(ev_fields) / sizeof(ev_fields[0]))

typedef struct {
  const nb_server_evidence_info *e;
  size_t keep;
} ev_add_args;

/* Drops the oldest of ep's evidence beyond keep (the members by rank, removed by name, so an
 * entry another process added meanwhile stays). */
static nb_err evidence_trim(nb_store_redis *st, const char *ep, int64_t count, size_t keep) {
  if (keep == 0 || count <= (int64_t)keep) return NB_OK;
  pipe_t p;
  pipe_start(&p, st);
  cmd c;
  cmd_start(&c, "ZRANGE");
  cmd_key_str(&c, "nb:evidence:", ep);
  cmd_str(&c, "0");
  cmd_i64(&c, count - (int64_t)keep - 1);
  pipe_add(&p, &c);
  nb_err rc = pipe_run(&p, "evidence_trim");
  if (rc != NB_OK) return rc;
  redisReply *old = p.r[0];
  p.r[0] = NULL;
  p.n = 0;
  for (size_t at = 0; rc == NB_OK && old->type == REDIS_REPLY_ARRAY && at < old->elements;
       at += BATCH) {
    size_t n = old->elements - at < BATCH ? old->elements - at : BATCH;
    pipe_word(&p, "MULTI");
    for (size_t i = 0; i < n; i++) {
      const redisReply *m = old->element[at + i];
      cmd_start(&c, "DEL");
      cmd_key(&c, "nb:ev:", m->str, m->len);
      pipe_add(&p, &c);
      cmd_start(&c, "ZREM");
      cmd_key_str(&c, "nb:evidence:", ep);
      cmd_bin(&c, m->str, m->len);
      pipe_add(&p, &c);
    }
    pipe_word(&p, "EXEC");
    rc = pipe_run(&p, "evidence_trim");
    if (rc == NB_OK) pipe_free(&p);
  }
  freeReplyObject(old);
  return rc;
}

static nb_err evidence_add_body(nb_store_redis *st, void *arg) {
  const ev_add_args *a = arg;
  const nb_server_evidence_info *e = a->e;
  int64_t seq;
  nb_err rc = next_seq(st, "nb:seq:evidence", &seq);
  if (rc != NB_OK) return rc;
  pipe_t p;
  pipe_start(&p, st);
  pipe_word(&p, "MULTI");
  cmd c;
  cmd_start(&c, "HSET");
  cmd_key_num(&c, "nb:ev:", seq);
  cmd_str(&c, ev_fields[0]), cmd_str(&c, e->ep);
  cmd_str(&c, ev_fields[1]), cmd_i64(&c, e->at);
  cmd_str(&c, ev_fields[2]), cmd_str(&c, e->kind);
  cmd_str(&c, ev_fields[3]), cmd_str(&c, e->path);
  cmd_str(&c, ev_fields[4]), cmd_str(&c, e->kid);
  if (e->has_iat) cmd_str(&c, ev_fields[5]), cmd_i64(&c, e->iat);
  cmd_str(&c, ev_fields[6]), cmd_bin(&c, e->cose, e->cose_len);
  pipe_add(&p, &c);
  cmd_start(&c, "ZADD");
  cmd_key_str(&c, "nb:evidence:", e->ep);
  cmd_i64(&c, seq);
  cmd_i64(&c, seq);
  pipe_add(&p, &c);
  cmd_start(&c, "ZCARD");
  cmd_key_str(&c, "nb:evidence:", e->ep);
  pipe_add(&p, &c);
  pipe_word(&p, "EXEC");
  rc = pipe_run(&p, "evidence_add");
  const redisReply *x = rc == NB_OK ? exec_reply(&p) : NULL;
  if (rc == NB_OK && (!x || x->elements != 3)) rc = NB_ERR_IO;
  int64_t count = rc == NB_OK ? x->element[2]->integer : 0;
  if (rc == NB_OK) pipe_free(&p);
  if (rc == NB_OK) rc = evidence_trim(st, e->ep, count, a->keep);
  return rc == ERR_STALE ? NB_ERR_IO : rc;
}

static nb_err evidence_add(void *self, const nb_server_evidence_info *e, size_t keep) {
  ev_add_args a = {e, keep};
  return run_op(self, evidence_add_body, &a, false);
}

static void ev_lookup(const char *m, size_t len, cmd *c) {
  cmd_hmget(c, "nb:ev:", m, len, ev_fields, EV_NFIELDS);
}

typedef struct {
  nb_server_evidence_each_fn fn;
  void *user;
} ev_walk;

static nb_err ev_deliver(void *ctx, const char *m, size_t len, const redisReply *r) {
  (void)len;
  ev_walk *w = ctx;
  if (!hash_found(r, EV_NFIELDS)) return NB_OK; /* trimmed meanwhile */
  redisReply *const *v = r->element;
  nb_server_evidence_info e;
  memset(&e, 0, sizeof(e));
  e.seq = strtoll(m, NULL, 10);
  field_text(v[0], e.ep, sizeof(e.ep));
  e.at = field_i64(v[1]);
  field_text(v[2], e.kind, sizeof(e.kind));
  field_text(v[3], e.path, sizeof(e.path));
  field_text(v[4], e.kid, sizeof(e.kid));
  e.has_iat = rstr(v[5]);
  e.iat = field_i64(v[5]);
  e.cose = rstr(v[6]) ? (const uint8_t *)v[6]->str : NULL;
  e.cose_len = rstr(v[6]) ? v[6]->len : 0;
  if (nb_server_evidence_has_secret(e.cose, e.cose_len)) {
    NB_LOG_WARN(MOD, "event=evidence-withheld ep=%s seq=%lld reason=secret-key-in-payload", e.ep,
                (long long)e.seq);
    return NB_OK;
  }
  return w->fn(w->user, &e);
}

static nb_err evidence_each(void *self, const char *ep, int64_t before, size_t limit,
                            nb_server_evidence_each_fn fn, void *user) {
  if (limit == 0) return NB_OK;
  ev_walk w = {fn, user};
  walk_args a = {.build = ev_lookup, .deliver = ev_deliver, .ctx = &w, .what = "evidence_each"};
  cmd_newest(&a.list, "nb:evidence:", ep, before, limit);
  return run_op(self, walk_body, &a, true);
}

/* ---- lifecycle ---- */

nb_err nb_store_redis_open(const nb_redis_uri *uri, nb_store_redis **out) {
  nb_store_redis *st = calloc(1, sizeof(*st));
  if (!st) return NB_ERR_NOMEM;
  st->uri = *uri;
  if (nb_redis_uri_format(uri, false, st->shown, sizeof(st->shown)) != NB_OK)
    snprintf(st->shown, sizeof(st->shown), "redis://%s", uri->host);
  char why[200] = "";
  unsigned pause = 100;
  for (int i = 0; i < CONNECT_TRIES && !st->c; i++, pause *= 2) {
    if (i) pause_ms(pause / 2);
    st->c = connect_once(&st->uri, why, sizeof(why));
  }
  if (!st->c) {
    NB_LOG_ERROR(MOD, "event=redis_unreachable addr=%s reason=\"%s\" tries=%d", st->shown, why,
                 CONNECT_TRIES);
    nb_store_redis_close(st);
    return NB_ERR_IO;
  }
  NB_LOG_INFO(MOD, "event=redis_connected addr=%s", st->shown);
  *out = st;
  return NB_OK;
}

void nb_store_redis_close(nb_store_redis *st) {
  if (!st) return;
  drop_conn(st);
  nb_redis_uri_wipe(&st->uri);
  free(st);
}

bool nb_store_redis_connected(const nb_store_redis *st) { return st->c && !st->down; }

uint64_t nb_store_redis_round_trips(const nb_store_redis *st) { return st->round_trips; }

static const nb_server_store_ops redis_ops = {
    reg_put, reg_del,  reg_each, obs_put,  obs_del,   obs_del_ep, obs_each,     sec_put,
    sec_get, sec_find, sec_del,  sec_each, audit_add, audit_each, evidence_add, evidence_each,
};

nb_server_store nb_store_redis_iface(nb_store_redis *st) {
  nb_server_store s = {&redis_ops, st};
  return s;
}
