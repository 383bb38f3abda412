/**
 * The composition (`mesh build --target compose`), checked without Docker:
 * the file parses, has one sidecar per compiled node with that node's
 * bootstrap mounted, mounts certificates read-only, publishes no Envoy admin
 * port, takes the image from the one constant; its out/ is what `mesh build`
 * makes of its mesh/ (one source of truth); the committed envoy/ceq is up to
 * date (UPDATE_GOLDEN=1 rewrites it).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { bindMounts, checkComposition, publishedPorts, servicesOf } from '../../src/compose/compose-check';
import { COMPOSE_FILE, COMPOSE_TEMPLATE, COMPOSE_TEMPLATE_CODE, ENVOY_RUN_FLAGS, IN_CONTAINER, renderComposition, type Composition } from '../../src/compose/compose';
import { ENVOY_IMAGE, ENVOY_VERSION } from '../../src/compose/images';
import { lintMesh } from '../../src/lint';
import { buildOutputTree, compileMesh } from '../../src/envoy';
import { readTree, writeTreeAtomically } from '../../src/output/write-tree';
import { EXAMPLES_DIR, PACKAGE_ROOT, TEMPLATES_DIR } from '../../src/paths';

const EXAMPLE = path.join(EXAMPLES_DIR, 'ceq');
/** Assembled, so this file does not itself name an image. */
const OFFICIAL_REPO = ['envoyproxy', 'envoy'].join('/');
const COMMITTED = path.join(PACKAGE_ROOT, 'envoy', 'ceq');
type Obj = Record<string, unknown>;

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-compose-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function render(outDir: string, extra: { templatesDir?: string } = {}): Composition & { doc: Obj } {
  const c = renderComposition(EXAMPLE, { outDir, ...extra });
  assert.ok(c.tree, c.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n'));
  return { ...c, doc: YAML.parse(c.tree.get(COMPOSE_FILE)!) as Obj };
}

function mesh(args: readonly string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['bin/mesh.js', ...args], { cwd: PACKAGE_ROOT, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

test('the rendered compose file parses and references every generated bootstrap: one sidecar per node, its own bootstrap mounted', (t) => {
  const c = render(path.join(tmp(t), 'compose'));
  const services = servicesOf(c.doc);
  const envoyNodes = c.compiled!.nodes.filter((n) => n.kind === 'envoy' && !n.ir.gateway).map((n) => n.id);
  assert.deepEqual(envoyNodes, ['grant-pay', 'impact-calc', 'public-docs']);
  const sidecars = Object.entries(services).filter(([, s]) => s['image'] === ENVOY_IMAGE);
  // One Envoy per sidecar, and one per ingress gateway (named as the gateway: no app beside it).
  assert.deepEqual(sidecars.map(([name]) => name).sort(), ['citizen-gw', ...envoyNodes.map((n) => `${n}-sidecar`)]);
  for (const node of envoyNodes) {
    const sc = services[`${node}-sidecar`]!;
    const boot = bindMounts(sc).find((m) => m.target === IN_CONTAINER.bootstrap);
    assert.deepEqual(boot, { source: `./out/${node}/bootstrap.yaml`, target: IN_CONTAINER.bootstrap, readOnly: true });
    assert.deepEqual(sc['command'], ['envoy', '-c', IN_CONTAINER.bootstrap, ...ENVOY_RUN_FLAGS]);
    // The mounted file is the compiled bootstrap, byte for byte, and names this node.
    const text = c.tree!.get(`out/${node}/bootstrap.yaml`)!;
    assert.equal(text, c.compiled!.nodes.find((n) => n.id === node)!.bootstrap!.text);
    assert.equal((YAML.parse(text) as { node: { id: string } }).node.id, node);
  }
  // The apps share their sidecar's network namespace; nothing else joins it.
  assert.equal(services['grant-pay-app']?.['network_mode'], 'service:grant-pay-sidecar');
  assert.equal(services['impact-calc-app']?.['network_mode'], 'service:impact-calc-sidecar');
  assert.deepEqual(checkComposition(c.doc, c.plan!, c.tree!), []);
});

test('certificates are mounted read-only, and each workload sees only its own key', (t) => {
  const c = render(path.join(tmp(t), 'compose'));
  for (const [name, svc] of Object.entries(servicesOf(c.doc))) {
    for (const m of bindMounts(svc)) assert.equal(m.readOnly, true, `${name}: ${m.source} -> ${m.target}`);
    const keys = bindMounts(svc).filter((m) => m.target.startsWith(`${IN_CONTAINER.pki}/svc/`)).map((m) => m.target);
    const own = /^(.*)-(sidecar|app)$/.exec(name)?.[1];
    if (own) assert.deepEqual(keys, [`${IN_CONTAINER.pki}/svc/${own}`], name);
  }
  // Only the control plane, which serves every node's secrets over SDS, mounts the whole svc/ folder; nothing mounts the CA's key.
  const all = Object.values(servicesOf(c.doc)).flatMap(bindMounts);
  assert.ok(!all.some((m) => m.source.includes('/ca')), 'the CA folder is never mounted');
});

test('no Envoy admin port is published; only the control plane admin API, on 127.0.0.1, on a port Docker picks', (t) => {
  const c = render(path.join(tmp(t), 'compose'));
  const adminPorts = new Set(c.compiled!.nodes.map((n) => n.ir.bootstrap.adminPort));
  const published = Object.entries(servicesOf(c.doc)).flatMap(([name, s]) => publishedPorts(s).map((p) => ({ name, ...p })));
  // The gateway's listener (the way in) is published at its own number, on loopback unless HMS_GATEWAY_HOST_IP says otherwise.
  assert.deepEqual(published, [
    { name: 'control-plane', target: 18001, hostIp: '127.0.0.1' },
    { name: 'citizen-gw', target: 8443, hostIp: '${HMS_GATEWAY_HOST_IP:-127.0.0.1}' },
  ]);
  assert.ok(published.every((p) => !adminPorts.has(p.target)));
  const cpPorts = servicesOf(c.doc)['control-plane']!['ports'] as Obj[];
  assert.equal(cpPorts[0]!['published'], undefined, 'no fixed host port');
  // Every bootstrap still binds its admin interface to loopback only.
  for (const n of c.compiled!.nodes) assert.equal(n.ir.bootstrap.adminAddress, '127.0.0.1');
});

test('the Envoy image is pinned in one place (src/compose/images.ts) and the file uses it', (t) => {
  assert.match(ENVOY_IMAGE, /^envoyproxy\/envoy:v1\.\d+\.\d+$/, 'an exact patch release of the official image');
  assert.equal(ENVOY_IMAGE, `${OFFICIAL_REPO}:${ENVOY_VERSION}`);
  const c = render(path.join(tmp(t), 'compose'));
  const images = new Set(Object.values(servicesOf(c.doc)).map((s) => s['image']));
  assert.ok(images.has(ENVOY_IMAGE));
  // No other source names an Envoy image (the committed rendering and the docs quote it, generated or explained).
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|hbs|json|ya?ml)$/.test(e.name) && fs.readFileSync(p, 'utf8').includes(`${OFFICIAL_REPO}:`)) offenders.push(path.relative(PACKAGE_ROOT, p));
    }
  };
  for (const d of ['src', 'templates', 'test', 'bench']) if (fs.existsSync(path.join(PACKAGE_ROOT, d))) walk(path.join(PACKAGE_ROOT, d));
  assert.deepEqual(offenders, [path.join('src', 'compose', 'images.ts')]);
});

