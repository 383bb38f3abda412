import { test } from 'node:test';
import { buildOutputTree, compileMesh } from '../../src/envoy';
import { ceqModel } from '../translate/fixture-model';
import { grpcModel } from '../translate/fixture-grpc';
import { assertGoldenTree } from '../golden/golden';
import { PKI_DIR } from './helpers';

// Adding a case is adding a line here and running once with UPDATE_GOLDEN=1.
const CASES = [
  { name: 'ceq-fixture', model: ceqModel },
  { name: 'grpc-fixture', model: grpcModel },
];

for (const c of CASES) {
  test(`golden: ${c.name}`, () => {
    assertGoldenTree(c.name, buildOutputTree(compileMesh(c.model(), { pkiDir: PKI_DIR })));
  });
}
