/* SQLite store backend: every operation of the store interface on a temporary database,
 * persistence across close/reopen, schema versioning, read-only opening. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "dtls/cose.h"
#include "dtls/keys.h"
#include "lwm2m/format.h"
#include "store/sqlite.h"

typedef struct {
  char dir[64];
  char path[128];
} tmpdb;

static void tmpdb_make(tmpdb *t) {
  snprintf(t->dir, sizeof(t->dir), "/tmp/nb-store-XXXXXX");
  assert_non_null(mkdtemp(t->dir));
  snprintf(t->path, sizeof(t->path), "%s/test.db", t->dir);
}

static void tmpdb_remove(tmpdb *t) {
  char p[160];
  const char *sfx[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof(p), "%s%s", t->path, sfx[i]);
    unlink(p);
  }
  rmdir(t->dir);
}

static nb_server_reg_info make_reg(const char *ep, const char *id, int64_t exp) {
  nb_server_reg_info r;
  memset(&r, 0, sizeof(r));
  r.ep = ep;
  snprintf(r.reg_id, sizeof(r.reg_id), "%s", id);
  strcpy(r.version, "1.1");
  strcpy(r.binding, "UQ");
  r.queue = true;
  r.lifetime = 300;
  assert_int_equal(nb_addr_parse("[::1]:40123", 0, &r.addr), NB_OK);
  r.identity.kind = NB_SERVER_ID_PSK;
  r.identity.value = "id-1";
  r.sms = "";
  r.registered_at = 1000;
  r.updated_at = 2000;
  r.expires_at = exp;
  r.links = "</3/0>,</1/0>";
  r.links_len = strlen(r.links);
  return r;
}

/* The last row walked, its strings copied (they are the row's, valid in the callback only). */
typedef struct {
  int n;
  nb_server_reg_info last;
  char ep[NB_SERVER_EP_MAX], identity[NB_SERVER_IDENT_MAX], sms[NB_SERVER_SMS_MAX];
  char links[64];
} reg_seen;

static nb_err count_reg(void *user, const nb_server_reg_info *r) {
  reg_seen *s = user;
  s->n++;
  s->last = *r;
  snprintf(s->ep, sizeof(s->ep), "%s", r->ep);
  snprintf(s->identity, sizeof(s->identity), "%s", r->identity.value);
  snprintf(s->sms, sizeof(s->sms), "%s", r->sms);
  snprintf(s->links, sizeof(s->links), "%.*s", (int)r->links_len, r->links);
  s->last.ep = s->ep;
  s->last.identity.value = s->identity;
  s->last.sms = s->sms;
  s->last.links = NULL;
  return NB_OK;
}

static void test_registrations_survive_reopen(void **state) {
  (void)state;
  tmpdb t;
  tmpdb_make(&t);
  nb_store_sqlite *db;
  assert_int_equal(nb_store_sqlite_open(t.path, &db), NB_OK);
  assert_int_equal(nb_store_sqlite_schema_version(db), NB_STORE_SQLITE_SCHEMA);
  nb_server_store st = nb_store_sqlite_iface(db);
  nb_server_reg_info a = make_reg("dev-a", "00112233aabbccdd", 5000);
  nb_server_reg_info b = make_reg("dev-b", "0011223344556677", 6000);
  assert_int_equal(st.ops->reg_put(st.self, &a), NB_OK);
  assert_int_equal(st.ops->reg_put(st.self, &b), NB_OK);
  a.lifetime = 900; /* put replaces */
  a.preferred_format = 11542;
  assert_int_equal(st.ops->reg_put(st.self, &a), NB_OK);
  assert_int_equal(st.ops->reg_del(st.self, "dev-b"), NB_OK);
  assert_int_equal(st.ops->reg_del(st.self, "dev-b"), NB_ERR_NOT_FOUND);
  nb_store_sqlite_close(db); /* no explicit checkpoint: WAL replays on open */

  assert_int_equal(nb_store_sqlite_open(t.path, &db), NB_OK);
  st = nb_store_sqlite_iface(db);
  reg_seen seen = {0};
  assert_int_equal(st.ops->reg_each(st.self, count_reg, &seen), NB_OK);
  assert_int_equal(seen.n, 1);
  assert_string_equal(seen.last.ep, "dev-a");
  assert_string_equal(seen.last.reg_id, "00112233aabbccdd");
  assert_int_equal(seen.last.lifetime, 900);
  assert_true(seen.last.queue);
  assert_string_equal(seen.last.binding, "UQ");
  assert_true(nb_addr_equal(&seen.last.addr, &a.addr));
  assert_int_equal(seen.last.identity.kind, NB_SERVER_ID_PSK);
  assert_string_equal(seen.last.identity.value, "id-1");
  assert_int_equal(seen.last.expires_at, 5000);
  assert_string_equal(seen.links, "</3/0>,</1/0>");
  assert_int_equal(seen.last.preferred_format, 11542);
  nb_store_sqlite_close(db);
  tmpdb_remove(&t);
}

