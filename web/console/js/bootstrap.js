// The bootstrap server: requests waiting for approval (approve / reject as they arrive: the
// seed thesis's prompt), configs (list, create, edit, delete), and the out-of-band
// registration of a device's key (a secure ID typed, pasted, or read from a QR code image or
// the camera), with the keys registered so far (never a secret).
import { request, all, enc, errorText } from './api.js';
import { h, field, fmtTime, fmtAgo, notice, modal, throttled, fillRows, listOrSay } from './ui.js';
import { readQrFile, scanCamera, hasCamera, secureIdOf } from './qr.js';

const SECURITY = ['nosec', 'psk', 'rpk', 'x509'];
const ms = (t) => (t < 1e12 ? t * 1000 : t); // "since" is in Unix seconds

export function mount(root, ctx) {
  const status = h('p.notice', { role: 'status', hidden: true });
  const say = (t, k) => notice(status, t, k);
  const pendingBody = h('tbody');
  const configsBody = h('tbody');
  const keysBody = h('tbody');
  const view = h('section.view.bootstrap', {},
    h('h1', {}, 'Bootstrap'), status,
    h('section.card', { 'aria-labelledby': 'bs-pending-h' },
      h('h2', { id: 'bs-pending-h' }, 'Waiting for approval'),
      h('p.muted', {}, 'Devices whose Bootstrap-Request waits for an operator (niobium server --bs-policy approve). New requests appear as they arrive.'),
      h('div.table-wrap', {}, h('table', { id: 'pending' },
        h('thead', {}, h('tr', {}, ['Endpoint', 'From', 'Since', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))), pendingBody))),
    h('section.card', { 'aria-labelledby': 'bs-keys-h' },
      h('h2', { id: 'bs-keys-h' }, 'Out-of-band device keys'),
      h('p.muted', {}, 'Register the secure ID of a device\'s raw public key (printed or shown as a QR code by `niobium keys qr`) so that its DTLS handshake is accepted, for that endpoint only.'),
      keyForm(say, () => loadKeys()),
      h('div.table-wrap', {}, h('table', { id: 'expected' },
        h('thead', {}, h('tr', {}, ['Endpoint', 'Kind', 'Secure ID / identity', ''].map((t) => h('th', { scope: 'col' }, t)))), keysBody))),
    h('section.card', { 'aria-labelledby': 'bs-configs-h' },
      h('div.view-head', {}, h('h2', { id: 'bs-configs-h' }, 'Configs'),
        h('button.primary', { type: 'button', onclick: () => editConfig(null) }, 'New config…')),
      h('p.muted', {}, 'What a device is given at bootstrap: its server accounts. "default" serves every endpoint without a config of its own.'),
      h('div.table-wrap', {}, h('table', { id: 'configs' },
        h('thead', {}, h('tr', {}, ['Name', 'Servers', 'Options', ''].map((t) => h('th', { scope: 'col' }, t)))), configsBody))));
  root.append(view);

  const loadPending = async () => {
    const rows = await listOrSay(() => all('/api/bootstrap/pending?limit=1000'), 'The pending requests', say);
    if (rows) fillRows(pendingBody, rows, (p) => h('tr', { dataset: { ep: p.endpoint } },
      h('th', { scope: 'row' }, p.endpoint), h('td', {}, p.peer || ''), h('td', {}, p.since ? h('time', { title: fmtTime(ms(p.since)) }, fmtAgo(ms(p.since))) : ''),
      h('td', {}, h(`span.badge.pend-${p.state}`, {}, p.state || '')),
      h('td.ops', {},
        h('button.primary', { type: 'button', 'aria-label': `Approve ${p.endpoint}`, onclick: () => decide(p.endpoint, 'approve') }, 'Approve'),
        h('button.danger', { type: 'button', 'aria-label': `Reject ${p.endpoint}`, onclick: () => decide(p.endpoint, 'reject') }, 'Reject'))),
    'No request is waiting.', 5);
  };

  const decide = async (ep, what) => {
    const r = await request('POST', `/api/bootstrap/pending/${enc(ep)}/${what}`, {});
    if (r.ok) say(`${ep}: ${r.data.decision}${r.data.applies === 'next-request' ? ' (applies to its next request)' : ''}`, 'ok');
    else say(`${ep}: ${errorText(r)}`, 'error');
    loadPending();
  };

  const loadKeys = async () => {
    const rows = await listOrSay(() => all('/api/bootstrap/expected?limit=1000'), 'The registered keys', say);
    if (rows) fillRows(keysBody, rows, (k) => {
      const kind = k.secureId ? 'raw public key' : k.mode || k.kind || 'psk';
      const id = k.secureId || k.identity || k.pskIdentity || '';
      return h('tr', { dataset: { ep: k.endpoint } }, h('th', { scope: 'row' }, k.endpoint), h('td', {}, kind), h('td', {}, h('code', {}, id)),
        h('td.ops', {}, h('button.danger', {
          type: 'button', 'aria-label': `Remove the key of ${k.endpoint}`,
          onclick: async () => {
            const r = await request('DELETE', `/api/bootstrap/expected/${enc(k.endpoint)}`);
            say(r.ok ? `${k.endpoint}: key removed` : errorText(r), r.ok ? 'ok' : 'error');
            loadKeys();
          },
        }, 'Remove')));
    }, 'No key is registered.', 4);
  };

  const loadConfigs = async () => {
    const rows = await listOrSay(() => all('/api/bootstrap/configs?limit=1000'), 'The configs', say);
    if (rows) fillRows(configsBody, rows, (c) => {
      const name = c.endpoint || 'default';
      const opts = [c.discover ? 'discover' : null, c.bootstrap_account && c.bootstrap_account.fresh_key ? 'fresh bootstrap key' : null,
        c.ca_key_set ? 'X.509 CA' : null].filter(Boolean).join(', ');
      return h('tr', { dataset: { name } }, h('th', { scope: 'row' }, name),
        h('td', {}, (c.servers || []).map((s) => h('div', {}, h('code', {}, s.uri), ` ssid ${s.ssid}, ${s.security}${s.psk_key_set ? ' (key set)' : ''}, lifetime ${s.lifetime} s, ${s.binding}`))),
        h('td', {}, opts),
        h('td.ops', {},
          h('button', { type: 'button', 'aria-label': `Edit the config ${name}`, onclick: () => editConfig(c) }, 'Edit…'),
          h('button.danger', { type: 'button', 'aria-label': `Delete the config ${name}`, onclick: () => deleteConfig(name) }, 'Delete')));
    }, 'No config yet: devices cannot bootstrap.', 4);
  };

  const deleteConfig = async (name) => {
    const v = await modal('Delete a config', h('p', {}, `Delete the bootstrap config "${name}"?`), [['Delete', 'ok', 'danger'], ['Cancel', null]]);
    if (v !== 'ok') return;
    const r = await request('DELETE', `/api/bootstrap/configs/${enc(name)}`);
    say(r.ok ? `Config ${name} deleted` : errorText(r), r.ok ? 'ok' : 'error');
    loadConfigs();
  };

  const editConfig = async (cfg) => {
    if (cfg && cfg.ca_key_set) {
      await modal('Config with a CA key', h('p', {}, 'This config signs device certificates with a CA key, which the API never hands back. Change it with `niobium bootstrap config` on the server.'));
      return;
    }
    const form = configForm(cfg);
    const v = await modal(cfg ? `Edit the config ${cfg.endpoint || 'default'}` : 'New bootstrap config', form.el, [['Save', 'ok', 'primary'], ['Cancel', null]]);
    if (v !== 'ok') return;
    let body;
    try {
      body = form.value();
    } catch (e) {
      say(e.message, 'error');
      return;
    }
    const r = await request('PUT', `/api/bootstrap/configs/${enc(form.name())}`, body);
    say(r.ok ? `Config ${form.name()} saved` : `The config was not saved: ${errorText(r)}`, r.ok ? 'ok' : 'error');
    loadConfigs();
  };

  const later = throttled(() => loadPending());
  const unsubscribe = ctx.onEvent((type) => {
    if (type.startsWith('BOOTSTRAP_')) later();
  });
  loadPending();
  loadKeys();
  loadConfigs();
  return unsubscribe;
}

