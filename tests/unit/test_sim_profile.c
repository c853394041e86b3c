/* Household load profiles of the fleet simulator: the CSV loader (seconds and date-time time
 * columns, quotes, comments, and every malformed case refused with "file:line: what"), linear
 * interpolation and the exact energy integral over loops, and the synthetic generator
 * (deterministic under its seed, plausible households with evening peaks). Also the PSK file
 * reader the simulator shares with `niobium server --psk`. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/credfile.h"
#include "sim/profile.h"

static nb_sim_profiles *parse_ok(const char *csv) {
  nb_sim_profiles *p = NULL;
  char err[256] = "";
  nb_err e = nb_sim_profiles_parse_csv(csv, strlen(csv), "t.csv", &p, err, sizeof err);
  if (e != NB_OK) fail_msg("parse failed: %s", err);
  return p;
}

static void test_interpolation_and_energy(void **state) {
  (void)state;
  nb_sim_profiles *p = parse_ok("time,a,b\n0,100,1000\n600,200,1000\n1200,100,0\n");
  assert_int_equal(nb_sim_profiles_households(p), 2);
  assert_int_equal(nb_sim_profiles_samples(p), 3);
  assert_true(fabs(nb_sim_profiles_period(p) - 1800) < 1e-9); /* last sample + one interval */
  assert_true(fabs(nb_sim_profiles_power(p, 0, 300) - 150) < 1e-9);
  assert_true(fabs(nb_sim_profiles_power(p, 0, 900) - 150) < 1e-9);
  assert_true(fabs(nb_sim_profiles_power(p, 0, 1500) - 100) < 1e-9);       /* back to the first */
  assert_true(fabs(nb_sim_profiles_power(p, 1, 1500) - 500) < 1e-9);       /* 0 -> 1000 */
  assert_true(fabs(nb_sim_profiles_power(p, 0, 1800 + 300) - 150) < 1e-9); /* it loops */
  /* energy: trapezoids, Wh */
  assert_true(fabs(nb_sim_profiles_energy(p, 0, 600) - 25.0) < 1e-9);
  assert_true(fabs(nb_sim_profiles_energy(p, 0, 300) - (100 + 150) / 2.0 * 300 / 3600) < 1e-9);
  double loop = nb_sim_profiles_energy(p, 0, 1800);
  assert_true(fabs(loop - (25.0 + 25.0 + 100 * 600 / 3600.0)) < 1e-9);
  assert_true(fabs(nb_sim_profiles_energy(p, 0, 3 * 1800 + 600) - (3 * loop + 25)) < 1e-6);
  assert_true(fabs(nb_sim_profiles_mean(p, 0) - loop * 3600 / 1800) < 1e-9);
  /* energy never goes down */
  double last = 0;
  for (double t = 0; t < 10000; t += 37) {
    double e = nb_sim_profiles_energy(p, 1, t);
    assert_true(e >= last - 1e-9);
    last = e;
  }
  nb_sim_profiles_free(p);
}

static void test_datetime_quotes_comments(void **state) {
  (void)state;
  nb_sim_profiles *p = parse_ok(
      "# NREL-like export\r\n"
      "\"Date/Time\",\"house 1\"\r\n"
      "\r\n"
      "2018-01-01 00:00:00,120.5\r\n"
      "2018-01-01T00:10Z,  240.5 \r\n"
      "# a comment between samples\n"
      "2018-01-01 00:20,120.5");
  assert_int_equal(nb_sim_profiles_samples(p), 3);
  assert_true(fabs(nb_sim_profiles_power(p, 0, 300) - 180.5) < 1e-9);
  assert_true(fabs(nb_sim_profiles_period(p) - 1800) < 1e-9);
  nb_sim_profiles_free(p);
}

