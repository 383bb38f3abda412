/**
 * The mesh IR: what one node (an Envoy sidecar or a proxyless gRPC member)
 * must be told, as plain readonly data with no Envoy types (the Envoy Gateway
 * layering: model -> IR -> xDS). src/translate builds it, src/envoy turns it
 * into Envoy v3 resources.
 *
 * Every value that came from a policy keeps its Provenance (`Valued<T>`), so
 * `mesh explain` / `mesh diff` can say which line of which file produced it.
 * Every list is sorted by translate/finalize.ts (see each field's comment);
 * nothing downstream may depend on input order.
 */
import type { SourcePos } from '../diag/diagnostic';
import type { FaultPolicy, Protocol, Provenance, RouteMatch, Valued } from '../model/types';

export type { Protocol, Provenance, Valued };

/** envoy: an http service behind its sidecar. grpc: a proxyless gRPC member (A27/A36). */
export type NodeKind = 'envoy' | 'grpc';

export interface MeshIR {
  readonly meshName: string;
  readonly trustDomain: string;
  /** Source files (relative to the mesh dir) the IR was built from; sorted. */
  readonly sources: readonly string[];
  /** One per service, sorted by id. */
  readonly nodes: readonly NodeIR[];
}

export interface NodeIR {
  /** Node id = node cluster = service name (Envoy's node.id / node.cluster, gRPC bootstrap node). */
  readonly id: string;
  readonly cluster: string;
  readonly kind: NodeKind;
  readonly service: string;
  readonly version: string;
  /** The manifest (relative path) and its position. */
  readonly file: string;
  readonly pos: SourcePos;
  readonly identity: IdentityIR;
  readonly inbound: InboundIR;
  readonly outbound: OutboundIR;
  /** Upstream EDS clusters, sorted by name. */
  readonly clusters: readonly UpstreamClusterIR[];
  /** One per upstream cluster, sorted by clusterName. */
  readonly loadAssignments: readonly LoadAssignmentIR[];
  /** SDS secrets the node uses (Envoy only; gRPC uses certificate providers), sorted by name. */
  readonly secrets: readonly SecretIR[];
  readonly bootstrap: BootstrapIR;
  /** Policies this node cannot enforce (proxyless gRPC only), sorted by policy then target. */
  readonly gaps: readonly PolicyGap[];
  /**
   * Present on an ingress gateway's node (translate/gateway.ts): its public
   * listeners replace the sidecar's inbound and outbound listeners. Its
   * `inbound` then names the first public listener and allows nobody (no
   * mesh workload calls a gateway); its `outbound` has the virtual hosts of
   * the services it routes to (their clusters, split, retries, timeouts) and
   * no listener.
   */
  readonly gateway?: GatewayIR;
}

/** An ingress gateway: public TLS listeners routing by host and path to mesh services. */
export interface GatewayIR {
  readonly name: string;
  /** One Envoy listener per port, sorted by port. */
  readonly listeners: readonly GatewayListenerIR[];
}

export interface GatewayListenerIR {
  /** `gateway|<port>`. */
  readonly name: string;
  readonly address: string;
  readonly port: number;
  /** One per declared listener on this port, sorted by name; the TLS server name (SNI) picks one. */
  readonly chains: readonly GatewayChainIR[];
}

export interface GatewayChainIR {
  /** The declared listener's name. */
  readonly name: string;
  /** Sorted. */
  readonly hostnames: readonly string[];
  /** mesh: the node's own SDS certificate (it carries the hostnames); files: read by Envoy from disk. */
  readonly tls: { readonly kind: 'mesh'; readonly secret: string } | { readonly kind: 'files'; readonly certFile: string; readonly keyFile: string };
  /** `gateway|<port>|<listener>`: its own route configuration, so a Host of another chain's certificate finds nothing. */
  readonly routeConfigName: string;
  /** One per hostname, sorted by hostname. */
  readonly virtualHosts: readonly GatewayVirtualHostIR[];
  readonly pos: SourcePos;
}

export interface GatewayVirtualHostIR {
  readonly hostname: string;
  /** In the order Envoy tries them: exact paths, then prefixes longest first, then file order. */
  readonly routes: readonly GatewayRouteIR[];
}

export interface GatewayRouteIR {
  readonly name: string;
  readonly path: { readonly kind: 'prefix' | 'exact'; readonly value: string };
  readonly service: string;
  /** The service's clusters (per version under a split), as a sidecar calling it gets them; sorted by cluster. */
  readonly targets: readonly RouteTargetIR[];
  readonly split?: Provenance;
  readonly retry?: RetryIR;
  readonly timeoutMs: Valued<number>;
  readonly pos: SourcePos;
}

export interface IdentityIR {
  /** spiffe://<td>/svc/<service>: the URI SAN of this node's certificate. */
  readonly spiffeId: string;
  readonly trustDomain: string;
  /** SDS name of the node's certificate + key (Envoy). */
  readonly certSecret: string;
  /** SDS name of the trust bundle (Envoy). */
  readonly trustBundleSecret: string;
  /** gRPC certificate provider instance (A29) for identity and roots, defined in the gRPC bootstrap. */
  readonly certProviderInstance: string;
}

