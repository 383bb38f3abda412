/**
 * The build cache (issue 20 item 4, src/cache): after any sequence of edits,
 * a build that takes unchanged nodes from the cache makes the same out/ tree,
 * byte for byte, as a cold build; a corrupted entry is detected and rebuilt; a
 * deleted cache folder is only a cold build. The CLI half runs `mesh build`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { lintMesh } from '../../src/lint';
import { emitTree } from '../../src/envoy/emit';
import { closeBuildCache, openBuildCache } from '../../src/cache/build-cache';
import { NodeCache } from '../../src/cache/node-cache';
import { PACKAGE_ROOT, TEMPLATES_DIR } from '../../src/paths';
import { readTree } from '../../src/output/write-tree';
import { tempDir } from '../helpers/mesh-dir';

const MESH = path.join(PACKAGE_ROOT, 'bin', 'mesh.js');
const N = 10;
const name = (i: number): string => `svc-${String(i).padStart(2, '0')}`;

/** A mesh as data; each edit changes the data, and the files are written from it. */
interface MeshState {
  services: Map<number, { port: number; calls: Set<number> }>;
  retries: Map<number, number>;
  defaultsTimeout?: string;
  /** Comment lines atop mesh_policies.yml: every policy's position moves, no output may. */
  pad: number;
  meshName: string;
  pkiDir: string;
  /** A comment line in the --templates copy of the Envoy bootstrap template. */
  templateNote: number;
}

function initial(seed: number): MeshState {
  const services = new Map<number, { port: number; calls: Set<number> }>();
  for (let i = 0; i < N; i++) {
    const calls = new Set<number>();
    for (let k = 1; k <= 2; k++) if ((i * 3 + k * 7 + seed) % N !== i) calls.add((i * 3 + k * 7 + seed) % N);
    services.set(i, { port: 10_000 + i, calls });
  }
  return { services, retries: new Map([[1, 2]]), pad: 0, meshName: 'cache', pkiDir: 'pki', templateNote: 0 };
}

function write(dir: string, templates: string, m: MeshState): void {
  fs.rmSync(path.join(dir, 'services'), { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'services'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'mesh.yml'), `name: ${m.meshName}\ntrust_domain: cache.local\npki_dir: ${m.pkiDir}\n`);
  const callers = new Map<number, number[]>();
  for (const [i, s] of m.services) {
    const calls = [...s.calls].filter((t) => m.services.has(t)).sort((a, b) => a - b);
    for (const t of calls) callers.set(t, [...(callers.get(t) ?? []), i]);
    fs.writeFileSync(
      path.join(dir, 'services', `${name(i)}.yml`),
      `name: ${name(i)}\nversion: v1\nprotocol: ${i % 4 === 3 ? 'grpc' : 'http'}\nport: ${s.port}\nmesh_port: ${20_000 + i}\n` +
        `endpoints:\n  - address: 10.0.0.${i + 1}\n    port: ${20_000 + i}\n` +
        (calls.length > 0 ? `calls:\n${calls.map((t) => `  - ${name(t)}\n`).join('')}` : ''),
    );
  }
  const lines: string[] = [];
  for (let p = 0; p < m.pad; p++) lines.push(`# padding ${p}`);
  if (m.defaultsTimeout) lines.push('defaults:', '  timeouts:', `    request: ${m.defaultsTimeout}`);
  const retries = [...m.retries.keys()].filter((i) => m.services.has(i)).sort((a, b) => a - b);
  if (retries.length > 0) lines.push('retries:', ...retries.map((i) => `  ${name(i)}:\n    attempts: ${m.retries.get(i)}`));
  const withCallers = [...callers.keys()].sort((a, b) => a - b);
  if (withCallers.length > 0) lines.push('access:', ...withCallers.map((i) => `  ${name(i)}:\n    allow: [${callers.get(i)!.map(name).join(', ')}]`));
  fs.writeFileSync(path.join(dir, 'mesh_policies.yml'), lines.join('\n') + '\n');
  fs.mkdirSync(templates, { recursive: true });
  const envoy = fs.readFileSync(path.join(TEMPLATES_DIR, 'envoy-bootstrap.yaml.hbs'), 'utf8');
  fs.writeFileSync(path.join(templates, 'envoy-bootstrap.yaml.hbs'), m.templateNote > 0 ? `# note ${m.templateNote}\n${envoy}` : envoy);
}

