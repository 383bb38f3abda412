/**
 * The persisted lint cache (src/cache/lint-cache.ts, issue 20 item 4): a lint
 * that takes files from the cache gives the same diagnostics (positions
 * included) and the same model as a lint without it, on the examples and
 * after random edits; a damaged or foreign cache file is ignored and
 * rewritten; `mesh build` keeps it in the build cache folder, `--no-cache`
 * leaves it alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { lintMesh } from '../../src/lint';
import { closeLintCache, openLintCache } from '../../src/cache/build-cache';
import { decodeValue, encodeValue, LintCache } from '../../src/cache/lint-cache';
import type { LoadResult } from '../../src/config/load';
import type { Diagnostic } from '../../src/diag/diagnostic';
import { PACKAGE_ROOT } from '../../src/paths';
import { copyExample } from '../helpers/mesh-dir';

const MESH = path.join(PACKAGE_ROOT, 'bin', 'mesh.js');

/** A lint through the cache in `cacheDir`, opened from disk and saved after, as `mesh build` does. */
function cachedLint(dir: string, cacheDir: string): { result: LoadResult; cache: LintCache; notes: Diagnostic[] } {
  const cache = openLintCache(cacheDir);
  const result = lintMesh(dir, { lintCache: cache });
  const notes = closeLintCache(cache, cacheDir);
  return { result, cache, notes };
}

/** Both the value and its JSON: deepStrictEqual ignores key order, and later stages hash JSON. */
function assertSameLint(actual: LoadResult, expected: LoadResult, what: string): void {
  assert.deepStrictEqual(actual, expected, what);
  assert.equal(JSON.stringify(actual), JSON.stringify(expected), `${what} (as JSON, key order included)`);
}

function sourceCount(dir: string): number {
  const top = ['mesh.yml', 'mesh_policies.yml'].filter((f) => fs.existsSync(path.join(dir, f))).length;
  return top + fs.readdirSync(path.join(dir, 'services')).filter((f) => /\.ya?ml$/.test(f)).length;
}

for (const example of ['ceq', 'ceq-grpc', 'agency']) {
  test(`lint cache: ${example}: a cold and a warm cache lint exactly as without one`, () => {
    const { dir, cleanup } = copyExample(example);
    try {
      const cacheDir = path.join(dir, '.mesh-cache');
      const plain = lintMesh(dir);
      assert.ok(plain.model, `${example} lints`);
      const cold = cachedLint(dir, cacheDir);
      assert.equal(cold.cache.stats.hits, 0);
      assertSameLint(cold.result, plain, 'cold');
      const warm = cachedLint(dir, cacheDir);
      assert.equal(warm.cache.stats.misses, 0, 'every file from the cache');
      assert.equal(warm.cache.stats.hits, sourceCount(dir));
      assert.deepEqual(warm.notes, []);
      assertSameLint(warm.result, plain, 'warm');
      // The folder gets the build cache's marker files even when only the lint cache wrote to it.
      assert.ok(fs.existsSync(path.join(cacheDir, '.gitignore')) && fs.existsSync(path.join(cacheDir, 'CACHEDIR.TAG')));
    } finally {
      cleanup();
    }
  });
}

