// grant-pay, HTTP flavour: a plain HTTP app on 127.0.0.1 behind its Envoy sidecar. HMS-ACH is a log line.
import * as http from 'node:http';
import { mesh } from '../../../../src';

async function main(): Promise<void> {
  const version = process.env.VERSION ?? 'v2';
  const me = await mesh.init({ service: 'grant-pay', version }); // registers its sidecar; deregisters on exit
  const app = http.createServer(
    mesh.http(async (req, res) => {
      if (req.method !== 'POST' || req.url !== '/payout') return void res.writeHead(404).end();
      let body = '';
      for await (const chunk of req) body += chunk;
      const { project, usd } = JSON.parse(body) as { project: string; usd: number };
      console.log(`[ACH] paying $${usd} for ${project} (caller ${mesh.context()?.caller}, trace ${mesh.trace()})`);
      res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, version }));
    }),
  );
  app.listen(me.port, '127.0.0.1'); // the sidecar handles TLS and auth
  me.onClose(() => new Promise<void>((resolve) => app.close(() => resolve())));
}

void main();
