/**
 * Processor: traffic splits. Decides the clusters of each upstream and the
 * weights the route spreads traffic over.
 *
 * - No split: one cluster `outbound|<svc>` holding every version's endpoints,
 *   route weight 100 (builtin).
 * - Split: one cluster `outbound|<svc>|<version>` per version with a weight
 *   above 0, routed with weighted_clusters. Versions at 0 get no cluster:
 *   a cluster nobody routes to would only cost a CDS/EDS watch.
 *
 * Per-version clusters rather than one cluster with subsets, because
 * proxyless gRPC has no subset load balancing; A28 splits only through
 * RouteAction.weighted_clusters.
 */
import { sortedBy } from '../ir/sort';
import { builtin, fromFile, type TranslateContext } from './context';
import type { RouteTargetIR } from '../ir/types';
import type { TrafficSplit } from '../model/types';
import type { ClusterDraft, NodeDraft, UpstreamDraft } from './draft';
import { upstreamClusterName } from './naming';

export function splitProcessor(_ctx: TranslateContext, draft: NodeDraft): void {
  for (const up of draft.upstreams) applySplit(up);
}

function applySplit(up: UpstreamDraft): void {
  const { clusters, targets } = splitTargets(up.target.name, up.policies.split);
  if (up.policies.split) up.split = { kind: 'file', pos: up.policies.split.pos };
  up.clusters = clusters;
  up.targets = targets;
}

/** The clusters and weighted targets of one split (or of none: every version in one cluster). */
export function splitTargets(service: string, split: TrafficSplit | undefined): { clusters: ClusterDraft[]; targets: RouteTargetIR[] } {
  if (!split) {
    const name = upstreamClusterName(service);
    return { clusters: [{ name }], targets: [{ cluster: name, weight: builtin(100) }] };
  }
  const live = split.weights.filter((w) => w.weight > 0);
  const clusters = sortedBy(
    live.map((w) => ({ name: upstreamClusterName(service, w.version), version: w.version })),
    (c) => c.name,
  );
  const targets = sortedBy(
    live.map((w) => ({
      cluster: upstreamClusterName(service, w.version),
      version: w.version,
      weight: fromFile(w.weight, w.pos),
    })),
    (t) => t.cluster,
  );
  return { clusters, targets };
}
