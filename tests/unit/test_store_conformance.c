/* The store conformance suite: one set of cases that every backend of server/store.h passes,
 * run against SQLite (a temporary file) and Redis (a private redis-server on a free port,
 * started here; the Redis half is skipped, saying why, when redis-server or the Redis backend
 * is missing). Then what is Redis's own: round trips per operation, an outage, and a Redis
 * that answers but refuses writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "redis_rig.h"
#include "store/redis_uri.h"
#include "store/sqlite.h"
#ifdef NB_HAVE_REDIS
#include <hiredis/hiredis.h>

#include "store/redis.h"
#endif

/* ---- backends ---- */

typedef struct backend backend;
struct backend {
  const char *name;
  nb_server_store st;
  /* Closes and opens the store again (what a restarted process sees). */
  void (*reopen)(backend *b);
  void (*close)(backend *b);
  nb_store_sqlite *sq;
  char dir[64], path[128];
#ifdef NB_HAVE_REDIS
  nb_store_redis *rd;
#endif
};

static nb_redis_rig g_redis;
static const char *g_redis_skip; /* why the Redis half does not run, or NULL */

static void sqlite_open(backend *b) {
  assert_int_equal(nb_store_sqlite_open(b->path, &b->sq), NB_OK);
  b->st = nb_store_sqlite_iface(b->sq);
}

static void sqlite_close(backend *b) {
  nb_store_sqlite_close(b->sq);
  b->sq = NULL;
}

static void sqlite_reopen(backend *b) {
  sqlite_close(b);
  sqlite_open(b);
}

static int sqlite_setup(void **state) {
  backend *b = calloc(1, sizeof(*b));
  assert_non_null(b);
  b->name = "sqlite";
  snprintf(b->dir, sizeof(b->dir), "/tmp/nb-conf-XXXXXX");
  assert_non_null(mkdtemp(b->dir));
  snprintf(b->path, sizeof(b->path), "%s/store.db", b->dir);
  b->reopen = sqlite_reopen;
  b->close = sqlite_close;
  sqlite_open(b);
  *state = b;
  return 0;
}

#ifdef NB_HAVE_REDIS
static void redis_open(backend *b) {
  nb_redis_uri u;
  assert_int_equal(nb_redis_uri_parse(g_redis.uri, &u, NULL, 0), NB_OK);
  assert_int_equal(nb_store_redis_open(&u, &b->rd), NB_OK);
  b->st = nb_store_redis_iface(b->rd);
}

static void redis_close(backend *b) {
  nb_store_redis_close(b->rd);
  b->rd = NULL;
}

static void redis_reopen(backend *b) {
  redis_close(b);
  redis_open(b);
}

/* Every case starts from an empty Redis. */
static void redis_flush(void) {
  redisContext *c = redisConnect("127.0.0.1", g_redis.port);
  assert_true(c && !c->err);
  redisReply *r = redisCommand(c, "FLUSHALL");
  assert_non_null(r);
  freeReplyObject(r);
  redisFree(c);
}
#endif

static int redis_setup(void **state) {
  *state = NULL;
  if (g_redis_skip) return 0;
#ifdef NB_HAVE_REDIS
  backend *b = calloc(1, sizeof(*b));
  assert_non_null(b);
  b->name = "redis";
  b->reopen = redis_reopen;
  b->close = redis_close;
  redis_flush();
  redis_open(b);
  *state = b;
#endif
  return 0;
}

static int backend_teardown(void **state) {
  backend *b = *state;
  if (!b) return 0;
  b->close(b);
  if (b->dir[0]) {
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
      char p[160];
      snprintf(p, sizeof(p), "%s%s", b->path, sfx[i]);
      unlink(p);
    }
    rmdir(b->dir);
  }
  free(b);
  return 0;
}

/* The backend of this case, or a skip when it cannot run here. */
static backend *backend_of(void **state) {
  if (!*state) {
    print_message("[  SKIP    ] %s\n", g_redis_skip ? g_redis_skip : "backend unavailable");
    skip();
  }
  return *state;
}

/* ---- records ---- */

/* A registration with the text it borrows (ep, sms, identity). */
typedef struct {
  nb_server_reg_info r;
  char ep[NB_SERVER_EP_MAX], sms[NB_SERVER_SMS_MAX], ident[NB_SERVER_IDENT_MAX];
} reg_rec;

static nb_server_reg_info *make_reg(reg_rec *rec, const char *ep, const char *id,
                                    const char *addr) {
  memset(rec, 0, sizeof(*rec));
  nb_server_reg_info *r = &rec->r;
  snprintf(rec->ep, sizeof(rec->ep), "%s", ep);
  snprintf(rec->sms, sizeof(rec->sms), "+4912345");
  snprintf(rec->ident, sizeof(rec->ident), "id-%s", ep);
  r->ep = rec->ep;
  r->sms = rec->sms;
  r->identity.value = rec->ident;
  snprintf(r->reg_id, sizeof(r->reg_id), "%s", id);
  strcpy(r->version, "1.1");
  strcpy(r->binding, "UQ");
  r->queue = true;
  r->lifetime = 300;
  assert_int_equal(nb_addr_parse(addr, 0, &r->addr), NB_OK);
  r->identity.kind = NB_SERVER_ID_PSK;
  r->registered_at = 1000;
  r->updated_at = 2000;
  r->expires_at = 302000;
  r->links = "</>;rt=\"oma.lwm2m\";ct=\"60 110\",</3/0>,</1/0>";
  r->links_len = strlen(r->links);
  r->preferred_format = 110;
  return r;
}

