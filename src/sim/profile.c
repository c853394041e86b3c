/* Household load profiles: CSV loader, synthetic generator, interpolation and energy. */
#include "sim/profile.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/textfile.h"

#define NB_SIM_FIELD_MAX 64      /* longest time or value field */
#define NB_SIM_PROFILE_MAX_W 1e7 /* 10 MW: anything above is a unit mistake */

struct nb_sim_profiles {
  uint32_t h, s; /* households, samples */
  double *t;     /* s sample times, seconds from the first (t[0] = 0) */
  float *w;      /* s x h watts, row-major (sample i, household k at i * h + k) */
  double *e;     /* (s + 1) x h Wh used from t[0] to t[i]; row s: one whole loop */
  double period; /* t[s - 1] plus one more interval */
};

uint32_t nb_sim_profiles_households(const nb_sim_profiles *p) { return p->h; }
uint32_t nb_sim_profiles_samples(const nb_sim_profiles *p) { return p->s; }
double nb_sim_profiles_period(const nb_sim_profiles *p) { return p->period; }

void nb_sim_profiles_free(nb_sim_profiles *p) {
  if (!p) return;
  free(p->t);
  free(p->w);
  free(p->e);
  free(p);
}

/* The loop's last interval runs from the last sample back to the first. */
static double nb_sim_last_step(const nb_sim_profiles *p) {
  return p->s > 1 ? p->t[p->s - 1] - p->t[p->s - 2] : 600.0;
}

/* Cumulative energies (trapezoids between samples, the last one closing the loop). */
static nb_err nb_sim_profiles_finish(nb_sim_profiles *p) {
  if (!p->t || !p->w || p->s < 2 || p->h == 0) return NB_ERR_INVAL;
  p->period = p->t[p->s - 1] + nb_sim_last_step(p);
  p->e = calloc(((size_t)p->s + 1) * p->h, sizeof *p->e);
  if (!p->e) return NB_ERR_NOMEM;
  for (uint32_t i = 1; i <= p->s; i++) {
    double dt = (i < p->s ? p->t[i] : p->period) - p->t[i - 1];
    const float *a = &p->w[(size_t)(i - 1) * p->h], *b = &p->w[(size_t)(i % p->s) * p->h];
    for (uint32_t k = 0; k < p->h; k++)
      p->e[(size_t)i * p->h + k] =
          p->e[(size_t)(i - 1) * p->h + k] + ((double)a[k] + (double)b[k]) / 2.0 * dt / 3600.0;
  }
  return NB_OK;
}

