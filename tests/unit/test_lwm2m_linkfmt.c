/* LwM2M link-format (40): Register payloads (root link with rt and ct, alternate root path),
 * Discover responses with attributes, Bootstrap-Discover with ssid/uri and the enabler version
 * (including the legacy `lwm2m="1.0",` prefix), exact re-encoding, and rejections. */
#include "lwm2m_fmt_testutil.h"

#include "lwm2m/linkfmt.h"

static void decode_ok(const char *text, nb_lwm2m_links *l) {
  nb_format_error fe = {0, NULL};
  char detail[160];
  nb_err e = nb_linkfmt_decode((const uint8_t *)text, strlen(text), l, &fe, detail, sizeof detail);
  if (e != NB_OK) fprintf(stderr, "decode failed: %s (%s)\n", fe.reason, detail);
  assert_int_equal(e, NB_OK);
}

static void encode_expect(const nb_lwm2m_links *l, const char *want) {
  nb_bytes b;
  nb_bytes_init(&b);
  assert_int_equal(nb_linkfmt_encode(l, &b), NB_OK);
  t_assert_text(&b, want);
  nb_bytes_free(&b);
}

static void expect_path(const nb_lwm2m_links *l, size_t k, const char *path) {
  assert_true(k < l->len);
  nb_path p = t_path(path);
  assert_true(nb_path_equal(&l->items[k].path, &p));
}

static void test_register(void **state) {
  (void)state;
  const char *text = "</>;rt=\"oma.lwm2m\";ct=11543,</1/0>,</3/0>;ver=1.1,</5>,</3303/0>,</3303/1>";
  nb_lwm2m_links l;
  nb_lwm2m_links_init(&l);
  decode_ok(text, &l);
  assert_true(l.has_root);
  assert_true(l.rt_lwm2m);
  assert_string_equal(l.root, "");
  assert_int_equal(l.ct_count, 1);
  assert_int_equal(l.cts[0], 11543);
  assert_int_equal(l.len, 5);
  expect_path(&l, 0, "/1/0");
  expect_path(&l, 1, "/3/0");
  assert_true(l.items[1].attrs.set & NB_ATTR_VER);
  assert_string_equal(l.items[1].attrs.ver, "1.1");
  expect_path(&l, 2, "/5");
  expect_path(&l, 4, "/3303/1");
  encode_expect(&l, text);
  nb_lwm2m_links_deinit(&l);

  /* LwM2M 1.1: several Content-Formats in a quoted ct list; links without a root link. */
  nb_lwm2m_links_init(&l);
  decode_ok("</>;rt=\"oma.lwm2m\";ct=\"60 110 112 11542 11543\",</1>;ver=1.1,</1/0>", &l);
  assert_int_equal(l.ct_count, 5);
  assert_int_equal(l.cts[2], 112);
  encode_expect(&l, "</>;rt=\"oma.lwm2m\";ct=\"60 110 112 11542 11543\",</1>;ver=1.1,</1/0>");
  nb_lwm2m_links_deinit(&l);
  nb_lwm2m_links_init(&l);
  decode_ok("</1/0>,</3/0>", &l);
  assert_false(l.has_root);
  encode_expect(&l, "</1/0>,</3/0>");
  nb_lwm2m_links_deinit(&l);
  nb_lwm2m_links_init(&l);
  decode_ok("", &l);
  assert_int_equal(l.len, 0);
  nb_lwm2m_links_deinit(&l);
}

static void test_alternate_root(void **state) {
  (void)state;
  const char *text = "</lwm2m>;rt=\"oma.lwm2m\",</lwm2m/1/0>,</lwm2m/3/0>";
  nb_lwm2m_links l;
  nb_lwm2m_links_init(&l);
  decode_ok(text, &l);
  assert_string_equal(l.root, "/lwm2m");
  expect_path(&l, 1, "/3/0");
  encode_expect(&l, text);
  nb_lwm2m_links_deinit(&l);
  /* The root may come anywhere in the list. */
  nb_lwm2m_links_init(&l);
  decode_ok("</dm/1/0>, </dm/>;rt=\"oma.lwm2m\"", &l);
  assert_string_equal(l.root, "/dm");
  expect_path(&l, 0, "/1/0");
  nb_lwm2m_links_deinit(&l);
}

static void test_discover(void **state) {
  (void)state;
  const char *text =
      "</3/0>;pmin=10;pmax=60,</3/0/1>,</3/0/7>;dim=2;gt=50.5;lt=10;st=2.5,</3/0/7/0>,"
      "</3/0/13>;epmin=1;epmax=30";
  nb_lwm2m_links l;
  nb_lwm2m_links_init(&l);
  decode_ok(text, &l);
  assert_int_equal(l.len, 5);
  const nb_attrs *a = &l.items[0].attrs;
  assert_int_equal(a->set, NB_ATTR_PMIN | NB_ATTR_PMAX);
  assert_int_equal(a->pmin, 10);
  assert_int_equal(a->pmax, 60);
  a = &l.items[2].attrs;
  assert_int_equal(a->dim, 2);
  assert_true(a->gt == 50.5 && a->lt == 10 && a->st == 2.5);
  expect_path(&l, 3, "/3/0/7/0");
  assert_int_equal(l.items[4].attrs.epmax, 30);
  encode_expect(&l, text);
  nb_lwm2m_links_deinit(&l);
  /* Unknown attributes are ignored; quoted numbers are numbers. */
  nb_lwm2m_links_init(&l);
  decode_ok("</3/0/9>;title=\"Battery\";pmin=\"5\";obs", &l);
  assert_int_equal(l.items[0].attrs.set, NB_ATTR_PMIN);
  encode_expect(&l, "</3/0/9>;pmin=5");
  nb_lwm2m_links_deinit(&l);
}

