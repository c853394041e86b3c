/* DTLS 1.2 decryption for the monitor: known keys, session cache, handshake reassembly, PRF,
 * key block, CCM-8 and CBC-SHA256. */
#include "monitor/dtlsdec.h"

#include <nettle/aes.h>
#include <nettle/cbc.h>
#include <nettle/ccm.h>
#include <nettle/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/hex.h"
#include "monitor/dtlsmeta.h"

#define NB_PSK_MAX 64
#define NB_PSK_ID_MAX 256
#define NB_CCM8_TAG 8
#define NB_EXPLICIT_NONCE 8

typedef struct {
  uint8_t id[NB_PSK_ID_MAX];
  size_t id_len;
  uint8_t key[NB_PSK_MAX];
  size_t key_len;
} nb_mon_psk;

typedef struct {
  uint8_t client_random[32];
  uint8_t master[NB_DTLS_MASTER_LEN];
} nb_mon_master;

struct nb_mon_psks {
  nb_mon_psk *v;
  size_t n, cap;
  nb_mon_master *mv; /* key-log masters */
  size_t mn, mcap;
};

/* explicit_bzero: the wipe of key material is not optimised away (and the session cache, some
 * 400 KB, is not wiped a byte at a time). */
static void nb_wipe(void *p, size_t n) { explicit_bzero(p, n); }

nb_mon_psks *nb_mon_psks_new(void) { return calloc(1, sizeof(nb_mon_psks)); }

void nb_mon_psks_free(nb_mon_psks *p) {
  if (!p) return;
  if (p->v) nb_wipe(p->v, p->cap * sizeof *p->v);
  if (p->mv) nb_wipe(p->mv, p->mcap * sizeof *p->mv);
  free(p->v);
  free(p->mv);
  free(p);
}

size_t nb_mon_psks_count(const nb_mon_psks *p) { return p ? p->n : 0; }

nb_err nb_mon_psks_add(nb_mon_psks *p, const uint8_t *identity, size_t identity_len,
                       const uint8_t *key, size_t key_len) {
  if (!identity_len || identity_len > NB_PSK_ID_MAX || !key_len || key_len > NB_PSK_MAX)
    return NB_ERR_RANGE;
  if (p->n == p->cap) {
    size_t cap = p->cap ? 2 * p->cap : 8;
    nb_mon_psk *v = calloc(cap, sizeof *v);
    if (!v) return NB_ERR_NOMEM;
    if (p->v) {
      memcpy(v, p->v, p->n * sizeof *v);
      nb_wipe(p->v, p->cap * sizeof *p->v);
      free(p->v);
    }
    p->v = v;
    p->cap = cap;
  }
  nb_mon_psk *e = &p->v[p->n++];
  memcpy(e->id, identity, identity_len);
  e->id_len = identity_len;
  memcpy(e->key, key, key_len);
  e->key_len = key_len;
  return NB_OK;
}

void nb_mon_psks_take_keys(nb_mon_psks *dst, nb_mon_psks *src) {
  if (dst->v) nb_wipe(dst->v, dst->cap * sizeof *dst->v);
  free(dst->v);
  dst->v = src->v;
  dst->n = src->n;
  dst->cap = src->cap;
  src->v = NULL;
  src->n = src->cap = 0;
}

static bool nb_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static nb_err nb_psk_line(nb_mon_psks *p, const char *s, size_t n) {
  while (n && nb_blank(*s)) s++, n--;
  while (n && nb_blank(s[n - 1])) n--;
  if (!n || *s == '#') return NB_OK;
  const char *comma = memchr(s, ',', n);
  if (!comma || comma == s) return NB_ERR_SYNTAX;
  uint8_t key[NB_PSK_MAX];
  size_t key_len = 0;
  const char *hex = comma + 1;
  size_t hex_len = n - (size_t)(hex - s);
  while (hex_len && nb_blank(*hex)) hex++, hex_len--;
  nb_err e = nb_hex_decode(hex, hex_len, NULL, key, sizeof key, &key_len);
  if (!e) e = nb_mon_psks_add(p, (const uint8_t *)s, (size_t)(comma - s), key, key_len);
  nb_wipe(key, sizeof key);
  return e;
}

