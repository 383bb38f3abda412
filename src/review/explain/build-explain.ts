/**
 * `mesh build --explain`: beside each node's resources, `<node>/explain.json`
 * lists every policy value of the node's IR with where it came from, one
 * entry per value:
 *
 *   {"path": "outbound[grant-pay].timeoutMs", "value": 2000,
 *    "from": {"kind": "file", "file": "mesh_policies.yml", "line": 26, "col": 14}}
 *
 * Files are named relative to the mesh directory, so the bytes do not depend
 * on how the directory was spelled on the command line (the same rule as the
 * generated marker). Entries follow the IR's own (sorted) order: deterministic.
 * Written only with --explain, so `mesh build --check` without it keeps
 * comparing exactly the committed tree.
 */
import { generatedMarker, stableStringify, type CompileResult } from '../../envoy';
import type { NodeIR, Provenance, Valued } from '../../ir/types';
import { compareStrings } from '../../ir/sort';
import { provenanceJson, type ProvenanceJson } from '../provenance';

export const EXPLAIN_FILE = 'explain.json';

export interface ExplainEntry {
  readonly path: string;
  readonly value: unknown;
  readonly from: ProvenanceJson;
}

/** `tree` plus `<node>/explain.json` for every node, still in path order. */
export function withExplainFiles(tree: ReadonlyMap<string, string>, compiled: CompileResult, meshDisplayDir: string): Map<string, string> {
  const out = new Map(tree);
  const marker = generatedMarker(compiled.ir.sources);
  for (const node of compiled.nodes) {
    const doc = { '//': marker, node: node.id, entries: provenanceEntries(node.ir, meshDisplayDir) };
    out.set(`${node.id}/${EXPLAIN_FILE}`, stableStringify(doc));
  }
  return new Map([...out.entries()].sort(([a], [b]) => compareStrings(a, b)));
}

/** Every policy value of one node with its provenance (files relative to `meshDir`). */
export function provenanceEntries(ir: NodeIR, meshDir: string): ExplainEntry[] {
  const out: ExplainEntry[] = [];
  const add = (path: string, value: unknown, from: Provenance): void => {
    out.push({ path, value, from: provenanceJson(from, meshDir) });
  };
  const valued = (path: string, v: Valued<unknown> | undefined): void => {
    if (v) add(path, v.value, v.from);
  };
  const access = ir.inbound.access;
  add('inbound.access', access.allowed.map((a) => a.service), access.from);
  for (const a of access.allowed) add(`inbound.access.allow[${a.service}]`, a.spiffeId, a.from);
  valued('inbound.timeoutMs', ir.inbound.timeoutMs);
  const rl = ir.inbound.rateLimit;
  valued('inbound.rateLimit.rps', rl?.rps);
  valued('inbound.rateLimit.burst', rl?.burst);
  valued('inbound.rateLimit.fillIntervalMs', rl?.fillIntervalMs);
  for (const vh of ir.outbound.virtualHosts) {
    const at = `outbound[${vh.service}]`;
    add(`${at}.call`, vh.service, { kind: 'file', pos: vh.callPos });
    if (vh.split) add(`${at}.split`, Object.fromEntries(vh.targets.map((t) => [t.version ?? t.cluster, t.weight.value])), vh.split);
    for (const t of vh.targets) valued(`${at}.targets[${t.cluster}].weight`, t.weight);
    valued(`${at}.retry.numRetries`, vh.retry?.numRetries);
    valued(`${at}.retry.retryOn`, vh.retry?.retryOn);
    valued(`${at}.retry.perTryTimeoutMs`, vh.retry?.perTryTimeoutMs);
    valued(`${at}.timeoutMs`, vh.timeoutMs);
  }
  for (const c of ir.clusters) {
    const at = `clusters[${c.name}]`;
    valued(`${at}.connectTimeoutMs`, c.connectTimeoutMs);
    for (const [key, v] of Object.entries(c.outlier ?? {})) valued(`${at}.outlier.${key}`, v as Valued<unknown>);
    for (const [key, v] of Object.entries(c.limits ?? {})) valued(`${at}.limits.${key}`, v as Valued<unknown>);
  }
  for (const g of ir.gaps) add(`gaps[${g.policy}|${g.target}]`, g.reason, { kind: 'file', pos: g.pos });
  return out;
}
