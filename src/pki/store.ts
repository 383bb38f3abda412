/**
 * The PKI store on disk, and the read side used by the CLI and (later) the
 * xDS server's SDS and the admin API. Layout (documented in docs/pki.md):
 *
 *   <pki>/ca/ca.crt, ca.key                      root CA (key 0600)
 *   <pki>/ca/intermediate.crt, intermediate.key  optional intermediate that signs leaves
 *   <pki>/trust-bundle.pem                       the root: what every peer trusts
 *   <pki>/svc/<name>/{cert.pem,key.pem,chain.pem}
 *   <pki>/admin/<name>/{...}  <pki>/control-plane/{...}
 *
 * cert.pem is the leaf alone; chain.pem is the leaf plus intermediates (what
 * a server presents, Envoy's `certificate_chain`); the root never travels in
 * a chain, peers already hold it in the bundle.
 */
import type * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../diag/errors';
import { ioError, PkiCode, PkiErrorCode, pkiError } from './errors';
import { TEMP_PREFIX } from './fs-secure';
import { admin, controlPlane, Identity, identityDir, identityLabel, identitySpiffeId, issueCommand, service } from './identity';
import { keyMatchesPublicKey, parsePrivateKey } from './keys';
import { parseCertificates, PeerIdentity, spiffeIdFromSan } from './verify';

export const CA_DIR = 'ca';
export const ROOT_CERT = 'ca/ca.crt';
export const ROOT_KEY = 'ca/ca.key';
export const INTERMEDIATE_CERT = 'ca/intermediate.crt';
export const INTERMEDIATE_KEY = 'ca/intermediate.key';
export const TRUST_BUNDLE = 'trust-bundle.pem';
export const CERT_FILE = 'cert.pem';
export const KEY_FILE = 'key.pem';
export const CHAIN_FILE = 'chain.pem';

export function identityFolder(pkiDir: string, id: Identity): string {
  return path.join(pkiDir, ...identityDir(id).split('/'));
}

export interface CredentialPaths {
  readonly cert: string;
  readonly key: string;
  readonly chain: string;
  readonly trustBundle: string;
}

/**
 * Where an identity's files sit inside the store, relative and '/'-separated:
 * for bootstraps that reference files (paths as the node sees them) instead of SDS.
 * Servers must present `chain` (leaf + intermediates), not `cert`.
 */
export function credentialPaths(id: Identity): CredentialPaths {
  const dir = identityDir(id);
  return { cert: `${dir}/${CERT_FILE}`, key: `${dir}/${KEY_FILE}`, chain: `${dir}/${CHAIN_FILE}`, trustBundle: TRUST_BUNDLE };
}

/** Reads a store file; a missing file becomes `missingCode` (CA missing, not issued), anything else PKI005. */
export function readStoreFile(file: string, missingCode: PkiErrorCode, missingHint: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw pkiError(missingCode, `${file} not found: ${missingHint}`);
    throw ioError('read', file, err);
  }
}

export interface TrustBundle {
  readonly pem: string;
  readonly certs: readonly crypto.X509Certificate[];
}

/** The CA bundle peers verify against (Envoy's `trusted_ca`, tls `ca`). */
export function loadTrustBundle(pkiDir: string): TrustBundle {
  const file = path.join(pkiDir, TRUST_BUNDLE);
  const pem = readStoreFile(file, PkiCode.caMissing, 'no CA in this store (run `mesh certs init`)');
  return { pem, certs: parseCertificates(pem, file) };
}

export interface Credentials {
  readonly identity: Identity;
  readonly spiffeId: string;
  /** The leaf alone. */
  readonly certPem: string;
  /** Leaf + intermediates: present this to peers. */
  readonly chainPem: string;
  readonly keyPem: string;
  readonly trustBundlePem: string;
  readonly notAfter: Date;
}

