/* global document, location, window */
import { api, apiJson, el, setupTokenField, statusBadge, targetText, token, watch } from './api-fetch.js';

setupTokenField();
const id = new URLSearchParams(location.search).get('id') || '';
const $ = (s) => document.getElementById(s);
const MAX_EVENTS = 20000;
const SHOWN_ROWS = 500;
let events = [];
let finished = false;

$('trace-id').textContent = id;
document.title = `tracejob — trace ${id}`;

const TERMINAL = new Set(['succeeded', 'partial', 'failed', 'cancelled']);
const BASE_FIELDS = new Set(['timestamp', 'node', 'namespace', 'pod', 'container', 'pid', 'tid', 'ppid', 'uid', 'comm', 'cgroupId', 'gadget']);

// timestamps are exact ns since the epoch as decimal strings (results of older runners: numbers)
function nsOf(t) {
  if (typeof t === 'string' && /^\d{1,20}$/.test(t)) return BigInt(t);
  if (typeof t === 'number' && Number.isFinite(t)) return BigInt(Math.round(t));
  return undefined;
}
function clockOf(ns) { return `${new Date(Number(ns / 1000000n)).toISOString().slice(11, 19)}.${(ns % 1000000000n).toString().padStart(9, '0')}`; }

function fmtSeconds(s) { s = Math.max(0, Math.floor(s)); return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`; }

function renderStatus(p) {
  $('status').replaceChildren(statusBadge(p.status));
  const facts = [['gadget', p.gadget], ['duration', fmtSeconds(p.durationSeconds)], ['created', p.createdAt], ['started', p.startedAt || '—'], ['finished', p.finishedAt || '—'],
    ['events', `${p.counts.events} (lost ${p.counts.lostEvents})`], ['tracing', `${p.counts.nodesTracing ?? 0}/${p.counts.nodesTotal} nodes`], ['nodes', `${p.counts.nodesDone}/${p.counts.nodesTotal} done`]];
  if (p.target) facts.splice(1, 0, ['target', targetText(p.target)]);
  $('facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { dataset: { fact: k } }, v)]));
  const pct = TERMINAL.has(p.status) ? 100 : Math.min(100, (100 * p.elapsedSeconds) / Math.max(1, p.durationSeconds));
  $('progress').style.width = `${pct}%`;
  $('progress-text').textContent = TERMINAL.has(p.status) ? '' : `${fmtSeconds(p.elapsedSeconds)} / ${fmtSeconds(p.durationSeconds)}`;
  $('error').textContent = [p.counts.lostEvents > 0 ? `${p.counts.lostEvents} events were lost in the kernel: the result is incomplete` : '', p.error ? `error: ${p.error}` : ''].filter(Boolean).join(' — ');
  $('nodes').tBodies[0].replaceChildren(...p.nodes.map((n) => el('tr', { dataset: { node: n.node } },
    el('td', { className: 'mono' }, n.node), el('td', {}, statusBadge(n.status)), el('td', { dataset: { tracingSince: n.tracingSince || '' } }, n.tracingSince ? n.tracingSince.slice(11, 23) : '—'), el('td', { className: 'num' }, n.events),
    el('td', { className: 'num' }, n.lostEvents), el('td', {}, n.stopReason || ''), el('td', { className: 'error' }, n.error || ''))));
}

function renderSummary(s) {
  $('summary-counts').textContent = `${s.events} events, ${s.lostEvents} lost${s.truncated ? ', truncated by the event cap' : ''}, ${s.nodes} node${s.nodes === 1 ? '' : 's'} reported`;
  const tables = Object.entries(s.top || {}).filter(([, entries]) => entries.length > 0).map(([field, entries]) =>
    el('div', { dataset: { topField: field } }, el('h2', {}, `top ${field}`),
      el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, field), el('th', { className: 'num' }, 'count'))),
        el('tbody', {}, ...entries.map((e) => el('tr', {}, el('td', { className: 'mono' }, e.value), el('td', { className: 'num' }, e.count)))))));
  if (s.blockio) tables.push(...blockioTables(s.blockio));
  if (s.tcpdrop) tables.push(...tcpdropTables(s.tcpdrop));
  if (tables.length === 0) tables.push(el('p', { className: 'muted' }, 'no top values (no events)'));
  $('summary').replaceChildren(...tables);
}

function fmtBytes(n) { const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let v = n, i = 0; while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; } return i === 0 ? `${n} B` : `${v.toFixed(1)} ${u[i]}`; }
function fmtLatency(ns) { return ns < 1e6 ? `${Math.round(ns / 1e3)} us` : ns < 1e9 ? `${(ns / 1e6).toFixed(1)} ms` : `${(ns / 1e9).toFixed(2)} s`; }
function ownerOf(r) { return r.pod ? `${r.namespace ? `${r.namespace}/` : ''}${r.pod}${r.container ? `/${r.container}` : ''}` : r.cgroupId ? `cgroup ${r.cgroupId}` : ''; }
function simpleTable(headers, rows, numeric) {
  return el('table', {}, el('thead', {}, el('tr', {}, ...headers.map((h, i) => el('th', { className: numeric.includes(i) ? 'num' : '' }, h)))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c, i) => el('td', { className: numeric.includes(i) ? 'num' : 'mono' }, c))))));
}

// blockio: one log2 latency histogram per disk and operation (bars as in biolatency), top processes
function blockioTables(b) {
  const out = b.perDevice.map((d) => {
    const max = Math.max(0, ...d.latencyUsSlots);
    const rows = d.latencyUsSlots.map((count, i) => el('tr', {},
      el('td', { className: 'mono' }, `${i === 0 ? 0 : 2 ** i} – ${2 ** (i + 1) - 1} us`), el('td', { className: 'num' }, count),
      el('td', {}, el('span', { className: 'hist-bar', style: `width:${max ? (100 * count) / max : 0}%` }))));
    return el('div', { dataset: { blockioDevice: `${d.disk} ${d.op}` } }, el('h2', {}, `${d.disk} ${d.op}: ${d.requests} requests, ${fmtBytes(d.bytes)}`),
      el('p', { className: 'muted' }, `avg ${d.requests ? fmtLatency(d.latencyNsTotal / d.requests) : '—'}, max ${fmtLatency(d.latencyNsMax)}${d.errors ? `, ${d.errors} failed` : ''}`),
      el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'latency'), el('th', { className: 'num' }, 'requests'), el('th', { className: 'hist' }, ''))), el('tbody', {}, ...rows)));
  });
  if (b.topProcesses.length > 0) {
    out.push(el('div', { dataset: { blockioTop: 'processes' } }, el('h2', {}, 'top processes (block I/O bytes)'),
      simpleTable(['bytes', 'requests', 'pid', 'comm', 'owner'], b.topProcesses.slice(0, 10).map((p) => [fmtBytes(p.bytes), p.requests, p.pid, p.comm, ownerOf(p)]), [0, 1, 2])));
  }
  return out;
}

// tcpdrop: drops per reason, top (reason, flow, owner) rows
function tcpdropTables(t) {
  const ep = (a, p) => (a ? `${a.includes(':') ? `[${a}]` : a}${p !== undefined ? `:${p}` : ''}` : '');
  return [
    el('div', { dataset: { tcpdropTop: 'reasons' } }, el('h2', {}, `drops per reason (${t.drops})`), simpleTable(['reason', 'drops'], t.perReason.map((r) => [r.reason, r.drops]), [1])),
    el('div', { dataset: { tcpdropTop: 'flows' } }, el('h2', {}, 'top drops'),
      simpleTable(['drops', 'reason', 'source', 'destination', 'comm', 'owner'], t.top.slice(0, 10).map((f) => [f.drops, f.reason, ep(f.saddr, f.sport), ep(f.daddr, f.dport), f.comm, ownerOf(f)]), [0])),
  ];
}

function renderChart() {
  const times = events.map((e) => nsOf(e.timestamp)).filter((t) => t !== undefined).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (times.length === 0) { $('chart').replaceChildren(el('p', { className: 'muted' }, 'no events')); return; }
  const bins = 60, t0 = times[0], span = Math.max(1, Number(times[times.length - 1] - t0));
  const counts = new Array(bins).fill(0);
  for (const t of times) counts[Math.min(bins - 1, Math.floor((Number(t - t0) / span) * bins))]++;
  const max = Math.max(...counts), W = 600, H = 140, bw = W / bins;
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('class', 'chart'); svg.setAttribute('viewBox', `0 0 ${W} ${H + 16}`); svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img'); svg.setAttribute('aria-label', `events over time: ${times.length} events`);
  counts.forEach((c, i) => {
    const r = document.createElementNS(NS, 'rect'); const h = (c / max) * H;
    r.setAttribute('x', String(i * bw + 0.5)); r.setAttribute('y', String(H - h)); r.setAttribute('width', String(Math.max(1, bw - 1))); r.setAttribute('height', String(h));
    const title = document.createElementNS(NS, 'title'); title.textContent = `${c} events`; r.append(title); svg.append(r);
  });
  const label = (x, text, anchor) => { const t = document.createElementNS(NS, 'text'); t.setAttribute('x', String(x)); t.setAttribute('y', String(H + 12)); t.setAttribute('text-anchor', anchor); t.textContent = text; svg.append(t); };
  label(0, new Date(Number(t0 / 1000000n)).toISOString().slice(11, 19), 'start');
  label(W, `+${(span / 1e9).toFixed(1)}s · max ${max}/bin`, 'end');
  $('chart').replaceChildren(svg);
}

function details(e) { return Object.entries(e).filter(([k]) => !BASE_FIELDS.has(k)).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' '); }

function renderEvents() {
  const q = $('search').value.trim().toLowerCase();
  const matching = q ? events.filter((e) => JSON.stringify(e).toLowerCase().includes(q)) : events;
  $('events-count').textContent = `${matching.length} of ${events.length} events${matching.length > SHOWN_ROWS ? ` (first ${SHOWN_ROWS} shown)` : ''}`;
  $('events').tBodies[0].replaceChildren(...matching.slice(0, SHOWN_ROWS).map((e) => el('tr', {},
    el('td', { className: 'mono' }, nsOf(e.timestamp) === undefined ? '' : clockOf(nsOf(e.timestamp))),
    el('td', {}, e.node || ''), el('td', {}, e.pod ? `${e.namespace || ''}/${e.pod}` : ''), el('td', { className: 'num' }, e.pid ?? ''),
    el('td', { className: 'mono' }, e.comm || ''), el('td', { className: 'mono' }, details(e)))));
}

async function loadEvents() {
  events = [];
  let cursor;
  do {
    const page = await apiJson(`../v1/traces/${id}/events?limit=2000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    events.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && events.length < MAX_EVENTS);
  renderChart();
  renderEvents();
}

