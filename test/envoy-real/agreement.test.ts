/**
 * Agreement between our offline validator and Envoy: a corpus (corpus.ts)
 * of valid compiled nodes and single injected faults of every class the
 * validator knows; for each, our validator on the resources, and `envoy
 * --mode validate` (one process per configuration, two at a time) on a
 * bootstrap carrying the same resources statically (static-bootstrap.ts).
 * Both accept or both reject, except for the fault classes docs/validate.md
 * lists under "Agreement with Envoy", with the reason; those must still
 * disagree (so the list cannot go stale), and nothing else may.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { PACKAGE_ROOT } from '../../src/paths';
import { initCa, issueIdentities, loadCredentials, service } from '../../src/pki';
import { ENVOY_CODES, validateNodeConfig } from '../../src/validate';
import { buildCorpus, type CorpusEntry } from './corpus';
import { envoyReason, envoyValidate, inPairs } from './envoy-validate';
import { FAULTS } from './faults';
import { availability, suiteSkip } from './harness';
import { staticBootstrap, type StaticPems } from './static-bootstrap';

const SKIP = suiteSkip('local');
const CORPUS = { meshes: 16, validPerMesh: 3, perFault: 5 } as const;

/** The exceptions docs/validate.md lists: the `ENVOY0xx` codes that start the rows of its "Agreement with Envoy" table. */
function documentedExceptions(): Set<string> {
  const doc = fs.readFileSync(path.join(PACKAGE_ROOT, 'docs', 'validate.md'), 'utf8');
  const section = doc.split(/^## /m).find((s) => s.startsWith('Agreement with Envoy'));
  if (!section) throw new Error('docs/validate.md has no "Agreement with Envoy" section');
  return new Set([...section.matchAll(/^\| `(ENVOY0\d\d)` \|/gm)].map((m) => m[1]!));
}

async function pems(dir: string): Promise<StaticPems> {
  await initCa(dir, { trustDomain: 'bench.local' });
  await issueIdentities(dir, [service('agreement')], { trustDomain: 'bench.local' });
  const c = loadCredentials(dir, service('agreement'));
  return { caPem: c.trustBundlePem, chainPem: c.chainPem, keyPem: c.keyPem };
}

interface Verdict {
  readonly entry: CorpusEntry;
  readonly oursRejects: boolean;
  readonly oursCodes: string[];
  readonly envoyRejects: boolean;
  readonly envoyWhy: string;
}

const classOf = (e: CorpusEntry): string => e.fault?.code ?? 'valid';

test('our validator and envoy --mode validate agree on a corpus of 200+ configurations, but for the documented exceptions', { skip: SKIP, timeout: 300_000 }, async (t) => {
  const envoyBin = availability.envoyBin;
  if (!envoyBin) throw new Error(`real Envoy is required under CI=true: ${availability.local}`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-agreement-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  const started = Date.now();
  const keys = await pems(path.join(work, 'pki'));
  const corpus = buildCorpus(work, CORPUS);
  assert.ok(corpus.length >= 200, `only ${corpus.length} configurations`);

  const verdicts = await inPairs(corpus.map((entry, i) => ({ entry, i })), async ({ entry, i }): Promise<Verdict> => {
    const ours = validateNodeConfig(entry.resources);
    const errors = ours.filter((d) => d.severity === 'error');
    const file = path.join(work, `config-${i}.json`);
    fs.writeFileSync(file, JSON.stringify(staticBootstrap(entry.node, entry.resources, keys)));
    const r = await envoyValidate(envoyBin, file);
    return { entry, oursRejects: errors.length > 0, oursCodes: [...new Set(ours.map((d) => d.code))].sort(), envoyRejects: r.code !== 0, envoyWhy: r.code === 0 ? '' : envoyReason(r) };
  });

  // The corpus tests what it says: each fault is found by our validator under its own class.
  for (const v of verdicts) {
    const f = v.entry.fault;
    if (f) {
      assert.ok(v.oursCodes.includes(f.code), `${v.entry.id}: our validator reports ${v.oursCodes.join(', ') || 'nothing'}, not ${f.code}`);
      assert.equal(v.oursRejects, !f.accepted, `${v.entry.id}: a ${f.accepted ? 'warning' : 'error'} class`);
    }
    else assert.deepEqual(v.oursCodes, [], `${v.entry.id}: a valid configuration has findings`);
  }

  const agreed = verdicts.filter((v) => v.oursRejects === v.envoyRejects);
  const disagreed = verdicts.filter((v) => v.oursRejects !== v.envoyRejects);
  const byClass = new Map<string, { n: number; agree: number }>();
  for (const v of verdicts) {
    const c = byClass.get(classOf(v.entry)) ?? { n: 0, agree: 0 };
    byClass.set(classOf(v.entry), { n: c.n + 1, agree: c.agree + (v.oursRejects === v.envoyRejects ? 1 : 0) });
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  t.diagnostic(`agreement: ${agreed.length}/${verdicts.length} configurations (${((100 * agreed.length) / verdicts.length).toFixed(1)}%), ${verdicts.filter((v) => !v.entry.fault).length} valid + ${verdicts.filter((v) => v.entry.fault).length} with one fault (${FAULTS.length} faults, ${new Set(FAULTS.map((f) => f.code)).size} classes), in ${seconds} s`);
  t.diagnostic(`per class (agree/n): ${[...byClass].sort(([a], [b]) => (a < b ? -1 : 1)).map(([c, x]) => `${c} ${x.agree}/${x.n}`).join(', ')}`);
  for (const v of disagreed.slice(0, 40)) t.diagnostic(`disagree: ${v.entry.id}: ours ${v.oursRejects ? `rejects (${v.oursCodes.join(', ')})` : 'accepts'}, Envoy ${v.envoyRejects ? `rejects: ${v.envoyWhy}` : 'accepts'}`);

  const documented = documentedExceptions();
  const unexplained = disagreed.filter((v) => !documented.has(classOf(v.entry))).map((v) => `${v.entry.id}: ours ${v.oursRejects ? 'rejects' : 'accepts'}, Envoy ${v.envoyRejects ? `rejects: ${v.envoyWhy}` : 'accepts'}`);
  assert.deepEqual(unexplained, [], 'disagreements docs/validate.md does not list');
  // A listed exception that now agrees everywhere is stale: fix the list (and the figure).
  const stale = [...documented].filter((c) => !disagreed.some((v) => classOf(v.entry) === c));
  assert.deepEqual(stale, [], 'classes docs/validate.md lists as disagreeing that agree everywhere now');
  assert.ok([...documented].every((c) => Object.values(ENVOY_CODES).includes(c as never)));
});
