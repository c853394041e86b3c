/* Route matching: see route.h. Both the pattern and the path are cut into segments at '/'
 * and compared segment by segment; a "{name*}" segment takes what lies between the literals
 * before it and the ones after it. */
#include "http/route.h"

#include <stdio.h>
#include <string.h>

typedef struct {
  size_t n;
  struct {
    const char *at;
    size_t len;
  } s[NB_ROUTE_SEGMENTS_MAX];
} segments;

/* Cuts "/a/b/c" (one trailing slash ignored) into a, b, c; false when there are too many. */
static bool split(const char *path, segments *out) {
  size_t len = strlen(path);
  if (len > 1 && path[len - 1] == '/') len--;
  out->n = 0;
  if (len == 0 || path[0] != '/') return len == 0;
  const char *p = path + 1, *end = path + len;
  if (p == end) return true; /* "/" alone */
  for (;;) {
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *stop = slash ? slash : end;
    if (out->n == NB_ROUTE_SEGMENTS_MAX) return false;
    out->s[out->n].at = p;
    out->s[out->n].len = (size_t)(stop - p);
    out->n++;
    if (!slash) return true;
    p = slash + 1;
  }
}

static bool is_capture(const char *at, size_t len) {
  return len >= 2 && at[0] == '{' && at[len - 1] == '}';
}

static bool is_star(const char *at, size_t len) {
  return is_capture(at, len) && at[len - 2] == '*';
}

/* One pattern segment against one path segment (a capture takes any non-empty one). */
static bool seg_match(const char *pat, size_t plen, const char *seg, size_t slen,
                      nb_route_params *params) {
  if (!is_capture(pat, plen)) return plen == slen && memcmp(pat, seg, slen) == 0;
  if (slen == 0 || params->n == NB_ROUTE_PARAMS_MAX) return false;
  params->v[params->n].at = seg;
  params->v[params->n].len = slen;
  params->n++;
  return true;
}

static bool pattern_match(const char *pattern, const segments *path, nb_route_params *params) {
  segments pat;
  if (!split(pattern, &pat)) return false;
  size_t star = pat.n;
  for (size_t i = 0; i < pat.n; i++)
    if (is_star(pat.s[i].at, pat.s[i].len)) star = i;
  params->n = 0;
  if (star == pat.n && path->n != pat.n) return false;
  if (star < pat.n && path->n + 1 < pat.n) return false;
  size_t after = star < pat.n ? pat.n - star - 1 : 0; /* literal segments after the star */
  for (size_t i = 0; i < star && i < pat.n; i++)
    if (!seg_match(pat.s[i].at, pat.s[i].len, path->s[i].at, path->s[i].len, params)) return false;
  if (star == pat.n) return true;
  size_t first = star, last = path->n - after; /* captured: segments [first, last) */
  if (params->n == NB_ROUTE_PARAMS_MAX) return false;
  if (last > first) {
    params->v[params->n].at = path->s[first].at;
    params->v[params->n].len =
        (size_t)(path->s[last - 1].at + path->s[last - 1].len - path->s[first].at);
  } else {
    params->v[params->n].at = "";
    params->v[params->n].len = 0;
  }
  params->n++;
  for (size_t i = 0; i < after; i++)
    if (!seg_match(pat.s[star + 1 + i].at, pat.s[star + 1 + i].len, path->s[last + i].at,
                   path->s[last + i].len, params))
      return false;
  return true;
}

/* "GET, PUT": the methods of every row with this pattern, each once. */
static void list_methods(const nb_route *table, size_t n, const char *pattern, char *out,
                         size_t cap) {
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    if (strcmp(table[i].pattern, pattern) != 0) continue;
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++)
      seen =
          strcmp(table[j].pattern, pattern) == 0 && strcmp(table[j].method, table[i].method) == 0;
    if (seen) continue;
    int k = snprintf(out + used, cap - used, "%s%s", used ? ", " : "", table[i].method);
    if (k < 0 || (size_t)k >= cap - used) return;
    used += (size_t)k;
  }
}

nb_err nb_route_match(const nb_route *table, size_t n, const char *method, const char *path,
                      const nb_route **out, nb_route_params *params, char *allowed,
                      size_t allowed_cap) {
  segments segs;
  *out = NULL;
  params->n = 0;
  if (allowed && allowed_cap) allowed[0] = '\0';
  if (!split(path, &segs)) return NB_ERR_NOT_FOUND;
  const nb_route *resource = NULL;
  nb_route_params p;
  for (size_t i = 0; i < n && !resource; i++)
    if (pattern_match(table[i].pattern, &segs, &p)) resource = &table[i];
  if (!resource) return NB_ERR_NOT_FOUND;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(table[i].pattern, resource->pattern) == 0 && strcmp(table[i].method, method) == 0) {
      *out = &table[i];
      *params = p;
      return NB_OK;
    }
  }
  *out = resource;
  *params = p;
  if (allowed && allowed_cap) list_methods(table, n, resource->pattern, allowed, allowed_cap);
  return NB_ERR_UNSUPPORTED;
}

bool nb_route_param(const nb_route_params *p, size_t i, char *out, size_t cap) {
  if (i >= p->n || p->v[i].len >= cap) return false;
  memcpy(out, p->v[i].at, p->v[i].len);
  out[p->v[i].len] = '\0';
  return true;
}
