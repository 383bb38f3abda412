/**
 * `npm start`: the chapter's 90-second lab. Through real Envoy sidecars when
 * an Envoy is here (the project's pinned one in .venv, which `npm test` and
 * `node scripts/setup-test-env.js` install, or ENVOY_BIN); with proxyless gRPC
 * members otherwise, or with `npm start -- --grpc`. docs/lab.md walks through both.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { detectEnvoyBin } from '../compose/availability';
import { PACKAGE_ROOT } from '../paths';
import { runEnvoyLab } from './envoy-lab';
import { runGrpcLab } from './grpc-lab';

/** The project's .venv Python when it has the SDK and Flask (setup-test-env.js installs both), else undefined. */
function labPython(): string | undefined {
  const py = path.join(PACKAGE_ROOT, '.venv', 'bin', 'python');
  return spawnSync(py, ['-c', 'import svcmesh, flask'], { stdio: 'ignore', timeout: 20_000 }).status === 0 ? py : undefined;
}

async function main(): Promise<number> {
  if (process.argv.includes('--grpc')) return runGrpcLab();
  const envoy = detectEnvoyBin();
  if (envoy.bin) {
    const python = labPython();
    if (!python) process.stdout.write('(no svcmesh in .venv: run `node scripts/setup-test-env.js`; the lab runs the Node apps instead)\n\n');
    return runEnvoyLab(envoy.bin, python);
  }
  process.stdout.write(`(no Envoy here: ${envoy.why}; running the proxyless gRPC flavour of the lab)\n\n`);
  return runGrpcLab();
}

void main().then((code) => {
  process.exitCode = code;
});
