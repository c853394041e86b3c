// One device: its registration, its objects and instances as a tree named from the object
// definitions, and per resource read, write (an input typed by the definition), execute (with
// arguments), observe / cancel and write attributes; instances created and deleted; composite
// read; the format used; live charts of observed numbers; the console's request log with CoAP
// codes and round-trip times; signed reads and the evidence the server keeps.
import { request, get, enc, errorText } from './api.js';
import { Fleet } from './fleet.js';
import * as M from './models.js';
import { LiveChart } from './chart.js';
import { h, clear, field, fmtTime, fmtAgo, fmtDuration, fmtValue, notice, modal } from './ui.js';

const FORMATS = ['', 'senml-cbor', 'senml-json', 'tlv', 'json', 'cbor', 'text', 'opaque'];
const MAX_CHARTS = 8;
const LOG_MAX = 200;
const logs = new Map(); // endpoint -> request log, kept while the tab lives

const pathOf = (...ids) => '/' + ids.join('/');

export function mount(root, ctx, ep) {
  const d = new DeviceView(root, ctx, ep);
  d.start();
  return () => d.stop();
}

class DeviceView {
  constructor(root, ctx, ep) {
    this.root = root;
    this.ctx = ctx;
    this.ep = ep;
    this.values = new Map(); // path -> {value, type}
    this.cells = new Map(); // path -> value cell
    this.observed = new Map(); // path -> observation id
    this.charts = new Map(); // path -> LiveChart
    this.log = logs.get(ep) || [];
    logs.set(ep, this.log);
    this.linksShown = null;
  }

  api(suffix) {
    return `/api/clients/${enc(this.ep)}${suffix}`;
  }

  // ---- frame ----

  start() {
    this.head = h('div.device-head');
    this.tree = h('div.tree', { 'aria-label': 'Objects' });
    this.result = h('div.result', { 'aria-live': 'polite' });
    this.status = h('p.notice', { role: 'status', hidden: true });
    this.chartBox = h('div.charts');
    this.chartNote = h('p.muted', {}, 'Observe a numeric resource (a temperature, a meter\'s power) to plot its values here as they arrive.');
    this.logBody = h('tbody');
    this.evidence = h('div.evidence');
    this.format = h('select', { id: 'dev-format' }, FORMATS.map((f) => h('option', { value: f }, f || "device's choice")));
    this.signed = h('input', { type: 'checkbox', id: 'dev-signed' });
    this.compositeIn = h('input', { type: 'text', id: 'dev-composite', placeholder: '/3/0/0 /3/0/9 /3303/0/5700', spellcheck: false });
    this.root.append(
      h('section.view.device', {},
        h('p', {}, h('a', { href: '#/devices' }, '← Devices')),
        this.head,
        h('div.toolbar', {},
          field('Format', this.format),
          h('label.check', { for: 'dev-signed' }, this.signed, ' Signed (COSE)'),
          h('form.inline', { onsubmit: (e) => { e.preventDefault(); this.composite(); } },
            field('Composite read', this.compositeIn),
            h('button', { type: 'submit' }, 'Read paths'))),
        this.status,
        h('div.device-grid', {},
          h('div.col', {}, h('h2', {}, 'Objects'), this.tree),
          h('div.col', {},
            h('h2', {}, 'Live values'), this.chartNote, this.chartBox,
            h('h2', {}, 'Last answer'), this.result,
            h('h2', {}, 'Request log'),
            h('p.muted', {}, 'Requests from this console to the device: the CoAP code it answered and the round trip through the server.'),
            h('div.table-wrap', {}, h('table.log', {},
              h('thead', {}, h('tr', {}, ['Time', 'Operation', 'Path', 'Format', 'Code', 'Round trip'].map((t) => h('th', { scope: 'col' }, t)))),
              this.logBody)),
            h('h2', {}, 'Signed evidence'),
            h('p.muted', {}, 'Signed answers (COSE_Sign1) the server verified and keeps for this endpoint.'),
            h('button', { type: 'button', onclick: () => this.loadEvidence() }, 'Show evidence'),
            this.evidence))));
    this.renderLog();
    this.unsubscribe = this.ctx.onEvent((type, data) => this.onEvent(type, data));
    this.unfleet = this.ctx.fleet.subscribe((ep) => {
      if (!ep || ep === this.ep) this.renderHead();
    });
    this.renderHead();
    this.loadObservations();
  }

