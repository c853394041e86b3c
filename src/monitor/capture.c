/* libpcap shell around the monitor engine. */
#include "monitor/capture.h"

#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "monitor/frame.h"

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

nb_err nb_mon_read_file_hooked(nb_monitor *m, const char *path, const char *filter,
                               const nb_mon_capture_hooks *hooks, char *why, size_t why_cap) {
  char err[PCAP_ERRBUF_SIZE] = "";
  pcap_t *p = pcap_open_offline(path, err);
  if (!p) {
    snprintf(why, why_cap, "%s", err);
    return NB_ERR_IO;
  }
  nb_cap_ctx c = {m, 0, 0};
  nb_err e = nb_cap_linktype(p, &c, why, why_cap);
  if (!e) e = nb_cap_filter(p, filter, why, why_cap);
  int n = 1;
  while (!e && n > 0) { /* in batches, so the hooks run during a long file */
    n = pcap_dispatch(p, 4096, nb_cap_packet, (u_char *)&c);
    if (n == PCAP_ERROR) {
      snprintf(why, why_cap, "%s", pcap_geterr(p));
      e = NB_ERR_IO;
    }
    nb_cap_between(hooks);
  }
  pcap_close(p);
  if (!e) {
    nb_cap_before_finish(hooks);
    nb_monitor_finish(m, c.last_us);
  }
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
