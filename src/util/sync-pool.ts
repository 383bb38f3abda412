/**
 * A synchronous work pool: the calling thread and N worker threads take
 * chunks of jobs 0..total-1 from one shared counter until it runs out. Workers
 * send results back by message; the caller reads them between its own chunks
 * (receiveMessageOnPort) and waits for the last ones with Atomics.wait, so the
 * whole run is synchronous and needs no event-loop turn. The loader, the
 * compiler and the control plane call it from synchronous code.
 *
 * Results arrive in no particular order; `take` sees each job exactly once,
 * on the calling thread. A worker that never starts, fails or times out costs
 * time only: every job without a result is run on the calling thread.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker, workerData, type MessagePort } from 'node:worker_threads';

export interface PoolSpec<R> {
  readonly total: number;
  /** Jobs per claim: small enough to balance, large enough to keep the counter cold. */
  readonly chunk: number;
  /** Worker threads besides the calling one (0: run everything here). */
  readonly workers: number;
  /** The worker script: it calls servePool() with a setup for `init`. */
  readonly script: string;
  /** Given to each worker's setup (structured clone: send strings, not object graphs, when large). */
  readonly init: unknown;
  /** Runs job j on the calling thread. */
  readonly local: (j: number) => R;
  readonly take: (j: number, result: R) => void;
  /** How long to wait for a running worker before doing its jobs here. */
  readonly waitMs?: number;
  /** false: the calling thread only collects (tests use it to make the workers do every job). */
  readonly callerTakesJobs?: boolean;
}

/** Who ran how many jobs. */
export interface PoolStats {
  readonly byCaller: number;
  readonly byWorkers: number;
}

/**
 * Workers' young generation: jobs allocate a lot of short-lived garbage, and
 * V8's default (16 MB) meant a scavenge every few milliseconds of work.
 */
const WORKER_YOUNG_GENERATION_MB = 64;
/** How long a caller that takes no jobs waits for a worker to start. */
const START_WAIT_MS = 10_000;

// Control words: [0] next job; [1 + w] state of worker w.
const NEXT = 0;
const IDLE = 0;
const RUNNING = 1;
const DONE = 2;
const CANCELLED = 3;

interface PoolWorkerData {
  readonly init: unknown;
  readonly control: SharedArrayBuffer;
  readonly index: number;
  readonly total: number;
  readonly chunk: number;
  readonly port: MessagePort;
}

type Batch<R> = Array<readonly [number, R]>;

/** Worker threads to use by default: one per spare core, at most 3, or MESH_THREADS - 1. */
export function defaultWorkers(): number {
  const env = process.env.MESH_THREADS;
  if (env !== undefined && /^[1-9]\d*$/.test(env)) return Number(env) - 1;
  return Math.max(0, Math.min(3, os.availableParallelism() - 1));
}

function claim(control: Int32Array, total: number, chunk: number, run: (j: number) => void, afterChunk: () => void): void {
  for (;;) {
    const start = Atomics.add(control, NEXT, chunk);
    if (start >= total) return;
    const end = Math.min(start + chunk, total);
    for (let j = start; j < end; j++) run(j);
    afterChunk();
  }
}

export function runPool<R>(spec: PoolSpec<R>): PoolStats {
  const done = new Uint8Array(spec.total);
  let byCaller = 0;
  const local = (j: number): R => {
    byCaller++;
    return spec.local(j);
  };
  const take = (j: number, r: R): void => {
    if (done[j]) return; // a late worker after a timeout: the first result stands
    done[j] = 1;
    spec.take(j, r);
  };
  const control = new Int32Array(new SharedArrayBuffer(4 * (1 + Math.max(0, spec.workers))));
  const started: { worker: Worker; port: MessagePort; state: number }[] = [];
  for (let w = 0; w < spec.workers && spec.total > 0; w++) {
    if (!fs.existsSync(spec.script)) break; // not built (or a test's missing script): do it all here
    const { port1, port2 } = new MessageChannel();
    const data: PoolWorkerData = { init: spec.init, control: control.buffer as SharedArrayBuffer, index: w, total: spec.total, chunk: spec.chunk, port: port2 };
    try {
      const worker = new Worker(spec.script, { workerData: data, transferList: [port2], resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
      worker.unref();
      // A worker that fails to load says so here, after we are done; its jobs are redone below.
      worker.on('error', () => undefined);
      started.push({ worker, port: port1, state: 1 + w });
    } catch {
      port1.close();
    }
  }
  // Reading the workers' results is calling-thread work too: doing it between our own
  // chunks, while jobs remain, lets the workers take a larger share of the jobs.
  const drain = (port: MessagePort): void => {
    for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
      for (const [j, r] of m.message as Batch<R>) take(j, r);
    }
  };
  if (spec.callerTakesJobs !== false || started.length === 0) claim(control, spec.total, spec.chunk, (j) => take(j, local(j)), () => started.forEach((s) => drain(s.port)));

  const callerWorked = spec.callerTakesJobs !== false;
  for (const { worker, port, state } of started) {
    // Still loading when we ran out of jobs: it must not start now (we did its share).
    // A caller that took no jobs gives it a while to start instead.
    const startBy = Date.now() + (callerWorked ? 0 : START_WAIT_MS);
    while (!callerWorked && Atomics.load(control, state) === IDLE && Date.now() < startBy) Atomics.wait(control, state, IDLE, 50);
    if (Atomics.compareExchange(control, state, IDLE, CANCELLED) !== IDLE) {
      const deadline = Date.now() + (spec.waitMs ?? 120_000);
      while (Atomics.load(control, state) === RUNNING && Date.now() < deadline) {
        drain(port);
        Atomics.wait(control, state, RUNNING, 50);
      }
      drain(port);
    }
    port.close();
    void worker.terminate();
  }
  for (let j = 0; j < spec.total; j++) if (!done[j]) take(j, local(j));
  return { byCaller, byWorkers: spec.total - byCaller };
}

/**
 * The worker side: `setup` turns the pool's init into the job runner; one
 * message per chunk. `transfer` names the buffers a result owns: they move
 * to the calling thread without a copy.
 */
export function servePool<R>(setup: (init: unknown) => (j: number) => R, transfer?: (result: R) => ArrayBuffer[]): void {
  const data = workerData as PoolWorkerData;
  const control = new Int32Array(data.control);
  const state = 1 + data.index;
  if (Atomics.compareExchange(control, state, IDLE, RUNNING) !== IDLE) return; // cancelled
  let batch: Batch<R> = [];
  try {
    const run = setup(data.init);
    claim(control, data.total, data.chunk, (j) => batch.push([j, run(j)]), () => {
      data.port.postMessage(batch, transfer ? batch.flatMap(([, r]) => transfer(r)) : []);
      batch = [];
    });
  } catch {
    // Jobs claimed but not delivered are redone by the calling thread.
  } finally {
    Atomics.store(control, state, DONE);
    Atomics.notify(control, state);
    data.port.close();
  }
}
