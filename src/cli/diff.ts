/**
 * `mesh diff <rev-a> <rev-b> [dir]`: what a change to the mesh sources does
 * to every node's compiled config, with the source line behind each change.
 * Thin wiring over src/review/diff.
 */
import * as fs from 'node:fs';
import { Command, Option } from 'commander';
import { formatDiagnostics } from '../diag/format';
import { DIFF_FORMATS, diffRevisions, diffSources, formatDiff, type DiffFormat, type DiffOutcome } from '../review/diff';
import type { SetExit } from './main';

export function registerDiff(program: Command, setExit: SetExit): void {
  program
    .command('diff')
    .description('compile a mesh at two git revisions (or two directories) and show, per node, what changes and which source line caused it')
    .argument('<rev-a>', 'old git revision (or directory, when [dir] is omitted and both are directories)')
    .argument('<rev-b>', 'new git revision (or directory)')
    .argument('[dir]', 'the mesh directory inside the repository (git mode)')
    .addOption(new Option('--format <format>', 'output format').choices(DIFF_FORMATS as string[]).default('text'))
    .action((revA: string, revB: string, dir: string | undefined, opts: { format: DiffFormat }) => {
      setExit(runDiff(revA, revB, dir, opts.format));
    });
}

/** Exit 0 when the diff is printed (changes or not), 1 when a side does not lint, 2 on usage or git errors. */
export function runDiff(revA: string, revB: string, dir: string | undefined, format: DiffFormat): number {
  const outcome: DiffOutcome =
    dir === undefined && isDirectory(revA) && isDirectory(revB)
      ? diffSources({ dir: revA, displayDir: revA, label: revA }, { dir: revB, displayDir: revB, label: revB })
      : diffRevisions(revA, revB, dir ?? '.');
  if (!outcome.ok) {
    process.stderr.write(`mesh diff: ${outcome.label} does not lint:\n${formatDiagnostics(outcome.diagnostics, 'text')}`);
    return 1;
  }
  process.stdout.write(formatDiff(outcome.diff, format));
  return 0;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
