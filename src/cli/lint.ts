import { Command, Option } from 'commander';
import { isIoCode } from '../diag/codes';
import { DIAG_FORMATS, formatDiagnostics, summary, type DiagFormat } from '../diag/format';
import { lintMesh } from '../lint';
import type { SetExit } from './main';

export function registerLint(program: Command, setExit: SetExit): void {
  program
    .command('lint')
    .description('check a mesh directory (mesh.yml, mesh_policies.yml, services/*.yml) and print diagnostics')
    .argument('[dir]', 'mesh directory', '.')
    .addOption(new Option('--format <format>', 'output format').choices(DIAG_FORMATS as string[]).default('text'))
    .option('--strict', 'treat warnings as errors (exit 1)', false)
    .action((dir: string, opts: { format: DiagFormat; strict: boolean }) => {
      const { diagnostics } = lintMesh(dir, { checkPki: true });
      process.stdout.write(formatDiagnostics(diagnostics, opts.format));
      const s = summary(diagnostics);
      if (opts.format === 'text') {
        // Acknowledged warnings are info: counted, so a --strict pass never hides that they exist.
        process.stderr.write(`${s.errors} error(s), ${s.warnings} warning(s)${s.infos > 0 ? `, ${s.infos} acknowledged or info` : ''}\n`);
      }
      if (diagnostics.some((d) => d.severity === 'error' && isIoCode(d.code))) setExit(2);
      else if (s.errors > 0 || (opts.strict && s.warnings > 0)) setExit(1);
      else setExit(0);
    });
}
