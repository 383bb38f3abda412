/** Options shared by the commands that talk to a running control plane (apply, status). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { UserError } from '../diag/errors';
import { admin, issueCommand, loadCredentials, PkiCode } from '../pki';
import type { AdminClientOptions } from '../xds/admin-client';

export interface ClientFlags {
  readonly server?: string;
  readonly pki?: string;
  readonly admin: string;
}

export function clientOptions(cmd: Command): Command {
  return cmd
    .option('--server <url>', 'admin API of the control plane (default: https://<control_plane.address>:<admin_port> of mesh.yml)')
    .option('--pki <dir>', 'PKI store holding the admin certificate (default: <mesh>/pki)')
    .option('--admin <name>', 'admin identity to use (issued with `mesh certs issue --admin <name>`)', 'ops');
}

/** mesh.yml's control_plane block, read leniently (lint reports its errors, not this). */
function controlPlaneOf(meshDir: string): { address: string; adminPort: number; pkiDir: string } {
  let v: Record<string, unknown> = {};
  try {
    v = (parseYaml(fs.readFileSync(path.join(meshDir, 'mesh.yml'), 'utf8')) ?? {}) as Record<string, unknown>;
  } catch {
    /* defaults */
  }
  const cp = (v.control_plane ?? {}) as Record<string, unknown>;
  return {
    address: typeof cp.address === 'string' ? cp.address : '127.0.0.1',
    adminPort: typeof cp.admin_port === 'number' ? cp.admin_port : 18001,
    // resolve, not join: an absolute pki_dir must stay absolute.
    pkiDir: path.resolve(meshDir, typeof v.pki_dir === 'string' ? v.pki_dir : 'pki'),
  };
}

export function resolveClient(flags: ClientFlags, meshDir = '.'): AdminClientOptions {
  const cp = controlPlaneOf(meshDir);
  const server = flags.server ?? `https://${cp.address}:${cp.adminPort}`;
  if (server.startsWith('http://')) return { server };
  const pkiDir = flags.pki ?? cp.pkiDir;
  try {
    const creds = loadCredentials(pkiDir, admin(flags.admin));
    return { server, tls: { caPem: creds.trustBundlePem, certPem: creds.chainPem, keyPem: creds.keyPem } };
  } catch (err) {
    if (!(err instanceof UserError) || err.code !== PkiCode.notIssued) {
      throw new UserError('MESH096', `the admin certificate "${flags.admin}" in ${pkiDir} cannot be used: ${(err as Error).message}`);
    }
    // One fix, spelled for where the user stands: the store's own hint does not know --mesh or --pki.
    const where = flags.pki !== undefined ? ` --mesh ${meshDir} --dir ${flags.pki}` : meshDir !== '.' ? ` --mesh ${meshDir}` : '';
    throw new UserError('MESH096', `no admin certificate "${flags.admin}" in ${pkiDir}; issue it with: ${issueCommand(admin(flags.admin))}${where}`);
  }
}
