/* CoAP codec: RFC 7252 examples, extended encodings, every format error, builder, options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "coap/msg.h"
#include "lwm2m/path.h"
#include "nb_test.h"

static nb_err parse_hex(const char *hex, nb_coap_msg *msg, uint8_t *buf, size_t cap) {
  ssize_t n = nb_test_unhex(hex, buf, cap);
  assert_true(n >= 0);
  return nb_coap_parse(buf, (size_t)n, msg);
}

/* Serializes msg and compares with the expected hex. */
static void assert_serializes_to(const nb_coap_msg *msg, const char *hex) {
  uint8_t want[512], got[512];
  ssize_t n = nb_test_unhex(hex, want, sizeof want);
  size_t len = 0;
  assert_int_equal(nb_coap_serialize(msg, got, sizeof got, &len), NB_OK);
  assert_int_equal(len, (size_t)n);
  assert_int_equal(nb_coap_serialized_size(msg), len);
  assert_memory_equal(got, want, len);
}

/* RFC 7252 appendix A, figure 16: CON GET /temperature with a 1-byte token. */
static void test_rfc7252_get_with_token(void **state) {
  (void)state;
  const char *hex = "41 01 7d 34 20 bb 74 65 6d 70 65 72 61 74 75 72 65";
  uint8_t buf[64];
  nb_coap_msg msg;
  assert_int_equal(parse_hex(hex, &msg, buf, sizeof buf), NB_OK);
  assert_int_equal(msg.type, NB_COAP_CON);
  assert_int_equal(msg.code, NB_COAP_GET);
  assert_int_equal(msg.mid, 0x7d34);
  assert_int_equal(msg.token_len, 1);
  assert_int_equal(msg.token[0], 0x20);
  assert_int_equal(msg.option_count, 1);
  char path[64];
  assert_int_equal(nb_coap_msg_get_path(&msg, NB_COAP_OPT_URI_PATH, path, sizeof path), NB_OK);
  assert_string_equal(path, "/temperature");
  assert_int_equal(msg.payload_len, 0);
  assert_serializes_to(&msg, hex);
}

/* RFC 7252 appendix A: piggybacked ACK 2.05 "22.3 C" with the same token. */
static void test_rfc7252_piggybacked_response(void **state) {
  (void)state;
  const char *hex = "61 45 7d 34 20 ff 32 32 2e 33 20 43";
  uint8_t buf[64];
  nb_coap_msg msg;
  assert_int_equal(parse_hex(hex, &msg, buf, sizeof buf), NB_OK);
  assert_int_equal(msg.type, NB_COAP_ACK);
  assert_int_equal(msg.code, NB_COAP_CONTENT);
  assert_int_equal(msg.payload_len, 6);
  assert_memory_equal(msg.payload, "22.3 C", 6);
  assert_serializes_to(&msg, hex);
}

static void test_build_matches_rfc_example(void **state) {
  (void)state;
  nb_coap_msg msg;
  nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_GET, 0x7d34);
  uint8_t token = 0x20;
  assert_int_equal(nb_coap_msg_set_token(&msg, &token, 1), NB_OK);
  assert_int_equal(nb_coap_msg_add_path(&msg, NB_COAP_OPT_URI_PATH, "/temperature"), NB_OK);
  assert_serializes_to(&msg, "41 01 7d 34 20 bb 74 65 6d 70 65 72 61 74 75 72 65");
}

static void test_empty_messages(void **state) {
  (void)state;
  uint8_t buf[16];
  nb_coap_msg msg;
  assert_int_equal(parse_hex("60 00 12 34", &msg, buf, sizeof buf), NB_OK);
  assert_int_equal(msg.type, NB_COAP_ACK);
  assert_int_equal(msg.code, NB_COAP_EMPTY);
  assert_int_equal(parse_hex("70 00 12 34", &msg, buf, sizeof buf), NB_OK); /* RST */
  /* An Empty message with a token, an option or a payload is a format error. */
  assert_int_equal(parse_hex("61 00 12 34 aa", &msg, buf, sizeof buf), NB_ERR_COAP_EMPTY_MSG);
  assert_int_equal(parse_hex("60 00 12 34 ff 01", &msg, buf, sizeof buf), NB_ERR_COAP_EMPTY_MSG);
}

