/**
 * `mesh dev [dir]`: a development mesh on this host in one command. Issues
 * the certificates if there are none, gives every service ports of its own,
 * compiles, serves the mesh, and runs every HTTP service's sidecar (real
 * Envoy) until Ctrl-C (src/run/dev-state.ts). Apps then start with
 * `mesh run <service> --mesh <dir> -- <command>`, which uses these sidecars:
 * a sidecar outlives the runs of its app (an open circuit stays open).
 */
import * as path from 'node:path';
import { Command } from 'commander';
import { UserError } from '../diag/errors';
import { DEV_DIR, prepareDev } from '../run/dev-state';
import { startPrefixed, type PrefixedProcess } from '../run/prefixed-process';
import { findEnvoy, startSidecar } from '../run/run-member';
import type { SetExit } from './main';

interface DevFlags {
  readonly sidecars: boolean;
}

export function registerDev(program: Command, setExit: SetExit): void {
  program
    .command('dev')
    .description(`development mesh: issue certificates if missing, give every service its own ports, serve the mesh and run the sidecars (state in <dir>/${DEV_DIR})`)
    .argument('[dir]', 'mesh directory', '.')
    .option('--no-sidecars', 'serve only; each `mesh run` then starts its own sidecar')
    .action(async (dir: string, flags: DevFlags) => setExit(await runDev(dir, flags)));
}

async function runDev(dir: string, flags: DevFlags): Promise<number> {
  const say = (l: string): void => void process.stdout.write(`mesh dev: ${l}\n`);
  const envoy = findEnvoy();
  const { state } = await prepareDev(dir, envoy, say);
  const procs: PrefixedProcess[] = [];
  let serving: () => void = () => undefined;
  const up = new Promise<void>((resolve) => (serving = resolve));
  const cp = startPrefixed(state.controlPlane, '[control-plane] ', process.env, (l) => /^mesh serve:/.test(l) && serving());
  let stopping = false;
  const stopAll = async (): Promise<void> => {
    stopping = true;
    for (const p of procs.reverse()) await p.stop();
    await cp.stop();
  };
  const onSignal = (): void => void stopAll();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await Promise.race([up, cp.exited.then((c) => Promise.reject(new UserError('MESH136', `the control plane exited (${c}):\n${cp.tail()}`)))]);
    for (const n of flags.sidecars ? state.nodes : []) procs.push(await startSidecar(n.node, n.bootstrap, n.adminPort, envoy, 30_000, `mesh dev in ${path.dirname(state.outDir)}`));
  } catch (err) {
    await stopAll();
    throw err;
  }
  for (const n of state.nodes) say(`${n.node}: app 127.0.0.1:${n.appPort}, sidecar inbound :${n.inboundPort}, outbound :${n.outboundPort}, Envoy admin :${n.adminPort}${flags.sidecars ? ' (running)' : ''}`);
  say(`admin API ${state.adminUrl} (admin identity "ops" in ${path.relative(process.cwd(), state.pkiDir) || state.pkiDir})`);
  say(`ready: start apps with \`mesh run <service> --mesh ${dir} -- <command>\`; Ctrl-C stops everything`);
  const code = await Promise.race([cp.exited, ...procs.map((p) => p.exited)]);
  if (!stopping) {
    say('a process exited; stopping the others');
    await stopAll();
    return code === 0 ? 1 : code;
  }
  await stopAll();
  return 0;
}
