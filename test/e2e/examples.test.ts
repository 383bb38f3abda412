/** examples/ceq-grpc, the lab's mesh: lints clean, and compiles to what the Envoy API and grpc-js-xds accept. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { compileMesh } from '../../src/envoy';
import { lintMesh } from '../../src/lint';
import { validateCompiled } from '../../src/output/validate-output';
import { EXAMPLES_DIR } from '../../src/paths';

test('examples/ceq-grpc: no lint errors; the only warnings are what proxyless gRPC cannot enforce (MESH070)', () => {
  const { model, diagnostics } = lintMesh(path.join(EXAMPLES_DIR, 'ceq-grpc'));
  assert.ok(model);
  assert.deepEqual(model.services.map((s) => [s.name, s.protocol]), [['grant-pay', 'grpc'], ['impact-calc', 'grpc'], ['public-docs', 'grpc']]);
  assert.deepEqual(diagnostics.map((d) => [d.severity, d.code, path.basename(d.file), d.path]), [
    ['warning', 'MESH070', 'mesh_policies.yml', 'circuit_breakers.max_failures'],
    ['warning', 'MESH070', 'grant-pay.yml', 'protocol'],
    ['warning', 'MESH070', 'impact-calc.yml', 'protocol'],
    ['warning', 'MESH070', 'public-docs.yml', 'protocol'],
  ]);
  assert.deepEqual(validateCompiled(compileMesh(model)), []);
});

test('examples/ceq keeps linting clean with its apps/ folder beside the manifests', () => {
  assert.deepEqual(lintMesh(path.join(EXAMPLES_DIR, 'ceq')).diagnostics, []);
});
