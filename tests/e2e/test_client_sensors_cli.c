/* `niobium client` sensor and queue-mode options end to end: usage errors (exit 2) for a bad
 * --sensors, SPI channel or --queue-timeout, and runtime errors (exit 1) naming the problem for
 * a malformed CSV file, a missing CSV column and a missing SPI device. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_test.h"

static void expect_exit(char **extra, size_t n, int code, const char *needle) {
  char *argv[32] = {(char *)nb_test_env("NB_BINARY"),
                    "client",
                    "--server",
                    "coap://127.0.0.1:9",
                    "--endpoint",
                    "s1"};
  assert_true(n < 25);
  for (size_t i = 0; i < n; i++) argv[6 + i] = extra[i];
  argv[6 + n] = NULL;
  char *out = NULL, *err = NULL;
  int rc = nb_test_run_capture(argv, 20000, &out, &err);
  if (rc != code || !strstr(err, needle))
    fail_msg("exit %d (want %d), stderr lacks '%s': %s", rc, code, needle, err);
  free(out);
  free(err);
}

static void test_usage(void **state) {
  (void)state;
  char *a1[] = {"--sensors", "gpio:4"};
  expect_exit(a1, 2, 2, "csv:FILE:COLUMN");
  char *a2[] = {"--sensors", "csv:nocolumn"};
  expect_exit(a2, 2, 2, "csv:FILE:COLUMN");
  char *a3[] = {"--sensors", "spi:/dev/spidev0.0:9"};
  expect_exit(a3, 2, 2, "channel '9' must be 0..7");
  char *a4[] = {"--objects", "basic", "--sensors", "spi:/dev/spidev0.0"};
  expect_exit(a4, 4, 2, "needs --objects ipso or all");
  char *a5[] = {"--queue-timeout", "0"};
  expect_exit(a5, 2, 2, "--queue-timeout");
}

static void test_runtime_errors(void **state) {
  (void)state;
  char path[] = "/tmp/nb_csv_cli_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *csv = "time,temp\n0,20.5\n10,oops\n";
  assert_int_equal(write(fd, csv, strlen(csv)), (ssize_t)strlen(csv));
  close(fd);
  char spec[64], spec2[64];
  snprintf(spec, sizeof spec, "csv:%s:temp", path);
  char *a1[] = {"--sensors", spec};
  expect_exit(a1, 2, 1, "line 3: 'oops' in column 2 is not a number");
  snprintf(spec2, sizeof spec2, "csv:%s:humidity", path);
  char *a2[] = {"--sensors", spec2};
  expect_exit(a2, 2, 1, "no column named 'humidity'");
  unlink(path);
  char *a3[] = {"--sensors", spec};
  expect_exit(a3, 2, 1, "cannot read");
  char *a4[] = {"--sensors", "spi:/nonexistent/spidev7.7:1"};
  expect_exit(a4, 2, 1, "cannot open SPI device /nonexistent/spidev7.7");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_usage),
                                     cmocka_unit_test(test_runtime_errors)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