/* Delta 13 (one extension byte) and 14 (two), length 13 and 14. */
static void test_extended_option_encodings(void **state) {
  (void)state;
  nb_coap_msg msg;
  nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_PUT, 1);
  uint8_t big[300];
  memset(big, 'x', sizeof big);
  assert_int_equal(nb_coap_msg_add_uint(&msg, NB_COAP_OPT_SIZE1, 1024), NB_OK); /* delta 60 */
  assert_int_equal(nb_coap_msg_add_option(&msg, 2000, big, 20), NB_OK);         /* delta 1940 */
  assert_int_equal(nb_coap_msg_add_option(&msg, 2001, big, sizeof big), NB_OK); /* len 300 */
  uint8_t out[512];
  size_t len;
  assert_int_equal(nb_coap_serialize(&msg, out, sizeof out, &len), NB_OK);
  /* header, then Size1: delta 13 ext 47, len 2 */
  assert_int_equal(out[4], 0xd2);
  assert_int_equal(out[5], 60 - 13);
  /* option 2000: delta 1940 -> nibble 14, ext 1671 = 0x0687; len 20 -> nibble 13 ext 7 */
  assert_int_equal(out[8], 0xed);
  assert_int_equal(out[9], 0x06);
  assert_int_equal(out[10], 0x87);
  assert_int_equal(out[11], 7);
  /* option 2001: delta 1, len 300 -> nibble 14, ext 300-269 = 31 */
  assert_int_equal(out[32], 0x1e);
  assert_int_equal(out[33], 0x00);
  assert_int_equal(out[34], 31);
  nb_coap_msg back;
  assert_int_equal(nb_coap_parse(out, len, &back), NB_OK);
  assert_int_equal(back.option_count, 3);
  assert_int_equal(back.options[1].number, 2000);
  assert_int_equal(back.options[2].number, 2001);
  assert_int_equal(back.options[2].len, 300);
  uint32_t size1;
  assert_int_equal(nb_coap_msg_get_uint(&back, NB_COAP_OPT_SIZE1, &size1), NB_OK);
  assert_int_equal(size1, 1024);
}

static void test_format_errors(void **state) {
  (void)state;
  uint8_t buf[64];
  nb_coap_msg msg;
  struct {
    const char *hex;
    nb_err want;
  } cases[] = {
      {"40 01 00", NB_ERR_COAP_SHORT},
      {"", NB_ERR_COAP_SHORT},
      {"80 01 00 01", NB_ERR_COAP_VERSION}, /* version 2 */
      {"00 01 00 01", NB_ERR_COAP_VERSION}, /* version 0 */
      {"49 01 00 01 01 02 03 04 05 06 07 08 09", NB_ERR_COAP_TOKEN_LEN},
      {"4f 01 00 01", NB_ERR_COAP_TOKEN_LEN},
      {"44 01 00 01 aa bb", NB_ERR_COAP_TRUNCATED},    /* token past the end */
      {"40 01 00 01 f1 00", NB_ERR_COAP_OPT_RESERVED}, /* delta nibble 15 */
      {"40 01 00 01 bf 00", NB_ERR_COAP_OPT_RESERVED}, /* length nibble 15 */
      {"40 01 00 01 ff", NB_ERR_COAP_EMPTY_PAYLOAD},
      {"40 01 00 01 b3 61 62", NB_ERR_COAP_TRUNCATED},  /* value past the end */
      {"40 01 00 01 d1", NB_ERR_COAP_TRUNCATED},        /* missing delta extension */
      {"40 01 00 01 e1 01", NB_ERR_COAP_TRUNCATED},     /* half a 2-byte extension */
      {"40 01 00 01 1d", NB_ERR_COAP_TRUNCATED},        /* missing length extension */
      {"40 01 00 01 e0 ff ff", NB_ERR_COAP_OPT_NUMBER}, /* 269 + 65535 > 65535 */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    nb_err got = parse_hex(cases[i].hex, &msg, buf, sizeof buf);
    if (got != cases[i].want) {
      fail_msg("case %zu (%s): got %s, want %s", i, cases[i].hex, nb_err_name(got),
               nb_err_name(cases[i].want));
    }
  }
}

