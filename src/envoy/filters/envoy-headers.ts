/**
 * The local app is internal on the outbound listener (listener.ts), so that
 * Envoy honours its per-call deadline, x-envoy-upstream-rq-timeout-ms
 * (capped at the policy timeout: ../deadline.ts). Envoy honours every other
 * x-envoy-* control header from internal callers too: with them an app could
 * add retries the policy does not declare (x-envoy-retry-on with
 * x-envoy-max-retries retries a POST), change the per-try timeout, or rename
 * the stats. This filter (envoy.filters.http.header_mutation, first in the
 * outbound chain, well before the router that reads them) removes them, so the policy language
 * stays what the data plane does. The list is Envoy's "HTTP header
 * sanitizing" list (docs: configuration/http/http_conn_man/header_sanitizing)
 * plus the router's retry headers, minus the deadline.
 */
import { TYPE } from '../proto-json';
import type { FilterContext, HttpFilterSpec } from './types';

export const ENVOY_HEADERS_FILTER_NAME = 'envoy.filters.http.header_mutation';

/** What an app may not ask its sidecar for. Sorted; the deadline header is deliberately absent. */
export const STRIPPED_ENVOY_HEADERS: readonly string[] = [
  'x-envoy-decorator-operation',
  'x-envoy-downstream-service-cluster',
  'x-envoy-downstream-service-node',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-external-address',
  'x-envoy-force-trace',
  'x-envoy-hedge-on-per-try-timeout',
  'x-envoy-ip-tags',
  'x-envoy-max-retries',
  'x-envoy-retriable-header-names',
  'x-envoy-retriable-status-codes',
  'x-envoy-retry-grpc-on',
  'x-envoy-retry-on',
  'x-envoy-upstream-alt-stat-name',
  'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-upstream-rq-timeout-alt-response',
  'x-envoy-upstream-stream-duration-ms',
];

export const envoyHeadersFilter: HttpFilterSpec = {
  name: ENVOY_HEADERS_FILTER_NAME,
  build(ctx: FilterContext) {
    if (ctx.chain !== 'envoy-outbound') return undefined;
    return {
      name: ENVOY_HEADERS_FILTER_NAME,
      typed_config: { '@type': TYPE.headerMutation, mutations: { request_mutations: STRIPPED_ENVOY_HEADERS.map((h) => ({ remove: h })) } },
    };
  },
};
