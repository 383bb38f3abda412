/**
 * Issue 19, item 5: three `mesh serve` replicas, each its own OS process
 * (node bin/mesh.js serve ... --store postgres://...), on one real PostgreSQL
 * started here (test/helpers/postgres.ts), with real Envoy sidecars (the
 * pinned Envoy as local processes, from the same local plan as `mesh run`)
 * and a proxyless member (a real grpc-js-xds XdsServer in this process).
 * Every bootstrap lists every replica (control_plane.replicas of mesh.yml).
 *
 * The replica to be killed starts first and alone, so every node's stream
 * lands on it (the bootstraps' other entries refuse connections until their
 * replicas start: the sidecars and the proxyless member already fail over at
 * their first connection). Then the other two start, traffic flows through
 * the sidecars, and the first is SIGKILLed: every node moves to a survivor
 * with no NACK and nothing pushed (the same content-hash versions), traffic
 * never fails, an apply to a survivor reaches every sidecar and the proxyless
 * member, and the killed replica started again serves the current revision.
 * Last, a replica is SIGSTOPped (its sockets stay open, nothing answers, as
 * when a machine vanishes): its sidecars move too, found by the xDS
 * cluster's HTTP/2 keepalive pings (templates/envoy-bootstrap.yaml.hbs).
 *
 * Every wait is on readiness (status reports, Envoy's admin), bounded; every
 * counter is read as a delta; every process started here is stopped at the
 * end and checked gone.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { parseDocument } from 'yaml';
import { freeRange } from '../../src/compose/free-ports';
import { buildLocalPlan, localPorts, MESH_BIN, type LocalPlan } from '../../src/compose/local-plan';
import { Proc } from '../../src/compose/local-run';
import { adminGet, probe, type ProbeResult } from '../../src/compose/probe';
import { PACKAGE_ROOT } from '../../src/paths';
import { grpcXds, unaryHandler } from '../../src/sdk/grpc';
import { isRunning } from '../../src/util/process';
import type { StatusReport } from '../../src/xds/control-plane';
import { GrantPay } from '../../examples/ceq/apps/grpc/api';
import { AdsTestClient, decodeSotw, TYPE } from '../helpers/ads-client';
import { nodeCredentials } from '../helpers/control-plane';
import { postgresSkipReason, startPostgres, type TestPostgres } from '../helpers/postgres';
import { editPolicies, statSum } from './envoy-admin';
import { adminClient, availability, controlPlaneStatus, eventually, EXAMPLE, issuePki, mesh, runningSkip } from './harness';

const SKIP = runningSkip('local') ?? postgresSkipReason();
const BOOTSTRAP_OPTION = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';
const PAYOUT = { method: 'POST', path: '/payout', json: { project: 'HWY-94', usd: 200_000 } } as const;
const PROXYLESS = 'ledger';

interface ReplicaPorts {
  readonly xds: number;
  readonly admin: number;
  readonly grpc: number;
}

type Versions = Record<string, string>;

describe('real Envoy (local): three mesh serve replicas on PostgreSQL, one SIGKILLed', { concurrency: 1, skip: SKIP }, () => {
  let pg: TestPostgres;
  let work: string;
  let pkiDir: string;
  let plan: LocalPlan;
  let ports: ReplicaPorts[];
  let ledgerPort: number;
  let ledger: grpc.Server | undefined;
  const replicas: Array<Proc | undefined> = [undefined, undefined, undefined];
  /** Replicas stopped with SIGSTOP: running, but they answer nothing (not even their admin API). */
  const paused = new Set<number>();
  const procs: Proc[] = [];
  const traffic: Array<ProbeResult & { at: number }> = [];
  let trafficOn = false;
  let trafficLoop: Promise<void> | undefined;

  const adminUrl = (i: number): string => `https://127.0.0.1:${ports[i]!.admin}`;
  const status = (i: number): Promise<StatusReport> => controlPlaneStatus(adminClient(pkiDir, adminUrl(i)));
  const sidecars = (): LocalPlan['nodes'] => plan.nodes;
  const allNodes = (): string[] => [...sidecars().map((n) => n.node), PROXYLESS];

  function start(name: string, argv: readonly string[], env: Record<string, string> = {}): Proc {
    const p = new Proc(name, spawn(argv[0]!, argv.slice(1), { cwd: work, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
    procs.push(p);
    return p;
  }

  async function startReplica(i: number): Promise<void> {
    const r = ports[i]!;
    const p = start(`replica-${i + 1}`, [process.execPath, MESH_BIN, 'serve', plan.meshDir, '--store', pg.url, '--pki', pkiDir, '--xds-port', String(r.xds), '--admin-port', String(r.admin), '--proxyless-port', String(r.grpc), '--log-level', 'warn']);
    replicas[i] = p;
    await eventually(`replica ${i + 1} listening`, 60_000, async () => {
      if (!p.running) throw new Error(`replica ${i + 1} exited:\n${p.output.slice(-2000)}`);
      return /^mesh serve: xDS /m.test(p.output) ? true : undefined;
    });
  }

  /** node -> index of the live replica where it is connected and has ACKed everything. */
  async function placement(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (let i = 0; i < replicas.length; i++) {
      if (!replicas[i]?.running || paused.has(i)) continue;
      for (const n of (await status(i)).nodes) if (n.connected && n.inSync) out.set(n.node, i);
    }
    return out;
  }

  /** Versions a sidecar holds, from its own /config_dump: LDS, CDS, each route configuration. */
  async function envoyVersions(port: number): Promise<Versions> {
    const dump = JSON.parse(await adminGet(port, '/config_dump')) as { configs: Array<Record<string, unknown>> };
    const out: Versions = {};
    for (const c of dump.configs) {
      const type = String(c['@type']);
      if (type.endsWith('ListenersConfigDump')) out['lds'] = String(c['version_info']);
      if (type.endsWith('ClustersConfigDump')) out['cds'] = String(c['version_info']);
      if (type.endsWith('RoutesConfigDump')) {
        for (const r of (c['dynamic_route_configs'] ?? []) as Array<{ version_info: string; route_config: { name: string } }>) out[`rds ${r.route_config.name}`] = r.version_info;
      }
    }
    return out;
  }

  const stats = async (port: number, re: RegExp): Promise<number> => statSum(await adminGet(port, '/stats'), re);
  /** Every xDS update Envoy accepted or rejected (LDS, CDS, each RDS and EDS subscription). */
  const updates = async (port: number): Promise<{ accepted: number; rejected: number }> => {
    const text = await adminGet(port, '/stats');
    return { accepted: statSum(text, /\.update_success$/), rejected: statSum(text, /\.update_rejected$/) };
  };
  const call = (): Promise<ProbeResult> => probe({ host: '127.0.0.1', port: sidecars().find((n) => n.node === 'impact-calc')!.outboundPort, authority: 'grant-pay', ...PAYOUT });

  before(async () => {
    pg = await startPostgres();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-replicas-envoy-'));
    pkiDir = path.join(work, 'pki');
    const source = path.join(work, 'source');
    fs.cpSync(EXAMPLE, source, { recursive: true });
    // Replica 1 takes the local plan's control-plane ports (the primary); 2 and 3, the proxyless ports and the member's from another block.
    const extra = await freeRange(8);
    ledgerPort = extra + 7;
    fs.writeFileSync(path.join(source, 'services', `${PROXYLESS}.yml`), `name: ${PROXYLESS}\nversion: v1\nprotocol: grpc\nport: ${ledgerPort}\ncalls: []\nacknowledge: [MESH070, MESH045]\n`);
    const meshFile = path.join(source, 'mesh.yml');
    const doc = parseDocument(fs.readFileSync(meshFile, 'utf8'));
    doc.setIn(['control_plane', 'grpc_xds_port'], extra);
    doc.setIn(['control_plane', 'replicas'], [
      { address: '127.0.0.1', xds_port: extra + 1, grpc_xds_port: extra + 3 },
      { address: '127.0.0.1', xds_port: extra + 4, grpc_xds_port: extra + 6 },
    ]);
    fs.writeFileSync(meshFile, doc.toString());
    await issuePki(pkiDir, source);
    const opts = (basePort: number) => ({ workDir: work, pkiDir, basePort, envoyBin: availability.envoyBin! });
    const dry = buildLocalPlan(source, opts(20000));
    const base = await freeRange('portRange' in dry ? dry.portRange : localPorts.range(0));
    const built = buildLocalPlan(source, opts(base));
    assert.ok('conflicts' in built, JSON.stringify(built.diagnostics.map((d) => d.message)));
    plan = built;
    assert.deepEqual(plan.conflicts, []);
    for (const [rel, text] of plan.tree) {
      fs.mkdirSync(path.dirname(path.join(work, rel)), { recursive: true });
      fs.writeFileSync(path.join(work, rel), text);
    }
    ports = [
      { xds: localPorts.controlPlaneXds(base), admin: localPorts.controlPlaneAdmin(base), grpc: extra },
      { xds: extra + 1, admin: extra + 2, grpc: extra + 3 },
      { xds: extra + 4, admin: extra + 5, grpc: extra + 6 },
    ];
  }, { timeout: 300_000 });

  after(async () => {
    trafficOn = false;
    await trafficLoop;
    ledger?.forceShutdown();
    for (const p of procs) await p.stop().catch(() => undefined);
    await pg?.destroy();
    if (work && process.env.HMS_ENVOY_KEEP !== '1') fs.rmSync(work, { recursive: true, force: true });
  }, { timeout: 120_000 });

  test('every bootstrap lists the three replicas', () => {
    const xdsOf = (node: string): string => fs.readFileSync(path.join(plan.outDir, node, 'bootstrap.yaml'), 'utf8');
    for (const n of sidecars()) {
      const text = xdsOf(n.node);
      for (const r of ports) assert.match(text, new RegExp(`address: "127\\.0\\.0\\.1", port_value: ${r.xds} `), `${n.node} lists ${r.xds}`);
    }
    const grpcBoot = JSON.parse(fs.readFileSync(path.join(plan.outDir, PROXYLESS, 'bootstrap.json'), 'utf8')) as { xds_servers: Array<{ server_uri: string }> };
    assert.equal(grpcBoot.xds_servers[0]!.server_uri, `ipv4:${ports.map((r) => `127.0.0.1:${r.grpc}`).join(',')}`);
  });

  test('with only replica 1 up, every sidecar and the proxyless member connect to it; then replicas 2 and 3 join', { timeout: 300_000 }, async () => {
    await startReplica(0);
    for (const n of sidecars()) start(`${n.node}-sidecar`, n.envoy);
    const xds = grpcXds();
    ledger = new xds.XdsServer({ [BOOTSTRAP_OPTION]: fs.readFileSync(path.join(plan.outDir, PROXYLESS, 'bootstrap.json'), 'utf8') } as grpc.ServerOptions);
    ledger.addService(GrantPay.service, { Payout: unaryHandler(() => ({ ok: true, version: 'v1' })) });
    await new Promise<void>((resolve, reject) => ledger!.bindAsync(`0.0.0.0:${ledgerPort}`, new xds.XdsServerCredentials(grpc.ServerCredentials.createInsecure()), (err) => (err ? reject(err) : resolve())));
    await eventually('every node connected to replica 1 and in sync', 120_000, async () => ((await placement()).size === allNodes().length ? true : undefined));
    await startReplica(1);
    await startReplica(2);
    const [r1, r2, r3] = [await status(0), await status(1), await status(2)];
    assert.ok(r1.revision && r1.revision === r2.revision && r2.revision === r3.revision, 'one revision on every replica');
    assert.equal(r1.seq, r3.seq);
    // grant-pay's app registers its sidecar (the v1 endpoints) through replica 3, which outlives the SIGKILL; a long
    // TTL, so that its registration outlives the SIGSTOP below too (heartbeats to a stopped replica go nowhere).
    start('grant-pay-app', [process.execPath, path.join(PACKAGE_ROOT, 'dist', 'examples', 'ceq', 'apps', 'http', 'grant-pay.js')], { HMS_MESH_DIR: plan.meshDir, VERSION: 'v1', HMS_ADMIN_URL: adminUrl(2), HMS_TTL_MS: '300000' });
    await eventually('impact-calc -> grant-pay answers 202', 60_000, async () => ((await call()).status === 202 ? true : undefined));
    await eventually('every node in sync on replica 1 again (the registration reached it)', 60_000, async () => {
      const at = await placement();
      return allNodes().every((n) => at.get(n) === 0) ? true : undefined;
    });
  });

  let before_: Map<string, { versions: Versions; updates: { accepted: number; rejected: number } }>;
  let proxylessTypes: StatusReport['nodes'][number]['types'];

  test('replica 1 SIGKILLed: every node moves to replica 2 or 3 with the versions it had, no NACK, nothing pushed; traffic keeps flowing', { timeout: 300_000 }, async (t) => {
    before_ = new Map();
    for (const n of sidecars()) before_.set(n.node, { versions: await envoyVersions(n.adminPort), updates: await updates(n.adminPort) });
    proxylessTypes = (await status(0)).nodes.find((n) => n.node === PROXYLESS)!.types;
    trafficOn = true;
    trafficLoop = (async () => {
      // Paced, not timed: one call at a time with a short pause, until the test says stop.
      for (let i = 0; trafficOn && i < 100_000; i++) {
        traffic.push({ ...(await call()), at: Date.now() });
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    await eventually('some traffic before the kill', 30_000, async () => (traffic.length >= 5 ? true : undefined));
    const killedAt = Date.now();
    replicas[0]!.child.kill('SIGKILL');
    await replicas[0]!.exited;
    const moved = await eventually('every node connected and in sync on replica 2 or 3', 120_000, async () => {
      const at = await placement();
      return allNodes().every((n) => at.get(n) === 1 || at.get(n) === 2) ? at : undefined;
    });
    t.diagnostic(`every node back in sync ${Date.now() - killedAt} ms after the SIGKILL: ${[...moved].map(([n, i]) => `${n}@replica-${i + 1}`).join(', ')}`);
    for (const n of sidecars()) {
      assert.equal(await stats(n.adminPort, /^control_plane\.connected_state$/), 1, `${n.node} connected`);
      const was = before_.get(n.node)!;
      assert.deepEqual(await envoyVersions(n.adminPort), was.versions, `${n.node} holds the versions it had`);
      const now = await updates(n.adminPort);
      assert.equal(now.rejected - was.updates.rejected, 0, `${n.node} NACKed nothing`);
      assert.equal(now.accepted - was.updates.accepted, 0, `${n.node} was pushed nothing`);
    }
    const ledgerNow = (await status(moved.get(PROXYLESS)!)).nodes.find((n) => n.node === PROXYLESS)!;
    assert.equal(ledgerNow.nacked, false);
    for (const [kind, tv] of Object.entries(proxylessTypes)) assert.equal(ledgerNow.types[kind]?.acked, tv?.acked, `${PROXYLESS} keeps its ${kind} version`);
    await eventually('traffic after the move', 30_000, async () => (traffic.some((r) => r.at > Date.now() - 1000) && traffic.filter((r) => r.at > killedAt).length >= 5 ? true : undefined));
    const failed = traffic.filter((r) => r.status !== 202);
    assert.deepEqual(failed.map((r) => r.status ?? r.error), [], 'every call through the sidecars answered 202');
  });

  test('an apply to a surviving replica reaches every sidecar and the proxyless member', { timeout: 300_000 }, async () => {
    editPolicies(plan.meshDir, (doc) => {
      doc.setIn(['rate_limits', 'impact-calc', 'rps'], 51);
      doc.setIn(['rate_limits', 'grant-pay', 'rps'], 1000);
      doc.setIn(['rate_limits', 'public-docs', 'rps'], 1000);
      doc.setIn(['access', PROXYLESS, 'allow'], ['impact-calc']);
    });
    const r = await mesh(['apply', plan.meshDir, '--server', adminUrl(1), '--pki', pkiDir, '--admin', 'ops', '--wait', '--timeout', '90s']);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    const revision = (await status(1)).revision!;
    const at = await eventually('every node in sync with the new revision on replica 2 or 3', 120_000, async () => {
      const [s2, s3] = [await status(1), await status(2)];
      if (s2.revision !== revision || s3.revision !== revision) return undefined;
      const p = await placement();
      return allNodes().every((n) => p.get(n) === 1 || p.get(n) === 2) ? { p, reports: [undefined, s2, s3] } : undefined;
    });
    for (const n of sidecars()) {
      const served = at.reports[at.p.get(n.node)!]!.nodes.find((x) => x.node === n.node)!.types;
      const held = await envoyVersions(n.adminPort);
      assert.equal(held['lds'], served['listeners']?.current, `${n.node}'s Envoy holds the listeners it is served`);
      assert.equal(held['cds'], served['clusters']?.current, `${n.node}'s Envoy holds the clusters it is served`);
      // Its rate limit is in its inbound route (docs/policy-language.md): that route configuration is new.
      const changed = Object.keys(held).filter((k) => held[k] !== before_.get(n.node)!.versions[k]);
      assert.ok(changed.some((k) => k.startsWith('rds ') && held[k] === served['routes']?.current), `${n.node}: a route configuration at the served version (changed: ${changed.join(', ')})`);
      assert.equal((await updates(n.adminPort)).rejected, before_.get(n.node)!.updates.rejected, `${n.node} NACKed nothing`);
    }
    const l = at.reports[at.p.get(PROXYLESS)!]!.nodes.find((x) => x.node === PROXYLESS)!;
    assert.equal(l.types['listeners']?.acked, l.types['listeners']?.current);
    assert.notEqual(l.types['listeners']?.acked, proxylessTypes['listeners']?.acked, `${PROXYLESS} ACKed its new listener (its access rule)`);
    trafficOn = false;
    await trafficLoop;
    assert.deepEqual(traffic.filter((x) => x.status !== 202).map((x) => x.status ?? x.error), [], 'every call answered 202, during the kill and the apply');
  });

  test('replica 1 started again rejoins and serves the current revision', { timeout: 300_000 }, async () => {
    await startReplica(0);
    const current = await status(1);
    await eventually('replica 1 serves the current revision', 60_000, async () => {
      const s = await status(0);
      return s.revision === current.revision && s.seq === current.seq ? true : undefined;
    });
    // What it serves is what the nodes hold: the same content-hash version as impact-calc's Envoy.
    const held = await envoyVersions(sidecars().find((n) => n.node === 'impact-calc')!.adminPort);
    const client = new AdsTestClient(`127.0.0.1:${ports[0]!.xds}`, nodeCredentials(pkiDir, 'svc/impact-calc'));
    try {
      const s = client.sotw();
      s.send({ node: { id: 'impact-calc', cluster: 'impact-calc' }, type_url: TYPE.clusters });
      assert.equal(decodeSotw(await s.next(30_000)).version_info, held['cds']);
      s.cancel();
    } finally {
      client.close();
    }
  });

  test('a replica that stops answering (SIGSTOP: its connections stay open, nothing replies) loses its sidecars to the others', { timeout: 300_000 }, async (t) => {
    const at = await placement();
    const counts = [0, 1, 2].map((i) => sidecars().filter((n) => at.get(n.node) === i).length);
    const victim = counts.indexOf(Math.max(...counts));
    const moving = sidecars().filter((n) => at.get(n.node) === victim);
    const held = new Map<string, { versions: Versions; rejected: number }>();
    for (const n of moving) held.set(n.node, { versions: await envoyVersions(n.adminPort), rejected: (await updates(n.adminPort)).rejected });
    const stoppedAt = Date.now();
    replicas[victim]!.child.kill('SIGSTOP');
    paused.add(victim);
    try {
      // No RST, no FIN: only the xDS cluster's HTTP/2 keepalive pings tell Envoy the connection is dead.
      const moved = await eventually(`the sidecars of replica ${victim + 1} in sync on another replica`, 120_000, async () => {
        const p = await placement();
        return moving.every((n) => p.has(n.node) && p.get(n.node) !== victim) ? p : undefined;
      });
      t.diagnostic(`${moving.map((n) => n.node).join(', ')} moved off the stopped replica ${victim + 1} in ${Date.now() - stoppedAt} ms: ${moving.map((n) => `${n.node}@replica-${moved.get(n.node)! + 1}`).join(', ')}`);
      for (const n of moving) {
        assert.deepEqual(await envoyVersions(n.adminPort), held.get(n.node)!.versions, `${n.node} holds the versions it had`);
        assert.equal((await updates(n.adminPort)).rejected, held.get(n.node)!.rejected, `${n.node} NACKed nothing`);
      }
    } finally {
      replicas[victim]!.child.kill('SIGCONT');
      paused.delete(victim);
    }
  });

  test('a postgres store leaves no folder store or persisted snapshot behind; every process stops', { timeout: 120_000 }, async () => {
    const found: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        if (e.name === 'snapshot.bin' || e.name === '.mesh-store' || e.name.startsWith('postgres')) found.push(path.join(dir, e.name));
        if (e.isDirectory()) walk(path.join(dir, e.name));
      }
    };
    walk(work);
    assert.deepEqual(found, []);
    ledger?.forceShutdown();
    ledger = undefined;
    for (const p of procs) await p.stop();
    assert.deepEqual(procs.filter((p) => p.running || isRunning(p.child.pid!)).map((p) => p.name), [], 'no process left');
  });
});
