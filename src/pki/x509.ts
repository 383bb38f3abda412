/**
 * X.509 certificates built and signed with node-forge: the root CA, the
 * optional intermediate, and leaf SVIDs. Profiles follow the SPIFFE X509-SVID
 * spec (https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md):
 * CAs carry spiffe://<td> (no path, section 3.2), leaves exactly one URI SAN
 * with a path (section 3.1), key usage is always critical (section 4.3).
 * Pure functions of their inputs plus randomness for serials; no files here.
 */
import * as crypto from 'node:crypto';
import forge from 'node-forge';
import { PkiCode, pkiError } from './errors';
import { Identity, identityLabel, identitySans } from './identity';

/** A CA that can sign: its certificate and forge's view of its private key. */
export interface Issuer {
  readonly cert: forge.pki.Certificate;
  readonly key: forge.pki.rsa.PrivateKey;
}

export interface Lifetime {
  /** The clock: injectable so tests can issue certificates that are already expired. */
  readonly now: Date;
  readonly validityMs: number;
}

/**
 * notBefore is set a little in the past so a peer whose clock runs slightly
 * behind ours does not reject a certificate issued a second ago.
 */
export const BACKDATE_MS = 5 * 60_000;

const ORG = 'HMS-SVC';

/**
 * 128 random bits with the top bit cleared, so the DER INTEGER is positive
 * (RFC 5280 4.1.2.2), and leading zero octets dropped, so it is minimally
 * encoded (OpenSSL rejects padded INTEGERs with "illegal padding").
 */
export function randomSerialHex(): string {
  const bytes = crypto.randomBytes(16);
  bytes[0] &= 0x7f;
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0 && bytes[start + 1] < 0x80) start++;
  return bytes.subarray(start).toString('hex');
}

export interface RootCaRequest extends Lifetime {
  readonly trustDomain: string;
  readonly publicKeyPem: string;
  readonly privateKeyPem: string;
  /** 0: signs leaves only; 1: signs one intermediate that signs leaves. */
  readonly pathLen: 0 | 1;
}

export function buildRootCaCert(req: RootCaRequest): string {
  const key = forge.pki.privateKeyFromPem(req.privateKeyPem);
  const subject = [
    { name: 'organizationName', value: ORG },
    { name: 'commonName', value: `${ORG} root CA ${req.trustDomain}` },
  ];
  const cert = newCertificate(req.publicKeyPem, subject, subject, windowFrom(req.now, req.validityMs));
  cert.setExtensions([
    ...caExtensions(req.trustDomain, req.pathLen),
    // A self-signed root names itself as its authority.
    { name: 'authorityKeyIdentifier', keyIdentifier: cert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

export interface IntermediateCaRequest extends Lifetime {
  readonly trustDomain: string;
  readonly publicKeyPem: string;
  readonly issuer: Issuer;
}

export function buildIntermediateCaCert(req: IntermediateCaRequest): string {
  const subject = [
    { name: 'organizationName', value: ORG },
    { name: 'commonName', value: `${ORG} intermediate CA ${req.trustDomain}` },
  ];
  const window = windowUnder(req.issuer, req.now, req.validityMs, 'intermediate CA');
  const cert = newCertificate(req.publicKeyPem, subject, req.issuer.cert.subject.attributes, window);
  cert.setExtensions([...caExtensions(req.trustDomain, 0), authorityKeyId(req.issuer)]);
  cert.sign(req.issuer.key, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

export interface LeafRequest extends Lifetime {
  readonly trustDomain: string;
  readonly identity: Identity;
  readonly publicKeyPem: string;
  readonly issuer: Issuer;
}

export function buildLeafCert(req: LeafRequest): string {
  const sans = identitySans(req.trustDomain, req.identity);
  const subject = [
    { name: 'organizationName', value: req.trustDomain },
    { name: 'commonName', value: identityLabel(req.identity) },
  ];
  const window = windowUnder(req.issuer, req.now, req.validityMs, identityLabel(req.identity));
  const cert = newCertificate(req.publicKeyPem, subject, req.issuer.cert.subject.attributes, window);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    {
      name: 'subjectAltName',
      // forge GeneralName types: 6 URI, 2 DNS, 7 IP. The SPIFFE ID must be the only URI (X509-SVID 5.2).
      altNames: [
        { type: 6, value: sans.uri },
        ...sans.dns.map((value) => ({ type: 2, value })),
        ...sans.ip.map((ip) => ({ type: 7, ip })),
      ],
    },
    { name: 'subjectKeyIdentifier' },
    authorityKeyId(req.issuer),
  ]);
  cert.sign(req.issuer.key, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

interface Window {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

function windowFrom(now: Date, validityMs: number): Window {
  return { notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter: new Date(now.getTime() + validityMs) };
}

/**
 * A certificate must not outlive its issuer (it would stop verifying early
 * anyway), so notAfter is capped at the issuer's; an issuer that is not valid
 * now is refused outright.
 */
function windowUnder(issuer: Issuer, now: Date, validityMs: number, what: string): Window {
  const { notBefore: caFrom, notAfter: caTo } = issuer.cert.validity;
  if (now < caFrom || now >= caTo) {
    throw pkiError(
      PkiCode.caNotValid,
      `cannot issue ${what}: the signing CA is valid from ${caFrom.toISOString()} to ${caTo.toISOString()}, not at ${now.toISOString()}`,
    );
  }
  const w = windowFrom(now, validityMs);
  return { notBefore: w.notBefore, notAfter: w.notAfter > caTo ? caTo : w.notAfter };
}

function newCertificate(
  publicKeyPem: string,
  subject: forge.pki.CertificateField[],
  issuer: forge.pki.CertificateField[],
  window: Window,
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = window.notBefore;
  cert.validity.notAfter = window.notAfter;
  cert.setSubject(subject);
  cert.setIssuer(issuer);
  return cert;
}

function caExtensions(trustDomain: string, pathLen: number): object[] {
  return [
    { name: 'basicConstraints', cA: true, pathLenConstraint: pathLen, critical: true },
    { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true },
    { name: 'subjectAltName', altNames: [{ type: 6, value: `spiffe://${trustDomain}` }] },
    { name: 'subjectKeyIdentifier' },
  ];
}

/**
 * forge's `keyIdentifier: true` would hash the *new* certificate's key, so
 * take the issuer's own subjectKeyIdentifier (or hash its key if it has none).
 */
function authorityKeyId(issuer: Issuer): object {
  const ext = issuer.cert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | undefined;
  const keyIdentifier = ext?.subjectKeyIdentifier
    ? forge.util.hexToBytes(ext.subjectKeyIdentifier)
    : issuer.cert.generateSubjectKeyIdentifier().getBytes();
  return { name: 'authorityKeyIdentifier', keyIdentifier };
}