test('lint cache: a cross-service diagnostic about a cached file points where a fresh parse points', () => {
  const { dir, cleanup } = copyExample('ceq');
  try {
    const cacheDir = path.join(dir, '.mesh-cache');
    const file = path.join(dir, 'services', 'impact-calc.yml');
    // Line 9, column 5: a call to a service that does not exist (a cross-service check, never cached).
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('  - public-docs\n', '  - public-docs\n  - no-such-svc\n'));
    const plain = lintMesh(dir);
    const want = plain.diagnostics.find((d) => d.file.endsWith('impact-calc.yml') && d.severity === 'error');
    assert.ok(want, `the unknown call is reported: ${JSON.stringify(plain.diagnostics)}`);
    assert.deepEqual([want.line, want.col], [10, 5]);
    cachedLint(dir, cacheDir);
    const warm = cachedLint(dir, cacheDir);
    assert.equal(warm.cache.stats.misses, 0, 'the manifest came from the cache');
    assertSameLint(warm.result, plain, 'warm');
    // A schema error is cached with its position too.
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('port: 8081', 'port: 8081\nnot_a_key: 1'));
    const plain2 = lintMesh(dir);
    assert.ok(plain2.diagnostics.some((d) => d.code === 'MESH020' && d.line === 6 && d.col === 1), JSON.stringify(plain2.diagnostics));
    cachedLint(dir, cacheDir);
    const warm2 = cachedLint(dir, cacheDir);
    assert.equal(warm2.cache.stats.misses, 0);
    assertSameLint(warm2.result, plain2, 'warm, with a schema error');
  } finally {
    cleanup();
  }
});

/** Edits of the ceq example: each keeps or breaks the lint, moves positions, or changes what a manifest's model depends on. */
const EDITS: ReadonlyArray<{ name: string; apply: (dir: string, n: number) => void }> = [
  { name: 'port', apply: (d, n) => replaceIn(d, 'services/impact-calc.yml', /port: \d+ /, `port: ${8000 + n} `) },
  { name: 'comment atop a manifest (every position moves)', apply: (d) => prepend(d, 'services/grant-pay.yml', '# moved\n') },
  { name: 'comment atop the policy file', apply: (d) => prepend(d, 'mesh_policies.yml', '# moved\n') },
  { name: 'policy value', apply: (d, n) => replaceIn(d, 'mesh_policies.yml', /max_failures: \d+/, `max_failures: ${1 + (n % 9)}`) },
  { name: 'mesh.yml outbound port (every manifest model changes)', apply: (d, n) => replaceIn(d, 'mesh.yml', /outbound: \d+/, `outbound: ${15001 + (n % 50)}`) },
  { name: 'unknown key (schema error)', apply: (d) => replaceIn(d, 'services/public-docs.yml', /^name: /m, 'bogus: 1\nname: ') },
  { name: 'YAML syntax error', apply: (d) => fs.appendFileSync(path.join(d, 'services', 'grant-pay.yml'), 'calls: [\n') },
  { name: 'unknown call (semantic error)', apply: (d) => replaceIn(d, 'services/impact-calc.yml', /calls:\n/, 'calls:\n  - ghost\n') },
  { name: 'new service', apply: (d, n) => fs.writeFileSync(path.join(d, 'services', `extra-${n % 3}.yml`), 'name: extra\nversion: v1\nprotocol: http\nport: 9100\nmesh_port: 15100\ncalls: []\n') },
  { name: 'service removed', apply: (d) => fs.rmSync(path.join(d, 'services', 'extra-0.yml'), { force: true }) },
];

function replaceIn(dir: string, rel: string, re: RegExp, by: string): void {
  const file = path.join(dir, rel);
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(re, by));
}

function prepend(dir: string, rel: string, text: string): void {
  const file = path.join(dir, rel);
  fs.writeFileSync(file, text + fs.readFileSync(file, 'utf8'));
}

test('lint cache: after random edits, a lint through the cache is the lint without it', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: EDITS.length - 1 }), fc.integer({ min: 0, max: 899 })), { minLength: 1, maxLength: 6 }), (edits) => {
      const { dir, cleanup } = copyExample('ceq');
      try {
        const cacheDir = path.join(dir, '.mesh-cache');
        cachedLint(dir, cacheDir);
        for (const [e, n] of edits) {
          EDITS[e]!.apply(dir, n);
          const plain = lintMesh(dir);
          const cached = cachedLint(dir, cacheDir);
          assertSameLint(cached.result, plain, `after ${edits.map(([i, n]) => `${EDITS[i]!.name} (${n})`).join(', ')}`);
          // And once more, now that the edit's results are cached too.
          assertSameLint(cachedLint(dir, cacheDir).result, plain, 'warm');
        }
      } finally {
        cleanup();
      }
    }),
    { numRuns: 25, seed: 20 },
  );
});

