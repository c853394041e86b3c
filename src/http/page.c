/* List paging: see page.h. The page is a max-heap of at most `limit` names while names are
 * offered (a name larger than the heap's largest, with the heap full, only marks that there is
 * more), sorted at the end: O(n log limit) for n names, `limit` names in memory. */
#include "http/page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

nb_err nb_page_query_parse(const char *limit, const char *cursor, size_t dflt, size_t max,
                           nb_page_query *out, char *why, size_t cap) {
  memset(out, 0, sizeof(*out));
  out->limit = dflt;
  if (limit) {
    char *end;
    unsigned long v = strtoul(limit, &end, 10);
    if (!*limit || *end || limit[0] == '-' || v < 1 || v > max) {
      snprintf(why, cap, "limit must be 1..%zu", max);
      return NB_ERR_INVAL;
    }
    out->limit = v;
  }
  if (cursor) {
    if (strlen(cursor) >= sizeof(out->cursor)) {
      snprintf(why, cap, "cursor too long (use the Link header of the previous page)");
      return NB_ERR_INVAL;
    }
    out->has_cursor = true;
    snprintf(out->cursor, sizeof(out->cursor), "%s", cursor);
  }
  return NB_OK;
}

nb_err nb_page_seq_init(nb_page_seq *p, const nb_page_query *q) {
  memset(p, 0, sizeof(*p));
  p->limit = q->limit ? q->limit : 1;
  if (!q->has_cursor) return NB_OK;
  char *end;
  long long v = strtoll(q->cursor, &end, 10);
  if (!q->cursor[0] || *end || q->cursor[0] == '-' || v < 1) return NB_ERR_INVAL;
  p->before = v;
  return NB_OK;
}

bool nb_page_seq_take(nb_page_seq *p, int64_t seq) {
  if (p->n == p->limit) {
    p->more = true;
    return false;
  }
  p->n++;
  p->last = seq;
  return true;
}

const char *nb_page_seq_next(const nb_page_seq *p, char *buf, size_t cap) {
  if (!p->more) return NULL;
  snprintf(buf, cap, "%lld", (long long)p->last);
  return buf;
}

/* ---- a page of names ---- */

nb_err nb_page_keys_init(nb_page_keys *p, const nb_page_query *q) {
  memset(p, 0, sizeof(*p));
  p->limit = q->limit ? q->limit : 1;
  p->keys = calloc(p->limit, sizeof(*p->keys));
  if (!p->keys) return NB_ERR_NOMEM;
  p->has_after = q->has_cursor;
  snprintf(p->after, sizeof(p->after), "%s", q->cursor);
  return NB_OK;
}

void nb_page_keys_deinit(nb_page_keys *p) {
  free(p->keys);
  p->keys = NULL;
  p->n = 0;
}

static void swap(nb_page_keys *p, size_t i, size_t j) {
  char t[NB_PAGE_KEY_MAX];
  memcpy(t, p->keys[i], sizeof(t));
  memcpy(p->keys[i], p->keys[j], sizeof(t));
  memcpy(p->keys[j], t, sizeof(t));
}

static void sift_up(nb_page_keys *p, size_t i) {
  while (i > 0 && strcmp(p->keys[(i - 1) / 2], p->keys[i]) < 0) {
    swap(p, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

static void sift_down(nb_page_keys *p, size_t i, size_t n) {
  for (;;) {
    size_t big = i, l = 2 * i + 1, r = l + 1;
    if (l < n && strcmp(p->keys[l], p->keys[big]) > 0) big = l;
    if (r < n && strcmp(p->keys[r], p->keys[big]) > 0) big = r;
    if (big == i) return;
    swap(p, i, big);
    i = big;
  }
}

void nb_page_keys_offer(nb_page_keys *p, const char *key) {
  if (strlen(key) >= NB_PAGE_KEY_MAX) return;
  if (p->has_after && strcmp(key, p->after) <= 0) return;
  if (p->n < p->limit) {
    snprintf(p->keys[p->n], NB_PAGE_KEY_MAX, "%s", key);
    sift_up(p, p->n++);
    return;
  }
  p->more = true;
  if (strcmp(key, p->keys[0]) >= 0) return; /* past the page */
  snprintf(p->keys[0], NB_PAGE_KEY_MAX, "%s", key);
  sift_down(p, 0, p->n);
}

void nb_page_keys_finish(nb_page_keys *p) {
  /* Heap sort in place: the largest goes to the end each round. */
  for (size_t n = p->n; n > 1; n--) {
    swap(p, 0, n - 1);
    sift_down(p, 0, n - 1);
  }
}

long nb_page_keys_find(const nb_page_keys *p, const char *key) {
  size_t lo = 0, hi = p->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(p->keys[mid], key);
    if (c == 0) return (long)mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

/* ---- the Link header ---- */

/* Appends text percent-encoded (RFC 3986 unreserved kept, and '/' when keep_slash). */
static bool append_encoded(char *out, size_t cap, size_t *k, const char *text, bool keep_slash) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
    bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                 strchr("-._~", *c) || (keep_slash && *c == '/');
    if (*k + (plain ? 1 : 3) >= cap) return false;
    if (plain) {
      out[(*k)++] = (char)*c;
    } else {
      out[(*k)++] = '%';
      out[(*k)++] = hex[*c >> 4];
      out[(*k)++] = hex[*c & 15];
    }
  }
  out[*k] = '\0';
  return true;
}

nb_err nb_page_next_link(const char *path, size_t limit, const char *cursor, char *out,
                         size_t cap) {
  size_t k = 0;
  char mid[40];
  snprintf(mid, sizeof(mid), "?limit=%zu&cursor=", limit);
  if (cap < 2) return NB_ERR_OVERFLOW;
  out[k++] = '<';
  out[k] = '\0';
  if (!append_encoded(out, cap, &k, path, true) || k + strlen(mid) >= cap) return NB_ERR_OVERFLOW;
  memcpy(out + k, mid, strlen(mid) + 1);
  k += strlen(mid);
  if (!append_encoded(out, cap, &k, cursor, false)) return NB_ERR_OVERFLOW;
  int n = snprintf(out + k, cap - k, ">; rel=\"next\"");
  return n > 0 && (size_t)n < cap - k ? NB_OK : NB_ERR_OVERFLOW;
}
