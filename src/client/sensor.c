/* Sensor sources for the client's IPSO objects: random walk, CSV column replay and the
 * MCP3004/3008 ADC over an injectable SPI transfer (spidev by default). */
#include "niobium/sensor.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/spi/spidev.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define NB_CSV_MAX_FIELDS 64
#define NB_CSV_MAX_ROWS 1000000
#define NB_CSV_MAX_SPAN_S 1e9 /* a replay of about 31 years at most: its ms fit an int64 */

enum { NB_SENSOR_WALK, NB_SENSOR_CSV, NB_SENSOR_ADC };

struct nb_sensor {
  int kind;
  /* random walk */
  double cur, lo, hi, step;
  nb_random_fn rnd;
  void *rnd_user;
  /* CSV: values and their offsets (ms) from the first row; period = loop length */
  double *vals;
  nb_time_ms *at;
  size_t rows;
  nb_time_ms period;
  /* ADC */
  nb_spi_transfer_fn xfer;
  void *xfer_user;
  unsigned channel;
  double vref;
};

static nb_err nb_sensor_alloc(int kind, nb_sensor **out) {
  nb_sensor *s = calloc(1, sizeof *s);
  if (!s) return NB_ERR_NOMEM;
  s->kind = kind;
  *out = s;
  return NB_OK;
}

void nb_sensor_free(nb_sensor *s) {
  if (!s) return;
  free(s->vals);
  free(s->at);
  free(s);
}

/* ---- random walk ---- */

nb_err nb_sensor_random_new(double start, double lo, double hi, double step, nb_random_fn rnd,
                            void *rnd_user, nb_sensor **out) {
  if (!(lo <= hi) || !(step >= 0) || !isfinite(start)) return NB_ERR_INVAL;
  nb_err e = nb_sensor_alloc(NB_SENSOR_WALK, out);
  if (e != NB_OK) return e;
  (*out)->cur = fmin(hi, fmax(lo, start));
  (*out)->lo = lo;
  (*out)->hi = hi;
  (*out)->step = step;
  (*out)->rnd = rnd ? rnd : nb_random_system;
  (*out)->rnd_user = rnd_user;
  return NB_OK;
}

static nb_err nb_sensor_walk(nb_sensor *s, double *out) {
  uint32_t r;
  nb_err e = s->rnd(s->rnd_user, &r, sizeof r);
  if (e != NB_OK) return e;
  double v = s->cur + s->step * ((double)r / 4294967295.0 * 2.0 - 1.0);
  s->cur = fmin(s->hi, fmax(s->lo, round(v * 100.0) / 100.0));
  *out = s->cur;
  return NB_OK;
}

/* ---- CSV ---- */

typedef struct {
  const char *p, *end;
  size_t line;
  char *err;
  size_t errcap;
} nb_csv;