static void test_credentials(void **state) {
  (void)state;
  nb_store_sqlite *db;
  assert_int_equal(nb_store_sqlite_open(":memory:", &db), NB_OK);
  nb_server_store st = nb_store_sqlite_iface(db);
  nb_server_sec_info c;
  memset(&c, 0, sizeof(c));
  strcpy(c.ep, "dev-a");
  c.kind = NB_SERVER_ID_PSK;
  strcpy(c.identity, "psk-a");
  memcpy(c.key, "\x01\x02\x03\x00\x05", 5);
  c.key_len = 5;
  assert_int_equal(st.ops->sec_put(st.self, &c), NB_OK);
  /* The same identity cannot be bound to a second endpoint. */
  strcpy(c.ep, "dev-b");
  assert_int_equal(st.ops->sec_put(st.self, &c), NB_ERR_EXISTS);
  strcpy(c.identity, "psk-b");
  assert_int_equal(st.ops->sec_put(st.self, &c), NB_OK);
  nb_server_sec_info out;
  assert_int_equal(st.ops->sec_get(st.self, "dev-a", &out), NB_OK);
  assert_string_equal(out.identity, "psk-a");
  assert_int_equal(out.key_len, 5);
  assert_memory_equal(out.key, "\x01\x02\x03\x00\x05", 5);
  assert_int_equal(st.ops->sec_find(st.self, NB_SERVER_ID_PSK, "psk-b", &out), NB_OK);
  assert_string_equal(out.ep, "dev-b");
  assert_int_equal(st.ops->sec_find(st.self, NB_SERVER_ID_RPK, "psk-b", &out), NB_ERR_NOT_FOUND);
  assert_int_equal(st.ops->sec_get(st.self, "nobody", &out), NB_ERR_NOT_FOUND);
  assert_int_equal(st.ops->sec_del(st.self, "dev-a"), NB_OK);
  assert_int_equal(st.ops->sec_get(st.self, "dev-a", &out), NB_ERR_NOT_FOUND);
  /* Ownership rule used by the engine. */
  nb_server_identity idb = {.kind = NB_SERVER_ID_PSK, .value = "psk-b"};
  nb_server_identity ida = {.kind = NB_SERVER_ID_PSK, .value = "psk-a"};
  assert_int_equal(st.ops->sec_get(st.self, "dev-b", &out), NB_OK);
  assert_true(nb_server_identity_owns(&idb, &out, false));
  assert_false(nb_server_identity_owns(&ida, &out, true));
  assert_false(nb_server_identity_owns(NULL, &out, true));
  assert_true(nb_server_identity_owns(NULL, NULL, true));
  assert_false(nb_server_identity_owns(NULL, NULL, false));
  assert_false(nb_server_identity_owns(&ida, NULL, true));
  nb_store_sqlite_close(db);
}

static int obs_n;
static nb_err count_obs(void *user, const nb_server_obs_info *o) {
  (void)user;
  obs_n++;
  assert_string_equal(o->paths, "/3/0/9");
  return NB_OK;
}

static char audit_ops[8][24];
static int audit_n;
static nb_err collect_audit(void *user, const nb_server_audit_info *a) {
  (void)user;
  snprintf(audit_ops[audit_n++], 24, "%s", a->op);
  return NB_OK;
}

