/**
 * `npm run bench -- guardrail`: what the compliance guardrail (the Lua filter
 * of src/envoy/filters/guardrail.ts, with the script the compiler emits) adds
 * to a request through a real Envoy, against the same path without it.
 *
 * One Envoy (`--concurrency 1`: one worker, one core) with two listeners that
 * differ only in the guardrail filter, both routing to one upstream (a Node
 * process of its own that drains the body and answers 200). Clean bodies, so
 * the whole body is scanned (a match would stop early): 1 KB and 1 MB of
 * mostly text, and 1 MB of numbers (ids, phone numbers, dates), under
 * a rule with both detectors, headers and body, a 1 MiB window.
 *   - latency: one request in flight, p50/p99 of each path, and the added p50/p99;
 *   - requests/s: 16 in flight for a fixed time, 1 KB bodies.
 * Each figure is printed with its target and met/MISSED; a miss is reported, not an error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { detectEnvoyBin } from '../src/compose/availability';
import { freeRange } from '../src/compose/free-ports';
import { guardrailFilter, guardrailPerVirtualHost } from '../src/envoy/filters/guardrail';
import type { NodeIR } from '../src/ir/types';
import { report } from './measure';

const TARGET = { addedP99Ms1k: 1, addedP99Ms1m: 50, rpsRatio1k: 0.7 };
const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
const LATENCY_REQUESTS = { '1k': 2000, '1m': 100, '1m-numbers': 100 } as const;
const RPS_SECONDS = 3;
const RPS_IN_FLIGHT = 16;

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

/** The node the compiler would build, reduced to what the guardrail filter reads. */
const NODE = {
  kind: 'envoy', service: 'bench-caller',
  outbound: { virtualHosts: [], guardrails: [{ callee: 'bench-callee', external: false, rules: [{ name: 'bench-pii', detect: ['card_number', 'us_ssn'], inspectHeaders: true, inspectBody: true, maxBodyBytes: 1_048_576, failClosed: true, pos: { file: 'bench', line: 1, col: 1 } }] }] },
} as unknown as NodeIR;

function listener(name: string, port: number, upstreamPort: number, guarded: boolean): Record<string, unknown> {
  const lua = guarded ? [guardrailFilter.build({ chain: 'envoy-outbound', node: NODE })!] : [];
  const vh = { name: 'callee', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'upstream' } }], ...(guarded ? { typed_per_filter_config: guardrailPerVirtualHost(NODE, 'bench-callee') } : {}) };
  return {
    name, address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      stat_prefix: name, route_config: { virtual_hosts: [vh] },
      http_filters: [...lua, { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
    } }] }],
    void: upstreamPort,
  };
}

export function bootstrap(plain: number, guarded: number, upstream: number): Record<string, unknown> {
  const strip = (l: Record<string, unknown>): Record<string, unknown> => { const { void: _v, ...rest } = l; return rest; };
  return {
    static_resources: {
      listeners: [strip(listener('plain', plain, upstream, false)), strip(listener('guarded', guarded, upstream, true))],
      clusters: [{ name: 'upstream', type: 'STATIC', connect_timeout: '1s', load_assignment: { cluster_name: 'upstream', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: upstream } } } }] }] } }],
    },
  };
}

const UPSTREAM = `require('http').createServer((q, s) => { q.on('data', () => {}); q.on('end', () => s.end('ok')); }).listen(Number(process.argv[1]), '127.0.0.1', () => console.log('ready'));`;

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!(await fn().catch(() => false))) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what} not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: RPS_IN_FLIGHT });

function post(port: number, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port, path: '/pay', method: 'POST', agent, headers: { host: 'bench-callee', 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - t0) / 1e6) : reject(new Error(`status ${res.statusCode}: ${text.slice(0, 200)}`))));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Mostly text: the scan skips most of it. `numbers`: ids, phone numbers and dates, runs the detectors must look at (still clean). */
function cleanBody(bytes: number, numbers = false): Buffer {
  const unit = numbers ? '{"id":123456,"phone":"555-123-4567","t":"2026-12-07 10:00"},' : '{"payee":"County Water Board","ref":"INV-2026-0042","usd":1234.56,"memo":"quarterly grant"},';
  return Buffer.from(`[${unit.repeat(Math.ceil(bytes / unit.length)).slice(0, bytes - 2)}]`);
}

async function latencies(port: number, body: Buffer, n: number): Promise<number[]> {
  for (let i = 0; i < Math.min(50, n); i++) await post(port, body); // warm-up: connections, LuaJIT
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await post(port, body));
  return out;
}

async function rps(port: number, body: Buffer): Promise<number> {
  const end = Date.now() + RPS_SECONDS * 1000;
  let done = 0;
  await Promise.all(Array.from({ length: RPS_IN_FLIGHT }, async () => {
    while (Date.now() < end) {
      await post(port, body);
      done++;
    }
  }));
  return Math.round(done / RPS_SECONDS);
}

export async function run(): Promise<void> {
  const envoy = detectEnvoyBin();
  if (!envoy.bin) {
    report('guardrail', { skipped: `"${envoy.why}"` });
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-bench-guardrail-'));
  const base = await freeRange(3);
  const [plain, guarded, upstream] = [base, base + 1, base + 2];
  fs.writeFileSync(path.join(dir, 'envoy.json'), JSON.stringify(bootstrap(plain, guarded, upstream)));
  const procs: ChildProcess[] = [];
  try {
    procs.push(spawn(process.execPath, ['-e', UPSTREAM, String(upstream)], { stdio: 'ignore' }));
    procs.push(spawn(envoy.bin, ['-c', path.join(dir, 'envoy.json'), '--concurrency', '1', '--use-dynamic-base-id', '-l', 'error'], { stdio: ['ignore', 'ignore', 'inherit'] }));
    await waitFor('envoy', async () => (await post(guarded, cleanBody(100))) > 0 && (await post(plain, cleanBody(100))) > 0);
    for (const [label, bytes] of [['1k', 1024], ['1m', 1_048_576 - 1], ['1m-numbers', 1_048_576 - 1]] as const) {
      const body = cleanBody(bytes, label === '1m-numbers');
      const without = await latencies(plain, body, LATENCY_REQUESTS[label]);
      const withRule = await latencies(guarded, body, LATENCY_REQUESTS[label]);
      const added = (p: number): number => Number((percentile(withRule, p) - percentile(without, p)).toFixed(3));
      const target = label === '1k' ? TARGET.addedP99Ms1k : TARGET.addedP99Ms1m;
      report(`guardrail-latency-${label}`, {
        requests: LATENCY_REQUESTS[label],
        without_p50_ms: percentile(without, 50).toFixed(3), without_p99_ms: percentile(without, 99).toFixed(3),
        with_p50_ms: percentile(withRule, 50).toFixed(3), with_p99_ms: percentile(withRule, 99).toFixed(3),
        added_p50_ms: added(50), added_p99_ms: added(99), target_added_p99_ms: target, verdict: verdict(added(99) <= target),
      });
    }
    const small = cleanBody(1024);
    const rpsWithout = await rps(plain, small);
    const rpsWith = await rps(guarded, small);
    const ratio = rpsWith / rpsWithout;
    report('guardrail-rps-1k', { envoy_workers: 1, in_flight: RPS_IN_FLIGHT, seconds: RPS_SECONDS, rps_without: rpsWithout, rps_with: rpsWith, ratio: ratio.toFixed(2), target_ratio: TARGET.rpsRatio1k, verdict: verdict(ratio >= TARGET.rpsRatio1k) });
  } finally {
    agent.destroy();
    for (const p of procs) p.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
