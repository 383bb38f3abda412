/**
 * `mesh diff` as data: two compiled meshes -> per node, the resources added,
 * removed and changed, each change with its JSON path, old and new value,
 * and the source lines behind it (blame.ts). Pure: the CLI materialises the
 * two revisions and prints the result.
 */
import { parse as parseYaml } from 'yaml';
import { RESOURCE_KINDS, resourceName, type NodeOutput } from '../../envoy';
import type { NodeKind } from '../../ir/types';
import type { Provenance } from '../../model/types';
import { compareStrings } from '../../ir/sort';
import type { ReviewInput } from '../load';
import { provenanceJson, type ProvenanceJson } from '../provenance';
import { blame, blameRules, type BlameKind, type BlameRule } from './blame';
import { diffJson, formatPath, type ChangeOp, type PathSeg } from './json-diff';

/** One side of the diff; `input` absent when the revision has no mesh (every node is then added or removed). */
export interface DiffSide {
  readonly label: string;
  readonly input?: ReviewInput;
}

export interface Cause {
  /** `new`: the line in the new revision; `old`: the line the old revision had (removed or replaced). */
  readonly side: 'old' | 'new';
  readonly from: ProvenanceJson;
  /** The source line's text, when the file has it. */
  readonly text?: string;
}

export interface FieldChange {
  readonly path: string;
  readonly op: ChangeOp;
  readonly old?: unknown;
  readonly new?: unknown;
  readonly causes: readonly Cause[];
}

export type ResourceStatus = 'added' | 'removed' | 'changed';

export interface ResourceChange {
  readonly kind: BlameKind;
  readonly name: string;
  readonly status: ResourceStatus;
  /** Field-level changes (empty for added and removed resources). */
  readonly fields: readonly FieldChange[];
  /** Why the resource exists (added), existed (removed), or every cause of its field changes. */
  readonly causes: readonly Cause[];
}

export type NodeStatus = ResourceStatus | 'unchanged';

export interface NodeDiff {
  readonly node: string;
  readonly kind: NodeKind;
  readonly status: NodeStatus;
  readonly resources: readonly ResourceChange[];
}

export interface MeshDiff {
  readonly old: string;
  readonly new: string;
  /** Every node of either side, sorted by id; unchanged nodes included. */
  readonly nodes: readonly NodeDiff[];
  readonly summary: { readonly [S in NodeStatus]: number };
}

/** What one side knows about one node: its resources as JSON by (kind, name), and how to blame them. */
interface NodeView {
  readonly node: NodeOutput;
  readonly resources: Map<string, { kind: BlameKind; name: string; json: unknown }>;
  readonly rules: readonly BlameRule[];
  readonly input: ReviewInput;
}

export function diffMeshes(oldSide: DiffSide, newSide: DiffSide): MeshDiff {
  const before = views(oldSide.input);
  const after = views(newSide.input);
  const ids = [...new Set([...before.keys(), ...after.keys()])].sort(compareStrings);
  const nodes = ids.map((id) => diffNode(id, before.get(id), after.get(id)));
  const summary = { added: 0, removed: 0, changed: 0, unchanged: 0 };
  for (const n of nodes) summary[n.status]++;
  return { old: oldSide.label, new: newSide.label, nodes, summary };
}

function views(input: ReviewInput | undefined): Map<string, NodeView> {
  const out = new Map<string, NodeView>();
  if (!input) return out;
  const nodes = input.compiled.nodes;
  for (const node of nodes) {
    out.set(node.id, { node, resources: resourcesOf(node), rules: blameRules(node, nodes, input.model), input });
  }
  return out;
}

function resourcesOf(node: NodeOutput): NodeView['resources'] {
  const map: NodeView['resources'] = new Map();
  for (const kind of RESOURCE_KINDS) {
    for (const r of node.resources[kind]) map.set(`${kind}/${resourceName(r)}`, { kind, name: resourceName(r), json: r });
  }
  // The bootstrap is diffed as data too: a reviewer wants `admin.address.socket_address.port_value`, not a text diff.
  if (node.bootstrap) {
    const json = (node.bootstrap.fileName.endsWith('.json') ? JSON.parse(node.bootstrap.text) : parseYaml(node.bootstrap.text)) as Record<string, unknown>;
    // The generated-file marker ("//" in JSON, a comment in YAML) names the sources; it configures nothing.
    const { '//': _marker, ...config } = json;
    map.set('bootstrap/bootstrap', { kind: 'bootstrap', name: 'bootstrap', json: config });
  }
  return map;
}

function diffNode(id: string, before: NodeView | undefined, after: NodeView | undefined): NodeDiff {
  const kind = (after ?? before)!.node.kind;
  const keys = [...new Set([...(before?.resources.keys() ?? []), ...(after?.resources.keys() ?? [])])].sort(compareStrings);
  const resources = keys.flatMap((key) => {
    const change = diffResource(before, after, key);
    return change ? [change] : [];
  });
  const status: NodeStatus = !before ? 'added' : !after ? 'removed' : resources.length ? 'changed' : 'unchanged';
  return { node: id, kind, status, resources };
}

function diffResource(before: NodeView | undefined, after: NodeView | undefined, key: string): ResourceChange | undefined {
  const a = before?.resources.get(key);
  const b = after?.resources.get(key);
  const { kind, name } = (b ?? a)!;
  if (!a) return { kind, name, status: 'added', fields: [], causes: causesOf(after!, kind, name, [], 'new') };
  if (!b) return { kind, name, status: 'removed', fields: [], causes: causesOf(before!, kind, name, [], 'old') };
  const fields = diffJson(a.json, b.json).map((c) => fieldChange(c.path, c.op, c.old, c.new, before!, after!, kind, name));
  if (fields.length === 0) return undefined;
  return { kind, name, status: 'changed', fields, causes: dedupeCauses(fields.flatMap((f) => f.causes)) };
}

function fieldChange(
  path: readonly PathSeg[], op: ChangeOp, oldValue: unknown, newValue: unknown,
  before: NodeView, after: NodeView, kind: BlameKind, name: string,
): FieldChange {
  const now = op === 'removed' ? [] : causesOf(after, kind, name, path, 'new');
  // The old side's lines matter when they differ from the new ones: a removed line, or a default that replaced one.
  const was = op === 'added' ? [] : causesOf(before, kind, name, path, 'old');
  const oldOnly = was.filter((w) => !now.some((c) => sameJson(c.from, w.from) && c.text === w.text));
  return {
    path: formatPath(path),
    op,
    ...(op !== 'added' ? { old: oldValue } : {}),
    ...(op !== 'removed' ? { new: newValue } : {}),
    causes: [...now, ...oldOnly],
  };
}

function causesOf(view: NodeView, kind: BlameKind, name: string, path: readonly PathSeg[], side: Cause['side']): Cause[] {
  return blame(view.rules, kind, name, path).map((from) => cause(view, from, side));
}

function cause(view: NodeView, from: Provenance, side: Cause['side']): Cause {
  const text = from.kind === 'builtin' ? undefined : view.input.lines.line(from.pos);
  return { side, from: provenanceJson(from), ...(text !== undefined ? { text } : {}) };
}

function sameJson(a: ProvenanceJson, b: ProvenanceJson): boolean {
  return a.kind === b.kind && a.file === b.file && a.line === b.line && a.col === b.col;
}

function dedupeCauses(list: readonly Cause[]): Cause[] {
  const out: Cause[] = [];
  for (const c of list) if (!out.some((o) => o.side === c.side && sameJson(o.from, c.from))) out.push(c);
  return out;
}
