/**
 * One control plane process over a store: every accepted apply is recorded
 * in the store before it is served, and (with a shared store) revisions
 * recorded by other replicas are installed here in seq order. The store's
 * seq is the one order of applies: a replica installs a revision only if it
 * is newer than the one it serves, so two concurrent applies on two replicas
 * end, everywhere, with the one the database numbered last.
 */
import { diagAt, type Diagnostic } from '../diag/diagnostic';
import { readMeshSources, revisionOf, type ApplyResult, type ControlPlane, type MeshSources } from '../xds/control-plane';
import type { Logger } from '../xds/log';
import { PostgresStore } from './postgres-store';
import { SharedRegistry } from './shared-registry';
import { StoreUnavailable, type MeshStore, type RevisionSummary, type StoredRevision } from './store';

export class Replica {
  /** Applies and installs of this process, one at a time, in order. */
  private queue: Promise<unknown> = Promise.resolve();
  private catching?: Promise<void>;
  private again = false;
  /** The registry shared through the database (postgres stores only). */
  readonly registry?: SharedRegistry;
  /** Revisions this replica could not install (logged): skipped so catching up does not loop on them. */
  readonly unservable = new Map<number, string>();

  constructor(
    readonly cp: ControlPlane,
    readonly store: MeshStore,
    private readonly log: Logger,
  ) {
    if (store instanceof PostgresStore) this.registry = new SharedRegistry(store, cp.registry, (i) => cp.governance(i), log);
  }

  /**
   * Serves the store's newest revision; with an empty store (or one whose
   * newest revision no longer compiles here), applies `meshDir` and records it.
   */
  async start(meshDir?: string, restore?: (latest: StoredRevision) => ApplyResult | undefined): Promise<ApplyResult | undefined> {
    const latest = await this.store.open();
    let startup: ApplyResult | undefined;
    if (latest) {
      // A persisted snapshot of this very revision is served as it is (src/store/snapshot-file.ts); else compiled.
      startup = restore?.(latest) ?? this.cp.apply(latest.sources, 'store', latest.seq);
      this.log.log('info', 'restored the last applied mesh from the store', { store: this.store.location, revision: latest.revision, seq: latest.seq, ok: startup.ok });
    }
    // An empty store: the directory is recorded unless another replica starting at the same time recorded first.
    if ((!startup || !startup.ok) && meshDir) startup = await this.apply(readMeshSources(meshDir), meshDir, 'mesh-dir', undefined, !latest);
    this.store.onAppended(() => void this.catchUp().catch(() => undefined));
    await this.registry?.start();
    this.store.onHealth((h) => this.log.log(h.ok ? 'info' : 'error', h.ok ? 'store available again' : 'MESH200: store unavailable; serving the last good snapshot, refusing applies and registrations', { store: this.store.location, ...(h.problem ? { problem: h.problem } : {}) }));
    return startup;
  }

  /** lint + compile + validate here, record in the store, then serve: all or nothing. */
  apply(sources: MeshSources, displayDir: string, appliedBy: string, rollbackOf?: number, onlyIfEmpty = false): Promise<ApplyResult> {
    return this.serially(async () => {
      const prepared = this.cp.prepareApply(sources, displayDir);
      if (!prepared.ok) return prepared;
      let stored: StoredRevision;
      try {
        stored = await this.store.append({ revision: revisionOf(sources), appliedBy, sources, ...(rollbackOf !== undefined ? { rollbackOf } : {}), ...(onlyIfEmpty ? { onlyIfEmpty } : {}) });
      } catch (err) {
        if (err instanceof StoreUnavailable) return { ok: false, diagnostics: [storeDiag(err.message)] };
        throw err;
      }
      // First start, and another replica recorded its directory first (a different one): serve what the store holds.
      if (onlyIfEmpty && stored.revision !== revisionOf(sources)) return this.cp.apply(stored.sources, 'store', stored.seq);
      // Another replica's later revision was installed while this one was being recorded.
      if (stored.seq <= this.cp.seq) return { ok: true, diagnostics: prepared.diagnostics, revision: stored.revision, seq: stored.seq, supersededBy: this.cp.seq, changedNodes: [] };
      const r = this.cp.installPrepared(prepared, sources, stored.seq);
      this.refreshRegistry();
      return r;
    });
  }

