/**
 * mesh diff: two commits of a temp repository (the scenario), two
 * directories, and what must never happen (touching the user's work tree).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXAMPLES_DIR } from '../../src/paths';
import { diffSources, type MeshDiff, type NodeDiff } from '../../src/review/diff';
import { commitAll, copyDir, edit, git, gitRepo, mesh } from './helpers';

function node(diff: MeshDiff, id: string): NodeDiff {
  const n = diff.nodes.find((x) => x.node === id);
  assert.ok(n, `node ${id} missing from the diff`);
  return n;
}

/** examples/ceq committed as `mesh/`, then the grant-pay timeout and split changed in a second commit. */
function ceqHistory(t: { after: (fn: () => void) => void }): string {
  const repo = gitRepo(t);
  copyDir(path.join(EXAMPLES_DIR, 'ceq'), path.join(repo, 'mesh'));
  commitAll(repo, 'mesh as in examples/ceq');
  const policies = path.join(repo, 'mesh', 'mesh_policies.yml');
  edit(policies, 'request: 2s', 'request: 3s');
  edit(policies, 'v1: 90', 'v1: 75');
  edit(policies, 'v2: 10', 'v2: 25');
  commitAll(repo, 'slower grant-pay, bigger canary');
  return repo;
}

test('mesh diff HEAD~1 HEAD mesh: field changes with the new and old source line, unchanged nodes listed', (t) => {
  const repo = ceqHistory(t);
  const r = mesh(['diff', 'HEAD~1', 'HEAD', 'mesh', '--format', 'json'], repo);
  assert.equal(r.code, 0, r.stderr);
  const diff = JSON.parse(r.stdout) as MeshDiff;
  // citizen-gw (the ingress gateway) and public-docs do not see grant-pay's policies.
  assert.deepEqual(diff.summary, { added: 0, removed: 0, changed: 2, unchanged: 2 });
  assert.equal(node(diff, 'public-docs').status, 'unchanged');
  assert.equal(node(diff, 'citizen-gw').status, 'unchanged');

  const routes = node(diff, 'impact-calc').resources.find((x) => x.kind === 'routes' && x.name === 'outbound');
  assert.ok(routes && routes.status === 'changed');
  const timeout = routes.fields.find((f) => f.path === 'virtual_hosts[grant-pay].routes[default].route.timeout');
  assert.ok(timeout, JSON.stringify(routes.fields.map((f) => f.path)));
  assert.deepEqual([timeout.old, timeout.new], ['2s', '3s']);
  // The cause is the policy line, with its text in each revision; positions name the dir as the user did.
  assert.deepEqual(timeout.causes.map((c) => [c.side, c.from.file, c.text]), [
    ['new', 'mesh/mesh_policies.yml', 'request: 3s'],
    ['old', 'mesh/mesh_policies.yml', 'request: 2s'],
  ]);
  const v1 = routes.fields.find((f) => f.path.endsWith('weighted_clusters.clusters[outbound|grant-pay|v1].weight'));
  assert.deepEqual([v1?.old, v1?.new, v1?.causes[0].text], [90, 75, 'v1: 75']);

  // The callee's own inbound route carries the same timeout (compiler.md): blamed on the same line.
  const inbound = node(diff, 'grant-pay').resources.find((x) => x.name === 'inbound|15090');
  assert.deepEqual(inbound?.fields.map((f) => [f.path.endsWith('route.timeout'), f.causes[0].text]), [[true, 'request: 3s']]);
});

test('text and markdown formats', (t) => {
  const repo = ceqHistory(t);
  const text = mesh(['diff', 'HEAD~1', 'HEAD', 'mesh'], repo);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^mesh diff HEAD~1 \([0-9a-f]{12}\) -> HEAD \([0-9a-f]{12}\)\n4 node\(s\): 2 changed, 0 added, 0 removed, 2 unchanged\n/);
  assert.match(text.stdout, /virtual_hosts\[grant-pay\]\.routes\[default\]\.route\.timeout: "2s" -> "3s"\n {10}<- mesh\/mesh_policies\.yml:26:14 {2}request: 3s\n {10}was <- mesh\/mesh_policies\.yml:26:14 {2}request: 2s\n/);
  assert.match(text.stdout, /^= public-docs \(envoy, unchanged\)$/m);

  const md = mesh(['diff', 'HEAD~1', 'HEAD', 'mesh', '--format', 'markdown'], repo);
  assert.equal(md.code, 0, md.stderr);
  assert.match(md.stdout, /^\| `public-docs` \| envoy \| unchanged \| — \|$/m);
  // Cluster names contain `|`: escaped, or the table would fall apart.
  assert.match(md.stdout, /\| `routes\/outbound` \| `virtual_hosts\[grant-pay\]\.routes\[default\]\.route\.weighted_clusters\.clusters\[outbound\\\|grant-pay\\\|v1\]\.weight` \| `90` \| `75` \| `mesh\/mesh_policies\.yml:34:7` `v1: 75`<br>was `mesh\/mesh_policies\.yml:34:7` `v1: 90` \|/);
  for (const line of md.stdout.split('\n').filter((l) => l.startsWith('| `'))) {
    assert.equal(line.replace(/\\\|/g, '').split('|').length, line.startsWith('| `routes') || line.startsWith('| `clusters') || line.startsWith('| `listeners') ? 7 : 6, line);
  }
});

