/**
 * Reading and verifying certificates with Node's native X509Certificate
 * (OpenSSL underneath): PEM parsing with clear errors, SPIFFE ID extraction,
 * and path validation of a peer's chain against the trust bundle, for the xDS
 * server and the admin API. Node's `tls` already validates chains during the
 * handshake; these functions add the SPIFFE checks it cannot know about, and
 * let code verify a chain that did not come through a TLS socket.
 */
import * as crypto from 'node:crypto';
import type * as tls from 'node:tls';
import { PkiCode, pkiError } from './errors';
import { parseSpiffeId, ParsedSpiffeId } from './identity';

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Every certificate in a PEM file, in order; PKI003 if there is none or one is damaged. */
export function parseCertificates(pem: string, file: string): crypto.X509Certificate[] {
  const blocks = pem.match(CERT_BLOCK) ?? [];
  // A truncated last block has a BEGIN without an END and would be silently dropped by the regex.
  const begins = pem.split('-----BEGIN ').length - 1;
  if (blocks.length === 0 || begins !== blocks.length) {
    const found = begins === 0 ? 'no PEM block at all' : `${begins - blocks.length} of ${begins} PEM blocks are not complete certificates`;
    throw pkiError(PkiCode.badPem, `${file}: expected PEM certificates, found ${found} (corrupt or truncated?)`);
  }
  return blocks.map((block, i) => {
    try {
      return new crypto.X509Certificate(block);
    } catch {
      throw pkiError(PkiCode.badPem, `${file}: certificate ${i + 1} cannot be parsed (corrupt PEM)`);
    }
  });
}

/**
 * Splits Node's subjectAltName text ("DNS:a, URI:spiffe://td/svc/a, IP Address:127.0.0.1").
 * Since Node 17.3 values with special characters are JSON-quoted, so a comma
 * inside a quoted value cannot forge an extra entry.
 */
export function parseSubjectAltNames(text: string | undefined): { type: string; value: string }[] {
  const out: { type: string; value: string }[] = [];
  const entry = /(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g;
  for (let m = entry.exec(text ?? ''); m; m = entry.exec(text ?? '')) {
    out.push({ type: m[1], value: m[2].startsWith('"') ? (JSON.parse(m[2]) as string) : m[2] });
  }
  return out;
}

export interface PeerIdentity extends ParsedSpiffeId {
  readonly spiffeId: string;
}

/**
 * The SPIFFE ID of a leaf: exactly one URI SAN, a spiffe:// URI with a path
 * (X509-SVID sections 3.1 and 5.2). PKI013 otherwise.
 */
export function spiffeIdFromSan(subjectAltName: string | undefined, what = 'peer certificate'): PeerIdentity {
  const uris = parseSubjectAltNames(subjectAltName).filter((s) => s.type === 'URI');
  if (uris.length !== 1) {
    throw pkiError(PkiCode.spiffeMismatch, `${what}: expected exactly one URI SAN (the SPIFFE ID), found ${uris.length}`, 1);
  }
  const parsed = parseSpiffeId(uris[0].value);
  if (!parsed || !/^spiffe:\/\/[^/]+\/./.test(uris[0].value)) {
    throw pkiError(PkiCode.spiffeMismatch, `${what}: URI SAN '${uris[0].value}' is not a SPIFFE ID with a path`, 1);
  }
  return { ...parsed, spiffeId: uris[0].value };
}

export interface VerifyOptions {
  /** Clock for validity checks; default: now. */
  readonly now?: Date;
  /** Reject peers from any other trust domain. */
  readonly trustDomain?: string;
  /** Reject any peer but this SPIFFE ID (or IDs). */
  readonly expectSpiffeId?: string | readonly string[];
}

/** Most chains here are leaf <- root or leaf <- intermediate <- root; this bounds a malicious chain. */
const MAX_CHAIN_DEPTH = 5;

/**
 * Verifies `chain` (leaf first, then any intermediates, as a TLS peer sends
 * it) up to a certificate of `trustBundle`, and returns the leaf's SPIFFE ID.
 * PKI012 when the chain does not verify (unknown CA, bad signature, expired,
 * CA used as a leaf), PKI013 when the SPIFFE ID is missing or not accepted.
 */
export function verifyPeerChain(
  chain: readonly crypto.X509Certificate[],
  trustBundle: readonly crypto.X509Certificate[],
  options: VerifyOptions = {},
): PeerIdentity {
  const now = options.now ?? new Date();
  const leaf = chain[0];
  if (!leaf) throw pkiError(PkiCode.peerRejected, 'peer presented no certificate', 1);
  if (leaf.ca) throw pkiError(PkiCode.peerRejected, `peer certificate ${leaf.subject} is a CA certificate, not a leaf`, 1);
  verifyPath(leaf, chain.slice(1), trustBundle, now);
  const peer = spiffeIdFromSan(leaf.subjectAltName);
  checkAccepted(peer, options);
  return peer;
}

function verifyPath(
  leaf: crypto.X509Certificate,
  intermediates: readonly crypto.X509Certificate[],
  roots: readonly crypto.X509Certificate[],
  now: Date,
): void {
  let current = leaf;
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    assertValidAt(current, now);
    const root = roots.find((r) => signedBy(current, r));
    if (root) {
      assertValidAt(root, now);
      return;
    }
    const next = intermediates.find((c) => c.ca && c !== current && signedBy(current, c));
    if (!next) {
      throw pkiError(PkiCode.peerRejected, `peer chain does not lead to the trust bundle: no trusted issuer for ${current.subject.replace(/\n/g, ', ')}`, 1);
    }
    current = next;
  }
  throw pkiError(PkiCode.peerRejected, `peer chain is longer than ${MAX_CHAIN_DEPTH} certificates`, 1);
}

