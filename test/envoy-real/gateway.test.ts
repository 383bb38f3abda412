/**
 * The ingress gateway against real Envoy (test/envoy-real/fixtures/gateway):
 * the local mesh (control plane, public-docs' and impact-calc's sidecars)
 * plus the gateway's own Envoy, started from the bootstrap `mesh build`
 * writes for it, exactly as docs/gateways.md says to run it. A stand-in app
 * behind public-docs' sidecar answers with the caller identity its sidecar
 * saw (x-forwarded-client-cert, set from the mTLS peer certificate after
 * RBAC let it in).
 *
 * - A citizen's HTTPS GET with SNI and Host docs.ceq.gov, verifying the
 *   gateway's certificate against the mesh CA for that name, gets 200 from
 *   public-docs, which saw spiffe://gateway.test/svc/citizen-gw.
 * - An unknown server name is refused during the TLS handshake (no filter
 *   chain serves it, so no certificate is presented); a known server name
 *   with an unknown Host gets 404 (no route).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { freeRange } from '../../src/compose/free-ports';
import { editPolicies } from './envoy-admin';
import { adminClient, availability, controlPlaneStatus, eventually, mesh, runningSkip, setUp, upInSync, type Setup } from './harness';

const MESH = path.join(__dirname, '..', '..', '..', 'test', 'envoy-real', 'fixtures', 'gateway');
const HOST = 'docs.ceq.gov';
const GATEWAY_ID = 'spiffe://gateway.test/svc/citizen-gw';

interface Answer { status: number; body: string; meshError?: string }

describe('real Envoy (local): the ingress gateway', { concurrency: 1, skip: runningSkip('local', availability, undefined, MESH) }, () => {
  let setup: Setup | undefined;
  let app: http.Server | undefined;
  let envoy: ChildProcess | undefined;
  let envoyLog = '';
  let port = 0;
  let ca = '';

  before(async () => {
    setup = await setUp('local', undefined, MESH);
    const meshDir = setup.runtime.meshDir;
    const base = await freeRange(2);
    port = base;
    editPolicies(meshDir, (doc) => {
      doc.setIn(['gateways', 'citizen-gw', 'listeners', 0, 'port'], base);
      doc.setIn(['gateways', 'citizen-gw', 'listeners', 0, 'address'], '127.0.0.1');
      doc.setIn(['gateways', 'citizen-gw', 'admin_port'], base + 1);
    });
    // public-docs' app: answers with the caller identity its sidecar forwarded.
    const appPort = (parseYaml(fs.readFileSync(path.join(meshDir, 'services', 'public-docs.yml'), 'utf8')) as { port: number }).port;
    app = http.createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`docs for ${String(req.headers['x-forwarded-client-cert'] ?? 'nobody')}`));
    await new Promise<void>((r) => app!.listen(appPort, '127.0.0.1', () => r()));
    await upInSync(setup);
    // The gateway's node, as docs/gateways.md runs it: `mesh build <mesh> --out <mesh>/out`, then
    // `mesh run citizen-gw` (Envoy on its compiled bootstrap, no app; it returns once /ready is 200).
    const built = await mesh(['build', meshDir, '--out', path.join(meshDir, 'out')]);
    assert.equal(built.code, 0, built.stdout + built.stderr);
    envoy = spawn(process.execPath, [path.join(__dirname, '..', '..', '..', 'bin', 'mesh.js'), 'run', 'citizen-gw', '--mesh', meshDir, '--ready-timeout', '120000'], {
      cwd: setup.workDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ENVOY_BIN: availability.envoyBin! },
    });
    envoy.stdout!.on('data', (c: Buffer) => (envoyLog = (envoyLog + c.toString()).slice(-20_000)));
    envoy.stderr!.on('data', (c: Buffer) => (envoyLog = (envoyLog + c.toString()).slice(-20_000)));
    const client = adminClient(setup.pkiDir, await setup.runtime.controlPlaneAdminUrl());
    try {
      await eventually('the gateway connected and ACKed', 120_000, async () => {
        const s = await controlPlaneStatus(client);
        return s.nodes.some((n) => n.node === 'citizen-gw' && n.connected && n.inSync) ? s : undefined;
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- gateway Envoy:\n${envoyLog.slice(-3000)}`);
    }
    ca = fs.readFileSync(path.join(setup.pkiDir, 'trust-bundle.pem'), 'utf8');
  }, { timeout: 300_000 });

  after(async () => {
    if (envoy && envoy.exitCode === null) {
      const exited = new Promise((r) => envoy!.once('exit', r));
      envoy.kill('SIGTERM');
      const timer = setTimeout(() => envoy!.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    await setup?.runtime.down();
    app?.close();
    if (setup && process.env.HMS_ENVOY_KEEP !== '1') fs.rmSync(setup.workDir, { recursive: true, force: true });
  }, { timeout: 120_000 });

  /** A citizen's HTTPS GET: TLS server name `sni`, Host `host`, the gateway's certificate verified for `sni` against the mesh CA. */
  function citizenGet(sni: string, host: string, urlPath = '/docs/annual-report.pdf'): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, path: urlPath, method: 'GET', servername: sni, ca, agent: false, headers: { host } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ...(typeof res.headers['x-mesh-error'] === 'string' ? { meshError: res.headers['x-mesh-error'] } : {}) }));
      });
      req.setTimeout(20_000, () => req.destroy(new Error('no answer within 20 s')));
      req.on('error', reject);
      req.end();
    });
  }

  test('a citizen\'s HTTPS GET for docs.ceq.gov (SNI and Host, the certificate verified for that name) reaches public-docs: 200, over mTLS as the gateway', { timeout: 90_000 }, async () => {
    const r = await eventually('GET https://docs.ceq.gov/ through the gateway answers 200', 60_000, async () => {
      const a = await citizenGet(HOST, HOST);
      return a.status === 200 ? a : undefined;
    }).catch((err: Error) => { throw new Error(`${err.message}\n--- gateway Envoy:\n${envoyLog.slice(-3000)}`); });
    // The callee's sidecar authenticated the gateway's certificate and RBAC let it in: the app sees its identity.
    assert.match(r.body, new RegExp(`^docs for .*URI=${GATEWAY_ID.replace(/[./]/g, '\\$&')}`), r.body);
    const withPort = await citizenGet(HOST, `${HOST}:${port}`);
    assert.equal(withPort.status, 200, 'Host with the port selects the same virtual host');
  });

  test('an unknown server name is refused in the TLS handshake; a known one with an unknown Host gets 404', { timeout: 60_000 }, async () => {
    await assert.rejects(citizenGet('evil.example.com', 'evil.example.com'), (err: NodeJS.ErrnoException) => {
      // No filter chain matches: Envoy closes the connection before any certificate is sent.
      assert.match(`${err.code} ${err.message}`, /ECONNRESET|socket hang up|disconnected before secure TLS connection/i);
      return true;
    });
    const unknownHost = await citizenGet(HOST, 'intranet.ceq.gov');
    assert.equal(unknownHost.status, 404, JSON.stringify(unknownHost));
    assert.doesNotMatch(unknownHost.body, /docs for/, 'nothing reached public-docs');
  });

  test('mesh run citizen-gw said where the gateway listens; SIGTERM stops its Envoy and mesh run exits 0', { timeout: 60_000 }, async () => {
    assert.match(envoyLog, /mesh run: gateway citizen-gw is ready \(Envoy admin 127\.0\.0\.1:\d+\), listening on 127\.0\.0\.1:\d+ \(docs\.ceq\.gov\)/);
    const exited = new Promise<number | null>((r) => envoy!.once('exit', (code) => r(code)));
    envoy!.kill('SIGTERM');
    assert.equal(await exited, 0, envoyLog.slice(-2000));
    await assert.rejects(citizenGet(HOST, HOST), 'nothing listens on the gateway port any more');
  });
});
