/** `mesh trace <id>`: every hop of one request, in order, with the policy line behind each outcome. */
import { Command, Option } from 'commander';
import { explainRequest } from '../review/explain';
import { loadForReview } from '../review/load';
import type { TapRecord } from '../tap/record';
import { formatTrace, traceHops, type Explainer } from '../tap/trace-view';
import { clientOptions, resolveClient, type ClientFlags } from './control-plane-opts';
import type { SetExit } from './main';
import { tapGet } from './tap-client';

export function registerTrace(program: Command, setExit: SetExit): void {
  clientOptions(program.command('trace').description('every hop of one request (trace id = x-request-id): caller and callee, sidecar, upstream, status, flags in words, duration, and the policy line behind it'))
    .argument('<trace-id>', 'the trace id (the x-trace / x-request-id header of the call)')
    .option('--mesh <dir>', 'mesh directory: default server and PKI, and the policy lines (explain)', '.')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (traceId: string, flags: ClientFlags & { mesh: string; format: 'text' | 'json' }) => {
      const body = await tapGet<{ records: TapRecord[] }>(resolveClient(flags, flags.mesh), `/v1/tap/records?trace=${encodeURIComponent(traceId)}`);
      // The policy lines come from the local mesh sources, as `mesh explain` reads them; without a loadable mesh the hops still print.
      const loaded = loadForReview(flags.mesh, { allowSemanticErrors: true });
      const explain: Explainer | undefined = loaded.ok
        ? (caller, callee, method, p) => {
            try {
              return explainRequest({ model: loaded.input.model, compiled: loaded.input.compiled }, caller, callee, { method, path: p, headers: {} });
            } catch {
              return undefined;
            }
          }
        : undefined;
      const lineAt = loaded.ok ? (from: { file?: string; line?: number; col?: number }) => (from.file && from.line ? loaded.input.lines.line({ file: from.file, line: from.line, col: from.col ?? 1 }) : undefined) : undefined;
      const hops = traceHops(body.records, explain, lineAt);
      process.stdout.write(flags.format === 'json' ? JSON.stringify({ trace_id: traceId, hops }, null, 2) + '\n' : formatTrace(traceId, hops));
      setExit(hops.length > 0 ? 0 : 1);
    });
}
