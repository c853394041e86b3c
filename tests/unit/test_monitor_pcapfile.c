/* The capture-file reader: classic pcap in both byte orders with microsecond, nanosecond and
 * modified record headers; pcapng sections of both byte orders with interfaces of different
 * link types, timestamp resolutions (10^-9, 2^-10) and offsets, Enhanced, Simple and obsolete
 * Packet blocks and skipped blocks; input fed in every split; cut-short and damaged files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "monitor/pcapfile.h"

/* A file image built in memory, in either byte order. */
typedef struct {
  uint8_t b[4096];
  size_t n;
  bool le;
} t_img;

static void put(t_img *f, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) {
    int shift = f->le ? 8 * i : 8 * (bytes - 1 - i);
    f->b[f->n++] = (uint8_t)(v >> shift);
  }
}

/* Packet data with pcapng's padding to 4 bytes. */
static void put_bytes(t_img *f, const void *d, size_t n) {
  memcpy(f->b + f->n, d, n);
  f->n += n;
  while (f->n % 4) f->b[f->n++] = 0;
}

/* ---- pcapng blocks */

static void shb(t_img *f) {
  put(f, 0x0A0D0D0A, 4);
  put(f, 28, 4);
  put(f, 0x1A2B3C4D, 4);
  put(f, 1, 2);
  put(f, 0, 2);
  put(f, UINT64_MAX, 8);
  put(f, 28, 4);
}

/* An interface; resol < 0: none given (microseconds). */
static void idb(t_img *f, int linktype, int resol, int64_t offset) {
  size_t start = f->n;
  put(f, 1, 4);
  put(f, 0, 4); /* length, patched */
  put(f, (uint64_t)linktype, 2);
  put(f, 0, 2);
  put(f, 0, 4);
  if (resol >= 0) {
    put(f, 9, 2), put(f, 1, 2), f->b[f->n++] = (uint8_t)resol, f->n += 3;
  }
  if (offset) {
    put(f, 14, 2), put(f, 8, 2);
    put(f, (uint64_t)offset, 8);
  }
  put(f, 0, 4); /* opt_endofopt */
  put(f, f->n - start + 4, 4);
  size_t len = f->n - start, save = f->n;
  f->n = start + 4;
  put(f, len, 4);
  f->n = save;
}

/* An Enhanced (type 6: 32-bit interface) or obsolete (type 2: 16-bit interface, 16-bit drop
 * count) Packet Block; the two have the same size. */
static void pkt(t_img *f, uint32_t type, uint32_t iface, uint64_t ts, const char *data) {
  size_t n = strlen(data), pad = (4 - n % 4) % 4;
  uint32_t len = (uint32_t)(32 + n + pad);
  put(f, type, 4);
  put(f, len, 4);
  if (type == 6) {
    put(f, iface, 4);
  } else {
    put(f, iface, 2);
    put(f, 0, 2);
  }
  put(f, ts >> 32, 4);
  put(f, ts & 0xffffffff, 4);
  put(f, n, 4);
  put(f, n, 4);
  put_bytes(f, data, n);
  put(f, len, 4);
}

static void epb(t_img *f, uint32_t iface, uint64_t ts, const char *data) {
  pkt(f, 6, iface, ts, data);
}

static void opb(t_img *f, uint16_t iface, uint64_t ts, const char *data) {
  pkt(f, 2, iface, ts, data);
}

static void spb(t_img *f, const char *data) {
  size_t n = strlen(data), pad = (4 - n % 4) % 4;
  uint32_t len = (uint32_t)(16 + n + pad);
  put(f, 3, 4);
  put(f, len, 4);
  put(f, n, 4);
  put_bytes(f, data, n);
  put(f, len, 4);
}

static void other_block(t_img *f) { /* a Name Resolution Block with no records */
  put(f, 4, 4);
  put(f, 16, 4);
  put(f, 0, 4);
  put(f, 16, 4);
}

/* ---- reading */