static void test_malformed(void **state) {
  (void)state;
  static const struct {
    const char *csv, *want;
  } cases[] = {
      {"", "t.csv:1: no header line"},
      {"# only a comment\n", "t.csv:2: no header line"},
      {"time\n0\n600\n", "t.csv:1: the header needs a time column"},
      {"time,a\n0,1\n", "t.csv:3: at least two samples"},
      {"time,a\n0,1\n600,2,3\n", "t.csv:3: 3 fields, the header has 2"},
      {"time,a,b\n0,1\n", "t.csv:2: 2 fields, the header has 3"},
      {"time,a\n0,1\nsoon,2\n", "t.csv:3: time 'soon' is neither seconds"},
      {"time,a\n0,1\n0,2\n", "t.csv:3: time does not increase"},
      {"time,a\n600,1\n0,2\n", "t.csv:3: time does not increase"},
      {"time,a\n0,1\n600,\n", "t.csv:3: column 2: empty value"},
      {"time,a\n0,1\n600,12W\n", "t.csv:3: column 2: '12W' is not a number of watts"},
      {"time,a\n0,-5\n600,1\n", "t.csv:2: column 2: negative power -5"},
      {"time,a\n0,nan\n600,1\n", "t.csv:2: column 2: 'nan' is not a number"},
      {"time,a\n0,1e12\n600,1\n", "t.csv:2: column 2: 1e+12 W is more than a household"},
      {"time,a\n0,\"1\n600,1\n", "t.csv:2: column 2: field too long or quote not closed"},
      {"time,a\n2018-13-01 00:00,1\n600,1\n", "t.csv:2: time '2018-13-01 00:00'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    nb_sim_profiles *p = NULL;
    char err[256] = "";
    nb_err e =
        nb_sim_profiles_parse_csv(cases[i].csv, strlen(cases[i].csv), "t.csv", &p, err, sizeof err);
    if (e != NB_ERR_SYNTAX || p || !strstr(err, cases[i].want))
      fail_msg("case %zu: err %d '%s', wanted '%s'", i, e, err, cases[i].want);
  }
  /* a NUL byte is no text */
  char nul[] = "time,a\n0,1\n600,1\x00\n";
  nb_sim_profiles *p = NULL;
  char err[256];
  assert_int_equal(nb_sim_profiles_parse_csv(nul, sizeof nul - 1, "t.csv", &p, err, sizeof err),
                   NB_ERR_SYNTAX);
  assert_non_null(strstr(err, "t.csv:3: a NUL byte"));
  assert_int_equal(nb_sim_profiles_load_csv("/nonexistent/p.csv", &p, err, sizeof err), NB_ERR_IO);
  assert_non_null(strstr(err, "/nonexistent/p.csv: cannot read"));
}

static void test_synthetic(void **state) {
  (void)state;
  nb_sim_profiles *a, *b, *c;
  assert_int_equal(nb_sim_profiles_synthetic(200, 7, 42, &a), NB_OK);
  assert_int_equal(nb_sim_profiles_synthetic(200, 7, 42, &b), NB_OK);
  assert_int_equal(nb_sim_profiles_synthetic(200, 7, 43, &c), NB_OK);
  assert_int_equal(nb_sim_profiles_samples(a), 7 * 144);
  assert_true(fabs(nb_sim_profiles_period(a) - 7 * 86400) < 1e-9);
  bool differ = false;
  double night = 0, evening = 0, total = 0;
  for (uint32_t h = 0; h < 200; h++) {
    for (double t = 0; t < 7 * 86400; t += 3571) {
      double w = nb_sim_profiles_power(a, h, t);
      assert_true(w > 0 && w < 20000);
      assert_true(w == nb_sim_profiles_power(b, h, t)); /* deterministic under the seed */
      differ = differ || w != nb_sim_profiles_power(c, h, t);
    }
    double mean = nb_sim_profiles_mean(a, h);
    assert_true(mean > 80 && mean < 4000);
    total += mean;
    for (int d = 0; d < 5; d++) { /* weekdays */
      night += nb_sim_profiles_power(a, h, d * 86400 + 3 * 3600);
      evening += nb_sim_profiles_power(a, h, d * 86400 + 19.5 * 3600);
    }
  }
  assert_true(differ);
  assert_true(evening > 2 * night); /* households use most in the evening */
  assert_true(total / 200 > 300 && total / 200 < 2000);
  nb_sim_profiles_free(a);
  nb_sim_profiles_free(b);
  nb_sim_profiles_free(c);
  assert_int_equal(nb_sim_profiles_synthetic(0, 7, 1, &a), NB_ERR_INVAL);
  assert_int_equal(nb_sim_profiles_synthetic(1, 0, 1, &a), NB_ERR_INVAL);
}

static void test_pskfile(void **state) {
  (void)state;
  const char *text =
      "# endpoint,identity,hexkey\n"
      "sim-000002,id-2,000102030405060708090a0b0c0d0e0f\n"
      "\n"
      "sim-000001,sim-000001,ff\n";
  nb_sim_pskfile *p;
  char err[256] = "";
  assert_int_equal(nb_sim_pskfile_parse(text, strlen(text), "k.psk", &p, err, sizeof err), NB_OK);
  assert_int_equal(nb_sim_pskfile_count(p), 2);
  char id[64];
  uint8_t key[64];
  size_t kl;
  assert_int_equal(nb_sim_pskfile_lookup(p, 0, "sim-000002", id, sizeof id, key, sizeof key, &kl),
                   NB_OK);
  assert_string_equal(id, "id-2");
  assert_int_equal(kl, 16);
  assert_int_equal(key[15], 0x0f);
  assert_int_equal(nb_sim_pskfile_lookup(p, 0, "sim-000003", id, sizeof id, key, sizeof key, &kl),
                   NB_ERR_NOT_FOUND);
  nb_sim_pskfile_free(p);
  static const struct {
    const char *text, *want;
  } bad[] = {
      {"a,b\n", "k.psk:1: expected"},       {"\na,b,zz\n", "k.psk:2: expected"},
      {"a,b,00,11\n", "k.psk:1: expected"}, {"a,b,0\n", "k.psk:1: expected"},
      {",b,00\n", "k.psk:1: expected"},     {"a,b,00\na,c,11\n", "endpoint a is listed twice"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    p = NULL;
    nb_err e = nb_sim_pskfile_parse(bad[i].text, strlen(bad[i].text), "k.psk", &p, err, sizeof err);
    if (e == NB_OK || p || !strstr(err, bad[i].want))
      fail_msg("case %zu: '%s', wanted '%s'", i, err, bad[i].want);
    /* the key is never quoted */
    assert_null(strstr(err, "00"));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_interpolation_and_energy),
      cmocka_unit_test(test_datetime_quotes_comments),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_synthetic),
      cmocka_unit_test(test_pskfile),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
