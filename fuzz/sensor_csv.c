/* libFuzzer: the CSV files `niobium client --sensors csv:FILE:COLUMN` replays into its IPSO
 * sensors (src/client/sensor.c): optional header, '#' comments, a time column or a fixed
 * interval, looping. The first byte picks the column (by name or number) and the interval, the
 * rest is the file. Oracles: a refusal says which line and what is wrong; what is accepted has
 * rows, and every reading, at any time since the start, is one of the file's values. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "niobium/sensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  static const char *const columns[] = {"1", "2", "3", "temp", "value", "t", "0", "99"};
  static const nb_time_ms intervals[] = {1000, 1, 250, 86400000};
  const char *column = columns[data[0] & 7];
  nb_time_ms interval = intervals[(data[0] >> 3) & 3];
  nb_sensor *s = NULL;
  char err[200] = "";
  nb_err e =
      nb_sensor_csv_new((const char *)data + 1, size - 1, column, interval, &s, err, sizeof err);
  if (e != NB_OK) {
    if (s || !err[0] || (e != NB_ERR_SYNTAX && e != NB_ERR_NOT_FOUND && e != NB_ERR_NOMEM)) abort();
    return 0;
  }
  if (!s || nb_sensor_csv_rows(s) == 0) abort();
  static const nb_time_ms at[] = {0, 1, 999, 1000, 60000, 86400000, INT64_MAX / 2, INT64_MAX, -5};
  for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
    double v = NAN;
    if (nb_sensor_read(s, at[k], &v) != NB_OK || !isfinite(v)) abort();
  }
  nb_sensor_free(s);
  return 0;
}
