/**
 * Control plane replicas on one real PostgreSQL database (started by the
 * test, test/helpers/postgres.ts), in-process, over mTLS, with ADS test
 * clients as nodes: the schema migrations, the append-only history, an apply
 * reaching every replica, a lagging replica that does not flip a node back,
 * the database going away and coming back, concurrent applies, history and
 * rollback. Real Envoy sidecars and a proxyless member failing over between
 * separate `mesh serve` processes: test/envoy-real/replicas.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { readMeshSources, revisionOf } from '../../src/xds/control-plane';
import { adminRequest } from '../../src/xds/admin-client';
import { silentLogger } from '../../src/xds/log';
import { startControlPlane, type RunningControlPlane } from '../../src/xds/serve';
import { PostgresStore } from '../../src/store/postgres-store';
import { lintMesh } from '../../src/lint';
import { storeOf } from '../../src/cli/serve';
import { MIGRATIONS } from '../../src/store/migrations';
import { AdsTestClient, decodeSotw, TYPE } from '../helpers/ads-client';
import { identityTls, makePki, nodeCredentials, tmp } from '../helpers/control-plane';
import { copyExample } from '../helpers/mesh-dir';
import { postgresSkipReason, startPostgres, type TestPostgres } from '../helpers/postgres';

const skip = postgresSkipReason();
let pg: TestPostgres;
let pki: string;
let mesh: { dir: string; cleanup: () => void };
const planes: RunningControlPlane[] = [];

before(async () => {
  if (skip) return;
  pg = await startPostgres();
  pki = await makePki(tmp('hms-pki-'), 'ceq.gov', ['impact-calc', 'grant-pay', 'public-docs', 'citizen-gw']);
  mesh = copyExample();
});

after(async () => {
  if (skip) return;
  for (const p of planes) await p.stop().catch(() => undefined);
  await pg.destroy();
  mesh.cleanup();
  fs.rmSync(pki, { recursive: true, force: true });
});

async function replica(probeMs?: number): Promise<RunningControlPlane> {
  const p = await startControlPlane({ meshDir: mesh.dir, store: pg.url, pkiDir: pki, host: '127.0.0.1', xdsPort: 0, adminPort: 0, log: silentLogger, pkiPollMs: 0, ...(probeMs ? { storeProbeMs: probeMs } : {}) });
  planes.push(p);
  return p;
}

const asAdmin = (p: RunningControlPlane) => ({ server: `https://127.0.0.1:${p.ports.admin}`, tls: identityTls(pki, 'admin/ops') });

/** The mesh with impact-calc's rate limit and grant-pay's circuit breaker at `n`: new routes and clusters for impact-calc per value. */
function sourcesWithRps(n: number): Record<string, string> {
  const s = readMeshSources(mesh.dir);
  assert.ok(s['mesh_policies.yml']!.includes('rps: 50') && s['mesh_policies.yml']!.includes('max_failures: 3'));
  return { ...s, 'mesh_policies.yml': s['mesh_policies.yml']!.replace('rps: 50', `rps: ${n}`).replace('max_failures: 3', `max_failures: ${n}`) };
}

async function until(what: string, ms: number, ok: () => boolean | Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (let i = 0; Date.now() - start < ms; i++) {
    if (await ok()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, i < 20 ? 5 : 25));
  }
  return assert.fail(`${what}: not within ${ms} ms`);
}