$('search').addEventListener('input', renderEvents);

const bundleLink = $('bundle');
bundleLink.href = `../v1/traces/${id}/bundle`;
bundleLink.download = `trace-${id}.tar.gz`;
bundleLink.addEventListener('click', async (ev) => {
  if (!token()) return; // a plain link works without a token
  ev.preventDefault();
  const blob = await (await api(bundleLink.href)).blob();
  const a = el('a', { href: URL.createObjectURL(blob), download: `trace-${id}.tar.gz` });
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
});

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = el('script', { src });
    s.addEventListener('load', resolve);
    s.addEventListener('error', () => reject(new Error(`cannot load ${src}`)));
    document.head.append(s);
  });
}

/** Folded stacks (`a;b;c` → samples) as the tree d3-flame-graph draws: {name, value, children}. */
function stackTree(stacks) {
  const root = { name: 'all', value: 0, children: [] };
  const index = new Map([[root, new Map()]]);
  for (const { stack, samples } of stacks) {
    root.value += samples;
    let node = root;
    for (const frame of stack.split(';')) {
      const kids = index.get(node);
      let child = kids.get(frame);
      if (!child) { child = { name: frame, value: 0, children: [] }; kids.set(frame, child); index.set(child, new Map()); node.children.push(child); }
      child.value += samples;
      node = child;
    }
  }
  return root;
}