// The form that registers a secure ID: typed, pasted, from a QR image or the camera.
function keyForm(say, done) {
  const ep = h('input', { type: 'text', id: 'key-ep', required: true, autocomplete: 'off', spellcheck: false });
  const sid = h('input', { type: 'text', id: 'key-sid', required: true, pattern: '[0-9a-fA-F]{30}', placeholder: '30 hex digits', autocomplete: 'off', spellcheck: false });
  const file = h('input', { type: 'file', id: 'key-qr', accept: 'image/*' });
  const video = h('video.camera', { muted: true, playsInline: true, hidden: true, 'aria-label': 'Camera' });
  const camBtn = h('button', { type: 'button', hidden: !hasCamera() }, 'Scan with the camera');
  const read = h('p.muted', { role: 'status', id: 'key-qr-status' });
  let scan = null;
  const take = (text, from) => {
    const id = secureIdOf(text);
    if (!id) {
      read.textContent = `The QR code from ${from} holds no secure ID ("${text.slice(0, 60)}").`;
      return;
    }
    sid.value = id;
    read.textContent = `Secure ID read from ${from}: ${id}`;
  };
  file.addEventListener('change', async () => {
    if (!file.files.length) return;
    try {
      take(await readQrFile(file.files[0]), file.files[0].name);
    } catch (e) {
      read.textContent = e.message;
    }
  });
  camBtn.addEventListener('click', async () => {
    if (scan) {
      scan.stop();
      return;
    }
    video.hidden = false;
    camBtn.textContent = 'Stop the camera';
    scan = scanCamera(video);
    try {
      const text = await scan.result;
      if (text) take(text, 'the camera');
    } catch (e) {
      read.textContent = e.message;
    }
    scan = null;
    video.hidden = true;
    camBtn.textContent = 'Scan with the camera';
  });
  const form = h('form.keyform', {},
    h('div.grid2', {}, field('Endpoint', ep), field('Secure ID', sid)),
    h('div.row', {}, field('…or read it from a QR code image', file), camBtn),
    video, read,
    h('button.primary', { type: 'submit' }, 'Register the key'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const id = secureIdOf(sid.value);
    if (!id) {
      say('A secure ID is 30 hex digits (`niobium keys` prints it).', 'error');
      return;
    }
    const r = await request('PUT', `/api/bootstrap/expected/${enc(ep.value.trim())}`, { secureId: id });
    say(r.ok ? `${r.data.endpoint}: secure ID ${r.data.secureId} registered` : `Not registered: ${errorText(r)}`, r.ok ? 'ok' : 'error');
    if (r.ok) {
      form.reset();
      read.textContent = '';
      done();
    }
  });
  return form;
}

