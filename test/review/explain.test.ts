import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths';
/**
 * mesh explain: requests evaluated against the compiled resources of
 * examples/ceq, examples/agency (Envoy and proxyless gRPC callers) and a mesh
 * with denied calls, with the provenance of every value checked against the
 * source line it names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainCall, explainRequest, formatExplain, type ExplainResult } from '../../src/review/explain';
import type { ProvenanceJson } from '../../src/review/provenance';
import type { ReviewInput } from '../../src/review/load';
import { example, fixture, mesh } from './helpers';

const ceq = example('ceq');
const agency = example('agency');

function explain(input: ReviewInput, caller: string, callee: string, req = {}): ExplainResult {
  return explainRequest({ model: input.model, compiled: input.compiled }, caller, callee, req);
}

/** The text of the source line a provenance points at (what a reader would open). */
function lineOf(input: ReviewInput, p: ProvenanceJson | undefined): string | undefined {
  if (!p || p.kind === 'builtin') return p?.kind;
  return input.lines.line({ file: p.file!, line: p.line!, col: p.col! });
}

test('ceq: impact-calc -> grant-pay is allowed by its access rule, split 90/10, with the policy lines behind each value', () => {
  const r = explain(ceq, 'impact-calc', 'grant-pay', { method: 'POST', path: '/payout' });
  assert.equal(r.verdict, 'allowed');
  assert.deepEqual(r.request, { method: 'POST', path: '/payout', authority: 'grant-pay', headers: {} });
  assert.equal(r.access.policy, 'allow|impact-calc');
  assert.equal(r.access.principal, 'spiffe://ceq.gov/svc/impact-calc');
  assert.equal(lineOf(ceq, r.access.rule), 'allow: [impact-calc]');
  assert.equal(lineOf(ceq, r.declaredCall), '- grant-pay');
  const route = r.route!;
  assert.deepEqual([route.listener, route.routeConfig, route.virtualHost, route.matchedDomain], ['outbound|15001', 'outbound', 'grant-pay', 'grant-pay']);
  assert.deepEqual(route.clusters.map((c) => [c.name, c.version, c.weight.value, c.percent, lineOf(ceq, c.weight.from)]), [
    ['outbound|grant-pay|v1', 'v1', 90, 90, 'v1: 90'],
    ['outbound|grant-pay|v2', 'v2', 10, 10, 'v2: 10'],
  ]);
  assert.deepEqual(route.clusters.map((c) => c.staticEndpoints), [0, 1]);
  assert.deepEqual([route.retry?.numRetries.value, lineOf(ceq, route.retry?.numRetries.from)], [3, 'attempts: 3']);
  // A POST is retried only when it never reached grant-pay, with no per-try timeout (retry_non_idempotent unset).
  assert.deepEqual([route.retry?.retryOn.value, route.retry?.retryOn.from.kind], ['connect-failure,refused-stream,unavailable', 'builtin']);
  assert.equal(route.retry?.perTryTimeout, undefined);
  const get = explain(ceq, 'impact-calc', 'grant-pay', { method: 'GET', path: '/payout' }).route!;
  assert.equal(get.retry?.retryOn.value, '5xx,connect-failure,refused-stream,unavailable');
  assert.deepEqual([get.retry?.perTryTimeout?.value, lineOf(ceq, get.retry?.perTryTimeout?.from)], ['0.500s', 'per_try_timeout: 500ms']);
  assert.deepEqual([route.timeout?.value, lineOf(ceq, route.timeout?.from)], ['2s', 'request: 2s']);
  const cb = route.clusters[0].circuitBreaker!;
  assert.deepEqual([cb.openAfterFailedCalls?.value, lineOf(ceq, cb.openAfterFailedCalls?.from)], [3, 'max_failures: 3']);
  // A failed POST is one attempt (not retried on 5xx by default): Envoy's threshold is max_failures.
  assert.deepEqual([cb.ejectAfterFailures?.value, lineOf(ceq, cb.ejectAfterFailures?.from)], [3, 'max_failures: 3']);
  assert.deepEqual([cb.baseEjectionTime?.value, lineOf(ceq, cb.baseEjectionTime?.from)], ['30s', 'reset_seconds: 30']);
  assert.deepEqual([cb.maxRequests?.value, cb.maxRequests?.from.kind], [1024, 'builtin']);
  assert.deepEqual(r.callerClusters, ['outbound|grant-pay|v1', 'outbound|grant-pay|v2']);
  assert.deepEqual(r.mtls, { calleeAcceptsCaller: true, callerAcceptsCallee: true });
  assert.equal(r.rateLimit, undefined);
  assert.match(r.notes.join('\n'), /outbound\|grant-pay\|v1 has no static endpoints/);
});

