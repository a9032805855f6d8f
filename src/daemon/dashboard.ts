import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/** A static file of the dashboard, held in memory. */
export interface DashboardFile {
  readonly type: string;
  readonly body: Buffer;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** The dashboard's own files, shipped as they are (no build step) in `src/daemon/dashboard/`. */
const FILES = Object.freeze([
  ['/', 'index.html', 'text/html; charset=utf-8'],
  ['/dashboard.js', 'dashboard.js', JS],
  ['/dashboard.css', 'dashboard.css', CSS],
] as const);

/**
 * The chart library's files, served from the `uplot` package as npm installed it (resolved
 * from this module, so from the package's own `node_modules` or its user's).
 */
const VENDOR_FILES = Object.freeze([
  ['/vendor/uPlot.iife.min.js', 'uplot/dist/uPlot.iife.min.js', JS],
  ['/vendor/uPlot.min.css', 'uplot/dist/uPlot.min.css', CSS],
] as const);

/** The paths {@link loadDashboard} serves: they need no token (they hold no data). */
export const DASHBOARD_PATHS: readonly string[] = Object.freeze([...FILES, ...VENDOR_FILES].map(([path]) => path));

/** Reads the dashboard's files (from the package's `src/daemon/dashboard/`, beside `dist/`) and uPlot's. */
export async function loadDashboard(): Promise<Map<string, DashboardFile>> {
  // compiled to dist/src/daemon/dashboard.js: the sources are three levels up, then src/daemon/dashboard
  const folder = new URL('../../../src/daemon/dashboard/', import.meta.url);
  const files = new Map<string, DashboardFile>();
  for (const [path, name, type] of FILES) files.set(path, { type, body: await readFile(new URL(name, folder)) });
  const require = createRequire(import.meta.url);
  for (const [path, specifier, type] of VENDOR_FILES) {
    files.set(path, { type, body: await readFile(pathToFileURL(require.resolve(specifier))) });
  }
  return files;
}
