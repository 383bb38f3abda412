/**
 * Setting up the real-Envoy suite: what is available (decided once, before
 * any test is declared, so a test that cannot run is declared skipped with
 * the reason), a work folder with a fresh PKI, and the runtime (Docker
 * Compose or local processes) built from the same renderers as
 * `mesh build --target compose`.
 *
 * The suite runs only under `npm run test:envoy` (HMS_ENVOY_REAL=1): it
 * pulls images and starts containers, which `npm test` never does. Under
 * `npm test` every real-Envoy test is reported skipped, with why.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { detectRealEnvoy, type Availability } from '../../src/compose/availability';
import { renderComposition } from '../../src/compose/compose';
import { DockerRuntime } from '../../src/compose/docker-run';
import { buildLocalPlan, describeConflicts, localPorts, MESH_BIN, type LocalPlan } from '../../src/compose/local-plan';
import { LocalRuntime } from '../../src/compose/local-run';
import { freeRange } from '../../src/compose/free-ports';
import { runCommand, type CmdResult, type MeshRuntime } from '../../src/compose/runtime';
import { Registration, type InstanceInfo } from '../../src/sdk/registration';
import { EXAMPLES_DIR, PACKAGE_ROOT } from '../../src/paths';
import { admin, loadCredentials } from '../../src/pki';
import { adminRequest, type AdminClientOptions } from '../../src/xds/admin-client';
import type { StatusReport } from '../../src/xds/control-plane';

export const EXAMPLE = path.join(EXAMPLES_DIR, 'ceq');
export const REAL = process.env.HMS_ENVOY_REAL === '1';
/** Under CI a missing Envoy fails the real-Envoy tests instead of skipping them. */
export const CI = process.env.CI === 'true';
const CI_HINT = '`npm run test:envoy`';

export type Backend = 'local' | 'docker';
export const availability: Availability = detectRealEnvoy({ pull: REAL, pullTimeoutMs: Number(process.env.HMS_DOCKER_PULL_TIMEOUT_MS ?? 180_000) });

/**
 * Why the suite does not run on `backend` here, or undefined when it does.
 * Local processes (the project's pinned Envoy from .venv, or ENVOY_BIN) run in
 * every `npm test`; Docker only under `npm run test:envoy` (it pulls images and
 * starts containers). Under CI=true a missing local Envoy is not a skip: the
 * tests run and fail in setUp with the reason.
 */
export function suiteSkip(backend: Backend, a: Availability = availability, real = REAL, ci = CI): string | undefined {
  if (backend === 'local') {
    if (a.envoyBin) return undefined;
    return ci ? undefined : `no real Envoy here: ${a.local} (docs/envoy.md)`;
  }
  if (!a.dockerReady) return `no Docker here: ${a.docker} (the same story runs on local processes; docs/envoy.md)`;
  if (!real) return `Docker is available (${a.docker}), but this suite starts containers and runs only under ${CI_HINT}`;
  return undefined;
}

/**
 * Why the running part (everything but `--mode validate`) of `example` does
 * not run: the local-process mode cannot start a plan whose sockets collide
 * (see src/compose/local-plan.ts), and a mesh with no Envoy sidecar has
 * nothing to run. The plan's sockets do not depend on where it is written,
 * so it is computed here once, without writing anything.
 */
export function runningSkip(backend: Backend, a: Availability = availability, real = REAL, example: string = EXAMPLE): string | undefined {
  const skip = suiteSkip(backend, a, real);
  if (skip || backend !== 'local' || !a.envoyBin) return skip;
  const name = `examples/${path.basename(example)}`;
  const plan = buildLocalPlan(example, { workDir: path.join(os.tmpdir(), 'hms-envoy-plan'), pkiDir: path.join(os.tmpdir(), 'hms-envoy-plan', 'pki'), basePort: 20000, envoyBin: a.envoyBin });
  if (!('conflicts' in plan)) return `the local plan of ${name} has errors: ${plan.diagnostics.map((d) => d.message).join('; ')}`;
  if (plan.nodes.length === 0) return `${name} has no Envoy sidecar to run: ${plan.notes.length} proxyless gRPC service(s) only`;
  if (plan.conflicts.length === 0) return undefined;
  return `${a.local} is usable, but ${name} cannot run as local processes on one host: ${describeConflicts(plan.conflicts)} (the plan gives each sidecar its own ports, see src/compose/local-plan.ts); run with Docker (one network namespace per node)`;
}

export function mesh(args: readonly string[], timeoutMs = 120_000): Promise<CmdResult> {
  return runCommand([process.execPath, MESH_BIN, ...args], { cwd: PACKAGE_ROOT, timeoutMs });
}

