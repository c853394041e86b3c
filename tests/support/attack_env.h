/* What the attack suite's end-to-end tests (tests/attack/) share: a private directory with a
 * database path, free loopback ports for CoAP, CoAPs and HTTP, the binary under test, REST
 * calls against the HTTP port and a counter of substrings. */
#ifndef NB_TEST_ATTACK_ENV_H
#define NB_TEST_ATTACK_ENV_H

#include <stddef.h>

typedef struct {
  char dir[64], db[128];
  char coap[32], coaps[32], http[32]; /* "127.0.0.1:PORT", each free when made */
  char base[64];                      /* "http://127.0.0.1:PORT" of http */
  char *bin;                          /* NB_BINARY */
} nb_attack_env;

/* A new /tmp/nb-attack-TAG-XXXXXX directory and ports (asserts on failure). */
void nb_attack_env_init(nb_attack_env *e, const char *tag);
/* Removes the directory and everything in it. */
void nb_attack_env_cleanup(const nb_attack_env *e);
/* "BODY|STATUS" of a REST request to e->base + path (heap; asserts curl ran). */
char *nb_attack_rest(const nb_attack_env *e, const char *method, const char *path,
                     const char *body);
/* How many times needle occurs in hay. */
size_t nb_attack_count(const char *hay, const char *needle);

#endif
