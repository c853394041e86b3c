/* Capture shell around the monitor engine: files through the project's pcap/pcapng reader,
 * live interfaces through libpcap; BPF filters compiled by libpcap. */
#include "monitor/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "monitor/frame.h"
#include "monitor/pcapfile.h"

typedef struct {
  nb_monitor *m;
  int linktype;
  int64_t last_us;
} nb_cap_ctx;

/* Capture time in microseconds. A pcapng timestamp is 64 bits in units the file chooses, so
 * seconds can be anything: they are held within +-2^62 us (146 000 years), which leaves the
 * engine room to add its windows without overflow. */
static int64_t nb_cap_time_us(const struct timeval *tv) {
  const int64_t limit = INT64_C(1) << 62, limit_s = limit / 1000000;
  if (tv->tv_sec >= limit_s) return limit;
  if (tv->tv_sec <= -limit_s) return -limit;
  return (int64_t)tv->tv_sec * 1000000 + tv->tv_usec;
}

static void nb_cap_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
  nb_cap_ctx *c = (nb_cap_ctx *)user;
  int64_t ts = nb_cap_time_us(&h->ts);
  c->last_us = ts;
  nb_monitor_feed(c->m, ts, c->linktype, bytes, h->caplen);
}

static nb_err nb_cap_filter(pcap_t *p, const char *filter, char *why, size_t why_cap) {
  if (!filter || !*filter) return NB_OK;
  struct bpf_program prog;
  if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
    snprintf(why, why_cap, "bad filter: %s", pcap_geterr(p));
    return NB_ERR_INVAL;
  }
  int rc = pcap_setfilter(p, &prog);
  pcap_freecode(&prog);
  if (rc != 0) {
    snprintf(why, why_cap, "cannot set filter: %s", pcap_geterr(p));
    return NB_ERR_IO;
  }
  return NB_OK;
}

static nb_err nb_cap_linktype(pcap_t *p, nb_cap_ctx *c, char *why, size_t why_cap) {
  c->linktype = pcap_datalink(p);
  /* libpcap reports DLT values; LINKTYPE_RAW appears as DLT_RAW (12 or 14). */
  if (!nb_frame_linktype_supported(c->linktype)) {
    snprintf(why, why_cap, "link type %d (%s) is not supported", c->linktype,
             pcap_datalink_val_to_name(c->linktype) ? pcap_datalink_val_to_name(c->linktype) : "?");
    return NB_ERR_UNSUPPORTED;
  }
  return NB_OK;
}

static void nb_cap_between(const nb_mon_capture_hooks *h) {
  if (h && h->between) h->between(h->user);
}

static void nb_cap_before_finish(const nb_mon_capture_hooks *h) {
  if (h && h->before_finish) h->before_finish(h->user);
}

nb_err nb_mon_read_file(nb_monitor *m, const char *path, const char *filter, char *why,
                        size_t why_cap) {
  return nb_mon_read_file_hooked(m, path, filter, NULL, why, why_cap);
}

nb_err nb_mon_capture_live(nb_monitor *m, const char *iface, const char *filter, volatile int *stop,
                           uint64_t max_packets, char *why, size_t why_cap) {
  return nb_mon_capture_live_hooked(m, iface, filter, stop, max_packets, NULL, why, why_cap);
}

/* BPF programs for a file's link types, compiled on first use (pcapng interfaces may differ). */
#define NB_CAP_LINKTYPES 8

typedef struct {
  const char *filter;
  int linktypes[NB_CAP_LINKTYPES];
  struct bpf_program progs[NB_CAP_LINKTYPES];
  size_t n;
} nb_cap_filters;

/* libpcap compiles for DLT values; LINKTYPE_RAW (101) is DLT_RAW there, the rest agree. */
static int nb_cap_dlt(int linktype) { return linktype == NB_LINK_RAW ? DLT_RAW : linktype; }

