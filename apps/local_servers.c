/* Bootstrap server + LwM2M server + REST API on loopback in this process (demo, sim). */
#include "local_servers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "dtls/cred.h"
#include "io/dtls_server_io.h"
#include "store/sqlite.h"

#define LOCAL_SSID 101

/* ---- the engines' loop hooks ---- */

static void srv_receive(void *user, const nb_addr *peer, const nb_server_identity *id,
                        const uint8_t *data, size_t len, nb_time_ms now) {
  nb_server_receive(((nb_app_local *)user)->srv, peer, id, data, len, now);
}

static void bs_receive(void *user, const nb_addr *peer, const nb_server_identity *id,
                       const uint8_t *data, size_t len, nb_time_ms now) {
  nb_bs_engine_receive(((nb_app_local *)user)->bs, peer, id, data, len, now);
}

static void on_tick(void *user, nb_time_ms now) {
  nb_app_local *l = user;
  nb_server_tick(l->srv, now);
  nb_bs_engine_tick(l->bs, now);
}

static nb_time_ms next_deadline(void *user, nb_time_ms now) {
  nb_app_local *l = user;
  if (l->cfg.before_wait) l->cfg.before_wait(l->cfg.user, now);
  return nb_time_min(nb_server_next_deadline(l->srv), nb_bs_engine_next_deadline(l->bs));
}

/* ---- sockets ---- */

static void drop_log(nb_log_level level, const char *line, void *user) {
  (void)level, (void)line, (void)user;
}

/* Binds 127.0.0.1:port, or a free port when that one is taken (no error logged for it). */
static nb_err listen_pref(nb_io_srv *net, uint16_t port, const nb_dtls_creds *creds,
                          nb_addr *bound) {
  nb_addr local;
  nb_addr_parse("127.0.0.1", port, &local);
  nb_log_set_sink(drop_log, NULL);
  nb_err e = creds ? nb_io_srv_listen_coaps(net, &local, creds, bound)
                   : nb_io_srv_listen_coap(net, &local, bound);
  nb_log_set_sink(NULL, NULL);
  if (e != NB_ERR_EXISTS) return e;
  local.port = 0;
  return creds ? nb_io_srv_listen_coaps(net, &local, creds, bound)
               : nb_io_srv_listen_coap(net, &local, bound);
}

/* Whether a TCP listener could bind a (probed first, so that libmicrohttpd does not print a
 * bind error for a default port that is merely busy). */
static bool tcp_port_free(const nb_addr *a) {
  struct sockaddr_storage ss;
  size_t len;
  if (nb_addr_to_sockaddr(a, (struct sockaddr *)&ss, sizeof ss, &len) != NB_OK) return false;
  int fd = socket(ss.ss_family, SOCK_STREAM, 0), one = 1;
  if (fd < 0) return false;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  bool ok = bind(fd, (struct sockaddr *)&ss, (socklen_t)len) == 0;
  close(fd);
  return ok;
}

/* ---- set-up ---- */

static int open_db(nb_app_local *l) {
  if (l->cfg.db) {
    snprintf(l->db, sizeof l->db, "%s", l->cfg.db);
  } else {
    const char *tmp = getenv("TMPDIR");
    snprintf(l->db, sizeof l->db, "%s/niobium-%s-XXXXXX", tmp && tmp[0] ? tmp : "/tmp",
             strchr(l->cfg.cli, ' ') ? strchr(l->cfg.cli, ' ') + 1 : "local");
    int fd = mkstemp(l->db);
    if (fd < 0) {
      fprintf(stderr, "%s: cannot create a temporary database in %s (set TMPDIR or --db)\n",
              l->cfg.cli, tmp && tmp[0] ? tmp : "/tmp");
      return -1;
    }
    close(fd);
    l->temp_db = true;
  }
  if (nb_store_sqlite_open(l->db, &l->dmdb) != NB_OK || nb_bs_store_open(l->db, &l->bst) != NB_OK) {
    fprintf(stderr, "%s: cannot open database %s: check the path and permissions\n", l->cfg.cli,
            l->db);
    return -1;
  }
  if (nb_store_health_new(nb_store_sqlite_iface(l->dmdb), NULL, NULL, &l->health) != NB_OK)
    return -1;
  l->store = nb_store_health_store(l->health);
  return 0;
}

