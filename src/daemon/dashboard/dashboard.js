// The dashboard of a Nautilus daemon: plain browser JavaScript, no build step. It reads the API
// token from the page's #token=… fragment (never sent to the server) or asks for it, then follows
// /api/events (Server-Sent Events, read with fetch so the token travels in a header).
/* global document, window, sessionStorage, fetch, TextDecoder, Headers, setTimeout, setInterval */

const state = { token: '', history: [], latency: [], last: undefined, live: false };
const $ = (id) => document.getElementById(id);

function readToken() {
  const match = /token=([^&]+)/.exec(window.location.hash);
  if (match) {
    sessionStorage.setItem('nautilus-token', decodeURIComponent(match[1]));
    window.history.replaceState(null, '', window.location.pathname);
  }
  return sessionStorage.getItem('nautilus-token') ?? '';
}

function showAuth(message) {
  $('auth').hidden = false;
  $('auth-message').textContent = message;
  setLive(false);
}

function setLive(live) {
  state.live = live;
  $('status').textContent = live ? 'live' : 'offline';
  $('status').classList.toggle('live', live);
}

async function api(path) {
  const response = await fetch(path, { headers: new Headers({ authorization: `Bearer ${state.token}` }) });
  if (response.status === 401) {
    const body = await response.json().catch(() => ({}));
    const detail = body.error ? `${body.error.code}: ${body.error.message}` : 'unauthorized';
    throw Object.assign(new Error(detail), { unauthorized: true });
  }
  return response;
}

async function follow() {
  try {
    const response = await api('/api/events');
    if (!response.ok || response.body === null) throw new Error(`events: HTTP ${response.status}`);
    $('auth').hidden = true;
    setLive(true);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        handle(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
    setLive(false);
    setTimeout(follow, 2000);
  } catch (error) {
    if (error.unauthorized) {
      showAuth(
        `The daemon refused the API token (${error.message}). It may have expired or belong to another daemon: paste the current one from the state dir (api-token).`,
      );
      return;
    }
    setLive(false);
    setTimeout(follow, 2000);
  }
}

function handle(block) {
  let event = 'message';
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  const payload = JSON.parse(data);
  if (event === 'stats') onStats(payload);
  if (event === 'activity') onActivity(payload);
}

function sum(counts) {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

function onStats(stats) {
  $('node-id').textContent =
    `${stats.id}  ·  ${stats.addresses.join(', ')}  ·  ${stats.daemon.storage} storage${stats.ready ? '' : '  ·  joining…'}`;
  $('c-contacts').textContent = String(stats.contacts);
  $('c-datagrams').textContent = String(stats.transport.datagramsReceived);
  const now = { time: stats.time, in: sum(stats.rpc.queriesIn), out: sum(stats.rpc.queriesOut) };
  if (state.last !== undefined && now.time > state.last.time) {
    const seconds = (now.time - state.last.time) / 1000;
    const point = { in: (now.in - state.last.in) / seconds, out: (now.out - state.last.out) / seconds };
    state.history.push(point);
    if (state.history.length > 120) state.history.shift();
    $('c-qps-in').textContent = point.in.toFixed(1);
    $('c-qps-out').textContent = point.out.toFixed(1);
    chart('chart-qps', [state.history.map((p) => p.in), state.history.map((p) => p.out)]);
  }
  state.last = now;
  drawTable(stats.buckets);
}

function drawTable(families) {
  const root = $('table');
  root.replaceChildren();
  for (const { family, buckets } of families) {
    const row = document.createElement('div');
    row.className = 'family';
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = `IPv${family}`;
    const grid = document.createElement('div');
    grid.className = 'buckets';
    grid.dataset.family = String(family);
    const sizes = new Map(buckets);
    for (let index = 0; index < 160; index++) {
      const cell = document.createElement('div');
      cell.className = 'bucket';
      const size = sizes.get(index) ?? 0;
      if (size > 0) {
        cell.style.background = `rgba(18, 50, 74, ${0.25 + (0.75 * Math.min(size, 8)) / 8})`;
        cell.dataset.contacts = String(size);
      }
      cell.title = `bucket ${index}: ${size} contacts`;
      grid.append(cell);
    }
    row.append(label, grid);
    root.append(row);
  }
}

function onActivity(activity) {
  state.latency.push(activity.durationMs);
  if (state.latency.length > 120) state.latency.shift();
  chart('chart-latency', [state.latency]);
  const row = document.createElement('tr');
  const cells = [
    new Date(activity.startedAt).toLocaleTimeString(),
    activity.operation,
    activity.target.length > 20 ? `${activity.target.slice(0, 16)}…` : activity.target,
    activity.outcome,
    String(activity.queried),
    activity.durationMs.toFixed(1),
  ];
  for (const [i, text] of cells.entries()) {
    const cell = document.createElement('td');
    cell.textContent = text;
    if (i === 3 && text !== 'ok') cell.className = 'bad';
    row.append(cell);
  }
  if (activity.steps)
    row.title = activity.steps
      .map((s) => `${s.type} ${s.contact ?? ''}${s.rttMs === undefined ? '' : ` ${s.rttMs} ms`}`)
      .join('\n');
  const body = $('activity').querySelector('tbody');
  body.prepend(row);
  while (body.children.length > 50) body.lastElementChild.remove();
}

function chart(id, series) {
  const svg = $(id);
  const max = Math.max(1, ...series.flat());
  const colours = ['#12324a', '#d2691e'];
  svg.replaceChildren();
  series.forEach((values, s) => {
    const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    const step = 300 / Math.max(1, values.length - 1);
    line.setAttribute(
      'points',
      values.map((v, i) => `${(i * step).toFixed(1)},${(100 - (v / max) * 95).toFixed(1)}`).join(' '),
    );
    line.setAttribute('stroke', colours[s] ?? '#444');
    svg.append(line);
  });
}

async function pollMetrics() {
  if (!state.live) return;
  try {
    const text = await (await api('/metrics')).text();
    const value = (re) => Number(re.exec(text)?.[1] ?? 0);
    $('c-items').textContent = String(value(/^nautilus_stored\{kind="items"\} (\S+)/m));
    $('c-peers').textContent = String(value(/^nautilus_stored\{kind="info_hashes"\} (\S+)/m));
    let ok = 0;
    let failed = 0;
    for (const match of text.matchAll(/^nautilus_registry_operations_total\{[^}]*outcome="([^"]+)"[^}]*\} (\S+)/gm)) {
      if (match[1] === 'ok') ok += Number(match[2]);
      else failed += Number(match[2]);
    }
    $('c-registry').textContent = failed === 0 ? `ok (${ok} calls)` : `${failed} errors / ${ok + failed}`;
  } catch {
    // the events stream reports a refused token; a missed poll shows stale numbers until the next
  }
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.token = $('token-input').value.trim();
  sessionStorage.setItem('nautilus-token', state.token);
  void follow();
});

state.token = readToken();
if (state.token === '') showAuth('This dashboard needs the API token of the daemon (state dir: api-token).');
else void follow();
setInterval(() => void pollMetrics(), 2000);
setTimeout(() => void pollMetrics(), 300);
