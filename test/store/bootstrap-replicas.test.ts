/**
 * control_plane.replicas in mesh.yml: every sidecar bootstrap lists every
 * replica's xDS address in its xDS cluster, and a proxyless member's
 * bootstrap hands grpc-js-xds all of the replicas' loopback ports in one
 * `ipv4:` target; without the list the bootstraps are as before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { compileMesh } from '../../src/envoy/compile';
import { lintMesh } from '../../src/lint';
import { copyExample } from '../helpers/mesh-dir';

const REPLICAS = `  replicas:
    - { address: 127.0.0.1, xds_port: 18000, grpc_xds_port: 18002 }
    - { address: 127.0.0.1, xds_port: 18100, grpc_xds_port: 18102 }
    - { address: 127.0.0.1, xds_port: 18200, grpc_xds_port: 18202 }
`;

function compiled(example: string, extra: string) {
  const m = copyExample(example);
  try {
    const yml = path.join(m.dir, 'mesh.yml');
    fs.writeFileSync(yml, fs.readFileSync(yml, 'utf8').replace(/^control_plane:\n/m, `control_plane:\n${extra}`));
    const lint = lintMesh(m.dir);
    assert.ok(lint.model, JSON.stringify(lint.diagnostics));
    return compileMesh(lint.model);
  } finally {
    m.cleanup();
  }
}

type Endpoint = { endpoint: { address: { socket_address: { address: string; port_value: number } } } };
const xdsEndpoints = (text: string): string[] => {
  const b = parseYaml(text) as { static_resources: { clusters: Array<{ name: string; type: string; load_assignment: { endpoints: Array<{ lb_endpoints: Endpoint[] }> } }> } };
  const c = b.static_resources.clusters.find((x) => x.name === 'xds_cluster') ?? b.static_resources.clusters[0]!;
  return c.load_assignment.endpoints[0]!.lb_endpoints.map((e) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`);
};

test('sidecars: every replica in the xDS cluster, the primary first, each once', () => {
  const out = compiled('ceq', REPLICAS);
  const envoy = out.nodes.filter((n) => n.kind === 'envoy');
  assert.ok(envoy.length > 0);
  for (const n of envoy) assert.deepEqual(xdsEndpoints(n.bootstrap!.text), ['127.0.0.1:18000', '127.0.0.1:18100', '127.0.0.1:18200']);
  const single = compiled('ceq', '');
  for (const n of single.nodes.filter((x) => x.kind === 'envoy')) assert.deepEqual(xdsEndpoints(n.bootstrap!.text), ['127.0.0.1:18000']);
});

test('proxyless members: one ipv4: target with every replica\'s loopback port', () => {
  const out = compiled('ceq-grpc', REPLICAS);
  const grpc = out.nodes.filter((n) => n.kind === 'grpc');
  assert.ok(grpc.length > 0, 'the example has proxyless members');
  for (const n of grpc) {
    const b = JSON.parse(n.bootstrap!.text) as { xds_servers: Array<{ server_uri: string }> };
    assert.equal(b.xds_servers[0]!.server_uri, 'ipv4:127.0.0.1:18002,127.0.0.1:18102,127.0.0.1:18202');
  }
});
