/**
 * Parsing many source files on more than one core. Files are independent:
 * parse workers and the calling thread share the job list
 * (src/util/sync-pool.ts) and the workers send their SourceFiles back as
 * plain data. Files the fast reader takes (src/config/fast-yaml.ts) parse at
 * about 8 MB/s, and for them the workers gain little (a 5,000-service lint:
 * 1.11 s with, 1.14 s without); files that need the yaml package (about
 * 1 MB/s: anchors, indented comments, multi-line scalars...) still gain a core.
 */
import * as path from 'node:path';
import { defaultWorkers, runPool, type PoolStats } from '../util/sync-pool';
import { MAX_FILE_BYTES, parseSourceText, readSourceFile, readSourceFileTooLarge, type ReadRules, type SourceFile } from './source-file';

/** One file to parse: from disk (`abs`) or from memory (`text`, what `mesh apply` sent; `bytes`, what the loader read and hashed). */
export interface ParseJob {
  readonly display: string;
  readonly abs?: string;
  readonly text?: string;
  readonly bytes?: Uint8Array;
  /** How `abs` may be read (src/config/source-file.ts). */
  readonly rules?: ReadRules;
}

export interface ParseOptions {
  /** Worker threads besides the calling thread. Default: one per spare core (MESH_THREADS overrides). */
  readonly workers?: number;
  /** The worker script (tests point it elsewhere to check the fallback). */
  readonly workerFile?: string;
  /** false: workers parse every file (tests of the worker path). */
  readonly callerTakesJobs?: boolean;
  /** Told who parsed how many files. */
  readonly onStats?: (stats: PoolStats) => void;
}

/** Below this many files a worker's start-up (~40 ms) costs more than it saves. */
export const MIN_FILES_FOR_WORKERS = 256;

export function parseJob(job: ParseJob): SourceFile {
  if (job.bytes !== undefined) {
    // A Uint8Array when it crossed to a worker: the same bytes, seen as a Buffer.
    const bytes = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength);
    return bytes.length > MAX_FILE_BYTES ? readSourceFileTooLarge(job.display, bytes.length) : parseSourceText(bytes, job.display);
  }
  if (job.text === undefined) return readSourceFile(job.abs!, job.display, job.rules);
  const bytes = Buffer.from(job.text, 'utf8');
  if (bytes.length > MAX_FILE_BYTES) return readSourceFileTooLarge(job.display, bytes.length);
  return parseSourceText(bytes, job.display);
}

/**
 * Every job parsed, in job order; the same SourceFiles whichever thread parsed
 * them. `onParsed` runs on the calling thread once per job, in no particular
 * order, as results arrive: work done there (schema checks, building the
 * model) overlaps the workers' parsing instead of waiting for all of it.
 */
export function parseAll(jobs: readonly ParseJob[], opts: ParseOptions = {}, onParsed?: (index: number, src: SourceFile) => void): SourceFile[] {
  const results: SourceFile[] = new Array(jobs.length);
  const stats = runPool<SourceFile>({
    total: jobs.length,
    chunk: 16,
    workers: jobs.length >= MIN_FILES_FOR_WORKERS ? (opts.workers ?? defaultWorkers()) : 0,
    script: opts.workerFile ?? path.join(__dirname, 'parse-worker.js'),
    init: jobs,
    local: (j) => parseJob(jobs[j]!),
    take: (j, src) => {
      results[j] = src;
      onParsed?.(j, src);
    },
    ...(opts.callerTakesJobs === false ? { callerTakesJobs: false } : {}),
  });
  opts.onStats?.(stats);
  return results;
}
