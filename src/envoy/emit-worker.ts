/** A compile worker (see emit.ts). */
import { servePool } from '../util/sync-pool';
import { resultBuffers, workerRunner } from './emit';

servePool(workerRunner, resultBuffers);
