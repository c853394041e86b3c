/* The redis:// address of `niobium server --store`: what it takes, what it refuses (with a
 * reason), and the text shown in logs (password masked). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store/redis_uri.h"

static void test_accepts(void **state) {
  (void)state;
  nb_redis_uri u;
  char why[200];
  assert_int_equal(nb_redis_uri_parse("redis://127.0.0.1", &u, why, sizeof(why)), NB_OK);
  assert_string_equal(u.host, "127.0.0.1");
  assert_int_equal(u.port, 6379);
  assert_int_equal(u.db, 0);
  assert_string_equal(u.user, "");
  assert_string_equal(u.password, "");

  assert_int_equal(nb_redis_uri_parse("REDIS://app:s%3Acr%40t@[::1]:7000/3", &u, why, sizeof(why)),
                   NB_OK);
  assert_string_equal(u.host, "::1");
  assert_int_equal(u.port, 7000);
  assert_int_equal(u.db, 3);
  assert_string_equal(u.user, "app");
  assert_string_equal(u.password, "s:cr@t");

  assert_int_equal(nb_redis_uri_parse("redis://:pw@redis-1.example/", &u, why, sizeof(why)), NB_OK);
  assert_string_equal(u.user, "");
  assert_string_equal(u.password, "pw");
  assert_string_equal(u.host, "redis-1.example");

  assert_int_equal(nb_redis_uri_parse("redis://niobium@h:1/65535", &u, why, sizeof(why)), NB_OK);
  assert_string_equal(u.user, "niobium");
  assert_string_equal(u.password, "");
  assert_int_equal(u.port, 1);
  assert_int_equal(u.db, 65535);
  /* the last '@' before the path ends the user part */
  assert_int_equal(nb_redis_uri_parse("redis://u:a@b@h", &u, why, sizeof(why)), NB_OK);
  assert_string_equal(u.password, "a@b");
  assert_string_equal(u.host, "h");
}

static void test_refuses_with_a_reason(void **state) {
  (void)state;
  static const char *const bad[] = {
      "http://h",
      "redis://",
      "redis://h:0",
      "redis://h:65536",
      "redis://h:",
      "redis://h/x",
      "redis://h/65536",
      "redis://[::1",
      "redis://[abc]",
      "redis://h?db=1",
      "redis://h#x",
      "redis://a b",
      "redis://:@h",
      "redis://u:p%zz@h",
      "redis://u:p%00@h",
      "redis://u:p%4@h",
      "redis://@h",
      "redis://h*",
      "redis://h:12a",
      "redis://h:123456",
      "redis://h/1/2",
      "redis://[::1]x",
      "",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    nb_redis_uri u;
    char why[200];
    nb_err rc = nb_redis_uri_parse(bad[i], &u, why, sizeof(why));
    if (rc != NB_ERR_SYNTAX || !why[0]) fail_msg("'%s' gave %d, reason '%s'", bad[i], rc, why);
    assert_string_equal(u.password, ""); /* nothing of a refused address is kept */
  }
  char longpw[700] = "redis://:";
  memset(longpw + 9, 'p', 600);
  strcpy(longpw + 609, "@h");
  nb_redis_uri u;
  char why[200];
  assert_int_equal(nb_redis_uri_parse(longpw, &u, why, sizeof(why)), NB_ERR_SYNTAX);
  assert_non_null(strstr(why, "password"));
  assert_int_equal(nb_redis_uri_parse("rediss://h:6380", &u, why, sizeof(why)), NB_ERR_UNSUPPORTED);
  assert_non_null(strstr(why, "TLS"));
  assert_true(nb_redis_uri_is_redis("rediss://h"));
  assert_true(nb_redis_uri_is_redis("redis://h"));
  assert_false(nb_redis_uri_is_redis("/var/lib/nb.db"));
}

static void test_format_masks_the_password(void **state) {
  (void)state;
  nb_redis_uri u, again;
  char shown[256], full[256];
  assert_int_equal(nb_redis_uri_parse("redis://app:s%3Acr%40t@[::1]:7000/3", &u, NULL, 0), NB_OK);
  assert_int_equal(nb_redis_uri_format(&u, false, shown, sizeof(shown)), NB_OK);
  assert_string_equal(shown, "redis://app:***@[::1]:7000/3");
  assert_int_equal(nb_redis_uri_format(&u, true, full, sizeof(full)), NB_OK);
  assert_string_equal(full, "redis://app:s%3Acr%40t@[::1]:7000/3");
  assert_int_equal(nb_redis_uri_parse(full, &again, NULL, 0), NB_OK);
  assert_string_equal(again.password, "s:cr@t");
  assert_int_equal(nb_redis_uri_parse("redis://h", &u, NULL, 0), NB_OK);
  assert_int_equal(nb_redis_uri_format(&u, false, shown, sizeof(shown)), NB_OK);
  assert_string_equal(shown, "redis://h:6379/0");
  assert_int_equal(nb_redis_uri_format(&u, false, shown, 8), NB_ERR_OVERFLOW);
  nb_redis_uri_wipe(&again);
  assert_string_equal(again.password, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accepts),
      cmocka_unit_test(test_refuses_with_a_reason),
      cmocka_unit_test(test_format_masks_the_password),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
