/* Content-format throughput: records encoded and decoded per second by each multi-value format
 * (TLV, LwM2M JSON, SenML JSON, SenML CBOR) for a Device object read (16 records) and for a
 * 100-resource object, against a memcpy of the same payload bytes measured in the same run.
 * Printed as ratios (how many times a memcpy of the payload is faster), which carry over between
 * machines better than absolute figures. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "coap/msg.h"
#include "lwm2m/format.h"
#include "lwm2m/model.h"

#define BENCH_MIN_SECONDS 0.25

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Keeps the compiler from dropping work whose result is otherwise unused. */
static void sink(const void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }

static void die(const char *what) {
  fprintf(stderr, "bench_formats: %s\n", what);
  exit(1);
}

static void add(nb_records *r, nb_path p, nb_value v) {
  if (nb_records_add(r, &p, &v) != NB_OK) die("out of memory");
}

static void add_str(nb_records *r, nb_path p, const char *s) {
  nb_value v = nb_value_none();
  if (nb_value_set_string(&v, s, strlen(s)) != NB_OK) die("out of memory");
  add(r, p, v);
}

static void device_records(nb_records *r) {
  add_str(r, nb_path_res(3, 0, 0), "Open Mobile Alliance");
  add_str(r, nb_path_res(3, 0, 1), "Lightweight M2M Client");
  add_str(r, nb_path_res(3, 0, 2), "345000123");
  add_str(r, nb_path_res(3, 0, 3), "1.0");
  add(r, nb_path_rinst(3, 0, 6, 0), nb_value_int(1));
  add(r, nb_path_rinst(3, 0, 6, 1), nb_value_int(5));
  add(r, nb_path_rinst(3, 0, 7, 0), nb_value_int(3800));
  add(r, nb_path_rinst(3, 0, 7, 1), nb_value_int(5000));
  add(r, nb_path_rinst(3, 0, 8, 0), nb_value_int(125));
  add(r, nb_path_rinst(3, 0, 8, 1), nb_value_int(900));
  add(r, nb_path_res(3, 0, 9), nb_value_int(100));
  add(r, nb_path_res(3, 0, 10), nb_value_int(15));
  add(r, nb_path_rinst(3, 0, 11, 0), nb_value_int(0));
  add(r, nb_path_res(3, 0, 13), nb_value_time(1367491215));
  add_str(r, nb_path_res(3, 0, 14), "+02:00");
  add_str(r, nb_path_res(3, 0, 16), "U");
}

/* Object 65100 with 100 resources cycling through Integer, Float, String and Boolean. */
#define BIG_OBJ 65100
#define BIG_N 100

static void add_big_object(nb_model *m) {
  static nb_resource_def res[BIG_N];
  static char names[BIG_N][16];
  static const nb_value_type types[] = {NB_VT_INT, NB_VT_FLOAT, NB_VT_STRING, NB_VT_BOOL};
  for (int k = 0; k < BIG_N; k++) {
    snprintf(names[k], sizeof names[k], "Res %d", k);
    res[k] =
        (nb_resource_def){(uint16_t)k, names[k], NB_OP_RW, false, false, types[k % 4], NULL, NULL};
  }
  nb_object_def def = {BIG_OBJ, "Bench", "1.0", NULL, true, false, res, BIG_N, NULL};
  nb_object_def *copy = nb_object_def_dup(&def);
  if (!copy || nb_model_add(m, copy) != NB_OK) die("cannot add the bench object");
}

static void big_records(nb_records *r) {
  for (int k = 0; k < BIG_N; k++) {
    nb_path p = nb_path_res(BIG_OBJ, 0, (uint16_t)k);
    switch (k % 4) {
      case 0:
        add(r, p, nb_value_int(k * 100003 - 4000000));
        break;
      case 1:
        add(r, p, nb_value_float(k * 0.37 + 21.5));
        break;
      case 2:
        add_str(r, p, "a value of moderate length");
        break;
      default:
        add(r, p, nb_value_bool(k & 1));
        break;
    }
  }
}

/* Payloads per second of memcpy of len bytes. Source and destination are cache-line aligned and
 * apart by a distance that is not a multiple of 4 KiB, so that the baseline does not depend on
 * where the allocator happened to put the payload. */
