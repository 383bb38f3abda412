/**
 * The control plane creates and migrates its own schema. Versioned: each
 * migration runs once, in order, in its own transaction, and is recorded in
 * mesh_schema. Idempotent and safe when replicas start at the same moment:
 * everything happens under a session advisory lock, so the second replica
 * waits, then finds the migrations done (a bare CREATE TABLE IF NOT EXISTS
 * from two sessions at once can still fail on pg_type's unique index).
 */
import type { Queryable } from 'pg';

/** pg_advisory_lock key held while migrating ('MESH' in ASCII). */
const MIGRATE_LOCK = 0x4d455348;

export const MIGRATIONS: readonly string[] = [
  // 1: the apply history, append-only: the table is the audit trail.
  `CREATE TABLE mesh_revisions (
     seq         bigserial PRIMARY KEY,
     revision    text NOT NULL,
     applied_by  text NOT NULL,
     applied_at  timestamptz NOT NULL DEFAULT now(),
     rollback_of bigint REFERENCES mesh_revisions (seq),
     sources     text NOT NULL
   );
   CREATE INDEX mesh_revisions_revision ON mesh_revisions (revision);
   CREATE FUNCTION mesh_revisions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN RAISE EXCEPTION 'mesh_revisions is append-only (the audit trail of applies)'; END $$;
   CREATE TRIGGER mesh_revisions_append_only BEFORE UPDATE OR DELETE ON mesh_revisions
     FOR EACH ROW EXECUTE FUNCTION mesh_revisions_append_only();`,
  // 2: the live registry, shared by every replica; expiry uses the database's clock.
  `CREATE TABLE mesh_instances (
     id            text PRIMARY KEY,
     service       text NOT NULL,
     version       text NOT NULL,
     address       text NOT NULL,
     port          integer NOT NULL,
     ttl_ms        integer NOT NULL,
     registered_at timestamptz NOT NULL DEFAULT now(),
     expires_at    timestamptz NOT NULL
   );
   CREATE INDEX mesh_instances_expires ON mesh_instances (expires_at);`,
];

export class SchemaTooNew extends Error {
  readonly code = 'MESH202';
}

/** Brings the database to the latest schema; returns the version it is at. */
export async function migrate(db: Queryable): Promise<number> {
  await db.query('SELECT pg_advisory_lock($1)', [MIGRATE_LOCK]);
  try {
    await db.query('CREATE TABLE IF NOT EXISTS mesh_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const r = await db.query<{ v: number | null }>('SELECT max(version) AS v FROM mesh_schema');
    let version = r.rows[0]?.v ?? 0;
    if (version > MIGRATIONS.length) {
      throw new SchemaTooNew(`the database schema is at version ${version}; this control plane knows versions up to ${MIGRATIONS.length}: upgrade it (a newer replica migrated the database)`);
    }
    while (version < MIGRATIONS.length) {
      await db.query('BEGIN');
      try {
        await db.query(MIGRATIONS[version]!);
        await db.query('INSERT INTO mesh_schema (version) VALUES ($1)', [version + 1]);
        await db.query('COMMIT');
      } catch (err) {
        await db.query('ROLLBACK');
        throw err;
      }
      version++;
    }
    return version;
  } finally {
    await db.query('SELECT pg_advisory_unlock($1)', [MIGRATE_LOCK]);
  }
}
