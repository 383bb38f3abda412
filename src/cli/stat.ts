/** `mesh stat`: per caller -> callee pair, requests/s, success rate, p50/p99 latency over a window (like `linkerd viz stat`). */
import { Command, Option } from 'commander';
import { escapeControls } from '../diag/excerpt';
import type { PairStat } from '../tap/pair-stats';
import { clientOptions, resolveClient, type ClientFlags } from './control-plane-opts';
import type { SetExit } from './main';
import { tapGet } from './tap-client';

export function registerStat(program: Command, setExit: SetExit): void {
  clientOptions(program.command('stat').description('per caller -> callee pair: requests/s, success rate (non-5xx), p50/p99 latency over a window'))
    .option('--window <seconds>', 'the window, 1..300 seconds', '10')
    .option('--mesh <dir>', 'mesh directory (for default server address and PKI)', '.')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (flags: ClientFlags & { mesh: string; format: 'text' | 'json'; window: string }) => {
      const body = await tapGet<{ window_s: number; pairs: PairStat[] }>(resolveClient(flags, flags.mesh), `/v1/tap/stat?window=${encodeURIComponent(flags.window)}`);
      process.stdout.write(flags.format === 'json' ? JSON.stringify(body, null, 2) + '\n' : formatStat(body.window_s, body.pairs));
      setExit(0);
    });
}

export function formatStat(windowS: number, pairs: readonly PairStat[]): string {
  const rows = [['CALLER', 'CALLEE', 'RPS', 'SUCCESS', 'P50', 'P99', 'REQUESTS']];
  for (const p of pairs) {
    rows.push([p.caller, p.callee, p.rps.toFixed(2), p.successRate === null ? '-' : `${(p.successRate * 100).toFixed(1)}%`, p.p50Ms === null ? '-' : `${p.p50Ms}ms`, p.p99Ms === null ? '-' : `${p.p99Ms}ms`, String(p.requests)]);
  }
  for (const r of rows) for (let i = 0; i < r.length; i++) r[i] = escapeControls(r[i]!);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `window ${windowS}s\n` + rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}
