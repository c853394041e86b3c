/* The device build (issue 15) and `make install`, checked in every `make test`:
 * - the tiny device (cmake/device-minimal.cmake, examples/minimal-device) builds in its own tree
 *   beside this one with gcc, its text stays under NB_DEVICE_TEXT_MAX (so the figure of
 *   bench/README.md cannot drift unseen), and it registers with a real `niobium server` on
 *   loopback and answers a read of /3303/0/5700 through the REST API;
 * - that tree installs (DESTDIR) headers, libniobium-client.a/.so and niobium-client.pc, and the
 *   example's own Makefile builds against the installed library with pkg-config, shared and
 *   static, and the shared build registers and answers too;
 * - this tree (the full build) installs `niobium` with the client library, and the installed
 *   command runs. */
#include <setjmp.h>
#include <signal.h>
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

/* The tiny device's text with gcc (bench/README.md, "Device build"): the measured 93,395
 * bytes plus 2 %. A change that makes it larger must say so here and in the README. */
#define NB_DEVICE_TEXT_MAX 96900

#define BUILD_MS (15 * 60 * 1000)

typedef struct {
  char tmp[64];      /* scratch directory of this run */
  char tree[512];    /* the device tree, kept between runs (incremental) */
  char device[600];  /* its minimal-device */
  char sensor[128];  /* the temperature file: 23.5 degrees */
  char dest[128];    /* DESTDIR of the install */
  char base[64];     /* REST API base of the server */
  char coap_uri[64]; /* the server's CoAP address */
  char db[128];
  nb_test_proc srv;
  nb_test_proc dev; /* the device under test (pid 0 when none): teardown stops it on failure */
} fixture;

static int run(char *const argv[], int timeout_ms) {
  char *out = NULL, *err = NULL;
  int rc = nb_test_run_capture(argv, timeout_ms, &out, &err);
  if (rc != 0)
    fprintf(stderr, "%s failed (%d):\n%s\n%s\n", argv[0], rc, out ? out : "", err ? err : "");
  free(out);
  free(err);
  return rc;
}

static bool have_ccache(void) { return nb_test_have_program("ccache"); }

/* Configures and builds the tiny device in <build dir>/device-minimal with gcc. */
static void build_device_tree(fixture *f) {
  const char *src = nb_test_env("NB_SOURCE_DIR"), *bin = nb_test_env("NB_BUILD_DIR");
  assert_non_null(src);
  assert_non_null(bin);
  char preset[512], srcarg[512], treearg[600];
  snprintf(f->tree, sizeof f->tree, "%s/device-minimal", bin);
  snprintf(f->device, sizeof f->device, "%s/examples/minimal-device", f->tree);
  snprintf(preset, sizeof preset, "%s/cmake/device-minimal.cmake", src);
  snprintf(srcarg, sizeof srcarg, "-S%s", src);
  snprintf(treearg, sizeof treearg, "-B%s", f->tree);
  char *conf[] = {"cmake", srcarg, treearg, "-C", preset, "-DCMAKE_C_COMPILER=gcc", NULL, NULL};
  if (have_ccache()) conf[6] = "-DCMAKE_C_COMPILER_LAUNCHER=ccache";
  assert_int_equal(run(conf, BUILD_MS), 0);
  char *build[] = {"cmake", "--build", f->tree, "-j2", NULL};
  assert_int_equal(run(build, BUILD_MS), 0);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->tmp, sizeof f->tmp, "/tmp/nb-e2e-dev-XXXXXX");
  if (!mkdtemp(f->tmp)) return -1;
  snprintf(f->sensor, sizeof f->sensor, "%s/temp", f->tmp);
  FILE *t = fopen(f->sensor, "w");
  if (!t) return -1;
  fputs("23500\n", t);
  fclose(t);
  snprintf(f->dest, sizeof f->dest, "%s/dest", f->tmp);
  snprintf(f->db, sizeof f->db, "%s/server.db", f->tmp);
  uint16_t cp = nb_test_free_port(SOCK_DGRAM), hp = nb_test_free_port(SOCK_STREAM);
  char coap[32], http[32];
  snprintf(coap, sizeof coap, "127.0.0.1:%u", cp);
  snprintf(http, sizeof http, "127.0.0.1:%u", hp);
  snprintf(f->base, sizeof f->base, "http://127.0.0.1:%u", hp);
  snprintf(f->coap_uri, sizeof f->coap_uri, "coap://127.0.0.1:%u", cp);
  char *sargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "server",
                   "--coap",
                   coap,
                   "--http",
                   http,
                   "--db",
                   f->db,
                   NULL};
  if (!nb_test_proc_start(&f->srv, sargv) ||
      !nb_test_proc_wait_output(&f->srv, true, "proto=http", 10000))
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  if (f->dev.pid) nb_test_proc_stop(&f->dev);
  nb_test_proc_cleanup(&f->dev);
  nb_test_proc_stop(&f->srv);
  nb_test_proc_cleanup(&f->srv);
  char *rm[] = {"rm", "-rf", f->tmp, NULL};
  run(rm, 60000);
  free(f);
  return 0;
}

