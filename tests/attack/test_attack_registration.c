/* Attack suite, issue 13 items 5, 6 and 10, against the real `niobium server` on 127.0.0.1:
 * unauthenticated (NoSec) peers that try to fill memory and disk through Register and Update,
 * secrets at rest readable by others, and NoSec registrations moved to another address. Every
 * request loop is bounded; CoAP datagrams are crafted here and sent from UDP sockets of their
 * own (one socket, one source address). docs/security.md, "Unauthenticated registrations and
 * secrets at rest", gives the policy these tests hold the server to. */
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "coap/block.h"
#include "coap/msg.h"
#include "nb_test.h"

#define TOKEN "attack-campaign-token"

/* ---- the server under attack ---- */

typedef struct {
  char dir[64], db[128];
  uint16_t coap_port;
  char coap[32], http[32], base[64];
  nb_test_proc proc;
} target;

static void target_init(target *t) {
  memset(t, 0, sizeof(*t));
  snprintf(t->dir, sizeof(t->dir), "/tmp/nb-attack-reg-XXXXXX");
  assert_non_null(mkdtemp(t->dir));
  snprintf(t->db, sizeof(t->db), "%s/niobium.db", t->dir);
  t->coap_port = nb_test_free_port(SOCK_DGRAM);
  snprintf(t->coap, sizeof(t->coap), "127.0.0.1:%u", t->coap_port);
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(t->http, sizeof(t->http), "127.0.0.1:%u", hp);
  snprintf(t->base, sizeof(t->base), "http://127.0.0.1:%u", hp);
}

/* `niobium server` on the target's ports with up to four more arguments. */
static void target_start(target *t, const char *a1, const char *a2, const char *a3,
                         const char *a4) {
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "server",
                  "--coap",
                  t->coap,
                  "--http",
                  t->http,
                  "--db",
                  t->db,
                  "--api-token",
                  TOKEN,
                  (char *)a1,
                  (char *)a2,
                  (char *)a3,
                  (char *)a4,
                  NULL};
  assert_true(nb_test_proc_start(&t->proc, argv));
  assert_true(nb_test_proc_wait_output(&t->proc, true, "proto=http", 20000));
}

static void target_stop(target *t) {
  nb_test_proc_stop(&t->proc);
  nb_test_proc_cleanup(&t->proc);
  const char *sfx[] = {"", "-wal", "-shm", "-journal"};
  char p[160];
  for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
    snprintf(p, sizeof(p), "%s%s", t->db, sfx[i]);
    unlink(p);
  }
  rmdir(t->dir);
}

/* HTTP status of GET path with the token, the body into *body (may be NULL). */
static int api_get(const target *t, const char *path, char **body) {
  char *out = nb_test_http_auth(t->base, TOKEN, "GET", path, NULL);
  assert_non_null(out);
  char *bar = strrchr(out, '|');
  assert_non_null(bar);
  int status = atoi(bar + 1);
  *bar = '\0';
  if (body)
    *body = out;
  else
    free(out);
  return status;
}

static bool is_registered(const target *t, const char *ep) {
  char path[160];
  snprintf(path, sizeof(path), "/api/clients/%s", ep);
  return api_get(t, path, NULL) == 200;
}

static long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* The database and its -wal: what the server keeps on disk. */
static long db_bytes(const target *t) {
  char wal[160];
  snprintf(wal, sizeof(wal), "%s-wal", t->db);
  return file_size(t->db) + file_size(wal);
}

static long rss_kib(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  long kib = -1;
  while (f && fgets(line, sizeof(line), f))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  if (f) fclose(f);
  return kib;
}

/* ---- a CoAP peer: one UDP socket on 127.0.0.1 ---- */

typedef struct {
  int fd;
  struct sockaddr_in to;
  uint16_t mid;
} peer;

typedef struct {
  uint8_t code; /* 0: no answer */
  uint32_t max_age, size1;
  char location[64];
} answer;

