// gatehouse status page (SPEC 16): polls GET /endpoints/stats every 2 s and shows one
// row per endpoint; Reload calls POST /endpoints/reload. Plain script, no dependencies.
// The bearer token lives in this tab's sessionStorage and in the Authorization header
// of the page's own requests; it is never written into the DOM or a URL.
'use strict';

(() => {
  const POLL_MS = 2000;
  const FETCH_TIMEOUT_MS = 5000;
  const TIMELINE_MS = 10 * 60 * 1000;
  // A poll gap longer than this leaves a hole in the timeline instead of stretching the
  // last known state over time the page did not see.
  const TIMELINE_GAP_MS = 3 * POLL_MS;
  const TOKEN_KEY = 'gatehouse.dashboard.token';
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const meta = (name) => {
    const el = document.querySelector(`meta[name="${name}"]`);
    return el ? el.content : '';
  };
  const settings = {
    tokenNeeded: meta('gatehouse-auth') !== 'none',
    statsScope: meta('gatehouse-stats-scope'),
    reloadScope: meta('gatehouse-reload-scope'),
    scopeClaim: meta('gatehouse-scope-claim') || 'scope',
  };

  const $ = (id) => document.getElementById(id);
  const ui = {
    banner: $('banner'), login: $('login'), loginForm: $('login-form'),
    loginReason: $('login-reason'), tokenInput: $('token'), tokenError: $('token-error'),
    main: $('main'), rows: $('rows'), pollState: $('poll-state'),
    reload: $('reload'), changeToken: $('change-token'),
    reloadResult: $('reload-result'), reloadBody: $('reload-body'),
    reloadDismiss: $('reload-dismiss'),
    version: $('config-version'), loaded: $('config-loaded'), path: $('config-path'),
    count: $('config-count'),
  };

  const state = {
    pollTimer: null,
    polling: false,
    clockOffset: 0,          // server clock minus ours, from generated_at
    lastSamples: new Map(),  // id -> {t, total, failed}
    timelines: new Map(),    // id -> [{state, from, to}] in server time (ms)
    rows: new Map(),         // id -> <tr>
    unreachableSince: null,
    lastOk: null,
    // Bumped by every sign-in and sign-out: an answer to a request made before it is
    // dropped, so a slow poll cannot undo a new prompt (and clear what is being typed).
    session: 0,
    focusData: false,        // after a sign-in, move focus to the data once it is there
  };

  // ---- token -------------------------------------------------------------------------
  function storedToken() {
    try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }
  function storeToken(t) {
    try { sessionStorage.setItem(TOKEN_KEY, t); } catch (e) { /* private mode: memory only */ }
  }
  function dropToken() {
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* nothing stored */ }
  }

  function base64urlDecode(s) {
    if (!/^[A-Za-z0-9_-]*$/.test(s)) return null;
    let b = s.replace(/-/g, '+').replace(/_/g, '/');
    while (b.length % 4) b += '=';
    try {
      const bin = atob(b);
      const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (e) {
      return null;
    }
  }

  // The token's claims, decoded without verification: only to decide what to offer
  // (the Reload button, an early re-prompt on expiry). The gateway verifies every call.
  function claimsOf(token) {
    if (!token) return null;
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const text = base64urlDecode(parts[1]);
    if (text === null) return null;
    try {
      const c = JSON.parse(text);
      return c && typeof c === 'object' && !Array.isArray(c) ? c : null;
    } catch (e) {
      return null;
    }
  }
  function scopesOf(claims) {
    const v = claims ? claims[settings.scopeClaim] : undefined;
    if (typeof v === 'string') return v.split(' ').filter(Boolean);
    if (Array.isArray(v)) return v.filter((s) => typeof s === 'string');
    return [];
  }
  function isExpired(claims) {
    return !!claims && typeof claims.exp === 'number' && claims.exp * 1000 <= serverNow();
  }

  function authHeaders() {
    const h = { Accept: 'application/json' };
    if (settings.tokenNeeded) {
      const t = storedToken();
      if (t) h.Authorization = `Bearer ${t}`;
    }
    return h;
  }

  function mayReload() {
    if (!settings.tokenNeeded || settings.reloadScope === '') return true;
    return scopesOf(claimsOf(storedToken())).includes(settings.reloadScope);
  }

  // ---- time --------------------------------------------------------------------------
  function serverNow() { return Date.now() + state.clockOffset; }

  function duration(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
    const h = Math.floor(m / 60);
    return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  }
  function ago(iso) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return '';
    return `${duration(serverNow() - t)} ago`;
  }
  function localTime(iso) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return iso || '–';
    return new Date(t).toLocaleString();
  }

  // ---- DOM helpers (text only: server data never becomes markup) ----------------------
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  function badge(kind, text) {
    return el('span', { class: `badge b-${kind}`, text: text || kind.replace('_', '-') });
  }
  function sub(text) { return el('span', { class: 'sub', text }); }
  function fmtNum(v, digits) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
    return v.toFixed(digits);
  }

  // ---- sign-in -----------------------------------------------------------------------
  function askForToken(reason) {
    state.session += 1;
    stopPolling();
    dropToken();
    ui.main.hidden = true;
    ui.reload.hidden = true;
    ui.changeToken.hidden = true;
    ui.banner.hidden = true;
    ui.loginReason.textContent = reason || '';
    ui.tokenError.hidden = true;
    ui.tokenInput.value = '';
    ui.login.hidden = false;
    ui.pollState.textContent = 'Waiting for a token';
    ui.tokenInput.focus();
  }

  ui.loginForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = ui.tokenInput.value.trim().replace(/^Bearer\s+/i, '');
    ui.tokenInput.value = '';
    if (!value) {
      showTokenError('Enter a token.');
      return;
    }
    const claims = claimsOf(value);
    if (!claims) {
      showTokenError('That is not a JWT (three base64url parts with a JSON payload).');
      return;
    }
    if (isExpired(claims)) {
      showTokenError('That token has expired. Mint a new one.');
      return;
    }
    storeToken(value);
    ui.login.hidden = true;
    ui.loginReason.textContent = '';
    state.focusData = true;
    begin();
  });

  function showTokenError(text) {
    ui.tokenError.textContent = text;
    ui.tokenError.hidden = false;
    ui.tokenInput.focus();
  }

  ui.changeToken.addEventListener('click', () => askForToken(''));

  // ---- polling -----------------------------------------------------------------------
  function begin() {
    state.session += 1;
    state.polling = false;
    ui.reload.hidden = !mayReload();
    ui.changeToken.hidden = !settings.tokenNeeded;
    stopPolling();
    poll();
  }
  function stopPolling() {
    if (state.pollTimer !== null) clearTimeout(state.pollTimer);
    state.pollTimer = null;
  }
  function scheduleNext(startedAt) {
    stopPolling();
    const wait = Math.max(0, POLL_MS - (Date.now() - startedAt));
    state.pollTimer = setTimeout(poll, wait);
  }

  async function poll() {
    state.pollTimer = null;
    if (state.polling) return;
    if (settings.tokenNeeded) {
      const t = storedToken();
      if (!t) { askForToken(''); return; }
      if (isExpired(claimsOf(t))) {
        askForToken('Your token has expired. Enter a new one.');
        return;
      }
    }
    state.polling = true;
    const session = state.session;
    const startedAt = Date.now();
    let res;
    try {
      res = await fetch('/endpoints/stats', {
        headers: authHeaders(), cache: 'no-store', credentials: 'omit',
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
    } catch (e) {
      if (session !== state.session) return;
      state.polling = false;
      unreachable();
      scheduleNext(startedAt);
      return;
    }
    let doc = null;
    try { doc = await res.json(); } catch (e) { doc = null; }
    if (session !== state.session) return;
    state.polling = false;
    if (res.status === 401 || res.status === 403) {
      if (!settings.tokenNeeded) settings.tokenNeeded = true;  // the gateway changed its mind
      askForToken(res.status === 401
        ? 'The gateway refused the token (expired or not valid). Enter a new one.'
        : `The token lacks the scope ${settings.statsScope || 'needed for the stats API'}. Enter another.`);
      return;
    }
    if (!res.ok || !doc || !Array.isArray(doc.endpoints)) {
      const detail = doc && doc.detail ? `: ${doc.detail}` : '';
      showBanner(`The stats API answered ${res.status}${detail}. Retrying every 2 s.`);
      scheduleNext(startedAt);
      return;
    }
    reachable();
    render(doc);
    if (state.focusData) {
      state.focusData = false;
      $('endpoints-title').focus();
    }
    scheduleNext(startedAt);
  }

  function showBanner(text) {
    if (ui.banner.textContent !== text) ui.banner.textContent = text;
    ui.banner.hidden = false;
  }
  function unreachable() {
    if (state.unreachableSince === null) state.unreachableSince = Date.now();
    showBanner(`The gateway is unreachable (since ${new Date(state.unreachableSince)
      .toLocaleTimeString()}). The data below is from the last answer; retrying every 2 s.`);
    ui.rows.classList.add('stale');
    ui.pollState.textContent = 'Gateway unreachable';
  }
  function reachable() {
    state.unreachableSince = null;
    ui.banner.hidden = true;
    ui.banner.textContent = '';
    ui.rows.classList.remove('stale');
  }

  // ---- rendering ---------------------------------------------------------------------
  function render(doc) {
    const generated = Date.parse(doc.generated_at);
    if (!Number.isNaN(generated)) state.clockOffset = generated - Date.now();
    const now = Number.isNaN(generated) ? serverNow() : generated;
    state.lastOk = Date.now();
    ui.login.hidden = true;
    ui.main.hidden = false;
    ui.reload.hidden = !mayReload();

    const c = doc.config || {};
    ui.version.textContent = c.version !== undefined ? String(c.version) : '–';
    ui.loaded.textContent = c.loaded_at ? `${localTime(c.loaded_at)} (${ago(c.loaded_at)})` : '–';
    ui.path.textContent = c.path || '–';
    ui.count.textContent = String(doc.endpoints.length);
    ui.pollState.textContent = `Updated ${new Date().toLocaleTimeString()}, every 2 s`;

    const seen = new Set();
    let previous = null;
    for (const e of doc.endpoints) {
      if (typeof e.id !== 'string') continue;
      seen.add(e.id);
      const rates = rateOf(e, now);
      recordTimeline(e, now);
      let tr = state.rows.get(e.id);
      if (!tr) {
        tr = el('tr', { role: 'row' });
        state.rows.set(e.id, tr);
      }
      fillRow(tr, e, rates, now);
      // Keep the gateway's order, moving rows only when it changed.
      const wanted = previous ? previous.nextSibling : ui.rows.firstChild;
      if (wanted !== tr) ui.rows.insertBefore(tr, wanted);
      previous = tr;
    }
    for (const [id, tr] of state.rows) {
      if (!seen.has(id)) {
        tr.remove();
        state.rows.delete(id);
        state.lastSamples.delete(id);
        state.timelines.delete(id);
      }
    }
    tick();
  }

  function rateOf(e, now) {
    const r = e.requests || {};
    const total = typeof r.total === 'number' ? r.total : null;
    const failed = typeof r.failed === 'number' ? r.failed : null;
    const fallbacks = typeof r.fallbacks === 'number' ? r.fallbacks : 0;
    const prev = state.lastSamples.get(e.id);
    state.lastSamples.set(e.id, { t: now, total, failed, fallbacks });
    if (!prev || total === null || failed === null || prev.total === null) return null;
    const dt = (now - prev.t) / 1000;
    // A counter that went down was reset (the endpoint was replaced by a reload).
    if (dt <= 0 || total < prev.total || failed < prev.failed || fallbacks < prev.fallbacks) return null;
    const dTotal = total - prev.total;
    const dFailed = failed - prev.failed;
    return { req: dTotal / dt, err: dFailed / dt, share: dTotal > 0 ? dFailed / dTotal : 0,
      fallback: (fallbacks - prev.fallbacks) / dt };
  }

  function breakerStateOf(e) {
    if (e.status === 'disabled') return 'disabled';
    const cb = e.circuit_breaker;
    return cb && typeof cb.state === 'string' ? cb.state : 'none';
  }

  function recordTimeline(e, now) {
    const s = breakerStateOf(e);
    let segs = state.timelines.get(e.id);
    if (!segs) { segs = []; state.timelines.set(e.id, segs); }
    const last = segs[segs.length - 1];
    if (last && last.state === s && now - last.to <= TIMELINE_GAP_MS) {
      last.to = now;
    } else if (last && now - last.to <= TIMELINE_GAP_MS) {
      // The change happened somewhere between the two polls: split the difference.
      const mid = last.to + (now - last.to) / 2;
      last.to = mid;
      segs.push({ state: s, from: mid, to: now });
    } else {
      segs.push({ state: s, from: now, to: now });
    }
    const start = now - TIMELINE_MS;
    while (segs.length && segs[0].to < start) segs.shift();
    if (segs.length && segs[0].from < start) segs[0].from = start;
  }

  function timelineCell(id, now) {
    const segs = state.timelines.get(id) || [];
    const start = now - TIMELINE_MS;
    const W = 600;
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('class', 'tl');
    svg.setAttribute('viewBox', `0 0 ${W} 10`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    const totals = new Map();
    for (const sgm of segs) {
      const from = Math.max(sgm.from, start);
      const x = ((from - start) / TIMELINE_MS) * W;
      // At least a sliver, so a state seen in one poll is still visible.
      const w = Math.max(((sgm.to - from) / TIMELINE_MS) * W, 2);
      const r = document.createElementNS(SVG_NS, 'rect');
      r.setAttribute('x', x.toFixed(2));
      r.setAttribute('y', '0');
      r.setAttribute('width', w.toFixed(2));
      r.setAttribute('height', '10');
      r.setAttribute('class', `tl-${sgm.state === 'none' ? 'none-state' : sgm.state}`);
      r.setAttribute('data-state', sgm.state);
      svg.append(r);
      totals.set(sgm.state, (totals.get(sgm.state) || 0) + (sgm.to - from));
    }
    const parts = [...totals].map(([s, ms]) => `${s.replace('_', '-')} ${duration(ms)}`);
    const label = parts.length
      ? `Breaker over the last 10 minutes: ${parts.join(', ')}`
      : 'Breaker over the last 10 minutes: no data yet';
    svg.setAttribute('aria-label', label);
    const title = document.createElementNS(SVG_NS, 'title');
    title.textContent = label;
    svg.prepend(title);
    const axis = el('div', { class: 'tl-axis', 'aria-hidden': 'true' },
      el('span', { text: '−10 min' }), el('span', { text: 'now' }));
    return [svg, axis];
  }

  function healthCell(e) {
    const parts = [badge(e.health || 'unknown', e.health || 'unknown')];
    const h = e.last_health_check;
    if (h && h.at) {
      const what = h.ok
        ? `${h.status ?? ''} in ${fmtNum(h.latency_ms, 1)} ms`
        : (h.error || (h.status ? `status ${h.status}` : 'failed'));
      parts.push(el('span', { class: 'sub' },
        'last probe ', el('span', { class: 'ago', 'data-at': h.at, text: ago(h.at) }),
        `: ${h.ok ? 'ok' : 'failed'}, ${what}`));
    } else if (e.status !== 'disabled') {
      parts.push(sub('no probe yet'));
    }
    return parts;
  }

  function breakerCell(e) {
    const cb = e.circuit_breaker;
    if (!cb) return [badge('none', e.status === 'disabled' ? 'n/a' : 'none')];
    const parts = [badge(cb.state)];
    if (cb.next_attempt_at) {
      parts.push(el('span', { class: 'sub countdown', 'data-next': cb.next_attempt_at }));
    }
    if (cb.consecutive_failures) {
      parts.push(sub(`${cb.consecutive_failures} failure${cb.consecutive_failures === 1 ? '' : 's'} in a row`));
    }
    return parts;
  }

  function serversCell(e) {
    const targets = Array.isArray(e.targets) ? e.targets : null;
    // One server: its URL alone (its health and breaker are the row's own columns).
    if (!targets || targets.length <= 1) return [el('span', { class: 'mono', text: e.url || '' })];
    const list = el('ul', { class: 'servers' });
    for (const t of targets) {
      const li = el('li', {}, el('span', { class: 'mono', text: t.url || '' }));
      const bits = [];
      if (typeof t.weight === 'number' && targets.length > 1) bits.push(`weight ${t.weight}`);
      if (t.health) bits.push(t.health);
      if (t.circuit_breaker && t.circuit_breaker.state) {
        bits.push(`breaker ${t.circuit_breaker.state.replace('_', '-')}`);
      }
      if (typeof t.in_flight === 'number') bits.push(`${t.in_flight} in flight`);
      if (bits.length) li.append(sub(bits.join(' · ')));
      list.append(li);
    }
    return [list];
  }

  function fillRow(tr, e, rates, now) {
    const r = e.requests || {};
    const lat = r.latency_ms || {};
    const rl = e.rate_limit && typeof e.rate_limit === 'object' ? e.rate_limit : null;
    tr.className = e.status === 'disabled' ? 'disabled' : '';
    tr.dataset.id = e.id;
    const cells = [
      ['Endpoint', 'id', [e.id]],
      ['Prefix', 'prefix', [el('span', { class: 'mono', text: e.prefix || '' })]],
      ['Servers', 'servers', serversCell(e)],
      ['Methods', 'methods', [Array.isArray(e.methods) ? e.methods.join(', ') : 'any']],
      ['Auth', 'auth', [e.auth_type || '–']],
      ['Enabled', 'enabled', [e.status === 'disabled' ? badge('disabled', 'no') : badge('enabled', 'yes')]],
      ['Health', 'health', healthCell(e)],
      ['Breaker', 'breaker', breakerCell(e)],
      ['Requests', 'requests', [rates ? `${fmtNum(rates.req, 1)}/s` : '–',
        sub(`${r.total ?? 0} total`)]],
      // Failed upstream exchanges; requests the fallback answered (breaker open) apart.
      ['Errors', 'errors', [rates ? `${fmtNum(rates.err, 1)}/s` : '–',
        sub(rates && rates.req > 0 ? `${fmtNum(rates.share * 100, 0)} % · ${r.failed ?? 0} total`
          : `${r.failed ?? 0} total`),
        rates && rates.fallback > 0 ? sub(`${fmtNum(rates.fallback, 1)}/s by fallback`) : null]],
      ['p50 / p99', 'latency', [typeof lat.p50 === 'number'
        ? `${fmtNum(lat.p50, 1)} / ${fmtNum(lat.p99, 1)} ms` : '–']],
      ['Rate-limited', 'limited', [rl && typeof rl.limited === 'number' ? String(rl.limited) : '–',
        rl && rl.requests ? sub(`${rl.requests} per ${rl.per}${rl.burst ? ` + ${rl.burst}` : ''}`) : null]],
      ['Breaker, last 10 min', 'timeline', timelineCell(e.id, now)],
    ];
    while (tr.children.length > cells.length) tr.lastChild.remove();
    cells.forEach(([label, cls, content], i) => {
      let td = tr.children[i];
      if (!td) {
        td = el(i === 0 ? 'th' : 'td', { role: i === 0 ? 'rowheader' : 'cell', 'data-label': label,
          class: cls });
        if (i === 0) td.setAttribute('scope', 'row');
        tr.append(td);
      }
      const box = document.createElement('div');
      for (const c of content) {
        if (c === null || c === undefined) continue;
        box.append(c instanceof Node ? c : document.createTextNode(String(c)));
      }
      td.replaceChildren(box);
    });
  }

  // Countdowns and "ago" texts move every second between polls.
  function tick() {
    const now = serverNow();
    for (const c of ui.rows.querySelectorAll('.countdown')) {
      const t = Date.parse(c.dataset.next);
      if (Number.isNaN(t)) continue;
      const left = t - now;
      const text = left > 0 ? `next attempt in ${Math.ceil(left / 1000)} s` : 'next attempt due';
      if (c.textContent !== text) c.textContent = text;
    }
    for (const a of ui.rows.querySelectorAll('.ago')) {
      const text = ago(a.dataset.at);
      if (a.textContent !== text) a.textContent = text;
    }
  }
  setInterval(tick, 500);

  // ---- reload ------------------------------------------------------------------------
  ui.reload.addEventListener('click', async () => {
    ui.reload.disabled = true;
    ui.reload.setAttribute('aria-busy', 'true');
    let res;
    let doc = null;
    try {
      res = await fetch('/endpoints/reload', {
        method: 'POST', headers: authHeaders(), cache: 'no-store', credentials: 'omit',
        signal: AbortSignal.timeout(30000),
      });
      try { doc = await res.json(); } catch (e) { doc = null; }
    } catch (e) {
      res = null;
    }
    ui.reload.disabled = false;
    ui.reload.removeAttribute('aria-busy');
    if (!res) {
      unreachable();
      showReload('Reload failed', [el('p', { text: 'The gateway could not be reached.' })]);
      return;
    }
    if (res.status === 401) {
      askForToken('The gateway refused the token (expired or not valid). Enter a new one.');
      return;
    }
    if (res.status === 403) {
      showReload('Reload refused', [el('p', {
        text: `The token lacks the scope ${settings.reloadScope}.` })]);
      return;
    }
    if (res.ok && doc) {
      showReload(doc.result === 'applied' ? 'Reload applied' : 'Reload: nothing changed',
        reportOf(doc));
    } else if (res.status === 422 && doc && Array.isArray(doc.errors)) {
      showReload('Reload refused: the file is invalid', errorsOf(doc));
    } else {
      showReload('Reload failed', [el('p', {
        text: `The gateway answered ${res.status}${doc && doc.detail ? `: ${doc.detail}` : ''}.` })]);
    }
    if (!state.polling) { stopPolling(); poll(); }
  });

  function reportOf(doc) {
    const dl = el('dl');
    const add = (k, v) => dl.append(el('dt', { text: k }), el('dd', { text: v }));
    add('Result', doc.result);
    add('Config version', String(doc.config_version));
    for (const key of ['added', 'removed', 'updated', 'disabled', 'unchanged', 'restart_required']) {
      const list = Array.isArray(doc[key]) ? doc[key] : [];
      add(key.replace('_', ' '), list.length ? list.join(', ') : 'none');
    }
    return [dl];
  }

  function errorsOf(doc) {
    const count = typeof doc.error_count === 'number' ? doc.error_count : doc.errors.length;
    const out = [el('p', {
      text: `${count} error${count === 1 ? '' : 's'}; the running configuration is kept.` })];
    const ul = el('ul', { class: 'errors' });
    for (const e of doc.errors) {
      const where = e.line ? ` (line ${e.line}, column ${e.column})` : '';
      ul.append(el('li', {}, el('code', { text: e.path || '(file)' }), `${where}: ${e.message}`));
    }
    out.push(ul);
    if (count > doc.errors.length) out.push(el('p', { text: `The first ${doc.errors.length} are listed.` }));
    return out;
  }

  function showReload(title, content) {
    $('reload-title').textContent = title;
    ui.reloadBody.replaceChildren(...content);
    ui.reloadResult.hidden = false;
    ui.reloadResult.focus();
  }
  ui.reloadDismiss.addEventListener('click', () => {
    ui.reloadResult.hidden = true;
    ui.reload.focus();
  });

  // ---- start -------------------------------------------------------------------------
  $('stats-scope').textContent = settings.statsScope || '(none)';
  $('origin').textContent = location.origin;
  if (!settings.tokenNeeded) {
    begin();
  } else {
    const t = storedToken();
    if (!t) askForToken('');
    else if (isExpired(claimsOf(t))) askForToken('Your token has expired. Enter a new one.');
    else begin();
  }
})();
