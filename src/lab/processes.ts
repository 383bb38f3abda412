/**
 * The lab's child processes: started with piped output, watched line by line,
 * and all stopped at the end whatever happens (normal end, error, Ctrl-C, or
 * the lab exiting): SIGCONT (a stopped process cannot act on anything else),
 * SIGTERM (the SDK deregisters and closes), SIGKILL after a grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as readline from 'node:readline';

export interface Line {
  readonly name: string;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
  readonly at: number;
}

type Waiter = { match: (l: Line) => boolean; resolve: (l: Line) => void };

export class LabProcess {
  readonly lines: Line[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly listeners = new Set<(l: Line) => void>();
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    logFile: string,
  ) {
    const log = fs.createWriteStream(logFile, { flags: 'a' });
    for (const stream of ['stdout', 'stderr'] as const) {
      const rl = readline.createInterface({ input: child[stream]! });
      rl.on('line', (text) => {
        log.write(`${stream === 'stderr' ? '! ' : ''}${text}\n`);
        const line: Line = { name, stream, text, at: Date.now() };
        this.lines.push(line);
        for (const l of this.listeners) l(line);
        for (const w of [...this.waiters]) {
          if (w.match(line)) {
            this.waiters.delete(w);
            w.resolve(line);
          }
        }
      });
    }
    this.exited = new Promise((resolve) => child.once('exit', (code) => {
      log.end();
      resolve(code);
    }));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The first line (already seen or coming) that matches, within `timeoutMs`. */
  waitFor(match: RegExp | ((l: Line) => boolean), timeoutMs: number, what: string): Promise<Line> {
    const test = typeof match === 'function' ? match : (l: Line) => match.test(l.text);
    const seen = this.lines.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        match: test,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(w);
      void this.exited.then((code) => {
        if (!this.waiters.has(w)) return;
        this.waiters.delete(w);
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (code ${code}) before ${what}; last output:\n${this.tail(8)}`));
      });
    });
  }

  onLine(fn: (l: Line) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  tail(n: number): string {
    return this.lines.slice(-n).map((l) => `    ${l.text}`).join('\n');
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }

  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) return;
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export class ProcessGroup {
  private readonly procs: LabProcess[] = [];
  private readonly infrastructure = new Set<LabProcess>();

  constructor(private readonly logDir: string) {
    // Last resort when the lab itself exits some other way: no orphans.
    process.once('exit', () => {
      for (const p of this.procs) if (p.running) p.child.kill('SIGKILL');
    });
  }

  /** `infrastructure` processes (the control plane) are stopped after the others, so those can deregister. */
  start(name: string, args: readonly string[], env: NodeJS.ProcessEnv, opts: { cwd?: string; infrastructure?: boolean } = {}): LabProcess {
    const child = spawn(process.execPath, args, { cwd: opts.cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const p = new LabProcess(name, child, `${this.logDir}/${name.replace(/[^A-Za-z0-9_.-]+/g, '-')}.log`);
    this.procs.push(p);
    if (opts.infrastructure) this.infrastructure.add(p);
    return p;
  }

  /** Stops every process still running: the apps at once, then the infrastructure. */
  async stopAll(): Promise<void> {
    await Promise.all(this.procs.filter((p) => !this.infrastructure.has(p)).map((p) => p.stop()));
    await Promise.all([...this.infrastructure].map((p) => p.stop()));
  }

  get pids(): number[] {
    return this.procs.map((p) => p.pid);
  }
}