static nb_err nb_csv_fail(nb_csv *c, nb_err e, const char *fmt, ...) {
  if (c->err && c->errcap) {
    int n = snprintf(c->err, c->errcap, "line %zu: ", c->line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < c->errcap) vsnprintf(c->err + n, c->errcap - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return e;
}

/* Next non-blank, non-comment line split at commas (fields trimmed, in buf); false at end. */
static bool nb_csv_line(nb_csv *c, char *buf, size_t cap, char **fields, size_t *nf,
                        bool *too_long) {
  *too_long = false;
  while (c->p < c->end) {
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    const char *le = nl ? nl : c->end;
    const char *ls = c->p;
    c->p = nl ? nl + 1 : c->end;
    c->line++;
    if (le > ls && le[-1] == '\r') le--;
    while (ls < le && isspace((unsigned char)*ls)) ls++;
    if (ls == le || *ls == '#') continue;
    if ((size_t)(le - ls) >= cap) {
      *too_long = true;
      return true;
    }
    memcpy(buf, ls, (size_t)(le - ls));
    buf[le - ls] = 0;
    *nf = 0;
    for (char *f = buf;;) {
      char *comma = strchr(f, ',');
      if (comma) *comma = 0;
      while (isspace((unsigned char)*f)) f++;
      char *fe = f + strlen(f);
      while (fe > f && isspace((unsigned char)fe[-1])) *--fe = 0;
      if (*nf == NB_CSV_MAX_FIELDS) {
        *too_long = true;
        return true;
      }
      fields[(*nf)++] = f;
      if (!comma) break;
      f = comma + 1;
    }
    return true;
  }
  return false;
}

static bool nb_csv_number(const char *s, double *out) {
  if (!*s) return false;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (*end || errno == ERANGE || !isfinite(v)) return false;
  *out = v;
  return true;
}

static bool nb_csv_is_time(const char *name) {
  static const char *names[] = {"time", "timestamp", "t", "seconds"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcasecmp(name, names[i]) == 0) return true;
  return false;
}

/* Picks the value and time columns from the first line (header or data). */
static nb_err nb_csv_columns(nb_csv *c, char **f, size_t nf, const char *column, bool *header,
                             size_t *vcol, long *tcol) {
  double d;
  *header = false;
  for (size_t i = 0; i < nf; i++)
    if (!nb_csv_number(f[i], &d)) *header = true;
  *tcol = -1;
  if (*header)
    for (size_t i = 0; i < nf; i++)
      if (nb_csv_is_time(f[i])) *tcol = (long)i;
  char *end;
  unsigned long n = strtoul(column, &end, 10);
  if (*column && !*end && isdigit((unsigned char)column[0])) {
    if (n == 0 || n > nf)
      return nb_csv_fail(c, NB_ERR_NOT_FOUND, "column %s: the rows have %zu columns", column, nf);
    *vcol = n - 1;
    return NB_OK;
  }
  if (*header)
    for (size_t i = 0; i < nf; i++)
      if (strcmp(f[i], column) == 0) {
        *vcol = i;
        return NB_OK;
      }
  return nb_csv_fail(c, NB_ERR_NOT_FOUND, "no column named '%s'%s", column,
                     *header ? " in the header" : " (there is no header: give a number)");
}

static nb_err nb_csv_push(nb_sensor *s, size_t *cap, double v, nb_time_ms at) {
  if (s->rows == *cap) {
    size_t nc = *cap ? *cap * 2 : 64;
    double *nv = realloc(s->vals, nc * sizeof *nv);
    if (!nv) return NB_ERR_NOMEM;
    s->vals = nv;
    nb_time_ms *na = realloc(s->at, nc * sizeof *na);
    if (!na) return NB_ERR_NOMEM;
    s->at = na;
    *cap = nc;
  }
  s->vals[s->rows] = v;
  s->at[s->rows++] = at;
  return NB_OK;
}

static nb_err nb_csv_parse(nb_csv *c, nb_sensor *s, const char *column, nb_time_ms interval) {
  char buf[1024];
  char *f[NB_CSV_MAX_FIELDS];
  size_t nf = 0, width = 0, vcol = 0, cap = 0;
  long tcol = -1;
  bool header, too_long, first = true;
  double t0 = 0, tprev = 0;
  while (nb_csv_line(c, buf, sizeof buf, f, &nf, &too_long)) {
    if (too_long) return nb_csv_fail(c, NB_ERR_SYNTAX, "line too long or too many fields");
    if (first) {
      first = false;
      width = nf;
      nb_err e = nb_csv_columns(c, f, nf, column, &header, &vcol, &tcol);
      if (e != NB_OK) return e;
      if (header) continue;
    }
    if (nf != width)
      return nb_csv_fail(c, NB_ERR_SYNTAX, "%zu fields where the first line has %zu", nf, width);
    double v, t = 0;
    if (!nb_csv_number(f[vcol], &v))
      return nb_csv_fail(c, NB_ERR_SYNTAX, "'%s' in column %zu is not a number", f[vcol], vcol + 1);
    if (tcol >= 0) {
      if (!nb_csv_number(f[tcol], &t))
        return nb_csv_fail(c, NB_ERR_SYNTAX, "time '%s' is not a number of seconds", f[tcol]);
      if (s->rows == 0) t0 = tprev = t;
      if (t < tprev) return nb_csv_fail(c, NB_ERR_SYNTAX, "time %s goes backwards", f[tcol]);
      if (!(t - t0 <= NB_CSV_MAX_SPAN_S))
        return nb_csv_fail(c, NB_ERR_SYNTAX, "time %s is more than %.0f s after the first row",
                           f[tcol], NB_CSV_MAX_SPAN_S);
      tprev = t;
    }
    if (s->rows == NB_CSV_MAX_ROWS) return nb_csv_fail(c, NB_ERR_SYNTAX, "too many rows");
    nb_time_ms at =
        tcol >= 0 ? (nb_time_ms)llround((t - t0) * 1000.0) : (nb_time_ms)s->rows * interval;
    nb_err e = nb_csv_push(s, &cap, v, at);
    if (e != NB_OK) return e;
  }
  if (s->rows == 0) return nb_csv_fail(c, NB_ERR_SYNTAX, "no data rows");
  s->period = s->at[s->rows - 1] + interval;
  return NB_OK;
}

nb_err nb_sensor_csv_new(const char *text, size_t len, const char *column, nb_time_ms interval,
                         nb_sensor **out, char *err, size_t errcap) {
  if (err && errcap) err[0] = 0;
  if (!text || !column || !column[0] || interval <= 0) return NB_ERR_INVAL;
  nb_sensor *s;
  nb_err e = nb_sensor_alloc(NB_SENSOR_CSV, &s);
  if (e != NB_OK) return e;
  nb_csv c = {text, text + len, 0, err, errcap};
  e = nb_csv_parse(&c, s, column, interval);
  if (e != NB_OK) {
    nb_sensor_free(s);
    return e;
  }
  *out = s;
  return NB_OK;
}

nb_err nb_sensor_csv_open(const char *path, const char *column, nb_time_ms interval,
                          nb_sensor **out, char *err, size_t errcap) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (err && errcap) snprintf(err, errcap, "cannot read %s: %s", path, strerror(errno));
    return NB_ERR_IO;
  }
  char *text = NULL;
  size_t len = 0, cap = 0, n;
  char chunk[4096];
  nb_err e = NB_OK;
  while (e == NB_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (len + n > cap) {
      size_t nc = (cap ? cap * 2 : 8192) + n;
      char *nt = realloc(text, nc);
      if (!nt)
        e = NB_ERR_NOMEM;
      else {
        text = nt;
        cap = nc;
      }
    }
    if (e == NB_OK) {
      memcpy(text + len, chunk, n);
      len += n;
    }
  }
  if (e == NB_OK && ferror(f)) e = NB_ERR_IO;
  fclose(f);
  if (e == NB_OK) e = nb_sensor_csv_new(text ? text : "", len, column, interval, out, err, errcap);
  free(text);
  return e;
}

