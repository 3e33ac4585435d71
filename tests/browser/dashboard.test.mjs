// The status page (SPEC 16) in a real browser: Debian's chromium driven by playwright-core
// against the real gatehouse binary and real upstreams on 127.0.0.1.
//   node --test tests/browser/   (make test-browser installs playwright-core first)
// Screenshots land in tests/browser/artifacts/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { launch, recordingContext } from './lib/browser.mjs';
import { Gateway, mintToken, waitFor } from './lib/gateway.mjs';
import { Upstream } from './lib/upstream.mjs';

const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
const SECRET_ENV = 'GH_BROWSER_JWT_SECRET';
const SECRET = 'browser-test-secret-0123456789abcdef-0123456789';
const STATS = 'gatehouse:stats';
const ADMIN = 'gatehouse:admin';
const PAGE_PATHS = new Set(['/dashboard', '/dashboard/app.js', '/dashboard/app.css',
  '/dashboard/favicon.svg', '/endpoints/stats', '/endpoints/reload']);

fs.mkdirSync(ARTIFACTS, { recursive: true });

let browser;
const contexts = [];  // every context of the run, for the same-origin check at the end

async function open(gw, options = {}) {
  const { context, requests } = await recordingContext(browser, options);
  contexts.push({ origin: gw.origin, requests });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`${gw.origin}/dashboard`);
  return { context, page, requests, errors };
}

async function signIn(page, token) {
  await page.locator('#login').waitFor({ state: 'visible' });
  await page.fill('#token', token);
  await page.press('#token', 'Enter');
}

const row = (page, id) => page.locator(`#rows tr[data-id="${id}"]`);

// The token must be nowhere a script or a screen could read it back from the document,
// nor in the URL or a cookie; only in sessionStorage.
async function assertTokenHidden(page, context, token) {
  const { html, href, title, storage } = await page.evaluate(() => ({
    html: document.documentElement.outerHTML,
    href: location.href,
    title: document.title,
    storage: Object.keys(localStorage).length,
  }));
  assert.ok(!html.includes(token), 'the token is in the DOM');
  assert.ok(!html.includes(token.split('.')[2]), "the token's signature is in the DOM");
  assert.ok(!href.includes(token.split('.')[1]), 'the token is in the URL');
  assert.ok(!title.includes(token));
  assert.equal(storage, 0, 'nothing goes to localStorage');
  assert.deepEqual(await context.cookies(), [], 'no cookies');
  const kept = await page.evaluate(() => sessionStorage.getItem('gatehouse.dashboard.token'));
  assert.equal(kept, token, 'the token is kept in sessionStorage');
}

async function tabStops(page, count) {
  const seen = [];
  for (let i = 0; i < count; i += 1) {
    await page.keyboard.press('Tab');
    seen.push(await page.evaluate(() => {
      const a = document.activeElement;
      return a ? (a.id || `${a.tagName.toLowerCase()}:${a.textContent.trim()}`) : '';
    }));
  }
  return seen;
}

