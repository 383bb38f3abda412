/**
 * Bench: the cost of src/validate. Proto loading (once per process), then a
 * large synthetic node (the test fixture's EDS cluster, route and endpoints
 * replicated N times) validated with cross-references, then encoded and
 * hashed as the xDS server would. Run: `npm run bench -- validate`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../src/paths';
import { type JsonObject, envoyProtos, resourceHash, validateNodeConfig } from '../src/validate';
import { measure, report } from './measure';

const NODE_DIR = path.join(PACKAGE_ROOT, 'test', 'validate', 'fixtures', 'node-web');
const read = (f: string): JsonObject[] => (JSON.parse(fs.readFileSync(path.join(NODE_DIR, `${f}.json`), 'utf8')) as { resources: JsonObject[] }).resources;

/** n upstream services: one EDS cluster, one ClusterLoadAssignment and one virtual host each. */
function syntheticNode(n: number): { listeners: JsonObject[]; routes: JsonObject[]; clusters: JsonObject[]; endpoints: JsonObject[]; secrets: JsonObject[] } {
  const [cluster] = read('clusters');
  const [assignment] = read('endpoints');
  const [routeConfig] = read('routes');
  const vhost = (routeConfig?.['virtual_hosts'] as JsonObject[])[1] as JsonObject;
  const clusters: JsonObject[] = [];
  const endpoints: JsonObject[] = [];
  const vhosts: JsonObject[] = [];
  for (let i = 0; i < n; i++) {
    const name = `outbound|8080||svc-${i}`;
    clusters.push({ ...structuredClone(cluster as JsonObject), name, eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: name } });
    endpoints.push({ ...structuredClone(assignment as JsonObject), cluster_name: name });
    const v = structuredClone(vhost);
    v['name'] = `svc-${i}`;
    v['domains'] = [`svc-${i}`];
    ((v['routes'] as JsonObject[])[0]?.['route'] as JsonObject)['cluster'] = name;
    vhosts.push(v);
  }
  const routes = [{ ...structuredClone(routeConfig as JsonObject), virtual_hosts: vhosts }];
  return { listeners: read('listeners').slice(1), routes, clusters, endpoints, secrets: read('secrets') };
}

export async function run(): Promise<void> {
  const load = await measure(() => envoyProtos().stats);
  report('validate/load-protos', { files: load.value.files, types: load.value.messageTypes, time_ms: load.ms, heap_mb: Math.round(load.value.heapBytes / 1e6), peak_rss_mb: load.peakRssMb });
  const n = 2000;
  const node = syntheticNode(n);
  const check = await measure(() => validateNodeConfig(node));
  if (check.value.length > 0) throw new Error(`bench node does not validate clean: ${check.value[0]?.code} ${check.value[0]?.message}`);
  const resources = node.clusters.length + node.endpoints.length + 1;
  report('validate/node', { services: n, resources, time_ms: check.ms, per_resource_us: Math.round((check.ms * 1000) / resources), peak_rss_mb: check.peakRssMb });
  const all = [...node.listeners, ...node.routes, ...node.clusters, ...node.endpoints, ...node.secrets];
  const encode = await measure(() => all.map(resourceHash));
  report('validate/encode+hash', { resources: all.length, time_ms: encode.ms, per_resource_us: Math.round((encode.ms * 1000) / all.length) });
}

if (require.main === module) void run();
