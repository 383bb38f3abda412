/**
 * The lab's working copy of examples/ceq-grpc: a temp folder, free loopback
 * ports written into its mesh.yml (so the lab never collides with anything,
 * CI included), and policy edits made the way an operator would make them,
 * in the YAML, comments kept.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { EXAMPLES_DIR } from '../paths';

export const LAB_EXAMPLE = 'ceq-grpc';

export interface LabPorts {
  readonly xds: number;
  readonly admin: number;
  readonly grpcXds: number;
  readonly grantPayV1: number;
  readonly grantPayV2: number;
}

export interface WorkDir {
  readonly root: string;
  readonly meshDir: string;
  readonly storeDir: string;
  readonly logDir: string;
  readonly ports: LabPorts;
  remove(): void;
}

/** A port nobody listens on right now (the OS picks; the small race until the child binds it is accepted). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

export async function prepareWorkDir(): Promise<WorkDir> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-lab-'));
  const meshDir = path.join(root, 'mesh');
  const logDir = path.join(root, 'logs');
  fs.cpSync(path.join(EXAMPLES_DIR, LAB_EXAMPLE), meshDir, { recursive: true });
  fs.mkdirSync(logDir);
  const [xds, admin, grpcXds, grantPayV1, grantPayV2] = await distinctFreePorts(5);
  const ports: LabPorts = { xds: xds!, admin: admin!, grpcXds: grpcXds!, grantPayV1: grantPayV1!, grantPayV2: grantPayV2! };
  editYaml(path.join(meshDir, 'mesh.yml'), (doc) => {
    doc.setIn(['control_plane', 'xds_port'], ports.xds);
    doc.setIn(['control_plane', 'admin_port'], ports.admin);
    doc.setIn(['control_plane', 'grpc_xds_port'], ports.grpcXds);
  });
  return { root, meshDir, storeDir: path.join(root, 'store'), logDir, ports, remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}

type Doc = ReturnType<typeof parseDocument>;

export function editYaml(file: string, edit: (doc: Doc) => void): void {
  const doc = parseDocument(fs.readFileSync(file, 'utf8'));
  edit(doc);
  fs.writeFileSync(file, doc.toString());
}

/** traffic.<service>.split, as an operator would edit it. */
export function setSplit(meshDir: string, service: string, split: Readonly<Record<string, number>>): void {
  editYaml(path.join(meshDir, 'mesh_policies.yml'), (doc) => {
    for (const [version, weight] of Object.entries(split)) doc.setIn(['traffic', service, 'split', version], weight);
  });
}

/**
 * Zero trust, revoked: the callee's access list loses the caller, and the
 * caller's manifest its call (the lint refuses a call the callee denies,
 * MESH043, so both go in one apply).
 */
export function revokeCall(meshDir: string, caller: string, callee: string): void {
  editYaml(path.join(meshDir, 'mesh_policies.yml'), (doc) => {
    const allow = (doc.getIn(['access', callee, 'allow']) as { toJSON(): string[] } | undefined)?.toJSON() ?? [];
    doc.setIn(['access', callee, 'allow'], doc.createNode(allow.filter((c) => c !== caller), { flow: true }));
  });
  editYaml(path.join(meshDir, 'services', `${caller}.yml`), (doc) => {
    const calls = (doc.get('calls') as { toJSON(): string[] } | undefined)?.toJSON() ?? [];
    doc.set('calls', doc.createNode(calls.filter((c) => c !== callee)));
  });
}
