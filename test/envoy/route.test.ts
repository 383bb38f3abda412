import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ceqModel } from '../translate/fixture-model';
import { compiledNode, resource, type Any } from './helpers';

function vhost(name: string): Any {
  const rc = resource(compiledNode(ceqModel(), 'impact-calc'), 'routes', 'outbound');
  return rc.virtual_hosts.find((v: Any) => v.name === name);
}

test('routes: `outbound` with a virtual host per allowed callee and an x-trace response header; `inbound|<port>` for the inbound listener', () => {
  const node = compiledNode(ceqModel(), 'impact-calc');
  assert.deepEqual(node.resources.routes.map((r) => r['name']), ['inbound|15081', 'outbound']);
  const rc: Any = node.resources.routes.find((r) => r['name'] === 'outbound');
  assert.deepEqual(rc.virtual_hosts.map((v: Any) => v.name), ['grant-pay', 'public-docs']);
  assert.deepEqual(rc.response_headers_to_add, [
    { header: { key: 'x-trace', value: '%REQ(x-request-id)%' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
  ]);
});

test('routes: weighted clusters 90/10 for the split callee', () => {
  const action = vhost('grant-pay').routes[0].route;
  assert.deepEqual(action.weighted_clusters, {
    clusters: [
      { name: 'outbound|grant-pay|v1', weight: 90 },
      { name: 'outbound|grant-pay|v2', weight: 10 },
    ],
  });
  assert.equal(action.cluster, undefined);
});

test('routes: retry policy and timeout; non-idempotent methods are retried only when the request never left, with no per-try timeout', () => {
  const vh = vhost('grant-pay');
  assert.deepEqual(vh.routes.map((r: Any) => r.name), ['idempotent', 'default']);
  assert.deepEqual(vh.routes[0].match, { prefix: '/', headers: [{ name: ':method', string_match: { safe_regex: { regex: '^(GET|HEAD|OPTIONS|TRACE|PUT|DELETE)$' } } }] });
  const action = vh.routes[0].route;
  assert.equal(action.timeout, '2s');
  assert.equal(action.retry_policy.retry_on, '5xx,connect-failure,refused-stream,unavailable');
  assert.equal(action.retry_policy.num_retries, 3);
  assert.equal(action.retry_policy.per_try_timeout, '0.500s');
  const others = vh.routes[1];
  assert.deepEqual(others.match, { prefix: '/' });
  assert.equal(others.route.timeout, '2s');
  assert.deepEqual(others.route.weighted_clusters, action.weighted_clusters);
  assert.equal(others.route.retry_policy.retry_on, 'connect-failure,refused-stream,unavailable');
  assert.equal(others.route.retry_policy.num_retries, 3);
  assert.equal(others.route.retry_policy.per_try_timeout, undefined);
});

test('routes: retry_non_idempotent: true keeps one route with the policy as written', () => {
  const m = ceqModel();
  const optIn = { ...m, policies: m.policies.map((p) => (p.service === 'grant-pay' ? { ...p, retries: { ...p.retries, retryNonIdempotent: { value: true, from: { kind: 'builtin' as const } } } } : p)) };
  const rc: Any = resource(compiledNode(optIn, 'impact-calc'), 'routes', 'outbound');
  const vh = rc.virtual_hosts.find((v: Any) => v.name === 'grant-pay');
  assert.deepEqual(vh.routes.map((r: Any) => r.name), ['default']);
  assert.equal(vh.routes[0].route.retry_policy.per_try_timeout, '0.500s');
});

test('routes: a callee without a split routes to its single cluster, with defaults', () => {
  const vh = vhost('public-docs');
  assert.deepEqual(vh.domains, ['public-docs', 'public-docs.svc', 'public-docs.svc:15001', 'public-docs:15001']);
  const action = vh.routes[0].route;
  assert.equal(action.cluster, 'outbound|public-docs');
  assert.equal(action.timeout, '5s');
  assert.equal(action.retry_policy.retry_on, 'connect-failure,refused-stream,unavailable');
  assert.equal(action.retry_policy.num_retries, 2);
});

test('routes: a node that calls nobody still has an (empty) outbound route config', () => {
  const rc: Any = resource(compiledNode(ceqModel(), 'grant-pay'), 'routes', 'outbound');
  assert.deepEqual(rc.virtual_hosts, []);
});
