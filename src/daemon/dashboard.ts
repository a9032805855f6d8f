import { readFile } from 'node:fs/promises';

/** A static file of the dashboard, held in memory. */
export interface DashboardFile {
  readonly type: string;
  readonly body: Buffer;
}

/** The dashboard's files, shipped as they are (no build step) in `src/daemon/dashboard/`. */
const FILES = Object.freeze([
  ['/', 'index.html', 'text/html; charset=utf-8'],
  ['/dashboard.js', 'dashboard.js', 'text/javascript; charset=utf-8'],
  ['/dashboard.css', 'dashboard.css', 'text/css; charset=utf-8'],
] as const);

/** Reads the dashboard's files (from the package's `src/daemon/dashboard/`, beside `dist/`). */
export async function loadDashboard(): Promise<Map<string, DashboardFile>> {
  // compiled to dist/src/daemon/dashboard.js: the sources are three levels up, then src/daemon/dashboard
  const folder = new URL('../../../src/daemon/dashboard/', import.meta.url);
  const files = new Map<string, DashboardFile>();
  for (const [path, name, type] of FILES) files.set(path, { type, body: await readFile(new URL(name, folder)) });
  return files;
}
