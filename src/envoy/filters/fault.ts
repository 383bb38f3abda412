/**
 * Fault injection (envoy.filters.http.fault) for `routes.<callee>[].fault`.
 * The outbound chain carries the filter only when one of the node's routes
 * injects a fault, so meshes without faults compile exactly as before; the
 * listener's filter is empty (it injects nothing) and each faulty route
 * carries its own HTTPFault as per-route config, which replaces the
 * listener's for that route (fault.proto: "can be overridden per route").
 *
 * Percentages are FractionalPercent out of a MILLION, so a percent with up to
 * four decimals is exact. No header_abort / header_delay: a caller cannot
 * switch faults on with x-envoy-fault-* headers.
 */
import type { FaultIR, NodeIR } from '../../ir/types';
import { TYPE, duration, type JsonObject } from '../proto-json';
import type { FilterContext, HttpFilterSpec } from './types';

export const FAULT_FILTER_NAME = 'envoy.filters.http.fault';

export function nodeInjectsFaults(node: NodeIR): boolean {
  return node.outbound.virtualHosts.some((vh) => (vh.routes ?? []).some((r) => r.fault !== undefined));
}

export const faultFilter: HttpFilterSpec = {
  name: FAULT_FILTER_NAME,
  build(ctx: FilterContext) {
    // Proxyless callers get no faults (translate/routes.ts, reported as MESH070).
    if (ctx.chain !== 'envoy-outbound' || !nodeInjectsFaults(ctx.node)) return undefined;
    return { name: FAULT_FILTER_NAME, typed_config: { '@type': TYPE.httpFault } };
  },
};

const percentage = (percent: number): JsonObject => ({ numerator: Math.round(percent * 10_000), denominator: 'MILLION' });

export function faultPerRoute(f: FaultIR): JsonObject {
  return {
    '@type': TYPE.httpFault,
    ...(f.delay ? { delay: { fixed_delay: duration(f.delay.fixedMs.value), percentage: percentage(f.delay.percent.value) } } : {}),
    ...(f.abort ? { abort: { http_status: f.abort.status.value, percentage: percentage(f.abort.percent.value) } } : {}),
  };
}
