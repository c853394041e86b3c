/* The session file kept across a restart: see sessfile.h. */
#include "dtls/sessfile.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <nettle/gcm.h>
#include <nettle/memops.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/hex.h"
#include "base/privfile.h"
#include "base/rand.h"

static const uint8_t nb_sessfile_magic[8] = {'N', 'B', 'D', 'T', 'L', 'S', 'S', '1'};
#define NB_SESSFILE_NONCE 12
#define NB_SESSFILE_TAG 16
#define NB_SESSFILE_HEAD (8 + 8 + 4 + NB_SESSFILE_NONCE) /* also the associated data */
#define NB_SESSFILE_SKEW_MS 60000                        /* written "in the future" at most */
#define NB_SESSFILE_MAX_BYTES (64u << 20)

/* ---- writing ---- */

static void nb_put_be(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static nb_err nb_put(nb_bytes *b, uint64_t v, int n) {
  uint8_t tmp[8];
  nb_put_be(tmp, v, n);
  return nb_bytes_append(b, tmp, (size_t)n);
}

/* A length-prefixed byte string (prefix of `width` bytes). */
static nb_err nb_put_str(nb_bytes *b, const void *data, size_t len, int width) {
  nb_err err = nb_put(b, len, width);
  return err == NB_OK ? nb_bytes_append(b, data, len) : err;
}

nb_err nb_dtls_sessfile_add(nb_bytes *plain, const nb_dtls_saved *sv) {
  const nb_dtls_peer *w = &sv->who;
  size_t start = plain->len;
  nb_err err = nb_put(plain, sv->peer.family, 1);
  if (err == NB_OK) err = nb_bytes_append(plain, sv->peer.ip, sizeof sv->peer.ip);
  if (err == NB_OK) err = nb_put(plain, sv->peer.port, 2);
  if (err == NB_OK) err = nb_put(plain, sv->peer.scope, 4);
  if (err == NB_OK) err = nb_put(plain, (uint64_t)w->mode, 1);
  if (err == NB_OK) err = nb_put_str(plain, w->identity, w->identity_len, 2);
  if (err == NB_OK) err = nb_put_str(plain, w->secure_id, strlen(w->secure_id), 2);
  if (err == NB_OK) err = nb_put_str(plain, w->subject, strlen(w->subject), 2);
  if (err == NB_OK) err = nb_put_str(plain, w->common_name, strlen(w->common_name), 2);
  if (err == NB_OK) err = nb_put_str(plain, w->spki, w->spki_len, 2);
  if (err == NB_OK) err = nb_put_str(plain, sv->suite, strlen(sv->suite), 1);
  if (err == NB_OK) err = nb_put(plain, sv->epoch, 2);
  if (err == NB_OK) err = nb_bytes_append(plain, sv->read_key, sizeof sv->read_key);
  if (err == NB_OK) err = nb_bytes_append(plain, sv->read_salt, sizeof sv->read_salt);
  if (err == NB_OK) err = nb_bytes_append(plain, sv->write_key, sizeof sv->write_key);
  if (err == NB_OK) err = nb_bytes_append(plain, sv->write_salt, sizeof sv->write_salt);
  if (err == NB_OK) err = nb_put(plain, sv->write_seq, 8);
  if (err == NB_OK) err = nb_put(plain, sv->window.max, 8);
  if (err == NB_OK) err = nb_put(plain, sv->window.bits, 8);
  if (err == NB_OK) err = nb_put(plain, sv->window.any, 1);
  if (err == NB_OK) err = nb_bytes_append(plain, sv->cred_digest, sizeof sv->cred_digest);
  if (err != NB_OK && plain->len > start) {
    gnutls_memset(plain->data + start, 0, plain->len - start);
    plain->len = start;
  }
  return err;
}

nb_err nb_dtls_sessfile_seal(const uint8_t key[NB_DTLS_SESSFILE_KEY_LEN], int64_t written_ms,
                             uint32_t count, const uint8_t *plain, size_t plain_len,
                             nb_bytes *out) {
  if (written_ms < 0 || count > NB_DTLS_SESSFILE_MAX_RECORDS) return NB_ERR_INVAL;
  nb_err err = nb_bytes_reserve(out, NB_SESSFILE_HEAD + plain_len + NB_SESSFILE_TAG);
  if (err != NB_OK) return err;
  uint8_t *head = out->data + out->len;
  memcpy(head, nb_sessfile_magic, 8);
  nb_put_be(head + 8, (uint64_t)written_ms, 8);
  nb_put_be(head + 16, count, 4);
  err = nb_random_bytes(head + 20, NB_SESSFILE_NONCE);
  if (err != NB_OK) return err;
  struct gcm_aes256_ctx ctx;
  gcm_aes256_set_key(&ctx, key);
  gcm_aes256_set_iv(&ctx, NB_SESSFILE_NONCE, head + 20);
  gcm_aes256_update(&ctx, NB_SESSFILE_HEAD, head);
  uint8_t *body = head + NB_SESSFILE_HEAD;
  if (plain_len) gcm_aes256_encrypt(&ctx, plain_len, body, plain);
  gcm_aes256_digest(&ctx, NB_SESSFILE_TAG, body + plain_len);
  gnutls_memset(&ctx, 0, sizeof ctx);
  out->len += NB_SESSFILE_HEAD + plain_len + NB_SESSFILE_TAG;
  return NB_OK;
}

/* ---- reading ---- */

static uint64_t nb_get_be(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

nb_err nb_dtls_sessfile_open(const uint8_t key[NB_DTLS_SESSFILE_KEY_LEN], const uint8_t *file,
                             size_t len, int64_t now_ms, int64_t max_age_ms, nb_bytes *plain,
                             uint32_t *count) {
  if (len < NB_SESSFILE_HEAD + NB_SESSFILE_TAG || memcmp(file, nb_sessfile_magic, 8) != 0)
    return NB_ERR_SYNTAX;
  uint64_t written = nb_get_be(file + 8, 8);
  if (written > (uint64_t)INT64_MAX) return NB_ERR_SYNTAX;
  int64_t at = (int64_t)written;
  if (at > now_ms + NB_SESSFILE_SKEW_MS || now_ms - at > max_age_ms) return NB_ERR_DTLS_EXPIRED;
  uint32_t n = (uint32_t)nb_get_be(file + 16, 4);
  if (n > NB_DTLS_SESSFILE_MAX_RECORDS) return NB_ERR_SYNTAX;
  size_t body_len = len - NB_SESSFILE_HEAD - NB_SESSFILE_TAG;
  nb_err err = nb_bytes_reserve(plain, body_len + 1);
  if (err != NB_OK) return err;
  struct gcm_aes256_ctx ctx;
  uint8_t tag[NB_SESSFILE_TAG];
  gcm_aes256_set_key(&ctx, key);
  gcm_aes256_set_iv(&ctx, NB_SESSFILE_NONCE, file + 20);
  gcm_aes256_update(&ctx, NB_SESSFILE_HEAD, file);
  uint8_t *dst = plain->data + plain->len;
  if (body_len) gcm_aes256_decrypt(&ctx, body_len, dst, file + NB_SESSFILE_HEAD);
  gcm_aes256_digest(&ctx, NB_SESSFILE_TAG, tag);
  gnutls_memset(&ctx, 0, sizeof ctx);
  if (!memeql_sec(tag, file + NB_SESSFILE_HEAD + body_len, NB_SESSFILE_TAG)) {
    gnutls_memset(dst, 0, body_len);
    return NB_ERR_DTLS_BAD_MAC;
  }
  plain->len += body_len;
  *count = n;
  return NB_OK;
}

/* A length-prefixed string into a NUL-terminated field of cap bytes. */
static nb_err nb_get_str(nb_reader *r, int width, char *out, size_t cap, size_t *out_len) {
  uint64_t len;
  const uint8_t *p;
  nb_err err = nb_reader_uint_be(r, (size_t)width, &len);
  if (err == NB_OK && len >= cap) err = NB_ERR_SYNTAX;
  if (err == NB_OK) err = nb_reader_view(r, (size_t)len, &p);
  if (err != NB_OK || memchr(p, 0, (size_t)len)) return NB_ERR_SYNTAX;
  memcpy(out, p, (size_t)len);
  out[len] = '\0';
  if (out_len) *out_len = (size_t)len;
  return NB_OK;
}

static nb_err nb_get_peer(nb_reader *r, nb_dtls_saved *sv) {
  uint8_t family = 0, mode = 0;
  uint16_t port = 0;
  uint64_t spki_len = 0;
  const uint8_t *spki = NULL;
  nb_dtls_peer *w = &sv->who;
  nb_err err = nb_reader_u8(r, &family);
  if (err == NB_OK) err = nb_reader_copy(r, sv->peer.ip, sizeof sv->peer.ip);
  if (err == NB_OK) err = nb_reader_u16be(r, &port);
  if (err == NB_OK) err = nb_reader_u32be(r, &sv->peer.scope);
  if (err == NB_OK) err = nb_reader_u8(r, &mode);
  if (err != NB_OK || (family != NB_ADDR_V4 && family != NB_ADDR_V6) || mode < NB_DTLS_MODE_PSK ||
      mode > NB_DTLS_MODE_X509 || (family == NB_ADDR_V4 && sv->peer.scope != 0))
    return NB_ERR_SYNTAX;
  sv->peer.family = family;
  sv->peer.port = port;
  w->mode = (nb_dtls_mode)mode;
  err = nb_get_str(r, 2, w->identity, sizeof w->identity, &w->identity_len);
  if (err == NB_OK) err = nb_get_str(r, 2, w->secure_id, sizeof w->secure_id, NULL);
  if (err == NB_OK) err = nb_get_str(r, 2, w->subject, sizeof w->subject, NULL);
  if (err == NB_OK) err = nb_get_str(r, 2, w->common_name, sizeof w->common_name, NULL);
  if (err == NB_OK) err = nb_reader_uint_be(r, 2, &spki_len);
  if (err == NB_OK && spki_len > sizeof w->spki) err = NB_ERR_SYNTAX;
  if (err == NB_OK) err = nb_reader_view(r, (size_t)spki_len, &spki);
  if (err != NB_OK) return NB_ERR_SYNTAX;
  if (spki_len) memcpy(w->spki, spki, (size_t)spki_len);
  w->spki_len = (size_t)spki_len;
  w->addr = sv->peer;
  return NB_OK;
}

static nb_err nb_get_state(nb_reader *r, nb_dtls_saved *sv) {
  uint8_t any = 0;
  nb_err err = nb_get_str(r, 1, sv->suite, sizeof sv->suite, NULL);
  if (err == NB_OK) err = nb_reader_u16be(r, &sv->epoch);
  if (err == NB_OK) err = nb_reader_copy(r, sv->read_key, sizeof sv->read_key);
  if (err == NB_OK) err = nb_reader_copy(r, sv->read_salt, sizeof sv->read_salt);
  if (err == NB_OK) err = nb_reader_copy(r, sv->write_key, sizeof sv->write_key);
  if (err == NB_OK) err = nb_reader_copy(r, sv->write_salt, sizeof sv->write_salt);
  if (err == NB_OK) err = nb_reader_u64be(r, &sv->write_seq);
  if (err == NB_OK) err = nb_reader_u64be(r, &sv->window.max);
  if (err == NB_OK) err = nb_reader_u64be(r, &sv->window.bits);
  if (err == NB_OK) err = nb_reader_u8(r, &any);
  if (err == NB_OK) err = nb_reader_copy(r, sv->cred_digest, sizeof sv->cred_digest);
  /* Epoch 0 is the clear; sequence numbers are 48 bits. */
  if (err != NB_OK || sv->epoch == 0 || any > 1 || sv->write_seq > 0xFFFFFFFFFFFFull ||
      sv->window.max > 0xFFFFFFFFFFFFull)
    return NB_ERR_SYNTAX;
  sv->window.any = any;
  return NB_OK;
}

nb_err nb_dtls_sessfile_parse(const uint8_t *plain, size_t len, uint32_t count,
                              nb_err (*fn)(void *user, const nb_dtls_saved *sv), void *user) {
  nb_reader r;
  nb_reader_init(&r, plain, len);
  nb_dtls_saved *sv = malloc(sizeof *sv);
  if (!sv) return NB_ERR_NOMEM;
  nb_err err = NB_OK;
  for (uint32_t i = 0; i < count && err == NB_OK; i++) {
    memset(sv, 0, sizeof *sv);
    err = nb_get_peer(&r, sv);
    if (err == NB_OK) err = nb_get_state(&r, sv);
    if (err == NB_OK) err = fn(user, sv);
  }
  if (err == NB_OK && nb_reader_remaining(&r) > 0) err = NB_ERR_SYNTAX;
  gnutls_memset(sv, 0, sizeof *sv);
  free(sv);
  return err;
}

/* ---- files ---- */

/* Reads a whole regular file of at most cap bytes. */
static nb_err nb_read_all(int fd, nb_bytes *out, size_t cap) {
  uint8_t buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return NB_ERR_IO;
    if (n == 0) break;
    if (out->len + (size_t)n > cap) return NB_ERR_RANGE;
    nb_err err = nb_bytes_append(out, buf, (size_t)n);
    if (err != NB_OK) return err;
  }
  gnutls_memset(buf, 0, sizeof buf);
  return NB_OK;
}

/* Opens a file that holds a secret: no symlink, a regular file only its owner may read. */
static nb_err nb_open_private(const char *path, int *fd_out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno == ENOENT ? NB_ERR_NOT_FOUND : NB_ERR_IO;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return NB_ERR_IO;
  }
  *fd_out = fd;
  return (st.st_mode & 077) ? NB_ERR_PERM : NB_OK;
}

