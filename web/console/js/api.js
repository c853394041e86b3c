// The REST API of the server that serves this page (same origin, docs/openapi.yaml): JSON in
// and out, the API token asked once and kept for the browser session (sessionStorage, never
// in the page), round-trip times, lists followed page by page through their Link header, and
// the event stream read over fetch (an EventSource cannot send the token).

const TOKEN_KEY = 'niobium.apiToken';
let askToken = null; // async (reason) => token or null, set by the app
let asking = null; // the one prompt in progress, shared by every request that got 401

export function onTokenNeeded(fn) {
  askToken = fn;
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export function hasToken() {
  return sessionStorage.getItem(TOKEN_KEY) !== null;
}

function headers(withBody) {
  const h = { Accept: 'application/json' };
  const t = sessionStorage.getItem(TOKEN_KEY);
  if (t) h.Authorization = `Bearer ${t}`;
  if (withBody) h['Content-Type'] = 'application/json';
  return h;
}

// Asks for a token (once for all the requests that wait: after a 401, or before the first
// request when the server says it needs one); true once one was given.
export async function tokenRefused() {
  if (!askToken) return false;
  if (!asking) {
    const reason = hasToken() ? 'The server refused that token.' : 'This server needs its API token.';
    asking = askToken(reason).finally(() => {
      setTimeout(() => (asking = null), 0);
    });
  }
  const token = await asking;
  if (!token) return false;
  sessionStorage.setItem(TOKEN_KEY, token);
  return true;
}

// <...>; rel="next" of a Link header, or null.
function nextLink(link) {
  const m = link && /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  return m ? m[1] : null;
}

// One request: { status, ok, data, ms, next }. Never throws: a network failure is status 0.
export async function request(method, path, body) {
  for (let attempt = 0; ; attempt++) {
    const t0 = performance.now();
    let res;
    try {
      res = await fetch(path, {
        method,
        headers: headers(body !== undefined),
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (e) {
      return { status: 0, ok: false, data: { error: `the server cannot be reached (${e.message})` }, ms: 0 };
    }
    if (res.status === 401 && attempt < 3 && (await tokenRefused())) continue;
    const text = await res.text();
    const ms = performance.now() - t0;
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = { error: text };
    }
    return { status: res.status, ok: res.ok, data, ms, next: nextLink(res.headers.get('Link')) };
  }
}

export const get = (path) => request('GET', path);

// Every item of a paged list, page after page (onPage(items) as they come, if given).
export async function all(path, onPage) {
  const items = [];
  let url = path;
  while (url) {
    const r = await get(url);
    if (!r.ok) throw new Error(errorText(r));
    if (Array.isArray(r.data)) {
      items.push(...r.data);
      if (onPage) onPage(r.data);
    }
    url = r.next;
  }
  return items;
}

// A sentence for a failed answer: "4.04 no registration for this endpoint".
export function errorText(r) {
  const d = r.data || {};
  const what = d.error || d.status || `HTTP ${r.status}`;
  return d.code ? `${d.code} ${what}` : what;
}

export const enc = encodeURIComponent;

// The server-sent events of /api/events, read over fetch so that the token goes with them;
// reconnects after 3 s. onEvent(type, data); onState('live' | 'reconnecting' | 'closed').
export function openEvents(onEvent, onState) {
  let stopped = false;
  let ctrl = null;
  const dispatch = (block) => {
    let type = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) type = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (!data.length) return;
    let parsed;
    try {
      parsed = JSON.parse(data.join('\n'));
    } catch {
      return;
    }
    onEvent(type, parsed);
  };
  const run = async () => {
    while (!stopped) {
      ctrl = new AbortController();
      try {
        const res = await fetch('/api/events', { headers: headers(false), signal: ctrl.signal, cache: 'no-store', credentials: 'omit' });
        if (res.status === 401) {
          if (!(await tokenRefused())) {
            onState('closed');
            return;
          }
          continue;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        onState('live');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value.replace(/\r\n?/g, '\n');
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            dispatch(buf.slice(0, i));
            buf = buf.slice(i + 2);
          }
        }
      } catch {
        if (stopped) return;
      }
      if (stopped) return;
      onState('reconnecting');
      await new Promise((r) => setTimeout(r, 3000));
    }
  };
  run();
  return {
    close() {
      stopped = true;
      if (ctrl) ctrl.abort();
      onState('closed');
    },
  };
}
