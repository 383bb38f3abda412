import type { MeshModel, ServicePolicies } from '../../src/model/types';
import type { NodeIR } from '../../src/ir/types';
import { translateMesh } from '../../src/translate';

export function nodeOf(model: MeshModel, id: string): NodeIR {
  const node = translateMesh(model, { pkiDir: '/etc/hms/pki' }).ir.nodes.find((n) => n.id === id);
  if (!node) throw new Error(`no node ${id}`);
  return node;
}

/** The model with one service's policies replaced. */
export function withPolicies(model: MeshModel, service: string, change: (p: ServicePolicies) => ServicePolicies): MeshModel {
  return { ...model, policies: model.policies.map((p) => (p.service === service ? change(p) : p)) };
}

/** The same model with every list reversed: the compiler must not depend on input order. */
export function shuffled(model: MeshModel): MeshModel {
  return {
    ...model,
    services: [...model.services].reverse().map((s) => ({
      ...s,
      calls: [...s.calls].reverse(),
      endpoints: [...s.endpoints].reverse(),
      versions: [...s.versions].reverse(),
    })),
    policies: [...model.policies].reverse().map((p) => ({
      ...p,
      access: { ...p.access, allow: [...p.access.allow].reverse() },
      retries: { ...p.retries, retryOn: { ...p.retries.retryOn, value: [...p.retries.retryOn.value].reverse() } },
      ...(p.split ? { split: { ...p.split, weights: [...p.split.weights].reverse() } } : {}),
    })),
  };
}