static void peer_open(peer *p, const target *t, uint16_t seed) {
  p->fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(p->fd >= 0);
  struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(p->fd, (struct sockaddr *)&me, sizeof(me)), 0);
  p->to = (struct sockaddr_in){.sin_family = AF_INET,
                               .sin_port = htons(t->coap_port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  p->mid = (uint16_t)(seed * 7919u);
}

static void peer_close(peer *p) { close(p->fd); }

/* Sends m as a CON (new MID and token) and waits for its piggybacked answer, resending a few
 * times as CoAP does. */
static answer peer_call(peer *p, nb_coap_msg *m) {
  answer a = {0};
  m->type = NB_COAP_CON;
  m->mid = ++p->mid;
  uint8_t token[4] = {(uint8_t)(p->mid >> 8), (uint8_t)p->mid, 0xa7, 0x7a};
  assert_int_equal(nb_coap_msg_set_token(m, token, sizeof(token)), NB_OK);
  uint8_t out[2048], in[2048];
  size_t len;
  assert_int_equal(nb_coap_serialize(m, out, sizeof(out), &len), NB_OK);
  for (int tries = 0; tries < 5 && !a.code; tries++) {
    assert_true(sendto(p->fd, out, len, 0, (struct sockaddr *)&p->to, sizeof(p->to)) ==
                (ssize_t)len);
    struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
    while (!a.code && poll(&pfd, 1, 3000) == 1) {
      ssize_t n = recv(p->fd, in, sizeof(in), 0);
      nb_coap_msg r;
      if (n <= 0 || nb_coap_parse(in, (size_t)n, &r) != NB_OK || r.mid != m->mid) continue;
      a.code = r.code;
      nb_coap_msg_get_uint(&r, NB_COAP_OPT_MAX_AGE, &a.max_age);
      nb_coap_msg_get_uint(&r, NB_COAP_OPT_SIZE1, &a.size1);
      if (nb_coap_msg_get_path(&r, NB_COAP_OPT_LOCATION_PATH, a.location, sizeof(a.location)) !=
          NB_OK)
        a.location[0] = '\0';
    }
  }
  return a;
}

/* POST path?queries with a link-format body, block-wise (1024-byte Block1) when it is longer
 * than one block. The last answer: the final one, or the first that is not 2.31. */
static answer peer_post(peer *p, const char *path, const char *const *queries, const char *body) {
  size_t len = body ? strlen(body) : 0;
  answer a = {0};
  for (uint32_t num = 0;; num++) {
    nb_coap_msg m;
    nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_POST, 0);
    assert_int_equal(nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, path), NB_OK);
    if (body) nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_LINK_FORMAT);
    for (size_t i = 0; queries && queries[i]; i++)
      assert_int_equal(nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, queries[i]), NB_OK);
    size_t off = (size_t)num * 1024, n = len - off < 1024 ? len - off : 1024;
    bool more = off + n < len;
    if (len > 1024) {
      nb_coap_block b = {num, more, 6};
      assert_int_equal(nb_coap_block_add(&m, NB_COAP_OPT_BLOCK1, &b), NB_OK);
    }
    nb_coap_msg_set_payload(&m, body ? body + off : NULL, n);
    a = peer_call(p, &m);
    if (!more || a.code != NB_COAP_CONTINUE) return a;
  }
}

static answer peer_delete(peer *p, const char *path) {
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_DELETE, 0);
  assert_int_equal(nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, path), NB_OK);
  return peer_call(p, &m);
}

static answer peer_register(peer *p, const char *ep, const char *lt, const char *body) {
  char q[160];
  snprintf(q, sizeof(q), "ep=%s", ep);
  const char *qs[] = {q, lt, NULL};
  return peer_post(p, "/rd", qs, body ? body : "</1/0>,</3/0>");
}

/* Registers PREFIX-0000 ... PREFIX-(n-1) from p, each with `lt` and `body` (NULL: a short
 * list); how many were answered `code`. */
static int register_many(peer *p, const char *prefix, int n, const char *lt, const char *body,
                         uint8_t code) {
  int got = 0;
  for (int i = 0; i < n; i++) {
    char ep[64];
    snprintf(ep, sizeof(ep), "%s-%04d", prefix, i);
    got += peer_register(p, ep, lt, body).code == code;
  }
  return got;
}

/* "</3303/0>,</3303/1>,...,</9/0>;p="xx"" of exactly `len` (>= 64) bytes (heap): a valid
 * object list as a hostile peer pads it. */
static char *object_list(size_t len) {
  char *s = malloc(len + 1);
  assert_non_null(s);
  size_t off = 0;
  for (unsigned i = 0; off + 40 < len; i++)
    off += (size_t)sprintf(s + off, "%s</3303/%u>", i ? "," : "", i);
  off += (size_t)sprintf(s + off, ",</9/0>;p=\"");
  while (off < len - 1) s[off++] = 'x';
  s[off++] = '"';
  s[off] = '\0';
  return s;
}

/* ---- item 5: the Register payload, the lifetime, the number of NoSec registrations ---- */

/* A 64 KiB object list sent block-wise is refused 4.13 with Size1 at the block that crosses
 * 8 KiB, and nothing of it is kept (before: reassembled up to 1 MiB and stored). */