  stop() {
    this.unsubscribe();
    this.unfleet();
    for (const c of this.charts.values()) c.destroy();
  }

  say(text, kind) {
    notice(this.status, text, kind);
  }

  // ---- registration ----

  async renderHead() {
    let reg = this.ctx.fleet.get(this.ep);
    if (!reg && this.ctx.fleet.loaded) {
      const r = await get(this.api(''));
      if (r.ok) reg = r.data;
    }
    clear(this.head);
    if (!reg) {
      this.head.append(h('h1', {}, this.ep), h('p.notice.warn', {}, this.ctx.fleet.loaded ? 'This device is not registered.' : 'Loading…'));
      return;
    }
    const state = Fleet.state(reg);
    const facts = [
      ['State', h(`span.badge.state-${state}`, {}, state)],
      ['LwM2M', reg.lwM2mVersion],
      ['Binding', `${reg.bindingMode}${reg.queueMode ? ' (queue mode)' : ''}`],
      ['Lifetime', fmtDuration(reg.lifetime)],
      ['Last seen', fmtAgo(reg.lastSeen || reg.lastUpdate)],
      ['Security', reg.securityMode + (reg.identity ? ` (${reg.identity})` : '')],
      ['Address', reg.address],
      ['Registered', fmtTime(reg.registrationDate)],
      ['Expires', fmtTime(reg.expiresAt)],
      ['Registration ID', reg.registrationId],
    ];
    this.head.append(h('h1', {}, reg.endpoint),
      h('dl.facts', {}, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
    if (reg.objectLinks !== this.linksShown) {
      this.linksShown = reg.objectLinks;
      this.renderTree(reg.objectLinks);
    }
  }

  // ---- the tree ----

  renderTree(links) {
    clear(this.tree);
    this.cells.clear();
    const objects = M.parseObjectLinks(links);
    if (!objects.length) this.tree.append(h('p.muted', {}, 'The device lists no object.'));
    for (const o of objects) this.tree.append(this.objectNode(o));
  }

  objectNode(o) {
    const spec = M.objectSpec(o.id);
    const name = spec ? spec.name : 'Unknown object (no definition: see --ddf)';
    const node = h('details.object', { open: o.id === 3, dataset: { object: String(o.id) } },
      h('summary', {}, h('span.obj-name', {}, name), ' ', h('code', {}, `/${o.id}`), o.version ? h('span.muted', {}, ` v${o.version}`) : null),
      h('div.actions', {},
        this.button('Read', `Read /${o.id}`, () => this.read(pathOf(o.id))),
        this.button('Discover', `Discover /${o.id}`, () => this.discover(pathOf(o.id))),
        !spec || spec.instancetype === 'multiple' || !o.instances.length ? this.button('Create instance…', `Create an instance of /${o.id}`, () => this.createDialog(o)) : null));
    for (const i of o.instances) node.append(this.instanceNode(o.id, i, spec));
    return node;
  }

  button(label, title, onclick, cls) {
    return h(`button${cls ? '.' + cls : ''}`, { type: 'button', title, 'aria-label': title, onclick }, label);
  }

  instanceNode(obj, inst, spec) {
    const path = pathOf(obj, inst);
    const rows = h('tbody');
    const resources = spec ? spec.resourcedefs : [];
    for (const r of resources) rows.append(this.resourceRow(obj, inst, r));
    this.extraRows = this.extraRows || new Map();
    this.extraRows.set(path, rows);
    return h('div.instance', { dataset: { path } },
      h('div.inst-head', {},
        h('h3', {}, h('code', {}, path)),
        h('div.actions', {},
          this.button('Read', `Read ${path}`, () => this.read(path)),
          this.observeButton(path),
          this.button('Attributes…', `Write attributes of ${path}`, () => this.attributesDialog(path)),
          this.button('Delete', `Delete ${path}`, () => this.deleteInstance(path), 'danger'))),
      h('div.table-wrap', {}, h('table.resources', {},
        h('thead', {}, h('tr', {}, ['ID', 'Resource', 'Value', 'Operations'].map((t) => h('th', { scope: 'col' }, t)))),
        rows)));
  }

  resourceRow(obj, inst, r) {
    const path = pathOf(obj, inst, r.id);
    const value = h('td.value', { dataset: { path } });
    this.cells.set(path, value);
    this.paintValue(path);
    const ops = h('td.ops');
    const row = h('tr', { dataset: { path } },
      h('td', {}, r.id),
      h('th', { scope: 'row' }, r.name, r.mandatory ? h('span.muted', { title: 'mandatory' }, ' *') : null,
        h('div.muted.small', {}, `${r.operations === 'NONE' ? '' : r.operations} ${r.type === 'none' ? '' : r.type}${r.instancetype === 'multiple' ? ', multiple' : ''}`)),
      value, ops);
    if (M.readable(r) && r.operations !== 'NONE') {
      ops.append(this.button('Read', `Read ${path}`, () => this.read(path)), this.observeButton(path));
      ops.append(this.button('Attr…', `Write attributes of ${path}`, () => this.attributesDialog(path)));
    }
    if (M.writable(r) && r.operations.includes('W')) ops.append(this.button('Write…', `Write ${path}`, () => this.writeForm(row, path, r)));
    if (M.executable(r)) ops.append(this.button('Execute…', `Execute ${path}`, () => this.executeForm(row, path, r)));
    return row;
  }

  // A resource seen in an answer that the definitions do not list.
  unknownRow(path) {
    const ids = path.split('/').filter(Boolean).map(Number);
    const rows = this.extraRows && this.extraRows.get(pathOf(ids[0], ids[1]));
    if (!rows || ids.length < 3) return;
    const rpath = pathOf(ids[0], ids[1], ids[2]);
    if (this.cells.has(rpath)) return;
    rows.append(this.resourceRow(ids[0], ids[1], { id: ids[2], name: 'Unknown resource', operations: 'RW', type: 'string', instancetype: 'single', mandatory: false }));
  }

  observeButton(path) {
    const b = h('button.observe', { type: 'button', dataset: { observe: path } });
    b.addEventListener('click', () => (this.observed.has(path) ? this.cancelObserve(path) : this.observe(path)));
    this.paintObserve(b, path);
    return b;
  }

  paintObserve(b, path) {
    const on = this.observed.has(path);
    b.textContent = on ? 'Cancel observe' : 'Observe';
    b.setAttribute('aria-label', `${on ? 'Cancel the observation of' : 'Observe'} ${path}`);
    b.setAttribute('aria-pressed', String(on));
  }

  repaintObserveButtons() {
    for (const b of this.root.querySelectorAll('button[data-observe]')) this.paintObserve(b, b.dataset.observe);
  }

  // ---- values ----

  setValue(path, value, type) {
    this.values.set(path, { value, type });
    const ids = path.split('/').filter(Boolean);
    const rpath = ids.length === 4 ? '/' + ids.slice(0, 3).join('/') : path;
    if (!this.cells.has(rpath)) this.unknownRow(path);
    this.paintValue(rpath);
  }

  paintValue(rpath) {
    const cell = this.cells.get(rpath);
    if (!cell) return;
    const ids = rpath.split('/').filter(Boolean);
    const r = M.resourceSpec(ids[0], ids[2]);
    const units = r && r.units ? ` ${r.units}` : '';
    const single = this.values.get(rpath);
    clear(cell);
    const show = (v) => (r && r.type === 'time' && typeof v === 'number' ? h('time', { dateTime: new Date(v * 1000).toISOString(), title: String(v) }, fmtTime(v * 1000)) : fmtValue(v));
    if (single) {
      cell.append(h('span.v', {}, show(single.value), units ? h('span.units', {}, units) : null));
      return;
    }
    const multi = [...this.values.entries()].filter(([p]) => p.startsWith(rpath + '/'));
    for (const [p, v] of multi) cell.append(h('div.v', {}, h('span.muted', {}, `${p.slice(rpath.length + 1)}: `), show(v.value), units));
  }

  applyRecords(content, ts) {
    for (const rec of content || []) {
      this.setValue(rec.path, rec.value, rec.type);
      this.chartValue(rec.path, rec.value, ts || Date.now());
    }
  }

  // ---- operations ----

  query(extra = {}) {
    const q = new URLSearchParams(extra);
    if (this.signed.checked) q.set('format', 'cose');
    else if (this.format.value) q.set('format', this.format.value);
    const s = q.toString();
    return s ? `?${s}` : '';
  }

  // Runs one request to the device, logs it, shows its answer; returns the response.
  async call(op, method, suffix, path, body) {
    const fmt = this.signed.checked ? 'cose' : this.format.value || '';
    this.say(`${op} ${path}…`, 'info');
    let r = await request(method, suffix, body);
    if (r.status === 202 && r.data && r.data.requestId !== undefined) r = await this.waitQueued(op, path, r);
    const entry = {
      at: Date.now(), op, path,
      format: (r.data && r.data.format) || fmt || 'default',
      code: (r.data && r.data.code) || (r.status ? `HTTP ${r.status}` : '-'),
      status: r.ok ? (r.data && r.data.status) || 'ok' : errorText(r),
      ms: r.ms, ok: r.ok,
    };
    this.log.unshift(entry);
    if (this.log.length > LOG_MAX) this.log.length = LOG_MAX;
    this.renderLog();
    this.say(r.ok ? `${op} ${path}: ${entry.code} ${entry.status} in ${Math.round(r.ms)} ms` : `${op} ${path} failed: ${errorText(r)}`, r.ok ? 'ok' : 'error');
    this.showResult(op, path, r);
    return r;
  }

  // A request queued for a sleeping device: its result when it comes (GET /api/requests/{id}
  // where the server has it), else the answer says it is queued.
  async waitQueued(op, path, first) {
    const id = first.data.requestId;
    this.say(`${op} ${path}: queued until the device wakes (request ${id})`, 'info');
    for (let i = 0; i < 200; i++) {
      await new Promise((res) => setTimeout(res, 3000));
      const r = await get(`/api/requests/${enc(String(id))}`);
      if (r.status === 404 || r.status === 405) return first; // no such route here, or gone
      if (r.ok && r.data && !['QUEUED', 'SENT', 'PENDING'].includes(String(r.data.status).toUpperCase())) return { ...r, ms: r.ms };
    }
    return first;
  }

  showResult(op, path, r) {
    clear(this.result);
    const d = r.data || {};
    this.result.append(h('p', {}, h('strong', {}, `${op} ${path}`), ' — ',
      h(`span.code${r.ok ? '.ok' : '.err'}`, {}, d.code || `HTTP ${r.status}`), ' ', r.ok ? d.status || '' : errorText(r),
      d.format ? h('span.muted', {}, ` · format ${d.format}`) : null,
      h('span.muted', {}, ` · ${Math.round(r.ms)} ms`)));
    if (Array.isArray(d.content) && d.content.length) {
      this.result.append(h('div.table-wrap', {}, h('table.values', {},
        h('thead', {}, h('tr', {}, ['Path', 'Resource', 'Value', 'Type'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, d.content.map((rec) => {
          const ids = rec.path.split('/').filter(Boolean);
          const rs = M.resourceSpec(ids[0], ids[2]);
          return h('tr', {}, h('td', {}, h('code', {}, rec.path)), h('td', {}, rs ? rs.name : ''),
            h('td', {}, fmtValue(rec.value), rs && rs.units ? ` ${rs.units}` : ''), h('td.muted', {}, rec.type));
        })))));
    }
    if (d.links) this.result.append(h('pre.links', {}, d.links.split(',').join(',\n')));
    if (d.location) this.result.append(h('p', {}, 'Created at ', h('code', {}, d.location)));
    if (d.observationId !== undefined) this.result.append(h('p.muted', {}, `observation ${d.observationId}`));
    if (d.status === 'QUEUED') this.result.append(h('p.muted', {}, `Queued as request ${d.requestId}: it is sent when the device wakes.`));
    if (d.signature) {
      const s = d.signature;
      this.result.append(h(`p.signature${s.valid ? '.ok' : '.err'}`, {},
        s.valid ? 'Signed by the device, signature valid' : 'Signature refused',
        s.kid ? ` · key ID ${s.kid}` : '', s.iat ? ` · signed at ${fmtTime(s.iat * 1000)}` : ''));
    }
  }

  renderLog() {
    clear(this.logBody).append(...(this.log.length ? this.log.map((e) =>
      h(`tr${e.ok ? '' : '.failed'}`, {}, h('td', {}, new Date(e.at).toLocaleTimeString(undefined, { hour12: false })), h('td', {}, e.op),
        h('td', {}, h('code', {}, e.path)), h('td', {}, e.format), h('td', {}, h('span.code', { title: e.status }, e.code)),
        h('td.num', {}, `${Math.round(e.ms)} ms`))) : [h('tr', {}, h('td.muted', { colspan: 6 }, 'No request yet.'))]));
  }

  async read(path) {
    const r = await this.call('Read', 'GET', this.api(path + this.query()), path);
    if (r.ok) this.applyRecords(r.data.content);
  }

  async discover(path) {
    await this.call('Discover', 'GET', this.api(`${path}/discover`), path);
  }

  async composite() {
    const paths = this.compositeIn.value.split(/[\s,]+/).filter(Boolean);
    if (!paths.length) {
      this.say('Give one or more paths, e.g. /3/0/0 /3303/0/5700', 'error');
      return;
    }
    const r = await this.call('Composite read', 'POST', this.api(`/composite${this.query()}`), paths.join(' '), { paths });
    if (r.ok) this.applyRecords(r.data.content);
  }

  async observe(path) {
    const r = await this.call('Observe', 'POST', this.api(`${path}/observe${this.query()}`), path);
    if (!r.ok) return;
    this.observed.set(path, r.data.observationId);
    this.repaintObserveButtons();
    this.applyRecords(r.data.content);
    this.prefillChart(path);
  }

  async cancelObserve(path) {
    const r = await this.call('Cancel observe', 'DELETE', this.api(`${path}/observe`), path);
    if (r.ok || r.status === 404) this.observed.delete(path);
    this.repaintObserveButtons();
  }

  async loadObservations() {
    const r = await get(this.api('/observations'));
    if (!r.ok || !Array.isArray(r.data)) return;
    for (const o of r.data) if (!o.composite) this.observed.set(o.paths, o.observationId);
    this.repaintObserveButtons();
    for (const p of this.observed.keys()) this.prefillChart(p);
  }

  writeForm(row, path, r) {
    if (row.nextSibling && row.nextSibling.classList && row.nextSibling.classList.contains('inline-form')) return;
    const multiple = r.instancetype === 'multiple';
    const id = `w-${path.replace(/\//g, '-')}`;
    const cur = this.values.get(path);
    const input = M.valueInput(r, id, cur ? cur.value : undefined);
    const ri = multiple ? h('input', { type: 'number', id: `${id}-ri`, min: '0', step: '1', value: '0' }) : null;
    const form = h('form.inline', {},
      multiple ? field('Instance', ri) : null,
      field(`New value (${r.type})`, input),
      h('button.primary', { type: 'submit' }, 'Write'),
      h('button', { type: 'button', onclick: () => tr.remove() }, 'Cancel'));
    const tr = h('tr.inline-form', {}, h('td', { colspan: 4 }, form));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      let value;
      try {
        value = M.valueOf(input);
      } catch (err) {
        this.say(`${path}: ${err.message}`, 'error');
        input.focus();
        return;
      }
      const target = multiple ? `${path}/${Number(ri.value) || 0}` : path;
      const res = await this.call('Write', 'PUT', this.api(target + this.writeQuery()), target, { value });
      if (res.ok) {
        tr.remove();
        this.read(path);
      }
    });
    row.after(tr);
    input.focus();
  }

  // Writes carry no signature: only a chosen codec goes with them.
  writeQuery() {
    return this.format.value && !this.signed.checked ? `?format=${enc(this.format.value)}` : '';
  }

  executeForm(row, path) {
    if (row.nextSibling && row.nextSibling.classList && row.nextSibling.classList.contains('inline-form')) return;
    const id = `x-${path.replace(/\//g, '-')}`;
    const args = h('input', { type: 'text', id, placeholder: "0='text',1", spellcheck: false });
    const form = h('form.inline', {},
      field('Arguments (optional)', args),
      h('button.primary', { type: 'submit' }, 'Execute'),
      h('button', { type: 'button', onclick: () => tr.remove() }, 'Cancel'));
    const tr = h('tr.inline-form', {}, h('td', { colspan: 4 }, form));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = args.value.trim() ? { args: args.value.trim() } : undefined;
      const res = await this.call('Execute', 'POST', this.api(path), path, body);
      if (res.ok) tr.remove();
    });
    row.after(tr);
    args.focus();
  }

