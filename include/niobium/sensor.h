/* Sensor sources that feed the client's IPSO objects: a bounded random walk, a replayed CSV
 * column (time column or fixed interval), and an MCP3004/3008 10-bit ADC on a Linux spidev
 * device. The ADC's SPI transfer is a function the caller may replace, so tests fake the chip;
 * nb_spidev_* is the only code here that touches a device. */
#ifndef NIOBIUM_SENSOR_H
#define NIOBIUM_SENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rand.h"
#include "base/time.h"

typedef struct nb_sensor nb_sensor;

/* A reading at `elapsed` ms since the source was made (CSV replays by it, the others ignore
 * it). The random walk steps once per call. */
nb_err nb_sensor_read(nb_sensor *s, nb_time_ms elapsed, double *out);
void nb_sensor_free(nb_sensor *s);

/* Random walk from start, steps uniform in [-step, +step], clamped to [lo, hi], rounded to
 * 0.01; rnd NULL = nb_random_system. */
nb_err nb_sensor_random_new(double start, double lo, double hi, double step, nb_random_fn rnd,
                            void *rnd_user, nb_sensor **out);

/* CSV replay of one column of text (comma-separated, optional header line, '#' comments and
 * blank lines skipped). column: a header name, or a 1-based column number. When the header
 * names a time column ("time", "timestamp", "t" or "seconds"; seconds, not decreasing, at most
 * 10^9 after the first row) rows are replayed at their times relative to the first row, else one
 * row every interval ms.
 * The replay loops. On malformed input returns NB_ERR_SYNTAX (or NB_ERR_NOT_FOUND for an
 * unknown column) with a message saying which line and what is wrong in err. */
nb_err nb_sensor_csv_new(const char *text, size_t len, const char *column, nb_time_ms interval,
                         nb_sensor **out, char *err, size_t errcap);
/* The same from a file (err also says when it cannot be read). */
nb_err nb_sensor_csv_open(const char *path, const char *column, nb_time_ms interval,
                          nb_sensor **out, char *err, size_t errcap);
/* Rows in a CSV source (0 for other sources). */
size_t nb_sensor_csv_rows(const nb_sensor *s);

/* ---- MCP3004/3008 on SPI ---- */
/* Full-duplex transfer of len bytes (tx out, rx in), like one spidev SPI_IOC_MESSAGE. */
typedef nb_err (*nb_spi_transfer_fn)(void *user, const uint8_t *tx, uint8_t *rx, size_t len);
/* The 3-byte command of a single-ended conversion on channel 0..7: start bit, SGL/DIFF=1 and
 * the channel in the top nibble of the second byte. */
void nb_mcp300x_command(unsigned channel, uint8_t tx[3]);
/* The 10-bit code of a response (NB_ERR_SYNTAX when the null bit is not 0). */
nb_err nb_mcp300x_code(const uint8_t rx[3], uint16_t *code);
/* Volts from a 10-bit code for reference vref (code * vref / 1024). */
double nb_mcp300x_volts(uint16_t code, double vref);
/* A source reading volts on channel (0..7) through xfer; vref 0 = 3.3 V. */
nb_err nb_sensor_mcp300x_new(nb_spi_transfer_fn xfer, void *user, unsigned channel, double vref,
                             nb_sensor **out);

/* A Linux spidev device opened for the MCP300x (mode 0, 8 bits, 1 MHz). */
typedef struct {
  int fd;
  uint32_t speed_hz;
} nb_spidev;
nb_err nb_spidev_open(nb_spidev *d, const char *path);
void nb_spidev_close(nb_spidev *d);
/* nb_spi_transfer_fn over SPI_IOC_MESSAGE(1); user is the nb_spidev. */
nb_err nb_spidev_transfer(void *user, const uint8_t *tx, uint8_t *rx, size_t len);

#endif
