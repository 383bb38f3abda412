/**
 * End-to-end harness: a real control plane in-process on loopback (port 0),
 * a PKI, and proxyless members made of the real @grpc/grpc-js-xds: XdsServer
 * with XdsServerCredentials, channels to xds:///<service> with
 * XdsChannelCredentials, each with its own node bootstrap (the per-channel
 * bootstrap option), so one test process can hold every member of a mesh.
 * Nothing here speaks xDS itself.
 *
 * Everything a test starts is registered with its TestMesh and stopped by
 * `mesh.stop()`, which tests call from `t.after` (it runs on failure too).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { parseDocument } from 'yaml';
import { compileMesh } from '../../src/envoy/compile';
import { lintMesh } from '../../src/lint';
import { EXAMPLES_DIR } from '../../src/paths';
import { controlPlane, admin, initCa, issueIdentities, service as serviceId } from '../../src/pki';
import { grpcXds, unaryHandler, type HandlerContext } from '../../src/sdk/grpc';
import { Registration } from '../../src/sdk/registration';
import { readMeshSources, type ApplyResult } from '../../src/xds/control-plane';
import { silentLogger } from '../../src/xds/log';
import { startControlPlane, type RunningControlPlane } from '../../src/xds/serve';
import { GrantPay, type PayoutReply, type PayoutRequest } from '../../examples/ceq/apps/grpc/api';

export const TRUST_DOMAIN = 'e2e.test';
const BOOTSTRAP_OPTION = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';

/** Loads grpc-js-xds with GRPC_XDS_EXPERIMENTAL_RBAC=true and the xds: resolver registered. */
export const xds = grpcXds();

// The lab's own helper: one definition of "a port nobody listens on".
import { freePort } from '../../src/lab/workdir';
export { freePort };

export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

export interface MeshSpec {
  /** name -> manifest YAML (without `name:`). */
  readonly services: Readonly<Record<string, string>>;
  readonly policies: string;
  /** More mesh.yml keys (e.g. `ports:`), as YAML. */
  readonly meshYml?: string;
}

export interface Answer {
  readonly code: string;
  /** `<version>@<port>` of the instance that answered. */
  readonly by?: string;
  readonly details?: string;
}

export class TestMesh {
  private readonly closers: Array<() => Promise<void> | void> = [];
  private readonly boots = new Map<string, string>();

  constructor(
    readonly dir: string,
    readonly running: RunningControlPlane,
  ) {}

  get pkiDir(): string {
    return path.join(this.dir, 'pki');
  }

  get trustDomain(): string {
    return this.cp.trustDomain!;
  }

  get cp(): RunningControlPlane['cp'] {
    return this.running.cp;
  }

  get adminUrl(): string {
    return `https://127.0.0.1:${this.running.ports.admin}`;
  }

  /** The node's gRPC bootstrap as the compiler renders it (server_uri = the bound proxyless port, PKI paths absolute). */
  bootstrap(node: string): string {
    let text = this.boots.get(node);
    if (!text) {
      const model = lintMesh(this.dir).model!;
      const out = compileMesh(model, { pkiDir: this.pkiDir }).nodes.find((n) => n.id === node);
      if (!out?.bootstrap) throw new Error(`no bootstrap for ${node}`);
      text = out.bootstrap.text;
      this.boots.set(node, text);
    }
    return text;
  }

  write(rel: string, text: string): void {
    fs.writeFileSync(path.join(this.dir, rel), text);
  }

  /** Applies the folder's current sources, as `mesh apply` would send them. */
  apply(): ApplyResult {
    const r = this.cp.apply(readMeshSources(this.dir), this.dir);
    if (!r.ok) throw new Error(`apply refused: ${r.diagnostics.map((d) => `${d.code} ${d.message}`).join('; ')}`);
    return r;
  }

