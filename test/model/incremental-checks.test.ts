/**
 * Incremental cross-service checks (issue 20 item 1, src/model/check-cache.ts):
 * after any sequence of edits, a lint that reuses the last lints' per-service
 * check results (as the control plane's applies do) reports exactly what a
 * fresh lint reports: the same diagnostics, positions, messages and hints
 * included. The edits are chosen to make the cross-service rules speak:
 * unknown callees and callers, calls the callee's access denies, unused
 * permissions, unreachable services, splits naming undeclared versions,
 * colliding ports, a manifest declaring another's name, lines inserted above
 * a manifest's or a policy's keys, services added and removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { lintMesh } from '../../src/lint';
import { SourceCache } from '../../src/config/source-cache';
import { CheckCache } from '../../src/model/check-cache';
import { checkMesh } from '../../src/model/checks';
import type { MeshModel } from '../../src/model/types';
import type { Diagnostic } from '../../src/diag/diagnostic';
import { sortDiagnostics } from '../../src/diag/diagnostic';

const name = (i: number): string => `svc-${String(i).padStart(2, '0')}`;

interface Svc {
  port: number;
  versions: string[];
  endpointVersion: string;
  calls: string[];
  /** Comment lines above the manifest's keys. */
  pad: number;
  /** The name the manifest declares (its file stays services/<name(i)>.yml). */
  declares?: string;
}

interface State {
  services: Map<number, Svc>;
  access: Map<number, string[]>;
  splits: Map<number, string[]>;
  retries: Set<number>;
  pad: number;
}

function initial(n: number): State {
  const services = new Map<number, Svc>();
  const access = new Map<number, string[]>();
  for (let i = 0; i < n; i++) {
    const calls = [1, 2].map((k) => name((i + k) % n));
    services.set(i, { port: 10_000 + i, versions: i % 3 === 0 ? ['v1', 'v2'] : ['v1'], endpointVersion: 'v1', calls, pad: 0 });
  }
  for (let i = 0; i < n; i++) access.set(i, [1, 2].map((k) => name((i - k + n) % n)));
  return { services, access, splits: new Map([[0, ['v1', 'v2']]]), retries: new Set([1]), pad: 0 };
}

function render(m: State): Record<string, string> {
  const out: Record<string, string> = { 'mesh.yml': 'name: checks\ntrust_domain: checks.local\n' };
  for (const [i, s] of m.services) {
    out[`services/${name(i)}.yml`] =
      '# note\n'.repeat(s.pad) +
      `name: ${s.declares ?? name(i)}\nversion: v1\n${s.versions.length > 1 ? `versions: [${s.versions.join(', ')}]\n` : ''}protocol: ${i % 5 === 4 ? 'grpc' : 'http'}\n` +
      `port: ${s.port}\nmesh_port: ${20_000 + i}\nendpoints:\n  - address: 10.0.0.${i + 1}\n    port: ${20_000 + i}\n    version: ${s.endpointVersion}\n` +
      (s.calls.length > 0 ? `calls:\n${s.calls.map((t) => `  - ${t}\n`).join('')}` : '');
  }
  const lines: string[] = [];
  for (let p = 0; p < m.pad; p++) lines.push(`# padding ${p}`);
  const retries = [...m.retries].sort((a, b) => a - b);
  if (retries.length > 0) lines.push('retries:', ...retries.map((i) => `  ${name(i)}:\n    attempts: 2\n    per_try_timeout: 5s`));
  if (retries.length > 0) lines.push('timeouts:', ...retries.map((i) => `  ${name(i)}:\n    request: 2s`));
  const splits = [...m.splits].sort((a, b) => a[0] - b[0]);
  if (splits.length > 0) lines.push('traffic:', ...splits.map(([i, vs]) => `  ${name(i)}:\n    split:\n${vs.map((v, k) => `      ${v}: ${k === 0 ? 100 - 10 * (vs.length - 1) : 10}`).join('\n')}`));
  const access = [...m.access].sort((a, b) => a[0] - b[0]);
  if (access.length > 0) lines.push('access:', ...access.map(([i, c]) => `  ${name(i)}:\n    allow: [${c.join(', ')}]`));
  out['mesh_policies.yml'] = lines.join('\n') + '\n';
  return out;
}

type Edit = (m: State) => void;

