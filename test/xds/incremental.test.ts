/**
 * Incremental apply (issue 20 item 1): after any sequence of edits, the
 * control plane that recomputed only the nodes the dependency index named
 * (src/model/dependencies.ts) serves exactly what a fresh control plane
 * compiling everything serves: every node, every type, every resource, byte
 * for byte. Versions are compared too: resource versions are hashes of the
 * encoded bytes and type versions hashes of names and resource versions
 * (src/xds/prepared.ts, snapshot.ts), so equal bytes must give equal versions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RESOURCE_KINDS } from '../../src/envoy/resources';
import * as path from 'node:path';
import { ControlPlane, readMeshSources, type MeshSources } from '../../src/xds/control-plane';
import { copyExample } from '../helpers/mesh-dir';
import { edit as editFile } from '../review/helpers';
import { silentLogger } from '../../src/xds/log';

const name = (i: number): string => `svc-${String(i).padStart(2, '0')}`;

/** A mesh as data, rendered to sources; edits change the data, so every step stays close to valid. */
interface MeshState {
  services: Map<number, { port: number; versions: string[]; calls: Set<number> }>;
  defaultsTimeout?: string;
  retries: Map<number, number>;
  breakers: Set<number>;
  splits: Set<number>;
  /** Comment lines at the top of mesh_policies.yml: moves every policy's position. */
  pad: number;
  meshName: string;
}

function initialState(n: number, seed: number): MeshState {
  const services = new Map<number, { port: number; versions: string[]; calls: Set<number> }>();
  for (let i = 0; i < n; i++) {
    const calls = new Set<number>();
    for (let k = 1; k <= 3; k++) if ((i * 7 + k * 5 + seed) % n !== i) calls.add((i * 7 + k * 5 + seed) % n);
    services.set(i, { port: 10_000 + i, versions: i % 4 === 0 ? ['v1', 'v2'] : ['v1'], calls });
  }
  return { services, retries: new Map([[1, 2]]), breakers: new Set([0, 3]), splits: new Set([0]), pad: 0, meshName: 'inc' };
}

function render(m: MeshState): MeshSources {
  const out: Record<string, string> = { 'mesh.yml': `name: ${m.meshName}\ntrust_domain: inc.local\n` };
  const callers = new Map<number, number[]>();
  for (const [i, s] of m.services) {
    const calls = [...s.calls].filter((t) => m.services.has(t)).sort((a, b) => a - b);
    for (const t of calls) callers.set(t, [...(callers.get(t) ?? []), i]);
    out[`services/${name(i)}.yml`] =
      `name: ${name(i)}\nversion: v1\n${s.versions.length > 1 ? `versions: [${s.versions.join(', ')}]\n` : ''}protocol: ${i % 5 === 2 ? 'grpc' : 'http'}\n` +
      `port: ${s.port}\nmesh_port: ${20_000 + i}\nendpoints:\n  - address: 10.0.0.${i + 1}\n    port: ${20_000 + i}\n` +
      (calls.length > 0 ? `calls:\n${calls.map((t) => `  - ${name(t)}\n`).join('')}` : '');
  }
  const lines: string[] = [];
  for (let p = 0; p < m.pad; p++) lines.push(`# padding ${p}`);
  const live = (set: Iterable<number>): number[] => [...set].filter((i) => m.services.has(i)).sort((a, b) => a - b);
  if (m.defaultsTimeout) lines.push('defaults:', '  timeouts:', `    request: ${m.defaultsTimeout}`);
  const breakers = live(m.breakers);
  if (breakers.length > 0) lines.push('circuit_breakers:', ...breakers.map((i) => `  ${name(i)}:\n    max_failures: 3`));
  const retries = live(m.retries.keys());
  if (retries.length > 0) lines.push('retries:', ...retries.map((i) => `  ${name(i)}:\n    attempts: ${m.retries.get(i)}`));
  const splits = live(m.splits).filter((i) => m.services.get(i)!.versions.includes('v2'));
  if (splits.length > 0) lines.push('traffic:', ...splits.map((i) => `  ${name(i)}:\n    split:\n      v1: 80\n      v2: 20`));
  const withCallers = live(callers.keys());
  if (withCallers.length > 0) lines.push('access:', ...withCallers.map((i) => `  ${name(i)}:\n    allow: [${callers.get(i)!.map(name).join(', ')}]`));
  out['mesh_policies.yml'] = lines.join('\n') + '\n';
  return out;
}