static void test_too_many_options(void **state) {
  (void)state;
  uint8_t buf[4 + NB_COAP_MAX_OPTIONS + 1];
  buf[0] = 0x40;
  buf[1] = NB_COAP_GET;
  buf[2] = buf[3] = 0;
  memset(buf + 4, 0x00, sizeof buf - 4); /* delta 0 length 0: repeats of option 0 */
  nb_coap_msg msg;
  assert_int_equal(nb_coap_parse(buf, sizeof buf - 1, &msg), NB_OK);
  assert_int_equal(nb_coap_parse(buf, sizeof buf, &msg), NB_ERR_COAP_TOO_MANY_OPTS);
}

/* The wide parse reads any number of options a datagram holds into the caller's array, and the
 * option-list readers see them all: a Uri-Path after 200 unknown elective options, and the
 * queries after them. A cap that fills up is refused like the fixed parse. */
static void test_wide_parse_reads_every_option(void **state) {
  (void)state;
  uint8_t buf[512];
  size_t n = 0;
  buf[n++] = 0x41; /* CON, token length 1 */
  buf[n++] = NB_COAP_PUT;
  buf[n++] = 0x12;
  buf[n++] = 0x34;
  buf[n++] = 0x77;
  /* Uri-Path "5", "0", "1" (option 11), then 200 times option 2048 (unknown, elective)... */
  buf[n++] = 0xb1, buf[n++] = '5';
  buf[n++] = 0x01, buf[n++] = '0';
  buf[n++] = 0x01, buf[n++] = '1';
  buf[n++] = 0xe0, buf[n++] = (uint8_t)((2048 - 11 - 269) >> 8),
  buf[n++] = (uint8_t)(2048 - 11 - 269);
  for (int i = 1; i < 200; i++) buf[n++] = 0x00;
  buf[n++] = 0xff;
  memcpy(buf + n, "http://x", 8);
  n += 8;
  nb_coap_msg msg;
  assert_int_equal(nb_coap_parse(buf, n, &msg), NB_ERR_COAP_TOO_MANY_OPTS);
  nb_coap_option opts[512];
  nb_coap_optlist list;
  assert_int_equal(nb_coap_parse_wide(buf, n, &msg, opts, n, &list), NB_OK);
  assert_int_equal(list.count, 203);
  assert_int_equal(msg.option_count, 0);
  assert_int_equal(msg.code, NB_COAP_PUT);
  assert_int_equal(msg.token_len, 1);
  assert_int_equal(msg.payload_len, 8);
  assert_memory_equal(msg.payload, "http://x", 8);
  char path[32];
  assert_int_equal(nb_coap_optlist_get_path(&list, NB_COAP_OPT_URI_PATH, path, sizeof path), NB_OK);
  assert_string_equal(path, "/5/0/1");
  assert_int_equal(nb_coap_optlist_count(&list, 2048), 200);
  uint16_t bad = 0;
  assert_int_equal(nb_coap_optlist_check(&list, &bad), NB_OK); /* electives are ignored */
  nb_path p;
  assert_int_equal(nb_path_from_optlist(&list, &p), NB_OK);
  assert_true(nb_path_equal(&p, &(nb_path){{5, 0, 1, 0}, 3}));
  /* A cap smaller than the option count is refused, not overrun. */
  assert_int_equal(nb_coap_parse_wide(buf, n, &msg, opts, 100, &list), NB_ERR_COAP_TOO_MANY_OPTS);
  /* A message within the fixed bound reads the same both ways. */
  static const uint8_t small[] = {0x40, 0x01, 0, 1, 0xb1, '3', 0x01, '0', 0x41, 'x'};
  assert_int_equal(nb_coap_parse_wide(small, sizeof small, &msg, opts, sizeof small, &list), NB_OK);
  assert_int_equal(list.count, 3);
  assert_int_equal(nb_coap_optlist_get_query(&list, NB_COAP_OPT_URI_QUERY, "x", path, sizeof path),
                   NB_OK);
}

