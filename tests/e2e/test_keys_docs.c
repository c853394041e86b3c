/* `niobium keys` as the guides use it, with the real binary: the PSK example of
 * docs/server.md is run as written (`niobium` on PATH, only the server's address changed)
 * and the server takes the key it sends; every `$(niobium keys psk ...)` in the guides gives
 * bare hex; the API token recipe writes a usable token; `keys cert issue` (and `keys ec`)
 * write all their files or none: never a certificate whose key was not written. */
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

#include "nb_test.h"

static char dir[64], bindir[96];
static const char *nb;

static int setup(void **state) {
  (void)state;
  nb = nb_test_env("NB_BINARY");
  snprintf(dir, sizeof dir, "/tmp/nb-e2e-keysdocs-XXXXXX");
  if (!nb || !nb_test_env("NB_SOURCE_DIR") || !mkdtemp(dir)) return -1;
  /* `niobium` on PATH, as after `make install`. */
  snprintf(bindir, sizeof bindir, "%s/bin", dir);
  char link[160];
  snprintf(link, sizeof link, "%s/niobium", bindir);
  return mkdir(bindir, 0700) == 0 && symlink(nb, link) == 0 ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* A guide's text (heap). */
static char *doc(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", nb_test_env("NB_SOURCE_DIR"), name);
  char *text = nb_test_read_file(path, NULL);
  assert_non_null(text);
  return text;
}

/* Runs a shell line in dir with `niobium` on PATH; its stdout (heap) and status. */
static int shell(const char *line, char **out) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "cd '%s' && PATH='%s':\"$PATH\" && %s", dir, bindir, line);
  char *argv[] = {"sh", "-c", cmd, NULL};
  return nb_test_run(argv, 30000, out);
}

static bool bare_hex(const char *s, size_t digits) {
  size_t n = strspn(s, "0123456789abcdef");
  return n == digits && (s[n] == '\0' || (s[n] == '\n' && s[n + 1] == '\0'));
}

static void test_keys_psk_hex(void **state) {
  (void)state;
  char *out = NULL;
  assert_int_equal(shell("niobium keys psk --hex", &out), 0);
  assert_true(bare_hex(out, 32));
  free(out);
  assert_int_equal(shell("niobium keys psk --bytes 24 --hex", &out), 0);
  assert_true(bare_hex(out, 48));
  free(out);
}

/* Every `$(niobium keys psk ...)` of the guides prints bare hex. */
static void test_guides_psk_substitutions(void **state) {
  (void)state;
  const char *guides[] = {"docs/server.md", "docs/client.md", "docs/security.md",
                          "docs/quickstart.md", "README.md"};
  size_t seen = 0;
  for (size_t g = 0; g < sizeof guides / sizeof guides[0]; g++) {
    char *text = doc(guides[g]);
    for (char *at = strstr(text, "$(niobium keys psk"); at;
         at = strstr(at + 1, "$(niobium keys psk")) {
      char line[256];
      snprintf(line, sizeof line, "%.*s", (int)strcspn(at + 2, ")"), at + 2);
      char *out = NULL;
      assert_int_equal(shell(line, &out), 0);
      if (!bare_hex(out, strspn(out, "0123456789abcdef")) || !out[0])
        fail_msg("%s: `%s` printed '%s', not a key in hex", guides[g], line, out);
      free(out);
      seen++;
    }
    free(text);
  }
  assert_true(seen >= 1);
}

/* The server.md line "curl -X PUT ... $(niobium keys psk ...) ... \" and its next line. */
static void server_md_psk_line(const char *base, char *cmd, size_t cap) {
  char *text = doc("docs/server.md");
  char *at = strstr(text, "$(niobium keys psk");
  assert_non_null(at);
  while (at > text && at[-1] != '\n') at--;
  char *nl = strchr(at, '\n');
  assert_non_null(nl);
  char *end = strchr(nl + 1, '\n');
  assert_non_null(end);
  *end = '\0';
  char *url = strstr(at, "http://127.0.0.1:8080");
  assert_non_null(url);
  /* Only the address changes: the test's server listens on a free port. */
  snprintf(cmd, cap, "%.*s%s%s", (int)(url - at), at, base, url + strlen("http://127.0.0.1:8080"));
  free(text);
}

