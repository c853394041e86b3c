// Object definitions the server knows (GET /api/objectspecs: built-in and --ddf), to name
// objects and resources, show units, and build inputs typed by the definition.
import { all } from './api.js';
import { h } from './ui.js';

const specs = new Map();
let loading = null;

export function loadSpecs() {
  if (!loading)
    loading = all('/api/objectspecs?limit=1000')
      .then((list) => {
        for (const o of list) specs.set(o.id, o);
        return specs;
      })
      .catch(() => specs);
  return loading;
}

export const objectSpec = (id) => specs.get(Number(id));

export function resourceSpec(obj, res) {
  const o = specs.get(Number(obj));
  return o ? o.resourcedefs.find((r) => r.id === Number(res)) : undefined;
}

export function objectName(id) {
  const o = specs.get(Number(id));
  return o ? o.name : 'Unknown object';
}

export const readable = (r) => !r || r.operations.includes('R');
export const writable = (r) => !r || r.operations.includes('W');
export const executable = (r) => !!r && r.operations === 'E';
export const numeric = (r) => !!r && ['integer', 'unsigned_integer', 'float', 'time'].includes(r.type);

// An input for one value of resource r ({value} read back by valueOf). Labelled by the caller.
export function valueInput(r, id, current) {
  const type = r ? r.type : 'string';
  let el;
  if (type === 'boolean') {
    el = h('select', { id }, h('option', { value: 'true' }, 'true'), h('option', { value: 'false' }, 'false'));
    if (current === false) el.value = 'false';
  } else if (type === 'integer' || type === 'unsigned_integer' || type === 'time') {
    el = h('input', { id, type: 'number', step: '1', min: type === 'integer' ? undefined : '0', inputMode: 'numeric' });
  } else if (type === 'float') {
    el = h('input', { id, type: 'number', step: 'any', inputMode: 'decimal' });
  } else if (type === 'opaque') {
    el = h('input', { id, type: 'text', pattern: '([0-9a-fA-F]{2})*', placeholder: 'hex bytes', spellcheck: false });
  } else if (type === 'objlnk') {
    el = h('input', { id, type: 'text', pattern: '[0-9]+:[0-9]+', placeholder: 'object:instance' });
  } else {
    el = h('input', { id, type: 'text', spellcheck: false });
  }
  if (current !== undefined && current !== null && type !== 'boolean') el.value = String(current);
  el.dataset.type = type;
  return el;
}

// The JSON value of such an input, typed for the API ({"value": ...} of a write); throws with
// a sentence when it does not fit the type.
export function valueOf(el) {
  const t = el.dataset.type;
  const text = el.value.trim();
  if (t === 'boolean') return text === 'true';
  if (t === 'integer' || t === 'unsigned_integer' || t === 'time') {
    if (!/^-?\d+$/.test(text)) throw new Error('a whole number is needed');
    const n = Number(text);
    if (t !== 'integer' && n < 0) throw new Error('a number 0 or above is needed');
    return n;
  }
  if (t === 'float') {
    const n = Number(text);
    if (text === '' || !Number.isFinite(n)) throw new Error('a number is needed');
    return n;
  }
  if (t === 'opaque' && !/^([0-9a-fA-F]{2})*$/.test(text)) throw new Error('hex bytes are needed');
  if (t === 'objlnk' && !/^\d+:\d+$/.test(text)) throw new Error('object:instance is needed');
  return el.value;
}

// The objects and instances a registration lists ("</1/0>,</3/0>,</3303>;ver=1.1"), in id
// order: [{id, instances: [ids], version}].
export function parseObjectLinks(text) {
  const objects = new Map();
  for (const m of (text || '').matchAll(/<\/?([^>]*)>([^,]*)/g)) {
    const parts = m[1].split('/').filter(Boolean).map(Number);
    if (!parts.length || parts.some((n) => !Number.isInteger(n))) continue;
    const [o, i] = parts;
    if (!objects.has(o)) objects.set(o, { id: o, instances: [], version: null });
    const entry = objects.get(o);
    const ver = /ver="?([0-9.]+)/.exec(m[2]);
    if (ver) entry.version = ver[1];
    if (i !== undefined && !entry.instances.includes(i)) entry.instances.push(i);
  }
  const list = [...objects.values()].sort((a, b) => a.id - b.id);
  for (const o of list) o.instances.sort((a, b) => a - b);
  return list;
}
