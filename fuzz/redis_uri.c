/* libFuzzer: the redis:// address of `niobium server --store`. Oracle: what parses formats
 * (with the password) to text that parses to the same address, and the text shown in logs
 * has the password masked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/redis_uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  nb_redis_uri u, again;
  char why[256];
  nb_err rc = nb_redis_uri_parse(text, &u, why, sizeof(why));
  free(text);
  if (rc != NB_OK) {
    if (!why[0]) abort(); /* every refusal says why */
    return 0;
  }
  char out[4096], shown[4096];
  if (nb_redis_uri_format(&u, true, out, sizeof(out)) != NB_OK) abort();
  if (nb_redis_uri_parse(out, &again, why, sizeof(why)) != NB_OK) abort();
  if (strcmp(u.host, again.host) != 0 || u.port != again.port || u.db != again.db ||
      strcmp(u.user, again.user) != 0 || strcmp(u.password, again.password) != 0)
    abort();
  if (nb_redis_uri_format(&u, false, shown, sizeof(shown)) != NB_OK) abort();
  const char *mask = strstr(shown, ":***@");
  if (u.password[0] && (!mask || strchr(mask + 5, '@'))) abort(); /* the only userinfo */
  return 0;
}
