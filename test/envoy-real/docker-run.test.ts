/**
 * What the Docker runtime asks `docker compose` to do, checked against a
 * stand-in `docker` on PATH that records its arguments and environment and
 * answers like Compose would. It proves the command lines (project, file,
 * services, one-off containers in the right namespace, read-only identity
 * mounts, the variables of the file); it does not prove Docker runs them:
 * that is `npm run test:envoy` on a machine with Docker.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { renderComposition } from '../../src/compose/compose';
import { DockerRuntime } from '../../src/compose/docker-run';
import { EXAMPLES_DIR, PACKAGE_ROOT } from '../../src/paths';

const FAKE_DOCKER = `#!/bin/sh
printf '%s\\n' "ARGS $*" "ENV HMS_REPO=$HMS_REPO HMS_PKI=$HMS_PKI HMS_UID=$HMS_UID" >> "$FAKE_DOCKER_LOG"
case "$*" in
  *" port control-plane 18001") echo "127.0.0.1:49321" ;;
  *"probe.js http"*|*"probe.js mtls"*) echo 'Creating one-off container' >&2; echo '{"results":[{"status":202,"headers":{"x-trace":"t1"},"ms":3}]}' ;;
  *"probe.js admin"*) echo '{"body":"cluster.outbound|grant-pay|v1.upstream_rq_5xx: 4"}' ;;
  *" ps -q") echo "c1"; echo "c2" ;;
  "inspect "*) echo "/hms-cp c1 2025-01-01T00:00:00Z restarts=0"; echo "/hms-gp c2 2025-01-01T00:00:01Z restarts=0" ;;
esac
exit 0
`;

test('the Docker runtime drives `docker compose` for one project, in the right namespaces, with the file\'s variables', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-docker-run-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, 'docker'), FAKE_DOCKER, { mode: 0o755 });
  const log = path.join(dir, 'docker.log');
  const saved = { PATH: process.env.PATH, FAKE_DOCKER_LOG: process.env.FAKE_DOCKER_LOG };
  process.env.PATH = `${bin}${path.delimiter}${process.env.PATH}`;
  process.env.FAKE_DOCKER_LOG = log;
  t.after(() => {
    process.env.PATH = saved.PATH;
    if (saved.FAKE_DOCKER_LOG === undefined) delete process.env.FAKE_DOCKER_LOG;
    else process.env.FAKE_DOCKER_LOG = saved.FAKE_DOCKER_LOG;
  });

  const composeDir = path.join(dir, 'compose');
  const plan = renderComposition(path.join(EXAMPLES_DIR, 'ceq'), { outDir: composeDir }).plan!;
  const rt = new DockerRuntime({ composeDir, plan, repoDir: PACKAGE_ROOT, pkiDir: path.join(dir, 'pki'), project: 'hms-envoy-test-1' });
  const head = `ARGS compose -p hms-envoy-test-1 -f ${path.join(composeDir, 'docker-compose.yml')}`;
  const gpAddress = plan.network.addresses.get('grant-pay')!;

  assert.equal((await rt.validate('grant-pay')).code, 0);
  await rt.up();
  assert.equal(await rt.controlPlaneAdminUrl(), 'https://127.0.0.1:49321');
  const [res] = await rt.outbound('impact-calc', { to: 'grant-pay', method: 'POST', path: '/payout', json: { usd: 1 } });
  assert.equal(res!.status, 202);
  await rt.inbound('grant-pay', { identity: 'public-docs' }, { method: 'POST', path: '/payout' });
  await rt.inbound('grant-pay', { plaintext: true });
  assert.match(await rt.admin('impact-calc', '/stats'), /upstream_rq_5xx: 4/);
  await rt.sidecarLog('grant-pay');
  await rt.killApp('grant-pay');
  assert.deepEqual(Object.keys(await rt.processMarkers()), ['/hms-cp', '/hms-gp']);
  await rt.down();
  await assert.rejects(rt.admin('public-docs', '/stats'), /no app service/, 'public-docs has no app to share its namespace');

  const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
  // ARGS and ENV lines come in pairs, one pair per call.
  const pairs = lines.flatMap((l, i) => (l.startsWith('ARGS compose') ? [{ args: l, env: lines[i + 1]! }] : []));
  assert.ok(pairs.every((p) => p.args.startsWith(head)), 'every call names the project and the file');
  assert.ok(pairs.every((p) => p.env === `ENV HMS_REPO=${PACKAGE_ROOT} HMS_PKI=${path.join(dir, 'pki')} HMS_UID=${process.getuid?.() ?? 0}`), 'and gives the file its variables');
  const calls = pairs.map((p) => p.args.slice(head.length + 1));
  assert.deepEqual(calls, [
    'run --rm --no-deps -T grant-pay-sidecar envoy --mode validate -c /etc/envoy/bootstrap.yaml',
    'up -d',
    'port control-plane 18001',
    'run --rm --no-deps -T impact-calc-app node dist/src/compose/probe.js http --host 127.0.0.1 --port 15001 --method POST --path /payout --json {"usd":1} --authority grant-pay --count 1 --concurrency 1',
    `run --rm -T -v ${path.join(dir, 'pki', 'svc', 'public-docs')}:/etc/hms/pki/svc/public-docs:ro probe node dist/src/compose/probe.js mtls --host ${gpAddress} --port 15090 --method POST --path /payout --ca /etc/hms/pki/trust-bundle.pem --cert /etc/hms/pki/svc/public-docs/chain.pem --key /etc/hms/pki/svc/public-docs/key.pem --servername grant-pay`,
    `run --rm -T probe node dist/src/compose/probe.js http --host ${gpAddress} --port 15090`,
    'run --rm --no-deps -T impact-calc-app node dist/src/compose/probe.js admin --port 15000 --path /stats',
    'logs --no-color --no-log-prefix grant-pay-sidecar',
    'kill -s SIGKILL grant-pay-app',
    'ps -q',
    'down -v --remove-orphans -t 5',
  ]);
});
