/**
 * The embedded store for one machine: the last applied sources in
 * <dir>/applied.json (written atomically, so a restart serves the very same
 * versions) and every accepted apply appended to <dir>/history.jsonl (the
 * audit trail `mesh history` reads and `mesh rollback` picks from). A folder
 * is not shared: there are no applies from elsewhere to hear about.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MeshSources } from '../xds/control-plane';
import type { MeshStore, NewRevision, RevisionSummary, StoredRevision, StoreHealth } from './store';

const STATE_FILE = 'applied.json';
const HISTORY_FILE = 'history.jsonl';

export class FolderStore implements MeshStore {
  readonly kind = 'folder';
  /** Set when open() found applied.json unreadable and moved it aside (MESH113). */
  problem?: string;
  private seq = 0;

  constructor(
    readonly location: string,
    private readonly log: (msg: string, fields: Record<string, unknown>) => void = () => {},
  ) {}

  async open(): Promise<StoredRevision | undefined> {
    return this.openSync();
  }

  /**
   * The last applied revision, if any. A state file that cannot be read
   * (empty, corrupt, not what append() writes) is moved aside, kept for a
   * look, and reported (MESH113); the caller then serves the mesh directory.
   * Never throws for a bad store.
   */
  openSync(): StoredRevision | undefined {
    const history = this.readHistory();
    this.seq = history.length > 0 ? history[history.length - 1]!.seq : 0;
    const file = path.join(this.location, STATE_FILE);
    if (!fs.existsSync(file)) return undefined;
    let why = '';
    try {
      const state = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<StoredRevision> | null;
      const s = state && typeof state === 'object' ? state.sources : undefined;
      if (isSources(s)) {
        const seq = typeof state!.seq === 'number' ? state!.seq : this.seq;
        this.seq = Math.max(this.seq, seq);
        return { seq, revision: String(state!.revision ?? ''), appliedBy: String(state!.appliedBy ?? 'unknown'), appliedAt: String(state!.appliedAt ?? ''), sources: s };
      }
      why = 'it does not hold {"sources": {"<path>": "<text>"}}';
    } catch (err) {
      why = err instanceof SyntaxError ? `it is not JSON (${err.message})` : `it cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
    }
    const aside = `${file}.unreadable-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    let kept = '';
    try {
      fs.renameSync(file, aside);
      kept = `; kept as ${aside}`;
    } catch {
      kept = '; it could not be moved aside';
    }
    this.log('MESH113: the store of the last applied mesh is unreadable; serving the mesh directory', { file, why: `${why}${kept}` });
    this.problem = `MESH113: ${file} is unreadable: ${why}${kept}`;
    return undefined;
  }

  async append(rev: NewRevision): Promise<StoredRevision> {
    const stored: StoredRevision = { seq: ++this.seq, revision: rev.revision, appliedBy: rev.appliedBy, appliedAt: new Date().toISOString(), ...(rev.rollbackOf !== undefined ? { rollbackOf: rev.rollbackOf } : {}), sources: sortKeys(rev.sources) };
    fs.mkdirSync(this.location, { recursive: true, mode: 0o700 });
    fs.appendFileSync(path.join(this.location, HISTORY_FILE), JSON.stringify(stored) + '\n', { mode: 0o600 });
    const file = path.join(this.location, STATE_FILE);
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, file);
    return stored;
  }

  async since(seq: number): Promise<StoredRevision[]> {
    return this.readHistory().filter((r) => r.seq > seq);
  }

  async history(limit: number): Promise<RevisionSummary[]> {
    return this.readHistory().reverse().slice(0, limit).map(summary);
  }

  async find(selector: string): Promise<StoredRevision | undefined> {
    const all = this.readHistory().reverse();
    return /^\d+$/.test(selector) ? all.find((r) => r.seq === Number(selector)) : all.find((r) => r.revision === selector);
  }

  onAppended(): void {
    // Nobody else writes this folder.
  }

  onHealth(): void {
    // A local folder has no connection to lose.
  }

  health(): StoreHealth {
    return { ok: true };
  }

  async close(): Promise<void> {}

  /** Lines that do not parse (a torn last write) are skipped: the history is an audit aid, applied.json is the state. */
  private readHistory(): StoredRevision[] {
    let text = '';
    try {
      text = fs.readFileSync(path.join(this.location, HISTORY_FILE), 'utf8');
    } catch {
      return [];
    }
    const out: StoredRevision[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as StoredRevision;
        if (typeof r.seq === 'number' && isSources(r.sources)) out.push(r);
      } catch {
        /* skipped, see above */
      }
    }
    return out;
  }
}

export function summary(r: StoredRevision): RevisionSummary {
  const { sources: _sources, ...rest } = r;
  return rest;
}

function isSources(s: unknown): s is MeshSources {
  return !!s && typeof s === 'object' && !Array.isArray(s) && Object.values(s).every((t) => typeof t === 'string');
}

export function sortKeys(o: MeshSources): MeshSources {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]!]));
}