test('ceq: denied calls name the access policy, or the builtin default deny', () => {
  const notListed = explain(ceq, 'grant-pay', 'public-docs');
  assert.equal(notListed.verdict, 'denied');
  assert.equal(notListed.access.decision, 'deny');
  assert.equal(lineOf(ceq, notListed.access.accessPolicy), 'public-docs:');
  assert.match(notListed.reason, /access\.public-docs\.allow \(examples\/ceq\/mesh_policies\.yml:\d+:3\) does not list grant-pay/);
  assert.deepEqual([notListed.route, notListed.callerClusters, notListed.declaredCall], [undefined, [], undefined]);

  // impact-calc has no access entry at all: nobody may call it.
  const noPolicy = explain(ceq, 'public-docs', 'impact-calc');
  assert.equal(noPolicy.verdict, 'denied');
  assert.equal(noPolicy.access.accessPolicy.kind, 'builtin');
  assert.match(noPolicy.reason, /impact-calc has no access policy, so nobody may call it \(default deny\)/);
  // The rate limit it would count against is still reported, with its line.
  assert.deepEqual([noPolicy.rateLimit?.tokensPerFill.value, lineOf(ceq, noPolicy.rateLimit?.tokensPerFill.from)], [50, 'rps: 50']);
});

test('agency: rate limit, mesh-wide defaults and a callee that allows a caller which does not declare the call', () => {
  const r = explain(agency, 'portal', 'applicant-api');
  assert.equal(r.verdict, 'allowed');
  assert.deepEqual(r.route?.clusters.map((c) => [c.version, c.percent]), [['v1', 80], ['v2', 20]]);
  assert.deepEqual([r.rateLimit?.tokensPerFill.value, lineOf(agency, r.rateLimit?.tokensPerFill.from)], [100, 'rps: 100']);
  assert.deepEqual([r.rateLimit?.maxTokens.value, lineOf(agency, r.rateLimit?.maxTokens.from)], [200, 'burst: 200']);
  assert.deepEqual([r.route?.timeout?.value, r.route?.timeout?.from.kind, lineOf(agency, r.route?.timeout?.from)], ['10s', 'mesh-default', 'request: 10s']);
  assert.equal(r.route?.retry?.retryOn.from.kind, 'builtin');

  // payments allows reports, but reports does not call it: no route in its sidecar.
  const unused = explain(agency, 'reports', 'payments');
  assert.equal(unused.verdict, 'no-route');
  assert.equal(unused.access.decision, 'allow');
  assert.match(unused.reason, /has no virtual host for "payments" \(Envoy answers 404 NR\); reports does not list payments under calls:/);
});

test('agency: treasury-gw is never retried, has a breaker with a written limit, and the drained identity v1 gets no traffic', () => {
  const pay = explain(agency, 'payments', 'treasury-gw', { method: 'POST', path: '/payouts' });
  assert.equal(pay.verdict, 'allowed');
  assert.equal(pay.route?.retry, undefined);
  const cb = pay.route?.clusters[0].circuitBreaker;
  assert.deepEqual([cb?.maxRequests?.value, lineOf(agency, cb?.maxRequests?.from), cb?.maxRetries?.value], [64, 'max_requests: 64', 64]);
  assert.deepEqual([pay.rateLimit?.tokensPerFill.value, pay.rateLimit?.maxTokens.value], [5, 10]);

  const id = explain(agency, 'reviewer-ui', 'identity');
  assert.deepEqual(id.route?.clusters.map((c) => [c.name, c.percent, lineOf(agency, c.weight.from)]), [['outbound|identity|v2', 100, 'v2: 100']]);
});

