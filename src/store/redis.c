/* Redis store backend: see redis.h. */
#include "store/redis.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hex.h"
#include "base/log.h"
#include "store/redis_conn.h"

#define MOD "store"

enum { SEC_WATCH_TRIES = 5 }; /* a credential changed by another process meanwhile: tries */

struct nb_store_redis {
  nb_redis_conn conn;
};

static nb_redis_conn *conn_of(void *self) { return &((nb_store_redis *)self)->conn; }

/* ---- registrations ---- */

static const char *const reg_fields[] = {
    "ep",         "reg_id", "version",          "binding",  "sms",           "queue",
    "lifetime",   "addr",   "id_kind",          "id_value", "registered_at", "updated_at",
    "expires_at", "links",  "preferred_format",
};
#define REG_NFIELDS (sizeof(reg_fields) / sizeof(reg_fields[0]))

/* Opens a pipeline with MULTI and begins an HSET in c (its key and fields to add). */
static void multi_hset(nb_redis_conn *conn, nb_redis_pipe *p, nb_redis_cmd *c) {
  nb_redis_pipe_start(p, conn);
  nb_redis_pipe_word(p, "MULTI");
  nb_redis_cmd_start(c, "HSET");
}

/* Ends a MULTI pipeline whose record write is in c: the write, SADD index ep, EXEC, run. */
static nb_err add_indexed(nb_redis_pipe *p, nb_redis_cmd *c, const char *index, const char *ep,
                          const char *what) {
  nb_redis_pipe_add(p, c);
  nb_redis_cmd_start(c, "SADD");
  nb_redis_cmd_str(c, index);
  nb_redis_cmd_str(c, ep);
  nb_redis_pipe_add(p, c);
  nb_redis_pipe_word(p, "EXEC");
  nb_err rc = nb_redis_pipe_run(p, what);
  if (rc == NB_OK && !nb_redis_pipe_exec(p)) rc = NB_ERR_IO;
  nb_redis_pipe_free(p); /* nothing left to free after a failed run */
  return rc;
}

static nb_err reg_put_body(nb_redis_conn *conn, void *arg) {
  const nb_server_reg_info *r = arg;
  char addr[NB_ADDR_STRLEN];
  nb_addr_format(&r->addr, addr, sizeof(addr));
  nb_redis_pipe p;
  nb_redis_cmd c;
  multi_hset(conn, &p, &c);
  nb_redis_cmd_key_str(&c, "nb:reg:", r->ep);
  const char *const *f = reg_fields; /* the values in the order of reg_fields */
  nb_redis_cmd_str(&c, *f++), nb_redis_cmd_str(&c, r->ep);
  nb_redis_cmd_str(&c, *f++), nb_redis_cmd_str(&c, r->reg_id);
  nb_redis_cmd_str(&c, *f++), nb_redis_cmd_str(&c, r->version);
  nb_redis_cmd_str(&c, *f++), nb_redis_cmd_str(&c, r->binding);
  nb_redis_cmd_str(&c, *f++), nb_redis_cmd_str(&c, r->sms);
  nb_redis_cmd_str(&c, *f++), nb_redis_cmd_i64(&c, r->queue);
  nb_redis_cmd_str(&c, *f++), nb_redis_cmd_i64(&c, r->lifetime);
  nb_redis_cmd_str(&c, *f++), nb_redis_cmd_str(&c, addr);
  nb_redis_cmd_str(&c, *f++), nb_redis_cmd_i64(&c, r->identity.kind);
  nb_redis_cmd_str(&c, *f++), nb_redis_cmd_str(&c, r->identity.value);
  nb_redis_cmd_str(&c, *f++), nb_redis_cmd_i64(&c, r->registered_at);
  nb_redis_cmd_str(&c, *f++), nb_redis_cmd_i64(&c, r->updated_at);
  nb_redis_cmd_str(&c, *f++), nb_redis_cmd_i64(&c, r->expires_at);
  nb_redis_cmd_str(&c, *f++),
      nb_redis_cmd_bin(&c, r->links ? r->links : "", r->links ? r->links_len : 0);
  nb_redis_cmd_str(&c, *f++), nb_redis_cmd_i64(&c, r->preferred_format);
  return add_indexed(&p, &c, "nb:regs", r->ep, "reg_put");
}

static nb_err reg_put(void *self, const nb_server_reg_info *r) {
  return nb_redis_run_op(conn_of(self), reg_put_body, (void *)r, true);
}

/* MULTI; DEL prefix+ep; (SREM|ZREM) index ep; EXEC: NB_ERR_NOT_FOUND when the key was not
 * there. */
typedef struct {
  const char *prefix, *index, *rem, *ep, *what;
} del_args;