size_t nb_sensor_csv_rows(const nb_sensor *s) { return s->kind == NB_SENSOR_CSV ? s->rows : 0; }

static double nb_sensor_csv_at(const nb_sensor *s, nb_time_ms elapsed) {
  nb_time_ms t = elapsed > 0 ? elapsed % s->period : 0;
  size_t lo = 0, hi = s->rows; /* last row with at <= t */
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (s->at[mid] <= t)
      lo = mid;
    else
      hi = mid;
  }
  return s->vals[lo];
}

/* ---- MCP3004/3008 ---- */

void nb_mcp300x_command(unsigned channel, uint8_t tx[3]) {
  tx[0] = 0x01;                                    /* start bit */
  tx[1] = (uint8_t)(0x80 | ((channel & 7u) << 4)); /* single-ended, D2..D0 */
  tx[2] = 0x00;
}

nb_err nb_mcp300x_code(const uint8_t rx[3], uint16_t *code) {
  if (rx[1] & 0x04) return NB_ERR_SYNTAX; /* the null bit before B9 is driven low */
  *code = (uint16_t)(((rx[1] & 0x03u) << 8) | rx[2]);
  return NB_OK;
}

double nb_mcp300x_volts(uint16_t code, double vref) { return (double)code * vref / 1024.0; }

nb_err nb_sensor_mcp300x_new(nb_spi_transfer_fn xfer, void *user, unsigned channel, double vref,
                             nb_sensor **out) {
  if (!xfer || channel > 7 || vref < 0) return NB_ERR_INVAL;
  nb_err e = nb_sensor_alloc(NB_SENSOR_ADC, out);
  if (e != NB_OK) return e;
  (*out)->xfer = xfer;
  (*out)->xfer_user = user;
  (*out)->channel = channel;
  (*out)->vref = vref > 0 ? vref : 3.3;
  return NB_OK;
}

static nb_err nb_sensor_adc(nb_sensor *s, double *out) {
  uint8_t tx[3], rx[3] = {0xff, 0xff, 0xff};
  nb_mcp300x_command(s->channel, tx);
  nb_err e = s->xfer(s->xfer_user, tx, rx, sizeof tx);
  uint16_t code = 0;
  if (e == NB_OK) e = nb_mcp300x_code(rx, &code);
  if (e == NB_OK) *out = round(nb_mcp300x_volts(code, s->vref) * 1000.0) / 1000.0;
  return e;
}

nb_err nb_spidev_open(nb_spidev *d, const char *path) {
  d->speed_hz = 1000000; /* below the MCP3008's 1.35 MHz at 2.7 V */
  d->fd = open(path, O_RDWR | O_CLOEXEC);
  if (d->fd < 0) return errno == ENOENT ? NB_ERR_NOT_FOUND : NB_ERR_IO;
  uint8_t mode = SPI_MODE_0, bits = 8;
  if (ioctl(d->fd, SPI_IOC_WR_MODE, &mode) < 0 ||
      ioctl(d->fd, SPI_IOC_WR_BITS_PER_WORD, &bits) < 0 ||
      ioctl(d->fd, SPI_IOC_WR_MAX_SPEED_HZ, &d->speed_hz) < 0) {
    close(d->fd);
    d->fd = -1;
    return NB_ERR_IO;
  }
  return NB_OK;
}

void nb_spidev_close(nb_spidev *d) {
  if (d->fd >= 0) close(d->fd);
  d->fd = -1;
}

nb_err nb_spidev_transfer(void *user, const uint8_t *tx, uint8_t *rx, size_t len) {
  nb_spidev *d = user;
  struct spi_ioc_transfer tr;
  memset(&tr, 0, sizeof tr);
  tr.tx_buf = (uint64_t)(uintptr_t)tx;
  tr.rx_buf = (uint64_t)(uintptr_t)rx;
  tr.len = (uint32_t)len;
  tr.speed_hz = d->speed_hz;
  tr.bits_per_word = 8;
  return ioctl(d->fd, SPI_IOC_MESSAGE(1), &tr) < 0 ? NB_ERR_IO : NB_OK;
}

/* ---- reading ---- */

nb_err nb_sensor_read(nb_sensor *s, nb_time_ms elapsed, double *out) {
  switch (s->kind) {
    case NB_SENSOR_WALK:
      return nb_sensor_walk(s, out);
    case NB_SENSOR_CSV:
      *out = nb_sensor_csv_at(s, elapsed);
      return NB_OK;
    default:
      return nb_sensor_adc(s, out);
  }
}
