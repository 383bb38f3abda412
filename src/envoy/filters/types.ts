import type { NodeIR } from '../../ir/types';
import type { JsonObject } from '../proto-json';

/** Which HTTP connection manager a filter list is for. */
export type FilterChainKind = 'envoy-inbound' | 'envoy-outbound' | 'grpc-server' | 'grpc-client';

export interface FilterContext {
  readonly chain: FilterChainKind;
  readonly node: NodeIR;
}

/** One HTTP filter: its well-known name and how to build it (undefined = not on this chain). */
export interface HttpFilterSpec {
  readonly name: string;
  build(ctx: FilterContext): JsonObject | undefined;
}
