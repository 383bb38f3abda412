/** examples/agency is an example: it must lint clean and compile to config the Envoy API accepts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { compileMesh } from '../../src/envoy';
import { lintMesh } from '../../src/lint';
import { validateCompiled } from '../../src/output/validate-output';
import { EXAMPLES_DIR } from '../../src/paths';

test('examples/agency: 13 services, no lint errors or warnings; what grpc-js cannot do (MESH070) and two unused permissions (MESH045) are acknowledged', () => {
  const { model, diagnostics } = lintMesh(path.join(EXAMPLES_DIR, 'agency'));
  assert.ok(model);
  assert.equal(model.services.length, 13);
  assert.deepEqual(diagnostics.map((d) => [d.severity, d.code, d.file, d.path]), [
    ['info', 'MESH045', path.join(EXAMPLES_DIR, 'agency', 'mesh_policies.yml'), 'access.payments.allow'],
    ['info', 'MESH045', path.join(EXAMPLES_DIR, 'agency', 'mesh_policies.yml'), 'access.public-docs.allow'],
    ['info', 'MESH070', path.join(EXAMPLES_DIR, 'agency', 'services/eligibility.yml'), 'protocol'],
    ['info', 'MESH070', path.join(EXAMPLES_DIR, 'agency', 'services/impact-model.yml'), 'protocol'],
  ]);
  assert.deepEqual(model.services.filter((s) => s.protocol === 'grpc').map((s) => s.name), ['eligibility', 'impact-model']);
  assert.deepEqual(model.policies.filter((p) => p.split).map((p) => p.service), ['applicant-api', 'identity', 'impact-model', 'payments']);
});

test('examples/agency compiles and validates against the Envoy API with zero findings', () => {
  const { model } = lintMesh(path.join(EXAMPLES_DIR, 'agency'));
  assert.deepEqual(validateCompiled(compileMesh(model!)), []);
});
