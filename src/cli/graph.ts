/**
 * `mesh graph [dir] --format mermaid|dot|svg`: who may call whom, edges
 * labelled with their policies, denied calls dashed red. Thin wiring over
 * src/review/graph.
 */
import { Command, Option } from 'commander';
import { hasErrors } from '../diag/diagnostic';
import { formatDiagnostics } from '../diag/format';
import { GRAPH_FORMATS, meshGraph, renderGraph, type GraphFormat } from '../review/graph';
import { loadForReview } from '../review/load';
import type { SetExit } from './main';

export function registerGraph(program: Command, setExit: SetExit): void {
  program
    .command('graph')
    .description('draw who may call whom (mermaid, dot or svg), edges labelled with retries, timeout, circuit breaker, rate limit and split; denied calls dashed red')
    .argument('[dir]', 'mesh directory', '.')
    .addOption(new Option('--format <format>', 'output format').choices(GRAPH_FORMATS as string[]).default('mermaid'))
    .action(async (dir: string, opts: { format: GraphFormat }) => setExit(await runGraph(dir, opts.format)));
}

/**
 * Exit 0 when drawn from a clean mesh; 1 when the mesh has lint errors (the
 * graph is still drawn when the files are schema-valid: denied calls are what
 * it shows) or cannot be drawn at all.
 */
export async function runGraph(dir: string, format: GraphFormat): Promise<number> {
  const loaded = loadForReview(dir, { allowSemanticErrors: true });
  if (!loaded.ok) {
    process.stderr.write(formatDiagnostics(loaded.diagnostics, 'text'));
    return 1;
  }
  const { input } = loaded;
  process.stdout.write(await renderGraph(meshGraph(input.model, input.compiled), format));
  if (!hasErrors(input.diagnostics)) return 0;
  process.stderr.write(formatDiagnostics(input.diagnostics.filter((d) => d.severity === 'error'), 'text'));
  return 1;
}
