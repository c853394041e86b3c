/* The database as operators meet it, with the real binaries: `niobium server` and `niobium
 * bootstrap` started at the same instant on a new shared --db both come up (migrations are one
 * transaction each), while a second server (or a second bootstrap server) on a database in use
 * is refused with a message naming the holder; read-only commands never create a database (a
 * typo gets "no such database"); a file that is not a database is said to be one; the
 * `--psk` file's duplicate identity names the clashing line; `pending` and `config list` print
 * the same table with --db and --api (and the same JSON with --json). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_test.h"

static char dir[64];
static const char *nb;

static char *in_dir(const char *name) {
  static char p[8][192];
  static int i;
  i = (i + 1) % 8;
  snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
  return p[i];
}

static int setup(void **state) {
  (void)state;
  nb = nb_test_env("NB_BINARY");
  snprintf(dir, sizeof dir, "/tmp/nb-e2e-dbop-XXXXXX");
  return nb && mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static char *addr(void) {
  static char a[4][32];
  static int i;
  i = (i + 1) % 4;
  snprintf(a[i], sizeof a[i], "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  return a[i];
}

static void start_server(nb_test_proc *p, const char *db, bool with_bs) {
  char http[32];
  snprintf(http, sizeof http, "127.0.0.1:%u", nb_test_free_port(SOCK_STREAM));
  char *argv[] = {(char *)nb, "server",   "--coap",           addr(),      "--http", http,
                  "--db",     (char *)db, "--with-bootstrap", "--bs-coap", addr(),   NULL};
  if (!with_bs) argv[8] = NULL;
  assert_true(nb_test_proc_start(p, argv));
}

static void start_bootstrap(nb_test_proc *p, const char *db) {
  char *argv[] = {(char *)nb, "bootstrap", "--coap", addr(), "--db", (char *)db, NULL};
  assert_true(nb_test_proc_start(p, argv));
}

/* Fails with what p said when it does not print needle (stderr) in time. */
static void expect_up(nb_test_proc *p, const char *needle, const char *who, int round) {
  if (nb_test_proc_wait_output(p, true, needle, 20000)) return;
  char *err = nb_test_proc_stderr(p);
  fail_msg("round %d: %s did not come up: %s", round, who, err);
}

static void stop(nb_test_proc *p) {
  nb_test_proc_stop(p);
  nb_test_proc_cleanup(p);
}

static void test_server_and_bootstrap_start_together(void **state) {
  (void)state;
  for (int round = 0; round < 10; round++) {
    char name[32];
    snprintf(name, sizeof name, "new-%d.db", round);
    const char *db = in_dir(name);
    nb_test_proc srv, bs;
    start_server(&srv, db, false);
    start_bootstrap(&bs, db);
    expect_up(&srv, "proto=http", "niobium server", round);
    expect_up(&bs, "event=running", "niobium bootstrap", round);
    stop(&srv);
    stop(&bs);
  }
}

/* Runs argv to completion: its exit status, stderr into *err. */
static int run_err(char *const argv[], char **err) {
  char *out = NULL;
  int rc = nb_test_run_capture(argv, 30000, &out, err);
  free(out);
  return rc;
}

