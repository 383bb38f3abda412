/** `mesh graph` as a library: the who-may-call-whom graph of a mesh and its renderings. */
export { meshGraph, seconds, type MeshGraph, type GraphNode, type GraphEdge, type EdgeKind } from './graph';
export { renderGraph, toDot, toMermaid, toSvg, GRAPH_FORMATS, type GraphFormat } from './render';
