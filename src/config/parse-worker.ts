/** A parse worker (see parse-pool.ts). */
import { servePool } from '../util/sync-pool';
import { parseJob, type ParseJob } from './parse-pool';

servePool((init) => {
  const jobs = init as readonly ParseJob[];
  return (j) => parseJob(jobs[j]!);
});
