/**
 * The local-process mode (ENVOY_BIN): the same mesh, compiled by the same
 * compiler and bootstrap template, with every sidecar, app and the control
 * plane as a process on this host's loopback. In containers each node has its
 * own network namespace, so every sidecar may use mesh.yml's ports; on one
 * host they need distinct ports, derived from one base port (the runner
 * picks a base whose range is free):
 *
 *   base + 0          control plane xDS            (overlay: control_plane.xds_port)
 *   base + 1          control plane admin API      (overlay: control_plane.admin_port)
 *   base + 2          default outbound listener    (overlay: ports.outbound; every node overrides it)
 *   base + 3          default Envoy admin          (overlay: ports.admin; every node overrides it)
 *   base + 10 + 4i    Envoy admin of node i        (overlay: its manifest's sidecar.admin_port)
 *   base + 11 + 4i    the app of node i            (overlay: its manifest's port)
 *   base + 12 + 4i    inbound listener of node i   (overlay: its manifest's mesh_port)
 *   base + 13 + 4i    outbound listener of node i  (overlay: its manifest's sidecar.outbound_port)
 *
 * with i the node's index in name order. Every port is in the overlaid
 * sources, so the compiler puts them where they belong: the admin port in the
 * node's bootstrap (started unchanged), the outbound listener and its
 * `<svc>:<port>` route domains in what the control plane serves over LDS/RDS.
 * The apps see the same overlay (HMS_MESH_DIR): the SDK's HTTP client finds
 * its sidecar's outbound port in its own manifest (`sidecar.outbound_port`,
 * src/sdk/config.ts; there is no environment variable for it) and an app its
 * own port and mesh_port there too.
 *
 * The plan computes every socket each process binds from the compiled
 * resources and reports what collides (`conflicts`, none for a plan of this
 * layout); the runner refuses to start a plan with collisions.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hasErrors, type Diagnostic } from '../diag/diagnostic';
import { buildOutputTree, compileMesh } from '../envoy';
import type { NodeOutput } from '../envoy/compile';
import type { JsonObject } from '../envoy/proto-json';
import { lintMesh } from '../lint';
import type { MeshModel } from '../model/types';
import { validateCompiled } from '../output/validate-output';
import { PACKAGE_ROOT } from '../paths';
import { readMeshSources } from '../xds/control-plane';
import { appVersion, ENVOY_RUN_FLAGS, exampleApp, LOCAL_PROXYLESS_WHY, proxylessNotes } from './compose';
import { memberEnv } from './member-env';
import { overlayMesh } from './overlay';

export const MESH_BIN = path.join(PACKAGE_ROOT, 'bin', 'mesh.js');

export interface LocalPlanOptions {
  /** Where the overlay (mesh/), the compiled tree (out/) and the control plane's store go. Absolute. */
  readonly workDir: string;
  /** The PKI store, absolute (the bootstraps reference its files by path). */
  readonly pkiDir: string;
  readonly basePort: number;
  readonly envoyBin: string;
  readonly templatesDir?: string;
  /**
   * Which example apps run next to the sidecars: the Node ones (apps/http/<svc>.ts, default) or
   * the Python ones (apps/python/<svc_name>.py with `python`, the project's .venv/bin/python for
   * `npm start`), which get the SDK handover in HMS_MEMBER (member-env.ts).
   */
  readonly python?: string;
}

export interface LocalSocket {
  readonly owner: string;
  readonly what: string;
  readonly address: string;
  readonly port: number;
}

export interface LocalConflict {
  readonly port: number;
  readonly sockets: readonly LocalSocket[];
}

export interface LocalNode {
  readonly node: string;
  /** Absolute path of the compiled bootstrap. */
  readonly bootstrap: string;
  readonly adminPort: number;
  readonly outboundPort: number;
  readonly inboundPort: number;
  readonly appPort: number;
  readonly envoy: readonly string[];
  readonly validate: readonly string[];
  readonly app?: { readonly argv: readonly string[]; readonly env: Readonly<Record<string, string>>; readonly version: string };
}

export interface LocalPlan {
  readonly meshDir: string;
  readonly outDir: string;
  /** Files to write, relative to workDir (mesh/..., out/...). */
  readonly tree: ReadonlyMap<string, string>;
  readonly trustDomain: string;
  readonly controlPlane: { readonly argv: readonly string[]; readonly xdsPort: number; readonly adminPort: number; readonly storeDir: string };
  readonly nodes: readonly LocalNode[];
  readonly sockets: readonly LocalSocket[];
  readonly conflicts: readonly LocalConflict[];
  /** How many ports from basePort the plan uses. */
  readonly portRange: number;
  readonly diagnostics: Diagnostic[];
  /** What the plan leaves out (proxyless gRPC services, loopback endpoints it cannot map). */
  readonly notes: readonly string[];
}

