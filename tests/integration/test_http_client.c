/* nb_http_client against an in-process libmicrohttpd server on 127.0.0.1: blocking fetch,
 * the libuv-driven mode with several requests at once, the pumped mode, bounds, errors
 * (refused, timeout, oversized answer, bad URL) and cancellation when the client is freed. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/http_client.h"
#include "nb_test.h"

typedef struct {
  struct MHD_Daemon *daemon;
  uint16_t port;
  char base[64];
} test_server;

typedef struct {
  char body[4096];
  size_t len;
} upload;

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *text) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
  enum MHD_Result ret = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result reply_big(struct MHD_Connection *conn) {
  size_t n = 5u * 1024u * 1024u;
  char *big = malloc(n);
  if (!big) return MHD_NO;
  memset(big, 'x', n);
  struct MHD_Response *r = MHD_create_response_from_buffer(n, big, MHD_RESPMEM_MUST_FREE);
  enum MHD_Result ret = MHD_queue_response(conn, 200, r);
  MHD_destroy_response(r);
  return ret;
}

/* Byte i of /ranged. */
static uint8_t ranged_byte(size_t i) { return (uint8_t)((i * 2654435761u) >> 11); }
#define RANGED_LEN ((size_t)5 * 1024 * 1024)

/* /ranged: 5 MiB (more than a buffered answer may hold); "Range: bytes=N-" gets 206 from N. */
static enum MHD_Result reply_ranged(struct MHD_Connection *conn) {
  const char *range = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Range");
  size_t from = 0;
  if (range && sscanf(range, "bytes=%zu-", &from) != 1) from = 0;
  if (from > RANGED_LEN) from = RANGED_LEN;
  uint8_t *b = malloc(RANGED_LEN - from + 1);
  if (!b) return MHD_NO;
  for (size_t i = from; i < RANGED_LEN; i++) b[i - from] = ranged_byte(i);
  struct MHD_Response *r =
      MHD_create_response_from_buffer(RANGED_LEN - from, b, MHD_RESPMEM_MUST_FREE);
  char cr[64];
  snprintf(cr, sizeof cr, "bytes %zu-%zu/%zu", from, RANGED_LEN - 1, RANGED_LEN);
  if (from) MHD_add_response_header(r, "Content-Range", cr);
  enum MHD_Result ret = MHD_queue_response(conn, from ? 206 : 200, r);
  MHD_destroy_response(r);
  return ret;
}

/* /echo answers 201 "METHOD|Authorization|Content-Type|body"; /slow sleeps first; /big is 5 MiB;
 * /page answers a list page with a Link to the next one; anything else is 404. */
