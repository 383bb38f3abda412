/**
 * Structural checks of a rendered bootstrap: the fields the node cannot start
 * without, and the ones that would make it unsafe (admin off loopback, key
 * material inline). Each problem names its field path.
 */
import type { NodeIR } from '../ir/types';

type Obj = Record<string, unknown>;

function get(value: unknown, dotted: string): unknown {
  let cur: unknown = value;
  for (const key of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = Array.isArray(cur) ? cur[Number(key)] : (cur as Obj)[key];
  }
  return cur;
}

function expectEqual(problems: string[], root: unknown, field: string, want: unknown): void {
  const got = get(root, field);
  if (got !== want) problems.push(`${field} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
/** Channel creds types the pinned @grpc/grpc-js-xds (1.14.1) accepts; it rejects a bootstrap without one. */
export const GRPC_JS_CHANNEL_CREDS = ['google_default', 'insecure'];

export function checkEnvoyBootstrap(doc: unknown, node: NodeIR): string[] {
  const p: string[] = [];
  if (doc === null || typeof doc !== 'object') return ['the bootstrap is not a mapping'];
  expectEqual(p, doc, 'node.id', node.id);
  expectEqual(p, doc, 'node.cluster', node.cluster);
  const admin = get(doc, 'admin.address.socket_address.address');
  if (typeof admin !== 'string' || !LOOPBACK.has(admin)) p.push(`admin.address.socket_address.address must be loopback, got ${JSON.stringify(admin)}`);
  const ads = get(doc, 'dynamic_resources.ads_config.grpc_services.0.envoy_grpc.cluster_name');
  const clusters = get(doc, 'static_resources.clusters');
  const names = Array.isArray(clusters) ? clusters.map((c) => get(c, 'name')) : [];
  if (typeof ads !== 'string' || !names.includes(ads)) {
    p.push('dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name must name a cluster of static_resources.clusters');
  }
  for (const field of ['dynamic_resources.cds_config.ads', 'dynamic_resources.lds_config.ads']) {
    if (get(doc, field) === undefined) p.push(`${field} is missing: clusters and listeners must come over ADS`);
  }
  p.push(...inlineKeyProblems(doc, ''));
  return p;
}

export function checkGrpcBootstrap(doc: unknown, node: NodeIR): string[] {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return ['the bootstrap is not a JSON object'];
  const p = grpcBootstrapProblems(doc).map((problem) => problem.message);
  expectEqual(p, doc, 'node.id', node.id);
  expectEqual(p, doc, 'node.cluster', node.cluster);
  const instance = node.identity.certProviderInstance;
  expectEqual(p, doc, `certificate_providers.${instance}.plugin_name`, 'file_watcher');
  if (typeof get(doc, `certificate_providers.${instance}.config.refresh_interval`) !== 'string') {
    p.push(`certificate_providers.${instance}.config.refresh_interval must be a duration string`);
  }
  expectEqual(p, doc, 'server_listener_resource_name_template', node.bootstrap.serverListenerTemplate);
  return p;
}

/** A problem of a gRPC bootstrap, with the path of the field it is about (for positions). */
export interface GrpcBootstrapProblem {
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
}

/**
 * What grpc-js-xds 1.14.1 itself refuses at start (xds-bootstrap.ts), for any
 * gRPC bootstrap (gRFC A27), whatever node it is for: the compiler adds the
 * node's own expectations, `mesh validate` (which knows no IR) uses these alone.
 */
export function grpcBootstrapProblems(doc: object): GrpcBootstrapProblem[] {
  const p: GrpcBootstrapProblem[] = [];
  const servers = get(doc, 'xds_servers');
  if (!Array.isArray(servers) || servers.length === 0) p.push({ path: ['xds_servers'], message: 'xds_servers must be a non-empty array' });
  else {
    if (typeof get(servers[0], 'server_uri') !== 'string') p.push({ path: ['xds_servers', 0], message: 'xds_servers[0].server_uri must be a string' });
    const creds = get(servers[0], 'channel_creds');
    const types = Array.isArray(creds) ? creds.map((c) => get(c, 'type')) : [];
    if (!types.some((t) => typeof t === 'string' && GRPC_JS_CHANNEL_CREDS.includes(t))) {
      p.push({
        path: Array.isArray(creds) ? ['xds_servers', 0, 'channel_creds'] : ['xds_servers', 0],
        message: `xds_servers[0].channel_creds needs a type grpc-js-xds supports (${GRPC_JS_CHANNEL_CREDS.join(', ')})`,
      });
    }
  }
  // grpc-js-xds 1.14.1 rejects a node without locality (xds-bootstrap.ts validateNode).
  const locality = get(doc, 'node.locality');
  if (locality === null || typeof locality !== 'object') {
    p.push({ path: get(doc, 'node') === undefined ? [] : ['node'], message: 'node.locality must be an object (grpc-js-xds requires it)' });
  }
  const providers = get(doc, 'certificate_providers');
  if (providers !== null && typeof providers === 'object') {
    for (const [name, provider] of Object.entries(providers as Obj)) {
      if (typeof get(provider, 'plugin_name') !== 'string') {
        p.push({ path: ['certificate_providers', name], message: `certificate_providers.${name}.plugin_name must be a string` });
      }
    }
  }
  return p;
}

/** Private keys may only be referenced by file name, never inlined. */
function inlineKeyProblems(value: unknown, at: string): string[] {
  if (value === null || typeof value !== 'object') return [];
  const out: string[] = [];
  for (const [key, child] of Object.entries(value as Obj)) {
    const here = at ? `${at}.${key}` : key;
    if (key === 'private_key' && child && typeof child === 'object' && !('filename' in child)) {
      out.push(`${here} must reference a file (filename), never inline key material`);
    }
    out.push(...inlineKeyProblems(child, here));
  }
  return out;
}