/** Name/key-identifier match and usage (checkIssued), then the signature itself (verify). */
function signedBy(cert: crypto.X509Certificate, issuer: crypto.X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

function assertValidAt(cert: crypto.X509Certificate, now: Date): void {
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  if (now < from || now > to) {
    const what = now > to ? 'expired' : 'not yet valid';
    throw pkiError(PkiCode.peerRejected, `certificate ${cert.subject.replace(/\n/g, ', ')} is ${what} (valid ${from.toISOString()} to ${to.toISOString()})`, 1);
  }
}

function checkAccepted(peer: PeerIdentity, options: VerifyOptions): void {
  if (options.trustDomain !== undefined && peer.trustDomain !== options.trustDomain) {
    throw pkiError(PkiCode.spiffeMismatch, `peer ${peer.spiffeId} is not in trust domain ${options.trustDomain}`, 1);
  }
  if (options.expectSpiffeId !== undefined) {
    const accepted = typeof options.expectSpiffeId === 'string' ? [options.expectSpiffeId] : options.expectSpiffeId;
    if (!accepted.includes(peer.spiffeId)) {
      throw pkiError(PkiCode.spiffeMismatch, `peer is ${peer.spiffeId}, expected ${accepted.join(' or ')}`, 1);
    }
  }
}

/**
 * For `tls.connect({ checkServerIdentity })`: mesh servers are named by SPIFFE
 * ID, not by host name (workload certificates carry no IP SANs), so replace
 * the host-name check with "the server is exactly this SPIFFE ID". The chain
 * itself is still verified by tls against `ca`.
 */
export function spiffeServerIdentityCheck(
  expected: string | readonly string[],
): (host: string, cert: tls.PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    try {
      checkAccepted(spiffeIdFromSan(cert.subjectaltname, 'server certificate'), { expectSpiffeId: expected });
      return undefined;
    } catch (err) {
      return err as Error;
    }
  };
}

/**
 * The verified peer of a server-side TLS socket (requestCert + rejectUnauthorized):
 * re-checks the chain with `verifyPeerChain` and returns the SPIFFE ID.
 */
export function peerIdentityOf(socket: tls.TLSSocket, trustBundle: readonly crypto.X509Certificate[], options: VerifyOptions = {}): PeerIdentity {
  const chain: crypto.X509Certificate[] = [];
  // getPeerCertificate(true) links each certificate to its issuer; the root links to itself.
  let c: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (c && c.raw && chain.length < MAX_CHAIN_DEPTH + 1) {
    chain.push(new crypto.X509Certificate(c.raw));
    if (!c.issuerCertificate || c.issuerCertificate === c) break;
    c = c.issuerCertificate;
  }
  return verifyPeerChain(chain, trustBundle, options);
}
