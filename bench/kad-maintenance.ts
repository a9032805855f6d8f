/**
 * `npm run bench -- kad-maintenance`: what keeping a node alive for weeks costs. The
 * restart-to-ready rows (saved table vs cold join vs bittorrent-dht) come from kad-restart.ts.
 *
 * Run alone: npm run build && node dist/bench/kad-maintenance.js
 */
import { fileURLToPath } from 'node:url';
import { printTable, type Row } from './harness.js';
import { benchKadRestart } from './kad-restart.js';

/** Every kad-maintenance row. */
export async function benchKadMaintenance(): Promise<Row[]> {
  return [...(await benchKadRestart())];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  printTable('KAD maintenance', await benchKadMaintenance());
}
