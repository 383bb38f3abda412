/**
 * `mesh build --target compose`: a Docker Compose setup of a mesh, rendered
 * from templates/docker-compose.yml.hbs around the output of the same
 * compiler and the same bootstrap template as `mesh build`:
 *
 *   docker-compose.yml   the control plane, one Envoy sidecar per HTTP service, the HTTP example apps,
 *                        one Envoy per ingress gateway (its listener ports published)
 *   mesh/                the mesh's sources with the compose overlay (overlay.ts); the control plane
 *                        serves it and the apps read it (HMS_MESH_DIR)
 *   out/                 exactly what `mesh build mesh --out out` writes for that overlay; each
 *                        sidecar mounts its out/<node>/bootstrap.yaml
 *
 * Pure: same sources, options and templates, same bytes (the committed
 * envoy/ceq is checked like out/).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { diagAt, hasErrors, type Diagnostic } from '../diag/diagnostic';
import { buildOutputTree, compileMesh, type CompileResult } from '../envoy';
import { BOOTSTRAP_TEMPLATE_CODE } from '../envoy/bootstrap';
import { generatedMarker } from '../envoy/compile';
import { lintMesh } from '../lint';
import type { MeshModel, ServiceManifest } from '../model/types';
import { validateCompiled } from '../output/validate-output';
import { PACKAGE_ROOT } from '../paths';
import { readMeshSources } from '../xds/control-plane';
import { checkComposition, GATEWAY_HOST_IP, parseComposition } from './compose-check';
import { ENVOY_IMAGE, NODE_IMAGE } from './images';
import { assignAddresses, DEFAULT_SUBNET, type SidecarNetwork } from './network';
import { overlayMesh } from './overlay';
import { renderTemplate } from './template';

export const COMPOSE_TEMPLATE = 'docker-compose.yml.hbs';
export const COMPOSE_FILE = 'docker-compose.yml';
/**
 * A template in templates/ (or --templates) rendered invalid output: the
 * bootstrap templates' code, since this is the same failure for another
 * template of the same folder.
 */
export const COMPOSE_TEMPLATE_CODE = BOOTSTRAP_TEMPLATE_CODE;

/** Paths inside the containers. */
export const IN_CONTAINER = {
  repo: '/app',
  mesh: '/etc/hms/mesh',
  pki: '/etc/hms/pki',
  bootstrap: '/etc/envoy/bootstrap.yaml',
  store: '/tmp/hms-store',
} as const;

/**
 * Launch options of every sidecar (the bootstrap itself is the compiled one,
 * unchanged): access logs reach stdout within a second instead of Envoy's
 * default 10 s file flush interval, so a request shows up in `docker compose
 * logs` (and in the tests) while you look.
 */
export const ENVOY_RUN_FLAGS: readonly string[] = ['--file-flush-interval-msec', '1000'];

export const CONTROL_PLANE_SERVICE = 'control-plane';
export const PROBE_SERVICE = 'probe';
export const sidecarService = (node: string): string => `${node}-sidecar`;
export const appService = (node: string): string => `${node}-app`;
/** An ingress gateway's container is named as the gateway: it is the workload (no app beside it). */
export const gatewayService = (node: string): string => node;
export { GATEWAY_HOST_IP } from './compose-check';

export interface ComposeOptions {
  /** Where the tree will be written: host paths default to paths relative to it. */
  readonly outDir: string;
  /** Folder with your own copies of the bootstrap and compose templates. */
  readonly templatesDir?: string;
  /** The network of the sidecars (fixed addresses). Default DEFAULT_SUBNET. */
  readonly subnet?: string;
}

export interface ComposedNode {
  readonly node: string;
  readonly sidecar: string;
  /** The example app's service, when the mesh has an HTTP app for this node. */
  readonly app?: { readonly service: string; readonly script: string; readonly version: string };
  readonly address: string;
  readonly bootstrap: string;
  readonly adminPort: number;
  readonly outboundPort: number;
  readonly inboundPort: number;
}

