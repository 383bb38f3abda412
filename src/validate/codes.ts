import type { Severity } from '../diag/diagnostic';
import type { JsonPath } from './json-path';

/**
 * The ENVOY0xx code catalogue, documented one by one in docs/validate.md.
 * Codes are stable: never renumber, only add.
 */
export const ENVOY_CODES = {
  // Structure (proto3 JSON mapping)
  UNKNOWN_FIELD: 'ENVOY001',
  WRONG_TYPE: 'ENVOY002',
  UNKNOWN_ENUM: 'ENVOY003',
  ONEOF_CONFLICT: 'ENVOY004',
  UNRESOLVED_ANY: 'ENVOY005',
  DUPLICATE_FIELD: 'ENVOY006',
  // protoc-gen-validate rules
  PGV_STRING: 'ENVOY010',
  PGV_NUMBER: 'ENVOY011',
  PGV_DURATION: 'ENVOY012',
  PGV_REPEATED: 'ENVOY013',
  PGV_REQUIRED: 'ENVOY014',
  PGV_ONEOF_REQUIRED: 'ENVOY015',
  PGV_ENUM: 'ENVOY016',
  PGV_MAP: 'ENVOY017',
  PGV_OTHER: 'ENVOY018',
  // Deprecation annotations
  DEPRECATED_FIELD: 'ENVOY020',
  DEPRECATED_ENUM_VALUE: 'ENVOY021',
  DISALLOWED_BY_DEFAULT: 'ENVOY022',
  // Cross-references within one node
  UNKNOWN_CLUSTER: 'ENVOY030',
  UNKNOWN_ROUTE_CONFIG: 'ENVOY031',
  MISSING_ENDPOINTS: 'ENVOY032',
  UNKNOWN_SECRET: 'ENVOY033',
  DUPLICATE_ADDRESS: 'ENVOY034',
  ROUTER_NOT_LAST: 'ENVOY035',
  DUPLICATE_NAME: 'ENVOY036',
  // Documents and files
  PARSE_ERROR: 'ENVOY040',
  UNKNOWN_DOCUMENT: 'ENVOY041',
  TYPE_URL_MISMATCH: 'ENVOY042',
  IO_ERROR: 'ENVOY043',
  GRPC_BOOTSTRAP: 'ENVOY044',
} as const;

export type EnvoyCode = (typeof ENVOY_CODES)[keyof typeof ENVOY_CODES];

/** A check's result before it is placed in a file: the path is relative to the document root. */
export interface Finding {
  readonly severity: Severity;
  readonly code: EnvoyCode;
  readonly message: string;
  readonly path: JsonPath;
  readonly hint?: string;
}

export function error(code: EnvoyCode, path: JsonPath, message: string, hint?: string): Finding {
  return hint === undefined ? { severity: 'error', code, message, path } : { severity: 'error', code, message, path, hint };
}

export function warning(code: EnvoyCode, path: JsonPath, message: string, hint?: string): Finding {
  return hint === undefined
    ? { severity: 'warning', code, message, path }
    : { severity: 'warning', code, message, path, hint };
}
