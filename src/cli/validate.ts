import { Command, Option } from 'commander';
import { type Diagnostic } from '../diag/diagnostic';
import { envoyProtos, validatePaths } from '../validate';

/**
 * `mesh validate <file|dir>...`: offline check of Envoy v3 config (bootstrap,
 * single resources, DiscoveryResponse-like files, compiler output folders).
 * Exit 0 without errors, 1 with errors, 2 for I/O or usage problems.
 */
export function registerValidate(program: Command, setExit: (code: number) => void): void {
  program
    .command('validate')
    .description('validate Envoy v3 config files against the Envoy API protos (structure, PGV rules, cross-references)')
    .argument('<paths...>', 'files or directories (each folder of a directory is one node)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--stats', 'print what loading the Envoy protos cost (to stderr)', false)
    .action((paths: string[], opts: { format: 'text' | 'json'; stats: boolean }) => {
      const result = validatePaths(paths);
      if (opts.format === 'json') process.stdout.write(`${JSON.stringify(jsonReport(result), null, 2)}\n`);
      else process.stdout.write(result.diagnostics.map(formatText).join(''));
      const errors = result.diagnostics.filter((d) => d.severity === 'error').length;
      const warnings = result.diagnostics.filter((d) => d.severity === 'warning').length;
      process.stderr.write(
        `mesh validate: ${errors} error(s), ${warnings} warning(s) in ${result.filesChecked} file(s), ${result.nodes} node(s)\n`,
      );
      if (opts.stats) {
        const s = envoyProtos().stats;
        const heapMb = Math.round(s.heapBytes / 1e6);
        process.stderr.write(`envoy protos: ${s.files} files, ${s.messageTypes} message types, ${s.loadMs} ms, ~${heapMb} MB heap\n`);
      }
      setExit(result.ioErrors > 0 ? 2 : errors > 0 ? 1 : 0);
    });
}

function formatText(d: Diagnostic): string {
  const where = d.path !== undefined && d.path !== '' ? ` (${d.path})` : '';
  const hint = d.hint !== undefined ? `    hint: ${d.hint}\n` : '';
  return `${d.file}:${d.line}:${d.col}: ${d.severity} ${d.code}: ${d.message}${where}\n${hint}`;
}

function jsonReport(result: ReturnType<typeof validatePaths>): object {
  return {
    diagnostics: result.diagnostics,
    errors: result.diagnostics.filter((d) => d.severity === 'error').length,
    warnings: result.diagnostics.filter((d) => d.severity === 'warning').length,
    files: result.filesChecked,
    nodes: result.nodes,
  };
}
