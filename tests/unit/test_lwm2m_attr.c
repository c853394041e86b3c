/* LwM2M attributes: parsing every attribute and every bad value, the 1.1 rules between values
 * (4.00 cases), formats (query, link, CoAP options) with round trips, targets, inheritance. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lwm2m/attr.h"

static nb_err parse_text(nb_attrs *a, const char *text, char *reason, size_t cap) {
  nb_attrs_init(a);
  return nb_attrs_parse_list(a, text, strlen(text), '&', reason, cap);
}

static void test_parse_each(void **state) {
  (void)state;
  nb_attrs a;
  char reason[128] = "";
  assert_int_equal(parse_text(&a,
                              "pmin=10&pmax=60&gt=20.5&lt=-3&st=0.5&epmin=1&epmax=3600&dim=3&"
                              "ver=1.1&ssid=101&uri=coaps://lwm2m.example.com:5684",
                              reason, sizeof reason),
                   NB_OK);
  assert_int_equal(a.set, NB_ATTR_ALL_MASK);
  assert_int_equal(a.unset, 0);
  assert_int_equal(a.pmin, 10);
  assert_int_equal(a.pmax, 60);
  assert_true(a.gt == 20.5);
  assert_true(a.lt == -3.0);
  assert_true(a.st == 0.5);
  assert_int_equal(a.epmin, 1);
  assert_int_equal(a.epmax, 3600);
  assert_int_equal(a.dim, 3);
  assert_string_equal(a.ver, "1.1");
  assert_int_equal(a.ssid, 101);
  assert_string_equal(a.uri, "coaps://lwm2m.example.com:5684");
  /* Limits that are allowed. */
  assert_int_equal(
      parse_text(&a, "pmin=0&pmax=4294967295&dim=255&ssid=65534&gt=1e308", reason, sizeof reason),
      NB_OK);
  assert_int_equal(a.pmax, 4294967295u);
  assert_int_equal(parse_text(&a, "", reason, sizeof reason), NB_OK);
  assert_int_equal(a.set, 0);
  assert_int_equal(parse_text(&a, "gt=.5&lt=-1.&st=+2E-1", reason, sizeof reason), NB_OK);
  assert_true(a.gt == 0.5 && a.lt == -1.0 && a.st == 0.2);
}

static void test_parse_unset(void **state) {
  (void)state;
  nb_attrs a;
  char reason[128];
  assert_int_equal(parse_text(&a, "pmin&gt&pmax=30", reason, sizeof reason), NB_OK);
  assert_int_equal(a.unset, NB_ATTR_PMIN | NB_ATTR_GT);
  assert_int_equal(a.set, NB_ATTR_PMAX);
}

static void expect_bad(const char *text, const char *reason_part, int line) {
  nb_attrs a;
  char reason[128] = "";
  nb_err err = parse_text(&a, text, reason, sizeof reason);
  if (err != NB_ERR_INVAL) fail_msg("line %d: '%s' gave %s", line, text, nb_err_name(err));
  if (strstr(reason, reason_part) == NULL) {
    fail_msg("line %d: '%s': reason '%s' lacks '%s'", line, text, reason, reason_part);
  }
}
#define BAD(text, part) expect_bad(text, part, __LINE__)

