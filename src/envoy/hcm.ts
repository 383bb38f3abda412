/** The HTTP connection manager network filter, shared by every listener kind. */
import { TYPE, adsConfigSource, type JsonObject } from './proto-json';

export const HCM_FILTER_NAME = 'envoy.filters.network.http_connection_manager';

export interface HcmInput {
  readonly statPrefix: string;
  readonly httpFilters: readonly JsonObject[];
  /** Exactly one of rdsName (fetched over ADS) or inline routeConfig. */
  readonly rdsName?: string;
  readonly routeConfig?: JsonObject;
  /** Envoy-only fields (access log, request id, client cert forwarding). */
  readonly extra?: JsonObject;
}

export function httpConnectionManager(input: HcmInput): JsonObject {
  if ((input.rdsName === undefined) === (input.routeConfig === undefined)) {
    throw new Error('bug: an HCM needs exactly one of rds or route_config');
  }
  return {
    '@type': TYPE.httpConnectionManager,
    stat_prefix: input.statPrefix,
    ...(input.rdsName !== undefined
      ? { rds: { route_config_name: input.rdsName, config_source: adsConfigSource() } }
      : { route_config: input.routeConfig }),
    // Order matters (filters/index.ts); never sorted.
    http_filters: [...input.httpFilters],
    ...input.extra,
  };
}

/** The HCM as the single network filter of a filter chain. */
export function hcmNetworkFilter(hcm: JsonObject): JsonObject {
  return { name: HCM_FILTER_NAME, typed_config: hcm };
}