test('agency: a proxyless gRPC caller resolves the API listener named by its target (A27) and reads max_stream_duration (A31)', () => {
  const r = explain(agency, 'eligibility', 'impact-model');
  assert.equal(r.verdict, 'allowed');
  assert.deepEqual([r.route?.proxy, r.route?.listener, r.route?.routeConfig], ['grpc', 'impact-model', 'outbound|impact-model']);
  assert.deepEqual(r.route?.clusters.map((c) => [c.version, c.percent]), [['v1', 70], ['v2', 20], ['v3', 10]]);
  assert.deepEqual([r.route?.timeout?.value, lineOf(agency, r.route?.timeout?.from)], ['3s', 'request: 3s']);
  assert.equal(r.access.listener, 'grpc/server?xds.resource.listening_address=0.0.0.0:9140');
  // gRPC retries only on status names: the builtin connection-level conditions became `unavailable` (A44).
  assert.equal(r.route?.retry?.retryOn.value, 'unavailable');
});

test('every ordered pair of agency services: allowed exactly when the callee allows the caller and the caller declares the call', () => {
  const { model } = agency;
  for (const caller of model.services) {
    for (const callee of model.services) {
      if (caller.name === callee.name) continue;
      const allowedByPolicy = model.policies.find((p) => p.service === callee.name)!.access.allow.some((a) => a.caller === caller.name);
      const declared = caller.calls.some((c) => c.target === callee.name);
      const expected = !allowedByPolicy ? 'denied' : declared ? 'allowed' : 'no-route';
      const r = explain(agency, caller.name, callee.name);
      assert.equal(r.verdict, expected, `${caller.name} -> ${callee.name}: ${r.reason}`);
      // The Envoy resources and the IR agree on what they say about the call.
      const vh = agency.compiled.ir.nodes.find((n) => n.id === caller.name)!.outbound.virtualHosts.find((v) => v.service === callee.name);
      assert.equal(r.route !== undefined, vh !== undefined, `${caller.name} -> ${callee.name}`);
      if (vh) assert.equal(r.route?.timeout?.value, `${vh.timeoutMs.value / 1000}s`);
    }
  }
});

test('a mesh with denied calls (MESH043) still explains: the declared call and the refusing policy', () => {
  const denied = fixture('denied-calls');
  const r = explain(denied, 'web', 'billing');
  assert.equal(r.verdict, 'denied');
  assert.equal(lineOf(denied, r.declaredCall), '- billing');
  assert.equal(lineOf(denied, r.access.accessPolicy), 'billing:');
  const vault = explain(denied, 'web', 'vault');
  assert.equal(vault.access.accessPolicy.kind, 'builtin');
  const grpc = explain(denied, 'batch', 'api');
  assert.equal(grpc.verdict, 'denied');
  assert.match(grpc.reason, /proxy has no route to it either/);
});

test('the host header selects the virtual host: a name the caller has no route for is no-route', () => {
  const viaSvc = explain(ceq, 'impact-calc', 'public-docs', { headers: { Host: 'public-docs.svc:15001' } });
  assert.equal(viaSvc.verdict, 'allowed');
  assert.equal(viaSvc.route?.matchedDomain, 'public-docs.svc:15001');
  const wrong = explain(ceq, 'impact-calc', 'public-docs', { headers: { host: 'public-docs.example.com' } });
  assert.equal(wrong.verdict, 'no-route');
});

test('explain takes a bare model too (compiles it), and rejects unknown services with MESH111', () => {
  assert.equal(explainRequest(ceq.model, 'impact-calc', 'grant-pay').verdict, 'allowed');
  assert.throws(() => explainRequest(ceq.compiled, 'impact-calc', 'nobody'), /callee "nobody" is not a service of the mesh/);
});

test('mesh explain CLI: text with provenance, exit 0 allowed / 1 denied / 2 unknown service, json', () => {
  const ok = mesh(['explain', 'impact-calc', 'grant-pay', 'examples/ceq', '--method', 'POST', '--path', '/payout', '--header', 'x-request-id=abc']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^impact-calc -> grant-pay: ALLOWED\n {2}request {3}POST \/payout \(authority grant-pay\), headers x-request-id: abc\n/);
  assert.match(ok.stdout, /^ {12}rule <- examples\/ceq\/mesh_policies\.yml:14:13 {2}allow: \[impact-calc\]$/m);
  assert.match(ok.stdout, /^ {2}timeout {3}request 2s {2}<- examples\/ceq\/mesh_policies\.yml:26:14 {2}request: 2s$/m);
  assert.match(ok.stdout, /<- builtin defaults$/m);

  const denied = mesh(['explain', 'grant-pay', 'impact-calc', 'examples/ceq', '--format', 'json']);
  assert.equal(denied.code, 1);
  assert.equal((JSON.parse(denied.stdout) as ExplainResult).verdict, 'denied');

  const unknown = mesh(['explain', 'impact-calc', 'nobody', 'examples/ceq']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^mesh: error MESH111: callee "nobody" is not a service of the mesh \(services: grant-pay, impact-calc, public-docs; gateways: citizen-gw\)\n$/);
  assert.equal(mesh(['explain', 'a', 'b', 'examples/ceq', '--header', 'nonsense']).code, 2);
});

