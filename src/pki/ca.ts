/**
 * Creating and loading the mesh CA: a root, and optionally an intermediate
 * that signs the leaves so the root key can be kept away from daily use.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import forge from 'node-forge';
import { DAY_MS } from './duration';
import { PkiCode, pkiError } from './errors';
import { CERT_MODE, commitDir, ensurePrivateDir, KEY_MODE, stageDir, writeFileAtomic } from './fs-secure';
import { assertTrustDomain } from './identity';
import { forgePrivateKey, KeyGenerator, nativeRsaKeyGen } from './keys';
import {
  assertKeyMatches,
  CA_DIR,
  INTERMEDIATE_CERT,
  INTERMEDIATE_KEY,
  readStoreFile,
  ROOT_CERT,
  ROOT_KEY,
  TRUST_BUNDLE,
} from './store';
import { parseCertificates, parseSubjectAltNames } from './verify';
import { buildIntermediateCaCert, buildRootCaCert, Issuer } from './x509';

export const DEFAULT_CA_VALIDITY_MS = 365 * DAY_MS;

export interface InitCaOptions {
  readonly trustDomain: string;
  /** Also create an intermediate CA that signs leaves. Default false: the root signs them. */
  readonly intermediate?: boolean;
  /** Replace an existing CA. Default false: an existing CA is an error (PKI001). */
  readonly force?: boolean;
  /** Lifetime of the root (and intermediate). Default 365 days. */
  readonly validityMs?: number;
  /** Clock. Default: the current time. */
  readonly now?: Date;
  /** Key generator. Default: native RSA-2048. */
  readonly keyGen?: KeyGenerator;
}

export interface CaInfo {
  readonly trustDomain: string;
  readonly rootCertPem: string;
  readonly intermediateCertPem?: string;
  readonly notAfter: Date;
}

export function caExists(pkiDir: string): boolean {
  return [ROOT_CERT, ROOT_KEY, INTERMEDIATE_CERT, INTERMEDIATE_KEY].some((f) => fs.existsSync(path.join(pkiDir, f)));
}

/**
 * Creates the CA in a temp folder and swaps it in whole, then writes the
 * trust bundle. A replaced CA (force) invalidates every issued certificate:
 * `mesh certs rotate` re-issues them (they show as "untrusted").
 */
export async function initCa(pkiDir: string, options: InitCaOptions): Promise<CaInfo> {
  assertTrustDomain(options.trustDomain);
  if (!options.force && caExists(pkiDir)) {
    throw pkiError(PkiCode.caExists, `a CA already exists in ${path.join(pkiDir, CA_DIR)} (use --force to replace it and invalidate every issued certificate)`);
  }
  const keyGen = options.keyGen ?? nativeRsaKeyGen;
  const lifetime = { now: options.now ?? new Date(), validityMs: options.validityMs ?? DEFAULT_CA_VALIDITY_MS };
  ensurePrivateDir(pkiDir);
  const rootKeys = await keyGen();
  const rootCertPem = buildRootCaCert({ ...lifetime, ...rootKeys, trustDomain: options.trustDomain, pathLen: options.intermediate ? 1 : 0 });
  const files = [
    { name: path.basename(ROOT_CERT), data: rootCertPem, mode: CERT_MODE },
    { name: path.basename(ROOT_KEY), data: rootKeys.privateKeyPem, mode: KEY_MODE },
  ];
  let intermediateCertPem: string | undefined;
  if (options.intermediate) {
    const keys = await keyGen();
    const issuer: Issuer = { cert: forge.pki.certificateFromPem(rootCertPem), key: forge.pki.privateKeyFromPem(rootKeys.privateKeyPem) };
    intermediateCertPem = buildIntermediateCaCert({ ...lifetime, trustDomain: options.trustDomain, publicKeyPem: keys.publicKeyPem, issuer });
    files.push(
      { name: path.basename(INTERMEDIATE_CERT), data: intermediateCertPem, mode: CERT_MODE },
      { name: path.basename(INTERMEDIATE_KEY), data: keys.privateKeyPem, mode: KEY_MODE },
    );
  }
  commitDir(stageDir(pkiDir, 'ca', files), path.join(pkiDir, CA_DIR));
  writeFileAtomic(path.join(pkiDir, TRUST_BUNDLE), rootCertPem, CERT_MODE);
  const notAfter = new Date(new crypto.X509Certificate(rootCertPem).validTo);
  return { trustDomain: options.trustDomain, rootCertPem, intermediateCertPem, notAfter };
}

/** The CA that signs leaves, ready for forge, plus what goes into every chain. */
export interface SigningCa {
  /** From the root's spiffe://<td> URI SAN; absent for a root without one. */
  readonly trustDomain?: string;
  readonly root: crypto.X509Certificate;
  readonly intermediate?: crypto.X509Certificate;
  readonly issuer: Issuer;
  /** PEM of the intermediates to append after each leaf in chain.pem ('' without an intermediate). */
  readonly chainTailPem: string;
}

const NO_CA = 'no CA in this store (run `mesh certs init`)';

/** PKI002 missing, PKI003 corrupt, PKI004 key/cert or intermediate/root mismatch. */
export function loadSigningCa(pkiDir: string): SigningCa {
  const rootFile = path.join(pkiDir, ROOT_CERT);
  const [root] = parseCertificates(readStoreFile(rootFile, PkiCode.caMissing, NO_CA), rootFile);
  const interFile = path.join(pkiDir, INTERMEDIATE_CERT);
  const hasIntermediate = fs.existsSync(interFile);
  const signerFile = hasIntermediate ? interFile : rootFile;
  const keyFile = path.join(pkiDir, hasIntermediate ? INTERMEDIATE_KEY : ROOT_KEY);
  const signerPem = hasIntermediate ? readStoreFile(interFile, PkiCode.caMissing, NO_CA) : root.toString();
  const [signer] = hasIntermediate ? parseCertificates(signerPem, interFile) : [root];
  if (hasIntermediate && !(signer.checkIssued(root) && signer.verify(root.publicKey))) {
    throw pkiError(PkiCode.keyMismatch, `${interFile} is not signed by ${rootFile}`);
  }
  const keyPem = readStoreFile(keyFile, PkiCode.caMissing, `the CA key is missing; ${NO_CA}`);
  assertKeyMatches(keyPem, keyFile, signer, signerFile);
  return {
    trustDomain: caTrustDomain(root),
    root,
    intermediate: hasIntermediate ? signer : undefined,
    issuer: { cert: forgeCertificate(signer.toString(), signerFile), key: forgePrivateKey(keyPem, keyFile) },
    chainTailPem: hasIntermediate ? signer.toString() : '',
  };
}

function forgeCertificate(pem: string, file: string): forge.pki.Certificate {
  try {
    return forge.pki.certificateFromPem(pem);
  } catch {
    throw pkiError(PkiCode.badPem, `${file}: node-forge cannot read this certificate (not RSA?)`);
  }
}

/** A signing certificate's SPIFFE ID has no path (X509-SVID 3.2): spiffe://<td>. */
export function caTrustDomain(root: crypto.X509Certificate): string | undefined {
  const uri = parseSubjectAltNames(root.subjectAltName).find((s) => s.type === 'URI' && /^spiffe:\/\/[^/]+$/.test(s.value));
  return uri?.value.slice('spiffe://'.length);
}
