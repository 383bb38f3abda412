/**
 * The fast YAML reader (src/config/fast-yaml.ts) must give exactly what the
 * yaml package gives (value, position tree, line starts) whenever it gives
 * anything, and give up on everything outside its subset. Diagnostics point
 * at these positions, so "nearly the same" would show as wrong columns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { fastParse } from '../../src/config/fast-yaml';
import { parseYamlText } from '../../src/config/source-file';
import { generateMesh } from '../../bench/gen-mesh';
import { tempDir } from '../helpers/mesh-dir';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** Fast and full agree on `text`; returns whether the fast path took it. */
function agrees(text: string, where: string): boolean {
  const fast = fastParse(text);
  if (fast === undefined) return false;
  const full = parseYamlText(text, 'f.yml', { fast: false });
  assert.deepEqual(full.diagnostics, [], `${where}: the fast path took a file the full parser rejects`);
  assert.deepStrictEqual(fast.value, full.value, `${where}: value`);
  assert.deepStrictEqual(fast.pos, full.pos, `${where}: positions`);
  assert.deepStrictEqual(fast.lineStarts, full.lineStarts, `${where}: line starts`);
  return true;
}

function yamlFiles(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yamlFiles(p, out);
    else if (/\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out;
}

test('fast YAML: agrees with the yaml package on every example and corpus file it takes', () => {
  const files = [...yamlFiles(path.join(ROOT, 'examples')), ...yamlFiles(path.join(ROOT, 'test'))];
  let taken = 0;
  for (const f of files) if (agrees(fs.readFileSync(f, 'utf8'), path.relative(ROOT, f))) taken++;
  // The chapter's example (comments at column 0 included) must take the fast path, or it proves little.
  for (const f of yamlFiles(path.join(ROOT, 'examples', 'ceq'))) assert.ok(fastParse(fs.readFileSync(f, 'utf8')), `${f} should take the fast path`);
  assert.ok(taken > files.length / 2, `only ${taken} of ${files.length} files took the fast path`);
});

test('fast YAML: takes and agrees on every file of a generated mesh', () => {
  const { dir, cleanup } = tempDir('hms-fast-yaml-');
  try {
    generateMesh(dir, 120);
    const files = yamlFiles(dir);
    for (const f of files) assert.ok(agrees(fs.readFileSync(f, 'utf8'), f), `${f} should take the fast path`);
  } finally {
    cleanup();
  }
});

test('fast YAML: plain scalars resolve as the core schema resolves them', () => {
  const scalars = ['0x1F', '0o17', '0o8', '1e3', '-1E-3', '.5', '3.', '.inf', '-.Inf', '+.INF', '.nan', '.NaN', '~', 'null', 'Null', 'NULL', 'nULL', 'true', 'True', 'TRUE', 'tRUE', 'false', 'yes', 'no', 'on', '007', '+5', '-0', '1_000', '12:30', '2026-11-27', 'v1', 'n', 't', 'f', '-x', '500ms', '5xx', 'a#b', 'x y', 'a:b', 'http://h:80/p?q=1&r=*', '9007199254740993', '1e400'];
  for (const s of scalars) {
    assert.ok(agrees(`k: ${s}\n- x\n`.replace('- x\n', `l:\n- ${s}\n`), s), `${s} should take the fast path`);
    // In a flow sequence `:` gives up (`[a:b]` is a mapping in YAML 1.2); the rest is taken.
    assert.equal(agrees(`l: [${s}, ${s}]\n`, s), !s.includes(':'), `[${s}]`);
  }
});

test('fast YAML: every scalar of up to three indicator-ish characters, in eight positions, agrees or gives up', () => {
  // Found this way: `[-]` is not a plain scalar in a flow sequence (the reader took it once).
  // 27,930 tokens x 8 positions; only what the fast path takes is parsed twice (about 3 s).
  const alphabet = ['-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`', ' ', '.', '~', 'a', '1', '+', '\\', '/', 'e', 'n', 'x'];
  const tokens = [...alphabet];
  for (const a of alphabet) for (const b of alphabet) tokens.push(a + b);
  for (const a of alphabet) for (const b of alphabet) for (const c of alphabet) tokens.push(a + b + c);
  const positions = [
    (t: string) => `k: ${t}\n`,
    (t: string) => `- ${t}\n`,
    (t: string) => `k: [${t}]\n`,
    (t: string) => `k: [x, ${t}]\n`,
    (t: string) => `${t}: v\n`,
    (t: string) => `k:\n  - ${t}\n`,
    (t: string) => `k: x${t}\n`,
    (t: string) => `k: [x${t}]\n`,
  ];
  let taken = 0;
  for (const t of tokens) for (const at of positions) if (agrees(at(t), JSON.stringify(at(t)))) taken++;
  assert.ok(taken > 50_000, `only ${taken} cases took the fast path`);
});

test('fast YAML: gives up outside its subset, and the full parser still reports', () => {
  const outside: Array<[string, string]> = [
    ['anchor and alias', 'a: &x 1\nb: *x\n'],
    ['tag', 'a: !!str 1\n'],
    ['tab', 'a:\n\tb: 1\n'],
    ['CRLF', 'a: 1\r\nb: 2\r\n'],
    ['BOM', '\uFEFFa: 1\n'],
    ['non-ASCII', 'a: é\n'],
    ['multi-line plain scalar', 'a: one\n  two\n'],
    ['empty value', 'a:\nb: 1\n'],
    ['empty value at the end', 'a: 1\nb:\n'],
    ['duplicate key', 'a: 1\na: 2\n'],
    ['indented comment line', 'a:\n  # c\n  b: 1\n'],
    ['block scalar', 'a: |\n  x\n'],
    ['flow mapping', 'a: {b: 1}\n'],
    ['multi-line flow sequence', 'a: [1,\n  2]\n'],
    ['explicit key', '? a\n: 1\n'],
    ['document marker', '---\na: 1\n'],
    ['directive', '%YAML 1.2\n---\na: 1\n'],
    ['root scalar', 'hello\n'],
    ['non-string key', '1: a\n'],
    ['escape in double quotes', 'a: "x\\ty"\n'],
    ['nested mapping on one line', 'a: b: c\n'],
    ['trailing comma', 'a: [1, 2,]\n'],
    ['sequence among keys', 'a: 1\n- b\n'],
    ['__proto__ key', '__proto__: 1\n'],
  ];
  for (const [what, text] of outside) assert.equal(fastParse(text), undefined, what);
  // Through parseYamlText, such files still get the full parser's diagnostics.
  const dup = parseYamlText('a: 1\na: 2\n', 'd.yml');
  assert.deepEqual(dup.diagnostics.map((d) => [d.code, d.line, d.col]), [['MESH011', 2, 1]]);
  const tab = parseYamlText('a:\n\tb: 1\n', 't.yml');
  assert.equal(tab.diagnostics[0]?.code, 'MESH015');
});

test('fast YAML: nesting at and past the depth limit gives what the full parser gives', () => {
  for (let levels = 60; levels <= 67; levels++) {
    for (const leaf of ['b: 1', 'b: [1]', '- 1', '- k: v', 'b:\n' + ' '.repeat(levels) + '- [x]']) {
      let text = '';
      for (let i = 0; i < levels; i++) text += `${' '.repeat(i)}a${i}:\n`;
      text += `${' '.repeat(levels)}${leaf}\n`;
      const fast = parseYamlText(text, 'deep.yml');
      const full = parseYamlText(text, 'deep.yml', { fast: false });
      assert.deepStrictEqual(fast, full, `${levels} levels, leaf ${leaf}`);
    }
  }
});

// Random documents in the subset's shapes, written in its every style.
type Doc = { kind: 'map'; entries: Array<[string, Doc]> } | { kind: 'seq'; items: Doc[]; flow: boolean } | { kind: 'scalar'; text: string };

const keyArb = fc.constantFrom('a', 'name', 'svc-00001', 'max_failures', 'v1', 'x.y', 'k_2', 'ab-c', 'Z');
const scalarArb = fc.constantFrom('1', '-5', '0x10', 'true', 'Null', '~', '1.5e3', 'v2', 'grant-pay', '250ms', "'q'", "'it''s'", '"dq"', '""', 'a#b', 'http://h:80', '.inf', '007');
const docArb: fc.Arbitrary<Doc> = fc.letrec<{ doc: Doc }>((tie) => ({
  doc: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalarArb.map((text) => ({ kind: 'scalar' as const, text })),
    fc.uniqueArray(fc.tuple(keyArb, tie('doc')), { minLength: 1, maxLength: 4, selector: ([k]) => k }).map((entries) => ({ kind: 'map' as const, entries })),
    fc.record({ items: fc.array(tie('doc'), { minLength: 1, maxLength: 4 }), flow: fc.boolean() }).map(({ items, flow }) => ({ kind: 'seq' as const, items, flow })),
  ),
})).doc;