async function meshOk(args: readonly string[]): Promise<CmdResult> {
  const r = await mesh(args);
  if (r.code !== 0) throw new Error(`mesh ${args.join(' ')} exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return r;
}

export interface Setup {
  readonly workDir: string;
  readonly pkiDir: string;
  readonly runtime: MeshRuntime;
}

/** A CA, every service's certificate, the control plane's and an admin `ops` (for `mesh apply`). */
export async function issuePki(pkiDir: string, example: string): Promise<void> {
  await meshOk(['certs', 'init', '--mesh', example, '--dir', pkiDir]);
  await meshOk(['certs', 'issue', '--mesh', example, '--dir', pkiDir]);
  await meshOk(['certs', 'issue', '--mesh', example, '--dir', pkiDir, '--control-plane', '--admin', 'ops']);
}

export async function setUp(backend: Backend, a: Availability = availability, example: string = EXAMPLE): Promise<Setup> {
  if (backend === 'local' && !a.envoyBin) throw new Error(`real Envoy is required under CI=true, and there is none: ${a.local}`);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-envoy-real-'));
  const pkiDir = path.join(workDir, 'pki');
  await issuePki(pkiDir, example);
  if (backend === 'docker') {
    const composeDir = path.join(workDir, 'compose');
    // Rendered by the command users run; the plan (names, addresses, ports) by the same library call.
    await meshOk(['build', example, '--target', 'compose', '--out', composeDir]);
    const plan = renderComposition(example, { outDir: composeDir }).plan;
    if (!plan) throw new Error('the composition does not render');
    const runtime = new DockerRuntime({ composeDir, plan, repoDir: PACKAGE_ROOT, pkiDir, project: `hms-envoy-test-${process.pid}` });
    return { workDir, pkiDir, runtime };
  }
  const dry = buildLocalPlan(example, { workDir, pkiDir, basePort: 20000, envoyBin: a.envoyBin! });
  const basePort = await freeRange('portRange' in dry ? dry.portRange : localPorts.range(0));
  const plan = buildLocalPlan(example, { workDir, pkiDir, basePort, envoyBin: a.envoyBin! });
  if (!('conflicts' in plan)) throw new Error(`the local plan has errors: ${plan.diagnostics.map((d) => d.message).join('; ')}`);
  return { workDir, pkiDir, runtime: new LocalRuntime(plan as LocalPlan, workDir, pkiDir) };
}

export function adminClient(pkiDir: string, server: string): AdminClientOptions {
  const c = loadCredentials(pkiDir, admin('ops'));
  return { server, tls: { caPem: c.trustBundlePem, certPem: c.chainPem, keyPem: c.keyPem } };
}

export async function controlPlaneStatus(client: AdminClientOptions): Promise<StatusReport> {
  const r = await adminRequest<StatusReport>(client, 'GET', '/v1/status');
  if (r.status !== 200) throw new Error(`GET /v1/status: ${r.status}`);
  return r.body;
}

export async function eventually<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Up, every sidecar connected and in sync with the control plane (ACKed its current snapshot). */
export async function upInSync(setup: Setup): Promise<AdminClientOptions> {
  const rt = setup.runtime;
  await rt.up();
  const client = adminClient(setup.pkiDir, await rt.controlPlaneAdminUrl());
  let last: StatusReport | undefined;
  try {
    await eventually('every sidecar connected and ACKed', 120_000, async () => {
      const s = (last = await controlPlaneStatus(client));
      return rt.nodes.every((n) => s.nodes.some((x) => x.node === n.node && x.connected && x.inSync)) ? s : undefined;
    });
  } catch (err) {
    const logs = await Promise.all(rt.nodes.map(async (n) => `--- ${n.node}:\n${(await rt.sidecarLog(n.node)).slice(-1500)}`));
    throw new Error(`${(err as Error).message}; last status: ${JSON.stringify(last?.nodes.map((n) => ({ node: n.node, connected: n.connected, inSync: n.inSync, nacked: n.nacked, ...(n.nacked ? { nacks: Object.entries(n.types).filter(([, t]) => t?.lastNack).map(([k, t]) => `${k}: ${t!.lastNack!.message.slice(0, 300)}`) } : {}) })))}\n${logs.join('\n')}`);
  }
  return client;
}

/** `mesh apply --wait` of the runtime's mesh directory as the admin `ops`; throws unless every node ACKed. */
export async function applyAndWait(setup: Setup, timeout = '60s'): Promise<string> {
  const rt = setup.runtime;
  const r = await mesh(['apply', rt.meshDir, '--server', await rt.controlPlaneAdminUrl(), '--pki', setup.pkiDir, '--admin', 'ops', '--wait', '--timeout', timeout]);
  if (r.code !== 0) throw new Error(`mesh apply exited ${r.code}:\n${r.stdout}${r.stderr}`);
  const acked = /all (\d+) connected node\(s\) ACKed revision (\S+)/.exec(r.stdout);
  if (!acked) throw new Error(`mesh apply did not report every node ACKed:\n${r.stdout}`);
  return acked[2]!;
}

/**
 * Registers one instance of `instance.service` with the control plane, as the
 * SDK does, with that service's certificate from the setup's PKI store; started.
 */
export async function registerInstance(setup: Setup, trustDomain: string, instance: InstanceInfo, ttlMs = 60_000): Promise<Registration> {
  const svc = path.join(setup.pkiDir, 'svc', instance.service);
  const r = new Registration({
    adminUrl: await setup.runtime.controlPlaneAdminUrl(),
    trustDomain,
    files: { chain: path.join(svc, 'chain.pem'), key: path.join(svc, 'key.pem'), trustBundle: path.join(setup.pkiDir, 'trust-bundle.pem') },
    instance,
    ttlMs,
  });
  await r.start();
  return r;
}
