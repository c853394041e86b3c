/* Cryptographically secure random bytes from the kernel (getrandom). Used for keys,
 * tokens, message IDs and registration IDs; never a userspace PRNG. */
#ifndef NB_BASE_RAND_H
#define NB_BASE_RAND_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Fills buf with len CSPRNG bytes; NB_ERR_IO if the kernel refuses. */
nb_err nb_random_bytes(void *buf, size_t len);

/* Uniform value in [0, bound) without modulo bias; bound > 0. Returns 0 on RNG failure. */
uint32_t nb_random_below(uint32_t bound);

/* A random source: cores take one so tests can make runs reproducible. */
typedef nb_err (*nb_random_fn)(void *user, void *buf, size_t len);

/* nb_random_fn adapter for nb_random_bytes. */
nb_err nb_random_system(void *user, void *buf, size_t len);

#endif
