/* libFuzzer: addresses and URIs from users and from servers: "IP:PORT" / "[IPv6]:PORT"
 * (src/base/addr.c: --listen, --server, Security object URIs), the client's server URIs
 * coap[s]://host[:port] with host names going to a resolver (src/client/engine.c: factory
 * files, /0/x/0 written by bootstrap servers), LwM2M paths (/o/i/r/ri of REST URLs and
 * commands) and CoAP Uri-Path text with percent escapes.
 * Oracles: what parses formats back to text that parses to the same value; a host name handed
 * to the resolver is a bare name (no port, path or query) with a valid port. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"
#include "client/client_int.h"
#include "coap/msg.h"
#include "lwm2m/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static nb_err resolve(void *user, const char *host, uint16_t port, nb_addr *out) {
  (void)user;
  if (!host[0] || host[0] == '[' || strpbrk(host, "/?") || port == 0) abort();
  return nb_addr_parse("192.0.2.7", port, out);
}

static void noop_send(void *user, const nb_addr *peer, const uint8_t *d, size_t len) {
  (void)user, (void)peer, (void)d, (void)len;
}

static nb_client *client(void) {
  static nb_client *c;
  if (c) return c;
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "fuzz";
  cfg.send = noop_send;
  cfg.resolve = resolve;
  if (nb_client_new(&cfg, &c) != NB_OK) abort();
  return c;
}

static void check_addr(const char *text) {
  nb_addr a, b;
  char buf[NB_ADDR_STRLEN + 8];
  if (nb_addr_parse(text, 5683, &a) != NB_OK) return;
  nb_addr_format(&a, buf, sizeof buf);
  if (nb_addr_parse(buf, 1, &b) != NB_OK || !nb_addr_equal(&a, &b)) abort();
}

static void check_uri(const char *text) {
  nb_addr a, b;
  char host[NB_ADDR_STRLEN];
  nb_err e = nb_client_parse_uri(text, &a);
  nb_err r = nb_client_resolve_uri(client(), text, &b, host, sizeof host);
  if (e == NB_OK && (r != NB_OK || !nb_addr_equal(&a, &b))) abort();
}

static void check_path(const char *text, size_t len) {
  nb_path p, q;
  char buf[NB_PATH_STRLEN];
  if (nb_path_parse_n(text, len, &p) != NB_OK) return;
  if (!nb_path_is_valid(&p) || nb_path_format(&p, buf, sizeof buf) != NB_OK) abort();
  if (nb_path_parse(buf, &q) != NB_OK || !nb_path_equal(&p, &q)) abort();
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_GET, 1);
  if (nb_path_to_coap(&m, &p) != NB_OK || nb_path_from_coap(&m, &q) != NB_OK ||
      !nb_path_equal(&p, &q))
    abort();
}

/* Uri-Path text: split into options (percent-decoded), joined again (re-encoded), split again
 * to the same options. An empty segment is left out: the text form drops a trailing slash
 * ("/3/" is /3), so an empty last option does not come back (by design, not checked). */
static void check_coap_path(const char *text) {
  nb_coap_msg a, b;
  char joined[4096];
  nb_coap_msg_init(&a, NB_COAP_CON, NB_COAP_GET, 1);
  if (nb_coap_msg_add_path(&a, NB_COAP_OPT_URI_PATH, text) != NB_OK) return;
  for (size_t k = 0; k < a.option_count; k++)
    if (a.options[k].len == 0) return;
  if (nb_coap_msg_get_path(&a, NB_COAP_OPT_URI_PATH, joined, sizeof joined) != NB_OK) return;
  nb_coap_msg_init(&b, NB_COAP_CON, NB_COAP_GET, 1);
  if (nb_coap_msg_add_path(&b, NB_COAP_OPT_URI_PATH, joined) != NB_OK) abort();
  if (a.option_count != b.option_count) abort();
  for (size_t k = 0; k < a.option_count; k++)
    if (a.options[k].len != b.options[k].len ||
        memcmp(a.options[k].value, b.options[k].value, a.options[k].len) != 0)
      abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1024) return 0;
  char text[1025];
  memcpy(text, data, size);
  text[size] = 0;
  check_addr(text);
  check_uri(text);
  check_path(text, size);
  check_coap_path(text);
  return 0;
}
