import type { Command } from '../command.js';
import { announceCommand } from './announce.js';
import { auditCommand } from './audit.js';
import { configCommand } from './config.js';
import { getCommand } from './get.js';
import { keygenCommand } from './keygen.js';
import { lookupCommand } from './lookup.js';
import { peersCommand } from './peers.js';
import { pingCommand } from './ping.js';
import { putCommand } from './put.js';
import { registryCommand } from './registry.js';
import { simulateCommand } from './simulate.js';
import { startCommand } from './start.js';
import { statsCommand } from './stats.js';
import { tableCommand } from './table.js';
import { testnetCommand } from './testnet.js';

/**
 * Every verb of `nautilus`, in `--help` order: one module each; a new command is one import
 * and one line here.
 */
export const COMMANDS: readonly Command[] = Object.freeze([
  testnetCommand,
  simulateCommand,
  startCommand,
  configCommand,
  putCommand,
  getCommand,
  keygenCommand,
  announceCommand,
  peersCommand,
  lookupCommand,
  pingCommand,
  statsCommand,
  tableCommand,
  registryCommand,
  auditCommand,
]);
