/** `mesh logs [--service s] [--follow] [--format text|json]`: recent access-log records from the control plane's tap. */
import { Command, Option } from 'commander';
import { escapeControls } from '../diag/excerpt';
import type { TapRecord } from '../tap/record';
import { formatLogLine } from '../tap/trace-view';
import { clientOptions, resolveClient, type ClientFlags } from './control-plane-opts';
import type { SetExit } from './main';
import { follow, tapGet } from './tap-client';

export function registerLogs(program: Command, setExit: SetExit): void {
  clientOptions(program.command('logs').description('recent access-log records (both sidecars of every call), oldest first'))
    .option('--service <name>', 'only records where this service called or was called')
    .option('--follow', 'keep printing new records as they arrive')
    .option('--limit <n>', 'at most this many records at first', '100')
    .option('--mesh <dir>', 'mesh directory (for default server address and PKI)', '.')
    .addOption(new Option('--format <format>', 'output format (json: one record per line)').choices(['text', 'json']).default('text'))
    .action(async (flags: ClientFlags & { mesh: string; format: 'text' | 'json'; service?: string; follow?: boolean; limit: string }) => {
      const client = resolveClient(flags, flags.mesh);
      const service = flags.service ? `&service=${encodeURIComponent(flags.service)}` : '';
      let after = -1;
      const print = (rs: readonly TapRecord[]): void => {
        for (const r of rs) process.stdout.write(flags.format === 'json' ? JSON.stringify(r) + '\n' : escapeControls(formatLogLine(r)) + '\n');
      };
      const first = await tapGet<{ records: TapRecord[]; last_seq: number }>(client, `/v1/tap/records?limit=${Number(flags.limit) || 100}${service}`);
      print(first.records);
      after = first.last_seq;
      setExit(0);
      if (!flags.follow) return;
      await follow(500, async () => {
        const next = await tapGet<{ records: TapRecord[]; last_seq: number }>(client, `/v1/tap/records?after=${after}${service}`);
        print(next.records);
        after = Math.max(after, next.last_seq);
      });
    });
}
