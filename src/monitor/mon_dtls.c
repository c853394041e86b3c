/* Monitor engine, DTLS part: one event per record, the plaintext handshake's metadata, the
 * client identity of each flow, and (with known keys) decryption of the records, whose
 * application data goes on to the CoAP part. */
#include <stdio.h>
#include <stdlib.h>

#include "base/buf.h"
#include "dtls/record.h"
#include "monitor/dtlsmeta.h"
#include "monitor/monitor_int.h"

void nb_mon_flow_release(nb_mflow *f) {
  if (f->dec) nb_dtls_dec_deinit(f->dec);
  free(f->dec);
  f->dec = NULL;
  nb_dtls_reasm_free(&f->reasm[0]);
  nb_dtls_reasm_free(&f->reasm[1]);
}

const char *nb_mon_flow_identity(const nb_monitor *m, const nb_addr *client,
                                 const nb_addr *server) {
  if (!m->secure) return "";
  nb_mkey k;
  nb_mkey_exchange(&k, 'F', client, server, NULL, 0);
  const nb_mkey *f = nb_mtab_find(m, &m->flows, &k);
  return f ? NB_CONTAINER(f, nb_mflow, k)->identity : "";
}

static nb_mflow *nb_flow_get(nb_monitor *m, const nb_addr *client, const nb_addr *server) {
  nb_mkey k;
  nb_mkey_exchange(&k, 'F', client, server, NULL, 0);
  nb_mkey *f = nb_mtab_find(m, &m->flows, &k);
  if (f) return NB_CONTAINER(f, nb_mflow, k);
  if (m->flows.count >= NB_MON_TABLE_CAP) return NULL;
  nb_mflow *fl = calloc(1, sizeof *fl);
  if (!fl) return NULL;
  fl->k = k;
  nb_mtab_insert(m, &m->flows, &fl->k);
  return fl;
}

/* Appends to the record's detail text: nb_detail starts an item (space-separated from the
 * previous one), nb_detail_more continues the current one. */
static void nb_detail_va(nb_monitor *m, bool item, const char *fmt, va_list ap) {
  char *d = m->ev.dtls_detail;
  size_t used = strlen(d);
  if (used + 2 >= sizeof m->ev.dtls_detail) return;
  if (item && used) d[used++] = ' ', d[used] = 0;
  vsnprintf(d + used, sizeof m->ev.dtls_detail - used, fmt, ap);
}