static void test_builder_sorts_and_keeps_repeat_order(void **state) {
  (void)state;
  nb_coap_msg msg;
  nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_POST, 7);
  assert_int_equal(nb_coap_msg_add_query(&msg, NB_COAP_OPT_URI_QUERY, "ep=dev1"), NB_OK);
  assert_int_equal(nb_coap_msg_add_path(&msg, NB_COAP_OPT_URI_PATH, "/rd"), NB_OK);
  assert_int_equal(nb_coap_msg_add_uint(&msg, NB_COAP_OPT_CONTENT_FORMAT, 40), NB_OK);
  assert_int_equal(nb_coap_msg_add_query(&msg, NB_COAP_OPT_URI_QUERY, "lt=300"), NB_OK);
  assert_int_equal(msg.options[0].number, NB_COAP_OPT_URI_PATH);
  assert_int_equal(msg.options[1].number, NB_COAP_OPT_CONTENT_FORMAT);
  assert_memory_equal(msg.options[2].value, "ep=dev1", 7);
  assert_memory_equal(msg.options[3].value, "lt=300", 6);
  char v[16];
  assert_int_equal(nb_coap_msg_get_query(&msg, NB_COAP_OPT_URI_QUERY, "lt", v, sizeof v), NB_OK);
  assert_string_equal(v, "300");
  assert_int_equal(nb_coap_msg_get_query(&msg, NB_COAP_OPT_URI_QUERY, "e", v, sizeof v),
                   NB_ERR_NOT_FOUND);
  assert_int_equal(nb_coap_msg_get_query(&msg, NB_COAP_OPT_URI_QUERY, "ep", v, 4), NB_ERR_OVERFLOW);
  assert_int_equal(nb_coap_msg_content_format(&msg), 40);
  assert_int_equal(nb_coap_msg_accept(&msg), NB_COAP_CF_NONE);
  nb_coap_msg_remove_option(&msg, NB_COAP_OPT_URI_QUERY);
  assert_int_equal(msg.option_count, 2);
  assert_int_equal(nb_coap_msg_count(&msg, NB_COAP_OPT_URI_QUERY), 0);
}

static void test_uint_encoding(void **state) {
  (void)state;
  nb_coap_msg msg;
  nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_GET, 1);
  assert_int_equal(nb_coap_msg_add_uint(&msg, NB_COAP_OPT_OBSERVE, 0), NB_OK);
  assert_int_equal(msg.options[0].len, 0); /* 0 is the empty value */
  assert_int_equal(nb_coap_msg_add_uint(&msg, NB_COAP_OPT_CONTENT_FORMAT, 11542), NB_OK);
  assert_int_equal(msg.options[1].len, 2);
  assert_int_equal(nb_coap_msg_add_uint(&msg, NB_COAP_OPT_MAX_AGE, 0x01000000), NB_OK);
  assert_int_equal(msg.options[2].len, 4);
  uint32_t v = 99;
  assert_int_equal(nb_coap_msg_get_uint(&msg, NB_COAP_OPT_OBSERVE, &v), NB_OK);
  assert_int_equal(v, 0);
  assert_int_equal(nb_coap_msg_get_uint(&msg, NB_COAP_OPT_MAX_AGE, &v), NB_OK);
  assert_int_equal(v, 0x01000000);
  assert_int_equal(nb_coap_msg_get_uint(&msg, NB_COAP_OPT_SIZE2, &v), NB_ERR_NOT_FOUND);
  uint8_t five[5] = {1, 2, 3, 4, 5};
  assert_int_equal(nb_coap_msg_add_option(&msg, NB_COAP_OPT_SIZE2, five, 5), NB_OK);
  assert_int_equal(nb_coap_msg_get_uint(&msg, NB_COAP_OPT_SIZE2, &v), NB_ERR_RANGE);
}

