/**
 * One node's xDS resources as a single Envoy bootstrap, so `envoy --mode
 * validate` (which loads only static config, never fetches xDS) reads the
 * same resources our validator reads. What changes, and why the comparison
 * stays fair (docs/validate.md, "Agreement with Envoy"):
 *
 * - every resource goes into `static_resources` without its `"@type"` (the
 *   bootstrap's lists are typed fields, not `Any`s);
 * - an HCM's `rds` naming a RouteConfiguration of the node becomes
 *   `route_config` with that configuration inline (Envoy's default for inline
 *   routes is `validate_clusters: true`: the check ENVOY030 mirrors);
 * - an EDS cluster whose ClusterLoadAssignment the node has becomes STATIC
 *   with the assignment as its `load_assignment`;
 * - an SDS reference to a secret of the node loses its `sds_config`, so it
 *   names a static secret; the secrets' placeholders (filled with key
 *   material by the control plane) become real PEMs;
 * - a reference to something the node does not have stays as served (over
 *   ADS, for which the bootstrap carries an `ads_config`): Envoy then treats
 *   it as it treats the same reference served over ADS.
 *
 * Nothing else is touched: every field a fault was injected into reaches
 * Envoy as it was.
 */
import type { NodeResources } from '../../src/envoy/resources';
import type { JsonObject } from '../../src/validate';

export interface StaticPems {
  readonly caPem: string;
  readonly chainPem: string;
  readonly keyPem: string;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A JSON copy of `v` with every object passed through `edit` (children first). */
function mapObjects(v: unknown, edit: (o: JsonObject) => JsonObject): unknown {
  if (Array.isArray(v)) return v.map((x) => mapObjects(x, edit));
  if (!isObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) out[k] = mapObjects(x, edit);
  return edit(out);
}

function withoutType(r: JsonObject): JsonObject {
  const { ['@type']: _type, ...rest } = r;
  return rest;
}

const byName = (list: readonly JsonObject[], field: string): Map<string, JsonObject> => {
  const m = new Map<string, JsonObject>();
  for (const r of list) if (typeof r[field] === 'string' && !m.has(r[field] as string)) m.set(r[field] as string, r);
  return m;
};

/** The placeholders the compiler writes for key material (src/envoy/secret.ts), replaced by real PEMs. */
function fillSecret(secret: JsonObject, pems: StaticPems): JsonObject {
  const pemFor: Record<string, string> = { trusted_ca: pems.caPem, certificate_chain: pems.chainPem, private_key: pems.keyPem };
  const fill = (v: unknown, key?: string): unknown => {
    if (Array.isArray(v)) return v.map((x) => fill(x));
    if (!isObject(v)) return v;
    const pem = key !== undefined ? pemFor[key] : undefined;
    if (pem !== undefined && typeof v['inline_string'] === 'string' && v['inline_string'].startsWith('hms-pki:')) return { ...v, inline_string: pem };
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x, k)]));
  };
  return fill(withoutType(secret)) as JsonObject;
}

const SDS_REF_KEYS = new Set(['tls_certificate_sds_secret_configs', 'validation_context_sds_secret_config']);

export function staticBootstrap(id: string, resources: NodeResources, pems: StaticPems): JsonObject {
  const routes = byName(resources.routes, 'name');
  const assignments = byName(resources.endpoints, 'cluster_name');
  const secretNames = new Set(resources.secrets.map((s) => s['name']));
  const staticSds = (ref: unknown): unknown => {
    if (!isObject(ref) || !secretNames.has(ref['name'])) return ref;
    const { sds_config: _source, ...rest } = ref;
    return rest;
  };
  const inline = (o: JsonObject): JsonObject => {
    const rds = o['rds'];
    let out = o;
    // An HCM that also has a route_config keeps both: that oneof conflict is a fault to show Envoy.
    if (isObject(rds) && !('route_config' in o) && typeof rds['route_config_name'] === 'string' && routes.has(rds['route_config_name'])) {
      const { rds: _rds, ...rest } = o;
      out = { ...rest, route_config: withoutType(routes.get(rds['route_config_name'])!) };
    }
    for (const k of Object.keys(out)) {
      if (!SDS_REF_KEYS.has(k)) continue;
      const v = out[k];
      out = { ...out, [k]: Array.isArray(v) ? v.map(staticSds) : staticSds(v) };
    }
    return out;
  };
  const staticCluster = (c: JsonObject): JsonObject => {
    if (c['type'] !== 'EDS') return c;
    const eds = isObject(c['eds_cluster_config']) ? c['eds_cluster_config'] : {};
    const service = typeof eds['service_name'] === 'string' && eds['service_name'] !== '' ? eds['service_name'] : c['name'];
    const cla = typeof service === 'string' ? assignments.get(service) : undefined;
    if (cla === undefined) return c;
    const { eds_cluster_config: _eds, ...rest } = c;
    return { ...rest, type: 'STATIC', load_assignment: withoutType(cla) };
  };
  return {
    node: { id, cluster: id },
    // Only for references left dynamic (to resources the node lacks); validate mode never connects.
    dynamic_resources: { ads_config: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER } }] } },
    static_resources: {
      listeners: resources.listeners.map((l) => mapObjects(withoutType(l), inline)),
      clusters: [...resources.clusters.map((c) => staticCluster(mapObjects(withoutType(c), inline) as JsonObject)), XDS_CLUSTER_CONFIG],
      secrets: resources.secrets.map((s) => fillSecret(s, pems)),
    },
  };
}

const XDS_CLUSTER = 'hms-static-xds';
const XDS_CLUSTER_CONFIG: JsonObject = {
  name: XDS_CLUSTER,
  type: 'STATIC',
  connect_timeout: '1s',
  typed_extension_protocol_options: {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      explicit_http_config: { http2_protocol_options: {} },
    },
  },
  load_assignment: { cluster_name: XDS_CLUSTER, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 18000 } } } }] }] },
};
