/**
 * The typed mesh model: what `src/config` builds from the YAML sources after
 * schema validation, and what every later stage (checks, translate, PKI, xDS)
 * reads. Plain readonly data; every value that came from a file keeps where
 * it came from (provenance), so diagnostics, `mesh explain` and `mesh diff`
 * can point at the line that caused it.
 */
import type { SourcePos } from '../diag/diagnostic';

/** Where a value came from. */
export type Provenance =
  | { readonly kind: 'file'; readonly pos: SourcePos }
  /** From the `defaults:` block of mesh_policies.yml (a mesh-wide default). */
  | { readonly kind: 'mesh-default'; readonly pos: SourcePos }
  /** Built into HMS-SVC (documented in docs/policy-language.md). */
  | { readonly kind: 'builtin' };

export interface Valued<T> {
  readonly value: T;
  readonly from: Provenance;
}

export type Protocol = 'http' | 'grpc';

export interface MeshSettings {
  /** Mesh name, used in node cluster names and logs. */
  readonly name: string;
  /** SPIFFE trust domain: identities are spiffe://<trustDomain>/svc/<service>. */
  readonly trustDomain: string;
  /** Default outbound listener port of Envoy sidecars (on 127.0.0.1), when a manifest does not set sidecar.outbound_port. */
  readonly outboundPort: number;
  /** Default inbound (mTLS) port of sidecars, when a manifest does not set mesh_port. */
  readonly inboundPort: number;
  /** Default Envoy admin port (always bound to 127.0.0.1), when a manifest does not set sidecar.admin_port. */
  readonly adminPort: number;
  /** Where sidecars and proxyless clients reach the control plane's xDS server. */
  readonly controlPlane: {
    readonly address: string;
    readonly xdsPort: number;
    readonly adminPort: number;
    /** Plaintext loopback xDS port for proxyless gRPC members (grpc-js-xds has no mTLS to the control plane). */
    readonly grpcXdsPort: number;
    /** control_plane.replicas: every replica's xDS addresses (absent: the one above only). */
    readonly replicas?: ReadonlyArray<{ readonly address: string; readonly xdsPort: number; readonly grpcXdsPort: number }>;
    /** control_plane.store: a folder or a postgres:// URL (absent: mesh serve's default), and where it is written. */
    readonly store?: { readonly value: string; readonly pos: SourcePos };
  };
  /** Directory (relative to the mesh dir unless absolute) holding the PKI store. */
  readonly pkiDir: string;
  /** Registry opt-ins (mesh.yml `registry`); absent when mesh.yml has none, so the model of older meshes is unchanged. */
  readonly registry?: { readonly allowLinkLocal: boolean; readonly allowMetadata: boolean };
  /** Mesh events (mesh.yml `events`); absent when mesh.yml has none. */
  readonly events?: EventSettings;
  readonly pos: SourcePos;
  /** Where trust_domain is set (the mapping's position when it is not). */
  readonly trustDomainPos: SourcePos;
}

export interface StaticEndpoint {
  readonly address: string;
  readonly port: number;
  readonly version: string;
  readonly pos: SourcePos;
}

export interface CallEdge {
  /** Name of the callee service. */
  readonly target: string;
  readonly pos: SourcePos;
}

export interface ServiceManifest {
  readonly name: string;
  /** The version this manifest deploys by default. */
  readonly version: string;
  /** Every version that may run (includes `version`); sorted. Splits may only name these. */
  readonly versions: readonly string[];
  readonly protocol: Protocol;
  /** Port the application listens on behind its sidecar (127.0.0.1:<port>). For grpc: the xDS server's port. */
  readonly port: number;
  /** Port of the sidecar's inbound mTLS listener (http services). */
  readonly meshPort: number;
  /** Outbound listener port of its sidecar: `sidecar.outbound_port`, else mesh.yml's ports.outbound. */
  readonly outboundPort: number;
  /** Envoy admin port of its sidecar: `sidecar.admin_port`, else mesh.yml's ports.admin. */
  readonly adminPort: number;
  readonly endpoints: readonly StaticEndpoint[];
  /** Services this one calls, sorted by target name. */
  readonly calls: readonly CallEdge[];
  /** The manifest file (relative to the mesh dir) and the position of its top-level mapping. */
  readonly file: string;
  readonly pos: SourcePos;
  /** Positions of individual fields (name, version, port, ...; `sidecar.outbound_port` and `sidecar.admin_port` when set). */
  readonly fieldPos: Readonly<Record<string, SourcePos>>;
  /** `acknowledge:` codes of reviewed lint warnings about this service (src/lint/acknowledge.ts), in file order. */
  readonly acknowledge: readonly { readonly code: string; readonly pos: SourcePos }[];
}

export interface CircuitBreakerPolicy {
  /** Consecutive failures (5xx, gateway, local-origin) before the instance is ejected. */
  readonly maxFailures: Valued<number>;
  /** Base ejection time in seconds. */
  readonly resetSeconds: Valued<number>;
  readonly maxConnections: Valued<number>;
  readonly maxPendingRequests: Valued<number>;
  readonly maxRequests: Valued<number>;
  readonly pos: SourcePos;
}

