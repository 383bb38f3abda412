/**
 * What a member needs from the mesh's files, read leniently and cheaply (the
 * SDK never loads the compiler): mesh.yml for the control plane, ports, trust
 * domain and PKI folder; services/*.yml for the member's own manifest and its
 * callees' protocols. `mesh lint` is where these files are validated; here a
 * missing or broken file is a MeshSdkError naming the file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { BUILTIN } from '../config/defaults';
import { MeshSdkError } from './errors';

export type Protocol = 'http' | 'grpc';

export interface ManifestInfo {
  readonly name: string;
  readonly version: string;
  readonly versions: readonly string[];
  readonly protocol: Protocol;
  /** The app's port (grpc: where its xDS server binds by default). */
  readonly port: number;
  /** Envoy sidecar's inbound mTLS port (http members). */
  readonly meshPort: number;
  /** Its Envoy sidecar's outbound listener port: `sidecar.outbound_port`, else mesh.yml's ports.outbound. */
  readonly outboundPort: number;
  readonly calls: readonly string[];
}

export interface MeshFiles {
  readonly meshDir: string;
  readonly trustDomain: string;
  /** mesh.yml's ports.outbound: the default. A member calls through its own manifest's `outboundPort`. */
  readonly outboundPort: number;
  readonly controlPlane: { readonly address: string; readonly adminPort: number; readonly grpcXdsPort: number };
  /** Absolute: a relative pki_dir is relative to the mesh folder (docs/policy-language.md). */
  readonly pkiDir: string;
  readonly services: ReadonlyMap<string, ManifestInfo>;
}

type Obj = Record<string, unknown>;

function readYaml(file: string): Obj {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new MeshSdkError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const v = parseYaml(text) as unknown;
    return v && typeof v === 'object' ? (v as Obj) : {};
  } catch (err) {
    throw new MeshSdkError(`${file} is not valid YAML (run \`mesh lint\`): ${(err as Error).message}`);
  }
}

const num = (v: unknown, fallback: number): number => (typeof v === 'number' ? v : fallback);
const str = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : fallback);

export function readMeshFiles(meshDir: string): MeshFiles {
  const dir = path.resolve(meshDir);
  const meshFile = path.join(dir, 'mesh.yml');
  const settings = fs.existsSync(meshFile) ? readYaml(meshFile) : {};
  const ports = (settings.ports ?? {}) as Obj;
  const cp = (settings.control_plane ?? {}) as Obj;
  const inbound = num(ports.inbound, BUILTIN.inboundPort);
  const outbound = num(ports.outbound, BUILTIN.outboundPort);
  const services = new Map<string, ManifestInfo>();
  const svcDir = path.join(dir, 'services');
  if (!fs.existsSync(svcDir)) throw new MeshSdkError(`${dir} is not a mesh folder: it has no services/ (set HMS_MESH_DIR or pass meshDir)`);
  for (const f of fs.readdirSync(svcDir).sort()) {
    if (!/\.ya?ml$/.test(f)) continue;
    const v = readYaml(path.join(svcDir, f));
    if (typeof v.name !== 'string') continue;
    const version = str(v.version, 'v1');
    services.set(v.name, {
      name: v.name,
      version,
      versions: Array.isArray(v.versions) ? v.versions.map(String) : [version],
      protocol: v.protocol === 'grpc' ? 'grpc' : 'http',
      port: num(v.port, 0),
      meshPort: num(v.mesh_port, inbound),
      outboundPort: num(((v.sidecar ?? {}) as Obj).outbound_port, outbound),
      calls: Array.isArray(v.calls) ? v.calls.map(String) : [],
    });
  }
  return {
    meshDir: dir,
    trustDomain: str(settings.trust_domain, BUILTIN.trustDomain),
    outboundPort: outbound,
    controlPlane: {
      address: str(cp.address, BUILTIN.controlPlaneAddress),
      adminPort: num(cp.admin_port, BUILTIN.controlPlaneAdminPort),
      grpcXdsPort: num(cp.grpc_xds_port, BUILTIN.grpcXdsPort),
    },
    pkiDir: path.resolve(dir, str(settings.pki_dir, BUILTIN.pkiDir)),
    services,
  };
}

export function manifestOf(files: MeshFiles, service: string): ManifestInfo {
  const m = files.services.get(service);
  if (!m) throw new MeshSdkError(`service "${service}" is not declared in ${path.join(files.meshDir, 'services')} (known: ${[...files.services.keys()].join(', ') || 'none'})`);
  return m;
}

/** The member's certificate files in the PKI store (src/pki/store.ts layout). */
export function identityFiles(files: MeshFiles, service: string): { chain: string; key: string; trustBundle: string } {
  return {
    chain: path.join(files.pkiDir, 'svc', service, 'chain.pem'),
    key: path.join(files.pkiDir, 'svc', service, 'key.pem'),
    trustBundle: path.join(files.pkiDir, 'trust-bundle.pem'),
  };
}