/* Registrations as walked, copied (links included) for checking after the walk. */
#define MAXREC 64
typedef struct {
  nb_server_reg_info r[MAXREC];
  reg_rec text[MAXREC]; /* the strings r[] borrow */
  char links[MAXREC][128];
  int n;
  int stop_after; /* >0: the callback refuses the stop_after-th record */
} regs_seen;

static nb_err on_reg(void *user, const nb_server_reg_info *r) {
  regs_seen *s = user;
  if (s->stop_after && s->n + 1 == s->stop_after) return NB_ERR_CANCELLED;
  assert_true(s->n < MAXREC);
  s->r[s->n] = *r;
  assert_true(r->links_len < sizeof(s->links[0]));
  memcpy(s->links[s->n], r->links, r->links_len);
  s->links[s->n][r->links_len] = '\0';
  s->r[s->n].links = s->links[s->n];
  reg_rec *t = &s->text[s->n];
  snprintf(t->ep, sizeof(t->ep), "%s", r->ep);
  snprintf(t->sms, sizeof(t->sms), "%s", r->sms);
  snprintf(t->ident, sizeof(t->ident), "%s", r->identity.value);
  s->r[s->n].ep = t->ep;
  s->r[s->n].sms = t->sms;
  s->r[s->n].identity.value = t->ident;
  s->n++;
  return NB_OK;
}

static const nb_server_reg_info *seen_reg(const regs_seen *s, const char *ep) {
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->r[i].ep, ep) == 0) return &s->r[i];
  return NULL;
}

static void assert_reg_equal(const nb_server_reg_info *a, const nb_server_reg_info *b) {
  assert_string_equal(a->ep, b->ep);
  assert_string_equal(a->reg_id, b->reg_id);
  assert_string_equal(a->version, b->version);
  assert_string_equal(a->binding, b->binding);
  assert_string_equal(a->sms, b->sms);
  assert_int_equal(a->queue, b->queue);
  assert_int_equal(a->lifetime, b->lifetime);
  assert_true(nb_addr_equal(&a->addr, &b->addr));
  assert_int_equal(a->identity.kind, b->identity.kind);
  assert_string_equal(a->identity.value, b->identity.value);
  assert_int_equal(a->registered_at, b->registered_at);
  assert_int_equal(a->updated_at, b->updated_at);
  assert_int_equal(a->expires_at, b->expires_at);
  assert_int_equal(a->links_len, b->links_len);
  assert_memory_equal(a->links, b->links, a->links_len);
  assert_int_equal(a->preferred_format, b->preferred_format);
}

static regs_seen *walk_regs(backend *b) {
  regs_seen *s = calloc(1, sizeof(*s));
  assert_non_null(s);
  assert_int_equal(b->st.ops->reg_each(b->st.self, on_reg, s), NB_OK);
  return s;
}

/* ---- registrations ---- */

static void test_reg_put_replace_delete_each(void **state) {
  backend *b = backend_of(state);
  const nb_server_store_ops *o = b->st.ops;
  reg_rec ra, rc, ra2;
  nb_server_reg_info a = *make_reg(&ra, "dev-a", "00aa", "[::1]:40123");
  nb_server_reg_info c = *make_reg(&rc, "dev-c", "00cc", "127.0.0.1:5683");
  c.identity.kind = NB_SERVER_ID_NONE;
  c.identity.value = "";
  c.queue = false;
  c.preferred_format = -1;
  assert_int_equal(o->reg_put(b->st.self, &a), NB_OK);
  assert_int_equal(o->reg_put(b->st.self, &c), NB_OK);
  regs_seen *s = walk_regs(b);
  assert_int_equal(s->n, 2);
  assert_reg_equal(seen_reg(s, "dev-a"), &a);
  assert_reg_equal(seen_reg(s, "dev-c"), &c);
  free(s);

  /* put replaces: every field, the links shorter than before */
  nb_server_reg_info a2 = *make_reg(&ra2, "dev-a", "00ab", "10.1.2.3:7000");
  strcpy(a2.binding, "U");
  a2.queue = false;
  a2.lifetime = 86400;
  a2.expires_at = 99999999;
  a2.links = "</3/0>";
  a2.links_len = strlen(a2.links);
  a2.preferred_format = 11542;
  assert_int_equal(o->reg_put(b->st.self, &a2), NB_OK);
  s = walk_regs(b);
  assert_int_equal(s->n, 2);
  assert_reg_equal(seen_reg(s, "dev-a"), &a2);
  free(s);

  assert_int_equal(o->reg_del(b->st.self, "dev-a"), NB_OK);
  assert_int_equal(o->reg_del(b->st.self, "dev-a"), NB_ERR_NOT_FOUND);
  s = walk_regs(b);
  assert_int_equal(s->n, 1);
  assert_string_equal(s->r[0].ep, "dev-c");
  free(s);

  /* what is stored survives closing and opening again */
  b->reopen(b);
  s = walk_regs(b);
  assert_int_equal(s->n, 1);
  assert_reg_equal(&s->r[0], &c);
  free(s);
}

static void test_reg_each_stops_on_error(void **state) {
  backend *b = backend_of(state);
  for (int i = 0; i < 5; i++) {
    char ep[16];
    snprintf(ep, sizeof(ep), "ep%d", i);
    reg_rec rec;
    assert_int_equal(b->st.ops->reg_put(b->st.self, make_reg(&rec, ep, ep, "127.0.0.1:1")), NB_OK);
  }
  regs_seen *s = calloc(1, sizeof(*s));
  assert_non_null(s);
  s->stop_after = 3;
  assert_int_equal(b->st.ops->reg_each(b->st.self, on_reg, s), NB_ERR_CANCELLED);
  assert_int_equal(s->n, 2);
  free(s);
}