typedef struct {
  int64_t ts[16];
  int linktype[16];
  char data[16][32];
  size_t n;
} t_frames;

/* Feeds the image in pieces of `step` bytes; returns nb_pcapfile_end's status (or the error
 * that stopped it) and the frames read. */
static nb_err t_read(const t_img *f, size_t len, size_t step, t_frames *out, const char **why) {
  nb_pcapfile *p = nb_pcapfile_new();
  assert_non_null(p);
  memset(out, 0, sizeof *out);
  nb_err e = NB_OK;
  for (size_t pos = 0; pos < len && e != NB_ERR_SYNTAX;) {
    size_t n = len - pos < step ? len - pos : step, cap;
    uint8_t *space;
    assert_int_equal(nb_pcapfile_space(p, n, &space, &cap), NB_OK);
    assert_true(cap >= n);
    memcpy(space, f->b + pos, n);
    nb_pcapfile_commit(p, n);
    pos += n;
    nb_pcap_frame fr;
    while ((e = nb_pcapfile_next(p, &fr, why)) == NB_OK) {
      assert_true(out->n < 16);
      out->ts[out->n] = fr.ts_us;
      out->linktype[out->n] = fr.linktype;
      snprintf(out->data[out->n], 32, "%.*s", (int)fr.caplen, (const char *)fr.data);
      out->n++;
    }
  }
  if (e != NB_ERR_SYNTAX) e = nb_pcapfile_end(p, why);
  nb_pcapfile_free(p);
  return e;
}

static void t_expect(const t_frames *fr, size_t i, int64_t ts, int linktype, const char *data) {
  assert_true(i < fr->n);
  assert_int_equal(fr->ts[i], ts);
  assert_int_equal(fr->linktype[i], linktype);
  assert_string_equal(fr->data[i], data);
}

static void classic(t_img *f, bool le, uint32_t magic, int linktype, bool modified) {
  memset(f, 0, sizeof *f);
  f->le = le;
  put(f, magic, 4);
  put(f, 2, 2);
  put(f, 4, 2);
  put(f, 0, 4);
  put(f, 0, 4);
  put(f, 65535, 4);
  put(f, (uint64_t)linktype | 0x04000000u, 4); /* FCS bits above the link type are ignored */
  for (int k = 0; k < 2; k++) {
    put(f, 1700000000 + (uint64_t)k, 4);
    put(f, magic == 0xA1B23C4D ? 250000000 : 250000, 4);
    put(f, 5, 4);
    put(f, 5, 4);
    if (modified) put(f, 0, 8);
    memcpy(f->b + f->n, k ? "frame" : "first", 5);
    f->n += 5;
  }
}

static void test_classic_pcap(void **state) {
  (void)state;
  static const struct {
    bool le;
    uint32_t magic;
    bool modified;
  } cases[] = {{true, 0xA1B2C3D4, false},
               {false, 0xA1B2C3D4, false},
               {true, 0xA1B23C4D, false},
               {false, 0xA1B23C4D, false},
               {true, 0xA1B2CD34, true}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    t_img f;
    classic(&f, cases[k].le, cases[k].magic, 1, cases[k].modified);
    for (size_t step = 1; step <= f.n; step++) {
      t_frames fr;
      const char *why = NULL;
      assert_int_equal(t_read(&f, f.n, step, &fr, &why), NB_OK);
      assert_int_equal(fr.n, 2);
      t_expect(&fr, 0, 1700000000250000ll, 1, "first");
      t_expect(&fr, 1, 1700000001250000ll, 1, "frame");
    }
  }
}

