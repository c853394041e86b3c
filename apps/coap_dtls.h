/* DTLS options shared by `niobium coap` (client) and `niobium coap serve`: the command-line
 * options (PSK, raw public keys, X.509, forced cipher suites), turning them into nb_dtls_creds,
 * and the messages that explain a handshake's outcome. Owns the credentials it builds. */
#ifndef NB_APP_COAP_DTLS_H
#define NB_APP_COAP_DTLS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "dtls/cred.h"
#include "dtls/session.h"

#define NB_APP_DTLS_MAX_LIST 16

/* What the DTLS options said (strings borrowed from argv). */
typedef struct {
  const char *psk_identity, *psk_key, *psk_file;
  const char *rpk_key;
  const char *peer_keys[NB_APP_DTLS_MAX_LIST]; /* --peer-key / --client-key files */
  size_t n_peer_keys;
  const char *peer_ids[NB_APP_DTLS_MAX_LIST]; /* --peer-secure-id / --client-secure-id */
  size_t n_peer_ids;
  const char *cert, *key, *ca, *peer_cert;
  const char *ciphers;
  bool client_only_used, server_only_used; /* for the role check */
} nb_app_dtls_opts;

/* getopt codes of the DTLS options, above every command's own. */
enum {
  NB_APP_OPT_PSK_IDENTITY = 600,
  NB_APP_OPT_PSK_KEY,
  NB_APP_OPT_PSK_FILE,
  NB_APP_OPT_RPK_KEY,
  NB_APP_OPT_PEER_KEY,
  NB_APP_OPT_PEER_SECURE_ID,
  NB_APP_OPT_CLIENT_KEY,
  NB_APP_OPT_CLIENT_SECURE_ID,
  NB_APP_OPT_CERT,
  NB_APP_OPT_KEY,
  NB_APP_OPT_CA,
  NB_APP_OPT_PEER_CERT,
  NB_APP_OPT_CIPHERS,
};

/* Entries for a getopt_long table. */
#define NB_APP_DTLS_LONG_OPTS                                                     \
  {"psk-identity", required_argument, NULL, NB_APP_OPT_PSK_IDENTITY},             \
      {"psk-key", required_argument, NULL, NB_APP_OPT_PSK_KEY},                   \
      {"psk-file", required_argument, NULL, NB_APP_OPT_PSK_FILE},                 \
      {"rpk-key", required_argument, NULL, NB_APP_OPT_RPK_KEY},                   \
      {"peer-key", required_argument, NULL, NB_APP_OPT_PEER_KEY},                 \
      {"peer-secure-id", required_argument, NULL, NB_APP_OPT_PEER_SECURE_ID},     \
      {"client-key", required_argument, NULL, NB_APP_OPT_CLIENT_KEY},             \
      {"client-secure-id", required_argument, NULL, NB_APP_OPT_CLIENT_SECURE_ID}, \
      {"cert", required_argument, NULL, NB_APP_OPT_CERT},                         \
      {"key", required_argument, NULL, NB_APP_OPT_KEY},                           \
      {"ca", required_argument, NULL, NB_APP_OPT_CA},                             \
      {"peer-cert", required_argument, NULL, NB_APP_OPT_PEER_CERT}, {             \
    "ciphers", required_argument, NULL, NB_APP_OPT_CIPHERS                        \
  }

/* 1 when c was a DTLS option (recorded), 0 when it is not one, -1 on a usage error (printed,
 * prefixed with prog). */
int nb_app_dtls_opt(nb_app_dtls_opts *o, int c, const char *arg, const char *prog);
/* True when any DTLS option was given. */
bool nb_app_dtls_given(const nb_app_dtls_opts *o);

typedef struct nb_app_dtls nb_app_dtls;

/* Builds the credentials of one role from the options; prints what is wrong (prefixed with
 * prog) and returns the exit code (0 ok, 1 unreadable file or bad key, 2 usage). */
int nb_app_dtls_build(const nb_app_dtls_opts *o, bool server, const char *prog, nb_app_dtls **out);
const nb_dtls_creds *nb_app_dtls_creds(const nb_app_dtls *a);
/* Client: the server's name or address, checked against its certificate. */
nb_err nb_app_dtls_set_peer_name(nb_app_dtls *a, const char *host);
/* The host of a coap(s):// URI without brackets; false when there is none. */
bool nb_app_dtls_uri_host(const char *uri, char *out, size_t cap);
void nb_app_dtls_free(nb_app_dtls *a);

/* One line on who the peer is ("psk identity 'x'", "raw public key, secure ID ...",
 * "certificate CN=..., secure ID ..."). */
void nb_app_dtls_describe_peer(const nb_dtls_peer *p, char *buf, size_t cap);
/* One line on why a handshake or session ended, with what to check. */
void nb_app_dtls_describe_failure(const nb_dtls_event *ev, char *buf, size_t cap);

#endif
