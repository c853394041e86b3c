/* Logger: level filter, formatting, pluggable sink. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static nb_log_level nb_log_level_current = NB_LOG_INFO;
static nb_log_sink nb_log_sink_current;
static void *nb_log_sink_user;

static const char *const nb_log_names[] = {"error", "warn", "info", "debug"};

void nb_log_set_level(nb_log_level level) { nb_log_level_current = level; }
nb_log_level nb_log_get_level(void) { return nb_log_level_current; }

void nb_log_set_sink(nb_log_sink sink, void *user) {
  nb_log_sink_current = sink;
  nb_log_sink_user = user;
}

bool nb_log_enabled(nb_log_level level) { return level <= nb_log_level_current; }

const char *nb_log_level_name(nb_log_level level) {
  return (unsigned)level < 4 ? nb_log_names[level] : "?";
}

nb_err nb_log_level_parse(const char *name, nb_log_level *out) {
  for (int i = 0; i < 4; i++) {
    if (strcmp(name, nb_log_names[i]) == 0) {
      *out = (nb_log_level)i;
      return NB_OK;
    }
  }
  return NB_ERR_INVAL;
}

static void nb_log_stderr(nb_log_level level, const char *line) {
  (void)level;
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  fprintf(stderr, "%s.%03ldZ %s\n", stamp, ts.tv_nsec / 1000000L, line);
}

void nb_logf(nb_log_level level, const char *module, const char *fmt, ...) {
  if (!nb_log_enabled(level)) return;
  char line[1024];
  int n = snprintf(line, sizeof line, "level=%s mod=%s ", nb_log_level_name(level), module);
  if (n < 0) return;
  va_list ap;
  va_start(ap, fmt);
  /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): ap is started; clang-14 bug */
  if ((size_t)n < sizeof line) vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  if (nb_log_sink_current) {
    nb_log_sink_current(level, line, nb_log_sink_user);
  } else {
    nb_log_stderr(level, line);
  }
}
