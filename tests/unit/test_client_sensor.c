/* Sensor sources: the random walk's bounds, CSV replay (header names, column numbers, time
 * column, fixed interval, looping, every malformed-input message), and the MCP3004/3008
 * framing and voltage conversion against a fake SPI device. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "niobium/sensor.h"

static nb_err fixed_rng(void *user, void *buf, size_t len) {
  uint32_t *x = user; /* alternating all-ones / zero: steps of +step then -step */
  memset(buf, (*x)++ % 2 ? 0x00 : 0xff, len);
  return NB_OK;
}

static void test_random_walk(void **state) {
  (void)state;
  uint32_t k = 0;
  nb_sensor *s;
  assert_int_equal(nb_sensor_random_new(10.0, 0.0, 10.5, 1.0, fixed_rng, &k, &s), NB_OK);
  double v;
  assert_int_equal(nb_sensor_read(s, 0, &v), NB_OK);
  assert_true(v == 10.5); /* +1 clamped at hi */
  assert_int_equal(nb_sensor_read(s, 0, &v), NB_OK);
  assert_true(v == 9.5);
  nb_sensor_free(s);
  assert_int_equal(nb_sensor_random_new(1, 5, 0, 1, NULL, NULL, &s), NB_ERR_INVAL);
}

static void test_csv_header_interval(void **state) {
  (void)state;
  const char *csv = "# recorded\nname,temp\r\na, 21.5\n\nb,22\nc,-3e-1\n";
  nb_sensor *s;
  char err[128];
  assert_int_equal(nb_sensor_csv_new(csv, strlen(csv), "temp", 10000, &s, err, sizeof err), NB_OK);
  assert_int_equal(nb_sensor_csv_rows(s), 3);
  double v;
  nb_sensor_read(s, 0, &v);
  assert_true(v == 21.5);
  nb_sensor_read(s, 9999, &v);
  assert_true(v == 21.5);
  nb_sensor_read(s, 10000, &v);
  assert_true(v == 22.0);
  nb_sensor_read(s, 25000, &v);
  assert_true(v == -0.3);
  nb_sensor_read(s, 30000, &v); /* loops */
  assert_true(v == 21.5);
  nb_sensor_free(s);
  /* a column number works with or without a header */
  const char *bare = "1,5\n2,6\n";
  assert_int_equal(nb_sensor_csv_new(bare, strlen(bare), "2", 1000, &s, err, sizeof err), NB_OK);
  nb_sensor_read(s, 1000, &v);
  assert_true(v == 6.0);
  nb_sensor_free(s);
}

static void test_csv_time_column(void **state) {
  (void)state;
  const char *csv = "timestamp,volts\n1000,1.0\n1000.5,2.0\n1003,3.0\n";
  nb_sensor *s;
  char err[128];
  assert_int_equal(nb_sensor_csv_new(csv, strlen(csv), "volts", 1000, &s, err, sizeof err), NB_OK);
  double v;
  nb_sensor_read(s, 499, &v);
  assert_true(v == 1.0);
  nb_sensor_read(s, 500, &v);
  assert_true(v == 2.0);
  nb_sensor_read(s, 2999, &v);
  assert_true(v == 2.0);
  nb_sensor_read(s, 3000, &v);
  assert_true(v == 3.0);
  nb_sensor_read(s, 4000, &v); /* period = last time + interval */
  assert_true(v == 1.0);
  nb_sensor_free(s);
}

static void expect_csv_error(const char *csv, const char *column, nb_err code, const char *msg) {
  nb_sensor *s = NULL;
  char err[160];
  assert_int_equal(nb_sensor_csv_new(csv, strlen(csv), column, 1000, &s, err, sizeof err), code);
  assert_null(s);
  if (!strstr(err, msg)) fail_msg("error '%s' lacks '%s'", err, msg);
}

static void test_csv_malformed(void **state) {
  (void)state;
  expect_csv_error("", "1", NB_ERR_SYNTAX, "no data rows");
  expect_csv_error("a,b\n", "a", NB_ERR_SYNTAX, "no data rows");
  expect_csv_error("a,b\n1,2\n", "c", NB_ERR_NOT_FOUND, "no column named 'c'");
  expect_csv_error("1,2\n", "x", NB_ERR_NOT_FOUND, "give a number");
  expect_csv_error("1,2\n", "3", NB_ERR_NOT_FOUND, "have 2 columns");
  expect_csv_error("a,b\n1,2\n3\n", "b", NB_ERR_SYNTAX,
                   "line 3: 1 fields where the first line has 2");
  expect_csv_error("a,b\n1,2\n3,x\n", "b", NB_ERR_SYNTAX,
                   "line 3: 'x' in column 2 is not a number");
  expect_csv_error("t,b\n5,2\n4,3\n", "b", NB_ERR_SYNTAX, "line 3: time 4 goes backwards");
  expect_csv_error("t,b\nz,2\n", "b", NB_ERR_SYNTAX, "time 'z' is not a number");
  expect_csv_error("a,b\n1,nan\n", "b", NB_ERR_SYNTAX, "not a number");
  /* Times whose milliseconds overflowed int64 (the loop length then overflowed too; found by
   * fuzz/sensor_csv.c): the replay spans at most 10^9 s. */
  expect_csv_error("time,v\n0,1\n9223372036854774,2\n", "v", NB_ERR_SYNTAX,
                   "line 3: time 9223372036854774 is more than 1000000000 s after the first row");
  expect_csv_error("time,v\n-1e300,1\n1e300,2\n", "v", NB_ERR_SYNTAX, "more than");
  expect_csv_error("time,v\n0,1\n1000000000.5,2\n", "v", NB_ERR_SYNTAX, "more than");
  nb_sensor *s = NULL;
  char err[160];
  const char *span = "time,v\n5,1\n1000000005,2\n";
  assert_int_equal(nb_sensor_csv_new(span, strlen(span), "v", 1000, &s, err, sizeof err), NB_OK);
  double v = 0;
  assert_int_equal(nb_sensor_read(s, INT64_C(1000000000000), &v), NB_OK);
  assert_true(v == 2.0);
  nb_sensor_free(s);
  char big[2048];
  memset(big, '1', sizeof big - 1);
  big[sizeof big - 1] = 0;
  expect_csv_error(big, "1", NB_ERR_SYNTAX, "line 1: line too long");
}