static void test_one_server_per_database(void **state) {
  (void)state;
  const char *db = in_dir("shared.db");
  nb_test_proc srv, bs, second, third;
  start_server(&srv, db, false);
  expect_up(&srv, "proto=http", "niobium server", 0);
  /* A bootstrap server beside it: the documented shared setup. */
  start_bootstrap(&bs, db);
  expect_up(&bs, "event=running", "niobium bootstrap", 0);
  /* A second server: refused, naming the first. */
  start_server(&second, db, false);
  assert_int_equal(nb_test_proc_wait(&second, 20000), 1);
  char *err = nb_test_proc_stderr(&second), pid[32];
  snprintf(pid, sizeof pid, "(pid %d)", (int)srv.pid);
  assert_non_null(strstr(err, "is in use by another `niobium server`"));
  assert_non_null(strstr(err, pid));
  assert_non_null(strstr(err, "give this one its own --db"));
  free(err);
  nb_test_proc_cleanup(&second);
  /* A server with the bootstrap role while a bootstrap server runs: refused as well. */
  stop(&srv);
  start_server(&third, db, true);
  assert_int_equal(nb_test_proc_wait(&third, 20000), 1);
  err = nb_test_proc_stderr(&third);
  assert_non_null(strstr(err, "in use by another bootstrap server"));
  free(err);
  nb_test_proc_cleanup(&third);
  /* Once the holders stop, the database is free again (and no lock file is left behind). */
  stop(&bs);
  start_server(&third, db, true);
  expect_up(&third, "proto=http", "niobium server --with-bootstrap", 1);
  kill(third.pid, SIGTERM); /* a clean exit (0), that releases its locks */
  assert_int_equal(nb_test_proc_wait(&third, 20000), 0);
  nb_test_proc_cleanup(&third);
  char lock[256];
  snprintf(lock, sizeof lock, "%s.lock", db);
  assert_int_not_equal(access(lock, F_OK), 0);
}

static void test_read_only_commands_create_nothing(void **state) {
  (void)state;
  const char *typo = in_dir("typo.db");
  const char *cmds[][3] = {{"pending", NULL, NULL},      {"config", "list", NULL},
                           {"config", "export", NULL},   {"expect", "list", NULL},
                           {"evidence", "dev1", NULL},   {"approve", "dev1", NULL},
                           {"config", "rm", "--default"}};
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    char *argv[8] = {(char *)nb, "bootstrap"};
    size_t n = 2;
    for (size_t k = 0; k < 3 && cmds[i][k]; k++) argv[n++] = (char *)cmds[i][k];
    argv[n++] = "--db";
    argv[n++] = (char *)typo;
    argv[n] = NULL;
    char *err = NULL;
    assert_int_equal(run_err(argv, &err), 1);
    char want[256];
    snprintf(want, sizeof want, "no such database: %s (check --db)", typo);
    if (!strstr(err, want)) fail_msg("%s: %s", cmds[i][0], err);
    free(err);
    assert_int_not_equal(access(typo, F_OK), 0);
  }
}

/* A file that is not a database: every command says so, not "check the permissions". */
static void test_garbage_database_said(void **state) {
  (void)state;
  const char *db = in_dir("garbage.db");
  FILE *f = fopen(db, "w");
  assert_non_null(f);
  for (int i = 0; i < 64; i++) fputs("this is no SQLite file, just text\n", f);
  fclose(f);
  assert_int_equal(chmod(db, 0600), 0);
  char http[32];
  snprintf(http, sizeof http, "127.0.0.1:%u", nb_test_free_port(SOCK_STREAM));
  char *server[] = {(char *)nb, "server", "--coap",   addr(), "--http",
                    http,       "--db",   (char *)db, NULL};
  char *pending[] = {(char *)nb, "bootstrap", "pending", "--db", (char *)db, NULL};
  char *add[] = {(char *)nb,
                 "bootstrap",
                 "config",
                 "add",
                 "--default",
                 "--server-uri",
                 "coap://127.0.0.1:5683",
                 "--security",
                 "nosec",
                 "--db",
                 (char *)db,
                 NULL};
  char *run[] = {(char *)nb, "bootstrap", "--coap", addr(), "--db", (char *)db, NULL};
  char *const *all[] = {server, pending, add, run};
  for (size_t i = 0; i < 4; i++) {
    char *err = NULL;
    assert_int_equal(run_err(all[i], &err), 1);
    if (!strstr(err, "is not a usable niobium database: file is not a database"))
      fail_msg("%s %s: %s", all[i][1], all[i][2], err);
    assert_null(strstr(err, "check the path and permissions"));
    free(err);
  }
}

