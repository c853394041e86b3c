/* DTLS sessions of `niobium server` kept across a graceful restart: see server_sessions.h. */
#include "server_sessions.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

bool server_sessions_init(server_sessions *ss, const char *key_file, const char *file,
                          const char *db, unsigned long max_age_s, int64_t clock_offset,
                          nb_server_store *store) {
  memset(ss, 0, sizeof *ss);
  ss->store = store;
  if (!key_file) return true;
  nb_err err = nb_dtls_sessfile_key_load(key_file, ss->key);
  if (err != NB_OK) {
    fprintf(stderr,
            "niobium server: --session-key-file %s: %s (32 bytes, or 64 hex digits, in a file "
            "only its owner may read: chmod 600)\n",
            key_file, nb_err_name(err));
    return false;
  }
  int n = file ? snprintf(ss->path, sizeof ss->path, "%s", file)
               : snprintf(ss->path, sizeof ss->path, "%s.sessions", db);
  if (n < 0 || (size_t)n >= sizeof ss->path) {
    fprintf(stderr, "niobium server: the session file's path is too long\n");
    gnutls_memset(ss->key, 0, sizeof ss->key);
    return false;
  }
  ss->max_age_ms = (int64_t)max_age_s * 1000;
  ss->clock_offset = clock_offset;
  ss->on = true;
  return true;
}

/* The digest of the credential a session was made with: a PSK's SHA-256 (zeros for a raw
 * public key or certificate, whose key is in the session and checked by the store). */
static nb_err cred_digest(nb_server_store *store, const nb_dtls_peer *who, uint8_t out[32]) {
  memset(out, 0, 32);
  if (who->mode != NB_DTLS_MODE_PSK) return NB_OK;
  uint8_t key[256];
  size_t len = 0;
  nb_err err = nb_io_srv_store_psk_lookup(store, (const uint8_t *)who->identity, who->identity_len,
                                          key, sizeof key, &len);
  if (err == NB_OK && gnutls_hash_fast(GNUTLS_DIG_SHA256, key, len, out) < 0) err = NB_ERR_IO;
  gnutls_memset(key, 0, sizeof key);
  return err;
}

/* The credential the session was made with is still the device's. */
static bool cred_current(nb_server_store *store, const nb_dtls_saved *sv) {
  if (sv->who.mode != NB_DTLS_MODE_PSK)
    return nb_io_srv_store_verify(store, &sv->who, NULL, 0) == NB_OK;
  uint8_t now[32];
  bool same = cred_digest(store, &sv->who, now) == NB_OK &&
              gnutls_memcmp(now, sv->cred_digest, sizeof now) == 0;
  gnutls_memset(now, 0, sizeof now);
  return same;
}

typedef struct {
  server_sessions *ss;
  nb_io_srv *net;
  nb_server *srv;
  nb_time_ms now;
  size_t restored, refused, unheard_reachable;
} restore_ctx;

static nb_err restore_one(void *user, const nb_dtls_saved *sv) {
  restore_ctx *c = user;
  if (!cred_current(c->ss->store, sv) || nb_io_srv_restore_session(c->net, sv) != NB_OK) {
    c->refused++;
    return NB_OK;
  }
  c->restored++;
  nb_server_identity id;
  nb_io_srv_identity(&sv->who, &id);
  if (nb_server_session_kept(c->srv, &sv->peer, &id, c->now)) c->unheard_reachable++;
  return NB_OK;
}

void server_sessions_restore(server_sessions *ss, nb_io_srv *net, nb_server *srv, nb_time_ms now) {
  if (!ss->on) return;
  nb_bytes file, plain;
  nb_bytes_init(&file);
  nb_bytes_init(&plain);
  uint32_t count = 0;
  nb_err err = nb_dtls_sessfile_load(ss->path, &file);
  if (err == NB_ERR_NOT_FOUND) {
    NB_LOG_INFO("server", "event=dtls_sessions_restored count=0 detail=\"no session file\"");
    return;
  }
  if (err == NB_OK)
    err = nb_dtls_sessfile_open(ss->key, file.data, file.len, now + ss->clock_offset,
                                ss->max_age_ms, &plain, &count);
  restore_ctx c = {ss, net, srv, now, 0, 0, 0};
  if (err == NB_OK) err = nb_dtls_sessfile_parse(plain.data, plain.len, count, restore_one, &c);
  if (plain.data) gnutls_memset(plain.data, 0, plain.len);
  nb_bytes_free(&plain);
  nb_bytes_free(&file);
  if (err != NB_OK) {
    /* Removed all the same: its devices come back through the lost-session alert. */
    NB_LOG_WARN("server", "event=dtls_sessions_refused file=%s err=%s restored=%zu", ss->path,
                nb_err_name(err), c.restored);
    return;
  }
  NB_LOG_INFO("server", "event=dtls_sessions_restored count=%zu refused=%zu registrations=%zu",
              c.restored, c.refused, c.unheard_reachable);
}

typedef struct {
  nb_server_store *store;
  nb_bytes plain;
  uint32_t count;
  nb_err err;
} save_ctx;

static void save_one(void *user, const nb_dtls_saved *sv) {
  save_ctx *c = user;
  if (c->err != NB_OK || c->count >= NB_DTLS_SESSFILE_MAX_RECORDS) return;
  nb_dtls_saved *mine = malloc(sizeof *mine);
  if (!mine) {
    c->err = NB_ERR_NOMEM;
    return;
  }
  *mine = *sv;
  /* A session whose credential is gone already is not kept. */
  if (cred_digest(c->store, &mine->who, mine->cred_digest) == NB_OK) {
    c->err = nb_dtls_sessfile_add(&c->plain, mine);
    if (c->err == NB_OK) c->count++;
  }
  gnutls_memset(mine, 0, sizeof *mine);
  free(mine);
}

void server_sessions_save(server_sessions *ss, nb_io_srv *net, nb_time_ms now) {
  if (!ss->on || !net) return;
  save_ctx c = {.store = ss->store, .err = NB_OK};
  nb_bytes_init(&c.plain);
  size_t other = 0;
  nb_io_srv_export_sessions(net, save_one, &c, &other);
  nb_bytes file;
  nb_bytes_init(&file);
  nb_err err = c.err;
  if (err == NB_OK)
    err = nb_dtls_sessfile_seal(ss->key, now + ss->clock_offset, c.count, c.plain.data, c.plain.len,
                                &file);
  if (c.plain.data) gnutls_memset(c.plain.data, 0, c.plain.len);
  nb_bytes_free(&c.plain);
  if (err == NB_OK) err = nb_dtls_sessfile_save(ss->path, file.data, file.len);
  nb_bytes_free(&file);
  if (err != NB_OK) {
    NB_LOG_ERROR("server", "event=dtls_sessions_not_saved file=%s err=%s", ss->path,
                 nb_err_name(err));
    return;
  }
  NB_LOG_INFO("server", "event=dtls_sessions_saved count=%u other_suites=%zu file=%s", c.count,
              other, ss->path);
}

void server_sessions_forget(server_sessions *ss) { gnutls_memset(ss->key, 0, sizeof ss->key); }
