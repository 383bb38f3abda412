/**
 * The node being built. Processors (see index.ts) fill it in order; each one
 * owns the fields named in its file. finalize.ts then checks completeness,
 * sorts every list and returns the readonly NodeIR.
 */
import type {
  AccessIR,
  BootstrapIR,
  CalleeGuardrailIR,
  ExternalUpstreamIR,
  IdentityIR,
  LimitsIR,
  LoadAssignmentIR,
  LocalClusterIR,
  NodeKind,
  OutlierIR,
  PolicyGap,
  RateLimitIR,
  RetryIR,
  RouteIR,
  RouteTargetIR,
  SecretIR,
  Valued,
} from '../ir/types';
import type { CallEdge, Provenance, ServiceManifest, ServicePolicies } from '../model/types';

export interface InboundDraft {
  listenerName: string;
  address: string;
  port: number;
  localCluster?: LocalClusterIR;
  access?: AccessIR;
  rateLimit?: RateLimitIR;
  timeoutMs?: Valued<number>;
}

export interface OutboundDraft {
  listenerName?: string;
  address?: string;
  port?: number;
  externals?: ExternalUpstreamIR[];
  guardrails?: CalleeGuardrailIR[];
}

export interface ClusterDraft {
  readonly name: string;
  readonly version?: string;
  outlier?: OutlierIR;
  limits?: LimitsIR;
}

/** One allowed `calls:` edge: the callee's virtual host and clusters. */
export interface UpstreamDraft {
  readonly target: ServiceManifest;
  readonly policies: ServicePolicies;
  readonly call: CallEdge;
  /** The callee's SPIFFE ID: the only identity its certificate may present. */
  readonly peerSpiffeId: string;
  domains: string[];
  routeConfigName: string;
  apiListenerName?: string;
  targets: RouteTargetIR[];
  clusters: ClusterDraft[];
  split?: Provenance;
  retry?: RetryIR;
  timeoutMs?: Valued<number>;
  /** `routes.<callee>` as compiled for this node (routes.ts); absent without routes. */
  routes?: RouteIR[];
}

export interface NodeDraft {
  readonly service: ServiceManifest;
  readonly policies: ServicePolicies | undefined;
  readonly kind: NodeKind;
  identity?: IdentityIR;
  inbound?: InboundDraft;
  outbound?: OutboundDraft;
  bootstrap?: BootstrapIR;
  upstreams: UpstreamDraft[];
  loadAssignments: LoadAssignmentIR[];
  secrets: SecretIR[];
  gaps: PolicyGap[];
}

export function newDraft(service: ServiceManifest, policies: ServicePolicies | undefined): NodeDraft {
  return {
    service,
    policies,
    kind: service.protocol === 'grpc' ? 'grpc' : 'envoy',
    upstreams: [],
    loadAssignments: [],
    secrets: [],
    gaps: [],
  };
}
