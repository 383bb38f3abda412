/**
 * A running mesh with real Envoy sidecars, as the real-Envoy suite sees it:
 * Docker Compose (docker-run.ts) or local processes on loopback
 * (local-run.ts). The suite is written once against this interface, so both
 * run the same story with the same assertions.
 */
import { spawn } from 'node:child_process';
import type { ProbeResult } from './probe';

export interface CmdResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RuntimeNode {
  readonly node: string;
  readonly hasApp: boolean;
  readonly adminPort: number;
  readonly outboundPort: number;
  readonly inboundPort: number;
}

export interface OutboundRequest {
  /** The callee, by name (the Host header through the outbound listener). */
  readonly to: string;
  readonly method?: string;
  readonly path?: string;
  readonly json?: unknown;
  readonly count?: number;
  readonly concurrency?: number;
}

/** How a direct call to an inbound listener presents itself: with a mesh identity (mTLS) or in plaintext. */
export type InboundCaller = { readonly identity: string } | { readonly plaintext: true };

export interface MeshRuntime {
  readonly kind: 'docker' | 'local';
  readonly nodes: readonly RuntimeNode[];
  /** The mesh sources the control plane serves, on this host (edit them, then `mesh apply` them). */
  readonly meshDir: string;
  /** The PKI store on this host (admin identity `ops` for `mesh apply`). */
  readonly pkiDir: string;
  /** `envoy --mode validate` on a node's bootstrap, as the sidecar would load it. */
  validate(node: string): Promise<CmdResult>;
  up(): Promise<void>;
  /** https://127.0.0.1:<port> of the control plane's admin API, reachable from this host. */
  controlPlaneAdminUrl(): Promise<string>;
  /** Runs a node's example app once, to completion (the story's caller). */
  runApp(node: string, timeoutMs?: number): Promise<CmdResult>;
  /** Requests through `from`'s outbound listener, from inside its network namespace. */
  outbound(from: string, req: OutboundRequest): Promise<ProbeResult[]>;
  /** One request straight at `to`'s inbound listener, past every sidecar of a caller. */
  inbound(to: string, caller: InboundCaller, req?: { method?: string; path?: string; json?: unknown }): Promise<ProbeResult>;
  /** GET on a sidecar's Envoy admin interface, from inside its network namespace (it is not published). */
  admin(node: string, path: string): Promise<string>;
  /** What a sidecar printed so far (its access log is on stdout). */
  sidecarLog(node: string): Promise<string>;
  /** Stops a node's app at once (SIGKILL: it cannot deregister, as in a crash). */
  killApp(node: string): Promise<void>;
  /** One line per running process or container that changes if it is restarted. */
  processMarkers(): Promise<Record<string, string>>;
  down(): Promise<void>;
}

export function runCommand(argv: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CmdResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: opts.env ?? process.env, ...(opts.cwd ? { cwd: opts.cwd } : {}), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${opts.timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 120_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: `${stderr}${err.message}` });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** The last line of a probe's stdout that parses as JSON. */
export function lastJson<T>(text: string): T {
  const lines = text.trim().split('\n').reverse();
  for (const l of lines) {
    try {
      return JSON.parse(l) as T;
    } catch {
      /* not this one */
    }
  }
  throw new Error(`no JSON in probe output: ${text.slice(-500)}`);
}
