/* `niobium objects`: the list, one object's resource table, --ddf files and directories, and
 * the exit codes (0 ok, 1 unknown ID or bad DDF, 2 usage). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_test.h"

#define RUN_MS 30000

/* Runs `niobium objects ARGS...` (NULL-terminated); returns the exit status. */
static int objects(char **out, char **err, ...) {
  const char *nb = nb_test_env("NB_BINARY");
  if (nb == NULL) fail_msg("NB_BINARY is not set");
  char *argv[16];
  size_t n = 0;
  argv[n++] = (char *)nb;
  argv[n++] = "objects";
  va_list ap;
  va_start(ap, err);
  for (char *a; n < 15 && (a = va_arg(ap, char *)) != NULL;) argv[n++] = a;
  va_end(ap);
  argv[n] = NULL;
  return nb_test_run_capture(argv, RUN_MS, out, err);
}

static size_t count_lines(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

static void test_list(void **state) {
  (void)state;
  char *out = NULL, *err = NULL;
  assert_int_equal(objects(&out, &err, NULL), 0);
  assert_non_null(strstr(out, "    3  Device "));
  assert_non_null(strstr(out, " 3303  Temperature "));
  assert_non_null(strstr(out,
                         "    0  LWM2M Security                                    1.2      "
                         "multiple\n"));
  assert_int_equal(count_lines(out), 31); /* header + 30 built-in objects */
  free(out);
  free(err);
}

static void test_one_object(void **state) {
  (void)state;
  char *out = NULL, *err = NULL;
  assert_int_equal(objects(&out, &err, "3303", NULL), 0);
  assert_non_null(strstr(out, "Object 3303: Temperature"));
  assert_non_null(strstr(out, "OPS  INSTANCES  MANDATORY  TYPE"));
  assert_non_null(strstr(out, " 5700  Sensor Value"));
  assert_non_null(strstr(out, "R    single     mandatory  Float\n"));
  assert_non_null(strstr(out, " 5605  Reset Min and Max Measured Values"));
  free(out);
  free(err);
  assert_int_equal(objects(&out, &err, "3", NULL), 0);
  assert_non_null(strstr(out, "    4  Reboot"));
  assert_non_null(strstr(out, "E    single     mandatory  -\n"));
  assert_non_null(strstr(out, "Battery Level"));
  assert_non_null(strstr(out, "/100\n")); /* units column */
  free(out);
  free(err);
}

static void test_exit_codes(void **state) {
  (void)state;
  char *out = NULL, *err = NULL;
  assert_int_equal(objects(&out, &err, "9999", NULL), 1);
  assert_non_null(strstr(err, "no definition for object 9999"));
  free(out);
  free(err);
  const char *usage[][2] = {{"abc", NULL},     {"65535", NULL}, {"1", "2"},
                            {"--bogus", NULL}, {"-1", NULL},    {"--ddf", NULL}};
  for (size_t k = 0; k < sizeof usage / sizeof usage[0]; k++) {
    int rc = objects(&out, &err, usage[k][0], usage[k][1], NULL);
    if (rc != 2) fail_msg("'%s %s' exited %d, want 2", usage[k][0], usage[k][1], rc);
    assert_true(strlen(err) > 0);
    free(out);
    free(err);
  }
  assert_int_equal(objects(&out, &err, "--help", NULL), 0);
  assert_non_null(strstr(out, "Examples:"));
  assert_non_null(strstr(out, "--ddf"));
  free(out);
  free(err);
  assert_int_equal(objects(&out, &err, "--ddf", "/nonexistent/dir", NULL), 1);
  assert_non_null(strstr(err, "/nonexistent/dir"));
  free(out);
  free(err);
}

static void test_ddf_file(void **state) {
  (void)state;
  char path[] = "/tmp/nb_objects_XXXXXX.xml";
  int fd = mkstemps(path, 4);
  assert_true(fd >= 0);
  const char *doc =
      "<LWM2M><Object ObjectType=\"MODefinition\"><Name>Widget</Name><ObjectID>42042</ObjectID>"
      "<ObjectVersion>1.3</ObjectVersion><MultipleInstances>Single</MultipleInstances>"
      "<Mandatory>Optional</Mandatory><Resources><Item ID=\"7\"><Name>Speed</Name>"
      "<Operations>RW</Operations><MultipleInstances>Single</MultipleInstances>"
      "<Mandatory>Mandatory</Mandatory><Type>Unsigned Integer</Type><RangeEnumeration/>"
      "<Units>rpm</Units></Item></Resources></Object></LWM2M>";
  assert_int_equal(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
  close(fd);
  char *out = NULL, *err = NULL;
  assert_int_equal(objects(&out, &err, "--ddf", path, "42042", NULL), 0);
  assert_non_null(strstr(out, "Object 42042: Widget, version 1.3"));
  assert_non_null(strstr(out, "    7  Speed"));
  assert_non_null(strstr(out, "RW   single     mandatory  Unsigned Integer  rpm\n"));
  free(out);
  free(err);
  /* A broken file: exit 1 with "file:line: what". */
  FILE *f = fopen(path, "w");
  fputs("<LWM2M>\n<Object><Name>X</Name>\n<ObjectID>1x</ObjectID></Object></LWM2M>", f);
  fclose(f);
  assert_int_equal(objects(&out, &err, "--ddf", path, NULL), 1);
  char want[128];
  snprintf(want, sizeof want, "%s:3: <ObjectID> is \"1x\"", path);
  if (strstr(err, want) == NULL) fail_msg("stderr '%s' lacks '%s'", err, want);
  free(out);
  free(err);
  unlink(path);
}

static void test_registry_dir(void **state) {
  (void)state;
  const char *shared = nb_test_shared_dir();
  if (shared == NULL) {
    print_message("NB_SHARED_DIR absent: registry directory test skipped\n");
    skip();
  }
  char dir[512];
  snprintf(dir, sizeof dir, "%s/lwm2m-registry", shared);
  if (access(dir, R_OK) != 0) {
    print_message("%s absent: registry directory test skipped\n", dir);
    skip();
  }
  char *out = NULL, *err = NULL;
  assert_int_equal(objects(&out, &err, "--ddf", dir, "--verbose", "10241", NULL), 0);
  assert_non_null(strstr(out, "Object 10241: HostDeviceInfo"));
  assert_non_null(strstr(err, "skipped"));
  assert_non_null(strstr(err, "Common.xml"));
  free(out);
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_list),         cmocka_unit_test(test_one_object),
      cmocka_unit_test(test_exit_codes),   cmocka_unit_test(test_ddf_file),
      cmocka_unit_test(test_registry_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
