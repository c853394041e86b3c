/* Min-heap keyed by due time; each timer remembers its slot so removal is O(log n). */
#include "coap/timerheap.h"

#include <stdlib.h>

void nb_coap_timerheap_init(nb_coap_timerheap *h) {
  h->items = NULL;
  h->len = h->cap = h->reserved = 0;
}

void nb_coap_timerheap_deinit(nb_coap_timerheap *h) {
  free(h->items);
  nb_coap_timerheap_init(h);
}

nb_err nb_coap_timerheap_reserve(nb_coap_timerheap *h) {
  if (h->reserved == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 4; /* a device arms a handful */
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    nb_coap_timer **items = realloc(h->items, cap * sizeof *items);
    if (!items) return NB_ERR_NOMEM;
    h->items = items;
    h->cap = cap;
  }
  h->reserved++;
  return NB_OK;
}

void nb_coap_timerheap_unreserve(nb_coap_timerheap *h) {
  if (h->reserved > 0) h->reserved--;
}

static void nb_coap_timerheap_place(nb_coap_timerheap *h, size_t i, nb_coap_timer *t) {
  h->items[i] = t;
  t->slot = i + 1;
}

static void nb_coap_timerheap_up(nb_coap_timerheap *h, size_t i) {
  nb_coap_timer *t = h->items[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (h->items[parent]->due <= t->due) break;
    nb_coap_timerheap_place(h, i, h->items[parent]);
    i = parent;
  }
  nb_coap_timerheap_place(h, i, t);
}

static void nb_coap_timerheap_down(nb_coap_timerheap *h, size_t i) {
  nb_coap_timer *t = h->items[i];
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= h->len) break;
    if (child + 1 < h->len && h->items[child + 1]->due < h->items[child]->due) child++;
    if (h->items[child]->due >= t->due) break;
    nb_coap_timerheap_place(h, i, h->items[child]);
    i = child;
  }
  nb_coap_timerheap_place(h, i, t);
}

void nb_coap_timerheap_arm(nb_coap_timerheap *h, nb_coap_timer *t, nb_time_ms due) {
  if (t->slot == 0) {
    /* The owner reserved a slot, so len < cap holds here. */
    if (h->len >= h->cap) return;
    t->due = due;
    nb_coap_timerheap_place(h, h->len++, t);
    nb_coap_timerheap_up(h, h->len - 1);
    return;
  }
  nb_time_ms old = t->due;
  t->due = due;
  if (due < old) {
    nb_coap_timerheap_up(h, t->slot - 1);
  } else {
    nb_coap_timerheap_down(h, t->slot - 1);
  }
}

void nb_coap_timerheap_disarm(nb_coap_timerheap *h, nb_coap_timer *t) {
  if (t->slot == 0) return;
  size_t i = t->slot - 1;
  t->slot = 0;
  h->len--;
  if (i == h->len) return;
  nb_coap_timer *last = h->items[h->len];
  nb_coap_timerheap_place(h, i, last);
  nb_coap_timerheap_up(h, i);
  nb_coap_timerheap_down(h, last->slot - 1);
}

nb_time_ms nb_coap_timerheap_next(const nb_coap_timerheap *h) {
  return h->len ? h->items[0]->due : NB_TIME_NEVER;
}

nb_coap_timer *nb_coap_timerheap_pop_due(nb_coap_timerheap *h, nb_time_ms now) {
  if (h->len == 0 || h->items[0]->due > now) return NULL;
  nb_coap_timer *t = h->items[0];
  nb_coap_timerheap_disarm(h, t);
  return t;
}
