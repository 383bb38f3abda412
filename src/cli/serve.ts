import * as path from 'node:path';
import { Command } from 'commander';
import { loadSettingsSync } from '../config/load';
import { lintMesh } from '../lint';
import { jsonLogger, type LogLevel } from '../xds/log';
import type { SetExit } from './main';
import { UserError } from '../diag/errors';
import type { MeshModel } from '../model/types';

// The store modules are loaded when serve uses them: through them `pg` was ~50 ms of every other command's start.
function isPostgresUrl(spec: string): boolean {
  return (require('../store/open') as typeof import('../store/open')).isPostgresUrl(spec);
}

function redact(spec: string): string {
  return (require('../store/postgres-store') as typeof import('../store/postgres-store')).redact(spec);
}

interface ServeFlags {
  readonly store?: string;
  readonly pki?: string;
  readonly listen: string;
  readonly xdsPort?: string;
  readonly adminPort?: string;
  readonly proxylessPort?: string;
  readonly insecure: boolean;
  readonly logLevel: LogLevel;
}

export function registerServe(program: Command, setExit: SetExit): void {
  program
    .command('serve')
    .description('run the control plane: xDS (ADS) for sidecars and proxyless gRPC, the admin API, the registry')
    .argument('[dir]', 'mesh directory applied at start when the store is empty', '.')
    .option('--store <dir|url>', 'where applied revisions are kept: a folder, or postgres://... shared by replicas (default: control_plane.store of mesh.yml, else .mesh-store)')
    .option('--pki <dir>', 'PKI store (default: <mesh>/<pki_dir>)')
    .option('--listen <host>', 'address for the xDS and admin ports', '127.0.0.1')
    .option('--xds-port <port>', 'xDS port (default: control_plane.xds_port)')
    .option('--admin-port <port>', 'admin API port (default: control_plane.admin_port)')
    .option('--proxyless-port <port>', 'plaintext xDS on 127.0.0.1 for proxyless gRPC clients (default: control_plane.grpc_xds_port when the mesh has grpc services)')
    .option('--insecure', 'plaintext everywhere, no authentication: local development only', false)
    .option('--log-level <level>', 'debug, info, warn or error', 'info')
    .action(async (dir: string, flags: ServeFlags) => setExit(await runServe(dir, flags)));
}

async function runServe(dir: string, flags: ServeFlags): Promise<number> {
  // Loaded here, not at import: the control plane's modules were ~85 ms of every `mesh build --check`'s start.
  const { startControlPlane } = require('../xds/serve') as typeof import('../xds/serve');
  const log = jsonLogger(undefined, flags.logLevel);
  // Settings come from the mesh directory's mesh.yml; a broken mesh is reported by startControlPlane. Only
  // mesh.yml is read here: linting every manifest for the ports was a second of a 2,000-service start.
  const settings = loadSettingsSync(dir) ?? lintMesh(dir).model?.settings;
  // Proxyless members need the plaintext loopback port; open it only when the served mesh has some.
  const proxyless = flags.proxylessPort !== undefined ? Number(flags.proxylessPort) : (served: MeshModel | undefined) => (served?.services.some((s) => s.protocol === 'grpc') && settings ? settings.controlPlane.grpcXdsPort : undefined);
  const store = storeOf(flags.store, settings?.controlPlane.store, dir);
  const running = await startControlPlane({
    meshDir: dir,
    store,
    pkiDir: flags.pki ?? path.resolve(dir, settings?.pkiDir ?? 'pki'),
    host: flags.listen,
    xdsPort: Number(flags.xdsPort ?? settings?.controlPlane.xdsPort ?? 18000),
    adminPort: Number(flags.adminPort ?? settings?.controlPlane.adminPort ?? 18001),
    proxylessPort: proxyless,
    insecure: flags.insecure,
    log,
  });
  if (running.cp.storeProblem) process.stderr.write(`mesh serve: error ${running.cp.storeProblem}; serving ${dir} instead\n`);
  process.stdout.write(`mesh serve: store ${isPostgresUrl(store) ? redact(store) : store}\n`);
  process.stdout.write(`mesh serve: xDS ${flags.listen}:${running.ports.xds}${flags.insecure ? ' (INSECURE)' : ' (mTLS)'}, admin ${flags.insecure ? '127.0.0.1' : flags.listen}:${running.ports.admin}${running.ports.proxyless !== undefined ? `, proxyless xDS 127.0.0.1:${running.ports.proxyless}` : ''}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await running.stop();
  return 0;
}

/** --store, else mesh.yml's control_plane.store (a folder there is relative to the mesh directory), else .mesh-store. */
export function storeOf(flag: string | undefined, fromMesh: { value: string; pos: { file: string; line: number; col: number } } | undefined, meshDir: string): string {
  const spec = flag ?? fromMesh?.value ?? '.mesh-store';
  if (spec.includes('://') && !isPostgresUrl(spec)) {
    const where = flag === undefined && fromMesh ? `${fromMesh.pos.file}:${fromMesh.pos.line}:${fromMesh.pos.col}: ` : '--store: ';
    throw new UserError('MESH205', `${where}store "${redact(spec)}" is neither a folder nor a postgres:// URL`);
  }
  if (flag === undefined && fromMesh && !isPostgresUrl(spec)) return path.resolve(meshDir, spec);
  return spec;
}
