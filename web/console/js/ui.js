// Small DOM helpers shared by the views: element building (text only, never HTML strings, so
// nothing a device or a request sends can become markup), formatting, notices and dialogs.

// h('button.primary', {onclick, type: 'button'}, 'Read') -> element. Attributes: on* are
// listeners, `class`, `dataset`, properties otherwise; children: strings, nodes, arrays, null.
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = [el.className, v].filter(Boolean).join(' ');
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('aria-') || k === 'role' || k === 'for' || k === 'scope' || k === 'colspan')
      el.setAttribute(k, v === true ? '' : v);
    else el[k] = v;
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// A labelled control: <label>text <input ...></label>.
export function field(label, control, hint) {
  return h('label.field', {}, h('span.label', {}, label), control, hint ? h('small.hint', {}, hint) : null);
}

export function fmtTime(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  return d.toLocaleString(undefined, { hour12: false });
}

export function fmtAgo(ms, now = Date.now()) {
  if (!ms) return '';
  const s = Math.round((now - ms) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function fmtDuration(s) {
  if (s === undefined || s === null) return '';
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

// A value as the API gives it, for display.
export function fmtValue(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Math.round(v * 1e6) / 1e6);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return String(v);
}

// Fills a table body with one row per item, or one line saying there is none.
export function fillRows(tbody, items, row, empty, cols) {
  clear(tbody).append(...(items.length ? items.map(row) : [h('tr', {}, h('td.muted', { colspan: cols }, empty))]));
}

// Every item of a list, or null with the reason said (say(text, 'error')).
export async function listOrSay(load, what, say) {
  try {
    return await load();
  } catch (e) {
    say(`${what} cannot be read: ${e.message}`, 'error');
    return null;
  }
}

// A status line that says what happened last ("2.05 Content in 12 ms").
export function notice(el, text, kind = 'info') {
  el.textContent = text;
  el.className = `notice ${kind}`;
  el.hidden = !text;
}

// A modal <dialog> built from content; resolves with the value of the button pressed (or
// null when dismissed).
export function modal(title, content, buttons = [['Close', null]]) {
  return new Promise((resolve) => {
    const dlg = h('dialog.modal', { 'aria-label': title });
    const form = h('form', { method: 'dialog' }, h('h2', {}, title), content,
      h('div.actions', {}, buttons.map(([label, value, cls]) =>
        h(`button${cls ? '.' + cls : ''}`, { value: value === null ? '' : value, type: 'submit' }, label))));
    dlg.append(form);
    dlg.addEventListener('close', () => {
      const v = dlg.returnValue;
      dlg.remove();
      resolve(v === '' ? null : v);
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

// Runs fn once per animation frame at most, however often it is asked.
export function throttled(fn) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      fn();
    });
  };
}

// The hash route of a device.
export const deviceHref = (ep) => `#/devices/${encodeURIComponent(ep)}`;