export interface InboundIR {
  readonly listenerName: string;
  /** Bind address: all interfaces, because callers come from other hosts. */
  readonly address: string;
  /** Envoy: the sidecar's mesh (mTLS) port. gRPC: the xDS server's own port. */
  readonly port: number;
  /** Envoy only: the STATIC cluster pointing at the app on 127.0.0.1. */
  readonly localCluster?: LocalClusterIR;
  readonly access: AccessIR;
  readonly rateLimit?: RateLimitIR;
  /** The service's own request timeout, applied to the inbound route too (never shorter than callers'). */
  readonly timeoutMs: Valued<number>;
}

export interface LocalClusterIR {
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

export interface AccessIR {
  /** Callers allowed by the access policy, sorted by spiffeId. Empty = deny all. */
  readonly allowed: readonly AllowedCallerIR[];
  /** The access policy, or builtin default deny when the service has none. */
  readonly from: Provenance;
}

export interface AllowedCallerIR {
  readonly service: string;
  readonly spiffeId: string;
  readonly from: Provenance;
}

export interface RateLimitIR {
  /** Tokens added per fill interval (requests per second). */
  readonly rps: Valued<number>;
  /** Bucket size. */
  readonly burst: Valued<number>;
  readonly fillIntervalMs: Valued<number>;
}

export interface OutboundIR {
  /** Envoy only: the listener the app sends plain HTTP to. */
  readonly listenerName?: string;
  readonly address?: string;
  readonly port?: number;
  /** One per allowed callee, sorted by name. */
  readonly virtualHosts: readonly VirtualHostIR[];
  /** Envoy only: allowed calls to external systems, sorted by name; absent when none. */
  readonly externals?: readonly ExternalUpstreamIR[];
  /** Envoy only: the guardrail rules on calls to each callee, sorted by callee; absent when none. */
  readonly guardrails?: readonly CalleeGuardrailIR[];
}

/** The guardrail rules that inspect this node's requests to one callee (a service or an external system). */
export interface CalleeGuardrailIR {
  readonly callee: string;
  readonly external: boolean;
  /** Sorted by name. */
  readonly rules: readonly GuardrailIR[];
}

export interface GuardrailIR {
  readonly name: string;
  readonly detect: readonly ('us_ssn' | 'card_number')[];
  readonly inspectHeaders: boolean;
  readonly inspectBody: boolean;
  readonly maxBodyBytes: number;
  readonly failClosed: boolean;
  readonly pos: SourcePos;
}

/** A call to an external system: a virtual host and a TLS-originating cluster of its own. */
export interface ExternalUpstreamIR {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Connect here instead of resolving host. */
  readonly address?: string;
  /** Host values the app may send; sorted. */
  readonly domains: readonly string[];
  readonly clusterName: string;
  readonly sni: string;
  readonly subjectAltNames: readonly string[];
  /** As the node reads it (relative to its working directory, the mesh directory). */
  readonly caFile: string;
  readonly retry?: RetryIR;
  readonly timeoutMs: Valued<number>;
  readonly connectTimeoutMs: Valued<number>;
  readonly callPos: SourcePos;
  /** The `externals.<name>` declaration. */
  readonly pos: SourcePos;
}

export interface VirtualHostIR {
  /** = the callee service name. */
  readonly name: string;
  readonly service: string;
  readonly protocol: Protocol;
  /** Host/authority values that select this callee; sorted. */
  readonly domains: readonly string[];
  /** RDS name: `outbound` for Envoy (one config, many vhosts), `outbound|<svc>` per callee for gRPC. */
  readonly routeConfigName: string;
  /** gRPC only: the client API listener name (`xds:///<svc>` looks up Listener `<svc>`, A27). */
  readonly apiListenerName?: string;
  /** Where traffic goes; one entry without a split, one per version with weight > 0 with one. Sorted by cluster. */
  readonly targets: readonly RouteTargetIR[];
  /** Present when a traffic split applies. */
  readonly split?: Provenance;
  /** Absent when retries are disabled (attempts 0). */
  readonly retry?: RetryIR;
  readonly timeoutMs: Valued<number>;
  /** The `calls:` entry that brought this callee in. */
  readonly callPos: SourcePos;
  /**
   * `routes.<callee>`, in the order the proxy tries them (most specific first,
   * src/model/route-order.ts), before the callee's own route(s). Absent when
   * the callee has none, so meshes without routes compile as before.
   */
  readonly routes?: readonly RouteIR[];
}

/** A request-level route: its match, and everything that differs per route. */
export interface RouteIR {
  readonly name: string;
  readonly match: RouteMatchIR;
  /** Sorted by cluster. */
  readonly targets: readonly RouteTargetIR[];
  readonly split?: Provenance;
  readonly retry?: RetryIR;
  readonly timeoutMs: Valued<number>;
  readonly fault?: FaultIR;
  /** The `routes:` list item. */
  readonly pos: SourcePos;
}

/** The model's RouteMatch without source positions (one provenance for the whole match). */
export interface RouteMatchIR {
  readonly path?: Omit<NonNullable<RouteMatch['path']>, 'pos'>;
  /** Upper case, sorted; absent: any method. */
  readonly methods?: readonly string[];
  /** Sorted by name. */
  readonly headers: readonly Omit<RouteMatch['headers'][number], 'pos'>[];
  readonly from: Provenance;
}

/** Fault injection (Envoy's HTTP fault filter, per route): the policy's values, each with its provenance. */
export interface FaultIR extends Pick<FaultPolicy, 'delay' | 'abort'> {
  readonly from: Provenance;
}

export interface RouteTargetIR {
  readonly cluster: string;
  readonly version?: string;
  readonly weight: Valued<number>;
}

export interface RetryIR {
  readonly numRetries: Valued<number>;
  /** Conditions as the node understands them, sorted (gRPC: mapped to status names, A44). */
  readonly retryOn: Valued<readonly string[]>;
  readonly perTryTimeoutMs?: Valued<number>;
  /**
   * Envoy, HTTP callees only: present when non-idempotent requests must not be
   * retried on the conditions above. They get a route of their own with these
   * conditions (only failures where the request never reached the service;
   * empty: no retries) and no per-try timeout. Idempotent methods keep the
   * policy as written.
   */
  readonly nonIdempotent?: { readonly retryOn: Valued<readonly string[]> };
}

export interface UpstreamClusterIR {
  readonly name: string;
  readonly service: string;
  /** Absent: every version of the service (no split). */
  readonly version?: string;
  readonly protocol: Protocol;
  /** EDS resource name (= name). */
  readonly edsServiceName: string;
  readonly connectTimeoutMs: Valued<number>;
  /** SNI sent to the upstream. */
  readonly sni: string;
  /** The only URI SAN the upstream's certificate may carry. */
  readonly peerSpiffeId: string;
  readonly outlier?: OutlierIR;
  readonly limits?: LimitsIR;
}

export interface OutlierIR {
  /** max_failures as written: failed calls, as the calling app sees them. */
  readonly failedCalls: Valued<number>;
  /** Tries per call on this route (1 + retries): what one failed call costs the instance. */
  readonly attemptsPerCall: Valued<number>;
  /** What Envoy counts: consecutive failed attempts on one instance (failedCalls x attemptsPerCall). */
  readonly consecutiveFailures: Valued<number>;
  readonly baseEjectionMs: Valued<number>;
  readonly intervalMs: Valued<number>;
  readonly maxEjectionPercent: Valued<number>;
}

export interface LimitsIR {
  readonly maxConnections: Valued<number>;
  readonly maxPendingRequests: Valued<number>;
  readonly maxRequests: Valued<number>;
  readonly maxRetries: Valued<number>;
}

export interface LoadAssignmentIR {
  readonly clusterName: string;
  /** Sorted by address, then port. */
  readonly endpoints: readonly EndpointIR[];
}

export interface EndpointIR {
  readonly address: string;
  readonly port: number;
  readonly version: string;
  readonly pos: SourcePos;
}

export type SecretKind = 'tls-certificate' | 'trust-bundle';

export interface SecretIR {
  readonly name: string;
  readonly kind: SecretKind;
  /** Service name (tls-certificate) or trust domain (trust-bundle): what the PKI store is asked for. */
  readonly subject: string;
}

export interface BootstrapIR {
  /** Envoy admin; always loopback. */
  readonly adminAddress: string;
  readonly adminPort: number;
  readonly controlPlane: {
    readonly address: string;
    readonly port: number;
    readonly spiffeId: string;
    /** Every replica to fail over between, the primary first (only when mesh.yml lists control_plane.replicas). */
    readonly replicas?: ReadonlyArray<{ readonly address: string; readonly port: number }>;
  };
  /** Files the node reads at start (paths as the node sees them). Never their contents. */
  readonly pki: { readonly certFile: string; readonly keyFile: string; readonly caFile: string };
  /** gRPC only: A36 server listener name template. */
  readonly serverListenerTemplate?: string;
}

/** A policy that a proxyless gRPC node cannot enforce; lint turns each into a warning (MESH070). */
export interface PolicyGap {
  /** The node that cannot enforce it. */
  readonly service: string;
  /** The service the policy is about (the callee for client-side policies, itself otherwise). */
  readonly target: string;
  /** Dotted path of the real setting the gap is about, e.g. `retries.per_try_timeout` (a key of the mesh's files). */
  readonly policy: string;
  /** What cannot be enforced, when it is not the setting itself (e.g. "mTLS to the control plane", which no key sets). */
  readonly subject?: string;
  readonly reason: string;
  /** The gRFC that says so, e.g. `A44`. */
  readonly proposal: string;
  readonly pos: SourcePos;
}
