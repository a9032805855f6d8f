// Types of the parts of @silentbot1/nat-api (0.4.9, plain JavaScript) that nat-api-mapper.ts uses.
declare module '@silentbot1/nat-api' {
  interface NatApiOptions {
    /** Seconds; the constructor raises it to at least 1200, a per-call `ttl` is sent as is. */
    ttl?: number;
    description?: string;
    autoUpdate?: boolean;
    enablePMP?: boolean;
    enableUPNP?: boolean;
  }
  interface NatApiMapping {
    publicPort: number;
    privatePort: number;
    protocol: 'UDP' | 'TCP';
    description?: string;
    /** Seconds. */
    ttl?: number;
  }
  export default class NatAPI {
    constructor(options?: NatApiOptions);
    /** Resolves `false` (never rejects) when no router answered or every protocol refused. */
    map(mapping: NatApiMapping): Promise<boolean>;
    unmap(mapping: Omit<NatApiMapping, 'ttl' | 'description'>): Promise<boolean>;
    destroy(): Promise<boolean>;
  }
}
