/* Alert delivery to the management server: see alertpost.h. The queue is a ring of JSON
 * strings; the first `inflight` entries are the batch being posted, removed only once the
 * server answered. */
#include "monitor/alertpost.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "io/http_client.h"

#define NB_POST_BACKOFF_MIN_MS 500u
#define NB_POST_BACKOFF_MAX_MS 30000u
#define NB_POST_BATCH_LIMIT 100u /* the server's limit per array */

struct nb_mon_poster {
  nb_http_client *http;
  char *url, *token, *ca_file;
  unsigned timeout_ms;
  char **q; /* ring of queue_max alerts */
  size_t cap, head, len, inflight, batch_max;
  bool busy; /* a request is out */
  uint64_t retry_at_ms;
  unsigned backoff_ms;
  nb_mon_poster_stats st;
  char last_error[200];
};

static uint64_t nb_post_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static char *nb_post_url(const char *base) {
  static const char suffix[] = "/api/alerts";
  size_t n = strlen(base);
  while (n && base[n - 1] == '/') n--;
  bool full =
      n >= sizeof suffix - 1 && !memcmp(base + n - (sizeof suffix - 1), suffix, sizeof suffix - 1);
  char *u = malloc(n + sizeof suffix);
  if (!u) return NULL;
  memcpy(u, base, n);
  if (full)
    u[n] = 0;
  else
    memcpy(u + n, suffix, sizeof suffix);
  return u;
}

nb_err nb_mon_poster_new(const nb_mon_poster_config *cfg, nb_mon_poster **out, char *why,
                         size_t why_cap) {
  if (strncmp(cfg->url, "http://", 7) != 0 && strncmp(cfg->url, "https://", 8) != 0) {
    snprintf(why, why_cap, "--server-api takes an http:// or https:// URL, not '%s'", cfg->url);
    return NB_ERR_INVAL;
  }
  nb_mon_poster *p = calloc(1, sizeof *p);
  if (!p) return NB_ERR_NOMEM;
  p->cap = cfg->queue_max ? cfg->queue_max : 10000;
  p->batch_max = cfg->batch_max ? cfg->batch_max : 50;
  if (p->batch_max > NB_POST_BATCH_LIMIT) p->batch_max = NB_POST_BATCH_LIMIT;
  p->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 5000;
  p->backoff_ms = NB_POST_BACKOFF_MIN_MS;
  p->q = calloc(p->cap, sizeof *p->q);
  p->url = nb_post_url(cfg->url);
  if (cfg->token) p->token = strdup(cfg->token);
  if (cfg->ca_file) p->ca_file = strdup(cfg->ca_file);
  if (!p->q || !p->url || (cfg->token && !p->token) || (cfg->ca_file && !p->ca_file) ||
      nb_http_client_new(NULL, 4, &p->http) != NB_OK) {
    snprintf(why, why_cap, "out of memory (or libcurl could not start)");
    nb_mon_poster_free(p);
    return NB_ERR_NOMEM;
  }
  *out = p;
  return NB_OK;
}

static char **nb_post_slot(nb_mon_poster *p, size_t i) { return &p->q[(p->head + i) % p->cap]; }

/* Removes the first n alerts of the queue. */
static void nb_post_pop(nb_mon_poster *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(*nb_post_slot(p, 0));
    *nb_post_slot(p, 0) = NULL;
    p->head = (p->head + 1) % p->cap;
    p->len--;
  }
}

void nb_mon_poster_free(nb_mon_poster *p) {
  if (!p) return;
  nb_http_client_free(p->http); /* runs the callback of a request in flight (cancelled) */
  if (p->q) nb_post_pop(p, p->len);
  free(p->q);
  free(p->url);
  free(p->ca_file);
  if (p->token) memset(p->token, 0, strlen(p->token));
  free(p->token);
  free(p);
}

void nb_mon_poster_add(nb_mon_poster *p, const char *json, size_t len) {
  p->st.alerts++;
  if (p->len == p->cap) {
    if (p->inflight == p->len) { /* everything is in the request: the new one goes */
      p->st.dropped++;
      return;
    }
    /* The oldest alert not in flight makes room. */
    char **victim = nb_post_slot(p, p->inflight);
    free(*victim);
    for (size_t i = p->inflight; i + 1 < p->len; i++) *nb_post_slot(p, i) = *nb_post_slot(p, i + 1);
    *nb_post_slot(p, p->len - 1) = NULL;
    p->len--;
    p->st.dropped++;
  }
  char *copy = malloc(len + 1);
  if (!copy) {
    p->st.dropped++;
    return;
  }
  memcpy(copy, json, len);
  copy[len] = 0;
  *nb_post_slot(p, p->len++) = copy;
}

