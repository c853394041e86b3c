/* Issue 13 items 9 and 7 (client part) against the real binaries on loopback.
 * Item 9: a `niobium client` registered with a `niobium server` gets, from a UDP socket that is
 * none of its servers, a Write of /3/0/14 (UTC Offset), an Execute of /3/0/4 (Reboot) and a
 * Read: the value read back through the server's REST API is unchanged, the client still runs
 * and stays registered, and the stranger's socket gets no answer at all. Before the fix the
 * client applied the Write and left on the Execute.
 * Item 7: `--psk-key-file FILE` keeps the PSK out of the process's arguments (what `ps` and
 * /proc/PID/cmdline show): the device registers over DTLS with it and its command line holds
 * no key; a file others may read is refused; a key given with --psk-key is blanked from the
 * command line once parsed. Before the fix --psk-key-file was an unknown option. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "attack_env.h"
#include "coap/msg.h"
#include "nb_test.h"

#define PSK_HEX "8f2a61c04d5e9b7713aa0e5c66d1f2b9"

typedef nb_attack_env env;

static void write_file(const char *path, const char *text, mode_t mode) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  assert_int_equal(chmod(path, mode), 0);
}

static void start_server(const env *e, nb_test_proc *srv, const char *psk_file) {
  char *argv[16] = {e->bin,   "server",        "--coap", (char *)e->coap,
                    "--http", (char *)e->http, "--db",   (char *)e->db};
  size_t n = 8;
  if (psk_file) {
    argv[n++] = "--coaps";
    argv[n++] = (char *)e->coaps;
    argv[n++] = "--psk";
    argv[n++] = (char *)psk_file;
  }
  argv[n] = NULL;
  assert_true(nb_test_proc_start(srv, argv));
  assert_true(nb_test_proc_wait_output(srv, true, "proto=http", 10000));
}

static bool listed(const env *e, const char *ep) {
  char needle[96];
  snprintf(needle, sizeof needle, "\"endpoint\":\"%s\"", ep);
  for (int t = 0; t < 20000; t += 200) {
    char *out = nb_attack_rest(e, "GET", "/api/clients", NULL);
    bool yes = strstr(out, needle) != NULL;
    free(out);
    if (yes) return true;
    usleep(200 * 1000);
  }
  return false;
}

/* The client's IPv4 port, from its start-up log line. */
static uint16_t client_port(const nb_test_proc *p) {
  assert_true(nb_test_proc_wait_output(p, true, "local4=0.0.0.0:", 10000));
  char *err = nb_test_proc_stderr(p);
  const char *s = strstr(err, "local4=0.0.0.0:");
  uint16_t port = s ? (uint16_t)atoi(s + strlen("local4=0.0.0.0:")) : 0;
  free(err);
  assert_true(port > 0);
  return port;
}

/* One CON request from the stranger's socket to 127.0.0.1:port. */
static void stranger_send(int fd, uint16_t port, uint8_t method, const char *path, const char *text,
                          uint16_t mid) {
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, method, mid);
  assert_int_equal(nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, path), NB_OK);
  if (text) {
    nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_TEXT);
    nb_coap_msg_set_payload(&m, (const uint8_t *)text, strlen(text));
  }
  uint8_t buf[256];
  size_t n = 0;
  assert_int_equal(nb_coap_serialize(&m, buf, sizeof buf, &n), NB_OK);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  assert_int_equal(sendto(fd, buf, n, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)n);
}

/* Whether anything at all arrives on fd within ms. */
static bool anything_within(int fd, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, ms) > 0;
}

static char *utc_offset(const env *e) {
  return nb_attack_rest(e, "GET", "/api/clients/atk-dev/3/0/14", NULL);
}

