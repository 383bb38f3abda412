/** The mesh of fixtures/tap with real Envoy sidecars (local processes) and bank's app in this process: shared by tap.test.ts and events.test.ts. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { parse } from 'yaml';
import { probe, type ProbeResult } from '../../src/compose/probe';
import type { Registration } from '../../src/sdk/registration';
import { adminRequest, type AdminClientOptions } from '../../src/xds/admin-client';
import type { TapRecord } from '../../src/tap/record';
import { eventually, registerInstance, setUp, upInSync, type Setup } from './harness';

export const TAP_MESH = path.join(__dirname, '..', '..', '..', 'test', 'envoy-real', 'fixtures', 'tap');

export interface TapWorld {
  setup: Setup;
  client: AdminClientOptions;
  app: { slowMs: number; failing: boolean; received: number };
  registration: Registration;
  server: http.Server;
  bankMeshPort: number;
}

/** The mesh of fixtures/tap up and in sync, bank's app in this process and registered. */
export async function startTapWorld(): Promise<TapWorld> {
  const setup = await setUp('local', undefined, TAP_MESH);
  const rt = setup.runtime;
  const manifest = (name: string): { port: number; mesh_port: number } => parse(fs.readFileSync(path.join(rt.meshDir, 'services', `${name}.yml`), 'utf8'));
  const app = { slowMs: 0, failing: false, received: 0 };
  const server = http.createServer((req, res) => {
    app.received++;
    req.resume();
    const answer = (): void => void res.writeHead(app.failing ? 500 : 200, { 'content-type': 'text/plain' }).end(app.failing ? 'failing' : 'ok');
    req.on('end', () => (app.slowMs > 0 ? setTimeout(answer, app.slowMs) : answer()));
  });
  await new Promise<void>((r) => server.listen(manifest('bank').port, '127.0.0.1', () => r()));
  const client = await upInSync(setup);
  const registration = await registerInstance(setup, 'tap.test', { service: 'bank', version: 'v1', address: '127.0.0.1', port: manifest('bank').mesh_port });
  const world = { setup, client, app, registration, server, bankMeshPort: manifest('bank').mesh_port };
  await eventually('payer -> bank answers 200', 60_000, async () => ((await callBank(world)).status === 200 ? true : undefined));
  return world;
}

export async function stopTapWorld(w: TapWorld | undefined): Promise<void> {
  await w?.registration.stop().catch(() => undefined);
  await w?.setup.runtime.down();
  w?.server.close();
  if (w && process.env.HMS_ENVOY_KEEP !== '1') fs.rmSync(w.setup.workDir, { recursive: true, force: true });
}

export function callBank(w: TapWorld, p = '/pay'): Promise<ProbeResult> {
  const payer = w.setup.runtime.nodes.find((n) => n.node === 'payer')!;
  return probe({ host: '127.0.0.1', port: payer.outboundPort, authority: 'bank', method: 'GET', path: p });
}

export async function records(w: TapWorld, query: string): Promise<TapRecord[]> {
  const r = await adminRequest<{ records: TapRecord[] }>(w.client, 'GET', `/v1/tap/records?${query}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.records;
}

export async function metricsText(w: TapWorld): Promise<string> {
  const r = await adminRequest<string>(w.client, 'GET', '/metrics');
  return r.body;
}

export function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
