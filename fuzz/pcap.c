/* libFuzzer: capture files as `niobium monitor --read FILE` reads them (pcap and pcapng through
 * the project's reader, src/monitor/capture.c and pcapfile.c), every frame then through the monitor
 * engine with a PSK table (so DTLS sessions can be decrypted) and learning a baseline, every event
 * rendered as JSON. The input is the file itself, handed over through a memory file (memfd) so the
 * real path-based reader runs (fuzz/monitor_pcapfile.c feeds the reader in pieces instead).
 * Oracles: a file refused or stopped early says why, with one of the errors capture.h names; no
 * crash, no leak, no sanitizer report. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/buf.h"
#include "monitor/baseline.h"
#include "monitor/capture.h"
#include "monitor/dtlsdec.h"
#include "monitor/evjson.h"
#include "monitor/monitor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_event(const nb_mon_event *ev, void *user) {
  nb_bytes *b = user;
  nb_bytes_clear(b);
  nb_mon_event_to_json(ev, NULL, b);
}

/* The memory file the input is written to, and its /proc path. */
static const char *input_path(const uint8_t *data, size_t size) {
  static int fd = -1;
  static char path[64];
  if (fd < 0) {
    fd = memfd_create("fuzz.pcap", 0);
    if (fd < 0) abort();
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  }
  if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) abort();
  return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint8_t key[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
  nb_mon_psks *psks = nb_mon_psks_new();
  nb_mon_baseline *learn = nb_mon_baseline_new(10);
  if (!psks || !learn || nb_mon_psks_add(psks, (const uint8_t *)"dev", 3, key, sizeof key)) abort();
  nb_bytes json;
  nb_bytes_init(&json);
  nb_mon_config cfg = {.summary_interval_s = 1, .psks = psks, .learn = learn};
  nb_monitor *m = nb_monitor_new(&cfg, on_event, &json);
  if (!m) abort();
  char why[256] = "";
  nb_err e = nb_mon_read_file(m, input_path(data, size), NULL, why, sizeof why);
  if (e != NB_OK && (!why[0] || (e != NB_ERR_IO && e != NB_ERR_UNSUPPORTED && e != NB_ERR_SYNTAX &&
                                 e != NB_ERR_TRUNCATED)))
    abort();
  nb_mon_baseline_flush(learn);
  nb_monitor_free(m);
  nb_mon_baseline_free(learn);
  nb_mon_psks_free(psks);
  nb_bytes_free(&json);
  return 0;
}