function topTable(title, rows, total) {
  return el('div', { dataset: { profileTop: title } }, el('h2', {}, title),
    el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'function'), el('th', { className: 'num' }, 'samples'), el('th', { className: 'num' }, 'share'))),
      el('tbody', {}, ...rows.map((f) => el('tr', {}, el('td', { className: 'mono' }, f.frame), el('td', { className: 'num' }, f.samples),
        el('td', { className: 'num' }, total ? `${((100 * f.samples) / total).toFixed(1)}%` : ''))))));
}

async function loadProfile() {
  $('profile-section').hidden = false;
  for (const [link, format] of [['flame-svg', 'svg'], ['flame-folded', 'folded']]) {
    const a = $(link);
    a.href = `../v1/traces/${id}/profile?format=${format}`;
    a.addEventListener('click', async (ev) => {
      if (!token()) return;
      ev.preventDefault();
      const blob = await (await api(a.href)).blob();
      window.open(URL.createObjectURL(blob));
    });
  }
  const profile = await apiJson(`../v1/traces/${id}/profile?format=json`);
  $('flame-info').textContent = `${profile.samples} samples, ${profile.stacks.length} distinct stacks`;
  $('profile-top').replaceChildren(topTable('top functions (self)', profile.summary.topSelf.slice(0, 10), profile.samples),
    topTable('top functions (total)', profile.summary.topTotal.slice(0, 10), profile.samples));
  if (profile.samples === 0) { $('flame').replaceChildren(el('p', { className: 'muted' }, 'no samples: the targets did not run on a CPU')); return; }
  try {
    await loadScript('vendor/d3.min.js');
    await loadScript('vendor/d3-flamegraph.js');
  } catch (err) {
    $('flame').replaceChildren(el('p', { className: 'error' }, `the flame graph library is not available (${err.message}); the SVG link above still works`));
    return;
  }
  const chart = window.flamegraph.default().width(Math.max(600, $('flame').clientWidth)).cellHeight(18).minFrameSize(2).transitionDuration(300).sort(true);
  window.d3.select('#flame').datum(stackTree(profile.stacks)).call(chart);
  $('flame').dataset.rendered = 'true';
  $('flame-search').addEventListener('input', (ev) => (ev.target.value ? chart.search(ev.target.value) : chart.clear()));
  $('flame-reset').addEventListener('click', () => chart.resetZoom());
}

async function follow() {
  let target;
  let gadget;
  try { ({ target, gadget } = await apiJson(`../v1/traces/${id}`)); } catch (err) { $('error').textContent = err.message; return; }
  for (let attempt = 0; attempt < 20 && !finished; attempt++) {
    try {
      await watch(`../v1/traces/${id}/watch`, (event, data) => {
        if (event === 'status') renderStatus({ ...data, target });
        else if (event === 'summary') renderSummary(data);
        else if (event === 'end') { finished = true; document.body.dataset.finished = data.status; }
      });
    } catch (err) {
      $('error').textContent = err.message;
      if (err.status && err.status < 500) return;
    }
    if (!finished) await new Promise((r) => setTimeout(r, 1000));
  }
  if (finished && gadget === 'profile') await loadProfile().catch((err) => { $('error').textContent = `could not load the profile: ${err.message}`; });
  if (finished) await loadEvents().catch((err) => { $('error').textContent = `could not load events: ${err.message}`; });
}

follow();