static void test_path_percent_encoding(void **state) {
  (void)state;
  nb_coap_msg msg;
  char path[64];
  nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_GET, 1);
  assert_int_equal(nb_coap_msg_get_path(&msg, NB_COAP_OPT_URI_PATH, path, sizeof path), NB_OK);
  assert_string_equal(path, "/");
  assert_int_equal(nb_coap_msg_add_path(&msg, NB_COAP_OPT_URI_PATH, "/a%2Fb/c d/3"), NB_OK);
  assert_int_equal(msg.option_count, 3);
  assert_int_equal(msg.options[0].len, 3); /* "a/b" is one segment */
  assert_memory_equal(msg.options[0].value, "a/b", 3);
  assert_int_equal(nb_coap_msg_get_path(&msg, NB_COAP_OPT_URI_PATH, path, sizeof path), NB_OK);
  assert_string_equal(path, "/a%2Fb/c%20d/3");
  assert_int_equal(nb_coap_msg_get_path(&msg, NB_COAP_OPT_URI_PATH, path, 8), NB_ERR_OVERFLOW);
  nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_GET, 1);
  assert_int_equal(nb_coap_msg_add_path(&msg, NB_COAP_OPT_URI_PATH, "/bad%2"), NB_ERR_SYNTAX);
  assert_int_equal(nb_coap_msg_add_path(&msg, NB_COAP_OPT_URI_PATH, "/bad%zz"), NB_ERR_SYNTAX);
  nb_coap_msg_init(&msg, NB_COAP_ACK, NB_COAP_CREATED, 1);
  assert_int_equal(nb_coap_msg_add_path(&msg, NB_COAP_OPT_LOCATION_PATH, "rd/5a3f"), NB_OK);
  assert_int_equal(nb_coap_msg_get_path(&msg, NB_COAP_OPT_LOCATION_PATH, path, sizeof path), NB_OK);
  assert_string_equal(path, "/rd/5a3f");
}

/* The text get_path writes for a long segment of bytes that need escapes (three characters
 * each) reads back: add_path bounded the segment's text to 256 characters instead of its
 * decoded bytes (found by fuzz/uri.c). */
static void test_path_long_escaped_segment_reads_back(void **state) {
  (void)state;
  nb_coap_msg a, b;
  uint8_t seg[200];
  memset(seg, 0x80, sizeof seg);
  nb_coap_msg_init(&a, NB_COAP_CON, NB_COAP_GET, 1);
  assert_int_equal(nb_coap_msg_add_option(&a, NB_COAP_OPT_URI_PATH, seg, sizeof seg), NB_OK);
  char path[700];
  assert_int_equal(nb_coap_msg_get_path(&a, NB_COAP_OPT_URI_PATH, path, sizeof path), NB_OK);
  assert_int_equal(strlen(path), 1 + 3 * sizeof seg);
  nb_coap_msg_init(&b, NB_COAP_CON, NB_COAP_GET, 1);
  assert_int_equal(nb_coap_msg_add_path(&b, NB_COAP_OPT_URI_PATH, path), NB_OK);
  assert_int_equal(b.option_count, 1);
  assert_int_equal(b.options[0].len, sizeof seg);
  assert_memory_equal(b.options[0].value, seg, sizeof seg);
  /* Past 256 decoded bytes a segment is still refused. */
  char big[1 + 3 * 257 + 1] = "/";
  for (size_t k = 0; k < 257; k++) memcpy(big + 1 + 3 * k, "%41", 4);
  nb_coap_msg_init(&b, NB_COAP_CON, NB_COAP_GET, 1);
  assert_int_equal(nb_coap_msg_add_path(&b, NB_COAP_OPT_URI_PATH, big), NB_ERR_RANGE);
}