static double memcpy_rate(const uint8_t *payload, size_t len) {
  size_t gap = (len + 63) / 64 * 64 + 1088;
  uint8_t *area = aligned_alloc(64, (gap + len + 63) / 64 * 64);
  if (!area) die("out of memory");
  uint8_t *src = area, *dst = area + gap;
  memcpy(src, payload, len);
  size_t iters = 0, batch = 1024;
  double t0 = now_s(), t;
  do {
    for (size_t k = 0; k < batch; k++) {
      memcpy(dst, src, len);
      sink(dst);
    }
    iters += batch;
    t = now_s() - t0;
  } while (t < BENCH_MIN_SECONDS);
  free(area);
  return (double)iters / t;
}

static double encode_rate(int cf, const nb_records *r, const nb_path *base, const nb_model *m) {
  nb_bytes b;
  nb_bytes_init(&b);
  size_t iters = 0;
  double t0 = now_s(), t;
  do {
    for (int k = 0; k < 64; k++) {
      nb_bytes_clear(&b);
      if (nb_format_encode(cf, r, base, m, &b, NULL, NULL) != NB_OK) die("encode failed");
      sink(b.data);
    }
    iters += 64;
    t = now_s() - t0;
  } while (t < BENCH_MIN_SECONDS);
  nb_bytes_free(&b);
  return (double)iters / t;
}

static double decode_rate(int cf, const nb_bytes *in, const nb_path *base, const nb_model *m) {
  size_t iters = 0;
  double t0 = now_s(), t;
  do {
    for (int k = 0; k < 64; k++) {
      nb_records r;
      nb_records_init(&r);
      if (nb_format_decode(cf, in->data, in->len, base, m, &r, NULL, NULL) != NB_OK) {
        die("decode failed");
      }
      sink(r.items);
      nb_records_deinit(&r);
    }
    iters += 64;
    t = now_s() - t0;
  } while (t < BENCH_MIN_SECONDS);
  return (double)iters / t;
}

static void bench_set(const char *title, const nb_records *r, const nb_path *base,
                      const nb_model *m) {
  static const int formats[] = {NB_COAP_CF_LWM2M_TLV, NB_COAP_CF_LWM2M_JSON, NB_COAP_CF_SENML_JSON,
                                NB_COAP_CF_SENML_CBOR};
  printf("\n%s: %zu records\n", title, r->len);
  printf("%-11s %7s %14s %14s %16s %16s\n", "format", "bytes", "encode rec/s", "decode rec/s",
         "encode/memcpy", "decode/memcpy");
  for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
    nb_bytes payload;
    nb_bytes_init(&payload);
    if (nb_format_encode(formats[f], r, base, m, &payload, NULL, NULL) != NB_OK) die("encode");
    double copy = memcpy_rate(payload.data, payload.len);
    double enc = encode_rate(formats[f], r, base, m);
    double dec = decode_rate(formats[f], &payload, base, m);
    /* Ratio: how many payload copies memcpy does in the time the codec handles one payload. */
    printf("%-11s %7zu %14.0f %14.0f %15.1fx %15.1fx\n", nb_format_name(formats[f]), payload.len,
           enc * (double)r->len, dec * (double)r->len, copy / enc, copy / dec);
    nb_bytes_free(&payload);
  }
}

int main(void) {
  nb_model *m = nb_model_new();
  if (!m) die("out of memory");
  add_big_object(m);
  printf("bench_formats: LwM2M content formats vs memcpy of the same payload (same run)\n");
  nb_records dev;
  nb_records_init(&dev);
  device_records(&dev);
  nb_path dev_base = nb_path_inst(3, 0);
  bench_set("Device object read /3/0", &dev, &dev_base, m);
  nb_records big;
  nb_records_init(&big);
  big_records(&big);
  nb_path big_base = nb_path_inst(BIG_OBJ, 0);
  bench_set("100-resource object read /65100/0", &big, &big_base, m);
  nb_records_deinit(&big);
  nb_records_deinit(&dev);
  nb_model_free(m);
  return 0;
}