/* ---- observations ---- */

typedef struct {
  nb_server_obs_info o[MAXREC];
  int n;
} obs_seen;

static nb_err on_obs(void *user, const nb_server_obs_info *o) {
  obs_seen *s = user;
  assert_true(s->n < MAXREC);
  s->o[s->n++] = *o;
  return NB_OK;
}

static const nb_server_obs_info *seen_obs(const obs_seen *s, const char *ep, uint64_t id) {
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->o[i].ep, ep) == 0 && s->o[i].id == id) return &s->o[i];
  return NULL;
}

static nb_server_obs_info make_obs(const char *ep, uint64_t id, const char *paths) {
  nb_server_obs_info o;
  memset(&o, 0, sizeof(o));
  snprintf(o.ep, sizeof(o.ep), "%s", ep);
  o.id = id;
  memcpy(o.token, "\x00\x01\x00\xff\x7f\x00\x80\x00", 8); /* binary, NUL bytes included */
  o.token_len = 8;
  o.format = 112;
  snprintf(o.paths, sizeof(o.paths), "%s", paths);
  o.created_at = 1700000000000LL + (int64_t)id;
  return o;
}

static void assert_obs_equal(const nb_server_obs_info *a, const nb_server_obs_info *b) {
  assert_non_null(a);
  assert_string_equal(a->ep, b->ep);
  assert_int_equal(a->id, b->id);
  assert_int_equal(a->token_len, b->token_len);
  assert_memory_equal(a->token, b->token, a->token_len);
  assert_int_equal(a->composite, b->composite);
  assert_int_equal(a->format, b->format);
  assert_string_equal(a->paths, b->paths);
  assert_int_equal(a->created_at, b->created_at);
}

static obs_seen *walk_obs(backend *b) {
  obs_seen *s = calloc(1, sizeof(*s));
  assert_non_null(s);
  assert_int_equal(b->st.ops->obs_each(b->st.self, on_obs, s), NB_OK);
  return s;
}

static void test_obs_put_replace_delete_each(void **state) {
  backend *b = backend_of(state);
  const nb_server_store_ops *o = b->st.ops;
  nb_server_obs_info a1 = make_obs("dev-a", 1, "/3/0/9");
  nb_server_obs_info a2 = make_obs("dev-a", 2, "/3/0/9,/3/0/8");
  a2.composite = true;
  a2.token_len = 1;
  nb_server_obs_info b1 = make_obs("dev-b", 1, "/3303/0/5700");
  b1.token_len = 0;
  b1.format = -1;
  assert_int_equal(o->obs_put(b->st.self, &a1), NB_OK);
  assert_int_equal(o->obs_put(b->st.self, &a2), NB_OK);
  assert_int_equal(o->obs_put(b->st.self, &b1), NB_OK);
  a1.format = 60; /* put replaces */
  strcpy(a1.paths, "/3/0/13");
  assert_int_equal(o->obs_put(b->st.self, &a1), NB_OK);
  obs_seen *s = walk_obs(b);
  assert_int_equal(s->n, 3);
  assert_obs_equal(seen_obs(s, "dev-a", 1), &a1);
  assert_obs_equal(seen_obs(s, "dev-a", 2), &a2);
  assert_obs_equal(seen_obs(s, "dev-b", 1), &b1);
  free(s);

  assert_int_equal(o->obs_del(b->st.self, "dev-a", 2), NB_OK);
  assert_int_equal(o->obs_del(b->st.self, "dev-a", 2), NB_ERR_NOT_FOUND);
  assert_int_equal(o->obs_del(b->st.self, "dev-z", 1), NB_ERR_NOT_FOUND);
  assert_int_equal(o->obs_del_ep(b->st.self, "dev-b"), NB_OK);
  assert_int_equal(o->obs_del_ep(b->st.self, "dev-b"), NB_OK); /* nothing left: still OK */
  b->reopen(b);
  s = walk_obs(b);
  assert_int_equal(s->n, 1);
  assert_obs_equal(&s->o[0], &a1);
  free(s);
}

/* ---- credentials ---- */

typedef struct {
  nb_server_sec_info s[MAXREC];
  int n;
} secs_seen;

static nb_err on_sec(void *user, const nb_server_sec_info *s) {
  secs_seen *seen = user;
  assert_true(seen->n < MAXREC);
  seen->s[seen->n++] = *s;
  return NB_OK;
}

static nb_server_sec_info make_sec(const char *ep, nb_server_id_kind kind, const char *identity) {
  nb_server_sec_info s;
  memset(&s, 0, sizeof(s));
  snprintf(s.ep, sizeof(s.ep), "%s", ep);
  s.kind = kind;
  snprintf(s.identity, sizeof(s.identity), "%s", identity);
  if (kind != NB_SERVER_ID_X509) {
    memcpy(s.key, "\x00\x11\x00\x22\x00\x33\x00\x44\x00\x00\x00\x55\xff\x00\x01\x00", 16);
    s.key_len = 16; /* a key with NUL bytes, at the start, inside and at the end */
  }
  return s;
}

static void assert_sec_equal(const nb_server_sec_info *a, const nb_server_sec_info *b) {
  assert_string_equal(a->ep, b->ep);
  assert_int_equal(a->kind, b->kind);
  assert_string_equal(a->identity, b->identity);
  assert_int_equal(a->key_len, b->key_len);
  assert_memory_equal(a->key, b->key, a->key_len);
}

