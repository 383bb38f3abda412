/**
 * Reading a real Envoy from the outside, for the real-Envoy tests: counters
 * from its admin /stats text, JSON access-log lines from its stdout, and the
 * mesh sources the control plane serves, edited in place for `mesh apply`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import type { ProbeResult } from '../../src/compose/probe';

/** Sum of the counters whose names match, from Envoy's /stats text (`name: value` per line). */
export function statSum(text: string, name: RegExp): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^(\S+): (\d+)$/.exec(line.trim());
    if (m && name.test(m[1]!)) sum += Number(m[2]);
  }
  return sum;
}

/** Every JSON access-log entry (one per line on a sidecar's stdout). */
export function accessLogEntries(log: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of log.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      out.push(JSON.parse(t) as Record<string, unknown>);
    } catch {
      /* not an access-log line */
    }
  }
  return out;
}

/** The access-log entry of one request and direction. */
export function accessLog(log: string, traceId: string, direction: 'inbound' | 'outbound'): Record<string, unknown> | undefined {
  return accessLogEntries(log).find((e) => e['trace_id'] === traceId && e['direction'] === direction);
}

export function countBy(results: readonly ProbeResult[]): Map<number | string, number> {
  const m = new Map<number | string, number>();
  for (const r of results) m.set(r.status ?? 'no answer', (m.get(r.status ?? 'no answer') ?? 0) + 1);
  return m;
}

export function editPolicies(meshDir: string, edit: (doc: ReturnType<typeof parseDocument>) => void): void {
  const file = path.join(meshDir, 'mesh_policies.yml');
  const doc = parseDocument(fs.readFileSync(file, 'utf8'));
  edit(doc);
  fs.writeFileSync(file, doc.toString());
}
