/** Loopback, private, link-local and unique-local addresses: the ones BEP 42 exempts. */
export const LOCAL_ADDRESSES = [
  '127.0.0.1',
  '10.1.2.3',
  '172.16.0.1',
  '172.31.255.255',
  '192.168.1.1',
  '169.254.0.9',
  '::1',
  'fe80::1',
  'fd00::5',
  '::ffff:10.0.0.1',
] as const;

/** Public addresses next to the local ranges. */
export const PUBLIC_ADDRESSES = ['172.32.0.1', '8.8.8.8', '2001:db8::1', '11.0.0.1'] as const;