nb_err nb_mon_psks_parse(nb_mon_psks *p, const char *text, size_t len, size_t *bad_line) {
  size_t line = 1;
  for (size_t i = 0; i < len; line++) {
    const char *nl = memchr(text + i, '\n', len - i);
    size_t end = nl ? (size_t)(nl - text) : len;
    nb_err e = nb_psk_line(p, text + i, end - i);
    if (e) {
      if (bad_line) *bad_line = line;
      return e;
    }
    i = end + 1;
  }
  return NB_OK;
}

const uint8_t *nb_mon_psks_find(const nb_mon_psks *p, const uint8_t *identity, size_t len,
                                size_t *key_len) {
  for (size_t i = 0; p && i < p->n; i++)
    if (p->v[i].id_len == len && !memcmp(p->v[i].id, identity, len)) {
      *key_len = p->v[i].key_len;
      return p->v[i].key;
    }
  return NULL;
}

/* ---------------------------------------------------------------- key log */

size_t nb_mon_psks_masters(const nb_mon_psks *p) { return p ? p->mn : 0; }

nb_err nb_mon_psks_add_master(nb_mon_psks *p, const uint8_t client_random[32],
                              const uint8_t master[NB_DTLS_MASTER_LEN]) {
  if (p->mn == p->mcap) {
    size_t cap = p->mcap ? 2 * p->mcap : 16;
    nb_mon_master *v = calloc(cap, sizeof *v);
    if (!v) return NB_ERR_NOMEM;
    if (p->mv) {
      memcpy(v, p->mv, p->mn * sizeof *v);
      nb_wipe(p->mv, p->mcap * sizeof *p->mv);
      free(p->mv);
    }
    p->mv = v;
    p->mcap = cap;
  }
  memcpy(p->mv[p->mn].client_random, client_random, 32);
  memcpy(p->mv[p->mn].master, master, NB_DTLS_MASTER_LEN);
  p->mn++;
  return NB_OK;
}

const uint8_t *nb_mon_psks_master(const nb_mon_psks *p, const uint8_t client_random[32]) {
  /* Newest first: a key log appended to by several runs keeps the latest line. */
  for (size_t i = p ? p->mn : 0; i-- > 0;)
    if (!memcmp(p->mv[i].client_random, client_random, 32)) return p->mv[i].master;
  return NULL;
}

/* One key-log line: fields separated by blanks. */
static nb_err nb_keylog_line(nb_mon_psks *p, const char *s, size_t n) {
  while (n && nb_blank(*s)) s++, n--;
  while (n && nb_blank(s[n - 1])) n--;
  static const char label[] = "CLIENT_RANDOM ";
  if (!n || *s == '#') return NB_OK;
  if (n < sizeof label - 1 || memcmp(s, label, sizeof label - 1) != 0) return NB_OK; /* TLS 1.3 */
  s += sizeof label - 1;
  n -= sizeof label - 1;
  const char *sp = memchr(s, ' ', n);
  if (!sp) return NB_ERR_SYNTAX;
  uint8_t rnd[32], master[NB_DTLS_MASTER_LEN];
  size_t rl = 0, ml = 0;
  const char *m = sp + 1;
  size_t m_len = n - (size_t)(m - s);
  nb_err e = nb_hex_decode(s, (size_t)(sp - s), NULL, rnd, sizeof rnd, &rl);
  if (!e) e = nb_hex_decode(m, m_len, NULL, master, sizeof master, &ml);
  if (!e && (rl != sizeof rnd || ml != sizeof master)) e = NB_ERR_SYNTAX;
  if (!e) e = nb_mon_psks_add_master(p, rnd, master);
  nb_wipe(master, sizeof master);
  return e;
}

nb_err nb_mon_keylog_parse(nb_mon_psks *p, const char *text, size_t len, size_t *bad_line) {
  size_t line = 1;
  for (size_t i = 0; i < len; line++) {
    const char *nl = memchr(text + i, '\n', len - i);
    size_t end = nl ? (size_t)(nl - text) : len;
    nb_err e = nb_keylog_line(p, text + i, end - i);
    if (e) {
      if (bad_line) *bad_line = line;
      return e;
    }
    i = end + 1;
  }
  return NB_OK;
}

/* ---------------------------------------------------------------- session cache */

typedef struct {
  uint8_t key[33]; /* 'S' + session ID, or 'T' + SHA-256 of the ticket */
  size_t key_len;
  uint8_t master[NB_DTLS_MASTER_LEN];
} nb_cache_entry;

struct nb_dtls_cache {
  nb_cache_entry *v;
  size_t cap, next, n;
};

