import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ceqModel } from '../translate/fixture-model';
import { withPolicies } from '../translate/helpers';
import { compiledNode, filterNames, hcmOf, resource, type Any } from './helpers';

test('filters: inbound order is rbac, local rate limit, router', () => {
  const hcm = hcmOf(resource(compiledNode(ceqModel(), 'impact-calc'), 'listeners', 'inbound|15081'));
  assert.deepEqual(filterNames(hcm), ['envoy.filters.http.rbac', 'envoy.filters.http.local_ratelimit', 'envoy.filters.http.router']);
});

/** The per-route config of a filter on the inbound route of an Envoy node (RDS `inbound|<port>`). */
function inboundPerRoute(node: Any, port: number, filter: string): Any {
  return resource(node, 'routes', `inbound|${port}`).virtual_hosts[0].routes[0].typed_per_filter_config[filter];
}

test('filters: Envoy inbound chains always carry rbac, local rate limit, router (policies are per route); outbound the x-envoy-* header strip and the router', () => {
  const gp = compiledNode(ceqModel(), 'grant-pay');
  assert.deepEqual(filterNames(hcmOf(resource(gp, 'listeners', 'inbound|15090'))), ['envoy.filters.http.rbac', 'envoy.filters.http.local_ratelimit', 'envoy.filters.http.router']);
  assert.deepEqual(filterNames(hcmOf(resource(gp, 'listeners', 'outbound|15001'))), ['envoy.filters.http.header_mutation', 'envoy.filters.http.router']);
  // The app's deadline is the one x-envoy-* control header the outbound listener keeps (deadlines.test.ts).
  const strip = hcmOf(resource(gp, 'listeners', 'outbound|15001')).http_filters[0].typed_config.mutations.request_mutations.map((m: { remove: string }) => m.remove);
  assert.ok(strip.includes('x-envoy-retry-on') && strip.includes('x-envoy-max-retries') && !strip.includes('x-envoy-upstream-rq-timeout-ms'));
  // No rate limit policy: no bucket on the route, and the listener's filter enables nothing.
  assert.equal(inboundPerRoute(gp, 15090, 'envoy.filters.http.local_ratelimit'), undefined);
  const listenerRl = hcmOf(resource(gp, 'listeners', 'inbound|15090')).http_filters[1].typed_config;
  assert.deepEqual(listenerRl, { '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit', stat_prefix: 'inbound_rate_limit' });
});

test('rbac: the listener denies everything; the inbound route allows one policy per caller, principal = authenticated SPIFFE ID (exact)', () => {
  const gp = compiledNode(ceqModel(), 'grant-pay');
  const listenerRbac = hcmOf(resource(gp, 'listeners', 'inbound|15090')).http_filters[0].typed_config;
  assert.equal(listenerRbac['@type'], 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC');
  assert.deepEqual(listenerRbac.rules, { action: 'ALLOW', policies: {} });
  const perRoute = inboundPerRoute(gp, 15090, 'envoy.filters.http.rbac');
  assert.equal(perRoute['@type'], 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute');
  assert.deepEqual(perRoute.rbac.rules, {
    action: 'ALLOW',
    policies: {
      'allow|impact-calc': {
        permissions: [{ any: true }],
        principals: [{ authenticated: { principal_name: { exact: 'spiffe://ceq.gov/svc/impact-calc' } } }],
      },
    },
  });
});

test('rbac: nobody allowed -> empty ALLOW policies on the route (deny all), never a missing RBACPerRoute.rbac (which would disable RBAC)', () => {
  const model = withPolicies(ceqModel(), 'grant-pay', (p) => ({ ...p, access: { allow: [] } }));
  assert.deepEqual(inboundPerRoute(compiledNode(model, 'grant-pay'), 15090, 'envoy.filters.http.rbac').rbac.rules, { action: 'ALLOW', policies: {} });
});

test('local rate limit: bucket of burst tokens, rps per 1s, enabled and enforced 100%, 429, on the inbound route', () => {
  const rl: Any = inboundPerRoute(compiledNode(ceqModel(), 'impact-calc'), 15081, 'envoy.filters.http.local_ratelimit');
  assert.deepEqual(rl.token_bucket, { max_tokens: 50, tokens_per_fill: 50, fill_interval: '1s' });
  assert.deepEqual(rl.filter_enabled.default_value, { numerator: 100, denominator: 'HUNDRED' });
  assert.deepEqual(rl.filter_enforced.default_value, { numerator: 100, denominator: 'HUNDRED' });
  assert.deepEqual(rl.status, { code: 'TooManyRequests' });
  assert.equal(typeof rl.stat_prefix, 'string');
});

test('local rate limit: burst above rps sizes the bucket', () => {
  const model = withPolicies(ceqModel(), 'impact-calc', (p) => ({
    ...p,
    rateLimit: { ...p.rateLimit!, burst: { value: 80, from: { kind: 'builtin' } } },
  }));
  assert.deepEqual(inboundPerRoute(compiledNode(model, 'impact-calc'), 15081, 'envoy.filters.http.local_ratelimit').token_bucket, { max_tokens: 80, tokens_per_fill: 50, fill_interval: '1s' });
});
