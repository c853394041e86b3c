/* Message classes of the fleet simulator's wire counters, and latency histograms. */
#include "sim/wire.h"

#include <string.h>

#include "coap/msg.h"

/* X(class, name, key): every request class; its answer is "<name> response", "<key>_resp"
 * (a notification's is its ACK). */
#define NB_SIM_REQUESTS(X)                                          \
  X(BS_REQUEST, "Bootstrap-Request", "bootstrap_request")           \
  X(BS_DISCOVER, "Bootstrap-Discover", "bootstrap_discover")        \
  X(BS_READ, "Bootstrap-Read", "bootstrap_read")                    \
  X(BS_WRITE_SEC, "Bootstrap-Write /0", "bootstrap_write_security") \
  X(BS_WRITE_SRV, "Bootstrap-Write /1", "bootstrap_write_server")   \
  X(BS_WRITE, "Bootstrap-Write", "bootstrap_write")                 \
  X(BS_DELETE, "Bootstrap-Delete", "bootstrap_delete")              \
  X(BS_FINISH, "Bootstrap-Finish", "bootstrap_finish")              \
  X(REGISTER, "Register", "register")                               \
  X(UPDATE, "Update", "update")                                     \
  X(DEREGISTER, "De-register", "deregister")                        \
  X(READ, "Read", "read")                                           \
  X(DISCOVER, "Discover", "discover")                               \
  X(OBSERVE, "Observe", "observe")                                  \
  X(CANCEL, "Cancel Observation", "cancel_observation")             \
  X(WRITE, "Write", "write")                                        \
  X(WRITE_ATTR, "Write-Attributes", "write_attributes")             \
  X(EXECUTE, "Execute", "execute")                                  \
  X(CREATE, "Create", "create")                                     \
  X(DELETE, "Delete", "delete")                                     \
  X(COMPOSITE, "Composite", "composite")                            \
  X(NOTIFY, "Notify", "notify")                                     \
  X(SEND, "Send", "send")