static void test_sec_put_get_find_delete_each(void **state) {
  backend *b = backend_of(state);
  const nb_server_store_ops *o = b->st.ops;
  nb_server_sec_info p = make_sec("dev-p", NB_SERVER_ID_PSK, "psk-id-1");
  nb_server_sec_info r = make_sec("dev-r", NB_SERVER_ID_RPK, "0a1b2c3d");
  nb_server_sec_info x = make_sec("dev-x", NB_SERVER_ID_X509, "dev-x");
  nb_server_sec_info n = make_sec("dev-n", NB_SERVER_ID_NONE, "");
  n.key_len = 0;
  assert_int_equal(o->sec_put(b->st.self, &r), NB_OK);
  assert_int_equal(o->sec_put(b->st.self, &p), NB_OK);
  assert_int_equal(o->sec_put(b->st.self, &x), NB_OK);
  assert_int_equal(o->sec_put(b->st.self, &n), NB_OK);
  nb_server_sec_info got;
  assert_int_equal(o->sec_get(b->st.self, "dev-p", &got), NB_OK);
  assert_sec_equal(&got, &p);
  assert_int_equal(o->sec_find(b->st.self, NB_SERVER_ID_PSK, "psk-id-1", &got), NB_OK);
  assert_sec_equal(&got, &p);
  assert_int_equal(o->sec_find(b->st.self, NB_SERVER_ID_RPK, "0a1b2c3d", &got), NB_OK);
  assert_sec_equal(&got, &r);
  assert_int_equal(o->sec_find(b->st.self, NB_SERVER_ID_X509, "dev-x", &got), NB_OK);
  assert_sec_equal(&got, &x);
  /* the kind is part of the lookup */
  assert_int_equal(o->sec_find(b->st.self, NB_SERVER_ID_RPK, "psk-id-1", &got), NB_ERR_NOT_FOUND);
  assert_int_equal(o->sec_find(b->st.self, NB_SERVER_ID_PSK, "psk-id-2", &got), NB_ERR_NOT_FOUND);
  /* the same text as an identity of another kind is another identity: both kept, each found */
  nb_server_sec_info twin = make_sec("dev-t", NB_SERVER_ID_RPK, "psk-id-1");
  assert_int_equal(o->sec_put(b->st.self, &twin), NB_OK);
  assert_int_equal(o->sec_find(b->st.self, NB_SERVER_ID_RPK, "psk-id-1", &got), NB_OK);
  assert_string_equal(got.ep, "dev-t");
  assert_int_equal(o->sec_find(b->st.self, NB_SERVER_ID_PSK, "psk-id-1", &got), NB_OK);
  assert_string_equal(got.ep, "dev-p");
  assert_int_equal(o->sec_del(b->st.self, "dev-t"), NB_OK);
  assert_int_equal(o->sec_find(b->st.self, NB_SERVER_ID_PSK, "psk-id-1", &got), NB_OK);

  /* an identity belongs to one endpoint */
  nb_server_sec_info thief = make_sec("dev-q", NB_SERVER_ID_PSK, "psk-id-1");
  assert_int_equal(o->sec_put(b->st.self, &thief), NB_ERR_EXISTS);
  assert_int_equal(o->sec_get(b->st.self, "dev-q", &got), NB_ERR_NOT_FOUND);
  assert_int_equal(o->sec_find(b->st.self, NB_SERVER_ID_PSK, "psk-id-1", &got), NB_OK);
  assert_string_equal(got.ep, "dev-p");

  /* put replaces: the old identity no longer finds it, and is free for another endpoint */
  nb_server_sec_info p2 = make_sec("dev-p", NB_SERVER_ID_PSK, "psk-id-new");
  p2.key[0] = 0x42;
  assert_int_equal(o->sec_put(b->st.self, &p2), NB_OK);
  assert_int_equal(o->sec_find(b->st.self, NB_SERVER_ID_PSK, "psk-id-1", &got), NB_ERR_NOT_FOUND);
  assert_int_equal(o->sec_find(b->st.self, NB_SERVER_ID_PSK, "psk-id-new", &got), NB_OK);
  assert_sec_equal(&got, &p2);
  assert_int_equal(o->sec_put(b->st.self, &thief), NB_OK);
  /* the same identity put again for its own endpoint is no conflict */
  assert_int_equal(o->sec_put(b->st.self, &p2), NB_OK);

  /* each: every credential once, by endpoint name */
  b->reopen(b);
  secs_seen *seen = calloc(1, sizeof(*seen));
  assert_non_null(seen);
  assert_int_equal(o->sec_each(b->st.self, on_sec, seen), NB_OK);
  const char *order[] = {"dev-n", "dev-p", "dev-q", "dev-r", "dev-x"};
  assert_int_equal(seen->n, 5);
  for (int i = 0; i < 5; i++) assert_string_equal(seen->s[i].ep, order[i]);
  assert_sec_equal(&seen->s[1], &p2);
  assert_sec_equal(&seen->s[3], &r);
  free(seen);

  assert_int_equal(o->sec_del(b->st.self, "dev-p"), NB_OK);
  assert_int_equal(o->sec_del(b->st.self, "dev-p"), NB_ERR_NOT_FOUND);
  assert_int_equal(o->sec_get(b->st.self, "dev-p", &got), NB_ERR_NOT_FOUND);
  assert_int_equal(o->sec_find(b->st.self, NB_SERVER_ID_PSK, "psk-id-new", &got), NB_ERR_NOT_FOUND);
  /* deleted, its identity can be taken */
  nb_server_sec_info again = make_sec("dev-z", NB_SERVER_ID_PSK, "psk-id-new");
  assert_int_equal(o->sec_put(b->st.self, &again), NB_OK);
}

