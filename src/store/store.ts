/**
 * Where a control plane keeps what was applied: a folder on one machine (the
 * embedded default, folder-store.ts) or a PostgreSQL database shared by every
 * replica (postgres-store.ts). Both keep the same record per accepted apply;
 * only the shared one tells a replica about applies made elsewhere.
 */
import type { MeshSources } from '../xds/control-plane';

/** One accepted apply: a row of the append-only history. */
export interface StoredRevision {
  /** Global order of applies: later applies have larger numbers, on every replica. */
  readonly seq: number;
  /** Content hash of the sources (revisionOf). */
  readonly revision: string;
  /** The SPIFFE ID of the admin certificate that applied it (or "insecure", "mesh-dir" at first start). */
  readonly appliedBy: string;
  /** ISO 8601, from the store's clock. */
  readonly appliedAt: string;
  /** The seq this apply rolled back to, when it came from `mesh rollback`. */
  readonly rollbackOf?: number;
  readonly sources: MeshSources;
}

export interface NewRevision {
  readonly revision: string;
  readonly appliedBy: string;
  readonly rollbackOf?: number;
  readonly sources: MeshSources;
  /**
   * The mesh directory of a first start: recorded only if the store still holds no revision
   * (else the newest one is returned, unchanged), so replicas starting at once on an empty
   * database record it once. A folder store has one writer and records it as usual.
   */
  readonly onlyIfEmpty?: boolean;
}

/** A revision without its sources, for listings. */
export type RevisionSummary = Omit<StoredRevision, 'sources'>;

export interface StoreHealth {
  readonly ok: boolean;
  /** Why not, when not ok. */
  readonly problem?: string;
  /** Epoch ms since when it has been failing. */
  readonly since?: number;
}

export interface MeshStore {
  readonly kind: 'folder' | 'postgres';
  /** Where it is, for logs and messages (a postgres URL without its password). */
  readonly location: string;
  /** Creates or migrates what the store needs; returns the newest revision, if any. */
  open(): Promise<StoredRevision | undefined>;
  /** Records an accepted apply; the seq is assigned by the store. Throws StoreUnavailable. */
  append(rev: NewRevision): Promise<StoredRevision>;
  /** Revisions after `seq`, oldest first (a replica catching up). */
  since(seq: number): Promise<StoredRevision[]>;
  /** The newest revisions first, at most `limit`. */
  history(limit: number): Promise<RevisionSummary[]>;
  /** A revision by seq (a number) or by revision hash (its newest apply); undefined when none. */
  find(selector: string): Promise<StoredRevision | undefined>;
  /** Calls back when another replica may have appended (a hint: read since() to learn what). */
  onAppended(listener: () => void): void;
  /** Calls back when health changes (the database went away or came back). */
  onHealth(listener: (h: StoreHealth) => void): void;
  health(): StoreHealth;
  close(): Promise<void>;
}

/** The store cannot be reached or refused the write: the apply is refused, nothing changed. */
export class StoreUnavailable extends Error {
  readonly code = 'MESH200';
}
