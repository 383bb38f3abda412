/**
 * Served over ADS with mTLS, every sidecar of every example ACKs every
 * resource type it is sent, and NACKs nothing: each example with Envoy
 * sidecars comes up as local processes against its control plane (`mesh
 * serve`, the one users run), and the control plane's own status (GET
 * /v1/status, its statusReport()) says, per node and type, that the ACKed
 * version is the current one and that no version was ever NACKed. An example
 * with no sidecar (examples/ceq-grpc: proxyless gRPC only) is reported
 * skipped, with that reason.
 *
 * One example at a time (each brings up its whole mesh), each bounded: up
 * and in sync within upInSync's two minutes.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RESOURCE_KINDS, type ResourceKind } from '../../src/envoy/resources';
import { EXAMPLES_DIR } from '../../src/paths';
import { controlPlaneStatus, runningSkip, setUp, upInSync, type Setup } from './harness';

const EXAMPLES = fs.readdirSync(EXAMPLES_DIR).filter((e) => fs.existsSync(path.join(EXAMPLES_DIR, e, 'mesh.yml'))).sort();

/** The kinds a node's compiled tree has resources of: what its sidecar must subscribe to and ACK. */
function servedKinds(outDir: string, node: string): ResourceKind[] {
  return RESOURCE_KINDS.filter((k) => {
    const file = path.join(outDir, node, `${k}.json`);
    return fs.existsSync(file) && (JSON.parse(fs.readFileSync(file, 'utf8')) as { resources: unknown[] }).resources.length > 0;
  });
}

for (const example of EXAMPLES) {
  const dir = path.join(EXAMPLES_DIR, example);
  const skip = runningSkip('local', undefined, undefined, dir);
  describe(`real Envoy (local): every sidecar of examples/${example} ACKs every resource type over ADS with mTLS`, { concurrency: 1, skip }, () => {
    let setup: Setup | undefined;
    before(async () => {
      setup = await setUp('local', undefined, dir);
    }, { timeout: 120_000 });
    after(async () => {
      await setup?.runtime.down();
      if (setup && process.env.HMS_ENVOY_KEEP !== '1') fs.rmSync(setup.workDir, { recursive: true, force: true });
    }, { timeout: 60_000 });

    test('per node and type: ACKed the current version; no NACK, ever', { timeout: 240_000 }, async (t) => {
      const client = await upInSync(setup!);
      const status = await controlPlaneStatus(client);
      const outDir = path.join(setup!.workDir, 'out');
      const problems: string[] = [];
      const seen = new Set<string>();
      for (const n of setup!.runtime.nodes) {
        const s = status.nodes.find((x) => x.node === n.node);
        if (!s) {
          problems.push(`${n.node}: not in the control plane's status`);
          continue;
        }
        if (!s.connected || s.nacked) problems.push(`${n.node}: connected ${s.connected}, nacked ${s.nacked}`);
        for (const kind of servedKinds(outDir, n.node)) if (!s.types[kind]) problems.push(`${n.node} ${kind}: never subscribed`);
        for (const [kind, ty] of Object.entries(s.types)) {
          seen.add(kind);
          if (ty?.acked !== ty?.current) problems.push(`${n.node} ${kind}: ACKed ${ty?.acked}, current ${ty?.current}`);
          if (ty?.lastNack) problems.push(`${n.node} ${kind}: NACKed ${ty.lastNack.version}: ${ty.lastNack.message}`);
        }
      }
      t.diagnostic(`examples/${example}: ${setup!.runtime.nodes.length} sidecars, types ACKed: ${[...seen].sort().join(', ')}`);
      assert.deepEqual(problems, []);
      assert.ok(setup!.runtime.nodes.length > 0);
    });
  });
}
