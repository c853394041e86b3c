// Security and audit: the credential each endpoint must present (a key is never shown once
// set: the API hands out none), the audit log of operations, and the alerts the monitor and
// the server raised (new ones as they arrive).
import { request, get, all, enc, errorText } from './api.js';
import { h, clear, field, fmtTime, notice, modal, fillRows, listOrSay } from './ui.js';

export function mount(root, ctx) {
  const status = h('p.notice', { role: 'status', hidden: true });
  const say = (t, k) => notice(status, t, k);
  const credBody = h('tbody');
  const auditBody = h('tbody');
  const alertBody = h('tbody');
  const auditMore = h('button', { type: 'button', hidden: true }, 'Older entries');
  const alertMore = h('button', { type: 'button', hidden: true }, 'Older alerts');
  root.append(h('section.view.security', {},
    h('h1', {}, 'Security and audit'), status,
    h('section.card', { 'aria-labelledby': 'sec-cred-h' },
      h('h2', { id: 'sec-cred-h' }, 'Device credentials'),
      h('p.muted', {}, 'The credential each endpoint must present in its DTLS handshake. Keys are never shown: once set, only their presence is.'),
      credForm(say, () => loadCreds()),
      h('div.table-wrap', {}, h('table', { id: 'credentials' },
        h('thead', {}, h('tr', {}, ['Endpoint', 'Mode', 'Identity', ''].map((t) => h('th', { scope: 'col' }, t)))), credBody))),
    h('section.card', { 'aria-labelledby': 'sec-alerts-h' },
      h('h2', { id: 'sec-alerts-h' }, 'Alerts'),
      h('p.muted', {}, 'Raised by `niobium monitor` (posted to this server) and by the server itself; new ones appear as they arrive.'),
      h('div.table-wrap', {}, h('table', { id: 'alerts' },
        h('thead', {}, h('tr', {}, ['Received', 'Severity', 'Rule', 'Endpoint', 'Message', 'Reporter'].map((t) => h('th', { scope: 'col' }, t)))), alertBody)),
      alertMore),
    h('section.card', { 'aria-labelledby': 'sec-audit-h' },
      h('h2', { id: 'sec-audit-h' }, 'Audit log'),
      h('div.table-wrap', {}, h('table', { id: 'audit' },
        h('thead', {}, h('tr', {}, ['Time', 'Actor', 'Endpoint', 'Operation', 'Path', 'Result'].map((t) => h('th', { scope: 'col' }, t)))), auditBody)),
      auditMore)));

  const alertRow = (a) => h(`tr.sev-${a.severity || 'info'}`, {},
    h('td', {}, fmtTime(a.receivedAt || (a.ts ? a.ts * 1000 : 0))), h('td', {}, h(`span.badge.sev-${a.severity}`, {}, a.severity || '')),
    h('td', {}, h('code', {}, a.rule || '')), h('td', {}, a.endpoint || ''), h('td', {}, a.message || ''), h('td.muted', {}, a.reporter || ''));

  // A paged list shown newest first, with a button for the next page.
  const paged = (path, body, more, row, empty, cols) => {
    let next = path;
    const load = async (first) => {
      const r = await get(next);
      if (!r.ok) {
        if (first) clear(body).append(h('tr', {}, h('td.muted', { colspan: cols }, errorText(r))));
        return;
      }
      if (first) clear(body);
      body.append(...r.data.map(row));
      if (first && !r.data.length) body.append(h('tr', {}, h('td.muted', { colspan: cols }, empty)));
      next = r.next;
      more.hidden = !next;
    };
    more.onclick = () => load(false);
    return () => {
      next = path;
      return load(true);
    };
  };

  const loadAudit = paged('/api/audit?limit=100', auditBody, auditMore, (a) => h('tr', {},
    h('td', {}, fmtTime(a.at)), h('td', {}, a.actor), h('td', {}, a.endpoint), h('td', {}, a.operation), h('td', {}, h('code', {}, a.path)), h('td', {}, a.result)),
  'Nothing yet.', 6);
  const loadAlerts = paged('/api/alerts?limit=100', alertBody, alertMore, alertRow, 'No alert.', 6);

  const loadCreds = async () => {
    const rows = await listOrSay(() => all('/api/security/clients?limit=1000'), 'The credentials', say);
    if (rows) fillRows(credBody, rows, (c) => h('tr', { dataset: { ep: c.endpoint } },
      h('th', { scope: 'row' }, c.endpoint), h('td', {}, c.mode),
      h('td', {}, h('code', {}, c.identity || ''), c.mode === 'psk' ? h('span.muted', {}, ' · key set') : null),
      h('td.ops', {}, h('button.danger', {
        type: 'button', 'aria-label': `Delete the credential of ${c.endpoint}`,
        onclick: async () => {
          const v = await modal('Delete a credential', h('p', {}, `Delete the credential of ${c.endpoint}? Its device cannot connect with it any more.`), [['Delete', 'ok', 'danger'], ['Cancel', null]]);
          if (v !== 'ok') return;
          const r = await request('DELETE', `/api/security/clients/${enc(c.endpoint)}`);
          say(r.ok ? `${c.endpoint}: credential deleted` : errorText(r), r.ok ? 'ok' : 'error');
          loadCreds();
        },
      }, 'Delete'))), 'No credential: only NoSec devices can register.', 4);
  };

  const unsubscribe = ctx.onEvent((type, data) => {
    if (type !== 'ALERT') return;
    const empty = alertBody.querySelector('td.muted');
    if (empty) clear(alertBody);
    alertBody.prepend(alertRow(data));
  });
  if (ctx.config.server) loadCreds();
  else clear(credBody).append(h('tr', {}, h('td.muted', { colspan: 4 }, 'No management server in this process.')));
  loadAlerts();
  loadAudit();
  return unsubscribe;
}

