/* Client transport of a build without DTLS (NB_CFG_DTLS 0, docs/client.md "The device build"):
 * it takes transport.c's place and sends every datagram plain. A server whose Security instance
 * asks for DTLS (mode 0-2) cannot be talked to: what would go to it is dropped (logged), so
 * nothing goes plain to a server that expects DTLS, and its requests end as unanswered ones do
 * (nb_client_add_server already refuses such accounts). */
#include "base/log.h"
#include "client_int.h"

/* Security mode (0-3) of the server account or bootstrap server at peer; 3 (NoSec) for anyone
 * else, who is answered the way it asked. */
static int nb_tr_mode(nb_client *c, const nb_addr *peer) {
  nb_account *a = nb_client_account_by_addr(c, peer);
  uint16_t inst;
  nb_addr bs;
  if (a)
    inst = a->sec_inst;
  else if (!nb_bs_account(c, &inst, &bs) || !nb_addr_equal(&bs, peer))
    return 3;
  return (int)nb_store_object_get_int(nb_client_object(c, 0), inst, 2, 3);
}

static bool nb_tr_refused(nb_client *c, const nb_addr *peer, const char *dir) {
  if (nb_tr_mode(c, peer) == 3) return false;
  char a[NB_ADDR_STRLEN];
  NB_LOG_ERROR(NB_CLIENT_LOG, "event=dtls-not-built server=%s dir=%s",
               nb_addr_format(peer, a, sizeof a), dir);
  return true;
}

void nb_tr_send(nb_client *c, const nb_addr *peer, const uint8_t *data, size_t len) {
  if (nb_tr_refused(c, peer, "out")) return;
  nb_obj_count(c, true, len);
  nb_q_io(c, peer);
  c->cfg.send(c->cfg.send_user, peer, data, len);
}

void nb_tr_receive(nb_client *c, const nb_addr *peer, const uint8_t *data, size_t len,
                   nb_time_ms now) {
  nb_obj_count(c, false, len);
  if (nb_tr_refused(c, peer, "in")) return; /* DTLS records, not CoAP */
  nb_coap_ep_receive(c->ep, peer, data, len, now);
}

/* No sessions: nothing to time, keep, close or free. */
void nb_tr_tick(nb_client *c, nb_time_ms now) {
  (void)c;
  (void)now;
}

nb_time_ms nb_tr_deadline(const nb_client *c) {
  (void)c;
  return NB_TIME_NEVER;
}

void nb_tr_sync(nb_client *c, nb_time_ms now) {
  (void)c;
  (void)now;
}

void nb_tr_bootstrap_done(nb_client *c, nb_time_ms now) {
  (void)c;
  (void)now;
}

void nb_tr_close_all(nb_client *c, nb_time_ms now) {
  (void)c;
  (void)now;
}

void nb_tr_free_all(nb_client *c) { (void)c; }

/* No DTLS session to renew: a NoSec server that lost the registration answers 4.04 instead. */
void nb_tr_renew(nb_client *c, const nb_addr *peer, const char *why, nb_time_ms now) {
  (void)c, (void)peer, (void)why, (void)now;
}

bool nb_tr_silent_since(const nb_client *c, const nb_addr *peer, nb_time_ms t) {
  (void)c, (void)peer, (void)t;
  return false;
}