/* Polls GET path until the answer holds needle (and status 200). */
static bool wait_for(const fixture *f, const char *path, const char *needle, int ms) {
  for (int t = 0; t < ms; t += 200) {
    char *out = nb_test_http(f->base, "GET", path, NULL);
    bool ok = out && strstr(out, needle) && strstr(out, "|200");
    free(out);
    if (ok) return true;
    usleep(200 * 1000);
  }
  return false;
}

/* Starts argv (a device built one way or another), checks that it registers as ep, answers a
 * read of the sensor value through the server, and de-registers on SIGTERM. */
static void check_device_serves(fixture *f, char *const argv[], const char *ep) {
  nb_test_proc *dev = &f->dev;
  assert_true(nb_test_proc_start(dev, argv));
  assert_true(nb_test_proc_wait_output(dev, false, "minimal-device: registered ssid=1", 20000));
  char needle[96], path[128];
  snprintf(needle, sizeof needle, "\"endpoint\":\"%s\"", ep);
  assert_true(wait_for(f, "/api/clients", needle, 10000));
  snprintf(path, sizeof path, "/api/clients/%s/3303/0/5700", ep);
  char *out = nb_test_http(f->base, "GET", path, NULL);
  assert_non_null(out);
  if (!strstr(out, "\"value\":23.5") || !strstr(out, "|200")) fail_msg("read: %s", out);
  free(out);
  snprintf(path, sizeof path, "/api/clients/%s/3/0/1", ep);
  assert_true(wait_for(f, path, "\"value\":\"minimal-device\"", 5000));
  kill(dev->pid, SIGTERM);
  assert_int_equal(nb_test_proc_wait(dev, 20000), 0);
  char *so = nb_test_proc_stdout(dev);
  assert_non_null(strstr(so, "minimal-device: deregistered"));
  free(so);
  nb_test_proc_cleanup(dev);
  memset(dev, 0, sizeof *dev);
}

static void test_tiny_device_size_and_registration(void **state) {
  fixture *f = *state;
  build_device_tree(f);
  char *sz[] = {"size", f->device, NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(sz, 30000, &out), 0);
  unsigned long text = 0, data = 0, bss = 0;
  const char *row = strchr(out, '\n');
  assert_non_null(row);
  assert_int_equal(sscanf(row + 1, "%lu %lu %lu", &text, &data, &bss), 3);
  free(out);
  fprintf(stderr, "tiny device (gcc, cmake/device-minimal.cmake): text %lu data %lu bss %lu\n",
          text, data, bss);
  if (text > NB_DEVICE_TEXT_MAX)
    fail_msg(
        "the tiny device's text grew to %lu bytes, above the bound of %d: measure it "
        "(make bench), explain it in bench/README.md and move NB_DEVICE_TEXT_MAX",
        text, NB_DEVICE_TEXT_MAX);
  char *dargv[] = {f->device, f->coap_uri, "tiny-1", f->sensor, NULL};
  check_device_serves(f, dargv, "tiny-1");
}

