/**
 * Certificate rotation lint: problems in a PKI store that break mTLS now or
 * at the next rotation, which per-certificate expiry (`mesh certs check`)
 * cannot see because they are about how certificates, CAs and the trust
 * bundle relate:
 *
 *   MESH100  a workload certificate lives no longer than the rotation
 *            threshold: it is due for rotation the moment it is issued
 *   MESH101  the trust bundle does not contain the CA that issued a workload
 *   MESH102  a CA expires before a workload certificate it signed
 *   MESH103  CA rotated without an overlap window: the bundle dropped the old
 *            CA while certificates it signed are still valid
 *   MESH104  CA rotated without an overlap window: the new CA is not in the
 *            bundle yet (peers holding the bundle reject what it issues)
 *
 * Read-only and clock-injectable. Damaged files are left to `mesh certs
 * check` (it reports them as invalid); expired workloads are skipped (a dead
 * certificate has no rotation to get wrong, and check reports it expired).
 */
import type * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { diagAt, type Diagnostic } from '../diag/diagnostic';
import { UserError } from '../diag/errors';
import type { MeshModel } from '../model/types';
import { formatDuration } from '../pki/duration';
import { identityDir, identityLabel, type Identity } from '../pki/identity';
import { DEFAULT_ROTATE_THRESHOLD_MS } from '../pki/status';
import { CHAIN_FILE, INTERMEDIATE_CERT, ROOT_CERT, TRUST_BUNDLE, identityFolder, listIssued } from '../pki/store';
import { parseCertificates } from '../pki/verify';

export interface RotationOptions {
  readonly now?: Date;
  /** `mesh certs rotate --threshold`; default 8 h. */
  readonly thresholdMs?: number;
  /** How diagnostics name the store folder (default: `pkiDir`). */
  readonly displayDir?: string;
}

interface Store {
  readonly root?: crypto.X509Certificate;
  readonly intermediate?: crypto.X509Certificate;
  readonly bundle: readonly crypto.X509Certificate[];
}

/** A PKI store is there when it has a CA or a trust bundle (lint stays quiet for meshes without one). */
export function pkiStoreExists(pkiDir: string): boolean {
  return fs.existsSync(path.join(pkiDir, ROOT_CERT)) || fs.existsSync(path.join(pkiDir, TRUST_BUNDLE));
}

/** `mesh lint`'s hook: the store at the mesh's `pki_dir`, named as the mesh dir is. */
export function rotationLint(model: MeshModel, opts: Omit<RotationOptions, 'displayDir'> = {}): Diagnostic[] {
  const pkiDir = path.resolve(model.dir, model.settings.pkiDir);
  if (!pkiStoreExists(pkiDir)) return [];
  const displayDir = path.isAbsolute(model.settings.pkiDir) ? model.settings.pkiDir : path.join(model.displayDir, model.settings.pkiDir);
  return checkRotation(pkiDir, { ...opts, displayDir });
}

export function checkRotation(pkiDir: string, opts: RotationOptions = {}): Diagnostic[] {
  const store = readStore(pkiDir);
  if (!store) return [];
  const now = (opts.now ?? new Date()).getTime();
  const ctx: Ctx = { store, now, thresholdMs: opts.thresholdMs ?? DEFAULT_ROTATE_THRESHOLD_MS, shown: (rel) => path.join(opts.displayDir ?? pkiDir, rel) };
  const workloads = safeList(pkiDir).flatMap((id) => {
    const chain = readChain(pkiDir, id);
    return chain && time(chain[0].validTo) > now ? [workload(store, id, chain)] : [];
  });
  const newCa = newCaNotInBundle(ctx, workloads);
  return [...workloads.flatMap((w) => workloadFindings(ctx, w, newCa !== undefined)), ...(newCa ? [newCa] : [])];
}

interface Ctx {
  readonly store: Store;
  readonly now: number;
  readonly thresholdMs: number;
  readonly shown: (rel: string) => string;
}

interface Workload {
  readonly id: Identity;
  readonly leaf: crypto.X509Certificate;
  /** The CAs above the leaf, nearest first. */
  readonly issuers: readonly crypto.X509Certificate[];
  /** Issued by the store's current CA (root or intermediate). */
  readonly fromCurrent: boolean;
  /** Some CA above it is in the trust bundle. */
  readonly trusted: boolean;
}

function workload(store: Store, id: Identity, chain: readonly crypto.X509Certificate[]): Workload {
  const issuers = issuerPath(chain[0], [...chain.slice(1), ...caCerts(store), ...store.bundle]);
  return {
    id,
    leaf: chain[0],
    issuers,
    fromCurrent: issuers.some((c) => isCurrentCa(store, c)),
    trusted: issuers.some((c) => inBundle(store, c)),
  };
}

