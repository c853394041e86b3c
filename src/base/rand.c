/* CSPRNG through getrandom(2). */
#include "base/rand.h"

#include <errno.h>
#include <sys/random.h>

nb_err nb_random_bytes(void *buf, size_t len) {
  unsigned char *p = buf;
  while (len > 0) {
    ssize_t n = getrandom(p, len, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return NB_ERR_IO;
    }
    p += n;
    len -= (size_t)n;
  }
  return NB_OK;
}

uint32_t nb_random_below(uint32_t bound) {
  /* Reject the top partial range so every result is equally likely. */
  uint32_t limit = UINT32_MAX - (UINT32_MAX % bound);
  for (;;) {
    uint32_t v;
    if (nb_random_bytes(&v, sizeof v) != NB_OK) return 0;
    if (v < limit) return v % bound;
  }
}

nb_err nb_random_system(void *user, void *buf, size_t len) {
  (void)user;
  return nb_random_bytes(buf, len);
}