/* A duplicate PSK identity in `--psk FILE` names both lines. */
static void test_duplicate_psk_identity_said(void **state) {
  (void)state;
  const char *file = in_dir("devices.psk");
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fputs("dev1,id-a,00112233\n# comment\ndev2,id-b,44556677\ndev3,id-a,8899aabb\n", f);
  fclose(f);
  char http[32];
  snprintf(http, sizeof http, "127.0.0.1:%u", nb_test_free_port(SOCK_STREAM));
  char *argv[] = {(char *)nb, "server",         "--coap", addr(),       "--http", http,
                  "--db",     in_dir("psk.db"), "--psk",  (char *)file, NULL};
  char *err = NULL;
  assert_int_equal(run_err(argv, &err), 1);
  assert_non_null(strstr(err,
                         "line 4: PSK identity \"id-a\" of endpoint dev3 is already that of "
                         "endpoint dev1 on line 1"));
  free(err);
}

/* `niobium bootstrap ARGS... --db DB` or `--api URL`, its stdout (heap). */
static char *bs_out(const char *a, const char *b, const char *where, const char *what) {
  char *argv[8] = {(char *)nb, "bootstrap", (char *)a};
  size_t n = 3;
  if (b) argv[n++] = (char *)b;
  argv[n++] = (char *)where;
  argv[n++] = (char *)what;
  argv[n] = NULL;
  char *out = NULL;
  assert_int_equal(nb_test_run(argv, 20000, &out), 0);
  return out;
}

static void test_lists_same_with_db_and_api(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  const char *db = in_dir("lists.db");
  char *bs_addr = addr(), http[32], base[64], uri[64];
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(http, sizeof http, "127.0.0.1:%u", hp);
  snprintf(base, sizeof base, "http://127.0.0.1:%u", hp);
  char *add[] = {(char *)nb,   "bootstrap", "config",       "add",
                 "--endpoint", "dev-a",     "--server-uri", "coap://127.0.0.1:5683",
                 "--security", "nosec",     "--db",         (char *)db,
                 NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(add, 20000, &out), 0);
  free(out);
  add[5] = "dev-b";
  assert_int_equal(nb_test_run(add, 20000, &out), 0);
  free(out);
  char *run[] = {(char *)nb, "bootstrap", "--coap", bs_addr, "--db", (char *)db,
                 "--policy", "approve",   "--http", http,    NULL};
  nb_test_proc bs, dev;
  assert_true(nb_test_proc_start(&bs, run));
  expect_up(&bs, "event=running", "niobium bootstrap", 0);
  snprintf(uri, sizeof uri, "coap://%s", bs_addr);
  char *cli[] = {(char *)nb, "client", "--bootstrap", uri, "--endpoint", "dev-b", NULL};
  assert_true(nb_test_proc_start(&dev, cli));
  assert_true(nb_test_proc_wait_output(&bs, true, "event=BOOTSTRAP_PENDING ep=dev-b", 20000));
  char *lists[][2] = {{"pending", NULL}, {"config", "list"}};
  for (size_t i = 0; i < 2; i++) {
    char *with_db = bs_out(lists[i][0], lists[i][1], "--db", db);
    char *with_api = bs_out(lists[i][0], lists[i][1], "--api", base);
    assert_non_null(strstr(with_db, "dev-b"));
    assert_null(strchr(with_db, '{')); /* a table, not JSON */
    assert_string_equal(with_db, with_api);
    free(with_db);
    free(with_api);
  }
  /* --json: the API's JSON, with --db too. */
  char *argv[] = {(char *)nb, "bootstrap", "config", "list", "--json", "--db", (char *)db, NULL};
  assert_int_equal(nb_test_run(argv, 20000, &out), 0);
  assert_true(out[0] == '[');
  assert_non_null(strstr(out, "\"endpoint\":\"dev-a\""));
  char *api_json = NULL;
  argv[5] = "--api";
  argv[6] = base;
  assert_int_equal(nb_test_run(argv, 20000, &api_json), 0);
  assert_string_equal(out, api_json);
  free(out);
  free(api_json);
  stop(&dev);
  stop(&bs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_server_and_bootstrap_start_together),
      cmocka_unit_test(test_one_server_per_database),
      cmocka_unit_test(test_read_only_commands_create_nothing),
      cmocka_unit_test(test_garbage_database_said),
      cmocka_unit_test(test_duplicate_psk_identity_said),
      cmocka_unit_test(test_lists_same_with_db_and_api),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