interface Style {
  readonly indent: number;
  readonly seqAtKeyIndent: boolean;
  readonly trailingComments: boolean;
  readonly blankLines: boolean;
  readonly columnZeroComments: boolean;
  readonly padding: boolean;
}

function isFlowable(d: Doc): boolean {
  return d.kind === 'scalar';
}

/** `doc` as block YAML lines, each with its indentation. */
function render(d: Doc, col: number, s: Style, rnd: () => number): string[] {
  const pad = (): string => (s.padding && rnd() < 0.3 ? '  ' : '');
  const tail = (): string => (s.trailingComments && rnd() < 0.3 ? ' # note' : '');
  const extra = (): string[] => [...(s.blankLines && rnd() < 0.2 ? [rnd() < 0.5 ? '' : '   '] : []), ...(s.columnZeroComments && rnd() < 0.2 ? ['# about'] : [])];
  const sp = ' '.repeat(col);
  if (d.kind === 'map') {
    const out: string[] = [];
    for (const [k, v] of d.entries) {
      out.push(...extra());
      if (v.kind === 'scalar') out.push(`${sp}${k}: ${v.text}${pad()}${tail()}`);
      else if (v.kind === 'seq' && v.flow && v.items.every(isFlowable)) out.push(`${sp}${k}: [${v.items.map((i) => (i as { text: string }).text).join(', ')}]${tail()}`);
      else {
        out.push(`${sp}${k}:`);
        const childCol = v.kind === 'seq' && s.seqAtKeyIndent ? col : col + s.indent;
        out.push(...render(v, childCol, s, rnd));
      }
    }
    return out;
  }
  if (d.kind === 'seq') {
    const out: string[] = [];
    for (const item of d.items) {
      out.push(...extra());
      if (item.kind === 'scalar') out.push(`${sp}- ${item.text}${tail()}`);
      else if (item.kind === 'map') {
        // `- key: value` with the rest of the mapping under the key.
        const lines = render(item, col + 2, s, rnd);
        const first = lines.findIndex((l) => l.trim() !== '' && !l.startsWith('#'));
        lines[first] = `${sp}- ${lines[first]!.slice(col + 2)}`;
        out.push(...lines);
      } else {
        out.push(`${sp}-`);
        out.push(...render(item, col + s.indent, s, rnd));
      }
    }
    return out;
  }
  return [`${sp}${d.text}`];
}