nb_dtls_cache *nb_dtls_cache_new(size_t cap) {
  nb_dtls_cache *c = calloc(1, sizeof *c);
  if (c && !(c->v = calloc(cap ? cap : 1, sizeof *c->v))) {
    free(c);
    return NULL;
  }
  if (c) c->cap = cap ? cap : 1;
  return c;
}

size_t nb_dtls_cache_count(const nb_dtls_cache *c) { return c ? c->n : 0; }

void nb_dtls_cache_free(nb_dtls_cache *c) {
  if (!c) return;
  nb_wipe(c->v, c->cap * sizeof *c->v);
  free(c->v);
  free(c);
}

static size_t nb_cache_key(nb_dtls_cache_kind kind, const uint8_t *id, size_t len,
                           uint8_t key[33]) {
  key[0] = (uint8_t)kind;
  memcpy(key + 1, id, len);
  return len + 1;
}

const uint8_t *nb_dtls_cache_get(const nb_dtls_cache *c, nb_dtls_cache_kind kind, const uint8_t *id,
                                 size_t len) {
  if (!c || !len || len > 32) return NULL;
  uint8_t key[33];
  size_t kl = nb_cache_key(kind, id, len, key);
  for (size_t i = 0; c && i < c->n; i++)
    if (c->v[i].key_len == kl && !memcmp(c->v[i].key, key, kl)) return c->v[i].master;
  return NULL;
}

void nb_dtls_cache_put(nb_dtls_cache *c, nb_dtls_cache_kind kind, const uint8_t *id, size_t len,
                       const uint8_t master[NB_DTLS_MASTER_LEN]) {
  if (!c || !len || len > 32) return;
  uint8_t key[33];
  size_t kl = nb_cache_key(kind, id, len, key);
  nb_cache_entry *e = NULL;
  for (size_t i = 0; i < c->n && !e; i++)
    if (c->v[i].key_len == kl && !memcmp(c->v[i].key, key, kl)) e = &c->v[i];
  if (!e) {
    e = &c->v[c->next];
    c->next = (c->next + 1) % c->cap;
    if (c->n < c->cap) c->n++;
  }
  memcpy(e->key, key, kl);
  e->key_len = kl;
  memcpy(e->master, master, NB_DTLS_MASTER_LEN);
}

/* ---------------------------------------------------------------- reassembly */

bool nb_dtls_reasm_add(nb_dtls_reasm *r, const nb_dtls_handshake *f, nb_dtls_handshake *out) {
  if (f->frag_offset == 0 && f->frag_len == f->length) {
    *out = *f;
    return true;
  }
  if (f->length > NB_DTLS_HS_MAX || (uint64_t)f->frag_offset + f->frag_len > f->length)
    return false;
  bool same =
      r->active && r->type == f->msg_type && r->msg_seq == f->msg_seq && r->length == f->length;
  if (!same) {
    if (f->frag_offset != 0) return false; /* joined in the middle of a message */
    uint8_t *b = realloc(r->buf, f->length ? f->length : 1);
    if (!b) return false;
    r->buf = b;
    r->type = f->msg_type;
    r->msg_seq = f->msg_seq;
    r->length = f->length;
    r->have = 0;
    r->active = true;
  }
  if (f->frag_offset > r->have) return false; /* a gap: wait for the retransmission */
  uint32_t end = f->frag_offset + f->frag_len;
  if (end > r->have) {
    memcpy(r->buf + f->frag_offset, f->frag, f->frag_len);
    r->have = end;
  }
  if (r->have < r->length) return false;
  r->active = false;
  *out = *f;
  out->frag_offset = 0;
  out->frag_len = r->length;
  out->frag = r->buf;
  return true;
}

