/**
 * Offline validation of Envoy v3 config against the real Envoy API protos:
 * proto3 JSON structure, protoc-gen-validate rules, deprecations, and the
 * cross-references Envoy enforces for one node. Also the deterministic
 * proto3 JSON <-> bytes codec the xDS server uses. See docs/validate.md.
 */
export { ENVOY_CODES, type EnvoyCode, type Finding } from './codes';
export { checkMessage, type CheckOptions } from './check-message';
export { classifyDocument, type DocumentShape } from './documents';
export { type PathValidationResult, validatePaths } from './files';
export { type JsonObject, type JsonPath, formatPath } from './json-path';
export {
  EncodeError,
  decodeMessage,
  decodeResource,
  encodeMessage,
  encodeResource,
  resourceHash,
  toAny,
} from './proto-codec';
export {
  type EnvoyProtos,
  type ProtoLoadStats,
  envoyProtos,
  lookupMessageType,
  typeNameOfUrl,
  typeUrlOf,
} from './proto-registry';
export { BOOTSTRAP_TYPE, RESOURCE_KINDS, RESOURCE_TYPES, type ResourceKind, kindOfTypeUrl } from './resource-types';
export { type Locator, type ParsedSource, type SourceRange, parseSource } from './source';
export {
  type EnvoyDocument,
  type NodeConfig,
  type NodeValidateOptions,
  type ValidateContext,
  validateEnvoyConfig,
  validateNodeConfig,
  validateNodeDocuments,
  validateResource,
} from './validate';
