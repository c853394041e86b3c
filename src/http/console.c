/* Console files: see console.h. */
#include "http/console.h"

#include <stdio.h>
#include <string.h>

#include "http/guard.h"

const nb_console_asset *nb_console_find(const char *path) {
  for (size_t i = 0; i < nb_console_asset_count; i++)
    if (strcmp(nb_console_assets[i].path, path) == 0) return &nb_console_assets[i];
  return NULL;
}

const char *nb_console_type(const char *path) {
  static const struct {
    const char *ext, *type;
  } types[] = {
      {".html", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".json", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
      {".webmanifest", "application/manifest+json"},
  };
  if (strcmp(path, "/") == 0) return types[0].type;
  const char *dot = strrchr(path, '.');
  for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
    if (strcmp(dot, types[i].ext) == 0) return types[i].type;
  return "application/octet-stream";
}

nb_err nb_console_tiles_check(const char *url, char *origin, size_t cap, const char **why) {
  const char *dummy;
  if (!why) why = &dummy;
  *why =
      "a tile URL is http(s)://HOST[:PORT]/PATH with {z}, {x} and {y}, without spaces, "
      "quotes, ';' or ','";
  if (!url || strlen(url) >= NB_CONSOLE_TILES_MAX) return NB_ERR_INVAL;
  for (const char *c = url; *c; c++)
    if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f || strchr("\"';,\\<>`", *c))
      return NB_ERR_INVAL;
  size_t scheme = strncmp(url, "https://", 8) == 0 ? 8 : strncmp(url, "http://", 7) == 0 ? 7 : 0;
  if (!scheme || !strstr(url, "{z}") || !strstr(url, "{x}") || !strstr(url, "{y}"))
    return NB_ERR_INVAL;
  const char *slash = strchr(url + scheme, '/');
  if (!slash || slash == url + scheme) return NB_ERR_INVAL;
  /* The authority: a host (the {s} of sub-domain templates as the CSP's wildcard), a port. */
  char auth[NB_HTTP_HOST_MAX], host[NB_HTTP_HOST_MAX];
  size_t alen = (size_t)(slash - url - scheme);
  if (alen >= sizeof auth || (size_t)(slash - url) >= cap) return NB_ERR_INVAL;
  memcpy(auth, url + scheme, alen);
  auth[alen] = '\0';
  bool sub = strncmp(auth, "{s}.", 4) == 0;
  uint16_t port;
  if (nb_http_parse_authority(sub ? auth + 4 : auth, host, sizeof host, &port) != NB_OK)
    return NB_ERR_INVAL;
  snprintf(origin, cap, "%.*s%s%s", (int)scheme, url, sub ? "*." : "", sub ? auth + 4 : auth);
  *why = NULL;
  return NB_OK;
}

void nb_console_csp(const char *tiles_origin, char *out, size_t cap) {
  snprintf(
      out, cap,
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:%s%s; "
      "connect-src 'self'; media-src 'self' blob:; font-src 'self'; manifest-src 'self'; "
      "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      tiles_origin && *tiles_origin ? " " : "", tiles_origin ? tiles_origin : "");
}