/* Sample index i with t[i] <= r < t[i + 1] (binary search; r in [0, period)). */
static uint32_t nb_sim_profiles_find(const nb_sim_profiles *p, double r) {
  uint32_t lo = 0, hi = p->s; /* t[lo] <= r < t[hi] (t[s] = period) */
  while (hi - lo > 1) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (p->t[mid] <= r)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

/* Where t falls for household h: loops completed, the sample before it, the interval's
 * length, and the power at that sample (a), at t (at), and at the next sample. */
typedef struct {
  double loops, dt, frac, a, at;
  uint32_t i;
} nb_sim_at;

static nb_sim_at nb_sim_profiles_at(const nb_sim_profiles *p, uint32_t h, double t) {
  nb_sim_at x;
  if (t < 0) t = 0;
  x.loops = floor(t / p->period);
  double r = t - x.loops * p->period;
  if (r >= p->period) r = 0; /* rounding */
  x.i = nb_sim_profiles_find(p, r);
  double next = x.i + 1 < p->s ? p->t[x.i + 1] : p->period;
  x.dt = next - p->t[x.i];
  x.frac = x.dt > 0 ? (r - p->t[x.i]) / x.dt : 0;
  x.a = p->w[(size_t)x.i * p->h + h];
  double b = p->w[(size_t)((x.i + 1) % p->s) * p->h + h];
  x.at = x.a + (b - x.a) * x.frac;
  return x;
}

double nb_sim_profiles_power(const nb_sim_profiles *p, uint32_t h, double t) {
  return nb_sim_profiles_at(p, h % p->h, t).at;
}

double nb_sim_profiles_energy(const nb_sim_profiles *p, uint32_t h, double t) {
  h %= p->h;
  nb_sim_at x = nb_sim_profiles_at(p, h, t);
  double part = (x.a + x.at) / 2.0 * x.frac * x.dt / 3600.0; /* trapezoid from the sample */
  return x.loops * p->e[(size_t)p->s * p->h + h] + p->e[(size_t)x.i * p->h + h] + part;
}

double nb_sim_profiles_mean(const nb_sim_profiles *p, uint32_t h) {
  h %= p->h;
  return p->e[(size_t)p->s * p->h + h] * 3600.0 / p->period;
}

/* ---- CSV ---- */

typedef struct {
  const char *name;
  size_t line;
  char *err;
  size_t errcap;
} nb_sim_csv_ctx;

static nb_err nb_sim_csv_fail(const nb_sim_csv_ctx *c, const char *fmt, ...) {
  if (c->err && c->errcap) {
    int n = snprintf(c->err, c->errcap, "%s:%zu: ", c->name, c->line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < c->errcap) vsnprintf(c->err + n, c->errcap - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return NB_ERR_SYNTAX;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's days_from_civil). */
static int64_t nb_sim_days(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

/* "1234.5" seconds, or "YYYY-MM-DD HH:MM[:SS]" (a 'T' between, a 'Z' after). */
static bool nb_sim_parse_time(const char *s, double *out) {
  int y, mo, d, h, mi, n = 0;
  double sec = 0;
  if (sscanf(s, "%4d-%2d-%2d%*1[ T]%2d:%2d%n", &y, &mo, &d, &h, &mi, &n) == 5 && n > 0) {
    const char *rest = s + n;
    if (*rest == ':') {
      char *end;
      sec = strtod(rest + 1, &end);
      if (end == rest + 1 || sec < 0 || sec >= 61) return false;
      rest = end;
    }
    if (*rest == 'Z') rest++;
    if (*rest || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59) return false;
    *out =
        (double)nb_sim_days(y, (unsigned)mo, (unsigned)d) * 86400.0 + h * 3600.0 + mi * 60.0 + sec;
    return true;
  }
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno || !isfinite(v)) return false;
  *out = v;
  return true;
}

/* Copies the next field of [*p, end) into buf (quotes removed, spaces trimmed); advances *p past
 * its comma. false when the field is too long or a quote is not closed. */
static bool nb_sim_csv_field(const char **p, const char *end, char *buf, size_t cap) {
  const char *s = *p;
  size_t n = 0;
  while (s < end && (*s == ' ' || *s == '\t')) s++;
  if (s < end && *s == '"') {
    s++;
    for (;;) {
      if (s >= end) return false;
      if (*s == '"' && (s + 1 >= end || s[1] != '"')) break;
      if (*s == '"') s++; /* "" stands for one quote */
      if (n + 1 >= cap) return false;
      buf[n++] = *s++;
    }
    s++;
    while (s < end && (*s == ' ' || *s == '\t')) s++;
    if (s < end && *s != ',') return false;
  } else {
    while (s < end && *s != ',') {
      if (n + 1 >= cap) return false;
      buf[n++] = *s++;
    }
    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t')) n--;
  }
  buf[n] = 0;
  *p = s < end ? s + 1 : s;
  return true;
}

static size_t nb_sim_csv_count(const char *s, const char *end) {
  size_t n = 1;
  bool quoted = false;
  for (; s < end; s++) {
    if (*s == '"') quoted = !quoted;
    if (*s == ',' && !quoted) n++;
  }
  return n;
}

/* Appends one sample line (time and h values) to p, growing its arrays. */
static nb_err nb_sim_csv_row(nb_sim_profiles *p, const nb_sim_csv_ctx *c, const char *s,
                             const char *end, double *t0, size_t *cap) {
  char f[NB_SIM_FIELD_MAX] = "";
  size_t fields = nb_sim_csv_count(s, end);
  if (fields != (size_t)p->h + 1)
    return nb_sim_csv_fail(c, "%zu fields, the header has %u", fields, p->h + 1);
  if (p->s == NB_SIM_PROFILE_MAX_ROWS)
    return nb_sim_csv_fail(c, "more than %d samples", NB_SIM_PROFILE_MAX_ROWS);
  if (p->h == 0) return NB_ERR_INVAL; /* the header came first */
  if (p->s == *cap) {
    size_t nc = *cap ? *cap * 2 : 64;
    double *t = realloc(p->t, nc * sizeof *t);
    if (t) p->t = t;
    float *w = t ? realloc(p->w, nc * p->h * sizeof *w) : NULL;
    if (!w) return NB_ERR_NOMEM;
    p->w = w;
    *cap = nc;
  }
  double t;
  if (!nb_sim_csv_field(&s, end, f, sizeof f) || !nb_sim_parse_time(f, &t))
    return nb_sim_csv_fail(c, "time '%.32s' is neither seconds nor YYYY-MM-DD HH:MM[:SS]", f);
  if (p->s == 0) *t0 = t;
  t -= *t0;
  if (p->s > 0 && t <= p->t[p->s - 1])
    return nb_sim_csv_fail(c, "time does not increase (the times must be in order)");
  p->t[p->s] = t;
  for (uint32_t k = 0; k < p->h; k++) {
    char *e;
    if (!nb_sim_csv_field(&s, end, f, sizeof f))
      return nb_sim_csv_fail(c, "column %u: field too long or quote not closed", k + 2);
    errno = 0;
    double v = strtod(f, &e);
    if (!f[0]) return nb_sim_csv_fail(c, "column %u: empty value", k + 2);
    if (e == f || *e || errno || !isfinite(v))
      return nb_sim_csv_fail(c, "column %u: '%.32s' is not a number of watts", k + 2, f);
    if (v < 0) return nb_sim_csv_fail(c, "column %u: negative power %g", k + 2, v);
    if (v > NB_SIM_PROFILE_MAX_W)
      return nb_sim_csv_fail(c, "column %u: %g W is more than a household draws", k + 2, v);
    p->w[(size_t)p->s * p->h + k] = (float)v;
  }
  p->s++;
  return NB_OK;
}

nb_err nb_sim_profiles_parse_csv(const char *text, size_t len, const char *name,
                                 nb_sim_profiles **out, char *err, size_t errcap) {
  nb_sim_csv_ctx c = {name ? name : "profiles", 0, err, errcap};
  nb_sim_profiles *p = calloc(1, sizeof *p);
  if (!p) return NB_ERR_NOMEM;
  nb_err e = NB_OK;
  bool header = false;
  double t0 = 0;
  size_t cap = 0;
  const char *s = text, *end = text + len;
  while (s < end && e == NB_OK) {
    const char *nl = memchr(s, '\n', (size_t)(end - s)), *le = nl ? nl : end;
    c.line++;
    const char *ls = s;
    s = nl ? nl + 1 : end;
    if (le > ls && le[-1] == '\r') le--;
    const char *q = ls;
    while (q < le && (*q == ' ' || *q == '\t')) q++;
    if (q == le || *q == '#') continue;
    if (memchr(ls, 0, (size_t)(le - ls))) {
      e = nb_sim_csv_fail(&c, "a NUL byte: not a text file");
    } else if (!header) {
      size_t cols = nb_sim_csv_count(ls, le);
      if (cols < 2)
        e = nb_sim_csv_fail(&c, "the header needs a time column and one column per household");
      else if (cols - 1 > NB_SIM_PROFILE_MAX_COLS)
        e = nb_sim_csv_fail(&c, "more than %d households", NB_SIM_PROFILE_MAX_COLS);
      p->h = (uint32_t)(cols - 1);
      header = true;
    } else {
      e = nb_sim_csv_row(p, &c, ls, le, &t0, &cap);
    }
  }
  if (e == NB_OK && p->s < 2) {
    c.line++;
    e = nb_sim_csv_fail(&c, "%s", header ? "at least two samples are needed" : "no header line");
  }
  if (e == NB_OK) e = nb_sim_profiles_finish(p);
  if (e != NB_OK) {
    nb_sim_profiles_free(p);
    return e;
  }
  *out = p;
  return NB_OK;
}

nb_err nb_sim_profiles_load_csv(const char *path, nb_sim_profiles **out, char *err, size_t errcap) {
  char *buf;
  size_t len;
  nb_err e = nb_sim_textfile_read(path, (size_t)1 << 31, &buf, &len, err, errcap);
  if (e != NB_OK) return e;
  e = nb_sim_profiles_parse_csv(buf, len, path, out, err, errcap);
  nb_sim_textfile_free(buf, len);
  return e;
}

/* ---- synthetic households ---- */

static uint64_t nb_sim_mix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static double nb_sim_unit(uint64_t *s) {
  return (double)(nb_sim_mix(s) >> 11) / 9007199254740992.0;
}

/* A bell around `at` hours with `width` hours, at `h` hours of the day (wrapping midnight). */
static double nb_sim_bell(double h, double at, double width) {
  double d = fabs(h - at);
  if (d > 12) d = 24 - d;
  return exp(-0.5 * (d / width) * (d / width));
}

typedef struct {
  double base, scale, morning_at, morning, evening_at, evening, midday;
} nb_sim_household;

static nb_sim_household nb_sim_household_make(uint64_t *rng) {
  nb_sim_household hh;
  hh.base = 120 + 260 * nb_sim_unit(rng);       /* fridge, standby, heating pump */
  hh.scale = 0.6 + 1.0 * nb_sim_unit(rng);      /* size of the household */
  hh.morning_at = 6.5 + 1.5 * nb_sim_unit(rng); /* 6:30 .. 8:00 */
  hh.morning = 400 + 1100 * nb_sim_unit(rng);
  hh.evening_at = 18.0 + 2.5 * nb_sim_unit(rng); /* 18:00 .. 20:30 */
  hh.evening = 700 + 1800 * nb_sim_unit(rng);
  hh.midday = 150 + 600 * nb_sim_unit(rng); /* someone home at lunch */
  return hh;
}

/* Watts of a household at hour h of a weekday or weekend day, before spikes and noise. */
static double nb_sim_household_power(const nb_sim_household *hh, double h, bool weekend) {
  double morning_at = weekend ? hh->morning_at + 1.5 : hh->morning_at;
  double midday = weekend ? hh->midday * 1.8 : hh->midday * 0.5;
  double w = hh->base + hh->morning * nb_sim_bell(h, morning_at, 0.9) +
             midday * nb_sim_bell(h, 12.5, 1.5) + hh->evening * nb_sim_bell(h, hh->evening_at, 1.6);
  return w * hh->scale;
}

/* Appliance runs (kettle, oven, washing machine, dryer): (watts, samples) starting at a random
 * sample of the day while someone is awake. */
static void nb_sim_add_spikes(float *w, uint32_t stride, uint32_t per_day, uint64_t *rng,
                              double scale) {
  static const struct {
    double watts;
    unsigned samples;
  } appliances[] = {{2000, 1}, {2400, 4}, {2100, 6}, {2600, 8}, {1500, 2}};
  unsigned runs = 1 + (unsigned)(nb_sim_unit(rng) * 4);
  for (unsigned r = 0; r < runs; r++) {
    unsigned a = (unsigned)(nb_sim_unit(rng) * 5) % 5;
    uint32_t start = (uint32_t)((7.0 + 15.0 * nb_sim_unit(rng)) / 24.0 * per_day);
    for (unsigned k = 0; k < appliances[a].samples && start + k < per_day; k++)
      w[(size_t)(start + k) * stride] += (float)(appliances[a].watts * (0.7 + 0.3 * scale));
  }
}

nb_err nb_sim_profiles_synthetic(uint32_t households, uint32_t days, uint64_t seed,
                                 nb_sim_profiles **out) {
  const uint32_t per_day = 144; /* every 10 minutes */
  if (households == 0 || days == 0 || households > NB_SIM_PROFILE_MAX_COLS ||
      (uint64_t)days * per_day > NB_SIM_PROFILE_MAX_ROWS)
    return NB_ERR_INVAL;
  nb_sim_profiles *p = calloc(1, sizeof *p);
  if (!p) return NB_ERR_NOMEM;
  p->h = households;
  p->s = days * per_day;
  p->t = malloc(p->s * sizeof *p->t);
  p->w = malloc((size_t)p->s * p->h * sizeof *p->w);
  if (!p->t || !p->w) {
    nb_sim_profiles_free(p);
    return NB_ERR_NOMEM;
  }
  for (uint32_t i = 0; i < p->s; i++) p->t[i] = i * 600.0;
  for (uint32_t k = 0; k < households; k++) {
    uint64_t rng = seed * 0x100000001B3ull + k;
    nb_sim_household hh = nb_sim_household_make(&rng);
    for (uint32_t d = 0; d < days; d++) {
      bool weekend = d % 7 >= 5; /* day 0 is a Monday */
      float *col = &p->w[(size_t)d * per_day * p->h + k];
      for (uint32_t i = 0; i < per_day; i++) {
        double noise = 0.9 + 0.2 * nb_sim_unit(&rng);
        col[(size_t)i * p->h] =
            (float)(nb_sim_household_power(&hh, i * 24.0 / per_day, weekend) * noise);
      }
      nb_sim_add_spikes(col, p->h, per_day, &rng, hh.scale);
    }
  }
  nb_err e = nb_sim_profiles_finish(p);
  if (e != NB_OK) {
    nb_sim_profiles_free(p);
    return e;
  }
  *out = p;
  return NB_OK;
}
