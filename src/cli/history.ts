/** `mesh history`: the applied revisions recorded in the control plane's store, newest first, with who and when. */
import { Command } from 'commander';
import { escapeControls } from '../diag/excerpt';
import type { RevisionSummary } from '../store/store';
import { adminCall } from './admin-call';
import { clientOptions, resolveClient, type ClientFlags } from './control-plane-opts';
import type { SetExit } from './main';

interface HistoryFlags extends ClientFlags {
  readonly mesh: string;
  readonly limit: string;
  readonly json: boolean;
}

export interface HistoryAnswer {
  readonly revisions: RevisionSummary[];
  readonly served: { readonly revision: string | null; readonly seq: number };
}

export function registerHistory(program: Command, setExit: SetExit): void {
  clientOptions(program.command('history').description('list the applied revisions (sequence, revision, who applied it, when), newest first'))
    .option('--mesh <dir>', 'mesh directory whose mesh.yml names the control plane', '.')
    .option('--limit <n>', 'how many revisions', '20')
    .option('--json', 'print JSON', false)
    .action(async (flags: HistoryFlags) => setExit(await runHistory(flags)));
}

async function runHistory(flags: HistoryFlags): Promise<number> {
  const client = resolveClient(flags, flags.mesh);
  const h = await adminCall<HistoryAnswer>(client, 'GET', `/v1/history?limit=${encodeURIComponent(flags.limit)}`);
  process.stdout.write(flags.json ? JSON.stringify(h, null, 2) + '\n' : formatHistory(h));
  return 0;
}

export function formatHistory(h: HistoryAnswer): string {
  const lines = ['SEQ  REVISION      APPLIED AT                APPLIED BY'];
  for (const r of h.revisions) {
    const mark = r.seq === h.served.seq ? '*' : ' ';
    const note = r.rollbackOf !== undefined ? `  (rollback to ${r.rollbackOf})` : '';
    lines.push(`${String(r.seq).padEnd(4)}${mark}${r.revision.padEnd(14)}${r.appliedAt.padEnd(26)}${escapeControls(r.appliedBy)}${note}`);
  }
  lines.push('* served by this replica');
  return lines.join('\n') + '\n';
}
