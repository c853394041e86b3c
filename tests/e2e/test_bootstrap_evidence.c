/* Evidence of signed bootstraps end to end with the real binary over a database filled through
 * the store API: `niobium bootstrap evidence EP` (--db, --out FILE, --api) and GET
 * /api/bootstrap/evidence/{ep} of `niobium bootstrap --http` (token rules, newest bootstrap
 * first, base64 COSE bytes as stored). A database from a version that kept keys in signed writes:
 * those rows are purged on the first open (counted in the log, the other rows of the same
 * bootstrap kept), and such a row written later is never served. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "base/hex.h"
#include "bootstrap/config_store.h"
#include "dtls/cose.h"
#include "dtls/keys.h"
#include "lwm2m/format.h"
#include "nb_test.h"

#define TOKEN "evidence-t0ken-0123"

typedef struct {
  char db[128], out[160], http[32], base[64], coap[32];
  const char *bin;
} env;

static const uint8_t k_cose[3][4] = {{0xd2, 0x84, 0x01, 0x02}, {0xd2, 0x84, 0x03}, {0xd2, 0x84}};

static void put(nb_bs_store *st, const char *cti, unsigned seq, const char *kind, const char *path,
                int64_t at, const uint8_t *cose, size_t n) {
  nb_bs_evidence ev = {.ep = "dev1",
                       .cti = cti,
                       .seq = seq,
                       .kind = kind,
                       .path = path,
                       .signer = "0123456789abcdef0123456789abcd",
                       .at = at,
                       .cose = cose,
                       .cose_len = n};
  assert_int_equal(nb_bs_store_evidence_put(st, &ev), NB_OK);
}

static int env_setup(void **state) {
  static env e;
  e.bin = nb_test_env("NB_BINARY");
  snprintf(e.db, sizeof e.db, "/tmp/nb_bs_evidence_%d.db", (int)getpid());
  snprintf(e.out, sizeof e.out, "/tmp/nb_bs_evidence_%d.json", (int)getpid());
  unlink(e.db);
  nb_bs_store *st;
  if (nb_bs_store_open(e.db, &st) != NB_OK) return -1;
  /* An older bootstrap (one write, receipt) and a newer one; another endpoint's row. */
  put(st, "aa", 0, "write", "/0/0", 1000, k_cose[0], 4);
  put(st, "aa", 1, "receipt", "/1", 1001, k_cose[1], 3);
  put(st, "bb", 0, "write", "/0/0", 2000, k_cose[2], 2);
  put(st, "bb", 1, "receipt", "/1", 2001, k_cose[1], 3);
  nb_bs_evidence other = {.ep = "dev2",
                          .cti = "cc",
                          .kind = "write",
                          .path = "/0/0",
                          .signer = "x",
                          .at = 5,
                          .cose = k_cose[0],
                          .cose_len = 4};
  nb_err err = nb_bs_store_evidence_put(st, &other);
  nb_bs_store_close(st);
  *state = &e;
  return err == NB_OK ? 0 : -1;
}

static int env_teardown(void **state) {
  env *e = *state;
  char p[160];
  unlink(e->db);
  unlink(e->out);
  snprintf(p, sizeof p, "%s-wal", e->db);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", e->db);
  unlink(p);
  return 0;
}

/* The list as stored: bb's rows first, seq order, base64 of the bytes. */
static void check_json(const char *text) {
  json_t *j = json_loads(text, 0, NULL);
  assert_non_null(j);
  assert_int_equal(json_array_size(j), 4);
  const char *want_cti[] = {"bb", "bb", "aa", "aa"};
  const char *want_kind[] = {"write", "receipt", "write", "receipt"};
  for (size_t i = 0; i < 4; i++) {
    json_t *r = json_array_get(j, i);
    assert_string_equal(json_string_value(json_object_get(r, "cti")), want_cti[i]);
    assert_string_equal(json_string_value(json_object_get(r, "kind")), want_kind[i]);
    assert_int_equal(json_integer_value(json_object_get(r, "seq")), i % 2);
  }
  json_t *first = json_array_get(j, 0);
  assert_string_equal(json_string_value(json_object_get(first, "cose")), "0oQ=");
  assert_string_equal(json_string_value(json_object_get(first, "path")), "/0/0");
  assert_string_equal(json_string_value(json_object_get(first, "signer")),
                      "0123456789abcdef0123456789abcd");
  assert_int_equal(json_integer_value(json_object_get(first, "at")), 2000);
  assert_string_equal(json_string_value(json_object_get(json_array_get(j, 2), "cose")), "0oQBAg==");
  json_decref(j);
}

