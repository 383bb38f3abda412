/**
 * The worker-thread paths (src/util/sync-pool.ts) give exactly what the
 * single-thread paths give: the loader's parse pool (diagnostics, positions
 * and model) and the compiler's node pool (every byte of out/, and the
 * validation findings). Workers are forced to do every job here, and a
 * worker script that cannot load must cost nothing but time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateMesh } from '../../bench/gen-mesh';
import { loadMeshSync } from '../../src/config/load';
import { MIN_FILES_FOR_WORKERS } from '../../src/config/parse-pool';
import { buildOutputTree, compileMesh } from '../../src/envoy';
import { emitTree, MIN_NODES_FOR_WORKERS } from '../../src/envoy/emit';
import { validateCompiled } from '../../src/output/validate-output';
import { tempDir } from '../helpers/mesh-dir';

const MISSING_SCRIPT = path.join(__dirname, 'no-such-worker.js');

function decode(tree: ReadonlyMap<string, Uint8Array>): Map<string, string> {
  return new Map([...tree].map(([k, v]) => [k, Buffer.from(v).toString('utf8')]));
}

test('parse pool: workers give the same diagnostics, positions and model as one thread', () => {
  const { dir, cleanup } = tempDir('hms-pool-lint-');
  try {
    generateMesh(dir, MIN_FILES_FOR_WORKERS + 44);
    // Break some manifests in different ways, so that positions and codes are compared too.
    const svc = (i: number): string => path.join(dir, 'services', `svc-${String(i).padStart(5, '0')}.yml`);
    fs.appendFileSync(svc(3), 'max_failure: 3\n'); // unknown key
    fs.writeFileSync(svc(77), 'name: svc-00077\n  bad: [indent\n'); // syntax
    fs.appendFileSync(svc(150), 'port: 1\n'); // duplicate key
    fs.writeFileSync(svc(299), Buffer.from([0x6e, 0x61, 0xff, 0x0a])); // not UTF-8
    const one = loadMeshSync(dir, { parse: { workers: 0 } });
    let stats = { byCaller: 0, byWorkers: 0 };
    const pooled = loadMeshSync(dir, { parse: { workers: 1, callerTakesJobs: false, onStats: (s) => (stats = s) } });
    assert.ok(stats.byWorkers > 0, `the worker parsed files (${JSON.stringify(stats)})`);
    assert.ok(one.diagnostics.length >= 4, 'the broken files are reported');
    assert.deepEqual(pooled.diagnostics, one.diagnostics);

    // A clean mesh: the models are equal, positions included.
    fs.rmSync(dir, { recursive: true, force: true });
    generateMesh(dir, MIN_FILES_FOR_WORKERS + 44);
    const a = loadMeshSync(dir, { parse: { workers: 0 } });
    const b = loadMeshSync(dir, { parse: { workers: 1, callerTakesJobs: false } });
    assert.ok(a.model);
    assert.deepEqual(b.model, a.model);
    assert.deepEqual(b.diagnostics, a.diagnostics);
  } finally {
    cleanup();
  }
});

test('parse pool: a worker that cannot start costs nothing but time', () => {
  const { dir, cleanup } = tempDir('hms-pool-lint-');
  try {
    generateMesh(dir, MIN_FILES_FOR_WORKERS + 4);
    let stats = { byCaller: 0, byWorkers: -1 };
    const r = loadMeshSync(dir, { parse: { workers: 1, callerTakesJobs: false, workerFile: MISSING_SCRIPT, onStats: (s) => (stats = s) } });
    assert.equal(stats.byWorkers, 0);
    assert.deepEqual(r.model, loadMeshSync(dir, { parse: { workers: 0 } }).model);
  } finally {
    cleanup();
  }
});

test('node pool: out/ made by workers is byte-identical to compileMesh + buildOutputTree', () => {
  const { dir, cleanup } = tempDir('hms-pool-emit-');
  try {
    generateMesh(dir, MIN_NODES_FOR_WORKERS + 20);
    const model = loadMeshSync(dir).model!;
    const expected = buildOutputTree(compileMesh(model, { pkiDir: '/etc/hms/pki' }));
    const pooled = emitTree(model, { pkiDir: '/etc/hms/pki', workers: 1, callerTakesJobs: false });
    assert.equal(pooled.byWorkers, model.services.length, 'every node made by the worker');
    const single = emitTree(model, { pkiDir: '/etc/hms/pki', workers: 0 });
    assert.equal(single.byWorkers, 0);
    for (const got of [decode(pooled.tree), decode(single.tree)]) {
      assert.deepEqual([...got.keys()], [...expected.keys()]);
      for (const [k, v] of expected) assert.equal(got.get(k), v, k);
    }
    // A worker that cannot load: the calling thread makes every node, same bytes.
    const fallback = emitTree(model, { pkiDir: '/etc/hms/pki', workers: 1, callerTakesJobs: false, workerFile: MISSING_SCRIPT });
    assert.equal(fallback.byWorkers, 0);
    assert.deepEqual(decode(fallback.tree), expected);
  } finally {
    cleanup();
  }
});

test('node pool: validation in the workers finds what validateCompiled finds', () => {
  const { dir, cleanup } = tempDir('hms-pool-emit-');
  try {
    generateMesh(dir, MIN_NODES_FOR_WORKERS + 8);
    const model = loadMeshSync(dir).model!;
    const pooled = emitTree(model, { validate: true, workers: 1, callerTakesJobs: false });
    assert.equal(pooled.byWorkers, model.services.length);
    assert.deepEqual(pooled.diagnostics, validateCompiled(compileMesh(model)));
  } finally {
    cleanup();
  }
});