static void test_observations_and_audit(void **state) {
  (void)state;
  nb_store_sqlite *db;
  assert_int_equal(nb_store_sqlite_open(":memory:", &db), NB_OK);
  nb_server_store st = nb_store_sqlite_iface(db);
  nb_server_obs_info o;
  memset(&o, 0, sizeof(o));
  strcpy(o.ep, "dev-a");
  strcpy(o.paths, "/3/0/9");
  for (uint64_t i = 1; i <= 3; i++) {
    o.id = i;
    assert_int_equal(st.ops->obs_put(st.self, &o), NB_OK);
  }
  strcpy(o.ep, "dev-b");
  assert_int_equal(st.ops->obs_put(st.self, &o), NB_OK);
  assert_int_equal(st.ops->obs_del(st.self, "dev-a", 2), NB_OK);
  assert_int_equal(st.ops->obs_del(st.self, "dev-a", 2), NB_ERR_NOT_FOUND);
  obs_n = 0;
  assert_int_equal(st.ops->obs_each(st.self, count_obs, NULL), NB_OK);
  assert_int_equal(obs_n, 3);
  assert_int_equal(st.ops->obs_del_ep(st.self, "dev-a"), NB_OK);
  obs_n = 0;
  assert_int_equal(st.ops->obs_each(st.self, count_obs, NULL), NB_OK);
  assert_int_equal(obs_n, 1);

  const char *ops[] = {"read", "write", "execute", "delete"};
  for (int i = 0; i < 4; i++) {
    nb_server_audit_info a;
    memset(&a, 0, sizeof(a));
    a.at = 100 + i;
    strcpy(a.actor, "api");
    strcpy(a.ep, "dev-a");
    snprintf(a.op, sizeof(a.op), "%s", ops[i]);
    strcpy(a.path, "/3/0");
    strcpy(a.result, "2.05");
    assert_int_equal(st.ops->audit_add(st.self, &a), NB_OK);
  }
  audit_n = 0;
  assert_int_equal(st.ops->audit_each(st.self, 0, 2, collect_audit, NULL), NB_OK);
  assert_int_equal(audit_n, 2); /* newest first, limited */
  assert_string_equal(audit_ops[0], "delete");
  assert_string_equal(audit_ops[1], "execute");
  nb_store_sqlite_close(db);
}

static nb_err collect_doc(void *user, const char *key, const char *json) {
  char *out = user;
  strcat(out, key);
  strcat(out, "=");
  strcat(out, json);
  strcat(out, ";");
  return NB_OK;
}

/* The firmware service's documents (schema 5): put replaces, each walks one kind in key order,
 * delete by key or by prefix, and they outlive the connection. */
static void test_docs(void **state) {
  (void)state;
  tmpdb t;
  tmpdb_make(&t);
  nb_store_sqlite *db;
  assert_int_equal(nb_store_sqlite_open(t.path, &db), NB_OK);
  nb_server_store st = nb_store_sqlite_iface(db);
  assert_int_equal(st.ops->doc_put(st.self, "fw-device", "c1/b", "{\"s\":1}"), NB_OK);
  assert_int_equal(st.ops->doc_put(st.self, "fw-device", "c1/a", "{\"s\":2}"), NB_OK);
  assert_int_equal(st.ops->doc_put(st.self, "fw-device", "c2/a", "{}"), NB_OK);
  assert_int_equal(st.ops->doc_put(st.self, "fw-device", "c1/b", "{\"s\":3}"), NB_OK);
  assert_int_equal(st.ops->doc_put(st.self, "fw-image", "x", "{}"), NB_OK);
  nb_store_sqlite_close(db);
  assert_int_equal(nb_store_sqlite_open(t.path, &db), NB_OK);
  st = nb_store_sqlite_iface(db);
  char out[256] = "";
  assert_int_equal(st.ops->doc_each(st.self, "fw-device", collect_doc, out), NB_OK);
  assert_string_equal(out, "c1/a={\"s\":2};c1/b={\"s\":3};c2/a={};");
  assert_int_equal(st.ops->doc_del(st.self, "fw-device", "c1/", true), NB_OK);
  assert_int_equal(st.ops->doc_del(st.self, "fw-device", "c1/", true), NB_ERR_NOT_FOUND);
  assert_int_equal(st.ops->doc_del(st.self, "fw-image", "x", false), NB_OK);
  out[0] = '\0';
  assert_int_equal(st.ops->doc_each(st.self, "fw-device", collect_doc, out), NB_OK);
  assert_string_equal(out, "c2/a={};");
  out[0] = '\0';
  assert_int_equal(st.ops->doc_each(st.self, "fw-image", collect_doc, out), NB_OK);
  assert_string_equal(out, "");
  nb_store_sqlite_close(db);
  tmpdb_remove(&t);
}