static void test_server_md_psk_example(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  char db[128], http[32], base[64], cmd[2048];
  snprintf(db, sizeof db, "%s/server.db", dir);
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(http, sizeof http, "127.0.0.1:%u", hp);
  snprintf(base, sizeof base, "http://127.0.0.1:%u", hp);
  char coap[32];
  snprintf(coap, sizeof coap, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  char *argv[] = {(char *)nb, "server", "--coap", coap, "--http", http, "--db", db, NULL};
  nb_test_proc srv;
  assert_true(nb_test_proc_start(&srv, argv));
  assert_true(nb_test_proc_wait_output(&srv, true, "proto=http", 10000));
  server_md_psk_line(base, cmd, sizeof cmd);
  char *out = NULL;
  assert_int_equal(shell(cmd, &out), 0);
  if (!strstr(out, "\"mode\":\"psk\"") || !strstr(out, "\"endpoint\":\"dev1\""))
    fail_msg("docs/server.md's PSK example was refused: %s\n(%s)", out, cmd);
  free(out);
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
}

/* server.md's token recipe: a file only its owner reads, holding a token the server takes. */
static void test_server_md_token_recipe(void **state) {
  (void)state;
  char *text = doc("docs/server.md");
  char *at = strstr(text, "niobium keys psk --bytes 24");
  assert_non_null(at);
  while (at > text && at[-1] != '\n') at--;
  char line[256];
  snprintf(line, sizeof line, "%.*s", (int)strcspn(at, "\n"), at);
  free(text);
  char *out = NULL;
  assert_int_equal(shell(line, &out), 0);
  free(out);
  char token[128];
  snprintf(token, sizeof token, "%s/token", dir);
  struct stat st;
  assert_int_equal(stat(token, &st), 0);
  assert_int_equal(st.st_mode & 077, 0);
  char *t = nb_test_read_file(token, NULL);
  assert_non_null(t);
  assert_true(bare_hex(t, 48));
  free(t);
}

static void test_cert_issue_both_or_neither(void **state) {
  (void)state;
  char *out = NULL;
  assert_int_equal(
      shell("niobium keys ec --out server && niobium keys cert ca --cn ca --out ca", &out), 0);
  free(out);
  /* server.key.pem exists (the RPK above): the certificate is not written either. */
  char *argv[] = {"sh", "-c", "", NULL}, cmd[512], *err = NULL;
  snprintf(cmd, sizeof cmd,
           "cd '%s' && '%s' keys cert issue --ca ca --cn server --san 127.0.0.1 --out server", dir,
           nb);
  argv[2] = cmd;
  assert_int_equal(nb_test_run_capture(argv, 30000, &out, &err), 1);
  assert_non_null(strstr(err, "server.key.pem exists; nothing was written"));
  free(out);
  free(err);
  char crt[128];
  snprintf(crt, sizeof crt, "%s/server.crt.pem", dir);
  assert_int_not_equal(access(crt, F_OK), 0);
  /* --force: both, the key 0600. */
  strcat(cmd, " --force");
  assert_int_equal(nb_test_run(argv, 30000, &out), 0);
  free(out);
  assert_int_equal(access(crt, F_OK), 0);
  char key[128];
  struct stat st;
  snprintf(key, sizeof key, "%s/server.key.pem", dir);
  assert_int_equal(stat(key, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  /* keys ec over an existing public key: none of its four files is written. */
  assert_int_equal(shell("rm -f dev.* && touch dev.pub.pem && niobium keys ec --out dev", &out), 1);
  free(out);
  char pem[128];
  snprintf(pem, sizeof pem, "%s/dev.key.pem", dir);
  assert_int_not_equal(access(pem, F_OK), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keys_psk_hex),
      cmocka_unit_test(test_guides_psk_substitutions),
      cmocka_unit_test(test_server_md_psk_example),
      cmocka_unit_test(test_server_md_token_recipe),
      cmocka_unit_test(test_cert_issue_both_or_neither),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
