/**
 * `npm run bench`: every bench in its own Node process, so peak memory
 * figures are per bench. Name benches on the command line to run a subset.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ALL = ['lint', 'compile', 'validate', 'pki', 'xds', 'registry', 'envoy', 'tap', 'guardrail', 'ha', 'apply', 'start', 'build'];

const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ALL;
let failed = 0;
for (const name of wanted) {
  const file = path.join(__dirname, `${name}.js`);
  if (!fs.existsSync(file)) {
    process.stdout.write(`[bench] ${name}: not present in this build\n`);
    continue;
  }
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', `require(${JSON.stringify(file)}).run().catch((e) => { console.error(e); process.exit(1); })`], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exitCode = failed > 0 ? 1 : 0;