static void nb_post_failed(nb_mon_poster *p, const char *why) {
  p->st.errors++;
  snprintf(p->last_error, sizeof p->last_error, "%s", why);
  p->retry_at_ms = nb_post_now_ms() + p->backoff_ms;
  p->backoff_ms =
      p->backoff_ms * 2 > NB_POST_BACKOFF_MAX_MS ? NB_POST_BACKOFF_MAX_MS : p->backoff_ms * 2;
}

static void nb_post_done(void *user, const nb_http_response *res) {
  nb_mon_poster *p = user;
  p->busy = false;
  size_t n = p->inflight;
  p->inflight = 0;
  if (res->err == NB_ERR_CANCELLED) return; /* freeing: the alerts stay counted as pending */
  if (res->err != NB_OK) {
    nb_post_failed(p, res->error ? res->error : nb_strerror(res->err));
  } else if (res->status == 201 || res->status == 200) {
    p->st.delivered += n;
    nb_post_pop(p, n);
    p->backoff_ms = NB_POST_BACKOFF_MIN_MS;
  } else if (res->status >= 400 && res->status < 500 && res->status != 408 && res->status != 429) {
    /* Refused as it is (bad token, invalid alert): sending it again would not help. */
    p->st.rejected += n;
    nb_post_pop(p, n);
    snprintf(p->last_error, sizeof p->last_error, "HTTP %ld: %.160s", res->status,
             res->body ? res->body : "");
  } else {
    char why[200];
    snprintf(why, sizeof why, "HTTP %ld: %.160s", res->status, res->body ? res->body : "");
    nb_post_failed(p, why);
  }
}

/* POSTs the first batch of the queue as a JSON array. */
static void nb_post_send(nb_mon_poster *p) {
  size_t n = p->len < p->batch_max ? p->len : p->batch_max;
  nb_bytes body;
  nb_bytes_init(&body);
  nb_err e = nb_bytes_append(&body, "[", 1);
  for (size_t i = 0; !e && i < n; i++) {
    const char *a = *nb_post_slot(p, i);
    if (i) e = nb_bytes_append(&body, ",", 1);
    if (!e) e = nb_bytes_append(&body, a, strlen(a));
  }
  if (!e) e = nb_bytes_append(&body, "]", 1);
  nb_http_request rq = {.method = "POST",
                        .url = p->url,
                        .bearer_token = p->token,
                        .body = (const char *)body.data,
                        .body_len = body.len,
                        .timeout_ms = p->timeout_ms,
                        .ca_file = p->ca_file};
  if (!e) e = nb_http_client_request(p->http, &rq, nb_post_done, p);
  nb_bytes_free(&body);
  if (e) {
    nb_post_failed(p, nb_strerror(e));
    return;
  }
  p->busy = true;
  p->inflight = n;
}

void nb_mon_poster_pump(nb_mon_poster *p) {
  nb_http_client_run(p->http, 0);
  if (!p->busy && p->len && nb_post_now_ms() >= p->retry_at_ms) {
    nb_post_send(p);
    nb_http_client_run(p->http, 0);
  }
}

nb_err nb_mon_poster_flush(nb_mon_poster *p, unsigned wait_ms) {
  uint64_t end = nb_post_now_ms() + wait_ms;
  for (;;) {
    nb_mon_poster_pump(p);
    if (!p->len && !p->busy) return NB_OK;
    uint64_t now = nb_post_now_ms();
    if (now >= end) return NB_ERR_TIMEOUT;
    uint64_t left = end - now;
    if (p->busy) {
      nb_http_client_run(p->http, (unsigned)(left < 50 ? left : 50));
    } else { /* waiting out the backoff */
      uint64_t nap = p->retry_at_ms > now ? p->retry_at_ms - now : 0;
      if (nap > left) nap = left;
      if (nap > 50) nap = 50;
      struct timespec ts = {0, (long)nap * 1000000L};
      nanosleep(&ts, NULL);
    }
  }
}

void nb_mon_poster_stats_get(const nb_mon_poster *p, nb_mon_poster_stats *out) {
  *out = p->st;
  out->pending = p->len;
}

const char *nb_mon_poster_last_error(const nb_mon_poster *p) { return p->last_error; }
