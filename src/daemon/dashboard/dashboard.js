// The dashboard of a Nautilus daemon: plain browser JavaScript, no build step. It reads the API
// token from the page's #token=… fragment (never sent to the server) or asks for it, then follows
// /api/events (Server-Sent Events, read with fetch so the token travels in a header). Charts are
// uPlot's (the `uplot` package's dist file, served by the daemon at /vendor/ as the global uPlot).
/* global document, window, sessionStorage, fetch, TextDecoder, Headers, setTimeout, setInterval, uPlot */

const state = { token: '', history: [], latency: [], last: undefined, live: false };
const $ = (id) => document.getElementById(id);
/** Points kept per chart: 120 stats ticks (about 2 minutes), 120 operations. */
const KEEP = 120;

/**
 * The x range of a chart, seconds: its points, and at least the last minute, so a lone point sits
 * at the right (from the data: uPlot widens a lone point's range to 86400 / ms units).
 */
function lastMinute(u) {
  const xs = u.data[0] ?? [];
  const end = xs.at(-1) ?? Date.now() / 1000;
  return [Math.min(xs[0] ?? end, end - 60), end + 1];
}

/** A uPlot time-series chart in the element `id`, one line per `[label, colour]`. */
function timeChart(id, lines, points) {
  const root = $(id);
  const series = lines.map(([label, stroke]) => ({ label, stroke, width: 1.5, points: { show: points } }));
  const options = {
    width: root.clientWidth || 300,
    height: 140,
    scales: { x: { time: true, range: lastMinute }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
    series: [{ label: 'time' }, ...series],
    axes: [{}, { size: 44 }],
  };
  return new uPlot(options, [[], ...lines.map(() => [])], root);
}

const charts = {
  qps: timeChart(
    'chart-qps',
    [
      ['in /s', '#12324a'],
      ['out /s', '#d2691e'],
    ],
    false,
  ),
  latency: timeChart('chart-latency', [['ms', '#12324a']], true),
};
window.addEventListener('resize', () => {
  for (const [name, chart] of Object.entries(charts))
    chart.setSize({ width: $(`chart-${name}`).clientWidth, height: 140 });
});

/** Shows `points` (`{ t, values }`, `t` in epoch ms) on `chart`; the element counts them in data-points. */
function plot(name, points) {
  const columns = [points.map((p) => p.t / 1000)];
  for (let i = 0; i < (points[0]?.values.length ?? 0); i++) columns.push(points.map((p) => p.values[i]));
  charts[name].setData(columns);
  $(`chart-${name}`).dataset.points = String(points.length);
}

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
  showReachability(stats.reachability);
  const now = { time: stats.time, in: sum(stats.rpc.queriesIn), out: sum(stats.rpc.queriesOut) };
  if (state.last !== undefined && now.time > state.last.time) {
    const seconds = (now.time - state.last.time) / 1000;
    const rates = [(now.in - state.last.in) / seconds, (now.out - state.last.out) / seconds];
    state.history.push({ t: now.time, values: rates });
    if (state.history.length > KEEP) state.history.shift();
    $('c-qps-in').textContent = rates[0].toFixed(1);
    $('c-qps-out').textContent = rates[1].toFixed(1);
    plot('qps', state.history);
  }
  state.last = now;
  drawTable(stats.buckets);
}

/** Reachability (public, mapped, firewalled, unknown) and what it rests on. */
function showReachability(r) {
  if (r === undefined) return;
  $('c-reach').textContent = r.state;
  const m = r.mapping;
  const mapping =
    m.state === 'mapped'
      ? `${m.protocol} :${m.externalPort}`
      : m.state === 'failed'
        ? `mapping failed (${m.reason})`
        : '';
  const seen = r.externalAddress === null ? '' : `seen as ${r.externalAddress}`;
  $('c-reach-detail').textContent = ['reachability', seen, mapping].filter((x) => x !== '').join(' · ');
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
  state.latency.push({ t: activity.startedAt + activity.durationMs, values: [activity.durationMs] });
  state.latency.sort((a, b) => a.t - b.t); // uPlot wants x ascending; operations end out of order
  if (state.latency.length > KEEP) state.latency.shift();
  plot('latency', state.latency);
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