static void test_pcapng_mixed_interfaces(void **state) {
  (void)state;
  for (int le = 0; le < 2; le++) {
    t_img f = {.le = le};
    shb(&f);
    idb(&f, 1, -1, 0);      /* Ethernet, microseconds */
    idb(&f, 101, 9, 0);     /* raw IP, nanoseconds */
    other_block(&f);        /* skipped */
    idb(&f, 113, 0x8a, 10); /* Linux cooked, 2^-10 s, 10 s offset */
    epb(&f, 0, 1700000000000001ull, "eth");
    epb(&f, 1, 1700000000000002000ull, "raw-ip");
    epb(&f, 2, 1024ull * 5 + 512, "sll");
    opb(&f, 1, 3000ull, "obsolete");
    shb(&f); /* a new section: interfaces start again */
    idb(&f, 276, -1, 0);
    spb(&f, "simple");
    epb(&f, 0, 7, "sll2");
    for (size_t step = 1; step <= f.n; step += (step < 64 ? 1 : 37)) {
      t_frames fr;
      const char *why = NULL;
      nb_err e = t_read(&f, f.n, step, &fr, &why);
      if (e != NB_OK) fail_msg("step %zu: %s", step, why);
      assert_int_equal(fr.n, 6);
      t_expect(&fr, 0, 1700000000000001ll, 1, "eth");
      t_expect(&fr, 1, 1700000000000002ll, 101, "raw-ip");
      t_expect(&fr, 2, 15500000ll, 113, "sll"); /* 5.5 s + 10 s offset */
      t_expect(&fr, 3, 3ll, 101, "obsolete");
      t_expect(&fr, 4, 3ll, 276, "simple"); /* no time of its own: the last one */
      t_expect(&fr, 5, 7ll, 276, "sll2");
    }
  }
}

static void test_cut_short_and_damaged(void **state) {
  (void)state;
  t_img f = {.le = true};
  shb(&f);
  idb(&f, 1, -1, 0);
  epb(&f, 0, 1, "one");
  size_t whole = f.n;
  epb(&f, 0, 2, "two");
  t_frames fr;
  const char *why = NULL;
  /* Every cut inside the second block: one frame, then "cut short". */
  for (size_t len = whole + 1; len < f.n; len++) {
    assert_int_equal(t_read(&f, len, 7, &fr, &why), NB_ERR_TRUNCATED);
    assert_int_equal(fr.n, 1);
    assert_non_null(strstr(why, "cut short"));
  }
  /* Empty input, a bare header cut, a file that is no capture. */
  assert_int_equal(t_read(&f, 0, 7, &fr, &why), NB_ERR_TRUNCATED);
  assert_int_equal(t_read(&f, 3, 7, &fr, &why), NB_ERR_TRUNCATED);
  t_img text = {.n = 6};
  memcpy(text.b, "hello\n", 6);
  assert_int_equal(t_read(&text, text.n, 7, &fr, &why), NB_ERR_SYNTAX);
  assert_non_null(strstr(why, "not a pcap or pcapng"));
  /* Damage: trailing length differs, a packet of an undeclared interface, a length not a
   * multiple of 4; the frames before it were read, the error sticks. */
  t_img bad = f;
  bad.b[whole - 4] ^= 4;
  assert_int_equal(t_read(&bad, bad.n, 5, &fr, &why), NB_ERR_SYNTAX);
  assert_int_equal(fr.n, 0);
  bad = f;
  bad.b[whole + 8] = 3; /* interface 3 */
  assert_int_equal(t_read(&bad, bad.n, 5, &fr, &why), NB_ERR_SYNTAX);
  assert_int_equal(fr.n, 1);
  assert_non_null(strstr(why, "undeclared interface"));
  bad = f;
  bad.b[whole + 4] = 33;
  assert_int_equal(t_read(&bad, bad.n, 5, &fr, &why), NB_ERR_SYNTAX);
  /* A classic record announcing more than 16 MiB. */
  t_img big;
  classic(&big, true, 0xA1B2C3D4, 1, false);
  big.b[24 + 8 + 3] = 0x7f;
  assert_int_equal(t_read(&big, big.n, 64, &fr, &why), NB_ERR_SYNTAX);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_classic_pcap),
      cmocka_unit_test(test_pcapng_mixed_interfaces),
      cmocka_unit_test(test_cut_short_and_damaged),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
