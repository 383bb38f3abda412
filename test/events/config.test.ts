import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { lintMesh } from '../../src/lint';
import { copyExample } from '../helpers/mesh-dir';
import { EXAMPLES_DIR } from '../../src/paths';

function lintWithEvents(events: string): ReturnType<typeof lintMesh> {
  const m = copyExample('ceq');
  try {
    fs.appendFileSync(path.join(m.dir, 'mesh.yml'), `events:\n${events}`);
    return lintMesh(m.dir, { displayDir: 'mesh' });
  } finally {
    m.cleanup();
  }
}

test('events in mesh.yml: sinks and windows reach the model', () => {
  const r = lintWithEvents('  coalesce: 2s\n  sinks:\n    - webhook: http://127.0.0.1:9000/events\n      spool_bytes: 65536\n    - file: events.jsonl\n    - stdout: true\n');
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
  const ev = r.model!.settings.events!;
  assert.equal(ev.coalesceMs, 2000);
  assert.deepEqual(ev.sinks.map((s) => s.kind), ['webhook', 'file', 'stdout']);
  assert.equal((ev.sinks[0] as { spoolBytes: number }).spoolBytes, 65536);
});

test('a bad sink is MESH150 at its position; a schema violation is reported by the schema with its position', () => {
  const lines = fs.readFileSync(path.join(EXAMPLES_DIR, 'ceq', 'mesh.yml'), 'utf8').split('\n').length;
  const bad = lintWithEvents('  sinks:\n    - webhook: ftp://x/\n    - file: ../../etc/passwd\n    - file: a.jsonl\n      stdout: true\n');
  const codes = bad.diagnostics.filter((d) => d.code === 'MESH150');
  assert.equal(codes.length, 3, JSON.stringify(bad.diagnostics));
  assert.deepEqual(codes.map((d) => [d.file, d.line]), [['mesh/mesh.yml', lines + 2], ['mesh/mesh.yml', lines + 3], ['mesh/mesh.yml', lines + 4]]);
  const schema = lintWithEvents('  coalesce: soon\n  sinks:\n    - webhook: http://x/\n      spool_bytes: 10\n');
  const errs = schema.diagnostics.filter((d) => d.severity === 'error');
  assert.ok(errs.length >= 2, JSON.stringify(errs));
  for (const d of errs) assert.equal(d.file, 'mesh/mesh.yml');
  assert.ok(errs.some((d) => d.line === lines + 1), 'coalesce: at its line');
});