test('one source of truth: the composition\'s out/ is exactly what `mesh build` makes of its mesh/, with the same template', (t) => {
  const dir = tmp(t);
  const c = render(path.join(dir, 'compose'));
  writeTreeAtomically(path.join(dir, 'compose'), c.tree!);
  const r = mesh(['build', path.join(dir, 'compose', 'mesh'), '--out', path.join(dir, 'built')]);
  assert.equal(r.status, 0, r.out);
  const composed = new Map([...c.tree!].filter(([f]) => f.startsWith('out/')).map(([f, v]) => [f.slice(4), v]));
  assert.deepEqual(readTree(path.join(dir, 'built')), composed);
  // Against examples/ceq's own build, a bootstrap differs only where the containers differ:
  // the control plane's address (a name, so Envoy resolves it: STRICT_DNS) and the PKI folder.
  const plain = buildOutputTree(compileMesh(lintMesh(EXAMPLE).model!));
  for (const node of ['grant-pay', 'impact-calc', 'public-docs']) {
    const a = plain.get(`${node}/bootstrap.yaml`)!.split('\n');
    const b = composed.get(`${node}/bootstrap.yaml`)!.split('\n');
    assert.equal(a.length, b.length);
    const changed = b.filter((l, i) => l !== a[i]);
    assert.ok(changed.length > 0 && changed.every((l) => l.includes('"control-plane"') || l.includes('STRICT_DNS') || l.includes(`${IN_CONTAINER.pki}/`)), changed.join('\n'));
  }
});