static nb_err del_indexed_body(nb_redis_conn *conn, void *arg) {
  const del_args *a = arg;
  nb_redis_pipe p;
  nb_redis_pipe_start(&p, conn);
  nb_redis_pipe_word(&p, "MULTI");
  nb_redis_cmd c;
  nb_redis_cmd_start(&c, "DEL");
  nb_redis_cmd_key_str(&c, a->prefix, a->ep);
  nb_redis_pipe_add(&p, &c);
  nb_redis_cmd_start(&c, a->rem);
  nb_redis_cmd_str(&c, a->index);
  nb_redis_cmd_str(&c, a->ep);
  nb_redis_pipe_add(&p, &c);
  nb_redis_pipe_word(&p, "EXEC");
  nb_err rc = nb_redis_pipe_run(&p, a->what);
  if (rc != NB_OK) return rc;
  const redisReply *x = nb_redis_pipe_exec(&p);
  if (!x || x->elements != 2)
    rc = NB_ERR_IO;
  else if (x->element[0]->integer == 0)
    rc = NB_ERR_NOT_FOUND;
  nb_redis_pipe_free(&p);
  return rc;
}

static nb_err reg_del(void *self, const char *ep) {
  del_args a = {"nb:reg:", "nb:regs", "SREM", ep, "reg_del"};
  return nb_redis_run_op(conn_of(self), del_indexed_body, &a, true);
}

static void reg_lookup(const char *m, size_t len, nb_redis_cmd *c) {
  nb_redis_cmd_hmget(c, "nb:reg:", m, len, reg_fields, REG_NFIELDS);
}

typedef struct {
  nb_server_reg_each_fn fn;
  void *user;
} reg_walk;

static nb_err reg_deliver(void *ctx, const char *m, size_t len, const redisReply *r) {
  (void)m;
  (void)len;
  reg_walk *w = ctx;
  if (!nb_redis_hash_found(r, REG_NFIELDS)) return NB_OK; /* deleted meanwhile */
  redisReply *const *v = r->element;
  nb_server_reg_info i;
  memset(&i, 0, sizeof(i));
  char ep[NB_SERVER_EP_MAX], sms[NB_SERVER_SMS_MAX], ident[NB_SERVER_IDENT_MAX];
  nb_redis_field_text(v[0], ep, sizeof(ep));
  nb_redis_field_text(v[4], sms, sizeof(sms));
  nb_redis_field_text(v[9], ident, sizeof(ident));
  i.ep = ep;
  i.sms = sms;
  i.identity.value = ident;
  nb_redis_field_text(v[1], i.reg_id, sizeof(i.reg_id));
  nb_redis_field_text(v[2], i.version, sizeof(i.version));
  nb_redis_field_text(v[3], i.binding, sizeof(i.binding));
  i.queue = nb_redis_field_i64(v[5]) != 0;
  i.lifetime = (uint32_t)nb_redis_field_i64(v[6]);
  char addr[NB_ADDR_STRLEN];
  nb_redis_field_text(v[7], addr, sizeof(addr));
  if (nb_addr_parse(addr, 0, &i.addr) != NB_OK) return NB_OK; /* unusable record: skip it */
  i.identity.kind = (nb_server_id_kind)nb_redis_field_i64(v[8]);
  i.registered_at = nb_redis_field_i64(v[10]);
  i.updated_at = nb_redis_field_i64(v[11]);
  i.expires_at = nb_redis_field_i64(v[12]);
  i.links = nb_redis_is_str(v[13]) ? v[13]->str : "";
  i.links_len = nb_redis_is_str(v[13]) ? v[13]->len : 0;
  i.preferred_format = nb_redis_is_str(v[14]) ? (int)nb_redis_field_i64(v[14]) : -1;
  return w->fn(w->user, &i);
}

static nb_err reg_each(void *self, nb_server_reg_each_fn fn, void *user) {
  reg_walk w = {fn, user};
  nb_redis_walk a = {.build = reg_lookup, .deliver = reg_deliver, .ctx = &w, .what = "reg_each"};
  nb_redis_cmd_start(&a.list, "SMEMBERS");
  nb_redis_cmd_str(&a.list, "nb:regs");
  return nb_redis_walk_run(conn_of(self), &a);
}

/* ---- observations ---- */

static nb_err obs_put_body(nb_redis_conn *conn, void *arg) {
  const nb_server_obs_info *o = arg;
  char tok[2 * 8 + 2] = "-", rec[NB_SERVER_PATHS_MAX + 96];
  if (o->token_len) nb_hex_encode(o->token, o->token_len > 8 ? 8 : o->token_len, tok);
  int n = snprintf(rec, sizeof(rec), "%d %d %" PRId64 " %s %s", o->format, o->composite ? 1 : 0,
                   o->created_at, tok, o->paths);
  nb_redis_pipe p;
  nb_redis_cmd c;
  multi_hset(conn, &p, &c);
  nb_redis_cmd_key_str(&c, "nb:obs:", o->ep);
  nb_redis_cmd_i64(&c, (int64_t)o->id);
  nb_redis_cmd_bin(&c, rec, n > 0 && (size_t)n < sizeof(rec) ? (size_t)n : strlen(rec));
  return add_indexed(&p, &c, "nb:obseps", o->ep, "obs_put");
}

