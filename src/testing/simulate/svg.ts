import type { SimulationReport } from './report.js';

const WIDTH = 960;
const HEIGHT = 380;
const PANEL = { top: 50, bottom: 320, width: 380 };
const LEFT_X = 70;
const RIGHT_X = 540;
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

const fmt = (x: number): string => (Math.round(x * 10) / 10).toString();
const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The report drawn as a standalone SVG: on the left the latency CDF of gets per strategy (the
 * fraction of all gets done within x ms, so each curve tops out at its success rate); on the
 * right get success per window of the workload phase, churn at work.
 */
export function reportSvg(report: SimulationReport): string {
  const parts: string[] = [];
  const { strategies, network, options } = report;
  const maxMs = niceCeiling(Math.max(100, ...strategies.map((s) => s.get.latencyMs.p99)));
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="14">${escape(
      `${network.nodes} nodes, loss ${fmt(options.loss * 100)} %, churn ${fmt(options.churn * 100)} %/h, hostile ${fmt(options.hostile * 100)} %, seed ${options.seed}`,
    )}</text>`,
  );
  // left: latency CDF
  parts.push(...axes(LEFT_X, 'get latency (simulated ms)', 'gets done', [0, maxMs], [0, 1]));
  strategies.forEach((s, i) => {
    const points = [`${LEFT_X},${PANEL.bottom}`];
    const n = s.getLatencyCdf.length;
    s.getLatencyCdf.forEach((ms, j) => {
      const x = LEFT_X + (Math.min(ms, maxMs) / maxMs) * PANEL.width;
      const y = PANEL.bottom - ((j + 1) / n) * s.get.successRate * (PANEL.bottom - PANEL.top);
      points.push(`${fmt(x)},${fmt(y)}`);
    });
    parts.push(polyline(points, COLOURS[i % COLOURS.length] as string));
  });
  // right: success over time
  const spanMin = Math.max(
    1,
    ...strategies.flatMap((s) => s.successOverTime.map((w) => (w.fromMs + options.windowMs) / 60_000)),
  );
  const lowest = Math.min(1, ...strategies.flatMap((s) => s.successOverTime.map((w) => w.successRate)));
  const floor = Math.max(0, Math.floor(lowest * 10) / 10 - 0.1);
  parts.push(...axes(RIGHT_X, 'workload time (virtual minutes)', 'get success', [0, spanMin], [floor, 1]));
  strategies.forEach((s, i) => {
    const points = s.successOverTime.map((w) => {
      const x = RIGHT_X + ((w.fromMs + options.windowMs / 2) / 60_000 / spanMin) * PANEL.width;
      const y = PANEL.bottom - ((w.successRate - floor) / (1 - floor)) * (PANEL.bottom - PANEL.top);
      return `${fmt(x)},${fmt(y)}`;
    });
    if (points.length > 0) parts.push(polyline(points, COLOURS[i % COLOURS.length] as string));
  });
  // legend
  strategies.forEach((s, i) => {
    const x = LEFT_X + i * 150;
    const colour = COLOURS[i % COLOURS.length] as string;
    parts.push(
      `<rect x="${x}" y="${HEIGHT - 18}" width="14" height="4" fill="${colour}"/>`,
      `<text x="${x + 20}" y="${HEIGHT - 12}">${escape(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function axes(x0: number, xLabel: string, yLabel: string, xs: [number, number], ys: [number, number]): string[] {
  const out = [
    `<line x1="${x0}" y1="${PANEL.bottom}" x2="${x0 + PANEL.width}" y2="${PANEL.bottom}" stroke="black"/>`,
    `<line x1="${x0}" y1="${PANEL.top}" x2="${x0}" y2="${PANEL.bottom}" stroke="black"/>`,
    `<text x="${x0 + PANEL.width / 2}" y="${PANEL.bottom + 32}" text-anchor="middle">${escape(xLabel)}</text>`,
    `<text x="${x0 - 48}" y="${(PANEL.top + PANEL.bottom) / 2}" text-anchor="middle" transform="rotate(-90 ${x0 - 48} ${(PANEL.top + PANEL.bottom) / 2})">${escape(yLabel)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const x = x0 + (i / 4) * PANEL.width;
    const y = PANEL.bottom - (i / 4) * (PANEL.bottom - PANEL.top);
    const xv = xs[0] + (i / 4) * (xs[1] - xs[0]);
    const yv = ys[0] + (i / 4) * (ys[1] - ys[0]);
    out.push(
      `<line x1="${fmt(x)}" y1="${PANEL.bottom}" x2="${fmt(x)}" y2="${PANEL.bottom + 4}" stroke="black"/>`,
      `<text x="${fmt(x)}" y="${PANEL.bottom + 16}" text-anchor="middle">${fmt(xv)}</text>`,
      `<line x1="${x0 - 4}" y1="${fmt(y)}" x2="${x0 + PANEL.width}" y2="${fmt(y)}" stroke="#ddd"/>`,
      `<text x="${x0 - 8}" y="${fmt(y + 4)}" text-anchor="end">${fmt(yv * 100)}%</text>`,
    );
  }
  return out;
}

function polyline(points: readonly string[], colour: string): string {
  return `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points.join(' ')}"/>`;
}

/** The smallest of 1, 2, 2.5, 5 × 10^n at or above `x`. */
function niceCeiling(x: number): number {
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}
