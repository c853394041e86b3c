/* Application records of established DTLS sessions, client and server in one process over
 * memory: with AES-128-CCM-8 they are opened outside GnuTLS (dtls/rx.h), with the CBC suite by
 * GnuTLS; either way every record is delivered once (out of order too, with rx.h), a replayed one
 * (alone, or beside an alert) or one that fails authentication is dropped and the session goes
 * on, a record too old for the window is dropped, and a close_notify after data in one datagram
 * closes the session after the data. The replay window itself is checked apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dtls/rx.h"
#include "dtls/session.h"

/* ---- the replay window ---- */

static void test_window(void **state) {
  (void)state;
  nb_dtls_window w = {0};
  assert_true(nb_dtls_window_fresh(&w, 5));
  nb_dtls_window_mark(&w, 5);
  assert_false(nb_dtls_window_fresh(&w, 5));
  assert_true(nb_dtls_window_fresh(&w, 4)); /* reordered: still welcome once */
  nb_dtls_window_mark(&w, 4);
  assert_false(nb_dtls_window_fresh(&w, 4));
  nb_dtls_window_mark(&w, 70);
  assert_false(nb_dtls_window_fresh(&w, 5)); /* 65 behind: too old */
  assert_true(nb_dtls_window_fresh(&w, 7));  /* 63 behind, never seen */
  assert_false(nb_dtls_window_fresh(&w, 70));
  nb_dtls_window_mark(&w, 7);
  assert_false(nb_dtls_window_fresh(&w, 7));
  nb_dtls_window_mark(&w, 1000); /* a jump past the window forgets everything before */
  assert_false(nb_dtls_window_fresh(&w, 999 - 63));
  assert_true(nb_dtls_window_fresh(&w, 999));
  assert_false(nb_dtls_window_fresh(&w, 1000));
  assert_true(nb_dtls_window_fresh(&w, 1001));
}

/* ---- two sessions over memory ---- */

typedef struct {
  uint8_t data[1500];
  size_t len;
} dgram;

typedef struct {
  nb_dtls_creds *server_creds, *client_creds;
  nb_dtls_session *server, *client;
  nb_addr saddr, caddr;
  dgram to_server[16], to_client[16];
  int nto_server, nto_client;
  char got[8][32]; /* the first records the server delivered, in order */
  int ngot;        /* all it delivered */
  int closed;
} pair;

