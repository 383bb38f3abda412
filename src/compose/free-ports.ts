/** Finding free loopback ports for the local-process mode (the real-Envoy tests and the lab). */
import * as net from 'node:net';

/** A base port whose next `n` ports are all free on 127.0.0.1 right now (small race until bound: accepted). */
export async function freeRange(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
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
