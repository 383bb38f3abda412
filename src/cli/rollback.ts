/** `mesh rollback <revision>`: re-apply an earlier revision of the store, through the same checks as `mesh apply`. */
import { Command } from 'commander';
import { formatDiagnostics } from '../diag/format';
import type { ApplyResult } from '../xds/control-plane';
import { adminCall } from './admin-call';
import { clientOptions, resolveClient, type ClientFlags } from './control-plane-opts';
import type { SetExit } from './main';

interface RollbackFlags extends ClientFlags {
  readonly mesh: string;
}

export function registerRollback(program: Command, setExit: SetExit): void {
  clientOptions(
    program
      .command('rollback')
      .description('apply an earlier revision again (a new entry of the history); lint, compile and validate as for apply')
      .argument('<revision>', 'sequence number or revision hash, as `mesh history` lists them'),
  )
    .option('--mesh <dir>', 'mesh directory whose mesh.yml names the control plane', '.')
    .action(async (revision: string, flags: RollbackFlags) => setExit(await runRollback(revision, flags)));
}

async function runRollback(revision: string, flags: RollbackFlags): Promise<number> {
  const client = resolveClient(flags, flags.mesh);
  const r = await adminCall<ApplyResult>(client, 'POST', '/v1/rollback', { revision });
  if (!r.ok) {
    process.stdout.write('the control plane refused the rollback; nothing changed:\n' + formatDiagnostics(r.diagnostics, 'text'));
    return 1;
  }
  process.stdout.write(`rolled back to ${revision}: revision ${r.revision} applied as ${r.seq}: ${r.changedNodes?.length ?? 0} node(s) changed\n`);
  return 0;
}