test('fast YAML: random documents in its subset are taken, and agree (1,500 documents)', () => {
  let taken = 0;
  let total = 0;
  fc.assert(
    fc.property(
      docArb.filter((d) => d.kind !== 'scalar'),
      fc.record({ indent: fc.constantFrom(1, 2, 4), seqAtKeyIndent: fc.boolean(), trailingComments: fc.boolean(), blankLines: fc.boolean(), columnZeroComments: fc.boolean(), padding: fc.boolean() }),
      fc.integer({ min: 1, max: 2 ** 30 }),
      fc.boolean(),
      (doc, style, seed, finalNewline) => {
        let state = seed;
        const rnd = (): number => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
        const text = render(doc, 0, style, rnd).join('\n') + (finalNewline ? '\n' : '');
        total++;
        if (agrees(text, JSON.stringify(text))) taken++;
      },
    ),
    { numRuns: 1500, seed: 20261127 },
  );
  // Every shape above is in the subset, except documents whose root is a one-item
  // sequence of a nested sequence, which yaml and the reader both allow but render() writes
  // with an empty `-` line; still, nearly all must be taken.
  assert.ok(taken > total * 0.9, `only ${taken} of ${total} generated documents took the fast path`);
});

const TOKENS = [' ', '  ', '\n', '\n\n', '\n  ', '#', ' # c', '\n# c\n', '\n  # c\n', ':', ': ', '-', '- ', '\n- ', '\n  - ', '[', ']', '[]', ', ', ',', '"', "'", "''", '{', '}', '&a ', '*a', '!', '|', '>', '?', '%', '@', '`', '\\', 'a: b', 'null', '~', '0x1', '1e3', '.5', 'é', '\t', '\r'];

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(4000), text: fc.constantFrom(...TOKENS) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(4000), len: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('indent' as const), line: fc.nat(200), spaces: fc.nat(6) }),
  fc.record({ kind: fc.constant('dupLine' as const), line: fc.nat(200) }),
  fc.record({ kind: fc.constant('dropLine' as const), line: fc.nat(200) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(text: string, m: Mutation): string {
  const at = (n: number): number => n % (text.length + 1);
  const lines = text.split('\n');
  const line = (n: number): number => n % lines.length;
  switch (m.kind) {
    case 'insert':
      return text.slice(0, at(m.at)) + m.text + text.slice(at(m.at));
    case 'delete':
      return text.slice(0, at(m.at)) + text.slice(at(m.at) + m.len);
    case 'indent':
      lines[line(m.line)] = ' '.repeat(m.spaces) + lines[line(m.line)]!.trimStart();
      return lines.join('\n');
    case 'dupLine':
      lines.splice(line(m.line), 0, lines[line(m.line)]!);
      return lines.join('\n');
    case 'dropLine':
      lines.splice(line(m.line), 1);
      return lines.join('\n');
  }
}

test('fast YAML: on random mutations of real files it agrees or gives up (4,000 mutations)', () => {
  const seeds = [
    ...yamlFiles(path.join(ROOT, 'examples', 'ceq')).map((f) => fs.readFileSync(f, 'utf8')),
    'a: 1\nb:\n  c: x # hi\n  d: [p, q , "r"]\n  e:\n  - 1\n  - k: v\n    l: \'w\'\'\'\nf:\n  - g\n  - h: [1, 2]\n    i:\n      j: -5\n',
  ];
  let taken = 0;
  let total = 0;
  fc.assert(
    fc.property(fc.nat(seeds.length - 1), fc.array(mutation, { minLength: 1, maxLength: 3 }), (i, muts) => {
      const text = muts.reduce(mutate, seeds[i]!);
      total++;
      if (agrees(text, JSON.stringify(text))) taken++;
    }),
    { numRuns: 4000, seed: 20261127 },
  );
  // Both outcomes must be common, or the property proves little.
  assert.ok(taken > total * 0.2 && taken < total * 0.9, `${taken} of ${total} mutated files took the fast path`);
});
