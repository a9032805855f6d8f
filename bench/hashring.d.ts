/** Minimal types for the `hashring` dev dependency (a ketama ring), used as the sharding benchmark's anchor. */
declare module 'hashring' {
  export default class HashRing {
    constructor(servers: string[] | Record<string, number>, algorithm?: string, options?: Record<string, unknown>);
    /** The server a key maps to. */
    get(key: string): string;
  }
}
