/**
 * The PKI library: what the CLI (src/cli/certs.ts), `mesh build` and the xDS
 * server import. Plain inputs only (trust domain, names, folders): no mesh
 * loading happens here. See docs/pki.md for the store layout and error codes.
 */
export { PkiCode, type PkiErrorCode } from './errors';
export { parseDuration, formatDuration } from './duration';
export {
  type Identity,
  type IdentityKind,
  service,
  admin,
  controlPlane,
  identitySpiffeId,
  identitySans,
  identityLabel,
  issueCommand,
  parseSpiffeId,
} from './identity';
export { type KeyGenerator, type KeyPairPem, nativeRsaKeyGen, forgeRsaKeyGen } from './keys';
export { initCa, loadSigningCa, caExists, type InitCaOptions, type CaInfo, type SigningCa, DEFAULT_CA_VALIDITY_MS } from './ca';
export { issueIdentities, mintLeaf, type IssueOptions, type IssuedCert, type MintedLeaf, DEFAULT_LEAF_VALIDITY_MS } from './issue';
export {
  loadCredentials,
  loadServiceCredentials,
  loadTrustBundle,
  listIssued,
  identityFolder,
  credentialPaths,
  type CredentialPaths,
  type Credentials,
  type TrustBundle,
} from './store';
export {
  checkStore,
  rotate,
  isHealthy,
  type CertStatus,
  type CertState,
  type CheckOptions,
  type RotateOptions,
  type RotateResult,
  DEFAULT_ROTATE_THRESHOLD_MS,
} from './status';
export {
  verifyPeerChain,
  peerIdentityOf,
  spiffeServerIdentityCheck,
  spiffeIdFromSan,
  parseCertificates,
  type PeerIdentity,
  type VerifyOptions,
} from './verify';
export { isPathInside, findKeyMaterial, assertNoKeyMaterial, containsKeyMaterial } from './fs-secure';
