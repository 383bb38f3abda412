/**
 * The shared store: every replica of the control plane reads and writes one
 * PostgreSQL database. The schema is created and migrated by the control
 * plane itself (migrations.ts). Each accepted apply is one row of
 * mesh_revisions, append-only; the row's seq is the global order of applies.
 * NOTIFY on commit tells the other replicas, LISTEN hears it; a periodic probe
 * both catches a lost notification and notices the database going away.
 */
import { Client, Pool, type Notification } from 'pg';
import { sortKeys, summary } from './folder-store';
import { migrate } from './migrations';
import { StoreUnavailable, type MeshStore, type NewRevision, type RevisionSummary, type StoredRevision, type StoreHealth } from './store';
import type { MeshSources } from '../xds/control-plane';

/** The channel NOTIFY uses; the payload is the new seq. */
export const CHANNEL = 'mesh_revisions';
/** Registry changes; the payload is the service whose instances changed. */
export const INSTANCES_CHANNEL = 'mesh_instances';
/** pg_advisory_xact_lock key held while a revision is numbered and committed ('MESH' + 1). */
const APPEND_LOCK = 0x4d455348 + 1;
/** How often a replica checks the database: bounds how long a lost NOTIFY or a dead database goes unnoticed. */
export const PROBE_MS = 500;
const CONNECT_TIMEOUT_MS = 2000;
const QUERY_TIMEOUT_MS = 5000;

interface RevisionRow {
  seq: string;
  revision: string;
  applied_by: string;
  applied_at: Date;
  rollback_of: string | null;
  sources?: string;
}

export class PostgresStore implements MeshStore {
  readonly kind = 'postgres';
  readonly location: string;
  private readonly pool: Pool;
  private listener?: Client;
  private state: StoreHealth = { ok: true };
  private readonly appended: Array<() => void> = [];
  private readonly healthListeners: Array<(h: StoreHealth) => void> = [];
  private readonly instanceListeners: Array<(service: string) => void> = [];
  private probeTimer?: NodeJS.Timeout;
  private probing = false;
  private closed = false;

  constructor(
    private readonly url: string,
    /** How often the database is probed (tests of a lagging replica lengthen it). */
    private readonly probeMs = PROBE_MS,
  ) {
    this.location = redact(url);
    this.pool = new Pool({ connectionString: url, max: 4, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, query_timeout: QUERY_TIMEOUT_MS, idleTimeoutMillis: 10_000, application_name: 'mesh-serve' });
    // An idle client whose server went away emits here; unhandled it would end the process.
    this.pool.on('error', (err: Error) => this.down(err));
  }

  async open(): Promise<StoredRevision | undefined> {
    const client = await this.pool.connect();
    try {
      await migrate(client);
    } finally {
      client.release();
    }
    await this.listen();
    this.probeTimer = setInterval(() => void this.probe(), this.probeMs);
    this.probeTimer.unref();
    const last = await this.pool.query<RevisionRow>('SELECT * FROM mesh_revisions ORDER BY seq DESC LIMIT 1');
    return last.rows[0] ? toRevision(last.rows[0]) : undefined;
  }