type Edit =
  | { kind: 'port'; i: number; port: number }
  | { kind: 'versions'; i: number }
  | { kind: 'call'; i: number; j: number }
  | { kind: 'remove'; i: number }
  | { kind: 'add'; i: number }
  | { kind: 'defaults' }
  | { kind: 'retries'; i: number; attempts: number }
  | { kind: 'breaker'; i: number }
  | { kind: 'split'; i: number }
  | { kind: 'pad'; lines: number }
  | { kind: 'meshName' }
  | { kind: 'register'; i: number; host: number };

const N = 14;
const idx = fc.nat(N - 1);
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('port' as const), i: idx, port: fc.integer({ min: 11_000, max: 11_050 }) }),
  fc.record({ kind: fc.constant('versions' as const), i: idx }),
  fc.record({ kind: fc.constant('call' as const), i: idx, j: idx }),
  fc.record({ kind: fc.constant('remove' as const), i: idx }),
  fc.record({ kind: fc.constant('add' as const), i: idx }),
  fc.record({ kind: fc.constant('defaults' as const) }),
  fc.record({ kind: fc.constant('retries' as const), i: idx, attempts: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('breaker' as const), i: idx }),
  fc.record({ kind: fc.constant('split' as const), i: idx }),
  fc.record({ kind: fc.constant('pad' as const), lines: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant('meshName' as const) }),
  fc.record({ kind: fc.constant('register' as const), i: idx, host: fc.integer({ min: 1, max: 3 }) }),
);

/** Applies a source edit to the state; a registration is returned for the caller to make. */
function edited(m: MeshState, e: Edit): MeshState {
  const services = new Map([...m.services].map(([i, s]) => [i, { ...s, versions: [...s.versions], calls: new Set(s.calls) }]));
  const next: MeshState = { ...m, services, retries: new Map(m.retries), breakers: new Set(m.breakers), splits: new Set(m.splits) };
  const toggle = (set: Set<number>, i: number): void => void (set.has(i) ? set.delete(i) : set.add(i));
  switch (e.kind) {
    case 'port':
      if (services.has(e.i)) services.get(e.i)!.port = e.port;
      break;
    case 'versions':
      if (services.has(e.i)) services.get(e.i)!.versions = services.get(e.i)!.versions.length > 1 ? ['v1'] : ['v1', 'v2'];
      break;
    case 'call':
      if (services.has(e.i) && e.i !== e.j) toggle(services.get(e.i)!.calls, e.j);
      break;
    case 'remove':
      services.delete(e.i);
      break;
    case 'add':
      if (!services.has(e.i)) services.set(e.i, { port: 10_000 + e.i, versions: ['v1'], calls: new Set([(e.i + 1) % N]) });
      break;
    case 'defaults':
      next.defaultsTimeout = m.defaultsTimeout ? undefined : '3s';
      break;
    case 'retries':
      next.retries.set(e.i, e.attempts);
      break;
    case 'breaker':
      toggle(next.breakers, e.i);
      break;
    case 'split':
      toggle(next.splits, e.i);
      break;
    case 'pad':
      next.pad = e.lines;
      break;
    case 'meshName':
      next.meshName = m.meshName === 'inc' ? 'inc-two' : 'inc';
      break;
    case 'register':
      break;
  }
  return next;
}

/** Every node's snapshot, as bytes and versions, in one comparable value. */
function served(cp: ControlPlane): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const id of cp.cache.nodes()) {
    const snap = cp.cache.get(id)!;
    out[id] = Object.fromEntries(
      RESOURCE_KINDS.map((k) => {
        const t = snap.types[k];
        const resources = [...t.resources.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((r) => [r.name, r.version, r.sotwFrame.toString('base64'), r.deltaFrame.toString('base64')]);
        return [k, { version: t.version, bytes: t.bytes, resources }];
      }),
    );
  }
  return out;
}

function freshPlane(sources: MeshSources, like: ControlPlane): { cp: ControlPlane; ok: boolean } {
  const cp = new ControlPlane({ log: silentLogger });
  const r = cp.apply(sources);
  // The same registered instances as the incremental plane holds (its own pruning decided which survive).
  if (r.ok) for (const i of like.registry.all()) cp.registry.register({ service: i.service, version: i.version, address: i.address, port: i.port, ttlMs: 300_000 });
  return { cp, ok: r.ok };
}

