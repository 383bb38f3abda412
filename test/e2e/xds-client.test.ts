/**
 * Issue 5 with a real client: a proxyless grpc-js-xds channel bootstrapped
 * from `mesh build` output resolves xds:///grant-pay through our server;
 * `mesh apply --wait` (the real CLI) changes its routing live; and a snapshot
 * the client rejects is a NACK in `mesh status` and fails `apply --wait`.
 *
 * The NACK: Envoy's local rate limit filter put on a proxyless node's
 * listener, as the compiler would if its gRPC guards were lost
 * (translate/ratelimit.ts skips gRPC nodes, envoy/filters/local-ratelimit.ts
 * builds only for `envoy-inbound`): rate_limits is a gRPC gap (MESH070). Our validator accepts it: it is a valid Envoy HCM, the very filter
 * our sidecars get. grpc-js-xds does not: it registers only the router,
 * fault and RBAC filters and rejects an unknown filter that is not optional
 * (A39). It is injected by wrapping the ControlPlane's cache replacement in
 * this test, so the rest of the path (apply, push, NACK, status) is the
 * production code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileMesh } from '../../src/envoy/compile';
import { localRateLimitFilter } from '../../src/envoy/filters/local-ratelimit';
import type { JsonObject } from '../../src/envoy/proto-json';
import { lintMesh } from '../../src/lint';
import { builtin } from '../../src/translate/context';
import { RATE_LIMIT_FILL_INTERVAL_MS } from '../../src/translate/ratelimit';
import { validateCompiled } from '../../src/output/validate-output';
import { PACKAGE_ROOT } from '../../src/paths';
import { ResourceEncoder } from '../../src/xds/prepared';
import { typeVersion, type NodeSnapshot, type TypeSnapshot } from '../../src/xds/snapshot';
import { meshClient, startMember, startMesh, tally, type TestMesh } from './harness';

function mesh_(args: readonly string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'mesh.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => resolve({ code: code ?? -1, out }));
  });
}

const policies = (v1: number, v2: number, timeout: string): string => `
access:
  grant-pay:
    allow: [impact-calc]
rate_limits:
  impact-calc:
    rps: 50
timeouts:
  grant-pay:
    request: ${timeout}
traffic:
  grant-pay:
    split:
      v1: ${v1}
      v2: ${v2}
`;

/** impact-calc's resources as compiled now, with the Envoy rate limit filter in front of the router of every API listener. */
function listenersWithEnvoyOnlyFilter(mesh: TestMesh): JsonObject[] {
  const compiled = compileMesh(lintMesh(mesh.dir).model!);
  const node = compiled.nodes.find((n) => n.id === 'impact-calc')!;
  // The rate_limits policy of impact-calc, as the Envoy path compiles it (translate/ratelimit.ts skips gRPC nodes).
  const rateLimit = { rps: builtin(50), burst: builtin(50), fillIntervalMs: builtin(RATE_LIMIT_FILL_INTERVAL_MS) };
  const filter = localRateLimitFilter.build({ chain: 'envoy-inbound', node: { ...node.ir, inbound: { ...node.ir.inbound, rateLimit } } })!;
  const listeners = node.resources.listeners.map((l) => {
    const api = l['api_listener'] as JsonObject | undefined;
    if (!api) return l;
    const hcm = api['api_listener'] as JsonObject;
    const filters = hcm['http_filters'] as JsonObject[];
    return { ...l, api_listener: { api_listener: { ...hcm, http_filters: [...filters.slice(0, -1), filter, filters[filters.length - 1]!] } } };
  });
  // What the control plane would check before serving: our validator has no objection.
  const errors = validateCompiled({ ...compiled, nodes: [{ ...node, resources: { ...node.resources, listeners } }] }).filter((d) => d.severity === 'error');
  assert.deepEqual(errors, [], 'the injected filter is valid Envoy configuration');
  return listeners;
}

function withListeners(snap: NodeSnapshot, listeners: readonly JsonObject[]): NodeSnapshot {
  const encoder = new ResourceEncoder();
  const resources = new Map(listeners.map((l) => {
    const p = encoder.prepare('listeners', l);
    return [p.name, p] as const;
  }));
  const type: TypeSnapshot = { version: typeVersion(resources), resources, bytes: [...resources.values()].reduce((n, r) => n + r.sotwFrame.length, 0) };
  return { ...snap, types: { ...snap.types, listeners: type } };
}

