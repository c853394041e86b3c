/* Queue mode, client side (LwM2M 1.1 Core 6.5, binding UQ in 1.0 / the Q parameter in 1.1):
 * after the queue timeout without traffic with a server the client sleeps for it; it wakes
 * with a Registration Update and sends the notifications held meanwhile once that is answered. */
#include <string.h>

#include "base/log.h"
#include "client_int.h"

#define NB_Q_DEFAULT_TIMEOUT 93000 /* CoAP MAX_TRANSMIT_WAIT */

bool nb_q_enabled(const nb_account *a) { return strchr(a->binding, 'Q') != NULL; }

static nb_time_ms nb_q_timeout(const nb_client *c) {
  return c->cfg.queue_timeout > 0 ? c->cfg.queue_timeout : NB_Q_DEFAULT_TIMEOUT;
}

void nb_q_io(nb_client *c, const nb_addr *peer) {
  nb_account *a = nb_client_account_by_addr(c, peer);
  if (a) a->last_io = c->now;
}

bool nb_q_asleep_peer(nb_client *c, const nb_addr *peer) {
  nb_account *a = nb_client_account_by_addr(c, peer);
  return a && a->asleep;
}

void nb_q_tick(nb_client *c, nb_account *a, nb_time_ms now) {
  if (a->asleep || !nb_q_enabled(a) || a->state != NB_CLIENT_SRV_REGISTERED || a->req ||
      a->update_pending || c->deregistering)
    return;
  if (now < a->last_io + nb_q_timeout(c)) return;
  a->asleep = true;
  NB_LOG_INFO(NB_CLIENT_LOG, "event=sleep ssid=%u idle_ms=%lld", a->ssid,
              (long long)(now - a->last_io));
}

nb_time_ms nb_q_deadline(const nb_client *c, const nb_account *a) {
  if (a->asleep || !nb_q_enabled(a) || a->state != NB_CLIENT_SRV_REGISTERED || c->deregistering)
    return NB_TIME_NEVER;
  return a->last_io + nb_q_timeout(c);
}

void nb_q_wake(nb_client *c, nb_account *a, nb_time_ms now) {
  if (!a->asleep) return;
  /* nb_reg_update clears asleep and logs the wake-up before the Update leaves. */
  if (nb_reg_update(c, a, a->objects_changed, now) != NB_OK) a->update_pending = true;
}

bool nb_q_hold(nb_client *c, nb_account *a, nb_time_ms now) {
  if (a->asleep) {
    a->flush_on_update = true;
    nb_q_wake(c, a, now);
    return true;
  }
  return a->flush_on_update;
}

bool nb_client_awake(const nb_client *c, uint16_t ssid) {
  for (size_t i = 0; i < c->nacc; i++)
    if (c->acc[i]->ssid == ssid) return !c->acc[i]->asleep;
  return true;
}
