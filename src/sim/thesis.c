/* The seed thesis's Tables 5.4-5.6 beside the fleet simulator's measurements. */
#include "sim/thesis.h"

#include <string.h>

/* One row of the thesis's Table 5.4 and the classes of ours it corresponds to. */
typedef struct {
  const char *label;
  int nosec, dtls;  /* its packet size in bytes; nosec < 0: a DTLS-only row */
  unsigned packets; /* its packet count; 0 = k */
  bool bs;          /* bootstrap phase (else device management) */
  int dir;          /* 0 up, 1 down, 2 both */
  nb_sim_msg cls[2];
  unsigned ncls;
} nb_sim_thesis_row;

#define R(c) (NB_SIM_MSG_##c + NB_SIM_MSG_RESP_OFFSET)

static const nb_sim_thesis_row nb_sim_thesis_rows[] = {
    {"POST Bootstrap Request", 28, 57, 1, true, 0, {NB_SIM_MSG_BS_REQUEST}, 1},
    {"ACK 2.03 Valid", 4, 33, 1, true, 1, {R(BS_REQUEST)}, 1},
    {"DELETE", 8, 37, 2, true, 1, {NB_SIM_MSG_BS_DELETE}, 1},
    {"ACK 2.02 Deleted", 4, 33, 2, true, 0, {R(BS_DELETE)}, 1},
    {"POST Security Obj", 42, 176, 1, true, 1, {NB_SIM_MSG_BS_WRITE_SEC}, 1},
    {"POST Server Obj", 19, 48, 1, true, 1, {NB_SIM_MSG_BS_WRITE_SRV}, 1},
    {"ACK 2.01 Created", 4, 33, 2, true, 0, {R(BS_WRITE_SEC), R(BS_WRITE_SRV)}, 2},
    {"DTLS Handshake", -1, 1128, 15, true, 2, {NB_SIM_MSG_DTLS_HS}, 1},
    {"POST Registration Request", 115, 144, 1, false, 0, {NB_SIM_MSG_REGISTER}, 1},
    {"ACK 2.01 Created", 9, 38, 1, false, 1, {R(REGISTER)}, 1},
    {"GET Observe Request", 21, 50, 1, false, 1, {NB_SIM_MSG_OBSERVE}, 1},
    {"Notify 2.05 Content", 13, 42, 0, false, 0, {NB_SIM_MSG_NOTIFY}, 1},
    {"PUT Registration Update", 9, 38, 1, false, 0, {NB_SIM_MSG_UPDATE}, 1},
    {"ACK 2.04 Changed", 4, 33, 1, false, 1, {R(UPDATE)}, 1},
    {"DELETE De-registration", 9, 38, 1, false, 0, {NB_SIM_MSG_DEREGISTER}, 1},
    {"ACK 2.02 Deleted", 4, 33, 1, false, 1, {R(DEREGISTER)}, 1},
    {"DTLS Handshake", -1, 1128, 15, false, 2, {NB_SIM_MSG_DTLS_HS}, 1},
};

#define NB_SIM_THESIS_NROWS (sizeof nb_sim_thesis_rows / sizeof nb_sim_thesis_rows[0])

/* Our row of class c in one phase (the bootstrap server's, or everyone else's). */
static nb_sim_wire_row nb_sim_phase_row(const nb_sim_wire *w, nb_sim_msg c, bool bs) {
  if (bs) return w->bs_rows[c];
  nb_sim_wire_row r = w->rows[c];
  for (int d = 0; d < 2; d++) {
    r.datagrams[d] -= w->bs_rows[c].datagrams[d];
    r.bytes[d] -= w->bs_rows[c].bytes[d];
  }
  return r;
}

