/* DTLS interop on 127.0.0.1 with GnuTLS's own tools: our client session (driven by a small
 * blocking UDP loop) against `gnutls-serv --udp --echo`, and `gnutls-cli --udp` against our
 * server context; PSK, raw public keys and X.509; the negotiated suite is the mandatory LwM2M
 * one; a wrong PSK ends with bad_record_mac on the other implementation too. Ports are picked
 * free at run time. Keys and certificates come from our own key tooling. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "base/log.h"
#include "dtls/keys.h"
#include "dtls/server.h"
#include "dtls/session.h"
#include "nb_test.h"

static const char *PSK_HEX = "00112233445566778899aabbccddeeff";
static const uint8_t PSK[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

/* Files for the GnuTLS tools, written once. */
static char dir[256];
static nb_dtls_keypair dev_key, srv_key;
static nb_dtls_certkey ca, srv_cert, dev_cert;

static char *path_of(const char *name) {
  static char paths[16][320];
  static int next;
  char *p = paths[next++ % 16];
  snprintf(p, 320, "%s/%s", dir, name);
  return p;
}

static void write_file(const char *name, const void *data, size_t len) {
  FILE *f = fopen(path_of(name), "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  fclose(f);
}

static int setup(void **state) {
  (void)state;
  if (!nb_test_have_program("gnutls-serv") || !nb_test_have_program("gnutls-cli")) return 0;
  snprintf(dir, sizeof dir, "/tmp/nb-dtls-interop-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  const char *names[] = {"localhost", "127.0.0.1"};
  nb_dtls_cert_request ca_req = {"Interop CA", 0, NULL, 0};
  nb_dtls_cert_request srv_req = {"localhost", 0, names, 2};
  nb_dtls_cert_request dev_req = {"urn:dev:interop", 0, NULL, 0};
  if (nb_dtls_keypair_generate(&dev_key) || nb_dtls_keypair_generate(&srv_key) ||
      nb_dtls_cert_make_ca(&ca_req, &ca) ||
      nb_dtls_cert_issue(ca.cert_pem.data, ca.cert_pem.len, ca.key.key_pem.data, ca.key.key_pem.len,
                         &srv_req, &srv_cert) ||
      nb_dtls_cert_issue(ca.cert_pem.data, ca.cert_pem.len, ca.key.key_pem.data, ca.key.key_pem.len,
                         &dev_req, &dev_cert))
    return -1;
  char psk_line[128];
  int n = snprintf(psk_line, sizeof psk_line, "dev-1:%s\n", PSK_HEX);
  write_file("psk.txt", psk_line, (size_t)n);
  write_file("dev.key.pem", dev_key.key_pem.data, dev_key.key_pem.len);
  write_file("dev.pub.pem", dev_key.spki_pem.data, dev_key.spki_pem.len);
  write_file("srv.key.pem", srv_key.key_pem.data, srv_key.key_pem.len);
  write_file("srv.pub.pem", srv_key.spki_pem.data, srv_key.spki_pem.len);
  write_file("ca.crt.pem", ca.cert_pem.data, ca.cert_pem.len);
  write_file("srvc.crt.pem", srv_cert.cert_pem.data, srv_cert.cert_pem.len);
  write_file("srvc.key.pem", srv_cert.key.key_pem.data, srv_cert.key.key_pem.len);
  write_file("devc.crt.pem", dev_cert.cert_pem.data, dev_cert.cert_pem.len);
  write_file("devc.key.pem", dev_cert.key.key_pem.data, dev_cert.key.key_pem.len);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  if (!dir[0]) return 0;
  const char *files[] = {"psk.txt",      "dev.key.pem", "dev.pub.pem",  "srv.key.pem",
                         "srv.pub.pem",  "ca.crt.pem",  "srvc.crt.pem", "srvc.key.pem",
                         "devc.crt.pem", "devc.key.pem"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(path_of(files[i]));
  rmdir(dir);
  nb_dtls_keypair_free(&dev_key);
  nb_dtls_keypair_free(&srv_key);
  nb_dtls_certkey_free(&ca);
  nb_dtls_certkey_free(&srv_cert);
  nb_dtls_certkey_free(&dev_cert);
  return 0;
}

static void need_tools(void) {
  if (!dir[0]) skip(); /* gnutls-bin (gnutls-serv, gnutls-cli) is not installed */
}

/* ---- UDP plumbing ---- */

static int udp_socket(uint16_t bind_port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons(bind_port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  return fd;
}

static nb_addr loopback(uint16_t port) {
  nb_addr a;
  char text[32];
  snprintf(text, sizeof text, "127.0.0.1:%u", port);
  assert_int_equal(nb_addr_parse(text, 0, &a), NB_OK);
  return a;
}

static void udp_sendto(int fd, const nb_addr *to, const uint8_t *d, size_t n) {
  struct sockaddr_storage ss;
  size_t len;
  assert_int_equal(nb_addr_to_sockaddr(to, (struct sockaddr *)&ss, sizeof ss, &len), NB_OK);
  sendto(fd, d, n, 0, (struct sockaddr *)&ss, (socklen_t)len);
}

/* Waits up to ms for one datagram; its length (0 when none). */
static size_t udp_recv(int fd, int ms, uint8_t *buf, size_t cap, nb_addr *from) {
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, ms) <= 0) return 0;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&ss, &sl);
  if (n <= 0) return 0;
  assert_int_equal(nb_addr_from_sockaddr((struct sockaddr *)&ss, from), NB_OK);
  return (size_t)n;
}

static bool child_exited(const nb_test_proc *p) {
  siginfo_t info;
  memset(&info, 0, sizeof info);
  return p->pid <= 0 ||
         (waitid(P_PID, (id_t)p->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid);
}

/* ---- our client against gnutls-serv ---- */

typedef struct {
  int fd;
  nb_addr server;
  int established, failed;
  nb_dtls_event last;
  char echo[256];
  size_t echo_len;
  char peer_sid[32], peer_cn[128];
} client_ctx;

static void cl_send(void *user, const nb_addr *peer, const uint8_t *d, size_t n) {
  client_ctx *c = user;
  udp_sendto(c->fd, peer, d, n);
}

static void cl_recv(void *user, const nb_addr *peer, const uint8_t *d, size_t n, nb_time_ms now) {
  (void)peer, (void)now;
  client_ctx *c = user;
  size_t room = sizeof c->echo - 1 - c->echo_len;
  if (n > room) n = room;
  memcpy(c->echo + c->echo_len, d, n);
  c->echo_len += n;
  c->echo[c->echo_len] = 0;
}

static void cl_event(void *user, const nb_addr *peer, nb_dtls_session *s, const nb_dtls_event *ev,
                     nb_time_ms now) {
  (void)peer, (void)now;
  client_ctx *c = user;
  c->last = *ev;
  if (ev->type == NB_DTLS_EV_ESTABLISHED) {
    c->established++;
    const nb_dtls_peer *p = nb_dtls_session_peer(s);
    snprintf(c->peer_sid, sizeof c->peer_sid, "%s", p->secure_id);
    snprintf(c->peer_cn, sizeof c->peer_cn, "%s", p->common_name);
  }
  if (ev->type == NB_DTLS_EV_FAILED) c->failed++;
}

/* Runs the session against the socket until cond holds or ms pass (real time). */
static bool client_loop(nb_dtls_session *s, client_ctx *c, int ms, bool (*cond)(client_ctx *)) {
  nb_time_ms end = nb_time_now_ms() + ms;
  while (!cond(c) && nb_time_now_ms() < end && nb_dtls_session_state(s) != NB_DTLS_FAILED) {
    nb_time_ms now = nb_time_now_ms();
    nb_time_ms wait = nb_time_min(nb_dtls_session_next_deadline(s) - now, 50);
    uint8_t buf[2048];
    nb_addr from;
    size_t n = udp_recv(c->fd, wait < 0 ? 0 : (int)wait, buf, sizeof buf, &from);
    if (n > 0 && nb_addr_equal(&from, &c->server))
      nb_dtls_session_receive(s, buf, n, nb_time_now_ms());
    nb_dtls_session_tick(s, nb_time_now_ms());
  }
  return cond(c);
}

static bool cl_established(client_ctx *c) { return c->established > 0; }
static bool cl_echoed(client_ctx *c) { return strstr(c->echo, "ping from niobium") != NULL; }

/* Starts gnutls-serv in echo mode on a free port with the given extra arguments. */
static uint16_t start_gnutls_serv(nb_test_proc *p, const char *priority, const char *const *extra) {
  for (int attempt = 0; attempt < 3; attempt++) {
    uint16_t port = nb_test_free_port(SOCK_DGRAM);
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%u", port);
    char *argv[24] = {"gnutls-serv", "--udp",      "--echo",        "-p",
                      port_text,     "--priority", (char *)priority};
    int n = 7;
    for (int i = 0; extra[i]; i++) argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    assert_true(nb_test_proc_start(p, argv));
    if (nb_test_proc_wait_output(p, true, "listening on IPv4", 5000)) return port;
    nb_test_proc_cleanup(p); /* port taken meanwhile, or a start failure: try again */
  }
  fail_msg("gnutls-serv did not start");
  return 0;
}

static void client_run(nb_dtls_creds *creds, const char *priority, const char *const *extra,
                       const char *expect_suite, client_ctx *c) {
  nb_test_proc serv;
  uint16_t port = start_gnutls_serv(&serv, priority, extra);
  memset(c, 0, sizeof *c);
  c->fd = udp_socket(0);
  c->server = loopback(port);
  nb_dtls_handlers h = {cl_send, cl_recv, cl_event, c};
  nb_dtls_session *s;
  assert_int_equal(nb_dtls_client_new(creds, NULL, &h, &c->server, nb_time_now_ms(), &s), NB_OK);
  assert_int_equal(nb_dtls_client_connect(s, nb_time_now_ms()), NB_OK);
  bool ok = client_loop(s, c, 10000, cl_established);
  if (!ok) {
    char *err = nb_test_proc_stderr(&serv);
    fprintf(stderr, "gnutls-serv stderr:\n%s\n", err);
    free(err);
  }
  assert_true(ok);
  assert_string_equal(nb_dtls_session_suite(s), expect_suite);
  const char *msg = "ping from niobium\n";
  assert_int_equal(nb_dtls_session_send(s, (const uint8_t *)msg, strlen(msg)), NB_OK);
  assert_true(client_loop(s, c, 5000, cl_echoed));
  nb_dtls_session_close(s, nb_time_now_ms());
  nb_dtls_session_free(s);
  close(c->fd);
  nb_test_proc_cleanup(&serv);
}

static nb_dtls_creds *psk_client(const uint8_t *key) {
  nb_dtls_creds *c;
  assert_int_equal(nb_dtls_creds_new(&c), NB_OK);
  assert_int_equal(nb_dtls_creds_set_psk(c, "dev-1", 5, key, 16), NB_OK);
  return c;
}

static void test_client_psk(void **state) {
  (void)state;
  need_tools();
  nb_dtls_creds *cc = psk_client(PSK);
  const char *extra[] = {"--pskpasswd", path_of("psk.txt"), NULL};
  client_ctx c;
  /* gnutls-serv's NORMAL does not include CCM_8; adding it lets our order decide. */
  client_run(cc, "NORMAL:+PSK:+AES-128-CCM-8", extra, "TLS_PSK_WITH_AES_128_CCM_8", &c);
  /* The second mandatory suite, when the server has no CCM. */
  client_run(cc, "NONE:+VERS-DTLS1.2:+PSK:+AES-128-CBC:+SHA256:+COMP-NULL:+SIGN-ALL:+GROUP-ALL",
             extra, "TLS_PSK_WITH_AES_128_CBC_SHA256", &c);
  nb_dtls_creds_free(cc);
}

static void test_client_wrong_psk(void **state) {
  (void)state;
  need_tools();
  uint8_t wrong[16];
  memcpy(wrong, PSK, sizeof wrong);
  wrong[0] ^= 0x80;
  nb_dtls_creds *cc = psk_client(wrong);
  nb_test_proc serv;
  const char *extra[] = {"--pskpasswd", path_of("psk.txt"), NULL};
  uint16_t port = start_gnutls_serv(&serv, "NORMAL:+PSK:+AES-128-CCM-8", extra);
  client_ctx c;
  memset(&c, 0, sizeof c);
  c.fd = udp_socket(0);
  c.server = loopback(port);
  nb_dtls_handlers h = {cl_send, cl_recv, cl_event, &c};
  nb_dtls_session *s;
  nb_dtls_session_params params;
  nb_dtls_session_params_default(&params);
  params.handshake_timeout_ms = 4000;
  assert_int_equal(nb_dtls_client_new(cc, &params, &h, &c.server, nb_time_now_ms(), &s), NB_OK);
  assert_int_equal(nb_dtls_client_connect(s, nb_time_now_ms()), NB_OK);
  client_loop(s, &c, 8000, cl_established);
  /* gnutls-serv drops the undecryptable Finished silently (RFC 6347 4.1.2.7 allows it), so
   * the handshake ends in our timeout rather than an alert; never established. */
  assert_int_equal(c.established, 0);
  assert_int_equal(c.failed, 1);
  assert_int_equal(c.last.err, NB_ERR_DTLS_TIMEOUT);
  nb_dtls_session_free(s);
  close(c.fd);
  nb_test_proc_cleanup(&serv);
  nb_dtls_creds_free(cc);
}

static void test_client_rpk(void **state) {
  (void)state;
  need_tools();
  nb_dtls_creds *cc;
  assert_int_equal(nb_dtls_creds_new(&cc), NB_OK);
  assert_int_equal(nb_dtls_creds_set_rpk(cc, dev_key.key_pem.data, dev_key.key_pem.len), NB_OK);
  assert_int_equal(nb_dtls_creds_pin_rpk(cc, srv_key.spki_der.data, srv_key.spki_der.len), NB_OK);
  const char *extra[] = {"--rawpkkeyfile",       path_of("srv.key.pem"),  "--rawpkfile",
                         path_of("srv.pub.pem"), "--require-client-cert", NULL};
  client_ctx c;
  client_run(cc, "NORMAL:+CTYPE-CLI-RAWPK:+CTYPE-SRV-RAWPK:+AES-128-CCM-8", extra,
             "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", &c);
  assert_string_equal(c.peer_sid, srv_key.secure_id);
  nb_dtls_creds_free(cc);
}

static void test_client_x509(void **state) {
  (void)state;
  need_tools();
  nb_dtls_creds *cc;
  assert_int_equal(nb_dtls_creds_new(&cc), NB_OK);
  assert_int_equal(nb_dtls_creds_set_x509(cc, dev_cert.cert_pem.data, dev_cert.cert_pem.len,
                                          dev_cert.key.key_pem.data, dev_cert.key.key_pem.len),
                   NB_OK);
  assert_int_equal(nb_dtls_creds_add_trust(cc, ca.cert_pem.data, ca.cert_pem.len), NB_OK);
  assert_int_equal(nb_dtls_creds_set_peer_name(cc, "localhost"), NB_OK);
  const char *extra[] = {
      "--x509certfile", path_of("srvc.crt.pem"), "--x509keyfile",         path_of("srvc.key.pem"),
      "--x509cafile",   path_of("ca.crt.pem"),   "--require-client-cert", NULL};
  client_ctx c;
  client_run(cc, "NORMAL:+AES-128-CCM-8", extra, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", &c);
  assert_string_equal(c.peer_cn, "localhost");
  nb_dtls_creds_free(cc);
}

/* ---- gnutls-cli against our server ---- */

typedef struct {
  int fd;
  nb_dtls_server *srv;
  int established, failed;
  nb_dtls_event last;
  char identity[300], sid[32], cn[128], suite[64];
} server_ctx;

static void sv_send(void *user, const nb_addr *peer, const uint8_t *d, size_t n) {
  server_ctx *c = user;
  udp_sendto(c->fd, peer, d, n);
}
static void sv_recv(void *user, const nb_addr *peer, const uint8_t *d, size_t n, nb_time_ms now) {
  (void)now;
  server_ctx *c = user;
  nb_dtls_server_send(c->srv, peer, d, n); /* echo */
}
static void sv_event(void *user, const nb_addr *peer, nb_dtls_session *s, const nb_dtls_event *ev,
                     nb_time_ms now) {
  (void)peer, (void)now;
  server_ctx *c = user;
  c->last = *ev;
  if (ev->type == NB_DTLS_EV_ESTABLISHED) {
    c->established++;
    const nb_dtls_peer *p = nb_dtls_session_peer(s);
    snprintf(c->identity, sizeof c->identity, "%s", p->identity);
    snprintf(c->sid, sizeof c->sid, "%s", p->secure_id);
    snprintf(c->cn, sizeof c->cn, "%s", p->common_name);
    snprintf(c->suite, sizeof c->suite, "%s", nb_dtls_session_suite(s));
  }
  if (ev->type == NB_DTLS_EV_FAILED) c->failed++;
}

static nb_err sv_lookup(void *user, const uint8_t *id, size_t id_len, uint8_t *key, size_t cap,
                        size_t *key_len) {
  (void)user, (void)cap;
  if (id_len != 5 || memcmp(id, "dev-1", 5) != 0) return NB_ERR_NOT_FOUND;
  memcpy(key, PSK, sizeof PSK);
  *key_len = sizeof PSK;
  return NB_OK;
}

static nb_err sv_verify(void *user, const nb_dtls_peer *peer, const uint8_t *raw, size_t len) {
  (void)user, (void)raw, (void)len;
  return strcmp(peer->secure_id, dev_key.secure_id) == 0 ? NB_OK : NB_ERR_NOT_FOUND;
}

/* Serves on a free port while gnutls-cli (argv after the port) runs; returns its exit code
 * and its stdout/stderr. */
static int server_run(nb_dtls_creds *creds, char **cli_args, int ms, server_ctx *c, char **out,
                      char **err) {
  memset(c, 0, sizeof *c);
  uint16_t port = nb_test_free_port(SOCK_DGRAM);
  c->fd = udp_socket(port);
  nb_dtls_handlers h = {sv_send, sv_recv, sv_event, c};
  assert_int_equal(nb_dtls_server_new(NULL, creds, &h, &c->srv), NB_OK);
  char port_text[16];
  snprintf(port_text, sizeof port_text, "%u", port);
  char *argv[32] = {"gnutls-cli", "--udp", "-p", port_text};
  int n = 4;
  for (int i = 0; cli_args[i]; i++) argv[n++] = cli_args[i];
  argv[n++] = "127.0.0.1";
  argv[n] = NULL;
  nb_test_proc cli;
  assert_true(nb_test_proc_start(&cli, argv));
  nb_time_ms end = nb_time_now_ms() + ms;
  while (!child_exited(&cli) && nb_time_now_ms() < end) {
    nb_time_ms now = nb_time_now_ms();
    nb_time_ms wait = nb_time_min(nb_dtls_server_next_deadline(c->srv) - now, 50);
    uint8_t buf[2048];
    nb_addr from;
    size_t len = udp_recv(c->fd, wait < 0 ? 0 : (int)wait, buf, sizeof buf, &from);
    if (len > 0) nb_dtls_server_receive(c->srv, &from, buf, len, nb_time_now_ms());
    nb_dtls_server_tick(c->srv, nb_time_now_ms());
  }
  int rc = nb_test_proc_wait(&cli, 2000);
  *out = nb_test_proc_stdout(&cli);
  *err = nb_test_proc_stderr(&cli);
  nb_test_proc_cleanup(&cli);
  nb_dtls_server_free(c->srv);
  close(c->fd);
  return rc;
}

static nb_dtls_creds *server_creds(void) {
  nb_dtls_creds *sc;
  assert_int_equal(nb_dtls_creds_new(&sc), NB_OK);
  nb_dtls_creds_set_psk_lookup(sc, sv_lookup, NULL);
  assert_int_equal(nb_dtls_creds_set_rpk(sc, srv_key.key_pem.data, srv_key.key_pem.len), NB_OK);
  assert_int_equal(nb_dtls_creds_set_x509(sc, srv_cert.cert_pem.data, srv_cert.cert_pem.len,
                                          srv_cert.key.key_pem.data, srv_cert.key.key_pem.len),
                   NB_OK);
  assert_int_equal(nb_dtls_creds_add_trust(sc, ca.cert_pem.data, ca.cert_pem.len), NB_OK);
  nb_dtls_creds_set_verify(sc, sv_verify, NULL);
  return sc;
}

static void expect_ok(int rc, char *out, char *err, const char *description) {
  if (rc != 0 || !strstr(out, description)) {
    fail_msg("gnutls-cli exit %d, wanted '%s'\nstdout:\n%s\nstderr:\n%s", rc, description, out,
             err);
  }
  free(out);
  free(err);
}

static void test_server_psk(void **state) {
  (void)state;
  need_tools();
  nb_dtls_creds *sc = server_creds();
  server_ctx c;
  char *out, *err;
  char *args[] = {"--pskusername",
                  "dev-1",
                  "--pskkey",
                  (char *)PSK_HEX,
                  "--priority",
                  "NORMAL:+PSK:+AES-128-CCM-8",
                  NULL};
  int rc = server_run(sc, args, 15000, &c, &out, &err);
  expect_ok(rc, out, err, "(DTLS1.2-X.509)-(PSK)-(AES-128-CCM-8)");
  assert_int_equal(c.established, 1);
  assert_string_equal(c.identity, "dev-1");
  assert_string_equal(c.suite, "TLS_PSK_WITH_AES_128_CCM_8");
  nb_dtls_creds_free(sc);
}

/* A client asking to renegotiate is refused (no_renegotiation) and the session goes on. */
static void test_server_refuses_renegotiation(void **state) {
  (void)state;
  need_tools();
  nb_dtls_creds *sc = server_creds();
  server_ctx c;
  char *out, *err;
  char *args[] = {"--rehandshake",
                  "--pskusername",
                  "dev-1",
                  "--pskkey",
                  (char *)PSK_HEX,
                  "--priority",
                  "NORMAL:+PSK:+AES-128-CCM-8",
                  NULL};
  /* gnutls-cli keeps waiting after the refusal: give it a few seconds, then stop it. */
  server_run(sc, args, 3000, &c, &out, &err);
  assert_non_null(strstr(err, "warning alert has been received"));
  assert_int_equal(c.established, 1);
  assert_int_equal(c.failed, 0);
  free(out);
  free(err);
  nb_dtls_creds_free(sc);
}

static void test_server_wrong_psk(void **state) {
  (void)state;
  need_tools();
  nb_dtls_creds *sc = server_creds();
  server_ctx c;
  char *out, *err;
  char *args[] = {"--pskusername",
                  "dev-1",
                  "--pskkey",
                  "ffeeddccbbaa99887766554433221100",
                  "--priority",
                  "NORMAL:+PSK:+AES-128-CCM-8",
                  NULL};
  int rc = server_run(sc, args, 15000, &c, &out, &err);
  assert_int_not_equal(rc, 0);
  assert_int_equal(c.established, 0);
  assert_int_equal(c.failed, 1);
  assert_int_equal(c.last.alert, 20);
  assert_true(c.last.alert_sent);
  /* gnutls-cli names the alert we sent. */
  if (!strstr(err, "Bad record MAC") && !strstr(out, "Bad record MAC")) {
    fail_msg("gnutls-cli did not report bad_record_mac:\n%s\n%s", out, err);
  }
  free(out);
  free(err);
  nb_dtls_creds_free(sc);
}

static void test_server_rpk(void **state) {
  (void)state;
  need_tools();
  nb_dtls_creds *sc = server_creds();
  server_ctx c;
  char *out, *err;
  char *args[] = {"--rawpkkeyfile",
                  path_of("dev.key.pem"),
                  "--rawpkfile",
                  path_of("dev.pub.pem"),
                  "--no-ca-verification",
                  "--priority",
                  "NONE:+VERS-DTLS1.2:+ECDHE-ECDSA:+AES-128-CCM-8:+AEAD:+COMP-NULL:+SIGN-ALL:"
                  "+GROUP-ALL:+CTYPE-CLI-RAWPK:+CTYPE-SRV-RAWPK",
                  NULL};
  int rc = server_run(sc, args, 15000, &c, &out, &err);
  expect_ok(rc, out, err,
            "(DTLS1.2-Raw Public Key)-(ECDHE-SECP256R1)-(ECDSA-SHA256)-(AES-128-CCM-8)");
  assert_int_equal(c.established, 1);
  assert_string_equal(c.sid, dev_key.secure_id);
  nb_dtls_creds_free(sc);
}

static void test_server_x509(void **state) {
  (void)state;
  need_tools();
  nb_dtls_creds *sc = server_creds();
  nb_dtls_creds_set_verify(sc, NULL, NULL); /* the CA vouches for the device */
  server_ctx c;
  char *out, *err;
  char *args[] = {"--x509cafile",
                  path_of("ca.crt.pem"),
                  "--x509certfile",
                  path_of("devc.crt.pem"),
                  "--x509keyfile",
                  path_of("devc.key.pem"),
                  "--priority",
                  "NORMAL:+AES-128-CCM-8",
                  NULL};
  int rc = server_run(sc, args, 15000, &c, &out, &err);
  expect_ok(rc, out, err, "(ECDSA-SHA256)-(AES-128-CCM-8)");
  assert_int_equal(c.established, 1);
  assert_string_equal(c.cn, "urn:dev:interop");
  assert_string_equal(c.sid, dev_cert.key.secure_id);
  nb_dtls_creds_free(sc);
}

int main(void) {
  nb_log_set_level(getenv("NB_TEST_DEBUG") ? NB_LOG_DEBUG : NB_LOG_ERROR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_client_psk),       cmocka_unit_test(test_client_wrong_psk),
      cmocka_unit_test(test_client_rpk),       cmocka_unit_test(test_client_x509),
      cmocka_unit_test(test_server_psk),       cmocka_unit_test(test_server_refuses_renegotiation),
      cmocka_unit_test(test_server_wrong_psk), cmocka_unit_test(test_server_rpk),
      cmocka_unit_test(test_server_x509),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
