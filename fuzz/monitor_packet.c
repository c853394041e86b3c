/* Fuzz target for the monitor engine: the input is a sequence of frames, each
 * [link-type selector][length: 2 bytes][bytes], fed to one monitor (so exchanges, devices and
 * rules see sequences), with every event rendered to JSON. Also feeds each frame's bytes as a
 * bare UDP payload to the CoAP and DTLS ports. A PSK table is configured, so DTLS sessions
 * whose ClientKeyExchange names its identity go through key derivation and record decryption
 * (fragmented handshakes reassembled, resumed sessions found in the cache). An input may open
 * with a key log (`CLIENT_RANDOM` lines up to a blank line): it goes through the key-log
 * reader and its master secrets key ECDHE sessions for that input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "monitor/dtlsdec.h"
#include "monitor/evjson.h"
#include "monitor/frame.h"
#include "monitor/monitor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void nb_fuzz_event(const nb_mon_event *ev, void *user) {
  nb_bytes *b = user;
  nb_bytes_clear(b);
  nb_mon_event_to_json(ev, NULL, b);
}

/* The key-log prefix of the input, if any, into p; returns its length with the blank line. */
static size_t nb_fuzz_keylog(nb_mon_psks *p, const uint8_t *data, size_t size) {
  static const char mark[] = "CLIENT_RANDOM ";
  if (size < sizeof mark - 1 || memcmp(data, mark, sizeof mark - 1)) return 0;
  size_t n = 0;
  while (n + 1 < size && !(data[n] == '\n' && data[n + 1] == '\n')) n++;
  if (n + 1 >= size) n = size;
  nb_mon_keylog_parse(p, (const char *)data, n, NULL);
  return n + 2 <= size ? n + 2 : size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int lts[] = {NB_LINK_ETHERNET, NB_LINK_SLL, NB_LINK_SLL2, NB_LINK_NULL,
                            NB_LINK_LOOP,     NB_LINK_RAW, NB_LINK_IPV4, NB_LINK_IPV6};
  nb_bytes json;
  nb_bytes_init(&json);
  /* Identity "dev" with a fixed 16-byte key, plus the input's key log. */
  static const uint8_t key[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
  nb_mon_psks *psks = nb_mon_psks_new();
  if (!psks || nb_mon_psks_add(psks, (const uint8_t *)"dev", 3, key, sizeof key) != NB_OK) {
    nb_mon_psks_free(psks);
    return 0;
  }
  size_t pos = nb_fuzz_keylog(psks, data, size);
  nb_mon_config cfg = {.summary_interval_s = 1, .psks = psks};
  nb_monitor *m = nb_monitor_new(&cfg, nb_fuzz_event, &json);
  if (!m) {
    nb_mon_psks_free(psks);
    return 0;
  }
  nb_addr cli = {.family = NB_ADDR_V4, .port = 40000, .ip = {10, 0, 0, 5}};
  nb_addr coap = {.family = NB_ADDR_V4, .port = 5683, .ip = {10, 0, 0, 1}};
  nb_addr dtls = {.family = NB_ADDR_V4, .port = 5684, .ip = {10, 0, 0, 1}};
  int64_t ts = 0;
  while (pos + 3 <= size) {
    uint8_t sel = data[pos];
    size_t len = (size_t)data[pos + 1] << 8 | data[pos + 2];
    pos += 3;
    if (len > size - pos) len = size - pos;
    const uint8_t *frame = data + pos;
    pos += len;
    ts += (int64_t)(sel >> 3) * 500000;
    nb_monitor_feed(m, ts, lts[sel & 7], frame, len);
    if (sel & 0x40)
      nb_monitor_feed_udp(m, ts, &cli, &coap, frame, len);
    else if (sel & 0x20)
      nb_monitor_feed_udp(m, ts, &coap, &cli, frame, len);
    if (sel & 0x80) nb_monitor_feed_udp(m, ts, &cli, &dtls, frame, len);
  }
  nb_monitor_finish(m, ts + 1000000000);
  nb_monitor_free(m);
  nb_mon_psks_free(psks);
  nb_bytes_free(&json);
  return 0;
}
