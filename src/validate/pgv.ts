import { isIP } from 'node:net';
import * as protobuf from 'protobufjs';
import { ENVOY_CODES as C, type EnvoyCode } from './codes';
import { type JsonObject, isObject } from './json-path';
import { type SecondsNanos, durationNanos, formatDuration } from './proto3-json';

/**
 * protoc-gen-validate rules as protobufjs exposes them. `field.options` is
 * flattened (`(validate.rules).string.min_len`) and loses empty messages such
 * as `duration = {gt {}}`; `field.parsedOptions` keeps the structure, so we
 * read that and deep-merge the entries (a field may carry several).
 * Semantics follow https://github.com/bufbuild/protoc-gen-validate#constraint-rules.
 */
export type FieldRules = JsonObject;

const rulesCache = new WeakMap<protobuf.Field, FieldRules | null>();

export function fieldRules(field: protobuf.Field): FieldRules | undefined {
  let rules = rulesCache.get(field);
  if (rules === undefined) {
    rules = mergeOption(field.parsedOptions, '(validate.rules)');
    rulesCache.set(field, rules);
  }
  return rules ?? undefined;
}

/** `option (validate.required) = true;` on a oneof: exactly one member must be set. */
export function isOneofRequired(oneof: protobuf.OneOf): boolean {
  return oneof.options?.['(validate.required)'] === true;
}

function mergeOption(parsed: unknown, key: string): FieldRules | null {
  if (!Array.isArray(parsed)) return null;
  let merged: FieldRules | null = null;
  for (const entry of parsed) {
    if (isObject(entry) && isObject(entry[key])) merged = deepMerge(merged ?? {}, entry[key] as JsonObject);
  }
  return merged;
}

function deepMerge(a: JsonObject, b: JsonObject): JsonObject {
  const out: JsonObject = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isObject(out[k]) && isObject(v) ? deepMerge(out[k] as JsonObject, v) : v;
  return out;
}

/** A PGV violation: code and message; the caller adds the path. */
export interface Violation {
  readonly code: EnvoyCode;
  readonly message: string;
}

const v = (code: EnvoyCode, message: string): Violation => ({ code, message });
const num = (x: unknown): number | undefined => (typeof x === 'number' ? x : typeof x === 'string' ? Number(x) : undefined);

