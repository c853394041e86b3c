/* Fuzz target for the capture-file reader (pcapfile.h): the input is a pcap or pcapng file,
 * handed to the reader in pieces whose sizes come from the input itself (so every split of a
 * header, block or record across reads is tried), each frame going through the monitor engine.
 * Checks the reader's promises: a frame lies inside the buffered input, a damaged file stays
 * damaged, the end says whether the input ended between frames. */
#include <stdlib.h>
#include <string.h>

#include "monitor/monitor.h"
#include "monitor/pcapfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void nb_fuzz_event(const nb_mon_event *ev, void *user) {
  (void)ev;
  (void)user;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_pcapfile *pf = nb_pcapfile_new();
  nb_monitor *m = nb_monitor_new(NULL, nb_fuzz_event, NULL);
  if (!pf || !m) abort();
  size_t pos = 0, step = 1;
  bool damaged = false;
  while (pos < size && !damaged) {
    step = (size_t)data[pos % size] % 97 + 1; /* 1..97 bytes per read */
    size_t n = size - pos < step ? size - pos : step;
    uint8_t *space;
    size_t cap;
    if (nb_pcapfile_space(pf, n, &space, &cap) != NB_OK || cap < n) abort();
    memcpy(space, data + pos, n);
    nb_pcapfile_commit(pf, n);
    pos += n;
    nb_pcap_frame f;
    const char *why = NULL;
    nb_err e;
    while ((e = nb_pcapfile_next(pf, &f, &why)) == NB_OK) {
      if (f.caplen > NB_PCAPFILE_BLOCK_MAX || (f.caplen && !f.data)) abort();
      nb_monitor_feed(m, f.ts_us, f.linktype, f.data, f.caplen);
    }
    if (e == NB_ERR_SYNTAX) {
      if (!why || nb_pcapfile_next(pf, &f, &why) != NB_ERR_SYNTAX) abort();
      damaged = true;
    } else if (e != NB_ERR_NOT_FOUND) {
      abort();
    }
  }
  const char *why = NULL;
  nb_err end = nb_pcapfile_end(pf, &why);
  if (end != NB_OK && !why) abort();
  if (damaged && end != NB_ERR_SYNTAX) abort();
  nb_monitor_finish(m, 0);
  nb_monitor_free(m);
  nb_pcapfile_free(pf);
  return 0;
}