static void test_oversized_register_refused(void **state) {
  (void)state;
  target t;
  target_init(&t);
  target_start(&t, NULL, NULL, NULL, NULL);
  peer p;
  peer_open(&p, &t, 1);
  char *big = object_list(64 * 1024);
  answer a = peer_register(&p, "huge", NULL, big);
  assert_int_equal(a.code, NB_COAP_REQUEST_ENTITY_TOO_LARGE);
  assert_int_equal(a.size1, 8192);
  assert_false(is_registered(&t, "huge"));
  /* A registered device cannot grow its list past the bound with an Update either. */
  a = peer_register(&p, "small", NULL, NULL);
  assert_int_equal(a.code, NB_COAP_CREATED);
  char loc[64];
  snprintf(loc, sizeof(loc), "%s", a.location);
  assert_int_equal(peer_post(&p, loc, NULL, big).code, NB_COAP_REQUEST_ENTITY_TOO_LARGE);
  char *body = NULL;
  assert_int_equal(api_get(&t, "/api/clients/small", &body), 200);
  assert_null(strstr(body, "</3303/0>"));
  free(body);
  free(big);
  peer_close(&p);
  target_stop(&t);
}

/* 200 hostile registrations, each with the largest object list a peer may send, keep the
 * database and the process small (the campaign's 200 made 247 MB of database). */
static void test_hostile_registrations_bounded(void **state) {
  (void)state;
  target t;
  target_init(&t);
  target_start(&t, NULL, NULL, NULL, NULL);
  peer p;
  peer_open(&p, &t, 2);
  long rss0 = rss_kib(t.proc.pid);
  char *over = object_list(8193), *list = object_list(8192); /* one byte past, the largest */
  assert_int_equal(
      register_many(&p, "hostile", 200, "lt=2592000", over, NB_COAP_REQUEST_ENTITY_TOO_LARGE), 200);
  assert_int_equal(register_many(&p, "hostile", 200, "lt=2592000", list, NB_COAP_CREATED), 200);
  long bytes = db_bytes(&t), rss = rss_kib(t.proc.pid);
  print_message("200 hostile registrations of 8 KiB: database %ld KiB, RSS %ld -> %ld KiB\n",
                bytes / 1024, rss0, rss);
  assert_true(bytes < 8 * 1024 * 1024);
  free(over);
  free(list);
  peer_close(&p);
  target_stop(&t);
}

/* Lifetimes up to 2^32-1 s are refused 4.00 above the maximum (30 days by default,
 * --max-lifetime); nothing is kept. */
static void test_lifetime_above_maximum_refused(void **state) {
  (void)state;
  target t;
  target_init(&t);
  target_start(&t, NULL, NULL, NULL, NULL);
  peer p;
  peer_open(&p, &t, 3);
  assert_int_equal(peer_register(&p, "forever", "lt=4294967295", NULL).code, NB_COAP_BAD_REQUEST);
  assert_int_equal(peer_register(&p, "forever", "lt=2592001", NULL).code, NB_COAP_BAD_REQUEST);
  assert_false(is_registered(&t, "forever"));
  assert_int_equal(peer_register(&p, "month", "lt=2592000", NULL).code, NB_COAP_CREATED);
  peer_close(&p);
  target_stop(&t);

  target_init(&t);
  target_start(&t, "--max-lifetime", "600", NULL, NULL);
  peer_open(&p, &t, 4);
  assert_int_equal(peer_register(&p, "dev", "lt=601", NULL).code, NB_COAP_BAD_REQUEST);
  answer a = peer_register(&p, "dev", "lt=600", NULL);
  assert_int_equal(a.code, NB_COAP_CREATED);
  const char *longer[] = {"lt=3600", NULL};
  assert_int_equal(peer_post(&p, a.location, longer, NULL).code, NB_COAP_BAD_REQUEST);
  peer_close(&p);
  target_stop(&t);
}

/* Past 1000 NoSec registrations (the default) a new NoSec endpoint gets 5.03 with Max-Age;
 * the registered ones still update (with a new object list) and re-register. */