/** An ingress gateway's Envoy in the composition. */
export interface ComposedGateway {
  readonly node: string;
  readonly service: string;
  readonly bootstrap: string;
  readonly adminPort: number;
  /** Its listener ports, published on the host at the same numbers (GATEWAY_HOST_IP). */
  readonly ports: readonly number[];
}

/** What the rendered file contains, for tests and the Docker runner. */
export interface CompositionPlan {
  readonly project: string;
  readonly composeFile: string;
  readonly meshName: string;
  readonly trustDomain: string;
  readonly controlPlane: { readonly service: string; readonly xdsPort: number; readonly adminPort: number };
  readonly probe: string;
  readonly network: SidecarNetwork;
  readonly nodes: readonly ComposedNode[];
  /** Ingress gateways, sorted by name. */
  readonly gateways: readonly ComposedGateway[];
  /** Host paths the file uses when HMS_REPO / HMS_PKI are unset (relative to the compose file). */
  readonly hostDefaults: { readonly repo: string; readonly pki: string };
  /** Proxyless gRPC services of the mesh that the composition does not run (COMPOSE_PROXYLESS_WHY), sorted. */
  readonly leftOut: readonly string[];
}

export interface Composition {
  readonly tree?: Map<string, string>;
  readonly plan?: CompositionPlan;
  readonly compiled?: CompileResult;
  /** The host PKI store the file defaults to (absolute): it must stay outside the output. */
  readonly hostPkiDir?: string;
  readonly diagnostics: Diagnostic[];
  /** What the composition leaves out or cannot carry over (proxyless gRPC services, loopback endpoints). */
  readonly notes: string[];
}

export function renderComposition(meshDir: string, opts: ComposeOptions): Composition {
  const loaded = lintMesh(meshDir);
  const diags: Diagnostic[] = [...loaded.diagnostics];
  const notes: string[] = [];
  if (!loaded.model || hasErrors(diags)) return { diagnostics: diags, notes };
  const model = loaded.model;
  notes.push(...proxylessNotes(model, COMPOSE_PROXYLESS_WHY), ...gatewayFileTlsNotes(model));
  const network = assignAddresses(opts.subnet ?? DEFAULT_SUBNET, model.services.filter((s) => s.protocol === 'http').map((s) => s.name));
  const outAbs = path.resolve(opts.outDir);
  const built = compileOverlay(model, meshDir, network, outAbs, opts.templatesDir);
  diags.push(...built.diagnostics);
  notes.push(...built.notes);
  if (!built.compiled || !built.overlaid || hasErrors(diags)) return { diagnostics: diags, notes };
  const { compiled, overlaid, sources } = built;

  const hostPkiDir = path.resolve(model.dir, model.settings.pkiDir);
  const rel = (to: string): string => path.relative(outAbs, to).split(path.sep).join('/') || '.';
  const plan = planOf(model, overlaid, compiled, network, { repo: rel(PACKAGE_ROOT), pki: rel(hostPkiDir) });
  const marker = generatedMarker(compiled.ir.sources).replace('generated by HMS-SVC', 'generated by HMS-SVC (mesh build --target compose)');
  const templateFile = resolveComposeTemplate(opts.templatesDir);
  const fail = (message: string): Composition => ({
    notes,
    diagnostics: [...diags, diagAt({ file: templateFile, line: 1, col: 1 }, 'error', COMPOSE_TEMPLATE_CODE, message, { hint: 'fix the template, or remove it from the templates folder to use the built-in one' })],
  });
  let text: string;
  try {
    text = renderTemplate(templateFile, composeView(plan, marker, path.relative(PACKAGE_ROOT, model.dir) || '.'));
  } catch (err) {
    return fail(`compose template does not render: ${(err as Error).message}`);
  }
  const tree = new Map<string, string>([[COMPOSE_FILE, text.endsWith('\n') ? text : `${text}\n`]]);
  for (const [f, t] of Object.entries(sources)) tree.set(`mesh/${f}`, t);
  for (const [f, t] of buildOutputTree(compiled)) tree.set(`out/${f}`, t);
  // Parsed back and checked, so an override that drops a mount or publishes an admin port is an error.
  const parsed = parseComposition(tree.get(COMPOSE_FILE)!);
  if ('error' in parsed) return fail(`rendered compose file is not valid YAML: ${parsed.error}`);
  const problems = checkComposition(parsed.value, plan, tree);
  if (problems.length > 0) return fail(problems.join('; '));
  return { tree: new Map([...tree].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), plan, compiled, hostPkiDir, diagnostics: diags, notes };
}