type Edit =
  | { kind: 'port'; i: number; port: number }
  | { kind: 'call'; i: number; j: number }
  | { kind: 'remove'; i: number }
  | { kind: 'add'; i: number }
  | { kind: 'defaults' }
  | { kind: 'retries'; i: number; attempts: number }
  | { kind: 'pad'; lines: number }
  | { kind: 'meshName' }
  | { kind: 'pkiDir' }
  | { kind: 'template' }
  | { kind: 'corrupt'; nth: number; how: 'flip' | 'truncate' | 'swap' }
  | { kind: 'wipe' };

const idx = fc.nat(N - 1);
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('port' as const), i: idx, port: fc.integer({ min: 11_000, max: 11_020 }) }),
  fc.record({ kind: fc.constant('call' as const), i: idx, j: idx }),
  fc.record({ kind: fc.constant('remove' as const), i: idx }),
  fc.record({ kind: fc.constant('add' as const), i: idx }),
  fc.record({ kind: fc.constant('defaults' as const) }),
  fc.record({ kind: fc.constant('retries' as const), i: idx, attempts: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('pad' as const), lines: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant('meshName' as const) }),
  fc.record({ kind: fc.constant('pkiDir' as const) }),
  fc.record({ kind: fc.constant('template' as const) }),
  fc.record({ kind: fc.constant('corrupt' as const), nth: fc.nat(50), how: fc.constantFrom('flip' as const, 'truncate' as const, 'swap' as const) }),
  fc.record({ kind: fc.constant('wipe' as const) }),
);

function edited(m: MeshState, e: Edit): MeshState {
  const services = new Map([...m.services].map(([i, s]) => [i, { ...s, calls: new Set(s.calls) }]));
  const next: MeshState = { ...m, services, retries: new Map(m.retries) };
  switch (e.kind) {
    case 'port':
      if (services.has(e.i)) services.get(e.i)!.port = e.port;
      break;
    case 'call': {
      const calls = services.get(e.i)?.calls;
      if (calls && e.i !== e.j) void (calls.has(e.j) ? calls.delete(e.j) : calls.add(e.j));
      break;
    }
    case 'remove':
      if (services.size > 2) services.delete(e.i);
      break;
    case 'add':
      if (!services.has(e.i)) services.set(e.i, { port: 10_000 + e.i, calls: new Set([(e.i + 1) % N]) });
      break;
    case 'defaults':
      next.defaultsTimeout = m.defaultsTimeout ? undefined : '3s';
      break;
    case 'retries':
      next.retries.set(e.i, e.attempts);
      break;
    case 'pad':
      next.pad = e.lines;
      break;
    case 'meshName':
      next.meshName = m.meshName === 'cache' ? 'cache-two' : 'cache';
      break;
    case 'pkiDir':
      next.pkiDir = m.pkiDir === 'pki' ? 'pki-two' : 'pki';
      break;
    case 'template':
      next.templateNote = (m.templateNote + 1) % 3;
      break;
    default:
      break; // corrupt and wipe touch the cache, not the mesh
  }
  return next;
}

function entryFiles(cacheDir: string): string[] {
  const nodes = path.join(cacheDir, 'nodes');
  if (!fs.existsSync(nodes)) return [];
  return fs
    .readdirSync(nodes)
    .sort()
    .flatMap((sub) => fs.readdirSync(path.join(nodes, sub)).sort().map((f) => path.join(nodes, sub, f)))
    .filter((f) => f.endsWith('.node'));
}

/** Damages one entry; returns whether there was one to damage. */
function damage(cacheDir: string, nth: number, how: 'flip' | 'truncate' | 'swap'): boolean {
  const files = entryFiles(cacheDir);
  if (files.length < 2) return false;
  const file = files[nth % files.length]!;
  const bytes = fs.readFileSync(file);
  if (how === 'flip') {
    const at = 30 + (nth * 7919) % (bytes.length - 30);
    bytes[at] = bytes[at]! ^ 0x20;
    fs.writeFileSync(file, bytes);
  } else if (how === 'truncate') fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
  else fs.copyFileSync(files[(nth + 1) % files.length]!, file); // a sound entry, filed under another key
  return true;
}

function asBuffers(tree: ReadonlyMap<string, string | Uint8Array>): Map<string, string> {
  return new Map([...tree].map(([p, v]) => [p, Buffer.from(v).toString('base64')]));
}

