// Devices on a map, placed by their Location object (/6/0: latitude 0, longitude 1), read
// when the map opens and moved by notifications. Leaflet (bundled); map tiles only when the
// operator configured a tile URL (--console-tiles), otherwise a plain background with a
// graticule, on which the positions still show.
import { get, enc } from './api.js';
import { h, clear, throttled, deviceHref } from './ui.js';
import { parseObjectLinks } from './models.js';

const MAX_READS = 500; // devices whose location is read when the map opens
const PARALLEL = 8;

export function mount(root, ctx) {
  const box = h('div.map', { role: 'region', 'aria-label': 'Map of the devices' });
  const status = h('p.muted', { role: 'status' });
  const list = h('tbody');
  root.append(h('section.view.map-view', {},
    h('div.view-head', {}, h('h1', {}, 'Map'),
      h('button', { type: 'button', onclick: () => refresh(true) }, 'Read the locations again')),
    ctx.config.tiles ? null : h('p.notice.info', {}, 'No map tiles are configured (niobium server --console-tiles URL): the devices are placed on a plain background with lines every 30°.'),
    box, status,
    h('div.table-wrap', {}, h('table', {},
      h('thead', {}, h('tr', {}, ['Endpoint', 'Latitude', 'Longitude'].map((t) => h('th', { scope: 'col' }, t)))), list))));

  const L = window.L;
  const map = L.map(box, { worldCopyJump: true, minZoom: 1 }).setView([30, 0], 2);
  if (ctx.config.tiles) {
    const origin = new URL(ctx.config.tiles.replace(/\{s\}\./, '')).host;
    L.tileLayer(ctx.config.tiles, { maxZoom: 19, attribution: `tiles: ${origin}` }).addTo(map);
  } else {
    box.classList.add('no-tiles');
    for (let lat = -60; lat <= 60; lat += 30) L.polyline([[lat, -180], [lat, 180]], { color: '#b8c4d6', weight: 1, interactive: false }).addTo(map);
    for (let lon = -180; lon <= 180; lon += 30) L.polyline([[-85, lon], [85, lon]], { color: '#b8c4d6', weight: 1, interactive: false }).addTo(map);
  }
  const markers = new Map(); // endpoint -> {marker, lat, lon}
  const tried = new Set();
  let stopped = false;

  const place = (ep, lat, lon) => {
    if (!Number.isFinite(lat) || !Number.isFinite(lon)) return;
    const m = markers.get(ep);
    if (m) {
      m.marker.setLatLng([lat, lon]);
      Object.assign(m, { lat, lon });
    } else {
      const marker = L.circleMarker([lat, lon], { radius: 7, color: '#1d3f72', weight: 2, fillColor: '#3b82f6', fillOpacity: 0.85 })
        .bindTooltip(ep)
        .on('click', () => (location.hash = deviceHref(ep)))
        .addTo(map);
      markers.set(ep, { marker, lat, lon });
    }
    paintList();
  };

  const paintList = throttled(() => {
    const rows = [...markers.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    clear(list).append(...rows.map(([ep, m]) => h('tr', {}, h('td', {}, h('a', { href: deviceHref(ep) }, ep)), h('td.num', {}, m.lat.toFixed(5)), h('td.num', {}, m.lon.toFixed(5)))));
  });

  const readOne = async (ep) => {
    const r = await get(`/api/clients/${enc(ep)}/6/0`);
    if (!r.ok || !r.data || !Array.isArray(r.data.content)) return;
    const v = (res) => (r.data.content.find((c) => c.path === `/6/0/${res}`) || {}).value;
    place(ep, Number(v(0)), Number(v(1)));
  };

  const refresh = async (again) => {
    if (again) tried.clear();
    const withLocation = [...ctx.fleet.devices.values()].filter((d) => !d.expired && parseObjectLinks(d.objectLinks).some((o) => o.id === 6 && o.instances.includes(0)));
    const todo = withLocation.filter((d) => !tried.has(d.endpoint)).slice(0, Math.max(0, MAX_READS - tried.size));
    todo.forEach((d) => tried.add(d.endpoint));
    status.textContent = withLocation.length
      ? `${withLocation.length} device${withLocation.length === 1 ? '' : 's'} with a Location object${withLocation.length > MAX_READS ? ` (the first ${MAX_READS} are read)` : ''}.`
      : 'No registered device has a Location object (6).';
    const queue = [...todo];
    await Promise.all(Array.from({ length: PARALLEL }, async () => {
      while (queue.length && !stopped) await readOne(queue.shift().endpoint);
    }));
    if (!stopped && markers.size && todo.length) {
      const bounds = L.latLngBounds([...markers.values()].map((m) => [m.lat, m.lon]));
      map.fitBounds(bounds.pad(0.3), { maxZoom: ctx.config.tiles ? 12 : 5, animate: false });
    }
  };

  const unsubscribe = ctx.onEvent((type, data) => {
    if (type === 'DEREGISTRATION' && markers.has(data.endpoint)) {
      markers.get(data.endpoint).marker.remove();
      markers.delete(data.endpoint);
      paintList();
    }
    if ((type !== 'NOTIFICATION' && type !== 'SEND') || !Array.isArray(data.content)) return;
    const lat = data.content.find((c) => c.path === '/6/0/0');
    const lon = data.content.find((c) => c.path === '/6/0/1');
    if (lat && lon) place(data.endpoint, Number(lat.value), Number(lon.value));
  });
  let pending = null; // new devices are looked at every 2 s at most
  const unfleet = ctx.fleet.subscribe(() => {
    if (!pending) pending = setTimeout(() => ((pending = null), refresh(false)), 2000);
  });
  setTimeout(() => map.invalidateSize(), 0);
  refresh(false);
  return () => {
    stopped = true;
    clearTimeout(pending);
    unsubscribe();
    unfleet();
    map.stop();
    map.remove();
  };
}
