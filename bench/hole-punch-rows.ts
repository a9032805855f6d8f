/**
 * Hole-punch rows of `npm run bench -- kad-nat`: per NAT kind (full cone, port-restricted cone,
 * symmetric: two routers of that kind in a namespace lab, one home node behind each, a public
 * rendezvous and a second public node), 50 attempts of `node.punch()` from one home node to the
 * other, each from closed NATs (both routers' flows flushed, then each home node pings both
 * public nodes again). The anchor, alternating with each attempt in the same lab: a plain ping
 * to the other home node's external address without a punch (its success rate), and a ping to
 * the rendezvous (the round trip a punch costs a few of).
 *
 * KAD_PUNCH_ATTEMPTS: attempts per kind (default 50).
 */
import { createLab, type Lab, type RouterOptions } from '../test/helpers/netns.js';
import { type LabNode, NODE_PORT, startLabNode } from '../test/helpers/nat-world.js';
import { median, type Row } from './harness.js';

const ATTEMPTS = Number(process.env['KAD_PUNCH_ATTEMPTS'] ?? 50);
/** Rates high enough for back-to-back attempts (a real rendezvous keeps the defaults: 1 a second). */
const UNLIMITED = { introduceRatePerSecond: 1e6, introduceBurst: 1e6, acceptRatePerSecond: 1e6, acceptBurst: 1e6 };
/** The direct ping of the anchor gives up after this long, ms. */
const DIRECT_PING_MS = 500;
/** Pause before each attempt and each anchor, ms: pacing refills, the last punch is over (a target stops at its first answer); 50 attempts fit the agents' 90 s bound. */
const PAUSE_MS = 400;

const KINDS: readonly { name: string; router: RouterOptions }[] = [
  { name: 'full cone', router: { fullCone: true } },
  { name: 'port-restricted cone', router: {} },
  { name: 'symmetric (masquerade random)', router: { symmetric: true } },
];

interface Figures {
  punchOk: number;
  punchMs: number[];
  directOk: number;
  rendezvousRttMs: number[];
  reasons: Map<string, number>;
  /** Setup pings that failed 3 times (the attempt ran anyway). */
  setupFailures: number;
}

async function startNodes(lab: Lab): Promise<{ publics: LabNode[]; a: LabNode; b: LabNode; bId: string }> {
  const [p1, p2] = lab.pub.addresses;
  const rendezvous = await startLabNode(lab, lab.pub.ns, p1 ?? '', { secureIdFor: p1, holePunch: UNLIMITED });
  const other = await startLabNode(lab, lab.pub.ns, p2 ?? '', {
    secureIdFor: p2,
    bootstrap: [`${p1 ?? ''}:${NODE_PORT}`],
  });
  const bootstrap = [`${rendezvous.host}:${NODE_PORT}`, `${other.host}:${NODE_PORT}`];
  const [a, b] = await Promise.all(
    lab.routers.map((router) => {
      const home = router.homes[0]!;
      return startLabNode(lab, home.ns, home.address, { bootstrap, portMapping: 'off', holePunch: UNLIMITED });
    }),
  );
  const bId = (await b!.proc.json((l) => l['event'] === 'listening'))['id'] as string;
  return { publics: [rendezvous, other], a: a!, b: b!, bId };
}

async function measureKind(router: RouterOptions): Promise<Figures> {
  const lab = await createLab({ routers: [router, router], udpTimeoutS: 30 });
  try {
    const { publics, a, b, bId } = await startNodes(lab);
    const [rendezvous] = publics;
    const bWan = lab.routers[1]!.wanAddress;
    const figures: Figures = {
      punchOk: 0,
      punchMs: [],
      directOk: 0,
      rendezvousRttMs: [],
      reasons: new Map(),
      setupFailures: 0,
    };
    /**
     * Closed NATs, then fresh flows from each home node to both public nodes. First a pause: the
     * last attempt's datagrams are over, and the per-destination pacing (4 a second) has refilled.
     */
    const fresh = async (): Promise<void> => {
      await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
      await Promise.all(lab.routers.map((r) => r.flushConntrack()));
      // setup, not a figure: a ping lost on the loaded machine is sent again (3 tries)
      for (const node of [a, b]) {
        for (const p of publics) {
          for (let tries = 1; ; tries++) {
            const ok = await node.request('ping', { host: p.host, port: NODE_PORT }).then(
              () => true,
              () => false,
            );
            if (ok) break;
            if (tries === 3) {
              figures.setupFailures++;
              break;
            }
          }
        }
      }
    };
    for (let i = 0; i < ATTEMPTS; i++) {
      await fresh();
      const direct = await a
        .request('ping', { host: bWan, port: NODE_PORT, timeoutMs: DIRECT_PING_MS }, DIRECT_PING_MS + 5000)
        .then(
          () => true,
          () => false,
        );
      if (direct) figures.directOk++;
      const started = performance.now();
      const rtt = await b.request('ping', { host: rendezvous!.host, port: NODE_PORT }).then(
        () => true,
        () => false,
      );
      if (rtt) figures.rendezvousRttMs.push(performance.now() - started);
      await fresh();
      const result = await a.request('punch', { rendezvous: { host: rendezvous!.host, port: NODE_PORT }, peer: bId });
      figures.punchMs.push(Number(result['durationMs']));
      if (result['ok'] === true) figures.punchOk++;
      else {
        const reason = String(result['reason']);
        figures.reasons.set(reason, (figures.reasons.get(reason) ?? 0) + 1);
      }
    }
    return figures;
  } finally {
    await lab.close();
  }
}

/** The hole-punch rows: success rate and time per NAT kind. */
export async function holePunchRows(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const kind of KINDS) {
    const f = await measureKind(kind.router);
    const failures = [...f.reasons].map(([reason, n]) => `${n}× ${reason}`).join(', ');
    const setup = f.setupFailures === 0 ? '' : `, ${f.setupFailures} setup pings lost`;
    rows.push({
      what: `hole punch success, ${kind.name}, ${ATTEMPTS} attempts${failures === '' ? '' : ` (failed: ${failures})`}${setup}`,
      anchorName: 'direct ping, no punch',
      anchor: (100 * f.directOk) / ATTEMPTS,
      nautilus: (100 * f.punchOk) / ATTEMPTS,
      unit: '%',
    });
    rows.push({
      what: `hole punch time to the verdict, ${kind.name}, median of ${ATTEMPTS}`,
      anchorName: 'ping RTT to the rendezvous',
      anchor: median(f.rendezvousRttMs),
      nautilus: median(f.punchMs),
      unit: 'ms',
    });
  }
  return rows;
}
