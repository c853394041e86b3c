/* Time in milliseconds. Protocol cores never read a clock: they are handed `now`;
 * only I/O shells call nb_time_now_ms. */
#ifndef NB_BASE_TIME_H
#define NB_BASE_TIME_H

#include <stdint.h>

typedef int64_t nb_time_ms;

/* "No deadline": larger than any real deadline. */
#define NB_TIME_NEVER INT64_MAX

/* Monotonic clock (CLOCK_MONOTONIC) in milliseconds. */
nb_time_ms nb_time_now_ms(void);
/* Wall clock (CLOCK_REALTIME): Unix milliseconds. */
int64_t nb_time_unix_ms(void);

/* Earlier of two deadlines. */
static inline nb_time_ms nb_time_min(nb_time_ms a, nb_time_ms b) { return a < b ? a : b; }

#endif