/* A PSK identity of 256 bytes (the TLS maximum), found whole: one byte less does not match. */
static void test_sec_long_identity(void **state) {
  backend *b = backend_of(state);
  char id[257];
  for (int i = 0; i < 256; i++) id[i] = (char)('!' + i % 90);
  id[256] = '\0';
  nb_server_sec_info s = make_sec("long", NB_SERVER_ID_PSK, id);
  assert_int_equal(strlen(s.identity), 256);
  assert_int_equal(b->st.ops->sec_put(b->st.self, &s), NB_OK);
  nb_server_sec_info got;
  assert_int_equal(b->st.ops->sec_find(b->st.self, NB_SERVER_ID_PSK, id, &got), NB_OK);
  assert_sec_equal(&got, &s);
  id[255] = '\0';
  assert_int_equal(b->st.ops->sec_find(b->st.self, NB_SERVER_ID_PSK, id, &got), NB_ERR_NOT_FOUND);
}

/* ---- names that look like key syntax ---- */

/* Endpoint names with ':', '*', spaces and a backend's own key names: each is its own record,
 * deleting one touches no other, and a pattern character matches nothing but itself. */
static void test_names_are_not_key_syntax(void **state) {
  backend *b = backend_of(state);
  const nb_server_store_ops *o = b->st.ops;
  const char *eps[] = {"a", "a:b", "a:1", "*", "a*", "a b", "nb:regs", "reg:a", "[a]", "?"};
  size_t neps = sizeof(eps) / sizeof(eps[0]);
  for (size_t i = 0; i < neps; i++) {
    reg_rec rec;
    nb_server_reg_info r = *make_reg(&rec, eps[i], eps[i], "127.0.0.1:1000");
    r.lifetime = (uint32_t)i;
    assert_int_equal(o->reg_put(b->st.self, &r), NB_OK);
    nb_server_sec_info s = make_sec(eps[i], NB_SERVER_ID_PSK, eps[i]);
    s.key[1] = (uint8_t)i;
    assert_int_equal(o->sec_put(b->st.self, &s), NB_OK);
    nb_server_obs_info ob = make_obs(eps[i], 1, eps[i]);
    assert_int_equal(o->obs_put(b->st.self, &ob), NB_OK);
  }
  assert_int_equal(o->reg_del(b->st.self, "*"), NB_OK);
  assert_int_equal(o->sec_del(b->st.self, "*"), NB_OK);
  assert_int_equal(o->obs_del_ep(b->st.self, "a"), NB_OK);
  assert_int_equal(o->reg_del(b->st.self, "a?"), NB_ERR_NOT_FOUND);
  regs_seen *rs = walk_regs(b);
  assert_int_equal(rs->n, (int)neps - 1);
  for (size_t i = 0; i < neps; i++) {
    const nb_server_reg_info *r = seen_reg(rs, eps[i]);
    if (strcmp(eps[i], "*") == 0) {
      assert_null(r);
      continue;
    }
    assert_non_null(r);
    assert_int_equal(r->lifetime, i);
  }
  free(rs);
  nb_server_sec_info got;
  assert_int_equal(o->sec_find(b->st.self, NB_SERVER_ID_PSK, "*", &got), NB_ERR_NOT_FOUND);
  assert_int_equal(o->sec_find(b->st.self, NB_SERVER_ID_PSK, "a*", &got), NB_OK);
  assert_string_equal(got.ep, "a*");
  assert_int_equal(o->sec_find(b->st.self, NB_SERVER_ID_PSK, "a:1", &got), NB_OK);
  assert_string_equal(got.ep, "a:1");
  assert_int_equal(got.key[1], 2);
  obs_seen *os = walk_obs(b);
  assert_int_equal(os->n, (int)neps - 1);
  assert_null(seen_obs(os, "a", 1));
  assert_non_null(seen_obs(os, "a:1", 1));
  assert_string_equal(seen_obs(os, "a b", 1)->paths, "a b");
  free(os);
}

/* ---- audit ---- */

typedef struct {
  nb_server_audit_info a[MAXREC];
  int n;
} audit_seen;

static nb_err on_audit(void *user, const nb_server_audit_info *a) {
  audit_seen *s = user;
  assert_true(s->n < MAXREC);
  s->a[s->n++] = *a;
  return NB_OK;
}

static void test_audit_paging_order(void **state) {
  backend *b = backend_of(state);
  const nb_server_store_ops *o = b->st.ops;
  audit_seen *s = calloc(1, sizeof(*s));
  assert_non_null(s);
  assert_int_equal(o->audit_each(b->st.self, 0, 10, on_audit, s), NB_OK);
  assert_int_equal(s->n, 0);
  for (int i = 0; i < 25; i++) {
    nb_server_audit_info a;
    memset(&a, 0, sizeof(a));
    a.at = 5000 + i;
    snprintf(a.actor, sizeof(a.actor), "api:%d", i);
    snprintf(a.ep, sizeof(a.ep), "dev %d", i % 3);
    snprintf(a.op, sizeof(a.op), "write");
    snprintf(a.path, sizeof(a.path), "/3/0/%d", i);
    snprintf(a.result, sizeof(a.result), "2.04");
    assert_int_equal(o->audit_add(b->st.self, &a), NB_OK);
  }
  /* pages of 10 newest first, each continuing before the last seq of the one before */
  int64_t before = 0, last = INT64_MAX;
  int total = 0, pages = 0;
  do {
    s->n = 0;
    assert_int_equal(o->audit_each(b->st.self, before, 10, on_audit, s), NB_OK);
    for (int i = 0; i < s->n; i++) {
      assert_true(s->a[i].seq < last);
      last = s->a[i].seq;
      int k = 24 - total - i; /* the entry's index: newest is 24 */
      assert_int_equal(s->a[i].at, 5000 + k);
      char want[24];
      snprintf(want, sizeof(want), "/3/0/%d", k);
      assert_string_equal(s->a[i].path, want);
      snprintf(want, sizeof(want), "dev %d", k % 3);
      assert_string_equal(s->a[i].ep, want);
      assert_string_equal(s->a[i].op, "write");
      assert_string_equal(s->a[i].result, "2.04");
    }
    total += s->n;
    pages++;
    if (s->n) before = s->a[s->n - 1].seq;
  } while (s->n == 10);
  assert_int_equal(total, 25);
  assert_int_equal(pages, 3);
  s->n = 0;
  assert_int_equal(o->audit_each(b->st.self, 0, 0, on_audit, s), NB_OK);
  assert_int_equal(s->n, 0);
  free(s);
}