static void test_parse_rejects(void **state) {
  (void)state;
  BAD("foo=1", "unknown attribute 'foo'");
  BAD("PMIN=1", "unknown attribute 'PMIN'");
  BAD("pmin=1&bogus", "unknown attribute 'bogus'");
  BAD("con=1", "unknown attribute 'con'"); /* LwM2M 1.2, not 1.1 */
  BAD("=5", "unknown attribute ''");
  BAD("pmin=1&pmin=2", "'pmin' is given twice");
  BAD("pmin&pmin=2", "'pmin' is given twice");
  BAD("pmin=", "'pmin' has an empty value");
  BAD("pmin=-1", "'pmin' must be a whole number");
  BAD("pmin=1.5", "'pmin' must be");
  BAD("pmin=4294967296", "'pmin' must be");
  BAD("pmax=99999999999", "'pmax' must be");
  BAD("pmin= 1", "'pmin' must be");
  BAD("pmin=0x10", "'pmin' must be");
  BAD("epmax=abc", "'epmax' must be");
  BAD("gt=abc", "'gt' must be a finite decimal number");
  BAD("gt=inf", "'gt' must be");
  BAD("lt=nan", "'lt' must be");
  BAD("gt=1e999", "'gt' must be");
  BAD("gt=0x1p3", "'gt' must be");
  BAD("st=1e", "'st' must be");
  BAD("gt=.", "'gt' must be");
  BAD("gt=1.5.5", "'gt' must be");
  BAD("dim=256", "'dim' must be an integer 0..255");
  BAD("ssid=0", "'ssid' must be a Short Server ID");
  BAD("ssid=65535", "'ssid' must be");
  BAD("ver=1", "'ver' must be a version");
  BAD("ver=1.1.1", "'ver' must be");
  BAD("ver=a.b", "'ver' must be");
  BAD("uri=coap://a b", "'uri' must be");
  BAD("uri=\"x", "'uri' must be");
  BAD("pmin=1&&pmax=2", "empty attribute");
  BAD("pmin=1&", "empty attribute");
  /* A long unknown name is cut in the reason, never overflowing it. */
  char long_name[400];
  memset(long_name, 'x', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  BAD(long_name, "unknown attribute 'xxxxxxxx");
  /* A NULL reason buffer is fine. */
  nb_attrs a;
  nb_attrs_init(&a);
  assert_int_equal(nb_attrs_parse_one(&a, "foo", 3, NULL, 0), NB_ERR_INVAL);
}

static nb_err validate_text(const char *text, char *reason, size_t cap) {
  nb_attrs a;
  nb_err err = parse_text(&a, text, reason, cap);
  if (err != NB_OK) fail_msg("'%s' did not parse: %s", text, reason);
  return nb_attrs_validate(&a, reason, cap);
}

static void test_validate(void **state) {
  (void)state;
  char reason[128];
  const char *good[] = {"pmin=10&pmax=60", "pmin=60&pmax=60",    "epmin=1&epmax=1",
                        "lt=10&gt=20",     "lt=10&gt=20&st=4.9", "st=0",
                        "pmin=100",        "gt=5&st=100",        "lt=-5&gt=-4.5"};
  for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
    if (validate_text(good[k], reason, sizeof reason) != NB_OK) {
      fail_msg("'%s' refused: %s", good[k], reason);
    }
  }
  struct {
    const char *text, *reason;
  } bad[] = {
      {"pmin=61&pmax=60", "pmin (61) must not exceed pmax (60)"},
      {"epmin=10&epmax=9", "epmin (10) must not exceed epmax (9)"},
      {"lt=20&gt=10", "lt (20) must be less than gt (10)"},
      {"lt=10&gt=10", "lt (10) must be less than gt (10)"},
      {"lt=10&gt=20&st=5", "lt + 2*st (20) must be less than gt (20)"},
      {"lt=10&gt=20&st=6", "lt + 2*st"},
      {"st=-1", "st must not be negative"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    reason[0] = '\0';
    if (validate_text(bad[k].text, reason, sizeof reason) != NB_ERR_INVAL) {
      fail_msg("'%s' accepted", bad[k].text);
    }
    if (strstr(reason, bad[k].reason) == NULL) {
      fail_msg("'%s': reason '%s' lacks '%s'", bad[k].text, reason, bad[k].reason);
    }
  }
  /* Values set by code, not parsed, are checked too. */
  nb_attrs a;
  nb_attrs_init(&a);
  a.set = NB_ATTR_DIM;
  a.dim = 300;
  assert_int_equal(nb_attrs_validate(&a, reason, sizeof reason), NB_ERR_INVAL);
  a.set = NB_ATTR_SSID;
  a.ssid = 0;
  assert_int_equal(nb_attrs_validate(&a, reason, sizeof reason), NB_ERR_INVAL);
  a.set = NB_ATTR_GT;
  a.gt = INFINITY;
  assert_int_equal(nb_attrs_validate(&a, reason, sizeof reason), NB_ERR_INVAL);
  a.set = 1u << 20;
  assert_int_equal(nb_attrs_validate(&a, reason, sizeof reason), NB_ERR_INVAL);
  a.set = NB_ATTR_VER;
  strcpy(a.ver, "x");
  assert_int_equal(nb_attrs_validate(&a, NULL, 0), NB_ERR_INVAL);
}

static void test_writable(void **state) {
  (void)state;
  nb_attrs a;
  char reason[128] = "";
  parse_text(&a, "pmin=1&gt=2&epmax", reason, sizeof reason);
  assert_int_equal(nb_attrs_check_writable(&a, reason, sizeof reason), NB_OK);
  parse_text(&a, "pmin=1&dim=2", reason, sizeof reason);
  assert_int_equal(nb_attrs_check_writable(&a, reason, sizeof reason), NB_ERR_INVAL);
  assert_non_null(strstr(reason, "'dim' is read-only"));
  parse_text(&a, "uri", reason, sizeof reason);
  assert_int_equal(nb_attrs_check_writable(&a, reason, sizeof reason), NB_ERR_INVAL);
  assert_non_null(strstr(reason, "'uri' is read-only"));
}

static nb_err target(const char *text, const char *path, const nb_resource_def *def) {
  nb_attrs a;
  char reason[128];
  nb_path p;
  assert_int_equal(parse_text(&a, text, reason, sizeof reason), NB_OK);
  assert_int_equal(nb_path_parse(path, &p), NB_OK);
  return nb_attrs_check_target(&a, &p, def, reason, sizeof reason);
}

static void test_target(void **state) {
  (void)state;
  nb_resource_def temp = {5700, "Sensor Value", NB_OP_R, false, true, NB_VT_FLOAT, NULL, "Cel"};
  nb_resource_def name = {0, "Manufacturer", NB_OP_R, false, false, NB_VT_STRING, NULL, NULL};
  nb_resource_def errs = {11, "Error Code", NB_OP_R, true, true, NB_VT_INT, NULL, NULL};
  nb_resource_def reboot = {4, "Reboot", NB_OP_E, false, true, NB_VT_NONE, NULL, NULL};
  assert_int_equal(target("pmin=1&pmax=5", "/3", NULL), NB_OK);
  assert_int_equal(target("pmin=1&pmax=5", "/3/0", NULL), NB_OK);
  assert_int_equal(target("gt=30&lt=10&st=1", "/3303/0/5700", &temp), NB_OK);
  assert_int_equal(target("gt=30", "/3303/0/5700", NULL), NB_OK); /* unknown type: allowed */
  assert_int_equal(target("gt=30", "/3/0/11/0", &errs), NB_OK);
  assert_int_equal(target("dim=2", "/3/0/11", &errs), NB_OK);
  assert_int_equal(target("ver=1.1", "/3", NULL), NB_OK);
  assert_int_equal(target("ssid=1&uri=coap://x", "/1/0", NULL), NB_OK);
  assert_int_equal(target("", "/", NULL), NB_OK);
  assert_int_equal(target("pmin=1", "/", NULL), NB_ERR_INVAL);
  assert_int_equal(target("gt=30", "/3303/0", NULL), NB_ERR_INVAL);
  assert_int_equal(target("gt=30", "/3/0/0", &name), NB_ERR_INVAL);
  assert_int_equal(target("st", "/3/0/0", &name), NB_ERR_INVAL); /* unsetting is checked too */
  assert_int_equal(target("dim=2", "/3/0/0", &name), NB_ERR_INVAL);
  assert_int_equal(target("dim=2", "/3/0", NULL), NB_ERR_INVAL);
  assert_int_equal(target("ver=1.0", "/3/0", NULL), NB_ERR_INVAL);
  assert_int_equal(target("ssid=1", "/1", NULL), NB_ERR_INVAL);
  assert_int_equal(target("pmin=1", "/3/0/4", &reboot), NB_ERR_INVAL);
}

static void test_format(void **state) {
  (void)state;
  nb_attrs a;
  char reason[128], buf[512];
  parse_text(&a, "gt=20.5&pmax=60&pmin=10&lt&ver=1.0", reason, sizeof reason);
  assert_int_equal(nb_attrs_format_link(&a, buf, sizeof buf), NB_OK);
  assert_string_equal(buf, ";ver=1.0;pmin=10;pmax=60;gt=20.5"); /* canonical order, no unset */
  assert_int_equal(nb_attrs_format_query(&a, buf, sizeof buf), NB_OK);
  assert_string_equal(buf, "ver=1.0&pmin=10&pmax=60&gt=20.5&lt");
  parse_text(&a, "uri=coaps://s.example:5684&ssid=101", reason, sizeof reason);
  assert_int_equal(nb_attrs_format_link(&a, buf, sizeof buf), NB_OK);
  assert_string_equal(buf, ";ssid=101;uri=\"coaps://s.example:5684\"");
  parse_text(&a, "gt=0.1&st=1e-7", reason, sizeof reason);
  assert_int_equal(nb_attrs_format_query(&a, buf, sizeof buf), NB_OK);
  assert_string_equal(buf, "gt=0.1&st=1e-07");
  nb_attrs_init(&a);
  assert_int_equal(nb_attrs_format_link(&a, buf, sizeof buf), NB_OK);
  assert_string_equal(buf, "");
  /* Too small a buffer. */
  parse_text(&a, "pmin=10&pmax=60", reason, sizeof reason);
  assert_int_equal(nb_attrs_format_link(&a, buf, 16), NB_ERR_OVERFLOW);
  assert_int_equal(nb_attrs_format_link(&a, buf, 17), NB_OK);
  assert_string_equal(buf, ";pmin=10;pmax=60");
  assert_int_equal(nb_attrs_format_link(&a, buf, 0), NB_ERR_OVERFLOW);
}

static bool attrs_equal(const nb_attrs *x, const nb_attrs *y) {
  if (x->set != y->set || x->unset != y->unset) return false;
  uint32_t s = x->set;
  if ((s & NB_ATTR_PMIN) && x->pmin != y->pmin) return false;
  if ((s & NB_ATTR_PMAX) && x->pmax != y->pmax) return false;
  if ((s & NB_ATTR_EPMIN) && x->epmin != y->epmin) return false;
  if ((s & NB_ATTR_EPMAX) && x->epmax != y->epmax) return false;
  if ((s & NB_ATTR_GT) && x->gt != y->gt) return false;
  if ((s & NB_ATTR_LT) && x->lt != y->lt) return false;
  if ((s & NB_ATTR_ST) && x->st != y->st) return false;
  if ((s & NB_ATTR_DIM) && x->dim != y->dim) return false;
  if ((s & NB_ATTR_SSID) && x->ssid != y->ssid) return false;
  if ((s & NB_ATTR_VER) && strcmp(x->ver, y->ver) != 0) return false;
  if ((s & NB_ATTR_URI) && strcmp(x->uri, y->uri) != 0) return false;
  return true;
}

static void test_roundtrips(void **state) {
  (void)state;
  const char *inputs[] = {
      "pmin=10&pmax=60&gt=20.5&lt=-3.25&st=0.1&epmin=0&epmax=7",
      "dim=0&ver=2.13&ssid=1&uri=coap://[::1]:5683/x;y",
      "pmin&pmax&gt=1e-300&lt",
  };
  for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
    nb_attrs a, b;
    char reason[128], buf[512];
    assert_int_equal(parse_text(&a, inputs[k], reason, sizeof reason), NB_OK);
    /* Query text. */
    assert_int_equal(nb_attrs_format_query(&a, buf, sizeof buf), NB_OK);
    assert_int_equal(parse_text(&b, buf, reason, sizeof reason), NB_OK);
    assert_true(attrs_equal(&a, &b));
    /* Link-format parameters (unset items are not shown there). */
    assert_int_equal(nb_attrs_format_link(&a, buf, sizeof buf), NB_OK);
    nb_attrs_init(&b);
    assert_int_equal(nb_attrs_parse_list(&b, buf, strlen(buf), ';', reason, sizeof reason), NB_OK);
    nb_attrs set_only = a;
    set_only.unset = 0;
    assert_true(attrs_equal(&set_only, &b));
    /* CoAP Uri-Query options, through the wire. */
    nb_coap_msg msg, parsed;
    nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_PUT, 7);
    assert_int_equal(nb_coap_msg_add_path(&msg, NB_COAP_OPT_URI_PATH, "/3303/0/5700"), NB_OK);
    assert_int_equal(nb_attrs_to_coap(&msg, &a), NB_OK);
    uint8_t wire[1024];
    size_t len = 0;
    assert_int_equal(nb_coap_serialize(&msg, wire, sizeof wire, &len), NB_OK);
    assert_int_equal(nb_coap_parse(wire, len, &parsed), NB_OK);
    nb_attrs_init(&b);
    assert_int_equal(nb_attrs_parse_query(&b, &parsed, reason, sizeof reason), NB_OK);
    assert_true(attrs_equal(&a, &b));
  }
}

