/**
 * applyAsync (issue 20 item 2): the apply is prepared in event-loop slices
 * (src/util/sliced.ts), so the loop runs while it lints, compiles, validates
 * and encodes; one apply at a time (a second is refused, MESH240); what the
 * registry took meanwhile is in the installed snapshots; and what it serves is
 * byte for byte what the synchronous apply serves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControlPlane, type MeshSources } from '../../src/xds/control-plane';
import { silentLogger } from '../../src/xds/log';

const name = (i: number): string => `svc-${String(i).padStart(2, '0')}`;

/** n services, each calling the next three, access allowing exactly those callers; `port1` is svc-01's port. */
function mesh(n: number, port1 = 10_001): MeshSources {
  const out: Record<string, string> = { 'mesh.yml': 'name: slices\ntrust_domain: slices.local\n' };
  const callers = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const calls = [1, 2, 3].map((k) => (i + k) % n);
    for (const t of calls) callers.set(t, [...(callers.get(t) ?? []), i]);
    out[`services/${name(i)}.yml`] =
      `name: ${name(i)}\nversion: v1\nprotocol: http\nport: ${i === 1 ? port1 : 10_000 + i}\nmesh_port: ${20_000 + i}\n` +
      `endpoints:\n  - address: 10.0.0.${i + 1}\n    port: ${20_000 + i}\ncalls:\n${calls.map((t) => `  - ${name(t)}\n`).join('')}`;
  }
  const access = [...callers.keys()].sort((a, b) => a - b).map((i) => `  ${name(i)}:\n    allow: [${callers.get(i)!.map(name).join(', ')}]`);
  out['mesh_policies.yml'] = ['retries:', `  ${name(0)}:\n    attempts: 2`, 'access:', ...access].join('\n') + '\n';
  return out;
}

const register = (cp: ControlPlane): void => void cp.registry.register({ service: name(1), version: 'v1', address: '10.9.9.9', port: 30_001, ttlMs: 600_000 });

test('applyAsync gives the loop back, refuses a second apply (MESH240), keeps registrations made meanwhile, and serves the bytes of apply', { timeout: 120_000 }, async () => {
  const sync = new ControlPlane({ log: silentLogger });
  const sliced = new ControlPlane({ log: silentLogger });
  const first = mesh(40);
  assert.equal(sync.apply(first, 'mesh').ok, true);

  let turns = 0;
  let spinning = true;
  const spin = (): void => {
    if (!spinning) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  const pending = sliced.applyAsync(first, 'mesh');
  // The apply is in flight until its promise settles: another one is refused, sync or not.
  const again = sliced.apply(first, 'mesh');
  assert.equal(again.ok, false);
  assert.deepEqual(again.diagnostics.map((d) => d.code), ['MESH240']);
  const again2 = await sliced.applyAsync(first, 'mesh');
  assert.deepEqual(again2.diagnostics.map((d) => d.code), ['MESH240']);
  const done = await pending;
  spinning = false;
  assert.equal(done.ok, true, JSON.stringify(done.diagnostics.slice(0, 3)));
  // 40 nodes compiled, validated and encoded from nothing take far more than one 10 ms slice.
  assert.ok(turns > 0, 'the event loop ran while the apply was prepared');
  assert.deepEqual(sliced.versions(), sync.versions());

  // svc-01's port changes: its callers are recomputed, and an instance of it registers mid-apply.
  const second = mesh(40, 11_001);
  assert.equal(sync.apply(second, 'mesh').ok, true);
  register(sync);
  // The latest moment a registration can land: after the snapshots were built, before they are installed.
  const install = sliced.installPrepared.bind(sliced);
  sliced.installPrepared = (p, src, seq) => {
    register(sliced);
    return install(p, src, seq);
  };
  const r = await sliced.applyAsync(second, 'mesh');
  sliced.installPrepared = install;
  assert.equal(r.ok, true);
  assert.ok((r.recomputedNodes ?? 0) > 0 && (r.recomputedNodes ?? 0) < 40, `recomputed ${r.recomputedNodes}`);
  assert.deepEqual(sliced.versions(), sync.versions(), 'the instance registered during the apply is in the new snapshots');
  // The encoder's generation is ended after a sliced install, in slices (afterInstallSteps): by the time
  // the promise settles it holds what the synchronous apply's holds, the old revision's encodings gone.
  // (Against a synchronous plane that took the registration before its apply, as the sliced one did.)
  const ref = new ControlPlane({ log: silentLogger });
  assert.equal(ref.apply(first, 'mesh').ok, true);
  register(ref);
  assert.equal(ref.apply(second, 'mesh').ok, true);
  assert.equal(sliced.encoderSize(), ref.encoderSize());
  ref.close();
  // And a later apply is taken again.
  assert.equal((await sliced.applyAsync(first, 'mesh')).ok, true);
  sync.close();
  sliced.close();
});
