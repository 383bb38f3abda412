/**
 * `mesh explain <caller> <callee> [dir]`: evaluate one request offline
 * against the compiled config and say what happens and why. Thin wiring over
 * src/review/explain.
 */
import { Command, Option } from 'commander';
import { formatDiagnostics } from '../diag/format';
import { EXPLAIN_FORMATS, explainCall, formatExplain, parseHeaderFlags, type ExplainFormat } from '../review/explain';
import { loadForReview } from '../review/load';
import type { SetExit } from './main';

interface ExplainFlags {
  readonly method: string;
  readonly path: string;
  readonly header: string[];
  readonly format: ExplainFormat;
}

export function registerExplain(program: Command, setExit: SetExit): void {
  program
    .command('explain')
    .description('evaluate a request from <caller> to <callee> against the compiled config: allowed or denied and by which rule, route, split, retries, timeout, rate limit, circuit breaker')
    .argument('<caller>', 'calling service')
    .argument('<callee>', 'called service, external system, or host (a name with a dot)')
    .argument('[dir]', 'mesh directory', '.')
    .option('--method <method>', 'request method', 'GET')
    .option('--path <path>', 'request path', '/')
    .option('--header <name=value>', 'request header (repeatable); host=... overrides the authority', collect, [])
    .addOption(new Option('--format <format>', 'output format').choices(EXPLAIN_FORMATS as string[]).default('text'))
    .action((caller: string, callee: string, dir: string, opts: ExplainFlags) => setExit(runExplain(caller, callee, dir, opts)));
}

/**
 * Exit 0 allowed, 1 denied or no route, 2 the mesh does not load or usage
 * errors: a script asking "is this call allowed?" must not read a broken mesh as "no".
 */
export function runExplain(caller: string, callee: string, dir: string, opts: ExplainFlags): number {
  const headers = parseHeaderFlags(opts.header);
  // A mesh with denied calls (MESH043) still explains: "why is this call denied?" is the question.
  const loaded = loadForReview(dir, { allowSemanticErrors: true });
  if (!loaded.ok) {
    process.stderr.write(formatDiagnostics(loaded.diagnostics, 'text'));
    return 2;
  }
  const { input } = loaded;
  if (input.unchecked) process.stderr.write(`note: ${dir} has lint errors (run mesh lint); explaining what it would compile to\n`);
  const result = explainCall({ model: input.model, compiled: input.compiled }, caller, callee, { method: opts.method, path: opts.path, headers });
  process.stdout.write(formatExplain(result, opts.format, input.lines));
  return result.verdict === 'allowed' ? 0 : 1;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
