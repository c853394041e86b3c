/* The web console's files as the API listener serves them: a table generated at build time
 * from web/ (web/cmake/embed.cmake, so the binary needs no file on disk), looked up by URL
 * path, typed by extension, and the security headers every one of them is answered with
 * (a strict Content-Security-Policy: scripts and styles from this origin only, map tiles
 * from the one origin the operator configured). Pure; the table is static and read-only. */
#ifndef NB_HTTP_CONSOLE_H
#define NB_HTTP_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

typedef struct {
  const char *path; /* "/" or "/console/..." */
  const unsigned char *data;
  size_t len;
  const char *etag; /* "\"<hex of its SHA-256>\"" */
} nb_console_asset;

/* Defined by the generated console_assets.c (empty when the build has no console). */
extern const nb_console_asset nb_console_assets[];
extern const size_t nb_console_asset_count;

#define NB_CONSOLE_TILES_MAX 512 /* a tile URL template */
#define NB_CONSOLE_CSP_MAX 1024

/* The file served at this URL path (exact match), or NULL. */
const nb_console_asset *nb_console_find(const char *path);
/* Its Content-Type, from the extension (text types with charset=utf-8). */
const char *nb_console_type(const char *path);
/* Checks a map tile URL template: http:// or https://, a host (and port), a path with {z},
 * {x} and {y}, no characters that could end a header or a CSP directive (space, quote, ';',
 * ',', control characters). Writes its origin ("https://tile.example.org:8443") into origin.
 * NB_ERR_INVAL otherwise, with a sentence in why. */
nb_err nb_console_tiles_check(const char *url, char *origin, size_t cap, const char **why);
/* The Content-Security-Policy of the console; tiles_origin (may be NULL) is added to
 * img-src. */
void nb_console_csp(const char *tiles_origin, char *out, size_t cap);

#endif
