/**
 * Proto3 JSON mapping of scalars and well-known types
 * (https://protobuf.dev/programming-guides/proto3/#json), shared by the
 * checker (to validate) and the encoder (to convert), so both agree on what
 * is accepted.
 */

export type ScalarKind =
  | 'double'
  | 'float'
  | 'int32'
  | 'uint32'
  | 'sint32'
  | 'fixed32'
  | 'sfixed32'
  | 'int64'
  | 'uint64'
  | 'sint64'
  | 'fixed64'
  | 'sfixed64'
  | 'bool'
  | 'string'
  | 'bytes';

export type ScalarValue = number | bigint | boolean | string | Buffer;
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(message: string): Parsed<T> => ({ ok: false, message });

const INT_RANGES: Record<string, readonly [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};

export function isScalarKind(t: string): t is ScalarKind {
  return t in INT_RANGES || ['double', 'float', 'bool', 'string', 'bytes'].includes(t);
}

export function is64Bit(kind: ScalarKind): boolean {
  return kind.endsWith('64');
}

/** Parses a proto3 JSON scalar; 64-bit integers come back as bigint, 32-bit ones as number, bytes as Buffer. */
export function parseScalar(kind: ScalarKind, v: unknown): Parsed<ScalarValue> {
  switch (kind) {
    case 'bool':
      return typeof v === 'boolean' ? ok(v) : fail('expected a boolean');
    case 'string':
      return typeof v === 'string' ? ok(v) : fail('expected a string');
    case 'bytes':
      return parseBytes(v);
    case 'double':
    case 'float':
      return parseFloatValue(kind, v);
    default:
      return parseInteger(kind, v);
  }
}

/** The 32-bit ranges as numbers: most integers in config are small numbers, checked without a BigInt. */
const INT32_RANGES: Record<string, readonly [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  sint32: [-(2 ** 31), 2 ** 31 - 1],
  sfixed32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
  fixed32: [0, 2 ** 32 - 1],
};

function parseInteger(kind: ScalarKind, v: unknown): Parsed<ScalarValue> {
  const small = INT32_RANGES[kind];
  if (small !== undefined && typeof v === 'number' && Number.isInteger(v) && v >= small[0] && v <= small[1]) return ok(v);
  let n: bigint;
  // proto3 JSON: integers may be numbers or strings ("1", "1e3" is not accepted by Envoy's parser for strings).
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return fail(`expected an integer, got ${v}`);
    n = BigInt(v);
  } else if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) {
    n = BigInt(v.trim());
  } else {
    return fail(`expected an integer (${kind})`);
  }
  const [lo, hi] = INT_RANGES[kind] as readonly [bigint, bigint];
  if (n < lo || n > hi) return fail(`${n} is out of range for ${kind}`);
  return ok(is64Bit(kind) ? n : Number(n));
}

