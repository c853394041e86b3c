/* libFuzzer: what a device's servers send it, into a registered client engine (src/client: the
 * DM operations Read, Write, Write-Attributes (link-format attributes in Uri-Query), Execute
 * with arguments, Create, Delete, Discover, Observe, Read/Write-Composite, the bootstrap
 * operations of its bootstrap server, firmware Package URIs and the answers to its own
 * requests), with every standard object in place.
 * Input: a flags byte (bit 0: acknowledge every confirmable message the client sends, as a
 * server would; otherwise only its Register and Bootstrap-Request), then frames of
 * [peer and time: 1][length: 2, big-endian][datagram]: bit 0 of the first byte picks the
 * management server (0) or the bootstrap server (1), the other bits move the clock on by that
 * many 250 ms steps first; a frame of length 0 changes the temperature instead (observers are
 * told) while /3303/0 exists. Oracle: no crash, no leak, no sanitizer report; after a long silence
 * the engine still answers, and it frees cleanly. */
#include "coap/msg.h"
#include "fuzz_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Answers what the client sent: Register 2.01 with a location, Bootstrap-Request 2.04, and with
 * ack_all every other confirmable request or notification (2.04 / empty ACK). */
static void answer_one(nb_fuzz_client *f, const nb_addr *to, const uint8_t *d, size_t len,
                       bool ack_all, nb_time_ms now) {
  nb_coap_msg q;
  if (nb_coap_parse(d, len, &q) != NB_OK || q.type != NB_COAP_CON) return;
  char path[64] = "";
  (void)nb_coap_msg_get_path(&q, NB_COAP_OPT_URI_PATH, path, sizeof path);
  bool reg = q.code == NB_COAP_POST && strcmp(path, "/rd") == 0;
  bool bs = q.code == NB_COAP_POST && strcmp(path, "/bs") == 0;
  if (!reg && !bs && !ack_all) return;
  uint8_t code = reg ? NB_COAP_CREATED : nb_coap_is_request(q.code) ? NB_COAP_CHANGED : 0;
  nb_coap_msg a;
  nb_coap_msg_init(&a, NB_COAP_ACK, code, q.mid);
  if (code) nb_coap_msg_set_token(&a, q.token, q.token_len);
  if (reg) {
    nb_coap_msg_add_option(&a, NB_COAP_OPT_LOCATION_PATH, "rd", 2);
    nb_coap_msg_add_option(&a, NB_COAP_OPT_LOCATION_PATH, "f1", 2);
  }
  uint8_t buf[64];
  size_t n;
  if (nb_coap_serialize(&a, buf, sizeof buf, &n) == NB_OK) nb_client_receive(f->c, to, buf, n, now);
}

/* Answers what the client sent: Register 2.01 with a location, Bootstrap-Request 2.04, and with
 * ack_all every other confirmable request (2.04) or notification (empty ACK). */
static void answer_sent(nb_fuzz_client *f, bool ack_all, nb_time_ms now) {
  static uint8_t d[NB_FUZZ_SENT_MAX][1500];
  static size_t len[NB_FUZZ_SENT_MAX];
  static nb_addr to[NB_FUZZ_SENT_MAX];
  for (int round = 0; round < 4 && f->nsent; round++) {
    size_t n = f->nsent;
    for (size_t k = 0; k < n; k++) {
      memcpy(d[k], f->sent[k], f->sent_len[k]);
      len[k] = f->sent_len[k];
      to[k] = f->sent_to[k];
    }
    f->nsent = 0;
    for (size_t k = 0; k < n; k++) answer_one(f, &to[k], d[k], len[k], ack_all, now);
  }
  f->nsent = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  bool ack_all = data[0] & 1;
  nb_fuzz_client f;
  nb_fuzz_client_init(&f, true);
  nb_addr dm, bs;
  if (nb_addr_parse("192.0.2.1:5683", 0, &dm) || nb_addr_parse("192.0.2.2:5783", 0, &bs)) abort();
  nb_client_server_params p = {.uri = "coap://192.0.2.1:5683", .ssid = 101, .lifetime = 300};
  nb_client_server_params b = {.uri = "coap://192.0.2.2:5783", .bootstrap = true};
  if (nb_client_add_server(f.c, &p) || nb_client_add_server(f.c, &b)) abort();
  nb_time_ms now = 0;
  if (nb_client_start(f.c, now) != NB_OK) abort();
  answer_sent(&f, ack_all, now);
  double temperature = 20.0;
  for (size_t pos = 1; pos + 3 <= size;) {
    uint8_t sel = data[pos];
    size_t len = (size_t)data[pos + 1] << 8 | data[pos + 2];
    pos += 3;
    if (len > size - pos) len = size - pos;
    nb_time_ms step = (nb_time_ms)(sel >> 1) * 250;
    for (nb_time_ms until = now + step; now < until;) {
      nb_time_ms next = nb_client_next_deadline(f.c);
      now = next > now && next < until ? next : until;
      nb_client_tick(f.c, now);
      answer_sent(&f, ack_all, now);
    }
    if (len == 0) {
      temperature += sel & 1 ? 0.5 : -7.25;
      nb_path t = nb_path_res(3303, 0, 5700);
      nb_value v = nb_value_float(temperature);
      /* The server may have deleted the instance. */
      if (nb_store_object_set(nb_client_object(f.c, 3303), &t, &v) == NB_OK)
        nb_client_value_changed(f.c, &t, now);
    } else {
      nb_client_receive(f.c, sel & 1 ? &bs : &dm, data + pos, len, now);
    }
    answer_sent(&f, ack_all, now);
    pos += len;
  }
  /* A long silence: every exchange, download and bootstrap wait ends. */
  for (int k = 0; k < 64; k++) {
    nb_time_ms next = nb_client_next_deadline(f.c);
    if (next <= now || next > now + 600000) break;
    now = next;
    nb_client_tick(f.c, now);
    answer_sent(&f, ack_all, now);
  }
  nb_client_free(f.c);
  return 0;
}
