/**
 * `externals:` of mesh_policies.yml -> ExternalService[] (src/model/types.ts).
 * Runs on a schema-valid file only; each external's access, retries and
 * timeouts are resolved exactly as a service's (build-model.ts).
 */
import type { SourcePos } from '../diag/diagnostic';
import type { ExternalService } from '../model/types';
import { buildPoliciesFor } from './build-model';
import { valuePos } from './positions';
import type { SourceFile } from './source-file';

type Obj = Record<string, unknown>;

export function buildExternals(src: SourceFile | undefined): ExternalService[] {
  const section = (src?.value as Obj | undefined)?.externals as Record<string, Obj> | undefined;
  if (!src || !section) return [];
  const names = Object.keys(section).sort();
  const policies = new Map(buildPoliciesFor(src, names).map((p) => [p.service, p]));
  return names.map((name) => {
    const e = section[name]!;
    const tls = e.tls as Obj;
    const fieldPos: Record<string, SourcePos> = {};
    for (const k of Object.keys(e)) fieldPos[k] = valuePos(src, ['externals', name, k]);
    for (const k of Object.keys(tls)) fieldPos[`tls.${k}`] = valuePos(src, ['externals', name, 'tls', k]);
    const host = e.host as string;
    return {
      name,
      host,
      port: e.port as number,
      ...(e.address !== undefined ? { address: e.address as string } : {}),
      tls: {
        caFile: tls.ca_file as string,
        sni: (tls.sni as string | undefined) ?? host,
        subjectAltNames: [...((tls.subject_alt_names as string[] | undefined) ?? [host])].sort(),
      },
      policies: policies.get(name)!,
      pos: valuePos(src, ['externals', name]),
      fieldPos,
    };
  });
}