static nb_sim_thesis_sum nb_sim_row_sum(const nb_sim_wire *w, const nb_sim_thesis_row *t) {
  nb_sim_thesis_sum s = {0, 0};
  for (unsigned i = 0; i < t->ncls; i++) {
    nb_sim_wire_row r = nb_sim_phase_row(w, t->cls[i], t->bs);
    for (int d = 0; d < 2; d++) {
      if (t->dir != 2 && t->dir != d) continue;
      s.bytes += r.bytes[d];
      s.packets += r.datagrams[d];
    }
  }
  return s;
}

/* Whether (class, direction, phase) is one of the thesis's rows. */
static bool nb_sim_thesis_covers(nb_sim_msg c, int dir, bool bs) {
  for (size_t i = 0; i < NB_SIM_THESIS_NROWS; i++) {
    const nb_sim_thesis_row *t = &nb_sim_thesis_rows[i];
    if (t->bs != bs || (t->dir != 2 && t->dir != dir)) continue;
    for (unsigned k = 0; k < t->ncls; k++)
      if (t->cls[k] == c) return true;
  }
  return false;
}

static nb_sim_thesis_sum nb_sim_phase_sum(const nb_sim_wire *w, bool bs) {
  nb_sim_thesis_sum s = {0, 0};
  for (int c = 0; c < NB_SIM_MSG_COUNT; c++) {
    nb_sim_wire_row r = nb_sim_phase_row(w, (nb_sim_msg)c, bs);
    s.bytes += r.bytes[0] + r.bytes[1];
    s.packets += r.datagrams[0] + r.datagrams[1];
  }
  return s;
}

void nb_sim_thesis_totals_of(const nb_sim_wire *w, bool dtls, unsigned k, nb_sim_thesis_totals *t) {
  memset(t, 0, sizeof *t);
  t->bootstrap = nb_sim_phase_sum(w, true);
  t->management = nb_sim_phase_sum(w, false);
  const nb_sim_wire_row *hs = &w->rows[NB_SIM_MSG_DTLS_HS];
  t->handshake.bytes = hs->bytes[0] + hs->bytes[1];
  t->handshake.packets = hs->datagrams[0] + hs->datagrams[1];
  t->total.bytes = t->bootstrap.bytes + t->management.bytes;
  t->total.packets = t->bootstrap.packets + t->management.packets;
  /* Table 5.4: bootstrap 125 / 1648 bytes in 10 / 25 packets; management 171 + 13k /
   * 1502 + 42k bytes in 7 + k / 22 + k packets (Tables 5.5 and 5.6 are k = 10 and 100). */
  t->thesis_bootstrap = dtls ? 1648 : 125;
  t->thesis_management = dtls ? 1502 + 42.0 * k : 171 + 13.0 * k;
  t->thesis_total = t->thesis_bootstrap + t->thesis_management;
  t->thesis_bootstrap_packets = dtls ? 25 : 10;
  t->thesis_management_packets = dtls ? 22.0 + k : 7.0 + k;
}

/* ---- text ---- */

/* ours: bytes per packet, or with sum (the thesis's handshake rows) the bytes of them all. */
static void nb_sim_thesis_line(FILE *out, const char *label, const char *theirs, uint64_t bytes,
                               const char *tp, uint64_t packets, const char *dir, bool sum) {
  char ours[24] = "-";
  if (packets) snprintf(ours, sizeof ours, "%.0f", sum ? (double)bytes : (double)bytes / packets);
  fprintf(out, "  %-40s %8s %8s %8s %8llu  %s\n", label, theirs, ours, tp,
          (unsigned long long)packets, dir);
}

