import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { UserError } from '../diag/errors';
import { escapeControls } from '../diag/excerpt';
import { PACKAGE_ROOT } from '../paths';
import { registerLint } from './lint';
import { registerValidate } from './validate';
import { registerCerts } from './certs';
import { registerBuild } from './build';
import { registerServe } from './serve';
import { registerApply } from './apply';
import { registerStatus } from './status';
import { registerDiff } from './diff';
import { registerExplain } from './explain';
import { registerGraph } from './graph';
import { registerRun } from './run';
import { registerDev } from './dev';
import { registerTrace } from './trace';
import { registerLogs } from './logs';
import { registerStat } from './stat';
import { registerEvents } from './events';
import { registerHistory } from './history';
import { registerRollback } from './rollback';

/** Exit codes: 0 ok, 1 findings (lint errors, check failures), 2 usage or I/O errors. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command();
  program
    .name('mesh')
    .description('HMS-SVC: compile mesh policies to Envoy xDS and serve them')
    .version((JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version, '-V, --version')
    // Program options only before the command: `mesh run <svc> --version v2` is the run's own option, not -V.
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  let exitCode = 0;
  const setExit = (code: number): void => {
    exitCode = code;
  };
  // One registration per command file; each command only calls library functions.
  registerLint(program, setExit);
  registerValidate(program, setExit);
  registerCerts(program, setExit);
  registerBuild(program, setExit);
  registerServe(program, setExit);
  registerApply(program, setExit);
  registerStatus(program, setExit);
  registerDiff(program, setExit);
  registerExplain(program, setExit);
  registerGraph(program, setExit);
  registerRun(program, setExit);
  registerDev(program, setExit);
  registerTrace(program, setExit);
  registerLogs(program, setExit);
  registerStat(program, setExit);
  registerEvents(program, setExit);
  registerHistory(program, setExit);
  registerRollback(program, setExit);

  try {
    await program.parseAsync(argv as string[]);
    return exitCode;
  } catch (err) {
    return handleError(err);
  }
}

function handleError(err: unknown): number {
  if (err instanceof CommanderError) {
    // --help and --version exit through here with code 0.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return 0;
    return 2;
  }
  if (err instanceof UserError) {
    process.stderr.write(`mesh: error ${err.code}: ${escapeControls(err.message)}\n`);
    return err.exitCode;
  }
  // A bug: show the stack so it can be reported.
  process.stderr.write(`mesh: internal error (please report): ${(err as Error)?.stack ?? String(err)}\n`);
  return 70;
}

export type SetExit = (code: number) => void;
