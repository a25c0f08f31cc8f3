// Switchyard dashboard: plain JS, no framework, no third-party code.
// Live state comes from GET /events (server-sent events read with fetch so
// that the admin token travels in the Authorization header, never in a URL);
// actions are the admin API's own endpoints, each behind a confirmation.
'use strict';

(() => {
  const TOKEN_KEY = 'switchyard.adminToken';
  const STALE_MS = 40_000; // the server sends at least a keepalive every 15 s
  const TERMINAL = new Set(['succeeded', 'rolled-back', 'failed']);

  const $ = (id) => document.getElementById(id);
  const data = { routes: null, state: null, receivedAt: 0 };
  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let authRequired = false;
  /** Deployments whose history row is open. */
  const openHistory = new Set();

  // ---- tiny DOM helpers ------------------------------------------------------

  /** Builds an element. Text always goes in as text: nothing here parses HTML. */
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'data') for (const [dk, dv] of Object.entries(v)) { if (dv !== undefined && dv !== null) el.dataset[dk] = String(dv); }
        else if (k === 'width') el.style.width = v; // CSSOM: allowed by the page's CSP
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  /**
   * Patches `from` to look like `to`, keeping the elements that did not change
   * (a button under the pointer stays the same button; an open <details>
   * stays open).
   */
  function morph(from, to) {
    if (from.nodeType !== to.nodeType || from.nodeName !== to.nodeName || (from.nodeType === 1 && from.dataset.key !== to.dataset.key)) {
      from.replaceWith(to);
      return;
    }
    if (from.nodeType === 3) {
      if (from.data !== to.data) from.data = to.data;
      return;
    }
    if (from.nodeType !== 1) return;
    for (const a of [...from.attributes]) {
      if (a.name === 'open' && from.nodeName === 'DETAILS') continue;
      if (!to.hasAttribute(a.name)) from.removeAttribute(a.name);
    }
    for (const a of [...to.attributes]) {
      if (a.name === 'open' && from.nodeName === 'DETAILS') continue;
      if (a.name === 'style') {
        if (from.style.cssText !== to.style.cssText) from.style.cssText = to.style.cssText;
      } else if (from.getAttribute(a.name) !== a.value) from.setAttribute(a.name, a.value);
    }
    const fk = [...from.childNodes];
    const tk = [...to.childNodes];
    for (let i = 0; i < tk.length; i++) {
      if (i < fk.length) morph(fk[i], tk[i]);
      else from.append(tk[i]);
    }
    for (let i = tk.length; i < fk.length; i++) fk[i].remove();
  }

  /** Renders `build()` into the container `id`, patching what is there. */
  function render(id, build) {
    const host = $(id);
    const next = h('div', null, build());
    if (host.dataset.rendered !== '1') {
      host.replaceChildren(...next.childNodes);
      host.dataset.rendered = '1';
      return;
    }
    const wrap = h('div', null);
    wrap.append(...host.childNodes);
    morph(wrap, next);
    host.replaceChildren(...wrap.childNodes);
  }

  // ---- formatting ------------------------------------------------------------

  function originOf(u) {
    try {
      return new URL(u).origin;
    } catch {
      return String(u);
    }
  }

  function shortTarget(u) {
    try {
      const x = new URL(u);
      return x.host + (x.pathname !== '/' ? x.pathname : '');
    } catch {
      return String(u);
    }
  }

  function dur(ms) {
    if (!Number.isFinite(ms)) return '–';
    ms = Math.max(0, ms);
    if (ms < 1000) return `${Math.round(ms)} ms`;
    const s = Math.floor(ms / 1000);
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${s % 60}s`;
    const hr = Math.floor(m / 60);
    if (hr < 48) return `${hr}h ${m % 60}m`;
    return `${Math.floor(hr / 24)}d ${hr % 24}h`;
  }

  function ago(iso, now) {
    const t = typeof iso === 'number' ? iso : Date.parse(iso);
    if (!Number.isFinite(t)) return '–';
    const d = now - t;
    return d < 1500 ? 'just now' : `${dur(d)} ago`;
  }

  function clock(iso) {
    const t = typeof iso === 'number' ? new Date(iso) : new Date(iso);
    if (Number.isNaN(t.getTime())) return '–';
    return t.toLocaleString(undefined, { hour12: false, month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  function num(n) {
    return Number.isFinite(n) ? n.toLocaleString() : '–';
  }

  function pct(n) {
    if (!Number.isFinite(n)) return '–';
    return `${Math.round(n * 100) / 100}%`;
  }

  /** State word -> colour class (ok, info, warn, bad, muted). */
  const TONE = {
    active: 'ok', healthy: 'ok', succeeded: 'ok', ok: 'ok', running: 'ok', connected: 'ok',
    flooding: 'info', pending: 'info', 'waiting-ready': 'info', starting: 'info', resolving: 'info', syncing: 'info',
    draining: 'warn', 'rolling-back': 'warn', unresolved: 'warn', resyncing: 'warn', stopping: 'warn', lagging: 'warn',
    ejected: 'bad', unhealthy: 'bad', failed: 'bad', invalid: 'bad', 'crash-loop': 'bad', failing: 'bad', unavailable: 'bad', disconnected: 'bad',
    drained: 'muted', idle: 'muted', 'rolled-back': 'muted', stopped: 'muted', 'not-in-group': 'muted',
  };

  function badge(state, extraClass) {
    const s = String(state ?? 'unknown');
    return h('span', { class: `badge tone-${TONE[s] ?? 'muted'}${extraClass ? ' ' + extraClass : ''}`, data: { state: s } }, s);
  }

  function matchText(m) {
    if (!m || typeof m !== 'object') return '–';
    const host = m.host ? m.host : '';
    const port = m.port ? `:${m.port}` : '';
    return `${host}${port}${m.path ?? ''}`;
  }

  // ---- state derived for several sections ------------------------------------

  const BAD_TARGET = new Set(['unhealthy', 'ejected']);

  /** A pool's health: broken targets (unhealthy, ejected), drained ones, and whether traffic is at risk. */
  function poolHealth(p) {
    const targets = p.targets ?? [];
    const bad = targets.filter((t) => BAD_TARGET.has(t.state)).length;
    const draining = targets.filter((t) => t.state === 'draining').length;
    const serving = (p.weight ?? 0) > 0;
    return { bad, draining, serving, atRisk: serving && (bad > 0 || (p.healthy ?? 0) === 0) };
  }

  function nodeInfo(st) {
    const nodes = Array.isArray(st.nodes) ? st.nodes : [];
    const maxApplied = Math.max(st.self?.appliedRevision ?? 0, ...nodes.map((n) => Number(n.appliedRevision) || 0));
    return { nodes, maxApplied };
  }

  function upstreamNames() {
    return new Set((data.state?.upstreams ?? []).map((u) => u.spec?.name));
  }

  // ---- sections ----------------------------------------------------------------

  function renderHeader(st) {
    const s = st.self ?? {};
    const store = s.storeConnected ? 'connected' : 'disconnected';
    render('node-info', () => [
      h('span', { class: 'kv' }, h('span', { class: 'k' }, 'node'), h('span', { class: 'v mono' }, s.node ?? '–')),
      h('span', { class: 'kv' }, h('span', { class: 'k' }, 'version'), h('span', { class: 'v mono' }, s.version ?? '–')),
      h('span', { class: 'kv' }, h('span', { class: 'k' }, 'applied'), h('span', { class: 'v mono', data: { testid: 'applied-revision' } }, `r${s.appliedRevision ?? 0}`)),
      h('span', { class: 'kv' }, h('span', { class: 'k' }, 'store'), badge(store)),
    ]);
  }

  function renderBanner(st) {
    const banner = $('banner');
    const msgs = [];
    if (st.self && !st.self.ready) msgs.push('This node is not ready: no routing table is loaded yet.');
    if (st.self && !st.self.storeConnected) msgs.push('The config store is unreachable from this node: it serves its last table, writes will fail.');
    for (const [part, err] of Object.entries(st.errors ?? {})) msgs.push(`Cannot read ${part}: ${err} (showing the last data received).`);
    if (msgs.length === 0) {
      banner.hidden = true;
      banner.replaceChildren();
      return;
    }
    banner.hidden = false;
    render('banner', () => msgs.map((m) => h('div', null, m)));
  }

  function statCard(label, value, sub, tone, href) {
    return h('a', { class: `stat tone-${tone}`, href }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-sub' }, sub));
  }

  function renderSummary() {
    const st = data.state;
    const rt = data.routes;
    if (!st) return;
    const routes = rt?.routes ?? [];
    const notActive = routes.filter((r) => r.status !== 'active').length;
    const ups = st.upstreams ?? [];
    let pools = 0;
    let degraded = 0;
    let inflight = 0;
    for (const u of ups) {
      for (const p of Object.values(u.status?.nodes?.[0]?.pools ?? {})) {
        pools++;
        inflight += p.inflight ?? 0;
        if (poolHealth(p).atRisk) degraded++;
      }
    }
    const { nodes, maxApplied } = nodeInfo(st);
    const lagging = nodes.filter((n) => maxApplied - (n.appliedRevision ?? 0) > 0).length;
    const running = (st.deployments ?? []).filter((d) => !TERMINAL.has(d.phase)).length;
    render('summary', () => [
      statCard('Routes', num(rt?.total ?? routes.length), notActive ? `${notActive} not active` : 'all active', notActive ? 'warn' : 'ok', '#routes-section'),
      statCard('Upstreams', num(ups.length), degraded ? `${degraded} serving pool${degraded > 1 ? 's' : ''} degraded` : `${pools} pool${pools === 1 ? '' : 's'}, healthy`, degraded ? 'bad' : 'ok', '#upstreams-section'),
      statCard('In flight', num(inflight), 'requests on this node', 'info', '#upstreams-section'),
      statCard('Nodes', num(nodes.length), lagging ? `${lagging} lagging behind r${maxApplied}` : `all at r${maxApplied}`, lagging ? 'warn' : 'ok', '#nodes-section'),
      statCard('Deployments', running ? `${running} running` : 'none running', `${(st.deployments ?? []).length} recent`, running ? 'info' : 'muted', '#deployments-section'),
    ]);
  }

  // -- upstreams --

  function weightBar(pools, names) {
    const total = names.reduce((s, n) => s + (pools[n]?.weight ?? 0), 0);
    return h(
      'div',
      { class: 'wbar', role: 'img', 'aria-label': names.map((n) => `${n} ${pct(pools[n]?.weight ?? 0)}`).join(', ') },
      names.map((n, i) => {
        const w = pools[n]?.weight ?? 0;
        if (w <= 0 || total <= 0) return null;
        return h('span', { class: `wseg c${i % 6}`, width: `${(w / total) * 100}%`, title: `${n}: ${pct(w)}` }, w / total >= 0.12 ? n : '');
      }),
    );
  }

  function targetRow(u, poolName, t, staticOrigins, drainSet, nodesInflight) {
    const origin = originOf(t.target);
    const isStatic = staticOrigins.has(origin);
    const drained = drainSet.has(origin);
    const action = isStatic
      ? drained
        ? h('button', { type: 'button', class: 'btn btn-sm', data: { action: 'undrain', upstream: u, target: t.target } }, 'Undrain')
        : h('button', { type: 'button', class: 'btn btn-sm btn-ghost btn-drain', data: { action: 'drain', upstream: u, target: t.target }, title: 'Take this target out of rotation' }, 'Drain')
      : h('span', { class: 'muted small', title: 'Targets of dns, process and registry pools come and go with their source' }, 'dynamic');
    return h(
      'li',
      { class: `target tone-row-${TONE[t.state] ?? 'muted'}`, data: { key: origin, target: origin, state: t.state } },
      h('span', { class: `tdot tone-${TONE[t.state] ?? 'muted'}`, 'aria-hidden': 'true' }),
      h('span', { class: 'tname mono', title: t.target }, shortTarget(t.target)),
      h(
        'span',
        { class: 'tmeta small' },
        h('span', { class: `target-state tone-${TONE[t.state] ?? 'muted'}` }, t.state),
        h('span', { class: 'tinflight', title: 'requests in flight to this target on this node' }, ` · ${num(t.inflight ?? 0)} in flight`),
      ),
      h('span', { class: 'taction' }, action),
    );
  }

  function poolCard(u, spec, name, p, idx, onlyFull, poolCount) {
    const staticOrigins = new Set((spec.pools?.[name]?.targets ?? []).map(originOf));
    const drainSet = new Set((spec.drainTargets ?? []).map(originOf));
    const src = p.source;
    const w = p.weight ?? 0;
    const cw = p.configuredWeight ?? spec.weights?.[name] ?? 0;
    const isFull = onlyFull === name;
    const health = poolHealth(p);
    return h(
      'div',
      { class: `pool state-${p.state}`, data: { key: name, pool: name, state: p.state } },
      h(
        'div',
        { class: 'pool-head' },
        h('span', { class: `pool-swatch c${idx % 6}`, 'aria-hidden': 'true' }),
        h('span', { class: 'pool-name' }, name),
        badge(p.state, 'pool-state'),
      ),
      h(
        'div',
        { class: 'pool-weight-row' },
        h('span', { class: 'pool-weight mono', data: { weight: w } }, pct(w)),
        h('span', { class: 'muted small' }, w !== cw ? `→ ${pct(cw)} configured` : 'effective weight'),
      ),
      h('div', { class: 'meter' }, h('span', { class: `meter-fill c${idx % 6}`, width: `${Math.max(0, Math.min(100, w))}%` })),
      h(
        'dl',
        { class: 'pool-stats' },
        h('div', null, h('dt', null, 'in flight'), h('dd', { class: 'mono pool-inflight' }, num(p.inflight ?? 0))),
        h(
          'div',
          null,
          h('dt', null, 'healthy'),
          h('dd', { class: `mono ${health.bad || (p.total && !p.healthy) ? 'text-bad' : ''}` }, `${p.healthy ?? 0}/${p.total ?? 0}`, health.draining ? h('span', { class: 'dd-note' }, ` · ${health.draining} draining`) : null),
        ),
        h('div', null, h('dt', null, 'cut'), h('dd', { class: `mono ${p.cut ? 'text-warn' : ''}` }, num(p.cut ?? 0))),
      ),
      src ? h('div', { class: 'source' }, h('span', { class: 'muted small' }, `${src.kind} source`), badge(src.state, 'badge-sm'), src.error ? h('div', { class: 'source-error small' }, src.error) : null) : null,
      (p.targets ?? []).length
        ? h('ul', { class: 'targets' }, (p.targets ?? []).map((t) => targetRow(u, name, t, staticOrigins, drainSet)))
        : h('p', { class: 'muted small empty-targets' }, 'No targets'),
      poolCount > 1
        ? h(
            'div',
            { class: 'pool-actions' },
            isFull
              ? h('span', { class: 'serving-all small' }, 'Takes all traffic')
              : h(
                  'button',
                  {
                    type: 'button',
                    class: 'btn btn-sm btn-primary',
                    data: { action: 'flip', upstream: u, pool: name, healthy: p.healthy ?? 0, total: p.total ?? 0 },
                    title: `Send all traffic of ${u} to ${name}`,
                  },
                  `Flip to ${name}`,
                ),
          )
        : null,
    );
  }

  function upstreamCard(entry, nodes) {
    const spec = entry.spec ?? {};
    const name = spec.name;
    const node = entry.status?.nodes?.[0];
    const pools = node?.pools ?? {};
    const names = Object.keys(spec.pools ?? pools);
    for (const n of Object.keys(pools)) if (!names.includes(n)) names.push(n);
    const configured = spec.weights ?? {};
    const full = names.filter((n) => (configured[n] ?? 0) > 0);
    const onlyFull = full.length === 1 && !spec.flip ? full[0] : full.length === 1 && spec.flip?.to === full[0] ? full[0] : null;
    const flip = spec.flip;
    const perNode = nodes
      .map((n) => {
        const ps = n.pools?.[name];
        if (!ps) return null;
        return h(
          'span',
          { class: 'node-chip', data: { key: n.id } },
          h('span', { class: 'mono' }, n.id),
          names.map((pn) => (ps[pn] ? h('span', { class: 'chip-part' }, `${pn} ${num(ps[pn].inflight ?? 0)}`) : null)),
        );
      })
      .filter(Boolean);
    const hasProblem = Object.values(pools).some((p) => poolHealth(p).atRisk) || entry.statusError || spec.errors;
    return h(
      'article',
      { class: `card upstream ${hasProblem ? 'has-problem' : ''}`, id: `upstream-${name}`, data: { key: name, upstream: name } },
      h(
        'header',
        { class: 'upstream-head' },
        h('h3', { class: 'mono' }, name),
        h('span', { class: 'muted small' }, `${spec.balancer ?? 'round-robin'}${spec.slowStartMs ? ` · slow start ${dur(spec.slowStartMs)}` : ''}${spec.healthCheck ? ` · health ${spec.healthCheck.path}` : ''}`),
        flip
          ? h('span', { class: 'flip-info small', title: `flipped at ${clock(flip.at)}` }, `flipped to `, h('b', null, flip.to), ` ${ago(flip.at, data.state.at)}${flip.rampMs ? ` · ramp ${dur(flip.rampMs)}` : ''}`)
          : null,
      ),
      names.length ? weightBar(pools, names) : null,
      spec.errors ? h('div', { class: 'inline-error' }, `Invalid: ${spec.errors.map((e) => `${e.field} ${e.message}`).join('; ')}`) : null,
      entry.statusError ? h('div', { class: 'inline-error' }, entry.statusError) : null,
      node
        ? h('div', { class: 'pools' }, names.map((pn, i) => (pools[pn] ? poolCard(name, spec, pn, pools[pn], i, onlyFull, names.length) : null)))
        : null,
      perNode.length ? h('div', { class: 'per-node' }, h('span', { class: 'muted small' }, 'In flight per node'), perNode) : null,
    );
  }

  function renderUpstreams() {
    const st = data.state;
    const ups = st.upstreams ?? [];
    const { nodes } = nodeInfo(st);
    render('upstreams', () => (ups.length ? ups.map((u) => upstreamCard(u, nodes)) : h('p', { class: 'empty' }, 'No upstreams. Create one with PUT /upstreams/:name.')));
  }

  // -- deployments --

  function stepper(d) {
    const steps = Array.isArray(d.steps) ? d.steps : [];
    return h(
      'ol',
      { class: 'stepper' },
      steps.map((s, i) => {
        let cls = 'todo';
        if (d.phase === 'succeeded' || d.phase === 'draining' || i < d.step) cls = 'done';
        else if (i === d.step && d.phase === 'flooding') cls = 'current';
        if (TERMINAL.has(d.phase) && d.phase !== 'succeeded' && i >= d.step) cls = i === d.step ? 'failed' : 'todo';
        return h('li', { class: `step ${cls}`, data: { key: String(i) } }, h('span', { class: 'step-w mono' }, `${s.weight}%`), h('span', { class: 'step-hold small' }, s.holdMs ? `hold ${dur(s.holdMs)}` : 'no hold'));
      }),
    );
  }

  function phaseDetail(d, now) {
    const elapsed = now - (d.phaseStartedAt ?? now);
    switch (d.phase) {
      case 'pending':
        return 'Waiting for the coordinator to pick it up';
      case 'waiting-ready':
        return `Waiting for ${d.pool} to be healthy on every node (${dur(elapsed)} of ${dur(d.readyTimeoutMs)})`;
      case 'flooding': {
        const s = d.steps?.[d.step];
        return s ? `Step ${d.step + 1} of ${d.steps.length}: ${d.pool} at ${s.weight}%, ${dur(elapsed)} of ${dur(s.holdMs)} hold` : 'Flooding';
      }
      case 'draining':
        return `Draining the old pools (${dur(elapsed)} of ${dur(d.drainTimeoutMs)})`;
      case 'rolling-back':
        return 'Rolling back: restoring the weights from before';
      default:
        return `${d.phase} ${ago(d.phaseStartedAt, now)}`;
    }
  }

  function holdProgress(d, now) {
    const elapsed = now - (d.phaseStartedAt ?? now);
    if (d.phase === 'flooding') {
      const s = d.steps?.[d.step];
      return s && s.holdMs > 0 ? Math.min(1, elapsed / s.holdMs) : 1;
    }
    if (d.phase === 'waiting-ready' && d.readyTimeoutMs > 0) return Math.min(1, elapsed / d.readyTimeoutMs);
    if (d.phase === 'draining' && d.drainTimeoutMs > 0) return Math.min(1, elapsed / d.drainTimeoutMs);
    return 0;
  }

  function historyList(d) {
    const hist = d.history ?? [];
    return h(
      'ol',
      { class: 'timeline' },
      d.historyTotal > hist.length ? h('li', { class: 'muted small' }, `${d.historyTotal - hist.length} earlier entries not shown`) : null,
      hist.map((e, i) =>
        h(
          'li',
          { data: { key: `${i}` } },
          h('span', { class: 'mono small muted' }, clock(e.at)),
          badge(e.phase, 'badge-sm'),
          e.step !== undefined && e.step !== null && e.step >= 0 ? h('span', { class: 'small' }, `step ${e.step + 1}`) : null,
          h('span', { class: 'small' }, e.reason ?? ''),
          e.node ? h('span', { class: 'small muted mono' }, e.node) : null,
        ),
      ),
    );
  }

  function liveDeploymentCard(d, st) {
    const now = st.at;
    const { nodes } = nodeInfo(st);
    const perNode = nodes
      .map((n) => {
        const ps = n.pools?.[d.upstream];
        if (!ps) return null;
        return h('span', { class: 'node-chip', data: { key: n.id } }, h('span', { class: 'mono' }, n.id), Object.entries(ps).map(([pn, s]) => h('span', { class: 'chip-part' }, `${pn} ${num(s.inflight ?? 0)}`)));
      })
      .filter(Boolean);
    const abortable = !TERMINAL.has(d.phase) && d.phase !== 'rolling-back' && !d.abortRequested;
    return h(
      'article',
      { class: `card live-deploy phase-${d.phase}`, data: { key: d.id, deployment: d.id, phase: d.phase } },
      h(
        'header',
        { class: 'live-head' },
        h('div', null, h('div', { class: 'eyebrow' }, 'Deployment in progress'), h('h3', null, h('span', { class: 'mono' }, d.upstream), ' → ', h('span', { class: 'mono' }, d.pool))),
        badge(d.phase, 'badge-lg deploy-phase'),
        d.abortRequested ? h('span', { class: 'badge tone-warn' }, 'abort requested') : null,
        h('span', { class: 'spacer' }),
        h('button', { type: 'button', class: 'btn btn-danger', data: { action: 'abort', deployment: d.id, upstream: d.upstream, pool: d.pool }, disabled: !abortable }, 'Abort deployment'),
      ),
      stepper(d),
      h('div', { class: 'live-detail' }, h('span', null, phaseDetail(d, now))),
      h('div', { class: 'meter meter-thin' }, h('span', { class: 'meter-fill tone-bg-info', width: `${Math.round(holdProgress(d, now) * 100)}%` })),
      h(
        'dl',
        { class: 'facts' },
        h('div', null, h('dt', null, 'id'), h('dd', { class: 'mono' }, d.id)),
        h('div', null, h('dt', null, 'coordinator'), h('dd', { class: 'mono' }, d.coordinator ?? '–')),
        h('div', null, h('dt', null, 'started'), h('dd', null, ago(d.createdAt, now))),
        h('div', null, h('dt', null, 'gates'), h('dd', null, `error rate ≤ ${Math.round((d.maxErrorRate ?? 0) * 1000) / 10}% over ≥ ${num(d.minRequests)} requests`)),
      ),
      perNode.length ? h('div', { class: 'per-node' }, h('span', { class: 'muted small' }, 'In flight per node'), perNode) : null,
      h('details', { class: 'history-details', data: { key: 'history' } }, h('summary', null, `History (${d.historyTotal ?? (d.history ?? []).length})`), historyList(d)),
    );
  }

  function renderDeployments() {
    const st = data.state;
    const all = st.deployments ?? [];
    const running = all.filter((d) => !TERMINAL.has(d.phase));
    render('live-deployments', () => running.map((d) => liveDeploymentCard(d, st)));
    const now = st.at;
    render('deployments', () => {
      if (!all.length) return h('p', { class: 'empty' }, 'No deployments yet. Start one with ', h('code', null, 'switchyard deploy'), ' or ', h('code', null, 'POST /deployments'), '.');
      return h(
        'table',
        { class: 'table' },
        h('thead', null, h('tr', null, ['Phase', 'Upstream → pool', 'Steps', 'Started', 'Last change', 'Id', ''].map((c) => h('th', null, c)))),
        h(
          'tbody',
          null,
          all.map((d) => {
            const last = (d.history ?? [])[(d.history ?? []).length - 1];
            const abortable = !TERMINAL.has(d.phase) && d.phase !== 'rolling-back' && !d.abortRequested;
            return [
              h(
                'tr',
                { class: 'deploy-row', data: { key: d.id, deployment: d.id, phase: d.phase, toggle: d.id }, tabindex: '0', 'aria-expanded': openHistory.has(d.id) ? 'true' : 'false' },
                h('td', null, badge(d.phase)),
                h('td', null, h('span', { class: 'mono' }, d.upstream), ' → ', h('span', { class: 'mono' }, d.pool)),
                h('td', { class: 'mono small' }, (d.steps ?? []).map((s) => `${s.weight}`).join(' → ') + '%'),
                h('td', { title: clock(d.createdAt) }, ago(d.createdAt, now)),
                h('td', { class: 'small' }, last ? `${last.reason ?? last.phase} (${ago(last.at, now)})` : '–'),
                h('td', { class: 'mono small muted' }, d.id),
                h('td', { class: 'actions' }, abortable ? h('button', { type: 'button', class: 'btn btn-sm btn-danger-ghost', data: { action: 'abort', deployment: d.id, upstream: d.upstream, pool: d.pool } }, 'Abort') : null),
              ),
              openHistory.has(d.id) ? h('tr', { class: 'history-row', data: { key: `${d.id}/history` } }, h('td', { colspan: '7' }, historyList(d))) : null,
            ];
          }),
        ),
      );
    });
  }

  // -- routes --

  function renderRoutes() {
    const rt = data.routes;
    if (!rt) return;
    const q = $('routes-filter').value.trim().toLowerCase();
    const ups = upstreamNames();
    const rows = (rt.routes ?? []).filter((r) => {
      if (!q) return true;
      return [r.id, matchText(r.match), (r.match?.methods ?? []).join(' '), r.upstream, r.status].join(' ').toLowerCase().includes(q);
    });
    $('routes-count').textContent = rt.truncated ? `${num(rt.total)} (first ${num(rt.routes.length)} shown)` : num(rt.total);
    render('routes', () => {
      if (!rt.routes?.length) return h('p', { class: 'empty' }, 'No routes. Create one with PUT /routes/:id.');
      if (!rows.length) return h('p', { class: 'empty' }, 'No route matches the filter.');
      return h(
        'table',
        { class: 'table' },
        h('thead', null, h('tr', null, ['Status', 'Route', 'Match', 'Methods', 'Upstream', 'Revision'].map((c) => h('th', null, c)))),
        h(
          'tbody',
          null,
          rows.map((r) =>
            h(
              'tr',
              { data: { key: r.id, route: r.id } },
              h('td', null, badge(r.status ?? 'unknown', 'route-status')),
              h('td', { class: 'mono' }, r.id, r.reason || r.errors ? h('div', { class: 'small muted wrap' }, r.reason ?? (r.errors ?? []).map((e) => `${e.field} ${e.message}`).join('; ')) : null),
              h('td', { class: 'mono route-match' }, matchText(r.match)),
              h('td', { class: 'mono small' }, (r.match?.methods ?? []).join(' ') || 'any'),
              h('td', { class: 'mono' }, ups.has(r.upstream) ? h('a', { href: `#upstream-${r.upstream}` }, r.upstream) : h('span', { class: 'text-warn' }, r.upstream ?? '–')),
              h('td', { class: 'mono small muted' }, r.revision ?? ''),
            ),
          ),
        ),
      );
    });
  }

  // -- nodes --

  function renderNodes() {
    const st = data.state;
    const { nodes, maxApplied } = nodeInfo(st);
    const self = st.self?.node;
    render('nodes', () => {
      if (!nodes.length) return h('p', { class: 'empty' }, 'No live node registered.');
      return h(
        'table',
        { class: 'table' },
        h('thead', null, h('tr', null, ['Node', 'Group', 'Admin address', 'Version', 'Applied', 'Lag', 'Last seen', 'In flight'].map((c) => h('th', null, c)))),
        h(
          'tbody',
          null,
          nodes.map((n) => {
            const lag = maxApplied - (Number(n.appliedRevision) || 0);
            let inflight = 0;
            for (const ps of Object.values(n.pools ?? {})) for (const s of Object.values(ps)) inflight += s.inflight ?? 0;
            const seenAgo = st.at - Date.parse(n.lastSeen);
            return h(
              'tr',
              { data: { key: n.id, node: n.id } },
              h('td', { class: 'mono' }, n.id, n.id === self ? h('span', { class: 'tag' }, 'this node') : null),
              h('td', { class: 'mono' }, n.group ?? '–'),
              h('td', { class: 'mono small' }, n.address ?? '–'),
              h('td', { class: 'mono small' }, n.version ?? '–'),
              h('td', { class: 'mono' }, `r${n.appliedRevision ?? 0}`),
              h('td', null, h('span', { class: `badge node-lag tone-${lag > 0 ? 'warn' : 'ok'}`, data: { lag } }, lag > 0 ? `${lag} behind` : 'in sync')),
              h('td', { class: seenAgo > 5000 ? 'text-warn' : '' }, ago(n.lastSeen, st.at)),
              h('td', { class: 'mono' }, num(inflight)),
            );
          }),
        ),
      );
    });
  }

  function renderFooter() {
    const st = data.state;
    render('footer', () => [
      h('span', null, `Store revision r${st.revision ?? 0}`),
      h('span', null, `Last update ${clock(st.at)}`),
      h('a', { href: '/openapi.json', class: 'muted', 'data-auth-link': '1' }, 'API: /openapi.json'),
    ]);
  }

  function renderAll(which) {
    if (!data.state) {
      if (data.routes && which === 'routes') renderRoutes();
      return;
    }
    if (which === 'routes') {
      renderRoutes();
      renderSummary();
      return;
    }
    renderHeader(data.state);
    renderBanner(data.state);
    renderSummary();
    renderDeployments();
    renderUpstreams();
    renderNodes();
    renderFooter();
    if (data.routes) renderRoutes();
  }

  // ---- live connection -----------------------------------------------------------

  function setConn(state, text) {
    const c = $('conn');
    c.dataset.state = state;
    $('conn-text').textContent = text;
  }

  let controller = null;
  let retryMs = 1000;
  let retryTimer = null;
  let watchdog = null;

  function authHeaders() {
    return token ? { authorization: `Bearer ${token}` } : {};
  }

  function scheduleReconnect(reason) {
    if (retryTimer) return;
    setConn('reconnecting', `${reason} · retrying in ${Math.round(retryMs / 1000)}s`);
    retryTimer = setTimeout(() => {
      retryTimer = null;
      connect();
    }, retryMs);
    retryMs = Math.min(retryMs * 2, 10_000);
  }

  function handleEvent(event, payload) {
    let parsed;
    try {
      parsed = JSON.parse(payload);
    } catch {
      return;
    }
    data.receivedAt = Date.now();
    retryMs = 1000;
    if (event === 'routes') {
      data.routes = parsed;
      renderAll('routes');
    } else if (event === 'state') {
      data.state = parsed;
      renderAll('state');
    }
    setConn('live', 'Live');
  }

  async function connect() {
    if (controller) controller.abort();
    const ctl = new AbortController();
    controller = ctl;
    setConn(data.state ? 'reconnecting' : 'connecting', data.state ? 'Reconnecting…' : 'Connecting…');
    let res;
    try {
      res = await fetch('/events', { headers: { ...authHeaders(), accept: 'text/event-stream' }, cache: 'no-store', signal: ctl.signal });
    } catch (err) {
      if (ctl.signal.aborted) return;
      return scheduleReconnect('Disconnected');
    }
    if (res.status === 401) {
      authRequired = true;
      setConn('locked', 'Token required');
      askToken(token ? 'That token was refused.' : '');
      return;
    }
    if (!res.ok || !res.body) return scheduleReconnect(`Error ${res.status}`);
    authRequired = Boolean(token);
    $('forget-token').hidden = !token;
    setConn('live', 'Live');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    const kick = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => ctl.abort(), STALE_MS);
    };
    kick();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        kick();
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) !== -1) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message';
          const lines = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const c = line.indexOf(':');
            const field = c === -1 ? line : line.slice(0, c);
            const val = c === -1 ? '' : line.slice(c + 1).replace(/^ /, '');
            if (field === 'event') event = val;
            else if (field === 'data') lines.push(val);
          }
          if (lines.length) handleEvent(event, lines.join('\n'));
        }
      }
    } catch {
      /* aborted or the connection broke */
    }
    clearTimeout(watchdog);
    if (controller === ctl) {
      controller = null;
      scheduleReconnect('Connection lost');
    }
  }

  // ---- token -----------------------------------------------------------------------

  function askToken(error) {
    const dlg = $('token-dialog');
    const err = $('token-error');
    err.hidden = !error;
    err.textContent = error || '';
    if (!dlg.open) dlg.showModal();
    $('token-input').focus();
  }

  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const v = $('token-input').value.trim();
    if (!v) return;
    token = v;
    sessionStorage.setItem(TOKEN_KEY, token);
    $('token-input').value = '';
    $('token-dialog').close();
    connect();
  });
  // The page is useless without the token: Escape does not dismiss the dialog.
  $('token-dialog').addEventListener('cancel', (e) => e.preventDefault());

  $('forget-token').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    token = '';
    location.reload();
  });

  // ---- actions -----------------------------------------------------------------------

  function toast(kind, title, detail) {
    const t = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, h('strong', null, title), detail ? h('div', { class: 'small' }, detail) : null);
    $('toasts').append(t);
    setTimeout(() => t.classList.add('toast-out'), kind === 'error' ? 9000 : 4500);
    setTimeout(() => t.remove(), kind === 'error' ? 9600 : 5100);
  }

  /** Shows the confirmation dialog; resolves { ok, force }. */
  function confirmAction({ title, body, confirm, force, tone }) {
    const dlg = $('confirm-dialog');
    $('confirm-title').textContent = title;
    $('confirm-body').replaceChildren(...body);
    $('confirm-ok').textContent = confirm;
    $('confirm-ok').className = `btn ${tone === 'danger' ? 'btn-danger' : 'btn-primary'}`;
    $('confirm-force-row').hidden = !force;
    $('confirm-force').checked = false;
    if (force) $('confirm-force-label').textContent = force;
    dlg.returnValue = 'cancel';
    dlg.showModal();
    $('confirm-cancel').focus();
    return new Promise((resolve) => {
      dlg.addEventListener('close', () => resolve({ ok: dlg.returnValue === 'confirm', force: $('confirm-force').checked }), { once: true });
    });
  }

  async function call(method, path, body) {
    const res = await fetch(path, {
      method,
      headers: { ...authHeaders(), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    let json = null;
    try {
      json = await res.json();
    } catch {
      /* not JSON */
    }
    if (res.status === 401) askToken('The token was refused.');
    return { ok: res.ok, status: res.status, body: json };
  }

  function failure(r) {
    const b = r.body || {};
    const details = Array.isArray(b.details) ? ' ' + b.details.map((d) => `${d.field} ${d.message}`).join('; ') : '';
    return `${r.status} ${b.error ?? ''}: ${b.message ?? ''}${details}`.trim();
  }

  /** A paragraph; a first argument that is a plain object is its attributes. */
  function p(...children) {
    const first = children[0];
    if (first && typeof first === 'object' && !(first instanceof Node) && !Array.isArray(first)) return h('p', first, ...children.slice(1));
    return h('p', null, ...children);
  }
  const code = (s) => h('code', null, s);

  async function doFlip(btn) {
    const { upstream, pool } = btn.dataset;
    const healthy = Number(btn.dataset.healthy);
    const total = Number(btn.dataset.total);
    const entry = (data.state?.upstreams ?? []).find((u) => u.spec?.name === upstream);
    const others = Object.keys(entry?.spec?.pools ?? {}).filter((n) => n !== pool);
    const drainMs = entry?.spec?.drainTimeoutMs;
    const body = [
      p('All new requests of ', code(upstream), ' go to pool ', code(pool), ' (weight 100) on every node.'),
      others.length ? p(others.map((o, i) => [i ? ', ' : '', code(o)]), others.length > 1 ? ' drain' : ' drains', ': no new requests; requests in flight finish', drainMs !== undefined ? ` (cut after ${dur(drainMs)}).` : ' (cut after the drain timeout).') : null,
      p({ class: healthy === 0 ? 'text-bad' : 'muted' }, `${pool} has ${healthy} of ${total} targets healthy on this node.`),
    ].filter(Boolean);
    const r0 = await confirmAction({
      title: `Flip ${upstream} to ${pool}?`,
      body,
      confirm: `Flip to ${pool}`,
      force: healthy === 0 ? `Force: flip even though ${pool} has no healthy target` : null,
    });
    if (!r0.ok) return;
    btn.disabled = true;
    const r = await call('POST', `/upstreams/${encodeURIComponent(upstream)}/flip`, r0.force ? { to: pool, force: true } : { to: pool });
    btn.disabled = false;
    if (r.ok) toast('ok', `Flipped ${upstream} to ${pool}`, `Written at store revision r${r.body?.revision}.`);
    else toast('error', `Flip of ${upstream} refused`, failure(r));
  }

  async function doDrain(btn, drain) {
    const { upstream, target } = btn.dataset;
    const r0 = await confirmAction({
      title: drain ? `Drain ${shortTarget(target)}?` : `Put ${shortTarget(target)} back?`,
      body: drain
        ? [p('Target ', code(target), ' of ', code(upstream), ' gets no new requests on any node; requests in flight finish.'), p({ class: 'muted' }, 'Do this before stopping the target. Undrain puts it back in rotation.')]
        : [p('Target ', code(target), ' of ', code(upstream), ' takes requests again once it is healthy.')],
      confirm: drain ? 'Drain target' : 'Undrain target',
    });
    if (!r0.ok) return;
    btn.disabled = true;
    const r = await call('POST', `/upstreams/${encodeURIComponent(upstream)}/targets/drain`, { target, drain });
    btn.disabled = false;
    if (r.ok) toast('ok', drain ? `Draining ${shortTarget(target)}` : `${shortTarget(target)} back in rotation`, `Store revision r${r.body?.revision}.`);
    else toast('error', drain ? 'Drain refused' : 'Undrain refused', failure(r));
  }

  async function doAbort(btn) {
    const { deployment, upstream, pool } = btn.dataset;
    const d = (data.state?.deployments ?? []).find((x) => x.id === deployment);
    const before = d?.before ? Object.entries(d.before).map(([k, v]) => `${k} ${v}`).join(', ') : null;
    const r0 = await confirmAction({
      title: `Abort the deployment of ${upstream} → ${pool}?`,
      body: [
        p('The coordinator rolls back: the weights from before', before ? [' (', code(before), ')'] : '', ' are restored and ', code(pool), ' is drained.'),
        p({ class: 'muted' }, 'Deployment ', code(deployment), '.'),
      ],
      confirm: 'Abort deployment',
      tone: 'danger',
    });
    if (!r0.ok) return;
    btn.disabled = true;
    const r = await call('POST', `/deployments/${encodeURIComponent(deployment)}/abort`);
    btn.disabled = false;
    if (r.ok) toast('ok', 'Abort requested', `The coordinator rolls ${upstream} back.`);
    else toast('error', 'Abort refused', failure(r));
  }

  document.addEventListener('click', (e) => {
    const target = e.target instanceof Element ? e.target : null;
    if (!target) return;
    const btn = target.closest('button[data-action]');
    if (btn && !btn.disabled) {
      e.preventDefault();
      const a = btn.dataset.action;
      if (a === 'flip') void doFlip(btn);
      else if (a === 'drain') void doDrain(btn, true);
      else if (a === 'undrain') void doDrain(btn, false);
      else if (a === 'abort') void doAbort(btn);
      return;
    }
    const row = target.closest('tr[data-toggle]');
    if (row) toggleHistory(row.dataset.toggle);
  });
  document.addEventListener('keydown', (e) => {
    const row = e.target instanceof Element ? e.target.closest('tr[data-toggle]') : null;
    if (row && (e.key === 'Enter' || e.key === ' ')) {
      e.preventDefault();
      toggleHistory(row.dataset.toggle);
    }
  });
  function toggleHistory(id) {
    if (openHistory.has(id)) openHistory.delete(id);
    else openHistory.add(id);
    if (data.state) renderDeployments();
  }

  $('routes-filter').addEventListener('input', () => renderRoutes());

  // /openapi.json needs the token too: fetch it and open the JSON as a blob.
  document.addEventListener('click', async (e) => {
    const a = e.target instanceof Element ? e.target.closest('a[data-auth-link]') : null;
    if (!a || !token) return;
    e.preventDefault();
    const res = await fetch(a.getAttribute('href'), { headers: authHeaders() });
    const blob = new Blob([await res.text()], { type: 'application/json' });
    window.open(URL.createObjectURL(blob), '_blank', 'noopener');
  });

  // Relative times stay fresh between updates; an old snapshot says so.
  setInterval(() => {
    if (!data.state || !data.receivedAt) return;
    const age = Date.now() - data.receivedAt;
    if ($('conn').dataset.state === 'live') $('conn-text').textContent = age > 5000 ? `Live · last change ${dur(age)} ago` : 'Live';
  }, 1000);

  connect();
})();
