/* RFC 6690 link-format: RFC examples, LwM2M payloads, quoting, every syntax error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "coap/link.h"

static void parse_ok(const char *text, nb_links *links) {
  size_t pos = 0;
  nb_err err = nb_links_parse(text, strlen(text), links, &pos);
  if (err != NB_OK) fail_msg("parse of '%s' failed at %zu: %s", text, pos, nb_err_name(err));
}

static void assert_param(const nb_links *l, size_t link, const char *name, const char *value) {
  const nb_link_param *p = nb_link_find_param(l, &l->links[link], name);
  if (!p) fail_msg("link %zu has no param %s", link, name);
  if (value) {
    assert_non_null(p->value);
    assert_string_equal(p->value, value);
  } else {
    assert_null(p->value);
  }
}

/* RFC 6690 section 5, the resource-discovery example with anchors and relations. */
static void test_rfc6690_example(void **state) {
  (void)state;
  const char *text =
      "</sensors>;ct=40;title=\"Sensor Index\","
      "</sensors/temp>;rt=\"temperature-c\";if=\"sensor\","
      "</sensors/light>;rt=\"light-lux\";if=\"sensor\","
      "<http://www.example.com/sensors/t123>;anchor=\"/sensors/temp\";rel=\"describedby\","
      "</t>;anchor=\"/sensors/temp\";rel=\"alternate\"";
  nb_links l;
  parse_ok(text, &l);
  assert_int_equal(l.count, 5);
  assert_string_equal(l.links[0].target, "/sensors");
  assert_param(&l, 0, "ct", "40");
  assert_param(&l, 0, "title", "Sensor Index");
  assert_string_equal(l.links[3].target, "http://www.example.com/sensors/t123");
  assert_param(&l, 3, "rel", "describedby");
  assert_param(&l, 4, "anchor", "/sensors/temp");
  assert_int_equal(l.param_total, 10);
  nb_bytes out;
  nb_bytes_init(&out);
  assert_int_equal(nb_links_format(&l, &out), NB_OK);
  assert_string_equal((char *)out.data, text); /* round trip keeps quoting */
  nb_bytes_free(&out);
  nb_links_deinit(&l);
}

/* An LwM2M 1.1 Register payload and a Discover answer with attributes. */
static void test_lwm2m_payloads(void **state) {
  (void)state;
  nb_links l;
  parse_ok("</>;rt=\"oma.lwm2m\";ct=11543,</1/0>,</3/0>,</3303>;ver=1.1,</3303/0>", &l);
  assert_int_equal(l.count, 5);
  assert_string_equal(l.links[0].target, "/");
  assert_param(&l, 0, "rt", "oma.lwm2m");
  assert_int_equal(l.links[1].param_count, 0);
  assert_param(&l, 3, "ver", "1.1");
  nb_links_deinit(&l);

  parse_ok("</3/0>;pmin=10;pmax=60,</3/0/1>,</3/0/7>;dim=2;gt=20.5", &l);
  assert_param(&l, 0, "pmax", "60");
  assert_param(&l, 2, "dim", "2");
  assert_param(&l, 2, "gt", "20.5");
  assert_null(nb_link_find_param(&l, &l.links[1], "dim"));
  nb_links_deinit(&l);
}

static void test_bare_params_escapes_and_whitespace(void **state) {
  (void)state;
  nb_links l;
  parse_ok("</obs>;obs;title=\"a \\\"quoted\\\" \\\\ word, with; delimiters\" , </x> ;ct=0", &l);
  assert_int_equal(l.count, 2);
  assert_param(&l, 0, "obs", NULL);
  assert_param(&l, 0, "title", "a \"quoted\" \\ word, with; delimiters");
  assert_param(&l, 1, "ct", "0");
  nb_links_deinit(&l);

  parse_ok("", &l);
  assert_int_equal(l.count, 0);
  nb_links_deinit(&l);
  parse_ok("<>", &l); /* empty URI-reference is valid */
  assert_int_equal(l.count, 1);
  assert_string_equal(l.links[0].target, "");
  nb_links_deinit(&l);
}

static void test_syntax_errors(void **state) {
  (void)state;
  struct {
    const char *text;
    size_t pos;
  } bad[] = {
      {"/sensors", 0},       /* no '<' */
      {"</sensors", 9},      /* no '>' */
      {"</a>x", 4},          /* junk after a link */
      {"</a>,", 5},          /* trailing comma */
      {"</a>;", 5},          /* empty parameter */
      {"</a>;=1", 5},        /* no parameter name */
      {"</a>;ct=", 8},       /* empty unquoted value */
      {"</a>;t=\"open", 12}, /* unterminated quote */
      {"</a>;t=\"x\\", 10},  /* escape at the end */
      {"</a>;t=\"x\"y", 10}, /* junk after a quoted value */
      {"</a b>", 3},         /* space in the target */
      {"</a>;ct=4\"0", 9},   /* quote inside a ptoken */
      {"</a>,,</b>", 5},     /* empty link */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    nb_links l;
    size_t pos = 999;
    nb_err err = nb_links_parse(bad[i].text, strlen(bad[i].text), &l, &pos);
    if (err != NB_ERR_SYNTAX) fail_msg("'%s' parsed (%s)", bad[i].text, nb_err_name(err));
    if (pos != bad[i].pos) fail_msg("'%s': error at %zu, want %zu", bad[i].text, pos, bad[i].pos);
  }
}

static void test_writer(void **state) {
  (void)state;
  nb_bytes out;
  nb_bytes_init(&out);
  assert_int_equal(nb_link_write_target(&out, "/"), NB_OK);
  assert_int_equal(nb_link_write_param(&out, "rt", "oma.lwm2m", true), NB_OK);
  assert_int_equal(nb_link_write_param(&out, "ct", "11543", false), NB_OK);
  assert_int_equal(nb_link_write_target(&out, "/1/0"), NB_OK);
  assert_int_equal(nb_link_write_param(&out, "title", "a b,\"c\"", false), NB_OK); /* forced */
  assert_int_equal(nb_link_write_param(&out, "obs", NULL, false), NB_OK);
  assert_string_equal((char *)out.data,
                      "</>;rt=\"oma.lwm2m\";ct=11543,</1/0>;title=\"a b,\\\"c\\\"\";obs");
  nb_links l;
  parse_ok((char *)out.data, &l);
  assert_param(&l, 1, "title", "a b,\"c\"");
  nb_links_deinit(&l);
  assert_int_equal(nb_link_write_target(&out, "/a>b"), NB_ERR_INVAL);
  assert_int_equal(nb_link_write_param(&out, "bad name", "1", false), NB_ERR_INVAL);
  assert_int_equal(nb_link_write_param(&out, "", "1", false), NB_ERR_INVAL);
  nb_bytes_free(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc6690_example),
      cmocka_unit_test(test_lwm2m_payloads),
      cmocka_unit_test(test_bare_params_escapes_and_whitespace),
      cmocka_unit_test(test_syntax_errors),
      cmocka_unit_test(test_writer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