// Sets an endpoint's credential; the key field is a password field, emptied once sent.
function credForm(say, done) {
  const ep = h('input', { type: 'text', id: 'cred-ep', required: true, autocomplete: 'off', spellcheck: false });
  const mode = h('select', { id: 'cred-mode' }, ['psk', 'rpk', 'x509'].map((m) => h('option', { value: m }, m)));
  const identity = h('input', { type: 'text', id: 'cred-identity', autocomplete: 'off', spellcheck: false });
  const key = h('input', { type: 'password', id: 'cred-key', autocomplete: 'new-password', placeholder: 'hex', spellcheck: false });
  const pub = h('input', { type: 'text', id: 'cred-pub', placeholder: 'SubjectPublicKeyInfo, DER as hex', spellcheck: false });
  const fIdentity = field('Identity (PSK identity, or certificate CN)', identity);
  const fKey = field('PSK key (hex)', key, 'Sent once; never shown again.');
  const fPub = field('Public key', pub);
  const show = () => {
    fIdentity.hidden = mode.value === 'rpk';
    fKey.hidden = mode.value !== 'psk';
    fPub.hidden = mode.value !== 'rpk';
  };
  mode.addEventListener('change', show);
  show();
  const form = h('form.credform', {}, h('div.grid2', {}, field('Endpoint', ep), field('Mode', mode), fIdentity, fKey, fPub),
    h('button.primary', { type: 'submit' }, 'Set the credential'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { mode: mode.value };
    if (mode.value === 'psk') Object.assign(body, { identity: identity.value.trim(), key: key.value.trim() });
    if (mode.value === 'x509') body.identity = identity.value.trim();
    if (mode.value === 'rpk') body.publicKey = pub.value.trim();
    const r = await request('PUT', `/api/security/clients/${enc(ep.value.trim())}`, body);
    key.value = '';
    say(r.ok ? `${ep.value.trim()}: ${mode.value} credential set` : `Not set: ${errorText(r)}`, r.ok ? 'ok' : 'error');
    if (r.ok) {
      form.reset();
      show();
      done();
    }
  });
  return form;
}
