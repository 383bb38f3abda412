/** A control plane in-process on loopback with free ports, and a PKI for it. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { admin, controlPlane, initCa, issueIdentities, service, type Identity } from '../../src/pki';
import { silentLogger } from '../../src/xds/log';
import { startControlPlane, type RunningControlPlane } from '../../src/xds/serve';

export async function makePki(dir: string, trustDomain: string, services: readonly string[], admins: readonly string[] = ['ops']): Promise<string> {
  await initCa(dir, { trustDomain });
  const ids: Identity[] = [...services.map(service), ...admins.map(admin), controlPlane];
  await issueIdentities(dir, ids, { trustDomain });
  return dir;
}

export function tmp(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface TestPlaneOptions {
  readonly meshDir: string;
  readonly pkiDir?: string;
  readonly storeDir?: string;
  readonly insecure?: boolean;
  readonly proxyless?: boolean;
}

export async function startTestPlane(o: TestPlaneOptions): Promise<RunningControlPlane> {
  return startControlPlane({
    meshDir: o.meshDir,
    ...(o.storeDir ? { storeDir: o.storeDir } : {}),
    ...(o.pkiDir ? { pkiDir: o.pkiDir } : {}),
    host: '127.0.0.1',
    xdsPort: 0,
    adminPort: 0,
    ...(o.proxyless ? { proxylessPort: 0 } : {}),
    insecure: !!o.insecure,
    log: silentLogger,
  });
}

/** Channel credentials of one identity of the PKI store, as a node would present them. */
export function nodeCredentials(pkiDir: string, folder: string): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(
    fs.readFileSync(path.join(pkiDir, 'trust-bundle.pem')),
    fs.readFileSync(path.join(pkiDir, folder, 'key.pem')),
    fs.readFileSync(path.join(pkiDir, folder, 'chain.pem')),
  );
}

/** TLS material of one identity of a PKI store, for admin API clients (`caDir`: whose trust bundle to trust). */
export function identityTls(pkiDir: string, folder: string, caDir = pkiDir): { caPem: string; certPem: string; keyPem: string } {
  return {
    caPem: fs.readFileSync(path.join(caDir, 'trust-bundle.pem'), 'utf8'),
    certPem: fs.readFileSync(path.join(pkiDir, folder, 'chain.pem'), 'utf8'),
    keyPem: fs.readFileSync(path.join(pkiDir, folder, 'key.pem'), 'utf8'),
  };
}