static void test_cli_db(void **state) {
  env *e = *state;
  char *out = NULL;
  char *argv[] = {(char *)e->bin, "bootstrap", "--db", e->db, "evidence", "dev1", NULL};
  assert_int_equal(nb_test_run(argv, 10000, &out), 0);
  check_json(out);
  free(out);
  char *argv2[] = {(char *)e->bin, "bootstrap", "--db", e->db, "evidence",
                   "dev1",         "--out",     e->out, NULL};
  assert_int_equal(nb_test_run(argv2, 10000, &out), 0);
  free(out);
  char *text = nb_test_read_file(e->out, NULL);
  assert_non_null(text);
  check_json(text);
  free(text);
  char *argv3[] = {(char *)e->bin, "bootstrap", "--db", e->db, "evidence", "nobody", NULL};
  assert_int_equal(nb_test_run(argv3, 10000, &out), 0);
  assert_non_null(strstr(out, "[]"));
  free(out);
  char *argv4[] = {(char *)e->bin, "bootstrap", "--help", NULL};
  assert_int_equal(nb_test_run(argv4, 10000, &out), 0);
  assert_non_null(strstr(out, "bootstrap evidence dev1 --out"));
  free(out);
}

static void test_api(void **state) {
  env *e = *state;
  uint16_t hp = nb_test_free_port(SOCK_STREAM), cp = nb_test_free_port(SOCK_DGRAM);
  snprintf(e->http, sizeof e->http, "127.0.0.1:%u", hp);
  snprintf(e->base, sizeof e->base, "http://127.0.0.1:%u", hp);
  snprintf(e->coap, sizeof e->coap, "127.0.0.1:%u", cp);
  char *argv[] = {(char *)e->bin, "bootstrap", "--db",        e->db, "--coap", e->coap,
                  "--http",       e->http,     "--api-token", TOKEN, NULL};
  nb_test_proc p;
  assert_true(nb_test_proc_start(&p, argv));
  assert_true(nb_test_proc_wait_output(&p, true, "proto=http", 10000));
  char *out = nb_test_http_auth(e->base, NULL, "GET", "/api/bootstrap/evidence/dev1", NULL);
  assert_non_null(out);
  assert_non_null(strstr(out, "|401"));
  free(out);
  out = nb_test_http_auth(e->base, TOKEN, "GET", "/api/bootstrap/evidence/dev1", NULL);
  assert_non_null(out);
  char *bar = strrchr(out, '|');
  assert_non_null(bar);
  assert_string_equal(bar, "|200");
  *bar = '\0';
  check_json(out);
  free(out);
  out = nb_test_http_auth(e->base, TOKEN, "POST", "/api/bootstrap/evidence/dev1", NULL);
  assert_non_null(strstr(out, "|405"));
  free(out);
  out = nb_test_http_auth(e->base, TOKEN, "GET", "/api/bootstrap/evidence/", NULL);
  assert_non_null(strstr(out, "|404"));
  free(out);
  /* The CLI through the API: the same JSON. */
  char *cargv[] = {(char *)e->bin, "bootstrap", "--api", e->base, "--api-token", TOKEN,
                   "evidence",     "dev1",      "--out", e->out,  NULL};
  unlink(e->out);
  assert_int_equal(nb_test_run(cargv, 10000, &out), 0);
  free(out);
  char *text = nb_test_read_file(e->out, NULL);
  assert_non_null(text);
  check_json(text);
  free(text);
  char *bargv[] = {(char *)e->bin, "bootstrap", "--api", e->base, "evidence", "dev1", NULL};
  assert_int_equal(nb_test_run(bargv, 10000, &out), 1); /* no token */
  free(out);
  nb_test_proc_stop(&p);
  nb_test_proc_cleanup(&p);
}

/* ---- rows kept by an older version ---- */

static const uint8_t OLD_PSK[16] = {0x01, 0xd0, 0x1d, 0x95, 0x4b, 0x01, 0xd0, 0x1d,
                                    0x95, 0x4b, 0x01, 0xd0, 0x1d, 0x95, 0x4b, 0x07};

/* A signed write of /o/i as versions before withheld keys made it: every record in the signed
 * payload (with_key: /0/i/5 = OLD_PSK among them). */
static void old_write(const nb_dtls_keypair *kp, bool with_key, nb_bytes *out) {
  nb_records r;
  nb_records_init(&r);
  nb_path base = with_key ? nb_path_inst(0, 1) : nb_path_inst(1, 0);
  nb_path p1 = with_key ? nb_path_res(0, 1, 5) : nb_path_res(1, 0, 0);
  nb_value v = nb_value_int(101);
  if (with_key) assert_int_equal(nb_value_set_opaque(&v, OLD_PSK, sizeof OLD_PSK), NB_OK);
  assert_int_equal(nb_records_add(&r, &p1, &v), NB_OK);
  nb_bytes inner;
  nb_bytes_init(&inner);
  assert_int_equal(nb_format_encode(112, &r, &base, nb_model_builtin(), &inner, NULL, NULL), NB_OK);
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  h.content_format = 112;
  strcpy(h.sub, "old1");
  assert_int_equal(nb_cose_sign1(&h, inner.data, inner.len, kp->key_pem.data, kp->key_pem.len, out),
                   NB_OK);
  nb_bytes_free(&inner);
  nb_records_deinit(&r);
}

