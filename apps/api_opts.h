/* The options of the commands that serve the REST API (`niobium server`, `niobium bootstrap
 * --http`): its token (--api-token, --api-token-file), the names it answers to (--http-host),
 * HTTPS (--http-cert, --http-key, --insecure-http), its connection bounds (--http-max-*) and
 * the console's map tiles (--console-tiles),
 * with the rules that tie them to the listen address; and reading a secret (a token) from a
 * file for every command that takes one. Owns the token and the PEM files it read (the token
 * and the key are wiped when freed). */
#ifndef NB_APPS_API_OPTS_H
#define NB_APPS_API_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/addr.h"
#include "http/api.h"
#include "http/guard.h"

#define NB_API_TOKEN_MIN 16  /* characters of an API token, at least */
#define NB_API_TOKEN_MAX 256 /* and at most */

/* getopt codes of the shared options (above every command's own). */
enum {
  NB_AO_TOKEN = 0x1000,
  NB_AO_TOKEN_FILE,
  NB_AO_HOST,
  NB_AO_CERT,
  NB_AO_KEY,
  NB_AO_INSECURE,
  NB_AO_MAX_CONNS,
  NB_AO_MAX_CONNS_ADDR,
  NB_AO_MAX_STREAMS,
  NB_AO_MAX_STREAMS_ADDR,
  NB_AO_CONSOLE_TILES,
};

/* Rows for a command's getopt_long table. */
#define NB_API_LONG_OPTS                                                                \
  {"api-token", required_argument, NULL, NB_AO_TOKEN},                                  \
      {"api-token-file", required_argument, NULL, NB_AO_TOKEN_FILE},                    \
      {"http-host", required_argument, NULL, NB_AO_HOST},                               \
      {"http-cert", required_argument, NULL, NB_AO_CERT},                               \
      {"http-key", required_argument, NULL, NB_AO_KEY},                                 \
      {"insecure-http", no_argument, NULL, NB_AO_INSECURE},                             \
      {"http-max-conns", required_argument, NULL, NB_AO_MAX_CONNS},                     \
      {"http-max-conns-per-addr", required_argument, NULL, NB_AO_MAX_CONNS_ADDR},       \
      {"http-max-streams", required_argument, NULL, NB_AO_MAX_STREAMS},                 \
      {"http-max-streams-per-addr", required_argument, NULL, NB_AO_MAX_STREAMS_ADDR}, { \
    "console-tiles", required_argument, NULL, NB_AO_CONSOLE_TILES                       \
  }

/* The same options in --help (the token's rules included). */
#define NB_API_OPTS_HELP                                                                     \
  "  --api-token TOKEN  require \"Authorization: Bearer TOKEN\" (16 to 256 visible ASCII\n"  \
  "                     characters, e.g. the hex of `niobium keys psk --bytes 24`);\n"       \
  "                     mandatory when the API is not bound to loopback\n"                   \
  "  --api-token-file FILE  the same, read from FILE (one line; the file must not be\n"      \
  "                     readable by group or others), so it stays out of `ps`\n"             \
  "  --http-cert FILE   serve HTTPS with this certificate chain (PEM), with --http-key\n"    \
  "  --http-key FILE    its private key (PEM); HTTPS (or --insecure-http) is mandatory\n"    \
  "                     when the API is not bound to loopback\n"                             \
  "  --insecure-http    allow plain HTTP off loopback (e.g. behind a TLS proxy)\n"           \
  "  --http-host NAME   a name the API is reached by (NAME or NAME:PORT), repeatable (up\n"  \
  "                     to 16); a Host header naming neither these, the listener's IP\n"     \
  "                     address nor localhost (on loopback) gets 421 (DNS rebinding)\n"      \
  "  --http-max-conns N           connections at once (default 1000)\n"                      \
  "  --http-max-conns-per-addr N  from one client address (default 256)\n"                   \
  "  --http-max-streams N         /api/events streams at once (default 256)\n"               \
  "  --http-max-streams-per-addr N  from one client address (default 32)\n"                  \
  "  --console-tiles URL  map tiles of the web console, e.g.\n"                              \
  "                     https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png (its origin is\n" \
  "                     allowed by the console's CSP); default none: devices are placed\n"   \
  "                     on a plain background\n"

typedef struct {
  const char *cmd; /* "niobium server", for messages */
  char *token;     /* heap, wiped when freed */
  const char *hosts[NB_HTTP_GUARD_NAMES_MAX];
  size_t nhosts;
  const char *cert_path, *key_path;
  bool insecure;
  nb_http_admit_config limits;
  char *cert, *key;  /* PEM, read by nb_api_opts_finish */
  const char *tiles; /* --console-tiles */
  bool given;        /* any option of the listener (not the token) was given */
} nb_api_opts;

void nb_api_opts_init(nb_api_opts *o, const char *cmd);
void nb_api_opts_free(nb_api_opts *o);
/* One option of NB_API_LONG_OPTS: NB_EXIT_OK, NB_EXIT_USAGE or NB_EXIT_FAILURE (a message was
 * printed), or -1 when code is none of them. */
int nb_api_opts_parse(nb_api_opts *o, int code, const char *arg);
/* The rules against the listen address (a token, and HTTPS or --insecure-http, off loopback;
 * the token's length), and reads the certificate and key. An exit code. */
int nb_api_opts_finish(nb_api_opts *o, const nb_addr *listen);
/* Fills the API's token, names, bounds and TLS from o (which must outlive the API's start). */
void nb_api_opts_apply(const nb_api_opts *o, nb_http_api_config *hc);

/* Reads a secret from path: a regular file that group and others may not read, one line (the
 * trailing newline is dropped). Heap string, or NULL with why (a sentence) filled. */
char *nb_secret_file_read(const char *path, char *why, size_t cap);
/* 16 to 256 visible ASCII characters. */
bool nb_api_token_valid(const char *token);

#endif
