/**
 * `npm start`: the chapter's 90-second lab. Through real Envoy sidecars when
 * an Envoy is here (the project's pinned one in .venv, which `npm test` and
 * `node scripts/setup-test-env.js` install, or ENVOY_BIN); with proxyless gRPC
 * members otherwise, or with `npm start -- --grpc`. docs/lab.md walks through both.
 */
import { detectEnvoyBin } from '../compose/availability';
import { runEnvoyLab } from './envoy-lab';
import { runGrpcLab } from './grpc-lab';

async function main(): Promise<number> {
  if (process.argv.includes('--grpc')) return runGrpcLab();
  const envoy = detectEnvoyBin();
  if (envoy.bin) return runEnvoyLab(envoy.bin);
  process.stdout.write(`(no Envoy here: ${envoy.why}; running the proxyless gRPC flavour of the lab)\n\n`);
  return runGrpcLab();
}

void main().then((code) => {
  process.exitCode = code;
});
