/**
 * Property: whatever mutation a valid mesh file suffers, lint never throws and
 * either succeeds or returns diagnostics that each carry a known code and a
 * real position.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { loadMeshSync } from '../../src/config/load';
import { CODES } from '../../src/diag/codes';
import { copyExample } from '../helpers/mesh-dir';

const FILES = ['mesh_policies.yml', 'mesh.yml', 'services/impact-calc.yml', 'services/grant-pay.yml'];
const TOKENS = [':', '-', '- ', '[', ']', '{', '}', ',', '&a ', '*a', '!!str ', '\t', '\n', '  ', '#', '"', "'", '0', '-1', '1e9', 'null', '~', 'é', '\u{1F600}', '\u0000', '\uFEFF', 'max_failure', 'grant-pay', 'v3', '? ', '|', '>', '%YAML 1.2\n---\n', '...'];

type Mutation =
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'dupLine'; line: number }
  | { kind: 'swapLines'; a: number; b: number }
  | { kind: 'bytes'; at: number; bytes: number[] };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(2000), len: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(2000), text: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 8 })) }),
  fc.record({ kind: fc.constant('dupLine' as const), line: fc.nat(40) }),
  fc.record({ kind: fc.constant('swapLines' as const), a: fc.nat(40), b: fc.nat(40) }),
  fc.record({ kind: fc.constant('bytes' as const), at: fc.nat(2000), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 4 }) }),
);

function apply(buf: Buffer, m: Mutation): Buffer {
  const at = (n: number): number => (buf.length === 0 ? 0 : n % (buf.length + 1));
  switch (m.kind) {
    case 'delete':
      return Buffer.concat([buf.subarray(0, at(m.at)), buf.subarray(Math.min(buf.length, at(m.at) + m.len))]);
    case 'insert':
      return Buffer.concat([buf.subarray(0, at(m.at)), Buffer.from(m.text), buf.subarray(at(m.at))]);
    case 'bytes':
      return Buffer.concat([buf.subarray(0, at(m.at)), Buffer.from(m.bytes), buf.subarray(at(m.at))]);
    case 'dupLine':
    case 'swapLines': {
      const lines = buf.toString('latin1').split('\n');
      if (m.kind === 'dupLine') {
        const i = m.line % lines.length;
        lines.splice(i, 0, lines[i]!);
      } else {
        const a = m.a % lines.length;
        const b = m.b % lines.length;
        [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      }
      return Buffer.from(lines.join('\n'), 'latin1');
    }
  }
}

test('lint never throws and always positions its diagnostics (3,000 random mutations)', () => {
  const { dir, cleanup } = copyExample();
  const originals = new Map(FILES.map((f) => [f, fs.readFileSync(path.join(dir, f))]));
  let withErrors = 0;
  try {
    fc.assert(
      fc.property(fc.constantFrom(...FILES), fc.array(mutation, { minLength: 1, maxLength: 4 }), (file, muts) => {
        const mutated = muts.reduce(apply, originals.get(file)!);
        fs.writeFileSync(path.join(dir, file), mutated);
        try {
          const { diagnostics, model } = loadMeshSync(dir);
          const errors = diagnostics.filter((d) => d.severity === 'error');
          if (errors.length > 0) withErrors++;
          assert.equal(model === undefined, errors.length > 0, 'a model exactly when there are no errors');
          for (const d of diagnostics) {
            assert.ok(CODES.has(d.code), `unknown code ${d.code}`);
            assert.ok(Number.isInteger(d.line) && d.line >= 1, `line ${d.line}`);
            assert.ok(Number.isInteger(d.col) && d.col >= 1, `col ${d.col}`);
            assert.ok(d.file.startsWith(dir), d.file);
            assert.ok(d.message.length > 0);
          }
        } finally {
          fs.writeFileSync(path.join(dir, file), originals.get(file)!);
        }
      }),
      { numRuns: 3000, seed: 20261127 },
    );
  } finally {
    cleanup();
  }
  // The mutations must actually break things, or the property proves little.
  assert.ok(withErrors > 500, `only ${withErrors} mutated meshes had errors`);
});