static int setup_server(nb_app_local *l) {
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  cfg.store = l->store;
  cfg.clock_offset = l->cfg.clock_offset;
  if (nb_io_srv_new(l->loop, srv_receive, l, &l->srv_net) != NB_OK ||
      nb_server_new(&cfg, nb_io_srv_send, l->srv_net, &l->srv) != NB_OK)
    return -1;
  if (nb_dtls_creds_new(&l->srv_creds) != NB_OK) return -1;
  nb_dtls_creds_set_psk_lookup(l->srv_creds, nb_io_srv_store_psk_lookup, &l->store);
  nb_dtls_creds_set_verify(l->srv_creds, nb_io_srv_store_verify, &l->store);
  if (l->cfg.server_rpk && (nb_dtls_keypair_generate(&l->srv_key) != NB_OK ||
                            nb_dtls_creds_set_rpk(l->srv_creds, l->srv_key.key_der.data,
                                                  l->srv_key.key_der.len) != NB_OK))
    return -1;
  if (listen_pref(l->srv_net, 5683, NULL, &l->srv_coap) != NB_OK ||
      listen_pref(l->srv_net, 5684, l->srv_creds, &l->srv_coaps) != NB_OK) {
    fprintf(stderr, "%s: cannot bind the LwM2M server's sockets on 127.0.0.1\n", l->cfg.cli);
    return -1;
  }
  nb_http_api_config hc = {
      .store = l->store, .health = l->health, .clock_offset = cfg.clock_offset};
  nb_addr_parse(l->cfg.http, 8080, &hc.listen);
  if (!l->cfg.http_given && !tcp_port_free(&hc.listen)) hc.listen.port = 0;
  nb_err e = nb_http_api_new(l->loop, l->srv, &hc, &l->api);
  if (e != NB_OK && !l->cfg.http_given && hc.listen.port != 0) {
    hc.listen.port = 0; /* taken between the probe and the bind */
    e = nb_http_api_new(l->loop, l->srv, &hc, &l->api);
  }
  if (e != NB_OK) {
    fprintf(stderr, "%s: cannot start the REST API on %s: is the port in use? (--http)\n",
            l->cfg.cli, l->cfg.http);
    return -1;
  }
  return 0;
}

/* A registration is also proof that a device took a Bootstrap-Finish whose answer was lost. */
static void on_registered(void *user, const nb_server_event *ev) {
  nb_app_local *l = user;
  if (ev->type == NB_SEV_REGISTRATION && l->bs)
    nb_bs_engine_registered(l->bs, ev->reg->ep, &ev->reg->identity, ev->now);
}

static int setup_bootstrap(nb_app_local *l) {
  nb_bs_engine_config cfg;
  nb_bs_engine_config_default(&cfg);
  cfg.policy = l->cfg.approve ? NB_BS_POLICY_APPROVE : NB_BS_POLICY_AUTO;
  cfg.source = nb_bs_store_source(l->bst);
  cfg.dm_store = l->store;
  if (nb_dtls_keypair_generate(&l->bs_key) != NB_OK) return -1;
  /* Devices with keys may ask for signed bootstraps: signed with the coaps key. */
  cfg.sign_key = l->bs_key.key_der.data;
  cfg.sign_key_len = l->bs_key.key_der.len;
  cfg.unix_offset_ms = l->cfg.clock_offset;
  if (nb_io_srv_new(l->loop, bs_receive, l, &l->bs_net) != NB_OK ||
      nb_bs_engine_new(&cfg, nb_io_srv_send, l->bs_net, &l->bs) != NB_OK)
    return -1;
  if (nb_dtls_creds_new(&l->bs_creds) != NB_OK ||
      nb_dtls_creds_set_rpk(l->bs_creds, l->bs_key.key_der.data, l->bs_key.key_der.len) != NB_OK)
    return -1;
  nb_dtls_creds_set_verify(l->bs_creds, nb_bs_engine_verify_peer, l->bs);
  nb_dtls_creds_set_psk_lookup(l->bs_creds, nb_bs_engine_psk_lookup, l->bs);
  if (listen_pref(l->bs_net, 5783, NULL, &l->bs_coap) != NB_OK ||
      listen_pref(l->bs_net, 5784, l->bs_creds, &l->bs_coaps) != NB_OK) {
    fprintf(stderr, "%s: cannot bind the bootstrap server's sockets on 127.0.0.1\n", l->cfg.cli);
    return -1;
  }
  return 0;
}

int nb_app_local_start(nb_io_loop *loop, const nb_app_local_config *cfg, nb_app_local **out) {
  nb_app_local *l = calloc(1, sizeof *l);
  if (!l) return -1;
  l->cfg = *cfg;
  l->loop = loop;
  if (!l->cfg.http) l->cfg.http = "127.0.0.1:8080";
  if (open_db(l) != 0 || setup_server(l) != 0 || setup_bootstrap(l) != 0 ||
      nb_server_add_listener(l->srv, on_registered, l) != NB_OK ||
      nb_io_deadline_new(loop, next_deadline, on_tick, l, &l->deadline) != NB_OK) {
    nb_app_local_close(l);
    nb_app_local_destroy(l);
    return -1;
  }
  *out = l;
  return 0;
}