static nb_err nb_cap_filter_for(nb_cap_filters *fs, int linktype, struct bpf_program **prog,
                                char *why, size_t why_cap) {
  *prog = NULL;
  if (!fs->filter || !*fs->filter || !nb_frame_linktype_supported(linktype)) return NB_OK;
  for (size_t i = 0; i < fs->n; i++)
    if (fs->linktypes[i] == linktype) return *prog = &fs->progs[i], NB_OK;
  if (fs->n == NB_CAP_LINKTYPES) {
    snprintf(why, why_cap, "filter: more than %d link types in one capture", NB_CAP_LINKTYPES);
    return NB_ERR_UNSUPPORTED;
  }
  pcap_t *dead = pcap_open_dead(nb_cap_dlt(linktype), 262144);
  if (!dead) {
    snprintf(why, why_cap, "out of memory");
    return NB_ERR_NOMEM;
  }
  nb_err e = NB_OK;
  if (pcap_compile(dead, &fs->progs[fs->n], fs->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
    snprintf(why, why_cap, "bad filter: %s", pcap_geterr(dead));
    e = NB_ERR_INVAL;
  } else {
    fs->linktypes[fs->n] = linktype;
    *prog = &fs->progs[fs->n++];
  }
  pcap_close(dead);
  return e;
}

static void nb_cap_filters_free(nb_cap_filters *fs) {
  for (size_t i = 0; i < fs->n; i++) pcap_freecode(&fs->progs[i]);
  fs->n = 0;
}

/* A classic pcap file says its one link type up front: an unsupported one is refused before
 * any frame is read (pcapng interfaces are judged frame by frame). */
static nb_err nb_cap_check_pcap(const nb_pcapfile *pf, char *why, size_t why_cap) {
  int lt = nb_pcapfile_linktype(pf, 0);
  if (!nb_pcapfile_recognized(pf) || nb_pcapfile_is_pcapng(pf) || lt < 0 ||
      nb_frame_linktype_supported(lt))
    return NB_OK;
  const char *name = pcap_datalink_val_to_name(nb_cap_dlt(lt));
  snprintf(why, why_cap, "link type %d (%s) is not supported", lt, name ? name : "?");
  return NB_ERR_UNSUPPORTED;
}

/* Feeds every whole frame the reader holds; NB_ERR_SYNTAX (damaged file), a filter error, or
 * NB_ERR_UNSUPPORTED for a classic pcap file of a link type not decoded. */
static nb_err nb_cap_drain(nb_monitor *m, nb_pcapfile *pf, nb_cap_filters *fs, int64_t *last_us,
                           char *why, size_t why_cap) {
  nb_pcap_frame fr;
  const char *bad = NULL;
  nb_err e;
  while ((e = nb_pcapfile_next(pf, &fr, &bad)) == NB_OK) {
    if (!nb_pcapfile_is_pcapng(pf) && (e = nb_cap_check_pcap(pf, why, why_cap)) != NB_OK) return e;
    struct bpf_program *prog;
    if ((e = nb_cap_filter_for(fs, fr.linktype, &prog, why, why_cap)) != NB_OK) return e;
    *last_us = fr.ts_us;
    if (prog) {
      struct pcap_pkthdr h = {.caplen = (bpf_u_int32)fr.caplen, .len = (bpf_u_int32)fr.origlen};
      if (!pcap_offline_filter(prog, &h, fr.data)) continue;
    }
    nb_monitor_feed(m, fr.ts_us, fr.linktype, fr.data, fr.caplen);
  }
  if (e == NB_ERR_SYNTAX) snprintf(why, why_cap, "%s", bad ? bad : "damaged capture");
  return e == NB_ERR_NOT_FOUND ? NB_OK : e;
}

static ssize_t nb_cap_read(int fd, uint8_t *buf, size_t cap) {
  ssize_t n;
  do n = read(fd, buf, cap);
  while (n < 0 && errno == EINTR);
  return n;
}

/* The read loop: input as it comes, frames as soon as they are whole, the hooks after every
 * read (so output is flushed before the reader waits on a pipe). */
static nb_err nb_cap_read_all(nb_monitor *m, int fd, nb_pcapfile *pf, nb_cap_filters *fs,
                              const nb_mon_capture_hooks *hooks, int64_t *last_us, char *why,
                              size_t why_cap) {
  bool checked = false;
  for (;;) {
    uint8_t *space;
    size_t cap;
    if (nb_pcapfile_space(pf, 0, &space, &cap))
      return snprintf(why, why_cap, "out of memory"), NB_ERR_NOMEM;
    ssize_t n = nb_cap_read(fd, space, cap);
    if (n < 0) return snprintf(why, why_cap, "read error: %s", strerror(errno)), NB_ERR_IO;
    if (n == 0) break;
    nb_pcapfile_commit(pf, (size_t)n);
    nb_err e = nb_cap_drain(m, pf, fs, last_us, why, why_cap);
    if (!e && !checked && nb_pcapfile_recognized(pf)) {
      checked = true;
      e = nb_cap_check_pcap(pf, why, why_cap);
    }
    if (e) return e;
    nb_cap_between(hooks);
  }
  const char *cut = NULL;
  nb_err e = nb_pcapfile_end(pf, &cut);
  if (e)
    snprintf(why, why_cap, "%s (after %llu frames)", cut,
             (unsigned long long)nb_pcapfile_frames(pf));
  return e;
}

nb_err nb_mon_read_file_hooked(nb_monitor *m, const char *path, const char *filter,
                               const nb_mon_capture_hooks *hooks, char *why, size_t why_cap) {
  bool std_in = !strcmp(path, "-");
  int fd = std_in ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(why, why_cap, "%s", strerror(errno));
    return NB_ERR_IO;
  }
  nb_pcapfile *pf = nb_pcapfile_new();
  nb_cap_filters fs = {.filter = filter};
  int64_t last_us = 0;
  nb_err e = pf ? nb_cap_read_all(m, fd, pf, &fs, hooks, &last_us, why, why_cap) : NB_ERR_NOMEM;
  if (!pf) snprintf(why, why_cap, "out of memory");
  /* Once frames could be read the run ends with its summary, also when the file is cut short
   * or damaged: what was read is reported, and the summary says why it stopped. */
  bool finish = pf && nb_pcapfile_recognized(pf) && e != NB_ERR_UNSUPPORTED && e != NB_ERR_INVAL;
  if (finish) {
    nb_cap_before_finish(hooks);
    nb_monitor_finish_error(m, last_us, e ? why : NULL);
  }
  nb_cap_filters_free(&fs);
  nb_pcapfile_free(pf);
  if (!std_in) close(fd);
  return e;
}

