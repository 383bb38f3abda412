/**
 * Schema-valid sources -> the typed MeshModel (src/model/types.ts). Runs only
 * on files that passed the schema, so shapes are trusted here; meaning is
 * checked later by src/model/checks.ts.
 */
import type { SourcePos } from '../diag/diagnostic';
import type {
  AccessPolicy, CircuitBreakerPolicy, EventSettings, EventSinkSpec, ExternalService, Gateway, GuardrailRule, MeshModel, MeshSettings, Provenance, RateLimitPolicy, RetryPolicy,
  ServiceManifest, ServicePolicies, TimeoutPolicy, TrafficSplit, Valued,
} from '../model/types';
import { buildRoutes } from './build-routes';
import { BUILTIN } from './defaults';
import { parseDurationMs } from './duration';
import { keyPos, valuePos, type DocPath } from './positions';
import type { SourceFile } from './source-file';

type Obj = Record<string, unknown>;

const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export function buildSettings(src: SourceFile | undefined, dir: string): MeshSettings {
  const v = (src?.value ?? {}) as Obj;
  const ports = (v.ports ?? {}) as Obj;
  const cp = (v.control_plane ?? {}) as Obj;
  const registry = v.registry as Obj | undefined;
  const events = v.events as Obj | undefined;
  return {
    name: (v.name as string) ?? BUILTIN.meshName,
    trustDomain: (v.trust_domain as string) ?? BUILTIN.trustDomain,
    outboundPort: (ports.outbound as number) ?? BUILTIN.outboundPort,
    inboundPort: (ports.inbound as number) ?? BUILTIN.inboundPort,
    adminPort: (ports.admin as number) ?? BUILTIN.adminPort,
    controlPlane: {
      address: (cp.address as string) ?? BUILTIN.controlPlaneAddress,
      xdsPort: (cp.xds_port as number) ?? BUILTIN.xdsPort,
      adminPort: (cp.admin_port as number) ?? BUILTIN.controlPlaneAdminPort,
      grpcXdsPort: (cp.grpc_xds_port as number) ?? BUILTIN.grpcXdsPort,
      ...(Array.isArray(cp.replicas)
        ? { replicas: (cp.replicas as Obj[]).map((r) => ({ address: r.address as string, xdsPort: r.xds_port as number, grpcXdsPort: (r.grpc_xds_port as number) ?? (cp.grpc_xds_port as number) ?? BUILTIN.grpcXdsPort })) }
        : {}),
      ...(typeof cp.store === 'string' && src ? { store: { value: cp.store, pos: valuePos(src, ['control_plane', 'store']) } } : {}),
    },
    pkiDir: (v.pki_dir as string) ?? BUILTIN.pkiDir,
    ...(registry ? { registry: { allowLinkLocal: registry.allow_link_local === true, allowMetadata: registry.allow_metadata_addresses === true } } : {}),
    ...(events && src ? { events: buildEventSettings(events, src) } : {}),
    pos: src ? valuePos(src, []) : { file: `${dir}/mesh.yml`, line: 1, col: 1 },
    trustDomainPos: src ? valuePos(src, v.trust_domain !== undefined ? ['trust_domain'] : []) : { file: `${dir}/mesh.yml`, line: 1, col: 1 },
  };
}

export const DEFAULT_COALESCE_MS = 1000;
/** mesh.cert_expiring: the threshold `mesh certs check` calls expiring (DEFAULT_ROTATE_THRESHOLD_MS, 8 h); leaves live 24 h by default, so 24 h would report every certificate at birth. */
export const DEFAULT_CERT_EXPIRING_WITHIN_MS = 8 * 3600 * 1000;
export const DEFAULT_SPOOL_BYTES = 8 * 1024 * 1024;

function buildEventSettings(e: Obj, src: SourceFile): EventSettings {
  const sinks = ((e.sinks as Obj[] | undefined) ?? []).map((s, i): EventSinkSpec => {
    const pos = valuePos(src, ['events', 'sinks', i]);
    const kinds = ['webhook', 'file', 'stdout'].filter((k) => s[k] !== undefined);
    if (kinds.length !== 1 || (s.spool_bytes !== undefined && kinds[0] !== 'webhook')) return { kind: 'invalid', keys: Object.keys(s).sort(), pos };
    if (kinds[0] === 'webhook') return { kind: 'webhook', url: s.webhook as string, spoolBytes: (s.spool_bytes as number | undefined) ?? DEFAULT_SPOOL_BYTES, pos: valuePos(src, ['events', 'sinks', i, 'webhook']) };
    if (kinds[0] === 'file') return { kind: 'file', file: s.file as string, pos: valuePos(src, ['events', 'sinks', i, 'file']) };
    return { kind: 'stdout', pos };
  });
  const ms = (k: string, dflt: number): number => (typeof e[k] === 'string' ? parseDurationMs(e[k] as string) ?? dflt : dflt);
  return { coalesceMs: ms('coalesce', DEFAULT_COALESCE_MS), certExpiringWithinMs: ms('cert_expiring_within', DEFAULT_CERT_EXPIRING_WITHIN_MS), sinks };
}