test('the user work tree, index and HEAD are untouched, even when dirty', (t) => {
  const repo = ceqHistory(t);
  const policies = path.join(repo, 'mesh', 'mesh_policies.yml');
  fs.appendFileSync(policies, '# local edit, not committed\n');
  const head = git(repo, 'rev-parse', 'HEAD');
  const status = git(repo, 'status', '--porcelain');
  const r = mesh(['diff', 'HEAD~1', 'HEAD', 'mesh'], repo);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(git(repo, 'rev-parse', 'HEAD'), head);
  assert.equal(git(repo, 'status', '--porcelain'), status);
  assert.match(fs.readFileSync(policies, 'utf8'), /# local edit, not committed\n$/);
});

test('run from a subdirectory, the mesh dir is relative to it; a mesh absent at the old revision is all added', (t) => {
  const repo = gitRepo(t);
  fs.writeFileSync(path.join(repo, 'README'), 'before the mesh\n');
  commitAll(repo, 'no mesh yet');
  copyDir(path.join(EXAMPLES_DIR, 'ceq'), path.join(repo, 'deploy', 'mesh'));
  commitAll(repo, 'add the mesh');
  const r = mesh(['diff', 'HEAD~1', 'HEAD', 'mesh', '--format', 'json'], path.join(repo, 'deploy'));
  assert.equal(r.code, 0, r.stderr);
  const diff = JSON.parse(r.stdout) as MeshDiff;
  assert.deepEqual(diff.nodes.map((n) => [n.node, n.status]), [['citizen-gw', 'added'], ['grant-pay', 'added'], ['impact-calc', 'added'], ['public-docs', 'added']]);
  const cluster = node(diff, 'impact-calc').resources.find((x) => x.name === 'outbound|public-docs');
  assert.deepEqual(cluster?.causes.map((c) => c.text), ['- public-docs', 'allow: [citizen-gw, impact-calc]']);
});

test('errors: unknown revision, not a repository, a side that does not lint', (t) => {
  const repo = ceqHistory(t);
  const bad = mesh(['diff', 'nope', 'HEAD', 'mesh'], repo);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^mesh: error MESH110: unknown revision "nope"/);

  const plain = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-review-plain-'));
  t.after(() => fs.rmSync(plain, { recursive: true, force: true }));
  assert.match(mesh(['diff', 'HEAD~1', 'HEAD', 'mesh'], plain).stderr, /MESH110: .* is not inside a git repository/);

  edit(path.join(repo, 'mesh', 'mesh_policies.yml'), 'max_failures: 3', 'max_failure: 3');
  commitAll(repo, 'typo');
  const lint = mesh(['diff', 'HEAD~1', 'HEAD', 'mesh'], repo);
  assert.equal(lint.code, 1);
  assert.match(lint.stderr, /HEAD \([0-9a-f]{12}\) does not lint:\nmesh\/mesh_policies\.yml:5:5: error MESH020/);
});

test('two directories of the agency mesh: a new service, a removed call, a changed policy', (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-review-dirs-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const a = path.join(tmp, 'a');
  const b = path.join(tmp, 'b');
  copyDir(path.join(EXAMPLES_DIR, 'agency'), a);
  copyDir(path.join(EXAMPLES_DIR, 'agency'), b);
  fs.writeFileSync(path.join(b, 'services', 'fraud-check.yml'), 'name: fraud-check\nversion: v1\nprotocol: http\nport: 8230\nmesh_port: 15230\ncalls: []\n');
  edit(path.join(b, 'services', 'reports.yml'), '  - audit-log\n', '');
  edit(path.join(b, 'mesh_policies.yml'), 'rps: 20', 'rps: 40');
  edit(path.join(b, 'services', 'payments.yml'), '10.0.6.11', '10.0.6.12');
  const outcome = diffSources({ dir: a, displayDir: 'a', label: 'a' }, { dir: b, displayDir: 'b', label: 'b' });
  assert.ok(outcome.ok);
  const { diff } = outcome;
  assert.equal(node(diff, 'fraud-check').status, 'added');
  assert.deepEqual(diff.summary, { added: 1, removed: 0, changed: 3, unchanged: 10 });

  const reports = node(diff, 'reports');
  assert.deepEqual(reports.resources.map((r) => [r.kind, r.name, r.status]).filter(([k]) => k !== 'routes'), [
    ['clusters', 'outbound|audit-log', 'removed'],
    ['endpoints', 'outbound|audit-log', 'removed'],
  ]);
  const removed = reports.resources.find((r) => r.kind === 'clusters');
  // Removed: blamed on the lines of the old side, which no longer exist in the new one.
  assert.deepEqual(removed?.causes.map((c) => [c.side, c.from.file, c.text]), [
    ['old', 'a/services/reports.yml', '- audit-log'],
    ['old', 'a/mesh_policies.yml', 'allow: [identity, applicant-api, grant-registry, payments, reports]'],
  ]);
  const rl = node(diff, 'payments').resources.flatMap((r) => r.fields).find((f) => f.path.endsWith('token_bucket.tokens_per_fill'));
  assert.deepEqual([rl?.old, rl?.new, rl?.causes[0].text], [20, 40, 'rps: 40']);
  // A static endpoint moved: the callers' EDS resource changes, blamed on the manifest's endpoint entry.
  const eds = node(diff, 'reviewer-ui').resources.find((r) => r.kind === 'endpoints');
  assert.equal(eds?.name, 'outbound|payments|v2');
  assert.deepEqual(eds?.fields.map((f) => [f.path, f.old, f.new, f.causes.map((c) => c.text)]), [
    ['endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address', '10.0.6.11', '10.0.6.12', ['- address: 10.0.6.12', '- address: 10.0.6.11']],
  ]);
});