static void test_nosec_registrations_capped(void **state) {
  (void)state;
  target t;
  target_init(&t);
  target_start(&t, NULL, NULL, NULL, NULL);
  peer flood;
  peer_open(&flood, &t, 9);
  assert_int_equal(register_many(&flood, "flood", 1000, NULL, NULL, NB_COAP_CREATED), 1000);
  answer a = peer_register(&flood, "flood-1000", NULL, NULL);
  assert_int_equal(a.code, NB_COAP_SERVICE_UNAVAILABLE);
  assert_int_equal(a.max_age, 60);
  assert_false(is_registered(&t, "flood-1000"));
  assert_int_equal(peer_register(&flood, "flood-0000", NULL, NULL).code, NB_COAP_CREATED);
  peer_close(&flood);
  target_stop(&t);

  /* The operator's cap: 5. */
  target_init(&t);
  target_start(&t, "--max-nosec-registrations", "5", NULL, NULL);
  peer p[7];
  char loc[5][64];
  for (int i = 0; i < 7; i++) peer_open(&p[i], &t, (uint16_t)(10 + i));
  for (int i = 0; i < 5; i++) {
    char ep[16];
    snprintf(ep, sizeof(ep), "dev%d", i);
    a = peer_register(&p[i], ep, NULL, NULL);
    assert_int_equal(a.code, NB_COAP_CREATED);
    snprintf(loc[i], sizeof(loc[i]), "%s", a.location);
  }
  a = peer_register(&p[5], "dev5", NULL, NULL);
  assert_int_equal(a.code, NB_COAP_SERVICE_UNAVAILABLE);
  assert_false(is_registered(&t, "dev5"));
  assert_int_equal(peer_post(&p[0], loc[0], NULL, "</3/0>,</4/0>,</5/0>").code, NB_COAP_CHANGED);
  assert_int_equal(peer_register(&p[1], "dev1", NULL, NULL).code, NB_COAP_CREATED);
  /* A de-registration makes room. */
  assert_int_equal(peer_delete(&p[2], loc[2]).code, NB_COAP_DELETED);
  assert_int_equal(peer_register(&p[6], "dev6", NULL, NULL).code, NB_COAP_CREATED);
  assert_int_equal(peer_register(&p[5], "dev5", NULL, NULL).code, NB_COAP_SERVICE_UNAVAILABLE);
  for (int i = 0; i < 7; i++) peer_close(&p[i]);
  target_stop(&t);
}

/* ---- item 6: secrets at rest ---- */

static unsigned mode_of(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return (unsigned)(st.st_mode & 07777);
}

/* Under umask 022 the database, its -wal and its -shm are 0600 (before: 0644, and `nobody`
 * read the PSKs). */
static void test_database_files_private(void **state) {
  (void)state;
  mode_t old = umask(022);
  target t;
  target_init(&t);
  target_start(&t, NULL, NULL, NULL, NULL);
  umask(old);
  peer p;
  peer_open(&p, &t, 20);
  assert_int_equal(peer_register(&p, "dev", NULL, NULL).code, NB_COAP_CREATED);
  char path[160];
  const char *sfx[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(path, sizeof(path), "%s%s", t.db, sfx[i]);
    assert_int_equal(mode_of(path), 0600);
  }
  peer_close(&p);
  target_stop(&t);
}

static void make_file(const char *path, mode_t mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  assert_true(fd >= 0);
  assert_int_equal(fchmod(fd, mode), 0);
  close(fd);
}

/* Runs `niobium ARGS...` to its end: the exit code, stderr into *err. */
static int run_niobium(char *const *args, char **err) {
  char *argv[16] = {(char *)nb_test_env("NB_BINARY")};
  for (int i = 0; args[i] && i < 14; i++) argv[i + 1] = args[i];
  return nb_test_run_capture(argv, 20000, NULL, err);
}

/* A database (or its -wal) that group or others may read is refused at start, with the file
 * and the fix in the message; the bootstrap server's commands refuse it too. */
static void test_open_database_refused(void **state) {
  (void)state;
  target t;
  target_init(&t);
  make_file(t.db, 0644);
  char *err = NULL;
  char *server[] = {"server", "--coap", t.coap, "--http", t.http, "--db", t.db, NULL};
  assert_int_equal(run_niobium(server, &err), 1);
  assert_non_null(strstr(err, t.db));
  assert_non_null(strstr(err, "chmod 600"));
  free(err);
  char *bs[] = {"bootstrap", "config", "list", "--db", t.db, NULL};
  assert_int_equal(run_niobium(bs, &err), 1);
  assert_non_null(strstr(err, "chmod 600"));
  free(err);
  /* The main file private but its -wal not: refused as well. */
  assert_int_equal(chmod(t.db, 0600), 0);
  char wal[160];
  snprintf(wal, sizeof(wal), "%s-wal", t.db);
  make_file(wal, 0640);
  assert_int_equal(run_niobium(server, &err), 1);
  assert_non_null(strstr(err, wal));
  free(err);
  target_stop(&t);
}

/* A private key written over an older file with --force ends up 0600 (before: it kept the
 * older file's 0644). */
