/**
 * The snapshot cache: the current NodeSnapshot of every node, and the streams
 * watching each node. Replacing snapshots notifies only the streams of nodes
 * whose snapshot changed, and a burst of replacements within one turn of the
 * event loop is coalesced into one notification per stream.
 */
import { RESOURCE_KINDS } from '../envoy/resources';
import type { NodeSnapshot } from './snapshot';

export interface SnapshotWatcher {
  onSnapshot(snapshot: NodeSnapshot): void;
}

export class SnapshotCache {
  private snapshots = new Map<string, NodeSnapshot>();
  private readonly watchers = new Map<string, Set<SnapshotWatcher>>();
  private readonly dirty = new Set<string>();
  private flushScheduled = false;
  /** Incremented on every accepted replacement; `mesh apply` reports it. */
  generation = 0;

  get(node: string): NodeSnapshot | undefined {
    return this.snapshots.get(node);
  }

  nodes(): string[] {
    return [...this.snapshots.keys()].sort();
  }

  /** Replaces every snapshot; nodes missing from `next` disappear (their streams get an empty config). */
  replaceAll(next: ReadonlyMap<string, NodeSnapshot>): string[] {
    const changed: string[] = [];
    for (const [id, snap] of next) if (!sameVersions(this.snapshots.get(id), snap)) changed.push(id);
    for (const id of this.snapshots.keys()) if (!next.has(id)) changed.push(id);
    this.snapshots = new Map(next);
    this.generation++;
    for (const id of changed) this.dirty.add(id);
    this.scheduleFlush();
    return changed.sort();
  }

  /** Replaces some nodes' snapshots (registry changes touch only the callers of one service). */
  update(some: ReadonlyMap<string, NodeSnapshot>): string[] {
    const changed: string[] = [];
    for (const [id, snap] of some) {
      if (sameVersions(this.snapshots.get(id), snap)) continue;
      this.snapshots.set(id, snap);
      changed.push(id);
      this.dirty.add(id);
    }
    if (changed.length > 0) this.scheduleFlush();
    return changed.sort();
  }

  watch(node: string, w: SnapshotWatcher): () => void {
    let set = this.watchers.get(node);
    if (!set) this.watchers.set(node, (set = new Set()));
    set.add(w);
    return () => {
      set!.delete(w);
      if (set!.size === 0) this.watchers.delete(node);
    };
  }

  watcherCount(): number {
    let n = 0;
    for (const s of this.watchers.values()) n += s.size;
    return n;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate, not a microtask: lets a burst of updates from I/O callbacks land first.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const nodes = [...this.dirty];
    this.dirty.clear();
    for (const id of nodes) {
      const snap = this.snapshots.get(id) ?? emptySnapshot(id);
      for (const w of this.watchers.get(id) ?? []) w.onSnapshot(snap);
    }
  }
}

function sameVersions(a: NodeSnapshot | undefined, b: NodeSnapshot): boolean {
  // The same object: a node an incremental apply kept.
  if (a === b) return true;
  return a !== undefined && RESOURCE_KINDS.every((k) => a.types[k].version === b.types[k].version);
}

export function emptySnapshot(nodeId: string): NodeSnapshot {
  const empty = { version: 'empty', resources: new Map(), bytes: 0 };
  return { nodeId, kind: 'envoy', types: { listeners: empty, routes: empty, clusters: empty, endpoints: empty, secrets: empty } };
}
