/* A server restart under DTLS devices, real binaries (issue 14 item 6): `niobium client` over
 * PSK registers with `niobium server --coaps`, the server is killed with SIGKILL and started
 * again on the same ports and database. Meanwhile the API lists the device "reachable": false
 * and a read for it is queued at once (202), where it used to wait 30 s for a 504. The client's
 * next Update goes into a session the new process does not have; it renews the session after
 * the first unanswered transmission and the server hears it: reachable again within
 * UPDATE_IN + BOUND_S of the restart, the queued read answered, a new read 200.
 * With a lifetime of an hour the device would stay unreachable for most of it that way: the
 * restarted server tells every restored DTLS device that its session is gone (a fatal alert in
 * the clear), and the device handshakes again and updates at once: reachable within
 * NUDGE_BOUND_S, whatever its lifetime. The first test runs with that off (--restart-nudge 0),
 * the second with it on. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_test.h"

#define LIFETIME "20"
#define UPDATE_IN 18 /* s after the registration: 90 % of the lifetime */
/* The first transmission unanswered (2-3 s), a handshake, the answer; slack for a loaded
 * machine and sanitizers. */
#define BOUND_S 12

static char dir[64], db[128], coaps[32], http[32], base[64], uri[64], psk_file[128], key_file[128];
static nb_test_proc srv, cli;

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/nb-e2e-restart-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  snprintf(db, sizeof db, "%s/server.db", dir);
  uint16_t cp = nb_test_free_port(SOCK_DGRAM), hp = nb_test_free_port(SOCK_STREAM);
  snprintf(coaps, sizeof coaps, "127.0.0.1:%u", cp);
  snprintf(uri, sizeof uri, "coaps://127.0.0.1:%u", cp);
  snprintf(http, sizeof http, "127.0.0.1:%u", hp);
  snprintf(base, sizeof base, "http://127.0.0.1:%u", hp);
  snprintf(psk_file, sizeof psk_file, "%s/devices.psk", dir);
  snprintf(key_file, sizeof key_file, "%s/meter.key", dir);
  FILE *f = fopen(psk_file, "w");
  if (!f) return -1;
  fputs("meter,meter-id,000102030405060708090a0b0c0d0e0f\n", f);
  fclose(f);
  f = fopen(key_file, "w");
  if (!f) return -1;
  fputs("000102030405060708090a0b0c0d0e0f\n", f);
  fclose(f);
  return chmod(key_file, 0600);
}

static int teardown(void **state) {
  (void)state;
  nb_test_proc_stop(&cli);
  nb_test_proc_cleanup(&cli);
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* The server; with sess_key (a --session-key-file), sessions kept across a graceful restart. */
static void start_server_keeping(const char *nudge, const char *sess_key) {
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "server",
                  "--restart-nudge",
                  (char *)nudge,
                  sess_key ? "--session-key-file" : "--log-level",
                  sess_key ? (char *)sess_key : "info",
                  "--coaps",
                  coaps,
                  "--http",
                  http,
                  "--db",
                  db,
                  "--psk",
                  psk_file,
                  NULL};
  assert_true(nb_test_proc_start(&srv, argv));
  assert_true(nb_test_proc_wait_output(&srv, true, "proto=http", 10000));
}

static void start_server(const char *nudge) { start_server_keeping(nudge, NULL); }

static char *get(const char *path) {
  char *out = nb_test_http(base, "GET", path, NULL);
  if (!out) fail_msg("GET %s: no answer within curl's 20 s", path);
  return out;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Polls the registration until it holds needle; seconds waited, or -1 after limit_s. */
static double wait_for(const char *needle, double limit_s) {
  double t0 = now_s();
  while (now_s() - t0 < limit_s) {
    char *body = get("/api/clients/meter");
    bool yes = strstr(body, needle) != NULL;
    free(body);
    if (yes) return now_s() - t0;
    usleep(200 * 1000);
  }
  return -1;
}

static void start_client(const char *lifetime) {
  char *cargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "client",
                   "--server",
                   uri,
                   "--endpoint",
                   "meter",
                   "--psk-identity",
                   "meter-id",
                   "--psk-key-file",
                   key_file,
                   "--lifetime",
                   (char *)lifetime,
                   "--sensors",
                   "none",
                   NULL};
  assert_true(nb_test_proc_start(&cli, cargv));
  assert_true(nb_test_proc_wait_output(&cli, true, "event=registered", 20000));
  assert_true(wait_for("\"endpoint\":\"meter\"", 10) >= 0);
}