static nb_err obs_put(void *self, const nb_server_obs_info *o) {
  return nb_redis_run_op(conn_of(self), obs_put_body, (void *)o, true);
}

typedef struct {
  const char *ep;
  uint64_t id;
} obs_key;

static nb_err obs_del_body(nb_redis_conn *conn, void *arg) {
  const obs_key *k = arg;
  nb_redis_pipe p;
  nb_redis_pipe_start(&p, conn);
  nb_redis_cmd c;
  nb_redis_cmd_start(&c, "HDEL");
  nb_redis_cmd_key_str(&c, "nb:obs:", k->ep);
  nb_redis_cmd_i64(&c, (int64_t)k->id);
  nb_redis_pipe_add(&p, &c);
  nb_err rc = nb_redis_pipe_run(&p, "obs_del");
  if (rc == NB_OK && p.r[0]->integer == 0) rc = NB_ERR_NOT_FOUND;
  nb_redis_pipe_free(&p);
  return rc;
}

static nb_err obs_del(void *self, const char *ep, uint64_t id) {
  obs_key k = {ep, id};
  return nb_redis_run_op(conn_of(self), obs_del_body, &k, true);
}

static nb_err obs_del_ep(void *self, const char *ep) {
  del_args a = {"nb:obs:", "nb:obseps", "SREM", ep, "obs_del_ep"};
  nb_err rc = nb_redis_run_op(conn_of(self), del_indexed_body, &a, true);
  return rc == NB_ERR_NOT_FOUND ? NB_OK : rc;
}