void nb_app_local_close(nb_app_local *l) {
  if (!l) return;
  nb_http_api_free(l->api);
  l->api = NULL;
  nb_io_deadline_close(l->deadline);
  l->deadline = NULL;
  nb_io_srv_free(l->srv_net);
  nb_io_srv_free(l->bs_net);
  l->srv_net = l->bs_net = NULL;
}

void nb_app_local_destroy(nb_app_local *l) {
  if (!l) return;
  nb_server_free(l->srv);
  nb_bs_engine_free(l->bs);
  nb_dtls_creds_free(l->srv_creds);
  nb_dtls_creds_free(l->bs_creds);
  nb_dtls_keypair_free(&l->bs_key);
  nb_dtls_keypair_free(&l->srv_key);
  nb_bs_store_close(l->bst);
  nb_store_health_free(l->health);
  nb_store_sqlite_close(l->dmdb);
  if (l->temp_db) {
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
      char path[sizeof l->db + 16];
      snprintf(path, sizeof path, "%s%s", l->db, suffix[i]);
      unlink(path);
    }
  }
  free(l);
}

void nb_app_local_api_url(const nb_app_local *l, char *buf, size_t cap) {
  snprintf(buf, cap, "http://127.0.0.1:%u", nb_http_api_port(l->api));
}

void nb_app_local_uri(const nb_app_local *l, bool bootstrap, bool secure, char *buf, size_t cap) {
  const nb_addr *a =
      bootstrap ? (secure ? &l->bs_coaps : &l->bs_coap) : (secure ? &l->srv_coaps : &l->srv_coap);
  snprintf(buf, cap, "%s://127.0.0.1:%u", secure ? "coaps" : "coap", a->port);
}

/* ---- provisioning ---- */

static nb_err put_config(nb_app_local *l, const char *ep, nb_sim_security dm, uint32_t lifetime) {
  nb_bs_config *cfg = calloc(1, sizeof *cfg);
  if (!cfg) return NB_ERR_NOMEM;
  nb_bs_config_init(cfg, ep);
  nb_bs_server s = {.ssid = LOCAL_SSID, .lifetime = lifetime};
  s.mode = dm == NB_SIM_PSK ? NB_BS_SEC_PSK : dm == NB_SIM_RPK ? NB_BS_SEC_RPK : NB_BS_SEC_NOSEC;
  nb_app_local_uri(l, false, dm != NB_SIM_NOSEC, s.uri, sizeof s.uri);
  if (dm == NB_SIM_RPK) {
    if (l->srv_key.spki_der.len > sizeof s.server_pubkey) {
      free(cfg);
      return NB_ERR_OVERFLOW;
    }
    memcpy(s.server_pubkey, l->srv_key.spki_der.data, l->srv_key.spki_der.len);
    s.server_pubkey_len = l->srv_key.spki_der.len;
  }
  nb_err e = dm == NB_SIM_X509 ? NB_ERR_UNSUPPORTED : nb_bs_config_add_server(cfg, &s);
  if (e == NB_OK) e = nb_bs_store_config_put(l->bst, cfg);
  free(cfg);
  return e;
}

nb_err nb_app_local_default_config(nb_app_local *l) { return put_config(l, "", NB_SIM_NOSEC, 120); }

nb_err nb_app_local_provision(nb_app_local *l, const nb_sim_cred *cred, nb_sim_security dm,
                              uint32_t lifetime) {
  nb_server_sec_info c = {0};
  snprintf(c.ep, sizeof c.ep, "%s", cred->ep);
  nb_err e = NB_OK;
  if (cred->mode == NB_SIM_PSK) {
    c.kind = NB_SERVER_ID_PSK;
    snprintf(c.identity, sizeof c.identity, "%s", cred->identity);
    if (cred->key_len > sizeof c.key) return NB_ERR_OVERFLOW;
    memcpy(c.key, cred->key, cred->key_len);
    c.key_len = cred->key_len;
  } else if (cred->mode == NB_SIM_RPK) {
    c.kind = NB_SERVER_ID_RPK;
    snprintf(c.identity, sizeof c.identity, "%s", cred->secure_id);
  } else if (cred->mode == NB_SIM_X509) {
    e = NB_ERR_UNSUPPORTED; /* the local bootstrap server has no CA for device certificates */
  }
  if (e == NB_OK && cred->mode != NB_SIM_NOSEC) e = nb_bs_store_cred_put(l->bst, &c);
  memset(&c, 0, sizeof c);
  return e == NB_OK ? put_config(l, cred->ep, dm, lifetime) : e;
}
