/**
 * Lints from memory reusing earlier results (the control plane's applies:
 * src/config/source-cache.ts, src/lint/gap-cache.ts) report exactly what a
 * lint from nothing reports, positions included: here after lines are
 * inserted above every policy, and after a manifest changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { lintMesh } from '../../src/lint';
import { SourceCache } from '../../src/config/source-cache';
import { GapCache } from '../../src/lint/gap-cache';
import { readMeshSources } from '../../src/xds/control-plane';

const EXAMPLE = path.join(__dirname, '..', '..', '..', 'examples', 'ceq-grpc');

test('a lint reusing cached files and MESH070 gaps reports what a lint from nothing reports', () => {
  const base = readMeshSources(EXAMPLE);
  const caches = { sourceCache: new SourceCache(), gapCache: new GapCache() };
  const lint = (files: Record<string, string>, cached: boolean) =>
    lintMesh('/nonexistent', { displayDir: 'ceq-grpc', files, ...(cached ? caches : {}) }).diagnostics.map((d) => `${d.file}:${d.line}:${d.col} ${d.code} ${d.message}`);
  const first = lint({ ...base }, true);
  assert.ok(first.some((d) => d.includes('MESH070')), 'the example has proxyless gaps');
  const padded = { ...base, 'mesh_policies.yml': `# one\n# two\n${base['mesh_policies.yml']}` };
  const manifest = Object.keys(base).find((f) => f.startsWith('services/'))!;
  const edited = { ...padded, [manifest]: `# moved\n${base[manifest]}` };
  for (const files of [padded, edited, base]) assert.deepEqual(lint(files, true), lint(files, false));
  assert.ok(caches.sourceCache.hits > 0, 'unchanged files were taken from the cache');
});
