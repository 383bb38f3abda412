import { Command, Option } from 'commander';
import { UserError } from '../diag/errors';
import { escapeControls } from '../diag/excerpt';
import { adminRequest } from '../xds/admin-client';
import type { StatusReport } from '../xds/control-plane';
import { clientOptions, resolveClient, type ClientFlags } from './control-plane-opts';
import type { SetExit } from './main';

export function registerStatus(program: Command, setExit: SetExit): void {
  clientOptions(program.command('status').description('per node and type: ACKed version, pending version, last NACK, connected since'))
    .option('--mesh <dir>', 'mesh directory (for default server address and PKI)', '.')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (flags: ClientFlags & { mesh: string; format: 'text' | 'json' }) => {
      const res = await adminRequest<StatusReport & { error?: string }>(resolveClient(flags, flags.mesh), 'GET', '/v1/status');
      if (res.status !== 200) throw new UserError('MESH096', `control plane refused GET /v1/status (${res.status}): ${escapeControls(String(res.body?.error ?? ''))}`);
      process.stdout.write(flags.format === 'json' ? JSON.stringify(res.body, null, 2) + '\n' : formatStatus(res.body));
      setExit(res.body.nodes.some((n) => n.nacked) ? 1 : 0);
    });
}

export function formatStatus(s: StatusReport): string {
  const rows: string[][] = [['NODE', 'TYPE', 'ACKED', 'PENDING', 'LAST NACK', 'CONNECTED SINCE']];
  for (const n of s.nodes) {
    const kinds = Object.entries(n.types);
    if (kinds.length === 0) rows.push([n.node, '-', '-', '-', '-', n.connected ? n.connectedSince ?? '' : 'not connected']);
    for (const [kind, t] of kinds) {
      rows.push([n.node, kind, t?.acked ?? '-', t?.pending ?? '-', t?.lastNack ? `${t.lastNack.version}: ${[...t.lastNack.message].slice(0, 60).join('')}` : '-', n.connected ? n.connectedSince ?? '' : 'not connected']);
    }
  }
  // Every cell may carry what a node sent (its id, a NACK message): no control character reaches the terminal.
  for (const r of rows) for (let i = 0; i < r.length; i++) r[i] = escapeControls(r[i]!);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `revision ${escapeControls(s.revision ?? '(none)')}\n` + rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}