  async attributesDialog(path) {
    const names = [['pmin', 'Minimum period (s)'], ['pmax', 'Maximum period (s)'], ['gt', 'Greater than'], ['lt', 'Less than'], ['st', 'Step'], ['epmin', 'Minimum evaluation period (s)'], ['epmax', 'Maximum evaluation period (s)']];
    const inputs = names.map(([k]) => h('input', { type: 'number', step: 'any', id: `attr-${k}`, name: k }));
    const content = h('div.grid2', {}, names.map(([k, label], i) => field(`${label} (${k})`, inputs[i])));
    const v = await modal(`Write attributes of ${path}`, content, [['Write attributes', 'ok', 'primary'], ['Cancel', null]]);
    if (v !== 'ok') return;
    const q = new URLSearchParams();
    names.forEach(([k], i) => {
      if (inputs[i].value !== '') q.set(k, inputs[i].value);
    });
    if (![...q.keys()].length) {
      this.say('No attribute given.', 'error');
      return;
    }
    await this.call('Write attributes', 'PUT', this.api(`${path}/attributes?${q}`), path);
  }

  async createDialog(o) {
    const spec = M.objectSpec(o.id);
    const next = o.instances.length ? Math.max(...o.instances) + 1 : 0;
    const idIn = h('input', { type: 'number', id: 'create-id', min: '0', max: '65534', step: '1', value: String(next) });
    const resources = spec ? spec.resourcedefs.filter((r) => r.operations.includes('W') || r.mandatory).filter((r) => r.operations !== 'E') : [];
    const inputs = resources.map((r) => [r, M.valueInput(r, `create-${r.id}`)]);
    const content = h('div', {}, field('Instance ID', idIn),
      inputs.length ? h('p.muted', {}, 'Values (leave empty to omit):') : h('p.muted', {}, 'No writable resource is defined: the instance is created empty.'),
      h('div.grid2', {}, inputs.map(([r, el]) => field(`${r.name} (${r.id})${r.mandatory ? ' *' : ''}`, el))));
    const v = await modal(`Create an instance of ${M.objectName(o.id)} (/${o.id})`, content, [['Create', 'ok', 'primary'], ['Cancel', null]]);
    if (v !== 'ok') return;
    const inst = Number(idIn.value);
    const records = [];
    try {
      for (const [r, el] of inputs) {
        if (el.value.trim() === '' && r.type !== 'boolean') continue;
        records.push({ path: pathOf(o.id, inst, r.id), value: M.valueOf(el) });
      }
    } catch (e) {
      this.say(e.message, 'error');
      return;
    }
    const r = await this.call('Create', 'POST', this.api(`/${o.id}${this.writeQuery()}`), `/${o.id}/${inst}`, { content: records });
    if (r.ok) this.ctx.fleet.load();
  }