/* kill -9 and start again on the same ports and database. */
static void kill_and_restart(const char *nudge) {
  assert_int_equal(kill(srv.pid, SIGKILL), 0);
  waitpid(srv.pid, NULL, 0);
  nb_test_proc_cleanup(&srv);
  start_server(nudge);
}

static void test_dtls_device_after_server_kill(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  start_server("0");
  start_client(LIFETIME);
  kill_and_restart("0"); /* devices are not told: they come back at their Update */
  double restarted = now_s();
  /* A read meanwhile is queued at once instead of waiting 30 s for a 504. */
  double t = now_s();
  char *body = get("/api/clients/meter/3/0/0");
  if (!strstr(body, "|202") || !strstr(body, "QUEUED"))
    fail_msg("read while unheard: %s after %.1f s", body, now_s() - t);
  free(body);
  assert_true(now_s() - t < 5);
  body = get("/api/clients/meter");
  assert_non_null(strstr(body, "|200"));
  assert_non_null(strstr(body, "\"reachable\":false"));
  free(body);

  /* Heard again within the bound: its Update over a new handshake. */
  double waited = wait_for("\"reachable\":true", UPDATE_IN + BOUND_S);
  if (waited < 0) {
    char *log = nb_test_proc_stderr(&cli);
    fail_msg("not heard again within %d s of the restart; client log:\n%s", UPDATE_IN + BOUND_S,
             log);
  }
  fprintf(stderr, "note: reachable again %.1f s after the restart\n", now_s() - restarted);
  body = get("/api/clients/meter/3/0/0");
  if (!strstr(body, "|200") || !strstr(body, "\"Niobium\"")) fail_msg("read after: %s", body);
  free(body);
  char *log = nb_test_proc_stderr(&cli);
  assert_non_null(strstr(log, "event=dtls-renew"));
  free(log);
  log = nb_test_proc_stderr(&srv);
  assert_non_null(strstr(log, "event=reachable ep=meter queued=1"));
  free(log);
}

/* The alert, a handshake, the Update and its answer: well under a second on a quiet machine;
 * slack for a loaded one and sanitizers. */
#define NUDGE_BOUND_S 10

static void test_dtls_device_reachable_at_once_after_kill(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  start_server("500");
  start_client("3600");
  kill_and_restart("500");
  double restarted = now_s();
  double waited = wait_for("\"reachable\":true", NUDGE_BOUND_S);
  if (waited < 0) {
    char *log = nb_test_proc_stderr(&cli);
    fail_msg("not reachable within %d s of the restart (lifetime 3600 s); client log:\n%s",
             NUDGE_BOUND_S, log);
  }
  fprintf(stderr, "note: reachable again %.1f s after the restart (lifetime 3600 s)\n",
          now_s() - restarted);
  char *body = get("/api/clients/meter/3/0/0");
  if (!strstr(body, "|200") || !strstr(body, "\"Niobium\"")) fail_msg("read after: %s", body);
  free(body);
  char *log = nb_test_proc_stderr(&srv);
  assert_non_null(strstr(log, "event=dtls_nudge devices=1"));
  free(log);
  log = nb_test_proc_stderr(&cli);
  assert_non_null(strstr(log, "does not hold the session"));
  free(log);
}

