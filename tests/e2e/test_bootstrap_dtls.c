/* `niobium bootstrap --coaps` end to end on 127.0.0.1 with libcoap's GnuTLS client and raw
 * public keys: a device whose secure ID an operator registered (`bootstrap expect`) gets its
 * Bootstrap-Request answered 2.04; a key nobody registered is refused at the handshake (alert
 * event, no request seen); the registered key asking for another endpoint gets 4.03. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_test.h"

typedef struct {
  char dir[64], db[128], coaps[32];
  char *bin;
} env;

static char *path_in(const env *e, const char *name) {
  static char p[4][192];
  static int i;
  i = (i + 1) % 4;
  snprintf(p[i], sizeof(p[i]), "%s/%s", e->dir, name);
  return p[i];
}

static char *run_out(char *const argv[]) {
  char *out = NULL;
  assert_int_equal(nb_test_run(argv, 30000, &out), 0);
  return out;
}

/* A P-256 key pair as PREFIX.* plus PREFIX.rpk.pem for coap-client-gnutls -M; returns its
 * secure ID as `niobium keys` printed it (heap). */
static char *make_key(const env *e, const char *name) {
  static const char tag[] = "secure-id: ";
  char prefix[160], cmd[3 * sizeof prefix + 64];
  snprintf(prefix, sizeof(prefix), "%s/%s", e->dir, name);
  char *keys[] = {e->bin, "keys", "ec", "--out", prefix, NULL};
  char *out = run_out(keys);
  char sid[31] = "";
  {
    const char *found = strstr(out, tag);
    if (found) snprintf(sid, sizeof sid, "%s", found + strlen(tag));
  }
  free(out);
  assert_int_equal(strlen(sid), 30);
  char *res = strdup(sid);
  snprintf(cmd, sizeof(cmd), "cat '%s.pub.pem' '%s.key.pem' > '%s.rpk.pem'", prefix, prefix,
           prefix);
  assert_int_equal(system(cmd), 0);
  return res;
}

static char *bs_request(const env *e, const char *key, const char *ep) {
  char uri[160];
  snprintf(uri, sizeof(uri), "coaps://%s/bs?ep=%s", e->coaps, ep);
  char *argv[] = {
      "coap-client-gnutls", "-M", (char *)key, "-m", "post", "-B", "5", "-v", "6", uri, NULL};
  char *out = NULL, *err = NULL;
  nb_test_run_capture(argv, 30000, &out, &err);
  size_t len = strlen(out) + strlen(err) + 2;
  char *all = malloc(len);
  assert_non_null(all);
  snprintf(all, len, "%s\n%s", out, err);
  free(out);
  free(err);
  return all;
}

static void test_rpk_bootstrap(void **state) {
  (void)state;
  if (!nb_test_have_program("coap-client-gnutls")) skip(); /* needs libcoap3-bin */
  env e;
  e.bin = (char *)nb_test_env("NB_BINARY");
  snprintf(e.dir, sizeof(e.dir), "/tmp/nb-e2e-bsdtls-XXXXXX");
  assert_non_null(mkdtemp(e.dir));
  snprintf(e.db, sizeof(e.db), "%s/bs.db", e.dir);
  snprintf(e.coaps, sizeof(e.coaps), "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  free(make_key(&e, "bs"));
  char *sid = make_key(&e, "dev");
  free(make_key(&e, "rogue"));

  char *cfg[] = {e.bin,        "bootstrap",    "--db",
                 e.db,         "config",       "add",
                 "--default",  "--server-uri", "coap://127.0.0.1:5683",
                 "--security", "nosec",        NULL};
  free(run_out(cfg));
  char *expect[] = {e.bin,        "bootstrap", "--db",        e.db, "expect",
                    "--endpoint", "factory-1", "--secure-id", sid,  NULL};
  free(run_out(expect));

  nb_test_proc bs;
  char *argv[] = {e.bin,     "bootstrap", "--db",      e.db,
                  "--coaps", e.coaps,     "--rpk-key", path_in(&e, "bs.key.pem"),
                  NULL};
  assert_true(nb_test_proc_start(&bs, argv));
  assert_true(nb_test_proc_wait_output(&bs, true, "proto=coaps", 10000));

  /* An unregistered key: refused at the handshake, an alert raised, no request. */
  char *out = bs_request(&e, path_in(&e, "rogue.rpk.pem"), "factory-1");
  assert_null(strstr(out, "c:2.04"));
  free(out);
  assert_true(nb_test_proc_wait_output(&bs, true, "BOOTSTRAP_ALERT", 5000));

  /* The registered key asking as another endpoint: 4.03. */
  out = bs_request(&e, path_in(&e, "dev.rpk.pem"), "factory-2");
  assert_null(strstr(out, "c:2.04"));
  assert_non_null(strstr(out, "c:4.03"));
  free(out);

  out = bs_request(&e, path_in(&e, "dev.rpk.pem"), "factory-1");
  assert_non_null(strstr(out, "c:2.04"));
  free(out);
  nb_test_proc_stop(&bs);
  char *log = nb_test_proc_stderr(&bs);
  assert_non_null(strstr(log, "BOOTSTRAP_REQUEST ep=factory-1"));
  free(log);
  nb_test_proc_cleanup(&bs);
  free(sid);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e.dir);
  assert_int_equal(system(cmd), 0);
}

static void test_usage(void **state) {
  (void)state;
  char *out = NULL, *err = NULL;
  char *a1[] = {(char *)nb_test_env("NB_BINARY"), "bootstrap", "--rpk-key", "k.pem", NULL};
  assert_int_equal(nb_test_run_capture(a1, 10000, &out, &err), 2);
  assert_non_null(strstr(err, "--coaps"));
  free(out);
  free(err);
  char *a2[] = {(char *)nb_test_env("NB_BINARY"), "bootstrap", "--help", NULL};
  assert_int_equal(nb_test_run_capture(a2, 10000, &out, &err), 0);
  assert_non_null(strstr(out, "--coaps"));
  assert_non_null(strstr(out, "--rpk-key"));
  free(out);
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rpk_bootstrap),
      cmocka_unit_test(test_usage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