/* ---- evidence ---- */

typedef struct {
  int64_t seq[MAXREC];
  int64_t at[MAXREC];
  bool has_iat[MAXREC];
  uint8_t cose[MAXREC][16];
  size_t cose_len[MAXREC];
  char ep[MAXREC][NB_SERVER_EP_MAX];
  int n;
} ev_seen;

static nb_err on_ev(void *user, const nb_server_evidence_info *e) {
  ev_seen *s = user;
  assert_true(s->n < MAXREC && e->cose_len <= sizeof(s->cose[0]));
  s->seq[s->n] = e->seq;
  s->at[s->n] = e->at;
  s->has_iat[s->n] = e->has_iat;
  memcpy(s->cose[s->n], e->cose, e->cose_len);
  s->cose_len[s->n] = e->cose_len;
  snprintf(s->ep[s->n], sizeof(s->ep[0]), "%s", e->ep);
  s->n++;
  return NB_OK;
}

static void add_evidence(backend *b, const char *ep, int i, size_t keep) {
  /* not a COSE_Sign1 (so nothing to withhold): bytes with NULs, as the store keeps them */
  uint8_t cose[12] = {0x00, 0x84, 0x00, (uint8_t)i, 0x00, 0xff, 0x00, 0x01, 0x00, 0x00, 0x7f, 0};
  nb_server_evidence_info e;
  memset(&e, 0, sizeof(e));
  snprintf(e.ep, sizeof(e.ep), "%s", ep);
  e.at = 9000 + i;
  snprintf(e.kind, sizeof(e.kind), "notify");
  snprintf(e.path, sizeof(e.path), "/3/0/9");
  snprintf(e.kid, sizeof(e.kid), "a1b2");
  e.has_iat = i % 2 == 0;
  e.iat = 1700000000 + i;
  e.cose = cose;
  e.cose_len = sizeof(cose);
  assert_int_equal(b->st.ops->evidence_add(b->st.self, &e, keep), NB_OK);
}

static void test_evidence_keep_bound(void **state) {
  backend *b = backend_of(state);
  for (int i = 0; i < 9; i++) add_evidence(b, "dev:a", i, 5);
  for (int i = 0; i < 3; i++) add_evidence(b, "dev", 100 + i, 5);
  ev_seen *s = calloc(1, sizeof(*s));
  assert_non_null(s);
  assert_int_equal(b->st.ops->evidence_each(b->st.self, "dev:a", 0, 100, on_ev, s), NB_OK);
  assert_int_equal(s->n, 5); /* the newest 5 of 9 */
  for (int i = 0; i < 5; i++) {
    assert_int_equal(s->at[i], 9000 + 8 - i);
    assert_int_equal(s->has_iat[i], (8 - i) % 2 == 0);
    assert_int_equal(s->cose_len[i], 12);
    assert_int_equal(s->cose[i][3], 8 - i);
    assert_int_equal(s->cose[i][0], 0);
    assert_string_equal(s->ep[i], "dev:a");
    if (i) assert_true(s->seq[i] < s->seq[i - 1]);
  }
  int64_t third = s->seq[2];
  s->n = 0;
  assert_int_equal(b->st.ops->evidence_each(b->st.self, "dev:a", third, 2, on_ev, s), NB_OK);
  assert_int_equal(s->n, 2);
  assert_int_equal(s->at[0], 9000 + 5);
  assert_int_equal(s->at[1], 9000 + 4);
  s->n = 0;
  assert_int_equal(b->st.ops->evidence_each(b->st.self, "dev", 0, 100, on_ev, s), NB_OK);
  assert_int_equal(s->n, 3); /* another endpoint's bound is its own */
  s->n = 0;
  assert_int_equal(b->st.ops->evidence_each(b->st.self, "dev:*", 0, 100, on_ev, s), NB_OK);
  assert_int_equal(s->n, 0);
  free(s);
}

/* ---- absent keys ---- */

static nb_err count_reg(void *user, const nb_server_reg_info *r) {
  (void)r;
  (*(int *)user)++;
  return NB_OK;
}

static nb_err count_obs(void *user, const nb_server_obs_info *o) {
  (void)o;
  (*(int *)user)++;
  return NB_OK;
}

static nb_err count_sec(void *user, const nb_server_sec_info *s) {
  (void)s;
  (*(int *)user)++;
  return NB_OK;
}

static nb_err count_ev(void *user, const nb_server_evidence_info *e) {
  (void)e;
  (*(int *)user)++;
  return NB_OK;
}

