/* One-line key=value logger with levels. The default sink writes to stderr with a UTC
 * timestamp; tests and the console install their own sink. Never log secrets. */
#ifndef NB_BASE_LOG_H
#define NB_BASE_LOG_H

#include <stdbool.h>

#include "base/err.h"
#include "niobium/config.h"

typedef enum { NB_LOG_ERROR = 0, NB_LOG_WARN, NB_LOG_INFO, NB_LOG_DEBUG } nb_log_level;

/* Receives each formatted line (no trailing newline) at or above the current level. */
typedef void (*nb_log_sink)(nb_log_level level, const char *line, void *user);

void nb_log_set_level(nb_log_level level);
nb_log_level nb_log_get_level(void);
/* NULL restores the stderr sink. */
void nb_log_set_sink(nb_log_sink sink, void *user);
bool nb_log_enabled(nb_log_level level);
/* "error", "warn", "info" or "debug". */
nb_err nb_log_level_parse(const char *name, nb_log_level *out);
const char *nb_log_level_name(nb_log_level level);

/* Logs "level=L mod=MODULE <fmt...>"; fmt should be key=value pairs. */
void nb_logf(nb_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Levels above NB_CFG_LOG_MAX (the NB_LOG_LEVEL build switch) are compiled out: the call and
 * its format string are dead code the compiler drops, the arguments are never evaluated, and
 * they are still type-checked (and count as used). */
#define NB_LOG_NOTHING(level, mod, ...)                       \
  do {                                                        \
    if (0) nb_logf((level), (mod), __VA_ARGS__); /* NOLINT */ \
  } while (0)
#if NB_CFG_LOG_MAX >= 0
#define NB_LOG_ERROR(mod, ...) nb_logf(NB_LOG_ERROR, (mod), __VA_ARGS__)
#else
#define NB_LOG_ERROR(mod, ...) NB_LOG_NOTHING(NB_LOG_ERROR, (mod), __VA_ARGS__)
#endif
#if NB_CFG_LOG_MAX >= 1
#define NB_LOG_WARN(mod, ...) nb_logf(NB_LOG_WARN, (mod), __VA_ARGS__)
#else
#define NB_LOG_WARN(mod, ...) NB_LOG_NOTHING(NB_LOG_WARN, (mod), __VA_ARGS__)
#endif
#if NB_CFG_LOG_MAX >= 2
#define NB_LOG_INFO(mod, ...) nb_logf(NB_LOG_INFO, (mod), __VA_ARGS__)
#else
#define NB_LOG_INFO(mod, ...) NB_LOG_NOTHING(NB_LOG_INFO, (mod), __VA_ARGS__)
#endif
#if NB_CFG_LOG_MAX >= 3
#define NB_LOG_DEBUG(mod, ...)                                                   \
  do {                                                                           \
    if (nb_log_enabled(NB_LOG_DEBUG)) nb_logf(NB_LOG_DEBUG, (mod), __VA_ARGS__); \
  } while (0)
#else
#define NB_LOG_DEBUG(mod, ...) NB_LOG_NOTHING(NB_LOG_DEBUG, (mod), __VA_ARGS__)
#endif

#endif
