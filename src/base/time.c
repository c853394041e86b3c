/* Monotonic clock. */
#include "base/time.h"

#include <time.h>

static nb_time_ms clock_ms(clockid_t which) {
  struct timespec ts;
  clock_gettime(which, &ts);
  return (nb_time_ms)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

nb_time_ms nb_time_now_ms(void) { return clock_ms(CLOCK_MONOTONIC); }

int64_t nb_time_unix_ms(void) { return clock_ms(CLOCK_REALTIME); }
