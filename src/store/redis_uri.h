/* The address of a Redis server as `niobium server --store` takes it:
 * redis://[USER@ | [USER]:PASSWORD@]HOST[:PORT][/DB], HOST a name, an IPv4 address or [IPv6],
 * PORT 6379 by default, DB 0 by default. USER and PASSWORD may hold %XX escapes; a USER
 * without a password takes it from elsewhere (--store-password-file). Parsing only: no
 * I/O, no hiredis, so it is built (and fuzzed) without the Redis backend. Owns nothing. */
#ifndef NB_STORE_REDIS_URI_H
#define NB_STORE_REDIS_URI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define NB_REDIS_HOST_MAX 256 /* a DNS name (253) or an IPv6 address with zone, plus NUL */
#define NB_REDIS_USER_MAX 128
#define NB_REDIS_PASSWORD_MAX 512
#define NB_REDIS_DB_MAX 65535u

typedef struct {
  char host[NB_REDIS_HOST_MAX]; /* without the brackets of an IPv6 address */
  uint16_t port;
  unsigned db;
  char user[NB_REDIS_USER_MAX];         /* "" when none: AUTH with the password alone */
  char password[NB_REDIS_PASSWORD_MAX]; /* secret; "" when none */
} nb_redis_uri;

/* Parses text into out (zeroed first). NB_ERR_SYNTAX with the reason in why for a malformed
 * address, NB_ERR_UNSUPPORTED for rediss:// (TLS: Debian 12's hiredis 0.14 has none). */
nb_err nb_redis_uri_parse(const char *text, nb_redis_uri *out, char *why, size_t why_cap);

/* Whether text names a Redis store (starts with redis:// or rediss://). */
bool nb_redis_uri_is_redis(const char *text);

/* u back as text, USER and PASSWORD %XX-escaped where needed; the password replaced by "***"
 * unless with_password (logs and messages never show it). NB_ERR_OVERFLOW when out is too
 * small. */
nb_err nb_redis_uri_format(const nb_redis_uri *u, bool with_password, char *out, size_t cap);

/* Wipes the password. */
void nb_redis_uri_wipe(nb_redis_uri *u);

#endif