/** Runes, not UTF-16 units: PGV's min_len/max_len count code points. */
function runeLength(s: string): number {
  // Each surrogate pair is one rune; counting pairs avoids splitting the string (hot on every string field).
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

export function checkStringRules(r: JsonObject, s: string): Violation[] {
  if (r['ignore_empty'] === true && s === '') return [];
  const out: Violation[] = [];
  const len = runeLength(s);
  const bytes = Buffer.byteLength(s, 'utf8');
  const add = (m: string): void => void out.push(v(C.PGV_STRING, m));
  const minLen = num(r['min_len']);
  const maxLen = num(r['max_len']);
  const minBytes = num(r['min_bytes']);
  const maxBytes = num(r['max_bytes']);
  if (minLen !== undefined && len < minLen) add(`value length must be at least ${minLen} characters (got ${len})`);
  if (maxLen !== undefined && len > maxLen) add(`value length must be at most ${maxLen} characters (got ${len})`);
  if (r['len'] !== undefined && len !== num(r['len'])) add(`value length must be exactly ${String(r['len'])} characters`);
  if (minBytes !== undefined && bytes < minBytes) add(`value must be at least ${minBytes} bytes (got ${bytes})`);
  if (maxBytes !== undefined && bytes > maxBytes) add(`value must be at most ${maxBytes} bytes (got ${bytes})`);
  if (typeof r['const'] === 'string' && s !== r['const']) add(`value must equal "${r['const']}"`);
  if (typeof r['prefix'] === 'string' && !s.startsWith(r['prefix'])) add(`value must start with "${r['prefix']}"`);
  if (typeof r['suffix'] === 'string' && !s.endsWith(r['suffix'])) add(`value must end with "${r['suffix']}"`);
  if (typeof r['contains'] === 'string' && !s.includes(r['contains'])) add(`value must contain "${r['contains']}"`);
  if (typeof r['pattern'] === 'string' && !matchesRe2(r['pattern'], s)) add(`value must match the pattern ${r['pattern']}`);
  checkInNotIn(r, s, (m) => add(m));
  const known = wellKnownViolation(r, s);
  if (known !== undefined) add(known);
  return out;
}

/** PGV patterns are RE2; the ones Envoy uses are also valid JavaScript regexes. */
function matchesRe2(pattern: string, s: string): boolean {
  try {
    return new RegExp(pattern, 'u').test(s);
  } catch {
    return true; // an RE2-only construct: do not invent an error we cannot check
  }
}

function checkInNotIn(r: JsonObject, value: string | number, add: (m: string) => void): void {
  const list = (x: unknown): unknown[] | undefined => (x === undefined ? undefined : Array.isArray(x) ? x : [x]);
  const inList = list(r['in']);
  const notIn = list(r['not_in']);
  const eq = (a: unknown): boolean => a === value || (typeof value === 'number' && num(a) === value);
  if (inList !== undefined && !inList.some(eq)) add(`value must be one of ${inList.map((x) => JSON.stringify(x)).join(', ')}`);
  if (notIn !== undefined && notIn.some(eq)) add(`value must not be one of ${notIn.map((x) => JSON.stringify(x)).join(', ')}`);
}

// strict=false (what Envoy uses almost everywhere) only forbids NUL, CR and LF.
const HEADER_NAME_STRICT = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
const HEADER_VALUE_STRICT = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
const HEADER_LOOSE = /^[^\u0000\u000A\u000D]*$/;

function wellKnownViolation(r: JsonObject, s: string): string | undefined {
  const wkr = r['well_known_regex'];
  if (wkr === 'HTTP_HEADER_NAME' || wkr === 'HTTP_HEADER_VALUE') {
    const strict = r['strict'] !== false;
    const re = !strict ? HEADER_LOOSE : wkr === 'HTTP_HEADER_NAME' ? HEADER_NAME_STRICT : HEADER_VALUE_STRICT;
    if (!re.test(s)) return `value is not a valid ${wkr === 'HTTP_HEADER_NAME' ? 'HTTP header name' : 'HTTP header value'}`;
  }
  if (r['ip'] === true && isIP(s) === 0) return 'value must be an IP address';
  if (r['ipv4'] === true && isIP(s) !== 4) return 'value must be an IPv4 address';
  if (r['ipv6'] === true && isIP(s) !== 6) return 'value must be an IPv6 address';
  if (r['hostname'] === true && !/^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$/.test(s)) {
    return 'value must be a valid hostname';
  }
  if (r['address'] === true && isIP(s) === 0 && !/^[A-Za-z0-9.-]{1,253}$/.test(s)) return 'value must be an IP address or hostname';
  if (r['uuid'] === true && !/^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/.test(s)) return 'value must be a UUID';
  return undefined;
}

/**
 * Numeric ranges. When both bounds are given and lower >= upper, PGV reads
 * them as an exclusive range: the value must lie outside.
 */
export function checkNumberRules(r: JsonObject, x: number, code: EnvoyCode = C.PGV_NUMBER): Violation[] {
  const out: Violation[] = [];
  const add = (m: string): void => void out.push(v(code, m));
  if (r['const'] !== undefined && x !== num(r['const'])) add(`value must equal ${String(r['const'])}`);
  checkInNotIn(r, x, add);
  const range = describeRange(r, (b) => num(b), String);
  if (range !== undefined && !range.test(x)) add(`value must be ${range.text} (got ${x})`);
  return out;
}

interface Range<T> {
  readonly test: (x: T) => boolean;
  readonly text: string;
}

function describeRange<T extends number | bigint>(
  r: JsonObject,
  conv: (bound: unknown) => T | undefined,
  show: (b: T) => string,
): Range<T> | undefined {
  const [gt, gte, lt, lte] = (['gt', 'gte', 'lt', 'lte'] as const).map((k) => (r[k] === undefined ? undefined : conv(r[k])));
  const lower = gt ?? gte;
  const upper = lt ?? lte;
  const aboveLower = (x: T): boolean => (gt !== undefined ? x > gt : gte === undefined || x >= gte);
  const belowUpper = (x: T): boolean => (lt !== undefined ? x < lt : lte === undefined || x <= lte);
  const lowText = gt !== undefined ? `greater than ${show(gt)}` : gte !== undefined ? `at least ${show(gte)}` : '';
  const upText = lt !== undefined ? `less than ${show(lt)}` : lte !== undefined ? `at most ${show(lte)}` : '';
  if (lower === undefined && upper === undefined) return undefined;
  if (lower !== undefined && upper !== undefined && lower >= upper) {
    return { test: (x) => aboveLower(x) || belowUpper(x), text: `${lowText} or ${upText}` };
  }
  return { test: (x) => aboveLower(x) && belowUpper(x), text: [lowText, upText].filter((t) => t !== '').join(' and ') };
}

export function checkDurationRules(r: JsonObject, d: SecondsNanos): Violation[] {
  const toNanos = (b: unknown): bigint | undefined =>
    isObject(b) ? BigInt(num(b['seconds']) ?? 0) * 1_000_000_000n + BigInt(num(b['nanos']) ?? 0) : undefined;
  const show = (n: bigint): string => formatDuration(n / 1_000_000_000n, Number(n % 1_000_000_000n));
  const x = durationNanos(d);
  const out: Violation[] = [];
  const cst = toNanos(r['const']);
  if (cst !== undefined && x !== cst) out.push(v(C.PGV_DURATION, `duration must equal ${show(cst)}`));
  const range = describeRange(r, toNanos, show);
  if (range !== undefined && !range.test(x)) {
    out.push(v(C.PGV_DURATION, `duration must be ${range.text} (got ${formatDuration(d.seconds, d.nanos)})`));
  }
  return out;
}

/** `enum.defined_only` and friends, on the numeric value. */
export function checkEnumRules(r: JsonObject, value: number, enumType: protobuf.Enum): Violation[] {
  const out: Violation[] = [];
  if (r['defined_only'] === true && enumType.valuesById[value] === undefined) {
    out.push(v(C.PGV_ENUM, `value ${value} is not a defined ${enumType.name} value`));
  }
  const named = (k: string): number[] | undefined => {
    const raw = r[k];
    return raw === undefined ? undefined : (Array.isArray(raw) ? raw : [raw]).map((x) => num(x) ?? NaN);
  };
  const inList = named('in');
  const notIn = named('not_in');
  const label = (n: number): string => enumType.valuesById[n] ?? String(n);
  if (r['const'] !== undefined && value !== num(r['const'])) out.push(v(C.PGV_ENUM, `value must be ${label(num(r['const']) ?? 0)}`));
  if (inList !== undefined && !inList.includes(value)) out.push(v(C.PGV_ENUM, `value must be one of ${inList.map(label).join(', ')}`));
  if (notIn !== undefined && notIn.includes(value)) out.push(v(C.PGV_ENUM, `value must not be ${label(value)}`));
  return out;
}

export function checkBytesRules(r: JsonObject, b: Buffer): Violation[] {
  const out: Violation[] = [];
  const minLen = num(r['min_len']);
  const maxLen = num(r['max_len']);
  if (minLen !== undefined && b.length < minLen) out.push(v(C.PGV_OTHER, `value must be at least ${minLen} bytes`));
  if (maxLen !== undefined && b.length > maxLen) out.push(v(C.PGV_OTHER, `value must be at most ${maxLen} bytes`));
  return out;
}

export function checkBoolRules(r: JsonObject, b: boolean): Violation[] {
  return r['const'] !== undefined && b !== r['const'] ? [v(C.PGV_OTHER, `value must be ${String(r['const'])}`)] : [];
}

export function checkCountRules(r: JsonObject, count: number, kind: 'repeated' | 'map'): Violation[] {
  const [minKey, maxKey, unit, code] =
    kind === 'repeated'
      ? (['min_items', 'max_items', 'items', C.PGV_REPEATED] as const)
      : (['min_pairs', 'max_pairs', 'entries', C.PGV_MAP] as const);
  const min = num(r[minKey]);
  const max = num(r[maxKey]);
  const out: Violation[] = [];
  if (min !== undefined && count < min) out.push(v(code, `must have at least ${min} ${unit} (got ${count})`));
  if (max !== undefined && count > max) out.push(v(code, `must have at most ${max} ${unit} (got ${count})`));
  return out;
}

/** Whether a missing message/WKT value violates `message.required`, `duration.required`, `any.required`... */
export function requiresPresence(r: FieldRules): boolean {
  return ['message', 'duration', 'timestamp', 'any'].some((k) => isObject(r[k]) && (r[k] as JsonObject)['required'] === true);
}

/** The rules for one kind of value (`string`, `uint32`...), if the field has them. */
export function rulesFor(r: FieldRules | undefined, kind: string): JsonObject | undefined {
  const x = r?.[kind];
  return isObject(x) ? x : undefined;
}