function parseFloatValue(kind: ScalarKind, v: unknown): Parsed<ScalarValue> {
  if (typeof v === 'number') return ok(v);
  if (v === 'NaN') return ok(NaN);
  if (v === 'Infinity') return ok(Infinity);
  if (v === '-Infinity') return ok(-Infinity);
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return ok(Number(v));
  return fail(`expected a number (${kind})`);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

function parseBytes(v: unknown): Parsed<ScalarValue> {
  if (typeof v !== 'string') return fail('expected a base64 string (bytes)');
  if (BASE64.test(v)) return ok(Buffer.from(v, 'base64'));
  if (BASE64URL.test(v)) return ok(Buffer.from(v, 'base64url'));
  return fail('expected a base64 string (bytes)');
}

/** Duration and Timestamp share this shape; seconds as bigint so +/-10000 years fit. */
export interface SecondsNanos {
  readonly seconds: bigint;
  readonly nanos: number;
}

const MAX_DURATION_SECONDS = 315_576_000_000n;

/** "1.5s", "-0.001s", "300s" (the only accepted form: a decimal number of seconds with an `s` suffix). */
export function parseDuration(v: unknown): Parsed<SecondsNanos> {
  if (typeof v !== 'string') return fail('expected a duration string such as "1.5s"');
  const m = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(v);
  if (m === null) return fail(`invalid duration "${v}" (expected a number of seconds with an "s" suffix, e.g. "0.250s")`);
  const sign = m[1] === '-' ? -1n : 1n;
  const seconds = BigInt(m[2] as string);
  if (seconds > MAX_DURATION_SECONDS) return fail(`duration "${v}" is out of range`);
  const nanos = Number((m[3] ?? '').padEnd(9, '0'));
  return ok({ seconds: sign * seconds, nanos: sign < 0n ? -nanos : nanos });
}

export function durationNanos(d: SecondsNanos): bigint {
  return d.seconds * 1_000_000_000n + BigInt(d.nanos);
}

/** Canonical proto3 JSON: 0, 3, 6 or 9 fractional digits. */
export function formatDuration(seconds: bigint, nanos: number): string {
  const negative = seconds < 0n || nanos < 0;
  const s = seconds < 0n ? -seconds : seconds;
  const n = Math.abs(nanos);
  return `${negative ? '-' : ''}${s}${formatNanos(n)}s`;
}

function formatNanos(n: number): string {
  if (n === 0) return '';
  const digits = String(n).padStart(9, '0');
  if (n % 1_000_000 === 0) return `.${digits.slice(0, 3)}`;
  if (n % 1_000 === 0) return `.${digits.slice(0, 6)}`;
  return `.${digits}`;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

export function parseTimestamp(v: unknown): Parsed<SecondsNanos> {
  if (typeof v !== 'string') return fail('expected an RFC 3339 timestamp string');
  const m = RFC3339.exec(v);
  const millis = m === null ? NaN : Date.parse(`${v.slice(0, 19)}${m[8] as string}`);
  if (m === null || Number.isNaN(millis)) return fail(`invalid timestamp "${v}" (expected RFC 3339, e.g. "2024-01-31T12:00:00Z")`);
  return ok({ seconds: BigInt(millis / 1000), nanos: Number((m[7] ?? '').padEnd(9, '0')) });
}

export function formatTimestamp(seconds: bigint, nanos: number): string {
  const iso = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${iso}${formatNanos(nanos)}Z`;
}

/** FieldMask JSON is one string of comma-separated lowerCamel paths; the binary form is snake_case. */
export function parseFieldMask(v: unknown): Parsed<string[]> {
  if (typeof v !== 'string') return fail('expected a field mask string such as "fooBar,baz"');
  if (v === '') return ok([]);
  return ok(v.split(',').map((p) => p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)));
}

export function formatFieldMask(paths: readonly string[]): string {
  return paths.map((p) => p.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase())).join(',');
}

const jsonNames = new Map<string, string>();

/**
 * The default JSON name of a field: `foo_bar_baz` -> `fooBarBaz`. Remembered:
 * the cross-reference checks and the codec ask for the same few hundred
 * proto names on every resource (bounded: names come from the protos and the code).
 */
export function jsonNameOf(protoName: string): string {
  let name = jsonNames.get(protoName);
  if (name === undefined) {
    name = protoName.replace(/_([a-zA-Z0-9])/g, (_m, c: string) => c.toUpperCase());
    if (jsonNames.size < 10_000) jsonNames.set(protoName, name);
  }
  return name;
}

/** google.protobuf wrapper types: their JSON form is the bare wrapped value. */
export const WRAPPER_KINDS: Readonly<Record<string, ScalarKind>> = {
  'google.protobuf.DoubleValue': 'double',
  'google.protobuf.FloatValue': 'float',
  'google.protobuf.Int64Value': 'int64',
  'google.protobuf.UInt64Value': 'uint64',
  'google.protobuf.Int32Value': 'int32',
  'google.protobuf.UInt32Value': 'uint32',
  'google.protobuf.BoolValue': 'bool',
  'google.protobuf.StringValue': 'string',
  'google.protobuf.BytesValue': 'bytes',
};

export const ANY = 'google.protobuf.Any';
export const DURATION = 'google.protobuf.Duration';
export const TIMESTAMP = 'google.protobuf.Timestamp';
export const FIELD_MASK = 'google.protobuf.FieldMask';
export const STRUCT = 'google.protobuf.Struct';
export const VALUE = 'google.protobuf.Value';
export const LIST_VALUE = 'google.protobuf.ListValue';
export const NULL_VALUE = 'google.protobuf.NullValue';

/** Message types whose JSON form is not a plain object of their fields. */
export function hasSpecialJson(typeName: string): boolean {
  return (
    typeName in WRAPPER_KINDS ||
    [ANY, DURATION, TIMESTAMP, FIELD_MASK, STRUCT, VALUE, LIST_VALUE].includes(typeName)
  );
}

/** TypedStruct carries a config as a Struct plus the type URL it should be read as. */
export const TYPED_STRUCTS = ['udpa.type.v1.TypedStruct', 'xds.type.v3.TypedStruct'];
