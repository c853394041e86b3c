/* `niobium decode`: the real binary on the specification's TLV example, SenML and link-format
 * payloads from stdin, resource names in the output, exit code 1 with the CoAP code and reason
 * for malformed payloads, 2 for usage errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_test.h"

static const char *nb;

static void need_binary(void) {
  nb = nb_test_env("NB_BINARY");
  if (!nb) fail_msg("NB_BINARY is not set");
}

/* Runs `niobium decode ARGS...`, optionally with stdin from a file holding `input`. */
static int run(const char *input, char **out, char **err, const char *a1, const char *a2,
               const char *a3, const char *a4, const char *a5) {
  char path[64] = "";
  if (input) {
    snprintf(path, sizeof path, "/tmp/nb-decode-in.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, input, strlen(input)), (ssize_t)strlen(input));
    close(fd);
  }
  char cmd[4096];
  /* A shell only for the stdin redirection; arguments are fixed strings of this test. */
  snprintf(cmd, sizeof cmd, "exec '%s' decode %s %s %s %s %s %s%s", nb, a1 ? a1 : "", a2 ? a2 : "",
           a3 ? a3 : "", a4 ? a4 : "", a5 ? a5 : "", input ? "< " : "", path);
  char *argv[] = {"sh", "-c", cmd, NULL};
  int rc = nb_test_run_capture(argv, 30000, out, err);
  if (input) unlink(path);
  return rc;
}

static void test_tlv_spec_example(void **state) {
  (void)state;
  need_binary();
  char *out, *err;
  int rc = run(NULL, &out, &err, "--format", "tlv", "--path", "/3/0",
               "'C800144F70656E204D6F62696C6520416C6C69616E6365 86 06 41 00 01 41 01 05 "
               "C4 0D 51 82 42 8F C1 10 55'");
  assert_int_equal(rc, 0);
  assert_non_null(strstr(out, "/3/0/0 Manufacturer = \"Open Mobile Alliance\"\n"));
  assert_non_null(strstr(out, "/3/0/6/1 Available Power Sources[1] = 5\n"));
  assert_non_null(strstr(out, "/3/0/13 Current Time = 1367491215 (2013-05-02T10:40:15Z)\n"));
  assert_non_null(strstr(out, "/3/0/16 Supported Binding and Modes = \"U\"\n"));
  free(out);
  free(err);
}

static void test_stdin_formats(void **state) {
  (void)state;
  need_binary();
  char *out, *err;
  int rc = run("[{\"bn\":\"/3303/0/\",\"n\":\"5700\",\"v\":21.5,\"t\":1700000000}]", &out, &err,
               "-f", "senml-json", "-", NULL, NULL);
  assert_int_equal(rc, 0);
  assert_string_equal(out, "/3303/0/5700 Sensor Value = 21.5  @ t=1700000000\n");
  free(out);
  free(err);
  rc = run("</>;rt=\"oma.lwm2m\";ct=11543,</1/0>,</3/0>;ver=1.1", &out, &err, "-f", "link", "-",
           NULL, NULL);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(out, "/ (root) rt=\"oma.lwm2m\" ct=11543\n"));
  assert_non_null(strstr(out, "/3/0 Device/0 ver=1.1\n"));
  free(out);
  free(err);
  rc = run(NULL, &out, &err, "-f", "cbor", "-p", "/3/0/9", "1864");
  assert_int_equal(rc, 0);
  assert_string_equal(out, "/3/0/9 Battery Level = 100\n");
  free(out);
  free(err);
}

static void test_bad_payloads(void **state) {
  (void)state;
  need_binary();
  char *out, *err;
  int rc = run(NULL, &out, &err, "-f", "tlv", "-p", "/3/0", "C8001541");
  assert_int_equal(rc, 1);
  assert_string_equal(out, "");
  assert_non_null(strstr(err, "4.00 Bad Request: TLV: length runs past the end"));
  free(out);
  free(err);
  rc = run(NULL, &out, &err, "-f", "text", "-p", "/3/0", "31");
  assert_int_equal(rc, 1);
  assert_non_null(strstr(err, "4.15 Unsupported Content-Format"));
  free(out);
  free(err);
  rc = run("[{\"n\":\"/3/0/9\",\"vs\":\"full\"}]", &out, &err, "-f", "senml-json", "-", NULL, NULL);
  assert_int_equal(rc, 1);
  assert_non_null(strstr(err, "4.00 Bad Request: SenML: vs given for a resource"));
  free(out);
  free(err);
}

static void test_usage(void **state) {
  (void)state;
  need_binary();
  char *out, *err;
  assert_int_equal(run(NULL, &out, &err, "--help", NULL, NULL, NULL, NULL), 0);
  assert_non_null(strstr(out, "Examples:"));
  free(out);
  free(err);
  assert_int_equal(run(NULL, &out, &err, "-f", "xml", "00", NULL, NULL), 2);
  assert_non_null(strstr(err, "unknown format 'xml'"));
  free(out);
  free(err);
  assert_int_equal(run(NULL, &out, &err, "-f", "tlv", "0g", NULL, NULL), 2);
  free(out);
  free(err);
  assert_int_equal(run(NULL, &out, &err, "-f", "tlv", "-p", "/x", "00"), 2);
  free(out);
  free(err);
  assert_int_equal(run(NULL, &out, &err, "00", NULL, NULL, NULL, NULL), 2);
  assert_non_null(strstr(err, "--format is required"));
  free(out);
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tlv_spec_example),
      cmocka_unit_test(test_stdin_formats),
      cmocka_unit_test(test_bad_payloads),
      cmocka_unit_test(test_usage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
