/** A real HTTP receiver of mesh events for the webhook sink (events.test.ts, guardrail-events.test.ts). */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { MeshEvent } from '../../src/events/cloudevent';

export interface Receiver {
  port: number;
  /** Every POST body received, parsed, in arrival order (duplicates included). */
  readonly got: MeshEvent[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A plain HTTP receiver: 200 for every well-formed CloudEvent, the body kept. */
export function receiver(): Receiver {
  let server: http.Server | undefined;
  const r: Receiver = {
    port: 0,
    got: [],
    start: () =>
      new Promise<void>((resolve, reject) => {
        server = http.createServer((req, res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          req.on('data', (c: Buffer) => {
            size += c.length;
            if (size <= 1 << 20) chunks.push(c);
          });
          req.on('end', () => {
            try {
              assert.match(String(req.headers['content-type']), /^application\/cloudevents\+json/);
              r.got.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as MeshEvent);
              res.writeHead(200).end();
            } catch {
              res.writeHead(400).end();
            }
          });
        });
        server.once('error', reject);
        server.listen(r.port, '127.0.0.1', () => {
          r.port = (server!.address() as { port: number }).port;
          resolve();
        });
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
        server = undefined;
      }),
  };
  return r;
}
