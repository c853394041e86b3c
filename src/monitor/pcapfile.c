/* pcap and pcapng reader (formats: draft-ietf-opsawg-pcap and draft-ietf-opsawg-pcapng). */
#include "monitor/pcapfile.h"

#include <stdlib.h>
#include <string.h>

enum {
  NB_PCAPNG_SHB = 0x0A0D0D0A,
  NB_PCAPNG_IDB = 1,
  NB_PCAPNG_OPB = 2, /* obsolete Packet Block */
  NB_PCAPNG_SPB = 3,
  NB_PCAPNG_EPB = 6,
  NB_PCAPNG_BOM = 0x1A2B3C4D,
  NB_PCAP_USEC = 0xA1B2C3D4,
  NB_PCAP_NSEC = 0xA1B23C4D,
  NB_PCAP_MODIFIED = 0xA1B2CD34, /* Kuznetzov's patch: 8 more bytes per record header */
};

#define NB_PCAPFILE_READ_MIN ((size_t)256 * 1024)
#define NB_PCAPFILE_IFACES_MAX 65536u

typedef enum { NB_PF_START, NB_PF_PCAP, NB_PF_PCAPNG, NB_PF_ERROR } nb_pf_state;

typedef struct {
  int linktype;
  uint32_t snaplen;
  int64_t offset_s; /* if_tsoffset */
  uint8_t resol;    /* if_tsresol: 10^-resol, or 2^-(resol & 0x7f) when the top bit is set */
} nb_pf_iface;

struct nb_pcapfile {
  uint8_t *buf;
  size_t cap, start, end; /* unread input is buf[start, end) */
  nb_pf_state state;
  bool le;           /* the file's (section's) byte order is little-endian */
  bool nsec;         /* classic pcap: nanosecond timestamps */
  size_t rec_header; /* classic pcap: 16, or 24 for the modified format */
  int pcap_linktype;
  nb_pf_iface *ifs;
  size_t nifs, ifcap;
  bool recognized;    /* a file header was read */
  int64_t last_ts_us; /* for Simple Packet Blocks, which carry no time */
  uint64_t frames;
  const char *why;
};

nb_pcapfile *nb_pcapfile_new(void) {
  nb_pcapfile *p = calloc(1, sizeof *p);
  if (p) p->pcap_linktype = -1;
  return p;
}

void nb_pcapfile_free(nb_pcapfile *p) {
  if (!p) return;
  free(p->buf);
  free(p->ifs);
  free(p);
}

nb_err nb_pcapfile_space(nb_pcapfile *p, size_t want, uint8_t **space, size_t *cap) {
  if (want < NB_PCAPFILE_READ_MIN) want = NB_PCAPFILE_READ_MIN;
  if (p->cap - p->end < want && p->start > 0) {
    memmove(p->buf, p->buf + p->start, p->end - p->start);
    p->end -= p->start;
    p->start = 0;
  }
  if (p->cap - p->end < want) {
    size_t ncap = p->cap ? p->cap : NB_PCAPFILE_READ_MIN * 4;
    while (ncap - p->end < want) ncap *= 2;
    uint8_t *b = realloc(p->buf, ncap);
    if (!b) return NB_ERR_NOMEM;
    p->buf = b;
    p->cap = ncap;
  }
  *space = p->buf + p->end;
  *cap = p->cap - p->end;
  return NB_OK;
}

void nb_pcapfile_commit(nb_pcapfile *p, size_t n) {
  if (n > p->cap - p->end) n = p->cap - p->end;
  p->end += n;
}

bool nb_pcapfile_recognized(const nb_pcapfile *p) { return p->recognized; }

bool nb_pcapfile_is_pcapng(const nb_pcapfile *p) { return p->state == NB_PF_PCAPNG; }

int nb_pcapfile_linktype(const nb_pcapfile *p, uint32_t index) {
  if (p->state == NB_PF_PCAP) return p->pcap_linktype;
  return index < p->nifs ? p->ifs[index].linktype : -1;
}

uint64_t nb_pcapfile_frames(const nb_pcapfile *p) { return p->frames; }

/* ---- bytes in the file's order ---- */