function workloadFindings(ctx: Ctx, w: Workload, newCaReported: boolean): Diagnostic[] {
  const label = identityLabel(w.id);
  const at = { file: ctx.shown(path.join(...identityDir(w.id).split('/'), CHAIN_FILE)), line: 1, col: 1 };
  const out: Diagnostic[] = [];
  const lifetime = time(w.leaf.validTo) - time(w.leaf.validFrom);
  if (lifetime <= ctx.thresholdMs) {
    out.push(diagAt(at, 'warning', 'MESH100', `${label} is valid for ${formatDuration(lifetime)}, not longer than the rotation threshold ${formatDuration(ctx.thresholdMs)}: it is due for rotation as soon as it is issued`, {
      hint: 'issue with a longer --validity (e.g. 3 x the threshold) or rotate with a shorter --threshold',
    }));
  }
  // With MESH104 reported, the new CA's missing bundle entry is said once, not once per certificate.
  if (!w.trusted && w.fromCurrent && !newCaReported) {
    out.push(diagAt(at, 'error', 'MESH101', `the trust bundle does not contain the CA that issued ${label} (${subjectOf(w.issuers[0])}): peers reject it`, {
      hint: `add ${ROOT_CERT} to ${TRUST_BUNDLE}`,
    }));
  } else if (!w.trusted && !w.fromCurrent) {
    const who = w.issuers.length ? subjectOf(w.issuers[0]) : `${commonName(w.leaf.issuer)}, no longer in the store`;
    out.push(diagAt(at, 'error', 'MESH103', `${label} was signed by a previous CA (${who}) that the trust bundle no longer contains, and stays valid until ${iso(w.leaf.validTo)}: CA rotation without an overlap window`, {
      hint: `keep the old CA in ${TRUST_BUNDLE} until everything it signed is re-issued (mesh certs rotate), or re-issue ${label} now`,
    }));
  }
  for (const ca of w.issuers) {
    if (time(ca.validTo) < time(w.leaf.validTo)) {
      out.push(diagAt(at, 'warning', 'MESH102', `CA ${subjectOf(ca)} expires ${iso(ca.validTo)}, before ${label} (${iso(w.leaf.validTo)}): the certificate stops verifying when the CA expires`, {
        hint: 'renew the CA before it expires, or issue workloads with a validity that ends before it',
      }));
    }
  }
  return out;
}

/**
 * MESH104: a rotation in progress done in the wrong order. The store signs
 * with a root the bundle lacks, while the bundle still carries the old CA
 * that valid workloads chain to. (A bundle that holds nothing in use is just
 * wrong, not a rotation: each workload then gets MESH101.)
 */
function newCaNotInBundle(ctx: Ctx, workloads: readonly Workload[]): Diagnostic | undefined {
  const { root } = ctx.store;
  if (!root || inBundle(ctx.store, root)) return undefined;
  if (!workloads.some((w) => w.trusted && !w.fromCurrent)) return undefined;
  const affected = workloads.filter((w) => w.fromCurrent && !w.trusted).map((w) => identityLabel(w.id));
  const at = { file: ctx.shown(TRUST_BUNDLE), line: 1, col: 1 };
  const held = ctx.store.bundle.map(subjectOf).join('; ');
  const already = affected.length ? ` (already issued and rejected: ${affected.join(', ')})` : '';
  return diagAt(at, 'error', 'MESH104', `the new CA ${subjectOf(root)} (${ROOT_CERT}) is not in the trust bundle, which holds only ${held}: peers reject every certificate it issues${already}`, {
    hint: `append ${ROOT_CERT} to ${TRUST_BUNDLE} (keep the old CA too) and let every node pick it up before issuing from the new CA`,
  });
}

/** The CAs above `leaf`, nearest first, found among `pool` by issuer name and signature. */
function issuerPath(leaf: crypto.X509Certificate, pool: readonly crypto.X509Certificate[]): crypto.X509Certificate[] {
  const path: crypto.X509Certificate[] = [];
  let cert = leaf;
  for (let depth = 0; depth < 8; depth++) {
    const parent = pool.find((c) => !path.includes(c) && c !== cert && cert.checkIssued(c) && cert.verify(c.publicKey));
    if (!parent) break;
    path.push(parent);
    if (parent.checkIssued(parent)) break; // self-signed root
    cert = parent;
  }
  return path;
}

function readStore(pkiDir: string): Store | undefined {
  const read = (rel: string): crypto.X509Certificate[] | undefined => {
    const file = path.join(pkiDir, rel);
    if (!fs.existsSync(file)) return undefined;
    try {
      return parseCertificates(fs.readFileSync(file, 'utf8'), file);
    } catch (err) {
      if (err instanceof UserError || (err as NodeJS.ErrnoException).code) return undefined;
      throw err;
    }
  };
  const bundle = read(TRUST_BUNDLE);
  // Without a readable bundle there is nothing to relate: `mesh certs check` reports the damage.
  if (!bundle) return undefined;
  return { root: read(ROOT_CERT)?.[0], intermediate: read(INTERMEDIATE_CERT)?.[0], bundle };
}

function readChain(pkiDir: string, id: Identity): crypto.X509Certificate[] | undefined {
  const file = path.join(identityFolder(pkiDir, id), CHAIN_FILE);
  try {
    return parseCertificates(fs.readFileSync(file, 'utf8'), file);
  } catch {
    return undefined; // invalid: reported by `mesh certs check`
  }
}

function safeList(pkiDir: string): Identity[] {
  try {
    return listIssued(pkiDir);
  } catch {
    return [];
  }
}

function caCerts(store: Store): crypto.X509Certificate[] {
  return [store.intermediate, store.root].filter((c): c is crypto.X509Certificate => c !== undefined);
}

function isCurrentCa(store: Store, c: crypto.X509Certificate): boolean {
  return caCerts(store).some((ca) => ca.raw.equals(c.raw));
}

function inBundle(store: Store, c: crypto.X509Certificate): boolean {
  return store.bundle.some((b) => b.raw.equals(c.raw));
}

function subjectOf(c: crypto.X509Certificate): string {
  return `${commonName(c.subject)}, serial ${c.serialNumber.slice(0, 16).toLowerCase()}`;
}

/** The CN of a distinguished name as Node prints it (one `K=V` per line), else the whole name. */
function commonName(dn: string): string {
  return /^CN=(.+)$/m.exec(dn)?.[1] ?? dn.replace(/\n/g, ', ');
}

function time(s: string): number {
  return new Date(s).getTime();
}

function iso(s: string): string {
  return new Date(s).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
