/**
 * `check` and `rotate`: the state of every certificate in the store, and
 * re-issuing the ones that are due. A damaged identity is reported as a row,
 * never aborts the scan (one bad folder must not hide the others' expiry).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../diag/errors';
import { loadSigningCa, SigningCa } from './ca';
import { HOUR_MS } from './duration';
import { KEY_MODE } from './fs-secure';
import { compareIdentities, Identity, identityLabel, issueCommand, serviceWithDns } from './identity';
import { issueIdentities, IssueOptions, IssuedCert } from './issue';
import { CERT_FILE, identityFolder, KEY_FILE, listIssued, loadCredentials, loadTrustBundle, ROOT_CERT } from './store';
import { parseCertificates, verifyPeerChain } from './verify';

export const DEFAULT_ROTATE_THRESHOLD_MS = 8 * HOUR_MS;

/**
 * Worst first: invalid (unreadable, key mismatch, wrong identity), insecure
 * (key file readable by others), untrusted (does not chain to the current
 * trust bundle, e.g. after `init --force`), expired, expiring (within the
 * threshold), missing (declared but never issued), ok.
 */
export type CertState = 'ok' | 'expiring' | 'expired' | 'untrusted' | 'insecure' | 'invalid' | 'missing';

export interface CertStatus {
  /** "ca/root", "ca/intermediate", "svc/<name>", "admin/<name>", "control-plane". */
  readonly label: string;
  readonly identity?: Identity;
  readonly spiffeId?: string;
  readonly notAfter?: Date;
  /** notAfter - now, in milliseconds (negative when expired). */
  readonly msLeft?: number;
  readonly state: CertState;
  /** Why the state is not ok (the error code and message for invalid ones). */
  readonly detail?: string;
}

export interface CheckOptions {
  /** Certificates expiring within this are "expiring". Default 8 hours. */
  readonly thresholdMs?: number;
  readonly now?: Date;
  /** Identities that should exist (e.g. every service of the mesh): absent ones are "missing". */
  readonly expected?: readonly Identity[];
}

/** One row per CA certificate and per issued (or expected) identity. PKI002 if there is no CA. */
export function checkStore(pkiDir: string, options: CheckOptions = {}): CertStatus[] {
  const now = options.now ?? new Date();
  const thresholdMs = options.thresholdMs ?? DEFAULT_ROTATE_THRESHOLD_MS;
  const ca = loadSigningCa(pkiDir);
  const bundle = loadTrustBundle(pkiDir).certs;
  const rows = caRows(ca, bundle, now, thresholdMs);
  const issued = listIssued(pkiDir);
  for (const id of issued) rows.push(identityRow(pkiDir, id, ca, bundle, now, thresholdMs));
  const issuedLabels = new Set(issued.map(identityLabel));
  const missing = (options.expected ?? []).filter((id) => !issuedLabels.has(identityLabel(id)));
  for (const id of [...missing].sort(compareIdentities)) {
    rows.push({ label: identityLabel(id), identity: id, state: 'missing', detail: `not issued (run \`${issueCommand(id)}\`)` });
  }
  return rows;
}

export function isHealthy(rows: readonly CertStatus[]): boolean {
  return rows.every((r) => r.state === 'ok');
}

function caRows(ca: SigningCa, bundle: readonly crypto.X509Certificate[], now: Date, thresholdMs: number): CertStatus[] {
  const rootInBundle = bundle.some((b) => b.raw.equals(ca.root.raw));
  const rows: CertStatus[] = [
    timeRow('ca/root', ca.root, now, thresholdMs, rootInBundle ? undefined : `${ROOT_CERT} is not in the trust bundle`),
  ];
  if (ca.intermediate) rows.push(timeRow('ca/intermediate', ca.intermediate, now, thresholdMs));
  return rows;
}