nb_err nb_dtls_sessfile_key_load(const char *path, uint8_t key[NB_DTLS_SESSFILE_KEY_LEN]) {
  int fd = -1;
  nb_err err = nb_open_private(path, &fd);
  if (fd < 0) return err;
  nb_bytes b;
  nb_bytes_init(&b);
  if (err == NB_OK) err = nb_read_all(fd, &b, 256);
  close(fd);
  size_t n = b.len;
  bool raw = n == NB_DTLS_SESSFILE_KEY_LEN;
  while (err == NB_OK && !raw && n > 0 && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r')) n--;
  size_t got = 0;
  if (err == NB_OK && raw) {
    memcpy(key, b.data, NB_DTLS_SESSFILE_KEY_LEN);
  } else if (err == NB_OK && n == (size_t)2 * NB_DTLS_SESSFILE_KEY_LEN) {
    err = nb_hex_decode((const char *)b.data, n, NULL, key, NB_DTLS_SESSFILE_KEY_LEN, &got);
    if (err == NB_OK && got != NB_DTLS_SESSFILE_KEY_LEN) err = NB_ERR_SYNTAX;
  } else if (err == NB_OK) {
    err = NB_ERR_SYNTAX;
  }
  if (b.data) gnutls_memset(b.data, 0, b.len);
  nb_bytes_free(&b);
  return err == NB_ERR_OVERFLOW || err == NB_ERR_RANGE ? NB_ERR_SYNTAX : err;
}

nb_err nb_dtls_sessfile_save(const char *path, const uint8_t *data, size_t len) {
  char tmp[4096];
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) return NB_ERR_RANGE;
  int fd = nb_privfile_open(tmp, O_WRONLY | O_CREAT | O_TRUNC);
  if (fd < 0) return NB_ERR_IO;
  size_t done = 0;
  while (done < len) {
    ssize_t n = write(fd, data + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += (size_t)n;
  }
  bool ok = done == len && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    unlink(tmp);
    return NB_ERR_IO;
  }
  return NB_OK;
}

nb_err nb_dtls_sessfile_load(const char *path, nb_bytes *out) {
  int fd = -1;
  nb_err err = nb_open_private(path, &fd);
  if (fd < 0) return err;
  if (err == NB_OK) err = nb_read_all(fd, out, NB_SESSFILE_MAX_BYTES);
  close(fd);
  unlink(path);
  return err == NB_ERR_RANGE ? NB_ERR_SYNTAX : err;
}