/** A service of the mesh by a random pick, if any. */
const pick = (m: State, k: number): [number, Svc] | undefined => {
  const all = [...m.services].sort((a, b) => a[0] - b[0]);
  return all.length > 0 ? all[k % all.length] : undefined;
};

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]): Edit => (m) => void pick(m, a)?.[1].calls.push(b % 3 === 0 ? 'ghost' : name(b % 10))),
  fc.nat().map((a): Edit => (m) => void pick(m, a)?.[1].calls.pop()),
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]): Edit => (m) => {
    const s = pick(m, a);
    if (s) s[1].port = b % 2 === 0 ? 10_000 + (b % 10) : 10_000 + s[0];
  }),
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]): Edit => (m) => {
    const s = pick(m, a);
    if (s) s[1].endpointVersion = ['v1', 'v2', 'v3'][b % 3]!;
  }),
  fc.nat().map((a): Edit => (m) => {
    const s = pick(m, a);
    if (s) s[1].versions = s[1].versions.length > 1 ? ['v1'] : ['v1', 'v2'];
  }),
  fc.nat().map((a): Edit => (m) => {
    const s = pick(m, a);
    if (s) s[1].pad = (s[1].pad + 1) % 3;
  }),
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]): Edit => (m) => {
    const s = pick(m, a);
    // Another service's name (MESH030), a name no file has (MESH032), or its own again.
    if (s) s[1].declares = [name(b % 10), 'stray', undefined][b % 3];
  }),
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]): Edit => (m) => {
    const s = pick(m, a);
    if (!s) return;
    const list = m.access.get(s[0]) ?? [];
    if (b % 3 === 0 && list.length > 0) list.pop();
    else list.push(b % 4 === 1 ? 'nobody' : name(b % 10));
    m.access.set(s[0], [...new Set(list)]);
  }),
  fc.nat().map((a): Edit => (m) => {
    const s = pick(m, a);
    if (s) (m.access.has(s[0]) ? m.access.delete(s[0]) : m.access.set(s[0], []));
  }),
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]): Edit => (m) => {
    const s = pick(m, a);
    if (s) (m.splits.has(s[0]) ? m.splits.delete(s[0]) : m.splits.set(s[0], b % 2 === 0 ? ['v1', 'v2'] : ['v1', 'v9']));
  }),
  fc.nat().map((a): Edit => (m) => {
    const s = pick(m, a);
    if (s) (m.retries.has(s[0]) ? m.retries.delete(s[0]) : m.retries.add(s[0]));
  }),
  fc.constant<Edit>((m) => void (m.pad = (m.pad + 1) % 3)),
  fc.nat().map((a): Edit => (m) => {
    // A service added (back) or removed: the mesh-wide inputs change.
    const i = a % 10;
    if (m.services.has(i) && m.services.size > 2) m.services.delete(i);
    else if (!m.services.has(i)) m.services.set(i, { port: 10_000 + i, versions: ['v1'], endpointVersion: 'v1', calls: [name((i + 1) % 10)], pad: 0 });
  }),
);

const lint = (files: Record<string, string>, caches?: { source: SourceCache; check: CheckCache }): readonly Diagnostic[] =>
  lintMesh('/nonexistent/checks', { displayDir: 'mesh', files, ...(caches ? { sourceCache: caches.source, checkCache: caches.check } : {}) }).diagnostics;

test('checks reusing the last lints\' per-service results report exactly what a fresh check reports, for random edit sequences', { timeout: 300_000 }, () => {
  let reused = 0;
  let spoke = 0;
  fc.assert(
    fc.property(fc.array(edit, { minLength: 1, maxLength: 12 }), (edits) => {
      const m = initial(8);
      const caches = { source: new SourceCache(), check: new CheckCache() };
      lint(render(m), caches);
      for (const e of edits) {
        e(m);
        const files = render(m);
        const before = caches.check.hits;
        const incremental = lint(files, caches);
        reused += caches.check.hits - before;
        const full = lint(files);
        spoke += full.filter((d) => /^MESH0(3[0-5]|4[0-5]|5[01]|61)$/.test(d.code)).length;
        assert.deepEqual(incremental, full);
      }
    }),
    { numRuns: 60, seed: 20_05 },
  );
  // The test means something only if results were reused and the cross-service rules spoke.
  assert.ok(reused > 100, `only ${reused} unit results reused`);
  assert.ok(spoke > 50, `the cross-service rules said only ${spoke} things`);
});

test('an unchanged mesh reuses every unit, a one-manifest edit rechecks only what reads it', () => {
  const m = initial(8);
  const caches = { source: new SourceCache(), check: new CheckCache() };
  lint(render(m), caches);
  const misses = caches.check.misses;
  lint(render(m), caches);
  assert.equal(caches.check.misses, misses, 'nothing changed, nothing checked again');
  // svc-03's port: a new manifest object. Checked again: its own service unit, the service units of
  // what it calls (svc-04, svc-05 read their callers' manifests), its own policies' unit and the
  // policies' units that allow it as a caller (svc-04's, svc-05's). The other 8 + 8 - 6 are reused.
  m.services.get(3)!.port = 10_903;
  lint(render(m), caches);
  assert.equal(caches.check.misses - misses, 6);
});

/** The model a fresh lint builds (checked or not: schema-valid is enough). */
const modelOf = (files: Record<string, string>): MeshModel | undefined => {
  const r = lintMesh('/nonexistent/checks', { displayDir: 'mesh', files });
  return r.model ?? r.uncheckedModel;
};

/**
 * `next` with each manifest and policies object that equals (positions included) the one of
 * `prev` replaced by that very object: what a loader keeping each service's policies object
 * across policy-file edits would hand over. (The loader rebuilds every policies object when the
 * policy file changes, so the lint test above never reuses a unit across a policy edit.)
 */
function spliced(prev: MeshModel, next: MeshModel): MeshModel {
  const reuse = <T extends object>(was: readonly T[], now: readonly T[]): T[] => {
    const byText = new Map(was.map((o) => [JSON.stringify(o), o]));
    return now.map((o) => byText.get(JSON.stringify(o)) ?? o);
  };
  return { ...next, services: reuse(prev.services, next.services), policies: reuse(prev.policies, next.policies) };
}

test('per-service reuse is exact when single policies objects change too: checks of spliced models equal full checks', { timeout: 300_000 }, () => {
  let reused = 0;
  fc.assert(
    fc.property(fc.array(edit, { minLength: 1, maxLength: 12 }), (edits) => {
      const m = initial(8);
      const cache = new CheckCache();
      let prev = modelOf(render(m))!;
      checkMesh({ model: prev, policyKeys: [], cache });
      for (const e of edits) {
        e(m);
        const next = modelOf(render(m));
        if (!next) continue;
        const model = spliced(prev, next);
        const before = cache.hits;
        const incremental = sortDiagnostics(checkMesh({ model, policyKeys: [], cache }));
        reused += cache.hits - before;
        assert.deepEqual(incremental, sortDiagnostics(checkMesh({ model: next, policyKeys: [] })));
        prev = model;
      }
    }),
    { numRuns: 60, seed: 20_06 },
  );
  assert.ok(reused > 500, `only ${reused} unit results reused`);
});