function timeRow(label: string, cert: crypto.X509Certificate, now: Date, thresholdMs: number, untrusted?: string): CertStatus {
  const notAfter = new Date(cert.validTo);
  const msLeft = notAfter.getTime() - now.getTime();
  const base = { label, notAfter, msLeft };
  if (untrusted) return { ...base, state: 'untrusted', detail: untrusted };
  if (msLeft <= 0) return { ...base, state: 'expired', detail: `expired ${notAfter.toISOString()}` };
  if (msLeft < thresholdMs) return { ...base, state: 'expiring', detail: 'expires within the rotation threshold' };
  return { ...base, state: 'ok' };
}

function identityRow(
  pkiDir: string,
  id: Identity,
  ca: SigningCa,
  bundle: readonly crypto.X509Certificate[],
  now: Date,
  thresholdMs: number,
): CertStatus {
  const label = identityLabel(id);
  try {
    const creds = loadCredentials(pkiDir, id, ca.trustDomain);
    const chain = parseCertificates(creds.chainPem, 'chain.pem');
    const insecure = keyModeProblem(path.join(identityFolder(pkiDir, id), KEY_FILE));
    const row = { ...timeRow(label, chain[0], now, thresholdMs, untrustedReason(chain, bundle)), identity: id, spiffeId: creds.spiffeId };
    return insecure && row.state === 'ok' ? { ...row, state: 'insecure', detail: insecure } : row;
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    return { label, identity: id, state: 'invalid', detail: `${err.code}: ${err.message}` };
  }
}

/** Chain verification independent of the clock: expiry is reported separately, and an expired leaf may also be untrusted. */
function untrustedReason(chain: readonly crypto.X509Certificate[], bundle: readonly crypto.X509Certificate[]): string | undefined {
  const from = new Date(chain[0].validFrom).getTime();
  const to = new Date(chain[0].validTo).getTime();
  try {
    verifyPeerChain(chain, bundle, { now: new Date(from + (to - from) / 2) });
    return undefined;
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    return `${err.code}: ${err.message}`;
  }
}

function keyModeProblem(keyFile: string): string | undefined {
  const mode = fs.statSync(keyFile).mode & 0o777;
  return (mode & ~KEY_MODE) === 0 ? undefined : `${keyFile} has mode 0${mode.toString(8)}, expected 0600 (chmod 600 it)`;
}

export interface RotateOptions extends IssueOptions {
  /** Re-issue what expires within this. Default 8 hours. */
  readonly thresholdMs?: number;
}

export interface RotateResult {
  /** The state of every identity before rotation (CA rows excluded). */
  readonly before: readonly CertStatus[];
  readonly rotated: readonly IssuedCert[];
  /** Rows that need a human (invalid or insecure): rotate does not overwrite what it cannot read. */
  readonly needsAttention: readonly CertStatus[];
}

const DUE: ReadonlySet<CertState> = new Set<CertState>(['expiring', 'expired', 'untrusted']);

/**
 * A service identity re-issued with the extra DNS names its current
 * certificate carries (an ingress gateway's public hostnames, put there by
 * `mesh certs issue`): rotating must not drop the names citizens connect to.
 */
function withIssuedDns(pkiDir: string, id: Identity): Identity {
  if (id.kind !== 'svc') return id;
  try {
    const cert = new crypto.X509Certificate(fs.readFileSync(path.join(identityFolder(pkiDir, id), CERT_FILE)));
    const own = new Set([id.name, `${id.name}.svc`]);
    const dns = (cert.subjectAltName ?? '').split(/,\s*/).filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)).filter((d) => !own.has(d));
    return dns.length ? serviceWithDns(id.name, dns) : id;
  } catch {
    return id; // unreadable: re-issued with the default names (the row said why)
  }
}

/** Re-issues every issued identity that is expiring, expired or untrusted, in one atomic batch per identity. */
export async function rotate(pkiDir: string, options: RotateOptions): Promise<RotateResult> {
  const before = checkStore(pkiDir, { now: options.now, thresholdMs: options.thresholdMs }).filter((r) => r.identity);
  const due = before.filter((r) => DUE.has(r.state)).map((r) => withIssuedDns(pkiDir, r.identity as Identity));
  const rotated = due.length ? await issueIdentities(pkiDir, due, options) : [];
  const needsAttention = before.filter((r) => r.state === 'invalid' || r.state === 'insecure');
  return { before, rotated, needsAttention };
}
