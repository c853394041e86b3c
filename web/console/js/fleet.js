// The registered devices as the console knows them: every page of GET /api/clients at the
// start (and again after the event stream reconnects, so nothing missed stays wrong), then
// kept up to date by the events (REGISTRATION, UPDATED, DEREGISTRATION, EXPIRED, AWAKE,
// SLEEPING, NOTIFICATION). An expired device stays, marked, until it registers again.
import { all } from './api.js';

export const STATES = ['registered', 'sleeping', 'expired'];

export class Fleet {
  constructor() {
    this.devices = new Map(); // endpoint -> registration (+ expired, lastSeen)
    this.listeners = new Set();
    this.loaded = false;
    this.error = '';
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed(ep) {
    for (const fn of this.listeners) fn(ep);
  }

  async load() {
    const seen = new Set();
    try {
      await all('/api/clients?limit=1000', (page) => {
        for (const d of page) {
          seen.add(d.endpoint);
          this.put(d);
        }
        this.changed();
      });
      for (const [ep, d] of this.devices) if (!seen.has(ep) && !d.expired) this.devices.delete(ep);
      this.error = '';
    } catch (e) {
      this.error = e.message;
    }
    this.loaded = true;
    this.changed();
  }

  put(reg) {
    const old = this.devices.get(reg.endpoint);
    const d = { ...reg, expired: false, lastSeen: Math.max(reg.lastUpdate || 0, old ? old.lastSeen || 0 : 0) };
    this.devices.set(reg.endpoint, d);
  }

  get(ep) {
    return this.devices.get(ep);
  }

  static state(d) {
    if (d.expired) return 'expired';
    if (d.queueMode && !d.awake) return 'sleeping';
    return 'registered';
  }

  onEvent(type, data) {
    const ep = data && data.endpoint;
    if (!ep) return;
    const d = this.devices.get(ep);
    switch (type) {
      case 'REGISTRATION':
      case 'UPDATED':
        this.put(data);
        if (data.timestamp) this.devices.get(ep).lastSeen = data.timestamp;
        break;
      case 'DEREGISTRATION':
        this.devices.delete(ep);
        break;
      case 'EXPIRED':
        if (d) Object.assign(d, { expired: true, awake: false });
        break;
      case 'AWAKE':
      case 'SLEEPING':
        if (d) {
          d.awake = type === 'AWAKE';
          if (type === 'AWAKE' && data.timestamp) d.lastSeen = data.timestamp;
        }
        break;
      case 'NOTIFICATION':
      case 'SEND':
        if (d && data.timestamp) d.lastSeen = Math.max(d.lastSeen || 0, data.timestamp);
        break;
      default:
        return;
    }
    this.changed(ep);
  }

  counts() {
    const c = { all: 0, registered: 0, sleeping: 0, expired: 0 };
    for (const d of this.devices.values()) {
      c.all++;
      c[Fleet.state(d)]++;
    }
    return c;
  }
}