describe('status page with auth.jwt', () => {
  let gw;
  let users;
  let orders;
  let statsAdmin;

  before(async () => {
    browser = await launch();
    users = await new Upstream('users').listen();
    orders = await new Upstream('orders').listen();
    gw = new Gateway(`
auth:
  jwt:
    algorithms: [HS256]
    hmac_secret_env: ${SECRET_ENV}
    leeway: 0s
  scopes: { stats: "${STATS}", reload: "${ADMIN}" }
defaults:
  connect_timeout: 500ms
  timeout: 5s
endpoints:
  - url: ${users.url('/api')}
    name: users
    version: v1
    methods: [GET, POST]
    auth_type: bearer
    health_check: { path: /health, interval: 300ms, timeout: 500ms, healthy_threshold: 1, unhealthy_threshold: 1 }
  - url: ${orders.url('/orders')}
    name: orders
    health_check: false
    circuit_breaker: { failure_threshold: 2, reset_timeout: 60s }
  - url: ${users.url('/old')}
    name: legacy
    disabled: true
`, { env: { [SECRET_ENV]: SECRET } });
    await gw.start();
    statsAdmin = mintToken({ secretEnv: SECRET_ENV, secret: SECRET, scope: `${STATS} ${ADMIN}` });
  });

  after(async () => {
    const rc = await gw.stop();
    await users.close();
    await orders.close();
    assert.equal(rc, 0, `gatehouse exited ${rc}\n${gw.log()}`);
  });

  test('asks for a token, then shows one row per endpoint', async () => {
    const { context, page, errors } = await open(gw);
    await page.locator('#login').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#main').isVisible(), false, 'no data before a token');
    assert.equal(await page.locator('#reload').isVisible(), false);
    // The viewport is set for phones.
    assert.match(await page.getAttribute('meta[name="viewport"]', 'content'), /width=device-width/);
    // The field has a label.
    assert.equal(await page.getByLabel('Bearer token').count(), 1);

    await signIn(page, statsAdmin);
    await row(page, 'users@v1').waitFor();
    assert.equal(await page.locator('#rows tr').count(), 3);
    assert.deepEqual(await page.locator('#rows tr').evaluateAll((trs) => trs.map((t) => t.dataset.id)),
      ['users@v1', 'orders', 'legacy']);

    const users1 = row(page, 'users@v1');
    assert.equal(await users1.locator('.prefix').innerText(), '/users/v1');
    assert.equal(await users1.locator('.servers').innerText(), users.url('/api'));
    assert.equal(await users1.locator('.methods').innerText(), 'GET, POST');
    assert.equal(await users1.locator('.auth').innerText(), 'bearer');
    assert.equal(await users1.locator('.enabled').innerText(), 'yes');
    assert.equal(await row(page, 'orders').locator('.methods').innerText(), 'any');
    assert.equal(await row(page, 'legacy').locator('.enabled').innerText(), 'no');
    assert.equal(await row(page, 'legacy').locator('.breaker').innerText(), 'n/a');
    assert.equal(await page.locator('#config-version').innerText(), '1');
    assert.match(await page.locator('#config-loaded').innerText(), /ago/);
    assert.match(await page.locator('#config-path').innerText(), /gatehouse\.yaml$/);
    // No rate limits configured: the stats API has no rate_limit, the page says so.
    assert.equal(await users1.locator('.limited').innerText(), '–');

    // Health with the last probe (probed every 300 ms).
    await waitFor('users up with a probe', async () => {
      const t = await users1.locator('.health').innerText();
      return /^up/.test(t) && /last probe .* ago: ok, 200 in/.test(t);
    }, 8000);
    assert.equal(await row(page, 'orders').locator('.health').innerText(), 'unknown\nno probe yet');

    // Traffic shows as a rate computed between two polls, with its errors.
    const traffic = setInterval(() => { gw.get('/users/v1/x').catch(() => {}); }, 50);
    try {
      await waitFor('a request rate', async () => {
        const t = await users1.locator('.requests').innerText();
        const m = /^(\d+\.\d)\/s/.exec(t);
        return m && Number(m[1]) >= 2;
      }, 8000);
    } finally {
      clearInterval(traffic);
    }
    assert.match(await users1.locator('.errors').innerText(), /^0\.0\/s\n0 % · 0 total/);
    await waitFor('latency percentiles', async () =>
      /^\d+\.\d \/ \d+\.\d ms$/.test(await users1.locator('.latency').innerText()));

    await assertTokenHidden(page, context, statsAdmin);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a breaker trip shows as open, with a countdown and in the timeline', async () => {
    const { context, page, errors } = await open(gw);
    await signIn(page, statsAdmin);
    const o = row(page, 'orders');
    await o.waitFor();
    await waitFor('a closed segment in the timeline', async () =>
      (await o.locator('rect[data-state="closed"]').count()) > 0);
    assert.match(await o.locator('.breaker').innerText(), /^closed/);

    orders.failing = true;
    for (let i = 0; i < 2; i += 1) {
      const r = await gw.get('/orders/1');
      assert.equal(r.status, 503);
    }
    const tripped = Date.now();
    // Within 5 s (the page polls every 2 s).
    await waitFor('orders shown open', async () =>
      /^open/.test(await o.locator('.breaker').innerText()), 5000);
    assert.ok(Date.now() - tripped < 5000);
    const first = await o.locator('.countdown').innerText();
    const m1 = /^next attempt in (\d+) s$/.exec(first);
    assert.ok(m1, `countdown: ${first}`);
    assert.ok(Number(m1[1]) <= 60 && Number(m1[1]) >= 50, first);
    assert.match(await o.locator('.breaker').innerText(), /2 failures in a row/);
    // It counts down between polls.
    await waitFor('the countdown moves', async () => {
      const m = /in (\d+) s/.exec(await o.locator('.countdown').innerText());
      return m && Number(m[1]) <= Number(m1[1]) - 2;
    }, 6000);
    // The timeline: closed, then open.
    await waitFor('an open segment in the timeline', async () =>
      (await o.locator('rect[data-state="open"]').count()) > 0);
    const states = await o.locator('svg rect').evaluateAll((rs) => rs.map((r) => r.dataset.state));
    assert.deepEqual(states, ['closed', 'open']);
    assert.match(await o.locator('svg').getAttribute('aria-label'), /closed .*open \d+ s/);
    // Errors appeared in the request figures too; requests now get the fallback.
    assert.match(await o.locator('.errors').innerText(), /2 total/);
    const traffic = setInterval(() => { gw.get('/orders/2').catch(() => {}); }, 100);
    try {
      await waitFor('fallback answers as a rate', async () =>
        /\d+\.\d\/s by fallback/.test(await o.locator('.errors').innerText()), 6000);
    } finally {
      clearInterval(traffic);
    }
    assert.equal(orders.requests, 2, 'the open breaker kept requests from the upstream');
    // The other endpoints did not move.
    assert.match(await row(page, 'users@v1').locator('.breaker').innerText(), /^closed/);

    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-desktop.png'), fullPage: true });
    await page.setViewportSize({ width: 375, height: 812 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('the Reload button is there for the reload scope only', async () => {
    const statsOnly = mintToken({ secretEnv: SECRET_ENV, secret: SECRET, scope: STATS });
    {
      const { context, page } = await open(gw);
      await signIn(page, statsOnly);
      await row(page, 'orders').waitFor();
      // Two polls later it is still hidden.
      await page.waitForTimeout(2500);
      assert.equal(await page.locator('#reload').isVisible(), false);
      assert.equal(await page.locator('#change-token').isVisible(), true);
      await context.close();
    }
    {
      const { context, page } = await open(gw);
      await signIn(page, statsAdmin);
      await row(page, 'orders').waitFor();
      assert.equal(await page.locator('#reload').isVisible(), true);
      // An unchanged file: the report says so.
      await page.click('#reload');
      await page.locator('#reload-result').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#reload-title').innerText(), 'Reload: nothing changed');
      assert.match(await page.locator('#reload-body').innerText(), /Result\s+unchanged/);
      assert.match(await page.locator('#reload-body').innerText(), /unchanged\s+users@v1, orders/);
      await context.close();
    }
  });

  test('a broken file shows every error with its line and column', async () => {
    const { context, page, errors } = await open(gw);
    await signIn(page, statsAdmin);
    await row(page, 'orders').waitFor();
    const good = fs.readFileSync(gw.configPath, 'utf8');
    const broken = `${good}  - url: ftp://127.0.0.1:9/x\n    name: bad\n  - url: http://127.0.0.1:9/y\n    name: typo\n    mehtods: [GET]\n`;
    const lines = broken.split('\n');
    const ftpLine = lines.findIndex((l) => l.includes('ftp://')) + 1;
    const ftpCol = lines[ftpLine - 1].indexOf('ftp://') + 1;
    const typoLine = lines.findIndex((l) => l.includes('mehtods')) + 1;
    const typoCol = lines[typoLine - 1].indexOf('mehtods') + 1;
    gw.writeConfig(broken);
    try {
      await page.keyboard.press('Escape');
      await page.focus('#reload');
      await page.keyboard.press('Enter');
      await page.locator('#reload-result').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#reload-title').innerText(), 'Reload refused: the file is invalid');
      const items = await page.locator('#reload-body li').allInnerTexts();
      assert.equal(items.length, 2, items.join('\n'));
      assert.ok(items.some((t) => t.startsWith(`endpoints[3].url (line ${ftpLine}, column ${ftpCol}): `) &&
        t.includes('ftp://127.0.0.1:9/x')), items.join('\n'));
      assert.ok(items.some((t) => t.includes(`(line ${typoLine}, column ${typoCol})`) &&
        /did you mean/.test(t)), items.join('\n'));
      assert.match(await page.locator('#reload-body').innerText(), /2 errors; the running configuration is kept/);
      // The result is where keyboard focus went.
      assert.equal(await page.evaluate(() => document.activeElement.id), 'reload-result');
      // The old config runs on.
      assert.equal(await page.locator('#config-version').innerText(), '1');
      assert.equal(await page.locator('#rows tr').count(), 3);
    } finally {
      gw.writeConfig(good);
    }
    assert.deepEqual(errors.filter((e) => !/422/.test(e)), []);
    await context.close();
  });

  test('an expired or refused token asks again', async () => {
    const { context, page } = await open(gw);
    const shortLived = mintToken({ secretEnv: SECRET_ENV, secret: SECRET, scope: STATS, ttl: '4s' });
    await signIn(page, shortLived);
    await row(page, 'orders').waitFor();
    await page.locator('#login').waitFor({ state: 'visible', timeout: 8000 });
    assert.match(await page.locator('#login-reason').innerText(), /expired/);
    assert.equal(await page.locator('#main').isVisible(), false);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'the expired token is dropped');

    // A token the gateway refuses (signed with another key): asked again at once.
    const forged = mintToken({ secretEnv: SECRET_ENV, secret: `${SECRET}-other`, scope: STATS });
    await signIn(page, forged);
    await waitFor('refusal shown', async () =>
      /refused the token/.test(await page.locator('#login-reason').innerText()), 5000);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);

    // A valid token without the stats scope: 403, asked again, naming the scope.
    const noScope = mintToken({ secretEnv: SECRET_ENV, secret: SECRET, scope: 'other:thing' });
    await signIn(page, noScope);
    await waitFor('scope refusal shown', async () =>
      (await page.locator('#login-reason').innerText()).includes(`lacks the scope ${STATS}`), 5000);

    // Text that is not a JWT is refused by the page itself.
    await page.fill('#token', 'not a token');
    await page.press('#token', 'Enter');
    assert.match(await page.locator('#token-error').innerText(), /not a JWT/);
    await context.close();
  });

  test('keyboard: Tab reaches the token field and every button', async () => {
    const { context, page } = await open(gw);
    await page.locator('#login').waitFor({ state: 'visible' });
    await page.evaluate(() => document.activeElement.blur());
    const before = await tabStops(page, 4);
    assert.ok(before.includes('token'), before.join(', '));
    assert.ok(before.includes('button:Show status'), before.join(', '));
    // Sign in with the keyboard alone.
    await page.focus('#token');
    await page.keyboard.type(statsAdmin);
    await page.keyboard.press('Enter');
    await row(page, 'orders').waitFor();
    // Focus follows to the data (the field it was in is gone).
    await waitFor('focus on the endpoints', async () =>
      (await page.evaluate(() => document.activeElement.id)) === 'endpoints-title', 3000);
    await page.evaluate(() => document.activeElement.blur());
    const afterLogin = await tabStops(page, 4);
    assert.ok(afterLogin.includes('reload'), afterLogin.join(', '));
    assert.ok(afterLogin.includes('change-token'), afterLogin.join(', '));
    // The focus ring is visible.
    await page.focus('#reload');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.equal(outline, 'solid');
    await context.close();
  });

  test('at 375 px nothing scrolls sideways', async () => {
    const { context, page } = await open(gw, { viewport: { width: 375, height: 812 } });
    await signIn(page, statsAdmin);
    await row(page, 'orders').waitFor();
    await waitFor('a second poll', async () =>
      (await row(page, 'orders').locator('svg rect').count()) > 0);
    const m = await page.evaluate(() => {
      let widest = 0;
      for (const e of document.querySelectorAll('body *')) {
        const r = e.getBoundingClientRect();
        if (r.width > 0) widest = Math.max(widest, r.right);
      }
      return { scroll: document.documentElement.scrollWidth, inner: window.innerWidth, widest,
        cell: getComputedStyle(document.querySelector('#rows td')).display };
    });
    assert.equal(m.inner, 375);
    assert.ok(m.scroll <= m.inner, `scrollWidth ${m.scroll} > ${m.inner}`);
    assert.ok(m.widest <= m.inner + 0.5, `an element reaches x=${m.widest}`);
    assert.equal(m.cell, 'grid', 'rows become cards');
    await context.close();
  });

  test('dark mode follows prefers-color-scheme, with readable contrast', async () => {
    const { context, page } = await open(gw);
    await signIn(page, statsAdmin);
    await row(page, 'orders').waitFor();
    const measure = () => page.evaluate(() => {
      const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
      const lum = ([r, g, b]) => {
        const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
      };
      const bgOf = (e) => {
        for (let n = e; n; n = n.parentElement) {
          const c = rgb(getComputedStyle(n).backgroundColor);
          if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
        }
        return [255, 255, 255];
      };
      let worst = 99;
      let where = '';
      for (const e of document.querySelectorAll('h1, h2, p, th, td div, .badge, .sub, dt, dd, button, label')) {
        if (!e.offsetParent || !e.textContent.trim()) continue;
        const fg = lum(rgb(getComputedStyle(e).color));
        const bg = lum(bgOf(e));
        const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
        if (ratio < worst) { worst = ratio; where = `${e.tagName}.${e.className}: ${e.textContent.slice(0, 30)}`; }
      }
      return { bg: lum(bgOf(document.body)), worst, where };
    });
    await page.emulateMedia({ colorScheme: 'light' });
    const light = await measure();
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await measure();
    assert.ok(light.bg > 0.8, `light background luminance ${light.bg}`);
    assert.ok(dark.bg < 0.05, `dark background luminance ${dark.bg}`);
    assert.ok(light.worst >= 4.5, `light contrast ${light.worst.toFixed(2)} at ${light.where}`);
    assert.ok(dark.worst >= 4.5, `dark contrast ${dark.worst.toFixed(2)} at ${dark.where}`);
    await context.close();
  });
});

describe('status page with --insecure-admin', () => {
  let gw;
  let up;

  before(async () => {
    browser = browser || await launch();
    up = await new Upstream('open').listen();
    gw = new Gateway(`
endpoints:
  - url: ${up.url('/a')}
    name: alpha
  - url: ${up.url('/b')}
    name: beta
`, { args: ['--insecure-admin'] });
    await gw.start();
  });

  after(async () => {
    await gw.stop();
    await up.close();
  });

  test('no token is asked for; stopping the gateway shows the banner', async () => {
    const { context, page, errors } = await open(gw);
    await row(page, 'beta').waitFor();
    assert.equal(await page.locator('#login').isVisible(), false);
    assert.equal(await page.locator('#reload').isVisible(), true, 'reload needs no token here');
    assert.equal(await page.locator('#change-token').isVisible(), false);
    assert.equal(await page.locator('#banner').isVisible(), false);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);

    assert.equal(await gw.stop(), 0);
    const stopped = Date.now();
    await page.locator('#banner').waitFor({ state: 'visible', timeout: 6000 });
    assert.ok(Date.now() - stopped < 6000);
    assert.match(await page.locator('#banner').innerText(), /unreachable/);
    assert.equal(await page.locator('#banner').getAttribute('role'), 'alert');
    // The last data stays, marked stale.
    assert.equal(await page.locator('#rows tr').count(), 2);
    assert.match(await page.locator('#rows').getAttribute('class'), /stale/);
    assert.deepEqual(errors.filter((e) => !/ERR_CONNECTION_REFUSED/.test(e)), []);
    await context.close();
  });
});

// The stats API's fields for several servers and rate limits (SPEC 7's `targets` and
// `rate_limit`), in the exact shape of SPEC 7's example: the page is the real one, from
// the real gateway; only /endpoints/stats is answered by this stand-in, so the page is
// checked against the contract whatever the binary's stats hold today.
describe('SPEC 7 fields for several servers and rate limits', () => {
  let gw;
  let up;
  let front;
  let origin;

  const breaker = (state, next) => ({ state, consecutive_failures: state === 'open' ? 3 : 0,
    opened_at: next ? new Date(Date.now() - 5000).toISOString() : null,
    next_attempt_at: next ? new Date(Date.now() + next).toISOString() : null });
  let limited = 7;
  const doc = () => ({
    generated_at: new Date().toISOString(),
    config: { path: 'gatehouse.yaml', version: 3, loaded_at: new Date(Date.now() - 60000).toISOString(), sha256: 'ab' },
    endpoints: [{
      id: 'users@v1', name: 'users', url: 'http://10.0.0.1:9001/api', version: 'v1', prefix: '/users/v1',
      methods: ['GET', 'POST'], auth_type: 'bearer', status: 'enabled', health: 'up',
      circuit_breaker: breaker('closed'), last_updated: new Date().toISOString(),
      requests: { total: 120, failed: 2, fallbacks: 0, latency_ms: { p50: 1.2, p99: 8.5 } },
      last_health_check: { at: new Date(Date.now() - 1000).toISOString(), ok: true, status: 200, latency_ms: 0.8, error: null },
      targets: [
        { url: 'http://10.0.0.1:9001/api', weight: 1, health: 'up', circuit_breaker: breaker('closed'),
          in_flight: 0, requests: { total: 100, failed: 0 }, last_health_check: null },
        { url: 'http://10.0.0.2:9001/api', weight: 3, health: 'down', circuit_breaker: breaker('open', 20000),
          in_flight: 2, requests: { total: 20, failed: 2 }, last_health_check: null },
      ],
      rate_limit: { requests: 100, per: '1s', burst: 50, key: 'client_ip', shared: false, limited: limited++ },
    }],
  });

  before(async () => {
    browser = browser || await launch();
    up = await new Upstream('x').listen();
    gw = new Gateway(`endpoints:\n  - url: ${up.url('/x')}\n    name: x\n`, { args: ['--insecure-admin'] });
    await gw.start();
    front = http.createServer(async (req, res) => {
      if (req.url === '/endpoints/stats') {
        const body = JSON.stringify(doc());
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(body);
        return;
      }
      const r = await fetch(`${gw.origin}${req.url}`);
      const headers = Object.fromEntries([...r.headers].filter(([k]) => k !== 'content-length' && k !== 'connection'));
      res.writeHead(r.status, headers);
      res.end(Buffer.from(await r.arrayBuffer()));
    });
    await new Promise((resolve) => front.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${front.address().port}`;
  });

  after(async () => {
    front.closeAllConnections();
    await new Promise((resolve) => front.close(resolve));
    await gw.stop();
    await up.close();
  });

  test('every server of an endpoint and its rate-limited count are shown', async () => {
    const { context, page, errors } = await open({ origin });
    const r = row(page, 'users@v1');
    await r.waitFor();
    const servers = await r.locator('.servers li').allInnerTexts();
    assert.deepEqual(servers, [
      'http://10.0.0.1:9001/api\nweight 1 · up · breaker closed · 0 in flight',
      'http://10.0.0.2:9001/api\nweight 3 · down · breaker open · 2 in flight',
    ]);
    assert.equal(await r.locator('.limited').innerText(), '7\n100 per 1s + 50');
    await waitFor('the count follows the polls', async () =>
      /^(8|9|10)\n/.test(await r.locator('.limited').innerText()), 5000);
    assert.equal(await page.locator('#config-version').innerText(), '3');
    assert.deepEqual(errors, []);
    await context.close();
  });
});

describe('every request', () => {
  after(async () => { if (browser) await browser.close(); });

  test('goes to the gateway the page came from, and to the page\'s own paths', () => {
    let total = 0;
    for (const { origin, requests } of contexts) {
      for (const u of requests) {
        const url = new URL(u);
        assert.equal(url.origin, origin, `request to another origin: ${u}`);
        assert.ok(PAGE_PATHS.has(url.pathname), `unexpected request: ${u}`);
        assert.equal(url.search, '', `a query string: ${u}`);
        total += 1;
      }
    }
    assert.ok(contexts.length >= 8 && total >= 40, `recorded ${total} requests in ${contexts.length} tabs`);
  });
});
