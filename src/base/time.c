/* Monotonic clock. */
#include "base/time.h"

#include <time.h>

nb_time_ms nb_time_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (nb_time_ms)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