static void test_not_found_codes(void **state) {
  backend *b = backend_of(state);
  const nb_server_store_ops *o = b->st.ops;
  nb_server_sec_info got;
  assert_int_equal(o->reg_del(b->st.self, "nobody"), NB_ERR_NOT_FOUND);
  assert_int_equal(o->obs_del(b->st.self, "nobody", 7), NB_ERR_NOT_FOUND);
  assert_int_equal(o->obs_del_ep(b->st.self, "nobody"), NB_OK);
  assert_int_equal(o->sec_get(b->st.self, "nobody", &got), NB_ERR_NOT_FOUND);
  assert_int_equal(o->sec_find(b->st.self, NB_SERVER_ID_PSK, "nobody", &got), NB_ERR_NOT_FOUND);
  assert_int_equal(o->sec_del(b->st.self, "nobody"), NB_ERR_NOT_FOUND);
  int n = 0;
  assert_int_equal(o->reg_each(b->st.self, count_reg, &n), NB_OK);
  assert_int_equal(o->obs_each(b->st.self, count_obs, &n), NB_OK);
  assert_int_equal(o->sec_each(b->st.self, count_sec, &n), NB_OK);
  assert_int_equal(o->evidence_each(b->st.self, "nobody", 0, 10, count_ev, &n), NB_OK);
  assert_int_equal(n, 0);
}

/* The health probe (a small write) succeeds while the backend takes writes, again and again,
 * and leaves no record the walks see; error_text is there and fixed. */
static void test_probe_when_healthy(void **state) {
  backend *b = backend_of(state);
  const nb_server_store_ops *o = b->st.ops;
  assert_non_null(o->probe);
  assert_non_null(o->error_text);
  assert_int_equal(o->probe(b->st.self, 1700000000000LL), NB_OK);
  assert_int_equal(o->probe(b->st.self, 1700000005000LL), NB_OK);
  assert_non_null(o->error_text(b->st.self));
  int n = 0;
  assert_int_equal(o->reg_each(b->st.self, count_reg, &n), NB_OK);
  assert_int_equal(o->obs_each(b->st.self, count_obs, &n), NB_OK);
  assert_int_equal(o->sec_each(b->st.self, count_sec, &n), NB_OK);
  assert_int_equal(n, 0);
  b->reopen(b); /* and what a restart reads */
  assert_int_equal(b->st.ops->reg_each(b->st.self, count_reg, &n), NB_OK);
  assert_int_equal(n, 0);
}

/* ---- Redis's own: round trips, an outage ---- */

#ifdef NB_HAVE_REDIS
/* What each operation costs in round trips (docs/cluster.md quotes these). */
static void test_redis_round_trips(void **state) {
  backend *b = backend_of(state);
  const nb_server_store_ops *o = b->st.ops;
  uint64_t t0 = nb_store_redis_round_trips(b->rd);
  reg_rec rec;
  nb_server_reg_info r = *make_reg(&rec, "rt", "01", "127.0.0.1:9");
  assert_int_equal(o->reg_put(b->st.self, &r), NB_OK);
  uint64_t t1 = nb_store_redis_round_trips(b->rd);
  assert_int_equal(t1 - t0, 1);
  nb_server_sec_info s = make_sec("rt", NB_SERVER_ID_PSK, "rt-id"), got;
  assert_int_equal(o->sec_put(b->st.self, &s), NB_OK);
  uint64_t t2 = nb_store_redis_round_trips(b->rd);
  assert_int_equal(t2 - t1, 2);
  assert_int_equal(o->sec_find(b->st.self, NB_SERVER_ID_PSK, "rt-id", &got), NB_OK);
  uint64_t t3 = nb_store_redis_round_trips(b->rd);
  assert_int_equal(t3 - t2, 2);
  nb_server_obs_info ob = make_obs("rt", 1, "/3/0/9");
  assert_int_equal(o->obs_put(b->st.self, &ob), NB_OK);
  uint64_t t4 = nb_store_redis_round_trips(b->rd);
  assert_int_equal(t4 - t3, 1);
  print_message("redis round trips: reg_put %d, sec_put %d, sec_find %d, obs_put %d\n",
                (int)(t1 - t0), (int)(t2 - t1), (int)(t3 - t2), (int)(t4 - t3));
}

/* Redis killed: every operation fails with NB_ERR_IO, quickly (the back-off answers without
 * trying again each time), nothing crashes; Redis back: the store works again by itself. */
static void test_redis_outage_and_recovery(void **state) {
  backend *b = backend_of(state);
  const nb_server_store_ops *o = b->st.ops;
  reg_rec rec;
  nb_server_reg_info r = *make_reg(&rec, "out", "01", "127.0.0.1:9");
  assert_int_equal(o->reg_put(b->st.self, &r), NB_OK);
  nb_redis_rig_kill(&g_redis);
  nb_server_sec_info got;
  assert_int_equal(o->reg_put(b->st.self, &r), NB_ERR_IO);
  assert_false(nb_store_redis_connected(b->rd));
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < 100; i++) {
    assert_int_equal(o->sec_find(b->st.self, NB_SERVER_ID_PSK, "x", &got), NB_ERR_IO);
    assert_int_equal(o->reg_each(b->st.self, count_reg, NULL), NB_ERR_IO);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  assert_true(ms < 5000); /* 200 operations, a reconnect tried a handful of times at most */
  /* the health probe fails too, and the failure is told in fixed words */
  assert_int_equal(o->probe(b->st.self, 1700000000000LL), NB_ERR_IO);
  assert_string_equal(o->error_text(b->st.self), "Redis does not answer");
  assert_true(nb_redis_rig_resume(&g_redis));
  /* within the longest back-off (5 s) the store reconnects on its own: the probe shows it */
  nb_err rc = NB_ERR_IO;
  for (int i = 0; i < 80 && rc != NB_OK; i++) {
    rc = o->probe(b->st.self, 1700000000000LL + i);
    if (rc != NB_OK) usleep(100 * 1000);
  }
  assert_int_equal(rc, NB_OK);
  assert_true(nb_store_redis_connected(b->rd));
  assert_int_equal(o->reg_put(b->st.self, &r), NB_OK);
  regs_seen *s = walk_regs(b);
  assert_int_equal(s->n, 1); /* the new redis-server started empty: only the put since */
  free(s);
}