static void test_coap_query_rejects(void **state) {
  (void)state;
  nb_coap_msg msg;
  nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_PUT, 7);
  nb_coap_msg_add_query(&msg, NB_COAP_OPT_URI_QUERY, "pmin=10");
  nb_coap_msg_add_query(&msg, NB_COAP_OPT_URI_QUERY, "ep=dev1");
  nb_attrs a;
  nb_attrs_init(&a);
  char reason[128] = "";
  assert_int_equal(nb_attrs_parse_query(&a, &msg, reason, sizeof reason), NB_ERR_INVAL);
  assert_non_null(strstr(reason, "unknown attribute 'ep'"));
  /* The "&" of a query string is no separator inside one option. */
  nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_PUT, 7);
  nb_coap_msg_add_query(&msg, NB_COAP_OPT_URI_QUERY, "pmin=1&pmax=2");
  nb_attrs_init(&a);
  assert_int_equal(nb_attrs_parse_query(&a, &msg, reason, sizeof reason), NB_ERR_INVAL);
}

static void test_link_list_quoting(void **state) {
  (void)state;
  const char *text = ";ssid=101;uri=\"coaps://h:1/a;b\";pmin=5";
  nb_attrs a;
  nb_attrs_init(&a);
  char reason[128];
  assert_int_equal(nb_attrs_parse_list(&a, text, strlen(text), ';', reason, sizeof reason), NB_OK);
  assert_string_equal(a.uri, "coaps://h:1/a;b");
  assert_int_equal(a.pmin, 5);
}

