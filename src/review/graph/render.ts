/**
 * MeshGraph -> Graphviz DOT, Mermaid, or SVG (DOT laid out by Graphviz
 * compiled to WebAssembly, @viz-js/viz: no browser, no native binary).
 *
 * Styles, in one place so the three formats agree:
 *   call    solid, dark        declared and allowed
 *   denied  dashed, red        declared, refused by the callee's access policy
 *   unused  dotted, grey       allowed by the callee, not declared by the caller
 * Proxyless gRPC services get a different fill than Envoy sidecars.
 */
import type { EdgeKind, GraphEdge, GraphNode, MeshGraph } from './graph';

export type GraphFormat = 'mermaid' | 'dot' | 'svg';
export const GRAPH_FORMATS: readonly GraphFormat[] = ['mermaid', 'dot', 'svg'];

const EDGE_STYLE: Record<EdgeKind, { color: string; style: 'solid' | 'dashed' | 'dotted' }> = {
  call: { color: '#1f2937', style: 'solid' },
  denied: { color: '#dc2626', style: 'dashed' },
  unused: { color: '#9ca3af', style: 'dotted' },
};

const FILL: Record<GraphNode['kind'], string> = { envoy: '#e0ecff', grpc: '#dcfce7', gateway: '#fef3c7', external: '#f3f4f6' };

/** One item per line: a short line overflows less when the viewer's font is wider than Graphviz assumed. */
const LEGEND = ['solid: declared and allowed', 'dashed red: declared but denied', 'dotted grey: allowed, not called', 'green: proxyless gRPC'];
/** Only for the kinds a mesh has, so a mesh without them draws as before. */
const KIND_LEGEND: Partial<Record<GraphNode['kind'], string>> = { gateway: 'amber: ingress gateway', external: 'grey: external system' };

function legendOf(g: MeshGraph): string[] {
  const kinds = new Set(g.nodes.map((n) => n.kind));
  return [...LEGEND, ...Object.entries(KIND_LEGEND).filter(([k]) => kinds.has(k as GraphNode['kind'])).map(([, v]) => v!)];
}

/** DOT shapes: services are rounded boxes, a gateway (the way in) a house pointing into the mesh, an external system a component box. */
const DOT_SHAPE: Partial<Record<GraphNode['kind'], string>> = { gateway: 'shape=cds, style="filled"', external: 'shape=component, style="filled,dashed"' };

function nodeLines(n: GraphNode): string[] {
  const second = n.detail ?? `${n.versions.join(', ')}${n.kind === 'grpc' ? ' · gRPC' : ''}`;
  return [n.id, second, ...(n.rateLimit ? [`limit ${n.rateLimit}`] : [])];
}

export function toDot(g: MeshGraph): string {
  const out = [
    `digraph ${dotId(g.mesh)} {`,
    // pad: room for fonts wider than Graphviz's Helvetica metrics (rsvg and browsers substitute fonts).
    `  graph [rankdir=LR, fontname="Helvetica", fontsize=12, labelloc=t, labeljust=l, pad=0.3, nodesep=0.4, ranksep=1.1, label=${dotLeftLines([`${g.mesh}: who may call whom`, ...legendOf(g)])}];`,
    '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=12, color="#374151"];',
    '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.7];',
  ];
  for (const n of g.nodes) out.push(`  ${dotId(n.id)} [label=${dotString(nodeLines(n).join('\n'))}, fillcolor="${FILL[n.kind]}"${DOT_SHAPE[n.kind] ? `, ${DOT_SHAPE[n.kind]}` : ''}];`);
  for (const e of g.edges) out.push(`  ${dotId(e.from)} -> ${dotId(e.to)} [${dotEdgeAttrs(e)}];`);
  out.push('}');
  return out.join('\n') + '\n';
}

function dotEdgeAttrs(e: GraphEdge): string {
  const s = EDGE_STYLE[e.kind];
  const attrs = [`label=${dotString(e.labels.join('\n'))}`, `color="${s.color}"`, `fontcolor="${s.color}"`, `style=${s.style}`, `class="edge-${e.kind}"`];
  if (e.kind === 'denied') attrs.push('penwidth=1.6');
  return attrs.join(', ');
}

/** Every id is quoted: service names contain `-`, which DOT ids may not. */
function dotId(s: string): string {
  return dotString(s);
}

function dotString(s: string): string {
  return `"${escapeDot(s).replace(/\n/g, '\\n')}"`;
}

/** Lines each ended by DOT's `\l` escape: left-justified. */
function dotLeftLines(lines: readonly string[]): string {
  return `"${lines.map((l) => `${escapeDot(l)}\\l`).join('')}"`;
}

function escapeDot(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/**
 * Mermaid flowchart. Node ids are `n<index>` because Mermaid reads `-` in an
 * id as the start of an arrow; the service name is the label. Edge styles are
 * set by `linkStyle <index>`, which counts edges in declaration order.
 */
export function toMermaid(g: MeshGraph): string {
  const id = new Map(g.nodes.map((n, i) => [n.id, `n${i}`]));
  const out = ['flowchart LR', `  %% ${g.mesh}: who may call whom. ${legendOf(g).join('; ')}`];
  for (const n of g.nodes) {
    const label = mermaidText(nodeLines(n).join('<br/>'));
    const [open, close] = MERMAID_SHAPE[n.kind];
    out.push(`  ${id.get(n.id)}${open}"${label}"${close}`);
  }
  g.edges.forEach((e) => {
    const arrow = e.kind === 'call' ? '-->' : '-.->';
    out.push(`  ${id.get(e.from)} ${arrow}|"${mermaidText(e.labels.join('<br/>'))}"| ${id.get(e.to)}`);
  });
  g.edges.forEach((e, i) => {
    const s = EDGE_STYLE[e.kind];
    const dash = e.kind === 'denied' ? ',stroke-dasharray:6 4' : e.kind === 'unused' ? ',stroke-dasharray:2 3' : '';
    out.push(`  linkStyle ${i} stroke:${s.color},color:${s.color}${dash}`);
  });
  for (const kind of ['envoy', 'grpc', 'gateway', 'external'] as const) {
    const members = g.nodes.filter((n) => n.kind === kind).map((n) => id.get(n.id));
    if (members.length) out.push(`  classDef ${kind} fill:${FILL[kind]},stroke:#374151`, `  class ${members.join(',')} ${kind}`);
  }
  return out.join('\n') + '\n';
}

/** Stadium for proxyless gRPC, trapezoid for a gateway, hexagon for an external system. */
const MERMAID_SHAPE: Record<GraphNode['kind'], readonly [string, string]> = { envoy: ['[', ']'], grpc: ['([', '])'], gateway: ['[/', '\\]'], external: ['{{', '}}'] };

/** Mermaid labels are in double quotes; a quote inside becomes the #quot; entity. */
function mermaidText(s: string): string {
  return s.replace(/"/g, '#quot;');
}

/** SVG by Graphviz (WebAssembly); loaded lazily so the other commands never pay for it. */
export async function toSvg(g: MeshGraph): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const viz = await (require('@viz-js/viz') as typeof import('@viz-js/viz')).instance();
  return viz.renderString(toDot(g), { format: 'svg', engine: 'dot' });
}

export async function renderGraph(g: MeshGraph, format: GraphFormat): Promise<string> {
  if (format === 'svg') return toSvg(g);
  return format === 'dot' ? toDot(g) : toMermaid(g);
}
