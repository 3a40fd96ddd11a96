/* global document, localStorage, location, Node */
// Shared by the pages: the API token (kept in this browser), fetch with it, and an SSE reader over fetch
// (EventSource cannot send an Authorization header).
export function token() { return localStorage.getItem('tracejob.token') || ''; }

export function setupTokenField() {
  const input = document.getElementById('token');
  if (!input) return;
  input.value = token();
  input.addEventListener('change', () => { localStorage.setItem('tracejob.token', input.value.trim()); location.reload(); });
}

export async function api(path, init = {}) {
  const headers = new Headers(init.headers || {});
  if (token()) headers.set('authorization', `Bearer ${token()}`);
  const res = await fetch(path, { ...init, headers });
  if (!res.ok) {
    let message = `HTTP ${res.status}`;
    try { const b = await res.json(); message = b.message || message; } catch { /* not JSON */ }
    const err = new Error(message); err.status = res.status; throw err;
  }
  return res;
}

export async function apiJson(path, init) { return (await api(path, init)).json(); }

/** Calls onMessage(event, data) for each SSE message until the stream ends; resolves then. */
export async function watch(path, onMessage, signal) {
  const res = await api(path, { headers: { accept: 'text/event-stream' }, signal });
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i); buf = buf.slice(i + 2);
      let event = 'message'; const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) onMessage(event, JSON.parse(data.join('\n')));
    }
  }
}

/** Element helper: el('td', {className: 'num'}, 'text', child...) — text is always set as text. */
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(e.dataset, v); else if (k in e) e[k] = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
  return e;
}

export function statusBadge(status) { return el('span', { className: `status ${status}`, dataset: { status } }, status); }

export function targetText(t) {
  const names = { namespace: 'ns', labelSelector: 'l', podName: 'pod', containerName: 'container', nodeName: 'node', cgroupPaths: 'cgroup', pids: 'pid', containerIds: 'container-id' };
  return Object.entries(names).filter(([k]) => t && t[k] !== undefined).map(([k, s]) => `${s}=${Array.isArray(t[k]) ? t[k].join(',') : t[k]}`).join(' ');
}
