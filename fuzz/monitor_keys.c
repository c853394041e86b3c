/* libFuzzer: the key files of `niobium monitor` (src/monitor/dtlsdec.c): the --psk-file
 * (`identity,hexkey` lines, # comments) and the --keylog (NSS key log, `CLIENT_RANDOM <64 hex>
 * <96 hex>` lines; other labels skipped). The first byte picks the reader, the rest is the file.
 * Oracles: a refusal names a line of the file; what is accepted holds one key per key line,
 * each found again by its identity (the last line of an identity wins for master secrets). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/dtlsdec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_lines(const char *t, size_t n) {
  size_t lines = 1;
  for (size_t i = 0; i < n; i++) lines += t[i] == '\n';
  return lines;
}

/* A line as the readers see it: blanks (space, tab, CR) trimmed; true when it holds a key. */
static bool key_line(const char *s, size_t n, bool keylog, const char **start, size_t *len) {
  while (n && (*s == ' ' || *s == '\t' || *s == '\r')) s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
  *start = s;
  *len = n;
  if (!n || *s == '#') return false;
  return !keylog || (n >= 14 && memcmp(s, "CLIENT_RANDOM ", 14) == 0);
}

static void check_psks(const nb_mon_psks *p, const char *t, size_t n) {
  size_t keys = 0;
  for (size_t i = 0; i <= n;) {
    const char *nl = memchr(t + i, '\n', n - i);
    size_t end = nl ? (size_t)(nl - t) : n;
    const char *s;
    size_t len, key_len = 0;
    if (key_line(t + i, end - i, false, &s, &len)) {
      keys++;
      const char *comma = memchr(s, ',', len);
      if (!comma || !nb_mon_psks_find(p, (const uint8_t *)s, (size_t)(comma - s), &key_len) ||
          !key_len)
        abort();
    }
    i = end + 1;
  }
  if (nb_mon_psks_count(p) != keys) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  bool keylog = data[0] & 1;
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  nb_mon_psks *p = nb_mon_psks_new();
  if (!p) abort();
  size_t bad = 0;
  nb_err e =
      keylog ? nb_mon_keylog_parse(p, text, len, &bad) : nb_mon_psks_parse(p, text, len, &bad);
  if (e != NB_OK) {
    if (bad < 1 || bad > count_lines(text, len)) abort();
  } else if (keylog) {
    size_t lines = 0;
    for (size_t i = 0; i <= len;) {
      const char *nl = memchr(text + i, '\n', len - i);
      size_t end = nl ? (size_t)(nl - text) : len;
      const char *s;
      size_t n;
      lines += key_line(text + i, end - i, true, &s, &n);
      i = end + 1;
    }
    if (nb_mon_psks_masters(p) != lines || nb_mon_psks_count(p) != 0) abort();
  } else {
    check_psks(p, text, len);
  }
  nb_mon_psks_free(p);
  return 0;
}
