// Browser tests of the web console (ctest label `console`): Debian's chromium, headless, driven
// by playwright-core, against the real binaries on 127.0.0.1 ports free at run time:
//   - `niobium demo`: the console opens without a token and its devices appear;
//   - `niobium server --with-bootstrap --bs-policy approve --api-token T` with `niobium client`
//     devices: the token asked once, /3/0 read with named values, a write read back, an
//     execute, an observation plotted, a composite read, a registry object (10243, --ddf) named
//     and typed, the map, a bootstrap config made in the form, a pending bootstrap approved
//     (the device registers) and another rejected, a secure ID read from a QR PNG made by
//     `niobium keys qr`, a credential set (its key never in a page or an answer);
//   - no JavaScript error on any page; screenshots of each page in $NB_ARTIFACTS.
// Environment (set by tests/CMakeLists.txt): NB_BINARY, NB_SHARED_DIR, NB_ARTIFACTS,
// NODE_PATH (playwright-core from `npm ci`), NB_CHROMIUM (default /usr/bin/chromium).
// Exit 77 (ctest: skipped) with a message when chromium is not installed.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');
const dgram = require('dgram');
const { spawn, execFileSync } = require('child_process');

const NB = process.env.NB_BINARY;
const CHROMIUM = process.env.NB_CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.NB_ARTIFACTS || path.join(os.tmpdir(), 'nb-console-artifacts');
const SHARED = process.env.NB_SHARED_DIR || '';
const REGISTRY_10243 = SHARED ? path.join(SHARED, 'lwm2m-registry', '10243.xml') : '';
const TOKEN = 'console-test-token-' + require('crypto').randomBytes(12).toString('hex');
const PSK_KEY = require('crypto').randomBytes(16).toString('hex');
const STEP_MS = 20000; // the longest a single expectation waits

if (!fs.existsSync(CHROMIUM)) {
  console.log(`SKIPPED: ${CHROMIUM} is not installed (scripts/install-deps installs Debian's chromium)`);
  process.exit(77);
}
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.log(`FAILED: playwright-core is missing (the build runs npm ci in web/): ${e.message}`);
  process.exit(1);
}

// ---- processes and ports ----

const children = [];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-console-'));

function start(name, args, opts = {}) {
  const out = fs.openSync(path.join(tmp, `${name}.log`), 'w');
  const child = spawn(NB, args, { cwd: tmp, stdio: [opts.stdin ? 'pipe' : 'ignore', out, out] });
  child.label = name;
  children.push(child);
  if (opts.stdin) {
    child.stdin.on('error', () => {});
    child.stdin.write(opts.stdin);
  }
  return child;
}

function stopAll() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}