async function apply(p: RunningControlPlane, sources: Record<string, string>): Promise<{ ok: boolean; seq?: number; revision?: string; diagnostics: Array<{ code: string; message: string }> }> {
  const r = await adminRequest<{ ok: boolean; seq?: number; revision?: string; diagnostics: Array<{ code: string; message: string }> }>(asAdmin(p), 'POST', '/v1/apply', { sources });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

async function sql<R = Record<string, unknown>>(text: string, values: unknown[] = []): Promise<R[]> {
  const c = new Client({ connectionString: pg.url });
  await c.connect();
  try {
    return (await c.query<R>(text, values)).rows;
  } finally {
    await c.end();
  }
}

test('three replicas starting at once migrate the schema once, and the history is append-only', { skip }, async () => {
  const stores = [0, 1, 2].map(() => new PostgresStore(pg.url, 60_000));
  await Promise.all(stores.map((s) => s.open()));
  await Promise.all(stores.map((s) => s.close()));
  const versions = await sql<{ version: number }>('SELECT version FROM mesh_schema ORDER BY version');
  assert.deepEqual(versions.map((v) => v.version), MIGRATIONS.map((_, i) => i + 1));
  await sql("INSERT INTO mesh_revisions (revision, applied_by, sources) VALUES ('x', 'test', '{}')");
  await assert.rejects(sql("UPDATE mesh_revisions SET applied_by = 'someone else'"), /append-only/);
  await assert.rejects(sql('DELETE FROM mesh_revisions'), /append-only/);
});

test('replicas starting at once on an empty database record the mesh directory once (the first to get the lock)', { skip }, async () => {
  await sql('CREATE DATABASE fresh');
  const url = pg.url.replace(/\/mesh$/, '/fresh');
  const stores = [0, 1, 2].map(() => new PostgresStore(url, 60_000));
  try {
    // Each opened an empty store, so each would record its directory (Replica.start): only the first does.
    assert.deepEqual(await Promise.all(stores.map((s) => s.open())), [undefined, undefined, undefined]);
    const got = await Promise.all(stores.map((s, i) => s.append({ revision: `r${i}`, appliedBy: 'mesh-dir', sources: { 'mesh.yml': `# ${i}` }, onlyIfEmpty: true })));
    assert.equal(new Set(got.map((g) => `${g.seq} ${g.revision} ${JSON.stringify(g.sources)}`)).size, 1, 'every replica is given the one recorded revision, with its sources');
    assert.deepEqual((await stores[0]!.history(10)).map((h) => h.seq), [got[0]!.seq], 'one row, not one per replica');
    // Once the store holds a revision, an ordinary append records as before.
    assert.equal((await stores[1]!.append({ revision: 'r9', appliedBy: 'test', sources: {} })).seq, got[0]!.seq + 1);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
});

test('replicas: an apply on one reaches every replica\'s nodes, recorded with the admin\'s SPIFFE ID', { skip }, async () => {
  const [r1, r2, r3] = [await replica(), await replica(), await replica()];
  // The first replica found the row of the previous test, which is not a mesh, and applied the directory.
  assert.ok(r1.cp.revision && r1.cp.revision === r2.cp.revision && r2.cp.revision === r3.cp.revision, 'all three serve one revision');
  const clients = [r1, r2, r3].map((r) => new AdsTestClient(`127.0.0.1:${r.ports.xds}`, nodeCredentials(pki, 'svc/impact-calc')));
  try {
    const streams = clients.map((c) => c.sotw());
    const first = await Promise.all(streams.map(async (s) => {
      s.send({ node: { id: 'impact-calc', cluster: 'impact-calc' }, type_url: TYPE.clusters });
      const r = decodeSotw(await s.next());
      s.send({ type_url: TYPE.clusters, version_info: r.version_info, response_nonce: r.nonce });
      return r.version_info;
    }));
    assert.equal(new Set(first).size, 1, 'every replica serves the same version (content hashes)');
    const t0 = Date.now();
    const r = await apply(r1, sourcesWithRps(51));
    assert.equal(r.ok, true, JSON.stringify(r.diagnostics));
    const got = await Promise.all(streams.map(async (s) => decodeSotw(await s.next()).version_info));
    const elapsed = Date.now() - t0;
    assert.equal(new Set(got).size, 1);
    assert.notEqual(got[0], first[0]);
    assert.ok(elapsed < 1000, `apply to every replica's node took ${elapsed} ms (target < 1 s)`);
    for (const p of [r2, r3]) assert.equal(p.cp.seq, r.seq);
    const rows = await sql<{ seq: string; revision: string; applied_by: string }>('SELECT seq, revision, applied_by FROM mesh_revisions ORDER BY seq DESC LIMIT 1');
    assert.equal(rows[0]!.applied_by, 'spiffe://ceq.gov/admin/ops');
    assert.equal(rows[0]!.revision, r.revision);
    for (const s of streams) s.cancel();
  } finally {
    for (const c of clients) c.close();
  }
});

test('a node reconnecting to a lagging replica is not flipped back to the older revision', { skip }, async () => {
  const ahead = planes[0]!;
  // A replica that hears of applies only when it asks: no NOTIFY reaches it below, and its probe is slow.
  const lagging = await replica(60_000);
  const before = lagging.cp.seq;
  const sources = sourcesWithRps(52);
  // Recorded behind everyone's back (a lost notification): the replica ahead is told, the lagging one is not.
  await sql('INSERT INTO mesh_revisions (revision, applied_by, sources) VALUES ($1, $2, $3)', [revisionOf(sources), 'test', JSON.stringify(sources)]);
  await ahead.replica!.catchUp();
  assert.equal(ahead.cp.seq, before + 1);
  assert.equal(lagging.cp.seq, before, 'still lagging');
  const client = new AdsTestClient(`127.0.0.1:${ahead.ports.xds}`, nodeCredentials(pki, 'svc/impact-calc'));
  const moved = new AdsTestClient(`127.0.0.1:${lagging.ports.xds}`, nodeCredentials(pki, 'svc/impact-calc'));
  try {
    const s = client.sotw();
    s.send({ node: { id: 'impact-calc', cluster: 'impact-calc' }, type_url: TYPE.clusters });
    const newer = decodeSotw(await s.next()).version_info;
    s.cancel();
    assert.ok(!lagging.cp.knowsVersion('clusters', newer));
    const m = moved.sotw();
    m.send({ node: { id: 'impact-calc', cluster: 'impact-calc' }, type_url: TYPE.clusters, version_info: newer });
    assert.ok(await m.quiet(600), 'nothing sent: the node already has the newest revision');
    assert.equal(lagging.cp.seq, before + 1, 'the lagging replica caught up before answering');
    assert.equal(lagging.cp.status.get('impact-calc')?.types.clusters?.ackedVersion, newer);
    m.cancel();
  } finally {
    client.close();
    moved.close();
    planes.splice(planes.indexOf(lagging), 1);
    await lagging.stop();
  }
});

test('two concurrent applies on two replicas end in one order everywhere: the later sequence', { skip }, async () => {
  const [r1, r2] = planes;
  const [a, b] = await Promise.all([apply(r1!, sourcesWithRps(61)), apply(r2!, sourcesWithRps(62))]);
  assert.ok(a.ok && b.ok);
  assert.notEqual(a.seq, b.seq);
  const last = a.seq! > b.seq! ? a : b;
  await until('every replica serves the later one', 2000, () => planes.every((p) => p.cp.seq === last.seq && p.cp.revision === last.revision));
});

test('history and rollback', { skip }, async () => {
  const [r1, r2] = planes;
  const h = await adminRequest<{ revisions: Array<{ seq: number; revision: string; appliedBy: string; appliedAt: string }>; served: { seq: number } }>(asAdmin(r2!), 'GET', '/v1/history?limit=3');
  assert.equal(h.status, 200);
  assert.equal(h.body.revisions.length, 3);
  assert.deepEqual(h.body.revisions.map((r) => r.seq), [...h.body.revisions.map((r) => r.seq)].sort((x, y) => y - x), 'newest first');
  assert.equal(h.body.served.seq, h.body.revisions[0]!.seq);
  assert.equal(h.body.revisions[0]!.appliedBy, 'spiffe://ceq.gov/admin/ops');
  const target = h.body.revisions[2]!;
  const rb = await adminRequest<{ ok: boolean; seq: number; revision: string }>(asAdmin(r1!), 'POST', '/v1/rollback', { revision: String(target.seq) });
  assert.equal(rb.status, 200, JSON.stringify(rb.body));
  assert.equal(rb.body.revision, target.revision);
  assert.ok(rb.body.seq > h.body.revisions[0]!.seq, 'a rollback is a new entry of the history');
  await until('every replica serves the rolled-back revision', 2000, () => planes.every((p) => p.cp.revision === target.revision));
  const rows = await sql<{ rollback_of: string }>('SELECT rollback_of FROM mesh_revisions WHERE seq = $1', [rb.body.seq]);
  assert.equal(Number(rows[0]!.rollback_of), target.seq);
  const missing = await adminRequest<{ code: string }>(asAdmin(r1!), 'POST', '/v1/rollback', { revision: '999999' });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.code, 'MESH203');
});

test('database stopped: serving continues, applies and registrations refused (MESH200), degraded; back: applies work', { skip }, async () => {
  const [r1, r2] = planes;
  await pg.stop();
  try {
    await until('degraded in /healthz', 3000, async () => /^degraded: store unavailable/.test(String((await adminRequest<string>(asAdmin(r1!), 'GET', '/healthz')).body)));
    const metrics = String((await adminRequest<string>(asAdmin(r2!), 'GET', '/metrics')).body);
    await until('degraded in /metrics', 3000, async () => /hms_store_up\{kind="postgres"\} 0/.test(String((await adminRequest<string>(asAdmin(r2!), 'GET', '/metrics')).body)));
    assert.match(metrics, /hms_store_revision_seq \d+/);
    const refused = await apply(r1!, sourcesWithRps(71));
    assert.equal(refused.ok, false);
    assert.equal(refused.diagnostics[0]!.code, 'MESH200');
    const before = r1!.cp.revision;
    assert.equal(r1!.cp.revision, before, 'nothing changed');
    const reg = await adminRequest<{ code: string }>({ server: `https://127.0.0.1:${r2!.ports.admin}`, tls: identityTls(pki, 'svc/grant-pay') }, 'POST', '/v1/registry/register', { service: 'grant-pay', version: 'v1', address: '127.0.0.1', port: 9000 });
    assert.equal(reg.status, 503);
    assert.equal(reg.body.code, 'MESH200');
    // A node connecting now is served the last good snapshot.
    const c = new AdsTestClient(`127.0.0.1:${r2!.ports.xds}`, nodeCredentials(pki, 'svc/grant-pay'));
    try {
      const s = c.sotw();
      s.send({ node: { id: 'grant-pay', cluster: 'grant-pay' }, type_url: TYPE.clusters });
      assert.ok(decodeSotw(await s.next()).names.length > 0);
      s.cancel();
    } finally {
      c.close();
    }
  } finally {
    await pg.start();
  }
  await until('healthy again', 5000, async () => String((await adminRequest<string>(asAdmin(r1!), 'GET', '/healthz')).body) === 'ok\n');
  const r = await apply(r1!, sourcesWithRps(72));
  assert.equal(r.ok, true, JSON.stringify(r.diagnostics));
  await until('every replica serves it', 3000, () => planes.every((p) => p.cp.revision === r.revision));
});

test('mesh.yml control_plane.store: a folder relative to the mesh, a postgres URL, or MESH205 at its position', () => {
  const m = copyExample();
  try {
    const yml = path.join(m.dir, 'mesh.yml');
    const base = fs.readFileSync(yml, 'utf8');
    const settingsWith = (store: string) => {
      fs.writeFileSync(yml, base.replace('  admin_port: 18001', `  admin_port: 18001\n  store: "${store}"`));
      const model = lintMesh(m.dir).model;
      assert.ok(model, 'the mesh lints');
      return model.settings.controlPlane.store!;
    };
    const folder = settingsWith('state/here');
    assert.equal(storeOf(undefined, folder, m.dir), path.resolve(m.dir, 'state/here'));
    assert.equal(storeOf('/elsewhere', folder, m.dir), '/elsewhere', '--store wins');
    assert.equal(storeOf(undefined, settingsWith('postgres://mesh@db:5432/mesh'), m.dir), 'postgres://mesh@db:5432/mesh');
    const bad = settingsWith('mysql://root:secret@db/mesh');
    assert.throws(() => storeOf(undefined, bad, m.dir), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'MESH205');
      assert.match(e.message, new RegExp(`^${m.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/mesh\\.yml:13:10: `));
      assert.doesNotMatch(e.message, /secret/, 'no password in the message');
      return true;
    });
  } finally {
    m.cleanup();
  }
});

