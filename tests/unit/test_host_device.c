/* The Linux host's Device object values (io/host_device.c) on fixture files: the battery of a
 * power_supply directory (type, capacity, status, present, health), none when there is no
 * battery, memory from a meminfo file in kilobytes of 1000 bytes, and the time zone from TZ and
 * the tz database: offsets through summer time, zones and offsets written, names refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/host_device.h"
#include "nb_test.h"

typedef struct {
  char dir[64];
  nb_host_device h;
} fx;

static void put(const char *dir, const char *name, const char *text) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/nb-host-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  nb_host_device_init(&f->h);
  snprintf(f->h.power_supply, sizeof f->h.power_supply, "%s/ps", f->dir);
  snprintf(f->h.meminfo, sizeof f->h.meminfo, "%s/meminfo", f->dir);
  char p[256];
  snprintf(p, sizeof p, "%s/ps", f->dir);
  mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/ps/AC", f->dir);
  mkdir(p, 0700);
  put(p, "type", "Mains\n");
  put(p, "online", "1\n");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  char *rm[] = {"rm", "-rf", f->dir, NULL};
  nb_test_run(rm, 10000, NULL);
  free(f);
  return 0;
}

static void test_battery(void **state) {
  fx *f = *state;
  int level = -1, status = -1;
  /* Mains only: no battery, so no value at all. */
  assert_int_equal(nb_host_battery(&f->h, &level, &status), NB_ERR_NOT_FOUND);
  char bat[256];
  snprintf(bat, sizeof bat, "%s/ps/BAT0", f->dir);
  mkdir(bat, 0700);
  put(bat, "type", "Battery\n");
  put(bat, "capacity", "42\n");
  put(bat, "status", "Discharging\n");
  assert_int_equal(nb_host_battery(&f->h, &level, &status), NB_OK);
  assert_int_equal(level, 42);
  assert_int_equal(status, 0);
  static const struct {
    const char *status;
    int lwm2m;
  } map[] = {{"Charging", 1}, {"Full", 2}, {"Not charging", 0}, {"Unknown", 6}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
    put(bat, "status", map[i].status);
    assert_int_equal(nb_host_battery(&f->h, &level, &status), NB_OK);
    assert_int_equal(status, map[i].lwm2m);
  }
  put(bat, "health", "Dead\n");
  assert_int_equal(nb_host_battery(&f->h, &level, &status), NB_OK);
  assert_int_equal(status, 3);
  put(bat, "present", "0\n");
  assert_int_equal(nb_host_battery(&f->h, &level, &status), NB_OK);
  assert_int_equal(status, 5);
  put(bat, "capacity", "101\n"); /* nonsense is no value */
  assert_int_equal(nb_host_battery(&f->h, &level, &status), NB_ERR_NOT_FOUND);
  snprintf(f->h.power_supply, sizeof f->h.power_supply, "%s/none", f->dir);
  assert_int_equal(nb_host_battery(&f->h, &level, &status), NB_ERR_NOT_FOUND);
}

static void test_memory(void **state) {
  fx *f = *state;
  int64_t fr = -1, total = -1;
  assert_int_equal(nb_host_memory(&f->h, &fr, &total), NB_ERR_NOT_FOUND); /* no file yet */
  put(f->dir, "meminfo",
      "MemTotal:        2048000 kB\nMemFree:          100000 kB\nMemAvailable:    1000000 kB\n");
  assert_int_equal(nb_host_memory(&f->h, &fr, &total), NB_OK);
  assert_int_equal(total, 2097152); /* 2,048,000 KiB in kilobytes of 1000 bytes */
  assert_int_equal(fr, 1024000);
  put(f->dir, "meminfo", "MemTotal:        2048000 kB\n"); /* no MemAvailable: no guess */
  assert_int_equal(nb_host_memory(&f->h, &fr, &total), NB_ERR_NOT_FOUND);
}

static bool have_zone(const char *z) {
  char p[256];
  struct stat st;
  snprintf(p, sizeof p, "/usr/share/zoneinfo/%s", z);
  return stat(p, &st) == 0;
}

static void zone_at(fx *f, int64_t t, const char *tz, const char *off) {
  char z[64], o[16];
  assert_int_equal(nb_host_zone(&f->h, t, z, sizeof z, o, sizeof o), NB_OK);
  if (strcmp(z, tz) != 0 || strcmp(o, off) != 0)
    fail_msg("at %lld: got %s %s, wanted %s %s", (long long)t, z, o, tz, off);
}

static void test_zone(void **state) {
  fx *f = *state;
  if (!have_zone("Europe/Paris") || !have_zone("Asia/Kolkata")) {
    fprintf(stderr, "skipped: the tz database (tzdata) is not installed\n");
    skip();
  }
  const int64_t jan = 1704110400, jul = 1719835200; /* 2024-01-01 and 2024-07-01, 12:00 UTC */
  /* The host's own zone comes from TZ, which is put back after each offset is worked out. */
  setenv("TZ", "Europe/Paris", 1);
  zone_at(f, jan, "Europe/Paris", "+01:00");
  zone_at(f, jul, "Europe/Paris", "+02:00");
  assert_string_equal(getenv("TZ"), "Europe/Paris");
  setenv("TZ", ":America/New_York", 1);
  zone_at(f, jan, "America/New_York", "-05:00");
  /* A server writes the zone: it wins over the host's, with its own offset. */
  assert_int_equal(nb_host_set_zone(&f->h, "Asia/Kolkata", NULL), NB_OK);
  zone_at(f, jul, "Asia/Kolkata", "+05:30");
  const char *bad[] = {"Mars/Olympus", "../../etc/passwd", "/etc/passwd", "",
                       "Europe",       "Europe/Paris;rm"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(nb_host_set_zone(&f->h, bad[i], NULL), NB_ERR_INVAL);
  zone_at(f, jul, "Asia/Kolkata", "+05:30");
  /* An offset written stays until the zone is written again. */
  assert_int_equal(nb_host_set_zone(&f->h, NULL, "UTC-04:30"), NB_OK);
  zone_at(f, jul, "Asia/Kolkata", "-04:30");
  const char *bad_off[] = {"+3:00", "+15:00", "+03:60", "03:00", "+03:00x", "+ 3:00", "UTC"};
  for (size_t i = 0; i < sizeof bad_off / sizeof bad_off[0]; i++)
    assert_int_equal(nb_host_set_zone(&f->h, NULL, bad_off[i]), NB_ERR_INVAL);
  assert_int_equal(nb_host_set_zone(&f->h, "Europe/Paris", NULL), NB_OK);
  zone_at(f, jan, "Europe/Paris", "+01:00");
  unsetenv("TZ");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_battery),
      cmocka_unit_test(test_memory),
      cmocka_unit_test(test_zone),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