  /** Waits until every connected node ACKed the current snapshot. */
  async settled(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lagging = this.cp.statusReport().nodes.filter((n) => n.connected && !n.inSync);
      if (lagging.length === 0) return;
      if (Date.now() > deadline) throw new Error(`not in sync: ${lagging.map((n) => n.node).join(', ')}`);
      await sleep(50);
    }
  }

  track(fn: () => Promise<void> | void): void {
    this.closers.push(fn);
  }

  async stop(): Promise<void> {
    for (const fn of this.closers.reverse()) {
      try {
        await fn();
      } catch {
        /* stop the rest anyway */
      }
    }
    // No grace: a graceful GOAWAY to an in-process grpc-js xDS client leaves the
    // socket pair open until the client's 5-minute keepalive (both ends live here).
    await this.running.xds.stop(0);
    await this.running.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Writes the mesh, issues its PKI (CA, every service, the control plane, admin
 * `ops`), starts the control plane on free ports and writes those ports into
 * mesh.yml (so `mesh build` and `mesh apply` in a test use them).
 */
export async function startMesh(spec: MeshSpec): Promise<TestMesh> {
  return startMeshIn((dir) => {
    fs.mkdirSync(path.join(dir, 'services'));
    fs.writeFileSync(path.join(dir, 'mesh.yml'), `name: e2e\ntrust_domain: ${TRUST_DOMAIN}\n${spec.meshYml ?? ''}`);
    fs.writeFileSync(path.join(dir, 'mesh_policies.yml'), spec.policies);
    for (const [name, body] of Object.entries(spec.services)) fs.writeFileSync(path.join(dir, 'services', `${name}.yml`), `name: ${name}\n${body}`);
  });
}

/** The same, on a copy of one of examples/ (its own trust domain and services). */
export async function startExampleMesh(example: string): Promise<TestMesh> {
  return startMeshIn((dir) => fs.cpSync(path.join(EXAMPLES_DIR, example), dir, { recursive: true }));
}

async function startMeshIn(populate: (dir: string) => void): Promise<TestMesh> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-e2e-'));
  try {
    populate(dir);
    const model = lintMesh(dir).model;
    if (!model) throw new Error(`the test mesh does not lint: ${dir}`);
    const trustDomain = model.settings.trustDomain;
    const pkiDir = path.join(dir, 'pki');
    await initCa(pkiDir, { trustDomain });
    // Ingress gateways are nodes too (mesh certs issue issues them): serve refuses a node without its certificate.
    const nodes = [...model.services.map((s) => s.name), ...(model.gateways ?? []).map((g) => g.name)];
    await issueIdentities(pkiDir, [...nodes.map((n) => serviceId(n)), controlPlane, admin('ops')], { trustDomain });
    const running = await startControlPlane({ meshDir: dir, pkiDir, host: '127.0.0.1', xdsPort: 0, adminPort: 0, proxylessPort: 0, log: silentLogger });
    // The bound ports, where `mesh build`, `mesh apply` and the SDK look for them.
    const meshFile = path.join(dir, 'mesh.yml');
    const doc = parseDocument(fs.readFileSync(meshFile, 'utf8'));
    doc.setIn(['control_plane', 'address'], '127.0.0.1');
    doc.setIn(['control_plane', 'xds_port'], running.ports.xds);
    doc.setIn(['control_plane', 'admin_port'], running.ports.admin);
    doc.setIn(['control_plane', 'grpc_xds_port'], running.ports.proxyless!);
    fs.writeFileSync(meshFile, doc.toString());
    return new TestMesh(dir, running);
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export type Handler = (req: PayoutRequest, ctx: HandlerContext) => PayoutReply | Promise<PayoutReply>;

/** One instance of a proxyless service: an XdsServer of the GrantPay API, registered through the admin API with its own certificate. */
export class Member {
  hits = 0;
  handler: Handler;
  readonly callers: string[] = [];

  constructor(
    readonly service: string,
    readonly version: string,
    readonly port: number,
    readonly server: grpc.Server,
    readonly registration?: Registration,
  ) {
    this.handler = () => ({ ok: true, version: this.id });
  }

  /** `<version>@<port>`: what the default handler answers, so a client sees who served it. */
  get id(): string {
    return `${this.version}@${this.port}`;
  }

  async stop(): Promise<void> {
    await this.registration?.stop(true);
    this.server.forceShutdown();
  }
}

export interface MemberOptions {
  readonly service: string;
  readonly version: string;
  /** Default: a free port. */
  readonly port?: number;
  /** Register in the registry (default true), with this TTL (default 15 s). */
  readonly register?: boolean;
  readonly ttlMs?: number;
}

export async function startMember(mesh: TestMesh, o: MemberOptions): Promise<Member> {
  const port = o.port ?? (await freePort());
  const server = new xds.XdsServer({ [BOOTSTRAP_OPTION]: mesh.bootstrap(o.service) } as grpc.ServerOptions);
  let registration: Registration | undefined;
  if (o.register !== false) {
    registration = new Registration({
      adminUrl: mesh.adminUrl,
      trustDomain: mesh.trustDomain,
      files: { chain: path.join(mesh.pkiDir, 'svc', o.service, 'chain.pem'), key: path.join(mesh.pkiDir, 'svc', o.service, 'key.pem'), trustBundle: path.join(mesh.pkiDir, 'trust-bundle.pem') },
      instance: { service: o.service, version: o.version, address: '127.0.0.1', port },
      ttlMs: o.ttlMs ?? 15_000,
    });
  }
  const member = new Member(o.service, o.version, port, server, registration);
  mesh.track(() => member.stop());
  server.addService(GrantPay.service, {
    Payout: unaryHandler<PayoutRequest, PayoutReply>((req, ctx) => {
      member.hits++;
      if (ctx.caller) member.callers.push(ctx.caller);
      return member.handler(req, ctx);
    }),
  });
  const serving = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${o.service} ${o.version} not serving on ${port} after 15 s`)), 15_000);
    server.bindAsync(`0.0.0.0:${port}`, new xds.XdsServerCredentials(grpc.ServerCredentials.createInsecure()), (err) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    });
  });
  await registration?.start();
  await serving;
  return member;
}

/** A proxyless client of `target` with the node identity of `node`: what impact-calc's process holds. */
export class MeshClient {
  readonly stub: grpc.Client;

  constructor(
    readonly node: string,
    readonly target: string,
    bootstrap: string,
  ) {
    this.stub = new GrantPay(`xds:///${target}`, new xds.XdsChannelCredentials(grpc.credentials.createInsecure()), { [BOOTSTRAP_OPTION]: bootstrap });
  }

  call(project = 'HWY-94', timeoutMs = 5000): Promise<Answer> {
    return new Promise((resolve) => {
      const payout = (this.stub as unknown as { Payout: (r: PayoutRequest, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: PayoutReply) => void) => void }).Payout;
      payout.call(this.stub, { project, usd: 200_000 }, { deadline: Date.now() + timeoutMs }, (err, res) =>
        resolve(err ? { code: grpc.status[err.code]!, details: err.details } : { code: 'OK', by: res!.version }),
      );
    });
  }

  /** `n` calls, at most `concurrency` in flight. */
  async calls(n: number, concurrency = 10, project = 'HWY-94'): Promise<Answer[]> {
    const out: Answer[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        next++;
        out.push(await this.call(project));
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
    return out;
  }

  close(): void {
    this.stub.close();
  }
}

export function meshClient(mesh: TestMesh, node: string, target: string, bootstrap = mesh.bootstrap(node)): MeshClient {
  const c = new MeshClient(node, target, bootstrap);
  mesh.track(() => c.close());
  return c;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 50 ms until it returns true; throws `what` after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(50);
  }
}

/** Counts answers by who served them (`OK` answers) or by status code. */
export function tally(answers: readonly Answer[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const a of answers) {
    const k = a.code === 'OK' ? a.by! : a.code;
    t[k] = (t[k] ?? 0) + 1;
  }
  return t;
}