static void nb_sim_thesis_phase(FILE *out, const nb_sim_wire *w, bool dtls, unsigned k, bool bs) {
  static const char *const dirs[] = {"up", "down", "both"};
  fprintf(out, "  %s\n", bs ? "Bootstrap phase" : "Device management phase");
  for (size_t i = 0; i < NB_SIM_THESIS_NROWS; i++) {
    const nb_sim_thesis_row *t = &nb_sim_thesis_rows[i];
    if (t->bs != bs) continue;
    nb_sim_thesis_sum s = nb_sim_row_sum(w, t);
    char theirs[16] = "-", tp[16];
    int size = dtls ? t->dtls : t->nosec;
    if (size >= 0) snprintf(theirs, sizeof theirs, "%d", size);
    if (size < 0)
      snprintf(tp, sizeof tp, "-");
    else if (t->packets)
      snprintf(tp, sizeof tp, "%u", t->packets);
    else
      snprintf(tp, sizeof tp, "k=%u", k);
    nb_sim_thesis_line(out, t->label, theirs, s.bytes, tp, s.packets, dirs[t->dir],
                       t->cls[0] == NB_SIM_MSG_DTLS_HS);
  }
  for (int c = 0; c < NB_SIM_MSG_COUNT; c++)
    for (int d = 0; d < 2; d++) {
      nb_sim_wire_row r = nb_sim_phase_row(w, (nb_sim_msg)c, bs);
      if (!r.datagrams[d] || nb_sim_thesis_covers((nb_sim_msg)c, d, bs)) continue;
      char label[64];
      snprintf(label, sizeof label, "(ours only) %s", nb_sim_msg_name((nb_sim_msg)c));
      nb_sim_thesis_line(out, label, "-", r.bytes[d], "-", r.datagrams[d], dirs[d], false);
    }
}

void nb_sim_thesis_text(FILE *out, const nb_sim_wire *w, bool dtls, unsigned k) {
  nb_sim_thesis_totals t;
  nb_sim_thesis_totals_of(w, dtls, k, &t);
  const char *mode = dtls ? "DTLS" : "NoSec";
  fprintf(out, "\nSeed thesis Table 5.4 beside this run (%s, k = %u notifications)\n", mode, k);
  fprintf(out,
          "  (bytes: UDP payload per packet, ours averaged over our packets; a handshake's\n"
          "  bytes are those of all its packets, as in the thesis)\n");
  fprintf(out, "  %-34s %8s %8s %8s %8s  %s\n", "LwM2M message", "thesis", "ours", "thesis", "ours",
          "direction");
  fprintf(out, "  %-34s %8s %8s %8s %8s\n", "", "bytes", "bytes", "packets", "packets");
  nb_sim_thesis_phase(out, w, dtls, k, true);
  nb_sim_thesis_phase(out, w, dtls, k, false);
  fprintf(out, "\nSeed thesis Table 5.%s beside this run (%s, k = %u)\n",
          k == 10    ? "5"
          : k == 100 ? "6"
                     : "5/5.6 by its formulas",
          mode, k);
  fprintf(out, "  %-34s %12s %12s %10s %10s\n", "", "thesis bytes", "ours bytes", "thesis pkts",
          "ours pkts");
  fprintf(out, "  %-34s %12d %12s %10d %10s\n", "DHCPv6", 330, "-", 4, "-");
  if (dtls)
    fprintf(out, "  %-34s %12d %12llu %10d %10llu\n", "DTLS Handshakes (thesis: one)", 1128,
            (unsigned long long)t.handshake.bytes, 15, (unsigned long long)t.handshake.packets);
  fprintf(out, "  %-34s %12.0f %12llu %10.0f %10llu\n", "LwM2M Bootstrap", t.thesis_bootstrap,
          (unsigned long long)t.bootstrap.bytes, t.thesis_bootstrap_packets,
          (unsigned long long)t.bootstrap.packets);
  fprintf(out, "  %-34s %12.0f %12llu %10.0f %10llu\n", "LwM2M Device Management",
          t.thesis_management, (unsigned long long)t.management.bytes, t.thesis_management_packets,
          (unsigned long long)t.management.packets);
  fprintf(out, "  %-34s %12.0f %12llu %10.0f %10llu\n", "Total without DHCPv6", t.thesis_total,
          (unsigned long long)t.total.bytes,
          t.thesis_bootstrap_packets + t.thesis_management_packets,
          (unsigned long long)t.total.packets);
  fprintf(out, "  %-34s %12.0f %12s %10.0f %10s\n", "Total (thesis, with DHCPv6)",
          t.thesis_total + 330, "-", t.thesis_bootstrap_packets + t.thesis_management_packets + 4,
          "-");
  if (t.total.bytes)
    fprintf(out, "  ours / thesis without DHCPv6: %.2f\n", (double)t.total.bytes / t.thesis_total);
}