  async append(rev: NewRevision): Promise<StoredRevision> {
    return this.guard('record the apply', async () => {
      const client = await this.pool.connect();
      let ok = false;
      try {
        await client.query('BEGIN');
        // Numbering and committing under one lock: seq order is commit order, so a
        // replica that has seen seq N has seen every revision before it.
        await client.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK]);
        if (rev.onlyIfEmpty) {
          const newest = await client.query<RevisionRow>('SELECT * FROM mesh_revisions ORDER BY seq DESC LIMIT 1');
          if (newest.rows.length > 0) {
            await client.query('COMMIT');
            ok = true;
            return toRevision(newest.rows[0]!);
          }
        }
        const r = await client.query<RevisionRow>(
          'INSERT INTO mesh_revisions (revision, applied_by, rollback_of, sources) VALUES ($1, $2, $3, $4) RETURNING seq, revision, applied_by, applied_at, rollback_of',
          [rev.revision, rev.appliedBy, rev.rollbackOf ?? null, JSON.stringify(sortKeys(rev.sources))],
        );
        const row = r.rows[0]!;
        // Delivered at commit, to every listening replica (this one too: it ignores its own seq).
        await client.query('SELECT pg_notify($1, $2)', [CHANNEL, row.seq]);
        await client.query('COMMIT');
        ok = true;
        return { ...toRevision(row), sources: rev.sources };
      } finally {
        if (!ok) await client.query('ROLLBACK').catch(() => undefined);
        client.release(!ok);
      }
    });
  }

  async since(seq: number): Promise<StoredRevision[]> {
    return this.guard('read revisions', async () => (await this.pool.query<RevisionRow>('SELECT * FROM mesh_revisions WHERE seq > $1 ORDER BY seq', [seq])).rows.map(toRevision));
  }

  async history(limit: number): Promise<RevisionSummary[]> {
    return this.guard('read the history', async () => {
      const r = await this.pool.query<RevisionRow>('SELECT seq, revision, applied_by, applied_at, rollback_of FROM mesh_revisions ORDER BY seq DESC LIMIT $1', [limit]);
      return r.rows.map((row) => summary(toRevision(row)));
    });
  }

  async find(selector: string): Promise<StoredRevision | undefined> {
    return this.guard('read the history', async () => {
      const r = /^\d+$/.test(selector)
        ? await this.pool.query<RevisionRow>('SELECT * FROM mesh_revisions WHERE seq = $1', [selector])
        : await this.pool.query<RevisionRow>('SELECT * FROM mesh_revisions WHERE revision = $1 ORDER BY seq DESC LIMIT 1', [selector]);
      return r.rows[0] ? toRevision(r.rows[0]) : undefined;
    });
  }

  onAppended(listener: () => void): void {
    this.appended.push(listener);
  }

  /** Calls back with the service whose registered instances changed (on any replica). */
  onInstances(listener: (service: string) => void): void {
    this.instanceListeners.push(listener);
  }

  onHealth(listener: (h: StoreHealth) => void): void {
    this.healthListeners.push(listener);
  }

  health(): StoreHealth {
    return this.state;
  }

  /** Queries on the pool, for the registry (registry-store.ts); failures mark the store down. */
  async query<R>(what: string, text: string, values: readonly unknown[] = []): Promise<R[]> {
    return this.guard(what, async () => (await this.pool.query<R>(text, values)).rows);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.probeTimer) clearInterval(this.probeTimer);
    const l = this.listener;
    this.listener = undefined;
    await Promise.allSettled([l?.end(), this.pool.end()]);
  }

  /** Runs a database call; a failure to reach the database becomes StoreUnavailable and marks the store down. */
  private async guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (!this.state.ok) throw new StoreUnavailable(`cannot ${what}: the database at ${this.location} is unavailable (${this.state.problem}); nothing changed`);
    try {
      return await fn();
    } catch (err) {
      if (isConnectionError(err)) {
        this.down(err as Error);
        throw new StoreUnavailable(`cannot ${what}: the database at ${this.location} is unavailable (${(err as Error).message}); nothing changed`);
      }
      throw err;
    }
  }

  private async listen(): Promise<void> {
    const client = new Client({ connectionString: this.url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, application_name: 'mesh-serve-listen', keepAlive: true });
    client.on('error', (err: Error) => this.down(err));
    client.on('end', () => {
      if (this.listener === client) this.listener = undefined;
      if (!this.closed) this.down(new Error('the LISTEN connection ended'));
    });
    client.on('notification', (n: Notification) => {
      if (n.channel === CHANNEL) for (const l of this.appended) l();
      if (n.channel === INSTANCES_CHANNEL && n.payload) for (const l of this.instanceListeners) l(n.payload);
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    await client.query(`LISTEN ${INSTANCES_CHANNEL}`);
    this.listener = client;
  }

  /** Every PROBE_MS: is the database there? Back after a loss: listen again, and let replicas catch up. */
  private async probe(): Promise<void> {
    if (this.probing || this.closed) return;
    this.probing = true;
    try {
      await this.pool.query('SELECT 1');
      if (!this.listener) await this.listen();
      if (!this.state.ok) this.setHealth({ ok: true });
      // Cheap, and covers a notification lost with a connection.
      for (const l of this.appended) l();
    } catch (err) {
      this.down(err as Error);
    } finally {
      this.probing = false;
    }
  }

  private down(err: Error): void {
    if (this.closed) return;
    const l = this.listener;
    if (l) {
      this.listener = undefined;
      void l.end().catch(() => undefined);
    }
    if (this.state.ok) this.setHealth({ ok: false, problem: err.message || String(err), since: Date.now() });
  }

  private setHealth(h: StoreHealth): void {
    this.state = h;
    for (const l of this.healthListeners) l(h);
  }
}

function toRevision(row: RevisionRow): StoredRevision {
  return {
    seq: Number(row.seq),
    revision: row.revision,
    appliedBy: row.applied_by,
    appliedAt: row.applied_at.toISOString(),
    ...(row.rollback_of !== null ? { rollbackOf: Number(row.rollback_of) } : {}),
    sources: row.sources !== undefined ? (JSON.parse(row.sources) as MeshSources) : {},
  };
}

/** Errors of reaching the server (refused, reset, timed out, shutting down), as opposed to a bad statement. */
function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (typeof e?.code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|57P0[1-3]|08\d\d\d)$/.test(e.code)) return true;
  return /timeout|Connection terminated|not queryable|ended|ECONNREFUSED/i.test(e?.message ?? '');
}

/** The URL with its password replaced: safe for logs and error messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}