static void test_builder_limits(void **state) {
  (void)state;
  nb_coap_msg msg;
  nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_GET, 1);
  uint8_t token[9] = {0};
  assert_int_equal(nb_coap_msg_set_token(&msg, token, 9), NB_ERR_COAP_TOKEN_LEN);
  static uint8_t big[NB_COAP_OPT_STORE + 1];
  assert_int_equal(nb_coap_msg_add_option(&msg, 2000, big, sizeof big), NB_ERR_OVERFLOW);
  for (int i = 0; i < NB_COAP_MAX_OPTIONS; i++) {
    assert_int_equal(nb_coap_msg_add_option(&msg, NB_COAP_OPT_URI_PATH, "a", 1), NB_OK);
  }
  assert_int_equal(nb_coap_msg_add_option(&msg, NB_COAP_OPT_URI_PATH, "a", 1),
                   NB_ERR_COAP_TOO_MANY_OPTS);
  uint8_t out[8];
  size_t len;
  assert_int_equal(nb_coap_serialize(&msg, out, sizeof out, &len), NB_ERR_OVERFLOW);
}

static void test_serialize_rejects_unsorted_options(void **state) {
  (void)state;
  nb_coap_msg msg;
  nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_GET, 1);
  nb_coap_msg_add_uint(&msg, NB_COAP_OPT_CONTENT_FORMAT, 0);
  nb_coap_msg_add_path(&msg, NB_COAP_OPT_URI_PATH, "/x");
  nb_coap_option tmp = msg.options[0]; /* edit by hand into descending order */
  msg.options[0] = msg.options[1];
  msg.options[1] = tmp;
  uint8_t out[64];
  size_t len;
  assert_int_equal(nb_coap_serialize(&msg, out, sizeof out, &len), NB_ERR_COAP_OPT_ORDER);
}

static void test_check_options(void **state) {
  (void)state;
  nb_coap_msg msg;
  uint16_t bad = 0;
  nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_GET, 1);
  nb_coap_msg_add_path(&msg, NB_COAP_OPT_URI_PATH, "/a/b");
  nb_coap_msg_add_option(&msg, 2048, "x", 1); /* unknown elective: ignored */
  nb_coap_msg_add_uint(&msg, NB_COAP_OPT_MAX_AGE, 1);
  nb_coap_msg_add_uint(&msg, NB_COAP_OPT_MAX_AGE, 2); /* repeated elective: ignored */
  assert_int_equal(nb_coap_msg_check_options(&msg, &bad), NB_OK);
  nb_coap_msg_add_option(&msg, 9, "x", 1); /* unknown critical */
  assert_int_equal(nb_coap_msg_check_options(&msg, &bad), NB_ERR_COAP_BAD_OPTION);
  assert_int_equal(bad, 9);

  nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_GET, 1);
  nb_coap_msg_add_option(&msg, NB_COAP_OPT_IF_NONE_MATCH, "x", 1); /* must be empty */
  assert_int_equal(nb_coap_msg_check_options(&msg, &bad), NB_ERR_COAP_BAD_OPTION);
  assert_int_equal(bad, NB_COAP_OPT_IF_NONE_MATCH);

  nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_GET, 1);
  nb_coap_msg_add_string(&msg, NB_COAP_OPT_URI_HOST, "a");
  nb_coap_msg_add_string(&msg, NB_COAP_OPT_URI_HOST, "b"); /* critical, not repeatable */
  assert_int_equal(nb_coap_msg_check_options(&msg, &bad), NB_ERR_COAP_BAD_OPTION);
  assert_int_equal(bad, NB_COAP_OPT_URI_HOST);

  nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_GET, 1);
  uint8_t four[4] = {0};
  nb_coap_msg_add_option(&msg, NB_COAP_OPT_BLOCK2, four, 4); /* Block2 is at most 3 bytes */
  assert_int_equal(nb_coap_msg_check_options(&msg, &bad), NB_ERR_COAP_BAD_OPTION);
  assert_int_equal(bad, NB_COAP_OPT_BLOCK2);
}