export interface RateLimitPolicy {
  /** Requests per second admitted on the service's inbound listener (token bucket refill). */
  readonly rps: Valued<number>;
  /** Bucket size (max burst). Defaults to rps. */
  readonly burst: Valued<number>;
  readonly pos: SourcePos;
}

export interface RetryPolicy {
  /** Number of retries after the first attempt. */
  readonly attempts: Valued<number>;
  /** Absent: each try may use the whole route timeout. */
  readonly perTryTimeoutMs?: Valued<number>;
  /** Envoy/gRPC retry conditions, sorted. */
  readonly retryOn: Valued<readonly string[]>;
  /** Non-idempotent HTTP requests (POST, PATCH...) retried on every condition too (default false). */
  readonly retryNonIdempotent: Valued<boolean>;
  /** Position of the policy block; absent when the whole policy is a default. */
  readonly pos?: SourcePos;
}

export interface TimeoutPolicy {
  readonly requestMs: Valued<number>;
  readonly pos?: SourcePos;
}

export interface AccessRule {
  /** Caller service name. */
  readonly caller: string;
  readonly pos: SourcePos;
}

export interface AccessPolicy {
  /** Services allowed to call; empty means nobody (default deny). Sorted by caller. */
  readonly allow: readonly AccessRule[];
  /** Absent policy = default deny; `pos` is the policy's position when present. */
  readonly pos?: SourcePos;
}

export interface SplitWeight {
  readonly version: string;
  readonly weight: number;
  readonly pos: SourcePos;
}

export interface TrafficSplit {
  /** Sorted by version. Weights sum to 100. */
  readonly weights: readonly SplitWeight[];
  readonly pos: SourcePos;
}

export type PathMatchKind = 'prefix' | 'exact' | 'regex';
export type HeaderMatchKind = 'exact' | 'prefix' | 'regex' | 'present';

/** `routes.<callee>[i].match`: every condition given must hold. */
export interface RouteMatch {
  readonly path?: { readonly kind: PathMatchKind; readonly value: string; readonly pos: SourcePos };
  /** Upper-case methods, sorted; absent: any method. */
  readonly methods?: { readonly values: readonly string[]; readonly pos: SourcePos };
  /** Sorted by name. */
  readonly headers: readonly { readonly name: string; readonly kind: HeaderMatchKind; readonly value?: string; readonly pos: SourcePos }[];
  readonly pos: SourcePos;
}

/** Fault injection of one route (chaos testing). Percentages are 0-100. */
export interface FaultPolicy {
  readonly delay?: { readonly fixedMs: Valued<number>; readonly percent: Valued<number> };
  readonly abort?: { readonly status: Valued<number>; readonly percent: Valued<number> };
  readonly pos: SourcePos;
}

/**
 * One `routes.<callee>` entry. Split, timeout and retries are resolved: a key
 * the route does not set comes from the callee's own policy (with that
 * policy's provenance), so a route differs from the callee only where written.
 */
export interface RoutePolicy {
  readonly name: string;
  /** The list item's position; `namePos` the name's. */
  readonly pos: SourcePos;
  readonly namePos: SourcePos;
  /** Position in the file's list (0-based): the tie-break of equally specific routes. */
  readonly index: number;
  readonly match: RouteMatch;
  /** The route's own split, else the callee's, else none. */
  readonly split?: TrafficSplit;
  readonly retries: RetryPolicy;
  readonly timeouts: TimeoutPolicy;
  readonly fault?: FaultPolicy;
  /** Which of split, timeout and retries the route writes itself (the others are the callee's). */
  readonly own: { readonly split: boolean; readonly timeout: boolean; readonly retries: boolean };
}

/** Every policy that applies to calls *into* one service (keyed by the callee). */
export interface ServicePolicies {
  readonly service: string;
  readonly circuitBreaker?: CircuitBreakerPolicy;
  readonly rateLimit?: RateLimitPolicy;
  /** Always resolved: explicit, from `defaults:`, or built in (2 retries on connect-failure,refused-stream,unavailable). */
  readonly retries: RetryPolicy;
  /** Always resolved: explicit, from `defaults:`, or built in (15 s, Envoy's own route default). */
  readonly timeouts: TimeoutPolicy;
  readonly access: AccessPolicy;
  readonly split?: TrafficSplit;
  /** `routes.<service>` in file order (the compiler orders them by specificity); absent when none. */
  readonly routes?: readonly RoutePolicy[];
}

/**
 * `externals.<name>`: a system outside the mesh. Callers list it under
 * `calls:` like a service, and `access.<name>` says who may; its own
 * `timeouts` and `retries` apply as for a service. It has no sidecar and no
 * mesh identity: the caller's sidecar originates TLS and checks the system's
 * certificate against `tls`.
 */
