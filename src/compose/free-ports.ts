/** Finding free loopback ports for the local-process mode (the real-Envoy tests and the lab). */
import * as fs from 'node:fs';
import * as net from 'node:net';

const LOWEST = 10000;

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

/** A base port whose next `n` ports are all free on 127.0.0.1 right now, below the ephemeral range (small race until bound: accepted). */
export async function freeRange(n: number): Promise<number> {
  const top = ephemeralStart() - n;
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = LOWEST + Math.floor(Math.random() * Math.max(1, top - LOWEST));
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