static enum MHD_Result reply_page(struct MHD_Connection *conn) {
  struct MHD_Response *r = MHD_create_response_from_buffer(2, (void *)"[]", MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header(r, "Link", "</api/clients?limit=2&cursor=dev-2>; rel=\"next\"");
  enum MHD_Result ret = MHD_queue_response(conn, 200, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *data_size, void **state) {
  (void)cls, (void)version;
  upload *u = *state;
  if (!u) {
    *state = calloc(1, sizeof *u);
    return *state ? MHD_YES : MHD_NO;
  }
  if (*data_size) {
    size_t n = *data_size < sizeof u->body - 1 - u->len ? *data_size : sizeof u->body - 1 - u->len;
    memcpy(u->body + u->len, data, n);
    u->len += n;
    *data_size = 0;
    return MHD_YES;
  }
  if (strcmp(url, "/slow") == 0) usleep(1500 * 1000);
  if (strcmp(url, "/big") == 0) return reply_big(conn);
  if (strcmp(url, "/page") == 0) return reply_page(conn);
  if (strcmp(url, "/ranged") == 0) return reply_ranged(conn);
  if (strcmp(url, "/echo") != 0 && strcmp(url, "/slow") != 0) return reply(conn, 404, "nope");
  const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
  const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
  char text[4400];
  snprintf(text, sizeof text, "%s|%s|%s|%s", method, auth ? auth : "-", ct ? ct : "-", u->body);
  return reply(conn, 201, text);
}

static void completed(void *cls, struct MHD_Connection *conn, void **state,
                      enum MHD_RequestTerminationCode toe) {
  (void)cls, (void)conn, (void)toe;
  free(*state);
  *state = NULL;
}

/* Port 0: the kernel picks a free port as the daemon binds (a port picked first and bound later
 * could be taken meanwhile by another test running in parallel). */
static int server_up(void **state) {
  test_server *s = calloc(1, sizeof *s);
  if (!s) return -1;
  struct sockaddr_in loopback = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  s->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
                               NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &loopback,
                               MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
  const union MHD_DaemonInfo *info =
      s->daemon ? MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT) : NULL;
  if (!info || info->port == 0) {
    if (s->daemon) MHD_stop_daemon(s->daemon);
    free(s);
    return -1;
  }
  s->port = info->port;
  snprintf(s->base, sizeof s->base, "http://127.0.0.1:%u", s->port);
  *state = s;
  return 0;
}

static int server_down(void **state) {
  test_server *s = *state;
  if (!s) return 0;
  MHD_stop_daemon(s->daemon);
  free(s);
  return 0;
}

static void url_of(const test_server *s, const char *path, char *out, size_t cap) {
  snprintf(out, cap, "%s%s", s->base, path);
}

static void fetch_posts_body_and_token(void **state) {
  test_server *s = *state;
  char url[128], why[128] = "";
  url_of(s, "/echo", url, sizeof url);
  const char *json = "{\"a\":1}";
  nb_http_request req = {.method = "POST",
                         .url = url,
                         .bearer_token = "s3cret",
                         .body = json,
                         .body_len = strlen(json),
                         .timeout_ms = 2000};
  long status;
  char *body;
  assert_int_equal(nb_http_fetch(&req, &status, &body, why, sizeof why), NB_OK);
  assert_int_equal(status, 201);
  assert_string_equal(body, "POST|Bearer s3cret|application/json|{\"a\":1}");
  free(body);
}

/* A list page's Link rel="next", made absolute against the request's URL. */
static void fetch_page_gives_the_next_link(void **state) {
  test_server *s = *state;
  char url[128], why[128] = "", want[160];
  url_of(s, "/page", url, sizeof url);
  nb_http_request req = {.method = "GET", .url = url, .timeout_ms = 2000};
  long status;
  char *body, *next;
  assert_int_equal(nb_http_fetch_page(&req, &status, &body, &next, why, sizeof why), NB_OK);
  assert_int_equal(status, 200);
  assert_string_equal(body, "[]");
  snprintf(want, sizeof want, "%s/api/clients?limit=2&cursor=dev-2", s->base);
  assert_non_null(next);
  assert_string_equal(next, want);
  free(body);
  free(next);
  url_of(s, "/echo", url, sizeof url);
  assert_int_equal(nb_http_fetch_page(&req, &status, &body, &next, why, sizeof why), NB_OK);
  assert_null(next); /* no Link */
  free(body);
}

static void fetch_passes_http_errors_through(void **state) {
  test_server *s = *state;
  char url[128], why[128] = "";
  url_of(s, "/missing", url, sizeof url);
  nb_http_request req = {.method = "GET", .url = url, .timeout_ms = 2000};
  long status;
  char *body;
  assert_int_equal(nb_http_fetch(&req, &status, &body, why, sizeof why), NB_OK);
  assert_int_equal(status, 404);
  assert_string_equal(body, "nope");
  free(body);
}

static void fetch_reports_refused_timeout_and_bad_url(void **state) {
  test_server *s = *state;
  char url[128], why[128] = "";
  long status = -1;
  snprintf(url, sizeof url, "http://127.0.0.1:%u/x", nb_test_free_port(SOCK_STREAM));
  nb_http_request req = {.method = "GET", .url = url, .timeout_ms = 2000};
  assert_int_equal(nb_http_fetch(&req, &status, NULL, why, sizeof why), NB_ERR_IO);
  assert_int_equal(status, 0);
  assert_true(why[0] != '\0');

  url_of(s, "/slow", url, sizeof url);
  req.timeout_ms = 300;
  assert_int_equal(nb_http_fetch(&req, &status, NULL, why, sizeof why), NB_ERR_TIMEOUT);

  req.url = "ftp://127.0.0.1/x";
  assert_int_equal(nb_http_fetch(&req, &status, NULL, why, sizeof why), NB_ERR_INVAL);
  req.url = "file:///etc/passwd";
  assert_int_equal(nb_http_fetch(&req, &status, NULL, why, sizeof why), NB_ERR_INVAL);
}

static void fetch_refuses_oversized_answer(void **state) {
  test_server *s = *state;
  char url[128], why[128] = "";
  url_of(s, "/big", url, sizeof url);
  nb_http_request req = {.method = "GET", .url = url, .timeout_ms = 5000};
  char *body = (char *)1;
  assert_int_equal(nb_http_fetch(&req, NULL, &body, why, sizeof why), NB_ERR_IO);
  assert_null(body);
  assert_non_null(strstr(why, "4 MiB"));
}

typedef struct {
  int calls;
  int ok_201;
  int cancelled;
} tally;

static void count(void *user, const nb_http_response *res) {
  tally *t = user;
  t->calls++;
  if (res->err == NB_OK && res->status == 201 && strstr(res->body, "POST|-|application/json|[")) {
    t->ok_201++;
  }
  if (res->err == NB_ERR_CANCELLED) t->cancelled++;
}

static void loop_runs_requests_concurrently_within_bound(void **state) {
  test_server *s = *state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  nb_http_client *c;
  assert_int_equal(nb_http_client_new(&loop, 5, &c), NB_OK);
  char url[128];
  url_of(s, "/echo", url, sizeof url);
  tally t = {0};
  nb_http_request req = {
      .method = "POST", .url = url, .body = "[1]", .body_len = 3, .timeout_ms = 3000};
  for (int i = 0; i < 5; i++) assert_int_equal(nb_http_client_request(c, &req, count, &t), NB_OK);
  assert_int_equal(nb_http_client_request(c, &req, count, &t), NB_ERR_BUSY);
  assert_int_equal(nb_http_client_pending(c), 5);
  while (t.calls < 5) uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(t.ok_201, 5);
  assert_int_equal(nb_http_client_pending(c), 0);
  nb_http_client_free(c);
  uv_run(&loop, UV_RUN_DEFAULT); /* close callbacks release the handles */
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void free_cancels_pending_requests(void **state) {
  test_server *s = *state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  nb_http_client *c;
  assert_int_equal(nb_http_client_new(&loop, 0, &c), NB_OK);
  char url[128];
  url_of(s, "/slow", url, sizeof url);
  tally t = {0};
  nb_http_request req = {.method = "GET", .url = url, .timeout_ms = 5000};
  assert_int_equal(nb_http_client_request(c, &req, count, &t), NB_OK);
  assert_int_equal(nb_http_client_request(c, &req, NULL, NULL), NB_OK);
  uv_run(&loop, UV_RUN_NOWAIT);
  nb_http_client_free(c);
  assert_int_equal(t.calls, 1);
  assert_int_equal(t.cancelled, 1);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void pumped_mode_without_loop(void **state) {
  test_server *s = *state;
  nb_http_client *c;
  assert_int_equal(nb_http_client_new(NULL, 0, &c), NB_OK);
  char url[128];
  url_of(s, "/echo", url, sizeof url);
  tally t = {0};
  nb_http_request req = {
      .method = "POST", .url = url, .body = "[2]", .body_len = 3, .timeout_ms = 3000};
  assert_int_equal(nb_http_client_request(c, &req, count, &t), NB_OK);
  assert_int_equal(nb_http_client_request(c, &req, count, &t), NB_OK);
  assert_int_equal(nb_http_client_run(c, 5000), NB_OK);
  assert_int_equal(t.ok_201, 2);
  nb_http_client_free(c);
}

/* What a streamed download saw. */
typedef struct {
  size_t offset, got; /* where it started, bytes received */
  size_t stop_after;  /* the sink refuses once this many came (0 = never) */
  long status;        /* the status the sink saw */
  bool mismatch;      /* a byte other than /ranged's */
  int done_calls;
  nb_err done_err;
  long done_status;
  size_t body_len;
} stream;

static bool sink(void *user, long status, const uint8_t *data, size_t len) {
  stream *st = user;
  st->status = status;
  for (size_t i = 0; i < len; i++)
    if (data[i] != ranged_byte(st->offset + st->got + i)) st->mismatch = true;
  st->got += len;
  return !st->stop_after || st->got < st->stop_after;
}

static void stream_done(void *user, const nb_http_response *res) {
  stream *st = user;
  st->done_calls++;
  st->done_err = res->err;
  st->done_status = res->status;
  st->body_len = res->body_len;
}

static void run_stream(const test_server *s, stream *st, nb_http_client *c, nb_http_req **h) {
  char url[128];
  url_of(s, "/ranged", url, sizeof url);
  nb_http_request req = {.method = "GET",
                         .url = url,
                         .timeout_ms = 20000,
                         .sink = sink,
                         .sink_user = st,
                         .range_from = st->offset,
                         .stall_ms = 5000};
  assert_int_equal(nb_http_client_start(c, &req, stream_done, st, h), NB_OK);
}

/* A body larger than a buffered answer may be (4 MiB) streams through the sink, in order; a
 * Range request resumes at an offset; a sink that refuses ends the request as cancelled, and
 * so does nb_http_client_cancel. */
static void streamed_download_range_and_cancel(void **state) {
  test_server *s = *state;
  nb_http_client *c;
  assert_int_equal(nb_http_client_new(NULL, 0, &c), NB_OK);
  stream whole = {0}, tail = {.offset = 3000001}, refused = {.stop_after = 100000}, gone = {0};
  run_stream(s, &whole, c, NULL);
  run_stream(s, &tail, c, NULL);
  run_stream(s, &refused, c, NULL);
  assert_int_equal(nb_http_client_run(c, 20000), NB_OK);
  assert_int_equal(whole.done_err, NB_OK);
  assert_int_equal(whole.done_status, 200);
  assert_int_equal(whole.got, RANGED_LEN);
  assert_int_equal(whole.body_len, 0);
  assert_false(whole.mismatch);
  assert_int_equal(tail.done_status, 206);
  assert_int_equal(tail.got, RANGED_LEN - tail.offset);
  assert_false(tail.mismatch);
  assert_int_equal(refused.done_err, NB_ERR_CANCELLED);
  assert_true(refused.got >= refused.stop_after && refused.got < RANGED_LEN);
  nb_http_req *h = NULL;
  run_stream(s, &gone, c, &h);
  assert_non_null(h);
  nb_http_client_cancel(h);
  assert_int_equal(gone.done_calls, 1);
  assert_int_equal(gone.done_err, NB_ERR_CANCELLED);
  assert_int_equal(nb_http_client_pending(c), 0);
  nb_http_client_free(c);
}

static void url_escape_keeps_unreserved_and_bounds(void **state) {
  (void)state;
  char out[16];
  assert_int_equal(nb_http_url_escape("dev-1_a.b~", out, sizeof out), NB_OK);
  assert_string_equal(out, "dev-1_a.b~");
  assert_int_equal(nb_http_url_escape("a b/\xc3\xa9", out, sizeof out), NB_OK);
  assert_string_equal(out, "a%20b%2F%C3%A9");
  assert_int_equal(nb_http_url_escape("0123456789abcdef", out, sizeof out), NB_ERR_OVERFLOW);
  assert_int_equal(strlen(out), 15);
  assert_int_equal(nb_http_url_escape("abcd/", out, 7), NB_ERR_OVERFLOW); /* "%2F" would not fit */
  assert_string_equal(out, "abcd");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fetch_posts_body_and_token),
      cmocka_unit_test(fetch_passes_http_errors_through),
      cmocka_unit_test(fetch_page_gives_the_next_link),
      cmocka_unit_test(fetch_reports_refused_timeout_and_bad_url),
      cmocka_unit_test(fetch_refuses_oversized_answer),
      cmocka_unit_test(loop_runs_requests_concurrently_within_bound),
      cmocka_unit_test(free_cancels_pending_requests),
      cmocka_unit_test(pumped_mode_without_loop),
      cmocka_unit_test(streamed_download_range_and_cancel),
      cmocka_unit_test(url_escape_keeps_unreserved_and_bounds),
  };
  return cmocka_run_group_tests(tests, server_up, server_down);
}