// The config editor: a name and server accounts (the rest of an existing config, its ACLs
// and deletes, is kept as it was).
function configForm(cfg) {
  const isNew = !cfg;
  const name = h('input', { type: 'text', id: 'cfg-name', required: true, value: cfg ? cfg.endpoint || 'default' : '', readOnly: !isNew, spellcheck: false });
  const discover = h('input', { type: 'checkbox', id: 'cfg-discover', checked: cfg ? !!cfg.discover : true });
  const servers = h('div.servers');
  const addServer = (s = {}) => {
    const id = servers.children.length;
    const uri = h('input', { type: 'text', id: `cfg-uri-${id}`, required: true, value: s.uri || '', placeholder: 'coaps://server.example:5684', spellcheck: false });
    const ssid = h('input', { type: 'number', id: `cfg-ssid-${id}`, min: '1', max: '65534', value: String(s.ssid || 1 + id) });
    const sec = h('select', { id: `cfg-sec-${id}` }, SECURITY.map((m) => h('option', { value: m }, m)));
    sec.value = s.security || 'nosec';
    const lifetime = h('input', { type: 'number', id: `cfg-lt-${id}`, min: '1', value: String(s.lifetime || 300) });
    const binding = h('select', { id: `cfg-b-${id}` }, h('option', { value: 'U' }, 'U'), h('option', { value: 'UQ' }, 'UQ'));
    binding.value = s.binding || 'U';
    const pskId = h('input', { type: 'text', id: `cfg-pskid-${id}`, value: s.psk_identity || '', spellcheck: false });
    const pskKey = h('input', { type: 'password', id: `cfg-pskkey-${id}`, autocomplete: 'new-password', placeholder: s.psk_key_set ? 'set (type a new one to change it)' : 'empty: a fresh key at each bootstrap' });
    const spk = h('input', { type: 'text', id: `cfg-spk-${id}`, value: s.server_public_key || '', placeholder: 'hex DER (rpk, x509)', spellcheck: false });
    const box = h('fieldset.server', {}, h('legend', {}, `Server account ${id + 1}`),
      h('div.grid2', {}, field('Server URI', uri), field('Short server ID', ssid), field('Security', sec), field('Lifetime (s)', lifetime),
        field('Binding', binding), field('PSK identity', pskId), field('PSK key (hex)', pskKey), field('Server public key', spk)));
    box.value = () => {
      const out = { uri: uri.value.trim(), ssid: Number(ssid.value), lifetime: Number(lifetime.value), binding: binding.value, security: sec.value };
      if (sec.value === 'psk' && pskId.value.trim()) out.psk_identity = pskId.value.trim();
      if (sec.value === 'psk' && pskKey.value.trim()) out.psk_key = pskKey.value.trim();
      else if (s.psk_key_set && sec.value === 'psk' && !pskKey.value.trim())
        throw new Error('this account\'s PSK is not handed back by the API: type it again (or clear the identity for fresh keys)');
      if (spk.value.trim()) out.server_public_key = spk.value.trim();
      return out;
    };
    servers.append(box);
  };
  for (const s of (cfg && cfg.servers) || [{}]) addServer(s);
  const el = h('div.cfgform', {},
    field('Endpoint ("default" for every other device)', name),
    h('label.check', { for: 'cfg-discover' }, discover, ' Discover the device\'s accounts first (Bootstrap-Discover)'),
    servers,
    h('button', { type: 'button', onclick: () => addServer({}) }, 'Add a server account'));
  return {
    el,
    name: () => name.value.trim() || 'default',
    value() {
      const base = cfg ? JSON.parse(JSON.stringify(cfg)) : {};
      delete base.endpoint;
      delete base.ca_key_set;
      base.discover = discover.checked;
      base.servers = [...servers.children].map((b) => b.value());
      if (!base.discover) delete base.bootstrap_account;
      return base;
    },
  };
}