static void nb_detail(nb_monitor *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void nb_detail(nb_monitor *m, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  nb_detail_va(m, true, fmt, ap);
  va_end(ap);
}

static void nb_detail_more(nb_monitor *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void nb_detail_more(nb_monitor *m, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  nb_detail_va(m, false, fmt, ap);
  va_end(ap);
}

static void nb_dtls_hello(nb_monitor *m, const nb_dtls_meta *meta, const nb_addr *src,
                          const nb_addr *dst) {
  nb_detail(m, "cookie=%zu suites=", meta->cookie_len);
  for (size_t i = 0; i < meta->suite_count && i < 12; i++)
    nb_detail_more(m, "%s0x%04x", i ? "," : "", meta->suites[i]);
  nb_mwin *w = nb_mon_win_get(m, NB_RULE_DTLS_HELLO_FLOOD, src, m->rules->hello_window_s);
  if (!w) return;
  if (meta->cookie_len) {
    w->aux++; /* the client came back with a cookie: a real handshake */
    return;
  }
  nb_mon_win_count(w, m->packet);
  if (w->count >= w->aux + m->rules->hello_max && !w->fired) {
    w->fired = true;
    nb_mon_alert(m, NB_RULE_DTLS_HELLO_FLOOD, src, dst, NULL, NULL, w->evidence, w->evidence_count,
                 "%u ClientHellos without cookie, %u completed the cookie exchange", w->count,
                 w->aux);
  }
}

static void nb_dtls_server_hello(nb_monitor *m, const nb_dtls_meta *meta, const nb_addr *src,
                                 const nb_addr *dst) {
  const char *name = nb_dtls_suite_name(meta->chosen);
  nb_detail(m, "chosen=0x%04x%s%s", meta->chosen, name ? " " : "", name ? name : "");
  if (meta->cert_type >= 0)
    nb_detail(m, "cert_type=%s",
              meta->cert_type == 2   ? "RPK"
              : meta->cert_type == 0 ? "X.509"
                                     : "other");
  nb_mflow *f = nb_flow_get(m, dst, src);
  if (f) f->chosen = meta->chosen;
  bool weak = !nb_dtls_suite_is_mandatory(meta->chosen) ||
              (!m->rules->allow_cbc && nb_dtls_suite_is_cbc(meta->chosen));
  if (weak)
    nb_mon_alert(m, NB_RULE_DTLS_WEAK_SUITE, src, dst, NULL, NULL, NULL, 0,
                 "server chose cipher suite 0x%04x%s%s", meta->chosen, name ? " " : "",
                 name ? name : "");
}

/* Which end sent a handshake message: the client sends ClientHello, Certificate,
 * ClientKeyExchange and CertificateVerify (RFC 5246 7.3). */
static bool nb_hs_from_client(uint8_t type) {
  return type == NB_DTLS_HS_CLIENT_HELLO || type == NB_DTLS_HS_CLIENT_KEY_EXCHANGE ||
         type == NB_DTLS_HS_CERTIFICATE_VERIFY;
}

static const char *nb_dec_result_text(nb_dtls_dec_result r) {
  switch (r) {
    case NB_DEC_KEYED_PSK:
      return "keyed";
    case NB_DEC_KEYED_KEYLOG:
      return "keyed (key log)";
    case NB_DEC_KEYED_RESUMED:
      return "keyed (resumed session)";
    case NB_DEC_NO_PSK:
      return "no key for this identity";
    case NB_DEC_NO_MASTER:
      return "no master secret for this session (--keylog)";
    case NB_DEC_NO_SESSION:
      return "resumes a session whose keys were not seen";
    case NB_DEC_UNSUPPORTED:
      return "suite not supported";
    case NB_DEC_INCOMPLETE:
      return "handshake not seen whole";
    default:
      return NULL;
  }
}

/* An unknown PSK identity: the keys may have grown since (a server made a device's PSK after
 * the capture began). Rate-limited so that a flood of unknown identities costs little. */
static bool nb_psks_refresh(nb_monitor *m) {
  if (!m->cfg.psks_refresh) return false;
  if (m->last_refresh_us != INT64_MIN && m->now_us - m->last_refresh_us < 1000000) return false;
  m->last_refresh_us = m->now_us;
  return m->cfg.psks_refresh(m->cfg.psks_refresh_user);
}

/* Follows the handshake for decryption; the flow is (client, server). */
static void nb_dec_handshake(nb_monitor *m, nb_mflow *f, const nb_dtls_handshake *hs, bool client) {
  if (!f->dec) {
    if (hs->msg_type != NB_DTLS_HS_CLIENT_HELLO) return; /* joined mid-handshake */
    f->dec = malloc(sizeof *f->dec);
    if (!f->dec) return;
    nb_dtls_dec_init(f->dec);
  }
  f->dec->cache = m->sessions;
  nb_dtls_dec_handshake(f->dec, hs, client);
  nb_dtls_dec_result r = nb_dtls_dec_resolve(f->dec, m->cfg.psks, hs->msg_type);
  if (r == NB_DEC_NO_PSK && nb_psks_refresh(m))
    r = nb_dtls_dec_resolve(f->dec, m->cfg.psks, hs->msg_type);
  const char *why = nb_dec_result_text(r);
  if (why) nb_detail(m, "decryption=%s", why);
}

/* Opens an encrypted record of a followed session into m->plain; *plain_len 0 when it
 * could not be opened (the reason is in the event's detail). */
static bool nb_dec_record(nb_monitor *m, const nb_dtls_record *rec, const nb_addr *src,
                          const nb_addr *dst, size_t *plain_len) {
  nb_mkey k;
  bool from_client = true;
  nb_mkey_exchange(&k, 'F', src, dst, NULL, 0);
  nb_mkey *fk = nb_mtab_find(m, &m->flows, &k);
  if (!fk || !NB_CONTAINER(fk, nb_mflow, k)->dec) {
    from_client = false;
    nb_mkey_exchange(&k, 'F', dst, src, NULL, 0);
    fk = nb_mtab_find(m, &m->flows, &k);
  }
  nb_mflow *f = fk ? NB_CONTAINER(fk, nb_mflow, k) : NULL;
  if (!f || !f->dec || !f->dec->keyed) {
    nb_detail(m, "cannot decrypt: %s",
              !f || !f->dec ? "handshake not captured" : "no session keys");
    return false;
  }
  if (!m->plain && !(m->plain = malloc(65536))) return false;
  nb_err e = nb_dtls_dec_open(f->dec, from_client, rec, m->plain, plain_len);
  if (e) {
    nb_detail(
        m, "cannot decrypt: %s",
        e == NB_ERR_DTLS_BAD_MAC ? "record authentication failed (wrong key?)" : nb_strerror(e));
    return false;
  }
  nb_detail(m, "decrypted=%zu", *plain_len);
  return true;
}

/* The flow (client, server) of a handshake message: the one already followed in either
 * direction, else by who sends such a message. */
static nb_mflow *nb_hs_flow(nb_monitor *m, const nb_addr *src, const nb_addr *dst, uint8_t type,
                            bool *from_client) {
  nb_mkey k;
  nb_mkey_exchange(&k, 'F', src, dst, NULL, 0);
  nb_mkey *fk = nb_mtab_find(m, &m->flows, &k);
  if (fk) return *from_client = true, NB_CONTAINER(fk, nb_mflow, k);
  nb_mkey_exchange(&k, 'F', dst, src, NULL, 0);
  fk = nb_mtab_find(m, &m->flows, &k);
  if (fk) return *from_client = false, NB_CONTAINER(fk, nb_mflow, k);
  *from_client = nb_hs_from_client(type);
  return *from_client ? nb_flow_get(m, src, dst) : nb_flow_get(m, dst, src);
}

/* One whole handshake message (reassembled when it came in fragments). */
static void nb_dtls_handshake_msg(nb_monitor *m, nb_mflow *f, bool client,
                                  const nb_dtls_handshake *hs, const nb_addr *src,
                                  const nb_addr *dst) {
  if (f && m->cfg.psks) nb_dec_handshake(m, f, hs, client);
  nb_dtls_meta meta;
  bool psk = f && client && nb_dtls_suite_is_psk(f->chosen);
  if (nb_dtls_meta_parse(hs, psk, &meta)) return;
  if (hs->msg_type == NB_DTLS_HS_CLIENT_HELLO)
    nb_dtls_hello(m, &meta, src, dst);
  else if (hs->msg_type == NB_DTLS_HS_SERVER_HELLO)
    nb_dtls_server_hello(m, &meta, src, dst);
  else if (hs->msg_type == NB_DTLS_HS_HELLO_VERIFY_REQUEST)
    nb_detail(m, "cookie=%zu", meta.cookie_len);
  else if (meta.has_identity) {
    nb_detail(m, "psk_identity=%s", meta.identity);
    if (f) snprintf(f->identity, sizeof f->identity, "psk:%s", meta.identity);
  } else if (meta.has_cert_id) {
    nb_detail(m, "%s=%s", client ? "client" : "server", meta.cert_id);
    if (f && client) nb_copy(f->identity, sizeof f->identity, meta.cert_id);
  }
}

static void nb_dtls_handshake_rec(nb_monitor *m, const nb_dtls_record *rec, const nb_addr *src,
                                  const nb_addr *dst) {
  nb_reader r;
  nb_reader_init(&r, rec->body, rec->body_len);
  nb_dtls_handshake hs, whole;
  while (nb_reader_remaining(&r) && nb_dtls_handshake_next(&r, &hs) == NB_OK) {
    if (m->ev.dtls_handshake < 0) m->ev.dtls_handshake = hs.msg_type;
    bool client = false, fragment = hs.frag_offset != 0 || hs.frag_len != hs.length;
    nb_mflow *f = fragment || m->cfg.psks || hs.msg_type == NB_DTLS_HS_CLIENT_KEY_EXCHANGE ||
                          hs.msg_type == NB_DTLS_HS_CERTIFICATE
                      ? nb_hs_flow(m, src, dst, hs.msg_type, &client)
                      : NULL;
    if (!fragment) {
      nb_dtls_handshake_msg(m, f, client, &hs, src, dst);
      continue;
    }
    nb_detail(m, "fragment=%u+%u/%u", hs.frag_offset, hs.frag_len, hs.length);
    if (f && nb_dtls_reasm_add(&f->reasm[!client], &hs, &whole)) {
      nb_detail(m, "reassembled");
      nb_dtls_handshake_msg(m, f, client, &whole, src, dst);
    }
  }
}

/* body: the alert in clear (epoch 0 or decrypted), NULL when encrypted. */
static void nb_dtls_alert(nb_monitor *m, const uint8_t *body, size_t len, const nb_addr *src,
                          const nb_addr *dst) {
  if (body && len >= 2)
    nb_detail(m, "alert=%s/%s", body[0] == 2 ? "fatal" : "warning", nb_dtls_alert_name(body[1]));
  else
    nb_detail(m, "alert=encrypted");
  nb_mon_rule_window(m, NB_RULE_DTLS_ALERT_BURST, src, m->rules->alert_max,
                     m->rules->alert_window_s, src, dst, NULL, "DTLS alerts");
}

void nb_mon_on_dtls(nb_monitor *m, const nb_addr *src, const nb_addr *dst, const uint8_t *data,
                    size_t len) {
  m->stats.dtls++;
  nb_reader r;
  nb_reader_init(&r, data, len);
  nb_dtls_record rec;
  while (nb_reader_remaining(&r)) {
    if (nb_dtls_record_next(&r, &rec)) {
      nb_mon_malformed(m, src, dst, "DTLS record cut short", NB_RULE_MALFORMED_COAP);
      return;
    }
    nb_mon_ev_begin(m, NB_MON_EV_DTLS, src, dst);
    m->ev.transport = "coaps";
    m->ev.dtls_content_type = rec.type;
    m->ev.dtls_version = rec.version;
    m->ev.dtls_epoch = rec.epoch;
    m->ev.dtls_seq = rec.seq;
    m->ev.dtls_len = rec.body_len;
    size_t plain_len = 0;
    bool opened = false;
    if (rec.type == NB_DTLS_CT_HANDSHAKE && rec.epoch == 0)
      nb_dtls_handshake_rec(m, &rec, src, dst);
    else if (m->cfg.psks && rec.epoch > 0 && rec.type != NB_DTLS_CT_CHANGE_CIPHER_SPEC)
      opened = nb_dec_record(m, &rec, src, dst, &plain_len);
    if (rec.type == NB_DTLS_CT_ALERT)
      nb_dtls_alert(m,
                    rec.epoch == 0 ? rec.body
                    : opened       ? m->plain
                                   : NULL,
                    rec.epoch == 0 ? rec.body_len : plain_len, src, dst);
    /* Decrypted application data that does not parse as CoAP is another protocol over DTLS
     * (or a peer's own bug, authenticated): said so here, not raised as malformed CoAP. */
    bool coap = opened && rec.type == NB_DTLS_CT_APPLICATION_DATA;
    nb_err e = coap ? nb_mon_parse(m, m->plain, plain_len) : NB_OK;
    if (coap && e != NB_OK) {
      nb_detail(m, "not CoAP (%s)", nb_strerror(e));
      m->stats.other++;
      coap = false;
    }
    nb_mon_ev_emit(m, &m->ev);
    if (coap) {
      m->secure = true;
      nb_mon_on_parsed(m, src, dst, plain_len);
    }
  }
}
