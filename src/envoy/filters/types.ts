import type { NodeIR } from '../../ir/types';
import type { JsonObject } from '../proto-json';

/** Which HTTP connection manager a filter list is for. */
/** envoy-gateway: an ingress gateway's public listener (router only: src/envoy/gateway.ts). */
export type FilterChainKind = 'envoy-inbound' | 'envoy-outbound' | 'envoy-gateway' | 'grpc-server' | 'grpc-client';

export interface FilterContext {
  readonly chain: FilterChainKind;
  readonly node: NodeIR;
}

/** One HTTP filter: its well-known name and how to build it (undefined = not on this chain). */
export interface HttpFilterSpec {
  readonly name: string;
  build(ctx: FilterContext): JsonObject | undefined;
}