/** The compose overlay of the mesh, linted and compiled exactly as `mesh build <out>/mesh` would: from its files. */
function compileOverlay(model: MeshModel, meshDir: string, network: SidecarNetwork, outAbs: string, templatesDir?: string): {
  readonly compiled?: CompileResult;
  readonly overlaid?: MeshModel;
  readonly sources: Record<string, string>;
  readonly diagnostics: Diagnostic[];
  readonly notes: string[];
} {
  const overlay = overlayMesh(model, readMeshSources(meshDir), {
    describe: `control_plane.address: ${CONTROL_PLANE_SERVICE}, pki_dir: ${IN_CONTAINER.pki}`,
    settings: (doc) => {
      doc.setIn(['control_plane', 'address'], CONTROL_PLANE_SERVICE);
      doc.set('pki_dir', IN_CONTAINER.pki);
    },
    // "This host's sidecar" in the single-host example is the service's sidecar container here.
    loopbackEndpoint: (svc, port) => (port === svc.meshPort && network.addresses.has(svc.name) ? { address: network.addresses.get(svc.name)!, port } : undefined),
    fromDir: model.dir,
    toDir: path.join(outAbs, 'mesh'),
  });
  const base = { sources: overlay.sources, notes: overlay.notes };
  const overlaid = lintMesh(path.join(outAbs, 'mesh'), { files: overlay.sources, displayDir: 'mesh' });
  const diagnostics: Diagnostic[] = [...overlaid.diagnostics];
  if (!overlaid.model || hasErrors(diagnostics)) return { ...base, diagnostics };
  const compiled = compileMesh(overlaid.model, templatesDir ? { templatesDir } : {});
  diagnostics.push(...compiled.diagnostics);
  if (hasErrors(diagnostics)) return { ...base, diagnostics };
  diagnostics.push(...validateCompiled(compiled));
  return { ...base, diagnostics, compiled, overlaid: overlaid.model };
}

/**
 * Why a composition cannot run a proxyless gRPC member: not a missing
 * feature but the security boundary of MESH070. The member has no sidecar;
 * the app itself fetches its config over the plaintext port the control plane
 * binds to 127.0.0.1 only (grpc-js-xds cannot authenticate to it), which no
 * other container can reach; opening it on the compose network would serve
 * unauthenticated xDS to every container.
 */
export const COMPOSE_PROXYLESS_WHY =
  'it has no sidecar, and the app would fetch its config in plaintext from control_plane.grpc_xds_port, which the control plane binds to 127.0.0.1 only ' +
  '(grpc-js-xds cannot authenticate to it, MESH070), so no other container can reach it; proxyless members run as local processes beside the control plane (`npm start -- --grpc`, docs/lab.md)';

/** The local-process mode runs on one host, but only the HTTP story's sidecars and apps. */
export const LOCAL_PROXYLESS_WHY = 'only Envoy sidecars and HTTP apps are run; the proxyless gRPC story is `npm start -- --grpc` (docs/lab.md)';

/** Proxyless gRPC members, which the composition and the local mode leave out, by name. */
export function proxylessServices(model: MeshModel): string[] {
  return model.services.filter((s) => s.protocol !== 'http').map((s) => s.name);
}

/**
 * A gateway listener with cert_file/key_file: Envoy reads those files at run
 * time from its working directory, and the composition mounts only the PKI
 * store; say so instead of starting a gateway that cannot load its certificate.
 */
