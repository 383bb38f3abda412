/**
 * PKI error codes. Every user-facing PKI failure is a `UserError` carrying one
 * of these codes; each is documented in docs/pki.md (keep the two in step).
 * Exit codes follow the CLI convention: 1 a check failed, 2 usage or I/O.
 */
import { UserError } from '../diag/errors';

export const PkiCode = {
  /** `certs init` found an existing CA and `--force` was not given. */
  caExists: 'PKI001',
  /** The store has no CA (run `mesh certs init`). */
  caMissing: 'PKI002',
  /** A PEM file cannot be parsed (corrupt, truncated, wrong type). */
  badPem: 'PKI003',
  /** A private key does not belong to the certificate next to it. */
  keyMismatch: 'PKI004',
  /** A file or folder cannot be created, written or read (permissions, not a directory, disk full). */
  io: 'PKI005',
  /** An identity name is not a DNS label (a-z, 0-9, '-', at most 63 characters). */
  badName: 'PKI006',
  /** `certs issue` named a service that the mesh does not declare. */
  unknownService: 'PKI007',
  /** A duration (`--validity`, `--threshold`) cannot be parsed. */
  badDuration: 'PKI008',
  /** The signing CA is expired or not yet valid at the time of issue. */
  caNotValid: 'PKI009',
  /** The CA was created for another trust domain than the mesh's. */
  trustDomainMismatch: 'PKI010',
  /** Credentials were requested for an identity that has not been issued. */
  notIssued: 'PKI011',
  /** A presented peer chain does not verify against the trust bundle (untrusted, expired, malformed). */
  peerRejected: 'PKI012',
  /** A peer certificate carries no valid SPIFFE ID, or not the expected one. */
  spiffeMismatch: 'PKI013',
  /** Private key material was found under a folder that must not contain any (e.g. `mesh build`'s out/). */
  keyMaterialFound: 'PKI014',
  /** The mesh folder (mesh.yml, services/*.yml) cannot be read for the certs commands. */
  meshUnreadable: 'PKI015',
} as const;

export type PkiErrorCode = (typeof PkiCode)[keyof typeof PkiCode];

export function pkiError(code: PkiErrorCode, message: string, exitCode = 2): UserError {
  return new UserError(code, message, exitCode);
}

/** Node's fs errors carry a `code` (EACCES, ENOTDIR, ...): keep it in the message, drop the stack. */
export function ioError(action: string, file: string, err: unknown): UserError {
  if (err instanceof UserError) return err;
  const e = err as NodeJS.ErrnoException;
  const reason = e?.code ? `${e.code}${e.message ? ` (${stripErrnoPrefix(e.message)})` : ''}` : String(err);
  return pkiError(PkiCode.io, `cannot ${action} ${file}: ${reason}`);
}

/** "EACCES: permission denied, open '/x'" -> "permission denied". */
function stripErrnoPrefix(message: string): string {
  const m = /^[A-Z]+: ([^,]+)/.exec(message);
  return m ? m[1] : message;
}