test('incremental apply serves the bytes of a full recompute after random edit sequences', () => {
  let steps = 0;
  let partial = 0;
  fc.assert(
    fc.property(fc.nat(20), fc.array(edit, { minLength: 1, maxLength: 6 }), (seed, edits) => {
      let state = initialState(N, seed);
      const cp = new ControlPlane({ log: silentLogger });
      try {
        assert.equal(cp.apply(render(state)).ok, true, 'the generated mesh applies');
        for (const e of edits) {
          if (e.kind === 'register') {
            if (state.services.has(e.i)) cp.registry.register({ service: name(e.i), version: 'v1', address: `10.1.0.${e.host}`, port: 30_000 + e.i, ttlMs: 300_000 });
            continue;
          }
          state = edited(state, e);
          const sources = render(state);
          const r = cp.apply(sources);
          steps++;
          if (r.ok && r.recomputedNodes !== undefined && r.recomputedNodes < cp.cache.nodes().length) partial++;
          const full = freshPlane(sources, cp);
          try {
            assert.equal(r.ok, full.ok, `apply ok after ${JSON.stringify(e)}`);
            if (!r.ok) continue; // refused: the incremental plane still serves the last good state; the next edit checks it
            assert.deepEqual(served(cp), served(full.cp), `snapshots after ${JSON.stringify(edits)}`);
            // The callers index (which nodes a registration rebuilds) is updated, not rebuilt: as a full build's.
            for (const i of state.services.keys()) assert.equal(cp.callersOf(name(i)), full.cp.callersOf(name(i)), `callers of ${name(i)} after ${JSON.stringify(edits)}`);
          } finally {
            full.cp.close();
          }
        }
      } finally {
        cp.close();
      }
    }),
    { numRuns: 30, seed: 2020 },
  );
  // The property would hold trivially if every apply recomputed everything.
  assert.ok(partial > steps / 3, `only ${partial} of ${steps} applies recomputed fewer than all nodes`);
});

test('one manifest changed recomputes the service, its callers and the callees its access names; nothing else is pushed', () => {
  const state = initialState(N, 0);
  const cp = new ControlPlane({ log: silentLogger });
  try {
    assert.equal(cp.apply(render(state)).ok, true);
    const before = served(cp);
    const next = edited(state, { kind: 'port', i: 5, port: 11_005 });
    const r = cp.apply(render(next));
    assert.equal(r.ok, true);
    const callers = [...state.services].filter(([, s]) => s.calls.has(5)).map(([i]) => name(i));
    const callees = [...state.services.get(5)!.calls].map(name);
    const expected = new Set([name(5), ...callers, ...callees]);
    assert.equal(r.recomputedNodes, expected.size);
    // The app port is the service's own inbound cluster: only its node changes; the others recompute to the same bytes.
    assert.deepEqual(r.changedNodes, [name(5)]);
    const after = served(cp);
    for (const id of Object.keys(before)) if (!expected.has(id)) assert.deepEqual(after[id], before[id], id);
  } finally {
    cp.close();
  }
});

test('an ingress gateway is a node of the dependency index: kept when nothing it reads changes, recomputed when its declaration or a routed service does', () => {
  const { dir, cleanup } = copyExample('ceq');
  const cp = new ControlPlane({ log: silentLogger });
  const policies = path.join(dir, 'mesh_policies.yml');
  const step = (from: string, to: string): ReturnType<ControlPlane['apply']> => {
    editFile(policies, from, to);
    const r = cp.apply(readMeshSources(dir), dir);
    assert.equal(r.ok, true, JSON.stringify(r.diagnostics));
    const full = new ControlPlane({ log: silentLogger });
    try {
      assert.equal(full.apply(readMeshSources(dir), dir).ok, true);
      assert.deepEqual(served(cp), served(full), `after ${from} -> ${to}: the bytes of a full recompute`);
    } finally {
      full.close();
    }
    return r;
  };
  try {
    assert.equal(cp.apply(readMeshSources(dir), dir).ok, true);
    // grant-pay's timeout: the gateway does not route there; it keeps its snapshot (it used to vanish: not in the index).
    const other = step('request: 2s', 'request: 3s');
    assert.ok(cp.cache.get('citizen-gw'), 'the gateway is still served');
    assert.ok(!(other.changedNodes ?? []).includes('citizen-gw'), JSON.stringify(other.changedNodes));
    // Its own route, and the timeout of the service it routes to: recomputed and changed.
    assert.ok(step('prefix: /docs/', 'prefix: /pdf/').changedNodes?.includes('citizen-gw'));
    assert.ok(step('request: 5s', 'request: 6s').changedNodes?.includes('citizen-gw'));
  } finally {
    cp.close();
    cleanup();
  }
});
