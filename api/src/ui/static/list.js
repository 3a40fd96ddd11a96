/* global document, location */
import { apiJson, el, setupTokenField, statusBadge, targetText } from './api-fetch.js';

setupTokenField();
const tbody = document.querySelector('#traces tbody');
const listError = document.getElementById('list-error');

async function refresh() {
  try {
    const { items } = await apiJson('../v1/traces?limit=100');
    tbody.replaceChildren(...items.map((t) => el('tr', { dataset: { id: t.id } },
      el('td', {}, el('a', { href: `trace.html?id=${encodeURIComponent(t.id)}`, className: 'mono' }, t.id)),
      el('td', {}, statusBadge(t.status)),
      el('td', {}, t.gadget),
      el('td', { className: 'mono' }, targetText(t.target)),
      el('td', { className: 'num' }, t.nodes.length),
      el('td', { className: 'num' }, t.counts.events),
      el('td', {}, new Date(t.createdAt).toLocaleString()))));
    if (items.length === 0) tbody.replaceChildren(el('tr', {}, el('td', { colSpan: 7, className: 'muted' }, 'no traces yet')));
    listError.textContent = '';
  } catch (err) { listError.textContent = `could not list traces: ${err.message}`; }
}

async function gadgets() {
  try {
    const { items } = await apiJson('../v1/gadgets');
    document.getElementById('gadget').replaceChildren(...items.map((g) => el('option', { value: g.name, title: g.description }, g.name)));
  } catch (err) { document.getElementById('new-error').textContent = `could not load gadgets: ${err.message}`; }
}

document.getElementById('new-trace').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const target = {};
  if (f.get('namespace')) target.namespace = f.get('namespace');
  if (f.get('labelSelector')) target.labelSelector = f.get('labelSelector');
  if (f.get('cgroupPath')) target.cgroupPaths = [f.get('cgroupPath')];
  const body = { gadget: f.get('gadget'), target, durationSeconds: Number(f.get('durationSeconds')) };
  const out = document.getElementById('new-error');
  try {
    const res = await apiJson('../v1/traces', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    location.href = `trace.html?id=${encodeURIComponent(res.id)}`;
  } catch (err) { out.textContent = err.message; }
});

await gadgets();
await refresh();
setInterval(refresh, 3000);
