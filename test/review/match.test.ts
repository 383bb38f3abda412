/** The Envoy semantics mesh explain relies on, on hand-written configs beyond what the compiler emits. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateRbac } from '../../src/review/explain';
import { findRoute, findVirtualHost } from '../../src/review/explain/match';

const headers = (h: Record<string, string>): Map<string, string> => new Map(Object.entries(h));

test('virtual hosts: exact, then longest suffix wildcard, then prefix wildcard, then *; case-insensitive', () => {
  const rc = {
    virtual_hosts: [
      { name: 'any', domains: ['*'] },
      { name: 'prefix', domains: ['pay.*'] },
      { name: 'short-suffix', domains: ['*.gov'] },
      { name: 'long-suffix', domains: ['*.ceq.gov'] },
      { name: 'exact', domains: ['pay.ceq.gov'] },
    ],
  };
  const pick = (host: string): string | undefined => findVirtualHost(rc, host)?.vh['name'] as string | undefined;
  assert.equal(pick('PAY.ceq.gov'), 'exact');
  assert.equal(pick('docs.ceq.gov'), 'long-suffix');
  assert.equal(pick('x.other.gov'), 'short-suffix');
  assert.equal(pick('pay.example.com'), 'prefix');
  assert.equal(pick('example.com'), 'any');
  assert.equal(findVirtualHost({ virtual_hosts: [{ name: 'a', domains: ['a'] }] }, 'a:15001'), undefined);
});

test('routes are first match, in order: prefix, exact path, regex, headers', () => {
  const vh = {
    routes: [
      { name: 'admin', match: { prefix: '/admin', headers: [{ name: 'x-role', string_match: { exact: 'admin' } }] } },
      { name: 'exact', match: { path: '/payout' } },
      { name: 'regex', match: { safe_regex: { regex: '/grants/[0-9]+' } } },
      { name: 'default', match: { prefix: '/' } },
    ],
  };
  const route = (path: string, h: Record<string, string> = {}): unknown => findRoute(vh, headers({ ':path': path, ...h }))?.['name'];
  assert.equal(route('/admin/x', { 'x-role': 'admin' }), 'admin');
  assert.equal(route('/admin/x'), 'default');
  assert.equal(route('/payout?x=1'), 'exact');
  assert.equal(route('/grants/42'), 'regex');
  assert.equal(route('/grants/4a'), 'default');
});

test('RBAC: ALLOW needs a matching policy, DENY refuses a matching one, no rules allow all, unknown matchers are reported', () => {
  const principal = 'spiffe://ceq.gov/svc/impact-calc';
  const ctx = { principal, headers: headers({ ':method': 'POST', ':path': '/payout' }) };
  const postOnly = {
    rules: {
      action: 'ALLOW',
      policies: {
        'post-payout': {
          permissions: [{ and_rules: { rules: [{ header: { name: ':method', string_match: { exact: 'POST' } } }, { url_path: { path: { prefix: '/pay' } } }] } }],
          principals: [{ authenticated: { principal_name: { exact: principal } } }],
        },
      },
    },
  };
  assert.deepEqual(evaluateRbac(postOnly, ctx), { allowed: true, action: 'ALLOW', matched: ['post-payout'], unsupported: [] });
  assert.equal(evaluateRbac(postOnly, { ...ctx, headers: headers({ ':method': 'GET', ':path': '/payout' }) }).allowed, false);
  assert.equal(evaluateRbac(postOnly, { headers: ctx.headers }).allowed, false, 'no mTLS identity, no authenticated principal');
  assert.equal(evaluateRbac({ rules: { action: 'ALLOW', policies: {} } }, ctx).allowed, false);
  const deny = { rules: { action: 'DENY', policies: { nope: { permissions: [{ any: true }], principals: [{ not_id: { any: true } }] } } } };
  assert.equal(evaluateRbac(deny, ctx).allowed, true);
  assert.equal(evaluateRbac(undefined, ctx).action, 'none');
  const odd = evaluateRbac({ rules: { policies: { p: { permissions: [{ sourced_metadata: {} }], principals: [{ any: true }] } } } }, ctx);
  assert.deepEqual([odd.allowed, odd.unsupported], [false, ['permission sourced_metadata']]);
});
