import type { MeshModel } from '../../src/model/types';
import { compileMesh, type NodeOutput } from '../../src/envoy';
import type { ResourceKind } from '../../src/envoy/resources';

export const PKI_DIR = '/etc/hms/pki';

export function compiledNode(model: MeshModel, id: string): NodeOutput {
  const r = compileMesh(model, { pkiDir: PKI_DIR });
  const node = r.nodes.find((n) => n.id === id);
  if (!node) throw new Error(`no node ${id}`);
  return node;
}

export type Any = any;

/** One resource by name (ClusterLoadAssignments by cluster_name). */
export function resource(node: NodeOutput, kind: ResourceKind, name: string): Any {
  const r = node.resources[kind].find((x) => (x['name'] ?? x['cluster_name']) === name);
  if (!r) throw new Error(`no ${kind} ${name} on ${node.id}`);
  return r;
}

/** The HCM of a listener's first filter chain (or of an API listener). */
export function hcmOf(listener: Any): Any {
  return listener.api_listener ? listener.api_listener.api_listener : listener.filter_chains[0].filters[0].typed_config;
}

export function filterNames(hcm: Any): string[] {
  return hcm.http_filters.map((f: Any) => f.name);
}
