/**
 * `npm run bench -- ha`: three control plane replicas (in this process) on
 * one real PostgreSQL (started here, test/helpers/postgres.ts), 2,000 ADS
 * SotW streams spread over them (examples/ceq's nodes, plaintext: the figures
 * are about replication, not TLS).
 *   apply -> last ACK: from the commit of an apply on replica 1 until every
 *     stream on every replica has ACKed the new clusters version (p50, p99).
 *   failover: replica 2 stops (in-process: its server and store connections
 *     go, as in a kill); its streams reconnect to the others announcing the
 *     version they have: time until every moved stream is served again (p99),
 *     and the pushes the move caused (target 0: versions are content hashes).
 */
import { readMeshSources } from '../src/xds/control-plane';
import { silentLogger } from '../src/xds/log';
import { startControlPlane, type RunningControlPlane } from '../src/xds/serve';
import { AdsTestClient, decodeSotw, TYPE, type Session, type SotwRequest } from '../test/helpers/ads-client';
import { copyExample } from '../test/helpers/mesh-dir';
import { postgresSkipReason, startPostgres } from '../test/helpers/postgres';
import { report } from './measure';

const STREAMS = Number(process.env.HMS_BENCH_HA_STREAMS ?? 2000);
const APPLIES = 10;
const NODES = ['grant-pay', 'impact-calc', 'public-docs'];

interface BenchStream {
  session: Session<SotwRequest>;
  node: string;
  replica: number;
  version?: string;
  ackedAt?: number;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};
const verdict = (v: number, target: number): string => `${v <= target ? 'met' : 'MISSED'}`;

/** Subscribes CDS, ACKs every response, records when it ACKed which version. */
function open(client: AdsTestClient, s: Omit<BenchStream, 'session'>): BenchStream {
  const st: BenchStream = { ...s, session: client.sotw() };
  st.session.send({ node: { id: s.node, cluster: s.node }, type_url: TYPE.clusters, ...(s.version ? { version_info: s.version } : {}) });
  void (async () => {
    for (;;) {
      let raw: Buffer;
      try {
        raw = await st.session.next(600_000);
      } catch {
        return;
      }
      const r = decodeSotw(raw);
      st.session.send({ type_url: TYPE.clusters, version_info: r.version_info, response_nonce: r.nonce });
      st.version = r.version_info;
      st.ackedAt = Date.now();
    }
  })();
  return st;
}

async function until(what: string, ms: number, ok: () => boolean): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export async function run(): Promise<void> {
  const skip = postgresSkipReason();
  if (skip) {
    process.stdout.write(`[bench] ha: skipped: ${skip}\n`);
    return;
  }
  const pg = await startPostgres();
  const mesh = copyExample();
  const planes: RunningControlPlane[] = [];
  const clients: AdsTestClient[] = [];
  try {
    for (let i = 0; i < 3; i++) planes.push(await startControlPlane({ meshDir: mesh.dir, store: pg.url, host: '127.0.0.1', xdsPort: 0, adminPort: 0, insecure: true, log: silentLogger }));
    for (const p of planes) clients.push(new AdsTestClient(`127.0.0.1:${p.ports.xds}`));
    const streams = Array.from({ length: STREAMS }, (_, i) => open(clients[i % 3]!, { node: NODES[i % NODES.length]!, replica: i % 3 }));
    await until('every stream has its first response', 60_000, () => streams.every((s) => s.ackedAt !== undefined));

    const base = readMeshSources(mesh.dir);
    const applyMs: number[] = [];
    for (let n = 0; n < APPLIES; n++) {
      const sources = { ...base, 'mesh_policies.yml': base['mesh_policies.yml']!.replace('max_failures: 3', `max_failures: ${10 + n}`) };
      const r = await planes[0]!.replica!.apply(sources, 'bench', 'bench');
      if (!r.ok) throw new Error(`apply refused: ${JSON.stringify(r.diagnostics)}`);
      const committed = Date.now();
      const want = new Map(NODES.map((id) => [id, planes[0]!.cp.cache.get(id)!.types.clusters.version]));
      await until('every stream ACKed the apply', 30_000, () => streams.every((s) => s.version === want.get(s.node)));
      applyMs.push(Math.max(...streams.map((s) => s.ackedAt! - committed)));
    }

    // Failover: replica 2 goes; its streams move to replicas 1 and 3, announcing what they have.
    const moved = streams.filter((s) => s.replica === 1);
    const pushesBefore = planes[0]!.cp.metrics.pushes + planes[2]!.cp.metrics.pushes;
    const gone = planes[1]!;
    const killedAt = Date.now();
    await gone.xds.stop(0);
    await gone.stop();
    const servedAt = new Map<BenchStream, number>();
    moved.forEach((s, i) => {
      const to = i % 2 === 0 ? 0 : 2;
      const next = open(clients[to]!, { node: s.node, replica: to, ...(s.version ? { version: s.version } : {}) });
      Object.assign(s, { session: next.session, replica: to });
    });
    const streamsOn = (): number => [planes[0]!, planes[2]!].reduce((n, p) => n + NODES.reduce((m, id) => m + (p.cp.status.get(id)?.streams ?? 0), 0), 0);
    // Served again = the replica identified the stream and recorded the node's version as ACKed (it had it).
    await until('every moved stream served again', 30_000, () => {
      if (streamsOn() >= STREAMS) for (const s of moved) if (!servedAt.has(s)) servedAt.set(s, Date.now());
      return servedAt.size === moved.length;
    });
    const failoverMs = Math.max(...[...servedAt.values()].map((t) => t - killedAt));
    await new Promise((r) => setTimeout(r, 500));
    const spurious = planes[0]!.cp.metrics.pushes + planes[2]!.cp.metrics.pushes - pushesBefore;

    report('ha', {
      streams: STREAMS,
      replicas: 3,
      apply_to_last_ack_p50_ms: `${pct(applyMs, 50)} (target < 1000, ${verdict(pct(applyMs, 50), 1000)})`,
      apply_to_last_ack_p99_ms: `${pct(applyMs, 99)} (target < 1000, ${verdict(pct(applyMs, 99), 1000)})`,
      failover_moved_streams: moved.length,
      failover_back_in_sync_max_ms: `${failoverMs} (target < 5000, ${verdict(failoverMs, 5000)})`,
      failover_pushes: `${spurious} (target 0, ${verdict(spurious, 0)})`,
    });
  } finally {
    for (const c of clients) c.close();
    for (const p of planes) await p.stop().catch(() => undefined);
    await pg.destroy();
    mesh.cleanup();
  }
}
