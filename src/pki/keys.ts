/**
 * Key generation. Keys are RSA-2048 because node-forge, which builds and signs
 * our certificates, can only sign with RSA. Node's native generator (OpenSSL,
 * on the libuv thread pool) is the default; forge's pure-JavaScript generator
 * exists for the benchmark (bench/pki.ts) that compares the two.
 */
import * as crypto from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { PkiCode, pkiError } from './errors';

export interface KeyPairPem {
  /** Unencrypted PKCS#8 PEM: what Envoy, gRPC and Node's tls all read. */
  readonly privateKeyPem: string;
  /** SubjectPublicKeyInfo ("BEGIN PUBLIC KEY"). */
  readonly publicKeyPem: string;
}

export type KeyGenerator = () => Promise<KeyPairPem>;

export const RSA_BITS = 2048;

const generateKeyPairAsync = promisify(crypto.generateKeyPair);

/** Native RSA-2048, asynchronous so a batch of keys uses every thread-pool worker. */
export const nativeRsaKeyGen: KeyGenerator = async () => {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
    modulusLength: RSA_BITS,
    publicExponent: 0x10001,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
};

/**
 * node-forge's own RSA-2048 generator, forced to pure JavaScript: left alone,
 * forge quietly delegates to Node's crypto when it finds it, and we would
 * measure native twice. Synchronous and slow (seconds per key): bench only.
 */
export const forgeRsaKeyGen: KeyGenerator = async () => {
  // `options` exists at runtime but is missing from @types/node-forge.
  const options = (forge as unknown as { options: { usePureJavaScript: boolean } }).options;
  const saved = options.usePureJavaScript;
  options.usePureJavaScript = true;
  try {
    const pair = forge.pki.rsa.generateKeyPair({ bits: RSA_BITS, e: 0x10001 });
    const pkcs8 = forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(pair.privateKey));
    return {
      privateKeyPem: forge.pki.privateKeyInfoToPem(pkcs8),
      publicKeyPem: forge.pki.publicKeyToPem(pair.publicKey),
    };
  } finally {
    options.usePureJavaScript = saved;
  }
};

/** Parses a private key PEM with Node; PKI003 when it is not one. */
export function parsePrivateKey(pem: string, file: string): crypto.KeyObject {
  try {
    return crypto.createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw pkiError(PkiCode.badPem, `${file}: not a valid PEM private key (corrupt or truncated?)`);
  }
}

/** Converts a native PEM key for forge's signer; PKI003 when forge cannot read it (e.g. not RSA). */
export function forgePrivateKey(pem: string, file: string): forge.pki.rsa.PrivateKey {
  try {
    return forge.pki.privateKeyFromPem(pem);
  } catch {
    throw pkiError(PkiCode.badPem, `${file}: not an RSA private key in PEM (PKCS#8 or PKCS#1)`);
  }
}

/** True when `key` is the private half of `publicKey` (compares the derived public keys' DER). */
export function keyMatchesPublicKey(key: crypto.KeyObject, publicKey: crypto.KeyObject): boolean {
  const derived = crypto.createPublicKey(key).export({ type: 'spki', format: 'der' });
  return derived.equals(publicKey.export({ type: 'spki', format: 'der' }));
}