void nb_dtls_reasm_free(nb_dtls_reasm *r) {
  free(r->buf);
  memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------- PRF */

void nb_dtls_prf_sha256(const uint8_t *secret, size_t secret_len, const char *label,
                        const uint8_t *seed, size_t seed_len, uint8_t *out, size_t out_len) {
  struct hmac_sha256_ctx h;
  uint8_t a[SHA256_DIGEST_SIZE], block[SHA256_DIGEST_SIZE];
  size_t label_len = strlen(label);
  hmac_sha256_set_key(&h, secret_len, secret);
  /* A(1) = HMAC(secret, label + seed) */
  hmac_sha256_update(&h, label_len, (const uint8_t *)label);
  hmac_sha256_update(&h, seed_len, seed);
  hmac_sha256_digest(&h, sizeof a, a);
  while (out_len) {
    hmac_sha256_update(&h, sizeof a, a);
    hmac_sha256_update(&h, label_len, (const uint8_t *)label);
    hmac_sha256_update(&h, seed_len, seed);
    hmac_sha256_digest(&h, sizeof block, block);
    size_t n = out_len < sizeof block ? out_len : sizeof block;
    memcpy(out, block, n);
    out += n;
    out_len -= n;
    hmac_sha256_update(&h, sizeof a, a);
    hmac_sha256_digest(&h, sizeof a, a);
  }
  nb_wipe(&h, sizeof h);
  nb_wipe(block, sizeof block);
}

/* ---------------------------------------------------------------- handshake */

void nb_dtls_dec_init(nb_dtls_dec *d) {
  memset(d, 0, sizeof *d);
  sha256_init(&d->transcript);
}

void nb_dtls_dec_deinit(nb_dtls_dec *d) { nb_wipe(d, sizeof *d); }

static bool nb_suite_ccm8(uint16_t suite) {
  return suite == NB_DTLS_SUITE_PSK_AES128_CCM8 || suite == NB_DTLS_SUITE_ECDHE_ECDSA_AES128_CCM8;
}

bool nb_dtls_dec_suite_supported(uint16_t suite) {
  return nb_suite_ccm8(suite) || suite == NB_DTLS_SUITE_PSK_AES128_CBC_SHA256 ||
         suite == NB_DTLS_SUITE_ECDHE_ECDSA_AES128_CBC_SHA256;
}

#define NB_EXT_ETM 22
#define NB_EXT_EMS 23
#define NB_EXT_TICKET 35

static void nb_sha256_of(const uint8_t *data, size_t len, uint8_t out[32]) {
  struct sha256_ctx h;
  sha256_init(&h);
  sha256_update(&h, len, data);
  sha256_digest(&h, 32, out);
}

/* Which of encrypt_then_mac, extended_master_secret and a non-empty session ticket the
 * extensions block at r's position lists (bits 0, 1, 2); the ticket's hash into ticket. */
static unsigned nb_hello_exts(nb_reader *r, uint8_t ticket[32]) {
  uint16_t total;
  if (nb_reader_u16be(r, &total) || total > nb_reader_remaining(r)) return 0;
  nb_reader ext;
  nb_reader_init(&ext, nb_reader_cursor(r), total);
  uint16_t type, len;
  unsigned found = 0;
  while (!nb_reader_u16be(&ext, &type) && !nb_reader_u16be(&ext, &len)) {
    const uint8_t *body;
    if (nb_reader_view(&ext, len, &body)) break;
    if (type == NB_EXT_ETM) found |= 1;
    if (type == NB_EXT_EMS) found |= 2;
    if (type == NB_EXT_TICKET && len && ticket) {
      nb_sha256_of(body, len, ticket);
      found |= 4;
    }
  }
  return found;
}

static bool nb_skip8(nb_reader *r) {
  uint8_t n;
  return !nb_reader_u8(r, &n) && !nb_reader_skip(r, n);
}

/* A length-prefixed session ID of up to 32 bytes. */
static bool nb_session_id(nb_reader *r, uint8_t out[32], size_t *len) {
  uint8_t n;
  const uint8_t *id;
  if (nb_reader_u8(r, &n) || n > 32 || nb_reader_view(r, n, &id)) return false;
  memcpy(out, id, n);
  *len = n;
  return true;
}

static void nb_hello(nb_dtls_dec *d, const nb_dtls_handshake *hs) {
  nb_reader r;
  nb_reader_init(&r, hs->frag, hs->frag_len);
  bool client = hs->msg_type == NB_DTLS_HS_CLIENT_HELLO;
  const uint8_t *rnd;
  if (nb_reader_skip(&r, 2) || nb_reader_view(&r, 32, &rnd)) return;
  if (client) {
    memcpy(d->client_random, rnd, 32);
    d->have_client_random = true;
    uint16_t n;
    if (!nb_session_id(&r, d->offered_sid, &d->offered_sid_len) || !nb_skip8(&r) ||
        nb_reader_u16be(&r, &n) || nb_reader_skip(&r, n) || !nb_skip8(&r))
      return;
    unsigned x = nb_hello_exts(&r, d->offered_ticket);
    d->etm_offered = x & 1;
    d->ems_offered = x & 2;
    d->have_offered_ticket = x & 4;
  } else {
    memcpy(d->server_random, rnd, 32);
    d->have_server_random = true;
    if (!nb_session_id(&r, d->sid, &d->sid_len)) return;
    /* RFC 5246 7.4.1.3 and RFC 5077 3.4: the server echoes the offered ID when it resumes
     * (by session ID or by the ticket). */
    d->resumed = d->sid_len && d->sid_len == d->offered_sid_len &&
                 !memcmp(d->sid, d->offered_sid, d->sid_len);
    if (nb_reader_u16be(&r, &d->suite) || nb_reader_skip(&r, 1)) return;
    unsigned x = nb_hello_exts(&r, NULL);
    d->etm = d->etm_offered && (x & 1);
    d->ems = d->ems_offered && (x & 2);
  }
}

static void nb_cke(nb_dtls_dec *d, const nb_dtls_handshake *hs) {
  if (!nb_dtls_suite_is_psk(d->suite)) return; /* only plain PSK starts with the identity */
  nb_reader r;
  nb_reader_init(&r, hs->frag, hs->frag_len);
  uint16_t n;
  const uint8_t *id;
  if (nb_reader_u16be(&r, &n) || n > sizeof d->identity || nb_reader_view(&r, n, &id)) return;
  memcpy(d->identity, id, n);
  d->identity_len = n;
  d->have_identity = true;
}

/* NewSessionTicket (RFC 5077 3.3): lifetime hint, then the ticket. */
static void nb_new_ticket(nb_dtls_dec *d, const nb_dtls_handshake *hs) {
  nb_reader r;
  nb_reader_init(&r, hs->frag, hs->frag_len);
  uint16_t n;
  const uint8_t *t;
  if (nb_reader_skip(&r, 4) || nb_reader_u16be(&r, &n) || !n || nb_reader_view(&r, n, &t)) return;
  nb_sha256_of(t, n, d->new_ticket);
  d->have_new_ticket = true;
  if (d->have_master)
    nb_dtls_cache_put(d->cache, NB_DTLS_CACHE_TICKET, d->new_ticket, 32, d->master);
}

/* The transcript hashes each message with its DTLS header as if it had never been
 * fragmented (RFC 6347 4.2.6); the cookieless ClientHello and HelloVerifyRequest are left
 * out, which restarting on every ClientHello achieves. */
static void nb_transcript_add(nb_dtls_dec *d, const nb_dtls_handshake *hs) {
  uint8_t h[NB_DTLS_HANDSHAKE_HEADER_LEN] = {hs->msg_type,
                                             (uint8_t)(hs->length >> 16),
                                             (uint8_t)(hs->length >> 8),
                                             (uint8_t)hs->length,
                                             (uint8_t)(hs->msg_seq >> 8),
                                             (uint8_t)hs->msg_seq,
                                             0,
                                             0,
                                             0,
                                             (uint8_t)(hs->length >> 16),
                                             (uint8_t)(hs->length >> 8),
                                             (uint8_t)hs->length};
  sha256_update(&d->transcript, sizeof h, h);
  sha256_update(&d->transcript, hs->frag_len, hs->frag);
}

void nb_dtls_dec_handshake(nb_dtls_dec *d, const nb_dtls_handshake *hs, bool from_client) {
  /* Fragments are reassembled by the caller (nb_dtls_reasm). */
  if (hs->frag_offset != 0 || hs->frag_len != hs->length) return;
  if (hs->msg_type == NB_DTLS_HS_HELLO_VERIFY_REQUEST) return;
  if (hs->msg_type == NB_DTLS_HS_CLIENT_HELLO) {
    nb_dtls_cache *cache = d->cache;
    nb_dtls_dec_init(d);
    d->cache = cache;
  } else if ((int)hs->msg_seq < d->next_seq[!from_client]) {
    return; /* a retransmission */
  }
  d->next_seq[!from_client] = hs->msg_seq + 1;
  if (hs->msg_type == NB_DTLS_HS_NEW_SESSION_TICKET) nb_new_ticket(d, hs);
  if (d->have_session_hash) return; /* past the ClientKeyExchange */
  nb_transcript_add(d, hs);
  if (hs->msg_type == NB_DTLS_HS_CLIENT_HELLO || hs->msg_type == NB_DTLS_HS_SERVER_HELLO)
    nb_hello(d, hs);
  if (hs->msg_type == NB_DTLS_HS_CLIENT_KEY_EXCHANGE) {
    nb_cke(d, hs);
    struct sha256_ctx copy = d->transcript;
    sha256_digest(&copy, sizeof d->session_hash, d->session_hash);
    d->have_session_hash = true;
  }
}

nb_err nb_dtls_dec_set_master(nb_dtls_dec *d, const uint8_t master[NB_DTLS_MASTER_LEN]) {
  if (!nb_dtls_dec_suite_supported(d->suite)) return NB_ERR_UNSUPPORTED;
  if (!d->have_client_random || !d->have_server_random) return NB_ERR_STATE;
  uint8_t seed[64];
  memcpy(seed, d->server_random, 32);
  memcpy(seed + 32, d->client_random, 32);
  uint8_t block[2 * 32 + 2 * 16 + 2 * 4];
  bool cbc = !nb_suite_ccm8(d->suite);
  size_t mac_len = cbc ? 32 : 0, iv_len = cbc ? 0 : 4;
  nb_dtls_prf_sha256(master, NB_DTLS_MASTER_LEN, "key expansion", seed, 64, block, sizeof block);
  const uint8_t *k = block;
  for (int i = 0; i < 2; i++, k += mac_len) memcpy(d->mac[i], k, mac_len);
  for (int i = 0; i < 2; i++, k += 16) memcpy(d->key[i], k, 16);
  for (int i = 0; i < 2; i++, k += iv_len) memcpy(d->iv[i], k, iv_len);
  nb_wipe(block, sizeof block);
  if (master != d->master) memcpy(d->master, master, NB_DTLS_MASTER_LEN);
  d->have_master = true;
  d->keyed = true;
  /* Remembered for later abbreviated handshakes: by the ID the server gave, and by a ticket
   * it issued (now or, when it comes later, in nb_new_ticket). */
  nb_dtls_cache_put(d->cache, NB_DTLS_CACHE_SESSION_ID, d->sid, d->sid_len, d->master);
  if (d->have_new_ticket)
    nb_dtls_cache_put(d->cache, NB_DTLS_CACHE_TICKET, d->new_ticket, 32, d->master);
  return NB_OK;
}

nb_err nb_dtls_dec_derive(nb_dtls_dec *d, const uint8_t *psk, size_t psk_len) {
  if (!nb_dtls_dec_suite_supported(d->suite)) return NB_ERR_UNSUPPORTED;
  if (!d->have_client_random || !d->have_server_random || !d->have_session_hash ||
      psk_len > NB_PSK_MAX)
    return NB_ERR_STATE;
  /* RFC 4279 2: premaster = len || zeros || len || psk */
  uint8_t pms[4 + 2 * NB_PSK_MAX] = {0};
  pms[0] = (uint8_t)(psk_len >> 8);
  pms[1] = (uint8_t)psk_len;
  pms[2 + psk_len] = (uint8_t)(psk_len >> 8);
  pms[3 + psk_len] = (uint8_t)psk_len;
  memcpy(pms + 4 + psk_len, psk, psk_len);
  size_t pms_len = 4 + 2 * psk_len;
  uint8_t seed[64], master[NB_DTLS_MASTER_LEN];
  if (d->ems) {
    nb_dtls_prf_sha256(pms, pms_len, "extended master secret", d->session_hash, 32, master,
                       sizeof master);
  } else {
    memcpy(seed, d->client_random, 32);
    memcpy(seed + 32, d->server_random, 32);
    nb_dtls_prf_sha256(pms, pms_len, "master secret", seed, 64, master, sizeof master);
  }
  nb_err e = nb_dtls_dec_set_master(d, master);
  nb_wipe(pms, sizeof pms);
  nb_wipe(master, sizeof master);
  return e;
}

static nb_dtls_dec_result nb_keyed_or(nb_dtls_dec *d, const uint8_t *master,
                                      nb_dtls_dec_result ok) {
  nb_err e = nb_dtls_dec_set_master(d, master);
  return e == NB_OK ? ok : e == NB_ERR_UNSUPPORTED ? NB_DEC_UNSUPPORTED : NB_DEC_INCOMPLETE;
}

nb_dtls_dec_result nb_dtls_dec_resolve(nb_dtls_dec *d, const nb_mon_psks *keys, uint8_t hs_type) {
  if (d->keyed) return NB_DEC_WAIT;
  if (hs_type == NB_DTLS_HS_SERVER_HELLO) {
    const uint8_t *m = d->have_client_random ? nb_mon_psks_master(keys, d->client_random) : NULL;
    if (m) return nb_keyed_or(d, m, NB_DEC_KEYED_KEYLOG);
    if (!d->resumed) return NB_DEC_WAIT; /* full handshake: wait for the ClientKeyExchange */
    m = d->have_offered_ticket
            ? nb_dtls_cache_get(d->cache, NB_DTLS_CACHE_TICKET, d->offered_ticket, 32)
            : NULL;
    if (!m) m = nb_dtls_cache_get(d->cache, NB_DTLS_CACHE_SESSION_ID, d->sid, d->sid_len);
    if (!m) return NB_DEC_NO_SESSION;
    return nb_keyed_or(d, m, NB_DEC_KEYED_RESUMED);
  }
  if (hs_type != NB_DTLS_HS_CLIENT_KEY_EXCHANGE) return NB_DEC_WAIT;
  if (!nb_dtls_dec_suite_supported(d->suite)) return NB_DEC_UNSUPPORTED;
  if (!nb_dtls_suite_is_psk(d->suite)) return NB_DEC_NO_MASTER;
  size_t key_len = 0;
  const uint8_t *key =
      d->have_identity ? nb_mon_psks_find(keys, d->identity, d->identity_len, &key_len) : NULL;
  if (!key) return d->have_identity ? NB_DEC_NO_PSK : NB_DEC_INCOMPLETE;
  nb_err e = nb_dtls_dec_derive(d, key, key_len);
  return e == NB_OK ? NB_DEC_KEYED_PSK : NB_DEC_INCOMPLETE;
}

/* ---------------------------------------------------------------- records */

/* seq_num(epoch+seq) || type || version || length: the AAD of CCM and the MAC's prefix. */
static void nb_record_ad(const nb_dtls_record *rec, size_t len, uint8_t ad[13]) {
  uint64_t s = ((uint64_t)rec->epoch << 48) | (rec->seq & 0xFFFFFFFFFFFFull);
  for (int i = 0; i < 8; i++) ad[i] = (uint8_t)(s >> (56 - 8 * i));
  ad[8] = rec->type;
  ad[9] = (uint8_t)(rec->version >> 8);
  ad[10] = (uint8_t)rec->version;
  ad[11] = (uint8_t)(len >> 8);
  ad[12] = (uint8_t)len;
}

static nb_err nb_open_ccm8(const nb_dtls_dec *d, int dir, const nb_dtls_record *rec, uint8_t *out,
                           size_t *out_len) {
  if (rec->body_len < NB_EXPLICIT_NONCE + NB_CCM8_TAG) return NB_ERR_DTLS_BAD_MAC;
  size_t len = rec->body_len - NB_EXPLICIT_NONCE - NB_CCM8_TAG;
  uint8_t nonce[12], ad[13];
  memcpy(nonce, d->iv[dir], 4);
  memcpy(nonce + 4, rec->body, NB_EXPLICIT_NONCE);
  nb_record_ad(rec, len, ad);
  struct ccm_aes128_ctx ctx;
  ccm_aes128_set_key(&ctx, d->key[dir]);
  int ok = ccm_aes128_decrypt_message(&ctx, sizeof nonce, nonce, sizeof ad, ad, NB_CCM8_TAG, len,
                                      out, rec->body + NB_EXPLICIT_NONCE);
  nb_wipe(&ctx, sizeof ctx);
  if (!ok) return NB_ERR_DTLS_BAD_MAC;
  *out_len = len;
  return NB_OK;
}

/* RFC 7366: the MAC covers IV and ciphertext and is checked before anything is decrypted. */
static nb_err nb_open_cbc_etm(const nb_dtls_dec *d, int dir, const nb_dtls_record *rec,
                              uint8_t *out, size_t *out_len) {
  size_t n = rec->body_len;
  if (n < 2 * AES_BLOCK_SIZE + SHA256_DIGEST_SIZE) return NB_ERR_DTLS_BAD_MAC;
  size_t clen = n - SHA256_DIGEST_SIZE; /* IV + ciphertext */
  if (clen % AES_BLOCK_SIZE) return NB_ERR_DTLS_BAD_MAC;
  uint8_t ad[13], mac[SHA256_DIGEST_SIZE];
  nb_record_ad(rec, clen, ad);
  struct hmac_sha256_ctx h;
  hmac_sha256_set_key(&h, SHA256_DIGEST_SIZE, d->mac[dir]);
  hmac_sha256_update(&h, sizeof ad, ad);
  hmac_sha256_update(&h, clen, rec->body);
  hmac_sha256_digest(&h, sizeof mac, mac);
  nb_wipe(&h, sizeof h);
  uint8_t diff = 0;
  for (size_t i = 0; i < sizeof mac; i++) diff |= (uint8_t)(mac[i] ^ rec->body[clen + i]);
  if (diff) return NB_ERR_DTLS_BAD_MAC;
  uint8_t iv[AES_BLOCK_SIZE];
  memcpy(iv, rec->body, sizeof iv);
  struct aes128_ctx aes;
  aes128_set_decrypt_key(&aes, d->key[dir]);
  size_t plen = clen - AES_BLOCK_SIZE;
  cbc_decrypt(&aes, (nettle_cipher_func *)aes128_decrypt, AES_BLOCK_SIZE, iv, plen, out,
              rec->body + AES_BLOCK_SIZE);
  nb_wipe(&aes, sizeof aes);
  size_t pad = out[plen - 1];
  bool bad = pad + 1 > plen;
  for (size_t i = 0; !bad && i <= pad; i++) bad = out[plen - 1 - i] != pad;
  if (bad) return NB_ERR_DTLS_BAD_MAC;
  *out_len = plen - pad - 1;
  return NB_OK;
}

/* RFC 5246 6.2.3.2: MAC-then-encrypt. */
static nb_err nb_open_cbc(const nb_dtls_dec *d, int dir, const nb_dtls_record *rec, uint8_t *out,
                          size_t *out_len) {
  size_t n = rec->body_len;
  if (n < 2 * AES_BLOCK_SIZE + SHA256_DIGEST_SIZE || n % AES_BLOCK_SIZE) return NB_ERR_DTLS_BAD_MAC;
  uint8_t iv[AES_BLOCK_SIZE];
  memcpy(iv, rec->body, sizeof iv);
  struct aes128_ctx aes;
  aes128_set_decrypt_key(&aes, d->key[dir]);
  size_t clen = n - AES_BLOCK_SIZE;
  cbc_decrypt(&aes, (nettle_cipher_func *)aes128_decrypt, AES_BLOCK_SIZE, iv, clen, out,
              rec->body + AES_BLOCK_SIZE);
  nb_wipe(&aes, sizeof aes);
  /* Every padding byte equals the pad length; checked in full before the MAC is trusted. */
  size_t pad = out[clen - 1];
  bool bad = pad + 1 + SHA256_DIGEST_SIZE > clen;
  for (size_t i = 0; !bad && i <= pad; i++) bad = out[clen - 1 - i] != pad;
  size_t len = bad ? 0 : clen - pad - 1 - SHA256_DIGEST_SIZE;
  uint8_t ad[13], mac[SHA256_DIGEST_SIZE];
  nb_record_ad(rec, len, ad);
  struct hmac_sha256_ctx h;
  hmac_sha256_set_key(&h, SHA256_DIGEST_SIZE, d->mac[dir]);
  hmac_sha256_update(&h, sizeof ad, ad);
  hmac_sha256_update(&h, len, out);
  hmac_sha256_digest(&h, sizeof mac, mac);
  nb_wipe(&h, sizeof h);
  uint8_t diff = 0;
  for (size_t i = 0; i < sizeof mac; i++) diff |= (uint8_t)(mac[i] ^ out[len + i]);
  if (bad || diff) return NB_ERR_DTLS_BAD_MAC;
  *out_len = len;
  return NB_OK;
}

nb_err nb_dtls_dec_open(const nb_dtls_dec *d, bool from_client, const nb_dtls_record *rec,
                        uint8_t *out, size_t *out_len) {
  if (!d->keyed || rec->epoch == 0) return NB_ERR_STATE;
  int dir = from_client ? 0 : 1;
  if (nb_suite_ccm8(d->suite)) return nb_open_ccm8(d, dir, rec, out, out_len);
  if (d->etm) return nb_open_cbc_etm(d, dir, rec, out, out_len);
  return nb_open_cbc(d, dir, rec, out, out_len);
}