test('a cached build makes the out/ tree of a cold build, byte for byte, after random edit sequences', () => {
  const tmp = tempDir('hms-cache-prop-');
  // One cache for every run and step: an entry filed under a key that misses an input would be found.
  const cacheDir = path.join(tmp.dir, 'cache');
  let steps = 0;
  let partial = 0;
  let corrupted = 0;
  try {
    fc.assert(
      fc.property(fc.nat(20), fc.array(edit, { minLength: 1, maxLength: 6 }), (seed, edits) => {
        const dir = path.join(tmp.dir, 'mesh');
        const templates = path.join(tmp.dir, 'templates');
        let state = initial(seed);
        for (const e of [undefined, ...edits]) {
          let damaged = false;
          if (e?.kind === 'wipe') fs.rmSync(cacheDir, { recursive: true, force: true });
          else if (e?.kind === 'corrupt') damaged = damage(cacheDir, e.nth, e.how);
          else if (e) state = edited(state, e);
          write(dir, templates, state);
          const loaded = lintMesh(dir);
          assert.ok(loaded.model, `the generated mesh lints: ${loaded.diagnostics.map((d) => d.message).join('; ')}`);
          const opts = { templatesDir: templates, validate: true };
          const cold = emitTree(loaded.model, opts);
          const cache = openBuildCache(loaded.model, cacheDir, opts);
          const warm = emitTree(loaded.model, { ...opts, cache: cache.emit });
          const notes = closeBuildCache(cache);
          steps++;
          if (warm.fromCache > 0 && warm.fromCache < warm.nodes) partial++;
          assert.deepEqual(asBuffers(warm.tree), asBuffers(cold.tree), `out/ after ${JSON.stringify(edits)}`);
          assert.deepEqual(warm.diagnostics, cold.diagnostics);
          if (damaged && cache.store.stats.corrupt > 0) {
            corrupted++;
            assert.ok(notes.some((d) => d.code === 'MESH255'), 'a failed entry is reported');
          }
        }
      }),
      { numRuns: 25, seed: 2004 },
    );
  } finally {
    tmp.cleanup();
  }
  // The property is only worth something if the cache was used, partly, and damage was met.
  assert.ok(partial >= steps / 10, `only ${partial} of ${steps} builds took some nodes from the cache and made others`);
  assert.ok(corrupted > 0, 'no damaged entry was ever detected');
});

test('a damaged entry is detected, removed and rebuilt; the next build takes every node from the cache', () => {
  const tmp = tempDir('hms-cache-damage-');
  try {
    const dir = path.join(tmp.dir, 'mesh');
    const cacheDir = path.join(tmp.dir, 'cache');
    write(dir, path.join(tmp.dir, 't'), initial(3));
    const model = lintMesh(dir).model!;
    const build = (): { tree: Map<string, string>; cache: ReturnType<typeof openBuildCache>; fromCache: number } => {
      const cache = openBuildCache(model, cacheDir, { validate: true });
      const r = emitTree(model, { validate: true, cache: cache.emit });
      closeBuildCache(cache);
      return { tree: asBuffers(r.tree), cache, fromCache: r.fromCache };
    };
    const cold = build();
    assert.equal(cold.fromCache, 0);
    assert.equal(entryFiles(cacheDir).length, N);
    assert.equal(damage(cacheDir, 0, 'flip'), true);
    assert.equal(damage(cacheDir, 1, 'truncate'), true);
    assert.equal(damage(cacheDir, 4, 'swap'), true);
    fs.writeFileSync(entryFiles(cacheDir)[6]!, 'not an entry');
    const again = build();
    assert.equal(again.cache.store.stats.corrupt, 4);
    assert.equal(again.fromCache, N - 4);
    assert.deepEqual(again.tree, cold.tree);
    const third = build();
    assert.equal(third.fromCache, N, 'the rebuilt entries are sound');
    assert.deepEqual(third.tree, cold.tree);
    fs.rmSync(cacheDir, { recursive: true });
    const afterDelete = build();
    assert.equal(afterDelete.fromCache, 0);
    assert.deepEqual(afterDelete.tree, cold.tree);
  } finally {
    tmp.cleanup();
  }
});