test('lint cache: a damaged or foreign file is ignored (MESH256 for damage) and rewritten', () => {
  const { dir, cleanup } = copyExample('ceq');
  try {
    const cacheDir = path.join(dir, '.mesh-cache');
    const plain = lintMesh(dir);
    const first = cachedLint(dir, cacheDir);
    const file = first.cache.file;
    const good = fs.readFileSync(file);
    // Bit flip in the middle of the (only) record, then a torn record, then no magic.
    const flipped = Buffer.from(good);
    flipped[Math.floor(good.length / 2)] ^= 0x20;
    for (const [what, bytes] of [
      ['flipped', flipped],
      ['truncated', good.subarray(0, good.length - 7)],
      ['not a cache file', Buffer.from('hello\n')],
    ] as const) {
      fs.writeFileSync(file, bytes);
      const damaged = cachedLint(dir, cacheDir);
      assert.equal(damaged.cache.stats.hits, 0, `${what}: nothing trusted`);
      assert.deepEqual(damaged.notes.map((d) => d.code), ['MESH256'], what);
      assertSameLint(damaged.result, plain, what);
      const after = cachedLint(dir, cacheDir);
      assert.deepEqual(after.notes, [], `${what}: rewritten whole`);
      assert.equal(after.cache.stats.misses, 0, `${what}: every file from the rewritten cache`);
    }
    // Another compiler's cache (any code or schema change): every entry a miss, no warning, and the
    // file rewritten with this compiler's entries only (not one more record beside the dead one).
    const sizeBefore = fs.statSync(file).size;
    const foreign = LintCache.open(cacheDir, 'another-compiler');
    assertSameLint(lintMesh(dir, { lintCache: foreign }), plain, 'foreign');
    assert.equal(foreign.stats.hits, 0);
    assert.deepEqual(foreign.warnings(), []);
    foreign.save();
    assert.ok(Math.abs(fs.statSync(file).size - sizeBefore) < sizeBefore / 2, 'rewritten, not appended');
    assert.equal(LintCache.open(cacheDir).stats.hits, 0);
    const back = cachedLint(dir, cacheDir);
    assert.equal(back.cache.stats.hits, 0, "the other compiler's entries replaced ours");
    assert.ok(Math.abs(fs.statSync(file).size - sizeBefore) < sizeBefore / 2, 'rewritten again');
    // Deleting the folder is a cold lint.
    fs.rmSync(cacheDir, { recursive: true });
    assertSameLint(cachedLint(dir, cacheDir).result, plain, 'deleted');
  } finally {
    cleanup();
  }
});

test('lint cache: appended records, then a rewrite once the file holds mostly stale entries', () => {
  const { dir, cleanup } = copyExample('ceq');
  try {
    const cacheDir = path.join(dir, '.mesh-cache');
    const file = cachedLint(dir, cacheDir).cache.file;
    const sizes = [fs.statSync(file).size];
    // The ceq example has 5 source files: the 6th stale entry makes the file hold more than twice the live ones.
    for (let i = 0; i < 8; i++) {
      replaceIn(dir, 'services/impact-calc.yml', /port: \d+ /, `port: ${8100 + i} `);
      cachedLint(dir, cacheDir);
      sizes.push(fs.statSync(file).size);
    }
    // One file changed per lint: a small record appended each time, until the stale entries outnumber the live ones.
    assert.ok(sizes[1]! > sizes[0]! && sizes[1]! - sizes[0]! < sizes[0]!, `appended: ${sizes.join(', ')}`);
    assert.ok(sizes.some((s, i) => i > 0 && s < sizes[i - 1]!), `rewritten at some point: ${sizes.join(', ')}`);
    assertSameLint(cachedLint(dir, cacheDir).result, lintMesh(dir), 'after the rewrites');
  } finally {
    cleanup();
  }
});

