import { test } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { compileMesh } from '../../src/envoy';
import { validateNodeConfig } from '../../src/validate';
import { ceqModel } from '../translate/fixture-model';
import { grpcModel } from '../translate/fixture-grpc';
import { PKI_DIR } from './helpers';

test('validate: every node passes the Envoy proto + PGV + cross-reference checks of src/validate', () => {
  for (const model of [ceqModel(), grpcModel()]) {
    for (const node of compileMesh(model, { pkiDir: PKI_DIR }).nodes) {
      const bootstrap = node.kind === 'envoy' ? { bootstrap: YAML.parse(node.bootstrap!.text) } : {};
      const diags = validateNodeConfig({ ...node.resources, ...bootstrap }, { file: node.id });
      // The one expected warning: gRPC clusters use the deprecated match_subject_alt_names on purpose
      // (A29 specifies it and grpc-js-xds reads nothing else; see src/envoy/tls.ts).
      const unexpected = diags.filter((d) => !(node.kind === 'grpc' && d.message.includes('match_subject_alt_names is deprecated')));
      assert.deepEqual(unexpected, [], `${node.id}: ${JSON.stringify(unexpected, null, 1)}`);
    }
  }
});
