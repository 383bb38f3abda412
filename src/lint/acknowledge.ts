/**
 * `acknowledge: [MESH070]` in a service manifest: a warning about that service
 * that was reviewed and accepted is reported as info, with where it was
 * acknowledged, so `mesh lint --strict` can gate CI on new warnings while the
 * known gaps stay visible. Per service and per code, never mesh-wide: a new
 * service with the same gap must be reviewed on its own.
 */
import { diagAt, type Diagnostic } from '../diag/diagnostic';
import type { MeshModel } from '../model/types';

/** Codes a manifest may acknowledge (schemas/service.schema.json lists the same): warnings about one service. */
export const ACKNOWLEDGEABLE = ['MESH045', 'MESH070'] as const;

/** Every warning with a `subject` whose manifest acknowledges its code becomes info; stale acknowledgements are MESH071. */
export function applyAcknowledgements(model: MeshModel, diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const byService = new Map(model.services.map((s) => [s.name, s]));
  const used = new Set<string>();
  const out = diagnostics.map((d) => {
    const svc = d.subject !== undefined ? byService.get(d.subject) : undefined;
    const ack = svc?.acknowledge.find((a) => a.code === d.code);
    if (!svc || !ack || d.severity !== 'warning') return d;
    used.add(`${svc.name}\0${d.code}`);
    const { hint: _hint, ...rest } = d;
    return { ...rest, severity: 'info' as const, message: `${d.message} (acknowledged in ${svc.file}:${ack.pos.line})` };
  });
  for (const svc of model.services) {
    for (const ack of svc.acknowledge) {
      if (used.has(`${svc.name}\0${ack.code}`)) continue;
      out.push(
        diagAt(ack.pos, 'warning', 'MESH071', `${svc.name} acknowledges ${ack.code}, but lint reports no ${ack.code} about ${svc.name}`, {
          path: 'acknowledge',
          hint: `remove ${ack.code} from acknowledge in ${svc.file}: a stale acknowledgement would hide the next such warning unreviewed`,
        }),
      );
    }
  }
  return out;
}
