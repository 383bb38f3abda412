/**
 * A local HTTPS server with its own CA, standing in for an external system
 * (egress.test.ts, guardrail.test.ts), and a plain HTTP request through a
 * sidecar's outbound listener.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { after, before } from 'node:test';
import forge from 'node-forge';
import { nativeRsaKeyGen } from '../../src/pki';
import { randomSerialHex } from '../../src/pki/x509';
import { editPolicies } from './envoy-admin';
import { setUp, upInSync, type Setup } from './harness';

/** A self-signed CA (`ca`) or a server certificate for `dns` signed by `issuer`, with node-forge as src/pki does: no openssl binary. */
function forgeCert(subjectCn: string, keys: forge.pki.rsa.KeyPair, issuer: { cert?: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey }, dns?: string): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = new Date(Date.now() - 5 * 60_000);
  cert.validity.notAfter = new Date(Date.now() + 2 * 24 * 3_600_000);
  cert.setSubject([{ name: 'commonName', value: subjectCn }]);
  cert.setIssuer(issuer.cert ? issuer.cert.subject.attributes : [{ name: 'commonName', value: subjectCn }]);
  cert.setExtensions(dns
    ? [{ name: 'basicConstraints', cA: false, critical: true }, { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true }, { name: 'subjectAltName', altNames: [{ type: 2, value: dns }] }]
    : [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true }, { name: 'subjectKeyIdentifier' }]);
  cert.sign(issuer.key, forge.md.sha256.create());
  return cert;
}

/** A CA and a server certificate for clearinghouse.example.gov (DNS SAN) signed by it. */
export async function standInPki(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  fs.mkdirSync(dir, { recursive: true });
  const pair = async (): Promise<forge.pki.rsa.KeyPair> => {
    const pem = await nativeRsaKeyGen();
    return { privateKey: forge.pki.privateKeyFromPem(pem.privateKeyPem), publicKey: forge.pki.publicKeyFromPem(pem.publicKeyPem) };
  };
  const caKeys = await pair();
  const ca = forgeCert('clearinghouse test CA', caKeys, { key: caKeys.privateKey });
  const serverKeys = await pair();
  const server = forgeCert('clearinghouse.example.gov', serverKeys, { cert: ca, key: caKeys.privateKey }, 'clearinghouse.example.gov');
  const files = { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key') };
  fs.writeFileSync(files.ca, forge.pki.certificateToPem(ca));
  fs.writeFileSync(files.cert, forge.pki.certificateToPem(server));
  fs.writeFileSync(files.key, forge.pki.privateKeyToPem(serverKeys.privateKey), { mode: 0o600 });
  return files;
}

export interface Seen { host?: string; sni?: string; bytes: number }

/** The stand-in on 127.0.0.1 (an ephemeral port): answers 200 "cleared" and records what reached it. */
export async function startStandIn(pki: { cert: string; key: string }, seen: Seen[]): Promise<{ server: https.Server; port: number }> {
  const server = https.createServer({ cert: fs.readFileSync(pki.cert), key: fs.readFileSync(pki.key) }, (req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      seen.push({ host: req.headers.host, sni: (req.socket as unknown as { servername?: string }).servername, bytes });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('cleared');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as { port: number }).port };
}

export interface Answer { status: number; meshError?: string; guardrail?: string; body: string }

/** POST `body` through the outbound listener on `port` with Host `host` (chunked when `chunked`), to `path` (default /clear). */
export function outboundPost(port: number, host: string, body: string, opts: { headers?: Record<string, string>; chunked?: boolean; path?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { host, ...opts.headers, ...(opts.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': Buffer.byteLength(body) }) };
    const req = http.request({ host: '127.0.0.1', port, path: opts.path ?? '/clear', method: 'POST', agent: false, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        const h = (k: string): string | undefined => (typeof res.headers[k] === 'string' ? (res.headers[k] as string) : undefined);
        resolve({ status: res.statusCode ?? 0, body: text, ...(h('x-mesh-error') ? { meshError: h('x-mesh-error') } : {}), ...(h('x-mesh-guardrail') ? { guardrail: h('x-mesh-guardrail') } : {}) });
      });
    });
    req.setTimeout(20_000, () => req.destroy(new Error('no answer within 20 s')));
    req.on('error', reject);
    if (opts.chunked) {
      req.write(body.slice(0, Math.ceil(body.length / 2)));
      req.end(body.slice(Math.ceil(body.length / 2)));
    } else req.end(body);
  });
}

/**
 * Inside a describe: brings up the local mesh `meshDir` with the stand-in
 * server as each of `externals` (their port and ca_file rewritten: Envoy reads
 * ca_file itself, and the local runtime does not start it from the mesh
 * directory, so it is absolute here), and tears both down after. What reached
 * the server is appended to `seen`; the returned function gives the setup.
 */
export function standInSuite(meshDir: string, externals: readonly string[], seen: Seen[]): () => Setup {
  let setup: Setup | undefined;
  let server: https.Server | undefined;
  before(async () => {
    setup = await setUp('local', undefined, meshDir);
    const pki = await standInPki(path.join(setup.workDir, 'clearinghouse'));
    let port: number;
    ({ server, port } = await startStandIn(pki, seen));
    editPolicies(setup.runtime.meshDir, (doc) => {
      for (const name of externals) {
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
  return () => setup!;
}
