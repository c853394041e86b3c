/* bench/coap_codec: CoAP messages parsed and serialized per second for typical LwM2M
 * messages, as a ratio against memcpy of the same bytes in the same run.
 * Usage: bench_coap_codec [SECONDS_PER_CASE]  (default 1) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coap/msg.h"

/* Keeps results observable so the compiler cannot drop the measured work. */
static volatile uint64_t nb_bench_sink;

static double nb_bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
  const char *name;
  uint8_t bytes[512];
  size_t len;
} nb_bench_case;

static void nb_bench_build_register(nb_bench_case *c) {
  static const char links[] = "</>;rt=\"oma.lwm2m\";ct=11543,</1/0>,</3/0>,</4/0>,</5/0>,</3303/0>";
  static const uint8_t token[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_POST, 0x1234);
  nb_coap_msg_set_token(&m, token, sizeof token);
  nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/rd");
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_LINK_FORMAT);
  nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, "ep=urn:imei:490154203237518");
  nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, "lt=300");
  nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, "lwm2m=1.1");
  nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, "b=U");
  nb_coap_msg_set_payload(&m, links, sizeof links - 1);
  c->name = "register";
  nb_coap_serialize(&m, c->bytes, sizeof c->bytes, &c->len);
}

static void nb_bench_build_tlv_content(nb_bench_case *c) {
  /* A 2.05 carrying a Device object instance in TLV (about 120 bytes). */
  static const uint8_t tlv[] = {
      0xc8, 0x00, 0x14, 'O',  'p',  'e',  'n',  ' ',  'M',  'o',  'b',  'i',  'l',  'e',
      ' ',  'A',  'l',  'l',  'i',  'a',  'n',  'c',  'e',  0xc8, 0x01, 0x16, 'L',  'i',
      'g',  'h',  't',  'w',  'e',  'i',  'g',  'h',  't',  ' ',  'M',  '2',  'M',  ' ',
      'C',  'l',  'i',  'e',  'n',  't',  0xc8, 0x02, 0x09, '3',  '4',  '5',  '0',  '0',
      '0',  '1',  '2',  '3',  0xc3, 0x03, '1',  '.',  '0',  0x86, 0x06, 0x41, 0x00, 0x01,
      0x41, 0x01, 0x05, 0x88, 0x07, 0x08, 0x42, 0x00, 0x0e, 0xd8, 0x42, 0x01, 0x13, 0x88,
      0x87, 0x08, 0x41, 0x00, 0x7d, 0x42, 0x01, 0x03, 0x84, 0xc1, 0x09, 0x64, 0xc1, 0x0a,
      0x0f, 0x83, 0x0b, 0x41, 0x00, 0x00, 0xc4, 0x0d, 0x51, 0x82, 0x42, 0x8f, 0xc6, 0x0e,
      '+',  '0',  '2',  ':',  '0',  '0',  0xc1, 0x10, 'U'};
  static const uint8_t token[4] = {0xde, 0xad, 0xbe, 0xef};
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_ACK, NB_COAP_CONTENT, 0x4321);
  nb_coap_msg_set_token(&m, token, sizeof token);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_LWM2M_TLV);
  nb_coap_msg_set_payload(&m, tlv, sizeof tlv);
  c->name = "content_tlv";
  nb_coap_serialize(&m, c->bytes, sizeof c->bytes, &c->len);
}

static void nb_bench_build_notification(nb_bench_case *c) {
  static const char senml[] = "[{\"bn\":\"/3303/0/\",\"n\":\"5700\",\"v\":21.5}]";
  static const uint8_t token[8] = {9, 8, 7, 6, 5, 4, 3, 2};
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_NON, NB_COAP_CONTENT, 0x0042);
  nb_coap_msg_set_token(&m, token, sizeof token);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_OBSERVE, 1234);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_SENML_JSON);
  nb_coap_msg_set_payload(&m, senml, sizeof senml - 1);
  c->name = "notification";
  nb_coap_serialize(&m, c->bytes, sizeof c->bytes, &c->len);
}

/* Runs op over the case for about `seconds`; returns operations per second. */
typedef void (*nb_bench_op)(const nb_bench_case *c, uint8_t *scratch);

static double nb_bench_rate(nb_bench_op op, const nb_bench_case *c, double seconds) {
  uint8_t scratch[512];
  uint64_t n = 0;
  double start = nb_bench_now(), elapsed;
  do {
    for (int i = 0; i < 1000; i++) op(c, scratch);
    n += 1000;
    elapsed = nb_bench_now() - start;
  } while (elapsed < seconds);
  return (double)n / elapsed;
}

static void nb_bench_memcpy(const nb_bench_case *c, uint8_t *scratch) {
  memcpy(scratch, c->bytes, c->len);
  nb_bench_sink += scratch[c->len - 1];
  __asm__ volatile("" ::"r"(scratch) : "memory");
}

static void nb_bench_parse(const nb_bench_case *c, uint8_t *scratch) {
  nb_coap_msg m;
  (void)scratch;
  if (nb_coap_parse(c->bytes, c->len, &m) != NB_OK) abort();
  nb_bench_sink += m.option_count;
}

static void nb_bench_serialize(const nb_bench_case *c, uint8_t *scratch) {
  /* Parsed once per call too: serialize needs a message; the parse cost is reported alone. */
  static nb_coap_msg m;
  static const nb_bench_case *parsed;
  size_t len;
  if (parsed != c) {
    nb_coap_parse(c->bytes, c->len, &m);
    parsed = c;
  }
  if (nb_coap_serialize(&m, scratch, 512, &len) != NB_OK) abort();
  nb_bench_sink += len;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 1.0;
  if (seconds <= 0) {
    fprintf(stderr, "usage: bench_coap_codec [SECONDS_PER_CASE]\n");
    return 2;
  }
  nb_bench_case cases[3];
  nb_bench_build_register(&cases[0]);
  nb_bench_build_tlv_content(&cases[1]);
  nb_bench_build_notification(&cases[2]);
  printf("%-14s %6s %14s %14s %14s %10s %10s\n", "message", "bytes", "memcpy/s", "parse/s",
         "serialize/s", "parse", "serialize");
  for (size_t i = 0; i < 3; i++) {
    double base = nb_bench_rate(nb_bench_memcpy, &cases[i], seconds);
    double parse = nb_bench_rate(nb_bench_parse, &cases[i], seconds);
    double ser = nb_bench_rate(nb_bench_serialize, &cases[i], seconds);
    printf("%-14s %6zu %14.0f %14.0f %14.0f %9.3fx %9.3fx\n", cases[i].name, cases[i].len, base,
           parse, ser, parse / base, ser / base);
  }
  printf("(ratios: operations per second relative to memcpy of the same bytes)\n");
  return 0;
}