export function buildService(src: SourceFile, relFile: string, settings: MeshSettings): ServiceManifest {
  const v = src.value as Obj;
  const version = v.version as string;
  // An explicit list is taken as written (MESH033 reports a `version` missing from it).
  const versions = [...((v.versions as string[] | undefined) ?? [version])].sort();
  const fieldPos: Record<string, SourcePos> = {};
  for (const k of Object.keys(v)) fieldPos[k] = valuePos(src, [k]);
  const sidecar = (v.sidecar ?? {}) as Obj;
  for (const k of ['outbound_port', 'admin_port']) if (sidecar[k] !== undefined) fieldPos[`sidecar.${k}`] = valuePos(src, ['sidecar', k]);
  const endpoints = ((v.endpoints as Obj[] | undefined) ?? []).map((e, i) => ({
    address: e.address as string,
    port: e.port as number,
    version: (e.version as string | undefined) ?? version,
    pos: valuePos(src, ['endpoints', i]),
  }));
  const calls = ((v.calls as string[] | undefined) ?? [])
    .map((target, i) => ({ target, pos: valuePos(src, ['calls', i]) }))
    .sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
  return {
    name: v.name as string,
    version,
    versions,
    protocol: v.protocol as 'http' | 'grpc',
    port: v.port as number,
    meshPort: (v.mesh_port as number | undefined) ?? settings.inboundPort,
    outboundPort: (sidecar.outbound_port as number | undefined) ?? settings.outboundPort,
    adminPort: (sidecar.admin_port as number | undefined) ?? settings.adminPort,
    endpoints,
    calls,
    file: relFile,
    pos: valuePos(src, []),
    fieldPos,
    acknowledge: ((v.acknowledge as string[] | undefined) ?? []).map((code, i) => ({ code, pos: valuePos(src, ['acknowledge', i]) })),
  };
}

/** Picks an explicit value, else a mesh-wide default, else the built-in one, remembering which. */
class Resolver {
  constructor(
    private readonly src: SourceFile | undefined,
    private readonly explicit: Obj | undefined,
    private readonly explicitPath: DocPath,
    private readonly defaults: Obj | undefined,
    private readonly defaultsPath: DocPath,
  ) {}

  pick<T>(key: string, builtin: T, convert: (raw: unknown) => T = (x) => x as T): Valued<T> {
    if (this.explicit && this.explicit[key] !== undefined) {
      return { value: convert(this.explicit[key]), from: { kind: 'file', pos: valuePos(this.src!, [...this.explicitPath, key]) } };
    }
    if (this.defaults && this.defaults[key] !== undefined) {
      return { value: convert(this.defaults[key]), from: { kind: 'mesh-default', pos: valuePos(this.src!, [...this.defaultsPath, key]) } };
    }
    return { value: builtin, from: { kind: 'builtin' } };
  }

  get pos(): SourcePos | undefined {
    if (this.explicit) return keyPos(this.src!, this.explicitPath);
    if (this.defaults) return keyPos(this.src!, this.defaultsPath);
    return undefined;
  }
}

const durationMs = (raw: unknown): number => parseDurationMs(raw as string)!;

export function buildPolicies(src: SourceFile | undefined, services: readonly ServiceManifest[]): ServicePolicies[] {
  // Unique names (a duplicate is MESH030); a Set, as indexOf here was quadratic in services.
  return buildPoliciesFor(src, [...new Set(services.map((s) => s.name))]);
}

