/* The Device object of a real `niobium client` read through a real `niobium server`'s REST API
 * (issue 14 item 7): Current Time (/3/0/13) is the host's clock and a written time is kept,
 * UTC Offset and Timezone (/3/0/14, /3/0/15) come from the client's TZ and the tz database and
 * follow a written zone, Memory Free/Total (/3/0/10, /3/0/21) from /proc/meminfo in kilobytes of
 * 1000 bytes, Battery Level (/3/0/9) only when the host has a battery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/host_device.h"
#include "nb_test.h"

typedef struct {
  char base[64];
  char dir[64];
  nb_test_proc srv, cl; /* pid 0 until started; stopped by teardown, also after a failure */
} env;

/* The "value" of GET /api/clients/e2e-dev/PATH as text ("" when absent); the status in *code. */
static void get_value(const env *e, const char *path, char *out, size_t cap, int *status) {
  char url[128];
  snprintf(url, sizeof url, "/api/clients/e2e-dev%s", path);
  char *body = nb_test_http(e->base, "GET", url, NULL);
  assert_non_null(body);
  char *bar = strrchr(body, '|');
  *status = bar ? atoi(bar + 1) : 0;
  out[0] = 0;
  const char *v = strstr(body, "\"value\":");
  if (v) {
    v += 8;
    if (*v == '"') v++;
    size_t n = strcspn(v, "\",}");
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), v);
  }
  free(body);
}

static void put_value(const env *e, const char *path, const char *json_value) {
  char url[128], body[128];
  snprintf(url, sizeof url, "/api/clients/e2e-dev%s", path);
  snprintf(body, sizeof body, "{\"value\": %s}", json_value);
  char *out = nb_test_http(e->base, "PUT", url, body);
  assert_non_null(out);
  if (!strstr(out, "\"2.04\"")) fail_msg("PUT %s: %s", path, out);
  free(out);
}

static bool wait_registered(const env *e, int ms) {
  for (int t = 0; t < ms; t += 200) {
    char *out = nb_test_http(e->base, "GET", "/api/clients", NULL);
    bool ok = out && strstr(out, "\"endpoint\":\"e2e-dev\"");
    free(out);
    if (ok) return true;
    usleep(200 * 1000);
  }
  return false;
}

static bool have_zone(const char *z) {
  char p[256];
  struct stat st;
  snprintf(p, sizeof p, "/usr/share/zoneinfo/%s", z);
  return stat(p, &st) == 0;
}

static int setup(void **state) {
  env *e = calloc(1, sizeof *e);
  if (!e) return -1;
  snprintf(e->dir, sizeof e->dir, "/tmp/nb-e2e-devinfo-XXXXXX");
  if (!mkdtemp(e->dir)) return -1;
  *state = e;
  return 0;
}

static int teardown(void **state) {
  env *e = *state;
  if (e->cl.pid) nb_test_proc_stop(&e->cl);
  if (e->srv.pid) nb_test_proc_stop(&e->srv);
  nb_test_proc_cleanup(&e->cl);
  nb_test_proc_cleanup(&e->srv);
  char *rm[] = {"rm", "-rf", e->dir, NULL};
  nb_test_run(rm, 10000, NULL);
  free(e);
  return 0;
}

static void test_device_object_of_the_host(void **state) {
  env *e = *state;
  if (!nb_test_have_program("curl") || !have_zone("Asia/Kolkata") || !have_zone("Europe/Paris")) {
    fprintf(stderr, "skipped: curl or the tz database (tzdata) missing\n");
    skip();
  }
  char db[128], coap[32], http[32], uri[64];
  snprintf(db, sizeof db, "%s/server.db", e->dir);
  uint16_t cp = nb_test_free_port(SOCK_DGRAM), hp = nb_test_free_port(SOCK_STREAM);
  snprintf(coap, sizeof coap, "127.0.0.1:%u", cp);
  snprintf(http, sizeof http, "127.0.0.1:%u", hp);
  snprintf(uri, sizeof uri, "coap://127.0.0.1:%u", cp);
  snprintf(e->base, sizeof e->base, "http://127.0.0.1:%u", hp);
  char *sargv[] = {
      (char *)nb_test_env("NB_BINARY"), "server", "--coap", coap, "--http", http, "--db", db, NULL};
  assert_true(nb_test_proc_start(&e->srv, sargv));
  assert_true(nb_test_proc_wait_output(&e->srv, true, "proto=http", 10000));
  char *cargv[] = {"env",
                   "TZ=Asia/Kolkata",
                   (char *)nb_test_env("NB_BINARY"),
                   "client",
                   "--server",
                   uri,
                   "--endpoint",
                   "e2e-dev",
                   "--objects",
                   "basic",
                   NULL};
  assert_true(nb_test_proc_start(&e->cl, cargv));
  assert_true(wait_registered(e, 15000));

  char v[128];
  int st;
  /* Current Time: the host's clock. */
  get_value(e, "/3/0/13", v, sizeof v, &st);
  assert_int_equal(st, 200);
  long long now = (long long)time(NULL), t = atoll(v);
  if (t < now - 10 || t > now + 10) fail_msg("/3/0/13 is %lld, the clock says %lld", t, now);
  /* Zone and offset from TZ and the tz database. */
  get_value(e, "/3/0/15", v, sizeof v, &st);
  assert_int_equal(st, 200);
  assert_string_equal(v, "Asia/Kolkata");
  get_value(e, "/3/0/14", v, sizeof v, &st);
  assert_int_equal(st, 200);
  assert_string_equal(v, "+05:30");
  /* Memory from /proc/meminfo, kilobytes of 1000 bytes. */
  nb_host_device h;
  nb_host_device_init(&h);
  int64_t fr, total;
  assert_int_equal(nb_host_memory(&h, &fr, &total), NB_OK);
  get_value(e, "/3/0/21", v, sizeof v, &st);
  assert_int_equal(st, 200);
  assert_int_equal(atoll(v), total);
  get_value(e, "/3/0/10", v, sizeof v, &st);
  assert_int_equal(st, 200);
  assert_true(atoll(v) > 0 && atoll(v) <= total);
  /* The battery is there only when the host has one. */
  int level, status;
  bool battery = nb_host_battery(&h, &level, &status) == NB_OK;
  get_value(e, "/3/0/9", v, sizeof v, &st);
  assert_int_equal(st, battery ? 200 : 404);
  /* Written: the zone (its offset follows) and the time (the device keeps the offset). */
  put_value(e, "/3/0/15", "\"Europe/Paris\"");
  get_value(e, "/3/0/15", v, sizeof v, &st);
  assert_string_equal(v, "Europe/Paris");
  get_value(e, "/3/0/14", v, sizeof v, &st);
  if (strcmp(v, "+01:00") != 0 && strcmp(v, "+02:00") != 0) fail_msg("Paris offset %s", v);
  put_value(e, "/3/0/13", "1000000000");
  get_value(e, "/3/0/13", v, sizeof v, &st);
  assert_true(atoll(v) >= 1000000000 && atoll(v) <= 1000000010);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_device_object_of_the_host)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