// Issue 16, bug 9: "denied" (1) and "the mesh does not load" must not share an exit code.
test('mesh explain exits 2 when the mesh does not load, 1 only for a denied call', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-explain-broken-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.cpSync(path.join(PACKAGE_ROOT, 'examples', 'ceq'), dir, { recursive: true });
  fs.appendFileSync(path.join(dir, 'mesh_policies.yml'), 'rate_limits: [\n');
  const broken = mesh(['explain', 'impact-calc', 'grant-pay', dir]);
  assert.equal(broken.code, 2, broken.stdout + broken.stderr);
  assert.match(broken.stderr, /error MESH01\d/);
  assert.equal(mesh(['explain', 'impact-calc', 'grant-pay', path.join(dir, 'no-such-dir')]).code, 2);
  assert.equal(mesh(['explain', 'grant-pay', 'impact-calc', 'examples/ceq']).code, 1);
});

test('ceq: explain from the ingress gateway follows SNI -> filter chain -> its route configuration -> the route by path', () => {
  const r = explain(ceq, 'citizen-gw', 'public-docs', { path: '/docs/annual-report.pdf' });
  assert.equal(r.verdict, 'allowed', r.reason);
  assert.equal(r.callerIsGateway, true);
  // A citizen names the gateway by its public host: the default authority is the host of its route to public-docs.
  assert.equal(r.request.authority, 'docs.ceq.gov');
  assert.equal(r.access.principal, 'spiffe://ceq.gov/svc/citizen-gw');
  assert.equal(lineOf(ceq, r.access.rule), 'allow: [citizen-gw, impact-calc]');
  assert.equal(lineOf(ceq, r.declaredCall), 'to: public-docs');
  const route = r.route!;
  assert.deepEqual([route.listener, route.routeConfig, route.virtualHost, route.matchedDomain, route.route, route.service],
    ['gateway|8443', 'gateway|8443|public', 'docs.ceq.gov', 'docs.ceq.gov', 'route-0', 'public-docs']);
  assert.equal(lineOf(ceq, route.rule), '- host: docs.ceq.gov');
  assert.deepEqual(route.clusters.map((c) => [c.name, c.percent, c.present]), [['outbound|public-docs', 100, true]]);
  // The gateway's route carries public-docs' own timeout (no route timeout declared).
  assert.deepEqual([route.timeout?.value, lineOf(ceq, route.timeout?.from)], ['5s', 'request: 5s']);
  assert.deepEqual(r.mtls, { calleeAcceptsCaller: true, callerAcceptsCallee: true });
  // Host with the port selects the same chain and virtual host (strip_any_host_port).
  assert.equal(explain(ceq, 'citizen-gw', 'public-docs', { path: '/docs/x', headers: { host: 'docs.ceq.gov:8443' } }).verdict, 'allowed');
});

test('ceq: from the gateway, a path no route matches is 404, an unknown server name never gets an HTTP answer, a service it does not route to is denied', () => {
  const path404 = explain(ceq, 'citizen-gw', 'public-docs', { path: '/intranet/' });
  assert.equal(path404.verdict, 'no-route');
  assert.match(path404.reason, /no route of gateway citizen-gw for docs\.ceq\.gov matches \/intranet\/ \(Envoy answers 404 NR\)/);
  const sni = explain(ceq, 'citizen-gw', 'public-docs', { path: '/docs/a', headers: { host: 'evil.example.com' } });
  assert.equal(sni.verdict, 'no-route');
  assert.match(sni.reason, /no listener of gateway citizen-gw serves the server name "evil\.example\.com": Envoy closes the connection in the TLS handshake/);
  const other = explain(ceq, 'citizen-gw', 'grant-pay', { path: '/docs/a' });
  assert.equal(other.verdict, 'denied');
  assert.match(other.reason, /access\.grant-pay\.allow .* does not list citizen-gw/);
  assert.equal(other.declaredCall, undefined);
});

