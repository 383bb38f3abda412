/** Finding free loopback ports for the local-process mode (the real-Envoy tests and the lab). */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { isRunning } from '../util/process';

/** Above the mesh's default ports (15000-15006, 18000-18002) and the example apps', which tests also bind. */
const LOWEST = 20000;
/** Ranges are whole blocks, each reserved by one process at a time (see reserve). */
const BLOCK = 128;

/**
 * Where the kernel picks ports for outgoing connections and `listen(0)`
 * (Linux: net.ipv4.ip_local_port_range, 32768-60999 by default). A range
 * chosen inside it can be taken by any client socket between the check and
 * Envoy's bind (seen: a sidecar NACKing its listener under the full test
 * suite), so ranges are chosen below it.
 */
export function ephemeralStart(): number {
  try {
    const first = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > LOWEST + 1000) return first;
  } catch {
    // Not Linux: IANA's dynamic range starts at 49152.
  }
  return 49152;
}

/**
 * Two processes (test files run in parallel, or a lab beside them) could
 * both find the same range free before either binds it. Each takes a block by
 * creating a file named for it, exclusively, holding its pid; a block whose
 * holder is gone is taken over. The file stays until the process ends.
 */
function reserve(block: number): boolean {
  const dir = path.join(os.tmpdir(), 'hms-port-blocks');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, String(block));
  for (let i = 0; i < 2; i++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch {
      const holder = Number(fs.readFileSync(file, 'utf8'));
      if (holder === process.pid || isRunning(holder)) return false;
      fs.rmSync(file, { force: true });
    }
  }
  return false;
}

/**
 * A base port whose next `n` ports are all free on 127.0.0.1 right now:
 * below the ephemeral range, above the mesh's default ports, in blocks no
 * other process of this machine holds.
 */
export async function freeRange(n: number): Promise<number> {
  const blocksPer = Math.ceil(n / BLOCK);
  const first = Math.ceil(LOWEST / BLOCK);
  const last = Math.floor((ephemeralStart() - n) / BLOCK);
  for (let attempt = 0; attempt < 50; attempt++) {
    const block = first + Math.floor(Math.random() * Math.max(1, last - first + 1 - blocksPer));
    const blocks = Array.from({ length: blocksPer }, (_, i) => block + i);
    if (!blocks.every(reserve)) continue;
    const base = block * BLOCK;
    let free = true;
    for (let p = base; p < base + n && free; p++) free = await canBind(p);
    if (free) return base;
  }
  throw new Error(`no ${n} consecutive free ports found on 127.0.0.1`);
}

export function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
