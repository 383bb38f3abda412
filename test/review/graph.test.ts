/**
 * mesh graph: the edges of examples/ceq, examples/agency and a mesh with
 * denied calls, as data, as DOT/Mermaid (goldens, reviewed by eye) and as SVG
 * rendered by Graphviz-in-WebAssembly (edges read back from the SVG).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths';
import { meshGraph, toDot, toMermaid, toSvg, type MeshGraph } from '../../src/review/graph';
import { loadForReview, type ReviewInput } from '../../src/review/load';
import { updatingGoldens } from '../golden/golden';
import { example, fixture, mesh } from './helpers';

const GOLDEN = path.join(PACKAGE_ROOT, 'test', 'review', 'golden');

function graphOf(input: ReviewInput): MeshGraph {
  return meshGraph(input.model, input.compiled);
}

const edgeList = (g: MeshGraph, kind?: string): string[] => g.edges.filter((e) => !kind || e.kind === kind).map((e) => `${e.from}->${e.to}`);

function assertGolden(name: string, text: string): void {
  const file = path.join(GOLDEN, name);
  if (updatingGoldens()) {
    fs.mkdirSync(GOLDEN, { recursive: true });
    fs.writeFileSync(file, text);
    return;
  }
  assert.equal(text, fs.readFileSync(file, 'utf8'), `${name} differs from the golden (UPDATE_GOLDEN=1 rewrites it; review the diff)`);
}

/** Edges as Graphviz wrote them into the SVG: `<g id="edgeN" class="edge edge-<kind>"><title>a&#45;&gt;b</title>` and the path's stroke. */
function svgEdges(svg: string): { edge: string; kind: string; stroke: string; dashed: boolean }[] {
  const out = [];
  for (const m of svg.matchAll(/<g id="edge\d+" class="edge edge(?:&#45;|-)(\w+)">\s*<title>([^<]*)<\/title>\s*<path ([^>]*)>/g)) {
    const title = m[2].replace(/&#45;/g, '-').replace(/&gt;/g, '>');
    out.push({ edge: title, kind: m[1], stroke: /stroke="([^"]+)"/.exec(m[3])?.[1] ?? '', dashed: /stroke-dasharray/.test(m[3]) });
  }
  return out.sort((a, b) => (a.edge < b.edge ? -1 : 1));
}

test('ceq: two calls, labelled with split, timeout, retries, circuit breaker; the rate limit on its node; the gateway a caller of its own kind', () => {
  const g = graphOf(example('ceq'));
  assert.deepEqual(g.edges, [
    { from: 'citizen-gw', to: 'public-docs', kind: 'call', labels: ['route docs.ceq.gov:8443 prefix /docs/', 'timeout 5s', 'retries 2'] },
    { from: 'impact-calc', to: 'grant-pay', kind: 'call', labels: ['split v1 90% / v2 10%', 'timeout 2s', 'retries 3 (0.5s/try)', 'breaker 3 fails / 30s'] },
    { from: 'impact-calc', to: 'public-docs', kind: 'call', labels: ['timeout 5s', 'retries 2'] },
  ]);
  assert.deepEqual(g.nodes.find((n) => n.id === 'impact-calc'), { id: 'impact-calc', kind: 'envoy', versions: ['v1'], rateLimit: '50 rps' });
  assert.deepEqual(g.nodes.find((n) => n.id === 'citizen-gw'), { id: 'citizen-gw', kind: 'gateway', versions: [], detail: 'gateway docs.ceq.gov:8443' });
  assert.match(toMermaid(g), /^ {2}n0\[\/"citizen-gw<br\/>gateway docs\.ceq\.gov:8443"\\\]$/m);
  assert.match(toDot(g), /^ {2}"citizen-gw" \[label="citizen-gw\\ngateway docs\.ceq\.gov:8443", fillcolor="#fef3c7", shape=cds, style="filled"\];$/m);
  assertGolden('ceq.dot', toDot(g));
  assertGolden('ceq.mmd', toMermaid(g));
});

test('agency: every compiled call is an edge, permissions nobody uses are dotted, nothing is denied', () => {
  const input = example('agency');
  const g = graphOf(input);
  const compiled = input.compiled.ir.nodes.flatMap((n) => n.outbound.virtualHosts.map((v) => `${n.id}->${v.service}`)).sort();
  assert.deepEqual(edgeList(g, 'call').sort(), compiled);
  assert.equal(compiled.length, 20);
  assert.deepEqual(edgeList(g, 'unused'), ['reports->payments', 'reviewer-ui->public-docs']);
  assert.deepEqual(edgeList(g, 'denied'), []);
  const treasury = g.edges.find((e) => e.to === 'treasury-gw')!;
  assert.deepEqual(treasury.labels, ['timeout 8s', 'no retries', 'breaker 2 fails / 60s', 'rate limit 5 rps (burst 10)']);
  const model = g.edges.find((e) => e.to === 'impact-model')!;
  assert.equal(model.labels[0], 'split v1 70% / v2 20% / v3 10%');
  assert.deepEqual(g.nodes.filter((n) => n.kind === 'grpc').map((n) => n.id), ['eligibility', 'impact-model']);
  assertGolden('agency.dot', toDot(g));
});

test('denied-calls fixture: declared-but-denied calls are denied edges, with the reason', () => {
  const g = graphOf(fixture('denied-calls'));
  assert.deepEqual(
    g.edges.filter((e) => e.kind === 'denied').map((e) => [e.from, e.to, e.labels.join(' / ')]),
    [
      ['batch', 'api', 'DENIED / not in access.api.allow'],
      ['web', 'billing', 'DENIED / not in access.billing.allow'],
      ['web', 'vault', 'DENIED / vault has no access policy'],
    ],
  );
  assert.deepEqual(edgeList(g, 'unused'), ['batch->billing']);
  const mermaid = toMermaid(g);
  // Mermaid styles links by their index in declaration order: each denied edge gets the dashed red style.
  g.edges.forEach((e, i) => {
    const style = new RegExp(`^ {2}linkStyle ${i} stroke:#dc2626,color:#dc2626,stroke-dasharray:6 4$`, 'm');
    assert.equal(style.test(mermaid), e.kind === 'denied', `linkStyle ${i} (${e.from}->${e.to})`);
  });
});

test('SVG without a browser: the rendered edges are the graph edges, denied ones dashed red', async () => {
  for (const input of [example('ceq'), example('agency'), fixture('denied-calls'), fixture('edges')]) {
    const g = graphOf(input);
    const svg = await toSvg(g);
    assert.match(svg, /^<\?xml[^]*<svg [^]*<\/svg>\s*$/);
    const drawn = svgEdges(svg);
    assert.deepEqual(drawn.map((d) => d.edge), g.edges.map((e) => `${e.from}->${e.to}`).sort());
    for (const d of drawn) {
      const want = { call: ['#1f2937', false], denied: ['#dc2626', true], unused: ['#9ca3af', true] }[d.kind];
      assert.deepEqual([d.stroke, d.dashed], want, d.edge);
    }
  }
});

test('mesh graph CLI: svg of the example exits 0; a mesh with denied calls is still drawn, exit 1 with the lint errors', () => {
  const ok = mesh(['graph', 'examples/agency', '--format', 'svg']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /<svg /);
  const denied = mesh(['graph', 'test/fixtures/denied-calls', '--format', 'dot']);
  assert.equal(denied.code, 1);
  assert.match(denied.stdout, /^ {2}"web" -> "billing" \[label="DENIED\\nnot in access\.billing\.allow", color="#dc2626"/m);
  assert.match(denied.stderr, /web\.yml:8:5: error MESH043/);
  const bad = mesh(['graph', 'test/corpus/lint/does-not-exist']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /MESH001/);
});

test('edges fixture: external systems are nodes of their own kind; calls to them allowed (TLS, timeout, retries), denied or unused; the gateway routes and its denied route', () => {
  const g = graphOf(fixture('edges'));
  assert.deepEqual(g.nodes.map((n) => [n.id, n.kind, n.detail ?? n.versions.join(',')]), [
    ['front-gw', 'gateway', 'gateway www.edges.test:9443'],
    ['payments-hub', 'external', 'external hub.payments.example:443'],
    ['portal', 'envoy', 'v1'],
    ['records', 'envoy', 'v1'],
    ['tax-api', 'external', 'external api.tax.example:8443'],
    ['weather', 'external', 'external weather.example:443'],
  ]);
  assert.deepEqual(g.edges.map((e) => [e.from, e.to, e.kind, e.labels.join(' / ')]), [
    // The exact route first: the order Envoy tries them in (translate/gateway.ts), each with its own timeout when it has one.
    ['front-gw', 'portal', 'call', 'route www.edges.test:9443 exact /portal/health (timeout 1s) / route www.edges.test:9443 prefix /portal/ / timeout 15s / retries 2'],
    ['front-gw', 'records', 'denied', 'DENIED / not in access.records.allow'],
    ['portal', 'payments-hub', 'call', 'TLS to hub.payments.example:443 / timeout 4s / retries 2'],
    ['portal', 'records', 'call', 'timeout 15s / retries 2'],
    ['portal', 'tax-api', 'denied', 'DENIED / not in access.tax-api.allow'],
    ['records', 'tax-api', 'unused', 'allowed, not called'],
    ['records', 'weather', 'unused', 'allowed, not called'],
  ]);
  // An allowed call to an external is an edge exactly when the caller's sidecar has its TLS-originating route.
  const input = fixture('edges');
  assert.deepEqual(input.compiled.ir.nodes.flatMap((n) => (n.outbound.externals ?? []).map((x) => `${n.id}->${x.name}`)), edgeList(g, 'call').filter((e) => /hub|tax|weather/.test(e)));
  assertGolden('edges.dot', toDot(g));
  assertGolden('edges.mmd', toMermaid(g));
  const mermaid = toMermaid(g);
  assert.match(mermaid, /^ {2}n1\{\{"payments-hub<br\/>external hub\.payments\.example:443"\}\}$/m);
  assert.match(mermaid, /^ {2}classDef external fill:#f3f4f6,stroke:#374151\n {2}class n1,n4,n5 external$/m);
  assert.match(mermaid, /grey: external system/);
  assert.match(toDot(g), /^ {2}"tax-api" \[label="tax-api\\nexternal api\.tax\.example:8443", fillcolor="#f3f4f6", shape=component, style="filled,dashed"\];$/m);
});

test('a guardrail on a call to an external system is a loud line on its edge', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-graph-guardrail-'));
  try {
    fs.cpSync(path.join(PACKAGE_ROOT, 'test', 'fixtures', 'edges'), dir, { recursive: true });
    fs.appendFileSync(path.join(dir, 'mesh_policies.yml'), 'guardrails:\n  no-ssn:\n    to: [payments-hub]\n    detect: [us_ssn]\n');
    const loaded = loadForReview(dir, { displayDir: 'edges', allowSemanticErrors: true });
    assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.diagnostics));
    const edge = meshGraph(loaded.input.model, loaded.input.compiled).edges.find((e) => e.to === 'payments-hub')!;
    assert.match(edge.labels.join(' / '), /^TLS to hub\.payments\.example:443 \/ timeout 4s \/ retries 2 \/ GUARDRAIL no-ssn \(us_ssn, fail closed\)$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
