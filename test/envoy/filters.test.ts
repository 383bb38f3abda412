import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ceqModel } from '../translate/fixture-model';
import { withPolicies } from '../translate/helpers';
import { compiledNode, filterNames, hcmOf, resource, type Any } from './helpers';

test('filters: inbound order is rbac, local rate limit, router', () => {
  const hcm = hcmOf(resource(compiledNode(ceqModel(), 'impact-calc'), 'listeners', 'inbound|15081'));
  assert.deepEqual(filterNames(hcm), ['envoy.filters.http.rbac', 'envoy.filters.http.local_ratelimit', 'envoy.filters.http.router']);
});

test('filters: no rate limit policy, no rate limit filter; outbound has only the router', () => {
  const gp = compiledNode(ceqModel(), 'grant-pay');
  assert.deepEqual(filterNames(hcmOf(resource(gp, 'listeners', 'inbound|15090'))), ['envoy.filters.http.rbac', 'envoy.filters.http.router']);
  assert.deepEqual(filterNames(hcmOf(resource(gp, 'listeners', 'outbound|15001'))), ['envoy.filters.http.router']);
});

test('rbac: ALLOW with one policy per caller, principal = authenticated SPIFFE ID (exact)', () => {
  const hcm = hcmOf(resource(compiledNode(ceqModel(), 'grant-pay'), 'listeners', 'inbound|15090'));
  const rbac = hcm.http_filters[0].typed_config;
  assert.equal(rbac['@type'], 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC');
  assert.deepEqual(rbac.rules, {
    action: 'ALLOW',
    policies: {
      'allow|impact-calc': {
        permissions: [{ any: true }],
        principals: [{ authenticated: { principal_name: { exact: 'spiffe://ceq.gov/svc/impact-calc' } } }],
      },
    },
  });
});

test('rbac: nobody allowed -> empty ALLOW policies (deny all)', () => {
  const model = withPolicies(ceqModel(), 'grant-pay', (p) => ({ ...p, access: { allow: [] } }));
  const hcm = hcmOf(resource(compiledNode(model, 'grant-pay'), 'listeners', 'inbound|15090'));
  assert.deepEqual(hcm.http_filters[0].typed_config.rules, { action: 'ALLOW', policies: {} });
});

test('local rate limit: bucket of burst tokens, rps per 1s, enabled and enforced 100%, 429', () => {
  const hcm = hcmOf(resource(compiledNode(ceqModel(), 'impact-calc'), 'listeners', 'inbound|15081'));
  const rl: Any = hcm.http_filters[1].typed_config;
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
  const hcm = hcmOf(resource(compiledNode(model, 'impact-calc'), 'listeners', 'inbound|15081'));
  assert.deepEqual(hcm.http_filters[1].typed_config.token_bucket, { max_tokens: 80, tokens_per_fill: 50, fill_interval: '1s' });
});