static void test_bootstrap_discover(void **state) {
  (void)state;
  const char *text =
      "</>;lwm2m=1.1,</0/0>;ssid=101;uri=\"coaps://server.example:5684\",</0/1>,</1/0>;ssid=101,"
      "</3/0>";
  nb_lwm2m_links l;
  nb_lwm2m_links_init(&l);
  decode_ok(text, &l);
  assert_true(l.has_root);
  assert_false(l.rt_lwm2m);
  assert_string_equal(l.lwm2m, "1.1");
  assert_int_equal(l.items[0].attrs.ssid, 101);
  assert_string_equal(l.items[0].attrs.uri, "coaps://server.example:5684");
  encode_expect(&l, text);
  nb_lwm2m_links_deinit(&l);
  /* The LwM2M 1.0 form puts the version first, outside any link. */
  nb_lwm2m_links_init(&l);
  decode_ok("lwm2m=\"1.0\",</0>,</0/1>,</1>", &l);
  assert_string_equal(l.lwm2m, "1.0");
  assert_int_equal(l.len, 3);
  encode_expect(&l, "</>;lwm2m=1.0,</0>,</0/1>,</1>");
  nb_lwm2m_links_deinit(&l);
}

static void reject(const char *text) {
  nb_lwm2m_links l;
  nb_lwm2m_links_init(&l);
  nb_format_error fe = {0, NULL};
  char detail[160] = "";
  nb_err e = nb_linkfmt_decode((const uint8_t *)text, strlen(text), &l, &fe, detail, sizeof detail);
  if (e == NB_OK) fprintf(stderr, "accepted: %s\n", text);
  assert_int_not_equal(e, NB_OK);
  assert_int_equal(fe.code, NB_COAP_BAD_REQUEST);
  assert_non_null(fe.reason);
  assert_true(detail[0] != '\0');
  assert_int_equal(l.len, 0);
  assert_null(l.items);
  nb_lwm2m_links_deinit(&l);
}

static void test_rejects(void **state) {
  (void)state;
  reject("</1/0");                                      /* unterminated target */
  reject("</1/0>;");                                    /* empty parameter */
  reject("</1/0>,,</3/0>");                             /* empty link */
  reject("</1/0>;ver=\"1.1");                           /* unterminated quote */
  reject("</temp>");                                    /* not an LwM2M path */
  reject("</1/0/0/0/0>");                               /* too deep */
  reject("</65535>");                                   /* reserved id */
  reject("</3/0>;pmin=abc");                            /* bad number */
  reject("</3/0>;pmin=-1");                             /* negative period */
  reject("</3/0>;pmin=10;pmin=20");                     /* twice */
  reject("</3/0>;pmin=60;pmax=10");                     /* inconsistent */
  reject("</3/0/7>;dim=300");                           /* out of range */
  reject("</3>;ver=x");                                 /* not major.minor */
  reject("</0/0>;ssid=0");                              /* reserved ssid */
  reject("</3/0>;gt");                                  /* attribute without value */
  reject("</1/0>,</1/0>");                              /* duplicate link */
  reject("</>;rt=\"oma.lwm2m\",</x>;rt=\"oma.lwm2m\""); /* two roots */
  reject("</lwm2m>;rt=\"oma.lwm2m\",</1/0>");           /* outside the alternate root */
  reject("</>;rt=\"oma.lwm2m\";ct=abc");                /* bad ct */
  reject("</>;rt=\"oma.lwm2m\";ct=\"60 70000\"");
  reject("lwm2m=,</1>"); /* empty legacy version */
}

static void test_add_and_encode(void **state) {
  (void)state;
  nb_lwm2m_links l;
  nb_lwm2m_links_init(&l);
  l.has_root = true;
  l.rt_lwm2m = true;
  l.cts[l.ct_count++] = NB_COAP_CF_SENML_CBOR;
  for (uint16_t o = 0; o < 100; o++) {
    nb_path p = nb_path_inst(3303, o);
    nb_attrs a;
    nb_attrs_init(&a);
    if (o == 7) {
      a.set = NB_ATTR_PMAX;
      a.pmax = 300;
    }
    assert_int_equal(nb_lwm2m_links_add(&l, &p, &a), NB_OK);
  }
  nb_bytes b;
  nb_bytes_init(&b);
  assert_int_equal(nb_linkfmt_encode(&l, &b), NB_OK);
  nb_lwm2m_links back;
  nb_lwm2m_links_init(&back);
  nb_format_error fe;
  assert_int_equal(nb_linkfmt_decode(b.data, b.len, &back, &fe, NULL, 0), NB_OK);
  assert_int_equal(back.len, 100);
  assert_int_equal(back.items[7].attrs.pmax, 300);
  assert_int_equal(back.cts[0], 112);
  assert_non_null(strstr((char *)b.data, "</3303/7>;pmax=300,"));
  nb_lwm2m_links_deinit(&back);
  nb_bytes_free(&b);
  nb_lwm2m_links_deinit(&l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_register), cmocka_unit_test(test_alternate_root),
      cmocka_unit_test(test_discover), cmocka_unit_test(test_bootstrap_discover),
      cmocka_unit_test(test_rejects),  cmocka_unit_test(test_add_and_encode),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