  /** Re-applies an earlier revision (by seq or revision hash) as a new one, through the same checks. */
  async rollback(selector: string, appliedBy: string): Promise<ApplyResult & { notFound?: boolean }> {
    let target: StoredRevision | undefined;
    try {
      target = await this.store.find(selector);
    } catch (err) {
      if (err instanceof StoreUnavailable) return { ok: false, diagnostics: [storeDiag(err.message)] };
      throw err;
    }
    if (!target) return { ok: false, notFound: true, diagnostics: [diagAt({ file: 'store', line: 1, col: 1 }, 'error', 'MESH203', `no revision "${selector}" in the store (see mesh history)`)] };
    return this.apply(target.sources, `store#${target.seq}`, appliedBy, target.seq);
  }

  history(limit: number): Promise<RevisionSummary[]> {
    return this.store.history(limit);
  }

  /**
   * Installs what other replicas recorded since our seq, oldest first. Calls
   * while one runs are folded into one more pass after it. Resolves when this
   * replica serves the newest revision it could read.
   */
  catchUp(): Promise<void> {
    if (this.catching) {
      this.again = true;
      return this.catching;
    }
    this.catching = (async () => {
      try {
        do {
          this.again = false;
          await this.serially(() => this.installNewer());
        } while (this.again);
      } catch (err) {
        if (!(err instanceof StoreUnavailable)) this.log.log('error', 'catching up with the store failed', { error: (err as Error).message });
        throw err;
      } finally {
        this.catching = undefined;
      }
    })();
    return this.catching;
  }

  /**
   * Settles once this replica serves the newest revision in the store; while
   * the store is unreachable it waits for it to come back (a node held on it
   * keeps the configuration it has, which is never older than ours).
   */
  async caughtUp(): Promise<void> {
    while (!this.closed) {
      try {
        await this.catchUp();
        return;
      } catch (err) {
        if (!(err instanceof StoreUnavailable)) throw err;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 250);
          t.unref();
        });
      }
    }
  }

  /** For ADS streams (StreamDeps.holdUnknownVersion): hold a node announcing a version never built here. */
  holdUnknownVersion(kind: string, version: string): Promise<void> | undefined {
    if (this.store.kind !== 'postgres' || this.cp.knowsVersion(kind, version)) return undefined;
    return this.caughtUp();
  }

  private async installNewer(): Promise<void> {
    const from = Math.max(this.cp.seq, ...this.unservable.keys());
    for (const rev of await this.store.since(from)) {
      if (rev.seq <= this.cp.seq) continue;
      const r = this.cp.apply(rev.sources, 'store', rev.seq);
      if (r.ok) {
        this.refreshRegistry();
        this.log.log('info', 'installed a revision applied on another replica', { revision: rev.revision, seq: rev.seq, by: rev.appliedBy, changed: r.changedNodes?.length ?? 0 });
        continue;
      }
      // Accepted by the replica that recorded it, refused here (a PKI store missing a node's
      // credentials, say): keep serving the last good one, say so loudly, do not retry forever.
      const first = r.diagnostics.find((d) => d.severity === 'error');
      this.unservable.set(rev.seq, first ? `${first.code}: ${first.message}` : 'refused');
      this.log.log('error', 'a revision recorded by another replica cannot be served here', { revision: rev.revision, seq: rev.seq, problem: this.unservable.get(rev.seq) });
    }
  }

  /** A new mesh may admit instances the last one did not (a version declared now): read them again. */
  private refreshRegistry(): void {
    void this.registry?.reloadAll().catch(() => undefined);
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private closed = false;

  async close(): Promise<void> {
    this.closed = true;
    this.registry?.close();
    await this.queue;
    await this.store.close();
  }
}

export function storeDiag(message: string): Diagnostic {
  return diagAt({ file: 'store', line: 1, col: 1 }, 'error', 'MESH200', message, { hint: 'the control plane keeps serving the last good revision; retry when the database is back (mesh serve recovers by itself)' });
}
