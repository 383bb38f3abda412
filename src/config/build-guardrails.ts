/**
 * `guardrails:` of mesh_policies.yml -> GuardrailRule[] (src/model/types.ts).
 * Runs on a schema-valid file only; defaults are the schema's: to any callee,
 * headers and body, a 64 KiB window, fail closed.
 */
import type { SourcePos } from '../diag/diagnostic';
import type { GuardrailDetector, GuardrailRule } from '../model/types';
import { valuePos } from './positions';
import type { SourceFile } from './source-file';

type Obj = Record<string, unknown>;

export const GUARDRAIL_DEFAULT_WINDOW = 65_536;

export function buildGuardrails(src: SourceFile | undefined): GuardrailRule[] {
  const section = (src?.value as Obj | undefined)?.guardrails as Record<string, Obj> | undefined;
  if (!src || !section) return [];
  return Object.keys(section).sort().map((name) => {
    const g = section[name]!;
    const fieldPos: Record<string, SourcePos> = {};
    for (const k of Object.keys(g)) fieldPos[k] = valuePos(src, ['guardrails', name, k]);
    const inspect = (g.inspect as string[] | undefined) ?? ['headers', 'body'];
    const to = g.to as string | string[] | undefined;
    return {
      name,
      ...(g.from !== undefined ? { from: [...(g.from as string[])].sort() } : {}),
      to: Array.isArray(to) ? [...to].sort() : ((to ?? 'any') as 'any' | 'external'),
      detect: [...(g.detect as GuardrailDetector[])].sort(),
      inspectHeaders: inspect.includes('headers'),
      inspectBody: inspect.includes('body'),
      maxBodyBytes: (g.max_body_bytes as number | undefined) ?? GUARDRAIL_DEFAULT_WINDOW,
      failClosed: (g.fail ?? 'closed') === 'closed',
      pos: valuePos(src, ['guardrails', name]),
      fieldPos,
    };
  });
}
