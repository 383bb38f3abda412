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
