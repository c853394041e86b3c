/* Private files (base/privfile.h): 0600 whatever the umask, 0600 again when written over, and
 * a database (or a companion) open to group or others refused with the fix in the message;
 * SQLite's -wal and -shm of a database the server store creates are 0600 too. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/privfile.h"
#include "store/sqlite.h"

typedef struct {
  char dir[64];
  char path[128];
} scratch;

static void scratch_init(scratch *s, const char *name) {
  snprintf(s->dir, sizeof(s->dir), "/tmp/nb-privfile-XXXXXX");
  assert_non_null(mkdtemp(s->dir));
  snprintf(s->path, sizeof(s->path), "%s/%s", s->dir, name);
}

static void scratch_rm(scratch *s) {
  const char *sfx[] = {"", "-wal", "-shm", "-journal", ".link"};
  char p[160];
  for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
    snprintf(p, sizeof(p), "%s%s", s->path, sfx[i]);
    unlink(p);
  }
  assert_int_equal(rmdir(s->dir), 0);
}

static unsigned mode_of(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return (unsigned)(st.st_mode & 07777);
}

static void make_file(const char *path, mode_t mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  assert_true(fd >= 0);
  assert_int_equal(fchmod(fd, mode), 0);
  close(fd);
}

static void test_open_makes_private(void **state) {
  (void)state;
  mode_t old = umask(022);
  scratch s;
  scratch_init(&s, "key.pem");
  int fd = nb_privfile_open(s.path, O_WRONLY | O_CREAT | O_EXCL);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(mode_of(s.path), 0600);
  /* Written over: an older file's 0644 does not survive. */
  assert_int_equal(chmod(s.path, 0644), 0);
  fd = nb_privfile_open(s.path, O_WRONLY | O_CREAT | O_TRUNC);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(mode_of(s.path), 0600);
  unlink(s.path);
  FILE *f = nb_privfile_fopen(s.path);
  assert_non_null(f);
  fputs("secret\n", f);
  fclose(f);
  assert_int_equal(mode_of(s.path), 0600);
  /* A symbolic link planted at the path is not followed. */
  char link[160];
  snprintf(link, sizeof(link), "%s.link", s.path);
  assert_int_equal(symlink(s.path, link), 0);
  assert_int_equal(nb_privfile_open(link, O_WRONLY | O_TRUNC), -1);
  umask(old);
  scratch_rm(&s);
}

static void test_database_created_private(void **state) {
  (void)state;
  static const mode_t masks[] = {022, 0, 0277};
  for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
    mode_t old = umask(masks[i]);
    scratch s;
    scratch_init(&s, "n.db");
    char why[512];
    assert_int_equal(nb_privfile_prepare_db(s.path, why, sizeof(why)), NB_OK);
    assert_int_equal(mode_of(s.path), 0600);
    umask(old);
    scratch_rm(&s);
  }
  assert_int_equal(nb_privfile_prepare_db(":memory:", NULL, 0), NB_OK);
  assert_int_equal(nb_privfile_prepare_db("", NULL, 0), NB_OK);
  char why[512];
  assert_int_equal(nb_privfile_prepare_db("/nonexistent-dir/n.db", why, sizeof(why)), NB_ERR_IO);
  assert_non_null(strstr(why, "/nonexistent-dir/n.db"));
}

static void test_open_database_refused(void **state) {
  (void)state;
  scratch s;
  scratch_init(&s, "n.db");
  char why[512], want[200];
  make_file(s.path, 0640);
  assert_int_equal(nb_privfile_prepare_db(s.path, why, sizeof(why)), NB_ERR_PERM);
  snprintf(want, sizeof(want), "`chmod 600 %s`", s.path);
  assert_non_null(strstr(why, want));
  assert_non_null(strstr(why, "0640"));
  make_file(s.path, 0400); /* read-only for its owner: fine */
  assert_int_equal(nb_privfile_prepare_db(s.path, why, sizeof(why)), NB_OK);
  const char *companions[] = {"-wal", "-shm", "-journal"};
  for (size_t i = 0; i < 3; i++) {
    char c[160];
    snprintf(c, sizeof(c), "%s%s", s.path, companions[i]);
    make_file(c, 0604);
    assert_int_equal(nb_privfile_prepare_db(s.path, why, sizeof(why)), NB_ERR_PERM);
    assert_non_null(strstr(why, c));
    assert_int_equal(chmod(c, 0600), 0);
  }
  assert_int_equal(nb_privfile_prepare_db(s.path, why, sizeof(why)), NB_OK);
  /* The store refuses it the same way. */
  assert_int_equal(chmod(s.path, 0644), 0);
  nb_store_sqlite *db = NULL;
  assert_int_equal(nb_store_sqlite_open(s.path, &db), NB_ERR_PERM);
  assert_null(db);
  scratch_rm(&s);
}

/* SQLite gives -wal and -shm the main file's mode, so a store created under umask 022 holds
 * its secrets in three 0600 files. */
static void test_store_files_private(void **state) {
  (void)state;
  mode_t old = umask(022);
  scratch s;
  scratch_init(&s, "n.db");
  nb_store_sqlite *db;
  assert_int_equal(nb_store_sqlite_open(s.path, &db), NB_OK);
  nb_server_store st = nb_store_sqlite_iface(db);
  nb_server_sec_info sec = {.ep = "dev", .kind = NB_SERVER_ID_PSK, .identity = "id", .key_len = 4};
  assert_int_equal(st.ops->sec_put(st.self, &sec), NB_OK);
  const char *sfx[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < 3; i++) {
    char p[160];
    snprintf(p, sizeof(p), "%s%s", s.path, sfx[i]);
    assert_int_equal(mode_of(p), 0600);
  }
  nb_store_sqlite_close(db);
  umask(old);
  scratch_rm(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open_makes_private),
      cmocka_unit_test(test_database_created_private),
      cmocka_unit_test(test_open_database_refused),
      cmocka_unit_test(test_store_files_private),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