export const localPorts = {
  controlPlaneXds: (base: number): number => base,
  controlPlaneAdmin: (base: number): number => base + 1,
  outbound: (base: number): number => base + 2,
  bootstrapAdmin: (base: number): number => base + 3,
  nodeAdmin: (base: number, i: number): number => base + 10 + 4 * i,
  app: (base: number, i: number): number => base + 11 + 4 * i,
  inbound: (base: number, i: number): number => base + 12 + 4 * i,
  nodeOutbound: (base: number, i: number): number => base + 13 + 4 * i,
  range: (nodes: number): number => 10 + 4 * nodes,
};

export function buildLocalPlan(meshDir: string, opts: LocalPlanOptions): LocalPlan | { diagnostics: Diagnostic[] } {
  const loaded = lintMesh(meshDir);
  const diags: Diagnostic[] = [...loaded.diagnostics];
  if (!loaded.model || hasErrors(diags)) return { diagnostics: diags };
  const model = loaded.model;
  const b = opts.basePort;
  const http = model.services.filter((s) => s.protocol === 'http');
  const index = new Map(http.map((s, i) => [s.name, i]));
  const localMesh = path.join(opts.workDir, 'mesh');
  const overlay = localOverlay(model, meshDir, index, localMesh, opts);
  const notes = [...proxylessNotes(model, LOCAL_PROXYLESS_WHY), ...overlay.notes];
  const overlaid = lintMesh(localMesh, { files: overlay.sources, displayDir: 'mesh' });
  diags.push(...overlaid.diagnostics);
  if (!overlaid.model || hasErrors(diags)) return { diagnostics: diags };
  const compiled = compileMesh(overlaid.model, opts.templatesDir ? { templatesDir: opts.templatesDir } : {});
  diags.push(...compiled.diagnostics, ...(hasErrors(compiled.diagnostics) ? [] : validateCompiled(compiled)));
  if (hasErrors(diags)) return { diagnostics: diags };

  const outDir = path.join(opts.workDir, 'out');
  const tree = new Map<string, string>();
  for (const [f, t] of Object.entries(overlay.sources)) tree.set(`mesh/${f}`, t);
  for (const [f, t] of buildOutputTree(compiled)) tree.set(`out/${f}`, t);
  // Sidecars only: an ingress gateway has no app and runs as its own Envoy (docs/gateways.md).
  const sidecars = compiled.nodes.filter((n) => n.kind === 'envoy' && !n.ir.gateway);
  const nodes = sidecars.map((n) => localNode(n, overlaid.model!, model, outDir, localMesh, opts));
  const sockets: LocalSocket[] = [
    { owner: 'control-plane', what: 'xDS', address: '127.0.0.1', port: localPorts.controlPlaneXds(b) },
    { owner: 'control-plane', what: 'admin API', address: '127.0.0.1', port: localPorts.controlPlaneAdmin(b) },
    ...sidecars.flatMap((n) => nodeSockets(n, nodes.find((x) => x.node === n.id)!)),
  ];
  const storeDir = path.join(opts.workDir, 'store');
  return {
    meshDir: localMesh,
    outDir,
    tree,
    trustDomain: model.settings.trustDomain,
    controlPlane: { argv: [process.execPath, MESH_BIN, 'serve', localMesh, '--store', storeDir, '--pki', opts.pkiDir], xdsPort: localPorts.controlPlaneXds(b), adminPort: localPorts.controlPlaneAdmin(b), storeDir },
    nodes,
    sockets,
    conflicts: findConflicts(sockets),
    portRange: localPorts.range(http.length),
    diagnostics: diags,
    notes,
  };
}

/** The mesh's sources with every port moved as the table at the top says. */
function localOverlay(model: MeshModel, meshDir: string, index: ReadonlyMap<string, number>, localMesh: string, opts: LocalPlanOptions): ReturnType<typeof overlayMesh> {
  const b = opts.basePort;
  return overlayMesh(model, readMeshSources(meshDir), {
    describe: `every port moved to base ${b} (src/compose/local-plan.ts), pki_dir: ${opts.pkiDir}`,
    settings: (doc) => {
      doc.setIn(['control_plane', 'address'], '127.0.0.1');
      doc.setIn(['control_plane', 'xds_port'], localPorts.controlPlaneXds(b));
      doc.setIn(['control_plane', 'admin_port'], localPorts.controlPlaneAdmin(b));
      doc.setIn(['ports', 'outbound'], localPorts.outbound(b));
      doc.setIn(['ports', 'admin'], localPorts.bootstrapAdmin(b));
      doc.set('pki_dir', opts.pkiDir);
    },
    manifest: (svc, doc) => {
      const i = index.get(svc.name);
      if (i === undefined) return [];
      doc.set('port', localPorts.app(b, i));
      doc.set('mesh_port', localPorts.inbound(b, i));
      doc.setIn(['sidecar', 'outbound_port'], localPorts.nodeOutbound(b, i));
      doc.setIn(['sidecar', 'admin_port'], localPorts.nodeAdmin(b, i));
      return [`port ${localPorts.app(b, i)}, mesh_port ${localPorts.inbound(b, i)}, sidecar.outbound_port ${localPorts.nodeOutbound(b, i)}, sidecar.admin_port ${localPorts.nodeAdmin(b, i)}`];
    },
    // "This host's sidecar" stays this host's sidecar, on its new port.
    loopbackEndpoint: (svc, port) => (port === svc.meshPort && index.has(svc.name) ? { address: '127.0.0.1', port: localPorts.inbound(b, index.get(svc.name)!) } : undefined),
    fromDir: model.dir,
    toDir: localMesh,
  });
}

