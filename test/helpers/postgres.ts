/**
 * A real PostgreSQL server per test file: initdb into a temporary folder,
 * listening on a loopback port from free-ports.ts and on a unix socket inside
 * that folder, stopped and removed afterwards. Nothing assumes a database
 * that is already running. Binaries come from PATH or /usr/lib/postgresql/<v>/bin
 * (scripts/setup-test-env.js installs Debian's `postgresql` under CI when
 * neither has them). As root (CI containers), the server runs as the
 * `postgres` user: initdb refuses to run as root.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { freeRange } from '../../src/compose/free-ports';

const run = promisify(execFile);

/** The folder holding initdb and pg_ctl, or undefined. */
export function findPostgresBin(): string | undefined {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const lib = '/usr/lib/postgresql';
  if (fs.existsSync(lib)) {
    // Newest version first.
    for (const v of fs.readdirSync(lib).sort((a, b) => Number(b) - Number(a))) dirs.push(path.join(lib, v, 'bin'));
  }
  const dir = dirs.find((d) => fs.existsSync(path.join(d, 'initdb')) && fs.existsSync(path.join(d, 'pg_ctl')));
  // /usr/local/bin may hold links to a few of them only: the folder the link points into has them all.
  return dir ? path.dirname(fs.realpathSync(path.join(dir, 'initdb'))) : undefined;
}

/**
 * Why the PostgreSQL tests cannot run here, or undefined when they can. Under
 * CI=true a missing server is a failure, never a skip: this throws.
 */
export function postgresSkipReason(): string | undefined {
  if (findPostgresBin()) return undefined;
  const why = 'PostgreSQL binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin; install Debian\'s postgresql package (scripts/setup-test-env.js does under CI=true)';
  if (process.env.CI === 'true') throw new Error(`CI=true: ${why}`);
  return why;
}

export interface TestPostgres {
  /** postgres://mesh@127.0.0.1:<port>/mesh */
  readonly url: string;
  readonly port: number;
  /** Stops the server (fast shutdown: clients are disconnected), keeping its data. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  destroy(): Promise<void>;
}

function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const users = new Map(fs.readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')).map((f) => [f[0], { uid: Number(f[2]), gid: Number(f[3]) }] as const));
  const u = users.get('postgres') ?? users.get('nobody');
  if (!u) throw new Error('running as root and there is no postgres (or nobody) user to run PostgreSQL as');
  return u;
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = findPostgresBin();
  if (!bin) throw new Error(postgresSkipReason() ?? 'no PostgreSQL');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-pg-'));
  const data = path.join(root, 'data');
  const user = postgresUser();
  if (user) {
    fs.chmodSync(root, 0o700);
    fs.chownSync(root, user.uid, user.gid);
  }
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  const opts = { ...as, cwd: root, timeout: 60_000, env: { ...process.env, LC_ALL: 'C' } };
  await run(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'mesh', '--no-sync', '-E', 'UTF8'], opts);
  const port = await freeRange(1);
  // Loopback only; the socket lives in the temp folder, not /var/run/postgresql.
  const serverOpts = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const start = async (): Promise<void> => {
    await run(path.join(bin, 'pg_ctl'), ['start', '-w', '-t', '60', '-D', data, '-l', path.join(root, 'server.log'), '-o', serverOpts], opts);
  };
  const stop = async (): Promise<void> => {
    await run(path.join(bin, 'pg_ctl'), ['stop', '-w', '-t', '60', '-D', data, '-m', 'fast'], opts).catch(() => undefined);
  };
  await start();
  try {
    await run(path.join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'mesh', 'mesh'], opts);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: `postgres://mesh@127.0.0.1:${port}/mesh`,
    port,
    start,
    stop,
    async destroy() {
      await stop();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
