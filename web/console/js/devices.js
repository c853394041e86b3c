// The device list: search, filters, counts by state, and a virtual scroll (only the rows in
// view are in the DOM), so that 10,000 devices stay smooth.
import { Fleet, STATES } from './fleet.js';
import { h, clear, field, fmtAgo, fmtDuration, throttled, deviceHref } from './ui.js';

const ROW = 40; // px, as .vrow in console.css
const COLUMNS = [
  ['endpoint', 'Endpoint'],
  ['state', 'State'],
  ['lwM2mVersion', 'LwM2M'],
  ['bindingMode', 'Binding'],
  ['lifetime', 'Lifetime'],
  ['lastSeen', 'Last seen'],
  ['securityMode', 'Security'],
  ['address', 'Address'],
];

export function mount(root, { fleet }) {
  const filter = { text: '', state: '', security: '', sort: 'endpoint' };
  let rows = [];
  const search = h('input', { type: 'search', id: 'device-search', placeholder: 'endpoint or address', autocomplete: 'off' });
  const stateSel = h('select', { id: 'device-state' }, h('option', { value: '' }, 'any state'), STATES.map((s) => h('option', { value: s }, s)));
  const secSel = h('select', { id: 'device-security' }, h('option', { value: '' }, 'any security'),
    ['none', 'psk', 'rpk', 'x509'].map((s) => h('option', { value: s }, s)));
  const sortSel = h('select', { id: 'device-sort' }, h('option', { value: 'endpoint' }, 'endpoint'), h('option', { value: 'lastSeen' }, 'last seen, newest first'));
  const counts = h('div.counts', { role: 'group', 'aria-label': 'Devices by state' });
  const status = h('p.muted', { role: 'status' });
  const spacer = h('div.vspacer');
  const body = h('div.vbody', { role: 'rowgroup' });
  const scroller = h('div.vscroll', { tabIndex: 0, 'aria-label': 'Devices' }, spacer, body);
  const head = h('div.vrow.vhead', { role: 'row' }, COLUMNS.map(([k, label]) => h(`div.c-${k}`, { role: 'columnheader' }, label)));

  root.append(
    h('section.view.devices', {},
      h('div.view-head', {}, h('h1', {}, 'Devices'), counts),
      h('div.filters', {}, field('Search', search), field('State', stateSel), field('Security', secSel), field('Sort by', sortSel)),
      status,
      h('div.vtable', { role: 'table', 'aria-label': 'Registered devices' }, head, scroller)));

  const matches = (d) => {
    if (filter.state && Fleet.state(d) !== filter.state) return false;
    if (filter.security && d.securityMode !== filter.security) return false;
    if (filter.text) {
      const t = filter.text;
      return d.endpoint.toLowerCase().includes(t) || (d.address || '').toLowerCase().includes(t);
    }
    return true;
  };

  const renderCounts = () => {
    const c = fleet.counts();
    clear(counts).append(
      ...[['', `${c.all} device${c.all === 1 ? '' : 's'}`], ...STATES.map((s) => [s, `${c[s]} ${s}`])].map(([s, label]) =>
        h(`button.chip.state-${s || 'all'}`, {
          type: 'button',
          'aria-pressed': String(filter.state === s),
          onclick: () => {
            filter.state = s;
            stateSel.value = s;
            refilter();
          },
        }, label)));
  };

  const cell = (d, k) => {
    switch (k) {
      case 'endpoint':
        return h('a', { href: deviceHref(d.endpoint) }, d.endpoint);
      case 'state': {
        const s = Fleet.state(d);
        return h(`span.badge.state-${s}`, {}, s);
      }
      case 'lifetime':
        return fmtDuration(d.lifetime);
      case 'lastSeen':
        return h('time', { dateTime: new Date(d.lastSeen || 0).toISOString(), title: new Date(d.lastSeen || 0).toLocaleString() }, fmtAgo(d.lastSeen));
      default:
        return d[k] === undefined ? '' : String(d[k]);
    }
  };

  // The rows in view (and a few around), placed at their offset.
  const paint = throttled(() => {
    const top = scroller.scrollTop;
    const height = scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW) - 5);
    const last = Math.min(rows.length, Math.ceil((top + height) / ROW) + 5);
    spacer.style.height = `${rows.length * ROW}px`;
    body.style.transform = `translateY(${first * ROW}px)`;
    const now = Date.now();
    clear(body).append(...rows.slice(first, last).map((d, i) =>
      h(`div.vrow.state-${Fleet.state(d)}`, { role: 'row', 'aria-rowindex': first + i + 2, dataset: { ep: d.endpoint } },
        COLUMNS.map(([k]) => h(`div.c-${k}`, { role: 'cell' }, cell(d, k, now))))));
  });

  const refilter = () => {
    rows = [...fleet.devices.values()].filter(matches);
    if (filter.sort === 'lastSeen') rows.sort((a, b) => (b.lastSeen || 0) - (a.lastSeen || 0) || (a.endpoint < b.endpoint ? -1 : 1));
    else rows.sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0));
    const total = fleet.devices.size;
    status.textContent = fleet.error
      ? `The list could not be read: ${fleet.error}`
      : !fleet.loaded
        ? 'Loading the devices…'
        : total === 0
          ? 'No device is registered yet.'
          : `${rows.length} of ${total} shown`;
    renderCounts();
    paint();
  };
  const later = throttled(refilter);

  search.addEventListener('input', () => {
    filter.text = search.value.trim().toLowerCase();
    refilter();
  });
  stateSel.addEventListener('change', () => {
    filter.state = stateSel.value;
    refilter();
  });
  secSel.addEventListener('change', () => {
    filter.security = secSel.value;
    refilter();
  });
  sortSel.addEventListener('change', () => {
    filter.sort = sortSel.value;
    refilter();
  });
  scroller.addEventListener('scroll', paint, { passive: true });
  const ro = new ResizeObserver(paint);
  ro.observe(scroller);
  const unsubscribe = fleet.subscribe(later);
  const tick = setInterval(paint, 10000); // "last seen" ages
  refilter();
  return () => {
    unsubscribe();
    ro.disconnect();
    clearInterval(tick);
  };
}