static void test_key_files_private(void **state) {
  (void)state;
  target t;
  target_init(&t);
  char prefix[160], key[180];
  snprintf(prefix, sizeof(prefix), "%s/dev", t.dir);
  snprintf(key, sizeof(key), "%s.key.pem", prefix);
  make_file(key, 0644);
  char *keys[] = {"keys", "ec", "--out", prefix, "--force", NULL};
  char *err = NULL;
  assert_int_equal(run_niobium(keys, &err), 0);
  free(err);
  assert_int_equal(mode_of(key), 0600);
  const char *sfx[] = {".key.pem", ".key.der", ".pub.pem", ".spki.der"};
  for (size_t i = 0; i < 4; i++) {
    snprintf(key, sizeof(key), "%s%s", prefix, sfx[i]);
    unlink(key);
  }
  target_stop(&t);
}

/* ---- item 10: a NoSec registration moved to another address ---- */

/* An Update from another address with the registration ID (a takeover: NoSec proves
 * nothing) raises REGISTRATION_ADDRESS_CHANGED on the event stream and an alert. */
static void test_address_change_raises_alert(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  target t;
  target_init(&t);
  target_start(&t, NULL, NULL, NULL, NULL);
  char url[128];
  snprintf(url, sizeof(url), "%s/api/events", t.base);
  char *sse_argv[] = {"curl", "-s", "-N", "-m", "60", "-H", "Authorization: Bearer " TOKEN,
                      url,    NULL};
  nb_test_proc sse;
  assert_true(nb_test_proc_start(&sse, sse_argv));
  assert_true(nb_test_proc_wait_output(&sse, false, ": connected", 20000));
  peer dev, thief;
  peer_open(&dev, &t, 30);
  peer_open(&thief, &t, 31);
  answer a = peer_register(&dev, "victim", NULL, NULL);
  assert_int_equal(a.code, NB_COAP_CREATED);
  assert_true(nb_test_proc_wait_output(&sse, false, "REGISTRATION", 20000));
  assert_int_equal(peer_post(&thief, a.location, NULL, NULL).code, NB_COAP_CHANGED);
  assert_true(nb_test_proc_wait_output(&sse, false, "REGISTRATION_ADDRESS_CHANGED", 20000));
  nb_test_proc_stop(&sse);
  nb_test_proc_cleanup(&sse);
  char *body = NULL;
  assert_int_equal(api_get(&t, "/api/alerts", &body), 200);
  assert_non_null(strstr(body, "nosec-address-change"));
  assert_non_null(strstr(body, "victim"));
  free(body);
  peer_close(&dev);
  peer_close(&thief);
  target_stop(&t);
}

/* With --nosec-pin-address the same Update, a Register of the name and a De-register from
 * another address are refused 4.03 and the registration stays with its device. */
static void test_pin_address_refuses_takeover(void **state) {
  (void)state;
  target t;
  target_init(&t);
  target_start(&t, "--nosec-pin-address", NULL, NULL, NULL);
  peer dev, thief;
  peer_open(&dev, &t, 40);
  peer_open(&thief, &t, 41);
  answer a = peer_register(&dev, "victim", NULL, NULL);
  assert_int_equal(a.code, NB_COAP_CREATED);
  assert_int_equal(peer_post(&thief, a.location, NULL, NULL).code, NB_COAP_FORBIDDEN);
  assert_int_equal(peer_register(&thief, "victim", NULL, NULL).code, NB_COAP_FORBIDDEN);
  assert_int_equal(peer_delete(&thief, a.location).code, NB_COAP_FORBIDDEN);
  assert_int_equal(peer_post(&dev, a.location, NULL, NULL).code, NB_COAP_CHANGED);
  struct sockaddr_in me;
  socklen_t sl = sizeof(me);
  assert_int_equal(getsockname(dev.fd, (struct sockaddr *)&me, &sl), 0);
  char *body = NULL, want[64];
  assert_int_equal(api_get(&t, "/api/clients/victim", &body), 200);
  snprintf(want, sizeof(want), "127.0.0.1:%u", ntohs(me.sin_port));
  assert_non_null(strstr(body, want));
  free(body);
  peer_close(&dev);
  peer_close(&thief);
  target_stop(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_oversized_register_refused),
      cmocka_unit_test(test_hostile_registrations_bounded),
      cmocka_unit_test(test_lifetime_above_maximum_refused),
      cmocka_unit_test(test_nosec_registrations_capped),
      cmocka_unit_test(test_database_files_private),
      cmocka_unit_test(test_open_database_refused),
      cmocka_unit_test(test_key_files_private),
      cmocka_unit_test(test_address_change_raises_alert),
      cmocka_unit_test(test_pin_address_refuses_takeover),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