/* Lines of the captured log holding needle. */
static int count_lines(const char *log, const char *needle) {
  int n = 0;
  for (const char *p = strstr(log, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

/* SIGTERM with --session-key-file: the session is written (0600), read back at the start and
 * the file removed; the read right after answers 200 over the kept session: the server logs
 * no handshake after the restart, the client no renewal and no new session. */
static void test_graceful_restart_keeps_dtls_session(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  char sess_key[128], sess_file[160];
  snprintf(sess_key, sizeof sess_key, "%s/sessions.key", dir);
  snprintf(sess_file, sizeof sess_file, "%s.sessions", db);
  FILE *f = fopen(sess_key, "w");
  assert_non_null(f);
  fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", f);
  fclose(f);
  assert_int_equal(chmod(sess_key, 0600), 0);
  start_server_keeping("500", sess_key);
  start_client("3600");
  char *body = get("/api/clients/meter/3/0/0");
  if (!strstr(body, "|200")) fail_msg("read before: %s", body);
  free(body);

  assert_int_equal(kill(srv.pid, SIGTERM), 0);
  assert_int_equal(nb_test_proc_wait(&srv, 10000), 0);
  char *log = nb_test_proc_stderr(&srv);
  if (!strstr(log, "event=dtls_sessions_saved count=1 other_suites=0"))
    fail_msg("not saved; server log:\n%s", log);
  free(log);
  struct stat st;
  assert_int_equal(stat(sess_file, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  nb_test_proc_cleanup(&srv);

  start_server_keeping("500", sess_key);
  double t = now_s();
  body = get("/api/clients/meter/3/0/0");
  if (!strstr(body, "|200") || !strstr(body, "\"Niobium\"")) fail_msg("read after: %s", body);
  free(body);
  fprintf(stderr, "note: read answered %.2f s after the restart, session kept\n", now_s() - t);
  body = get("/api/clients/meter");
  assert_non_null(strstr(body, "\"reachable\":true"));
  free(body);
  assert_int_not_equal(access(sess_file, F_OK), 0); /* removed once read */
  log = nb_test_proc_stderr(&srv);
  assert_non_null(strstr(log, "event=dtls_sessions_restored count=1 refused=0 registrations=1"));
  assert_int_equal(count_lines(log, "event=established"), 0); /* no handshake */
  assert_null(strstr(log, "event=dtls_nudge"));
  assert_null(strstr(log, "00112233445566778899aabbccddeeff")); /* never the key */
  free(log);
  log = nb_test_proc_stderr(&cli);
  assert_int_equal(count_lines(log, "event=dtls-established"), 1); /* the first one only */
  assert_null(strstr(log, "dtls-renew"));
  free(log);
}

/* A session file under another key is refused whole and removed; the device comes back
 * through the lost-session alert. */
static void test_session_file_under_another_key_refused(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  char sess_key[128], sess_file[160];
  snprintf(sess_key, sizeof sess_key, "%s/sessions.key", dir);
  snprintf(sess_file, sizeof sess_file, "%s.sessions", db);
  FILE *f = fopen(sess_key, "w");
  assert_non_null(f);
  fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", f);
  fclose(f);
  assert_int_equal(chmod(sess_key, 0600), 0);
  start_server_keeping("500", sess_key);
  start_client("3600");
  assert_int_equal(kill(srv.pid, SIGTERM), 0);
  assert_int_equal(nb_test_proc_wait(&srv, 10000), 0);
  nb_test_proc_cleanup(&srv);
  f = fopen(sess_key, "w");
  assert_non_null(f);
  fputs("ff112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", f);
  fclose(f);
  start_server_keeping("500", sess_key);
  assert_true(nb_test_proc_wait_output(&srv, true, "event=dtls_sessions_refused", 5000));
  char *log = nb_test_proc_stderr(&srv);
  assert_non_null(strstr(log, "err=NB_ERR_DTLS_BAD_MAC"));
  free(log);
  assert_int_not_equal(access(sess_file, F_OK), 0);
  assert_true(wait_for("\"reachable\":true", NUDGE_BOUND_S) >= 0);
}

/* The device's PSK changed while the server was down (--psk loads the new one): its kept
 * session, made with the old key, is not restored. */
static void test_session_not_kept_when_psk_changed(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  char sess_key[128];
  snprintf(sess_key, sizeof sess_key, "%s/sessions.key", dir);
  FILE *f = fopen(sess_key, "w");
  assert_non_null(f);
  fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", f);
  fclose(f);
  assert_int_equal(chmod(sess_key, 0600), 0);
  start_server_keeping("500", sess_key);
  start_client("3600");
  assert_int_equal(kill(srv.pid, SIGTERM), 0);
  assert_int_equal(nb_test_proc_wait(&srv, 10000), 0);
  nb_test_proc_cleanup(&srv);
  f = fopen(psk_file, "w");
  assert_non_null(f);
  fputs("meter,meter-id,ff0102030405060708090a0b0c0d0e0f\n", f);
  fclose(f);
  start_server_keeping("0", sess_key);
  assert_true(nb_test_proc_wait_output(&srv, true, "event=dtls_sessions_restored", 5000));
  char *log = nb_test_proc_stderr(&srv);
  if (!strstr(log, "event=dtls_sessions_restored count=0 refused=1"))
    fail_msg("server log:\n%s", log);
  free(log);
  char *body = get("/api/clients/meter");
  assert_non_null(strstr(body, "\"reachable\":false"));
  free(body);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_dtls_device_after_server_kill, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dtls_device_reachable_at_once_after_kill, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_graceful_restart_keeps_dtls_session, setup, teardown),
      cmocka_unit_test_setup_teardown(test_session_file_under_another_key_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_session_not_kept_when_psk_changed, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