/* One "FORMAT COMPOSITE CREATED_AT TOKEN_HEX PATHS" record; false when malformed. */
static bool obs_decode(const redisReply *id, const redisReply *rec, nb_server_obs_info *o) {
  if (!nb_redis_is_str(id) || !nb_redis_is_str(rec) || rec->len >= NB_SERVER_PATHS_MAX + 96)
    return false;
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

static void obs_lookup(const char *m, size_t len, nb_redis_cmd *c) {
  nb_redis_cmd_start(c, "HGETALL");
  nb_redis_cmd_key(c, "nb:obs:", m, len);
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
  nb_redis_walk a = {.build = obs_lookup, .deliver = obs_deliver, .ctx = &w, .what = "obs_each"};
  nb_redis_cmd_start(&a.list, "SMEMBERS");
  nb_redis_cmd_str(&a.list, "nb:obseps");
  return nb_redis_walk_run(conn_of(self), &a);
}

/* ---- credentials ---- */

static const char *const sec_fields[] = {"ep", "kind", "identity", "key"};
#define SEC_NFIELDS (sizeof(sec_fields) / sizeof(sec_fields[0]))

/* The identity index key of (kind, identity): "nb:secid:KIND:IDENTITY". */
static void cmd_secid(nb_redis_cmd *c, nb_server_id_kind kind, const char *identity, size_t len) {
  char prefix[24];
  snprintf(prefix, sizeof(prefix), "nb:secid:%d:", (int)kind);
  nb_redis_cmd_key(c, prefix, identity, len);
}

/* An HMGET reply of sec_fields into out; false when the hash does not exist. */
static bool sec_decode(const redisReply *r, nb_server_sec_info *out) {
  memset(out, 0, sizeof(*out));
  if (!nb_redis_hash_found(r, SEC_NFIELDS)) return false;
  nb_redis_field_text(r->element[0], out->ep, sizeof(out->ep));
  out->kind = (nb_server_id_kind)nb_redis_field_i64(r->element[1]);
  nb_redis_field_text(r->element[2], out->identity, sizeof(out->identity));
  out->key_len = nb_redis_field_bin(r->element[3], out->key, sizeof(out->key));
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
static nb_err sec_watch(nb_redis_conn *conn, const char *ep, const nb_server_sec_info *want,
                        sec_state *out) {
  nb_redis_pipe p;
  nb_redis_pipe_start(&p, conn);
  nb_redis_cmd c;
  nb_redis_cmd_start(&c, "WATCH");
  nb_redis_cmd_key_str(&c, "nb:sec:", ep);
  nb_redis_pipe_add(&p, &c);
  if (want && want->kind != NB_SERVER_ID_NONE) {
    nb_redis_cmd_start(&c, "WATCH");
    cmd_secid(&c, want->kind, want->identity, strlen(want->identity));
    nb_redis_pipe_add(&p, &c);
    nb_redis_cmd_start(&c, "GET");
    cmd_secid(&c, want->kind, want->identity, strlen(want->identity));
    nb_redis_pipe_add(&p, &c);
  }
  nb_redis_cmd_hmget(&c, "nb:sec:", ep, strlen(ep), sec_fields, SEC_NFIELDS);
  nb_redis_pipe_add(&p, &c);
  nb_err rc = nb_redis_pipe_run(&p, "sec_watch");
  if (rc != NB_OK) return rc;
  out->had = sec_decode(p.r[p.n - 1], &out->old);
  out->taken = false;
  if (want && want->kind != NB_SERVER_ID_NONE) {
    const redisReply *owner = p.r[2];
    out->taken = nb_redis_is_str(owner) &&
                 (owner->len != strlen(ep) || memcmp(owner->str, ep, owner->len) != 0);
  }
  nb_redis_pipe_free_wiped(&p);
  return NB_OK;
}

/* MULTI; the credential's writes; EXEC. NB_ERR_BUSY when a WATCHed key changed meanwhile. */
static nb_err sec_commit(nb_redis_conn *conn, const char *ep, const sec_state *was,
                         const nb_server_sec_info *s) {
  nb_redis_pipe p;
  nb_redis_pipe_start(&p, conn);
  nb_redis_pipe_word(&p, "MULTI");
  nb_redis_cmd c;
  bool old_index = was->had && was->old.kind != NB_SERVER_ID_NONE;
  if (old_index &&
      (!s || s->kind != was->old.kind || strcmp(s->identity, was->old.identity) != 0)) {
    nb_redis_cmd_start(&c, "DEL");
    cmd_secid(&c, was->old.kind, was->old.identity, strlen(was->old.identity));
    nb_redis_pipe_add(&p, &c);
  }
  if (s) {
    nb_redis_cmd_start(&c, "HSET");
    nb_redis_cmd_key_str(&c, "nb:sec:", ep);
    nb_redis_cmd_str(&c, sec_fields[0]), nb_redis_cmd_str(&c, s->ep);
    nb_redis_cmd_str(&c, sec_fields[1]), nb_redis_cmd_i64(&c, s->kind);
    nb_redis_cmd_str(&c, sec_fields[2]), nb_redis_cmd_str(&c, s->identity);
    nb_redis_cmd_str(&c, sec_fields[3]),
        nb_redis_cmd_bin(&c, s->key, s->key_len > NB_SERVER_KEY_MAX ? 0 : s->key_len);
    nb_redis_pipe_add(&p, &c);
    memset(&c, 0, sizeof(c)); /* held a pointer to the key only, but be tidy */
    if (s->kind != NB_SERVER_ID_NONE) {
      nb_redis_cmd_start(&c, "SET");
      cmd_secid(&c, s->kind, s->identity, strlen(s->identity));
      nb_redis_cmd_str(&c, ep);
      nb_redis_pipe_add(&p, &c);
    }
    nb_redis_cmd_start(&c, "ZADD");
    nb_redis_cmd_str(&c, "nb:secs");
    nb_redis_cmd_str(&c, "0");
  } else {
    nb_redis_cmd_start(&c, "DEL");
    nb_redis_cmd_key_str(&c, "nb:sec:", ep);
    nb_redis_pipe_add(&p, &c);
    nb_redis_cmd_start(&c, "ZREM");
    nb_redis_cmd_str(&c, "nb:secs");
  }
  nb_redis_cmd_str(&c, ep);
  nb_redis_pipe_add(&p, &c);
  nb_redis_pipe_word(&p, "EXEC");
  nb_err rc = nb_redis_pipe_run(&p, s ? "sec_put" : "sec_del");
  bool busy = false;
  if (rc == NB_OK && !nb_redis_pipe_exec_of(&p, "sec_commit", &busy))
    rc = busy ? NB_ERR_BUSY : NB_ERR_IO;
  nb_redis_pipe_free(&p);
  return rc;
}

static void sec_unwatch(nb_redis_conn *conn) {
  nb_redis_pipe p;
  nb_redis_pipe_start(&p, conn);
  nb_redis_pipe_word(&p, "UNWATCH");
  if (nb_redis_pipe_run(&p, "unwatch") == NB_OK) nb_redis_pipe_free(&p);
}

typedef struct {
  const char *ep;
  const nb_server_sec_info *s; /* NULL: delete */
} sec_change;

/* Optimistic: WATCH, read, write in MULTI/EXEC; again when another process got in between. */
static nb_err sec_change_body(nb_redis_conn *conn, void *arg) {
  const sec_change *ch = arg;
  for (int i = 0; i < SEC_WATCH_TRIES; i++) {
    sec_state was;
    nb_err rc = sec_watch(conn, ch->ep, ch->s, &was);
    if (rc == NB_OK && ch->s && was.taken) rc = NB_ERR_EXISTS;
    if (rc == NB_OK && !ch->s && !was.had) rc = NB_ERR_NOT_FOUND;
    if (rc == NB_OK) rc = sec_commit(conn, ch->ep, &was, ch->s);
    memset(&was, 0, sizeof(was)); /* the old PSK */
    if (rc == NB_ERR_EXISTS || rc == NB_ERR_NOT_FOUND) sec_unwatch(conn);
    if (rc != NB_ERR_BUSY) return rc;
  }
  NB_LOG_WARN(MOD, "event=redis_contention op=sec_put ep=%s tries=%d", ch->ep, SEC_WATCH_TRIES);
  conn->error = "other processes kept changing the credential";
  return NB_ERR_IO;
}

static nb_err sec_put(void *self, const nb_server_sec_info *s) {
  sec_change ch = {s->ep, s};
  return nb_redis_run_op(conn_of(self), sec_change_body, &ch, true);
}

static nb_err sec_del(void *self, const char *ep) {
  sec_change ch = {ep, NULL};
  return nb_redis_run_op(conn_of(self), sec_change_body, &ch, true);
}

typedef struct {
  const char *ep;
  nb_server_sec_info *out;
} sec_get_args;

static nb_err sec_get_body(nb_redis_conn *conn, void *arg) {
  sec_get_args *a = arg;
  nb_redis_pipe p;
  nb_redis_pipe_start(&p, conn);
  nb_redis_cmd c;
  nb_redis_cmd_hmget(&c, "nb:sec:", a->ep, strlen(a->ep), sec_fields, SEC_NFIELDS);
  nb_redis_pipe_add(&p, &c);
  nb_err rc = nb_redis_pipe_run(&p, "sec_get");
  if (rc != NB_OK) return rc;
  rc = sec_decode(p.r[0], a->out) ? NB_OK : NB_ERR_NOT_FOUND;
  nb_redis_pipe_free_wiped(&p);
  return rc;
}

static nb_err sec_get(void *self, const char *ep, nb_server_sec_info *out) {
  sec_get_args a = {ep, out};
  return nb_redis_run_op(conn_of(self), sec_get_body, &a, true);
}

typedef struct {
  nb_server_id_kind kind;
  const char *identity;
  nb_server_sec_info *out;
} sec_find_args;

/* The index names the endpoint (one round trip), its credential must still say this kind and
 * identity (another: an index left by a crash between two versions never matches). */
static nb_err sec_find_body(nb_redis_conn *conn, void *arg) {
  sec_find_args *a = arg;
  nb_redis_pipe p;
  nb_redis_pipe_start(&p, conn);
  nb_redis_cmd c;
  nb_redis_cmd_start(&c, "GET");
  cmd_secid(&c, a->kind, a->identity, strlen(a->identity));
  nb_redis_pipe_add(&p, &c);
  nb_err rc = nb_redis_pipe_run(&p, "sec_find");
  if (rc != NB_OK) return rc;
  char ep[NB_SERVER_EP_MAX];
  bool named = nb_redis_is_str(p.r[0]) && p.r[0]->len < sizeof(ep);
  if (named) nb_redis_field_text(p.r[0], ep, sizeof(ep));
  nb_redis_pipe_free(&p);
  if (!named) return NB_ERR_NOT_FOUND;
  sec_get_args g = {ep, a->out};
  rc = sec_get_body(conn, &g);
  if (rc == NB_REDIS_STALE) rc = NB_ERR_IO;
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
  return nb_redis_run_op(conn_of(self), sec_find_body, &a, true);
}

static void sec_lookup(const char *m, size_t len, nb_redis_cmd *c) {
  nb_redis_cmd_hmget(c, "nb:sec:", m, len, sec_fields, SEC_NFIELDS);
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
  nb_redis_walk a = {
      .build = sec_lookup, .deliver = sec_deliver, .ctx = &w, .secret = true, .what = "sec_each"};
  nb_redis_cmd_start(&a.list, "ZRANGE");
  nb_redis_cmd_str(&a.list, "nb:secs");
  nb_redis_cmd_str(&a.list, "0");
  nb_redis_cmd_str(&a.list, "-1");
  return nb_redis_walk_run(conn_of(self), &a);
}

/* ---- audit log and evidence: a counter, a sorted set of seqs, a hash per entry ---- */

/* INCR counter: the new entry's seq. */
static nb_err next_seq(nb_redis_conn *conn, const char *counter, int64_t *seq) {
  nb_redis_pipe p;
  nb_redis_pipe_start(&p, conn);
  nb_redis_cmd c;
  nb_redis_cmd_start(&c, "INCR");
  nb_redis_cmd_str(&c, counter);
  nb_redis_pipe_add(&p, &c);
  nb_err rc = nb_redis_pipe_run(&p, counter);
  if (rc != NB_OK) return rc;
  *seq = p.r[0]->integer;
  nb_redis_pipe_free(&p);
  return NB_OK;
}

/* A new entry of a log: its seq from counter (one round trip), then a pipeline opened with
 * MULTI and the entry's HSET prefix+SEQ begun in c (its fields to add, then ZADD, EXEC). */
static nb_err entry_start(nb_redis_conn *conn, const char *counter, const char *prefix,
                          int64_t *seq, nb_redis_pipe *p, nb_redis_cmd *c) {
  nb_err rc = next_seq(conn, counter, seq);
  if (rc != NB_OK) return rc;
  multi_hset(conn, p, c);
  nb_redis_cmd_key_num(c, prefix, *seq);
  return NB_OK;
}

/* The newest `limit` members of zset with a score below before (0: all), newest first. */
static void cmd_newest(nb_redis_cmd *c, const char *prefix, const char *tail, int64_t before,
                       size_t limit) {
  nb_redis_cmd_start(c, "ZREVRANGEBYSCORE");
  nb_redis_cmd_key_str(c, prefix, tail);
  char *max = c->num[NB_REDIS_ARGV_MAX - 1];
  if (before > 0)
    snprintf(max, sizeof(c->num[0]), "(%" PRId64, before);
  else
    snprintf(max, sizeof(c->num[0]), "+inf");
  nb_redis_cmd_str(c, max);
  nb_redis_cmd_str(c, "-inf");
  nb_redis_cmd_str(c, "LIMIT");
  nb_redis_cmd_str(c, "0");
  nb_redis_cmd_i64(c, limit > INT32_MAX ? INT32_MAX : (int64_t)limit);
}

static const char *const audit_fields[] = {"at", "actor", "ep", "op", "path", "result"};
#define AUDIT_NFIELDS (sizeof(audit_fields) / sizeof(audit_fields[0]))

static nb_err audit_add_body(nb_redis_conn *conn, void *arg) {
  const nb_server_audit_info *a = arg;
  int64_t seq;
  nb_redis_pipe p;
  nb_redis_cmd c;
  nb_err rc = entry_start(conn, "nb:seq:audit", "nb:audit:", &seq, &p, &c);
  if (rc != NB_OK) return rc;
  nb_redis_cmd_str(&c, audit_fields[0]), nb_redis_cmd_i64(&c, a->at);
  nb_redis_cmd_str(&c, audit_fields[1]), nb_redis_cmd_str(&c, a->actor);
  nb_redis_cmd_str(&c, audit_fields[2]), nb_redis_cmd_str(&c, a->ep);
  nb_redis_cmd_str(&c, audit_fields[3]), nb_redis_cmd_str(&c, a->op);
  nb_redis_cmd_str(&c, audit_fields[4]), nb_redis_cmd_str(&c, a->path);
  nb_redis_cmd_str(&c, audit_fields[5]), nb_redis_cmd_str(&c, a->result);
  nb_redis_pipe_add(&p, &c);
  nb_redis_cmd_start(&c, "ZADD");
  nb_redis_cmd_str(&c, "nb:audit");
  nb_redis_cmd_i64(&c, seq);
  nb_redis_cmd_i64(&c, seq);
  nb_redis_pipe_add(&p, &c);
  nb_redis_pipe_word(&p, "EXEC");
  rc = nb_redis_pipe_run(&p, "audit_add");
  if (rc == NB_OK && !nb_redis_pipe_exec(&p)) rc = NB_ERR_IO;
  nb_redis_pipe_free(&p);
  return rc;
}

static nb_err audit_add(void *self, const nb_server_audit_info *a) {
  return nb_redis_run_op(conn_of(self), audit_add_body, (void *)a,
                         false); /* twice could log it twice */
}

static void audit_lookup(const char *m, size_t len, nb_redis_cmd *c) {
  nb_redis_cmd_hmget(c, "nb:audit:", m, len, audit_fields, AUDIT_NFIELDS);
}

typedef struct {
  nb_server_audit_each_fn fn;
  void *user;
} audit_walk;

static nb_err audit_deliver(void *ctx, const char *m, size_t len, const redisReply *r) {
  (void)len;
  audit_walk *w = ctx;
  if (!nb_redis_hash_found(r, AUDIT_NFIELDS)) return NB_OK;
  redisReply *const *v = r->element;
  nb_server_audit_info a;
  memset(&a, 0, sizeof(a));
  a.seq = strtoll(m, NULL, 10);
  a.at = nb_redis_field_i64(v[0]);
  nb_redis_field_text(v[1], a.actor, sizeof(a.actor));
  nb_redis_field_text(v[2], a.ep, sizeof(a.ep));
  nb_redis_field_text(v[3], a.op, sizeof(a.op));
  nb_redis_field_text(v[4], a.path, sizeof(a.path));
  nb_redis_field_text(v[5], a.result, sizeof(a.result));
  return w->fn(w->user, &a);
}

static nb_err audit_each(void *self, int64_t before, size_t limit, nb_server_audit_each_fn fn,
                         void *user) {
  if (limit == 0) return NB_OK;
  audit_walk w = {fn, user};
  nb_redis_walk a = {
      .build = audit_lookup, .deliver = audit_deliver, .ctx = &w, .what = "audit_each"};
  cmd_newest(&a.list, "nb:audit", "", before, limit);
  return nb_redis_walk_run(conn_of(self), &a);
}

static const char *const ev_fields[] = {"ep", "at", "kind", "path", "kid", "iat", "cose"};
#define EV_NFIELDS (sizeof(ev_fields) / sizeof(ev_fields[0]))

typedef struct {
  const nb_server_evidence_info *e;
  size_t keep;
} ev_add_args;

/* Drops the oldest of ep's evidence beyond keep (the members by rank, removed by name, so an
 * entry another process added meanwhile stays). */
static nb_err evidence_trim(nb_redis_conn *conn, const char *ep, int64_t count, size_t keep) {
  if (keep == 0 || count <= (int64_t)keep) return NB_OK;
  nb_redis_pipe p;
  nb_redis_pipe_start(&p, conn);
  nb_redis_cmd c;
  nb_redis_cmd_start(&c, "ZRANGE");
  nb_redis_cmd_key_str(&c, "nb:evidence:", ep);
  nb_redis_cmd_str(&c, "0");
  nb_redis_cmd_i64(&c, count - (int64_t)keep - 1);
  nb_redis_pipe_add(&p, &c);
  nb_err rc = nb_redis_pipe_run(&p, "evidence_trim");
  if (rc != NB_OK) return rc;
  redisReply *old = p.r[0];
  p.r[0] = NULL;
  p.n = 0;
  for (size_t at = 0; rc == NB_OK && old->type == REDIS_REPLY_ARRAY && at < old->elements;
       at += NB_REDIS_BATCH) {
    size_t n = old->elements - at < NB_REDIS_BATCH ? old->elements - at : NB_REDIS_BATCH;
    nb_redis_pipe_word(&p, "MULTI");
    for (size_t i = 0; i < n; i++) {
      const redisReply *m = old->element[at + i];
      nb_redis_cmd_start(&c, "DEL");
      nb_redis_cmd_key(&c, "nb:ev:", m->str, m->len);
      nb_redis_pipe_add(&p, &c);
      nb_redis_cmd_start(&c, "ZREM");
      nb_redis_cmd_key_str(&c, "nb:evidence:", ep);
      nb_redis_cmd_bin(&c, m->str, m->len);
      nb_redis_pipe_add(&p, &c);
    }
    nb_redis_pipe_word(&p, "EXEC");
    rc = nb_redis_pipe_run(&p, "evidence_trim");
    if (rc == NB_OK) nb_redis_pipe_free(&p);
  }
  freeReplyObject(old);
  return rc;
}

static nb_err evidence_add_body(nb_redis_conn *conn, void *arg) {
  const ev_add_args *a = arg;
  const nb_server_evidence_info *e = a->e;
  int64_t seq;
  nb_redis_pipe p;
  nb_redis_cmd c;
  nb_err rc = entry_start(conn, "nb:seq:evidence", "nb:ev:", &seq, &p, &c);
  if (rc != NB_OK) return rc;
  nb_redis_cmd_str(&c, ev_fields[0]), nb_redis_cmd_str(&c, e->ep);
  nb_redis_cmd_str(&c, ev_fields[1]), nb_redis_cmd_i64(&c, e->at);
  nb_redis_cmd_str(&c, ev_fields[2]), nb_redis_cmd_str(&c, e->kind);
  nb_redis_cmd_str(&c, ev_fields[3]), nb_redis_cmd_str(&c, e->path);
  nb_redis_cmd_str(&c, ev_fields[4]), nb_redis_cmd_str(&c, e->kid);
  if (e->has_iat) nb_redis_cmd_str(&c, ev_fields[5]), nb_redis_cmd_i64(&c, e->iat);
  nb_redis_cmd_str(&c, ev_fields[6]), nb_redis_cmd_bin(&c, e->cose, e->cose_len);
  nb_redis_pipe_add(&p, &c);
  nb_redis_cmd_start(&c, "ZADD");
  nb_redis_cmd_key_str(&c, "nb:evidence:", e->ep);
  nb_redis_cmd_i64(&c, seq);
  nb_redis_cmd_i64(&c, seq);
  nb_redis_pipe_add(&p, &c);
  nb_redis_cmd_start(&c, "ZCARD");
  nb_redis_cmd_key_str(&c, "nb:evidence:", e->ep);
  nb_redis_pipe_add(&p, &c);
  nb_redis_pipe_word(&p, "EXEC");
  rc = nb_redis_pipe_run(&p, "evidence_add");
  const redisReply *x = rc == NB_OK ? nb_redis_pipe_exec(&p) : NULL;
  if (rc == NB_OK && (!x || x->elements != 3)) rc = NB_ERR_IO;
  int64_t count = rc == NB_OK ? x->element[2]->integer : 0;
  if (rc == NB_OK) nb_redis_pipe_free(&p);
  if (rc == NB_OK) rc = evidence_trim(conn, e->ep, count, a->keep);
  return rc == NB_REDIS_STALE ? NB_ERR_IO : rc;
}

static nb_err evidence_add(void *self, const nb_server_evidence_info *e, size_t keep) {
  ev_add_args a = {e, keep};
  return nb_redis_run_op(conn_of(self), evidence_add_body, &a, false);
}

static void ev_lookup(const char *m, size_t len, nb_redis_cmd *c) {
  nb_redis_cmd_hmget(c, "nb:ev:", m, len, ev_fields, EV_NFIELDS);
}

typedef struct {
  nb_server_evidence_each_fn fn;
  void *user;
} ev_walk;

static nb_err ev_deliver(void *ctx, const char *m, size_t len, const redisReply *r) {
  (void)len;
  ev_walk *w = ctx;
  if (!nb_redis_hash_found(r, EV_NFIELDS)) return NB_OK; /* trimmed meanwhile */
  redisReply *const *v = r->element;
  nb_server_evidence_info e;
  memset(&e, 0, sizeof(e));
  e.seq = strtoll(m, NULL, 10);
  nb_redis_field_text(v[0], e.ep, sizeof(e.ep));
  e.at = nb_redis_field_i64(v[1]);
  nb_redis_field_text(v[2], e.kind, sizeof(e.kind));
  nb_redis_field_text(v[3], e.path, sizeof(e.path));
  nb_redis_field_text(v[4], e.kid, sizeof(e.kid));
  e.has_iat = nb_redis_is_str(v[5]);
  e.iat = nb_redis_field_i64(v[5]);
  e.cose = nb_redis_is_str(v[6]) ? (const uint8_t *)v[6]->str : NULL;
  e.cose_len = nb_redis_is_str(v[6]) ? v[6]->len : 0;
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
  nb_redis_walk a = {.build = ev_lookup, .deliver = ev_deliver, .ctx = &w, .what = "evidence_each"};
  cmd_newest(&a.list, "nb:evidence:", ep, before, limit);
  return nb_redis_walk_run(conn_of(self), &a);
}

/* ---- health ---- */

/* SET nb:probe NOW: the smallest write, refused as any other would be (out of memory, a
 * read-only replica, an ACL, Redis gone). */
static nb_err probe_body(nb_redis_conn *conn, void *arg) {
  nb_redis_pipe p;
  nb_redis_cmd c;
  nb_redis_pipe_start(&p, conn);
  nb_redis_cmd_start(&c, "SET");
  nb_redis_cmd_str(&c, "nb:probe");
  nb_redis_cmd_i64(&c, *(const int64_t *)arg);
  nb_redis_pipe_add(&p, &c);
  nb_err rc = nb_redis_pipe_run(&p, "probe");
  if (rc == NB_OK) nb_redis_pipe_free(&p);
  return rc;
}

static nb_err probe(void *self, int64_t now_unix_ms) {
  return nb_redis_run_op(conn_of(self), probe_body, &now_unix_ms, true);
}

static const char *error_text(void *self) {
  const char *e = conn_of(self)->error;
  return e ? e : "";
}

/* ---- lifecycle ---- */

nb_err nb_store_redis_open(const nb_redis_uri *uri, nb_store_redis **out) {
  nb_store_redis *st = calloc(1, sizeof(*st));
  if (!st) return NB_ERR_NOMEM;
  nb_err rc = nb_redis_conn_open(&st->conn, uri);
  if (rc != NB_OK) {
    free(st);
    return rc;
  }
  *out = st;
  return NB_OK;
}

void nb_store_redis_close(nb_store_redis *st) {
  if (!st) return;
  nb_redis_conn_close(&st->conn);
  free(st);
}

bool nb_store_redis_connected(const nb_store_redis *st) { return st->conn.c && !st->conn.down; }

uint64_t nb_store_redis_round_trips(const nb_store_redis *st) { return st->conn.round_trips; }

/* No firmware documents (doc_put, doc_del, doc_each) yet: no firmware service with Redis. */
static const nb_server_store_ops redis_ops = {
    reg_put,      reg_del,       reg_each, obs_put,    obs_del,  obs_del_ep, obs_each,
    sec_put,      sec_get,       sec_find, sec_del,    sec_each, audit_add,  audit_each,
    evidence_add, evidence_each, probe,    error_text, NULL,     NULL,       NULL,
};

nb_server_store nb_store_redis_iface(nb_store_redis *st) {
  nb_server_store s = {&redis_ops, st};
  return s;
}