/* A key of another type where the store expects its own (an operator's mistake, another
 * program in the same DB): the operation fails with NB_ERR_IO, even when the failing command
 * is inside a MULTI/EXEC whose EXEC itself succeeds. */
static void test_redis_wrong_type_is_an_error(void **state) {
  backend *b = backend_of(state);
  redisContext *c = redisConnect("127.0.0.1", g_redis.port);
  assert_true(c && !c->err);
  redisReply *r = redisCommand(c, "SET nb:regs not-a-set");
  assert_non_null(r);
  freeReplyObject(r);
  r = redisCommand(c, "SET nb:sec:w not-a-hash");
  assert_non_null(r);
  freeReplyObject(r);
  redisFree(c);
  reg_rec rec;
  nb_server_reg_info reg = *make_reg(&rec, "w", "01", "127.0.0.1:9");
  assert_int_equal(b->st.ops->reg_put(b->st.self, &reg), NB_ERR_IO);
  assert_int_equal(b->st.ops->reg_each(b->st.self, count_reg, NULL), NB_ERR_IO);
  nb_server_sec_info s = make_sec("w", NB_SERVER_ID_PSK, "w-id"), got;
  assert_int_equal(b->st.ops->sec_put(b->st.self, &s), NB_ERR_IO);
  assert_int_equal(b->st.ops->sec_get(b->st.self, "w", &got), NB_ERR_IO);
  assert_true(nb_store_redis_connected(b->rd)); /* Redis answered: not an outage */
  /* Redis's words quote the key; error_text never does */
  assert_string_equal(b->st.ops->error_text(b->st.self), "a key in Redis holds another type");
}

static void redis_admin(const char *cmd) {
  redisContext *c = redisConnect("127.0.0.1", g_redis.port);
  assert_true(c && !c->err);
  redisReply *r = redisCommand(c, cmd);
  assert_non_null(r);
  assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
  freeReplyObject(r);
  redisFree(c);
}

/* Redis answers but takes no writes (over its maxmemory, noeviction): the probe fails with
 * NB_ERR_IO as any write does, told as such, while reads go on; with memory back it succeeds. */
static void test_redis_refusing_writes(void **state) {
  backend *b = backend_of(state);
  const nb_server_store_ops *o = b->st.ops;
  redis_admin("CONFIG SET maxmemory-policy noeviction");
  redis_admin("CONFIG SET maxmemory 1");
  nb_err rc = o->probe(b->st.self, 1700000000000LL);
  const char *why = o->error_text(b->st.self);
  redis_admin("CONFIG SET maxmemory 0");
  assert_int_equal(rc, NB_ERR_IO);
  assert_string_equal(why, "Redis is out of memory (maxmemory)");
  assert_true(nb_store_redis_connected(b->rd));
  assert_int_equal(o->probe(b->st.self, 1700000001000LL), NB_OK);
  assert_string_equal(o->error_text(b->st.self), "");
}
#endif

#define CONFORMANCE(setup)                                                                         \
  cmocka_unit_test_setup_teardown(test_reg_put_replace_delete_each, setup, backend_teardown),      \
      cmocka_unit_test_setup_teardown(test_reg_each_stops_on_error, setup, backend_teardown),      \
      cmocka_unit_test_setup_teardown(test_obs_put_replace_delete_each, setup, backend_teardown),  \
      cmocka_unit_test_setup_teardown(test_sec_put_get_find_delete_each, setup, backend_teardown), \
      cmocka_unit_test_setup_teardown(test_sec_long_identity, setup, backend_teardown),            \
      cmocka_unit_test_setup_teardown(test_names_are_not_key_syntax, setup, backend_teardown),     \
      cmocka_unit_test_setup_teardown(test_audit_paging_order, setup, backend_teardown),           \
      cmocka_unit_test_setup_teardown(test_evidence_keep_bound, setup, backend_teardown),          \
      cmocka_unit_test_setup_teardown(test_not_found_codes, setup, backend_teardown),              \
      cmocka_unit_test_setup_teardown(test_probe_when_healthy, setup, backend_teardown)

int main(void) {
  const struct CMUnitTest on_sqlite[] = {CONFORMANCE(sqlite_setup)};
  const struct CMUnitTest on_redis[] = {
      CONFORMANCE(redis_setup),
#ifdef NB_HAVE_REDIS
      cmocka_unit_test_setup_teardown(test_redis_round_trips, redis_setup, backend_teardown),
      cmocka_unit_test_setup_teardown(test_redis_outage_and_recovery, redis_setup,
                                      backend_teardown),
      cmocka_unit_test_setup_teardown(test_redis_wrong_type_is_an_error, redis_setup,
                                      backend_teardown),
      cmocka_unit_test_setup_teardown(test_redis_refusing_writes, redis_setup, backend_teardown),
#endif
  };
  int failed = cmocka_run_group_tests_name("store conformance: sqlite", on_sqlite, NULL, NULL);
  g_redis_skip = nb_redis_rig_unavailable();
  if (!g_redis_skip && !nb_redis_rig_start(&g_redis)) {
    fprintf(stderr, "store conformance: redis-server is installed but did not start\n");
    return failed + 1;
  }
  if (g_redis_skip) printf("store conformance: redis: SKIPPED: %s\n", g_redis_skip);
  failed += cmocka_run_group_tests_name("store conformance: redis", on_redis, NULL, NULL);
  nb_redis_rig_stop(&g_redis);
  return failed;
}
