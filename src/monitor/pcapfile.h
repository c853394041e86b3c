/* Reader of capture files, fed bytes as they arrive (a file, a pipe, stdin): classic pcap
 * (microsecond and nanosecond magics, either byte order, the modified-pcap record header) and
 * pcapng (sections of either byte order, any number of interfaces, each with its own link type,
 * timestamp resolution and offset; Enhanced, Simple and obsolete Packet blocks; other blocks
 * skipped). Hands out whole frames with their link type and time. Sans-I/O: the caller reads,
 * the reader parses. Owns its input buffer; a frame points into it until the next call. */
#ifndef NB_MONITOR_PCAPFILE_H
#define NB_MONITOR_PCAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Largest block or record accepted; beyond it the file is taken as damaged. */
#define NB_PCAPFILE_BLOCK_MAX (16u * 1024 * 1024)

typedef struct {
  int64_t ts_us;       /* capture time, microseconds since the epoch */
  int linktype;        /* LINKTYPE_* of the frame's interface */
  uint32_t interface;  /* pcapng interface index (0 in classic pcap) */
  const uint8_t *data; /* captured bytes */
  size_t caplen;       /* bytes captured */
  size_t origlen;      /* bytes on the wire */
} nb_pcap_frame;

typedef struct nb_pcapfile nb_pcapfile;

/* NULL when out of memory. */
nb_pcapfile *nb_pcapfile_new(void);
void nb_pcapfile_free(nb_pcapfile *p);

/* Room for the next bytes of input (at least `want` bytes): the caller writes into *space and
 * then commits what it wrote. NB_ERR_NOMEM when the buffer cannot grow. */
nb_err nb_pcapfile_space(nb_pcapfile *p, size_t want, uint8_t **space, size_t *cap);
void nb_pcapfile_commit(nb_pcapfile *p, size_t n);

/* Next whole frame: NB_OK with *f set; NB_ERR_NOT_FOUND when more input is needed;
 * NB_ERR_SYNTAX when the input is not a capture file or is damaged (*why says where; the
 * reader stays in that error). */
nb_err nb_pcapfile_next(nb_pcapfile *p, nb_pcap_frame *f, const char **why);

/* At the end of the input: NB_OK when it ended between frames; NB_ERR_TRUNCATED (*why) when
 * it ended inside a header, block or record (a capture cut short). */
nb_err nb_pcapfile_end(const nb_pcapfile *p, const char **why);

/* True once a file header was recognized (classic pcap header or pcapng section header). */
bool nb_pcapfile_recognized(const nb_pcapfile *p);
/* True for a pcapng file (false for classic pcap or before the header). */
bool nb_pcapfile_is_pcapng(const nb_pcapfile *p);
/* Link type of a classic pcap file (from its header), or of pcapng interface `index`; -1 when
 * unknown. */
int nb_pcapfile_linktype(const nb_pcapfile *p, uint32_t index);
/* Frames handed out so far. */
uint64_t nb_pcapfile_frames(const nb_pcapfile *p);

#endif
