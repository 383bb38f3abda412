/**
 * A child process whose output is shown line by line behind a prefix
 * (`[grant-pay] `, `[grant-pay sidecar] `), as `mesh run` prints an app and
 * its sidecar in one terminal. Partial lines are held until their newline (bounded:
 * a line longer than MAX_LINE is cut), so two processes' lines never interleave mid-line.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const MAX_LINE = 16 * 1024;

export interface PrefixedProcess {
  readonly child: ChildProcess;
  /** Resolves with the exit code, or 128 + signal number when a signal ended it. */
  readonly exited: Promise<number>;
  /** The last lines it printed (bounded), for error messages. */
  tail(): string;
  running(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number>;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

export function startPrefixed(argv: readonly string[], prefix: string, env: NodeJS.ProcessEnv, onLine?: (line: string) => void, cwd?: string): PrefixedProcess {
  const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['inherit', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
  const lines: string[] = [];
  const pipe = (stream: NodeJS.ReadableStream, to: NodeJS.WritableStream): void => {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0 || pending.length > MAX_LINE) {
        const line = nl >= 0 ? pending.slice(0, nl) : pending.slice(0, MAX_LINE);
        pending = nl >= 0 ? pending.slice(nl + 1) : pending.slice(MAX_LINE);
        to.write(`${prefix}${line}\n`);
        onLine?.(line);
        lines.push(line);
        if (lines.length > 40) lines.shift();
      }
    });
    stream.on('end', () => {
      if (pending) to.write(`${prefix}${pending}\n`);
    });
  };
  pipe(child.stdout!, process.stdout);
  pipe(child.stderr!, process.stderr);
  const exited = new Promise<number>((resolve) => {
    child.once('error', (err) => {
      lines.push(err.message);
      resolve(127);
    });
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (SIGNALS[signal] ?? 1) : 1)));
  });
  const running = (): boolean => child.exitCode === null && child.signalCode === null && child.pid !== undefined;
  return {
    child,
    exited,
    tail: () => lines.slice(-8).join('\n'),
    running,
    async stop(graceMs = 3000) {
      if (running()) child.kill('SIGTERM');
      const timer = setTimeout(() => running() && child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