test('pruning removes least recently used entries down to the bound, never one in use, never a file it did not write', () => {
  const tmp = tempDir('hms-cache-prune-');
  try {
    const dir = path.join(tmp.dir, 'c');
    const node = (i: number) => ({ id: `n${i}`, entryText: '{}', paths: [`n${i}/a.json`], offsets: [0, 1000], bytes: new Uint8Array(1000).fill(65 + i) });
    const key = (i: number): string => String(i).padStart(64, '0');
    const first = new NodeCache(dir, { maxBytes: 1_000_000 });
    for (let i = 0; i < 6; i++) first.put(key(i), node(i));
    // Ages: entry i was last used i hours ago.
    for (let i = 0; i < 6; i++) {
      const t = new Date(Date.now() - i * 3_600_000 - 60_000);
      fs.utimesSync(path.join(dir, 'nodes', '00', `${key(i)}.node`), t, t);
    }
    const foreign = [path.join(dir, 'nodes', '00', 'notes.txt'), path.join(dir, 'keep.txt')];
    for (const f of foreign) fs.writeFileSync(f, 'someone else’s');
    const size = fs.statSync(path.join(dir, 'nodes', '00', `${key(0)}.node`)).size;
    // Room for three entries: the build uses entry 5 (the oldest) and stores entry 6.
    const second = new NodeCache(dir, { maxBytes: size * 3 });
    assert.ok(second.get(key(5)));
    second.put(key(6), node(6));
    second.prune();
    const left = fs.readdirSync(path.join(dir, 'nodes', '00')).filter((f) => f.endsWith('.node')).sort();
    assert.deepEqual(left, [key(0), key(5), key(6)].map((k) => `${k}.node`).sort());
    assert.equal(second.stats.pruned, 4);
    for (const f of foreign) assert.equal(fs.readFileSync(f, 'utf8'), 'someone else’s');
  } finally {
    tmp.cleanup();
  }
});

test('pruning trusts the size ledger while it stays under the bound, and walks the folder once it does not', () => {
  const tmp = tempDir('hms-cache-ledger-');
  try {
    const dir = path.join(tmp.dir, 'c');
    const node = (i: number) => ({ id: `n${i}`, entryText: '{}', paths: [`n${i}/a.json`], offsets: [0, 1000], bytes: new Uint8Array(1000).fill(65 + i) });
    const key = (i: number): string => String(i).padStart(64, '0');
    const ledger = (): { bytes: number; builds: number } => JSON.parse(fs.readFileSync(path.join(dir, 'nodes.size'), 'utf8')) as { bytes: number; builds: number };
    const first = new NodeCache(dir, { maxBytes: 1_000_000 });
    for (let i = 0; i < 4; i++) first.put(key(i), node(i));
    first.prune();
    const size = fs.statSync(path.join(dir, 'nodes', '00', `${key(0)}.node`)).size;
    assert.deepEqual(ledger(), { bytes: 4 * size, builds: 0 }, 'a walk records the total');
    // Under the bound by the ledger: not walked (an entry put there behind the ledger's back is not counted).
    fs.copyFileSync(path.join(dir, 'nodes', '00', `${key(0)}.node`), path.join(dir, 'nodes', '00', `${key(9)}.node`));
    const second = new NodeCache(dir, { maxBytes: 6 * size });
    second.put(key(4), node(4));
    second.prune();
    assert.deepEqual(ledger(), { bytes: 5 * size, builds: 1 });
    assert.equal(second.stats.pruned, 0);
    // Over the bound by the ledger: walked, the least recently used removed, the total recorded.
    for (let i = 0; i < 6; i++) {
      const t = new Date(Date.now() - (10 - i) * 3_600_000);
      for (const k of [key(i), key(9)]) if (fs.existsSync(path.join(dir, 'nodes', '00', `${k}.node`))) fs.utimesSync(path.join(dir, 'nodes', '00', `${k}.node`), t, t);
    }
    const third = new NodeCache(dir, { maxBytes: 5.5 * size });
    third.put(key(5), node(5));
    third.prune();
    assert.equal(third.stats.pruned, 2, 'seven entries on disk (one the ledger did not know), room for five');
    assert.deepEqual(ledger(), { bytes: 5 * size, builds: 0 });
    // A damaged ledger: walked.
    fs.writeFileSync(path.join(dir, 'nodes.size'), 'garbage');
    const fourth = new NodeCache(dir, { maxBytes: 5.5 * size });
    fourth.put(key(7), node(7));
    fourth.prune();
    assert.equal(fourth.stats.pruned, 1);
    assert.deepEqual(ledger(), { bytes: 5 * size, builds: 0 });
  } finally {
    tmp.cleanup();
  }
});

