/* Shared pieces of the attack suite's end-to-end tests: see attack_env.h. */
#include "attack_env.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "nb_test.h"

void nb_attack_env_init(nb_attack_env *e, const char *tag) {
  memset(e, 0, sizeof *e);
  e->bin = (char *)nb_test_env("NB_BINARY");
  assert_non_null(e->bin);
  snprintf(e->dir, sizeof e->dir, "/tmp/nb-attack-%s-XXXXXX", tag);
  assert_non_null(mkdtemp(e->dir));
  snprintf(e->db, sizeof e->db, "%s/nb.db", e->dir);
  snprintf(e->coap, sizeof e->coap, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  snprintf(e->coaps, sizeof e->coaps, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(e->http, sizeof e->http, "127.0.0.1:%u", hp);
  snprintf(e->base, sizeof e->base, "http://127.0.0.1:%u", hp);
}

void nb_attack_env_cleanup(const nb_attack_env *e) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
  assert_int_equal(system(cmd), 0);
}

char *nb_attack_rest(const nb_attack_env *e, const char *method, const char *path,
                     const char *body) {
  char *out = nb_test_http(e->base, method, path, body);
  assert_non_null(out);
  return out;
}

size_t nb_attack_count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}