static uint16_t nb_pf_u16(const nb_pcapfile *p, const uint8_t *b) {
  return p->le ? (uint16_t)(b[0] | b[1] << 8) : (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t nb_pf_u32(const nb_pcapfile *p, const uint8_t *b) {
  return p->le ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24
               : (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

static uint32_t nb_be32(const uint8_t *b) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

static nb_err nb_pf_fail(nb_pcapfile *p, const char *why) {
  p->state = NB_PF_ERROR;
  p->why = why;
  return NB_ERR_SYNTAX;
}

static size_t nb_pf_avail(const nb_pcapfile *p) { return p->end - p->start; }

/* ---- classic pcap ---- */

static nb_err nb_pf_pcap_header(nb_pcapfile *p, uint32_t magic_be) {
  const uint8_t *h = p->buf + p->start;
  if (nb_pf_avail(p) < 24) return NB_ERR_NOT_FOUND;
  p->le = magic_be != NB_PCAP_USEC && magic_be != NB_PCAP_NSEC && magic_be != NB_PCAP_MODIFIED;
  uint32_t magic = nb_pf_u32(p, h);
  p->nsec = magic == NB_PCAP_NSEC;
  p->rec_header = magic == NB_PCAP_MODIFIED ? 24 : 16;
  if (nb_pf_u16(p, h + 4) != 2) return nb_pf_fail(p, "pcap: unsupported major version");
  /* The link type is the low 16 bits; the high bits carry FCS information. */
  p->pcap_linktype = (int)(nb_pf_u32(p, h + 20) & 0xffff);
  p->start += 24;
  p->state = NB_PF_PCAP;
  p->recognized = true;
  return NB_OK;
}

static nb_err nb_pf_pcap_record(nb_pcapfile *p, nb_pcap_frame *f) {
  if (nb_pf_avail(p) < p->rec_header) return NB_ERR_NOT_FOUND;
  const uint8_t *h = p->buf + p->start;
  uint32_t caplen = nb_pf_u32(p, h + 8);
  if (caplen > NB_PCAPFILE_BLOCK_MAX) return nb_pf_fail(p, "pcap: record larger than 16 MiB");
  if (nb_pf_avail(p) < p->rec_header + caplen) return NB_ERR_NOT_FOUND;
  uint32_t frac = nb_pf_u32(p, h + 4);
  f->ts_us = (int64_t)nb_pf_u32(p, h) * 1000000 + (p->nsec ? frac / 1000 : frac);
  f->linktype = p->pcap_linktype;
  f->interface = 0;
  f->data = h + p->rec_header;
  f->caplen = caplen;
  f->origlen = nb_pf_u32(p, h + 12);
  p->start += p->rec_header + caplen;
  return NB_OK;
}

/* ---- pcapng ---- */

/* Microseconds of `units` at the interface's resolution, plus its offset. */
static int64_t nb_pf_ts(const nb_pf_iface *i, uint64_t units) {
  unsigned __int128 us;
  if (i->resol & 0x80) {
    unsigned shift = i->resol & 0x7f;
    us = shift >= 64 ? 0 : ((unsigned __int128)units * 1000000u) >> shift;
  } else if (i->resol <= 6) {
    us = units;
    for (unsigned k = i->resol; k < 6; k++) us *= 10;
  } else {
    us = units;
    for (unsigned k = 6; k < i->resol && us; k++) us /= 10;
  }
  /* Times far outside any capture (corrupt or hostile files) are clamped to +-2^61 us
   * (73 000 years), so that every sum the monitor makes with them stays in range. */
  const __int128 lim = (__int128)1 << 61;
  __int128 t = (__int128)(us > (unsigned __int128)lim ? lim : us) + (__int128)i->offset_s * 1000000;
  return (int64_t)(t > lim ? lim : t < -lim ? -lim : t);
}

static void nb_pf_iface_options(const nb_pcapfile *p, nb_pf_iface *i, const uint8_t *o,
                                size_t len) {
  while (len >= 4) {
    uint16_t code = nb_pf_u16(p, o), olen = nb_pf_u16(p, o + 2);
    size_t padded = ((size_t)olen + 3) & ~(size_t)3;
    if (code == 0 || padded > len - 4) return; /* opt_endofopt, or options cut short */
    if (code == 9 && olen == 1) i->resol = o[4];
    if (code == 14 && olen == 8) {
      uint64_t v = (uint64_t)nb_pf_u32(p, o + 4) << 32 | nb_pf_u32(p, o + 8);
      if (p->le) v = (uint64_t)nb_pf_u32(p, o + 8) << 32 | nb_pf_u32(p, o + 4);
      i->offset_s = (int64_t)v;
    }
    o += 4 + padded;
    len -= 4 + padded;
  }
}

static nb_err nb_pf_idb(nb_pcapfile *p, const uint8_t *b, size_t len) {
  if (len < 20) return nb_pf_fail(p, "pcapng: interface description block too short");
  if (p->nifs == NB_PCAPFILE_IFACES_MAX) return nb_pf_fail(p, "pcapng: too many interfaces");
  if (p->nifs == p->ifcap) {
    size_t ncap = p->ifcap ? p->ifcap * 2 : 4;
    nb_pf_iface *n = realloc(p->ifs, ncap * sizeof *n);
    if (!n) return nb_pf_fail(p, "out of memory");
    p->ifs = n;
    p->ifcap = ncap;
  }
  nb_pf_iface *i = &p->ifs[p->nifs++];
  i->linktype = nb_pf_u16(p, b + 8);
  i->snaplen = nb_pf_u32(p, b + 12);
  i->offset_s = 0;
  i->resol = 6;
  nb_pf_iface_options(p, i, b + 16, len - 20);
  return NB_ERR_NOT_FOUND; /* no frame: go on */
}

static nb_err nb_pf_shb(nb_pcapfile *p, const uint8_t *b, size_t len) {
  if (len < 28) return nb_pf_fail(p, "pcapng: section header block too short");
  if (nb_pf_u16(p, b + 12) != 1) return nb_pf_fail(p, "pcapng: unsupported major version");
  p->nifs = 0; /* interfaces are numbered per section */
  return NB_ERR_NOT_FOUND;
}

static nb_err nb_pf_iface_of(nb_pcapfile *p, uint32_t id, const nb_pf_iface **out) {
  if (id >= p->nifs) return nb_pf_fail(p, "pcapng: packet of an undeclared interface");
  *out = &p->ifs[id];
  return NB_OK;
}

/* Enhanced (with_id: 32-bit interface), obsolete (16-bit interface) and Simple packet blocks. */
static nb_err nb_pf_packet(nb_pcapfile *p, uint32_t type, const uint8_t *b, size_t len,
                           nb_pcap_frame *f) {
  const nb_pf_iface *i = NULL;
  size_t head;
  uint32_t caplen;
  if (type == NB_PCAPNG_SPB) {
    head = 12;
    if (len < head + 4 || nb_pf_iface_of(p, 0, &i))
      return nb_pf_fail(p, "pcapng: bad packet block");
    f->origlen = nb_pf_u32(p, b + 8);
    caplen = (uint32_t)(len - head - 4);
    if (f->origlen < caplen) caplen = (uint32_t)f->origlen;
    if (i->snaplen && i->snaplen < caplen) caplen = i->snaplen;
    f->ts_us = p->last_ts_us;
  } else {
    head = 28;
    if (len < head + 4) return nb_pf_fail(p, "pcapng: packet block too short");
    uint32_t id = type == NB_PCAPNG_EPB ? nb_pf_u32(p, b + 8) : nb_pf_u16(p, b + 8);
    if (nb_pf_iface_of(p, id, &i)) return NB_ERR_SYNTAX;
    caplen = nb_pf_u32(p, b + 20);
    if (caplen > len - head - 4) return nb_pf_fail(p, "pcapng: packet data past its block");
    f->origlen = nb_pf_u32(p, b + 24);
    f->ts_us = nb_pf_ts(i, (uint64_t)nb_pf_u32(p, b + 12) << 32 | nb_pf_u32(p, b + 16));
    f->interface = id;
  }
  if (type == NB_PCAPNG_SPB) f->interface = 0;
  f->linktype = i->linktype;
  f->data = b + head;
  f->caplen = caplen;
  p->last_ts_us = f->ts_us;
  return NB_OK;
}

static nb_err nb_pf_block(nb_pcapfile *p, nb_pcap_frame *f) {
  if (nb_pf_avail(p) < 12) return NB_ERR_NOT_FOUND;
  const uint8_t *b = p->buf + p->start;
  uint32_t type = nb_be32(b);
  if (type == NB_PCAPNG_SHB) { /* its byte-order magic says how to read everything after */
    uint32_t bom = nb_be32(b + 8);
    if (bom != NB_PCAPNG_BOM && bom != 0x4D3C2B1A)
      return nb_pf_fail(p, "pcapng: bad byte-order magic");
    p->le = bom != NB_PCAPNG_BOM;
  } else {
    type = nb_pf_u32(p, b);
  }
  uint32_t len = nb_pf_u32(p, b + 4);
  if (len < 12 || len % 4 != 0) return nb_pf_fail(p, "pcapng: bad block length");
  if (len > NB_PCAPFILE_BLOCK_MAX) return nb_pf_fail(p, "pcapng: block larger than 16 MiB");
  if (nb_pf_avail(p) < len) return NB_ERR_NOT_FOUND;
  if (nb_pf_u32(p, b + len - 4) != len)
    return nb_pf_fail(p, "pcapng: block lengths at its start and end differ");
  p->start += len;
  switch (type) {
    case NB_PCAPNG_SHB:
      return nb_pf_shb(p, b, len);
    case NB_PCAPNG_IDB:
      return nb_pf_idb(p, b, len);
    case NB_PCAPNG_EPB:
    case NB_PCAPNG_OPB:
    case NB_PCAPNG_SPB:
      return nb_pf_packet(p, type, b, len, f);
    default:
      return NB_ERR_NOT_FOUND; /* name resolution, statistics, custom blocks... */
  }
}

/* ---- frames ---- */

static nb_err nb_pf_start(nb_pcapfile *p) {
  if (nb_pf_avail(p) < 4) return NB_ERR_NOT_FOUND;
  uint32_t magic = nb_be32(p->buf + p->start);
  if (magic == NB_PCAPNG_SHB) {
    p->state = NB_PF_PCAPNG;
    p->recognized = true;
    return NB_OK;
  }
  static const uint32_t pcap_magics[] = {NB_PCAP_USEC, NB_PCAP_NSEC, NB_PCAP_MODIFIED,
                                         0xD4C3B2A1,   0x4D3CB2A1,   0x34CDB2A1};
  for (size_t k = 0; k < sizeof pcap_magics / sizeof pcap_magics[0]; k++)
    if (magic == pcap_magics[k]) return nb_pf_pcap_header(p, magic);
  return nb_pf_fail(p, "not a pcap or pcapng capture file");
}

nb_err nb_pcapfile_next(nb_pcapfile *p, nb_pcap_frame *f, const char **why) {
  nb_err e = NB_OK;
  if (p->state == NB_PF_START) e = nb_pf_start(p);
  for (;;) {
    if (e == NB_OK && p->state == NB_PF_PCAP) e = nb_pf_pcap_record(p, f);
    if (e == NB_OK && p->state == NB_PF_PCAPNG) {
      size_t before = p->start;
      e = nb_pf_block(p, f);
      /* a block that held no frame was consumed: look at the next one */
      if (e == NB_ERR_NOT_FOUND && p->start != before && p->state == NB_PF_PCAPNG) {
        e = NB_OK;
        continue;
      }
    }
    break;
  }
  if (p->state == NB_PF_ERROR) {
    if (why) *why = p->why;
    return NB_ERR_SYNTAX;
  }
  if (e == NB_OK) p->frames++;
  return e;
}

nb_err nb_pcapfile_end(const nb_pcapfile *p, const char **why) {
  if (p->state == NB_PF_ERROR) {
    if (why) *why = p->why;
    return NB_ERR_SYNTAX;
  }
  if (p->state == NB_PF_START) {
    if (why) *why = p->end == p->start ? "the file is empty" : "the file ends inside its header";
    return NB_ERR_TRUNCATED;
  }
  if (p->end == p->start) return NB_OK;
  if (why)
    *why = p->state == NB_PF_PCAP ? "the capture is cut short inside a frame record"
                                  : "the capture is cut short inside a pcapng block";
  return NB_ERR_TRUNCATED;
}
