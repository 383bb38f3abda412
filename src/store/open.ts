/** `--store` / mesh.yml `store:`: a folder path, or a postgres:// URL shared by replicas. */
import type { Logger } from '../xds/log';
import { FolderStore } from './folder-store';
import { PostgresStore } from './postgres-store';
import type { MeshStore } from './store';

export function isPostgresUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//.test(spec);
}

export function openStore(spec: string | undefined, log: Logger, probeMs?: number): MeshStore | undefined {
  if (spec === undefined || spec === '') return undefined;
  if (isPostgresUrl(spec)) return new PostgresStore(spec, probeMs);
  return new FolderStore(spec, (msg, fields) => log.log('error', msg, fields));
}
