/**
 * What every processor reads: the model plus lookups, and the options.
 * Built once per translation; read-only.
 */
import type { SourcePos } from '../diag/diagnostic';
import type { Gateway, MeshModel, Provenance, ServiceManifest, ServicePolicies, Valued } from '../model/types';

export interface TranslateOptions {
  /**
   * The PKI directory as nodes will see it at run time (bootstrap file paths).
   * Default: the mesh's pki dir resolved against the mesh directory.
   */
  readonly pkiDir?: string;
}

export interface TranslateContext {
  readonly model: MeshModel;
  readonly services: ReadonlyMap<string, ServiceManifest>;
  readonly policies: ReadonlyMap<string, ServicePolicies>;
  /** `gateways:` by name: callers in access rules like services (translate/gateway.ts). */
  readonly gateways: ReadonlyMap<string, Gateway>;
  readonly pkiDir: string;
}

export function buildContext(model: MeshModel, opts: TranslateOptions = {}): TranslateContext {
  return {
    model,
    services: new Map(model.services.map((s) => [s.name, s])),
    policies: new Map(model.policies.map((p) => [p.service, p])),
    gateways: new Map((model.gateways ?? []).map((g) => [g.name, g])),
    // As written in mesh.yml: an absolute path would make out/ differ between machines.
    // A relative pki_dir is resolved by each node process from its working directory.
    pkiDir: opts.pkiDir ?? model.settings.pkiDir,
  };
}

export const BUILTIN: Provenance = { kind: 'builtin' };

export function builtin<T>(value: T): Valued<T> {
  return { value, from: BUILTIN };
}

export function fromFile<T>(value: T, pos: SourcePos): Valued<T> {
  return { value, from: { kind: 'file', pos } };
}

/** Provenance of a policy block: the file position when it has one, else builtin. */
export function provenanceOf(pos: SourcePos | undefined): Provenance {
  return pos ? { kind: 'file', pos } : BUILTIN;
}

/** The source position a provenance points at, if any. */
export function posOf(from: Provenance): SourcePos | undefined {
  return from.kind === 'builtin' ? undefined : from.pos;
}
