/**
 * Long work on the event loop in slices. The work is a generator that yields
 * between units (a node compiled, a node validated...): `runSync` runs it to
 * the end at once, `runSliced` gives the loop back (setImmediate) whenever a
 * slice has run for `sliceMs`, so timers, sockets and streams are served
 * between slices. The same steps either way: one code path, two schedules.
 */
import { performance } from 'node:perf_hooks';

export type Steps<T> = Generator<void, T, void>;

export function runSync<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

export async function runSliced<T>(steps: Steps<T>, sliceMs: number): Promise<T> {
  let start = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (performance.now() - start >= sliceMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      start = performance.now();
    }
  }
}
