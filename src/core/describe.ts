/** A short, safe rendering of a bad input value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (value instanceof Uint8Array) return `${value.constructor.name}(${value.byteLength})`;
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
}
