/**
 * The ingress gateway in the compose target and under `mesh run`, offline:
 * the composition's gateway container (the pinned Envoy on the gateway's own
 * compiled bootstrap, its own key and the trust bundle mounted read-only as a
 * sidecar's, its listener port published on loopback by default, never its
 * admin port; the check refuses a file that publishes the admin port), and
 * what `mesh run <gateway>` starts (Envoy's argv and the admin port read from
 * the bootstrap) and refuses. Running the composition needs a Docker engine
 * (test/envoy-real/docker-run.test.ts reports itself skipped without one);
 * the gateway's Envoy on its bootstrap against real Envoy is
 * test/envoy-real/gateway.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { bindMounts, checkComposition, publishedPorts, servicesOf } from '../../src/compose/compose-check';
import { COMPOSE_FILE, ENVOY_RUN_FLAGS, GATEWAY_HOST_IP, gatewayFileTlsNotes, IN_CONTAINER, renderComposition } from '../../src/compose/compose';
import { localSidecarArgv } from '../../src/compose/local-plan';
import { ENVOY_IMAGE } from '../../src/compose/images';
import { lintMesh } from '../../src/lint';
import { EXAMPLES_DIR, PACKAGE_ROOT } from '../../src/paths';
import { gatewayRunPlan, isGateway } from '../../src/run/run-gateway';

const EXAMPLE = path.join(EXAMPLES_DIR, 'ceq');
const MESH = path.join(PACKAGE_ROOT, 'bin', 'mesh.js');

function tmp(t: { after: (fn: () => void) => void }, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('compose: citizen-gw is an Envoy container on its own bootstrap, mounts like a sidecar, publishes 8443 on loopback by default and never its admin port', (t) => {
  const c = renderComposition(EXAMPLE, { outDir: path.join(tmp(t, 'hms-gw-compose-'), 'compose') });
  assert.ok(c.tree && c.plan, c.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n'));
  assert.deepEqual(c.plan.gateways, [{ node: 'citizen-gw', service: 'citizen-gw', bootstrap: 'out/citizen-gw/bootstrap.yaml', adminPort: 15100, ports: [8443] }]);
  // Not a sidecar: no fixed address, no app, not among the nodes the Docker runtime waits on as sidecars.
  assert.ok(!c.plan.nodes.some((n) => n.node === 'citizen-gw'));
  const doc = YAML.parse(c.tree.get(COMPOSE_FILE)!) as Record<string, unknown>;
  const gw = servicesOf(doc)['citizen-gw']!;
  assert.equal(gw['image'], ENVOY_IMAGE);
  assert.deepEqual(gw['command'], ['envoy', '-c', IN_CONTAINER.bootstrap, ...ENVOY_RUN_FLAGS]);
  assert.deepEqual(gw['depends_on'], ['control-plane']);
  // Its own key folder only and the trust bundle, as a sidecar (the control plane serves its certificate over SDS; Envoy needs the folder for xDS mTLS).
  const mounts = bindMounts(gw);
  assert.deepEqual(mounts.map((m) => [m.target, m.readOnly]), [[IN_CONTAINER.bootstrap, true], [`${IN_CONTAINER.pki}/svc/citizen-gw`, true], [`${IN_CONTAINER.pki}/trust-bundle.pem`, true]]);
  assert.equal(mounts[0]!.source, './out/citizen-gw/bootstrap.yaml');
  assert.match(mounts[1]!.source, /^\$\{HMS_PKI:-[^}]+\}\/svc\/citizen-gw$/);
  assert.match(mounts[2]!.source, /^\$\{HMS_PKI:-[^}]+\}\/trust-bundle\.pem$/);
  assert.deepEqual(publishedPorts(gw), [{ target: 8443, hostIp: GATEWAY_HOST_IP }]);
  assert.equal(GATEWAY_HOST_IP, '${HMS_GATEWAY_HOST_IP:-127.0.0.1}');
  assert.equal((gw['ports'] as Array<Record<string, unknown>>)[0]!['published'], 8443, 'the same number on the host: the port citizens are told');
  // The mounted bootstrap is the gateway's compiled one, its admin on loopback inside the container.
  const boot = YAML.parse(c.tree.get('out/citizen-gw/bootstrap.yaml')!) as { node: { id: string }; admin: { address: { socket_address: { address: string; port_value: number } } } };
  assert.equal(boot.node.id, 'citizen-gw');
  assert.deepEqual(boot.admin.address.socket_address, { address: '127.0.0.1', port_value: 15100 });
  assert.deepEqual(checkComposition(doc, c.plan, c.tree), []);

  // The check refuses what would expose the gateway's admin interface, publish on every address, or run another bootstrap.
  const bad = structuredClone(doc) as { services: Record<string, Record<string, unknown>> };
  bad.services['citizen-gw']!['ports'] = [{ target: 15100, published: 15100 }, { target: 8443, published: 8443 }];
  bad.services['citizen-gw']!['command'] = ['envoy', '-c', '/other.yaml'];
  assert.deepEqual(checkComposition(bad, c.plan, c.tree), [
    'citizen-gw does not start Envoy with /etc/envoy/bootstrap.yaml',
    'citizen-gw publishes port 15100 (the Envoy admin port)',
    'citizen-gw publishes 8443 on every address, not ${HMS_GATEWAY_HOST_IP:-127.0.0.1}',
  ]);
});

test('compose: a gateway whose certificate is cert_file/key_file gets a note (the composition mounts only the PKI store)', (t) => {
  const dir = tmp(t, 'hms-gw-files-');
  fs.cpSync(EXAMPLE, dir, { recursive: true, filter: (f) => !f.includes('.mesh-dev') && !f.includes(`${path.sep}pki`) });
  const { model } = lintMesh(dir);
  assert.ok(model);
  const text = fs.readFileSync(path.join(dir, 'mesh_policies.yml'), 'utf8');
  assert.ok(text.includes('mesh_ca: true'));
  // No certificate file is needed for the note: it is about what the composition mounts, decided on the model.
  assert.deepEqual(gatewayFileTlsNotes(model), [], 'mesh_ca: nothing to say');
  const files = { ...model, gateways: model.gateways!.map((g) => ({ ...g, listeners: g.listeners.map((l) => ({ ...l, tls: { kind: 'files' as const, certFile: 'gw.pem', keyFile: 'gw-key.pem', certPos: l.pos } })) })) };
  assert.match(gatewayFileTlsNotes(files).join('\n'), /^.*mesh_policies\.yml:\d+:\d+: note: gateway citizen-gw listener public reads cert_file\/key_file, which the composition does not mount into citizen-gw/);
});

test('mesh run <gateway>: Envoy on the gateway\'s compiled bootstrap with the sidecar launch flags; the admin port read from the bootstrap; no command; coded errors', (t) => {
  const root = tmp(t, 'hms-gw-run-');
  const meshDir = path.join(root, 'mesh');
  fs.cpSync(EXAMPLE, meshDir, { recursive: true, filter: (f) => !f.includes('.mesh-dev') });
  const run = (args: string[]): { code: number; stderr: string } => {
    const r = spawnSync(process.execPath, [MESH, ...args], { cwd: root, encoding: 'utf8' });
    return { code: r.status ?? -1, stderr: r.stderr };
  };
  const noBuild = run(['run', 'citizen-gw', '--mesh', 'mesh']);
  assert.equal(noBuild.code, 2, noBuild.stderr);
  assert.match(noBuild.stderr, /^mesh: error MESH231: no compiled bootstrap .*citizen-gw\/bootstrap\.yaml for gateway citizen-gw: run `mesh build mesh --out mesh\/out`\n$/);
  const withCommand = run(['run', 'citizen-gw', '--mesh', 'mesh', '--', 'python', 'app.py']);
  assert.equal(withCommand.code, 2);
  assert.match(withCommand.stderr, /^mesh: error MESH230: citizen-gw is an ingress gateway: it has no app/);
  assert.equal(run(['build', 'mesh', '--out', 'mesh/out']).code, 0);

  const { model } = lintMesh(meshDir);
  assert.ok(model && isGateway(model, 'citizen-gw') && !isGateway(model, 'public-docs'));
  const plan = gatewayRunPlan(model, meshDir, 'citizen-gw', [], '/opt/envoy');
  const bootstrap = path.join(meshDir, 'out', 'citizen-gw', 'bootstrap.yaml');
  assert.deepEqual(plan.argv, localSidecarArgv('/opt/envoy', bootstrap));
  assert.deepEqual(plan.argv, ['/opt/envoy', '-c', bootstrap, ...ENVOY_RUN_FLAGS, '--disable-hot-restart']);
  assert.equal(plan.adminPort, 15100);
  assert.deepEqual(plan.listens, ['0.0.0.0:8443 (docs.ceq.gov)']);
  // The admin port is the bootstrap's, not the manifest's: what Envoy will bind.
  fs.writeFileSync(bootstrap, fs.readFileSync(bootstrap, 'utf8').replace('port_value: 15100', 'port_value: 25100'));
  assert.equal(gatewayRunPlan(model, meshDir, 'citizen-gw', [], '/opt/envoy').adminPort, 25100);
  // A service still needs its command (MESH135), as before.
  assert.match(run(['run', 'public-docs', '--mesh', 'mesh']).stderr, /MESH135/);
});