test('the compose overlay changes only what differs in containers: the xDS address, the PKI folder, loopback endpoints of a sidecar', (t) => {
  const c = render(path.join(tmp(t), 'compose'));
  const settings = YAML.parse(c.tree!.get('mesh/mesh.yml')!) as Obj;
  assert.deepEqual(settings['control_plane'], { address: 'control-plane', xds_port: 18000, admin_port: 18001 });
  assert.equal(settings['pki_dir'], IN_CONTAINER.pki);
  const strip = (s: string): string => s.split('\n').filter((l) => !l.startsWith('#')).join('\n');
  assert.equal(strip(c.tree!.get('mesh/mesh_policies.yml')!), strip(fs.readFileSync(path.join(EXAMPLE, 'mesh_policies.yml'), 'utf8')));
  // grant-pay v2's static endpoint was "this host's sidecar" (127.0.0.1:15090): now grant-pay's sidecar address.
  const gp = YAML.parse(c.tree!.get('mesh/services/grant-pay.yml')!) as { endpoints: Obj[] };
  assert.deepEqual(gp.endpoints, [{ address: c.plan!.network.addresses.get('grant-pay'), port: 15090, version: 'v2' }]);
  // The app registers the version no static endpoint serves, so both versions of the 90/10 split have an endpoint.
  assert.equal(c.plan!.nodes.find((n) => n.node === 'grant-pay')!.app!.version, 'v1');
  assert.equal(servicesOf(c.doc)['grant-pay-app']!['environment'] && (servicesOf(c.doc)['grant-pay-app']!['environment'] as Obj)['HMS_ADVERTISE_ADDRESS'], c.plan!.network.addresses.get('grant-pay'));
  assert.ok(c.plan!.nodes.every((n) => n.address.startsWith('10.213.71.')), 'fixed addresses in the first half of the subnet');
});

test('the committed envoy/ceq is what `mesh build examples/ceq --target compose --out envoy/ceq` renders (UPDATE_GOLDEN=1 rewrites it)', () => {
  if (process.env.UPDATE_GOLDEN === '1') assert.equal(mesh(['build', 'examples/ceq', '--target', 'compose', '--out', 'envoy/ceq']).status, 0);
  const r = mesh(['build', 'examples/ceq', '--target', 'compose', '--out', 'envoy/ceq', '--check']);
  assert.equal(r.status, 0, r.out);
  // Rendering is deterministic: the library call gives the same bytes.
  assert.deepEqual(renderComposition(EXAMPLE, { outDir: COMMITTED }).tree, readTree(COMMITTED));
});

test('a template override that publishes the Envoy admin port is refused (MESH080, as for bootstrap templates), and the build writes nothing', (t) => {
  const dir = tmp(t);
  const templates = path.join(dir, 'templates');
  fs.mkdirSync(templates);
  const original = fs.readFileSync(path.join(TEMPLATES_DIR, COMPOSE_TEMPLATE), 'utf8');
  const bad = original.replace('    depends_on: [{{json ../controlPlane.service}}]', '    depends_on: [{{json ../controlPlane.service}}]\n    ports: ["15000:15000"]');
  assert.notEqual(bad, original);
  fs.writeFileSync(path.join(templates, COMPOSE_TEMPLATE), bad);
  const c = renderComposition(EXAMPLE, { outDir: path.join(dir, 'compose'), templatesDir: templates });
  assert.equal(c.tree, undefined);
  const d = c.diagnostics.find((x) => x.code === COMPOSE_TEMPLATE_CODE);
  assert.ok(d, JSON.stringify(c.diagnostics));
  assert.match(d.message, /publishes port 15000 \(the Envoy admin port\)/);
  const r = mesh(['build', 'examples/ceq', '--target', 'compose', '--templates', templates, '--out', path.join(dir, 'compose')]);
  assert.equal(r.status, 1, r.out);
  assert.equal(fs.existsSync(path.join(dir, 'compose')), false);
});

test('--target compose never replaces a folder no build wrote; --target and --subnet are checked', (t) => {
  const dir = tmp(t);
  fs.writeFileSync(path.join(dir, 'keep.txt'), 'x');
  const r = mesh(['build', 'examples/ceq', '--target', 'compose', '--out', dir]);
  assert.equal(r.status, 2, r.out);
  assert.match(r.out, /MESH089: --out .* is a folder no build wrote/);
  assert.equal(fs.readFileSync(path.join(dir, 'keep.txt'), 'utf8'), 'x');
  assert.equal(mesh(['build', 'examples/ceq', '--target', 'kubernetes', '--out', path.join(dir, 'k')]).status, 2);
  const small = mesh(['build', 'examples/ceq', '--target', 'compose', '--subnet', '10.0.0.0/28', '--out', path.join(dir, 'c')]);
  assert.equal(small.status, 2, small.out);
  assert.match(small.out, /too small for 3 sidecars/);
  assert.equal(mesh(['build', 'examples/ceq', '--target', 'compose', '--subnet', 'ten', '--out', path.join(dir, 'c')]).status, 2);
});
