/**
 * Single faults, one per class our validator knows (src/validate/codes.ts),
 * each injected into one resource of a compiled node. A fault either applies
 * (and changed the copy) or does not fit the node (false: the corpus then
 * tries another node). `code` is the class: our validator must report it.
 *
 * Not injected: ENVOY040-043 are about files and documents (YAML that does
 * not parse, a document that is not Envoy config, a DiscoveryResponse whose
 * type_url disagrees with a resource's "@type", a missing file); a bootstrap
 * has no counterpart of them.
 */
import { ENVOY_CODES as C, type EnvoyCode } from '../../src/validate';
import type { JsonObject } from '../../src/validate';
import type { ResourceKind } from '../../src/envoy/resources';

export type Resources = { [K in ResourceKind]: JsonObject[] };

export interface Fault {
  readonly code: EnvoyCode;
  readonly name: string;
  /** The class is a warning: our validator accepts the config. */
  readonly accepted?: boolean;
  inject(r: Resources): boolean;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every object under `root` (pre-order) for which `pred` holds, with its parent key. */
function find(root: unknown, pred: (o: JsonObject, key: string | undefined) => boolean, key?: string, out: JsonObject[] = []): JsonObject[] {
  if (Array.isArray(root)) for (const x of root) find(x, pred, key, out);
  else if (isObject(root)) {
    if (pred(root, key)) out.push(root);
    for (const [k, v] of Object.entries(root)) find(v, pred, k, out);
  }
  return out;
}

/** The first object of `kind` matching `pred`, edited by `edit`; false when there is none. */
function edit(r: Resources, kinds: readonly ResourceKind[], pred: (o: JsonObject, key: string | undefined) => boolean, fn: (o: JsonObject) => void): boolean {
  for (const kind of kinds) {
    const hit = find(r[kind], pred)[0];
    if (hit) {
      fn(hit);
      return true;
    }
  }
  return false;
}

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const RBAC = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
const isHcm = (o: JsonObject): boolean => o['@type'] === HCM;
const isRouteEntry = (o: JsonObject): boolean => isObject(o['match']) && isObject(o['route']) && typeof (o['route'] as JsonObject)['cluster'] === 'string';
const isCluster = (o: JsonObject, key: string | undefined): boolean => key === undefined && typeof o['name'] === 'string' && 'connect_timeout' in o;
const isEdsCluster = (o: JsonObject, key: string | undefined): boolean => isCluster(o, key) && o['type'] === 'EDS';
const isVirtualHost = (o: JsonObject): boolean => Array.isArray(o['domains']) && Array.isArray(o['routes']);

export const FAULTS: readonly Fault[] = [
  { code: C.UNKNOWN_FIELD, name: 'unknown field in a cluster', inject: (r) => edit(r, ['clusters'], isCluster, (c) => (c['max_connections_ever'] = 10)) },
  { code: C.UNKNOWN_FIELD, name: 'unknown field in a route', inject: (r) => edit(r, ['routes'], isRouteEntry, (e) => ((e['route'] as JsonObject)['cluster_weight'] = 1)) },
  { code: C.WRONG_TYPE, name: 'number where a duration string goes', inject: (r) => edit(r, ['clusters'], isCluster, (c) => (c['connect_timeout'] = 5)) },
  { code: C.WRONG_TYPE, name: 'string where a uint32 goes', inject: (r) => edit(r, ['clusters'], isCluster, (c) => (c['per_connection_buffer_limit_bytes'] = 'lots')) },
  { code: C.WRONG_TYPE, name: 'object where a repeated field goes', inject: (r) => edit(r, ['routes'], isVirtualHost, (v) => (v['domains'] = { host: '*' })) },
  { code: C.UNKNOWN_ENUM, name: 'unknown lb_policy name', inject: (r) => edit(r, ['clusters'], isCluster, (c) => (c['lb_policy'] = 'FASTEST_FIRST')) },
  { code: C.ONEOF_CONFLICT, name: 'two members of Cluster.lb_config', inject: (r) => edit(r, ['clusters'], isCluster, (c) => Object.assign(c, { ring_hash_lb_config: {}, least_request_lb_config: {} })) },
  { code: C.ONEOF_CONFLICT, name: 'rds and route_config in one HCM', inject: (r) => edit(r, ['listeners'], (o) => isHcm(o) && isObject(o['rds']), (h) => (h['route_config'] = { name: 'inline' })) },
  { code: C.UNRESOLVED_ANY, name: 'HTTP filter typed_config of an unknown type', inject: (r) => edit(r, ['listeners'], (o) => o['@type'] === ROUTER, (f) => (f['@type'] = 'type.googleapis.com/envoy.extensions.filters.http.nope.v3.Nope')) },
  { code: C.DUPLICATE_FIELD, name: 'connect_timeout and connectTimeout', inject: (r) => edit(r, ['clusters'], isCluster, (c) => (c['connectTimeout'] = '2s')) },
  { code: C.PGV_STRING, name: 'empty virtual host name', inject: (r) => edit(r, ['routes'], isVirtualHost, (v) => (v['name'] = '')) },
  { code: C.PGV_STRING, name: 'empty HCM stat_prefix', inject: (r) => edit(r, ['listeners'], isHcm, (h) => (h['stat_prefix'] = '')) },
  { code: C.PGV_NUMBER, name: 'endpoint port 70000', inject: (r) => edit(r, ['endpoints', 'clusters'], (o) => isObject(o['socket_address']) && !('filter_chains' in o), (a) => ((a['socket_address'] as JsonObject)['port_value'] = 70000)) },
  { code: C.PGV_NUMBER, name: 'retry budget of 150 percent', inject: (r) => edit(r, ['clusters'], isCluster, (c) => (c['circuit_breakers'] = { thresholds: [{ retry_budget: { budget_percent: { value: 150 } } }] })) },
  { code: C.PGV_DURATION, name: 'connect_timeout 0s', inject: (r) => edit(r, ['clusters'], isCluster, (c) => (c['connect_timeout'] = '0s')) },
  { code: C.PGV_DURATION, name: 'negative route timeout', inject: (r) => edit(r, ['routes'], isRouteEntry, (e) => ((e['route'] as JsonObject)['idle_timeout'] = '-1s')) },
  { code: C.PGV_REPEATED, name: 'virtual host without domains', inject: (r) => edit(r, ['routes'], isVirtualHost, (v) => (v['domains'] = [])) },
  { code: C.PGV_REQUIRED, name: 'route without match', inject: (r) => edit(r, ['routes'], isRouteEntry, (e) => delete e['match']) },
  { code: C.PGV_ONEOF_REQUIRED, name: 'route without an action', inject: (r) => edit(r, ['routes'], isRouteEntry, (e) => delete e['route']) },
  { code: C.PGV_ENUM, name: 'lb_policy 42 (not a defined value)', inject: (r) => edit(r, ['clusters'], isCluster, (c) => (c['lb_policy'] = 42)) },
  // A map's `keys` rules are string rules on each key: reported as ENVOY010, like `repeated.items` with element codes.
  { code: C.PGV_STRING, name: 'empty filter_metadata key (map keys rule)', inject: (r) => edit(r, ['clusters'], isCluster, (c) => (c['metadata'] = { filter_metadata: { '': { a: 1 } } })) },
  {
    code: C.PGV_MAP, name: 'RBAC matcher with an empty exact_match_map',
    inject: (r) => edit(r, ['listeners'], (o) => o['@type'] === RBAC && isObject(o['rules']), (f) => {
      delete f['rules'];
      f['matcher'] = { matcher_tree: { input: { name: 'h', typed_config: { '@type': 'type.googleapis.com/envoy.type.matcher.v3.HttpRequestHeaderMatchInput', header_name: 'x-h' } }, exact_match_map: { map: {} } } };
    }),
  },
  { code: C.PGV_OTHER, name: 'RBAC permission any: false', inject: (r) => edit(r, ['routes', 'listeners'], (o) => o['any'] === true, (p) => (p['any'] = false)) },
  { code: C.DEPRECATED_FIELD, name: 'deprecated RouteAction.max_grpc_timeout', accepted: true, inject: (r) => edit(r, ['routes'], isRouteEntry, (e) => ((e['route'] as JsonObject)['max_grpc_timeout'] = '5s')) },
  {
    code: C.DISALLOWED_BY_DEFAULT, name: 'rate limit action dynamic_metadata (disallowed by default)',
    inject: (r) => edit(r, ['routes'], isRouteEntry, (e) => ((e['route'] as JsonObject)['rate_limits'] = [{ actions: [{ dynamic_metadata: { descriptor_key: 'k', metadata_key: { key: 'm', path: [{ key: 'p' }] } } }] }])),
  },
  { code: C.UNKNOWN_CLUSTER, name: 'route to a missing cluster', inject: (r) => edit(r, ['routes'], isRouteEntry, (e) => ((e['route'] as JsonObject)['cluster'] = 'outbound|nobody')) },
  { code: C.UNKNOWN_ROUTE_CONFIG, name: 'RDS name nobody serves', inject: (r) => edit(r, ['listeners'], (o) => typeof o['route_config_name'] === 'string', (d) => (d['route_config_name'] = 'outbound|nobody')) },
  {
    code: C.MISSING_ENDPOINTS, name: 'EDS cluster without its ClusterLoadAssignment',
    inject: (r) => {
      const c = find(r.clusters, isEdsCluster)[0];
      const name = c && ((c['eds_cluster_config'] as JsonObject | undefined)?.['service_name'] ?? c['name']);
      const before = r.endpoints.length;
      r.endpoints = r.endpoints.filter((e) => e['cluster_name'] !== name);
      return r.endpoints.length < before;
    },
  },
  { code: C.UNKNOWN_SECRET, name: 'SDS name nobody serves', inject: (r) => edit(r, ['listeners', 'clusters'], (o, key) => key === 'tls_certificate_sds_secret_configs' && typeof o['name'] === 'string', (s) => (s['name'] = 'spiffe://nobody')) },
  {
    code: C.DUPLICATE_ADDRESS, name: 'two listeners on one address',
    inject: (r) => {
      const [a, b] = r.listeners.filter((l) => isObject(l['address']));
      if (!a || !b) return false;
      b['address'] = structuredClone(a['address']);
      return true;
    },
  },
  {
    code: C.ROUTER_NOT_LAST, name: 'router before another HTTP filter',
    inject: (r) => edit(r, ['listeners'], (o) => isHcm(o) && Array.isArray(o['http_filters']) && (o['http_filters'] as unknown[]).length > 1, (h) => {
      const filters = h['http_filters'] as unknown[];
      filters.unshift(filters.pop());
    }),
  },
  { code: C.ROUTER_NOT_LAST, name: 'HCM without a router', inject: (r) => edit(r, ['listeners'], isHcm, (h) => (h['http_filters'] = (h['http_filters'] as JsonObject[]).filter((f) => (f['typed_config'] as JsonObject | undefined)?.['@type'] !== ROUTER))) },
  {
    code: C.DUPLICATE_NAME, name: 'two clusters with one name',
    inject: (r) => {
      const c = r.clusters[0];
      if (!c) return false;
      r.clusters.push({ ...structuredClone(c), connect_timeout: '3s' });
      return true;
    },
  },
];