/** The policies keyed by each of `names` (services, or external systems: build-externals.ts). */
export function buildPoliciesFor(src: SourceFile | undefined, names: readonly string[]): ServicePolicies[] {
  const v = (src?.value ?? {}) as Obj;
  const section = (name: string): Obj => (v[name] ?? {}) as Obj;
  const defaults = (v.defaults ?? {}) as Obj;
  return [...names]
    .map((svc) => {
      const res = (kind: string): Resolver =>
        new Resolver(src, section(kind)[svc] as Obj | undefined, [kind, svc], defaults[kind] as Obj | undefined, ['defaults', kind]);
      const own = {
        service: svc,
        circuitBreaker: circuitBreaker(res('circuit_breakers')),
        rateLimit: rateLimit(src, section('rate_limits')[svc] as Obj | undefined, svc),
        retries: retries(res('retries')),
        timeouts: timeouts(res('timeouts')),
        access: access(src, section('access')[svc] as Obj | undefined, svc),
        split: split(src, section('traffic')[svc] as Obj | undefined, svc),
      };
      const routes = buildRoutes(src, svc, own);
      return routes ? { ...own, routes } : own;
    })
    .sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
}

function circuitBreaker(r: Resolver): CircuitBreakerPolicy | undefined {
  const pos = r.pos;
  if (!pos) return undefined; // no outlier detection unless asked for, as in Envoy and Istio
  return {
    maxFailures: r.pick('max_failures', BUILTIN.maxFailures),
    resetSeconds: r.pick('reset_seconds', BUILTIN.resetSeconds),
    maxConnections: r.pick('max_connections', BUILTIN.maxConnections),
    maxPendingRequests: r.pick('max_pending_requests', BUILTIN.maxPendingRequests),
    maxRequests: r.pick('max_requests', BUILTIN.maxRequests),
    pos,
  };
}

function rateLimit(src: SourceFile | undefined, p: Obj | undefined, svc: string): RateLimitPolicy | undefined {
  if (!p || !src) return undefined;
  const rps: Valued<number> = { value: p.rps as number, from: { kind: 'file', pos: valuePos(src, ['rate_limits', svc, 'rps']) } };
  const burst: Valued<number> =
    p.burst !== undefined ? { value: p.burst as number, from: { kind: 'file', pos: valuePos(src, ['rate_limits', svc, 'burst']) } } : { value: rps.value, from: rps.from };
  return { rps, burst, pos: keyPos(src, ['rate_limits', svc]) };
}

function retries(r: Resolver): RetryPolicy {
  const perTry = r.pick<number | undefined>('per_try_timeout', undefined, durationMs);
  return {
    attempts: r.pick('attempts', BUILTIN.retryAttempts as number),
    ...(perTry.value !== undefined ? { perTryTimeoutMs: perTry as Valued<number> } : {}),
    retryOn: r.pick<readonly string[]>('retry_on', BUILTIN.retryOn, (x) => [...(x as string[])].sort()),
    retryNonIdempotent: r.pick('retry_non_idempotent', false),
    ...(r.pos ? { pos: r.pos } : {}),
  };
}

function timeouts(r: Resolver): TimeoutPolicy {
  // `none`: no timeout at all, which Envoy (and gRPC's max_stream_duration) spell 0.
  return { requestMs: r.pick('request', BUILTIN.requestTimeoutMs as number, (raw) => (raw === 'none' ? 0 : durationMs(raw))), ...(r.pos ? { pos: r.pos } : {}) };
}

function access(src: SourceFile | undefined, p: Obj | undefined, svc: string): AccessPolicy {
  if (!p || !src) return { allow: [] };
  const allow = (p.allow as string[])
    .map((caller, i) => ({ caller, pos: valuePos(src, ['access', svc, 'allow', i]) }))
    .sort((a, b) => (a.caller < b.caller ? -1 : a.caller > b.caller ? 1 : 0));
  return { allow, pos: keyPos(src, ['access', svc]) };
}

function split(src: SourceFile | undefined, p: Obj | undefined, svc: string): TrafficSplit | undefined {
  if (!p || !src) return undefined;
  const weights = Object.entries(p.split as Record<string, number>)
    .map(([version, weight]) => ({ version, weight, pos: keyPos(src, ['traffic', svc, 'split', version]) }))
    .sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
  return { weights, pos: keyPos(src, ['traffic', svc, 'split']) };
}

export function assembleModel(dir: string, displayDir: string, settings: MeshSettings, services: ServiceManifest[], policies: ServicePolicies[], externals?: ExternalService[], guardrails?: GuardrailRule[], gateways?: Gateway[]): MeshModel {
  return {
    dir, displayDir, settings, services: [...services].sort(byName), policies,
    ...(externals && externals.length ? { externals: [...externals].sort(byName) } : {}),
    ...(guardrails && guardrails.length ? { guardrails: [...guardrails].sort(byName) } : {}),
    ...(gateways && gateways.length ? { gateways: [...gateways].sort(byName) } : {}),
  };
}

export type { Provenance };
