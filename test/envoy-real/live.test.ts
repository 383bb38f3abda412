/**
 * What the policy language promises, shown on a running mesh of real Envoy
 * sidecars (local processes, the project's pinned Envoy): identity checks at
 * both ends, the 90/10 split and its live change, the rate limit's rate,
 * a live apply with no error window and no restart, certificate rotation
 * without restart, and revoked access taking effect on open connections.
 *
 * One mesh (examples/ceq) for the whole file, tests in order. Every counter
 * is read as a delta around the action; every wait is on readiness (ACKs,
 * endpoints in /clusters), bounded in time.
 */
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import type { ProbeResult } from '../../src/compose/probe';
import { probe } from '../../src/compose/probe';
import { initCa, issueIdentities, loadCredentials, service } from '../../src/pki';
import { Registration } from '../../src/sdk/registration';
import { countBy, editPolicies, statSum } from './envoy-admin';
import { applyAndWait, eventually, mesh, runningSkip, setUp, upInSync, type Setup } from './harness';

const SKIP = runningSkip('local');
const PAYOUT = { method: 'POST', path: '/payout', json: { project: 'HWY-94', usd: 200_000 } } as const;
const TRUST_DOMAIN = 'ceq.gov';

describe('real Envoy (local): policies as the language states them, live', { concurrency: 1, skip: SKIP }, () => {
  let setup: Setup;
  const extra: Registration[] = [];

  before(async () => {
    setup = await setUp('local');
    await upInSync(setup);
    await eventually('impact-calc -> grant-pay answers 202', 60_000, async () => ((await call())[0]?.status === 202 ? true : undefined));
  }, { timeout: 300_000 });

  after(async () => {
    for (const r of extra) await r.stop().catch(() => undefined);
    await setup?.runtime.down();
    if (setup && process.env.HMS_ENVOY_KEEP !== '1') fs.rmSync(setup.workDir, { recursive: true, force: true });
  }, { timeout: 120_000 });

  const rt = () => setup.runtime;
  const node = (name: string) => rt().nodes.find((n) => n.node === name)!;
  const call = (count = 1, concurrency = 1): Promise<ProbeResult[]> => rt().outbound('impact-calc', { to: 'grant-pay', ...PAYOUT, count, concurrency });
  const stats = async (name: string, re: RegExp): Promise<number> => statSum(await rt().admin(name, '/stats'), re);
  const clusterRq = (version: string): Promise<number> => stats('impact-calc', new RegExp(`^cluster\\.outbound\\|grant-pay\\|${version}\\.upstream_rq_total$`));

  /** Registers one more grant-pay instance (with grant-pay's own certificate, as its SDK would). */
  const register = async (version: string, address: string, port: number): Promise<Registration> => {
    const pki = setup.pkiDir;
    const svc = path.join(pki, 'svc', 'grant-pay');
    const r = new Registration({
      adminUrl: await rt().controlPlaneAdminUrl(),
      trustDomain: TRUST_DOMAIN,
      files: { chain: path.join(svc, 'chain.pem'), key: path.join(svc, 'key.pem'), trustBundle: path.join(pki, 'trust-bundle.pem') },
      instance: { service: 'grant-pay', version, address, port },
      ttlMs: 30_000,
    });
    await r.start();
    extra.push(r);
    return r;
  };
  const hostsOf = async (cluster: string): Promise<string[]> =>
    [...(await rt().admin('impact-calc', '/clusters')).matchAll(new RegExp(`^${cluster.replace(/\|/g, '\\|')}::(\\d+\\.\\d+\\.\\d+\\.\\d+:\\d+)::cx_active`, 'gm'))].map((m) => m[1]!);
  const waitHosts = (cluster: string, want: (hosts: string[]) => boolean): Promise<string[]> =>
    eventually(`${cluster} has the expected endpoints`, 30_000, async () => {
      const h = await hostsOf(cluster);
      return want(h) ? h : undefined;
    });

  test('a client certificate from another CA, with a mesh identity in it, is refused at the TLS handshake', async (t) => {
    const rogue = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-rogue-ca-'));
    t.after(() => fs.rmSync(rogue, { recursive: true, force: true }));
    await initCa(rogue, { trustDomain: TRUST_DOMAIN });
    await issueIdentities(rogue, [service('impact-calc')], { trustDomain: TRUST_DOMAIN });
    const port = node('grant-pay').inboundPort;
    const failed = (): Promise<number> => stats('grant-pay', new RegExp(`^listener\\.[^:]*_${port}\\.ssl\\.(connection_error|fail_verify_error)$`));
    const before = await failed();
    const r = await probe({
      host: '127.0.0.1', port, ...PAYOUT,
      tls: { ca: path.join(setup.pkiDir, 'trust-bundle.pem'), cert: path.join(rogue, 'svc', 'impact-calc', 'chain.pem'), key: path.join(rogue, 'svc', 'impact-calc', 'key.pem'), servername: 'grant-pay' },
    });
    assert.equal(r.status, undefined, `another CA's certificate got an HTTP answer: ${JSON.stringify(r)}`);
    await eventually('grant-pay counts the refused handshake', 10_000, async () => ((await failed()) > before ? true : undefined));
    // Control: the mesh's own certificate for the same identity passes.
    assert.equal((await rt().inbound('grant-pay', { identity: 'impact-calc' }, PAYOUT)).status, 202);
  });

  test('an upstream that presents another service\'s certificate is refused by the calling sidecar; no request reaches it', async (t) => {
    // An impostor registered as grant-pay v2 (the split sends it 10%), serving public-docs' certificate.
    const creds = loadCredentials(setup.pkiDir, service('public-docs'));
    let requests = 0;
    const impostor = https.createServer({ cert: creds.chainPem, key: creds.keyPem, ca: creds.trustBundlePem, requestCert: true }, (_req, res) => {
      requests++;
      res.writeHead(202).end('{}');
    });
    await new Promise<void>((r) => impostor.listen(0, '127.0.0.3', () => r()));
    t.after(() => impostor.close());
    const port = (impostor.address() as { port: number }).port;
    const reg = await register('v2', '127.0.0.3', port);
    await waitHosts('outbound|grant-pay|v2', (h) => h.includes(`127.0.0.3:${port}`));
    const sanFailures = (): Promise<number> => stats('impact-calc', /^cluster\.outbound\|grant-pay\|v2\.ssl\.fail_verify_san$/);
    const before = await sanFailures();
    const seen: ProbeResult[] = [];
    await eventually('impact-calc\'s sidecar refuses the impostor\'s certificate', 60_000, async () => {
      seen.push(...(await call(10, 5)));
      return (await sanFailures()) > before ? true : undefined;
    });
    assert.equal(requests, 0, 'no request reached the impostor');
    assert.ok(seen.every((r) => r.status === 202 || r.status === 503), JSON.stringify([...countBy(seen)]));
    await reg.stop();
    extra.splice(extra.indexOf(reg), 1);
    await waitHosts('outbound|grant-pay|v2', (h) => !h.includes(`127.0.0.3:${port}`));
  });

  test('the 90/10 split holds through real Envoy, and a live apply turns it to 10/90', async () => {
    // v2: the same grant-pay sidecar reached on another loopback address (its inbound listener binds 0.0.0.0).
    await register('v2', '127.0.0.2', node('grant-pay').inboundPort);
    await waitHosts('outbound|grant-pay|v2', (h) => h.includes(`127.0.0.2:${node('grant-pay').inboundPort}`));
    const N = 400;
    const measure = async (): Promise<{ v1: number; v2: number }> => {
      const [a1, a2] = [await clusterRq('v1'), await clusterRq('v2')];
      const results = await call(N, 8);
      assert.equal(countBy(results).get(202), N, JSON.stringify([...countBy(results)]));
      return { v1: (await clusterRq('v1')) - a1, v2: (await clusterRq('v2')) - a2 };
    };
    // Binomial(400, 0.1): mean 40, sd 6; 4 sd either side.
    const first = await measure();
    assert.equal(first.v1 + first.v2, N);
    assert.ok(first.v2 >= 16 && first.v2 <= 64, `v2 got ${first.v2} of ${N} at 10%`);
    editPolicies(rt().meshDir, (doc) => {
      doc.setIn(['traffic', 'grant-pay', 'split', 'v1'], 10);
      doc.setIn(['traffic', 'grant-pay', 'split', 'v2'], 90);
    });
    await applyAndWait(setup);
    const second = await measure();
    assert.ok(second.v2 >= 336 && second.v2 <= 384, `v2 got ${second.v2} of ${N} at 90%`);
    console.log(`# split: 90/10 -> v2 ${first.v2}/${N}; 10/90 -> v2 ${second.v2}/${N}`);
  });

  test('rate_limits rps 50 under 200 rps of offered load: 50 accepted per second within 10%, the rest 429', async () => {
    editPolicies(rt().meshDir, (doc) => doc.setIn(['rate_limits', 'grant-pay', 'rps'], 50));
    await applyAndWait(setup);
    // Offered load: one request every 5 ms, for `ms`; each a new connection through impact-calc's sidecar.
    const offer = async (ms: number): Promise<Map<number | string, number>> => {
      const started = Date.now();
      const pending: Promise<ProbeResult>[] = [];
      for (let i = 0; Date.now() - started < ms && i < (ms / 5) * 1.2; i++) {
        const due = started + i * 5;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        pending.push(probe({ host: '127.0.0.1', port: node('impact-calc').outboundPort, authority: 'grant-pay', ...PAYOUT }));
      }
      return countBy(await Promise.all(pending));
    };
    // The first second spends the bucket's burst (default: rps); the rate is what follows.
    const warm = await offer(1000);
    const limited = (): Promise<number> => stats('grant-pay', /http_local_rate_limit\.rate_limited$/);
    const before = await limited();
    const measured = await offer(5000);
    const accepted = measured.get(202) ?? 0;
    const refused = measured.get(429) ?? 0;
    console.log(`# rate limit: warm-up ${JSON.stringify([...warm])}; 5 s at 200 rps: ${accepted} accepted (${accepted / 5}/s), ${refused} 429`);
    assert.ok(accepted >= 225 && accepted <= 275, `accepted ${accepted} in 5 s, want 250 +- 10%: ${JSON.stringify([...measured])}`);
    assert.equal(accepted + refused, [...measured.values()].reduce((a, b) => a + b, 0), `only 202 and 429: ${JSON.stringify([...measured])}`);
    assert.ok((await limited()) - before >= refused * 0.9, 'Envoy\'s local rate limiter counted the 429s');
    editPolicies(rt().meshDir, (doc) => doc.deleteIn(['rate_limits', 'grant-pay']));
    await applyAndWait(setup);
  });

  test('a live apply of one circuit breaker change: traffic keeps flowing with no error, nothing restarted', async () => {
    const serverInfo = async (name: string): Promise<{ pid: string; epoch: number }> => {
      const info = JSON.parse(await rt().admin(name, '/server_info')) as { command_line_options: { restart_epoch?: number } };
      return { pid: (await rt().processMarkers())[`${name}-sidecar`]!, epoch: info.command_line_options.restart_epoch ?? 0 };
    };
    const before = await Promise.all(rt().nodes.map((n) => serverInfo(n.node)));
    const cdsBefore = await stats('impact-calc', /^cluster_manager\.cds\.update_success$/);
    let stop = false;
    const results: ProbeResult[] = [];
    const load = (async () => {
      for (let i = 0; !stop && i < 5000; i++) results.push(...(await call(2, 2)));
    })();
    try {
      await eventually('load is flowing', 10_000, async () => (results.length >= 20 ? true : undefined));
      editPolicies(rt().meshDir, (doc) => doc.setIn(['circuit_breakers', 'grant-pay', 'max_failures'], 4));
      await applyAndWait(setup);
      await eventually('impact-calc took the new clusters', 10_000, async () => ((await stats('impact-calc', /^cluster_manager\.cds\.update_success$/)) > cdsBefore ? true : undefined));
      // The updated clusters get their endpoints at once (the control plane answers their EDS request), not after the 15 s fetch timeout.
      await eventually('no cluster left warming', 3_000, async () => ((await stats('impact-calc', /^cluster_manager\.warming_clusters$/)) === 0 ? true : undefined));
      // Keep the load going a while after the switch: the new clusters must have their endpoints.
      const mark = results.length;
      await eventually('200 more calls after the switch', 30_000, async () => (results.length >= mark + 200 ? true : undefined));
    } finally {
      stop = true;
      await load;
    }
    const codes = countBy(results);
    assert.deepEqual([...codes], [[202, results.length]], `every call during the apply succeeded: ${JSON.stringify([...codes])}`);
    assert.deepEqual(await Promise.all(rt().nodes.map((n) => serverInfo(n.node))), before, 'same pids, same hot-restart epoch');
  });

  test('mesh certs rotate: the sidecar presents the new serial on new connections, without restart; an expired certificate is refused', async () => {
    const serialOf = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const c = loadCredentials(setup.pkiDir, service('impact-calc'));
        const s = tls.connect({ host: '127.0.0.1', port: node('grant-pay').inboundPort, ca: c.trustBundlePem, cert: c.chainPem, key: c.keyPem, servername: 'grant-pay', checkServerIdentity: () => undefined, ALPNProtocols: ['http/1.1'] }, () => {
          const serial = s.getPeerCertificate().serialNumber;
          s.end();
          resolve(serial);
        });
        s.on('error', reject);
      });
    const markers = await rt().processMarkers();
    const old = await serialOf();
    const r = await mesh(['certs', 'rotate', '--mesh', rt().meshDir, '--dir', setup.pkiDir, '--threshold', '1000d']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const issued = new crypto.X509Certificate(fs.readFileSync(path.join(setup.pkiDir, 'svc', 'grant-pay', 'cert.pem'))).serialNumber;
    assert.notEqual(issued, old);
    const now = await eventually('grant-pay presents the rotated certificate', 30_000, async () => {
      const s = await serialOf();
      return s === issued ? s : undefined;
    });
    assert.equal(now.toUpperCase(), issued.toUpperCase());
    assert.deepEqual(await rt().processMarkers(), markers, 'nothing restarted');
    assert.equal((await call())[0]?.status, 202, 'calls still work with the new certificates');

    // An expired certificate of the mesh's own CA for an allowed caller.
    const expired = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-expired-'));
    try {
      fs.cpSync(setup.pkiDir, expired, { recursive: true });
      await issueIdentities(expired, [service('impact-calc')], { trustDomain: TRUST_DOMAIN, now: new Date(Date.now() - 3 * 60_000), validityMs: 60_000 }); // expired 2 min ago, within the CA's own validity (backdated 5 min)
      const res = await probe({ host: '127.0.0.1', port: node('grant-pay').inboundPort, ...PAYOUT, tls: { ca: path.join(setup.pkiDir, 'trust-bundle.pem'), cert: path.join(expired, 'svc', 'impact-calc', 'chain.pem'), key: path.join(expired, 'svc', 'impact-calc', 'key.pem'), servername: 'grant-pay' } });
      assert.equal(res.status, undefined, `an expired certificate got an HTTP answer: ${JSON.stringify(res)}`);
    } finally {
      fs.rmSync(expired, { recursive: true, force: true });
    }
  });

  test('revoking access takes effect on connections that are already open, within 2 seconds', async () => {
    // A keep-alive connection straight to grant-pay's inbound listener with impact-calc's certificate.
    const c = loadCredentials(setup.pkiDir, service('impact-calc'));
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: c.trustBundlePem, cert: c.chainPem, key: c.keyPem, servername: 'grant-pay' });
    const sockets = new Set<unknown>();
    const keepAliveCall = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port: node('grant-pay').inboundPort, method: 'POST', path: '/payout', agent, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('socket', (s) => sockets.add(s));
        req.on('error', reject);
        req.end(JSON.stringify(PAYOUT.json));
      });
    try {
      assert.equal(await keepAliveCall(), 202);
      // And impact-calc's own sidecar has its pooled connection to grant-pay open.
      assert.equal((await call())[0]?.status, 202);
      // Revoked: nobody may call grant-pay, and impact-calc no longer declares the call (lint requires both, MESH043).
      editPolicies(rt().meshDir, (doc) => doc.setIn(['access', 'grant-pay', 'allow'], []));
      const manifest = path.join(rt().meshDir, 'services', 'impact-calc.yml');
      fs.writeFileSync(manifest, fs.readFileSync(manifest, 'utf8').replace(/^  - grant-pay\n/m, ''));
      await applyAndWait(setup);
      const applied = Date.now();
      const outcome = await eventually('the open connection is refused', 5_000, async () => {
        const s = await keepAliveCall();
        return s === 403 ? Date.now() - applied : undefined;
      });
      assert.equal(sockets.size, 1, 'the same connection throughout');
      assert.ok(outcome <= 2000, `refused ${outcome} ms after the apply was ACKed`);
      // Through impact-calc's own sidecar the callee is gone from its routes: refused there, before any connection.
      assert.equal((await call())[0]?.status, 404);
    } finally {
      agent.destroy();
    }
  });
});
