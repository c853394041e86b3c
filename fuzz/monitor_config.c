/* libFuzzer: the configuration files of `niobium monitor`: --rules (`rule.param = value`
 * lines, src/monitor/rules.c) and --baseline (a learned traffic profile in JSON,
 * src/monitor/baseline.c), both read by path from a memory file (memfd). The first byte picks
 * the reader. Oracles: a refused rules file names a line of the file and a reason; a profile
 * that loads saves and loads again to the same window and flows. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "monitor/baseline.h"
#include "monitor/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A memory file holding data, by its /proc path (one per slot, made once). */
static const char *memfile(int slot, const uint8_t *data, size_t size) {
  static int fd[2] = {-1, -1};
  static char path[2][64];
  if (fd[slot] < 0) {
    fd[slot] = memfd_create("fuzz.conf", 0);
    if (fd[slot] < 0) abort();
    snprintf(path[slot], sizeof path[slot], "/proc/self/fd/%d", fd[slot]);
  }
  if (ftruncate(fd[slot], 0) != 0) abort();
  if (size && pwrite(fd[slot], data, size, 0) != (ssize_t)size) abort();
  return path[slot];
}

static void rules(const uint8_t *data, size_t size) {
  nb_mon_rules r;
  nb_mon_rules_init(&r);
  size_t line = 0, lines = 1;
  const char *why = NULL;
  for (size_t i = 0; i < size && data[i]; i++) lines += data[i] == '\n';
  nb_err e = nb_mon_rules_load(&r, memfile(0, data, size), &line, &why);
  if (e != NB_OK && (!why || line < 1 || line > lines)) abort();
  if (e == NB_OK && r.known_count)
    if (!nb_mon_rules_is_known(&r, r.known[r.known_count - 1])) abort();
  nb_mon_rules_deinit(&r);
}

static void baseline(const uint8_t *data, size_t size) {
  nb_mon_baseline *b = NULL, *again = NULL;
  nb_err e = nb_mon_baseline_load(memfile(0, data, size), &b);
  if (e != NB_OK) {
    if (b || (e != NB_ERR_SYNTAX && e != NB_ERR_IO && e != NB_ERR_NOMEM)) abort();
    return;
  }
  const char *out = memfile(1, NULL, 0);
  if (nb_mon_baseline_save(b, out) != NB_OK || nb_mon_baseline_load(out, &again) != NB_OK) abort();
  if (nb_mon_baseline_window(b) != nb_mon_baseline_window(again) ||
      nb_mon_baseline_flows(b) != nb_mon_baseline_flows(again))
    abort();
  nb_mon_baseline_free(again);
  nb_mon_baseline_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (data[0] & 1)
    baseline(data + 1, size - 1);
  else
    rules(data + 1, size - 1);
  return 0;
}
