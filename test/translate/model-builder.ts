/**
 * Hand-built MeshModel pieces for tests, shaped as src/config/load.ts builds
 * them (positions included), until the loader can build fixtures from YAML.
 */
import type { SourcePos } from '../../src/diag/diagnostic';
import type {
  CircuitBreakerPolicy,
  MeshSettings,
  Protocol,
  ServiceManifest,
  ServicePolicies,
  StaticEndpoint,
  Valued,
} from '../../src/model/types';

export const POLICIES_FILE = 'mesh_policies.yml';

export function pos(file: string, line: number, col = 1): SourcePos {
  return { file, line, col };
}

export function inFile<T>(value: T, file: string, line: number, col = 3): Valued<T> {
  return { value, from: { kind: 'file', pos: pos(file, line, col) } };
}

export function builtinValue<T>(value: T): Valued<T> {
  return { value, from: { kind: 'builtin' } };
}

export function settings(overrides: Partial<MeshSettings> = {}): MeshSettings {
  return {
    name: 'ceq',
    trustDomain: 'ceq.gov',
    outboundPort: 15001,
    inboundPort: 15006,
    adminPort: 15000,
    controlPlane: { address: '127.0.0.1', xdsPort: 18000, adminPort: 18001, grpcXdsPort: 18002 },
    pkiDir: 'pki',
    pos: pos('mesh.yml', 3),
    trustDomainPos: pos('mesh.yml', 4, 15),
    ...overrides,
  };
}

export interface ServiceSpec {
  name: string;
  protocol?: Protocol;
  version?: string;
  versions?: string[];
  port: number;
  meshPort?: number;
  /** sidecar.outbound_port / sidecar.admin_port (resolved; default: the mesh defaults 15001 / 15000). */
  outboundPort?: number;
  adminPort?: number;
  calls?: string[];
  endpoints?: { address: string; port: number; version?: string }[];
}

export function service(spec: ServiceSpec): ServiceManifest {
  const file = `services/${spec.name}.yml`;
  const version = spec.version ?? 'v1';
  const endpoints: StaticEndpoint[] = (spec.endpoints ?? []).map((e, i) => ({
    address: e.address,
    port: e.port,
    version: e.version ?? version,
    pos: pos(file, 9 + 3 * i, 5),
  }));
  return {
    name: spec.name,
    version,
    versions: [...(spec.versions ?? [version])].sort(),
    protocol: spec.protocol ?? 'http',
    port: spec.port,
    meshPort: spec.meshPort ?? 15006,
    outboundPort: spec.outboundPort ?? 15001,
    adminPort: spec.adminPort ?? 15000,
    endpoints,
    calls: [...(spec.calls ?? [])].sort().map((target, i) => ({ target, pos: pos(file, 8 + i, 5) })),
    file,
    pos: pos(file, 2),
    fieldPos: { name: pos(file, 2), version: pos(file, 3), protocol: pos(file, 4), port: pos(file, 6) },
    acknowledge: [],
  };
}

/** Policies with the built-in defaults the loader resolves (docs/policy-language.md). */
export function defaultPolicies(name: string): ServicePolicies {
  return {
    service: name,
    retries: {
      attempts: builtinValue(2),
      retryOn: builtinValue(['connect-failure', 'refused-stream', 'unavailable']),
      retryNonIdempotent: builtinValue(false),
    },
    timeouts: { requestMs: builtinValue(15000) },
    access: { allow: [] },
  };
}

export function allow(...callers: { caller: string; line: number }[]): ServicePolicies['access'] {
  return {
    allow: [...callers]
      .sort((a, b) => (a.caller < b.caller ? -1 : 1))
      .map((c) => ({ caller: c.caller, pos: pos(POLICIES_FILE, c.line, 13) })),
    pos: pos(POLICIES_FILE, callers[0]?.line ?? 1, 3),
  };
}

export function circuitBreaker(line: number, maxFailures: number, resetSeconds: number): CircuitBreakerPolicy {
  return {
    maxFailures: inFile(maxFailures, POLICIES_FILE, line + 1, 5),
    resetSeconds: inFile(resetSeconds, POLICIES_FILE, line + 2, 5),
    maxConnections: builtinValue(1024),
    maxPendingRequests: builtinValue(1024),
    maxRequests: builtinValue(1024),
    pos: pos(POLICIES_FILE, line, 3),
  };
}
