/**
 * Bench: `mesh serve` start with a 2,000-service mesh (bench/gen-mesh.ts), as
 * a user runs it: a fresh `mesh serve <dir> --store <folder> --insecure`
 * process, from spawn to the first ADS response a client receives (one
 * stream, CDS for one node), and the process's RSS once it listens, before
 * any stream connects (VmRSS of /proc/<pid>/status).
 *   - cold: an empty store; the mesh directory is linted, compiled, applied
 *     and persisted (snapshot.bin beside applied.json);
 *   - restored: the same store again; the persisted snapshot is served;
 *   - compiled: snapshot.bin removed; the store's revision is compiled, as
 *     every start did before issue 20.
 * Target (issue 20 item 3): restored under 2 s to the first stream served,
 * RSS before streams under 250 MB.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { PACKAGE_ROOT } from '../src/paths';
import { SNAPSHOT_FILE } from '../src/store/snapshot-file';
import { TYPE_URL } from '../src/xds/type-urls';
import { generateMesh } from './gen-mesh';
import { report } from './measure';
import { ADS_METHOD, discoveryRequest, responseHeader } from './xds-wire';

const SERVICES = 2000;
/** A start that takes longer than this is a failure of the bench, not a figure. */
const START_BUDGET_MS = 180_000;

interface StartFigures {
  readonly firstStreamMs: number;
  readonly listeningMs: number;
  readonly rssMb: number;
  readonly restored: boolean;
}

function rssMbOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : -1;
}

/** One ADS stream: a CDS request for `node`; resolves with the first response's resource count. */
function firstResponse(port: number, node: string): Promise<number> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  const call = client.makeBidiStreamRequest(ADS_METHOD, (b: Buffer) => b, (b: Buffer) => b);
  return new Promise<number>((resolve, reject) => {
    call.on('data', (buf: Buffer) => {
      resolve(responseHeader(buf).resources);
      call.cancel();
      client.close();
    });
    call.on('error', (err: grpc.ServiceError) => {
      if (err.code !== grpc.status.CANCELLED) reject(err);
    });
    call.write(discoveryRequest({ nodeId: node, typeUrl: TYPE_URL.clusters }));
  });
}

async function startOnce(meshDir: string, store: string): Promise<StartFigures> {
  const t0 = Date.now();
  const child = spawn(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'mesh.js'), 'serve', meshDir, '--store', store, '--insecure', '--xds-port', '0', '--admin-port', '0', '--proxyless-port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mesh serve did not listen within ${START_BUDGET_MS} ms: ${stderr.slice(-2000)}`)), START_BUDGET_MS);
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString('utf8');
        const m = /xDS [^\s:]+:(\d+)/.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.once('exit', (code) => reject(new Error(`mesh serve exited (${code}): ${stderr.slice(-2000)}`)));
    });
    const listeningMs = Date.now() - t0;
    const rssMb = rssMbOf(child.pid!);
    const resources = await firstResponse(port, 'svc-00001');
    const firstStreamMs = Date.now() - t0;
    if (resources === 0) throw new Error('the first response carried no clusters');
    return { firstStreamMs, listeningMs, rssMb, restored: stderr.includes('"restored the persisted snapshot"') };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

export async function run(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-bench-start-'));
  try {
    const meshDir = path.join(root, 'mesh');
    generateMesh(meshDir, SERVICES);
    const store = path.join(root, 'store');
    const cold = await startOnce(meshDir, store);
    const warm = await startOnce(meshDir, store);
    fs.rmSync(path.join(store, SNAPSHOT_FILE));
    const compiled = await startOnce(meshDir, store);
    const figures = (f: StartFigures): Record<string, string | number> => ({ first_stream_ms: f.firstStreamMs, listening_ms: f.listeningMs, rss_before_streams_mb: f.rssMb, restored: f.restored ? 'yes' : 'no' });
    report(`start-${SERVICES}-cold`, { ...figures(cold), includes: 'node+lint+compile+validate+encode+persist' });
    report(`start-${SERVICES}-compiled`, { ...figures(compiled), includes: 'node+lint+compile+validate+encode (no snapshot)' });
    report(`start-${SERVICES}-restored`, {
      ...figures(warm),
      target_first_stream_ms: '< 2000',
      met_first_stream: warm.restored && warm.firstStreamMs < 2000 ? 'yes' : 'MISSED',
      target_rss_mb: '< 250',
      met_rss: warm.rssMb < 250 ? 'yes' : 'MISSED',
    });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

if (require.main === module) void run();
