/**
 * `mesh dev`'s state folder (default `<mesh>/.mesh-dev`, git-ignored): a
 * development control plane for a mesh on this host, prepared in one step
 * and read back by `mesh run`.
 *
 *   pki/               the PKI store (created once, reused: keys 0600, never under out/)
 *   mesh/, out/        the mesh with every port moved into a free block (src/compose/local-plan.ts),
 *                      so every service's sidecar and app have ports of their own on one host
 *   members/<svc>.json the handover the SDKs read (src/compose/member-env.ts)
 *   dev.json           where each sidecar's bootstrap and ports are, for `mesh run`
 *   store/             the control plane's store, emptied at every start (the overlay's ports change)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freeRange } from '../compose/free-ports';
import { buildLocalPlan, localPorts, MESH_BIN, type LocalNode, type LocalPlan } from '../compose/local-plan';
import { memberHandover } from '../compose/member-env';
import { runCommand } from '../compose/runtime';
import { UserError } from '../diag/errors';
import { lintMesh } from '../lint';
import { caExists } from '../pki/ca';

export const DEV_DIR = '.mesh-dev';

/** What `mesh run` needs of a sidecar in the plan. */
export type DevNode = Pick<LocalNode, 'node' | 'bootstrap' | 'adminPort' | 'outboundPort' | 'inboundPort' | 'appPort'>;

export interface DevState {
  /** The mesh folder this state was made from. */
  readonly source: string;
  readonly meshDir: string;
  readonly outDir: string;
  readonly pkiDir: string;
  readonly adminUrl: string;
  readonly controlPlane: readonly string[];
  readonly nodes: readonly DevNode[];
}

export function devStateFile(meshDir: string): string {
  return path.join(path.resolve(meshDir), DEV_DIR, 'dev.json');
}

export function readDevState(meshDir: string): DevState | undefined {
  const file = devStateFile(meshDir);
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as DevState;
  } catch (err) {
    throw new UserError('MESH136', `${file} is unreadable (${(err as Error).message}); run \`mesh dev\` again`);
  }
}

async function certs(mesh: string, pki: string, args: readonly string[]): Promise<void> {
  const r = await runCommand([process.execPath, MESH_BIN, 'certs', ...args, '--mesh', mesh, '--dir', pki], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new UserError('MESH136', `mesh certs ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
}

/** Issues what is missing, moves the ports, writes the overlay, the compiled tree, the handovers and dev.json. */
export async function prepareDev(meshDir: string, envoyBin: string, say: (line: string) => void): Promise<{ state: DevState; plan: LocalPlan }> {
  const mesh = path.resolve(meshDir);
  const root = path.join(mesh, DEV_DIR);
  const pkiDir = path.join(root, 'pki');
  if (!caExists(pkiDir)) {
    say(`issuing a CA and certificates for every service, the control plane and admin "ops" in ${path.relative(process.cwd(), pkiDir) || pkiDir}`);
    await certs(mesh, pkiDir, ['init']);
    await certs(mesh, pkiDir, ['issue']);
    await certs(mesh, pkiDir, ['issue', '--control-plane', '--admin', 'ops']);
  }
  const dry = buildLocalPlan(mesh, { workDir: root, pkiDir, envoyBin, basePort: 20000 });
  if (!('conflicts' in dry)) throw new UserError('MESH137', `${mesh} has errors; run \`mesh lint ${meshDir}\`: ${dry.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.message}`).slice(0, 3).join('; ')}`, 1);
  const basePort = await freeRange(dry.portRange || localPorts.range(0));
  const plan = buildLocalPlan(mesh, { workDir: root, pkiDir, envoyBin, basePort }) as LocalPlan;
  for (const d of ['mesh', 'out', 'store', 'members']) fs.rmSync(path.join(root, d), { recursive: true, force: true });
  for (const [rel, text] of plan.tree) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  const model = lintMesh(plan.meshDir).model;
  if (!model) throw new Error('bug: the overlay of a clean mesh does not load');
  const adminUrl = `https://127.0.0.1:${plan.controlPlane.adminPort}`;
  fs.mkdirSync(path.join(root, 'members'), { recursive: true });
  for (const svc of model.services) {
    fs.writeFileSync(path.join(root, 'members', `${svc.name}.json`), `${JSON.stringify(memberHandover(model, svc.name, { outDir: plan.outDir, adminUrl }), null, 2)}\n`);
  }
  const state: DevState = {
    source: mesh,
    meshDir: plan.meshDir,
    outDir: plan.outDir,
    pkiDir,
    adminUrl,
    controlPlane: plan.controlPlane.argv,
    nodes: plan.nodes.map((n) => ({ node: n.node, bootstrap: n.bootstrap, adminPort: n.adminPort, outboundPort: n.outboundPort, inboundPort: n.inboundPort, appPort: n.appPort })),
  };
  fs.writeFileSync(devStateFile(mesh), `${JSON.stringify(state, null, 2)}\n`);
  return { state, plan };
}
