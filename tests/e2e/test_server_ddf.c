/* `niobium server --ddf` and `niobium client --ddf` end to end on 127.0.0.1, with the OMA
 * registry's Single-Phase Power Meter (10243): the client hosts the object, the server decodes
 * its values typed (a string, not the opaque hex of a server without the definition), and
 * GET /api/objectspecs names it and its resources, a page at a time. */
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
  char dir[64], db[128], coap[32], http[32], base[64], ddf[512];
  nb_test_proc srv, dev;
} env;

static bool env_init(env *e) {
  const char *shared = nb_test_shared_dir();
  if (!shared) return false;
  snprintf(e->ddf, sizeof(e->ddf), "%s/lwm2m-registry/10243.xml", shared);
  if (access(e->ddf, R_OK) != 0) return false;
  snprintf(e->dir, sizeof(e->dir), "/tmp/nb-e2e-ddf-XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  snprintf(e->db, sizeof(e->db), "%s/server.db", e->dir);
  snprintf(e->coap, sizeof(e->coap), "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(e->http, sizeof(e->http), "127.0.0.1:%u", hp);
  snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%u", hp);
  return true;
}

static void start_server(env *e, bool with_ddf) {
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "server",
                  "--coap",
                  e->coap,
                  "--http",
                  e->http,
                  "--db",
                  e->db,
                  with_ddf ? "--ddf" : NULL,
                  e->ddf,
                  NULL};
  assert_true(nb_test_proc_start(&e->srv, argv));
  assert_true(nb_test_proc_wait_output(&e->srv, true, "proto=http", 10000));
}

/* A meter: `niobium client --ddf 10243.xml` whose Manufacturer is set on its prompt. */
static void start_meter(env *e) {
  char cmd[1024];
  snprintf(cmd, sizeof(cmd),
           "(echo 'set /10243/0/0 ACME'; sleep 120) | exec '%s' client --server coap://%s "
           "--endpoint meter-1 --ddf '%s' --prompt --objects basic",
           nb_test_env("NB_BINARY"), e->coap, e->ddf);
  char *argv[] = {"/bin/sh", "-c", cmd, NULL};
  assert_true(nb_test_proc_start(&e->dev, argv));
  assert_true(nb_test_proc_wait_output(&e->dev, false, "ok", 10000));
  assert_true(nb_test_proc_wait_output(&e->dev, true, "event=registered", 10000));
}

static void stop_server(env *e) {
  nb_test_proc_stop(&e->srv);
  nb_test_proc_cleanup(&e->srv);
}

static void env_stop(env *e) {
  nb_test_proc_stop(&e->dev);
  nb_test_proc_cleanup(&e->dev);
  nb_test_remove_db(e->db);
  rmdir(e->dir);
}

static void test_registry_object_typed(void **state) {
  (void)state;
  env e;
  if (!nb_test_have_program("curl") || !env_init(&e)) skip(); /* needs ../shared's registry */
  start_server(&e, true);
  start_meter(&e);
  char *r = nb_test_http(e.base, "GET", "/api/clients/meter-1/10243/0/0?format=tlv", NULL);
  assert_non_null(r);
  assert_non_null(strstr(r, "\"type\":\"String\",\"value\":\"ACME\""));
  assert_non_null(strstr(r, "|200"));
  free(r);
  /* the same answer, from a server without the definition: opaque bytes */
  stop_server(&e);
  start_server(&e, false);
  r = nb_test_http(e.base, "GET", "/api/clients/meter-1/10243/0/0?format=tlv", NULL);
  assert_non_null(strstr(r, "\"type\":\"Opaque\",\"value\":\"41434d45\""));
  free(r);
  r = nb_test_http(e.base, "GET", "/api/objectspecs/10243", NULL);
  assert_non_null(strstr(r, "|404"));
  free(r);
  stop_server(&e);
  env_stop(&e);
}

static void test_objectspecs(void **state) {
  (void)state;
  env e;
  if (!nb_test_have_program("curl") || !env_init(&e)) skip();
  start_server(&e, true);
  char *r = nb_test_http(e.base, "GET", "/api/objectspecs/10243", NULL);
  assert_non_null(strstr(r, "\"id\":10243,\"name\":\"Single-Phase Power Meter\""));
  assert_non_null(strstr(r, "\"instancetype\":\"multiple\""));
  assert_non_null(strstr(r, "{\"id\":0,\"name\":\"Manufacturer\",\"operations\":\"R\""));
  assert_non_null(strstr(r, "\"name\":\"Active Power\",\"operations\":\"R\""));
  assert_non_null(strstr(r, "\"units\":\"kW\""));
  assert_non_null(strstr(r, "|200"));
  free(r);
  r = nb_test_http(e.base, "GET", "/api/objectspecs/3", NULL);
  assert_non_null(strstr(r, "\"name\":\"Device\""));
  assert_non_null(strstr(r, "\"name\":\"Reboot\",\"operations\":\"E\""));
  free(r);
  static const char *const missing[] = {"/api/objectspecs/4242", "/api/objectspecs/65535",
                                        "/api/objectspecs/x", "/api/objectspecs/-1"};
  for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
    r = nb_test_http(e.base, "GET", missing[i], NULL);
    if (!strstr(r, "|404")) fail_msg("%s: %s", missing[i], r);
    free(r);
  }
  /* pages: the next one starts after the last ID, 10243 among them */
  char *out = NULL;
  char url[160];
  snprintf(url, sizeof(url), "%s/api/objectspecs?limit=2", e.base);
  char *argv[] = {"curl", "-si", "-m", "20", url, NULL};
  assert_int_equal(nb_test_run(argv, 30000, &out), 0);
  assert_non_null(strstr(out, "Link: </api/objectspecs?limit=2&cursor=1>; rel=\"next\""));
  assert_non_null(strstr(out, "\"id\":0,"));
  assert_null(strstr(out, "\"name\":\"LwM2M Access Control\""));
  free(out);
  r = nb_test_http(e.base, "GET", "/api/objectspecs?limit=1000", NULL);
  assert_non_null(strstr(r, "\"id\":10243,"));
  free(r);
  r = nb_test_http(e.base, "GET", "/api/objectspecs?cursor=abc", NULL);
  assert_non_null(strstr(r, "|400"));
  free(r);
  stop_server(&e);
  env_stop(&e);
}

static void test_bad_ddf(void **state) {
  (void)state;
  char dir[64] = "/tmp/nb-e2e-ddf-bad-XXXXXX", db[96];
  assert_non_null(mkdtemp(dir));
  snprintf(db, sizeof(db), "%s/x.db", dir);
  char *err = NULL;
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "server",
                  "--ddf",
                  "/nonexistent/meter.xml",
                  "--db",
                  db,
                  "--coap",
                  "127.0.0.1:0",
                  "--http",
                  "127.0.0.1:0",
                  NULL};
  assert_int_equal(nb_test_run_capture(argv, 10000, NULL, &err), 1);
  if (!strstr(err, "/nonexistent/meter.xml")) fail_msg("stderr: %s", err);
  assert_non_null(strstr(err, "check the --ddf path"));
  free(err);
  char *cargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "client",
                   "--server",
                   "coap://127.0.0.1:9",
                   "--endpoint",
                   "x",
                   "--ddf",
                   "/nonexistent/meter.xml",
                   NULL};
  assert_int_equal(nb_test_run_capture(cargv, 10000, NULL, &err), 1);
  assert_non_null(strstr(err, "check the --ddf path"));
  free(err);
  nb_test_remove_db(db);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registry_object_typed),
      cmocka_unit_test(test_objectspecs),
      cmocka_unit_test(test_bad_ddf),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