test('registry: an instance registered on one replica is served by every replica, and its TTL outlives the replica that took it', { skip }, async () => {
  const [r1, r2, r3] = planes;
  const asGrantPay = (p: RunningControlPlane) => ({ server: `https://127.0.0.1:${p.ports.admin}`, tls: identityTls(pki, 'svc/grant-pay') });
  const clients = [r2!, r3!].map((r) => new AdsTestClient(`127.0.0.1:${r.ports.xds}`, nodeCredentials(pki, 'svc/impact-calc')));
  const eds = ['outbound|grant-pay|v1'];
  const addresses = (r: { resources: Array<Record<string, unknown>> }): string[] => JSON.stringify(r.resources).match(/"address":"[^"]+","port_value":\d+/g) ?? [];
  try {
    const streams = clients.map((c) => c.sotw());
    const before = await Promise.all(streams.map(async (s) => {
      s.send({ node: { id: 'impact-calc', cluster: 'impact-calc' }, type_url: TYPE.endpoints, resource_names: eds });
      const r = decodeSotw(await s.next());
      s.send({ type_url: TYPE.endpoints, version_info: r.version_info, response_nonce: r.nonce, resource_names: eds });
      return r;
    }));
    const reg = await adminRequest<{ id: string; ttl_ms: number }>(asGrantPay(r1!), 'POST', '/v1/registry/register', { service: 'grant-pay', version: 'v1', address: '127.0.0.9', port: 9911, ttl_ms: 1500 });
    assert.equal(reg.status, 200, JSON.stringify(reg.body));
    const withIt = await Promise.all(streams.map(async (s) => {
      const r = decodeSotw(await s.next());
      s.send({ type_url: TYPE.endpoints, version_info: r.version_info, response_nonce: r.nonce, resource_names: eds });
      return r;
    }));
    for (const r of withIt) assert.ok(addresses(r).includes('"address":"127.0.0.9","port_value":9911'), JSON.stringify(addresses(r)));
    assert.equal(withIt[0]!.version_info, withIt[1]!.version_info, 'the same endpoints version on both replicas');
    // The replica that took the registration goes away; heartbeats now go to another one.
    planes.splice(planes.indexOf(r1!), 1);
    await r1!.stop();
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const hb = await adminRequest<{ id: string }>(asGrantPay(r2!), 'POST', '/v1/registry/heartbeat', { service: 'grant-pay', id: reg.body.id });
      assert.equal(hb.status, 200, 'a heartbeat on another replica keeps it');
    }
    assert.ok(await streams[0]!.quiet(100), 'still registered after 1.5 s of heartbeats elsewhere (TTL 1.5 s)');
    // Heartbeats stop: it expires on the database's clock, swept by the surviving replicas.
    const t0 = Date.now();
    const gone = await Promise.all(streams.map(async (s) => decodeSotw(await s.next())));
    const took = Date.now() - t0;
    for (const r of gone) assert.deepEqual(addresses(r), addresses(before[0]!));
    assert.ok(took < 1500 + 1000, `expired ${took} ms after the last heartbeat (TTL 1.5 s)`);
    for (const s of streams) s.cancel();
  } finally {
    for (const c of clients) c.close();
  }
});
