/**
 * Mesh overlays: the example's own sources, with the few settings that differ
 * where the sidecars run, edited the way an operator would (YAML document API,
 * comments kept) and marked as generated. Everything else (policies,
 * services, versions) is the source verbatim, so the composition and the
 * local-process mode compile the same mesh as `mesh build`.
 *
 *   compose: control_plane.address is the control plane's service name;
 *            pki_dir is where the containers mount the PKI; a static
 *            endpoint on loopback at its own service's mesh_port ("this
 *            host's sidecar" in the single-host example) becomes that
 *            service's sidecar address on the compose network.
 *   local:   every port is moved to one the runner found free (control
 *            plane, outbound, admin, each manifest's port, mesh_port and
 *            sidecar ports),
 *            and pki_dir is the absolute path of the test's PKI store.
 */
import * as path from 'node:path';
import { isMap, isSeq, parseDocument, type Document } from 'yaml';
import type { MeshModel, ServiceManifest } from '../model/types';

/** Relative path (mesh.yml, mesh_policies.yml, services/<f>.yml) -> text, as `mesh apply` sends them. */
export type MeshSources = Readonly<Record<string, string>>;

export const SETTINGS_FILE = 'mesh.yml';

export interface EndpointRewrite {
  readonly address: string;
  readonly port: number;
}

export interface OverlaySpec {
  /** What the mesh.yml edits are, for the generated marker. */
  readonly describe: string;
  readonly settings: (doc: Document) => void;
  /** Manifest edits (ports), per service; returns what it changed, for the marker. */
  readonly manifest?: (svc: ServiceManifest, doc: Document) => string[];
  /**
   * A static endpoint on loopback: where it lives in the overlay. `undefined`
   * keeps it as written, with a warning (it cannot work there).
   */
  readonly loopbackEndpoint: (svc: ServiceManifest, port: number) => EndpointRewrite | undefined;
  /** Where the overlay will live (for the `$schema` modelines), and where the sources live. */
  readonly fromDir: string;
  readonly toDir: string;
}

export interface OverlayResult {
  readonly sources: Record<string, string>;
  /**
   * What the overlay could not carry over, as `file:line:col: note: ...`
   * (e.g. a loopback endpoint that is not a sidecar). Not catalogue
   * diagnostics: the composition is a development aid, its notes never fail a build.
   */
  readonly notes: string[];
}

export function isLoopback(address: string): boolean {
  return address === 'localhost' || address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}

/** Applies an overlay to the mesh's sources; files nothing changes are copied with only their modeline moved. */
export function overlayMesh(model: MeshModel, sources: MeshSources, spec: OverlaySpec): OverlayResult {
  const out: Record<string, string> = {};
  const notes: string[] = [];
  const byName = new Map(model.services.map((s) => [s.name, s]));
  const settingsText = sources[SETTINGS_FILE] ?? sources['mesh.yaml'] ?? '';
  for (const [rel, text] of Object.entries(sources)) {
    if (rel === 'mesh.yaml') continue; // folded into mesh.yml below
    if (rel === SETTINGS_FILE) continue;
    const doc = parseDocument(text);
    const name = rel.startsWith('services/') ? doc.get('name') : undefined;
    const svc = typeof name === 'string' ? byName.get(name) : undefined;
    if (!svc) {
      out[rel] = marked(moveModeline(text, rel, spec), `a copy of the mesh's ${rel}`);
      continue;
    }
    const changes = editManifest(doc, svc, spec, notes);
    if (spec.manifest) changes.push(...spec.manifest(svc, doc));
    out[rel] = changes.length === 0
      ? marked(moveModeline(text, rel, spec), `a copy of the mesh's ${rel}`)
      : marked(moveModeline(doc.toString(), rel, spec), `the mesh's ${rel} with ${changes.join('; ')}`);
  }
  const settings = parseDocument(settingsText);
  if (!isMap(settings.contents)) settings.contents = settings.createNode({}) as unknown as typeof settings.contents;
  spec.settings(settings);
  out[SETTINGS_FILE] = marked(moveModeline(settings.toString(), SETTINGS_FILE, spec), `the mesh's ${SETTINGS_FILE} with ${spec.describe}`);
  return { sources: sortedRecord(out), notes };
}

function editManifest(doc: Document, svc: ServiceManifest, spec: OverlaySpec, notes: string[]): string[] {
  const changes: string[] = [];
  const endpoints = doc.get('endpoints');
  if (!isSeq(endpoints)) return changes;
  // The model keeps the file's order (src/config/build-model.ts): item i is endpoints[i] of the document.
  svc.endpoints.forEach((ep, i) => {
    if (!isLoopback(ep.address)) return;
    const to = spec.loopbackEndpoint(svc, ep.port);
    if (!to) {
      notes.push(`${ep.pos.file}:${ep.pos.line}:${ep.pos.col}: note: static endpoint ${ep.address}:${ep.port} of ${svc.name} is on loopback but is not its own sidecar (mesh_port ${svc.meshPort}); where each sidecar has its own network it points at nothing (give it a routable address, or let the instance register itself)`);
      return;
    }
    doc.setIn(['endpoints', i, 'address'], to.address);
    doc.setIn(['endpoints', i, 'port'], to.port);
    changes.push(`endpoints[${i}] ${ep.address}:${ep.port} -> ${to.address}:${to.port}`);
  });
  return changes;
}

/** `# yaml-language-server: $schema=<relative path>` keeps pointing at schemas/ from the overlay's folder. */
function moveModeline(text: string, rel: string, spec: OverlaySpec): string {
  return text.replace(/(\$schema=)(\S+)/, (all, key: string, target: string) => {
    if (/^[a-z]+:\/\//.test(target) || path.isAbsolute(target)) return all;
    const abs = path.resolve(spec.fromDir, path.dirname(rel), target);
    return `${key}${path.relative(path.resolve(spec.toDir, path.dirname(rel)), abs).split(path.sep).join('/')}`;
  });
}

function marked(text: string, what: string): string {
  return `# generated by HMS-SVC: ${what}; edit the source mesh, not this copy\n${text}`;
}

function sortedRecord(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]!]));
}