test('lint cache: nothing is saved when an entry would hold key material', () => {
  const { dir, cleanup } = copyExample('ceq');
  try {
    const cacheDir = path.join(dir, '.mesh-cache');
    const file = cachedLint(dir, cacheDir).cache.file;
    const before = fs.readFileSync(file);
    // Diagnostics quote no secret (src/diag/excerpt.ts) and no model field takes free text: defence in depth.
    const cache = LintCache.open(cacheDir);
    const key = { severity: 'error', code: 'MESH024', message: 'x -----BEGIN PRIVATE KEY----- y', file: 'a.yml', line: 1, col: 1 } as const;
    cache.set('k', { diagnostics: [key], valid: false });
    cache.save();
    assert.equal(cache.stats.stored, 0);
    assert.deepEqual(fs.readFileSync(file), before, 'the file is as it was');
  } finally {
    cleanup();
  }
});

test('lint cache codec: positions, undefined, escapes; what JSON would change is refused', () => {
  const files: string[] = [];
  const index = new Map<string, number>();
  const value = {
    pos: { file: 'a.yml', line: 3, col: 5, endLine: 3, endCol: 9 },
    short: { file: 'b.yml', line: 1, col: 1 },
    notPos: { line: 1, file: 'a.yml', col: 1 },
    extra: { file: 'a.yml', line: 1, col: 1, hint: 'x' },
    gone: undefined,
    list: ['\u0001', '\u0002x', '\u0003', '', 'plain', undefined, [1, 2]],
  };
  const round = decodeValue(JSON.parse(JSON.stringify(encodeValue(value, files, index))), files);
  assert.deepStrictEqual(round, value);
  assert.equal(JSON.stringify(round), JSON.stringify(value));
  assert.deepEqual(files, ['a.yml', 'b.yml']);
  const refused: Array<[string, unknown]> = [
    ['a Map', new Map()],
    ['NaN', Number.NaN],
    ['-0', -0],
    ['Infinity', Infinity],
    ['a null-prototype object', Object.create(null)],
    ['a __proto__ key', JSON.parse('{"__proto__": 1}')],
  ];
  for (const [what, bad] of refused) assert.throws(() => encodeValue({ v: bad }, [], new Map()), what);
});

test('lint cache: mesh build keeps it in the build cache folder; --no-cache neither reads nor writes it', () => {
  const { dir, cleanup } = copyExample('ceq');
  try {
    const out = path.join(dir, 'out');
    const cacheFile = path.join(dir, '.mesh-cache', 'lint', 'lint.cache');
    const build = (...args: string[]): void => {
      const r = spawnSync(process.execPath, [MESH, 'build', dir, '--out', out, ...args], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout + r.stderr);
    };
    build('--no-cache');
    assert.ok(!fs.existsSync(cacheFile), '--no-cache wrote no lint cache');
    build();
    assert.ok(fs.statSync(cacheFile).size > 0);
    // A damaged cache: the build warns MESH256 and is the same build.
    fs.writeFileSync(cacheFile, 'HMS-LINT-CACHE 1\ngarbage');
    const r = spawnSync(process.execPath, [MESH, 'build', dir, '--out', out, '--check'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /MESH256/);
    // A mesh folder that does not exist: MESH001, and no folder created for a cache of nothing.
    const missing = path.join(dir, 'no-such-mesh');
    const gone = spawnSync(process.execPath, [MESH, 'build', missing, '--out', out], { encoding: 'utf8' });
    assert.equal(gone.status, 1);
    assert.match(gone.stdout, /MESH001/);
    assert.equal(fs.existsSync(missing), false);
  } finally {
    cleanup();
  }
});