#define NB_SIM_REQ_ROW(c, n, k) [NB_SIM_MSG_##c] = {n, k},
#define NB_SIM_RESP_ROW(c, n, k) \
  [NB_SIM_MSG_##c + NB_SIM_MSG_RESP_OFFSET] = {n " response", k "_resp"},

static const struct {
  const char *name, *key;
} nb_sim_msg_names[NB_SIM_MSG_COUNT] = {[NB_SIM_MSG_OTHER] = {"other CoAP", "other"},
                                        [NB_SIM_MSG_UNPARSED] = {"not CoAP", "unparsed"},
                                        [NB_SIM_MSG_DTLS_HS] = {"DTLS handshake", "dtls_handshake"},
                                        [NB_SIM_MSG_DTLS_ALERT] = {"DTLS alert", "dtls_alert"},
                                        [NB_SIM_MSG_EMPTY_ACK] = {"empty ACK", "empty_ack"},
                                        [NB_SIM_MSG_RST] = {"RST", "rst"},
                                        NB_SIM_REQUESTS(NB_SIM_REQ_ROW)
                                            NB_SIM_REQUESTS(NB_SIM_RESP_ROW)};

const char *nb_sim_msg_name(nb_sim_msg c) {
  return (unsigned)c < NB_SIM_MSG_COUNT ? nb_sim_msg_names[c].name : "?";
}

const char *nb_sim_msg_key(nb_sim_msg c) {
  return (unsigned)c < NB_SIM_MSG_COUNT ? nb_sim_msg_names[c].key : "?";
}

/* The number of Uri-Path segments and whether the first one is `seg`. */
static size_t nb_sim_path(const nb_coap_msg *m, const char *seg, bool *first_is) {
  size_t n = 0;
  *first_is = false;
  for (size_t i = 0; i < m->option_count; i++) {
    const nb_coap_option *o = &m->options[i];
    if (o->number != NB_COAP_OPT_URI_PATH) continue;
    if (n == 0) *first_is = o->len == strlen(seg) && memcmp(o->value, seg, o->len) == 0;
    n++;
  }
  return n;
}

/* A request from a management server to the device. */
static nb_sim_msg nb_sim_dm_request(const nb_coap_msg *m) {
  bool dp;
  size_t segs = nb_sim_path(m, "", &dp);
  uint32_t obs = 2;
  bool has_obs = nb_coap_msg_get_uint(m, NB_COAP_OPT_OBSERVE, &obs) == NB_OK;
  switch (m->code) {
    case NB_COAP_GET:
      if (has_obs) return obs == 0 ? NB_SIM_MSG_OBSERVE : NB_SIM_MSG_CANCEL;
      return nb_coap_msg_accept(m) == NB_COAP_CF_LINK_FORMAT ? NB_SIM_MSG_DISCOVER
                                                             : NB_SIM_MSG_READ;
    case NB_COAP_PUT:
      return m->payload_len == 0 && nb_coap_msg_find(m, NB_COAP_OPT_URI_QUERY)
                 ? NB_SIM_MSG_WRITE_ATTR
                 : NB_SIM_MSG_WRITE;
    case NB_COAP_POST:
      if (segs == 1) return NB_SIM_MSG_CREATE;
      return segs >= 3 ? NB_SIM_MSG_EXECUTE : NB_SIM_MSG_WRITE;
    case NB_COAP_DELETE:
      return NB_SIM_MSG_DELETE;
    case NB_COAP_FETCH:
    case NB_COAP_IPATCH:
      return NB_SIM_MSG_COMPOSITE;
    default:
      return NB_SIM_MSG_OTHER;
  }
}

/* A request from the bootstrap server. */
static nb_sim_msg nb_sim_bs_request(const nb_coap_msg *m) {
  bool bs, sec, srv;
  nb_sim_path(m, "bs", &bs);
  nb_sim_path(m, "0", &sec);
  nb_sim_path(m, "1", &srv);
  nb_sim_msg write = sec   ? NB_SIM_MSG_BS_WRITE_SEC
                     : srv ? NB_SIM_MSG_BS_WRITE_SRV
                           : NB_SIM_MSG_BS_WRITE;
  switch (m->code) {
    case NB_COAP_GET:
      return nb_coap_msg_accept(m) == NB_COAP_CF_LINK_FORMAT ? NB_SIM_MSG_BS_DISCOVER
                                                             : NB_SIM_MSG_BS_READ;
    case NB_COAP_PUT:
      return write;
    case NB_COAP_POST:
      return bs ? NB_SIM_MSG_BS_FINISH : write;
    case NB_COAP_DELETE:
      return NB_SIM_MSG_BS_DELETE;
    default:
      return NB_SIM_MSG_OTHER;
  }
}

/* A request from the device. */
static nb_sim_msg nb_sim_up_request(const nb_coap_msg *m) {
  bool rd, bs, dp;
  size_t segs = nb_sim_path(m, "rd", &rd);
  nb_sim_path(m, "bs", &bs);
  nb_sim_path(m, "dp", &dp);
  if (m->code == NB_COAP_POST && bs) return NB_SIM_MSG_BS_REQUEST;
  if (m->code == NB_COAP_POST && dp) return NB_SIM_MSG_SEND;
  if (!rd) return NB_SIM_MSG_OTHER;
  if (m->code == NB_COAP_POST) return segs == 1 ? NB_SIM_MSG_REGISTER : NB_SIM_MSG_UPDATE;
  return m->code == NB_COAP_DELETE ? NB_SIM_MSG_DEREGISTER : NB_SIM_MSG_OTHER;
}

void nb_sim_classify(const uint8_t *data, size_t len, bool up, bool from_bs,
                     nb_sim_coap_info *out) {
  memset(out, 0, sizeof *out);
  out->cls = NB_SIM_MSG_UNPARSED;
  nb_coap_msg m;
  if (nb_coap_parse(data, len, &m) != NB_OK) return;
  out->parsed = true;
  out->mid = m.mid;
  out->confirmable = m.type == NB_COAP_CON;
  out->cls = NB_SIM_MSG_OTHER;
  if (m.type == NB_COAP_RST) {
    out->is_rst = true;
    out->cls = NB_SIM_MSG_RST;
  } else if (m.code == NB_COAP_EMPTY) {
    out->is_empty_ack = m.type == NB_COAP_ACK;
    if (out->is_empty_ack) out->cls = NB_SIM_MSG_EMPTY_ACK;
  } else if (nb_coap_is_request(m.code)) {
    out->is_request = true;
    out->cls = up ? nb_sim_up_request(&m) : from_bs ? nb_sim_bs_request(&m) : nb_sim_dm_request(&m);
  } else if (up && m.type != NB_COAP_ACK && nb_coap_msg_find(&m, NB_COAP_OPT_OBSERVE)) {
    out->cls = NB_SIM_MSG_NOTIFY; /* a notification (the Observe's own answer is an ACK) */
    out->is_request = true;       /* the device waits for its ACK like for a request's answer */
  } else {
    out->is_response = true;
  }
}

uint8_t nb_sim_dtls_content_type(const uint8_t *data, size_t len) {
  /* type (1), version 0xFEFD/0xFEFF (2), epoch (2), sequence (6), length (2) */
  if (len < 13 || data[1] != 0xFE || (data[2] != 0xFD && data[2] != 0xFF)) return 0;
  return data[0] >= 20 && data[0] <= 25 ? data[0] : 0;
}

/* ---- histograms ---- */

static unsigned nb_sim_hist_bucket(uint64_t v) {
  if (v < 16) return (unsigned)v;
  unsigned e = 63u - (unsigned)__builtin_clzll(v); /* v >= 16: e >= 4 */
  unsigned b = 16 + (e - 4) * 8 + (unsigned)((v >> (e - 3)) & 7);
  return b < NB_SIM_HIST_BUCKETS ? b : NB_SIM_HIST_BUCKETS - 1;
}

static uint64_t nb_sim_hist_upper(unsigned b) {
  if (b < 16) return b;
  unsigned e = 4 + (b - 16) / 8, m = (b - 16) % 8;
  return ((uint64_t)(9 + m) << (e - 3)) - 1;
}

void nb_sim_hist_add(nb_sim_hist *h, uint64_t ms) {
  h->count++;
  h->sum_ms += ms;
  if (ms > h->max_ms) h->max_ms = ms;
  h->bucket[nb_sim_hist_bucket(ms)]++;
}

uint64_t nb_sim_hist_quantile(const nb_sim_hist *h, double q) {
  if (h->count == 0) return 0;
  uint64_t want = (uint64_t)(q * (double)h->count);
  if (want >= h->count) want = h->count - 1;
  uint64_t seen = 0;
  for (unsigned b = 0; b < NB_SIM_HIST_BUCKETS; b++) {
    seen += h->bucket[b];
    if (seen > want) {
      uint64_t up = nb_sim_hist_upper(b);
      return up < h->max_ms ? up : h->max_ms;
    }
  }
  return h->max_ms;
}

void nb_sim_hist_merge(nb_sim_hist *into, const nb_sim_hist *from) {
  into->count += from->count;
  into->sum_ms += from->sum_ms;
  if (from->max_ms > into->max_ms) into->max_ms = from->max_ms;
  for (unsigned b = 0; b < NB_SIM_HIST_BUCKETS; b++) into->bucket[b] += from->bucket[b];
}

void nb_sim_wire_count(nb_sim_wire *w, nb_sim_msg cls, bool up, bool bs, size_t len) {
  if ((unsigned)cls >= NB_SIM_MSG_COUNT) cls = NB_SIM_MSG_UNPARSED;
  w->rows[cls].datagrams[up ? 0 : 1]++;
  w->rows[cls].bytes[up ? 0 : 1] += len;
  if (!bs) return;
  w->bs_rows[cls].datagrams[up ? 0 : 1]++;
  w->bs_rows[cls].bytes[up ? 0 : 1] += len;
}