export function gatewayFileTlsNotes(model: MeshModel): string[] {
  return (model.gateways ?? []).flatMap((g) => g.listeners.filter((l) => l.tls.kind === 'files').map((l) =>
    `${l.pos.file}:${l.pos.line}:${l.pos.col}: note: gateway ${g.name} listener ${l.name} reads cert_file/key_file, which the composition does not mount into ${gatewayService(g.name)}: use tls: { mesh_ca: true }, or add the mount to docker-compose.yml`));
}

/** One note per left-out proxyless member, at its manifest, saying why (`COMPOSE_PROXYLESS_WHY`, `LOCAL_PROXYLESS_WHY`). */
export function proxylessNotes(model: MeshModel, why: string): string[] {
  return model.services
    .filter((s) => s.protocol !== 'http')
    .map((s) => `${s.pos.file}:${s.pos.line}:${s.pos.col}: note: ${s.name} is a proxyless gRPC service, left out: ${why}`);
}

export function resolveComposeTemplate(templatesDir?: string): string {
  if (templatesDir && fs.existsSync(path.join(templatesDir, COMPOSE_TEMPLATE))) return path.join(templatesDir, COMPOSE_TEMPLATE);
  return path.join(PACKAGE_ROOT, 'templates', COMPOSE_TEMPLATE);
}

function planOf(source: MeshModel, model: MeshModel, compiled: CompileResult, network: SidecarNetwork, hostDefaults: CompositionPlan['hostDefaults']): CompositionPlan {
  const nodes = compiled.nodes
    // Sidecars; ingress gateways (no app, no fixed address: nothing sends EDS traffic to them) below.
    .filter((n) => n.kind === 'envoy' && !n.ir.gateway)
    .map((n): ComposedNode => {
      const svc = model.services.find((s) => s.name === n.id)!;
      const script = exampleApp(source, n.id);
      return {
        node: n.id,
        sidecar: sidecarService(n.id),
        ...(script ? { app: { service: appService(n.id), script, version: appVersion(svc) } } : {}),
        address: network.addresses.get(n.id)!,
        bootstrap: `out/${n.id}/${n.bootstrap!.fileName}`,
        adminPort: n.ir.bootstrap.adminPort,
        outboundPort: svc.outboundPort,
        inboundPort: svc.meshPort,
      };
    });
  const gateways = compiled.nodes
    .filter((n) => n.ir.gateway)
    .map((n): ComposedGateway => ({
      node: n.id,
      service: gatewayService(n.id),
      bootstrap: `out/${n.id}/${n.bootstrap!.fileName}`,
      adminPort: n.ir.bootstrap.adminPort,
      ports: n.ir.gateway!.listeners.map((l) => l.port),
    }));
  return {
    project: `hms-${model.settings.name}`,
    composeFile: COMPOSE_FILE,
    meshName: model.settings.name,
    trustDomain: model.settings.trustDomain,
    controlPlane: { service: CONTROL_PLANE_SERVICE, xdsPort: model.settings.controlPlane.xdsPort, adminPort: model.settings.controlPlane.adminPort },
    probe: PROBE_SERVICE,
    network,
    nodes,
    gateways,
    hostDefaults,
    leftOut: proxylessServices(source).sort(),
  };
}

/**
 * The compiled example app of a service (`<mesh>/apps/http/<service>.ts`,
 * built by tsc into dist/), as a path relative to the repository root; only
 * for meshes inside this repository, whose dist/ the containers mount.
 */
export function exampleApp(model: MeshModel, service: string): string | undefined {
  const source = path.join(model.dir, 'apps', 'http', `${service}.ts`);
  const rel = path.relative(PACKAGE_ROOT, source);
  if (rel.startsWith('..') || path.isAbsolute(rel) || !fs.existsSync(source)) return undefined;
  return ['dist', ...rel.replace(/\.ts$/, '.js').split(path.sep)].join('/');
}

/**
 * The version the app instance registers: the first declared version that no
 * static endpoint serves (so every version's cluster has an endpoint: the
 * static ones and this instance), else the manifest's own version.
 */