static void test_option_registry(void **state) {
  (void)state;
  const nb_coap_option_def *d = nb_coap_option_def_find(NB_COAP_OPT_OBSERVE);
  assert_non_null(d);
  assert_string_equal(d->name, "Observe");
  assert_int_equal(d->format, NB_COAP_FMT_UINT);
  assert_int_equal(d->max_len, 3);
  assert_null(nb_coap_option_def_find(9));
  assert_true(nb_coap_option_is_critical(NB_COAP_OPT_URI_PATH));
  assert_false(nb_coap_option_is_critical(NB_COAP_OPT_CONTENT_FORMAT));
  assert_true(nb_coap_option_is_unsafe(NB_COAP_OPT_URI_HOST));
  assert_true(nb_coap_option_is_nocachekey(NB_COAP_OPT_SIZE1));
  assert_false(nb_coap_option_is_nocachekey(NB_COAP_OPT_ACCEPT));
}

static void test_codes(void **state) {
  (void)state;
  char buf[8];
  assert_string_equal(nb_coap_code_format(NB_COAP_CONTENT, buf), "2.05");
  assert_string_equal(nb_coap_code_format(NB_COAP_UNSUPPORTED_CONTENT_FORMAT, buf), "4.15");
  assert_string_equal(nb_coap_code_name(NB_COAP_NOT_FOUND), "Not Found");
  assert_string_equal(nb_coap_code_name(NB_COAP_CODE(3, 1)), "Unknown");
  assert_true(nb_coap_is_request(NB_COAP_FETCH));
  assert_false(nb_coap_is_request(NB_COAP_EMPTY));
  assert_true(nb_coap_is_response(NB_COAP_GATEWAY_TIMEOUT));
  assert_false(nb_coap_is_response(NB_COAP_CODE(1, 0)));
  assert_string_equal(nb_coap_type_name(NB_COAP_RST), "RST");
}

/* Every byte prefix of a valid message either parses or fails cleanly, never reads past. */
static void test_truncations_never_overread(void **state) {
  (void)state;
  uint8_t full[64];
  ssize_t n = nb_test_unhex("44 02 12 34 01 02 03 04 b2 72 64 45 65 70 3d 61 62 ff 3c 2f 3e", full,
                            sizeof full);
  for (ssize_t len = 0; len <= n; len++) {
    uint8_t *copy = test_malloc((size_t)len + 1); /* exact size: ASan catches overreads */
    memcpy(copy, full, (size_t)len);
    nb_coap_msg msg;
    nb_err err = nb_coap_parse(copy, (size_t)len, &msg);
    if (len == n) assert_int_equal(err, NB_OK);
    test_free(copy);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc7252_get_with_token),
      cmocka_unit_test(test_rfc7252_piggybacked_response),
      cmocka_unit_test(test_build_matches_rfc_example),
      cmocka_unit_test(test_empty_messages),
      cmocka_unit_test(test_extended_option_encodings),
      cmocka_unit_test(test_format_errors),
      cmocka_unit_test(test_too_many_options),
      cmocka_unit_test(test_wide_parse_reads_every_option),
      cmocka_unit_test(test_builder_sorts_and_keeps_repeat_order),
      cmocka_unit_test(test_uint_encoding),
      cmocka_unit_test(test_path_percent_encoding),
      cmocka_unit_test(test_path_long_escaped_segment_reads_back),
      cmocka_unit_test(test_builder_limits),
      cmocka_unit_test(test_serialize_rejects_unsorted_options),
      cmocka_unit_test(test_check_options),
      cmocka_unit_test(test_option_registry),
      cmocka_unit_test(test_codes),
      cmocka_unit_test(test_truncations_never_overread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