nb_err nb_mon_capture_live_hooked(nb_monitor *m, const char *iface, const char *filter,
                                  volatile int *stop, uint64_t max_packets,
                                  const nb_mon_capture_hooks *hooks, char *why, size_t why_cap) {
  char err[PCAP_ERRBUF_SIZE] = "";
  pcap_t *p = pcap_create(iface, err);
  if (!p) {
    snprintf(why, why_cap, "%s", err);
    return NB_ERR_IO;
  }
  pcap_set_snaplen(p, 65535);
  pcap_set_promisc(p, 0);
  pcap_set_timeout(p, 200);
  pcap_set_immediate_mode(p, 1);
  if (pcap_activate(p) < 0) {
    snprintf(why, why_cap, "cannot capture on %s: %s", iface, pcap_geterr(p));
    pcap_close(p);
    return NB_ERR_IO;
  }
  nb_cap_ctx c = {m, 0, 0};
  nb_err e = nb_cap_linktype(p, &c, why, why_cap);
  if (!e) e = nb_cap_filter(p, filter, why, why_cap);
  /* Non-blocking, with our own poll: a signal or the hooks' work is never stuck behind
   * libpcap's wait, which restarts after EINTR in immediate mode. */
  int fd = e ? -1 : pcap_get_selectable_fd(p);
  if (!e && fd >= 0 && pcap_setnonblock(p, 1, err) != 0) fd = -1;
  uint64_t seen = 0;
  while (!e && !*stop && (!max_packets || seen < max_packets)) {
    if (fd >= 0) {
      struct pollfd pfd = {fd, POLLIN, 0};
      if (poll(&pfd, 1, 200) == 0) { /* idle: the hooks still run */
        nb_cap_between(hooks);
        continue;
      }
    }
    int n =
        pcap_dispatch(p, max_packets ? (int)(max_packets - seen) : 64, nb_cap_packet, (u_char *)&c);
    if (n < 0) {
      if (n == PCAP_ERROR) snprintf(why, why_cap, "%s", pcap_geterr(p)), e = NB_ERR_IO;
      break;
    }
    seen += (uint64_t)n;
    nb_cap_between(hooks);
  }
  pcap_close(p);
  nb_cap_before_finish(hooks);
  nb_monitor_finish(m, c.last_us);
  return e;
}
