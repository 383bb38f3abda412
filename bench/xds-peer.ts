/**
 * The peer of the xDS bench: go-control-plane's snapshot cache and SotW ADS
 * server (bench/peer/main.go, a Go module with its own go.sum), built here with
 * the machine's Go toolchain and driven over its stdin/stdout, one JSON line
 * per request and reply. It serves the DiscoveryResponses our control plane
 * pushed (as the bench's clients captured them), so both servers send the same
 * resources to the same client harness, pinned to the same core.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { PACKAGE_ROOT } from '../src/paths';

const SOURCE = path.join(PACKAGE_ROOT, 'bench', 'peer');

/** Builds the peer into `outDir`; the reason when the machine cannot (no Go, no module proxy). */
export function buildPeer(outDir: string): { binary: string } | { why: string } {
  const binary = path.join(outDir, 'xds-peer');
  const r = spawnSync('go', ['build', '-mod=readonly', '-o', binary, '.'], { cwd: SOURCE, encoding: 'utf8', timeout: 600_000 });
  if (r.error) return { why: `go build: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no Go toolchain on PATH' : r.error.message}` };
  if (r.status !== 0) return { why: `go build exited ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` };
  return { binary };
}

export class PeerRpc {
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private nextId = 0;
  private exit?: string;
  readonly exited: Promise<void>;

  private constructor(private readonly proc: ChildProcess) {
    readline.createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as { id: number; result?: unknown; error?: string };
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.error) p.reject(new Error(`xds-peer: ${m.error}`));
      else p.resolve(m.result ?? null);
    });
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(new Error(`xds-peer ${this.exit}`));
        }
        this.pending.clear();
        resolve();
      });
    });
    proc.on('error', () => undefined);
  }

  /** Starts the peer binary, under `taskset -c <core>` when a core is given. Its stdin is its lifeline. */
  static start(binary: string, core: number | undefined): PeerRpc {
    const [cmd, ...args] = core !== undefined ? ['taskset', '-c', String(core), binary] : [binary];
    return new PeerRpc(spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'inherit'] }));
  }

  call<T>(cmd: string, args: unknown = {}, timeoutMs = 60_000): Promise<T> {
    if (this.exit) return Promise.reject(new Error(`xds-peer ${this.exit}`));
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`xds-peer: ${cmd} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.proc.stdin!.write(`${JSON.stringify({ id, cmd, args })}\n`);
    });
  }

  async stop(): Promise<void> {
    if (this.exit) return;
    await this.call('stop', {}, 10_000).catch(() => undefined);
    this.proc.stdin!.end();
    const killed = await Promise.race([this.exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 3000).unref())]);
    if (killed) this.kill();
  }

  kill(): void {
    if (!this.exit && this.proc.pid !== undefined) this.proc.kill('SIGKILL');
  }
}

/** Whether the peer's sources are in this checkout (they are not in a published package). */
export const peerPresent = (): boolean => fs.existsSync(path.join(SOURCE, 'go.mod'));