static void test_schema_versions(void **state) {
  (void)state;
  tmpdb t;
  tmpdb_make(&t);
  /* A file of schema version 1 (made by taking the newest back) is migrated forward. */
  nb_store_sqlite *db;
  assert_int_equal(nb_store_sqlite_open(t.path, &db), NB_OK);
  nb_store_sqlite_close(db);
  sqlite3 *raw;
  assert_int_equal(sqlite3_open(t.path, &raw), SQLITE_OK);
  assert_int_equal(sqlite3_exec(raw,
                                "DROP INDEX audit_ep;"
                                "DROP TABLE evidence;"
                                "DROP TABLE probe;"
                                "DROP TABLE docs;"
                                "ALTER TABLE registrations DROP COLUMN preferred_format;"
                                "INSERT INTO registrations VALUES ('old-dev', 'r1', '1.1', 'U',"
                                " '', 0, 60, '10.0.0.2:5683', 0, '', 1, 1, 4102444800000,"
                                " '</>;ct=11542,</3/0>');"
                                "INSERT INTO audit (at, actor, ep, op, path, result) VALUES"
                                " (1, 'api', 'old', 'read', '/3', '2.05');"
                                "PRAGMA user_version = 1;",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(raw);
  assert_int_equal(nb_store_sqlite_open(t.path, &db), NB_OK);
  assert_int_equal(nb_store_sqlite_schema_version(db), NB_STORE_SQLITE_SCHEMA);
  sqlite3_stmt *q;
  int found = 0;
  assert_int_equal(sqlite3_open(t.path, &raw), SQLITE_OK);
  assert_int_equal(
      sqlite3_prepare_v2(raw, "SELECT count(*) FROM sqlite_master WHERE name='audit_ep'", -1, &q,
                         NULL),
      SQLITE_OK);
  if (sqlite3_step(q) == SQLITE_ROW) found = sqlite3_column_int(q, 0);
  sqlite3_finalize(q);
  sqlite3_close(raw);
  assert_int_equal(found, 1);
  nb_server_store st = nb_store_sqlite_iface(db);
  audit_n = 0;
  assert_int_equal(st.ops->audit_each(st.self, 0, 10, collect_audit, NULL), NB_OK);
  assert_int_equal(audit_n, 1);
  /* A registration of before the format column comes back with none preferred. */
  reg_seen got = {0};
  assert_int_equal(st.ops->reg_each(st.self, count_reg, &got), NB_OK);
  assert_int_equal(got.n, 1);
  assert_string_equal(got.last.ep, "old-dev");
  assert_int_equal(got.last.preferred_format, -1);
  nb_store_sqlite_close(db);
  /* A file from a newer build is refused rather than damaged. */
  assert_int_equal(sqlite3_open(t.path, &raw), SQLITE_OK);
  assert_int_equal(sqlite3_exec(raw, "PRAGMA user_version = 99;", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(raw);
  assert_int_equal(nb_store_sqlite_open(t.path, &db), NB_ERR_IO);
  assert_int_equal(nb_store_sqlite_open("/nonexistent-dir/x.db", &db), NB_ERR_IO);
  tmpdb_remove(&t);
}

/* The health probe writes (and fails like any write on a read-only connection); a failure
 * leaves SQLite's fixed description of it, never a path. */
static void test_probe_and_error_text(void **state) {
  (void)state;
  tmpdb t;
  tmpdb_make(&t);
  nb_store_sqlite *db, *ro;
  assert_int_equal(nb_store_sqlite_open(t.path, &db), NB_OK);
  nb_server_store st = nb_store_sqlite_iface(db);
  assert_string_equal(st.ops->error_text(st.self), "");
  assert_int_equal(st.ops->probe(st.self, 1), NB_OK);
  assert_int_equal(st.ops->probe(st.self, 2), NB_OK);
  assert_int_equal(nb_store_sqlite_open_readonly(t.path, &ro), NB_OK);
  nb_server_store rs = nb_store_sqlite_iface(ro);
  assert_int_equal(rs.ops->probe(rs.self, 3), NB_ERR_IO);
  nb_server_audit_info a;
  memset(&a, 0, sizeof a);
  assert_int_equal(rs.ops->audit_add(rs.self, &a), NB_ERR_IO);
  assert_string_equal(rs.ops->error_text(rs.self), "attempt to write a readonly database");
  assert_null(strstr(rs.ops->error_text(rs.self), t.path));
  nb_store_sqlite_close(ro);
  nb_store_sqlite_close(db);
  tmpdb_remove(&t);
}

static nb_err collect_sec(void *user, const nb_server_sec_info *c) {
  char *seen = user;
  strcat(seen, c->identity);
  strcat(seen, ";");
  return NB_OK;
}

/* A read-only connection sees what a live writer committed (still in its WAL), cannot write,
 * and neither creates a missing file nor takes a file that is not a store. */
static void test_read_only(void **state) {
  (void)state;
  tmpdb t;
  tmpdb_make(&t);
  nb_store_sqlite *rw, *ro;
  assert_int_equal(nb_store_sqlite_open(t.path, &rw), NB_OK);
  nb_server_store w = nb_store_sqlite_iface(rw);
  nb_server_sec_info c;
  memset(&c, 0, sizeof(c));
  strcpy(c.ep, "dev-a");
  c.kind = NB_SERVER_ID_PSK;
  strcpy(c.identity, "psk-a");
  c.key_len = 16;
  assert_int_equal(w.ops->sec_put(w.self, &c), NB_OK);
  assert_int_equal(nb_store_sqlite_open_readonly(t.path, &ro), NB_OK);
  nb_server_store r = nb_store_sqlite_iface(ro);
  strcpy(c.ep, "dev-b");
  strcpy(c.identity, "psk-b");
  assert_int_equal(w.ops->sec_put(w.self, &c), NB_OK); /* after the reader opened */
  char seen[64] = "";
  assert_int_equal(r.ops->sec_each(r.self, collect_sec, seen), NB_OK);
  assert_string_equal(seen, "psk-a;psk-b;");
  strcpy(c.ep, "dev-c");
  strcpy(c.identity, "psk-c");
  assert_int_equal(r.ops->sec_put(r.self, &c), NB_ERR_IO);
  assert_int_equal(r.ops->sec_del(r.self, "dev-a"), NB_ERR_IO);
  nb_store_sqlite_close(ro);
  nb_store_sqlite_close(rw);
  seen[0] = 0;
  assert_int_equal(nb_store_sqlite_open_readonly(t.path, &ro), NB_OK);
  r = nb_store_sqlite_iface(ro);
  assert_int_equal(r.ops->sec_each(r.self, collect_sec, seen), NB_OK);
  assert_string_equal(seen, "psk-a;psk-b;");
  nb_store_sqlite_close(ro);
  tmpdb_remove(&t);

  tmpdb_make(&t);
  assert_int_equal(nb_store_sqlite_open_readonly(t.path, &ro), NB_ERR_IO);
  assert_int_equal(access(t.path, F_OK), -1); /* not created */
  sqlite3 *raw;
  assert_int_equal(sqlite3_open(t.path, &raw), SQLITE_OK);
  assert_int_equal(sqlite3_exec(raw, "CREATE TABLE other (x);", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(raw);
  assert_int_equal(nb_store_sqlite_open_readonly(t.path, &ro), NB_ERR_IO); /* version 0 */
  tmpdb_remove(&t);
}

/* Every lookup by key searches an index, the PSK lookup of each DTLS handshake included (its
 * bound kind could not use the partial index on (kind, identity), so it scanned the table);
 * and that lookup still finds exactly the credentials of the kind asked for. */
static void test_lookups_use_indexes(void **state) {
  (void)state;
  tmpdb t;
  tmpdb_make(&t);
  nb_store_sqlite *db;
  assert_int_equal(nb_store_sqlite_open(t.path, &db), NB_OK);
  char why[1200];
  nb_err rc = nb_store_sqlite_check_plans(db, why, sizeof(why));
  if (rc != NB_OK) print_message("plan: %s\n", why);
  assert_int_equal(rc, NB_OK);
  nb_server_store st = nb_store_sqlite_iface(db);
  nb_server_sec_info psk = {.kind = NB_SERVER_ID_PSK, .key_len = 2, .key = {1, 2}};
  strcpy(psk.ep, "dev-psk");
  strcpy(psk.identity, "same");
  nb_server_sec_info rpk = psk;
  rpk.kind = NB_SERVER_ID_RPK;
  strcpy(rpk.ep, "dev-rpk");
  assert_int_equal(st.ops->sec_put(st.self, &psk), NB_OK);
  assert_int_equal(st.ops->sec_put(st.self, &rpk), NB_OK);
  nb_server_sec_info out;
  assert_int_equal(st.ops->sec_find(st.self, NB_SERVER_ID_PSK, "same", &out), NB_OK);
  assert_string_equal(out.ep, "dev-psk");
  assert_int_equal(st.ops->sec_find(st.self, NB_SERVER_ID_RPK, "same", &out), NB_OK);
  assert_string_equal(out.ep, "dev-rpk");
  assert_int_equal(st.ops->sec_find(st.self, NB_SERVER_ID_X509, "same", &out), NB_ERR_NOT_FOUND);
  nb_store_sqlite_close(db);
  tmpdb_remove(&t);
}

/* A signed payload with a Security key in the clear, as an older version could have kept one
 * (a misbehaving device's signed read of /0): never handed out by evidence_each. */
static void keyed_cose(nb_bytes *out) {
  nb_records recs;
  nb_records_init(&recs);
  nb_value v;
  static const uint8_t key[16] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
                                  0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0};
  assert_int_equal(nb_value_set_opaque(&v, key, sizeof key), NB_OK);
  nb_path p = nb_path_res(0, 1, 5);
  assert_int_equal(nb_records_add(&recs, &p, &v), NB_OK);
  nb_bytes body;
  nb_bytes_init(&body);
  nb_path base = nb_path_obj(0);
  assert_int_equal(nb_format_encode(NB_COAP_CF_SENML_CBOR, &recs, &base, NULL, &body, NULL, NULL),
                   NB_OK);
  nb_dtls_keypair kp;
  assert_int_equal(nb_dtls_keypair_generate(&kp), NB_OK);
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  h.content_format = NB_COAP_CF_SENML_CBOR;
  assert_int_equal(nb_cose_sign1(&h, body.data, body.len, kp.key_der.data, kp.key_der.len, out),
                   NB_OK);
  nb_dtls_keypair_free(&kp);
  nb_bytes_free(&body);
  nb_records_deinit(&recs);
}

static nb_err count_evidence(void *user, const nb_server_evidence_info *e) {
  (void)e;
  (*(int *)user)++;
  return NB_OK;
}

static void test_evidence_with_key_withheld(void **state) {
  (void)state;
  tmpdb t;
  tmpdb_make(&t);
  nb_store_sqlite *db;
  assert_int_equal(nb_store_sqlite_open(t.path, &db), NB_OK);
  nb_server_store st = nb_store_sqlite_iface(db);
  nb_bytes keyed, plain;
  nb_bytes_init(&keyed);
  nb_bytes_init(&plain);
  keyed_cose(&keyed);
  static const uint8_t inner[] = {0x80}; /* an empty SenML array: no key */
  nb_dtls_keypair kp;
  assert_int_equal(nb_dtls_keypair_generate(&kp), NB_OK);
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  h.content_format = NB_COAP_CF_SENML_CBOR;
  assert_int_equal(nb_cose_sign1(&h, inner, sizeof inner, kp.key_der.data, kp.key_der.len, &plain),
                   NB_OK);
  nb_dtls_keypair_free(&kp);
  nb_server_evidence_info e = {.ep = "dev", .at = 1, .kind = "read", .path = "/0"};
  e.cose = keyed.data;
  e.cose_len = keyed.len;
  assert_int_equal(st.ops->evidence_add(st.self, &e, 0), NB_OK);
  e.cose = plain.data;
  e.cose_len = plain.len;
  assert_int_equal(st.ops->evidence_add(st.self, &e, 0), NB_OK);
  int n = 0;
  assert_int_equal(st.ops->evidence_each(st.self, "dev", 0, 100, count_evidence, &n), NB_OK);
  assert_int_equal(n, 1); /* the keyed row is withheld, the other served */
  nb_bytes_free(&keyed);
  nb_bytes_free(&plain);
  nb_store_sqlite_close(db);
  tmpdb_remove(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registrations_survive_reopen),
      cmocka_unit_test(test_credentials),
      cmocka_unit_test(test_observations_and_audit),
      cmocka_unit_test(test_schema_versions),
      cmocka_unit_test(test_probe_and_error_text),
      cmocka_unit_test(test_docs),
      cmocka_unit_test(test_read_only),
      cmocka_unit_test(test_lookups_use_indexes),
      cmocka_unit_test(test_evidence_with_key_withheld),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
