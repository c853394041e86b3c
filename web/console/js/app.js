// The console's shell: navigation by URL hash (#/devices, #/devices/EP, #/map, #/bootstrap,
// #/security), the one event stream every view listens to, the device list kept up to date,
// and the token dialog.
import { openEvents, onTokenNeeded, forgetToken, hasToken, get, tokenRefused } from './api.js';
import { Fleet } from './fleet.js';
import { loadSpecs } from './models.js';
import { h, clear, modal, field } from './ui.js';
import * as devices from './devices.js';
import * as device from './device.js';
import * as map from './map.js';
import * as bootstrap from './bootstrap.js';
import * as security from './security.js';

const main = document.getElementById('main');
const live = document.getElementById('live');
const ctx = {
  fleet: new Fleet(),
  config: { server: true, bootstrap: false },
  listeners: new Set(),
  // Every event of the stream: fn(type, data); returns the unsubscribe function.
  onEvent(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  },
};

onTokenNeeded(async (reason) => {
  const input = h('input', { type: 'password', id: 'token-input', autocomplete: 'off', required: true, minLength: 16 });
  const content = h('div', {},
    h('p', {}, reason),
    h('p.muted', {}, 'It is kept in this browser tab only, and sent with each request to this server.'),
    field('API token', input));
  setTimeout(() => input.focus(), 0);
  const v = await modal('API token', content, [['Use this token', 'ok', 'primary'], ['Cancel', null]]);
  return v === 'ok' && input.value.trim() ? input.value.trim() : null;
});

let wasLive = false;
function onState(state) {
  live.textContent = state === 'live' ? 'live' : state === 'reconnecting' ? 'reconnecting…' : 'offline';
  live.className = `live ${state}`;
  if (state === 'live' && wasLive) ctx.fleet.load(); // catch up on what the gap missed
  if (state === 'live') wasLive = true;
}

function onEvent(type, data) {
  ctx.fleet.onEvent(type, data);
  for (const fn of ctx.listeners) {
    try {
      fn(type, data);
    } catch (e) {
      console.error(e);
    }
  }
}

const views = [
  [/^#\/devices\/(.+)$/, device, 'devices'],
  [/^#\/devices\/?$/, devices, 'devices'],
  [/^#\/map$/, map, 'map'],
  [/^#\/bootstrap$/, bootstrap, 'bootstrap'],
  [/^#\/security$/, security, 'security'],
];

let unmount = null;
function route() {
  const home = ctx.config.server ? '#/devices' : '#/bootstrap';
  const hash = location.hash || home;
  const found = views.find(([re]) => re.test(hash));
  if (!found) {
    location.replace(home);
    return;
  }
  const [re, view, nav] = found;
  if (unmount) unmount();
  unmount = null;
  clear(main);
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const arg = re.exec(hash)[1];
  unmount = view.mount(main, ctx, arg === undefined ? undefined : decodeURIComponent(arg)) || null;
  main.focus({ preventScroll: true });
}

document.getElementById('forget-token').addEventListener('click', () => {
  forgetToken();
  location.reload();
});

async function start() {
  const r = await get('/console/config.json');
  if (r.ok && r.data) ctx.config = r.data;
  // Asked before the first request, so that the browser sees no refused one.
  while (ctx.config.tokenRequired && !hasToken()) {
    if (await tokenRefused()) break;
    const again = h('button.primary', { type: 'button' }, 'Give the API token');
    clear(main).append(h('p.notice.warn', {}, 'The console needs this server\'s API token (niobium server --api-token).'), again);
    await new Promise((res) => again.addEventListener('click', res, { once: true }));
  }
  document.getElementById('forget-token').hidden = !hasToken();
  for (const a of document.querySelectorAll('nav a[data-needs]'))
    a.hidden = !ctx.config[a.dataset.needs];
  if (ctx.config.server) await loadSpecs();
  window.addEventListener('hashchange', route);
  route();
  if (ctx.config.server) ctx.fleet.load();
  openEvents(onEvent, onState);
  setInterval(() => {
    document.getElementById('forget-token').hidden = !hasToken();
  }, 2000);
}

start();
