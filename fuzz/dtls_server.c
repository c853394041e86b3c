/* libFuzzer: arbitrary datagrams from a few peers into a DTLS server context (PSK and raw
 * public key credentials). Input: frames of [peer index: 1][length: 2, big-endian][datagram].
 * The cookie and ticket keys come from a fixed source so seeds recorded from real handshakes
 * (fuzz/corpus/dtls_server) pass the cookie check and reach GnuTLS's handshake code.
 * Oracle: no crash, no leak, limits hold, and after a long silence every session is gone. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "dtls/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The P-256 key of tests/unit/test_dtls_keys.c (made by openssl for tests). */
static const char server_key[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIETmlsGmgljQhQGF5wicrU9/y3t7jHBuldyla40IOXr9oAoGCCqGSM49\n"
    "AwEHoUQDQgAEqp313mRyIR8NVuSztc9HLtkPr/jPXaLgxs6ExPaF8SRVKrIohVrr\n"
    "yOb1FCdcN/29kccSleaWfcJCdM9jrdVURw==\n"
    "-----END EC PRIVATE KEY-----\n";

static nb_err fixed_random(void *user, void *buf, size_t len) {
  (void)user;
  memset(buf, 0x5A, len);
  return NB_OK;
}

static nb_err lookup(void *user, const uint8_t *id, size_t id_len, uint8_t *key, size_t cap,
                     size_t *key_len) {
  (void)user, (void)cap;
  if (id_len != 3 || memcmp(id, "dev", 3) != 0) return NB_ERR_NOT_FOUND;
  memset(key, 0x11, 16);
  *key_len = 16;
  return NB_OK;
}

static nb_err accept_any(void *user, const nb_dtls_peer *peer, const uint8_t *raw, size_t len) {
  (void)user, (void)raw, (void)len;
  return peer->secure_id[0] ? NB_OK : NB_ERR_INVAL;
}

static nb_dtls_server *fuzz_srv;

static void on_send(void *user, const nb_addr *peer, const uint8_t *d, size_t n) {
  (void)user, (void)peer, (void)d, (void)n;
}

/* Plaintext: 'c' closes the session from inside the callback; anything else is echoed. */
static void on_recv(void *user, const nb_addr *peer, const uint8_t *d, size_t n, nb_time_ms now) {
  (void)user;
  if (n > 0 && d[0] == 'c') {
    nb_dtls_server_close(fuzz_srv, peer, now);
  } else {
    nb_dtls_server_send(fuzz_srv, peer, d, n);
  }
}

static const nb_dtls_creds *fuzz_creds(void) {
  static nb_dtls_creds *creds;
  if (!creds) {
    nb_log_set_level(NB_LOG_ERROR);
    if (nb_dtls_creds_new(&creds) != NB_OK) abort();
    nb_dtls_creds_set_psk_lookup(creds, lookup, NULL);
    if (nb_dtls_creds_set_rpk(creds, (const uint8_t *)server_key, sizeof server_key - 1) != NB_OK)
      abort();
    nb_dtls_creds_set_verify(creds, accept_any, NULL);
  }
  return creds;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_dtls_server_config cfg;
  nb_dtls_server_config_default(&cfg);
  cfg.random = fixed_random;
  cfg.max_sessions = 3;
  cfg.max_handshakes = 2;
  cfg.idle_timeout_ms = 60000;
  cfg.session.handshake_timeout_ms = 30000;
  nb_dtls_handlers h = {on_send, on_recv, NULL, NULL};
  if (nb_dtls_server_new(&cfg, fuzz_creds(), &h, &fuzz_srv) != NB_OK) abort();
  nb_addr peers[4];
  for (int i = 0; i < 4; i++) {
    nb_addr_parse("192.0.2.10:40000", 0, &peers[i]);
    peers[i].ip[3] = (uint8_t)(10 + i);
  }
  nb_time_ms now = 1000;
  size_t pos = 0;
  while (size - pos >= 3) {
    const nb_addr *peer = &peers[data[pos] & 3];
    size_t len = (size_t)data[pos + 1] << 8 | data[pos + 2];
    pos += 3;
    if (len > size - pos) len = size - pos;
    nb_dtls_server_receive(fuzz_srv, peer, data + pos, len, now);
    pos += len;
    now += 50;
    if (nb_dtls_server_next_deadline(fuzz_srv) <= now) nb_dtls_server_tick(fuzz_srv, now);
    nb_dtls_server_stats st;
    nb_dtls_server_get_stats(fuzz_srv, &st);
    if (st.sessions > cfg.max_sessions || st.handshakes > cfg.max_handshakes) abort();
  }
  /* A long silence: every handshake times out, every session expires. */
  nb_dtls_server_tick(fuzz_srv, now + 100000);
  nb_dtls_server_tick(fuzz_srv, now + 200000);
  nb_dtls_server_stats st;
  nb_dtls_server_get_stats(fuzz_srv, &st);
  if (st.sessions != 0) abort();
  nb_dtls_server_free(fuzz_srv);
  fuzz_srv = NULL;
  return 0;
}
