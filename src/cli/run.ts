/** `mesh run <service> -- <command...>`: the app with its real Envoy sidecar (src/run/run-member.ts). */
import { Command } from 'commander';
import { runMember } from '../run/run-member';
import type { SetExit } from './main';

interface RunFlags {
  readonly version?: string;
  readonly mesh: string;
  readonly readyTimeout: string;
}

export function registerRun(program: Command, setExit: SetExit): void {
  program
    .command('run')
    .description('run an app with its Envoy sidecar: waits until the sidecar is ready, hands the app its mesh identity, exits with its status')
    .argument('<service>', 'the service this app is (its manifest name), or an ingress gateway (runs its Envoy until stopped; no command)')
    .argument('[command...]', 'the app, after -- (e.g. -- python grant_pay.py)')
    .option('--version <v>', "the version this instance runs (default: the manifest's version)")
    .option('--mesh <dir>', 'mesh directory (uses the ports of `mesh dev` when <dir>/.mesh-dev exists)', '.')
    .option('--ready-timeout <ms>', 'how long the sidecar may take to become ready', '30000')
    .action(async (service: string, command: string[], flags: RunFlags) =>
      setExit(await runMember({ service, command, meshDir: flags.mesh, readyTimeoutMs: Number(flags.readyTimeout), ...(flags.version !== undefined ? { version: flags.version } : {}) })),
    );
}
