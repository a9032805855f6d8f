import { integerAtLeast, optionError } from '../option-checks.js';
import { DEFAULT_PUBLICATIONS_OPTIONS, type PublicationsOptions } from './publications.js';

/**
 * Background upkeep of a node (on its clock): republishing what it published. Every field is
 * optional.
 */
export type MaintenanceOptions = PublicationsOptions;

/** Defaults of {@link MaintenanceOptions}. */
export const DEFAULT_MAINTENANCE_OPTIONS = Object.freeze({
  ...DEFAULT_PUBLICATIONS_OPTIONS,
} satisfies Required<MaintenanceOptions>);

/** Validates `options` (the node's `maintenance`); messages name `maintenance.<field>`. @internal */
export function checkMaintenanceOptions(options: MaintenanceOptions | undefined): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) throw optionError('maintenance', 'an object', options);
  const d = DEFAULT_MAINTENANCE_OPTIONS;
  integerAtLeast('maintenance.republishMs', options.republishMs, d.republishMs, 1);
  integerAtLeast('maintenance.reannounceMs', options.reannounceMs, d.reannounceMs, 1);
}
