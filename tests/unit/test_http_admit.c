/* Admission control of the REST API (src/http/admit.c) in virtual time: bounds in all and per
 * address with eviction of the oldest connection without a complete header (or idle), refusal
 * when every connection is busy, header/body/idle deadlines, event-stream bounds, IPv6 /64
 * grouping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "http/admit.h"

static nb_addr addr(const char *text) {
  nb_addr a;
  assert_int_equal(nb_addr_parse(text, 1, &a), NB_OK);
  return a;
}

static nb_http_admit *make(size_t conns, size_t per_addr, size_t streams, size_t streams_addr) {
  nb_http_admit_config cfg = {.max_conns = conns,
                              .max_conns_per_addr = per_addr,
                              .max_streams = streams,
                              .max_streams_per_addr = streams_addr,
                              .header_timeout = 100,
                              .body_timeout = 300,
                              .idle_timeout = 200};
  nb_http_admit *a;
  assert_int_equal(nb_http_admit_new(&cfg, 42, &a), NB_OK);
  return a;
}

/* Opens a connection; returns the fd it evicted (-1 none); *c NULL when refused. */
static int open_at(nb_http_admit *a, const char *from, int fd, nb_time_ms now, nb_http_conn **c) {
  int evicted;
  nb_addr p = addr(from);
  assert_int_equal(nb_http_admit_open(a, &p, fd, now, c, &evicted), NB_OK);
  return evicted;
}

static void test_evicts_the_oldest_incomplete(void **state) {
  (void)state;
  nb_http_admit *a = make(4, 3, 8, 8);
  nb_http_conn *c[8];
  assert_int_equal(open_at(a, "10.0.0.1", 1, 0, &c[1]), -1);
  assert_int_equal(open_at(a, "10.0.0.1", 2, 1, &c[2]), -1);
  assert_int_equal(open_at(a, "10.0.0.1", 3, 2, &c[3]), -1);
  /* the address is at its bound: its oldest connection without a header goes */
  assert_int_equal(open_at(a, "10.0.0.1", 4, 3, &c[4]), 1);
  assert_true(nb_http_admit_is_dead(c[1]));
  assert_non_null(c[4]);
  /* another address still fits */
  assert_int_equal(open_at(a, "10.0.0.2", 5, 4, &c[5]), -1);
  /* now full: a newcomer from anywhere evicts the oldest in all, here fd 2 */
  assert_int_equal(open_at(a, "10.0.0.3", 6, 5, &c[6]), 2);
  /* an idle connection older than every header-less one goes first */
  nb_http_admit_header(a, c[3], false, 6);
  nb_http_admit_done(a, c[3], 7);
  nb_http_admit_header(a, c[4], false, 8);
  nb_http_admit_header(a, c[5], false, 8);
  nb_http_admit_header(a, c[6], false, 8); /* all busy but c[3] (idle since 7) */
  assert_int_equal(open_at(a, "10.0.0.4", 7, 9, &c[7]), 3);
  nb_http_admit_stats st;
  nb_http_admit_get_stats(a, &st);
  assert_int_equal(st.evicted, 3);
  assert_int_equal(st.conns, 4);
  for (int i = 1; i <= 7; i++) nb_http_admit_close(a, c[i]);
  nb_http_admit_get_stats(a, &st);
  assert_int_equal(st.conns, 0);
  nb_http_admit_free(a);
}

static void test_refuses_when_all_busy(void **state) {
  (void)state;
  nb_http_admit *a = make(2, 2, 8, 8);
  nb_http_conn *c1, *c2, *c3;
  open_at(a, "10.0.0.1", 1, 0, &c1);
  open_at(a, "10.0.0.2", 2, 0, &c2);
  nb_http_admit_header(a, c1, true, 1); /* receiving a body: not evictable */
  nb_http_admit_header(a, c2, false, 1);
  assert_int_equal(open_at(a, "10.0.0.3", 3, 2, &c3), -1);
  assert_null(c3);
  nb_http_admit_stats st;
  nb_http_admit_get_stats(a, &st);
  assert_int_equal(st.refused, 1);
  assert_int_equal(st.conns, 2);
  nb_http_admit_close(a, c1);
  assert_int_equal(open_at(a, "10.0.0.3", 3, 3, &c3), -1);
  assert_non_null(c3);
  nb_http_admit_close(a, c2);
  nb_http_admit_close(a, c3);
  nb_http_admit_free(a);
}

typedef struct {
  int fds[8];
  int n;
} closed;

static void on_close(void *user, int fd) {
  closed *cl = user;
  cl->fds[cl->n++] = fd;
}

