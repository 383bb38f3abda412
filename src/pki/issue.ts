/**
 * Issuing leaf certificates into the store. Everything is minted in memory
 * first, then every identity is written into its own temp folder, and only
 * when all are staged is each swapped into place by rename: a bad CA, a bad
 * name or an unwritable folder leaves the store exactly as it was, and no
 * reader ever sees a key next to a certificate it does not belong to.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadSigningCa, SigningCa } from './ca';
import { HOUR_MS } from './duration';
import { PkiCode, pkiError } from './errors';
import { CERT_MODE, commitDir, ensurePrivateDir, FileSpec, KEY_MODE, stageDir } from './fs-secure';
import { assertIdentity, assertTrustDomain, Identity, identityLabel, identitySpiffeId } from './identity';
import { KeyGenerator, nativeRsaKeyGen } from './keys';
import { CERT_FILE, CHAIN_FILE, identityFolder, KEY_FILE } from './store';
import { buildLeafCert } from './x509';

export const DEFAULT_LEAF_VALIDITY_MS = 24 * HOUR_MS;

export interface IssueOptions {
  /** Must match the CA's trust domain (PKI010). */
  readonly trustDomain: string;
  /** Leaf lifetime. Default 24 hours; capped at the CA's own notAfter. */
  readonly validityMs?: number;
  /** Clock. Default: the current time. Tests pass a past time to get expired certificates. */
  readonly now?: Date;
  /** Key generator. Default: native RSA-2048. */
  readonly keyGen?: KeyGenerator;
  /** Keys generated at the same time. Default: os.availableParallelism(), one per core. */
  readonly concurrency?: number;
}

/** A leaf in memory, before it is written. */
export interface MintedLeaf {
  readonly identity: Identity;
  readonly spiffeId: string;
  readonly certPem: string;
  readonly chainPem: string;
  readonly keyPem: string;
  readonly notAfter: Date;
  /** Hex, as OpenSSL prints it. */
  readonly serial: string;
}

export interface IssuedCert {
  readonly identity: Identity;
  readonly spiffeId: string;
  readonly notAfter: Date;
  readonly serial: string;
  readonly folder: string;
}

/** One key and one certificate for `identity`, signed by `ca`. No files. */
export async function mintLeaf(ca: SigningCa, identity: Identity, options: IssueOptions): Promise<MintedLeaf> {
  const keys = await (options.keyGen ?? nativeRsaKeyGen)();
  const certPem = buildLeafCert({
    trustDomain: options.trustDomain,
    identity,
    publicKeyPem: keys.publicKeyPem,
    issuer: ca.issuer,
    now: options.now ?? new Date(),
    validityMs: options.validityMs ?? DEFAULT_LEAF_VALIDITY_MS,
  });
  const x509 = new crypto.X509Certificate(certPem);
  return {
    identity,
    spiffeId: identitySpiffeId(options.trustDomain, identity),
    certPem,
    chainPem: certPem + ca.chainTailPem,
    keyPem: keys.privateKeyPem,
    notAfter: new Date(x509.validTo),
    serial: x509.serialNumber,
  };
}

/** Issues (or re-issues) every identity in `identities` into the store at `pkiDir`. */
export async function issueIdentities(pkiDir: string, identities: readonly Identity[], options: IssueOptions): Promise<IssuedCert[]> {
  assertTrustDomain(options.trustDomain);
  identities.forEach(assertIdentity);
  const unique = [...new Map(identities.map((id) => [identityLabel(id), id])).values()];
  const ca = loadSigningCa(pkiDir);
  if (ca.trustDomain !== undefined && ca.trustDomain !== options.trustDomain) {
    throw pkiError(PkiCode.trustDomainMismatch, `the CA in ${pkiDir} is for trust domain ${ca.trustDomain}, the mesh is ${options.trustDomain}`);
  }
  const concurrency = options.concurrency ?? os.availableParallelism();
  const minted = await mapLimit(unique, concurrency, (id) => mintLeaf(ca, id, options));
  writeLeaves(pkiDir, minted);
  return minted.map((m) => ({
    identity: m.identity,
    spiffeId: m.spiffeId,
    notAfter: m.notAfter,
    serial: m.serial,
    folder: identityFolder(pkiDir, m.identity),
  }));
}

function leafFiles(m: MintedLeaf): FileSpec[] {
  return [
    { name: CERT_FILE, data: m.certPem, mode: CERT_MODE },
    { name: CHAIN_FILE, data: m.chainPem, mode: CERT_MODE },
    { name: KEY_FILE, data: m.keyPem, mode: KEY_MODE },
  ];
}

/** Stage all, then commit all; whatever was staged but not committed is removed. */
function writeLeaves(pkiDir: string, minted: readonly MintedLeaf[]): void {
  const staged: { dir: string; target: string }[] = [];
  let committed = 0;
  try {
    for (const m of minted) {
      const target = identityFolder(pkiDir, m.identity);
      ensurePrivateDir(path.dirname(target));
      staged.push({ dir: stageDir(path.dirname(target), path.basename(target), leafFiles(m)), target });
    }
    for (const s of staged) {
      commitDir(s.dir, s.target);
      committed++;
    }
  } finally {
    for (const s of staged.slice(committed)) fs.rmSync(s.dir, { recursive: true, force: true });
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
