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
  // retainSlack 0: the encoder's generation is ended over every served snapshot after each install.
  const sliced = new ControlPlane({ log: silentLogger, retainSlack: 0 });
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
  // the promise settles the old revision's encodings are gone, so it holds no more than a synchronous
  // plane that took the registration before its apply. (One less: the endpoints the registration
  // changed during the prepare were encoded outside the encoder's cache, by the catch-up.)
  const ref = new ControlPlane({ log: silentLogger, retainSlack: 0 });
  assert.equal(ref.apply(first, 'mesh').ok, true);
  register(ref);
  assert.equal(ref.apply(second, 'mesh').ok, true);
  assert.ok(sliced.encoderSize() <= ref.encoderSize(), `${sliced.encoderSize()} > ${ref.encoderSize()}`);
  assert.ok(sliced.encoderSize() >= ref.encoderSize() - 1, `${sliced.encoderSize()} < ${ref.encoderSize()} - 1`);
  ref.close();
  // And a later apply is taken again.
  assert.equal((await sliced.applyAsync(first, 'mesh')).ok, true);
  sync.close();
  sliced.close();
});

test('incremental applies leave replaced encodings in the encoder only up to the slack: it never grows past it, and a due retain keeps exactly what is served', { timeout: 120_000 }, () => {
  const slack = 10;
  const cp = new ControlPlane({ log: silentLogger, retainSlack: slack });
  assert.equal(cp.apply(mesh(40), 'mesh').ok, true);
  const sizes: number[] = [];
  let served = 0;
  for (let k = 1; k <= 40; k++) {
    // svc-01's port: its inbound listener changes, a new encoding each time.
    const sources = mesh(40, 11_000 + k);
    const r = cp.apply(sources, 'mesh');
    assert.equal(r.ok, true);
    assert.ok((r.recomputedNodes ?? 0) < 40, `recomputed ${r.recomputedNodes}`);
    // A plane that applied these sources alone holds exactly what they serve.
    const fresh = new ControlPlane({ log: silentLogger });
    assert.equal(fresh.apply(sources, 'mesh').ok, true);
    served = fresh.encoderSize();
    fresh.close();
    sizes.push(cp.encoderSize() - served);
  }
  cp.close();
  // Each apply adds its few new encodings; once the slack is reached the next install drops every unserved one.
  assert.ok(Math.max(...sizes) <= slack + 5, `beyond the served ${served}: ${sizes.join(',')}`);
  assert.ok(sizes.filter((d) => d === 0).length >= 2, `never back to exactly what is served: ${sizes.join(',')}`);
  assert.ok(sizes.some((d) => d > 0), `every retain was immediate: ${sizes.join(',')}`);
});

test('a served version is never forgotten by the bounded known versions, though an incremental apply refreshes the kept ones only when due', { timeout: 120_000 }, async () => {
  // 10 nodes x 5 types served (50 versions), a bound of 160: a refresh is due once 30 versions were
  // remembered since the last (every second apply or so here); never refreshing the kept ones would
  // forget the oldest of them within about 110 applies (each adds svc-01's new listener version).
  const cp = new ControlPlane({ log: silentLogger, knownVersionsMax: 160 });
  assert.equal(cp.apply(mesh(10), 'mesh').ok, true);
  for (let k = 1; k <= 200; k++) {
    // Sliced and synchronous applies alternate: the sliced one refreshes after its install, in slices.
    const r = k % 2 === 0 ? await cp.applyAsync(mesh(10, 11_000 + k), 'mesh') : cp.apply(mesh(10, 11_000 + k), 'mesh');
    assert.equal(r.ok, true);
    assert.ok((r.recomputedNodes ?? 10) < 10, `recomputed ${r.recomputedNodes}`);
    for (const id of cp.cache.nodes()) {
      for (const [kind, t] of Object.entries(cp.cache.get(id)!.types)) assert.ok(cp.knowsVersion(kind, t.version), `apply ${k}: ${id} ${kind} ${t.version} forgotten`);
    }
  }
  cp.close();
});
