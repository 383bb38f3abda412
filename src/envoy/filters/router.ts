import { TYPE } from '../proto-json';
import type { HttpFilterSpec } from './types';

export const ROUTER_FILTER_NAME = 'envoy.filters.http.router';

/** The terminal filter: forwards to the route's cluster (or, on gRPC servers, hands the call to the app). */
export const routerFilter: HttpFilterSpec = {
  name: ROUTER_FILTER_NAME,
  build: () => ({ name: ROUTER_FILTER_NAME, typed_config: { '@type': TYPE.router } }),
};