function localNode(n: NodeOutput, overlaid: MeshModel, source: MeshModel, outDir: string, localMesh: string, opts: LocalPlanOptions): LocalNode {
  const svc = overlaid.services.find((s) => s.name === n.id)!;
  const bootstrap = path.join(outDir, n.id, n.bootstrap!.fileName);
  const script = exampleApp(source, n.id);
  const version = appVersion(svc);
  const py = opts.python ? examplePythonApp(source, n.id) : undefined;
  return {
    node: n.id,
    bootstrap,
    adminPort: svc.adminPort,
    outboundPort: svc.outboundPort,
    inboundPort: svc.meshPort,
    appPort: svc.port,
    envoy: localSidecarArgv(opts.envoyBin, bootstrap),
    validate: [opts.envoyBin, '--mode', 'validate', '-c', bootstrap],
    ...(py && opts.python
      ? { app: { argv: [opts.python, py], env: { ...memberEnv(overlaid, n.id, { outDir, version }), PYTHONUNBUFFERED: '1' }, version } }
      : script
        ? { app: { argv: [process.execPath, path.join(PACKAGE_ROOT, script)], env: { HMS_MESH_DIR: localMesh, VERSION: version }, version } }
        : {}),
  };
}

/** examples/<mesh>/apps/python/<service, dashes as underscores>.py, when the example has one. */
export function examplePythonApp(model: MeshModel, service: string): string | undefined {
  const file = path.join(model.dir, 'apps', 'python', `${service.replace(/-/g, '_')}.py`);
  return fs.existsSync(file) ? file : undefined;
}

/** A sidecar as a local process (the lab, `mesh run`). Several Envoys on one host: no shared-memory hot restart between them. */
export function localSidecarArgv(envoyBin: string, bootstrap: string): string[] {
  return [envoyBin, '-c', bootstrap, ...ENVOY_RUN_FLAGS, '--disable-hot-restart'];
}

/** What one node's processes bind: its Envoy's admin interface, every listener it gets over LDS, its app. */
function nodeSockets(n: NodeOutput, node: LocalNode): LocalSocket[] {
  return [
    { owner: `${n.id} sidecar`, what: 'Envoy admin', address: '127.0.0.1', port: node.adminPort },
    ...n.resources.listeners.map((l) => ({ owner: `${n.id} sidecar`, what: `listener ${String(l['name'])}`, ...listenerSocket(l) })),
    { owner: `${n.id} app`, what: 'app', address: '127.0.0.1', port: node.appPort },
  ];
}

function listenerSocket(l: JsonObject): { address: string; port: number } {
  const sa = ((l['address'] as JsonObject | undefined)?.['socket_address'] ?? {}) as JsonObject;
  return { address: String(sa['address'] ?? ''), port: Number(sa['port_value'] ?? 0) };
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);

/** Sockets of different processes on the same port whose addresses overlap (equal, or one is a wildcard). */
export function findConflicts(sockets: readonly LocalSocket[]): LocalConflict[] {
  const byPort = new Map<number, LocalSocket[]>();
  for (const s of sockets) byPort.set(s.port, [...(byPort.get(s.port) ?? []), s]);
  const out: LocalConflict[] = [];
  for (const [port, list] of [...byPort].sort(([a], [b]) => a - b)) {
    const clash = list.filter((s) => list.some((o) => o !== s && o.owner !== s.owner && (o.address === s.address || WILDCARD.has(o.address) || WILDCARD.has(s.address))));
    if (clash.length > 0) out.push({ port, sockets: clash });
  }
  return out;
}

export function describeConflicts(conflicts: readonly LocalConflict[]): string {
  return conflicts.map((c) => `${c.sockets.map((s) => `${s.owner} (${s.what})`).join(', ')} all bind ${c.sockets[0]!.address}:${c.port}`).join('; ');
}
