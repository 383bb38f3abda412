/**
 * The composition under `docker compose`: one project per run (its own
 * network and containers, removed by `down`), host paths and the user the
 * apps run as given through the file's variables. Everything that must
 * happen inside a network namespace (calls through an outbound listener,
 * the Envoy admin interface) runs in a one-off container of that node's app
 * service, which shares the sidecar's namespace; direct calls to an inbound
 * listener run in the `probe` service on the mesh network.
 */
import * as path from 'node:path';
import { appService, IN_CONTAINER, sidecarService, type CompositionPlan } from './compose';
import type { ProbeResult } from './probe';
import { lastJson, runCommand, type CmdResult, type InboundCaller, type MeshRuntime, type OutboundRequest, type RuntimeNode } from './runtime';

export interface DockerRuntimeOptions {
  /** The rendered composition's folder (docker-compose.yml, mesh/, out/). */
  readonly composeDir: string;
  readonly plan: CompositionPlan;
  /** Host paths for the file's HMS_REPO and HMS_PKI. */
  readonly repoDir: string;
  readonly pkiDir: string;
  /** Compose project name: unique per run, so parallel runs and leftovers never mix. */
  readonly project: string;
}

const PROBE = ['node', 'dist/src/compose/probe.js'];

export class DockerRuntime implements MeshRuntime {
  readonly kind = 'docker' as const;
  readonly nodes: readonly RuntimeNode[];
  readonly meshDir: string;
  readonly pkiDir: string;

  constructor(private readonly o: DockerRuntimeOptions) {
    this.nodes = o.plan.nodes.map((n) => ({ node: n.node, hasApp: !!n.app, adminPort: n.adminPort, outboundPort: n.outboundPort, inboundPort: n.inboundPort }));
    this.meshDir = path.join(o.composeDir, 'mesh');
    this.pkiDir = o.pkiDir;
  }

  /** `docker compose` for this project; fails loudly unless `allowFailure`. */
  async compose(args: readonly string[], timeoutMs = 120_000, allowFailure = false): Promise<CmdResult> {
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    const env = { ...process.env, HMS_REPO: this.o.repoDir, HMS_PKI: this.o.pkiDir, HMS_UID: String(uid), HMS_GID: String(gid) };
    const r = await runCommand(['docker', 'compose', '-p', this.o.project, '-f', path.join(this.o.composeDir, this.o.plan.composeFile), ...args], { env, timeoutMs });
    if (r.code !== 0 && !allowFailure) throw new Error(`docker compose ${args.join(' ')} exited ${r.code}:\n${(r.stderr + r.stdout).trim().slice(-2000)}`);
    return r;
  }

  private node(name: string): CompositionPlan['nodes'][number] {
    const n = this.o.plan.nodes.find((x) => x.node === name);
    if (!n) throw new Error(`no sidecar for ${name} in the composition`);
    return n;
  }

  /** A one-off container in `node`'s network namespace (its app service, another command). */
  private inNamespace(node: string, argv: readonly string[], timeoutMs?: number): Promise<CmdResult> {
    if (!this.node(node).app) throw new Error(`${node} has no app service to share its sidecar's namespace`);
    return this.compose(['run', '--rm', '--no-deps', '-T', appService(node), ...argv], timeoutMs);
  }

  validate(node: string): Promise<CmdResult> {
    // The sidecar service itself (same image, same mounts), Envoy in validate mode instead of serving.
    return this.compose(['run', '--rm', '--no-deps', '-T', sidecarService(this.node(node).node), 'envoy', '--mode', 'validate', '-c', IN_CONTAINER.bootstrap], 180_000, true);
  }

  async up(): Promise<void> {
    await this.compose(['up', '-d'], 600_000);
  }

  async controlPlaneAdminUrl(): Promise<string> {
    const cp = this.o.plan.controlPlane;
    const r = await this.compose(['port', cp.service, String(cp.adminPort)]);
    const hostPort = /:(\d+)\s*$/.exec(r.stdout.trim())?.[1];
    if (!hostPort) throw new Error(`cannot read the published admin port of ${cp.service}: ${r.stdout}`);
    return `https://127.0.0.1:${hostPort}`;
  }

  runApp(node: string, timeoutMs = 60_000): Promise<CmdResult> {
    return this.compose(['run', '--rm', '--no-deps', '-T', appService(this.node(node).node)], timeoutMs, true);
  }

  async outbound(from: string, req: OutboundRequest): Promise<ProbeResult[]> {
    const n = this.node(from);
    const r = await this.inNamespace(from, [...PROBE, 'http', '--host', '127.0.0.1', '--port', String(n.outboundPort), ...requestFlags(req), '--authority', req.to, '--count', String(req.count ?? 1), '--concurrency', String(req.concurrency ?? 1)]);
    return probeResults(r);
  }

  async inbound(to: string, caller: InboundCaller, req: { method?: string; path?: string; json?: unknown } = {}): Promise<ProbeResult> {
    const n = this.node(to);
    const target = ['--host', n.address, '--port', String(n.inboundPort), ...requestFlags(req)];
    const pki = IN_CONTAINER.pki;
    const args =
      'identity' in caller
        ? ['-v', `${path.join(this.o.pkiDir, 'svc', caller.identity)}:${pki}/svc/${caller.identity}:ro`, this.o.plan.probe, ...PROBE, 'mtls', ...target,
            '--ca', `${pki}/trust-bundle.pem`, '--cert', `${pki}/svc/${caller.identity}/chain.pem`, '--key', `${pki}/svc/${caller.identity}/key.pem`, '--servername', to]
        : [this.o.plan.probe, ...PROBE, 'http', ...target];
    const r = await this.compose(['run', '--rm', '-T', ...args]);
    return probeResults(r)[0]!;
  }

  async admin(node: string, adminPath: string): Promise<string> {
    const r = await this.inNamespace(node, [...PROBE, 'admin', '--port', String(this.node(node).adminPort), '--path', adminPath]);
    const out = lastJson<{ body?: string; error?: string }>(r.stdout);
    if (out.error !== undefined) throw new Error(out.error);
    return out.body ?? '';
  }

  async sidecarLog(node: string): Promise<string> {
    return (await this.compose(['logs', '--no-color', '--no-log-prefix', sidecarService(this.node(node).node)])).stdout;
  }

  async killApp(node: string): Promise<void> {
    await this.compose(['kill', '-s', 'SIGKILL', appService(this.node(node).node)]);
  }

  async processMarkers(): Promise<Record<string, string>> {
    const ids = (await this.compose(['ps', '-q'])).stdout.split('\n').filter((l) => l.trim() !== '');
    if (ids.length === 0) return {};
    const r = await runCommand(['docker', 'inspect', '--format', '{{.Name}} {{.Id}} {{.State.StartedAt}} restarts={{.RestartCount}}', ...ids]);
    return Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.split(' ')[0]!, l]));
  }

  async down(): Promise<void> {
    await this.compose(['down', '-v', '--remove-orphans', '-t', '5'], 180_000, true);
  }
}

function requestFlags(req: { method?: string; path?: string; json?: unknown }): string[] {
  return [...(req.method ? ['--method', req.method] : []), ...(req.path ? ['--path', req.path] : []), ...(req.json !== undefined ? ['--json', JSON.stringify(req.json)] : [])];
}

function probeResults(r: CmdResult): ProbeResult[] {
  const out = lastJson<{ results?: ProbeResult[]; error?: string }>(r.stdout);
  if (!out.results) throw new Error(`probe failed: ${out.error ?? r.stderr.slice(-500)}`);
  return out.results;
}