static void test_merge_and_apply(void **state) {
  (void)state;
  nb_attrs obj, inst, res, eff;
  char reason[128];
  parse_text(&obj, "pmin=10&pmax=300&epmin=1", reason, sizeof reason);
  parse_text(&inst, "pmax=60", reason, sizeof reason);
  parse_text(&res, "gt=30&pmin=5&lt", reason, sizeof reason);
  /* Object -> instance -> resource: lower levels win, the rest is inherited. */
  nb_attrs_init(&eff);
  nb_attrs_merge(&eff, &obj);
  nb_attrs_merge(&eff, &inst);
  nb_attrs_merge(&eff, &res);
  assert_int_equal(eff.set, NB_ATTR_PMIN | NB_ATTR_PMAX | NB_ATTR_EPMIN | NB_ATTR_GT);
  assert_int_equal(eff.pmin, 5);
  assert_int_equal(eff.pmax, 60);
  assert_int_equal(eff.epmin, 1);
  assert_true(eff.gt == 30);
  assert_int_equal(eff.unset, 0); /* merge ignores unset bits */
  /* Write-Attributes on the stored object level: set replaces, bare name removes. */
  nb_attrs update;
  parse_text(&update, "pmin&pmax=120&st=2", reason, sizeof reason);
  nb_attrs_apply(&obj, &update);
  assert_int_equal(obj.set, NB_ATTR_PMAX | NB_ATTR_EPMIN | NB_ATTR_ST);
  assert_int_equal(obj.pmax, 120);
  assert_true(obj.st == 2);
  assert_int_equal(obj.unset, 0);
  nb_attrs uri_over;
  parse_text(&uri_over, "uri=coap://b&ver=1.1", reason, sizeof reason);
  nb_attrs base;
  parse_text(&base, "uri=coap://a-longer-uri&ssid=3", reason, sizeof reason);
  nb_attrs_merge(&base, &uri_over);
  assert_string_equal(base.uri, "coap://b");
  assert_string_equal(base.ver, "1.1");
  assert_int_equal(base.ssid, 3);
}

static void test_names(void **state) {
  (void)state;
  assert_string_equal(nb_attr_name(NB_ATTR_EPMAX), "epmax");
  assert_null(nb_attr_name((nb_attr_id)(1u << 30)));
  assert_int_equal(nb_attr_from_name("gt", 2), NB_ATTR_GT);
  assert_int_equal(nb_attr_from_name("gtx", 3), 0);
  assert_int_equal(nb_attr_from_name("g", 1), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_each),
      cmocka_unit_test(test_parse_unset),
      cmocka_unit_test(test_parse_rejects),
      cmocka_unit_test(test_validate),
      cmocka_unit_test(test_writable),
      cmocka_unit_test(test_target),
      cmocka_unit_test(test_format),
      cmocka_unit_test(test_roundtrips),
      cmocka_unit_test(test_coap_query_rejects),
      cmocka_unit_test(test_link_list_quoting),
      cmocka_unit_test(test_merge_and_apply),
      cmocka_unit_test(test_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