  async deleteInstance(path) {
    const v = await modal('Delete an instance', h('p', {}, `Delete ${path} on ${this.ep}? The device removes the instance and its values.`),
      [['Delete', 'ok', 'danger'], ['Cancel', null]]);
    if (v !== 'ok') return;
    const r = await this.call('Delete', 'DELETE', this.api(path), path);
    if (r.ok) this.ctx.fleet.load();
  }

  async loadEvidence() {
    clear(this.evidence).append(h('p.muted', {}, 'Loading…'));
    const r = await get(this.api('/evidence?limit=50'));
    clear(this.evidence);
    if (!r.ok) {
      this.evidence.append(h('p.notice.error', {}, errorText(r)));
      return;
    }
    if (!r.data.length) {
      this.evidence.append(h('p.muted', {}, 'No signed answer kept yet: tick "Signed (COSE)" and read from a device with a raw public key or a certificate.'));
      return;
    }
    this.evidence.append(h('div.table-wrap', {}, h('table', {},
      h('thead', {}, h('tr', {}, ['Received', 'Kind', 'Path', 'Key ID', 'Signed at', 'COSE'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, r.data.map((e) => h('tr', {}, h('td', {}, fmtTime(e.at)), h('td', {}, e.kind), h('td', {}, h('code', {}, e.path)),
        h('td', {}, h('code', {}, e.kid)), h('td', {}, e.iat ? fmtTime(e.iat * 1000) : ''),
        h('td', {}, h('button', { type: 'button', onclick: () => download(e), 'aria-label': `Download the COSE message of ${e.path}` }, 'Download'))))))));
  }

  // ---- live values ----

  isObserved(path) {
    for (const p of this.observed.keys()) if (path === p || path.startsWith(p + '/')) return true;
    return false;
  }

  chartValue(path, value, ts) {
    if (typeof value !== 'number' || !this.isObserved(path)) return;
    let c = this.charts.get(path);
    if (!c) {
      if (this.charts.size >= MAX_CHARTS) return;
      const ids = path.split('/').filter(Boolean);
      const r = M.resourceSpec(ids[0], ids[2]);
      const box = h('div.chart', { dataset: { path } });
      this.chartBox.append(box);
      this.chartNote.hidden = true;
      c = new LiveChart(box, `${r ? r.name : 'Resource'} ${path}`, r ? r.units : '');
      this.charts.set(path, c);
    }
    c.push(ts, value);
    const box = this.chartBox.querySelector(`[data-path="${CSS.escape(path)}"]`);
    if (box) box.dataset.points = String(c.points);
  }

  async prefillChart(path) {
    const r = await get(this.api(`${path}/history`));
    if (!r.ok || !Array.isArray(r.data)) return;
    for (const series of r.data) for (const v of series.values || []) this.chartValue(series.path, v.value, v.timestamp);
  }

  onEvent(type, data) {
    if (data.endpoint !== this.ep) return;
    if (type === 'NOTIFICATION' || type === 'SEND') {
      this.applyRecords(data.content, data.timestamp);
    } else if (type === 'DEREGISTRATION' || type === 'EXPIRED') {
      this.observed.clear();
      this.repaintObserveButtons();
    }
  }
}

function download(e) {
  const bin = atob(e.cose);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const a = h('a', { href: URL.createObjectURL(new Blob([bytes], { type: 'application/cose' })), download: `${e.kind}-${e.path.replace(/\//g, '_')}-${e.at}.cose` });
  document.body.append(a);
  a.click();
  setTimeout(() => {
    URL.revokeObjectURL(a.href);
    a.remove();
  }, 1000);
}
