/* The benchmark binaries answer --help with their usage and exit 0 at once, and refuse
 * arguments they do not understand (exit 2) instead of running minutes of measurements. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nb_test.h"

static void test_bench_server_usage(void **state) {
  (void)state;
  char path[512], *out = NULL, *err = NULL;
  snprintf(path, sizeof path, "%s/bench/bench_server", nb_test_env("NB_BUILD_DIR"));
  char *help[] = {path, "--help", NULL};
  /* A whole run takes minutes: 10 s is plenty for a usage text and nothing else. */
  assert_int_equal(nb_test_run_capture(help, 10000, &out, &err), 0);
  assert_non_null(strstr(out, "Usage: bench_server"));
  assert_null(strstr(out, "registrations/s ("));
  free(out);
  free(err);
  char *bad[] = {path, "lots", NULL};
  assert_int_equal(nb_test_run_capture(bad, 10000, &out, &err), 2);
  assert_non_null(strstr(err, "Usage: bench_server"));
  free(out);
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_bench_server_usage)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