static void test_stranger_write_and_execute_ignored(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  nb_attack_env_init(&e, "dev");
  nb_test_proc srv, cli;
  start_server(&e, &srv, NULL);
  char uri[64];
  snprintf(uri, sizeof uri, "coap://%s", e.coap);
  char *argv[] = {e.bin,        "client", "--server",  uri,    "--endpoint", "atk-dev",
                  "--lifetime", "300",    "--sensors", "none", NULL};
  assert_true(nb_test_proc_start(&cli, argv));
  uint16_t port = client_port(&cli);
  assert_true(listed(&e, "atk-dev"));
  /* The server sets the value the stranger will try to change. */
  char *w = nb_attack_rest(&e, "PUT", "/api/clients/atk-dev/3/0/14", "{\"value\":\"+01:00\"}");
  assert_non_null(strstr(w, "|200"));
  free(w);
  char *before = utc_offset(&e);
  assert_non_null(strstr(before, "+01:00"));
  free(before);

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in any = {.sin_family = AF_INET};
  inet_pton(AF_INET, "127.0.0.1", &any.sin_addr);
  assert_int_equal(bind(fd, (struct sockaddr *)&any, sizeof any), 0);
  stranger_send(fd, port, NB_COAP_PUT, "/3/0/14", "+13:00", 0x7001);
  stranger_send(fd, port, NB_COAP_POST, "/3/0/4", NULL, 0x7002);
  stranger_send(fd, port, NB_COAP_GET, "/3/0/0", NULL, 0x7003);
  assert_false(anything_within(fd, 3000)); /* no answer, no reset, no error */
  close(fd);

  char *after = utc_offset(&e);
  if (!strstr(after, "+01:00")) fail_msg("the stranger's write was applied: %s", after);
  free(after);
  int st;
  assert_int_equal(waitpid(cli.pid, &st, WNOHANG), 0); /* still running: no reboot */
  assert_true(listed(&e, "atk-dev"));
  char *log = nb_test_proc_stderr(&cli);
  assert_null(strstr(log, "event=reboot"));
  free(log);
  assert_int_equal(kill(cli.pid, SIGTERM), 0);
  assert_int_equal(nb_test_proc_wait(&cli, 15000), 0);
  nb_test_proc_cleanup(&cli);
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
  nb_attack_env_cleanup(&e);
}

/* /proc/PID/cmdline with the NULs between arguments made spaces (heap). */
static char *cmdline_of(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
  size_t len = 0;
  char *s = nb_test_read_file(path, &len);
  assert_non_null(s);
  for (size_t i = 0; i < len; i++)
    if (s[i] == '\0') s[i] = ' ';
  return s;
}

static void start_psk_client(const env *e, nb_test_proc *p, const char *ep, const char *opt,
                             const char *val) {
  char uri[64];
  snprintf(uri, sizeof uri, "coaps://%s", e->coaps);
  char *argv[] = {e->bin,      "client", "--server",       uri,        "--endpoint", (char *)ep,
                  "--sensors", "none",   "--psk-identity", (char *)ep, (char *)opt,  (char *)val,
                  NULL};
  assert_true(nb_test_proc_start(p, argv));
}

static void test_psk_key_file_keeps_key_out_of_ps(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  nb_attack_env_init(&e, "dev");
  char psk_db[128], key_file[128], loose[128];
  snprintf(psk_db, sizeof psk_db, "%s/server-psk.txt", e.dir);
  snprintf(key_file, sizeof key_file, "%s/dev.psk", e.dir);
  snprintf(loose, sizeof loose, "%s/loose.psk", e.dir);
  write_file(psk_db, "psk-file-dev,psk-file-dev," PSK_HEX "\npsk-arg-dev,psk-arg-dev," PSK_HEX "\n",
             0600);
  write_file(key_file, PSK_HEX "\n", 0600);
  write_file(loose, PSK_HEX "\n", 0644);
  nb_test_proc srv, cli, cli2, bad;
  start_server(&e, &srv, psk_db);

  /* A key file others may read is refused, with the fix in the message. */
  start_psk_client(&e, &bad, "psk-file-dev", "--psk-key-file", loose);
  assert_int_equal(nb_test_proc_wait(&bad, 10000), 1);
  char *err = nb_test_proc_stderr(&bad);
  assert_non_null(strstr(err, "chmod 600"));
  assert_null(strstr(err, PSK_HEX));
  free(err);
  nb_test_proc_cleanup(&bad);

  /* The key from the file works, and the command line never held it. */
  start_psk_client(&e, &cli, "psk-file-dev", "--psk-key-file", key_file);
  assert_true(listed(&e, "psk-file-dev"));
  char *cmd = cmdline_of(cli.pid);
  assert_non_null(strstr(cmd, "--psk-key-file"));
  if (strstr(cmd, PSK_HEX)) fail_msg("the key is in the process's arguments: %s", cmd);
  free(cmd);

  /* --psk-key still works, and is blanked from the command line once parsed. */
  start_psk_client(&e, &cli2, "psk-arg-dev", "--psk-key", PSK_HEX);
  assert_true(listed(&e, "psk-arg-dev"));
  cmd = cmdline_of(cli2.pid);
  if (strstr(cmd, PSK_HEX)) fail_msg("the key is in the process's arguments: %s", cmd);
  free(cmd);

  nb_test_proc_stop(&cli);
  nb_test_proc_cleanup(&cli);
  nb_test_proc_stop(&cli2);
  nb_test_proc_cleanup(&cli2);
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
  nb_attack_env_cleanup(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stranger_write_and_execute_ignored),
      cmocka_unit_test(test_psk_key_file_keeps_key_out_of_ps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
