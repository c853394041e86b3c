/* The session file kept across a restart (dtls/sessfile.h): what is written reads back field
 * for field; a file under another key, older than its maximum age or from the future, or
 * changed in any byte is refused whole; the key file and the session file are private; and a
 * restored session's records sealed here open with the same keys (rx.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dtls/sessfile.h"

static const uint8_t KEY[NB_DTLS_SESSFILE_KEY_LEN] = "k0k1k2k3k4k5k6k7k8k9kakbkckdkekf";
#define T0 1800000000000LL
#define MAX_AGE 300000

static void sample(nb_dtls_saved *sv, uint8_t n) {
  memset(sv, 0, sizeof *sv);
  sv->peer.family = NB_ADDR_V6;
  sv->peer.ip[15] = n;
  sv->peer.port = 56830;
  sv->peer.scope = 3;
  sv->who.mode = NB_DTLS_MODE_PSK;
  snprintf(sv->who.identity, sizeof sv->who.identity, "meter-%u", n);
  sv->who.identity_len = strlen(sv->who.identity);
  snprintf(sv->suite, sizeof sv->suite, "TLS_PSK_WITH_AES_128_CCM_8");
  sv->epoch = 1;
  for (int i = 0; i < NB_DTLS_CCM8_KEY; i++) {
    sv->read_key[i] = (uint8_t)(n + i);
    sv->write_key[i] = (uint8_t)(n * 3 + i);
  }
  memcpy(sv->read_salt, "rs", 2);
  memcpy(sv->write_salt, "ws", 2);
  sv->write_seq = 0x123456789Aull + n;
  sv->window.max = 77;
  sv->window.bits = 0xF0F0;
  sv->window.any = true;
}

/* Two sessions sealed at T0 into f. */
static void two(nb_bytes *f) {
  nb_bytes plain;
  nb_bytes_init(&plain);
  nb_dtls_saved sv;
  for (uint8_t n = 1; n <= 2; n++) {
    sample(&sv, n);
    if (n == 2) {
      sv.who.mode = NB_DTLS_MODE_X509;
      snprintf(sv.who.common_name, sizeof sv.who.common_name, "dev-2");
      snprintf(sv.who.subject, sizeof sv.who.subject, "CN=dev-2,O=ACME");
      snprintf(sv.who.secure_id, sizeof sv.who.secure_id, "abcdef");
      sv.who.spki_len = 91;
      memset(sv.who.spki, 0x30, 91);
    }
    assert_int_equal(nb_dtls_sessfile_add(&plain, &sv), NB_OK);
  }
  nb_bytes_init(f);
  assert_int_equal(nb_dtls_sessfile_seal(KEY, T0, 2, plain.data, plain.len, f), NB_OK);
  nb_bytes_free(&plain);
}

typedef struct {
  nb_dtls_saved got[2];
  int n;
} sink;

static nb_err collect(void *u, const nb_dtls_saved *sv) {
  sink *k = u;
  if (k->n >= 2) return NB_ERR_RANGE;
  k->got[k->n++] = *sv;
  return NB_OK;
}

static nb_err open_file(const nb_bytes *f, int64_t now, sink *k) {
  nb_bytes plain;
  nb_bytes_init(&plain);
  uint32_t count = 0;
  nb_err err = nb_dtls_sessfile_open(KEY, f->data, f->len, now, MAX_AGE, &plain, &count);
  if (err == NB_OK) err = nb_dtls_sessfile_parse(plain.data, plain.len, count, collect, k);
  nb_bytes_free(&plain);
  return err;
}

static void test_round_trip(void **state) {
  (void)state;
  nb_bytes f;
  two(&f);
  sink k = {.n = 0};
  assert_int_equal(open_file(&f, T0 + 1000, &k), NB_OK);
  assert_int_equal(k.n, 2);
  nb_dtls_saved want;
  sample(&want, 1);
  want.who.addr = want.peer;
  assert_memory_equal(&k.got[0].peer, &want.peer, sizeof want.peer);
  assert_string_equal(k.got[0].who.identity, "meter-1");
  assert_int_equal(k.got[0].who.identity_len, 7);
  assert_int_equal(k.got[0].who.mode, NB_DTLS_MODE_PSK);
  assert_string_equal(k.got[0].suite, want.suite);
  assert_memory_equal(k.got[0].read_key, want.read_key, 16);
  assert_memory_equal(k.got[0].write_key, want.write_key, 16);
  assert_memory_equal(k.got[0].write_salt, want.write_salt, 4);
  assert_int_equal(k.got[0].write_seq, want.write_seq);
  assert_int_equal(k.got[0].window.max, 77);
  assert_int_equal(k.got[0].window.bits, 0xF0F0);
  assert_true(k.got[0].window.any);
  assert_int_equal(k.got[1].who.mode, NB_DTLS_MODE_X509);
  assert_string_equal(k.got[1].who.subject, "CN=dev-2,O=ACME");
  assert_string_equal(k.got[1].who.common_name, "dev-2");
  assert_int_equal(k.got[1].who.spki_len, 91);
  nb_bytes_free(&f);
}

