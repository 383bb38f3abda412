/**
 * Request-level routes against real Envoy: a header-matched route sends
 * canary traffic to v2 only (and everything else to v1), an injected abort
 * shows at its percentage, and `mesh explain` picks the cluster Envoy picks
 * for a generated corpus of requests (paths x methods x headers).
 *
 * bank has one sidecar; its v2 instance is a TCP pass-through in this process
 * in front of the same sidecar (mTLS goes through it untouched), registered
 * at its own port, so the caller's access log (upstream_host) says which
 * version each request was sent to.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { loadMeshSync } from '../../src/config/load';
import { explainRequest } from '../../src/review/explain';
import { Registration } from '../../src/sdk/registration';
import { accessLogEntries, statSum } from './envoy-admin';
import { eventually, runningSkip, setUp, upInSync, type Setup } from './harness';

const MESH = path.join(__dirname, '..', '..', '..', 'test', 'envoy-real', 'fixtures', 'routes');

interface Answer {
  readonly status: number;
  readonly meshError?: string;
}

describe('real Envoy (local): request-level routes and fault injection', { concurrency: 1, skip: runningSkip('local') }, () => {
  let setup: Setup;
  let app: http.Server;
  let passThrough: net.Server;
  let v2Port = 0;
  let meshPort = 0;
  const registrations: Registration[] = [];
  let seq = 0;

  const manifest = (name: string): { port: number; mesh_port: number } => parse(fs.readFileSync(path.join(setup.runtime.meshDir, 'services', `${name}.yml`), 'utf8'));
  const register = async (version: string, port: number): Promise<void> => {
    const svc = path.join(setup.pkiDir, 'svc', 'bank');
    const r = new Registration({
      adminUrl: await setup.runtime.controlPlaneAdminUrl(),
      trustDomain: 'routes.test',
      files: { chain: path.join(svc, 'chain.pem'), key: path.join(svc, 'key.pem'), trustBundle: path.join(setup.pkiDir, 'trust-bundle.pem') },
      instance: { service: 'bank', version, address: '127.0.0.1', port },
      ttlMs: 60_000,
    });
    await r.start();
    registrations.push(r);
  };
  const payer = () => setup.runtime.nodes.find((n) => n.node === 'payer')!;

  /** One request through payer's sidecar, tagged with its own x-request-id (the access log's trace_id). */
  const call = (method: string, reqPath: string, headers: Record<string, string> = {}): Promise<Answer & { id: string }> => {
    const id = `routes-${process.pid}-${++seq}`;
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: payer().outboundPort, method, path: reqPath, agent: false, timeout: 10_000, headers: { host: 'bank', 'x-request-id': id, ...headers } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ id, status: res.statusCode ?? 0, ...(typeof res.headers['x-mesh-error'] === 'string' ? { meshError: res.headers['x-mesh-error'] } : {}) }));
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${reqPath}: no answer in 10 s`)));
      req.on('error', reject);
      req.end();
    });
  };
  /** payer's outbound access-log entries for these request ids (Envoy flushes its log within a second or so). */
  const logged = (ids: readonly string[]): Promise<Map<string, Record<string, unknown>>> =>
    eventually(`access-log lines of ${ids.length} requests`, 20_000, async () => {
      const entries = accessLogEntries(await setup.runtime.sidecarLog('payer')).filter((e) => e['direction'] === 'outbound');
      const byId = new Map(entries.map((e) => [String(e['trace_id']), e]));
      return ids.every((id) => byId.has(id)) ? byId : undefined;
    });

  before(async () => {
    setup = await setUp('local', undefined, MESH);
    app = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
    });
    await new Promise<void>((r) => app.listen(manifest('bank').port, '127.0.0.1', () => r()));
    meshPort = manifest('bank').mesh_port;
    passThrough = net.createServer((down) => {
      const up = net.connect(meshPort, '127.0.0.1');
      down.pipe(up).pipe(down);
      const close = (): void => { down.destroy(); up.destroy(); };
      down.on('error', close);
      up.on('error', close);
    });
    await new Promise<void>((r) => passThrough.listen(0, '127.0.0.1', () => r()));
    v2Port = (passThrough.address() as net.AddressInfo).port;
    await upInSync(setup);
    await register('v1', meshPort);
    await register('v2', v2Port);
    await eventually('payer -> bank answers 200 on v1 and on the canary route', 60_000, async () =>
      (await call('GET', '/')).status === 200 && (await call('GET', '/', { 'x-canary': 'true' })).status === 200 ? true : undefined);
  }, { timeout: 300_000 });

  after(async () => {
    for (const r of registrations) await r.stop().catch(() => undefined);
    await setup?.runtime.down();
    app?.close();
    passThrough?.close();
    if (setup && process.env.HMS_ENVOY_KEEP !== '1') fs.rmSync(setup.workDir, { recursive: true, force: true });
  }, { timeout: 120_000 });

  test('a header-matched route sends canary traffic to v2 only; everything else goes to v1', { timeout: 60_000 }, async () => {
    const canary: string[] = [];
    const plain: string[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await call('GET', `/pay/${i}`, { 'x-canary': 'true' });
      const p = await call('GET', `/pay/${i}`);
      assert.equal(c.status, 200);
      assert.equal(p.status, 200);
      canary.push(c.id);
      plain.push(p.id);
    }
    const log = await logged([...canary, ...plain]);
    const hosts = (ids: string[]): Set<string> => new Set(ids.map((id) => String(log.get(id)!['upstream_host'])));
    assert.deepEqual([...hosts(canary)], [`127.0.0.1:${v2Port}`], 'every canary request went to the v2 instance');
    assert.deepEqual([...hosts(plain)], [`127.0.0.1:${meshPort}`], 'every other request went to the v1 instance');
    assert.deepEqual(new Set(canary.map((id) => log.get(id)!['upstream_cluster'])), new Set(['outbound|bank|v2']));
  });

  test('an injected abort (503 at 50 %) shows at its percentage over 200 requests, marked fault-injected', { timeout: 120_000 }, async (t) => {
    const N = 200;
    const stats = async (): Promise<number> => statSum(await setup.runtime.admin('payer', '/stats'), /^http\.outbound\.fault\.aborts_injected$/);
    const before = await stats();
    const answers: Answer[] = [];
    for (let i = 0; i < N; i++) answers.push(await call('GET', `/chaos/${i}`));
    const aborted = answers.filter((a) => a.status === 503 && a.meshError === 'fault-injected').length;
    const ok = answers.filter((a) => a.status === 200).length;
    assert.equal(aborted + ok, N, `every request was either aborted by the fault or answered: ${JSON.stringify(answers.filter((a) => a.status !== 200 && a.meshError !== 'fault-injected'))}`);
    // Binomial(200, 0.5): sd 7.07; +-42 is 6 sd, a false failure about once in 500 million runs.
    assert.ok(aborted >= 58 && aborted <= 142, `${aborted} of ${N} aborted, expected 100 +- 42`);
    t.diagnostic(`fault abort: ${aborted}/${N} aborted at percent 50`);
    assert.equal((await stats()) - before, aborted, "Envoy's aborts_injected counter agrees");
  });

  test('mesh explain picks the route and cluster Envoy picks, on a generated corpus of requests', { timeout: 180_000 }, async (t) => {
    const loaded = loadMeshSync(setup.runtime.meshDir);
    assert.ok(loaded.model, 'the fixture loads');
    const paths = ['/', '/chaos/a', '/chaos', '/items/42', '/items/x', '/items/42/more', '/Items/42'];
    const methods = ['GET', 'POST', 'HEAD', 'DELETE'];
    const headerSets: Record<string, string>[] = [{}, { 'x-canary': 'true' }, { 'x-canary': 'TRUE' }, { 'x-canary': 'true', 'x-other': '1' }];
    const corpus = paths.flatMap((p) => methods.flatMap((m) => headerSets.map((h) => ({ path: p, method: m, headers: h }))));
    const sent: { req: (typeof corpus)[number]; id: string; status: number }[] = [];
    for (const req of corpus) {
      const a = await call(req.method, req.path, req.headers);
      sent.push({ req, id: a.id, status: a.status });
    }
    const log = await logged(sent.map((s) => s.id));
    const disagreements: string[] = [];
    let faulted = 0;
    for (const s of sent) {
      const e = explainRequest(loaded.model!, 'payer', 'bank', s.req);
      const expected = e.route?.clusters.map((c) => c.name) ?? [];
      const entry = log.get(s.id)!;
      const flags = String(entry['response_flags']);
      if (flags.includes('FI')) {
        faulted++;
        if (!e.route?.fault?.abort) disagreements.push(`${JSON.stringify(s.req)}: Envoy injected a fault, explain says route ${e.route?.route} has none`);
        continue;
      }
      if (expected.length !== 1 || expected[0] !== entry['upstream_cluster']) {
        disagreements.push(`${JSON.stringify(s.req)}: explain ${e.route?.route} -> ${expected.join(',')}, Envoy -> ${String(entry['upstream_cluster'])} (${s.status})`);
      }
    }
    t.diagnostic(`explain vs Envoy: ${corpus.length} requests, ${corpus.length - disagreements.length} agree, ${faulted} aborted by the fault`);
    assert.deepEqual(disagreements, []);
  });
});
