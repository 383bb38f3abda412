import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Timing and peak memory for one bench step. Each bench runs in its own process (bench/run.ts) so maxRSS is its own. */
export async function measure<T>(fn: () => T | Promise<T>): Promise<{ ms: number; peakRssMb: number; value: T }> {
  global.gc?.();
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  const t0 = process.hrtime.bigint();
  const value = await fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  clearInterval(timer);
  // maxRSS (KiB) catches peaks between samples, including synchronous work that blocks the timer.
  peak = Math.max(peak, process.resourceUsage().maxRSS * 1024);
  return { ms: Math.round(ms), peakRssMb: Math.round(peak / 1048576), value };
}

export function report(name: string, figures: Record<string, string | number>): void {
  const parts = Object.entries(figures).map(([k, v]) => `${k}=${v}`);
  process.stdout.write(`[bench] ${name}: ${parts.join(' ')}\n`);
}

/** A child process a bench kills if it stops early. */
export type BenchChild = { kill(): void; readonly exited: Promise<void> };

/**
 * Runs a bench with child processes in a temporary folder, within a time
 * budget: past it, or on an error, every child is killed and the folder goes.
 */
export async function runChildBench(name: string, budgetMs: number, bench: (work: string, children: BenchChild[]) => Promise<void>): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `hms-bench-${name}-`));
  const children: BenchChild[] = [];
  let budget: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      bench(work, children),
      new Promise<never>((_, reject) => {
        budget = setTimeout(() => reject(new Error(`the ${name} bench ran over its ${budgetMs / 1000} s budget`)), budgetMs);
      }),
    ]);
  } finally {
    clearTimeout(budget);
    for (const c of children) c.kill();
    await Promise.all(children.map((c) => c.exited));
    fs.rmSync(work, { recursive: true, force: true });
  }
}