function freePort(kind) {
  return new Promise((resolve, reject) => {
    if (kind === 'udp') {
      const s = dgram.createSocket('udp4');
      s.on('error', reject);
      s.bind(0, '127.0.0.1', () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
    } else {
      const s = net.createServer();
      s.on('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
    }
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, ms = STEP_MS) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(200);
  }
  throw new Error(`timed out: ${what}${last instanceof Error ? ` (${last.message})` : ''}`);
}

async function api(base, method, p, body, token = TOKEN) {
  const res = await fetch(base + p, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, data: text ? JSON.parse(text) : null };
}

// A CoAP Register (RFC 7252 framing) of endpoint ep, NoSec, as a device would send it.
function registerDatagram(ep, mid) {
  const opt = (delta, value) => {
    const v = Buffer.from(value);
    if (delta > 12 || v.length > 12) throw new Error('option too long for this small encoder');
    return Buffer.concat([Buffer.from([(delta << 4) | v.length]), v]);
  };
  const ext = (delta, value) => {
    const v = Buffer.from(value);
    return Buffer.concat([Buffer.from([(delta << 4) | 13, v.length - 13]), v]);
  };
  const q = (s) => (s.length > 12 ? ext : opt);
  const epq = `ep=${ep}`;
  return Buffer.concat([
    Buffer.from([0x40, 0x02, mid >> 8, mid & 0xff]), // CON POST, no token
    opt(11, 'rd'),
    q(epq)(4, epq),
    opt(0, 'lt=3600'),
    opt(0, 'lwm2m=1.1'),
    Buffer.from([0xff]),
    Buffer.from('</1/0>,</3/0>'),
  ]);
}

// Registers n endpoints "bulk-00001"... from one socket, a window of 200 at a time; those not
// answered within 2 s are sent again with their message ID, as CoAP retransmits (a loaded
// machine drops datagrams on loopback too).
function registerMany(port, n) {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    let next = 0;
    let acked = 0;
    const pending = new Map(); // message ID -> [datagram, when sent]
    const send = () => {
      while (next < n && pending.size < 200) {
        const mid = next & 0xffff;
        const d = registerDatagram(`bulk-${String(next + 1).padStart(5, '0')}`, mid);
        pending.set(mid, [d, Date.now()]);
        s.send(d, port, '127.0.0.1');
        next++;
      }
    };
    const resend = setInterval(() => {
      for (const [mid, [d, at]] of pending) {
        if (Date.now() - at < 2000) continue;
        pending.set(mid, [d, Date.now()]);
        s.send(d, port, '127.0.0.1');
      }
    }, 500);
    const done = () => {
      clearTimeout(timer);
      clearInterval(resend);
      s.close();
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${acked} of ${n} registrations answered`));
    }, 60000);
    s.on('message', (m) => {
      const mid = (m[2] << 8) | m[3];
      if (!pending.delete(mid)) return;
      if (m[1] !== 0x41) {
        done();
        reject(new Error(`a Register was answered ${m[1] >> 5}.${String(m[1] & 31).padStart(2, '0')}`));
        return;
      }
      if (++acked === n) {
        done();
        resolve();
      } else send();
    });
    s.bind(0, '127.0.0.1', send);
  });
}

function logOf(name) {
  try {
    return fs.readFileSync(path.join(tmp, `${name}.log`), 'utf8');
  } catch {
    return '';
  }
}

// ---- the test cases ----

const results = [];
const pageErrors = [];
const responses = []; // bodies the pages received, checked for secrets

async function test(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push([name, true]);
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push([name, false]);
    console.log(`FAIL ${name}: ${e.message}`);
  }
}

async function newPage(browser, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`${page.url()}: console: ${m.text()}`);
  });
  page.on('response', async (r) => {
    try {
      if (r.status() === 401) pageErrors.push(`401 from ${r.url()}`);
      if (r.url().includes('/api/events')) return; // endless; its events are checked below
      responses.push({ url: r.url(), body: await r.text() });
    } catch {
      /* a body already gone (navigation) */
    }
  });
  return page;
}

async function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

async function main() {
  const t0 = Date.now();
  const [demoHttp, http, coap, bsCoap] = await Promise.all([freePort('tcp'), freePort('tcp'), freePort('udp'), freePort('udp')]);
  const demoBase = `http://127.0.0.1:${demoHttp}`;
  const base = `http://127.0.0.1:${http}`;
  const ddf = REGISTRY_10243 && fs.existsSync(REGISTRY_10243) ? ['--ddf', REGISTRY_10243] : [];
  if (!ddf.length) console.log(`note: ${REGISTRY_10243 || 'NB_SHARED_DIR'} missing: the registry object case is skipped`);

  start('demo', ['demo', '--http', `127.0.0.1:${demoHttp}`, '--devices', '4', '--db', path.join(tmp, 'demo.db'), '--duration', '300']);
  start('server', ['server', '--coap', `127.0.0.1:${coap}`, '--http', `127.0.0.1:${http}`, '--db', path.join(tmp, 'nb.db'),
    '--with-bootstrap', '--bs-coap', `127.0.0.1:${bsCoap}`, '--bs-policy', 'approve', '--api-token', TOKEN, ...ddf]);
  await until('the server listens', () => logOf('server').includes('proto=http'));
  const device = (ep, extra = [], stdin) =>
    start(ep, ['client', '--server', `coap://127.0.0.1:${coap}`, '--endpoint', ep, '--sensor-interval', '1', ...extra], stdin ? { stdin } : {});
  device('dev-a', ['--location', '48.8566,2.3522', ...ddf, ...(ddf.length ? ['--prompt'] : [])], ddf.length ? 'set /10243/0/0 ACME\n' : undefined);
  device('dev-b', ['--location', '45.764,4.8357']);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  try {
    await cases(browser, { demoBase, base, bsCoap, coap, ddf });
  } finally {
    await browser.close();
  }
  console.log(`browser suite: ${((Date.now() - t0) / 1000).toFixed(1)} s, screenshots in ${ARTIFACTS}`);
}

async function cases(browser, env) {
  const { demoBase, base } = env;

  await test('the demo console opens without a token and shows its devices', async () => {
    const page = await newPage(browser);
    await until('the demo serves its API', async () => (await api(demoBase, 'GET', '/api/clients')).status === 200);
    // four devices: three bootstrap on their own, the fourth waits for an operator
    await until('three demo devices register', async () => (await api(demoBase, 'GET', '/api/clients')).data.length >= 3, 60000);
    const out = logOf('demo');
    const at = out.indexOf(`Console: ${demoBase}/`);
    if (at < 0 || at > out.indexOf('Niobium demo:')) throw new Error(`the demo does not print the console's URL first:\n${out.slice(0, 300)}`);
    await page.goto(`${demoBase}/`);
    const want = (await api(demoBase, 'GET', '/api/clients')).data.map((d) => d.endpoint);
    for (const ep of want) await page.locator(`.vrow[data-ep="${ep}"]`).waitFor({ timeout: STEP_MS });
    if (await page.locator('dialog.modal').count()) throw new Error('a token was asked on loopback without --api-token');
    await until('the stream is live', async () => (await page.locator('#live').textContent()) === 'live');
    await shot(page, 'devices-demo');
    await page.context().close();
  });

  const page = await newPage(browser);
  await test('the API token is asked once and kept for the session', async () => {
    await page.goto(`${base}/`);
    await page.locator('#token-input').waitFor({ timeout: STEP_MS });
    await page.fill('#token-input', TOKEN);
    await page.click('dialog.modal button.primary');
    await page.locator('.vrow[data-ep="dev-a"]').waitFor({ timeout: STEP_MS });
    await page.locator('.vrow[data-ep="dev-b"]').waitFor({ timeout: STEP_MS });
    await page.reload();
    await page.locator('.vrow[data-ep="dev-a"]').waitFor({ timeout: STEP_MS });
    if (await page.locator('dialog.modal').count()) throw new Error('the token was asked again after a reload');
    const html = await page.content();
    if (html.includes(TOKEN)) throw new Error('the token is in the page');
    await shot(page, 'devices');
  });

  await test('the device list filters by text and state, with counts', async () => {
    await page.fill('#device-search', 'dev-b');
    await until('one row left', async () => (await page.locator('.vbody .vrow').count()) === 1);
    await page.fill('#device-search', '');
    await page.selectOption('#device-state', 'expired');
    await until('no expired device', async () => (await page.locator('.vbody .vrow').count()) === 0);
    await page.selectOption('#device-state', '');
    const chip = await page.locator('.chip.state-registered').textContent();
    if (!/^\d+ registered$/.test(chip) || Number(chip.split(' ')[0]) < 2) throw new Error(`counts say "${chip}"`);
  });

  await test('reading /3/0 shows named values', async () => {
    await page.click('.vrow[data-ep="dev-a"] a');
    await page.locator('details.object[data-object="3"]').waitFor({ timeout: STEP_MS });
    await page.click('button[aria-label="Read /3/0"]');
    const cell = page.locator('td.value[data-path="/3/0/0"]');
    await until('the manufacturer is shown', async () => (await cell.textContent()) === 'Niobium');
    const name = await page.locator('tr[data-path="/3/0/0"] th').textContent();
    if (!name.startsWith('Manufacturer')) throw new Error(`/3/0/0 is named "${name}"`);
    const log = await page.locator('table.log tbody tr').first().textContent();
    if (!log.includes('2.05') || !/\d+ ms/.test(log)) throw new Error(`request log: "${log}"`);
    await shot(page, 'device');
  });

  await test('a write is read back', async () => {
    await page.click('details.object[data-object="3303"] > summary');
    await page.click('button[aria-label="Write /3303/0/5750"]');
    await page.fill('#w--3303-0-5750', 'boiler room');
    await page.click('tr.inline-form button.primary');
    await until('the new value is read back', async () => (await page.locator('td.value[data-path="/3303/0/5750"]').textContent()) === 'boiler room');
    const ops = await page.locator('table.log tbody tr td:nth-child(2)').allTextContents();
    if (ops[0] !== 'Read' || ops[1] !== 'Write') throw new Error(`log: ${ops.slice(0, 3)}`);
    const code = await page.locator('table.log tbody tr').nth(1).locator('td').nth(4).textContent();
    if (code !== '2.04') throw new Error(`write answered ${code}`);
  });

  await test('an execute is answered 2.04', async () => {
    await page.click('button[aria-label="Execute /3303/0/5605"]');
    await page.click('tr.inline-form button.primary');
    await until('the execute is logged', async () => {
      const row = page.locator('table.log tbody tr').first();
      return (await row.locator('td').nth(1).textContent()) === 'Execute' && (await row.locator('td').nth(4).textContent()) === '2.04';
    });
  });

  await test('an observed temperature is plotted as it arrives', async () => {
    await page.click('button[aria-label="Observe /3303/0/5700"]');
    const chart = page.locator('.chart[data-path="/3303/0/5700"]');
    await chart.waitFor({ timeout: STEP_MS });
    const first = Number(await chart.getAttribute('data-points'));
    await until('the chart gains points', async () => Number(await chart.getAttribute('data-points')) >= first + 3);
    if (!(await page.locator('.chart canvas').count())) throw new Error('no canvas drawn');
    const spill = await chart.evaluate((el) => {
      const edge = el.getBoundingClientRect().right;
      return [...el.querySelectorAll('*')].filter((c) => c.getBoundingClientRect().right > edge + 0.5).map((c) => c.className || c.tagName);
    });
    if (spill.length) throw new Error(`the chart spills out of its card: ${spill.slice(0, 5).join(', ')}`);
    await page.locator('.charts').scrollIntoViewIfNeeded();
    await shot(page, 'device-live');
    await page.click('button[aria-label="Cancel the observation of /3303/0/5700"]');
    await page.locator('button[aria-label="Observe /3303/0/5700"]').waitFor({ timeout: STEP_MS });
  });

  await test('a composite read shows both values', async () => {
    await page.fill('#dev-composite', '/3/0/0 /3303/0/5700');
    await page.click('form.inline button[type="submit"]');
    await until('two records', async () => (await page.locator('.result table.values tbody tr').count()) === 2);
  });

  if (env.ddf.length)
    await test('a registry object loaded with --ddf is named and typed', async () => {
      await page.click('details.object[data-object="10243"] > summary');
      const name = await page.locator('details.object[data-object="10243"] .obj-name').textContent();
      if (name !== 'Single-Phase Power Meter') throw new Error(`10243 is named "${name}"`);
      await page.click('button[aria-label="Read /10243/0"]');
      await until('"ACME" as a string', async () => (await page.locator('td.value[data-path="/10243/0/0"]').textContent()) === 'ACME');
    });

  await test('the map places the devices by their Location object', async () => {
    await page.click('nav a[data-nav="map"]');
    await until('two markers', async () => (await page.locator('.leaflet-interactive').count()) >= 2);
    await until('dev-a listed at its position', async () =>
      (await page.locator('.map-view tbody tr').allTextContents()).some((r) => r.includes('dev-a') && r.includes('48.85660')));
    // without tiles: labelled lines of latitude and longitude, several across the view
    const inView = async () => page.locator('.map').evaluate((map) => {
      const box = map.getBoundingClientRect();
      return [...map.querySelectorAll('.grid-label')].filter((l) => {
        const r = l.getBoundingClientRect();
        return r.left >= box.left && r.right <= box.right + 40 && r.top >= box.top && r.bottom <= box.bottom + 20;
      }).length;
    });
    await until('at least six grid lines labelled in view', async () => (await inView()) >= 6);
    await shot(page, 'map');
  });

  await test('a bootstrap config is created in the form', async () => {
    await page.click('nav a[data-nav="bootstrap"]');
    await page.click('button:has-text("New config…")');
    await page.fill('#cfg-name', 'default');
    await page.fill('#cfg-uri-0', `coap://127.0.0.1:${env.coap}`);
    await page.selectOption('#cfg-sec-0', 'nosec');
    await page.fill('#cfg-lt-0', '300');
    await page.click('dialog.modal button.primary');
    await page.locator('#configs tr[data-name="default"]').waitFor({ timeout: STEP_MS });
  });

  const bsDevice = (ep) => start(ep, ['client', '--bootstrap', `coap://127.0.0.1:${env.bsCoap}`, '--endpoint', ep]);
  await test('a pending bootstrap is approved and the device registers; another is rejected', async () => {
    bsDevice('pend-ok');
    bsDevice('pend-no');
    await page.locator('#pending tr[data-ep="pend-ok"]').waitFor({ timeout: STEP_MS });
    await page.locator('#pending tr[data-ep="pend-no"]').waitFor({ timeout: STEP_MS });
    await shot(page, 'bootstrap');
    await page.click('button[aria-label="Approve pend-ok"]');
    await page.click('button[aria-label="Reject pend-no"]');
    await until('pend-ok registers', async () => (await api(base, 'GET', '/api/clients/pend-ok')).status === 200, 30000);
    await until('the rows are gone', async () => (await page.locator('#pending tr[data-ep]').count()) === 0);
    await page.click('nav a[data-nav="devices"]');
    await page.locator('.vrow[data-ep="pend-ok"]').waitFor({ timeout: STEP_MS });
    if ((await api(base, 'GET', '/api/clients/pend-no')).status !== 404) throw new Error('pend-no registered');
  });

  await test('a secure ID is registered from an uploaded QR PNG', async () => {
    const keyOut = execFileSync(NB, ['keys', 'ec', '--out', path.join(tmp, 'qrdev')], { encoding: 'utf8' });
    const sid = /secure-id: ([0-9a-f]{30})/.exec(keyOut)[1];
    execFileSync(NB, ['keys', 'qr', '--secure-id', sid, '--png', path.join(tmp, 'qrdev.png')]);
    await page.click('nav a[data-nav="bootstrap"]');
    await page.fill('#key-ep', 'qr-dev');
    await page.setInputFiles('#key-qr', path.join(tmp, 'qrdev.png'));
    await until('the secure ID is read', async () => (await page.inputValue('#key-sid')) === sid);
    await page.click('form.keyform button[type="submit"]');
    await until('the key is listed', async () => ((await page.locator('#expected tr[data-ep="qr-dev"]').textContent()) || '').includes(sid));
    await shot(page, 'bootstrap-keys');
  });

  await test('a credential is set and its key is never shown', async () => {
    await page.click('nav a[data-nav="security"]');
    await page.fill('#cred-ep', 'psk-dev');
    await page.selectOption('#cred-mode', 'psk');
    await page.fill('#cred-identity', 'psk-dev-id');
    await page.fill('#cred-key', PSK_KEY);
    await page.click('form.credform button[type="submit"]');
    await page.locator('#credentials tr[data-ep="psk-dev"]').waitFor({ timeout: STEP_MS });
    await page.reload();
    await page.locator('#credentials tr[data-ep="psk-dev"]').waitFor({ timeout: STEP_MS });
    const html = await page.content();
    if (html.includes(PSK_KEY)) throw new Error('the key is in the page');
    if ((await page.inputValue('#cred-key')) !== '') throw new Error('the key field kept the key');
    await shot(page, 'security');
  });

  await test('the console is readable on a phone', async () => {
    const phone = await newPage(browser, { width: 390, height: 844 });
    await phone.goto(`${demoBase}/`);
    await phone.locator('.vrow[data-ep]').first().waitFor({ timeout: STEP_MS });
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    if (overflow) throw new Error('the page is wider than the phone');
    await shot(phone, 'devices-phone');
    await phone.context().close();
  });

  await test('10,000 devices: counted, filtered and scrolled with a few rows in the page', async () => {
    const N = 10000;
    const [h2, c2] = await Promise.all([freePort('tcp'), freePort('udp')]);
    const big = `http://127.0.0.1:${h2}`;
    start('fleet-server', ['server', '--coap', `127.0.0.1:${c2}`, '--http', `127.0.0.1:${h2}`, '--db', path.join(tmp, 'fleet.db'),
      '--max-nosec-registrations', '0', '--log-level', 'warn']);
    await until('the fleet server listens', async () => (await fetch(`${big}/console/config.json`)).ok);
    await registerMany(c2, N);
    const p = await newPage(browser);
    const t0 = Date.now();
    await p.goto(`${big}/`);
    await until('all are counted', async () => (await p.locator('.chip.state-all').textContent()) === `${N} devices`, 30000);
    const loadMs = Date.now() - t0;
    const rows = await p.locator('.vbody .vrow').count();
    if (rows > 60) throw new Error(`${rows} rows in the page`);
    await p.evaluate(() => (document.querySelector('.vscroll').scrollTop = 1e9));
    await p.locator('.vrow[data-ep="bulk-10000"]').waitFor({ timeout: STEP_MS });
    await p.fill('#device-search', 'bulk-0999');
    await until('ten rows match', async () => (await p.locator('.vbody .vrow').count()) === 10);
    await p.fill('#device-search', '');
    await shot(p, 'devices-10000');
    console.log(`     ${N} devices listed in ${loadMs} ms`);
    await p.context().close();
  });

  await test('no secret in any answer the pages received', async () => {
    const leaks = responses.filter((r) => r.body.includes(PSK_KEY) || r.body.includes(TOKEN)).map((r) => r.url);
    if (leaks.length) throw new Error(`secrets in: ${leaks.join(', ')}`);
    if (!responses.length) throw new Error('no answer was seen');
  });

  await test('no JavaScript error on any page', async () => {
    if (pageErrors.length) throw new Error(pageErrors.join('\n'));
  });
  await page.context().close();
}

process.on('exit', stopAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(1));

main()
  .catch((e) => {
    results.push(['setup', false]);
    console.log(`FAIL setup: ${e.stack || e.message}`);
  })
  .finally(() => {
    const failed = results.filter(([, ok]) => !ok).length;
    if (failed) for (const c of children) console.log(`--- ${c.label}.log (last lines)\n${logOf(c.label).split('\n').slice(-15).join('\n')}`);
    stopAll();
    console.log(`${results.length - failed} passed, ${failed} failed`);
    if (!failed) fs.rmSync(tmp, { recursive: true, force: true });
    process.exitCode = failed ? 1 : 0;
  });
