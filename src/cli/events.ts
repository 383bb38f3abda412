/** `mesh events [--follow]`: the mesh's recent CloudEvents (mesh.timeout, mesh.circuit_open, ...) from the control plane. */
import { Command, Option } from 'commander';
import { escapeControls } from '../diag/excerpt';
import type { MeshEvent } from '../events/cloudevent';
import { clientOptions, resolveClient, type ClientFlags } from './control-plane-opts';
import type { SetExit } from './main';
import { follow, tapGet } from './tap-client';

type Listed = MeshEvent & { hmsseq: number };

export function registerEvents(program: Command, setExit: SetExit): void {
  clientOptions(program.command('events').description('recent mesh events (CloudEvents 1.0), oldest first; --follow keeps printing new ones'))
    .option('--follow', 'keep printing new events as they happen')
    .option('--mesh <dir>', 'mesh directory (for default server address and PKI)', '.')
    .addOption(new Option('--format <format>', 'output format (json: one CloudEvent per line)').choices(['text', 'json']).default('text'))
    .action(async (flags: ClientFlags & { mesh: string; format: 'text' | 'json'; follow?: boolean }) => {
      const client = resolveClient(flags, flags.mesh);
      let after = 0;
      const fetch = async (): Promise<void> => {
        const body = await tapGet<{ events: Listed[]; last_seq: number }>(client, `/v1/events?after=${after}`);
        for (const e of body.events) {
          const { hmsseq, ...event } = e;
          after = Math.max(after, hmsseq);
          process.stdout.write(flags.format === 'json' ? JSON.stringify(event) + '\n' : escapeControls(formatEvent(event)) + '\n');
        }
      };
      await fetch();
      setExit(0);
      if (flags.follow) await follow(500, fetch);
    });
}

export function formatEvent(e: MeshEvent): string {
  const d = e.data as Record<string, unknown>;
  const count = typeof d.count === 'number' && d.count > 1 ? ` x${d.count}` : '';
  const extra = ['instance', 'node', 'identity', 'message', 'dropped', 'reason'].filter((k) => d[k] !== undefined && d[k] !== '').map((k) => `${k}=${String(d[k])}`).join(' ');
  return `${e.time} ${e.type}${count} ${e.subject}${extra ? ` ${extra}` : ''} id=${e.id}`;
}