/**
 * Loads one identity's credentials for serving (SDS) or dialing, and checks
 * they hang together: parseable PEMs (PKI003), the key belongs to the
 * certificate (PKI004), and the certificate is for this identity (PKI013).
 * Expiry is not checked here: `mesh certs check` reports it, and a server
 * should keep serving its last certificate rather than nothing.
 */
export function loadCredentials(pkiDir: string, identity: Identity, trustDomain?: string): Credentials {
  const folder = identityFolder(pkiDir, identity);
  const hint = `${identityLabel(identity)} has not been issued (run \`${issueCommand(identity)}\`)`;
  const certFile = path.join(folder, CERT_FILE);
  const keyFile = path.join(folder, KEY_FILE);
  const chainFile = path.join(folder, CHAIN_FILE);
  const certPem = readStoreFile(certFile, PkiCode.notIssued, hint);
  const keyPem = readStoreFile(keyFile, PkiCode.notIssued, hint);
  const chainPem = readStoreFile(chainFile, PkiCode.notIssued, hint);
  const [leaf] = parseCertificates(certPem, certFile);
  const [chainLeaf] = parseCertificates(chainPem, chainFile);
  if (!chainLeaf.raw.equals(leaf.raw)) {
    throw pkiError(PkiCode.keyMismatch, `${chainFile} does not start with the certificate in ${certFile}`);
  }
  assertKeyMatches(keyPem, keyFile, leaf, certFile);
  const peer = storeSpiffeId(leaf, certFile);
  const expected = identitySpiffeId(trustDomain ?? peer.trustDomain, identity);
  if (peer.spiffeId !== expected) {
    throw pkiError(PkiCode.spiffeMismatch, `${certFile} is for ${peer.spiffeId}, expected ${expected}`);
  }
  const trustBundlePem = loadTrustBundle(pkiDir).pem;
  return { identity, spiffeId: peer.spiffeId, certPem, chainPem, keyPem, trustBundlePem, notAfter: new Date(leaf.validTo) };
}

/** A store file with no usable SPIFFE ID is bad input (exit 2), not a failed peer check (exit 1). */
function storeSpiffeId(leaf: crypto.X509Certificate, certFile: string): PeerIdentity {
  try {
    return spiffeIdFromSan(leaf.subjectAltName, certFile);
  } catch (err) {
    if (err instanceof UserError) throw pkiError(PkiCode.spiffeMismatch, err.message);
    throw err;
  }
}

/** For SDS: a service's chain, key and the trust bundle, by service name. */
export function loadServiceCredentials(pkiDir: string, name: string, trustDomain?: string): Credentials {
  return loadCredentials(pkiDir, service(name), trustDomain);
}

export function assertKeyMatches(keyPem: string, keyFile: string, cert: crypto.X509Certificate, certFile: string): void {
  const key = parsePrivateKey(keyPem, keyFile);
  if (!keyMatchesPublicKey(key, cert.publicKey)) {
    throw pkiError(PkiCode.keyMismatch, `${keyFile} is not the private key of ${certFile}`);
  }
}

/** Every identity folder with a cert.pem in it, sorted by label. Temp folders (.tmp-*) are skipped. */
export function listIssued(pkiDir: string): Identity[] {
  const found: Identity[] = [];
  if (fs.existsSync(path.join(identityFolder(pkiDir, controlPlane), CERT_FILE))) found.push(controlPlane);
  for (const [kind, make] of [['admin', admin], ['svc', service]] as const) {
    const parent = path.join(pkiDir, kind);
    if (!fs.existsSync(parent)) continue;
    let names: string[];
    try {
      names = fs.readdirSync(parent);
    } catch (err) {
      throw ioError('list', parent, err);
    }
    for (const name of names.sort()) {
      if (name.startsWith(TEMP_PREFIX) || name.startsWith('.')) continue;
      if (fs.existsSync(path.join(parent, name, CERT_FILE))) found.push(make(name));
    }
  }
  return found.sort((a, b) => (identityLabel(a) < identityLabel(b) ? -1 : 1));
}