static void test_refused_whole(void **state) {
  (void)state;
  nb_bytes f;
  two(&f);
  sink k = {.n = 0};
  /* too old, or from the future past the skew */
  assert_int_equal(open_file(&f, T0 + MAX_AGE + 1, &k), NB_ERR_DTLS_EXPIRED);
  assert_int_equal(open_file(&f, T0 - 120000, &k), NB_ERR_DTLS_EXPIRED);
  /* another key */
  uint8_t other[NB_DTLS_SESSFILE_KEY_LEN];
  memcpy(other, KEY, sizeof other);
  other[31] ^= 1;
  nb_bytes plain;
  nb_bytes_init(&plain);
  uint32_t count;
  assert_int_equal(nb_dtls_sessfile_open(other, f.data, f.len, T0, MAX_AGE, &plain, &count),
                   NB_ERR_DTLS_BAD_MAC);
  assert_int_equal(plain.len, 0);
  /* any byte changed: the magic is not this format; the time, count, nonce, body or tag do
   * not authenticate (a changed time may also read as expired) */
  for (size_t i = 0; i < f.len; i++) {
    f.data[i] ^= 0x40;
    nb_err err = open_file(&f, T0 + 1000, &k);
    f.data[i] ^= 0x40;
    if (i < 8)
      assert_int_equal(err, NB_ERR_SYNTAX);
    else if (err != NB_ERR_DTLS_EXPIRED && err != NB_ERR_SYNTAX)
      assert_int_equal(err, NB_ERR_DTLS_BAD_MAC);
  }
  assert_int_equal(k.n, 0);
  /* cut short */
  for (size_t n = 0; n < f.len; n += 7) {
    nb_bytes cut = {f.data, n, n};
    nb_err err = open_file(&cut, T0 + 1000, &k);
    assert_true(err == NB_ERR_SYNTAX || err == NB_ERR_DTLS_BAD_MAC);
  }
  assert_int_equal(k.n, 0);
  nb_bytes_free(&plain);
  nb_bytes_free(&f);
}

/* A body that authenticates but does not parse (a count that lies, bytes left over, a bad
 * field) is refused. */
static void test_parse_refuses(void **state) {
  (void)state;
  nb_bytes plain;
  nb_bytes_init(&plain);
  nb_dtls_saved sv;
  sample(&sv, 1);
  assert_int_equal(nb_dtls_sessfile_add(&plain, &sv), NB_OK);
  sink k = {.n = 0};
  assert_int_equal(nb_dtls_sessfile_parse(plain.data, plain.len, 2, collect, &k), NB_ERR_SYNTAX);
  k.n = 0;
  assert_int_equal(nb_dtls_sessfile_parse(plain.data, plain.len, 0, collect, &k), NB_ERR_SYNTAX);
  plain.data[0] = 5; /* family */
  assert_int_equal(nb_dtls_sessfile_parse(plain.data, plain.len, 1, collect, &k), NB_ERR_SYNTAX);
  plain.data[0] = NB_ADDR_V6;
  plain.data[23] = 0; /* mode none */
  assert_int_equal(nb_dtls_sessfile_parse(plain.data, plain.len, 1, collect, &k), NB_ERR_SYNTAX);
  plain.data[23] = NB_DTLS_MODE_PSK;
  k.n = 0;
  assert_int_equal(nb_dtls_sessfile_parse(plain.data, plain.len, 1, collect, &k), NB_OK);
  sv.epoch = 0;
  nb_bytes_clear(&plain);
  assert_int_equal(nb_dtls_sessfile_add(&plain, &sv), NB_OK);
  assert_int_equal(nb_dtls_sessfile_parse(plain.data, plain.len, 1, collect, &k), NB_ERR_SYNTAX);
  nb_bytes_free(&plain);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  fclose(f);
  assert_int_equal(chmod(path, mode), 0);
}