test('xDS client: mesh build bootstrap resolves xds:///grant-pay; apply --wait reroutes live; a rejected snapshot is a NACK', { timeout: 90_000 }, async (t) => {
  const mesh = await startMesh({
    services: {
      'grant-pay': 'version: v2\nversions: [v1, v2]\nprotocol: grpc\nport: 9000\ncalls: []\n',
      'impact-calc': 'version: v1\nprotocol: grpc\nport: 8081\ncalls: [grant-pay]\n',
    },
    policies: policies(90, 10, '2s'),
  });
  t.after(() => mesh.stop());
  const v1 = await startMember(mesh, { service: 'grant-pay', version: 'v1' });
  const v2 = await startMember(mesh, { service: 'grant-pay', version: 'v2' });

  // `mesh build`, the real CLI. An absolute pki_dir makes the bootstrap's certificate paths
  // absolute. (apply/status get --pki: src/cli/control-plane-opts.ts joins an absolute
  // pki_dir onto the mesh folder.)
  fs.appendFileSync(path.join(mesh.dir, 'mesh.yml'), `pki_dir: ${mesh.pkiDir}\n`);
  const built = await mesh_(['build', mesh.dir, '--out', path.join(mesh.dir, 'out')]);
  assert.equal(built.code, 0, built.out);
  const bootstrap = fs.readFileSync(path.join(mesh.dir, 'out', 'impact-calc', 'bootstrap.json'), 'utf8');
  assert.match(bootstrap, new RegExp(`"server_uri": "127\\.0\\.0\\.1:${mesh.running.ports.proxyless}"`));
  const client = meshClient(mesh, 'impact-calc', 'grant-pay', bootstrap);
  const first = tally(await client.calls(60));
  assert.equal((first[v1.id] ?? 0) + (first[v2.id] ?? 0), 60, JSON.stringify(first));

  // Routing changed by `mesh apply --wait`: every call to v2, same channel.
  mesh.write('mesh_policies.yml', policies(0, 100, '2s'));
  const rerouted = await mesh_(['apply', mesh.dir, '--pki', mesh.pkiDir, '--wait', '--timeout', '10s']);
  assert.equal(rerouted.code, 0, rerouted.out);
  assert.match(rerouted.out, /ACKed revision/);
  assert.deepEqual(tally(await client.calls(40)), { [v2.id]: 40 });

  // A snapshot the client rejects.
  const replaceAll = mesh.cp.cache.replaceAll.bind(mesh.cp.cache);
  let inject = true;
  let hookError: unknown;
  mesh.cp.cache.replaceAll = (next) => {
    const snap = next.get('impact-calc');
    if (!inject || !snap) return replaceAll(next);
    try {
      return replaceAll(new Map([...next, ['impact-calc', withListeners(snap, listenersWithEnvoyOnlyFilter(mesh))]]));
    } catch (err) {
      hookError = err;
      throw err;
    }
  };
  mesh.write('mesh_policies.yml', policies(0, 100, '3s'));
  const refused = await mesh_(['apply', mesh.dir, '--pki', mesh.pkiDir, '--wait', '--timeout', '10s']);
  assert.equal(hookError, undefined);
  assert.equal(refused.code, 1, refused.out);
  assert.match(refused.out, /MESH097: apply --wait: NACKed/);
  assert.match(refused.out, /NACK impact-calc listeners: .*envoy\.filters\.http\.local_ratelimit/);

  const node = mesh.cp.statusReport().nodes.find((n) => n.node === 'impact-calc')!;
  assert.equal(node.nacked, true);
  assert.equal(node.types.listeners?.lastNack?.version, node.types.listeners?.current);
  assert.notEqual(node.types.listeners?.acked, node.types.listeners?.current, 'the client kept its previous listener');
  const status = await mesh_(['status', '--mesh', mesh.dir, '--pki', mesh.pkiDir]);
  assert.equal(status.code, 1, status.out);
  assert.match(status.out, /impact-calc\s+listeners\s.*xDS response validation errors/);
  // A NACK keeps the last good configuration: calls still succeed.
  assert.deepEqual(tally(await client.calls(10)), { [v2.id]: 10 });

  // Fixed: the operator's next revision is ACKed. (It must change impact-calc's inputs: an apply
  // of unchanged inputs recomputes and pushes nothing, src/model/dependencies.ts.)
  inject = false;
  mesh.write('mesh_policies.yml', policies(0, 100, '4s'));
  const fixed = await mesh_(['apply', mesh.dir, '--pki', mesh.pkiDir, '--wait', '--timeout', '10s']);
  assert.equal(fixed.code, 0, fixed.out);
  assert.equal(mesh.cp.statusReport().nodes.find((n) => n.node === 'impact-calc')!.nacked, false);
  t.diagnostic(`NACK reported by apply --wait: ${refused.out.split('\n').find((l) => l.includes('NACK impact-calc'))?.trim().slice(0, 160)}`);
});
