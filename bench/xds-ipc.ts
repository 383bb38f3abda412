/**
 * The xDS bench runs its server, clients and floor as child processes, each
 * pinned to a core, driven by request/reply messages over the IPC channel.
 * A child exits when its parent goes away (the channel disconnects), so no
 * process outlives the bench even if the parent is killed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as inspector from 'node:inspector';
import * as os from 'node:os';
import * as path from 'node:path';

/** Whether `taskset` can pin to cores 0 and 1 here (util-linux, two cores, allowed by the cpuset). */
export function detectPinning(): { readonly pinned: boolean; readonly why: string } {
  if (os.availableParallelism() < 2) return { pinned: false, why: `only ${os.availableParallelism()} core(s)` };
  const r = spawnSync('taskset', ['-c', '0,1', 'true'], { stdio: 'ignore' });
  if (r.error) return { pinned: false, why: 'no taskset (util-linux) on PATH' };
  if (r.status !== 0) return { pinned: false, why: 'taskset cannot pin to cores 0 and 1 here' };
  return { pinned: true, why: '' };
}

interface RpcRequest {
  readonly id: number;
  readonly cmd: string;
  readonly args: unknown;
}

interface RpcReply {
  readonly id: number;
  readonly result?: unknown;
  readonly error?: string;
}

export class ChildRpc {
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private nextId = 0;
  private exit?: string;
  readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
  ) {
    proc.on('message', (m: RpcReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.error !== undefined) p.reject(new Error(`${name}: ${m.error}`));
      else p.resolve(m.result);
    });
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(new Error(`${name} ${this.exit}`));
        }
        this.pending.clear();
        resolve();
      });
    });
    proc.on('error', () => undefined); // 'exit' follows and rejects what is pending
  }

  /** Starts `node <nodeArgs> <script>`, under `taskset -c <core>` when a core is given. */
  static start(name: string, script: string, core: number | undefined, nodeArgs: readonly string[] = []): ChildRpc {
    const argv = [process.execPath, ...nodeArgs, script];
    const [cmd, ...args] = core !== undefined ? ['taskset', '-c', String(core), ...argv] : argv;
    // taskset execs node in place, so the pid we hold is node's and kill() reaches it.
    const proc = spawn(cmd!, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new ChildRpc(name, proc);
  }

  call<T>(cmd: string, args: unknown = {}, timeoutMs = 60_000): Promise<T> {
    if (this.exit) return Promise.reject(new Error(`${this.name} ${this.exit}`));
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${cmd} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.proc.send({ id, cmd, args } satisfies RpcRequest);
    });
  }

  /** Asks the child to stop cleanly; kills it if it does not exit in time. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.exit) return;
    await this.call('stop', {}, timeoutMs).catch(() => undefined);
    const killed = await Promise.race([this.exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 3000).unref())]);
    if (killed) this.kill();
  }

  /** Kills this child (our own pid only). */
  kill(): void {
    if (!this.exit && this.proc.pid !== undefined) this.proc.kill('SIGKILL');
  }
}

export type Handlers = Record<string, (args: never) => unknown>;

/** The child side: answers each request with its handler's result; `stop` answers, then exits. */
export function serveRpc(handlers: Handlers): void {
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: RpcRequest) => {
    void (async () => {
      let reply: RpcReply;
      try {
        const h = handlers[m.cmd];
        if (!h) throw new Error(`unknown command ${m.cmd}`);
        reply = { id: m.id, result: (await h(m.args as never)) ?? null };
      } catch (err) {
        reply = { id: m.id, error: (err as Error).stack ?? String(err) };
      }
      process.send!(reply, undefined, undefined, () => {
        if (m.cmd === 'stop') process.exit(0);
      });
    })();
  });
}

/**
 * With HMS_BENCH_PROFILE=<dir>, profiles a window of a child's work (e.g. only
 * the policy push, not the apply before it) into <dir>/<name>.cpuprofile, for
 * Chrome DevTools; undefined (no profiling) otherwise. Synchronous, so no
 * pending callback runs before the profiler is on.
 */
export function startProfile(): ((name: string) => void) | undefined {
  const dir = process.env['HMS_BENCH_PROFILE'];
  if (!dir) return undefined;
  const session = new inspector.Session();
  session.connect();
  // A session in the same thread answers synchronously.
  const post = (method: string, params: object = {}): unknown => {
    let out: unknown;
    session.post(method, params, (err, res) => {
      if (err) throw err;
      out = res;
    });
    return out;
  };
  post('Profiler.enable');
  post('Profiler.setSamplingInterval', { interval: 200 });
  post('Profiler.start');
  return (name) => {
    const { profile } = post('Profiler.stop') as { profile: unknown };
    session.disconnect();
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
  };
}
