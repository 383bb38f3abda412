import { ENVOY_CODES as C, type Finding, error, warning } from './codes';
import { checkMessage } from './check-message';
import type { NodeCollector } from './cross-ref';
import { type JsonObject, isObject } from './json-path';
import { ANY } from './proto3-json';
import { messageType, typeNameOfUrl } from './proto-registry';
import {
  BOOTSTRAP_TYPE,
  DISCOVERY_RESPONSE_TYPE,
  type ResourceKind,
  getField,
  getPath,
  kindOfTypeUrl,
} from './resource-types';

/**
 * The shapes of Envoy config a file may hold, and how each is walked:
 * - a bootstrap (static_resources, dynamic_resources, node, admin...);
 * - one resource with "@type";
 * - a DiscoveryResponse-like `{version_info, resources: [...]}`, which is also
 *   what Envoy's file-based xDS reads and what the compiler writes per node.
 */
export type DocumentShape = 'bootstrap' | 'resource' | 'discovery' | 'unknown';

const BOOTSTRAP_KEYS = [
  'node',
  'static_resources',
  'staticResources',
  'dynamic_resources',
  'dynamicResources',
  'admin',
  'layered_runtime',
  'layeredRuntime',
  'cluster_manager',
  'clusterManager',
  'overload_manager',
  'stats_sinks',
];

export function classifyDocument(value: unknown): DocumentShape {
  if (!isObject(value)) return 'unknown';
  const url = value['@type'];
  if (typeof url === 'string') return typeNameOfUrl(url) === DISCOVERY_RESPONSE_TYPE ? 'discovery' : 'resource';
  if (Array.isArray(value['resources'])) return 'discovery';
  if (BOOTSTRAP_KEYS.some((k) => k in value)) return 'bootstrap';
  return 'unknown';
}

export interface WalkOptions {
  /** The kind a resources file is known to hold (from its name), so an empty one still counts as "provided". */
  readonly kindHint?: ResourceKind;
  /** Unrecognized documents are errors for a file named explicitly, warnings when found in a directory. */
  readonly unknownIsWarning?: boolean;
}

/** Structural + PGV findings for one document; its resources and references go to the node's collector. */
export function walkDocument<D>(value: unknown, doc: D, node: NodeCollector<D>, opts: WalkOptions = {}): Finding[] {
  const onMessage = node.visitor(doc);
  if (opts.kindHint !== undefined) node.provided.add(opts.kindHint);
  switch (classifyDocument(value)) {
    case 'bootstrap': {
      const findings = checkMessage(messageType(BOOTSTRAP_TYPE), value, [], { onMessage });
      addBootstrapResources(value as JsonObject, doc, node);
      return findings;
    }
    case 'resource': {
      const findings = checkMessage(messageType(ANY), value, [], { onMessage });
      const kind = kindOfTypeUrl((value as JsonObject)['@type'] as string);
      if (kind !== undefined) node.addResource(kind, value as JsonObject, [], doc);
      return findings;
    }
    case 'discovery':
      return walkDiscovery(value as JsonObject, doc, node, onMessage);
    case 'unknown': {
      const msg = 'not an Envoy config: expected a bootstrap, a resource with "@type", or {"resources": [...]}';
      return [opts.unknownIsWarning === true ? warning(C.UNKNOWN_DOCUMENT, [], msg) : error(C.UNKNOWN_DOCUMENT, [], msg)];
    }
  }
}

function walkDiscovery<D>(value: JsonObject, doc: D, node: NodeCollector<D>, onMessage: ReturnType<NodeCollector<D>['visitor']>): Finding[] {
  const root = typeof value['@type'] === 'string' ? ANY : DISCOVERY_RESPONSE_TYPE;
  const findings = checkMessage(messageType(root), value, [], { onMessage });
  const typeUrl = getField(value, 'type_url')?.value;
  const declared = typeof typeUrl === 'string' ? kindOfTypeUrl(typeUrl) : undefined;
  if (declared !== undefined) node.provided.add(declared);
  const resources = value['resources'];
  if (!Array.isArray(resources)) return findings;
  resources.forEach((r, i) => {
    const url = isObject(r) ? r['@type'] : undefined;
    if (typeof url !== 'string') return;
    // Envoy rejects a response whose resources are not all of the response's type_url (so it adds none of them).
    if (typeof typeUrl === 'string' && typeNameOfUrl(url) !== typeNameOfUrl(typeUrl)) {
      findings.push(error(C.TYPE_URL_MISMATCH, ['resources', i, '@type'], `resource type ${url} does not match the response type_url ${typeUrl}`));
      return;
    }
    const kind = kindOfTypeUrl(url);
    if (kind !== undefined) node.addResource(kind, r as JsonObject, ['resources', i], doc);
  });
  return findings;
}

/**
 * Static resources of a bootstrap belong to the node. A kind counts as
 * complete ("provided") when the bootstrap does not fetch it dynamically:
 * clusters without cds_config, listeners without lds_config; routes,
 * endpoints and secrets only for a fully static bootstrap.
 */
function addBootstrapResources<D>(value: JsonObject, doc: D, node: NodeCollector<D>): void {
  const lists: readonly [ResourceKind, string][] = [
    ['listeners', 'listeners'],
    ['clusters', 'clusters'],
    ['secrets', 'secrets'],
  ];
  for (const [kind, field] of lists) {
    const list = getPath(value, ['static_resources', field]);
    if (list === undefined || !Array.isArray(list.value)) continue;
    list.value.forEach((r, i) => {
      if (isObject(r)) node.addResource(kind, r, [...list.path, i], doc, false);
    });
  }
  const dynamic = getField(value, 'dynamic_resources')?.value;
  const has = (f: string): boolean => getField(dynamic, f) !== undefined;
  if (!has('cds_config') && !has('cds_resources_locator')) node.provided.add('clusters');
  if (!has('lds_config') && !has('lds_resources_locator')) node.provided.add('listeners');
  if (dynamic === undefined) ['routes', 'endpoints', 'secrets'].forEach((k) => node.provided.add(k as ResourceKind));
}
