/**
 * The local-process mode: the control plane, one Envoy (ENVOY_BIN) per node
 * and the example apps as child processes on loopback, from a LocalPlan
 * (local-plan.ts). Everything it starts is stopped by `down` (SIGTERM, then
 * SIGKILL after a grace period), and killed when this process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeConflicts, type LocalPlan } from './local-plan';
import { adminGet, probe, probeMany, type ProbeResult } from './probe';
import { runCommand, type CmdResult, type InboundCaller, type MeshRuntime, type OutboundRequest, type RuntimeNode } from './runtime';

const START_TIMEOUT_MS = 30_000;

export class Proc {
  output = '';
  readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.stdout!.on('data', (c: Buffer) => (this.output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (this.output += c.toString()));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export class LocalRuntime implements MeshRuntime {
  readonly kind = 'local' as const;
  readonly nodes: readonly RuntimeNode[];
  readonly meshDir: string;
  private readonly procs = new Map<string, Proc>();
  private readonly onExit = (): void => {
    for (const p of this.procs.values()) if (p.running) p.child.kill('SIGKILL');
  };

  constructor(
    private readonly plan: LocalPlan,
    readonly workDir: string,
    readonly pkiDir: string,
  ) {
    this.nodes = plan.nodes.map((n) => ({ node: n.node, hasApp: !!n.app, adminPort: n.adminPort, outboundPort: n.outboundPort, inboundPort: n.inboundPort }));
    this.meshDir = plan.meshDir;
    for (const [rel, text] of plan.tree) {
      const file = path.join(workDir, rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
    }
  }

  private node(name: string): LocalPlan['nodes'][number] {
    const n = this.plan.nodes.find((x) => x.node === name);
    if (!n) throw new Error(`no sidecar for ${name} in the plan`);
    return n;
  }

  private start(name: string, argv: readonly string[], env: Readonly<Record<string, string>> = {}): Proc {
    if (this.procs.size === 0) process.once('exit', this.onExit);
    const p = new Proc(name, spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
    this.procs.set(name, p);
    return p;
  }

  validate(node: string): Promise<CmdResult> {
    return runCommand(this.node(node).validate, { timeoutMs: 60_000 });
  }

  async up(): Promise<void> {
    if (this.plan.conflicts.length > 0) throw new Error(`the local plan binds the same sockets twice: ${describeConflicts(this.plan.conflicts)}`);
    const cp = this.start('control-plane', this.plan.controlPlane.argv);
    await waitUntil(() => /^mesh serve:/m.test(cp.output), START_TIMEOUT_MS, () => `the control plane did not start:\n${cp.output.slice(-2000)}`, cp);
    for (const n of this.plan.nodes) this.start(`${n.node}-sidecar`, n.envoy);
    for (const n of this.plan.nodes) {
      const p = this.procs.get(`${n.node}-sidecar`)!;
      await waitUntil(async () => (await probe({ host: '127.0.0.1', port: n.adminPort, path: '/ready' })).status === 200, START_TIMEOUT_MS, () => `${n.node}'s Envoy is not ready:\n${p.output.slice(-2000)}`, p);
    }
    for (const n of this.plan.nodes) if (n.app) this.start(`${n.node}-app`, n.app.argv, n.app.env);
  }

  async controlPlaneAdminUrl(): Promise<string> {
    return `https://127.0.0.1:${this.plan.controlPlane.adminPort}`;
  }

  async runApp(node: string, timeoutMs = 60_000): Promise<CmdResult> {
    const app = this.node(node).app;
    if (!app) throw new Error(`${node} has no example app`);
    return runCommand(app.argv, { env: { ...process.env, ...app.env }, timeoutMs });
  }

  outbound(from: string, req: OutboundRequest): Promise<ProbeResult[]> {
    const n = this.node(from);
    return probeMany({ host: '127.0.0.1', port: n.outboundPort, authority: req.to, method: req.method ?? 'GET', path: req.path ?? '/', ...(req.json !== undefined ? { json: req.json } : {}) }, req.count ?? 1, req.concurrency ?? 1);
  }

  inbound(to: string, caller: InboundCaller, req: { method?: string; path?: string; json?: unknown } = {}): Promise<ProbeResult> {
    const n = this.node(to);
    const base = { host: '127.0.0.1', port: n.inboundPort, method: req.method ?? 'GET', path: req.path ?? '/', ...(req.json !== undefined ? { json: req.json } : {}) };
    if ('plaintext' in caller) return probe(base);
    const svc = path.join(this.pkiDir, 'svc', caller.identity);
    return probe({ ...base, tls: { ca: path.join(this.pkiDir, 'trust-bundle.pem'), cert: path.join(svc, 'chain.pem'), key: path.join(svc, 'key.pem'), servername: to } });
  }

  admin(node: string, adminPath: string): Promise<string> {
    return adminGet(this.node(node).adminPort, adminPath);
  }

  async sidecarLog(node: string): Promise<string> {
    return this.procs.get(`${node}-sidecar`)?.output ?? '';
  }

  /** Starts a node's app again after killApp (same command and environment as `up`). */
  startApp(node: string): void {
    const n = this.node(node);
    if (!n.app) throw new Error(`${node} has no example app`);
    if (this.procs.get(`${node}-app`)?.running) throw new Error(`${node}'s app is running`);
    this.start(`${node}-app`, n.app.argv, n.app.env);
  }

  /** What a node's app printed so far. */
  appLog(node: string): string {
    return this.procs.get(`${node}-app`)?.output ?? '';
  }

  async killApp(node: string): Promise<void> {
    const p = this.procs.get(`${node}-app`);
    if (!p?.running) throw new Error(`${node}'s app is not running`);
    p.child.kill('SIGKILL');
    await p.exited;
  }

  async processMarkers(): Promise<Record<string, string>> {
    return Object.fromEntries([...this.procs].filter(([, p]) => p.running).map(([name, p]) => [name, `${name} pid ${p.child.pid}`]));
  }

  async down(): Promise<void> {
    // Apps first (they deregister), the control plane last.
    const order = [...this.procs.values()].sort((a, b) => rank(a.name) - rank(b.name));
    for (const p of order) await p.stop();
    process.removeListener('exit', this.onExit);
  }
}

function rank(name: string): number {
  return name.endsWith('-app') ? 0 : name.endsWith('-sidecar') ? 1 : 2;
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, why: () => string, proc: Proc): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (!proc.running) throw new Error(`${proc.name} exited: ${why()}`);
    if (Date.now() > deadline) throw new Error(why());
    await new Promise((r) => setTimeout(r, 200));
  }
}
