/**
 * `mesh diff` output: text for terminals, json for tools, markdown to paste
 * into a pull request comment. All three list every node, unchanged ones
 * included, in node id order.
 */
import { formatProvenance } from '../provenance';
import type { Cause, FieldChange, MeshDiff, NodeDiff, ResourceChange } from './mesh-diff';

export type DiffFormat = 'text' | 'json' | 'markdown';
export const DIFF_FORMATS: readonly DiffFormat[] = ['text', 'json', 'markdown'];

export function formatDiff(diff: MeshDiff, format: DiffFormat): string {
  if (format === 'json') return JSON.stringify(diff, null, 2) + '\n';
  return format === 'markdown' ? markdown(diff) : text(diff);
}

const MARK: Record<NodeDiff['status'], string> = { added: '+', removed: '-', changed: '~', unchanged: '=' };

function summaryLine(diff: MeshDiff): string {
  const s = diff.summary;
  const total = diff.nodes.length;
  return `${total} node(s): ${s.changed} changed, ${s.added} added, ${s.removed} removed, ${s.unchanged} unchanged`;
}

function text(diff: MeshDiff): string {
  const out = [`mesh diff ${diff.old} -> ${diff.new}`, summaryLine(diff), ''];
  for (const node of diff.nodes) {
    out.push(`${MARK[node.status]} ${node.node} (${node.kind}${node.status === 'changed' ? '' : `, ${node.status}`})`);
    for (const r of node.resources) out.push(...textResource(r));
  }
  return out.join('\n') + '\n';
}

function textResource(r: ResourceChange): string[] {
  const head = `    ${MARK[r.status]} ${r.kind}/${r.name}`;
  if (r.status !== 'changed') return [head, ...r.causes.map((c) => `        ${causeText(c)}`)];
  return [head, ...r.fields.flatMap(textField)];
}

function textField(f: FieldChange): string[] {
  const value =
    f.op === 'added' ? `added ${show(f.new)}` : f.op === 'removed' ? `removed (was ${show(f.old)})` : `${show(f.old)} -> ${show(f.new)}`;
  return [`        ${f.path}: ${value}`, ...f.causes.map((c) => `          ${causeText(c)}`)];
}

function causeText(c: Cause): string {
  const where = formatProvenance(c.from);
  const line = c.text !== undefined ? `  ${c.text}` : '';
  return `${c.side === 'old' ? 'was ' : ''}<- ${where}${line}`;
}

/** Compact JSON, cut to one readable line: the json format carries the whole value. */
function show(v: unknown, max = 100): string {
  const s = JSON.stringify(v) ?? 'undefined';
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

function markdown(diff: MeshDiff): string {
  const out = [
    `### mesh diff \`${diff.old}\` → \`${diff.new}\``,
    '',
    summaryLine(diff),
    '',
    '| node | kind | status | resources |',
    '| --- | --- | --- | --- |',
    ...diff.nodes.map((n) => `| \`${n.node}\` | ${n.kind} | ${n.status} | ${resourceCounts(n)} |`),
  ];
  for (const node of diff.nodes.filter((n) => n.status !== 'unchanged')) {
    out.push('', `#### \`${node.node}\` (${node.status})`, '');
    out.push('| resource | field | old | new | caused by |', '| --- | --- | --- | --- | --- |');
    for (const r of node.resources) out.push(...markdownRows(r));
  }
  return out.join('\n') + '\n';
}

function resourceCounts(n: NodeDiff): string {
  if (n.status === 'unchanged') return '—';
  const count = (s: ResourceChange['status']): number => n.resources.filter((r) => r.status === s).length;
  return (['added', 'removed', 'changed'] as const).flatMap((s) => (count(s) ? [`${count(s)} ${s}`] : [])).join(', ');
}

function markdownRows(r: ResourceChange): string[] {
  const res = code(`${r.kind}/${r.name}`);
  const causes = (cs: readonly Cause[]): string => cs.map(mdCause).join('<br>');
  if (r.status !== 'changed') {
    const cell = r.status === 'added' ? ['', '*added*'] : ['*removed*', ''];
    return [`| ${res} | | ${cell[0]} | ${cell[1]} | ${causes(r.causes)} |`];
  }
  return r.fields.map((f) => {
    const oldCell = f.op === 'added' ? '' : code(show(f.old, 60));
    const newCell = f.op === 'removed' ? '*removed*' : code(show(f.new, 60));
    return `| ${res} | ${code(f.path)} | ${oldCell} | ${newCell} | ${causes(f.causes)} |`;
  });
}

function mdCause(c: Cause): string {
  const where = code(formatProvenance(c.from));
  const line = c.text !== undefined ? ` ${code(c.text)}` : '';
  return `${c.side === 'old' ? 'was ' : ''}${where}${line}`;
}

/**
 * An inline code span safe inside a GFM table cell: `|` escaped (GFM lets a
 * cell escape pipes even in code spans), backticks can't close the span.
 */
function code(s: string): string {
  return '`' + s.replace(/`/g, "'").replace(/\|/g, '\\|') + '`';
}