/* ---- JSON ---- */

static json_t *nb_sim_thesis_json_rows(const nb_sim_wire *w, bool dtls, unsigned k) {
  static const char *const dirs[] = {"up", "down", "both"};
  json_t *rows = json_array();
  for (size_t i = 0; i < NB_SIM_THESIS_NROWS; i++) {
    const nb_sim_thesis_row *t = &nb_sim_thesis_rows[i];
    nb_sim_thesis_sum s = nb_sim_row_sum(w, t);
    int size = dtls ? t->dtls : t->nosec;
    json_array_append_new(
        rows,
        json_pack("{s:s,s:s,s:s,s:o,s:I,s:I,s:I}", "message", t->label, "phase",
                  t->bs ? "bootstrap" : "management", "direction", dirs[t->dir], "thesis_bytes",
                  size >= 0 ? json_integer(size) : json_null(), "thesis_packets",
                  (json_int_t)(size < 0     ? 0
                               : t->packets ? t->packets
                                            : k),
                  "bytes", (json_int_t)s.bytes, "packets", (json_int_t)s.packets));
  }
  for (int bs = 1; bs >= 0; bs--)
    for (int c = 0; c < NB_SIM_MSG_COUNT; c++)
      for (int d = 0; d < 2; d++) {
        nb_sim_wire_row r = nb_sim_phase_row(w, (nb_sim_msg)c, bs);
        if (!r.datagrams[d] || nb_sim_thesis_covers((nb_sim_msg)c, d, bs)) continue;
        json_array_append_new(
            rows,
            json_pack("{s:s,s:s,s:s,s:n,s:I,s:I,s:I}", "message", nb_sim_msg_name((nb_sim_msg)c),
                      "phase", bs ? "bootstrap" : "management", "direction", dirs[d],
                      "thesis_bytes", "thesis_packets", (json_int_t)0, "bytes",
                      (json_int_t)r.bytes[d], "packets", (json_int_t)r.datagrams[d]));
      }
  return rows;
}

static json_t *nb_sim_sum_json(nb_sim_thesis_sum s, double thesis, double thesis_packets) {
  return json_pack("{s:I,s:I,s:f,s:f}", "bytes", (json_int_t)s.bytes, "packets",
                   (json_int_t)s.packets, "thesis_bytes", thesis, "thesis_packets", thesis_packets);
}

json_t *nb_sim_thesis_json(const nb_sim_wire *w, bool dtls, unsigned k) {
  nb_sim_thesis_totals t;
  nb_sim_thesis_totals_of(w, dtls, k, &t);
  json_t *j = json_pack("{s:s,s:i}", "mode", dtls ? "dtls" : "nosec", "k", (int)k);
  if (!j) return NULL;
  json_object_set_new(j, "rows", nb_sim_thesis_json_rows(w, dtls, k));
  json_object_set_new(j, "bootstrap",
                      nb_sim_sum_json(t.bootstrap, t.thesis_bootstrap, t.thesis_bootstrap_packets));
  json_object_set_new(
      j, "management",
      nb_sim_sum_json(t.management, t.thesis_management, t.thesis_management_packets));
  json_object_set_new(j, "handshake", nb_sim_sum_json(t.handshake, dtls ? 1128 : 0, dtls ? 15 : 0));
  json_object_set_new(j, "total",
                      nb_sim_sum_json(t.total, t.thesis_total,
                                      t.thesis_bootstrap_packets + t.thesis_management_packets));
  return j;
}
