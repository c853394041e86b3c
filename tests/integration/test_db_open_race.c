/* Opening a new database while another process is in the middle of creating its tables: the
 * server's and the bootstrap server's stores wait their turn instead of failing (issue 14 item
 * 9). SQLite answers the switch to WAL with "database is locked" at once, without its busy
 * handler, while another connection holds a write transaction on a file still in rollback mode:
 * a server and a bootstrap server started together on a new --db failed that way under load.
 * Here the other process is a second connection holding such a transaction for 300 ms. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "bootstrap/config_store.h"
#include "store/sqlite.h"

typedef struct {
  char dir[64];
  char path[96];
  sqlite3 *other;
  pthread_t releaser;
} race;

/* The other connection: a new file (rollback journal), a write transaction under way. */
static void hold_new_file(race *r) {
  snprintf(r->dir, sizeof r->dir, "/tmp/nb-dbrace-XXXXXX");
  assert_non_null(mkdtemp(r->dir));
  snprintf(r->path, sizeof r->path, "%s/new.db", r->dir);
  int fd = open(r->path, O_CREAT | O_WRONLY, 0600); /* it will hold keys: private from birth */
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(sqlite3_open(r->path, &r->other), SQLITE_OK);
  assert_int_equal(sqlite3_exec(r->other, "BEGIN IMMEDIATE; CREATE TABLE t(x);", NULL, NULL, NULL),
                   SQLITE_OK);
}

static void *release_later(void *arg) {
  race *r = arg;
  const struct timespec wait = {0, 300 * 1000 * 1000};
  nanosleep(&wait, NULL);
  sqlite3_exec(r->other, "COMMIT", NULL, NULL, NULL);
  return NULL;
}

static void start_release(race *r) {
  assert_int_equal(pthread_create(&r->releaser, NULL, release_later, r), 0);
}

static void finish(race *r) {
  pthread_join(r->releaser, NULL);
  sqlite3_close(r->other);
  static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
    char p[128];
    snprintf(p, sizeof p, "%s%s", r->path, suffix[i]);
    unlink(p);
  }
  rmdir(r->dir);
}

static void test_server_store_waits_its_turn(void **state) {
  (void)state;
  race r;
  hold_new_file(&r);
  start_release(&r);
  nb_store_sqlite *st = NULL;
  assert_int_equal(nb_store_sqlite_open(r.path, &st), NB_OK);
  assert_true(nb_store_sqlite_schema_version(st) > 0);
  nb_store_sqlite_close(st);
  finish(&r);
}

static void test_bootstrap_store_waits_its_turn(void **state) {
  (void)state;
  race r;
  hold_new_file(&r);
  start_release(&r);
  nb_bs_store *st = NULL;
  assert_int_equal(nb_bs_store_open(r.path, &st), NB_OK);
  nb_bs_store_close(st);
  finish(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_server_store_waits_its_turn),
                                     cmocka_unit_test(test_bootstrap_store_waits_its_turn)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
