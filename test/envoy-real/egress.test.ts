/**
 * Calls to an external system through the sidecar, against real Envoy: a
 * local HTTPS server with its own CA stands in for the clearinghouse.
 * grant-pay (which declares the call and is allowed) reaches it over TLS its
 * sidecar originates and verifies; a declared system whose certificate does
 * not carry the declared name is refused at the handshake; a host the mesh
 * does not declare, and impact-calc (which declares no such call), are
 * refused by the sidecar with `x-mesh-error: no-route`.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCommand } from '../../src/compose/runtime';
import { editPolicies } from './envoy-admin';
import { eventually, runningSkip, setUp, upInSync, type Setup } from './harness';

const MESH = path.join(__dirname, '..', '..', '..', 'test', 'envoy-real', 'fixtures', 'egress');

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await runCommand(['openssl', ...args], { cwd, timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A CA and a server certificate for clearinghouse.example.gov (DNS SAN) signed by it. */
async function standInPki(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  fs.mkdirSync(dir, { recursive: true });
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=clearinghouse test CA'], dir);
  await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=clearinghouse.example.gov'], dir);
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:clearinghouse.example.gov\n');
  await openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf'], dir);
  return { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key') };
}

describe('real Envoy (local): calls to external systems', { concurrency: 1, skip: runningSkip('local') }, () => {
  let setup: Setup;
  let server: https.Server;
  const seen: { host?: string; sni?: string }[] = [];

  before(async () => {
    setup = await setUp('local', undefined, MESH);
    const pki = await standInPki(path.join(setup.workDir, 'clearinghouse'));
    server = https.createServer({ cert: fs.readFileSync(pki.cert), key: fs.readFileSync(pki.key) }, (req, res) => {
      seen.push({ host: req.headers.host, sni: (req.socket as unknown as { servername?: string }).servername });
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('cleared'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    // Envoy reads ca_file itself; the local runtime does not start it from the mesh directory, so it is absolute here.
    editPolicies(setup.runtime.meshDir, (doc) => {
      for (const name of ['clearinghouse', 'rogue']) {
        doc.setIn(['externals', name, 'port'], port);
        doc.setIn(['externals', name, 'tls', 'ca_file'], pki.ca);
      }
    });
    await upInSync(setup);
  }, { timeout: 300_000 });

  after(async () => {
    await setup?.runtime.down();
    server?.close();
    if (setup && process.env.HMS_ENVOY_KEEP !== '1') fs.rmSync(setup.workDir, { recursive: true, force: true });
  }, { timeout: 120_000 });

  const node = (name: string) => setup.runtime.nodes.find((n) => n.node === name)!;
  const call = (from: string, host: string): Promise<{ status: number; meshError?: string; body: string }> =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: node(from).outboundPort, path: '/clear', method: 'POST', agent: false, headers: { host } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ...(typeof res.headers['x-mesh-error'] === 'string' ? { meshError: res.headers['x-mesh-error'] } : {}) }));
      });
      req.on('error', reject);
      req.end('{"usd": 1}');
    });

  test('grant-pay reaches the declared external system over TLS its sidecar originates and verifies (SNI and Host are the real name)', { timeout: 60_000 }, async () => {
    const r = await eventually('grant-pay -> clearinghouse answers 200', 30_000, async () => {
      const a = await call('grant-pay', 'clearinghouse');
      return a.status === 200 ? a : undefined;
    });
    assert.equal(r.body, 'cleared');
    assert.deepEqual(seen.at(-1), { host: 'clearinghouse.example.gov', sni: 'clearinghouse.example.gov' });
    const byHost = await call('grant-pay', 'clearinghouse.example.gov');
    assert.equal(byHost.status, 200, 'the real host name is a declared domain too');
  });

  test('a declared system whose certificate does not carry the declared name is refused at the handshake', { timeout: 30_000 }, async () => {
    const before = seen.length;
    const r = await call('grant-pay', 'rogue');
    assert.equal(r.status, 503, JSON.stringify(r));
    assert.equal(seen.length, before, 'no request reached the server');
  });

  test('an undeclared host, and impact-calc (no such call declared), are refused by the sidecar: 404 x-mesh-error no-route', { timeout: 30_000 }, async () => {
    const before = seen.length;
    for (const [from, host] of [['grant-pay', 'evil.example.com'], ['grant-pay', '127.0.0.1'], ['impact-calc', 'clearinghouse'], ['impact-calc', 'clearinghouse.example.gov']] as const) {
      const r = await call(from, host);
      assert.equal(r.status, 404, `${from} -> ${host}: ${JSON.stringify(r)}`);
      assert.equal(r.meshError, 'no-route', `${from} -> ${host}`);
    }
    assert.equal(seen.length, before, 'nothing reached the external server');
  });
});