static const uint8_t psk[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void push(dgram *q, int *n, const uint8_t *data, size_t len) {
  assert_true(*n < 16 && len <= sizeof q[0].data);
  memcpy(q[*n].data, data, len);
  q[(*n)++].len = len;
}

static void to_server(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  (void)peer;
  pair *p = user;
  push(p->to_server, &p->nto_server, data, len);
}

static void to_client(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  (void)peer;
  pair *p = user;
  push(p->to_client, &p->nto_client, data, len);
}

static void server_got(void *user, const nb_addr *peer, const uint8_t *data, size_t len,
                       nb_time_ms now) {
  (void)peer, (void)now;
  pair *p = user;
  assert_true(len < sizeof p->got[0]);
  if (p->ngot < 8) {
    memcpy(p->got[p->ngot], data, len);
    p->got[p->ngot][len] = '\0';
  }
  p->ngot++;
}

static void client_got(void *user, const nb_addr *peer, const uint8_t *data, size_t len,
                       nb_time_ms now) {
  (void)user, (void)peer, (void)data, (void)len, (void)now;
}

static void server_event(void *user, const nb_addr *peer, nb_dtls_session *s,
                         const nb_dtls_event *ev, nb_time_ms now) {
  (void)peer, (void)s, (void)now;
  pair *p = user;
  if (ev->type == NB_DTLS_EV_CLOSED) p->closed++;
}

static nb_err lookup(void *user, const uint8_t *id, size_t id_len, uint8_t *key, size_t cap,
                     size_t *key_len) {
  (void)user, (void)id, (void)id_len, (void)cap;
  memcpy(key, psk, sizeof psk);
  *key_len = sizeof psk;
  return NB_OK;
}

/* Delivers queued datagrams both ways until none is left. */
static void pump(pair *p) {
  while (p->nto_server || p->nto_client) {
    dgram d;
    if (p->nto_server) {
      d = p->to_server[0];
      memmove(p->to_server, p->to_server + 1, --p->nto_server * sizeof d);
      nb_dtls_session_receive(p->server, d.data, d.len, 1000);
    } else {
      d = p->to_client[0];
      memmove(p->to_client, p->to_client + 1, --p->nto_client * sizeof d);
      nb_dtls_session_receive(p->client, d.data, d.len, 1000);
    }
  }
}

/* A handshake with the suite the client's priority string allows (NULL: the default). */
static void pair_open(pair *p, const char *priority) {
  memset(p, 0, sizeof *p);
  nb_addr_parse("10.0.0.1:5684", 0, &p->saddr);
  nb_addr_parse("10.0.0.2:40000", 0, &p->caddr);
  assert_int_equal(nb_dtls_creds_new(&p->server_creds), NB_OK);
  nb_dtls_creds_set_psk_lookup(p->server_creds, lookup, NULL);
  assert_int_equal(nb_dtls_creds_new(&p->client_creds), NB_OK);
  assert_int_equal(nb_dtls_creds_set_psk(p->client_creds, "dev", 3, psk, sizeof psk), NB_OK);
  if (priority) assert_int_equal(nb_dtls_creds_set_priority(p->client_creds, priority), NB_OK);
  nb_dtls_session_params params;
  nb_dtls_session_params_default(&params);
  params.session_ticket = false;
  nb_dtls_handlers ch = {to_server, client_got, NULL, p};
  nb_dtls_handlers sh = {to_client, server_got, server_event, p};
  assert_int_equal(nb_dtls_client_new(p->client_creds, &params, &ch, &p->saddr, 1000, &p->client),
                   NB_OK);
  assert_int_equal(nb_dtls_session_new_server(p->server_creds, &params, &sh, &p->caddr, NULL, NULL,
                                              1000, &p->server),
                   NB_OK);
  assert_int_equal(nb_dtls_client_connect(p->client, 1000), NB_OK);
  pump(p);
  assert_int_equal(nb_dtls_session_state(p->client), NB_DTLS_ESTABLISHED);
  assert_int_equal(nb_dtls_session_state(p->server), NB_DTLS_ESTABLISHED);
}

static void pair_close(pair *p) {
  nb_dtls_session_free(p->client);
  nb_dtls_session_free(p->server);
  nb_dtls_creds_free(p->client_creds);
  nb_dtls_creds_free(p->server_creds);
}

/* The client seals text; its datagram is taken off the queue and returned. */
static dgram seal(pair *p, const char *text) {
  assert_int_equal(nb_dtls_session_send(p->client, (const uint8_t *)text, strlen(text)), NB_OK);
  assert_int_equal(p->nto_server, 1);
  p->nto_server = 0;
  return p->to_server[0];
}

static void deliver(pair *p, const dgram *d) {
  nb_dtls_session_receive(p->server, d->data, d->len, 1000);
}

static void run_records(const char *priority, bool offloaded) {
  pair p;
  pair_open(&p, priority);
  assert_true(nb_dtls_session_offloaded(p.server) == offloaded);
  dgram a = seal(&p, "a"), b = seal(&p, "b"), c = seal(&p, "c");
  deliver(&p, &a);
  if (offloaded) {
    deliver(&p, &c); /* out of order (GnuTLS 3.7.9's own window drops b after c) */
    deliver(&p, &b);
  } else {
    deliver(&p, &b);
    deliver(&p, &c);
  }
  deliver(&p, &a); /* replayed */
  assert_int_equal(p.ngot, 3);
  assert_string_equal(p.got[0], "a");
  assert_string_equal(p.got[1], offloaded ? "c" : "b");
  assert_string_equal(p.got[2], offloaded ? "b" : "c");
  /* A forged or damaged record is dropped; the session goes on. */
  dgram d = seal(&p, "d"), bad = d;
  bad.data[bad.len - 1] ^= 1;
  deliver(&p, &bad);
  assert_int_equal(p.ngot, 3);
  assert_int_equal(nb_dtls_session_state(p.server), NB_DTLS_ESTABLISHED);
  deliver(&p, &d);
  assert_int_equal(p.ngot, 4);
  assert_string_equal(p.got[3], "d");
  /* Too old: 64 newer records went by. */
  dgram old = seal(&p, "old");
  for (int i = 0; i < 70; i++) {
    dgram n = seal(&p, "n");
    deliver(&p, &n);
  }
  int before = p.ngot;
  deliver(&p, &old);
  assert_int_equal(p.ngot, before);
  /* A replay in one datagram with the close_notify that follows data: the data already seen
   * is not delivered again, the close is taken (with rx.h). */
  dgram last = seal(&p, "last");
  deliver(&p, &last);
  assert_int_equal(p.ngot, before + 1);
  nb_dtls_session_close(p.client, 1000);
  assert_int_equal(p.nto_server, 1);
  dgram both = last;
  memcpy(both.data + both.len, p.to_server[0].data, p.to_server[0].len);
  both.len += p.to_server[0].len;
  p.nto_server = 0;
  deliver(&p, &both);
  assert_int_equal(p.ngot, before + 1);
  if (offloaded) { /* GnuTLS 3.7.9 drops the rest of a datagram after a replayed record */
    assert_int_equal(nb_dtls_session_state(p.server), NB_DTLS_CLOSED);
    assert_int_equal(p.closed, 1);
  }
  pair_close(&p);
}

static void test_records_ccm8_offloaded(void **state) {
  (void)state;
  run_records(NULL, true);
}

static void test_records_cbc_by_gnutls(void **state) {
  (void)state;
  run_records("NONE:+VERS-DTLS1.2:+COMP-NULL:+PSK:+AES-128-CBC:+SHA256:+SIGN-ALL:+GROUP-ALL",
              false);
}

/* Data then close_notify in one fresh datagram: the data first, then the session closes. */
static void test_data_then_close_in_one_datagram(void **state) {
  (void)state;
  pair p;
  pair_open(&p, NULL);
  dgram d = seal(&p, "bye");
  nb_dtls_session_close(p.client, 1000);
  memcpy(d.data + d.len, p.to_server[0].data, p.to_server[0].len);
  d.len += p.to_server[0].len;
  p.nto_server = 0;
  deliver(&p, &d);
  assert_int_equal(p.ngot, 1);
  assert_string_equal(p.got[0], "bye");
  assert_int_equal(nb_dtls_session_state(p.server), NB_DTLS_CLOSED);
  pair_close(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_window),
      cmocka_unit_test(test_records_ccm8_offloaded),
      cmocka_unit_test(test_records_cbc_by_gnutls),
      cmocka_unit_test(test_data_then_close_in_one_datagram),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