export interface ExternalService {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Connect here instead of resolving `host`. */
  readonly address?: string;
  readonly tls: {
    /** As written (relative to the mesh directory, or absolute). */
    readonly caFile: string;
    readonly sni: string;
    /** Sorted. */
    readonly subjectAltNames: readonly string[];
  };
  /** access, retries, timeouts (and circuit_breakers) keyed by its name; resolved like a service's. */
  readonly policies: ServicePolicies;
  readonly pos: SourcePos;
  readonly fieldPos: Readonly<Record<string, SourcePos>>;
}

/** What a guardrail rule looks for (src/envoy/filters/guardrail.ts implements each). */
export type GuardrailDetector = 'us_ssn' | 'card_number';

/**
 * `guardrails.<name>`: inspect requests leaving the `from` services (their
 * sidecars) for `to` callees; a detected value refuses the request with 403
 * before the callee sees it. A request the rule cannot inspect (body over
 * `maxBodyBytes` or of unknown length) is refused (`fail: closed`) or let
 * through uninspected (`fail: open`).
 */
export interface GuardrailRule {
  readonly name: string;
  /** Undefined: every service with a sidecar. Sorted. */
  readonly from?: readonly string[];
  /** 'any', 'external', or callee names (sorted). */
  readonly to: 'any' | 'external' | readonly string[];
  readonly detect: readonly GuardrailDetector[];
  readonly inspectHeaders: boolean;
  readonly inspectBody: boolean;
  readonly maxBodyBytes: number;
  readonly failClosed: boolean;
  readonly pos: SourcePos;
  readonly fieldPos: Readonly<Record<string, SourcePos>>;
}

/**
 * `gateways.<name>`: an ingress gateway (src/config/build-gateways.ts). A mesh
 * workload with the identity spiffe://<td>/svc/<name> and an Envoy node of its
 * own; public HTTPS listeners in front, mTLS to the services it routes to.
 */
export interface Gateway {
  readonly name: string;
  readonly adminPort: number;
  /** In file order (conflicts are reported against the earlier one). */
  readonly listeners: readonly GatewayListener[];
  /** In file order; the compiler orders them (exact before prefix, longer prefix first). */
  readonly routes: readonly GatewayRoute[];
  readonly pos: SourcePos;
  readonly fieldPos: Readonly<Record<string, SourcePos>>;
}

export type GatewayTls =
  | { readonly kind: 'mesh' }
  /** As written: relative to the mesh directory, or absolute (Envoy reads them at run time, like externals' ca_file). */
  | { readonly kind: 'files'; readonly certFile: string; readonly keyFile: string; readonly certPos: SourcePos };

export interface GatewayListener {
  readonly name: string;
  readonly port: number;
  readonly address: string;
  /** In file order, each with its position. */
  readonly hostnames: readonly { readonly name: string; readonly pos: SourcePos }[];
  readonly tls: GatewayTls;
  readonly pos: SourcePos;
  readonly portPos: SourcePos;
}

export interface GatewayRoute {
  readonly host: string;
  readonly path: { readonly kind: 'prefix' | 'exact'; readonly value: string };
  readonly to: string;
  /** The route's own timeout; absent: the service's. */
  readonly timeoutMs?: Valued<number>;
  /** Position in the list (0-based). */
  readonly index: number;
  readonly pos: SourcePos;
  readonly hostPos: SourcePos;
  readonly toPos: SourcePos;
}

export interface MeshModel {
  /** Absolute path of the mesh directory. */
  readonly dir: string;
  /** The mesh directory as named in diagnostics (file positions start with it). */
  readonly displayDir: string;
  readonly settings: MeshSettings;
  /** Sorted by name. */
  readonly services: readonly ServiceManifest[];
  /** One entry per declared service (even with no policies: access then denies all), sorted by service. */
  readonly policies: readonly ServicePolicies[];
  /** `externals:` of mesh_policies.yml, sorted by name; absent when none. */
  readonly externals?: readonly ExternalService[];
  /** `guardrails:` of mesh_policies.yml, sorted by name; absent when none. */
  readonly guardrails?: readonly GuardrailRule[];
  /** `gateways:` of mesh_policies.yml, sorted by name; absent when none. */
  readonly gateways?: readonly Gateway[];
}

export function spiffeId(trustDomain: string, service: string): string {
  return `spiffe://${trustDomain}/svc/${service}`;
}

/** mesh.yml `events` (docs/events.md). */
export interface EventSettings {
  /** Coalescing window per type and pair; 0 sends every occurrence. */
  readonly coalesceMs: number;
  readonly certExpiringWithinMs: number;
  readonly sinks: readonly EventSinkSpec[];
}

export type EventSinkSpec =
  | { readonly kind: 'webhook'; readonly url: string; readonly spoolBytes: number; readonly pos: SourcePos }
  | { readonly kind: 'file'; readonly file: string; readonly pos: SourcePos }
  | { readonly kind: 'stdout'; readonly pos: SourcePos }
  /** Not exactly one of webhook, file, stdout: reported by MESH150, never served. */
  | { readonly kind: 'invalid'; readonly keys: readonly string[]; readonly pos: SourcePos };
