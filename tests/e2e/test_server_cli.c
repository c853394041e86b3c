/* `niobium server` end to end on 127.0.0.1: libcoap's coap-client-notls posts a Register by
 * hand, the REST API lists it, errors are JSON, the API token is enforced, and after kill -9
 * the restarted server still has the registration. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_test.h"

typedef struct {
  char dir[64], db[128];
  char coap[32], http[32], base[64];
} env;

static void start_server(nb_test_proc *p, env *e, const char *token) {
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "server",
                  "--coap",
                  e->coap,
                  "--http",
                  e->http,
                  "--db",
                  e->db,
                  token ? "--api-token" : NULL,
                  (char *)token,
                  NULL};
  assert_true(nb_test_proc_start(p, argv));
  assert_true(nb_test_proc_wait_output(p, true, "proto=http", 10000));
}

static char *curl(const char *url, const char *auth) {
  char *out = NULL;
  char hdr[128];
  snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", auth ? auth : "");
  char *argv[] = {"curl", "-s", "-m", "20", "-w", "|%{http_code}", "-H", hdr, (char *)url, NULL};
  assert_int_equal(nb_test_run(argv, 30000, &out), 0);
  return out;
}

static void env_init(env *e) {
  snprintf(e->dir, sizeof(e->dir), "/tmp/nb-e2e-srv-XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  snprintf(e->db, sizeof(e->db), "%s/server.db", e->dir);
  snprintf(e->coap, sizeof(e->coap), "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(e->http, sizeof(e->http), "127.0.0.1:%u", hp);
  snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%u", hp);
}

static void env_cleanup(env *e) {
  char p[160];
  const char *sfx[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof(p), "%s%s", e->db, sfx[i]);
    unlink(p);
  }
  rmdir(e->dir);
}

static void test_libcoap_register_and_restart(void **state) {
  (void)state;
  if (!nb_test_have_program("coap-client-notls") || !nb_test_have_program("curl"))
    skip(); /* needs libcoap3-bin and curl */
  env e;
  env_init(&e);
  nb_test_proc srv;
  start_server(&srv, &e, "s3cret-token-0123");
  char uri[128];
  snprintf(uri, sizeof(uri), "coap://%s/rd?ep=libcoap-dev&lt=600&lwm2m=1.1&b=U", e.coap);
  char *out = NULL;
  char *reg[] = {"coap-client-notls", "-m", "post", "-t", "40", "-e", "</1/0>,</3/0>", uri, NULL};
  assert_int_equal(nb_test_run(reg, 20000, &out), 0);
  free(out);
  char url[160];
  snprintf(url, sizeof(url), "%s/api/clients", e.base);
  char *body = curl(url, "s3cret-token-0123");
  assert_non_null(strstr(body, "\"endpoint\":\"libcoap-dev\""));
  assert_non_null(strstr(body, "\"lwM2mVersion\":\"1.1\""));
  assert_non_null(strstr(body, "</1/0>,</3/0>"));
  assert_non_null(strstr(body, "|200"));
  free(body);
  /* Without the token: 401 with a JSON error. */
  body = curl(url, "wrong");
  assert_non_null(strstr(body, "\"code\":\"4.01\""));
  assert_non_null(strstr(body, "|401"));
  free(body);
  snprintf(url, sizeof(url), "%s/api/clients/nobody", e.base);
  body = curl(url, "s3cret-token-0123");
  assert_non_null(strstr(body, "{\"error\":"));
  assert_non_null(strstr(body, "\"code\":\"4.04\""));
  assert_non_null(strstr(body, "|404"));
  free(body);
  /* A malformed Register is refused with 4.00 and never listed. */
  snprintf(uri, sizeof(uri), "coap://%s/rd?lt=600", e.coap);
  char *bad[] = {"coap-client-notls", "-m", "post", "-t", "40", "-e", "</3/0>", uri, NULL};
  out = NULL;
  nb_test_run(bad, 20000, &out);
  free(out);

  /* kill -9, restart on the same database: the registration is still there. */
  kill(srv.pid, SIGKILL);
  waitpid(srv.pid, NULL, 0);
  nb_test_proc_cleanup(&srv);
  nb_test_proc srv2;
  start_server(&srv2, &e, "s3cret-token-0123");
  snprintf(url, sizeof(url), "%s/api/clients/libcoap-dev", e.base);
  body = curl(url, "s3cret-token-0123");
  assert_non_null(strstr(body, "\"endpoint\":\"libcoap-dev\""));
  assert_non_null(strstr(body, "|200"));
  free(body);
  snprintf(url, sizeof(url), "%s/api/clients", e.base);
  body = curl(url, "s3cret-token-0123");
  assert_null(strstr(body, "},{")); /* exactly one client */
  free(body);
  nb_test_proc_stop(&srv2);
  nb_test_proc_cleanup(&srv2);
  env_cleanup(&e);
}

static void test_usage_errors(void **state) {
  (void)state;
  char *out = NULL, *err = NULL;
  char *a1[] = {(char *)nb_test_env("NB_BINARY"), "server", "--http", "0.0.0.0:1", NULL};
  assert_int_equal(nb_test_run_capture(a1, 10000, &out, &err), 2);
  assert_non_null(strstr(err, "--api-token"));
  free(out);
  free(err);
  char *a2[] = {(char *)nb_test_env("NB_BINARY"), "server", "--help", NULL};
  assert_int_equal(nb_test_run_capture(a2, 10000, &out, &err), 0);
  assert_non_null(strstr(out, "examples:"));
  free(out);
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_libcoap_register_and_restart),
      cmocka_unit_test(test_usage_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
