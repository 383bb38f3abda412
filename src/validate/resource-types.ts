import { type JsonObject, type JsonPath, isObject } from './json-path';
import { jsonNameOf } from './proto3-json';
import { typeNameOfUrl } from './proto-registry';

/** The xDS resource types of one node's snapshot that the cross-reference checks understand. */
export type ResourceKind = 'listeners' | 'routes' | 'clusters' | 'endpoints' | 'secrets';

export const RESOURCE_KINDS: readonly ResourceKind[] = ['listeners', 'routes', 'clusters', 'endpoints', 'secrets'];

interface KindInfo {
  readonly typeName: string;
  /** The field that names the resource (xDS resource name). */
  readonly nameField: string;
}

export const RESOURCE_TYPES: Readonly<Record<ResourceKind, KindInfo>> = {
  listeners: { typeName: 'envoy.config.listener.v3.Listener', nameField: 'name' },
  routes: { typeName: 'envoy.config.route.v3.RouteConfiguration', nameField: 'name' },
  clusters: { typeName: 'envoy.config.cluster.v3.Cluster', nameField: 'name' },
  endpoints: { typeName: 'envoy.config.endpoint.v3.ClusterLoadAssignment', nameField: 'cluster_name' },
  secrets: { typeName: 'envoy.extensions.transport_sockets.tls.v3.Secret', nameField: 'name' },
};

export const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';
export const DISCOVERY_RESPONSE_TYPE = 'envoy.service.discovery.v3.DiscoveryResponse';
export const ROUTER_TYPE = 'envoy.extensions.filters.http.router.v3.Router';
export const ROUTER_FILTER_NAME = 'envoy.filters.http.router';

export function kindOfTypeUrl(typeUrl: string): ResourceKind | undefined {
  const name = typeNameOfUrl(typeUrl);
  return RESOURCE_KINDS.find((k) => RESOURCE_TYPES[k].typeName === name);
}

/** `out/<node>/clusters.json` -> clusters: names the compiler and Envoy's file-based xDS commonly use. */
export function kindOfFileName(baseName: string): ResourceKind | undefined {
  const stem = baseName.replace(/\.(json|ya?ml)$/i, '').toLowerCase();
  const aliases: Record<string, ResourceKind> = { lds: 'listeners', rds: 'routes', cds: 'clusters', eds: 'endpoints', sds: 'secrets' };
  return RESOURCE_KINDS.find((k) => k === stem) ?? aliases[stem];
}

/** A field read by proto name or lowerCamel JSON name (both are valid proto3 JSON), with the key used. */
export function getField(obj: unknown, protoName: string): { key: string; value: unknown } | undefined {
  if (!isObject(obj)) return undefined;
  const v = obj[protoName];
  if (v !== undefined && v !== null) return { key: protoName, value: v };
  const key = jsonNameOf(protoName);
  const w = obj[key];
  return w !== undefined && w !== null ? { key, value: w } : undefined;
}

/** Follows a chain of proto field names; returns the value and its JSON path (with the keys as written). */
export function getPath(obj: unknown, names: readonly string[], base: JsonPath = []): { value: unknown; path: JsonPath } | undefined {
  let cur: unknown = obj;
  const path: (string | number)[] = [...base];
  for (const name of names) {
    const f = getField(cur, name);
    if (f === undefined) return undefined;
    path.push(f.key);
    cur = f.value;
  }
  return { value: cur, path };
}

export function stringField(obj: unknown, protoName: string): string | undefined {
  const v = getField(obj, protoName)?.value;
  return typeof v === 'string' ? v : undefined;
}

export function asObject(v: unknown): JsonObject | undefined {
  return isObject(v) ? v : undefined;
}
