/* Bootstrap configurations in JSON (src/bootstrap/config.c): what the fuzz target
 * fuzz/bs_config.c found. A config that loads exports to JSON that loads back to the same
 * config (`bootstrap config export` then `import`), and an access map that names one server
 * twice is refused instead of losing one of its rights on export. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bootstrap/config.h"

/* Exported and imported again: the same config. */
static void round_trip(const char *json, nb_bs_config *back) {
  nb_bs_config c;
  char why[200] = "", *out = NULL;
  assert_int_equal(nb_bs_config_from_json(json, &c, why, sizeof why), NB_OK);
  assert_int_equal(nb_bs_config_to_json(&c, &out), NB_OK);
  nb_err e = nb_bs_config_from_json(out, back, why, sizeof why);
  if (e != NB_OK) fail_msg("export of %s does not import again (%s): %s", json, why, out);
  free(out);
}

/* Lifetimes go up to UINT32_MAX seconds; the export wrote them through an int, so one past
 * INT_MAX came out negative and the import refused the exported file. */
static void test_long_lifetime_survives_export(void **state) {
  (void)state;
  nb_bs_config back;
  round_trip("{\"servers\":[{\"uri\":\"coap://192.0.2.5\",\"ssid\":1,\"lifetime\":3000000000}]}",
             &back);
  assert_int_equal(back.servers[0].lifetime, 3000000000u);
  round_trip("{\"servers\":[{\"uri\":\"coap://192.0.2.5\",\"ssid\":1,\"lifetime\":4294967295}]}",
             &back);
  assert_int_equal(back.servers[0].lifetime, UINT32_MAX);
}

/* "5" and "05" are the same short server ID: two rights for one server, of which the export
 * kept one. Refused, with the reason. */
static void test_access_naming_a_server_twice_is_refused(void **state) {
  (void)state;
  nb_bs_config c;
  char why[200] = "";
  const char *json =
      "{\"servers\":[{\"uri\":\"coap://192.0.2.5\",\"ssid\":5}],\"acls\":[{\"object\":"
      "3,\"instance\":0,\"owner\":5,\"access\":{\"5\":1,\"05\":31}}]}";
  assert_int_equal(nb_bs_config_from_json(json, &c, why, sizeof why), NB_ERR_SYNTAX);
  assert_non_null(strstr(why, "ssid 5 is given twice"));
  nb_bs_config back;
  round_trip(
      "{\"servers\":[{\"uri\":\"coap://192.0.2.5\",\"ssid\":5}],\"acls\":[{\"object\":3,"
      "\"instance\":0,\"owner\":5,\"access\":{\"5\":1,\"0\":31}}]}",
      &back);
  assert_int_equal(back.acls[0].n, 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_long_lifetime_survives_export),
      cmocka_unit_test(test_access_naming_a_server_twice_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
