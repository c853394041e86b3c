/* Paging of the REST API's lists: ?limit= (a default page size and a maximum) and ?cursor=
 * (opaque to clients: where the previous page ended), the next page given in a
 * `Link: <...>; rel="next"` header (RFC 8288) while the body stays a JSON array. Lists ordered
 * by a name whose source hands items out in any order (the registrations' hash table, the
 * store's rows) are paged with nb_page_keys, which keeps only the names of one page (the
 * `limit` smallest after the cursor, in a bounded heap), so a list never builds more than one
 * page whatever its size. Pure. Owns the names of the page. */
#ifndef NB_HTTP_PAGE_H
#define NB_HTTP_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define NB_PAGE_DEFAULT 100 /* items in a page without ?limit= */
#define NB_PAGE_MAX 1000    /* ?limit= at most */
#define NB_PAGE_KEY_MAX 128 /* a name (endpoint names are shorter) plus NUL */
#define NB_PAGE_LINK_MAX 512

typedef struct {
  size_t limit;
  bool has_cursor;
  char cursor[NB_PAGE_KEY_MAX];
} nb_page_query;

/* ?limit= (1..max, dflt when absent) and ?cursor= (NULL: the first page). NB_ERR_INVAL with a
 * sentence in why when either is malformed. */
nb_err nb_page_query_parse(const char *limit, const char *cursor, size_t dflt, size_t max,
                           nb_page_query *out, char *why, size_t cap);
/* A page of a list newest first by sequence number (the audit log, evidence, alerts): the
 * source hands out items with seq below `before` (0: from the newest), newest first, at most
 * limit + 1; the one beyond the page only says that there is a next page, whose cursor is the
 * seq of the page's last item. */
typedef struct {
  size_t limit, n;
  int64_t before, last;
  bool more;
} nb_page_seq;

/* From q: NB_ERR_INVAL when its cursor is not a positive decimal. */
nb_err nb_page_seq_init(nb_page_seq *p, const nb_page_query *q);
/* Whether the item of this seq goes in the page (false: it is beyond, more is set). */
bool nb_page_seq_take(nb_page_seq *p, int64_t seq);
/* The next page's cursor written into buf, or NULL when this page is the last. */
const char *nb_page_seq_next(const nb_page_seq *p, char *buf, size_t cap);

/* One page of names in ascending byte order. */
typedef struct {
  char (*keys)[NB_PAGE_KEY_MAX];
  size_t n, limit;
  bool has_after;
  char after[NB_PAGE_KEY_MAX];
  bool more; /* a name beyond the page was seen: there is a next page */
} nb_page_keys;

/* The page of `limit` names after q's cursor (all names when it has none). */
nb_err nb_page_keys_init(nb_page_keys *p, const nb_page_query *q);
void nb_page_keys_deinit(nb_page_keys *p);
/* Offers one name (each name once); a name too long for a key is ignored. */
void nb_page_keys_offer(nb_page_keys *p, const char *key);
/* Sorts the page; then keys[0..n) are its names in order. */
void nb_page_keys_finish(nb_page_keys *p);
/* After finish: the index of key in the page, or -1. */
long nb_page_keys_find(const nb_page_keys *p, const char *key);

/* `<path?limit=N&cursor=C>; rel="next"` with the cursor percent-encoded (path is the request's
 * path, already safe in a URL). NB_ERR_OVERFLOW when it does not fit in cap. */
nb_err nb_page_next_link(const char *path, size_t limit, const char *cursor, char *out, size_t cap);

#endif