test('mesh explain CLI from the gateway: the route line and the routes: entry behind it; MESH111 lists gateways apart', () => {
  const ok = mesh(['explain', 'citizen-gw', 'public-docs', 'examples/ceq', '--path', '/docs/annual-report.pdf']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^citizen-gw -> public-docs: ALLOWED\n {2}request {3}GET \/docs\/annual-report\.pdf \(authority docs\.ceq\.gov\)\n/);
  assert.match(ok.stdout, /^ {2}call {6}gateway route to public-docs <- examples\/ceq\/mesh_policies\.yml:\d+:13 {2}to: public-docs$/m);
  assert.match(ok.stdout, /^ {2}route {5}listener gateway\|8443 -> route config gateway\|8443\|public -> virtual host docs\.ceq\.gov \(domain docs\.ceq\.gov\) -> route route-0$/m);
  const none = mesh(['explain', 'citizen-gw', 'public-docs', 'examples/ceq', '--path', '/']);
  assert.equal(none.code, 1);
  const unknown = mesh(['explain', 'nobody', 'public-docs', 'examples/ceq']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /caller "nobody" is not a service of the mesh \(services: grant-pay, impact-calc, public-docs; gateways: citizen-gw\)/);
});

test('explain text for calls to external systems: allowed (TLS originated, timeout and retries with their lines), denied by access, a host the mesh does not declare', () => {
  const edges = fixture('edges');
  const text = (callee: string, req = {}): string => formatExplain(explainCall({ model: edges.model, compiled: edges.compiled }, 'portal', callee, req), 'text', edges.lines);
  const ok = text('payments-hub', { method: 'POST', path: '/pay' });
  assert.match(ok, /^portal -> payments-hub: ALLOWED\n {2}request {3}POST \/pay \(authority payments-hub\)\n/);
  assert.match(ok, /^ {2}why {7}allowed by access\.payments-hub\.allow \(test\/fixtures\/edges\/mesh_policies\.yml:\d+:13\); portal's sidecar sends it to hub\.payments\.example:443, originating TLS \(SNI hub\.payments\.example, verified against hub-ca\.pem for hub\.payments\.example\)$/m);
  assert.match(ok, /^ {2}external {2}payments-hub: hub\.payments\.example:443 {2}<- test\/fixtures\/edges\/mesh_policies\.yml:3:5 {2}host: hub\.payments\.example$/m);
  assert.match(ok, /^ {2}call {6}declared <- test\/fixtures\/edges\/services\/portal\.yml:8:5 {2}- payments-hub$/m);
  assert.match(ok, /^ {2}route {5}listener outbound\|15001 -> route config outbound -> virtual host external\|payments-hub \(domain payments-hub\) -> route default -> cluster external\|payments-hub$/m);
  assert.match(ok, /^ {2}tls {7}originated: SNI hub\.payments\.example, CA hub-ca\.pem, names hub\.payments\.example {2}<- [^\n]*ca_file: hub-ca\.pem$/m);
  assert.match(ok, /^ {2}timeout {3}request 4s {2}<- [^\n]* {2}request: 4s$/m);
  assert.match(ok, /^ {2}retries {3}2 on connect-failure,refused-stream,unavailable {2}<- [^\n]* {2}attempts: 2$/m);
  // No guardrail on this call: no note about body rules that do not exist.
  assert.doesNotMatch(ok, /body rules/);
  assert.match(ok, /^ {2}note {6}a sidecar alone cannot stop an app that bypasses it/m);

  const denied = text('tax-api');
  assert.match(denied, /^portal -> tax-api: DENIED \(404, x-mesh-error: no-route\)\n/);
  assert.match(denied, /access\.tax-api\.allow \(test\/fixtures\/edges\/mesh_policies\.yml:\d+:3\) does not list portal, so the compiler gives portal's sidecar no route to api\.tax\.example/);
  assert.match(denied, /^ {2}access {4}does not allow portal; access policy <- [^\n]* {2}tax-api:$/m);
  assert.match(denied, /^ {2}route {5}none$/m);

  const unknown = text('evil.example.com');
  assert.match(unknown, /^portal -> evil\.example\.com: NO-ROUTE \(404, x-mesh-error: no-route\)\n/);
  assert.match(unknown, /^ {2}external {2}none declared for "evil\.example\.com"$/m);
});