static void test_csv_file(void **state) {
  (void)state;
  char path[] = "/tmp/nb_sensor_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *csv = "temp\n19.5\n";
  assert_int_equal(write(fd, csv, strlen(csv)), (ssize_t)strlen(csv));
  close(fd);
  nb_sensor *s;
  char err[160];
  assert_int_equal(nb_sensor_csv_open(path, "temp", 1000, &s, err, sizeof err), NB_OK);
  double v;
  nb_sensor_read(s, 0, &v);
  assert_true(v == 19.5);
  nb_sensor_free(s);
  unlink(path);
  assert_int_equal(nb_sensor_csv_open(path, "temp", 1000, &s, err, sizeof err), NB_ERR_IO);
  assert_non_null(strstr(err, "cannot read /tmp/nb_sensor_"));
}

/* A fake MCP3008: checks the command bytes and answers the code of the addressed channel. */
typedef struct {
  uint16_t code[8];
  uint8_t last_tx[3];
  int calls;
  bool bad_null_bit;
} fake_adc;

static nb_err fake_xfer(void *user, const uint8_t *tx, uint8_t *rx, size_t len) {
  fake_adc *f = user;
  f->calls++;
  if (len != 3 || tx[0] != 0x01 || !(tx[1] & 0x80)) return NB_ERR_IO;
  memcpy(f->last_tx, tx, 3);
  uint16_t code = f->code[(tx[1] >> 4) & 7];
  rx[0] = 0xff; /* undefined while the command shifts in */
  rx[1] = (uint8_t)((f->bad_null_bit ? 0x04 : 0x00) | (code >> 8));
  rx[2] = (uint8_t)code;
  return NB_OK;
}

static void test_mcp300x_framing(void **state) {
  (void)state;
  uint8_t tx[3];
  nb_mcp300x_command(0, tx);
  assert_int_equal(tx[0], 0x01);
  assert_int_equal(tx[1], 0x80);
  assert_int_equal(tx[2], 0x00);
  nb_mcp300x_command(5, tx);
  assert_int_equal(tx[1], 0xD0);
  nb_mcp300x_command(7, tx);
  assert_int_equal(tx[1], 0xF0);
  uint16_t code;
  const uint8_t r1[3] = {0xff, 0x03, 0xff}, r2[3] = {0x00, 0x02, 0x01}, r3[3] = {0, 0x04, 0};
  assert_int_equal(nb_mcp300x_code(r1, &code), NB_OK);
  assert_int_equal(code, 1023);
  assert_int_equal(nb_mcp300x_code(r2, &code), NB_OK);
  assert_int_equal(code, 513);
  assert_int_equal(nb_mcp300x_code(r3, &code), NB_ERR_SYNTAX);
  assert_true(nb_mcp300x_volts(0, 3.3) == 0.0);
  assert_true(nb_mcp300x_volts(512, 3.3) == 1.65);
  assert_true(nb_mcp300x_volts(1023, 3.3) == 1023 * 3.3 / 1024);
}

static void test_mcp300x_source(void **state) {
  (void)state;
  fake_adc f = {.code = {0, 100, 200, 310, 0, 0, 0, 1023}};
  nb_sensor *s;
  assert_int_equal(nb_sensor_mcp300x_new(fake_xfer, &f, 3, 0, &s), NB_OK);
  double v;
  assert_int_equal(nb_sensor_read(s, 0, &v), NB_OK);
  assert_int_equal(f.last_tx[1], 0xB0);
  assert_true(v == 0.999); /* 310 * 3.3 / 1024 = 0.99902 V, to the millivolt */
  f.bad_null_bit = true;
  assert_int_equal(nb_sensor_read(s, 0, &v), NB_ERR_SYNTAX);
  nb_sensor_free(s);
  assert_int_equal(nb_sensor_mcp300x_new(fake_xfer, &f, 7, 5.0, &s), NB_OK);
  f.bad_null_bit = false;
  assert_int_equal(nb_sensor_read(s, 0, &v), NB_OK);
  assert_true(v == 4.995); /* 1023 * 5 / 1024 = 4.99512 */
  nb_sensor_free(s);
  assert_int_equal(nb_sensor_mcp300x_new(fake_xfer, &f, 8, 0, &s), NB_ERR_INVAL);
  nb_spidev d;
  assert_int_equal(nb_spidev_open(&d, "/nonexistent/spidev9.9"), NB_ERR_NOT_FOUND);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_walk),     cmocka_unit_test(test_csv_header_interval),
      cmocka_unit_test(test_csv_time_column), cmocka_unit_test(test_csv_malformed),
      cmocka_unit_test(test_csv_file),        cmocka_unit_test(test_mcp300x_framing),
      cmocka_unit_test(test_mcp300x_source),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