/* Installs the device tree into DESTDIR and builds the example with its Makefile against it. */
static void test_install_and_example(void **state) {
  fixture *f = *state;
  build_device_tree(f);
  char destenv[160];
  snprintf(destenv, sizeof destenv, "DESTDIR=%s", f->dest);
  char *inst[] = {"env", destenv, "cmake", "--install", f->tree, "--prefix", "/usr/local", NULL};
  assert_int_equal(run(inst, 120000), 0);
  const char *files[] = {"include/niobium/niobium/client.h", "include/niobium/niobium/config.h",
                         "include/niobium/base/err.h",       "include/niobium/lwm2m/value.h",
                         "lib/libniobium-client.a",          "lib/libniobium-client.so",
                         "lib/pkgconfig/niobium-client.pc"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/usr/local/%s", f->dest, files[i]);
    if (stat(p, &st) != 0) fail_msg("not installed: %s", p);
  }
  /* The example as a user has it: its two files in a directory of their own. */
  const char *src = nb_test_env("NB_SOURCE_DIR");
  char ex[128], from[512], pcpath[256];
  snprintf(ex, sizeof ex, "%s/example", f->tmp);
  snprintf(from, sizeof from, "%s/examples/minimal-device/.", src);
  char *cp[] = {"cp", "-r", from, ex, NULL};
  assert_int_equal(run(cp, 30000), 0);
  snprintf(pcpath, sizeof pcpath, "PKG_CONFIG_PATH=%s/usr/local/lib/pkgconfig", f->dest);
  char *mk_static[] = {"env", pcpath, "make", "-C", ex, "STATIC=1", NULL};
  assert_int_equal(run(mk_static, 300000), 0);
  char *clean[] = {"make", "-C", ex, "clean", NULL};
  assert_int_equal(run(clean, 30000), 0);
  char *mk[] = {"env", pcpath, "make", "-C", ex, NULL};
  assert_int_equal(run(mk, 300000), 0);
  /* The shared build runs with the installed library. */
  char exe[160], ldpath[200];
  snprintf(exe, sizeof exe, "%s/minimal-device", ex);
  snprintf(ldpath, sizeof ldpath, "LD_LIBRARY_PATH=%s/usr/local/lib", f->dest);
  char *dargv[] = {"env", ldpath, exe, f->coap_uri, "tiny-installed", f->sensor, NULL};
  check_device_serves(f, dargv, "tiny-installed");
}

/* `make install` of the full build: the command and the client library. */
static void test_full_install(void **state) {
  fixture *f = *state;
  char prefix[128], niobium[160];
  snprintf(prefix, sizeof prefix, "%s/full", f->tmp);
  char *inst[] = {"cmake",    "--install", (char *)nb_test_env("NB_BUILD_DIR"),
                  "--prefix", prefix,      NULL};
  assert_int_equal(run(inst, 120000), 0);
  const char *files[] = {"bin/niobium", "include/niobium/niobium/client.h",
                         "include/niobium/dtls/session.h", "lib/libniobium-client.a",
                         "lib/pkgconfig/niobium-client.pc"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", prefix, files[i]);
    if (stat(p, &st) != 0) fail_msg("not installed: %s", p);
  }
  snprintf(niobium, sizeof niobium, "%s/bin/niobium", prefix);
  char *help[] = {niobium, "--help", NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(help, 30000, &out), 0);
  assert_non_null(strstr(out, "server"));
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tiny_device_size_and_registration),
      cmocka_unit_test(test_install_and_example),
      cmocka_unit_test(test_full_install),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
