/**
 * `envoy --mode validate` for the real-Envoy tests: one process per config,
 * two at a time (the machines we run on have two cores, and the rest of the
 * suite runs beside these tests).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCommand, type CmdResult } from '../../src/compose/runtime';
import { initCa, issueIdentities, nativeRsaKeyGen, service, type KeyGenerator } from '../../src/pki';
import { mapLimit } from '../../src/pki/issue';

export const ENVOY_PARALLEL = 2;

export interface NodeManifest {
  readonly kind: 'envoy' | 'grpc';
  readonly bootstrap?: { readonly file: string };
}

export function envoyValidate(envoyBin: string, config: string, cwd?: string): Promise<CmdResult> {
  // Only what makes Envoy refuse a config is printed at `error`; the rest is noise here.
  return runCommand([envoyBin, '--mode', 'validate', '-c', config, '--log-level', 'error'], { timeoutMs: 60_000, ...(cwd ? { cwd } : {}) });
}

export function inPairs<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  return mapLimit(items, ENVOY_PARALLEL, fn);
}

/** Envoy's reason for refusing a config: its first error line, without the log prefix. */
export function envoyReason(r: CmdResult): string {
  const text = `${r.stdout}\n${r.stderr}`;
  const line = text.split('\n').find((l) => /\[(critical|error)\]/.test(l)) ?? text.trim().split('\n').slice(-1)[0] ?? '';
  return line.replace(/^\[[^\]]*\]\[\d+\]\[\w+\]\[\w+\] \[[^\]]*\] /, '').slice(0, 400);
}

/** The nodes of a built out/ tree (its manifest.json), by name. */
export function builtNodes(outDir: string): Array<[string, NodeManifest]> {
  const manifest = JSON.parse(fs.readFileSync(path.join(outDir, 'manifest.json'), 'utf8')) as { nodes: Record<string, NodeManifest> };
  return Object.entries(manifest.nodes).sort(([a], [b]) => (a < b ? -1 : 1));
}

/**
 * A PKI for many services in a few seconds: a real CA and one certificate per
 * service (its own SPIFFE identity and serial), all sharing one RSA key
 * pair. Generating 300 RSA keys takes two minutes here; what Envoy's validate
 * mode checks (files readable, PEMs parse, the key matches its certificate)
 * does not depend on the keys being distinct.
 */
export async function sharedKeyPki(pkiDir: string, trustDomain: string, services: readonly string[]): Promise<void> {
  await initCa(pkiDir, { trustDomain });
  const pair = await nativeRsaKeyGen();
  const keyGen: KeyGenerator = async () => pair;
  await issueIdentities(pkiDir, services.map((s) => service(s)), { trustDomain, keyGen });
}