static void sql_row(sqlite3 *db, unsigned seq, const char *kind, const char *path,
                    const nb_bytes *cose) {
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "INSERT INTO bs_evidence(ep, cti, seq, kind, path, signer, "
                                      "at, cose) VALUES('old1', 'dd', ?, ?, ?, 'x', 7, ?)",
                                      -1, &q, NULL),
                   SQLITE_OK);
  sqlite3_bind_int(q, 1, (int)seq);
  sqlite3_bind_text(q, 2, kind, -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 3, path, -1, SQLITE_STATIC);
  sqlite3_bind_blob(q, 4, cose->data, (int)cose->len, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(q), SQLITE_DONE);
  sqlite3_finalize(q);
}

/* `niobium bootstrap --db DB evidence old1`: the JSON rows (out) and the log (err). */
static json_t *evidence_of_old1(const env *e, const char *db, char **err) {
  char *argv[] = {(char *)e->bin, "bootstrap", "--db", (char *)db, "evidence", "old1", NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run_capture(argv, 10000, &out, err), 0);
  json_t *j = json_loads(out, 0, NULL);
  assert_non_null(j);
  char hex[2 * sizeof OLD_PSK + 1];
  assert_null(strstr(out, nb_hex_encode(OLD_PSK, sizeof OLD_PSK, hex)));
  free(out);
  return j;
}

static void test_older_rows_with_keys(void **state) {
  env *e = *state;
  char db[160];
  snprintf(db, sizeof db, "%s.old", e->db);
  unlink(db);
  nb_dtls_keypair kp;
  assert_int_equal(nb_dtls_keypair_generate(&kp), NB_OK);
  nb_bytes keyed, plain, junk = {.data = (uint8_t *)k_cose[1], .len = 3};
  nb_bytes_init(&keyed);
  nb_bytes_init(&plain);
  old_write(&kp, true, &keyed);
  old_write(&kp, false, &plain);
  /* The table as an older version made it, holding one bootstrap with its key in a write. */
  sqlite3 *sq;
  assert_int_equal(sqlite3_open(db, &sq), SQLITE_OK);
  assert_int_equal(sqlite3_exec(sq,
                                "CREATE TABLE bs_evidence(ep TEXT NOT NULL, cti TEXT NOT NULL,"
                                " seq INTEGER NOT NULL, kind TEXT NOT NULL, path TEXT NOT NULL,"
                                " signer TEXT NOT NULL, at INTEGER NOT NULL, cose BLOB NOT NULL,"
                                " PRIMARY KEY(ep, cti, seq))",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sql_row(sq, 0, "write", "/0/1", &keyed);
  sql_row(sq, 1, "write", "/1/0", &plain);
  sql_row(sq, 2, "receipt", "/1", &junk);
  sqlite3_close(sq);
  assert_int_equal(chmod(db, 0600), 0); /* a database open to others is refused */
  /* The first open purges the keyed row, says how many, keeps the others. */
  char *err = NULL;
  json_t *j = evidence_of_old1(e, db, &err);
  if (!strstr(err, "event=evidence-purged rows=1 ")) fail_msg("log: %s", err);
  free(err);
  assert_int_equal(json_array_size(j), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "path")), "/1/0");
  assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1), "kind")), "receipt");
  json_decref(j);
  /* Once: the next open finds nothing to do. */
  j = evidence_of_old1(e, db, &err);
  assert_null(strstr(err, "evidence-purged"));
  free(err);
  assert_int_equal(json_array_size(j), 2);
  json_decref(j);
  /* A keyed row that appears afterwards (an older binary on the same file) is never served. */
  assert_int_equal(sqlite3_open(db, &sq), SQLITE_OK);
  sql_row(sq, 3, "write", "/0/1", &keyed);
  sqlite3_close(sq);
  j = evidence_of_old1(e, db, &err);
  assert_non_null(strstr(err, "event=evidence-withheld ep=old1"));
  free(err);
  assert_int_equal(json_array_size(j), 2);
  json_decref(j);
  nb_bytes_free(&keyed);
  nb_bytes_free(&plain);
  nb_dtls_keypair_free(&kp);
  const char *sfx[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < 3; i++) {
    char p[192];
    snprintf(p, sizeof p, "%s%s", db, sfx[i]);
    unlink(p);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cli_db),
      cmocka_unit_test(test_api),
      cmocka_unit_test(test_older_rows_with_keys),
  };
  return cmocka_run_group_tests(tests, env_setup, env_teardown);
}
