// Devices on a map, placed by their Location object (/6/0: latitude 0, longitude 1), read
// when the map opens and moved by notifications. Leaflet (bundled); map tiles only when the
// operator configured a tile URL (--console-tiles), otherwise a plain background with a
// graticule, on which the positions still show.
import { get, enc } from './api.js';
import { h, clear, throttled, deviceHref } from './ui.js';
import { parseObjectLinks } from './models.js';

const MAX_READS = 500; // devices whose location is read when the map opens
const PARALLEL = 8;
const GRID_STEPS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30]; // degrees
const GRID_PX = 90; // the least distance between two lines
const GRID_STYLE = { color: '#b8c4d6', weight: 1, interactive: false };

// Lines of latitude and longitude for the view, about GRID_PX pixels apart on each axis, each
// labelled with its degrees; drawn again when the view moves.
function graticule(L, map) {
  const layer = L.layerGroup().addTo(map);
  const label = (at, text) => L.marker(at, { interactive: false, keyboard: false, icon: L.divIcon({ className: 'grid-label', html: text, iconSize: null }) });
  const draw = () => {
    const b = map.getBounds();
    const south = Math.max(-85, b.getSouth()), north = Math.min(85, b.getNorth());
    const west = b.getWest(), east = b.getEast();
    const size = map.getSize();
    const lines = (from, to, pixels) => {
      const step = GRID_STEPS.find((s) => (s * pixels) / (to - from) >= GRID_PX) || GRID_STEPS[GRID_STEPS.length - 1];
      const digits = Math.max(0, -Math.floor(Math.log10(step)));
      const out = [];
      for (let i = Math.ceil(from / step); i * step <= to && out.length < 200; i++) out.push([i * step, digits]);
      return out;
    };
    layer.clearLayers();
    for (const [lat, digits] of lines(south, north, size.y * ((north - south) / (b.getNorth() - b.getSouth())))) {
      L.polyline([[lat, west], [lat, east]], GRID_STYLE).addTo(layer);
      label([lat, west], `${lat.toFixed(digits)}°`).addTo(layer);
    }
    for (const [lon, digits] of lines(west, east, size.x)) {
      L.polyline([[south, lon], [north, lon]], GRID_STYLE).addTo(layer);
      label([north, lon], `${(((lon + 540) % 360) - 180).toFixed(digits)}°`).addTo(layer);
    }
  };
  map.on('moveend', draw);
  map.whenReady(draw);
}

export function mount(root, ctx) {
  const box = h('div.map', { role: 'region', 'aria-label': 'Map of the devices' });
  const status = h('p.muted', { role: 'status' });
  const list = h('tbody');
  root.append(h('section.view.map-view', {},
    h('div.view-head', {}, h('h1', {}, 'Map'),
      h('button', { type: 'button', onclick: () => refresh(true) }, 'Read the locations again')),
    ctx.config.tiles ? null : h('p.notice.info', {}, 'No map tiles are configured (niobium server --console-tiles URL): the devices are placed on a plain background with lines of latitude and longitude, labelled, closer as you zoom in.'),
    box, status,
    h('div.table-wrap', {}, h('table', {},
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Endpoint'), ['Latitude', 'Longitude'].map((t) => h('th.num', { scope: 'col' }, t)))), list))));

  const L = window.L;
  const map = L.map(box, { worldCopyJump: true, minZoom: 1 }).setView([30, 0], 2);
  if (ctx.config.tiles) {
    const origin = new URL(ctx.config.tiles.replace(/\{s\}\./, '')).host;
    L.tileLayer(ctx.config.tiles, { maxZoom: 19, attribution: `tiles: ${origin}` }).addTo(map);
  } else {
    box.classList.add('no-tiles');
    graticule(L, map);
  }
  L.control.scale({ position: 'bottomleft' }).addTo(map);
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
