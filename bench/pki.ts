/**
 * Bench: issue 1,000 workload certificates (RSA-2048 key + node-forge X.509,
 * SHA-256, written to the store) with Node's native key generation, and
 * compare with node-forge's pure-JavaScript key generation.
 *
 * forge keygen takes seconds per RSA-2048 key, so it is measured on a small
 * sample (up to 20 certificates, capped by a time budget) and extrapolated to
 * 1,000; the output says so. Whole bench: about 2.5 minutes on 2 idle
 * cores (longer when the machine is shared: compare the CPU figures then).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  forgeRsaKeyGen,
  initCa,
  issueIdentities,
  loadSigningCa,
  mintLeaf,
  nativeRsaKeyGen,
  service,
  type KeyGenerator,
  type KeyPairPem,
} from '../src/pki';
import { measure, report } from './measure';

const TRUST_DOMAIN = 'bench.mesh';
const NATIVE_COUNT = 1000;
const SEQUENTIAL_SAMPLE = 10;
const SIGN_SAMPLE = 100;
const FORGE_SAMPLE = 20;
const FORGE_MIN_SAMPLE = 5;
/**
 * forge keygen time varies a lot with the primes it happens to find: sample it
 * for what is left of the ~3-minute bench budget, between 15 and 30 seconds.
 */
const TOTAL_BUDGET_MS = 170_000;
const FORGE_BUDGET_MS = { min: 15_000, max: 30_000 };

const names = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`);

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-bench-pki-'));
  const started = Date.now();
  try {
    const pki = path.join(dir, 'pki');
    await initCa(pki, { trustDomain: TRUST_DOMAIN });
    const out = (line: string): void => void process.stdout.write(`${line}\n`);
    out(`PKI bench: RSA-2048 keys, node-forge signs X.509 (SHA-256); ${os.availableParallelism()} CPUs, Node ${process.version}`);

    // CPU time as well as wall time: on a shared machine wall time mostly measures the neighbours.
    const cpu0 = process.cpuUsage();
    const batch = await measure(() => issueIdentities(pki, names('native', NATIVE_COUNT).map(service), { trustDomain: TRUST_DOMAIN }));
    const cpu = process.cpuUsage(cpu0);
    const batchPerCert = batch.ms / NATIVE_COUNT;
    const cpuPerCert = (cpu.user + cpu.system) / 1000 / NATIVE_COUNT;
    out(`  native keygen, ${os.availableParallelism()} keys in parallel: ${NATIVE_COUNT} certificates issued to disk in ${seconds(batch.ms)} (${batchPerCert.toFixed(1)} ms/cert wall, ${cpuPerCert.toFixed(1)} ms/cert CPU, peak RSS ${batch.peakRssMb} MB)`);

    const seq = await perCert(pki, 'seq', SEQUENTIAL_SAMPLE, nativeRsaKeyGen, Infinity);
    out(`  native keygen, one at a time: ${seq.perCertMs.toFixed(1)} ms/cert (measured on ${seq.n}) -> ${NATIVE_COUNT} ≈ ${seconds(seq.perCertMs * NATIVE_COUNT)}`);

    const signMs = await signingCost(pki);
    out(`  of each certificate, node-forge signing alone: ${signMs.toFixed(1)} ms (measured on ${SIGN_SAMPLE})`);

    const left = TOTAL_BUDGET_MS - (Date.now() - started);
    const forgeBudget = Math.min(FORGE_BUDGET_MS.max, Math.max(FORGE_BUDGET_MS.min, left));
    const forge = await perCert(pki, 'forge', FORGE_SAMPLE, forgeRsaKeyGen, forgeBudget);
    const forgeTotal = forge.perCertMs * NATIVE_COUNT;
    out(`  forge keygen (pure JS, single-threaded): ${forge.perCertMs.toFixed(0)} ms/cert, MEASURED ON ${forge.n} certificates only`);
    out(`    -> ${NATIVE_COUNT} certificates ≈ ${seconds(forgeTotal)} (${(forgeTotal / 60_000).toFixed(1)} min), EXTRAPOLATED from the ${forge.n}-certificate sample`);
    out(`  native is ${(forge.perCertMs / seq.perCertMs).toFixed(1)}x faster one at a time, ${(forgeTotal / batch.ms).toFixed(1)}x faster as a parallel batch`);
    report('pki', {
      certs: NATIVE_COUNT,
      native_batch_ms: batch.ms,
      native_ms_per_cert: batchPerCert.toFixed(1),
      native_cpu_ms_per_cert: cpuPerCert.toFixed(1),
      load_avg_1m: os.loadavg()[0].toFixed(1),
      native_sequential_ms_per_cert: seq.perCertMs.toFixed(1),
      forge_sign_ms_per_cert: signMs.toFixed(1),
      forge_keygen_sample: forge.n,
      forge_ms_per_cert: forge.perCertMs.toFixed(0),
      forge_1000_ms_extrapolated: Math.round(forgeTotal),
      bench_total_s: ((Date.now() - started) / 1000).toFixed(0),
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Issues certificates one at a time (each a complete issue: key, certificate,
 * files) until `max` are done or the budget is spent (but at least the minimum).
 */
async function perCert(pki: string, prefix: string, max: number, keyGen: KeyGenerator, budgetMs: number): Promise<{ n: number; perCertMs: number }> {
  const t0 = Date.now();
  let n = 0;
  for (const name of names(prefix, max)) {
    await issueIdentities(pki, [service(name)], { trustDomain: TRUST_DOMAIN, keyGen, concurrency: 1 });
    n++;
    if (Date.now() - t0 > budgetMs && n >= FORGE_MIN_SAMPLE) break;
  }
  return { n, perCertMs: (Date.now() - t0) / n };
}

/** Signing cost alone: one pre-generated key reused, so only forge's certificate work is timed. */
async function signingCost(pki: string): Promise<number> {
  const keys: KeyPairPem = await nativeRsaKeyGen();
  const reuse: KeyGenerator = async () => keys;
  const ca = loadSigningCa(pki);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < SIGN_SAMPLE; i++) {
    await mintLeaf(ca, service(`sign-${i}`), { trustDomain: TRUST_DOMAIN, keyGen: reuse });
  }
  return Number(process.hrtime.bigint() - t0) / 1e6 / SIGN_SAMPLE;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

if (require.main === module) void run();