function mesh(args: string[], env: NodeJS.ProcessEnv = {}): { code: number; out: string } {
  const r = spawnSync(process.execPath, [MESH, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

test('mesh build: cached, cold and --no-cache builds write the same out/; the cache is its own ignored folder', () => {
  const tmp = tempDir('hms-cache-cli-');
  try {
    const dir = path.join(tmp.dir, 'mesh');
    write(dir, path.join(tmp.dir, 't'), initial(5));
    const cacheDir = path.join(dir, '.mesh-cache');
    const noCache = mesh(['build', dir, '--out', path.join(tmp.dir, 'plain'), '--no-cache']);
    assert.equal(noCache.code, 0, noCache.out);
    assert.equal(fs.existsSync(cacheDir), false, '--no-cache writes no cache');
    const cold = mesh(['build', dir, '--out', path.join(tmp.dir, 'out')]);
    assert.equal(cold.code, 0, cold.out);
    assert.doesNotMatch(cold.out, /from the build cache/);
    assert.match(fs.readFileSync(path.join(cacheDir, '.gitignore'), 'utf8'), /^\*$/m);
    assert.match(fs.readFileSync(path.join(cacheDir, 'CACHEDIR.TAG'), 'utf8'), /^Signature: 8a477f597d28d172789f06886806bc55/);
    // A one-line change: the node and those reading it are rendered, the rest come from the cache.
    const file = path.join(dir, 'services', `${name(2)}.yml`);
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('port: 10002', 'port: 10902'));
    const check = mesh(['build', dir, '--out', path.join(tmp.dir, 'out'), '--check']);
    assert.equal(check.code, 1, check.out);
    assert.match(check.out, /changed: svc-02\/clusters\.json/);
    const warm = mesh(['build', dir, '--out', path.join(tmp.dir, 'out')]);
    assert.equal(warm.code, 0, warm.out);
    assert.match(warm.out, /; \d+ from the build cache/);
    const fresh = mesh(['build', dir, '--out', path.join(tmp.dir, 'fresh'), '--no-cache']);
    assert.equal(fresh.code, 0, fresh.out);
    assert.deepEqual(readTree(path.join(tmp.dir, 'out')), readTree(path.join(tmp.dir, 'fresh')));
    assert.equal(mesh(['build', dir, '--out', path.join(tmp.dir, 'out'), '--check']).code, 0);
    // A deleted cache folder is a cold build.
    fs.rmSync(cacheDir, { recursive: true });
    const afterDelete = mesh(['build', dir, '--out', path.join(tmp.dir, 'out')]);
    assert.equal(afterDelete.code, 0, afterDelete.out);
    assert.deepEqual(readTree(path.join(tmp.dir, 'out')), readTree(path.join(tmp.dir, 'fresh')));
  } finally {
    tmp.cleanup();
  }
});

test('mesh build: --out may not overlap the cache (MESH253); an unwritable cache is a warning (MESH254)', () => {
  const tmp = tempDir('hms-cache-cli2-');
  try {
    const dir = path.join(tmp.dir, 'mesh');
    write(dir, path.join(tmp.dir, 't'), initial(1));
    const inside = mesh(['build', dir, '--out', path.join(dir, '.mesh-cache', 'out')]);
    assert.equal(inside.code, 2, inside.out);
    assert.match(inside.out, /MESH253/);
    const around = mesh(['build', dir, '--out', path.join(tmp.dir, 'out')], { MESH_CACHE_DIR: path.join(tmp.dir, 'out', 'cache') });
    assert.equal(around.code, 2, around.out);
    assert.match(around.out, /MESH253/);
    // A regular file where the cache folder would go: nothing can be stored; the build still completes.
    fs.writeFileSync(path.join(tmp.dir, 'blocker'), 'a file');
    const blocked = mesh(['build', dir, '--out', path.join(tmp.dir, 'out')], { MESH_CACHE_DIR: path.join(tmp.dir, 'blocker', 'cache') });
    assert.equal(blocked.code, 0, blocked.out);
    assert.match(blocked.out, /warning MESH254/);
    assert.equal(fs.readFileSync(path.join(tmp.dir, 'blocker'), 'utf8'), 'a file');
  } finally {
    tmp.cleanup();
  }
});