static void test_deadlines(void **state) {
  (void)state;
  nb_http_admit *a = make(10, 10, 8, 8);
  nb_http_conn *hdr, *body, *idle, *active;
  open_at(a, "10.0.0.1", 1, 0, &hdr);    /* header by 100 */
  open_at(a, "10.0.0.1", 2, 0, &body);   /* body by 50 + 300 */
  open_at(a, "10.0.0.1", 3, 0, &idle);   /* idle by 60 + 200 */
  open_at(a, "10.0.0.1", 4, 0, &active); /* never */
  nb_http_admit_header(a, body, true, 50);
  nb_http_admit_header(a, idle, false, 50);
  nb_http_admit_done(a, idle, 60);
  nb_http_admit_header(a, active, false, 50);
  assert_int_equal(nb_http_admit_next_deadline(a), 100);
  closed cl = {0};
  assert_int_equal(nb_http_admit_expire(a, 99, on_close, &cl), 0);
  assert_int_equal(nb_http_admit_expire(a, 100, on_close, &cl), 1);
  assert_int_equal(cl.fds[0], 1);
  assert_int_equal(nb_http_admit_next_deadline(a), 260);
  assert_int_equal(nb_http_admit_expire(a, 1000, on_close, &cl), 2);
  assert_int_equal(cl.fds[1], 2); /* lists are visited header, body, idle */
  assert_int_equal(cl.fds[2], 3);
  assert_int_equal(nb_http_admit_next_deadline(a), NB_TIME_NEVER);
  /* a body that completes in time is safe from its deadline */
  nb_http_conn *late;
  open_at(a, "10.0.0.1", 5, 1000, &late);
  nb_http_admit_header(a, late, true, 1000);
  nb_http_admit_body(a, late);
  assert_int_equal(nb_http_admit_expire(a, 5000, on_close, &cl), 0);
  nb_http_admit_stats st;
  nb_http_admit_get_stats(a, &st);
  assert_int_equal(st.header_timeouts, 1);
  assert_int_equal(st.body_timeouts, 1);
  assert_int_equal(st.idle_timeouts, 1);
  assert_int_equal(st.conns, 2);
  nb_http_admit_close(a, hdr);
  nb_http_admit_close(a, body);
  nb_http_admit_close(a, idle);
  nb_http_admit_close(a, active);
  nb_http_admit_close(a, late);
  nb_http_admit_free(a);
}

static void test_streams(void **state) {
  (void)state;
  nb_http_admit *a = make(20, 20, 3, 2);
  nb_http_conn *c[6];
  for (int i = 0; i < 5; i++) {
    open_at(a, i < 3 ? "10.0.0.1" : "10.0.0.2", i, 0, &c[i]);
    nb_http_admit_header(a, c[i], false, 0);
  }
  assert_int_equal(nb_http_admit_stream(a, c[0]), NB_OK);
  assert_int_equal(nb_http_admit_stream(a, c[1]), NB_OK);
  assert_int_equal(nb_http_admit_stream(a, c[2]), NB_ERR_BUSY); /* its address's share */
  assert_int_equal(nb_http_admit_stream(a, c[3]), NB_OK);
  assert_int_equal(nb_http_admit_stream(a, c[4]), NB_ERR_RANGE); /* all slots */
  /* a stream is never evicted: the table holds them apart */
  nb_http_admit_done(a, c[0], 10); /* the stream ended */
  assert_int_equal(nb_http_admit_stream(a, c[4]), NB_OK);
  nb_http_admit_stats st;
  nb_http_admit_get_stats(a, &st);
  assert_int_equal(st.streams, 3);
  assert_int_equal(st.streams_refused, 2);
  for (int i = 0; i < 5; i++) nb_http_admit_close(a, c[i]);
  nb_http_admit_get_stats(a, &st);
  assert_int_equal(st.streams, 0);
  nb_http_admit_free(a);
}

static void test_addresses(void **state) {
  (void)state;
  nb_http_admit *a = make(10, 1, 8, 8);
  nb_http_conn *c1, *c2, *c3, *c4;
  /* one /64 is one client */
  open_at(a, "[2001:db8::1]", 1, 0, &c1);
  assert_int_equal(open_at(a, "[2001:db8::2]", 2, 1, &c2), 1);
  assert_int_equal(open_at(a, "[2001:db8:0:1::2]", 3, 2, &c3), -1);
  /* an IPv4-mapped address is its IPv4 client */
  open_at(a, "127.0.0.1", 4, 3, &c4);
  nb_http_conn *c5;
  assert_int_equal(open_at(a, "[::ffff:127.0.0.1]", 5, 4, &c5), 4);
  nb_http_admit_close(a, c1);
  nb_http_admit_close(a, c2);
  nb_http_admit_close(a, c3);
  nb_http_admit_close(a, c4);
  nb_http_admit_close(a, c5);
  nb_http_admit_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_evicts_the_oldest_incomplete),
      cmocka_unit_test(test_refuses_when_all_busy),
      cmocka_unit_test(test_deadlines),
      cmocka_unit_test(test_streams),
      cmocka_unit_test(test_addresses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
