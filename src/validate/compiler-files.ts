/**
 * Files `mesh build` writes that are not Envoy config, so `mesh validate out/`
 * recognises them instead of reading them as an Envoy Bootstrap:
 * - a proxyless gRPC member's `bootstrap.json` (gRFC A27: `xds_servers`, a key
 *   Envoy's Bootstrap does not have), checked against grpc-js-xds's own rules;
 * - `explain.json` (`mesh build --explain`), a review report read by people and
 *   `mesh diff`, never by a proxy: recognised and left alone.
 * (`manifest.json` at the root is skipped by name in files.ts.)
 */
import type { Diagnostic } from '../diag/diagnostic';
import { grpcBootstrapProblems } from '../envoy/bootstrap-check';
import { ENVOY_CODES as C, type Finding, error } from './codes';
import { type JsonObject, isObject } from './json-path';

export function isGrpcBootstrap(value: unknown): value is JsonObject {
  return isObject(value) && 'xds_servers' in value;
}

/** `{"//": marker, "node": "<id>", "entries": [...]}`, the shape src/review/explain/build-explain.ts writes. */
export function isExplainReport(value: unknown): boolean {
  return isObject(value) && typeof value['//'] === 'string' && typeof value['node'] === 'string' && Array.isArray(value['entries']);
}

export function checkGrpcBootstrapDocument(value: JsonObject): Finding[] {
  return grpcBootstrapProblems(value).map((p) => error(C.GRPC_BOOTSTRAP, [...p.path], p.message));
}

/**
 * grpc-js-xds reads a peer's SAN matchers only from the deprecated
 * CertificateValidationContext.match_subject_alt_names (A29), so proxyless
 * nodes must use it; the deprecation warning is expected there and dropped.
 */
export function isExpectedForGrpc(d: Diagnostic): boolean {
  return d.severity === 'warning' && d.code === C.DEPRECATED_FIELD && d.message.includes('CertificateValidationContext.match_subject_alt_names');
}