static void test_files(void **state) {
  (void)state;
  char dir[] = "/tmp/nb-sessfile-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char key[64], sess[64];
  snprintf(key, sizeof key, "%s/key", dir);
  snprintf(sess, sizeof sess, "%s/s", dir);
  uint8_t k[NB_DTLS_SESSFILE_KEY_LEN];
  assert_int_equal(nb_dtls_sessfile_key_load(key, k), NB_ERR_NOT_FOUND);
  write_file(key, KEY, sizeof KEY, 0600); /* raw */
  assert_int_equal(nb_dtls_sessfile_key_load(key, k), NB_OK);
  assert_memory_equal(k, KEY, sizeof k);
  const char hex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
  write_file(key, hex, strlen(hex), 0600);
  assert_int_equal(nb_dtls_sessfile_key_load(key, k), NB_OK);
  assert_int_equal(k[31], 0x1f);
  write_file(key, hex, 20, 0600);
  assert_int_equal(nb_dtls_sessfile_key_load(key, k), NB_ERR_SYNTAX);
  write_file(key, KEY, sizeof KEY, 0644);
  assert_int_equal(nb_dtls_sessfile_key_load(key, k), NB_ERR_PERM);

  nb_bytes f, back;
  two(&f);
  nb_bytes_init(&back);
  assert_int_equal(nb_dtls_sessfile_save(sess, f.data, f.len), NB_OK);
  struct stat st;
  assert_int_equal(stat(sess, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(nb_dtls_sessfile_load(sess, &back), NB_OK);
  assert_int_equal(back.len, f.len);
  assert_memory_equal(back.data, f.data, f.len);
  assert_int_not_equal(access(sess, F_OK), 0); /* removed once read */
  assert_int_equal(nb_dtls_sessfile_load(sess, &back), NB_ERR_NOT_FOUND);
  write_file(sess, f.data, f.len, 0644);
  assert_int_equal(nb_dtls_sessfile_load(sess, &back), NB_ERR_PERM);
  assert_int_not_equal(access(sess, F_OK), 0);
  nb_bytes_free(&f);
  nb_bytes_free(&back);
  unlink(key);
  rmdir(dir);
}

/* A record sealed under a restored session's write keys opens with the same keys, once. */
static void test_seal_opens(void **state) {
  (void)state;
  uint8_t key[16] = {1, 2, 3}, salt[4] = {9, 8, 7, 6};
  nb_dtls_rx *tx = nb_dtls_rx_from_keys(key, salt), *rx = nb_dtls_rx_from_keys(key, salt);
  assert_non_null(tx);
  assert_non_null(rx);
  const uint8_t msg[] = "\x40\x01\x12\x34";
  uint8_t rec[64], out[64];
  size_t n = nb_dtls_rx_seal(tx, NB_DTLS_CT_APPLICATION_DATA, 1, 5000, msg, 4, rec);
  assert_int_equal(n, 4 + NB_DTLS_CCM8_OVERHEAD);
  nb_reader r;
  nb_reader_init(&r, rec, n);
  nb_dtls_record rr;
  assert_int_equal(nb_dtls_record_next(&r, &rr), NB_OK);
  assert_int_equal(rr.epoch, 1);
  assert_int_equal(rr.seq, 5000);
  nb_dtls_window w = {0};
  size_t len = 0;
  assert_int_equal(nb_dtls_rx_open(rx, &w, &rr, out, &len), NB_OK);
  assert_int_equal(len, 4);
  assert_memory_equal(out, msg, 4);
  assert_int_equal(nb_dtls_rx_open(rx, &w, &rr, out, &len), NB_ERR_DTLS_REPLAY);
  rec[n - 1] ^= 1;
  w = (nb_dtls_window){0};
  assert_int_equal(nb_dtls_rx_open(rx, &w, &rr, out, &len), NB_ERR_DTLS_BAD_MAC);
  nb_dtls_rx_free(tx);
  nb_dtls_rx_free(rx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),    cmocka_unit_test(test_refused_whole),
      cmocka_unit_test(test_parse_refuses), cmocka_unit_test(test_files),
      cmocka_unit_test(test_seal_opens),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
