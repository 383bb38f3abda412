/**
 * The MESH070 gaps of each proxyless node, kept across lints (the control
 * plane lints every apply, and translating every gRPC node of a 10,000-service
 * mesh to find its gaps was a third of a one-manifest apply). A node's gaps
 * come from translating it, so they depend on what its compiled resources
 * depend on: the dependency index's inputs (src/model/dependencies.ts). An
 * entry is keyed by exactly those, as objects (the mesh-wide hash, and the
 * manifest and policies objects of each service the node reads); what the
 * last lint did not use is dropped at the next.
 */
import { buildDependencyIndex } from '../model/dependencies';
import type { MeshModel } from '../model/types';
import type { PolicyGap } from '../ir/types';
import type { GapReuse } from '../translate';

export class GapCache {
  private current = new Map<string, readonly PolicyGap[]>();
  private previous = new Map<string, readonly PolicyGap[]>();

  /** For one lint of `model`: starts a generation. */
  forModel(model: MeshModel): GapReuse {
    this.previous = this.current;
    this.current = new Map();
    const index = buildDependencyIndex(model);
    const manifests = new Map(model.services.map((s) => [s.name, s]));
    const policies = new Map(model.policies.map((p) => [p.service, p]));
    // By object, not by content hash: a gap carries source positions, which the index's hashes
    // leave out. The loader's source cache hands over the very objects of unchanged files.
    const key = (service: string): string =>
      [index.global, ...(index.reads.get(service) ?? [service]).map((r) => `${r}=${idOf(manifests.get(r))},${idOf(policies.get(r))}`)].join('\0');
    return {
      known: (service) => {
        const k = key(service);
        const hit = this.current.get(k) ?? this.previous.get(k);
        if (hit) this.current.set(k, hit);
        return hit;
      },
      learn: (service, gaps) => void this.current.set(key(service), gaps),
    };
  }
}

const ids = new WeakMap<object, number>();
let nextId = 1;
/** A number per object, for keys made of object identities. */
function idOf(o: object | undefined): number {
  if (o === undefined) return 0;
  let id = ids.get(o);
  if (id === undefined) ids.set(o, (id = nextId++));
  return id;
}