export function appVersion(svc: ServiceManifest): string {
  const served = new Set(svc.endpoints.map((e) => e.version));
  return svc.versions.find((v) => !served.has(v)) ?? svc.version;
}

const bind = (source: string, target: string): { source: string; target: string } => ({ source, target });
const REPO = '${HMS_REPO:-%s}';
const PKI = '${HMS_PKI:-%s}';

function composeView(plan: CompositionPlan, marker: string, meshHint: string): Record<string, unknown> {
  const repo = REPO.replace('%s', plan.hostDefaults.repo);
  const pki = PKI.replace('%s', plan.hostDefaults.pki);
  const trust = bind(`${pki}/trust-bundle.pem`, `${IN_CONTAINER.pki}/trust-bundle.pem`);
  // Each workload sees its own key only; the control plane needs every service's (it serves them over SDS).
  const own = (node: string): Array<{ source: string; target: string }> => [bind(`${pki}/svc/${node}`, `${IN_CONTAINER.pki}/svc/${node}`), trust];
  const meshMount = bind('./mesh', IN_CONTAINER.mesh);
  const cp = plan.controlPlane;
  return {
    marker,
    mesh: plan.meshName,
    meshHint,
    leftOut: plan.leftOut.length > 0 ? plan.leftOut.join(', ') : undefined,
    project: plan.project,
    envoyImage: ENVOY_IMAGE,
    nodeImage: NODE_IMAGE,
    runAs: '${HMS_UID:-0}:${HMS_GID:-0}',
    repoMount: IN_CONTAINER.repo,
    network: { subnet: plan.network.subnet, ipRange: plan.network.ipRange },
    controlPlane: {
      service: cp.service,
      adminPort: cp.adminPort,
      storeDir: IN_CONTAINER.store,
      command: ['node', 'bin/mesh.js', 'serve', IN_CONTAINER.mesh, '--store', IN_CONTAINER.store, '--pki', IN_CONTAINER.pki, '--listen', '0.0.0.0'],
      volumes: [bind(repo, IN_CONTAINER.repo), meshMount, bind(`${pki}/control-plane`, `${IN_CONTAINER.pki}/control-plane`), bind(`${pki}/svc`, `${IN_CONTAINER.pki}/svc`), trust],
    },
    sidecars: plan.nodes.map((n) => ({
      service: n.sidecar,
      address: n.address,
      command: ['envoy', '-c', IN_CONTAINER.bootstrap, ...ENVOY_RUN_FLAGS],
      volumes: [bind(`./${n.bootstrap}`, IN_CONTAINER.bootstrap), ...own(n.node)],
    })),
    // The same launch and mounts as a sidecar (its own key only); its listener ports published.
    gateways: plan.gateways.map((g) => ({
      service: g.service,
      command: ['envoy', '-c', IN_CONTAINER.bootstrap, ...ENVOY_RUN_FLAGS],
      volumes: [bind(`./${g.bootstrap}`, IN_CONTAINER.bootstrap), ...own(g.node)],
      ports: g.ports,
      hostIp: GATEWAY_HOST_IP,
    })),
    apps: plan.nodes.flatMap((n) =>
      n.app
        ? [
            {
              service: n.app.service,
              command: ['node', n.app.script],
              env: [
                { name: 'HMS_MESH_DIR', value: IN_CONTAINER.mesh },
                // EDS wants an IP: the instance registers its sidecar's fixed address (and mesh_port).
                { name: 'HMS_ADVERTISE_ADDRESS', value: n.address },
                { name: 'VERSION', value: n.app.version },
              ],
              volumes: [bind(repo, IN_CONTAINER.repo), meshMount, ...own(n.node)],
              networkMode: `service:${n.sidecar}`,
              dependsOn: [n.sidecar, cp.service],
            },
          ]
        : [],
    ),
    probe: { service: plan.probe, command: ['node', 'dist/src/compose/probe.js', 'help'], volumes: [bind(repo, IN_CONTAINER.repo), trust] },
  };
}
