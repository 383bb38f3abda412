/**
 * The guardrail rules on a call, for `mesh explain`: which rules the caller's
 * sidecar runs on requests to the callee (read from the compiled virtual
 * host: its Lua script is there, or the filter is disabled), and whether the
 * request's headers would be refused. The detectors follow
 * docs/policy-language.md ("Compliance guardrail") as the Lua script in
 * src/envoy/filters/guardrail.ts implements them; explain sees no body, so a
 * body rule is listed, not evaluated.
 */
import type { NodeOutput } from '../../envoy';
import { GUARDRAIL_FILTER_NAME } from '../../envoy/filters/guardrail';
import type { JsonObject } from '../../envoy/proto-json';
import { provenanceJson } from '../provenance';
import { obj, type Headers } from './match';
import type { GuardrailAnswer } from './types';

function luhn(d: string): boolean {
  let sum = 0;
  for (let i = d.length - 1, alt = false; i >= 0; i--, alt = !alt) {
    const x = (d.charCodeAt(i) - 48) * (alt ? 2 : 1);
    sum += x > 9 ? x - 9 : x;
  }
  return sum % 10 === 0;
}

/** `us_ssn`: NNN-NN-NNNN not inside a longer digit run; area not 000, 666 or 9xx, group not 00, serial not 0000. */
export function hasUsSsn(s: string): boolean {
  for (const m of s.matchAll(/(?<![0-9])([0-9]{3})-([0-9]{2})-([0-9]{4})(?![0-9])/g)) {
    const [area, group, serial] = [m[1]!, m[2]!, m[3]!];
    if (area !== '000' && area !== '666' && !area.startsWith('9') && group !== '00' && serial !== '0000') return true;
  }
  return false;
}

/** `card_number`: a run of 13 to 19 digits (spaces or dashes between them) passing Luhn; longer runs are not cut. */
export function hasCardNumber(s: string): boolean {
  for (const m of s.matchAll(/[0-9][0-9 -]*[0-9]/g)) {
    const d = m[0].replace(/[ -]/g, '');
    if (d.length >= 13 && d.length <= 19 && luhn(d)) return true;
  }
  return false;
}

/** Request ids are UUIDs: the script skips header values of that shape. */
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** The rules on `caller` -> `callee` in file order of names, with the first header that one of them refuses. */
export function guardrailsOn(caller: NodeOutput, callee: string, vh: JsonObject | undefined, headers: Headers): GuardrailAnswer[] {
  const on = caller.ir.outbound.guardrails?.find((g) => g.callee === callee);
  if (!on) return [];
  const perVh = obj(obj(vh?.['typed_per_filter_config'])?.[GUARDRAIL_FILTER_NAME]);
  const inScript = perVh !== undefined && obj(perVh['source_code']) !== undefined;
  return on.rules.map((r) => {
    const hit = r.inspectHeaders
      ? [...headers.entries()].find(([, v]) => !UUID.test(v) && ((r.detect.includes('us_ssn') && hasUsSsn(v)) || (r.detect.includes('card_number') && hasCardNumber(v))))
      : undefined;
    return {
      rule: r.name,
      detect: [...r.detect],
      inspect: [...(r.inspectHeaders ? ['headers'] : []), ...(r.inspectBody ? ['body'] : [])],
      maxBodyBytes: r.maxBodyBytes,
      fail: r.failClosed ? 'closed' : 'open',
      from: provenanceJson({ kind: 'file', pos: r.pos }),
      enforced: inScript,
      ...(hit ? { refusesHeader: hit[0] } : {}),
    };
  });
}

/** The refusal the sidecar answers when a rule matches a header (the first rule in name order, as the script runs them). */
export function guardrailRefusal(rules: readonly GuardrailAnswer[]): { rule: string; header: string } | undefined {
  const r = rules.find((g) => g.enforced && g.refusesHeader !== undefined);
  return r ? { rule: r.rule, header: r.refusesHeader! } : undefined;
}
